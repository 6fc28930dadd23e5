/* Connection slots and their life cycle in the io_uring driver: listen and multishot
 * accept, outbound connect, and the close sequence.
 *
 * Close, in order: stop new work (state CLOSING), shutdown() the socket and cancel every
 * operation on its fd; wait until each submitted operation has completed; close the fd
 * (with a zero linger, i.e. a reset, when data is still queued, which also makes the
 * kernel drop its references to zero-copy pages); wait for the zero-copy notifications;
 * release every queued segment exactly once; free the slot; on_close. Nothing is freed
 * or handed back while the kernel might still read or write it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "common/sl_assert.h"
#include "drivers/net/uring_internal.h"

struct sl_uring_conn *sl_uring_conn_lookup(struct sl_uring_driver *d, struct sl_net_conn h)
{
    if (h.slot >= d->cfg.max_connections)
        return NULL;
    struct sl_uring_conn *c = &d->conns[h.slot];
    if (c->state == SL_URING_CONN_FREE || c->gen != h.gen)
        return NULL;
    return c;
}

static struct sl_uring_conn *conn_alloc(struct sl_uring_driver *d, int fd,
                                        enum sl_uring_conn_state state)
{
    if (d->free_count == 0)
        return NULL;
    uint32_t slot = d->free_slots[--d->free_count];
    struct sl_uring_conn *c = &d->conns[slot];
    SL_ASSERT(c->state == SL_URING_CONN_FREE);
    SL_ASSERT(c->ops_inflight == 0 && c->zc_notifs_pending == 0);
    uint32_t gen = c->gen;
    struct sl_uring_seg *segs = c->segs;
    struct iovec *iov = c->iov;
    memset(c, 0, sizeof(*c));
    c->gen = gen;
    c->segs = segs;
    c->iov = iov;
    c->fd = fd;
    c->state = state;
    return c;
}

static void conn_free(struct sl_uring_driver *d, struct sl_uring_conn *c)
{
    SL_ASSERT(c->state != SL_URING_CONN_FREE);
    SL_ASSERT(c->ops_inflight == 0 && c->zc_notifs_pending == 0 && c->fd < 0);
    SL_ASSERT(c->seg_release == c->seg_tail);
    SL_ASSERT(!c->rx_paused);
    c->state = SL_URING_CONN_FREE;
    c->gen++;
    SL_ASSERT(d->free_count < d->cfg.max_connections);
    d->free_slots[d->free_count++] = (uint32_t)(c - d->conns);
}

static void set_nodelay(int fd)
{
    /* Kafka responses are written whole; Nagle would only delay the last segment. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void submit_cancel_fd(struct sl_uring_driver *d, int fd, uint32_t slot)
{
    struct io_uring_sqe *sqe = sl_uring_sqe(d, sl_uring_ud(SL_URING_OP_CANCEL, slot, 0));
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
}

void sl_uring_conn_begin_close(struct sl_uring_driver *d, struct sl_uring_conn *c,
                               enum sl_net_close_reason reason, int err)
{
    if (c->state == SL_URING_CONN_CLOSING)
        return;
    SL_ASSERT(c->state == SL_URING_CONN_OPEN || c->state == SL_URING_CONN_CONNECTING);
    SL_ASSERT(c->fd >= 0);
    c->state = SL_URING_CONN_CLOSING;
    c->close_reason = reason;
    c->close_err = err;
    /* shutdown wakes a pending recv (end of stream) even if the cancel races it. */
    (void)shutdown(c->fd, SHUT_RDWR);
    /* The cancel's own completion drives the rest (sl_uring_conn_on_cancel), so on_close
     * never runs inside the sl_net_close() call that started it. */
    submit_cancel_fd(d, c->fd, (uint32_t)(c - d->conns));
    c->ops_inflight++;
}

