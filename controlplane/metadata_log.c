#include "controlplane/metadata_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <raft/uv.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/sl_assert.h"
#include "common/sl_compiler.h"
#include "controlplane/controller_rpc_client.h"
#include "controlplane/controller_rpc_server.h"
#include "controlplane/controller_transport.h"
#include "controlplane/metadata_fsm.h"
#include "controlplane/mpsc_queue.h"

/* Controller housekeeping (leadership changes, session checks) runs this often. */
#define TICK_MS 50
/* Say so on stderr when no leader has been known for this many election timeouts. */
#define NO_LEADER_WARN_TIMEOUTS 5
/* A forwarded request gives up after this many election timeouts without an answer. */
#define FORWARD_TIMEOUT_ELECTIONS 5

/* Pause before registering again after a refusal, or before a failed heartbeat is resent
 * (when the heartbeat interval is longer). */
#define BROKER_RETRY_MS 200

/* A FIFO of requests linked through their private `next`. */
struct request_list {
    struct sl_md_request *head, *tail;
};

/* This node's broker registration and heartbeats, run on the control-plane thread so a
 * busy main thread never lets the session lapse (Kafka's broker lifecycle manager). */
struct broker_lifecycle {
    struct sl_md_request registration; /* template, written before start_requested */
    uint32_t interval_ms;
    _Atomic bool start_requested;
    _Atomic int64_t epoch; /* -1 until registered */
    _Atomic bool unfenced;
    _Atomic int last_error;
    /* Control-plane thread only. */
    bool active;
    bool in_flight;
    uint64_t next_ms;
    struct sl_md_request req; /* the registration or heartbeat in flight */
};

struct sl_md_log {
    struct sl_md_log_options options;
    uv_loop_t loop;
    uv_async_t wakeup;
    uv_timer_t tick;
    uv_check_t after_events; /* completes forwarded requests once applied here */
    struct sl_ctrl_rpc_server *rpc_server;
    struct sl_ctrl_rpc_client *rpc_client;
    struct raft_uv_transport transport;
    struct raft_io io;
    struct raft raft;
    struct sl_md_fsm fsm;
    struct sl_md_publisher *publisher;
    struct sl_mpsc_queue *queue;
    struct sl_controller_liveness liveness;
    pthread_t thread;
    bool thread_started;
    bool raft_initialized;
    bool closing;
    _Atomic bool stop_requested;
    _Atomic bool is_controller;
    _Atomic int32_t leader_id;
    _Atomic bool failed;
    char error[512];

    /* Control-plane thread only. */
    bool was_leader;
    bool leader_ready;
    struct raft_barrier barrier;
    bool barrier_pending;
    raft_term ready_term; /* the term the barrier was proposed in */
    uint32_t inflight;
    struct sl_md_image *pending_image; /* committed image + in-flight proposals */
    uint64_t no_leader_since_ms;
    uint64_t last_warning_ms;

    /* Forwarding (control-plane thread only). Every request that is neither executing
     * here nor in the submit queue is on exactly one of these lists or sent on an RPC
     * link; forward_count counts them all and is bounded by rpc_inflight_max. */
    uint32_t forward_count;
    struct request_list parked;   /* waiting for the next tick to be (re)sent */
    struct request_list applying; /* answered; waiting until this node applied it */
    uint32_t voter_rotation;      /* standbys without a leader ask the voters in turn */
    uint64_t forwarded;           /* counters, relaxed atomics (read by other threads) */
    uint64_t forward_retries;
    uint64_t forward_timeouts;
    /* Raft allows one membership change at a time: standby additions queue here. */
    struct request_list membership;
    bool membership_busy;
    bool membership_running;

    struct broker_lifecycle broker;
};

struct internal_apply {
    struct raft_apply req;
    struct sl_md_log *log;
};

static void set_error(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t err_size, const char *fmt, ...)
{
    if (err == NULL || err_size == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

/* ---- options ---- */

int sl_md_log_options_from_config(const struct sl_config *cfg, uint32_t reader_count,
                                  struct sl_md_log_options *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    out->node_id = (int32_t)sl_config_int(cfg, SL_CONFIG_NODE_ID);
    out->voter = sl_config_has_role(cfg, "controller");
    if (sl_config_metadata_log_dir(cfg, out->dir, sizeof(out->dir)) != 0) {
        set_error(err, err_size, "metadata.log.dir is too long");
        return -EINVAL;
    }
    out->voter_count =
        sl_config_parse_voters(sl_config_string(cfg, SL_CONFIG_CONTROLLER_QUORUM_VOTERS),
                               out->voters, SL_CONFIG_VOTERS_MAX, err, err_size);
    if (out->voter_count < 0) {
        return out->voter_count;
    }
    for (int i = 0; i < out->voter_count; i++) {
        if (out->voters[i].id == out->node_id) {
            snprintf(out->address, sizeof(out->address), "%s:%u", out->voters[i].host,
                     out->voters[i].port);
        }
    }
    if (!out->voter) {
        const char *standby = sl_config_string(cfg, SL_CONFIG_METADATA_STANDBY_ADDRESS);
        if (standby == NULL || strchr(standby, ':') == NULL) {
            set_error(err, err_size,
                      "node %d is broker-only: set metadata.standby.address (host:port) so "
                      "the controller quorum can replicate the metadata log to it",
                      out->node_id);
            return -EINVAL;
        }
        snprintf(out->address, sizeof(out->address), "%s", standby);
    }
    if (out->address[0] == '\0') {
        set_error(err, err_size, "node.id %d is not in controller.quorum.voters", out->node_id);
        return -EINVAL;
    }
    struct sl_config_listener listeners[SL_CONFIG_LISTENERS_MAX];
    int n = sl_config_parse_listeners("listeners", sl_config_string(cfg, SL_CONFIG_LISTENERS),
                                      listeners, SL_CONFIG_LISTENERS_MAX, err, err_size);
    const char *names = sl_config_string(cfg, SL_CONFIG_CONTROLLER_LISTENER_NAMES);
    size_t first_len = strcspn(names, ",");
    for (int i = 0; i < n; i++) {
        if (strlen(listeners[i].name) == first_len &&
            strncmp(listeners[i].name, names, first_len) == 0 &&
            (listeners[i].host[0] == '\0' || strcmp(listeners[i].host, "0.0.0.0") == 0)) {
            snprintf(out->bind_address, sizeof(out->bind_address), "0.0.0.0:%u", listeners[i].port);
        }
    }
    out->election_timeout_ms =
        (unsigned)sl_config_int(cfg, SL_CONFIG_CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS);
    out->heartbeat_ms = (unsigned)sl_config_int(cfg, SL_CONFIG_CONTROLPLANE_QUORUM_HEARTBEAT_MS);
    out->snapshot_threshold =
        (unsigned)sl_config_int(cfg, SL_CONFIG_METADATA_SNAPSHOT_INTERVAL_ENTRIES);
    out->snapshot_trailing =
        (unsigned)sl_config_int(cfg, SL_CONFIG_METADATA_SNAPSHOT_TRAILING_ENTRIES);
    out->submit_queue_capacity =
        (uint32_t)sl_config_int(cfg, SL_CONFIG_CONTROLPLANE_SUBMIT_QUEUE_CAPACITY);
    out->reader_count = reader_count;
    out->brokers_max = (uint32_t)sl_config_int(cfg, SL_CONFIG_CONTROLPLANE_BROKERS_MAX);
    out->rpc_connections_max =
        (uint32_t)sl_config_int(cfg, SL_CONFIG_CONTROLPLANE_RPC_CONNECTIONS_MAX);
    out->rpc_inflight_max = (uint32_t)sl_config_int(cfg, SL_CONFIG_CONTROLPLANE_RPC_INFLIGHT_MAX);
    out->request_timeout_ms = out->election_timeout_ms * FORWARD_TIMEOUT_ELECTIONS;
    sl_controller_settings_from_config(cfg, &out->settings);
    return 0;
}

/* ---- node directory ---- */

static int mkdir_p(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

/* meta.properties names the node a metadata directory belongs to, so a directory copied
 * or mounted on the wrong broker is refused instead of silently joining as another node. */
static int check_node_identity(const struct sl_md_log_options *o, char *err, size_t err_size)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/meta.properties", o->dir);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        long long stored = -1;
        char line[256];
        while (fgets(line, sizeof(line), f) != NULL) {
            sscanf(line, "node.id=%lld", &stored);
        }
        fclose(f);
        if (stored != o->node_id) {
            set_error(err, err_size,
                      "metadata.log.dir '%s' belongs to node.id %lld, not %d; point this broker "
                      "at its own directory",
                      o->dir, stored, o->node_id);
            return -EINVAL;
        }
        return 0;
    }
    char tmp[4210];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL) {
        int rc = -errno;
        set_error(err, err_size, "cannot create '%s': %s", tmp, strerror(-rc));
        return rc;
    }
    fprintf(f,
            "# written by sluiced; identifies the node owning this metadata log\n"
            "version=1\nnode.id=%d\n",
            o->node_id);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        int rc = -errno;
        fclose(f);
        set_error(err, err_size, "cannot write '%s': %s", tmp, strerror(-rc));
        return rc;
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        int rc = -errno;
        set_error(err, err_size, "cannot rename '%s': %s", tmp, strerror(-rc));
        return rc;
    }
    return 0;
}

