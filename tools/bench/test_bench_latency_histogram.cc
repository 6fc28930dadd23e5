// The latency histogram must report percentiles within its stated 1/64 relative error and never
// below the true value's bucket, for exact small values and for wide ranges.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "tools/bench/bench_latency_histogram.h"

namespace
{

std::unique_ptr<sl_bench_histogram> new_histogram()
{
    auto hist = std::make_unique<sl_bench_histogram>();
    sl_bench_histogram_reset(hist.get());
    return hist;
}

uint64_t exact_percentile(std::vector<uint64_t> values, double percentile)
{
    std::sort(values.begin(), values.end());
    auto rank = static_cast<size_t>(std::ceil(percentile / 100.0 * values.size()));
    rank = std::max<size_t>(rank, 1);
    return values[rank - 1];
}

TEST(BenchLatencyHistogram, EmptyReportsZero)
{
    auto hist = new_histogram();
    EXPECT_EQ(sl_bench_histogram_percentile_ns(hist.get(), 50), 0u);
    EXPECT_EQ(hist->count, 0u);
}

TEST(BenchLatencyHistogram, SmallValuesAreExact)
{
    auto hist = new_histogram();
    for (uint64_t v = 1; v <= 100; v++) {
        sl_bench_histogram_record(hist.get(), v);
    }
    EXPECT_EQ(sl_bench_histogram_percentile_ns(hist.get(), 50), 50u);
    EXPECT_EQ(sl_bench_histogram_percentile_ns(hist.get(), 99), 99u);
    EXPECT_EQ(sl_bench_histogram_percentile_ns(hist.get(), 100), 100u);
    EXPECT_EQ(hist->min_ns, 1u);
    EXPECT_EQ(hist->max_ns, 100u);
}

TEST(BenchLatencyHistogram, BucketsTileTheRangeWithoutGaps)
{
    // Each bucket starts one past the previous bucket's highest value.
    for (uint32_t i = 1; i < SL_BENCH_HIST_BUCKET_COUNT; i++) {
        uint64_t start = sl_bench_histogram_bucket_highest_ns(i - 1) + 1;
        ASSERT_EQ(sl_bench_histogram_bucket_index(start), i) << "bucket " << i;
        ASSERT_EQ(sl_bench_histogram_bucket_index(sl_bench_histogram_bucket_highest_ns(i)), i);
    }
    EXPECT_EQ(sl_bench_histogram_bucket_index(UINT64_MAX), SL_BENCH_HIST_BUCKET_COUNT - 1);
}

TEST(BenchLatencyHistogram, PercentilesWithinRelativeErrorOnWideRange)
{
    auto hist = new_histogram();
    std::mt19937_64 rng(12345);
    // Log-uniform from 1 us to 10 s, like latencies with a long tail.
    std::uniform_real_distribution<double> exponent(3.0, 10.0);
    std::vector<uint64_t> values;
    for (int i = 0; i < 200000; i++) {
        auto v = static_cast<uint64_t>(std::pow(10.0, exponent(rng)));
        values.push_back(v);
        sl_bench_histogram_record(hist.get(), v);
    }
    for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
        uint64_t exact = exact_percentile(values, p);
        uint64_t reported = sl_bench_histogram_percentile_ns(hist.get(), p);
        EXPECT_GE(reported, exact) << "p" << p;
        EXPECT_LE(static_cast<double>(reported), static_cast<double>(exact) * (1.0 + 1.0 / 64))
            << "p" << p;
    }
    EXPECT_EQ(sl_bench_histogram_percentile_ns(hist.get(), 100), hist->max_ns);
}

TEST(BenchLatencyHistogram, TailIsNotHiddenByTheBulk)
{
    auto hist = new_histogram();
    for (int i = 0; i < 9990; i++) {
        sl_bench_histogram_record(hist.get(), 200000); // 200 us
    }
    for (int i = 0; i < 10; i++) {
        sl_bench_histogram_record(hist.get(), 50000000); // 50 ms
    }
    EXPECT_LE(sl_bench_histogram_percentile_ns(hist.get(), 99.9), 200000u * 65 / 64);
    EXPECT_GE(sl_bench_histogram_percentile_ns(hist.get(), 99.95), 50000000u);
}

} // namespace
