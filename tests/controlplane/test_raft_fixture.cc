// The metadata state machine under canonical raft's deterministic fixture: elections,
// quorum partitions, a leader change in the middle of topic creation, snapshot install.
// After every fixture step, every node's encoded image is compared with every other
// node's image at the same applied index.
#include <gtest/gtest.h>

#include <cerrno>
#include <deque>
#include <map>
#include <memory>

#include "md_test_util.h"

extern "C" {
#include <raft.h>
#include <raft/fixture.h>

#include "controlplane/controller.h"
#include "controlplane/metadata_fsm.h"
}

namespace
{

struct Proposal {
    struct raft_apply req;
    bool done = false;
    int status = 0;
    int result = 0;
};

void proposal_done(struct raft_apply *req, int status, void *result)
{
    auto *p = static_cast<Proposal *>(req->data);
    p->done = true;
    p->status = status;
    p->result = status == 0 ? sl_md_fsm_apply_result(result) : 0;
}

class Cluster;
Cluster *g_cluster = nullptr; // the fixture hook has no user argument

class Cluster
{
  public:
    explicit Cluster(unsigned n, unsigned snapshot_threshold = 0) : n_(n), fsms_(n)
    {
        // raft_fixture_initialize does not clear the server slots; a fixture reusing the
        // memory of a previous one must start from zeros.
        memset(&f_, 0, sizeof(f_));
        EXPECT_EQ(raft_fixture_initialize(&f_), 0);
        for (unsigned i = 0; i < n; i++) {
            EXPECT_EQ(sl_md_fsm_init(&fsms_[i], nullptr), 0);
            EXPECT_EQ(raft_fixture_grow(&f_, &fsms_[i].raft_fsm), 0);
            if (snapshot_threshold > 0) {
                raft_set_snapshot_threshold(raft_fixture_get(&f_, i), snapshot_threshold);
                raft_set_snapshot_trailing(raft_fixture_get(&f_, i), 1);
            }
        }
        raft_configuration conf;
        EXPECT_EQ(raft_fixture_configuration(&f_, n, &conf), 0);
        EXPECT_EQ(raft_fixture_bootstrap(&f_, &conf), 0);
        raft_configuration_close(&conf);
        EXPECT_EQ(raft_fixture_start(&f_), 0);
        g_cluster = this;
        raft_fixture_hook(&f_, &Cluster::hook);
        settings_.default_partitions = 1;
        settings_.default_replication_factor = 1;
        settings_.unclean_leader_election = false;
        settings_.delete_topic_enable = true;
        settings_.broker_session_timeout_ms = 9000;
        EXPECT_EQ(sl_controller_liveness_init(&liveness_, 16), 0);
    }
    ~Cluster()
    {
        raft_fixture_hook(&f_, nullptr);
        g_cluster = nullptr;
        raft_fixture_close(&f_);
        for (auto &fsm : fsms_) {
            sl_md_fsm_close(&fsm);
        }
        sl_controller_liveness_free(&liveness_);
    }

    raft_fixture *f()
    {
        return &f_;
    }
    const sl_md_image *image(unsigned i)
    {
        return fsms_[i].image;
    }
    sl_md_fsm *fsm(unsigned i)
    {
        return &fsms_[i];
    }
    raft_index applied(unsigned i)
    {
        return raft_last_applied(raft_fixture_get(&f_, i));
    }
    // The server in leader state with the highest term (the fixture's own leader view
    // also waits for servers it cannot reach, which a partitioned test never satisfies).
    unsigned leader()
    {
        unsigned best = n_;
        for (unsigned i = 0; i < n_; i++) {
            raft *r = raft_fixture_get(&f_, i);
            if (raft_fixture_alive(&f_, i) && raft_state(r) == RAFT_LEADER &&
                (best == n_ || r->current_term > raft_fixture_get(&f_, best)->current_term)) {
                best = i;
            }
        }
        return best;
    }

