// librdkafka helpers for the compatibility tests.
#include "tests/support/rdkafka_client.h"

#include <string.h>
#include <unistd.h>

#include "tests/support/child_process.h"

namespace sl_test
{

rd_kafka_conf_t *make_conf(const std::map<std::string, std::string> &properties, std::string *error)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    // librdkafka logs go to stderr, which gtest shows on failure; keep them terse.
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        *error = errstr;
        rd_kafka_conf_destroy(conf);
        return nullptr;
    }
    for (const auto &kv : properties) {
        if (rd_kafka_conf_set(conf, kv.first.c_str(), kv.second.c_str(), errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
            *error = kv.first + "=" + kv.second + ": " + errstr;
            rd_kafka_conf_destroy(conf);
            return nullptr;
        }
    }
    return conf;
}

namespace
{

// make_conf + rd_kafka_new: a client handle, or NULL with *error.
rd_kafka_t *new_client(rd_kafka_type_t type, const std::map<std::string, std::string> &properties,
                       std::string *error)
{
    rd_kafka_conf_t *conf = make_conf(properties, error);
    if (conf == nullptr) {
        return nullptr;
    }
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (rk == nullptr) {
        rd_kafka_conf_destroy(conf);
        *error = std::string("rd_kafka_new: ") + errstr;
    }
    return rk;
}

} // namespace

std::string create_topics(const std::string &bootstrap, const std::map<std::string, int> &topics,
                          int timeout_ms)
{
    if (topics.empty()) {
        return "";
    }
    std::string error;
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstrap}}, &error);
    if (rk == nullptr) {
        return error;
    }
    char errstr[512];
    std::vector<rd_kafka_NewTopic_t *> new_topics;
    for (const auto &kv : topics) {
        rd_kafka_NewTopic_t *nt =
            rd_kafka_NewTopic_new(kv.first.c_str(), kv.second, 1, errstr, sizeof(errstr));
        if (nt == nullptr) {
            error = "NewTopic " + kv.first + ": " + errstr;
            break;
        }
        new_topics.push_back(nt);
    }
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    if (error.empty()) {
        rd_kafka_AdminOptions_t *admin_options =
            rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_request_timeout(admin_options, timeout_ms, errstr,
                                                  sizeof(errstr));
        rd_kafka_AdminOptions_set_operation_timeout(admin_options, timeout_ms, errstr,
                                                    sizeof(errstr));
        rd_kafka_CreateTopics(rk, new_topics.data(), new_topics.size(), admin_options, queue);
        rd_kafka_AdminOptions_destroy(admin_options);
        rd_kafka_event_t *event = rd_kafka_queue_poll(queue, timeout_ms + 2000);
        if (event == nullptr) {
            error = "CreateTopics: no result within " + std::to_string(timeout_ms) + " ms";
        } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            error = std::string("CreateTopics: ") + rd_kafka_event_error_string(event);
        } else {
            const rd_kafka_CreateTopics_result_t *result =
                rd_kafka_event_CreateTopics_result(event);
            size_t count = 0;
            const rd_kafka_topic_result_t **results =
                rd_kafka_CreateTopics_result_topics(result, &count);
            for (size_t i = 0; i < count; i++) {
                rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
                if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
                    err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                    error += std::string("CreateTopics ") + rd_kafka_topic_result_name(results[i]) +
                             ": " + rd_kafka_err2str(err) + "; ";
                }
            }
            if (count != topics.size() && error.empty()) {
                error = "CreateTopics returned " + std::to_string(count) + " results for " +
                        std::to_string(topics.size()) + " topics";
            }
        }
        if (event != nullptr) {
            rd_kafka_event_destroy(event);
        }
    }
    for (rd_kafka_NewTopic_t *nt : new_topics) {
        rd_kafka_NewTopic_destroy(nt);
    }
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(rk);
    return error;
}

rdkafka_producer::~rdkafka_producer()
{
    abandon();
}

