/*
 * A fixed-size log-linear latency histogram (HDR-like): values below 128 ns are exact, above
 * that every power of two is split into 64 buckets, so a reported percentile is within 1/64
 * (1.6%) of the true value. Memory is one fixed array; recording never allocates.
 *
 * Not thread-safe: one thread records and reads a given histogram.
 */
#ifndef SL_BENCH_LATENCY_HISTOGRAM_H
#define SL_BENCH_LATENCY_HISTOGRAM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SL_BENCH_HIST_EXACT_NS    128u
#define SL_BENCH_HIST_SUB_BUCKETS 64u
#define SL_BENCH_HIST_SUB_BITS    6u
/* Groups cover msb 7..63 of a 64-bit value. */
#define SL_BENCH_HIST_GROUPS 57u
#define SL_BENCH_HIST_BUCKET_COUNT                                                                 \
    (SL_BENCH_HIST_EXACT_NS + SL_BENCH_HIST_GROUPS * SL_BENCH_HIST_SUB_BUCKETS)

struct sl_bench_histogram {
    uint64_t bucket_counts[SL_BENCH_HIST_BUCKET_COUNT];
    uint64_t count;
    uint64_t min_ns;
    uint64_t max_ns;
    /* Sum for the mean; 2^64 ns is 584 years of total latency, so it cannot overflow here. */
    uint64_t sum_ns;
};

/* Empties the histogram. */
void sl_bench_histogram_reset(struct sl_bench_histogram *hist);

/* Adds one value in nanoseconds. */
void sl_bench_histogram_record(struct sl_bench_histogram *hist, uint64_t value_ns);

/* Returns the value at percentile (0 < percentile <= 100): the highest value of the bucket
 * holding the ceil(percentile% * count)-th smallest value, clamped to the recorded maximum.
 * Returns 0 for an empty histogram. */
uint64_t sl_bench_histogram_percentile_ns(const struct sl_bench_histogram *hist, double percentile);

/* Returns the bucket index for value_ns (exposed for tests). */
uint32_t sl_bench_histogram_bucket_index(uint64_t value_ns);

/* Returns the highest value that falls into bucket index (exposed for tests). */
uint64_t sl_bench_histogram_bucket_highest_ns(uint32_t index);

#ifdef __cplusplus
}
#endif

#endif
