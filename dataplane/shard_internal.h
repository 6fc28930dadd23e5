/* Internal state of a shard, shared by the files of dataplane/ (connections, request
 * slots, partitions, handlers). Everything here belongs to the shard thread only.
 */
#ifndef SL_SHARD_INTERNAL_H
#define SL_SHARD_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "controlplane/metadata_log.h"
#include "dataplane/codec/codec.h"
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/dp_stats.h"
#include "dataplane/fetch_sessions.h"
#include "dataplane/frame_cache.h"
#include "dataplane/producer_state.h"
#include "dataplane/ring.h"
#include "dataplane/shard.h"
#include "drivers/net/net_driver.h"
#include "storage/log.h"

struct sl_shard;
struct sl_dp_request;
struct sl_dp_group_host;

enum sl_dp_request_state {
    SL_DP_REQ_FREE = 0,
    SL_DP_REQ_RELEASING, /* done; waiting for other shards to drop the request's pins */
    SL_DP_REQ_HANDLING,  /* handler running or waiting (storage, ack, parked, controller) */
    SL_DP_REQ_DONE,      /* response encoded (or none), waiting for its turn to send */
    SL_DP_REQ_SENDING,   /* segments owned by the driver */
};

/* One segment handed to the driver: the request it belongs to, and the storage slice it
 * pins (NULL for header bytes). Released one by one by the driver. */
struct sl_dp_seg_owner {
    struct sl_dp_request *req;
    const void *storage_ref;
};

struct sl_dp_request {
    struct sl_shard *shard;
    struct sl_dp_request *next; /* connection FIFO or free list */
    uint32_t index;
    enum sl_dp_request_state state;
    /* The connection (slot + generation); conn_slot == UINT32_MAX when orphaned (its
     * connection closed while the request was still waiting for something). */
    uint32_t conn_slot;
    uint32_t conn_gen;
    /* The frame: in a receive buffer (rx_buf_id >= 0) or in assembled memory. */
    const uint8_t *frame;
    uint32_t frame_len;
    int32_t rx_buf_id;
    uint8_t *frame_heap;
    /* Decoded request and the arena its arrays, the handler state and the response
     * structs come from. */
    struct sl_codec_request req;
    struct sl_codec_arena arena;
    /* Encoded response (enc.buf is the slot's inline buffer or tx_heap). */
    bool no_response;
    int16_t response_version;
    uint8_t *tx;
    uint8_t *tx_heap;
    struct sl_codec_encoder enc;
    uint64_t response_total_bytes;
    struct sl_net_seg *tx_segs; /* the response's segments, handed over in order */
    uint32_t tx_seg_count;
    uint32_t tx_seg_next;
    uint32_t segs_outstanding; /* handed to the driver, not yet released */
    /* Handler progress. */
    uint32_t pending_ops; /* storage reads / lookups / controller requests outstanding */
    bool parked;          /* fetch waiting for min_bytes or its deadline */
    bool waiting_ack;     /* produce waiting for its appends to be written (or durable) */
    int64_t deadline_ms;
    void *hstate;                    /* handler-specific, in the arena */
    struct sl_dp_request *wait_next; /* parked / ack / controller wait list */
};

struct sl_dp_rx_held {
    uint32_t buf_id;
    const uint8_t *data;
    uint32_t len;
    uint32_t pos;
};

struct sl_dp_conn {
    bool open;
    bool closing;
    struct sl_net_conn handle;
    uint8_t size_prefix[4];
    uint32_t size_prefix_have;
    /* Frame spanning buffers: assembled in frame_buf. */
    uint8_t *asm_buf;
    uint32_t asm_len;
    uint32_t asm_have;
    bool asm_exact_pending;
    /* Receive buffers not parsed to the end yet (parsing paused). */
    struct sl_dp_rx_held *held;
    uint32_t held_head;
    uint32_t held_count;
    uint32_t held_cap;
    /* Requests in arrival order; responses leave strictly in this order. */
    struct sl_dp_request *fifo_head;
    struct sl_dp_request *fifo_tail;
    uint32_t inflight;
};

