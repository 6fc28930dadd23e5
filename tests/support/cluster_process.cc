// A cluster of sluiced processes on loopback (see cluster_process.h).
#include "tests/support/cluster_process.h"

#include <unistd.h>

#include <sstream>

#include "tests/support/child_process.h"

namespace sl_test
{

namespace
{

constexpr int k_poll_interval_ms = 50;
constexpr int k_request_timeout_ms = 2000;

} // namespace

std::string ids_text(const std::vector<int32_t> &ids)
{
    std::ostringstream out;
    out << "[";
    for (size_t i = 0; i < ids.size(); i++) {
        out << (i ? "," : "") << ids[i];
    }
    out << "]";
    return out.str();
}

std::string check_brokers(const metadata_view &view, const std::vector<int32_t> &ids)
{
    if (view.broker_ids() != ids) {
        return "brokers " + ids_text(view.broker_ids()) + ", want " + ids_text(ids);
    }
    for (const auto &b : view.brokers) {
        if (b.host != "127.0.0.1" || b.port <= 0) {
            return "broker " + std::to_string(b.node_id) + " has address " + b.host + ":" +
                   std::to_string(b.port);
        }
    }
    return "";
}

cluster_process::cluster_process(cluster_options options) : options_(std::move(options))
{
}

int32_t cluster_process::WaitFormed(const std::vector<int32_t> &ids, int timeout_ms,
                                    std::string *why)
{
    for (int i = 0; i < size(); i++) {
        if (!running(i)) {
            continue;
        }
        ::testing::AssertionResult listed = WaitForMetadata(
            i, [&](const metadata_view &v) { return check_brokers(v, ids); }, timeout_ms);
        if (!listed) {
            *why = listed.message();
            return -1;
        }
    }
    return WaitForController(timeout_ms, why);
}

std::string cluster_process::address(int index) const
{
    return "127.0.0.1:" + std::to_string(kafka_ports_.at((size_t)index));
}

std::string cluster_process::bootstrap() const
{
    std::string out;
    for (size_t i = 0; i < kafka_ports_.size(); i++) {
        out += (i ? "," : "") + address((int)i);
    }
    return out;
}

std::string cluster_process::voters_value() const
{
    std::string out;
    for (int i = 0; i < options_.voters; i++) {
        out += (i ? "," : "") + std::to_string(node_id(i)) +
               "@127.0.0.1:" + std::to_string(raft_ports_[(size_t)i]);
    }
    return out;
}

::testing::AssertionResult cluster_process::Start()
{
    if (!nodes_.empty()) {
        return ::testing::AssertionFailure() << "cluster_process::Start called twice";
    }
    if (options_.voters < 1) {
        return ::testing::AssertionFailure() << "a cluster needs at least one voter";
    }
    const int count = options_.voters + options_.standbys;
    std::vector<int> ports = pick_free_loopback_ports(2 * count);
    if (ports.empty()) {
        return ::testing::AssertionFailure() << "cannot pick " << 2 * count << " free ports";
    }
    for (int i = 0; i < count; i++) {
        kafka_ports_.push_back(ports[(size_t)(2 * i)]);
        raft_ports_.push_back(ports[(size_t)(2 * i + 1)]);
    }
    for (int i = 0; i < count; i++) {
        broker_options bo;
        bo.start_timeout_ms = options_.start_timeout_ms;
        bo.kafka_port = kafka_ports_[(size_t)i];
        const std::string kafka = "127.0.0.1:" + std::to_string(kafka_ports_[(size_t)i]);
        const std::string raft = "127.0.0.1:" + std::to_string(raft_ports_[(size_t)i]);
        std::map<std::string, std::string> &p = bo.properties;
        p["node.id"] = std::to_string(node_id(i));
        p["controller.quorum.voters"] = voters_value();
        // Five brokers share two cores and the memory of one test machine.
        p["storage.cache.bytes"] = "67108864"; // 64 one-MiB chunks: one per open partition
        p["memory.hugepages"] = "off";
        p["offsets.topic.num.partitions"] = "5";
        if (is_voter(i)) {
            bo.controller_port = raft_ports_[(size_t)i];
            p["process.roles"] = "broker,controller";
            p["listeners"] = "PLAINTEXT://" + kafka + ",CONTROLLER://" + raft;
        } else {
            bo.controller_port = -1;
            p["process.roles"] = "broker";
            p["listeners"] = "PLAINTEXT://" + kafka;
            p["metadata.standby.address"] = raft;
        }
        for (const auto &kv : options_.properties) {
            p[kv.first] = kv.second;
        }
        nodes_.emplace_back(new broker_process(bo));
    }
    for (int i = 0; i < count; i++) {
        ::testing::AssertionResult spawned = node(i).Spawn();
        if (!spawned) {
            return spawned << " (node " << node_id(i) << ")";
        }
    }
    for (int i = 0; i < count; i++) {
        ::testing::AssertionResult ready = node(i).WaitReady();
        if (!ready) {
            return ready << " (node " << node_id(i) << ")";
        }
    }
    return ::testing::AssertionSuccess();
}

void cluster_process::Kill(int index)
{
    node(index).Kill();
}

::testing::AssertionResult cluster_process::Restart(int index)
{
    ::testing::AssertionResult r = node(index).Restart();
    if (!r) {
        return r << " (node " << node_id(index) << ")";
    }
    return r;
}

::testing::AssertionResult cluster_process::StopAll()
{
    // Standbys first, then voters: the quorum stays up while brokers deregister.
    ::testing::AssertionResult result = ::testing::AssertionSuccess();
    for (int i = size(); i-- > 0;) {
        if (!running(i)) {
            continue;
        }
        ::testing::AssertionResult r = node(i).Stop();
        if (!r && result) {
            result = r << " (node " << node_id(i) << ")";
        }
    }
    return result;
}

int32_t cluster_process::WaitForController(int timeout_ms, std::string *why, int32_t not_node)
{
    long long deadline_ms = monotonic_ms() + timeout_ms;
    std::string seen;
    for (;;) {
        std::ostringstream report;
        int32_t agreed = -2;
        bool ok = true;
        for (int i = 0; i < size() && ok; i++) {
            if (!running(i)) {
                continue;
            }
            metadata_view view;
            std::string error = fetch_metadata(address(i), {}, false, k_request_timeout_ms, &view);
            if (!error.empty()) {
                report << "node " << node_id(i) << ": " << error << "; ";
                ok = false;
                break;
            }
            report << "node " << node_id(i) << " says controller " << view.controller_id << "; ";
            int32_t c = view.controller_id;
            int ci = index_of(c);
            if (c < 0 || c == not_node || ci < 0 || ci >= size() || !is_voter(ci) || !running(ci) ||
                (agreed != -2 && agreed != c)) {
                ok = false;
            }
            agreed = c;
        }
        seen = report.str();
        if (ok && agreed >= 0) {
            return agreed;
        }
        if (monotonic_ms() >= deadline_ms) {
            if (why != nullptr) {
                *why = "no agreed controller within " + std::to_string(timeout_ms) +
                       " ms; last: " + seen;
            }
            return -1;
        }
        usleep(k_poll_interval_ms * 1000);
    }
}

::testing::AssertionResult cluster_process::WaitForMetadata(
    int index, const std::function<std::string(const metadata_view &)> &check, int timeout_ms)
{
    long long deadline_ms = monotonic_ms() + timeout_ms;
    std::string last;
    for (;;) {
        metadata_view view;
        std::string error = fetch_metadata(address(index), {}, false, k_request_timeout_ms, &view);
        last = error.empty() ? check(view) : error;
        if (last.empty()) {
            return ::testing::AssertionSuccess();
        }
        if (monotonic_ms() >= deadline_ms) {
            return ::testing::AssertionFailure()
                   << "node " << node_id(index) << ": Metadata not as expected within "
                   << timeout_ms << " ms: " << last;
        }
        usleep(k_poll_interval_ms * 1000);
    }
}

} // namespace sl_test
