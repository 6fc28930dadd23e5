// Batch validation: every distinct failure gets its own error; valid batches parse.
#include <gtest/gtest.h>

#include <random>

#include "tests/storage/batch_builder.h"

using sl_test::make_batch;
using sl_test::seal_batch;

TEST(Batch, Crc32cMatchesTheStandardVector)
{
    const char *s = "123456789";
    EXPECT_EQ(sl_batch_crc32c(s, 9), 0xE3069283u);
    EXPECT_EQ(sl_batch_crc32c(s, 0), 0u);
}

TEST(Batch, Crc32cExtendsAFinishedValue)
{
    const char *s = "123456789";
    for (size_t split = 0; split <= 9; split++)
        EXPECT_EQ(sl_batch_crc32c_extend(sl_batch_crc32c(s, split), s + split, 9 - split),
                  0xE3069283u)
            << "split at " << split;
    EXPECT_EQ(sl_batch_crc32c_extend(0, s, 9), 0xE3069283u);
}

TEST(Batch, ValidBatchParses)
{
    sl_test::batch_options o;
    o.producer_id = 42;
    o.producer_epoch = 3;
    o.base_sequence = 7;
    auto b = make_batch({"a", "bb", "ccc"}, o);
    sl_batch_info info;
    ASSERT_EQ(sl_batch_validate(b.data(), b.size(), 1 << 20, &info), SL_STORAGE_OK);
    EXPECT_EQ(info.size_bytes, b.size());
    EXPECT_EQ(info.record_count, 3);
    EXPECT_EQ(info.last_offset_delta, 2);
    EXPECT_EQ(info.producer_id, 42);
    EXPECT_EQ(info.producer_epoch, 3);
    EXPECT_EQ(info.base_sequence, 7);
    EXPECT_EQ(info.max_timestamp, o.base_timestamp + 2);
    EXPECT_EQ(sl_batch_check_stored(b.data(), b.size(), &info), SL_STORAGE_OK);
}

TEST(Batch, EachFailureHasItsOwnError)
{
    auto good = make_batch({"hello", "world"});
    sl_batch_info info;
    // Too short for a header, and batchLength past the buffer.
    EXPECT_EQ(sl_batch_validate(good.data(), 60, 1 << 20, &info), SL_STORAGE_ERR_BATCH_TRUNCATED);
    EXPECT_EQ(sl_batch_validate(good.data(), good.size() - 1, 1 << 20, &info),
              SL_STORAGE_ERR_BATCH_TRUNCATED);
    auto b = good;
    sl_store_be32(b.data() + SL_BATCH_OFF_LENGTH, 10);
    EXPECT_EQ(sl_batch_validate(b.data(), b.size(), 1 << 20, &info), SL_STORAGE_ERR_BATCH_LENGTH);
    b = good;
    b[SL_BATCH_OFF_MAGIC] = 1;
    EXPECT_EQ(sl_batch_validate(b.data(), b.size(), 1 << 20, &info), SL_STORAGE_ERR_BATCH_MAGIC);
    b = good;
    b[b.size() - 3] ^= 0x01; // payload bit flip
    EXPECT_EQ(sl_batch_validate(b.data(), b.size(), 1 << 20, &info), SL_STORAGE_ERR_BATCH_CRC);
    EXPECT_EQ(sl_batch_validate(good.data(), good.size(), (uint32_t)good.size() - 1, &info),
              SL_STORAGE_ERR_BATCH_TOO_LARGE);
    b = good;
    sl_store_be32(b.data() + SL_BATCH_OFF_RECORD_COUNT, 3); // != lastOffsetDelta + 1
    seal_batch(b);
    EXPECT_EQ(sl_batch_validate(b.data(), b.size(), 1 << 20, &info),
              SL_STORAGE_ERR_BATCH_RECORD_COUNT);
    b = good;
    sl_store_be32(b.data() + SL_BATCH_OFF_RECORD_COUNT, 1000); // more records than bytes allow
    sl_store_be32(b.data() + SL_BATCH_OFF_LAST_OFFSET_DELTA, 999);
    seal_batch(b);
    EXPECT_EQ(sl_batch_validate(b.data(), b.size(), 1 << 20, &info),
              SL_STORAGE_ERR_BATCH_RECORD_COUNT);
    b = good;
    sl_store_be16(b.data() + SL_BATCH_OFF_ATTRIBUTES, 6); // codec 6 does not exist
    seal_batch(b);
    EXPECT_EQ(sl_batch_validate(b.data(), b.size(), 1 << 20, &info),
              SL_STORAGE_ERR_BATCH_ATTRIBUTES);
    sl_test::batch_options txn;
    txn.attributes = SL_BATCH_ATTR_TRANSACTIONAL; // transactional without a producer id
    b = make_batch({"x"}, txn);
    EXPECT_EQ(sl_batch_validate(b.data(), b.size(), 1 << 20, &info), SL_STORAGE_ERR_BATCH_PRODUCER);
    sl_test::batch_options idem;
    idem.producer_id = 5;
    idem.producer_epoch = 0;
    idem.base_sequence = -1; // idempotent batch without a sequence
    b = make_batch({"x"}, idem);
    EXPECT_EQ(sl_batch_validate(b.data(), b.size(), 1 << 20, &info), SL_STORAGE_ERR_BATCH_PRODUCER);
}

