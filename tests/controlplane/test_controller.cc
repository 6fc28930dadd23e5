// Controller logic: placement, topic operations, broker liveness, elections, ISR changes.
#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <memory>
#include <set>

#include "md_test_util.h"

extern "C" {
#include "controlplane/controller.h"
}

namespace
{

class ControllerTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        image = sl_md_image_new();
        settings.default_partitions = 1;
        settings.default_replication_factor = 1;
        settings.unclean_leader_election = false;
        settings.delete_topic_enable = true;
        settings.broker_session_timeout_ms = 9000;
        ASSERT_EQ(sl_controller_liveness_init(&liveness, 64), 0);
        begin();
    }
    void TearDown() override
    {
        sl_controller_batch_free(&batch);
        sl_controller_liveness_free(&liveness);
        sl_md_image_unref(image);
    }
    void begin()
    {
        ASSERT_EQ(sl_controller_batch_init(&batch, image), 0);
    }
    // Proposes the batch the way the metadata log does (encode, apply to the committed
    // image) and checks the result equals the controller's draft.
    void commit()
    {
        if (batch.count > 0) {
            std::vector<sl_md_record> records(batch.records, batch.records + batch.count);
            std::string draft_bytes = image_bytes(batch.draft);
            std::string why;
            ASSERT_EQ(apply_records(&image, records, &why), 0) << why;
            // The draft's version counter matches; the bytes must too.
            ASSERT_EQ(image_bytes(image), draft_bytes);
        }
        sl_controller_batch_free(&batch);
        begin();
    }
    void add_broker(int32_t id, const char *rack = "")
    {
        sl_controller_register_broker_request req;
        memset(&req, 0, sizeof(req));
        req.broker_id = id;
        req.incarnation_id = test_uuid(5000 + (unsigned)id + 100 * incarnation++);
        snprintf(req.rack, sizeof(req.rack), "%s", rack);
        int64_t epoch = 0;
        ASSERT_EQ(sl_controller_register_broker(&batch, &settings, &liveness, &req, now, &epoch),
                  0);
        ASSERT_EQ(sl_controller_heartbeat(&batch, &settings, &liveness, id, epoch, false, now), 0);
        epochs[id] = epoch;
        commit();
    }
    int create(const char *name, int32_t partitions, int16_t rf, unsigned id_seed,
               uint32_t seed = 0)
    {
        sl_controller_create_topic_request req;
        memset(&req, 0, sizeof(req));
        snprintf(req.name, sizeof(req.name), "%s", name);
        req.num_partitions = partitions;
        req.replication_factor = rf;
        sl_md_uuid id = test_uuid(id_seed);
        char err[256] = "";
        int code = sl_controller_create_topic(&batch, &settings, &req, &id, seed, err, sizeof(err));
        last_error = err;
        return code;
    }
    const sl_md_partition *part(const char *topic, int32_t p)
    {
        const sl_md_topic *t = sl_md_image_topic(image, topic);
        return t ? sl_md_topic_partition(t, p) : nullptr;
    }
    void heartbeat_all_except(int32_t skip)
    {
        for (auto &[id, epoch] : epochs) {
            if (id != skip) {
                ASSERT_EQ(
                    sl_controller_heartbeat(&batch, &settings, &liveness, id, epoch, false, now),
                    0);
            }
        }
    }

    sl_md_image *image = nullptr;
    sl_controller_batch batch;
    sl_controller_settings settings;
    sl_controller_liveness liveness;
    std::map<int32_t, int64_t> epochs;
    int64_t now = 1000;
    unsigned incarnation = 0;
    std::string last_error;
};

} // namespace

