/* ListOffsets (2): earliest (-2) = log start offset, latest (-1) = high watermark, or
 * the first batch whose max timestamp >= the given time (storage's time index; may need
 * a disk read, answered when it completes). Max timestamp (-3, v7+) is not served yet:
 * the handler table stops at v6.
 */
#include <string.h>

#include "dataplane/codec/kafka_errors.h"
#include "dataplane/handlers/handlers.h"

#define SL_DP_LIST_OFFSETS_EARLIEST (-2)
#define SL_DP_LIST_OFFSETS_LATEST   (-1)

struct lookup {
    struct sl_dp_request *req;
    struct sl_codec_list_offsets_response_list_offsets_partition_response *out;
    int64_t hw;
};

struct list_offsets_state {
    struct sl_codec_list_offsets_response resp;
};

static void on_lookup(void *ctx, struct sl_log *log, enum sl_storage_err err, int64_t offset,
                      int64_t timestamp)
{
    (void)log;
    struct lookup *lk = ctx;
    struct sl_dp_request *r = lk->req;
    struct sl_shard *s = r->shard;
    if (err == SL_STORAGE_OK && offset < lk->hw) {
        lk->out->offset = offset;
        lk->out->timestamp = timestamp;
    } else if (err != SL_STORAGE_OK && err != SL_STORAGE_ERR_NOT_FOUND) {
        lk->out->error_code = SL_KAFKA_ERR_UNKNOWN_SERVER_ERROR;
    }
    r->pending_ops--;
    if (r->pending_ops > 0)
        return;
    if (sl_dp_request_orphaned(r))
        sl_dp_request_reap_orphan(s, r);
    else
        sl_dp_resume_list_offsets(s, r);
}

static void
one_partition(struct sl_shard *s, struct sl_dp_request *r, const struct sl_md_topic *t,
              const struct sl_codec_list_offsets_request_list_offsets_partition *pq,
              struct sl_codec_list_offsets_response_list_offsets_partition_response *out)
{
    out->partition_index = pq->partition_index;
    out->offset = -1;
    out->timestamp = -1;
    if (t == NULL || sl_md_topic_partition(t, pq->partition_index) == NULL) {
        out->error_code = SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    const struct sl_md_partition *mp = sl_md_topic_partition(t, pq->partition_index);
    struct sl_dp_partition *p = sl_dp_partition_find(s, &t->topic_id, pq->partition_index);
    if (mp->leader != s->opts.node_id || p == NULL) {
        out->error_code = SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER;
        return;
    }
    out->leader_epoch = mp->leader_epoch;
    int64_t hw = sl_dp_partition_hw(p);
    if (pq->timestamp == SL_DP_LIST_OFFSETS_EARLIEST) {
        out->offset = sl_log_start_offset(p->log);
        return;
    }
    if (pq->timestamp == SL_DP_LIST_OFFSETS_LATEST) {
        out->offset = hw;
        return;
    }
    if (pq->timestamp < 0) {
        out->error_code = SL_KAFKA_ERR_INVALID_REQUEST;
        return;
    }
    struct lookup *lk = sl_dp_alloc(r, 1, sizeof(*lk));
    if (lk == NULL) {
        out->error_code = SL_KAFKA_ERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    *lk = (struct lookup){r, out, hw};
    int64_t offset = -1, ts = -1;
    enum sl_storage_err err =
        sl_log_offset_for_timestamp(p->log, pq->timestamp, &offset, &ts, on_lookup, lk);
    if (err == SL_STORAGE_IN_PROGRESS) {
        r->pending_ops++;
    } else if (err == SL_STORAGE_OK && offset < hw) {
        out->offset = offset;
        out->timestamp = ts;
    } else if (err != SL_STORAGE_OK && err != SL_STORAGE_ERR_NOT_FOUND) {
        out->error_code = SL_KAFKA_ERR_UNKNOWN_SERVER_ERROR;
    }
}

void sl_dp_handle_list_offsets(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_list_offsets_request *req = r->req.body;
    struct list_offsets_state *st = sl_dp_alloc(r, 1, sizeof(*st));
    if (st == NULL)
        goto fail;
    r->hstate = st;
    sl_codec_list_offsets_response_init(&st->resp);
    int32_t nt = SL_MAX(req->topics_count, 0);
    st->resp.topics = sl_dp_alloc(r, (size_t)nt + 1, sizeof(*st->resp.topics));
    if (st->resp.topics == NULL)
        goto fail;
    st->resp.topics_count = nt;
    for (int32_t ti = 0; ti < nt; ti++) {
        const struct sl_codec_list_offsets_request_list_offsets_topic *tq = &req->topics[ti];
        struct sl_codec_list_offsets_response_list_offsets_topic_response *tout =
            &st->resp.topics[ti];
        sl_codec_list_offsets_response_list_offsets_topic_response_init(tout);
        tout->name = tq->name;
        char name[SL_MD_TOPIC_NAME_BYTES_MAX];
        const struct sl_md_topic *t = sl_dp_slice_to_cstr(tq->name, name, sizeof(name))
                                          ? sl_md_image_topic(s->image, name)
                                          : NULL;
        int32_t np = SL_MAX(tq->partitions_count, 0);
        tout->partitions = sl_dp_alloc(r, (size_t)np + 1, sizeof(*tout->partitions));
        if (tout->partitions == NULL)
            goto fail;
        tout->partitions_count = np;
        for (int32_t pi = 0; pi < np; pi++) {
            sl_codec_list_offsets_response_list_offsets_partition_response_init(
                &tout->partitions[pi]);
            one_partition(s, r, t, &tq->partitions[pi], &tout->partitions[pi]);
        }
    }
    if (r->pending_ops == 0)
        sl_dp_resume_list_offsets(s, r);
    return;
fail:
    if (r->pending_ops == 0) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
    }
}

void sl_dp_resume_list_offsets(struct sl_shard *s, struct sl_dp_request *r)
{
    struct list_offsets_state *st = r->hstate;
    for (int32_t ti = 0; ti < st->resp.topics_count; ti++) {
        for (int32_t pi = 0; pi < st->resp.topics[ti].partitions_count; pi++) {
            int16_t code = st->resp.topics[ti].partitions[pi].error_code;
            if (code != 0)
                sl_dp_stats_error(&s->stats, code);
        }
    }
    sl_dp_respond(s, r, &st->resp, 0);
}