static void describe_voters(const struct raft_configuration *conf, char *out, size_t out_size)
{
    size_t o = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < conf->n && o < out_size; i++) {
        int n = snprintf(out + o, out_size - o, "%s%llu@%s%s", i ? "," : "", conf->servers[i].id,
                         conf->servers[i].address,
                         conf->servers[i].role == RAFT_VOTER ? "" : "(non-voter)");
        o += n > 0 ? (size_t)n : 0;
    }
}

/* The stored voter set must be the configured one: a voter list edited in
 * server.properties alone would otherwise describe a different cluster than the log. */
static int check_voters(struct sl_md_log *log, char *err, size_t err_size)
{
    const struct raft_configuration *conf = &log->raft.configuration;
    const struct sl_md_log_options *o = &log->options;
    if (!o->voter && conf->n == 0) {
        return 0; /* a standby that has not been added yet knows no configuration */
    }
    bool same = true;
    unsigned stored_voters = 0;
    for (unsigned i = 0; i < conf->n; i++) {
        if (conf->servers[i].role != RAFT_VOTER) {
            continue;
        }
        stored_voters++;
        bool found = false;
        for (int k = 0; k < o->voter_count; k++) {
            char address[SL_CONFIG_HOST_BYTES_MAX + 8];
            snprintf(address, sizeof(address), "%s:%u", o->voters[k].host, o->voters[k].port);
            if ((raft_id)o->voters[k].id == conf->servers[i].id &&
                strcmp(address, conf->servers[i].address) == 0) {
                found = true;
            }
        }
        same = same && found;
    }
    if (same && stored_voters == (unsigned)o->voter_count) {
        return 0;
    }
    char stored[1024];
    describe_voters(conf, stored, sizeof(stored));
    char configured[1024];
    size_t off = 0;
    configured[0] = '\0';
    for (int k = 0; k < o->voter_count && off < sizeof(configured); k++) {
        int n = snprintf(configured + off, sizeof(configured) - off, "%s%d@%s:%u", k ? "," : "",
                         o->voters[k].id, o->voters[k].host, o->voters[k].port);
        off += n > 0 ? (size_t)n : 0;
    }
    set_error(err, err_size,
              "the metadata log in '%s' has the voter set %s but controller.quorum.voters is "
              "%s; the voter set of an existing cluster cannot be changed by editing the "
              "configuration",
              o->dir, stored, configured);
    return -EINVAL;
}

/* ---- completion ---- */

static struct sl_md_request *request_of(struct raft_apply *apply)
{
    return (struct sl_md_request *)((char *)apply - offsetof(struct sl_md_request, apply));
}

static void complete(struct sl_md_request *req, int code)
{
    req->error_code = code;
    if (code != SL_KAFKA_NONE) {
        req->applied_index = 0;
    }
    /* Read before `done`: a submitter that polls may free the request right after it; one
     * that passed on_done may free it inside on_done. */
    void (*on_done)(struct sl_md_request *, void *) = req->on_done;
    void *arg = req->on_done_arg;
    __atomic_store_n(&req->done, 1, __ATOMIC_RELEASE);
    if (on_done != NULL) {
        on_done(req, arg);
    }
}

static void list_push(struct request_list *l, struct sl_md_request *req)
{
    req->next = NULL;
    if (l->tail != NULL) {
        l->tail->next = req;
    } else {
        l->head = req;
    }
    l->tail = req;
}

static struct sl_md_request *list_pop(struct request_list *l)
{
    struct sl_md_request *req = l->head;
    if (req != NULL) {
        l->head = req->next;
        if (l->head == NULL) {
            l->tail = NULL;
        }
        req->next = NULL;
    }
    return req;
}

/* A broker-only node's registration also makes it a standby of the quorum. */
static bool registers_standby(const struct sl_md_request *req)
{
    return req->type == SL_MD_REQUEST_REGISTER_BROKER && req->register_standby_address[0] != '\0';
}

static void membership_enqueue(struct sl_md_log *log, struct sl_md_request *req);

bool sl_md_request_is_done(const struct sl_md_request *req)
{
    return __atomic_load_n(&req->done, __ATOMIC_ACQUIRE) != 0;
}

static void not_controller(struct sl_md_log *log, struct sl_md_request *req, const char *why)
{
    req->leader_id = atomic_load(&log->leader_id);
    snprintf(req->error_message, sizeof(req->error_message), "%s", why);
    complete(req, SL_KAFKA_NOT_CONTROLLER);
}

static void drop_pending_image(struct sl_md_log *log)
{
    sl_md_image_unref(log->pending_image);
    log->pending_image = NULL;
}

