// Fetch sessions (KIP-227) against a real sluiced: requests encoded exactly (any Fetch
// version, session id and epoch) over a raw socket, answers decoded and checked field by
// field.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

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

constexpr int16_t k_fetch_session_id_not_found = 70;
constexpr int16_t k_invalid_fetch_session_epoch = 71;
constexpr int16_t k_fetch_session_topic_id_error = 106;

class FetchSessions : public ::testing::Test
{
  protected:
    static void SetUpTestSuite()
    {
        broker_options o;
        for (const char *t : {"full", "idle", "changed", "forget", "epoch", "close", "ids", "wrap"})
            o.topics[t] = 2;
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
        ASSERT_TRUE(producer.connect(broker_->bootstrap()));
    }

    // Both partitions of topic from offset 0.
    static std::vector<sl_test::fetch_partition_arg> both(const std::string &topic)
    {
        return {{topic, {}, 0, 0}, {topic, {}, 1, 0}};
    }

    void produce(const std::string &topic, int32_t partition, int records)
    {
        int16_t error = -1;
        ASSERT_TRUE(
            sl_test::produce(producer, topic, partition, sl_test::make_batch(records), &error));
        ASSERT_EQ(error, 0);
    }

    // Opens a session over both partitions of topic; returns its id.
    int32_t open_session(const std::string &topic, fetch_result *r)
    {
        fetch_args a;
        a.session_epoch = 0;
        a.min_bytes = 0;
        a.partitions = both(topic);
        EXPECT_TRUE(sl_test::fetch(client, a, r));
        EXPECT_EQ(r->error_code, 0);
        EXPECT_NE(r->session_id, 0);
        return r->session_id;
    }

    static broker_process *broker_;
    static ::testing::AssertionResult start_;
    codec_client client;
    codec_client producer;
};

broker_process *FetchSessions::broker_ = nullptr;
::testing::AssertionResult FetchSessions::start_ = ::testing::AssertionFailure();

TEST_F(FetchSessions, FullFetchWithEpochZeroCreatesASessionAndAnswersEveryPartition)
{
    produce("full", 0, 3);
    fetch_result r;
    int32_t id = open_session("full", &r);
    ASSERT_NE(id, 0);
    ASSERT_EQ(r.partitions.size(), 2u);
    EXPECT_EQ(r.partitions[0].partition, 0);
    EXPECT_EQ(r.partitions[0].record_count, 3);
    EXPECT_EQ(r.partitions[0].high_watermark, 3);
    EXPECT_EQ(r.partitions[1].partition, 1);
    EXPECT_EQ(r.partitions[1].high_watermark, 0);

    // Sessionless (id 0, epoch -1) stays what it was: session id 0 in the answer.
    fetch_args a;
    a.min_bytes = 0;
    a.partitions = both("full");
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    EXPECT_EQ(r.session_id, 0);
    EXPECT_EQ(r.partitions.size(), 2u);
}

TEST_F(FetchSessions, IncrementalFetchWithNothingNewWaitsThenAnswersNoPartitions)
{
    fetch_result r;
    int32_t id = open_session("idle", &r);
    fetch_args a;
    a.session_id = id;
    a.session_epoch = 1;
    a.max_wait_ms = 600;
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    EXPECT_EQ(r.error_code, 0);
    EXPECT_EQ(r.session_id, id);
    EXPECT_TRUE(r.partitions.empty());
    EXPECT_GE(r.elapsed_ms, 500) << "the incremental fetch did not wait for max_wait_ms";
}

