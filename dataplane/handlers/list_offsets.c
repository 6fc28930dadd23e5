/* ListOffsets (2): earliest (-2) = log start offset, latest (-1) = high watermark, or
 * the first batch whose max timestamp >= the given time (storage's time index; may need
 * a disk read, answered when it completes). Partitions of other shards are looked up
 * there (a partition op). v0 answers old_style_offsets with the one offset found.
 *
 * v7+ max timestamp (-3, KIP-734): the first record carrying the partition's largest
 * timestamp, found as a timestamp lookup of that maximum. v8+ earliest local (-4,
 * KIP-405) is the log start offset: every segment is local. v9+ latest tiered (-5,
 * KIP-1005) answers offset -1, as Kafka does without remote storage. v10's timeout_ms
 * bounds remote lookups, which sluice never makes.
 */
#include <string.h>

#include "dataplane/codec/kafka_errors.h"
#include "dataplane/group_host.h"
#include "dataplane/handlers/handlers.h"

#define SL_DP_LIST_OFFSETS_EARLIEST       (-2)
#define SL_DP_LIST_OFFSETS_LATEST         (-1)
#define SL_DP_LIST_OFFSETS_MAX_TIMESTAMP  (-3)
#define SL_DP_LIST_OFFSETS_EARLIEST_LOCAL (-4)
#define SL_DP_LIST_OFFSETS_LATEST_TIERED  (-5)

/* One partition's lookup; runs on the owning shard (through the op when remote). */
struct lookup {
    struct sl_dp_part_op op;
    struct sl_shard *owner_shard;
    struct sl_md_uuid topic_id;
    int32_t partition;
    int64_t timestamp;
    int64_t hw;
    bool remote;
    /* results */
    int16_t error_code;
    int64_t offset;
    int64_t found_timestamp;
    struct sl_codec_list_offsets_response_list_offsets_partition_response *out; /* home */
};

struct list_offsets_state {
    struct sl_codec_list_offsets_response resp;
};

static void copy_out(struct lookup *lk)
{
    lk->out->error_code = lk->error_code;
    lk->out->offset = lk->offset;
    lk->out->timestamp = lk->found_timestamp;
}

static void lookup_finished(struct lookup *lk)
{
    if (lk->remote) {
        sl_dp_op_reply(lk->owner_shard, &lk->op);
        return;
    }
    copy_out(lk);
    sl_dp_op_finished(lk->owner_shard, lk->op.req);
}

static void on_lookup(void *ctx, struct sl_log *log, enum sl_storage_err err, int64_t offset,
                      int64_t timestamp)
{
    (void)log;
    struct lookup *lk = ctx;
    if (err == SL_STORAGE_OK && offset < lk->hw) {
        lk->offset = offset;
        lk->found_timestamp = timestamp;
    } else if (err != SL_STORAGE_OK && err != SL_STORAGE_ERR_NOT_FOUND) {
        lk->error_code = SL_KAFKA_ERR_UNKNOWN_SERVER_ERROR;
    }
    lookup_finished(lk);
}

/* On the owning shard: fills the results, at once or from on_lookup. */
static void lookup_run(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct lookup *lk = (struct lookup *)op;
    lk->owner_shard = s;
    lk->offset = -1;
    lk->found_timestamp = -1;
    struct sl_dp_partition *p = sl_dp_partition_find(s, &lk->topic_id, lk->partition);
    if (p == NULL) {
        lk->error_code = SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER;
        lookup_finished(lk);
        return;
    }
    lk->hw = sl_dp_partition_hw(p);
    int64_t target = lk->timestamp;
    if (target == SL_DP_LIST_OFFSETS_MAX_TIMESTAMP)
        target = sl_log_max_timestamp(p->log); /* -1 when empty: nothing to find */
    if (lk->timestamp == SL_DP_LIST_OFFSETS_EARLIEST ||
        lk->timestamp == SL_DP_LIST_OFFSETS_EARLIEST_LOCAL) {
        lk->offset = sl_log_start_offset(p->log);
    } else if (lk->timestamp == SL_DP_LIST_OFFSETS_LATEST) {
        /* Also the last stable offset read_committed (isolation_level 1) asks for: no
         * transaction is ever open here (docs/protocol.md, "Transactions"). */
        lk->offset = lk->hw;
    } else if (lk->timestamp == SL_DP_LIST_OFFSETS_LATEST_TIERED) {
        /* Nothing is tiered: offset -1 (initialised above). */
    } else if (lk->timestamp == SL_DP_LIST_OFFSETS_MAX_TIMESTAMP && target < 0) {
        /* Empty log: offset and timestamp -1, as Kafka answers. */
    } else if (target < 0) {
        lk->error_code = SL_KAFKA_ERR_INVALID_REQUEST;
    } else {
        int64_t offset = -1, ts = -1;
        enum sl_storage_err err =
            sl_log_offset_for_timestamp(p->log, target, &offset, &ts, on_lookup, lk);
        if (err == SL_STORAGE_IN_PROGRESS)
            return; /* on_lookup finishes */
        if (err == SL_STORAGE_OK && offset < lk->hw) {
            lk->offset = offset;
            lk->found_timestamp = ts;
        } else if (err != SL_STORAGE_OK && err != SL_STORAGE_ERR_NOT_FOUND) {
            lk->error_code = SL_KAFKA_ERR_UNKNOWN_SERVER_ERROR;
        }
    }
    lookup_finished(lk);
}

