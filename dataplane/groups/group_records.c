/* The coordinator's records in the offsets log: Kafka's __consumer_offsets key/value
 * layouts (offset commit key v1 / value v1 or v3, group metadata key v2 / value v3),
 * staging into a v2 batch, replay on load, and compacted snapshots. */
#include <errno.h>
#include <string.h>

#include "common/sl_assert.h"
#include "common/sl_bytes.h"
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/groups/group_internal.h"
#include "storage/batch.h"

#define KEY_OFFSET_V0 0
#define KEY_OFFSET_V1 1
#define KEY_GROUP_V2  2

/* ---- writing ---------------------------------------------------------------------- */

struct wbuf {
    uint8_t *p;
    uint32_t cap;
    uint32_t len;
    bool overflow;
};

static void w_raw(struct wbuf *w, const void *data, uint32_t n)
{
    if (w->overflow || w->cap - w->len < n) {
        w->overflow = true;
        return;
    }
    if (n > 0)
        memcpy(w->p + w->len, data, n);
    w->len += n;
}

static void w_i16(struct wbuf *w, int16_t v)
{
    uint8_t b[2];
    sl_store_be16(b, (uint16_t)v);
    w_raw(w, b, 2);
}

static void w_i32(struct wbuf *w, int32_t v)
{
    uint8_t b[4];
    sl_store_be32(b, (uint32_t)v);
    w_raw(w, b, 4);
}

static void w_i64(struct wbuf *w, int64_t v)
{
    uint8_t b[8];
    sl_store_be64(b, (uint64_t)v);
    w_raw(w, b, 8);
}

/* len -1: null */
static void w_str(struct wbuf *w, const void *s, int32_t len)
{
    w_i16(w, (int16_t)len);
    if (len > 0)
        w_raw(w, s, (uint32_t)len);
}

static void w_bytes(struct wbuf *w, const void *s, int32_t len)
{
    w_i32(w, len);
    if (len > 0)
        w_raw(w, s, (uint32_t)len);
}

struct record {
    uint32_t key_len;
    int32_t value_len; /* -1: tombstone */
};

static struct wbuf key_buf(struct sl_group_coordinator *c)
{
    struct wbuf w = {c->record_key, 1024, 0, false};
    return w;
}

static struct wbuf value_buf(struct sl_group_coordinator *c)
{
    struct wbuf w = {c->record_value, c->record_value_cap, 0, false};
    return w;
}

static uint32_t encode_offset_key(struct sl_group_coordinator *c, const struct sl_group *g,
                                  const uint8_t *topic, uint32_t topic_len, int32_t partition)
{
    struct wbuf k = key_buf(c);
    w_i16(&k, KEY_OFFSET_V1);
    w_str(&k, g->id, g->id_len);
    w_str(&k, topic, (int32_t)topic_len);
    w_i32(&k, partition);
    SL_ASSERT(!k.overflow);
    return k.len;
}

static int32_t encode_offset_value(struct sl_group_coordinator *c,
                                   const struct sl_group_offset_value *v)
{
    struct wbuf w = value_buf(c);
    struct sl_codec_slice meta = v->metadata;
    int32_t meta_len = sl_group_slice_null(meta) ? 0 : meta.len; /* the log has no null */
    if (v->expire_ms >= 0) {
        w_i16(&w, 1); /* v1 is the only value version with an expiry */
        w_i64(&w, v->offset);
        w_str(&w, meta.ptr, meta_len);
        w_i64(&w, v->commit_ms);
        w_i64(&w, v->expire_ms);
    } else {
        w_i16(&w, 3);
        w_i64(&w, v->offset);
        w_i32(&w, v->leader_epoch);
        w_str(&w, meta.ptr, meta_len);
        w_i64(&w, v->commit_ms);
    }
    SL_ASSERT(!w.overflow);
    return (int32_t)w.len;
}

static uint32_t encode_group_key(struct sl_group_coordinator *c, const struct sl_group *g)
{
    struct wbuf k = key_buf(c);
    w_i16(&k, KEY_GROUP_V2);
    w_str(&k, g->id, g->id_len);
    SL_ASSERT(!k.overflow);
    return k.len;
}

