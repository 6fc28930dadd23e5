/* Non-temporal copy for tail chunks; see stream_copy.h. */
#include "storage/stream_copy.h"

#include <stdint.h>
#include <string.h>

#include "common/sl_compiler.h"

#if defined(__x86_64__)
#include <emmintrin.h>

void sl_stream_copy(void *dst, const void *src, size_t n)
{
    if (n < SL_STREAM_COPY_MIN_BYTES) {
        memcpy(dst, src, n);
        return;
    }
    uint8_t *d = dst;
    const uint8_t *s = src;
    /* Streaming stores want an aligned destination; the source may be anywhere. SSE2 is
     * part of x86-64, so no dispatch is needed, and the copy is bound by memory, not by
     * the store width. */
    size_t head = (size_t)(SL_ALIGN_UP((uintptr_t)d, SL_CACHELINE_BYTES) - (uintptr_t)d);
    memcpy(d, s, head);
    d += head;
    s += head;
    n -= head;
    size_t body = SL_ALIGN_DOWN(n, (size_t)SL_CACHELINE_BYTES);
    for (size_t i = 0; i < body; i += SL_CACHELINE_BYTES) {
        __m128i a = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(s + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + i + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + i + 48));
        _mm_stream_si128((__m128i *)(d + i), a);
        _mm_stream_si128((__m128i *)(d + i + 16), b);
        _mm_stream_si128((__m128i *)(d + i + 32), c);
        _mm_stream_si128((__m128i *)(d + i + 48), e);
    }
    memcpy(d + body, s + body, n - body);
    /* Streaming stores are weakly ordered: fence them before anything that hands the chunk
     * to another agent (an io_uring submission, another thread). */
    _mm_sfence();
}

#else

void sl_stream_copy(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
}

#endif
