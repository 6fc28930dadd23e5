/* Builds uncompressed magic-v2 record batches in a caller buffer.
 *
 * The broker needs this for batches it writes itself (transaction control markers,
 * the consumer-offsets log) and the benchmarks and tests for realistic input. The
 * result is byte-for-byte what a Kafka producer would send with compression none.
 * Pure: no allocation, any thread.
 */
#ifndef SL_STORAGE_BATCH_BUILDER_H
#define SL_STORAGE_BATCH_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sl_record_header {
    const uint8_t *key; /* UTF-8, not NUL-terminated */
    int32_t key_len;
    const uint8_t *value; /* NULL with value_len -1 for a null value */
    int32_t value_len;
};

struct sl_batch_builder {
    uint8_t *buf;
    size_t capacity_bytes;
    size_t len; /* bytes used so far, header included */
    int32_t record_count;
    int64_t base_timestamp_ms;
    int64_t max_timestamp_ms;
    int16_t attributes;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
};

/* Starts a batch in buf (capacity_bytes >= 61). attributes must not set compression
 * bits. producer_id -1 for a non-idempotent batch (epoch and sequence then -1). */
void sl_batch_builder_init(struct sl_batch_builder *builder, uint8_t *buf, size_t capacity_bytes,
                           int64_t base_timestamp_ms, int16_t attributes, int64_t producer_id,
                           int16_t producer_epoch, int32_t base_sequence);

/* Appends one record. key_len / value_len of -1 mean null. Returns 0, or -ENOSPC when
 * the record does not fit (the batch is unchanged), or -EINVAL for a timestamp below the
 * base timestamp or a negative length other than -1. */
int sl_batch_builder_add(struct sl_batch_builder *builder, int64_t timestamp_ms, const void *key,
                         int32_t key_len, const void *value, int32_t value_len,
                         const struct sl_record_header *headers, uint32_t header_count);

/* Bytes the record would take inside the batch (for planning sizes). */
size_t sl_batch_builder_record_bytes(int32_t key_len, int32_t value_len,
                                     const struct sl_record_header *headers, uint32_t header_count,
                                     int64_t timestamp_delta_ms, int32_t offset_delta);

/* Writes the header (base offset 0, leader epoch -1) and the CRC32C. Returns the batch
 * size in bytes; the builder must not be used afterwards. At least one record must have
 * been added (asserted). */
size_t sl_batch_builder_finish(struct sl_batch_builder *builder);

#ifdef __cplusplus
}
#endif

#endif
