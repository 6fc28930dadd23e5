// Group coordinator placement in a real 3-broker cluster (tests/support/cluster_process):
// the coordinator of a group is the leader of the group's __consumer_offsets partition.
// Checks the lazy creation of that internal topic by the first FindCoordinator, that
// every broker names the same coordinator (the partition leader its Metadata shows, with
// that broker's endpoint), that other brokers answer NOT_COORDINATOR, that a librdkafka
// group bootstrapped from a non-coordinator commits and resumes, and what SIGKILL and a
// restart of the coordinator do (COORDINATOR_NOT_AVAILABLE once fenced, the committed
// offsets back after the restart).
//
// Timeouts are shortened by overrides (broker session 5 s) so the test takes seconds;
// every wait polls a condition with a deadline.
#include <gtest/gtest.h>

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/codec/kafka_errors.h"
#include "tests/support/child_process.h"
#include "tests/support/cluster_process.h"
#include "tests/support/raw_admin_client.h"
#include "tests/support/raw_kafka_client.h"
#include "tests/support/rdkafka_client.h"

namespace
{

using sl_test::cluster_options;
using sl_test::cluster_process;
using sl_test::metadata_partition;
using sl_test::metadata_topic;
using sl_test::metadata_view;

constexpr int k_offsets_partitions = 12;
constexpr int k_wait_ms = 20000;
const std::string k_offsets_topic = "__consumer_offsets";

cluster_options group_cluster_options()
{
    cluster_options o;
    o.voters = 3;
    o.properties = {
        // The cluster tests' timings (tests/controlplane/test_cluster_processes.cc): short,
        // with room for heartbeats delayed on a loaded 2-core machine.
        {"controller.quorum.election.timeout.ms", "1000"},
        {"controlplane.quorum.heartbeat.ms", "100"},
        {"broker.session.timeout.ms", "5000"},
        {"broker.heartbeat.interval.ms", "500"},
        {"group.initial.rebalance.delay.ms", "0"},
        {"offsets.topic.num.partitions", std::to_string(k_offsets_partitions)},
    };
    return o;
}

void pause_ms(int ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// Kafka's placement: abs(String.hashCode(group)) % partitions (ASCII ids only here).
int32_t offsets_partition_of(const std::string &group)
{
    uint32_t h = 0;
    for (unsigned char c : group) {
        h = h * 31u + c;
    }
    int32_t v = (int32_t)h;
    int32_t a = v == INT32_MIN ? 0 : (v < 0 ? -v : v);
    return a % k_offsets_partitions;
}

struct coordinator_answer {
    int16_t error_code = -1;
    int32_t node_id = -1;
    std::string endpoint; // host:port
};

// One request/response on a fresh connection; "" or what went wrong. The answer's
// correlation id is checked and dropped.
std::string round_trip(const std::string &host_port, int16_t api_key, int16_t version,
                       const std::vector<uint8_t> &body, std::vector<uint8_t> *payload)
{
    sl_test::raw_kafka_connection conn;
    std::string error;
    if (!conn.connect_to(host_port, 2000, &error)) {
        return "connect " + host_port + ": " + error;
    }
    if (!conn.send_frame(sl_test::make_request_v1(api_key, version, 4242, body))) {
        return "send to " + host_port + " failed";
    }
    sl_test::read_status st = conn.read_frame(payload, 5000);
    if (st != sl_test::read_status::ok) {
        return "no answer from " + host_port + ": " + sl_test::read_status_name(st);
    }
    sl_test::kafka_reader r(*payload);
    if (r.int32() != 4242) {
        return "wrong correlation id from " + host_port;
    }
    payload->erase(payload->begin(), payload->begin() + 4);
    return "";
}

// FindCoordinator v1 (group key) with the coordinator's endpoint.
coordinator_answer find_coordinator(const std::string &host_port, const std::string &group)
{
    sl_test::kafka_writer w;
    w.string(group);
    w.int8(0);
    std::vector<uint8_t> payload;
    coordinator_answer out;
    std::string error = round_trip(host_port, 10, 1, w.data(), &payload);
    if (!error.empty()) {
        ADD_FAILURE() << error;
        return out;
    }
    sl_test::kafka_reader r(payload);
    r.int32(); // throttle_time_ms
    out.error_code = r.int16();
    if (r.int16() > 0) { // error_message length (a null one is -1)
        ADD_FAILURE() << "unexpected error message";
        return coordinator_answer();
    }
    out.node_id = r.int32();
    std::string host = r.string();
    int32_t port = r.int32();
    if (r.failed() || r.remaining() != 0) {
        ADD_FAILURE() << "malformed FindCoordinator answer from " << host_port;
        return coordinator_answer();
    }
    out.endpoint = host + ":" + std::to_string(port);
    return out;
}

// Heartbeat v0 of an unknown member; returns the error code (-1 on a wire failure).
int16_t heartbeat_error(const std::string &host_port, const std::string &group)
{
    sl_test::kafka_writer w;
    w.string(group);
    w.int32(1);
    w.string("nobody");
    std::vector<uint8_t> payload;
    std::string error = round_trip(host_port, 12, 0, w.data(), &payload);
    if (!error.empty()) {
        ADD_FAILURE() << error;
        return -1;
    }
    sl_test::kafka_reader r(payload);
    int16_t code = r.int16();
    return r.failed() ? -1 : code;
}

// Produce v7 of one record to topic-partition; returns the partition's error code.
int16_t produce_error(const std::string &host_port, const std::string &topic, int32_t partition)
{
    std::vector<uint8_t> batch = sl_test::build_record_batch({{"k", "v"}}, 1700000000000);
    std::vector<uint8_t> body = sl_test::make_produce_v7_body(topic, partition, 1, 5000, batch);
    std::vector<uint8_t> payload;
    std::string error = round_trip(host_port, 0, 7, body, &payload);
    if (!error.empty()) {
        ADD_FAILURE() << error;
        return -1;
    }
    // parse_produce_v7_response expects the correlation id in front.
    sl_test::kafka_writer framed;
    framed.int32(4242);
    framed.raw(payload);
    int32_t correlation_id = 0;
    std::vector<sl_test::produce_partition_result> results;
    if (!sl_test::parse_produce_v7_response(framed.data(), &correlation_id, &results) ||
        results.size() != 1) {
        ADD_FAILURE() << "malformed Produce answer";
        return -1;
    }
    return results[0].error_code;
}

// Asks host_port until the answer is not COORDINATOR_NOT_AVAILABLE (as clients do).
coordinator_answer find_coordinator_retrying(const std::string &host_port, const std::string &group)
{
    long long deadline_ms = sl_test::monotonic_ms() + k_wait_ms;
    coordinator_answer a = find_coordinator(host_port, group);
    while (a.error_code == SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE &&
           sl_test::monotonic_ms() < deadline_ms) {
        pause_ms(50);
        a = find_coordinator(host_port, group);
    }
    return a;
}

// "" when every partition of the offsets topic is led by a live broker with RF 1.
std::string check_offsets_topic(const metadata_view &view)
{
    const metadata_topic *t = view.topic(k_offsets_topic);
    if (t == nullptr) {
        return k_offsets_topic + " not listed";
    }
    if (!t->is_internal) {
        return k_offsets_topic + " is not marked internal";
    }
    if ((int)t->partitions.size() != k_offsets_partitions) {
        return k_offsets_topic + " has " + std::to_string(t->partitions.size()) + " partitions";
    }
    for (const metadata_partition &p : t->partitions) {
        if (p.error_code != SL_KAFKA_ERR_NONE || p.leader < 0 || view.broker(p.leader) == nullptr ||
            p.replicas != std::vector<int32_t>{p.leader}) {
            return "partition " + std::to_string(p.partition) + " has leader " +
                   std::to_string(p.leader);
        }
    }
    return "";
}

int32_t leader_of(const metadata_view &view, int32_t partition)
{
    const metadata_topic *t = view.topic(k_offsets_topic);
    for (const metadata_partition &p : t->partitions) {
        if (p.partition == partition) {
            return p.leader;
        }
    }
    return -1;
}

std::string value_of(int i)
{
    return "gp-value-" + std::to_string(i);
}

void produce_values(const std::string &bootstrap, const std::string &topic, int from, int to)
{
    sl_test::rdkafka_producer producer;
    std::string error;
    ASSERT_TRUE(producer.open(bootstrap, {{"acks", "all"}, {"linger.ms", "5"}}, &error)) << error;
    for (int i = from; i < to; i++) {
        std::string key = "k" + std::to_string(i);
        ASSERT_EQ(producer.produce(topic, i % 3, &key, value_of(i), {}, (uint64_t)i),
                  RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    ASSERT_EQ(producer.flush(k_wait_ms), 0);
    for (const auto &r : producer.reports()) {
        ASSERT_EQ(r.error, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(r.error);
    }
}

// A subscribed consumer of group (auto commit off) bootstrapped from `bootstrap` only:
// reads until `count` values arrived, commits its positions synchronously, closes. The
// values read go to *seen.
std::string consume_and_commit(const std::string &bootstrap, const std::string &topic,
                               const std::string &group, int count, std::set<std::string> *seen)
{
    return sl_test::consume_group(bootstrap, topic, group, count, 30000, true,
                                  {{"enable.auto.commit", "false"}}, seen);
}

// The committed offsets of group for topic's partitions 0..2 (via bootstrap), or an
// empty map after an error.
std::map<int32_t, int64_t> committed(const std::string &bootstrap, const std::string &group,
                                     const std::string &topic)
{
    std::map<int32_t, int64_t> out;
    std::string error;
    rd_kafka_conf_t *conf =
        sl_test::make_conf({{"bootstrap.servers", bootstrap}, {"group.id", group}}, &error);
    if (conf == nullptr) {
        ADD_FAILURE() << error;
        return out;
    }
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == nullptr) {
        ADD_FAILURE() << errstr;
        return out;
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(3);
    for (int p = 0; p < 3; p++) {
        rd_kafka_topic_partition_list_add(parts, topic.c_str(), p);
    }
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, parts, k_wait_ms);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < parts->cnt; i++) {
            out[parts->elems[i].partition] = parts->elems[i].offset;
        }
    } else {
        ADD_FAILURE() << "committed: " << rd_kafka_err2str(err);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
    return out;
}

TEST(ClusterGroups, CoordinatorIsTheLeaderOfTheGroupsOffsetsPartition)
{
    cluster_process cluster(group_cluster_options());
    ASSERT_TRUE(cluster.Start());
    std::string why;
    int32_t controller = cluster.WaitFormed({1, 2, 3}, k_wait_ms, &why);
    ASSERT_GE(controller, 1) << why;

    // Users cannot create the internal topic; the first FindCoordinator creates it and
    // answers COORDINATOR_NOT_AVAILABLE meanwhile.
    int16_t code = -1;
    std::string message;
    ASSERT_EQ(
        sl_test::create_topic_raw(cluster.address(0), k_offsets_topic, 3, 1, 5000, &code, &message),
        "");
    EXPECT_EQ(code, SL_KAFKA_ERR_INVALID_REQUEST) << message;
    metadata_view view;
    ASSERT_EQ(sl_test::fetch_metadata(cluster.address(1), {}, false, 2000, &view), "");
    ASSERT_EQ(view.topic(k_offsets_topic), nullptr) << "created before any FindCoordinator";
    EXPECT_EQ(find_coordinator(cluster.address(1), "first").error_code,
              SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
    for (int i = 0; i < cluster.size(); i++) {
        ASSERT_TRUE(cluster.WaitForMetadata(i, check_offsets_topic, k_wait_ms));
    }
    ASSERT_EQ(sl_test::fetch_metadata(cluster.address(0), {}, false, 2000, &view), "");
    ASSERT_EQ(check_offsets_topic(view), "");

    // Every broker names the partition leader, with its endpoint; other brokers refuse
    // the group's requests.
    std::set<int32_t> coordinators;
    std::map<std::string, int32_t> coordinator_of;
    for (int g = 0; g < 12; g++) {
        const std::string group = "group-" + std::to_string(g);
        int32_t leader = leader_of(view, offsets_partition_of(group));
        ASSERT_GE(leader, 1) << group;
        for (int i = 0; i < cluster.size(); i++) {
            coordinator_answer a = find_coordinator_retrying(cluster.address(i), group);
            ASSERT_EQ(a.error_code, SL_KAFKA_ERR_NONE) << group << " via " << cluster.node_id(i);
            EXPECT_EQ(a.node_id, leader) << group << " via " << cluster.node_id(i);
            EXPECT_EQ(a.endpoint, cluster.address(cluster.index_of(leader))) << group;
            EXPECT_EQ(heartbeat_error(cluster.address(i), group),
                      cluster.node_id(i) == leader ? SL_KAFKA_ERR_UNKNOWN_MEMBER_ID
                                                   : SL_KAFKA_ERR_NOT_COORDINATOR)
                << group << " on " << cluster.node_id(i);
        }
        coordinators.insert(leader);
        coordinator_of[group] = leader;
    }
    EXPECT_GT(coordinators.size(), 1u) << "every group on one broker";

    // The internal topic is not for clients' records, nor for deletion.
    int32_t p0_leader = leader_of(view, 0);
    EXPECT_EQ(produce_error(cluster.address(cluster.index_of(p0_leader)), k_offsets_topic, 0),
              SL_KAFKA_ERR_INVALID_TOPIC_EXCEPTION);
    ASSERT_EQ(
        sl_test::create_topic_raw(cluster.address(2), k_offsets_topic, 3, 1, 5000, &code, &message),
        "");
    EXPECT_EQ(code, SL_KAFKA_ERR_TOPIC_ALREADY_EXISTS);
    ASSERT_EQ(sl_test::delete_topic_raw(cluster.address(2), k_offsets_topic, 5000, &code), "");
    EXPECT_EQ(code, SL_KAFKA_ERR_INVALID_REQUEST);

    // A group coordinated by a broker that is neither the active controller (its kill
    // below should not also move the quorum) nor the bootstrap broker.
    std::string group;
    int32_t coordinator = -1;
    for (const auto &kv : coordinator_of) {
        if (kv.second != controller) {
            group = kv.first;
            coordinator = kv.second;
            break;
        }
    }
    ASSERT_GE(coordinator, 1) << "every group on the controller";
    int bootstrap_index = 0;
    while (cluster.node_id(bootstrap_index) == coordinator) {
        bootstrap_index++;
    }
    const std::string bootstrap = cluster.address(bootstrap_index);
    const std::string topic = "gp-data";
    ASSERT_EQ(sl_test::create_topics(bootstrap, {{topic, 3}}, k_wait_ms), "");
    for (int i = 0; i < cluster.size(); i++) {
        ASSERT_TRUE(cluster.WaitForMetadata(
            i,
            [&](const metadata_view &v) -> std::string {
                const metadata_topic *t = v.topic(topic);
                if (t == nullptr || t->partitions.size() != 3) {
                    return topic + " not there yet";
                }
                for (const auto &p : t->partitions) {
                    if (p.leader < 0) {
                        return topic + " partition without a leader";
                    }
                }
                return "";
            },
            k_wait_ms));
    }

    // Commit through the coordinator found via another broker; a new consumer resumes.
    produce_values(bootstrap, topic, 0, 30);
    std::set<std::string> first;
    ASSERT_EQ(consume_and_commit(bootstrap, topic, group, 30, &first), "");
    std::map<int32_t, int64_t> before = committed(bootstrap, group, topic);
    int64_t total = 0;
    for (const auto &kv : before) {
        total += kv.second;
    }
    ASSERT_EQ(total, 30) << "committed offsets of " << group;
    produce_values(bootstrap, topic, 30, 45);
    std::set<std::string> second;
    ASSERT_EQ(consume_and_commit(bootstrap, topic, group, 15, &second), "");
    for (int i = 30; i < 45; i++) {
        EXPECT_EQ(second.count(value_of(i)), 1u) << value_of(i);
    }
    std::map<int32_t, int64_t> after = committed(bootstrap, group, topic);
    total = 0;
    for (const auto &kv : after) {
        total += kv.second;
    }
    ASSERT_EQ(total, 45);

    // SIGKILL of the coordinator: once it is fenced nobody coordinates the group.
    cluster.Kill(cluster.index_of(coordinator));
    long long deadline_ms = sl_test::monotonic_ms() + k_wait_ms;
    coordinator_answer a;
    do {
        a = find_coordinator(bootstrap, group);
        if (a.error_code != SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE) {
            pause_ms(100);
        }
    } while (a.error_code != SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE &&
             sl_test::monotonic_ms() < deadline_ms);
    EXPECT_EQ(a.error_code, SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
    EXPECT_EQ(a.node_id, -1);
    for (int i = 0; i < cluster.size(); i++) {
        if (cluster.node_id(i) != coordinator) {
            EXPECT_EQ(heartbeat_error(cluster.address(i), group), SL_KAFKA_ERR_NOT_COORDINATOR);
        }
    }

    // Restarted, it leads its partitions again and the group's offsets are back.
    ASSERT_TRUE(cluster.Restart(cluster.index_of(coordinator)));
    a = find_coordinator_retrying(bootstrap, group);
    ASSERT_EQ(a.error_code, SL_KAFKA_ERR_NONE);
    EXPECT_EQ(a.node_id, coordinator);
    EXPECT_EQ(committed(bootstrap, group, topic), after);

    EXPECT_TRUE(cluster.StopAll());
}

// The placement follows the topic's leaders, not the broker list: a broker that was down
// when the topic was created leads none of its partitions, so after it returns it
// coordinates no group and every node still names the leaders (the stand-in this rule
// replaced, brokers round-robin by partition, would give it a third of the groups).
TEST(ClusterGroups, ABrokerMissingAtCreationCoordinatesNothing)
{
    cluster_process cluster(group_cluster_options());
    ASSERT_TRUE(cluster.Start());
    const std::vector<int32_t> all = {1, 2, 3};
    std::string why;
    int32_t controller = cluster.WaitFormed(all, k_wait_ms, &why);
    ASSERT_GE(controller, 1) << why;
    int absent = 0;
    while (cluster.node_id(absent) == controller) {
        absent++;
    }
    const int32_t absent_id = cluster.node_id(absent);
    const int asked = (absent + 1) % 3;
    cluster.Kill(absent);
    std::vector<int32_t> live;
    for (int32_t id : all) {
        if (id != absent_id) {
            live.push_back(id);
        }
    }
    ASSERT_TRUE(cluster.WaitForMetadata(
        asked,
        [&](const metadata_view &v) -> std::string {
            return v.broker_ids() == live ? "" : "the killed broker is not fenced yet";
        },
        k_wait_ms));
    coordinator_answer a = find_coordinator_retrying(cluster.address(asked), "early");
    ASSERT_EQ(a.error_code, SL_KAFKA_ERR_NONE);
    EXPECT_NE(a.node_id, absent_id);

    ASSERT_TRUE(cluster.Restart(absent));
    for (int i = 0; i < cluster.size(); i++) {
        ASSERT_TRUE(cluster.WaitForMetadata(
            i,
            [&](const metadata_view &v) -> std::string {
                if (v.broker_ids() != all) {
                    return "the restarted broker is not listed yet";
                }
                return check_offsets_topic(v);
            },
            k_wait_ms));
    }
    metadata_view view;
    ASSERT_EQ(sl_test::fetch_metadata(cluster.address(absent), {}, false, 2000, &view), "");
    std::set<int32_t> coordinators;
    for (int g = 0; g < 12; g++) {
        const std::string group = "late-" + std::to_string(g);
        int32_t leader = leader_of(view, offsets_partition_of(group));
        ASSERT_NE(leader, absent_id) << group;
        for (int i = 0; i < cluster.size(); i++) {
            a = find_coordinator_retrying(cluster.address(i), group);
            ASSERT_EQ(a.error_code, SL_KAFKA_ERR_NONE) << group << " via " << cluster.node_id(i);
            EXPECT_EQ(a.node_id, leader) << group << " via " << cluster.node_id(i);
        }
        EXPECT_EQ(heartbeat_error(cluster.address(absent), group), SL_KAFKA_ERR_NOT_COORDINATOR)
            << group;
        coordinators.insert(leader);
    }
    EXPECT_EQ(coordinators, std::set<int32_t>(live.begin(), live.end()));
    EXPECT_TRUE(cluster.StopAll());
}

} // namespace
