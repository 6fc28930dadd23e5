// Seeded simulation: simulated clients follow the classic protocol (join, MEMBER_ID_REQUIRED,
// sync, heartbeat, commit, leave, go silent) against one coordinator while the clock jumps,
// batches are persisted late, and the coordinator restarts from a snapshot. After every
// step the coordinator's internal invariants are checked; at the end every request that
// was not dropped by a restart must have been answered exactly once, and protocol-level
// rules must have held (one leader per generation, assignments from that leader).
#include <set>
#include <stdio.h>

#include "tests/groups/group_fixture.h"

using namespace sl_group_test;

namespace
{

struct sim_client {
    std::string group;
    std::string instance;
    std::string client_id;
    std::string member_id;
    int32_t generation = -1;
    enum { IDLE, JOINING, JOINED, SYNCING, STABLE } phase = IDLE;
    int ctx = 0;
    bool leader = false;
    std::vector<std::string> members;
    int16_t version = 9;
};

class simulation : public coordinator_test
{
  protected:
    uint64_t seed = 0;
    std::vector<sim_client> clients;
    std::set<int> dropped; // requests lost with a restarted coordinator
    int restarts = 0;
    uint64_t rebalances = 0, expired = 0;
    std::map<std::pair<std::string, int32_t>, std::string> leaders; // (group, gen) -> leader
    std::map<std::string, int32_t> max_generation;

    void tune(sl_group_config &c) override
    {
        c.session_timeout_ms_min = 1000;
        c.initial_rebalance_delay_ms = 500;
        c.group_size_max = 5;
        c.members_max = 12;
    }

    uint32_t rnd(uint32_t n)
    {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        return (uint32_t)((seed >> 33) % n);
    }

    void reset(sim_client &c)
    {
        if (c.instance.empty())
            c.member_id.clear();
        c.phase = sim_client::IDLE;
        c.generation = -1;
    }

    void on_join_done(sim_client &c)
    {
        const join_result &r = joins[c.ctx];
        if (r.error == SL_KAFKA_ERR_NONE) {
            c.member_id = r.member_id;
            c.generation = r.generation;
            c.leader = r.leader == r.member_id;
            c.members.clear();
            for (const auto &m : r.members)
                c.members.push_back(m.id);
            if (c.instance.empty()) {
                auto key = std::make_pair(c.group, r.generation);
                auto it = leaders.find(key);
                if (it == leaders.end())
                    leaders[key] = r.leader;
                else
                    EXPECT_EQ(it->second, r.leader) << "two leaders in one generation";
            }
            c.phase = sim_client::JOINED;
        } else if (r.error == SL_KAFKA_ERR_MEMBER_ID_REQUIRED) {
            c.member_id = r.member_id;
            c.phase = sim_client::IDLE;
        } else if (r.error == SL_KAFKA_ERR_REBALANCE_IN_PROGRESS) {
            c.phase = sim_client::IDLE;
        } else {
            reset(c);
        }
    }

    void on_sync_done(sim_client &c)
    {
        const sync_result &r = syncs[c.ctx];
        if (r.error == SL_KAFKA_ERR_NONE) {
            if (c.instance.empty()) {
                EXPECT_EQ(r.assignment, "a-" + c.member_id + "-" + std::to_string(c.generation));
            }
            c.phase = sim_client::STABLE;
        } else if (r.error == SL_KAFKA_ERR_REBALANCE_IN_PROGRESS) {
            c.phase = sim_client::IDLE;
        } else {
            reset(c);
        }
    }

    void step_client(sim_client &c)
    {
        switch (c.phase) {
        case sim_client::IDLE: {
            join_args a;
            a.group = c.group;
            a.member_id = c.member_id;
            a.instance = c.instance;
            a.client_id = c.client_id;
            a.version = c.version;
            a.session_ms = 5000;
            a.rebalance_ms = 8000;
            c.ctx = join(a);
            c.phase = sim_client::JOINING;
            break;
        }
        case sim_client::JOINING:
            if (joins[c.ctx].done)
                on_join_done(c);
            break;
        case sim_client::JOINED: {
            std::vector<std::pair<std::string, std::string>> assignment;
            if (c.leader)
                for (const auto &m : c.members)
                    assignment.push_back({m, "a-" + m + "-" + std::to_string(c.generation)});
            c.ctx = sync(c.group, c.member_id, c.generation, assignment, 5, c.instance, false);
            c.phase = sim_client::SYNCING;
            break;
        }
        case sim_client::SYNCING:
            if (syncs[c.ctx].done)
                on_sync_done(c);
            break;
        case sim_client::STABLE: {
            uint32_t r = rnd(20);
            if (r < 14) {
                int16_t e = heartbeat(c.group, c.member_id, c.generation, c.instance);
                if (e == SL_KAFKA_ERR_REBALANCE_IN_PROGRESS)
                    c.phase = sim_client::IDLE;
                else if (e != SL_KAFKA_ERR_NONE)
                    reset(c);
            } else if (r < 17) {
                commit(c.group, c.member_id, c.generation,
                       {{"t", (int32_t)rnd(4), (int64_t)rnd(1000), ""}});
            } else if (r < 18) {
                leave(c.group, {{c.member_id, c.instance}});
                reset(c);
                if (!c.instance.empty())
                    c.member_id.clear();
            } // else: silent this step
            break;
        }
        }
    }

