/* DescribeConfigs (32), AlterConfigs (33), IncrementalAlterConfigs (44).
 *
 * Describe: a topic's configuration (set on the topic, else the broker key it inherits,
 * dynamic or static, else the built-in default) and this broker's configuration, from
 * the metadata image and the broker's config table, with Kafka's config sources.
 *
 * Alter: each resource becomes one controller request (controller.c
 * sl_controller_alter_configs: checked against the image and written as config records
 * to the metadata log, all changes of the resource or none, validate_only proposing
 * nothing). AlterConfigs replaces the resource's whole override set; the incremental
 * API sets, deletes, appends to or subtracts from single keys. Shards apply a changed
 * topic or broker config to their open logs when the new image arrives (partitions.c).
 */
#include <stdio.h>
#include <string.h>

#include "dataplane/codec/kafka_errors.h"
#include "dataplane/handlers/handlers.h"

/* Kafka's ConfigType values (DescribeConfigs v3+). */
static int8_t config_type(enum sl_config_type type)
{
    switch (type) {
    case SL_CONFIG_BOOL:
        return 1;
    case SL_CONFIG_INT:
        return 5; /* LONG */
    case SL_CONFIG_LIST:
        return 7;
    default:
        return 2; /* STRING */
    }
}

static bool wanted(const struct sl_codec_describe_configs_request_describe_configs_resource *res,
                   const char *key)
{
    if (res->configuration_keys_count < 0)
        return true;
    struct sl_codec_slice k = sl_dp_cstr(key);
    for (int32_t i = 0; i < res->configuration_keys_count; i++) {
        if (sl_codec_slice_eq(&res->configuration_keys[i], &k))
            return true;
    }
    return false;
}

static struct sl_codec_slice arena_text(struct sl_dp_request *r, const char *text)
{
    size_t n = strlen(text);
    char *m = sl_dp_alloc(r, n + 1, 1);
    if (m == NULL)
        return (struct sl_codec_slice){NULL, -1};
    memcpy(m, text, n + 1);
    return (struct sl_codec_slice){(const uint8_t *)m, (int32_t)n};
}

/* Value and source of broker key idx as this broker runs with it. */
static struct sl_codec_slice broker_value(struct sl_shard *s, struct sl_dp_request *r, int idx,
                                          int8_t *source)
{
    enum sl_dp_config_source src;
    if (idx == SL_CONFIG_LOG_RETENTION_MS &&
        sl_dp_broker_config(s, SL_CONFIG_LOG_RETENTION_MS, NULL) == NULL) {
        /* Unset: Kafka shows the retention that .minutes/.hours give. */
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", (long long)sl_dp_log_retention_ms(s, &src));
        *source = (int8_t)src;
        return arena_text(r, buf);
    }
    const char *text = sl_dp_broker_config(s, (enum sl_config_key)idx, &src);
    *source = (int8_t)src;
    return text != NULL ? sl_dp_cstr(text) : (struct sl_codec_slice){NULL, -1};
}

static void
fill_entry(struct sl_codec_describe_configs_response_describe_configs_resource_result *e,
           const struct sl_config_key_info *info, struct sl_codec_slice value, int8_t source,
           bool read_only, bool documentation)
{
    sl_codec_describe_configs_response_describe_configs_resource_result_init(e);
    e->name = sl_dp_cstr(info->name);
    e->value = value;
    e->read_only = read_only;
    e->is_default = source == SL_DP_CONFIG_SOURCE_DEFAULT;
    e->config_source = source;
    e->is_sensitive = false;
    e->synonyms = NULL;
    e->synonyms_count = 0;
    e->config_type = config_type(info->type);
    e->documentation = documentation ? sl_dp_cstr(info->doc) : (struct sl_codec_slice){NULL, -1};
}

static int16_t
describe_topic(struct sl_shard *s, struct sl_dp_request *r, bool docs,
               const struct sl_codec_describe_configs_request_describe_configs_resource *res,
               struct sl_codec_describe_configs_response_describe_configs_result *out)
{
    const struct sl_md_topic *t = sl_dp_topic_by_name(s, res->resource_name);
    if (t == NULL)
        return SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    const struct sl_config_key_info *table = sl_topic_config_key_table();
    out->configs = sl_dp_alloc(r, SL_TOPIC_CONFIG_KEY_COUNT, sizeof(*out->configs));
    if (out->configs == NULL)
        return SL_KAFKA_ERR_UNKNOWN_SERVER_ERROR;
    int32_t n = 0;
    for (int i = 0; i < SL_TOPIC_CONFIG_KEY_COUNT; i++) {
        const struct sl_config_key_info *info = &table[i];
        if (!wanted(res, info->name))
            continue;
        int8_t source = SL_DP_CONFIG_SOURCE_DEFAULT;
        struct sl_codec_slice value = {NULL, -1};
        const char *set = sl_md_topic_config(t, info->name);
        if (set != NULL) {
            value = sl_dp_cstr(set);
            source = SL_DP_CONFIG_SOURCE_DYNAMIC_TOPIC;
        } else if (info->broker_key != NULL && info->broker_key[0] != '\0' &&
                   sl_config_key_find(info->broker_key) >= 0) {
            value = broker_value(s, r, sl_config_key_find(info->broker_key), &source);
        }
        if (value.len < 0 && info->default_value != NULL) {
            value = sl_dp_cstr(info->default_value);
            source = SL_DP_CONFIG_SOURCE_DEFAULT;
        }
        fill_entry(&out->configs[n++], info, value, source, false, docs);
    }
    out->configs_count = n;
    return 0;
}