static void proposal_finished(struct sl_md_log *log, int status, void *result, char *message,
                              size_t message_size, int *code)
{
    SL_ASSERT(log->inflight > 0);
    log->inflight--;
    int rc = status == 0 ? sl_md_fsm_apply_result(result) : 0;
    if (status != 0) {
        *code = SL_KAFKA_NOT_CONTROLLER;
        set_error(message, message_size, "leadership changed before the change committed (%s)",
                  raft_strerror(status));
    } else if (rc != 0) {
        *code = SL_KAFKA_UNKNOWN_SERVER_ERROR;
        set_error(message, message_size, "the change no longer fits the metadata (%s); retry",
                  strerror(-rc));
    } else {
        *code = SL_KAFKA_NONE;
    }
    /* After a failure the controller's view may hold changes that never happened. */
    if (*code != SL_KAFKA_NONE || log->inflight == 0) {
        drop_pending_image(log);
    }
}

static void request_applied(struct raft_apply *apply, int status, void *result)
{
    struct sl_md_request *req = request_of(apply);
    struct sl_md_log *log = apply->data;
    int code;
    proposal_finished(log, status, result, req->error_message, sizeof(req->error_message), &code);
    if (code == SL_KAFKA_NOT_CONTROLLER) {
        req->leader_id = atomic_load(&log->leader_id);
    }
    if (code == SL_KAFKA_NONE && registers_standby(req)) {
        membership_enqueue(log, req);
        return;
    }
    complete(req, code);
}

static void internal_applied(struct raft_apply *apply, int status, void *result)
{
    struct internal_apply *ia = (struct internal_apply *)apply;
    char message[128];
    int code;
    proposal_finished(ia->log, status, result, message, sizeof(message), &code);
    free(ia);
}

/* Proposes the batch; on success the controller's view becomes the batch's draft. */
static int propose(struct sl_md_log *log, struct sl_controller_batch *batch,
                   struct raft_apply *apply, raft_apply_cb cb)
{
    struct raft_buffer buf;
    if (sl_md_fsm_encode_entry(batch->records, batch->count, &buf) != 0) {
        return RAFT_NOMEM;
    }
    apply->data = log;
    int rc = raft_apply(&log->raft, apply, &buf, 1, cb);
    if (rc != 0) {
        raft_free(buf.base);
        return rc;
    }
    log->inflight++;
    drop_pending_image(log);
    sl_md_image_seal(batch->draft);
    log->pending_image = sl_md_image_ref(batch->draft);
    return 0;
}

static const struct sl_md_image *controller_view(struct sl_md_log *log)
{
    return log->pending_image != NULL ? log->pending_image : log->fsm.image;
}

static void random_uuid(struct sl_md_uuid *u)
{
    static const struct sl_md_uuid zero;
    do {
        if (getrandom(u->bytes, sizeof(u->bytes), 0) != sizeof(u->bytes)) {
            /* getrandom on 16 bytes does not fail short; fall back defensively. */
            for (size_t i = 0; i < sizeof(u->bytes); i++) {
                u->bytes[i] = (uint8_t)rand();
            }
        }
    } while (memcmp(u, &zero, sizeof(zero)) == 0);
    u->bytes[6] = (uint8_t)((u->bytes[6] & 0x0f) | 0x40); /* version 4 */
    u->bytes[8] = (uint8_t)((u->bytes[8] & 0x3f) | 0x80); /* variant */
}

static int execute(struct sl_md_log *log, struct sl_controller_batch *b, struct sl_md_request *req)
{
    const struct sl_controller_settings *s = &log->options.settings;
    int64_t now_ms = (int64_t)uv_now(&log->loop);
    uint32_t seed;
    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
        seed = (uint32_t)now_ms;
    }
    char *msg = req->error_message;
    size_t msg_size = sizeof(req->error_message);
    switch (req->type) {
    case SL_MD_REQUEST_CREATE_TOPIC:
        random_uuid(&req->topic_id);
        return sl_controller_create_topic(b, s, &req->create_topic, &req->topic_id, seed, msg,
                                          msg_size);
    case SL_MD_REQUEST_DELETE_TOPIC:
        return sl_controller_delete_topic(b, s, req->delete_topic);
    case SL_MD_REQUEST_CREATE_PARTITIONS:
        return sl_controller_create_partitions(b, req->create_partitions.topic,
                                               req->create_partitions.total_count, seed, msg,
                                               msg_size);
    case SL_MD_REQUEST_ALTER_TOPIC_CONFIG:
        return sl_controller_alter_topic_config(
            b, req->alter_topic_config.topic, req->alter_topic_config.key,
            req->alter_topic_config.has_value ? req->alter_topic_config.value : NULL, msg,
            msg_size);
    case SL_MD_REQUEST_REGISTER_BROKER:
        return sl_controller_register_broker(b, s, &log->liveness, &req->register_broker, now_ms,
                                             &req->broker_epoch);
    case SL_MD_REQUEST_HEARTBEAT:
        return sl_controller_heartbeat(b, s, &log->liveness, req->heartbeat.broker_id,
                                       req->heartbeat.broker_epoch, req->heartbeat.want_fence,
                                       now_ms);
    case SL_MD_REQUEST_ALTER_PARTITION:
        return sl_controller_alter_partition(b, &req->alter_partition, &req->partition_epoch);
    case SL_MD_REQUEST_ELECT_PREFERRED:
        return sl_controller_elect_preferred(b, req->elect_preferred.topic,
                                             req->elect_preferred.partition);
    case SL_MD_REQUEST_ALTER_BROKER_CONFIG:
        return sl_controller_alter_broker_config(
            b, req->alter_broker_config.broker, req->alter_broker_config.key,
            req->alter_broker_config.has_value ? req->alter_broker_config.value : NULL, msg,
            msg_size);
    case SL_MD_REQUEST_UNREGISTER_BROKER:
        return sl_controller_unregister_broker(b, s, req->unregister_broker_id);
    case SL_MD_REQUEST_ALTER_CONFIGS: {
        int code = sl_controller_alter_configs(b, &req->alter_configs, msg, msg_size);
        if (code == SL_KAFKA_NONE && req->alter_configs.validate_only) {
            b->count = 0; /* checked against the current image; nothing is proposed */
        }
        return code;
    }
    case SL_MD_REQUEST_ADD_STANDBY:
        break; /* handled by add_standby: a raft membership change, not records */
    case SL_MD_REQUEST_REBALANCE_LEADERS: {
        int moved = sl_controller_rebalance_leaders(b);
        req->leaders_moved = moved > 0 ? moved : 0;
        return moved < 0 ? moved : SL_KAFKA_NONE;
    }
    }
    return SL_KAFKA_INVALID_REQUEST;
}

static struct sl_md_request *request_of_change(struct raft_change *change)
{
    return (struct sl_md_request *)((char *)change - offsetof(struct sl_md_request, change));
}

/* ---- standbys: one raft membership change at a time ---- */

static void standby_target(const struct sl_md_request *req, int32_t *node_id, const char **address)
{
    if (req->type == SL_MD_REQUEST_ADD_STANDBY) {
        *node_id = req->add_standby.node_id;
        *address = req->add_standby.address;
    } else {
        *node_id = req->register_broker.broker_id;
        *address = req->register_standby_address;
    }
}

