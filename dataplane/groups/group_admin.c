/* DescribeGroups, ListGroups, DeleteGroups. */
#include <string.h>
#include <strings.h>

#include "common/sl_assert.h"
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/groups/group_internal.h"

static struct sl_codec_slice cstr(const char *s)
{
    return sl_group_slice(s, (int32_t)strlen(s));
}

static void describe_one(struct sl_group_coordinator *c, struct sl_codec_slice gid,
                         struct sl_codec_describe_groups_response_described_group *out)
{
    memset(out, 0, sizeof(*out));
    out->group_id = gid;
    out->authorized_operations = INT32_MIN;
    out->protocol_type = sl_group_slice("", 0);
    out->protocol_data = sl_group_slice("", 0);
    if (c->failed) {
        out->error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
        out->group_state = sl_group_slice("", 0);
        return;
    }
    if (sl_group_slice_len(gid) == 0) {
        out->error_code = SL_KAFKA_ERR_INVALID_GROUP_ID;
        out->group_state = sl_group_slice("", 0);
        return;
    }
    const struct sl_group *g = sl_group_find(c, gid.ptr, sl_group_slice_len(gid), NULL);
    if (g == NULL) {
        /* Kafka describes an unknown group as Dead without an error. */
        out->group_state = cstr(sl_group_state_name(SL_GROUP_DEAD));
        return;
    }
    out->group_state = cstr(sl_group_state_name(g->state));
    if (g->protocol_type_len > 0)
        out->protocol_type = sl_group_slice(g->protocol_type, g->protocol_type_len);
    bool stable = g->state == SL_GROUP_STABLE;
    if (stable && g->protocol_len > 0)
        out->protocol_data = sl_group_slice(g->protocol, g->protocol_len);
    struct sl_codec_describe_groups_response_described_group_member *ms =
        sl_group_scratch_alloc(c, g->member_count, sizeof(*ms));
    if (ms == NULL) {
        out->error_code = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        return;
    }
    uint32_t n = 0;
    for (uint32_t i = g->members_head; i != SL_GROUP_NIL; i = c->members[i].next) {
        const struct sl_group_member *m = &c->members[i];
        struct sl_codec_describe_groups_response_described_group_member *dm = &ms[n++];
        memset(dm, 0, sizeof(*dm));
        dm->member_id = sl_group_slice(m->member_id, m->member_id_len);
        dm->group_instance_id = m->instance_id_len < 0
                                    ? sl_group_slice(NULL, -1)
                                    : sl_group_slice(m->instance_id, m->instance_id_len);
        dm->client_id = sl_group_slice(m->client_id, m->client_id_len);
        dm->client_host = sl_group_slice(m->client_host, m->client_host_len);
        dm->member_metadata = sl_group_slice("", 0);
        dm->member_assignment = sl_group_slice("", 0);
        if (stable) {
            struct sl_codec_slice meta = sl_group_member_protocol_metadata(
                m, g->protocol, (uint32_t)(g->protocol_len < 0 ? 0 : g->protocol_len));
            if (meta.len >= 0)
                dm->member_metadata = meta;
            dm->member_assignment = sl_group_slice(m->assignment, m->assignment_len);
        }
    }
    out->members = ms;
    out->members_count = (int32_t)n;
}

void sl_group_describe(struct sl_group_coordinator *c,
                       const struct sl_codec_describe_groups_request *req, int16_t version,
                       struct sl_codec_describe_groups_response *resp)
{
    (void)version;
    sl_codec_arena_reset(&c->scratch);
    sl_codec_describe_groups_response_init(resp);
    int32_t n = req->groups_count < 0 ? 0 : req->groups_count;
    struct sl_codec_describe_groups_response_described_group *gs =
        sl_group_scratch_alloc(c, (size_t)n, sizeof(*gs));
    if (gs == NULL)
        return;
    for (int32_t i = 0; i < n; i++)
        describe_one(c, req->groups[i], &gs[i]);
    resp->groups = gs;
    resp->groups_count = n;
}

static bool filter_match(const struct sl_codec_slice *filter, int32_t count, const char *value)
{
    if (count <= 0)
        return true;
    size_t len = strlen(value);
    for (int32_t i = 0; i < count; i++) {
        if (sl_group_slice_len(filter[i]) == len &&
            strncasecmp((const char *)filter[i].ptr, value, len) == 0)
            return true;
    }
    return false;
}

