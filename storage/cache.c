/* Batch cache over the chunk pool; see cache.h. */
#include "storage/cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/sl_assert.h"
#include "storage/tail_journal.h"

static uint32_t key_hash(uint64_t segment_id, uint32_t chunk_index)
{
    uint64_t h =
        segment_id * 0x9E3779B97F4A7C15ull ^ ((uint64_t)chunk_index * 0xC2B2AE3D27D4EB4Full);
    h ^= h >> 29;
    return (uint32_t)h;
}

int sl_cache_init(struct sl_cache *cache, struct sl_mem_pool *pool)
{
    memset(cache, 0, sizeof(*cache));
    cache->pool = pool;
    cache->entry_count = pool->chunk_count;
    uint32_t buckets = 1;
    while (buckets < cache->entry_count * 2u)
        buckets <<= 1;
    cache->entries = calloc(cache->entry_count, sizeof(cache->entries[0]));
    cache->buckets = malloc(sizeof(cache->buckets[0]) * buckets);
    if (cache->entries == NULL || cache->buckets == NULL) {
        free(cache->entries);
        free(cache->buckets);
        return -ENOMEM;
    }
    cache->bucket_mask = buckets - 1;
    for (uint32_t i = 0; i < buckets; i++)
        cache->buckets[i] = SL_CACHE_NONE;
    for (uint32_t i = 0; i < cache->entry_count; i++)
        cache->entries[i].hash_next = i + 1 < cache->entry_count ? i + 1 : SL_CACHE_NONE;
    cache->free_head = 0;
    cache->lru_head = SL_CACHE_NONE;
    cache->lru_tail = SL_CACHE_NONE;
    return 0;
}

static uint32_t entry_id(const struct sl_cache *cache, const struct sl_cache_entry *e)
{
    return (uint32_t)(e - cache->entries);
}

static void lru_unlink(struct sl_cache *cache, struct sl_cache_entry *e)
{
    if (e->lru_prev != SL_CACHE_NONE)
        cache->entries[e->lru_prev].lru_next = e->lru_next;
    else
        cache->lru_head = e->lru_next;
    if (e->lru_next != SL_CACHE_NONE)
        cache->entries[e->lru_next].lru_prev = e->lru_prev;
    else
        cache->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = SL_CACHE_NONE;
}

static void lru_push_head(struct sl_cache *cache, struct sl_cache_entry *e)
{
    uint32_t id = entry_id(cache, e);
    e->lru_prev = SL_CACHE_NONE;
    e->lru_next = cache->lru_head;
    if (cache->lru_head != SL_CACHE_NONE)
        cache->entries[cache->lru_head].lru_prev = id;
    cache->lru_head = id;
    if (cache->lru_tail == SL_CACHE_NONE)
        cache->lru_tail = id;
}

static void hash_unlink(struct sl_cache *cache, struct sl_cache_entry *e)
{
    uint32_t id = entry_id(cache, e);
    uint32_t *link = &cache->buckets[key_hash(e->segment_id, e->chunk_index) & cache->bucket_mask];
    while (*link != SL_CACHE_NONE) {
        if (*link == id) {
            *link = e->hash_next;
            e->hash_next = SL_CACHE_NONE;
            return;
        }
        link = &cache->entries[*link].hash_next;
    }
    SL_ASSERT(!"entry missing from its hash chain");
}

static void entry_free(struct sl_cache *cache, struct sl_cache_entry *e)
{
    if (e->state == SL_CACHE_DIRTY && cache->journal != NULL)
        sl_tail_journal_clean(cache->journal, sl_mem_pool_chunk_index(cache->pool, e->chunk));
    sl_mem_pool_put(cache->pool, e->chunk);
    memset(e, 0, sizeof(*e));
    e->state = SL_CACHE_FREE;
    e->lru_prev = e->lru_next = SL_CACHE_NONE;
    e->hash_next = cache->free_head;
    cache->free_head = entry_id(cache, e);
}

void sl_cache_fini(struct sl_cache *cache)
{
    if (cache->entries == NULL)
        return;
    for (uint32_t i = 0; i < cache->entry_count; i++) {
        struct sl_cache_entry *e = &cache->entries[i];
        if (e->state == SL_CACHE_FREE)
            continue;
        SL_ASSERT(e->state != SL_CACHE_LOADING);
        sl_mem_pool_put(cache->pool, e->chunk);
    }
    free(cache->entries);
    free(cache->buckets);
    memset(cache, 0, sizeof(*cache));
}

