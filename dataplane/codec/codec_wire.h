/* Wire primitives of the Kafka protocol: bounded reader, bounded writer with zero-copy
 * record gaps, per-request arena, and the value types generated messages are made of.
 *
 * Threading: every object here belongs to the one thread (shard) using it; nothing is
 * shared and nothing locks. Decoded slices point into the caller's frame buffer, which
 * must outlive the decoded message; arrays live in the caller's arena.
 */
#ifndef SL_CODEC_WIRE_H
#define SL_CODEC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/sl_assert.h"
#include "common/sl_bytes.h"
#include "dataplane/codec/codec_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A string or bytes value: points into the decoded frame (zero copy). len -1 = null. */
struct sl_codec_slice {
    const uint8_t *ptr;
    int32_t len;
};

/* One piece of record data owned by someone else (storage cache page, request buffer). */
struct sl_codec_segment {
    const uint8_t *ptr;
    uint32_t len;
    void *owner; /* opaque reference handed back to the transmit path; may be NULL */
};

/* A records field (a sequence of record batches). Decoded: ptr/len slice into the frame.
 * For encoding, either ptr/len (contiguous) or segs/seg_count (len = sum of segment
 * lengths). len -1 = null. The codec never looks inside. */
struct sl_codec_records {
    const uint8_t *ptr;
    int32_t len;
    void *owner;
    const struct sl_codec_segment *segs;
    uint32_t seg_count;
};

struct sl_codec_uuid {
    uint8_t bytes[16];
};

/* A tagged field the codec does not know, kept so re-encoding reproduces it. */
struct sl_codec_tag_raw {
    uint32_t tag;
    struct sl_codec_slice data;
};

/* Configured bounds on what a peer can make the decoder do. */
struct sl_codec_limits {
    uint32_t array_len_max;  /* largest element count accepted for any one array */
    uint32_t frame_size_max; /* largest frame (without the 4-byte size prefix) */
};

/* Bump allocator over caller-owned memory; reset per request. Never calls malloc. */
struct sl_codec_arena {
    uint8_t *base;
    size_t cap_bytes;
    size_t used_bytes;
};

struct sl_codec_decoder {
    const uint8_t *start;
    const uint8_t *pos;
    const uint8_t *end;
    struct sl_codec_arena *arena;
    const struct sl_codec_limits *limits;
};

/* Where a zero-copy records segment goes in the output: between buf[offset-1] and
 * buf[offset]. */
struct sl_codec_gap {
    size_t offset;
    struct sl_codec_segment seg;
};

struct sl_codec_encoder {
    uint8_t *buf;
    size_t cap_bytes;
    size_t pos;
    struct sl_codec_gap *gaps; /* NULL: records are copied into buf */
    uint32_t gap_count;
    uint32_t gap_max;
    uint64_t gap_bytes;
    int err; /* sticky: first error wins, later writes become no-ops */
};

/* Prepare @a over @mem (@cap_bytes). The caller owns @mem. Any thread owning @a. */
void sl_codec_arena_init(struct sl_codec_arena *a, void *mem, size_t cap_bytes);

/* Forget every allocation (the memory is reused by the next request). */
static inline void sl_codec_arena_reset(struct sl_codec_arena *a)
{
    a->used_bytes = 0;
}

/* 8-byte aligned zeroed block of @count * @size bytes from @a, or NULL when full. */
void *sl_codec_arena_alloc(struct sl_codec_arena *a, size_t count, size_t size);

/* Decode @len bytes at @buf (not copied; must outlive every decoded slice). */
void sl_codec_decoder_init(struct sl_codec_decoder *d, const uint8_t *buf, size_t len,
                           struct sl_codec_arena *arena, const struct sl_codec_limits *limits);

/* Encode into @buf (@cap_bytes, caller-owned). With @gaps (@gap_max slots) records
 * fields are not copied but recorded as gaps (see sl_codec_encoder_chain). */
void sl_codec_encoder_init(struct sl_codec_encoder *e, uint8_t *buf, size_t cap_bytes,
                           struct sl_codec_gap *gaps, uint32_t gap_max);

/* Total bytes the encoded output represents: header bytes plus zero-copy record bytes. */
static inline uint64_t sl_codec_encoder_total_bytes(const struct sl_codec_encoder *e)
{
    return e->pos + e->gap_bytes;
}

