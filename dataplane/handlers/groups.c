/* Consumer-group APIs: FindCoordinator (10), JoinGroup (11), SyncGroup (14), Heartbeat
 * (12), LeaveGroup (13), OffsetCommit (8), OffsetFetch (9), DescribeGroups (15),
 * ListGroups (16), DeleteGroups (42), OffsetDelete (47).
 *
 * A group lives in the coordinator of its offsets partition (Kafka's hash of the group
 * id), hosted by the shard owning that partition (dataplane/group_host.c) on the broker
 * leading that partition of __consumer_offsets; other brokers answer NOT_COORDINATOR. A
 * request is carried there as a partition op (by reference over the shard rings, or
 * directly when the connection's shard is the owner). The owner calls the coordinator and
 * encodes the response straight into the request's slot (the coordinator's response
 * structs live only during its call or callback); the op then returns home, which marks
 * the response done in connection order. JoinGroup, SyncGroup and OffsetCommit may be
 * answered later (end of the rebalance, durability); the op stays outstanding meanwhile,
 * which keeps the request slot alive even when its connection closes.
 *
 * Requests naming several groups (DescribeGroups, DeleteGroups, OffsetFetch v8+) visit
 * the owners one group at a time, and ListGroups visits every shard; each step copies its
 * part of the answer into the request's arena (the home shard does not touch the request
 * while the op is away), and home encodes the assembled response.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sl_assert.h"
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/group_host.h"
#include "dataplane/handlers/handlers.h"

/* Key types of FindCoordinator. */
#define SL_DP_COORDINATOR_KEY_GROUP 0

struct group_req {
    struct sl_dp_part_op op;
    int32_t offsets_partition;
    bool remote;
    bool encoded;   /* the owner encoded the response into the slot */
    bool encode_ok; /* ... successfully */
    bool assembled; /* multi-step: every step is done, home encodes resp */
    uint32_t step;  /* multi-step: the group (or shard) being visited */
    uint32_t steps;
    void *resp;      /* multi-step: the response being assembled (arena) */
    bool arena_full; /* multi-step: a copy did not fit; the answer is cut */
};

/* ---- plumbing -------------------------------------------------------------------- */

/* Encodes body as r's response on whichever shard runs the op (the slot is not touched
 * by its home meanwhile). */
static void encode_into(struct sl_shard *s, struct sl_dp_request *r, const void *body)
{
    struct group_req *g = r->hstate;
    struct sl_codec_response_header hdr = {.correlation_id = r->req.header.correlation_id};
    sl_codec_encoder_init(&r->enc, r->tx, s->opts.tx_bytes, NULL, 0);
    int rc =
        sl_codec_encode_response(&r->enc, r->req.header.api_key, r->response_version, &hdr, body);
    if (rc == SL_CODEC_ERR_BUFFER_FULL) {
        r->tx_heap = malloc(s->opts.response_bytes_max);
        if (r->tx_heap != NULL) {
            sl_codec_encoder_init(&r->enc, r->tx_heap, s->opts.response_bytes_max, NULL, 0);
            rc = sl_codec_encode_response(&r->enc, r->req.header.api_key, r->response_version, &hdr,
                                          body);
        }
    }
    if (rc != SL_CODEC_OK)
        fprintf(stderr, "sluiced: shard %u: cannot encode %s v%d response: %s\n", s->opts.shard_id,
                r->req.api ? r->req.api->name : "?", r->response_version, sl_codec_strerror(rc));
    g->encoded = true;
    g->encode_ok = rc == SL_CODEC_OK;
}

/* Owner side: the op's work is done (response encoded or step copied). */
static void op_complete(struct sl_shard *owner, struct group_req *g)
{
    if (g->remote)
        sl_dp_op_reply(owner, &g->op);
    else
        sl_dp_op_finished(owner, g->op.req);
}

static void op_done(struct sl_shard *home, struct sl_dp_part_op *op)
{
    sl_dp_op_finished(home, op->req);
}

/* Home side: runs fn on the shard owning the offsets partition (or shard, for steps). */
static void send_to(struct sl_shard *s, struct sl_dp_request *r, uint32_t owner,
                    void (*fn)(struct sl_shard *, struct sl_dp_part_op *))
{
    struct group_req *g = r->hstate;
    memset(&g->op, 0, sizeof(g->op));
    g->op.req = r;
    g->op.owner = owner;
    g->op.run = fn;
    g->op.done = op_done;
    if (owner != s->opts.shard_id) {
        g->remote = true;
        sl_dp_op_send(s, &g->op);
        return;
    }
    g->remote = false;
    r->pending_ops++;
    fn(s, &g->op);
}