static void close_fd(struct sl_uring_conn *c)
{
    bool unsent = c->seg_send != c->seg_tail;
    if (unsent || c->zc_notifs_pending > 0) {
        /* Reset instead of lingering: the queued bytes will never be wanted, and the
         * kernel frees (and notifies) zero-copy pages only once the data is gone. */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        (void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    (void)close(c->fd);
    c->fd = -1;
}

void sl_uring_conn_maybe_finish(struct sl_uring_driver *d, struct sl_uring_conn *c)
{
    SL_ASSERT(c->state == SL_URING_CONN_CLOSING);
    if (c->ops_inflight > 0)
        return;
    if (c->fd >= 0)
        close_fd(c);
    if (c->zc_notifs_pending > 0)
        return;

    struct sl_net_conn h = sl_uring_handle(d, c);
    int status = c->close_err != 0 ? c->close_err : -ECANCELED;
    sl_uring_tx_release_all(d, c, status);
    c->exact_active = false;
    c->exact_dst = NULL;
    enum sl_net_close_reason reason = c->close_reason;
    int err = c->close_err;
    /* A paused connection leaves the paused stack lazily; unlink it now. */
    if (c->rx_paused) {
        for (uint32_t i = 0; i < d->paused_count; i++) {
            if (d->paused[i] == h.slot) {
                d->paused[i] = d->paused[--d->paused_count];
                break;
            }
        }
        c->rx_paused = false;
    }
    conn_free(d, c);
    d->counters.closes++;
    if (reason == SL_NET_CLOSE_PEER)
        d->counters.closes_peer++;
    else if (reason == SL_NET_CLOSE_ERROR)
        d->counters.closes_error++;
    d->cb.on_close(d->cb.ctx, h, reason, err);
}

void sl_uring_conn_on_cancel(struct sl_uring_driver *d, uint32_t slot)
{
    if (slot == SL_URING_SLOT_NONE)
        return; /* a listener's cancel: its accept completion does the work */
    SL_ASSERT(slot < d->cfg.max_connections);
    struct sl_uring_conn *c = &d->conns[slot];
    SL_ASSERT(c->state != SL_URING_CONN_FREE);
    SL_ASSERT(c->ops_inflight > 0);
    c->ops_inflight--;
    /* Cancels of a recv (recv_exact, backpressure) need nothing more: the cancelled
     * recv's own completion continues the receive. */
    if (c->state == SL_URING_CONN_CLOSING)
        sl_uring_conn_maybe_finish(d, c);
}

int sl_uring_close(struct sl_net_driver *drv, struct sl_net_conn conn)
{
    struct sl_uring_driver *d = (struct sl_uring_driver *)drv;
    struct sl_uring_conn *c = sl_uring_conn_lookup(d, conn);
    if (c == NULL)
        return -EBADF;
    if (c->state == SL_URING_CONN_CLOSING)
        return -EALREADY;
    sl_uring_conn_begin_close(d, c, SL_NET_CLOSE_LOCAL, 0);
    return 0;
}

/* ---- outbound connections ---- */

int sl_uring_connect(struct sl_net_driver *drv, const struct sockaddr *addr, socklen_t addr_len,
                     struct sl_net_conn *conn_out)
{
    struct sl_uring_driver *d = (struct sl_uring_driver *)drv;
    SL_ASSERT(addr != NULL && conn_out != NULL);
    if (addr_len > sizeof(struct sockaddr_storage) || d->destroying)
        return -EINVAL;
    if (d->free_count == 0)
        return -ENOSPC;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sl_uring_conn *c = conn_alloc(d, fd, SL_URING_CONN_CONNECTING);
    SL_ASSERT(c != NULL);
    set_nodelay(fd);
    /* The kernel reads the address asynchronously: keep a copy in the slot. */
    memcpy(&c->connect_addr, addr, addr_len);
    c->connect_addr_len = addr_len;
    struct io_uring_sqe *sqe =
        sl_uring_sqe(d, sl_uring_ud(SL_URING_OP_CONNECT, (uint32_t)(c - d->conns), 0));
    io_uring_prep_connect(sqe, fd, (struct sockaddr *)&c->connect_addr, c->connect_addr_len);
    c->ops_inflight++;
    *conn_out = sl_uring_handle(d, c);
    return 0;
}

void sl_uring_conn_on_connect(struct sl_uring_driver *d, struct sl_uring_conn *c, int res)
{
    SL_ASSERT(c->ops_inflight > 0);
    c->ops_inflight--;
    if (c->state == SL_URING_CONN_CLOSING) {
        sl_uring_conn_maybe_finish(d, c);
        return;
    }
    SL_ASSERT(c->state == SL_URING_CONN_CONNECTING);
    struct sl_net_conn h = sl_uring_handle(d, c);
    if (res < 0) {
        d->counters.connect_errors++;
        c->state = SL_URING_CONN_CLOSING; /* refuses sends from release callbacks */
        (void)close(c->fd);
        c->fd = -1;
        sl_uring_tx_release_all(d, c, res);
        conn_free(d, c);
        if (d->cb.on_connect_done != NULL)
            d->cb.on_connect_done(d->cb.ctx, h, res);
        return;
    }
    d->counters.connects++;
    c->state = SL_URING_CONN_OPEN;
    sl_uring_rx_start(d, c);
    sl_uring_tx_flush(d, c);
    if (d->cb.on_connect_done != NULL)
        d->cb.on_connect_done(d->cb.ctx, h, 0);
}

/* ---- listeners ---- */

static int make_listen_socket(const struct sockaddr *addr, socklen_t addr_len, uint32_t backlog,
                              uint16_t *port_out)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    int rc = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, addr, addr_len) != 0 || listen(fd, (int)backlog) != 0) {
        rc = -errno;
        goto err_close;
    }
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) != 0) {
        rc = -errno;
        goto err_close;
    }
    if (bound.ss_family == AF_INET)
        *port_out = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    else
        *port_out = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    return fd;

