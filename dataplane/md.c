/* Controller requests from a shard: a bounded set of request slots handed to the
 * control-plane thread through sl_md_log_submit (a bounded lock-free queue) and polled
 * for completion from the shard loop. The shard never blocks on the controller.
 */
#include <errno.h>
#include <string.h>

#include "common/sl_assert.h"
#include "dataplane/shard_internal.h"

struct sl_dp_md_slot *sl_dp_md_slot_get(struct sl_shard *s, struct sl_dp_request *owner)
{
    for (uint32_t i = 0; i < s->opts.md_requests_max; i++) {
        struct sl_dp_md_slot *slot = &s->md_slots[i];
        if (!slot->used) {
            memset(slot, 0, sizeof(*slot));
            slot->used = true;
            slot->owner = owner;
            return slot;
        }
    }
    s->stats.md_submit_full++;
    return NULL;
}

void sl_dp_md_slot_put(struct sl_shard *s, struct sl_dp_md_slot *slot)
{
    (void)s;
    SL_ASSERT(slot->used);
    slot->used = false;
}

int sl_dp_md_submit(struct sl_shard *s, struct sl_dp_md_slot *slot)
{
    int rc = sl_md_log_submit(s->opts.md_log, &slot->req);
    if (rc != 0) {
        s->stats.md_submit_full++;
        slot->used = false;
        return rc;
    }
    if (slot->owner != NULL)
        slot->owner->pending_ops++;
    return 0;
}

void sl_dp_md_poll(struct sl_shard *s)
{
    for (uint32_t i = 0; i < s->opts.md_requests_max; i++) {
        struct sl_dp_md_slot *slot = &s->md_slots[i];
        if (!slot->used || slot->notified || !sl_md_request_is_done(&slot->req))
            continue;
        struct sl_dp_request *r = slot->owner;
        if (r == NULL) {
            slot->used = false;
            continue;
        }
        slot->notified = true;
        SL_ASSERT(r->pending_ops > 0);
        r->pending_ops--;
        if (sl_dp_request_orphaned(r)) {
            for (uint32_t k = 0; k < s->opts.md_requests_max; k++) {
                if (s->md_slots[k].used && s->md_slots[k].owner == r && s->md_slots[k].notified)
                    s->md_slots[k].used = false;
            }
            sl_dp_request_reap_orphan(s, r);
        } else if (r->pending_ops == 0) {
            sl_dp_resume(s, r);
        }
    }
}