TEST_F(ControllerTest, PlacementSpreadsReplicasAndBalancesLeaders)
{
    for (int32_t id : {1, 2, 3}) {
        add_broker(id);
    }
    ASSERT_EQ(create("t", 6, 3, 1, 7), 0) << last_error;
    commit();
    std::map<int32_t, int> leaders, replicas;
    std::set<std::vector<int32_t>> layouts;
    for (int32_t p = 0; p < 6; p++) {
        const sl_md_partition *sp = part("t", p);
        ASSERT_NE(sp, nullptr);
        std::set<int32_t> distinct(sp->replicas, sp->replicas + sp->replica_count);
        EXPECT_EQ(distinct.size(), 3u);
        EXPECT_EQ(sp->leader, sp->replicas[0]);
        EXPECT_EQ(sp->isr_count, 3);
        EXPECT_EQ(sp->leader_epoch, 0);
        leaders[sp->leader]++;
        for (int i = 0; i < sp->replica_count; i++) {
            replicas[sp->replicas[i]]++;
        }
        layouts.insert(std::vector<int32_t>(sp->replicas, sp->replicas + 3));
    }
    for (int32_t id : {1, 2, 3}) {
        EXPECT_EQ(leaders[id], 2) << "broker " << id;
        EXPECT_EQ(replicas[id], 6) << "broker " << id;
    }
    EXPECT_GT(layouts.size(), 3u) << "follower order should vary with the shift";

    // Single-partition topics: each new one goes to the broker leading the fewest.
    ASSERT_EQ(create("a", 1, 1, 2), 0);
    ASSERT_EQ(create("b", 1, 1, 3), 0);
    ASSERT_EQ(create("c", 1, 1, 4), 0);
    commit();
    std::set<int32_t> single = {part("a", 0)->leader, part("b", 0)->leader, part("c", 0)->leader};
    EXPECT_EQ(single.size(), 3u);
}

TEST_F(ControllerTest, RackAwarePlacementUsesEveryRack)
{
    add_broker(1, "r1");
    add_broker(2, "r1");
    add_broker(3, "r2");
    add_broker(4, "r2");
    add_broker(5, "r3");
    add_broker(6, "r3");
    ASSERT_EQ(create("t", 12, 3, 1, 5), 0) << last_error;
    ASSERT_EQ(create("u", 12, 2, 2, 9), 0) << last_error;
    commit();
    auto rack_of = [&](int32_t id) { return std::string(sl_md_image_broker(image, id)->rack); };
    std::map<int32_t, int> leaders;
    for (int32_t p = 0; p < 12; p++) {
        const sl_md_partition *sp = part("t", p);
        std::set<std::string> racks;
        for (int i = 0; i < 3; i++) {
            racks.insert(rack_of(sp->replicas[i]));
        }
        EXPECT_EQ(racks.size(), 3u) << "partition " << p;
        leaders[sp->leader]++;
        const sl_md_partition *up = part("u", p);
        EXPECT_NE(rack_of(up->replicas[0]), rack_of(up->replicas[1])) << "u-" << p;
    }
    for (int32_t id = 1; id <= 6; id++) {
        EXPECT_EQ(leaders[id], 2) << "broker " << id;
    }
}

TEST_F(ControllerTest, MixedRacksFallBackToPlainPlacement)
{
    add_broker(1, "r1");
    add_broker(2);
    ASSERT_EQ(create("t", 2, 2, 1), 0);
    commit();
    EXPECT_EQ(part("t", 0)->replica_count, 2);
}

TEST_F(ControllerTest, CreateTopicErrors)
{
    add_broker(1);
    add_broker(2);
    EXPECT_EQ(create("bad name", 1, 1, 1), SL_KAFKA_INVALID_TOPIC_EXCEPTION);
    EXPECT_EQ(create("", 1, 1, 1), SL_KAFKA_INVALID_TOPIC_EXCEPTION);
    EXPECT_EQ(create("t", 0, 1, 1), SL_KAFKA_INVALID_PARTITIONS);
    EXPECT_EQ(create("t", 1, 0, 1), SL_KAFKA_INVALID_REPLICATION_FACTOR);
    EXPECT_EQ(create("t", 1, 3, 1), SL_KAFKA_INVALID_REPLICATION_FACTOR);
    EXPECT_NE(last_error.find("larger than the 2 available"), std::string::npos) << last_error;
    EXPECT_EQ(batch.count, 0u);
    ASSERT_EQ(create("t", -1, -1, 1), 0); // broker defaults
    EXPECT_EQ(create("t", 1, 1, 2), SL_KAFKA_TOPIC_ALREADY_EXISTS) << "same batch";
    commit();
    EXPECT_EQ(create("t", 1, 1, 2), SL_KAFKA_TOPIC_ALREADY_EXISTS);
    EXPECT_EQ(sl_md_image_topic(image, "t")->partition_count, 1u);

    sl_controller_create_topic_request req;
    memset(&req, 0, sizeof(req));
    snprintf(req.name, sizeof(req.name), "cfg");
    req.num_partitions = 1;
    req.replication_factor = 1;
    req.config_count = 1;
    snprintf(req.configs[0].key, sizeof(req.configs[0].key), "retention.ms");
    snprintf(req.configs[0].value, sizeof(req.configs[0].value), "soon");
    sl_md_uuid id = test_uuid(9);
    char err[256];
    EXPECT_EQ(sl_controller_create_topic(&batch, &settings, &req, &id, 0, err, sizeof(err)),
              SL_KAFKA_INVALID_CONFIG);
    EXPECT_NE(std::string(err).find("'soon'"), std::string::npos) << err;
    snprintf(req.configs[0].value, sizeof(req.configs[0].value), "60000");
    ASSERT_EQ(sl_controller_create_topic(&batch, &settings, &req, &id, 0, err, sizeof(err)), 0);
    commit();
    EXPECT_STREQ(sl_md_topic_config(sl_md_image_topic(image, "cfg"), "retention.ms"), "60000");

    // Fenced brokers do not count as available.
    ASSERT_EQ(sl_controller_fence_broker(&batch, &settings, 2), 0);
    commit();
    EXPECT_EQ(create("x", 1, 2, 20), SL_KAFKA_INVALID_REPLICATION_FACTOR);
}

