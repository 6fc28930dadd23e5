/* Controller RPC frames: the private encoding of a struct sl_md_request (what the active
 * controller executes) and of its results, exchanged on a voter's CONTROLLER listener.
 *
 *     size u32 | format u16 (1) | kind u8 (1 request, 2 response) | reserved u8 (0)
 *     | correlation_id u32 | body
 *
 * `size` counts the bytes after itself and is below 16 MiB, so a frame's first byte is 0:
 * that tells it apart from libraft's handshake (which starts with the protocol version 1
 * as a little-endian u64) on the shared listener. All integers are big-endian; strings
 * are u16 length + bytes (no NUL). See docs/controlplane.md for the bodies.
 *
 * Pure functions; any thread may call them.
 */
#ifndef SL_CONTROLLER_RPC_CODEC_H
#define SL_CONTROLLER_RPC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "controlplane/metadata_log.h"

#define SL_CTRL_RPC_FORMAT 1
/* size + format + kind + reserved + correlation id */
#define SL_CTRL_RPC_HEADER_BYTES 12
/* Far above the largest request (a CreateTopics with every config set is ~75 KiB) and
 * below 16 MiB, so the first byte of a frame is always 0. */
#define SL_CTRL_RPC_FRAME_BYTES_MAX (256u * 1024u)

enum sl_ctrl_rpc_kind {
    SL_CTRL_RPC_REQUEST = 1,
    SL_CTRL_RPC_RESPONSE = 2,
};

/* Encodes `req`'s type and arguments as a request frame into buf. Returns the frame size,
 * or 0 when it does not fit in `cap` bytes or the request is not encodable (unknown type,
 * an over-long string). */
size_t sl_ctrl_rpc_encode_request(const struct sl_md_request *req, uint32_t correlation_id,
                                  uint8_t *buf, size_t cap);

/* Encodes `req`'s results (error code, message, epochs, ids, applied index) as a response
 * frame into buf. Returns the frame size, or 0 when it does not fit. */
size_t sl_ctrl_rpc_encode_response(const struct sl_md_request *req, uint32_t correlation_id,
                                   uint8_t *buf, size_t cap);

/* Checks a frame's header: `frame` points at the size field, `len` is 4 + size. On
 * success sets *kind and *correlation_id and returns 0; -EBADMSG for a wrong size, format,
 * kind or reserved byte. */
int sl_ctrl_rpc_decode_header(const uint8_t *frame, size_t len, enum sl_ctrl_rpc_kind *kind,
                              uint32_t *correlation_id);

/* Decodes a whole request frame (header checked too) into *out, which is zeroed first:
 * type and arguments only. Returns 0, or -EBADMSG for any malformed input (unknown type,
 * strings too long for their field or holding NUL, counts above the bounds, trailing
 * bytes). Never reads outside [frame, frame + len). */
int sl_ctrl_rpc_decode_request(const uint8_t *frame, size_t len, struct sl_md_request *out);

/* Decodes a whole response frame into the result fields of *req (its type and arguments
 * are left alone). Returns 0 or -EBADMSG. */
int sl_ctrl_rpc_decode_response(const uint8_t *frame, size_t len, struct sl_md_request *req);

#endif