/* Group metadata value v3; -1 when it does not fit the record buffer. Without
 * @with_members the group is written as Empty at its generation (no protocol, leader or
 * members). */
static int32_t encode_group_value(struct sl_group_coordinator *c, const struct sl_group *g,
                                  bool with_members)
{
    struct wbuf w = value_buf(c);
    w_i16(&w, 3);
    w_str(&w, g->protocol_type, g->protocol_type_len < 0 ? 0 : g->protocol_type_len);
    w_i32(&w, g->generation);
    if (with_members)
        w_str(&w, g->protocol, g->protocol_len);
    else
        w_str(&w, NULL, -1);
    if (g->leader == SL_GROUP_NIL || !with_members)
        w_str(&w, NULL, -1);
    else
        w_str(&w, c->members[g->leader].member_id, c->members[g->leader].member_id_len);
    w_i64(&w, g->state_since_ms);
    w_i32(&w, with_members ? (int32_t)g->member_count : 0);
    uint32_t plen = g->protocol_len < 0 ? 0u : (uint32_t)g->protocol_len;
    uint32_t head = with_members ? g->members_head : SL_GROUP_NIL;
    for (uint32_t i = head; i != SL_GROUP_NIL; i = c->members[i].next) {
        const struct sl_group_member *m = &c->members[i];
        w_str(&w, m->member_id, m->member_id_len);
        w_str(&w, m->instance_id, m->instance_id_len);
        w_str(&w, m->client_id, m->client_id_len);
        w_str(&w, m->client_host, m->client_host_len);
        w_i32(&w, m->rebalance_timeout_ms);
        w_i32(&w, m->session_timeout_ms);
        struct sl_codec_slice sub = sl_group_member_protocol_metadata(m, g->protocol, plen);
        w_bytes(&w, sub.ptr, sub.len < 0 ? 0 : sub.len);
        w_bytes(&w, m->assignment, m->assignment_len);
    }
    return w.overflow ? -1 : (int32_t)w.len;
}

/* ---- staging ---------------------------------------------------------------------- */

static int add_to(struct sl_batch_builder *b, int64_t now_ms, const uint8_t *key, uint32_t key_len,
                  const uint8_t *value, int32_t value_len)
{
    int64_t ts = now_ms < b->base_timestamp_ms ? b->base_timestamp_ms : now_ms;
    int rc = sl_batch_builder_add(b, ts, key, (int32_t)key_len, value, value_len, NULL, 0);
    SL_ASSERT(rc == 0 || rc == -ENOSPC);
    return rc;
}

static int stage(struct sl_group_coordinator *c, int64_t now_ms, uint32_t key_len,
                 int32_t value_len)
{
    if (!c->builder_open) {
        sl_batch_builder_init(&c->builder, c->batch_buf, c->config.batch_bytes, now_ms, 0, -1, -1,
                              -1);
        c->builder_open = true;
    }
    int rc = add_to(&c->builder, now_ms, c->record_key, key_len,
                    value_len < 0 ? NULL : c->record_value, value_len);
    if (rc == 0)
        c->counters.records_staged++;
    return rc;
}

int sl_group_stage_offset_value(struct sl_group_coordinator *c, uint32_t group,
                                const uint8_t *topic, uint32_t topic_len, int32_t partition,
                                const struct sl_group_offset_value *value, int64_t now_ms)
{
    uint32_t k = encode_offset_key(c, &c->groups[group], topic, topic_len, partition);
    int32_t v = encode_offset_value(c, value);
    return stage(c, now_ms, k, v);
}

static void offset_value_of(const struct sl_group_offset *o, struct sl_group_offset_value *v)
{
    v->offset = o->offset;
    v->leader_epoch = o->leader_epoch;
    v->metadata = sl_group_slice(o->metadata, o->metadata_len);
    v->commit_ms = o->commit_ms;
    v->expire_ms = o->expire_ms;
}