TEST_F(ControllerTest, DeleteTopicAndCreatePartitions)
{
    add_broker(1);
    add_broker(2);
    ASSERT_EQ(create("t", 2, 2, 1), 0);
    commit();
    char err[256];
    EXPECT_EQ(sl_controller_create_partitions(&batch, "t", 2, 0, err, sizeof(err)),
              SL_KAFKA_INVALID_PARTITIONS);
    EXPECT_EQ(sl_controller_create_partitions(&batch, "nope", 4, 0, err, sizeof(err)),
              SL_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    ASSERT_EQ(sl_controller_create_partitions(&batch, "t", 5, 0, err, sizeof(err)), 0);
    commit();
    EXPECT_EQ(sl_md_image_topic(image, "t")->partition_count, 5u);
    EXPECT_EQ(part("t", 4)->replica_count, 2);

    EXPECT_EQ(sl_controller_delete_topic(&batch, &settings, "nope"),
              SL_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    settings.delete_topic_enable = false;
    EXPECT_EQ(sl_controller_delete_topic(&batch, &settings, "t"), SL_KAFKA_TOPIC_DELETION_DISABLED);
    settings.delete_topic_enable = true;
    ASSERT_EQ(sl_controller_delete_topic(&batch, &settings, "t"), 0);
    EXPECT_EQ(sl_controller_delete_topic(&batch, &settings, "t"),
              SL_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    commit();
    EXPECT_EQ(sl_md_image_topic(image, "t"), nullptr);

    ASSERT_EQ(create("t", 1, 1, 2), 0);
    commit();
    EXPECT_EQ(sl_controller_alter_topic_config(&batch, "t", "segment.ms", "x", err, sizeof(err)),
              SL_KAFKA_INVALID_CONFIG);
    EXPECT_EQ(sl_controller_alter_topic_config(&batch, "t", "nope", "1", err, sizeof(err)),
              SL_KAFKA_INVALID_CONFIG);
    ASSERT_EQ(sl_controller_alter_topic_config(&batch, "t", "segment.ms", "1000", err, sizeof(err)),
              0);
    commit();
    EXPECT_STREQ(sl_md_topic_config(sl_md_image_topic(image, "t"), "segment.ms"), "1000");
    ASSERT_EQ(
        sl_controller_alter_topic_config(&batch, "t", "segment.ms", nullptr, err, sizeof(err)), 0);
    commit();
    EXPECT_EQ(sl_md_topic_config(sl_md_image_topic(image, "t"), "segment.ms"), nullptr);
}

// AlterConfigs / IncrementalAlterConfigs: one resource changes as a unit.
TEST_F(ControllerTest, AlterConfigsAllOrNothingReplaceAndListOperations)
{
    add_broker(1);
    ASSERT_EQ(create("t", 1, 1, 3), 0);
    commit();
    char err[256];
    auto req = std::make_unique<sl_controller_alter_configs_request>();
    auto change = [&](const char *key, uint8_t op, const char *value) {
        sl_controller_config_change &c = req->changes[req->change_count++];
        snprintf(c.key, sizeof(c.key), "%s", key);
        c.op = op;
        c.has_value = value != nullptr;
        snprintf(c.value, sizeof(c.value), "%s", value ? value : "");
    };
    auto reset = [&](int8_t type, const char *name, bool replace) {
        *req = sl_controller_alter_configs_request{};
        req->resource_type = type;
        snprintf(req->resource_name, sizeof(req->resource_name), "%s", name);
        req->replace_all = replace;
    };
    auto topic_config = [&](const char *key) {
        const char *v = sl_md_topic_config(sl_md_image_topic(image, "t"), key);
        return v ? std::string(v) : std::string("<unset>");
    };
    reset(SL_MD_RESOURCE_TOPIC, "t", false);
    change("retention.ms", SL_CONTROLLER_CONFIG_SET, "1000");
    change("segment.ms", SL_CONTROLLER_CONFIG_SET, "60000");
    ASSERT_EQ(sl_controller_alter_configs(&batch, req.get(), err, sizeof(err)), 0) << err;
    commit();
    EXPECT_EQ(topic_config("retention.ms"), "1000");
    EXPECT_EQ(topic_config("segment.ms"), "60000");

    // One bad value: nothing of the resource changes, the error names key and value.
    reset(SL_MD_RESOURCE_TOPIC, "t", false);
    change("retention.ms", SL_CONTROLLER_CONFIG_SET, "5");
    change("segment.bytes", SL_CONTROLLER_CONFIG_SET, "banana");
    EXPECT_EQ(sl_controller_alter_configs(&batch, req.get(), err, sizeof(err)),
              SL_KAFKA_INVALID_CONFIG);
    EXPECT_NE(std::string(err).find("segment.bytes"), std::string::npos) << err;
    EXPECT_NE(std::string(err).find("banana"), std::string::npos) << err;
    EXPECT_EQ(batch.count, 0u);
    reset(SL_MD_RESOURCE_TOPIC, "t", false);
    change("retention.ms", SL_CONTROLLER_CONFIG_SET, "5");
    change("retention.ms", SL_CONTROLLER_CONFIG_DELETE, nullptr);
    EXPECT_EQ(sl_controller_alter_configs(&batch, req.get(), err, sizeof(err)),
              SL_KAFKA_INVALID_REQUEST); // duplicate key
    reset(SL_MD_RESOURCE_TOPIC, "t", false);
    change("retention.ms", SL_CONTROLLER_CONFIG_APPEND, "5");
    EXPECT_EQ(sl_controller_alter_configs(&batch, req.get(), err, sizeof(err)),
              SL_KAFKA_INVALID_REQUEST); // not a list key
    reset(SL_MD_RESOURCE_TOPIC, "nope", false);
    change("retention.ms", SL_CONTROLLER_CONFIG_SET, "5");
    EXPECT_EQ(sl_controller_alter_configs(&batch, req.get(), err, sizeof(err)),
              SL_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    EXPECT_EQ(batch.count, 0u);

    // APPEND starts from the default ("delete"), SUBTRACT removes items.
    reset(SL_MD_RESOURCE_TOPIC, "t", false);
    change("cleanup.policy", SL_CONTROLLER_CONFIG_APPEND, "compact,delete");
    ASSERT_EQ(sl_controller_alter_configs(&batch, req.get(), err, sizeof(err)), 0) << err;
    commit();
    EXPECT_EQ(topic_config("cleanup.policy"), "delete,compact");
    reset(SL_MD_RESOURCE_TOPIC, "t", false);
    change("cleanup.policy", SL_CONTROLLER_CONFIG_SUBTRACT, "delete");
    ASSERT_EQ(sl_controller_alter_configs(&batch, req.get(), err, sizeof(err)), 0) << err;
    commit();
    EXPECT_EQ(topic_config("cleanup.policy"), "compact");

    // AlterConfigs (replace_all): keys not listed lose their override.
    reset(SL_MD_RESOURCE_TOPIC, "t", true);
    change("segment.ms", SL_CONTROLLER_CONFIG_SET, "70000");
    ASSERT_EQ(sl_controller_alter_configs(&batch, req.get(), err, sizeof(err)), 0) << err;
    commit();
    EXPECT_EQ(topic_config("segment.ms"), "70000");
    EXPECT_EQ(topic_config("retention.ms"), "<unset>");
    EXPECT_EQ(topic_config("cleanup.policy"), "<unset>");

    // Broker resources: only the dynamic keys.
    reset(SL_MD_RESOURCE_BROKER, "", false);
    change("log.retention.bytes", SL_CONTROLLER_CONFIG_SET, "1000000");
    change("log.dirs", SL_CONTROLLER_CONFIG_SET, "/x");
    EXPECT_EQ(sl_controller_alter_configs(&batch, req.get(), err, sizeof(err)),
              SL_KAFKA_INVALID_REQUEST);
    EXPECT_NE(std::string(err).find("'log.dirs' cannot be updated dynamically"), std::string::npos)
        << err;
    EXPECT_EQ(batch.count, 0u);
    reset(SL_MD_RESOURCE_BROKER, "1", true);
    change("log.retention.bytes", SL_CONTROLLER_CONFIG_SET, "1000000");
    ASSERT_EQ(sl_controller_alter_configs(&batch, req.get(), err, sizeof(err)), 0) << err;
    commit();
    EXPECT_STREQ(sl_md_image_broker_config(image, "1", "log.retention.bytes"), "1000000");
    EXPECT_EQ(sl_md_image_broker_config(image, "", "log.retention.bytes"), nullptr);
}

TEST_F(ControllerTest, BrokerRegistrationConflictsAndIdempotence)
{
    add_broker(1);
    sl_controller_register_broker_request req;
    memset(&req, 0, sizeof(req));
    req.broker_id = 1;
    req.incarnation_id = test_uuid(5001); // what add_broker used
    int64_t epoch = 0;
    ASSERT_EQ(sl_controller_register_broker(&batch, &settings, &liveness, &req, now, &epoch), 0);
    EXPECT_EQ(epoch, epochs[1]);
    EXPECT_EQ(batch.count, 0u) << "same incarnation: nothing to record";

    req.incarnation_id = test_uuid(777);
    EXPECT_EQ(sl_controller_register_broker(&batch, &settings, &liveness, &req, now + 100, &epoch),
              SL_KAFKA_DUPLICATE_BROKER_REGISTRATION);
    now += settings.broker_session_timeout_ms + 1;
    ASSERT_EQ(sl_controller_register_broker(&batch, &settings, &liveness, &req, now, &epoch), 0);
    EXPECT_GT(epoch, epochs[1]);
    commit();
    EXPECT_TRUE(sl_md_image_broker(image, 1)->fenced) << "registered brokers start fenced";
    EXPECT_EQ(sl_controller_heartbeat(&batch, &settings, &liveness, 1, epochs[1], false, now),
              SL_KAFKA_STALE_BROKER_EPOCH);
    EXPECT_EQ(sl_controller_heartbeat(&batch, &settings, &liveness, 9, 1, false, now),
              SL_KAFKA_BROKER_ID_NOT_REGISTERED);
    ASSERT_EQ(sl_controller_heartbeat(&batch, &settings, &liveness, 1, epoch, false, now), 0);
    commit();
    EXPECT_FALSE(sl_md_image_broker(image, 1)->fenced);
}

// A broker restarted before its session expired keeps its incarnation: the same
// registration is a no-op, a changed listener replaces the registration at once (no
// DUPLICATE_BROKER_REGISTRATION, no wait for the old session).
TEST_F(ControllerTest, SameIncarnationWithNewListenersReRegistersAtOnce)
{
    add_broker(1);
    add_broker(2);
    ASSERT_EQ(create("t", 2, 1, 1), 0);
    commit();
    sl_controller_register_broker_request req;
    memset(&req, 0, sizeof(req));
    req.broker_id = 1;
    req.incarnation_id = test_uuid(5001);
    req.listener_count = 1;
    snprintf(req.listeners[0].name, sizeof(req.listeners[0].name), "PLAINTEXT");
    snprintf(req.listeners[0].host, sizeof(req.listeners[0].host), "127.0.0.1");
    req.listeners[0].port = 19092;
    int64_t epoch = 0;
    ASSERT_EQ(sl_controller_register_broker(&batch, &settings, &liveness, &req, now + 10, &epoch),
              0);
    EXPECT_GT(epoch, epochs[1]);
    commit();
    const sl_md_broker *b = sl_md_image_broker(image, 1);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->listeners[0].port, 19092);
    EXPECT_TRUE(b->fenced) << "a new registration starts fenced until its heartbeat";
    int64_t again = 0;
    ASSERT_EQ(sl_controller_register_broker(&batch, &settings, &liveness, &req, now + 20, &again),
              0);
    EXPECT_EQ(again, epoch);
    EXPECT_EQ(batch.count, 0u) << "unchanged: nothing to record";
    ASSERT_EQ(sl_controller_heartbeat(&batch, &settings, &liveness, 1, epoch, false, now + 30), 0);
    commit();
    EXPECT_FALSE(sl_md_image_broker(image, 1)->fenced);
    for (int32_t p = 0; p < 2; p++) {
        EXPECT_NE(part("t", p)->leader, SL_MD_NO_LEADER) << "leaders return with the heartbeat";
    }
}

TEST_F(ControllerTest, BrokerLossMovesLeadersWithinIsrAndBumpsEpochs)
{
    for (int32_t id : {1, 2, 3}) {
        add_broker(id);
    }
    ASSERT_EQ(create("t", 3, 3, 1), 0);
    commit();
    std::map<int32_t, sl_md_partition> before;
    for (int32_t p = 0; p < 3; p++) {
        before[p] = *part("t", p);
    }
    int32_t lost = part("t", 0)->leader;

    now += 5000;
    heartbeat_all_except(lost);
    EXPECT_EQ(sl_controller_check_sessions(&batch, &settings, &liveness, now), 0);
    now += 5000; // the lost broker is now 10 s silent, the others 5 s
    EXPECT_EQ(sl_controller_check_sessions(&batch, &settings, &liveness, now), 1);
    commit();
    EXPECT_TRUE(sl_md_image_broker(image, lost)->fenced);
    for (int32_t p = 0; p < 3; p++) {
        const sl_md_partition *sp = part("t", p);
        EXPECT_NE(sp->leader, lost);
        EXPECT_NE(sp->leader, SL_MD_NO_LEADER);
        EXPECT_EQ(sp->isr_count, 2);
        for (int i = 0; i < sp->isr_count; i++) {
            EXPECT_NE(sp->isr[i], lost);
        }
        EXPECT_EQ(sp->partition_epoch, before[p].partition_epoch + 1);
        bool moved = before[p].leader == lost;
        EXPECT_EQ(sp->leader_epoch, before[p].leader_epoch + (moved ? 1 : 0)) << p;
        if (moved) {
            // The next replica in preference order takes over.
            EXPECT_EQ(sp->leader, before[p].replicas[1]);
        }
    }

    // The broker comes back: unfenced, but not a leader until it rejoins the ISR.
    ASSERT_EQ(sl_controller_heartbeat(&batch, &settings, &liveness, lost, epochs[lost], false, now),
              0);
    commit();
    EXPECT_FALSE(sl_md_image_broker(image, lost)->fenced);
    EXPECT_NE(part("t", 0)->leader, lost);
    EXPECT_EQ(sl_controller_elect_preferred(&batch, "t", 0),
              SL_KAFKA_PREFERRED_LEADER_NOT_AVAILABLE);
    // Leaders add it back to their ISR; then preferred election restores the layout.
    for (int32_t p = 0; p < 3; p++) {
        const sl_md_partition *sp = part("t", p);
        sl_controller_alter_partition_request req;
        memset(&req, 0, sizeof(req));
        req.broker_id = sp->leader;
        req.broker_epoch = epochs[sp->leader];
        req.topic_id = sp->topic_id;
        req.partition = p;
        req.leader_epoch = sp->leader_epoch;
        req.partition_epoch = sp->partition_epoch;
        req.isr_count = 3;
        memcpy(req.isr, sp->replicas, sizeof(int32_t) * 3);
        int32_t new_epoch = 0;
        ASSERT_EQ(sl_controller_alter_partition(&batch, &req, &new_epoch), 0) << p;
        EXPECT_EQ(new_epoch, sp->partition_epoch + 1);
    }
    commit();
    EXPECT_EQ(sl_controller_rebalance_leaders(&batch), 1);
    commit();
    EXPECT_EQ(sl_controller_rebalance_leaders(&batch), 0);
    EXPECT_EQ(sl_controller_elect_preferred(&batch, "t", 0), SL_KAFKA_ELECTION_NOT_NEEDED);
    EXPECT_EQ(sl_controller_elect_preferred(&batch, "t", 7), SL_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    for (int32_t p = 0; p < 3; p++) {
        EXPECT_EQ(part("t", p)->leader, before[p].leader);
        EXPECT_EQ(part("t", p)->isr_count, 3);
    }
    EXPECT_EQ(part("t", 0)->leader_epoch, before[0].leader_epoch + 2);
}

TEST_F(ControllerTest, LastIsrMemberLossIsCleanUnlessUncleanIsEnabled)
{
    add_broker(1);
    add_broker(2);
    ASSERT_EQ(create("t", 1, 2, 1), 0);
    commit();
    const sl_md_partition *sp = part("t", 0);
    int32_t leader = sp->leader;
    int32_t follower = sp->replicas[1];
    // The leader shrinks the ISR to itself (the follower lags).
    sl_controller_alter_partition_request req;
    memset(&req, 0, sizeof(req));
    req.broker_id = leader;
    req.broker_epoch = epochs[leader];
    req.topic_id = sp->topic_id;
    req.leader_epoch = sp->leader_epoch;
    req.partition_epoch = sp->partition_epoch;
    req.isr_count = 1;
    req.isr[0] = leader;
    int32_t pe;
    ASSERT_EQ(sl_controller_alter_partition(&batch, &req, &pe), 0);
    commit();

    sl_md_image *saved = sl_md_image_ref(image);
    ASSERT_EQ(sl_controller_fence_broker(&batch, &settings, leader), 0);
    commit();
    EXPECT_EQ(part("t", 0)->leader, SL_MD_NO_LEADER) << "no clean candidate: offline";
    EXPECT_EQ(part("t", 0)->isr_count, 1);
    EXPECT_EQ(part("t", 0)->isr[0], leader) << "last ISR member stays recorded";
    // It returns: clean election picks it again.
    ASSERT_EQ(
        sl_controller_heartbeat(&batch, &settings, &liveness, leader, epochs[leader], false, now),
        0);
    commit();
    EXPECT_EQ(part("t", 0)->leader, leader);

    // Same loss with unclean election: the out-of-sync follower takes over.
    sl_controller_batch_free(&batch);
    sl_md_image_unref(image);
    image = saved;
    begin();
    settings.unclean_leader_election = true;
    ASSERT_EQ(sl_controller_fence_broker(&batch, &settings, leader), 0);
    commit();
    EXPECT_EQ(part("t", 0)->leader, follower);
    EXPECT_EQ(part("t", 0)->isr_count, 1);
    EXPECT_EQ(part("t", 0)->isr[0], follower);
}

TEST_F(ControllerTest, AlterPartitionChecks)
{
    for (int32_t id : {1, 2, 3}) {
        add_broker(id);
    }
    ASSERT_EQ(create("t", 1, 3, 1), 0);
    commit();
    const sl_md_partition *sp = part("t", 0);
    sl_controller_alter_partition_request good;
    memset(&good, 0, sizeof(good));
    good.broker_id = sp->leader;
    good.broker_epoch = epochs[sp->leader];
    good.topic_id = sp->topic_id;
    good.leader_epoch = sp->leader_epoch;
    good.partition_epoch = sp->partition_epoch;
    good.isr_count = 2;
    good.isr[0] = sp->replicas[0];
    good.isr[1] = sp->replicas[1];
    int32_t pe;
    auto with = [&](auto change) {
        sl_controller_alter_partition_request r = good;
        change(r);
        return sl_controller_alter_partition(&batch, &r, &pe);
    };
    EXPECT_EQ(with([](auto &r) { r.topic_id = test_uuid(99); }), SL_KAFKA_UNKNOWN_TOPIC_ID);
    EXPECT_EQ(with([](auto &r) { r.partition = 5; }), SL_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    EXPECT_EQ(with([](auto &r) { r.broker_epoch += 1; }), SL_KAFKA_STALE_BROKER_EPOCH);
    EXPECT_EQ(with([&](auto &r) {
                  r.broker_id = sp->replicas[1];
                  r.broker_epoch = epochs[sp->replicas[1]];
              }),
              SL_KAFKA_NOT_LEADER_OR_FOLLOWER);
    EXPECT_EQ(with([](auto &r) { r.leader_epoch += 1; }), SL_KAFKA_FENCED_LEADER_EPOCH);
    EXPECT_EQ(with([](auto &r) { r.partition_epoch += 1; }), SL_KAFKA_INVALID_UPDATE_VERSION);
    EXPECT_EQ(with([&](auto &r) { r.isr[0] = sp->replicas[2]; }), SL_KAFKA_INVALID_REQUEST);
    EXPECT_EQ(with([](auto &r) { r.isr[1] = r.isr[0]; }), SL_KAFKA_INVALID_REQUEST);
    EXPECT_EQ(with([](auto &r) { r.isr[1] = 42; }), SL_KAFKA_INELIGIBLE_REPLICA);
    EXPECT_EQ(batch.count, 0u);
    ASSERT_EQ(with([](auto &) {}), 0);
    commit();
    EXPECT_EQ(part("t", 0)->isr_count, 2);
    // A fenced replica may not rejoin the ISR.
    int32_t third = part("t", 0)->replicas[2];
    ASSERT_EQ(sl_controller_fence_broker(&batch, &settings, third), 0);
    commit();
    good.partition_epoch = part("t", 0)->partition_epoch;
    good.isr_count = 3;
    good.isr[2] = third;
    EXPECT_EQ(sl_controller_alter_partition(&batch, &good, &pe), SL_KAFKA_INELIGIBLE_REPLICA);
}

TEST_F(ControllerTest, BrokerConfigsAndUnregistration)
{
    add_broker(1);
    add_broker(2);
    char err[256];
    EXPECT_EQ(
        sl_controller_alter_broker_config(&batch, "x", "log.retention.ms", "1", err, sizeof(err)),
        SL_KAFKA_INVALID_REQUEST);
    EXPECT_EQ(sl_controller_alter_broker_config(&batch, "", "nope", "1", err, sizeof(err)),
              SL_KAFKA_INVALID_CONFIG);
    EXPECT_EQ(sl_controller_alter_broker_config(&batch, "1", "listeners", "PLAINTEXT://h:1", err,
                                                sizeof(err)),
              SL_KAFKA_INVALID_REQUEST);
    EXPECT_NE(std::string(err).find("cannot be updated dynamically"), std::string::npos) << err;
    EXPECT_EQ(
        sl_controller_alter_broker_config(&batch, "", "log.retention.ms", "-5", err, sizeof(err)),
        SL_KAFKA_INVALID_CONFIG);
    EXPECT_EQ(batch.count, 0u);
    ASSERT_EQ(
        sl_controller_alter_broker_config(&batch, "", "log.retention.ms", "1000", err, sizeof(err)),
        0);
    ASSERT_EQ(sl_controller_alter_broker_config(&batch, "2", "message.max.bytes", "2000", err,
                                                sizeof(err)),
              0);
    commit();
    EXPECT_STREQ(sl_md_image_broker_config(image, "", "log.retention.ms"), "1000");
    EXPECT_STREQ(sl_md_image_broker_config(image, "2", "message.max.bytes"), "2000");
    ASSERT_EQ(sl_controller_alter_broker_config(&batch, "", "log.retention.ms", nullptr, err,
                                                sizeof(err)),
              0);
    commit();
    EXPECT_EQ(sl_md_image_broker_config(image, "", "log.retention.ms"), nullptr);

    ASSERT_EQ(create("t", 2, 2, 1), 0);
    commit();
    EXPECT_EQ(sl_controller_unregister_broker(&batch, &settings, 9),
              SL_KAFKA_BROKER_ID_NOT_REGISTERED);
    ASSERT_EQ(sl_controller_unregister_broker(&batch, &settings, 1), 0);
    commit();
    EXPECT_EQ(sl_md_image_broker(image, 1), nullptr);
    for (int32_t p = 0; p < 2; p++) {
        EXPECT_EQ(part("t", p)->leader, 2);
        EXPECT_EQ(part("t", p)->isr_count, 1);
    }
}
