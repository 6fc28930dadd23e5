/* Idempotent-producer state of one partition (Kafka's ProducerStateManager, reduced to
 * what a non-transactional idempotent producer needs): per producer id its epoch and the
 * sequence ranges and base offsets of its last SL_DP_PRODUCER_BATCHES_MAX batches, so a
 * retried batch is answered with its original offset instead of being appended twice,
 * and a gap in the sequence is refused with OUT_OF_ORDER_SEQUENCE_NUMBER.
 *
 * The table is bounded (SL_DP_PRODUCERS_MAX producers per partition; the least recently
 * used producer is forgotten when a new one arrives, as Kafka forgets producers after
 * producer.id.expiration.ms) and allocated on the partition's first idempotent batch.
 * After a restart it is rebuilt by reading the tail of the log (the last
 * SL_DP_PRODUCER_SCAN_OFFSETS offsets) with sl_log_read; until that finishes, idempotent
 * appends to the partition wait (sl_dp_producer_check answers LOADING).
 *
 * Everything here belongs to the partition's owning shard thread.
 */
#ifndef SL_DP_PRODUCER_STATE_H
#define SL_DP_PRODUCER_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/batch.h"
#include "storage/log.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_DP_PRODUCER_BATCHES_MAX  5u /* Kafka's max.in.flight bound for idempotence */
#define SL_DP_PRODUCERS_MAX         64u
#define SL_DP_PRODUCER_SCAN_OFFSETS (1ll << 20)
#define SL_DP_PRODUCER_SCAN_BYTES   (1u << 20) /* per sl_log_read while rebuilding */

struct sl_dp_producer_batch {
    int32_t first_sequence;
    int32_t last_sequence;
    int64_t base_offset;
    int64_t append_time_ms; /* LogAppendTime stamped on the batch, else -1 */
};

struct sl_dp_producer {
    int64_t producer_id; /* -1: free entry */
    int16_t epoch;
    uint8_t batch_count;
    uint8_t batch_next; /* ring position of the next batch to record */
    struct sl_dp_producer_batch batches[SL_DP_PRODUCER_BATCHES_MAX];
    uint64_t last_used; /* table clock; the smallest is evicted first */
};

struct sl_dp_producers {
    struct sl_dp_producer *entries; /* SL_DP_PRODUCERS_MAX, or NULL until needed */
    uint64_t clock;
    /* Rebuilding from the log after open. */
    bool loading;
    bool reading; /* an sl_log_read is in flight (its callback parses and releases) */
    struct sl_storage *storage;
    int64_t scan_next;
    int64_t scan_end;
    struct sl_log_read_result *scan; /* heap, while loading */
};

enum sl_dp_producer_verdict {
    SL_DP_PRODUCER_APPEND,    /* append (idempotent or not); record it afterwards */
    SL_DP_PRODUCER_DUPLICATE, /* a retry of a batch already in the log: *dup_base_offset */
    SL_DP_PRODUCER_LOADING,   /* state not rebuilt yet: retry later */
    SL_DP_PRODUCER_REFUSED,   /* *error_code: Kafka error */
};

/* Starts rebuilding the state of a log just opened on storage (nothing to do for an
 * empty log). Allocates the scan buffer (maintenance time, not the data path); returns
 * false when out of memory (the state then starts empty, as Kafka's for an unknown
 * producer). */
bool sl_dp_producers_open(struct sl_dp_producers *t, struct sl_storage *storage,
                          struct sl_log *log);

/* Advances the rebuild: issues the next read unless one is in flight (its callback
 * parses and releases the batches). Returns true while it still loads. */
bool sl_dp_producers_load_step(struct sl_dp_producers *t, struct sl_log *log);

/* Frees the table. Call after sl_log_close (which completes any read in flight). */
void sl_dp_producers_close(struct sl_dp_producers *t);

/* Decides what to do with the batches of one Produce partition. Non-idempotent batches
 * (producer id -1) always APPEND. An idempotent request must be exactly one batch
 * (REFUSED INVALID_RECORD otherwise, as Kafka requires for v3+), not transactional
 * (no transaction coordinator here). On DUPLICATE, *duplicate is the original batch as
 * recorded (its offset and append time are the answer to the retry). */
enum sl_dp_producer_verdict sl_dp_producer_check(struct sl_dp_producers *t,
                                                 const struct sl_batch_info *infos, uint32_t count,
                                                 struct sl_dp_producer_batch *duplicate,
                                                 int16_t *error_code);

/* Records an appended idempotent batch (info as validated, base_offset as assigned,
 * append_time_ms the LogAppendTime stamped on it or -1). Returns false when the table
 * could not be allocated (the batch is then not tracked). */
bool sl_dp_producer_record(struct sl_dp_producers *t, const struct sl_batch_info *info,
                           int64_t base_offset, int64_t append_time_ms);

/* Kafka's sequence arithmetic: sequences wrap from INT32_MAX to 0. */
int32_t sl_dp_producer_sequence_add(int32_t sequence, int32_t increment);

#ifdef __cplusplus
}
#endif

#endif
