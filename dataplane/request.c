/* Request slots: decode, dispatch to the handler table, response encoding, and the
 * lifetime rules of a request (its frame, its arena, its response segments).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sl_assert.h"
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/handlers/handlers.h"
#include "dataplane/shard_internal.h"

/* Largest element count of any one array a client may send; the arena bounds memory. */
#define SL_DP_ARRAY_LEN_MAX 100000u

struct sl_dp_request *sl_dp_request_get(struct sl_shard *s)
{
    struct sl_dp_request *r = s->free_requests;
    if (r == NULL)
        return NULL;
    s->free_requests = r->next;
    SL_ASSERT(r->state == SL_DP_REQ_FREE);
    uint32_t index = r->index;
    uint8_t *tx = r->tx;
    uint8_t *arena_mem = r->arena.base;
    size_t arena_cap = r->arena.cap_bytes;
    memset(r, 0, sizeof(*r));
    r->shard = s;
    r->index = index;
    r->tx = tx;
    r->rx_buf_id = -1;
    sl_codec_arena_init(&r->arena, arena_mem, arena_cap);
    r->state = SL_DP_REQ_HANDLING;
    s->requests_in_use++;
    s->stats.requests_in_flight = s->requests_in_use;
    return r;
}

void sl_dp_request_release_frame(struct sl_shard *s, struct sl_dp_request *r)
{
    sl_dp_rx_unref(s, r->rx_buf_id);
    r->rx_buf_id = -1;
    if (r->frame_heap != NULL) {
        sl_dp_frame_cache_put(&s->frame_cache, r->frame_heap, r->frame_len);
        s->frame_memory_used -= sl_dp_frame_cache_alloc_bytes(r->frame_len);
        r->frame_heap = NULL;
    }
    r->frame = NULL;
    r->frame_len = 0;
    r->req.body = NULL;
}

void sl_dp_request_free(struct sl_shard *s, struct sl_dp_request *r)
{
    SL_ASSERT(r->state != SL_DP_REQ_FREE);
    SL_ASSERT(!r->parked && !r->waiting_ack);
    if (r->pending_ops == 0) {
        const struct sl_dp_handler *h = sl_dp_handler_find(r->req.header.api_key);
        if (h != NULL && h->release != NULL && r->hstate != NULL)
            h->release(s, r);
    }
    if (r->pending_ops > 0) {
        /* Other shards still hold work or pins of this request: free it when the last
         * op comes back (sl_dp_op_finished). */
        r->state = SL_DP_REQ_RELEASING;
        return;
    }
    if (r->state == SL_DP_REQ_DONE && !r->no_response) {
        /* Encoded but not (wholly) handed to the driver: drop the storage pins of the
         * segments that never went out (the driver released the others). */
        if (r->tx_segs != NULL) {
            for (uint32_t i = r->tx_seg_next; i < r->tx_seg_count; i++) {
                const struct sl_dp_seg_owner *o = r->tx_segs[i].cookie;
                if (o->storage_ref != NULL)
                    sl_storage_release(s->storage, o->storage_ref);
            }
        } else {
            for (uint32_t i = 0; i < r->enc.gap_count; i++) {
                if (r->enc.gaps[i].seg.owner != NULL)
                    sl_storage_release(s->storage, r->enc.gaps[i].seg.owner);
            }
        }
    }
    sl_dp_request_release_frame(s, r);
    free(r->tx_heap);
    r->tx_heap = NULL;
    r->state = SL_DP_REQ_FREE;
    r->next = s->free_requests;
    s->free_requests = r;
    SL_ASSERT(s->requests_in_use > 0);
    s->requests_in_use--;
    s->stats.requests_in_flight = s->requests_in_use;
    s->rescan = true;
}

bool sl_dp_request_reap_orphan(struct sl_shard *s, struct sl_dp_request *r)
{
    if (!sl_dp_request_orphaned(r) || r->pending_ops > 0 || r->parked || r->waiting_ack)
        return false;
    if (r->state == SL_DP_REQ_SENDING || r->state == SL_DP_REQ_RELEASING)
        return false; /* the driver still owns segments; the last release frees it */
    sl_dp_request_free(s, r);
    return true;
}

void sl_dp_request_close_conn(struct sl_shard *s, struct sl_dp_request *r)
{
    if (!sl_dp_request_orphaned(r))
        sl_dp_conn_close(s, r->conn_slot);
}