static void membership_next(struct sl_md_log *log);

static void membership_finish(struct sl_md_log *log, struct sl_md_request *req, int code)
{
    SL_ASSERT(log->membership_busy);
    log->membership_busy = false;
    if (code == SL_KAFKA_NOT_CONTROLLER) {
        req->leader_id = atomic_load(&log->leader_id);
    }
    /* A registration keeps the index of its record; the configuration is raft's. */
    complete(req, code);
    membership_next(log);
}

static void standby_assigned(struct raft_change *change, int status)
{
    struct sl_md_request *req = request_of_change(change);
    struct sl_md_log *log = change->data;
    if (status != 0) {
        int32_t id;
        const char *address;
        standby_target(req, &id, &address);
        snprintf(req->error_message, sizeof(req->error_message), "cannot make %d a standby: %s", id,
                 raft_strerror(status));
        membership_finish(log, req, SL_KAFKA_NOT_CONTROLLER);
        return;
    }
    membership_finish(log, req, SL_KAFKA_NONE);
}

static void assign_standby(struct sl_md_log *log, struct sl_md_request *req, int32_t id)
{
    int rc = raft_assign(&log->raft, &req->change, (raft_id)id, RAFT_STANDBY, standby_assigned);
    if (rc != 0) {
        snprintf(req->error_message, sizeof(req->error_message), "cannot make %d a standby: %s", id,
                 raft_strerror(rc));
        membership_finish(log, req, SL_KAFKA_NOT_CONTROLLER);
    }
}

static void standby_added(struct raft_change *change, int status)
{
    struct sl_md_request *req = request_of_change(change);
    struct sl_md_log *log = change->data;
    int32_t id;
    const char *address;
    standby_target(req, &id, &address);
    if (status != 0) {
        snprintf(req->error_message, sizeof(req->error_message), "cannot add standby %d: %s", id,
                 raft_strerror(status));
        membership_finish(log, req, SL_KAFKA_NOT_CONTROLLER);
        return;
    }
    /* raft_add makes a spare; a standby also receives the log. */
    assign_standby(log, req, id);
}

/* Adds a broker-only node to the raft configuration as a standby (idempotent; a spare
 * left by an interrupted addition is assigned). */
static void start_standby(struct sl_md_log *log, struct sl_md_request *req)
{
    int32_t node_id;
    const char *address;
    standby_target(req, &node_id, &address);
    req->change.data = log;
    if (log->closing || !log->leader_ready) {
        snprintf(req->error_message, sizeof(req->error_message), "not the active controller");
        membership_finish(log, req, SL_KAFKA_NOT_CONTROLLER);
        return;
    }
    const struct raft_configuration *conf = &log->raft.configuration;
    raft_id id = (raft_id)node_id;
    for (unsigned i = 0; i < conf->n; i++) {
        const struct raft_server *s = &conf->servers[i];
        bool same_id = s->id == id;
        bool same_address = strcmp(s->address, address) == 0;
        if (same_id && same_address && s->role == RAFT_STANDBY) {
            membership_finish(log, req, SL_KAFKA_NONE);
            return;
        }
        if (same_id && same_address && s->role == RAFT_SPARE) {
            assign_standby(log, req, node_id);
            return;
        }
        if (same_id || same_address) {
            snprintf(req->error_message, sizeof(req->error_message),
                     "node %llu at %s is already in the metadata quorum configuration%s", s->id,
                     s->address, s->role == RAFT_VOTER ? " as a voter" : "");
            membership_finish(log, req, SL_KAFKA_INVALID_REQUEST);
            return;
        }
    }
    int rc = raft_add(&log->raft, &req->change, id, address, standby_added);
    if (rc != 0) {
        snprintf(req->error_message, sizeof(req->error_message), "cannot add standby %d: %s",
                 node_id, raft_strerror(rc));
        membership_finish(
            log, req, rc == RAFT_NOTLEADER ? SL_KAFKA_NOT_CONTROLLER : SL_KAFKA_INVALID_REQUEST);
    }
}

/* Starts queued additions until one is in progress. Synchronous finishes loop here
 * instead of recursing. */
static void membership_next(struct sl_md_log *log)
{
    if (log->membership_running) {
        return;
    }
    log->membership_running = true;
    while (!log->membership_busy && log->membership.head != NULL) {
        log->membership_busy = true;
        start_standby(log, list_pop(&log->membership));
    }
    log->membership_running = false;
}

static void membership_enqueue(struct sl_md_log *log, struct sl_md_request *req)
{
    list_push(&log->membership, req);
    membership_next(log);
}

/* ---- execution on the active controller ---- */

/* Runs a request on this node: the controller executes it when this node is the ready
 * leader, otherwise it is answered NOT_CONTROLLER with the known leader. Requests that
 * arrive by RPC only ever take this path (no forwarding loops). */
static void execute_locally(struct sl_md_log *log, struct sl_md_request *req)
{
    req->error_message[0] = '\0';
    req->leader_id = -1;
    req->applied_index = 0;
    if (atomic_load(&log->failed)) {
        snprintf(req->error_message, sizeof(req->error_message), "%.200s", log->error);
        complete(req, SL_KAFKA_UNKNOWN_SERVER_ERROR);
        return;
    }
    if (log->closing || !log->leader_ready) {
        not_controller(log, req, log->closing ? "shutting down" : "not the active controller");
        return;
    }
    if (req->type == SL_MD_REQUEST_ADD_STANDBY) {
        membership_enqueue(log, req);
        return;
    }
    struct sl_controller_batch batch;
    if (sl_controller_batch_init(&batch, controller_view(log)) != 0) {
        complete(req, SL_KAFKA_UNKNOWN_SERVER_ERROR);
        return;
    }
    int code = execute(log, &batch, req);
    if (code != SL_KAFKA_NONE || batch.count == 0) {
        sl_controller_batch_free(&batch);
        /* Nothing to propose: what the answer rests on is at most the last entry. */
        req->applied_index = code == SL_KAFKA_NONE ? raft_last_index(&log->raft) : 0;
        if (code == SL_KAFKA_NONE && registers_standby(req)) {
            membership_enqueue(log, req);
            return;
        }
        complete(req, code);
        return;
    }
    int rc = propose(log, &batch, &req->apply, request_applied);
    sl_controller_batch_free(&batch);
    if (rc != 0) {
        not_controller(log, req, raft_strerror(rc));
        return;
    }
    req->applied_index = raft_last_index(&log->raft);
}

/* ---- forwarding to the active controller ---- */

static void forward_finished(struct sl_md_log *log, struct sl_md_request *req, int code)
{
    SL_ASSERT(log->forward_count > 0);
    log->forward_count--;
    complete(req, code);
}

/* Where to send a request now: the leader named by the last answer, else the raft
 * leader; a standby that knows no leader (not yet in the configuration) asks the voters
 * in turn. -1: wait (an election is running, or this node is the leader and not ready). */
