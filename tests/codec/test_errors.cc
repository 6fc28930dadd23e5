// Malformed input gets a precise error; limits from config are enforced; zero-copy fetch
// responses reference record data instead of copying it; header version rules.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "dataplane/codec/codec.h"
#include "dataplane/codec/kafka_errors.h"

namespace
{

struct Frame {
    std::vector<uint8_t> b;
    Frame &i8(int v)
    {
        b.push_back((uint8_t)v);
        return *this;
    }
    Frame &i16(int v)
    {
        i8(v >> 8);
        return i8(v);
    }
    Frame &i32(int32_t v)
    {
        i16(v >> 16);
        return i16(v);
    }
    Frame &i64(int64_t v)
    {
        i32((int32_t)(v >> 32));
        return i32((int32_t)v);
    }
    Frame &str(const char *s)
    {
        i16((int)strlen(s));
        b.insert(b.end(), s, s + strlen(s));
        return *this;
    }
    Frame &raw(std::initializer_list<uint8_t> bytes)
    {
        b.insert(b.end(), bytes);
        return *this;
    }
    Frame &hdr(int key, int ver, int32_t corr)
    {
        return i16(key).i16(ver).i32(corr).str("cid");
    }
};

class Decode : public ::testing::Test
{
  protected:
    std::vector<uint8_t> mem = std::vector<uint8_t>(1 << 20);
    sl_codec_arena arena;
    sl_codec_limits limits = {1000, 1 << 20};
    sl_codec_request req;
    std::vector<uint8_t> copy;

