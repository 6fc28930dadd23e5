/* The per-shard fetch session cache. See fetch_sessions.h. */
#include "dataplane/fetch_sessions.h"

#include <stdlib.h>
#include <string.h>

#include "common/sl_assert.h"

uint32_t sl_dp_fetch_sessions_shard_slots(uint32_t total_slots, uint32_t shard_id,
                                          uint32_t shard_count)
{
    SL_ASSERT(shard_count > 0 && shard_id < shard_count);
    return total_slots / shard_count + (shard_id < total_slots % shard_count ? 1u : 0u);
}

bool sl_dp_fetch_sessions_init(struct sl_dp_fetch_sessions *c, uint32_t slot_count,
                               uint32_t shard_id, uint32_t shard_count)
{
    SL_ASSERT(shard_count > 0 && shard_id < shard_count);
    memset(c, 0, sizeof(*c));
    c->slot_count = slot_count;
    c->shard_id = shard_id;
    c->shard_count = shard_count;
    /* id - 1 = shard + shard_count * (slot + slot_count * generation) < INT32_MAX */
    uint64_t span = (uint64_t)shard_count * (slot_count > 0 ? slot_count : 1);
    if (span > (1u << 30))
        return false;
    c->generation_limit = (uint32_t)((uint64_t)(INT32_MAX - 1) / span);
    SL_ASSERT(c->generation_limit >= 1);
    if (slot_count == 0)
        return true;
    c->slots = calloc(slot_count, sizeof(*c->slots));
    return c->slots != NULL;
}

void sl_dp_fetch_sessions_destroy(struct sl_dp_fetch_sessions *c)
{
    free(c->slots);
    c->slots = NULL;
    c->slot_count = 0;
}

struct sl_dp_fetch_session *sl_dp_fetch_session_find(struct sl_dp_fetch_sessions *c, int32_t id)
{
    if (id <= 0 || c->slot_count == 0)
        return NULL;
    uint32_t v = (uint32_t)id - 1;
    if (v % c->shard_count != c->shard_id)
        return NULL;
    uint32_t slot = (v / c->shard_count) % c->slot_count;
    struct sl_dp_fetch_session *sess = &c->slots[slot];
    return sess->id == id ? sess : NULL;
}

static int32_t make_id(struct sl_dp_fetch_sessions *c, uint32_t slot)
{
    uint64_t rest = (uint64_t)slot + (uint64_t)c->slot_count * c->generation;
    uint64_t id = 1 + c->shard_id + (uint64_t)c->shard_count * rest;
    SL_ASSERT(id >= 1 && id <= INT32_MAX);
    c->generation = (c->generation + 1) % c->generation_limit;
    return (int32_t)id;
}

struct sl_dp_fetch_session *sl_dp_fetch_session_open(struct sl_dp_fetch_sessions *c, bool by_id,
                                                     int64_t now_ms, bool *evicted)
{
    *evicted = false;
    struct sl_dp_fetch_session *pick = NULL;
    struct sl_dp_fetch_session *oldest = NULL;
    for (uint32_t i = 0; i < c->slot_count && pick == NULL; i++) {
        struct sl_dp_fetch_session *sess = &c->slots[i];
        if (sess->id == 0)
            pick = sess;
        else if (oldest == NULL || sess->last_used_ms < oldest->last_used_ms)
            oldest = sess;
    }
    if (pick == NULL && oldest != NULL &&
        now_ms - oldest->last_used_ms >= SL_DP_FETCH_SESSION_EVICT_IDLE_MS) {
        sl_dp_fetch_session_close(c, oldest);
        *evicted = true;
        pick = oldest;
    }
    if (pick == NULL)
        return NULL;
    uint32_t slot = (uint32_t)(pick - c->slots);
    pick->id = make_id(c, slot);
    pick->epoch = 1;
    pick->by_id = by_id;
    pick->last_used_ms = now_ms;
    pick->part_count = 0;
    pick->names_used = 0;
    c->open_count++;
    return pick;
}

void sl_dp_fetch_session_close(struct sl_dp_fetch_sessions *c, struct sl_dp_fetch_session *sess)
{
    SL_ASSERT(sess->id != 0);
    SL_ASSERT(c->open_count > 0);
    sess->id = 0;
    sess->part_count = 0;
    sess->names_used = 0;
    c->open_count--;
}

