// Metadata records (encoding, corruption detection), the image (apply, copy-on-write,
// snapshot encoding) and lock-free publication.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "md_test_util.h"

extern "C" {
#include "common/sl_bytes.h"
#include "controlplane/metadata_publisher.h"
}

namespace
{

std::vector<sl_md_record> all_record_types()
{
    std::vector<sl_md_record> v;
    v.push_back(rec_register(1, 5, "rack-a"));
    v.back().broker.listener_count = 2;
    snprintf(v.back().broker.listeners[1].name, SL_MD_LISTENER_NAME_BYTES_MAX, "CONTROLLER");
    snprintf(v.back().broker.listeners[1].host, SL_MD_HOST_BYTES_MAX, "::1");
    v.back().broker.listeners[1].port = 9093;
    v.push_back(rec_broker_change(SL_MD_RECORD_FENCE_BROKER, 1, 5, true));
    v.push_back(rec_broker_change(SL_MD_RECORD_UNREGISTER_BROKER, 1, 5, false));
    v.push_back(rec_topic("orders", 7));
    v.push_back(rec_partition(7, 0, {1, 2, 3}, {1, 2}, 1, 4, 9));
    v.push_back(rec_partition(7, 0, {1, 2, 3}, {2}, 2, 5, 10, SL_MD_RECORD_PARTITION_CHANGE));
    v.push_back(rec_config(SL_MD_RESOURCE_TOPIC, "orders", "retention.ms", "1000"));
    v.push_back(rec_config(SL_MD_RESOURCE_BROKER, "", "log.retention.ms", nullptr));
    v.push_back(rec_remove_topic(7));
    return v;
}

std::vector<sl_md_record> decode_all(const std::vector<uint8_t> &bytes, int *rc_out,
                                     std::string *why)
{
    std::vector<sl_md_record> out;
    sl_md_batch_reader reader;
    char err[256] = "";
    int rc = sl_md_batch_open(&reader, bytes.data(), bytes.size(), err, sizeof(err));
    if (rc == 0) {
        sl_md_record r;
        while ((rc = sl_md_batch_next(&reader, &r, err, sizeof(err))) == 1) {
            out.push_back(r);
        }
    }
    *rc_out = rc;
    *why = err;
    return out;
}

} // namespace

TEST(MetadataRecords, RoundTripEveryType)
{
    auto records = all_record_types();
    auto bytes = encode_batch(records);
    int rc;
    std::string why;
    auto decoded = decode_all(bytes, &rc, &why);
    ASSERT_EQ(rc, 0) << why;
    ASSERT_EQ(decoded.size(), records.size());
    for (size_t i = 0; i < records.size(); i++) {
        EXPECT_EQ(memcmp(&decoded[i], &records[i], sizeof(sl_md_record)), 0)
            << "record " << i << " " << sl_md_record_type_name(records[i].type);
    }
}

TEST(MetadataRecords, EveryFlippedBitAndTruncationIsDetected)
{
    auto bytes = encode_batch(all_record_types());
    for (size_t i = 0; i < bytes.size(); i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            auto bad = bytes;
            bad[i] ^= (uint8_t)(1u << bit);
            int rc;
            std::string why;
            decode_all(bad, &rc, &why);
            ASSERT_EQ(rc, -EBADMSG) << "flip at byte " << i;
            EXPECT_FALSE(why.empty());
        }
    }
    for (size_t len = 0; len < bytes.size(); len++) {
        std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + (long)len);
        int rc;
        std::string why;
        decode_all(cut, &rc, &why);
        ASSERT_EQ(rc, -EBADMSG) << "truncated to " << len;
    }
}

TEST(MetadataRecords, RaftPaddingMustBeShortAndZero)
{
    auto bytes = encode_batch({rec_topic("a", 1)});
    int rc;
    std::string why;
    auto padded = bytes;
    padded.resize((bytes.size() + 7) & ~size_t(7), 0);
    padded.push_back(0); // one more byte than padding to 8 needs is still < 8: fine
    padded.resize(bytes.size() + 7, 0);
    decode_all(padded, &rc, &why);
    EXPECT_EQ(rc, 0) << why;
    auto too_long = bytes;
    too_long.resize(bytes.size() + 8, 0);
    decode_all(too_long, &rc, &why);
    EXPECT_EQ(rc, -EBADMSG);
    auto dirty = bytes;
    dirty.push_back(1);
    decode_all(dirty, &rc, &why);
    EXPECT_EQ(rc, -EBADMSG);
}

