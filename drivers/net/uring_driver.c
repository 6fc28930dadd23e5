/* The io_uring driver instance: setup, teardown, the poll loop and completion dispatch.
 * Connection, receive and send logic live in uring_conn.c, uring_rx.c and uring_tx.c. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/sl_assert.h"
#include "common/sl_kernel_version.h"
#include "drivers/net/uring_driver.h"
#include "drivers/net/uring_internal.h"

/* destroy() waits for the kernel to finish every operation; cancels plus a reset make
 * that quick, so this bound only catches a kernel bug instead of hanging forever. */
#define SL_URING_DESTROY_WAIT_MS 30000

struct io_uring_sqe *sl_uring_sqe(struct sl_uring_driver *d, uint64_t user_data)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
    if (sqe == NULL) {
        /* The SQ is full: hand what is there to the kernel and take a fresh entry. */
        int rc = io_uring_submit(&d->ring);
        SL_ASSERT(rc >= 0);
        sqe = io_uring_get_sqe(&d->ring);
    }
    SL_ASSERT(sqe != NULL);
    io_uring_sqe_set_data64(sqe, user_data);
    d->ops_inflight_total++;
    return sqe;
}

static void dispatch(struct sl_uring_driver *d, uint64_t ud, int res, uint32_t flags)
{
    enum sl_uring_op_kind kind = (enum sl_uring_op_kind)(ud >> 56);
    uint32_t slot = (uint32_t)(ud >> 32) & 0xffffffu;
    uint32_t arg = (uint32_t)ud;

    if (ud == 0)
        return; /* a late completion of the create-time probe */
    if (!(flags & IORING_CQE_F_MORE)) {
        SL_ASSERT(d->ops_inflight_total > 0);
        d->ops_inflight_total--;
    }
    if (kind == SL_URING_OP_ACCEPT) {
        sl_uring_listener_on_accept(d, slot, res, flags);
        return;
    }
    if (kind == SL_URING_OP_CANCEL) {
        sl_uring_conn_on_cancel(d, slot);
        return;
    }
    if (kind == SL_URING_OP_WATCH) {
        d->watch_armed = false; /* fired (or removed): the next wait arms it again */
        return;
    }
    SL_ASSERT(slot < d->cfg.max_connections);
    struct sl_uring_conn *c = &d->conns[slot];
    SL_ASSERT(c->state != SL_URING_CONN_FREE);
    switch (kind) {
    case SL_URING_OP_RECV:
        sl_uring_rx_on_recv(d, c, res, flags);
        break;
    case SL_URING_OP_RECV_EXACT:
        sl_uring_rx_on_exact(d, c, res);
        break;
    case SL_URING_OP_SEND:
        sl_uring_tx_on_send(d, c, res);
        break;
    case SL_URING_OP_SEND_ZC:
        sl_uring_tx_on_send_zc(d, c, arg, res, flags);
        break;
    case SL_URING_OP_CONNECT:
        sl_uring_conn_on_connect(d, c, res);
        break;
    default:
        SL_ASSERT(!"unknown io_uring op kind");
    }
}

static int reap(struct sl_uring_driver *d, uint32_t budget)
{
    uint32_t handled = 0;
    while (handled < budget) {
        struct io_uring_cqe *cqe;
        if (io_uring_peek_cqe(&d->ring, &cqe) != 0)
            break;
        /* Copy and retire the CQE first: callbacks may submit and reap re-entrantly. */
        uint64_t ud = cqe->user_data;
        int res = cqe->res;
        uint32_t flags = cqe->flags;
        io_uring_cqe_seen(&d->ring, cqe);
        dispatch(d, ud, res, flags);
        handled++;
    }
    return (int)handled;
}

static int submit(struct sl_uring_driver *d)
{
    int rc = io_uring_submit(&d->ring);
    /* EBUSY/EAGAIN: the CQ is backed up or memory is short; reaping fixes both. */
    if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR)
        return rc;
    return 0;
}

static int sl_uring_poll(struct sl_net_driver *drv, uint32_t budget)
{
    struct sl_uring_driver *d = (struct sl_uring_driver *)drv;
    sl_uring_listeners_rearm(d);
    sl_uring_rx_resume_paused(d);
    int rc = submit(d);
    if (rc < 0)
        return rc;
    int handled = reap(d, budget);
    if (handled > 0) {
        /* Send work queued by the callbacks now rather than on the next pass. */
        rc = submit(d);
        if (rc < 0)
            return rc;
    }
    return handled;
}

