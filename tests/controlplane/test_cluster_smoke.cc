// Real processes: three sluiced voters on loopback, each with its own data dir. All three
// register (forwarded to whichever voter leads) and appear in every broker's Metadata;
// CreateTopics through a broker that is not the controller is forwarded; kill -9 of the
// active controller: the other two elect a new one and keep creating topics; the killed
// node restarts from its directories and catches up.
//
// A small smoke test of the control plane; the Metadata-based end-to-end cluster tests
// (produce/consume, standbys, partitions moving) live with the cluster launcher.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/broker_process.h"
#include "tests/support/child_process.h"
#include "tests/support/raw_kafka_client.h"

namespace
{

using namespace sl_test;

struct metadata_view {
    bool ok = false;
    std::set<int32_t> brokers;
    int32_t controller_id = -1;
    std::map<std::string, std::vector<int32_t>> topic_leaders; // name -> leader per partition
};

bool round_trip(const std::string &bootstrap, int16_t api_key, int16_t version,
                const std::vector<uint8_t> &body, std::vector<uint8_t> *payload)
{
    raw_kafka_connection conn;
    std::string error;
    if (!conn.connect_to(bootstrap, 2000, &error) ||
        !conn.send_frame(make_request_v1(api_key, version, 7, body))) {
        return false;
    }
    return conn.read_frame(payload, 20000) == read_status::ok;
}

metadata_view metadata(const std::string &bootstrap)
{
    metadata_view view;
    kafka_writer w;
    w.int32(-1); // every topic
    std::vector<uint8_t> payload;
    if (!round_trip(bootstrap, 3, 1, w.data(), &payload)) {
        return view;
    }
    kafka_reader r(payload);
    r.int32(); // correlation id
    int32_t brokers = r.int32();
    for (int32_t i = 0; i < brokers && !r.failed(); i++) {
        view.brokers.insert(r.int32());
        r.string();
        r.int32();
        r.string(); // rack
    }
    view.controller_id = r.int32();
    int32_t topics = r.int32();
    for (int32_t i = 0; i < topics && !r.failed(); i++) {
        r.int16();
        std::string name = r.string();
        r.int8();
        int32_t partitions = r.int32();
        std::vector<int32_t> leaders;
        for (int32_t p = 0; p < partitions && !r.failed(); p++) {
            r.int16();
            r.int32();
            leaders.push_back(r.int32());
            for (int list = 0; list < 2; list++) {
                int32_t n = r.int32();
                for (int32_t k = 0; k < n && !r.failed(); k++) {
                    r.int32();
                }
            }
        }
        view.topic_leaders[name] = leaders;
    }
    view.ok = !r.failed();
    return view;
}

// CreateTopics v0 of one topic; returns its error code, or -100 without an answer.
int create_topic(const std::string &bootstrap, const std::string &name, int32_t partitions)
{
    kafka_writer w;
    w.int32(1);
    w.string(name);
    w.int32(partitions);
    w.int16(1);
    w.int32(0); // assignments
    w.int32(0); // configs
    w.int32(15000);
    std::vector<uint8_t> payload;
    if (!round_trip(bootstrap, 19, 0, w.data(), &payload)) {
        return -100;
    }
    kafka_reader r(payload);
    r.int32();
    if (r.int32() != 1) {
        return -101;
    }
    r.string();
    int16_t code = r.int16();
    return r.failed() ? -102 : code;
}

template <typename Pred> bool wait_until(Pred pred, int timeout_ms)
{
    long long deadline = monotonic_ms() + timeout_ms;
    while (monotonic_ms() < deadline) {
        if (pred()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return pred();
}

class Node
{
  public:
    Node(int id, std::string dir, int client_port, int controller_port, std::string voters)
        : id_(id), dir_(std::move(dir)), client_port_(client_port),
          controller_port_(controller_port), voters_(std::move(voters))
    {
    }
    ::testing::AssertionResult start()
    {
        ::testing::AssertionResult launched = launch();
        return launched ? wait_up() : launched;
    }
    ::testing::AssertionResult launch()
    {
        const char *binary = getenv("SLUICED");
        if (binary == nullptr) {
            return ::testing::AssertionFailure() << "SLUICED is not set";
        }
        std::string listeners = "PLAINTEXT://127.0.0.1:" + std::to_string(client_port_) +
                                ",CONTROLLER://127.0.0.1:" + std::to_string(controller_port_);
        std::vector<std::string> argv = {binary};
        for (const std::string &kv : std::vector<std::string>{
                 "node.id=" + std::to_string(id_),
                 "listeners=" + listeners,
                 "controller.quorum.voters=" + voters_,
                 "log.dirs=" + dir_ + "/data",
                 "stats.socket=" + dir_ + "/stats.sock",
                 "controller.quorum.election.timeout.ms=500",
                 "controlplane.quorum.heartbeat.ms=50",
                 "broker.session.timeout.ms=2000",
                 "broker.heartbeat.interval.ms=300",
             }) {
            argv.push_back("--override");
            argv.push_back(kv);
        }
        command_options options;
        options.stdout_path = log_path();
        options.stderr_path = log_path();
        options.append_output = true;
        child_ = std::make_unique<child_process>();
        std::string error;
        if (!child_->start(argv, options, &error)) {
            return ::testing::AssertionFailure() << "cannot start node " << id_ << ": " << error;
        }
        return ::testing::AssertionSuccess();
    }
    ::testing::AssertionResult wait_up()
    {
        // sluiced listens only once it is registered with the active controller.
        bool up = wait_until(
            [&] {
                return probe_api_versions_fresh(bootstrap(), 500).empty() || !child_->running();
            },
            30000);
        if (!up || !child_->running()) {
            return ::testing::AssertionFailure()
                   << "node " << id_
                   << " did not come up: " << tail_of(read_file(log_path()), 2000);
        }
        return ::testing::AssertionSuccess();
    }
    void kill9()
    {
        child_->send_signal(SIGKILL);
        child_->wait(10000);
    }
    ::testing::AssertionResult stop()
    {
        child_->send_signal(SIGTERM);
        command_result r = child_->wait(20000);
        if (r.exit_code != 0) {
            return ::testing::AssertionFailure()
                   << "node " << id_ << " stopped with " << r.describe()
                   << tail_of(read_file(log_path()), 2000);
        }
        return ::testing::AssertionSuccess();
    }
    std::string bootstrap() const
    {
        return "127.0.0.1:" + std::to_string(client_port_);
    }
    std::string log_path() const
    {
        return dir_ + "/sluiced.log";
    }
    int id() const
    {
        return id_;
    }

  private:
    int id_;
    std::string dir_;
    int client_port_;
    int controller_port_;
    std::string voters_;
    std::unique_ptr<child_process> child_;
};

} // namespace

TEST(ClusterSmoke, ThreeVotersRegisterForwardFailOverAndCatchUp)
{
    std::string dir = make_temp_dir("sl_cluster_smoke");
    ASSERT_FALSE(dir.empty());
    std::set<int> ports;
    while (ports.size() < 6) {
        int p = pick_free_loopback_port();
        ASSERT_GT(p, 0);
        ports.insert(p);
    }
    std::vector<int> port(ports.begin(), ports.end());
    std::string voters;
    for (int i = 0; i < 3; i++) {
        voters +=
            (i ? "," : "") + std::to_string(i + 1) + "@127.0.0.1:" + std::to_string(port[3 + i]);
    }
    std::vector<std::unique_ptr<Node>> nodes;
    // Declared after `nodes`, so it runs first: logs while the nodes still exist.
    struct LogsOnFailure {
        std::string dir;
        std::vector<std::unique_ptr<Node>> &nodes;
        ~LogsOnFailure()
        {
            if (::testing::Test::HasFailure()) {
                for (auto &n : nodes) {
                    printf("--- node %d\n%s\n", n->id(),
                           tail_of(read_file(n->log_path()), 4000).c_str());
                }
            }
            nodes.clear(); // SIGKILLs what still runs
            remove_tree(dir);
        }
    } logs_on_failure{dir, nodes};
    for (int i = 0; i < 3; i++) {
        std::string node_dir = dir + "/node" + std::to_string(i + 1);
        ASSERT_EQ(mkdir(node_dir.c_str(), 0755), 0);
        nodes.push_back(std::make_unique<Node>(i + 1, node_dir, port[i], port[3 + i], voters));
    }
    // Launched together: each registration waits for the quorum the others complete.
    for (auto &n : nodes) {
        ASSERT_TRUE(n->launch());
    }
    for (auto &n : nodes) {
        ASSERT_TRUE(n->wait_up());
    }

    const std::set<int32_t> all = {1, 2, 3};
    int32_t controller = -1;
    for (auto &n : nodes) {
        // Each node is unfenced before it listens; its image may lag the others' by a
        // heartbeat round.
        metadata_view v;
        EXPECT_TRUE(wait_until(
            [&] {
                v = metadata(n->bootstrap());
                return v.ok && v.brokers == all;
            },
            10000))
            << "every broker registered and unfenced, seen from node " << n->id();
        controller = v.controller_id;
    }
    ASSERT_TRUE(all.count(controller)) << "controller " << controller;

    // CreateTopics through a broker that is not the controller is forwarded; the broker
    // lists the topic as soon as it answers, the others shortly after.
    Node &follower = *nodes[controller % 3];
    ASSERT_NE(follower.id(), controller);
    ASSERT_EQ(create_topic(follower.bootstrap(), "smoke-a", 3), 0);
    EXPECT_EQ(metadata(follower.bootstrap()).topic_leaders.count("smoke-a"), 1u);
    for (auto &n : nodes) {
        EXPECT_TRUE(wait_until(
            [&] { return metadata(n->bootstrap()).topic_leaders.count("smoke-a"); }, 10000))
            << "node " << n->id();
    }

    // kill -9 the active controller: the others elect a new one that keeps serving.
    Node &dead = *nodes[controller - 1];
    dead.kill9();
    int32_t new_controller = -1;
    ASSERT_TRUE(wait_until(
        [&] {
            metadata_view v = metadata(follower.bootstrap());
            new_controller = v.controller_id;
            return v.ok && new_controller > 0 && new_controller != controller;
        },
        20000))
        << "no new controller";
    int code = -1;
    ASSERT_TRUE(wait_until(
        [&] {
            code = create_topic(follower.bootstrap(), "smoke-b", 2);
            return code == 0 || code == 36; // 36: created by an attempt whose answer was lost
        },
        20000))
        << "CreateTopics after the failover: " << code;
    for (auto &n : nodes) {
        if (n.get() != &dead) {
            EXPECT_TRUE(wait_until(
                [&] { return metadata(n->bootstrap()).topic_leaders.count("smoke-b"); }, 10000))
                << "node " << n->id();
        }
    }

    // The killed node restarts from its directories and catches up.
    ASSERT_TRUE(dead.start());
    EXPECT_TRUE(wait_until(
        [&] {
            metadata_view v = metadata(dead.bootstrap());
            return v.ok && v.brokers == all && v.topic_leaders.count("smoke-a") &&
                   v.topic_leaders.count("smoke-b");
        },
        20000))
        << "the restarted node did not catch up";

    for (auto &n : nodes) {
        EXPECT_TRUE(n->stop());
    }
}
