// librdkafka's C API against a real broker process: the idempotent producer across a
// broker stop/kill (its retries must not duplicate or lose anything), five pipelined
// Produce requests per connection with per-partition order kept, and a consumer whose
// Fetch the broker really holds for fetch.wait.max.ms on an idle partition, and the
// AlterConfigs / DescribeConfigs admin calls on a topic, and LogAppendTime topics and the
// timestamp difference limit as librdkafka producers and consumers see them.
#include <gtest/gtest.h>

#include <librdkafka/rdkafka.h>

#include <stdio.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/sl_clock.h"
#include "tests/support/broker_process.h"
#include "tests/support/child_process.h"
#include "tests/support/rdkafka_client.h"

namespace
{

using sl_test::broker_options;
using sl_test::broker_process;
using sl_test::consumed_message;
using sl_test::delivery_report;
using sl_test::rdkafka_producer;

constexpr int16_t k_api_produce = 0;
constexpr int16_t k_api_fetch = 1;

std::string value_of(uint64_t i)
{
    return "msg-" + std::to_string(i) + "-" + std::string((size_t)(i % 53), 'x');
}

// Counts requests of one API that are on the wire at once, via librdkafka interceptors
// (called on librdkafka's broker threads, hence the atomics and the mutex).
struct request_tracker {
    int16_t api_key = -1;
    std::atomic<int> outstanding{0};
    std::atomic<int> outstanding_max{0};
    std::atomic<int> responses{0};
    std::mutex mutex;
    std::vector<int64_t> rtts_us;

    static rd_kafka_resp_err_t on_sent(rd_kafka_t *, int, const char *, int32_t, int16_t api_key,
                                       int16_t, int32_t, size_t, void *opaque)
    {
        auto *self = static_cast<request_tracker *>(opaque);
        if (api_key == self->api_key) {
            int now = ++self->outstanding;
            int seen = self->outstanding_max.load();
            while (now > seen && !self->outstanding_max.compare_exchange_weak(seen, now)) {
            }
        }
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    }

    static rd_kafka_resp_err_t on_received(rd_kafka_t *, int, const char *, int32_t,
                                           int16_t api_key, int16_t, int32_t, size_t,
                                           int64_t rtt_us, rd_kafka_resp_err_t, void *opaque)
    {
        auto *self = static_cast<request_tracker *>(opaque);
        if (api_key == self->api_key) {
            --self->outstanding;
            ++self->responses;
            std::lock_guard<std::mutex> lock(self->mutex);
            self->rtts_us.push_back(rtt_us);
        }
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    }

    static rd_kafka_resp_err_t on_new(rd_kafka_t *rk, const rd_kafka_conf_t *, void *opaque, char *,
                                      size_t)
    {
        rd_kafka_interceptor_add_on_request_sent(rk, "sl-tracker", on_sent, opaque);
        rd_kafka_interceptor_add_on_response_received(rk, "sl-tracker", on_received, opaque);
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    }

    // Installs the tracker on a conf before rd_kafka_new.
    static void install(rd_kafka_conf_t *conf, void *opaque)
    {
        rd_kafka_conf_interceptor_add_on_new(conf, "sl-tracker", on_new, opaque);
    }