TEST(MetadataRecords, UnknownTypeOrVersionIsRefusedByName)
{
    auto bytes = encode_batch({rec_topic("a", 1)});
    auto reseal = [](std::vector<uint8_t> &b) {
        sl_store_be32(b.data() + 8, sl_md_crc32c(b.data() + 12, b.size() - 12));
    };
    auto unknown = bytes;
    sl_store_be16(unknown.data() + SL_MD_BATCH_HEADER_BYTES, 99);
    reseal(unknown);
    int rc;
    std::string why;
    decode_all(unknown, &rc, &why);
    EXPECT_EQ(rc, -EBADMSG);
    EXPECT_NE(why.find("unknown type 99"), std::string::npos) << why;

    auto newer = bytes;
    sl_store_be16(newer.data() + SL_MD_BATCH_HEADER_BYTES + 2, 2);
    reseal(newer);
    decode_all(newer, &rc, &why);
    EXPECT_EQ(rc, -EBADMSG);
    EXPECT_NE(why.find("TOPIC) has version 2"), std::string::npos) << why;

    auto format = bytes;
    sl_store_be16(format.data() + 4, 9);
    decode_all(format, &rc, &why);
    EXPECT_NE(why.find("format 9"), std::string::npos) << why;
}

class ImageTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        image = sl_md_image_new();
        ASSERT_NE(image, nullptr);
    }
    void TearDown() override
    {
        sl_md_image_unref(image);
    }
    sl_md_image *image = nullptr;
};

TEST_F(ImageTest, CreateTopicAndLookups)
{
    ASSERT_EQ(apply_records(&image, {rec_register(1, 1), rec_register(2, 2), rec_topic("t", 3),
                                     rec_partition(3, 0, {1, 2}, {1, 2}, 1),
                                     rec_partition(3, 1, {2, 1}, {2, 1}, 2),
                                     rec_config(SL_MD_RESOURCE_TOPIC, "t", "retention.ms", "5")}),
              0);
    EXPECT_EQ(image->version, 6u);
    EXPECT_TRUE(image->sealed);
    const sl_md_topic *t = sl_md_image_topic(image, "t");
    ASSERT_NE(t, nullptr);
    sl_md_uuid id = test_uuid(3);
    EXPECT_EQ(sl_md_image_topic_by_id(image, &id), t);
    EXPECT_EQ(t->partition_count, 2u);
    EXPECT_EQ(sl_md_topic_partition(t, 1)->leader, 2);
    EXPECT_EQ(sl_md_topic_partition(t, 2), nullptr);
    EXPECT_EQ(sl_md_topic_partition(t, -1), nullptr);
    EXPECT_STREQ(sl_md_topic_config(t, "retention.ms"), "5");
    EXPECT_EQ(sl_md_topic_config(t, "segment.ms"), nullptr);
    EXPECT_EQ(sl_md_image_broker(image, 2)->broker_epoch, 2);
    EXPECT_EQ(sl_md_image_broker(image, 3), nullptr);
    EXPECT_EQ(sl_md_image_topic(image, "u"), nullptr);
}

TEST_F(ImageTest, FailedBatchLeavesImageUnchanged)
{
    ASSERT_EQ(apply_records(&image, {rec_topic("t", 3)}), 0);
    std::string before = image_bytes(image);
    sl_md_image *base = image;
    std::string why;
    // The first record is fine, the second is a duplicate: nothing of the batch applies.
    EXPECT_EQ(apply_records(&image, {rec_topic("u", 4), rec_topic("t", 5)}, &why), -EEXIST);
    EXPECT_NE(why.find("'t'"), std::string::npos) << why;
    EXPECT_EQ(image, base);
    EXPECT_EQ(image_bytes(image), before);
    EXPECT_EQ(sl_md_image_topic(image, "u"), nullptr);
    EXPECT_EQ(apply_records(&image, {rec_topic("v", 3)}, &why), -EEXIST); // same id
    EXPECT_EQ(apply_records(&image, {rec_topic("bad/name", 9)}, &why), -EINVAL);
    sl_md_record zero = rec_topic("zero", 0);
    memset(&zero.topic.topic_id, 0, sizeof(zero.topic.topic_id));
    EXPECT_EQ(apply_records(&image, {zero}, &why), -EINVAL);
    EXPECT_NE(why.find("zero topic id"), std::string::npos) << why;
}

