/* Metadata (3): brokers, the controller, topics with their partitions, leaders,
 * replicas, ISR and topic ids, all from the shard's current metadata image. Unknown
 * topics are created on request when auto.create.topics.enable and the request allow it
 * (answered LEADER_NOT_AVAILABLE meanwhile, like Kafka, so the client asks again).
 */
#include <string.h>

#include "dataplane/codec/kafka_errors.h"
#include "dataplane/group_host.h"
#include "dataplane/handlers/handlers.h"

#define SL_DP_CLUSTER_ID "sluice"

const struct sl_md_listener *sl_dp_broker_listener(const struct sl_md_broker *b)
{
    for (uint32_t i = 0; i < b->listener_count; i++) {
        if (strcmp(b->listeners[i].name, "PLAINTEXT") == 0)
            return &b->listeners[i];
    }
    return b->listener_count > 0 ? &b->listeners[0] : NULL;
}

static void auto_create(struct sl_shard *s, const char *name)
{
    if (sl_dp_is_offsets_topic(name)) {
        sl_dp_group_create_offsets_topic(s); /* with its own partitions and configs */
        return;
    }
    for (uint32_t i = 0; i < s->opts.md_requests_max; i++) {
        const struct sl_dp_md_slot *slot = &s->md_slots[i];
        if (slot->used && slot->owner == NULL && slot->req.type == SL_MD_REQUEST_CREATE_TOPIC &&
            strcmp(slot->req.create_topic.name, name) == 0)
            return; /* already asked */
    }
    struct sl_dp_md_slot *slot = sl_dp_md_slot_get(s, NULL);
    if (slot == NULL)
        return;
    slot->req.type = SL_MD_REQUEST_CREATE_TOPIC;
    snprintf(slot->req.create_topic.name, sizeof(slot->req.create_topic.name), "%s", name);
    slot->req.create_topic.num_partitions = -1;
    slot->req.create_topic.replication_factor = -1;
    sl_dp_md_submit(s, slot);
}

static bool fill_topic(struct sl_shard *s, struct sl_dp_request *r,
                       struct sl_codec_metadata_response_metadata_response_topic *out,
                       const struct sl_md_topic *t)
{
    out->error_code = 0;
    out->name = sl_dp_cstr(t->name);
    sl_dp_uuid_to_codec(&t->topic_id, &out->topic_id);
    out->is_internal = sl_dp_is_offsets_topic(t->name);
    out->partitions = sl_dp_alloc(r, t->partition_count, sizeof(*out->partitions));
    if (out->partitions == NULL && t->partition_count > 0)
        return false;
    out->partitions_count = (int32_t)t->partition_count;
    for (uint32_t i = 0; i < t->partition_count; i++) {
        const struct sl_md_partition *mp = &t->partitions[i];
        struct sl_codec_metadata_response_metadata_response_partition *p = &out->partitions[i];
        sl_codec_metadata_response_metadata_response_partition_init(p);
        p->error_code = mp->leader == SL_MD_NO_LEADER ? SL_KAFKA_ERR_LEADER_NOT_AVAILABLE : 0;
        p->partition_index = mp->partition;
        p->leader_id = mp->leader;
        p->leader_epoch = mp->leader_epoch;
        p->replica_nodes =
            sl_dp_alloc(r, 2 * mp->replica_count + mp->isr_count + 1, sizeof(int32_t));
        if (p->replica_nodes == NULL)
            return false;
        memcpy(p->replica_nodes, mp->replicas, mp->replica_count * sizeof(int32_t));
        p->replica_nodes_count = mp->replica_count;
        p->isr_nodes = p->replica_nodes + mp->replica_count;
        memcpy(p->isr_nodes, mp->isr, mp->isr_count * sizeof(int32_t));
        p->isr_nodes_count = mp->isr_count;
        /* Replicas on fenced (or unregistered) brokers, as Kafka reports them: clients
         * and tools show them as offline. */
        p->offline_replicas = p->isr_nodes + mp->isr_count;
        p->offline_replicas_count = 0;
        for (uint32_t k = 0; k < mp->replica_count; k++) {
            const struct sl_md_broker *b = sl_md_image_broker(s->image, mp->replicas[k]);
            if (b == NULL || b->fenced)
                p->offline_replicas[p->offline_replicas_count++] = mp->replicas[k];
        }
        if (p->error_code != 0)
            sl_dp_stats_error(&s->stats, p->error_code);
    }
    return true;
}

