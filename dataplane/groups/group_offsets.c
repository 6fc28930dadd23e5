/* Committed offsets: OffsetCommit (acknowledged once durable), OffsetFetch, OffsetDelete,
 * and the retention / deleted-topic cleanup. */
#include <errno.h>
#include <string.h>

#include "common/sl_assert.h"
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/groups/group_internal.h"

#define RING_ALIGN 8u

static uint32_t align_up(uint32_t n)
{
    return (n + RING_ALIGN - 1) & ~(RING_ALIGN - 1);
}

/* ---- the pending-commit ring -------------------------------------------------------- */

/* Contiguous bytes for a waiting commit's response; freed oldest first. Returns the start
 * offset or UINT32_MAX when the ring cannot hold @size now. */
static uint32_t ring_alloc(struct sl_group_coordinator *c, uint32_t size)
{
    uint32_t cap = c->config.pending_commit_bytes;
    if (c->pending_count == 0)
        c->ring_head = c->ring_tail = 0;
    if (size > cap)
        return UINT32_MAX;
    if (c->pending_count == 0 || c->ring_head > c->ring_tail) {
        if (cap - c->ring_head >= size)
            return c->ring_head;
        if (c->pending_count > 0 && c->ring_tail > size)
            return 0;
        return c->pending_count == 0 ? 0 : UINT32_MAX;
    }
    if (c->ring_tail - c->ring_head > size)
        return c->ring_head;
    return UINT32_MAX;
}

void sl_group_complete_commits(struct sl_group_coordinator *c, uint64_t batch_id, int16_t error)
{
    while (c->pending_count > 0) {
        struct sl_group_pending_commit *p = &c->pending[c->pending_head];
        if (p->batch_id > batch_id)
            break;
        struct sl_codec_offset_commit_response *r = p->resp;
        if (error != SL_KAFKA_ERR_NONE) {
            for (int32_t t = 0; t < r->topics_count; t++) {
                for (int32_t k = 0; k < r->topics[t].partitions_count; k++)
                    r->topics[t].partitions[k].error_code = error;
            }
        }
        c->pending_head = (c->pending_head + 1) % c->config.pending_commits_max;
        c->pending_count--;
        if (c->pending_count > 0)
            c->ring_tail = c->pending[c->pending_head].start;
        else
            c->ring_head = c->ring_tail = 0;
        c->cb.commit_done(c->cb.ctx, p->req_ctx, r);
    }
}

/* ---- OffsetCommit ----------------------------------------------------------------- */

/* Lays out a response mirroring the request's topics and partitions in @mem (or, with
 * mem NULL, returns only the size needed). Topic names are copied. */
static uint32_t commit_response_layout(const struct sl_codec_offset_commit_request *req,
                                       uint8_t *mem, struct sl_codec_offset_commit_response **out)
{
    int32_t topics = req->topics_count < 0 ? 0 : req->topics_count;
    uint32_t size = align_up(sizeof(struct sl_codec_offset_commit_response));
    uint32_t topics_at = size;
    size += align_up((uint32_t)topics *
                     sizeof(struct sl_codec_offset_commit_response_offset_commit_response_topic));
    for (int32_t t = 0; t < topics; t++) {
        int32_t parts = req->topics[t].partitions_count < 0 ? 0 : req->topics[t].partitions_count;
        size += align_up(
            (uint32_t)parts *
            sizeof(struct sl_codec_offset_commit_response_offset_commit_response_partition));
        size += align_up(sl_group_slice_len(req->topics[t].name));
    }
    if (mem == NULL)
        return size;
    struct sl_codec_offset_commit_response *r = (void *)mem;
    sl_codec_offset_commit_response_init(r);
    r->topics = (void *)(mem + topics_at);
    r->topics_count = topics;
    uint32_t at = topics_at + align_up((uint32_t)topics * sizeof(*r->topics));
    for (int32_t t = 0; t < topics; t++) {
        const struct sl_codec_offset_commit_request_offset_commit_request_topic *rt =
            &req->topics[t];
        struct sl_codec_offset_commit_response_offset_commit_response_topic *ot = &r->topics[t];
        memset(ot, 0, sizeof(*ot));
        int32_t parts = rt->partitions_count < 0 ? 0 : rt->partitions_count;
        ot->partitions = (void *)(mem + at);
        ot->partitions_count = parts;
        at += align_up((uint32_t)parts * sizeof(*ot->partitions));
        for (int32_t k = 0; k < parts; k++) {
            memset(&ot->partitions[k], 0, sizeof(ot->partitions[k]));
            ot->partitions[k].partition_index = rt->partitions[k].partition_index;
        }
        uint32_t name_len = sl_group_slice_len(rt->name);
        if (name_len > 0)
            memcpy(mem + at, rt->name.ptr, name_len);
        ot->name = sl_group_slice(mem + at, (int32_t)name_len);
        at += align_up(name_len);
    }
    SL_ASSERT(at == size);
    *out = r;
    return size;
}

