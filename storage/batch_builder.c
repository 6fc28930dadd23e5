#include "storage/batch_builder.h"

#include <errno.h>
#include <string.h>

#include "common/sl_assert.h"
#include "common/sl_bytes.h"
#include "storage/batch.h"

static size_t varint_bytes(int64_t value)
{
    uint64_t zigzag = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    size_t n = 1;
    while (zigzag >= 0x80) {
        zigzag >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, int64_t value)
{
    uint64_t zigzag = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    while (zigzag >= 0x80) {
        *p++ = (uint8_t)(zigzag | 0x80);
        zigzag >>= 7;
    }
    *p++ = (uint8_t)zigzag;
    return p;
}

static uint8_t *put_bytes(uint8_t *p, const void *data, int32_t len)
{
    p = put_varint(p, len);
    if (len > 0) {
        memcpy(p, data, (size_t)len);
        p += len;
    }
    return p;
}

static size_t record_body_bytes(int32_t key_len, int32_t value_len,
                                const struct sl_record_header *headers, uint32_t header_count,
                                int64_t timestamp_delta_ms, int32_t offset_delta)
{
    size_t n = 1; /* attributes */
    n += varint_bytes(timestamp_delta_ms) + varint_bytes(offset_delta);
    n += varint_bytes(key_len) + (key_len > 0 ? (size_t)key_len : 0);
    n += varint_bytes(value_len) + (value_len > 0 ? (size_t)value_len : 0);
    n += varint_bytes(header_count);
    for (uint32_t i = 0; i < header_count; i++) {
        n += varint_bytes(headers[i].key_len) + (size_t)headers[i].key_len;
        n += varint_bytes(headers[i].value_len) +
             (headers[i].value_len > 0 ? (size_t)headers[i].value_len : 0);
    }
    return n;
}

size_t sl_batch_builder_record_bytes(int32_t key_len, int32_t value_len,
                                     const struct sl_record_header *headers, uint32_t header_count,
                                     int64_t timestamp_delta_ms, int32_t offset_delta)
{
    size_t body = record_body_bytes(key_len, value_len, headers, header_count, timestamp_delta_ms,
                                    offset_delta);
    return varint_bytes((int64_t)body) + body;
}

void sl_batch_builder_init(struct sl_batch_builder *builder, uint8_t *buf, size_t capacity_bytes,
                           int64_t base_timestamp_ms, int16_t attributes, int64_t producer_id,
                           int16_t producer_epoch, int32_t base_sequence)
{
    SL_ASSERT(buf != NULL);
    SL_ASSERT(capacity_bytes >= SL_BATCH_HEADER_BYTES);
    SL_ASSERT((attributes & SL_BATCH_ATTR_COMPRESSION_MASK) == 0);
    SL_ASSERT(producer_id >= -1);
    *builder = (struct sl_batch_builder){
        .buf = buf,
        .capacity_bytes = capacity_bytes,
        .len = SL_BATCH_HEADER_BYTES,
        .record_count = 0,
        .base_timestamp_ms = base_timestamp_ms,
        .max_timestamp_ms = base_timestamp_ms,
        .attributes = attributes,
        .producer_id = producer_id,
        .producer_epoch = producer_id < 0 ? -1 : producer_epoch,
        .base_sequence = producer_id < 0 ? -1 : base_sequence,
    };
}

int sl_batch_builder_add(struct sl_batch_builder *builder, int64_t timestamp_ms, const void *key,
                         int32_t key_len, const void *value, int32_t value_len,
                         const struct sl_record_header *headers, uint32_t header_count)
{
    SL_ASSERT(builder->buf != NULL);
    if (timestamp_ms < builder->base_timestamp_ms || key_len < -1 || value_len < -1)
        return -EINVAL;
    for (uint32_t i = 0; i < header_count; i++) {
        if (headers[i].key_len < 0 || headers[i].value_len < -1)
            return -EINVAL;
    }
    int64_t timestamp_delta = timestamp_ms - builder->base_timestamp_ms;
    int32_t offset_delta = builder->record_count;
    size_t body =
        record_body_bytes(key_len, value_len, headers, header_count, timestamp_delta, offset_delta);
    size_t total = varint_bytes((int64_t)body) + body;
    if (total > builder->capacity_bytes - builder->len)
        return -ENOSPC;

    uint8_t *start = builder->buf + builder->len;
    uint8_t *p = put_varint(start, (int64_t)body);
    *p++ = 0; /* record attributes: unused */
    p = put_varint(p, timestamp_delta);
    p = put_varint(p, offset_delta);
    p = put_bytes(p, key, key_len);
    p = put_bytes(p, value, value_len);
    p = put_varint(p, header_count);
    for (uint32_t i = 0; i < header_count; i++) {
        p = put_bytes(p, headers[i].key, headers[i].key_len);
        p = put_bytes(p, headers[i].value, headers[i].value_len);
    }
    SL_ASSERT((size_t)(p - start) == total);
    builder->len += total;
    builder->record_count++;
    if (timestamp_ms > builder->max_timestamp_ms)
        builder->max_timestamp_ms = timestamp_ms;
    return 0;
}

size_t sl_batch_builder_finish(struct sl_batch_builder *builder)
{
    SL_ASSERT(builder->record_count > 0);
    SL_ASSERT(builder->len <= builder->capacity_bytes);
    uint8_t *b = builder->buf;
    sl_store_be64(b + SL_BATCH_OFF_BASE_OFFSET, 0);
    sl_store_be32(b + SL_BATCH_OFF_LENGTH, (uint32_t)(builder->len - SL_BATCH_LOG_OVERHEAD_BYTES));
    sl_store_be32(b + SL_BATCH_OFF_LEADER_EPOCH, (uint32_t)-1);
    b[SL_BATCH_OFF_MAGIC] = 2;
    sl_store_be16(b + SL_BATCH_OFF_ATTRIBUTES, (uint16_t)builder->attributes);
    sl_store_be32(b + SL_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(builder->record_count - 1));
    sl_store_be64(b + SL_BATCH_OFF_BASE_TIMESTAMP, (uint64_t)builder->base_timestamp_ms);
    sl_store_be64(b + SL_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)builder->max_timestamp_ms);
    sl_store_be64(b + SL_BATCH_OFF_PRODUCER_ID, (uint64_t)builder->producer_id);
    sl_store_be16(b + SL_BATCH_OFF_PRODUCER_EPOCH, (uint16_t)builder->producer_epoch);
    sl_store_be32(b + SL_BATCH_OFF_BASE_SEQUENCE, (uint32_t)builder->base_sequence);
    sl_store_be32(b + SL_BATCH_OFF_RECORD_COUNT, (uint32_t)builder->record_count);
    uint32_t crc =
        sl_batch_crc32c(b + SL_BATCH_OFF_ATTRIBUTES, builder->len - SL_BATCH_OFF_ATTRIBUTES);
    sl_store_be32(b + SL_BATCH_OFF_CRC, crc);
    size_t size = builder->len;
    builder->buf = NULL;
    return size;
}
