/* Internal state of the group coordinator, shared by its .c files (not for other modules).
 *
 * Pools are arrays indexed by uint32_t; SL_GROUP_NIL ends lists. Groups and topics are
 * found by hash chains; offsets by a hash chain on (group, topic, partition) and listed per
 * group; members are listed per group in join order (the first is the oldest member).
 */
#ifndef SL_GROUP_INTERNAL_H
#define SL_GROUP_INTERNAL_H

#include "dataplane/groups/group_coordinator.h"
#include "dataplane/codec/codec_wire.h"
#include "storage/batch_builder.h"

#define SL_GROUP_NIL UINT32_MAX

struct sl_group_protocol_ref {
    uint32_t name_off;
    uint32_t name_len;
    uint32_t meta_off;
    uint32_t meta_len;
};

struct sl_group_member {
    bool in_use;
    bool pending_id;   /* KIP-394: id handed out with MEMBER_ID_REQUIRED, not joined yet */
    bool join_waiting; /* a JoinGroup is parked until the join phase completes */
    bool sync_waiting; /* a SyncGroup is parked until the leader's assignment */
    uint32_t group;
    uint32_t next; /* group list (or free list) */
    uint32_t prev;
    uint16_t member_id_len;
    int16_t instance_id_len; /* -1: dynamic member */
    uint16_t client_id_len;
    uint16_t client_host_len;
    int16_t join_version;
    int16_t sync_version;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    int64_t session_deadline_ms;
    void *join_ctx;
    void *sync_ctx;
    uint32_t protocol_count;
    uint32_t metadata_used;
    int32_t assignment_len;
    struct sl_group_protocol_ref protocols[SL_GROUP_MEMBER_PROTOCOLS_MAX];
    uint8_t *metadata;   /* config.member_metadata_bytes_max bytes */
    uint8_t *assignment; /* config.member_assignment_bytes_max bytes */
    char member_id[SL_GROUP_MEMBER_ID_BYTES_MAX];
    char instance_id[SL_GROUP_INSTANCE_ID_BYTES_MAX];
    char client_id[SL_GROUP_CLIENT_ID_BYTES_MAX];
    char client_host[SL_GROUP_CLIENT_HOST_BYTES_MAX];
};

struct sl_group {
    bool in_use;
    enum sl_group_state state;
    bool initial_join;       /* the join phase waits for the initial rebalance delay */
    bool initial_new_member; /* someone joined during the current initial delay */
    /* The leader's assignment is staged; SyncGroups are answered once it is durable. */
    bool assignment_persisting;
    uint64_t assignment_batch_id;
    uint16_t id_len;
    int16_t protocol_type_len; /* -1: none (a group used only for offsets) */
    int16_t protocol_len;      /* -1: none */
    int32_t generation;
    uint32_t hash_next;
    uint32_t list_next; /* in-use list (or free list) */
    uint32_t list_prev;
    uint32_t members_head; /* join order */
    uint32_t members_tail;
    uint32_t member_count;
    uint32_t pending_head; /* pending member ids */
    uint32_t pending_count;
    uint32_t leader; /* member index or NIL */
    uint32_t offsets_head;
    uint32_t offset_count;
    int64_t join_deadline_ms; /* PreparingRebalance ends at the latest here */
    int64_t initial_limit_ms; /* initial delays stop extending here (rebalance timeout) */
    int64_t sync_deadline_ms; /* CompletingRebalance: members that did not sync leave */
    int64_t state_since_ms;   /* when the current state began (retention of Empty) */
    char id[SL_GROUP_ID_BYTES_MAX];
    char protocol_type[SL_GROUP_PROTOCOL_TYPE_BYTES_MAX];
    char protocol[SL_GROUP_PROTOCOL_BYTES_MAX];
};

struct sl_group_topic {
    uint32_t refs; /* offsets naming it; 0 = free */
    uint32_t hash_next;
    uint32_t mark; /* scratch stamp while building a response */
    uint32_t mark_index;
    uint16_t name_len;
    char name[SL_GROUP_TOPIC_BYTES_MAX];
};

