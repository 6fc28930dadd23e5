/* The classic group membership protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * the rebalance state machine and its timers. See docs/groups.md for the transitions. */
#include <string.h>

#include "common/sl_assert.h"
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/groups/group_internal.h"

/* ---- small helpers ---------------------------------------------------------------- */

static bool slice_eq_mem(struct sl_codec_slice s, const char *mem, uint32_t len)
{
    return sl_group_slice_len(s) == len && (len == 0 || memcmp(s.ptr, mem, len) == 0);
}

static struct sl_codec_slice member_id_slice(const struct sl_group_member *m)
{
    return sl_group_slice(m->member_id, m->member_id_len);
}

static struct sl_codec_slice instance_id_slice(const struct sl_group_member *m)
{
    return m->instance_id_len < 0 ? sl_group_slice(NULL, -1)
                                  : sl_group_slice(m->instance_id, m->instance_id_len);
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL; /* splitmix64 */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* KIP-394 member id: client.id + "-" + 32 hex digits (Kafka appends a UUID), the
 * client.id cut so the whole id fits. */
static void member_id_generate(struct sl_group_coordinator *c, struct sl_codec_slice client_id,
                               struct sl_group_member *m)
{
    static const char hex[] = "0123456789abcdef";
    uint32_t suffix = 33;
    uint32_t prefix = sl_group_slice_len(client_id);
    if (prefix > SL_GROUP_MEMBER_ID_BYTES_MAX - suffix)
        prefix = SL_GROUP_MEMBER_ID_BYTES_MAX - suffix;
    if (prefix > 0)
        memcpy(m->member_id, client_id.ptr, prefix);
    m->member_id[prefix] = '-';
    uint64_t a = mix64(c->config.member_id_seed ^ ++c->member_id_counter);
    uint64_t b = mix64(a ^ c->member_id_counter);
    for (int i = 0; i < 16; i++) {
        m->member_id[prefix + 1 + i] = hex[(a >> (60 - 4 * i)) & 15];
        m->member_id[prefix + 17 + i] = hex[(b >> (60 - 4 * i)) & 15];
    }
    m->member_id_len = (uint16_t)(prefix + suffix);
}

static void copy_bounded(char *dst, uint16_t *dst_len, struct sl_codec_slice s, uint32_t max)
{
    uint32_t n = sl_group_slice_len(s);
    if (n > max)
        n = max;
    if (n > 0)
        memcpy(dst, s.ptr, n);
    *dst_len = (uint16_t)n;
}

static void respond_join(struct sl_group_coordinator *c, void *req_ctx,
                         const struct sl_codec_join_group_response *resp)
{
    c->cb.join_done(c->cb.ctx, req_ctx, resp);
}

static void respond_join_error(struct sl_group_coordinator *c, void *req_ctx, int16_t error,
                               struct sl_codec_slice member_id)
{
    struct sl_codec_join_group_response r;
    sl_codec_join_group_response_init(&r);
    r.error_code = error;
    r.member_id = member_id;
    r.protocol_name = sl_group_slice("", 0);
    r.leader = sl_group_slice("", 0);
    respond_join(c, req_ctx, &r);
}

static void respond_sync(struct sl_group_coordinator *c, void *req_ctx, int16_t error,
                         const struct sl_group *g, struct sl_codec_slice assignment)
{
    struct sl_codec_sync_group_response r;
    sl_codec_sync_group_response_init(&r);
    r.error_code = error;
    r.assignment = assignment;
    if (error == SL_KAFKA_ERR_NONE && g != NULL) {
        r.protocol_type = g->protocol_type_len < 0
                              ? sl_group_slice(NULL, -1)
                              : sl_group_slice(g->protocol_type, g->protocol_type_len);
        r.protocol_name = g->protocol_len < 0 ? sl_group_slice(NULL, -1)
                                              : sl_group_slice(g->protocol, g->protocol_len);
    }
    c->cb.sync_done(c->cb.ctx, req_ctx, &r);
}

static int32_t group_rebalance_timeout_ms(const struct sl_group_coordinator *c,
                                          const struct sl_group *g)
{
    int32_t t = 0;
    for (uint32_t i = g->members_head; i != SL_GROUP_NIL; i = c->members[i].next) {
        if (c->members[i].rebalance_timeout_ms > t)
            t = c->members[i].rebalance_timeout_ms;
    }
    return t;
}

/* Answers a member's parked requests with @error and drops it from its group. */
static void member_remove(struct sl_group_coordinator *c, uint32_t mi, int16_t error)
{
    struct sl_group_member *m = &c->members[mi];
    if (m->join_waiting) {
        m->join_waiting = false;
        respond_join_error(c, m->join_ctx, error, member_id_slice(m));
    }
    if (m->sync_waiting) {
        m->sync_waiting = false;
        respond_sync(c, m->sync_ctx, error, NULL, sl_group_slice(NULL, 0));
    }
    sl_group_member_unlink(c, mi);
    sl_group_member_free(c, mi);
}

void sl_group_remove_all_members(struct sl_group_coordinator *c, uint32_t gi, int16_t error)
{
    struct sl_group *g = &c->groups[gi];
    while (g->members_head != SL_GROUP_NIL)
        member_remove(c, g->members_head, error);
    while (g->pending_head != SL_GROUP_NIL)
        member_remove(c, g->pending_head, error);
}

/* ---- protocol choice -------------------------------------------------------------- */

static bool member_supports(const struct sl_group_member *m, const uint8_t *name, uint32_t len)
{
    for (uint32_t i = 0; i < m->protocol_count; i++) {
        const struct sl_group_protocol_ref *p = &m->protocols[i];
        if (p->name_len == len && memcmp(m->metadata + p->name_off, name, len) == 0)
            return true;
    }
    return false;
}

static bool all_support(const struct sl_group_coordinator *c, const struct sl_group *g,
                        const uint8_t *name, uint32_t len, uint32_t skip)
{
    for (uint32_t i = g->members_head; i != SL_GROUP_NIL; i = c->members[i].next) {
        if (i != skip && !member_supports(&c->members[i], name, len))
            return false;
    }
    return true;
}

/* A joining member (@skip: its own slot, replaced by this request) fits the group when
 * the protocol type matches and some protocol it offers is supported by every member. */
static bool protocols_compatible(const struct sl_group_coordinator *c, const struct sl_group *g,
                                 const struct sl_codec_join_group_request *req, uint32_t skip)
{
    if (sl_group_slice_len(req->protocol_type) == 0 || req->protocols_count <= 0)
        return false;
    if (g->member_count == 0)
        return true;
    /* Kafka: a non-empty group keeps its protocol type, even for its only member. */
    if (!slice_eq_mem(req->protocol_type, g->protocol_type,
                      g->protocol_type_len < 0 ? 0u : (uint32_t)g->protocol_type_len))
        return false;
    for (int32_t i = 0; i < req->protocols_count; i++) {
        struct sl_codec_slice n = req->protocols[i].name;
        if (all_support(c, g, n.ptr, sl_group_slice_len(n), skip))
            return true;
    }
    return false;
}

/* Each member votes for its most preferred protocol among those every member supports;
 * the most votes win, ties go to the earlier candidate in the oldest member's order. */
static void select_protocol(struct sl_group_coordinator *c, struct sl_group *g)
{
    const struct sl_group_member *first = &c->members[g->members_head];
    uint32_t votes[SL_GROUP_MEMBER_PROTOCOLS_MAX] = {0};
    for (uint32_t i = g->members_head; i != SL_GROUP_NIL; i = c->members[i].next) {
        const struct sl_group_member *m = &c->members[i];
        for (uint32_t p = 0; p < m->protocol_count; p++) {
            const uint8_t *name = m->metadata + m->protocols[p].name_off;
            uint32_t len = m->protocols[p].name_len;
            if (!all_support(c, g, name, len, SL_GROUP_NIL))
                continue;
            for (uint32_t k = 0; k < first->protocol_count; k++) {
                const struct sl_group_protocol_ref *fp = &first->protocols[k];
                if (fp->name_len == len && memcmp(first->metadata + fp->name_off, name, len) == 0)
                    votes[k]++;
            }
            break;
        }
    }
    uint32_t best = 0;
    for (uint32_t k = 1; k < first->protocol_count; k++) {
        if (votes[k] > votes[best])
            best = k;
    }
    const struct sl_group_protocol_ref *bp = &first->protocols[best];
    uint32_t len = bp->name_len;
    SL_ASSERT(len <= SL_GROUP_PROTOCOL_BYTES_MAX);
    memcpy(g->protocol, first->metadata + bp->name_off, len);
    g->protocol_len = (int16_t)len;
}

/* ---- join responses --------------------------------------------------------------- */

static void join_response_base(const struct sl_group_coordinator *c, const struct sl_group *g,
                               const struct sl_group_member *m,
                               struct sl_codec_join_group_response *r)
{
    sl_codec_join_group_response_init(r);
    r->generation_id = g->generation;
    r->protocol_type = g->protocol_type_len < 0
                           ? sl_group_slice(NULL, -1)
                           : sl_group_slice(g->protocol_type, g->protocol_type_len);
    r->protocol_name =
        g->protocol_len < 0 ? sl_group_slice("", 0) : sl_group_slice(g->protocol, g->protocol_len);
    r->leader =
        g->leader == SL_GROUP_NIL ? sl_group_slice("", 0) : member_id_slice(&c->members[g->leader]);
    r->member_id = member_id_slice(m);
}

/* Fills the member list (leader only) with each member's metadata for the chosen protocol. */
static void join_response_members(struct sl_group_coordinator *c, const struct sl_group *g,
                                  struct sl_codec_join_group_response *r)
{
    uint32_t n = 0;
    for (uint32_t i = g->members_head; i != SL_GROUP_NIL; i = c->members[i].next) {
        const struct sl_group_member *m = &c->members[i];
        SL_ASSERT(n < c->config.group_size_max);
        struct sl_codec_join_group_response_join_group_response_member *jm = &c->join_members[n++];
        memset(jm, 0, sizeof(*jm));
        jm->member_id = member_id_slice(m);
        jm->group_instance_id = instance_id_slice(m);
        jm->metadata = sl_group_member_protocol_metadata(
            m, g->protocol, g->protocol_len < 0 ? 0u : (uint32_t)g->protocol_len);
        if (jm->metadata.len < 0)
            jm->metadata = sl_group_slice("", 0);
    }
    r->members = c->join_members;
    r->members_count = (int32_t)n;
}

/* Answers a member with the group's current generation (no rebalance). */
static void join_respond_current(struct sl_group_coordinator *c, const struct sl_group *g,
                                 const struct sl_group_member *m, void *req_ctx, int16_t version,
                                 bool skip_assignment)
{
    struct sl_codec_join_group_response r;
    join_response_base(c, g, m, &r);
    if (g->leader != SL_GROUP_NIL && &c->members[g->leader] == m) {
        join_response_members(c, g, &r);
        r.skip_assignment = skip_assignment && version >= 9;
    }
    respond_join(c, req_ctx, &r);
}

/* ---- the rebalance state machine -------------------------------------------------- */

static void complete_join(struct sl_group_coordinator *c, uint32_t gi, int64_t now_ms);

static bool all_joined(const struct sl_group_coordinator *c, const struct sl_group *g)
{
    if (g->pending_count > 0)
        return false;
    for (uint32_t i = g->members_head; i != SL_GROUP_NIL; i = c->members[i].next) {
        if (!c->members[i].join_waiting)
            return false;
    }
    return true;
}

static void try_complete_join(struct sl_group_coordinator *c, uint32_t gi, int64_t now_ms)
{
    struct sl_group *g = &c->groups[gi];
    if (g->state != SL_GROUP_PREPARING_REBALANCE || g->initial_join)
        return;
    if (all_joined(c, g))
        complete_join(c, gi, now_ms);
}

static void prepare_rebalance(struct sl_group_coordinator *c, uint32_t gi, int64_t now_ms)
{
    struct sl_group *g = &c->groups[gi];
    if (g->state == SL_GROUP_COMPLETING_REBALANCE) {
        /* The assignment being built is void: members rejoin. */
        for (uint32_t i = g->members_head; i != SL_GROUP_NIL; i = c->members[i].next) {
            struct sl_group_member *m = &c->members[i];
            if (m->sync_waiting) {
                m->sync_waiting = false;
                respond_sync(c, m->sync_ctx, SL_KAFKA_ERR_REBALANCE_IN_PROGRESS, NULL,
                             sl_group_slice(NULL, 0));
            }
        }
    }
    g->assignment_persisting = false; /* that assignment is void now */
    int32_t rebalance_ms = group_rebalance_timeout_ms(c, g);
    bool initial = g->state == SL_GROUP_EMPTY && c->config.initial_rebalance_delay_ms > 0;
    int32_t wait_ms = rebalance_ms;
    if (initial && c->config.initial_rebalance_delay_ms < wait_ms)
        wait_ms = c->config.initial_rebalance_delay_ms;
    g->initial_join = initial;
    g->initial_new_member = false;
    g->initial_limit_ms = now_ms + rebalance_ms;
    g->join_deadline_ms = now_ms + wait_ms;
    sl_group_set_state(g, SL_GROUP_PREPARING_REBALANCE, now_ms);
    try_complete_join(c, gi, now_ms);
}

/* After a membership change outside the join phase, or inside it. */
static void membership_changed(struct sl_group_coordinator *c, uint32_t gi, int64_t now_ms)
{
    struct sl_group *g = &c->groups[gi];
    if (g->state == SL_GROUP_STABLE || g->state == SL_GROUP_COMPLETING_REBALANCE)
        prepare_rebalance(c, gi, now_ms);
    else if (g->state == SL_GROUP_PREPARING_REBALANCE)
        try_complete_join(c, gi, now_ms);
}

static void complete_join(struct sl_group_coordinator *c, uint32_t gi, int64_t now_ms)
{
    struct sl_group *g = &c->groups[gi];
    SL_ASSERT(g->state == SL_GROUP_PREPARING_REBALANCE);
    uint32_t i = g->members_head;
    while (i != SL_GROUP_NIL) {
        uint32_t next = c->members[i].next;
        if (!c->members[i].join_waiting)
            member_remove(c, i, SL_KAFKA_ERR_UNKNOWN_MEMBER_ID);
        i = next;
    }
    g->initial_join = false;
    g->generation++;
    c->counters.rebalances++;
    if (g->member_count == 0) {
        g->protocol_len = -1;
        sl_group_set_state(g, SL_GROUP_EMPTY, now_ms);
        (void)sl_group_stage_group(c, gi, now_ms);
        return;
    }
    if (g->leader == SL_GROUP_NIL)
        g->leader = g->members_head;
    select_protocol(c, g);
    sl_group_set_state(g, SL_GROUP_COMPLETING_REBALANCE, now_ms);
    g->sync_deadline_ms = now_ms + group_rebalance_timeout_ms(c, g);
    for (i = g->members_head; i != SL_GROUP_NIL; i = c->members[i].next) {
        struct sl_group_member *m = &c->members[i];
        m->assignment_len = 0;
        m->join_waiting = false;
        m->session_deadline_ms = now_ms + m->session_timeout_ms;
        struct sl_codec_join_group_response r;
        join_response_base(c, g, m, &r);
        if (i == g->leader)
            join_response_members(c, g, &r);
        respond_join(c, m->join_ctx, &r);
    }
}

/* ---- JoinGroup -------------------------------------------------------------------- */

struct join_args {
    const struct sl_codec_join_group_request *req;
    int16_t version;
    struct sl_codec_slice client_id;
    struct sl_codec_slice client_host;
    struct sl_codec_slice instance_id; /* len -1: none */
    int32_t rebalance_timeout_ms;
    int64_t now_ms;
    void *req_ctx;
};

/* Copies the request's identity, timeouts and protocols into @m. Returns a Kafka error. */
static int16_t member_update(struct sl_group_coordinator *c, struct sl_group_member *m,
                             const struct join_args *a)
{
    const struct sl_codec_join_group_request *req = a->req;
    struct sl_codec_slice names[SL_GROUP_MEMBER_PROTOCOLS_MAX];
    struct sl_codec_slice metas[SL_GROUP_MEMBER_PROTOCOLS_MAX];
    uint32_t count = (uint32_t)req->protocols_count;
    if (count > SL_GROUP_MEMBER_PROTOCOLS_MAX)
        return SL_KAFKA_ERR_INVALID_REQUEST;
    for (uint32_t i = 0; i < count; i++) {
        names[i] = req->protocols[i].name;
        metas[i] = req->protocols[i].metadata;
    }
    int16_t err = sl_group_member_set_protocols(c, m, names, metas, count);
    if (err != SL_KAFKA_ERR_NONE)
        return err;
    copy_bounded(m->client_id, &m->client_id_len, a->client_id, SL_GROUP_CLIENT_ID_BYTES_MAX);
    copy_bounded(m->client_host, &m->client_host_len, a->client_host,
                 SL_GROUP_CLIENT_HOST_BYTES_MAX);
    m->session_timeout_ms = req->session_timeout_ms;
    m->rebalance_timeout_ms = a->rebalance_timeout_ms;
    m->session_deadline_ms = a->now_ms + req->session_timeout_ms;
    if (a->instance_id.len >= 0) {
        uint16_t len;
        copy_bounded(m->instance_id, &len, a->instance_id, SL_GROUP_INSTANCE_ID_BYTES_MAX);
        m->instance_id_len = (int16_t)len;
    }
    return SL_KAFKA_ERR_NONE;
}

static void park_join(struct sl_group_coordinator *c, struct sl_group_member *m,
                      const struct join_args *a)
{
    if (m->join_waiting) /* a duplicate join: the newer request takes the slot */
        respond_join_error(c, m->join_ctx, SL_KAFKA_ERR_REBALANCE_IN_PROGRESS, member_id_slice(m));
    m->join_waiting = true;
    m->join_ctx = a->req_ctx;
    m->join_version = a->version;
}

static bool protocols_match(const struct sl_group_member *m,
                            const struct sl_codec_join_group_request *req)
{
    if ((int32_t)m->protocol_count != req->protocols_count)
        return false;
    for (uint32_t i = 0; i < m->protocol_count; i++) {
        const struct sl_group_protocol_ref *p = &m->protocols[i];
        if (!slice_eq_mem(req->protocols[i].name, (const char *)m->metadata + p->name_off,
                          p->name_len) ||
            !slice_eq_mem(req->protocols[i].metadata, (const char *)m->metadata + p->meta_off,
                          p->meta_len))
            return false;
    }
    return true;
}

static void set_group_protocol_type(struct sl_group *g, struct sl_codec_slice type)
{
    uint32_t len = sl_group_slice_len(type);
    SL_ASSERT(len <= SL_GROUP_PROTOCOL_TYPE_BYTES_MAX);
    memcpy(g->protocol_type, type.ptr, len);
    g->protocol_type_len = (int16_t)len;
}

/* A new member (dynamic v0-3, static, or a pending id coming back) joins and the group
 * rebalances. @mi is an allocated, unlinked slot, or NIL to allocate one here. */
static void add_member_and_rebalance(struct sl_group_coordinator *c, uint32_t gi, uint32_t mi,
                                     const struct join_args *a)
{
    struct sl_group *g = &c->groups[gi];
    if (mi == SL_GROUP_NIL) {
        mi = sl_group_member_alloc(c);
        if (mi == SL_GROUP_NIL) {
            c->counters.pool_full++;
            respond_join_error(c, a->req_ctx, SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE,
                               sl_group_slice("", 0));
            return;
        }
        member_id_generate(c, a->client_id, &c->members[mi]);
    }
    struct sl_group_member *m = &c->members[mi];
    int16_t err = member_update(c, m, a);
    if (err != SL_KAFKA_ERR_NONE) {
        respond_join_error(c, a->req_ctx, err, sl_group_slice("", 0));
        sl_group_member_free(c, mi);
        return;
    }
    if (g->member_count == 0)
        set_group_protocol_type(g, a->req->protocol_type);
    sl_group_member_link(c, gi, mi);
    if (g->leader == SL_GROUP_NIL)
        g->leader = mi;
    park_join(c, m, a);
    if (g->state == SL_GROUP_PREPARING_REBALANCE) {
        g->initial_new_member = g->initial_join;
        try_complete_join(c, gi, a->now_ms);
    } else {
        prepare_rebalance(c, gi, a->now_ms);
    }
}

/* KIP-345: a known group.instance.id joins with an empty member id. It gets a new member
 * id, the old id is fenced, and a Stable group whose protocols are unchanged keeps its
 * generation and assignment. */
static void replace_static_member(struct sl_group_coordinator *c, uint32_t gi, uint32_t mi,
                                  const struct join_args *a)
{
    struct sl_group *g = &c->groups[gi];
    struct sl_group_member *m = &c->members[mi];
    if (m->join_waiting) {
        m->join_waiting = false;
        respond_join_error(c, m->join_ctx, SL_KAFKA_ERR_FENCED_INSTANCE_ID, member_id_slice(m));
    }
    if (m->sync_waiting) {
        m->sync_waiting = false;
        respond_sync(c, m->sync_ctx, SL_KAFKA_ERR_FENCED_INSTANCE_ID, NULL,
                     sl_group_slice(NULL, 0));
    }
    bool unchanged = protocols_match(m, a->req);
    member_id_generate(c, a->client_id, m);
    int16_t err = member_update(c, m, a);
    if (err != SL_KAFKA_ERR_NONE) {
        /* Its old protocols are gone: it must rejoin from scratch. */
        member_remove(c, mi, SL_KAFKA_ERR_UNKNOWN_MEMBER_ID);
        respond_join_error(c, a->req_ctx, err, sl_group_slice("", 0));
        membership_changed(c, gi, a->now_ms);
        return;
    }
    if (g->state == SL_GROUP_STABLE && unchanged) {
        (void)sl_group_stage_group(c, gi, a->now_ms);
        join_respond_current(c, g, m, a->req_ctx, a->version, true);
        return;
    }
    park_join(c, m, a);
    if (g->state == SL_GROUP_PREPARING_REBALANCE)
        try_complete_join(c, gi, a->now_ms);
    else
        prepare_rebalance(c, gi, a->now_ms);
}

static bool group_full(const struct sl_group_coordinator *c, const struct sl_group *g)
{
    return g->member_count + g->pending_count >= c->config.group_size_max;
}

static void join_unknown_member(struct sl_group_coordinator *c, uint32_t gi,
                                const struct join_args *a)
{
    struct sl_group *g = &c->groups[gi];
    if (a->instance_id.len >= 0) {
        uint32_t mi =
            sl_group_member_find_instance(c, g, a->instance_id.ptr, (uint32_t)a->instance_id.len);
        if (mi != SL_GROUP_NIL) {
            replace_static_member(c, gi, mi, a);
            return;
        }
    }
    if (group_full(c, g)) {
        respond_join_error(c, a->req_ctx, SL_KAFKA_ERR_GROUP_MAX_SIZE_REACHED,
                           sl_group_slice("", 0));
        return;
    }
    if (a->instance_id.len >= 0 || a->version < 4) {
        add_member_and_rebalance(c, gi, SL_GROUP_NIL, a);
        return;
    }
    /* KIP-394: hand out an id; the member joins for real when it comes back with it. */
    uint32_t mi = sl_group_member_alloc(c);
    if (mi == SL_GROUP_NIL) {
        c->counters.pool_full++;
        respond_join_error(c, a->req_ctx, SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE,
                           sl_group_slice("", 0));
        return;
    }
    struct sl_group_member *m = &c->members[mi];
    member_id_generate(c, a->client_id, m);
    m->pending_id = true;
    m->session_timeout_ms = a->req->session_timeout_ms;
    m->session_deadline_ms = a->now_ms + a->req->session_timeout_ms;
    sl_group_member_link(c, gi, mi);
    respond_join_error(c, a->req_ctx, SL_KAFKA_ERR_MEMBER_ID_REQUIRED, member_id_slice(m));
}

static void join_known_member(struct sl_group_coordinator *c, uint32_t gi,
                              const struct join_args *a)
{
    struct sl_group *g = &c->groups[gi];
    struct sl_codec_slice id = a->req->member_id;
    uint32_t len = sl_group_slice_len(id);
    uint32_t pi = sl_group_member_find(c, g, id.ptr, len, true);
    if (pi != SL_GROUP_NIL) {
        sl_group_member_unlink(c, pi);
        c->members[pi].pending_id = false;
        add_member_and_rebalance(c, gi, pi, a);
        return;
    }
    uint32_t mi = sl_group_member_find(c, g, id.ptr, len, false);
    if (a->instance_id.len >= 0) {
        /* An instance id owned by another member id: this one was replaced (fenced). */
        uint32_t owner =
            sl_group_member_find_instance(c, g, a->instance_id.ptr, (uint32_t)a->instance_id.len);
        if (owner != SL_GROUP_NIL && owner != mi) {
            respond_join_error(c, a->req_ctx, SL_KAFKA_ERR_FENCED_INSTANCE_ID, id);
            return;
        }
    }
    if (mi == SL_GROUP_NIL) {
        respond_join_error(c, a->req_ctx, SL_KAFKA_ERR_UNKNOWN_MEMBER_ID, id);
        return;
    }
    struct sl_group_member *m = &c->members[mi];
    bool unchanged = protocols_match(m, a->req);
    if (g->state == SL_GROUP_COMPLETING_REBALANCE && unchanged) {
        join_respond_current(c, g, m, a->req_ctx, a->version, false);
        return;
    }
    if (g->state == SL_GROUP_STABLE && unchanged && g->leader != mi) {
        m->session_deadline_ms = a->now_ms + m->session_timeout_ms;
        join_respond_current(c, g, m, a->req_ctx, a->version, false);
        return;
    }
    int16_t err = member_update(c, m, a);
    if (err != SL_KAFKA_ERR_NONE) {
        respond_join_error(c, a->req_ctx, err, id);
        return;
    }
    park_join(c, m, a);
    if (g->state == SL_GROUP_PREPARING_REBALANCE)
        try_complete_join(c, gi, a->now_ms);
    else
        prepare_rebalance(c, gi, a->now_ms);
}

void sl_group_join(struct sl_group_coordinator *c, const struct sl_codec_join_group_request *req,
                   int16_t version, struct sl_codec_slice client_id,
                   struct sl_codec_slice client_host, int64_t now_ms, void *req_ctx)
{
    sl_codec_arena_reset(&c->scratch);
    struct join_args a = {req,
                          version,
                          client_id,
                          client_host,
                          sl_group_slice(NULL, -1),
                          req->rebalance_timeout_ms,
                          now_ms,
                          req_ctx};
    if (version >= 5 && !sl_group_slice_null(req->group_instance_id))
        a.instance_id = req->group_instance_id;
    if (version < 1 || a.rebalance_timeout_ms <= 0)
        a.rebalance_timeout_ms = req->session_timeout_ms;
    struct sl_codec_slice gid = req->group_id;
    int16_t err = SL_KAFKA_ERR_NONE;
    if (c->failed)
        err = SL_KAFKA_ERR_NOT_COORDINATOR;
    else if (sl_group_slice_len(gid) == 0 || sl_group_slice_len(gid) > SL_GROUP_ID_BYTES_MAX)
        err = SL_KAFKA_ERR_INVALID_GROUP_ID;
    else if (sl_group_slice_len(req->member_id) > SL_GROUP_MEMBER_ID_BYTES_MAX ||
             sl_group_slice_len(a.instance_id) > SL_GROUP_INSTANCE_ID_BYTES_MAX ||
             sl_group_slice_len(req->protocol_type) > SL_GROUP_PROTOCOL_TYPE_BYTES_MAX ||
             req->protocols_count > (int32_t)SL_GROUP_MEMBER_PROTOCOLS_MAX)
        err = SL_KAFKA_ERR_INVALID_REQUEST;
    else if (req->session_timeout_ms < c->config.session_timeout_ms_min ||
             req->session_timeout_ms > c->config.session_timeout_ms_max)
        err = SL_KAFKA_ERR_INVALID_SESSION_TIMEOUT;
    if (err != SL_KAFKA_ERR_NONE) {
        respond_join_error(c, req_ctx, err, req->member_id);
        return;
    }
    uint32_t gi;
    struct sl_group *g = sl_group_find(c, gid.ptr, (uint32_t)gid.len, &gi);
    bool known_member = sl_group_slice_len(req->member_id) > 0;
    if (g == NULL) {
        if (known_member) {
            respond_join_error(c, req_ctx, SL_KAFKA_ERR_UNKNOWN_MEMBER_ID, req->member_id);
            return;
        }
        if (sl_group_slice_len(req->protocol_type) == 0 || req->protocols_count <= 0) {
            respond_join_error(c, req_ctx, SL_KAFKA_ERR_INCONSISTENT_GROUP_PROTOCOL,
                               req->member_id);
            return;
        }
        gi = sl_group_create(c, gid.ptr, (uint32_t)gid.len, now_ms);
        if (gi == SL_GROUP_NIL) {
            c->counters.pool_full++;
            respond_join_error(c, req_ctx, SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE, req->member_id);
            return;
        }
        g = &c->groups[gi];
    }
    uint32_t self = SL_GROUP_NIL;
    if (known_member)
        self = sl_group_member_find(c, g, req->member_id.ptr, (uint32_t)req->member_id.len, false);
    else if (a.instance_id.len >= 0)
        self = sl_group_member_find_instance(c, g, a.instance_id.ptr, (uint32_t)a.instance_id.len);
    if (!protocols_compatible(c, g, req, self)) {
        respond_join_error(c, req_ctx, SL_KAFKA_ERR_INCONSISTENT_GROUP_PROTOCOL, req->member_id);
        return;
    }
    if (known_member)
        join_known_member(c, gi, &a);
    else
        join_unknown_member(c, gi, &a);
    /* A group created for this request that holds nothing after an error goes again. */
    if (g->member_count == 0 && g->pending_count == 0 && g->offset_count == 0 &&
        g->state == SL_GROUP_EMPTY && g->generation == 0)
        sl_group_remove(c, gi);
}

/* ---- SyncGroup -------------------------------------------------------------------- */

/* Checks member, instance and generation of a Sync/Heartbeat. Returns a Kafka error and
 * the member index in *mi on NONE. */
static int16_t check_member(const struct sl_group_coordinator *c, const struct sl_group *g,
                            struct sl_codec_slice member_id, struct sl_codec_slice instance_id,
                            int32_t generation, uint32_t *mi)
{
    *mi = sl_group_member_find(c, g, member_id.ptr, sl_group_slice_len(member_id), false);
    if (instance_id.len >= 0 && instance_id.ptr != NULL) {
        uint32_t owner =
            sl_group_member_find_instance(c, g, instance_id.ptr, (uint32_t)instance_id.len);
        if (owner != SL_GROUP_NIL && owner != *mi)
            return SL_KAFKA_ERR_FENCED_INSTANCE_ID;
    }
    if (*mi == SL_GROUP_NIL)
        return SL_KAFKA_ERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return SL_KAFKA_ERR_ILLEGAL_GENERATION;
    return SL_KAFKA_ERR_NONE;
}

static struct sl_codec_slice assignment_slice(const struct sl_group_member *m)
{
    return sl_group_slice(m->assignment, m->assignment_len);
}

/* The leader's assignment: every member's bytes (absent members get an empty one). */
static int16_t store_assignment(struct sl_group_coordinator *c, struct sl_group *g,
                                const struct sl_codec_sync_group_request *req)
{
    for (int32_t i = 0; i < req->assignments_count; i++) {
        if (sl_group_slice_len(req->assignments[i].assignment) >
            c->config.member_assignment_bytes_max)
            return SL_KAFKA_ERR_INVALID_REQUEST;
    }
    for (uint32_t i = g->members_head; i != SL_GROUP_NIL; i = c->members[i].next)
        c->members[i].assignment_len = 0;
    for (int32_t i = 0; i < req->assignments_count; i++) {
        struct sl_codec_slice id = req->assignments[i].member_id;
        uint32_t mi = sl_group_member_find(c, g, id.ptr, sl_group_slice_len(id), false);
        if (mi == SL_GROUP_NIL)
            continue; /* Kafka ignores assignments of unknown members too */
        struct sl_codec_slice as = req->assignments[i].assignment;
        uint32_t len = sl_group_slice_len(as);
        if (len > 0)
            memcpy(c->members[mi].assignment, as.ptr, len);
        c->members[mi].assignment_len = (int32_t)len;
    }
    return SL_KAFKA_ERR_NONE;
}

void sl_group_sync(struct sl_group_coordinator *c, const struct sl_codec_sync_group_request *req,
                   int16_t version, int64_t now_ms, void *req_ctx)
{
    sl_codec_arena_reset(&c->scratch);
    struct sl_codec_slice none = sl_group_slice(NULL, 0);
    if (c->failed) {
        respond_sync(c, req_ctx, SL_KAFKA_ERR_NOT_COORDINATOR, NULL, none);
        return;
    }
    uint32_t gi;
    struct sl_group *g =
        sl_group_find(c, req->group_id.ptr, sl_group_slice_len(req->group_id), &gi);
    if (g == NULL) {
        respond_sync(c, req_ctx, SL_KAFKA_ERR_UNKNOWN_MEMBER_ID, NULL, none);
        return;
    }
    struct sl_codec_slice instance =
        version >= 3 ? req->group_instance_id : sl_group_slice(NULL, -1);
    uint32_t mi;
    int16_t err = check_member(c, g, req->member_id, instance, req->generation_id, &mi);
    if (err == SL_KAFKA_ERR_NONE && version >= 5) {
        if ((!sl_group_slice_null(req->protocol_type) &&
             !slice_eq_mem(req->protocol_type, g->protocol_type,
                           g->protocol_type_len < 0 ? 0u : (uint32_t)g->protocol_type_len)) ||
            (!sl_group_slice_null(req->protocol_name) &&
             !slice_eq_mem(req->protocol_name, g->protocol,
                           g->protocol_len < 0 ? 0u : (uint32_t)g->protocol_len)))
            err = SL_KAFKA_ERR_INCONSISTENT_GROUP_PROTOCOL;
    }
    if (err == SL_KAFKA_ERR_NONE && g->state == SL_GROUP_PREPARING_REBALANCE)
        err = SL_KAFKA_ERR_REBALANCE_IN_PROGRESS;
    if (err == SL_KAFKA_ERR_NONE && g->state == SL_GROUP_EMPTY)
        err = SL_KAFKA_ERR_UNKNOWN_MEMBER_ID;
    if (err != SL_KAFKA_ERR_NONE) {
        respond_sync(c, req_ctx, err, NULL, none);
        return;
    }
    struct sl_group_member *m = &c->members[mi];
    m->session_deadline_ms = now_ms + m->session_timeout_ms;
    if (g->state == SL_GROUP_STABLE) {
        respond_sync(c, req_ctx, SL_KAFKA_ERR_NONE, g, assignment_slice(m));
        return;
    }
    SL_ASSERT(g->state == SL_GROUP_COMPLETING_REBALANCE);
    bool assign = mi == g->leader && !g->assignment_persisting;
    if (assign) {
        err = store_assignment(c, g, req);
        if (err != SL_KAFKA_ERR_NONE) {
            respond_sync(c, req_ctx, err, NULL, none);
            return;
        }
    }
    if (m->sync_waiting)
        respond_sync(c, m->sync_ctx, SL_KAFKA_ERR_REBALANCE_IN_PROGRESS, NULL, none);
    m->sync_waiting = true;
    m->sync_ctx = req_ctx;
    m->sync_version = version;
    if (!assign)
        return;
    /* Kafka answers the SyncGroups once the group record with the assignment is durable. */
    if (sl_group_stage_group(c, gi, now_ms) != 0) {
        c->counters.pool_full++;
        prepare_rebalance(c, gi, now_ms); /* parked syncs: REBALANCE_IN_PROGRESS */
        return;
    }
    g->assignment_persisting = true;
    g->assignment_batch_id = c->batch_id;
}

void sl_group_assignments_persisted(struct sl_group_coordinator *c, uint64_t batch_id)
{
    for (uint32_t gi = c->groups_head; gi != SL_GROUP_NIL; gi = c->groups[gi].list_next) {
        struct sl_group *g = &c->groups[gi];
        if (!g->assignment_persisting || g->assignment_batch_id > batch_id)
            continue;
        g->assignment_persisting = false;
        SL_ASSERT(g->state == SL_GROUP_COMPLETING_REBALANCE);
        g->state = SL_GROUP_STABLE; /* state_since_ms matters only for Empty */
        for (uint32_t i = g->members_head; i != SL_GROUP_NIL; i = c->members[i].next) {
            struct sl_group_member *w = &c->members[i];
            if (!w->sync_waiting)
                continue;
            w->sync_waiting = false;
            respond_sync(c, w->sync_ctx, SL_KAFKA_ERR_NONE, g, assignment_slice(w));
        }
    }
}

void sl_group_fail_parked(struct sl_group_coordinator *c, int16_t error)
{
    for (uint32_t gi = c->groups_head; gi != SL_GROUP_NIL; gi = c->groups[gi].list_next) {
        struct sl_group *g = &c->groups[gi];
        g->assignment_persisting = false;
        for (uint32_t i = g->members_head; i != SL_GROUP_NIL; i = c->members[i].next) {
            struct sl_group_member *m = &c->members[i];
            if (m->join_waiting) {
                m->join_waiting = false;
                respond_join_error(c, m->join_ctx, error, member_id_slice(m));
            }
            if (m->sync_waiting) {
                m->sync_waiting = false;
                respond_sync(c, m->sync_ctx, error, NULL, sl_group_slice(NULL, 0));
            }
        }
    }
}

/* ---- Heartbeat -------------------------------------------------------------------- */

void sl_group_heartbeat(struct sl_group_coordinator *c,
                        const struct sl_codec_heartbeat_request *req, int16_t version,
                        int64_t now_ms, struct sl_codec_heartbeat_response *resp)
{
    sl_codec_heartbeat_response_init(resp);
    if (c->failed) {
        resp->error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
        return;
    }
    struct sl_group *g =
        sl_group_find(c, req->group_id.ptr, sl_group_slice_len(req->group_id), NULL);
    if (g == NULL || g->state == SL_GROUP_EMPTY) {
        resp->error_code = SL_KAFKA_ERR_UNKNOWN_MEMBER_ID;
        return;
    }
    struct sl_codec_slice instance =
        version >= 3 ? req->group_instance_id : sl_group_slice(NULL, -1);
    uint32_t mi;
    int16_t err = check_member(c, g, req->member_id, instance, req->generation_id, &mi);
    if (err != SL_KAFKA_ERR_NONE) {
        resp->error_code = err;
        return;
    }
    struct sl_group_member *m = &c->members[mi];
    m->session_deadline_ms = now_ms + m->session_timeout_ms;
    if (g->state == SL_GROUP_PREPARING_REBALANCE)
        resp->error_code = SL_KAFKA_ERR_REBALANCE_IN_PROGRESS;
}

/* ---- LeaveGroup ------------------------------------------------------------------- */

/* Removes one identity; returns its Kafka error. */
static int16_t leave_one(struct sl_group_coordinator *c, struct sl_group *g,
                         struct sl_codec_slice member_id, struct sl_codec_slice instance_id,
                         bool *changed)
{
    uint32_t len = sl_group_slice_len(member_id);
    if (!sl_group_slice_null(instance_id)) {
        uint32_t mi =
            sl_group_member_find_instance(c, g, instance_id.ptr, (uint32_t)instance_id.len);
        if (mi == SL_GROUP_NIL)
            return SL_KAFKA_ERR_UNKNOWN_MEMBER_ID;
        struct sl_group_member *m = &c->members[mi];
        if (len > 0 && !slice_eq_mem(member_id, m->member_id, m->member_id_len))
            return SL_KAFKA_ERR_FENCED_INSTANCE_ID;
        member_remove(c, mi, SL_KAFKA_ERR_UNKNOWN_MEMBER_ID);
        *changed = true;
        return SL_KAFKA_ERR_NONE;
    }
    uint32_t pi = sl_group_member_find(c, g, member_id.ptr, len, true);
    if (pi != SL_GROUP_NIL) {
        member_remove(c, pi, SL_KAFKA_ERR_UNKNOWN_MEMBER_ID);
        *changed = true; /* a pending id may have held the join phase open */
        return SL_KAFKA_ERR_NONE;
    }
    uint32_t mi = sl_group_member_find(c, g, member_id.ptr, len, false);
    if (mi == SL_GROUP_NIL)
        return SL_KAFKA_ERR_UNKNOWN_MEMBER_ID;
    member_remove(c, mi, SL_KAFKA_ERR_UNKNOWN_MEMBER_ID);
    *changed = true;
    return SL_KAFKA_ERR_NONE;
}

void sl_group_leave(struct sl_group_coordinator *c, const struct sl_codec_leave_group_request *req,
                    int16_t version, int64_t now_ms, struct sl_codec_leave_group_response *resp)
{
    sl_codec_arena_reset(&c->scratch);
    sl_codec_leave_group_response_init(resp);
    if (c->failed) {
        resp->error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
        return;
    }
    uint32_t gi;
    struct sl_group *g =
        sl_group_find(c, req->group_id.ptr, sl_group_slice_len(req->group_id), &gi);
    if (g == NULL) {
        resp->error_code = SL_KAFKA_ERR_UNKNOWN_MEMBER_ID;
        return;
    }
    bool changed = false;
    if (version < 3) {
        resp->error_code = leave_one(c, g, req->member_id, sl_group_slice(NULL, -1), &changed);
    } else {
        int32_t n = req->members_count < 0 ? 0 : req->members_count;
        struct sl_codec_leave_group_response_member_response *out =
            sl_group_scratch_alloc(c, (size_t)n, sizeof(*out));
        if (out == NULL) {
            resp->error_code = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
            return;
        }
        for (int32_t i = 0; i < n; i++) {
            const struct sl_codec_leave_group_request_member_identity *id = &req->members[i];
            memset(&out[i], 0, sizeof(out[i]));
            out[i].member_id = id->member_id;
            out[i].group_instance_id = id->group_instance_id;
            out[i].error_code = leave_one(c, g, id->member_id, id->group_instance_id, &changed);
        }
        resp->members = out;
        resp->members_count = n;
    }
    if (changed)
        membership_changed(c, gi, now_ms);
}

/* ---- timers ----------------------------------------------------------------------- */

static void tick_group(struct sl_group_coordinator *c, uint32_t gi, int64_t now_ms)
{
    struct sl_group *g = &c->groups[gi];
    bool changed = false;
    uint32_t i = g->pending_head;
    while (i != SL_GROUP_NIL) {
        uint32_t next = c->members[i].next;
        if (now_ms >= c->members[i].session_deadline_ms) {
            member_remove(c, i, SL_KAFKA_ERR_UNKNOWN_MEMBER_ID);
            changed = true;
        }
        i = next;
    }
    i = g->members_head;
    while (i != SL_GROUP_NIL) {
        uint32_t next = c->members[i].next;
        struct sl_group_member *m = &c->members[i];
        if (!m->join_waiting && !m->sync_waiting && now_ms >= m->session_deadline_ms) {
            member_remove(c, i, SL_KAFKA_ERR_UNKNOWN_MEMBER_ID);
            c->counters.sessions_expired++;
            changed = true;
        }
        i = next;
    }
    if (changed)
        membership_changed(c, gi, now_ms);
    if (g->state == SL_GROUP_PREPARING_REBALANCE && now_ms >= g->join_deadline_ms) {
        if (g->initial_join && g->initial_new_member && g->join_deadline_ms < g->initial_limit_ms) {
            /* Kafka's InitialDelayedJoin: members keep arriving, wait one more delay. */
            g->initial_new_member = false;
            g->join_deadline_ms = now_ms + c->config.initial_rebalance_delay_ms;
            if (g->join_deadline_ms > g->initial_limit_ms)
                g->join_deadline_ms = g->initial_limit_ms;
            return;
        }
        complete_join(c, gi, now_ms);
    } else if (g->state == SL_GROUP_COMPLETING_REBALANCE && !g->assignment_persisting &&
               now_ms >= g->sync_deadline_ms) {
        /* The leader's assignment never came: drop members that did not sync. */
        i = g->members_head;
        while (i != SL_GROUP_NIL) {
            uint32_t next = c->members[i].next;
            if (!c->members[i].sync_waiting)
                member_remove(c, i, SL_KAFKA_ERR_UNKNOWN_MEMBER_ID);
            i = next;
        }
        prepare_rebalance(c, gi, now_ms);
    }
}

void sl_group_coordinator_tick(struct sl_group_coordinator *c, int64_t now_ms)
{
    if (c->failed)
        return;
    uint32_t gi = c->groups_head;
    while (gi != SL_GROUP_NIL) {
        uint32_t next = c->groups[gi].list_next;
        tick_group(c, gi, now_ms);
        /* A group that only ever held an expired pending id leaves no trace. */
        const struct sl_group *g = &c->groups[gi];
        if (g->state == SL_GROUP_EMPTY && g->generation == 0 && g->member_count == 0 &&
            g->pending_count == 0 && g->offset_count == 0)
            sl_group_remove(c, gi);
        gi = next;
    }
}
