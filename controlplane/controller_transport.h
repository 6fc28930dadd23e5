/* The metadata quorum's transport: one TCP listener (a voter's CONTROLLER listener, or a
 * standby's metadata.standby.address) carrying both libraft's connections and controller
 * RPCs, as Kafka's CONTROLLER listener carries raft and BrokerRegistration/Heartbeat.
 *
 * It implements libraft's struct raft_uv_transport. Outbound raft connections are made by
 * an inner raft_uv_tcp transport. Inbound, it accepts itself and reads the first bytes:
 *  - 0x01: libraft's handshake (protocol version 1 as a little-endian u64, the peer's
 *    server id u64, its address length u64 (padded to 8), the address with NUL padding).
 *    The handshake is read exactly, no byte further, and the stream is handed to
 *    libraft's accept callback as its own listener would do;
 *  - 0x00: a controller RPC frame (a big-endian u32 size below 16 MiB): the stream and
 *    the bytes read so far go to `rpc_cb` (controller_rpc_server.h);
 *  - anything else: closed and counted.
 * Connections still in the handshake are bounded (`handshakes_max`); more are closed at
 * once and counted.
 *
 * Threads: the control-plane (libuv loop) thread only, except the stats, which any
 * thread may read.
 */
#ifndef SL_CONTROLLER_TRANSPORT_H
#define SL_CONTROLLER_TRANSPORT_H

#include <raft.h>
#include <raft/uv.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Takes an accepted stream whose first byte was 0. `tcp` was allocated with raft_malloc
 * and is the callee's to uv_close and raft_free; `head` (valid during the call only)
 * holds the `head_len` bytes already read from it. */
typedef void (*sl_ctrl_transport_rpc_cb)(void *arg, uv_tcp_t *tcp, const uint8_t *head,
                                         size_t head_len);

struct sl_ctrl_transport_stats {
    uint64_t raft_accepted;      /* handshakes handed to libraft */
    uint64_t rpc_accepted;       /* connections handed to the RPC server */
    uint64_t bad_handshakes;     /* unknown first byte, bad version or address length */
    uint64_t refused_handshakes; /* over handshakes_max */
};

/* Initializes `t` on `loop`. `bind_address` ("host:port", IPv4 or a resolvable name) is
 * where the listener binds; NULL or "" binds the raft address given to raft_init.
 * Returns 0 or a RAFT_* error. Call before raft_uv_init(io, loop, dir, t). */
int sl_ctrl_transport_init(struct raft_uv_transport *t, uv_loop_t *loop, const char *bind_address,
                           uint32_t handshakes_max, sl_ctrl_transport_rpc_cb rpc_cb, void *rpc_arg);

/* Frees `t` once libraft closed it (the place raft_uv_tcp_close would go). */
void sl_ctrl_transport_free(struct raft_uv_transport *t);

/* Copies the counters. Any thread. */
void sl_ctrl_transport_get_stats(struct raft_uv_transport *t, struct sl_ctrl_transport_stats *out);

#endif
