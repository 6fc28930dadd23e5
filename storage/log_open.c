/* Opening (with recovery), closing, checkpoints and accessors of a partition log. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sl_assert.h"
#include "common/sl_compiler.h"
#include "storage/log_internal.h"

#define CLEAN_SHUTDOWN_FILE       ".clean-shutdown"
#define CHECKPOINT_LOG_START      "log-start-offset.checkpoint"
#define CHECKPOINT_HIGH_WATERMARK "high-watermark.checkpoint"
#define CHECKPOINT_RECOVERY_POINT "recovery-point.checkpoint"
#define SEGMENT_NAME_DIGITS       20

void sl_log_config_default(struct sl_log_config *config)
{
    memset(config, 0, sizeof(*config));
    config->segment_bytes = 1024u * 1024u * 1024u;
    config->segment_ms = 7ll * 24 * 3600 * 1000;
    config->index_interval_bytes = 4096;
    config->segment_index_bytes = 10u * 1024u * 1024u;
    config->retention_ms = 7ll * 24 * 3600 * 1000;
    config->retention_bytes = -1;
    config->flush_messages = INT64_MAX;
    config->flush_ms = INT64_MAX;
    config->max_message_bytes = 1048588;
    config->pending_batches_max = 8192;
}

enum sl_storage_err sl_log_config_check(const struct sl_log_config *c)
{
    if (c->segment_bytes < 2 * SL_BATCH_HEADER_BYTES || c->segment_bytes > INT32_MAX)
        return SL_STORAGE_ERR_INVALID_ARGUMENT;
    if (c->segment_ms <= 0 || c->flush_messages <= 0 || c->flush_ms < 0)
        return SL_STORAGE_ERR_INVALID_ARGUMENT;
    if (c->segment_index_bytes < 4 * SL_TIME_INDEX_ENTRY_BYTES)
        return SL_STORAGE_ERR_INVALID_ARGUMENT;
    if (c->max_message_bytes < SL_BATCH_HEADER_BYTES || c->max_message_bytes > c->segment_bytes)
        return SL_STORAGE_ERR_INVALID_ARGUMENT;
    if (c->retention_ms < -1 || c->retention_bytes < -1)
        return SL_STORAGE_ERR_INVALID_ARGUMENT;
    if (c->pending_batches_max < SL_LOG_APPEND_BATCHES_MAX)
        return SL_STORAGE_ERR_INVALID_ARGUMENT;
    return SL_STORAGE_OK;
}

/* Every batch must fit the slices of one read (it may start mid-chunk). */
static bool max_message_fits(const struct sl_storage *storage, uint32_t max_message_bytes)
{
    return (uint64_t)max_message_bytes <=
           (uint64_t)(SL_LOG_READ_SLICES_MAX - 2) * storage->config.chunk_bytes;
}

enum sl_storage_err sl_log_set_config(struct sl_log *log, const struct sl_log_config *config)
{
    SL_ASSERT(log != NULL && config != NULL);
    struct sl_log_config next = *config;
    next.pending_batches_max = log->config.pending_batches_max;
    if (sl_log_config_check(&next) != SL_STORAGE_OK ||
        !max_message_fits(log->storage, next.max_message_bytes))
        return SL_STORAGE_ERR_INVALID_ARGUMENT;
    bool flush_changed = next.flush_ms != log->config.flush_ms;
    log->config = next;
    /* A shorter flush.ms is due at once; the flush.messages count is checked per append. */
    if (flush_changed)
        sl_storage_kick(log);
    return SL_STORAGE_OK;
}

const struct sl_log_config *sl_log_get_config(const struct sl_log *log)
{
    return &log->config;
}

/* dir/name[suffix]; log paths are length-checked at open so this always fits. */
static void path_join(char *out, const char *dir, const char *name, const char *suffix)
{
    int n = snprintf(out, SL_PATH_BYTES, "%s/%s%s", dir, name, suffix);
    SL_ASSERT(n > 0 && n < (int)SL_PATH_BYTES);
}

