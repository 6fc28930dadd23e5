/* Tail journal: the storage engine's chunk pool kept in a shared-memory file that outlives
 * the process, with one record per chunk naming the segment file range a DIRTY chunk holds.
 *
 * Why: an acknowledged batch must survive a kill -9 of the broker (architecture invariant
 * 6). Without the journal that means waiting for its O_DIRECT write. With it, a batch is safe
 * once it is copied into its tail chunk: the chunk is a page of a tmpfs (or hugetlbfs) file
 * the kernel keeps after the process dies, and the next start writes every DIRTY chunk to
 * its segment file (sl_storage_replay_tail_file) before any log is opened. An OS crash or power
 * loss before the write loses it, as it loses Kafka's page-cache acknowledgements.
 *
 * File layout: a header page, chunk_count records of SL_TAIL_RECORD_BYTES, padding to a
 * 2 MiB boundary (the pool may be hugetlbfs), then the pool's chunks.
 *
 * Threading: one engine (one thread) writes a journal. Replay runs before any engine of
 * the broker exists. Internal to storage/.
 */
#ifndef SL_STORAGE_TAIL_JOURNAL_H
#define SL_STORAGE_TAIL_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_TAIL_RECORD_BYTES 512u
/* Longest segment file path a record holds (with its NUL). */
#define SL_TAIL_PATH_BYTES (SL_TAIL_RECORD_BYTES - 16u)

struct sl_tail_journal;

/* Creates (or truncates) the file at path sized for the pool, allocates all of it (so a full
 * tmpfs is -ENOSPC here, not a SIGBUS later) and maps its record table. The file stays
 * flock'ed until close (-EBUSY: another engine holds it).
 * *pool_fd and *pool_offset say where the pool's chunks go (sl_mem_pool_config.file_*);
 * the fd stays owned by the journal. Returns 0 or a negative errno. */
int sl_tail_journal_create(const char *path, size_t chunk_bytes, uint32_t chunk_count,
                           struct sl_tail_journal **out, int *pool_fd, uint64_t *pool_offset);

/* Removes the file, unmaps the table and closes it (the caller has written every DIRTY
 * chunk, or failed before using the journal). NULL is ignored. */
void sl_tail_journal_close(struct sl_tail_journal *journal);

/* Chunk chunk_index of the pool now holds the bytes of segment file path from file_offset,
 * the first valid_bytes of them valid. path must fit SL_TAIL_PATH_BYTES. */
void sl_tail_journal_dirty(struct sl_tail_journal *journal, uint32_t chunk_index, const char *path,
                           uint64_t file_offset, uint32_t valid_bytes);

/* The DIRTY chunk's first valid_bytes are valid (called after the bytes are copied). */
void sl_tail_journal_valid(struct sl_tail_journal *journal, uint32_t chunk_index,
                           uint32_t valid_bytes);

/* The chunk no longer holds anything to replay (written, or its segment is gone). */
void sl_tail_journal_clean(struct sl_tail_journal *journal, uint32_t chunk_index);

/* Replay is public: sl_storage_replay_tail_file in storage/log.h. */

#endif
