/* The network driver interface: the seam between the dataplane and a network stack.
 *
 * The dataplane sees connections (struct sl_net_conn handles) and buffers, never file
 * descriptors, sockets or mbufs. A driver fills a table of operations
 * (struct sl_net_driver_ops, in the spirit of canonical raft's raft_io); the kernel
 * io_uring driver (uring_driver.h) is the default, a DPDK driver can fill the same table.
 * Both must pass tests/dataplane/test_net_driver.cc.
 *
 * Threads: one driver instance per shard. Every call on an instance, and every callback
 * it makes, happens on the thread that created it (the shard thread). Nothing here locks.
 * Callbacks run only inside sl_net_poll() (and sl_net_destroy()); they may call back into
 * the same instance (send, close, recv_exact, rx_release) but must not destroy it.
 *
 * Ownership and ordering rules are spelled out per function below and in docs/drivers.md.
 * Errors are negative errno values; 0 (or a count) means success.
 */
#ifndef SL_NET_DRIVER_H
#define SL_NET_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A connection handle. slot < config.max_connections, so the dataplane can index its own
 * per-connection table with it; gen changes every time a slot is reused, so a handle kept
 * after on_close is detected (-EBADF) instead of hitting a new connection. */
struct sl_net_conn {
    uint32_t slot;
    uint32_t gen;
};

/* A receive buffer lent to the dataplane by on_recv. The bytes at data[0..len_bytes) are
 * the next bytes of the connection's stream. The dataplane owns the buffer until it calls
 * sl_net_rx_release(buf_id), which it may do at any later time (also after on_close). */
struct sl_net_rxbuf {
    const uint8_t *data;
    uint32_t len_bytes;
    uint32_t buf_id;
};

/* Called exactly once per sent segment, when the driver (and the kernel or NIC) no
 * longer reads the segment's memory. status is 0 when every byte was handed to the
 * network, or a negative errno when the connection closed first (some or all bytes were
 * not sent). Runs on the shard thread, inside sl_net_poll() or sl_net_destroy(). */
typedef void (*sl_net_release_fn)(void *cookie, int status);

/* One piece of a response: len_bytes > 0 bytes at ptr, owned by the caller until
 * release(cookie, status) runs. release may be NULL when the caller keeps the memory
 * alive by other means (then it must stay valid until the connection's on_close). */
struct sl_net_seg {
    const void *ptr;
    uint32_t len_bytes;
    sl_net_release_fn release;
    void *cookie;
};

/* Why a connection closed (on_close). err carries the negative errno for ERROR. */
enum sl_net_close_reason {
    SL_NET_CLOSE_LOCAL = 0,    /* the dataplane called sl_net_close() */
    SL_NET_CLOSE_PEER = 1,     /* the peer closed its side (end of stream) */
    SL_NET_CLOSE_ERROR = 2,    /* a receive or send failed (reset, broken pipe, ...) */
    SL_NET_CLOSE_SHUTDOWN = 3, /* the driver instance is being destroyed */
};

/* Callbacks from the driver to the dataplane. ctx is passed back unchanged. All run on the
 * shard thread inside sl_net_poll(); none may be NULL except on_connect_done and
 * on_recv_exact_done when the dataplane never uses connect or recv_exact. */
struct sl_net_callbacks {
    void *ctx;
    /* A listener accepted conn; listener_id is what sl_net_listen() returned. Receiving
     * starts right away: on_recv may follow in the same poll. */
    void (*on_accept)(void *ctx, struct sl_net_conn conn, uint32_t listener_id);
    /* An outbound connection finished. err == 0: conn is open. err < 0: conn is already
     * gone (no on_close follows) and the handle is stale. Not called after sl_net_close()
     * on a connecting handle (on_close is called instead). */
    void (*on_connect_done)(void *ctx, struct sl_net_conn conn, int err);
    /* The next bytes of conn's stream, lent until sl_net_rx_release(buf->buf_id). */
    void (*on_recv)(void *ctx, struct sl_net_conn conn, const struct sl_net_rxbuf *buf);
    /* The buffer given to sl_net_recv_exact() is full. Not called if the connection
     * closes first (on_close is called instead; the buffer is no longer written). */
    void (*on_recv_exact_done)(void *ctx, struct sl_net_conn conn, void *dst, uint32_t len_bytes);
    /* conn is gone: every queued segment has been released, the kernel holds nothing of
     * it. The handle is stale from here on. err is a negative errno for ERROR, else 0. */
    void (*on_close)(void *ctx, struct sl_net_conn conn, enum sl_net_close_reason reason, int err);
};