/* Turn the encoder's output into an ordered segment list (buffer pieces have owner
 * NULL) ready for the driver's send. Returns the segment count, or 0 if @seg_max is too
 * small. The segments point into the encoder buffer and the gaps' owners. */
uint32_t sl_codec_encoder_chain(const struct sl_codec_encoder *e, struct sl_codec_segment *out,
                                uint32_t seg_max);

static inline size_t sl_codec_left(const struct sl_codec_decoder *d)
{
    return (size_t)(d->end - d->pos);
}

/* ---- decode primitives: return SL_CODEC_OK or an sl_codec_err, never read past end ---- */

#define SL_CODEC_READ_FIXED(name, type, width, load)                                               \
    static inline int name(struct sl_codec_decoder *d, type *out)                                  \
    {                                                                                              \
        if (sl_codec_left(d) < (width))                                                            \
            return SL_CODEC_ERR_TRUNCATED;                                                         \
        *out = (type)load(d->pos);                                                                 \
        d->pos += (width);                                                                         \
        return SL_CODEC_OK;                                                                        \
    }

static inline uint8_t sl_codec_load8_(const uint8_t *p)
{
    return p[0];
}

SL_CODEC_READ_FIXED(sl_codec_read_i8, int8_t, 1, sl_codec_load8_)
SL_CODEC_READ_FIXED(sl_codec_read_i16, int16_t, 2, sl_load_be16)
SL_CODEC_READ_FIXED(sl_codec_read_u16, uint16_t, 2, sl_load_be16)
SL_CODEC_READ_FIXED(sl_codec_read_i32, int32_t, 4, sl_load_be32)
SL_CODEC_READ_FIXED(sl_codec_read_i64, int64_t, 8, sl_load_be64)

static inline int sl_codec_read_bool(struct sl_codec_decoder *d, bool *out)
{
    if (sl_codec_left(d) < 1)
        return SL_CODEC_ERR_TRUNCATED;
    *out = d->pos[0] != 0;
    d->pos += 1;
    return SL_CODEC_OK;
}

static inline int sl_codec_read_f64(struct sl_codec_decoder *d, double *out)
{
    uint64_t bits;
    int rc = sl_codec_read_i64(d, (int64_t *)&bits);
    if (rc == SL_CODEC_OK)
        memcpy(out, &bits, sizeof(*out));
    return rc;
}

static inline int sl_codec_read_uuid(struct sl_codec_decoder *d, struct sl_codec_uuid *out)
{
    if (sl_codec_left(d) < 16)
        return SL_CODEC_ERR_TRUNCATED;
    memcpy(out->bytes, d->pos, 16);
    d->pos += 16;
    return SL_CODEC_OK;
}

/* Unsigned varint of at most 32 bits (5 bytes). */
int sl_codec_read_uvarint(struct sl_codec_decoder *d, uint32_t *out);

/* string: int16 length (non-flexible) or uvarint length+1 (flexible); -1/0 = null. */
int sl_codec_read_string(struct sl_codec_decoder *d, bool flex, bool nullable,
                         struct sl_codec_slice *out);
/* bytes: int32 length (non-flexible) or uvarint length+1 (flexible). */
int sl_codec_read_bytes(struct sl_codec_decoder *d, bool flex, bool nullable,
                        struct sl_codec_slice *out);
int sl_codec_read_records(struct sl_codec_decoder *d, bool flex, bool nullable,
                          struct sl_codec_records *out);
/* Array count (-1 = null), checked against limits->array_len_max and against the bytes
 * left given that each element takes at least @elem_min_bytes. */
int sl_codec_read_array_count(struct sl_codec_decoder *d, bool flex, bool nullable,
                              uint32_t elem_min_bytes, int32_t *count);
/* Allocate @count elements of @size for an array just counted. */
int sl_codec_alloc_array(struct sl_codec_decoder *d, int32_t count, size_t size, void **out);
/* Tagged-field section header: number of fields, bounded by the bytes left. */
int sl_codec_read_tag_count(struct sl_codec_decoder *d, uint32_t *count);
/* One tagged field header: tag and size; the size is checked against the bytes left. */
int sl_codec_read_tag_header(struct sl_codec_decoder *d, uint32_t *tag, uint32_t *size_bytes);
/* Keep an unknown tagged field (its raw value bytes) in a per-struct list. */
int sl_codec_keep_unknown_tag(struct sl_codec_decoder *d, uint32_t tag, uint32_t size_bytes,
                              uint32_t tag_count, struct sl_codec_tag_raw **list,
                              uint32_t *list_count);