static struct group_req *state_for(struct sl_shard *s, struct sl_dp_request *r)
{
    struct group_req *g = sl_dp_alloc(r, 1, sizeof(*g));
    if (g == NULL) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return NULL;
    }
    r->hstate = g;
    return g;
}

/* Home: sends a one-group request to its coordinator. */
static void route_group(struct sl_shard *s, struct sl_dp_request *r, struct sl_codec_slice group_id,
                        void (*fn)(struct sl_shard *, struct sl_dp_part_op *))
{
    struct group_req *g = state_for(s, r);
    if (g == NULL)
        return;
    g->offsets_partition = sl_dp_group_partition(s, group_id);
    send_to(s, r, sl_dp_group_owner(s, g->offsets_partition), fn);
}

static struct sl_group_coordinator *coord_of(struct sl_shard *s, struct sl_dp_part_op *op)
{
    return sl_dp_group_coordinator(s, ((struct group_req *)op)->offsets_partition);
}

static struct sl_codec_slice client_id_of(const struct sl_dp_request *r)
{
    struct sl_codec_slice id = r->req.header.client_id;
    if (id.len < 0)
        id = (struct sl_codec_slice){(const uint8_t *)"", 0};
    return id;
}

/* The connection's peer address is not kept by the network driver (yet). */
static const struct sl_codec_slice k_client_host = {(const uint8_t *)"/unknown", 8};

/* Copies a slice into r's arena (null stays null). */
static struct sl_codec_slice copy_slice(struct group_req *g, struct sl_dp_request *r,
                                        struct sl_codec_slice v)
{
    if (v.len <= 0)
        return v;
    uint8_t *p = sl_dp_alloc(r, (size_t)v.len, 1);
    if (p == NULL) {
        g->arena_full = true;
        return (struct sl_codec_slice){(const uint8_t *)"", 0};
    }
    memcpy(p, v.ptr, (size_t)v.len);
    return (struct sl_codec_slice){p, v.len};
}

/* ---- coordinator callbacks (owner shard) ------------------------------------------ */

void sl_dp_groups_join_done(void *ctx, void *req_ctx,
                            const struct sl_codec_join_group_response *resp)
{
    struct group_req *g = req_ctx;
    encode_into(ctx, g->op.req, resp);
    op_complete(ctx, g);
}

void sl_dp_groups_sync_done(void *ctx, void *req_ctx,
                            const struct sl_codec_sync_group_response *resp)
{
    struct group_req *g = req_ctx;
    encode_into(ctx, g->op.req, resp);
    op_complete(ctx, g);
}

void sl_dp_groups_commit_done(void *ctx, void *req_ctx,
                              const struct sl_codec_offset_commit_response *resp)
{
    struct group_req *g = req_ctx;
    encode_into(ctx, g->op.req, resp);
    op_complete(ctx, g);
}

/* ---- one-group APIs (owner side) --------------------------------------------------- */

static void run_join(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct sl_dp_request *r = op->req;
    const struct sl_codec_join_group_request *req = r->req.body;
    struct sl_group_coordinator *c = coord_of(s, op);
    if (c == NULL) {
        struct sl_codec_join_group_response resp;
        sl_codec_join_group_response_init(&resp);
        resp.error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
        resp.member_id = req->member_id;
        resp.protocol_name = (struct sl_codec_slice){(const uint8_t *)"", 0};
        encode_into(s, r, &resp);
        op_complete(s, (struct group_req *)op);
        return;
    }
    sl_group_join(c, req, r->req.header.api_version, client_id_of(r), k_client_host,
                  sl_dp_group_now_ms(), op);
}

static void run_sync(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct sl_dp_request *r = op->req;
    struct sl_group_coordinator *c = coord_of(s, op);
    if (c == NULL) {
        struct sl_codec_sync_group_response resp;
        sl_codec_sync_group_response_init(&resp);
        resp.error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
        encode_into(s, r, &resp);
        op_complete(s, (struct group_req *)op);
        return;
    }
    sl_group_sync(c, r->req.body, r->req.header.api_version, sl_dp_group_now_ms(), op);
}

