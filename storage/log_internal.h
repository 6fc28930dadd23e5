/* Internal state of the storage engine, its logs and segments. Not for other layers. */
#ifndef SL_STORAGE_LOG_INTERNAL_H
#define SL_STORAGE_LOG_INTERNAL_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "drivers/mem/mem.h"
#include "storage/cache.h"
#include "storage/index.h"
#include "storage/log.h"
#include "storage/tail_journal.h"

#define SL_SEGMENT_WRITE_IOVS_MAX 16u
#define SL_READ_OP_LOADS_MAX      (4u * SL_LOG_READ_SLICES_MAX)
#define SL_PATH_BYTES             4096u
/* io_uring caps one registered buffer at 1 GiB: the pool is registered in such pieces. */
#define SL_FIXED_BUFFER_BYTES (1024ull * 1024 * 1024)
/* IORING_OP_FTRUNCATE (kernel 6.9) is newer than liburing 2.3's headers; the value is
 * the kernel's ABI. Used only when the probe says the kernel supports it. */
#ifdef IORING_OP_FTRUNCATE
#define SL_IORING_OP_FTRUNCATE IORING_OP_FTRUNCATE
#else
#define SL_IORING_OP_FTRUNCATE 55
#endif
/* IORING_OP_WRITEV_FIXED (kernel 6.15): a vectored write from one registered buffer, so a
 * write spanning two chunks skips page pinning too. Same ABI note as above. */
#ifdef IORING_OP_WRITEV_FIXED
#define SL_IORING_OP_WRITEV_FIXED IORING_OP_WRITEV_FIXED
#else
#define SL_IORING_OP_WRITEV_FIXED 61
#endif

enum sl_io_kind {
    SL_IO_WRITE = 1,
    SL_IO_SYNC,
    SL_IO_LOAD,
    SL_IO_TRUNCATE,
};

/* Rides in io_uring user_data; owner is the segment or the read op. */
struct sl_io_op {
    uint8_t kind; /* enum sl_io_kind */
    bool in_flight;
    void *owner;
};

struct sl_segment {
    uint64_t id; /* unique per engine: cache key, never reused */
    struct sl_log *log;
    int64_t base_offset;
    int64_t next_offset;        /* offset after the last batch */
    uint32_t size_bytes;        /* logical size: end of the last batch */
    uint32_t written_bytes;     /* prefix on disk (completed writes) */
    uint32_t write_start_bytes; /* in-flight write: file range start (page aligned) */
    uint32_t write_end_bytes;   /* in-flight write: logical end it covers */
    uint32_t bytes_since_index;
    int64_t max_timestamp; /* -1 while empty */
    int64_t max_timestamp_offset;
    int64_t created_ms;
    int fd;
    bool sealed;            /* no more appends */
    bool truncated_on_disk; /* sealed, fully written and cut to size_bytes */
    bool needs_sync;        /* written bytes not yet covered by a completed fdatasync */
    bool settled;           /* sealed + written + truncated + synced: below the recovery point */
    struct sl_index offset_index;
    struct sl_index time_index;
    struct sl_io_op write_op;
    struct sl_io_op sync_op;
    struct sl_io_op truncate_op;
    struct iovec iovs[SL_SEGMENT_WRITE_IOVS_MAX];
};

struct sl_pending_batch {
    struct sl_segment *segment;
    uint32_t end_bytes;
    int64_t next_offset;
};

/* First offset of a leader epoch in the log (leader_epochs.c). */
struct sl_log_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
};