static int sl_uring_wait(struct sl_net_driver *drv, uint32_t timeout_us)
{
    struct sl_uring_driver *d = (struct sl_uring_driver *)drv;
    struct __kernel_timespec ts = {
        .tv_sec = timeout_us / 1000000,
        .tv_nsec = (long long)(timeout_us % 1000000) * 1000,
    };
    if (d->watch_fd >= 0 && !d->watch_armed && !d->destroying) {
        struct io_uring_sqe *sqe = sl_uring_sqe(d, sl_uring_ud(SL_URING_OP_WATCH, 0, 0));
        io_uring_prep_poll_add(sqe, d->watch_fd, POLLIN);
        d->watch_armed = true;
    }
    struct io_uring_cqe *cqe;
    int rc = io_uring_submit_and_wait_timeout(&d->ring, &cqe, 1, &ts, NULL);
    if (rc == -ETIME || rc == -EINTR)
        return -ETIME;
    return rc < 0 ? rc : 0;
}

/* Removes the armed poll (its completion comes back as SL_URING_OP_WATCH). */
static void watch_disarm(struct sl_uring_driver *d)
{
    if (!d->watch_armed)
        return;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
    if (sqe == NULL) {
        (void)io_uring_submit(&d->ring);
        sqe = io_uring_get_sqe(&d->ring);
    }
    SL_ASSERT(sqe != NULL);
    /* user_data 0: the removal's own completion is ignored like the create probe's. */
    io_uring_prep_poll_remove(sqe, sl_uring_ud(SL_URING_OP_WATCH, 0, 0));
    io_uring_sqe_set_data64(sqe, 0);
    (void)io_uring_submit(&d->ring);
}

static int sl_uring_watch_fd(struct sl_net_driver *drv, int fd)
{
    struct sl_uring_driver *d = (struct sl_uring_driver *)drv;
    if (fd < -1)
        return -EINVAL;
    if (fd != d->watch_fd)
        watch_disarm(d);
    d->watch_fd = fd;
    return 0;
}

static const struct sl_net_counters *sl_uring_counters(const struct sl_net_driver *drv)
{
    const struct sl_uring_driver *d = (const struct sl_uring_driver *)drv;
    return &d->counters;
}

static void sl_uring_info(const struct sl_net_driver *drv, struct sl_net_info *out)
{
    const struct sl_uring_driver *d = (const struct sl_uring_driver *)drv;
    out->driver_name = sl_net_uring_ops.name;
    out->send_zc = d->zc_enabled;
    out->recv_multishot = true;
    out->rx_bound_exact = d->recv_cap_supported;
}

static int ring_init(struct sl_uring_driver *d)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    /* Multishot recv and accept post many CQEs per SQE: give the CQ room. TASKRUN_FLAG
     * lets a pure poll loop (no waits) see pending task work and enter the kernel only
     * then, instead of relying on a later syscall or tick to run it. */
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
              IORING_SETUP_TASKRUN_FLAG;
    p.cq_entries = d->cfg.queue_depth * 4;
    int rc = io_uring_queue_init_params(d->cfg.queue_depth, &d->ring, &p);
    if (rc == -EINVAL) {
        memset(&p, 0, sizeof(p));
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = d->cfg.queue_depth * 4;
        rc = io_uring_queue_init_params(d->cfg.queue_depth, &d->ring, &p);
    }
    return rc;
}

static bool probe_send_zc(struct sl_uring_driver *d)
{
    if (d->cfg.zc_disable || !sl_kernel_at_least(6, 2))
        return false;
    struct io_uring_probe *probe = io_uring_get_probe_ring(&d->ring);
    if (probe == NULL)
        return false;
    bool ok = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
    io_uring_free_probe(probe);
    return ok;
}

static int alloc_tables(struct sl_uring_driver *d)
{
    const struct sl_net_config *cfg = &d->cfg;
    d->conns = calloc(cfg->max_connections, sizeof(*d->conns));
    d->free_slots = calloc(cfg->max_connections, sizeof(*d->free_slots));
    d->paused = calloc(cfg->max_connections, sizeof(*d->paused));
    d->segs_all =
        calloc((size_t)cfg->max_connections * cfg->send_segs_per_conn_max, sizeof(*d->segs_all));
    d->iov_all = calloc((size_t)cfg->max_connections * cfg->send_iov_max, sizeof(*d->iov_all));
    d->regions = calloc(cfg->mem_regions_max ? cfg->mem_regions_max : 1, sizeof(*d->regions));
    if (!d->conns || !d->free_slots || !d->paused || !d->segs_all || !d->iov_all || !d->regions)
        return -ENOMEM;
    for (uint32_t i = 0; i < cfg->max_connections; i++) {
        struct sl_uring_conn *c = &d->conns[i];
        c->fd = -1;
        c->segs = &d->segs_all[(size_t)i * cfg->send_segs_per_conn_max];
        c->iov = &d->iov_all[(size_t)i * cfg->send_iov_max];
        /* Slots are handed out lowest first. */
        d->free_slots[cfg->max_connections - 1 - i] = i;
    }
    d->free_count = cfg->max_connections;
    for (uint32_t i = 0; i < SL_URING_LISTENERS_MAX; i++)
        d->listeners[i].fd = -1;
    return 0;
}

