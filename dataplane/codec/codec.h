/* Kafka protocol codec: the table of APIs sluice serves, request/response headers, and
 * whole-frame decode/encode. Message bodies are generated (codec_messages.h).
 *
 * Threading: functions are reentrant; all state lives in caller-owned objects used by one
 * thread (a dataplane shard). Nothing here allocates with malloc.
 */
#ifndef SL_CODEC_H
#define SL_CODEC_H

#include "dataplane/codec/codec_messages.h"
#include "dataplane/codec/codec_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One served API and its version range. Bodies are handled through the void pointers
 * as the generated struct sl_codec_<api>_request / _response. */
struct sl_codec_api {
    int16_t api_key;
    const char *name; /* Kafka's name, e.g. "ApiVersions" */
    int16_t min_version;
    int16_t max_version;
    int16_t first_flexible_version; /* -1: no flexible version */
    size_t request_size_bytes;
    size_t response_size_bytes;
    int (*decode_request)(struct sl_codec_decoder *d, int16_t version, void *out);
    void (*encode_request)(struct sl_codec_encoder *e, int16_t version, const void *in);
    int (*decode_response)(struct sl_codec_decoder *d, int16_t version, void *out);
    void (*encode_response)(struct sl_codec_encoder *e, int16_t version, const void *in);
};

/* Generated table, sorted by api_key. */
extern const struct sl_codec_api sl_codec_apis[];
extern const uint32_t sl_codec_api_count;

enum {
    SL_CODEC_API_KEY_API_VERSIONS = 18,
};

struct sl_codec_request_header {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    struct sl_codec_slice client_id;       /* header v1+; -1 = null */
    int8_t header_version;                 /* 1 or 2 (0 only for APIs sluice does not serve) */
    struct sl_codec_tag_raw *unknown_tags; /* header v2 */
    uint32_t unknown_tag_count;
};

struct sl_codec_response_header {
    int32_t correlation_id;
    struct sl_codec_tag_raw *unknown_tags; /* header v1 */
    uint32_t unknown_tag_count;
};

/* A decoded request: header plus body (a struct sl_codec_<api>_request in the arena). */
struct sl_codec_request {
    struct sl_codec_request_header header;
    const struct sl_codec_api *api;
    void *body;
};

/* The served API with @api_key, or NULL. Any thread. */
const struct sl_codec_api *sl_codec_api_find(int16_t api_key);

/* Request header version for (@api, @version): 2 if flexible, else 1. */
int sl_codec_request_header_version(const struct sl_codec_api *api, int16_t version);

/* Response header version: 1 if flexible, else 0; ApiVersions responses always 0 so a
 * client that asked for a version we lack can still read the error. */
int sl_codec_response_header_version(const struct sl_codec_api *api, int16_t version);

/* Request header of @header_version (0: key, version, correlation id; 1: + client_id;
 * 2: + tagged fields) from @d. Returns SL_CODEC_OK or an sl_codec_err. */
int sl_codec_request_header_decode(struct sl_codec_decoder *d, int header_version,
                                   struct sl_codec_request_header *h);
/* Response header of @header_version (0: correlation id; 1: + tagged fields). */
int sl_codec_response_header_decode(struct sl_codec_decoder *d, int header_version,
                                    struct sl_codec_response_header *h);
/* Encoders of the same; errors are sticky in e->err. */
void sl_codec_request_header_encode(struct sl_codec_encoder *e, int header_version,
                                    const struct sl_codec_request_header *h);
void sl_codec_response_header_encode(struct sl_codec_encoder *e, int header_version,
                                     const struct sl_codec_response_header *h);

/* Decode a request frame @buf/@len (after the 4-byte size prefix; not copied, must
 * outlive @out). Body arrays come from @arena. On SL_CODEC_ERR_UNKNOWN_API and
 * SL_CODEC_ERR_UNSUPPORTED_VERSION, out->header has api_key, api_version and
 * correlation_id so the caller can answer. *err_offset (may be NULL) receives the byte
 * offset where decoding stopped. Returns SL_CODEC_OK or an sl_codec_err. */
int sl_codec_decode_request(const uint8_t *buf, size_t len, struct sl_codec_arena *arena,
                            const struct sl_codec_limits *limits, struct sl_codec_request *out,
                            size_t *err_offset);

/* Decode a response frame (after the size prefix) of (@api_key, @version) into
 * @header and a body allocated in @arena (*body). Used by tests and outbound clients. */
int sl_codec_decode_response(const uint8_t *buf, size_t len, int16_t api_key, int16_t version,
                             struct sl_codec_arena *arena, const struct sl_codec_limits *limits,
                             struct sl_codec_response_header *header, void **body,
                             size_t *err_offset);

/* Encode a whole request frame, size prefix included, at hdr->api_version with header
 * version derived from the API (hdr->header_version is ignored). Returns e->err. */
int sl_codec_encode_request(struct sl_codec_encoder *e, const struct sl_codec_request_header *hdr,
                            const void *body);

/* Encode a whole response frame, size prefix included. The prefix counts zero-copy gap
 * bytes too, so with gaps the frame is sl_codec_encoder_chain(). Returns e->err. */
int sl_codec_encode_response(struct sl_codec_encoder *e, int16_t api_key, int16_t version,
                             const struct sl_codec_response_header *hdr, const void *body);

#ifdef __cplusplus
}
#endif

#endif
