/* The classic consumer-group coordinator of one offsets partition (Kafka's
 * `__consumer_offsets` idea): membership (JoinGroup, SyncGroup, Heartbeat, LeaveGroup),
 * committed offsets (OffsetCommit, OffsetFetch, OffsetDelete) and administration
 * (DescribeGroups, ListGroups, DeleteGroups), with its state persisted as records of an
 * internal log the caller owns. See docs/groups.md.
 *
 * Threading: one coordinator belongs to one shard thread; every function must be called
 * from it. No locks, no syscalls, no allocation after sl_group_coordinator_create: every
 * group, member, offset and pending request lives in a pool sized by struct
 * sl_group_config; a full pool is a Kafka error code, never a crash.
 *
 * Time: every call takes now_ms from the caller's clock (monotonic or wall; the same one
 * throughout). sl_group_coordinator_tick() runs the timers.
 *
 * Requests are the codec's decoded request structs; responses are the codec's response
 * structs, delivered through the callbacks in struct sl_group_callbacks. Every slice and
 * array of a response stays valid only until the callback returns: the handler encodes
 * inside the callback. Callbacks run inside coordinator calls (join, sync, leave, tick,
 * persisted ...) and must not call back into the coordinator. Request structs (and the
 * bytes they point into) are only read
 * during the call; nothing keeps a pointer to them.
 *
 * Persistence: state changes append records (Kafka's offsets-topic key/value layouts) to
 * an internal staging batch. The caller takes it with sl_group_coordinator_take_batch(),
 * appends it to the offsets partition log, and reports durability with
 * sl_group_coordinator_persisted(). OffsetCommit responses wait for that.
 */
#ifndef SL_GROUP_COORDINATOR_H
#define SL_GROUP_COORDINATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/codec/codec_messages.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sl_group_coordinator;

/* Largest lengths kept per string; longer input is refused with INVALID_REQUEST
 * (group ids: INVALID_GROUP_ID; topic names are at most 249 in Kafka). */
#define SL_GROUP_ID_BYTES_MAX            255u
#define SL_GROUP_MEMBER_ID_BYTES_MAX     255u
#define SL_GROUP_INSTANCE_ID_BYTES_MAX   255u
#define SL_GROUP_CLIENT_ID_BYTES_MAX     255u
#define SL_GROUP_CLIENT_HOST_BYTES_MAX   64u
#define SL_GROUP_PROTOCOL_TYPE_BYTES_MAX 64u
#define SL_GROUP_PROTOCOL_BYTES_MAX      64u
#define SL_GROUP_TOPIC_BYTES_MAX         249u
/* Protocols one member may offer in a JoinGroup (clients send 1-3). */
#define SL_GROUP_MEMBER_PROTOCOLS_MAX 8u

/* Delivers a JoinGroup response (now or after the rebalance). @req_ctx is the pointer
 * given with the request; @resp and everything it references are valid until return. */
typedef void (*sl_group_join_done_fn)(void *ctx, void *req_ctx,
                                      const struct sl_codec_join_group_response *resp);
typedef void (*sl_group_sync_done_fn)(void *ctx, void *req_ctx,
                                      const struct sl_codec_sync_group_response *resp);
typedef void (*sl_group_commit_done_fn)(void *ctx, void *req_ctx,
                                        const struct sl_codec_offset_commit_response *resp);
/* Whether a topic still exists (for the cleanup of offsets of deleted topics). */
typedef bool (*sl_group_topic_exists_fn)(void *ctx, const char *topic, uint32_t topic_len);

struct sl_group_callbacks {
    sl_group_join_done_fn join_done;
    sl_group_sync_done_fn sync_done;
    sl_group_commit_done_fn commit_done;
    sl_group_topic_exists_fn topic_exists; /* NULL: topics are never considered deleted */
    void *ctx;
};