static void run_commit(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct sl_dp_request *r = op->req;
    const struct sl_codec_offset_commit_request *req = r->req.body;
    struct sl_group_coordinator *c = coord_of(s, op);
    if (c == NULL) {
        /* Every partition gets NOT_COORDINATOR. */
        struct sl_codec_offset_commit_response resp;
        sl_codec_offset_commit_response_init(&resp);
        int32_t nt = SL_MAX(req->topics_count, 0);
        resp.topics = sl_dp_alloc(r, (size_t)nt + 1, sizeof(*resp.topics));
        resp.topics_count = resp.topics != NULL ? nt : 0;
        for (int32_t t = 0; t < resp.topics_count; t++) {
            sl_codec_offset_commit_response_offset_commit_response_topic_init(&resp.topics[t]);
            resp.topics[t].name = req->topics[t].name;
            int32_t np = SL_MAX(req->topics[t].partitions_count, 0);
            resp.topics[t].partitions =
                sl_dp_alloc(r, (size_t)np + 1, sizeof(*resp.topics[t].partitions));
            resp.topics[t].partitions_count = resp.topics[t].partitions != NULL ? np : 0;
            for (int32_t p = 0; p < resp.topics[t].partitions_count; p++) {
                struct sl_codec_offset_commit_response_offset_commit_response_partition *o =
                    &resp.topics[t].partitions[p];
                sl_codec_offset_commit_response_offset_commit_response_partition_init(o);
                o->partition_index = req->topics[t].partitions[p].partition_index;
                o->error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
            }
        }
        encode_into(s, r, &resp);
        op_complete(s, (struct group_req *)op);
        return;
    }
    sl_group_offset_commit(c, req, r->req.header.api_version, sl_dp_group_now_ms(), op);
}

static void run_heartbeat(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct sl_dp_request *r = op->req;
    struct sl_group_coordinator *c = coord_of(s, op);
    struct sl_codec_heartbeat_response resp;
    sl_codec_heartbeat_response_init(&resp);
    if (c == NULL)
        resp.error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
    else
        sl_group_heartbeat(c, r->req.body, r->req.header.api_version, sl_dp_group_now_ms(), &resp);
    encode_into(s, r, &resp);
    op_complete(s, (struct group_req *)op);
}

static void run_leave(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct sl_dp_request *r = op->req;
    struct sl_group_coordinator *c = coord_of(s, op);
    struct sl_codec_leave_group_response resp;
    sl_codec_leave_group_response_init(&resp);
    if (c == NULL)
        resp.error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
    else
        sl_group_leave(c, r->req.body, r->req.header.api_version, sl_dp_group_now_ms(), &resp);
    encode_into(s, r, &resp);
    op_complete(s, (struct group_req *)op);
}

static void run_offset_delete(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct sl_dp_request *r = op->req;
    struct sl_group_coordinator *c = coord_of(s, op);
    struct sl_codec_offset_delete_response resp;
    sl_codec_offset_delete_response_init(&resp);
    if (c == NULL)
        resp.error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
    else
        sl_group_offset_delete(c, r->req.body, r->req.header.api_version, sl_dp_group_now_ms(),
                               &resp);
    encode_into(s, r, &resp);
    op_complete(s, (struct group_req *)op);
}

/* OffsetFetch of one group (v0-7, or v8+ naming one group). */
static void run_offset_fetch(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct sl_dp_request *r = op->req;
    const struct sl_codec_offset_fetch_request *req = r->req.body;
    struct sl_group_coordinator *c = coord_of(s, op);
    struct sl_codec_offset_fetch_response resp;
    sl_codec_offset_fetch_response_init(&resp);
    if (c != NULL) {
        sl_group_offset_fetch(c, req, r->req.header.api_version, &resp);
    } else if (r->req.header.api_version >= 8) {
        resp.groups = sl_dp_alloc(r, 1, sizeof(*resp.groups));
        if (resp.groups != NULL) {
            sl_codec_offset_fetch_response_offset_fetch_response_group_init(resp.groups);
            resp.groups[0].group_id = req->groups[0].group_id;
            resp.groups[0].topics_count = 0;
            resp.groups[0].error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
            resp.groups_count = 1;
        }
    } else {
        resp.error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
        resp.topics_count = 0;
    }
    encode_into(s, r, &resp);
    op_complete(s, (struct group_req *)op);
}