static int16_t
describe_broker(struct sl_shard *s, struct sl_dp_request *r, bool docs,
                const struct sl_codec_describe_configs_request_describe_configs_resource *res,
                struct sl_codec_describe_configs_response_describe_configs_result *out)
{
    char name[32];
    char self[16];
    snprintf(self, sizeof(self), "%d", s->opts.node_id);
    if (!sl_dp_slice_to_cstr(res->resource_name, name, sizeof(name)) ||
        (name[0] != '\0' && strcmp(name, self) != 0))
        return SL_KAFKA_ERR_INVALID_REQUEST; /* only this broker's own configuration */
    const struct sl_config_key_info *table = sl_config_key_table();
    out->configs = sl_dp_alloc(r, SL_CONFIG_KEY_COUNT, sizeof(*out->configs));
    if (out->configs == NULL)
        return SL_KAFKA_ERR_UNKNOWN_SERVER_ERROR;
    int32_t n = 0;
    for (int i = 0; i < SL_CONFIG_KEY_COUNT; i++) {
        if (!wanted(res, table[i].name))
            continue;
        int8_t source;
        struct sl_codec_slice value = broker_value(s, r, i, &source);
        fill_entry(&out->configs[n++], &table[i], value, source, !sl_config_key_is_dynamic(i),
                   docs);
    }
    out->configs_count = n;
    return 0;
}

void sl_dp_handle_describe_configs(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_describe_configs_request *req = r->req.body;
    struct sl_codec_describe_configs_response resp;
    sl_codec_describe_configs_response_init(&resp);
    int32_t n = SL_MAX(req->resources_count, 0);
    resp.results = sl_dp_alloc(r, (size_t)n + 1, sizeof(*resp.results));
    if (resp.results == NULL) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    resp.results_count = n;
    bool docs = r->req.header.api_version >= 3 && req->include_documentation;
    for (int32_t i = 0; i < n; i++) {
        const struct sl_codec_describe_configs_request_describe_configs_resource *res =
            &req->resources[i];
        struct sl_codec_describe_configs_response_describe_configs_result *out = &resp.results[i];
        sl_codec_describe_configs_response_describe_configs_result_init(out);
        out->resource_type = res->resource_type;
        out->resource_name = res->resource_name;
        out->error_message = (struct sl_codec_slice){NULL, -1};
        out->configs_count = 0;
        int16_t code;
        if (res->resource_type == SL_MD_RESOURCE_TOPIC)
            code = describe_topic(s, r, docs, res, out);
        else if (res->resource_type == SL_MD_RESOURCE_BROKER)
            code = describe_broker(s, r, docs, res, out);
        else
            code = SL_KAFKA_ERR_INVALID_REQUEST;
        out->error_code = code;
        if (code != 0) {
            out->configs_count = 0;
            sl_dp_stats_error(&s->stats, code);
        }
    }
    sl_dp_respond(s, r, &resp, 0);
}

/* ---- AlterConfigs (33) and IncrementalAlterConfigs (44) ---- */

struct alter_state {
    uint32_t count;
    struct sl_dp_md_slot **slots; /* per resource; NULL when answered here */
    int16_t *codes;
    struct sl_codec_slice *messages;
};

/* One config of a request, whichever API it came from. */
struct alter_item {
    struct sl_codec_slice name;
    struct sl_codec_slice value;
    int8_t op;
};

static struct sl_codec_slice message_of(struct sl_dp_request *r, const char *msg)
{
    return msg[0] != '\0' ? arena_text(r, msg) : (struct sl_codec_slice){NULL, -1};
}

/* Checks what the shard can check and fills a controller request for one resource.
 * Returns 0 (submit it) or a Kafka error code with why filled. */
