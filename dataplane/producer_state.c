/* Idempotent-producer state of a partition; see producer_state.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sl_assert.h"
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/producer_state.h"

int32_t sl_dp_producer_sequence_add(int32_t sequence, int32_t increment)
{
    SL_ASSERT(sequence >= 0 && increment >= 0);
    if (sequence > INT32_MAX - increment)
        return increment - (INT32_MAX - sequence) - 1;
    return sequence + increment;
}

static struct sl_dp_producer *find(struct sl_dp_producers *t, int64_t producer_id)
{
    if (t->entries == NULL)
        return NULL;
    for (uint32_t i = 0; i < SL_DP_PRODUCERS_MAX; i++) {
        if (t->entries[i].producer_id == producer_id)
            return &t->entries[i];
    }
    return NULL;
}

/* A free entry, or the least recently used one (forgotten). */
static struct sl_dp_producer *take_entry(struct sl_dp_producers *t)
{
    struct sl_dp_producer *victim = &t->entries[0];
    for (uint32_t i = 0; i < SL_DP_PRODUCERS_MAX; i++) {
        struct sl_dp_producer *e = &t->entries[i];
        if (e->producer_id < 0)
            return e;
        if (e->last_used < victim->last_used)
            victim = e;
    }
    return victim;
}

bool sl_dp_producer_record(struct sl_dp_producers *t, const struct sl_batch_info *info,
                           int64_t base_offset, int64_t append_time_ms)
{
    SL_ASSERT(info->producer_id >= 0);
    if (t->entries == NULL) {
        /* Once per partition, bounded by SL_DP_PRODUCERS_MAX. */
        t->entries = calloc(SL_DP_PRODUCERS_MAX, sizeof(*t->entries));
        if (t->entries == NULL)
            return false;
        for (uint32_t i = 0; i < SL_DP_PRODUCERS_MAX; i++)
            t->entries[i].producer_id = -1;
    }
    struct sl_dp_producer *e = find(t, info->producer_id);
    if (e == NULL) {
        e = take_entry(t);
        memset(e, 0, sizeof(*e));
        e->producer_id = info->producer_id;
        e->epoch = info->producer_epoch;
    } else if (info->producer_epoch > e->epoch) {
        e->epoch = info->producer_epoch; /* a new epoch starts its sequences over */
        e->batch_count = 0;
        e->batch_next = 0;
    } else if (info->producer_epoch < e->epoch) {
        return true; /* fenced data (only seen while rebuilding): nothing to remember */
    }
    struct sl_dp_producer_batch *b = &e->batches[e->batch_next];
    b->first_sequence = info->base_sequence;
    b->last_sequence = sl_dp_producer_sequence_add(info->base_sequence, info->last_offset_delta);
    b->base_offset = base_offset;
    b->append_time_ms = append_time_ms;
    e->batch_next = (uint8_t)((e->batch_next + 1) % SL_DP_PRODUCER_BATCHES_MAX);
    if (e->batch_count < SL_DP_PRODUCER_BATCHES_MAX)
        e->batch_count++;
    e->last_used = ++t->clock;
    return true;
}

enum sl_dp_producer_verdict sl_dp_producer_check(struct sl_dp_producers *t,
                                                 const struct sl_batch_info *infos, uint32_t count,
                                                 struct sl_dp_producer_batch *duplicate,
                                                 int16_t *error_code)
{
    bool idempotent = false;
    for (uint32_t i = 0; i < count; i++)
        idempotent = idempotent || infos[i].producer_id >= 0;
    if (!idempotent)
        return SL_DP_PRODUCER_APPEND;
    const struct sl_batch_info *info = &infos[0];
    if (count != 1 || sl_batch_is_transactional(info)) {
        *error_code = SL_KAFKA_ERR_INVALID_RECORD;
        return SL_DP_PRODUCER_REFUSED;
    }
    if (t->loading)
        return SL_DP_PRODUCER_LOADING;
    struct sl_dp_producer *e = find(t, info->producer_id);
    if (e == NULL)
        return SL_DP_PRODUCER_APPEND; /* unknown producer: any sequence starts it */
    e->last_used = ++t->clock;
    if (info->producer_epoch < e->epoch) {
        *error_code = SL_KAFKA_ERR_INVALID_PRODUCER_EPOCH;
        return SL_DP_PRODUCER_REFUSED;
    }
    if (info->producer_epoch > e->epoch) {
        if (info->base_sequence != 0) {
            *error_code = SL_KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
            return SL_DP_PRODUCER_REFUSED;
        }
        return SL_DP_PRODUCER_APPEND;
    }
    int32_t first = info->base_sequence;
    int32_t last = sl_dp_producer_sequence_add(first, info->last_offset_delta);
    for (uint32_t i = 0; i < e->batch_count; i++) {
        const struct sl_dp_producer_batch *b = &e->batches[i];
        if (b->first_sequence == first && b->last_sequence == last) {
            *duplicate = *b;
            return SL_DP_PRODUCER_DUPLICATE;
        }
    }
    if (e->batch_count == 0)
        return SL_DP_PRODUCER_APPEND;
    uint32_t latest = (e->batch_next + SL_DP_PRODUCER_BATCHES_MAX - 1) % SL_DP_PRODUCER_BATCHES_MAX;
    if (first != sl_dp_producer_sequence_add(e->batches[latest].last_sequence, 1)) {
        *error_code = SL_KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
        return SL_DP_PRODUCER_REFUSED;
    }
    return SL_DP_PRODUCER_APPEND;
}

