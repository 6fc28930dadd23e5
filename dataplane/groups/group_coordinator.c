/* Coordinator lifetime, pools and lookups: groups, members, topics, offsets. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/sl_assert.h"
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/groups/group_internal.h"

void sl_group_config_default(struct sl_group_config *config)
{
    memset(config, 0, sizeof(*config));
    config->groups_max = 256;
    config->members_max = 1024;
    config->group_size_max = 1000;
    config->offsets_max = 16384;
    config->topics_max = 1024;
    config->member_metadata_bytes_max = 4096;
    config->member_assignment_bytes_max = 4096;
    config->offset_metadata_bytes_max = 256;
    config->pending_commits_max = 1024;
    config->pending_commit_bytes = 256u << 10;
    config->scratch_bytes = 256u << 10;
    config->batch_bytes = 256u << 10;
    config->session_timeout_ms_min = 6000;
    config->session_timeout_ms_max = 1800000;
    config->initial_rebalance_delay_ms = 3000;
    config->offsets_retention_ms = 10080LL * 60 * 1000;
    config->member_id_seed = 0x9e3779b97f4a7c15ULL;
}

static bool config_valid(const struct sl_group_config *c)
{
    return c->groups_max > 0 && c->members_max > 0 && c->group_size_max > 0 && c->offsets_max > 0 &&
           c->topics_max > 0 && c->member_metadata_bytes_max > 0 &&
           c->member_assignment_bytes_max > 0 && c->pending_commits_max > 0 &&
           c->pending_commit_bytes >= 1024 && c->scratch_bytes >= 4096 && c->batch_bytes >= 4096 &&
           c->session_timeout_ms_min >= 0 &&
           c->session_timeout_ms_min <= c->session_timeout_ms_max &&
           c->initial_rebalance_delay_ms >= 0 && c->offsets_retention_ms > 0 &&
           c->groups_max < (1u << 24) && c->members_max < (1u << 24) &&
           c->offsets_max < (1u << 26) && c->topics_max < (1u << 24) &&
           c->offset_metadata_bytes_max <= INT16_MAX;
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 16;
    while (p < n && p < (1u << 30))
        p <<= 1;
    return p;
}

static void fill_nil(uint32_t *a, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        a[i] = SL_GROUP_NIL;
}

int sl_group_coordinator_create(const struct sl_group_config *config,
                                const struct sl_group_callbacks *callbacks,
                                struct sl_group_coordinator **out)
{
    SL_ASSERT(config != NULL && callbacks != NULL && out != NULL);
    if (!config_valid(config))
        return -EINVAL;
    struct sl_group_coordinator *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->config = *config;
    c->cb = *callbacks;
    c->bucket_count = pow2_at_least(config->offsets_max > config->groups_max ? config->offsets_max
                                                                             : config->groups_max);
    size_t slab_bytes = (size_t)config->members_max * (config->member_metadata_bytes_max +
                                                       config->member_assignment_bytes_max) +
                        (size_t)config->offsets_max * config->offset_metadata_bytes_max;
    c->groups = calloc(config->groups_max, sizeof(*c->groups));
    c->group_buckets = malloc(sizeof(uint32_t) * c->bucket_count);
    c->members = calloc(config->members_max, sizeof(*c->members));
    c->topics = calloc(config->topics_max, sizeof(*c->topics));
    c->topic_buckets = malloc(sizeof(uint32_t) * c->bucket_count);
    c->offsets = calloc(config->offsets_max, sizeof(*c->offsets));
    c->offset_buckets = malloc(sizeof(uint32_t) * c->bucket_count);
    c->pending = calloc(config->pending_commits_max, sizeof(*c->pending));
    c->pending_ring = malloc(config->pending_commit_bytes);
    c->scratch_mem = malloc(config->scratch_bytes);
    c->batch_buf = malloc(config->batch_bytes);
    c->join_members = calloc(config->group_size_max, sizeof(*c->join_members));
    c->record_value_cap = config->batch_bytes;
    c->record_key = malloc(1024);
    c->record_value = malloc(c->record_value_cap);
    c->slabs = malloc(slab_bytes > 0 ? slab_bytes : 1);
    if (c->groups == NULL || c->group_buckets == NULL || c->members == NULL || c->topics == NULL ||
        c->topic_buckets == NULL || c->offsets == NULL || c->offset_buckets == NULL ||
        c->pending == NULL || c->pending_ring == NULL || c->scratch_mem == NULL ||
        c->batch_buf == NULL || c->join_members == NULL || c->record_key == NULL ||
        c->record_value == NULL || c->slabs == NULL) {
        sl_group_coordinator_destroy(c);
        return -ENOMEM;
    }
    fill_nil(c->group_buckets, c->bucket_count);
    fill_nil(c->topic_buckets, c->bucket_count);
    fill_nil(c->offset_buckets, c->bucket_count);
    uint8_t *slab = c->slabs;
    for (uint32_t i = 0; i < config->groups_max; i++)
        c->groups[i].list_next = i + 1 < config->groups_max ? i + 1 : SL_GROUP_NIL;
    c->groups_free = 0;
    c->groups_head = SL_GROUP_NIL;
    for (uint32_t i = 0; i < config->members_max; i++) {
        c->members[i].next = i + 1 < config->members_max ? i + 1 : SL_GROUP_NIL;
        c->members[i].metadata = slab;
        slab += config->member_metadata_bytes_max;
        c->members[i].assignment = slab;
        slab += config->member_assignment_bytes_max;
    }
    c->members_free = 0;
    for (uint32_t i = 0; i < config->offsets_max; i++) {
        c->offsets[i].group_next = i + 1 < config->offsets_max ? i + 1 : SL_GROUP_NIL;
        c->offsets[i].metadata = slab;
        slab += config->offset_metadata_bytes_max;
    }
    c->offsets_free = 0;
    sl_codec_arena_init(&c->scratch, c->scratch_mem, config->scratch_bytes);
    c->batch_id = 1;
    *out = c;
    return 0;
}

void sl_group_coordinator_destroy(struct sl_group_coordinator *c)
{
    if (c == NULL)
        return;
    free(c->groups);
    free(c->group_buckets);
    free(c->members);
    free(c->topics);
    free(c->topic_buckets);
    free(c->offsets);
    free(c->offset_buckets);
    free(c->pending);
    free(c->pending_ring);
    free(c->scratch_mem);
    free(c->batch_buf);
    free(c->join_members);
    free(c->record_key);
    free(c->record_value);
    free(c->slabs);
    free(c);
}

/* ---- Kafka's partition of a group ------------------------------------------------- */

