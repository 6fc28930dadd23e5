// The batch builder produces batches that the validator accepts, with records encoded
// as Kafka defines them (zigzag varints, null as -1).
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <vector>

extern "C" {
#include "common/sl_bytes.h"
#include "storage/batch.h"
#include "storage/batch_builder.h"
}

TEST(BatchBuilder, BuildsAValidBatchWithExactRecordBytes)
{
    std::vector<uint8_t> buf(4096);
    sl_batch_builder b;
    sl_batch_builder_init(&b, buf.data(), buf.size(), 1000, 0, -1, -1, -1);
    sl_record_header h = {reinterpret_cast<const uint8_t *>("h"), 1,
                          reinterpret_cast<const uint8_t *>("v"), 1};
    ASSERT_EQ(sl_batch_builder_add(&b, 1000, "k", 1, "abc", 3, &h, 1), 0);
    ASSERT_EQ(sl_batch_builder_add(&b, 1005, nullptr, -1, nullptr, -1, nullptr, 0), 0);
    size_t size = sl_batch_builder_finish(&b);

    sl_batch_info info;
    ASSERT_EQ(sl_batch_validate(buf.data(), size, 1 << 20, &info), SL_STORAGE_OK);
    EXPECT_EQ(info.size_bytes, size);
    EXPECT_EQ(info.record_count, 2);
    EXPECT_EQ(info.last_offset_delta, 1);
    EXPECT_EQ(info.base_timestamp, 1000);
    EXPECT_EQ(info.max_timestamp, 1005);
    EXPECT_EQ(info.producer_id, -1);
    EXPECT_EQ(info.partition_leader_epoch, -1);

    // Record 1: attributes 0, tsDelta 0, offDelta 0, key "k", value "abc", 1 header h=v.
    const uint8_t rec1[] = {0x1c, 0x00, 0x00, 0x00, 0x02, 'k',  0x06, 'a',
                            'b',  'c',  0x02, 0x02, 'h',  0x02, 'v'};
    // Record 2: tsDelta 5 (zigzag 10), offDelta 1 (2), null key and value (-1 -> 1).
    const uint8_t rec2[] = {0x0c, 0x00, 0x0a, 0x02, 0x01, 0x01, 0x00};
    ASSERT_EQ(size, SL_BATCH_HEADER_BYTES + sizeof(rec1) + sizeof(rec2));
    EXPECT_EQ(0, memcmp(buf.data() + SL_BATCH_HEADER_BYTES, rec1, sizeof(rec1)));
    EXPECT_EQ(0, memcmp(buf.data() + SL_BATCH_HEADER_BYTES + sizeof(rec1), rec2, sizeof(rec2)));
}

TEST(BatchBuilder, RefusesWhatDoesNotFitAndKeepsTheBatchUsable)
{
    std::vector<uint8_t> buf(SL_BATCH_HEADER_BYTES + 40);
    sl_batch_builder b;
    sl_batch_builder_init(&b, buf.data(), buf.size(), 0, 0, 7, 0, 100);
    char value[64] = {0};
    ASSERT_EQ(sl_batch_builder_add(&b, 0, nullptr, -1, value, 20, nullptr, 0), 0);
    EXPECT_EQ(sl_batch_builder_add(&b, 0, nullptr, -1, value, 20, nullptr, 0), -ENOSPC);
    EXPECT_EQ(sl_batch_builder_add(&b, -1, nullptr, -1, value, 1, nullptr, 0), -EINVAL);
    EXPECT_EQ(sl_batch_builder_add(&b, 0, nullptr, -2, value, 1, nullptr, 0), -EINVAL);
    size_t size = sl_batch_builder_finish(&b);
    sl_batch_info info;
    ASSERT_EQ(sl_batch_validate(buf.data(), size, 1 << 20, &info), SL_STORAGE_OK);
    EXPECT_EQ(info.record_count, 1);
    EXPECT_EQ(info.producer_id, 7);
    EXPECT_EQ(info.base_sequence, 100);
    EXPECT_EQ(sl_batch_builder_record_bytes(-1, 20, nullptr, 0, 0, 0),
              size - SL_BATCH_HEADER_BYTES);
}
