/* The partition log and the storage engine that drives it.
 *
 * A `struct sl_storage` (engine) belongs to one shard thread: it owns one io_uring, one
 * page-aligned memory pool that doubles as the batch cache, and the logs opened on it.
 * Nothing here takes a lock; every function must be called from the owning thread.
 *
 * Data path (never blocks; at most io_uring_submit): sl_log_append, sl_log_read,
 * sl_log_offset_for_timestamp, sl_log_flush, sl_storage_poll, sl_storage_release.
 * Maintenance (may block on file-system calls; call rarely, e.g. from a timer):
 * sl_log_open, sl_log_close, sl_log_enforce_retention, sl_log_advance_start_offset,
 * sl_log_truncate_to, sl_log_write_checkpoints, sl_storage_create/destroy.
 * Rolling a segment (once per segment.bytes or segment.ms) creates files synchronously;
 * see docs/storage-format.md.
 *
 * On disk (Kafka's layout): <log_dir>/<topic>-<partition>/<20-digit base offset>.log,
 * .index (relative offset -> position, every index.interval.bytes) and .timeindex
 * (max timestamp so far -> relative offset), plus checkpoint files; see
 * docs/storage-format.md.
 *
 * Callbacks (progress, read, lookup) run inside sl_storage_poll/sl_storage_wait on the
 * owning thread. They may append, read and release, but must not close the log.
 *
 * Offsets: log start offset <= durable end <= written end <= log end offset (LEO).
 * LEO moves when a batch is copied into the tail buffer (readable at once); the written
 * end moves when the O_DIRECT write covering the batch completes; the durable end moves
 * when an fdatasync issued after that completes.
 */
#ifndef SL_STORAGE_LOG_H
#define SL_STORAGE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/batch.h"
#include "storage/err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sl_storage;
struct sl_log;

/* ---- engine ---------------------------------------------------------------------- */

struct sl_storage_config {
    uint64_t cache_bytes;  /* memory pool = batch cache + tail buffers (default 256 MiB) */
    uint32_t chunk_bytes;  /* cache/IO unit, multiple of 4096 (default 1 MiB) */
    uint32_t queue_depth;  /* io_uring submission queue entries (default 256) */
    uint32_t read_ops_max; /* concurrent cold reads / timestamp lookups (default 256) */
    bool hugepages;        /* try MAP_HUGETLB for the pool (default true) */
    bool direct_io;        /* O_DIRECT; falls back to buffered I/O on EINVAL (default true) */
    bool fixed_buffers;    /* register the pool with io_uring (READ/WRITE_FIXED); falls back
                            * to plain reads/writes if registration fails (default true) */
    /* Non-empty: the pool lives in this shared-memory file (tmpfs or hugetlbfs), created at
     * sl_storage_create and removed by sl_storage_destroy, with a record per dirty chunk, so
     * appended bytes survive a kill -9 of the process (sl_storage_replay_tail_file writes
     * them at the next start) and logs count them as safe at once (sl_log_safe_end_offset).
     * Empty (default): anonymous memory; bytes are safe once written. */
    char tail_file[1024];
};

struct sl_tail_replay_report {
    uint32_t chunks;         /* dirty chunk records found */
    uint32_t chunks_written; /* written to their segment file */
    uint32_t files_missing;  /* records whose segment file no longer exists (skipped) */
    uint64_t bytes_written;
};

/* Writes every dirty chunk recorded in a tail file left by a killed engine to its segment
 * file (pwrite, then one syncfs), then removes the tail file. Call before any log it covers is
 * opened. A missing file is not an error (report all zero). Returns 0, or a negative errno
 * with the file kept (-EINVAL: not a tail file, or a damaged one; -EBUSY: a live engine
 * holds it, i.e. another broker runs on the same data dir). */
int sl_storage_replay_tail_file(const char *path, struct sl_tail_replay_report *report);

