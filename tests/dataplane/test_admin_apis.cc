// Admin and offset APIs against a real sluiced process, spoken with the project's own
// codec (typed requests at any version, responses decoded field by field): ListOffsets
// max timestamp, AlterConfigs / IncrementalAlterConfigs, OffsetForLeaderEpoch.
#include <dirent.h>
#include <gtest/gtest.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/codec/codec.h"
#include "dataplane/codec/kafka_errors.h"
#include "tests/dataplane/codec_client.h"
#include "tests/storage/batch_builder.h"
#include "tests/support/broker_process.h"
#include "tests/support/raw_kafka_client.h"

using namespace sl_test;

namespace
{

sl_codec_slice S(const char *s)
{
    return sl_codec_slice{reinterpret_cast<const uint8_t *>(s), (int32_t)strlen(s)};
}
sl_codec_slice null_slice()
{
    return sl_codec_slice{nullptr, -1};
}
// A batch whose records carry the given timestamps in this order.
std::vector<uint8_t> batch_with_timestamps(const std::vector<int64_t> &ts)
{
    int64_t base = *std::min_element(ts.begin(), ts.end());
    int64_t max = *std::max_element(ts.begin(), ts.end());
    std::vector<std::string> values(ts.size(), "v");
    batch_options o;
    o.base_timestamp = base;
    std::vector<uint8_t> b = make_batch(values, o);
    b.resize(SL_BATCH_HEADER_BYTES);
    sl_store_be64(b.data() + SL_BATCH_OFF_MAX_TIMESTAMP, static_cast<uint64_t>(max));
    for (size_t i = 0; i < ts.size(); i++)
        put_record(b, ts[i] - base, static_cast<int32_t>(i), "k", "v");
    seal_batch(b);
    return b;
}

class AdminApisTest : public ::testing::Test
{
  protected:
    std::unique_ptr<broker_process> broker;
    std::unique_ptr<codec_client> client = std::make_unique<codec_client>();

    void start(std::map<std::string, std::string> props = {})
    {
        broker_options o;
        o.properties = props;
        broker = std::make_unique<broker_process>(o);
        ASSERT_TRUE(broker->Start());
        ASSERT_TRUE(client->connect(broker->bootstrap()));
    }
    void reconnect()
    {
        client = std::make_unique<codec_client>();
        ASSERT_TRUE(client->connect(broker->bootstrap()));
    }

