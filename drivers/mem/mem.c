/* Chunk pool over one mmap'ed region; see mem.h. */
#include "drivers/mem/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

#include "common/sl_assert.h"
#include "common/sl_compiler.h"

static void *map_region(size_t bytes, const struct sl_mem_pool_config *config,
                        bool *hugepage_backed)
{
    *hugepage_backed = false;
    if (config->file_backed) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, config->file_fd,
                       (off_t)config->file_offset);
        struct statfs fs;
        *hugepage_backed =
            p != MAP_FAILED && fstatfs(config->file_fd, &fs) == 0 && fs.f_type == HUGETLBFS_MAGIC;
        return p == MAP_FAILED ? NULL : p;
    }
    if (config->hugepages) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
        if (p != MAP_FAILED) {
            *hugepage_backed = true;
            return p;
        }
        /* No hugepages reserved (nr_hugepages = 0) is the common case: fall back. */
    }
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int sl_mem_pool_init(struct sl_mem_pool *pool, const struct sl_mem_pool_config *config)
{
    SL_ASSERT(pool != NULL);
    SL_ASSERT(config != NULL);
    memset(pool, 0, sizeof(*pool));
    if (config->chunk_bytes == 0 || config->chunk_bytes % SL_MEM_PAGE_BYTES != 0)
        return -EINVAL;
    if (config->chunk_count == 0)
        return -EINVAL;
    if (config->chunk_bytes > SIZE_MAX / config->chunk_count)
        return -EINVAL;

    size_t data_bytes = config->chunk_bytes * config->chunk_count;
    size_t region_bytes = data_bytes;
    if (config->hugepages || config->file_backed)
        region_bytes = SL_ALIGN_UP(data_bytes, (size_t)SL_MEM_HUGEPAGE_BYTES);
    if (config->file_backed && config->file_offset % SL_MEM_HUGEPAGE_BYTES != 0)
        return -EINVAL;

    pool->free_stack = calloc(config->chunk_count, sizeof(pool->free_stack[0]));
    pool->refcounts = calloc(config->chunk_count, sizeof(pool->refcounts[0]));
    if (pool->free_stack == NULL || pool->refcounts == NULL)
        goto free_arrays;

    bool hugepage_backed = false;
    void *base = map_region(region_bytes, config, &hugepage_backed);
    if (base == NULL)
        goto free_arrays;

    pool->base = base;
    pool->region_bytes = region_bytes;
    pool->chunk_bytes = config->chunk_bytes;
    pool->chunk_count = config->chunk_count;
    pool->hugepage_backed = hugepage_backed;
    /* Hand out low addresses first: index chunk_count-1 sits at the bottom of the stack. */
    for (uint32_t i = 0; i < config->chunk_count; i++)
        pool->free_stack[i] = config->chunk_count - 1 - i;
    pool->free_count = config->chunk_count;
    SL_ASSERT(((uintptr_t)pool->base % SL_MEM_PAGE_BYTES) == 0);
    return 0;

free_arrays:
    free(pool->free_stack);
    free(pool->refcounts);
    memset(pool, 0, sizeof(*pool));
    return -ENOMEM;
}

uint32_t sl_mem_pool_fini(struct sl_mem_pool *pool)
{
    SL_ASSERT(pool != NULL);
    if (pool->base == NULL)
        return 0;
    uint32_t referenced = pool->chunk_count - pool->free_count;
    munmap(pool->base, pool->region_bytes);
    free(pool->free_stack);
    free(pool->refcounts);
    memset(pool, 0, sizeof(*pool));
    return referenced;
}

uint32_t sl_mem_pool_chunk_index(const struct sl_mem_pool *pool, const void *ptr)
{
    SL_ASSERT(sl_mem_pool_owns(pool, ptr));
    size_t delta = (size_t)((const uint8_t *)ptr - pool->base);
    return (uint32_t)(delta / pool->chunk_bytes);
}

void *sl_mem_pool_chunk_base(const struct sl_mem_pool *pool, const void *ptr)
{
    return pool->base + (size_t)sl_mem_pool_chunk_index(pool, ptr) * pool->chunk_bytes;
}

bool sl_mem_pool_owns(const struct sl_mem_pool *pool, const void *ptr)
{
    const uint8_t *p = ptr;
    return pool->base != NULL && p >= pool->base &&
           p < pool->base + pool->chunk_bytes * pool->chunk_count;
}

void *sl_mem_pool_get(struct sl_mem_pool *pool)
{
    if (SL_UNLIKELY(pool->free_count == 0)) {
        pool->stats.get_failures++;
        return NULL;
    }
    uint32_t index = pool->free_stack[--pool->free_count];
    SL_ASSERT(index < pool->chunk_count);
    SL_ASSERT(pool->refcounts[index] == 0);
    pool->refcounts[index] = 1;
    pool->stats.gets++;
    uint32_t in_use = pool->chunk_count - pool->free_count;
    if (in_use > pool->stats.in_use_max)
        pool->stats.in_use_max = in_use;
    return pool->base + (size_t)index * pool->chunk_bytes;
}

void sl_mem_pool_ref(struct sl_mem_pool *pool, const void *ptr)
{
    uint32_t index = sl_mem_pool_chunk_index(pool, ptr);
    SL_ASSERT(pool->refcounts[index] > 0);
    SL_ASSERT(pool->refcounts[index] < UINT32_MAX);
    pool->refcounts[index]++;
}

void sl_mem_pool_put(struct sl_mem_pool *pool, const void *ptr)
{
    uint32_t index = sl_mem_pool_chunk_index(pool, ptr);
    SL_ASSERT(pool->refcounts[index] > 0);
    if (--pool->refcounts[index] > 0)
        return;
    SL_ASSERT(pool->free_count < pool->chunk_count);
    pool->free_stack[pool->free_count++] = index;
    pool->stats.puts_to_free++;
}

uint32_t sl_mem_pool_refcount(const struct sl_mem_pool *pool, const void *ptr)
{
    return pool->refcounts[sl_mem_pool_chunk_index(pool, ptr)];
}