    std::vector<int64_t> rtts()
    {
        std::lock_guard<std::mutex> lock(mutex);
        return rtts_us;
    }
};

// Checks that partition p of messages holds exactly ids [first..] in order given by
// expected_ids, with dense offsets from 0.
void expect_partition_exact(const std::vector<consumed_message> &messages, int32_t partition,
                            const std::vector<uint64_t> &expected_ids)
{
    std::vector<const consumed_message *> got;
    for (const auto &m : messages) {
        if (m.partition == partition) {
            got.push_back(&m);
        }
    }
    ASSERT_EQ(got.size(), expected_ids.size()) << "partition " << partition;
    for (size_t j = 0; j < got.size(); j++) {
        ASSERT_EQ(got[j]->offset, (int64_t)j) << "partition " << partition;
        ASSERT_EQ(got[j]->value, value_of(expected_ids[j]))
            << "partition " << partition << " offset " << j;
    }
}

enum class interruption { sigterm, sigkill };

class IdempotentProducerTest : public ::testing::TestWithParam<interruption>
{
};

// An idempotent producer keeps producing while the broker goes down (SIGTERM, or SIGKILL
// with a flush per message) and comes back on the same port. librdkafka retries the
// requests that were in flight with their original sequence numbers; the log must end up
// with every message exactly once, in produce order.
TEST_P(IdempotentProducerTest, ExactlyOnceAcrossBrokerRestart)
{
    constexpr uint64_t k_count = 20000;
    constexpr size_t k_delivered_before_interrupt = 3000;
    const std::string topic = "idempotent";
    broker_options options;
    options.topics = {{topic, 1}};
    options.properties = {{"log.flush.interval.messages", "1"}};
    broker_process broker(options);
    ASSERT_TRUE(broker.Start());
    const std::string bootstrap = broker.bootstrap();

    rdkafka_producer producer;
    std::string error;
    ASSERT_TRUE(producer.open(bootstrap,
                              {{"enable.idempotence", "true"},
                               {"message.timeout.ms", "90000"},
                               {"linger.ms", "2"},
                               {"batch.num.messages", "200"},
                               {"retry.backoff.ms", "100"},
                               {"reconnect.backoff.max.ms", "500"}},
                              &error))
        << error;
    uint64_t next_id = 0;
    auto produce_next = [&](uint64_t n) {
        for (uint64_t end = std::min(next_id + n, k_count); next_id < end; next_id++) {
            ASSERT_EQ(producer.produce(topic, 0, nullptr, value_of(next_id), {}, next_id),
                      RD_KAFKA_RESP_ERR_NO_ERROR);
        }
    };
    // Paced: bursts of 200 until a few thousand are acknowledged...
    long long deadline_ms = sl_test::monotonic_ms() + 60000;
    while (producer.reports().size() < k_delivered_before_interrupt &&
           sl_test::monotonic_ms() < deadline_ms) {
        ASSERT_NO_FATAL_FAILURE(produce_next(200));
        producer.poll(5);
    }
    ASSERT_GE(producer.reports().size(), k_delivered_before_interrupt);
    // ...then a burst the broker cannot have answered yet when it goes down.
    ASSERT_NO_FATAL_FAILURE(produce_next(3000));
    int outstanding_at_interrupt = rd_kafka_outq_len(producer.handle());
    if (GetParam() == interruption::sigterm) {
        ASSERT_TRUE(broker.Stop());
    } else {
        broker.Kill();
    }
    // Keep producing while the broker is down: these queue up and go out after restart.
    ASSERT_NO_FATAL_FAILURE(produce_next(1000));
    producer.poll(200);
    ASSERT_TRUE(broker.Restart());
    ASSERT_EQ(broker.bootstrap(), bootstrap)
        << "the broker came back on another address (mock mode cannot keep ports or data)";
    ASSERT_NO_FATAL_FAILURE(produce_next(k_count));
    ASSERT_EQ(producer.flush(90000), 0) << "messages still undelivered";
    EXPECT_GT(outstanding_at_interrupt, 0)
        << "nothing was in flight when the broker went down; the test proved nothing";

    std::vector<delivery_report> reports = producer.reports();
    ASSERT_EQ(reports.size(), (size_t)k_count);
    for (const auto &r : reports) {
        ASSERT_EQ(r.error, RD_KAFKA_RESP_ERR_NO_ERROR)
            << "message " << r.message_id << ": " << rd_kafka_err2str(r.error);
        // Offsets reported to the producer are the offsets the messages hold in the log.
        ASSERT_EQ(r.offset, (int64_t)r.message_id);
    }

    std::vector<consumed_message> messages;
    std::string consume_error = sl_test::consume_partitions(
        bootstrap, topic, 1, RD_KAFKA_OFFSET_BEGINNING, k_count, 60000, &messages);
    ASSERT_EQ(consume_error, "");
    std::vector<uint64_t> ids(k_count);
    for (uint64_t i = 0; i < k_count; i++) {
        ids[i] = i;
    }
    expect_partition_exact(messages, 0, ids);
}

INSTANTIATE_TEST_SUITE_P(Interruptions, IdempotentProducerTest,
                         ::testing::Values(interruption::sigterm, interruption::sigkill),
                         [](const ::testing::TestParamInfo<interruption> &info) {
                             return info.param == interruption::sigterm ? "SigtermRestart"
                                                                        : "SigkillRestart";
                         });

// With max.in.flight=5 librdkafka pipelines Produce requests on one connection; the broker
// must take several at once and keep each partition's messages in the order sent.
TEST(LibrdkafkaTest, MaxInFlightFivePipelinesAndKeepsPartitionOrder)
{
    constexpr uint64_t k_count = 30000;
    constexpr int k_partitions = 3;
    const std::string topic = "pipelined";
    broker_options options;
    options.topics = {{topic, k_partitions}};
    broker_process broker(options);
    ASSERT_TRUE(broker.Start());

    request_tracker tracker;
    tracker.api_key = k_api_produce;
    rdkafka_producer producer;
    std::string error;
    ASSERT_TRUE(producer.open(broker.bootstrap(),
                              {{"enable.idempotence", "false"},
                               {"max.in.flight.requests.per.connection", "5"},
                               {"linger.ms", "0"},
                               {"batch.num.messages", "20"},
                               {"acks", "all"}},
                              &error, &request_tracker::install, &tracker))
        << error;
    std::vector<std::vector<uint64_t>> expected(k_partitions);
    for (uint64_t i = 0; i < k_count; i++) {
        int32_t partition = (int32_t)(i % k_partitions);
        ASSERT_EQ(producer.produce(topic, partition, nullptr, value_of(i), {}, i),
                  RD_KAFKA_RESP_ERR_NO_ERROR);
        expected[(size_t)partition].push_back(i);
    }
    ASSERT_EQ(producer.flush(60000), 0);
    for (const auto &r : producer.reports()) {
        ASSERT_EQ(r.error, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(r.error);
    }
    fprintf(stderr, "produce requests: %d, most in flight at once: %d\n", tracker.responses.load(),
            tracker.outstanding_max.load());
    EXPECT_GE(tracker.outstanding_max.load(), 2)
        << "never more than one Produce request in flight: no pipelining happened";
    EXPECT_LE(tracker.outstanding_max.load(), 5);
    EXPECT_GT(tracker.responses.load(), 100) << "expected many small Produce requests";

    std::vector<consumed_message> messages;
    ASSERT_EQ(sl_test::consume_partitions(broker.bootstrap(), topic, k_partitions,
                                          RD_KAFKA_OFFSET_BEGINNING, k_count, 60000, &messages),
              "");
    for (int p = 0; p < k_partitions; p++) {
        expect_partition_exact(messages, p, expected[(size_t)p]);
    }
}

// On an idle partition with fetch.min.bytes far above what exists, the broker must park
// each Fetch for fetch.wait.max.ms (1500 ms) instead of answering at once; a message
// produced meanwhile still arrives once the wait expires.
TEST(LibrdkafkaTest, FetchOnIdlePartitionWaitsForMaxWait)
{
    constexpr int k_max_wait_ms = 1500;
    const std::string topic = "idle";
    broker_options options;
    options.topics = {{topic, 1}};
    broker_process broker(options);
    ASSERT_TRUE(broker.Start());

    request_tracker tracker;
    tracker.api_key = k_api_fetch;
    std::string error;
    rd_kafka_conf_t *conf =
        sl_test::make_conf({{"bootstrap.servers", broker.bootstrap()},
                            {"fetch.wait.max.ms", std::to_string(k_max_wait_ms)},
                            {"fetch.min.bytes", "1000000"},
                            {"enable.partition.eof", "false"}},
                           &error);
    ASSERT_NE(conf, nullptr) << error;
    request_tracker::install(conf, &tracker);
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    ASSERT_NE(rk, nullptr) << errstr;
    // Legacy per-partition consumer: no consumer group needed.
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    ASSERT_EQ(rd_kafka_consume_start(rkt, 0, RD_KAFKA_OFFSET_BEGINNING), 0)
        << rd_kafka_err2str(rd_kafka_last_error());

    // Let at least three Fetch requests complete on the idle partition.
    long long deadline_ms = sl_test::monotonic_ms() + 15000;
    while (tracker.responses.load() < 3 && sl_test::monotonic_ms() < deadline_ms) {
        rd_kafka_message_t *msg = rd_kafka_consume(rkt, 0, 100);
        if (msg != nullptr) {
            ADD_FAILURE() << "unexpected message or error on an idle topic: "
                          << (msg->err ? rd_kafka_err2str(msg->err) : "a message");
            rd_kafka_message_destroy(msg);
        }
    }
    std::vector<int64_t> rtts = tracker.rtts();
    ASSERT_GE(rtts.size(), 3u) << "fewer than 3 Fetch responses in 15 s";
    for (size_t i = 0; i < rtts.size(); i++) {
        fprintf(stderr, "idle Fetch %zu held for %lld ms\n", i, (long long)(rtts[i] / 1000));
        EXPECT_GE(rtts[i], 1000 * 1000) << "Fetch " << i << " answered after " << rtts[i] / 1000
                                        << " ms: the broker did not hold it";
        EXPECT_LE(rtts[i], (k_max_wait_ms + 3000) * 1000LL)
            << "Fetch " << i << " held far beyond fetch.wait.max.ms";
    }

    // One small message: below fetch.min.bytes, so it arrives when a wait expires.
    rdkafka_producer producer;
    ASSERT_TRUE(producer.open(broker.bootstrap(), {}, &error)) << error;
    ASSERT_EQ(producer.produce(topic, 0, nullptr, "wake-up", {}, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(producer.flush(10000), 0);
    long long produced_ms = sl_test::monotonic_ms();
    rd_kafka_message_t *msg = nullptr;
    while (msg == nullptr && sl_test::monotonic_ms() < produced_ms + 10000) {
        msg = rd_kafka_consume(rkt, 0, 100);
    }
    ASSERT_NE(msg, nullptr) << "the produced message never arrived";
    EXPECT_EQ(msg->err, RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(std::string((const char *)msg->payload, msg->len), "wake-up");
    EXPECT_LE(sl_test::monotonic_ms() - produced_ms, k_max_wait_ms + 3000);
    rd_kafka_message_destroy(msg);
    rd_kafka_consume_stop(rkt, 0);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
}

} // namespace

namespace
{

// One admin call on rk: waits for its result event (owned by the caller).
rd_kafka_event_t *admin_wait(rd_kafka_queue_t *queue, int timeout_ms)
{
    return rd_kafka_queue_poll(queue, timeout_ms);
}

struct rk_config_entry {
    std::string value = "<absent>";
    rd_kafka_ConfigSource_t source = RD_KAFKA_CONFIG_SOURCE_UNKNOWN_CONFIG;
};

// rd_kafka_AlterConfigs of one topic resource; returns the resource's error.
rd_kafka_resp_err_t rk_alter_topic(rd_kafka_t *rk, rd_kafka_queue_t *queue,
                                   const std::string &topic,
                                   const std::map<std::string, std::string> &configs,
                                   std::string *message)
{
    rd_kafka_ConfigResource_t *res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
    for (const auto &kv : configs)
        rd_kafka_ConfigResource_set_config(res, kv.first.c_str(), kv.second.c_str());
    rd_kafka_AlterConfigs(rk, &res, 1, nullptr, queue);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_event_t *ev = admin_wait(queue, 15000);
    if (ev == nullptr) {
        *message = "no AlterConfigs result";
        return RD_KAFKA_RESP_ERR__TIMED_OUT;
    }
    rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
    size_t n = 0;
    const rd_kafka_ConfigResource_t **out =
        err ? nullptr
            : rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && n == 1) {
        err = rd_kafka_ConfigResource_error(out[0]);
        const char *m = rd_kafka_ConfigResource_error_string(out[0]);
        *message = m != nullptr ? m : "";
    } else if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        *message = rd_kafka_event_error_string(ev);
    }
    rd_kafka_event_destroy(ev);
    return err;
}

// rd_kafka_DescribeConfigs of one topic: every entry by name.
std::map<std::string, rk_config_entry> rk_describe_topic(rd_kafka_t *rk, rd_kafka_queue_t *queue,
                                                         const std::string &topic)
{
    std::map<std::string, rk_config_entry> entries;
    rd_kafka_ConfigResource_t *res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
    rd_kafka_DescribeConfigs(rk, &res, 1, nullptr, queue);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_event_t *ev = admin_wait(queue, 15000);
    if (ev == nullptr) {
        ADD_FAILURE() << "no DescribeConfigs result";
        return entries;
    }
    size_t n = 0;
    const rd_kafka_ConfigResource_t **out =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    EXPECT_EQ(n, 1u);
    for (size_t i = 0; i < n; i++) {
        EXPECT_EQ(rd_kafka_ConfigResource_error(out[i]), RD_KAFKA_RESP_ERR_NO_ERROR);
        size_t cn = 0;
        const rd_kafka_ConfigEntry_t **configs = rd_kafka_ConfigResource_configs(out[i], &cn);
        for (size_t k = 0; k < cn; k++) {
            rk_config_entry e;
            const char *v = rd_kafka_ConfigEntry_value(configs[k]);
            e.value = v != nullptr ? v : "<null>";
            e.source = rd_kafka_ConfigEntry_source(configs[k]);
            entries[rd_kafka_ConfigEntry_name(configs[k])] = e;
        }
    }
    rd_kafka_event_destroy(ev);
    return entries;
}

// A producer handle with a queue for admin results, closed on scope exit (also when an
// ASSERT returns early). dr_cb, if set, receives delivery reports.
struct rk_client {
    rd_kafka_t *rk = nullptr;
    rd_kafka_queue_t *queue = nullptr;
    ~rk_client()
    {
        if (queue != nullptr)
            rd_kafka_queue_destroy(queue);
        if (rk != nullptr)
            rd_kafka_destroy(rk);
    }
    ::testing::AssertionResult
    open(const std::string &bootstrap, std::map<std::string, std::string> properties = {},
         void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *) = nullptr)
    {
        std::string error;
        properties["bootstrap.servers"] = bootstrap;
        rd_kafka_conf_t *conf = sl_test::make_conf(properties, &error);
        if (conf == nullptr)
            return ::testing::AssertionFailure() << error;
        if (dr_cb != nullptr)
            rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        char errstr[512];
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (rk == nullptr)
            return ::testing::AssertionFailure() << errstr;
        queue = rd_kafka_queue_new(rk);
        return ::testing::AssertionSuccess();
    }
};

} // namespace

// rd_kafka_AlterConfigs replaces a topic's overrides; rd_kafka_DescribeConfigs reports them
// as DYNAMIC_TOPIC_CONFIG. (librdkafka 2.0.2 has no IncrementalAlterConfigs; that API is
// tested with the project's codec in tests/dataplane/test_admin_apis.cc.)
TEST(LibrdkafkaTest, AlterConfigsAndDescribeConfigsOnATopic)
{
    broker_options options;
    options.topics = {{"rk-configs", 1}};
    broker_process broker(options);
    ASSERT_TRUE(broker.Start());
    rk_client client;
    ASSERT_TRUE(client.open(broker.bootstrap()));
    rd_kafka_t *rk = client.rk;
    rd_kafka_queue_t *queue = client.queue;

    std::string message;
    EXPECT_EQ(rk_alter_topic(rk, queue, "rk-configs",
                             {{"retention.ms", "86400000"}, {"segment.ms", "3600000"}}, &message),
              RD_KAFKA_RESP_ERR_NO_ERROR)
        << message;
    auto entries = rk_describe_topic(rk, queue, "rk-configs");
    EXPECT_EQ(entries["retention.ms"].value, "86400000");
    EXPECT_EQ(entries["retention.ms"].source, RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
    EXPECT_EQ(entries["segment.ms"].value, "3600000");
    EXPECT_EQ(entries["cleanup.policy"].source, RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);

    EXPECT_EQ(rk_alter_topic(rk, queue, "rk-configs", {{"segment.ms", "nope"}}, &message),
              RD_KAFKA_RESP_ERR_INVALID_CONFIG);
    EXPECT_NE(message.find("segment.ms"), std::string::npos) << message;
    // Replaced set: retention.ms is back to its default.
    EXPECT_EQ(rk_alter_topic(rk, queue, "rk-configs", {{"segment.ms", "7200000"}}, &message),
              RD_KAFKA_RESP_ERR_NO_ERROR)
        << message;
    entries = rk_describe_topic(rk, queue, "rk-configs");
    EXPECT_EQ(entries["segment.ms"].value, "7200000");
    EXPECT_EQ(entries["retention.ms"].source, RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);
}

namespace
{

// What a delivery report says about the timestamp (librdkafka takes LogAppendTime from
// the Produce response).
struct timestamp_report {
    rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR__FAIL;
    int64_t timestamp_ms = -1;
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
};

void on_timestamp_report(rd_kafka_t *, const rd_kafka_message_t *msg, void *)
{
    auto *out = static_cast<timestamp_report *>(msg->_private);
    out->error = msg->err;
    out->timestamp_ms = rd_kafka_message_timestamp(msg, &out->type);
}

// Produces one message with an explicit CreateTime timestamp and waits for its report.
timestamp_report produce_with_timestamp(rd_kafka_t *rk, const std::string &topic,
                                        const std::string &value, int64_t timestamp_ms)
{
    timestamp_report report;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_VALUE(const_cast<char *>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
        RD_KAFKA_V_OPAQUE(&report), RD_KAFKA_V_END);
    EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
    EXPECT_EQ(rd_kafka_flush(rk, 15000), RD_KAFKA_RESP_ERR_NO_ERROR);
    return report;
}

} // namespace

// message.timestamp.type=LogAppendTime (set with AlterConfigs on a live topic): the producer
// learns the broker's append time from the Produce response, and consumers read it as
// every record's timestamp. message.timestamp.difference.max.ms refuses a CreateTime
// message an hour off with INVALID_TIMESTAMP and keeps a current one's own timestamp.
TEST(LibrdkafkaTest, LogAppendTimeAndTimestampDifferenceLimit)
{
    broker_options options;
    options.topics = {{"ts-append", 1}, {"ts-create", 1}};
    broker_process broker(options);
    ASSERT_TRUE(broker.Start());
    rk_client client;
    ASSERT_TRUE(client.open(broker.bootstrap(), {{"linger.ms", "0"}}, on_timestamp_report));
    rd_kafka_t *rk = client.rk;
    rd_kafka_queue_t *queue = client.queue;

    // Before the change the topic keeps the producer's timestamp.
    timestamp_report before = produce_with_timestamp(rk, "ts-append", "before", 1000);
    EXPECT_EQ(before.error, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(before.error);
    EXPECT_EQ(before.type, RD_KAFKA_TIMESTAMP_CREATE_TIME);
    EXPECT_EQ(before.timestamp_ms, 1000);

    std::string message;
    ASSERT_EQ(rk_alter_topic(rk, queue, "ts-append", {{"message.timestamp.type", "LogAppendTime"}},
                             &message),
              RD_KAFKA_RESP_ERR_NO_ERROR)
        << message;
    ASSERT_EQ(rk_alter_topic(rk, queue, "ts-create",
                             {{"message.timestamp.difference.max.ms", "3600000"}}, &message),
              RD_KAFKA_RESP_ERR_NO_ERROR)
        << message;
    auto entries = rk_describe_topic(rk, queue, "ts-append");
    EXPECT_EQ(entries["message.timestamp.type"].value, "LogAppendTime");

    int64_t sent_ms = sl_wall_clock_ms();
    timestamp_report after = produce_with_timestamp(rk, "ts-append", "after", 1000);
    int64_t acked_ms = sl_wall_clock_ms();
    EXPECT_EQ(after.error, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(after.error);
    EXPECT_EQ(after.type, RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME);
    EXPECT_GE(after.timestamp_ms, sent_ms - 1000);
    EXPECT_LE(after.timestamp_ms, acked_ms + 1000);

    std::vector<consumed_message> read;
    EXPECT_EQ(sl_test::consume_partitions(broker.bootstrap(), "ts-append", 1,
                                          RD_KAFKA_OFFSET_BEGINNING, 2, 15000, &read),
              "");
    ASSERT_EQ(read.size(), 2u);
    EXPECT_EQ(read[0].timestamp_type, RD_KAFKA_TIMESTAMP_CREATE_TIME); // stored before the change
    EXPECT_EQ(read[0].timestamp_ms, 1000);
    EXPECT_EQ(read[1].timestamp_type, RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME);
    EXPECT_EQ(read[1].timestamp_ms, after.timestamp_ms);

    int64_t now_ms = sl_wall_clock_ms();
    timestamp_report stale = produce_with_timestamp(rk, "ts-create", "stale", now_ms - 7200000);
    EXPECT_EQ(stale.error, RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP) << rd_kafka_err2str(stale.error);
    timestamp_report future = produce_with_timestamp(rk, "ts-create", "future", now_ms + 7200000);
    EXPECT_EQ(future.error, RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP) << rd_kafka_err2str(future.error);
    timestamp_report current = produce_with_timestamp(rk, "ts-create", "current", now_ms - 60000);
    EXPECT_EQ(current.error, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(current.error);
    read.clear();
    EXPECT_EQ(sl_test::consume_partitions(broker.bootstrap(), "ts-create", 1,
                                          RD_KAFKA_OFFSET_BEGINNING, 1, 15000, &read),
              "");
    ASSERT_EQ(read.size(), 1u);
    EXPECT_EQ(read[0].timestamp_type, RD_KAFKA_TIMESTAMP_CREATE_TIME);
    EXPECT_EQ(read[0].timestamp_ms, now_ms - 60000);
}

// Retention removes old segments whether consumed or not, on delete topics only: with a
// small retention.bytes and segment.bytes, the low watermark of a delete topic moves up and
// a consumer from the beginning starts there with the newest records intact; a topic with
// cleanup.policy=compact (set together with the same retention.bytes) keeps everything,
// since Kafka would remove its records only by compaction, which sluice does not do yet.
TEST(LibrdkafkaTest, RetentionRemovesOldSegmentsOfDeleteTopicsAndNotOfCompactOnes)
{
    broker_options options;
    options.topics = {{"ret-delete", 1}, {"ret-compact", 1}};
    options.properties["log.segment.bytes"] = "65536";
    options.properties["log.retention.check.interval.ms"] = "200";
    broker_process broker(options);
    ASSERT_TRUE(broker.Start());
    rk_client client;
    ASSERT_TRUE(client.open(broker.bootstrap()));
    rd_kafka_t *admin = client.rk;
    rd_kafka_queue_t *queue = client.queue;
    std::string message;
    std::string error;
    ASSERT_EQ(rk_alter_topic(admin, queue, "ret-delete", {{"retention.bytes", "200000"}}, &message),
              RD_KAFKA_RESP_ERR_NO_ERROR)
        << message;
    ASSERT_EQ(rk_alter_topic(admin, queue, "ret-compact",
                             {{"retention.bytes", "200000"}, {"cleanup.policy", "compact"}},
                             &message),
              RD_KAFKA_RESP_ERR_NO_ERROR)
        << message;

    constexpr uint64_t k_count = 3000; // about 1.6 MB each: some 25 segments of 64 KiB
    rdkafka_producer producer;
    // Batches well below segment.bytes (a batch never spans segments; a larger one would be
    // refused RECORD_LIST_TOO_LARGE).
    ASSERT_TRUE(
        producer.open(broker.bootstrap(), {{"linger.ms", "5"}, {"batch.size", "16384"}}, &error))
        << error;
    for (const char *topic : {"ret-delete", "ret-compact"}) {
        for (uint64_t i = 0; i < k_count; i++) {
            std::string key = "k" + std::to_string(i);
            ASSERT_EQ(producer.produce(topic, 0, &key, value_of(i) + std::string(480, 'r'), {}, i),
                      RD_KAFKA_RESP_ERR_NO_ERROR);
        }
    }
    ASSERT_EQ(producer.flush(30000), 0);
    std::vector<delivery_report> reports = producer.reports();
    ASSERT_EQ(reports.size(), 2 * k_count);
    for (const delivery_report &r : reports)
        ASSERT_EQ(r.error, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(r.error);

    int64_t low = 0, high = 0;
    long long deadline_ms = sl_test::monotonic_ms() + 15000;
    while (low == 0 && sl_test::monotonic_ms() < deadline_ms) {
        ASSERT_EQ(rd_kafka_query_watermark_offsets(admin, "ret-delete", 0, &low, &high, 5000),
                  RD_KAFKA_RESP_ERR_NO_ERROR);
        if (low == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_GT(low, 0) << "retention never removed a segment of ret-delete";
    EXPECT_EQ(high, (int64_t)k_count);
    // About retention.bytes (plus the active segment) is kept: far less than was written.
    EXPECT_GT(low, (int64_t)k_count / 2);

    std::vector<consumed_message> messages;
    std::string failure =
        sl_test::consume_partitions(broker.bootstrap(), "ret-delete", 1, RD_KAFKA_OFFSET_BEGINNING,
                                    (size_t)(k_count - low), 20000, &messages);
    EXPECT_EQ(failure, "");
    ASSERT_EQ(messages.size(), (size_t)(k_count - low));
    EXPECT_EQ(messages.front().offset, low);
    EXPECT_EQ(messages.back().value, value_of(k_count - 1) + std::string(480, 'r'));

    // Several more retention passes have run by now: the compact topic kept everything.
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    ASSERT_EQ(rd_kafka_query_watermark_offsets(admin, "ret-compact", 0, &low, &high, 5000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(low, 0);
    EXPECT_EQ(high, (int64_t)k_count);
}
