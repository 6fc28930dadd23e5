/* Fetch (1): whole batches from the batch cache, sent zero-copy (storage slices become
 * codec gaps, then driver segments), bounded by the high watermark, max_bytes and
 * partition_max_bytes. Partitions of other shards are read there (a partition op over
 * the shard rings) and their slices travel back by reference; every slice stays pinned
 * until the response has been transmitted, then goes back to the storage engine that
 * owns it. Below min_bytes the request parks until something is appended (on any shard)
 * or max_wait_ms passes.
 *
 * Fetch v7+ may read through a fetch session (KIP-227, dataplane/fetch_sessions.h): a
 * full fetch with epoch 0 opens one, an incremental fetch updates the session's
 * partitions with the request's and forgets forgotten_topics_data, reads them all, and
 * answers only those with something to say. The high watermark is also the last stable
 * offset (no transaction is ever open), so read_committed reads the same records.
 */
#include <string.h>

#include "dataplane/codec/kafka_errors.h"
#include "dataplane/group_host.h"
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

/* One topic of the answer, in the order partitions are read and answered. */
struct fetch_topic {
    struct sl_codec_slice name; /* v0-v12 */
    struct sl_codec_uuid id;    /* v13+ */
    uint32_t first;             /* its partitions: parts[first, first + count) */
    uint32_t count;
    struct sl_codec_fetch_response_fetchable_topic_response *out;
};

struct fetch_part {
    struct sl_dp_request *req;
    struct sl_codec_fetch_response_partition_data *out;
    uint32_t topic; /* index in fetch_state.topics */
    int32_t partition;
    int64_t fetch_offset;
    int32_t max_bytes;
    /* Session fetches: what the previous answer said (-1: never answered), so that an
     * incremental answer leaves out partitions with nothing new. */
    int64_t sent_high_watermark;
    int64_t sent_last_stable_offset;
    int64_t sent_log_start_offset;
    struct sl_log_read_result result; /* local partition */
    bool reading;
    struct fetch_op *remote; /* partition of another shard (arena), or NULL */
};

struct fetch_state {
    struct sl_codec_fetch_response resp;
    struct fetch_topic *topics;
    uint32_t topic_count;
    struct fetch_part *parts;
    uint32_t part_count;
    uint32_t bytes;
    bool deadline_set;
    int32_t session_id; /* the session this fetch reads through; 0: sessionless */
    bool incremental;   /* answer only partitions with something to say */
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
                                               const struct fetch_topic *ft)
{
    if (version >= 13) {
        struct sl_md_uuid id;
        sl_dp_uuid_from_codec(&ft->id, &id);
        return sl_md_image_topic_by_id(s->image, &id);
    }
    return sl_dp_topic_by_name(s, ft->name);
}