void sl_group_list(struct sl_group_coordinator *c, const struct sl_codec_list_groups_request *req,
                   int16_t version, struct sl_codec_list_groups_response *resp)
{
    sl_codec_arena_reset(&c->scratch);
    sl_codec_list_groups_response_init(resp);
    if (c->failed) {
        resp->error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
        return;
    }
    struct sl_codec_list_groups_response_listed_group *ls =
        sl_group_scratch_alloc(c, c->group_count, sizeof(*ls));
    if (ls == NULL) {
        resp->error_code = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        return;
    }
    int32_t n = 0;
    for (uint32_t gi = c->groups_head; gi != SL_GROUP_NIL; gi = c->groups[gi].list_next) {
        const struct sl_group *g = &c->groups[gi];
        const char *state = sl_group_state_name(g->state);
        if (version >= 4 && !filter_match(req->states_filter, req->states_filter_count, state))
            continue;
        if (version >= 5 && !filter_match(req->types_filter, req->types_filter_count, "classic"))
            continue;
        struct sl_codec_list_groups_response_listed_group *l = &ls[n++];
        memset(l, 0, sizeof(*l));
        l->group_id = sl_group_slice(g->id, g->id_len);
        l->protocol_type = g->protocol_type_len < 0
                               ? sl_group_slice("", 0)
                               : sl_group_slice(g->protocol_type, g->protocol_type_len);
        l->group_state = cstr(state);
        l->group_type = cstr("classic");
    }
    resp->groups = ls;
    resp->groups_count = n;
}

/* Removes an empty group: tombstones for its offsets and its metadata, all or nothing. */
static int16_t delete_one(struct sl_group_coordinator *c, struct sl_codec_slice gid, int64_t now_ms)
{
    if (c->failed)
        return SL_KAFKA_ERR_NOT_COORDINATOR;
    if (sl_group_slice_len(gid) == 0)
        return SL_KAFKA_ERR_INVALID_GROUP_ID;
    uint32_t gi;
    struct sl_group *g = sl_group_find(c, gid.ptr, sl_group_slice_len(gid), &gi);
    if (g == NULL || g->state == SL_GROUP_DEAD)
        return SL_KAFKA_ERR_GROUP_ID_NOT_FOUND;
    if (g->state != SL_GROUP_EMPTY || g->member_count > 0)
        return SL_KAFKA_ERR_NON_EMPTY_GROUP;
    bool was_open = c->builder_open;
    struct sl_batch_builder saved = sl_group_stage_save(c);
    for (uint32_t oi = g->offsets_head; oi != SL_GROUP_NIL; oi = c->offsets[oi].group_next) {
        if (sl_group_stage_offset_tombstone(c, oi, now_ms) != 0)
            goto full;
    }
    if (sl_group_stage_group_tombstone(c, gi, now_ms) != 0)
        goto full;
    while (g->offsets_head != SL_GROUP_NIL)
        sl_group_offset_remove(c, g->offsets_head);
    sl_group_remove_all_members(c, gi, SL_KAFKA_ERR_UNKNOWN_MEMBER_ID); /* pending ids */
    sl_group_remove(c, gi);
    return SL_KAFKA_ERR_NONE;
full:
    sl_group_stage_restore(c, &saved, was_open);
    c->counters.pool_full++;
    return SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
}

void sl_group_delete(struct sl_group_coordinator *c,
                     const struct sl_codec_delete_groups_request *req, int16_t version,
                     int64_t now_ms, struct sl_codec_delete_groups_response *resp)
{
    (void)version;
    sl_codec_arena_reset(&c->scratch);
    sl_codec_delete_groups_response_init(resp);
    int32_t n = req->groups_names_count < 0 ? 0 : req->groups_names_count;
    struct sl_codec_delete_groups_response_deletable_group_result *rs =
        sl_group_scratch_alloc(c, (size_t)n, sizeof(*rs));
    if (rs == NULL)
        return;
    for (int32_t i = 0; i < n; i++) {
        memset(&rs[i], 0, sizeof(rs[i]));
        rs[i].group_id = req->groups_names[i];
        rs[i].error_code = delete_one(c, req->groups_names[i], now_ms);
    }
    resp->results = rs;
    resp->results_count = n;
}