int sl_group_stage_offset(struct sl_group_coordinator *c, uint32_t oi, int64_t now_ms)
{
    const struct sl_group_offset *o = &c->offsets[oi];
    const struct sl_group_topic *t = &c->topics[o->topic];
    struct sl_group_offset_value v;
    offset_value_of(o, &v);
    return sl_group_stage_offset_value(c, o->group, (const uint8_t *)t->name, t->name_len,
                                       o->partition, &v, now_ms);
}

int sl_group_stage_offset_tombstone(struct sl_group_coordinator *c, uint32_t oi, int64_t now_ms)
{
    const struct sl_group_offset *o = &c->offsets[oi];
    const struct sl_group_topic *t = &c->topics[o->topic];
    uint32_t k = encode_offset_key(c, &c->groups[o->group], (const uint8_t *)t->name, t->name_len,
                                   o->partition);
    return stage(c, now_ms, k, -1);
}

int sl_group_stage_group(struct sl_group_coordinator *c, uint32_t gi, int64_t now_ms)
{
    uint32_t k = encode_group_key(c, &c->groups[gi]);
    int32_t v = encode_group_value(c, &c->groups[gi], true);
    if (v < 0)
        return -ENOSPC;
    return stage(c, now_ms, k, v);
}

int sl_group_stage_group_tombstone(struct sl_group_coordinator *c, uint32_t gi, int64_t now_ms)
{
    uint32_t k = encode_group_key(c, &c->groups[gi]);
    return stage(c, now_ms, k, -1);
}

struct sl_batch_builder sl_group_stage_save(const struct sl_group_coordinator *c)
{
    return c->builder;
}

void sl_group_stage_restore(struct sl_group_coordinator *c, const struct sl_batch_builder *saved,
                            bool was_open)
{
    c->builder = *saved;
    c->builder_open = was_open;
}

int64_t sl_group_coordinator_take_batch(struct sl_group_coordinator *c, uint8_t *buf,
                                        size_t cap_bytes, uint64_t *batch_id)
{
    if (!c->builder_open || c->builder.record_count == 0)
        return 0;
    if (cap_bytes < c->builder.len)
        return -ENOSPC;
    size_t n = sl_batch_builder_finish(&c->builder);
    SL_ASSERT(n <= cap_bytes);
    memcpy(buf, c->batch_buf, n);
    *batch_id = c->batch_id++;
    c->builder_open = false;
    c->counters.batches_taken++;
    return (int64_t)n;
}

void sl_group_coordinator_persisted(struct sl_group_coordinator *c, uint64_t batch_id, bool ok)
{
    if (!ok) {
        c->failed = true;
        sl_group_fail_parked(c, SL_KAFKA_ERR_NOT_COORDINATOR);
        sl_group_complete_commits(c, UINT64_MAX, SL_KAFKA_ERR_NOT_COORDINATOR);
        return;
    }
    sl_group_assignments_persisted(c, batch_id);
    sl_group_complete_commits(c, batch_id, SL_KAFKA_ERR_NONE);
}

/* ---- snapshot --------------------------------------------------------------------- */

static bool group_persisted(const struct sl_group *g)
{
    return g->in_use && (g->protocol_type_len >= 0 || g->generation > 0);
}

