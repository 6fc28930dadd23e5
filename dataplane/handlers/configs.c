/* DescribeConfigs (32): a topic's configuration (set on the topic, else the broker key
 * it inherits, else the built-in default) and this broker's static configuration, from
 * the metadata image and the broker's config table.
 */
#include <stdio.h>
#include <string.h>

#include "dataplane/codec/kafka_errors.h"
#include "dataplane/handlers/handlers.h"

/* Kafka's ConfigSource values. */
enum {
    SL_DP_CONFIG_SOURCE_DYNAMIC_TOPIC = 1,
    SL_DP_CONFIG_SOURCE_STATIC_BROKER = 4,
    SL_DP_CONFIG_SOURCE_DEFAULT = 5,
};

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
    const struct sl_config_value *v = &s->opts.config->values[idx];
    if (!v->is_set || v->text == NULL) {
        *source = SL_DP_CONFIG_SOURCE_DEFAULT;
        if (idx == SL_CONFIG_LOG_RETENTION_MS) {
            char buf[32];
            snprintf(buf, sizeof(buf), "%lld",
                     (long long)sl_config_log_retention_ms(s->opts.config));
            return arena_text(r, buf);
        }
        return (struct sl_codec_slice){NULL, -1};
    }
    *source = v->source == SL_CONFIG_SOURCE_DEFAULT ? SL_DP_CONFIG_SOURCE_DEFAULT
                                                    : SL_DP_CONFIG_SOURCE_STATIC_BROKER;
    return sl_dp_cstr(v->text);
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
        fill_entry(&out->configs[n++], &table[i], value, source, true, docs);
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
