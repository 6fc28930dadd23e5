/* Append path: validation, offset assignment, tail-buffer copy, O_DIRECT writes of dirty
 * pages, group-committed fdatasync, segment rolls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sl_assert.h"
#include "common/sl_bytes.h"
#include "common/sl_clock.h"
#include "common/sl_compiler.h"
#include "storage/log_internal.h"
#include "storage/stream_copy.h"

static struct sl_segment *active_segment(const struct sl_log *log)
{
    SL_ASSERT(log->segment_count > 0);
    return log->segments[log->segment_count - 1];
}

static void log_fail(struct sl_log *log, enum sl_storage_err err)
{
    if (log->failure != SL_STORAGE_OK)
        return;
    log->failure = err;
    log->counters.io_errors++;
    if (log->callbacks.progress != NULL)
        log->callbacks.progress(log->callbacks.ctx, log, log->written_end_offset,
                                log->durable_end_offset, err);
}

void sl_log_report_progress(struct sl_log *log)
{
    if (log->callbacks.progress != NULL)
        log->callbacks.progress(log->callbacks.ctx, log, log->written_end_offset,
                                log->durable_end_offset, SL_STORAGE_OK);
}

/* Copies len bytes to file position pos of the segment's DIRTY chunks. */
static void copy_into(struct sl_log *log, struct sl_segment *seg, uint32_t pos, const uint8_t *src,
                      uint32_t len)
{
    struct sl_storage *st = log->storage;
    uint32_t cb = st->config.chunk_bytes;
    while (len > 0) {
        uint32_t index = pos / cb;
        uint32_t at = pos % cb;
        uint32_t n = SL_MIN(len, cb - at);
        struct sl_cache_entry *e = sl_cache_lookup(&st->cache, seg->id, index);
        SL_ASSERT(e != NULL && e->state == SL_CACHE_DIRTY);
        sl_stream_copy(e->chunk + at, src, n);
        e->valid_bytes = SL_MAX(e->valid_bytes, at + n);
        if (log->tail_journaled)
            sl_tail_journal_valid(st->journal, sl_mem_pool_chunk_index(&st->pool, e->chunk),
                                  e->valid_bytes);
        pos += n;
        src += n;
        len -= n;
    }
}

/* The O_DIRECT write sends whole pages, so the rest of the page holding the segment's
 * end reaches the disk as padding and must be zero. Zeroing just that after each append
 * (instead of a whole chunk when it is taken) keeps an append to one pass over its bytes;
 * every other byte below the end was written by an append. */
static void zero_tail_page_padding(struct sl_log *log, const struct sl_segment *seg)
{
    uint32_t cb = log->storage->config.chunk_bytes;
    uint32_t at = seg->size_bytes % cb;
    if (at == 0 || at % SL_MEM_PAGE_BYTES == 0)
        return;
    struct sl_cache_entry *e = sl_cache_lookup(&log->storage->cache, seg->id, seg->size_bytes / cb);
    SL_ASSERT(e != NULL && e->state == SL_CACHE_DIRTY && e->valid_bytes == at);
    uint32_t page_end = SL_MIN((uint32_t)SL_ALIGN_UP(at, (uint32_t)SL_MEM_PAGE_BYTES), cb);
    memset(e->chunk + at, 0, page_end - at);
}

/* Makes sure DIRTY chunks cover [seg->size_bytes, +len): all or nothing. */
static enum sl_storage_err reserve_chunks(struct sl_log *log, struct sl_segment *seg, uint64_t len)
{
    struct sl_storage *st = log->storage;
    uint32_t cb = st->config.chunk_bytes;
    uint64_t first = seg->size_bytes / cb;
    uint64_t last = (seg->size_bytes + len - 1) / cb;
    for (uint64_t i = first; i <= last; i++) {
        if (sl_cache_lookup(&st->cache, seg->id, (uint32_t)i) != NULL)
            continue;
        struct sl_cache_entry *e =
            sl_cache_insert(&st->cache, seg->id, (uint32_t)i, SL_CACHE_DIRTY);
        if (e == NULL) {
            for (uint64_t j = i; j-- > first;) {
                struct sl_cache_entry *undo = sl_cache_lookup(&st->cache, seg->id, (uint32_t)j);
                if (undo != NULL && j * cb >= seg->size_bytes && undo->valid_bytes == 0)
                    sl_cache_remove(&st->cache, undo);
            }
            return SL_STORAGE_ERR_NO_BUFFER;
        }
        /* Not zeroed here: copy_into zeroes the padding of the last page it writes. */
        sl_segment_journal_dirty(log, seg, e);
    }
    return SL_STORAGE_OK;
}

