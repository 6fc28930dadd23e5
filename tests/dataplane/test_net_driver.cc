// Driver conformance tests: every sl_net driver (drivers/net/net_driver.h) must pass
// them. They use only the operations table, real sockets on 127.0.0.1 for the peer
// side (blocking, in helper threads), and poll the driver on the test thread the way a
// shard would. Add a driver by adding its ops table to kDrivers at the bottom.
#include <gtest/gtest.h>
#include <sys/eventfd.h>

#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "drivers/net/net_driver.h"
#include "drivers/net/uring_driver.h"
#include "tests/dataplane/net_test_peer.h"

namespace
{

using sl_test::check_pattern;
using sl_test::fill_pattern;

constexpr int kWaitMs = 20000;

// One driver instance and the dataplane side of it: callbacks forward to std::function
// hooks a test sets, and the instance is polled from the test thread.
struct Shard {
    sl_net_driver *drv = nullptr;
    std::function<void(sl_net_conn, uint32_t)> on_accept;
    std::function<void(sl_net_conn, int)> on_connect_done;
    std::function<void(sl_net_conn, const sl_net_rxbuf *)> on_recv;
    std::function<void(sl_net_conn, void *, uint32_t)> on_recv_exact_done;
    std::function<void(sl_net_conn, sl_net_close_reason, int)> on_close;
    int closes = 0;

    int create(const sl_net_driver_ops *ops, const sl_net_config &cfg)
    {
        sl_net_callbacks cb;
        memset(&cb, 0, sizeof(cb));
        cb.ctx = this;
        cb.on_accept = [](void *ctx, sl_net_conn c, uint32_t l) {
            auto *s = static_cast<Shard *>(ctx);
            if (s->on_accept)
                s->on_accept(c, l);
        };
        cb.on_connect_done = [](void *ctx, sl_net_conn c, int err) {
            auto *s = static_cast<Shard *>(ctx);
            if (s->on_connect_done)
                s->on_connect_done(c, err);
        };
        cb.on_recv = [](void *ctx, sl_net_conn c, const sl_net_rxbuf *b) {
            auto *s = static_cast<Shard *>(ctx);
            if (s->on_recv)
                s->on_recv(c, b);
            else
                sl_net_rx_release(s->drv, b->buf_id);
        };
        cb.on_recv_exact_done = [](void *ctx, sl_net_conn c, void *dst, uint32_t len) {
            auto *s = static_cast<Shard *>(ctx);
            if (s->on_recv_exact_done)
                s->on_recv_exact_done(c, dst, len);
        };
        cb.on_close = [](void *ctx, sl_net_conn c, sl_net_close_reason r, int err) {
            auto *s = static_cast<Shard *>(ctx);
            s->closes++;
            if (s->on_close)
                s->on_close(c, r, err);
        };
        return sl_net_create(ops, &cfg, &cb, &drv);
    }

    // Destroying closes what is still open and calls on_close: the hooks may capture
    // locals declared after the Shard (already gone), so drop them first. Segment
    // release cookies must outlive the Shard: tests declare them before it.
    ~Shard()
    {
        on_accept = nullptr;
        on_connect_done = nullptr;
        on_recv = nullptr;
        on_recv_exact_done = nullptr;
        on_close = nullptr;
        if (drv != nullptr)
            sl_net_destroy(drv);
    }

    // Polls until pred() holds; false after kWaitMs.
    bool poll_until(const std::function<bool()> &pred, int wait_ms = kWaitMs)
    {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
        while (!pred()) {
            if (std::chrono::steady_clock::now() > deadline)
                return false;
            int n = sl_net_poll(drv, 64);
            EXPECT_GE(n, 0);
            if (n == 0)
                (void)sl_net_wait(drv, 1000);
        }
        return true;
    }

    const sl_net_counters &counters() const
    {
        return *sl_net_counters_get(drv);
    }
};

// Polls several instances until pred() holds.
bool poll_all_until(std::vector<Shard *> shards, const std::function<bool()> &pred)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        int total = 0;
        for (Shard *s : shards)
            total += sl_net_poll(s->drv, 64);
        if (total == 0)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
}

sl_net_config small_config()
{
    sl_net_config cfg;
    sl_net_config_default(&cfg);
    cfg.max_connections = 128;
    cfg.queue_depth = 256;
    cfg.rx_buf_count = 256;
    cfg.rx_buf_size_bytes = 4096;
    cfg.rx_bufs_per_conn_max = 32;
    cfg.send_segs_per_conn_max = 64;
    cfg.send_iov_max = 16;
    cfg.zc_threshold_bytes = 16384;
    cfg.mem_regions_max = 4;
    return cfg;
}

int listen_loopback(Shard &s, uint16_t port_in, uint16_t *port_out, uint32_t *listener = nullptr)
{
    sockaddr_in a = sl_test::loopback_addr(port_in);
    uint32_t id = 0;
    int rc = sl_net_listen(s.drv, reinterpret_cast<sockaddr *>(&a), sizeof(a), &id, port_out);
    if (listener != nullptr)
        *listener = id;
    return rc;
}

// Page-aligned memory the test registers for zero-copy send.
struct Region {
    uint8_t *base = nullptr;
    size_t len = 0;
    explicit Region(size_t n) : len(n)
    {
        void *p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        base = p == MAP_FAILED ? nullptr : static_cast<uint8_t *>(p);
    }
    ~Region()
    {
        if (base != nullptr)
            munmap(base, len);
    }
};

// Release bookkeeping for sent segments: how often each was released, in which order,
// with which status. On release the segment's memory is poisoned, so a driver that
// releases before the kernel is done reading corrupts what the peer receives.
struct ReleaseLog {
    struct Entry {
        ReleaseLog *log;
        uint8_t *mem;
        uint32_t len;
        int index;
    };
    std::vector<Entry> entries;
    std::vector<int> count;
    std::vector<int> status;
    std::vector<int> order;

    explicit ReleaseLog(int n) : entries(n), count(n, 0), status(n, 1)
    {
    }

    sl_net_seg seg(int i, uint8_t *mem, uint32_t len)
    {
        entries[i] = Entry{this, mem, len, i};
        sl_net_seg s;
        s.ptr = mem;
        s.len_bytes = len;
        s.release = [](void *cookie, int st) {
            auto *e = static_cast<Entry *>(cookie);
            e->log->count[e->index]++;
            e->log->status[e->index] = st;
            e->log->order.push_back(e->index);
            memset(e->mem, 0xEE, e->len);
        };
        s.cookie = &entries[i];
        return s;
    }

    int released() const
    {
        int n = 0;
        for (int c : count)
            n += c > 0;
        return n;
    }
};

class NetDriver : public ::testing::TestWithParam<const sl_net_driver_ops *>
{
  protected:
    const sl_net_driver_ops *ops() const
    {
        return GetParam();
    }
};

// ---------------------------------------------------------------------------------
// Echo over many connections; received buffers are sent back as segments without a
// copy and returned to the pool by their release callback.

