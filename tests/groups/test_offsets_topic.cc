// The internal topic __consumer_offsets on one real broker, spoken with the project's codec
// (tests/dataplane/codec_client.h): a Metadata request naming it (auto-creation allowed)
// creates it with the brokers' own parameters (offsets.topic.num.partitions partitions,
// replication factor 1 although offsets.topic.replication.factor says 3, compacted,
// segment.bytes = offsets.topic.segment.bytes), Metadata marks it internal, and clients
// cannot read, produce to or grow it: Fetch, ListOffsets and Produce answer
// INVALID_TOPIC_EXCEPTION, CreatePartitions INVALID_REQUEST. The groups keep working.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "dataplane/codec/kafka_errors.h"
#include "tests/dataplane/codec_client.h"
#include "tests/dataplane/fetch_test_util.h"
#include "tests/support/broker_process.h"
#include "tests/support/raw_admin_client.h"

namespace
{

using sl_test::broker_options;
using sl_test::broker_process;
using sl_test::codec_client;
using sl_test::metadata_view;
using sl_test::slice_of;
using sl_test::string_of;

const std::string k_topic = "__consumer_offsets";

TEST(OffsetsTopic, CreatedWithItsOwnParametersAndClosedToClients)
{
    broker_options o;
    o.properties["offsets.topic.num.partitions"] = "7";
    o.properties["offsets.topic.replication.factor"] = "3";
    o.properties["offsets.topic.segment.bytes"] = "524288";
    o.properties["auto.create.topics.enable"] = "true";
    broker_process broker(o);
    ASSERT_TRUE(broker.Start());

    // Named in Metadata with auto-creation allowed: LEADER_NOT_AVAILABLE, then the topic.
    metadata_view view;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
        ASSERT_EQ(sl_test::fetch_metadata(broker.bootstrap(), {k_topic}, true, 2000, &view), "");
        const sl_test::metadata_topic *t = view.topic(k_topic);
        if ((t != nullptr && t->error_code == SL_KAFKA_ERR_NONE) ||
            std::chrono::steady_clock::now() > deadline) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const sl_test::metadata_topic *t = view.topic(k_topic);
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->error_code, SL_KAFKA_ERR_NONE);
    EXPECT_TRUE(t->is_internal);
    ASSERT_EQ(t->partitions.size(), 7u);
    for (const auto &p : t->partitions) {
        EXPECT_EQ(p.leader, 1) << p.partition;
        EXPECT_EQ(p.replicas, std::vector<int32_t>{1}) << p.partition;
    }

    codec_client client;
    ASSERT_TRUE(client.connect(broker.bootstrap()));

    // Its configs: compacted, the offsets segment size.
    sl_codec_describe_configs_request_describe_configs_resource res{};
    res.resource_type = 2; // topic
    res.resource_name = slice_of(k_topic);
    res.configuration_keys_count = -1;
    sl_codec_describe_configs_request dreq{};
    dreq.resources = &res;
    dreq.resources_count = 1;
    auto *dresp = client.call_or_fail<sl_codec_describe_configs_response>(32, 1, &dreq);
    ASSERT_NE(dresp, nullptr);
    ASSERT_EQ(dresp->results_count, 1);
    ASSERT_EQ(dresp->results[0].error_code, SL_KAFKA_ERR_NONE);
    std::map<std::string, std::string> configs;
    for (int32_t i = 0; i < dresp->results[0].configs_count; i++) {
        configs[string_of(dresp->results[0].configs[i].name)] =
            string_of(dresp->results[0].configs[i].value);
    }
    EXPECT_EQ(configs["cleanup.policy"], "compact");
    EXPECT_EQ(configs["segment.bytes"], "524288");

    // Fetch v4 and ListOffsets v1 of a partition this broker leads.
    sl_test::fetch_args fa;
    fa.version = 4;
    fa.max_wait_ms = 10;
    fa.partitions = {{k_topic, {}, 0, 0, 65536}};
    sl_test::fetch_result fr;
    ASSERT_TRUE(sl_test::fetch(client, fa, &fr));
    ASSERT_EQ(fr.partitions.size(), 1u);
    EXPECT_EQ(fr.partitions[0].error_code, SL_KAFKA_ERR_INVALID_TOPIC_EXCEPTION);

    sl_codec_list_offsets_request_list_offsets_partition lp{};
    lp.partition_index = 0;
    lp.current_leader_epoch = -1;
    lp.timestamp = -1;
    lp.max_num_offsets = 1;
    sl_codec_list_offsets_request_list_offsets_topic lt{};
    lt.name = slice_of(k_topic);
    lt.partitions = &lp;
    lt.partitions_count = 1;
    sl_codec_list_offsets_request lreq{};
    lreq.replica_id = -1;
    lreq.topics = &lt;
    lreq.topics_count = 1;
    auto *lresp = client.call_or_fail<sl_codec_list_offsets_response>(2, 1, &lreq);
    ASSERT_NE(lresp, nullptr);
    ASSERT_EQ(lresp->topics_count, 1);
    ASSERT_EQ(lresp->topics[0].partitions_count, 1);
    EXPECT_EQ(lresp->topics[0].partitions[0].error_code, SL_KAFKA_ERR_INVALID_TOPIC_EXCEPTION);

    // CreatePartitions v1 would move groups.
    sl_codec_create_partitions_request_create_partitions_topic cpt{};
    cpt.name = slice_of(k_topic);
    cpt.count = 9;
    cpt.assignments_count = -1;
    sl_codec_create_partitions_request cpreq{};
    cpreq.topics = &cpt;
    cpreq.topics_count = 1;
    cpreq.timeout_ms = 5000;
    auto *cpresp = client.call_or_fail<sl_codec_create_partitions_response>(37, 1, &cpreq);
    ASSERT_NE(cpresp, nullptr);
    ASSERT_EQ(cpresp->results_count, 1);
    EXPECT_EQ(cpresp->results[0].error_code, SL_KAFKA_ERR_INVALID_REQUEST);

    // Produce and DeleteTopics are refused as in the cluster test; the group of any id
    // finds this broker at once now that the topic exists.
    int16_t code = -1;
    int32_t node = -1;
    ASSERT_EQ(
        sl_test::find_group_coordinator_raw(broker.bootstrap(), "any-group", 2000, &code, &node),
        "");
    EXPECT_NE(code, SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
    EXPECT_EQ(code, SL_KAFKA_ERR_NONE);
    EXPECT_EQ(node, 1);
    ASSERT_EQ(sl_test::delete_topic_raw(broker.bootstrap(), k_topic, 5000, &code), "");
    EXPECT_EQ(code, SL_KAFKA_ERR_INVALID_REQUEST);
    EXPECT_TRUE(broker.Stop());
}

} // namespace
