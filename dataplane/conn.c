/* Connections: Kafka frame assembly from driver receive buffers, per-connection
 * backpressure, and in-order transmission of responses.
 *
 * A frame that lies inside one receive buffer is decoded in place (the request keeps a
 * reference on the buffer). A frame that spans buffers is assembled in memory from the
 * frame budget: the bytes already received are copied, the rest arrives straight into
 * that memory through sl_net_recv_exact. Parsing pauses (and keeps the buffers, so the
 * driver stops receiving) when the connection has inflight_per_conn_max requests, when
 * no request slot is free, or when the frame budget is used up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sl_assert.h"
#include "common/sl_bytes.h"
#include "dataplane/shard_internal.h"

/* The smallest request frame: api_key, api_version, correlation_id, client_id length. */
#define SL_DP_FRAME_MIN_BYTES 10u

static struct sl_dp_conn *conn_of(struct sl_shard *s, struct sl_net_conn h)
{
    SL_ASSERT(h.slot < s->conn_count_max);
    struct sl_dp_conn *c = &s->conns[h.slot];
    if (!c->open || c->handle.gen != h.gen)
        return NULL;
    return c;
}

void sl_dp_rx_unref(struct sl_shard *s, int32_t buf_id)
{
    if (buf_id < 0)
        return;
    SL_ASSERT((uint32_t)buf_id < s->rx_buf_count);
    SL_ASSERT(s->rx_refs[buf_id] > 0);
    if (--s->rx_refs[buf_id] == 0 && !s->net_destroying)
        sl_net_rx_release(s->net, (uint32_t)buf_id);
}

void sl_dp_conn_on_accept(void *ctx, struct sl_net_conn h, uint32_t listener_id)
{
    struct sl_shard *s = ctx;
    (void)listener_id;
    SL_ASSERT(h.slot < s->conn_count_max);
    struct sl_dp_conn *c = &s->conns[h.slot];
    SL_ASSERT(!c->open);
    struct sl_dp_rx_held *held = c->held;
    uint32_t held_cap = c->held_cap;
    memset(c, 0, sizeof(*c));
    c->held = held;
    c->held_cap = held_cap;
    c->open = true;
    c->handle = h;
    s->stats.connections_accepted++;
    s->stats.connections_open++;
    if (!s->listening) /* stopping: accepted just before the listener closed */
        sl_dp_conn_close(s, h.slot);
}

void sl_dp_conn_close(struct sl_shard *s, uint32_t slot)
{
    struct sl_dp_conn *c = &s->conns[slot];
    if (!c->open || c->closing)
        return;
    c->closing = true;
    int rc = sl_net_close(s->net, c->handle);
    SL_ASSERT(rc == 0 || rc == -EALREADY);
}

static void held_pop(struct sl_shard *s, struct sl_dp_conn *c)
{
    SL_ASSERT(c->held_count > 0);
    struct sl_dp_rx_held *h = &c->held[c->held_head];
    sl_dp_rx_unref(s, (int32_t)h->buf_id);
    c->held_head = (c->held_head + 1) % c->held_cap;
    c->held_count--;
}

static bool can_start_request(struct sl_shard *s, struct sl_dp_conn *c)
{
    if (s->draining)
        return false; /* stopping: requests already in flight are answered, no new ones */
    if (c->inflight >= s->opts.inflight_per_conn_max) {
        s->stats.backpressure_inflight++;
        return false;
    }
    if (s->free_requests == NULL) {
        s->stats.backpressure_request_slots++;
        return false;
    }
    return true;
}