/* message.timestamp.type=LogAppendTime, as Kafka does it: the broker's wall clock becomes
 * the batch's maxTimestamp, which consumers then report for every record, and the attributes
 * say so. Both fields are under the CRC, so it is computed again: from the source, still
 * in cache after validation, with the two fields replaced (the copy in the tail chunk was
 * written with streaming stores and may span chunks). Records are not touched. */
static void stamp_log_append_time(struct sl_log *log, struct sl_segment *seg, uint32_t pos,
                                  const uint8_t *src, struct sl_batch_info *info,
                                  int64_t append_time_ms)
{
    uint8_t head[SL_BATCH_HEADER_BYTES - SL_BATCH_OFF_ATTRIBUTES];
    memcpy(head, src + SL_BATCH_OFF_ATTRIBUTES, sizeof(head));
    info->attributes = (int16_t)(info->attributes | SL_BATCH_ATTR_TIMESTAMP_LOG_APPEND);
    info->max_timestamp = append_time_ms;
    sl_store_be16(head, (uint16_t)info->attributes);
    sl_store_be64(head + (SL_BATCH_OFF_MAX_TIMESTAMP - SL_BATCH_OFF_ATTRIBUTES),
                  (uint64_t)append_time_ms);
    uint32_t crc = sl_batch_crc32c(head, sizeof(head));
    crc = sl_batch_crc32c_extend(crc, src + SL_BATCH_HEADER_BYTES,
                                 info->size_bytes - SL_BATCH_HEADER_BYTES);
    info->crc = crc;
    uint8_t crc_bytes[4];
    sl_store_be32(crc_bytes, crc);
    copy_into(log, seg, pos + SL_BATCH_OFF_CRC, crc_bytes, sizeof(crc_bytes));
    copy_into(log, seg, pos + SL_BATCH_OFF_ATTRIBUTES, head, sizeof(head));
}

static bool needs_roll(const struct sl_log *log, const struct sl_segment *seg, size_t len,
                       int64_t records, int64_t now_ms)
{
    if (seg->size_bytes == 0)
        return false;
    if ((uint64_t)seg->size_bytes + len > log->config.segment_bytes)
        return true;
    if (now_ms - seg->created_ms >= log->config.segment_ms)
        return true;
    if (sl_index_full(&seg->offset_index) || seg->time_index.count + 1 >= seg->time_index.capacity)
        return true;
    return log->log_end_offset + records - seg->base_offset > INT32_MAX;
}

void sl_log_seal(struct sl_log *log, struct sl_segment *seg)
{
    SL_ASSERT(!seg->sealed);
    seg->sealed = true;
    sl_segment_finish_time_index(seg);
    int rc = sl_segment_save_indexes(log, seg);
    if (rc != 0)
        log_fail(log, sl_storage_err_from_errno(rc));
    /* A sealed segment's indexes never grow again: give the unused room back (a shrinking
     * realloc cannot fail in a way that loses data; on failure the old block stays). */
    (void)sl_index_set_capacity(&seg->offset_index, seg->offset_index.count);
    (void)sl_index_set_capacity(&seg->time_index, seg->time_index.count);
}

/* The sealed segment's file now ends at its logical end: its last chunk is clean, and the
 * fdatasync that settles it can go. */
static void sealed_truncated(struct sl_log *log, struct sl_segment *seg)
{
    struct sl_storage *st = log->storage;
    uint32_t cb = st->config.chunk_bytes;
    if (seg->size_bytes > 0) {
        struct sl_cache_entry *e = sl_cache_lookup(&st->cache, seg->id, (seg->size_bytes - 1) / cb);
        if (e != NULL && e->state == SL_CACHE_DIRTY)
            sl_cache_mark_written(&st->cache, e);
    }
    struct sl_cache_entry *e = sl_cache_lookup(&st->cache, seg->id, seg->size_bytes / cb);
    if (e != NULL && e->state == SL_CACHE_DIRTY)
        sl_cache_remove(&st->cache, e); /* an empty tail chunk past the end */
    seg->truncated_on_disk = true;
    seg->needs_sync = true;
    log->settle_wanted = true;
    sl_storage_kick(log);
}