struct sl_log {
    struct sl_storage *storage;
    struct sl_log_config config;
    struct sl_log_callbacks callbacks;
    char path[SL_PATH_BYTES];
    bool tail_journaled;          /* appends are recorded in the engine's tail journal */
    int lock_fd;                  /* holds flock(LOCK_EX) on <path>/.lock while open */
    struct sl_segment **segments; /* oldest first; the last one is active */
    uint32_t segment_count;
    uint32_t segment_capacity;
    uint32_t unsettled_count; /* segments not settled (always includes the active one) */
    int64_t log_start_offset;
    int64_t log_end_offset;
    int64_t written_end_offset;
    int64_t durable_end_offset;
    int64_t high_watermark;
    uint64_t size_bytes;
    struct sl_pending_batch *pending; /* ring, config.pending_batches_max */
    uint32_t pending_head;
    uint32_t pending_count;
    int64_t unflushed_messages;
    int64_t sync_target_offset; /* the flush policy wants durable end >= this */
    int64_t last_sync_ms;
    bool sync_round_in_flight;
    uint32_t sync_round_pending;
    int64_t sync_round_candidate;
    bool settle_wanted; /* a sealed segment waits for its fdatasync */
    enum sl_storage_err failure;
    bool failure_reported;
    uint32_t io_in_flight;    /* writes + syncs */
    uint32_t reads_in_flight; /* read ops owned by this log */
    bool in_work_list;
    struct sl_log *work_next;
    struct sl_log *prev;
    struct sl_log *next;
    struct sl_log_counters counters;
    /* Leader epochs in increasing order, oldest first (bounded; see leader_epochs.c). */
    struct sl_log_epoch_entry epochs[SL_LOG_LEADER_EPOCHS_MAX];
    uint32_t epoch_count;
};

enum sl_read_kind {
    SL_READ_FETCH = 1,
    SL_READ_TIME,
    SL_READ_PREFETCH, /* a chunk loaded ahead of a cold fetch; nobody waits on it */
};
/* A cold fetch loads the chunk it misses and up to this many after it (not past the
 * segment), so the disk reads a fetch's worth in parallel instead of one chunk per client
 * round trip. The window is the fetch's max_bytes, but at least SL_READ_PREFETCH_MIN_BYTES:
 * clients fetch 1 MiB per partition by default, and a sequential reader's next fetch wants
 * what follows. Prefetches use at most half of read_ops_max. */
#define SL_READ_PREFETCH_CHUNKS_MAX 15u
#define SL_READ_PREFETCH_MIN_BYTES  (4u * 1024 * 1024)

struct sl_read_op {
    uint8_t kind; /* enum sl_read_kind */
    struct sl_log *log;
    int64_t offset;
    int64_t max_offset;
    uint32_t max_bytes;
    struct sl_log_read_result *result;
    sl_log_read_cb read_cb;
    int64_t timestamp;
    int64_t *offset_out;
    int64_t *timestamp_out;
    sl_log_lookup_cb lookup_cb;
    void *ctx;
    uint32_t loads;
    struct sl_cache_entry *entry; /* being loaded */
    struct sl_io_op load_op;
    struct sl_read_op *next; /* free list or retry list */
};

struct sl_storage {
    struct sl_storage_config config;
    struct io_uring ring;
    uint32_t cq_entries;
    struct sl_mem_pool pool;
    struct sl_cache cache;
    struct sl_tail_journal *journal; /* NULL without config.tail_file */
    struct sl_storage_stats stats;
    uint64_t next_segment_id;
    int64_t now_ms;
    bool direct_io;
    bool direct_io_warned;
    bool fixed_buffers; /* pool registered: buffer i covers SL_FIXED_BUFFER_BYTES from base */
    bool writev_fixed;  /* kernel has IORING_OP_WRITEV_FIXED */
    uint32_t prefetches_in_flight;
    bool async_ftruncate;     /* the kernel has IORING_OP_FTRUNCATE (6.9+) */
    uint32_t in_flight;       /* submitted or prepared, not yet completed */
    uint32_t unsubmitted;     /* prepared SQEs */
    struct sl_log *logs;      /* every open log */
    struct sl_log *work_head; /* logs with something to submit or a timer */
    struct sl_read_op *read_ops;
    struct sl_read_op *read_free;
    struct sl_read_op *read_retry;
};

/* engine.c */
struct io_uring_sqe *sl_storage_get_sqe(struct sl_storage *storage);
void sl_storage_submit(struct sl_storage *storage);
void sl_storage_kick(struct sl_log *log);
/* Index of the registered buffer holding [ptr, ptr+len), or -1 when not registered or the
 * range crosses a buffer boundary. */
int sl_storage_fixed_index(const struct sl_storage *storage, const void *ptr, size_t len);

