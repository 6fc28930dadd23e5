// Starts one broker process for a test: `sluiced` (path from env SLUICED) in a fresh temp
// dir with its own server.properties and free loopback ports, or, for developing the
// harness before sluiced exists, librdkafka's mock cluster (env SLUICE_TEST_BROKER=mock,
// binary from env SLUICE_MOCK_CLUSTER). See docs/testing.md.
//
// Threads: one broker_process is driven from the test's main thread; the accessors are
// safe to read from other threads while no start/stop/restart is in progress.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/child_process.h"

namespace sl_test
{

// What a test wants from its broker.
struct broker_options {
    // Extra server.properties keys (override the harness defaults of the same name).
    std::map<std::string, std::string> properties;
    // Topics the test needs: name -> partition count. The real broker gets them through
    // CreateTopics (librdkafka admin API) after start; the mock gets --topic NAME:N.
    std::map<std::string, int> topics;
    // Fixed ports (0: the harness picks a free one). A cluster launcher picks every port of
    // the cluster at once, so no two listeners share one; controller_port < 0 means the
    // broker has no CONTROLLER listener (a broker-only standby: set listeners yourself).
    int kafka_port = 0;
    int controller_port = 0;
    // Bounded waits.
    int start_timeout_ms = 30000;
    int stop_timeout_ms = 20000;
};

// Whether SLUICE_TEST_BROKER=mock is set.
bool broker_is_mock();

class broker_process
{
  public:
    explicit broker_process(broker_options options = broker_options());
    // Kills the broker (SIGKILL by recorded PID) if running, prints its log when the
    // current test failed, and removes the temp dir (kept when SLUICE_TEST_KEEP=1).
    ~broker_process();
    broker_process(const broker_process &) = delete;
    broker_process &operator=(const broker_process &) = delete;

    // First start: creates the temp dir, picks ports, writes server.properties, execs the
    // broker, waits for the Kafka port to answer ApiVersions, creates options.topics.
    // The failure message includes the tail of the broker's log.
    ::testing::AssertionResult Start();

    // Start in two halves, for brokers that only become ready together (a metadata quorum
    // of several processes): Spawn prepares the dir and execs the broker without waiting;
    // WaitReady then waits as Start does (and creates options.topics once).
    ::testing::AssertionResult Spawn();
    ::testing::AssertionResult WaitReady();

    // SIGTERM, waits up to stop_timeout_ms for exit, then SIGKILL. Fails when the broker
    // needed SIGKILL or exited with a non-zero status.
    ::testing::AssertionResult Stop();

    // SIGKILL by recorded PID and reap; the data dir stays as the crash left it.
    void Kill();

    // Starts again with the same dir, properties and ports (after Stop or Kill). Topics
    // are not re-created: they must have survived. In mock mode a new mock starts on new
    // ports with empty topics: data is lost (mock mode is for harness development only).
    ::testing::AssertionResult Restart();
    // Restart without waiting for readiness (WaitReady follows).
    ::testing::AssertionResult RespawnNoWait();

    bool running();
    bool is_mock() const
    {
        return mock_;
    }
    pid_t pid() const
    {
        return child_ ? child_->pid() : -1;
    }

    // "127.0.0.1:<port>" (mock: the mock's bootstrap list; changes on Restart).
    std::string bootstrap() const
    {
        return bootstrap_;
    }
    std::string data_dir() const
    {
        return dir_ + "/data";
    }
    std::string stats_socket() const
    {
        return dir_ + "/stats.sock";
    }
    int kafka_port() const
    {
        return kafka_port_;
    }
    std::string dir() const
    {
        return dir_;
    }
    std::string log_path() const
    {
        return dir_ + "/broker.log";
    }
    std::string log_text() const;

  private:
    ::testing::AssertionResult launch();
    ::testing::AssertionResult spawn_child();
    ::testing::AssertionResult wait_ready();
    ::testing::AssertionResult create_topics();
    std::string properties_text() const;
    ::testing::AssertionResult fail_with_log(const std::string &what) const;
    // The started broker exited because one of the picked ports was in use.
    bool port_was_taken();

    broker_options options_;
    bool mock_ = false;
    std::string binary_;
    std::string dir_;
    int kafka_port_ = 0;
    int controller_port_ = 0;
    std::string bootstrap_;
    int start_count_ = 0;
    bool topics_created_ = false;
    std::unique_ptr<child_process> child_;
};

// Binds 127.0.0.1:0, reads the port the kernel chose, closes. Returns 0 on failure.
int pick_free_loopback_port();

// count distinct free loopback ports: every socket stays bound until all are chosen, so
// the kernel cannot hand out one port twice. Empty on failure.
std::vector<int> pick_free_loopback_ports(int count);

} // namespace sl_test