int64_t sl_group_coordinator_snapshot(struct sl_group_coordinator *c,
                                      struct sl_group_snapshot_cursor *cur, uint8_t *buf,
                                      size_t cap_bytes, int64_t now_ms)
{
    if (cap_bytes < SL_BATCH_HEADER_BYTES + 64)
        return -ENOSPC;
    struct sl_batch_builder b;
    sl_batch_builder_init(&b, buf, cap_bytes, now_ms, 0, -1, -1, -1);
    while (cur->phase < 2) {
        uint32_t limit = cur->phase == 0 ? c->config.groups_max : c->config.offsets_max;
        if (cur->index >= limit) {
            cur->phase++;
            cur->index = 0;
            continue;
        }
        uint32_t key_len;
        int32_t value_len;
        if (cur->phase == 0) {
            const struct sl_group *g = &c->groups[cur->index];
            if (!group_persisted(g)) {
                cur->index++;
                continue;
            }
            key_len = encode_group_key(c, g);
            /* A group in the middle of a rebalance has no settled membership: Kafka's
             * log would hold its previous Stable record, which is not kept in memory.
             * Writing it as Empty at its generation makes its members rejoin after a
             * restart instead of finding a Stable group with assignments of nobody. */
            bool settled = g->state == SL_GROUP_STABLE || g->state == SL_GROUP_EMPTY;
            value_len = encode_group_value(c, g, settled);
            if (value_len < 0)
                return -ENOSPC;
        } else {
            const struct sl_group_offset *o = &c->offsets[cur->index];
            if (!o->in_use) {
                cur->index++;
                continue;
            }
            const struct sl_group_topic *t = &c->topics[o->topic];
            key_len = encode_offset_key(c, &c->groups[o->group], (const uint8_t *)t->name,
                                        t->name_len, o->partition);
            struct sl_group_offset_value v;
            offset_value_of(o, &v);
            value_len = encode_offset_value(c, &v);
        }
        if (add_to(&b, now_ms, c->record_key, key_len, c->record_value, value_len) != 0) {
            if (b.record_count == 0)
                return -ENOSPC;
            break;
        }
        cur->index++;
    }
    if (b.record_count == 0)
        return 0;
    return (int64_t)sl_batch_builder_finish(&b);
}

/* ---- reading ---------------------------------------------------------------------- */

struct rbuf {
    const uint8_t *p;
    uint32_t len;
    uint32_t at;
    bool bad;
};

static bool r_need(struct rbuf *r, uint32_t n)
{
    if (r->bad || r->len - r->at < n) {
        r->bad = true;
        return false;
    }
    return true;
}

static int16_t r_i16(struct rbuf *r)
{
    if (!r_need(r, 2))
        return 0;
    int16_t v = (int16_t)sl_load_be16(r->p + r->at);
    r->at += 2;
    return v;
}

static int32_t r_i32(struct rbuf *r)
{
    if (!r_need(r, 4))
        return 0;
    int32_t v = (int32_t)sl_load_be32(r->p + r->at);
    r->at += 4;
    return v;
}

static int64_t r_i64(struct rbuf *r)
{
    if (!r_need(r, 8))
        return 0;
    int64_t v = (int64_t)sl_load_be64(r->p + r->at);
    r->at += 8;
    return v;
}

static struct sl_codec_slice r_str(struct rbuf *r)
{
    int16_t len = r_i16(r);
    if (r->bad || len < 0)
        return sl_group_slice(NULL, -1);
    if (!r_need(r, (uint32_t)len))
        return sl_group_slice(NULL, -1);
    struct sl_codec_slice s = sl_group_slice(r->p + r->at, len);
    r->at += (uint32_t)len;
    return s;
}

static struct sl_codec_slice r_bytes(struct rbuf *r)
{
    int32_t len = r_i32(r);
    if (r->bad || len < 0)
        return sl_group_slice(NULL, -1);
    if (!r_need(r, (uint32_t)len))
        return sl_group_slice(NULL, -1);
    struct sl_codec_slice s = sl_group_slice(r->p + r->at, len);
    r->at += (uint32_t)len;
    return s;
}

/* Zigzag varint of a v2 record; false when malformed. */
static bool r_varlong(struct rbuf *r, int64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (!r_need(r, 1))
            return false;
        uint8_t b = r->p[r->at++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return true;
        }
    }
    r->bad = true;
    return false;
}

static bool group_removable(const struct sl_group *g)
{
    return g->member_count == 0 && g->pending_count == 0 && g->offset_count == 0 &&
           g->protocol_type_len < 0 && g->generation == 0;
}

static uint32_t load_group_of(struct sl_group_coordinator *c, struct sl_codec_slice gid,
                              int64_t now_ms)
{
    uint32_t gi;
    if (sl_group_find(c, gid.ptr, (uint32_t)gid.len, &gi) != NULL)
        return gi;
    return sl_group_create(c, gid.ptr, (uint32_t)gid.len, now_ms);
}

