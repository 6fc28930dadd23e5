// Restart durability with real processes: a clean SIGTERM stop loses nothing, and a
// SIGKILL loses no acknowledged message, both under log.flush.interval.messages=1 and
// under the default flush policy (acknowledged once written to the file). An idempotent
// producer's retry of a batch written before a SIGKILL is recognised after the restart.
#include <gtest/gtest.h>

#include <librdkafka/rdkafka.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "tests/support/broker_process.h"
#include "tests/support/child_process.h"
#include "tests/support/raw_kafka_client.h"
#include "tests/support/rdkafka_client.h"
#include "tests/support/stats_socket.h"

namespace
{

using sl_test::broker_options;
using sl_test::broker_process;
using sl_test::consumed_message;
using sl_test::delivery_report;
using sl_test::rdkafka_producer;

constexpr int k_partitions = 3;

std::string key_of(uint64_t i)
{
    return "k" + std::to_string(i % 1000);
}

std::string value_of(uint64_t i)
{
    return "restart-" + std::to_string(i) + "-" + std::string((size_t)(i % 61), 'r');
}

// Parses "restart-<id>-..." back to id; returns false for anything the test never sent.
bool id_of(const std::string &value, uint64_t *id)
{
    if (value.compare(0, 8, "restart-") != 0) {
        return false;
    }
    char *end = nullptr;
    *id = strtoull(value.c_str() + 8, &end, 10);
    return end != nullptr && *end == '-' && value == value_of(*id);
}

// (partition, offset) -> message, failing on duplicates of a position.
std::map<std::pair<int32_t, int64_t>, consumed_message>
index_by_position(const std::vector<consumed_message> &messages)
{
    std::map<std::pair<int32_t, int64_t>, consumed_message> out;
    for (const auto &m : messages) {
        EXPECT_TRUE(out.emplace(std::make_pair(m.partition, m.offset), m).second)
            << "position read twice: partition " << m.partition << " offset " << m.offset;
    }
    return out;
}

TEST(RestartTest, ProduceSigtermRestartConsumeAll)
{
    constexpr uint64_t k_count = 10000;
    const std::string topic = "restart-clean";
    broker_options options;
    options.topics = {{topic, k_partitions}};
    broker_process broker(options);
    ASSERT_TRUE(broker.Start());
    const std::string bootstrap = broker.bootstrap();

    std::vector<delivery_report> reports;
    {
        rdkafka_producer producer;
        std::string error;
        ASSERT_TRUE(producer.open(bootstrap, {{"acks", "all"}, {"linger.ms", "5"}}, &error))
            << error;
        for (uint64_t i = 0; i < k_count; i++) {
            std::string key = key_of(i);
            ASSERT_EQ(producer.produce(topic, RD_KAFKA_PARTITION_UA, &key, value_of(i),
                                       {{"n", std::to_string(i)}}, i),
                      RD_KAFKA_RESP_ERR_NO_ERROR);
            producer.poll(0);
        }
        ASSERT_EQ(producer.flush(60000), 0);
        reports = producer.reports();
    }
    ASSERT_EQ(reports.size(), (size_t)k_count);
    for (const auto &r : reports) {
        ASSERT_EQ(r.error, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(r.error);
    }

    ASSERT_TRUE(broker.Stop());
    ASSERT_TRUE(broker.Restart());
    ASSERT_EQ(broker.bootstrap(), bootstrap)
        << "the broker came back on another address (mock mode cannot keep ports or data)";

    std::vector<consumed_message> messages;
    ASSERT_EQ(sl_test::consume_partitions(bootstrap, topic, k_partitions, RD_KAFKA_OFFSET_BEGINNING,
                                          k_count, 60000, &messages),
              "");
    ASSERT_EQ(messages.size(), (size_t)k_count);
    auto by_position = index_by_position(messages);
    std::vector<int64_t> end_offset(k_partitions, 0);
    for (const auto &r : reports) {
        auto it = by_position.find({r.partition, r.offset});
        ASSERT_NE(it, by_position.end())
            << "acked message " << r.message_id << " at " << r.partition << "/" << r.offset
            << " missing after restart";
        const consumed_message &m = it->second;
        ASSERT_EQ(m.value, value_of(r.message_id));
        ASSERT_FALSE(m.key_is_null);
        ASSERT_EQ(m.key, key_of(r.message_id));
        ASSERT_EQ(m.headers.size(), 1u);
        ASSERT_EQ(m.headers[0].first, "n");
        ASSERT_EQ(m.headers[0].second, std::to_string(r.message_id));
        end_offset[(size_t)r.partition] = std::max(end_offset[(size_t)r.partition], r.offset + 1);
    }

    // The restarted log keeps appending after its recovered end.
    rdkafka_producer producer;
    std::string error;
    ASSERT_TRUE(producer.open(bootstrap, {{"acks", "all"}}, &error)) << error;
    ASSERT_EQ(producer.produce(topic, 0, nullptr, value_of(k_count), {}, k_count),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(producer.flush(30000), 0);
    ASSERT_EQ(producer.reports().size(), 1u);
    EXPECT_EQ(producer.reports()[0].error, RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(producer.reports()[0].offset, end_offset[0]);
}

// Producer keeps a stream going; after a few thousand acknowledgements the broker gets
// SIGKILL. Everything acknowledged before the kill must be in the log after restart, at
// the offset the acknowledgement named; nothing unknown and no position twice.
void sigkill_keeps_every_acknowledged_message(const std::string &topic,
                                              const std::map<std::string, std::string> &properties,
                                              broker_process *started = nullptr)
{
    constexpr size_t k_acked_before_kill = 3000;
    constexpr uint64_t k_max_messages = 200000;
    broker_options options;
    options.topics = {{topic, k_partitions}};
    options.properties = properties;
    broker_process own(options);
    broker_process &broker = started != nullptr ? *started : own;
    if (started == nullptr) {
        ASSERT_TRUE(broker.Start());
    }
    const std::string bootstrap = broker.bootstrap();

    rdkafka_producer producer;
    std::string error;
    ASSERT_TRUE(producer.open(bootstrap,
                              {{"acks", "1"},
                               {"linger.ms", "1"},
                               {"batch.num.messages", "50"},
                               {"message.timeout.ms", "30000"}},
                              &error))
        << error;
    uint64_t sent = 0;
    auto produce_burst = [&](uint64_t n) {
        for (uint64_t end = sent + n; sent < end; sent++) {
            std::string key = key_of(sent);
            ASSERT_EQ(
                producer.produce(topic, RD_KAFKA_PARTITION_UA, &key, value_of(sent), {}, sent),
                RD_KAFKA_RESP_ERR_NO_ERROR);
        }
    };
    // Paced bursts until a few thousand acknowledgements have come back...
    long long deadline_ms = sl_test::monotonic_ms() + 60000;
    while (producer.reports().size() < k_acked_before_kill && sent < k_max_messages &&
           sl_test::monotonic_ms() < deadline_ms) {
        ASSERT_NO_FATAL_FAILURE(produce_burst(200));
        producer.poll(5);
    }
    ASSERT_GE(producer.reports().size(), k_acked_before_kill) << "too few acks before kill";
    // ...then a burst that is certainly still in flight when SIGKILL lands.
    ASSERT_NO_FATAL_FAILURE(produce_burst(2000));
    producer.poll(0);
    int in_flight_at_kill = rd_kafka_outq_len(producer.handle());
    broker.Kill();
    // Reports for responses received before the kill are served here too; purged
    // messages report an error and are not acknowledged.
    producer.abandon();
    std::map<uint64_t, delivery_report> acked;
    for (const auto &r : producer.reports()) {
        if (r.error == RD_KAFKA_RESP_ERR_NO_ERROR) {
            acked[r.message_id] = r;
        }
    }
    fprintf(stderr, "sent %llu, acknowledged %zu, %d in flight at SIGKILL\n",
            (unsigned long long)sent, acked.size(), in_flight_at_kill);
    EXPECT_GT(in_flight_at_kill, 0) << "nothing in flight at the kill: the test proved little";

    ASSERT_TRUE(broker.Restart());
    ASSERT_EQ(broker.bootstrap(), bootstrap)
        << "the broker came back on another address (mock mode cannot keep ports or data)";
    std::vector<consumed_message> messages;
    ASSERT_EQ(sl_test::consume_partitions(bootstrap, topic, k_partitions, RD_KAFKA_OFFSET_BEGINNING,
                                          acked.size(), 60000, &messages),
              "");
    auto by_position = index_by_position(messages);
    for (const auto &kv : acked) {
        const delivery_report &r = kv.second;
        auto it = by_position.find({r.partition, r.offset});
        ASSERT_NE(it, by_position.end()) << "acknowledged message " << r.message_id << " at "
                                         << r.partition << "/" << r.offset << " lost";
        ASSERT_EQ(it->second.value, value_of(r.message_id));
    }
    for (const auto &m : messages) {
        uint64_t id = 0;
        ASSERT_TRUE(id_of(m.value, &id)) << "unknown message at " << m.partition << "/" << m.offset;
        ASSERT_LT(id, sent);
    }
}

// fdatasync after every message: acknowledged means on disk.
TEST(RestartTest, SigkillWithFlushPerMessageKeepsEveryAcknowledgedMessage)
{
    sigkill_keeps_every_acknowledged_message("restart-kill",
                                             {{"log.flush.interval.messages", "1"}});
}

// The default flush policy (never fdatasync): as with Kafka's page cache, acknowledged
// means written to the file, which survives SIGKILL of the broker (not a power loss).
TEST(RestartTest, SigkillWithDefaultFlushKeepsEveryAcknowledgedMessage)
{
    sigkill_keeps_every_acknowledged_message("restart-kill-default", {});
}

// storage.tail.shared.memory: acknowledged once copied into the tail buffers, which live
// in a /dev/shm file; the restart writes what the kill left there to the log first.
TEST(RestartTest, SigkillWithSharedMemoryTailKeepsEveryAcknowledgedMessage)
{
    const std::string topic = "restart-kill-shm";
    broker_options options;
    options.topics = {{topic, k_partitions}};
    options.properties = {{"storage.tail.shared.memory", "true"},
                          {"storage.cache.bytes", "33554432"}};
    broker_process broker(options);
    ASSERT_TRUE(broker.Start());
    // The tail files are named by the data dir's device and inode; removed here whatever
    // happens, so a failing run leaves no memory behind in /dev/shm.
    struct stat data_stat;
    ASSERT_EQ(stat(broker.data_dir().c_str(), &data_stat), 0);
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "/dev/shm/sluice-tail-%llx-%llu-",
             (unsigned long long)data_stat.st_dev, (unsigned long long)data_stat.st_ino);
    struct remove_tail_file {
        std::string path;
        ~remove_tail_file()
        {
            unlink(path.c_str());
        }
    } cleanup{std::string(prefix) + "0"};
    ASSERT_EQ(access(cleanup.path.c_str(), F_OK), 0) << "no tail file " << cleanup.path;
    std::string reply, error;
    ASSERT_TRUE(sl_test::query_stats_socket(broker.stats_socket(), "{\"cmd\":\"/stats\"}", 5000,
                                            &reply, &error))
        << error;
    EXPECT_NE(reply.find("\"tail_shared_memory\":true"), std::string::npos) << reply;

    ASSERT_NO_FATAL_FAILURE(sigkill_keeps_every_acknowledged_message(topic, {}, &broker));
    EXPECT_NE(broker.log_text().find("sluiced: tail file " + cleanup.path), std::string::npos)
        << "the restart did not replay the tail file";
    ASSERT_TRUE(broker.Stop());
    EXPECT_NE(access(cleanup.path.c_str(), F_OK), 0) << "a clean stop left its tail file";
}

// The batch of an idempotent producer (producer id, epoch, first sequence), built by the
// raw client and re-signed with its CRC-32C.
std::vector<uint8_t> idempotent_batch(int64_t producer_id, int16_t epoch, int32_t base_sequence,
                                      int records)
{
    std::vector<sl_test::test_record> rs;
    for (int i = 0; i < records; i++) {
        rs.push_back({"k", "idem-" + std::to_string(base_sequence + i)});
    }
    std::vector<uint8_t> b = sl_test::build_record_batch(rs, 1700000000000);
    auto put = [&](size_t at, uint64_t v, int bytes) {
        for (int i = 0; i < bytes; i++) {
            b[at + (size_t)i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
        }
    };
    put(43, (uint64_t)producer_id, 8);
    put(51, (uint64_t)(uint16_t)epoch, 2);
    put(53, (uint64_t)(uint32_t)base_sequence, 4);
    put(sl_test::k_batch_crc_offset, sl_test::crc32c(b.data() + 21, b.size() - 21), 4);
    return b;
}

// Sends one Produce v7 (acks=-1) with batch and returns the partition's result.
sl_test::produce_partition_result produce_raw(const std::string &bootstrap,
                                              const std::string &topic,
                                              const std::vector<uint8_t> &batch, int32_t id)
{
    sl_test::produce_partition_result failed;
    sl_test::raw_kafka_connection conn;
    std::string error;
    EXPECT_TRUE(conn.connect_to(bootstrap, 5000, &error)) << error;
    EXPECT_TRUE(conn.send_frame(sl_test::make_request_v1(
        0, 7, id, sl_test::make_produce_v7_body(topic, 0, -1, 10000, batch))));
    std::vector<uint8_t> payload;
    sl_test::read_status s = conn.read_frame(&payload, 15000);
    EXPECT_EQ(s, sl_test::read_status::ok) << sl_test::read_status_name(s);
    int32_t correlation_id = 0;
    std::vector<sl_test::produce_partition_result> results;
    if (s != sl_test::read_status::ok ||
        !sl_test::parse_produce_v7_response(payload, &correlation_id, &results) ||
        results.size() != 1) {
        ADD_FAILURE() << "no well-formed Produce response";
        return failed;
    }
    EXPECT_EQ(correlation_id, id);
    return results[0];
}

// A producer whose connection broke cannot know whether its last batch was written, so
// it sends it again with the same sequence. After a SIGKILL and restart the broker
// rebuilds the producer's sequences from the log: the retry is answered with the
// original offset and not appended twice, the next sequence appends, and a gap is refused.
TEST(RestartTest, IdempotentRetryAfterSigkillIsNotAppendedTwice)
{
    const std::string topic = "restart-idempotent";
    const int64_t producer_id = 4242;
    broker_options options;
    options.topics = {{topic, 1}};
    broker_process broker(options);
    ASSERT_TRUE(broker.Start());
    const std::string bootstrap = broker.bootstrap();

    auto r = produce_raw(bootstrap, topic, idempotent_batch(producer_id, 0, 0, 3), 1);
    ASSERT_EQ(r.error_code, 0);
    ASSERT_EQ(r.base_offset, 0);
    r = produce_raw(bootstrap, topic, idempotent_batch(producer_id, 0, 3, 2), 2);
    ASSERT_EQ(r.error_code, 0);
    ASSERT_EQ(r.base_offset, 3);
    // Before the restart: a retry is a duplicate too.
    r = produce_raw(bootstrap, topic, idempotent_batch(producer_id, 0, 3, 2), 3);
    ASSERT_EQ(r.error_code, 0);
    ASSERT_EQ(r.base_offset, 3);

    broker.Kill();
    ASSERT_TRUE(broker.Restart());
    r = produce_raw(bootstrap, topic, idempotent_batch(producer_id, 0, 3, 2), 4);
    EXPECT_EQ(r.error_code, 0);
    EXPECT_EQ(r.base_offset, 3) << "the retried batch was appended again after the restart";
    r = produce_raw(bootstrap, topic, idempotent_batch(producer_id, 0, 9, 1), 5);
    EXPECT_EQ(r.error_code, 45) << "OUT_OF_ORDER_SEQUENCE_NUMBER for a gap";
    r = produce_raw(bootstrap, topic, idempotent_batch(producer_id, 0, 5, 1), 6);
    EXPECT_EQ(r.error_code, 0);
    EXPECT_EQ(r.base_offset, 5);
    r = produce_raw(bootstrap, topic, idempotent_batch(producer_id, 0, 6, 1), 7);
    EXPECT_EQ(r.error_code, 0);
    EXPECT_EQ(r.base_offset, 6);

    std::vector<consumed_message> messages;
    ASSERT_EQ(sl_test::consume_partitions(bootstrap, topic, 1, RD_KAFKA_OFFSET_BEGINNING, 7, 30000,
                                          &messages),
              "");
    ASSERT_EQ(messages.size(), 7u);
    for (size_t i = 0; i < messages.size(); i++) {
        EXPECT_EQ(messages[i].offset, (int64_t)i);
        EXPECT_EQ(messages[i].value, "idem-" + std::to_string(i));
    }
}

} // namespace