/* Parses as many frames as the bounds allow from the held buffers of slot. */
static void conn_parse(struct sl_shard *s, uint32_t slot)
{
    struct sl_dp_conn *c = &s->conns[slot];
    const uint32_t frame_max =
        (uint32_t)sl_config_int(s->opts.config, SL_CONFIG_SOCKET_REQUEST_MAX_BYTES);
    while (c->open && !c->closing && !c->asm_exact_pending) {
        if (c->asm_buf != NULL && c->asm_have < c->asm_len) {
            if (c->held_count == 0) {
                int rc = sl_net_recv_exact(s->net, c->handle, c->asm_buf + c->asm_have,
                                           c->asm_len - c->asm_have);
                if (rc != 0) {
                    sl_dp_conn_close(s, slot);
                    return;
                }
                c->asm_exact_pending = true;
                return;
            }
            struct sl_dp_rx_held *h = &c->held[c->held_head];
            uint32_t n = SL_MIN(h->len - h->pos, c->asm_len - c->asm_have);
            memcpy(c->asm_buf + c->asm_have, h->data + h->pos, n);
            h->pos += n;
            c->asm_have += n;
            if (h->pos == h->len)
                held_pop(s, c);
            continue;
        }
        if (c->asm_buf != NULL) {
            if (!can_start_request(s, c))
                return;
            uint8_t *frame = c->asm_buf;
            uint32_t len = c->asm_len;
            c->asm_buf = NULL;
            c->asm_len = c->asm_have = 0;
            s->stats.frames_assembled_copy++;
            sl_dp_dispatch(s, slot, frame, len, -1, frame, sl_dp_request_get(s));
            continue;
        }
        if (c->held_count == 0)
            return;
        struct sl_dp_rx_held *h = &c->held[c->held_head];
        if (h->pos == h->len) {
            held_pop(s, c);
            continue;
        }
        if (c->size_prefix_have < 4) {
            uint32_t n = SL_MIN(4 - c->size_prefix_have, h->len - h->pos);
            memcpy(c->size_prefix + c->size_prefix_have, h->data + h->pos, n);
            c->size_prefix_have += n;
            h->pos += n;
            if (c->size_prefix_have < 4)
                continue;
            /* Judge the size as soon as it is known, before any body byte arrives. */
            uint32_t announced = sl_load_be32(c->size_prefix);
            if (announced > frame_max || announced < SL_DP_FRAME_MIN_BYTES) {
                /* Kafka closes the connection on an oversized (or negative) size. A
                 * negative int32 is malformed, not a large request. */
                if (announced > frame_max && announced <= (uint32_t)INT32_MAX)
                    s->stats.frames_rejected_too_large++;
                else
                    s->stats.frames_rejected_malformed++;
                sl_dp_conn_close(s, slot);
                return;
            }
            continue;
        }
        uint32_t size = sl_load_be32(c->size_prefix);
        uint32_t avail = h->len - h->pos;
        if (avail >= size) {
            if (!can_start_request(s, c))
                return;
            s->rx_refs[h->buf_id]++;
            const uint8_t *frame = h->data + h->pos;
            h->pos += size;
            c->size_prefix_have = 0;
            s->stats.frames_zero_copy++;
            sl_dp_dispatch(s, slot, frame, size, (int32_t)h->buf_id, NULL, sl_dp_request_get(s));
            continue;
        }
        /* Spans buffers: one frame's worth of memory from the budget. A frame always fits
         * when nothing else is assembled (the budget is at least one largest frame). */
        if (s->frame_memory_used > 0 && s->frame_memory_used + size > s->opts.frame_memory_max) {
            s->stats.backpressure_frame_memory++;
            return;
        }
        size_t alloc = sl_dp_frame_cache_alloc_bytes(size);
        uint8_t *mem = sl_dp_frame_cache_get(&s->frame_cache, size);
        if (mem == NULL) {
            s->stats.backpressure_frame_memory++;
            return;
        }
        s->frame_memory_used += alloc;
        c->asm_buf = mem;
        c->asm_len = size;
        c->asm_have = 0;
        c->size_prefix_have = 0;
    }
}