/* A partition this shard owns. */
struct sl_dp_partition {
    bool used;
    bool tombstone;
    struct sl_md_uuid topic_id;
    int32_t partition;
    char topic[SL_MD_TOPIC_NAME_BYTES_MAX];
    struct sl_log *log;
    struct sl_shard *shard; /* owner (context of the log's progress callback) */
    bool hw_is_durable;     /* flush.messages=1: consumers only see durable data */
    uint32_t max_message_bytes;
    /* How far CreateTime timestamps may lie behind / ahead of the broker clock
     * (message.timestamp.before/after.max.ms, else .difference.max.ms; INT64_MAX: no check;
     * LogAppendTime topics are not checked, the broker's clock is their timestamp). */
    int64_t timestamp_before_max_ms;
    int64_t timestamp_after_max_ms;
    int32_t leader_epoch;
    uint64_t seen_version;            /* image version that last confirmed it */
    struct sl_dp_producers producers; /* idempotent producers' sequences */
};

/* Work on a partition another shard owns, sent by reference over the shard rings: the
 * connection's shard (home) fills it and sends it to the owner, which runs it and sends
 * it back; home then runs done. Handler-specific ops embed this struct first and live in
 * the request's arena, so nothing is allocated per message. */
struct sl_dp_part_op {
    struct sl_dp_part_op *retry_next; /* while its ring was full */
    struct sl_dp_request *req;
    uint32_t home;
    uint32_t owner;
    bool to_home;
    void (*run)(struct sl_shard *owner, struct sl_dp_part_op *op);
    void (*done)(struct sl_shard *home, struct sl_dp_part_op *op);
};

/* A controller request submitted by this shard (auto-create, CreateTopics, ...). */
struct sl_dp_md_slot {
    bool used;
    bool notified; /* owner told; the owner frees the slot after reading the results */
    struct sl_dp_request *owner; /* NULL: fire and forget (auto-create) */
    struct sl_md_request req;
};

struct sl_shard {
    struct sl_shard_options opts;
    struct sl_dp_stats stats;
    atomic_bool stop_requested;
    atomic_bool ready;
    atomic_uint_least16_t port;
    atomic_bool hugepages;

    struct sl_net_driver *net;
    bool net_destroying; /* receive buffers are no longer returned to the driver */
    uint32_t listener_id;
    bool listening;
    struct sl_storage *storage;
    const struct sl_net_counters *net_counters; /* published for the stats socket */
    const struct sl_storage_stats *storage_stats;
    struct sl_md_publisher *publisher;
    const struct sl_md_image *image;
    uint64_t image_version;
    bool open_failed; /* some partition could not be opened: retry */
    int64_t open_retry_ms;
    bool reconcile_more; /* the last pass hit its open/close budget: continue next pass */
    int64_t now_ms;

    struct sl_dp_conn *conns; /* indexed by driver slot */
    uint32_t conn_count_max;
    uint16_t *rx_refs; /* per driver receive buffer: references held */
    uint32_t rx_buf_count;
    bool rescan; /* a paused connection may continue parsing */

    struct sl_dp_request *requests;
    uint8_t *request_mem;
    struct sl_dp_request *free_requests;
    uint32_t requests_in_use;
    uint64_t frame_memory_used;
    struct sl_dp_frame_cache frame_cache; /* buffers of spanning frames, reused */

    struct sl_dp_request *parked;      /* fetches waiting */
    struct sl_dp_request *ack_waiting; /* produces waiting for their appends' writes */
    struct sl_dp_request *md_waiting;  /* requests waiting for the controller */
    bool storage_progress; /* a log's written/durable end moved since produces were checked */
    bool appended;         /* a high watermark moved since parked fetches were last tried */

    struct sl_dp_partition *partitions; /* open addressing, capacity = 2 * partitions_max */
    uint32_t partition_cap;
    uint32_t partition_count;
    uint32_t producer_loads; /* partitions still rebuilding their producer state */

    struct sl_dp_md_slot *md_slots;

    /* SPSC ring of directories to delete (shard -> control-plane side). */
    char (*delete_ring)[4096];
    atomic_uint delete_head; /* consumer */
    atomic_uint delete_tail; /* producer */
    char pending_delete[4096];
    bool pending_delete_set;

