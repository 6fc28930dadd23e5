/* The replicated metadata log of one broker: canonical raft over libuv (raft_uv +
 * raft_uv_tcp) in `metadata.log.dir`, the metadata FSM, the controller, and the
 * control-plane thread that runs them.
 *
 * Lifecycle (any single thread): sl_md_log_open -> sl_md_log_start (spawns the
 * control-plane thread) -> ... -> sl_md_log_stop (joins it) -> sl_md_log_close.
 * Open bootstraps a fresh directory with controller.quorum.voters (a single node is a
 * quorum of one) and refuses, with a message naming the problem, a directory that
 * belongs to another node.id, a stored voter set that differs from the configured one,
 * and a corrupt log or snapshot.
 *
 * Requests from other threads: fill a struct sl_md_request, sl_md_log_submit() it (a
 * bounded lock-free MPSC queue plus a uv_async wakeup), then poll
 * sl_md_request_is_done() (or pass `on_done`, which runs on the control-plane thread).
 * The request memory belongs to the submitter and must stay valid until done.
 * Requests are executed by the controller only on the raft leader after it has applied
 * everything committed before its term (a barrier). On any other node they are forwarded
 * to the leader's CONTROLLER listener (controller RPC) and complete with its answer once
 * this node has applied the result; when no controller answers within
 * request_timeout_ms they complete with NOT_CONTROLLER (leader_id -1) or
 * REQUEST_TIMED_OUT. A forwarded request whose answer was lost is sent again, so a
 * non-idempotent one (CreateTopics) may answer TOPIC_ALREADY_EXISTS for its own change.
 *
 * Readers (dataplane shards) read the current image through sl_md_log_publisher().
 */
#ifndef SL_METADATA_LOG_H
#define SL_METADATA_LOG_H

#include <raft.h>
#include <stdbool.h>
#include <stdint.h>

#include "controlplane/config.h"
#include "controlplane/controller.h"
#include "controlplane/metadata_image.h"
#include "controlplane/metadata_publisher.h"

struct sl_md_log_options {
    int32_t node_id;
    bool voter; /* process.roles has controller */
    char dir[4096];
    /* raft address of this node ("host:port"); bind_address is used when the listener
     * binds a wildcard host. */
    char address[SL_CONFIG_HOST_BYTES_MAX + 8];
    char bind_address[SL_CONFIG_HOST_BYTES_MAX + 8];
    int voter_count;
    struct sl_config_voter voters[SL_CONFIG_VOTERS_MAX];
    unsigned election_timeout_ms;
    unsigned heartbeat_ms;
    unsigned snapshot_threshold;
    unsigned snapshot_trailing;
    uint32_t submit_queue_capacity;
    uint32_t reader_count; /* publisher slots (dataplane shards) */
    uint32_t brokers_max;  /* bound of the liveness table */
    /* Controller RPC bounds: inbound connections (and handshakes) on the CONTROLLER
     * listener, requests in flight per inbound connection and requests this node
     * forwards at once. */
    uint32_t rpc_connections_max;
    uint32_t rpc_inflight_max;
    /* A forwarded request gives up after this long (FORWARD_TIMEOUT_ELECTIONS election
     * timeouts): NOT_CONTROLLER when no controller was reachable, else REQUEST_TIMED_OUT. */
    uint32_t request_timeout_ms;
    struct sl_controller_settings settings;
};

/* Fills options from a validated configuration; `reader_count` is the number of
 * dataplane shards that will read images. Returns 0 or -EINVAL (err says why, e.g. a
 * broker-only node without metadata.standby.address). */
int sl_md_log_options_from_config(const struct sl_config *cfg, uint32_t reader_count,
                                  struct sl_md_log_options *out, char *err, size_t err_size);

/* A broker-only node (voter = false) opens its log without bootstrapping and waits until
 * the active controller adds it as a standby (its REGISTER_BROKER with
 * register_standby_address, or SL_MD_REQUEST_ADD_STANDBY); from then on it replicates and
 * applies the log like a voter but does not vote. */

