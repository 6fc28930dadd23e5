/* DeleteRecords (21): raises a partition's log start offset (offset -1 = the high
 * watermark) and drops whole segments below it, on the shard owning the partition (a
 * partition op when that is another shard). Answers the new low watermark.
 * sl_log_advance_start_offset is a storage maintenance call (it deletes files and writes
 * checkpoints), so one DeleteRecords holds its shard for that long.
 */
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/group_host.h"
#include "dataplane/handlers/handlers.h"

struct delete_op {
    struct sl_dp_part_op op;
    struct sl_md_uuid topic_id;
    int32_t partition;
    int64_t offset;
    int16_t error_code;
    int64_t low_watermark;
    struct sl_codec_delete_records_response_delete_records_partition_result *out; /* home */
};

struct delete_records_state {
    struct sl_codec_delete_records_response resp;
};

/* On the owning shard. */
static void delete_run(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct delete_op *d = (struct delete_op *)op;
    d->low_watermark = -1;
    struct sl_dp_partition *p = sl_dp_partition_find(s, &d->topic_id, d->partition);
    if (p == NULL) {
        d->error_code = SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER;
    } else {
        int64_t hw = sl_dp_partition_hw(p);
        int64_t target = d->offset == -1 ? hw : d->offset;
        if (target < 0 || target > hw) {
            d->error_code = SL_KAFKA_ERR_OFFSET_OUT_OF_RANGE;
        } else {
            enum sl_storage_err err = sl_log_advance_start_offset(p->log, target, NULL);
            if (err == SL_STORAGE_OK)
                d->error_code = 0;
            else if (err == SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE)
                d->error_code = SL_KAFKA_ERR_OFFSET_OUT_OF_RANGE;
            else
                d->error_code = SL_KAFKA_ERR_KAFKA_STORAGE_ERROR;
        }
        d->low_watermark = sl_log_start_offset(p->log);
    }
    if (op->owner != op->home)
        sl_dp_op_reply(s, op);
}

static void delete_done(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct delete_op *d = (struct delete_op *)op;
    d->out->error_code = d->error_code;
    d->out->low_watermark = d->low_watermark;
    sl_dp_op_finished(s, op->req);
}

void sl_dp_handle_delete_records(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_delete_records_request *req = r->req.body;
    struct delete_records_state *st = sl_dp_alloc(r, 1, sizeof(*st));
    int32_t nt = SL_MAX(req->topics_count, 0);
    if (st != NULL) {
        sl_codec_delete_records_response_init(&st->resp);
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
        const struct sl_codec_delete_records_request_delete_records_topic *tq = &req->topics[ti];
        struct sl_codec_delete_records_response_delete_records_topic_result *tout =
            &st->resp.topics[ti];
        sl_codec_delete_records_response_delete_records_topic_result_init(tout);
        tout->name = tq->name;
        const struct sl_md_topic *t = sl_dp_topic_by_name(s, tq->name);
        int32_t np = SL_MAX(tq->partitions_count, 0);
        tout->partitions = sl_dp_alloc(r, (size_t)np + 1, sizeof(*tout->partitions));
        if (tout->partitions == NULL)
            np = 0;
        tout->partitions_count = np;
        for (int32_t pi = 0; pi < np; pi++) {
            const struct sl_codec_delete_records_request_delete_records_partition *pq =
                &tq->partitions[pi];
            struct sl_codec_delete_records_response_delete_records_partition_result *out =
                &tout->partitions[pi];
            sl_codec_delete_records_response_delete_records_partition_result_init(out);
            out->partition_index = pq->partition_index;
            out->low_watermark = -1;
            if (sl_dp_led_partition(s, t, pq->partition_index, &out->error_code) == NULL)
                continue;
            if (sl_dp_is_offsets_topic(t->name)) {
                out->error_code = SL_KAFKA_ERR_INVALID_TOPIC_EXCEPTION; /* internal topic */
                continue;
            }
            struct delete_op *d = sl_dp_alloc(r, 1, sizeof(*d));
            if (d == NULL) {
                out->error_code = SL_KAFKA_ERR_UNKNOWN_SERVER_ERROR;
                continue;
            }
            bool local = sl_dp_op_init(s, &d->op, r, &t->topic_id, pq->partition_index, delete_run,
                                       delete_done);
            d->topic_id = t->topic_id;
            d->partition = pq->partition_index;
            d->offset = pq->offset;
            d->out = out;
            if (!local) {
                sl_dp_op_send(s, &d->op);
            } else {
                delete_run(s, &d->op);
                out->error_code = d->error_code;
                out->low_watermark = d->low_watermark;
            }
        }
    }
    sl_dp_op_finished(s, r);
}

void sl_dp_resume_delete_records(struct sl_shard *s, struct sl_dp_request *r)
{
    struct delete_records_state *st = r->hstate;
    for (int32_t ti = 0; ti < st->resp.topics_count; ti++) {
        for (int32_t pi = 0; pi < st->resp.topics[ti].partitions_count; pi++) {
            int16_t code = st->resp.topics[ti].partitions[pi].error_code;
            if (code != 0)
                sl_dp_stats_error(&s->stats, code);
        }
    }
    sl_dp_respond(s, r, &st->resp, 0);
}
