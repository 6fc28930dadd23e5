/* Private state of the io_uring driver, shared by its source files:
 * uring_driver.c (instance, poll loop, completion dispatch), uring_conn.c (connection
 * slots, listen/accept, connect, close), uring_rx.c (buffer ring, multishot and exact
 * receive), uring_tx.c (send queue, plain and zero-copy send).
 *
 * Every submission carries user_data = kind << 56 | slot << 32 | arg, so a completion
 * finds its connection without any lookup table. A slot is not reused until every
 * operation on it has completed (ops_inflight == 0 and zc_notifs_pending == 0), which is
 * what makes the slot in user_data safe to trust.
 */
#ifndef SL_NET_URING_INTERNAL_H
#define SL_NET_URING_INTERNAL_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/sl_compiler.h"
#include "drivers/net/net_driver.h"

#define SL_URING_LISTENERS_MAX 8
#define SL_URING_SLOT_NONE     0xffffffu
#define SL_URING_BUF_GROUP     0

/* Kernel ABI since 6.2; liburing 2.3's header predates it. */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

enum sl_uring_op_kind {
    SL_URING_OP_ACCEPT = 1, /* slot = listener index */
    SL_URING_OP_RECV,       /* multishot recv, arg = recv_seq */
    SL_URING_OP_RECV_EXACT, /* plain recv into the caller's buffer */
    SL_URING_OP_SEND,       /* sendmsg over gathered segments */
    SL_URING_OP_SEND_ZC,    /* arg = queue sequence number of the segment */
    SL_URING_OP_CONNECT,
    SL_URING_OP_CANCEL, /* slot = SL_URING_SLOT_NONE for listener cancels */
    SL_URING_OP_WATCH,  /* one-shot poll of the watched fd (sl_net_watch_fd) */
};

static inline uint64_t sl_uring_ud(enum sl_uring_op_kind kind, uint32_t slot, uint32_t arg)
{
    return (uint64_t)kind << 56 | (uint64_t)(slot & 0xffffffu) << 32 | arg;
}

enum sl_uring_conn_state {
    SL_URING_CONN_FREE = 0,
    SL_URING_CONN_CONNECTING,
    SL_URING_CONN_OPEN,
    SL_URING_CONN_CLOSING,
};

/* One queued segment. Queue positions are free-running 32-bit sequence numbers; the
 * ring index is seq % send_segs_per_conn_max. */
struct sl_uring_seg {
    const uint8_t *ptr;
    sl_net_release_fn release;
    void *cookie;
    uint32_t len_bytes;
    uint32_t sent_bytes;
    uint32_t notifs_pending; /* zero-copy notifications the kernel still owes */
    int32_t region;          /* registered buffer index, or -1: send by copy */
};

struct sl_uring_conn {
    int fd;
    uint32_t gen;
    enum sl_uring_conn_state state;
    enum sl_net_close_reason close_reason;
    int close_err;
    uint32_t ops_inflight;      /* submitted ops whose (first) completion is pending */
    uint32_t zc_notifs_pending; /* zero-copy notifications still owed on this conn */

    /* receive */
    bool recv_armed;
    bool recv_cancel_sent;
    bool recv_probe;    /* the armed multishot recv is capped at one buffer */
    bool rx_probe_next; /* arm the next one that way (a recv_exact just finished) */
    bool rx_paused;     /* on the driver's paused stack */
    uint32_t recv_seq;
    uint32_t rx_held; /* pool buffers lent to the dataplane */
    bool exact_active;
    bool exact_op_inflight;
    uint8_t *exact_dst;
    uint32_t exact_len_bytes;
    uint32_t exact_done_bytes;

    /* send: [seg_release, seg_send) sent, awaiting release; [seg_send, seg_tail) unsent */
    bool send_op_inflight;
    uint32_t seg_release;
    uint32_t seg_send;
    uint32_t seg_tail;
    struct sl_uring_seg *segs;
    struct iovec *iov;
    struct msghdr msg;

    struct sockaddr_storage connect_addr;
    socklen_t connect_addr_len;
};

struct sl_uring_listener {
    int fd;
    uint16_t port;
    bool active;
    bool armed;
    bool needs_rearm;
    bool closing;
};

struct sl_uring_driver {
    struct sl_net_driver base;
    struct sl_net_config cfg;
    struct sl_net_callbacks cb;
    struct io_uring ring;
    bool zc_enabled;
    bool recv_cap_supported; /* multishot recv takes a byte cap (sqe optlen, Linux 6.1x) */
    bool destroying;
    int watch_fd;                /* -1: none */
    bool watch_armed;            /* its poll is in flight */
    uint64_t ops_inflight_total; /* submissions whose final completion is pending */

