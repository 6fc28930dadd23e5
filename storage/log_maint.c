/* Maintenance: retention, log start offset (DeleteRecords), truncation. These calls may
 * block on file-system operations; they run rarely, from a timer or an admin request. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/sl_assert.h"
#include "common/sl_compiler.h"
#include "storage/log_internal.h"

void sl_log_remove_segment_at(struct sl_log *log, uint32_t index)
{
    SL_ASSERT(index < log->segment_count);
    struct sl_segment *seg = log->segments[index];
    SL_ASSERT(!seg->write_op.in_flight && !seg->sync_op.in_flight);
    struct sl_storage *st = log->storage;
    /* Prepared reads may still name this fd: hand them to the kernel before closing it. */
    sl_storage_submit(st);
    sl_cache_invalidate(&st->cache, seg->id, 0);
    sl_segment_delete_files(log, seg);
    if (!seg->settled) {
        SL_ASSERT(log->unsettled_count > 0);
        log->unsettled_count--;
    }
    log->size_bytes -= seg->size_bytes;
    sl_segment_free(seg);
    memmove(&log->segments[index], &log->segments[index + 1],
            sizeof(log->segments[0]) * (log->segment_count - index - 1));
    log->segment_count--;
    log->counters.segments_deleted++;
}

static void delete_oldest(struct sl_log *log, struct sl_log_retention_report *report)
{
    struct sl_segment *seg = log->segments[0];
    report->segments_deleted++;
    report->bytes_deleted += seg->size_bytes;
    sl_log_remove_segment_at(log, 0);
    log->log_start_offset = SL_MAX(log->log_start_offset, log->segments[0]->base_offset);
    log->high_watermark = SL_MAX(log->high_watermark, log->log_start_offset);
    sl_epochs_truncate_from_start(log, log->log_start_offset);
}

enum sl_storage_err sl_log_enforce_retention(struct sl_log *log, int64_t now_ms,
                                             struct sl_log_retention_report *report)
{
    struct sl_log_retention_report local;
    if (report == NULL)
        report = &local;
    memset(report, 0, sizeof(*report));
    /* Only whole, settled (written, synced, closed) segments go, oldest first. */
    while (log->segment_count > 1 && log->segments[0]->settled) {
        struct sl_segment *seg = log->segments[0];
        bool too_old =
            log->config.retention_ms >= 0 && seg->max_timestamp < now_ms - log->config.retention_ms;
        bool too_big = log->config.retention_bytes >= 0 &&
                       log->size_bytes - seg->size_bytes >= (uint64_t)log->config.retention_bytes;
        bool below_start = seg->next_offset <= log->log_start_offset;
        if (!too_old && !too_big && !below_start)
            break;
        delete_oldest(log, report);
    }
    report->log_start_offset = log->log_start_offset;
    return SL_STORAGE_OK;
}

enum sl_storage_err sl_log_advance_start_offset(struct sl_log *log, int64_t offset,
                                                struct sl_log_retention_report *report)
{
    struct sl_log_retention_report local;
    if (report == NULL)
        report = &local;
    memset(report, 0, sizeof(*report));
    if (offset > log->log_end_offset)
        return SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE;
    if (offset > log->log_start_offset) {
        log->log_start_offset = offset;
        log->high_watermark = SL_MAX(log->high_watermark, offset);
        sl_epochs_truncate_from_start(log, offset);
    }
    while (log->segment_count > 1 && log->segments[0]->settled &&
           log->segments[0]->next_offset <= log->log_start_offset)
        delete_oldest(log, report);
    report->log_start_offset = log->log_start_offset;
    /* DeleteRecords answers only after the new start is persistent. */
    return sl_log_write_checkpoints(log);
}

enum sl_storage_err sl_log_truncate_to(struct sl_log *log, int64_t offset)
{
    if (offset < log->log_start_offset || offset > log->log_end_offset)
        return SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE;
    if (offset == log->log_end_offset)
        return SL_STORAGE_OK;
    if (!sl_log_wait_io(log, true))
        return log->failure;
    struct sl_storage *st = log->storage;
    SL_ASSERT(log->pending_count == 0);
    uint32_t keep = sl_log_find_segment(log, offset);
    uint64_t size_before = log->size_bytes;
    struct sl_segment *seg = log->segments[keep];
    /* The kept segment becomes the active one: its indexes need their full room again.
     * Done first so that running out of memory changes nothing. */
    if (sl_index_set_capacity(&seg->offset_index,
                              log->config.segment_index_bytes / SL_OFFSET_INDEX_ENTRY_BYTES) != 0 ||
        sl_index_set_capacity(&seg->time_index,
                              log->config.segment_index_bytes / SL_TIME_INDEX_ENTRY_BYTES + 1) != 0)
        return SL_STORAGE_ERR_NO_MEMORY;
    while (log->segment_count > keep + 1)
        sl_log_remove_segment_at(log, log->segment_count - 1);
    uint32_t old_size = seg->size_bytes;
    /* Rebuild the kept segment's indexes and size up to the first batch >= offset. */
    struct sl_scan_result scan;
    int rc = sl_segment_scan(log, seg, false, offset, false, &scan);
    if (rc == 0 && ftruncate(seg->fd, seg->size_bytes) != 0)
        rc = -errno;
    if (rc == 0 && fdatasync(seg->fd) != 0)
        rc = -errno;
    if (rc != 0) {
        log->failure = sl_storage_err_from_errno(rc);
        return log->failure;
    }
    sl_cache_invalidate(&st->cache, seg->id, 0);
    log->size_bytes -= old_size - seg->size_bytes;
    if (seg->sealed) { /* a closed segment becomes the active one again */
        seg->sealed = seg->truncated_on_disk = false;
        if (seg->settled) {
            seg->settled = false;
            log->unsettled_count++;
        }
    }
    seg->written_bytes = seg->size_bytes;
    seg->needs_sync = false;
    rc = sl_segment_load_tail(log, seg);
    if (rc != 0) {
        log->failure = rc == -ENOBUFS ? SL_STORAGE_ERR_NO_BUFFER : sl_storage_err_from_errno(rc);
        return log->failure;
    }
    log->log_end_offset = seg->next_offset;
    log->written_end_offset = log->durable_end_offset = log->log_end_offset;
    sl_epochs_truncate_from_end(log, log->log_end_offset);
    log->sync_target_offset = SL_MIN(log->sync_target_offset, log->log_end_offset);
    log->high_watermark = SL_MIN(log->high_watermark, log->log_end_offset);
    log->unflushed_messages = 0;
    log->counters.truncations++;
    log->counters.truncated_bytes += size_before - log->size_bytes;
    /* The old recovery point may lie past the cut: segments rewritten from here must not
     * be trusted by a recovery after a crash, so record the new one now. */
    return sl_log_write_checkpoints(log);
}
