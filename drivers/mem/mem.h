/* Page-aligned, reference-counted chunk pool over one memory region.
 *
 * One region is mmap'ed at init: with MAP_HUGETLB (2 MiB pages) when asked for and
 * available, otherwise with ordinary 4 KiB pages (the pool reports which). The region is
 * carved into fixed-size chunks whose addresses and sizes are multiples of 4096, so a chunk
 * can be the source or target of O_DIRECT I/O and, later, of NIC DMA. Every chunk carries a
 * reference count; a chunk returns to the free list only when its last reference is put.
 *
 * Threading: a pool belongs to one thread (a shard). No function here is thread-safe.
 * Bounds: chunk size and chunk count come from configuration; exhaustion returns NULL
 * (backpressure, counted in stats), never aborts.
 */
#ifndef SL_MEM_H
#define SL_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Alignment every chunk honours: O_DIRECT needs 4096 on the file systems we target. */
#define SL_MEM_PAGE_BYTES     4096u
#define SL_MEM_HUGEPAGE_BYTES (2u * 1024u * 1024u)

struct sl_mem_pool_config {
    size_t chunk_bytes;   /* multiple of SL_MEM_PAGE_BYTES, > 0 */
    uint32_t chunk_count; /* > 0; region = chunk_bytes * chunk_count (rounded up to a hugepage) */
    bool hugepages;       /* try MAP_HUGETLB first; falls back to 4 KiB pages on failure */
    /* Map the region from this file (MAP_SHARED, at file_offset) instead of anonymous
     * memory, so its contents outlive the process. The file must be at least file_offset +
     * the region long; hugepages is then ignored: a file on hugetlbfs gives hugepages. */
    bool file_backed;
    int file_fd;
    uint64_t file_offset; /* multiple of SL_MEM_HUGEPAGE_BYTES */
};

struct sl_mem_pool_stats {
    uint64_t gets;         /* successful sl_mem_pool_get calls */
    uint64_t get_failures; /* sl_mem_pool_get calls that found the pool empty */
    uint64_t puts_to_free; /* chunks returned to the free list */
    uint32_t in_use_max;   /* high-water mark of chunks in use */
};

struct sl_mem_pool {
    uint8_t *base;       /* first chunk; page (or hugepage) aligned */
    size_t region_bytes; /* length of the mapping */
    size_t chunk_bytes;
    uint32_t chunk_count;
    uint32_t free_count;  /* entries valid in free_stack */
    uint32_t *free_stack; /* indexes of free chunks (LIFO keeps hot chunks hot) */
    uint32_t *refcounts;  /* one per chunk; 0 = free */
    bool hugepage_backed; /* true when the region really is MAP_HUGETLB memory */
    struct sl_mem_pool_stats stats;
};

/* Maps the region and builds the free list. Blocking (mmap, may touch memory); call at
 * startup. Returns 0, -EINVAL for a bad config, -ENOMEM when no mapping works. */
int sl_mem_pool_init(struct sl_mem_pool *pool, const struct sl_mem_pool_config *config);

/* Unmaps the region. Returns the number of chunks still referenced (0 when the caller
 * released everything; anything else is a leak the caller should report). */
uint32_t sl_mem_pool_fini(struct sl_mem_pool *pool);

/* Takes a free chunk with reference count 1. Contents are whatever was there before
 * (not zeroed). Returns NULL when every chunk is in use. */
void *sl_mem_pool_get(struct sl_mem_pool *pool);

/* Adds a reference to the chunk containing ptr (any address inside the chunk). The chunk
 * must be in use. */
void sl_mem_pool_ref(struct sl_mem_pool *pool, const void *ptr);

/* Drops a reference to the chunk containing ptr; at zero the chunk becomes free and may be
 * handed out again by the next sl_mem_pool_get. */
void sl_mem_pool_put(struct sl_mem_pool *pool, const void *ptr);

/* Current reference count of the chunk containing ptr (0 = free). */
uint32_t sl_mem_pool_refcount(const struct sl_mem_pool *pool, const void *ptr);

/* Start address of the chunk containing ptr. */
void *sl_mem_pool_chunk_base(const struct sl_mem_pool *pool, const void *ptr);

/* Index of the chunk containing ptr, in [0, chunk_count). */
uint32_t sl_mem_pool_chunk_index(const struct sl_mem_pool *pool, const void *ptr);

/* True when ptr points inside the pool's chunks. */
bool sl_mem_pool_owns(const struct sl_mem_pool *pool, const void *ptr);

/* Number of chunks currently free. */
static inline uint32_t sl_mem_pool_free_count(const struct sl_mem_pool *pool)
{
    return pool->free_count;
}

#ifdef __cplusplus
}
#endif

#endif