    /* Other shards: rings from each of them into this shard, indexed by sender. */
    struct sl_shard **peers;
    struct sl_dp_ring *inbox;
    void **inbox_slots;
    struct sl_dp_part_op *retry_head;
    struct sl_dp_part_op *retry_tail;
    /* Bumped whenever a high watermark of this shard moves: wakes other shards' fetches. */
    atomic_uint_fast64_t append_seq;
    /* Next idempotent producer id; only shard 0's is used (InitProducerId). */
    atomic_int_fast64_t producer_id_next;
    uint64_t *peer_append_seen;
    atomic_uint *drained; /* shared: shards that finished their own requests on stop */
    bool draining;        /* stopping: no new requests are parsed */
    struct sl_dp_part_op *remote_ack_waiting; /* owner side: produce ops waiting for writes */
    void *append_retry_head; /* produce ops waiting for storage room, in arrival order */
    void *append_retry_tail;

    struct sl_dp_group_host *groups;            /* group coordinators hosted here (group_host.c) */
    struct sl_dp_fetch_sessions fetch_sessions; /* KIP-227 sessions of this shard's clients */

    int64_t retention_next_ms; /* next retention pass over this shard's partitions */

    uint32_t reader_ops; /* cached from config */
    int32_t min_insync_replicas;
    bool auto_create;
    int64_t flush_messages;
};

/* ---- request slots and responses (request.c) ---- */

/* Encodes body as the response of r (header from r) and marks r DONE; sends if it is at
 * the head of its connection. With gap_slots (Fetch) records fields are not copied and
 * the storage pins named by their segment owners pass to the request (released when
 * transmitted). Returns false when encoding failed: the connection is closed and the
 * caller still owns (must release) its pins. */
bool sl_dp_respond(struct sl_shard *s, struct sl_dp_request *r, const void *body,
                   uint32_t gap_slots);
/* Marks r DONE without a response (Produce acks=0). */
void sl_dp_respond_none(struct sl_shard *s, struct sl_dp_request *r);
/* Closes r's connection (protocol violation found by a handler). */
void sl_dp_request_close_conn(struct sl_shard *s, struct sl_dp_request *r);
/* True when r's connection has gone (the handler should just finish). */
static inline bool sl_dp_request_orphaned(const struct sl_dp_request *r)
{
    return r->conn_slot == UINT32_MAX;
}
/* Frees r when it has nothing outstanding and is orphaned. Returns true if freed. */
bool sl_dp_request_reap_orphan(struct sl_shard *s, struct sl_dp_request *r);
/* Allocates zeroed memory from r's arena or returns NULL. */
static inline void *sl_dp_alloc(struct sl_dp_request *r, size_t count, size_t size)
{
    return sl_codec_arena_alloc(&r->arena, count, size);
}

/* ---- connections (conn.c) ---- */
void sl_dp_conn_on_accept(void *ctx, struct sl_net_conn conn, uint32_t listener_id);
void sl_dp_conn_on_recv(void *ctx, struct sl_net_conn conn, const struct sl_net_rxbuf *buf);
void sl_dp_conn_on_recv_exact_done(void *ctx, struct sl_net_conn conn, void *dst,
                                   uint32_t len_bytes);
void sl_dp_conn_on_close(void *ctx, struct sl_net_conn conn, enum sl_net_close_reason reason,
                         int err);
/* Closes the connection in slot (on_close follows from a later poll). */
void sl_dp_conn_close(struct sl_shard *s, uint32_t slot);
/* Continues parsing connections that paused (called from the loop when rescan). */
void sl_dp_conn_rescan(struct sl_shard *s);
/* Sends DONE responses at the head of the connection's FIFO. */
void sl_dp_conn_flush(struct sl_shard *s, uint32_t slot);
/* Drops one reference on a receive buffer, returning it to the driver at zero. */
void sl_dp_rx_unref(struct sl_shard *s, int32_t buf_id);
/* Dispatches one complete frame (request.c). */
void sl_dp_dispatch(struct sl_shard *s, uint32_t slot, const uint8_t *frame, uint32_t len,
                    int32_t rx_buf_id, uint8_t *frame_heap, struct sl_dp_request *r);
struct sl_dp_request *sl_dp_request_get(struct sl_shard *s);
void sl_dp_request_free(struct sl_shard *s, struct sl_dp_request *r);
/* Gives r's frame back (to the frame cache or the driver's receive buffer) before r ends,
 * for a handler whose remaining work no longer reads it: every pointer into the frame in
 * r->req (names, records) is dead afterwards, and r->req.body is cleared so a stray use
 * fails at once. */
void sl_dp_request_release_frame(struct sl_shard *s, struct sl_dp_request *r);

