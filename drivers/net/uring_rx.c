/* Receiving in the io_uring driver: the provided-buffer pool, multishot recv, the
 * receive-exactly-N path and receive backpressure.
 *
 * All connections of an instance share one buffer ring (group SL_URING_BUF_GROUP). A
 * multishot recv per connection picks buffers from it; each filled buffer is lent to the
 * dataplane (on_recv) until sl_net_rx_release(). Receiving stops for a connection
 * (its recv is cancelled, or not re-armed) when it holds rx_bufs_per_conn_max buffers
 * or when the pool ran dry (-ENOBUFS); such connections sit on the paused stack and
 * are re-armed from sl_net_poll() once they may receive again.
 *
 * recv_exact ordering: at most one recv runs per connection, so bytes can never
 * overtake each other. recv_exact cancels the multishot recv; completions that were
 * already on their way are copied into the exact buffer (in CQE order, which is stream
 * order); once the multishot recv has ended, a plain recv (MSG_WAITALL) fills the rest
 * in place. Bytes after the exact range go back to on_recv. The first multishot recv
 * after a recv_exact is capped at one buffer (a head probe), so that a following large
 * frame's body is not pulled into pool buffers before the dataplane asks for it.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/sl_assert.h"
#include "drivers/net/uring_internal.h"

int sl_uring_rx_pool_init(struct sl_uring_driver *d)
{
    const struct sl_net_config *cfg = &d->cfg;
    int rc;
    d->buf_ring_bytes = (size_t)cfg->rx_buf_count * sizeof(struct io_uring_buf);
    d->rx_mem_bytes = (size_t)cfg->rx_buf_count * cfg->rx_buf_size_bytes;
    /* The ring must be page-aligned; mmap also gives page-aligned buffers. */
    void *ring_mem =
        mmap(NULL, d->buf_ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring_mem == MAP_FAILED)
        return -ENOMEM;
    d->buf_ring = ring_mem;
    void *bufs =
        mmap(NULL, d->rx_mem_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (bufs == MAP_FAILED) {
        rc = -ENOMEM;
        goto err_ring;
    }
    d->rx_mem = bufs;
    d->rx_owner_slot = calloc(cfg->rx_buf_count, sizeof(*d->rx_owner_slot));
    d->rx_owner_gen = calloc(cfg->rx_buf_count, sizeof(*d->rx_owner_gen));
    d->rx_lent = calloc(cfg->rx_buf_count, sizeof(*d->rx_lent));
    if (!d->rx_owner_slot || !d->rx_owner_gen || !d->rx_lent) {
        rc = -ENOMEM;
        goto err_tables;
    }

    io_uring_buf_ring_init(d->buf_ring);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)d->buf_ring;
    reg.ring_entries = cfg->rx_buf_count;
    reg.bgid = SL_URING_BUF_GROUP;
    rc = io_uring_register_buf_ring(&d->ring, &reg, 0);
    if (rc != 0)
        goto err_tables;
    int mask = io_uring_buf_ring_mask(cfg->rx_buf_count);
    for (uint32_t i = 0; i < cfg->rx_buf_count; i++)
        io_uring_buf_ring_add(d->buf_ring, d->rx_mem + (size_t)i * cfg->rx_buf_size_bytes,
                              cfg->rx_buf_size_bytes, (unsigned short)i, mask, (int)i);
    io_uring_buf_ring_advance(d->buf_ring, (int)cfg->rx_buf_count);
    return 0;

err_tables:
    free(d->rx_owner_slot);
    free(d->rx_owner_gen);
    free(d->rx_lent);
    munmap(d->rx_mem, d->rx_mem_bytes);
err_ring:
    munmap(d->buf_ring, d->buf_ring_bytes);
    return rc;
}

void sl_uring_rx_pool_fini(struct sl_uring_driver *d)
{
    (void)io_uring_unregister_buf_ring(&d->ring, SL_URING_BUF_GROUP);
    free(d->rx_owner_slot);
    free(d->rx_owner_gen);
    free(d->rx_lent);
    munmap(d->rx_mem, d->rx_mem_bytes);
    munmap(d->buf_ring, d->buf_ring_bytes);
}

static void buf_recycle(struct sl_uring_driver *d, uint32_t bid)
{
    SL_ASSERT(bid < d->cfg.rx_buf_count);
    SL_ASSERT(!d->rx_lent[bid]);
    io_uring_buf_ring_add(d->buf_ring, d->rx_mem + (size_t)bid * d->cfg.rx_buf_size_bytes,
                          d->cfg.rx_buf_size_bytes, (unsigned short)bid,
                          io_uring_buf_ring_mask(d->cfg.rx_buf_count), 0);
    io_uring_buf_ring_advance(d->buf_ring, 1);
}

