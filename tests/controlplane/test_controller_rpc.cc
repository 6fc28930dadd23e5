// Controller RPC frames: every request type and the response survive an encode/decode
// round trip field by field; truncated, oversized and malformed frames are refused
// without reading past their end (ASan checks the reads).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "md_test_util.h"

extern "C" {
#include "common/sl_bytes.h"
#include "controlplane/controller_rpc_codec.h"
}

namespace
{

std::vector<sl_md_request> every_request_type()
{
    std::vector<sl_md_request> out;
    sl_md_request r;

    memset(&r, 0, sizeof(r));
    r.type = SL_MD_REQUEST_CREATE_TOPIC;
    snprintf(r.create_topic.name, sizeof(r.create_topic.name), "orders.v2");
    r.create_topic.num_partitions = -1;
    r.create_topic.replication_factor = 3;
    r.create_topic.config_count = 2;
    snprintf(r.create_topic.configs[0].key, sizeof(r.create_topic.configs[0].key), "retention.ms");
    snprintf(r.create_topic.configs[0].value, sizeof(r.create_topic.configs[0].value), "1000");
    snprintf(r.create_topic.configs[1].key, sizeof(r.create_topic.configs[1].key),
             "cleanup.policy");
    snprintf(r.create_topic.configs[1].value, sizeof(r.create_topic.configs[1].value), "delete");
    out.push_back(r);

    memset(&r, 0, sizeof(r));
    r.type = SL_MD_REQUEST_DELETE_TOPIC;
    snprintf(r.delete_topic, sizeof(r.delete_topic), "gone");
    out.push_back(r);

    memset(&r, 0, sizeof(r));
    r.type = SL_MD_REQUEST_CREATE_PARTITIONS;
    snprintf(r.create_partitions.topic, sizeof(r.create_partitions.topic), "grow");
    r.create_partitions.total_count = 12;
    out.push_back(r);

    memset(&r, 0, sizeof(r));
    r.type = SL_MD_REQUEST_ALTER_TOPIC_CONFIG;
    snprintf(r.alter_topic_config.topic, sizeof(r.alter_topic_config.topic), "t");
    snprintf(r.alter_topic_config.key, sizeof(r.alter_topic_config.key), "segment.ms");
    r.alter_topic_config.has_value = true;
    snprintf(r.alter_topic_config.value, sizeof(r.alter_topic_config.value), "60000");
    out.push_back(r);

    memset(&r, 0, sizeof(r));
    r.type = SL_MD_REQUEST_REGISTER_BROKER;
    r.register_broker.broker_id = 7;
    r.register_broker.incarnation_id = test_uuid(77);
    snprintf(r.register_broker.rack, sizeof(r.register_broker.rack), "rack-b");
    r.register_broker.listener_count = 2;
    for (int i = 0; i < 2; i++) {
        snprintf(r.register_broker.listeners[i].name, sizeof(r.register_broker.listeners[i].name),
                 "L%d", i);
        snprintf(r.register_broker.listeners[i].host, sizeof(r.register_broker.listeners[i].host),
                 "10.0.0.%d", i + 1);
        r.register_broker.listeners[i].port = (uint16_t)(9092 + i);
    }
    snprintf(r.register_standby_address, sizeof(r.register_standby_address), "10.0.0.7:9095");
    out.push_back(r);

    memset(&r, 0, sizeof(r));
    r.type = SL_MD_REQUEST_HEARTBEAT;
    r.heartbeat.broker_id = 3;
    r.heartbeat.broker_epoch = 0x123456789aLL;
    r.heartbeat.want_fence = true;
    out.push_back(r);

    memset(&r, 0, sizeof(r));
    r.type = SL_MD_REQUEST_ALTER_PARTITION;
    r.alter_partition.broker_id = 2;
    r.alter_partition.broker_epoch = 41;
    r.alter_partition.topic_id = test_uuid(9);
    r.alter_partition.partition = 5;
    r.alter_partition.leader_epoch = 3;
    r.alter_partition.partition_epoch = 8;
    r.alter_partition.isr_count = 3;
    r.alter_partition.isr[0] = 2;
    r.alter_partition.isr[1] = 1;
    r.alter_partition.isr[2] = 3;
    out.push_back(r);

    memset(&r, 0, sizeof(r));
    r.type = SL_MD_REQUEST_ELECT_PREFERRED;
    snprintf(r.elect_preferred.topic, sizeof(r.elect_preferred.topic), "t");
    r.elect_preferred.partition = 4;
    out.push_back(r);

    memset(&r, 0, sizeof(r));
    r.type = SL_MD_REQUEST_REBALANCE_LEADERS;
    out.push_back(r);

    memset(&r, 0, sizeof(r));
    r.type = SL_MD_REQUEST_ALTER_BROKER_CONFIG;
    snprintf(r.alter_broker_config.broker, sizeof(r.alter_broker_config.broker), "2");
    snprintf(r.alter_broker_config.key, sizeof(r.alter_broker_config.key), "log.retention.ms");
    r.alter_broker_config.has_value = false;
    out.push_back(r);

    memset(&r, 0, sizeof(r));
    r.type = SL_MD_REQUEST_UNREGISTER_BROKER;
    r.unregister_broker_id = 4;
    out.push_back(r);

    memset(&r, 0, sizeof(r));
    r.type = SL_MD_REQUEST_ALTER_CONFIGS;
    r.alter_configs.resource_type = 2; /* topic */
    snprintf(r.alter_configs.resource_name, sizeof(r.alter_configs.resource_name), "orders");
    r.alter_configs.replace_all = false;
    r.alter_configs.validate_only = true;
    r.alter_configs.change_count = 3;
    snprintf(r.alter_configs.changes[0].key, sizeof(r.alter_configs.changes[0].key),
             "retention.ms");
    r.alter_configs.changes[0].op = SL_CONTROLLER_CONFIG_SET;
    r.alter_configs.changes[0].has_value = true;
    snprintf(r.alter_configs.changes[0].value, sizeof(r.alter_configs.changes[0].value), "1000");
    snprintf(r.alter_configs.changes[1].key, sizeof(r.alter_configs.changes[1].key), "segment.ms");
    r.alter_configs.changes[1].op = SL_CONTROLLER_CONFIG_DELETE;
    snprintf(r.alter_configs.changes[2].key, sizeof(r.alter_configs.changes[2].key),
             "cleanup.policy");
    r.alter_configs.changes[2].op = SL_CONTROLLER_CONFIG_APPEND;
    r.alter_configs.changes[2].has_value = true;
    snprintf(r.alter_configs.changes[2].value, sizeof(r.alter_configs.changes[2].value), "compact");
    out.push_back(r);

    memset(&r, 0, sizeof(r));
    r.type = SL_MD_REQUEST_ADD_STANDBY;
    r.add_standby.node_id = 9;
    snprintf(r.add_standby.address, sizeof(r.add_standby.address), "127.0.0.1:9999");
    out.push_back(r);
    return out;
}

// The request fields a frame carries; results and private fields are not compared.
void expect_same_arguments(const sl_md_request &a, const sl_md_request &b)
{
    ASSERT_EQ(a.type, b.type);
    size_t args = offsetof(sl_md_request, on_done) - offsetof(sl_md_request, create_topic);
    EXPECT_EQ(memcmp(&a.create_topic, &b.create_topic, args), 0)
        << "type " << a.type << ": arguments differ after the round trip";
}

std::vector<uint8_t> encode(const sl_md_request &req, uint32_t correlation_id = 5)
{
    std::vector<uint8_t> buf(SL_CTRL_RPC_FRAME_BYTES_MAX);
    size_t n = sl_ctrl_rpc_encode_request(&req, correlation_id, buf.data(), buf.size());
    buf.resize(n);
    return buf;
}

} // namespace

