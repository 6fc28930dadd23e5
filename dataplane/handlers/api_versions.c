/* ApiVersions (18): the handler table, as the versions this broker answers. */
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/handlers/handlers.h"

static void answer(struct sl_shard *s, struct sl_dp_request *r, int16_t error_code)
{
    struct sl_codec_api_versions_response resp;
    sl_codec_api_versions_response_init(&resp);
    resp.error_code = error_code;
    resp.api_keys = sl_dp_alloc(r, sl_dp_handler_count, sizeof(*resp.api_keys));
    if (resp.api_keys == NULL) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    resp.api_keys_count = (int32_t)sl_dp_handler_count;
    for (uint32_t i = 0; i < sl_dp_handler_count; i++) {
        resp.api_keys[i].api_key = sl_dp_handlers[i].api_key;
        resp.api_keys[i].min_version = sl_dp_handlers[i].min_version;
        resp.api_keys[i].max_version = sl_dp_handlers[i].max_version;
    }
    if (error_code != 0)
        sl_dp_stats_error(&s->stats, error_code);
    sl_dp_respond(s, r, &resp, 0);
}

void sl_dp_handle_api_versions(struct sl_shard *s, struct sl_dp_request *r)
{
    answer(s, r, 0);
}

void sl_dp_api_versions_unsupported(struct sl_shard *s, struct sl_dp_request *r)
{
    r->response_version = 0;
    answer(s, r, 35 /* UNSUPPORTED_VERSION */);
}