static int load_offset(struct sl_group_coordinator *c, struct rbuf *key, const uint8_t *value,
                       int32_t value_len, int64_t now_ms)
{
    struct sl_codec_slice gid = r_str(key);
    struct sl_codec_slice topic = r_str(key);
    int32_t partition = r_i32(key);
    if (key->bad || gid.len <= 0 || (uint32_t)gid.len > SL_GROUP_ID_BYTES_MAX || topic.len <= 0 ||
        (uint32_t)topic.len > SL_GROUP_TOPIC_BYTES_MAX)
        return -EBADMSG;
    uint32_t gi;
    struct sl_group *g = sl_group_find(c, gid.ptr, (uint32_t)gid.len, &gi);
    uint32_t ti = sl_group_topic_find(c, topic.ptr, (uint32_t)topic.len);
    uint32_t oi = (g == NULL || ti == SL_GROUP_NIL) ? SL_GROUP_NIL
                                                    : sl_group_offset_find(c, gi, ti, partition);
    if (value == NULL) {
        if (oi != SL_GROUP_NIL) {
            sl_group_offset_remove(c, oi);
            if (group_removable(g))
                sl_group_remove(c, gi);
        }
        return 0;
    }
    struct rbuf r = {value, (uint32_t)value_len, 0, false};
    int16_t version = r_i16(&r);
    struct sl_group_offset_value v = {0, -1, sl_group_slice(NULL, -1), 0, -1};
    v.offset = r_i64(&r);
    if (version >= 3)
        v.leader_epoch = r_i32(&r);
    v.metadata = r_str(&r);
    v.commit_ms = r_i64(&r);
    if (version == 1)
        v.expire_ms = r_i64(&r);
    if (r.bad || version < 0 || version > 3) /* v4 is flexible: not written here */
        return -EBADMSG;
    if (sl_group_slice_len(v.metadata) > c->config.offset_metadata_bytes_max)
        return -ENOSPC;
    if (oi == SL_GROUP_NIL) {
        gi = load_group_of(c, gid, now_ms);
        if (gi == SL_GROUP_NIL)
            return -ENOSPC;
        ti = sl_group_topic_intern(c, topic.ptr, (uint32_t)topic.len);
        if (ti == SL_GROUP_NIL)
            return -ENOSPC;
        oi = sl_group_offset_add(c, gi, ti, partition);
        sl_group_topic_unref(c, ti);
        if (oi == SL_GROUP_NIL)
            return -ENOSPC;
    }
    struct sl_group_offset *o = &c->offsets[oi];
    o->offset = v.offset;
    o->leader_epoch = v.leader_epoch;
    o->commit_ms = v.commit_ms;
    o->expire_ms = v.expire_ms;
    o->metadata_len = (int16_t)sl_group_slice_len(v.metadata);
    if (o->metadata_len > 0)
        memcpy(o->metadata, v.metadata.ptr, (size_t)o->metadata_len);
    return 0;
}

static bool copy_field(char *dst, uint16_t *len, struct sl_codec_slice s, uint32_t max)
{
    uint32_t n = sl_group_slice_len(s);
    if (n > max)
        return false;
    if (n > 0)
        memcpy(dst, s.ptr, n);
    *len = (uint16_t)n;
    return true;
}

