// sl_stream_copy against memcpy: every destination and source alignment around a cache
// line, lengths around the streaming threshold and the 64-byte body, guard bytes untouched.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

extern "C" {
#include "storage/stream_copy.h"
}

namespace
{

std::vector<uint8_t> pattern(size_t n, uint32_t seed)
{
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (uint8_t)(seed >> 16);
    }
    return v;
}

TEST(StreamCopy, MatchesMemcpyForEveryAlignmentAndLength)
{
    const size_t lengths[] = {0,
                              1,
                              63,
                              64,
                              SL_STREAM_COPY_MIN_BYTES - 1,
                              SL_STREAM_COPY_MIN_BYTES,
                              SL_STREAM_COPY_MIN_BYTES + 1,
                              SL_STREAM_COPY_MIN_BYTES + 63,
                              65536 + 17,
                              1u << 20};
    const size_t guard = 128;
    for (size_t len : lengths) {
        std::vector<uint8_t> src = pattern(len + 64, (uint32_t)len);
        for (size_t dst_off = 0; dst_off < 64; dst_off += 7) {
            for (size_t src_off = 0; src_off < 64; src_off += 13) {
                // 64-byte aligned backing store so dst_off really is the alignment.
                std::vector<uint8_t> backing(len + 2 * guard + 128, 0xA5);
                uintptr_t base =
                    (reinterpret_cast<uintptr_t>(backing.data()) + 63) & ~uintptr_t{63};
                uint8_t *dst = reinterpret_cast<uint8_t *>(base) + guard + dst_off;
                sl_stream_copy(dst, src.data() + src_off, len);
                ASSERT_EQ(0, memcmp(dst, src.data() + src_off, len))
                    << "len " << len << " dst_off " << dst_off << " src_off " << src_off;
                for (size_t g = 1; g <= guard; g++) {
                    ASSERT_EQ(0xA5, dst[-(ptrdiff_t)g]) << "wrote before dst, len " << len;
                    ASSERT_EQ(0xA5, dst[len + g - 1]) << "wrote past the end, len " << len;
                }
            }
        }
    }
}

} // namespace