/* Bounds and knobs of one driver instance. Every pool and queue is sized from here at
 * sl_net_create() time; nothing grows afterwards. */
struct sl_net_config {
    uint32_t max_connections;        /* accepted + outbound connections at once */
    uint32_t queue_depth;            /* submission queue entries (io_uring SQ size) */
    uint32_t rx_buf_count;           /* receive buffers in the shared pool, power of two */
    uint32_t rx_buf_size_bytes;      /* bytes per receive buffer */
    uint32_t rx_bufs_per_conn_max;   /* lent buffers per connection before recv pauses */
    uint32_t send_segs_per_conn_max; /* queued + in-flight segments per connection */
    uint32_t send_iov_max;           /* segments gathered into one plain send operation */
    uint32_t zc_threshold_bytes;     /* segments this large in registered memory go ZC */
    uint32_t mem_regions_max;        /* regions sl_net_mem_register() accepts */
    uint32_t listen_backlog;
    bool zc_disable; /* never use zero-copy send (for comparison, tests) */
};

/* Fills cfg with defaults suitable for a broker shard. Any thread. */
void sl_net_config_default(struct sl_net_config *cfg);

/* Checks cfg for values a driver cannot work with. Returns 0 or -EINVAL. Any thread. */
int sl_net_config_check(const struct sl_net_config *cfg);

/* Counters of one instance, written only by its shard thread. A reader on another thread
 * gets a possibly torn but monotonic-per-field view (stats socket). */
struct sl_net_counters {
    uint64_t accepts;
    uint64_t accepts_rejected_full; /* accepted then closed: connection table full */
    uint64_t connects;
    uint64_t connect_errors;
    uint64_t closes;
    uint64_t closes_peer;
    uint64_t closes_error;
    uint64_t rx_bytes;
    uint64_t rx_bufs_delivered;
    uint64_t rx_exact_bytes;         /* bytes received straight into recv_exact buffers */
    uint64_t rx_exact_copied_bytes;  /* bytes copied into recv_exact buffers from the pool */
    uint64_t rx_head_probes;         /* multishot recvs capped at one buffer after a recv_exact */
    uint64_t rx_buf_exhausted;       /* receive paused: the shared pool was empty */
    uint64_t rx_backpressure_pauses; /* receive paused: the connection held its bound */
    uint64_t tx_bytes;
    uint64_t tx_sends_plain;  /* copying send operations submitted */
    uint64_t tx_sends_zc;     /* zero-copy send operations submitted */
    uint64_t tx_zc_fallbacks; /* large segments sent by copy (not registered / no ZC) */
    uint64_t tx_zc_copied;    /* zero-copy sends the kernel completed by copying */
    uint64_t tx_queue_full;   /* sl_net_send() refused with -ENOBUFS */
    uint64_t errors_accept;
    uint64_t errors_recv;
    uint64_t errors_send;
};

/* What an instance can do, reported after creation. */
struct sl_net_info {
    const char *driver_name;
    bool send_zc; /* zero-copy send is in use (supported by the kernel and not disabled) */
    bool recv_multishot;
    /* Receiving stops by itself at rx_bufs_per_conn_max full buffers. When false the
     * driver stops it by cancellation, and a connection may briefly get more. */
    bool rx_bound_exact;
};

struct sl_net_driver;

/* The operations table a driver fills. The dataplane calls them through the sl_net_*
 * wrappers below; see there for the contract of each. */
