// The metadata log on real libuv raft in a temporary directory: a single-node quorum
// creates topics, stops, restarts and replays snapshot + tail; bad directories, voter
// sets and corrupt files are refused with a clear message. Also the bounded MPSC queue.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <set>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <vector>

#include "md_test_util.h"

extern "C" {
#include "common/sl_bytes.h"
#include "controlplane/config.h"
#include "controlplane/controller_rpc_codec.h"
#include "controlplane/metadata_log.h"
#include "controlplane/mpsc_queue.h"
}

namespace
{

// A loopback port that was free a moment ago and that this process has not handed out
// before: the kernel may give the same ephemeral port to two binds in a row once the
// first socket is closed, and two listeners of one config must differ.
uint16_t free_port()
{
    static std::set<uint16_t> handed_out;
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr = {};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
        socklen_t len = sizeof(addr);
        getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
        close(fd);
        uint16_t port = ntohs(addr.sin_port);
        if (handed_out.insert(port).second)
            return port;
    }
    ADD_FAILURE() << "no new free port in 100 attempts";
    return 0;
}

std::vector<std::string> list_dir(const std::string &dir)
{
    std::vector<std::string> out;
    DIR *d = opendir(dir.c_str());
    if (d == nullptr) {
        return out;
    }
    while (dirent *e = readdir(d)) {
        out.push_back(e->d_name);
    }
    closedir(d);
    return out;
}

template <typename Pred> bool wait_for(Pred pred, int timeout_ms = 15000)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
}

class MetadataLogTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/sl_md_log_XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
        port = free_port();
    }
    void TearDown() override
    {
        if (log != nullptr) {
            sl_md_log_stop(log);
            sl_md_log_close(log);
        }
        std::string cmd = "rm -rf '" + dir + "'";
        ASSERT_EQ(system(cmd.c_str()), 0);
    }
    sl_md_log_options options(int node_id = 1, std::string voters = "")
    {
        if (voters.empty()) {
            voters = "1@127.0.0.1:" + std::to_string(port);
        }
        std::string controller = "CONTROLLER://127.0.0.1:" + std::to_string(port);
        std::string listeners =
            "PLAINTEXT://127.0.0.1:" + std::to_string(free_port()) + "," + controller;
        std::vector<std::string> args = {
            "sluiced",
            "--override",
            "node.id=" + std::to_string(node_id),
            "--override",
            "listeners=" + listeners,
            "--override",
            "controller.quorum.voters=" + voters,
            "--override",
            "metadata.log.dir=" + dir,
            "--override",
            "metadata.snapshot.interval.entries=4",
            "--override",
            "metadata.snapshot.trailing.entries=2",
            "--override",
            "controller.quorum.election.timeout.ms=200",
            "--override",
            "controlplane.quorum.heartbeat.ms=50",
        };
        std::vector<const char *> argv;
        for (auto &a : args) {
            argv.push_back(a.c_str());
        }
        sl_config cfg;
        char err[512] = "";
        EXPECT_EQ(sl_config_load_args(&cfg, (int)argv.size(), argv.data(), err, sizeof(err)), 0)
            << err;
        sl_md_log_options o;
        EXPECT_EQ(sl_md_log_options_from_config(&cfg, 2, &o, err, sizeof(err)), 0) << err;
        sl_config_free(&cfg);
        return o;
    }
    void open_and_start(const sl_md_log_options &o)
    {
        char err[512] = "";
        ASSERT_EQ(sl_md_log_open(&o, &log, err, sizeof(err)), 0) << err;
        ASSERT_EQ(sl_md_log_start(log), 0);
        ASSERT_TRUE(wait_for([&] { return sl_md_log_is_controller(log); }))
            << "single node never became the active controller";
        EXPECT_EQ(sl_md_log_leader_id(log), 1);
    }
    void stop()
    {
        sl_md_log_stop(log);
        sl_md_log_close(log);
        log = nullptr;
    }
    int run(sl_md_request *req)
    {
        EXPECT_EQ(sl_md_log_submit(log, req), 0);
        EXPECT_TRUE(wait_for([&] { return sl_md_request_is_done(req); }));
        return req->error_code;
    }
    std::string current_image_bytes()
    {
        const sl_md_image *img = sl_md_publisher_acquire(sl_md_log_publisher(log), 0);
        std::string bytes = image_bytes(img);
        sl_md_publisher_release(sl_md_log_publisher(log), 0);
        return bytes;
    }
    const sl_md_image *reader_image()
    {
        return sl_md_publisher_acquire(sl_md_log_publisher(log), 1);
    }
    void register_and_unfence(int32_t id)
    {
        sl_md_request req;
        memset(&req, 0, sizeof(req));
        req.type = SL_MD_REQUEST_REGISTER_BROKER;
        req.register_broker.broker_id = id;
        req.register_broker.incarnation_id = test_uuid(99);
        ASSERT_EQ(run(&req), 0) << req.error_message;
        int64_t epoch = req.broker_epoch;
        memset(&req, 0, sizeof(req));
        req.type = SL_MD_REQUEST_HEARTBEAT;
        req.heartbeat.broker_id = id;
        req.heartbeat.broker_epoch = epoch;
        ASSERT_EQ(run(&req), 0) << req.error_message;
    }
    int create_topic(const std::string &name, int partitions)
    {
        sl_md_request req;
        memset(&req, 0, sizeof(req));
        req.type = SL_MD_REQUEST_CREATE_TOPIC;
        snprintf(req.create_topic.name, sizeof(req.create_topic.name), "%s", name.c_str());
        req.create_topic.num_partitions = partitions;
        req.create_topic.replication_factor = 1;
        return run(&req);
    }
    std::string open_error(const sl_md_log_options &o)
    {
        sl_md_log *other = nullptr;
        char err[512] = "";
        int rc = sl_md_log_open(&o, &other, err, sizeof(err));
        EXPECT_NE(rc, 0);
        if (rc == 0) {
            sl_md_log_close(other);
        }
        return err;
    }

    std::string dir;
    uint16_t port = 0;
    sl_md_log *log = nullptr;
};

} // namespace

