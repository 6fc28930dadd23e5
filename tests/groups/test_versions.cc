// Every API version the codec serves: the coordinator's answers must encode at that version
// and decode back (the fixture checks each response), and version-dependent behaviour
// (KIP-394 from JoinGroup v4, leader epoch from OffsetCommit v6, retention v2-4) holds.
#include "tests/groups/group_fixture.h"

using namespace sl_group_test;

namespace
{

class versions_test : public coordinator_test
{
};

TEST_F(versions_test, join_sync_heartbeat_leave_at_every_version)
{
    for (int16_t v = 0; v <= 9; v++) {
        join_args a;
        a.group = "g" + std::to_string(v);
        a.version = v;
        int j = join(a);
        ASSERT_TRUE(joins[j].done) << v;
        if (v >= 4) {
            ASSERT_EQ(joins[j].error, SL_KAFKA_ERR_MEMBER_ID_REQUIRED) << v;
            a.member_id = joins[j].member_id;
            j = join(a);
        }
        ASSERT_EQ(joins[j].error, SL_KAFKA_ERR_NONE) << v;
        std::string m = joins[j].member_id;
        int16_t sv = v > 5 ? 5 : v;
        int s = sync(a.group, m, joins[j].generation, {{m, "x"}}, sv);
        ASSERT_TRUE(syncs[s].done) << v;
        EXPECT_EQ(syncs[s].error, SL_KAFKA_ERR_NONE) << v;
        int16_t hv = v > 4 ? 4 : v;
        EXPECT_EQ(heartbeat(a.group, m, joins[j].generation, "", hv), SL_KAFKA_ERR_NONE) << v;
        EXPECT_EQ(heartbeat(a.group, m, 99, "", hv), SL_KAFKA_ERR_ILLEGAL_GENERATION) << v;
        int16_t lv = v > 5 ? 5 : v;
        auto errs = leave(a.group, {{m, ""}}, lv);
        EXPECT_EQ(errs[0], SL_KAFKA_ERR_NONE) << v;
        if (lv >= 3) {
            ASSERT_EQ(errs.size(), 2u);
            EXPECT_EQ(errs[1], SL_KAFKA_ERR_NONE);
        }
        EXPECT_EQ(info(a.group).state, SL_GROUP_EMPTY) << v;
    }
    // Error answers encode too (v0-6 protocol_name is not nullable).
    for (int16_t v = 0; v <= 9; v++) {
        join_args a;
        a.version = v;
        a.session_ms = 1;
        EXPECT_EQ(joins[join(a)].error, SL_KAFKA_ERR_INVALID_SESSION_TIMEOUT);
    }
}

TEST_F(versions_test, commit_and_fetch_at_every_version)
{
    for (int16_t v = 0; v <= 9; v++) {
        std::string g = "c" + std::to_string(v);
        int c = commit(g, "", -1, {{"t", 0, 100 + v, "m"}}, v, v >= 2 && v <= 4 ? 60000 : -1);
        persist_all();
        ASSERT_TRUE(commits[c].done) << v;
        EXPECT_EQ((commits[c].errors[tp("t", 0)]), SL_KAFKA_ERR_NONE) << v;
        for (int16_t fv = 0; fv <= 7; fv++) {
            auto f = fetch(g, {{"t", {0, 1}}}, fv);
            EXPECT_EQ(f[tp("t", 0)].offset, 100 + v) << v << "/" << fv;
            EXPECT_EQ(f[tp("t", 0)].leader_epoch, v >= 6 ? 7 : -1) << v;
            EXPECT_EQ(f[tp("t", 1)].offset, -1);
            if (fv >= 2) { // all partitions: v2+
                EXPECT_EQ(fetch(g, {}, fv).size(), 1u) << fv;
            }
        }
    }
    // v8/v9: groups array.
    for (int16_t fv = 8; fv <= 9; fv++) {
        sl_codec_offset_fetch_request req;
        sl_codec_offset_fetch_request_init(&req);
        sl_codec_offset_fetch_request_offset_fetch_request_group g{};
        g.group_id = S("c3");
        g.member_id = null_slice();
        g.topics = nullptr;
        g.topics_count = -1;
        req.groups = &g;
        req.groups_count = 1;
        sl_codec_offset_fetch_response resp;
        sl_group_offset_fetch(coord, &req, fv, &resp);
        check_encodes(9, fv, &resp);
        ASSERT_EQ(resp.groups_count, 1);
        ASSERT_EQ(resp.groups[0].topics_count, 1);
        EXPECT_EQ(resp.groups[0].topics[0].partitions[0].committed_offset, 103);
    }
}

TEST_F(versions_test, admin_apis_at_every_version)
{
    join_args a;
    a.group = "busy";
    int j = join_new(a);
    std::string m = joins[j].member_id;
    sync("busy", m, joins[j].generation, {{m, "x"}});
    commit("idle", "", -1, {{"t", 0, 1, ""}});
    persist_all();
    std::vector<sl_codec_slice> names = {S("busy"), S("idle"), S("")};
    for (int16_t v = 0; v <= 5; v++) {
        sl_codec_describe_groups_request req;
        sl_codec_describe_groups_request_init(&req);
        req.groups = names.data();
        req.groups_count = 3;
        sl_codec_describe_groups_response resp;
        sl_group_describe(coord, &req, v, &resp);
        check_encodes(15, v, &resp);
        ASSERT_EQ(resp.groups_count, 3);
        EXPECT_EQ(resp.groups[2].error_code, SL_KAFKA_ERR_INVALID_GROUP_ID);

        sl_codec_list_groups_request lreq;
        sl_codec_list_groups_request_init(&lreq);
        sl_codec_list_groups_response lresp;
        sl_group_list(coord, &lreq, v, &lresp);
        check_encodes(16, v, &lresp);
        EXPECT_EQ(lresp.groups_count, 2);
    }
    sl_codec_slice classic = S("Classic"), consumer = S("consumer");
    sl_codec_list_groups_request lreq;
    sl_codec_list_groups_request_init(&lreq);
    lreq.types_filter = &consumer;
    lreq.types_filter_count = 1;
    sl_codec_list_groups_response lresp;
    sl_group_list(coord, &lreq, 5, &lresp);
    EXPECT_EQ(lresp.groups_count, 0); // only classic groups live here
    lreq.types_filter = &classic;
    sl_group_list(coord, &lreq, 5, &lresp);
    EXPECT_EQ(lresp.groups_count, 2);

    for (int16_t v = 0; v <= 2; v++) {
        sl_codec_delete_groups_request req;
        sl_codec_delete_groups_request_init(&req);
        req.groups_names = names.data();
        req.groups_names_count = 1; // "busy": never deletable while it has members
        sl_codec_delete_groups_response resp;
        sl_group_delete(coord, &req, v, now_ms, &resp);
        check_encodes(42, v, &resp);
        EXPECT_EQ(resp.results[0].error_code, SL_KAFKA_ERR_NON_EMPTY_GROUP);
    }
    sl_codec_offset_delete_request req;
    sl_codec_offset_delete_request_init(&req);
    sl_codec_offset_delete_request_offset_delete_request_partition p{};
    sl_codec_offset_delete_request_offset_delete_request_topic t{};
    t.name = S("t");
    t.partitions = &p;
    t.partitions_count = 1;
    req.group_id = S("idle");
    req.topics = &t;
    req.topics_count = 1;
    sl_codec_offset_delete_response resp;
    sl_group_offset_delete(coord, &req, 0, now_ms, &resp);
    check_encodes(47, 0, &resp);
    EXPECT_EQ(resp.topics[0].partitions[0].error_code, SL_KAFKA_ERR_NONE);
    EXPECT_EQ(fetch("idle", {{"t", {0}}})[tp("t", 0)].offset, -1);
}

} // namespace