/* Next code point of UTF-8 at s[*i..len); malformed input yields U+FFFD and skips one
 * byte, as Java's String(bytes, UTF_8) replaces it. */
static uint32_t utf8_next(const uint8_t *s, size_t len, size_t *i)
{
    uint8_t b = s[*i];
    uint32_t cp;
    size_t need;
    if (b < 0x80) {
        *i += 1;
        return b;
    } else if (b >= 0xc2 && b <= 0xdf) {
        cp = b & 0x1f;
        need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
        cp = b & 0x0f;
        need = 2;
    } else if (b >= 0xf0 && b <= 0xf4) {
        cp = b & 0x07;
        need = 3;
    } else {
        *i += 1;
        return 0xfffd;
    }
    if (*i + need >= len) {
        *i += 1;
        return 0xfffd;
    }
    for (size_t k = 1; k <= need; k++) {
        uint8_t cb = s[*i + k];
        if ((cb & 0xc0) != 0x80) {
            *i += 1;
            return 0xfffd;
        }
        cp = (cp << 6) | (cb & 0x3f);
    }
    static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        *i += 1;
        return 0xfffd;
    }
    *i += need + 1;
    return cp;
}

int32_t sl_group_partition_for(const uint8_t *group_id, size_t len, int32_t partition_count)
{
    SL_ASSERT(partition_count > 0);
    uint32_t h = 0; /* Java int arithmetic wraps; unsigned does the same without UB */
    size_t i = 0;
    while (i < len) {
        uint32_t cp = utf8_next(group_id, len, &i);
        if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000;
            h = h * 31u + (0xd800u + (v >> 10));
            h = h * 31u + (0xdc00u + (v & 0x3ffu));
        } else {
            h = h * 31u + cp;
        }
    }
    /* Kafka's Utils.abs: Integer.MIN_VALUE maps to 0. */
    int32_t sh = (int32_t)h;
    uint32_t a = sh == INT32_MIN ? 0u : (uint32_t)(sh < 0 ? -sh : sh);
    return (int32_t)(a % (uint32_t)partition_count);
}