static int mkdir_p(const char *path)
{
    char tmp[SL_PATH_BYTES];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(tmp))
        return -ENAMETOOLONG;
    memcpy(tmp, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char saved = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -errno;
        tmp[i] = saved;
    }
    return 0;
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* Reads "<value>\n" from a checkpoint file; false when missing or malformed. */
static bool read_checkpoint(const struct sl_log *log, const char *name, int64_t *value)
{
    char path[SL_PATH_BYTES];
    path_join(path, log->path, name, "");
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    char line[64];
    bool ok = false;
    if (fgets(line, sizeof(line), f) != NULL) {
        char *end;
        errno = 0;
        long long v = strtoll(line, &end, 10);
        ok = errno == 0 && end != line && *end == '\n' && v >= 0;
        if (ok)
            *value = v;
    }
    fclose(f);
    return ok;
}

static int write_checkpoint(const struct sl_log *log, const char *name, int64_t value)
{
    char path[SL_PATH_BYTES], tmp[SL_PATH_BYTES];
    path_join(path, log->path, name, "");
    path_join(tmp, log->path, name, ".tmp");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    char line[32];
    int n = snprintf(line, sizeof(line), "%" PRId64 "\n", value);
    int rc = 0;
    if (write(fd, line, (size_t)n) != n || fsync(fd) != 0)
        rc = errno != 0 ? -errno : -EIO;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    return rc;
}

/* Oldest segment that may hold bytes not yet settled on disk. */
static int64_t recovery_point(const struct sl_log *log)
{
    for (uint32_t i = 0; i < log->segment_count; i++) {
        if (!log->segments[i]->settled)
            return log->segments[i]->base_offset;
    }
    return log->log_end_offset;
}

enum sl_storage_err sl_log_write_checkpoints(struct sl_log *log)
{
    /* Epochs first: a recovery point written after them never skips an epoch change. */
    int rc = sl_epochs_save(log);
    if (rc == 0)
        rc = write_checkpoint(log, CHECKPOINT_LOG_START, log->log_start_offset);
    if (rc == 0)
        rc = write_checkpoint(log, CHECKPOINT_HIGH_WATERMARK, log->high_watermark);
    if (rc == 0)
        rc = write_checkpoint(log, CHECKPOINT_RECOVERY_POINT, recovery_point(log));
    if (rc == 0)
        rc = fsync_dir(log->path);
    return sl_storage_err_from_errno(rc);
}

static int compare_offsets(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Parses "<20 digits><suffix>"; false for anything else. */
static bool parse_segment_name(const char *name, const char *suffix, int64_t *base)
{
    size_t len = strlen(name), suffix_len = strlen(suffix);
    if (len != SEGMENT_NAME_DIGITS + suffix_len || strcmp(name + SEGMENT_NAME_DIGITS, suffix) != 0)
        return false;
    int64_t v = 0;
    for (int i = 0; i < SEGMENT_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        if (v > (INT64_MAX - (name[i] - '0')) / 10)
            return false;
        v = v * 10 + (name[i] - '0');
    }
    *base = v;
    return true;
}

/* Lists segment base offsets (sorted); removes temp files and indexes without a log. */
static int list_segments(struct sl_log *log, int64_t **bases_out, uint32_t *count_out)
{
    DIR *dir = opendir(log->path);
    if (dir == NULL)
        return -errno;
    uint32_t count = 0, capacity = 16;
    int64_t *bases = malloc(sizeof(*bases) * capacity);
    int rc = bases == NULL ? -ENOMEM : 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        int64_t base;
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0) {
            unlinkat(dirfd(dir), de->d_name, 0);
            continue;
        }
        if (!parse_segment_name(de->d_name, ".log", &base))
            continue;
        if (count == capacity) {
            int64_t *bigger = realloc(bases, sizeof(*bases) * capacity * 2);
            if (bigger == NULL) {
                rc = -ENOMEM;
                break;
            }
            bases = bigger;
            capacity *= 2;
        }
        bases[count++] = base;
    }
    closedir(dir);
    if (rc != 0) {
        free(bases);
        return rc;
    }
    qsort(bases, count, sizeof(*bases), compare_offsets);
    *bases_out = bases;
    *count_out = count;
    return 0;
}

