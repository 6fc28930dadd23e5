// Test support for the group coordinator: a coordinator with a fake clock, callbacks that
// copy every response into plain C++ values, and request builders.
#ifndef SL_TESTS_GROUPS_FIXTURE_H
#define SL_TESTS_GROUPS_FIXTURE_H

#include <gtest/gtest.h>
#include <map>
#include <set>
#include <stdint.h>
#include <string.h>
#include <string>
#include <vector>

#include "dataplane/codec/codec.h"
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/groups/group_coordinator.h"

namespace sl_group_test
{

inline sl_codec_slice S(const std::string &s)
{
    return sl_codec_slice{reinterpret_cast<const uint8_t *>(s.data()), (int32_t)s.size()};
}
// String literals stay valid, unlike a temporary std::string made from one.
inline sl_codec_slice S(const char *s)
{
    return sl_codec_slice{reinterpret_cast<const uint8_t *>(s), (int32_t)strlen(s)};
}
inline std::pair<std::string, int32_t> tp(const std::string &topic, int32_t partition)
{
    return {topic, partition};
}
inline sl_codec_slice null_slice()
{
    return sl_codec_slice{nullptr, -1};
}
inline std::string str(sl_codec_slice s)
{
    return s.len <= 0 ? std::string() : std::string(reinterpret_cast<const char *>(s.ptr), s.len);
}

struct join_member {
    std::string id;
    std::string instance;
    std::string metadata;
};

struct join_result {
    bool done = false;
    uint64_t seq = 0; // delivery order among all join answers
    int16_t error = -100;
    int32_t generation = -1;
    std::string protocol;
    std::string leader;
    std::string member_id;
    bool skip_assignment = false;
    std::vector<join_member> members;
};

struct sync_result {
    bool done = false;
    int16_t error = -100;
    std::string assignment;
    std::string protocol;
};

struct commit_result {
    bool done = false;
    std::map<std::pair<std::string, int32_t>, int16_t> errors;
};

// ConsumerProtocolSubscription v0: the topics list.
inline std::string subscription(const std::vector<std::string> &topics)
{
    std::string out;
    auto be16 = [&](uint16_t v) {
        out.push_back(char(v >> 8));
        out.push_back(char(v));
    };
    be16(0);
    uint32_t n = (uint32_t)topics.size();
    out.push_back(char(n >> 24));
    out.push_back(char(n >> 16));
    out.push_back(char(n >> 8));
    out.push_back(char(n));
    for (const auto &t : topics) {
        be16((uint16_t)t.size());
        out += t;
    }
    out += std::string("\xff\xff\xff\xff", 4); // null user data
    return out;
}

// Every response the coordinator hands out must encode at the request's version (the
// handler encodes it inside the callback) and decode back.
inline void check_encodes(int16_t api_key, int16_t version, const void *resp)
{
    static std::vector<uint8_t> buf(1 << 20), mem(1 << 20);
    sl_codec_encoder e;
    sl_codec_encoder_init(&e, buf.data(), buf.size(), nullptr, 0);
    sl_codec_response_header h{};
    h.correlation_id = 1;
    int rc = sl_codec_encode_response(&e, api_key, version, &h, resp);
    ASSERT_EQ(rc, 0) << "api " << api_key << " v" << version;
    sl_codec_arena arena;
    sl_codec_arena_init(&arena, mem.data(), mem.size());
    sl_codec_limits limits{100000, 1 << 20};
    sl_codec_response_header hdr;
    void *body = nullptr;
    size_t at = 0;
    rc = sl_codec_decode_response(buf.data() + 4, e.pos - 4, api_key, version, &arena, &limits,
                                  &hdr, &body, &at);
    EXPECT_EQ(rc, 0) << "api " << api_key << " v" << version << " at " << at;
}

struct protocol {
    std::string name;
    std::string metadata;
};

struct join_args {
    std::string group = "g";
    std::string member_id;
    std::string instance; // empty: dynamic
    std::string client_id = "client";
    std::vector<protocol> protocols = {{"range", "meta-range"}};
    std::string protocol_type = "consumer";
    int32_t session_ms = 10000;
    int32_t rebalance_ms = 30000;
    int16_t version = 9;
};

class coordinator_test : public ::testing::Test
{
  protected:
    sl_group_config config{};
    sl_group_coordinator *coord = nullptr;
    int64_t now_ms = 1000000;
    std::map<int, join_result> joins;
    std::map<int, sync_result> syncs;
    std::map<int, commit_result> commits;
    std::set<std::string> deleted_topics;
    int next_ctx = 1;
    std::map<int, int16_t> versions;        // request version per ctx id
    std::map<int, std::string> join_groups; // group per join ctx id
    uint64_t join_answers = 0;

