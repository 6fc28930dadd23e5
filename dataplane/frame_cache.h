/* Reusable buffers for request frames that span receive buffers (one shard's).
 *
 * A 1 MiB Produce frame assembled into freshly allocated memory costs 256 page faults and
 * as many zeroed pages on every request (glibc maps large blocks and returns them at
 * free). Keeping recently freed buffers, by power-of-two size class, removes that cost
 * from the steady state. The cache holds at most `retained_bytes_max` bytes; a buffer
 * that does not fit is freed. Small frames go to malloc directly (it serves them from
 * its heap without faults).
 *
 * Single-threaded: only the owning shard thread calls these.
 */
#ifndef SL_DP_FRAME_CACHE_H
#define SL_DP_FRAME_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define SL_DP_FRAME_CACHE_MIN_CLASS_SHIFT 16 /* 64 KiB: below it, plain aligned_alloc */
#define SL_DP_FRAME_CACHE_CLASSES         16 /* 64 KiB .. 2 GiB */
#define SL_DP_FRAME_CACHE_PER_CLASS       64

struct sl_dp_frame_cache {
    uint64_t retained_bytes_max;
    uint64_t retained_bytes;
    uint64_t hits;   /* gets served from the cache */
    uint64_t misses; /* gets that allocated */
    uint32_t count[SL_DP_FRAME_CACHE_CLASSES];
    void *free[SL_DP_FRAME_CACHE_CLASSES][SL_DP_FRAME_CACHE_PER_CLASS];
};

/* Starts an empty cache that keeps at most retained_bytes_max bytes of free buffers. */
void sl_dp_frame_cache_init(struct sl_dp_frame_cache *c, uint64_t retained_bytes_max);

/* Bytes a buffer for a frame of len_bytes occupies (what the frame-memory budget counts):
 * page-aligned below the first class, the class size from there on. */
size_t sl_dp_frame_cache_alloc_bytes(size_t len_bytes);

/* A page-aligned buffer of at least len_bytes (its size is
 * sl_dp_frame_cache_alloc_bytes(len_bytes)); NULL when memory is exhausted. The caller
 * owns it until sl_dp_frame_cache_put. */
void *sl_dp_frame_cache_get(struct sl_dp_frame_cache *c, size_t len_bytes);

/* Returns a buffer from sl_dp_frame_cache_get(len_bytes) (same len_bytes): kept for
 * reuse when there is room, else freed. NULL is ignored. */
void sl_dp_frame_cache_put(struct sl_dp_frame_cache *c, void *buf, size_t len_bytes);

/* Frees every retained buffer. */
void sl_dp_frame_cache_destroy(struct sl_dp_frame_cache *c);

#endif