struct sl_group_config {
    uint32_t groups_max;     /* groups this partition can hold (256) */
    uint32_t members_max;    /* member slots over all groups, pending ids included (1024) */
    uint32_t group_size_max; /* group.max.size (INT32_MAX in Kafka; here 1000) */
    uint32_t offsets_max;    /* committed (group, topic, partition) entries (16384) */
    uint32_t topics_max;     /* distinct topic names among the offsets (1024) */
    uint32_t member_metadata_bytes_max;   /* protocol names + metadata per member (4096) */
    uint32_t member_assignment_bytes_max; /* assignment per member (4096) */
    uint32_t offset_metadata_bytes_max;   /* offset.metadata.max.bytes (4096 in Kafka; 256) */
    uint32_t pending_commits_max;         /* OffsetCommits waiting for durability (1024) */
    uint32_t pending_commit_bytes;        /* their stored responses (256 KiB) */
    uint32_t scratch_bytes;               /* arena for immediate responses (256 KiB) */
    uint32_t batch_bytes;                 /* staging record batch (256 KiB) */
    int32_t session_timeout_ms_min;       /* group.min.session.timeout.ms (6000) */
    int32_t session_timeout_ms_max;       /* group.max.session.timeout.ms (1800000) */
    int32_t initial_rebalance_delay_ms;   /* group.initial.rebalance.delay.ms (3000) */
    int64_t offsets_retention_ms;         /* offsets.retention.minutes * 60000 (7 days) */
    uint64_t member_id_seed;              /* mixed into generated member ids (any value) */
};

/* Fills @config with the defaults noted on each field. Any thread. */
void sl_group_config_default(struct sl_group_config *config);

/* Allocates a coordinator and all its pools (the only allocation it ever makes). The
 * callbacks are copied. Caller owns *out until sl_group_coordinator_destroy. Returns 0,
 * -EINVAL for a config out of range (zero sizes, min > max timeout) or -ENOMEM. */
int sl_group_coordinator_create(const struct sl_group_config *config,
                                const struct sl_group_callbacks *callbacks,
                                struct sl_group_coordinator **out);

/* Frees everything. Requests still waiting are dropped without a callback (the caller is
 * tearing down its connections too). */
void sl_group_coordinator_destroy(struct sl_group_coordinator *coord);

/* Kafka's placement of a group on the offsets topic: abs(Java String.hashCode(group_id))
 * % partition_count, the hash taken over UTF-16 code units of the UTF-8 @group_id so that
 * clients and tools agree with Kafka. Invalid UTF-8 bytes count as U+FFFD (as Java's
 * decoder does). Pure. */
int32_t sl_group_partition_for(const uint8_t *group_id, size_t len, int32_t partition_count);

/* ---- membership ------------------------------------------------------------------- */

/* JoinGroup of @version. @client_id / @client_host identify the connection (kept for
 * DescribeGroups). The response arrives through callbacks.join_done, either before this
 * returns (errors, MEMBER_ID_REQUIRED, a member that is already in sync) or later when
 * the rebalance completes (on a later join, leave or tick). */
void sl_group_join(struct sl_group_coordinator *coord,
                   const struct sl_codec_join_group_request *req, int16_t version,
                   struct sl_codec_slice client_id, struct sl_codec_slice client_host,
                   int64_t now_ms, void *req_ctx);

/* SyncGroup: answered through callbacks.sync_done now (errors, Stable group) or once the
 * leader's assignment is durable (sl_group_coordinator_persisted of the batch holding
 * the group record), or with REBALANCE_IN_PROGRESS if the group rebalances first. */
void sl_group_sync(struct sl_group_coordinator *coord,
                   const struct sl_codec_sync_group_request *req, int16_t version, int64_t now_ms,
                   void *req_ctx);

/* Heartbeat: fills @resp (no arrays). */
void sl_group_heartbeat(struct sl_group_coordinator *coord,
                        const struct sl_codec_heartbeat_request *req, int16_t version,
                        int64_t now_ms, struct sl_codec_heartbeat_response *resp);

