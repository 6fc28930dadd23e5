// Self-test of the compat harness: the parts that must fail loudly (a broker that exits
// or never answers, a hung stop, a command that times out) and the real-mode start/stop/
// restart path, using a stand-in broker (fake_broker.py) and the mock cluster. Runs
// without sluiced, so the harness keeps working while the broker is assembled.
#include <gtest/gtest.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "tests/support/broker_process.h"
#include "tests/support/child_process.h"
#include "tests/support/raw_kafka_client.h"
#include "tests/support/segment_file.h"
#include "tests/support/stats_socket.h"

#ifndef SL_FAKE_BROKER_PATH
#error "SL_FAKE_BROKER_PATH must be defined by meson"
#endif
#ifndef SL_TEST_DATA_DIR
#error "SL_TEST_DATA_DIR must be defined by meson"
#endif

namespace
{

using sl_test::broker_options;
using sl_test::broker_process;
using sl_test::command_result;
using sl_test::run_command;

// Sets an environment variable for one test and restores the old value afterwards.
class scoped_env
{
  public:
    scoped_env(const char *name, const char *value) : name_(name)
    {
        const char *old = getenv(name);
        had_old_ = old != nullptr;
        old_ = had_old_ ? old : "";
        if (value != nullptr) {
            setenv(name, value, 1);
        } else {
            unsetenv(name);
        }
    }
    ~scoped_env()
    {
        if (had_old_) {
            setenv(name_.c_str(), old_.c_str(), 1);
        } else {
            unsetenv(name_.c_str());
        }
    }

  private:
    std::string name_;
    bool had_old_ = false;
    std::string old_;
};

bool process_gone(pid_t pid, int timeout_ms)
{
    long long deadline_ms = sl_test::monotonic_ms() + timeout_ms;
    while (sl_test::monotonic_ms() < deadline_ms) {
        if (kill(pid, 0) != 0 && errno == ESRCH) {
            return true;
        }
        usleep(10 * 1000);
    }
    return false;
}

TEST(ChildProcess, CapturesExitCodeAndBothOutputs)
{
    command_result r = run_command({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, 10000);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.stdout_text, "out\n");
    EXPECT_EQ(r.stderr_text, "err\n");
}

TEST(ChildProcess, LargeOutputDoesNotBlock)
{
    command_result r = run_command({"/bin/sh", "-c", "head -c 5000000 /dev/zero"}, 20000);
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.stdout_text.size(), 5000000u);
}

TEST(ChildProcess, TimeoutKillsChildAndItsChildren)
{
    long long start_ms = sl_test::monotonic_ms();
    command_result r = run_command({"/bin/sh", "-c", "sleep 30 & echo $!; wait"}, 500);
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.exit_code, -1);
    EXPECT_LT(sl_test::monotonic_ms() - start_ms, 5000);
    pid_t grandchild = (pid_t)atoi(r.stdout_text.c_str());
    ASSERT_GT(grandchild, 1) << r.describe();
    EXPECT_TRUE(process_gone(grandchild, 3000)) << "sleep " << grandchild << " survived";
}

TEST(ChildProcess, MissingProgramFails)
{
    command_result r = run_command({"/nonexistent/program"}, 5000);
    EXPECT_EQ(r.exit_code, 127);
}

class BrokerProcessRealMode : public ::testing::Test
{
  protected:
    scoped_env no_mock_{"SLUICE_TEST_BROKER", nullptr};
};

TEST_F(BrokerProcessRealMode, BrokerThatExitsFailsStartWithLog)
{
    scoped_env sluiced("SLUICED", "/bin/false");
    broker_process broker;
    ::testing::AssertionResult started = broker.Start();
    EXPECT_FALSE(started);
    EXPECT_NE(std::string(started.message()).find("exited during startup"), std::string::npos)
        << started.message();
}