struct sl_net_driver_ops {
    const char *name;
    int (*create)(const struct sl_net_config *cfg, const struct sl_net_callbacks *cb,
                  struct sl_net_driver **out);
    void (*destroy)(struct sl_net_driver *drv);
    int (*listen)(struct sl_net_driver *drv, const struct sockaddr *addr, socklen_t addr_len,
                  uint32_t *listener_id_out, uint16_t *port_out);
    int (*listen_close)(struct sl_net_driver *drv, uint32_t listener_id);
    int (*connect)(struct sl_net_driver *drv, const struct sockaddr *addr, socklen_t addr_len,
                   struct sl_net_conn *conn_out);
    int (*send)(struct sl_net_driver *drv, struct sl_net_conn conn, const struct sl_net_seg *segs,
                uint32_t seg_count);
    int (*send_space)(struct sl_net_driver *drv, struct sl_net_conn conn);
    int (*recv_exact)(struct sl_net_driver *drv, struct sl_net_conn conn, void *dst,
                      uint32_t len_bytes);
    void (*rx_release)(struct sl_net_driver *drv, uint32_t buf_id);
    int (*close)(struct sl_net_driver *drv, struct sl_net_conn conn);
    int (*poll)(struct sl_net_driver *drv, uint32_t budget);
    int (*wait)(struct sl_net_driver *drv, uint32_t timeout_us);
    int (*watch_fd)(struct sl_net_driver *drv, int fd);
    int (*mem_register)(struct sl_net_driver *drv, void *base, size_t len_bytes);
    const struct sl_net_counters *(*counters)(const struct sl_net_driver *drv);
    void (*info)(const struct sl_net_driver *drv, struct sl_net_info *out);
};

/* Every driver instance starts with this header, so the wrappers can dispatch. */
struct sl_net_driver {
    const struct sl_net_driver_ops *ops;
};

/* Creates an instance of the driver `ops` with bounds from cfg (copied) and callbacks cb
 * (copied). Call on the shard thread that will use it. Returns 0 and *out, or -EINVAL
 * (bad config), -ENOMEM, or the driver's setup error (e.g. io_uring_queue_init's). */
static inline int sl_net_create(const struct sl_net_driver_ops *ops,
                                const struct sl_net_config *cfg, const struct sl_net_callbacks *cb,
                                struct sl_net_driver **out)
{
    return ops->create(cfg, cb, out);
}

/* Closes every listener and connection, waits (blocking, bounded by the kernel) until
 * no operation is in flight, releases all queued segments (status -ECANCELED), calls
 * on_close(SHUTDOWN) for each open connection, and frees the instance. Receive buffers
 * still lent to the dataplane become invalid: release or forget them before. */
static inline void sl_net_destroy(struct sl_net_driver *drv)
{
    drv->ops->destroy(drv);
}

/* Listens on addr (IPv4 or IPv6; port 0 picks a free one) with SO_REUSEPORT, so one
 * listener per shard on the same port splits incoming connections. Accepted
 * connections arrive through on_accept with *listener_id_out. Writes the bound port to
 * *port_out (may be NULL). Returns 0 or -errno (-ENOSPC: listener table full). */
static inline int sl_net_listen(struct sl_net_driver *drv, const struct sockaddr *addr,
                                socklen_t addr_len, uint32_t *listener_id_out, uint16_t *port_out)
{
    return drv->ops->listen(drv, addr, addr_len, listener_id_out, port_out);
}

/* Stops accepting on listener_id: no on_accept for it after this call returns;
 * connections it accepted before stay open. The socket closes from a later poll, and
 * the id may then be returned by sl_net_listen() again. Returns 0 or -EBADF. */
static inline int sl_net_listen_close(struct sl_net_driver *drv, uint32_t listener_id)
{
    return drv->ops->listen_close(drv, listener_id);
}

/* Starts an outbound connection to addr (copied). *conn_out is valid at once (send may
 * queue on it; bytes go out after it connects); on_connect_done reports the result.
 * Returns 0, -ENOSPC (connection table full) or -errno from socket creation. */
static inline int sl_net_connect(struct sl_net_driver *drv, const struct sockaddr *addr,
                                 socklen_t addr_len, struct sl_net_conn *conn_out)
{
    return drv->ops->connect(drv, addr, addr_len, conn_out);
}

/* Queues seg_count segments, all or none, to be sent after everything queued before on
 * conn, in order. On 0 the driver owns the segments until it calls each release exactly
 * once (in queue order). Errors leave ownership with the caller and call no release:
 * -ENOBUFS (more than config.send_segs_per_conn_max queued: backpressure, retry after
 * releases), -EBADF (stale handle), -ENOTCONN (connection closing). */
