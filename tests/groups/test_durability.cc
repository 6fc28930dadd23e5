// Durability: every staged batch goes into a real partition log (storage/log.h on a temp
// dir), is acknowledged once the log says it is durable, and after close + reopen the
// replayed log (and a compacted snapshot of it) rebuilds the same state.
#include <algorithm>
#include <sstream>

#include "storage/batch_builder.h"
#include "storage/log.h"
#include "tests/groups/group_fixture.h"
#include "tests/storage/storage_fixture.h"

using namespace sl_group_test;

namespace
{

class durability : public coordinator_test
{
  protected:
    sl_test::temp_dir dir;
    sl_storage *st = nullptr;
    sl_log *log = nullptr;
    sl_log_config log_config{};

    void SetUp() override
    {
        coordinator_test::SetUp();
        sl_storage_config sc = sl_test::small_engine_config();
        ASSERT_EQ(sl_storage_create(&sc, &st), SL_STORAGE_OK);
        log_config = sl_test::small_log_config();
        open_log();
    }
    void TearDown() override
    {
        if (log != nullptr)
            sl_log_close(log);
        sl_storage_destroy(st);
        coordinator_test::TearDown();
    }
    void open_log()
    {
        sl_log_callbacks cbs{nullptr, nullptr};
        ASSERT_EQ(sl_log_open(st, dir.path.c_str(), "__consumer_offsets", 7, &log_config, &cbs,
                              now_ms, &log, nullptr),
                  SL_STORAGE_OK);
    }

    void persist_staged() override
    {
        persist();
    }

    // The broker's part: append the staged batch, wait until durable, report it.
    void persist()
    {
        std::vector<uint8_t> buf(config.batch_bytes);
        uint64_t id = 0;
        int64_t n = sl_group_coordinator_take_batch(coord, buf.data(), buf.size(), &id);
        ASSERT_GE(n, 0);
        if (n == 0)
            return;
        sl_log_append_result res;
        ASSERT_EQ(sl_log_append(log, buf.data(), (size_t)n, nullptr, 0, 0, now_ms, &res),
                  SL_STORAGE_OK);
        sl_log_flush(log);
        sl_test::drain(st);
        ASSERT_GE(sl_log_durable_end_offset(log), res.log_end_offset);
        sl_group_coordinator_persisted(coord, id, true);
    }

    // Everything observable about the state, through the public API.
    std::string dump()
    {
        std::ostringstream out;
        sl_codec_list_groups_request lreq;
        sl_codec_list_groups_request_init(&lreq);
        sl_codec_list_groups_response lresp;
        sl_group_list(coord, &lreq, 4, &lresp);
        std::vector<std::string> groups;
        for (int32_t i = 0; i < lresp.groups_count; i++)
            groups.push_back(str(lresp.groups[i].group_id));
        std::sort(groups.begin(), groups.end());
        for (const auto &g : groups) {
            sl_group_info i = info(g);
            out << "group " << g << " state=" << sl_group_state_name(i.state)
                << " gen=" << i.generation << " type=" << i.protocol_type
                << " protocol=" << i.protocol << " leader=" << i.leader
                << " members=" << i.member_count << " offsets=" << i.offset_count << "\n";
            sl_codec_slice name = S(g);
            sl_codec_describe_groups_request dreq;
            sl_codec_describe_groups_request_init(&dreq);
            dreq.groups = &name;
            dreq.groups_count = 1;
            sl_codec_describe_groups_response dresp;
            sl_group_describe(coord, &dreq, 5, &dresp);
            std::vector<std::string> members;
            for (int32_t k = 0; k < dresp.groups[0].members_count; k++) {
                const auto &m = dresp.groups[0].members[k];
                members.push_back(str(m.member_id) + " inst=" + str(m.group_instance_id) +
                                  " client=" + str(m.client_id) + " host=" + str(m.client_host) +
                                  " meta=" + str(m.member_metadata) +
                                  " assign=" + str(m.member_assignment));
            }
            std::sort(members.begin(), members.end());
            for (const auto &m : members)
                out << "  member " << m << "\n";
            for (const auto &o : fetch(g))
                out << "  offset " << o.first.first << "/" << o.first.second << "="
                    << o.second.offset << " epoch=" << o.second.leader_epoch
                    << " meta=" << o.second.metadata << "\n";
        }
        return out.str();
    }