struct sl_storage_stats {
    bool hugepage_backed;    /* the pool really got hugepages */
    bool direct_io;          /* O_DIRECT accepted by the file system (false after fallback) */
    bool tail_shared_memory; /* the pool is a tail file: appends are safe before the write */
    bool fixed_buffers;      /* the pool is registered with the io_uring */
    bool writev_fixed;       /* the kernel has IORING_OP_WRITEV_FIXED (6.15+): multi-chunk writes
                                from registered buffers too */
    uint32_t chunk_bytes;
    uint32_t chunks_total;
    uint32_t chunks_free;
    uint64_t cache_hits;   /* chunk lookups served from memory */
    uint64_t cache_misses; /* chunk lookups that needed a disk read */
    uint64_t cache_evictions;
    uint64_t cache_pinned_skips; /* eviction candidates skipped because a reader pinned them */
    uint64_t no_buffer;          /* times a chunk was needed and none could be freed */
    uint64_t sqe_full;           /* times the submission queue was full (work deferred) */
    uint64_t completions;
    uint64_t fixed_io;   /* reads/writes submitted as READ_FIXED / WRITE_FIXED / WRITEV_FIXED */
    uint64_t prefetches; /* chunks loaded ahead of a cold fetch (counted in cache_misses too) */
};

/* Fills config with the defaults noted on each field. */
void sl_storage_config_default(struct sl_storage_config *config);

/* Creates an engine: maps the pool (blocking), sets up the io_uring. *out owned by the
 * caller until sl_storage_destroy. Returns OK, INVALID_ARGUMENT, NO_MEMORY or IO. */
enum sl_storage_err sl_storage_create(const struct sl_storage_config *config,
                                      struct sl_storage **out);

/* Frees the engine. Every log must be closed and every read slice released first. */
void sl_storage_destroy(struct sl_storage *storage);

/* Non-blocking step: submits queued writes/fdatasyncs/reads, reaps completions, runs
 * the flush.ms timers, calls read/lookup/progress callbacks. Returns how many completions
 * and submissions it handled (0 = idle). */
uint32_t sl_storage_poll(struct sl_storage *storage, int64_t now_ms);

/* Blocks up to timeout_ms for at least one completion, then polls. For shutdown and
 * tests; a shard loop uses sl_storage_poll. Returns what sl_storage_poll returned. */
uint32_t sl_storage_wait(struct sl_storage *storage, int64_t now_ms, uint32_t timeout_ms);

/* True when no I/O is in flight and nothing is queued for submission. */
bool sl_storage_idle(const struct sl_storage *storage);

/* The engine's io_uring fd: it polls readable while completions wait to be reaped, so a
 * loop that sleeps elsewhere (sl_net_watch_fd) wakes for them. Owned by the engine. */
int sl_storage_completion_fd(const struct sl_storage *storage);

/* Drops the reference a read slice holds (any pointer inside slice data). Call once
 * per slice when transmit completes. */
void sl_storage_release(struct sl_storage *storage, const void *slice_data);

const struct sl_storage_stats *sl_storage_get_stats(struct sl_storage *storage);

/* ---- log configuration ------------------------------------------------------------- */

struct sl_log_config {
    uint32_t segment_bytes;        /* segment.bytes: roll when a batch would pass it (1 GiB) */
    int64_t segment_ms;            /* segment.ms: roll a non-empty segment this old (7 days) */
    uint32_t index_interval_bytes; /* index.interval.bytes: bytes between index entries (4096) */
    uint32_t
        segment_index_bytes;    /* segment.index.bytes: max .index size; roll when full (10 MiB) */
    int64_t retention_ms;       /* retention.ms: -1 = keep forever (7 days) */
    int64_t retention_bytes;    /* retention.bytes: -1 = no size limit (-1) */
    int64_t flush_messages;     /* flush.messages: fdatasync every N messages (INT64_MAX = never) */
    int64_t flush_ms;           /* flush.ms: fdatasync unsynced data this old (INT64_MAX = never) */
    uint32_t max_message_bytes; /* max.message.bytes: largest batch accepted (1048588) */
    bool log_append_time;       /* message.timestamp.type=LogAppendTime: stamp batches (false) */
    uint32_t pending_batches_max; /* batches appended but not yet written; full = BUSY (8192) */
};

