#include "dataplane/codec/kafka_errors.h"

#include <stddef.h>

const struct sl_kafka_error sl_kafka_errors[] = {
#define SL_KAFKA_ERROR_ROW_(code, name, retriable) {(code), #name, (retriable)},
    SL_KAFKA_ERROR_LIST(SL_KAFKA_ERROR_ROW_)
#undef SL_KAFKA_ERROR_ROW_
};

const uint32_t sl_kafka_error_count = sizeof(sl_kafka_errors) / sizeof(sl_kafka_errors[0]);

/* The list starts at -1 and is dense, so a code indexes the table directly. */
const struct sl_kafka_error *sl_kafka_error_find(int16_t code)
{
    int32_t idx = (int32_t)code + 1;
    if (idx < 0 || (uint32_t)idx >= sl_kafka_error_count)
        return NULL;
    return &sl_kafka_errors[idx];
}

const char *sl_kafka_error_name(int16_t code)
{
    const struct sl_kafka_error *e = sl_kafka_error_find(code);
    return e ? e->name : "UNKNOWN_ERROR_CODE";
}

bool sl_kafka_error_retriable(int16_t code)
{
    const struct sl_kafka_error *e = sl_kafka_error_find(code);
    return e ? e->retriable : false;
}
