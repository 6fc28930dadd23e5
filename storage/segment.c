/* Segment files: naming, creation, index upkeep, tail loading and scanning. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sl_assert.h"
#include "common/sl_compiler.h"
#include "storage/log_internal.h"

/* Scans read this much at a time (buffered, at open/truncate only). */
#define SCAN_BUFFER_BYTES (1024u * 1024u)

void sl_segment_file_path(const struct sl_log *log, int64_t base_offset, const char *suffix,
                          char *out)
{
    int n = snprintf(out, SL_PATH_BYTES, "%s/%020" PRId64 "%s", log->path, base_offset, suffix);
    SL_ASSERT(n > 0 && (size_t)n < SL_PATH_BYTES); /* log->path length is checked at open */
}

struct sl_segment *sl_segment_new(struct sl_log *log, int64_t base_offset, int64_t now_ms)
{
    struct sl_segment *seg = calloc(1, sizeof(*seg));
    if (seg == NULL)
        return NULL;
    uint32_t index_entries = log->config.segment_index_bytes / SL_OFFSET_INDEX_ENTRY_BYTES;
    /* +1: sealing appends a final time index entry even when the index is full. */
    uint32_t time_entries = log->config.segment_index_bytes / SL_TIME_INDEX_ENTRY_BYTES + 1;
    if (sl_index_init(&seg->offset_index, SL_OFFSET_INDEX_ENTRY_BYTES, index_entries) != 0)
        goto free_seg;
    if (sl_index_init(&seg->time_index, SL_TIME_INDEX_ENTRY_BYTES, time_entries) != 0)
        goto free_offset_index;
    seg->id = log->storage->next_segment_id++;
    seg->log = log;
    seg->base_offset = base_offset;
    seg->next_offset = base_offset;
    seg->max_timestamp = -1;
    seg->max_timestamp_offset = base_offset;
    seg->created_ms = now_ms;
    seg->fd = -1;
    seg->write_op.kind = SL_IO_WRITE;
    seg->write_op.owner = seg;
    seg->sync_op.kind = SL_IO_SYNC;
    seg->sync_op.owner = seg;
    seg->truncate_op.kind = SL_IO_TRUNCATE;
    seg->truncate_op.owner = seg;
    return seg;

free_offset_index:
    sl_index_fini(&seg->offset_index);
free_seg:
    free(seg);
    return NULL;
}

void sl_segment_free(struct sl_segment *segment)
{
    if (segment == NULL)
        return;
    SL_ASSERT(!segment->write_op.in_flight && !segment->sync_op.in_flight);
    SL_ASSERT(!segment->truncate_op.in_flight);
    if (segment->fd >= 0)
        close(segment->fd);
    sl_index_fini(&segment->offset_index);
    sl_index_fini(&segment->time_index);
    free(segment);
}

int sl_segment_open_file(struct sl_log *log, struct sl_segment *segment, bool create)
{
    struct sl_storage *st = log->storage;
    char path[SL_PATH_BYTES];
    sl_segment_file_path(log, segment->base_offset, ".log", path);
    int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
    int fd = -1;
    if (st->direct_io) {
        fd = open(path, flags | O_DIRECT, 0644);
        if (fd < 0 && errno == EINVAL) {
            /* tmpfs and a few others refuse O_DIRECT: keep working, buffered. */
            st->direct_io = false;
            if (!st->direct_io_warned) {
                fprintf(stderr, "sluice storage: O_DIRECT refused for %s, using buffered I/O\n",
                        path);
                st->direct_io_warned = true;
            }
        }
    }
    if (fd < 0 && !st->direct_io)
        fd = open(path, flags, 0644);
    if (fd < 0)
        return -errno;
    segment->fd = fd;
    return 0;
}

void sl_segment_note_batch(struct sl_log *log, struct sl_segment *segment,
                           const struct sl_batch_info *info, uint32_t position)
{
    /* Like Kafka: an index entry for the batch that starts once index.interval.bytes have
     * gone by since the last entry, and a time index entry beside it when the max
     * timestamp grew. */
    if (segment->bytes_since_index >= log->config.index_interval_bytes &&
        !sl_index_full(&segment->offset_index)) {
        uint32_t rel = (uint32_t)(info->base_offset - segment->base_offset);
        sl_offset_index_append(&segment->offset_index, rel, position);
        segment->bytes_since_index = 0;
        sl_segment_finish_time_index(segment);
    }
    segment->bytes_since_index += info->size_bytes;
    if (info->max_timestamp > segment->max_timestamp) {
        segment->max_timestamp = info->max_timestamp;
        segment->max_timestamp_offset = info->base_offset;
    }
    segment->next_offset = sl_batch_last_offset(info) + 1;
    sl_epochs_note(log, info->partition_leader_epoch, info->base_offset);
}