/* Once a sealed segment is fully written: cut the file to its logical size (the page
 * padding goes), then ask for the fdatasync that settles it. Through io_uring when the
 * kernel has IORING_OP_FTRUNCATE (6.9+), else a blocking ftruncate (once per segment). */
static void finish_sealed(struct sl_log *log, struct sl_segment *seg)
{
    if (!seg->sealed || seg->truncated_on_disk || seg->write_op.in_flight ||
        seg->truncate_op.in_flight || seg->written_bytes != seg->size_bytes ||
        log->failure != SL_STORAGE_OK)
        return;
    struct sl_storage *st = log->storage;
    if (st->async_ftruncate) {
        struct io_uring_sqe *sqe = sl_storage_get_sqe(st);
        if (sqe == NULL) {
            sl_storage_kick(log); /* sl_log_service tries again */
            return;
        }
        io_uring_prep_rw(SL_IORING_OP_FTRUNCATE, sqe, seg->fd, NULL, 0, seg->size_bytes);
        io_uring_sqe_set_data(sqe, &seg->truncate_op);
        seg->truncate_op.in_flight = true;
        log->io_in_flight++;
        return;
    }
    if (ftruncate(seg->fd, seg->size_bytes) != 0) {
        log_fail(log, sl_storage_err_from_errno(errno));
        return;
    }
    sealed_truncated(log, seg);
}

void sl_log_truncate_done(struct sl_segment *seg, int res)
{
    struct sl_log *log = seg->log;
    SL_ASSERT(log->io_in_flight > 0);
    log->io_in_flight--;
    if (res < 0) {
        log_fail(log, sl_storage_err_from_errno(res));
        return;
    }
    sealed_truncated(log, seg);
}

enum sl_storage_err sl_log_roll(struct sl_log *log, int64_t now_ms)
{
    if (log->segment_count == log->segment_capacity) {
        uint32_t capacity = log->segment_capacity * 2;
        struct sl_segment **bigger = realloc(log->segments, sizeof(*bigger) * capacity);
        if (bigger == NULL)
            return SL_STORAGE_ERR_NO_MEMORY;
        log->segments = bigger;
        log->segment_capacity = capacity;
    }
    struct sl_segment *seg = sl_segment_new(log, log->log_end_offset, now_ms);
    if (seg == NULL)
        return SL_STORAGE_ERR_NO_MEMORY;
    /* O_TRUNC: a stale file of that name may remain from before a truncation. */
    int rc = sl_segment_open_file(log, seg, true);
    if (rc == 0)
        rc = sl_segment_load_tail(log, seg);
    if (rc != 0) {
        sl_segment_delete_files(log, seg);
        sl_segment_free(seg);
        return rc == -ENOBUFS ? SL_STORAGE_ERR_NO_BUFFER : sl_storage_err_from_errno(rc);
    }
    struct sl_segment *old = active_segment(log);
    log->segments[log->segment_count++] = seg;
    log->unsettled_count++;
    sl_log_seal(log, old);
    finish_sealed(log, old);
    log->counters.segments_rolled++;
    return SL_STORAGE_OK;
}

static void pending_push(struct sl_log *log, struct sl_segment *seg, uint32_t end_bytes,
                         int64_t next_offset)
{
    SL_ASSERT(log->pending_count < log->config.pending_batches_max);
    uint32_t slot = (log->pending_head + log->pending_count) % log->config.pending_batches_max;
    log->pending[slot] = (struct sl_pending_batch){seg, end_bytes, next_offset};
    log->pending_count++;
}

static void pending_pop_written(struct sl_log *log)
{
    while (log->pending_count > 0) {
        struct sl_pending_batch *p = &log->pending[log->pending_head];
        if (p->segment->written_bytes < p->end_bytes)
            break;
        log->written_end_offset = p->next_offset;
        log->pending_head = (log->pending_head + 1) % log->config.pending_batches_max;
        log->pending_count--;
    }
}