    // Every node that applied index k has the same image bytes as any other that did.
    static void hook(raft_fixture *f, raft_fixture_event *)
    {
        Cluster *c = g_cluster;
        for (unsigned i = 0; i < c->n_; i++) {
            raft_index idx = raft_last_applied(raft_fixture_get(f, i));
            if (idx == 0 || c->checked_[i] == idx) {
                continue;
            }
            c->checked_[i] = idx;
            std::string bytes = image_bytes(c->fsms_[i].image);
            auto [it, fresh] = c->by_index_.emplace(idx, bytes);
            if (!fresh && it->second != bytes) {
                ADD_FAILURE() << "node " << i << " image at index " << idx
                              << " differs from another node's";
            }
            c->steps_checked_++;
        }
    }

    // Proposes records on server `on` (normally the leader). Returns the entry's index, or
    // 0 when raft refused (not leader).
    raft_index propose(unsigned on, const std::vector<sl_md_record> &records,
                       Proposal **out = nullptr)
    {
        raft_buffer buf;
        EXPECT_EQ(sl_md_fsm_encode_entry(records.data(), records.size(), &buf), 0);
        return propose_raw(on, buf, out);
    }
    raft_index propose_raw(unsigned on, raft_buffer buf, Proposal **out = nullptr)
    {
        proposals_.emplace_back(std::make_unique<Proposal>());
        Proposal *p = proposals_.back().get();
        p->req.data = p;
        int rc = raft_apply(raft_fixture_get(&f_, on), &p->req, &buf, 1, proposal_done);
        if (rc != 0) {
            raft_free(buf.base);
            return 0;
        }
        if (out != nullptr) {
            *out = p;
        }
        return p->req.index;
    }
    // A new leader may not have applied every committed entry yet; like the real
    // controller, wait for a barrier in its term before reading its image.
    void barrier()
    {
        static bool done;
        done = false;
        auto *req = new struct raft_barrier;
        req->data = &done;
        ASSERT_EQ(raft_barrier(raft_fixture_get(&f_, leader()), req,
                               [](struct raft_barrier *r, int) {
                                   *static_cast<bool *>(r->data) = true;
                                   delete r;
                               }),
                  0);
        ASSERT_TRUE(raft_fixture_step_until(
            &f_, [](raft_fixture *, void *arg) { return *static_cast<bool *>(arg); }, &done,
            10000));
    }
    // Runs the controller on the leader's image and proposes the batch it produces.
    template <typename Fn> raft_index control(Fn fn, int expected_code = 0)
    {
        unsigned l = leader();
        EXPECT_LT(l, n_);
        sl_controller_batch batch;
        EXPECT_EQ(sl_controller_batch_init(&batch, image(l)), 0);
        int code = fn(&batch);
        EXPECT_EQ(code, expected_code);
        raft_index idx = 0;
        if (code == 0 && batch.count > 0) {
            std::vector<sl_md_record> records(batch.records, batch.records + batch.count);
            idx = propose(l, records);
        }
        sl_controller_batch_free(&batch);
        return idx;
    }
    void register_brokers(std::initializer_list<int32_t> ids)
    {
        for (int32_t id : ids) {
            int64_t epoch = 0;
            raft_index idx = control([&](sl_controller_batch *b) {
                sl_controller_register_broker_request req;
                memset(&req, 0, sizeof(req));
                req.broker_id = id;
                req.incarnation_id = test_uuid(7000 + (unsigned)id);
                int code =
                    sl_controller_register_broker(b, &settings_, &liveness_, &req, 0, &epoch);
                if (code == 0) {
                    code = sl_controller_heartbeat(b, &settings_, &liveness_, id, epoch, false, 0);
                }
                return code;
            });
            ASSERT_GT(idx, 0u);
            ASSERT_TRUE(raft_fixture_step_until_applied(&f_, leader(), idx, 10000));
        }
    }
    raft_index create_topic(const char *name, int32_t partitions, int16_t rf, unsigned id,
                            int expected_code = 0)
    {
        return control(
            [&](sl_controller_batch *b) {
                sl_controller_create_topic_request req;
                memset(&req, 0, sizeof(req));
                snprintf(req.name, sizeof(req.name), "%s", name);
                req.num_partitions = partitions;
                req.replication_factor = rf;
                sl_md_uuid uuid = test_uuid(id);
                return sl_controller_create_topic(b, &settings_, &req, &uuid, id, nullptr, 0);
            },
            expected_code);
    }
    // All alive nodes applied `idx`, and their images are byte-identical.
    void expect_converged(raft_index idx)
    {
        ASSERT_TRUE(raft_fixture_step_until_applied(&f_, n_, idx, 30000))
            << "not every node applied index " << idx;
        std::string first;
        for (unsigned i = 0; i < n_; i++) {
            if (!raft_fixture_alive(&f_, i)) {
                continue;
            }
            std::string bytes = image_bytes(image(i));
            if (first.empty()) {
                first = bytes;
            }
            EXPECT_EQ(bytes, first) << "node " << i;
            EXPECT_EQ(sl_md_fsm_error(fsm(i)), nullptr);
        }
    }
    void partition_off(std::vector<unsigned> side)
    {
        for (unsigned i : side) {
            for (unsigned j = 0; j < n_; j++) {
                if (std::find(side.begin(), side.end(), j) == side.end()) {
                    raft_fixture_disconnect(&f_, i, j);
                    raft_fixture_disconnect(&f_, j, i);
                }
            }
        }
    }
    void heal()
    {
        for (unsigned i = 0; i < n_; i++) {
            for (unsigned j = 0; j < n_; j++) {
                if (i != j) {
                    raft_fixture_reconnect(&f_, i, j);
                }
            }
        }
    }
    uint64_t steps_checked() const
    {
        return steps_checked_;
    }