    void restart()
    {
        // The broker restarts the coordinator from its compacted state.
        restarts++;
        persist_all();
        rebalances += sl_group_coordinator_counters(coord)->rebalances;
        expired += sl_group_coordinator_counters(coord)->sessions_expired;
        std::vector<uint8_t> snap, buf(64 * 1024);
        sl_group_snapshot_cursor cur{};
        for (;;) {
            int64_t n = sl_group_coordinator_snapshot(coord, &cur, buf.data(), buf.size(), now_ms);
            ASSERT_GE(n, 0);
            if (n == 0)
                break;
            snap.insert(snap.end(), buf.begin(), buf.begin() + n);
        }
        for (auto &j : joins)
            if (!j.second.done)
                dropped.insert(j.first);
        for (auto &s : syncs)
            if (!s.second.done)
                dropped.insert(s.first);
        for (auto &c : commits)
            if (!c.second.done)
                dropped.insert(c.first);
        sl_group_coordinator_destroy(coord);
        coord = nullptr;
        make();
        ASSERT_EQ(sl_group_coordinator_load(coord, snap.data(), snap.size(), now_ms), 0);
        for (auto &c : clients)
            if (c.phase == sim_client::JOINING || c.phase == sim_client::SYNCING)
                c.phase = sim_client::IDLE; // the connection broke: retry
    }

    void run(uint64_t s, int steps)
    {
        seed = s;
        clients.clear();
        for (int i = 0; i < 7; i++) {
            sim_client c;
            c.group = i < 4 ? "dyn" : "stat";
            c.instance = i < 4 ? "" : "inst-" + std::to_string(i);
            c.client_id = "c" + std::to_string(i);
            c.version = (int16_t)(3 + rnd(7));
            clients.push_back(c);
        }
        for (int step = 0; step < steps; step++) {
            uint32_t r = rnd(1000);
            if (r < 700) {
                step_client(clients[rnd((uint32_t)clients.size())]);
            } else if (r < 850) {
                advance(rnd(1500));
            } else if (r < 980) {
                persist_all();
            } else if (r < 998) {
                sl_group_coordinator_cleanup(coord, now_ms, nullptr);
            } else {
                restart();
            }
            sl_group_coordinator_check(coord);
            if (HasFatalFailure())
                return;
        }
        // Quiesce: everybody stops; every request still parked gets its answer.
        for (int i = 0; i < 40; i++) {
            persist_all();
            advance(1000);
        }
        persist_all();
        sl_group_coordinator_check(coord);
        for (auto &j : joins)
            EXPECT_TRUE(j.second.done || dropped.count(j.first)) << "join " << j.first;
        for (auto &sy : syncs)
            EXPECT_TRUE(sy.second.done || dropped.count(sy.first)) << "sync " << sy.first;
        for (auto &c : commits)
            EXPECT_TRUE(c.second.done || dropped.count(c.first)) << "commit " << c.first;
        // Generations never go back, in the order answers were delivered.
        std::map<uint64_t, std::pair<std::string, int32_t>> by_seq;
        for (auto &j : joins)
            if (j.second.done && j.second.error == SL_KAFKA_ERR_NONE)
                by_seq[j.second.seq] = {join_groups[j.first], j.second.generation};
        for (auto &e : by_seq) {
            EXPECT_GE(e.second.second, max_generation[e.second.first]) << "answer " << e.first;
            max_generation[e.second.first] = e.second.second;
        }
        int stable_syncs = 0, heartbeats_ok = 0;
        for (auto &sy : syncs)
            stable_syncs += sy.second.done && sy.second.error == SL_KAFKA_ERR_NONE;
        (void)heartbeats_ok;
        printf(
            "seed %llu: %zu joins, %zu syncs (%d ok), %zu commits, %zu dropped by %d "
            "restarts, %llu rebalances, %llu sessions expired\n",
            (unsigned long long)s, joins.size(), syncs.size(), stable_syncs, commits.size(),
            dropped.size(), restarts,
            (unsigned long long)(rebalances + sl_group_coordinator_counters(coord)->rebalances),
            (unsigned long long)(expired + sl_group_coordinator_counters(coord)->sessions_expired));
        EXPECT_GT(stable_syncs, 0);
        for (const char *g : {"dyn", "stat"}) {
            sl_group_state st = info(g).state;
            EXPECT_TRUE(st == SL_GROUP_EMPTY || st == SL_GROUP_DEAD) << g;
        }
    }
};

TEST_F(simulation, seeds)
{
    for (uint64_t s = 1; s <= 12; s++) {
        SCOPED_TRACE("seed " + std::to_string(s));
        sl_group_coordinator_destroy(coord);
        coord = nullptr;
        make();
        joins.clear();
        syncs.clear();
        commits.clear();
        dropped.clear();
        restarts = 0;
        rebalances = expired = 0;
        leaders.clear();
        max_generation.clear();
        run(s, 20000);
        if (HasFailure())
            break;
    }
    EXPECT_GT(sl_group_coordinator_counters(coord)->rebalances, 0u);
}

} // namespace
