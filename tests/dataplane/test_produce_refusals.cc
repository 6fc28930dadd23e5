// Produce requests Kafka refuses as a whole, against a real sluiced: acks outside -1, 0
// and 1 get INVALID_REQUIRED_ACKS (21) on every partition and append nothing, and are
// counted in the stats socket's errors. (Transactional records without a transactional
// id, the other whole-request refusal, are in test_read_committed.)
#include <gtest/gtest.h>

#include <string>

#include "tests/dataplane/fetch_test_util.h"
#include "tests/support/broker_process.h"
#include "tests/support/stats_socket.h"

namespace
{

using sl_test::broker_options;
using sl_test::broker_process;
using sl_test::codec_client;
using sl_test::fetch_args;
using sl_test::fetch_result;

constexpr int16_t k_invalid_required_acks = 21;

int64_t high_watermark(codec_client &client, const std::string &topic)
{
    fetch_args a;
    a.min_bytes = 0;
    a.partitions = {{topic, {}, 0, 0}};
    fetch_result r;
    EXPECT_TRUE(sl_test::fetch(client, a, &r));
    return r.partitions.size() == 1 ? r.partitions[0].high_watermark : -100;
}

TEST(ProduceRefusals, AcksOutsideMinusOneToOneAreRefusedAndAppendNothing)
{
    broker_options o;
    o.topics = {{"acks", 1}};
    broker_process broker(o);
    ASSERT_TRUE(broker.Start());
    codec_client client;
    ASSERT_TRUE(client.connect(broker.bootstrap()));
    int16_t error = -1;
    for (int16_t acks : {-1, 1}) { // (acks=0 has no answer to read)
        ASSERT_TRUE(
            sl_test::produce(client, "acks", 0, sl_test::make_batch(2), &error, nullptr, acks));
        EXPECT_EQ(error, 0) << "acks=" << acks;
    }
    ASSERT_EQ(high_watermark(client, "acks"), 4);
    for (int16_t acks : {2, -2, 100}) {
        ASSERT_TRUE(
            sl_test::produce(client, "acks", 0, sl_test::make_batch(3), &error, nullptr, acks));
        EXPECT_EQ(error, k_invalid_required_acks) << "acks=" << acks;
    }
    EXPECT_EQ(high_watermark(client, "acks"), 4) << "a refused request appended records";
    sl_test::stats_totals totals;
    std::string err;
    ASSERT_TRUE(sl_test::read_stats_totals(broker.stats_socket(), &totals, &err)) << err;
    EXPECT_EQ(totals.get("errors.INVALID_REQUIRED_ACKS"), 3u);
    EXPECT_TRUE(broker.Stop());
}

} // namespace