TEST_P(NetDriver, EchoManyConnections)
{
    constexpr int kConns = 32;
    constexpr size_t kBytes = 96 * 1024;
    sl_net_config cfg = small_config();
    cfg.rx_buf_size_bytes = 1024;
    // The per-connection receive bound is soft (see docs/drivers.md): one connection may
    // hold up to the whole pool, so its send queue must fit the whole pool.
    cfg.send_segs_per_conn_max = cfg.rx_buf_count;
    struct Back {
        sl_net_driver *drv;
        uint32_t id;
    };
    std::vector<Back> backs(cfg.rx_buf_count);
    Shard s;
    ASSERT_EQ(s.create(ops(), cfg), 0);
    uint16_t port = 0;
    ASSERT_EQ(listen_loopback(s, 0, &port), 0);
    ASSERT_NE(port, 0);
    int accepted = 0;
    std::vector<sl_net_close_reason> closed; // slots are reused: keep a list
    s.on_accept = [&](sl_net_conn, uint32_t) { accepted++; };
    s.on_recv = [&](sl_net_conn c, const sl_net_rxbuf *b) {
        backs[b->buf_id] = Back{s.drv, b->buf_id};
        sl_net_seg seg;
        seg.ptr = b->data;
        seg.len_bytes = b->len_bytes;
        seg.release = [](void *cookie, int) {
            auto *bk = static_cast<Back *>(cookie);
            sl_net_rx_release(bk->drv, bk->id);
        };
        seg.cookie = &backs[b->buf_id];
        ASSERT_EQ(sl_net_send(s.drv, c, &seg, 1), 0);
    };
    s.on_close = [&](sl_net_conn, sl_net_close_reason r, int) { closed.push_back(r); };

    std::atomic<int> peers_ok{0};
    std::atomic<int> peers_done{0};
    std::vector<std::thread> peers;
    for (int i = 0; i < kConns; i++) {
        peers.emplace_back([&, i] {
            int fd = sl_test::peer_connect(port);
            if (fd < 0) {
                peers_done++;
                return;
            }
            std::vector<uint8_t> out(kBytes), in(kBytes);
            fill_pattern(i, 0, out.data(), kBytes);
            std::thread writer([&] {
                size_t off = 0, chunk = 1 + (size_t)i * 97;
                while (off < kBytes) {
                    size_t n = std::min(chunk, kBytes - off);
                    if (!sl_test::write_all(fd, out.data() + off, n))
                        return;
                    off += n;
                    chunk = chunk * 3 % 7919 + 1;
                }
            });
            bool ok = sl_test::read_all(fd, in.data(), kBytes);
            writer.join();
            if (ok && check_pattern(i, 0, in.data(), kBytes) == kBytes)
                peers_ok++;
            close(fd);
            peers_done++;
        });
    }
    EXPECT_TRUE(s.poll_until([&] { return peers_done.load() == kConns; }));
    for (auto &t : peers)
        t.join();
    EXPECT_EQ(peers_ok.load(), kConns);
    EXPECT_TRUE(s.poll_until([&] { return (int)closed.size() == kConns; }));
    EXPECT_EQ(accepted, kConns);
    for (sl_net_close_reason r : closed)
        EXPECT_TRUE(r == SL_NET_CLOSE_PEER || r == SL_NET_CLOSE_ERROR) << r;
    const sl_net_counters &k = s.counters();
    EXPECT_EQ(k.accepts, (uint64_t)kConns);
    EXPECT_EQ(k.closes, (uint64_t)kConns);
    EXPECT_EQ(k.rx_bytes, (uint64_t)kConns * kBytes);
    EXPECT_EQ(k.tx_bytes, (uint64_t)kConns * kBytes);
    RecordProperty("rx_buf_exhausted", std::to_string(k.rx_buf_exhausted));
    RecordProperty("rx_backpressure_pauses", std::to_string(k.rx_backpressure_pauses));
}

// ---------------------------------------------------------------------------------
// 8 MiB in zero-copy segments: each release exactly once, in order, after the kernel
// is done (the release poisons the memory, so an early release corrupts the stream).

static void large_send(const sl_net_driver_ops *ops, bool zc_disable)
{
    constexpr size_t kSeg = 1 << 20;
    constexpr int kSegs = 8;
    constexpr uint32_t kSeed = 77;
    sl_net_config cfg = small_config();
    cfg.zc_disable = zc_disable;
    Region region(kSeg * kSegs);
    ASSERT_NE(region.base, nullptr);
    fill_pattern(kSeed, 0, region.base, region.len);
    // A small plain header from ordinary memory first, then the registered segments.
    std::vector<uint8_t> header(100);
    fill_pattern(kSeed + 1, 0, header.data(), header.size());
    ReleaseLog log(kSegs + 1);
    Shard s;
    ASSERT_EQ(s.create(ops, cfg), 0);
    sl_net_info info;
    sl_net_info_get(s.drv, &info);
    if (zc_disable) {
        EXPECT_FALSE(info.send_zc);
    }
    ASSERT_EQ(sl_net_mem_register(s.drv, region.base, region.len), 0);

    uint16_t port = 0;
    ASSERT_EQ(listen_loopback(s, 0, &port), 0);
    bool sent = false;
    s.on_accept = [&](sl_net_conn c, uint32_t) {
        std::vector<sl_net_seg> segs;
        segs.push_back(log.seg(0, header.data(), (uint32_t)header.size()));
        for (int i = 0; i < kSegs; i++)
            segs.push_back(log.seg(i + 1, region.base + i * kSeg, kSeg));
        ASSERT_EQ(sl_net_send(s.drv, c, segs.data(), (uint32_t)segs.size()), 0);
        sent = true;
    };

    std::atomic<bool> peer_done{false};
    std::atomic<bool> peer_ok{false};
    std::thread peer([&] {
        int fd = sl_test::peer_connect(port);
        if (fd >= 0) {
            std::vector<uint8_t> h(header.size()), body(kSeg * kSegs);
            bool ok = sl_test::read_all(fd, h.data(), h.size()) &&
                      sl_test::read_all(fd, body.data(), body.size());
            ok = ok && check_pattern(kSeed + 1, 0, h.data(), h.size()) == h.size();
            size_t bad = check_pattern(kSeed, 0, body.data(), body.size());
            if (bad != body.size())
                ADD_FAILURE() << "payload differs at byte " << bad;
            peer_ok = ok && bad == body.size();
            close(fd);
        }
        peer_done = true;
    });
    EXPECT_TRUE(s.poll_until([&] { return peer_done.load() && log.released() == kSegs + 1; }));
    peer.join();
    EXPECT_TRUE(sent);
    EXPECT_TRUE(peer_ok.load());
    for (int i = 0; i <= kSegs; i++) {
        EXPECT_EQ(log.count[i], 1) << "segment " << i;
        EXPECT_EQ(log.status[i], 0) << "segment " << i;
    }
    std::vector<int> in_order;
    for (int i = 0; i <= kSegs; i++)
        in_order.push_back(i);
    EXPECT_EQ(log.order, in_order);
    const sl_net_counters &k = s.counters();
    ::testing::Test::RecordProperty("tx_sends_zc", std::to_string(k.tx_sends_zc));
    ::testing::Test::RecordProperty("tx_zc_copied", std::to_string(k.tx_zc_copied));
    EXPECT_EQ(k.tx_bytes, (uint64_t)(kSeg * kSegs + header.size()));
    if (info.send_zc) {
        EXPECT_GE(k.tx_sends_zc, (uint64_t)kSegs);
        EXPECT_EQ(k.tx_zc_fallbacks, 0u);
    } else {
        EXPECT_EQ(k.tx_sends_zc, 0u);
        EXPECT_EQ(k.tx_zc_fallbacks, (uint64_t)kSegs);
    }
    // Let the peer's close arrive; nothing may be released twice on the way.
    EXPECT_TRUE(s.poll_until([&] { return s.closes == 1; }));
    for (int i = 0; i <= kSegs; i++)
        EXPECT_EQ(log.count[i], 1);
}