/* ---- home side: handlers and resume ----------------------------------------------- */

void sl_dp_handle_join_group(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_join_group_request *req = r->req.body;
    route_group(s, r, req->group_id, run_join);
}

void sl_dp_handle_sync_group(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_sync_group_request *req = r->req.body;
    route_group(s, r, req->group_id, run_sync);
}

void sl_dp_handle_heartbeat(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_heartbeat_request *req = r->req.body;
    route_group(s, r, req->group_id, run_heartbeat);
}

void sl_dp_handle_leave_group(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_leave_group_request *req = r->req.body;
    route_group(s, r, req->group_id, run_leave);
}

void sl_dp_handle_offset_commit(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_offset_commit_request *req = r->req.body;
    route_group(s, r, req->group_id, run_commit);
}

void sl_dp_handle_offset_delete(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_offset_delete_request *req = r->req.body;
    route_group(s, r, req->group_id, run_offset_delete);
}

static void start_step(struct sl_shard *s, struct sl_dp_request *r);

void sl_dp_resume_groups(struct sl_shard *s, struct sl_dp_request *r)
{
    struct group_req *g = r->hstate;
    if (!g->encoded && !g->assembled) {
        g->step++;
        if (g->step < g->steps) {
            start_step(s, r);
            return;
        }
        g->assembled = true;
    }
    if (g->assembled) {
        sl_dp_respond(s, r, g->resp, 0);
        return;
    }
    if (!g->encode_ok) {
        r->no_response = true;
        r->state = SL_DP_REQ_DONE;
        sl_dp_request_close_conn(s, r);
        sl_dp_request_reap_orphan(s, r);
        return;
    }
    r->response_total_bytes = sl_codec_encoder_total_bytes(&r->enc);
    r->state = SL_DP_REQ_DONE;
    if (sl_dp_request_orphaned(r))
        sl_dp_request_reap_orphan(s, r);
    else
        sl_dp_conn_flush(s, r->conn_slot);
}

/* ---- FindCoordinator (answered on the connection's shard) -------------------------- */

static void coordinator_of(struct sl_shard *s, int8_t key_type, struct sl_codec_slice key,
                           int16_t *error, int32_t *node_id, struct sl_codec_slice *host,
                           int32_t *port)
{
    *node_id = -1;
    *host = (struct sl_codec_slice){(const uint8_t *)"", 0};
    *port = -1;
    if (key_type != SL_DP_COORDINATOR_KEY_GROUP) {
        /* Transactions (and share groups) are not served. */
        *error = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        return;
    }
    if (sl_md_image_topic(s->image, SL_DP_OFFSETS_TOPIC) == NULL) {
        /* Kafka's lazy creation: the client asks again (COORDINATOR_NOT_AVAILABLE is
         * retriable) and finds the leaders once the topic reached this broker's image. */
        sl_dp_group_create_offsets_topic(s);
        *error = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        return;
    }
    int32_t coordinator = sl_dp_group_coordinator_node(s, sl_dp_group_partition(s, key));
    const struct sl_md_broker *b = sl_md_image_broker(s->image, coordinator);
    const struct sl_md_listener *l = b != NULL ? sl_dp_broker_listener(b) : NULL;
    if (l == NULL || b->fenced) {
        *error = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        return;
    }
    *error = SL_KAFKA_ERR_NONE;
    *node_id = coordinator;
    *host = sl_dp_cstr(l->host);
    *port = l->port;
}

void sl_dp_handle_find_coordinator(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_find_coordinator_request *req = r->req.body;
    struct sl_codec_find_coordinator_response resp;
    sl_codec_find_coordinator_response_init(&resp);
    if (r->req.header.api_version < 4) {
        coordinator_of(s, req->key_type, req->key, &resp.error_code, &resp.node_id, &resp.host,
                       &resp.port);
        if (resp.error_code != SL_KAFKA_ERR_NONE)
            sl_dp_stats_error(&s->stats, resp.error_code);
        sl_dp_respond(s, r, &resp, 0);
        return;
    }
    int32_t n = SL_MAX(req->coordinator_keys_count, 0);
    resp.coordinators = sl_dp_alloc(r, (size_t)n + 1, sizeof(*resp.coordinators));
    if (resp.coordinators == NULL) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    resp.coordinators_count = n;
    for (int32_t i = 0; i < n; i++) {
        struct sl_codec_find_coordinator_response_coordinator *o = &resp.coordinators[i];
        sl_codec_find_coordinator_response_coordinator_init(o);
        o->key = req->coordinator_keys[i];
        coordinator_of(s, req->key_type, req->coordinator_keys[i], &o->error_code, &o->node_id,
                       &o->host, &o->port);
    }
    sl_dp_respond(s, r, &resp, 0);
}