/* ---- rebuilding from the log ---- */

static void load_finish(struct sl_dp_producers *t)
{
    free(t->scan);
    t->scan = NULL;
    t->loading = false;
}

/* Remembers the idempotent batches of a read result, releases it, moves the scan on. */
static void parse_result(struct sl_dp_producers *t, struct sl_log_read_result *result)
{
    for (uint32_t si = 0; si < result->slice_count; si++) {
        const uint8_t *data = result->slices[si].data;
        uint32_t len = result->slices[si].len;
        uint32_t pos = 0;
        while (pos < len) {
            struct sl_batch_info info;
            if (sl_batch_parse_header(data + pos, len - pos, &info) != SL_STORAGE_OK ||
                info.size_bytes > len - pos)
                break; /* slices hold whole stored batches; stop rather than guess */
            if (info.producer_id >= 0 && !sl_batch_is_control(&info) &&
                !sl_dp_producer_record(t, &info, info.base_offset,
                                       (info.attributes & SL_BATCH_ATTR_TIMESTAMP_LOG_APPEND)
                                           ? info.max_timestamp
                                           : -1)) {
                fprintf(stderr, "sluiced: producer state: out of memory\n");
                break;
            }
            pos += info.size_bytes;
        }
    }
    int64_t next = result->next_offset;
    bool progressed = result->batch_count > 0 && next > t->scan_next;
    sl_log_read_release(t->storage, result);
    if (!progressed) {
        load_finish(t);
        return;
    }
    t->scan_next = next;
}

static void on_scan_read(void *ctx, struct sl_log *log, struct sl_log_read_result *result)
{
    struct sl_dp_producers *t = ctx;
    t->reading = false;
    if (result->err == SL_STORAGE_OK) {
        parse_result(t, result);
    } else if (result->err != SL_STORAGE_ERR_BUSY && result->err != SL_STORAGE_ERR_NO_BUFFER) {
        fprintf(stderr, "sluiced: %s: producer state rebuild stopped: %s\n", sl_log_path(log),
                sl_storage_strerror(result->err));
        load_finish(t);
    } /* else load_step reads again on its next call */
}

bool sl_dp_producers_open(struct sl_dp_producers *t, struct sl_storage *storage, struct sl_log *log)
{
    memset(t, 0, sizeof(*t));
    t->storage = storage;
    int64_t end = sl_log_end_offset(log);
    int64_t start = sl_log_start_offset(log);
    if (end <= start)
        return true;
    t->scan = calloc(1, sizeof(*t->scan));
    if (t->scan == NULL)
        return false;
    t->scan_next =
        end - start > SL_DP_PRODUCER_SCAN_OFFSETS ? end - SL_DP_PRODUCER_SCAN_OFFSETS : start;
    t->scan_end = end;
    t->loading = true;
    return true;
}

bool sl_dp_producers_load_step(struct sl_dp_producers *t, struct sl_log *log)
{
    if (!t->loading)
        return false;
    if (t->reading)
        return true;
    if (t->scan_next >= t->scan_end) {
        load_finish(t);
        return false;
    }
    memset(t->scan, 0, sizeof(*t->scan));
    enum sl_storage_err err = sl_log_read(log, t->scan_next, t->scan_end, SL_DP_PRODUCER_SCAN_BYTES,
                                          t->scan, on_scan_read, t);
    switch (err) {
    case SL_STORAGE_IN_PROGRESS:
        t->reading = true;
        return true;
    case SL_STORAGE_OK:
        parse_result(t, t->scan);
        return t->loading;
    case SL_STORAGE_ERR_BUSY:
    case SL_STORAGE_ERR_NO_BUFFER:
        return true; /* no read slot or chunk right now: next pass */
    case SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE:
        if (t->scan_next < sl_log_start_offset(log)) {
            t->scan_next = sl_log_start_offset(log); /* DeleteRecords or retention */
            return true;
        }
        load_finish(t);
        return false;
    default:
        fprintf(stderr, "sluiced: %s: producer state rebuild stopped: %s\n", sl_log_path(log),
                sl_storage_strerror(err));
        load_finish(t);
        return false;
    }
}

void sl_dp_producers_close(struct sl_dp_producers *t)
{
    SL_ASSERT(!t->reading);
    free(t->scan);
    free(t->entries);
    memset(t, 0, sizeof(*t));
}
