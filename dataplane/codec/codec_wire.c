#include "dataplane/codec/codec_wire.h"

#include "common/sl_compiler.h"

void sl_codec_arena_init(struct sl_codec_arena *a, void *mem, size_t cap_bytes)
{
    SL_ASSERT(a != NULL);
    SL_ASSERT(mem != NULL || cap_bytes == 0);
    a->base = mem;
    a->cap_bytes = cap_bytes;
    a->used_bytes = 0;
}

void *sl_codec_arena_alloc(struct sl_codec_arena *a, size_t count, size_t size)
{
    SL_ASSERT(a->used_bytes <= a->cap_bytes);
    if (a->base == NULL)
        return NULL;
    if (size != 0 && count > SIZE_MAX / 2 / size)
        return NULL;
    size_t bytes = count * size;
    size_t start = (a->used_bytes + 7u) & ~(size_t)7u;
    if (start > a->cap_bytes || a->cap_bytes - start < bytes)
        return NULL;
    a->used_bytes = start + bytes;
    void *p = a->base + start;
    if (bytes)
        memset(p, 0, bytes);
    return p;
}

void sl_codec_decoder_init(struct sl_codec_decoder *d, const uint8_t *buf, size_t len,
                           struct sl_codec_arena *arena, const struct sl_codec_limits *limits)
{
    SL_ASSERT(buf != NULL || len == 0);
    SL_ASSERT(arena != NULL);
    SL_ASSERT(limits != NULL);
    d->start = buf;
    d->pos = buf;
    d->end = len ? buf + len : buf; /* NULL + 0 is undefined in C */
    d->arena = arena;
    d->limits = limits;
}

void sl_codec_encoder_init(struct sl_codec_encoder *e, uint8_t *buf, size_t cap_bytes,
                           struct sl_codec_gap *gaps, uint32_t gap_max)
{
    SL_ASSERT(buf != NULL || cap_bytes == 0);
    SL_ASSERT(gaps != NULL || gap_max == 0);
    e->buf = buf;
    e->cap_bytes = cap_bytes;
    e->pos = 0;
    e->gaps = gaps;
    e->gap_count = 0;
    e->gap_max = gap_max;
    e->gap_bytes = 0;
    e->err = SL_CODEC_OK;
}

uint32_t sl_codec_encoder_chain(const struct sl_codec_encoder *e, struct sl_codec_segment *out,
                                uint32_t seg_max)
{
    uint32_t n = 0;
    size_t done = 0;
    for (uint32_t i = 0; i <= e->gap_count; i++) {
        size_t upto = i < e->gap_count ? e->gaps[i].offset : e->pos;
        SL_ASSERT(upto >= done);
        if (upto > done) {
            if (n == seg_max)
                return 0;
            out[n++] = (struct sl_codec_segment){e->buf + done, (uint32_t)(upto - done), NULL};
            done = upto;
        }
        if (i < e->gap_count) {
            if (n == seg_max)
                return 0;
            out[n++] = e->gaps[i].seg;
        }
    }
    return n;
}

int sl_codec_read_uvarint(struct sl_codec_decoder *d, uint32_t *out)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < 5; i++) {
        if (d->pos == d->end)
            return SL_CODEC_ERR_TRUNCATED;
        uint8_t b = *d->pos++;
        /* The fifth byte may only carry the top 4 bits of a 32-bit value. */
        if (i == 4 && (b & 0xf0))
            return SL_CODEC_ERR_BAD_VARINT;
        v |= (uint32_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return SL_CODEC_OK;
        }
    }
    return SL_CODEC_ERR_BAD_VARINT;
}

/* Length of a string/bytes/array: -1 means null; anything else must be >= 0. */
static int read_length(struct sl_codec_decoder *d, bool flex, int width, int32_t *len)
{
    int rc;
    if (flex) {
        uint32_t u;
        if ((rc = sl_codec_read_uvarint(d, &u)) != SL_CODEC_OK)
            return rc;
        if (u > (uint32_t)INT32_MAX)
            return SL_CODEC_ERR_NEGATIVE_LENGTH;
        *len = (int32_t)u - 1;
        return SL_CODEC_OK;
    }
    if (width == 2) {
        int16_t l;
        if ((rc = sl_codec_read_i16(d, &l)) != SL_CODEC_OK)
            return rc;
        *len = l;
    } else {
        if ((rc = sl_codec_read_i32(d, len)) != SL_CODEC_OK)
            return rc;
    }
    if (*len < -1)
        return SL_CODEC_ERR_NEGATIVE_LENGTH;
    return SL_CODEC_OK;
}