TEST_F(FetchSessions, AfterAProduceTheIncrementalFetchAnswersExactlyTheChangedPartition)
{
    fetch_result r;
    int32_t id = open_session("changed", &r);
    produce("changed", 1, 5);
    fetch_args a;
    a.session_id = id;
    a.session_epoch = 1;
    a.max_wait_ms = 5000;
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    ASSERT_EQ(r.error_code, 0);
    ASSERT_EQ(r.partitions.size(), 1u);
    EXPECT_EQ(r.partitions[0].topic, "changed");
    EXPECT_EQ(r.partitions[0].partition, 1);
    EXPECT_EQ(r.partitions[0].record_count, 5);
    EXPECT_EQ(r.partitions[0].high_watermark, 5);
    EXPECT_LT(r.elapsed_ms, 4000);

    // The client moves its position: partition 1 from 5; nothing new anywhere.
    a.session_epoch = 2;
    a.max_wait_ms = 300;
    a.partitions = {{"changed", {}, 1, 5}};
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    EXPECT_EQ(r.error_code, 0);
    EXPECT_TRUE(r.partitions.empty());

    // A produce to partition 0 wakes a waiting incremental fetch, which reads from the
    // session's cached offsets (0 for partition 0, 5 for partition 1).
    produce("changed", 0, 2);
    produce("changed", 1, 1);
    a.session_epoch = 3;
    a.partitions.clear();
    a.max_wait_ms = 5000;
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    ASSERT_EQ(r.partitions.size(), 2u);
    EXPECT_EQ(r.partitions[0].record_count, 2);
    EXPECT_EQ(r.partitions[1].record_count, 1);
}

TEST_F(FetchSessions, ForgottenTopicsRemoveAPartitionFromTheSession)
{
    fetch_result r;
    int32_t id = open_session("forget", &r);
    fetch_args a;
    a.session_id = id;
    a.session_epoch = 1;
    a.min_bytes = 0;
    a.forgotten = {{"forget", {}, 1, 0}};
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    EXPECT_EQ(r.error_code, 0);
    EXPECT_TRUE(r.partitions.empty());

    produce("forget", 1, 4);
    a.forgotten.clear();
    a.session_epoch = 2;
    a.min_bytes = 1;
    a.max_wait_ms = 400;
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    EXPECT_TRUE(r.partitions.empty()) << "a forgotten partition was answered";

    produce("forget", 0, 1);
    a.session_epoch = 3;
    a.max_wait_ms = 5000;
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    ASSERT_EQ(r.partitions.size(), 1u);
    EXPECT_EQ(r.partitions[0].partition, 0);
}

TEST_F(FetchSessions, WrongEpochIsInvalidFetchSessionEpochAndUnknownIdIsNotFound)
{
    fetch_result r;
    int32_t id = open_session("epoch", &r);
    fetch_args a;
    a.session_id = id;
    a.session_epoch = 5;
    a.min_bytes = 0;
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    EXPECT_EQ(r.error_code, k_invalid_fetch_session_epoch);
    EXPECT_EQ(r.session_id, 0);
    EXPECT_TRUE(r.partitions.empty());

    // The session survives a wrong epoch: the expected one still works.
    a.session_epoch = 1;
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    EXPECT_EQ(r.error_code, 0);
    EXPECT_EQ(r.session_id, id);

    a.session_id = id + 7919; // never handed out (ids of one shard are spaced by slots)
    a.session_epoch = 2;
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    EXPECT_EQ(r.error_code, k_fetch_session_id_not_found);
    EXPECT_EQ(r.session_id, 0);
}

TEST_F(FetchSessions, EpochMinusOneClosesTheSessionAndAnswersSessionless)
{
    fetch_result r;
    int32_t id = open_session("close", &r);
    fetch_args a;
    a.session_id = id;
    a.session_epoch = -1;
    a.min_bytes = 0;
    a.partitions = both("close");
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    EXPECT_EQ(r.error_code, 0);
    EXPECT_EQ(r.session_id, 0);
    EXPECT_EQ(r.partitions.size(), 2u);

    a.session_epoch = 1;
    a.partitions.clear();
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    EXPECT_EQ(r.error_code, k_fetch_session_id_not_found);
}