/* LeaveGroup (v0-2 one member id, v3+ a batch of member ids / instance ids). Fills
 * @resp; its member array lives in the coordinator's scratch arena and stays valid until
 * the next call into the coordinator. */
void sl_group_leave(struct sl_group_coordinator *coord,
                    const struct sl_codec_leave_group_request *req, int16_t version, int64_t now_ms,
                    struct sl_codec_leave_group_response *resp);

/* ---- offsets ---------------------------------------------------------------------- */

/* OffsetCommit: validates, updates the offsets in memory, stages the records, and calls
 * callbacks.commit_done once the batch holding them is reported durable by
 * sl_group_coordinator_persisted() (or at once when nothing is written, e.g. every
 * partition failed validation). */
void sl_group_offset_commit(struct sl_group_coordinator *coord,
                            const struct sl_codec_offset_commit_request *req, int16_t version,
                            int64_t now_ms, void *req_ctx);

/* OffsetFetch (one group v0-7, several v8+; listed partitions or all with null topics).
 * Fills @resp; arrays live in the scratch arena until the next call. */
void sl_group_offset_fetch(struct sl_group_coordinator *coord,
                           const struct sl_codec_offset_fetch_request *req, int16_t version,
                           struct sl_codec_offset_fetch_response *resp);

/* OffsetDelete. Fills @resp (scratch arena) and stages tombstones. */
void sl_group_offset_delete(struct sl_group_coordinator *coord,
                            const struct sl_codec_offset_delete_request *req, int16_t version,
                            int64_t now_ms, struct sl_codec_offset_delete_response *resp);

/* ---- administration --------------------------------------------------------------- */

void sl_group_describe(struct sl_group_coordinator *coord,
                       const struct sl_codec_describe_groups_request *req, int16_t version,
                       struct sl_codec_describe_groups_response *resp);

void sl_group_list(struct sl_group_coordinator *coord,
                   const struct sl_codec_list_groups_request *req, int16_t version,
                   struct sl_codec_list_groups_response *resp);

/* DeleteGroups: empty groups are removed with tombstones for their offsets and metadata. */
void sl_group_delete(struct sl_group_coordinator *coord,
                     const struct sl_codec_delete_groups_request *req, int16_t version,
                     int64_t now_ms, struct sl_codec_delete_groups_response *resp);

/* ---- timers and cleanup ----------------------------------------------------------- */

/* Expires member sessions and pending member ids, completes joins whose rebalance
 * timeout or initial delay passed, and removes members that never sent SyncGroup within
 * the rebalance timeout. Cheap enough to call every few ms; O(groups + members). */
void sl_group_coordinator_tick(struct sl_group_coordinator *coord, int64_t now_ms);

struct sl_group_cleanup_report {
    uint32_t offsets_expired;        /* retention passed */
    uint32_t offsets_deleted_topics; /* topic no longer exists */
    uint32_t groups_removed;         /* empty groups left with no offsets */
};

/* Offsets retention (offsets.retention.minutes after a group became Empty, or an
 * explicit v2-4 retention), offsets of deleted topics (callbacks.topic_exists), and
 * removal of Empty groups that hold no offsets any more; all with tombstones. O(offsets):
 * call it rarely (Kafka: offsets.retention.check.interval.ms, 10 minutes). @report may be
 * NULL. Stops early, leaving the rest for the next call, when the staging batch is full. */
void sl_group_coordinator_cleanup(struct sl_group_coordinator *coord, int64_t now_ms,
                                  struct sl_group_cleanup_report *report);

/* ---- persistence ------------------------------------------------------------------ */

/* Finishes the staging batch (if it holds records) into @buf (@cap_bytes >=
 * config.batch_bytes always suffices) and starts a new one. *batch_id receives the id to
 * report to sl_group_coordinator_persisted. Returns the batch size in bytes, 0 when
 * nothing is staged, or -ENOSPC when @cap_bytes is too small (the batch stays staged). */
int64_t sl_group_coordinator_take_batch(struct sl_group_coordinator *coord, uint8_t *buf,
                                        size_t cap_bytes, uint64_t *batch_id);