void rdkafka_producer::abandon()
{
    if (rk_ == nullptr) {
        return;
    }
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk_, 0);
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
}

void rdkafka_producer::on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)opaque;
    auto *self = static_cast<rdkafka_producer *>(rd_kafka_opaque(rk));
    delivery_report report;
    report.message_id = (uint64_t)(uintptr_t)msg->_private;
    report.error = msg->err;
    report.partition = msg->partition;
    report.offset = msg->offset;
    std::lock_guard<std::mutex> lock(self->mutex_);
    self->reports_.push_back(report);
}

bool rdkafka_producer::open(const std::string &bootstrap,
                            const std::map<std::string, std::string> &properties,
                            std::string *error, void (*conf_hook)(rd_kafka_conf_t *, void *),
                            void *hook_opaque)
{
    std::map<std::string, std::string> all = properties;
    all.emplace("bootstrap.servers", bootstrap);
    rd_kafka_conf_t *conf = make_conf(all, error);
    if (conf == nullptr) {
        return false;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, &rdkafka_producer::on_delivery);
    rd_kafka_conf_set_opaque(conf, this);
    if (conf_hook != nullptr) {
        conf_hook(conf, hook_opaque);
    }
    char errstr[512];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk_ == nullptr) {
        rd_kafka_conf_destroy(conf);
        *error = std::string("rd_kafka_new: ") + errstr;
        return false;
    }
    return true;
}

rd_kafka_resp_err_t rdkafka_producer::produce(
    const std::string &topic, int32_t partition, const std::string *key, const std::string &value,
    const std::vector<std::pair<std::string, std::string>> &headers, uint64_t message_id)
{
    long long deadline_ms = monotonic_ms() + 10000;
    for (;;) {
        // An empty header list encodes the same as none (header count 0 per record).
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(headers.size());
        for (const auto &h : headers) {
            rd_kafka_header_add(hdrs, h.first.c_str(), (ssize_t)h.first.size(), h.second.data(),
                                (ssize_t)h.second.size());
        }
        rd_kafka_resp_err_t err =
            rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(key ? key->data() : nullptr, key ? key->size() : 0),
                              RD_KAFKA_V_VALUE((void *)value.data(), value.size()),
                              RD_KAFKA_V_OPAQUE((void *)(uintptr_t)message_id),
                              RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            // On failure the headers are still ours.
            rd_kafka_headers_destroy(hdrs);
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || monotonic_ms() > deadline_ms) {
            return err;
        }
        rd_kafka_poll(rk_, 50);
    }
}

int rdkafka_producer::flush(int timeout_ms)
{
    rd_kafka_flush(rk_, timeout_ms);
    return rd_kafka_outq_len(rk_);
}

void rdkafka_producer::poll(int timeout_ms)
{
    rd_kafka_poll(rk_, timeout_ms);
}

std::vector<delivery_report> rdkafka_producer::reports() const
{
    std::lock_guard<std::mutex> lock(mutex_);
    return reports_;
}