    sl_controller_settings settings_;
    sl_controller_liveness liveness_;

  private:
    unsigned n_;
    raft_fixture f_;
    std::vector<sl_md_fsm> fsms_;
    std::deque<std::unique_ptr<Proposal>> proposals_;
    std::map<raft_index, std::string> by_index_;
    raft_index checked_[RAFT_FIXTURE_MAX_SERVERS] = {};
    uint64_t steps_checked_ = 0;
};

bool has_leader_other_than(raft_fixture *f, void *arg)
{
    unsigned old = *static_cast<unsigned *>(arg);
    for (unsigned i = 0; i < raft_fixture_n(f); i++) {
        if (i != old && raft_state(raft_fixture_get(f, i)) == RAFT_LEADER) {
            return true;
        }
    }
    return false;
}

} // namespace

TEST(RaftFixture, ThreeNodesElectRegisterAndCreateTopics)
{
    Cluster c(3);
    ASSERT_TRUE(raft_fixture_step_until_has_leader(c.f(), 10000));
    c.register_brokers({1, 2, 3});
    raft_index idx = c.create_topic("orders", 6, 3, 1);
    ASSERT_GT(idx, 0u);
    c.expect_converged(idx);
    const sl_md_topic *t = sl_md_image_topic(c.image(2), "orders");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->partition_count, 6u);
    // The controller on the leader refuses a duplicate before proposing anything.
    EXPECT_EQ(c.create_topic("orders", 1, 1, 2, SL_KAFKA_TOPIC_ALREADY_EXISTS), 0u);
    EXPECT_GT(c.steps_checked(), 10u);
}

TEST(RaftFixture, FiveNodesMinorityPartitionCannotCommitAndIsOverwritten)
{
    Cluster c(5);
    ASSERT_TRUE(raft_fixture_step_until_has_leader(c.f(), 10000));
    c.register_brokers({1, 2, 3});
    unsigned old_leader = c.leader();
    unsigned buddy = (old_leader + 1) % 5;
    c.partition_off({old_leader, buddy});

    // The old leader accepts a proposal but cannot reach a majority.
    Proposal *lost = nullptr;
    std::vector<sl_md_record> minority_topic = {rec_topic("minority", 50),
                                                rec_partition(50, 0, {1}, {1}, 1)};
    ASSERT_GT(c.propose(old_leader, minority_topic, &lost), 0u);
    ASSERT_TRUE(raft_fixture_step_until(c.f(), has_leader_other_than, &old_leader, 30000));
    unsigned new_leader = c.leader();
    ASSERT_NE(new_leader, old_leader);
    ASSERT_NE(new_leader, buddy);
    c.barrier();
    EXPECT_EQ(sl_md_image_topic(c.image(old_leader), "minority"), nullptr);

    raft_index idx = c.create_topic("majority", 3, 2, 60);
    ASSERT_GT(idx, 0u);
    ASSERT_TRUE(raft_fixture_step_until_applied(c.f(), new_leader, idx, 10000));
    EXPECT_EQ(sl_md_image_topic(c.image(old_leader), "majority"), nullptr);

    c.heal();
    c.expect_converged(idx);
    for (unsigned i = 0; i < 5; i++) {
        EXPECT_EQ(sl_md_image_topic(c.image(i), "minority"), nullptr) << i;
        EXPECT_NE(sl_md_image_topic(c.image(i), "majority"), nullptr) << i;
    }
    EXPECT_TRUE(lost->done);
    EXPECT_NE(lost->status, 0) << "the minority proposal must fail, not apply";
}