static int32_t forward_target(struct sl_md_log *log, struct sl_md_request *req)
{
    int32_t self = log->options.node_id;
    int32_t hint = req->forward_hint;
    req->forward_hint = -1;
    if (hint > 0 && hint != self) {
        return hint;
    }
    raft_id leader = 0;
    const char *address = NULL;
    raft_leader(&log->raft, &leader, &address);
    if (leader != 0) {
        return (int32_t)leader == self ? -1 : (int32_t)leader;
    }
    if (log->options.voter || log->options.voter_count == 0) {
        return -1;
    }
    return log->options.voters[log->voter_rotation++ % (uint32_t)log->options.voter_count].id;
}

static void count(uint64_t *counter)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static void park(struct sl_md_log *log, struct sl_md_request *req)
{
    list_push(&log->parked, req);
}

/* Moves a request that is neither executing nor queued one step on: executed here when
 * this node leads, sent to the leader, parked until the next tick, or given up. */
static void dispatch(struct sl_md_log *log, struct sl_md_request *req)
{
    if (log->closing) {
        req->leader_id = -1;
        snprintf(req->error_message, sizeof(req->error_message), "shutting down");
        forward_finished(log, req, SL_KAFKA_NOT_CONTROLLER);
        return;
    }
    if (log->leader_ready || atomic_load(&log->failed)) {
        SL_ASSERT(log->forward_count > 0);
        log->forward_count--;
        execute_locally(log, req);
        return;
    }
    if ((int64_t)uv_now(&log->loop) >= req->deadline_ms) {
        req->leader_id = req->forward_sent ? atomic_load(&log->leader_id) : -1;
        snprintf(req->error_message, sizeof(req->error_message),
                 req->forward_sent ? "no answer from the active controller within %u ms"
                                   : "no active controller reachable within %u ms",
                 log->options.request_timeout_ms);
        count(&log->forward_timeouts);
        forward_finished(log, req,
                         req->forward_sent ? SL_KAFKA_REQUEST_TIMED_OUT : SL_KAFKA_NOT_CONTROLLER);
        return;
    }
    int32_t target = forward_target(log, req);
    if (target < 0) {
        park(log, req);
        return;
    }
    int rc = sl_ctrl_rpc_client_send(log->rpc_client, target, req);
    if (rc == -EINVAL) {
        snprintf(req->error_message, sizeof(req->error_message),
                 "the request cannot be encoded for the controller");
        forward_finished(log, req, SL_KAFKA_INVALID_REQUEST);
        return;
    }
    if (rc != 0) {
        park(log, req);
        return;
    }
    count(req->forward_target < 0 ? &log->forwarded : &log->forward_retries);
    req->forward_target = target;
}

/* The answer is in: complete once this node's image holds the request's effect, so the
 * submitter reads its own write (bounded by the request's deadline). */
static void forward_answered(struct sl_md_log *log, struct sl_md_request *req)
{
    if (req->error_code == SL_KAFKA_NONE && req->applied_index > raft_last_applied(&log->raft) &&
        !log->closing) {
        list_push(&log->applying, req);
        return;
    }
    forward_finished(log, req, req->error_code);
}

static void forward_done(void *arg, struct sl_md_request *req, int status)
{
    struct sl_md_log *log = arg;
    if (status != 0) {
        park(log, req); /* the target failed or went silent: choose again */
        return;
    }
    req->forward_sent = true;
    if (req->error_code == SL_KAFKA_NOT_CONTROLLER && !log->closing) {
        /* The target is not (or no longer) the controller: follow its hint. */
        req->forward_hint = req->leader_id;
        park(log, req);
        return;
    }
    forward_answered(log, req);
}

/* Completes answered requests this node has applied (or whose deadline passed). */
static void check_applying(struct sl_md_log *log)
{
    if (log->applying.head == NULL) {
        return;
    }
    raft_index applied = raft_last_applied(&log->raft);
    int64_t now = (int64_t)uv_now(&log->loop);
    struct request_list still = {0};
    struct sl_md_request *req;
    while ((req = list_pop(&log->applying)) != NULL) {
        if (req->applied_index <= applied || now >= req->deadline_ms || log->closing) {
            forward_finished(log, req, req->error_code);
        } else {
            list_push(&still, req);
        }
    }
    log->applying = still;
}

static void redispatch_parked(struct sl_md_log *log)
{
    struct request_list parked = log->parked;
    log->parked = (struct request_list){0};
    struct sl_md_request *req;
    while ((req = list_pop(&parked)) != NULL) {
        dispatch(log, req);
    }
}

/* Takes a request from the submit queue. Forwarding is bounded: while this node is not
 * the controller, at most rpc_inflight_max requests leave the queue. */
/* A request enters: executed here when this node is the controller, else forwarded. */
static void accept_request(struct sl_md_log *log, struct sl_md_request *req)
{
    req->next = NULL;
    req->applied_index = 0;
    req->forward_target = -1;
    req->forward_hint = -1;
    req->forward_sent = false;
    req->deadline_ms = (int64_t)uv_now(&log->loop) + (int64_t)log->options.request_timeout_ms;
    if (log->leader_ready || log->closing || atomic_load(&log->failed)) {
        execute_locally(log, req);
    } else {
        log->forward_count++;
        dispatch(log, req);
    }
}

static void drain_queue(struct sl_md_log *log)
{
    while (log->leader_ready || log->forward_count < log->options.rpc_inflight_max) {
        struct sl_md_request *req = sl_mpsc_queue_pop(log->queue);
        if (req == NULL) {
            return;
        }
        accept_request(log, req);
    }
}

/* ---- this node's broker: registration and heartbeats ---- */

static void broker_done(struct sl_md_request *req, void *arg)
{
    struct sl_md_log *log = arg;
    struct broker_lifecycle *b = &log->broker;
    uint64_t now = uv_now(&log->loop);
    b->in_flight = false;
    atomic_store(&b->last_error, req->error_code);
    if (req->type == SL_MD_REQUEST_REGISTER_BROKER) {
        if (req->error_code == SL_KAFKA_NONE) {
            atomic_store(&b->epoch, req->broker_epoch);
            b->next_ms = now; /* the first heartbeat unfences it: at once */
        } else {
            b->next_ms = now + BROKER_RETRY_MS;
        }
        return;
    }
    if (req->error_code == SL_KAFKA_NONE) {
        atomic_store(&b->unfenced, true);
        b->next_ms = now + b->interval_ms;
    } else if (req->error_code == SL_KAFKA_BROKER_ID_NOT_REGISTERED ||
               req->error_code == SL_KAFKA_STALE_BROKER_EPOCH) {
        /* The registration is gone (unregistered, or replaced while this node was cut
         * off): register again, then heartbeat with the new epoch. */
        fprintf(stderr, "sluiced: heartbeat refused (%d %s): registering again\n", req->error_code,
                req->error_message);
        atomic_store(&b->epoch, (int64_t)-1);
        atomic_store(&b->unfenced, false);
        b->next_ms = now;
    } else {
        b->next_ms = now + SL_MIN((uint64_t)b->interval_ms, (uint64_t)BROKER_RETRY_MS);
    }
}