static void remove_orphan_indexes(struct sl_log *log)
{
    DIR *dir = opendir(log->path);
    if (dir == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        int64_t base;
        if (!parse_segment_name(de->d_name, ".index", &base) &&
            !parse_segment_name(de->d_name, ".timeindex", &base))
            continue;
        char path[SL_PATH_BYTES];
        sl_segment_file_path(log, base, ".log", path);
        if (access(path, F_OK) != 0)
            unlinkat(dirfd(dir), de->d_name, 0);
    }
    closedir(dir);
}

/* Loads both indexes of a trusted segment; false when either is missing or corrupt. */
static bool load_indexes(struct sl_log *log, struct sl_segment *seg, uint32_t file_bytes,
                         int64_t next_base)
{
    char path[SL_PATH_BYTES];
    uint32_t max_rel = next_base > seg->base_offset
                           ? (uint32_t)SL_MIN(next_base - seg->base_offset, (int64_t)UINT32_MAX)
                           : UINT32_MAX;
    sl_segment_file_path(log, seg->base_offset, ".index", path);
    if (sl_index_load(&seg->offset_index, path, file_bytes, max_rel) != 0)
        return false;
    sl_segment_file_path(log, seg->base_offset, ".timeindex", path);
    if (sl_index_load(&seg->time_index, path, file_bytes, max_rel) != 0)
        return false;
    if (file_bytes > 0 && seg->time_index.count == 0)
        return false; /* sealed segments always end with a time index entry */
    if (seg->time_index.count > 0) {
        int64_t ts;
        uint32_t rel;
        sl_time_index_entry(&seg->time_index, seg->time_index.count - 1, &ts, &rel);
        seg->max_timestamp = ts;
        seg->max_timestamp_offset = seg->base_offset + rel;
    }
    /* Appends to a segment whose indexes came from disk must keep them dense. */
    seg->offset_index.capacity = SL_MAX(seg->offset_index.capacity, seg->offset_index.count);
    return true;
}

struct open_state {
    struct sl_log_recovery_report *report;
    bool clean;
    int64_t recovery_point;
};

/* Brings one segment file to a known logical size and valid indexes. Returns false when
 * the scan found damage: every later segment must go. */
static int recover_segment(struct sl_log *log, struct sl_segment *seg, bool is_last,
                           int64_t next_base, struct open_state *os, bool *damaged)
{
    *damaged = false;
    struct stat st;
    if (fstat(seg->fd, &st) != 0)
        return -errno;
    if (st.st_size > INT32_MAX)
        return -EFBIG;
    uint32_t file_bytes = (uint32_t)st.st_size;
    bool may_hold_unsynced = next_base > os->recovery_point || is_last;
    bool trusted = os->clean || !may_hold_unsynced;
    if (trusted && !is_last && load_indexes(log, seg, file_bytes, next_base)) {
        seg->size_bytes = file_bytes;
        seg->next_offset = next_base;
        (void)sl_index_set_capacity(&seg->offset_index, seg->offset_index.count);
        (void)sl_index_set_capacity(&seg->time_index, seg->time_index.count);
        return 0;
    }
    if (trusted && !is_last)
        os->report->indexes_rebuilt++;
    /* After a clean close the active segment's indexes are exact: only the bytes after
     * the last index entry need reading. */
    bool resume = os->clean && is_last && load_indexes(log, seg, file_bytes, INT64_MAX);
    if (resume) {
        uint32_t rel = 0, pos = 0;
        if (seg->offset_index.count > 0)
            sl_offset_index_entry(&seg->offset_index, seg->offset_index.count - 1, &rel, &pos);
        seg->size_bytes = pos;
        seg->next_offset = seg->base_offset + rel;
        seg->bytes_since_index = 0;
    }
    /* The active segment, damaged indexes, or data after the recovery point: scan it. */
    uint32_t scan_start = seg->size_bytes;
    struct sl_scan_result scan;
    int rc = sl_segment_scan(log, seg, true, INT64_MAX, resume, &scan);
    if (rc != 0)
        return rc;
    os->report->segments_scanned++;
    os->report->batches_scanned += scan.batches;
    os->report->bytes_scanned += scan.valid_bytes - (resume ? scan_start : 0);
    if (!resume && (!trusted || is_last))
        os->report->indexes_rebuilt++;
    if (scan.valid_bytes < file_bytes) {
        if (ftruncate(seg->fd, scan.valid_bytes) != 0)
            return -errno;
        os->report->bytes_truncated += file_bytes - scan.valid_bytes;
        if (fdatasync(seg->fd) != 0)
            return -errno;
    }
    *damaged = scan.stopped_early || (!is_last && seg->next_offset != next_base);
    if (*damaged)
        os->report->segments_damaged++;
    rc = sl_segment_save_indexes(log, seg);
    if (rc == 0 && !is_last && !*damaged) {
        (void)sl_index_set_capacity(&seg->offset_index, seg->offset_index.count);
        (void)sl_index_set_capacity(&seg->time_index, seg->time_index.count);
    }
    return rc;
}