TEST_F(MetadataLogTest, SingleNodeCreatesTopicsAndReplaysSnapshotPlusTailAfterRestart)
{
    open_and_start(options());
    register_and_unfence(1);
    for (int k = 0; k < 7; k++) {
        ASSERT_EQ(create_topic("topic-" + std::to_string(k), 3), 0);
    }
    EXPECT_EQ(create_topic("topic-0", 3), SL_KAFKA_TOPIC_ALREADY_EXISTS);
    EXPECT_EQ(create_topic("bad name", 3), SL_KAFKA_INVALID_TOPIC_EXCEPTION);
    const sl_md_image *img = reader_image();
    EXPECT_EQ(img->topic_count, 7u);
    EXPECT_EQ(sl_md_topic_partition(sl_md_image_topic(img, "topic-6"), 2)->leader, 1);
    std::string before = current_image_bytes();
    stop();

    bool has_snapshot = false;
    for (auto &name : list_dir(dir)) {
        has_snapshot = has_snapshot || name.rfind("snapshot-", 0) == 0;
    }
    EXPECT_TRUE(has_snapshot) << "11 entries with a threshold of 4 must have snapshotted";

    open_and_start(options());
    EXPECT_EQ(current_image_bytes(), before) << "restart must replay snapshot + tail exactly";
    ASSERT_EQ(create_topic("after-restart", 1), 0);
    EXPECT_EQ(reader_image()->topic_count, 8u);
}

TEST_F(MetadataLogTest, RequestsOnAFreshLogAndQueueBound)
{
    open_and_start(options());
    sl_md_request req;
    memset(&req, 0, sizeof(req));
    req.type = SL_MD_REQUEST_HEARTBEAT;
    req.heartbeat.broker_id = 5;
    EXPECT_EQ(run(&req), SL_KAFKA_BROKER_ID_NOT_REGISTERED);
    // No unfenced broker yet: nowhere to place replicas.
    EXPECT_EQ(create_topic("t", 1), SL_KAFKA_INVALID_REPLICATION_FACTOR);
    register_and_unfence(1);
    EXPECT_EQ(create_topic("t", 1), 0);
    memset(&req, 0, sizeof(req));
    req.type = SL_MD_REQUEST_DELETE_TOPIC;
    snprintf(req.delete_topic, sizeof(req.delete_topic), "t");
    EXPECT_EQ(run(&req), 0);
    EXPECT_EQ(sl_md_image_topic(reader_image(), "t"), nullptr);
}

TEST_F(MetadataLogTest, RefusesADirectoryOfAnotherNode)
{
    open_and_start(options());
    stop();
    std::string voters2 = "2@127.0.0.1:" + std::to_string(port);
    std::string err = open_error(options(2, voters2));
    EXPECT_NE(err.find("belongs to node.id 1, not 2"), std::string::npos) << err;
}

TEST_F(MetadataLogTest, RefusesAVoterSetThatDoesNotMatchTheLog)
{
    open_and_start(options());
    stop();
    std::string voters =
        "1@127.0.0.1:" + std::to_string(port) + ",2@127.0.0.1:" + std::to_string(free_port());
    std::string err = open_error(options(1, voters));
    EXPECT_NE(err.find("has the voter set 1@127.0.0.1:"), std::string::npos) << err;
    EXPECT_NE(err.find("cannot be changed by editing"), std::string::npos) << err;
}

TEST_F(MetadataLogTest, RefusesACorruptSnapshot)
{
    open_and_start(options());
    register_and_unfence(1);
    for (int k = 0; k < 6; k++) {
        ASSERT_EQ(create_topic("topic-" + std::to_string(k), 1), 0);
    }
    stop();
    int corrupted = 0;
    for (auto &name : list_dir(dir)) {
        if (name.rfind("snapshot-", 0) == 0 && name.find(".meta") == std::string::npos) {
            std::string path = dir + "/" + name;
            int fd = open(path.c_str(), O_RDWR);
            ASSERT_GE(fd, 0);
            off_t size = lseek(fd, 0, SEEK_END);
            uint8_t byte;
            ASSERT_EQ(pread(fd, &byte, 1, size - 3), 1);
            byte ^= 0x20;
            ASSERT_EQ(pwrite(fd, &byte, 1, size - 3), 1);
            close(fd);
            corrupted++;
        }
    }
    ASSERT_GT(corrupted, 0);
    std::string err = open_error(options());
    EXPECT_NE(err.find("cannot load the metadata log"), std::string::npos) << err;
    printf("corrupt snapshot refused: %s\n", err.c_str());
}

TEST_F(MetadataLogTest, RefusesACorruptLogSegment)
{
    open_and_start(options());
    register_and_unfence(1);
    ASSERT_EQ(create_topic("t", 1), 0);
    stop();
    int corrupted = 0;
    for (auto &name : list_dir(dir)) {
        bool segment =
            name.rfind("open-", 0) == 0 || (name.size() > 0 && isdigit((unsigned char)name[0]) &&
                                            name.find('-') != std::string::npos);
        if (!segment) {
            continue;
        }
        std::string path = dir + "/" + name;
        int fd = open(path.c_str(), O_RDWR);
        ASSERT_GE(fd, 0);
        // Flip a byte inside the first entry's data (after the segment and batch headers).
        uint8_t byte;
        ASSERT_EQ(pread(fd, &byte, 1, 64), 1);
        byte ^= 0x01;
        ASSERT_EQ(pwrite(fd, &byte, 1, 64), 1);
        close(fd);
        corrupted++;
    }
    ASSERT_GT(corrupted, 0);
    std::string err = open_error(options());
    EXPECT_NE(err.find("metadata log"), std::string::npos) << err;
    printf("corrupt segment refused: %s\n", err.c_str());
}

