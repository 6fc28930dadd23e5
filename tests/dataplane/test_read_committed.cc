// read_committed and the last stable offset against a real sluiced. No transaction can be
// open on this broker (no transaction coordinator), so the last stable offset is the high
// watermark: raw Fetch and ListOffsets with isolation_level=1 say so, transactional
// batches are refused as Kafka refuses them outside a transaction, and real clients
// configured for read_committed read everything produced.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/dataplane/fetch_test_util.h"
#include "tests/support/broker_process.h"
#include "tests/support/child_process.h"
#include "tests/support/rdkafka_client.h"
#include "tests/support/stats_socket.h"

namespace
{

using sl_test::broker_options;
using sl_test::broker_process;
using sl_test::codec_client;
using sl_test::fetch_args;
using sl_test::fetch_result;

constexpr int16_t k_invalid_txn_state = 48;
constexpr int16_t k_transactional_id_authorization_failed = 53;

class ReadCommitted : public ::testing::Test
{
  protected:
    static void SetUpTestSuite()
    {
        broker_options o;
        o.topics = {{"lso", 1}, {"txn", 1}, {"rk", 2}, {"kp", 2}};
        broker_ = new broker_process(o);
        start_ = broker_->Start();
    }
    static void TearDownTestSuite()
    {
        // A clean SIGTERM exit (under ASan also: no leak, no error at shutdown).
        if (broker_->running()) {
            EXPECT_TRUE(broker_->Stop());
        }
        delete broker_;
        broker_ = nullptr;
    }
    void SetUp() override
    {
        ASSERT_TRUE(start_);
        ASSERT_TRUE(client.connect(broker_->bootstrap()));
    }

    int64_t high_watermark(const std::string &topic)
    {
        return sl_test::high_watermark(client, topic);
    }

    // Real clients of this version fetch sessionless (docs/protocol.md): no session opened,
    // no session error answered.
    static void expect_no_fetch_sessions()
    {
        std::string stats, err;
        ASSERT_TRUE(sl_test::query_stats_socket(broker_->stats_socket(), "{\"cmd\":\"/stats\"}",
                                                5000, &stats, &err))
            << err;
        EXPECT_NE(stats.find("\"fetch_sessions_created\":0,"), std::string::npos) << stats;
        EXPECT_EQ(stats.find("FETCH_SESSION"), std::string::npos) << stats;
    }

