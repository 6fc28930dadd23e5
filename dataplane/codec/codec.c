#include "dataplane/codec/codec.h"

const struct sl_codec_api *sl_codec_api_find(int16_t api_key)
{
    /* The table is small and sorted; a binary search keeps the lookup O(log n). */
    uint32_t lo = 0, hi = sl_codec_api_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (sl_codec_apis[mid].api_key == api_key)
            return &sl_codec_apis[mid];
        if (sl_codec_apis[mid].api_key < api_key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool is_flexible(const struct sl_codec_api *api, int16_t version)
{
    return api->first_flexible_version >= 0 && version >= api->first_flexible_version;
}

int sl_codec_request_header_version(const struct sl_codec_api *api, int16_t version)
{
    SL_ASSERT(api != NULL);
    return is_flexible(api, version) ? 2 : 1;
}

int sl_codec_response_header_version(const struct sl_codec_api *api, int16_t version)
{
    SL_ASSERT(api != NULL);
    if (api->api_key == SL_CODEC_API_KEY_API_VERSIONS)
        return 0;
    return is_flexible(api, version) ? 1 : 0;
}

static int read_header_tags(struct sl_codec_decoder *d, struct sl_codec_tag_raw **list,
                            uint32_t *count)
{
    uint32_t n;
    int rc = sl_codec_read_tag_count(d, &n);
    for (uint32_t i = 0; rc == SL_CODEC_OK && i < n; i++) {
        uint32_t tag, size;
        rc = sl_codec_read_tag_header(d, &tag, &size);
        if (rc == SL_CODEC_OK)
            rc = sl_codec_keep_unknown_tag(d, tag, size, n, list, count);
    }
    return rc;
}

static int finish(const struct sl_codec_decoder *d, int rc, size_t *err_offset)
{
    if (rc == SL_CODEC_OK && d->pos != d->end)
        rc = SL_CODEC_ERR_TRAILING_BYTES;
    if (err_offset)
        *err_offset = (size_t)(d->pos - d->start);
    return rc;
}

int sl_codec_request_header_decode(struct sl_codec_decoder *d, int header_version,
                                   struct sl_codec_request_header *h)
{
    SL_ASSERT(header_version >= 0 && header_version <= 2);
    int rc;
    if ((rc = sl_codec_read_i16(d, &h->api_key)) != SL_CODEC_OK ||
        (rc = sl_codec_read_i16(d, &h->api_version)) != SL_CODEC_OK ||
        (rc = sl_codec_read_i32(d, &h->correlation_id)) != SL_CODEC_OK)
        return rc;
    h->header_version = (int8_t)header_version;
    h->client_id = (struct sl_codec_slice){NULL, -1};
    h->unknown_tags = NULL;
    h->unknown_tag_count = 0;
    /* client_id keeps its int16 length even in flexible headers. */
    if (header_version >= 1 &&
        (rc = sl_codec_read_string(d, false, true, &h->client_id)) != SL_CODEC_OK)
        return rc;
    if (header_version >= 2)
        rc = read_header_tags(d, &h->unknown_tags, &h->unknown_tag_count);
    return rc;
}

int sl_codec_response_header_decode(struct sl_codec_decoder *d, int header_version,
                                    struct sl_codec_response_header *h)
{
    SL_ASSERT(header_version >= 0 && header_version <= 1);
    h->unknown_tags = NULL;
    h->unknown_tag_count = 0;
    int rc = sl_codec_read_i32(d, &h->correlation_id);
    if (rc == SL_CODEC_OK && header_version >= 1)
        rc = read_header_tags(d, &h->unknown_tags, &h->unknown_tag_count);
    return rc;
}

/* The header version depends on (api_key, api_version): read those two first. */
static int decode_request_header(struct sl_codec_decoder *d, struct sl_codec_request *out)
{
    struct sl_codec_request_header *h = &out->header;
    if (sl_codec_left(d) < 8)
        return sl_codec_request_header_decode(d, 0, h); /* reports what is there */
    h->api_key = (int16_t)sl_load_be16(d->pos);
    h->api_version = (int16_t)sl_load_be16(d->pos + 2);
    h->correlation_id = (int32_t)sl_load_be32(d->pos + 4);
    out->api = sl_codec_api_find(h->api_key);
    if (out->api == NULL) {
        d->pos += 8;
        return SL_CODEC_ERR_UNKNOWN_API;
    }
    if (h->api_version < out->api->min_version || h->api_version > out->api->max_version) {
        d->pos += 8;
        return SL_CODEC_ERR_UNSUPPORTED_VERSION;
    }
    return sl_codec_request_header_decode(
        d, sl_codec_request_header_version(out->api, h->api_version), h);
}

int sl_codec_decode_request(const uint8_t *buf, size_t len, struct sl_codec_arena *arena,
                            const struct sl_codec_limits *limits, struct sl_codec_request *out,
                            size_t *err_offset)
{
    struct sl_codec_decoder d;
    SL_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    out->header.client_id.len = -1;
    sl_codec_decoder_init(&d, buf, len, arena, limits);
    if (len > limits->frame_size_max) {
        if (err_offset)
            *err_offset = 0;
        return SL_CODEC_ERR_FRAME_TOO_LARGE;
    }
    int rc = decode_request_header(&d, out);
    if (rc != SL_CODEC_OK) {
        if (err_offset)
            *err_offset = (size_t)(d.pos - d.start);
        return rc;
    }
    out->body = sl_codec_arena_alloc(arena, 1, out->api->request_size_bytes);
    if (out->body == NULL)
        return finish(&d, SL_CODEC_ERR_ARENA_EXHAUSTED, err_offset);
    rc = out->api->decode_request(&d, out->header.api_version, out->body);
    return finish(&d, rc, err_offset);
}

int sl_codec_decode_response(const uint8_t *buf, size_t len, int16_t api_key, int16_t version,
                             struct sl_codec_arena *arena, const struct sl_codec_limits *limits,
                             struct sl_codec_response_header *header, void **body,
                             size_t *err_offset)
{
    struct sl_codec_decoder d;
    memset(header, 0, sizeof(*header));
    *body = NULL;
    sl_codec_decoder_init(&d, buf, len, arena, limits);
    const struct sl_codec_api *api = sl_codec_api_find(api_key);
    if (api == NULL)
        return finish(&d, SL_CODEC_ERR_UNKNOWN_API, err_offset);
    if (version < api->min_version || version > api->max_version)
        return finish(&d, SL_CODEC_ERR_UNSUPPORTED_VERSION, err_offset);
    if (len > limits->frame_size_max)
        return finish(&d, SL_CODEC_ERR_FRAME_TOO_LARGE, err_offset);
    int rc =
        sl_codec_response_header_decode(&d, sl_codec_response_header_version(api, version), header);
    if (rc != SL_CODEC_OK)
        return finish(&d, rc, err_offset);
    *body = sl_codec_arena_alloc(arena, 1, api->response_size_bytes);
    if (*body == NULL)
        return finish(&d, SL_CODEC_ERR_ARENA_EXHAUSTED, err_offset);
    rc = api->decode_response(&d, version, *body);
    return finish(&d, rc, err_offset);
}

static void write_header_tags(struct sl_codec_encoder *e, const struct sl_codec_tag_raw *list,
                              uint32_t count)
{
    uint32_t next = 0;
    sl_codec_write_uvarint(e, count);
    sl_codec_write_unknown_tags(e, list, count, &next, UINT64_MAX);
}

void sl_codec_request_header_encode(struct sl_codec_encoder *e, int header_version,
                                    const struct sl_codec_request_header *h)
{
    SL_ASSERT(header_version >= 0 && header_version <= 2);
    sl_codec_write_i16(e, h->api_key);
    sl_codec_write_i16(e, h->api_version);
    sl_codec_write_i32(e, h->correlation_id);
    if (header_version >= 1)
        sl_codec_write_string(e, false, true, &h->client_id);
    if (header_version >= 2)
        write_header_tags(e, h->unknown_tags, h->unknown_tag_count);
}

void sl_codec_response_header_encode(struct sl_codec_encoder *e, int header_version,
                                     const struct sl_codec_response_header *h)
{
    SL_ASSERT(header_version >= 0 && header_version <= 1);
    sl_codec_write_i32(e, h->correlation_id);
    if (header_version >= 1)
        write_header_tags(e, h->unknown_tags, h->unknown_tag_count);
}

/* Patch the 4-byte size prefix reserved at @start once the frame is complete. */
static int finish_frame(struct sl_codec_encoder *e, size_t start, uint64_t gap_bytes_before)
{
    if (e->err != SL_CODEC_OK)
        return e->err;
    uint64_t size = (e->pos - start - 4) + (e->gap_bytes - gap_bytes_before);
    if (size > INT32_MAX) {
        e->err = SL_CODEC_ERR_VALUE_TOO_LARGE;
        return e->err;
    }
    sl_store_be32(e->buf + start, (uint32_t)size);
    return SL_CODEC_OK;
}

int sl_codec_encode_request(struct sl_codec_encoder *e, const struct sl_codec_request_header *hdr,
                            const void *body)
{
    const struct sl_codec_api *api = sl_codec_api_find(hdr->api_key);
    SL_ASSERT(api != NULL);
    SL_ASSERT(hdr->api_version >= api->min_version && hdr->api_version <= api->max_version);
    size_t start = e->pos;
    uint64_t gaps_before = e->gap_bytes;
    sl_codec_reserve(e, 4);
    sl_codec_request_header_encode(e, sl_codec_request_header_version(api, hdr->api_version), hdr);
    api->encode_request(e, hdr->api_version, body);
    return finish_frame(e, start, gaps_before);
}

int sl_codec_encode_response(struct sl_codec_encoder *e, int16_t api_key, int16_t version,
                             const struct sl_codec_response_header *hdr, const void *body)
{
    const struct sl_codec_api *api = sl_codec_api_find(api_key);
    SL_ASSERT(api != NULL);
    SL_ASSERT(version >= api->min_version && version <= api->max_version);
    size_t start = e->pos;
    uint64_t gaps_before = e->gap_bytes;
    sl_codec_reserve(e, 4);
    sl_codec_response_header_encode(e, sl_codec_response_header_version(api, version), hdr);
    api->encode_response(e, version, body);
    return finish_frame(e, start, gaps_before);
}