enum sl_md_request_type {
    SL_MD_REQUEST_CREATE_TOPIC = 1,
    SL_MD_REQUEST_DELETE_TOPIC,
    SL_MD_REQUEST_CREATE_PARTITIONS,
    SL_MD_REQUEST_ALTER_TOPIC_CONFIG,
    SL_MD_REQUEST_REGISTER_BROKER,
    SL_MD_REQUEST_HEARTBEAT,
    SL_MD_REQUEST_ALTER_PARTITION,
    SL_MD_REQUEST_ELECT_PREFERRED,
    SL_MD_REQUEST_REBALANCE_LEADERS,
    SL_MD_REQUEST_ALTER_BROKER_CONFIG,
    SL_MD_REQUEST_UNREGISTER_BROKER,
    SL_MD_REQUEST_ADD_STANDBY,
    SL_MD_REQUEST_ALTER_CONFIGS, /* one resource, all changes or none; validate_only honoured */
};

struct sl_md_request {
    enum sl_md_request_type type;
    union {
        struct sl_controller_create_topic_request create_topic;
        char delete_topic[SL_MD_TOPIC_NAME_BYTES_MAX];
        struct {
            char topic[SL_MD_TOPIC_NAME_BYTES_MAX];
            int32_t total_count;
        } create_partitions;
        struct {
            char topic[SL_MD_TOPIC_NAME_BYTES_MAX];
            char key[SL_MD_CONFIG_KEY_BYTES_MAX];
            bool has_value;
            char value[SL_MD_CONFIG_VALUE_BYTES_MAX];
        } alter_topic_config;
        struct sl_controller_register_broker_request register_broker;
        struct {
            int32_t broker_id;
            int64_t broker_epoch;
            bool want_fence;
        } heartbeat;
        struct sl_controller_alter_partition_request alter_partition;
        struct {
            char topic[SL_MD_TOPIC_NAME_BYTES_MAX];
            int32_t partition;
        } elect_preferred;
        struct {
            char broker[16]; /* decimal id, or "" for the cluster default */
            char key[SL_MD_CONFIG_KEY_BYTES_MAX];
            bool has_value;
            char value[SL_MD_CONFIG_VALUE_BYTES_MAX];
        } alter_broker_config;
        int32_t unregister_broker_id;
        struct sl_controller_alter_configs_request alter_configs;
        struct {
            int32_t node_id;
            char address[SL_CONFIG_HOST_BYTES_MAX + 8]; /* its metadata.standby.address */
        } add_standby;
    };
    /* REGISTER_BROKER of a broker-only node: its metadata.standby.address ("" for a
     * voter). Once the registration is recorded the active controller also adds the node
     * to the metadata quorum as a standby (idempotent), so it starts receiving the log. */
    char register_standby_address[SL_CONFIG_HOST_BYTES_MAX + 8];

    /* Optional; runs on the control-plane thread right after the results are set. */
    void (*on_done)(struct sl_md_request *req, void *arg);
    void *on_done_arg;

    /* Results, valid once sl_md_request_is_done() returns true. */
    int error_code; /* kafka_error_codes.h */
    char error_message[256];
    int64_t broker_epoch;       /* REGISTER_BROKER */
    struct sl_md_uuid topic_id; /* CREATE_TOPIC */
    int32_t partition_epoch;    /* ALTER_PARTITION */
    int32_t leader_id;          /* NOT_CONTROLLER: the known leader or -1 */
    int32_t leaders_moved;      /* REBALANCE_LEADERS */
    /* The metadata log index whose image holds the request's effect (0 when it failed).
     * A request completes only once this node applied it, or its deadline passed. */
    uint64_t applied_index;

    /* Private to the metadata log. */
    uint32_t done;
    struct raft_apply apply;
    struct raft_change change;
    struct sl_md_request *next; /* the one list the request is on */
    int64_t deadline_ms;        /* forwarding gives up at this uv_now() */
    uint32_t correlation_id;    /* of its controller RPC while forwarded */
    int32_t forward_target;     /* node id it was sent to, -1 when none yet */
    int32_t forward_hint;       /* leader named by the last NOT_CONTROLLER answer */
    bool forward_sent;          /* reached a node at least once */
};