static inline int sl_net_send(struct sl_net_driver *drv, struct sl_net_conn conn,
                              const struct sl_net_seg *segs, uint32_t seg_count)
{
    return drv->ops->send(drv, conn, segs, seg_count);
}

/* How many more segments sl_net_send() accepts on conn now, or -EBADF / -ENOTCONN. */
static inline int sl_net_send_space(struct sl_net_driver *drv, struct sl_net_conn conn)
{
    return drv->ops->send_space(drv, conn);
}

/* Receives exactly the next len_bytes of conn's stream into dst (caller-owned, must stay
 * valid until on_recv_exact_done or on_close). "Next" means: after every byte already
 * delivered through on_recv, including the buffer of an on_recv that is running now.
 * While it is pending, on_recv is not called for conn; bytes that were already on their
 * way into pool buffers are copied into dst by the driver (counted), the rest lands in dst
 * directly. Bytes beyond len_bytes come through on_recv after on_recv_exact_done.
 * Returns 0, -EBUSY (one already pending), -EBADF, -ENOTCONN; -EINVAL if len_bytes == 0. */
static inline int sl_net_recv_exact(struct sl_net_driver *drv, struct sl_net_conn conn, void *dst,
                                    uint32_t len_bytes)
{
    return drv->ops->recv_exact(drv, conn, dst, len_bytes);
}

/* Gives a buffer lent by on_recv back to the pool. Exactly once per delivered buffer,
 * also after the connection closed. Receiving resumes on a connection that paused for
 * backpressure once it holds fewer than config.rx_bufs_per_conn_max buffers. */
static inline void sl_net_rx_release(struct sl_net_driver *drv, uint32_t buf_id)
{
    drv->ops->rx_release(drv, buf_id);
}

/* Closes conn: stops receiving, cancels in-flight operations, drops unsent data (the
 * peer sees a reset if data was still queued), releases every queued segment, then calls
 * on_close(LOCAL) from a later sl_net_poll(). Returns 0, -EBADF (stale), or -EALREADY
 * (closing already; on_close still comes exactly once). */
static inline int sl_net_close(struct sl_net_driver *drv, struct sl_net_conn conn)
{
    return drv->ops->close(drv, conn);
}

/* Submits queued work and handles up to budget completions without blocking, calling
 * the callbacks. Returns the number of completions handled (0 = idle) or -errno. */
static inline int sl_net_poll(struct sl_net_driver *drv, uint32_t budget)
{
    return drv->ops->poll(drv, budget);
}

/* Idle path: submits queued work and sleeps until a completion is ready or timeout_us
 * passes. Calls no callback (follow with sl_net_poll). Returns 0 or -ETIME. */
static inline int sl_net_wait(struct sl_net_driver *drv, uint32_t timeout_us)
{
    return drv->ops->wait(drv, timeout_us);
}

/* Makes fd becoming readable end sl_net_wait early, so a shard that also waits for other
 * completions (the storage engine's io_uring, whose fd polls readable while it has
 * completions) sleeps in one place without a short timeout. One fd per instance; a new
 * call replaces it, -1 stops watching. fd must stay open until replaced or the instance
 * is destroyed. Returns 0 or -EINVAL (a driver that busy-polls may ignore it: 0). */
static inline int sl_net_watch_fd(struct sl_net_driver *drv, int fd)
{
    return drv->ops->watch_fd(drv, fd);
}

/* Registers [base, base + len_bytes) for zero-copy transmit (io_uring fixed buffers,
 * DPDK external memory). Segments at least config.zc_threshold_bytes long lying inside a
 * registered region are sent without copying. The memory must stay mapped until the
 * instance is destroyed. Returns 0, -ENOSPC (mem_regions_max reached) or -errno. */
static inline int sl_net_mem_register(struct sl_net_driver *drv, void *base, size_t len_bytes)
{
    return drv->ops->mem_register(drv, base, len_bytes);
}

/* The instance's counters (owned by the instance, valid until destroy). */
static inline const struct sl_net_counters *sl_net_counters_get(const struct sl_net_driver *drv)
{
    return drv->ops->counters(drv);
}

/* Fills *out with what the instance supports. */
static inline void sl_net_info_get(const struct sl_net_driver *drv, struct sl_net_info *out)
{
    drv->ops->info(drv, out);
}

#ifdef __cplusplus
}
#endif

#endif