void sl_segment_finish_time_index(struct sl_segment *segment)
{
    if (segment->max_timestamp < 0 || sl_index_full(&segment->time_index))
        return;
    struct sl_index *ti = &segment->time_index;
    if (ti->count > 0) {
        int64_t last_ts;
        uint32_t last_rel;
        sl_time_index_entry(ti, ti->count - 1, &last_ts, &last_rel);
        if (segment->max_timestamp <= last_ts)
            return;
    }
    sl_time_index_append(ti, segment->max_timestamp,
                         (uint32_t)(segment->max_timestamp_offset - segment->base_offset));
}

int sl_segment_save_indexes(struct sl_log *log, struct sl_segment *segment)
{
    char path[SL_PATH_BYTES];
    sl_segment_file_path(log, segment->base_offset, ".index", path);
    int rc = sl_index_save(&segment->offset_index, path, false);
    if (rc != 0)
        return rc;
    sl_segment_file_path(log, segment->base_offset, ".timeindex", path);
    return sl_index_save(&segment->time_index, path, false);
}

void sl_segment_delete_files(struct sl_log *log, struct sl_segment *segment)
{
    static const char *const suffixes[] = {".log", ".index", ".timeindex"};
    char path[SL_PATH_BYTES];
    for (size_t i = 0; i < SL_ARRAY_LEN(suffixes); i++) {
        sl_segment_file_path(log, segment->base_offset, suffixes[i], path);
        (void)unlink(path);
    }
}