enum sl_storage_err sl_log_append(struct sl_log *log, const uint8_t *buf, size_t len,
                                  const struct sl_batch_info *infos, uint32_t count,
                                  int32_t leader_epoch, int64_t now_ms,
                                  struct sl_log_append_result *result)
{
    SL_ASSERT(log != NULL && result != NULL);
    SL_ASSERT(buf != NULL || len == 0);
    if (log->failure != SL_STORAGE_OK)
        return log->failure;
    struct sl_batch_info local[SL_LOG_APPEND_BATCHES_MAX];
    if (infos == NULL) {
        enum sl_storage_err err = sl_batch_validate_all(buf, len, log->config.max_message_bytes,
                                                        local, SL_LOG_APPEND_BATCHES_MAX, &count);
        if (err != SL_STORAGE_OK) {
            log->counters.append_rejects++;
            return err;
        }
        infos = local;
    }
    SL_ASSERT(count > 0 && count <= SL_LOG_APPEND_BATCHES_MAX);
    int64_t records = 0;
    size_t total = 0;
    for (uint32_t i = 0; i < count; i++) {
        records += (int64_t)infos[i].last_offset_delta + 1;
        total += infos[i].size_bytes;
    }
    SL_ASSERT(total == len);
    if (len > log->config.segment_bytes) { /* Kafka: RECORD_LIST_TOO_LARGE */
        log->counters.append_rejects++;
        return SL_STORAGE_ERR_BATCH_TOO_LARGE;
    }
    if (log->pending_count + count > log->config.pending_batches_max) {
        log->counters.append_backpressure++;
        return SL_STORAGE_ERR_BUSY;
    }
    struct sl_segment *seg = active_segment(log);
    if (needs_roll(log, seg, len, records, now_ms)) {
        enum sl_storage_err err = sl_log_roll(log, now_ms);
        if (err != SL_STORAGE_OK) {
            if (err == SL_STORAGE_ERR_NO_BUFFER)
                log->counters.append_backpressure++;
            return err;
        }
        seg = active_segment(log);
    }
    enum sl_storage_err err = reserve_chunks(log, seg, len);
    if (err != SL_STORAGE_OK) {
        log->counters.append_backpressure++;
        return err;
    }

    /* now_ms is the caller's monotonic clock (segment ages); Kafka's LogAppendTime is the
     * wall clock, read once for every batch of the append. */
    int64_t append_time_ms = log->config.log_append_time ? sl_wall_clock_ms() : -1;
    uint32_t pos = seg->size_bytes;
    int64_t offset = log->log_end_offset;
    size_t at = 0;
    for (uint32_t i = 0; i < count; i++) {
        struct sl_batch_info info = infos[i];
        uint8_t patch[8];
        copy_into(log, seg, pos, buf + at, info.size_bytes);
        /* baseOffset and partitionLeaderEpoch are outside the CRC: patch the copy. */
        sl_store_be64(patch, (uint64_t)offset);
        copy_into(log, seg, pos + SL_BATCH_OFF_BASE_OFFSET, patch, 8);
        sl_store_be32(patch, (uint32_t)leader_epoch);
        copy_into(log, seg, pos + SL_BATCH_OFF_LEADER_EPOCH, patch, 4);
        if (log->config.log_append_time)
            stamp_log_append_time(log, seg, pos, buf + at, &info, append_time_ms);
        info.base_offset = offset;
        info.partition_leader_epoch = leader_epoch;
        sl_segment_note_batch(log, seg, &info, pos);
        pos += info.size_bytes;
        at += info.size_bytes;
        offset += (int64_t)info.last_offset_delta + 1;
        seg->size_bytes = pos;
        pending_push(log, seg, pos, offset);
    }
    zero_tail_page_padding(log, seg);
    SL_ASSERT(seg->next_offset == offset);

    result->base_offset = log->log_end_offset;
    result->last_offset = offset - 1;
    log->log_end_offset = offset;
    log->size_bytes += len;
    log->unflushed_messages += records;
    result->wait_for_durable = false;
    if (log->unflushed_messages >= log->config.flush_messages) {
        log->sync_target_offset = offset;
        log->unflushed_messages = 0;
        result->wait_for_durable = true;
    }
    result->log_append_time_ms = append_time_ms;
    result->log_start_offset = log->log_start_offset;
    result->log_end_offset = offset;
    result->batch_count = count;
    log->counters.appends++;
    log->counters.append_batches += count;
    log->counters.append_bytes += len;
    sl_storage_kick(log);
    if (log->tail_journaled)
        sl_log_report_progress(log); /* safe already: acknowledgements and fetches may go */
    return SL_STORAGE_OK;
}

void sl_log_flush(struct sl_log *log)
{
    log->sync_target_offset = log->log_end_offset;
    log->unflushed_messages = 0;
    sl_storage_kick(log);
}

