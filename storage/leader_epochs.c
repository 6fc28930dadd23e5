/* The leader-epoch cache of a partition log: for each leader epoch stamped into the log's
 * batches, the offset of its first batch (Kafka's LeaderEpochFileCache). It answers
 * OffsetForLeaderEpoch and is kept in step with appends, recovery, truncation and the
 * log start offset. Persisted in Kafka's leader-epoch-checkpoint format with the other
 * checkpoints; rebuilt from the batch headers when that file is missing. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sl_assert.h"
#include "common/sl_bytes.h"
#include "common/sl_compiler.h"
#include "storage/log_internal.h"

#define EPOCH_CHECKPOINT      "leader-epoch-checkpoint"
#define EPOCH_CHECKPOINT_TEMP "leader-epoch-checkpoint.tmp"

/* <log dir>/name; log paths are length-checked at open, so this fits. */
static void epoch_path(const struct sl_log *log, const char *name, char *out)
{
    int n = snprintf(out, SL_PATH_BYTES, "%s/%s", log->path, name);
    SL_ASSERT(n > 0 && n < (int)SL_PATH_BYTES);
}

void sl_epochs_note(struct sl_log *log, int32_t epoch, int64_t start_offset)
{
    if (epoch < 0) /* batches written without an epoch (none from this broker) */
        return;
    if (log->epoch_count > 0 && epoch <= log->epochs[log->epoch_count - 1].epoch)
        return; /* same epoch continues; an older one after a newer is ignored (Kafka) */
    if (log->epoch_count == SL_LOG_LEADER_EPOCHS_MAX) {
        /* Bounded: the oldest epoch is forgotten. Requests for it then get the start of
         * the oldest kept epoch, as for epochs older than the log. */
        memmove(&log->epochs[0], &log->epochs[1],
                (SL_LOG_LEADER_EPOCHS_MAX - 1) * sizeof(log->epochs[0]));
        log->epoch_count--;
    }
    log->epochs[log->epoch_count].epoch = epoch;
    log->epochs[log->epoch_count].start_offset = start_offset;
    log->epoch_count++;
}

void sl_epochs_truncate_from_end(struct sl_log *log, int64_t end_offset)
{
    while (log->epoch_count > 0 && log->epochs[log->epoch_count - 1].start_offset >= end_offset)
        log->epoch_count--;
}

void sl_epochs_truncate_from_start(struct sl_log *log, int64_t start_offset)
{
    /* Entries wholly below the new start go; the last of them starts at the new start. */
    uint32_t below = 0;
    while (below < log->epoch_count && log->epochs[below].start_offset < start_offset)
        below++;
    if (below == 0)
        return;
    uint32_t keep_from = below - 1;
    bool next_starts_there =
        below < log->epoch_count && log->epochs[below].start_offset == start_offset;
    if (next_starts_there)
        keep_from = below;
    memmove(&log->epochs[0], &log->epochs[keep_from],
            (log->epoch_count - keep_from) * sizeof(log->epochs[0]));
    log->epoch_count -= keep_from;
    log->epochs[0].start_offset = SL_MAX(log->epochs[0].start_offset, start_offset);
}

bool sl_epochs_load(struct sl_log *log)
{
    char path[SL_PATH_BYTES];
    epoch_path(log, EPOCH_CHECKPOINT, path);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    int version = -1;
    unsigned count = 0;
    bool ok = fscanf(f, "%d %u", &version, &count) == 2 && version == 0 &&
              count <= SL_LOG_LEADER_EPOCHS_MAX;
    log->epoch_count = 0;
    for (unsigned i = 0; ok && i < count; i++) {
        int32_t epoch;
        int64_t start;
        ok = fscanf(f, "%" SCNd32 " %" SCNd64, &epoch, &start) == 2 && epoch >= 0 && start >= 0;
        if (ok && log->epoch_count > 0)
            ok = epoch > log->epochs[log->epoch_count - 1].epoch &&
                 start >= log->epochs[log->epoch_count - 1].start_offset;
        if (ok)
            sl_epochs_note(log, epoch, start);
    }
    fclose(f);
    if (!ok)
        log->epoch_count = 0; /* malformed: rebuilt from the log instead */
    return ok;
}