static enum sl_storage_err open_segments(struct sl_log *log, int64_t now_ms, struct open_state *os)
{
    int64_t *bases = NULL;
    uint32_t count = 0;
    int rc = list_segments(log, &bases, &count);
    if (rc != 0)
        return sl_storage_err_from_errno(rc);
    os->report->segments_found = count;
    log->segment_capacity = SL_MAX(count + 1, 8u);
    log->segments = calloc(log->segment_capacity, sizeof(log->segments[0]));
    if (log->segments == NULL) {
        free(bases);
        return SL_STORAGE_ERR_NO_MEMORY;
    }
    bool damaged = false;
    for (uint32_t i = 0; i < count; i++) {
        struct sl_segment *seg = sl_segment_new(log, bases[i], now_ms);
        if (seg == NULL) {
            rc = -ENOMEM;
            break;
        }
        if (damaged) { /* everything after a damaged segment is unreachable */
            sl_segment_delete_files(log, seg);
            sl_segment_free(seg);
            os->report->segments_deleted++;
            continue;
        }
        log->segments[log->segment_count++] = seg;
        rc = sl_segment_open_file(log, seg, false);
        if (rc != 0)
            break;
        bool is_last = i + 1 == count;
        rc = recover_segment(log, seg, is_last, is_last ? INT64_MAX : bases[i + 1], os, &damaged);
        if (rc != 0)
            break;
        if (seg->size_bytes == 0 && log->segment_count > 1) {
            /* An empty segment after others (e.g. a roll cut short): drop it. */
            log->segment_count--;
            sl_segment_delete_files(log, seg);
            sl_segment_free(seg);
            os->report->segments_deleted++;
        }
    }
    free(bases);
    return sl_storage_err_from_errno(rc);
}

static enum sl_storage_err make_first_segment(struct sl_log *log, int64_t base, int64_t now_ms)
{
    struct sl_segment *seg = sl_segment_new(log, base, now_ms);
    if (seg == NULL)
        return SL_STORAGE_ERR_NO_MEMORY;
    log->segments[log->segment_count++] = seg;
    return sl_storage_err_from_errno(sl_segment_open_file(log, seg, true));
}

static void free_log(struct sl_log *log)
{
    struct sl_storage *st = log->storage;
    for (uint32_t i = 0; i < log->segment_count; i++) {
        sl_cache_invalidate(&st->cache, log->segments[i]->id, 0);
        sl_segment_free(log->segments[i]);
    }
    if (log->lock_fd >= 0)
        close(log->lock_fd); /* releases the flock */
    free(log->segments);
    free(log->pending);
    free(log);
}