/* ---- partitions (partitions.c) ---- */
struct sl_dp_partition *sl_dp_partition_find(struct sl_shard *s, const struct sl_md_uuid *topic_id,
                                             int32_t partition);
/* The shard owning (topic, partition): stable hash of the topic id and partition. */
uint32_t sl_dp_partition_shard(const struct sl_md_uuid *topic_id, int32_t partition,
                               uint32_t shard_count);
/* Opens logs for new partitions of this broker owned by this shard, closes (and queues
 * for deletion) those whose topic disappeared or that no longer list this broker as a
 * replica. Opens and closes may block on the file system, so one pass does at most
 * SL_DP_RECONCILE_LOG_OPS_MAX of them and sets reconcile_more for the next pass. */
void sl_dp_partitions_reconcile(struct sl_shard *s);
/* Closes every log (shutdown). */
void sl_dp_partitions_close_all(struct sl_shard *s);
/* Advances the producer-state rebuild of partitions opened with data (loop, while
 * producer_loads > 0). */
void sl_dp_partitions_load_producers(struct sl_shard *s);
/* The high watermark consumers may read up to. */
int64_t sl_dp_partition_hw(const struct sl_dp_partition *p);
/* An int topic setting: the topic's config, else the broker key (sl_dp_broker_config),
 * else dflt. */
int64_t sl_dp_topic_int(const struct sl_shard *s, const struct sl_md_topic *t, const char *key,
                        enum sl_config_key broker_key, int64_t dflt);

/* Kafka's ConfigSource values (DescribeConfigs). */
enum sl_dp_config_source {
    SL_DP_CONFIG_SOURCE_DYNAMIC_TOPIC = 1,
    SL_DP_CONFIG_SOURCE_DYNAMIC_BROKER = 2,
    SL_DP_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER = 3,
    SL_DP_CONFIG_SOURCE_STATIC_BROKER = 4,
    SL_DP_CONFIG_SOURCE_DEFAULT = 5,
};
/* The text of broker key `key` as this broker runs with it now: the dynamic value set
 * for this broker id in the metadata image, else the dynamic cluster default, else the
 * static configuration (file, --override, built-in default). NULL when unset. The text
 * lives as long as the image or the config. *source (may be NULL) says which. */
const char *sl_dp_broker_config(const struct sl_shard *s, enum sl_config_key key,
                                enum sl_dp_config_source *source);
/* Effective log retention from log.retention.ms, .minutes, .hours (each dynamic or
 * static, in that order, as Kafka resolves them); -1 keeps forever. *source (may be
 * NULL) is the source of the key that decided. */
int64_t sl_dp_log_retention_ms(const struct sl_shard *s, enum sl_dp_config_source *source);
/* Runs retention on every partition of this shard once log.retention.check.interval.ms
 * has passed (maintenance: deleting segment files may block briefly). */
void sl_dp_partitions_retention_poll(struct sl_shard *s);

/* ---- controller requests (md.c) ---- */
/* Takes a free controller request slot (zeroed) for owner (NULL: fire and forget). */
struct sl_dp_md_slot *sl_dp_md_slot_get(struct sl_shard *s, struct sl_dp_request *owner);
/* Submits it; on -EAGAIN the slot is freed and the error returned. */
int sl_dp_md_submit(struct sl_shard *s, struct sl_dp_md_slot *slot);
/* Frees a slot whose results the owner has read. */
void sl_dp_md_slot_put(struct sl_shard *s, struct sl_dp_md_slot *slot);
/* Completes slots whose requests are done and resumes their owners. */
void sl_dp_md_poll(struct sl_shard *s);

/* ---- routing between shards (route.c) ---- */
/* The shard owning a partition of the current image (hash of topic id, partition). */
static inline uint32_t sl_dp_owner(const struct sl_shard *s, const struct sl_md_uuid *topic_id,
                                   int32_t partition)
{
    return sl_dp_partition_shard(topic_id, partition, s->opts.shard_count);
}
/* Home side: fills op's routing for partition (topic_id, partition) of request r with
 * its run/done callbacks. Returns true when this shard owns the partition (the caller
 * may run it in place), false when it must go to its owner with sl_dp_op_send. */