namespace
{

// A temporary directory removed when the test ends, also when an assertion fails.
struct TempDir {
    std::string path;
    TempDir()
    {
        char tmpl[] = "/tmp/sl_md_cluster_XXXXXX";
        EXPECT_NE(mkdtemp(tmpl), nullptr);
        path = tmpl;
    }
    ~TempDir()
    {
        std::string cmd = "rm -rf '" + path + "'";
        EXPECT_EQ(system(cmd.c_str()), 0);
    }
};

// Metadata logs stopped and closed when the test ends, also when an assertion fails.
struct Logs {
    std::vector<sl_md_log *> logs;
    explicit Logs(size_t n) : logs(n, nullptr)
    {
    }
    ~Logs()
    {
        for (auto *&log : logs) {
            shut(log);
        }
    }
    static void shut(sl_md_log *&log)
    {
        if (log != nullptr) {
            sl_md_log_stop(log);
            sl_md_log_close(log);
            log = nullptr;
        }
    }
};

sl_md_log_options cluster_options(int node_id, uint16_t port, const std::string &voters,
                                  const std::string &dir)
{
    std::vector<std::string> args = {
        "sluiced",
        "--override",
        "node.id=" + std::to_string(node_id),
        "--override",
        "listeners=PLAINTEXT://127.0.0.1:" + std::to_string(free_port()) +
            ",CONTROLLER://127.0.0.1:" + std::to_string(port),
        "--override",
        "controller.quorum.voters=" + voters,
        "--override",
        "metadata.log.dir=" + dir,
        "--override",
        "controller.quorum.election.timeout.ms=300",
        "--override",
        "controlplane.quorum.heartbeat.ms=50",
        "--override",
        "broker.session.timeout.ms=60000",
    };
    std::vector<const char *> argv;
    for (auto &a : args) {
        argv.push_back(a.c_str());
    }
    sl_config cfg;
    char err[512] = "";
    EXPECT_EQ(sl_config_load_args(&cfg, (int)argv.size(), argv.data(), err, sizeof(err)), 0) << err;
    sl_md_log_options o;
    EXPECT_EQ(sl_md_log_options_from_config(&cfg, 1, &o, err, sizeof(err)), 0) << err;
    sl_config_free(&cfg);
    return o;
}

std::string published_bytes(sl_md_log *log)
{
    const sl_md_image *img = sl_md_publisher_acquire(sl_md_log_publisher(log), 0);
    std::string bytes = image_bytes(img);
    sl_md_publisher_release(sl_md_log_publisher(log), 0);
    return bytes;
}

bool published_topic(sl_md_log *log, const char *name)
{
    const sl_md_image *img = sl_md_publisher_acquire(sl_md_log_publisher(log), 0);
    bool found = sl_md_image_topic(img, name) != nullptr;
    sl_md_publisher_release(sl_md_log_publisher(log), 0);
    return found;
}

int run_on(sl_md_log *log, sl_md_request *req)
{
    EXPECT_EQ(sl_md_log_submit(log, req), 0);
    EXPECT_TRUE(wait_for([&] { return sl_md_request_is_done(req); }));
    return req->error_code;
}

} // namespace

// Three voters in one process over real TCP on loopback: the controller fails over and a
// restarted voter catches up; every node publishes byte-identical images.
TEST(MetadataLogCluster, ThreeVotersFailOverAndConverge)
{
    TempDir dirs[3];
    std::vector<uint16_t> ports;
    std::string voters;
    for (int i = 0; i < 3; i++) {
        ports.push_back(free_port());
        voters += (i ? "," : "") + std::to_string(i + 1) + "@127.0.0.1:" + std::to_string(ports[i]);
    }
    Logs set(3);
    std::vector<sl_md_log *> &logs = set.logs;
    auto open_node = [&](int i) {
        sl_md_log_options o = cluster_options(i + 1, ports[i], voters, dirs[i].path);
        char err[512] = "";
        ASSERT_EQ(sl_md_log_open(&o, &logs[i], err, sizeof(err)), 0) << err;
        ASSERT_EQ(sl_md_log_start(logs[i]), 0);
    };
    auto controller = [&]() -> int {
        for (int i = 0; i < 3; i++) {
            if (logs[i] != nullptr && sl_md_log_is_controller(logs[i])) {
                return i;
            }
        }
        return -1;
    };
    auto converged = [&](const char *topic) {
        std::string first;
        for (auto *log : logs) {
            if (log == nullptr || !published_topic(log, topic)) {
                return false;
            }
            std::string bytes = published_bytes(log);
            if (first.empty()) {
                first = bytes;
            } else if (bytes != first) {
                return false;
            }
        }
        return true;
    };
    for (int i = 0; i < 3; i++) {
        open_node(i);
    }
    ASSERT_TRUE(wait_for([&] { return controller() >= 0; })) << "no controller elected";
    int c = controller();
    for (int32_t id = 1; id <= 3; id++) {
        sl_md_request req;
        memset(&req, 0, sizeof(req));
        req.type = SL_MD_REQUEST_REGISTER_BROKER;
        req.register_broker.broker_id = id;
        req.register_broker.incarnation_id = test_uuid(40 + (unsigned)id);
        ASSERT_EQ(run_on(logs[c], &req), 0) << req.error_message;
        int64_t epoch = req.broker_epoch;
        memset(&req, 0, sizeof(req));
        req.type = SL_MD_REQUEST_HEARTBEAT;
        req.heartbeat.broker_id = id;
        req.heartbeat.broker_epoch = epoch;
        ASSERT_EQ(run_on(logs[c], &req), 0);
    }
    sl_md_request create;
    memset(&create, 0, sizeof(create));
    create.type = SL_MD_REQUEST_CREATE_TOPIC;
    snprintf(create.create_topic.name, sizeof(create.create_topic.name), "replicated");
    create.create_topic.num_partitions = 3;
    create.create_topic.replication_factor = 3;
    ASSERT_EQ(run_on(logs[c], &create), 0) << create.error_message;
    ASSERT_TRUE(wait_for([&] { return converged("replicated"); }));

    // A follower forwards to the controller: the same name again is refused by it, a new
    // one is created and the follower's own image has it when the request completes.
    int follower = (c + 1) % 3;
    sl_md_request again = create;
    EXPECT_EQ(run_on(logs[follower], &again), SL_KAFKA_TOPIC_ALREADY_EXISTS);
    sl_md_request via_follower = create;
    snprintf(via_follower.create_topic.name, sizeof(via_follower.create_topic.name), "forwarded");
    ASSERT_EQ(run_on(logs[follower], &via_follower), 0) << via_follower.error_message;
    EXPECT_GT(via_follower.applied_index, 0u);
    EXPECT_TRUE(published_topic(logs[follower], "forwarded")) << "read your own write";
    ASSERT_TRUE(wait_for([&] { return converged("forwarded"); }));

    // The controller goes away; the other two elect a new one that serves requests.
    Logs::shut(logs[c]);
    ASSERT_TRUE(wait_for([&] { return controller() >= 0; })) << "no failover";
    int c2 = controller();
    ASSERT_NE(c2, c);
    memset(&create, 0, sizeof(create));
    create.type = SL_MD_REQUEST_CREATE_TOPIC;
    snprintf(create.create_topic.name, sizeof(create.create_topic.name), "after-failover");
    create.create_topic.num_partitions = 2;
    create.create_topic.replication_factor = 2;
    ASSERT_EQ(run_on(logs[c2], &create), 0) << create.error_message;

    // The old controller restarts from its directory and catches up.
    open_node(c);
    ASSERT_TRUE(wait_for([&] { return converged("after-failover"); }))
        << "restarted voter did not converge";
    for (auto *log : logs) {
        EXPECT_EQ(sl_md_log_error(log), nullptr);
    }
}