    struct sl_uring_conn *conns;
    uint32_t *free_slots;
    uint32_t free_count;
    struct sl_uring_seg *segs_all;
    struct iovec *iov_all;

    /* receive pool */
    struct io_uring_buf_ring *buf_ring;
    size_t buf_ring_bytes;
    uint8_t *rx_mem;
    size_t rx_mem_bytes;
    uint32_t *rx_owner_slot;
    uint32_t *rx_owner_gen;
    uint8_t *rx_lent;
    uint32_t rx_lent_count;
    uint32_t *paused;
    uint32_t paused_count;

    /* zero-copy transmit regions (io_uring fixed buffers, registered sparse) */
    struct iovec *regions;
    uint32_t region_count;

    struct sl_uring_listener listeners[SL_URING_LISTENERS_MAX];

    struct sl_net_counters counters SL_CACHE_ALIGNED;
};

static inline struct sl_net_conn sl_uring_handle(const struct sl_uring_driver *d,
                                                 const struct sl_uring_conn *c)
{
    struct sl_net_conn h = {(uint32_t)(c - d->conns), c->gen};
    return h;
}

/* uring_driver.c */
struct io_uring_sqe *sl_uring_sqe(struct sl_uring_driver *d, uint64_t user_data);

/* uring_conn.c */
struct sl_uring_conn *sl_uring_conn_lookup(struct sl_uring_driver *d, struct sl_net_conn h);
void sl_uring_conn_begin_close(struct sl_uring_driver *d, struct sl_uring_conn *c,
                               enum sl_net_close_reason reason, int err);
void sl_uring_conn_maybe_finish(struct sl_uring_driver *d, struct sl_uring_conn *c);
void sl_uring_conn_on_connect(struct sl_uring_driver *d, struct sl_uring_conn *c, int res);
void sl_uring_conn_on_cancel(struct sl_uring_driver *d, uint32_t slot);
void sl_uring_listener_on_accept(struct sl_uring_driver *d, uint32_t index, int res,
                                 uint32_t flags);
void sl_uring_listeners_rearm(struct sl_uring_driver *d);
void sl_uring_listeners_close_all(struct sl_uring_driver *d);
int sl_uring_listen_close(struct sl_net_driver *drv, uint32_t listener_id);
int sl_uring_listen(struct sl_net_driver *drv, const struct sockaddr *addr, socklen_t addr_len,
                    uint32_t *listener_id_out, uint16_t *port_out);
int sl_uring_connect(struct sl_net_driver *drv, const struct sockaddr *addr, socklen_t addr_len,
                     struct sl_net_conn *conn_out);
int sl_uring_close(struct sl_net_driver *drv, struct sl_net_conn conn);

/* uring_rx.c */
int sl_uring_rx_pool_init(struct sl_uring_driver *d);
void sl_uring_rx_pool_fini(struct sl_uring_driver *d);
bool sl_uring_rx_probe_cap(struct sl_uring_driver *d);
void sl_uring_rx_start(struct sl_uring_driver *d, struct sl_uring_conn *c);
void sl_uring_rx_on_recv(struct sl_uring_driver *d, struct sl_uring_conn *c, int res,
                         uint32_t flags);
void sl_uring_rx_on_exact(struct sl_uring_driver *d, struct sl_uring_conn *c, int res);
void sl_uring_rx_resume_paused(struct sl_uring_driver *d);
int sl_uring_recv_exact(struct sl_net_driver *drv, struct sl_net_conn conn, void *dst,
                        uint32_t len_bytes);
void sl_uring_rx_release(struct sl_net_driver *drv, uint32_t buf_id);

/* uring_tx.c */
void sl_uring_tx_flush(struct sl_uring_driver *d, struct sl_uring_conn *c);
void sl_uring_tx_on_send(struct sl_uring_driver *d, struct sl_uring_conn *c, int res);
void sl_uring_tx_on_send_zc(struct sl_uring_driver *d, struct sl_uring_conn *c, uint32_t seq,
                            int res, uint32_t flags);
void sl_uring_tx_release_all(struct sl_uring_driver *d, struct sl_uring_conn *c, int status);
int sl_uring_send(struct sl_net_driver *drv, struct sl_net_conn conn, const struct sl_net_seg *segs,
                  uint32_t seg_count);
int sl_uring_send_space(struct sl_net_driver *drv, struct sl_net_conn conn);
int sl_uring_mem_register(struct sl_net_driver *drv, void *base, size_t len_bytes);

#endif
