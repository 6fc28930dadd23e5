/* Fetch (1): whole batches from the batch cache, sent zero-copy (storage slices become
 * codec gaps, then driver segments), bounded by the high watermark, max_bytes and
 * partition_max_bytes. Partitions of other shards are read there (a partition op over
 * the shard rings) and their slices travel back by reference; every slice stays pinned
 * until the response has been transmitted, then goes back to the storage engine that
 * owns it. Below min_bytes the request parks until something is appended (on any shard)
 * or max_wait_ms passes.
 */
#include <string.h>

#include "dataplane/codec/kafka_errors.h"
#include "dataplane/handlers/handlers.h"

/* A read of a partition owned by another shard; runs there, slices come back. */
struct fetch_op {
    struct sl_dp_part_op op;
    struct sl_md_uuid topic_id;
    int32_t partition;
    int64_t offset;
    uint32_t limit;
    bool release; /* this trip releases result's slices on the owner */
    bool pinned;  /* result holds slices of the owner's storage */
    int16_t error_code;
    int64_t high_watermark;
    int64_t log_start_offset;
    struct sl_log_read_result result;
};

struct fetch_part {
    struct sl_dp_request *req;
    struct sl_codec_fetch_response_partition_data *out;
    struct sl_log_read_result result; /* local partition */
    bool reading;
    struct fetch_op *remote; /* partition of another shard (arena), or NULL */
};

struct fetch_state {
    struct sl_codec_fetch_response resp;
    struct fetch_part *parts;
    uint32_t part_count;
    uint32_t bytes;
    bool deadline_set;
};

static void finish(struct sl_shard *s, struct sl_dp_request *r);

/* ---- owner side ---- */

static void owner_on_read(void *ctx, struct sl_log *log, struct sl_log_read_result *result)
{
    (void)log;
    struct fetch_op *fo = ctx;
    if (result->err == SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE)
        fo->error_code = SL_KAFKA_ERR_OFFSET_OUT_OF_RANGE;
    if (result->err != SL_STORAGE_OK)
        result->slice_count = 0;
    fo->pinned = result->slice_count > 0;
}

static void owner_read_done(void *ctx, struct sl_log *log, struct sl_log_read_result *result);

static void owner_run(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct fetch_op *fo = (struct fetch_op *)op;
    if (fo->release) {
        sl_log_read_release(s->storage, &fo->result);
        fo->pinned = false;
        sl_dp_op_reply(s, op);
        return;
    }
    memset(&fo->result, 0, sizeof(fo->result));
    fo->pinned = false;
    struct sl_dp_partition *p = sl_dp_partition_find(s, &fo->topic_id, fo->partition);
    if (p == NULL) {
        fo->error_code = SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER;
        sl_dp_op_reply(s, op);
        return;
    }
    int64_t hw = sl_dp_partition_hw(p);
    fo->high_watermark = hw;
    fo->log_start_offset = sl_log_start_offset(p->log);
    if (fo->offset < sl_log_start_offset(p->log) || fo->offset > sl_log_end_offset(p->log)) {
        fo->error_code = SL_KAFKA_ERR_OFFSET_OUT_OF_RANGE;
        sl_dp_op_reply(s, op);
        return;
    }
    if (fo->offset >= hw || fo->limit == 0) {
        sl_dp_op_reply(s, op);
        return;
    }
    enum sl_storage_err err =
        sl_log_read(p->log, fo->offset, hw, fo->limit, &fo->result, owner_read_done, fo);
    if (err == SL_STORAGE_IN_PROGRESS) {
        s->stats.fetch_cold_reads++;
        return; /* owner_read_done replies */
    }
    if (err == SL_STORAGE_OK)
        fo->pinned = fo->result.slice_count > 0;
    else if (err == SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE)
        fo->error_code = SL_KAFKA_ERR_OFFSET_OUT_OF_RANGE;
    sl_dp_op_reply(s, op);
}

static void owner_read_done(void *ctx, struct sl_log *log, struct sl_log_read_result *result)
{
    struct fetch_op *fo = ctx;
    owner_on_read(ctx, log, result);
    /* The owner is the shard running sl_storage_poll: the one the op is addressed to. */
    sl_dp_op_reply(fo->op.req->shard->peers[fo->op.owner], &fo->op);
}