/* ---- hashing and lookups ---------------------------------------------------------- */

uint32_t sl_group_hash_bytes(const void *data, size_t len, uint32_t seed)
{
    const uint8_t *p = data;
    uint32_t h = 2166136261u ^ seed; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

struct sl_group *sl_group_find(const struct sl_group_coordinator *c, const uint8_t *id,
                               uint32_t len, uint32_t *index)
{
    uint32_t b = sl_group_hash_bytes(id, len, 0) & (c->bucket_count - 1);
    for (uint32_t i = c->group_buckets[b]; i != SL_GROUP_NIL; i = c->groups[i].hash_next) {
        struct sl_group *g = &c->groups[i];
        if (g->id_len == len && memcmp(g->id, id, len) == 0) {
            if (index != NULL)
                *index = i;
            return &c->groups[i];
        }
    }
    return NULL;
}

void sl_group_set_state(struct sl_group *g, enum sl_group_state state, int64_t now_ms)
{
    g->state = state;
    g->state_since_ms = now_ms;
}

uint32_t sl_group_create(struct sl_group_coordinator *c, const uint8_t *id, uint32_t len,
                         int64_t now_ms)
{
    SL_ASSERT(len <= SL_GROUP_ID_BYTES_MAX);
    uint32_t i = c->groups_free;
    if (i == SL_GROUP_NIL)
        return SL_GROUP_NIL;
    struct sl_group *g = &c->groups[i];
    c->groups_free = g->list_next;
    memset(g, 0, sizeof(*g));
    g->in_use = true;
    memcpy(g->id, id, len);
    g->id_len = (uint16_t)len;
    g->protocol_type_len = -1;
    g->protocol_len = -1;
    g->leader = SL_GROUP_NIL;
    g->members_head = g->members_tail = g->pending_head = SL_GROUP_NIL;
    g->offsets_head = SL_GROUP_NIL;
    sl_group_set_state(g, SL_GROUP_EMPTY, now_ms);
    uint32_t b = sl_group_hash_bytes(id, len, 0) & (c->bucket_count - 1);
    g->hash_next = c->group_buckets[b];
    c->group_buckets[b] = i;
    g->list_prev = SL_GROUP_NIL;
    g->list_next = c->groups_head;
    if (c->groups_head != SL_GROUP_NIL)
        c->groups[c->groups_head].list_prev = i;
    c->groups_head = i;
    c->group_count++;
    return i;
}

void sl_group_remove(struct sl_group_coordinator *c, uint32_t index)
{
    struct sl_group *g = &c->groups[index];
    SL_ASSERT(g->in_use);
    SL_ASSERT(g->member_count == 0 && g->pending_count == 0 && g->offset_count == 0);
    uint32_t b = sl_group_hash_bytes(g->id, g->id_len, 0) & (c->bucket_count - 1);
    uint32_t *link = &c->group_buckets[b];
    while (*link != index) {
        SL_ASSERT(*link != SL_GROUP_NIL);
        link = &c->groups[*link].hash_next;
    }
    *link = g->hash_next;
    if (g->list_prev != SL_GROUP_NIL)
        c->groups[g->list_prev].list_next = g->list_next;
    else
        c->groups_head = g->list_next;
    if (g->list_next != SL_GROUP_NIL)
        c->groups[g->list_next].list_prev = g->list_prev;
    g->in_use = false;
    g->state = SL_GROUP_DEAD;
    g->list_next = c->groups_free;
    c->groups_free = index;
    c->group_count--;
}

/* ---- members ---------------------------------------------------------------------- */

uint32_t sl_group_member_alloc(struct sl_group_coordinator *c)
{
    uint32_t i = c->members_free;
    if (i == SL_GROUP_NIL)
        return SL_GROUP_NIL;
    struct sl_group_member *m = &c->members[i];
    c->members_free = m->next;
    uint8_t *meta = m->metadata;
    uint8_t *assignment = m->assignment;
    memset(m, 0, offsetof(struct sl_group_member, metadata));
    m->metadata = meta;
    m->assignment = assignment;
    m->in_use = true;
    m->instance_id_len = -1;
    m->group = SL_GROUP_NIL;
    m->next = m->prev = SL_GROUP_NIL;
    c->member_count++;
    return i;
}

void sl_group_member_free(struct sl_group_coordinator *c, uint32_t index)
{
    struct sl_group_member *m = &c->members[index];
    SL_ASSERT(m->in_use && m->group == SL_GROUP_NIL);
    m->in_use = false;
    m->next = c->members_free;
    c->members_free = index;
    c->member_count--;
}

uint32_t sl_group_member_find(const struct sl_group_coordinator *c, const struct sl_group *g,
                              const uint8_t *id, uint32_t len, bool pending)
{
    uint32_t head = pending ? g->pending_head : g->members_head;
    for (uint32_t i = head; i != SL_GROUP_NIL; i = c->members[i].next) {
        const struct sl_group_member *m = &c->members[i];
        if (m->member_id_len == len && memcmp(m->member_id, id, len) == 0)
            return i;
    }
    return SL_GROUP_NIL;
}

uint32_t sl_group_member_find_instance(const struct sl_group_coordinator *c,
                                       const struct sl_group *g, const uint8_t *id, uint32_t len)
{
    for (uint32_t i = g->members_head; i != SL_GROUP_NIL; i = c->members[i].next) {
        const struct sl_group_member *m = &c->members[i];
        if (m->instance_id_len == (int16_t)len && memcmp(m->instance_id, id, len) == 0)
            return i;
    }
    return SL_GROUP_NIL;
}

/* Links a member at the tail of the group's member list, or at the head of its pending
 * list when m->pending_id. */
void sl_group_member_link(struct sl_group_coordinator *c, uint32_t group, uint32_t member)
{
    struct sl_group *g = &c->groups[group];
    struct sl_group_member *m = &c->members[member];
    SL_ASSERT(m->group == SL_GROUP_NIL);
    m->group = group;
    if (m->pending_id) {
        m->prev = SL_GROUP_NIL;
        m->next = g->pending_head;
        if (g->pending_head != SL_GROUP_NIL)
            c->members[g->pending_head].prev = member;
        g->pending_head = member;
        g->pending_count++;
        return;
    }
    m->next = SL_GROUP_NIL;
    m->prev = g->members_tail;
    if (g->members_tail != SL_GROUP_NIL)
        c->members[g->members_tail].next = member;
    else
        g->members_head = member;
    g->members_tail = member;
    g->member_count++;
}

void sl_group_member_unlink(struct sl_group_coordinator *c, uint32_t member)
{
    struct sl_group_member *m = &c->members[member];
    SL_ASSERT(m->group != SL_GROUP_NIL);
    struct sl_group *g = &c->groups[m->group];
    if (m->pending_id) {
        if (m->prev != SL_GROUP_NIL)
            c->members[m->prev].next = m->next;
        else
            g->pending_head = m->next;
        if (m->next != SL_GROUP_NIL)
            c->members[m->next].prev = m->prev;
        g->pending_count--;
    } else {
        if (m->prev != SL_GROUP_NIL)
            c->members[m->prev].next = m->next;
        else
            g->members_head = m->next;
        if (m->next != SL_GROUP_NIL)
            c->members[m->next].prev = m->prev;
        else
            g->members_tail = m->prev;
        g->member_count--;
        if (g->leader == member)
            g->leader = SL_GROUP_NIL;
    }
    m->group = SL_GROUP_NIL;
    m->next = m->prev = SL_GROUP_NIL;
}

int16_t sl_group_member_set_protocols(struct sl_group_coordinator *c, struct sl_group_member *m,
                                      const struct sl_codec_slice *names,
                                      const struct sl_codec_slice *metas, uint32_t count)
{
    if (count > SL_GROUP_MEMBER_PROTOCOLS_MAX)
        return SL_KAFKA_ERR_INVALID_REQUEST;
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (sl_group_slice_len(names[i]) > SL_GROUP_PROTOCOL_BYTES_MAX)
            return SL_KAFKA_ERR_INVALID_REQUEST;
        total += sl_group_slice_len(names[i]) + (uint64_t)sl_group_slice_len(metas[i]);
    }
    if (total > c->config.member_metadata_bytes_max)
        return SL_KAFKA_ERR_INVALID_REQUEST;
    uint32_t at = 0;
    for (uint32_t i = 0; i < count; i++) {
        struct sl_group_protocol_ref *p = &m->protocols[i];
        p->name_off = at;
        p->name_len = sl_group_slice_len(names[i]);
        if (p->name_len > 0)
            memcpy(m->metadata + at, names[i].ptr, p->name_len);
        at += p->name_len;
        p->meta_off = at;
        p->meta_len = sl_group_slice_len(metas[i]);
        if (p->meta_len > 0)
            memcpy(m->metadata + at, metas[i].ptr, p->meta_len);
        at += p->meta_len;
    }
    m->protocol_count = count;
    m->metadata_used = at;
    return SL_KAFKA_ERR_NONE;
}