// A broker-only node: refused without metadata.standby.address; once the controller adds
// it as a standby it replicates and applies the log without voting, and keeps doing so
// across its own restart.
TEST(MetadataLogCluster, BrokerOnlyStandbyReplicatesTheLog)
{
    TempDir voter_dir_guard, standby_dir_guard;
    const std::string &voter_dir = voter_dir_guard.path;
    const std::string &standby_dir = standby_dir_guard.path;
    uint16_t voter_port = free_port();
    uint16_t standby_port = free_port();
    std::string voters = "1@127.0.0.1:" + std::to_string(voter_port);
    std::string standby_address = "127.0.0.1:" + std::to_string(standby_port);
    auto standby_options = [&](bool with_address) {
        std::vector<std::string> args = {
            "sluiced",
            "--override",
            "node.id=2",
            "--override",
            "process.roles=broker",
            "--override",
            "listeners=PLAINTEXT://127.0.0.1:" + std::to_string(free_port()),
            "--override",
            "controller.quorum.voters=" + voters,
            "--override",
            "metadata.log.dir=" + standby_dir,
        };
        if (with_address) {
            args.push_back("--override");
            args.push_back("metadata.standby.address=" + standby_address);
        }
        std::vector<const char *> argv;
        for (auto &a : args) {
            argv.push_back(a.c_str());
        }
        sl_config cfg;
        char err[512] = "";
        EXPECT_EQ(sl_config_load_args(&cfg, (int)argv.size(), argv.data(), err, sizeof(err)), 0)
            << err;
        sl_md_log_options o;
        int rc = sl_md_log_options_from_config(&cfg, 1, &o, err, sizeof(err));
        sl_config_free(&cfg);
        if (!with_address) {
            EXPECT_EQ(rc, -EINVAL);
            EXPECT_NE(std::string(err).find("set metadata.standby.address"), std::string::npos)
                << err;
        } else {
            EXPECT_EQ(rc, 0) << err;
        }
        return o;
    };
    standby_options(false);

    sl_md_log_options vo = cluster_options(1, voter_port, voters, voter_dir);
    Logs set(2);
    sl_md_log *&voter = set.logs[0];
    sl_md_log *&standby = set.logs[1];
    char err[512] = "";
    ASSERT_EQ(sl_md_log_open(&vo, &voter, err, sizeof(err)), 0) << err;
    ASSERT_EQ(sl_md_log_start(voter), 0);
    sl_md_log_options so = standby_options(true);
    ASSERT_EQ(sl_md_log_open(&so, &standby, err, sizeof(err)), 0) << err;
    ASSERT_EQ(sl_md_log_start(standby), 0);
    ASSERT_TRUE(wait_for([&] { return sl_md_log_is_controller(voter); }));

    sl_md_request req;
    memset(&req, 0, sizeof(req));
    req.type = SL_MD_REQUEST_ADD_STANDBY;
    req.add_standby.node_id = 2;
    snprintf(req.add_standby.address, sizeof(req.add_standby.address), "%s",
             standby_address.c_str());
    ASSERT_EQ(run_on(voter, &req), 0) << req.error_message;
    EXPECT_EQ(run_on(voter, &req), 0) << "adding the same standby again is a no-op";
    sl_md_request clash = req;
    clash.add_standby.node_id = 1;
    EXPECT_EQ(run_on(voter, &clash), SL_KAFKA_INVALID_REQUEST);
    EXPECT_NE(std::string(clash.error_message).find("as a voter"), std::string::npos)
        << clash.error_message;

    for (int32_t id = 1; id <= 2; id++) {
        memset(&req, 0, sizeof(req));
        req.type = SL_MD_REQUEST_REGISTER_BROKER;
        req.register_broker.broker_id = id;
        req.register_broker.incarnation_id = test_uuid(60 + (unsigned)id);
        ASSERT_EQ(run_on(voter, &req), 0) << req.error_message;
        int64_t epoch = req.broker_epoch;
        memset(&req, 0, sizeof(req));
        req.type = SL_MD_REQUEST_HEARTBEAT;
        req.heartbeat.broker_id = id;
        req.heartbeat.broker_epoch = epoch;
        ASSERT_EQ(run_on(voter, &req), 0);
    }
    memset(&req, 0, sizeof(req));
    req.type = SL_MD_REQUEST_CREATE_TOPIC;
    snprintf(req.create_topic.name, sizeof(req.create_topic.name), "to-standby");
    req.create_topic.num_partitions = 2;
    req.create_topic.replication_factor = 2;
    ASSERT_EQ(run_on(voter, &req), 0) << req.error_message;
    auto same = [&] {
        return published_topic(standby, "to-standby") &&
               published_bytes(standby) == published_bytes(voter);
    };
    ASSERT_TRUE(wait_for(same)) << "standby did not receive the log";
    EXPECT_FALSE(sl_md_log_is_controller(standby));
    // The standby forwards to the controller.
    sl_md_request again = req;
    EXPECT_EQ(run_on(standby, &again), SL_KAFKA_TOPIC_ALREADY_EXISTS);
    snprintf(again.create_topic.name, sizeof(again.create_topic.name), "via-standby");
    ASSERT_EQ(run_on(standby, &again), 0) << again.error_message;
    EXPECT_TRUE(published_topic(standby, "via-standby"));
    EXPECT_TRUE(wait_for([&] { return published_topic(voter, "via-standby"); }));

    // The standby restarts from its directory (now holding the configuration) and keeps up.
    Logs::shut(standby);
    ASSERT_EQ(sl_md_log_open(&so, &standby, err, sizeof(err)), 0) << err;
    ASSERT_EQ(sl_md_log_start(standby), 0);
    memset(&req, 0, sizeof(req));
    req.type = SL_MD_REQUEST_CREATE_TOPIC;
    snprintf(req.create_topic.name, sizeof(req.create_topic.name), "after-standby-restart");
    req.create_topic.num_partitions = 1;
    req.create_topic.replication_factor = 1;
    ASSERT_EQ(run_on(voter, &req), 0) << req.error_message;
    ASSERT_TRUE(wait_for([&] {
        return published_topic(standby, "after-standby-restart") &&
               published_bytes(standby) == published_bytes(voter);
    }));
}