void sl_dp_dispatch(struct sl_shard *s, uint32_t slot, const uint8_t *frame, uint32_t len,
                    int32_t rx_buf_id, uint8_t *frame_heap, struct sl_dp_request *r)
{
    SL_ASSERT(r != NULL);
    struct sl_dp_conn *c = &s->conns[slot];
    r->conn_slot = slot;
    r->conn_gen = c->handle.gen;
    r->frame = frame;
    r->frame_len = len;
    r->rx_buf_id = rx_buf_id;
    r->frame_heap = frame_heap;
    if (c->fifo_tail != NULL)
        c->fifo_tail->next = r;
    else
        c->fifo_head = r;
    c->fifo_tail = r;
    c->inflight++;

    struct sl_codec_limits limits = {SL_DP_ARRAY_LEN_MAX, len};
    size_t at = 0;
    int rc = sl_codec_decode_request(frame, len, &r->arena, &limits, &r->req, &at);
    if (rc == SL_CODEC_ERR_TRAILING_BYTES) {
        /* Kafka reads the message and ignores what follows it; some clients rely on that
         * (librdkafka 2.0.2's ListGroups v4 carries one byte too many). The body decoded
         * completely, so serve it and count it. */
        s->stats.requests_trailing_bytes++;
        rc = SL_CODEC_OK;
    }
    struct sl_dp_api_counters *api = sl_dp_stats_api(&s->stats, r->req.header.api_key);
    api->requests++;
    api->request_bytes += len;
    r->response_version = r->req.header.api_version;
    const struct sl_dp_handler *h = sl_dp_handler_find(r->req.header.api_key);
    bool version_ok = h != NULL && r->req.header.api_version >= h->min_version &&
                      r->req.header.api_version <= h->max_version;
    if (rc == SL_CODEC_ERR_UNSUPPORTED_VERSION || rc == SL_CODEC_ERR_UNKNOWN_API ||
        (rc == SL_CODEC_OK && !version_ok)) {
        if (r->req.header.api_key == SL_CODEC_API_KEY_API_VERSIONS) {
            sl_dp_api_versions_unsupported(s, r);
            return;
        }
        s->stats.frames_rejected_unknown_api++;
        sl_dp_conn_close(s, slot);
        return;
    }
    if (rc != SL_CODEC_OK) {
        s->stats.frames_rejected_malformed++;
        sl_dp_conn_close(s, slot);
        return;
    }
    h->handle(s, r);
}

bool sl_dp_respond(struct sl_shard *s, struct sl_dp_request *r, const void *body,
                   uint32_t gap_slots)
{
    SL_ASSERT(r->state == SL_DP_REQ_HANDLING);
    struct sl_codec_gap *gaps = NULL;
    int rc = SL_CODEC_OK;
    if (gap_slots > 0) {
        gaps = sl_dp_alloc(r, gap_slots, sizeof(*gaps));
        if (gaps == NULL)
            rc = SL_CODEC_ERR_GAPS_FULL;
    }
    struct sl_codec_response_header hdr = {.correlation_id = r->req.header.correlation_id};
    sl_codec_encoder_init(&r->enc, r->tx, s->opts.tx_bytes, gaps, gap_slots);
    if (rc == SL_CODEC_OK)
        rc = sl_codec_encode_response(&r->enc, r->req.header.api_key, r->response_version, &hdr,
                                      body);
    if (rc == SL_CODEC_ERR_BUFFER_FULL) {
        r->tx_heap = malloc(s->opts.response_bytes_max);
        if (r->tx_heap != NULL) {
            sl_codec_encoder_init(&r->enc, r->tx_heap, s->opts.response_bytes_max, gaps, gap_slots);
            rc = sl_codec_encode_response(&r->enc, r->req.header.api_key, r->response_version, &hdr,
                                          body);
        }
    }
    if (rc != SL_CODEC_OK) {
        fprintf(stderr, "sluiced: shard %u: cannot encode %s v%d response: %s\n", s->opts.shard_id,
                r->req.api ? r->req.api->name : "?", r->response_version, sl_codec_strerror(rc));
        /* The caller still owns whatever the records fields pinned. */
        r->enc.gap_count = 0;
        r->no_response = true;
        r->state = SL_DP_REQ_DONE;
        sl_dp_request_close_conn(s, r);
        sl_dp_request_reap_orphan(s, r);
        return false;
    }
    r->response_total_bytes = sl_codec_encoder_total_bytes(&r->enc);
    r->state = SL_DP_REQ_DONE;
    if (sl_dp_request_orphaned(r))
        sl_dp_request_reap_orphan(s, r);
    else
        sl_dp_conn_flush(s, r->conn_slot);
    return true;
}

void sl_dp_respond_none(struct sl_shard *s, struct sl_dp_request *r)
{
    r->no_response = true;
    r->state = SL_DP_REQ_DONE;
    if (sl_dp_request_orphaned(r))
        sl_dp_request_reap_orphan(s, r);
    else
        sl_dp_conn_flush(s, r->conn_slot);
}

void sl_dp_resume(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_dp_handler *h = sl_dp_handler_find(r->req.header.api_key);
    SL_ASSERT(h != NULL && h->resume != NULL);
    h->resume(s, r);
}

void sl_dp_wait_push(struct sl_dp_request **list, struct sl_dp_request *r)
{
    r->wait_next = *list;
    *list = r;
}

void sl_dp_wait_remove(struct sl_dp_request **list, struct sl_dp_request *r)
{
    for (struct sl_dp_request **p = list; *p != NULL; p = &(*p)->wait_next) {
        if (*p == r) {
            *p = r->wait_next;
            r->wait_next = NULL;
            return;
        }
    }
    SL_ASSERT(!"request not on the wait list");
}

bool sl_dp_slice_to_cstr(struct sl_codec_slice v, char *out, size_t out_size)
{
    if (v.len < 0 || (size_t)v.len >= out_size)
        return false;
    memcpy(out, v.ptr, (size_t)v.len);
    out[v.len] = '\0';
    return true;
}

const struct sl_md_topic *sl_dp_topic_by_name(const struct sl_shard *s, struct sl_codec_slice name)
{
    char cname[SL_MD_TOPIC_NAME_BYTES_MAX];
    if (!sl_dp_slice_to_cstr(name, cname, sizeof(cname)))
        return NULL;
    return sl_md_image_topic(s->image, cname);
}
