/* The consumer-group coordinators a shard hosts: one per partition of the internal
 * offsets log `__consumer_offsets` (offsets.topic.num.partitions) that this shard owns
 * (partition % shard count). The host opens each partition's log at startup, replays it
 * into a fresh coordinator, runs the durability cycle (take_batch -> sl_log_append ->
 * persisted once the written or durable end passes, per the flush policy), and drives
 * the coordinators' timers (tick, cleanup). See docs/groups.md, "Broker wiring".
 *
 * Shard thread only (each shard has its own host; other shards reach a coordinator
 * through partition ops, dataplane/handlers/groups.c).
 */
#ifndef SL_DP_GROUP_HOST_H
#define SL_DP_GROUP_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dataplane/codec/codec.h"
#include "dataplane/groups/group_coordinator.h"
#include "storage/log.h"

struct sl_shard;

/* Name of the internal topic (directories <log.dirs>/__consumer_offsets-<n>). */
#define SL_DP_OFFSETS_TOPIC "__consumer_offsets"

/* Whether `name` is the internal offsets topic: its logs belong to the group host, not to
 * the partition machinery, and clients cannot produce to, read or delete it. */
static inline bool sl_dp_is_offsets_topic(const char *name)
{
    return strcmp(name, SL_DP_OFFSETS_TOPIC) == 0;
}
/* Batches appended but not yet reported persisted, per offsets partition. */
#define SL_DP_GROUP_INFLIGHT_MAX 64u

struct sl_dp_group_inflight {
    uint64_t batch_id;
    int64_t end_offset; /* log end offset after the append */
    bool wait_durable;  /* the flush policy asked for fdatasync */
};

struct sl_dp_group_part {
    int32_t partition;
    struct sl_log *log;
    struct sl_group_coordinator *coord;
    bool failed;       /* a write failed: the coordinator answers NOT_COORDINATOR */
    bool write_failed; /* set by the progress callback, handled by the poll */
    bool stop_failed;  /* stopping: waiting requests were released */
    struct sl_dp_group_inflight inflight[SL_DP_GROUP_INFLIGHT_MAX];
    uint32_t inflight_head;
    uint32_t inflight_count;
    /* Keeping the log bounded: bytes appended since the last snapshot; a snapshot
     * [snapshot_start, snapshot_end) waiting to be durable before the start moves. */
    uint64_t appended_bytes;
    bool snapshot_pending;
    int64_t snapshot_start;
    int64_t snapshot_end;
};

struct sl_dp_group_host {
    int32_t partition_count; /* offsets.topic.num.partitions */
    uint32_t part_count;     /* hosted here */
    struct sl_dp_group_part *parts;
    uint8_t *batch_buf;
    size_t batch_cap_bytes;
    uint64_t compact_after_bytes; /* offsets.topic.segment.bytes */
    int64_t next_tick_ms;
    int64_t next_cleanup_ms;
};

/* Opens the offsets partitions this shard owns and loads them (blocking file I/O; at
 * startup on the shard thread, after the storage engine exists). Returns 0 or a negative
 * errno with *err filled. The host is freed by sl_dp_group_host_stop. */
int sl_dp_group_host_start(struct sl_shard *s, char *err, size_t err_size);

/* One loop pass: appends staged records, reports persisted batches, runs tick and
 * cleanup timers, and while the shard drains releases waiting group requests once
 * nothing is in flight. Returns the work done (0 = idle). */
uint32_t sl_dp_group_host_poll(struct sl_shard *s);

/* Destroys the coordinators (waiting requests are dropped) and closes the logs. */
void sl_dp_group_host_stop(struct sl_shard *s);

/* Offsets partition of a group id (Kafka's placement; a null id counts as ""). Any shard. */
int32_t sl_dp_group_partition(const struct sl_shard *s, struct sl_codec_slice group_id);

/* The shard owning an offsets partition. */
uint32_t sl_dp_group_owner(const struct sl_shard *s, int32_t offsets_partition);

/* The broker coordinating the groups of an offsets partition according to the shard's
 * current image: the leader of that partition of __consumer_offsets. -1 when the topic
 * does not exist (yet), the partition has no leader, or its leader is fenced or
 * unregistered. Shard thread. */
int32_t sl_dp_group_coordinator_node(const struct sl_shard *s, int32_t offsets_partition);

/* Asks the controller to create __consumer_offsets (offsets.topic.num.partitions
 * partitions, replication factor 1, compacted), Kafka's lazy creation on the first
 * FindCoordinator. Fire and forget: at most one such request per shard is in flight; a
 * full controller queue or a failure is retried by the next call. Shard thread. */
void sl_dp_group_create_offsets_topic(struct sl_shard *s);

/* The coordinator of an offsets partition if this broker coordinates it, this shard hosts
 * it and it serves, else NULL. */
struct sl_group_coordinator *sl_dp_group_coordinator(struct sl_shard *s, int32_t offsets_partition);

/* Wall-clock milliseconds (commit timestamps and retention survive restarts). */
int64_t sl_dp_group_now_ms(void);

/* Delivery of deferred coordinator responses (dataplane/handlers/groups.c). */
void sl_dp_groups_join_done(void *ctx, void *req_ctx,
                            const struct sl_codec_join_group_response *resp);
void sl_dp_groups_sync_done(void *ctx, void *req_ctx,
                            const struct sl_codec_sync_group_response *resp);
void sl_dp_groups_commit_done(void *ctx, void *req_ctx,
                              const struct sl_codec_offset_commit_response *resp);

#endif