/* ---- home side ---- */

static void home_done(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct fetch_op *fo = (struct fetch_op *)op;
    struct sl_dp_request *r = op->req;
    if (!fo->release) {
        struct fetch_state *st = r->hstate;
        st->bytes += fo->pinned ? fo->result.bytes : 0;
    }
    sl_dp_op_finished(s, r);
}

/* Drops every pin: local slices now, remote ones by a release trip (pending_ops). */
static void release_all(struct sl_shard *s, struct sl_dp_request *r)
{
    struct fetch_state *st = r->hstate;
    for (uint32_t i = 0; i < st->part_count; i++) {
        struct fetch_part *fp = &st->parts[i];
        if (!fp->reading)
            sl_log_read_release(s->storage, &fp->result);
        if (fp->remote != NULL && fp->remote->pinned) {
            fp->remote->release = true;
            fp->remote->pinned = false;
            sl_dp_op_send(s, &fp->remote->op);
        }
    }
}

static bool fetch_release(struct sl_shard *s, struct sl_dp_request *r)
{
    release_all(s, r);
    return r->pending_ops > 0;
}

static void on_read(void *ctx, struct sl_log *log, struct sl_log_read_result *result)
{
    (void)log;
    struct fetch_part *fp = ctx;
    struct sl_dp_request *r = fp->req;
    struct sl_shard *s = r->shard;
    struct fetch_state *st = r->hstate;
    fp->reading = false;
    if (result->err == SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE)
        fp->out->error_code = SL_KAFKA_ERR_OFFSET_OUT_OF_RANGE;
    if (result->err != SL_STORAGE_OK)
        result->slice_count = 0;
    st->bytes += result->err == SL_STORAGE_OK ? result->bytes : 0;
    if (sl_dp_request_orphaned(r))
        release_all(s, r);
    sl_dp_op_finished(s, r);
}

static const struct sl_md_topic *resolve_topic(struct sl_shard *s, int16_t version,
                                               const struct sl_codec_fetch_request_fetch_topic *ft)
{
    if (version >= 13) {
        struct sl_md_uuid id;
        sl_dp_uuid_from_codec(&ft->topic_id, &id);
        return sl_md_image_topic_by_id(s->image, &id);
    }
    return sl_dp_topic_by_name(s, ft->topic);
}

