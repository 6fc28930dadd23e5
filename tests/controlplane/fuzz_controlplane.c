/* Fuzz target for the control plane's untrusted-input decoders: metadata record batches
 * (raft entries), encoded images (snapshots), server.properties text and controller RPC
 * frames (what another node sends on the CONTROLLER listener). The first input byte picks
 * the decoder; mode 3 re-seals the batch CRC so the fuzzer reaches the record decoder and
 * the image rules behind the checksum; modes 4 and 5 fix the frame's size field.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sl_bytes.h"
#include "controlplane/config.h"
#include "controlplane/controller_rpc_codec.h"
#include "controlplane/metadata_image.h"
#include "controlplane/metadata_records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void apply_batch(const uint8_t *data, size_t size)
{
    struct sl_md_image *empty = sl_md_image_new();
    struct sl_md_image *next = NULL;
    char err[256];
    if (empty == NULL) {
        return;
    }
    if (sl_md_image_apply_batch(empty, data, size, &next, err, sizeof(err)) == 0) {
        /* Whatever applied must encode and decode back to the same bytes. */
        void *buf = NULL;
        size_t len = 0;
        if (sl_md_image_encode(next, malloc, &buf, &len) == 0) {
            struct sl_md_image *copy = NULL;
            if (sl_md_image_decode(buf, len, &copy, err, sizeof(err)) != 0) {
                abort();
            }
            void *again = NULL;
            size_t again_len = 0;
            if (sl_md_image_encode(copy, malloc, &again, &again_len) != 0 || again_len != len ||
                memcmp(again, buf, len) != 0) {
                abort();
            }
            free(again);
            sl_md_image_unref(copy);
            free(buf);
        }
        sl_md_image_unref(next);
    }
    sl_md_image_unref(empty);
}

/* A request that decodes must encode, and its encoding must decode and encode to the
 * same bytes (decoding is a function onto the canonical encoding). */
static void rpc_request(const uint8_t *data, size_t size)
{
    static struct sl_md_request req, again;
    static uint8_t first[SL_CTRL_RPC_FRAME_BYTES_MAX], second[SL_CTRL_RPC_FRAME_BYTES_MAX];
    if (sl_ctrl_rpc_decode_request(data, size, &req) != 0) {
        return;
    }
    size_t n = sl_ctrl_rpc_encode_request(&req, 7, first, sizeof(first));
    if (n == 0 || sl_ctrl_rpc_decode_request(first, n, &again) != 0) {
        abort();
    }
    size_t m = sl_ctrl_rpc_encode_request(&again, 7, second, sizeof(second));
    if (m != n || memcmp(first, second, n) != 0) {
        abort();
    }
}

static void with_size_field(const uint8_t *data, size_t size,
                            void (*decode)(const uint8_t *, size_t))
{
    if (size < 4 || size > SL_CTRL_RPC_FRAME_BYTES_MAX) {
        return;
    }
    uint8_t *copy = malloc(size);
    if (copy == NULL) {
        return;
    }
    memcpy(copy, data, size);
    sl_store_be32(copy, (uint32_t)(size - 4));
    decode(copy, size);
    free(copy);
}

static void rpc_response(const uint8_t *data, size_t size)
{
    static struct sl_md_request req;
    uint8_t again[512];
    if (sl_ctrl_rpc_decode_response(data, size, &req) == 0 &&
        sl_ctrl_rpc_encode_response(&req, 1, again, sizeof(again)) == 0) {
        abort(); /* every decodable answer fits an answer buffer */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t mode = data[0] % 6;
    data++;
    size--;
    char err[512];
    switch (mode) {
    case 0:
        apply_batch(data, size);
        break;
    case 1: {
        struct sl_md_image *image = NULL;
        if (sl_md_image_decode(data, size, &image, err, sizeof(err)) == 0) {
            sl_md_image_unref(image);
        }
        break;
    }
    case 2: {
        struct sl_config cfg;
        if (sl_config_init_defaults(&cfg) == 0) {
            if (sl_config_load_text(&cfg, "fuzz.properties", (const char *)data, size, err,
                                    sizeof(err)) == 0) {
                sl_config_validate(&cfg, err, sizeof(err));
            }
            sl_config_free(&cfg);
        }
        break;
    }
    case 3: {
        if (size < SL_MD_BATCH_HEADER_BYTES || size > (1u << 20)) {
            break;
        }
        uint8_t *copy = malloc(size);
        if (copy == NULL) {
            break;
        }
        memcpy(copy, data, size);
        sl_store_be32(copy, SL_MD_BATCH_MAGIC);
        sl_store_be16(copy + 4, SL_MD_BATCH_FORMAT);
        sl_store_be16(copy + 6, 0);
        sl_store_be32(copy + 16, (uint32_t)(size - SL_MD_BATCH_HEADER_BYTES));
        sl_store_be32(copy + 8, sl_md_crc32c(copy + 12, size - 12));
        apply_batch(copy, size);
        free(copy);
        break;
    }
    case 4:
        with_size_field(data, size, rpc_request);
        break;
    case 5:
        with_size_field(data, size, rpc_response);
        break;
    }
    return 0;
}