static void lookup_done(struct sl_shard *s, struct sl_dp_part_op *op)
{
    copy_out((struct lookup *)op);
    sl_dp_op_finished(s, op->req);
}

static void
one_partition(struct sl_shard *s, struct sl_dp_request *r, const struct sl_md_topic *t,
              const struct sl_codec_list_offsets_request_list_offsets_partition *pq,
              struct sl_codec_list_offsets_response_list_offsets_partition_response *out)
{
    out->partition_index = pq->partition_index;
    out->offset = -1;
    out->timestamp = -1;
    const struct sl_md_partition *mp =
        sl_dp_led_partition(s, t, pq->partition_index, &out->error_code);
    if (mp == NULL)
        return;
    if (sl_dp_is_offsets_topic(t->name)) {
        out->error_code = SL_KAFKA_ERR_INVALID_TOPIC_EXCEPTION; /* the group host's log */
        return;
    }
    out->leader_epoch = mp->leader_epoch;
    struct lookup *lk = sl_dp_alloc(r, 1, sizeof(*lk));
    if (lk == NULL) {
        out->error_code = SL_KAFKA_ERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    bool local =
        sl_dp_op_init(s, &lk->op, r, &t->topic_id, pq->partition_index, lookup_run, lookup_done);
    lk->topic_id = t->topic_id;
    lk->partition = pq->partition_index;
    lk->timestamp = pq->timestamp;
    lk->out = out;
    if (!local) {
        lk->remote = true;
        sl_dp_op_send(s, &lk->op);
        return;
    }
    r->pending_ops++; /* lookup_finished drops it */
    lookup_run(s, &lk->op);
}

void sl_dp_handle_list_offsets(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_list_offsets_request *req = r->req.body;
    struct list_offsets_state *st = sl_dp_alloc(r, 1, sizeof(*st));
    int32_t nt = SL_MAX(req->topics_count, 0);
    if (st != NULL) {
        sl_codec_list_offsets_response_init(&st->resp);
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
        const struct sl_codec_list_offsets_request_list_offsets_topic *tq = &req->topics[ti];
        struct sl_codec_list_offsets_response_list_offsets_topic_response *tout =
            &st->resp.topics[ti];
        sl_codec_list_offsets_response_list_offsets_topic_response_init(tout);
        tout->name = tq->name;
        const struct sl_md_topic *t = sl_dp_topic_by_name(s, tq->name);
        int32_t np = SL_MAX(tq->partitions_count, 0);
        tout->partitions = sl_dp_alloc(r, (size_t)np + 1, sizeof(*tout->partitions));
        if (tout->partitions == NULL)
            np = 0; /* answered without partitions; the arena bound was reached */
        tout->partitions_count = np;
        for (int32_t pi = 0; pi < np; pi++) {
            sl_codec_list_offsets_response_list_offsets_partition_response_init(
                &tout->partitions[pi]);
            one_partition(s, r, t, &tq->partitions[pi], &tout->partitions[pi]);
        }
    }
    sl_dp_op_finished(s, r);
}

void sl_dp_resume_list_offsets(struct sl_shard *s, struct sl_dp_request *r)
{
    struct list_offsets_state *st = r->hstate;
    for (int32_t ti = 0; ti < st->resp.topics_count; ti++) {
        for (int32_t pi = 0; pi < st->resp.topics[ti].partitions_count; pi++) {
            struct sl_codec_list_offsets_response_list_offsets_partition_response *p =
                &st->resp.topics[ti].partitions[pi];
            if (p->error_code != 0)
                sl_dp_stats_error(&s->stats, p->error_code);
            /* v0 answers a list of offsets: the one found, if any. */
            p->old_style_offsets_count = 0;
            if (r->req.header.api_version == 0 && p->error_code == 0 && p->offset >= 0) {
                p->old_style_offsets = sl_dp_alloc(r, 1, sizeof(int64_t));
                if (p->old_style_offsets != NULL) {
                    p->old_style_offsets[0] = p->offset;
                    p->old_style_offsets_count = 1;
                }
            }
        }
    }
    sl_dp_respond(s, r, &st->resp, 0);
}
