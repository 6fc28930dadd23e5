// Bad input over raw sockets: truncated, oversized and malformed frames, unknown API keys
// and versions, a record batch with a bad CRC. Each case must get the right Kafka error or
// a closed connection, while a bystander connection and a fresh one keep being served and
// nothing produced before is lost. Each case also checks the stats socket: the bad input
// moved exactly the counters docs/stats.md says it does, by exactly one, and no other
// bad-input counter.
#include <gtest/gtest.h>

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/broker_process.h"
#include "tests/support/child_process.h"
#include "tests/support/raw_kafka_client.h"
#include "tests/support/rdkafka_client.h"
#include "tests/support/stats_socket.h"

namespace
{

using sl_test::api_versions_response;
using sl_test::broker_options;
using sl_test::broker_process;
using sl_test::consumed_message;
using sl_test::kafka_writer;
using sl_test::raw_kafka_connection;
using sl_test::rdkafka_producer;
using sl_test::read_status;
using sl_test::stats_totals;

constexpr int16_t k_api_produce = 0;
constexpr int16_t k_api_metadata = 3;
constexpr int16_t k_api_versions = 18;
constexpr int16_t k_error_corrupt_message = 2;
constexpr int16_t k_error_unsupported_version = 35;
constexpr int k_request_max_bytes = 1 << 20;
constexpr int k_close_timeout_ms = 5000;
constexpr int k_response_timeout_ms = 5000;
constexpr uint64_t k_baseline_count = 200;

std::string baseline_value(uint64_t i)
{
    return "baseline-" + std::to_string(i);
}

std::vector<uint8_t> be32(uint32_t v)
{
    return {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
}

class BadInputTest : public ::testing::Test
{
  protected:
    const std::string topic_ = "bad-input";

    void SetUp() override
    {
        broker_options options;
        options.topics = {{topic_, 1}};
        options.properties = {{"socket.request.max.bytes", std::to_string(k_request_max_bytes)}};
        broker_.reset(new broker_process(options));
        ASSERT_TRUE(broker_->Start());
        rdkafka_producer producer;
        std::string error;
        ASSERT_TRUE(producer.open(broker_->bootstrap(), {{"acks", "all"}}, &error)) << error;
        for (uint64_t i = 0; i < k_baseline_count; i++) {
            ASSERT_EQ(producer.produce(topic_, 0, nullptr, baseline_value(i), {}, i),
                      RD_KAFKA_RESP_ERR_NO_ERROR);
        }
        ASSERT_EQ(producer.flush(30000), 0);
        for (const auto &r : producer.reports()) {
            ASSERT_EQ(r.error, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(r.error);
        }
        ASSERT_TRUE(bystander_.connect_to(broker_->bootstrap(), 5000, &error)) << error;
        ASSERT_EQ(sl_test::probe_api_versions(bystander_, next_bystander_id_++, 5000), "");
        ASSERT_TRUE(sl_test::read_stats_totals(broker_->stats_socket(), &before_, &error))
            << "the stats socket of a ready broker does not answer: " << error;
        ASSERT_GT(before_.get("requests.Produce.count"), 0u) << "the baseline was not counted";
        for (const std::string &key : bad_input_counters()) {
            ASSERT_EQ(before_.get(key), 0u) << key << " moved before any bad input";
        }
    }

    // Every counter of bad input (docs/stats.md).
    static const std::vector<std::string> &bad_input_counters()
    {
        static const std::vector<std::string> keys = {
            "connections_closed_mid_frame", "frames_rejected_too_large",
            "frames_rejected_malformed",    "frames_rejected_unknown_api",
            "errors.CORRUPT_MESSAGE",       "errors.UNSUPPORTED_VERSION",
            "errors.INVALID_REQUEST",
        };
        return keys;
    }

    // Waits (the broker may count a peer's close a moment after the peer saw it) until
    // each bad-input counter moved from the SetUp snapshot by exactly expected[key] (0
    // when absent), then asserts it. Returns the snapshot it ended with.
    stats_totals expect_counted(const std::map<std::string, uint64_t> &expected)
    {
        stats_totals now;
        long long deadline_ms = sl_test::monotonic_ms() + 5000;
        auto delta = [&](const std::string &key) { return now.get(key) - before_.get(key); };
        auto want = [&](const std::string &key) {
            auto it = expected.find(key);
            return it == expected.end() ? 0 : it->second;
        };
        while (true) {
            std::string error;
            EXPECT_TRUE(sl_test::read_stats_totals(broker_->stats_socket(), &now, &error)) << error;
            bool all = true;
            for (const std::string &key : bad_input_counters()) {
                all = all && delta(key) == want(key);
            }
            for (const auto &e : expected) {
                all = all && delta(e.first) == e.second;
            }
            if (all || sl_test::monotonic_ms() > deadline_ms) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        for (const std::string &key : bad_input_counters()) {
            EXPECT_EQ(delta(key), want(key)) << "stats counter " << key;
        }
        for (const auto &e : expected) {
            EXPECT_EQ(delta(e.first), e.second) << "stats counter " << e.first;
        }
        return now;
    }

    // The broker still serves the connection opened before the bad input and a new one,
    // and the baseline messages are all there, unchanged, at offsets 0..199.
    // *all_messages (optional) receives everything consumed.
    void expect_broker_healthy(size_t extra_messages_expected = 0,
                               std::vector<consumed_message> *all_messages = nullptr)
    {
        ASSERT_TRUE(broker_->running()) << "the broker process died";
        EXPECT_EQ(sl_test::probe_api_versions(bystander_, next_bystander_id_++, 5000), "")
            << "the bystander connection was disturbed";
        EXPECT_EQ(sl_test::probe_api_versions_fresh(broker_->bootstrap(), 5000), "")
            << "a new connection is not served";
        std::vector<consumed_message> messages;
        EXPECT_EQ(sl_test::consume_partitions(
                      broker_->bootstrap(), topic_, 1, RD_KAFKA_OFFSET_BEGINNING,
                      k_baseline_count + extra_messages_expected, 30000, &messages),
                  "");
        ASSERT_EQ(messages.size(), k_baseline_count + extra_messages_expected);
        for (uint64_t i = 0; i < k_baseline_count; i++) {
            EXPECT_EQ(messages[i].offset, (int64_t)i);
            EXPECT_EQ(messages[i].value, baseline_value(i));
        }
        if (all_messages != nullptr) {
            *all_messages = messages;
        }
    }

    raw_kafka_connection &connect_attacker()
    {
        attacker_.reset(new raw_kafka_connection());
        std::string error;
        EXPECT_TRUE(attacker_->connect_to(broker_->bootstrap(), 5000, &error)) << error;
        return *attacker_;
    }

    // After a request the broker may not honour: either it closes the connection, or it
    // answers with a frame carrying our correlation id. Anything else is a failure.
    void expect_closed_or_answered(raw_kafka_connection &conn, int32_t correlation_id)
    {
        std::vector<uint8_t> payload;
        read_status s = conn.read_frame(&payload, k_response_timeout_ms);
        if (s == read_status::closed) {
            return;
        }
        ASSERT_EQ(s, read_status::ok)
            << "neither closed nor answered: " << sl_test::read_status_name(s);
        ASSERT_GE(payload.size(), 4u);
        sl_test::kafka_reader r(payload);
        EXPECT_EQ(r.int32(), correlation_id);
    }

    std::unique_ptr<broker_process> broker_;
    raw_kafka_connection bystander_;
    int32_t next_bystander_id_ = 1000;
    std::unique_ptr<raw_kafka_connection> attacker_;
    stats_totals before_;
};

TEST_F(BadInputTest, TruncatedFrameThenClose)
{
    raw_kafka_connection &conn = connect_attacker();
    std::vector<uint8_t> bytes = be32(100);
    std::vector<uint8_t> partial = sl_test::make_api_versions_v0(7);
    bytes.insert(bytes.end(), partial.begin(), partial.end()); // 100 announced, ~25 sent
    ASSERT_TRUE(conn.send_raw(bytes));
    conn.close_now();
    expect_counted({{"connections_closed_mid_frame", 1}});
    expect_broker_healthy();
}

TEST_F(BadInputTest, TruncatedFrameThenSilenceDoesNotBlockOthers)
{
    raw_kafka_connection &conn = connect_attacker();
    std::vector<uint8_t> bytes = be32(4096);
    bytes.resize(4 + 100, 0xab);
    ASSERT_TRUE(conn.send_raw(bytes));
    expect_broker_healthy(); // the half-sent frame stays pending meanwhile
    expect_counted({});      // nothing is wrong yet: the rest may still come
    conn.close_now();
    expect_counted({{"connections_closed_mid_frame", 1}});
}

TEST_F(BadInputTest, NegativeSizePrefixClosesConnection)
{
    raw_kafka_connection &conn = connect_attacker();
    ASSERT_TRUE(conn.send_raw(be32(0xfffffff0u)));
    EXPECT_TRUE(conn.wait_closed_by_peer(k_close_timeout_ms));
    expect_counted({{"frames_rejected_malformed", 1}});
    expect_broker_healthy();
}

TEST_F(BadInputTest, FrameLargerThanSocketRequestMaxBytesClosesConnection)
{
    raw_kafka_connection &conn = connect_attacker();
    // Only the prefix is sent: the broker must refuse on the size alone, not buffer it.
    ASSERT_TRUE(conn.send_raw(be32((uint32_t)k_request_max_bytes * 64)));
    EXPECT_TRUE(conn.wait_closed_by_peer(k_close_timeout_ms))
        << "a frame of 64 x socket.request.max.bytes was not refused";
    expect_counted({{"frames_rejected_too_large", 1}});
    expect_broker_healthy();
}

TEST_F(BadInputTest, UnknownApiKey)
{
    raw_kafka_connection &conn = connect_attacker();
    ASSERT_TRUE(conn.send_frame(sl_test::make_request_v1(9999, 0, 77, {})));
    ASSERT_NO_FATAL_FAILURE(expect_closed_or_answered(conn, 77));
    expect_counted({{"frames_rejected_unknown_api", 1}, {"requests.other.count", 1}});
    expect_broker_healthy();
}

TEST_F(BadInputTest, UnsupportedVersionOfMetadata)
{
    raw_kafka_connection &conn = connect_attacker();
    ASSERT_TRUE(conn.send_frame(sl_test::make_request_v1(k_api_metadata, 999, 78, {0, 0, 0, 0})));
    ASSERT_NO_FATAL_FAILURE(expect_closed_or_answered(conn, 78));
    expect_counted({{"frames_rejected_unknown_api", 1}});
    expect_broker_healthy();
}

// A client newer than the broker asks for ApiVersions v99. Kafka answers in the v0 layout
// (which every client can read) with UNSUPPORTED_VERSION and the versions it does support,
// so the client can retry with one of them.
TEST_F(BadInputTest, ApiVersionsUnsupportedVersionAnswersErrorWithVersionList)
{
    raw_kafka_connection &conn = connect_attacker();
    kafka_writer w;
    w.int16(k_api_versions);
    w.int16(99);
    w.int32(79);
    w.string("sluice-raw-test"); // request header v2: client_id, then tagged fields
    w.unsigned_varint(0);
    w.unsigned_varint(5); // body shaped like v3: compact client_software_name "sl-t"
    w.raw({'s', 'l', '-', 't'});
    w.unsigned_varint(4); // compact client_software_version "1.0"
    w.raw({'1', '.', '0'});
    w.unsigned_varint(0);
    ASSERT_TRUE(conn.send_frame(w.data()));
    std::vector<uint8_t> payload;
    read_status s = conn.read_frame(&payload, k_response_timeout_ms);
    ASSERT_EQ(s, read_status::ok) << sl_test::read_status_name(s);
    api_versions_response resp;
    ASSERT_TRUE(sl_test::parse_api_versions_v0(payload, &resp))
        << "response is not in the ApiVersions v0 layout (" << payload.size() << " bytes)";
    EXPECT_EQ(resp.correlation_id, 79);
    EXPECT_EQ(resp.error_code, k_error_unsupported_version);
    bool lists_api_versions = false;
    for (const auto &range : resp.apis) {
        lists_api_versions =
            lists_api_versions ||
            (range.api_key == k_api_versions && range.min_version == 0 && range.max_version >= 0);
    }
    EXPECT_TRUE(lists_api_versions) << "the version list does not include ApiVersions v0";
    expect_counted({{"errors.UNSUPPORTED_VERSION", 1}});
    // The same connection may go on with a supported version.
    EXPECT_EQ(sl_test::probe_api_versions(conn, 80, 5000), "");
    expect_broker_healthy();
}

// Metadata v1 whose topic array claims 2^31-1 entries but carries none.
TEST_F(BadInputTest, MalformedArrayLength)
{
    raw_kafka_connection &conn = connect_attacker();
    ASSERT_TRUE(
        conn.send_frame(sl_test::make_request_v1(k_api_metadata, 1, 81, be32(0x7fffffffu))));
    ASSERT_NO_FATAL_FAILURE(expect_closed_or_answered(conn, 81));
    expect_counted({{"frames_rejected_malformed", 1}});
    expect_broker_healthy();
}

// Produce v7 whose records field claims more bytes than the frame holds.
TEST_F(BadInputTest, MalformedRecordsLength)
{
    raw_kafka_connection &conn = connect_attacker();
    std::vector<uint8_t> batch = sl_test::build_record_batch({{"k", "v"}}, 1700000000000);
    std::vector<uint8_t> body = sl_test::make_produce_v7_body(topic_, 0, 1, 5000, batch);
    // The records length is the int32 right before the batch; claim 1000 bytes more.
    size_t length_at = body.size() - batch.size() - 4;
    std::vector<uint8_t> claimed = be32((uint32_t)batch.size() + 1000);
    std::copy(claimed.begin(), claimed.end(), body.begin() + (long)length_at);
    ASSERT_TRUE(conn.send_frame(sl_test::make_request_v1(k_api_produce, 7, 82, body)));
    ASSERT_NO_FATAL_FAILURE(expect_closed_or_answered(conn, 82));
    expect_counted({{"frames_rejected_malformed", 1}});
    expect_broker_healthy();
}

// A correct batch is accepted at the next offset; the same batch with one CRC bit flipped
// is refused with CORRUPT_MESSAGE and never appended.
TEST_F(BadInputTest, ProduceBatchWithBadCrcGetsCorruptMessage)
{
    raw_kafka_connection &conn = connect_attacker();
    std::vector<uint8_t> good = sl_test::build_record_batch(
        {{"raw-key", "raw-good-0"}, {"raw-key", "raw-good-1"}}, 1700000000000);
    ASSERT_TRUE(conn.send_frame(sl_test::make_request_v1(
        k_api_produce, 7, 90, sl_test::make_produce_v7_body(topic_, 0, 1, 5000, good))));
    std::vector<uint8_t> payload;
    ASSERT_EQ(conn.read_frame(&payload, k_response_timeout_ms), read_status::ok);
    int32_t correlation_id = 0;
    std::vector<sl_test::produce_partition_result> results;
    ASSERT_TRUE(sl_test::parse_produce_v7_response(payload, &correlation_id, &results));
    EXPECT_EQ(correlation_id, 90);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].error_code, 0) << "control: the well-formed batch was refused";
    EXPECT_EQ(results[0].base_offset, (int64_t)k_baseline_count);

    std::vector<uint8_t> bad = sl_test::build_record_batch({{"raw-key", "raw-bad"}}, 1700000000000);
    bad[sl_test::k_batch_crc_offset + 3] ^= 0x01;
    ASSERT_TRUE(conn.send_frame(sl_test::make_request_v1(
        k_api_produce, 7, 91, sl_test::make_produce_v7_body(topic_, 0, 1, 5000, bad))));
    read_status s = conn.read_frame(&payload, k_response_timeout_ms);
    ASSERT_EQ(s, read_status::ok) << "no Produce response to the bad batch: "
                                  << sl_test::read_status_name(s);
    ASSERT_TRUE(sl_test::parse_produce_v7_response(payload, &correlation_id, &results));
    EXPECT_EQ(correlation_id, 91);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].topic, topic_);
    EXPECT_EQ(results[0].partition, 0);
    EXPECT_EQ(results[0].error_code, k_error_corrupt_message);
    stats_totals after = expect_counted({{"errors.CORRUPT_MESSAGE", 1}});
    EXPECT_EQ(after.get("produce_batches") - before_.get("produce_batches"), 1u)
        << "only the control batch is appended";
    EXPECT_EQ(after.get("produce_records") - before_.get("produce_records"), 2u);