TEST_F(FetchSessions, TopicIdSessionsOfFetchV13AndVersionSwitchIsATopicIdError)
{
    sl_codec_uuid id{};
    ASSERT_TRUE(sl_test::topic_id(client, "ids", &id));
    produce("ids", 0, 2);
    fetch_args a;
    a.version = 13;
    a.session_epoch = 0;
    a.min_bytes = 0;
    a.partitions = {{"", id, 0, 0}, {"", id, 1, 0}};
    fetch_result r;
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    ASSERT_EQ(r.error_code, 0);
    int32_t sid = r.session_id;
    ASSERT_NE(sid, 0);
    ASSERT_EQ(r.partitions.size(), 2u);
    EXPECT_TRUE(sl_test::uuid_equal(r.partitions[0].id, id));
    EXPECT_EQ(r.partitions[0].record_count, 2);

    // Forget partition 0 by topic id, then produce to both: only partition 1 answers.
    a.session_id = sid;
    a.session_epoch = 1;
    a.partitions = {{"", id, 0, 2}};
    a.forgotten = {{"", id, 0, 0}};
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    EXPECT_EQ(r.error_code, 0);
    EXPECT_TRUE(r.partitions.empty());
    produce("ids", 0, 1);
    produce("ids", 1, 3);
    a.version = 17;
    a.session_epoch = 2;
    a.partitions.clear();
    a.forgotten.clear();
    a.max_wait_ms = 5000;
    a.min_bytes = 1;
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    ASSERT_EQ(r.error_code, 0);
    ASSERT_EQ(r.partitions.size(), 1u);
    EXPECT_TRUE(sl_test::uuid_equal(r.partitions[0].id, id));
    EXPECT_EQ(r.partitions[0].partition, 1);
    EXPECT_EQ(r.partitions[0].record_count, 3);

    // A session by topic ids cannot continue with names (Kafka: FETCH_SESSION_TOPIC_ID_ERROR).
    a.version = 12;
    a.session_epoch = 3;
    a.min_bytes = 0;
    ASSERT_TRUE(sl_test::fetch(client, a, &r));
    EXPECT_EQ(r.error_code, k_fetch_session_topic_id_error);
}

TEST_F(FetchSessions, EveryEpochOfALongSessionIsAccepted)
{
    fetch_result r;
    int32_t id = open_session("wrap", &r);
    fetch_args a;
    a.session_id = id;
    a.min_bytes = 0;
    for (int32_t epoch = 1; epoch <= 50; epoch++) {
        a.session_epoch = epoch;
        ASSERT_TRUE(sl_test::fetch(client, a, &r));
        ASSERT_EQ(r.error_code, 0) << "epoch " << epoch;
        ASSERT_EQ(r.session_id, id);
    }
}

// max.incremental.fetch.session.cache.slots=2: the third new session is refused and the
// fetch answered sessionless (session id 0), with its data.
TEST(FetchSessionCache, TheThirdSessionBeyondTwoSlotsIsAnsweredSessionless)
{
    broker_options o;
    o.topics["bound"] = 1;
    o.properties["max.incremental.fetch.session.cache.slots"] = "2";
    broker_process broker(o);
    ASSERT_TRUE(broker.Start());
    codec_client c;
    ASSERT_TRUE(c.connect(broker.bootstrap()));
    int16_t error = -1;
    ASSERT_TRUE(sl_test::produce(c, "bound", 0, sl_test::make_batch(2), &error));
    ASSERT_EQ(error, 0);
    fetch_args a;
    a.session_epoch = 0;
    a.min_bytes = 0;
    a.partitions = {{"bound", {}, 0, 0}};
    std::vector<int32_t> ids;
    for (int i = 0; i < 3; i++) {
        fetch_result r;
        ASSERT_TRUE(sl_test::fetch(c, a, &r));
        ASSERT_EQ(r.error_code, 0);
        ASSERT_EQ(r.partitions.size(), 1u);
        EXPECT_EQ(r.partitions[0].record_count, 2);
        ids.push_back(r.session_id);
    }
    EXPECT_NE(ids[0], 0);
    EXPECT_NE(ids[1], 0);
    EXPECT_NE(ids[0], ids[1]);
    EXPECT_EQ(ids[2], 0) << "a third session fit into two slots";

    // Closing one frees its slot for the next new session.
    fetch_args close = a;
    close.session_id = ids[0];
    close.session_epoch = -1;
    fetch_result r;
    ASSERT_TRUE(sl_test::fetch(c, close, &r));
    EXPECT_EQ(r.session_id, 0);
    ASSERT_TRUE(sl_test::fetch(c, a, &r));
    EXPECT_NE(r.session_id, 0);

    std::string stats, err;
    ASSERT_TRUE(sl_test::query_stats_socket(broker.stats_socket(), "{\"cmd\":\"/stats\"}", 5000,
                                            &stats, &err))
        << err;
    EXPECT_NE(stats.find("\"fetch_sessions_created\":3"), std::string::npos) << stats;
    EXPECT_NE(stats.find("\"fetch_sessions_refused\":1"), std::string::npos) << stats;
    EXPECT_NE(stats.find("\"fetch_sessions_closed\":1"), std::string::npos) << stats;
    EXPECT_NE(stats.find("\"fetch_sessions_open\":2"), std::string::npos) << stats;
    EXPECT_TRUE(broker.Stop());
}