/* Fills config with Kafka's defaults (noted per field). */
void sl_log_config_default(struct sl_log_config *config);

/* Checks ranges (e.g. segment_bytes >= 2 * max batch header, index sizes multiple of entry
 * size). Returns OK or INVALID_ARGUMENT. */
enum sl_storage_err sl_log_config_check(const struct sl_log_config *config);

/* Applies a changed configuration to an open log (a topic config altered at runtime).
 * From the next append, roll, flush check or retention pass on: segment_bytes,
 * segment_ms, index_interval_bytes, retention_ms, retention_bytes, flush_messages,
 * flush_ms, max_message_bytes, log_append_time. segment_index_bytes applies to segments created
 * from now on (the active segment keeps its index room); pending_batches_max keeps the value the
 * log was opened with (its ring is sized then). No I/O; owning thread. Returns OK, or
 * INVALID_ARGUMENT (as sl_log_open would) leaving the configuration unchanged. */
enum sl_storage_err sl_log_set_config(struct sl_log *log, const struct sl_log_config *config);

/* The configuration the log runs with now. */
const struct sl_log_config *sl_log_get_config(const struct sl_log *log);

/* Called from sl_storage_poll when the written end or the durable end offset advanced
 * (err == OK; both current values are passed), or once when a write or fdatasync failed
 * (err = NO_SPACE or IO; the log then refuses appends). */
typedef void (*sl_log_progress_cb)(void *ctx, struct sl_log *log, int64_t written_end_offset,
                                   int64_t durable_end_offset, enum sl_storage_err err);

struct sl_log_callbacks {
    sl_log_progress_cb progress; /* may be NULL */
    void *ctx;
};

/* ---- open / close ------------------------------------------------------------------ */

struct sl_log_recovery_report {
    bool clean_shutdown; /* the previous close was clean: nothing scanned */
    uint32_t segments_found;
    uint32_t segments_scanned; /* read fully and CRC-checked */
    uint32_t segments_deleted; /* whole segments after a corruption point, or empty strays */
    uint32_t indexes_rebuilt;  /* .index/.timeindex pairs rebuilt from the log */
    uint64_t batches_scanned;
    uint64_t bytes_scanned;
    uint64_t bytes_truncated; /* bytes cut from segment tails (torn data, garbage, padding) */
    /* Segments whose tail held a torn or invalid batch, not just the zero padding that an
     * O_DIRECT write of a partial page leaves behind. */
    uint32_t segments_damaged;
    int64_t recovery_point; /* offset below which data was trusted without scanning */
    int64_t log_start_offset;
    int64_t log_end_offset;
};

/* Opens (creating if needed) <log_dir>/<topic>-<partition>, recovering after an unclean
 * shutdown: scans segments from the recovery point, checks lengths and CRC32C, truncates
 * a torn or garbage tail, deletes later segments, rebuilds missing or corrupt indexes.
 * Takes an exclusive flock on <dir>/.lock for as long as the log is open. Blocking.
 * *out is owned by the engine until sl_log_close. report may be NULL. Returns OK,
 * INVALID_ARGUMENT, NO_MEMORY, NO_BUFFER (no chunk for the tail), IO, CORRUPT, IN_USE
 * (another sl_log, in this process or another, has the directory open). */
enum sl_storage_err sl_log_open(struct sl_storage *storage, const char *log_dir, const char *topic,
                                int32_t partition, const struct sl_log_config *config,
                                const struct sl_log_callbacks *callbacks, int64_t now_ms,
                                struct sl_log **out, struct sl_log_recovery_report *report);

/* Writes and fdatasyncs everything appended, waits for in-flight reads (their callbacks
 * run with whatever they got), truncates the last segment to its logical size, writes
 * the checkpoints and the clean-shutdown marker, frees the log. Blocking. Returns the
 * first I/O error met (the log is freed either way). */
enum sl_storage_err sl_log_close(struct sl_log *log);