static void free_tables(struct sl_uring_driver *d)
{
    free(d->conns);
    free(d->free_slots);
    free(d->paused);
    free(d->segs_all);
    free(d->iov_all);
    free(d->regions);
}

static int sl_uring_create(const struct sl_net_config *cfg, const struct sl_net_callbacks *cb,
                           struct sl_net_driver **out)
{
    SL_ASSERT(cfg != NULL && cb != NULL && out != NULL);
    SL_ASSERT(cb->on_accept != NULL && cb->on_recv != NULL && cb->on_close != NULL);
    int rc = sl_net_config_check(cfg);
    if (rc != 0)
        return rc;
    if (!sl_kernel_at_least(6, 0))
        return -EOPNOTSUPP;

    struct sl_uring_driver *d =
        aligned_alloc(SL_CACHELINE_BYTES, SL_ALIGN_UP(sizeof(*d), (size_t)SL_CACHELINE_BYTES));
    if (d == NULL)
        return -ENOMEM;
    memset(d, 0, sizeof(*d));
    d->base.ops = &sl_net_uring_ops;
    d->cfg = *cfg;
    d->cb = *cb;
    d->watch_fd = -1;

    rc = alloc_tables(d);
    if (rc != 0)
        goto err_tables;
    rc = ring_init(d);
    if (rc != 0)
        goto err_tables;
    rc = sl_uring_rx_pool_init(d);
    if (rc != 0)
        goto err_ring;
    if (cfg->mem_regions_max > 0) {
        rc = io_uring_register_buffers_sparse(&d->ring, cfg->mem_regions_max);
        if (rc != 0)
            goto err_rx;
    }
    d->zc_enabled = probe_send_zc(d);
    d->recv_cap_supported = sl_uring_rx_probe_cap(d);
    *out = &d->base;
    return 0;

err_rx:
    sl_uring_rx_pool_fini(d);
err_ring:
    io_uring_queue_exit(&d->ring);
err_tables:
    free_tables(d);
    free(d);
    return rc;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool all_idle(const struct sl_uring_driver *d)
{
    if (d->ops_inflight_total > 0)
        return false;
    return d->free_count == d->cfg.max_connections;
}

static void sl_uring_destroy(struct sl_net_driver *drv)
{
    struct sl_uring_driver *d = (struct sl_uring_driver *)drv;
    d->destroying = true;
    watch_disarm(d);
    sl_uring_listeners_close_all(d);
    for (uint32_t i = 0; i < d->cfg.max_connections; i++) {
        struct sl_uring_conn *c = &d->conns[i];
        if (c->state != SL_URING_CONN_FREE && c->state != SL_URING_CONN_CLOSING)
            sl_uring_conn_begin_close(d, c, SL_NET_CLOSE_SHUTDOWN, 0);
    }
    /* Never free memory the kernel may still write: wait for every completion. */
    uint64_t deadline_ms = now_ms() + SL_URING_DESTROY_WAIT_MS;
    while (!all_idle(d)) {
        SL_ASSERT(now_ms() < deadline_ms);
        (void)sl_uring_wait(drv, 100000);
        (void)reap(d, UINT32_MAX);
    }
    sl_uring_rx_pool_fini(d);
    if (d->cfg.mem_regions_max > 0)
        (void)io_uring_unregister_buffers(&d->ring);
    io_uring_queue_exit(&d->ring);
    free_tables(d);
    free(d);
}

const struct sl_net_driver_ops sl_net_uring_ops = {
    .name = "uring",
    .create = sl_uring_create,
    .destroy = sl_uring_destroy,
    .listen = sl_uring_listen,
    .listen_close = sl_uring_listen_close,
    .connect = sl_uring_connect,
    .send = sl_uring_send,
    .send_space = sl_uring_send_space,
    .recv_exact = sl_uring_recv_exact,
    .rx_release = sl_uring_rx_release,
    .close = sl_uring_close,
    .poll = sl_uring_poll,
    .wait = sl_uring_wait,
    .watch_fd = sl_uring_watch_fd,
    .mem_register = sl_uring_mem_register,
    .counters = sl_uring_counters,
    .info = sl_uring_info,
};