    // CreateTopics v5 with configs; returns the topic's error code.
    int16_t create_topic(const char *name, int32_t partitions,
                         std::vector<std::pair<const char *, const char *>> configs = {})
    {
        std::vector<sl_codec_create_topics_request_creatable_topic_config> cfgs(configs.size());
        for (size_t i = 0; i < configs.size(); i++) {
            cfgs[i].name = S(configs[i].first);
            cfgs[i].value = S(configs[i].second);
        }
        sl_codec_create_topics_request_creatable_topic t{};
        t.name = S(name);
        t.num_partitions = partitions;
        t.replication_factor = 1;
        t.assignments_count = 0;
        t.configs = cfgs.data();
        t.configs_count = (int32_t)cfgs.size();
        sl_codec_create_topics_request req{};
        req.topics = &t;
        req.topics_count = 1;
        req.timeout_ms = 10000;
        // Right after start the broker may not be registered and unfenced yet: no broker
        // to place replicas on (INVALID_REPLICATION_FACTOR) or no controller yet.
        int16_t code = -100;
        for (int attempt = 0; attempt < 100; attempt++) {
            auto *resp = client->call_or_fail<sl_codec_create_topics_response>(19, 5, &req);
            if (resp == nullptr || resp->topics_count != 1)
                return -100;
            code = resp->topics[0].error_code;
            if (code != SL_KAFKA_ERR_INVALID_REPLICATION_FACTOR &&
                code != SL_KAFKA_ERR_NOT_CONTROLLER && code != SL_KAFKA_ERR_REQUEST_TIMED_OUT)
                return code;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return code;
    }

    // Produce v8 acks=1 of one batch; returns the base offset (or -1 on error).
    int64_t produce(const char *topic, int32_t partition, const std::vector<uint8_t> &batch)
    {
        sl_codec_produce_request_partition_produce_data pd{};
        pd.index = partition;
        pd.records = sl_codec_records{batch.data(), (int32_t)batch.size(), nullptr, nullptr, 0};
        sl_codec_produce_request_topic_produce_data td{};
        td.name = S(topic);
        td.partition_data = &pd;
        td.partition_data_count = 1;
        sl_codec_produce_request req{};
        req.transactional_id = null_slice();
        req.acks = 1;
        req.timeout_ms = 10000;
        req.topic_data = &td;
        req.topic_data_count = 1;
        for (int attempt = 0; attempt < 100; attempt++) {
            auto *resp = client->call_or_fail<sl_codec_produce_response>(0, 8, &req);
            if (resp == nullptr)
                return -1;
            int16_t code = resp->responses[0].partition_responses[0].error_code;
            if (code == 0)
                return resp->responses[0].partition_responses[0].base_offset;
            // Just created: the partition may not be open yet.
            if (code != SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER &&
                code != SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION) {
                ADD_FAILURE() << "produce error " << code;
                return -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        ADD_FAILURE() << "partition never became writable";
        return -1;
    }

    struct offset_answer {
        int16_t error = -100;
        int64_t offset = -2;
        int64_t timestamp = -2;
        int32_t leader_epoch = -2;
    };
    offset_answer list_offset(const char *topic, int32_t partition, int64_t timestamp,
                              int16_t version)
    {
        sl_codec_list_offsets_request_list_offsets_partition p{};
        p.partition_index = partition;
        p.current_leader_epoch = -1;
        p.timestamp = timestamp;
        p.max_num_offsets = 1;
        sl_codec_list_offsets_request_list_offsets_topic t{};
        t.name = S(topic);
        t.partitions = &p;
        t.partitions_count = 1;
        sl_codec_list_offsets_request req{};
        req.replica_id = -1;
        req.topics = &t;
        req.topics_count = 1;
        req.timeout_ms = 1000;
        offset_answer a;
        auto *resp = client->call_or_fail<sl_codec_list_offsets_response>(2, version, &req);
        if (resp == nullptr || resp->topics_count != 1 || resp->topics[0].partitions_count != 1)
            return a;
        const auto &r = resp->topics[0].partitions[0];
        a.error = r.error_code;
        a.offset = r.offset;
        a.timestamp = r.timestamp;
        a.leader_epoch = r.leader_epoch;
        return a;
    }

    struct alter_result {
        int16_t error = -100;
        std::string message;
    };
    struct config_op {
        const char *key;
        int8_t op; // 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT (AlterConfigs: SET only)
        const char *value;
    };
    // IncrementalAlterConfigs v1 (incremental) or AlterConfigs v1 of one resource.
    alter_result alter(int8_t type, const char *name, std::vector<config_op> ops, bool incremental,
                       bool validate_only = false)
    {
        alter_result out;
        if (incremental) {
            std::vector<sl_codec_incremental_alter_configs_request_alterable_config> cfgs(
                ops.size());
            for (size_t i = 0; i < ops.size(); i++) {
                cfgs[i].name = S(ops[i].key);
                cfgs[i].config_operation = ops[i].op;
                cfgs[i].value = ops[i].value ? S(ops[i].value) : null_slice();
            }
            sl_codec_incremental_alter_configs_request_alter_configs_resource res{};
            res.resource_type = type;
            res.resource_name = S(name);
            res.configs = cfgs.data();
            res.configs_count = (int32_t)cfgs.size();
            sl_codec_incremental_alter_configs_request req{};
            req.resources = &res;
            req.resources_count = 1;
            req.validate_only = validate_only;
            auto *resp =
                client->call_or_fail<sl_codec_incremental_alter_configs_response>(44, 1, &req);
            if (resp == nullptr || resp->responses_count != 1)
                return out;
            EXPECT_EQ(resp->responses[0].resource_type, type);
            EXPECT_EQ(string_of(resp->responses[0].resource_name), name);
            out.error = resp->responses[0].error_code;
            out.message = string_of(resp->responses[0].error_message);
            return out;
        }
        std::vector<sl_codec_alter_configs_request_alterable_config> cfgs(ops.size());
        for (size_t i = 0; i < ops.size(); i++) {
            cfgs[i].name = S(ops[i].key);
            cfgs[i].value = ops[i].value ? S(ops[i].value) : null_slice();
        }
        sl_codec_alter_configs_request_alter_configs_resource res{};
        res.resource_type = type;
        res.resource_name = S(name);
        res.configs = cfgs.data();
        res.configs_count = (int32_t)cfgs.size();
        sl_codec_alter_configs_request req{};
        req.resources = &res;
        req.resources_count = 1;
        req.validate_only = validate_only;
        auto *resp = client->call_or_fail<sl_codec_alter_configs_response>(33, 1, &req);
        if (resp == nullptr || resp->responses_count != 1)
            return out;
        out.error = resp->responses[0].error_code;
        out.message = string_of(resp->responses[0].error_message);
        return out;
    }

    struct described {
        int16_t error = -100;
        std::string value = "<null>";
        int8_t source = -100;
        bool read_only = false;
    };
    // DescribeConfigs v3 of one key.
    described describe(int8_t type, const char *name, const char *key)
    {
        sl_codec_slice k = S(key);
        sl_codec_describe_configs_request_describe_configs_resource res{};
        res.resource_type = type;
        res.resource_name = S(name);
        res.configuration_keys = &k;
        res.configuration_keys_count = 1;
        sl_codec_describe_configs_request req{};
        req.resources = &res;
        req.resources_count = 1;
        described out;
        auto *resp = client->call_or_fail<sl_codec_describe_configs_response>(32, 3, &req);
        if (resp == nullptr || resp->results_count != 1)
            return out;
        out.error = resp->results[0].error_code;
        if (resp->results[0].configs_count != 1)
            return out;
        const auto &c = resp->results[0].configs[0];
        if (c.value.len >= 0)
            out.value = string_of(c.value);
        out.source = c.config_source;
        out.read_only = c.read_only;
        return out;
    }

    struct epoch_answer {
        int16_t error = -100;
        int32_t leader_epoch = -100;
        int64_t end_offset = -100;
    };
    epoch_answer end_offset_for_epoch(const char *topic, int32_t partition, int32_t epoch,
                                      int32_t current_epoch, int16_t version = 4)
    {
        sl_codec_offset_for_leader_epoch_request_offset_for_leader_partition p{};
        p.partition = partition;
        p.current_leader_epoch = current_epoch;
        p.leader_epoch = epoch;
        sl_codec_offset_for_leader_epoch_request_offset_for_leader_topic t{};
        t.topic = S(topic);
        t.partitions = &p;
        t.partitions_count = 1;
        sl_codec_offset_for_leader_epoch_request req{};
        req.replica_id = -1;
        req.topics = &t;
        req.topics_count = 1;
        epoch_answer a;
        auto *resp =
            client->call_or_fail<sl_codec_offset_for_leader_epoch_response>(23, version, &req);
        if (resp == nullptr || resp->topics_count != 1 || resp->topics[0].partitions_count != 1)
            return a;
        EXPECT_EQ(string_of(resp->topics[0].topic), topic);
        const auto &r = resp->topics[0].partitions[0];
        EXPECT_EQ(r.partition, partition);
        a.error = r.error_code;
        a.leader_epoch = r.leader_epoch;
        a.end_offset = r.end_offset;
        return a;
    }

    int16_t max_version(int16_t api_key)
    {
        sl_codec_api_versions_request req{};
        req.client_software_name = S("t");
        req.client_software_version = S("1");
        auto *resp = client->call_or_fail<sl_codec_api_versions_response>(18, 3, &req);
        if (resp == nullptr)
            return -1;
        for (int32_t i = 0; i < resp->api_keys_count; i++)
            if (resp->api_keys[i].api_key == api_key)
                return resp->api_keys[i].max_version;
        return -1;
    }
};

TEST_F(AdminApisTest, ListOffsetsMaxTimestampFindsTheFirstRecordWithTheLargestTimestamp)
{
    start();
    EXPECT_EQ(max_version(2), 10);
    ASSERT_EQ(create_topic("ts", 1), 0);
    // Empty partition: -3 answers no offset.
    offset_answer a = list_offset("ts", 0, -3, 7);
    EXPECT_EQ(a.error, 0);
    EXPECT_EQ(a.offset, -1);
    EXPECT_EQ(a.timestamp, -1);
    const int64_t t0 = 1700000000000;
    ASSERT_EQ(produce("ts", 0, batch_with_timestamps({t0 + 100, t0 + 500, t0 + 200})), 0);
    ASSERT_EQ(produce("ts", 0, batch_with_timestamps({t0 + 300, t0 + 900, t0 + 900, t0})), 3);
    ASSERT_EQ(produce("ts", 0, batch_with_timestamps({t0 + 50, t0 + 900})), 7);
    for (int16_t v = 7; v <= 10; v++) {
        a = list_offset("ts", 0, -3, v);
        EXPECT_EQ(a.error, 0) << "v" << v;
        EXPECT_EQ(a.offset, 4) << "v" << v; // the first record stamped t0 + 900
        EXPECT_EQ(a.timestamp, t0 + 900) << "v" << v;
        EXPECT_GE(a.leader_epoch, 0) << "v" << v;
    }
    // The other special timestamps at the versions that introduced them.
    EXPECT_EQ(list_offset("ts", 0, -2, 8).offset, 0);
    EXPECT_EQ(list_offset("ts", 0, -1, 8).offset, 9);
    a = list_offset("ts", 0, -4, 8); // earliest local: every segment is local
    EXPECT_EQ(a.error, 0);
    EXPECT_EQ(a.offset, 0);
    a = list_offset("ts", 0, -5, 9); // latest tiered: nothing is tiered
    EXPECT_EQ(a.error, 0);
    EXPECT_EQ(a.offset, -1);
    // By timestamp still finds the first record at or after the time.
    a = list_offset("ts", 0, t0 + 250, 10);
    EXPECT_EQ(a.offset, 1);
    EXPECT_EQ(a.timestamp, t0 + 500);
    // A later, larger timestamp moves the answer; a restart keeps it.
    ASSERT_EQ(produce("ts", 0, batch_with_timestamps({t0 + 1000, t0 + 1500, t0 + 1200})), 9);
    ASSERT_TRUE(broker->Stop());
    ASSERT_TRUE(broker->Restart());
    reconnect();
    a = list_offset("ts", 0, -3, 7);
    EXPECT_EQ(a.offset, 10);
    EXPECT_EQ(a.timestamp, t0 + 1500);
}

constexpr int8_t k_topic = 2;
constexpr int8_t k_broker = 4;

TEST_F(AdminApisTest, AlterConfigsChangeTopicAndBrokerConfigsWithKafkasErrors)
{
    start();
    EXPECT_EQ(max_version(33), 2);
    EXPECT_EQ(max_version(44), 1);
    ASSERT_EQ(create_topic("cfg", 1, {{"segment.ms", "600000"}}), 0);
    described d = describe(k_topic, "cfg", "segment.ms");
    EXPECT_EQ(d.value, "600000");
    EXPECT_EQ(d.source, 1); // DYNAMIC_TOPIC_CONFIG

    // Incremental SET of one key keeps the others.
    alter_result a = alter(k_topic, "cfg", {{"retention.ms", 0, "3600000"}}, true);
    EXPECT_EQ(a.error, 0) << a.message;
    EXPECT_EQ(describe(k_topic, "cfg", "retention.ms").value, "3600000");
    EXPECT_EQ(describe(k_topic, "cfg", "segment.ms").value, "600000");
    // Errors: unknown key, bad value (both named), unknown topic, non-list APPEND.
    a = alter(k_topic, "cfg", {{"retention.ms", 0, "5"}, {"no.such.key", 0, "1"}}, true);
    EXPECT_EQ(a.error, SL_KAFKA_ERR_INVALID_CONFIG);
    EXPECT_NE(a.message.find("no.such.key"), std::string::npos) << a.message;
    EXPECT_EQ(describe(k_topic, "cfg", "retention.ms").value, "3600000"); // none applied
    a = alter(k_topic, "cfg", {{"retention.ms", 0, "soon"}}, true);
    EXPECT_EQ(a.error, SL_KAFKA_ERR_INVALID_CONFIG);
    EXPECT_NE(a.message.find("retention.ms"), std::string::npos) << a.message;
    EXPECT_NE(a.message.find("soon"), std::string::npos) << a.message;
    a = alter(k_topic, "nope", {{"retention.ms", 0, "1000"}}, true);
    EXPECT_EQ(a.error, SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    a = alter(k_topic, "cfg", {{"retention.ms", 2, "1000"}}, true);
    EXPECT_EQ(a.error, SL_KAFKA_ERR_INVALID_REQUEST);
    // validate_only checks but changes nothing.
    a = alter(k_topic, "cfg", {{"retention.ms", 0, "7200000"}}, true, true);
    EXPECT_EQ(a.error, 0) << a.message;
    EXPECT_EQ(describe(k_topic, "cfg", "retention.ms").value, "3600000");
    a = alter(k_topic, "cfg", {{"retention.ms", 0, "x"}}, true, true);
    EXPECT_EQ(a.error, SL_KAFKA_ERR_INVALID_CONFIG);
    // List keys: APPEND and SUBTRACT.
    EXPECT_EQ(alter(k_topic, "cfg", {{"cleanup.policy", 2, "compact"}}, true).error, 0);
    EXPECT_EQ(describe(k_topic, "cfg", "cleanup.policy").value, "delete,compact");
    EXPECT_EQ(alter(k_topic, "cfg", {{"cleanup.policy", 3, "delete"}}, true).error, 0);
    EXPECT_EQ(describe(k_topic, "cfg", "cleanup.policy").value, "compact");
    // DELETE returns the key to its default.
    EXPECT_EQ(alter(k_topic, "cfg", {{"cleanup.policy", 1, nullptr}}, true).error, 0);
    d = describe(k_topic, "cfg", "cleanup.policy");
    EXPECT_EQ(d.value, "delete");
    EXPECT_EQ(d.source, 5); // DEFAULT_CONFIG
    // AlterConfigs replaces the whole override set.
    a = alter(k_topic, "cfg", {{"max.message.bytes", 0, "500000"}}, false);
    EXPECT_EQ(a.error, 0) << a.message;
    EXPECT_EQ(describe(k_topic, "cfg", "max.message.bytes").value, "500000");
    EXPECT_EQ(describe(k_topic, "cfg", "segment.ms").source, 5);
    EXPECT_EQ(describe(k_topic, "cfg", "retention.ms").source, 5);

    // Broker: dynamic keys per broker id or as the cluster default, inherited by topics.
    d = describe(k_broker, "1", "log.retention.bytes");
    EXPECT_FALSE(d.read_only);
    EXPECT_TRUE(describe(k_broker, "1", "log.dirs").read_only);
    a = alter(k_broker, "", {{"log.retention.bytes", 0, "123456789"}}, true);
    EXPECT_EQ(a.error, 0) << a.message;
    d = describe(k_topic, "cfg", "retention.bytes");
    EXPECT_EQ(d.value, "123456789");
    EXPECT_EQ(d.source, 3); // DYNAMIC_DEFAULT_BROKER_CONFIG
    d = describe(k_broker, "1", "log.retention.bytes");
    EXPECT_EQ(d.value, "123456789");
    EXPECT_EQ(d.source, 3);
    EXPECT_EQ(alter(k_broker, "1", {{"log.retention.bytes", 0, "987654321"}}, true).error, 0);
    d = describe(k_topic, "cfg", "retention.bytes");
    EXPECT_EQ(d.value, "987654321");
    EXPECT_EQ(d.source, 2); // DYNAMIC_BROKER_CONFIG
    a = alter(k_broker, "1", {{"listeners", 0, "PLAINTEXT://127.0.0.1:1"}}, true);
    EXPECT_EQ(a.error, SL_KAFKA_ERR_INVALID_REQUEST);
    EXPECT_NE(a.message.find("listeners"), std::string::npos) << a.message;
    EXPECT_NE(a.message.find("cannot be updated dynamically"), std::string::npos) << a.message;
    a = alter(k_broker, "1", {{"log.retention.bytes", 0, "-7"}}, true);
    EXPECT_EQ(a.error, SL_KAFKA_ERR_INVALID_CONFIG);
    a = alter(k_broker, "x", {{"log.retention.bytes", 0, "1"}}, true);
    EXPECT_EQ(a.error, SL_KAFKA_ERR_INVALID_REQUEST);

    // Everything survives a restart (config records in the metadata log).
    ASSERT_TRUE(broker->Stop());
    ASSERT_TRUE(broker->Restart());
    reconnect();
    d = describe(k_topic, "cfg", "max.message.bytes");
    EXPECT_EQ(d.value, "500000");
    EXPECT_EQ(d.source, 1);
    d = describe(k_topic, "cfg", "retention.bytes");
    EXPECT_EQ(d.value, "987654321");
    EXPECT_EQ(d.source, 2);
    EXPECT_EQ(describe(k_broker, "", "log.retention.bytes").value, "987654321");
}

// Segment files of the partition directory, sorted.
std::vector<std::string> segment_files(const std::string &dir)
{
    std::vector<std::string> out;
    if (DIR *d = opendir(dir.c_str())) {
        while (struct dirent *de = readdir(d)) {
            std::string n = de->d_name;
            if (n.size() > 4 && n.compare(n.size() - 4, 4, ".log") == 0)
                out.push_back(n);
        }
        closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

TEST_F(AdminApisTest, AlteredRetentionDeletesOldSegmentsOfALivePartition)
{
    start({{"log.retention.check.interval.ms", "200"}});
    ASSERT_EQ(create_topic("old", 1, {{"segment.bytes", "16384"}}), 0);
    // Records two days old: the default week keeps them.
    int64_t two_days_ago = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count() -
                           2 * 24 * 3600 * 1000LL;
    batch_options o;
    o.base_timestamp = two_days_ago;
    int64_t last = -1;
    for (int i = 0; i < 30; i++)
        last = produce("old", 0, make_seeded_batch(i, 4, 1000, o));
    ASSERT_EQ(last, 29 * 4);
    std::string dir = broker->data_dir() + "/old-0";
    size_t before = segment_files(dir).size();
    ASSERT_GE(before, 5u);
    std::this_thread::sleep_for(std::chrono::milliseconds(600)); // a few retention passes
    EXPECT_EQ(segment_files(dir).size(), before);
    EXPECT_EQ(list_offset("old", 0, -2, 1).offset, 0);

    alter_result a = alter(k_topic, "old", {{"retention.ms", 0, "86400000"}}, true); // one day
    ASSERT_EQ(a.error, 0) << a.message;
    int64_t earliest = 0;
    for (int i = 0; i < 100 && earliest == 0; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        earliest = list_offset("old", 0, -2, 1).offset;
    }
    EXPECT_GT(earliest, 0);
    EXPECT_EQ(segment_files(dir).size(), 1u); // only the active segment stays
    EXPECT_EQ(list_offset("old", 0, -1, 1).offset, 30 * 4);
    // A new record is kept: it is younger than a day.
    EXPECT_EQ(produce("old", 0, make_seeded_batch(99, 1, 10)), 30 * 4);
}

TEST_F(AdminApisTest, OffsetForLeaderEpochAnswersFromTheLogsEpochs)
{
    start({{"broker.session.timeout.ms", "1000"}, {"broker.heartbeat.interval.ms", "100"}});
    EXPECT_EQ(max_version(23), 4);
    ASSERT_EQ(create_topic("ep", 1), 0);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(produce("ep", 0, make_seeded_batch(i, 2, 50)), i * 2);
    const int32_t e1 = list_offset("ep", 0, -1, 4).leader_epoch;
    ASSERT_GE(e1, 0);
    // The current epoch ends at the log end; a newer one is unknown to the log.
    epoch_answer a = end_offset_for_epoch("ep", 0, e1, e1);
    EXPECT_EQ(a.error, 0);
    EXPECT_EQ(a.leader_epoch, e1);
    EXPECT_EQ(a.end_offset, 10);
    a = end_offset_for_epoch("ep", 0, e1 + 1, -1);
    EXPECT_EQ(a.error, 0);
    EXPECT_EQ(a.leader_epoch, -1);
    EXPECT_EQ(a.end_offset, -1);
    // current_leader_epoch fencing; -1 means not checked.
    EXPECT_EQ(end_offset_for_epoch("ep", 0, e1, e1 + 1).error, SL_KAFKA_ERR_UNKNOWN_LEADER_EPOCH);
    EXPECT_EQ(end_offset_for_epoch("ep", 0, e1, -1).end_offset, 10);
    // Old versions: v0 has no leader epoch in the answer, v1 has no current epoch.
    a = end_offset_for_epoch("ep", 0, e1, -1, 0);
    EXPECT_EQ(a.error, 0);
    EXPECT_EQ(a.end_offset, 10);
    a = end_offset_for_epoch("ep", 0, e1, -1, 2);
    EXPECT_EQ(a.leader_epoch, e1);
    EXPECT_EQ(a.end_offset, 10);
    EXPECT_EQ(end_offset_for_epoch("nope", 0, e1, -1).error,
              SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    EXPECT_EQ(end_offset_for_epoch("ep", 3, e1, -1).error, SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION);

    // A restarted broker with a new incarnation id: once the old incarnation's session
    // expires (1 s here) its leaderships move, and the partition is led again with a new
    // epoch. The old epoch then ends where the new one's first batch starts. (An ordinary
    // restart keeps the incarnation and the epoch.)
    broker->Kill();
    // A new incarnation, as if the broker's disk had been replaced (the id is kept next
    // to the data so that an ordinary restart is the same incarnation).
    ASSERT_EQ(unlink((broker->data_dir() + "/sluiced.incarnation").c_str()), 0);
    ASSERT_TRUE(broker->Restart());
    reconnect();
    int32_t e2 = -1;
    for (int i = 0; i < 200 && e2 <= e1; i++) {
        offset_answer la = list_offset("ep", 0, -1, 4);
        if (la.error == 0)
            e2 = la.leader_epoch;
        if (e2 <= e1)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_GT(e2, e1) << "a restart did not bump the leader epoch";
    ASSERT_EQ(produce("ep", 0, make_seeded_batch(9, 3, 50)), 10);
    a = end_offset_for_epoch("ep", 0, e1, e2);
    EXPECT_EQ(a.error, 0);
    EXPECT_EQ(a.leader_epoch, e1);
    EXPECT_EQ(a.end_offset, 10);
    a = end_offset_for_epoch("ep", 0, e2, e2);
    EXPECT_EQ(a.leader_epoch, e2);
    EXPECT_EQ(a.end_offset, 13);
    EXPECT_EQ(end_offset_for_epoch("ep", 0, e1, e1).error, SL_KAFKA_ERR_FENCED_LEADER_EPOCH);
}

} // namespace
