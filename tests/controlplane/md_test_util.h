// Builders for metadata records used by the controlplane tests.
#ifndef SL_MD_TEST_UTIL_H
#define SL_MD_TEST_UTIL_H

#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

extern "C" {
#include "controlplane/metadata_image.h"
#include "controlplane/metadata_records.h"
}

inline sl_md_uuid test_uuid(unsigned n)
{
    sl_md_uuid u;
    memset(&u, 0, sizeof(u));
    u.bytes[0] = 0xab;
    u.bytes[15] = (uint8_t)n;
    u.bytes[14] = (uint8_t)(n >> 8);
    return u;
}

inline sl_md_record rec_register(int32_t id, int64_t epoch, const char *rack = "",
                                 bool fenced = false)
{
    sl_md_record r;
    memset(&r, 0, sizeof(r));
    r.type = SL_MD_RECORD_REGISTER_BROKER;
    r.broker.broker_id = id;
    r.broker.broker_epoch = epoch;
    r.broker.incarnation_id = test_uuid(1000 + (unsigned)id);
    snprintf(r.broker.rack, sizeof(r.broker.rack), "%s", rack);
    r.broker.fenced = fenced;
    r.broker.listener_count = 1;
    snprintf(r.broker.listeners[0].name, sizeof(r.broker.listeners[0].name), "PLAINTEXT");
    snprintf(r.broker.listeners[0].host, sizeof(r.broker.listeners[0].host), "127.0.0.%d", id);
    r.broker.listeners[0].port = 9092;
    return r;
}

inline sl_md_record rec_broker_change(sl_md_record_type type, int32_t id, int64_t epoch,
                                      bool fenced)
{
    sl_md_record r;
    memset(&r, 0, sizeof(r));
    r.type = type;
    r.broker_change.broker_id = id;
    r.broker_change.broker_epoch = epoch;
    r.broker_change.fenced = fenced;
    return r;
}

inline sl_md_record rec_topic(const char *name, unsigned id)
{
    sl_md_record r;
    memset(&r, 0, sizeof(r));
    r.type = SL_MD_RECORD_TOPIC;
    snprintf(r.topic.name, sizeof(r.topic.name), "%s", name);
    r.topic.topic_id = test_uuid(id);
    return r;
}

inline sl_md_record rec_partition(unsigned topic, int32_t partition,
                                  std::initializer_list<int32_t> replicas,
                                  std::initializer_list<int32_t> isr, int32_t leader,
                                  int32_t leader_epoch = 0, int32_t partition_epoch = 0,
                                  sl_md_record_type type = SL_MD_RECORD_PARTITION)
{
    sl_md_record r;
    memset(&r, 0, sizeof(r));
    r.type = type;
    r.partition.topic_id = test_uuid(topic);
    r.partition.partition = partition;
    r.partition.leader = leader;
    r.partition.leader_epoch = leader_epoch;
    r.partition.partition_epoch = partition_epoch;
    for (int32_t b : replicas) {
        r.partition.replicas[r.partition.replica_count++] = b;
    }
    for (int32_t b : isr) {
        r.partition.isr[r.partition.isr_count++] = b;
    }
    return r;
}

inline sl_md_record rec_config(uint8_t resource_type, const char *resource, const char *key,
                               const char *value)
{
    sl_md_record r;
    memset(&r, 0, sizeof(r));
    r.type = SL_MD_RECORD_CONFIG;
    r.config.resource_type = resource_type;
    snprintf(r.config.resource_name, sizeof(r.config.resource_name), "%s", resource);
    snprintf(r.config.key, sizeof(r.config.key), "%s", key);
    r.config.has_value = value != nullptr;
    if (value != nullptr) {
        snprintf(r.config.value, sizeof(r.config.value), "%s", value);
    }
    return r;
}

inline sl_md_record rec_remove_topic(unsigned id)
{
    sl_md_record r;
    memset(&r, 0, sizeof(r));
    r.type = SL_MD_RECORD_REMOVE_TOPIC;
    r.remove_topic_id = test_uuid(id);
    return r;
}

inline std::vector<uint8_t> encode_batch(const std::vector<sl_md_record> &records)
{
    size_t n = sl_md_batch_size(records.data(), records.size());
    std::vector<uint8_t> out(n);
    EXPECT_EQ(sl_md_batch_encode(records.data(), records.size(), out.data(), n), n);
    return out;
}

// Applies records as one batch; returns the error code and leaves *image unchanged on
// error, or replaces it with the new version.
inline int apply_records(sl_md_image **image, const std::vector<sl_md_record> &records,
                         std::string *why = nullptr)
{
    auto bytes = encode_batch(records);
    sl_md_image *next = nullptr;
    char err[256] = "";
    int rc = sl_md_image_apply_batch(*image, bytes.data(), bytes.size(), &next, err, sizeof(err));
    if (why != nullptr) {
        *why = err;
    }
    if (rc == 0) {
        sl_md_image_unref(*image);
        *image = next;
    }
    return rc;
}

inline std::string image_bytes(const sl_md_image *image)
{
    void *buf = nullptr;
    size_t len = 0;
    EXPECT_EQ(sl_md_image_encode(image, malloc, &buf, &len), 0);
    std::string s(static_cast<const char *>(buf), len);
    free(buf);
    return s;
}

#endif