struct sl_codec_slice sl_group_member_protocol_metadata(const struct sl_group_member *m,
                                                        const char *name, uint32_t len)
{
    for (uint32_t i = 0; i < m->protocol_count; i++) {
        const struct sl_group_protocol_ref *p = &m->protocols[i];
        if (p->name_len == len && memcmp(m->metadata + p->name_off, name, len) == 0)
            return sl_group_slice(m->metadata + p->meta_off, (int32_t)p->meta_len);
    }
    return sl_group_slice(NULL, -1);
}

/* ---- topics ----------------------------------------------------------------------- */

uint32_t sl_group_topic_find(const struct sl_group_coordinator *c, const uint8_t *name,
                             uint32_t len)
{
    uint32_t b = sl_group_hash_bytes(name, len, 1) & (c->bucket_count - 1);
    for (uint32_t i = c->topic_buckets[b]; i != SL_GROUP_NIL; i = c->topics[i].hash_next) {
        if (c->topics[i].name_len == len && memcmp(c->topics[i].name, name, len) == 0)
            return i;
    }
    return SL_GROUP_NIL;
}

uint32_t sl_group_topic_intern(struct sl_group_coordinator *c, const uint8_t *name, uint32_t len)
{
    SL_ASSERT(len <= SL_GROUP_TOPIC_BYTES_MAX);
    uint32_t i = sl_group_topic_find(c, name, len);
    if (i != SL_GROUP_NIL) {
        c->topics[i].refs++;
        return i;
    }
    for (i = 0; i < c->config.topics_max; i++) {
        if (c->topics[i].refs == 0)
            break;
    }
    if (i == c->config.topics_max)
        return SL_GROUP_NIL;
    struct sl_group_topic *t = &c->topics[i];
    memset(t, 0, sizeof(*t));
    t->refs = 1;
    t->name_len = (uint16_t)len;
    memcpy(t->name, name, len);
    uint32_t b = sl_group_hash_bytes(name, len, 1) & (c->bucket_count - 1);
    t->hash_next = c->topic_buckets[b];
    c->topic_buckets[b] = i;
    c->topic_count++;
    return i;
}

