// librdkafka helpers shared by the compatibility tests: topic creation through the admin
// API, a producer that records every delivery report, and a plain (group-less) consumer
// that reads partitions to their end. All calls are made from the test's main thread
// except where noted.
#pragma once

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace sl_test
{

// Creates topics (name -> partition count, replication factor 1) with CreateTopics.
// TOPIC_ALREADY_EXISTS counts as success. Returns "" or a description of the failure.
std::string create_topics(const std::string &bootstrap, const std::map<std::string, int> &topics,
                          int timeout_ms);

// Applies key=value pairs to a new rd_kafka_conf_t. Returns nullptr and fills *error on a
// rejected property. The caller owns the returned conf.
rd_kafka_conf_t *make_conf(const std::map<std::string, std::string> &properties,
                           std::string *error);

struct delivery_report {
    uint64_t message_id = 0; // what the test passed to produce()
    rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
    int32_t partition = -1;
    int64_t offset = -1;
};

// A producer that keeps every delivery report. Not copyable. The destructor purges and
// destroys the handle without waiting for the broker.
class rdkafka_producer
{
  public:
    rdkafka_producer() = default;
    ~rdkafka_producer();
    rdkafka_producer(const rdkafka_producer &) = delete;
    rdkafka_producer &operator=(const rdkafka_producer &) = delete;

    // bootstrap.servers is set from bootstrap; properties add to or override it.
    // conf_hook, when set, may add interceptors to the conf before rd_kafka_new.
    bool open(const std::string &bootstrap, const std::map<std::string, std::string> &properties,
              std::string *error, void (*conf_hook)(rd_kafka_conf_t *, void *) = nullptr,
              void *hook_opaque = nullptr);

    // Enqueues one message (copies key, value and headers). partition RD_KAFKA_PARTITION_UA
    // uses the configured partitioner. Retries on a full local queue for up to 10 s.
    // Returns the librdkafka error of rd_kafka_producev.
    rd_kafka_resp_err_t produce(const std::string &topic, int32_t partition, const std::string *key,
                                const std::string &value,
                                const std::vector<std::pair<std::string, std::string>> &headers,
                                uint64_t message_id);

    // Serves delivery reports for up to timeout_ms; returns messages still in flight.
    int flush(int timeout_ms);
    void poll(int timeout_ms);

    // Delivery reports so far; callable from any thread.
    std::vector<delivery_report> reports() const;

    rd_kafka_t *handle()
    {
        return rk_;
    }

    // Drops queued and in-flight messages locally (after a broker kill) and destroys the
    // handle without waiting.
    void abandon();

  private:
    static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);

    rd_kafka_t *rk_ = nullptr;
    mutable std::mutex mutex_;
    std::vector<delivery_report> reports_;
};

struct consumed_message {
    int32_t partition = -1;
    int64_t offset = -1;
    bool key_is_null = true;
    std::string key;
    std::string value;
    int64_t timestamp_ms = -1;
    rd_kafka_timestamp_type_t timestamp_type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    std::vector<std::pair<std::string, std::string>> headers;
};

// Reads partitions 0..partition_count-1 of topic from start_offset (an absolute offset or
// RD_KAFKA_OFFSET_BEGINNING/END) until every partition reported end-of-partition after
// at least min_messages in total, or timeout_ms. No consumer group is used.
// Returns "" on success, else what went wrong (out keeps what was read).
std::string consume_partitions(const std::string &bootstrap, const std::string &topic,
                               int partition_count, int64_t start_offset, size_t min_messages,
                               int timeout_ms, std::vector<consumed_message> *out,
                               const std::map<std::string, std::string> &properties = {});

// Reads topic as a member of consumer group `group` (librdkafka high-level consumer:
// FindCoordinator, JoinGroup, SyncGroup, OffsetFetch) until `count` distinct values
// arrived or timeout_ms passed; with commit_sync, then commits its positions
// synchronously. properties add to or override bootstrap.servers, group.id and
// auto.offset.reset=earliest. Values read go to *seen. Returns "" on success, else what
// went wrong (subscribe or commit error, a value read twice, too few values).
std::string consume_group(const std::string &bootstrap, const std::string &topic,
                          const std::string &group, int count, int timeout_ms, bool commit_sync,
                          const std::map<std::string, std::string> &properties,
                          std::set<std::string> *seen);

} // namespace sl_test
