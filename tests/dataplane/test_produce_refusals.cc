// Produce requests Kafka refuses, against a real sluiced: acks outside -1, 0 and 1 get
// INVALID_REQUIRED_ACKS (21) on every partition and append nothing, counted in the stats
// socket's errors; batches whose timestamps are further from the broker clock than
// log.message.timestamp.difference.max.ms get INVALID_TIMESTAMP (32), except NO_TIMESTAMP
// (-1), which Kafka does not check either; KIP-937's before/after limits override it per
// side. (Transactional records without a transactional id, the other whole-request
// refusal, are in test_read_committed.)
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/sl_clock.h"
#include "tests/dataplane/fetch_test_util.h"
#include "tests/support/broker_process.h"
#include "tests/support/stats_socket.h"

namespace
{

using sl_test::broker_options;
using sl_test::broker_process;
using sl_test::codec_client;

constexpr int16_t k_invalid_required_acks = 21;

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
    ASSERT_EQ(sl_test::high_watermark(client, "acks"), 4);
    for (int16_t acks : {2, -2, 100}) {
        ASSERT_TRUE(
            sl_test::produce(client, "acks", 0, sl_test::make_batch(3), &error, nullptr, acks));
        EXPECT_EQ(error, k_invalid_required_acks) << "acks=" << acks;
    }
    EXPECT_EQ(sl_test::high_watermark(client, "acks"), 4) << "a refused request appended records";
    sl_test::stats_totals totals;
    std::string err;
    ASSERT_TRUE(sl_test::read_stats_totals(broker.stats_socket(), &totals, &err)) << err;
    EXPECT_EQ(totals.get("errors.INVALID_REQUIRED_ACKS"), 3u);
    EXPECT_TRUE(broker.Stop());
}

// Two records stamped timestamp_ms; a negative one (-1 is NO_TIMESTAMP) is written into
// both header timestamps directly, the records' deltas staying 0.
std::vector<uint8_t> batch_at(int64_t timestamp_ms)
{
    std::vector<uint8_t> b = sl_test::build_record_batch({{"k0", "v0"}, {"k1", "v1"}},
                                                         timestamp_ms < 0 ? 0 : timestamp_ms);
    if (timestamp_ms < 0) {
        for (size_t off : {size_t{SL_BATCH_OFF_BASE_TIMESTAMP}, size_t{SL_BATCH_OFF_MAX_TIMESTAMP}})
            for (int i = 0; i < 8; i++)
                b[off + i] = (uint8_t)((uint64_t)timestamp_ms >> (56 - 8 * i));
        uint32_t crc =
            sl_test::crc32c(b.data() + SL_BATCH_OFF_ATTRIBUTES, b.size() - SL_BATCH_OFF_ATTRIBUTES);
        for (int i = 0; i < 4; i++)
            b[SL_BATCH_OFF_CRC + i] = (uint8_t)(crc >> (24 - 8 * i));
    }
    return b;
}

struct timestamp_attempt {
    int64_t timestamp_ms;
    int16_t error; // 0 or INVALID_TIMESTAMP (32)
};

// A broker with these properties and one topic: one two-record batch per attempt (made
// from the broker-side "now"), each answered as expected, and only the accepted ones in
// the log.
void expect_timestamp_answers(const std::map<std::string, std::string> &properties,
                              const std::function<std::vector<timestamp_attempt>(int64_t)> &make)
{
    broker_options o;
    o.topics = {{"times", 1}};
    o.properties = properties;
    broker_process broker(o);
    ASSERT_TRUE(broker.Start());
    codec_client client;
    ASSERT_TRUE(client.connect(broker.bootstrap()));
    int64_t now = sl_wall_clock_ms();
    int64_t accepted = 0;
    for (const timestamp_attempt &a : make(now)) {
        int16_t error = -1;
        ASSERT_TRUE(sl_test::produce(client, "times", 0, batch_at(a.timestamp_ms), &error));
        EXPECT_EQ(error, a.error) << "timestamp " << a.timestamp_ms << " (now " << now << ")";
        accepted += a.error == 0 ? 2 : 0;
    }
    EXPECT_EQ(sl_test::high_watermark(client, "times"), accepted);
    EXPECT_TRUE(broker.Stop());
}

TEST(ProduceRefusals, TimestampsFarFromTheBrokerClockAreRefusedExceptNoTimestamp)
{
    expect_timestamp_answers({{"log.message.timestamp.difference.max.ms", "3600000"}},
                             [](int64_t now) -> std::vector<timestamp_attempt> {
                                 return {{now - 2 * 3600000, 32},
                                         {now + 2 * 3600000, 32},
                                         {now - 60000, 0},
                                         {-1, 0},
                                         {1000, 32}};
                             });
}

// KIP-937: after.max.ms narrows the future side; the past side falls back to the
// difference limit; INT64_MIN is refused without overflowing the distance.
TEST(ProduceRefusals, BeforeAndAfterLimitsOverrideTheDifferenceOnTheirSide)
{
    expect_timestamp_answers({{"log.message.timestamp.difference.max.ms", "3600000"},
                              {"log.message.timestamp.after.max.ms", "60000"}},
                             [](int64_t now) -> std::vector<timestamp_attempt> {
                                 return {{now - 2 * 3600000, 32}, {now - 1800000, 0},
                                         {now + 30000, 0},        {now + 600000, 32},
                                         {INT64_MIN, 32},         {-1, 0}};
                             });
}

} // namespace
