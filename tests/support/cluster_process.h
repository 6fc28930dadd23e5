// A cluster of real sluiced processes on 127.0.0.1 for tests: `voters` brokers with the
// controller role (node ids 1..voters, the metadata quorum) and `standbys` broker-only
// nodes (ids voters+1..), each a broker_process with its own temp dir, server.properties,
// data dir and stats socket. Every port of the cluster is chosen at once, so no two
// listeners share one, and a restarted node keeps its ports.
//
// Threads: driven from the test's main thread.
#pragma once

#include <gtest/gtest.h>
#include <stdint.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/broker_process.h"
#include "tests/support/raw_admin_client.h"

namespace sl_test
{

struct cluster_options {
    int voters = 3;
    int standbys = 0;
    // Extra server.properties keys for every node (override the launcher's defaults).
    std::map<std::string, std::string> properties;
    // Bound of Start (every node ready) and of each Restart.
    int start_timeout_ms = 60000;
};

// "[1,2,3]".
std::string ids_text(const std::vector<int32_t> &ids);

// "" when view lists exactly the brokers `ids`, each on 127.0.0.1 with a port; else what
// differs.
std::string check_brokers(const metadata_view &view, const std::vector<int32_t> &ids);

class cluster_process
{
  public:
    explicit cluster_process(cluster_options options = cluster_options());
    // Nodes are SIGKILLed by recorded PID (broker_process's destructor); their logs are
    // printed when the test failed.
    ~cluster_process() = default;
    cluster_process(const cluster_process &) = delete;
    cluster_process &operator=(const cluster_process &) = delete;

    // Picks the ports, writes every node's properties, spawns all nodes, then waits until
    // each answers ApiVersions (a sluiced serves clients once it is registered, which needs
    // a quorum, hence all are spawned before any is waited for).
    ::testing::AssertionResult Start();

    int size() const
    {
        return (int)nodes_.size();
    }
    // Node ids are index + 1: voters first, then standbys.
    static int32_t node_id(int index)
    {
        return index + 1;
    }
    static int index_of(int32_t node_id)
    {
        return node_id - 1;
    }
    bool is_voter(int index) const
    {
        return index < options_.voters;
    }
    broker_process &node(int index)
    {
        return *nodes_.at((size_t)index);
    }
    // The client listener ("127.0.0.1:port") of node index.
    std::string address(int index) const;
    int kafka_port(int index) const
    {
        return kafka_ports_.at((size_t)index);
    }
    // Every node's client listener, comma-separated (a client bootstrap list).
    std::string bootstrap() const;
    bool running(int index)
    {
        return node(index).running();
    }

    // SIGKILL of one node (data dir kept).
    void Kill(int index);
    // Starts a stopped or killed node again with its dir and ports; waits until ready.
    ::testing::AssertionResult Restart(int index);
    // SIGTERM to every running node, then waits for each (clean exits expected).
    ::testing::AssertionResult StopAll();

    // Waits until every running node's Metadata names the same controller, a running voter
    // other than not_node, and returns its id; -1 after timeout_ms (*why says what was seen).
    int32_t WaitForController(int timeout_ms, std::string *why, int32_t not_node = -1);

    // Waits until every running node's Metadata lists exactly the brokers `ids` (each on
    // 127.0.0.1 with a port), then for the controller they agree on (WaitForController).
    // Returns its id, or -1 with *why saying what was seen; each wait has timeout_ms.
    int32_t WaitFormed(const std::vector<int32_t> &ids, int timeout_ms, std::string *why);

    // Polls node index's Metadata (all topics, no auto-creation) until check returns ""
    // (success) or timeout_ms passes; the failure carries check's last complaint.
    ::testing::AssertionResult
    WaitForMetadata(int index, const std::function<std::string(const metadata_view &)> &check,
                    int timeout_ms);

  private:
    std::string voters_value() const;

    cluster_options options_;
    std::vector<int> kafka_ports_;
    std::vector<int> raft_ports_; // CONTROLLER listener (voters) or metadata.standby.address
    std::vector<std::unique_ptr<broker_process>> nodes_;
};

} // namespace sl_test