TEST(ControllerRpcCodec, EveryRequestTypeRoundTrips)
{
    for (const sl_md_request &req : every_request_type()) {
        std::vector<uint8_t> frame = encode(req, 1234);
        ASSERT_GT(frame.size(), 0u) << "type " << req.type;
        EXPECT_EQ(frame[0], 0) << "a frame's first byte is 0 (size below 16 MiB)";
        enum sl_ctrl_rpc_kind kind;
        uint32_t correlation_id = 0;
        ASSERT_EQ(sl_ctrl_rpc_decode_header(frame.data(), frame.size(), &kind, &correlation_id), 0);
        EXPECT_EQ(kind, SL_CTRL_RPC_REQUEST);
        EXPECT_EQ(correlation_id, 1234u);
        // Decoding into a dirty struct must give the same result as into a clean one.
        sl_md_request out;
        memset(&out, 0xa5, sizeof(out));
        ASSERT_EQ(sl_ctrl_rpc_decode_request(frame.data(), frame.size(), &out), 0)
            << "type " << req.type;
        expect_same_arguments(req, out);
    }
}

TEST(ControllerRpcCodec, ResponseRoundTripsIntoTheResultFieldsOnly)
{
    sl_md_request answer;
    memset(&answer, 0, sizeof(answer));
    answer.error_code = SL_KAFKA_NOT_CONTROLLER;
    snprintf(answer.error_message, sizeof(answer.error_message), "not the active controller");
    answer.broker_epoch = 99;
    answer.topic_id = test_uuid(3);
    answer.partition_epoch = 6;
    answer.leader_id = 2;
    answer.leaders_moved = 4;
    answer.applied_index = 1ull << 40;
    uint8_t buf[512];
    size_t n = sl_ctrl_rpc_encode_response(&answer, 77, buf, sizeof(buf));
    ASSERT_GT(n, 0u);

    sl_md_request req = every_request_type()[0];
    sl_md_request before = req;
    ASSERT_EQ(sl_ctrl_rpc_decode_response(buf, n, &req), 0);
    expect_same_arguments(before, req);
    EXPECT_EQ(req.error_code, SL_KAFKA_NOT_CONTROLLER);
    EXPECT_STREQ(req.error_message, "not the active controller");
    EXPECT_EQ(req.broker_epoch, 99);
    EXPECT_EQ(memcmp(&req.topic_id, &answer.topic_id, 16), 0);
    EXPECT_EQ(req.partition_epoch, 6);
    EXPECT_EQ(req.leader_id, 2);
    EXPECT_EQ(req.leaders_moved, 4);
    EXPECT_EQ(req.applied_index, 1ull << 40);

    answer.error_code = SL_KAFKA_UNKNOWN_SERVER_ERROR; // -1 survives the i16
    n = sl_ctrl_rpc_encode_response(&answer, 77, buf, sizeof(buf));
    ASSERT_EQ(sl_ctrl_rpc_decode_response(buf, n, &req), 0);
    EXPECT_EQ(req.error_code, SL_KAFKA_UNKNOWN_SERVER_ERROR);
    // A request frame is not a response and vice versa.
    std::vector<uint8_t> frame = encode(before);
    EXPECT_EQ(sl_ctrl_rpc_decode_response(frame.data(), frame.size(), &req), -EBADMSG);
    EXPECT_EQ(sl_ctrl_rpc_decode_request(buf, n, &req), -EBADMSG);
}

