// Builds valid magic-v2 record batches for tests: uncompressed records with varint
// fields and a real CRC32C, so the storage layer sees exactly what a producer sends.
#ifndef SL_TESTS_BATCH_BUILDER_H
#define SL_TESTS_BATCH_BUILDER_H

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/sl_bytes.h"
#include "storage/batch.h"

namespace sl_test
{

struct batch_options {
    int64_t base_timestamp = 1700000000000;
    int64_t timestamp_step_ms = 1; // record i has base_timestamp + i * step
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    int32_t base_sequence = -1;
    int16_t attributes = 0;
    int32_t partition_leader_epoch = -1;
    int64_t base_offset = 0;
};

inline void put_varint(std::vector<uint8_t> &out, int64_t value)
{
    uint64_t v = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
    while (v >= 0x80) {
        out.push_back(static_cast<uint8_t>(v | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<uint8_t>(v));
}

// One record: attributes 0, the given deltas, key and value bytes, no headers.
inline void put_record(std::vector<uint8_t> &out, int64_t timestamp_delta, int32_t offset_delta,
                       const std::string &key, const std::string &value)
{
    std::vector<uint8_t> body;
    body.push_back(0);
    put_varint(body, timestamp_delta);
    put_varint(body, offset_delta);
    put_varint(body, static_cast<int64_t>(key.size()));
    body.insert(body.end(), key.begin(), key.end());
    put_varint(body, static_cast<int64_t>(value.size()));
    body.insert(body.end(), value.begin(), value.end());
    put_varint(body, 0);
    put_varint(out, static_cast<int64_t>(body.size()));
    out.insert(out.end(), body.begin(), body.end());
}

// Recomputes batchLength and the CRC of a batch in place (after a test edits it).
inline void seal_batch(std::vector<uint8_t> &b)
{
    sl_store_be32(b.data() + SL_BATCH_OFF_LENGTH,
                  static_cast<uint32_t>(b.size() - SL_BATCH_LOG_OVERHEAD_BYTES));
    uint32_t crc =
        sl_batch_crc32c(b.data() + SL_BATCH_OFF_ATTRIBUTES, b.size() - SL_BATCH_OFF_ATTRIBUTES);
    sl_store_be32(b.data() + SL_BATCH_OFF_CRC, crc);
}

inline std::vector<uint8_t> make_batch(const std::vector<std::string> &values,
                                       const batch_options &o = batch_options())
{
    std::vector<uint8_t> b(SL_BATCH_HEADER_BYTES, 0);
    int32_t count = static_cast<int32_t>(values.size());
    sl_store_be64(b.data() + SL_BATCH_OFF_BASE_OFFSET, static_cast<uint64_t>(o.base_offset));
    sl_store_be32(b.data() + SL_BATCH_OFF_LEADER_EPOCH,
                  static_cast<uint32_t>(o.partition_leader_epoch));
    b[SL_BATCH_OFF_MAGIC] = 2;
    sl_store_be16(b.data() + SL_BATCH_OFF_ATTRIBUTES, static_cast<uint16_t>(o.attributes));
    sl_store_be32(b.data() + SL_BATCH_OFF_LAST_OFFSET_DELTA, static_cast<uint32_t>(count - 1));
    sl_store_be64(b.data() + SL_BATCH_OFF_BASE_TIMESTAMP, static_cast<uint64_t>(o.base_timestamp));
    int64_t max_ts = o.base_timestamp + (count > 0 ? (count - 1) * o.timestamp_step_ms : 0);
    sl_store_be64(b.data() + SL_BATCH_OFF_MAX_TIMESTAMP, static_cast<uint64_t>(max_ts));
    sl_store_be64(b.data() + SL_BATCH_OFF_PRODUCER_ID, static_cast<uint64_t>(o.producer_id));
    sl_store_be16(b.data() + SL_BATCH_OFF_PRODUCER_EPOCH, static_cast<uint16_t>(o.producer_epoch));
    sl_store_be32(b.data() + SL_BATCH_OFF_BASE_SEQUENCE, static_cast<uint32_t>(o.base_sequence));
    sl_store_be32(b.data() + SL_BATCH_OFF_RECORD_COUNT, static_cast<uint32_t>(count));
    for (int32_t i = 0; i < count; i++)
        put_record(b, i * o.timestamp_step_ms, i, "k" + std::to_string(i), values[i]);
    seal_batch(b);
    return b;
}

// A batch of `records` records whose values are filled from a seed (deterministic).
inline std::vector<uint8_t> make_seeded_batch(uint64_t seed, int records, size_t value_bytes,
                                              const batch_options &o = batch_options())
{
    std::vector<std::string> values;
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int i = 0; i < records; i++) {
        std::string v(value_bytes, '\0');
        for (size_t j = 0; j < value_bytes; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v[j] = static_cast<char>('a' + x % 26);
        }
        values.push_back(v);
    }
    return make_batch(values, o);
}

// The bytes the log stores for a batch: baseOffset and leader epoch filled in.
inline std::vector<uint8_t> as_stored(std::vector<uint8_t> b, int64_t base_offset,
                                      int32_t leader_epoch)
{
    sl_store_be64(b.data() + SL_BATCH_OFF_BASE_OFFSET, static_cast<uint64_t>(base_offset));
    sl_store_be32(b.data() + SL_BATCH_OFF_LEADER_EPOCH, static_cast<uint32_t>(leader_epoch));
    return b;
}

} // namespace sl_test

#endif