TEST_F(BrokerProcessRealMode, SilentBrokerTimesOutWithLogAndIsKilled)
{
    std::string dir = sl_test::make_temp_dir("sl-harness");
    ASSERT_FALSE(dir.empty());
    std::string script = dir + "/silent-broker.sh";
    ASSERT_TRUE(sl_test::write_file(script, "#!/bin/sh\necho \"silent broker args: $*\"\n"
                                            "exec sleep 60\n"));
    ASSERT_EQ(chmod(script.c_str(), 0755), 0);
    scoped_env sluiced("SLUICED", script.c_str());
    broker_options options;
    options.start_timeout_ms = 1500;
    options.properties = {{"num.partitions", "3"}};
    pid_t pid = -1;
    {
        broker_process broker(options);
        long long start_ms = sl_test::monotonic_ms();
        ::testing::AssertionResult started = broker.Start();
        EXPECT_FALSE(started);
        EXPECT_LT(sl_test::monotonic_ms() - start_ms, 6000);
        std::string message = started.message();
        EXPECT_NE(message.find("not ready within 1500 ms"), std::string::npos) << message;
        // The log tail in the message shows what the broker printed, with its argv.
        EXPECT_NE(message.find("silent broker args: " + broker.dir() + "/server.properties"),
                  std::string::npos)
            << message;
        std::string props = sl_test::read_file(broker.dir() + "/server.properties");
        const std::string port = broker.bootstrap().substr(broker.bootstrap().rfind(':') + 1);
        for (const std::string &line :
             {std::string("node.id=1"), std::string("process.roles=broker,controller"),
              "listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:",
              std::string("controller.quorum.voters=1@127.0.0.1:"), "log.dirs=" + broker.data_dir(),
              "stats.socket=" + broker.stats_socket(), std::string("num.partitions=3")}) {
            EXPECT_NE(props.find(line), std::string::npos) << "missing " << line << " in\n"
                                                           << props;
        }
        pid = broker.pid();
        ASSERT_GT(pid, 0);
    }
    EXPECT_TRUE(process_gone(pid, 3000)) << "the silent broker outlived its broker_process";
    sl_test::remove_tree(dir);
}

// A picked port taken before the broker binds it: Start tries again on new ports (and a
// new dir) instead of failing; the stand-in refuses its first start the way sluiced does.
TEST_F(BrokerProcessRealMode, PortTakenAtStartIsRetriedOnNewPorts)
{
    std::string state = sl_test::make_temp_dir("sl-harness");
    ASSERT_FALSE(state.empty());
    std::string script = state + "/port-taken-once.sh";
    ASSERT_TRUE(sl_test::write_file(
        script, "#!/bin/sh\n"
                "if [ ! -e '" +
                    state +
                    "/first' ]; then\n"
                    "  echo \"$1\" > '" +
                    state +
                    "/first'\n"
                    "  echo 'sluiced: cannot listen on 127.0.0.1: Address already in use' >&2\n"
                    "  exit 1\n"
                    "fi\n"
                    "exec /usr/bin/python3 " SL_FAKE_BROKER_PATH " \"$@\"\n"));
    ASSERT_EQ(chmod(script.c_str(), 0755), 0);
    scoped_env sluiced("SLUICED", script.c_str());
    {
        broker_process broker;
        ASSERT_TRUE(broker.Start());
        EXPECT_EQ(sl_test::probe_api_versions_fresh(broker.bootstrap(), 2000), "");
        std::string first_properties = sl_test::read_file(state + "/first");
        ASSERT_FALSE(first_properties.empty()) << "the first start did not run";
        EXPECT_EQ(first_properties.find(broker.dir()), std::string::npos)
            << "the retry must use a new dir: " << first_properties;
        ASSERT_TRUE(broker.Stop());
    }
    sl_test::remove_tree(state);
}

TEST_F(BrokerProcessRealMode, StartStopRestartKillWithStandInBroker)
{
    scoped_env sluiced("SLUICED", SL_FAKE_BROKER_PATH);
    std::string dir;
    {
        broker_process broker;
        ASSERT_TRUE(broker.Start());
        dir = broker.dir();
        const std::string bootstrap = broker.bootstrap();
        EXPECT_EQ(bootstrap.compare(0, 10, "127.0.0.1:"), 0) << bootstrap;
        EXPECT_EQ(sl_test::probe_api_versions_fresh(bootstrap, 2000), "");
        ASSERT_TRUE(broker.Stop());
        EXPECT_FALSE(broker.running());
        EXPECT_NE(sl_test::probe_api_versions_fresh(bootstrap, 500), "") << "still answering";
        ASSERT_TRUE(broker.Restart());
        EXPECT_EQ(broker.bootstrap(), bootstrap) << "Restart must keep the ports";
        EXPECT_EQ(sl_test::probe_api_versions_fresh(bootstrap, 2000), "");
        broker.Kill();
        EXPECT_FALSE(broker.running());
        ASSERT_TRUE(broker.Restart());
        EXPECT_TRUE(broker.running());
        // One log across all three starts.
        std::string log = broker.log_text();
        EXPECT_NE(log.find("start #3"), std::string::npos) << log;
    }
    struct stat st;
    EXPECT_NE(stat(dir.c_str(), &st), 0) << dir << " was not removed";
}

TEST_F(BrokerProcessRealMode, StopFallsBackToSigkillAndFails)
{
    scoped_env sluiced("SLUICED", SL_FAKE_BROKER_PATH);
    scoped_env ignore("FAKE_BROKER_IGNORE_SIGTERM", "1");
    broker_options options;
    options.stop_timeout_ms = 1000;
    broker_process broker(options);
    ASSERT_TRUE(broker.Start());
    pid_t pid = broker.pid();
    ::testing::AssertionResult stopped = broker.Stop();
    EXPECT_FALSE(stopped);
    EXPECT_NE(std::string(stopped.message()).find("did not exit within 1000 ms"), std::string::npos)
        << stopped.message();
    EXPECT_TRUE(process_gone(pid, 3000));
}

