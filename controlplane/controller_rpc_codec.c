#include "controlplane/controller_rpc_codec.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "common/sl_assert.h"
#include "common/sl_bytes.h"

/* ---- writer ---- */

struct writer {
    uint8_t *buf;
    size_t cap;
    size_t off;
    bool overflow;
};

static uint8_t *reserve(struct writer *w, size_t n)
{
    if (w->overflow || w->cap - w->off < n) {
        w->overflow = true;
        return NULL;
    }
    uint8_t *p = w->buf + w->off;
    w->off += n;
    return p;
}

static void put_u8(struct writer *w, uint8_t v)
{
    uint8_t *p = reserve(w, 1);
    if (p != NULL) {
        *p = v;
    }
}

static void put_u16(struct writer *w, uint16_t v)
{
    uint8_t *p = reserve(w, 2);
    if (p != NULL) {
        sl_store_be16(p, v);
    }
}

static void put_u32(struct writer *w, uint32_t v)
{
    uint8_t *p = reserve(w, 4);
    if (p != NULL) {
        sl_store_be32(p, v);
    }
}

static void put_u64(struct writer *w, uint64_t v)
{
    uint8_t *p = reserve(w, 8);
    if (p != NULL) {
        sl_store_be64(p, v);
    }
}

static void put_bytes(struct writer *w, const void *src, size_t n)
{
    uint8_t *p = reserve(w, n);
    if (p != NULL && n > 0) {
        memcpy(p, src, n);
    }
}

/* A fixed-size char field; `field_size` bounds the length read, so a field that is not
 * NUL-terminated (a caller bug) is not followed past its end. */
static void put_str(struct writer *w, const char *s, size_t field_size)
{
    size_t n = strnlen(s, field_size);
    if (n == field_size) {
        w->overflow = true; /* no room for the NUL the decoder needs */
        return;
    }
    put_u16(w, (uint16_t)n);
    put_bytes(w, s, n);
}

static void put_header(struct writer *w, enum sl_ctrl_rpc_kind kind, uint32_t correlation_id)
{
    put_u32(w, 0); /* size, patched by finish() */
    put_u16(w, SL_CTRL_RPC_FORMAT);
    put_u8(w, (uint8_t)kind);
    put_u8(w, 0);
    put_u32(w, correlation_id);
}

static size_t finish(struct writer *w)
{
    if (w->overflow || w->off > SL_CTRL_RPC_FRAME_BYTES_MAX) {
        return 0;
    }
    sl_store_be32(w->buf, (uint32_t)(w->off - 4));
    return w->off;
}

/* ---- reader ---- */

struct reader {
    const uint8_t *p;
    size_t left;
    bool bad;
};