// One voter of three cannot form a quorum: it never becomes controller and refuses
// requests with NOT_CONTROLLER and no leader hint.
TEST(MetadataLogCluster, OneOfThreeVotersHasNoQuorum)
{
    TempDir dir;
    uint16_t port = free_port();
    std::string voters = "1@127.0.0.1:" + std::to_string(port) +
                         ",2@127.0.0.1:" + std::to_string(free_port()) +
                         ",3@127.0.0.1:" + std::to_string(free_port());
    sl_md_log_options o = cluster_options(1, port, voters, dir.path);
    Logs set(1);
    sl_md_log *&log = set.logs[0];
    char err[512] = "";
    ASSERT_EQ(sl_md_log_open(&o, &log, err, sizeof(err)), 0) << err;
    ASSERT_EQ(sl_md_log_start(log), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(2000)); // > 5 election timeouts
    EXPECT_FALSE(sl_md_log_is_controller(log));
    EXPECT_EQ(sl_md_log_leader_id(log), -1);
    sl_md_request req;
    memset(&req, 0, sizeof(req));
    req.type = SL_MD_REQUEST_REBALANCE_LEADERS;
    EXPECT_EQ(run_on(log, &req), SL_KAFKA_NOT_CONTROLLER);
    EXPECT_EQ(req.leader_id, -1);
    sl_md_log_stop(log);
    EXPECT_EQ(sl_md_log_submit(log, &req), -ESHUTDOWN);
}

TEST(MpscQueue, BoundedFifoWithConcurrentProducers)
{
    sl_mpsc_queue *q = sl_mpsc_queue_new(5); // rounds up to 8
    std::vector<int> items(16);
    for (int i = 0; i < 8; i++) {
        ASSERT_TRUE(sl_mpsc_queue_push(q, &items[i]));
    }
    EXPECT_FALSE(sl_mpsc_queue_push(q, &items[8])) << "full queue refuses";
    for (int i = 0; i < 8; i++) {
        ASSERT_EQ(sl_mpsc_queue_pop(q), &items[i]);
    }
    EXPECT_EQ(sl_mpsc_queue_pop(q), nullptr);
    sl_mpsc_queue_free(q);

    q = sl_mpsc_queue_new(64);
    constexpr int per_producer = 20000;
    std::vector<std::vector<int>> values(3, std::vector<int>(per_producer));
    std::vector<std::thread> producers;
    for (int p = 0; p < 3; p++) {
        producers.emplace_back([&, p] {
            for (int i = 0; i < per_producer; i++) {
                values[p][i] = p * per_producer + i;
                while (!sl_mpsc_queue_push(q, &values[p][i])) {
                    std::this_thread::yield();
                }
            }
        });
    }
    std::vector<int> last(3, -1);
    int received = 0;
    while (received < 3 * per_producer) {
        int *v = static_cast<int *>(sl_mpsc_queue_pop(q));
        if (v == nullptr) {
            std::this_thread::yield();
            continue;
        }
        int p = *v / per_producer;
        ASSERT_GT(*v, last[p]) << "per-producer order must hold";
        last[p] = *v;
        received++;
    }
    for (auto &t : producers) {
        t.join();
    }
    sl_mpsc_queue_free(q);
}