static int16_t commit_group_error(struct sl_group_coordinator *c,
                                  const struct sl_codec_offset_commit_request *req, int16_t version,
                                  int64_t now_ms, uint32_t *gi_out)
{
    struct sl_codec_slice gid = req->group_id;
    if (c->failed)
        return SL_KAFKA_ERR_NOT_COORDINATOR;
    if (sl_group_slice_len(gid) == 0 || sl_group_slice_len(gid) > SL_GROUP_ID_BYTES_MAX)
        return SL_KAFKA_ERR_INVALID_GROUP_ID;
    int32_t generation = version >= 1 ? req->generation_id_or_member_epoch : -1;
    uint32_t gi;
    struct sl_group *g = sl_group_find(c, gid.ptr, (uint32_t)gid.len, &gi);
    if (g == NULL) {
        if (generation >= 0)
            return SL_KAFKA_ERR_ILLEGAL_GENERATION;
        gi = sl_group_create(c, gid.ptr, (uint32_t)gid.len, now_ms);
        if (gi == SL_GROUP_NIL) {
            c->counters.pool_full++;
            return SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        }
        *gi_out = gi;
        return SL_KAFKA_ERR_NONE;
    }
    *gi_out = gi;
    if (g->state == SL_GROUP_DEAD)
        return SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    struct sl_codec_slice member = version >= 1 ? req->member_id : sl_group_slice("", 0);
    uint32_t mi = sl_group_member_find(c, g, member.ptr, sl_group_slice_len(member), false);
    if (version >= 7 && !sl_group_slice_null(req->group_instance_id)) {
        uint32_t owner = sl_group_member_find_instance(c, g, req->group_instance_id.ptr,
                                                       (uint32_t)req->group_instance_id.len);
        if (owner != SL_GROUP_NIL && owner != mi)
            return SL_KAFKA_ERR_FENCED_INSTANCE_ID;
    }
    if (generation < 0 && g->state == SL_GROUP_EMPTY)
        return SL_KAFKA_ERR_NONE; /* a "simple" commit without group management */
    if (g->state == SL_GROUP_COMPLETING_REBALANCE)
        return SL_KAFKA_ERR_REBALANCE_IN_PROGRESS;
    if (mi == SL_GROUP_NIL)
        return SL_KAFKA_ERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return SL_KAFKA_ERR_ILLEGAL_GENERATION;
    return SL_KAFKA_ERR_NONE;
}

/* Commits one partition: stages the record first so memory changes only when the record
 * is staged. Returns the partition's Kafka error; *staged tells whether a record went in. */