TEST_F(ImageTest, PartitionInvariantsAndEpochs)
{
    ASSERT_EQ(
        apply_records(&image, {rec_topic("t", 3), rec_partition(3, 0, {1, 2, 3}, {1, 2, 3}, 1)}),
        0);
    std::string why;
    EXPECT_EQ(apply_records(&image, {rec_partition(3, 2, {1}, {1}, 1)}, &why), -EINVAL); // gap
    EXPECT_EQ(apply_records(&image, {rec_partition(3, 0, {1}, {1}, 1)}, &why), -EEXIST);
    EXPECT_EQ(apply_records(&image, {rec_partition(4, 0, {1}, {1}, 1)}, &why), -ENOENT);
    EXPECT_EQ(apply_records(&image, {rec_partition(3, 1, {1, 1}, {1}, 1)}, &why), -EINVAL);
    EXPECT_EQ(apply_records(&image, {rec_partition(3, 1, {1, 2}, {3}, 1)}, &why), -EINVAL);
    EXPECT_NE(why.find("ISR member 3 is not a replica"), std::string::npos) << why;
    EXPECT_EQ(apply_records(&image, {rec_partition(3, 1, {1, 2}, {2}, 1)}, &why), -EINVAL);
    EXPECT_NE(why.find("leader 1 is not in the ISR"), std::string::npos) << why;
    EXPECT_EQ(apply_records(&image, {rec_partition(3, 1, {}, {}, -1)}, &why), -EINVAL);

    auto change = [](std::initializer_list<int32_t> isr, int32_t leader, int32_t le, int32_t pe) {
        return rec_partition(3, 0, {1, 2, 3}, isr, leader, le, pe, SL_MD_RECORD_PARTITION_CHANGE);
    };
    // ISR shrink keeps the leader epoch, bumps the partition epoch.
    ASSERT_EQ(apply_records(&image, {change({1, 2}, 1, 0, 1)}, &why), 0) << why;
    EXPECT_EQ(apply_records(&image, {change({1}, 1, 0, 1)}, &why), -ESTALE); // epoch reused
    EXPECT_NE(why.find("partition epoch 1 does not follow 1"), std::string::npos) << why;
    EXPECT_EQ(apply_records(&image, {change({2}, 2, 0, 2)}, &why), -ESTALE); // leader w/o bump
    ASSERT_EQ(apply_records(&image, {change({2}, 2, 1, 2)}, &why), 0) << why;
    EXPECT_EQ(apply_records(&image, {change({2}, 2, 3, 3)}, &why), -ESTALE);  // skips an epoch
    ASSERT_EQ(apply_records(&image, {change({}, -1, 2, 3)}, &why), 0) << why; // offline
    const sl_md_partition *p = sl_md_topic_partition(sl_md_image_topic(image, "t"), 0);
    EXPECT_EQ(p->leader, -1);
    EXPECT_EQ(p->leader_epoch, 2);
    EXPECT_EQ(p->partition_epoch, 3);
}

TEST_F(ImageTest, BrokerRegistrationFencingAndEpochs)
{
    std::string why;
    ASSERT_EQ(apply_records(&image, {rec_register(1, 10)}), 0);
    EXPECT_EQ(apply_records(&image, {rec_register(1, 10)}, &why), -ESTALE);
    EXPECT_EQ(apply_records(&image, {rec_register(-4, 10)}, &why), -EINVAL);
    EXPECT_EQ(
        apply_records(&image, {rec_broker_change(SL_MD_RECORD_FENCE_BROKER, 1, 9, true)}, &why),
        -ESTALE);
    ASSERT_EQ(apply_records(&image, {rec_broker_change(SL_MD_RECORD_FENCE_BROKER, 1, 10, true)}),
              0);
    EXPECT_TRUE(sl_md_image_broker(image, 1)->fenced);
    ASSERT_EQ(apply_records(&image, {rec_register(1, 12)}), 0);
    EXPECT_FALSE(sl_md_image_broker(image, 1)->fenced);
    EXPECT_EQ(apply_records(&image,
                            {rec_broker_change(SL_MD_RECORD_UNREGISTER_BROKER, 2, 1, false)}, &why),
              -ENOENT);
    ASSERT_EQ(
        apply_records(&image, {rec_broker_change(SL_MD_RECORD_UNREGISTER_BROKER, 1, 12, false)}),
        0);
    EXPECT_EQ(image->broker_count, 0u);
}