void sl_group_topic_unref(struct sl_group_coordinator *c, uint32_t topic)
{
    struct sl_group_topic *t = &c->topics[topic];
    SL_ASSERT(t->refs > 0);
    if (--t->refs > 0)
        return;
    uint32_t b = sl_group_hash_bytes(t->name, t->name_len, 1) & (c->bucket_count - 1);
    uint32_t *link = &c->topic_buckets[b];
    while (*link != topic) {
        SL_ASSERT(*link != SL_GROUP_NIL);
        link = &c->topics[*link].hash_next;
    }
    *link = t->hash_next;
    c->topic_count--;
}

/* ---- offsets ---------------------------------------------------------------------- */

static uint32_t offset_bucket(const struct sl_group_coordinator *c, uint32_t group, uint32_t topic,
                              int32_t partition)
{
    uint32_t key[3] = {group, topic, (uint32_t)partition};
    return sl_group_hash_bytes(key, sizeof(key), 2) & (c->bucket_count - 1);
}

uint32_t sl_group_offset_find(const struct sl_group_coordinator *c, uint32_t group, uint32_t topic,
                              int32_t partition)
{
    uint32_t b = offset_bucket(c, group, topic, partition);
    for (uint32_t i = c->offset_buckets[b]; i != SL_GROUP_NIL; i = c->offsets[i].hash_next) {
        const struct sl_group_offset *o = &c->offsets[i];
        if (o->group == group && o->topic == topic && o->partition == partition)
            return i;
    }
    return SL_GROUP_NIL;
}

