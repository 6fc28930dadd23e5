/* Writes seed inputs for the request-decoder fuzzer into DIR: the encoded body (no
 * size prefix) of a sample request for every served API, version and a few seeds. */
#include <stdio.h>
#include <stdlib.h>

#include "dataplane/codec/codec_samples.h"

enum {
    SEED_ARENA_BYTES = 1 << 20,
    SEED_OUT_BYTES = 1 << 20,
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
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
                void *body = sl_codec_arena_alloc(&arena, 1, api->request_size_bytes);
                if (!body || !sl_codec_test_sample(api->api_key, false, v, seed, &arena, body))
                    return 1;
                struct sl_codec_request_header h = {
                    .api_key = api->api_key,
                    .api_version = v,
                    .correlation_id = (int32_t)seed,
                    .client_id = {(const uint8_t *)"seed", 4},
                };
                struct sl_codec_encoder e;
                sl_codec_encoder_init(&e, out, SEED_OUT_BYTES, NULL, 0);
                if (sl_codec_encode_request(&e, &h, body) != SL_CODEC_OK)
                    return 1;
                char path[4096];
                snprintf(path, sizeof(path), "%s/sample_%d_v%d_s%u", argv[1], api->api_key, v,
                         seed);
                FILE *f = fopen(path, "wb");
                if (!f || fwrite(out + 4, 1, e.pos - 4, f) != e.pos - 4) {
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