void sl_dp_conn_on_recv(void *ctx, struct sl_net_conn h, const struct sl_net_rxbuf *buf)
{
    struct sl_shard *s = ctx;
    struct sl_dp_conn *c = conn_of(s, h);
    SL_ASSERT(buf->buf_id < s->rx_buf_count);
    if (c == NULL || c->closing || c->held_count == c->held_cap) {
        /* held_cap is one more than the driver's per-connection bound, so the last
         * case means the driver broke its contract; drop the bytes and close. */
        sl_net_rx_release(s->net, buf->buf_id);
        if (c != NULL)
            sl_dp_conn_close(s, h.slot);
        return;
    }
    SL_ASSERT(s->rx_refs[buf->buf_id] == 0);
    s->rx_refs[buf->buf_id] = 1;
    uint32_t at = (c->held_head + c->held_count) % c->held_cap;
    c->held[at] = (struct sl_dp_rx_held){buf->buf_id, buf->data, buf->len_bytes, 0};
    c->held_count++;
    conn_parse(s, h.slot);
}

void sl_dp_conn_on_recv_exact_done(void *ctx, struct sl_net_conn h, void *dst, uint32_t len_bytes)
{
    struct sl_shard *s = ctx;
    struct sl_dp_conn *c = conn_of(s, h);
    if (c == NULL)
        return;
    SL_ASSERT(c->asm_exact_pending && dst == c->asm_buf + c->asm_have);
    c->asm_have += len_bytes;
    SL_ASSERT(c->asm_have == c->asm_len);
    c->asm_exact_pending = false;
    conn_parse(s, h.slot);
}

void sl_dp_conn_on_close(void *ctx, struct sl_net_conn h, enum sl_net_close_reason reason, int err)
{
    struct sl_shard *s = ctx;
    (void)err;
    struct sl_dp_conn *c = conn_of(s, h);
    if (c == NULL)
        return;
    c->open = false;
    /* A peer that goes away in the middle of a frame sent bad input (a truncated
     * request); a close of our own was counted where it was decided. */
    if (reason != SL_NET_CLOSE_LOCAL && reason != SL_NET_CLOSE_SHUTDOWN &&
        (c->size_prefix_have > 0 || c->asm_buf != NULL))
        s->stats.connections_closed_mid_frame++;
    while (c->held_count > 0)
        held_pop(s, c);
    if (c->asm_buf != NULL) {
        sl_dp_frame_cache_put(&s->frame_cache, c->asm_buf, c->asm_len);
        s->frame_memory_used -= sl_dp_frame_cache_alloc_bytes(c->asm_len);
        c->asm_buf = NULL;
    }
    struct sl_dp_request *r = c->fifo_head;
    c->fifo_head = c->fifo_tail = NULL;
    c->inflight = 0;
    while (r != NULL) {
        struct sl_dp_request *next = r->next;
        r->next = NULL;
        r->conn_slot = UINT32_MAX;
        if (r->parked) {
            sl_dp_wait_remove(&s->parked, r);
            r->parked = false;
        }
        if (r->waiting_ack) {
            sl_dp_wait_remove(&s->ack_waiting, r);
            r->waiting_ack = false;
        }
        sl_dp_request_reap_orphan(s, r);
        r = next;
    }
    s->stats.connections_closed++;
    s->stats.connections_open--;
    s->rescan = true;
}

static void seg_release(void *cookie, int status)
{
    (void)status;
    struct sl_dp_seg_owner *o = cookie;
    struct sl_dp_request *r = o->req;
    struct sl_shard *s = r->shard;
    if (o->storage_ref != NULL)
        sl_storage_release(s->storage, o->storage_ref);
    SL_ASSERT(r->segs_outstanding > 0);
    r->segs_outstanding--;
    s->rescan = true; /* send space came back: a waiting response may go on */
    /* Free only once every segment was handed over and came back. */
    if (r->segs_outstanding == 0 && r->state == SL_DP_REQ_SENDING)
        sl_dp_request_free(s, r);
}