static int16_t
commit_partition(struct sl_group_coordinator *c, uint32_t gi, struct sl_codec_slice topic,
                 const struct sl_codec_offset_commit_request_offset_commit_request_partition *p,
                 int16_t version, int64_t expire_ms, int64_t now_ms, bool *staged)
{
    uint32_t tlen = sl_group_slice_len(topic);
    if (tlen == 0 || tlen > SL_GROUP_TOPIC_BYTES_MAX)
        return SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (p->partition_index < 0)
        return SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (!sl_group_slice_null(p->committed_metadata) &&
        sl_group_slice_len(p->committed_metadata) > c->config.offset_metadata_bytes_max)
        return SL_KAFKA_ERR_OFFSET_METADATA_TOO_LARGE;
    uint32_t ti = sl_group_topic_find(c, topic.ptr, tlen);
    uint32_t oi =
        ti == SL_GROUP_NIL ? SL_GROUP_NIL : sl_group_offset_find(c, gi, ti, p->partition_index);
    if (oi == SL_GROUP_NIL) {
        bool topic_room = ti != SL_GROUP_NIL || c->topic_count < c->config.topics_max;
        if (c->offsets_free == SL_GROUP_NIL || !topic_room) {
            c->counters.pool_full++;
            return SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        }
    }
    /* Only v6+ carry a leader epoch; a decoded older request holds the default anyway. */
    int32_t epoch = version >= 6 ? p->committed_leader_epoch : -1;
    struct sl_group_offset_value v = {p->committed_offset, epoch, p->committed_metadata, now_ms,
                                      expire_ms};
    if (sl_group_stage_offset_value(c, gi, topic.ptr, tlen, p->partition_index, &v, now_ms) != 0) {
        c->counters.pool_full++;
        return SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    *staged = true;
    if (oi == SL_GROUP_NIL) {
        ti = sl_group_topic_intern(c, topic.ptr, tlen);
        SL_ASSERT(ti != SL_GROUP_NIL);
        oi = sl_group_offset_add(c, gi, ti, p->partition_index);
        SL_ASSERT(oi != SL_GROUP_NIL);
        sl_group_topic_unref(c, ti); /* the offset holds its own reference */
    }
    struct sl_group_offset *o = &c->offsets[oi];
    o->offset = v.offset;
    o->leader_epoch = v.leader_epoch;
    o->commit_ms = now_ms;
    o->expire_ms = expire_ms;
    o->metadata_len = (int16_t)(sl_group_slice_null(v.metadata) ? -1 : v.metadata.len);
    if (o->metadata_len > 0)
        memcpy(o->metadata, v.metadata.ptr, (size_t)o->metadata_len);
    return SL_KAFKA_ERR_NONE;
}

void sl_group_offset_commit(struct sl_group_coordinator *c,
                            const struct sl_codec_offset_commit_request *req, int16_t version,
                            int64_t now_ms, void *req_ctx)
{
    sl_codec_arena_reset(&c->scratch);
    uint32_t gi = SL_GROUP_NIL;
    int16_t group_err = commit_group_error(c, req, version, now_ms, &gi);
    uint32_t size = commit_response_layout(req, NULL, NULL);
    struct sl_codec_offset_commit_response *r = NULL;
    uint32_t start = UINT32_MAX;
    if (group_err == SL_KAFKA_ERR_NONE && c->pending_count < c->config.pending_commits_max)
        start = ring_alloc(c, size);
    if (start == UINT32_MAX) {
        /* An immediate answer: built in the scratch arena. */
        uint8_t *mem = sl_group_scratch_alloc(c, size, 1);
        if (mem == NULL) {
            struct sl_codec_offset_commit_response empty;
            sl_codec_offset_commit_response_init(&empty);
            c->cb.commit_done(c->cb.ctx, req_ctx, &empty);
            return;
        }
        commit_response_layout(req, mem, &r);
        if (group_err == SL_KAFKA_ERR_NONE) {
            c->counters.pool_full++;
            group_err = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        }
        for (int32_t t = 0; t < r->topics_count; t++) {
            for (int32_t k = 0; k < r->topics[t].partitions_count; k++)
                r->topics[t].partitions[k].error_code = group_err;
        }
        c->cb.commit_done(c->cb.ctx, req_ctx, r);
        return;
    }
    commit_response_layout(req, c->pending_ring + start, &r);
    /* v2-4 carry an explicit retention; -1 means the broker's default. */
    int64_t expire_ms = -1;
    if (version >= 2 && version <= 4 && req->retention_time_ms >= 0)
        expire_ms = now_ms + req->retention_time_ms;
    bool staged = false;
    for (int32_t t = 0; t < r->topics_count; t++) {
        for (int32_t k = 0; k < r->topics[t].partitions_count; k++) {
            r->topics[t].partitions[k].error_code =
                commit_partition(c, gi, req->topics[t].name, &req->topics[t].partitions[k], version,
                                 expire_ms, now_ms, &staged);
        }
    }
    if (!staged) {
        c->cb.commit_done(c->cb.ctx, req_ctx, r);
        struct sl_group *g = &c->groups[gi];
        if (g->member_count == 0 && g->offset_count == 0 && g->generation == 0 &&
            g->protocol_type_len < 0)
            sl_group_remove(c, gi);
        return;
    }
    uint32_t slot = (c->pending_head + c->pending_count) % c->config.pending_commits_max;
    struct sl_group_pending_commit *p = &c->pending[slot];
    p->req_ctx = req_ctx;
    p->batch_id = c->batch_id;
    p->start = start;
    p->end = start + size;
    p->resp = r;
    if (c->pending_count == 0)
        c->ring_tail = start;
    c->pending_count++;
    c->ring_head = start + size;
}

/* ---- OffsetFetch ------------------------------------------------------------------ */

struct fetch_topic_req {
    struct sl_codec_slice name;
    const int32_t *partitions;
    int32_t partition_count;
};

typedef struct sl_codec_offset_fetch_response_offset_fetch_response_topics fetch_topic_out;
typedef struct sl_codec_offset_fetch_response_offset_fetch_response_partitions fetch_part_out;

static void fill_partition(const struct sl_group_coordinator *c, uint32_t oi, int32_t partition,
                           fetch_part_out *out)
{
    memset(out, 0, sizeof(*out));
    out->partition_index = partition;
    out->committed_offset = -1;
    out->committed_leader_epoch = -1;
    out->metadata = sl_group_slice("", 0);
    if (oi == SL_GROUP_NIL)
        return;
    const struct sl_group_offset *o = &c->offsets[oi];
    out->committed_offset = o->offset;
    out->committed_leader_epoch = o->leader_epoch;
    out->metadata = sl_group_slice(o->metadata, o->metadata_len);
}

/* Offsets of one group in the newest response layout. Returns a group-level error. */
static int16_t fetch_group(struct sl_group_coordinator *c, struct sl_codec_slice gid,
                           const struct fetch_topic_req *topics, int32_t topic_count,
                           fetch_topic_out **out, int32_t *out_count)
{
    *out = NULL;
    *out_count = 0;
    if (c->failed)
        return SL_KAFKA_ERR_NOT_COORDINATOR;
    uint32_t gi = SL_GROUP_NIL;
    const struct sl_group *g = sl_group_find(c, gid.ptr, sl_group_slice_len(gid), &gi);
    if (topics != NULL) {
        fetch_topic_out *ts = sl_group_scratch_alloc(c, (size_t)topic_count, sizeof(*ts));
        if (ts == NULL)
            return SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        for (int32_t t = 0; t < topic_count; t++) {
            memset(&ts[t], 0, sizeof(ts[t]));
            ts[t].name = topics[t].name;
            int32_t n = topics[t].partition_count < 0 ? 0 : topics[t].partition_count;
            fetch_part_out *ps = sl_group_scratch_alloc(c, (size_t)n, sizeof(*ps));
            if (ps == NULL)
                return SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
            uint32_t ti =
                sl_group_topic_find(c, topics[t].name.ptr, sl_group_slice_len(topics[t].name));
            for (int32_t k = 0; k < n; k++) {
                int32_t part = topics[t].partitions[k];
                uint32_t oi = (g == NULL || ti == SL_GROUP_NIL)
                                  ? SL_GROUP_NIL
                                  : sl_group_offset_find(c, gi, ti, part);
                fill_partition(c, oi, part, &ps[k]);
            }
            ts[t].partitions = ps;
            ts[t].partitions_count = n;
        }
        *out = ts;
        *out_count = topic_count;
        return SL_KAFKA_ERR_NONE;
    }
    if (g == NULL)
        return SL_KAFKA_ERR_NONE;
    /* All partitions: number the group's distinct topics, then fill per topic. */
    uint32_t mark = ++c->topic_mark;
    int32_t ntopics = 0;
    for (uint32_t oi = g->offsets_head; oi != SL_GROUP_NIL; oi = c->offsets[oi].group_next) {
        struct sl_group_topic *t = &c->topics[c->offsets[oi].topic];
        if (t->mark != mark) {
            t->mark = mark;
            t->mark_index = (uint32_t)ntopics++;
        }
    }
    fetch_topic_out *ts = sl_group_scratch_alloc(c, (size_t)ntopics, sizeof(*ts));
    if (ts == NULL)
        return SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    memset(ts, 0, sizeof(*ts) * (size_t)ntopics);
    for (uint32_t oi = g->offsets_head; oi != SL_GROUP_NIL; oi = c->offsets[oi].group_next)
        ts[c->topics[c->offsets[oi].topic].mark_index].partitions_count++;
    for (int32_t t = 0; t < ntopics; t++) {
        ts[t].partitions =
            sl_group_scratch_alloc(c, (size_t)ts[t].partitions_count, sizeof(*ts[t].partitions));
        if (ts[t].partitions == NULL)
            return SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        ts[t].partitions_count = 0;
    }
    for (uint32_t oi = g->offsets_head; oi != SL_GROUP_NIL; oi = c->offsets[oi].group_next) {
        const struct sl_group_offset *o = &c->offsets[oi];
        const struct sl_group_topic *tp = &c->topics[o->topic];
        fetch_topic_out *t = &ts[tp->mark_index];
        t->name = sl_group_slice(tp->name, tp->name_len);
        fill_partition(c, oi, o->partition, &t->partitions[t->partitions_count++]);
    }
    *out = ts;
    *out_count = ntopics;
    return SL_KAFKA_ERR_NONE;
}

void sl_group_offset_fetch(struct sl_group_coordinator *c,
                           const struct sl_codec_offset_fetch_request *req, int16_t version,
                           struct sl_codec_offset_fetch_response *resp)
{
    sl_codec_arena_reset(&c->scratch);
    sl_codec_offset_fetch_response_init(resp);
    if (version >= 8) {
        int32_t ng = req->groups_count < 0 ? 0 : req->groups_count;
        struct sl_codec_offset_fetch_response_offset_fetch_response_group *gs =
            sl_group_scratch_alloc(c, (size_t)ng, sizeof(*gs));
        if (gs == NULL)
            return;
        for (int32_t i = 0; i < ng; i++) {
            const struct sl_codec_offset_fetch_request_offset_fetch_request_group *rg =
                &req->groups[i];
            memset(&gs[i], 0, sizeof(gs[i]));
            gs[i].group_id = rg->group_id;
            struct fetch_topic_req *tr = NULL;
            if (rg->topics_count >= 0) {
                tr = sl_group_scratch_alloc(c, (size_t)rg->topics_count, sizeof(*tr));
                if (tr == NULL) {
                    gs[i].error_code = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
                    continue;
                }
                for (int32_t t = 0; t < rg->topics_count; t++) {
                    tr[t].name = rg->topics[t].name;
                    tr[t].partitions = rg->topics[t].partition_indexes;
                    tr[t].partition_count = rg->topics[t].partition_indexes_count;
                }
            }
            gs[i].error_code = fetch_group(c, rg->group_id, tr, rg->topics_count, &gs[i].topics,
                                           &gs[i].topics_count);
        }
        resp->groups = gs;
        resp->groups_count = ng;
        return;
    }
    struct fetch_topic_req *tr = NULL;
    if (req->topics_count >= 0) {
        tr = sl_group_scratch_alloc(c, (size_t)req->topics_count, sizeof(*tr));
        if (tr == NULL) {
            resp->error_code = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
            return;
        }
        for (int32_t t = 0; t < req->topics_count; t++) {
            tr[t].name = req->topics[t].name;
            tr[t].partitions = req->topics[t].partition_indexes;
            tr[t].partition_count = req->topics[t].partition_indexes_count;
        }
    }
    fetch_topic_out *ts;
    int32_t nt;
    int16_t err = fetch_group(c, req->group_id, tr, req->topics_count, &ts, &nt);
    resp->error_code = err;
    if (err != SL_KAFKA_ERR_NONE)
        return;
    /* v0-7 types have the same fields under other names: copy across. */
    struct sl_codec_offset_fetch_response_offset_fetch_response_topic *old =
        sl_group_scratch_alloc(c, (size_t)nt, sizeof(*old));
    if (old == NULL) {
        resp->error_code = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        return;
    }
    for (int32_t t = 0; t < nt; t++) {
        memset(&old[t], 0, sizeof(old[t]));
        old[t].name = ts[t].name;
        old[t].partitions =
            sl_group_scratch_alloc(c, (size_t)ts[t].partitions_count, sizeof(*old[t].partitions));
        if (old[t].partitions == NULL) {
            resp->error_code = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
            return;
        }
        old[t].partitions_count = ts[t].partitions_count;
        for (int32_t k = 0; k < ts[t].partitions_count; k++) {
            memset(&old[t].partitions[k], 0, sizeof(old[t].partitions[k]));
            old[t].partitions[k].partition_index = ts[t].partitions[k].partition_index;
            old[t].partitions[k].committed_offset = ts[t].partitions[k].committed_offset;
            old[t].partitions[k].committed_leader_epoch =
                ts[t].partitions[k].committed_leader_epoch;
            old[t].partitions[k].metadata = ts[t].partitions[k].metadata;
        }
    }
    resp->topics = old;
    resp->topics_count = nt;
}

/* ---- OffsetDelete ----------------------------------------------------------------- */

int sl_group_offset_delete_staged(struct sl_group_coordinator *c, uint32_t oi, int64_t now_ms)
{
    if (sl_group_stage_offset_tombstone(c, oi, now_ms) != 0)
        return -ENOSPC;
    sl_group_offset_remove(c, oi);
    return 0;
}

/* Whether any member's subscription (for the chosen protocol) names the topic. */
static bool group_subscribed(const struct sl_group_coordinator *c, const struct sl_group *g,
                             struct sl_codec_slice topic)
{
    uint32_t plen = g->protocol_len < 0 ? 0u : (uint32_t)g->protocol_len;
    for (uint32_t i = g->members_head; i != SL_GROUP_NIL; i = c->members[i].next) {
        struct sl_codec_slice sub =
            sl_group_member_protocol_metadata(&c->members[i], g->protocol, plen);
        if (sub.len > 0 && sl_group_subscription_has_topic(sub.ptr, (uint32_t)sub.len, topic.ptr,
                                                           sl_group_slice_len(topic)))
            return true;
    }
    return false;
}

void sl_group_offset_delete(struct sl_group_coordinator *c,
                            const struct sl_codec_offset_delete_request *req, int16_t version,
                            int64_t now_ms, struct sl_codec_offset_delete_response *resp)
{
    (void)version;
    sl_codec_arena_reset(&c->scratch);
    sl_codec_offset_delete_response_init(resp);
    if (c->failed) {
        resp->error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
        return;
    }
    uint32_t gi;
    struct sl_group *g =
        sl_group_find(c, req->group_id.ptr, sl_group_slice_len(req->group_id), &gi);
    if (sl_group_slice_len(req->group_id) == 0) {
        resp->error_code = SL_KAFKA_ERR_INVALID_GROUP_ID;
        return;
    }
    if (g == NULL || g->state == SL_GROUP_DEAD) {
        resp->error_code = SL_KAFKA_ERR_GROUP_ID_NOT_FOUND;
        return;
    }
    bool consumer = g->protocol_type_len == 8 && memcmp(g->protocol_type, "consumer", 8) == 0;
    if (g->member_count > 0 && !consumer) {
        resp->error_code = SL_KAFKA_ERR_NON_EMPTY_GROUP;
        return;
    }
    int32_t nt = req->topics_count < 0 ? 0 : req->topics_count;
    struct sl_codec_offset_delete_response_offset_delete_response_topic *ts =
        sl_group_scratch_alloc(c, (size_t)nt, sizeof(*ts));
    if (ts == NULL) {
        resp->error_code = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        return;
    }
    for (int32_t t = 0; t < nt; t++) {
        const struct sl_codec_offset_delete_request_offset_delete_request_topic *rt =
            &req->topics[t];
        memset(&ts[t], 0, sizeof(ts[t]));
        ts[t].name = rt->name;
        int32_t np = rt->partitions_count < 0 ? 0 : rt->partitions_count;
        ts[t].partitions = sl_group_scratch_alloc(c, (size_t)np, sizeof(*ts[t].partitions));
        if (ts[t].partitions == NULL) {
            resp->error_code = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
            return;
        }
        ts[t].partitions_count = np;
        bool subscribed = g->member_count > 0 && group_subscribed(c, g, rt->name);
        uint32_t ti = sl_group_topic_find(c, rt->name.ptr, sl_group_slice_len(rt->name));
        for (int32_t k = 0; k < np; k++) {
            int32_t part = rt->partitions[k].partition_index;
            memset(&ts[t].partitions[k], 0, sizeof(ts[t].partitions[k]));
            ts[t].partitions[k].partition_index = part;
            if (subscribed) {
                ts[t].partitions[k].error_code = SL_KAFKA_ERR_GROUP_SUBSCRIBED_TO_TOPIC;
                continue;
            }
            uint32_t oi = ti == SL_GROUP_NIL ? SL_GROUP_NIL : sl_group_offset_find(c, gi, ti, part);
            if (oi != SL_GROUP_NIL && sl_group_offset_delete_staged(c, oi, now_ms) != 0) {
                c->counters.pool_full++;
                ts[t].partitions[k].error_code = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
            }
            /* the last offset may have freed the topic name: refresh the index */
            ti = sl_group_topic_find(c, rt->name.ptr, sl_group_slice_len(rt->name));
        }
    }
    resp->topics = ts;
    resp->topics_count = nt;
}

/* ---- cleanup ---------------------------------------------------------------------- */

/* Kafka's rule: an explicit expiry wins; otherwise a consumer group's offsets expire a
 * retention period after it became Empty, and a group without a protocol (offsets only)
 * expires each offset a retention period after its commit. */
static bool offset_expired(const struct sl_group_coordinator *c, const struct sl_group *g,
                           const struct sl_group_offset *o, int64_t now_ms)
{
    if (o->expire_ms >= 0)
        return now_ms >= o->expire_ms;
    if (g->state != SL_GROUP_EMPTY)
        return false;
    int64_t base = g->protocol_type_len < 0 ? o->commit_ms : g->state_since_ms;
    return now_ms - base >= c->config.offsets_retention_ms;
}

void sl_group_coordinator_cleanup(struct sl_group_coordinator *c, int64_t now_ms,
                                  struct sl_group_cleanup_report *report)
{
    struct sl_group_cleanup_report local = {0};
    if (c->failed)
        goto out;
    /* Deleted topics first: ask once per topic. */
    uint32_t mark = ++c->topic_mark;
    if (c->cb.topic_exists != NULL) {
        for (uint32_t t = 0; t < c->config.topics_max; t++) {
            struct sl_group_topic *tp = &c->topics[t];
            if (tp->refs > 0 && !c->cb.topic_exists(c->cb.ctx, tp->name, tp->name_len))
                tp->mark = mark; /* gone */
        }
    }
    uint32_t gi = c->groups_head;
    while (gi != SL_GROUP_NIL) {
        struct sl_group *g = &c->groups[gi];
        uint32_t next_group = g->list_next;
        uint32_t oi = g->offsets_head;
        while (oi != SL_GROUP_NIL) {
            uint32_t next = c->offsets[oi].group_next;
            const struct sl_group_offset *o = &c->offsets[oi];
            bool deleted_topic = c->topics[o->topic].mark == mark;
            if (deleted_topic || offset_expired(c, g, o, now_ms)) {
                if (sl_group_offset_delete_staged(c, oi, now_ms) != 0)
                    goto out; /* staging full: the rest waits for the next call */
                if (deleted_topic)
                    local.offsets_deleted_topics++;
                else
                    local.offsets_expired++;
            }
            oi = next;
        }
        /* Kafka drops an Empty group once it has no offsets left. */
        if (g->state == SL_GROUP_EMPTY && g->offset_count == 0 && g->member_count == 0 &&
            g->pending_count == 0 && now_ms - g->state_since_ms >= c->config.offsets_retention_ms) {
            if (sl_group_stage_group_tombstone(c, gi, now_ms) != 0)
                goto out;
            sl_group_remove(c, gi);
            local.groups_removed++;
        }
        gi = next_group;
    }
out:
    if (report != NULL)
        *report = local;
}
