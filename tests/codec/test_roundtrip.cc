// Round trip of every served API x version x direction: sample -> encode -> decode ->
// compare fields -> re-encode -> compare bytes; plus every strict prefix of each frame
// must fail to decode cleanly (ASan catches any out-of-bounds read).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "dataplane/codec/codec.h"
#include "dataplane/codec/codec_samples.h"

namespace
{

constexpr size_t kArenaBytes = 1 << 20;
constexpr size_t kFrameBytes = 1 << 20;

struct Buffers {
    std::vector<uint8_t> sample_mem = std::vector<uint8_t>(kArenaBytes);
    std::vector<uint8_t> decode_mem = std::vector<uint8_t>(kArenaBytes);
    std::vector<uint8_t> frame = std::vector<uint8_t>(kFrameBytes);
    std::vector<uint8_t> frame2 = std::vector<uint8_t>(kFrameBytes);
};

const sl_codec_limits kLimits = {100000, 64u << 20};

std::string Where(const sl_codec_api *api, int16_t v, bool response, unsigned seed)
{
    return std::string(api->name) + (response ? " response v" : " request v") + std::to_string(v) +
           " seed " + std::to_string(seed);
}

// Encodes one sample; returns the frame length (size prefix included).
size_t EncodeSample(Buffers &b, const sl_codec_api *api, int16_t v, bool response, unsigned seed,
                    std::vector<uint8_t> &out, void **body_out)
{
    sl_codec_arena arena;
    sl_codec_arena_init(&arena, b.sample_mem.data(), b.sample_mem.size());
    void *body = sl_codec_arena_alloc(
        &arena, 1, response ? api->response_size_bytes : api->request_size_bytes);
    EXPECT_NE(body, nullptr);
    EXPECT_TRUE(sl_codec_test_sample(api->api_key, response, v, seed, &arena, body));
    sl_codec_encoder e;
    sl_codec_encoder_init(&e, out.data(), out.size(), nullptr, 0);
    int rc;
    if (response) {
        sl_codec_response_header h = {};
        h.correlation_id = 1000 + (int32_t)seed;
        rc = sl_codec_encode_response(&e, api->api_key, v, &h, body);
    } else {
        sl_codec_request_header h = {};
        h.api_key = api->api_key;
        h.api_version = v;
        h.correlation_id = 1000 + (int32_t)seed;
        h.client_id = {(const uint8_t *)"rt-client", 9};
        if (seed % 3 == 1)
            h.client_id = {nullptr, -1};
        rc = sl_codec_encode_request(&e, &h, body);
    }
    EXPECT_EQ(rc, SL_CODEC_OK) << sl_codec_strerror(rc);
    *body_out = body;
    return e.pos;
}

int Decode(Buffers &b, const sl_codec_api *api, int16_t v, bool response, const uint8_t *buf,
           size_t len, void **body)
{
    sl_codec_arena arena;
    sl_codec_arena_init(&arena, b.decode_mem.data(), b.decode_mem.size());
    if (response) {
        sl_codec_response_header h;
        return sl_codec_decode_response(buf, len, api->api_key, v, &arena, &kLimits, &h, body,
                                        nullptr);
    }
    sl_codec_request req;
    int rc = sl_codec_decode_request(buf, len, &arena, &kLimits, &req, nullptr);
    if (rc == SL_CODEC_OK) {
        EXPECT_EQ(req.header.api_key, api->api_key);
        EXPECT_EQ(req.header.api_version, v);
        EXPECT_EQ(req.api, api);
    }
    *body = req.body;
    return rc;
}

class RoundTrip : public ::testing::TestWithParam<bool>
{
};

TEST_P(RoundTrip, EveryApiEveryVersion)
{
    const bool response = GetParam();
    Buffers b;
    size_t cases = 0, gap_cases = 0;
    for (uint32_t i = 0; i < sl_codec_api_count; i++) {
        const sl_codec_api *api = &sl_codec_apis[i];
        for (int16_t v = api->min_version; v <= api->max_version; v++) {
            for (unsigned seed = 0; seed < 6; seed++) {
                SCOPED_TRACE(Where(api, v, response, seed));
                void *sample;
                size_t len = EncodeSample(b, api, v, response, seed, b.frame, &sample);
                ASSERT_GE(len, 8u);
                ASSERT_EQ(sl_load_be32(b.frame.data()), len - 4);

                void *decoded = nullptr;
                int rc = Decode(b, api, v, response, b.frame.data() + 4, len - 4, &decoded);
                ASSERT_EQ(rc, SL_CODEC_OK) << sl_codec_strerror(rc);
                EXPECT_TRUE(sl_codec_test_equal(api->api_key, response, v, sample, decoded));

                sl_codec_encoder e;
                sl_codec_encoder_init(&e, b.frame2.data(), b.frame2.size(), nullptr, 0);
                if (response) {
                    sl_codec_response_header h = {};
                    h.correlation_id = 1000 + (int32_t)seed;
                    rc = sl_codec_encode_response(&e, api->api_key, v, &h, decoded);
                } else {
                    sl_codec_request_header h = {};
                    h.api_key = api->api_key;
                    h.api_version = v;
                    h.correlation_id = 1000 + (int32_t)seed;
                    h.client_id = {(const uint8_t *)"rt-client", 9};
                    if (seed % 3 == 1)
                        h.client_id = {nullptr, -1};
                    rc = sl_codec_encode_request(&e, &h, decoded);
                }
                ASSERT_EQ(rc, SL_CODEC_OK);
                ASSERT_EQ(e.pos, len);
                EXPECT_EQ(memcmp(b.frame.data(), b.frame2.data(), len), 0);

                // Zero-copy mode: header bytes + gaps joined must be the same frame.
                sl_codec_gap gaps[64];
                sl_codec_encoder_init(&e, b.frame2.data(), b.frame2.size(), gaps, 64);
                if (response) {
                    sl_codec_response_header h = {};
                    h.correlation_id = 1000 + (int32_t)seed;
                    rc = sl_codec_encode_response(&e, api->api_key, v, &h, sample);
                } else {
                    sl_codec_request_header h = {};
                    h.api_key = api->api_key;
                    h.api_version = v;
                    h.correlation_id = 1000 + (int32_t)seed;
                    h.client_id = {(const uint8_t *)"rt-client", 9};
                    if (seed % 3 == 1)
                        h.client_id = {nullptr, -1};
                    rc = sl_codec_encode_request(&e, &h, sample);
                }
                ASSERT_EQ(rc, SL_CODEC_OK);
                ASSERT_EQ(sl_codec_encoder_total_bytes(&e), len);
                sl_codec_segment chain[130];
                uint32_t n = sl_codec_encoder_chain(&e, chain, 130);
                ASSERT_GT(n, 0u);
                std::vector<uint8_t> joined;
                for (uint32_t k = 0; k < n; k++)
                    joined.insert(joined.end(), chain[k].ptr, chain[k].ptr + chain[k].len);
                ASSERT_EQ(joined.size(), len);
                EXPECT_EQ(memcmp(joined.data(), b.frame.data(), len), 0);
                gap_cases += e.gap_count > 0;
                cases++;
            }
        }
    }
    // 34 APIs with at least one version each, six seeds.
    EXPECT_GE(cases, 34u * 6u);
    EXPECT_GT(gap_cases, 0u); // Produce requests / Fetch responses carry records
}

TEST_P(RoundTrip, EveryStrictPrefixFails)
{
    const bool response = GetParam();
    Buffers b;
    for (uint32_t i = 0; i < sl_codec_api_count; i++) {
        const sl_codec_api *api = &sl_codec_apis[i];
        for (int16_t v = api->min_version; v <= api->max_version; v++) {
            const unsigned seed = 4; // arrays of one element, non-null values, no extra tags
            SCOPED_TRACE(Where(api, v, response, seed));
            void *sample;
            size_t len = EncodeSample(b, api, v, response, seed, b.frame, &sample);
            const size_t body_len = len - 4;
            for (size_t cut = 0; cut < body_len; cut++) {
                // A fresh heap copy of exactly `cut` bytes: ASan flags any read past it.
                std::vector<uint8_t> prefix(b.frame.begin() + 4, b.frame.begin() + 4 + cut);
                void *decoded;
                int rc = Decode(b, api, v, response, prefix.data(), prefix.size(), &decoded);
                ASSERT_NE(rc, SL_CODEC_OK) << "prefix of " << cut << " bytes decoded";
                if (!response && cut < 8) {
                    ASSERT_EQ(rc, SL_CODEC_ERR_TRUNCATED);
                }
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Codec, RoundTrip, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool> &p) {
                             return std::string(p.param ? "Response" : "Request");
                         });

} // namespace