TEST(RaftFixture, LeaderChangeInTheMiddleOfTopicCreation)
{
    Cluster c(3);
    ASSERT_TRUE(raft_fixture_step_until_has_leader(c.f(), 10000));
    c.register_brokers({1, 2, 3});
    unsigned old_leader = c.leader();
    // The leader appends the CreateTopics entry but its messages never leave.
    for (unsigned j = 0; j < 3; j++) {
        if (j != old_leader) {
            raft_fixture_saturate(c.f(), old_leader, j);
        }
    }
    Proposal *first = nullptr;
    raft_index first_idx = 0;
    {
        sl_controller_batch batch;
        ASSERT_EQ(sl_controller_batch_init(&batch, c.image(old_leader)), 0);
        sl_controller_create_topic_request req;
        memset(&req, 0, sizeof(req));
        snprintf(req.name, sizeof(req.name), "t");
        req.num_partitions = 3;
        req.replication_factor = 3;
        sl_md_uuid id = test_uuid(100);
        ASSERT_EQ(sl_controller_create_topic(&batch, &c.settings_, &req, &id, 0, nullptr, 0), 0);
        std::vector<sl_md_record> records(batch.records, batch.records + batch.count);
        first_idx = c.propose(old_leader, records, &first);
        sl_controller_batch_free(&batch);
    }
    ASSERT_GT(first_idx, 0u);
    ASSERT_TRUE(raft_fixture_step_until(c.f(), has_leader_other_than, &old_leader, 30000));
    c.barrier();
    // The new controller does not see the topic and creates it again (another id).
    raft_index idx = c.create_topic("t", 3, 3, 200);
    ASSERT_GT(idx, 0u);
    for (unsigned j = 0; j < 3; j++) {
        raft_fixture_desaturate(c.f(), old_leader, j);
    }
    c.expect_converged(idx);
    sl_md_uuid winner = test_uuid(200);
    for (unsigned i = 0; i < 3; i++) {
        const sl_md_topic *t = sl_md_image_topic(c.image(i), "t");
        ASSERT_NE(t, nullptr);
        EXPECT_EQ(memcmp(&t->topic_id, &winner, sizeof(winner)), 0) << "node " << i;
    }
    EXPECT_TRUE(first->done);
    EXPECT_NE(first->status, 0);
}

TEST(RaftFixture, BrokerLossElectionReplicatesToEveryNode)
{
    Cluster c(3);
    ASSERT_TRUE(raft_fixture_step_until_has_leader(c.f(), 10000));
    c.register_brokers({1, 2, 3});
    raft_index idx = c.create_topic("t", 3, 3, 1);
    c.expect_converged(idx);
    idx = c.control(
        [&](sl_controller_batch *b) { return sl_controller_fence_broker(b, &c.settings_, 2); });
    c.expect_converged(idx);
    for (unsigned i = 0; i < 3; i++) {
        const sl_md_topic *t = sl_md_image_topic(c.image(i), "t");
        for (uint32_t p = 0; p < t->partition_count; p++) {
            EXPECT_NE(t->partitions[p].leader, 2);
            EXPECT_EQ(t->partitions[p].isr_count, 2);
        }
    }
}

