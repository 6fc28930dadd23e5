/* Sending in the io_uring driver: the bounded per-connection segment queue, plain
 * (copying) sendmsg and zero-copy SEND_ZC from registered memory.
 *
 * One send operation is in flight per connection at a time, so bytes leave in queue
 * order; a short send resumes where it stopped. A zero-copy send completes twice: the
 * result (the bytes are queued in the socket; the next send may start) and later the
 * notification (the kernel no longer reads the pages). Segments are released in queue
 * order once fully sent and, for zero-copy ones, notified.
 */
#include <errno.h>
#include <string.h>

#include "common/sl_assert.h"
#include "drivers/net/uring_internal.h"

static struct sl_uring_seg *seg_at(const struct sl_uring_driver *d, const struct sl_uring_conn *c,
                                   uint32_t seq)
{
    return &c->segs[seq % d->cfg.send_segs_per_conn_max];
}

static int32_t find_region(const struct sl_uring_driver *d, const void *ptr, uint32_t len)
{
    uintptr_t start = (uintptr_t)ptr;
    for (uint32_t i = 0; i < d->region_count; i++) {
        uintptr_t base = (uintptr_t)d->regions[i].iov_base;
        if (start >= base && start + len <= base + d->regions[i].iov_len)
            return (int32_t)i;
    }
    return -1;
}

static void submit_zc(struct sl_uring_driver *d, struct sl_uring_conn *c)
{
    struct sl_uring_seg *s = seg_at(d, c, c->seg_send);
    struct io_uring_sqe *sqe =
        sl_uring_sqe(d, sl_uring_ud(SL_URING_OP_SEND_ZC, (uint32_t)(c - d->conns), c->seg_send));
    io_uring_prep_send_zc_fixed(sqe, c->fd, s->ptr + s->sent_bytes, s->len_bytes - s->sent_bytes,
                                MSG_NOSIGNAL | MSG_WAITALL, IORING_SEND_ZC_REPORT_USAGE,
                                (unsigned)s->region);
    d->counters.tx_sends_zc++;
}

static void submit_plain(struct sl_uring_driver *d, struct sl_uring_conn *c)
{
    uint32_t n = 0;
    for (uint32_t seq = c->seg_send; seq != c->seg_tail && n < d->cfg.send_iov_max; seq++) {
        struct sl_uring_seg *s = seg_at(d, c, seq);
        if (s->region >= 0)
            break; /* a zero-copy segment goes in its own operation */
        c->iov[n].iov_base = (void *)(s->ptr + s->sent_bytes);
        c->iov[n].iov_len = s->len_bytes - s->sent_bytes;
        n++;
    }
    SL_ASSERT(n > 0);
    memset(&c->msg, 0, sizeof(c->msg));
    c->msg.msg_iov = c->iov;
    c->msg.msg_iovlen = n;
    struct io_uring_sqe *sqe =
        sl_uring_sqe(d, sl_uring_ud(SL_URING_OP_SEND, (uint32_t)(c - d->conns), 0));
    io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL | MSG_WAITALL);
    d->counters.tx_sends_plain++;
}

void sl_uring_tx_flush(struct sl_uring_driver *d, struct sl_uring_conn *c)
{
    if (c->send_op_inflight || c->state != SL_URING_CONN_OPEN || c->seg_send == c->seg_tail)
        return;
    if (seg_at(d, c, c->seg_send)->region >= 0)
        submit_zc(d, c);
    else
        submit_plain(d, c);
    c->send_op_inflight = true;
    c->ops_inflight++;
}

static void release_seg(struct sl_uring_seg *s, int status)
{
    if (s->release != NULL)
        s->release(s->cookie, status);
}

/* Releases the sent prefix of the queue whose zero-copy notifications have arrived. */
static void release_done(struct sl_uring_driver *d, struct sl_uring_conn *c)
{
    while (c->seg_release != c->seg_send) {
        struct sl_uring_seg *s = seg_at(d, c, c->seg_release);
        if (s->notifs_pending > 0)
            break;
        c->seg_release++;
        release_seg(s, 0);
    }
}

void sl_uring_tx_release_all(struct sl_uring_driver *d, struct sl_uring_conn *c, int status)
{
    SL_ASSERT(c->zc_notifs_pending == 0);
    /* Sequence numbers wrap: count, never compare them. */
    uint32_t sent_count = c->seg_send - c->seg_release;
    uint32_t queued_count = c->seg_tail - c->seg_release;
    SL_ASSERT(c->state == SL_URING_CONN_CLOSING); /* so releases cannot queue more */
    c->seg_send = c->seg_tail;
    for (uint32_t i = 0; i < queued_count; i++) {
        struct sl_uring_seg *s = seg_at(d, c, c->seg_release);
        SL_ASSERT(s->notifs_pending == 0);
        c->seg_release++;
        release_seg(s, i < sent_count ? 0 : status);
    }
    SL_ASSERT(c->seg_release == c->seg_tail);
}

