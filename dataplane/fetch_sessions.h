/* Fetch sessions (KIP-227) of one shard: the partitions a client fetches, remembered
 * between its Fetch requests so that an incremental fetch names only what changed and is
 * answered with only what has something to say.
 *
 * A session belongs to the shard of the connection that created it; its id encodes that
 * shard (and its slot), so a fetch arriving on another shard is answered
 * FETCH_SESSION_ID_NOT_FOUND without asking anyone, and the client starts a new session.
 * The cache is a fixed array of slots (max.incremental.fetch.session.cache.slots divided
 * among the shards), each with room for SL_DP_FETCH_SESSION_PARTITIONS_MAX partitions
 * and SL_DP_FETCH_SESSION_NAME_BYTES of topic names. The array is allocated zeroed at
 * shard creation (untouched slots cost address space, not memory). When every slot is in
 * use, a new session takes the least recently used slot if it has been idle for
 * SL_DP_FETCH_SESSION_EVICT_IDLE_MS; otherwise the client is answered sessionless.
 *
 * Everything here belongs to the shard thread (no locks).
 */
#ifndef SL_DP_FETCH_SESSIONS_H
#define SL_DP_FETCH_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "controlplane/metadata_records.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_DP_FETCH_SESSION_PARTITIONS_MAX 256u
#define SL_DP_FETCH_SESSION_NAME_BYTES     4096u
/* Kafka's default min.incremental.fetch.session.eviction.ms. */
#define SL_DP_FETCH_SESSION_EVICT_IDLE_MS 120000

/* How a session names topics: by id (Fetch v13+) or by name (v7-v12). */
struct sl_dp_fetch_key {
    struct sl_md_uuid topic_id; /* by id */
    const char *name;           /* by name: not NUL-terminated */
    uint32_t name_len;
    int32_t partition;
};

struct sl_dp_fetch_session_part {
    struct sl_md_uuid topic_id; /* sessions by id */
    uint16_t name_off;          /* sessions by name: in the session's names */
    uint8_t name_len;
    int32_t partition;
    int32_t max_bytes;
    int64_t fetch_offset;
    /* What the last response said about the partition (-1: never answered). */
    int64_t high_watermark;
    int64_t last_stable_offset;
    int64_t log_start_offset;
};

struct sl_dp_fetch_session {
    int32_t id;    /* 0: free slot */
    int32_t epoch; /* the epoch the next incremental fetch must carry */
    bool by_id;
    int64_t last_used_ms;
    uint32_t part_count;
    uint32_t names_used;
    struct sl_dp_fetch_session_part parts[SL_DP_FETCH_SESSION_PARTITIONS_MAX];
    char names[SL_DP_FETCH_SESSION_NAME_BYTES];
};

struct sl_dp_fetch_sessions {
    struct sl_dp_fetch_session *slots;
    uint32_t slot_count;
    uint32_t shard_id;
    uint32_t shard_count;
    uint32_t open_count;
    uint32_t generation;       /* part of the next id, so a reused slot gets a new id */
    uint32_t generation_limit; /* ids stay within 1..INT32_MAX */
};

/* The share of total_slots that shard_id gets (the remainder goes to the first shards). */
uint32_t sl_dp_fetch_sessions_shard_slots(uint32_t total_slots, uint32_t shard_id,
                                          uint32_t shard_count);

/* Allocates slot_count slots (0 is allowed: every session is refused). Returns false when
 * out of memory or when slot_count * shard_count does not fit the id space (> 2^30).
 * Any thread, before the shard runs. */
bool sl_dp_fetch_sessions_init(struct sl_dp_fetch_sessions *c, uint32_t slot_count,
                               uint32_t shard_id, uint32_t shard_count);
void sl_dp_fetch_sessions_destroy(struct sl_dp_fetch_sessions *c);

/* The open session with this id on this shard, or NULL (unknown, closed, evicted, or a
 * session of another shard). */
struct sl_dp_fetch_session *sl_dp_fetch_session_find(struct sl_dp_fetch_sessions *c, int32_t id);

/* Opens an empty session (epoch 1 expected next) in a free slot, else in the least
 * recently used slot idle for SL_DP_FETCH_SESSION_EVICT_IDLE_MS (*evicted set). NULL
 * when the cache is full. */
struct sl_dp_fetch_session *sl_dp_fetch_session_open(struct sl_dp_fetch_sessions *c, bool by_id,
                                                     int64_t now_ms, bool *evicted);

/* Frees the session's slot; its id is unknown from now on. */
void sl_dp_fetch_session_close(struct sl_dp_fetch_sessions *c, struct sl_dp_fetch_session *sess);

/* Index of the partition named by key in sess, or -1. */
int32_t sl_dp_fetch_session_part_find(const struct sl_dp_fetch_session *sess,
                                      const struct sl_dp_fetch_key *key);

/* Adds the partition (never answered yet) or updates its fetch offset and max bytes.
 * Returns its index, or -1 when the session has no room (partitions or names). */
int32_t sl_dp_fetch_session_part_set(struct sl_dp_fetch_session *sess,
                                     const struct sl_dp_fetch_key *key, int64_t fetch_offset,
                                     int32_t max_bytes);

/* Removes the partition named by key, if present (later partitions keep their order). */
void sl_dp_fetch_session_part_remove(struct sl_dp_fetch_session *sess,
                                     const struct sl_dp_fetch_key *key);

/* The key of the partition at index (its name points into sess). */
struct sl_dp_fetch_key sl_dp_fetch_session_part_key(const struct sl_dp_fetch_session *sess,
                                                    uint32_t index);

/* True when the two keys name the same partition (by id when by_id, else by name). */
bool sl_dp_fetch_key_equal(const struct sl_dp_fetch_key *a, const struct sl_dp_fetch_key *b,
                           bool by_id);

/* The epoch after epoch: 1, 2, ... INT32_MAX, then 1 again (0 means a new session). */
int32_t sl_dp_fetch_session_next_epoch(int32_t epoch);

#ifdef __cplusplus
}
#endif

#endif
