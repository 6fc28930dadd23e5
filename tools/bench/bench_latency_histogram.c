#include "tools/bench/bench_latency_histogram.h"

#include <math.h>
#include <string.h>

#include "common/sl_assert.h"

SL_STATIC_ASSERT(SL_BENCH_HIST_EXACT_NS == 2u * SL_BENCH_HIST_SUB_BUCKETS,
                 "exact range must end where the first group starts");
SL_STATIC_ASSERT((1u << SL_BENCH_HIST_SUB_BITS) == SL_BENCH_HIST_SUB_BUCKETS,
                 "sub-bucket bits and count disagree");

void sl_bench_histogram_reset(struct sl_bench_histogram *hist)
{
    SL_ASSERT(hist != NULL);
    memset(hist, 0, sizeof(*hist));
    hist->min_ns = UINT64_MAX;
}

uint32_t sl_bench_histogram_bucket_index(uint64_t value_ns)
{
    if (value_ns < SL_BENCH_HIST_EXACT_NS) {
        return (uint32_t)value_ns;
    }
    uint32_t msb = 63u - (uint32_t)__builtin_clzll(value_ns);
    /* Keep the top 7 bits: the leading one plus 6 bits that pick the sub-bucket. */
    uint32_t shift = msb - SL_BENCH_HIST_SUB_BITS;
    uint32_t sub = (uint32_t)(value_ns >> shift) - SL_BENCH_HIST_SUB_BUCKETS;
    SL_ASSERT(shift >= 1 && sub < SL_BENCH_HIST_SUB_BUCKETS);
    uint32_t index = SL_BENCH_HIST_EXACT_NS + (shift - 1u) * SL_BENCH_HIST_SUB_BUCKETS + sub;
    SL_ASSERT(index < SL_BENCH_HIST_BUCKET_COUNT);
    return index;
}

uint64_t sl_bench_histogram_bucket_highest_ns(uint32_t index)
{
    SL_ASSERT(index < SL_BENCH_HIST_BUCKET_COUNT);
    if (index < SL_BENCH_HIST_EXACT_NS) {
        return index;
    }
    uint32_t group = (index - SL_BENCH_HIST_EXACT_NS) / SL_BENCH_HIST_SUB_BUCKETS;
    uint32_t sub = (index - SL_BENCH_HIST_EXACT_NS) % SL_BENCH_HIST_SUB_BUCKETS;
    uint32_t shift = group + 1u;
    uint64_t lowest = ((uint64_t)SL_BENCH_HIST_SUB_BUCKETS + sub) << shift;
    return lowest + ((1ull << shift) - 1u);
}

void sl_bench_histogram_record(struct sl_bench_histogram *hist, uint64_t value_ns)
{
    hist->bucket_counts[sl_bench_histogram_bucket_index(value_ns)]++;
    hist->count++;
    hist->sum_ns += value_ns;
    if (value_ns < hist->min_ns) {
        hist->min_ns = value_ns;
    }
    if (value_ns > hist->max_ns) {
        hist->max_ns = value_ns;
    }
}

uint64_t sl_bench_histogram_percentile_ns(const struct sl_bench_histogram *hist, double percentile)
{
    SL_ASSERT(hist != NULL);
    SL_ASSERT(percentile > 0.0 && percentile <= 100.0);
    if (hist->count == 0) {
        return 0;
    }
    /* The small downward nudge keeps 99.9% of 10000 at rank 9990 despite rounding. */
    double exact_rank = percentile / 100.0 * (double)hist->count;
    uint64_t rank = (uint64_t)ceil(exact_rank * (1.0 - 1e-12));
    if (rank == 0) {
        rank = 1;
    }
    if (rank > hist->count) {
        rank = hist->count;
    }
    uint64_t seen = 0;
    for (uint32_t i = 0; i < SL_BENCH_HIST_BUCKET_COUNT; i++) {
        seen += hist->bucket_counts[i];
        if (seen >= rank) {
            uint64_t highest = sl_bench_histogram_bucket_highest_ns(i);
            return highest < hist->max_ns ? highest : hist->max_ns;
        }
    }
    SL_ASSERT(!"histogram counts do not add up to count");
    return hist->max_ns;
}