/* Reports that every batch up to and including @batch_id is durable (@ok) or could not
 * be written (!@ok). Completes the OffsetCommits and SyncGroups waiting on them. After a
 * failure the coordinator is failed: every waiting request (commits, parked joins and
 * syncs) and every later one gets NOT_COORDINATOR (clients look for the coordinator
 * again) until the caller rebuilds a coordinator from the log. Callbacks run inside. */
void sl_group_coordinator_persisted(struct sl_group_coordinator *coord, uint64_t batch_id, bool ok);

/* Replays batches read from the offsets partition (concatenated v2 batches, e.g. one
 * sl_log_read result) into a coordinator that serves no requests yet: the latest value
 * per key wins, null values delete. Loaded groups with members are Stable and their
 * members get a fresh session (now_ms + session timeout). Returns 0, -EBADMSG for a batch
 * or record that does not parse (the state holds everything before it), -ENOSPC when a
 * pool is too small for the log. Record keys of unknown versions are skipped. */
int sl_group_coordinator_load(struct sl_group_coordinator *coord, const uint8_t *batches,
                              size_t len, int64_t now_ms);

/* Where a snapshot stands; zero-initialise before the first call. */
struct sl_group_snapshot_cursor {
    uint32_t phase; /* 0 groups, 1 offsets, 2 done */
    uint32_t index;
};

/* Writes the current state (one record per live key, no tombstones) as one v2 batch into
 * @buf and advances @cursor. Call until it returns 0. Once every batch is durable in a
 * new segment, the older segments of the offsets log can be deleted: replaying the
 * snapshot alone gives the same state ("keep only the latest value per key"). Returns
 * the batch size, 0 when done, -ENOSPC when @cap_bytes cannot hold one record. */
int64_t sl_group_coordinator_snapshot(struct sl_group_coordinator *coord,
                                      struct sl_group_snapshot_cursor *cursor, uint8_t *buf,
                                      size_t cap_bytes, int64_t now_ms);

/* ---- introspection (tests, stats) ------------------------------------------------- */

enum sl_group_state {
    SL_GROUP_EMPTY = 0,
    SL_GROUP_PREPARING_REBALANCE,
    SL_GROUP_COMPLETING_REBALANCE,
    SL_GROUP_STABLE,
    SL_GROUP_DEAD,
};

/* Kafka's name of a state ("Empty", "PreparingRebalance", ...). */
const char *sl_group_state_name(enum sl_group_state state);

struct sl_group_info {
    enum sl_group_state state;
    int32_t generation;
    uint32_t member_count;
    char protocol_type[SL_GROUP_PROTOCOL_TYPE_BYTES_MAX + 1]; /* "" when none */
    char protocol[SL_GROUP_PROTOCOL_BYTES_MAX + 1];           /* "" when none */
    char leader[SL_GROUP_MEMBER_ID_BYTES_MAX + 1];            /* "" when none */
    uint32_t offset_count;
};

/* Fills @info for a group. Returns 0 or -ENOENT. */
int sl_group_coordinator_group_info(const struct sl_group_coordinator *coord, const char *group_id,
                                    struct sl_group_info *info);

/* Walks every pool and list and asserts the internal invariants (counts, links, hash
 * chains, states versus parked requests, topic references). O(everything): for tests and
 * debugging; aborts through SL_ASSERT on a violation. */
void sl_group_coordinator_check(const struct sl_group_coordinator *coord);

struct sl_group_counters {
    uint64_t rebalances;       /* joins completed */
    uint64_t sessions_expired; /* members removed for missing heartbeats */
    uint64_t pool_full;        /* requests refused because a pool was full */
    uint64_t batches_taken;
    uint64_t records_staged;
    uint64_t records_loaded;
};

const struct sl_group_counters *
sl_group_coordinator_counters(const struct sl_group_coordinator *coord);

#ifdef __cplusplus
}
#endif

#endif