TEST(Batch, CompressedBatchesAreNotDecoded)
{
    sl_test::batch_options o;
    o.attributes = 4; // zstd: records are opaque, only the header is checked
    auto b = make_batch({"opaque-bytes"}, o);
    sl_batch_info info;
    EXPECT_EQ(sl_batch_validate(b.data(), b.size(), 1 << 20, &info), SL_STORAGE_OK);
}

TEST(Batch, ValidateAllCoversConcatenations)
{
    auto a = make_batch({"a"});
    auto b = make_batch({"b", "c"});
    std::vector<uint8_t> both = a;
    both.insert(both.end(), b.begin(), b.end());
    sl_batch_info infos[4];
    uint32_t count = 0;
    ASSERT_EQ(sl_batch_validate_all(both.data(), both.size(), 1 << 20, infos, 4, &count),
              SL_STORAGE_OK);
    EXPECT_EQ(count, 2u);
    EXPECT_EQ(infos[1].record_count, 2);
    EXPECT_EQ(sl_batch_validate_all(both.data(), both.size(), 1 << 20, infos, 1, &count),
              SL_STORAGE_ERR_BATCH_TOO_MANY);
    EXPECT_EQ(sl_batch_validate_all(both.data(), 0, 1 << 20, infos, 4, &count),
              SL_STORAGE_ERR_BATCH_EMPTY);
    both[both.size() - 2] ^= 0xFF; // second batch corrupt: reports its index
    EXPECT_EQ(sl_batch_validate_all(both.data(), both.size(), 1 << 20, infos, 4, &count),
              SL_STORAGE_ERR_BATCH_CRC);
    EXPECT_EQ(count, 1u);
    // Trailing bytes shorter than a header are a truncated batch.
    std::vector<uint8_t> tail = a;
    tail.push_back(0);
    EXPECT_EQ(sl_batch_validate_all(tail.data(), tail.size(), 1 << 20, infos, 4, &count),
              SL_STORAGE_ERR_BATCH_TRUNCATED);
}

TEST(Batch, RandomDamageIsNeverAccepted)
{
    std::mt19937 rng(12345);
    for (int round = 0; round < 2000; round++) {
        std::vector<std::string> values;
        int n = 1 + (int)(rng() % 5);
        for (int i = 0; i < n; i++)
            values.push_back(std::string(rng() % 200, (char)('a' + i)));
        auto good = make_batch(values);
        auto b = good;
        sl_batch_info info;
        size_t at = rng() % b.size();
        b[at] ^= (uint8_t)(1u << (rng() % 8));
        sl_storage_err err = sl_batch_validate(b.data(), b.size(), 1 << 20, &info);
        bool outside_crc = at < SL_BATCH_OFF_LENGTH ||
                           (at >= SL_BATCH_OFF_LEADER_EPOCH && at < SL_BATCH_OFF_MAGIC);
        if (outside_crc) {
            EXPECT_EQ(err, SL_STORAGE_OK) << "byte " << at; // baseOffset/epoch are free
        } else {
            EXPECT_NE(err, SL_STORAGE_OK) << "byte " << at;
        }
        // Any prefix is rejected, never read past.
        size_t cut = rng() % good.size();
        std::vector<uint8_t> prefix(good.begin(), good.begin() + (long)cut);
        EXPECT_NE(sl_batch_validate(prefix.data(), prefix.size(), 1 << 20, &info), SL_STORAGE_OK);
    }
}
