/* InitProducerId (22) for idempotent producers (transactional_id null): hands out a
 * producer id and epoch 0, or, when a v3+ client names its current id and epoch (KIP-360
 * recovery), the same id with the next epoch. Ids come from one counter shared by the
 * shards (an atomic, no lock) that starts at the wall-clock milliseconds of the broker's
 * start times 4096, so a restarted broker does not hand out an id of its previous run
 * unless that run handed out more than 4096 ids per millisecond it ran.
 * A transactional id needs a transaction coordinator, which this broker does not have:
 * COORDINATOR_NOT_AVAILABLE.
 */
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/handlers/handlers.h"

void sl_dp_handle_init_producer_id(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_init_producer_id_request *req = r->req.body;
    struct sl_codec_init_producer_id_response resp;
    sl_codec_init_producer_id_response_init(&resp);
    resp.producer_id = -1;
    resp.producer_epoch = -1;
    if (req->transactional_id.len >= 0) {
        resp.error_code = SL_KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    } else if (req->producer_id >= 0 && req->producer_epoch >= 0 &&
               req->producer_epoch < INT16_MAX - 1) {
        resp.producer_id = req->producer_id;
        resp.producer_epoch = (int16_t)(req->producer_epoch + 1);
    } else {
        struct sl_shard *counter_owner = s->peers != NULL ? s->peers[0] : s;
        resp.producer_id =
            atomic_fetch_add_explicit(&counter_owner->producer_id_next, 1, memory_order_relaxed);
        resp.producer_epoch = 0;
    }
    if (resp.error_code != 0)
        sl_dp_stats_error(&s->stats, resp.error_code);
    sl_dp_respond(s, r, &resp, 0);
}
