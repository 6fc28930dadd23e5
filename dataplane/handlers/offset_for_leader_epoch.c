/* OffsetForLeaderEpoch (23), v0-4: "where did leader epoch E end?" Followers use it to
 * find where to truncate after a leader change; consumers (librdkafka, KIP-320) to detect
 * that their position lies past a truncation. Each partition is answered from the owning
 * shard's log (storage's leader-epoch cache, sl_log_end_offset_for_epoch): for the
 * current epoch the log end offset, for an older one the start of the next epoch with
 * the largest epoch <= E, and UNDEFINED (-1, -1) when E is newer than anything written
 * or nothing is known. current_leader_epoch (v2+, -1 = not checked) fences stale callers
 * as Kafka does: older than the partition's epoch is FENCED_LEADER_EPOCH, newer is
 * UNKNOWN_LEADER_EPOCH.
 */
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/group_host.h"
#include "dataplane/handlers/handlers.h"

struct epoch_lookup {
    struct sl_dp_part_op op;
    struct sl_md_uuid topic_id;
    int32_t partition;
    int32_t leader_epoch; /* asked */
    /* results */
    int16_t error_code;
    int32_t found_epoch;
    int64_t end_offset;
    struct sl_codec_offset_for_leader_epoch_response_epoch_end_offset *out; /* home */
};

struct epoch_state {
    struct sl_codec_offset_for_leader_epoch_response resp;
};

static void copy_out(struct epoch_lookup *lk)
{
    lk->out->error_code = lk->error_code;
    lk->out->leader_epoch = lk->found_epoch;
    lk->out->end_offset = lk->end_offset;
}

/* On the owning shard: no I/O, so the answer is ready at once. */
static void lookup_run(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct epoch_lookup *lk = (struct epoch_lookup *)op;
    lk->found_epoch = -1;
    lk->end_offset = -1;
    struct sl_dp_partition *p = sl_dp_partition_find(s, &lk->topic_id, lk->partition);
    if (p == NULL)
        lk->error_code = SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER; /* not open (yet) here */
    else
        sl_log_end_offset_for_epoch(p->log, lk->leader_epoch, &lk->found_epoch, &lk->end_offset);
    if (op->home != s->opts.shard_id)
        sl_dp_op_reply(s, op);
}

static void lookup_done(struct sl_shard *s, struct sl_dp_part_op *op)
{
    copy_out((struct epoch_lookup *)op);
    sl_dp_op_finished(s, op->req);
}

static void
one_partition(struct sl_shard *s, struct sl_dp_request *r, const struct sl_md_topic *t,
              const struct sl_codec_offset_for_leader_epoch_request_offset_for_leader_partition *pq,
              struct sl_codec_offset_for_leader_epoch_response_epoch_end_offset *out)
{
    out->partition = pq->partition;
    out->leader_epoch = -1;
    out->end_offset = -1;
    const struct sl_md_partition *mp = sl_dp_led_partition(s, t, pq->partition, &out->error_code);
    if (mp == NULL)
        return;
    if (sl_dp_is_offsets_topic(t->name)) {
        out->error_code = SL_KAFKA_ERR_INVALID_TOPIC_EXCEPTION; /* the group host's log */
        return;
    }
    if (pq->current_leader_epoch >= 0 && pq->current_leader_epoch < mp->leader_epoch) {
        out->error_code = SL_KAFKA_ERR_FENCED_LEADER_EPOCH; /* the caller is behind */
        return;
    }
    if (pq->current_leader_epoch > mp->leader_epoch) {
        out->error_code = SL_KAFKA_ERR_UNKNOWN_LEADER_EPOCH; /* this broker is behind */
        return;
    }
    struct epoch_lookup *lk = sl_dp_alloc(r, 1, sizeof(*lk));
    if (lk == NULL) {
        out->error_code = SL_KAFKA_ERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    bool local = sl_dp_op_init(s, &lk->op, r, &t->topic_id, pq->partition, lookup_run, lookup_done);
    lk->topic_id = t->topic_id;
    lk->partition = pq->partition;
    lk->leader_epoch = pq->leader_epoch;
    lk->out = out;
    if (!local) {
        sl_dp_op_send(s, &lk->op);
        return;
    }
    lookup_run(s, &lk->op);
    copy_out(lk);
}

void sl_dp_handle_offset_for_leader_epoch(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_offset_for_leader_epoch_request *req = r->req.body;
    struct epoch_state *st = sl_dp_alloc(r, 1, sizeof(*st));
    int32_t nt = SL_MAX(req->topics_count, 0);
    if (st != NULL) {
        sl_codec_offset_for_leader_epoch_response_init(&st->resp);
        st->resp.topics = sl_dp_alloc(r, (size_t)nt + 1, sizeof(*st->resp.topics));
    }
    if (st == NULL || st->resp.topics == NULL) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    r->hstate = st;
    st->resp.topics_count = nt;
    r->pending_ops++; /* this pass */
    for (int32_t ti = 0; ti < nt; ti++) {
        const struct sl_codec_offset_for_leader_epoch_request_offset_for_leader_topic *tq =
            &req->topics[ti];
        struct sl_codec_offset_for_leader_epoch_response_offset_for_leader_topic_result *tout =
            &st->resp.topics[ti];
        sl_codec_offset_for_leader_epoch_response_offset_for_leader_topic_result_init(tout);
        tout->topic = tq->topic;
        const struct sl_md_topic *t = sl_dp_topic_by_name(s, tq->topic);
        int32_t np = SL_MAX(tq->partitions_count, 0);
        tout->partitions = sl_dp_alloc(r, (size_t)np + 1, sizeof(*tout->partitions));
        if (tout->partitions == NULL)
            np = 0; /* the arena bound was reached: answered without partitions */
        tout->partitions_count = np;
        for (int32_t pi = 0; pi < np; pi++) {
            sl_codec_offset_for_leader_epoch_response_epoch_end_offset_init(&tout->partitions[pi]);
            one_partition(s, r, t, &tq->partitions[pi], &tout->partitions[pi]);
        }
    }
    sl_dp_op_finished(s, r);
}

void sl_dp_resume_offset_for_leader_epoch(struct sl_shard *s, struct sl_dp_request *r)
{
    struct epoch_state *st = r->hstate;
    for (int32_t ti = 0; ti < st->resp.topics_count; ti++) {
        for (int32_t pi = 0; pi < st->resp.topics[ti].partitions_count; pi++) {
            int16_t code = st->resp.topics[ti].partitions[pi].error_code;
            if (code != 0)
                sl_dp_stats_error(&s->stats, code);
        }
    }
    sl_dp_respond(s, r, &st->resp, 0);
}
