/* Requests that touch partitions of other shards: partition ops travel by reference over
 * bounded SPSC rings (one per ordered pair of shards) and come back to the connection's
 * shard, which assembles the answer. A full ring keeps the op on a local retry list
 * (intrusive, no allocation); the request's pending_ops keeps it alive meanwhile.
 */
#include "common/sl_assert.h"
#include "dataplane/shard_internal.h"

static bool push(struct sl_shard *s, struct sl_dp_part_op *op)
{
    uint32_t to = op->to_home ? op->home : op->owner;
    uint32_t from = s->opts.shard_id;
    return sl_dp_ring_push(&s->peers[to]->inbox[from], op);
}

static void push_or_retry(struct sl_shard *s, struct sl_dp_part_op *op)
{
    if (s->retry_head == NULL && push(s, op))
        return;
    op->retry_next = NULL;
    if (s->retry_tail != NULL)
        s->retry_tail->retry_next = op;
    else
        s->retry_head = op;
    s->retry_tail = op;
}

void sl_dp_op_send(struct sl_shard *s, struct sl_dp_part_op *op)
{
    SL_ASSERT(op->owner != s->opts.shard_id && op->owner < s->opts.shard_count);
    op->home = s->opts.shard_id;
    op->to_home = false;
    op->req->pending_ops++;
    push_or_retry(s, op);
}

void sl_dp_op_reply(struct sl_shard *s, struct sl_dp_part_op *op)
{
    SL_ASSERT(op->owner == s->opts.shard_id);
    op->to_home = true;
    push_or_retry(s, op);
}

void sl_dp_op_finished(struct sl_shard *s, struct sl_dp_request *r)
{
    SL_ASSERT(r->pending_ops > 0);
    if (--r->pending_ops > 0)
        return;
    if (r->state == SL_DP_REQ_RELEASING)
        sl_dp_request_free(s, r);
    else if (sl_dp_request_orphaned(r))
        sl_dp_request_reap_orphan(s, r);
    else if (!r->parked && r->state == SL_DP_REQ_HANDLING)
        sl_dp_resume(s, r);
}

uint32_t sl_dp_route_poll(struct sl_shard *s)
{
    uint32_t n = 0;
    while (s->retry_head != NULL && push(s, s->retry_head)) {
        s->retry_head = s->retry_head->retry_next;
        if (s->retry_head == NULL)
            s->retry_tail = NULL;
        n++;
    }
    for (uint32_t i = 0; i < s->opts.shard_count; i++) {
        if (i == s->opts.shard_id)
            continue;
        struct sl_dp_part_op *op;
        /* Bounded per pass so one busy peer cannot starve this shard's own work. */
        for (uint32_t k = 0; k < 256 && (op = sl_dp_ring_pop(&s->inbox[i])) != NULL; k++) {
            if (op->to_home)
                op->done(s, op);
            else
                op->run(s, op);
            n++;
        }
    }
    return n;
}

bool sl_dp_route_peer_appended(struct sl_shard *s)
{
    bool any = false;
    for (uint32_t i = 0; i < s->opts.shard_count; i++) {
        if (i == s->opts.shard_id)
            continue;
        uint64_t seq = atomic_load_explicit(&s->peers[i]->append_seq, memory_order_relaxed);
        if (seq != s->peer_append_seen[i]) {
            s->peer_append_seen[i] = seq;
            any = true;
        }
    }
    return any;
}