/* ---- append ------------------------------------------------------------------------ */

/* Most batches one append may carry (a Produce partition's records field). */
#define SL_LOG_APPEND_BATCHES_MAX 64u

struct sl_log_append_result {
    int64_t base_offset;        /* offset given to the first record of the first batch */
    int64_t last_offset;        /* offset of the last record of the last batch */
    int64_t log_append_time_ms; /* wall clock stamped into the batches (LogAppendTime), else -1 */
    int64_t log_start_offset;
    int64_t log_end_offset; /* after this append: last_offset + 1 */
    uint32_t batch_count;
    /* When to acknowledge (the progress callback reports both points):
     * - true: the flush policy (flush.messages) asks for an fdatasync covering this
     *   append; acknowledge once the durable end offset >= log_end_offset.
     * - false: acknowledge once the written end offset >= log_end_offset. The bytes are
     *   then in the file and survive kill -9 of the broker, which is what Kafka's
     *   page-cache acknowledgement gives (not a power loss). Acknowledging right when
     *   sl_log_append returns is faster but loses the unwritten tail if the process dies. */
    bool wait_for_durable;
};

/* Appends the concatenated v2 batches in buf: validates all first (unless infos is
 * non-NULL: then infos[0..count) must come from sl_batch_validate_all on the same bytes
 * with this log's max_message_bytes), then assigns offsets, writes baseOffset and
 * leader_epoch into the copies, and copies each batch once into the tail buffer. With
 * log_append_time set, each copy also gets maxTimestamp = the wall clock, the LogAppendTime
 * attribute bit and the CRC32C that goes with them (the records stay as sent). All or
 * nothing: on any error the log is untouched. buf stays owned by the caller and may be
 * reused on return. Data path: does not block (a segment roll creates files; see above).
 * Returns OK, a BATCH_* validation error, NO_BUFFER or BUSY (backpressure: poll, retry),
 * NO_SPACE/IO (sticky after a failed write), or IO when a roll cannot create files. */
enum sl_storage_err sl_log_append(struct sl_log *log, const uint8_t *buf, size_t len,
                                  const struct sl_batch_info *infos, uint32_t count,
                                  int32_t leader_epoch, int64_t now_ms,
                                  struct sl_log_append_result *result);

/* Asks for an fdatasync covering everything appended so far (Kafka's explicit flush).
 * Non-blocking; the progress callback reports when it is done. */
void sl_log_flush(struct sl_log *log);

/* ---- read -------------------------------------------------------------------------- */

#define SL_LOG_READ_SLICES_MAX 16u

/* Bytes of whole batches inside one cache chunk. Holds one reference on that chunk:
 * release with sl_storage_release(storage, data). */
struct sl_log_slice {
    const uint8_t *data;
    uint32_t len;
};

struct sl_log_read_result {
    enum sl_storage_err err; /* OK, OFFSET_OUT_OF_RANGE, NO_BUFFER, BUSY, IO */
    int64_t first_offset;    /* base offset of the first batch (<= requested offset) */
    int64_t next_offset;     /* offset after the last batch returned (next fetch offset) */
    uint32_t bytes;          /* sum of slice lengths */
    uint32_t batch_count;
    uint32_t slice_count;
    struct sl_log_slice slices[SL_LOG_READ_SLICES_MAX];
    int64_t log_start_offset; /* at the time the result was made */
    int64_t log_end_offset;
};

/* Called from sl_storage_poll when a read that needed disk I/O finishes. result is the
 * pointer given to sl_log_read; on result->err != OK it holds no slices. */
typedef void (*sl_log_read_cb)(void *ctx, struct sl_log *log, struct sl_log_read_result *result);