    expect_broker_healthy(2);
    std::vector<consumed_message> messages;
    ASSERT_EQ(sl_test::consume_partitions(broker_->bootstrap(), topic_, 1,
                                          (int64_t)k_baseline_count, 2, 30000, &messages),
              "");
    ASSERT_EQ(messages.size(), 2u) << "the corrupt batch was appended";
    EXPECT_EQ(messages[0].value, "raw-good-0");
    EXPECT_EQ(messages[1].value, "raw-good-1");
}

// A librdkafka producer streams throughout a run of every bad input above on other
// connections: it sees no error and every message arrives.
TEST_F(BadInputTest, OtherClientsUnaffectedWhileBadInputArrives)
{
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> produced{0};
    std::string producer_error;
    rdkafka_producer producer;
    ASSERT_TRUE(
        producer.open(broker_->bootstrap(), {{"acks", "all"}, {"linger.ms", "1"}}, &producer_error))
        << producer_error;
    std::thread streamer([&] {
        for (uint64_t i = 0; !stop.load(); i++) {
            if (producer.produce(topic_, 0, nullptr, "stream-" + std::to_string(i), {},
                                 k_baseline_count + i) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                break;
            }
            produced.store(i + 1);
            producer.poll(1);
        }
    });
    // Joins the streamer on every way out of this test, including a failed ASSERT.
    struct join_on_exit {
        std::atomic<bool> &stop;
        std::thread &thread;
        ~join_on_exit()
        {
            stop.store(true);
            if (thread.joinable()) {
                thread.join();
            }
        }
    } joiner{stop, streamer};
    // The stream must be running before the attacks start (they can finish within a few
    // hundred milliseconds, before a freshly started thread has produced anything).
    long long stream_deadline_ms = sl_test::monotonic_ms() + 10000;
    while (produced.load() == 0 && sl_test::monotonic_ms() < stream_deadline_ms) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_GT(produced.load(), 0u) << "the producer stream did not start";

    std::vector<std::vector<uint8_t>> attacks = {
        be32(0xfffffff0u),
        be32((uint32_t)k_request_max_bytes * 64),
        sl_test::make_request_v1(9999, 0, 1, {}),
        sl_test::make_request_v1(k_api_metadata, 999, 2, {}),
        sl_test::make_request_v1(k_api_metadata, 1, 3, be32(0x7fffffffu)),
    };
    for (size_t round = 0; round < 3; round++) {
        for (size_t a = 0; a < attacks.size(); a++) {
            raw_kafka_connection conn;
            std::string error;
            ASSERT_TRUE(conn.connect_to(broker_->bootstrap(), 5000, &error)) << error;
            std::vector<uint8_t> bytes = attacks[a];
            if (a >= 2) { // whole requests get their size prefix
                bytes = be32((uint32_t)bytes.size());
                bytes.insert(bytes.end(), attacks[a].begin(), attacks[a].end());
            }
            conn.send_raw(bytes);
            std::vector<uint8_t> ignored;
            conn.read_frame(&ignored, 500);
        }
    }
    stop.store(true);
    streamer.join();
    ASSERT_TRUE(broker_->running()) << "the broker process died";
    ASSERT_EQ(producer.flush(30000), 0);
    uint64_t stream_count = produced.load();
    ASSERT_GT(stream_count, 0u);
    stats_totals after = expect_counted({{"frames_rejected_malformed", 3 * 2},
                                         {"frames_rejected_too_large", 3},
                                         {"frames_rejected_unknown_api", 3 * 2}});
    EXPECT_EQ(after.get("produce_records") - before_.get("produce_records"), stream_count)
        << "records appended differ from records the producer had acknowledged";
    size_t failures = 0;
    for (const auto &r : producer.reports()) {
        failures += r.error != RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    EXPECT_EQ(failures, 0u);
    EXPECT_EQ(producer.reports().size(), stream_count);
    std::vector<consumed_message> messages;
    ASSERT_NO_FATAL_FAILURE(expect_broker_healthy(stream_count, &messages));
    for (uint64_t i = 0; i < stream_count; i++) {
        ASSERT_EQ(messages[k_baseline_count + i].value, "stream-" + std::to_string(i));
    }
}

} // namespace
