// Real multi-broker clusters: three (and three + two standby) sluiced processes on
// loopback ports, driven by tests/support/cluster_process. Checks what a Kafka client sees
// through each broker: every registered broker, the active controller, topics created
// through any broker with partitions spread over the brokers, records served where
// Metadata says the leader is, and what a SIGKILL of the active controller does (a new
// controller, fenced partitions without a leader, topic creation still working, the
// restarted node catching up with its data).
//
// Timeouts are shortened by overrides (election ~0.8-1.6 s, broker session 2 s) so each
// test takes seconds; every wait is a poll on a condition with a deadline.
#include <dirent.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/codec/kafka_errors.h"
#include "tests/support/child_process.h"
#include "tests/support/cluster_process.h"
#include "tests/support/compat_env.h"
#include "tests/support/raw_admin_client.h"
#include "tests/support/raw_kafka_client.h"
#include "tests/support/rdkafka_client.h"
#include "tests/support/stats_socket.h"

namespace
{

using sl_test::check_brokers;
using sl_test::cluster_options;
using sl_test::cluster_process;
using sl_test::consumed_message;
using sl_test::ids_text;
using sl_test::metadata_partition;
using sl_test::metadata_topic;
using sl_test::metadata_view;
using sl_test::rdkafka_producer;

// Bounds of the waits below (a loaded 2-core machine runs five brokers plus clients).
constexpr int k_propagate_ms = 20000;
constexpr int k_failover_ms = 30000;
constexpr int k_admin_ms = 15000;

cluster_options fast_options(int voters, int standbys)
{
    cluster_options o;
    o.voters = voters;
    o.standbys = standbys;
    o.properties = {
        // Shorter than the defaults (1000 / 100 / 9000 / 2000 ms) but with room for a
        // loaded 2-core machine: there heartbeats were seen delayed by over 2 s while
        // topics were being created, and a lapsed session moves every partition created
        // meanwhile onto the brokers left.
        {"controller.quorum.election.timeout.ms", "1000"},
        {"controlplane.quorum.heartbeat.ms", "100"},
        {"broker.session.timeout.ms", "5000"},
        {"broker.heartbeat.interval.ms", "500"},
        {"auto.create.topics.enable", "true"},
        {"group.initial.rebalance.delay.ms", "0"},
    };
    return o;
}

// "" when topic has `partitions` partitions, each with replication factor 1 and a live
// leader (leader = only replica = ISR, leader listed among the brokers).
std::string check_topic_led(const metadata_view &view, const std::string &topic, int partitions)
{
    const metadata_topic *t = view.topic(topic);
    if (t == nullptr) {
        return "topic " + topic + " not listed";
    }
    if (t->error_code != SL_KAFKA_ERR_NONE || (int)t->partitions.size() != partitions) {
        return "topic " + topic + ": error " + std::to_string(t->error_code) + ", " +
               std::to_string(t->partitions.size()) + " partitions";
    }
    for (const metadata_partition &p : t->partitions) {
        std::string where = topic + "-" + std::to_string(p.partition);
        if (p.error_code != SL_KAFKA_ERR_NONE || p.leader < 0) {
            return where + ": error " + std::to_string(p.error_code) + ", leader " +
                   std::to_string(p.leader);
        }
        if (p.replicas != std::vector<int32_t>{p.leader} || p.isr != p.replicas) {
            return where + ": leader " + std::to_string(p.leader) + " replicas " +
                   ids_text(p.replicas) + " isr " + ids_text(p.isr);
        }
        if (view.broker(p.leader) == nullptr) {
            return where + ": leader " + std::to_string(p.leader) + " is not a listed broker";
        }
    }
    return "";
}

// The partitions of topic led by each broker.
std::map<int32_t, std::vector<int32_t>> leaders_of(const metadata_view &view,
                                                   const std::string &topic)
{
    std::map<int32_t, std::vector<int32_t>> out;
    const metadata_topic *t = view.topic(topic);
    for (size_t i = 0; t != nullptr && i < t->partitions.size(); i++) {
        out[t->partitions[i].leader].push_back(t->partitions[i].partition);
    }
    return out;
}

std::vector<int32_t> all_ids(int count)
{
    std::vector<int32_t> ids;
    for (int i = 0; i < count; i++) {
        ids.push_back(cluster_process::node_id(i));
    }
    return ids;
}

std::string value_of(const std::string &topic, int i)
{
    return topic + "-value-" + std::to_string(i);
}

// Produces count records round-robin over the partitions (acks=all) through a client
// bootstrapped from `bootstrap`; every delivery must succeed.
void produce_all(const std::string &bootstrap, const std::string &topic, int partitions, int count)
{
    rdkafka_producer producer;
    std::string error;
    ASSERT_TRUE(producer.open(bootstrap, {{"acks", "all"}, {"linger.ms", "5"}}, &error)) << error;
    for (int i = 0; i < count; i++) {
        std::string key = "k" + std::to_string(i);
        ASSERT_EQ(
            producer.produce(topic, i % partitions, &key, value_of(topic, i), {}, (uint64_t)i),
            RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    ASSERT_EQ(producer.flush(k_admin_ms), 0) << "messages still in flight";
    auto reports = producer.reports();
    ASSERT_EQ((int)reports.size(), count);
    for (const auto &r : reports) {
        ASSERT_EQ(r.error, RD_KAFKA_RESP_ERR_NO_ERROR)
            << "message " << r.message_id << ": " << rd_kafka_err2str(r.error);
        ASSERT_EQ(r.partition, (int32_t)(r.message_id % (uint64_t)partitions));
    }
}

// Reads every partition from the beginning and checks exactly the produced values came
// back, each in the partition it was sent to.
void consume_all(const std::string &bootstrap, const std::string &topic, int partitions, int count)
{
    std::vector<consumed_message> got;
    std::string error = sl_test::consume_partitions(
        bootstrap, topic, partitions, RD_KAFKA_OFFSET_BEGINNING, (size_t)count, k_admin_ms, &got);
    ASSERT_EQ(error, "");
    std::set<std::string> want;
    for (int i = 0; i < count; i++) {
        want.insert(value_of(topic, i));
    }
    std::set<std::string> seen;
    for (const auto &m : got) {
        EXPECT_TRUE(seen.insert(m.value).second) << "read twice: " << m.value;
        std::string prefix = value_of(topic, 0);
        prefix.pop_back();
        int i = atoi(m.value.c_str() + prefix.size());
        EXPECT_EQ(m.partition, i % partitions) << m.value;
    }
    EXPECT_EQ(seen, want);
}

// Reads count records of topic with a subscribed consumer of group `group` (librdkafka's
// group protocol: FindCoordinator, JoinGroup, SyncGroup, OffsetCommit) and checks each
// produced value arrives; "" on success.
std::string consume_with_group(const std::string &bootstrap, const std::string &topic,
                               const std::string &group, int count)
{
    std::set<std::string> seen;
    std::string error = sl_test::consume_group(
        bootstrap, topic, group, count, k_admin_ms, false,
        {{"enable.auto.commit", "true"}, {"auto.commit.interval.ms", "100"}}, &seen);
    if (!error.empty()) {
        return error;
    }
    for (int i = 0; i < count; i++) {
        if (seen.count(value_of(topic, i)) == 0) {
            return "group " + group + " read " + std::to_string(seen.size()) + " of " +
                   std::to_string(count) + " values; missing " + value_of(topic, i);
        }
    }
    return "";
}

// Sends a Produce v7 of one record for topic-partition straight to host_port; returns the
// partition's error code (or -1 on a wire failure).
int16_t raw_produce_error(const std::string &host_port, const std::string &topic, int32_t partition)
{
    sl_test::raw_kafka_connection conn;
    std::string error;
    if (!conn.connect_to(host_port, 2000, &error)) {
        ADD_FAILURE() << error;
        return -1;
    }
    std::vector<uint8_t> batch = sl_test::build_record_batch({{"k", "raw"}}, 1700000000000);
    std::vector<uint8_t> body = sl_test::make_produce_v7_body(topic, partition, 1, 5000, batch);
    if (!conn.send_frame(sl_test::make_request_v1(0, 7, 77, body))) {
        ADD_FAILURE() << "send failed";
        return -1;
    }
    std::vector<uint8_t> payload;
    if (conn.read_frame(&payload, 15000) != sl_test::read_status::ok) {
        ADD_FAILURE() << "no Produce answer from " << host_port;
        return -1;
    }
    int32_t correlation_id = 0;
    std::vector<sl_test::produce_partition_result> results;
    if (!sl_test::parse_produce_v7_response(payload, &correlation_id, &results) ||
        results.size() != 1) {
        ADD_FAILURE() << "malformed Produce answer";
        return -1;
    }
    return results[0].error_code;
}

// The partitions of topic that have a log directory (<topic>-<partition>) in data_dir.
std::set<int32_t> partition_dirs(const std::string &data_dir, const std::string &topic)
{
    std::set<int32_t> out;
    DIR *d = opendir(data_dir.c_str());
    if (d == nullptr) {
        return out;
    }
    while (struct dirent *e = readdir(d)) {
        std::string name = e->d_name;
        if (name.size() <= topic.size() + 1 || name.compare(0, topic.size(), topic) != 0 ||
            name[topic.size()] != '-') {
            continue;
        }
        std::string digits = name.substr(topic.size() + 1);
        if (digits.find_first_not_of("0123456789") == std::string::npos) {
            out.insert(atoi(digits.c_str()));
        }
    }
    closedir(d);
    return out;
}

// Waits until every running node lists exactly `ids` and agrees on a controller.
int32_t wait_cluster_formed(cluster_process &cluster, const std::vector<int32_t> &ids)
{
    std::string why;
    int32_t controller = cluster.WaitFormed(ids, k_propagate_ms, &why);
    EXPECT_GE(controller, 1) << why;
    return controller;
}

// Waits until topic is led on every running node's Metadata.
void wait_topic_everywhere(cluster_process &cluster, const std::string &topic, int partitions)
{
    for (int i = 0; i < cluster.size(); i++) {
        if (!cluster.running(i)) {
            continue;
        }
        ASSERT_TRUE(cluster.WaitForMetadata(
            i, [&](const metadata_view &v) { return check_topic_led(v, topic, partitions); },
            k_propagate_ms));
    }
}

TEST(ClusterProcesses, ThreeVotersServeTopicsCreatedThroughAnyBroker)
{
    cluster_process cluster(fast_options(3, 0));
    ASSERT_TRUE(cluster.Start());
    int32_t controller = wait_cluster_formed(cluster, all_ids(3));
    ASSERT_GE(controller, 1);

    // CreateTopics sent to each broker in turn (forwarded to the active controller by the
    // others), then through librdkafka's admin API bootstrapped from that broker.
    constexpr int k_partitions = 6;
    std::vector<std::string> topics;
    for (int i = 0; i < cluster.size(); i++) {
        // Placement uses the unfenced brokers: create only while all three are.
        ASSERT_TRUE(cluster.WaitForMetadata(
            i, [&](const metadata_view &v) { return check_brokers(v, all_ids(3)); },
            k_propagate_ms));
        std::string raw_topic = "raw-via-" + std::to_string(cluster.node_id(i));
        int16_t code = -1;
        std::string message;
        ASSERT_EQ(sl_test::create_topic_raw(cluster.address(i), raw_topic, k_partitions, 1,
                                            k_admin_ms, &code, &message),
                  "");
        ASSERT_EQ(code, SL_KAFKA_ERR_NONE) << message;
        topics.push_back(raw_topic);
        std::string rdk_topic = "rdk-via-" + std::to_string(cluster.node_id(i));
        ASSERT_EQ(
            sl_test::create_topics(cluster.address(i), {{rdk_topic, k_partitions}}, k_admin_ms),
            "");
        topics.push_back(rdk_topic);
    }
    for (const auto &t : topics) {
        wait_topic_everywhere(cluster, t, k_partitions);
    }

    // The stats socket shows the controller RPC: each of the other two brokers forwarded
    // its two CreateTopics (and its heartbeats) to the active controller, which served them.
    for (int i = 0; i < cluster.size(); i++) {
        sl_test::stats_totals stats;
        std::string error;
        ASSERT_TRUE(sl_test::read_stats_totals(cluster.node(i).stats_socket(), &stats, &error))
            << "node " << cluster.node_id(i) << ": " << error;
        if (cluster.node_id(i) == controller) {
            EXPECT_GE(stats.get("controller_rpc.requests_served"), 4u);
            EXPECT_GE(stats.get("controller_rpc.rpc_connections"), 2u);
        } else {
            EXPECT_GE(stats.get("controller_rpc.requests_forwarded"), 2u);
        }
        EXPECT_TRUE(stats.has("controller_rpc.bad_frames"));
        EXPECT_EQ(stats.get("controller_rpc.bad_frames"), 0u);
    }

    // kcat -L through each broker lists the three brokers and a topic with its leaders.
    for (int i = 0; i < cluster.size(); i++) {
        sl_test::command_result res =
            sl_test::run_command({sl_test::program_from_env("KCAT", "kcat"), "-L", "-b",
                                  cluster.address(i), "-t", topics[0], "-m", "10"},
                                 20000);
        ASSERT_EQ(res.exit_code, 0) << res.stderr_text;
        EXPECT_NE(res.stdout_text.find(" 3 brokers:"), std::string::npos) << res.stdout_text;
        for (int k = 0; k < cluster.size(); k++) {
            std::string line =
                "broker " + std::to_string(cluster.node_id(k)) + " at " + cluster.address(k);
            EXPECT_NE(res.stdout_text.find(line), std::string::npos) << res.stdout_text;
        }
        EXPECT_NE(res.stdout_text.find("with 6 partitions"), std::string::npos) << res.stdout_text;
        EXPECT_EQ(res.stdout_text.find("Leader not available"), std::string::npos)
            << res.stdout_text;
    }

    // Same answer from every broker; partitions spread over all three.
    metadata_view first;
    ASSERT_EQ(sl_test::fetch_metadata(cluster.address(0), {}, false, 2000, &first), "");
    for (int i = 1; i < cluster.size(); i++) {
        metadata_view other;
        ASSERT_EQ(sl_test::fetch_metadata(cluster.address(i), {}, false, 2000, &other), "");
        EXPECT_EQ(other.controller_id, first.controller_id);
        EXPECT_EQ(other.cluster_id, first.cluster_id);
        for (const auto &t : topics) {
            EXPECT_EQ(leaders_of(other, t), leaders_of(first, t)) << t;
        }
    }
    for (const auto &t : topics) {
        auto leaders = leaders_of(first, t);
        EXPECT_EQ(leaders.size(), 3u) << t << ": partitions not spread over the three brokers";
    }

    // A broker refuses records for a partition it does not lead.
    const std::string topic = topics[0];
    for (const auto &kv : leaders_of(first, topic)) {
        int32_t partition = kv.second[0];
        for (int i = 0; i < cluster.size(); i++) {
            int16_t code = raw_produce_error(cluster.address(i), topic, partition);
            if (cluster.node_id(i) == kv.first) {
                EXPECT_EQ(code, SL_KAFKA_ERR_NONE)
                    << "leader " << kv.first << " partition " << partition;
            } else {
                EXPECT_EQ(code, SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER)
                    << "node " << cluster.node_id(i) << " partition " << partition;
            }
        }
    }

    // Each broker holds logs of exactly the partitions it is a replica of.
    for (int i = 0; i < cluster.size(); i++) {
        for (const auto &t : topics) {
            std::vector<int32_t> led = leaders_of(first, t)[cluster.node_id(i)];
            EXPECT_EQ(partition_dirs(cluster.node(i).data_dir(), t),
                      std::set<int32_t>(led.begin(), led.end()))
                << "node " << cluster.node_id(i) << " topic " << t;
        }
    }

    // Produce v10 (KIP-951) to a non-leader names the leader, its epoch and its endpoint.
    for (const auto &kv : leaders_of(first, topic)) {
        int32_t partition = kv.second[0];
        int other = cluster.index_of(kv.first) == 0 ? 1 : 0;
        sl_test::produce_v10_result res;
        ASSERT_EQ(sl_test::produce_v10_raw(
                      cluster.address(other), topic, partition,
                      sl_test::build_record_batch({{"k", "v10"}}, 1700000000000), 5000, &res),
                  "");
        EXPECT_EQ(res.error_code, SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER);
        EXPECT_EQ(res.current_leader, kv.first);
        const metadata_topic *mt = first.topic(topic);
        ASSERT_NE(mt, nullptr);
        EXPECT_EQ(res.current_leader_epoch, mt->partitions[(size_t)partition].leader_epoch);
        ASSERT_EQ(res.node_endpoints.size(), 1u);
        EXPECT_EQ(res.node_endpoints[0].node_id, kv.first);
        EXPECT_EQ(res.node_endpoints[0].host + ":" + std::to_string(res.node_endpoints[0].port),
                  cluster.address(cluster.index_of(kv.first)));
        ASSERT_EQ(sl_test::produce_v10_raw(
                      cluster.address(cluster.index_of(kv.first)), topic, partition,
                      sl_test::build_record_batch({{"k", "v10"}}, 1700000000000), 5000, &res),
                  "");
        EXPECT_EQ(res.error_code, SL_KAFKA_ERR_NONE);
        EXPECT_EQ(res.current_leader, -1);
        EXPECT_TRUE(res.node_endpoints.empty());
    }

    // Fetch v12 from a non-leader names the leader and its epoch; from the leader it
    // returns the record produced above.
    for (const auto &kv : leaders_of(first, topic)) {
        int32_t partition = kv.second[0];
        int other = cluster.index_of(kv.first) == 0 ? 1 : 0;
        sl_test::fetch_v12_result res;
        ASSERT_EQ(sl_test::fetch_v12_raw(cluster.address(other), topic, partition, 0, 5000, &res),
                  "");
        EXPECT_EQ(res.error_code, SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER);
        EXPECT_EQ(res.current_leader, kv.first);
        EXPECT_EQ(res.current_leader_epoch,
                  first.topic(topic)->partitions[(size_t)partition].leader_epoch);
        ASSERT_EQ(sl_test::fetch_v12_raw(cluster.address(cluster.index_of(kv.first)), topic,
                                         partition, 0, 5000, &res),
                  "");
        EXPECT_EQ(res.error_code, SL_KAFKA_ERR_NONE);
        EXPECT_EQ(res.current_leader, -1);
        EXPECT_GE(res.high_watermark, 1);
        EXPECT_GT(res.records_bytes, 0);
    }

    // librdkafka bootstrapped from one broker routes each partition to its leader.
    const std::string client_topic = topics[1];
    produce_all(cluster.address(2), client_topic, k_partitions, 600);
    consume_all(cluster.address(1), client_topic, k_partitions, 600);

    // Every broker names the same coordinator for a group, and a subscribed consumer of
    // that group reads everything through it.
    for (const std::string group : {"g-one", "g-two", "g-three"}) {
        int32_t coordinator = -1;
        for (int i = 0; i < cluster.size(); i++) {
            int16_t code = -1;
            int32_t node = -1;
            // The first FindCoordinator creates __consumer_offsets (COORDINATOR_NOT_AVAILABLE
            // until its leaders reach this broker), as in Kafka: ask again like clients do.
            long long deadline_ms = sl_test::monotonic_ms() + k_propagate_ms;
            do {
                ASSERT_EQ(sl_test::find_group_coordinator_raw(cluster.address(i), group, 2000,
                                                              &code, &node),
                          "");
            } while (code == SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE && usleep(20000) == 0 &&
                     sl_test::monotonic_ms() < deadline_ms);
            ASSERT_EQ(code, SL_KAFKA_ERR_NONE);
            if (i == 0) {
                coordinator = node;
            }
            EXPECT_EQ(node, coordinator) << group << " via node " << cluster.node_id(i);
        }
        EXPECT_NE(first.broker(coordinator), nullptr) << group;
    }
    EXPECT_EQ(consume_with_group(cluster.address(0), client_topic, "g-one", 600), "");

    // Replication factor 3 works as before replication exists: every broker holds a log
    // of every partition, the leader alone serves (followers do not fetch yet).
    {
        const std::string rf3 = "rf-three";
        int16_t code = -1;
        std::string message;
        ASSERT_EQ(
            sl_test::create_topic_raw(cluster.address(1), rf3, 3, 3, k_admin_ms, &code, &message),
            "");
        ASSERT_EQ(code, SL_KAFKA_ERR_NONE) << message;
        for (int i = 0; i < cluster.size(); i++) {
            ASSERT_TRUE(cluster.WaitForMetadata(
                i,
                [&](const metadata_view &v) -> std::string {
                    const metadata_topic *t = v.topic(rf3);
                    if (t == nullptr || t->partitions.size() != 3) {
                        return rf3 + " not listed with 3 partitions";
                    }
                    for (const auto &p : t->partitions) {
                        if (p.replicas.size() != 3 || p.isr.size() != 3 || p.leader < 0) {
                            return rf3 + "-" + std::to_string(p.partition) + ": replicas " +
                                   ids_text(p.replicas) + " isr " + ids_text(p.isr);
                        }
                    }
                    return partition_dirs(cluster.node(i).data_dir(), rf3) ==
                                   std::set<int32_t>{0, 1, 2}
                               ? ""
                               : rf3 + ": not every partition has a log here";
                },
                k_propagate_ms));
        }
        produce_all(cluster.bootstrap(), rf3, 3, 30);
        consume_all(cluster.bootstrap(), rf3, 3, 30);
    }

    // Auto-creation through a broker that is not the controller.
    int other = cluster.index_of(controller) == 0 ? 1 : 0;
    metadata_view auto_view;
    ASSERT_EQ(
        sl_test::fetch_metadata(cluster.address(other), {"auto-created"}, true, 2000, &auto_view),
        "");
    wait_topic_everywhere(cluster, "auto-created", 1);

    // DeleteTopics through a broker: every broker drops the topic and the brokers that
    // held its partitions remove their directories.
    int16_t deleted = -1;
    ASSERT_EQ(sl_test::delete_topic_raw(cluster.address(2), client_topic, k_admin_ms, &deleted),
              "");
    ASSERT_EQ(deleted, SL_KAFKA_ERR_NONE);
    for (int i = 0; i < cluster.size(); i++) {
        ASSERT_TRUE(cluster.WaitForMetadata(
            i,
            [&](const metadata_view &v) -> std::string {
                if (v.topic(client_topic) != nullptr) {
                    return client_topic + " still listed";
                }
                if (!partition_dirs(cluster.node(i).data_dir(), client_topic).empty()) {
                    return client_topic + " still has directories";
                }
                return "";
            },
            k_propagate_ms));
    }

    EXPECT_TRUE(cluster.StopAll());
}

TEST(ClusterProcesses, KillingTheActiveControllerFailsOverAndTheNodeCatchesUp)
{
    cluster_process cluster(fast_options(3, 0));
    ASSERT_TRUE(cluster.Start());
    int32_t controller = wait_cluster_formed(cluster, all_ids(3));
    ASSERT_GE(controller, 1);

    constexpr int k_partitions = 6;
    constexpr int k_records = 300;
    const std::string before = "before-kill";
    ASSERT_TRUE(cluster.WaitForMetadata(
        0, [&](const metadata_view &v) { return check_brokers(v, all_ids(3)); }, k_propagate_ms));
    ASSERT_EQ(sl_test::create_topics(cluster.address(0), {{before, k_partitions}}, k_admin_ms), "");
    wait_topic_everywhere(cluster, before, k_partitions);
    produce_all(cluster.bootstrap(), before, k_partitions, k_records);

    metadata_view view;
    ASSERT_EQ(sl_test::fetch_metadata(cluster.address(0), {}, false, 2000, &view), "");
    std::vector<int32_t> dead_partitions = leaders_of(view, before)[controller];
    ASSERT_FALSE(dead_partitions.empty());

    const int dead = cluster.index_of(controller);
    cluster.Kill(dead);

    // A survivor takes over; the dead broker is fenced after its session and its
    // partitions (replication factor 1) have no leader.
    std::string why;
    int32_t next = cluster.WaitForController(k_failover_ms, &why, controller);
    ASSERT_GE(next, 1) << why;
    ASSERT_NE(next, controller);
    std::vector<int32_t> survivors;
    for (int32_t id : all_ids(3)) {
        if (id != controller) {
            survivors.push_back(id);
        }
    }
    for (int i = 0; i < cluster.size(); i++) {
        if (i == dead) {
            continue;
        }
        ASSERT_TRUE(cluster.WaitForMetadata(
            i,
            [&](const metadata_view &v) -> std::string {
                std::string b = check_brokers(v, survivors);
                if (!b.empty()) {
                    return b;
                }
                const metadata_topic *t = v.topic(before);
                if (t == nullptr) {
                    return before + " missing";
                }
                for (const auto &p : t->partitions) {
                    bool orphan =
                        std::count(dead_partitions.begin(), dead_partitions.end(), p.partition) > 0;
                    if (orphan &&
                        (p.leader != -1 || p.error_code != SL_KAFKA_ERR_LEADER_NOT_AVAILABLE ||
                         p.offline != std::vector<int32_t>{controller}))
                        return "partition " + std::to_string(p.partition) +
                               " of the dead node: leader " + std::to_string(p.leader) + " error " +
                               std::to_string(p.error_code) + " offline " + ids_text(p.offline);
                    if (!orphan && !p.offline.empty())
                        return "partition " + std::to_string(p.partition) +
                               " has offline replicas " + ids_text(p.offline);
                    if (!orphan && p.leader < 0)
                        return "partition " + std::to_string(p.partition) + " lost its leader";
                }
                return "";
            },
            k_failover_ms));
    }
    EXPECT_EQ(
        raw_produce_error(cluster.address(cluster.index_of(next)), before, dead_partitions[0]),
        SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER);

    // Topic creation keeps working, through the new controller and through a follower.
    const std::string after = "after-kill";
    for (int32_t via : survivors) {
        int16_t code = -1;
        std::string message;
        const std::string name = after + "-" + std::to_string(via);
        ASSERT_EQ(sl_test::create_topic_raw(cluster.address(cluster.index_of(via)), name, 4, 1,
                                            k_admin_ms, &code, &message),
                  "");
        ASSERT_EQ(code, SL_KAFKA_ERR_NONE) << "via node " << via << ": " << message;
        wait_topic_everywhere(cluster, name, 4);
    }

    // The restarted node catches up: the topics made while it was down, its partitions
    // led again, and their records.
    ASSERT_TRUE(cluster.Restart(dead));
    for (int i = 0; i < cluster.size(); i++) {
        ASSERT_TRUE(cluster.WaitForMetadata(
            i, [&](const metadata_view &v) { return check_brokers(v, all_ids(3)); },
            k_propagate_ms));
    }
    for (int32_t via : survivors) {
        ASSERT_TRUE(cluster.WaitForMetadata(
            dead,
            [&](const metadata_view &v) {
                return check_topic_led(v, after + "-" + std::to_string(via), 4);
            },
            k_propagate_ms));
    }
    wait_topic_everywhere(cluster, before, k_partitions);
    ASSERT_EQ(sl_test::fetch_metadata(cluster.address(dead), {}, false, 2000, &view), "");
    EXPECT_EQ(leaders_of(view, before)[controller], dead_partitions)
        << "the restarted node leads its partitions again";
    consume_all(cluster.bootstrap(), before, k_partitions, k_records);

    EXPECT_TRUE(cluster.StopAll());
}

TEST(ClusterProcesses, StandbysHostPartitionsAndSurviveAControllerKill)
{
    cluster_process cluster(fast_options(3, 2));
    ASSERT_TRUE(cluster.Start());
    int32_t controller = wait_cluster_formed(cluster, all_ids(5));
    ASSERT_GE(controller, 1);
    const int standby = 3; // node 4
    ASSERT_FALSE(cluster.is_voter(standby));

    // A topic created through a voter: partitions on all five brokers, standbys included,
    // and every node (standbys too) lists it.
    constexpr int k_partitions = 10;
    const std::string topic = "spread";
    int16_t code = -1;
    std::string message;
    ASSERT_TRUE(cluster.WaitForMetadata(
        0, [&](const metadata_view &v) { return check_brokers(v, all_ids(5)); }, k_propagate_ms));
    ASSERT_EQ(sl_test::create_topic_raw(cluster.address(0), topic, k_partitions, 1, k_admin_ms,
                                        &code, &message),
              "");
    ASSERT_EQ(code, SL_KAFKA_ERR_NONE) << message;
    wait_topic_everywhere(cluster, topic, k_partitions);
    metadata_view view;
    ASSERT_EQ(sl_test::fetch_metadata(cluster.address(standby), {}, false, 2000, &view), "");
    auto leaders = leaders_of(view, topic);
    EXPECT_EQ(leaders.size(), 5u) << "partitions not spread over all five brokers";
    EXPECT_FALSE(leaders[4].empty());
    EXPECT_FALSE(leaders[5].empty());

    // Records through a client bootstrapped from a standby reach every leader.
    produce_all(cluster.address(standby), topic, k_partitions, 500);
    consume_all(cluster.address(standby + 1), topic, k_partitions, 500);

    // The controller dies: the standbys follow the new one, which fences the dead node
    // after its session (placement then avoids it), and creating a topic through a
    // standby works.
    cluster.Kill(cluster.index_of(controller));
    std::string why;
    int32_t next = cluster.WaitForController(k_failover_ms, &why, controller);
    ASSERT_GE(next, 1) << why;
    std::vector<int32_t> survivors;
    for (int32_t id : all_ids(5)) {
        if (id != controller) {
            survivors.push_back(id);
        }
    }
    ASSERT_TRUE(cluster.WaitForMetadata(
        standby, [&](const metadata_view &v) { return check_brokers(v, survivors); },
        k_failover_ms));
    const std::string after = "after-kill-via-standby";
    ASSERT_EQ(sl_test::create_topic_raw(cluster.address(standby), after, 3, 1, k_admin_ms, &code,
                                        &message),
              "");
    ASSERT_EQ(code, SL_KAFKA_ERR_NONE) << message;
    for (int i = 0; i < cluster.size(); i++) {
        if (!cluster.running(i)) {
            continue;
        }
        ASSERT_TRUE(cluster.WaitForMetadata(
            i,
            [&](const metadata_view &v) -> std::string {
                std::string b = check_brokers(v, survivors);
                return b.empty() ? check_topic_led(v, after, 3) : b;
            },
            k_failover_ms));
    }
    EXPECT_TRUE(cluster.StopAll());
}

} // namespace