/* One owner per partition directory, across threads and processes (like Kafka's .lock). */
static enum sl_storage_err lock_dir(struct sl_log *log)
{
    char path[SL_PATH_BYTES];
    path_join(path, log->path, ".lock", "");
    log->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (log->lock_fd < 0)
        return sl_storage_err_from_errno(errno);
    if (flock(log->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return errno == EWOULDBLOCK ? SL_STORAGE_ERR_IN_USE : sl_storage_err_from_errno(errno);
    return SL_STORAGE_OK;
}

static void link_log(struct sl_log *log)
{
    struct sl_storage *st = log->storage;
    log->next = st->logs;
    log->prev = NULL;
    if (st->logs != NULL)
        st->logs->prev = log;
    st->logs = log;
}

static void unlink_log(struct sl_log *log)
{
    struct sl_storage *st = log->storage;
    if (log->prev != NULL)
        log->prev->next = log->next;
    else
        st->logs = log->next;
    if (log->next != NULL)
        log->next->prev = log->prev;
    /* Drop it from the work list too. */
    struct sl_log **link = &st->work_head;
    while (*link != NULL) {
        if (*link == log) {
            *link = log->work_next;
            break;
        }
        link = &(*link)->work_next;
    }
}

enum sl_storage_err sl_log_open(struct sl_storage *storage, const char *log_dir, const char *topic,
                                int32_t partition, const struct sl_log_config *config,
                                const struct sl_log_callbacks *callbacks, int64_t now_ms,
                                struct sl_log **out, struct sl_log_recovery_report *report)
{
    SL_ASSERT(storage != NULL && log_dir != NULL && topic != NULL && config != NULL && out != NULL);
    *out = NULL;
    struct sl_log_recovery_report local_report;
    if (report == NULL)
        report = &local_report;
    memset(report, 0, sizeof(*report));
    if (sl_log_config_check(config) != SL_STORAGE_OK || partition < 0 || topic[0] == '\0' ||
        strchr(topic, '/') != NULL)
        return SL_STORAGE_ERR_INVALID_ARGUMENT;
    if (!max_message_fits(storage, config->max_message_bytes))
        return SL_STORAGE_ERR_INVALID_ARGUMENT;

    struct sl_log *log = calloc(1, sizeof(*log));
    if (log == NULL)
        return SL_STORAGE_ERR_NO_MEMORY;
    log->storage = storage;
    log->lock_fd = -1;
    log->config = *config;
    if (callbacks != NULL)
        log->callbacks = *callbacks;
    int n = snprintf(log->path, sizeof(log->path), "%s/%s-%" PRId32, log_dir, topic, partition);
    enum sl_storage_err err = SL_STORAGE_ERR_INVALID_ARGUMENT;
    if (n <= 0 || (size_t)n + SEGMENT_NAME_DIGITS + 16 >= sizeof(log->path))
        goto free_log;
    /* A log whose segment paths do not fit a journal record keeps the write as its
     * acknowledgement point. */
    log->tail_journaled =
        storage->journal != NULL &&
        (size_t)n + 1 + SEGMENT_NAME_DIGITS + sizeof(".log") <= SL_TAIL_PATH_BYTES;
    err = SL_STORAGE_ERR_NO_MEMORY;
    log->pending = calloc(config->pending_batches_max, sizeof(log->pending[0]));
    if (log->pending == NULL)
        goto free_log;
    err = sl_storage_err_from_errno(mkdir_p(log->path));
    if (err != SL_STORAGE_OK)
        goto free_log;
    err = lock_dir(log);
    if (err != SL_STORAGE_OK)
        goto free_log;
    remove_orphan_indexes(log);

    struct open_state os = {.report = report, .recovery_point = 0};
    char marker[SL_PATH_BYTES];
    path_join(marker, log->path, CLEAN_SHUTDOWN_FILE, "");
    os.clean = access(marker, F_OK) == 0;
    int64_t checkpoint_start = 0, checkpoint_hw = 0;
    bool have_start = read_checkpoint(log, CHECKPOINT_LOG_START, &checkpoint_start);
    bool have_hw = read_checkpoint(log, CHECKPOINT_HIGH_WATERMARK, &checkpoint_hw);
    if (!read_checkpoint(log, CHECKPOINT_RECOVERY_POINT, &os.recovery_point))
        os.recovery_point = 0; /* unknown: scan everything */
    report->clean_shutdown = os.clean;
    report->recovery_point = os.clean ? INT64_MAX : os.recovery_point;

    /* Before the segments: batches the recovery scans add their epochs to it. */
    bool have_epochs = sl_epochs_load(log);
    err = open_segments(log, now_ms, &os);
    if (err != SL_STORAGE_OK)
        goto free_log;
    if (log->segment_count == 0) {
        err = make_first_segment(log, have_start ? checkpoint_start : 0, now_ms);
        if (err != SL_STORAGE_OK)
            goto free_log;
    }
    for (uint32_t i = 0; i + 1 < log->segment_count; i++) {
        struct sl_segment *seg = log->segments[i];
        seg->sealed = seg->truncated_on_disk = seg->settled = true;
        seg->written_bytes = seg->size_bytes;
    }
    struct sl_segment *active = log->segments[log->segment_count - 1];
    active->written_bytes = active->size_bytes;
    /* Appends continue the active segment's indexes: give them their full capacity (the
     * last segment may have been sealed and shrunk before a damaged one was dropped). */
    if (sl_index_set_capacity(&active->offset_index,
                              config->segment_index_bytes / SL_OFFSET_INDEX_ENTRY_BYTES) != 0 ||
        sl_index_set_capacity(&active->time_index,
                              config->segment_index_bytes / SL_TIME_INDEX_ENTRY_BYTES + 1) != 0) {
        err = SL_STORAGE_ERR_NO_MEMORY;
        goto free_log;
    }
    log->unsettled_count = 1;
    for (uint32_t i = 0; i < log->segment_count; i++)
        log->size_bytes += log->segments[i]->size_bytes;
    log->log_end_offset = active->next_offset;
    log->written_end_offset = log->durable_end_offset = log->log_end_offset;
    log->sync_target_offset = log->log_end_offset;
    log->last_sync_ms = now_ms;
    int64_t first_base = log->segments[0]->base_offset;
    log->log_start_offset =
        SL_MIN(SL_MAX(have_start ? checkpoint_start : first_base, first_base), log->log_end_offset);
    log->high_watermark =
        SL_MIN(SL_MAX(have_hw ? checkpoint_hw : 0, log->log_start_offset), log->log_end_offset);
    if (!have_epochs && log->log_end_offset > first_base) {
        int erc = sl_epochs_rebuild(log); /* no checkpoint yet (older directory) */
        if (erc != 0) {
            err = sl_storage_err_from_errno(erc);
            goto free_log;
        }
    }
    sl_epochs_truncate_from_end(log, log->log_end_offset); /* a torn tail was cut */
    sl_epochs_truncate_from_start(log, log->log_start_offset);
    int rc = sl_segment_load_tail(log, active);
    if (rc != 0) {
        err = rc == -ENOBUFS ? SL_STORAGE_ERR_NO_BUFFER : sl_storage_err_from_errno(rc);
        goto free_log;
    }
    if (!os.clean && fdatasync(active->fd) != 0) {
        err = sl_storage_err_from_errno(errno);
        goto free_log;
    }
    /* From here on a crash is an unclean shutdown. */
    if (os.clean && (unlink(marker) != 0 || fsync_dir(log->path) != 0)) {
        err = sl_storage_err_from_errno(errno);
        goto free_log;
    }
    report->log_start_offset = log->log_start_offset;
    report->log_end_offset = log->log_end_offset;
    link_log(log);
    *out = log;
    return SL_STORAGE_OK;

free_log:
    free_log(log);
    return err;
}

bool sl_log_wait_io(struct sl_log *log, bool require_written)
{
    struct sl_storage *st = log->storage;
    /* Ends when the log's I/O has completed: every pass submits what is due and waits
     * up to 100 ms for a completion; a failed log stops asking for writes. A device that
     * never completes an I/O keeps this (blocking, maintenance) call waiting. */
    for (;;) {
        bool busy = log->io_in_flight > 0 || log->reads_in_flight > 0;
        bool unwritten = require_written && log->failure == SL_STORAGE_OK &&
                         (log->written_end_offset < log->log_end_offset ||
                          log->durable_end_offset < log->sync_target_offset || log->settle_wanted);
        if (!busy && !unwritten)
            return log->failure == SL_STORAGE_OK;
        sl_storage_poll(st, st->now_ms);
        busy = log->io_in_flight > 0 || log->reads_in_flight > 0;
        if (busy)
            sl_storage_wait(st, st->now_ms, 100);
    }
}

enum sl_storage_err sl_log_close(struct sl_log *log)
{
    if (log == NULL)
        return SL_STORAGE_OK;
    struct sl_storage *st = log->storage;
    log->sync_target_offset = log->log_end_offset;
    sl_storage_kick(log);
    sl_log_wait_io(log, true);
    enum sl_storage_err err = log->failure;
    struct sl_segment *active = log->segments[log->segment_count - 1];
    if (err == SL_STORAGE_OK) {
        sl_segment_finish_time_index(active);
        int rc = sl_segment_save_indexes(log, active);
        if (rc == 0 && ftruncate(active->fd, active->size_bytes) != 0)
            rc = -errno;
        if (rc == 0 && fdatasync(active->fd) != 0)
            rc = -errno;
        for (uint32_t i = 0; rc == 0 && i < log->segment_count; i++) {
            log->segments[i]->settled = true;
        }
        if (rc == 0)
            err = sl_log_write_checkpoints(log);
        else
            err = sl_storage_err_from_errno(rc);
    }
    if (err == SL_STORAGE_OK) {
        char marker[SL_PATH_BYTES];
        path_join(marker, log->path, CLEAN_SHUTDOWN_FILE, "");
        int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || fsync(fd) != 0 || fsync_dir(log->path) != 0)
            err = SL_STORAGE_ERR_IO;
        if (fd >= 0)
            close(fd);
    }
    sl_storage_submit(st);
    unlink_log(log);
    free_log(log);
    return err;
}

int64_t sl_log_start_offset(const struct sl_log *log)
{
    return log->log_start_offset;
}

int64_t sl_log_end_offset(const struct sl_log *log)
{
    return log->log_end_offset;
}

int64_t sl_log_written_end_offset(const struct sl_log *log)
{
    return log->written_end_offset;
}

int64_t sl_log_safe_end_offset(const struct sl_log *log)
{
    return log->tail_journaled ? log->log_end_offset : log->written_end_offset;
}

int64_t sl_log_durable_end_offset(const struct sl_log *log)
{
    return log->durable_end_offset;
}

int64_t sl_log_high_watermark(const struct sl_log *log)
{
    return log->high_watermark;
}

void sl_log_set_high_watermark(struct sl_log *log, int64_t high_watermark)
{
    SL_ASSERT(high_watermark <= log->log_end_offset);
    log->high_watermark = SL_MAX(high_watermark, log->log_start_offset);
}

uint64_t sl_log_size_bytes(const struct sl_log *log)
{
    return log->size_bytes;
}

uint32_t sl_log_segment_count(const struct sl_log *log)
{
    return log->segment_count;
}

uint32_t sl_log_segment_base_offsets(const struct sl_log *log, int64_t *base_offsets, uint32_t max)
{
    uint32_t n = SL_MIN(max, log->segment_count);
    for (uint32_t i = 0; i < n; i++)
        base_offsets[i] = log->segments[i]->base_offset;
    return n;
}

const char *sl_log_path(const struct sl_log *log)
{
    return log->path;
}

enum sl_storage_err sl_log_failure(const struct sl_log *log)
{
    return log->failure;
}

const struct sl_log_counters *sl_log_get_counters(const struct sl_log *log)
{
    return &log->counters;
}
