/* The server side of controller RPCs: connections handed over by the controller
 * transport (first byte 0), framed requests (controller_rpc_codec.h) decoded into
 * struct sl_md_request and given to `execute`, one response frame per request.
 *
 * Bounded: at most `connections_max` connections (more are closed at once), at most
 * `inflight_max` requests executing per connection (reading pauses until one answers),
 * frames up to SL_CTRL_RPC_FRAME_BYTES_MAX. A malformed frame closes that connection only
 * and is counted; responses may come in any order (matched by correlation id).
 *
 * Threads: the control-plane (libuv loop) thread only, except get_stats (any thread).
 */
#ifndef SL_CONTROLLER_RPC_SERVER_H
#define SL_CONTROLLER_RPC_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "controlplane/metadata_log.h"

/* Executes `req` (owned by the server) and later completes it through req->on_done,
 * which the server has set; the completion may come from inside this call. */
typedef void (*sl_ctrl_rpc_execute_fn)(void *arg, struct sl_md_request *req);

struct sl_ctrl_rpc_server_options {
    uint32_t connections_max;
    uint32_t inflight_max; /* per connection */
    sl_ctrl_rpc_execute_fn execute;
    void *execute_arg;
};

struct sl_ctrl_rpc_server_stats {
    uint64_t connections_accepted;
    uint64_t connections_refused; /* over connections_max */
    uint64_t bad_frames;          /* each closed its connection */
    uint64_t requests;
    uint64_t responses;
};

struct sl_ctrl_rpc_server;

/* Returns a server on `loop`, or NULL when out of memory. */
struct sl_ctrl_rpc_server *sl_ctrl_rpc_server_new(uv_loop_t *loop,
                                                  const struct sl_ctrl_rpc_server_options *o);

/* Adopts a connection from the transport (see sl_ctrl_transport_rpc_cb): `tcp` becomes
 * the server's; `head` are the bytes already read from it. */
void sl_ctrl_rpc_server_adopt(struct sl_ctrl_rpc_server *s, uv_tcp_t *tcp, const uint8_t *head,
                              size_t head_len);

/* Closes every connection and refuses new ones; the loop must keep running until their
 * handles are closed. Requests still executing complete into the void. */
void sl_ctrl_rpc_server_close(struct sl_ctrl_rpc_server *s);

/* Frees a closed server after its loop has finished (every connection handle closed).
 * NULL is a no-op. */
void sl_ctrl_rpc_server_free(struct sl_ctrl_rpc_server *s);

/* Copies the counters. Any thread. */
void sl_ctrl_rpc_server_get_stats(const struct sl_ctrl_rpc_server *s,
                                  struct sl_ctrl_rpc_server_stats *out);

#endif