static inline bool sl_dp_op_init(struct sl_shard *s, struct sl_dp_part_op *op,
                                 struct sl_dp_request *r, const struct sl_md_uuid *topic_id,
                                 int32_t partition,
                                 void (*run)(struct sl_shard *, struct sl_dp_part_op *),
                                 void (*done)(struct sl_shard *, struct sl_dp_part_op *))
{
    op->req = r;
    op->home = s->opts.shard_id;
    op->owner = sl_dp_owner(s, topic_id, partition);
    op->run = run;
    op->done = done;
    return op->owner == op->home;
}
/* The partition of t (NULL: unknown topic) that this broker leads, or NULL with
 * *error_code set: UNKNOWN_TOPIC_OR_PARTITION, or NOT_LEADER_OR_FOLLOWER when another
 * broker (or none) leads it. */
static inline const struct sl_md_partition *sl_dp_led_partition(const struct sl_shard *s,
                                                                const struct sl_md_topic *t,
                                                                int32_t partition,
                                                                int16_t *error_code)
{
    const struct sl_md_partition *mp = t ? sl_md_topic_partition(t, partition) : NULL;
    if (mp == NULL) {
        *error_code = SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    if (mp->leader != s->opts.node_id) {
        *error_code = SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER;
        return NULL;
    }
    return mp;
}
/* Home side: sends op to its owner; op->req->pending_ops is incremented. */
void sl_dp_op_send(struct sl_shard *s, struct sl_dp_part_op *op);
/* Owner side: sends op back to its home. */
void sl_dp_op_reply(struct sl_shard *s, struct sl_dp_part_op *op);
/* Home side, from done: one op fewer pending; resumes, reaps or frees r at zero. */
void sl_dp_op_finished(struct sl_shard *s, struct sl_dp_request *r);
/* Moves ops between rings: retries, then every inbox. Returns the ops handled. */
uint32_t sl_dp_route_poll(struct sl_shard *s);
/* True when another shard appended since the last call (wakes parked fetches). */
bool sl_dp_route_peer_appended(struct sl_shard *s);

/* ---- handlers (handlers/) ---- */
typedef void (*sl_dp_handler_fn)(struct sl_shard *s, struct sl_dp_request *r);
/* Called again for a request when what it waited for happened (storage read done,
 * controller request done, appends written, parked fetch woken or timed out). */
typedef void (*sl_dp_resume_fn)(struct sl_shard *s, struct sl_dp_request *r);

struct sl_dp_handler {
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;
    sl_dp_handler_fn handle;
    sl_dp_resume_fn resume; /* NULL for handlers that always answer at once */
    /* Drops what the request still pins when it ends (storage slices, also on other
     * shards). Returns true when that continues asynchronously (pending_ops > 0). */
    bool (*release)(struct sl_shard *s, struct sl_dp_request *r);
};

extern const struct sl_dp_handler sl_dp_handlers[];
extern const uint32_t sl_dp_handler_count;
const struct sl_dp_handler *sl_dp_handler_find(int16_t api_key);

/* Resumes r through its API's resume function. */
void sl_dp_resume(struct sl_shard *s, struct sl_dp_request *r);

/* Wait lists. */
void sl_dp_wait_push(struct sl_dp_request **list, struct sl_dp_request *r);
void sl_dp_wait_remove(struct sl_dp_request **list, struct sl_dp_request *r);

/* Broker listener of node_id to publish in Metadata (PLAINTEXT or the first one). */
const struct sl_md_listener *sl_dp_broker_listener(const struct sl_md_broker *b);

static inline void sl_dp_uuid_to_codec(const struct sl_md_uuid *in, struct sl_codec_uuid *out)
{
    for (int i = 0; i < 16; i++)
        out->bytes[i] = in->bytes[i];
}
static inline void sl_dp_uuid_from_codec(const struct sl_codec_uuid *in, struct sl_md_uuid *out)
{
    for (int i = 0; i < 16; i++)
        out->bytes[i] = in->bytes[i];
}
static inline struct sl_codec_slice sl_dp_cstr(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0')
        n++;
    return (struct sl_codec_slice){(const uint8_t *)s, (int32_t)n};
}
/* Copies a slice into a NUL-terminated buffer; false when it does not fit or is null. */
bool sl_dp_slice_to_cstr(struct sl_codec_slice v, char *out, size_t out_size);
/* The topic a request names, in the shard's current image; NULL when the name is null,
 * too long or unknown. The topic belongs to the image (valid while the shard holds it). */
const struct sl_md_topic *sl_dp_topic_by_name(const struct sl_shard *s, struct sl_codec_slice name);

#endif
