/* Magic-v2 batch header parsing and validation; see batch.h. */
#include "storage/batch.h"

#include <isa-l.h>
#include <limits.h>

#include "common/sl_assert.h"
#include "common/sl_bytes.h"

SL_STATIC_ASSERT(SL_BATCH_OFF_RECORD_COUNT + 4 == SL_BATCH_HEADER_BYTES,
                 "record count is the last header field");

uint32_t sl_batch_crc32c(const void *data, size_t len)
{
    return sl_batch_crc32c_extend(0, data, len);
}

uint32_t sl_batch_crc32c_extend(uint32_t crc_so_far, const void *data, size_t len)
{
    /* isa-l's crc32_iscsi is the raw CRC32C register update: the standard CRC32C
     * (RFC 3720, Kafka's) starts from all ones and inverts at the end, so a finished
     * value continues from its inverse. It takes an int length, so feed it in pieces. */
    const uint8_t *p = data;
    uint32_t crc = crc_so_far ^ 0xFFFFFFFFu;
    while (len > 0) {
        size_t piece = len > (size_t)INT_MAX ? (size_t)INT_MAX : len;
        crc = crc32_iscsi((unsigned char *)p, (int)piece, crc);
        p += piece;
        len -= piece;
    }
    return crc ^ 0xFFFFFFFFu;
}

enum sl_storage_err sl_batch_parse_header(const uint8_t *buf, size_t len,
                                          struct sl_batch_info *info)
{
    SL_ASSERT(info != NULL);
    if (len < SL_BATCH_HEADER_BYTES)
        return SL_STORAGE_ERR_BATCH_TRUNCATED;
    int32_t batch_length = (int32_t)sl_load_be32(buf + SL_BATCH_OFF_LENGTH);
    info->base_offset = (int64_t)sl_load_be64(buf + SL_BATCH_OFF_BASE_OFFSET);
    info->partition_leader_epoch = (int32_t)sl_load_be32(buf + SL_BATCH_OFF_LEADER_EPOCH);
    info->magic = (int8_t)buf[SL_BATCH_OFF_MAGIC];
    info->crc = sl_load_be32(buf + SL_BATCH_OFF_CRC);
    info->attributes = (int16_t)sl_load_be16(buf + SL_BATCH_OFF_ATTRIBUTES);
    info->last_offset_delta = (int32_t)sl_load_be32(buf + SL_BATCH_OFF_LAST_OFFSET_DELTA);
    info->base_timestamp = (int64_t)sl_load_be64(buf + SL_BATCH_OFF_BASE_TIMESTAMP);
    info->max_timestamp = (int64_t)sl_load_be64(buf + SL_BATCH_OFF_MAX_TIMESTAMP);
    info->producer_id = (int64_t)sl_load_be64(buf + SL_BATCH_OFF_PRODUCER_ID);
    info->producer_epoch = (int16_t)sl_load_be16(buf + SL_BATCH_OFF_PRODUCER_EPOCH);
    info->base_sequence = (int32_t)sl_load_be32(buf + SL_BATCH_OFF_BASE_SEQUENCE);
    info->record_count = (int32_t)sl_load_be32(buf + SL_BATCH_OFF_RECORD_COUNT);
    if (info->magic != 2)
        return SL_STORAGE_ERR_BATCH_MAGIC;
    if (batch_length < (int32_t)(SL_BATCH_HEADER_BYTES - SL_BATCH_LOG_OVERHEAD_BYTES))
        return SL_STORAGE_ERR_BATCH_LENGTH;
    info->size_bytes = (uint32_t)batch_length + SL_BATCH_LOG_OVERHEAD_BYTES;
    if (info->size_bytes < (uint32_t)batch_length) /* 12 + INT32_MAX still fits in u32 */
        return SL_STORAGE_ERR_BATCH_LENGTH;
    return SL_STORAGE_OK;
}

static bool crc_matches(const uint8_t *buf, const struct sl_batch_info *info)
{
    uint32_t covered = info->size_bytes - SL_BATCH_OFF_ATTRIBUTES;
    return sl_batch_crc32c(buf + SL_BATCH_OFF_ATTRIBUTES, covered) == info->crc;
}