TEST_P(NetDriver, LargeZeroCopySendReleasesOnceAfterTransmit)
{
    large_send(ops(), false);
}

TEST_P(NetDriver, LargeSendWithZeroCopyDisabled)
{
    large_send(ops(), true);
}

TEST_P(NetDriver, ZeroCopyIsInUseWhereSupported)
{
    // Documents what this machine runs: on Linux >= 6.2 the uring driver uses SEND_ZC.
    Shard s;
    sl_net_config cfg = small_config();
    ASSERT_EQ(s.create(ops(), cfg), 0);
    sl_net_info info;
    sl_net_info_get(s.drv, &info);
    RecordProperty("driver", info.driver_name);
    RecordProperty("send_zc", info.send_zc ? "yes" : "no");
    EXPECT_STREQ(info.driver_name, ops()->name);
    if (std::string(ops()->name) == "uring") {
        EXPECT_TRUE(info.send_zc) << "kernel lacks IORING_OP_SEND_ZC?";
    }
}

// ---------------------------------------------------------------------------------
// The dataplane side of the length-prefixed frame tests: assembles 4-byte big-endian size
// + body frames from on_recv buffers; a body can be completed by recv_exact.
struct FrameAssembler {
    uint8_t hdr[4];
    uint32_t hdr_have = 0;
    uint32_t body_len = 0;
    std::vector<uint8_t> body;
    uint32_t body_have = 0;
    bool in_exact = false;
    size_t frames = 0;
    size_t bad = 0;
    size_t exact_frames = 0;

    // Takes a receive buffer's bytes; on_frame() runs for every frame completed in it.
    template <typename OnFrame> void take(const uint8_t *p, uint32_t left, OnFrame on_frame)
    {
        while (left > 0) {
            if (hdr_have < 4) {
                uint32_t n = std::min(left, 4 - hdr_have);
                memcpy(hdr + hdr_have, p, n);
                hdr_have += n;
                p += n;
                left -= n;
                if (hdr_have == 4) {
                    body_len = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
                    body.assign(body_len, 0);
                }
                continue;
            }
            uint32_t n = std::min(left, body_len - body_have);
            memcpy(body.data() + body_have, p, n);
            body_have += n;
            p += n;
            left -= n;
            if (body_have == body_len)
                on_frame();
        }
    }
    // A body of at least min_len bytes is partly here: the rest should come in place.
    bool wants_exact(uint32_t min_len) const
    {
        return hdr_have == 4 && body_len >= min_len && body_have < body_len;
    }
    // Starts the next frame.
    void next()
    {
        frames++;
        hdr_have = 0;
        body_have = 0;
    }
};

// ---------------------------------------------------------------------------------
// Length-prefixed frames: small bodies assembled from pool buffers, large bodies read
// with recv_exact straight into a caller buffer, interleaved on one stream.

TEST_P(NetDriver, RecvExactInterleavedWithMultishot)
{
    sl_net_config cfg = small_config();
    cfg.rx_buf_size_bytes = 512; // small buffers: many completions in flight
    cfg.rx_buf_count = 128;
    cfg.rx_bufs_per_conn_max = 64;
    Shard s;
    ASSERT_EQ(s.create(ops(), cfg), 0);
    uint16_t port = 0;
    ASSERT_EQ(listen_loopback(s, 0, &port), 0);

    // Frame sizes: a mix of tiny, small, and large (exact-path) bodies.
    std::vector<uint32_t> sizes;
    for (int i = 0; i < 48; i++) {
        switch (i % 4) {
        case 0:
            sizes.push_back(1 + i * 7);
            break;
        case 1:
            sizes.push_back(300 + i * 13);
            break;
        case 2:
            sizes.push_back((64u << 10) + i * 4099);
            break;
        default:
            sizes.push_back((1u << 20) - i * 31);
            break;
        }
    }
    constexpr uint32_t kExactMin = 4096;

    FrameAssembler a;
    sl_net_conn conn{};
    auto finish_frame = [&] {
        if (a.frames >= sizes.size() || a.body_len != sizes[a.frames] ||
            check_pattern((uint32_t)a.frames, 0, a.body.data(), a.body_len) != a.body_len)
            a.bad++;
        a.next();
    };
    s.on_accept = [&](sl_net_conn c, uint32_t) { conn = c; };
    s.on_recv_exact_done = [&](sl_net_conn, void *dst, uint32_t len) {
        EXPECT_TRUE(a.in_exact);
        EXPECT_EQ((uint8_t *)dst + len, a.body.data() + a.body_len);
        a.in_exact = false;
        a.exact_frames++;
        finish_frame();
    };
    s.on_recv = [&](sl_net_conn c, const sl_net_rxbuf *b) {
        EXPECT_FALSE(a.in_exact) << "on_recv while recv_exact pending";
        a.take(b->data, b->len_bytes, finish_frame);
        // This buffer is used up; a large body still missing comes in place.
        if (a.wants_exact(kExactMin)) {
            a.in_exact = true;
            ASSERT_EQ(
                sl_net_recv_exact(s.drv, c, a.body.data() + a.body_have, a.body_len - a.body_have),
                0);
            EXPECT_EQ(sl_net_recv_exact(s.drv, c, a.body.data(), 1), -EBUSY);
        }
        sl_net_rx_release(s.drv, b->buf_id);
    };

    std::atomic<bool> peer_done{false};
    std::thread peer([&] {
        int fd = sl_test::peer_connect(port);
        if (fd >= 0) {
            for (size_t i = 0; i < sizes.size(); i++) {
                std::vector<uint8_t> f(4 + sizes[i]);
                f[0] = (uint8_t)(sizes[i] >> 24);
                f[1] = (uint8_t)(sizes[i] >> 16);
                f[2] = (uint8_t)(sizes[i] >> 8);
                f[3] = (uint8_t)sizes[i];
                fill_pattern((uint32_t)i, 0, f.data() + 4, sizes[i]);
                // Odd write sizes so headers and bodies straddle buffers.
                size_t off = 0, chunk = 333 + i * 1000;
                while (off < f.size()) {
                    size_t n = std::min(chunk, f.size() - off);
                    if (!sl_test::write_all(fd, f.data() + off, n))
                        break;
                    off += n;
                }
            }
            char c;
            (void)recv(fd, &c, 1, 0); // until the driver side closes
            close(fd);
        }
        peer_done = true;
    });
    EXPECT_TRUE(s.poll_until([&] { return a.frames == sizes.size() || a.bad > 0; }));
    EXPECT_EQ(a.frames, sizes.size());
    EXPECT_EQ(a.bad, 0u);
    EXPECT_GT(a.exact_frames, 0u);
    EXPECT_EQ(sl_net_close(s.drv, conn), 0);
    EXPECT_EQ(sl_net_close(s.drv, conn), -EALREADY);
    EXPECT_TRUE(s.poll_until([&] { return peer_done.load() && s.closes == 1; }));
    peer.join();
    EXPECT_EQ(sl_net_close(s.drv, conn), -EBADF);
    const sl_net_counters &k = s.counters();
    EXPECT_GT(k.rx_exact_bytes, 0u);
    uint64_t total = 0;
    for (uint32_t n : sizes)
        total += 4 + n;
    EXPECT_EQ(k.rx_bytes, total);
    RecordProperty("rx_exact_bytes", std::to_string(k.rx_exact_bytes));
    RecordProperty("rx_exact_copied_bytes", std::to_string(k.rx_exact_copied_bytes));
}