static int pread_full(int fd, uint8_t *buf, size_t len, uint64_t offset, size_t *got)
{
    *got = 0;
    while (*got < len) {
        ssize_t n = pread(fd, buf + *got, len - *got, (off_t)(offset + *got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return 0;
}

void sl_segment_journal_dirty(struct sl_log *log, const struct sl_segment *segment,
                              const struct sl_cache_entry *entry)
{
    if (!log->tail_journaled)
        return;
    struct sl_storage *st = log->storage;
    char path[SL_PATH_BYTES];
    sl_segment_file_path(log, segment->base_offset, ".log", path);
    sl_tail_journal_dirty(st->journal, sl_mem_pool_chunk_index(&st->pool, entry->chunk), path,
                          (uint64_t)entry->chunk_index * st->config.chunk_bytes,
                          entry->valid_bytes);
}

int sl_segment_load_tail(struct sl_log *log, struct sl_segment *segment)
{
    struct sl_storage *st = log->storage;
    uint32_t chunk_bytes = st->config.chunk_bytes;
    uint32_t chunk_index = segment->size_bytes / chunk_bytes;
    /* An empty segment (or one that ends on a chunk boundary) has no bytes to keep: the
     * first append takes a chunk (reserve_chunks). So the many logs that never see a
     * record (most __consumer_offsets partitions) hold no pool memory. */
    if (segment->size_bytes % chunk_bytes == 0)
        return 0;
    struct sl_cache_entry *e =
        sl_cache_insert(&st->cache, segment->id, chunk_index, SL_CACHE_DIRTY);
    if (e == NULL)
        return -ENOBUFS;
    uint32_t chunk_start = chunk_index * chunk_bytes;
    uint32_t want = segment->size_bytes - chunk_start;
    /* The fd may be O_DIRECT: read whole pages into the aligned chunk. */
    size_t got = 0;
    int rc =
        pread_full(segment->fd, e->chunk, SL_ALIGN_UP(want, SL_MEM_PAGE_BYTES), chunk_start, &got);
    if (rc == 0 && got < want)
        rc = -EIO;
    if (rc != 0) {
        sl_cache_remove(&st->cache, e);
        return rc;
    }
    memset(e->chunk + want, 0, chunk_bytes - want); /* padding of the next O_DIRECT write */
    e->valid_bytes = want;
    sl_segment_journal_dirty(log, segment, e);
    return 0;
}

/* O_DIRECT writes leave the rest of the last page zero: that is padding, not damage. */
static bool only_zero_padding(int fd, uint64_t pos, uint64_t file_bytes)
{
    if (file_bytes - pos >= SL_MEM_PAGE_BYTES)
        return false;
    uint8_t page[SL_MEM_PAGE_BYTES];
    size_t got;
    if (pread_full(fd, page, (size_t)(file_bytes - pos), pos, &got) != 0 || got != file_bytes - pos)
        return false;
    for (size_t i = 0; i < got; i++) {
        if (page[i] != 0)
            return false;
    }
    return true;
}

static void reset_contents(struct sl_segment *segment)
{
    segment->offset_index.count = 0;
    segment->time_index.count = 0;
    segment->next_offset = segment->base_offset;
    segment->size_bytes = 0;
    segment->bytes_since_index = 0;
    segment->max_timestamp = -1;
    segment->max_timestamp_offset = segment->base_offset;
}

int sl_segment_scan(struct sl_log *log, struct sl_segment *segment, bool check_crc,
                    int64_t stop_offset, bool resume, struct sl_scan_result *result)
{
    memset(result, 0, sizeof(*result));
    char path[SL_PATH_BYTES];
    sl_segment_file_path(log, segment->base_offset, ".log", path);
    /* A separate buffered descriptor: the segment's own may be O_DIRECT. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    uint8_t *buf = NULL;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto close_fd;
    }
    uint64_t file_bytes = (uint64_t)st.st_size;
    if (file_bytes > UINT32_MAX)
        file_bytes = UINT32_MAX; /* positions are 32-bit; anything past is garbage */
    /* Big enough for any batch the log accepts (config checked at open) plus a header. */
    size_t buf_bytes = SL_MAX((size_t)SCAN_BUFFER_BYTES,
                              (size_t)log->config.max_message_bytes + SL_BATCH_HEADER_BYTES);
    buf = malloc(buf_bytes);
    if (buf == NULL) {
        rc = -ENOMEM;
        goto close_fd;
    }
    if (!resume)
        reset_contents(segment);
    uint64_t buf_start = 0; /* file position of buf[0] */
    size_t buf_len = 0;
    uint64_t pos = segment->size_bytes;
    for (;;) {
        /* Refill so that at least a header, and then the whole batch, is in buf. */
        if (pos + SL_BATCH_HEADER_BYTES > buf_start + buf_len) {
            size_t got;
            buf_start = pos;
            rc = pread_full(fd, buf, buf_bytes, buf_start, &got);
            if (rc != 0)
                goto free_buf;
            buf_len = got;
        }
        size_t in_buf = (size_t)(buf_start + buf_len - pos);
        if (in_buf < SL_BATCH_HEADER_BYTES)
            break;
        const uint8_t *p = buf + (pos - buf_start);
        struct sl_batch_info info;
        if (sl_batch_parse_header(p, in_buf, &info) != SL_STORAGE_OK)
            break;
        if (info.size_bytes > buf_bytes || pos + info.size_bytes > file_bytes)
            break;
        if (info.size_bytes > in_buf) {
            size_t got;
            buf_start = pos;
            rc = pread_full(fd, buf, buf_bytes, buf_start, &got);
            if (rc != 0)
                goto free_buf;
            buf_len = got;
            p = buf;
            in_buf = buf_len;
            if (info.size_bytes > in_buf)
                break;
        }
        if (info.base_offset != segment->next_offset || info.last_offset_delta < 0)
            break;
        if (info.base_offset >= stop_offset)
            break;
        if (check_crc && sl_batch_check_stored(p, in_buf, &info) != SL_STORAGE_OK)
            break;
        if (pos + info.size_bytes > UINT32_MAX)
            break;
        sl_segment_note_batch(log, segment, &info, (uint32_t)pos);
        pos += info.size_bytes;
        segment->size_bytes = (uint32_t)pos;
        result->batches++;
    }
    result->valid_bytes = (uint32_t)pos;
    result->stopped_early = pos < file_bytes && !only_zero_padding(fd, pos, file_bytes);
free_buf:
    free(buf);
close_fd:
    close(fd);
    return rc;
}