/* Reads every partition once (remote ones through ops). */
static void attempt(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_fetch_request *req = r->req.body;
    struct fetch_state *st = r->hstate;
    int16_t version = r->req.header.api_version;
    int64_t max_bytes = version >= 3 ? req->max_bytes : INT32_MAX;
    st->bytes = 0;
    /* pending_ops counts this pass too, so ops that come back at once cannot finish
     * the request before every partition was started. */
    r->pending_ops++;
    for (uint32_t ti = 0; ti < st->topic_count; ti++) {
        const struct fetch_topic *ft = &st->topics[ti];
        const struct sl_md_topic *t = resolve_topic(s, version, ft);
        for (uint32_t k = ft->first; k < ft->first + ft->count; k++) {
            struct fetch_part *fp = &st->parts[k];
            struct sl_codec_fetch_response_partition_data *out = fp->out;
            sl_codec_fetch_response_partition_data_init(out);
            memset(&fp->result, 0, sizeof(fp->result));
            out->partition_index = fp->partition;
            /* Never null: no transaction is ever open here (docs/protocol.md). */
            out->aborted_transactions_count = 0;
            out->records = (struct sl_codec_records){NULL, 0, NULL, NULL, 0};
            if (t == NULL) {
                out->error_code = version >= 13 ? SL_KAFKA_ERR_UNKNOWN_TOPIC_ID
                                                : SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            const struct sl_md_partition *mp = sl_md_topic_partition(t, fp->partition);
            if (mp == NULL) {
                out->error_code = SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (sl_dp_is_offsets_topic(t->name)) {
                /* Its records are the group host's log, not served to clients. */
                out->error_code = SL_KAFKA_ERR_INVALID_TOPIC_EXCEPTION;
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
            uint32_t limit = (uint32_t)SL_MIN((int64_t)SL_MAX(fp->max_bytes, 0), SL_MAX(room, 1));
            uint32_t owner = sl_dp_owner(s, &t->topic_id, fp->partition);
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
                fo->partition = fp->partition;
                fo->offset = fp->fetch_offset;
                fo->limit = (room <= 0 && st->bytes > 0) ? 0 : limit;
                sl_dp_op_send(s, &fo->op);
                continue;
            }
            struct sl_dp_partition *p = sl_dp_partition_find(s, &t->topic_id, fp->partition);
            if (p == NULL) {
                out->error_code = SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER;
                continue;
            }
            /* Reads stop at the high watermark, which is also the last stable offset:
             * read_committed and read_uncommitted see the same records. */
            int64_t hw = sl_dp_partition_hw(p);
            out->high_watermark = hw;
            out->last_stable_offset = hw;
            out->log_start_offset = sl_log_start_offset(p->log);
            if (fp->fetch_offset < sl_log_start_offset(p->log) ||
                fp->fetch_offset > sl_log_end_offset(p->log)) {
                out->error_code = SL_KAFKA_ERR_OFFSET_OUT_OF_RANGE;
                continue;
            }
            if (fp->fetch_offset >= hw || fp->max_bytes <= 0 || (room <= 0 && st->bytes > 0))
                continue;
            fp->req = r;
            enum sl_storage_err err =
                sl_log_read(p->log, fp->fetch_offset, hw, limit, &fp->result, on_read, fp);
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

/* The session key of part k (its topic as this request names it). */
static struct sl_dp_fetch_key part_key(const struct fetch_state *st, uint32_t k, bool by_id)
{
    const struct fetch_part *fp = &st->parts[k];
    const struct fetch_topic *ft = &st->topics[fp->topic];
    struct sl_dp_fetch_key key = {.partition = fp->partition};
    if (by_id)
        sl_dp_uuid_from_codec(&ft->id, &key.topic_id);
    else if (ft->name.len > 0) {
        key.name = (const char *)ft->name.ptr;
        key.name_len = (uint32_t)ft->name.len;
    }
    return key;
}

/* Session fetches: records what this answer tells the client about each partition and,
 * for an incremental fetch, leaves out the partitions with nothing new (no records, no
 * error, the same high watermark, last stable offset and log start offset as the last
 * answer), then the topics left without partitions. */
static void session_answer(struct sl_shard *s, struct sl_dp_request *r)
{
    struct fetch_state *st = r->hstate;
    bool by_id = r->req.header.api_version >= 13;
    /* NULL when closed or evicted meanwhile: the answer is still right, nothing to record. */
    struct sl_dp_fetch_session *sess = sl_dp_fetch_session_find(&s->fetch_sessions, st->session_id);
    if (sess != NULL)
        sess->last_used_ms = s->now_ms;
    uint32_t topics_kept = 0;
    for (uint32_t ti = 0; ti < st->topic_count; ti++) {
        struct fetch_topic *ft = &st->topics[ti];
        int32_t kept = 0;
        for (uint32_t k = ft->first; k < ft->first + ft->count; k++) {
            struct fetch_part *fp = &st->parts[k];
            const struct sl_codec_fetch_response_partition_data *out = fp->out;
            bool news = out->error_code != 0 || out->records.len > 0 ||
                        out->high_watermark != fp->sent_high_watermark ||
                        out->last_stable_offset != fp->sent_last_stable_offset ||
                        out->log_start_offset != fp->sent_log_start_offset;
            if (sess != NULL) {
                struct sl_dp_fetch_key key = part_key(st, k, by_id);
                int32_t i = sl_dp_fetch_session_part_find(sess, &key);
                if (i >= 0) {
                    sess->parts[i].high_watermark = out->high_watermark;
                    sess->parts[i].last_stable_offset = out->last_stable_offset;
                    sess->parts[i].log_start_offset = out->log_start_offset;
                }
            }
            /* Moves only towards the front: out (index k - first >= kept) is still intact. */
            if (news || !st->incremental)
                ft->out->partitions[kept++] = *out;
        }
        ft->out->partitions_count = kept;
        if (kept > 0)
            st->resp.responses[topics_kept++] = *ft->out;
    }
    st->resp.responses_count = (int32_t)topics_kept;
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
    if (st->session_id != 0)
        session_answer(s, r);
    sl_dp_respond(s, r, &st->resp, gaps + 1);
}

/* ---- the partitions to read: the request's, or a session's ---- */

/* Allocates the topic, partition and answer arrays; false when the arena is exhausted. */
static bool plan_alloc(struct sl_dp_request *r, struct fetch_state *st, uint32_t topics,
                       uint32_t parts)
{
    st->topics = sl_dp_alloc(r, (size_t)topics + 1, sizeof(*st->topics));
    st->parts = sl_dp_alloc(r, (size_t)parts + 1, sizeof(*st->parts));
    st->resp.responses = sl_dp_alloc(r, (size_t)topics + 1, sizeof(*st->resp.responses));
    return st->topics != NULL && st->parts != NULL && st->resp.responses != NULL;
}

/* Starts topic ti (its answer included) with count partitions from parts[first]. */
static bool plan_topic(struct sl_dp_request *r, struct fetch_state *st, uint32_t ti, uint32_t first,
                       uint32_t count)
{
    struct fetch_topic *ft = &st->topics[ti];
    struct sl_codec_fetch_response_fetchable_topic_response *tout = &st->resp.responses[ti];
    sl_codec_fetch_response_fetchable_topic_response_init(tout);
    tout->topic = ft->name;
    tout->topic_id = ft->id;
    tout->partitions = sl_dp_alloc(r, (size_t)count + 1, sizeof(*tout->partitions));
    if (tout->partitions == NULL)
        return false;
    tout->partitions_count = (int32_t)count;
    ft->first = first;
    ft->count = count;
    ft->out = tout;
    for (uint32_t i = 0; i < count; i++) {
        struct fetch_part *fp = &st->parts[first + i];
        fp->out = &tout->partitions[i];
        fp->req = r;
        fp->topic = ti;
    }
    return true;
}

static void plan_part(struct fetch_part *fp, int32_t partition, int64_t fetch_offset,
                      int32_t max_bytes, const struct sl_dp_fetch_session_part *sp)
{
    fp->partition = partition;
    fp->fetch_offset = fetch_offset;
    fp->max_bytes = max_bytes;
    fp->sent_high_watermark = sp ? sp->high_watermark : -1;
    fp->sent_last_stable_offset = sp ? sp->last_stable_offset : -1;
    fp->sent_log_start_offset = sp ? sp->log_start_offset : -1;
}

static bool plan_from_request(struct sl_dp_request *r, struct fetch_state *st)
{
    const struct sl_codec_fetch_request *req = r->req.body;
    uint32_t topics = (uint32_t)SL_MAX(req->topics_count, 0);
    uint32_t parts = 0;
    for (uint32_t i = 0; i < topics; i++)
        parts += (uint32_t)SL_MAX(req->topics[i].partitions_count, 0);
    if (!plan_alloc(r, st, topics, parts))
        return false;
    uint32_t k = 0;
    for (uint32_t ti = 0; ti < topics; ti++) {
        const struct sl_codec_fetch_request_fetch_topic *rt = &req->topics[ti];
        uint32_t np = (uint32_t)SL_MAX(rt->partitions_count, 0);
        st->topics[ti].name = rt->topic;
        st->topics[ti].id = rt->topic_id;
        for (uint32_t pi = 0; pi < np; pi++) {
            const struct sl_codec_fetch_request_fetch_partition *rp = &rt->partitions[pi];
            plan_part(&st->parts[k + pi], rp->partition, rp->fetch_offset, rp->partition_max_bytes,
                      NULL);
        }
        if (!plan_topic(r, st, ti, k, np))
            return false;
        k += np;
    }
    st->topic_count = topics;
    st->part_count = parts;
    st->resp.responses_count = (int32_t)topics;
    return true;
}

/* Every partition of the session, grouped by topic in the session's order. Names are
 * copied into the request: the session may change while this fetch waits. */
static bool plan_from_session(struct sl_dp_request *r, struct fetch_state *st,
                              const struct sl_dp_fetch_session *sess)
{
    uint32_t n = sess->part_count;
    if (!plan_alloc(r, st, n, n))
        return false;
    bool placed[SL_DP_FETCH_SESSION_PARTITIONS_MAX] = {false};
    uint32_t k = 0, ti = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (placed[i])
            continue;
        struct sl_dp_fetch_key ki = sl_dp_fetch_session_part_key(sess, i);
        struct fetch_topic *ft = &st->topics[ti];
        if (sess->by_id) {
            sl_dp_uuid_to_codec(&ki.topic_id, &ft->id);
        } else {
            uint8_t *name = sl_dp_alloc(r, (size_t)ki.name_len + 1, 1);
            if (name == NULL)
                return false;
            memcpy(name, ki.name, ki.name_len);
            ft->name = (struct sl_codec_slice){name, (int32_t)ki.name_len};
        }
        uint32_t first = k;
        for (uint32_t j = i; j < n; j++) {
            struct sl_dp_fetch_key kj = sl_dp_fetch_session_part_key(sess, j);
            kj.partition = ki.partition; /* same topic? */
            if (placed[j] || !sl_dp_fetch_key_equal(&ki, &kj, sess->by_id))
                continue;
            placed[j] = true;
            const struct sl_dp_fetch_session_part *sp = &sess->parts[j];
            plan_part(&st->parts[k++], sp->partition, sp->fetch_offset, sp->max_bytes, sp);
        }
        if (!plan_topic(r, st, ti, first, k - first))
            return false;
        ti++;
    }
    st->topic_count = ti;
    st->part_count = k;
    st->resp.responses_count = (int32_t)ti;
    return true;
}

/* ---- sessions (KIP-227), Fetch v7+ ---- */

enum fetch_mode {
    FETCH_SESSIONLESS,  /* the request's partitions, session id 0 in the answer */
    FETCH_NEW_SESSION,  /* the request's partitions, which now form a new session */
    FETCH_INCREMENTAL,  /* the session's partitions, updated by the request */
    FETCH_SESSION_ERROR /* a top-level error, no partitions */
};

static struct sl_dp_fetch_key request_key(const struct sl_codec_fetch_request_fetch_topic *rt,
                                          int32_t partition, bool by_id)
{
    struct sl_dp_fetch_key key = {.partition = partition};
    if (by_id)
        sl_dp_uuid_from_codec(&rt->topic_id, &key.topic_id);
    else if (rt->topic.len > 0) {
        key.name = (const char *)rt->topic.ptr;
        key.name_len = (uint32_t)rt->topic.len;
    }
    return key;
}

/* Adds or updates every partition of the request; false when the session has no room. */
static bool session_take_request(struct sl_dp_fetch_session *sess,
                                 const struct sl_codec_fetch_request *req)
{
    for (int32_t ti = 0; ti < req->topics_count; ti++) {
        const struct sl_codec_fetch_request_fetch_topic *rt = &req->topics[ti];
        for (int32_t pi = 0; pi < rt->partitions_count; pi++) {
            const struct sl_codec_fetch_request_fetch_partition *rp = &rt->partitions[pi];
            struct sl_dp_fetch_key key = request_key(rt, rp->partition, sess->by_id);
            if (sl_dp_fetch_session_part_set(sess, &key, rp->fetch_offset,
                                             rp->partition_max_bytes) < 0)
                return false;
        }
    }
    return true;
}

static void session_forget(struct sl_dp_fetch_session *sess,
                           const struct sl_codec_fetch_request *req)
{
    for (int32_t ti = 0; ti < req->forgotten_topics_data_count; ti++) {
        const struct sl_codec_fetch_request_forgotten_topic *ft = &req->forgotten_topics_data[ti];
        /* Same layout as a fetch topic for the key: name (v7-v12) or id (v13+). */
        struct sl_codec_fetch_request_fetch_topic rt = {.topic = ft->topic,
                                                        .topic_id = ft->topic_id};
        for (int32_t pi = 0; pi < ft->partitions_count; pi++) {
            struct sl_dp_fetch_key key = request_key(&rt, ft->partitions[pi], sess->by_id);
            sl_dp_fetch_session_part_remove(sess, &key);
        }
    }
}

/* Kafka's FetchManager.newContext: epoch 0 or -1 is a full fetch (closing session_id if
 * given; 0 also opens a new session), any other epoch an incremental fetch of session_id
 * that must carry the session's expected epoch. *sess_out: the session read through. */
static enum fetch_mode session_begin(struct sl_shard *s, struct sl_dp_request *r,
                                     struct sl_dp_fetch_session **sess_out, int16_t *error)
{
    const struct sl_codec_fetch_request *req = r->req.body;
    struct sl_dp_fetch_sessions *c = &s->fetch_sessions;
    bool by_id = r->req.header.api_version >= 13;
    struct sl_dp_fetch_session *sess = NULL;
    if (req->session_epoch == 0 || req->session_epoch == -1) {
        if (req->session_id != 0 && (sess = sl_dp_fetch_session_find(c, req->session_id)) != NULL) {
            sl_dp_fetch_session_close(c, sess);
            s->stats.fetch_sessions_closed++;
        }
        if (req->session_epoch == -1)
            return FETCH_SESSIONLESS;
        bool evicted = false;
        sess = sl_dp_fetch_session_open(c, by_id, s->now_ms, &evicted);
        s->stats.fetch_sessions_evicted += evicted ? 1 : 0;
        if (sess != NULL && !session_take_request(sess, req)) {
            sl_dp_fetch_session_close(c, sess);
            sess = NULL;
        }
        if (sess == NULL) {
            s->stats.fetch_sessions_refused++;
            return FETCH_SESSIONLESS;
        }
        s->stats.fetch_sessions_created++;
        *sess_out = sess;
        return FETCH_NEW_SESSION;
    }
    sess = sl_dp_fetch_session_find(c, req->session_id);
    if (sess == NULL) {
        *error = SL_KAFKA_ERR_FETCH_SESSION_ID_NOT_FOUND;
        return FETCH_SESSION_ERROR;
    }
    if (sess->by_id != by_id) {
        *error = SL_KAFKA_ERR_FETCH_SESSION_TOPIC_ID_ERROR;
        return FETCH_SESSION_ERROR;
    }
    if (req->session_epoch != sess->epoch) {
        *error = SL_KAFKA_ERR_INVALID_FETCH_SESSION_EPOCH;
        return FETCH_SESSION_ERROR;
    }
    sess->epoch = sl_dp_fetch_session_next_epoch(sess->epoch);
    sess->last_used_ms = s->now_ms;
    if (!session_take_request(sess, req)) {
        /* Grown past its bound: dropped; the client's next full fetch goes sessionless. */
        sl_dp_fetch_session_close(c, sess);
        s->stats.fetch_sessions_refused++;
        *error = SL_KAFKA_ERR_FETCH_SESSION_ID_NOT_FOUND;
        return FETCH_SESSION_ERROR;
    }
    session_forget(sess, req);
    s->stats.fetch_incremental++;
    *sess_out = sess;
    return FETCH_INCREMENTAL;
}

void sl_dp_handle_fetch(struct sl_shard *s, struct sl_dp_request *r)
{
    struct fetch_state *st = sl_dp_alloc(r, 1, sizeof(*st));
    if (st == NULL) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    sl_codec_fetch_response_init(&st->resp);
    r->hstate = st; /* from here on fetch_release may run (no partitions yet) */
    enum fetch_mode mode = FETCH_SESSIONLESS;
    struct sl_dp_fetch_session *sess = NULL;
    int16_t error = 0;
    if (r->req.header.api_version >= 7)
        mode = session_begin(s, r, &sess, &error);
    s->stats.fetch_sessions_open = s->fetch_sessions.open_count;
    if (mode == FETCH_SESSION_ERROR) {
        st->resp.error_code = error;
        sl_dp_stats_error(&s->stats, error);
        sl_dp_respond(s, r, &st->resp, 0);
        return;
    }
    bool planned =
        mode == FETCH_INCREMENTAL ? plan_from_session(r, st, sess) : plan_from_request(r, st);
    if (!planned) {
        st->topic_count = 0;
        st->part_count = 0;
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    if (sess != NULL) {
        st->session_id = sess->id;
        st->incremental = mode == FETCH_INCREMENTAL;
    }
    st->resp.session_id = st->session_id;
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
