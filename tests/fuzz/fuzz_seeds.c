/* Writes seed inputs for the decoder fuzzers into DIR, for every served API, version
 * and a few seeds. "request": the encoded request body (no size prefix). "response":
 * api_key (2 bytes), version (1 byte), then the encoded response body. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/codec_samples.h"

enum {
    SEED_ARENA_BYTES = 1 << 20,
    SEED_OUT_BYTES = 1 << 20,
};

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[2], "request") != 0 && strcmp(argv[2], "response") != 0)) {
        fprintf(stderr, "usage: %s DIR request|response\n", argv[0]);
        return 2;
    }
    const bool response = strcmp(argv[2], "response") == 0;
    uint8_t *mem = malloc(SEED_ARENA_BYTES);
    uint8_t *out = malloc(SEED_OUT_BYTES);
    if (!mem || !out)
        return 1;
    unsigned written = 0;
    for (uint32_t i = 0; i < sl_codec_api_count; i++) {
        const struct sl_codec_api *api = &sl_codec_apis[i];
        for (int16_t v = api->min_version; v <= api->max_version; v++) {
            for (unsigned seed = 2; seed < 5; seed++) {
                struct sl_codec_arena arena;
                sl_codec_arena_init(&arena, mem, SEED_ARENA_BYTES);
                void *body = sl_codec_arena_alloc(
                    &arena, 1, response ? api->response_size_bytes : api->request_size_bytes);
                if (!body || !sl_codec_test_sample(api->api_key, response, v, seed, &arena, body))
                    return 1;
                struct sl_codec_request_header h = {
                    .api_key = api->api_key,
                    .api_version = v,
                    .correlation_id = (int32_t)seed,
                    .client_id = {(const uint8_t *)"seed", 4},
                };
                struct sl_codec_response_header rh = {.correlation_id = (int32_t)seed};
                struct sl_codec_encoder e;
                /* The frame goes to out+1. For responses the 3 selector bytes then
                 * replace the last 3 bytes of the size prefix, so selector + body are
                 * contiguous from out+2. */
                sl_codec_encoder_init(&e, out + 1, SEED_OUT_BYTES - 1, NULL, 0);
                int rc = response ? sl_codec_encode_response(&e, api->api_key, v, &rh, body)
                                  : sl_codec_encode_request(&e, &h, body);
                if (rc != SL_CODEC_OK)
                    return 1;
                size_t skip = 5; /* out[0] unused + size prefix */
                if (response) {
                    sl_store_be16(out + 2, (uint16_t)api->api_key);
                    out[4] = (uint8_t)v;
                    skip = 2;
                }
                char path[4096];
                snprintf(path, sizeof(path), "%s/sample_%d_v%d_s%u", argv[1], api->api_key, v,
                         seed);
                size_t len = e.pos + 1 - skip;
                FILE *f = fopen(path, "wb");
                if (!f || fwrite(out + skip, 1, len, f) != len) {
                    perror(path);
                    return 1;
                }
                fclose(f);
                written++;
            }
        }
    }
    printf("wrote %u seeds\n", written);
    free(mem);
    free(out);
    return 0;
}
