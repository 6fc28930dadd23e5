// Stats-socket query helper (raw JSON text in, raw text out).
#include "tests/support/stats_socket.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>

#include "tests/support/child_process.h"

namespace sl_test
{

bool query_stats_socket(const std::string &path, const std::string &request, int timeout_ms,
                        std::string *reply, std::string *error, int idle_ms)
{
    reply->clear();
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) {
        *error = "stats socket path too long: " + path;
        return false;
    }
    memcpy(addr.sun_path, path.c_str(), path.size());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *error = std::string("socket: ") + strerror(errno);
        return false;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        *error = "connect " + path + ": " + strerror(errno);
        close(fd);
        return false;
    }
    std::string line = request + "\n";
    if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) != (ssize_t)line.size()) {
        *error = std::string("send: ") + strerror(errno);
        close(fd);
        return false;
    }
    long long deadline_ms = monotonic_ms() + timeout_ms;
    char buf[4096];
    for (;;) {
        long long left_ms = deadline_ms - monotonic_ms();
        if (left_ms <= 0) {
            break;
        }
        int wait_ms = reply->empty() ? (int)left_ms : (int)std::min<long long>(left_ms, idle_ms);
        struct pollfd pfd = {fd, POLLIN, 0};
        int rc = poll(&pfd, 1, wait_ms);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc <= 0) {
            break;
        }
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            break;
        }
        reply->append(buf, (size_t)n);
    }
    close(fd);
    if (reply->empty()) {
        *error = "no reply from stats socket " + path;
        return false;
    }
    return true;
}

} // namespace sl_test