static int read_slice(struct sl_codec_decoder *d, bool flex, bool nullable, int width,
                      struct sl_codec_slice *out)
{
    int32_t len;
    int rc = read_length(d, flex, width, &len);
    if (rc != SL_CODEC_OK)
        return rc;
    if (len == -1) {
        if (!nullable)
            return SL_CODEC_ERR_NULL_NOT_ALLOWED;
        out->ptr = NULL;
        out->len = -1;
        return SL_CODEC_OK;
    }
    if ((size_t)len > sl_codec_left(d))
        return SL_CODEC_ERR_TRUNCATED;
    out->ptr = d->pos;
    out->len = len;
    d->pos += len;
    return SL_CODEC_OK;
}

int sl_codec_read_string(struct sl_codec_decoder *d, bool flex, bool nullable,
                         struct sl_codec_slice *out)
{
    return read_slice(d, flex, nullable, 2, out);
}

int sl_codec_read_bytes(struct sl_codec_decoder *d, bool flex, bool nullable,
                        struct sl_codec_slice *out)
{
    return read_slice(d, flex, nullable, 4, out);
}

int sl_codec_read_records(struct sl_codec_decoder *d, bool flex, bool nullable,
                          struct sl_codec_records *out)
{
    struct sl_codec_slice s;
    int rc = read_slice(d, flex, nullable, 4, &s);
    if (rc != SL_CODEC_OK)
        return rc;
    *out = (struct sl_codec_records){.ptr = s.ptr, .len = s.len};
    return SL_CODEC_OK;
}

int sl_codec_read_array_count(struct sl_codec_decoder *d, bool flex, bool nullable,
                              uint32_t elem_min_bytes, int32_t *count)
{
    int rc = read_length(d, flex, 4, count);
    if (rc != SL_CODEC_OK)
        return rc;
    if (*count == -1)
        return nullable ? SL_CODEC_OK : SL_CODEC_ERR_NULL_NOT_ALLOWED;
    if ((uint32_t)*count > d->limits->array_len_max)
        return SL_CODEC_ERR_ARRAY_TOO_LONG;
    SL_ASSERT(elem_min_bytes >= 1);
    if ((uint64_t)*count * elem_min_bytes > sl_codec_left(d))
        return SL_CODEC_ERR_COUNT_EXCEEDS_DATA;
    return SL_CODEC_OK;
}

int sl_codec_alloc_array(struct sl_codec_decoder *d, int32_t count, size_t size, void **out)
{
    SL_ASSERT(count >= 0);
    if (count == 0) {
        *out = NULL;
        return SL_CODEC_OK;
    }
    *out = sl_codec_arena_alloc(d->arena, (size_t)count, size);
    return *out ? SL_CODEC_OK : SL_CODEC_ERR_ARENA_EXHAUSTED;
}

int sl_codec_read_tag_count(struct sl_codec_decoder *d, uint32_t *count)
{
    int rc = sl_codec_read_uvarint(d, count);
    if (rc != SL_CODEC_OK)
        return rc;
    /* Each tagged field needs at least a tag byte and a size byte. */
    if ((uint64_t)*count * 2 > sl_codec_left(d))
        return SL_CODEC_ERR_COUNT_EXCEEDS_DATA;
    return SL_CODEC_OK;
}

int sl_codec_read_tag_header(struct sl_codec_decoder *d, uint32_t *tag, uint32_t *size_bytes)
{
    int rc = sl_codec_read_uvarint(d, tag);
    if (rc == SL_CODEC_OK)
        rc = sl_codec_read_uvarint(d, size_bytes);
    if (rc == SL_CODEC_OK && *size_bytes > sl_codec_left(d))
        rc = SL_CODEC_ERR_TRUNCATED;
    return rc;
}

int sl_codec_keep_unknown_tag(struct sl_codec_decoder *d, uint32_t tag, uint32_t size_bytes,
                              uint32_t tag_count, struct sl_codec_tag_raw **list,
                              uint32_t *list_count)
{
    SL_ASSERT(size_bytes <= sl_codec_left(d));
    if (*list == NULL) {
        *list = sl_codec_arena_alloc(d->arena, tag_count, sizeof(**list));
        if (*list == NULL)
            return SL_CODEC_ERR_ARENA_EXHAUSTED;
    }
    SL_ASSERT(*list_count < tag_count);
    (*list)[*list_count].tag = tag;
    (*list)[*list_count].data = (struct sl_codec_slice){d->pos, (int32_t)size_bytes};
    (*list_count)++;
    d->pos += size_bytes;
    return SL_CODEC_OK;
}

