// Record batches captured from real clients (librdkafka/kcat with every codec,
// kafka-python, kafkajs; tests/data/batches, see docs/test-data.md) pass validation and
// come back from the log byte-identical, before and after a reopen. Only baseOffset
// and partitionLeaderEpoch may differ: the broker assigns them, outside the CRC.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "tests/storage/storage_fixture.h"

extern "C" {
#include "common/sl_bytes.h"
#include "storage/batch.h"
}

namespace
{

struct captured_batch {
    std::string file;
    std::string compression;
    int32_t record_count;
    uint32_t crc;
    std::vector<uint8_t> bytes;
};

std::vector<captured_batch> load_batches()
{
    const char *data = getenv("SL_TEST_DATA");
    std::string dir = std::string(data != nullptr ? data : "tests/data") + "/batches/";
    std::ifstream index(dir + "INDEX.tsv");
    std::vector<captured_batch> out;
    if (!index)
        return out;
    std::string line;
    std::getline(index, line); // header
    while (std::getline(index, line)) {
        std::istringstream row(line);
        captured_batch b;
        std::string client, bytes_str, crc_str, count_str;
        std::getline(row, b.file, '\t');
        std::getline(row, client, '\t');
        std::getline(row, b.compression, '\t');
        std::getline(row, count_str, '\t');
        std::getline(row, bytes_str, '\t');
        std::getline(row, crc_str, '\t');
        b.record_count = std::stoi(count_str);
        b.crc = static_cast<uint32_t>(std::stoul(crc_str, nullptr, 16));
        std::ifstream f(dir + b.file, std::ios::binary);
        b.bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
        EXPECT_EQ(b.bytes.size(), std::stoul(bytes_str)) << b.file;
        out.push_back(std::move(b));
    }
    return out;
}

// Equal except for baseOffset (bytes 0..7) and partitionLeaderEpoch (12..15).
void expect_same_batch(const std::vector<uint8_t> &stored, size_t at,
                       const captured_batch &original, int64_t base_offset, int32_t epoch)
{
    ASSERT_LE(at + original.bytes.size(), stored.size()) << original.file;
    const uint8_t *s = stored.data() + at;
    EXPECT_EQ(static_cast<int64_t>(sl_load_be64(s)), base_offset) << original.file;
    EXPECT_EQ(static_cast<int32_t>(sl_load_be32(s + SL_BATCH_OFF_LEADER_EPOCH)), epoch)
        << original.file;
    EXPECT_EQ(0, memcmp(s + SL_BATCH_OFF_LENGTH, original.bytes.data() + SL_BATCH_OFF_LENGTH, 4))
        << original.file;
    EXPECT_EQ(0, memcmp(s + SL_BATCH_OFF_MAGIC, original.bytes.data() + SL_BATCH_OFF_MAGIC,
                        original.bytes.size() - SL_BATCH_OFF_MAGIC))
        << original.file;
}

} // namespace

TEST(ClientBatches, EveryCodecFromEveryClientIsPresent)
{
    std::vector<captured_batch> batches = load_batches();
    ASSERT_FALSE(batches.empty()) << "tests/data/batches/INDEX.tsv missing or empty";
    for (const char *codec : {"none", "gzip", "snappy", "lz4", "zstd"}) {
        bool found = false;
        for (const captured_batch &b : batches)
            found = found || b.compression == codec;
        EXPECT_TRUE(found) << "no captured batch with compression " << codec;
    }
}

TEST(ClientBatches, ValidateWithTheirRecordedCountAndCrc)
{
    for (const captured_batch &b : load_batches()) {
        sl_batch_info info;
        ASSERT_EQ(sl_batch_validate(b.bytes.data(), b.bytes.size(), 1 << 20, &info), SL_STORAGE_OK)
            << b.file;
        EXPECT_EQ(info.size_bytes, b.bytes.size()) << b.file;
        EXPECT_EQ(info.record_count, b.record_count) << b.file;
        EXPECT_EQ(info.crc, b.crc) << b.file;
        EXPECT_EQ(sl_batch_crc32c(b.bytes.data() + SL_BATCH_OFF_ATTRIBUTES,
                                  b.bytes.size() - SL_BATCH_OFF_ATTRIBUTES),
                  b.crc)
            << b.file;
    }
}

TEST(ClientBatches, RoundTripByteIdenticalThroughTheLogAndAReopen)
{
    std::vector<captured_batch> batches = load_batches();
    ASSERT_FALSE(batches.empty());
    sl_test::temp_dir dir;
    sl_storage_config ec = sl_test::small_engine_config();
    sl_storage *st = nullptr;
    ASSERT_EQ(sl_storage_create(&ec, &st), SL_STORAGE_OK);
    sl_log_config lc = sl_test::small_log_config();
    const int32_t epoch = 7;

    std::vector<int64_t> base_offsets;
    for (int round = 0; round < 2; round++) {
        sl_log *log = nullptr;
        ASSERT_EQ(sl_log_open(st, dir.path.c_str(), "captured", 0, &lc, nullptr, 0, &log, nullptr),
                  SL_STORAGE_OK);
        if (round == 0) {
            for (const captured_batch &b : batches) {
                sl_log_append_result ar;
                ASSERT_EQ(
                    sl_log_append(log, b.bytes.data(), b.bytes.size(), nullptr, 0, epoch, 0, &ar),
                    SL_STORAGE_OK)
                    << b.file;
                EXPECT_EQ(ar.last_offset - ar.base_offset + 1, b.record_count) << b.file;
                base_offsets.push_back(ar.base_offset);
            }
            sl_test::drain(st);
        }
        std::vector<uint8_t> stored = sl_test::read_all(st, log, 0);
        size_t at = 0;
        for (size_t i = 0; i < batches.size(); i++) {
            expect_same_batch(stored, at, batches[i], base_offsets[i], epoch);
            at += batches[i].bytes.size();
        }
        EXPECT_EQ(at, stored.size());
        ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
    }
    sl_storage_destroy(st);
}