static int load_member(struct sl_group_coordinator *c, uint32_t gi, struct rbuf *r,
                       struct sl_codec_slice protocol, struct sl_codec_slice leader,
                       int16_t version, int64_t now_ms)
{
    struct sl_codec_slice member_id = r_str(r);
    struct sl_codec_slice instance_id = version >= 3 ? r_str(r) : sl_group_slice(NULL, -1);
    struct sl_codec_slice client_id = r_str(r);
    struct sl_codec_slice client_host = r_str(r);
    int32_t rebalance_ms = version >= 1 ? r_i32(r) : 0;
    int32_t session_ms = r_i32(r);
    struct sl_codec_slice sub = r_bytes(r);
    struct sl_codec_slice assignment = r_bytes(r);
    if (version == 0)
        rebalance_ms = session_ms;
    if (r->bad || member_id.len <= 0)
        return -EBADMSG;
    if (c->groups[gi].member_count >= c->config.group_size_max)
        return -ENOSPC; /* group.max.size shrank below the logged group */
    uint32_t mi = sl_group_member_alloc(c);
    if (mi == SL_GROUP_NIL)
        return -ENOSPC;
    struct sl_group_member *m = &c->members[mi];
    uint16_t ilen = 0;
    bool ok =
        copy_field(m->member_id, &m->member_id_len, member_id, SL_GROUP_MEMBER_ID_BYTES_MAX) &&
        copy_field(m->client_id, &m->client_id_len, client_id, SL_GROUP_CLIENT_ID_BYTES_MAX) &&
        copy_field(m->client_host, &m->client_host_len, client_host,
                   SL_GROUP_CLIENT_HOST_BYTES_MAX) &&
        copy_field(m->instance_id, &ilen, instance_id, SL_GROUP_INSTANCE_ID_BYTES_MAX) &&
        sl_group_slice_len(assignment) <= c->config.member_assignment_bytes_max;
    if (ok && protocol.len >= 0) {
        ok = sl_group_member_set_protocols(c, m, &protocol, &sub, 1) == SL_KAFKA_ERR_NONE;
    }
    if (!ok) {
        sl_group_member_free(c, mi);
        return -ENOSPC;
    }
    m->instance_id_len = instance_id.len < 0 ? -1 : (int16_t)ilen;
    m->session_timeout_ms = session_ms;
    m->rebalance_timeout_ms = rebalance_ms;
    m->session_deadline_ms = now_ms + session_ms;
    m->assignment_len = (int32_t)sl_group_slice_len(assignment);
    if (m->assignment_len > 0)
        memcpy(m->assignment, assignment.ptr, (size_t)m->assignment_len);
    sl_group_member_link(c, gi, mi);
    if (leader.len == member_id.len && memcmp(leader.ptr, member_id.ptr, (size_t)leader.len) == 0)
        c->groups[gi].leader = mi;
    return 0;
}

static int load_group(struct sl_group_coordinator *c, struct rbuf *key, const uint8_t *value,
                      int32_t value_len, int64_t now_ms)
{
    struct sl_codec_slice gid = r_str(key);
    if (key->bad || gid.len <= 0 || (uint32_t)gid.len > SL_GROUP_ID_BYTES_MAX)
        return -EBADMSG;
    uint32_t gi;
    struct sl_group *g = sl_group_find(c, gid.ptr, (uint32_t)gid.len, &gi);
    if (g != NULL) {
        sl_group_remove_all_members(c, gi, SL_KAFKA_ERR_UNKNOWN_MEMBER_ID);
        g->protocol_type_len = -1;
        g->protocol_len = -1;
        g->generation = 0;
    }
    if (value == NULL) {
        if (g != NULL && group_removable(g))
            sl_group_remove(c, gi);
        return 0;
    }
    struct rbuf r = {value, (uint32_t)value_len, 0, false};
    int16_t version = r_i16(&r);
    struct sl_codec_slice protocol_type = r_str(&r);
    int32_t generation = r_i32(&r);
    struct sl_codec_slice protocol = r_str(&r);
    struct sl_codec_slice leader = r_str(&r);
    int64_t since_ms = version >= 2 ? r_i64(&r) : now_ms;
    int32_t member_count = r_i32(&r);
    if (r.bad || version < 0 || version > 3 || member_count < 0)
        return -EBADMSG;
    if (protocol_type.len < 0 || /* not nullable in Kafka's schema either */
        sl_group_slice_len(protocol_type) > SL_GROUP_PROTOCOL_TYPE_BYTES_MAX ||
        sl_group_slice_len(protocol) > SL_GROUP_PROTOCOL_BYTES_MAX)
        return -EBADMSG;
    if (g == NULL) {
        gi = sl_group_create(c, gid.ptr, (uint32_t)gid.len, now_ms);
        if (gi == SL_GROUP_NIL)
            return -ENOSPC;
        g = &c->groups[gi];
    }
    g->protocol_type_len = (int16_t)protocol_type.len;
    if (protocol_type.len > 0)
        memcpy(g->protocol_type, protocol_type.ptr, (size_t)protocol_type.len);
    g->generation = generation;
    g->protocol_len = (int16_t)protocol.len;
    if (protocol.len > 0)
        memcpy(g->protocol, protocol.ptr, (size_t)protocol.len);
    for (int32_t i = 0; i < member_count; i++) {
        int rc = load_member(c, gi, &r, protocol, leader, version, now_ms);
        if (rc != 0)
            return rc;
    }
    if (g->member_count > 0 && g->leader == SL_GROUP_NIL)
        g->leader = g->members_head;
    sl_group_set_state(g, g->member_count > 0 ? SL_GROUP_STABLE : SL_GROUP_EMPTY, since_ms);
    return 0;
}