    int Run(const Frame &f)
    {
        sl_codec_arena_init(&arena, mem.data(), mem.size());
        // Exact-size heap copy so ASan reports any read past the frame; decoded slices
        // point into it, so it lives as long as the fixture.
        copy = f.b;
        copy.shrink_to_fit();
        return sl_codec_decode_request(copy.data(), copy.size(), &arena, &limits, &req, nullptr);
    }
};

TEST_F(Decode, UnknownApiKeepsHeaderForTheAnswer)
{
    EXPECT_EQ(Run(Frame().hdr(999, 0, 77)), SL_CODEC_ERR_UNKNOWN_API);
    EXPECT_EQ(req.header.api_key, 999);
    EXPECT_EQ(req.header.correlation_id, 77);
}

TEST_F(Decode, UnsupportedVersionKeepsHeaderForTheAnswer)
{
    EXPECT_EQ(Run(Frame().hdr(18, 99, 5)), SL_CODEC_ERR_UNSUPPORTED_VERSION);
    EXPECT_EQ(req.header.api_key, 18);
    EXPECT_EQ(req.header.api_version, 99);
    EXPECT_EQ(req.header.correlation_id, 5);
}

TEST_F(Decode, MetadataV1Ok)
{
    ASSERT_EQ(Run(Frame().hdr(3, 1, 1).i32(2).str("a").str("bc")), SL_CODEC_OK);
    auto *m = (sl_codec_metadata_request *)req.body;
    ASSERT_EQ(m->topics_count, 2);
    EXPECT_EQ(std::string((const char *)m->topics[1].name.ptr, m->topics[1].name.len), "bc");
    EXPECT_EQ(std::string((const char *)req.header.client_id.ptr, req.header.client_id.len), "cid");
}

TEST_F(Decode, ArrayLongerThanConfiguredMax)
{
    limits.array_len_max = 1;
    EXPECT_EQ(Run(Frame().hdr(3, 1, 1).i32(2).str("a").str("bc")), SL_CODEC_ERR_ARRAY_TOO_LONG);
}

TEST_F(Decode, ArrayCountBeyondRemainingBytesAllocatesNothing)
{
    limits.array_len_max = 1u << 30;
    EXPECT_EQ(Run(Frame().hdr(3, 1, 1).i32(100000000).str("a")), SL_CODEC_ERR_COUNT_EXCEEDS_DATA);
    EXPECT_LT(arena.used_bytes, 4096u);
}

TEST_F(Decode, NegativeStringLength)
{
    EXPECT_EQ(Run(Frame().hdr(3, 1, 1).i32(1).i16(-5)), SL_CODEC_ERR_NEGATIVE_LENGTH);
}

TEST_F(Decode, NullWhereNotNullable)
{
    // Metadata v0 topics are not nullable (null means "all topics" only from v1).
    EXPECT_EQ(Run(Frame().hdr(3, 0, 1).i32(-1)), SL_CODEC_ERR_NULL_NOT_ALLOWED);
    EXPECT_EQ(Run(Frame().hdr(3, 1, 1).i32(-1)), SL_CODEC_OK);
    EXPECT_EQ(((sl_codec_metadata_request *)req.body)->topics_count, -1);
    EXPECT_EQ(Run(Frame().hdr(3, 1, 1).i32(1).i16(-1)), SL_CODEC_ERR_NULL_NOT_ALLOWED);
}

TEST_F(Decode, BadVarint)
{
    // ApiVersions v3: header v2 tag count is a 6-byte varint.
    EXPECT_EQ(Run(Frame().hdr(18, 3, 1).raw({0x80, 0x80, 0x80, 0x80, 0x80, 0x01})),
              SL_CODEC_ERR_BAD_VARINT);
    EXPECT_EQ(Run(Frame().hdr(18, 3, 1).raw({0xff, 0xff, 0xff, 0xff, 0x7f})),
              SL_CODEC_ERR_BAD_VARINT);
}

TEST_F(Decode, ArenaExhausted)
{
    Frame f = Frame().hdr(3, 1, 1).i32(200);
    for (int i = 0; i < 200; i++)
        f.str("t");
    sl_codec_arena_init(&arena, mem.data(), 256);
    std::vector<uint8_t> copy(f.b);
    EXPECT_EQ(sl_codec_decode_request(copy.data(), copy.size(), &arena, &limits, &req, nullptr),
              SL_CODEC_ERR_ARENA_EXHAUSTED);
}

TEST_F(Decode, TrailingBytes)
{
    EXPECT_EQ(Run(Frame().hdr(3, 1, 1).i32(0).i8(0)), SL_CODEC_ERR_TRAILING_BYTES);
}

TEST_F(Decode, FrameTooLarge)
{
    limits.frame_size_max = 10;
    EXPECT_EQ(Run(Frame().hdr(3, 1, 1).i32(0)), SL_CODEC_ERR_FRAME_TOO_LARGE);
}

// ApiVersions v3 body: client_software_name, client_software_version, tags.
Frame ApiVersionsV3(std::initializer_list<uint8_t> body_tags)
{
    Frame f = Frame().hdr(18, 3, 9).i8(0); // header v2: no tags
    f.raw({4, 'c', 'l', 'i', 3, '1', '0'}).raw(body_tags);
    return f;
}

TEST_F(Decode, UnknownTagsAreKeptAndReEncoded)
{
    Frame f = ApiVersionsV3({2, 5, 1, 0xaa, 9, 2, 0xbb, 0xcc});
    ASSERT_EQ(Run(f), SL_CODEC_OK);
    auto *m = (sl_codec_api_versions_request *)req.body;
    ASSERT_EQ(m->unknown_tag_count, 2u);
    EXPECT_EQ(m->unknown_tags[1].tag, 9u);
    std::vector<uint8_t> out(256);
    sl_codec_encoder e;
    sl_codec_encoder_init(&e, out.data(), out.size(), nullptr, 0);
    ASSERT_EQ(sl_codec_encode_request(&e, &req.header, m), SL_CODEC_OK);
    ASSERT_EQ(e.pos, f.b.size() + 4);
    EXPECT_EQ(memcmp(out.data() + 4, f.b.data(), f.b.size()), 0);
}

TEST_F(Decode, KnownTagWithWrongSize)
{
    // Fetch v12 request, tag 0 (cluster_id, compact nullable string) declared 5 bytes
    // long but holding a 2-byte string.
    Frame f = Frame().hdr(1, 12, 1).i8(0);
    f.i32(-1).i32(500).i32(1).i32(1 << 20).i8(0).i32(0).i32(-1); // replica..session_epoch
    f.raw({1, 1, 1});                                            // empty topics, forgotten, rack
    f.raw({1, 0, 5, 3, 'a', 'b', 0, 0});
    EXPECT_EQ(Run(f), SL_CODEC_ERR_TAG_SIZE_MISMATCH);
}

TEST_F(Decode, ProduceV0EnvelopeRecordsAreSlicesOfTheFrame)
{
    // Magic v0/v1 message sets are rejected later by the handler; the codec still decodes.
    Frame f = Frame().hdr(0, 0, 3).i16(1).i32(1000).i32(1).str("t").i32(1).i32(0).i32(5);
    f.raw({1, 2, 3, 4, 5});
    sl_codec_arena_init(&arena, mem.data(), mem.size());
    ASSERT_EQ(sl_codec_decode_request(f.b.data(), f.b.size(), &arena, &limits, &req, nullptr),
              SL_CODEC_OK);
    auto *p = (sl_codec_produce_request *)req.body;
    const sl_codec_records &r = p->topic_data[0].partition_data[0].records;
    EXPECT_EQ(r.len, 5);
    EXPECT_EQ(r.ptr, f.b.data() + f.b.size() - 5); // zero copy
    EXPECT_EQ(p->transactional_id.len, -1);        // absent in v0: default null
}

TEST(Encode, BufferFull)
{
    sl_codec_metadata_request m;
    sl_codec_metadata_request_init(&m);
    sl_codec_request_header h = {};
    h.api_key = 3;
    h.api_version = 1;
    h.client_id = {nullptr, -1};
    std::vector<uint8_t> out(10);
    sl_codec_encoder e;
    sl_codec_encoder_init(&e, out.data(), out.size(), nullptr, 0);
    EXPECT_EQ(sl_codec_encode_request(&e, &h, &m), SL_CODEC_ERR_BUFFER_FULL);
    out.resize(32);
    sl_codec_encoder_init(&e, out.data(), out.size(), nullptr, 0);
    EXPECT_EQ(sl_codec_encode_request(&e, &h, &m), SL_CODEC_OK);
    EXPECT_EQ(e.pos, 4u + 10u + 4u);
}

TEST(Encode, HeaderVersions)
{
    const sl_codec_api *av = sl_codec_api_find(18), *produce = sl_codec_api_find(0);
    ASSERT_TRUE(av && produce);
    EXPECT_EQ(sl_codec_response_header_version(av, 3), 0);
    EXPECT_EQ(sl_codec_request_header_version(av, 3), 2);
    EXPECT_EQ(sl_codec_request_header_version(av, 2), 1);
    EXPECT_EQ(sl_codec_response_header_version(produce, 9), 1);
    EXPECT_EQ(sl_codec_response_header_version(produce, 8), 0);
    EXPECT_EQ(sl_codec_api_find(4), nullptr); // LeaderAndIsr is not served
}

TEST(Headers, EveryVersionRoundTrips)
{
    std::vector<uint8_t> mem(4096), out(256);
    const sl_codec_limits limits = {100, 1 << 20};
    sl_codec_tag_raw tag = {3, {(const uint8_t *)"zz", 2}};
    for (int hv = 0; hv <= 2; hv++) {
        SCOPED_TRACE(hv);
        sl_codec_request_header h = {};
        h.api_key = 7;
        h.api_version = 0;
        h.correlation_id = -5;
        h.client_id = {(const uint8_t *)"abc", 3};
        h.unknown_tags = &tag;
        h.unknown_tag_count = 1;
        sl_codec_encoder e;
        sl_codec_encoder_init(&e, out.data(), out.size(), nullptr, 0);
        sl_codec_request_header_encode(&e, hv, &h);
        ASSERT_EQ(e.err, SL_CODEC_OK);
        EXPECT_EQ(e.pos, (size_t)(8 + (hv >= 1 ? 5 : 0) + (hv >= 2 ? 5 : 0)));
        sl_codec_arena arena;
        sl_codec_arena_init(&arena, mem.data(), mem.size());
        sl_codec_decoder d;
        sl_codec_decoder_init(&d, out.data(), e.pos, &arena, &limits);
        sl_codec_request_header got;
        ASSERT_EQ(sl_codec_request_header_decode(&d, hv, &got), SL_CODEC_OK);
        EXPECT_EQ(d.pos, d.end);
        EXPECT_EQ(got.correlation_id, -5);
        EXPECT_EQ(got.header_version, hv);
        EXPECT_EQ(got.client_id.len, hv >= 1 ? 3 : -1);
        EXPECT_EQ(got.unknown_tag_count, hv >= 2 ? 1u : 0u);
    }
    for (int hv = 0; hv <= 1; hv++) {
        sl_codec_response_header h = {};
        h.correlation_id = 99;
        h.unknown_tags = &tag;
        h.unknown_tag_count = 1;
        sl_codec_encoder e;
        sl_codec_encoder_init(&e, out.data(), out.size(), nullptr, 0);
        sl_codec_response_header_encode(&e, hv, &h);
        EXPECT_EQ(e.pos, hv ? 9u : 4u);
        sl_codec_arena arena;
        sl_codec_arena_init(&arena, mem.data(), mem.size());
        sl_codec_decoder d;
        sl_codec_decoder_init(&d, out.data(), e.pos, &arena, &limits);
        sl_codec_response_header got;
        ASSERT_EQ(sl_codec_response_header_decode(&d, hv, &got), SL_CODEC_OK);
        EXPECT_EQ(got.correlation_id, 99);
        EXPECT_EQ(got.unknown_tag_count, hv ? 1u : 0u);
    }
}

TEST_F(Decode, ShortHeaderIsTruncated)
{
    for (size_t n = 0; n < 8; n++) {
        Frame f = Frame().hdr(3, 1, 1);
        f.b.resize(n);
        EXPECT_EQ(Run(f), SL_CODEC_ERR_TRUNCATED) << n;
    }
}

// A fetch response whose records come from "storage" in three pieces.
void BuildFetch(sl_codec_fetch_response *r, sl_codec_fetch_response_fetchable_topic_response *t,
                sl_codec_fetch_response_partition_data *p, const sl_codec_segment *segs)
{
    sl_codec_fetch_response_init(r);
    sl_codec_fetch_response_fetchable_topic_response_init(t);
    t->topic = {(const uint8_t *)"orders", 6};
    t->partitions_count = 2;
    t->partitions = p;
    for (int i = 0; i < 2; i++) {
        sl_codec_fetch_response_partition_data_init(&p[i]);
        p[i].partition_index = i;
        p[i].high_watermark = 100 + i;
    }
    p[0].records = {nullptr, 300, nullptr, segs, 2};
    p[1].records = {segs[2].ptr, (int32_t)segs[2].len, segs[2].owner, nullptr, 0};
    r->responses = t;
    r->responses_count = 1;
}

TEST(Encode, FetchResponseZeroCopyMatchesCopy)
{
    std::vector<uint8_t> a(100, 0xa1), b(200, 0xb2), c(50, 0xc3);
    int owner_a, owner_b, owner_c;
    const sl_codec_segment segs[3] = {
        {a.data(), 100, &owner_a}, {b.data(), 200, &owner_b}, {c.data(), 50, &owner_c}};
    sl_codec_fetch_response r;
    sl_codec_fetch_response_fetchable_topic_response t;
    sl_codec_fetch_response_partition_data p[2];
    BuildFetch(&r, &t, p, segs);
    sl_codec_response_header h = {};
    h.correlation_id = 42;

    for (int16_t v : {4, 11, 12, 16}) {
        SCOPED_TRACE(v);
        std::vector<uint8_t> copy(4096);
        sl_codec_encoder e;
        sl_codec_encoder_init(&e, copy.data(), copy.size(), nullptr, 0);
        ASSERT_EQ(sl_codec_encode_response(&e, 1, v, &h, &r), SL_CODEC_OK);
        copy.resize(e.pos);

        std::vector<uint8_t> head(4096);
        sl_codec_gap gaps[4];
        sl_codec_encoder_init(&e, head.data(), head.size(), gaps, 4);
        ASSERT_EQ(sl_codec_encode_response(&e, 1, v, &h, &r), SL_CODEC_OK);
        EXPECT_EQ(e.gap_count, 3u);
        EXPECT_EQ(e.gap_bytes, 350u);
        EXPECT_EQ(sl_codec_encoder_total_bytes(&e), copy.size());
        EXPECT_LT(e.pos, copy.size() - 300); // record bytes were not copied
        sl_codec_segment chain[8];
        uint32_t n = sl_codec_encoder_chain(&e, chain, 8);
        ASSERT_GE(n, 4u);
        std::vector<uint8_t> joined;
        int gaps_seen = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (chain[i].owner) {
                gaps_seen++;
                EXPECT_TRUE(chain[i].ptr == a.data() || chain[i].ptr == b.data() ||
                            chain[i].ptr == c.data());
            }
            joined.insert(joined.end(), chain[i].ptr, chain[i].ptr + chain[i].len);
        }
        EXPECT_EQ(gaps_seen, 3);
        EXPECT_EQ(joined, copy);
        EXPECT_EQ(sl_codec_encoder_chain(&e, chain, 2), 0u); // too few slots

        sl_codec_encoder_init(&e, head.data(), head.size(), gaps, 2);
        EXPECT_EQ(sl_codec_encode_response(&e, 1, v, &h, &r), SL_CODEC_ERR_GAPS_FULL);
    }
}