// ---------------------------------------------------------------------------------
// A producer pipelining large frames: every frame after the first is already queued in
// the socket when the previous recv_exact ends. Its body must arrive in place, not be
// pulled into pool buffers first and copied (the head probe); without the probe each
// frame would come almost entirely by copy.

TEST_P(NetDriver, PipelinedLargeFramesArriveInPlace)
{
    sl_net_config cfg = small_config();
    cfg.rx_buf_size_bytes = 16384;
    cfg.rx_buf_count = 256;
    cfg.rx_bufs_per_conn_max = 64; // an uncapped recv may take 1 MiB at once
    Shard s;
    ASSERT_EQ(s.create(ops(), cfg), 0);
    sl_net_info info;
    sl_net_info_get(s.drv, &info);
    uint16_t port = 0;
    ASSERT_EQ(listen_loopback(s, 0, &port), 0);

    constexpr uint32_t kFrames = 16;
    constexpr uint32_t kBody = (1u << 20) - 100;
    FrameAssembler a;
    sl_net_conn conn{};
    auto finish = [&] {
        if (a.body_len != kBody ||
            check_pattern((uint32_t)a.frames, 0, a.body.data(), kBody) != kBody)
            a.bad++;
        a.next();
    };
    s.on_accept = [&](sl_net_conn c, uint32_t) { conn = c; };
    s.on_recv_exact_done = [&](sl_net_conn, void *, uint32_t) { finish(); };
    s.on_recv = [&](sl_net_conn c, const sl_net_rxbuf *b) {
        a.take(b->data, b->len_bytes, finish);
        if (a.wants_exact(1)) {
            ASSERT_EQ(sl_net_recv_exact(s.drv, c, a.body.data() + a.body_have, kBody - a.body_have),
                      0);
        }
        sl_net_rx_release(s.drv, b->buf_id);
    };

    std::atomic<bool> peer_done{false};
    std::thread peer([&] {
        int fd = sl_test::peer_connect(port);
        if (fd >= 0) {
            std::vector<uint8_t> all;
            for (uint32_t i = 0; i < kFrames; i++) {
                uint8_t h[4] = {(uint8_t)(kBody >> 24), (uint8_t)(kBody >> 16),
                                (uint8_t)(kBody >> 8), (uint8_t)kBody};
                all.insert(all.end(), h, h + 4);
                size_t at = all.size();
                all.resize(at + kBody);
                fill_pattern(i, 0, all.data() + at, kBody);
            }
            (void)sl_test::write_all(fd, all.data(), all.size());
            char c;
            (void)recv(fd, &c, 1, 0);
            close(fd);
        }
        peer_done = true;
    });
    EXPECT_TRUE(s.poll_until([&] { return a.frames == kFrames || a.bad > 0; }));
    EXPECT_EQ(a.frames, kFrames);
    EXPECT_EQ(a.bad, 0u);
    EXPECT_EQ(sl_net_close(s.drv, conn), 0);
    EXPECT_TRUE(s.poll_until([&] { return peer_done.load() && s.closes == 1; }));
    peer.join();
    const sl_net_counters &k = s.counters();
    RecordProperty("rx_exact_copied_bytes", std::to_string(k.rx_exact_copied_bytes));
    RecordProperty("rx_head_probes", std::to_string(k.rx_head_probes));
    if (!info.rx_bound_exact) {
        EXPECT_EQ(k.rx_head_probes, 0u); // no byte cap: nothing to probe with
        return;
    }
    EXPECT_GE(k.rx_head_probes, kFrames - 1);
    // The first frame may come wholly by copy; every later one at most two buffers.
    uint64_t bound = (uint64_t)cfg.rx_bufs_per_conn_max * cfg.rx_buf_size_bytes +
                     (uint64_t)(kFrames - 1) * 2 * cfg.rx_buf_size_bytes;
    EXPECT_LE(k.rx_exact_copied_bytes, bound);
}

// ---------------------------------------------------------------------------------
// The peer goes away while 8 MiB is queued: the connection closes once, every segment
// is released exactly once, the unsent ones with an error.

