/* The client side of controller RPCs: sends a struct sl_md_request to a voter's
 * CONTROLLER listener and decodes the answer into the request's result fields. One
 * connection per voter, opened on first use and kept; a broken connection fails every
 * request sent on it (the caller decides whether to retry).
 *
 * Retries, deadlines and the choice of the target are the metadata log's (forwarding);
 * this module only moves frames. Requests in flight are bounded by the caller.
 *
 * Threads: the control-plane (libuv loop) thread only.
 */
#ifndef SL_CONTROLLER_RPC_CLIENT_H
#define SL_CONTROLLER_RPC_CLIENT_H

#include <stdint.h>
#include <uv.h>

#include "controlplane/config.h"
#include "controlplane/metadata_log.h"

/* `status` 0: the answer is in req's result fields. Negative errno: no answer (the
 * connection failed or closed, -ECANCELED when the client closes); req's results are
 * unchanged. Runs on the loop thread, never from inside sl_ctrl_rpc_client_send. */
typedef void (*sl_ctrl_rpc_client_done_fn)(void *arg, struct sl_md_request *req, int status);

struct sl_ctrl_rpc_client;

/* A client that can reach the `voter_count` voters (their CONTROLLER addresses). Returns
 * NULL when out of memory. */
struct sl_ctrl_rpc_client *sl_ctrl_rpc_client_new(uv_loop_t *loop,
                                                  const struct sl_config_voter *voters,
                                                  int voter_count, sl_ctrl_rpc_client_done_fn done,
                                                  void *done_arg);

/* Sends `req` to voter `node_id`. The request must stay valid until `done` runs for it.
 * Returns 0, -ENOENT when node_id is not a voter, -ENOMEM or -EINVAL (not encodable);
 * on error `done` does not run. */
int sl_ctrl_rpc_client_send(struct sl_ctrl_rpc_client *c, int32_t node_id,
                            struct sl_md_request *req);

/* Fails, with -ETIMEDOUT, every connection holding a request whose deadline_ms has
 * passed (a peer that stopped answering without closing). */
void sl_ctrl_rpc_client_expire(struct sl_ctrl_rpc_client *c, int64_t now_ms);

/* Fails, with -ECONNABORTED, the connections to every node but `keep_node_id` that hold
 * requests: a leader elected elsewhere means they went to a node that is gone or no longer
 * leads (a dead host does not always reset its connections). */
void sl_ctrl_rpc_client_fail_others(struct sl_ctrl_rpc_client *c, int32_t keep_node_id);

/* Fails every request in flight with -ECANCELED and closes the connections; the loop must
 * keep running until their handles are closed. */
void sl_ctrl_rpc_client_close(struct sl_ctrl_rpc_client *c);

/* Frees a closed client after its loop has finished. NULL is a no-op. */
void sl_ctrl_rpc_client_free(struct sl_ctrl_rpc_client *c);

#endif