int sl_epochs_save(const struct sl_log *log)
{
    char path[SL_PATH_BYTES], tmp[SL_PATH_BYTES];
    epoch_path(log, EPOCH_CHECKPOINT, path);
    epoch_path(log, EPOCH_CHECKPOINT_TEMP, tmp);
    FILE *f = fopen(tmp, "we");
    if (f == NULL)
        return -errno;
    fprintf(f, "0\n%u\n", log->epoch_count);
    for (uint32_t i = 0; i < log->epoch_count; i++)
        fprintf(f, "%" PRId32 " %" PRId64 "\n", log->epochs[i].epoch, log->epochs[i].start_offset);
    int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : (errno != 0 ? -errno : -EIO);
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    return rc;
}

int sl_epochs_rebuild(struct sl_log *log)
{
    log->epoch_count = 0;
    for (uint32_t si = 0; si < log->segment_count; si++) {
        const struct sl_segment *seg = log->segments[si];
        char path[SL_PATH_BYTES];
        sl_segment_file_path(log, seg->base_offset, ".log", path);
        int fd = open(path, O_RDONLY | O_CLOEXEC); /* buffered: headers are tiny */
        if (fd < 0)
            return -errno;
        /* Only the 17 bytes up to the magic of each batch: offset, length, epoch. */
        uint64_t pos = 0;
        int rc = 0;
        while (pos + SL_BATCH_OFF_MAGIC + 1 <= seg->size_bytes) {
            uint8_t h[SL_BATCH_OFF_MAGIC + 1];
            if (pread(fd, h, sizeof(h), (off_t)pos) != (ssize_t)sizeof(h)) {
                rc = -EIO;
                break;
            }
            int64_t base = (int64_t)sl_load_be64(h + SL_BATCH_OFF_BASE_OFFSET);
            uint32_t length = sl_load_be32(h + SL_BATCH_OFF_LENGTH);
            sl_epochs_note(log, (int32_t)sl_load_be32(h + SL_BATCH_OFF_LEADER_EPOCH), base);
            pos += SL_BATCH_LOG_OVERHEAD_BYTES + (uint64_t)length;
        }
        close(fd);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int32_t sl_log_latest_epoch(const struct sl_log *log)
{
    return log->epoch_count > 0 ? log->epochs[log->epoch_count - 1].epoch : -1;
}

bool sl_log_end_offset_for_epoch(const struct sl_log *log, int32_t epoch, int32_t *epoch_out,
                                 int64_t *end_offset_out)
{
    *epoch_out = -1;
    *end_offset_out = -1;
    if (epoch < 0 || log->epoch_count == 0)
        return false;
    if (epoch == log->epochs[log->epoch_count - 1].epoch) {
        /* The epoch still being written: it ends at the log end. */
        *epoch_out = epoch;
        *end_offset_out = log->log_end_offset;
        return true;
    }
    uint32_t higher = 0; /* first entry with a larger epoch */
    while (higher < log->epoch_count && log->epochs[higher].epoch <= epoch)
        higher++;
    if (higher == log->epoch_count)
        return false; /* newer than anything written */
    /* The largest epoch <= the one asked, or (older than everything kept) the one asked
     * itself: either way it ended where the next epoch began. */
    *epoch_out = higher > 0 ? log->epochs[higher - 1].epoch : epoch;
    *end_offset_out = log->epochs[higher].start_offset;
    return true;
}

uint32_t sl_log_leader_epochs(const struct sl_log *log, int32_t *epochs, int64_t *start_offsets,
                              uint32_t max)
{
    uint32_t n = SL_MIN(max, log->epoch_count);
    for (uint32_t i = 0; i < n; i++) {
        epochs[i] = log->epochs[i].epoch;
        start_offsets[i] = log->epochs[i].start_offset;
    }
    return n;
}