struct sl_md_log;

/* Opens (and on first use bootstraps) the metadata log. Any thread; the log is not
 * running until sl_md_log_start. Returns 0 or a negative errno with err naming the
 * problem. */
int sl_md_log_open(const struct sl_md_log_options *options, struct sl_md_log **out, char *err,
                   size_t err_size);
/* Spawns the control-plane thread. Returns 0 or -errno. */
int sl_md_log_start(struct sl_md_log *log);
/* Asks the control-plane thread to close raft and waits for it; queued requests complete
 * with NOT_CONTROLLER. Any thread but the control-plane thread. */
void sl_md_log_stop(struct sl_md_log *log);
/* Frees a stopped (or never started) log. */
void sl_md_log_close(struct sl_md_log *log);

/* Queues a request. Any thread. Returns 0, -EAGAIN when the queue is full, or
 * -ESHUTDOWN once sl_md_log_stop has begun (submitting concurrently with stop is a caller
 * bug: such a request is answered NOT_CONTROLLER at best). */
int sl_md_log_submit(struct sl_md_log *log, struct sl_md_request *req);
/* True once the request's results are set (acquire ordering). Any thread. */
bool sl_md_request_is_done(const struct sl_md_request *req);

/* Current published image source for reader threads (see metadata_publisher.h). */
struct sl_md_publisher *sl_md_log_publisher(struct sl_md_log *log);
/* True when this node is the active controller and ready for requests. Any thread. */
bool sl_md_log_is_controller(const struct sl_md_log *log);
/* The known raft leader's node id, or -1. Any thread. */
int32_t sl_md_log_leader_id(const struct sl_md_log *log);
/* This node's broker lifecycle, on the control-plane thread (Kafka's broker lifecycle
 * manager): registers `registration` (a REGISTER_BROKER request, copied; for a broker-only
 * node with register_standby_address set), retrying every 200 ms until the active
 * controller accepts it, then heartbeats every `heartbeat_interval_ms` (the first one
 * unfences the broker), and registers again when a heartbeat says the registration is
 * gone. Requests are forwarded like any other. Call once, after sl_md_log_start; any
 * thread. Returns 0, -EINVAL (not a registration, interval 0) or -EALREADY. */
int sl_md_log_broker_start(struct sl_md_log *log, const struct sl_md_request *registration,
                           uint32_t heartbeat_interval_ms);
/* The registration's broker epoch, or -1 before the controller accepted it. Any thread. */
int64_t sl_md_log_broker_epoch(const struct sl_md_log *log);
/* True once a heartbeat with the current registration was accepted (the broker is
 * unfenced). Any thread. */
bool sl_md_log_broker_unfenced(const struct sl_md_log *log);
/* The error code of the last registration or heartbeat answer (0 when it succeeded), for
 * telling an operator what registration waits for. Any thread. */
int sl_md_log_broker_last_error(const struct sl_md_log *log);

/* Controller RPC counters of this node (monotonic since open). */
struct sl_md_log_rpc_stats {
    uint64_t raft_connections;    /* inbound raft handshakes handed to libraft */
    uint64_t rpc_connections;     /* inbound controller RPC connections served */
    uint64_t refused_connections; /* over controlplane.rpc.connections.max */
    uint64_t bad_handshakes;      /* inbound connections with an unknown first byte */
    uint64_t bad_frames;          /* malformed RPC frames (each closed its connection) */
    uint64_t requests_served;     /* RPC requests executed for other nodes */
    uint64_t requests_forwarded;  /* requests this node sent to the active controller */
    uint64_t forward_retries;     /* resent after a failed link or a NOT_CONTROLLER */
    uint64_t forward_timeouts;    /* given up after request_timeout_ms */
};
/* Copies the counters. Any thread. */
void sl_md_log_get_rpc_stats(const struct sl_md_log *log, struct sl_md_log_rpc_stats *out);

/* NULL while healthy; otherwise why this node stopped applying the log. Any thread. */
const char *sl_md_log_error(const struct sl_md_log *log);

#endif