static int load_record(struct sl_group_coordinator *c, const uint8_t *key, int32_t key_len,
                       const uint8_t *value, int32_t value_len, int64_t now_ms)
{
    if (key_len < 2)
        return -EBADMSG;
    struct rbuf k = {key, (uint32_t)key_len, 0, false};
    int16_t version = r_i16(&k);
    c->counters.records_loaded++;
    if (version == KEY_OFFSET_V0 || version == KEY_OFFSET_V1)
        return load_offset(c, &k, value, value_len, now_ms);
    if (version == KEY_GROUP_V2)
        return load_group(c, &k, value, value_len, now_ms);
    return 0; /* other record kinds of the offsets topic (e.g. version 3+) are not ours */
}

static int load_batch(struct sl_group_coordinator *c, const uint8_t *batch,
                      const struct sl_batch_info *info, int64_t now_ms)
{
    if (sl_batch_is_control(info))
        return 0;
    if ((info->attributes & SL_BATCH_ATTR_COMPRESSION_MASK) != 0)
        return -EBADMSG; /* the coordinator never writes compressed batches */
    struct rbuf r = {batch + SL_BATCH_HEADER_BYTES, info->size_bytes - SL_BATCH_HEADER_BYTES, 0,
                     false};
    for (int32_t i = 0; i < info->record_count; i++) {
        int64_t len, ts, od, klen, vlen, hcount;
        if (!r_varlong(&r, &len) || len < 0 || !r_need(&r, (uint32_t)len))
            return -EBADMSG;
        uint32_t end = r.at + (uint32_t)len;
        r.at += 1; /* attributes */
        if (!r_varlong(&r, &ts) || !r_varlong(&r, &od) || !r_varlong(&r, &klen) || klen < 0 ||
            !r_need(&r, (uint32_t)klen))
            return -EBADMSG;
        const uint8_t *key = r.p + r.at;
        r.at += (uint32_t)klen;
        if (!r_varlong(&r, &vlen) || vlen < -1 || (vlen > 0 && !r_need(&r, (uint32_t)vlen)))
            return -EBADMSG;
        const uint8_t *value = vlen < 0 ? NULL : r.p + r.at;
        if (vlen > 0)
            r.at += (uint32_t)vlen;
        if (!r_varlong(&r, &hcount) || r.at > end)
            return -EBADMSG;
        (void)hcount; /* headers are not used: skip to the record's end */
        r.at = end;
        int rc = load_record(c, key, (int32_t)klen, value, (int32_t)vlen, now_ms);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int sl_group_coordinator_load(struct sl_group_coordinator *c, const uint8_t *batches, size_t len,
                              int64_t now_ms)
{
    size_t at = 0;
    while (at < len) {
        struct sl_batch_info info;
        if (sl_batch_check_stored(batches + at, len - at, &info) != SL_STORAGE_OK)
            return -EBADMSG;
        int rc = load_batch(c, batches + at, &info, now_ms);
        if (rc != 0)
            return rc;
        at += info.size_bytes;
    }
    return 0;
}
