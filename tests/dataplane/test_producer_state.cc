// Idempotent-producer sequence rules of dataplane/producer_state.h, as Kafka applies
// them: retries of the last five batches are duplicates with their original offset,
// gaps are OUT_OF_ORDER_SEQUENCE_NUMBER, older epochs INVALID_PRODUCER_EPOCH, a new epoch
// restarts at sequence 0, sequences wrap at INT32_MAX, the table is bounded (LRU).
// (Rebuilding the state from the log after a restart runs against the real broker in
// compat_librdkafka's IdempotentProducerTest.)
#include <gtest/gtest.h>

#include <cstring>

#include "dataplane/codec/kafka_errors.h"
#include "dataplane/producer_state.h"

namespace
{

sl_batch_info batch(int64_t producer_id, int16_t epoch, int32_t base_sequence, int32_t records)
{
    sl_batch_info info;
    memset(&info, 0, sizeof(info));
    info.magic = 2;
    info.producer_id = producer_id;
    info.producer_epoch = epoch;
    info.base_sequence = base_sequence;
    info.record_count = records;
    info.last_offset_delta = records - 1;
    return info;
}

class ProducerStateTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        memset(&table_, 0, sizeof(table_));
    }
    void TearDown() override
    {
        sl_dp_producers_close(&table_);
    }
    sl_dp_producer_verdict check(const sl_batch_info &info)
    {
        dup_offset_ = -1;
        dup_append_time_ = -2;
        error_ = 0;
        sl_dp_producer_batch original{};
        sl_dp_producer_verdict v = sl_dp_producer_check(&table_, &info, 1, &original, &error_);
        if (v == SL_DP_PRODUCER_DUPLICATE) {
            dup_offset_ = original.base_offset;
            dup_append_time_ = original.append_time_ms;
        }
        return v;
    }
    void append(const sl_batch_info &info, int64_t base_offset, int64_t append_time_ms = -1)
    {
        ASSERT_EQ(check(info), SL_DP_PRODUCER_APPEND);
        ASSERT_TRUE(sl_dp_producer_record(&table_, &info, base_offset, append_time_ms));
    }
    sl_dp_producers table_;
    int64_t dup_offset_ = -1;
    int64_t dup_append_time_ = -2;
    int16_t error_ = 0;
};

TEST_F(ProducerStateTest, NonIdempotentBatchesAlwaysAppend)
{
    sl_batch_info info = batch(-1, -1, -1, 3);
    EXPECT_EQ(check(info), SL_DP_PRODUCER_APPEND);
    EXPECT_EQ(check(info), SL_DP_PRODUCER_APPEND);
}