uint32_t sl_group_offset_add(struct sl_group_coordinator *c, uint32_t group, uint32_t topic,
                             int32_t partition)
{
    uint32_t i = c->offsets_free;
    if (i == SL_GROUP_NIL)
        return SL_GROUP_NIL;
    struct sl_group_offset *o = &c->offsets[i];
    c->offsets_free = o->group_next;
    o->in_use = true;
    o->group = group;
    o->topic = topic;
    o->partition = partition;
    o->leader_epoch = -1;
    o->offset = -1;
    o->commit_ms = 0;
    o->expire_ms = -1;
    o->metadata_len = 0;
    c->topics[topic].refs++;
    uint32_t b = offset_bucket(c, group, topic, partition);
    o->hash_next = c->offset_buckets[b];
    c->offset_buckets[b] = i;
    struct sl_group *g = &c->groups[group];
    o->group_prev = SL_GROUP_NIL;
    o->group_next = g->offsets_head;
    if (g->offsets_head != SL_GROUP_NIL)
        c->offsets[g->offsets_head].group_prev = i;
    g->offsets_head = i;
    g->offset_count++;
    c->offset_count++;
    return i;
}

void sl_group_offset_remove(struct sl_group_coordinator *c, uint32_t index)
{
    struct sl_group_offset *o = &c->offsets[index];
    SL_ASSERT(o->in_use);
    uint32_t b = offset_bucket(c, o->group, o->topic, o->partition);
    uint32_t *link = &c->offset_buckets[b];
    while (*link != index) {
        SL_ASSERT(*link != SL_GROUP_NIL);
        link = &c->offsets[*link].hash_next;
    }
    *link = o->hash_next;
    struct sl_group *g = &c->groups[o->group];
    if (o->group_prev != SL_GROUP_NIL)
        c->offsets[o->group_prev].group_next = o->group_next;
    else
        g->offsets_head = o->group_next;
    if (o->group_next != SL_GROUP_NIL)
        c->offsets[o->group_next].group_prev = o->group_prev;
    g->offset_count--;
    c->offset_count--;
    sl_group_topic_unref(c, o->topic);
    o->in_use = false;
    o->group_next = c->offsets_free;
    c->offsets_free = index;
}

/* ---- introspection ---------------------------------------------------------------- */

const char *sl_group_state_name(enum sl_group_state state)
{
    switch (state) {
    case SL_GROUP_EMPTY:
        return "Empty";
    case SL_GROUP_PREPARING_REBALANCE:
        return "PreparingRebalance";
    case SL_GROUP_COMPLETING_REBALANCE:
        return "CompletingRebalance";
    case SL_GROUP_STABLE:
        return "Stable";
    case SL_GROUP_DEAD:
        return "Dead";
    }
    return "Dead";
}

int sl_group_coordinator_group_info(const struct sl_group_coordinator *c, const char *group_id,
                                    struct sl_group_info *info)
{
    const struct sl_group *g =
        sl_group_find(c, (const uint8_t *)group_id, (uint32_t)strlen(group_id), NULL);
    if (g == NULL)
        return -ENOENT;
    memset(info, 0, sizeof(*info));
    info->state = g->state;
    info->generation = g->generation;
    info->member_count = g->member_count;
    info->offset_count = g->offset_count;
    if (g->protocol_type_len > 0)
        memcpy(info->protocol_type, g->protocol_type, (size_t)g->protocol_type_len);
    if (g->protocol_len > 0)
        memcpy(info->protocol, g->protocol, (size_t)g->protocol_len);
    if (g->leader != SL_GROUP_NIL) {
        const struct sl_group_member *l = &c->members[g->leader];
        memcpy(info->leader, l->member_id, l->member_id_len);
    }
    return 0;
}

const struct sl_group_counters *sl_group_coordinator_counters(const struct sl_group_coordinator *c)
{
    return &c->counters;
}

/* ---- invariants (tests) ----------------------------------------------------------- */

