// Client for the broker's stats socket (a Unix stream socket speaking JSON, see
// docs/architecture.md "Observability"). The reply format is not defined yet, so this
// helper returns raw text; tests that assert on counters are listed as TODO in
// docs/testing.md until the format exists.
#pragma once

#include <string>

namespace sl_test
{

// Connects to the Unix socket at path, sends request followed by '\n', and collects the
// reply until the server closes, or until idle_ms pass without new bytes after the first
// byte, or until timeout_ms in total. Returns true with *reply filled when any bytes came
// back; false with *error otherwise. Any thread may call it.
bool query_stats_socket(const std::string &path, const std::string &request, int timeout_ms,
                        std::string *reply, std::string *error, int idle_ms = 200);

} // namespace sl_test