/* Sends the next registration or heartbeat when it is due. */
static void broker_step(struct sl_md_log *log)
{
    struct broker_lifecycle *b = &log->broker;
    if (!b->active) {
        if (!atomic_load_explicit(&b->start_requested, memory_order_acquire)) {
            return;
        }
        b->active = true; /* registration and interval were written before the flag */
        b->next_ms = uv_now(&log->loop);
    }
    if (b->in_flight || log->closing || uv_now(&log->loop) < b->next_ms) {
        return;
    }
    int64_t epoch = atomic_load(&b->epoch);
    if (epoch < 0) {
        b->req = b->registration;
    } else {
        memset(&b->req, 0, sizeof(b->req));
        b->req.type = SL_MD_REQUEST_HEARTBEAT;
        b->req.heartbeat.broker_id = b->registration.register_broker.broker_id;
        b->req.heartbeat.broker_epoch = epoch;
    }
    b->req.on_done = broker_done;
    b->req.on_done_arg = log;
    b->req.done = 0;
    b->in_flight = true;
    accept_request(log, &b->req);
}

/* An RPC from another node: executed here, never forwarded again. */
static void rpc_execute(void *arg, struct sl_md_request *req)
{
    execute_locally(arg, req);
}

static void rpc_connection(void *arg, uv_tcp_t *tcp, const uint8_t *head, size_t head_len)
{
    struct sl_md_log *log = arg;
    sl_ctrl_rpc_server_adopt(log->rpc_server, tcp, head, head_len);
}

static void after_events(uv_check_t *check)
{
    struct sl_md_log *log = check->data;
    check_applying(log);
    if (!log->closing) {
        drain_queue(log);
        broker_step(log);
    }
}

/* ---- housekeeping on the control-plane thread ---- */

static void fail(struct sl_md_log *log, const char *why)
{
    if (!atomic_load(&log->failed)) {
        snprintf(log->error, sizeof(log->error), "%s", why);
        atomic_store(&log->failed, true);
        fprintf(stderr, "sluiced: metadata log: %s\n", why);
    }
}

static void barrier_done(struct raft_barrier *req, int status)
{
    struct sl_md_log *log = req->data;
    log->barrier_pending = false;
    if (status != 0 || raft_state(&log->raft) != RAFT_LEADER ||
        log->raft.current_term != log->ready_term || !log->was_leader) {
        return;
    }
    /* Everything committed before this term is applied: the image is authoritative. */
    log->leader_ready = true;
    sl_controller_liveness_reset(&log->liveness, log->fsm.image, (int64_t)uv_now(&log->loop));
    atomic_store(&log->is_controller, true);
}

static void check_sessions(struct sl_md_log *log)
{
    /* The controller's view includes in-flight proposals, so a broker being fenced by one
     * of them is not fenced twice. */
    struct sl_controller_batch batch;
    if (sl_controller_batch_init(&batch, controller_view(log)) != 0) {
        return;
    }
    int fenced = sl_controller_check_sessions(&batch, &log->options.settings, &log->liveness,
                                              (int64_t)uv_now(&log->loop));
    if (fenced > 0 && batch.count > 0) {
        struct internal_apply *ia = calloc(1, sizeof(*ia));
        if (ia != NULL) {
            ia->log = log;
            if (propose(log, &batch, &ia->req, internal_applied) != 0) {
                free(ia);
            }
        }
    }
    sl_controller_batch_free(&batch);
}

static void tick(uv_timer_t *timer)
{
    struct sl_md_log *log = timer->data;
    if (log->closing) {
        return;
    }
    const char *fsm_error = sl_md_fsm_error(&log->fsm);
    if (fsm_error != NULL) {
        fail(log, fsm_error);
    }
    raft_id leader = 0;
    const char *leader_address = NULL;
    raft_leader(&log->raft, &leader, &leader_address);
    atomic_store(&log->leader_id, leader ? (int32_t)leader : -1);
    uint64_t now = uv_now(&log->loop);
    if (leader == 0) {
        if (log->no_leader_since_ms == 0) {
            log->no_leader_since_ms = now;
        }
        uint64_t limit = (uint64_t)log->options.election_timeout_ms * NO_LEADER_WARN_TIMEOUTS;
        if (now - log->no_leader_since_ms > limit && now - log->last_warning_ms > limit) {
            log->last_warning_ms = now;
            char voters[1024] = "";
            size_t off = 0;
            for (int k = 0; k < log->options.voter_count && off < sizeof(voters); k++) {
                int n = snprintf(voters + off, sizeof(voters) - off, "%s%d@%s:%u", k ? "," : "",
                                 log->options.voters[k].id, log->options.voters[k].host,
                                 log->options.voters[k].port);
                off += n > 0 ? (size_t)n : 0;
            }
            fprintf(stderr,
                    "sluiced: metadata quorum: no leader for %llu ms; %d of the voters %s must "
                    "be running and reachable on their CONTROLLER listeners\n",
                    (unsigned long long)(now - log->no_leader_since_ms),
                    log->options.voter_count / 2 + 1, voters);
        }
    } else {
        log->no_leader_since_ms = 0;
    }
    bool leading = raft_state(&log->raft) == RAFT_LEADER;
    if (leading && log->was_leader && log->raft.current_term != log->ready_term) {
        /* Lost and regained leadership between two ticks: a new term needs a new barrier
         * before the image can be trusted. */
        log->was_leader = false;
        log->leader_ready = false;
        atomic_store(&log->is_controller, false);
        drop_pending_image(log);
    }
    if (leading && !log->was_leader && !log->barrier_pending) {
        log->was_leader = true;
        log->ready_term = log->raft.current_term;
        log->barrier.data = log;
        if (raft_barrier(&log->raft, &log->barrier, barrier_done) == 0) {
            log->barrier_pending = true;
        } else {
            log->was_leader = false;
        }
    } else if (!leading && log->was_leader) {
        log->was_leader = false;
        log->leader_ready = false;
        atomic_store(&log->is_controller, false);
        drop_pending_image(log);
    }
    if (log->leader_ready && !atomic_load(&log->failed)) {
        check_sessions(log);
    }
    sl_ctrl_rpc_client_expire(log->rpc_client, (int64_t)now);
    if (leader != 0) {
        sl_ctrl_rpc_client_fail_others(log->rpc_client, (int32_t)leader);
    }
    redispatch_parked(log);
    drain_queue(log);
    sl_md_publisher_reclaim(log->publisher);
}

static void raft_closed(struct raft *raft)
{
    struct sl_md_log *log = raft->data;
    raft_uv_close(&log->io);
    sl_ctrl_transport_free(&log->transport);
}

/* Answers every request this node holds that raft does not: queued, parked, waiting to
 * be applied, waiting for a membership change, or sent to another node. */
static void answer_held_requests(struct sl_md_log *log)
{
    struct sl_md_request *req;
    while ((req = sl_mpsc_queue_pop(log->queue)) != NULL) {
        not_controller(log, req, "shutting down");
    }
    while ((req = list_pop(&log->membership)) != NULL) {
        not_controller(log, req, "shutting down");
    }
    redispatch_parked(log); /* closing: each is answered */
    check_applying(log);
    sl_ctrl_rpc_client_close(log->rpc_client); /* sent ones come back to forward_done */
    redispatch_parked(log);
}

