/* Magic-v2 record batch header: layout, parsing and validation.
 *
 * Header layout (big-endian), byte offsets from the batch start:
 *   0 baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 | 16 magic i8 |
 *   17 crc u32 | 21 attributes i16 | 23 lastOffsetDelta i32 | 27 baseTimestamp i64 |
 *   35 maxTimestamp i64 | 43 producerId i64 | 51 producerEpoch i16 | 53 baseSequence i32 |
 *   57 recordCount i32 | 61 records...
 * batchLength counts the bytes after the batchLength field (total = 12 + batchLength).
 * The CRC32C covers attributes..end, so baseOffset and partitionLeaderEpoch can be
 * rewritten without recomputing it. Records are never decoded here.
 *
 * All functions are pure (no state, no allocation): any thread.
 */
#ifndef SL_STORAGE_BATCH_H
#define SL_STORAGE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_BATCH_HEADER_BYTES          61u
#define SL_BATCH_LOG_OVERHEAD_BYTES    12u /* baseOffset + batchLength */
#define SL_BATCH_OFF_BASE_OFFSET       0u
#define SL_BATCH_OFF_LENGTH            8u
#define SL_BATCH_OFF_LEADER_EPOCH      12u
#define SL_BATCH_OFF_MAGIC             16u
#define SL_BATCH_OFF_CRC               17u
#define SL_BATCH_OFF_ATTRIBUTES        21u
#define SL_BATCH_OFF_LAST_OFFSET_DELTA 23u
#define SL_BATCH_OFF_BASE_TIMESTAMP    27u
#define SL_BATCH_OFF_MAX_TIMESTAMP     35u
#define SL_BATCH_OFF_PRODUCER_ID       43u
#define SL_BATCH_OFF_PRODUCER_EPOCH    51u
#define SL_BATCH_OFF_BASE_SEQUENCE     53u
#define SL_BATCH_OFF_RECORD_COUNT      57u

#define SL_BATCH_ATTR_COMPRESSION_MASK     0x07
#define SL_BATCH_ATTR_TIMESTAMP_LOG_APPEND 0x08
#define SL_BATCH_ATTR_TRANSACTIONAL        0x10
#define SL_BATCH_ATTR_CONTROL              0x20
#define SL_BATCH_COMPRESSION_CODECS        5 /* none, gzip, snappy, lz4, zstd */

/* The smallest possible v2 record (length, attributes, timestampDelta, offsetDelta,
 * keyLength, valueLength, headerCount: one varint byte each). Bounds recordCount for
 * uncompressed batches without decoding records. */
#define SL_BATCH_RECORD_MIN_BYTES 7u

/* Everything the header says, in host order. Filled by sl_batch_parse_header. */
struct sl_batch_info {
    int64_t base_offset;
    uint32_t size_bytes; /* whole batch: 12 + batchLength */
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
};

/* CRC32C (Castagnoli) of len bytes, the value a v2 batch stores. */
uint32_t sl_batch_crc32c(const void *data, size_t len);

/* The CRC32C of A followed by the len bytes at data, given crc = the CRC32C of A (0 for an
 * empty A): sl_batch_crc32c_extend(sl_batch_crc32c(a, n), b, m) is the CRC of a||b. */
uint32_t sl_batch_crc32c_extend(uint32_t crc, const void *data, size_t len);

/* Decodes the 61-byte header at buf (len bytes available) without checking the CRC or
 * the producer fields. Checks only that the header fits, magic is 2 and batchLength is
 * at least a header (so size_bytes is usable). Does not require the whole batch to be
 * in buf. Returns OK, BATCH_TRUNCATED (len < 61), BATCH_MAGIC or BATCH_LENGTH. */
enum sl_storage_err sl_batch_parse_header(const uint8_t *buf, size_t len,
                                          struct sl_batch_info *info);

/* Full validation of the one batch at the start of buf, as a produce request must pass:
 * header and whole batch fit in len, magic 2, batch size <= max_batch_bytes, CRC32C,
 * compression codec known, recordCount >= 1 and == lastOffsetDelta + 1 (and plausible
 * for the byte count when uncompressed), producer fields consistent (producerId -1 means
 * non-idempotent and forbids the transactional bit; producerId >= 0 needs epoch >= 0 and
 * baseSequence >= 0). Control batches are accepted here (info->attributes tells; the
 * produce handler rejects client-sent ones). On OK, info is filled; bytes past
 * info->size_bytes are not examined. */
enum sl_storage_err sl_batch_validate(const uint8_t *buf, size_t len, uint32_t max_batch_bytes,
                                      struct sl_batch_info *info);

/* Checks the CRC32C and the length fields of a batch already in the log (recovery):
 * like sl_batch_validate but without the produce-only rules (record count rule, producer
 * shape, size limit). */
enum sl_storage_err sl_batch_check_stored(const uint8_t *buf, size_t len,
                                          struct sl_batch_info *info);

/* Validates every batch of a concatenation (a Produce partition's `records` field) with
 * sl_batch_validate, stopping at the first error. Fills infos[0..*count) on OK. Returns
 * BATCH_EMPTY for len == 0, BATCH_TOO_MANY when more than infos_max batches follow each
 * other, or the first batch's error (then *count is the index of the bad batch). */
enum sl_storage_err sl_batch_validate_all(const uint8_t *buf, size_t len, uint32_t max_batch_bytes,
                                          struct sl_batch_info *infos, uint32_t infos_max,
                                          uint32_t *count);

static inline int64_t sl_batch_last_offset(const struct sl_batch_info *info)
{
    return info->base_offset + info->last_offset_delta;
}

static inline bool sl_batch_is_control(const struct sl_batch_info *info)
{
    return (info->attributes & SL_BATCH_ATTR_CONTROL) != 0;
}

static inline bool sl_batch_is_transactional(const struct sl_batch_info *info)
{
    return (info->attributes & SL_BATCH_ATTR_TRANSACTIONAL) != 0;
}

#ifdef __cplusplus
}
#endif

#endif