static void check_group(const struct sl_group_coordinator *c, uint32_t gi, uint32_t *members_seen,
                        uint32_t *offsets_seen)
{
    const struct sl_group *g = &c->groups[gi];
    SL_ASSERT(g->in_use);
    uint32_t gi_found = SL_GROUP_NIL;
    SL_ASSERT(sl_group_find(c, (const uint8_t *)g->id, g->id_len, &gi_found) == g);
    SL_ASSERT(gi_found == gi);
    uint32_t n = 0;
    bool leader_found = false;
    uint32_t prev = SL_GROUP_NIL;
    for (uint32_t i = g->members_head; i != SL_GROUP_NIL; i = c->members[i].next) {
        const struct sl_group_member *m = &c->members[i];
        SL_ASSERT(m->in_use && !m->pending_id && m->group == gi && m->prev == prev);
        SL_ASSERT(!m->join_waiting || g->state == SL_GROUP_PREPARING_REBALANCE);
        SL_ASSERT(!m->sync_waiting || g->state == SL_GROUP_COMPLETING_REBALANCE);
        leader_found |= i == g->leader;
        prev = i;
        n++;
        SL_ASSERT(n <= c->config.members_max);
    }
    SL_ASSERT(g->members_tail == prev);
    SL_ASSERT(n == g->member_count);
    SL_ASSERT(g->leader == SL_GROUP_NIL || leader_found);
    if (g->state == SL_GROUP_COMPLETING_REBALANCE || g->state == SL_GROUP_STABLE)
        SL_ASSERT(g->member_count > 0 && g->leader != SL_GROUP_NIL && g->protocol_len >= 0);
    if (g->state == SL_GROUP_EMPTY)
        SL_ASSERT(g->member_count == 0);
    SL_ASSERT(g->state != SL_GROUP_DEAD);
    SL_ASSERT(!g->assignment_persisting || g->state == SL_GROUP_COMPLETING_REBALANCE);
    SL_ASSERT(g->member_count + g->pending_count <= c->config.group_size_max);
    uint32_t p = 0;
    for (uint32_t i = g->pending_head; i != SL_GROUP_NIL; i = c->members[i].next) {
        const struct sl_group_member *m = &c->members[i];
        SL_ASSERT(m->in_use && m->pending_id && m->group == gi);
        SL_ASSERT(!m->join_waiting && !m->sync_waiting);
        p++;
        SL_ASSERT(p <= c->config.members_max);
    }
    SL_ASSERT(p == g->pending_count);
    *members_seen += n + p;
    uint32_t o = 0;
    for (uint32_t i = g->offsets_head; i != SL_GROUP_NIL; i = c->offsets[i].group_next) {
        const struct sl_group_offset *off = &c->offsets[i];
        SL_ASSERT(off->in_use && off->group == gi);
        SL_ASSERT(c->topics[off->topic].refs > 0);
        SL_ASSERT(sl_group_offset_find(c, gi, off->topic, off->partition) == i);
        o++;
        SL_ASSERT(o <= c->config.offsets_max);
    }
    SL_ASSERT(o == g->offset_count);
    *offsets_seen += o;
}

void sl_group_coordinator_check(const struct sl_group_coordinator *c)
{
    uint32_t groups = 0, members = 0, offsets = 0;
    for (uint32_t gi = c->groups_head; gi != SL_GROUP_NIL; gi = c->groups[gi].list_next) {
        check_group(c, gi, &members, &offsets);
        groups++;
        SL_ASSERT(groups <= c->config.groups_max);
    }
    SL_ASSERT(groups == c->group_count);
    SL_ASSERT(members == c->member_count);
    SL_ASSERT(offsets == c->offset_count);
    uint32_t in_use = 0;
    for (uint32_t i = 0; i < c->config.members_max; i++)
        in_use += c->members[i].in_use ? 1u : 0u;
    SL_ASSERT(in_use == c->member_count);
    /* Topic references: one per offset naming it. */
    uint32_t topics = 0;
    for (uint32_t t = 0; t < c->config.topics_max; t++) {
        if (c->topics[t].refs == 0)
            continue;
        topics++;
        SL_ASSERT(
            sl_group_topic_find(c, (const uint8_t *)c->topics[t].name, c->topics[t].name_len) == t);
    }
    SL_ASSERT(topics == c->topic_count);
    uint64_t refs = 0;
    for (uint32_t t = 0; t < c->config.topics_max; t++)
        refs += c->topics[t].refs;
    SL_ASSERT(refs == c->offset_count);
    SL_ASSERT(c->pending_count <= c->config.pending_commits_max);
}
