/* libFuzzer target: any byte string as a request frame body (after the size prefix).
 * Decoding must never read out of bounds or crash; a frame that decodes must re-encode
 * and decode again to the same encoding (the codec is its own inverse). */
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
    if (fuzz_arena_mem == NULL) {
        fuzz_arena_mem = malloc(FUZZ_ARENA_BYTES);
        fuzz_out = malloc(FUZZ_OUT_BYTES);
        fuzz_out2 = malloc(FUZZ_OUT_BYTES);
        SL_ASSERT(fuzz_arena_mem && fuzz_out && fuzz_out2);
    }
    struct sl_codec_arena arena;
    sl_codec_arena_init(&arena, fuzz_arena_mem, FUZZ_ARENA_BYTES);
    struct sl_codec_request req;
    size_t err_offset;
    int rc = sl_codec_decode_request(data, size, &arena, &limits, &req, &err_offset);
    SL_ASSERT(err_offset <= size);
    SL_ASSERT(sl_codec_strerror(rc) != NULL);
    if (rc != SL_CODEC_OK)
        return 0;

    struct sl_codec_encoder e;
    sl_codec_encoder_init(&e, fuzz_out, FUZZ_OUT_BYTES, NULL, 0);
    rc = sl_codec_encode_request(&e, &req.header, req.body);
    if (rc != SL_CODEC_OK)
        return 0; /* e.g. a bool byte other than 0/1 is fine; buffer limits are not bugs */
    size_t len1 = e.pos;

    struct sl_codec_request again;
    rc = sl_codec_decode_request(fuzz_out + 4, len1 - 4, &arena, &limits, &again, &err_offset);
    SL_ASSERT(rc == SL_CODEC_OK);
    sl_codec_encoder_init(&e, fuzz_out2, FUZZ_OUT_BYTES, NULL, 0);
    rc = sl_codec_encode_request(&e, &again.header, again.body);
    SL_ASSERT(rc == SL_CODEC_OK);
    SL_ASSERT(e.pos == len1);
    SL_ASSERT(memcmp(fuzz_out, fuzz_out2, len1) == 0);
    return 0;
}