TEST(RaftFixture, SnapshotInstallToLaggingNode)
{
    Cluster c(3, 4);
    ASSERT_TRUE(raft_fixture_step_until_has_leader(c.f(), 10000));
    c.register_brokers({1, 2});
    unsigned lagging = (c.leader() + 1) % 3;
    raft_fixture_kill(c.f(), lagging);
    raft_index idx = 0;
    for (unsigned k = 0; k < 12; k++) {
        std::string name = "topic-" + std::to_string(k);
        idx = c.create_topic(name.c_str(), 2, 2, 300 + k);
        ASSERT_GT(idx, 0u);
        ASSERT_TRUE(raft_fixture_step_until_applied(c.f(), c.leader(), idx, 10000));
    }
    EXPECT_EQ(raft_fixture_n_recv(c.f(), lagging, RAFT_IO_INSTALL_SNAPSHOT), 0u);
    raft_fixture_revive(c.f(), lagging);
    c.expect_converged(idx);
    EXPECT_GE(raft_fixture_n_recv(c.f(), lagging, RAFT_IO_INSTALL_SNAPSHOT), 1u);
    EXPECT_EQ(c.image(lagging)->topic_count, 12u);
}

TEST(RaftFixture, CorruptEntryStopsEveryStateMachineWithAClearError)
{
    Cluster c(3);
    ASSERT_TRUE(raft_fixture_step_until_has_leader(c.f(), 10000));
    c.register_brokers({1});
    raft_buffer buf;
    std::vector<sl_md_record> records = {rec_topic("x", 1)};
    ASSERT_EQ(sl_md_fsm_encode_entry(records.data(), records.size(), &buf), 0);
    static_cast<uint8_t *>(buf.base)[SL_MD_BATCH_HEADER_BYTES + 6] ^= 0x40; // inside the record
    raft_index idx = c.propose_raw(c.leader(), buf);
    ASSERT_GT(idx, 0u);
    ASSERT_TRUE(raft_fixture_step_until_applied(c.f(), 3, idx, 10000));
    for (unsigned i = 0; i < 3; i++) {
        const char *err = sl_md_fsm_error(c.fsm(i));
        ASSERT_NE(err, nullptr) << i;
        EXPECT_NE(std::string(err).find("CRC32C mismatch"), std::string::npos) << err;
        EXPECT_EQ(sl_md_image_topic(c.image(i), "x"), nullptr);
    }
    // Later entries are not applied on top of a state that skipped one.
    raft_index next = c.propose(c.leader(), {rec_topic("y", 2)});
    ASSERT_TRUE(raft_fixture_step_until_applied(c.f(), 3, next, 10000));
    EXPECT_EQ(sl_md_image_topic(c.image(0), "y"), nullptr);
}