/* Reads whole batches starting with the batch that contains offset, stopping before any
 * batch whose base offset is >= max_offset (e.g. the high watermark; INT64_MAX for none)
 * and once max_bytes would be exceeded, except that the first batch is always returned
 * whole (Kafka's KIP-74 rule), and at SL_LOG_READ_SLICES_MAX slices.
 * Returns OK with *result filled when everything was cached (cb is not called; offset ==
 * LEO gives zero slices), IN_PROGRESS when disk reads were issued (cb fires later, result
 * must stay valid until then), OFFSET_OUT_OF_RANGE (offset < log start or > LEO), BUSY
 * (read_ops_max reached) or NO_BUFFER. The caller releases every slice. */
enum sl_storage_err sl_log_read(struct sl_log *log, int64_t offset, int64_t max_offset,
                                uint32_t max_bytes, struct sl_log_read_result *result,
                                sl_log_read_cb cb, void *ctx);

/* Releases every slice of result and sets slice_count to 0. */
void sl_log_read_release(struct sl_storage *storage, struct sl_log_read_result *result);

/* Called from sl_storage_poll when a timestamp lookup that needed disk I/O finishes,
 * with the values sl_log_offset_for_timestamp describes; err NOT_FOUND when none. */
typedef void (*sl_log_lookup_cb)(void *ctx, struct sl_log *log, enum sl_storage_err err,
                                 int64_t offset, int64_t timestamp);

/* ListOffsets by timestamp: finds the first batch whose max timestamp >= timestamp (time
 * index, offset index, then batch headers) and in it the first record whose timestamp
 * >= timestamp: *offset and *record_timestamp are that record's, as Kafka answers. For
 * compressed or LogAppendTime batches (records are never decompressed) they are the
 * batch's base offset and max timestamp. Never below the log start offset. Returns OK,
 * IN_PROGRESS (cb later), NOT_FOUND, BUSY or NO_BUFFER. */
enum sl_storage_err sl_log_offset_for_timestamp(struct sl_log *log, int64_t timestamp,
                                                int64_t *offset, int64_t *record_timestamp,
                                                sl_log_lookup_cb cb, void *ctx);

/* ListOffsets max timestamp (-3): the largest record timestamp of the batches at or
 * above the log start offset, from the segments' running maxima (no I/O), or -1 when
 * the log holds none. sl_log_offset_for_timestamp with this value then finds the first
 * record carrying it, which is what Kafka answers (KIP-734). */
int64_t sl_log_max_timestamp(const struct sl_log *log);

/* ---- leader epochs (OffsetForLeaderEpoch, KIP-101/KIP-320) -------------------------- */

/* Most leader epochs a log remembers; beyond it the oldest is forgotten. */
#define SL_LOG_LEADER_EPOCHS_MAX 64u

/* Every batch carries the partition leader epoch it was appended in (sl_log_append's
 * leader_epoch). The log keeps, per epoch, the offset of its first batch: learnt on
 * append and on recovery, cut by truncation, moved by the log start offset, persisted in
 * <dir>/leader-epoch-checkpoint (Kafka's format) with the other checkpoints and rebuilt
 * from the batch headers at open when that file is missing. */

/* Kafka's answer for "where did epoch end?": for the latest epoch, that epoch and the log
 * end offset; otherwise the largest epoch <= `epoch` (or `epoch` itself when it is older
 * than every epoch kept) and the start offset of the first epoch after it. Returns false
 * (with -1, -1) when the log knows no epoch, epoch < 0, or epoch is newer than all. */
bool sl_log_end_offset_for_epoch(const struct sl_log *log, int32_t epoch, int32_t *epoch_out,
                                 int64_t *end_offset_out);
/* The latest leader epoch written to the log, or -1. */
int32_t sl_log_latest_epoch(const struct sl_log *log);
/* Copies up to max (epoch, start offset) pairs, oldest first; returns how many. */
uint32_t sl_log_leader_epochs(const struct sl_log *log, int32_t *epochs, int64_t *start_offsets,
                              uint32_t max);

/* ---- offsets and state ------------------------------------------------------------- */

int64_t sl_log_start_offset(const struct sl_log *log);
int64_t sl_log_end_offset(const struct sl_log *log);
int64_t sl_log_written_end_offset(const struct sl_log *log);
int64_t sl_log_durable_end_offset(const struct sl_log *log);
/* End of what survives a kill -9 of the process, what acks=1 acknowledges under the default
 * flush policy: the log end when the engine has a tail file (the bytes are in shared memory
 * the next start replays), else the written end. */
