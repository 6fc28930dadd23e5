/* Batch cache: pool chunks keyed by (segment id, chunk index within the segment file).
 *
 * Internal to storage/. One cache per engine, one thread. The cache holds one pool
 * reference per entry; readers add their own (pins). Only READY entries whose chunk has no
 * reference but the cache's are evicted, least recently used first. DIRTY entries hold
 * bytes not yet written (or the append tail) and LOADING entries are targets of an
 * in-flight read: neither is ever evicted or freed under the kernel. With a tail journal
 * (storage.tail.shared.memory), a DIRTY entry that leaves that state (written, removed)
 * clears its chunk's journal record.
 */
#ifndef SL_STORAGE_CACHE_H
#define SL_STORAGE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/mem/mem.h"

enum sl_cache_state {
    SL_CACHE_FREE = 0,
    SL_CACHE_LOADING,
    SL_CACHE_DIRTY,
    SL_CACHE_READY,
};

#define SL_CACHE_NONE UINT32_MAX

struct sl_cache_entry {
    uint64_t segment_id;
    uint32_t chunk_index;
    uint32_t valid_bytes; /* bytes from the chunk start that hold file data */
    uint8_t *chunk;
    uint8_t state; /* enum sl_cache_state */
    bool orphaned; /* LOADING entry detached from the hash: free on completion */
    uint32_t lru_prev;
    uint32_t lru_next;
    uint32_t hash_next;
};

struct sl_tail_journal;

struct sl_cache {
    struct sl_mem_pool *pool;
    struct sl_tail_journal *journal; /* NULL without storage.tail.shared.memory */
    struct sl_cache_entry *entries;  /* pool->chunk_count entries */
    uint32_t entry_count;
    uint32_t *buckets;
    uint32_t bucket_mask;
    uint32_t free_head; /* free entries chained through hash_next */
    uint32_t lru_head;  /* most recently used */
    uint32_t lru_tail;  /* eviction end */
    uint64_t hits;
    uint64_t misses;
    uint64_t evictions;
    uint64_t pinned_skips;
    uint64_t no_buffer;
};

/* Returns 0 or -ENOMEM. */
int sl_cache_init(struct sl_cache *cache, struct sl_mem_pool *pool);
/* Drops every entry's reference. No LOADING entries may remain. */
void sl_cache_fini(struct sl_cache *cache);

/* Finds an entry (any state but FREE, not orphaned) and marks it recently used. */
struct sl_cache_entry *sl_cache_lookup(struct sl_cache *cache, uint64_t segment_id,
                                       uint32_t chunk_index);

/* Creates an entry in the given state with a fresh chunk, evicting if needed. The key
 * must not be present. Returns NULL when no chunk can be freed (counted). */
struct sl_cache_entry *sl_cache_insert(struct sl_cache *cache, uint64_t segment_id,
                                       uint32_t chunk_index, enum sl_cache_state state);

/* Removes the entry and drops the cache's chunk reference (readers' pins keep the chunk
 * alive). A LOADING entry is only detached (orphaned) and freed by sl_cache_load_done. */
void sl_cache_remove(struct sl_cache *cache, struct sl_cache_entry *entry);

/* Completion of a load into a LOADING entry: READY with valid_bytes, or, when the entry
 * was orphaned or the load failed (ok false), freed. Returns true if the entry is usable. */
bool sl_cache_load_done(struct sl_cache *cache, struct sl_cache_entry *entry, bool ok,
                        uint32_t valid_bytes);

/* A DIRTY entry whose bytes are all written becomes READY (evictable). */
void sl_cache_mark_written(struct sl_cache *cache, struct sl_cache_entry *entry);

/* Removes every entry of segment_id with chunk_index >= first_chunk_index. */
void sl_cache_invalidate(struct sl_cache *cache, uint64_t segment_id, uint32_t first_chunk_index);

#endif