namespace
{

sl_md_request register_request(int32_t id, unsigned incarnation, const std::string &standby = "")
{
    sl_md_request req;
    memset(&req, 0, sizeof(req));
    req.type = SL_MD_REQUEST_REGISTER_BROKER;
    req.register_broker.broker_id = id;
    req.register_broker.incarnation_id = test_uuid(incarnation);
    req.register_broker.listener_count = 1;
    snprintf(req.register_broker.listeners[0].name, sizeof(req.register_broker.listeners[0].name),
             "PLAINTEXT");
    snprintf(req.register_broker.listeners[0].host, sizeof(req.register_broker.listeners[0].host),
             "127.0.0.1");
    req.register_broker.listeners[0].port = (uint16_t)(9000 + id);
    snprintf(req.register_standby_address, sizeof(req.register_standby_address), "%s",
             standby.c_str());
    return req;
}

sl_md_request heartbeat_request(int32_t id, int64_t epoch)
{
    sl_md_request req;
    memset(&req, 0, sizeof(req));
    req.type = SL_MD_REQUEST_HEARTBEAT;
    req.heartbeat.broker_id = id;
    req.heartbeat.broker_epoch = epoch;
    return req;
}

sl_md_request create_request(const std::string &name, int partitions = 1, int16_t rf = 1)
{
    sl_md_request req;
    memset(&req, 0, sizeof(req));
    req.type = SL_MD_REQUEST_CREATE_TOPIC;
    snprintf(req.create_topic.name, sizeof(req.create_topic.name), "%s", name.c_str());
    req.create_topic.num_partitions = partitions;
    req.create_topic.replication_factor = rf;
    return req;
}

// The broker as the published image of `log` sees it: -1 unknown, 0 unfenced, 1 fenced.
int broker_state(sl_md_log *log, int32_t id)
{
    const sl_md_image *img = sl_md_publisher_acquire(sl_md_log_publisher(log), 0);
    const sl_md_broker *b = sl_md_image_broker(img, id);
    int state = b == nullptr ? -1 : b->fenced ? 1 : 0;
    sl_md_publisher_release(sl_md_log_publisher(log), 0);
    return state;
}

sl_md_log_options standby_options(int node_id, const std::string &voters,
                                  const std::string &address, const std::string &dir)
{
    std::vector<std::string> args = {
        "sluiced",
        "--override",
        "node.id=" + std::to_string(node_id),
        "--override",
        "process.roles=broker",
        "--override",
        "listeners=PLAINTEXT://127.0.0.1:" + std::to_string(free_port()),
        "--override",
        "controller.quorum.voters=" + voters,
        "--override",
        "metadata.log.dir=" + dir,
        "--override",
        "metadata.standby.address=" + address,
        "--override",
        "controller.quorum.election.timeout.ms=300",
    };
    std::vector<const char *> argv;
    for (auto &a : args) {
        argv.push_back(a.c_str());
    }
    sl_config cfg;
    char err[512] = "";
    EXPECT_EQ(sl_config_load_args(&cfg, (int)argv.size(), argv.data(), err, sizeof(err)), 0) << err;
    sl_md_log_options o;
    EXPECT_EQ(sl_md_log_options_from_config(&cfg, 1, &o, err, sizeof(err)), 0) << err;
    sl_config_free(&cfg);
    return o;
}

// A raw TCP client of a CONTROLLER listener.
struct RawConnection {
    int fd = -1;
    explicit RawConnection(uint16_t port)
    {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr = {};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(port);
        EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
        timeval tv = {5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    ~RawConnection()
    {
        close(fd);
    }
    bool send_all(const std::vector<uint8_t> &bytes)
    {
        return write(fd, bytes.data(), bytes.size()) == (ssize_t)bytes.size();
    }
    // Reads one frame; empty on EOF, error or timeout.
    std::vector<uint8_t> read_frame()
    {
        std::vector<uint8_t> frame(4);
        if (!read_exactly(frame.data(), 4)) {
            return {};
        }
        uint32_t size = sl_load_be32(frame.data());
        frame.resize(4 + size);
        if (!read_exactly(frame.data() + 4, size)) {
            return {};
        }
        return frame;
    }
    bool read_exactly(uint8_t *p, size_t n)
    {
        while (n > 0) {
            ssize_t k = read(fd, p, n);
            if (k <= 0) {
                return false;
            }
            p += k;
            n -= (size_t)k;
        }
        return true;
    }
    // True when the server closed the connection (read returns 0 or a reset).
    bool closed_by_peer()
    {
        uint8_t byte;
        ssize_t k = read(fd, &byte, 1);
        return k == 0 || (k < 0 && errno == ECONNRESET);
    }
};

std::vector<uint8_t> request_frame(const sl_md_request &req, uint32_t correlation_id)
{
    std::vector<uint8_t> buf(SL_CTRL_RPC_FRAME_BYTES_MAX);
    size_t n = sl_ctrl_rpc_encode_request(&req, correlation_id, buf.data(), buf.size());
    EXPECT_GT(n, 0u);
    buf.resize(n);
    return buf;
}

} // namespace

// A broker-only node joins by itself: its registration (sent to its own log, forwarded to
// the controller because it knows no leader yet) records it and makes it a standby; the
// request completes once the standby has applied it. Two standbys register at once: the
// controller serializes the two membership changes.
TEST(MetadataLogCluster, StandbysJoinByRegistering)
{
    TempDir voter_dir, dir2, dir3;
    uint16_t voter_port = free_port();
    std::string voters = "1@127.0.0.1:" + std::to_string(voter_port);
    std::string address2 = "127.0.0.1:" + std::to_string(free_port());
    std::string address3 = "127.0.0.1:" + std::to_string(free_port());
    Logs set(3);
    sl_md_log *&voter = set.logs[0];
    sl_md_log *&s2 = set.logs[1];
    sl_md_log *&s3 = set.logs[2];
    char err[512] = "";
    sl_md_log_options vo = cluster_options(1, voter_port, voters, voter_dir.path);
    ASSERT_EQ(sl_md_log_open(&vo, &voter, err, sizeof(err)), 0) << err;
    ASSERT_EQ(sl_md_log_start(voter), 0);
    sl_md_log_options o2 = standby_options(2, voters, address2, dir2.path);
    sl_md_log_options o3 = standby_options(3, voters, address3, dir3.path);
    ASSERT_EQ(sl_md_log_open(&o2, &s2, err, sizeof(err)), 0) << err;
    ASSERT_EQ(sl_md_log_open(&o3, &s3, err, sizeof(err)), 0) << err;
    ASSERT_EQ(sl_md_log_start(s2), 0);
    ASSERT_EQ(sl_md_log_start(s3), 0);

    sl_md_request r1 = register_request(1, 301);
    ASSERT_EQ(run_on(voter, &r1), 0) << r1.error_message; // waits for the election
    sl_md_request r2 = register_request(2, 302, address2);
    sl_md_request r3 = register_request(3, 303, address3);
    ASSERT_EQ(sl_md_log_submit(s2, &r2), 0);
    ASSERT_EQ(sl_md_log_submit(s3, &r3), 0);
    ASSERT_TRUE(wait_for([&] { return sl_md_request_is_done(&r2) && sl_md_request_is_done(&r3); }));
    ASSERT_EQ(r2.error_code, 0) << r2.error_message;
    ASSERT_EQ(r3.error_code, 0) << r3.error_message;
    EXPECT_EQ(broker_state(s2, 2), 1) << "the standby applied its own registration";
    EXPECT_EQ(broker_state(s3, 3), 1);
    EXPECT_FALSE(sl_md_log_is_controller(s2));

    // Heartbeats from the standbys are forwarded too and unfence them.
    for (auto [log, id, epoch] :
         {std::tuple{voter, 1, r1.broker_epoch}, std::tuple{s2, 2, r2.broker_epoch},
          std::tuple{s3, 3, r3.broker_epoch}}) {
        sl_md_request hb = heartbeat_request(id, epoch);
        ASSERT_EQ(run_on(log, &hb), 0) << hb.error_message;
    }
    sl_md_request create = create_request("to-standbys", 3, 3);
    ASSERT_EQ(run_on(voter, &create), 0) << create.error_message;
    ASSERT_TRUE(wait_for([&] {
        return published_topic(s2, "to-standbys") && published_topic(s3, "to-standbys") &&
               published_bytes(s2) == published_bytes(voter) &&
               published_bytes(s3) == published_bytes(voter);
    })) << "the standbys receive the log";

    // Registering again (a restarted standby) is idempotent, membership included.
    sl_md_request again = register_request(2, 302, address2);
    ASSERT_EQ(run_on(s2, &again), 0) << again.error_message;
    EXPECT_EQ(again.broker_epoch, r2.broker_epoch);
    sl_md_log_rpc_stats stats;
    sl_md_log_get_rpc_stats(s2, &stats);
    EXPECT_GE(stats.requests_forwarded, 3u);
    sl_md_log_get_rpc_stats(voter, &stats);
    EXPECT_GE(stats.requests_served, 5u);
    EXPECT_EQ(stats.bad_frames, 0u);
}

// The controller stops while a follower has requests in flight to it: every request
// completes with a definite answer once the survivors elect a new controller (a create
// whose first answer was lost may come back TOPIC_ALREADY_EXISTS, as in Kafka), and every
// topic asked for exists.
TEST(MetadataLogCluster, LeaderChangeInTheMiddleOfForwarding)
{
    TempDir dirs[3];
    std::vector<uint16_t> ports;
    std::string voters;
    for (int i = 0; i < 3; i++) {
        ports.push_back(free_port());
        voters += (i ? "," : "") + std::to_string(i + 1) + "@127.0.0.1:" + std::to_string(ports[i]);
    }
    Logs set(3);
    std::vector<sl_md_log *> &logs = set.logs;
    for (int i = 0; i < 3; i++) {
        sl_md_log_options o = cluster_options(i + 1, ports[i], voters, dirs[i].path);
        /* The survivors' election can take several election timeouts on a loaded machine
         * under the sanitizers; what is tested is that every request ends with a definite
         * answer, not how fast, so the forwarding deadline is generous here. */
        o.request_timeout_ms = 20000;
        char err[512] = "";
        ASSERT_EQ(sl_md_log_open(&o, &logs[i], err, sizeof(err)), 0) << err;
        ASSERT_EQ(sl_md_log_start(logs[i]), 0);
    }
    auto controller = [&]() -> int {
        for (int i = 0; i < 3; i++) {
            if (logs[i] != nullptr && sl_md_log_is_controller(logs[i])) {
                return i;
            }
        }
        return -1;
    };
    ASSERT_TRUE(wait_for([&] { return controller() >= 0; }));
    int c = controller();
    int follower = (c + 1) % 3;
    for (int32_t id = 1; id <= 3; id++) {
        sl_md_request reg = register_request(id, 400 + (unsigned)id);
        ASSERT_EQ(run_on(logs[follower], &reg), 0) << reg.error_message;
        sl_md_request hb = heartbeat_request(id, reg.broker_epoch);
        ASSERT_EQ(run_on(logs[follower], &hb), 0) << hb.error_message;
    }
    constexpr int count = 12;
    std::vector<sl_md_request> creates(count);
    for (int k = 0; k < count; k++) {
        creates[k] = create_request("mid-" + std::to_string(k));
        ASSERT_EQ(sl_md_log_submit(logs[follower], &creates[k]), 0);
    }
    Logs::shut(logs[c]);
    for (int k = 0; k < count; k++) {
        ASSERT_TRUE(wait_for([&] { return sl_md_request_is_done(&creates[k]); }));
        int code = creates[k].error_code;
        EXPECT_TRUE(code == 0 || code == SL_KAFKA_TOPIC_ALREADY_EXISTS)
            << "mid-" << k << ": " << code << " " << creates[k].error_message;
    }
    ASSERT_TRUE(wait_for([&] { return controller() >= 0; }));
    EXPECT_NE(controller(), c);
    for (int k = 0; k < count; k++) {
        EXPECT_TRUE(published_topic(logs[follower], ("mid-" + std::to_string(k)).c_str()))
            << "mid-" << k;
    }
    sl_md_log_rpc_stats stats;
    sl_md_log_get_rpc_stats(logs[follower], &stats);
    EXPECT_GE(stats.requests_forwarded, (uint64_t)count + 6);
    printf("forwarded %llu requests, %llu resends across the leader change\n",
           (unsigned long long)stats.requests_forwarded, (unsigned long long)stats.forward_retries);
    sl_md_request after = create_request("after-the-change");
    ASSERT_EQ(run_on(logs[follower], &after), 0) << after.error_message;
    EXPECT_TRUE(published_topic(logs[follower], "after-the-change"));
}

// Each node runs its broker lifecycle on its control-plane thread (registration, then
// heartbeats, forwarded to whoever leads). A new active controller gives every registered
// broker a fresh session at takeover: the brokers that keep heartbeating stay unfenced,
// and the broker of the stopped controller is fenced one session timeout later. A broker
// whose registration is removed registers again by itself.
TEST(MetadataLogCluster, BrokerLifecycleAndFailoverSessions)
{
    TempDir dirs[3];
    std::vector<uint16_t> ports;
    std::string voters;
    for (int i = 0; i < 3; i++) {
        ports.push_back(free_port());
        voters += (i ? "," : "") + std::to_string(i + 1) + "@127.0.0.1:" + std::to_string(ports[i]);
    }
    Logs set(3);
    std::vector<sl_md_log *> &logs = set.logs;
    for (int i = 0; i < 3; i++) {
        sl_md_log_options o = cluster_options(i + 1, ports[i], voters, dirs[i].path);
        o.settings.broker_session_timeout_ms = 1500;
        char err[512] = "";
        ASSERT_EQ(sl_md_log_open(&o, &logs[i], err, sizeof(err)), 0) << err;
        ASSERT_EQ(sl_md_log_start(logs[i]), 0);
        EXPECT_EQ(sl_md_log_broker_epoch(logs[i]), -1);
        sl_md_request reg = register_request(i + 1, 500 + (unsigned)i);
        ASSERT_EQ(sl_md_log_broker_start(logs[i], &reg, 300), 0);
        EXPECT_EQ(sl_md_log_broker_start(logs[i], &reg, 300), -EALREADY);
    }
    auto controller = [&]() -> int {
        for (int i = 0; i < 3; i++) {
            if (logs[i] != nullptr && sl_md_log_is_controller(logs[i])) {
                return i;
            }
        }
        return -1;
    };
    ASSERT_TRUE(wait_for([&] {
        int c = controller();
        return c >= 0 && sl_md_log_broker_unfenced(logs[0]) && sl_md_log_broker_unfenced(logs[1]) &&
               sl_md_log_broker_unfenced(logs[2]) && broker_state(logs[c], 1) == 0 &&
               broker_state(logs[c], 2) == 0 && broker_state(logs[c], 3) == 0;
    })) << "every broker registered and unfenced by its own lifecycle";
    for (int i = 0; i < 3; i++) {
        EXPECT_GT(sl_md_log_broker_epoch(logs[i]), 0);
        EXPECT_EQ(sl_md_log_broker_last_error(logs[i]), 0);
    }

    // Decommission broker of a follower node: its lifecycle registers it again.
    int c = controller();
    int f = (c + 1) % 3;
    int64_t old_epoch = sl_md_log_broker_epoch(logs[f]);
    sl_md_request unregister;
    memset(&unregister, 0, sizeof(unregister));
    unregister.type = SL_MD_REQUEST_UNREGISTER_BROKER;
    unregister.unregister_broker_id = f + 1;
    ASSERT_EQ(run_on(logs[c], &unregister), 0) << unregister.error_message;
    ASSERT_TRUE(wait_for([&] {
        return sl_md_log_broker_epoch(logs[f]) > old_epoch && sl_md_log_broker_unfenced(logs[f]) &&
               broker_state(logs[c], f + 1) == 0;
    })) << "the removed broker registered again";

    Logs::shut(logs[c]);
    int c2 = -1;
    ASSERT_TRUE(wait_for([&] {
        c2 = controller();
        return c2 >= 0 && broker_state(logs[c2], c + 1) == 1;
    })) << "the silent broker is fenced by the new controller";
    // The others are never fenced: watch for two more session timeouts.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(3000);
    while (std::chrono::steady_clock::now() < until) {
        for (int i = 0; i < 3; i++) {
            if (i != c) {
                ASSERT_EQ(broker_state(logs[c2], i + 1), 0) << "broker " << i + 1 << " fenced";
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

// Garbage on the CONTROLLER listener closes only the connection that sent it: another
// RPC connection keeps being served and raft keeps working.
TEST_F(MetadataLogTest, GarbageOnTheControllerListenerClosesThatConnectionOnly)
{
    open_and_start(options());
    register_and_unfence(1);
    RawConnection good(port);
    sl_md_request create = create_request("over-rpc");
    ASSERT_TRUE(good.send_all(request_frame(create, 11)));
    std::vector<uint8_t> answer = good.read_frame();
    sl_md_request result;
    memset(&result, 0, sizeof(result));
    ASSERT_EQ(sl_ctrl_rpc_decode_response(answer.data(), answer.size(), &result), 0);
    EXPECT_EQ(sl_load_be32(answer.data() + 8), 11u) << "correlation id echoed";
    EXPECT_EQ(result.error_code, 0) << result.error_message;
    EXPECT_GT(result.applied_index, 0u);

    // A first frame shorter than a raft preamble arrives with the bytes the listener reads
    // to tell raft from RPC, and is answered at once; the connection keeps serving.
    RawConnection quick(port);
    sl_md_request rebalance;
    memset(&rebalance, 0, sizeof(rebalance));
    rebalance.type = SL_MD_REQUEST_REBALANCE_LEADERS;
    for (uint32_t id = 21; id <= 23; id++) {
        ASSERT_TRUE(quick.send_all(request_frame(rebalance, id)));
        answer = quick.read_frame();
        ASSERT_EQ(sl_ctrl_rpc_decode_response(answer.data(), answer.size(), &result), 0)
            << "request " << id;
        EXPECT_EQ(result.error_code, 0);
    }

    RawConnection bad_format(port);
    std::vector<uint8_t> frame = request_frame(create, 12);
    frame[5] = 9; // format 9
    ASSERT_TRUE(bad_format.send_all(frame));
    EXPECT_TRUE(bad_format.closed_by_peer());

    RawConnection too_big(port);
    ASSERT_TRUE(too_big.send_all({0, 0x7f, 0xff, 0xff, 1, 2, 3}));
    EXPECT_TRUE(too_big.closed_by_peer());

    RawConnection not_raft_nor_rpc(port);
    ASSERT_TRUE(not_raft_nor_rpc.send_all({0x47, 0x45, 0x54, 0x20})); // "GET "
    EXPECT_TRUE(not_raft_nor_rpc.closed_by_peer());

    RawConnection bad_raft_version(port);
    std::vector<uint8_t> preamble(24, 0);
    preamble[0] = 1;
    preamble[1] = 1; // version 257
    preamble[16] = 16;
    ASSERT_TRUE(bad_raft_version.send_all(preamble));
    EXPECT_TRUE(bad_raft_version.closed_by_peer());

    sl_md_request again = create_request("over-rpc");
    ASSERT_TRUE(good.send_all(request_frame(again, 13)));
    answer = good.read_frame();
    ASSERT_EQ(sl_ctrl_rpc_decode_response(answer.data(), answer.size(), &result), 0);
    EXPECT_EQ(result.error_code, SL_KAFKA_TOPIC_ALREADY_EXISTS);
    EXPECT_EQ(create_topic("after-garbage", 1), 0) << "raft still commits";

    sl_md_log_rpc_stats stats;
    sl_md_log_get_rpc_stats(log, &stats);
    EXPECT_EQ(stats.bad_frames, 2u);
    EXPECT_EQ(stats.bad_handshakes, 2u);
    EXPECT_EQ(stats.requests_served, 5u);
}