namespace
{

struct Rng {
    uint64_t state;
    uint64_t next()
    {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    }
    unsigned below(unsigned n)
    {
        return (unsigned)(next() % n);
    }
};

// One random controller operation on the current leader's image. Errors are expected
// (e.g. a lagging leader proposing a topic that already exists); they must be the same on
// every node, which the per-step hook checks.
void random_operation(Cluster &c, Rng &rng, unsigned &topics_made)
{
    unsigned l = c.leader();
    if (l >= raft_fixture_n(c.f())) {
        return;
    }
    sl_controller_batch batch;
    ASSERT_EQ(sl_controller_batch_init(&batch, c.image(l)), 0);
    const sl_md_image *img = c.image(l);
    switch (rng.below(5)) {
    case 0: {
        sl_controller_create_topic_request req;
        memset(&req, 0, sizeof(req));
        snprintf(req.name, sizeof(req.name), "t%u", rng.below(12));
        req.num_partitions = 1 + (int32_t)rng.below(4);
        req.replication_factor = (int16_t)(1 + rng.below(3));
        sl_md_uuid id = test_uuid(1000 + topics_made++);
        sl_controller_create_topic(&batch, &c.settings_, &req, &id, rng.below(100), nullptr, 0);
        break;
    }
    case 1:
        if (img->topic_count > 0) {
            char name[SL_MD_TOPIC_NAME_BYTES_MAX];
            memcpy(name, img->topics_by_name[rng.below(img->topic_count)]->name, sizeof(name));
            sl_controller_delete_topic(&batch, &c.settings_, name);
        }
        break;
    case 2: {
        int32_t id = 1 + (int32_t)rng.below(3);
        const sl_md_broker *b = sl_md_image_broker(img, id);
        if (b != nullptr && !b->fenced) {
            sl_controller_fence_broker(&batch, &c.settings_, id);
        } else if (b != nullptr) {
            sl_controller_heartbeat(&batch, &c.settings_, &c.liveness_, id, b->broker_epoch, false,
                                    0);
        }
        break;
    }
    case 3:
        if (img->topic_count > 0) {
            const sl_md_topic *t = img->topics_by_name[rng.below(img->topic_count)];
            const sl_md_partition *p = &t->partitions[rng.below(t->partition_count)];
            const sl_md_broker *b = sl_md_image_broker(img, p->leader);
            if (b != nullptr && p->isr_count > 1) {
                sl_controller_alter_partition_request req;
                memset(&req, 0, sizeof(req));
                req.broker_id = p->leader;
                req.broker_epoch = b->broker_epoch;
                req.topic_id = t->topic_id;
                req.partition = p->partition;
                req.leader_epoch = p->leader_epoch;
                req.partition_epoch = p->partition_epoch;
                req.isr_count = 1;
                req.isr[0] = p->leader;
                int32_t pe;
                sl_controller_alter_partition(&batch, &req, &pe);
            }
        }
        break;
    case 4:
        sl_controller_rebalance_leaders(&batch);
        break;
    }
    if (batch.count > 0) {
        std::vector<sl_md_record> records(batch.records, batch.records + batch.count);
        c.propose(l, records);
    }
    sl_controller_batch_free(&batch);
}

void random_fault(Cluster &c, Rng &rng, unsigned n)
{
    raft_fixture *f = c.f();
    unsigned alive = 0;
    for (unsigned i = 0; i < n; i++) {
        alive += raft_fixture_alive(f, i);
    }
    unsigned i = rng.below(n);
    unsigned j = (i + 1 + rng.below(n - 1)) % n;
    switch (rng.below(4)) {
    case 0:
        if (raft_fixture_alive(f, i) && alive > n / 2 + 1) {
            raft_fixture_kill(f, i);
        }
        break;
    case 1:
        if (!raft_fixture_alive(f, i)) {
            raft_fixture_revive(f, i);
        }
        break;
    case 2:
        raft_fixture_disconnect(f, i, j);
        raft_fixture_disconnect(f, j, i);
        break;
    case 3:
        raft_fixture_reconnect(f, i, j);
        raft_fixture_reconnect(f, j, i);
        break;
    }
}

} // namespace

// A seeded simulation: random controller operations on whoever leads, interleaved with
// kills, revivals and broken links, with snapshots on. The hook compares images at every
// step; at the end the healed cluster converges to one image.
TEST(RaftFixture, SeededChaosKeepsEveryNodeIdentical)
{
    for (uint64_t seed : {1ull, 7ull, 42ull}) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        Rng rng{seed * 0x9e3779b97f4a7c15ull};
        Cluster c(5, 16);
        ASSERT_TRUE(raft_fixture_step_until_has_leader(c.f(), 10000));
        c.register_brokers({1, 2, 3});
        unsigned topics_made = 0;
        for (int round = 0; round < 300; round++) {
            if (rng.below(4) == 0) {
                random_fault(c, rng, 5);
            }
            random_operation(c, rng, topics_made);
            raft_fixture_step_n(c.f(), 1 + rng.below(40));
        }
        for (unsigned i = 0; i < 5; i++) {
            if (!raft_fixture_alive(c.f(), i)) {
                raft_fixture_revive(c.f(), i);
            }
        }
        c.heal();
        ASSERT_TRUE(raft_fixture_step_until(
            c.f(), [](raft_fixture *f, void *) { return raft_fixture_leader_index(f) < 5; },
            nullptr, 60000));
        c.barrier();
        raft_index last = raft_last_index(raft_fixture_get(c.f(), c.leader()));
        c.expect_converged(last);
        printf("seed %llu: version %llu, topics %u, term %llu, checks %llu\n",
               (unsigned long long)seed, (unsigned long long)c.image(0)->version,
               c.image(0)->topic_count, raft_fixture_get(c.f(), 0)->current_term,
               (unsigned long long)c.steps_checked());
        EXPECT_GT(c.steps_checked(), 100u);
        EXPECT_GT(c.image(0)->version, 10u) << "the run must have applied real changes";
    }
}
