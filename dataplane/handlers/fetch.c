/* Fetch (1): whole batches from the batch cache, sent zero-copy (storage slices become
 * codec gaps, then driver segments whose release drops the storage pin), bounded by the
 * high watermark, max_bytes and partition_max_bytes. Below min_bytes the request parks
 * until something is appended or max_wait_ms passes.
 */
#include <string.h>

#include "dataplane/codec/kafka_errors.h"
#include "dataplane/handlers/handlers.h"

struct fetch_part {
    struct sl_dp_request *req;
    struct sl_codec_fetch_response_partition_data *out;
    struct sl_log_read_result result;
    bool reading;
};

struct fetch_state {
    struct sl_codec_fetch_response resp;
    struct fetch_part *parts;
    uint32_t part_count;
    uint32_t bytes;
    bool deadline_set;
};

static void release_all(struct sl_shard *s, struct fetch_state *st)
{
    for (uint32_t i = 0; i < st->part_count; i++) {
        if (!st->parts[i].reading)
            sl_log_read_release(s->storage, &st->parts[i].result);
    }
}

static void finish(struct sl_shard *s, struct sl_dp_request *r);

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
    r->pending_ops--;
    if (r->pending_ops > 0)
        return;
    if (sl_dp_request_orphaned(r)) {
        release_all(s, st);
        sl_dp_request_reap_orphan(s, r);
        return;
    }
    finish(s, r);
}

static const struct sl_md_topic *resolve_topic(struct sl_shard *s, int16_t version,
                                               const struct sl_codec_fetch_request_fetch_topic *ft)
{
    if (version >= 13) {
        struct sl_md_uuid id;
        sl_dp_uuid_from_codec(&ft->topic_id, &id);
        return sl_md_image_topic_by_id(s->image, &id);
    }
    char name[SL_MD_TOPIC_NAME_BYTES_MAX];
    if (!sl_dp_slice_to_cstr(ft->topic, name, sizeof(name)))
        return NULL;
    return sl_md_image_topic(s->image, name);
}

/* Reads every partition once. */
static void attempt(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_fetch_request *req = r->req.body;
    struct fetch_state *st = r->hstate;
    int16_t version = r->req.header.api_version;
    int64_t max_bytes = version >= 3 ? req->max_bytes : INT32_MAX;
    st->bytes = 0;
    uint32_t k = 0;
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
            struct sl_dp_partition *p = sl_dp_partition_find(s, &t->topic_id, fpq->partition);
            if (mp->leader != s->opts.node_id || p == NULL) {
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
            int64_t room = max_bytes - (int64_t)st->bytes;
            if (fpq->fetch_offset >= hw || fpq->partition_max_bytes <= 0 ||
                (room <= 0 && st->bytes > 0))
                continue;
            uint32_t limit = (uint32_t)SL_MIN((int64_t)fpq->partition_max_bytes, SL_MAX(room, 1));
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
    if (r->pending_ops == 0)
        finish(s, r);
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
        release_all(s, st);
        if (!r->parked) {
            s->stats.fetch_parked++;
            r->parked = true;
            sl_dp_wait_push(&s->parked, r);
        }
        return;
    }
    uint32_t gaps = 0;
    for (uint32_t i = 0; i < st->part_count; i++) {
        struct fetch_part *fp = &st->parts[i];
        if (fp->result.slice_count == 0)
            continue;
        struct sl_codec_segment *segs = sl_dp_alloc(r, fp->result.slice_count, sizeof(*segs));
        if (segs == NULL) {
            sl_log_read_release(s->storage, &fp->result);
            continue;
        }
        for (uint32_t j = 0; j < fp->result.slice_count; j++)
            segs[j] = (struct sl_codec_segment){fp->result.slices[j].data, fp->result.slices[j].len,
                                                (void *)fp->result.slices[j].data};
        fp->out->records = (struct sl_codec_records){NULL, (int32_t)fp->result.bytes, NULL, segs,
                                                     fp->result.slice_count};
        gaps += fp->result.slice_count;
        s->stats.fetch_bytes += fp->result.bytes;
    }
    for (uint32_t i = 0; i < st->part_count; i++) {
        if (st->parts[i].out->error_code != 0)
            sl_dp_stats_error(&s->stats, st->parts[i].out->error_code);
    }
    if (sl_dp_respond(s, r, &st->resp, gaps + 1)) {
        for (uint32_t i = 0; i < st->part_count; i++)
            st->parts[i].result.slice_count = 0; /* the response owns the pins now */
    } else {
        release_all(s, st);
    }
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
    r->hstate = st;
    st->part_count = parts;
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
    attempt(s, r);
}

void sl_dp_resume_fetch(struct sl_shard *s, struct sl_dp_request *r)
{
    attempt(s, r);
}

void sl_dp_fetch_poll_parked(struct sl_shard *s)
{
    bool appended = s->appended;
    s->appended = false;
    struct sl_dp_request *r = s->parked;
    while (r != NULL) {
        struct sl_dp_request *next = r->wait_next;
        if (appended || s->now_ms >= r->deadline_ms) {
            sl_dp_wait_remove(&s->parked, r);
            r->parked = false;
            attempt(s, r);
        }
        r = next;
    }
}
