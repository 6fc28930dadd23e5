// OffsetCommit / OffsetFetch / OffsetDelete / DeleteGroups / ListGroups / DescribeGroups,
// retention and deleted-topic cleanup, and Kafka's group placement hash.
#include <algorithm>
#include <string.h>

#include "tests/groups/group_fixture.h"

using namespace sl_group_test;

namespace
{

class offsets : public coordinator_test
{
  protected:
    // A Stable one-member group; returns (member id, generation).
    std::pair<std::string, int32_t> stable_group(const std::string &group,
                                                 const std::vector<std::string> &topics)
    {
        join_args a;
        a.group = group;
        a.protocols = {{"range", subscription(topics)}};
        int j = join_new(a);
        EXPECT_TRUE(joins[j].done);
        std::string m = joins[j].member_id;
        sync(group, m, joins[j].generation, {{m, "assignment"}});
        return {m, joins[j].generation};
    }
};

TEST_F(offsets, commit_is_acknowledged_only_when_persisted)
{
    auto [m, gen] = stable_group("g", {"t"});
    persist_all();
    int c = commit("g", m, gen, {{"t", 0, 42, "meta"}, {"t", 1, 43, ""}, {"u", 0, 5, "x"}});
    EXPECT_FALSE(commits[c].done);
    std::vector<uint8_t> buf(config.batch_bytes);
    uint64_t id = 0;
    int64_t n = sl_group_coordinator_take_batch(coord, buf.data(), buf.size(), &id);
    ASSERT_GT(n, 0);
    EXPECT_FALSE(commits[c].done); // taken, not yet durable
    // A later commit goes into the next batch and waits for it.
    int c2 = commit("g", m, gen, {{"t", 0, 44, ""}});
    sl_group_coordinator_persisted(coord, id, true);
    ASSERT_TRUE(commits[c].done);
    EXPECT_FALSE(commits[c2].done);
    EXPECT_EQ(commits[c].errors.size(), 3u);
    for (const auto &e : commits[c].errors)
        EXPECT_EQ(e.second, SL_KAFKA_ERR_NONE);
    persist_all();
    EXPECT_TRUE(commits[c2].done);

    auto f = fetch("g", {{"t", {0, 1, 2}}, {"u", {0}}});
    EXPECT_EQ(f[tp("t", 0)].offset, 44);
    EXPECT_EQ(f[tp("t", 0)].leader_epoch, 7);
    EXPECT_EQ(f[tp("t", 1)].offset, 43);
    EXPECT_EQ(f[tp("t", 2)].offset, -1); // never committed
    EXPECT_EQ(f[tp("u", 0)].metadata, "x");
    auto all = fetch("g");
    EXPECT_EQ(all.size(), 3u);
    EXPECT_EQ(all[tp("t", 1)].offset, 43);
    EXPECT_TRUE(fetch("other").empty());
    auto none = fetch("other", {{"t", {0}}});
    EXPECT_EQ(none[tp("t", 0)].offset, -1);
}

TEST_F(offsets, failed_persist_fails_the_commit_and_the_coordinator)
{
    int c = commit("g", "", -1, {{"t", 0, 1, ""}}, 2);
    std::vector<uint8_t> buf(config.batch_bytes);
    uint64_t id = 0;
    ASSERT_GT(sl_group_coordinator_take_batch(coord, buf.data(), buf.size(), &id), 0);
    sl_group_coordinator_persisted(coord, id, false);
    ASSERT_TRUE(commits[c].done);
    EXPECT_EQ((commits[c].errors[tp("t", 0)]), SL_KAFKA_ERR_NOT_COORDINATOR);
    EXPECT_EQ(heartbeat("g", "m", 1), SL_KAFKA_ERR_NOT_COORDINATOR);
    int c2 = commit("g", "", -1, {{"t", 0, 1, ""}}, 2);
    EXPECT_EQ((commits[c2].errors[tp("t", 0)]), SL_KAFKA_ERR_NOT_COORDINATOR);
}

TEST_F(offsets, commit_checks_generation_member_and_metadata_size)
{
    auto [m, gen] = stable_group("g", {"t"});
    int c = commit("g", m, gen + 1, {{"t", 0, 1, ""}});
    EXPECT_EQ((commits[c].errors[tp("t", 0)]), SL_KAFKA_ERR_ILLEGAL_GENERATION);
    c = commit("g", "stranger", gen, {{"t", 0, 1, ""}});
    EXPECT_EQ((commits[c].errors[tp("t", 0)]), SL_KAFKA_ERR_UNKNOWN_MEMBER_ID);
    c = commit("g", "", -1, {{"t", 0, 1, ""}}); // simple commit into a non-empty group
    EXPECT_EQ((commits[c].errors[tp("t", 0)]), SL_KAFKA_ERR_UNKNOWN_MEMBER_ID);
    c = commit("nogroup", "m", 3, {{"t", 0, 1, ""}});
    EXPECT_EQ((commits[c].errors[tp("t", 0)]), SL_KAFKA_ERR_ILLEGAL_GENERATION);
    std::string big(config.offset_metadata_bytes_max + 1, 'm');
    c = commit("g", m, gen, {{"t", 0, 1, big}, {"t", 1, 2, "ok"}});
    persist_all();
    ASSERT_TRUE(commits[c].done);
    EXPECT_EQ((commits[c].errors[tp("t", 0)]), SL_KAFKA_ERR_OFFSET_METADATA_TOO_LARGE);
    EXPECT_EQ((commits[c].errors[tp("t", 1)]), SL_KAFKA_ERR_NONE);
    // During a rebalance's CompletingRebalance phase commits are refused.
    join_args b;
    b.client_id = "c2";
    b.protocols = {{"range", subscription({"t"})}};
    join_new(b);
    join_args a;
    a.member_id = m;
    a.protocols = {{"range", subscription({"t"})}};
    int rj = join(a);
    ASSERT_TRUE(joins[rj].done);
    c = commit("g", m, joins[rj].generation, {{"t", 0, 9, ""}});
    EXPECT_EQ((commits[c].errors[tp("t", 0)]), SL_KAFKA_ERR_REBALANCE_IN_PROGRESS);
}

TEST_F(offsets, commit_by_a_fenced_static_member_is_refused)
{
    join_args a;
    a.instance = "i1";
    int j = join(a);
    std::string old_id = joins[j].member_id;
    sync("g", old_id, 1, {{old_id, "x"}});
    int r = join(a); // restart: new member id, old one fenced
    ASSERT_EQ(joins[r].error, SL_KAFKA_ERR_NONE);
    int c = commit("g", old_id, 1, {{"t", 0, 1, ""}}, 8, -1, 7, "i1");
    EXPECT_EQ((commits[c].errors[tp("t", 0)]), SL_KAFKA_ERR_FENCED_INSTANCE_ID);
    c = commit("g", joins[r].member_id, 1, {{"t", 0, 1, ""}}, 8, -1, 7, "i1");
    persist_all();
    EXPECT_EQ((commits[c].errors[tp("t", 0)]), SL_KAFKA_ERR_NONE);
}

TEST_F(offsets, v8_fetch_of_several_groups)
{
    commit("a", "", -1, {{"t", 0, 10, ""}});
    commit("b", "", -1, {{"t", 0, 20, ""}, {"t", 1, 21, ""}});
    persist_all();
    sl_codec_offset_fetch_request req;
    sl_codec_offset_fetch_request_init(&req);
    std::vector<sl_codec_offset_fetch_request_offset_fetch_request_group> gs(2);
    int32_t parts[] = {0};
    sl_codec_offset_fetch_request_offset_fetch_request_topics topic{};
    topic.name = S("t");
    topic.partition_indexes = parts;
    topic.partition_indexes_count = 1;
    std::string a = "a", b = "b";
    gs[0] = {};
    gs[0].group_id = S(a);
    gs[0].topics = &topic;
    gs[0].topics_count = 1;
    gs[1] = {};
    gs[1].group_id = S(b);
    gs[1].topics = nullptr;
    gs[1].topics_count = -1; // all
    req.groups = gs.data();
    req.groups_count = 2;
    sl_codec_offset_fetch_response resp;
    sl_group_offset_fetch(coord, &req, 8, &resp);
    ASSERT_EQ(resp.groups_count, 2);
    ASSERT_EQ(resp.groups[0].topics_count, 1);
    EXPECT_EQ(resp.groups[0].topics[0].partitions[0].committed_offset, 10);
    ASSERT_EQ(resp.groups[1].topics_count, 1);
    EXPECT_EQ(resp.groups[1].topics[0].partitions_count, 2);
}

TEST_F(offsets, retention_of_empty_group_and_explicit_retention)
{
    auto [m, gen] = stable_group("g", {"t"});
    commit("g", m, gen, {{"t", 0, 5, ""}});
    commit("simple", "", -1, {{"t", 0, 6, ""}}, 2, 60000); // v2 explicit retention 60 s
    persist_all();
    sl_group_cleanup_report r;
    for (int i = 0; i < 11; i++) { // 55 s, heartbeating within the session
        advance(5000);
        heartbeat("g", m, gen);
    }
    advance(4000);
    heartbeat("g", m, gen);
    sl_group_coordinator_cleanup(coord, now_ms, &r);
    EXPECT_EQ(r.offsets_expired, 0u);
    advance(1000);
    heartbeat("g", m, gen);
    sl_group_coordinator_cleanup(coord, now_ms, &r);
    EXPECT_EQ(r.offsets_expired, 1u);
    EXPECT_EQ(r.groups_removed, 0u); // "simple" became Empty only 60 s ago
    EXPECT_EQ(fetch("simple", {{"t", {0}}})[tp("t", 0)].offset, -1);
    // The consumer group's offsets stay while it has members, however old.
    now_ms += config.offsets_retention_ms;
    EXPECT_EQ(heartbeat("g", m, gen), SL_KAFKA_ERR_NONE);
    sl_group_coordinator_cleanup(coord, now_ms, &r);
    EXPECT_EQ(r.offsets_expired, 0u);
    EXPECT_EQ(r.groups_removed, 1u); // "simple": Empty and without offsets for a retention
    EXPECT_EQ(info("simple").state, SL_GROUP_DEAD);
    // Empty: retention counts from then.
    leave("g", {{m, ""}});
    ASSERT_EQ(info("g").state, SL_GROUP_EMPTY);
    now_ms += config.offsets_retention_ms - 1;
    sl_group_coordinator_cleanup(coord, now_ms, &r);
    EXPECT_EQ(r.offsets_expired, 0u);
    now_ms += 1;
    sl_group_coordinator_cleanup(coord, now_ms, &r);
    EXPECT_EQ(r.offsets_expired, 1u);
    EXPECT_EQ(r.groups_removed, 1u);
    EXPECT_EQ(info("g").state, SL_GROUP_DEAD);
    std::vector<uint8_t> log;
    persist_all(&log);
    EXPECT_GT(log.size(), 0u); // tombstones were written
}

TEST_F(offsets, offsets_of_deleted_topics_are_removed)
{
    commit("g", "", -1, {{"keep", 0, 1, ""}, {"gone", 0, 2, ""}, {"gone", 1, 3, ""}});
    persist_all();
    deleted_topics.insert("gone");
    sl_group_cleanup_report r;
    sl_group_coordinator_cleanup(coord, now_ms, &r);
    EXPECT_EQ(r.offsets_deleted_topics, 2u);
    auto all = fetch("g");
    EXPECT_EQ(all.size(), 1u);
    EXPECT_EQ(all.count({"keep", 0}), 1u);
}

TEST_F(offsets, offset_delete_refuses_subscribed_topics)
{
    auto [m, gen] = stable_group("g", {"sub"});
    commit("g", m, gen, {{"sub", 0, 1, ""}, {"other", 0, 2, ""}});
    persist_all();
    sl_codec_offset_delete_request req;
    sl_codec_offset_delete_request_init(&req);
    std::vector<sl_codec_offset_delete_request_offset_delete_request_topic> ts(2);
    sl_codec_offset_delete_request_offset_delete_request_partition p0{};
    p0.partition_index = 0;
    std::string sub = "sub", other = "other", g = "g";
    ts[0] = {};
    ts[0].name = S(sub);
    ts[0].partitions = &p0;
    ts[0].partitions_count = 1;
    ts[1] = ts[0];
    ts[1].name = S(other);
    req.group_id = S(g);
    req.topics = ts.data();
    req.topics_count = 2;
    sl_codec_offset_delete_response resp;
    sl_group_offset_delete(coord, &req, 0, now_ms, &resp);
    EXPECT_EQ(resp.error_code, SL_KAFKA_ERR_NONE);
    ASSERT_EQ(resp.topics_count, 2);
    EXPECT_EQ(resp.topics[0].partitions[0].error_code, SL_KAFKA_ERR_GROUP_SUBSCRIBED_TO_TOPIC);
    EXPECT_EQ(resp.topics[1].partitions[0].error_code, SL_KAFKA_ERR_NONE);
    auto all = fetch("g");
    EXPECT_EQ(all.size(), 1u);
    EXPECT_EQ(all.count({"sub", 0}), 1u);
    std::string missing = "missing";
    req.group_id = S(missing);
    sl_group_offset_delete(coord, &req, 0, now_ms, &resp);
    EXPECT_EQ(resp.error_code, SL_KAFKA_ERR_GROUP_ID_NOT_FOUND);
}

TEST_F(offsets, delete_groups_list_and_describe)
{
    auto [m, gen] = stable_group("busy", {"t"});
    commit("idle", "", -1, {{"t", 0, 1, ""}});
    persist_all();

    sl_codec_list_groups_request lreq;
    sl_codec_list_groups_request_init(&lreq);
    sl_codec_list_groups_response lresp;
    sl_group_list(coord, &lreq, 4, &lresp);
    EXPECT_EQ(lresp.groups_count, 2);
    std::string stable = "stable";
    sl_codec_slice filter = S(stable);
    lreq.states_filter = &filter;
    lreq.states_filter_count = 1;
    sl_group_list(coord, &lreq, 4, &lresp);
    ASSERT_EQ(lresp.groups_count, 1);
    EXPECT_EQ(str(lresp.groups[0].group_id), "busy");
    EXPECT_EQ(str(lresp.groups[0].protocol_type), "consumer");

    std::vector<std::string> names = {"busy", "idle", "nope"};
    std::vector<sl_codec_slice> slices;
    for (auto &n : names)
        slices.push_back(S(n));
    sl_codec_describe_groups_request dreq;
    sl_codec_describe_groups_request_init(&dreq);
    dreq.groups = slices.data();
    dreq.groups_count = 3;
    sl_codec_describe_groups_response dresp;
    sl_group_describe(coord, &dreq, 5, &dresp);
    ASSERT_EQ(dresp.groups_count, 3);
    EXPECT_EQ(str(dresp.groups[0].group_state), "Stable");
    EXPECT_EQ(str(dresp.groups[0].protocol_data), "range");
    ASSERT_EQ(dresp.groups[0].members_count, 1);
    EXPECT_EQ(str(dresp.groups[0].members[0].member_id), m);
    EXPECT_EQ(str(dresp.groups[0].members[0].client_id), "client");
    EXPECT_EQ(str(dresp.groups[0].members[0].member_assignment), "assignment");
    EXPECT_EQ(str(dresp.groups[1].group_state), "Empty");
    EXPECT_EQ(str(dresp.groups[2].group_state), "Dead");
    EXPECT_EQ(dresp.groups[2].error_code, SL_KAFKA_ERR_NONE);

    sl_codec_delete_groups_request req;
    sl_codec_delete_groups_request_init(&req);
    req.groups_names = slices.data();
    req.groups_names_count = 3;
    sl_codec_delete_groups_response resp;
    sl_group_delete(coord, &req, 2, now_ms, &resp);
    ASSERT_EQ(resp.results_count, 3);
    EXPECT_EQ(resp.results[0].error_code, SL_KAFKA_ERR_NON_EMPTY_GROUP);
    EXPECT_EQ(resp.results[1].error_code, SL_KAFKA_ERR_NONE);
    EXPECT_EQ(resp.results[2].error_code, SL_KAFKA_ERR_GROUP_ID_NOT_FOUND);
    EXPECT_EQ(info("idle").state, SL_GROUP_DEAD);
    EXPECT_EQ(fetch("idle", {{"t", {0}}})[tp("t", 0)].offset, -1);
    EXPECT_GT(persist_all(), 0); // tombstones
}

class tiny_offsets : public coordinator_test
{
    void tune(sl_group_config &c) override
    {
        c.offsets_max = 2;
        c.pending_commits_max = 1;
    }
};

TEST_F(tiny_offsets, full_offset_and_pending_pools_are_errors)
{
    int c = commit("g", "", -1, {{"t", 0, 1, ""}, {"t", 1, 1, ""}, {"t", 2, 1, ""}});
    int c2 = commit("g", "", -1, {{"t", 0, 2, ""}}); // one commit may wait at a time
    ASSERT_TRUE(commits[c2].done);
    EXPECT_EQ((commits[c2].errors[tp("t", 0)]), SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
    persist_all();
    ASSERT_TRUE(commits[c].done);
    EXPECT_EQ((commits[c].errors[tp("t", 0)]), SL_KAFKA_ERR_NONE);
    EXPECT_EQ((commits[c].errors[tp("t", 1)]), SL_KAFKA_ERR_NONE);
    EXPECT_EQ((commits[c].errors[tp("t", 2)]), SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
    // Updating an existing entry still works with the pool full.
    int c3 = commit("g", "", -1, {{"t", 1, 9, ""}});
    persist_all();
    EXPECT_EQ((commits[c3].errors[tp("t", 1)]), SL_KAFKA_ERR_NONE);
    EXPECT_EQ((fetch("g", {{"t", {1}}})[tp("t", 1)].offset), 9);
}

class small_ring : public coordinator_test
{
    void tune(sl_group_config &c) override
    {
        c.pending_commit_bytes = 1024;
        c.pending_commits_max = 8;
    }
};

// Waiting commits keep their responses in a FIFO ring that wraps around; each response
// must come back intact (its own topics and partitions) however the ring was cut.
TEST_F(small_ring, waiting_responses_survive_ring_wrap_around)
{
    std::vector<std::vector<uint8_t>> batches;
    std::vector<uint64_t> ids;
    std::map<int, std::vector<std::pair<std::string, int32_t>>> expected;
    std::vector<int> order;
    int refused = 0;
    uint64_t rng = 7;
    for (int i = 0; i < 200; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        int parts = 1 + (int)((rng >> 33) % 6);
        std::vector<tp_offset> os;
        std::string topic = "topic-" + std::to_string(i) + std::string((rng >> 40) % 30, 'x');
        for (int p = 0; p < parts; p++)
            os.push_back({topic, p, i, ""});
        int c = commit("g", "", -1, os);
        if (commits[c].done) { // ring or slots full: refused at once
            for (const auto &e : commits[c].errors)
                EXPECT_EQ(e.second, SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
            refused++;
        } else {
            for (const auto &o : os)
                expected[c].push_back({o.topic, o.partition});
            order.push_back(c);
        }
        std::vector<uint8_t> buf(config.batch_bytes);
        uint64_t id = 0;
        int64_t n = sl_group_coordinator_take_batch(coord, buf.data(), buf.size(), &id);
        if (n > 0)
            ids.push_back(id);
        // Persist lazily: the oldest batch every other step.
        if (i % 2 == 1 && !ids.empty()) {
            sl_group_coordinator_persisted(coord, ids.front(), true);
            ids.erase(ids.begin());
        }
    }
    for (uint64_t id : ids)
        sl_group_coordinator_persisted(coord, id, true);
    EXPECT_GT(refused, 0);
    EXPECT_GT(order.size(), 40u);
    for (int c : order) {
        ASSERT_TRUE(commits[c].done) << c;
        std::vector<std::pair<std::string, int32_t>> got;
        for (const auto &e : commits[c].errors) {
            got.push_back(e.first);
            EXPECT_EQ(e.second, SL_KAFKA_ERR_NONE);
        }
        std::sort(got.begin(), got.end());
        std::sort(expected[c].begin(), expected[c].end());
        EXPECT_EQ(got, expected[c]) << c;
    }
    sl_group_coordinator_check(coord);
}

TEST(group_partition, matches_kafka_placement)
{
    // Expected values: Java's String.hashCode, Kafka's Utils.abs, mod partitions.
    struct {
        const char *id;
        int32_t p50;
        int32_t p7;
    } cases[] = {
        {"", 0, 0},
        {"my-group", 12, 1},   // hashCode -1906497762
        {"test-group", 12, 2}, // 627841412
        {"console-consumer-12345", 6, 6},
        {"hello", 22, 0},                   // 99162322
        {"h\xc3\xa9llo-gruppe", 4, 0},      // non-ASCII, 2-byte UTF-8
        {"\xe7\xbe\xa4\xe7\xbb\x84", 8, 0}, // CJK, 3-byte UTF-8
        {"group-\xf0\x9f\x98\x80", 7, 6},   // emoji: a UTF-16 surrogate pair
        {"polygenelubricants", 0, 0},       // hashCode == Integer.MIN_VALUE: abs gives 0
    };
    for (const auto &c : cases) {
        const uint8_t *p = reinterpret_cast<const uint8_t *>(c.id);
        EXPECT_EQ(sl_group_partition_for(p, strlen(c.id), 50), c.p50) << c.id;
        EXPECT_EQ(sl_group_partition_for(p, strlen(c.id), 7), c.p7) << c.id;
    }
}

} // namespace