struct sl_group_offset {
    bool in_use;
    uint32_t group;
    uint32_t topic;
    int32_t partition;
    int32_t leader_epoch;
    int64_t offset;
    int64_t commit_ms;
    int64_t expire_ms; /* -1: retention counts from the group becoming Empty */
    uint32_t hash_next;
    uint32_t group_next; /* per-group list (or free list) */
    uint32_t group_prev;
    int16_t metadata_len; /* -1: null */
    uint8_t *metadata;    /* config.offset_metadata_bytes_max bytes */
};

/* An OffsetCommit waiting for its batch to become durable. Its response lives in the
 * pending ring at [start, end). Completed strictly in FIFO order. */
struct sl_group_pending_commit {
    void *req_ctx;
    uint64_t batch_id;
    uint32_t start;
    uint32_t end;
    struct sl_codec_offset_commit_response *resp;
};

struct sl_group_coordinator {
    struct sl_group_config config;
    struct sl_group_callbacks cb;
    struct sl_group_counters counters;
    bool failed; /* a batch failed to persist: answer NOT_COORDINATOR */

    struct sl_group *groups;
    uint32_t *group_buckets;
    uint32_t bucket_count; /* power of two, shared size for all hash tables */
    uint32_t groups_free;
    uint32_t groups_head; /* in-use list */
    uint32_t group_count;

    struct sl_group_member *members;
    uint32_t members_free;
    uint32_t member_count;

    struct sl_group_topic *topics;
    uint32_t *topic_buckets;
    uint32_t topic_count;
    uint32_t topic_mark;

    struct sl_group_offset *offsets;
    uint32_t *offset_buckets;
    uint32_t offsets_free;
    uint32_t offset_count;

    struct sl_group_pending_commit *pending;
    uint32_t pending_head; /* oldest */
    uint32_t pending_count;
    uint8_t *pending_ring;
    uint32_t ring_head; /* next free byte */
    uint32_t ring_tail; /* oldest used byte */
    uint32_t ring_used;

    uint8_t *scratch_mem;
    struct sl_codec_arena scratch;

    uint8_t *batch_buf;
    struct sl_batch_builder builder;
    bool builder_open;
    uint64_t batch_id; /* id of the staging batch */
    uint64_t member_id_counter;

    /* Scratch for join responses (group_size_max entries). */
    struct sl_codec_join_group_response_join_group_response_member *join_members;
    /* Scratch key/value buffers for records. */
    uint8_t *record_key;
    uint8_t *record_value;
    uint32_t record_value_cap;

    uint8_t *slabs; /* one allocation backing every per-slot byte buffer */
};

/* ---- shared helpers (group_coordinator.c) ---- */
static inline bool sl_group_slice_null(struct sl_codec_slice s)
{
    return s.len < 0 || s.ptr == NULL;
}
static inline uint32_t sl_group_slice_len(struct sl_codec_slice s)
{
    return s.len < 0 ? 0u : (uint32_t)s.len;
}
static inline struct sl_codec_slice sl_group_slice(const void *ptr, int32_t len)
{
    struct sl_codec_slice s = {(const uint8_t *)ptr, len};
    return s;
}

uint32_t sl_group_hash_bytes(const void *data, size_t len, uint32_t seed);
struct sl_group *sl_group_find(const struct sl_group_coordinator *coord, const uint8_t *id,
                               uint32_t len, uint32_t *index);
/* Creates an Empty group; returns NIL when the pool is full. */
uint32_t sl_group_create(struct sl_group_coordinator *coord, const uint8_t *id, uint32_t len,
                         int64_t now_ms);
/* Removes the group (members and offsets must be gone). */
void sl_group_remove(struct sl_group_coordinator *coord, uint32_t index);
void sl_group_set_state(struct sl_group *g, enum sl_group_state state, int64_t now_ms);

uint32_t sl_group_member_alloc(struct sl_group_coordinator *coord);
void sl_group_member_free(struct sl_group_coordinator *coord, uint32_t index);
/* Member of group g with this id (pending ids included when @pending). */
uint32_t sl_group_member_find(const struct sl_group_coordinator *coord, const struct sl_group *g,
                              const uint8_t *id, uint32_t len, bool pending);
uint32_t sl_group_member_find_instance(const struct sl_group_coordinator *coord,
                                       const struct sl_group *g, const uint8_t *id, uint32_t len);