struct sl_dp_fetch_key sl_dp_fetch_session_part_key(const struct sl_dp_fetch_session *sess,
                                                    uint32_t index)
{
    SL_ASSERT(index < sess->part_count);
    const struct sl_dp_fetch_session_part *p = &sess->parts[index];
    struct sl_dp_fetch_key k = {.topic_id = p->topic_id, .partition = p->partition};
    if (!sess->by_id) {
        k.name = sess->names + p->name_off;
        k.name_len = p->name_len;
    }
    return k;
}

bool sl_dp_fetch_key_equal(const struct sl_dp_fetch_key *a, const struct sl_dp_fetch_key *b,
                           bool by_id)
{
    if (a->partition != b->partition)
        return false;
    if (by_id)
        return memcmp(a->topic_id.bytes, b->topic_id.bytes, sizeof(a->topic_id.bytes)) == 0;
    return a->name_len == b->name_len &&
           (a->name_len == 0 || memcmp(a->name, b->name, a->name_len) == 0);
}

int32_t sl_dp_fetch_session_part_find(const struct sl_dp_fetch_session *sess,
                                      const struct sl_dp_fetch_key *key)
{
    for (uint32_t i = 0; i < sess->part_count; i++) {
        struct sl_dp_fetch_key k = sl_dp_fetch_session_part_key(sess, i);
        if (sl_dp_fetch_key_equal(&k, key, sess->by_id))
            return (int32_t)i;
    }
    return -1;
}

/* Offset of name in the session's names, stored once; -1 when there is no room. */
static int32_t intern_name(struct sl_dp_fetch_session *sess, const char *name, uint32_t len)
{
    uint32_t at = 0;
    while (at < sess->names_used) {
        uint32_t n = (uint8_t)sess->names[at];
        if (n == len && memcmp(sess->names + at + 1, name, len) == 0)
            return (int32_t)(at + 1);
        at += 1 + n;
    }
    if (len > UINT8_MAX || sess->names_used + 1 + len > SL_DP_FETCH_SESSION_NAME_BYTES)
        return -1;
    sess->names[sess->names_used] = (char)(uint8_t)len;
    memcpy(sess->names + sess->names_used + 1, name, len);
    int32_t off = (int32_t)sess->names_used + 1;
    sess->names_used += 1 + len;
    return off;
}

int32_t sl_dp_fetch_session_part_set(struct sl_dp_fetch_session *sess,
                                     const struct sl_dp_fetch_key *key, int64_t fetch_offset,
                                     int32_t max_bytes)
{
    int32_t i = sl_dp_fetch_session_part_find(sess, key);
    if (i < 0) {
        if (sess->part_count >= SL_DP_FETCH_SESSION_PARTITIONS_MAX)
            return -1;
        struct sl_dp_fetch_session_part p = {.partition = key->partition,
                                             .high_watermark = -1,
                                             .last_stable_offset = -1,
                                             .log_start_offset = -1};
        if (sess->by_id) {
            p.topic_id = key->topic_id;
        } else {
            int32_t off = intern_name(sess, key->name, key->name_len);
            if (off < 0)
                return -1;
            p.name_off = (uint16_t)off;
            p.name_len = (uint8_t)key->name_len;
        }
        i = (int32_t)sess->part_count++;
        sess->parts[i] = p;
    }
    sess->parts[i].fetch_offset = fetch_offset;
    sess->parts[i].max_bytes = max_bytes;
    return i;
}

void sl_dp_fetch_session_part_remove(struct sl_dp_fetch_session *sess,
                                     const struct sl_dp_fetch_key *key)
{
    int32_t i = sl_dp_fetch_session_part_find(sess, key);
    if (i < 0)
        return;
    /* The name stays interned: the names area is bounded and freed with the session. */
    memmove(&sess->parts[i], &sess->parts[i + 1],
            (sess->part_count - (uint32_t)i - 1) * sizeof(sess->parts[0]));
    sess->part_count--;
}

int32_t sl_dp_fetch_session_next_epoch(int32_t epoch)
{
    return epoch >= INT32_MAX || epoch < 1 ? 1 : epoch + 1;
}