TEST_F(ImageTest, ConfigsSetReplaceDelete)
{
    ASSERT_EQ(
        apply_records(&image, {rec_topic("t", 1), rec_config(SL_MD_RESOURCE_TOPIC, "t", "b", "1"),
                               rec_config(SL_MD_RESOURCE_TOPIC, "t", "a", "2"),
                               rec_config(SL_MD_RESOURCE_TOPIC, "t", "b", "3"),
                               rec_config(SL_MD_RESOURCE_BROKER, "", "x", "4"),
                               rec_config(SL_MD_RESOURCE_BROKER, "2", "x", "5")}),
        0);
    const sl_md_topic *t = sl_md_image_topic(image, "t");
    ASSERT_EQ(t->config_count, 2u);
    EXPECT_STREQ(t->configs[0].key, "a");
    EXPECT_STREQ(sl_md_topic_config(t, "b"), "3");
    EXPECT_STREQ(sl_md_image_broker_config(image, "", "x"), "4");
    EXPECT_STREQ(sl_md_image_broker_config(image, "2", "x"), "5");
    ASSERT_EQ(apply_records(&image, {rec_config(SL_MD_RESOURCE_TOPIC, "t", "b", nullptr),
                                     rec_config(SL_MD_RESOURCE_BROKER, "", "x", nullptr)}),
              0);
    EXPECT_EQ(sl_md_topic_config(sl_md_image_topic(image, "t"), "b"), nullptr);
    EXPECT_EQ(sl_md_image_broker_config(image, "", "x"), nullptr);
    std::string why;
    EXPECT_EQ(apply_records(&image, {rec_config(SL_MD_RESOURCE_TOPIC, "nope", "a", "1")}, &why),
              -ENOENT);
    EXPECT_EQ(apply_records(&image, {rec_config(SL_MD_RESOURCE_BROKER, "b1", "a", "1")}, &why),
              -EINVAL);
    EXPECT_EQ(apply_records(&image, {rec_config(7, "x", "a", "1")}, &why), -EINVAL);
}

TEST_F(ImageTest, CopyOnWriteSharesUnchangedTopicsAndKeepsOldVersionsIntact)
{
    ASSERT_EQ(apply_records(&image, {rec_topic("a", 1), rec_partition(1, 0, {1}, {1}, 1),
                                     rec_topic("b", 2), rec_partition(2, 0, {1}, {1}, 1)}),
              0);
    sl_md_image *old = sl_md_image_ref(image);
    std::string old_bytes = image_bytes(old);
    ASSERT_EQ(apply_records(
                  &image, {rec_partition(1, 0, {1}, {}, -1, 1, 1, SL_MD_RECORD_PARTITION_CHANGE)}),
              0);
    EXPECT_NE(sl_md_image_topic(image, "a"), sl_md_image_topic(old, "a"));
    EXPECT_EQ(sl_md_image_topic(image, "b"), sl_md_image_topic(old, "b"));
    EXPECT_EQ(image_bytes(old), old_bytes);
    EXPECT_EQ(sl_md_topic_partition(sl_md_image_topic(old, "a"), 0)->leader, 1);
    ASSERT_EQ(apply_records(&image, {rec_remove_topic(2)}), 0);
    EXPECT_NE(sl_md_image_topic(old, "b"), nullptr);
    EXPECT_EQ(sl_md_image_topic(image, "b"), nullptr);
    sl_md_image_unref(old);
}

TEST_F(ImageTest, SnapshotRoundTripIsByteIdentical)
{
    std::vector<sl_md_record> records = {rec_register(3, 1, "r1"), rec_register(1, 2, "r2", true),
                                         rec_config(SL_MD_RESOURCE_BROKER, "1", "k", "v")};
    // Enough partitions to need several snapshot batches.
    for (unsigned t = 1; t <= 5; t++) {
        std::string name = "topic-" + std::to_string(6 - t);
        records.push_back(rec_topic(name.c_str(), t));
        for (int p = 0; p < 60; p++) {
            records.push_back(rec_partition(t, p, {1, 3}, {1, 3}, p % 2 ? 1 : 3));
        }
        records.push_back(rec_config(SL_MD_RESOURCE_TOPIC, name.c_str(), "retention.ms", "9"));
    }
    ASSERT_EQ(apply_records(&image, records), 0);
    std::string bytes = image_bytes(image);
    sl_md_image *copy = nullptr;
    char err[256] = "";
    ASSERT_EQ(sl_md_image_decode(bytes.data(), bytes.size(), &copy, err, sizeof(err)), 0) << err;
    EXPECT_EQ(copy->version, image->version);
    EXPECT_EQ(image_bytes(copy), bytes);
    EXPECT_EQ(copy->topic_count, 5u);
    EXPECT_TRUE(sl_md_image_broker(copy, 1)->fenced);
    sl_md_image_unref(copy);

    for (size_t i = 0; i < bytes.size(); i += 97) {
        std::string bad = bytes;
        bad[i] ^= 0x10;
        ASSERT_EQ(sl_md_image_decode(bad.data(), bad.size(), &copy, err, sizeof(err)), -EBADMSG)
            << i;
    }
    EXPECT_EQ(sl_md_image_decode(bytes.data(), bytes.size() - 1, &copy, err, sizeof(err)),
              -EBADMSG);

    sl_md_image *empty = sl_md_image_new();
    std::string empty_bytes = image_bytes(empty);
    ASSERT_EQ(sl_md_image_decode(empty_bytes.data(), empty_bytes.size(), &copy, err, sizeof(err)),
              0);
    EXPECT_EQ(copy->topic_count, 0u);
    sl_md_image_unref(copy);
    sl_md_image_unref(empty);
}