void sl_group_member_link(struct sl_group_coordinator *coord, uint32_t group, uint32_t member);
void sl_group_member_unlink(struct sl_group_coordinator *coord, uint32_t member);
/* Sets the member's protocols from a join request's list. Returns a Kafka error. */
int16_t sl_group_member_set_protocols(struct sl_group_coordinator *coord, struct sl_group_member *m,
                                      const struct sl_codec_slice *names,
                                      const struct sl_codec_slice *metas, uint32_t count);
/* Metadata of the member for protocol @name, or a null slice. */
struct sl_codec_slice sl_group_member_protocol_metadata(const struct sl_group_member *m,
                                                        const char *name, uint32_t len);

uint32_t sl_group_topic_intern(struct sl_group_coordinator *coord, const uint8_t *name,
                               uint32_t len);
void sl_group_topic_unref(struct sl_group_coordinator *coord, uint32_t topic);
uint32_t sl_group_topic_find(const struct sl_group_coordinator *coord, const uint8_t *name,
                             uint32_t len);

uint32_t sl_group_offset_find(const struct sl_group_coordinator *coord, uint32_t group,
                              uint32_t topic, int32_t partition);
/* New offset entry (topic reference taken); NIL when the pool is full. */
uint32_t sl_group_offset_add(struct sl_group_coordinator *coord, uint32_t group, uint32_t topic,
                             int32_t partition);
void sl_group_offset_remove(struct sl_group_coordinator *coord, uint32_t index);

static inline void *sl_group_scratch_alloc(struct sl_group_coordinator *coord, size_t count,
                                           size_t size)
{
    if (count == 0)
        count = 1; /* a valid pointer for empty arrays */
    return sl_codec_arena_alloc(&coord->scratch, count, size);
}

/* ---- membership (group_membership.c) ---- */
/* Removes every member of the group (answering parked requests with @error). */
/* The batches up to @batch_id are durable: groups whose assignment they hold become
 * Stable and answer their parked SyncGroups. */
void sl_group_assignments_persisted(struct sl_group_coordinator *coord, uint64_t batch_id);
/* The coordinator failed: answer every parked JoinGroup / SyncGroup with @error. */
void sl_group_fail_parked(struct sl_group_coordinator *coord, int16_t error);
void sl_group_remove_all_members(struct sl_group_coordinator *coord, uint32_t group, int16_t error);

/* ---- records (group_records.c) ---- */
/* Stage records; return 0 or -ENOSPC (nothing staged for that call). */
struct sl_group_offset_value {
    int64_t offset;
    int32_t leader_epoch;
    struct sl_codec_slice metadata; /* len -1: null */
    int64_t commit_ms;
    int64_t expire_ms; /* -1: none */
};
int sl_group_stage_offset_value(struct sl_group_coordinator *coord, uint32_t group,
                                const uint8_t *topic, uint32_t topic_len, int32_t partition,
                                const struct sl_group_offset_value *value, int64_t now_ms);
int sl_group_stage_offset(struct sl_group_coordinator *coord, uint32_t offset, int64_t now_ms);
int sl_group_stage_offset_tombstone(struct sl_group_coordinator *coord, uint32_t offset,
                                    int64_t now_ms);
int sl_group_stage_group(struct sl_group_coordinator *coord, uint32_t group, int64_t now_ms);
int sl_group_stage_group_tombstone(struct sl_group_coordinator *coord, uint32_t group,
                                   int64_t now_ms);
/* Save/restore the staging batch around a multi-record change (all or nothing). */
struct sl_batch_builder sl_group_stage_save(const struct sl_group_coordinator *coord);
void sl_group_stage_restore(struct sl_group_coordinator *coord,
                            const struct sl_batch_builder *saved, bool was_open);

/* ---- offsets (group_offsets.c) ---- */
/* Completes waiting OffsetCommits of batches <= @batch_id with @error (NONE: as built). */
void sl_group_complete_commits(struct sl_group_coordinator *coord, uint64_t batch_id,
                               int16_t error);
/* Removes an offset with a tombstone; -ENOSPC leaves it in place. */
int sl_group_offset_delete_staged(struct sl_group_coordinator *coord, uint32_t offset,
                                  int64_t now_ms);

/* ---- consumer protocol (consumer_protocol.c) ---- */
/* Whether a ConsumerProtocolSubscription names @topic. False when it does not parse. */
bool sl_group_subscription_has_topic(const uint8_t *sub, uint32_t sub_len, const uint8_t *topic,
                                     uint32_t topic_len);

#endif
