// Chunk pool: alignment, reference counts, exhaustion as an error, reuse only at zero.
#include <gtest/gtest.h>

#include <set>

#include "drivers/mem/mem.h"

TEST(MemPool, ChunksArePageAlignedAndDistinct)
{
    sl_mem_pool pool;
    sl_mem_pool_config c = {16 * 1024, 8, false, false, -1, 0};
    ASSERT_EQ(sl_mem_pool_init(&pool, &c), 0);
    EXPECT_FALSE(pool.hugepage_backed);
    std::set<void *> seen;
    for (int i = 0; i < 8; i++) {
        void *p = sl_mem_pool_get(&pool);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % SL_MEM_PAGE_BYTES, 0u);
        EXPECT_TRUE(seen.insert(p).second);
        EXPECT_EQ(sl_mem_pool_refcount(&pool, p), 1u);
        memset(p, 0xAB, 16 * 1024); // whole chunk is writable
    }
    EXPECT_EQ(sl_mem_pool_get(&pool), nullptr); // exhaustion is an error, not an abort
    EXPECT_EQ(pool.stats.get_failures, 1u);
    for (void *p : seen)
        sl_mem_pool_put(&pool, p);
    EXPECT_EQ(sl_mem_pool_fini(&pool), 0u);
}

TEST(MemPool, ChunkReturnsOnlyWhenLastReferenceDrops)
{
    sl_mem_pool pool;
    sl_mem_pool_config c = {4096, 1, false, false, -1, 0};
    ASSERT_EQ(sl_mem_pool_init(&pool, &c), 0);
    uint8_t *p = static_cast<uint8_t *>(sl_mem_pool_get(&pool));
    ASSERT_NE(p, nullptr);
    sl_mem_pool_ref(&pool, p + 100); // any address inside the chunk names it
    EXPECT_EQ(sl_mem_pool_refcount(&pool, p), 2u);
    EXPECT_EQ(sl_mem_pool_chunk_base(&pool, p + 4095), p);
    sl_mem_pool_put(&pool, p);
    EXPECT_EQ(sl_mem_pool_get(&pool), nullptr); // still pinned
    sl_mem_pool_put(&pool, p + 5);
    EXPECT_EQ(sl_mem_pool_free_count(&pool), 1u);
    EXPECT_EQ(sl_mem_pool_get(&pool), p);
    EXPECT_EQ(sl_mem_pool_fini(&pool), 1u); // reports the outstanding chunk
}

TEST(MemPool, HugepageRequestFallsBackAndReports)
{
    sl_mem_pool pool;
    sl_mem_pool_config c = {64 * 1024, 4, true, false, -1, 0};
    ASSERT_EQ(sl_mem_pool_init(&pool, &c), 0);
    // Either really hugepage-backed (2 MiB aligned) or the 4 KiB fallback; both must work.
    if (pool.hugepage_backed) {
        EXPECT_EQ(reinterpret_cast<uintptr_t>(pool.base) % SL_MEM_HUGEPAGE_BYTES, 0u);
    }
    void *p = sl_mem_pool_get(&pool);
    ASSERT_NE(p, nullptr);
    sl_mem_pool_put(&pool, p);
    EXPECT_EQ(sl_mem_pool_fini(&pool), 0u);
}

TEST(MemPool, RejectsBadConfig)
{
    sl_mem_pool pool;
    sl_mem_pool_config unaligned = {1000, 4, false, false, -1, 0};
    EXPECT_EQ(sl_mem_pool_init(&pool, &unaligned), -EINVAL);
    sl_mem_pool_config empty = {4096, 0, false, false, -1, 0};
    EXPECT_EQ(sl_mem_pool_init(&pool, &empty), -EINVAL);
}
