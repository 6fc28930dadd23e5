// Integration tests of the real sluiced process: started through the shared harness
// (tests/support/broker_process) on free ports in a temporary directory, driven by kcat
// and raw sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/broker_process.h"
#include "tests/support/child_process.h"
#include "tests/support/raw_kafka_client.h"
#include "tests/support/stats_socket.h"

namespace
{

std::string run(const std::string &cmd)
{
    std::string out;
    FILE *p = popen(cmd.c_str(), "r");
    if (p == nullptr)
        return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        out.append(buf, n);
    pclose(p);
    return out;
}

int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

// A request frame with header v1 (client id "t") and an empty body.
std::string request_frame(int16_t api_key, int16_t version, int32_t correlation_id,
                          const std::string &rest = "")
{
    std::string body;
    auto put16 = [&](uint16_t v) { body.push_back(char(v >> 8)), body.push_back(char(v)); };
    auto put32 = [&](uint32_t v) {
        put16(uint16_t(v >> 16));
        put16(uint16_t(v));
    };
    put16(uint16_t(api_key));
    put16(uint16_t(version));
    put32(uint32_t(correlation_id));
    put16(1);
    body.push_back('t');
    body += rest;
    std::string frame;
    uint32_t n = htonl(uint32_t(body.size()));
    frame.append(reinterpret_cast<char *>(&n), 4);
    return frame + body;
}

bool api_versions_answered(uint16_t port)
{
    int fd = connect_to(port);
    if (fd < 0)
        return false;
    std::string f = request_frame(18, 0, 7);
    bool ok = send(fd, f.data(), f.size(), MSG_NOSIGNAL) == ssize_t(f.size());
    char hdr[8];
    ok = ok && recv(fd, hdr, sizeof(hdr), MSG_WAITALL) == 8;
    close(fd);
    return ok && hdr[7] == 7;
}

static void pipeline_produces(uint16_t port, const std::string &topic, int count,
                              int64_t first_offset)
{
    sl_test::raw_kafka_connection conn;
    std::string error;
    ASSERT_TRUE(conn.connect_to("127.0.0.1:" + std::to_string(port), 5000, &error)) << error;
    std::vector<uint8_t> all;
    for (int i = 0; i < count; i++) {
        std::vector<uint8_t> batch = sl_test::build_record_batch(
            {{"k" + std::to_string(i), std::string(60000, 'v')}}, 1700000000000 + i);
        std::vector<uint8_t> frame = sl_test::make_request_v1(
            0, 7, 100 + i, sl_test::make_produce_v7_body(topic, 0, 1, 5000, batch));
        uint8_t size[4] = {(uint8_t)(frame.size() >> 24), (uint8_t)(frame.size() >> 16),
                           (uint8_t)(frame.size() >> 8), (uint8_t)frame.size()};
        all.insert(all.end(), size, size + 4);
        all.insert(all.end(), frame.begin(), frame.end());
    }
    ASSERT_TRUE(conn.send_raw(all)); // every frame at once: all are queued when parsing starts
    for (int i = 0; i < count; i++) {
        std::vector<uint8_t> payload;
        ASSERT_EQ(conn.read_frame(&payload, 15000), sl_test::read_status::ok) << "answer " << i;
        int32_t correlation_id = 0;
        std::vector<sl_test::produce_partition_result> results;
        ASSERT_TRUE(sl_test::parse_produce_v7_response(payload, &correlation_id, &results));
        EXPECT_EQ(correlation_id, 100 + i);
        ASSERT_EQ(results.size(), 1u);
        EXPECT_EQ(results[0].error_code, 0);
        EXPECT_EQ(results[0].base_offset, first_offset + i);
    }
}

class Broker : public ::testing::Test
{
  protected:
    virtual std::string extra_properties()
    {
        return "";
    }
    // A real sluiced through the shared harness (tests/support/broker_process): free ports
    // (a start whose port was taken meanwhile is retried), its own dir, log and stats
    // socket; the properties below plus extra_properties() ("key=value" lines).
    void SetUp() override
    {
        sl_test::broker_options o;
        // A first start creates 50 __consumer_offsets partition logs: under ASan this took
        // 3 s idle and 8-16 s on a loaded machine before the index fix (about 1 s now);
        // 60 s keeps such a tail from failing the test.
        o.start_timeout_ms = 60000;
        o.properties["socket.request.max.bytes"] = "1048576";
        std::istringstream lines(extra_properties());
        std::string line;
        while (std::getline(lines, line)) {
            size_t eq = line.find('=');
            if (eq != std::string::npos)
                o.properties[line.substr(0, eq)] = line.substr(eq + 1);
        }
        broker.reset(new sl_test::broker_process(o));
        ASSERT_TRUE(broker->Start());
        dir = broker->dir();
        port = (uint16_t)broker->kafka_port();
    }
    void TearDown() override
    {
        // A clean stop must exit 0; under ASan this also fails on leaks and memory errors
        // found anywhere in the broker's run. broker_process prints the log on failure.
        if (broker && broker->running()) {
            EXPECT_TRUE(broker->Stop());
        }
    }
    // SIGTERM and a clean exit 0; Restart() brings the broker back with the same dir.
    ::testing::AssertionResult stop()
    {
        return broker->Stop();
    }
    void start()
    {
        ASSERT_TRUE(broker->Restart());
    }
    std::string log() const
    {
        return broker->log_text();
    }
    // Whether the broker log comes to contain text within 10 s: the start-up lines are
    // written by the main thread once the shards serve, possibly after the first answer.
    ::testing::AssertionResult log_shows(const std::string &text) const
    {
        for (int i = 0; i < 200; i++) {
            if (log().find(text) != std::string::npos)
                return ::testing::AssertionSuccess();
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return ::testing::AssertionFailure() << "'" << text << "' not in the log:\n" << log();
    }
    std::string kcat(const std::string &args, const std::string &input = "")
    {
        std::string cmd = "kcat -b 127.0.0.1:" + std::to_string(port) + " " + args + " 2>&1";
        if (!input.empty()) {
            std::string in = dir + "/input.txt";
            std::ofstream(in) << input;
            cmd += " < '" + in + "'";
        }
        return run(cmd);
    }
    // The raw /stats reply (per-shard objects); a failed query fails the test.
    std::string stats_json()
    {
        std::string reply, error;
        if (!sl_test::query_stats_socket(dir + "/stats.sock", "{\"cmd\":\"/stats\"}", 5000, &reply,
                                         &error) ||
            reply.empty())
            ADD_FAILURE() << "stats socket: " << error;
        return reply;
    }
    // Counters summed over the shards (tests/support/stats_socket.h). The socket opens once
    // every shard serves, possibly after the first answer: tried for up to 10 s.
    sl_test::stats_totals stats()
    {
        sl_test::stats_totals totals;
        std::string error;
        for (int i = 0; i < 200; i++) {
            if (sl_test::read_stats_totals(dir + "/stats.sock", &totals, &error))
                return totals;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        ADD_FAILURE() << "stats socket: " << error;
        return totals;
    }
    // backpressure_inflight added by 20 pipelined produces sent at once on one connection
    // (each answered in order, without error).
    int64_t inflight_backpressure_of_pipelined_produces()
    {
        kcat("-P -t pipelined -p 0", "created\n"); // offset 0
        sl_test::stats_totals before = stats();
        EXPECT_TRUE(before.has("backpressure_inflight"));
        pipeline_produces(port, "pipelined", 20, 1);
        return (int64_t)(stats().get("backpressure_inflight") -
                         before.get("backpressure_inflight"));
    }
    std::unique_ptr<sl_test::broker_process> broker;
    std::string dir;
    uint16_t port = 0;
};

TEST_F(Broker, KcatListsTheBroker)
{
    std::string out = kcat("-L");
    EXPECT_NE(out.find("broker 1 at 127.0.0.1:" + std::to_string(port)), std::string::npos) << out;
}

// The 50 __consumer_offsets logs every broker opens hold no records, so they hold no
// storage chunks: the whole cache is there for data.
TEST_F(Broker, AFreshBrokerKeepsItsWholeCacheFree)
{
    sl_test::stats_totals totals = stats();
    ASSERT_GT(totals.get("storage.chunks_total"), 0u);
    EXPECT_EQ(totals.get("storage.chunks_free"), totals.get("storage.chunks_total"));
}

TEST_F(Broker, ProduceConsumeRoundTripWithKeysHeadersAndCodecs)
{
    std::string expect;
    for (const char *codec : {"none", "gzip", "snappy", "lz4", "zstd"}) {
        std::string input;
        for (int i = 0; i < 200; i++)
            input += std::string("k") + std::to_string(i) + ":" + codec + "-value-" +
                     std::to_string(i) + "\n";
        kcat(std::string("-P -t rt -K: -H hk=hv -z ") + codec, input);
        expect += input;
    }
    std::string got = kcat("-C -t rt -e -q -f '%k:%s\\n'");
    EXPECT_EQ(got, expect);
    std::string headers = kcat("-C -t rt -e -q -c 1 -f '%h\\n'");
    EXPECT_EQ(headers, "hk=hv\n");
}

TEST_F(Broker, OversizedFrameClosesOnlyThatConnection)
{
    int bad = connect_to(port);
    ASSERT_GE(bad, 0);
    uint32_t size = htonl(2 * 1048576); // above socket.request.max.bytes
    ASSERT_EQ(send(bad, &size, 4, MSG_NOSIGNAL), 4);
    char c;
    errno = 0;
    ssize_t n = recv(bad, &c, 1, 0);
    EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET))
        << "the broker must close a connection announcing an oversized frame: n=" << n
        << " errno=" << errno;
    close(bad);
    EXPECT_TRUE(api_versions_answered(port));
    std::string out = kcat("-L");
    EXPECT_NE(out.find("broker 1 at"), std::string::npos) << out;
    EXPECT_EQ(stats().get("frames_rejected_too_large"), 1u) << stats_json();
}

TEST_F(Broker, SigtermThenRestartKeepsEveryRecord)
{
    std::string input;
    for (int i = 0; i < 5000; i++)
        input += "record-" + std::to_string(i) + "\n";
    kcat("-P -t keep -z lz4", input);
    ASSERT_EQ(kcat("-C -t keep -e -q"), input);
    ASSERT_TRUE(stop());
    start();
    EXPECT_EQ(kcat("-C -t keep -e -q"), input);
    kcat("-P -t keep", "after-restart\n");
    EXPECT_EQ(kcat("-C -t keep -e -q"), input + "after-restart\n");
}

TEST_F(Broker, ApiVersionsOfAnUnknownVersionAnswersUnsupportedVersionInV0)
{
    int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    std::string f = request_frame(18, 99, 42);
    ASSERT_EQ(send(fd, f.data(), f.size(), MSG_NOSIGNAL), ssize_t(f.size()));
    unsigned char hdr[10];
    ASSERT_EQ(recv(fd, hdr, sizeof(hdr), MSG_WAITALL), 10);
    EXPECT_EQ(hdr[7], 42); // correlation id, response header v0
    EXPECT_EQ((hdr[8] << 8) | hdr[9], 35) << "UNSUPPORTED_VERSION";
    close(fd);
}

// librdkafka 2.0.2 sends ListGroups v4 with one byte after the body
// (rd_kafka_ListConsumerGroups); Kafka reads the message and ignores what follows, so
// sluice answers it too and counts it.
TEST_F(Broker, TrailingBytesAfterARequestBodyAreIgnoredAndCounted)
{
    int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    // Header tags (0), states filter: empty compact array (1), body tags (0), extra 0.
    std::string f = request_frame(16, 4, 77, std::string("\x00\x01\x00\x00", 4));
    ASSERT_EQ(send(fd, f.data(), f.size(), MSG_NOSIGNAL), ssize_t(f.size()));
    unsigned char hdr[15];
    ASSERT_EQ(recv(fd, hdr, sizeof(hdr), MSG_WAITALL), ssize_t(sizeof(hdr)));
    EXPECT_EQ(hdr[7], 77); // correlation id
    EXPECT_EQ((hdr[13] << 8) | hdr[14], 0) << "ListGroups error code";
    close(fd);
    EXPECT_EQ(stats().get("requests_trailing_bytes"), 1u) << stats_json();
}

TEST_F(Broker, FramesSplitAcrossSendsAndPipelinedFramesAreAnsweredInOrder)
{
    int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    // One frame a byte at a time: the size prefix and the body span receive buffers.
    std::string f = request_frame(18, 2, 100); // v0-2: header v1, empty body
    for (char c : f) {
        ASSERT_EQ(send(fd, &c, 1, MSG_NOSIGNAL), 1);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    // Then 12 frames in one send: several requests in flight, answered in order.
    std::string many;
    for (int i = 0; i < 12; i++)
        many += request_frame(18, int16_t(i % 3), 200 + i);
    ASSERT_EQ(send(fd, many.data(), many.size(), MSG_NOSIGNAL), ssize_t(many.size()));
    for (int expect : {100, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211}) {
        unsigned char hdr[8];
        ASSERT_EQ(recv(fd, hdr, sizeof(hdr), MSG_WAITALL), 8);
        uint32_t size = (uint32_t(hdr[0]) << 24) | (hdr[1] << 16) | (hdr[2] << 8) | hdr[3];
        int32_t corr = int32_t((uint32_t(hdr[4]) << 24) | (hdr[5] << 16) | (hdr[6] << 8) | hdr[7]);
        EXPECT_EQ(corr, expect);
        std::string rest(size - 4, '\0');
        ASSERT_EQ(recv(fd, rest.data(), rest.size(), MSG_WAITALL), ssize_t(rest.size()));
        EXPECT_EQ(rest[0], 0);
        EXPECT_EQ(rest[1], 0) << "ApiVersions error code";
    }
    close(fd);
    sl_test::stats_totals totals = stats();
    ASSERT_TRUE(totals.has("frames_assembled_copy")) << stats_json();
    EXPECT_GT(totals.get("frames_assembled_copy"), 0u) << stats_json();
}

TEST_F(Broker, AdminCreateDescribeDeleteTopicsWithKafkaPython)
{
    std::string script = dir + "/admin.py";
    std::ofstream(script)
        << "import time, sys\n"
           "from kafka import KafkaAdminClient\n"
           "from kafka.admin import NewTopic, ConfigResource, ConfigResourceType\n"
           "from kafka.errors import TopicAlreadyExistsError\n"
           "a = KafkaAdminClient(bootstrap_servers='127.0.0.1:"
        << port
        << "')\n"
           "a.create_topics([NewTopic('adm', 3, 1, topic_configs={'retention.ms': '12345'})])\n"
           "try:\n"
           "    a.create_topics([NewTopic('adm', 3, 1)])\n"
           "    print('no-duplicate-error')\n"
           "except TopicAlreadyExistsError:\n"
           "    print('duplicate-refused')\n"
           "r = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, 'adm')])\n"
           "cfg = {c[0]: c[1] for c in r[0].resources[0][4]}\n"
           "print('retention.ms=' + cfg['retention.ms'])\n"
           "print('segment.bytes=' + cfg['segment.bytes'])\n"
           "md = a.describe_topics(['adm'])\n"
           "print('partitions=%d' % len(md[0]['partitions']))\n"
           "a.delete_topics(['adm'])\n"
           "print('topics-after-delete=%s' % sorted(a.list_topics()))\n";
    std::string out = run("/usr/bin/python3 '" + script + "' 2>&1");
    EXPECT_NE(out.find("duplicate-refused"), std::string::npos) << out;
    EXPECT_NE(out.find("retention.ms=12345"), std::string::npos) << out;
    EXPECT_NE(out.find("segment.bytes=1073741824"), std::string::npos) << out;
    EXPECT_NE(out.find("partitions=3"), std::string::npos) << out;
    EXPECT_NE(out.find("topics-after-delete=[]"), std::string::npos) << out;
    // The partition directories go away once the shard saw the deletion.
    struct stat st;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (stat((dir + "/data/adm-0").c_str(), &st) == 0 &&
           std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_NE(stat((dir + "/data/adm-0").c_str(), &st), 0) << "adm-0 still on disk";
}

TEST_F(Broker, UnknownApiKeyClosesTheConnection)
{
    int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    std::string f = request_frame(999, 0, 1);
    ASSERT_EQ(send(fd, f.data(), f.size(), MSG_NOSIGNAL), ssize_t(f.size()));
    char c;
    errno = 0;
    ssize_t n = recv(fd, &c, 1, 0);
    EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << n << " " << errno;
    close(fd);
    EXPECT_EQ(stats().get("frames_rejected_unknown_api"), 1u) << stats_json();
}

std::string sorted_lines(const std::string &text)
{
    std::vector<std::string> lines;
    size_t at = 0;
    while (at < text.size()) {
        size_t nl = text.find('\n', at);
        if (nl == std::string::npos)
            nl = text.size();
        lines.push_back(text.substr(at, nl - at));
        at = nl + 1;
    }
    std::sort(lines.begin(), lines.end());
    std::string out;
    for (auto &l : lines)
        out += l + "\n";
    return out;
}

// Two shards: every request touches partitions of both, so produce, fetch and list
// offsets cross the shard rings. Their threads run at dataplane.nice.
class BrokerTwoShards : public Broker
{
  protected:
    std::string extra_properties() override
    {
        return "dataplane.cores=0-1\nnum.partitions=16\ndataplane.nice=-5\n";
    }
};

// Every thread of pid as (name, /proc/<pid>/task/<tid> directory).
static std::vector<std::pair<std::string, std::string>> threads_of(pid_t pid)
{
    std::vector<std::pair<std::string, std::string>> out;
    std::string listing = run("ls /proc/" + std::to_string(pid) + "/task");
    std::istringstream tids(listing);
    std::string tid;
    while (tids >> tid) {
        std::string dir = "/proc/" + std::to_string(pid) + "/task/" + tid;
        std::ifstream comm_file(dir + "/comm");
        std::string comm;
        if (std::getline(comm_file, comm) && !comm.empty())
            out.emplace_back(comm, dir);
    }
    return out;
}

// Nice value (field 19 of the thread's stat) of every thread whose name starts with
// prefix, by thread name.
static std::map<std::string, int> thread_nice(pid_t pid, const std::string &prefix)
{
    std::map<std::string, int> out;
    for (const auto &[comm, dir] : threads_of(pid)) {
        if (comm.rfind(prefix, 0) != 0)
            continue;
        std::ifstream stat_file(dir + "/stat");
        std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
        size_t close_paren = stat.rfind(')');
        if (close_paren == std::string::npos)
            continue;
        std::istringstream fields(stat.substr(close_paren + 2)); // field 3 on
        std::string f;
        for (int i = 3; i <= 19 && fields >> f; i++) {
            if (i == 19)
                out[comm] = atoi(f.c_str());
        }
    }
    return out;
}

// Cpus_allowed_list of every thread of pid, by thread name (threads of one name, e.g. the
// control plane's libuv workers, must agree; a disagreement is reported as "mixed").
static std::map<std::string, std::string> thread_cpus(pid_t pid)
{
    std::map<std::string, std::string> out;
    for (const auto &[comm, dir] : threads_of(pid)) {
        std::ifstream status(dir + "/status");
        std::string line, cpus;
        while (std::getline(status, line))
            if (line.rfind("Cpus_allowed_list:", 0) == 0)
                cpus = line.substr(line.find_first_not_of(" \t", 18));
        if (cpus.empty())
            continue;
        auto it = out.find(comm);
        out[comm] = it == out.end() || it->second == cpus ? cpus : "mixed";
    }
    return out;
}

// The defaults on this two-CPU machine: controlplane.core=0 holds the main thread (stats
// socket) and the control-plane threads, dataplane.cores=1 the shard and its io_uring
// workers.
TEST_F(Broker, ControlPlaneAndShardThreadsRunOnTheirConfiguredCpus)
{
    std::map<std::string, std::string> cpus = thread_cpus(broker->pid());
    EXPECT_EQ(cpus["sluiced"], "0");
    EXPECT_EQ(cpus["sluice-control"], "0");
    EXPECT_EQ(cpus["sluice-shard0"], "1");
    for (auto &kv : cpus) {
        if (kv.first.rfind("iou-", 0) == 0) {
            EXPECT_EQ(kv.second, "1") << kv.first;
        }
    }
    EXPECT_TRUE(log_shows("control plane on CPU 0"));
}

// Start-time refusals that depend on the machine or the build: each exits 2 with one line
// naming the key, before creating anything.
TEST(BrokerStart, UnusableControlPlaneCpuDriverOrTailDirStopsTheStartNamingTheKey)
{
    const char *sluiced = getenv("SLUICED");
    ASSERT_NE(sluiced, nullptr) << "SLUICED (path of the sluiced binary) is not set";
    std::string dir = sl_test::make_temp_dir("sluice-start");
    ASSERT_FALSE(dir.empty());
    struct refusal {
        std::string override_arg;
        std::string message;
    };
    for (const refusal &r :
         {refusal{"controlplane.core=4095", "config key 'controlplane.core': CPU 4095 is not one"},
          refusal{"dataplane.driver=dpdk", "config key 'dataplane.driver': 'dpdk' is not built"},
          refusal{"storage.tail.dir=" + dir + "/no-such-dir",
                  "config key 'storage.tail.dir': " + dir + "/no-such-dir: No such file"}}) {
        std::vector<std::string> argv = {sluiced, "--override", "log.dirs=" + dir + "/data",
                                         "--override", r.override_arg};
        if (r.override_arg.rfind("storage.tail.dir", 0) == 0) {
            argv.insert(argv.end(), {"--override", "storage.tail.shared.memory=true"});
        }
        sl_test::command_result res = sl_test::run_command(argv, 20000);
        EXPECT_EQ(res.exit_code, 2) << r.override_arg << ": " << res.describe();
        EXPECT_NE(res.stderr_text.find(r.message), std::string::npos)
            << r.override_arg << ": " << res.describe();
    }
    struct stat st;
    EXPECT_NE(stat((dir + "/data").c_str(), &st), 0) << "the refused start created log.dirs";
    sl_test::remove_tree(dir);
}

// A /proc/meminfo field (kB or a count); -1 when absent.
static long long meminfo_value(const std::string &field)
{
    std::ifstream f("/proc/meminfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(field + ":", 0) == 0)
            return atoll(line.c_str() + field.size() + 1);
    return -1;
}

// memory.hugepages=on is a requirement: a cache larger than the free hugepages (none on
// CI machines) stops the start with the key named, where auto would fall back.
TEST(BrokerStart, HugepagesOnWithoutEnoughHugepagesStopsTheStartNamingTheKey)
{
    long long free_pages = meminfo_value("HugePages_Free");
    long long page_kb = meminfo_value("Hugepagesize");
    ASSERT_GE(free_pages, 0);
    ASSERT_GT(page_kb, 0);
    sl_test::broker_options o;
    o.properties["memory.hugepages"] = "on";
    o.properties["storage.cache.bytes"] =
        std::to_string(std::max(128ll << 20, (free_pages + 64) * page_kb * 1024));
    sl_test::broker_process broker(o);
    ASSERT_TRUE(broker.Spawn());
    for (int i = 0; i < 600 && broker.running(); i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(broker.running()) << broker.log_text();
    EXPECT_NE(broker.log_text().find("config key 'memory.hugepages' is on, but"), std::string::npos)
        << broker.log_text();
}

TEST_F(BrokerTwoShards, ShardThreadsRunAtTheConfiguredNice)
{
    std::map<std::string, int> shards = thread_nice(broker->pid(), "sluice-shard");
    ASSERT_EQ(shards.size(), 2u) << log();
    for (auto &kv : shards)
        EXPECT_EQ(kv.second, -5) << kv.first;
    // Only the shards: the main (control-plane) thread keeps the process's nice value.
    std::map<std::string, int> main_thread = thread_nice(broker->pid(), "sluiced");
    ASSERT_FALSE(main_thread.empty());
    for (auto &kv : main_thread)
        EXPECT_EQ(kv.second, 0) << kv.first;
    EXPECT_TRUE(log_shows("on CPU list 0-1, nice -5"));
}

TEST_F(BrokerTwoShards, PartitionsOfBothShardsRoundTripAndSurviveRestart)
{
    std::string input;
    for (int i = 0; i < 4000; i++)
        input += "key" + std::to_string(i) + ":value-" + std::to_string(i) + "\n";
    kcat("-P -t spread -K: -z zstd", input);
    std::string got = kcat("-C -t spread -e -q -f '%k:%s\\n'");
    EXPECT_EQ(sorted_lines(got), sorted_lines(input));
    // Latest offsets of all partitions add up to the record count.
    std::string q;
    for (int p = 0; p < 16; p++)
        q += " -t spread:" + std::to_string(p) + ":-1";
    std::string offsets = kcat("-Q" + q);
    long sum = 0;
    for (size_t at = offsets.find("offset "); at != std::string::npos;
         at = offsets.find("offset ", at + 1))
        sum += atol(offsets.c_str() + at + 7);
    EXPECT_EQ(sum, 4000) << offsets;
    // Both shards own partitions of the topic and both appended records.
    std::string stats = stats_json();
    size_t second = stats.find("\"shard\":1");
    ASSERT_NE(second, std::string::npos) << stats;
    EXPECT_EQ(stats.find("\"produce_records\":0,"), std::string::npos) << stats;
    ASSERT_TRUE(stop());
    start();
    EXPECT_EQ(sorted_lines(kcat("-C -t spread -e -q -f '%k:%s\\n'")), sorted_lines(input));
}

// Requests in flight per connection: a pipelining client gets answers in order either
// way, but at dataplane.connection.inflight.max the shard stops parsing that connection
// until an answer leaves (counted). Produce acks=1 stays in flight until its write ends.
TEST_F(Broker, TwentyPipelinedProducesStayWithinTheDefaultInflightBound)
{
    EXPECT_EQ(inflight_backpressure_of_pipelined_produces(), 0);
}

class BrokerOneRequestPerConnection : public Broker
{
  protected:
    std::string extra_properties() override
    {
        return "dataplane.connection.inflight.max=1\n";
    }
};

TEST_F(BrokerOneRequestPerConnection, PipelinedProducesWaitForTheBoundAndAreAnsweredInOrder)
{
    EXPECT_GT(inflight_backpressure_of_pipelined_produces(), 0);
}

// flush.messages=1: acknowledged means fdatasynced, so kill -9 loses nothing acknowledged.
class BrokerDurable : public Broker
{
  protected:
    std::string extra_properties() override
    {
        return "dataplane.cores=0-1\nnum.partitions=4\nlog.flush.interval.messages=1\n";
    }
};

TEST_F(BrokerDurable, AcknowledgedRecordsSurviveKill9)
{
    std::string input;
    for (int i = 0; i < 500; i++)
        input += "durable-" + std::to_string(i) + "\n";
    std::string out = kcat("-P -t dur -X acks=all -X linger.ms=5", input);
    EXPECT_EQ(out.find("ERROR"), std::string::npos) << out;
    broker->Kill();
    start();
    EXPECT_EQ(sorted_lines(kcat("-C -t dur -e -q")), sorted_lines(input));
}

} // namespace

// A topic with many more partitions than one reconcile pass opens (8): the shard opens
// them over several passes while serving, and every one ends up open and served.
class BrokerManyPartitions : public Broker
{
  protected:
    std::string extra_properties() override
    {
        return "num.partitions=45\n";
    }
};

TEST_F(BrokerManyPartitions, EveryPartitionOfABigTopicOpensAndServes)
{
    std::string input;
    for (int i = 0; i < 4500; i++)
        input += "key" + std::to_string(i) + ":value-" + std::to_string(i) + "\n";
    kcat("-P -t many -K:", input);
    EXPECT_EQ(sorted_lines(kcat("-C -t many -e -q -f '%k:%s\\n'")), sorted_lines(input));
    std::string q;
    for (int p = 0; p < 45; p++)
        q += " -t many:" + std::to_string(p) + ":-1";
    std::string offsets = kcat("-Q" + q);
    int answered = 0;
    for (size_t at = offsets.find("offset "); at != std::string::npos;
         at = offsets.find("offset ", at + 1))
        answered++;
    EXPECT_EQ(answered, 45) << offsets;
    EXPECT_EQ(stats().get("partitions_open"), 45u) << stats_json();
    // After a restart every partition opens before the broker listens.
    ASSERT_TRUE(stop());
    start();
    EXPECT_EQ(stats().get("partitions_open"), 45u) << stats_json();
    EXPECT_EQ(sorted_lines(kcat("-C -t many -e -q -f '%k:%s\\n'")), sorted_lines(input));
}

// storage.tail.shared.memory allocates each shard's tail file at start: a tail dir without
// the room (a 64 MiB tmpfs for the default 128 MiB cache) stops the start with the shard's
// error naming the key and the file, and leaves no file behind. Mounting needs root, which
// the test machines give.
TEST(BrokerStart, TailDirWithoutRoomStopsTheStartNamingTheTailFile)
{
    std::string mount_dir = sl_test::make_temp_dir("sluice-small-shm");
    ASSERT_FALSE(mount_dir.empty());
    std::string mount_cmd = "mount -t tmpfs -o size=64m tmpfs " + mount_dir;
    ASSERT_EQ(system(mount_cmd.c_str()), 0) << mount_cmd;
    struct unmount_at_exit {
        std::string dir;
        ~unmount_at_exit()
        {
            std::string cmd = "umount " + dir;
            EXPECT_EQ(system(cmd.c_str()), 0) << cmd;
            sl_test::remove_tree(dir);
        }
    } unmount{mount_dir};

    sl_test::broker_options options;
    options.properties = {{"storage.tail.shared.memory", "true"}, {"storage.tail.dir", mount_dir}};
    sl_test::broker_process broker(options);
    EXPECT_FALSE(broker.Start()) << "started with a 128 MiB cache in a 64 MiB tail dir";
    std::string log = broker.log_text();
    EXPECT_NE(log.find("shard 0: storage engine: no space (with storage.tail.shared.memory: "
                       "tail file " +
                       mount_dir + "/sluice-tail-"),
              std::string::npos)
        << log;
    std::string leftover = sl_test::run_command({"ls", "-A", mount_dir}, 5000).stdout_text;
    EXPECT_EQ(leftover, "") << "files left in the tail dir";
}