static void begin_close(struct sl_md_log *log)
{
    if (log->closing) {
        return;
    }
    log->closing = true;
    atomic_store(&log->is_controller, false);
    log->leader_ready = false;
    answer_held_requests(log);
    sl_ctrl_rpc_server_close(log->rpc_server);
    uv_timer_stop(&log->tick);
    uv_close((uv_handle_t *)&log->tick, NULL);
    uv_close((uv_handle_t *)&log->wakeup, NULL);
    uv_close((uv_handle_t *)&log->after_events, NULL);
    raft_close(&log->raft, raft_closed);
}

static void wakeup(uv_async_t *async)
{
    struct sl_md_log *log = async->data;
    if (atomic_load(&log->stop_requested)) {
        begin_close(log);
        return;
    }
    /* Bounded by the queue capacity: producers are refused when it is full. */
    drain_queue(log);
}

/* ---- lifecycle ---- */

/* Runs the loop until raft and the uv handles are closed (open's error path, close). */
static void shutdown_raft_inline(struct sl_md_log *log)
{
    if (log->raft_initialized) {
        log->closing = true;
        raft_close(&log->raft, raft_closed);
        uv_run(&log->loop, UV_RUN_DEFAULT);
        log->raft_initialized = false;
    }
}

static void free_log(struct sl_md_log *log)
{
    sl_ctrl_rpc_server_close(log->rpc_server);
    if (log->rpc_client != NULL) {
        sl_ctrl_rpc_client_close(log->rpc_client);
    }
    if (uv_loop_close(&log->loop) != 0) {
        /* A handle is still open: run the loop once more so its close completes. */
        uv_run(&log->loop, UV_RUN_DEFAULT);
        uv_loop_close(&log->loop);
    }
    drop_pending_image(log);
    sl_md_publisher_free(log->publisher);
    sl_md_fsm_close(&log->fsm);
    sl_mpsc_queue_free(log->queue);
    sl_controller_liveness_free(&log->liveness);
    sl_ctrl_rpc_server_free(log->rpc_server);
    sl_ctrl_rpc_client_free(log->rpc_client);
    free(log);
}

static int start_raft(struct sl_md_log *log, char *err, size_t err_size)
{
    const struct sl_md_log_options *o = &log->options;
    /* Raft and controller RPCs share the CONTROLLER listener (or the standby address). */
    int rc = sl_ctrl_transport_init(&log->transport, &log->loop, o->bind_address,
                                    log->options.rpc_connections_max, rpc_connection, log);
    if (rc != 0) {
        set_error(err, err_size, "metadata log transport: %s", raft_strerror(rc));
        return -EINVAL;
    }
    rc = raft_uv_init(&log->io, &log->loop, o->dir, &log->transport);
    if (rc != 0) {
        set_error(err, err_size, "metadata log in '%s': %s", o->dir, log->io.errmsg);
        sl_ctrl_transport_free(&log->transport);
        uv_run(&log->loop, UV_RUN_DEFAULT);
        return -EIO;
    }
    rc = raft_init(&log->raft, &log->io, &log->fsm.raft_fsm, (raft_id)o->node_id, o->address);
    if (rc != 0) {
        set_error(err, err_size, "metadata log raft init: %s", raft_errmsg(&log->raft));
        raft_uv_close(&log->io);
        sl_ctrl_transport_free(&log->transport);
        uv_run(&log->loop, UV_RUN_DEFAULT);
        return -EINVAL;
    }
    log->raft_initialized = true;
    log->raft.data = log;
    raft_set_election_timeout(&log->raft, o->election_timeout_ms);
    raft_set_heartbeat_timeout(&log->raft, o->heartbeat_ms);
    raft_set_snapshot_threshold(&log->raft, o->snapshot_threshold);
    raft_set_snapshot_trailing(&log->raft, o->snapshot_trailing);
    /* A voter that was cut off does not depose a healthy leader when it returns. */
    raft_set_pre_vote(&log->raft, true);

    struct raft_configuration conf;
    raft_configuration_init(&conf);
    for (int i = 0; i < o->voter_count && rc == 0; i++) {
        char address[SL_CONFIG_HOST_BYTES_MAX + 8];
        snprintf(address, sizeof(address), "%s:%u", o->voters[i].host, o->voters[i].port);
        rc = raft_configuration_add(&conf, (raft_id)o->voters[i].id, address, RAFT_VOTER);
    }
    if (rc == 0 && o->voter) {
        rc = raft_bootstrap(&log->raft, &conf);
        if (rc == RAFT_CANTBOOTSTRAP) {
            rc = 0; /* the directory already holds a log */
        }
    }
    raft_configuration_close(&conf);
    if (rc != 0) {
        set_error(err, err_size, "cannot bootstrap the metadata log in '%s': %s", o->dir,
                  raft_errmsg(&log->raft));
        return -EINVAL;
    }
    rc = raft_start(&log->raft);
    if (rc != 0) {
        const char *fsm_error = sl_md_fsm_error(&log->fsm);
        set_error(err, err_size,
                  "cannot load the metadata log in '%s': %s%s%s (the log or a snapshot is "
                  "damaged: restore this directory from a healthy voter"
                  ")",
                  o->dir, raft_errmsg(&log->raft), fsm_error ? "; " : "",
                  fsm_error ? fsm_error : "");
        return rc == RAFT_CORRUPT ? -EBADMSG : -EIO;
    }
    const char *fsm_error = sl_md_fsm_error(&log->fsm);
    if (fsm_error != NULL) {
        set_error(err, err_size, "metadata log in '%s': %s", o->dir, fsm_error);
        return -EBADMSG;
    }
    return check_voters(log, err, err_size);
}

