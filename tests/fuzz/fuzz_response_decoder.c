/* libFuzzer target for the response decoders (used by replication: followers decode the
 * leader's Fetch responses). Input: api_key (int16, big-endian), api_version (int8),
 * then a response frame body (after the size prefix). Same invariants as the request
 * target: no out-of-bounds access, and a decodable frame re-encodes stably. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sl_assert.h"
#include "dataplane/codec/codec.h"

enum {
    FUZZ_ARENA_BYTES = 4 << 20,
    FUZZ_OUT_BYTES = 8 << 20,
};

static uint8_t *fuzz_arena_mem;
static uint8_t *fuzz_out;
static uint8_t *fuzz_out2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct sl_codec_limits limits = {10000, 1u << 20};
    if (size < 3)
        return 0;
    const struct sl_codec_api *api = sl_codec_api_find((int16_t)sl_load_be16(data));
    int16_t version = (int16_t)data[2];
    if (api == NULL || version < api->min_version || version > api->max_version)
        return 0;
    if (fuzz_arena_mem == NULL) {
        fuzz_arena_mem = malloc(FUZZ_ARENA_BYTES);
        fuzz_out = malloc(FUZZ_OUT_BYTES);
        fuzz_out2 = malloc(FUZZ_OUT_BYTES);
        SL_ASSERT(fuzz_arena_mem && fuzz_out && fuzz_out2);
    }
    struct sl_codec_arena arena;
    sl_codec_arena_init(&arena, fuzz_arena_mem, FUZZ_ARENA_BYTES);
    struct sl_codec_response_header h;
    void *body;
    size_t err_offset;
    int rc = sl_codec_decode_response(data + 3, size - 3, api->api_key, version, &arena, &limits,
                                      &h, &body, &err_offset);
    SL_ASSERT(err_offset <= size - 3);
    if (rc != SL_CODEC_OK)
        return 0;

    struct sl_codec_encoder e;
    sl_codec_encoder_init(&e, fuzz_out, FUZZ_OUT_BYTES, NULL, 0);
    if (sl_codec_encode_response(&e, api->api_key, version, &h, body) != SL_CODEC_OK)
        return 0;
    size_t len1 = e.pos;
    rc = sl_codec_decode_response(fuzz_out + 4, len1 - 4, api->api_key, version, &arena, &limits,
                                  &h, &body, &err_offset);
    SL_ASSERT(rc == SL_CODEC_OK);
    sl_codec_encoder_init(&e, fuzz_out2, FUZZ_OUT_BYTES, NULL, 0);
    SL_ASSERT(sl_codec_encode_response(&e, api->api_key, version, &h, body) == SL_CODEC_OK);
    SL_ASSERT(e.pos == len1);
    SL_ASSERT(memcmp(fuzz_out, fuzz_out2, len1) == 0);
    return 0;
}