TEST(KafkaErrors, TableIsDenseAndNamed)
{
    EXPECT_STREQ(sl_kafka_error_name(2), "CORRUPT_MESSAGE");
    EXPECT_STREQ(sl_kafka_error_name(-1), "UNKNOWN_SERVER_ERROR");
    EXPECT_STREQ(sl_kafka_error_name(35), "UNSUPPORTED_VERSION");
    EXPECT_STREQ(sl_kafka_error_name(6), "NOT_LEADER_OR_FOLLOWER");
    EXPECT_STREQ(sl_kafka_error_name(-2), "UNKNOWN_ERROR_CODE");
    EXPECT_STREQ(sl_kafka_error_name(30000), "UNKNOWN_ERROR_CODE");
    EXPECT_TRUE(sl_kafka_error_retriable(SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER));
    EXPECT_TRUE(sl_kafka_error_retriable(SL_KAFKA_ERR_CORRUPT_MESSAGE));
    EXPECT_FALSE(sl_kafka_error_retriable(SL_KAFKA_ERR_MESSAGE_TOO_LARGE));
    EXPECT_FALSE(sl_kafka_error_retriable(SL_KAFKA_ERR_NONE));
    EXPECT_GE(sl_kafka_error_count, 122u);
    for (uint32_t i = 0; i < sl_kafka_error_count; i++) {
        EXPECT_EQ(sl_kafka_errors[i].code, (int)i - 1);
        EXPECT_EQ(sl_kafka_error_find(sl_kafka_errors[i].code), &sl_kafka_errors[i]);
    }
}

TEST(CodecErrors, EveryErrorHasAName)
{
    for (int e = 0; e < SL_CODEC_ERR_COUNT_; e++)
        EXPECT_STRNE(sl_codec_strerror(e), "unknown codec error") << e;
    EXPECT_STREQ(sl_codec_strerror(-3), "unknown codec error");
}

} // namespace