/* The registered buffer holding every iovec, or -1 if they are not all in one. */
static int fixed_index_of_all(const struct sl_storage *st, const struct iovec *iovs, uint32_t n)
{
    int fixed = -1;
    for (uint32_t i = 0; i < n; i++) {
        int index = sl_storage_fixed_index(st, iovs[i].iov_base, iovs[i].iov_len);
        if (index < 0 || (i > 0 && index != fixed))
            return -1;
        fixed = index;
    }
    return fixed;
}

/* Submits one O_DIRECT write of the segment's dirty pages, from the page holding the
 * written end (rewriting the partial tail page) to the page after the logical end. */
static bool submit_write(struct sl_log *log, struct sl_segment *seg)
{
    struct sl_storage *st = log->storage;
    uint32_t cb = st->config.chunk_bytes;
    uint32_t start = SL_ALIGN_DOWN(seg->written_bytes, SL_MEM_PAGE_BYTES);
    uint64_t end = SL_ALIGN_UP((uint64_t)seg->size_bytes, SL_MEM_PAGE_BYTES);
    uint32_t first = start / cb;
    uint64_t last = (end - 1) / cb;
    if (last - first + 1 > SL_SEGMENT_WRITE_IOVS_MAX) {
        last = first + SL_SEGMENT_WRITE_IOVS_MAX - 1;
        end = (last + 1) * cb;
    }
    uint32_t n = 0;
    for (uint64_t i = first; i <= last; i++) {
        struct sl_cache_entry *e = sl_cache_lookup(&st->cache, seg->id, (uint32_t)i);
        SL_ASSERT(e != NULL && e->state == SL_CACHE_DIRTY);
        uint64_t chunk_start = i * cb;
        uint64_t from = SL_MAX((uint64_t)start, chunk_start);
        uint64_t to = SL_MIN(end, chunk_start + cb);
        seg->iovs[n].iov_base = e->chunk + (from - chunk_start);
        seg->iovs[n].iov_len = to - from;
        n++;
    }
    struct io_uring_sqe *sqe = sl_storage_get_sqe(st);
    if (sqe == NULL)
        return false;
    int fixed = fixed_index_of_all(st, seg->iovs, n);
    if (fixed >= 0 && n == 1) {
        st->stats.fixed_io++;
        io_uring_prep_write_fixed(sqe, seg->fd, seg->iovs[0].iov_base,
                                  (unsigned)seg->iovs[0].iov_len, start, fixed);
    } else if (fixed >= 0 && st->writev_fixed) {
        /* A write usually spans two chunks (batches do not end on chunk boundaries); without
         * this, pinning their pages on every write cost about 7 % of the shard's CPU. */
        st->stats.fixed_io++;
        io_uring_prep_rw(SL_IORING_OP_WRITEV_FIXED, sqe, seg->fd, seg->iovs, n, start);
        sqe->buf_index = (uint16_t)fixed;
    } else {
        io_uring_prep_writev(sqe, seg->fd, seg->iovs, n, start);
    }
    io_uring_sqe_set_data(sqe, &seg->write_op);
    seg->write_op.in_flight = true;
    seg->write_start_bytes = start;
    seg->write_end_bytes = (uint32_t)SL_MIN(end, (uint64_t)seg->size_bytes);
    log->io_in_flight++;
    log->counters.writes++;
    log->counters.write_bytes += end - start;
    return true;
}

