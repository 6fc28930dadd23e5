/* CreateTopics (19), DeleteTopics (20), CreatePartitions (37): checked here against the
 * current image, then handed to the controller (one metadata request per topic) and
 * answered when every request completed. The data of a deleted topic is removed by the
 * shards that own its partitions when the topic leaves their image.
 */
#include <stdio.h>
#include <string.h>

#include "dataplane/codec/kafka_errors.h"
#include "dataplane/group_host.h"
#include "dataplane/handlers/handlers.h"

struct admin_state {
    struct sl_dp_md_slot **slots; /* per topic; NULL when answered locally */
    int16_t *codes;
    uint32_t count;
    void *resp;
};

static struct sl_codec_slice copy_message(struct sl_dp_request *r, const char *msg)
{
    size_t n = strlen(msg);
    if (n == 0)
        return (struct sl_codec_slice){NULL, -1};
    char *m = sl_dp_alloc(r, n + 1, 1);
    if (m == NULL)
        return (struct sl_codec_slice){NULL, -1};
    memcpy(m, msg, n);
    return (struct sl_codec_slice){(const uint8_t *)m, (int32_t)n};
}

static struct admin_state *state_new(struct sl_dp_request *r, uint32_t count, void *resp)
{
    struct admin_state *st = sl_dp_alloc(r, 1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->slots = sl_dp_alloc(r, count + 1, sizeof(*st->slots));
    st->codes = sl_dp_alloc(r, count + 1, sizeof(*st->codes));
    if (st->slots == NULL || st->codes == NULL)
        return NULL;
    st->count = count;
    st->resp = resp;
    r->hstate = st;
    return st;
}

static void fail(struct sl_shard *s, struct sl_dp_request *r)
{
    sl_dp_request_close_conn(s, r);
    sl_dp_respond_none(s, r);
}

static int16_t submit(struct sl_shard *s, struct sl_dp_request *r, struct sl_dp_md_slot *slot,
                      struct admin_state *st, uint32_t i)
{
    if (sl_dp_md_submit(s, slot) != 0)
        return SL_KAFKA_ERR_REQUEST_TIMED_OUT; /* controller queue full: retriable */
    (void)r;
    st->slots[i] = slot;
    return 0;
}

void sl_dp_handle_create_topics(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_create_topics_request *req = r->req.body;
    uint32_t n = (uint32_t)SL_MAX(req->topics_count, 0);
    struct sl_codec_create_topics_response *resp = sl_dp_alloc(r, 1, sizeof(*resp));
    struct admin_state *st = resp ? state_new(r, n, resp) : NULL;
    if (st == NULL)
        return fail(s, r);
    sl_codec_create_topics_response_init(resp);
    resp->topics = sl_dp_alloc(r, n + 1, sizeof(*resp->topics));
    if (resp->topics == NULL)
        return fail(s, r);
    resp->topics_count = (int32_t)n;
    for (uint32_t i = 0; i < n; i++) {
        const struct sl_codec_create_topics_request_creatable_topic *tq = &req->topics[i];
        struct sl_codec_create_topics_response_creatable_topic_result *out = &resp->topics[i];
        sl_codec_create_topics_response_creatable_topic_result_init(out);
        out->name = tq->name;
        out->error_message = (struct sl_codec_slice){NULL, -1};
        out->num_partitions = tq->num_partitions;
        out->replication_factor = tq->replication_factor;
        out->configs_count = 0;
        char name[SL_MD_TOPIC_NAME_BYTES_MAX];
        char why[256] = "";
        int16_t code = 0;
        if (!sl_dp_slice_to_cstr(tq->name, name, sizeof(name)) || !sl_md_topic_name_valid(name)) {
            code = SL_KAFKA_ERR_INVALID_TOPIC_EXCEPTION;
        } else if (sl_md_image_topic(s->image, name) != NULL) {
            code = SL_KAFKA_ERR_TOPIC_ALREADY_EXISTS;
            snprintf(why, sizeof(why), "Topic '%.200s' already exists.", name);
        } else if (sl_dp_is_offsets_topic(name)) {
            /* The brokers create it (FindCoordinator) with the partition count the group
             * placement hashes over; Kafka refuses its own metadata topic the same way. */
            code = SL_KAFKA_ERR_INVALID_REQUEST;
            snprintf(why, sizeof(why), "Creation of internal topic %s is prohibited.",
                     SL_DP_OFFSETS_TOPIC);
        } else if (tq->assignments_count > 0) {
            code = SL_KAFKA_ERR_INVALID_REQUEST;
            snprintf(why, sizeof(why), "manual replica assignment is not supported");
        } else if (tq->num_partitions == 0 || tq->num_partitions < -1) {
            code = SL_KAFKA_ERR_INVALID_PARTITIONS;
        } else if (tq->replication_factor == 0 || tq->replication_factor < -1) {
            code = SL_KAFKA_ERR_INVALID_REPLICATION_FACTOR;
        } else if (tq->configs_count > SL_CONTROLLER_TOPIC_CONFIGS_MAX) {
            code = SL_KAFKA_ERR_INVALID_CONFIG;
        }
        for (int32_t c = 0; code == 0 && c < tq->configs_count; c++) {
            char key[SL_MD_CONFIG_KEY_BYTES_MAX], value[SL_MD_CONFIG_VALUE_BYTES_MAX];
            if (!sl_dp_slice_to_cstr(tq->configs[c].name, key, sizeof(key)) ||
                !sl_dp_slice_to_cstr(tq->configs[c].value, value, sizeof(value)) ||
                sl_topic_config_validate(key, value, why, sizeof(why)) != 0)
                code = SL_KAFKA_ERR_INVALID_CONFIG;
        }
        if (out->num_partitions == -1)
            out->num_partitions = (int32_t)sl_config_int(s->opts.config, SL_CONFIG_NUM_PARTITIONS);
        if (out->replication_factor == -1)
            out->replication_factor =
                (int16_t)sl_config_int(s->opts.config, SL_CONFIG_DEFAULT_REPLICATION_FACTOR);
        if (code == 0 && !req->validate_only) {
            struct sl_dp_md_slot *slot = sl_dp_md_slot_get(s, r);
            if (slot == NULL) {
                code = SL_KAFKA_ERR_REQUEST_TIMED_OUT;
            } else {
                struct sl_controller_create_topic_request *ct = &slot->req.create_topic;
                slot->req.type = SL_MD_REQUEST_CREATE_TOPIC;
                snprintf(ct->name, sizeof(ct->name), "%s", name);
                ct->num_partitions = tq->num_partitions;
                ct->replication_factor = tq->replication_factor;
                for (int32_t c = 0; c < tq->configs_count; c++) {
                    sl_dp_slice_to_cstr(tq->configs[c].name, ct->configs[c].key,
                                        sizeof(ct->configs[c].key));
                    sl_dp_slice_to_cstr(tq->configs[c].value, ct->configs[c].value,
                                        sizeof(ct->configs[c].value));
                }
                ct->config_count = (uint32_t)SL_MAX(tq->configs_count, 0);
                code = submit(s, r, slot, st, i);
            }
        }
        out->error_code = code;
        if (why[0] != '\0' && code != 0)
            out->error_message = copy_message(r, why);
    }
    if (r->pending_ops == 0)
        sl_dp_resume_admin_topics(s, r);
}

static const char *slice_name(struct sl_codec_slice v, char *buf, size_t size)
{
    return sl_dp_slice_to_cstr(v, buf, size) ? buf : NULL;
}

void sl_dp_handle_delete_topics(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_delete_topics_request *req = r->req.body;
    int16_t version = r->req.header.api_version;
    uint32_t n = (uint32_t)SL_MAX(version >= 6 ? req->topics_count : req->topic_names_count, 0);
    struct sl_codec_delete_topics_response *resp = sl_dp_alloc(r, 1, sizeof(*resp));
    struct admin_state *st = resp ? state_new(r, n, resp) : NULL;
    if (st == NULL)
        return fail(s, r);
    sl_codec_delete_topics_response_init(resp);
    resp->responses = sl_dp_alloc(r, n + 1, sizeof(*resp->responses));
    if (resp->responses == NULL)
        return fail(s, r);
    resp->responses_count = (int32_t)n;
    for (uint32_t i = 0; i < n; i++) {
        struct sl_codec_delete_topics_response_deletable_topic_result *out = &resp->responses[i];
        sl_codec_delete_topics_response_deletable_topic_result_init(out);
        char buf[SL_MD_TOPIC_NAME_BYTES_MAX];
        const struct sl_md_topic *t = NULL;
        int16_t code = 0;
        if (version >= 6 && req->topics[i].name.len < 0) {
            struct sl_md_uuid id;
            sl_dp_uuid_from_codec(&req->topics[i].topic_id, &id);
            out->topic_id = req->topics[i].topic_id;
            t = sl_md_image_topic_by_id(s->image, &id);
            if (t == NULL)
                code = SL_KAFKA_ERR_UNKNOWN_TOPIC_ID;
            else
                out->name = sl_dp_cstr(t->name);
        } else {
            struct sl_codec_slice nm = version >= 6 ? req->topics[i].name : req->topic_names[i];
            out->name = nm;
            const char *name = slice_name(nm, buf, sizeof(buf));
            t = name ? sl_md_image_topic(s->image, name) : NULL;
            if (t == NULL)
                code = SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            else
                sl_dp_uuid_to_codec(&t->topic_id, &out->topic_id);
        }
        if (code == 0 && sl_dp_is_offsets_topic(t->name)) {
            /* The groups' state: deleting it would lose every committed offset. */
            code = SL_KAFKA_ERR_INVALID_REQUEST;
            out->error_message = copy_message(r, "Deletion of internal topic " SL_DP_OFFSETS_TOPIC
                                                 " is prohibited.");
        }
        if (code == 0) {
            struct sl_dp_md_slot *slot = sl_dp_md_slot_get(s, r);
            if (slot == NULL) {
                code = SL_KAFKA_ERR_REQUEST_TIMED_OUT;
            } else {
                slot->req.type = SL_MD_REQUEST_DELETE_TOPIC;
                snprintf(slot->req.delete_topic, sizeof(slot->req.delete_topic), "%s", t->name);
                code = submit(s, r, slot, st, i);
            }
        }
        out->error_code = code;
    }
    if (r->pending_ops == 0)
        sl_dp_resume_admin_topics(s, r);
}

void sl_dp_handle_create_partitions(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_create_partitions_request *req = r->req.body;
    uint32_t n = (uint32_t)SL_MAX(req->topics_count, 0);
    struct sl_codec_create_partitions_response *resp = sl_dp_alloc(r, 1, sizeof(*resp));
    struct admin_state *st = resp ? state_new(r, n, resp) : NULL;
    if (st == NULL)
        return fail(s, r);
    sl_codec_create_partitions_response_init(resp);
    resp->results = sl_dp_alloc(r, n + 1, sizeof(*resp->results));
    if (resp->results == NULL)
        return fail(s, r);
    resp->results_count = (int32_t)n;
    for (uint32_t i = 0; i < n; i++) {
        const struct sl_codec_create_partitions_request_create_partitions_topic *tq =
            &req->topics[i];
        struct sl_codec_create_partitions_response_create_partitions_topic_result *out =
            &resp->results[i];
        sl_codec_create_partitions_response_create_partitions_topic_result_init(out);
        out->name = tq->name;
        char buf[SL_MD_TOPIC_NAME_BYTES_MAX];
        const char *name = slice_name(tq->name, buf, sizeof(buf));
        const struct sl_md_topic *t = name ? sl_md_image_topic(s->image, name) : NULL;
        int16_t code = 0;
        if (t == NULL)
            code = SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        else if (sl_dp_is_offsets_topic(t->name))
            code = SL_KAFKA_ERR_INVALID_REQUEST; /* groups are placed by its partition count */
        else if (tq->assignments_count > 0)
            code = SL_KAFKA_ERR_INVALID_REQUEST;
        else if (tq->count <= (int32_t)t->partition_count)
            code = SL_KAFKA_ERR_INVALID_PARTITIONS;
        if (code == 0 && !req->validate_only) {
            struct sl_dp_md_slot *slot = sl_dp_md_slot_get(s, r);
            if (slot == NULL) {
                code = SL_KAFKA_ERR_REQUEST_TIMED_OUT;
            } else {
                slot->req.type = SL_MD_REQUEST_CREATE_PARTITIONS;
                snprintf(slot->req.create_partitions.topic,
                         sizeof(slot->req.create_partitions.topic), "%s", name);
                slot->req.create_partitions.total_count = tq->count;
                code = submit(s, r, slot, st, i);
            }
        }
        out->error_code = code;
    }
    if (r->pending_ops == 0)
        sl_dp_resume_admin_topics(s, r);
}

void sl_dp_resume_admin_topics(struct sl_shard *s, struct sl_dp_request *r)
{
    struct admin_state *st = r->hstate;
    int16_t api = r->req.header.api_key;
    for (uint32_t i = 0; i < st->count; i++) {
        struct sl_dp_md_slot *slot = st->slots[i];
        int16_t *code = NULL;
        struct sl_codec_slice *msg = NULL;
        if (api == 19) {
            struct sl_codec_create_topics_response *resp = st->resp;
            code = &resp->topics[i].error_code;
            msg = &resp->topics[i].error_message;
            if (slot != NULL && slot->req.error_code == 0) {
                struct sl_codec_uuid id;
                memcpy(id.bytes, slot->req.topic_id.bytes, 16);
                resp->topics[i].topic_id = id;
            }
        } else if (api == 20) {
            struct sl_codec_delete_topics_response *resp = st->resp;
            code = &resp->responses[i].error_code;
            msg = &resp->responses[i].error_message;
        } else {
            struct sl_codec_create_partitions_response *resp = st->resp;
            code = &resp->results[i].error_code;
            msg = &resp->results[i].error_message;
        }
        if (slot != NULL) {
            *code = (int16_t)slot->req.error_code;
            if (slot->req.error_code != 0)
                *msg = copy_message(r, slot->req.error_message);
            sl_dp_md_slot_put(s, slot);
            st->slots[i] = NULL;
        }
        if (*code != 0)
            sl_dp_stats_error(&s->stats, *code);
    }
    sl_dp_respond(s, r, st->resp, 0);
}