/* Reads every partition once (remote ones through ops). */
static void attempt(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_fetch_request *req = r->req.body;
    struct fetch_state *st = r->hstate;
    int16_t version = r->req.header.api_version;
    int64_t max_bytes = version >= 3 ? req->max_bytes : INT32_MAX;
    st->bytes = 0;
    uint32_t k = 0;
    /* pending_ops counts this pass too, so ops that come back at once cannot finish
     * the request before every partition was started. */
    r->pending_ops++;
    for (int32_t ti = 0; ti < req->topics_count; ti++) {
        const struct sl_codec_fetch_request_fetch_topic *ft = &req->topics[ti];
        const struct sl_md_topic *t = resolve_topic(s, version, ft);
        for (int32_t pi = 0; pi < ft->partitions_count; pi++, k++) {
            const struct sl_codec_fetch_request_fetch_partition *fpq = &ft->partitions[pi];
            struct fetch_part *fp = &st->parts[k];
            struct sl_codec_fetch_response_partition_data *out = fp->out;
            sl_codec_fetch_response_partition_data_init(out);
            memset(&fp->result, 0, sizeof(fp->result));
            out->partition_index = fpq->partition;
            out->aborted_transactions_count = 0;
            out->records = (struct sl_codec_records){NULL, 0, NULL, NULL, 0};
            if (t == NULL) {
                out->error_code = version >= 13 ? SL_KAFKA_ERR_UNKNOWN_TOPIC_ID
                                                : SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            const struct sl_md_partition *mp = sl_md_topic_partition(t, fpq->partition);
            if (mp == NULL) {
                out->error_code = SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (mp->leader != s->opts.node_id) {
                /* v12+ clients learn the leader without a Metadata round trip. */
                out->error_code = SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER;
                out->current_leader.leader_id = mp->leader;
                out->current_leader.leader_epoch = mp->leader_epoch;
                continue;
            }
            int64_t room = max_bytes - (int64_t)st->bytes;
            uint32_t limit =
                (uint32_t)SL_MIN((int64_t)SL_MAX(fpq->partition_max_bytes, 0), SL_MAX(room, 1));
            uint32_t owner = sl_dp_owner(s, &t->topic_id, fpq->partition);
            if (owner != s->opts.shard_id) {
                if (fp->remote == NULL)
                    fp->remote = sl_dp_alloc(r, 1, sizeof(*fp->remote));
                if (fp->remote == NULL) {
                    out->error_code = SL_KAFKA_ERR_UNKNOWN_SERVER_ERROR;
                    continue;
                }
                struct fetch_op *fo = fp->remote;
                SL_ASSERT(!fo->pinned);
                memset(fo, 0, sizeof(*fo));
                fo->op.req = r;
                fo->op.owner = owner;
                fo->op.run = owner_run;
                fo->op.done = home_done;
                fo->topic_id = t->topic_id;
                fo->partition = fpq->partition;
                fo->offset = fpq->fetch_offset;
                fo->limit = (room <= 0 && st->bytes > 0) ? 0 : limit;
                sl_dp_op_send(s, &fo->op);
                continue;
            }
            struct sl_dp_partition *p = sl_dp_partition_find(s, &t->topic_id, fpq->partition);
            if (p == NULL) {
                out->error_code = SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER;
                continue;
            }
            int64_t hw = sl_dp_partition_hw(p);
            out->high_watermark = hw;
            out->last_stable_offset = hw;
            out->log_start_offset = sl_log_start_offset(p->log);
            if (fpq->fetch_offset < sl_log_start_offset(p->log) ||
                fpq->fetch_offset > sl_log_end_offset(p->log)) {
                out->error_code = SL_KAFKA_ERR_OFFSET_OUT_OF_RANGE;
                continue;
            }
            if (fpq->fetch_offset >= hw || fpq->partition_max_bytes <= 0 ||
                (room <= 0 && st->bytes > 0))
                continue;
            fp->req = r;
            enum sl_storage_err err =
                sl_log_read(p->log, fpq->fetch_offset, hw, limit, &fp->result, on_read, fp);
            if (err == SL_STORAGE_OK) {
                st->bytes += fp->result.bytes;
            } else if (err == SL_STORAGE_IN_PROGRESS) {
                fp->reading = true;
                r->pending_ops++;
                s->stats.fetch_cold_reads++;
            } else if (err == SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE) {
                out->error_code = SL_KAFKA_ERR_OFFSET_OUT_OF_RANGE;
            }
            /* BUSY / NO_BUFFER: answer this partition empty; the client fetches again. */
        }
    }
    sl_dp_op_finished(s, r); /* this pass; resumes into finish() when nothing is pending */
}

static void finish(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_fetch_request *req = r->req.body;
    struct fetch_state *st = r->hstate;
    if (!st->deadline_set) {
        st->deadline_set = true;
        r->deadline_ms = s->now_ms + SL_MAX(req->max_wait_ms, 0);
    }
    bool stopping = !s->listening;
    if ((int64_t)st->bytes < (int64_t)req->min_bytes && s->now_ms < r->deadline_ms && !stopping) {
        s->stats.fetch_parked++;
        r->parked = true;
        sl_dp_wait_push(&s->parked, r);
        release_all(s, r); /* remote releases complete while parked */
        return;
    }
    uint32_t gaps = 0;
    for (uint32_t i = 0; i < st->part_count; i++) {
        struct fetch_part *fp = &st->parts[i];
        struct sl_log_read_result *res = &fp->result;
        if (fp->remote != NULL) {
            struct fetch_op *fo = fp->remote;
            fp->out->error_code = fo->error_code;
            fp->out->high_watermark = fo->high_watermark;
            fp->out->last_stable_offset = fo->high_watermark;
            fp->out->log_start_offset = fo->log_start_offset;
            res = fo->pinned ? &fo->result : NULL;
        }
        if (res == NULL || res->slice_count == 0)
            continue;
        struct sl_codec_segment *segs = sl_dp_alloc(r, res->slice_count, sizeof(*segs));
        if (segs == NULL)
            continue; /* answered empty; the pins go at the end of the request */
        /* Owner NULL: pins are dropped all at once when the request ends (fetch_release),
         * which also covers slices of other shards' engines. */
        for (uint32_t j = 0; j < res->slice_count; j++)
            segs[j] = (struct sl_codec_segment){res->slices[j].data, res->slices[j].len, NULL};
        fp->out->records =
            (struct sl_codec_records){NULL, (int32_t)res->bytes, NULL, segs, res->slice_count};
        gaps += res->slice_count;
        s->stats.fetch_bytes += res->bytes;
    }
    for (uint32_t i = 0; i < st->part_count; i++) {
        if (st->parts[i].out->error_code != 0)
            sl_dp_stats_error(&s->stats, st->parts[i].out->error_code);
    }
    sl_dp_respond(s, r, &st->resp, gaps + 1);
}

void sl_dp_handle_fetch(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_fetch_request *req = r->req.body;
    struct fetch_state *st = sl_dp_alloc(r, 1, sizeof(*st));
    uint32_t parts = 0;
    for (int32_t i = 0; i < req->topics_count; i++)
        parts += (uint32_t)SL_MAX(req->topics[i].partitions_count, 0);
    if (st != NULL) {
        st->parts = sl_dp_alloc(r, parts + 1, sizeof(*st->parts));
        sl_codec_fetch_response_init(&st->resp);
        st->resp.responses =
            sl_dp_alloc(r, (size_t)SL_MAX(req->topics_count, 0) + 1, sizeof(*st->resp.responses));
    }
    if (st == NULL || st->parts == NULL || st->resp.responses == NULL) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    st->resp.responses_count = SL_MAX(req->topics_count, 0);
    st->resp.session_id = 0;
    uint32_t k = 0;
    for (int32_t ti = 0; ti < req->topics_count; ti++) {
        const struct sl_codec_fetch_request_fetch_topic *ft = &req->topics[ti];
        struct sl_codec_fetch_response_fetchable_topic_response *tout = &st->resp.responses[ti];
        sl_codec_fetch_response_fetchable_topic_response_init(tout);
        tout->topic = ft->topic;
        tout->topic_id = ft->topic_id;
        int32_t np = SL_MAX(ft->partitions_count, 0);
        tout->partitions = sl_dp_alloc(r, (size_t)np + 1, sizeof(*tout->partitions));
        if (tout->partitions == NULL) {
            sl_dp_request_close_conn(s, r);
            sl_dp_respond_none(s, r);
            return;
        }
        tout->partitions_count = np;
        for (int32_t pi = 0; pi < np; pi++, k++) {
            st->parts[k].out = &tout->partitions[pi];
            st->parts[k].req = r;
        }
    }
    st->part_count = parts;
    r->hstate = st; /* from here on fetch_release may run */
    attempt(s, r);
}

void sl_dp_resume_fetch(struct sl_shard *s, struct sl_dp_request *r)
{
    finish(s, r);
}

bool sl_dp_release_fetch(struct sl_shard *s, struct sl_dp_request *r)
{
    return fetch_release(s, r);
}

void sl_dp_fetch_poll_parked(struct sl_shard *s)
{
    bool appended = s->appended;
    s->appended = false;
    if (s->opts.shard_count > 1 && sl_dp_route_peer_appended(s))
        appended = true;
    struct sl_dp_request *r = s->parked;
    while (r != NULL) {
        struct sl_dp_request *next = r->wait_next;
        /* A parked fetch still releasing remote pins waits for them first. */
        if (r->pending_ops == 0 && (appended || s->now_ms >= r->deadline_ms)) {
            sl_dp_wait_remove(&s->parked, r);
            r->parked = false;
            attempt(s, r);
        }
        r = next;
    }
}