void sl_dp_handle_metadata(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_metadata_request *req = r->req.body;
    const struct sl_md_image *img = s->image;
    int16_t version = r->req.header.api_version;
    struct sl_codec_metadata_response resp;
    sl_codec_metadata_response_init(&resp);

    resp.brokers = sl_dp_alloc(r, img->broker_count + 1, sizeof(*resp.brokers));
    uint32_t nb = 0;
    for (uint32_t i = 0; resp.brokers != NULL && i < img->broker_count; i++) {
        const struct sl_md_broker *b = &img->brokers[i];
        const struct sl_md_listener *l = sl_dp_broker_listener(b);
        if (b->fenced || l == NULL)
            continue;
        sl_codec_metadata_response_metadata_response_broker_init(&resp.brokers[nb]);
        resp.brokers[nb].node_id = b->broker_id;
        resp.brokers[nb].host = sl_dp_cstr(l->host);
        resp.brokers[nb].port = l->port;
        if (b->rack[0] != '\0')
            resp.brokers[nb].rack = sl_dp_cstr(b->rack);
        nb++;
    }
    resp.brokers_count = (int32_t)nb;
    resp.cluster_id = sl_dp_cstr(SL_DP_CLUSTER_ID);
    resp.controller_id = sl_md_log_leader_id(s->opts.md_log);

    bool all = req->topics_count < 0 || (version == 0 && req->topics_count == 0);
    uint32_t count = all ? img->topic_count : (uint32_t)req->topics_count;
    resp.topics = sl_dp_alloc(r, count + 1, sizeof(*resp.topics));
    if (resp.topics == NULL || resp.brokers == NULL) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    resp.topics_count = (int32_t)count;
    bool allow_create = s->auto_create && (version < 4 || req->allow_auto_topic_creation);
    for (uint32_t i = 0; i < count; i++) {
        struct sl_codec_metadata_response_metadata_response_topic *out = &resp.topics[i];
        sl_codec_metadata_response_metadata_response_topic_init(out);
        const struct sl_md_topic *t = NULL;
        if (all) {
            t = img->topics_by_name[i];
        } else {
            const struct sl_codec_metadata_request_metadata_request_topic *rt = &req->topics[i];
            char name[SL_MD_TOPIC_NAME_BYTES_MAX];
            if (rt->name.len >= 0) {
                out->name = rt->name;
                if (sl_dp_slice_to_cstr(rt->name, name, sizeof(name)))
                    t = sl_md_image_topic(img, name);
                if (t == NULL) {
                    bool valid = sl_dp_slice_to_cstr(rt->name, name, sizeof(name)) &&
                                 sl_md_topic_name_valid(name);
                    if (!valid) {
                        out->error_code = SL_KAFKA_ERR_INVALID_TOPIC_EXCEPTION;
                    } else if (allow_create) {
                        auto_create(s, name);
                        out->error_code = SL_KAFKA_ERR_LEADER_NOT_AVAILABLE;
                    } else {
                        out->error_code = SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                    }
                }
            } else {
                struct sl_md_uuid id;
                sl_dp_uuid_from_codec(&rt->topic_id, &id);
                out->topic_id = rt->topic_id;
                t = sl_md_image_topic_by_id(img, &id);
                if (t == NULL)
                    out->error_code = SL_KAFKA_ERR_UNKNOWN_TOPIC_ID;
            }
        }
        if (t != NULL) {
            if (!fill_topic(s, r, out, t)) {
                sl_dp_request_close_conn(s, r);
                sl_dp_respond_none(s, r);
                return;
            }
        } else {
            out->partitions_count = 0;
            sl_dp_stats_error(&s->stats, out->error_code);
        }
    }
    sl_dp_respond(s, r, &resp, 0);
}