static int16_t prepare_resource(struct sl_codec_slice name, int8_t type,
                                const struct alter_item *items, int32_t count, bool replace_all,
                                bool validate_only, struct sl_controller_alter_configs_request *out,
                                char *why, size_t why_size)
{
    if (type != SL_MD_RESOURCE_TOPIC && type != SL_MD_RESOURCE_BROKER) {
        snprintf(why, why_size, "resource type %d cannot be altered here", type);
        return SL_KAFKA_ERR_INVALID_REQUEST;
    }
    if (!sl_dp_slice_to_cstr(name, out->resource_name, sizeof(out->resource_name))) {
        snprintf(why, why_size, "resource name missing or too long");
        return type == SL_MD_RESOURCE_TOPIC ? SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION
                                            : SL_KAFKA_ERR_INVALID_REQUEST;
    }
    if (count > SL_CONTROLLER_TOPIC_CONFIGS_MAX) {
        snprintf(why, why_size, "more than %d configs in one resource",
                 SL_CONTROLLER_TOPIC_CONFIGS_MAX);
        return SL_KAFKA_ERR_INVALID_REQUEST;
    }
    out->resource_type = type;
    out->replace_all = replace_all;
    out->validate_only = validate_only;
    out->change_count = (uint32_t)count;
    for (int32_t i = 0; i < count; i++) {
        struct sl_controller_config_change *c = &out->changes[i];
        if (!sl_dp_slice_to_cstr(items[i].name, c->key, sizeof(c->key))) {
            snprintf(why, why_size, "config name missing or longer than %d bytes",
                     SL_MD_CONFIG_KEY_BYTES_MAX - 1);
            return SL_KAFKA_ERR_INVALID_CONFIG;
        }
        c->op = (uint8_t)items[i].op;
        c->has_value = items[i].value.len >= 0;
        if (c->has_value && !sl_dp_slice_to_cstr(items[i].value, c->value, sizeof(c->value))) {
            snprintf(why, why_size, "value of config '%s' is longer than %d bytes", c->key,
                     SL_MD_CONFIG_VALUE_BYTES_MAX - 1);
            return SL_KAFKA_ERR_INVALID_CONFIG;
        }
        if (items[i].op < 0 || items[i].op > SL_CONTROLLER_CONFIG_SUBTRACT) {
            snprintf(why, why_size, "config '%s': unknown operation %d", c->key, items[i].op);
            return SL_KAFKA_ERR_INVALID_REQUEST;
        }
    }
    return 0;
}

/* Handles resource i: answered here (st->codes[i]) or submitted to the controller. */
static void alter_resource(struct sl_shard *s, struct sl_dp_request *r, struct alter_state *st,
                           uint32_t i, struct sl_codec_slice name, int8_t type,
                           const struct alter_item *items, int32_t count, bool replace_all,
                           bool validate_only)
{
    char why[256] = "";
    struct sl_dp_md_slot *slot = sl_dp_md_slot_get(s, r);
    int16_t code;
    if (slot == NULL) {
        code = SL_KAFKA_ERR_REQUEST_TIMED_OUT; /* every controller slot busy: retriable */
    } else {
        slot->req.type = SL_MD_REQUEST_ALTER_CONFIGS;
        code = prepare_resource(name, type, items, count, replace_all, validate_only,
                                &slot->req.alter_configs, why, sizeof(why));
        if (code != 0) {
            sl_dp_md_slot_put(s, slot);
        } else if (sl_dp_md_submit(s, slot) != 0) {
            code = SL_KAFKA_ERR_REQUEST_TIMED_OUT; /* controller queue full (slot freed) */
        } else {
            st->slots[i] = slot;
        }
    }
    st->codes[i] = code;
    st->messages[i] = code != 0 ? message_of(r, why) : (struct sl_codec_slice){NULL, -1};
}

