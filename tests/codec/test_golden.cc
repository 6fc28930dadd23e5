// Golden frames captured from real clients and a real cluster (tests/data/golden/):
// every request and response must decode and re-encode to the identical bytes.
// Usage: test_codec_golden <dir containing INDEX.tsv> <golden_invalid.tsv>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/codec/codec.h"

namespace
{

std::string g_dir;
std::string g_invalid_list;

// Frames the capture shows are not valid Kafka (mock-cluster bugs, documented with a
// reason in golden_invalid.tsv): they must fail to decode with exactly this error.
struct Invalid {
    std::string file;
    int error;
};

int ErrorByName(const std::string &name)
{
    static const struct {
        const char *name;
        int err;
    } names[] = {
        {"TRUNCATED", SL_CODEC_ERR_TRUNCATED},
        {"BAD_VARINT", SL_CODEC_ERR_BAD_VARINT},
        {"NEGATIVE_LENGTH", SL_CODEC_ERR_NEGATIVE_LENGTH},
        {"NULL_NOT_ALLOWED", SL_CODEC_ERR_NULL_NOT_ALLOWED},
        {"COUNT_EXCEEDS_DATA", SL_CODEC_ERR_COUNT_EXCEEDS_DATA},
        {"TAG_SIZE_MISMATCH", SL_CODEC_ERR_TAG_SIZE_MISMATCH},
        {"TRAILING_BYTES", SL_CODEC_ERR_TRAILING_BYTES},
    };
    for (const auto &n : names)
        if (name == n.name)
            return n.err;
    ADD_FAILURE() << "unknown error name " << name;
    return -1;
}

std::vector<Invalid> ReadInvalid(const std::string &path)
{
    std::vector<Invalid> out;
    std::ifstream in(path);
    std::string line;
    std::getline(in, line); // header
    while (std::getline(in, line)) {
        if (line.empty())
            continue;
        std::stringstream ss(line);
        std::string file, err;
        std::getline(ss, file, '\t');
        std::getline(ss, err, '\t');
        out.push_back({file, ErrorByName(err)});
    }
    return out;
}

struct Row {
    std::string client, file, direction;
    int api_key = -1, api_version = -1;
    long correlation_id = 0;
};

std::vector<Row> ReadIndex(const std::string &path)
{
    std::vector<Row> rows;
    std::ifstream in(path);
    std::string line;
    bool header = true;
    while (std::getline(in, line)) {
        if (header) {
            header = false;
            continue;
        }
        if (line.empty())
            continue;
        std::stringstream ss(line);
        Row r;
        std::string key, ver, corr;
        std::getline(ss, r.client, '\t');
        std::getline(ss, r.file, '\t');
        std::getline(ss, r.direction, '\t');
        std::getline(ss, key, '\t');
        std::getline(ss, ver, '\t');
        std::getline(ss, corr, '\t');
        r.api_key = std::stoi(key);
        r.api_version = std::stoi(ver);
        r.correlation_id = std::stol(corr);
        rows.push_back(r);
    }
    return rows;
}

std::vector<uint8_t> ReadFile(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
}

// One frame; ASSERTs return from here so every frame of the index gets checked.
void CheckRow(const Row &r, const std::vector<Invalid> &invalid, std::vector<uint8_t> &arena_mem,
              size_t &requests, size_t &responses)
{
    int expected_rc = SL_CODEC_OK;
    for (const Invalid &inv : invalid)
        if (inv.file == r.file)
            expected_rc = inv.error;
    const sl_codec_limits limits = {1000000, 100u << 20};
    SCOPED_TRACE(r.client + " " + r.file + " " + r.direction + " key " + std::to_string(r.api_key) +
                 " v" + std::to_string(r.api_version));
    std::vector<uint8_t> frame = ReadFile(g_dir + "/" + r.file);
    ASSERT_GE(frame.size(), 8u);
    ASSERT_EQ(sl_load_be32(frame.data()), frame.size() - 4) << "size prefix";
    const sl_codec_api *api = sl_codec_api_find((int16_t)r.api_key);
    ASSERT_NE(api, nullptr) << "API not served by sluice";

    sl_codec_arena arena;
    sl_codec_arena_init(&arena, arena_mem.data(), arena_mem.size());
    std::vector<uint8_t> out(frame.size() + 64);
    sl_codec_encoder e;
    sl_codec_encoder_init(&e, out.data(), out.size(), nullptr, 0);
    size_t err_offset = 0;
    int rc;
    if (r.direction == "req") {
        sl_codec_request req;
        rc = sl_codec_decode_request(frame.data() + 4, frame.size() - 4, &arena, &limits, &req,
                                     &err_offset);
        ASSERT_EQ(rc, expected_rc) << sl_codec_strerror(rc) << " at offset " << err_offset;
        if (expected_rc != SL_CODEC_OK) {
            requests++;
            return;
        }
        EXPECT_EQ(req.header.api_key, r.api_key);
        EXPECT_EQ(req.header.api_version, r.api_version);
        EXPECT_EQ(req.header.correlation_id, r.correlation_id);
        rc = sl_codec_encode_request(&e, &req.header, req.body);
        requests++;
    } else {
        ASSERT_EQ(r.direction, "resp");
        sl_codec_response_header h;
        void *body;
        rc = sl_codec_decode_response(frame.data() + 4, frame.size() - 4, (int16_t)r.api_key,
                                      (int16_t)r.api_version, &arena, &limits, &h, &body,
                                      &err_offset);
        ASSERT_EQ(rc, expected_rc) << sl_codec_strerror(rc) << " at offset " << err_offset;
        if (expected_rc != SL_CODEC_OK) {
            responses++;
            return;
        }
        EXPECT_EQ(h.correlation_id, r.correlation_id);
        rc = sl_codec_encode_response(&e, (int16_t)r.api_key, (int16_t)r.api_version, &h, body);
        responses++;
    }
    ASSERT_EQ(rc, SL_CODEC_OK) << sl_codec_strerror(rc);
    ASSERT_EQ(e.pos, frame.size());
    size_t first_diff = 0;
    while (first_diff < frame.size() && frame[first_diff] == out[first_diff])
        first_diff++;
    EXPECT_EQ(first_diff, frame.size()) << "re-encoded bytes differ from offset " << first_diff;
}

TEST(Golden, EveryFrameRoundTripsByteExact)
{
    const std::string index = g_dir + "/INDEX.tsv";
    std::vector<Row> rows = ReadIndex(index);
    ASSERT_FALSE(rows.empty()) << "no rows in " << index;

    std::vector<Invalid> invalid = ReadInvalid(g_invalid_list);
    size_t invalid_seen = 0;
    for (const Invalid &inv : invalid)
        for (const Row &r : rows)
            invalid_seen += inv.file == r.file;
    EXPECT_EQ(invalid_seen, invalid.size()) << "golden_invalid.tsv names a frame not in the index";
    std::vector<uint8_t> arena_mem(64u << 20);
    size_t requests = 0, responses = 0;
    for (const Row &r : rows)
        CheckRow(r, invalid, arena_mem, requests, responses);
    EXPECT_EQ(requests + responses, rows.size());
    printf("golden: %zu requests, %zu responses (%zu known-invalid frames rejected)\n", requests,
           responses, invalid.size());
}

} // namespace

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    if (argc != 3) {
        fprintf(stderr, "usage: %s GOLDEN_DIR INVALID_LIST_TSV\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
    g_invalid_list = argv[2];
    return RUN_ALL_TESTS();
}