int sl_md_log_open(const struct sl_md_log_options *options, struct sl_md_log **out, char *err,
                   size_t err_size)
{
    SL_ASSERT(options->reader_count >= 1);
    struct sl_md_log *log = calloc(1, sizeof(*log));
    if (log == NULL) {
        set_error(err, err_size, "out of memory");
        return -ENOMEM;
    }
    log->options = *options;
    log->options.rpc_connections_max = SL_MAX(options->rpc_connections_max, 1u);
    log->options.rpc_inflight_max = SL_MAX(options->rpc_inflight_max, 1u);
    int rc = uv_loop_init(&log->loop);
    if (rc != 0) {
        free(log);
        set_error(err, err_size, "uv_loop_init: %s", uv_strerror(rc));
        return -EIO;
    }
    atomic_init(&log->leader_id, -1);
    atomic_init(&log->broker.epoch, (int64_t)-1);
    rc = sl_md_fsm_init(&log->fsm, NULL);
    if (rc == 0) {
        log->publisher = sl_md_publisher_new(options->reader_count, log->fsm.image);
        log->queue = sl_mpsc_queue_new(SL_MAX(options->submit_queue_capacity, 2u));
        struct sl_ctrl_rpc_server_options so = {
            .connections_max = log->options.rpc_connections_max,
            .inflight_max = log->options.rpc_inflight_max,
            .execute = rpc_execute,
            .execute_arg = log,
        };
        log->rpc_server = sl_ctrl_rpc_server_new(&log->loop, &so);
        log->rpc_client = sl_ctrl_rpc_client_new(&log->loop, options->voters, options->voter_count,
                                                 forward_done, log);
        if (log->publisher == NULL || log->queue == NULL || log->rpc_server == NULL ||
            log->rpc_client == NULL ||
            sl_controller_liveness_init(&log->liveness, options->brokers_max) != 0) {
            rc = -ENOMEM;
        }
    }
    if (rc != 0) {
        set_error(err, err_size, "out of memory");
        free_log(log);
        return rc;
    }
    log->fsm.publisher = log->publisher;
    rc = mkdir_p(options->dir);
    if (rc != 0) {
        set_error(err, err_size, "cannot create metadata.log.dir '%s': %s", options->dir,
                  strerror(-rc));
        free_log(log);
        return rc;
    }
    rc = check_node_identity(options, err, err_size);
    if (rc == 0) {
        rc = start_raft(log, err, err_size);
    }
    if (rc == 0) {
        uv_async_init(&log->loop, &log->wakeup, wakeup);
        log->wakeup.data = log;
        uv_timer_init(&log->loop, &log->tick);
        log->tick.data = log;
        uv_timer_start(&log->tick, tick, TICK_MS, TICK_MS);
        uv_check_init(&log->loop, &log->after_events);
        log->after_events.data = log;
        uv_check_start(&log->after_events, after_events);
    }
    if (rc != 0) {
        shutdown_raft_inline(log);
        free_log(log);
        return rc;
    }
    *out = log;
    return 0;
}

static void *thread_main(void *arg)
{
    struct sl_md_log *log = arg;
    /* A peer voter that goes away mid-write must cost an EPIPE, not the process: SIGPIPE
     * is delivered to the writing thread, so blocking it here is enough. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    uv_run(&log->loop, UV_RUN_DEFAULT);
    return NULL;
}

int sl_md_log_start(struct sl_md_log *log)
{
    SL_ASSERT(!log->thread_started);
    int rc = pthread_create(&log->thread, NULL, thread_main, log);
    if (rc != 0) {
        return -rc;
    }
    pthread_setname_np(log->thread, "sluice-control");
    log->thread_started = true;
    return 0;
}

void sl_md_log_stop(struct sl_md_log *log)
{
    if (!log->thread_started) {
        return;
    }
    atomic_store(&log->stop_requested, true);
    uv_async_send(&log->wakeup);
    pthread_join(log->thread, NULL);
    log->thread_started = false;
    /* The control-plane thread is gone, so this thread is now the only consumer: answer
     * what raced in after its last drain. */
    struct sl_md_request *req;
    while ((req = sl_mpsc_queue_pop(log->queue)) != NULL) {
        not_controller(log, req, "shutting down");
    }
    log->raft_initialized = false;
}

void sl_md_log_close(struct sl_md_log *log)
{
    if (log == NULL) {
        return;
    }
    SL_ASSERT(!log->thread_started);
    if (!log->closing) {
        /* Never started: close handles and raft on this thread. */
        log->closing = true;
        sl_ctrl_rpc_server_close(log->rpc_server);
        uv_close((uv_handle_t *)&log->tick, NULL);
        uv_close((uv_handle_t *)&log->wakeup, NULL);
        uv_close((uv_handle_t *)&log->after_events, NULL);
        raft_close(&log->raft, raft_closed);
        uv_run(&log->loop, UV_RUN_DEFAULT);
    }
    free_log(log);
}

int sl_md_log_submit(struct sl_md_log *log, struct sl_md_request *req)
{
    if (atomic_load(&log->stop_requested)) {
        return -ESHUTDOWN;
    }
    req->done = 0;
    if (!sl_mpsc_queue_push(log->queue, req)) {
        return -EAGAIN;
    }
    uv_async_send(&log->wakeup);
    return 0;
}

struct sl_md_publisher *sl_md_log_publisher(struct sl_md_log *log)
{
    return log->publisher;
}

bool sl_md_log_is_controller(const struct sl_md_log *log)
{
    return atomic_load(&((struct sl_md_log *)log)->is_controller);
}

int32_t sl_md_log_leader_id(const struct sl_md_log *log)
{
    return atomic_load(&((struct sl_md_log *)log)->leader_id);
}

int sl_md_log_broker_start(struct sl_md_log *log, const struct sl_md_request *registration,
                           uint32_t heartbeat_interval_ms)
{
    if (registration->type != SL_MD_REQUEST_REGISTER_BROKER || heartbeat_interval_ms == 0) {
        return -EINVAL;
    }
    if (atomic_load(&log->broker.start_requested)) {
        return -EALREADY;
    }
    log->broker.registration = *registration;
    log->broker.interval_ms = heartbeat_interval_ms;
    atomic_store_explicit(&log->broker.start_requested, true, memory_order_release);
    uv_async_send(&log->wakeup);
    return 0;
}

int64_t sl_md_log_broker_epoch(const struct sl_md_log *log)
{
    return atomic_load(&((struct sl_md_log *)log)->broker.epoch);
}

bool sl_md_log_broker_unfenced(const struct sl_md_log *log)
{
    return atomic_load(&((struct sl_md_log *)log)->broker.unfenced);
}

int sl_md_log_broker_last_error(const struct sl_md_log *log)
{
    return atomic_load(&((struct sl_md_log *)log)->broker.last_error);
}

void sl_md_log_get_rpc_stats(const struct sl_md_log *log, struct sl_md_log_rpc_stats *out)
{
    struct raft_uv_transport *t = (struct raft_uv_transport *)&log->transport;
    struct sl_ctrl_transport_stats ts;
    struct sl_ctrl_rpc_server_stats ss;
    memset(out, 0, sizeof(*out));
    if (t->impl != NULL) {
        sl_ctrl_transport_get_stats(t, &ts);
        out->raft_connections = ts.raft_accepted;
        out->bad_handshakes = ts.bad_handshakes;
        out->refused_connections = ts.refused_handshakes;
    }
    sl_ctrl_rpc_server_get_stats(log->rpc_server, &ss);
    out->rpc_connections = ss.connections_accepted;
    out->refused_connections += ss.connections_refused;
    out->bad_frames = ss.bad_frames;
    out->requests_served = ss.requests;
    out->requests_forwarded = __atomic_load_n(&log->forwarded, __ATOMIC_RELAXED);
    out->forward_retries = __atomic_load_n(&log->forward_retries, __ATOMIC_RELAXED);
    out->forward_timeouts = __atomic_load_n(&log->forward_timeouts, __ATOMIC_RELAXED);
}

const char *sl_md_log_error(const struct sl_md_log *log)
{
    return atomic_load(&((struct sl_md_log *)log)->failed) ? log->error : NULL;
}