    static void on_join(void *ctx, void *req_ctx, const sl_codec_join_group_response *r)
    {
        auto *t = static_cast<coordinator_test *>(ctx);
        check_encodes(11, t->versions[(int)(intptr_t)req_ctx], r);
        join_result &j = t->joins[(int)(intptr_t)req_ctx];
        EXPECT_FALSE(j.done) << "join answered twice";
        j.done = true;
        j.seq = ++t->join_answers;
        j.error = r->error_code;
        j.generation = r->generation_id;
        j.protocol = str(r->protocol_name);
        j.leader = str(r->leader);
        j.member_id = str(r->member_id);
        j.skip_assignment = r->skip_assignment;
        for (int32_t i = 0; i < r->members_count; i++)
            j.members.push_back({str(r->members[i].member_id), str(r->members[i].group_instance_id),
                                 str(r->members[i].metadata)});
    }
    static void on_sync(void *ctx, void *req_ctx, const sl_codec_sync_group_response *r)
    {
        auto *t = static_cast<coordinator_test *>(ctx);
        check_encodes(14, t->versions[(int)(intptr_t)req_ctx], r);
        sync_result &s = t->syncs[(int)(intptr_t)req_ctx];
        EXPECT_FALSE(s.done) << "sync answered twice";
        s.done = true;
        s.error = r->error_code;
        s.assignment = str(r->assignment);
        s.protocol = str(r->protocol_name);
    }
    static void on_commit(void *ctx, void *req_ctx, const sl_codec_offset_commit_response *r)
    {
        auto *t = static_cast<coordinator_test *>(ctx);
        check_encodes(8, t->versions[(int)(intptr_t)req_ctx], r);
        commit_result &c = t->commits[(int)(intptr_t)req_ctx];
        EXPECT_FALSE(c.done) << "commit answered twice";
        c.done = true;
        for (int32_t i = 0; i < r->topics_count; i++)
            for (int32_t k = 0; k < r->topics[i].partitions_count; k++)
                c.errors[{str(r->topics[i].name), r->topics[i].partitions[k].partition_index}] =
                    r->topics[i].partitions[k].error_code;
    }
    static bool topic_exists(void *ctx, const char *name, uint32_t len)
    {
        auto *t = static_cast<coordinator_test *>(ctx);
        return t->deleted_topics.count(std::string(name, len)) == 0;
    }

    virtual void tune(sl_group_config &)
    {
    }
    // How staged records become durable (the durability test uses a real log).
    virtual void persist_staged()
    {
        persist_all();
    }

    void SetUp() override
    {
        sl_group_config_default(&config);
        config.groups_max = 64;
        config.members_max = 64;
        config.group_size_max = 16;
        config.offsets_max = 512;
        config.topics_max = 64;
        config.member_metadata_bytes_max = 1024;
        config.member_assignment_bytes_max = 1024;
        config.pending_commit_bytes = 64 * 1024;
        config.scratch_bytes = 256 * 1024;
        config.batch_bytes = 256 * 1024;
        config.initial_rebalance_delay_ms = 0;
        tune(config);
        make();
    }
    void make()
    {
        sl_group_callbacks cb{on_join, on_sync, on_commit, topic_exists, this};
        ASSERT_EQ(sl_group_coordinator_create(&config, &cb, &coord), 0);
    }
    void TearDown() override
    {
        sl_group_coordinator_destroy(coord);
    }

    // Sends a JoinGroup; returns its ctx id (look at joins[id]).
    int join(const join_args &a)
    {
        int id = next_ctx++;
        joins[id];
        versions[id] = a.version;
        join_groups[id] = a.group;
        sl_codec_join_group_request req;
        sl_codec_join_group_request_init(&req);
        req.group_id = S(a.group);
        req.session_timeout_ms = a.session_ms;
        req.rebalance_timeout_ms = a.rebalance_ms;
        req.member_id = S(a.member_id);
        req.group_instance_id = a.instance.empty() ? null_slice() : S(a.instance);
        req.protocol_type = S(a.protocol_type);
        std::vector<sl_codec_join_group_request_join_group_request_protocol> ps(a.protocols.size());
        for (size_t i = 0; i < a.protocols.size(); i++) {
            ps[i] = {};
            ps[i].name = S(a.protocols[i].name);
            ps[i].metadata = S(a.protocols[i].metadata);
        }
        req.protocols = ps.data();
        req.protocols_count = (int32_t)ps.size();
        std::string host = "/127.0.0.1";
        sl_group_join(coord, &req, a.version, S(a.client_id), S(host), now_ms,
                      (void *)(intptr_t)id);
        return id;
    }