TEST_F(BrokerProcessRealMode, MissingSluicedEnvFailsClearly)
{
    scoped_env sluiced("SLUICED", nullptr);
    broker_process broker;
    ::testing::AssertionResult started = broker.Start();
    EXPECT_FALSE(started);
    EXPECT_NE(std::string(started.message()).find("SLUICED"), std::string::npos);
}

TEST(BrokerProcessMockMode, StartStopRestartMovesBootstrap)
{
    scoped_env mock("SLUICE_TEST_BROKER", "mock");
    broker_options options;
    options.topics = {{"harness", 2}};
    broker_process broker(options);
    ASSERT_TRUE(broker.Start());
    EXPECT_TRUE(broker.is_mock());
    EXPECT_EQ(sl_test::probe_api_versions_fresh(broker.bootstrap(), 2000), "");
    ASSERT_TRUE(broker.Stop()); // the mock exits 0 on SIGTERM
    ASSERT_TRUE(broker.Restart());
    EXPECT_EQ(sl_test::probe_api_versions_fresh(broker.bootstrap(), 2000), "");
}

TEST(RawKafka, Crc32cMatchesStandardCheckValue)
{
    const char *check = "123456789";
    EXPECT_EQ(sl_test::crc32c((const uint8_t *)check, 9), 0xe3069283u);
}

// Golden batches captured from kcat (tests/data/batches) laid out like a segment with
// zero padding after them: the reader finds each batch, its codec, count and a good CRC.
TEST(SegmentFile, ReadsGoldenBatchesAndStopsAtPadding)
{
    const std::string batches_dir = std::string(SL_TEST_DATA_DIR) + "/batches";
    const char *names[] = {"kcat-gzip-00.bin", "kcat-zstd-01.bin", "kcat-none-00.bin"};
    const int codecs[] = {1, 4, 0};
    std::string segment;
    for (const char *name : names) {
        std::string bytes = sl_test::read_file(batches_dir + "/" + name);
        ASSERT_FALSE(bytes.empty()) << name;
        segment += bytes;
    }
    segment += std::string(4096, '\0');
    std::string dir = sl_test::make_temp_dir("sl-segment");
    ASSERT_FALSE(dir.empty());
    ASSERT_TRUE(sl_test::write_file(dir + "/00000000000000000000.log", segment));
    std::vector<sl_test::stored_batch> batches;
    std::string error;
    ASSERT_TRUE(sl_test::read_segment_batches(dir + "/00000000000000000000.log", &batches, &error))
        << error;
    ASSERT_EQ(batches.size(), 3u);
    for (size_t i = 0; i < 3; i++) {
        EXPECT_EQ(batches[i].compression, codecs[i]) << names[i];
        EXPECT_TRUE(batches[i].crc_ok) << names[i];
        EXPECT_GT(batches[i].record_count, 0) << names[i];
    }

    // One flipped bit in the middle batch's records: its CRC no longer matches.
    size_t first = sl_test::read_file(batches_dir + "/" + names[0]).size();
    segment[first + 70] ^= 0x01;
    ASSERT_TRUE(sl_test::write_file(dir + "/00000000000000000000.log", segment));
    batches.clear();
    ASSERT_TRUE(sl_test::read_segment_batches(dir + "/00000000000000000000.log", &batches, &error));
    ASSERT_EQ(batches.size(), 3u);
    EXPECT_TRUE(batches[0].crc_ok);
    EXPECT_FALSE(batches[1].crc_ok);

    // A batch cut short is an error, not silently accepted.
    ASSERT_TRUE(
        sl_test::write_file(dir + "/00000000000000000000.log", segment.substr(0, first + 30)));
    batches.clear();
    EXPECT_FALSE(
        sl_test::read_segment_batches(dir + "/00000000000000000000.log", &batches, &error));

    // Segment listing: only <20 digits>.log files, in offset order.
    ASSERT_EQ(mkdir((dir + "/t-0").c_str(), 0755), 0);
    for (const char *name : {"00000000000000000123.log", "00000000000000000000.log",
                             "00000000000000000000.index", "junk.log"}) {
        ASSERT_TRUE(sl_test::write_file(dir + "/t-0/" + name, ""));
    }
    std::vector<std::string> listed = sl_test::list_segment_files(dir, "t", 0);
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0], dir + "/t-0/00000000000000000000.log");
    EXPECT_EQ(listed[1], dir + "/t-0/00000000000000000123.log");
    EXPECT_TRUE(sl_test::list_segment_files(dir, "t", 1).empty());
    sl_test::remove_tree(dir);
}