static const uint8_t *take(struct reader *r, size_t n)
{
    if (r->bad || r->left < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static uint8_t get_u8(struct reader *r)
{
    const uint8_t *p = take(r, 1);
    return p != NULL ? *p : 0;
}

static uint16_t get_u16(struct reader *r)
{
    const uint8_t *p = take(r, 2);
    return p != NULL ? sl_load_be16(p) : 0;
}

static uint32_t get_u32(struct reader *r)
{
    const uint8_t *p = take(r, 4);
    return p != NULL ? sl_load_be32(p) : 0;
}

static uint64_t get_u64(struct reader *r)
{
    const uint8_t *p = take(r, 8);
    return p != NULL ? sl_load_be64(p) : 0;
}

static void get_bytes(struct reader *r, void *dst, size_t n)
{
    const uint8_t *p = take(r, n);
    if (p != NULL && n > 0) {
        memcpy(dst, p, n);
    }
}

/* Reads a string into a field of `field_size` bytes: it must fit with its NUL and hold
 * no NUL of its own (the controller treats these as C strings). */
static void get_str(struct reader *r, char *dst, size_t field_size)
{
    uint16_t n = get_u16(r);
    if (r->bad || n >= field_size) {
        r->bad = true;
        return;
    }
    const uint8_t *p = take(r, n);
    if (p == NULL || memchr(p, 0, n) != NULL) {
        r->bad = true;
        return;
    }
    memcpy(dst, p, n);
    dst[n] = '\0';
}

static bool get_bool(struct reader *r)
{
    uint8_t v = get_u8(r);
    if (v > 1) {
        r->bad = true;
    }
    return v == 1;
}

/* ---- requests ---- */

static void put_request_body(struct writer *w, const struct sl_md_request *req)
{
    put_u16(w, (uint16_t)req->type);
    switch (req->type) {
    case SL_MD_REQUEST_CREATE_TOPIC: {
        const struct sl_controller_create_topic_request *c = &req->create_topic;
        if (c->config_count > SL_CONTROLLER_TOPIC_CONFIGS_MAX) {
            w->overflow = true;
            return;
        }
        put_str(w, c->name, sizeof(c->name));
        put_u32(w, (uint32_t)c->num_partitions);
        put_u16(w, (uint16_t)c->replication_factor);
        put_u16(w, (uint16_t)c->config_count);
        for (uint32_t i = 0; i < c->config_count; i++) {
            put_str(w, c->configs[i].key, sizeof(c->configs[i].key));
            put_str(w, c->configs[i].value, sizeof(c->configs[i].value));
        }
        return;
    }
    case SL_MD_REQUEST_DELETE_TOPIC:
        put_str(w, req->delete_topic, sizeof(req->delete_topic));
        return;
    case SL_MD_REQUEST_CREATE_PARTITIONS:
        put_str(w, req->create_partitions.topic, sizeof(req->create_partitions.topic));
        put_u32(w, (uint32_t)req->create_partitions.total_count);
        return;
    case SL_MD_REQUEST_ALTER_TOPIC_CONFIG:
        put_str(w, req->alter_topic_config.topic, sizeof(req->alter_topic_config.topic));
        put_str(w, req->alter_topic_config.key, sizeof(req->alter_topic_config.key));
        put_u8(w, req->alter_topic_config.has_value ? 1 : 0);
        put_str(w, req->alter_topic_config.has_value ? req->alter_topic_config.value : "",
                sizeof(req->alter_topic_config.value));
        return;
    case SL_MD_REQUEST_REGISTER_BROKER: {
        const struct sl_controller_register_broker_request *b = &req->register_broker;
        if (b->listener_count > SL_MD_LISTENERS_MAX) {
            w->overflow = true;
            return;
        }
        put_u32(w, (uint32_t)b->broker_id);
        put_bytes(w, b->incarnation_id.bytes, 16);
        put_str(w, b->rack, sizeof(b->rack));
        put_u8(w, b->listener_count);
        for (uint8_t i = 0; i < b->listener_count; i++) {
            put_str(w, b->listeners[i].name, sizeof(b->listeners[i].name));
            put_str(w, b->listeners[i].host, sizeof(b->listeners[i].host));
            put_u16(w, b->listeners[i].port);
        }
        put_str(w, req->register_standby_address, sizeof(req->register_standby_address));
        return;
    }
    case SL_MD_REQUEST_HEARTBEAT:
        put_u32(w, (uint32_t)req->heartbeat.broker_id);
        put_u64(w, (uint64_t)req->heartbeat.broker_epoch);
        put_u8(w, req->heartbeat.want_fence ? 1 : 0);
        return;
    case SL_MD_REQUEST_ALTER_PARTITION: {
        const struct sl_controller_alter_partition_request *a = &req->alter_partition;
        if (a->isr_count > SL_MD_REPLICAS_MAX) {
            w->overflow = true;
            return;
        }
        put_u32(w, (uint32_t)a->broker_id);
        put_u64(w, (uint64_t)a->broker_epoch);
        put_bytes(w, a->topic_id.bytes, 16);
        put_u32(w, (uint32_t)a->partition);
        put_u32(w, (uint32_t)a->leader_epoch);
        put_u32(w, (uint32_t)a->partition_epoch);
        put_u8(w, a->isr_count);
        for (uint8_t i = 0; i < a->isr_count; i++) {
            put_u32(w, (uint32_t)a->isr[i]);
        }
        return;
    }
    case SL_MD_REQUEST_ELECT_PREFERRED:
        put_str(w, req->elect_preferred.topic, sizeof(req->elect_preferred.topic));
        put_u32(w, (uint32_t)req->elect_preferred.partition);
        return;
    case SL_MD_REQUEST_REBALANCE_LEADERS:
        return;
    case SL_MD_REQUEST_ALTER_BROKER_CONFIG:
        put_str(w, req->alter_broker_config.broker, sizeof(req->alter_broker_config.broker));
        put_str(w, req->alter_broker_config.key, sizeof(req->alter_broker_config.key));
        put_u8(w, req->alter_broker_config.has_value ? 1 : 0);
        put_str(w, req->alter_broker_config.has_value ? req->alter_broker_config.value : "",
                sizeof(req->alter_broker_config.value));
        return;
    case SL_MD_REQUEST_UNREGISTER_BROKER:
        put_u32(w, (uint32_t)req->unregister_broker_id);
        return;
    case SL_MD_REQUEST_ADD_STANDBY:
        put_u32(w, (uint32_t)req->add_standby.node_id);
        put_str(w, req->add_standby.address, sizeof(req->add_standby.address));
        return;
    case SL_MD_REQUEST_ALTER_CONFIGS: {
        const struct sl_controller_alter_configs_request *a = &req->alter_configs;
        if (a->change_count > SL_CONTROLLER_TOPIC_CONFIGS_MAX) {
            w->overflow = true;
            return;
        }
        put_u8(w, (uint8_t)a->resource_type);
        put_str(w, a->resource_name, sizeof(a->resource_name));
        put_u8(w, a->replace_all ? 1 : 0);
        put_u8(w, a->validate_only ? 1 : 0);
        put_u16(w, (uint16_t)a->change_count);
        for (uint32_t i = 0; i < a->change_count; i++) {
            put_str(w, a->changes[i].key, sizeof(a->changes[i].key));
            put_u8(w, a->changes[i].op);
            put_u8(w, a->changes[i].has_value ? 1 : 0);
            put_str(w, a->changes[i].has_value ? a->changes[i].value : "",
                    sizeof(a->changes[i].value));
        }
        return;
    }
    }
    w->overflow = true; /* not a request type */
}

size_t sl_ctrl_rpc_encode_request(const struct sl_md_request *req, uint32_t correlation_id,
                                  uint8_t *buf, size_t cap)
{
    struct writer w = {.buf = buf, .cap = cap};
    put_header(&w, SL_CTRL_RPC_REQUEST, correlation_id);
    put_request_body(&w, req);
    return finish(&w);
}

static void get_request_body(struct reader *r, struct sl_md_request *req)
{
    req->type = (enum sl_md_request_type)get_u16(r);
    switch (req->type) {
    case SL_MD_REQUEST_CREATE_TOPIC: {
        struct sl_controller_create_topic_request *c = &req->create_topic;
        get_str(r, c->name, sizeof(c->name));
        c->num_partitions = (int32_t)get_u32(r);
        c->replication_factor = (int16_t)get_u16(r);
        c->config_count = get_u16(r);
        if (c->config_count > SL_CONTROLLER_TOPIC_CONFIGS_MAX) {
            r->bad = true;
            return;
        }
        for (uint32_t i = 0; i < c->config_count && !r->bad; i++) {
            get_str(r, c->configs[i].key, sizeof(c->configs[i].key));
            get_str(r, c->configs[i].value, sizeof(c->configs[i].value));
        }
        return;
    }
    case SL_MD_REQUEST_DELETE_TOPIC:
        get_str(r, req->delete_topic, sizeof(req->delete_topic));
        return;
    case SL_MD_REQUEST_CREATE_PARTITIONS:
        get_str(r, req->create_partitions.topic, sizeof(req->create_partitions.topic));
        req->create_partitions.total_count = (int32_t)get_u32(r);
        return;
    case SL_MD_REQUEST_ALTER_TOPIC_CONFIG:
        get_str(r, req->alter_topic_config.topic, sizeof(req->alter_topic_config.topic));
        get_str(r, req->alter_topic_config.key, sizeof(req->alter_topic_config.key));
        req->alter_topic_config.has_value = get_bool(r);
        get_str(r, req->alter_topic_config.value, sizeof(req->alter_topic_config.value));
        return;
    case SL_MD_REQUEST_REGISTER_BROKER: {
        struct sl_controller_register_broker_request *b = &req->register_broker;
        b->broker_id = (int32_t)get_u32(r);
        get_bytes(r, b->incarnation_id.bytes, 16);
        get_str(r, b->rack, sizeof(b->rack));
        b->listener_count = get_u8(r);
        if (b->listener_count > SL_MD_LISTENERS_MAX) {
            r->bad = true;
            return;
        }
        for (uint8_t i = 0; i < b->listener_count && !r->bad; i++) {
            get_str(r, b->listeners[i].name, sizeof(b->listeners[i].name));
            get_str(r, b->listeners[i].host, sizeof(b->listeners[i].host));
            b->listeners[i].port = get_u16(r);
        }
        get_str(r, req->register_standby_address, sizeof(req->register_standby_address));
        return;
    }
    case SL_MD_REQUEST_HEARTBEAT:
        req->heartbeat.broker_id = (int32_t)get_u32(r);
        req->heartbeat.broker_epoch = (int64_t)get_u64(r);
        req->heartbeat.want_fence = get_bool(r);
        return;
    case SL_MD_REQUEST_ALTER_PARTITION: {
        struct sl_controller_alter_partition_request *a = &req->alter_partition;
        a->broker_id = (int32_t)get_u32(r);
        a->broker_epoch = (int64_t)get_u64(r);
        get_bytes(r, a->topic_id.bytes, 16);
        a->partition = (int32_t)get_u32(r);
        a->leader_epoch = (int32_t)get_u32(r);
        a->partition_epoch = (int32_t)get_u32(r);
        a->isr_count = get_u8(r);
        if (a->isr_count > SL_MD_REPLICAS_MAX) {
            r->bad = true;
            return;
        }
        for (uint8_t i = 0; i < a->isr_count; i++) {
            a->isr[i] = (int32_t)get_u32(r);
        }
        return;
    }
    case SL_MD_REQUEST_ELECT_PREFERRED:
        get_str(r, req->elect_preferred.topic, sizeof(req->elect_preferred.topic));
        req->elect_preferred.partition = (int32_t)get_u32(r);
        return;
    case SL_MD_REQUEST_REBALANCE_LEADERS:
        return;
    case SL_MD_REQUEST_ALTER_BROKER_CONFIG:
        get_str(r, req->alter_broker_config.broker, sizeof(req->alter_broker_config.broker));
        get_str(r, req->alter_broker_config.key, sizeof(req->alter_broker_config.key));
        req->alter_broker_config.has_value = get_bool(r);
        get_str(r, req->alter_broker_config.value, sizeof(req->alter_broker_config.value));
        return;
    case SL_MD_REQUEST_UNREGISTER_BROKER:
        req->unregister_broker_id = (int32_t)get_u32(r);
        return;
    case SL_MD_REQUEST_ADD_STANDBY:
        req->add_standby.node_id = (int32_t)get_u32(r);
        get_str(r, req->add_standby.address, sizeof(req->add_standby.address));
        return;
    case SL_MD_REQUEST_ALTER_CONFIGS: {
        struct sl_controller_alter_configs_request *a = &req->alter_configs;
        a->resource_type = (int8_t)get_u8(r);
        get_str(r, a->resource_name, sizeof(a->resource_name));
        a->replace_all = get_bool(r);
        a->validate_only = get_bool(r);
        a->change_count = get_u16(r);
        if (a->change_count > SL_CONTROLLER_TOPIC_CONFIGS_MAX) {
            r->bad = true;
            return;
        }
        for (uint32_t i = 0; i < a->change_count && !r->bad; i++) {
            get_str(r, a->changes[i].key, sizeof(a->changes[i].key));
            a->changes[i].op = get_u8(r);
            if (a->changes[i].op > SL_CONTROLLER_CONFIG_SUBTRACT)
                r->bad = true;
            a->changes[i].has_value = get_bool(r);
            get_str(r, a->changes[i].value, sizeof(a->changes[i].value));
        }
        return;
    }
    }
    r->bad = true; /* unknown type */
}

int sl_ctrl_rpc_decode_header(const uint8_t *frame, size_t len, enum sl_ctrl_rpc_kind *kind,
                              uint32_t *correlation_id)
{
    if (len < SL_CTRL_RPC_HEADER_BYTES || len > SL_CTRL_RPC_FRAME_BYTES_MAX ||
        sl_load_be32(frame) != len - 4 || sl_load_be16(frame + 4) != SL_CTRL_RPC_FORMAT ||
        frame[7] != 0) {
        return -EBADMSG;
    }
    if (frame[6] != SL_CTRL_RPC_REQUEST && frame[6] != SL_CTRL_RPC_RESPONSE) {
        return -EBADMSG;
    }
    *kind = (enum sl_ctrl_rpc_kind)frame[6];
    *correlation_id = sl_load_be32(frame + 8);
    return 0;
}

int sl_ctrl_rpc_decode_request(const uint8_t *frame, size_t len, struct sl_md_request *out)
{
    enum sl_ctrl_rpc_kind kind;
    uint32_t correlation_id;
    memset(out, 0, sizeof(*out));
    if (sl_ctrl_rpc_decode_header(frame, len, &kind, &correlation_id) != 0 ||
        kind != SL_CTRL_RPC_REQUEST) {
        return -EBADMSG;
    }
    struct reader r = {.p = frame + SL_CTRL_RPC_HEADER_BYTES,
                       .left = len - SL_CTRL_RPC_HEADER_BYTES};
    get_request_body(&r, out);
    if (r.bad || r.left != 0) {
        return -EBADMSG;
    }
    return 0;
}

/* ---- responses ---- */

size_t sl_ctrl_rpc_encode_response(const struct sl_md_request *req, uint32_t correlation_id,
                                   uint8_t *buf, size_t cap)
{
    struct writer w = {.buf = buf, .cap = cap};
    put_header(&w, SL_CTRL_RPC_RESPONSE, correlation_id);
    put_u16(&w, (uint16_t)(int16_t)req->error_code);
    put_str(&w, req->error_message, sizeof(req->error_message));
    put_u64(&w, (uint64_t)req->broker_epoch);
    put_bytes(&w, req->topic_id.bytes, 16);
    put_u32(&w, (uint32_t)req->partition_epoch);
    put_u32(&w, (uint32_t)req->leader_id);
    put_u32(&w, (uint32_t)req->leaders_moved);
    put_u64(&w, req->applied_index);
    return finish(&w);
}

int sl_ctrl_rpc_decode_response(const uint8_t *frame, size_t len, struct sl_md_request *req)
{
    enum sl_ctrl_rpc_kind kind;
    uint32_t correlation_id;
    if (sl_ctrl_rpc_decode_header(frame, len, &kind, &correlation_id) != 0 ||
        kind != SL_CTRL_RPC_RESPONSE) {
        return -EBADMSG;
    }
    struct reader r = {.p = frame + SL_CTRL_RPC_HEADER_BYTES,
                       .left = len - SL_CTRL_RPC_HEADER_BYTES};
    /* Decoded aside first, so a malformed answer leaves the request untouched. */
    char message[sizeof(req->error_message)];
    int error_code = (int16_t)get_u16(&r);
    get_str(&r, message, sizeof(message));
    int64_t broker_epoch = (int64_t)get_u64(&r);
    struct sl_md_uuid topic_id = {{0}};
    get_bytes(&r, topic_id.bytes, 16);
    int32_t partition_epoch = (int32_t)get_u32(&r);
    int32_t leader_id = (int32_t)get_u32(&r);
    int32_t leaders_moved = (int32_t)get_u32(&r);
    uint64_t applied_index = get_u64(&r);
    if (r.bad || r.left != 0) {
        return -EBADMSG;
    }
    req->error_code = error_code;
    memcpy(req->error_message, message, sizeof(message));
    req->broker_epoch = broker_epoch;
    req->topic_id = topic_id;
    req->partition_epoch = partition_epoch;
    req->leader_id = leader_id;
    req->leaders_moved = leaders_moved;
    req->applied_index = applied_index;
    return 0;
}