TEST_P(NetDriver, PeerCloseMidSend)
{
    constexpr size_t kSeg = 1 << 20;
    constexpr int kSegs = 8;
    sl_net_config cfg = small_config();
    Region region(kSeg * kSegs);
    ASSERT_NE(region.base, nullptr);
    std::vector<uint8_t> small(3000, 0x42);
    ReleaseLog log(2 * kSegs);
    Shard s;
    ASSERT_EQ(s.create(ops(), cfg), 0);
    ASSERT_EQ(sl_net_mem_register(s.drv, region.base, region.len), 0);
    uint16_t port = 0;
    ASSERT_EQ(listen_loopback(s, 0, &port), 0);
    sl_net_conn conn{};
    std::atomic<bool> queued{false};
    s.on_accept = [&](sl_net_conn c, uint32_t) {
        conn = c;
        std::vector<sl_net_seg> segs;
        for (int i = 0; i < kSegs; i++) {
            segs.push_back(log.seg(2 * i, region.base + i * kSeg, kSeg));
            segs.push_back(log.seg(2 * i + 1, small.data(), (uint32_t)small.size()));
        }
        ASSERT_EQ(sl_net_send(s.drv, c, segs.data(), (uint32_t)segs.size()), 0);
        queued = true;
    };
    int close_count = 0;
    s.on_close = [&](sl_net_conn, sl_net_close_reason r, int) {
        close_count++;
        EXPECT_TRUE(r == SL_NET_CLOSE_ERROR || r == SL_NET_CLOSE_PEER) << r;
    };
    std::thread peer([&] {
        int fd = sl_test::peer_connect(port);
        if (fd < 0)
            return;
        while (!queued.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::vector<uint8_t> buf(64 * 1024);
        (void)sl_test::read_all(fd, buf.data(), buf.size());
        // Unread data in the receive queue: close sends a reset.
        close(fd);
    });
    EXPECT_TRUE(s.poll_until([&] { return close_count == 1; }));
    peer.join();
    int failed = 0;
    for (int i = 0; i < 2 * kSegs; i++) {
        EXPECT_EQ(log.count[i], 1) << "segment " << i;
        failed += log.status[i] < 0;
    }
    EXPECT_GT(failed, 0);
    // Released in queue order, also on the error path.
    for (size_t i = 1; i < log.order.size(); i++)
        EXPECT_LT(log.order[i - 1], log.order[i]);
    sl_net_seg again = {small.data(), 10, nullptr, nullptr};
    EXPECT_EQ(sl_net_send(s.drv, conn, &again, 1), -EBADF);
    EXPECT_EQ(sl_net_send_space(s.drv, conn), -EBADF);
    EXPECT_EQ(s.counters().closes, 1u);
}

// ---------------------------------------------------------------------------------
// Outbound connections: refused, and a working one exchanging data.

TEST_P(NetDriver, ConnectToClosedPortFails)
{
    ReleaseLog log(1);
    std::vector<uint8_t> data(10, 1);
    Shard s;
    ASSERT_EQ(s.create(ops(), small_config()), 0);
    uint16_t port = sl_test::closed_port();
    ASSERT_NE(port, 0);
    int result = 1;
    s.on_connect_done = [&](sl_net_conn, int err) { result = err; };
    sockaddr_in a = sl_test::loopback_addr(port);
    sl_net_conn c;
    ASSERT_EQ(sl_net_connect(s.drv, reinterpret_cast<sockaddr *>(&a), sizeof(a), &c), 0);
    // A segment queued before the failure is released with the error.
    ASSERT_EQ(sl_net_send(s.drv, c, std::vector<sl_net_seg>{log.seg(0, data.data(), 10)}.data(), 1),
              0);
    EXPECT_TRUE(s.poll_until([&] { return result != 1; }));
    EXPECT_EQ(result, -ECONNREFUSED);
    EXPECT_EQ(log.count[0], 1);
    EXPECT_EQ(log.status[0], -ECONNREFUSED);
    EXPECT_EQ(s.closes, 0); // a failed connect reports through on_connect_done only
    EXPECT_EQ(s.counters().connect_errors, 1u);
    EXPECT_EQ(sl_net_close(s.drv, c), -EBADF);
}

TEST_P(NetDriver, ConnectAndExchange)
{
    Shard s;
    ASSERT_EQ(s.create(ops(), small_config()), 0);
    uint16_t port = 0;
    int lfd = sl_test::peer_listen(&port);
    ASSERT_GE(lfd, 0);
    std::thread peer([&] {
        int fd = accept(lfd, nullptr, nullptr);
        if (fd < 0)
            return;
        sl_test::set_timeouts(fd);
        char buf[5];
        if (sl_test::read_all(fd, buf, 5))
            (void)sl_test::write_all(fd, "world", 5);
        char c;
        (void)recv(fd, &c, 1, 0);
        close(fd);
    });
    int result = 1;
    std::string got;
    s.on_connect_done = [&](sl_net_conn, int err) { result = err; };
    s.on_recv = [&](sl_net_conn, const sl_net_rxbuf *b) {
        got.append(reinterpret_cast<const char *>(b->data), b->len_bytes);
        sl_net_rx_release(s.drv, b->buf_id);
    };
    sockaddr_in a = sl_test::loopback_addr(port);
    sl_net_conn c;
    ASSERT_EQ(sl_net_connect(s.drv, reinterpret_cast<sockaddr *>(&a), sizeof(a), &c), 0);
    // Queued while connecting; goes out once connected.
    static const char hello[] = "hello";
    sl_net_seg seg = {hello, 5, nullptr, nullptr};
    ASSERT_EQ(sl_net_send(s.drv, c, &seg, 1), 0);
    EXPECT_TRUE(s.poll_until([&] { return got.size() >= 5; }));
    EXPECT_EQ(result, 0);
    EXPECT_EQ(got, "world");
    EXPECT_EQ(sl_net_close(s.drv, c), 0);
    EXPECT_TRUE(s.poll_until([&] { return s.closes == 1; }));
    peer.join();
    close(lfd);
    EXPECT_EQ(s.counters().connects, 1u);
}

// ---------------------------------------------------------------------------------
// Two instances (shards) listen on one port with SO_REUSEPORT; both get connections.

TEST_P(NetDriver, ReuseportListenersOnTwoInstancesBothAccept)
{
    constexpr int kConns = 64;
    Shard a, b;
    ASSERT_EQ(a.create(ops(), small_config()), 0);
    ASSERT_EQ(b.create(ops(), small_config()), 0);
    uint16_t port = 0, port_b = 0;
    ASSERT_EQ(listen_loopback(a, 0, &port), 0);
    ASSERT_EQ(listen_loopback(b, port, &port_b), 0);
    EXPECT_EQ(port, port_b);
    int acc_a = 0, acc_b = 0;
    a.on_accept = [&](sl_net_conn, uint32_t) { acc_a++; };
    b.on_accept = [&](sl_net_conn, uint32_t) { acc_b++; };
    std::vector<int> fds;
    for (int i = 0; i < kConns; i++) {
        int fd = sl_test::peer_connect(port);
        ASSERT_GE(fd, 0);
        fds.push_back(fd);
    }
    EXPECT_TRUE(poll_all_until({&a, &b}, [&] { return acc_a + acc_b == kConns; }));
    EXPECT_GT(acc_a, 0);
    EXPECT_GT(acc_b, 0);
    for (int fd : fds)
        close(fd);
    EXPECT_TRUE(poll_all_until({&a, &b}, [&] { return a.closes + b.closes == kConns; }));
}

// ---------------------------------------------------------------------------------
// Receive backpressure: buffers the dataplane holds stop the receive; releasing them
// resumes it with nothing lost or reordered.

TEST_P(NetDriver, RxPoolExhaustionBackpressureThenRecovery)
{
    constexpr size_t kBytes = 512 * 1024;
    constexpr uint32_t kSeed = 5;
    sl_net_config cfg = small_config();
    cfg.rx_buf_count = 8;
    cfg.rx_buf_size_bytes = 1024;
    cfg.rx_bufs_per_conn_max = 8;
    Shard s;
    ASSERT_EQ(s.create(ops(), cfg), 0);
    uint16_t port = 0;
    ASSERT_EQ(listen_loopback(s, 0, &port), 0);
    std::vector<uint32_t> held;
    std::vector<uint8_t> got;
    size_t max_held = 0;
    s.on_recv = [&](sl_net_conn, const sl_net_rxbuf *b) {
        got.insert(got.end(), b->data, b->data + b->len_bytes);
        held.push_back(b->buf_id);
        max_held = std::max(max_held, held.size());
    };
    std::thread peer([&] {
        int fd = sl_test::peer_connect(port);
        if (fd < 0)
            return;
        std::vector<uint8_t> out(kBytes);
        fill_pattern(kSeed, 0, out.data(), kBytes);
        (void)sl_test::write_all(fd, out.data(), kBytes);
        char c;
        (void)recv(fd, &c, 1, 0);
        close(fd);
    });
    // Hold everything: the pool runs dry and receiving stops.
    EXPECT_TRUE(s.poll_until([&] { return held.size() == 8; }));
    EXPECT_TRUE(s.poll_until(
        [&] { return s.counters().rx_buf_exhausted + s.counters().rx_backpressure_pauses > 0; }));
    for (int i = 0; i < 50; i++) {
        (void)sl_net_poll(s.drv, 64);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(held.size(), 8u) << "received more than the pool holds";
    // Release: everything else arrives, in order.
    s.on_recv = [&](sl_net_conn, const sl_net_rxbuf *b) {
        got.insert(got.end(), b->data, b->data + b->len_bytes);
        sl_net_rx_release(s.drv, b->buf_id);
    };
    for (uint32_t id : held)
        sl_net_rx_release(s.drv, id);
    held.clear();
    EXPECT_TRUE(s.poll_until([&] { return got.size() >= kBytes; }));
    EXPECT_EQ(got.size(), kBytes);
    EXPECT_EQ(check_pattern(kSeed, 0, got.data(), got.size()), got.size());
    EXPECT_LE(max_held, 8u);
    // Destroying the instance closes the connection; the peer then sees end of stream.
    sl_net_destroy(s.drv);
    s.drv = nullptr;
    EXPECT_EQ(s.closes, 1);
    peer.join();
}

TEST_P(NetDriver, PerConnectionBackpressureLeavesOthersFlowing)
{
    constexpr size_t kBytes = 256 * 1024;
    sl_net_config cfg = small_config();
    cfg.rx_buf_count = 64;
    cfg.rx_buf_size_bytes = 2048;
    cfg.rx_bufs_per_conn_max = 4;
    Shard s;
    ASSERT_EQ(s.create(ops(), cfg), 0);
    uint16_t port = 0;
    ASSERT_EQ(listen_loopback(s, 0, &port), 0);

    // The first accepted connection holds its buffers; the second releases at once.
    std::vector<sl_net_conn> conns;
    std::map<uint32_t, std::vector<uint8_t>> got;
    std::vector<uint32_t> held;
    s.on_accept = [&](sl_net_conn c, uint32_t) { conns.push_back(c); };
    s.on_recv = [&](sl_net_conn c, const sl_net_rxbuf *b) {
        auto &g = got[c.slot];
        g.insert(g.end(), b->data, b->data + b->len_bytes);
        if (c.slot == conns[0].slot)
            held.push_back(b->buf_id);
        else
            sl_net_rx_release(s.drv, b->buf_id);
    };
    std::atomic<int> peers_done{0};
    auto peer_fn = [&](uint32_t seed) {
        int fd = sl_test::peer_connect(port);
        if (fd >= 0) {
            std::vector<uint8_t> out(kBytes);
            fill_pattern(seed, 0, out.data(), kBytes);
            (void)sl_test::write_all(fd, out.data(), kBytes);
            shutdown(fd, SHUT_WR);
            char c;
            (void)recv(fd, &c, 1, 0);
            close(fd);
        }
        peers_done++;
    };
    sl_net_info info;
    sl_net_info_get(s.drv, &info);
    RecordProperty("rx_bound_exact", info.rx_bound_exact ? "yes" : "no");
    std::thread p0(peer_fn, 100);
    // The first connection fills up to its bound and stalls ...
    ASSERT_TRUE(s.poll_until([&] { return held.size() >= cfg.rx_bufs_per_conn_max; }));
    for (int i = 0; i < 20; i++) {
        (void)sl_net_poll(s.drv, 64);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::thread p1(peer_fn, 101);
    ASSERT_TRUE(s.poll_until([&] { return conns.size() == 2; }));
    uint32_t slot0 = conns[0].slot, slot1 = conns[1].slot;
    // ... while the second one completes.
    EXPECT_TRUE(s.poll_until([&] { return got[slot1].size() == kBytes; }));
    EXPECT_EQ(check_pattern(101, 0, got[slot1].data(), kBytes), kBytes);
    EXPECT_LT(got[slot0].size(), kBytes);
    EXPECT_GE(held.size(), 4u);
    EXPECT_GE(s.counters().rx_backpressure_pauses, 1u);
    if (info.rx_bound_exact) {
        // The stalled connection received exactly its bound, in bytes.
        EXPECT_EQ(got[slot0].size(), (size_t)4 * cfg.rx_buf_size_bytes);
    } else {
        EXPECT_LE(held.size(), (size_t)cfg.rx_buf_count);
    }
    // Release: the first connection resumes and completes.
    s.on_recv = [&](sl_net_conn c, const sl_net_rxbuf *b) {
        auto &g = got[c.slot];
        g.insert(g.end(), b->data, b->data + b->len_bytes);
        sl_net_rx_release(s.drv, b->buf_id);
    };
    for (uint32_t id : held)
        sl_net_rx_release(s.drv, id);
    held.clear();
    EXPECT_TRUE(s.poll_until([&] { return got[slot0].size() == kBytes; }));
    EXPECT_EQ(check_pattern(100, 0, got[slot0].data(), kBytes), kBytes);
    // Both peers half-closed: the driver sees end of stream and closes.
    EXPECT_TRUE(s.poll_until([&] { return s.closes == 2 && peers_done.load() == 2; }));
    p0.join();
    p1.join();
    EXPECT_EQ(s.counters().closes_peer, 2u);
}

// ---------------------------------------------------------------------------------
// The send queue is bounded: over the bound is -ENOBUFS with ownership kept by the
// caller; space comes back as segments are released.

TEST_P(NetDriver, BoundedSendQueueRefusesWithEnobufs)
{
    sl_net_config cfg = small_config();
    cfg.send_segs_per_conn_max = 8;
    constexpr uint32_t kLen = 1000;
    std::vector<uint8_t> data(9 * kLen);
    fill_pattern(9, 0, data.data(), data.size());
    ReleaseLog log(9);
    Shard s;
    ASSERT_EQ(s.create(ops(), cfg), 0);
    uint16_t port = 0;
    ASSERT_EQ(listen_loopback(s, 0, &port), 0);
    sl_net_conn conn{};
    bool accepted = false;
    s.on_accept = [&](sl_net_conn c, uint32_t) {
        conn = c;
        accepted = true;
    };
    std::atomic<bool> go{false};
    std::atomic<bool> peer_ok{false};
    std::thread peer([&] {
        int fd = sl_test::peer_connect(port);
        if (fd < 0)
            return;
        while (!go.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::vector<uint8_t> in(9 * kLen);
        peer_ok = sl_test::read_all(fd, in.data(), in.size()) &&
                  check_pattern(9, 0, in.data(), in.size()) == in.size();
        close(fd);
    });
    ASSERT_TRUE(s.poll_until([&] { return accepted; }));
    std::vector<sl_net_seg> segs;
    for (int i = 0; i < 9; i++)
        segs.push_back(log.seg(i, data.data() + i * kLen, kLen));
    // Nine at once do not fit in eight: all refused, nothing released.
    EXPECT_EQ(sl_net_send(s.drv, conn, segs.data(), 9), -ENOBUFS);
    EXPECT_EQ(s.counters().tx_queue_full, 1u);
    EXPECT_EQ(sl_net_send_space(s.drv, conn), 8);
    ASSERT_EQ(sl_net_send(s.drv, conn, segs.data(), 8), 0);
    EXPECT_EQ(sl_net_send_space(s.drv, conn), 0);
    EXPECT_EQ(sl_net_send(s.drv, conn, &segs[8], 1), -ENOBUFS);
    EXPECT_EQ(log.released(), 0);
    // Sent segments are released and free their queue slots.
    EXPECT_TRUE(s.poll_until([&] { return log.released() == 8; }));
    EXPECT_EQ(sl_net_send_space(s.drv, conn), 8);
    // The release poisoned the memory; restore it before the last segment.
    fill_pattern(9, 0, data.data(), data.size());
    ASSERT_EQ(sl_net_send(s.drv, conn, &segs[8], 1), 0);
    go = true;
    EXPECT_TRUE(s.poll_until([&] { return s.closes == 1; }));
    peer.join();
    EXPECT_TRUE(peer_ok.load());
    for (int i = 0; i < 9; i++)
        EXPECT_EQ(log.count[i], 1);
}

// ---------------------------------------------------------------------------------
// The dataplane closes while zero-copy sends are queued and the peer reads nothing:
// on_close comes later (never inside sl_net_close), after every release.

TEST_P(NetDriver, LocalCloseMidSendReleasesEverythingOnce)
{
    constexpr size_t kSeg = 1 << 20;
    constexpr int kSegs = 8;
    Region region(kSeg * kSegs);
    ASSERT_NE(region.base, nullptr);
    ReleaseLog log(kSegs);
    Shard s;
    ASSERT_EQ(s.create(ops(), small_config()), 0);
    ASSERT_EQ(sl_net_mem_register(s.drv, region.base, region.len), 0);
    uint16_t port = 0;
    ASSERT_EQ(listen_loopback(s, 0, &port), 0);
    sl_net_conn conn{};
    bool accepted = false;
    s.on_accept = [&](sl_net_conn c, uint32_t) {
        conn = c;
        accepted = true;
        std::vector<sl_net_seg> segs;
        for (int i = 0; i < kSegs; i++)
            segs.push_back(log.seg(i, region.base + i * kSeg, kSeg));
        ASSERT_EQ(sl_net_send(s.drv, c, segs.data(), kSegs), 0);
    };
    sl_net_close_reason reason = SL_NET_CLOSE_SHUTDOWN;
    s.on_close = [&](sl_net_conn, sl_net_close_reason r, int) { reason = r; };
    int fd = sl_test::peer_connect(port); // connected, never reads
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(s.poll_until([&] { return accepted; }));
    // Let the socket buffers fill: part of the 8 MiB is in flight, part unsent.
    for (int i = 0; i < 20; i++) {
        (void)sl_net_poll(s.drv, 64);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_LT(log.released(), kSegs);
    EXPECT_EQ(sl_net_close(s.drv, conn), 0);
    EXPECT_EQ(s.closes, 0);
    EXPECT_EQ(sl_net_send_space(s.drv, conn), -ENOTCONN);
    EXPECT_TRUE(s.poll_until([&] { return s.closes == 1; }));
    EXPECT_EQ(reason, SL_NET_CLOSE_LOCAL);
    int failed = 0;
    for (int i = 0; i < kSegs; i++) {
        EXPECT_EQ(log.count[i], 1) << "segment " << i;
        failed += log.status[i] < 0;
    }
    EXPECT_GT(failed, 0);
    close(fd);
}

// ---------------------------------------------------------------------------------
// Destroying an instance with open connections and queued segments releases them all
// and reports SHUTDOWN.

TEST_P(NetDriver, DestroyReleasesQueuedSegmentsAndClosesConnections)
{
    ReleaseLog log(4);
    std::vector<uint8_t> data(4 * 65536, 7);
    std::vector<sl_net_close_reason> reasons;
    auto s = std::make_unique<Shard>();
    ASSERT_EQ(s->create(ops(), small_config()), 0);
    uint16_t port = 0;
    ASSERT_EQ(listen_loopback(*s, 0, &port), 0);
    int accepted = 0;
    s->on_accept = [&](sl_net_conn c, uint32_t) {
        accepted++;
        std::vector<sl_net_seg> segs;
        for (int i = 0; i < 2; i++) {
            int k = 2 * (accepted - 1) + i;
            segs.push_back(log.seg(k, data.data() + k * 65536, 65536));
        }
        ASSERT_EQ(sl_net_send(s->drv, c, segs.data(), 2), 0);
    };
    int fd1 = sl_test::peer_connect(port);
    int fd2 = sl_test::peer_connect(port);
    ASSERT_GE(fd1, 0);
    ASSERT_GE(fd2, 0);
    ASSERT_TRUE(s->poll_until([&] { return accepted == 2; }));
    // Keep on_close for the destroy (the Shard destructor would drop it).
    sl_net_driver *drv = s->drv;
    s->drv = nullptr;
    s->on_close = [&](sl_net_conn, sl_net_close_reason r, int) { reasons.push_back(r); };
    sl_net_destroy(drv);
    EXPECT_EQ(reasons.size(), 2u);
    for (sl_net_close_reason r : reasons)
        EXPECT_EQ(r, SL_NET_CLOSE_SHUTDOWN);
    for (int i = 0; i < 4; i++)
        EXPECT_EQ(log.count[i], 1) << "segment " << i;
    close(fd1);
    close(fd2);
}

// ---------------------------------------------------------------------------------
// A full connection table refuses new connections by closing them, and counts them.

TEST_P(NetDriver, FullConnectionTableRejectsAccepts)
{
    sl_net_config cfg = small_config();
    cfg.max_connections = 2;
    Shard s;
    ASSERT_EQ(s.create(ops(), cfg), 0);
    uint16_t port = 0;
    ASSERT_EQ(listen_loopback(s, 0, &port), 0);
    int accepted = 0;
    s.on_accept = [&](sl_net_conn c, uint32_t) {
        EXPECT_LT(c.slot, 2u);
        accepted++;
    };
    std::vector<int> fds;
    for (int i = 0; i < 4; i++) {
        int fd = sl_test::peer_connect(port);
        ASSERT_GE(fd, 0);
        fds.push_back(fd);
    }
    EXPECT_TRUE(s.poll_until([&] { return s.counters().accepts_rejected_full == 2; }));
    EXPECT_EQ(accepted, 2);
    // The rejected peers see their connection end; the accepted ones stay open.
    int ended = 0;
    for (int fd : fds) {
        timeval tv = {0, 200000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        char c;
        ssize_t n;
        do {
            n = recv(fd, &c, 1, 0); // EINTR: io_uring task work of this thread
        } while (n < 0 && errno == EINTR);
        ended += n == 0 || (n < 0 && errno == ECONNRESET);
    }
    EXPECT_EQ(ended, 2);
    for (int fd : fds)
        close(fd);
    EXPECT_TRUE(s.poll_until([&] { return s.closes == 2; }));
}

// ---------------------------------------------------------------------------------
// An outbound connection still connecting can be closed: on_close, not on_connect_done.

TEST_P(NetDriver, CloseWhileConnecting)
{
    // A listener with backlog 0 that never accepts: the kernel queues one connection
    // and drops further SYNs, so later connects stay pending (SYN retries take seconds).
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(lfd, 0);
    sockaddr_in a = sl_test::loopback_addr(0);
    socklen_t alen = sizeof(a);
    ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr *>(&a), sizeof(a)), 0);
    ASSERT_EQ(listen(lfd, 0), 0);
    ASSERT_EQ(getsockname(lfd, reinterpret_cast<sockaddr *>(&a), &alen), 0);
    Shard s;
    ASSERT_EQ(s.create(ops(), small_config()), 0);
    std::map<uint32_t, int> done;
    s.on_connect_done = [&](sl_net_conn c, int err) { done[c.slot] = err; };
    std::vector<sl_net_conn> conns(4);
    for (auto &c : conns)
        ASSERT_EQ(sl_net_connect(s.drv, reinterpret_cast<sockaddr *>(&a), sizeof(a), &c), 0);
    for (int i = 0; i < 100; i++) {
        (void)sl_net_poll(s.drv, 64);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::vector<sl_net_conn> pending;
    for (auto &c : conns)
        if (done.count(c.slot) == 0)
            pending.push_back(c);
    ASSERT_FALSE(pending.empty()) << "every connect finished; the backlog trick failed";
    for (auto &c : pending)
        EXPECT_EQ(sl_net_close(s.drv, c), 0);
    EXPECT_TRUE(s.poll_until([&] { return s.closes == (int)pending.size(); }));
    for (auto &c : pending)
        EXPECT_EQ(done.count(c.slot), 0u) << "on_connect_done after close";
    close(lfd);
}

// ---------------------------------------------------------------------------------
// Closing a listener stops accepting; connections it accepted stay usable.

TEST_P(NetDriver, ListenCloseStopsAcceptingKeepsConnections)
{
    Shard s;
    ASSERT_EQ(s.create(ops(), small_config()), 0);
    uint16_t port = 0;
    uint32_t id = 99;
    ASSERT_EQ(listen_loopback(s, 0, &port, &id), 0);
    sl_net_conn conn{};
    int accepted = 0;
    s.on_accept = [&](sl_net_conn c, uint32_t listener) {
        EXPECT_EQ(listener, id);
        conn = c;
        accepted++;
    };
    int fd = sl_test::peer_connect(port);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(s.poll_until([&] { return accepted == 1; }));
    EXPECT_EQ(sl_net_listen_close(s.drv, id), 0);
    EXPECT_EQ(sl_net_listen_close(s.drv, id), -EBADF);
    EXPECT_EQ(sl_net_listen_close(s.drv, 1000), -EBADF);
    // Once the socket is gone, the port refuses connections.
    int refused = 0;
    EXPECT_TRUE(s.poll_until([&] {
        int fd2 = sl_test::peer_connect(port);
        if (fd2 >= 0)
            close(fd2); // raced into the old accept queue; the driver closes it
        refused = fd2 == -ECONNREFUSED;
        return refused == 1;
    }));
    EXPECT_EQ(accepted, 1);
    static const char msg[] = "still open";
    sl_net_seg seg = {msg, sizeof(msg), nullptr, nullptr};
    ASSERT_EQ(sl_net_send(s.drv, conn, &seg, 1), 0);
    char buf[sizeof(msg)] = {};
    std::atomic<bool> got{false};
    std::thread peer([&] { got = sl_test::read_all(fd, buf, sizeof(buf)); });
    EXPECT_TRUE(s.poll_until([&] { return got.load(); }));
    peer.join();
    EXPECT_STREQ(buf, msg);
    close(fd);
    EXPECT_TRUE(s.poll_until([&] { return s.closes == 1; }));
    // The listener slot is free again.
    uint32_t id2 = 99;
    EXPECT_EQ(listen_loopback(s, 0, &port, &id2), 0);
    EXPECT_EQ(id2, id);
}

// ---------------------------------------------------------------------------------
// Bad arguments and exhausted tables are returned as errors, never asserted.

TEST_P(NetDriver, ArgumentAndLimitErrors)
{
    sl_net_config cfg = small_config();
    sl_net_driver *bad = nullptr;
    sl_net_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.on_accept = [](void *, sl_net_conn, uint32_t) {};
    cb.on_recv = [](void *, sl_net_conn, const sl_net_rxbuf *) {};
    cb.on_close = [](void *, sl_net_conn, sl_net_close_reason, int) {};
    sl_net_config broken = cfg;
    broken.rx_buf_count = 100; // not a power of two
    EXPECT_EQ(sl_net_create(ops(), &broken, &cb, &bad), -EINVAL);
    broken = cfg;
    broken.rx_bufs_per_conn_max = cfg.rx_buf_count + 1;
    EXPECT_EQ(sl_net_create(ops(), &broken, &cb, &bad), -EINVAL);
    broken = cfg;
    broken.max_connections = 0;
    EXPECT_EQ(sl_net_config_check(&broken), -EINVAL);
    EXPECT_EQ(bad, nullptr);

    cfg.mem_regions_max = 1;
    Region r1(1 << 16), r2(1 << 16);
    ASSERT_NE(r1.base, nullptr);
    ASSERT_NE(r2.base, nullptr);
    Shard s;
    ASSERT_EQ(s.create(ops(), cfg), 0);
    EXPECT_EQ(sl_net_mem_register(s.drv, r1.base, r1.len), 0);
    EXPECT_EQ(sl_net_mem_register(s.drv, r2.base, r2.len), -ENOSPC);

    // Listener table: fills up, then -ENOSPC.
    int listeners = 0, rc = 0;
    uint16_t port = 0;
    while ((rc = listen_loopback(s, 0, &port)) == 0 && listeners < 1000)
        listeners++;
    EXPECT_EQ(rc, -ENOSPC);
    EXPECT_GT(listeners, 0);

    // A handle that never existed, and one whose slot was never used.
    sl_net_conn nobody = {cfg.max_connections + 5, 0};
    sl_net_conn unused = {3, 0};
    static const char x[] = "x";
    sl_net_seg seg = {x, 1, nullptr, nullptr};
    uint8_t dst[4];
    for (sl_net_conn c : {nobody, unused}) {
        EXPECT_EQ(sl_net_send(s.drv, c, &seg, 1), -EBADF);
        EXPECT_EQ(sl_net_send_space(s.drv, c), -EBADF);
        EXPECT_EQ(sl_net_recv_exact(s.drv, c, dst, 4), -EBADF);
        EXPECT_EQ(sl_net_close(s.drv, c), -EBADF);
    }

    // recv_exact with no length on a live connection.
    sl_net_conn conn{};
    bool accepted = false;
    s.on_accept = [&](sl_net_conn c, uint32_t) {
        conn = c;
        accepted = true;
        EXPECT_EQ(sl_net_recv_exact(s.drv, c, dst, 0), -EINVAL);
    };
    int fd = sl_test::peer_connect(port);
    ASSERT_GE(fd, 0);
    EXPECT_TRUE(s.poll_until([&] { return accepted; }));
    close(fd);
    EXPECT_TRUE(s.poll_until([&] { return s.closes == 1; }));
    EXPECT_EQ(sl_net_recv_exact(s.drv, conn, dst, 4), -EBADF);
}

// ---------------------------------------------------------------------------------
// A watched fd (the storage engine's io_uring in a shard) ends the idle wait when it
// becomes readable, again and again; without it the wait runs to its timeout.

TEST_P(NetDriver, WatchedFdEndsTheWait)
{
    Shard s;
    ASSERT_EQ(s.create(ops(), small_config()), 0);
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ASSERT_GE(efd, 0);
    auto timed_wait_ms = [&](uint32_t timeout_us) {
        auto t0 = std::chrono::steady_clock::now();
        sl_net_wait(s.drv, timeout_us);
        (void)sl_net_poll(s.drv, 64);
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
            .count();
    };
    // Not watched: a readable fd does not matter, the wait lasts its timeout.
    uint64_t one = 1;
    ASSERT_EQ(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
    EXPECT_GE(timed_wait_ms(50000), 45.0);
    uint64_t drained = 0;
    ASSERT_EQ(read(efd, &drained, sizeof(drained)), (ssize_t)sizeof(drained));

    ASSERT_EQ(sl_net_watch_fd(s.drv, efd), 0);
    EXPECT_EQ(sl_net_watch_fd(s.drv, -7), -EINVAL);
    for (int round = 0; round < 3; round++) {
        // Nothing readable: the full timeout.
        EXPECT_GE(timed_wait_ms(30000), 25.0) << "round " << round;
        // Readable from another thread while waiting: woken long before the timeout.
        std::thread writer([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            EXPECT_EQ(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
        });
        double waited = timed_wait_ms(5000000);
        writer.join();
        EXPECT_LT(waited, 2000.0) << "round " << round << ": the watched fd did not wake the wait";
        ASSERT_EQ(read(efd, &drained, sizeof(drained)), (ssize_t)sizeof(drained));
    }
    // Unwatched again: back to the timeout.
    ASSERT_EQ(sl_net_watch_fd(s.drv, -1), 0);
    ASSERT_EQ(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
    EXPECT_GE(timed_wait_ms(50000), 45.0);
    // Watched at destroy: the pending poll is removed (the Shard's destructor must not hang).
    ASSERT_EQ(read(efd, &drained, sizeof(drained)), (ssize_t)sizeof(drained));
    ASSERT_EQ(sl_net_watch_fd(s.drv, efd), 0);
    timed_wait_ms(1000);
    sl_net_destroy(s.drv);
    s.drv = nullptr;
    close(efd);
}

const sl_net_driver_ops *const kDrivers[] = {&sl_net_uring_ops};

INSTANTIATE_TEST_SUITE_P(Drivers, NetDriver, ::testing::ValuesIn(kDrivers),
                         [](const ::testing::TestParamInfo<const sl_net_driver_ops *> &info) {
                             return std::string(info.param->name);
                         });

} // namespace