err_close:
    close(fd);
    return rc;
}

static void listener_arm(struct sl_uring_driver *d, uint32_t index)
{
    struct sl_uring_listener *l = &d->listeners[index];
    SL_ASSERT(l->active && !l->armed && !l->closing);
    struct io_uring_sqe *sqe = sl_uring_sqe(d, sl_uring_ud(SL_URING_OP_ACCEPT, index, 0));
    io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
    l->armed = true;
    l->needs_rearm = false;
}

int sl_uring_listen(struct sl_net_driver *drv, const struct sockaddr *addr, socklen_t addr_len,
                    uint32_t *listener_id_out, uint16_t *port_out)
{
    struct sl_uring_driver *d = (struct sl_uring_driver *)drv;
    SL_ASSERT(addr != NULL && listener_id_out != NULL);
    if (d->destroying)
        return -EINVAL;
    uint32_t index = 0;
    while (index < SL_URING_LISTENERS_MAX && d->listeners[index].active)
        index++;
    if (index == SL_URING_LISTENERS_MAX)
        return -ENOSPC;
    uint16_t port = 0;
    int fd = make_listen_socket(addr, addr_len, d->cfg.listen_backlog, &port);
    if (fd < 0)
        return fd;
    struct sl_uring_listener *l = &d->listeners[index];
    memset(l, 0, sizeof(*l));
    l->fd = fd;
    l->port = port;
    l->active = true;
    listener_arm(d, index);
    *listener_id_out = index;
    if (port_out != NULL)
        *port_out = port;
    return 0;
}

static void accept_conn(struct sl_uring_driver *d, uint32_t index, int fd)
{
    struct sl_uring_conn *c = conn_alloc(d, fd, SL_URING_CONN_OPEN);
    if (c == NULL) {
        /* Table full: refuse by closing; the client sees a reset and retries. */
        d->counters.accepts_rejected_full++;
        (void)close(fd);
        return;
    }
    d->counters.accepts++;
    set_nodelay(fd);
    sl_uring_rx_start(d, c);
    d->cb.on_accept(d->cb.ctx, sl_uring_handle(d, c), index);
}

void sl_uring_listener_on_accept(struct sl_uring_driver *d, uint32_t index, int res, uint32_t flags)
{
    SL_ASSERT(index < SL_URING_LISTENERS_MAX);
    struct sl_uring_listener *l = &d->listeners[index];
    SL_ASSERT(l->active && l->armed);
    if (res >= 0) {
        if (l->closing || d->destroying)
            (void)close(res);
        else
            accept_conn(d, index, res);
    } else if (res != -ECANCELED) {
        d->counters.errors_accept++;
    }
    if (flags & IORING_CQE_F_MORE)
        return;
    l->armed = false;
    if (l->closing) {
        (void)close(l->fd);
        l->fd = -1;
        l->active = false;
        return;
    }
    /* Re-arm from the next poll, so a persistent error (EMFILE) cannot spin here. */
    l->needs_rearm = true;
}

void sl_uring_listeners_rearm(struct sl_uring_driver *d)
{
    for (uint32_t i = 0; i < SL_URING_LISTENERS_MAX; i++) {
        struct sl_uring_listener *l = &d->listeners[i];
        if (l->active && l->needs_rearm && !l->armed && !l->closing)
            listener_arm(d, i);
    }
}

static void listener_close(struct sl_uring_driver *d, struct sl_uring_listener *l)
{
    SL_ASSERT(l->active && !l->closing);
    l->closing = true;
    if (!l->armed) {
        (void)close(l->fd);
        l->fd = -1;
        l->active = false;
        return;
    }
    /* The accept's final completion closes the fd: the kernel may still use it. */
    submit_cancel_fd(d, l->fd, SL_URING_SLOT_NONE);
}

int sl_uring_listen_close(struct sl_net_driver *drv, uint32_t listener_id)
{
    struct sl_uring_driver *d = (struct sl_uring_driver *)drv;
    if (listener_id >= SL_URING_LISTENERS_MAX)
        return -EBADF;
    struct sl_uring_listener *l = &d->listeners[listener_id];
    if (!l->active || l->closing)
        return -EBADF;
    listener_close(d, l);
    return 0;
}

void sl_uring_listeners_close_all(struct sl_uring_driver *d)
{
    for (uint32_t i = 0; i < SL_URING_LISTENERS_MAX; i++) {
        struct sl_uring_listener *l = &d->listeners[i];
        if (l->active && !l->closing)
            listener_close(d, l);
    }
}
