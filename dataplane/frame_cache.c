/* Frame buffer cache: see frame_cache.h. */
#include "dataplane/frame_cache.h"

#include <stdlib.h>
#include <string.h>

#include "common/sl_assert.h"
#include "common/sl_compiler.h"

#define PAGE_BYTES ((size_t)4096)

/* Class index of a length at or above the first class size, or -1 below it. */
static int class_of(size_t len_bytes)
{
    if (len_bytes <= ((size_t)1 << (SL_DP_FRAME_CACHE_MIN_CLASS_SHIFT - 1)))
        return -1;
    int shift = SL_DP_FRAME_CACHE_MIN_CLASS_SHIFT;
    while (((size_t)1 << shift) < len_bytes)
        shift++;
    int cls = shift - SL_DP_FRAME_CACHE_MIN_CLASS_SHIFT;
    return cls < SL_DP_FRAME_CACHE_CLASSES ? cls : -1;
}

void sl_dp_frame_cache_init(struct sl_dp_frame_cache *c, uint64_t retained_bytes_max)
{
    memset(c, 0, sizeof(*c));
    c->retained_bytes_max = retained_bytes_max;
}

size_t sl_dp_frame_cache_alloc_bytes(size_t len_bytes)
{
    int cls = class_of(len_bytes);
    if (cls < 0)
        return SL_ALIGN_UP(len_bytes, PAGE_BYTES);
    return (size_t)1 << (cls + SL_DP_FRAME_CACHE_MIN_CLASS_SHIFT);
}

void *sl_dp_frame_cache_get(struct sl_dp_frame_cache *c, size_t len_bytes)
{
    int cls = class_of(len_bytes);
    if (cls >= 0 && c->count[cls] > 0) {
        void *buf = c->free[cls][--c->count[cls]];
        c->retained_bytes -= sl_dp_frame_cache_alloc_bytes(len_bytes);
        c->hits++;
        return buf;
    }
    c->misses++;
    return aligned_alloc(PAGE_BYTES, sl_dp_frame_cache_alloc_bytes(len_bytes));
}

void sl_dp_frame_cache_put(struct sl_dp_frame_cache *c, void *buf, size_t len_bytes)
{
    if (buf == NULL)
        return;
    int cls = class_of(len_bytes);
    size_t bytes = sl_dp_frame_cache_alloc_bytes(len_bytes);
    if (cls >= 0 && c->count[cls] < SL_DP_FRAME_CACHE_PER_CLASS &&
        c->retained_bytes + bytes <= c->retained_bytes_max) {
        c->free[cls][c->count[cls]++] = buf;
        c->retained_bytes += bytes;
        return;
    }
    free(buf);
}

void sl_dp_frame_cache_destroy(struct sl_dp_frame_cache *c)
{
    for (int cls = 0; cls < SL_DP_FRAME_CACHE_CLASSES; cls++) {
        while (c->count[cls] > 0)
            free(c->free[cls][--c->count[cls]]);
    }
    c->retained_bytes = 0;
}