TEST(ControllerRpcCodec, EveryTruncationAndExtensionIsRefused)
{
    for (const sl_md_request &req : every_request_type()) {
        std::vector<uint8_t> frame = encode(req);
        for (size_t len = 0; len < frame.size(); len++) {
            // The exact size, as a reader would get from the network, without the rest.
            std::vector<uint8_t> cut(frame.begin(), frame.begin() + (long)len);
            if (len >= 4) {
                sl_store_be32(cut.data(), (uint32_t)(len - 4));
            }
            sl_md_request out;
            EXPECT_EQ(sl_ctrl_rpc_decode_request(cut.data(), cut.size(), &out), -EBADMSG)
                << "type " << req.type << " cut at " << len;
        }
        std::vector<uint8_t> longer = frame;
        longer.push_back(0);
        sl_store_be32(longer.data(), (uint32_t)(longer.size() - 4));
        sl_md_request out;
        EXPECT_EQ(sl_ctrl_rpc_decode_request(longer.data(), longer.size(), &out), -EBADMSG)
            << "trailing bytes, type " << req.type;
    }
}

TEST(ControllerRpcCodec, MalformedFieldsAreRefused)
{
    sl_md_request out;
    std::vector<uint8_t> ok = encode(every_request_type()[1]); // DELETE_TOPIC "gone"
    ASSERT_EQ(sl_ctrl_rpc_decode_request(ok.data(), ok.size(), &out), 0);

    auto refused = [&](std::vector<uint8_t> f, const char *what) {
        EXPECT_EQ(sl_ctrl_rpc_decode_request(f.data(), f.size(), &out), -EBADMSG) << what;
    };
    std::vector<uint8_t> f = ok;
    f[5] = 2; // format 2
    refused(f, "unknown format");
    f = ok;
    f[6] = 3;
    refused(f, "unknown kind");
    f = ok;
    f[7] = 1;
    refused(f, "reserved byte set");
    f = ok;
    f[12] = 0x7f; // type 0x7f01
    refused(f, "unknown request type");
    f = ok;
    f[16] = 0; // 'g' -> NUL inside the name
    refused(f, "NUL inside a string");
    f = ok;
    sl_store_be32(f.data(), 1u << 24);
    refused(f, "size field disagrees with the frame");

    // A string longer than its field: a topic name of 250 bytes (the field holds 249).
    std::vector<uint8_t> frame(SL_CTRL_RPC_HEADER_BYTES + 2 + 2 + 250);
    sl_store_be32(frame.data(), (uint32_t)(frame.size() - 4));
    sl_store_be16(frame.data() + 4, SL_CTRL_RPC_FORMAT);
    frame[6] = SL_CTRL_RPC_REQUEST;
    sl_store_be16(frame.data() + 12, SL_MD_REQUEST_DELETE_TOPIC);
    sl_store_be16(frame.data() + 14, 250);
    memset(frame.data() + 16, 'a', 250);
    refused(frame, "string longer than its field");
    sl_store_be16(frame.data() + 14, 249);
    frame.pop_back();
    sl_store_be32(frame.data(), (uint32_t)(frame.size() - 4));
    EXPECT_EQ(sl_ctrl_rpc_decode_request(frame.data(), frame.size(), &out), 0) << "249 bytes fit";

    // Counts above their bounds.
    sl_md_request reg = every_request_type()[4];
    reg.register_broker.listener_count = SL_MD_LISTENERS_MAX + 1;
    uint8_t buf[4096];
    EXPECT_EQ(sl_ctrl_rpc_encode_request(&reg, 1, buf, sizeof(buf)), 0u)
        << "the encoder refuses what the decoder would";
    sl_md_request ct = every_request_type()[0];
    ct.create_topic.config_count = SL_CONTROLLER_TOPIC_CONFIGS_MAX + 1;
    EXPECT_EQ(sl_ctrl_rpc_encode_request(&ct, 1, buf, sizeof(buf)), 0u);
    // A buffer too small is reported, not overrun.
    EXPECT_EQ(sl_ctrl_rpc_encode_request(&every_request_type()[0], 1, buf, 20), 0u);
}