static struct alter_state *alter_state_new(struct sl_dp_request *r, uint32_t count)
{
    struct alter_state *st = sl_dp_alloc(r, 1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->count = count;
    st->slots = sl_dp_alloc(r, count + 1, sizeof(*st->slots));
    st->codes = sl_dp_alloc(r, count + 1, sizeof(*st->codes));
    st->messages = sl_dp_alloc(r, count + 1, sizeof(*st->messages));
    if (st->slots == NULL || st->codes == NULL || st->messages == NULL)
        return NULL;
    r->hstate = st;
    return st;
}

static void alter_fail(struct sl_shard *s, struct sl_dp_request *r)
{
    sl_dp_request_close_conn(s, r);
    sl_dp_respond_none(s, r);
}

void sl_dp_handle_alter_configs(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_alter_configs_request *req = r->req.body;
    uint32_t n = (uint32_t)SL_MAX(req->resources_count, 0);
    struct alter_state *st = alter_state_new(r, n);
    struct alter_item *items = sl_dp_alloc(r, SL_CONTROLLER_TOPIC_CONFIGS_MAX, sizeof(*items));
    if (st == NULL || items == NULL)
        return alter_fail(s, r);
    for (uint32_t i = 0; i < n; i++) {
        const struct sl_codec_alter_configs_request_alter_configs_resource *res =
            &req->resources[i];
        int32_t count = SL_MAX(res->configs_count, 0);
        for (int32_t c = 0; c < count && c < SL_CONTROLLER_TOPIC_CONFIGS_MAX; c++) {
            items[c].name = res->configs[c].name;
            items[c].value = res->configs[c].value;
            items[c].op = SL_CONTROLLER_CONFIG_SET;
        }
        alter_resource(s, r, st, i, res->resource_name, res->resource_type, items, count, true,
                       req->validate_only);
    }
    if (r->pending_ops == 0)
        sl_dp_resume_alter_configs(s, r);
}

void sl_dp_handle_incremental_alter_configs(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_incremental_alter_configs_request *req = r->req.body;
    uint32_t n = (uint32_t)SL_MAX(req->resources_count, 0);
    struct alter_state *st = alter_state_new(r, n);
    struct alter_item *items = sl_dp_alloc(r, SL_CONTROLLER_TOPIC_CONFIGS_MAX, sizeof(*items));
    if (st == NULL || items == NULL)
        return alter_fail(s, r);
    for (uint32_t i = 0; i < n; i++) {
        const struct sl_codec_incremental_alter_configs_request_alter_configs_resource *res =
            &req->resources[i];
        int32_t count = SL_MAX(res->configs_count, 0);
        for (int32_t c = 0; c < count && c < SL_CONTROLLER_TOPIC_CONFIGS_MAX; c++) {
            items[c].name = res->configs[c].name;
            items[c].value = res->configs[c].value;
            items[c].op = res->configs[c].config_operation;
        }
        alter_resource(s, r, st, i, res->resource_name, res->resource_type, items, count, false,
                       req->validate_only);
    }
    if (r->pending_ops == 0)
        sl_dp_resume_alter_configs(s, r);
}

void sl_dp_resume_alter_configs(struct sl_shard *s, struct sl_dp_request *r)
{
    struct alter_state *st = r->hstate;
    for (uint32_t i = 0; i < st->count; i++) {
        struct sl_dp_md_slot *slot = st->slots[i];
        if (slot != NULL) {
            st->codes[i] = (int16_t)slot->req.error_code;
            st->messages[i] = st->codes[i] != 0 ? message_of(r, slot->req.error_message)
                                                : (struct sl_codec_slice){NULL, -1};
            sl_dp_md_slot_put(s, slot);
            st->slots[i] = NULL;
        }
        if (st->codes[i] != 0)
            sl_dp_stats_error(&s->stats, st->codes[i]);
    }
    /* The two responses have the same fields; only their generated types differ. */
    if (r->req.header.api_key == 33) {
        const struct sl_codec_alter_configs_request *req = r->req.body;
        struct sl_codec_alter_configs_response resp;
        sl_codec_alter_configs_response_init(&resp);
        resp.responses = sl_dp_alloc(r, st->count + 1, sizeof(*resp.responses));
        if (resp.responses == NULL)
            return alter_fail(s, r);
        resp.responses_count = (int32_t)st->count;
        for (uint32_t i = 0; i < st->count; i++) {
            struct sl_codec_alter_configs_response_alter_configs_resource_response *o =
                &resp.responses[i];
            sl_codec_alter_configs_response_alter_configs_resource_response_init(o);
            o->error_code = st->codes[i];
            o->error_message = st->messages[i];
            o->resource_type = req->resources[i].resource_type;
            o->resource_name = req->resources[i].resource_name;
        }
        sl_dp_respond(s, r, &resp, 0);
        return;
    }
    const struct sl_codec_incremental_alter_configs_request *req = r->req.body;
    struct sl_codec_incremental_alter_configs_response resp;
    sl_codec_incremental_alter_configs_response_init(&resp);
    resp.responses = sl_dp_alloc(r, st->count + 1, sizeof(*resp.responses));
    if (resp.responses == NULL)
        return alter_fail(s, r);
    resp.responses_count = (int32_t)st->count;
    for (uint32_t i = 0; i < st->count; i++) {
        struct sl_codec_incremental_alter_configs_response_alter_configs_resource_response *o =
            &resp.responses[i];
        sl_codec_incremental_alter_configs_response_alter_configs_resource_response_init(o);
        o->error_code = st->codes[i];
        o->error_message = st->messages[i];
        o->resource_type = req->resources[i].resource_type;
        o->resource_name = req->resources[i].resource_name;
    }
    sl_dp_respond(s, r, &resp, 0);
}
