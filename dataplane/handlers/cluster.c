/* DescribeCluster (60): the unfenced brokers, the cluster id and the controller. */
#include "dataplane/handlers/handlers.h"

void sl_dp_handle_describe_cluster(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_md_image *img = s->image;
    struct sl_codec_describe_cluster_response resp;
    sl_codec_describe_cluster_response_init(&resp);
    resp.cluster_id = sl_dp_cstr("sluice");
    resp.controller_id = sl_md_log_leader_id(s->opts.md_log);
    resp.brokers = sl_dp_alloc(r, img->broker_count + 1, sizeof(*resp.brokers));
    if (resp.brokers == NULL) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < img->broker_count; i++) {
        const struct sl_md_broker *b = &img->brokers[i];
        const struct sl_md_listener *l = sl_dp_broker_listener(b);
        if (b->fenced || l == NULL)
            continue;
        sl_codec_describe_cluster_response_describe_cluster_broker_init(&resp.brokers[n]);
        resp.brokers[n].broker_id = b->broker_id;
        resp.brokers[n].host = sl_dp_cstr(l->host);
        resp.brokers[n].port = l->port;
        if (b->rack[0] != '\0')
            resp.brokers[n].rack = sl_dp_cstr(b->rack);
        n++;
    }
    resp.brokers_count = (int32_t)n;
    sl_dp_respond(s, r, &resp, 0);
}