    // Dynamic member, v4+: MEMBER_ID_REQUIRED round trip; returns the rejoin's ctx id.
    int join_new(join_args a)
    {
        int first = join(a);
        EXPECT_TRUE(joins[first].done);
        EXPECT_EQ(joins[first].error, SL_KAFKA_ERR_MEMBER_ID_REQUIRED);
        a.member_id = joins[first].member_id;
        return join(a);
    }

    int sync(const std::string &group, const std::string &member, int32_t generation,
             const std::vector<std::pair<std::string, std::string>> &assignments = {},
             int16_t version = 5, const std::string &instance = "", bool persist = true)
    {
        int id = next_ctx++;
        syncs[id];
        versions[id] = version;
        sl_codec_sync_group_request req;
        sl_codec_sync_group_request_init(&req);
        req.group_id = S(group);
        req.member_id = S(member);
        req.generation_id = generation;
        req.group_instance_id = instance.empty() ? null_slice() : S(instance);
        std::vector<sl_codec_sync_group_request_sync_group_request_assignment> as(
            assignments.size());
        for (size_t i = 0; i < assignments.size(); i++) {
            as[i] = {};
            as[i].member_id = S(assignments[i].first);
            as[i].assignment = S(assignments[i].second);
        }
        req.assignments = as.data();
        req.assignments_count = (int32_t)as.size();
        sl_group_sync(coord, &req, version, now_ms, (void *)(intptr_t)id);
        if (persist) // the broker's part: the leader's assignment becomes durable
            persist_staged();
        return id;
    }

    int16_t heartbeat(const std::string &group, const std::string &member, int32_t generation,
                      const std::string &instance = "", int16_t version = 4)
    {
        sl_codec_heartbeat_request req;
        sl_codec_heartbeat_request_init(&req);
        req.group_id = S(group);
        req.member_id = S(member);
        req.generation_id = generation;
        req.group_instance_id = instance.empty() ? null_slice() : S(instance);
        sl_codec_heartbeat_response resp;
        sl_group_heartbeat(coord, &req, version, now_ms, &resp);
        check_encodes(12, version, &resp);
        return resp.error_code;
    }

    // v3+ batch leave; returns per-member errors, top-level first.
    std::vector<int16_t> leave(const std::string &group,
                               const std::vector<std::pair<std::string, std::string>> &ids,
                               int16_t version = 5)
    {
        sl_codec_leave_group_request req;
        sl_codec_leave_group_request_init(&req);
        req.group_id = S(group);
        std::vector<sl_codec_leave_group_request_member_identity> ms(ids.size());
        for (size_t i = 0; i < ids.size(); i++) {
            ms[i] = {};
            ms[i].member_id = S(ids[i].first);
            ms[i].group_instance_id = ids[i].second.empty() ? null_slice() : S(ids[i].second);
            ms[i].reason = null_slice();
        }
        if (version < 3 && !ids.empty())
            req.member_id = S(ids[0].first);
        req.members = ms.data();
        req.members_count = (int32_t)ms.size();
        sl_codec_leave_group_response resp;
        sl_group_leave(coord, &req, version, now_ms, &resp);
        check_encodes(13, version, &resp);
        std::vector<int16_t> out{resp.error_code};
        for (int32_t i = 0; i < resp.members_count; i++)
            out.push_back(resp.members[i].error_code);
        return out;
    }

    struct tp_offset {
        std::string topic;
        int32_t partition;
        int64_t offset;
        std::string metadata;
    };