/* ---- multi-step APIs ---------------------------------------------------------------- */

static struct sl_codec_slice describe_group_id(const struct sl_dp_request *r, uint32_t i)
{
    const struct sl_codec_describe_groups_request *req = r->req.body;
    return req->groups[i];
}

static void run_describe_step(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct sl_dp_request *r = op->req;
    struct group_req *g = (struct group_req *)op;
    const struct sl_codec_describe_groups_request *req = r->req.body;
    struct sl_codec_describe_groups_response *out = g->resp;
    struct sl_codec_describe_groups_response_described_group *dst = &out->groups[g->step];
    sl_codec_describe_groups_response_described_group_init(dst);
    dst->group_id = req->groups[g->step];
    struct sl_group_coordinator *c = coord_of(s, op);
    if (c == NULL) {
        dst->error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
        dst->group_state = (struct sl_codec_slice){(const uint8_t *)"", 0};
        dst->protocol_type = dst->group_state;
        dst->protocol_data = dst->group_state;
        dst->members_count = 0;
        op_complete(s, g);
        return;
    }
    struct sl_codec_describe_groups_request one = *req;
    one.groups = &req->groups[g->step];
    one.groups_count = 1;
    struct sl_codec_describe_groups_response resp;
    sl_codec_describe_groups_response_init(&resp);
    sl_group_describe(c, &one, r->req.header.api_version, &resp);
    if (resp.groups_count == 1) {
        const struct sl_codec_describe_groups_response_described_group *src = &resp.groups[0];
        *dst = *src;
        dst->group_id = req->groups[g->step];
        dst->group_state = copy_slice(g, r, src->group_state);
        dst->protocol_type = copy_slice(g, r, src->protocol_type);
        dst->protocol_data = copy_slice(g, r, src->protocol_data);
        int32_t nm = SL_MAX(src->members_count, 0);
        dst->members = sl_dp_alloc(r, (size_t)nm + 1, sizeof(*dst->members));
        if (dst->members == NULL) {
            g->arena_full = true;
            nm = 0;
        }
        dst->members_count = nm;
        for (int32_t m = 0; m < nm; m++) {
            const struct sl_codec_describe_groups_response_described_group_member *sm =
                &src->members[m];
            struct sl_codec_describe_groups_response_described_group_member *dm = &dst->members[m];
            *dm = *sm;
            dm->member_id = copy_slice(g, r, sm->member_id);
            dm->group_instance_id = copy_slice(g, r, sm->group_instance_id);
            dm->client_id = copy_slice(g, r, sm->client_id);
            dm->client_host = copy_slice(g, r, sm->client_host);
            dm->member_metadata = copy_slice(g, r, sm->member_metadata);
            dm->member_assignment = copy_slice(g, r, sm->member_assignment);
        }
    }
    op_complete(s, g);
}

static void run_delete_step(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct sl_dp_request *r = op->req;
    struct group_req *g = (struct group_req *)op;
    const struct sl_codec_delete_groups_request *req = r->req.body;
    struct sl_codec_delete_groups_response *out = g->resp;
    struct sl_codec_delete_groups_response_deletable_group_result *dst = &out->results[g->step];
    sl_codec_delete_groups_response_deletable_group_result_init(dst);
    dst->group_id = req->groups_names[g->step];
    struct sl_group_coordinator *c = coord_of(s, op);
    if (c == NULL) {
        dst->error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
        op_complete(s, g);
        return;
    }
    struct sl_codec_delete_groups_request one = *req;
    one.groups_names = &req->groups_names[g->step];
    one.groups_names_count = 1;
    struct sl_codec_delete_groups_response resp;
    sl_codec_delete_groups_response_init(&resp);
    sl_group_delete(c, &one, r->req.header.api_version, sl_dp_group_now_ms(), &resp);
    if (resp.results_count == 1)
        dst->error_code = resp.results[0].error_code;
    op_complete(s, g);
}