TEST_F(ProducerStateTest, RetriesOfTheLastFiveBatchesAreDuplicatesWithTheirOffsets)
{
    for (int i = 0; i < 7; i++)
        ASSERT_NO_FATAL_FAILURE(append(batch(42, 0, i * 10, 10), 100 + i * 10));
    for (int i = 2; i < 7; i++) {
        EXPECT_EQ(check(batch(42, 0, i * 10, 10)), SL_DP_PRODUCER_DUPLICATE) << i;
        EXPECT_EQ(dup_offset_, 100 + i * 10) << i;
    }
    // Older than the last five: not recognised, and not the next sequence either.
    EXPECT_EQ(check(batch(42, 0, 10, 10)), SL_DP_PRODUCER_REFUSED);
    EXPECT_EQ(error_, SL_KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    EXPECT_EQ(check(batch(42, 0, 70, 5)), SL_DP_PRODUCER_APPEND);
}

// A retry to a LogAppendTime topic is answered with the time stamped on the original (the
// retry's own batch is not stored); CreateTime batches have none (-1).
TEST_F(ProducerStateTest, DuplicatesCarryTheOriginalsAppendTime)
{
    ASSERT_NO_FATAL_FAILURE(append(batch(7, 0, 0, 4), 10, 1700000000123));
    ASSERT_NO_FATAL_FAILURE(append(batch(7, 0, 4, 4), 14));
    EXPECT_EQ(check(batch(7, 0, 0, 4)), SL_DP_PRODUCER_DUPLICATE);
    EXPECT_EQ(dup_offset_, 10);
    EXPECT_EQ(dup_append_time_, 1700000000123);
    EXPECT_EQ(check(batch(7, 0, 4, 4)), SL_DP_PRODUCER_DUPLICATE);
    EXPECT_EQ(dup_offset_, 14);
    EXPECT_EQ(dup_append_time_, -1);
}

TEST_F(ProducerStateTest, GapsAreOutOfOrder)
{
    ASSERT_NO_FATAL_FAILURE(append(batch(7, 0, 0, 5), 0));
    EXPECT_EQ(check(batch(7, 0, 6, 5)), SL_DP_PRODUCER_REFUSED);
    EXPECT_EQ(error_, SL_KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    EXPECT_EQ(check(batch(7, 0, 5, 5)), SL_DP_PRODUCER_APPEND);
    // A different producer has its own sequences.
    EXPECT_EQ(check(batch(8, 0, 123, 1)), SL_DP_PRODUCER_APPEND);
}

TEST_F(ProducerStateTest, EpochsFenceOlderOnesAndRestartSequences)
{
    ASSERT_NO_FATAL_FAILURE(append(batch(9, 3, 0, 2), 0));
    EXPECT_EQ(check(batch(9, 2, 2, 1)), SL_DP_PRODUCER_REFUSED);
    EXPECT_EQ(error_, SL_KAFKA_ERR_INVALID_PRODUCER_EPOCH);
    EXPECT_EQ(check(batch(9, 4, 5, 1)), SL_DP_PRODUCER_REFUSED);
    EXPECT_EQ(error_, SL_KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    ASSERT_NO_FATAL_FAILURE(append(batch(9, 4, 0, 1), 2));
    // The old epoch's batches are forgotten: its first batch is not a duplicate now.
    EXPECT_EQ(check(batch(9, 4, 0, 2)), SL_DP_PRODUCER_REFUSED);
    EXPECT_EQ(check(batch(9, 4, 1, 1)), SL_DP_PRODUCER_APPEND);
}

TEST_F(ProducerStateTest, SequencesWrapAtInt32Max)
{
    EXPECT_EQ(sl_dp_producer_sequence_add(INT32_MAX, 1), 0);
    EXPECT_EQ(sl_dp_producer_sequence_add(INT32_MAX - 1, 3), 1);
    ASSERT_NO_FATAL_FAILURE(append(batch(5, 0, INT32_MAX - 1, 2), 0));
    EXPECT_EQ(check(batch(5, 0, 0, 1)), SL_DP_PRODUCER_APPEND);
    EXPECT_EQ(check(batch(5, 0, INT32_MAX - 1, 2)), SL_DP_PRODUCER_DUPLICATE);
}

TEST_F(ProducerStateTest, IdempotentRequestsMustBeOneNonTransactionalBatch)
{
    sl_batch_info two[2] = {batch(1, 0, 0, 1), batch(1, 0, 1, 1)};
    sl_dp_producer_batch original{};
    EXPECT_EQ(sl_dp_producer_check(&table_, two, 2, &original, &error_), SL_DP_PRODUCER_REFUSED);
    EXPECT_EQ(error_, SL_KAFKA_ERR_INVALID_RECORD);
    sl_batch_info txn = batch(1, 0, 0, 1);
    txn.attributes = SL_BATCH_ATTR_TRANSACTIONAL;
    EXPECT_EQ(check(txn), SL_DP_PRODUCER_REFUSED);
    EXPECT_EQ(error_, SL_KAFKA_ERR_INVALID_RECORD);
}

TEST_F(ProducerStateTest, TableIsBoundedAndForgetsTheLeastRecentlyUsedProducer)
{
    for (int64_t id = 0; id < (int64_t)SL_DP_PRODUCERS_MAX; id++)
        ASSERT_NO_FATAL_FAILURE(append(batch(id, 0, 0, 1), id));
    ASSERT_EQ(check(batch(0, 0, 0, 1)), SL_DP_PRODUCER_DUPLICATE); // 0 is now recent
    ASSERT_NO_FATAL_FAILURE(append(batch(1000, 0, 0, 1), 1000));   // evicts producer 1
    EXPECT_EQ(check(batch(0, 0, 0, 1)), SL_DP_PRODUCER_DUPLICATE);
    EXPECT_EQ(check(batch(1, 0, 0, 1)), SL_DP_PRODUCER_APPEND) << "producer 1 was forgotten";
    EXPECT_EQ(check(batch(1000, 0, 0, 1)), SL_DP_PRODUCER_DUPLICATE);
}

TEST_F(ProducerStateTest, IdempotentAppendsWaitWhileTheStateLoads)
{
    table_.loading = true;
    EXPECT_EQ(check(batch(3, 0, 0, 1)), SL_DP_PRODUCER_LOADING);
    EXPECT_EQ(check(batch(-1, -1, -1, 1)), SL_DP_PRODUCER_APPEND);
    table_.loading = false;
}

} // namespace