struct sl_cache_entry *sl_cache_lookup(struct sl_cache *cache, uint64_t segment_id,
                                       uint32_t chunk_index)
{
    uint32_t id = cache->buckets[key_hash(segment_id, chunk_index) & cache->bucket_mask];
    while (id != SL_CACHE_NONE) {
        struct sl_cache_entry *e = &cache->entries[id];
        if (e->segment_id == segment_id && e->chunk_index == chunk_index) {
            lru_unlink(cache, e);
            lru_push_head(cache, e);
            return e;
        }
        id = e->hash_next;
    }
    return NULL;
}

/* Frees the least recently used unpinned READY entry. Returns false if none. */
static bool evict_one(struct sl_cache *cache)
{
    uint32_t id = cache->lru_tail;
    while (id != SL_CACHE_NONE) {
        struct sl_cache_entry *e = &cache->entries[id];
        uint32_t prev = e->lru_prev;
        if (e->state == SL_CACHE_READY) {
            if (sl_mem_pool_refcount(cache->pool, e->chunk) == 1) {
                lru_unlink(cache, e);
                hash_unlink(cache, e);
                entry_free(cache, e);
                cache->evictions++;
                return true;
            }
            cache->pinned_skips++;
        }
        id = prev;
    }
    return false;
}

struct sl_cache_entry *sl_cache_insert(struct sl_cache *cache, uint64_t segment_id,
                                       uint32_t chunk_index, enum sl_cache_state state)
{
    SL_ASSERT(state != SL_CACHE_FREE);
    SL_ASSERT(segment_id != 0);
    uint8_t *chunk = sl_mem_pool_get(cache->pool);
    if (chunk == NULL && evict_one(cache))
        chunk = sl_mem_pool_get(cache->pool);
    if (chunk == NULL) {
        cache->no_buffer++;
        return NULL;
    }
    /* Entries never outnumber chunks held by the cache, so a free entry exists. */
    SL_ASSERT(cache->free_head != SL_CACHE_NONE);
    struct sl_cache_entry *e = &cache->entries[cache->free_head];
    cache->free_head = e->hash_next;
    e->segment_id = segment_id;
    e->chunk_index = chunk_index;
    e->valid_bytes = 0;
    e->chunk = chunk;
    e->state = (uint8_t)state;
    e->orphaned = false;
    uint32_t bucket = key_hash(segment_id, chunk_index) & cache->bucket_mask;
    e->hash_next = cache->buckets[bucket];
    cache->buckets[bucket] = entry_id(cache, e);
    lru_push_head(cache, e);
    return e;
}

void sl_cache_remove(struct sl_cache *cache, struct sl_cache_entry *entry)
{
    SL_ASSERT(entry->state != SL_CACHE_FREE);
    if (entry->orphaned)
        return;
    lru_unlink(cache, entry);
    hash_unlink(cache, entry);
    if (entry->state == SL_CACHE_LOADING) {
        entry->orphaned = true;
        return;
    }
    entry_free(cache, entry);
}

bool sl_cache_load_done(struct sl_cache *cache, struct sl_cache_entry *entry, bool ok,
                        uint32_t valid_bytes)
{
    SL_ASSERT(entry->state == SL_CACHE_LOADING);
    if (entry->orphaned) {
        entry_free(cache, entry);
        return false;
    }
    if (!ok) {
        lru_unlink(cache, entry);
        hash_unlink(cache, entry);
        entry_free(cache, entry);
        return false;
    }
    entry->state = SL_CACHE_READY;
    entry->valid_bytes = valid_bytes;
    return true;
}

void sl_cache_mark_written(struct sl_cache *cache, struct sl_cache_entry *entry)
{
    SL_ASSERT(entry->state == SL_CACHE_DIRTY);
    entry->state = SL_CACHE_READY;
    if (cache->journal != NULL)
        sl_tail_journal_clean(cache->journal, sl_mem_pool_chunk_index(cache->pool, entry->chunk));
}

void sl_cache_invalidate(struct sl_cache *cache, uint64_t segment_id, uint32_t first_chunk_index)
{
    for (uint32_t i = 0; i < cache->entry_count; i++) {
        struct sl_cache_entry *e = &cache->entries[i];
        if (e->state == SL_CACHE_FREE || e->orphaned)
            continue;
        if (e->segment_id == segment_id && e->chunk_index >= first_chunk_index)
            sl_cache_remove(cache, e);
    }
}