uint32_t sl_codec_uvarint_size(uint32_t v)
{
    uint32_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void sl_codec_write_uvarint(struct sl_codec_encoder *e, uint32_t v)
{
    uint8_t *p = sl_codec_reserve(e, sl_codec_uvarint_size(v));
    if (!p)
        return;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p = (uint8_t)v;
}

/* Length prefix of a string/bytes/array; -1 = null. */
static void write_length(struct sl_codec_encoder *e, bool flex, bool nullable, int width,
                         int32_t len)
{
    if (len < -1) {
        sl_codec_fail(e, SL_CODEC_ERR_NEGATIVE_LENGTH);
        return;
    }
    if (len == -1 && !nullable) {
        sl_codec_fail(e, SL_CODEC_ERR_NULL_NOT_ALLOWED);
        return;
    }
    if (flex)
        sl_codec_write_uvarint(e, (uint32_t)len + 1u);
    else if (width == 2) {
        if (len > INT16_MAX) {
            sl_codec_fail(e, SL_CODEC_ERR_VALUE_TOO_LARGE);
            return;
        }
        sl_codec_write_i16(e, (int16_t)len);
    } else
        sl_codec_write_i32(e, len);
}

void sl_codec_write_string(struct sl_codec_encoder *e, bool flex, bool nullable,
                           const struct sl_codec_slice *v)
{
    write_length(e, flex, nullable, 2, v->len);
    if (v->len > 0)
        sl_codec_write_raw(e, v->ptr, (size_t)v->len);
}

void sl_codec_write_bytes(struct sl_codec_encoder *e, bool flex, bool nullable,
                          const struct sl_codec_slice *v)
{
    write_length(e, flex, nullable, 4, v->len);
    if (v->len > 0)
        sl_codec_write_raw(e, v->ptr, (size_t)v->len);
}

static void add_gap(struct sl_codec_encoder *e, const struct sl_codec_segment *seg)
{
    if (e->err != SL_CODEC_OK || seg->len == 0)
        return;
    if (e->gap_count == e->gap_max) {
        sl_codec_fail(e, SL_CODEC_ERR_GAPS_FULL);
        return;
    }
    e->gaps[e->gap_count].offset = e->pos;
    e->gaps[e->gap_count].seg = *seg;
    e->gap_count++;
    e->gap_bytes += seg->len;
}

void sl_codec_write_records(struct sl_codec_encoder *e, bool flex, bool nullable,
                            const struct sl_codec_records *v)
{
    write_length(e, flex, nullable, 4, v->len);
    if (v->len <= 0)
        return;
    if (v->seg_count == 0) {
        struct sl_codec_segment seg = {v->ptr, (uint32_t)v->len, v->owner};
        if (e->gaps)
            add_gap(e, &seg);
        else
            sl_codec_write_raw(e, v->ptr, (size_t)v->len);
        return;
    }
    uint64_t sum = 0;
    for (uint32_t i = 0; i < v->seg_count; i++) {
        sum += v->segs[i].len;
        if (e->gaps)
            add_gap(e, &v->segs[i]);
        else
            sl_codec_write_raw(e, v->segs[i].ptr, v->segs[i].len);
    }
    SL_ASSERT(sum == (uint64_t)v->len);
}

void sl_codec_write_array_count(struct sl_codec_encoder *e, bool flex, bool nullable, int32_t count)
{
    write_length(e, flex, nullable, 4, count);
}

size_t sl_codec_tag_begin(struct sl_codec_encoder *e, uint32_t tag)
{
    sl_codec_write_uvarint(e, tag);
    return e->pos;
}

void sl_codec_tag_end(struct sl_codec_encoder *e, size_t mark)
{
    if (e->err != SL_CODEC_OK)
        return;
    /* Zero-copy gaps inside a tagged value would be shifted by the memmove below. */
    SL_ASSERT(e->gap_count == 0 || e->gaps[e->gap_count - 1].offset <= mark);
    SL_ASSERT(mark <= e->pos);
    size_t size = e->pos - mark;
    if (size > UINT32_MAX) {
        sl_codec_fail(e, SL_CODEC_ERR_VALUE_TOO_LARGE);
        return;
    }
    uint32_t k = sl_codec_uvarint_size((uint32_t)size);
    if (!sl_codec_reserve(e, k))
        return;
    memmove(e->buf + mark + k, e->buf + mark, size);
    size_t end = e->pos;
    e->pos = mark;
    sl_codec_write_uvarint(e, (uint32_t)size);
    e->pos = end;
}

void sl_codec_write_unknown_tags(struct sl_codec_encoder *e, const struct sl_codec_tag_raw *list,
                                 uint32_t count, uint32_t *next, uint64_t below)
{
    while (*next < count && list[*next].tag < below) {
        const struct sl_codec_tag_raw *t = &list[*next];
        sl_codec_write_uvarint(e, t->tag);
        sl_codec_write_uvarint(e, (uint32_t)t->data.len);
        sl_codec_write_raw(e, t->data.ptr, (size_t)t->data.len);
        (*next)++;
    }
}