enum sl_storage_err sl_batch_check_stored(const uint8_t *buf, size_t len,
                                          struct sl_batch_info *info)
{
    enum sl_storage_err err = sl_batch_parse_header(buf, len, info);
    if (err != SL_STORAGE_OK)
        return err;
    if (info->size_bytes > len)
        return SL_STORAGE_ERR_BATCH_TRUNCATED;
    if (!crc_matches(buf, info))
        return SL_STORAGE_ERR_BATCH_CRC;
    if (info->last_offset_delta < 0)
        return SL_STORAGE_ERR_BATCH_RECORD_COUNT;
    return SL_STORAGE_OK;
}

static enum sl_storage_err check_record_count(const struct sl_batch_info *info)
{
    if (info->record_count < 1)
        return SL_STORAGE_ERR_BATCH_RECORD_COUNT;
    if (info->last_offset_delta != info->record_count - 1)
        return SL_STORAGE_ERR_BATCH_RECORD_COUNT;
    bool compressed = (info->attributes & SL_BATCH_ATTR_COMPRESSION_MASK) != 0;
    uint64_t record_bytes = info->size_bytes - SL_BATCH_HEADER_BYTES;
    /* Uncompressed records take at least SL_BATCH_RECORD_MIN_BYTES each; compressed
     * ones cannot be bounded without decompressing, which the broker never does. */
    if (!compressed && (uint64_t)info->record_count * SL_BATCH_RECORD_MIN_BYTES > record_bytes)
        return SL_STORAGE_ERR_BATCH_RECORD_COUNT;
    return SL_STORAGE_OK;
}

static enum sl_storage_err check_producer_fields(const struct sl_batch_info *info)
{
    if (info->producer_id == -1) {
        /* Non-idempotent producers send epoch and sequence -1; a transaction needs a
         * producer id. */
        if (sl_batch_is_transactional(info))
            return SL_STORAGE_ERR_BATCH_PRODUCER;
        return SL_STORAGE_OK;
    }
    if (info->producer_id < 0)
        return SL_STORAGE_ERR_BATCH_PRODUCER;
    if (info->producer_epoch < 0)
        return SL_STORAGE_ERR_BATCH_PRODUCER;
    if (info->base_sequence < 0 && !sl_batch_is_control(info))
        return SL_STORAGE_ERR_BATCH_PRODUCER;
    return SL_STORAGE_OK;
}

enum sl_storage_err sl_batch_validate(const uint8_t *buf, size_t len, uint32_t max_batch_bytes,
                                      struct sl_batch_info *info)
{
    enum sl_storage_err err = sl_batch_parse_header(buf, len, info);
    if (err != SL_STORAGE_OK)
        return err;
    if (info->size_bytes > len)
        return SL_STORAGE_ERR_BATCH_TRUNCATED;
    if (info->size_bytes > max_batch_bytes)
        return SL_STORAGE_ERR_BATCH_TOO_LARGE;
    if (!crc_matches(buf, info))
        return SL_STORAGE_ERR_BATCH_CRC;
    if ((info->attributes & SL_BATCH_ATTR_COMPRESSION_MASK) >= SL_BATCH_COMPRESSION_CODECS)
        return SL_STORAGE_ERR_BATCH_ATTRIBUTES;
    err = check_record_count(info);
    if (err != SL_STORAGE_OK)
        return err;
    return check_producer_fields(info);
}

enum sl_storage_err sl_batch_validate_all(const uint8_t *buf, size_t len, uint32_t max_batch_bytes,
                                          struct sl_batch_info *infos, uint32_t infos_max,
                                          uint32_t *count)
{
    SL_ASSERT(count != NULL);
    *count = 0;
    if (len == 0)
        return SL_STORAGE_ERR_BATCH_EMPTY;
    size_t pos = 0;
    uint32_t n = 0;
    while (pos < len) {
        if (n == infos_max)
            return SL_STORAGE_ERR_BATCH_TOO_MANY;
        enum sl_storage_err err =
            sl_batch_validate(buf + pos, len - pos, max_batch_bytes, &infos[n]);
        if (err != SL_STORAGE_OK) {
            *count = n;
            return err;
        }
        pos += infos[n].size_bytes;
        n++;
    }
    SL_ASSERT(pos == len);
    *count = n;
    return SL_STORAGE_OK;
}
