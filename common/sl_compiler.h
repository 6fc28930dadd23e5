/* Compiler hints and small macros used across layers. */
#ifndef SL_COMPILER_H
#define SL_COMPILER_H

#define SL_LIKELY(x)       __builtin_expect(!!(x), 1)
#define SL_UNLIKELY(x)     __builtin_expect(!!(x), 0)
#define SL_CACHELINE_BYTES 64
#define SL_CACHE_ALIGNED   __attribute__((aligned(SL_CACHELINE_BYTES)))
#define SL_UNUSED          __attribute__((unused))
#define SL_ARRAY_LEN(a)    (sizeof(a) / sizeof((a)[0]))
#define SL_MIN(a, b)       ((a) < (b) ? (a) : (b))
#define SL_MAX(a, b)       ((a) > (b) ? (a) : (b))
/* Round x up to a multiple of the power of two a. */
#define SL_ALIGN_UP(x, a)   (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define SL_ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))

#endif