/* segment.c */
struct sl_segment *sl_segment_new(struct sl_log *log, int64_t base_offset, int64_t now_ms);
void sl_segment_free(struct sl_segment *segment);
void sl_segment_file_path(const struct sl_log *log, int64_t base_offset, const char *suffix,
                          char *out);
/* Records a DIRTY chunk of the segment in the tail journal (no-op for logs without one). */
void sl_segment_journal_dirty(struct sl_log *log, const struct sl_segment *segment,
                              const struct sl_cache_entry *entry);
/* Opens the .log file (O_DIRECT when the engine can; create = O_CREAT|O_TRUNC). 0 or -errno. */
int sl_segment_open_file(struct sl_log *log, struct sl_segment *segment, bool create);
void sl_segment_note_batch(struct sl_log *log, struct sl_segment *segment,
                           const struct sl_batch_info *info, uint32_t position);
void sl_segment_finish_time_index(struct sl_segment *segment);
int sl_segment_save_indexes(struct sl_log *log, struct sl_segment *segment);
/* Puts the partial last chunk of the segment (the append target) in the cache as DIRTY;
 * nothing when the segment ends on a chunk boundary (empty ones too). 0, -ENOBUFS or
 * -errno. Blocking read. */
int sl_segment_load_tail(struct sl_log *log, struct sl_segment *segment);
void sl_segment_delete_files(struct sl_log *log, struct sl_segment *segment);

struct sl_scan_result {
    uint32_t valid_bytes;
    uint64_t batches;
    bool stopped_early; /* invalid bytes found before the file end */
};
/* Walks the segment file with buffered reads, checking each batch (CRC when check_crc)
 * and contiguous offsets, and stops at the first invalid batch or at stop_offset (the
 * first batch whose base >= stop_offset). Without resume it starts at position 0 and
 * rebuilds both indexes and next_offset/max_timestamp/size_bytes; with resume it goes on
 * from size_bytes/next_offset as the caller set them (indexes loaded up to there).
 * Blocking. */
int sl_segment_scan(struct sl_log *log, struct sl_segment *segment, bool check_crc,
                    int64_t stop_offset, bool resume, struct sl_scan_result *result);

/* log_write.c */
void sl_log_service(struct sl_log *log, int64_t now_ms);
void sl_log_write_done(struct sl_segment *segment, int res);
void sl_log_sync_done(struct sl_segment *segment, int res);
void sl_log_truncate_done(struct sl_segment *segment, int res);
void sl_log_report_progress(struct sl_log *log);
enum sl_storage_err sl_log_roll(struct sl_log *log, int64_t now_ms);
void sl_log_seal(struct sl_log *log, struct sl_segment *segment);

/* log_read.c */
void sl_read_load_done(struct sl_read_op *op, int res);
void sl_read_retry_all(struct sl_storage *storage);

/* leader_epochs.c */
/* Records that `epoch` starts at start_offset (a no-op unless it is newer than the last). */
void sl_epochs_note(struct sl_log *log, int32_t epoch, int64_t start_offset);
/* Forgets epochs starting at or after end_offset (truncation, torn tail). */
void sl_epochs_truncate_from_end(struct sl_log *log, int64_t end_offset);
/* Forgets epochs wholly below start_offset; the one in force there starts at it. */
void sl_epochs_truncate_from_start(struct sl_log *log, int64_t start_offset);
/* Loads leader-epoch-checkpoint; false when missing or malformed (then empty). */
bool sl_epochs_load(struct sl_log *log);
/* Writes leader-epoch-checkpoint (temp file, fsync, rename). 0 or -errno. */
int sl_epochs_save(const struct sl_log *log);
/* Rebuilds the cache from every batch header of every segment (blocking). 0 or -errno. */
int sl_epochs_rebuild(struct sl_log *log);

/* log_open.c / log_maint.c */
bool sl_log_wait_io(struct sl_log *log, bool require_written);
void sl_log_remove_segment_at(struct sl_log *log, uint32_t index);
enum sl_storage_err sl_storage_err_from_errno(int err);
uint32_t sl_log_find_segment(const struct sl_log *log, int64_t offset);

#endif