// The test's own batch builder produces what the segment reader (and CRC) accept.
TEST(RawKafka, BuiltRecordBatchIsConsistent)
{
    std::vector<uint8_t> batch = sl_test::build_record_batch(
        {{"k1", "v1"}, {"", "v2"}, {"k3", std::string(300, 'x')}}, 1700000000000);
    std::string dir = sl_test::make_temp_dir("sl-batch");
    ASSERT_FALSE(dir.empty());
    std::string path = dir + "/00000000000000000000.log";
    ASSERT_TRUE(sl_test::write_file(path, std::string(batch.begin(), batch.end())));
    std::vector<sl_test::stored_batch> batches;
    std::string error;
    ASSERT_TRUE(sl_test::read_segment_batches(path, &batches, &error)) << error;
    ASSERT_EQ(batches.size(), 1u);
    EXPECT_EQ(batches[0].record_count, 3);
    EXPECT_EQ(batches[0].compression, 0);
    EXPECT_TRUE(batches[0].crc_ok);
    sl_test::remove_tree(dir);
}

// A throwaway Unix-socket server: reads one line, answers, and closes (or stays open).
// The /stats shape of docs/stats.md: shard counters summed over shards, node-wide objects
// under their own name, other top-level values skipped.
TEST(StatsSocket, ParsesShardSumsAndNodeWideObjects)
{
    const std::string reply =
        "{\"node_id\":3,\"shards\":[{\"shard\":0,\"frames_zero_copy\":2,\"net\":{\"rx_bytes\":10},"
        "\"storage\":{\"direct_io\":true,\"chunks_free\":7}},{\"shard\":1,\"frames_zero_copy\":5,"
        "\"net\":{\"rx_bytes\":1}}],\"controller_rpc\":{\"requests_served\":4,\"bad_frames\":0}}\n";
    sl_test::stats_totals t;
    std::string error;
    ASSERT_TRUE(sl_test::parse_stats_totals(reply, &t, &error)) << error;
    EXPECT_EQ(t.get("frames_zero_copy"), 7u);
    EXPECT_EQ(t.get("net.rx_bytes"), 11u);
    EXPECT_EQ(t.get("storage.chunks_free"), 7u);
    EXPECT_EQ(t.get("controller_rpc.requests_served"), 4u);
    EXPECT_TRUE(t.has("controller_rpc.bad_frames"));
    EXPECT_EQ(t.get("controller_rpc.bad_frames"), 0u);
    EXPECT_FALSE(t.has("node_id"));
    EXPECT_FALSE(t.has("controller_rpc.forward_timeouts"));
    EXPECT_FALSE(sl_test::parse_stats_totals("{\"node_id\":3}", &t, &error));
}

TEST(StatsSocket, SendsRequestLineAndReturnsReply)
{
    std::string dir = sl_test::make_temp_dir("sl-stats");
    ASSERT_FALSE(dir.empty());
    const std::string path = dir + "/stats.sock";
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener, 0);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path.c_str(), path.size());
    ASSERT_EQ(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ASSERT_EQ(listen(listener, 4), 0);
    std::string received;
    std::thread server([&] {
        for (int round = 0; round < 2; round++) {
            int conn = accept(listener, nullptr, nullptr);
            if (conn < 0) {
                return;
            }
            char buf[256];
            ssize_t n = recv(conn, buf, sizeof(buf), 0);
            if (n > 0) {
                received.assign(buf, (size_t)n);
            }
            const char reply[] = "{\"ok\":true}";
            (void)!send(conn, reply, sizeof(reply) - 1, MSG_NOSIGNAL);
            if (round == 0) {
                close(conn); // first: reply then close
            } else {
                usleep(1000 * 1000); // second: reply and stay silent; the idle limit ends it
                close(conn);
            }
        }
    });
    std::string reply, error;
    EXPECT_TRUE(sl_test::query_stats_socket(path, "{\"cmd\":\"/\"}", 3000, &reply, &error))
        << error;
    EXPECT_EQ(reply, "{\"ok\":true}");
    long long start_ms = sl_test::monotonic_ms();
    EXPECT_TRUE(sl_test::query_stats_socket(path, "{\"cmd\":\"/stats\"}", 3000, &reply, &error));
    EXPECT_LT(sl_test::monotonic_ms() - start_ms, 900) << "the idle limit did not end the read";
    EXPECT_EQ(reply, "{\"ok\":true}");
    server.join();
    EXPECT_EQ(received, "{\"cmd\":\"/stats\"}\n");
    close(listener);
    EXPECT_FALSE(sl_test::query_stats_socket(dir + "/missing.sock", "{}", 500, &reply, &error));
    sl_test::remove_tree(dir);
}

} // namespace
