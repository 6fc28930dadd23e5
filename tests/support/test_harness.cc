// Self-test of the compat harness: the parts that must fail loudly (a broker that exits
// or never answers, a hung stop, a command that times out) and the real-mode start/stop/
// restart path, using a stand-in broker (fake_broker.py) and the mock cluster. Runs
// without sluiced, so the harness keeps working while the broker is assembled.
#include <gtest/gtest.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/support/broker_process.h"
#include "tests/support/child_process.h"
#include "tests/support/raw_kafka_client.h"

#ifndef SL_FAKE_BROKER_PATH
#error "SL_FAKE_BROKER_PATH must be defined by meson"
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

} // namespace