    // A Stable group of the given members (instance ids: empty = dynamic).
    std::vector<std::string> stable_group(const std::string &group,
                                          const std::vector<std::string> &instances)
    {
        std::vector<join_args> args;
        std::vector<int> ids;
        for (size_t i = 0; i < instances.size(); i++) {
            join_args a;
            a.group = group;
            a.instance = instances[i];
            a.client_id = "client-" + std::to_string(i);
            a.protocols = {{"range", subscription({"t" + std::to_string(i)})}};
            a.version = 5;
            args.push_back(a);
        }
        // Each joins in turn; the earlier ones then rejoin so one generation holds all
        // (the last member's first join completes with them).
        std::vector<int> first;
        for (auto &a : args)
            first.push_back(a.instance.empty() ? join_new(a) : join(a));
        for (size_t i = 0; i + 1 < args.size(); i++) {
            args[i].member_id = joins[first[i]].member_id;
            ids.push_back(join(args[i]));
        }
        ids.push_back(first.back());
        std::vector<std::string> members;
        for (int id : ids) {
            EXPECT_TRUE(joins[id].done);
            EXPECT_EQ(joins[id].error, SL_KAFKA_ERR_NONE);
            members.push_back(joins[id].member_id);
        }
        int32_t gen = joins[ids[0]].generation;
        std::vector<std::pair<std::string, std::string>> assignment;
        for (size_t i = 0; i < members.size(); i++)
            assignment.push_back({members[i], "assign-" + group + "-" + std::to_string(i)});
        // The leader is the first member.
        int s = sync(group, members[0], gen, assignment);
        EXPECT_EQ(syncs[s].error, SL_KAFKA_ERR_NONE);
        for (size_t i = 1; i < members.size(); i++)
            sync(group, members[i], gen);
        EXPECT_EQ(info(group).state, SL_GROUP_STABLE);
        return members;
    }
};

TEST_F(durability, replay_of_the_log_and_of_a_snapshot_rebuilds_the_state)
{
    auto stat = stable_group("static", {"i0", "i1"});
    auto dyn = stable_group("dynamic", {"", ""});
    persist();
    int32_t sgen = info("static").generation, dgen = info("dynamic").generation;
    int c1 = commit("static", stat[0], sgen, {{"t0", 0, 100, "m0"}, {"t0", 1, 101, ""}});
    int c2 = commit("dynamic", dyn[1], dgen, {{"t1", 3, 7, "x"}});
    int c3 = commit("simple", "", -1, {{"t9", 0, 5, "s"}}, 2, 3600000);
    int c4 = commit("gone", "", -1, {{"t9", 0, 1, ""}});
    EXPECT_FALSE(commits[c1].done || commits[c2].done || commits[c3].done || commits[c4].done);
    persist();
    EXPECT_TRUE(commits[c1].done && commits[c2].done && commits[c3].done && commits[c4].done);
    // Later values overwrite, tombstones delete.
    commit("static", stat[0], sgen, {{"t0", 0, 200, "m0b"}});
    persist();
    {
        std::string gone = "gone";
        sl_codec_slice name = S(gone);
        sl_codec_delete_groups_request req;
        sl_codec_delete_groups_request_init(&req);
        req.groups_names = &name;
        req.groups_names_count = 1;
        sl_codec_delete_groups_response resp;
        sl_group_delete(coord, &req, 2, now_ms, &resp);
        ASSERT_EQ(resp.results[0].error_code, SL_KAFKA_ERR_NONE);
    }
    // The dynamic group empties: persisted as Empty with its generation.
    leave("dynamic", {{dyn[0], ""}, {dyn[1], ""}});
    ASSERT_EQ(info("dynamic").state, SL_GROUP_EMPTY);
    persist();
    std::string before = dump();
    EXPECT_NE(before.find("group static state=Stable"), std::string::npos) << before;
    EXPECT_NE(before.find("group dynamic state=Empty"), std::string::npos) << before;
    EXPECT_EQ(before.find("group gone"), std::string::npos) << before;

    // Restart: close the log, reopen it, replay into a fresh coordinator.
    ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
    log = nullptr;
    open_log();
    std::vector<uint8_t> bytes = sl_test::read_all(st, log, sl_log_start_offset(log));
    ASSERT_GT(bytes.size(), 0u);
    sl_group_coordinator_destroy(coord);
    make();
    ASSERT_EQ(sl_group_coordinator_load(coord, bytes.data(), bytes.size(), now_ms), 0);
    EXPECT_EQ(dump(), before);

    // A compacted snapshot replays to the same state, and is smaller than the log.
    std::vector<uint8_t> snap;
    sl_group_snapshot_cursor cur{};
    std::vector<uint8_t> buf(4096); // small buffer: several batches
    for (int i = 0; i < 1000; i++) {
        int64_t n = sl_group_coordinator_snapshot(coord, &cur, buf.data(), buf.size(), now_ms);
        ASSERT_GE(n, 0);
        if (n == 0)
            break;
        snap.insert(snap.end(), buf.begin(), buf.begin() + n);
    }
    EXPECT_LT(snap.size(), bytes.size());
    sl_group_coordinator_destroy(coord);
    make();
    ASSERT_EQ(sl_group_coordinator_load(coord, snap.data(), snap.size(), now_ms), 0);
    EXPECT_EQ(dump(), before);

    // After the restart a static member comes back with an empty member id: no rebalance.
    join_args a;
    a.group = "static";
    a.instance = "i1";
    a.client_id = "client-1";
    a.protocols = {{"range", subscription({"t1"})}};
    int j = join(a);
    ASSERT_TRUE(joins[j].done);
    EXPECT_EQ(joins[j].error, SL_KAFKA_ERR_NONE);
    EXPECT_EQ(joins[j].generation, sgen);
    EXPECT_EQ(info("static").state, SL_GROUP_STABLE);
    int s = sync("static", joins[j].member_id, sgen, {}, 5, "i1");
    EXPECT_EQ(syncs[s].assignment, "assign-static-1");
    // A dynamic member of the old generation is unknown after the group emptied.
    EXPECT_EQ(heartbeat("dynamic", dyn[0], dgen), SL_KAFKA_ERR_UNKNOWN_MEMBER_ID);
    // Sessions restart at load: without heartbeats the loaded members expire.
    advance(config.session_timeout_ms_max);
    EXPECT_EQ(info("static").member_count, 0u);
}

TEST_F(durability, load_rejects_garbage_and_skips_foreign_keys)
{
    std::vector<uint8_t> junk(100, 0xab);
    EXPECT_EQ(sl_group_coordinator_load(coord, junk.data(), junk.size(), now_ms), -EBADMSG);
    // A key version the coordinator does not know (e.g. 3) is skipped.
    std::vector<uint8_t> buf(1024);
    sl_batch_builder b;
    sl_batch_builder_init(&b, buf.data(), buf.size(), now_ms, 0, -1, -1, -1);
    const uint8_t key[] = {0, 3, 0, 1, 'x'};
    ASSERT_EQ(sl_batch_builder_add(&b, now_ms, key, sizeof(key), "v", 1, nullptr, 0), 0);
    size_t n = sl_batch_builder_finish(&b);
    EXPECT_EQ(sl_group_coordinator_load(coord, buf.data(), n, now_ms), 0);
    EXPECT_EQ(dump(), "");
}

// Group metadata value v3 of one static member, as the coordinator writes it.
static std::vector<uint8_t> group_value()
{
    std::vector<uint8_t> v;
    auto i16 = [&](int v16) {
        v.push_back((uint8_t)(v16 >> 8));
        v.push_back((uint8_t)v16);
    };
    auto i32 = [&](int32_t x) {
        for (int k = 3; k >= 0; k--)
            v.push_back((uint8_t)(x >> (8 * k)));
    };
    auto str16 = [&](const std::string &x) {
        i16((int)x.size());
        v.insert(v.end(), x.begin(), x.end());
    };
    auto bytes32 = [&](const std::string &x) {
        i32((int32_t)x.size());
        v.insert(v.end(), x.begin(), x.end());
    };
    i16(3);
    str16("consumer");
    i32(4);
    str16("range");
    str16("m1");
    i32(0);
    i32(1000); // state timestamp (int64)
    i32(1);
    str16("m1");
    str16("inst");
    str16("client");
    str16("/127.0.0.1");
    i32(30000);
    i32(10000);
    bytes32(subscription({"t"}));
    bytes32("assignment");
    return v;
}

// Records that pass the batch CRC but carry arbitrary keys and values (a corrupt or
// foreign offsets log) must be refused or applied, never crash or overrun (ASan build).
TEST_F(durability, load_survives_malformed_records)
{
    uint64_t seed = 0x5eed;
    auto next = [&seed]() {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        return (uint32_t)(seed >> 33);
    };
    std::vector<uint8_t> buf(64 * 1024);
    {
        // The unchanged record loads: one static member, Stable at generation 4.
        sl_batch_builder b;
        sl_batch_builder_init(&b, buf.data(), buf.size(), now_ms, 0, -1, -1, -1);
        const uint8_t key[] = {0, 2, 0, 1, 'g'};
        std::vector<uint8_t> value = group_value();
        ASSERT_EQ(sl_batch_builder_add(&b, now_ms, key, sizeof(key), value.data(),
                                       (int32_t)value.size(), nullptr, 0),
                  0);
        size_t n = sl_batch_builder_finish(&b);
        ASSERT_EQ(sl_group_coordinator_load(coord, buf.data(), n, now_ms), 0);
        EXPECT_EQ(info("g").state, SL_GROUP_STABLE);
        EXPECT_EQ(info("g").generation, 4);
        EXPECT_EQ(info("g").member_count, 1u);
        EXPECT_STREQ(info("g").leader, "m1");
    }
    int outcomes[3] = {0, 0, 0};
    for (int round = 0; round < 300; round++) {
        sl_group_coordinator_destroy(coord);
        coord = nullptr;
        make();
        sl_batch_builder b;
        sl_batch_builder_init(&b, buf.data(), buf.size(), now_ms, 0, -1, -1, -1);
        for (uint32_t r = 0, count = 1 + next() % 3; r < count; r++) {
            // A valid-looking prefix (key version 0-3, a group string) and random tails.
            std::vector<uint8_t> key = {0, (uint8_t)(next() % 4), 0, (uint8_t)(next() % 6)};
            for (uint32_t i = next() % 24; i > 0; i--)
                key.push_back((uint8_t)(next() % 4 == 0 ? next() : 'a' + next() % 3));
            std::vector<uint8_t> value = {0, (uint8_t)(next() % 6)};
            for (uint32_t i = next() % 80; i > 0; i--)
                value.push_back((uint8_t)(next() % 3 == 0 ? next() : next() % 4));
            if (next() % 2 == 0) {
                // A well-formed group record with a few bytes changed or cut off.
                key = {0, 2, 0, 1, 'g'};
                value = group_value();
                for (uint32_t i = next() % 3; i > 0; i--)
                    value[next() % value.size()] ^= (uint8_t)(1u << (next() % 8));
                if (next() % 3 == 0)
                    value.resize(next() % value.size());
            }
            bool tombstone = next() % 5 == 0;
            ASSERT_EQ(sl_batch_builder_add(&b, now_ms, key.data(), (int32_t)key.size(),
                                           tombstone ? nullptr : value.data(),
                                           tombstone ? -1 : (int32_t)value.size(), nullptr, 0),
                      0);
        }
        size_t n = sl_batch_builder_finish(&b);
        int rc = sl_group_coordinator_load(coord, buf.data(), n, now_ms);
        ASSERT_TRUE(rc == 0 || rc == -EBADMSG || rc == -ENOSPC) << rc;
        outcomes[rc == 0 ? 0 : rc == -EBADMSG ? 1 : 2]++;
        dump(); // whatever was loaded answers requests
        advance(1);
    }
    EXPECT_GT(outcomes[0], 0);
    EXPECT_GT(outcomes[1], 0);
}

} // namespace