std::string consume_partitions(const std::string &bootstrap, const std::string &topic,
                               int partition_count, int64_t start_offset, size_t min_messages,
                               int timeout_ms, std::vector<consumed_message> *out,
                               const std::map<std::string, std::string> &properties)
{
    std::map<std::string, std::string> all = properties;
    all.emplace("bootstrap.servers", bootstrap);
    all.emplace("enable.partition.eof", "true");
    all.emplace("enable.auto.commit", "false");
    all.emplace("enable.auto.offset.store", "false");
    std::string error;
    rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, all, &error);
    if (rk == nullptr) {
        return error;
    }
    // The legacy per-partition consumer needs no consumer group (librdkafka 2.0.2's
    // rd_kafka_assign insists on group.id, which would drag the group coordinator in).
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    for (int p = 0; p < partition_count; p++) {
        if (rd_kafka_consume_start_queue(rkt, p, start_offset, queue) != 0) {
            error = "consume_start partition " + std::to_string(p) + ": " +
                    rd_kafka_err2str(rd_kafka_last_error());
        }
    }
    std::vector<bool> at_end((size_t)partition_count, false);
    long long deadline_ms = monotonic_ms() + timeout_ms;
    size_t count = 0;
    while (error.empty()) {
        bool all_at_end = true;
        for (bool e : at_end) {
            all_at_end = all_at_end && e;
        }
        if (all_at_end && count >= min_messages) {
            break;
        }
        if (monotonic_ms() > deadline_ms) {
            error = "consumed " + std::to_string(count) + " messages of at least " +
                    std::to_string(min_messages) + " from " + topic + " before the " +
                    std::to_string(timeout_ms) + " ms timeout";
            break;
        }
        rd_kafka_message_t *msg = rd_kafka_consume_queue(queue, 100);
        if (msg == nullptr) {
            continue;
        }
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (msg->partition >= 0 && msg->partition < partition_count) {
                at_end[(size_t)msg->partition] = true;
            }
        } else if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            error = std::string("consumer error: ") + rd_kafka_message_errstr(msg);
            rd_kafka_message_destroy(msg);
            break;
        } else {
            consumed_message m;
            m.partition = msg->partition;
            m.offset = msg->offset;
            m.key_is_null = msg->key == nullptr;
            if (msg->key != nullptr) {
                m.key.assign((const char *)msg->key, msg->key_len);
            }
            if (msg->payload != nullptr) {
                m.value.assign((const char *)msg->payload, msg->len);
            }
            m.timestamp_ms = rd_kafka_message_timestamp(msg, &m.timestamp_type);
            rd_kafka_headers_t *hdrs = nullptr;
            if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char *name;
                const void *value;
                size_t size;
                for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
                                   RD_KAFKA_RESP_ERR_NO_ERROR;
                     i++) {
                    m.headers.emplace_back(name, std::string((const char *)value, size));
                }
            }
            if (m.partition >= 0 && m.partition < partition_count) {
                at_end[(size_t)m.partition] = false;
            }
            out->push_back(std::move(m));
            count++;
        }
        rd_kafka_message_destroy(msg);
    }
    for (int p = 0; p < partition_count; p++) {
        rd_kafka_consume_stop(rkt, p);
    }
    rd_kafka_queue_destroy(queue);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return error;
}

std::string consume_group(const std::string &bootstrap, const std::string &topic,
                          const std::string &group, int count, int timeout_ms, bool commit_sync,
                          const std::map<std::string, std::string> &properties,
                          std::set<std::string> *seen)
{
    std::map<std::string, std::string> props = {
        {"bootstrap.servers", bootstrap}, {"group.id", group}, {"auto.offset.reset", "earliest"}};
    for (const auto &kv : properties) {
        props[kv.first] = kv.second;
    }
    std::string error;
    rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, props, &error);
    if (rk == nullptr) {
        return error;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *subscription = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subscription, topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, subscription);
    rd_kafka_topic_partition_list_destroy(subscription);
    long long deadline_ms = monotonic_ms() + timeout_ms;
    std::string result;
    while (err == RD_KAFKA_RESP_ERR_NO_ERROR && (int)seen->size() < count &&
           monotonic_ms() < deadline_ms) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == nullptr) {
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            std::string v((const char *)m->payload, m->len);
            if (!seen->insert(v).second) {
                result = "read twice: " + v;
            }
        }
        rd_kafka_message_destroy(m);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        result = std::string("subscribe: ") + rd_kafka_err2str(err);
    } else if ((int)seen->size() < count) {
        result = "group " + group + " read " + std::to_string(seen->size()) + " of " +
                 std::to_string(count) + " values";
    } else if (commit_sync) {
        err = rd_kafka_commit(rk, nullptr, 0);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            result = std::string("commit: ") + rd_kafka_err2str(err);
        }
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return result;
}

} // namespace sl_test