int64_t sl_log_safe_end_offset(const struct sl_log *log);
/* The high watermark is kept for the broker (which computes it) and checkpointed. */
int64_t sl_log_high_watermark(const struct sl_log *log);
void sl_log_set_high_watermark(struct sl_log *log, int64_t high_watermark);
uint64_t sl_log_size_bytes(const struct sl_log *log); /* sum of segment logical sizes */
uint32_t sl_log_segment_count(const struct sl_log *log);
/* Base offsets of the segments, oldest first; returns how many were written (<= max). */
uint32_t sl_log_segment_base_offsets(const struct sl_log *log, int64_t *base_offsets, uint32_t max);
/* The partition directory path (owned by the log). */
const char *sl_log_path(const struct sl_log *log);
/* Sticky error after a failed write or fdatasync; OK while healthy. */
enum sl_storage_err sl_log_failure(const struct sl_log *log);

struct sl_log_counters {
    uint64_t appends; /* successful sl_log_append calls */
    uint64_t append_batches;
    uint64_t append_bytes;
    uint64_t append_rejects;      /* validation errors */
    uint64_t append_backpressure; /* NO_BUFFER / BUSY */
    uint64_t writes;              /* O_DIRECT writes submitted */
    uint64_t write_bytes;         /* bytes submitted, including rewritten tail pages */
    uint64_t syncs;               /* fdatasyncs completed */
    uint64_t reads;               /* sl_log_read calls that returned data or went async */
    uint64_t read_bytes;
    uint64_t cache_hits;
    uint64_t cache_misses;
    uint64_t segments_rolled;
    uint64_t segments_deleted;
    uint64_t truncations; /* sl_log_truncate_to calls that removed data */
    uint64_t truncated_bytes;
    uint64_t io_errors;
};

const struct sl_log_counters *sl_log_get_counters(const struct sl_log *log);

/* ---- retention, truncation, checkpoints (maintenance; may block) ------------------- */

struct sl_log_retention_report {
    uint32_t segments_deleted;
    uint64_t bytes_deleted;
    int64_t log_start_offset; /* after the call */
};

/* Deletes whole closed segments (never the active one) whose max timestamp is older than
 * now_ms - retention.ms, then oldest closed segments while the log exceeds
 * retention.bytes; advances the log start offset past them. report may be NULL. */
enum sl_storage_err sl_log_enforce_retention(struct sl_log *log, int64_t now_ms,
                                             struct sl_log_retention_report *report);

/* DeleteRecords: raises the log start offset to offset (<= LEO; lower values are a no-op)
 * and deletes segments that lie wholly below it. Reads below it then fail with
 * OFFSET_OUT_OF_RANGE. Writes the checkpoints before returning. Returns OK,
 * OFFSET_OUT_OF_RANGE (offset > LEO) or IO. */
enum sl_storage_err sl_log_advance_start_offset(struct sl_log *log, int64_t offset,
                                                struct sl_log_retention_report *report);

/* Removes every batch whose base offset is >= offset (a follower's truncation). offset
 * must lie in [log start, LEO]; an offset inside a batch keeps that batch (offsets must
 * be batch boundaries from the caller's view). Waits for this log's in-flight I/O and
 * writes the checkpoints (the recovery point moves back). Returns OK,
 * OFFSET_OUT_OF_RANGE, NO_MEMORY or IO. */
enum sl_storage_err sl_log_truncate_to(struct sl_log *log, int64_t offset);

/* Writes the log-start-offset, high-watermark and recovery-point checkpoint files
 * (write to temp, fsync, rename). The recovery point is the base offset of the oldest
 * segment that may hold unsynced bytes; recovery scans from there. Blocking. */
enum sl_storage_err sl_log_write_checkpoints(struct sl_log *log);

#ifdef __cplusplus
}
#endif

#endif