static void run_fetch_step(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct sl_dp_request *r = op->req;
    struct group_req *g = (struct group_req *)op;
    const struct sl_codec_offset_fetch_request *req = r->req.body;
    struct sl_codec_offset_fetch_response *out = g->resp;
    struct sl_codec_offset_fetch_response_offset_fetch_response_group *dst = &out->groups[g->step];
    sl_codec_offset_fetch_response_offset_fetch_response_group_init(dst);
    dst->group_id = req->groups[g->step].group_id;
    dst->topics_count = 0;
    struct sl_group_coordinator *c = coord_of(s, op);
    if (c == NULL) {
        dst->error_code = SL_KAFKA_ERR_NOT_COORDINATOR;
        op_complete(s, g);
        return;
    }
    struct sl_codec_offset_fetch_request one = *req;
    one.groups = &req->groups[g->step];
    one.groups_count = 1;
    struct sl_codec_offset_fetch_response resp;
    sl_codec_offset_fetch_response_init(&resp);
    sl_group_offset_fetch(c, &one, r->req.header.api_version, &resp);
    if (resp.groups_count == 1) {
        const struct sl_codec_offset_fetch_response_offset_fetch_response_group *src =
            &resp.groups[0];
        dst->error_code = src->error_code;
        int32_t nt = SL_MAX(src->topics_count, 0);
        dst->topics = sl_dp_alloc(r, (size_t)nt + 1, sizeof(*dst->topics));
        if (dst->topics == NULL) {
            g->arena_full = true;
            nt = 0;
        }
        dst->topics_count = nt;
        for (int32_t t = 0; t < nt; t++) {
            const struct sl_codec_offset_fetch_response_offset_fetch_response_topics *st =
                &src->topics[t];
            struct sl_codec_offset_fetch_response_offset_fetch_response_topics *dt =
                &dst->topics[t];
            *dt = *st;
            dt->name = copy_slice(g, r, st->name);
            int32_t np = SL_MAX(st->partitions_count, 0);
            dt->partitions = sl_dp_alloc(r, (size_t)np + 1, sizeof(*dt->partitions));
            if (dt->partitions == NULL) {
                g->arena_full = true;
                np = 0;
            }
            dt->partitions_count = np;
            for (int32_t p = 0; p < np; p++) {
                dt->partitions[p] = st->partitions[p];
                dt->partitions[p].metadata = copy_slice(g, r, st->partitions[p].metadata);
            }
        }
    }
    op_complete(s, g);
}

/* ListGroups: step i visits shard i and lists every coordinator hosted there. */
static void run_list_step(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct sl_dp_request *r = op->req;
    struct group_req *g = (struct group_req *)op;
    struct sl_codec_list_groups_response *out = g->resp;
    struct sl_dp_group_host *h = s->groups;
    for (uint32_t i = 0; h != NULL && i < h->part_count; i++) {
        struct sl_group_coordinator *c = sl_dp_group_coordinator(s, h->parts[i].partition);
        if (c == NULL)
            continue;
        struct sl_codec_list_groups_response resp;
        sl_codec_list_groups_response_init(&resp);
        sl_group_list(c, r->req.body, r->req.header.api_version, &resp);
        if (resp.error_code != SL_KAFKA_ERR_NONE && resp.error_code != SL_KAFKA_ERR_NOT_COORDINATOR)
            out->error_code = resp.error_code;
        int32_t n = SL_MAX(resp.groups_count, 0);
        if (n == 0)
            continue;
        struct sl_codec_list_groups_response_listed_group *grown =
            sl_dp_alloc(r, (size_t)(out->groups_count + n), sizeof(*grown));
        if (grown == NULL) {
            g->arena_full = true;
            break;
        }
        if (out->groups_count > 0)
            memcpy(grown, out->groups, (size_t)out->groups_count * sizeof(*grown));
        for (int32_t k = 0; k < n; k++) {
            struct sl_codec_list_groups_response_listed_group *d = &grown[out->groups_count + k];
            *d = resp.groups[k];
            d->group_id = copy_slice(g, r, resp.groups[k].group_id);
            d->protocol_type = copy_slice(g, r, resp.groups[k].protocol_type);
            d->group_state = copy_slice(g, r, resp.groups[k].group_state);
            d->group_type = copy_slice(g, r, resp.groups[k].group_type);
        }
        out->groups = grown;
        out->groups_count += n;
    }
    op_complete(s, g);
}