/* ---- encode primitives: sticky error in e->err ---- */

static inline uint8_t *sl_codec_reserve(struct sl_codec_encoder *e, size_t n)
{
    if (e->err != SL_CODEC_OK)
        return NULL;
    if (e->cap_bytes - e->pos < n) {
        e->err = SL_CODEC_ERR_BUFFER_FULL;
        return NULL;
    }
    uint8_t *p = e->buf + e->pos;
    e->pos += n;
    return p;
}

static inline void sl_codec_write_i8(struct sl_codec_encoder *e, int8_t v)
{
    uint8_t *p = sl_codec_reserve(e, 1);
    if (p)
        p[0] = (uint8_t)v;
}

static inline void sl_codec_write_bool(struct sl_codec_encoder *e, bool v)
{
    sl_codec_write_i8(e, v ? 1 : 0);
}

static inline void sl_codec_write_i16(struct sl_codec_encoder *e, int16_t v)
{
    uint8_t *p = sl_codec_reserve(e, 2);
    if (p)
        sl_store_be16(p, (uint16_t)v);
}

static inline void sl_codec_write_u16(struct sl_codec_encoder *e, uint16_t v)
{
    sl_codec_write_i16(e, (int16_t)v);
}

static inline void sl_codec_write_i32(struct sl_codec_encoder *e, int32_t v)
{
    uint8_t *p = sl_codec_reserve(e, 4);
    if (p)
        sl_store_be32(p, (uint32_t)v);
}

static inline void sl_codec_write_i64(struct sl_codec_encoder *e, int64_t v)
{
    uint8_t *p = sl_codec_reserve(e, 8);
    if (p)
        sl_store_be64(p, (uint64_t)v);
}

static inline void sl_codec_write_f64(struct sl_codec_encoder *e, double v)
{
    int64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    sl_codec_write_i64(e, bits);
}

static inline void sl_codec_write_uuid(struct sl_codec_encoder *e, const struct sl_codec_uuid *v)
{
    uint8_t *p = sl_codec_reserve(e, 16);
    if (p)
        memcpy(p, v->bytes, 16);
}

static inline void sl_codec_write_raw(struct sl_codec_encoder *e, const void *src, size_t n)
{
    uint8_t *p = sl_codec_reserve(e, n);
    if (p && n)
        memcpy(p, src, n);
}

static inline void sl_codec_fail(struct sl_codec_encoder *e, int err)
{
    if (e->err == SL_CODEC_OK)
        e->err = err;
}

void sl_codec_write_uvarint(struct sl_codec_encoder *e, uint32_t v);
uint32_t sl_codec_uvarint_size(uint32_t v);
void sl_codec_write_string(struct sl_codec_encoder *e, bool flex, bool nullable,
                           const struct sl_codec_slice *v);
void sl_codec_write_bytes(struct sl_codec_encoder *e, bool flex, bool nullable,
                          const struct sl_codec_slice *v);
/* Copies the records, or records zero-copy gaps when the encoder has gap slots. */
void sl_codec_write_records(struct sl_codec_encoder *e, bool flex, bool nullable,
                            const struct sl_codec_records *v);
void sl_codec_write_array_count(struct sl_codec_encoder *e, bool flex, bool nullable,
                                int32_t count);
/* Tagged field framing: begin writes the tag and returns a mark, end inserts the size. */
size_t sl_codec_tag_begin(struct sl_codec_encoder *e, uint32_t tag);
void sl_codec_tag_end(struct sl_codec_encoder *e, size_t mark);
/* Write the unknown tags of @list with index >= *next and tag < @below, advancing *next. */
void sl_codec_write_unknown_tags(struct sl_codec_encoder *e, const struct sl_codec_tag_raw *list,
                                 uint32_t count, uint32_t *next, uint64_t below);

static inline bool sl_codec_slice_eq(const struct sl_codec_slice *a, const struct sl_codec_slice *b)
{
    if (a->len != b->len)
        return false;
    return a->len <= 0 || memcmp(a->ptr, b->ptr, (size_t)a->len) == 0;
}

#ifdef __cplusplus
}
#endif

#endif
