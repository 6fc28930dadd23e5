#include "controlplane/metadata_records.h"

#include <errno.h>
#include <isa-l.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/sl_assert.h"
#include "common/sl_bytes.h"

/* Every record type is at version 1; a newer version in the log is refused, never
 * guessed at. */
#define RECORD_VERSION      1
#define RECORD_HEADER_BYTES 8

static void set_error(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t err_size, const char *fmt, ...)
{
    if (err == NULL || err_size == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

uint32_t sl_md_crc32c(const void *data, size_t len)
{
    SL_ASSERT(len <= 0x7fffffff);
    return crc32_iscsi((unsigned char *)data, (int)len, 0xffffffffu);
}

const char *sl_md_record_type_name(int type)
{
    switch (type) {
    case SL_MD_RECORD_REGISTER_BROKER:
        return "REGISTER_BROKER";
    case SL_MD_RECORD_UNREGISTER_BROKER:
        return "UNREGISTER_BROKER";
    case SL_MD_RECORD_FENCE_BROKER:
        return "FENCE_BROKER";
    case SL_MD_RECORD_TOPIC:
        return "TOPIC";
    case SL_MD_RECORD_PARTITION:
        return "PARTITION";
    case SL_MD_RECORD_PARTITION_CHANGE:
        return "PARTITION_CHANGE";
    case SL_MD_RECORD_CONFIG:
        return "CONFIG";
    case SL_MD_RECORD_REMOVE_TOPIC:
        return "REMOVE_TOPIC";
    }
    return "UNKNOWN";
}

/* ---- writer: sizing pass (buf == NULL) and writing pass share the code ---- */

struct writer {
    uint8_t *buf;
    size_t pos;
    size_t cap;
};

static void put_bytes(struct writer *w, const void *p, size_t n)
{
    if (w->buf != NULL) {
        SL_ASSERT(w->pos + n <= w->cap);
        memcpy(w->buf + w->pos, p, n);
    }
    w->pos += n;
}

static void put_u8(struct writer *w, uint8_t v)
{
    put_bytes(w, &v, 1);
}

static void put_u16(struct writer *w, uint16_t v)
{
    uint8_t b[2];
    sl_store_be16(b, v);
    put_bytes(w, b, 2);
}

static void put_u32(struct writer *w, uint32_t v)
{
    uint8_t b[4];
    sl_store_be32(b, v);
    put_bytes(w, b, 4);
}

static void put_u64(struct writer *w, uint64_t v)
{
    uint8_t b[8];
    sl_store_be64(b, v);
    put_bytes(w, b, 8);
}

static void put_string(struct writer *w, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    SL_ASSERT(n < max);
    put_u16(w, (uint16_t)n);
    put_bytes(w, s, n);
}

static void put_uuid(struct writer *w, const struct sl_md_uuid *u)
{
    put_bytes(w, u->bytes, sizeof(u->bytes));
}

static void put_int_array(struct writer *w, const int32_t *v, uint8_t n)
{
    SL_ASSERT(n <= SL_MD_REPLICAS_MAX);
    put_u8(w, n);
    for (uint8_t i = 0; i < n; i++) {
        put_u32(w, (uint32_t)v[i]);
    }
}

static void put_record_body(struct writer *w, const struct sl_md_record *r)
{
    switch (r->type) {
    case SL_MD_RECORD_REGISTER_BROKER: {
        const struct sl_md_broker *b = &r->broker;
        SL_ASSERT(b->listener_count <= SL_MD_LISTENERS_MAX);
        put_u32(w, (uint32_t)b->broker_id);
        put_u64(w, (uint64_t)b->broker_epoch);
        put_uuid(w, &b->incarnation_id);
        put_string(w, b->rack, sizeof(b->rack));
        put_u8(w, b->fenced);
        put_u8(w, b->listener_count);
        for (uint8_t i = 0; i < b->listener_count; i++) {
            put_string(w, b->listeners[i].name, sizeof(b->listeners[i].name));
            put_string(w, b->listeners[i].host, sizeof(b->listeners[i].host));
            put_u16(w, b->listeners[i].port);
        }
        return;
    }
    case SL_MD_RECORD_UNREGISTER_BROKER:
    case SL_MD_RECORD_FENCE_BROKER:
        put_u32(w, (uint32_t)r->broker_change.broker_id);
        put_u64(w, (uint64_t)r->broker_change.broker_epoch);
        put_u8(w, r->broker_change.fenced);
        return;
    case SL_MD_RECORD_TOPIC:
        put_string(w, r->topic.name, sizeof(r->topic.name));
        put_uuid(w, &r->topic.topic_id);
        return;
    case SL_MD_RECORD_PARTITION:
    case SL_MD_RECORD_PARTITION_CHANGE: {
        const struct sl_md_partition *p = &r->partition;
        put_uuid(w, &p->topic_id);
        put_u32(w, (uint32_t)p->partition);
        put_u32(w, (uint32_t)p->leader);
        put_u32(w, (uint32_t)p->leader_epoch);
        put_u32(w, (uint32_t)p->partition_epoch);
        put_int_array(w, p->replicas, p->replica_count);
        put_int_array(w, p->isr, p->isr_count);
        return;
    }
    case SL_MD_RECORD_CONFIG:
        put_u8(w, r->config.resource_type);
        put_string(w, r->config.resource_name, sizeof(r->config.resource_name));
        put_string(w, r->config.key, sizeof(r->config.key));
        put_u8(w, r->config.has_value);
        put_string(w, r->config.has_value ? r->config.value : "", sizeof(r->config.value));
        return;
    case SL_MD_RECORD_REMOVE_TOPIC:
        put_uuid(w, &r->remove_topic_id);
        return;
    }
    SL_ASSERT(false && "unknown record type");
}

static void put_batch(struct writer *w, const struct sl_md_record *records, size_t count)
{
    SL_ASSERT(count >= 1 && count <= SL_MD_BATCH_RECORDS_MAX);
    size_t start = w->pos;
    put_u32(w, SL_MD_BATCH_MAGIC);
    put_u16(w, SL_MD_BATCH_FORMAT);
    put_u16(w, 0);
    put_u32(w, 0); /* crc, filled below */
    put_u32(w, (uint32_t)count);
    put_u32(w, 0); /* body bytes, filled below */
    for (size_t i = 0; i < count; i++) {
        put_u16(w, (uint16_t)records[i].type);
        put_u16(w, RECORD_VERSION);
        size_t size_pos = w->pos;
        put_u32(w, 0);
        size_t body_start = w->pos;
        put_record_body(w, &records[i]);
        if (w->buf != NULL) {
            sl_store_be32(w->buf + size_pos, (uint32_t)(w->pos - body_start));
        }
    }
    if (w->buf != NULL) {
        uint8_t *h = w->buf + start;
        sl_store_be32(h + 16, (uint32_t)(w->pos - start - SL_MD_BATCH_HEADER_BYTES));
        sl_store_be32(h + 8, sl_md_crc32c(h + 12, w->pos - start - 12));
    }
}

size_t sl_md_batch_size(const struct sl_md_record *records, size_t count)
{
    struct writer w = {NULL, 0, 0};
    put_batch(&w, records, count);
    return w.pos;
}

size_t sl_md_batch_encode(const struct sl_md_record *records, size_t count, uint8_t *out,
                          size_t out_size)
{
    struct writer w = {out, 0, out_size};
    put_batch(&w, records, count);
    return w.pos;
}

/* ---- reader: every read is bounds-checked; a short read poisons the reader ---- */

struct reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool bad;
};

static bool get_bytes(struct reader *r, void *out, size_t n)
{
    if (r->bad || r->len - r->pos < n) {
        r->bad = true;
        return false;
    }
    memcpy(out, r->p + r->pos, n);
    r->pos += n;
    return true;
}

static uint8_t get_u8(struct reader *r)
{
    uint8_t v = 0;
    get_bytes(r, &v, 1);
    return v;
}

static uint16_t get_u16(struct reader *r)
{
    uint8_t b[2] = {0};
    get_bytes(r, b, 2);
    return sl_load_be16(b);
}

static uint32_t get_u32(struct reader *r)
{
    uint8_t b[4] = {0};
    get_bytes(r, b, 4);
    return sl_load_be32(b);
}

static uint64_t get_u64(struct reader *r)
{
    uint8_t b[8] = {0};
    get_bytes(r, b, 8);
    return sl_load_be64(b);
}

static void get_string(struct reader *r, char *out, size_t max)
{
    uint16_t n = get_u16(r);
    out[0] = '\0';
    if (n >= max || memchr(r->p + r->pos, '\0', SL_MIN((size_t)n, r->len - r->pos)) != NULL) {
        r->bad = true;
        return;
    }
    if (get_bytes(r, out, n)) {
        out[n] = '\0';
    }
}

static void get_uuid(struct reader *r, struct sl_md_uuid *u)
{
    get_bytes(r, u->bytes, sizeof(u->bytes));
}

static uint8_t get_int_array(struct reader *r, int32_t *v)
{
    uint8_t n = get_u8(r);
    if (n > SL_MD_REPLICAS_MAX) {
        r->bad = true;
        return 0;
    }
    for (uint8_t i = 0; i < n; i++) {
        v[i] = (int32_t)get_u32(r);
    }
    return n;
}

static bool get_record_body(struct reader *r, struct sl_md_record *out)
{
    switch (out->type) {
    case SL_MD_RECORD_REGISTER_BROKER: {
        struct sl_md_broker *b = &out->broker;
        b->broker_id = (int32_t)get_u32(r);
        b->broker_epoch = (int64_t)get_u64(r);
        get_uuid(r, &b->incarnation_id);
        get_string(r, b->rack, sizeof(b->rack));
        b->fenced = get_u8(r) != 0;
        b->listener_count = get_u8(r);
        if (b->listener_count > SL_MD_LISTENERS_MAX) {
            return false;
        }
        for (uint8_t i = 0; i < b->listener_count; i++) {
            get_string(r, b->listeners[i].name, sizeof(b->listeners[i].name));
            get_string(r, b->listeners[i].host, sizeof(b->listeners[i].host));
            b->listeners[i].port = get_u16(r);
        }
        return !r->bad;
    }
    case SL_MD_RECORD_UNREGISTER_BROKER:
    case SL_MD_RECORD_FENCE_BROKER:
        out->broker_change.broker_id = (int32_t)get_u32(r);
        out->broker_change.broker_epoch = (int64_t)get_u64(r);
        out->broker_change.fenced = get_u8(r) != 0;
        return !r->bad;
    case SL_MD_RECORD_TOPIC:
        get_string(r, out->topic.name, sizeof(out->topic.name));
        get_uuid(r, &out->topic.topic_id);
        return !r->bad;
    case SL_MD_RECORD_PARTITION:
    case SL_MD_RECORD_PARTITION_CHANGE: {
        struct sl_md_partition *p = &out->partition;
        get_uuid(r, &p->topic_id);
        p->partition = (int32_t)get_u32(r);
        p->leader = (int32_t)get_u32(r);
        p->leader_epoch = (int32_t)get_u32(r);
        p->partition_epoch = (int32_t)get_u32(r);
        p->replica_count = get_int_array(r, p->replicas);
        p->isr_count = get_int_array(r, p->isr);
        return !r->bad;
    }
    case SL_MD_RECORD_CONFIG:
        out->config.resource_type = get_u8(r);
        get_string(r, out->config.resource_name, sizeof(out->config.resource_name));
        get_string(r, out->config.key, sizeof(out->config.key));
        out->config.has_value = get_u8(r) != 0;
        get_string(r, out->config.value, sizeof(out->config.value));
        return !r->bad;
    case SL_MD_RECORD_REMOVE_TOPIC:
        get_uuid(r, &out->remove_topic_id);
        return !r->bad;
    }
    return false;
}

int sl_md_batch_open(struct sl_md_batch_reader *reader, const void *buf, size_t len, char *err,
                     size_t err_size)
{
    const uint8_t *p = buf;
    memset(reader, 0, sizeof(*reader));
    if (len < SL_MD_BATCH_HEADER_BYTES) {
        set_error(err, err_size, "metadata batch truncated: %zu bytes, header needs %d", len,
                  SL_MD_BATCH_HEADER_BYTES);
        return -EBADMSG;
    }
    if (sl_load_be32(p) != SL_MD_BATCH_MAGIC) {
        set_error(err, err_size, "metadata batch has bad magic 0x%08x", sl_load_be32(p));
        return -EBADMSG;
    }
    if (sl_load_be16(p + 6) != 0) {
        set_error(err, err_size, "metadata batch has non-zero reserved bits 0x%04x",
                  sl_load_be16(p + 6));
        return -EBADMSG;
    }
    if (sl_load_be16(p + 4) != SL_MD_BATCH_FORMAT) {
        set_error(err, err_size,
                  "metadata batch format %u is not supported (this broker reads format %d)",
                  sl_load_be16(p + 4), SL_MD_BATCH_FORMAT);
        return -EBADMSG;
    }
    uint32_t body = sl_load_be32(p + 16);
    uint64_t used = (uint64_t)body + SL_MD_BATCH_HEADER_BYTES;
    /* Raft log entries are padded to 8 bytes (libraft's disk format needs it); the
     * padding must be zeros. */
    bool padding_ok = used <= len && len - used < 8;
    for (uint64_t i = used; padding_ok && i < len; i++) {
        padding_ok = p[i] == 0;
    }
    if (!padding_ok) {
        set_error(err, err_size,
                  "metadata batch length mismatch: header says %u body bytes, entry has %zu", body,
                  len - SL_MD_BATCH_HEADER_BYTES);
        return -EBADMSG;
    }
    len = (size_t)used;
    uint32_t stored = sl_load_be32(p + 8);
    uint32_t computed = sl_md_crc32c(p + 12, len - 12);
    if (stored != computed) {
        set_error(err, err_size, "metadata batch CRC32C mismatch: stored 0x%08x, computed 0x%08x",
                  stored, computed);
        return -EBADMSG;
    }
    uint32_t count = sl_load_be32(p + 12);
    if (count == 0 || count > SL_MD_BATCH_RECORDS_MAX) {
        set_error(err, err_size, "metadata batch has %u records (allowed 1..%d)", count,
                  SL_MD_BATCH_RECORDS_MAX);
        return -EBADMSG;
    }
    reader->buf = p;
    reader->len = len;
    reader->pos = SL_MD_BATCH_HEADER_BYTES;
    reader->count = count;
    return 0;
}

int sl_md_batch_next(struct sl_md_batch_reader *reader, struct sl_md_record *out, char *err,
                     size_t err_size)
{
    if (reader->index == reader->count) {
        if (reader->pos != reader->len) {
            set_error(err, err_size, "metadata batch has %zu trailing bytes",
                      reader->len - reader->pos);
            return -EBADMSG;
        }
        return 0;
    }
    struct reader r = {reader->buf, reader->len, reader->pos, false};
    uint16_t type = get_u16(&r);
    uint16_t version = get_u16(&r);
    uint32_t size = get_u32(&r);
    if (r.bad || size > r.len - r.pos) {
        set_error(err, err_size, "metadata record %u of %u is truncated", reader->index,
                  reader->count);
        return -EBADMSG;
    }
    if (version != RECORD_VERSION) {
        set_error(err, err_size, "metadata record %u (%s) has version %u; this broker reads %d",
                  reader->index, sl_md_record_type_name(type), version, RECORD_VERSION);
        return -EBADMSG;
    }
    memset(out, 0, sizeof(*out));
    out->type = (enum sl_md_record_type)type;
    if (strcmp(sl_md_record_type_name(type), "UNKNOWN") == 0) {
        set_error(err, err_size, "metadata record %u has unknown type %u", reader->index, type);
        return -EBADMSG;
    }
    struct reader body = {r.p + r.pos, size, 0, false};
    if (!get_record_body(&body, out) || body.pos != size) {
        set_error(err, err_size, "metadata record %u (%s) is malformed", reader->index,
                  sl_md_record_type_name(type));
        return -EBADMSG;
    }
    reader->pos = r.pos + size;
    reader->index++;
    return 1;
}
