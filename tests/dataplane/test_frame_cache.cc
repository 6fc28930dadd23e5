// The shard's frame buffer cache: size classes, reuse of freed buffers, and its bound.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

extern "C" {
#include "dataplane/frame_cache.h"
}

namespace
{

constexpr size_t k_kib = 1024;
constexpr size_t k_mib = 1024 * 1024;

TEST(FrameCache, SmallFramesArePageAlignedAndNotRetained)
{
    sl_dp_frame_cache c;
    sl_dp_frame_cache_init(&c, 64 * k_mib);
    EXPECT_EQ(sl_dp_frame_cache_alloc_bytes(5000), 8 * k_kib);
    void *a = sl_dp_frame_cache_get(&c, 5000);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ((uintptr_t)a % 4096, 0u);
    sl_dp_frame_cache_put(&c, a, 5000);
    EXPECT_EQ(c.retained_bytes, 0u);
    sl_dp_frame_cache_destroy(&c);
}

TEST(FrameCache, LargeFramesUsePowerOfTwoClassesAndAreReused)
{
    sl_dp_frame_cache c;
    sl_dp_frame_cache_init(&c, 64 * k_mib);
    // A 1 MiB Produce batch plus its request header lands in the 2 MiB class.
    size_t len = k_mib + 120;
    EXPECT_EQ(sl_dp_frame_cache_alloc_bytes(len), 2 * k_mib);
    EXPECT_EQ(sl_dp_frame_cache_alloc_bytes(40 * k_kib), 64 * k_kib);
    EXPECT_EQ(sl_dp_frame_cache_alloc_bytes(k_mib), k_mib);
    uint8_t *a = (uint8_t *)sl_dp_frame_cache_get(&c, len);
    ASSERT_NE(a, nullptr);
    memset(a, 0xab, 2 * k_mib); // the whole class size is usable
    sl_dp_frame_cache_put(&c, a, len);
    EXPECT_EQ(c.retained_bytes, 2 * k_mib);
    uint8_t *b = (uint8_t *)sl_dp_frame_cache_get(&c, k_mib + 4096); // same class
    EXPECT_EQ(b, a);
    EXPECT_EQ(c.hits, 1u);
    EXPECT_EQ(c.misses, 1u);
    EXPECT_EQ(c.retained_bytes, 0u);
    sl_dp_frame_cache_put(&c, b, k_mib + 4096);
    sl_dp_frame_cache_destroy(&c);
    EXPECT_EQ(c.retained_bytes, 0u);
}

TEST(FrameCache, RetainsNoMoreThanItsBound)
{
    sl_dp_frame_cache c;
    sl_dp_frame_cache_init(&c, 5 * k_mib); // room for two 2 MiB buffers, not three
    std::vector<void *> bufs;
    for (int i = 0; i < 3; i++) {
        bufs.push_back(sl_dp_frame_cache_get(&c, k_mib + 1));
        ASSERT_NE(bufs.back(), nullptr);
    }
    for (void *b : bufs) {
        sl_dp_frame_cache_put(&c, b, k_mib + 1);
    }
    EXPECT_EQ(c.retained_bytes, 4 * k_mib);
    EXPECT_LE(c.retained_bytes, c.retained_bytes_max);
    // Per class at most SL_DP_FRAME_CACHE_PER_CLASS, whatever the byte bound.
    sl_dp_frame_cache big;
    sl_dp_frame_cache_init(&big, 1024 * k_mib);
    std::vector<void *> many;
    for (int i = 0; i < SL_DP_FRAME_CACHE_PER_CLASS + 3; i++) {
        many.push_back(sl_dp_frame_cache_get(&big, 100 * k_kib));
    }
    for (void *b : many) {
        sl_dp_frame_cache_put(&big, b, 100 * k_kib);
    }
    EXPECT_EQ(big.retained_bytes, SL_DP_FRAME_CACHE_PER_CLASS * 128 * k_kib);
    sl_dp_frame_cache_destroy(&big);
    sl_dp_frame_cache_destroy(&c); // ASan's leak check proves the rest were freed
}

} // namespace
