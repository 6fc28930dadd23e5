// Helpers for driver conformance tests: plain blocking sockets on 127.0.0.1 for the
// peer side (run them in helper threads), and a data pattern that detects reordering
// or corruption anywhere in a stream.
#ifndef SL_TESTS_NET_TEST_PEER_H
#define SL_TESTS_NET_TEST_PEER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

namespace sl_test
{

inline sockaddr_in loopback_addr(uint16_t port)
{
    sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

// Blocking socket with 20 s send/receive timeouts so a broken driver fails the test
// instead of hanging it.
inline void set_timeouts(int fd)
{
    timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Connects to 127.0.0.1:port; returns the blocking fd or -errno. Safe on the thread that
// polls a driver: io_uring task work interrupts blocking syscalls of that thread
// (EINTR), and a blocking connect with a send timeout is not restarted, so this
// connects non-blocking and waits with poll(), retrying on EINTR.
inline int peer_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    sockaddr_in a = loopback_addr(port);
    int rc = connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a));
    if (rc != 0 && errno == EINPROGRESS) {
        pollfd p = {fd, POLLOUT, 0};
        int n;
        do {
            n = poll(&p, 1, 20000);
        } while (n < 0 && errno == EINTR);
        int err = n == 1 ? 0 : ETIMEDOUT;
        socklen_t len = sizeof(err);
        if (n == 1)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        errno = err;
        rc = err == 0 ? 0 : -1;
    }
    if (rc != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    set_timeouts(fd);
    return fd;
}

// A listening socket on 127.0.0.1 with a kernel-chosen port; returns fd, sets *port.
inline int peer_listen(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    sockaddr_in a = loopback_addr(0);
    socklen_t len = sizeof(a);
    if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

// A port nothing listens on: bound once by the kernel's choice, then closed.
inline uint16_t closed_port()
{
    uint16_t port = 0;
    int fd = peer_listen(&port);
    if (fd >= 0)
        close(fd);
    return port;
}

inline bool write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = static_cast<const uint8_t *>(buf);
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

inline bool read_all(int fd, void *buf, size_t len)
{
    uint8_t *p = static_cast<uint8_t *>(buf);
    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

// Byte i of stream `seed`: position-dependent, so a reordered, duplicated or dropped
// chunk shows up as a mismatch.
inline uint8_t pattern_byte(uint32_t seed, uint64_t i)
{
    uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)seed * 0xC2B2AE3D27D4EB4Full;
    x ^= x >> 29;
    return static_cast<uint8_t>(x ^ (x >> 17));
}

inline void fill_pattern(uint32_t seed, uint64_t offset, uint8_t *dst, size_t len)
{
    for (size_t i = 0; i < len; i++)
        dst[i] = pattern_byte(seed, offset + i);
}

// Index of the first byte that differs from the pattern, or len if all match.
inline size_t check_pattern(uint32_t seed, uint64_t offset, const uint8_t *src, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (src[i] != pattern_byte(seed, offset + i))
            return i;
    return len;
}

} // namespace sl_test

#endif
