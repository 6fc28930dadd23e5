// Client for the broker's stats socket (a Unix stream socket speaking JSON, format in
// docs/stats.md): raw queries, and counters summed over shards for tests that assert
// exact deltas.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace sl_test
{

// Connects to the Unix socket at path, sends request followed by '\n', and collects the
// reply until the server closes, or until idle_ms pass without new bytes after the first
// byte, or until timeout_ms in total. Returns true with *reply filled when any bytes came
// back; false with *error otherwise. Any thread may call it.
bool query_stats_socket(const std::string &path, const std::string &request, int timeout_ms,
                        std::string *reply, std::string *error, int idle_ms = 200);

// Counters of one /stats reply, summed over every shard, keyed by their path below the
// shard object joined with '.': "connections_closed_mid_frame", "requests.Metadata.count",
// "errors.CORRUPT_MESSAGE", "net.closes_peer"; node-wide objects next to "shards" by their
// full path: "controller_rpc.requests_served". A key absent from the reply reads as 0.
struct stats_totals {
    std::map<std::string, uint64_t> values;
    uint64_t get(const std::string &key) const
    {
        auto it = values.find(key);
        return it == values.end() ? 0 : it->second;
    }
    bool has(const std::string &key) const
    {
        return values.count(key) != 0;
    }
};

// Parses a /stats reply into totals. Returns false with *error on text that is not the
// documented shape (a JSON object with a "shards" array of objects).
bool parse_stats_totals(const std::string &reply, stats_totals *out, std::string *error);

// Queries socket_path with {"cmd":"/stats"} and parses the reply; false with *error when
// the socket does not answer or the reply does not parse.
bool read_stats_totals(const std::string &socket_path, stats_totals *out, std::string *error);

} // namespace sl_test
