// Metadata and CreateTopics over one raw connection to one chosen broker, for cluster tests
// that must ask a specific broker (a real client picks a broker itself). Non-flexible
// request versions (Metadata v7, CreateTopics v4), parsed strictly.
// Single-threaded: each call opens and closes its own connection.
#pragma once

#include <stdint.h>

#include <map>
#include <string>
#include <vector>

namespace sl_test
{

struct metadata_broker {
    int32_t node_id = -1;
    std::string host;
    int32_t port = -1;
    std::string rack; // "" when null
};

struct metadata_partition {
    int16_t error_code = -1;
    int32_t partition = -1;
    int32_t leader = -1;
    int32_t leader_epoch = -1;
    std::vector<int32_t> replicas;
    std::vector<int32_t> isr;
    std::vector<int32_t> offline;
};

struct metadata_topic {
    int16_t error_code = -1;
    std::string name;
    bool is_internal = false;
    std::vector<metadata_partition> partitions; // in response order
};

// One broker's Metadata v7 answer.
struct metadata_view {
    std::vector<metadata_broker> brokers;
    std::string cluster_id; // "" when null
    int32_t controller_id = -1;
    std::map<std::string, metadata_topic> topics;

    // The broker entry with node_id, or nullptr.
    const metadata_broker *broker(int32_t node_id) const;
    // The topic, or nullptr.
    const metadata_topic *topic(const std::string &name) const;
    // Sorted node ids of the brokers listed.
    std::vector<int32_t> broker_ids() const;
};

// Sends Metadata v7 to host_port ("127.0.0.1:port"): all topics when topics is empty,
// else those names, with allow_auto_topic_creation as given. Returns "" and fills *out,
// or what went wrong (connect, timeout, malformed answer).
std::string fetch_metadata(const std::string &host_port, const std::vector<std::string> &topics,
                           bool allow_auto_create, int timeout_ms, metadata_view *out);

// Sends CreateTopics v4 for one topic (no assignments, no configs) to host_port; the
// request's timeout_ms is timeout_ms. Returns "" and sets *error_code (and *error_message)
// from the answer, or what went wrong on the wire.
std::string create_topic_raw(const std::string &host_port, const std::string &name,
                             int32_t partitions, int16_t replication_factor, int timeout_ms,
                             int16_t *error_code, std::string *error_message = nullptr);

// Sends DeleteTopics v1 for one topic name to host_port. Returns "" and sets *error_code
// from the answer, or what went wrong on the wire.
std::string delete_topic_raw(const std::string &host_port, const std::string &name, int timeout_ms,
                             int16_t *error_code);

// What a Fetch v12 (flexible) answer says about one partition.
struct fetch_v12_result {
    int16_t error_code = -1;
    int64_t high_watermark = -1;
    int32_t current_leader = -1; // tagged current_leader (-1: absent)
    int32_t current_leader_epoch = -1;
    int32_t records_bytes = -1; // -1: null
};

// Sends Fetch v12 (no session, max_wait_ms 0) for topic-partition from fetch_offset to
// host_port and parses the flexible answer. Returns "" and fills *out, or what went wrong.
std::string fetch_v12_raw(const std::string &host_port, const std::string &topic, int32_t partition,
                          int64_t fetch_offset, int timeout_ms, fetch_v12_result *out);

// Sends FindCoordinator v1 (key type 0: a consumer group) to host_port. Returns "" and
// sets *error_code and *node_id from the answer, or what went wrong on the wire.
std::string find_group_coordinator_raw(const std::string &host_port, const std::string &group,
                                       int timeout_ms, int16_t *error_code, int32_t *node_id);

// What a Produce v10 (flexible, KIP-951 fields) answer says about one partition.
struct produce_v10_result {
    int16_t error_code = -1;
    int64_t base_offset = -1;
    int32_t current_leader = -1; // tagged current_leader (-1: absent)
    int32_t current_leader_epoch = -1;
    std::vector<metadata_broker> node_endpoints; // top-level tagged node_endpoints
};

// Sends Produce v10 (acks 1) of one uncompressed record batch to topic-partition on
// host_port and parses the flexible answer. Returns "" and fills *out, or what went wrong.
std::string produce_v10_raw(const std::string &host_port, const std::string &topic,
                            int32_t partition, const std::vector<uint8_t> &records, int timeout_ms,
                            produce_v10_result *out);

} // namespace sl_test
