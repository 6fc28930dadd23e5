// Fetch / Produce / Metadata / ListOffsets helpers over codec_client for the fetch
// session and read_committed tests: plain C++ values in, plain C++ values out.
#pragma once

#include <gtest/gtest.h>
#include <string.h>

#include <map>
#include <string>
#include <vector>

#include "storage/batch.h"
#include "tests/dataplane/codec_client.h"

namespace sl_test
{

struct fetch_partition_arg {
    std::string topic;  // v0-v12
    sl_codec_uuid id{}; // v13+
    int32_t partition = 0;
    int64_t fetch_offset = 0;
    int32_t max_bytes = 1 << 20;
};

struct fetch_args {
    int16_t version = 12;
    int32_t session_id = 0;
    int32_t session_epoch = -1;
    int32_t max_wait_ms = 300;
    int32_t min_bytes = 1;
    int8_t isolation_level = 0;
    std::vector<fetch_partition_arg> partitions;
    std::vector<fetch_partition_arg> forgotten; // fetch_offset unused
};

struct fetch_partition_result {
    std::string topic;
    sl_codec_uuid id{};
    int32_t partition = -1;
    int16_t error_code = -100;
    int64_t high_watermark = -100;
    int64_t last_stable_offset = -100;
    int64_t log_start_offset = -100;
    int32_t aborted_count = -100; // -1: null
    int32_t records_bytes = -1;   // -1: null
    int32_t record_count = 0;
};

struct fetch_result {
    int16_t error_code = -100;
    int32_t session_id = -100;
    int64_t elapsed_ms = 0;
    std::vector<fetch_partition_result> partitions;
};

inline bool uuid_equal(const sl_codec_uuid &a, const sl_codec_uuid &b)
{
    return memcmp(a.bytes, b.bytes, sizeof(a.bytes)) == 0;
}

// Records in a concatenation of magic-v2 batches (the recordCount fields).
inline int32_t count_records(const uint8_t *p, int32_t len)
{
    int32_t n = 0, at = 0;
    while (p != nullptr && at + (int32_t)SL_BATCH_HEADER_BYTES <= len) {
        auto be32 = [&](int32_t off) {
            return (int32_t)((uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 |
                             (uint32_t)p[off + 2] << 8 | (uint32_t)p[off + 3]);
        };
        n += be32(at + 57);
        at += 12 + be32(at + 8);
    }
    return n;
}

inline ::testing::AssertionResult fetch(codec_client &c, const fetch_args &a, fetch_result *out)
{
    // Group partitions by topic (name or id), in first-seen order.
    auto group = [&](const std::vector<fetch_partition_arg> &parts) {
        std::vector<std::vector<const fetch_partition_arg *>> groups;
        for (const auto &p : parts) {
            bool placed = false;
            for (auto &g : groups) {
                bool same = a.version >= 13 ? uuid_equal(g[0]->id, p.id) : g[0]->topic == p.topic;
                if (same) {
                    g.push_back(&p);
                    placed = true;
                    break;
                }
            }
            if (!placed)
                groups.push_back({&p});
        }
        return groups;
    };
    auto groups = group(a.partitions);
    auto forgotten = group(a.forgotten);
    std::vector<sl_codec_fetch_request_fetch_topic> topics(groups.size() + 1);
    std::vector<std::vector<sl_codec_fetch_request_fetch_partition>> parts(groups.size());
    for (size_t i = 0; i < groups.size(); i++) {
        sl_codec_fetch_request_fetch_topic_init(&topics[i]);
        topics[i].topic = slice_of(groups[i][0]->topic);
        topics[i].topic_id = groups[i][0]->id;
        for (const auto *p : groups[i]) {
            sl_codec_fetch_request_fetch_partition fp;
            sl_codec_fetch_request_fetch_partition_init(&fp);
            fp.partition = p->partition;
            fp.fetch_offset = p->fetch_offset;
            fp.partition_max_bytes = p->max_bytes;
            parts[i].push_back(fp);
        }
        topics[i].partitions = parts[i].data();
        topics[i].partitions_count = (int32_t)parts[i].size();
    }
    std::vector<sl_codec_fetch_request_forgotten_topic> forget(forgotten.size() + 1);
    std::vector<std::vector<int32_t>> forget_parts(forgotten.size());
    for (size_t i = 0; i < forgotten.size(); i++) {
        sl_codec_fetch_request_forgotten_topic_init(&forget[i]);
        forget[i].topic = slice_of(forgotten[i][0]->topic);
        forget[i].topic_id = forgotten[i][0]->id;
        for (const auto *p : forgotten[i])
            forget_parts[i].push_back(p->partition);
        forget[i].partitions = forget_parts[i].data();
        forget[i].partitions_count = (int32_t)forget_parts[i].size();
    }
    sl_codec_fetch_request req;
    sl_codec_fetch_request_init(&req);
    req.max_wait_ms = a.max_wait_ms;
    req.min_bytes = a.min_bytes;
    req.max_bytes = 50 << 20;
    req.isolation_level = a.isolation_level;
    req.session_id = a.session_id;
    req.session_epoch = a.session_epoch;
    req.topics = topics.data();
    req.topics_count = (int32_t)groups.size();
    req.forgotten_topics_data = forget.data();
    req.forgotten_topics_data_count = (int32_t)forgotten.size();
    static const std::string rack;
    req.rack_id = slice_of(rack);
    void *body = nullptr;
    auto ok = c.call(1, a.version, &req, &body, &out->elapsed_ms);
    if (!ok)
        return ok;
    const auto *resp = static_cast<const sl_codec_fetch_response *>(body);
    out->error_code = resp->error_code;
    out->session_id = resp->session_id;
    out->partitions.clear();
    for (int32_t t = 0; t < resp->responses_count; t++) {
        const auto &tr = resp->responses[t];
        for (int32_t p = 0; p < tr.partitions_count; p++) {
            const auto &pr = tr.partitions[p];
            fetch_partition_result r;
            r.topic = string_of(tr.topic);
            r.id = tr.topic_id;
            r.partition = pr.partition_index;
            r.error_code = pr.error_code;
            r.high_watermark = pr.high_watermark;
            r.last_stable_offset = pr.last_stable_offset;
            r.log_start_offset = pr.log_start_offset;
            r.aborted_count = pr.aborted_transactions_count;
            r.records_bytes = pr.records.len;
            r.record_count = count_records(pr.records.ptr, pr.records.len);
            out->partitions.push_back(r);
        }
    }
    return ::testing::AssertionSuccess();
}

// A magic-v2 batch of n records; with transactional the attribute bit is set and the
// batch carries producer id 1000, epoch 0, sequence 0 (CRC recomputed).
inline std::vector<uint8_t> make_batch(int n, bool transactional = false)
{
    std::vector<test_record> recs;
    for (int i = 0; i < n; i++)
        recs.push_back({"k" + std::to_string(i), "value-" + std::to_string(i)});
    std::vector<uint8_t> b = build_record_batch(recs, 1700000000000);
    if (transactional) {
        auto put = [&](size_t off, uint64_t v, int bytes) {
            for (int i = 0; i < bytes; i++)
                b[off + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
        };
        put(SL_BATCH_OFF_ATTRIBUTES, SL_BATCH_ATTR_TRANSACTIONAL, 2);
        put(43, 1000, 8); // producer id
        put(51, 0, 2);    // producer epoch
        put(53, 0, 4);    // base sequence
        put(SL_BATCH_OFF_CRC, crc32c(b.data() + 21, b.size() - 21), 4);
    }
    return b;
}

// Produce v8 of one batch to (topic, partition), acks=1; *error_code per the answer.
inline ::testing::AssertionResult produce(codec_client &c, const std::string &topic,
                                          int32_t partition, const std::vector<uint8_t> &batch,
                                          int16_t *error_code,
                                          const std::string *transactional_id = nullptr,
                                          int16_t acks = 1)
{
    sl_codec_produce_request_partition_produce_data pd;
    sl_codec_produce_request_partition_produce_data_init(&pd);
    pd.index = partition;
    pd.records = sl_codec_records{batch.data(), (int32_t)batch.size(), nullptr, nullptr, 0};
    sl_codec_produce_request_topic_produce_data td;
    sl_codec_produce_request_topic_produce_data_init(&td);
    td.name = slice_of(topic);
    td.partition_data = &pd;
    td.partition_data_count = 1;
    sl_codec_produce_request req;
    sl_codec_produce_request_init(&req);
    if (transactional_id != nullptr)
        req.transactional_id = slice_of(*transactional_id);
    req.acks = acks;
    req.timeout_ms = 10000;
    req.topic_data = &td;
    req.topic_data_count = 1;
    void *body = nullptr;
    auto ok = c.call(0, 8, &req, &body);
    if (!ok)
        return ok;
    const auto *resp = static_cast<const sl_codec_produce_response *>(body);
    if (resp->responses_count != 1 || resp->responses[0].partition_responses_count != 1)
        return ::testing::AssertionFailure() << "produce answer shape";
    *error_code = resp->responses[0].partition_responses[0].error_code;
    return ::testing::AssertionSuccess();
}

// The high watermark of partition 0 of topic, from a Fetch with min_bytes 0; -100 when the
// answer does not have exactly that partition (a failed fetch also fails the test).
inline int64_t high_watermark(codec_client &c, const std::string &topic)
{
    fetch_args a;
    a.min_bytes = 0;
    a.partitions = {{topic, {}, 0, 0}};
    fetch_result r;
    EXPECT_TRUE(fetch(c, a, &r));
    return r.partitions.size() == 1 ? r.partitions[0].high_watermark : -100;
}

// The topic id of topic (Metadata v12).
inline ::testing::AssertionResult topic_id(codec_client &c, const std::string &topic,
                                           sl_codec_uuid *out)
{
    sl_codec_metadata_request_metadata_request_topic t;
    sl_codec_metadata_request_metadata_request_topic_init(&t);
    t.name = slice_of(topic);
    sl_codec_metadata_request req;
    sl_codec_metadata_request_init(&req);
    req.topics = &t;
    req.topics_count = 1;
    req.allow_auto_topic_creation = false;
    void *body = nullptr;
    auto ok = c.call(3, 12, &req, &body);
    if (!ok)
        return ok;
    const auto *resp = static_cast<const sl_codec_metadata_response *>(body);
    if (resp->topics_count != 1 || resp->topics[0].error_code != 0)
        return ::testing::AssertionFailure() << "metadata: no topic " << topic;
    *out = resp->topics[0].topic_id;
    return ::testing::AssertionSuccess();
}

} // namespace sl_test
