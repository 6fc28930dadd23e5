// On-disk batch reader for tests (see segment_file.h).
#include "tests/support/segment_file.h"

#include <dirent.h>

#include <algorithm>

#include "tests/support/child_process.h"
#include "tests/support/raw_kafka_client.h"

namespace sl_test
{

namespace
{

// Magic-v2 batch header size up to and including the records count.
constexpr size_t k_batch_header_bytes = 61;

uint64_t load_be(const std::string &bytes, size_t at, int width)
{
    uint64_t v = 0;
    for (int i = 0; i < width; i++) {
        v = (v << 8) | (uint8_t)bytes[at + (size_t)i];
    }
    return v;
}

} // namespace

bool read_segment_batches(const std::string &path, std::vector<stored_batch> *out,
                          std::string *error)
{
    std::string bytes = read_file(path);
    size_t pos = 0;
    while (pos + 12 <= bytes.size()) {
        uint32_t batch_length = (uint32_t)load_be(bytes, pos + 8, 4);
        if (batch_length == 0) {
            break;
        }
        if (pos + 12 + (size_t)batch_length > bytes.size() ||
            12 + (size_t)batch_length < k_batch_header_bytes) {
            *error = path + ": batch at byte " + std::to_string(pos) + " is cut short";
            return false;
        }
        if ((uint8_t)bytes[pos + 16] != 2) {
            *error = path + ": no magic-v2 batch at byte " + std::to_string(pos);
            return false;
        }
        stored_batch batch;
        batch.base_offset = (int64_t)load_be(bytes, pos, 8);
        batch.compression = (int)(load_be(bytes, pos + 21, 2) & 7);
        batch.record_count = (int32_t)load_be(bytes, pos + 57, 4);
        uint32_t stored_crc = (uint32_t)load_be(bytes, pos + 17, 4);
        batch.crc_ok = crc32c((const uint8_t *)bytes.data() + pos + 21,
                              12 + (size_t)batch_length - 21) == stored_crc;
        out->push_back(batch);
        pos += 12 + (size_t)batch_length;
    }
    return true;
}

std::vector<std::string> list_segment_files(const std::string &data_dir, const std::string &topic,
                                            int partition)
{
    const std::string dir_path = data_dir + "/" + topic + "-" + std::to_string(partition);
    std::vector<std::string> segments;
    DIR *dir = opendir(dir_path.c_str());
    if (dir == nullptr) {
        return segments;
    }
    while (struct dirent *entry = readdir(dir)) {
        std::string name = entry->d_name;
        if (name.size() == 24 && name.compare(20, 4, ".log") == 0 &&
            name.find_first_not_of("0123456789") == 20) {
            segments.push_back(dir_path + "/" + name);
        }
    }
    closedir(dir);
    std::sort(segments.begin(), segments.end());
    return segments;
}

} // namespace sl_test