static void start_step(struct sl_shard *s, struct sl_dp_request *r)
{
    struct group_req *g = r->hstate;
    switch (r->req.header.api_key) {
    case 15:
        g->offsets_partition = sl_dp_group_partition(s, describe_group_id(r, g->step));
        send_to(s, r, sl_dp_group_owner(s, g->offsets_partition), run_describe_step);
        break;
    case 42: {
        const struct sl_codec_delete_groups_request *req = r->req.body;
        g->offsets_partition = sl_dp_group_partition(s, req->groups_names[g->step]);
        send_to(s, r, sl_dp_group_owner(s, g->offsets_partition), run_delete_step);
        break;
    }
    case 9: {
        const struct sl_codec_offset_fetch_request *req = r->req.body;
        g->offsets_partition = sl_dp_group_partition(s, req->groups[g->step].group_id);
        send_to(s, r, sl_dp_group_owner(s, g->offsets_partition), run_fetch_step);
        break;
    }
    case 16:
        send_to(s, r, g->step, run_list_step);
        break;
    default:
        SL_ASSERT(!"not a multi-step group API");
    }
}

/* Starts a multi-step request of `steps` steps answering with `resp`. */
static void start_steps(struct sl_shard *s, struct sl_dp_request *r, uint32_t steps, void *resp)
{
    struct group_req *g = state_for(s, r);
    if (g == NULL)
        return;
    g->resp = resp;
    g->steps = steps;
    if (steps == 0) {
        g->assembled = true;
        sl_dp_respond(s, r, resp, 0);
        return;
    }
    start_step(s, r);
}

void sl_dp_handle_describe_groups(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_describe_groups_request *req = r->req.body;
    struct sl_codec_describe_groups_response *resp = sl_dp_alloc(r, 1, sizeof(*resp));
    int32_t n = SL_MAX(req->groups_count, 0);
    if (resp != NULL) {
        sl_codec_describe_groups_response_init(resp);
        resp->groups = sl_dp_alloc(r, (size_t)n + 1, sizeof(*resp->groups));
        resp->groups_count = n;
    }
    if (resp == NULL || resp->groups == NULL) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    start_steps(s, r, (uint32_t)n, resp);
}

void sl_dp_handle_delete_groups(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_delete_groups_request *req = r->req.body;
    struct sl_codec_delete_groups_response *resp = sl_dp_alloc(r, 1, sizeof(*resp));
    int32_t n = SL_MAX(req->groups_names_count, 0);
    if (resp != NULL) {
        sl_codec_delete_groups_response_init(resp);
        resp->results = sl_dp_alloc(r, (size_t)n + 1, sizeof(*resp->results));
        resp->results_count = n;
    }
    if (resp == NULL || resp->results == NULL) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    start_steps(s, r, (uint32_t)n, resp);
}

void sl_dp_handle_list_groups(struct sl_shard *s, struct sl_dp_request *r)
{
    struct sl_codec_list_groups_response *resp = sl_dp_alloc(r, 1, sizeof(*resp));
    if (resp == NULL) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    sl_codec_list_groups_response_init(resp);
    resp->groups_count = 0;
    start_steps(s, r, s->opts.shard_count, resp);
}

void sl_dp_handle_offset_fetch(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_offset_fetch_request *req = r->req.body;
    if (r->req.header.api_version < 8) {
        route_group(s, r, req->group_id, run_offset_fetch);
        return;
    }
    int32_t n = SL_MAX(req->groups_count, 0);
    if (n == 1) {
        route_group(s, r, req->groups[0].group_id, run_offset_fetch);
        return;
    }
    struct sl_codec_offset_fetch_response *resp = sl_dp_alloc(r, 1, sizeof(*resp));
    if (resp != NULL) {
        sl_codec_offset_fetch_response_init(resp);
        resp->groups = sl_dp_alloc(r, (size_t)n + 1, sizeof(*resp->groups));
        resp->groups_count = n;
    }
    if (resp == NULL || resp->groups == NULL) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    start_steps(s, r, (uint32_t)n, resp);
}