    int commit(const std::string &group, const std::string &member, int32_t generation,
               const std::vector<tp_offset> &offsets, int16_t version = 8,
               int64_t retention_ms = -1, int32_t leader_epoch = 7,
               const std::string &instance = "")
    {
        int id = next_ctx++;
        commits[id];
        versions[id] = version;
        std::map<std::string,
                 std::vector<sl_codec_offset_commit_request_offset_commit_request_partition>>
            by_topic;
        std::vector<std::string> order;
        for (const auto &o : offsets) {
            if (by_topic.find(o.topic) == by_topic.end())
                order.push_back(o.topic);
            sl_codec_offset_commit_request_offset_commit_request_partition p;
            sl_codec_offset_commit_request_offset_commit_request_partition_init(&p);
            p.partition_index = o.partition;
            p.committed_offset = o.offset;
            p.committed_leader_epoch = leader_epoch;
            p.committed_metadata = S(o.metadata);
            by_topic[o.topic].push_back(p);
        }
        std::vector<sl_codec_offset_commit_request_offset_commit_request_topic> ts;
        for (const auto &name : order) {
            sl_codec_offset_commit_request_offset_commit_request_topic t;
            sl_codec_offset_commit_request_offset_commit_request_topic_init(&t);
            t.name = S(name);
            t.partitions = by_topic[name].data();
            t.partitions_count = (int32_t)by_topic[name].size();
            ts.push_back(t);
        }
        sl_codec_offset_commit_request req;
        sl_codec_offset_commit_request_init(&req);
        req.group_id = S(group);
        req.generation_id_or_member_epoch = generation;
        req.member_id = S(member);
        req.retention_time_ms = retention_ms;
        req.group_instance_id = instance.empty() ? null_slice() : S(instance);
        req.topics = ts.data();
        req.topics_count = (int32_t)ts.size();
        sl_group_offset_commit(coord, &req, version, now_ms, (void *)(intptr_t)id);
        return id;
    }

    struct fetched {
        int64_t offset;
        int32_t leader_epoch;
        std::string metadata;
    };
    using fetch_map = std::map<std::pair<std::string, int32_t>, fetched>;

    // v7 single-group fetch; topics empty = all partitions (null topics).
    fetch_map fetch(const std::string &group,
                    const std::vector<std::pair<std::string, std::vector<int32_t>>> &topics = {},
                    int16_t version = 7, int16_t *error = nullptr)
    {
        sl_codec_offset_fetch_request req;
        sl_codec_offset_fetch_request_init(&req);
        req.group_id = S(group);
        std::vector<sl_codec_offset_fetch_request_offset_fetch_request_topic> ts(topics.size());
        std::vector<std::vector<int32_t>> parts;
        for (const auto &t : topics)
            parts.push_back(t.second);
        for (size_t i = 0; i < topics.size(); i++) {
            ts[i] = {};
            ts[i].name = S(topics[i].first);
            ts[i].partition_indexes = parts[i].data();
            ts[i].partition_indexes_count = (int32_t)parts[i].size();
        }
        req.topics = topics.empty() ? nullptr : ts.data();
        req.topics_count = topics.empty() ? -1 : (int32_t)ts.size();
        sl_codec_offset_fetch_response resp;
        sl_group_offset_fetch(coord, &req, version, &resp);
        check_encodes(9, version, &resp);
        if (error != nullptr)
            *error = resp.error_code;
        fetch_map out;
        for (int32_t i = 0; i < resp.topics_count; i++)
            for (int32_t k = 0; k < resp.topics[i].partitions_count; k++) {
                const auto &p = resp.topics[i].partitions[k];
                out[{str(resp.topics[i].name), p.partition_index}] = {
                    p.committed_offset, p.committed_leader_epoch, str(p.metadata)};
            }
        return out;
    }

    // Takes the staged batch (if any) and reports it durable. Returns its size.
    int64_t persist_all(std::vector<uint8_t> *sink = nullptr)
    {
        std::vector<uint8_t> buf(config.batch_bytes);
        uint64_t id = 0;
        int64_t n = sl_group_coordinator_take_batch(coord, buf.data(), buf.size(), &id);
        EXPECT_GE(n, 0);
        if (n > 0) {
            if (sink != nullptr)
                sink->insert(sink->end(), buf.begin(), buf.begin() + n);
            sl_group_coordinator_persisted(coord, id, true);
        }
        return n;
    }

    sl_group_info info(const std::string &group)
    {
        sl_group_info i{};
        i.state = SL_GROUP_DEAD;
        sl_group_coordinator_group_info(coord, group.c_str(), &i);
        return i;
    }

    void advance(int64_t ms)
    {
        now_ms += ms;
        sl_group_coordinator_tick(coord, now_ms);
    }
};

} // namespace sl_group_test

#endif