// Two shards: a session's partitions live on both (read through the shard rings), and a
// session id is known only on the shard of the connection that opened it.
TEST(FetchSessionTwoShards, SessionsReadPartitionsOfBothShardsAndAreLocalToTheirShard)
{
    broker_options o;
    o.topics["spread"] = 8;
    o.properties["dataplane.cores"] = "0-1";
    broker_process broker(o);
    ASSERT_TRUE(broker.Start());
    codec_client c, producer;
    ASSERT_TRUE(c.connect(broker.bootstrap()));
    ASSERT_TRUE(producer.connect(broker.bootstrap()));
    fetch_args a;
    a.session_epoch = 0;
    a.min_bytes = 0;
    for (int32_t p = 0; p < 8; p++)
        a.partitions.push_back({"spread", {}, p, 0});
    fetch_result r;
    ASSERT_TRUE(sl_test::fetch(c, a, &r));
    ASSERT_EQ(r.error_code, 0);
    ASSERT_EQ(r.partitions.size(), 8u);
    const int32_t id = r.session_id;
    ASSERT_NE(id, 0);

    for (int32_t p : {1, 4, 6}) {
        int16_t error = -1;
        ASSERT_TRUE(sl_test::produce(producer, "spread", p, sl_test::make_batch(p), &error));
        ASSERT_EQ(error, 0);
    }
    a.session_id = id;
    a.session_epoch = 1;
    a.partitions.clear();
    a.min_bytes = 1;
    a.max_wait_ms = 2000;
    ASSERT_TRUE(sl_test::fetch(c, a, &r));
    ASSERT_EQ(r.error_code, 0);
    std::vector<int32_t> got;
    for (const auto &p : r.partitions) {
        got.push_back(p.partition);
        EXPECT_EQ(p.record_count, p.partition) << "partition " << p.partition;
        EXPECT_EQ(p.high_watermark, p.partition);
    }
    EXPECT_EQ(got, (std::vector<int32_t>{1, 4, 6}));

    // Other connections continue the session: those on the same shard are served (and
    // move the epoch), those on the other shard get FETCH_SESSION_ID_NOT_FOUND.
    int32_t epoch = 2;
    int served = 0, not_found = 0;
    a.min_bytes = 0;
    for (int i = 0; i < 16; i++) {
        codec_client other;
        ASSERT_TRUE(other.connect(broker.bootstrap()));
        a.session_epoch = epoch;
        ASSERT_TRUE(sl_test::fetch(other, a, &r));
        if (r.error_code == 0) {
            EXPECT_EQ(r.session_id, id);
            served++;
            epoch++;
        } else {
            EXPECT_EQ(r.error_code, k_fetch_session_id_not_found);
            not_found++;
        }
    }
    EXPECT_GT(served, 0) << "no connection landed on the session's shard";
    EXPECT_GT(not_found, 0) << "no connection landed on the other shard";
    EXPECT_TRUE(broker.Stop());
}

} // namespace