TEST(TopicNames, KafkaRules)
{
    EXPECT_TRUE(sl_md_topic_name_valid("a.b_c-D9"));
    EXPECT_FALSE(sl_md_topic_name_valid(""));
    EXPECT_FALSE(sl_md_topic_name_valid("."));
    EXPECT_FALSE(sl_md_topic_name_valid(".."));
    EXPECT_FALSE(sl_md_topic_name_valid("a b"));
    EXPECT_TRUE(sl_md_topic_name_valid(std::string(249, 'x').c_str()));
    EXPECT_FALSE(sl_md_topic_name_valid(std::string(250, 'x').c_str()));
}

TEST(Publisher, RetiredVersionsLiveUntilNoReaderHoldsThem)
{
    sl_md_image *v0 = sl_md_image_new();
    sl_md_publisher *pub = sl_md_publisher_new(2, v0);
    ASSERT_NE(pub, nullptr);
    EXPECT_EQ(sl_md_publisher_acquire(pub, 0), v0);
    sl_md_image *v1 = v0;
    ASSERT_EQ(apply_records(&v1, {rec_topic("t", 1)}), 0); // drops our v0 ref
    sl_md_publisher_publish(pub, v1);
    EXPECT_EQ(v0->refs, 1u) << "reader 0 still holds v0: the publisher keeps it";
    EXPECT_EQ(sl_md_publisher_acquire(pub, 1), v1);
    EXPECT_EQ(sl_md_publisher_reclaim(pub), 1u);
    EXPECT_EQ(sl_md_publisher_acquire(pub, 0), v1);
    EXPECT_EQ(sl_md_publisher_reclaim(pub), 0u); // v0 freed (ASan checks no reader used it)
    EXPECT_GT(v1->publish_seq, 1u);
    sl_md_publisher_release(pub, 0);
    sl_md_publisher_release(pub, 1);
    sl_md_image_unref(v1);
    sl_md_publisher_free(pub);
}

// Readers on other threads read whole images while the control plane publishes and frees
// versions; under ASan any read of a freed version fails the test.
TEST(Publisher, ConcurrentReadersNeverSeeFreedOrTornImages)
{
    sl_md_image *image = sl_md_image_new();
    ASSERT_EQ(apply_records(&image, {rec_topic("t", 1), rec_partition(1, 0, {1}, {1}, 1)}), 0);
    sl_md_publisher *pub = sl_md_publisher_new(2, image);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> reads{0};
    std::atomic<bool> torn{false};
    auto reader = [&](uint32_t slot) {
        uint64_t last_seq = 0;
        while (!stop.load()) {
            const sl_md_image *img = sl_md_publisher_acquire(pub, slot);
            const sl_md_topic *t = sl_md_image_topic(img, "t");
            const sl_md_partition *p = t ? sl_md_topic_partition(t, 0) : nullptr;
            // Every published version keeps leader_epoch == partition_epoch.
            if (p == nullptr || p->leader_epoch != p->partition_epoch ||
                img->publish_seq < last_seq) {
                torn = true;
            }
            last_seq = img->publish_seq;
            reads++;
        }
        sl_md_publisher_release(pub, slot);
    };
    std::thread r0(reader, 0), r1(reader, 1);
    while (reads.load() == 0) {
        std::this_thread::yield();
    }
    // At least 2000 versions, and enough for the readers to overlap with many of them.
    for (int32_t i = 1; i <= 2000 || (reads.load() < 20000 && i <= 200000); i++) {
        int32_t leader = i % 2 ? 2 : 1;
        ASSERT_EQ(apply_records(&image, {rec_partition(1, 0, {1, 2}, {1, 2}, leader, i, i,
                                                       SL_MD_RECORD_PARTITION_CHANGE)}),
                  0);
        sl_md_publisher_publish(pub, image);
        EXPECT_LE(sl_md_publisher_reclaim(pub), 2u);
    }
    stop = true;
    r0.join();
    r1.join();
    EXPECT_FALSE(torn.load());
    EXPECT_GT(reads.load(), 0u);
    EXPECT_EQ(sl_md_publisher_reclaim(pub), 0u);
    sl_md_image_unref(image);
    sl_md_publisher_free(pub);
}