/* Hands r's response to the driver, in pieces as send space allows (a response may have
 * more segments than the driver queues per connection). Returns true once every segment
 * was handed over; false when it must wait for space (or the connection was closed). */
static bool send_response(struct sl_shard *s, struct sl_dp_conn *c, struct sl_dp_request *r)
{
    uint32_t slot = (uint32_t)(c - s->conns);
    if (r->tx_segs == NULL) {
        uint32_t seg_max = 2 * r->enc.gap_count + 1;
        struct sl_codec_segment *chain = sl_dp_alloc(r, seg_max, sizeof(*chain));
        r->tx_segs = sl_dp_alloc(r, seg_max, sizeof(*r->tx_segs));
        struct sl_dp_seg_owner *owners = sl_dp_alloc(r, seg_max, sizeof(*owners));
        if (chain == NULL || r->tx_segs == NULL || owners == NULL) {
            sl_dp_conn_close(s, slot);
            return false;
        }
        uint32_t n = sl_codec_encoder_chain(&r->enc, chain, seg_max);
        SL_ASSERT(n > 0);
        for (uint32_t i = 0; i < n; i++) {
            owners[i] = (struct sl_dp_seg_owner){r, chain[i].owner};
            r->tx_segs[i] =
                (struct sl_net_seg){chain[i].ptr, chain[i].len, seg_release, &owners[i]};
        }
        r->tx_seg_count = n;
        r->tx_seg_next = 0;
    }
    while (r->tx_seg_next < r->tx_seg_count) {
        int space = sl_net_send_space(s->net, c->handle);
        if (space < 0) {
            sl_dp_conn_close(s, slot);
            return false;
        }
        uint32_t n = SL_MIN((uint32_t)space, r->tx_seg_count - r->tx_seg_next);
        if (n == 0) {
            s->stats.backpressure_send++;
            return false;
        }
        int rc = sl_net_send(s->net, c->handle, r->tx_segs + r->tx_seg_next, n);
        if (rc == -ENOBUFS) {
            s->stats.backpressure_send++;
            return false;
        }
        if (rc != 0) {
            sl_dp_conn_close(s, slot);
            return false;
        }
        r->segs_outstanding += n;
        r->tx_seg_next += n;
    }
    r->state = SL_DP_REQ_SENDING;
    sl_dp_stats_api(&s->stats, r->req.header.api_key)->response_bytes += r->response_total_bytes;
    return true;
}

void sl_dp_conn_flush(struct sl_shard *s, uint32_t slot)
{
    struct sl_dp_conn *c = &s->conns[slot];
    bool progressed = false;
    while (c->open && !c->closing && c->fifo_head != NULL &&
           c->fifo_head->state == SL_DP_REQ_DONE) {
        struct sl_dp_request *r = c->fifo_head;
        if (!r->no_response && !send_response(s, c, r))
            break;
        c->fifo_head = r->next;
        if (c->fifo_head == NULL)
            c->fifo_tail = NULL;
        r->next = NULL;
        c->inflight--;
        progressed = true;
        if (r->no_response)
            sl_dp_request_free(s, r);
    }
    /* Room for more requests: parsing continues from the loop (not from here, which may
     * run inside conn_parse's own dispatch and would recurse once per pipelined frame). */
    if (progressed && (c->held_count > 0 || c->asm_buf != NULL))
        s->rescan = true;
}

void sl_dp_conn_rescan(struct sl_shard *s)
{
    s->rescan = false;
    for (uint32_t i = 0; i < s->conn_count_max; i++) {
        struct sl_dp_conn *c = &s->conns[i];
        if (!c->open || c->closing)
            continue;
        if (c->fifo_head != NULL && c->fifo_head->state == SL_DP_REQ_DONE)
            sl_dp_conn_flush(s, i);
        if (c->held_count > 0 || (c->asm_buf != NULL && !c->asm_exact_pending))
            conn_parse(s, i);
    }
}