bool sl_uring_rx_probe_cap(struct sl_uring_driver *d)
{
    /* Arm a multishot recv capped at 1 byte on a socketpair and send it 2 bytes: a kernel
     * with the cap ends the multishot recv after that first completion; an older one
     * rejects the SQE (-EINVAL). */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return false;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
    SL_ASSERT(sqe != NULL);
    io_uring_prep_recv_multishot(sqe, sv[0], NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = SL_URING_BUF_GROUP;
    sqe->file_index = 1;
    io_uring_sqe_set_data64(sqe, 0);
    bool capped = false;
    if (io_uring_submit(&d->ring) == 1 && write(sv[1], "xy", 2) == 2) {
        for (int i = 0; i < 4; i++) {
            struct io_uring_cqe *cqe;
            struct __kernel_timespec ts = {.tv_sec = 1, .tv_nsec = 0};
            if (io_uring_wait_cqe_timeout(&d->ring, &cqe, &ts) != 0)
                break;
            int res = cqe->res;
            uint32_t flags = cqe->flags;
            io_uring_cqe_seen(&d->ring, cqe);
            if (flags & IORING_CQE_F_BUFFER)
                buf_recycle(d, flags >> IORING_CQE_BUFFER_SHIFT);
            /* One recv may overshoot the cap (it takes what one buffer holds); what
             * matters is that the multishot recv ends once the cap is reached. */
            if (i == 0)
                capped = res > 0 && !(flags & IORING_CQE_F_MORE);
            if (!(flags & IORING_CQE_F_MORE))
                break;
            /* Cap ignored: end the recv with end-of-stream and drain it. */
            (void)shutdown(sv[0], SHUT_RDWR);
        }
    }
    close(sv[0]);
    close(sv[1]);
    return capped;
}

static bool may_receive(const struct sl_uring_driver *d, const struct sl_uring_conn *c)
{
    return c->state == SL_URING_CONN_OPEN && !c->recv_armed && !c->exact_active &&
           c->rx_held < d->cfg.rx_bufs_per_conn_max && d->rx_lent_count < d->cfg.rx_buf_count;
}

static void pause_conn(struct sl_uring_driver *d, struct sl_uring_conn *c)
{
    if (c->rx_paused)
        return;
    SL_ASSERT(d->paused_count < d->cfg.max_connections);
    d->paused[d->paused_count++] = (uint32_t)(c - d->conns);
    c->rx_paused = true;
}

static void arm_multishot(struct sl_uring_driver *d, struct sl_uring_conn *c)
{
    SL_ASSERT(!c->recv_armed && !c->exact_op_inflight);
    c->recv_seq++;
    struct io_uring_sqe *sqe =
        sl_uring_sqe(d, sl_uring_ud(SL_URING_OP_RECV, (uint32_t)(c - d->conns), c->recv_seq));
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = SL_URING_BUF_GROUP;
    c->recv_probe = false;
    if (d->recv_cap_supported) {
        /* Newer kernels end a multishot recv after this many bytes (the field is named
         * optlen in their uapi header, file_index in liburing 2.3's). Full buffers then
         * stop exactly at the per-connection bound instead of racing a cancel. */
        SL_ASSERT(c->rx_held < d->cfg.rx_bufs_per_conn_max);
        sqe->file_index = (d->cfg.rx_bufs_per_conn_max - c->rx_held) * d->cfg.rx_buf_size_bytes;
        if (c->rx_probe_next) {
            /* After a large frame the next one is likely large too, and its bytes are
             * already queued in the socket: an uncapped recv would pull up to the whole
             * per-connection bound into pool buffers, to be copied into the recv_exact
             * buffer afterwards. One buffer shows the next frame's head; the body then
             * arrives in place. */
            sqe->file_index = d->cfg.rx_buf_size_bytes;
            c->recv_probe = true;
            d->counters.rx_head_probes++;
        }
    }
    c->rx_probe_next = false;
    c->recv_armed = true;
    c->recv_cancel_sent = false;
    c->ops_inflight++;
}

static void submit_exact(struct sl_uring_driver *d, struct sl_uring_conn *c)
{
    SL_ASSERT(c->exact_active && !c->exact_op_inflight && !c->recv_armed);
    SL_ASSERT(c->exact_done_bytes < c->exact_len_bytes);
    struct io_uring_sqe *sqe =
        sl_uring_sqe(d, sl_uring_ud(SL_URING_OP_RECV_EXACT, (uint32_t)(c - d->conns), 0));
    io_uring_prep_recv(sqe, c->fd, c->exact_dst + c->exact_done_bytes,
                       c->exact_len_bytes - c->exact_done_bytes, MSG_WAITALL);
    c->exact_op_inflight = true;
    c->ops_inflight++;
}

static void cancel_multishot(struct sl_uring_driver *d, struct sl_uring_conn *c)
{
    if (!c->recv_armed || c->recv_cancel_sent)
        return;
    uint32_t slot = (uint32_t)(c - d->conns);
    struct io_uring_sqe *sqe = sl_uring_sqe(d, sl_uring_ud(SL_URING_OP_CANCEL, slot, 0));
    io_uring_prep_cancel64(sqe, sl_uring_ud(SL_URING_OP_RECV, slot, c->recv_seq), 0);
    c->recv_cancel_sent = true;
    c->ops_inflight++;
}

/* Decides what receives next on c after its previous receive ended. */
static void rx_continue(struct sl_uring_driver *d, struct sl_uring_conn *c)
{
    if (c->state != SL_URING_CONN_OPEN || c->recv_armed || c->exact_op_inflight)
        return;
    if (c->exact_active) {
        submit_exact(d, c);
        return;
    }
    if (may_receive(d, c)) {
        arm_multishot(d, c);
        return;
    }
    if (c->rx_held >= d->cfg.rx_bufs_per_conn_max)
        d->counters.rx_backpressure_pauses++;
    else
        d->counters.rx_buf_exhausted++;
    pause_conn(d, c);
}

void sl_uring_rx_start(struct sl_uring_driver *d, struct sl_uring_conn *c)
{
    rx_continue(d, c);
}

/* Finishes a recv_exact whose buffer is full, then lets the dataplane react. */
static void exact_complete(struct sl_uring_driver *d, struct sl_uring_conn *c)
{
    SL_ASSERT(c->exact_done_bytes == c->exact_len_bytes);
    void *dst = c->exact_dst;
    uint32_t len = c->exact_len_bytes;
    c->exact_active = false;
    c->exact_dst = NULL;
    c->rx_probe_next = true;
    if (d->cb.on_recv_exact_done != NULL)
        d->cb.on_recv_exact_done(d->cb.ctx, sl_uring_handle(d, c), dst, len);
}

/* Hands the first len bytes of pool buffer bid to c: into a pending exact buffer first,
 * the rest to on_recv. */
static void deliver(struct sl_uring_driver *d, struct sl_uring_conn *c, uint32_t bid, uint32_t len)
{
    const uint8_t *data = d->rx_mem + (size_t)bid * d->cfg.rx_buf_size_bytes;
    while (len > 0 && c->exact_active && c->state == SL_URING_CONN_OPEN) {
        uint32_t n = SL_MIN(len, c->exact_len_bytes - c->exact_done_bytes);
        memcpy(c->exact_dst + c->exact_done_bytes, data, n);
        c->exact_done_bytes += n;
        d->counters.rx_exact_copied_bytes += n;
        data += n;
        len -= n;
        if (c->exact_done_bytes == c->exact_len_bytes)
            exact_complete(d, c); /* may start the next recv_exact */
    }
    if (len == 0 || c->state != SL_URING_CONN_OPEN) {
        buf_recycle(d, bid);
        return;
    }
    d->rx_lent[bid] = 1;
    d->rx_owner_slot[bid] = (uint32_t)(c - d->conns);
    d->rx_owner_gen[bid] = c->gen;
    d->rx_lent_count++;
    c->rx_held++;
    d->counters.rx_bufs_delivered++;
    struct sl_net_rxbuf rb = {.data = data, .len_bytes = len, .buf_id = bid};
    d->cb.on_recv(d->cb.ctx, sl_uring_handle(d, c), &rb);
    if (c->state == SL_URING_CONN_OPEN && c->rx_held >= d->cfg.rx_bufs_per_conn_max &&
        c->recv_armed && !c->recv_cancel_sent)
        cancel_multishot(d, c); /* counted when the recv ends and c pauses */
}

void sl_uring_rx_on_recv(struct sl_uring_driver *d, struct sl_uring_conn *c, int res,
                         uint32_t flags)
{
    if (flags & IORING_CQE_F_BUFFER) {
        uint32_t bid = flags >> IORING_CQE_BUFFER_SHIFT;
        if (res > 0 && c->state == SL_URING_CONN_OPEN) {
            SL_ASSERT((uint32_t)res <= d->cfg.rx_buf_size_bytes);
            d->counters.rx_bytes += (uint32_t)res;
            deliver(d, c, bid, (uint32_t)res);
        } else {
            buf_recycle(d, bid);
        }
    }
    if (flags & IORING_CQE_F_MORE)
        return;

    SL_ASSERT(c->recv_armed && c->ops_inflight > 0);
    c->recv_armed = false;
    c->recv_cancel_sent = false;
    c->ops_inflight--;
    if (c->state == SL_URING_CONN_CLOSING) {
        sl_uring_conn_maybe_finish(d, c);
        return;
    }
    if (res == 0) {
        sl_uring_conn_begin_close(d, c, SL_NET_CLOSE_PEER, 0);
        return;
    }
    if (res == -EINVAL && d->recv_cap_supported) {
        /* The kernel predates the multishot byte cap: fall back to cancel-only bounds. */
        d->recv_cap_supported = false;
        rx_continue(d, c);
        return;
    }
    if (res < 0 && res != -ENOBUFS && res != -ECANCELED) {
        d->counters.errors_recv++;
        sl_uring_conn_begin_close(d, c, SL_NET_CLOSE_ERROR, res);
        return;
    }
    if (res == -ENOBUFS && !c->exact_active) {
        /* Re-arming now could spin against buffers still sitting in the CQ; the next
         * poll re-arms once the pool has room. */
        d->counters.rx_buf_exhausted++;
        pause_conn(d, c);
        return;
    }
    rx_continue(d, c);
}

void sl_uring_rx_on_exact(struct sl_uring_driver *d, struct sl_uring_conn *c, int res)
{
    SL_ASSERT(c->exact_op_inflight && c->ops_inflight > 0);
    c->exact_op_inflight = false;
    c->ops_inflight--;
    if (c->state == SL_URING_CONN_CLOSING) {
        sl_uring_conn_maybe_finish(d, c);
        return;
    }
    if (res == 0) {
        sl_uring_conn_begin_close(d, c, SL_NET_CLOSE_PEER, 0);
        return;
    }
    if (res < 0) {
        d->counters.errors_recv++;
        sl_uring_conn_begin_close(d, c, SL_NET_CLOSE_ERROR, res);
        return;
    }
    SL_ASSERT(c->exact_active);
    SL_ASSERT((uint32_t)res <= c->exact_len_bytes - c->exact_done_bytes);
    c->exact_done_bytes += (uint32_t)res;
    d->counters.rx_bytes += (uint32_t)res;
    d->counters.rx_exact_bytes += (uint32_t)res;
    if (c->exact_done_bytes == c->exact_len_bytes)
        exact_complete(d, c);
    rx_continue(d, c);
}

void sl_uring_rx_resume_paused(struct sl_uring_driver *d)
{
    uint32_t i = 0;
    while (i < d->paused_count) {
        struct sl_uring_conn *c = &d->conns[d->paused[i]];
        SL_ASSERT(c->rx_paused);
        bool drop = c->state != SL_URING_CONN_OPEN || c->recv_armed || c->exact_active ||
                    c->exact_op_inflight;
        if (!drop && !may_receive(d, c)) {
            i++;
            continue;
        }
        d->paused[i] = d->paused[--d->paused_count];
        c->rx_paused = false;
        if (!drop)
            arm_multishot(d, c);
    }
}

int sl_uring_recv_exact(struct sl_net_driver *drv, struct sl_net_conn conn, void *dst,
                        uint32_t len_bytes)
{
    struct sl_uring_driver *d = (struct sl_uring_driver *)drv;
    struct sl_uring_conn *c = sl_uring_conn_lookup(d, conn);
    if (c == NULL)
        return -EBADF;
    if (c->state != SL_URING_CONN_OPEN)
        return -ENOTCONN;
    if (len_bytes == 0 || dst == NULL)
        return -EINVAL;
    if (c->exact_active)
        return -EBUSY;
    c->exact_active = true;
    c->exact_dst = dst;
    c->exact_len_bytes = len_bytes;
    c->exact_done_bytes = 0;
    /* A probe ends by itself after one buffer (two if the first came short): no cancel. */
    if (c->recv_armed) {
        if (!c->recv_probe)
            cancel_multishot(d, c); /* the rest follows when the multishot recv ends */
    } else if (!c->exact_op_inflight) {
        submit_exact(d, c);
    }
    return 0;
}

void sl_uring_rx_release(struct sl_net_driver *drv, uint32_t buf_id)
{
    struct sl_uring_driver *d = (struct sl_uring_driver *)drv;
    SL_ASSERT(buf_id < d->cfg.rx_buf_count);
    SL_ASSERT(d->rx_lent[buf_id]); /* released twice, or never lent */
    d->rx_lent[buf_id] = 0;
    SL_ASSERT(d->rx_lent_count > 0);
    d->rx_lent_count--;
    uint32_t slot = d->rx_owner_slot[buf_id];
    struct sl_uring_conn *c = &d->conns[slot];
    if (c->state != SL_URING_CONN_FREE && c->gen == d->rx_owner_gen[buf_id]) {
        SL_ASSERT(c->rx_held > 0);
        c->rx_held--;
    }
    buf_recycle(d, buf_id);
}