    static broker_process *broker_;
    static ::testing::AssertionResult start_;
    codec_client client;
};

broker_process *ReadCommitted::broker_ = nullptr;
::testing::AssertionResult ReadCommitted::start_ = ::testing::AssertionFailure();

TEST_F(ReadCommitted, FetchAnswersTheLastStableOffsetAsTheHighWatermarkAndNoAbortedTransactions)
{
    int16_t error = -1;
    for (int i = 0; i < 3; i++) {
        ASSERT_TRUE(sl_test::produce(client, "lso", 0, sl_test::make_batch(4), &error));
        ASSERT_EQ(error, 0);
    }
    // v4 (the first with isolation_level), v11 (librdkafka 2.0.2's), v12 (flexible).
    for (int16_t version : {4, 7, 11, 12}) {
        for (int8_t isolation : {1, 0}) {
            fetch_args a;
            a.version = version;
            a.isolation_level = isolation;
            a.partitions = {{"lso", {}, 0, 0}};
            fetch_result r;
            ASSERT_TRUE(sl_test::fetch(client, a, &r));
            ASSERT_EQ(r.partitions.size(), 1u);
            const auto &p = r.partitions[0];
            SCOPED_TRACE("Fetch v" + std::to_string(version) + " isolation " +
                         std::to_string(isolation));
            EXPECT_EQ(p.error_code, 0);
            EXPECT_EQ(p.high_watermark, 12);
            EXPECT_EQ(p.last_stable_offset, 12);
            EXPECT_EQ(p.aborted_count, 0) << "aborted_transactions must be an empty array";
            EXPECT_EQ(p.record_count, 12);
        }
    }
}

TEST_F(ReadCommitted, ListOffsetsLatestWithReadCommittedIsTheLastStableOffset)
{
    int16_t error = -1;
    ASSERT_TRUE(sl_test::produce(client, "lso", 0, sl_test::make_batch(2), &error));
    ASSERT_EQ(error, 0);
    int64_t hw = high_watermark("lso");
    ASSERT_GT(hw, 0);
    for (int8_t isolation : {1, 0}) {
        sl_codec_list_offsets_request_list_offsets_partition p;
        sl_codec_list_offsets_request_list_offsets_partition_init(&p);
        p.partition_index = 0;
        p.timestamp = -1; // latest
        sl_codec_list_offsets_request_list_offsets_topic t;
        sl_codec_list_offsets_request_list_offsets_topic_init(&t);
        static const std::string name = "lso";
        t.name = sl_test::slice_of(name);
        t.partitions = &p;
        t.partitions_count = 1;
        sl_codec_list_offsets_request req;
        sl_codec_list_offsets_request_init(&req);
        req.replica_id = -1;
        req.isolation_level = isolation;
        req.topics = &t;
        req.topics_count = 1;
        void *body = nullptr;
        ASSERT_TRUE(client.call(2, 5, &req, &body));
        const auto *resp = static_cast<const sl_codec_list_offsets_response *>(body);
        ASSERT_EQ(resp->topics_count, 1);
        ASSERT_EQ(resp->topics[0].partitions_count, 1);
        EXPECT_EQ(resp->topics[0].partitions[0].error_code, 0);
        EXPECT_EQ(resp->topics[0].partitions[0].offset, hw) << "isolation " << int(isolation);
    }
}

TEST_F(ReadCommitted, TransactionalBatchesAreRefusedAndNeverStored)
{
    int16_t error = -1;
    ASSERT_TRUE(sl_test::produce(client, "txn", 0, sl_test::make_batch(1), &error));
    ASSERT_EQ(error, 0);
    int64_t hw = high_watermark("txn");
    ASSERT_EQ(hw, 1);
    const std::vector<uint8_t> txn = sl_test::make_batch(3, true);

    // No transactional id: the whole request is refused, as Kafka's produce authorization does.
    ASSERT_TRUE(sl_test::produce(client, "txn", 0, txn, &error));
    EXPECT_EQ(error, k_transactional_id_authorization_failed);
    // With one: no transaction can have been begun here (no coordinator).
    const std::string tid = "some-transaction";
    ASSERT_TRUE(sl_test::produce(client, "txn", 0, txn, &error, &tid));
    EXPECT_EQ(error, k_invalid_txn_state);

    EXPECT_EQ(high_watermark("txn"), hw) << "a transactional batch was appended";
    // The partition still takes ordinary batches.
    ASSERT_TRUE(sl_test::produce(client, "txn", 0, sl_test::make_batch(1), &error));
    EXPECT_EQ(error, 0);
    EXPECT_EQ(high_watermark("txn"), hw + 1);
}

TEST_F(ReadCommitted, LibrdkafkaReadCommittedConsumerReadsEverythingProduced)
{
    constexpr int k_count = 200;
    sl_test::rdkafka_producer producer;
    std::string error;
    ASSERT_TRUE(producer.open(broker_->bootstrap(), {{"linger.ms", "5"}}, &error)) << error;
    for (int i = 0; i < k_count; i++)
        ASSERT_EQ(producer.produce("rk", i % 2, nullptr, "m" + std::to_string(i), {}, (uint64_t)i),
                  RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(producer.flush(20000), 0);
    std::vector<sl_test::consumed_message> got;
    ASSERT_EQ(sl_test::consume_partitions(broker_->bootstrap(), "rk", 2, RD_KAFKA_OFFSET_BEGINNING,
                                          k_count, 30000, &got,
                                          {{"isolation.level", "read_committed"}}),
              "");
    EXPECT_EQ(got.size(), (size_t)k_count);
    expect_no_fetch_sessions();
}

TEST_F(ReadCommitted, KafkaPythonReadCommittedConsumerReadsEverythingProduced)
{
    const char *script = R"PY(
import sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
bootstrap, count = sys.argv[1], int(sys.argv[2])
p = KafkaProducer(bootstrap_servers=bootstrap)
for i in range(count):
    p.send('kp', value=b'v%d' % i, partition=i % 2)
p.flush(20)
c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                  consumer_timeout_ms=20000)
# kafka-python 2.0.2 has no isolation_level setting (2.1 added it): its fetcher always
# sends READ_UNCOMMITTED. Switch the fetcher itself so the real client sends Fetch v4
# with isolation_level=1 and parses the read_committed answer.
from kafka.consumer.fetcher import READ_COMMITTED
assert c._fetcher._isolation_level == 0
c._fetcher._isolation_level = READ_COMMITTED
tps = [TopicPartition('kp', 0), TopicPartition('kp', 1)]
c.assign(tps)
c.seek_to_beginning()
seen = 0
for m in c:
    seen += 1
    if seen == count:
        break
print('READ %d' % seen)
)PY";
    sl_test::command_result r = sl_test::run_command(
        {"/usr/bin/python3", "-c", script, broker_->bootstrap(), "150"}, 60000);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_NE(r.stdout_text.find("READ 150"), std::string::npos) << r.describe();
    expect_no_fetch_sessions();
}

} // namespace
