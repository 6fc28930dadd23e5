/* Reads the topic list of a ConsumerProtocolSubscription (the JoinGroup metadata of the
 * "consumer" protocol type): int16 version, then an int16-length string array. Later
 * versions only append fields, so every version starts the same way. */
#include <string.h>

#include "common/sl_bytes.h"
#include "dataplane/groups/group_internal.h"

bool sl_group_subscription_has_topic(const uint8_t *sub, uint32_t sub_len, const uint8_t *topic,
                                     uint32_t topic_len)
{
    if (sub_len < 6)
        return false;
    int16_t version = (int16_t)sl_load_be16(sub);
    int32_t count = (int32_t)sl_load_be32(sub + 2);
    if (version < 0 || count < 0)
        return false;
    uint32_t at = 6;
    for (int32_t i = 0; i < count; i++) {
        if (sub_len - at < 2)
            return false;
        int16_t len = (int16_t)sl_load_be16(sub + at);
        at += 2;
        if (len < 0 || sub_len - at < (uint32_t)len)
            return false;
        if ((uint32_t)len == topic_len && memcmp(sub + at, topic, topic_len) == 0)
            return true;
        at += (uint32_t)len;
    }
    return false;
}