static bool start_sync_round(struct sl_log *log)
{
    if (log->sync_round_in_flight)
        return true;
    bool wanted = log->settle_wanted || (log->sync_target_offset > log->durable_end_offset &&
                                         log->written_end_offset > log->durable_end_offset);
    if (!wanted)
        return true;
    struct sl_storage *st = log->storage;
    log->sync_round_candidate = log->written_end_offset;
    log->sync_round_pending = 0;
    bool complete = true;
    uint32_t remaining = log->unsettled_count;
    for (uint32_t i = log->segment_count; i-- > 0 && remaining > 0;) {
        struct sl_segment *seg = log->segments[i];
        if (seg->settled)
            continue;
        remaining--;
        if (!seg->needs_sync || seg->sync_op.in_flight)
            continue;
        struct io_uring_sqe *sqe = sl_storage_get_sqe(st);
        if (sqe == NULL) {
            complete = false;
            break;
        }
        io_uring_prep_fsync(sqe, seg->fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_data(sqe, &seg->sync_op);
        seg->sync_op.in_flight = true;
        seg->needs_sync = false;
        log->sync_round_pending++;
        log->io_in_flight++;
    }
    if (!complete) {
        /* Durability cannot be claimed for this round: remember by lowering it. */
        log->sync_round_candidate = log->durable_end_offset;
    }
    if (log->sync_round_pending == 0) {
        if (log->sync_round_candidate > log->durable_end_offset) {
            log->durable_end_offset = log->sync_round_candidate;
            sl_log_report_progress(log);
        }
        return complete;
    }
    log->sync_round_in_flight = true;
    return complete;
}

void sl_log_service(struct sl_log *log, int64_t now_ms)
{
    if (log->failure != SL_STORAGE_OK)
        return;
    bool requeue = false;
    uint32_t remaining = log->unsettled_count;
    for (uint32_t i = log->segment_count; i-- > 0 && remaining > 0;) {
        struct sl_segment *seg = log->segments[i];
        if (seg->settled)
            continue;
        remaining--;
        if (!seg->write_op.in_flight && seg->written_bytes < seg->size_bytes &&
            !submit_write(log, seg))
            requeue = true;
        finish_sealed(log, seg);
    }
    if (log->config.flush_ms != INT64_MAX && log->durable_end_offset < log->log_end_offset) {
        if (now_ms - log->last_sync_ms >= log->config.flush_ms)
            log->sync_target_offset = log->log_end_offset;
        else
            requeue = true; /* the flush.ms timer is still running */
    }
    if (!start_sync_round(log))
        requeue = true;
    if (requeue)
        sl_storage_kick(log);
}

static void mark_written_chunks(struct sl_log *log, struct sl_segment *seg, uint32_t from)
{
    struct sl_storage *st = log->storage;
    uint32_t cb = st->config.chunk_bytes;
    for (uint32_t i = from / cb; (uint64_t)(i + 1) * cb <= seg->written_bytes; i++) {
        struct sl_cache_entry *e = sl_cache_lookup(&st->cache, seg->id, i);
        if (e != NULL && e->state == SL_CACHE_DIRTY)
            sl_cache_mark_written(&st->cache, e);
    }
}

void sl_log_write_done(struct sl_segment *seg, int res)
{
    struct sl_log *log = seg->log;
    SL_ASSERT(log->io_in_flight > 0);
    log->io_in_flight--;
    if (res < 0) {
        log_fail(log, sl_storage_err_from_errno(res));
        return;
    }
    uint64_t end = (uint64_t)seg->write_start_bytes + (uint64_t)res;
    uint32_t new_written = (uint32_t)SL_MIN(end, (uint64_t)seg->write_end_bytes);
    if (new_written > seg->written_bytes) {
        uint32_t before = seg->written_bytes;
        seg->written_bytes = new_written;
        seg->needs_sync = true;
        mark_written_chunks(log, seg, before);
    }
    int64_t written_before = log->written_end_offset;
    pending_pop_written(log);
    finish_sealed(log, seg);
    sl_storage_kick(log);
    if (log->written_end_offset > written_before)
        sl_log_report_progress(log);
}

void sl_log_sync_done(struct sl_segment *seg, int res)
{
    struct sl_log *log = seg->log;
    SL_ASSERT(log->io_in_flight > 0 && log->sync_round_pending > 0);
    log->io_in_flight--;
    log->sync_round_pending--;
    if (res < 0) {
        seg->needs_sync = true;
        log_fail(log, sl_storage_err_from_errno(res));
    }
    if (log->sync_round_pending > 0)
        return;
    log->sync_round_in_flight = false;
    log->last_sync_ms = log->storage->now_ms;
    log->counters.syncs++;
    if (log->failure != SL_STORAGE_OK)
        return;
    bool still_unsettled = false;
    uint32_t remaining = log->unsettled_count;
    for (uint32_t i = log->segment_count; i-- > 0 && remaining > 0;) {
        struct sl_segment *s = log->segments[i];
        if (s->settled)
            continue;
        remaining--;
        if (s->sealed && s->truncated_on_disk && !s->needs_sync && !s->sync_op.in_flight) {
            s->settled = true;
            log->unsettled_count--;
        } else if (s->sealed) {
            still_unsettled = true;
        }
    }
    log->settle_wanted = still_unsettled;
    sl_storage_kick(log);
    if (log->sync_round_candidate > log->durable_end_offset) {
        log->durable_end_offset = log->sync_round_candidate;
        sl_log_report_progress(log);
    }
}
