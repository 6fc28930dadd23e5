/* Copying record bytes into the log's tail chunks without pulling the destination into
 * the CPU cache. */
#ifndef SL_STORAGE_STREAM_COPY_H
#define SL_STORAGE_STREAM_COPY_H

#include <stddef.h>

/* Copies n bytes from src to dst (not overlapping), like memcpy. Copies of at least
 * SL_STREAM_COPY_MIN_BYTES use non-temporal stores for the 64-byte-aligned middle of dst on
 * x86-64: a tail chunk is next read by the disk's DMA or a zero-copy send, not by this CPU,
 * and a plain copy first reads every destination line from memory (about 1.5x the cost on
 * the test machines, see docs/benchmarks.md). Ends with a store fence, so the bytes are
 * visible to any later I/O submission. Shorter copies and other CPUs use memcpy. */
void sl_stream_copy(void *dst, const void *src, size_t n);

#define SL_STREAM_COPY_MIN_BYTES 4096

#endif