static void advance(struct sl_uring_driver *d, struct sl_uring_conn *c, uint32_t bytes)
{
    d->counters.tx_bytes += bytes;
    while (bytes > 0) {
        SL_ASSERT(c->seg_send != c->seg_tail);
        struct sl_uring_seg *s = seg_at(d, c, c->seg_send);
        uint32_t n = SL_MIN(bytes, s->len_bytes - s->sent_bytes);
        s->sent_bytes += n;
        bytes -= n;
        if (s->sent_bytes == s->len_bytes)
            c->seg_send++;
    }
}

static void on_send_result(struct sl_uring_driver *d, struct sl_uring_conn *c, int res)
{
    if (c->state == SL_URING_CONN_CLOSING) {
        sl_uring_conn_maybe_finish(d, c);
        return;
    }
    if (res < 0) {
        d->counters.errors_send++;
        sl_uring_conn_begin_close(d, c, SL_NET_CLOSE_ERROR, res);
        return;
    }
    advance(d, c, (uint32_t)res);
    release_done(d, c); /* releases may queue more sends or close c */
    sl_uring_tx_flush(d, c);
}

void sl_uring_tx_on_send(struct sl_uring_driver *d, struct sl_uring_conn *c, int res)
{
    SL_ASSERT(c->send_op_inflight && c->ops_inflight > 0);
    c->send_op_inflight = false;
    c->ops_inflight--;
    on_send_result(d, c, res);
}

void sl_uring_tx_on_send_zc(struct sl_uring_driver *d, struct sl_uring_conn *c, uint32_t seq,
                            int res, uint32_t flags)
{
    struct sl_uring_seg *s = seg_at(d, c, seq);
    if (flags & IORING_CQE_F_NOTIF) {
        SL_ASSERT(s->notifs_pending > 0 && c->zc_notifs_pending > 0);
        s->notifs_pending--;
        c->zc_notifs_pending--;
        if ((uint32_t)res & IORING_NOTIF_USAGE_ZC_COPIED)
            d->counters.tx_zc_copied++;
        if (c->state == SL_URING_CONN_CLOSING)
            sl_uring_conn_maybe_finish(d, c);
        else
            release_done(d, c);
        return;
    }
    SL_ASSERT(c->send_op_inflight && c->ops_inflight > 0);
    c->send_op_inflight = false;
    c->ops_inflight--;
    if (flags & IORING_CQE_F_MORE) {
        s->notifs_pending++;
        c->zc_notifs_pending++;
    }
    on_send_result(d, c, res);
}

int sl_uring_send(struct sl_net_driver *drv, struct sl_net_conn conn, const struct sl_net_seg *segs,
                  uint32_t seg_count)
{
    struct sl_uring_driver *d = (struct sl_uring_driver *)drv;
    struct sl_uring_conn *c = sl_uring_conn_lookup(d, conn);
    if (c == NULL)
        return -EBADF;
    if (c->state == SL_URING_CONN_CLOSING)
        return -ENOTCONN;
    SL_ASSERT(segs != NULL || seg_count == 0);
    uint32_t used = c->seg_tail - c->seg_release;
    if (seg_count > d->cfg.send_segs_per_conn_max - used) {
        d->counters.tx_queue_full++;
        return -ENOBUFS;
    }
    for (uint32_t i = 0; i < seg_count; i++) {
        SL_ASSERT(segs[i].ptr != NULL && segs[i].len_bytes > 0);
        struct sl_uring_seg *s = seg_at(d, c, c->seg_tail + i);
        s->ptr = segs[i].ptr;
        s->len_bytes = segs[i].len_bytes;
        s->sent_bytes = 0;
        s->release = segs[i].release;
        s->cookie = segs[i].cookie;
        s->notifs_pending = 0;
        s->region = -1;
        if (s->len_bytes >= d->cfg.zc_threshold_bytes) {
            s->region = d->zc_enabled ? find_region(d, s->ptr, s->len_bytes) : -1;
            if (s->region < 0)
                d->counters.tx_zc_fallbacks++;
        }
    }
    c->seg_tail += seg_count;
    sl_uring_tx_flush(d, c);
    return 0;
}

int sl_uring_send_space(struct sl_net_driver *drv, struct sl_net_conn conn)
{
    struct sl_uring_driver *d = (struct sl_uring_driver *)drv;
    struct sl_uring_conn *c = sl_uring_conn_lookup(d, conn);
    if (c == NULL)
        return -EBADF;
    if (c->state == SL_URING_CONN_CLOSING)
        return -ENOTCONN;
    return (int)(d->cfg.send_segs_per_conn_max - (c->seg_tail - c->seg_release));
}

int sl_uring_mem_register(struct sl_net_driver *drv, void *base, size_t len_bytes)
{
    struct sl_uring_driver *d = (struct sl_uring_driver *)drv;
    SL_ASSERT(base != NULL && len_bytes > 0);
    if (d->region_count >= d->cfg.mem_regions_max)
        return -ENOSPC;
    struct iovec iov = {.iov_base = base, .iov_len = len_bytes};
    int rc = io_uring_register_buffers_update_tag(&d->ring, d->region_count, &iov, NULL, 1);
    if (rc < 0)
        return rc;
    d->regions[d->region_count++] = iov;
    return 0;
}
