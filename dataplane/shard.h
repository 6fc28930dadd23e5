/* A dataplane shard: one pinned thread running a run-to-completion poll loop that owns
 * its network driver instance, its storage engine, its connections, the partitions it
 * owns (partition -> shard by a stable hash) and its counters.
 *
 * Lifecycle: sl_shard_create (any thread; only allocates) -> sl_shard_run on the shard's
 * own thread (creates the driver and the storage engine there, listens, loops until
 * sl_shard_request_stop, then drains and closes every log cleanly) -> sl_shard_destroy
 * after the thread is joined. sl_shard_request_stop, sl_shard_stats and the delete queue
 * are the only functions other threads may call on a running shard.
 */
#ifndef SL_SHARD_H
#define SL_SHARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "controlplane/config.h"
#include "controlplane/metadata_log.h"
#include "dataplane/dp_stats.h"
#include "drivers/net/net_driver.h"
#include "storage/log.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sl_shard_options {
    uint32_t shard_id;
    uint32_t shard_count;
    int32_t node_id;
    struct sockaddr_storage listen_addr;
    socklen_t listen_addr_len;
    const struct sl_config *config; /* read-only, outlives the shard */
    struct sl_md_log *md_log;       /* image publisher + controller request queue */
    uint32_t md_reader_slot;        /* this shard's publisher slot */
    char log_dir[4096];             /* first entry of log.dirs */
    /* Bounds (all fixed at create time). */
    uint32_t requests_max;          /* request slots of the shard */
    uint32_t inflight_per_conn_max; /* requests in flight per connection */
    uint32_t arena_bytes;           /* decode + response arena per request slot */
    uint32_t tx_bytes;              /* inline response buffer per request slot */
    uint32_t response_bytes_max;    /* largest encoded response (non-record bytes) */
    uint64_t frame_memory_max;      /* bytes of assembled (spanning) frames at once */
    uint64_t frame_cache_bytes_max; /* freed frame buffers kept for reuse */
    uint32_t partitions_max;        /* partitions this shard may own */
    uint32_t md_requests_max;       /* controller requests in flight from this shard */
    uint32_t delete_queue_max;      /* partition directories waiting for removal */
    uint32_t ring_capacity;         /* partition ops in flight from one shard to another */
    uint32_t fetch_session_slots;   /* fetch sessions of the whole broker (divided by shards) */
    struct sl_storage_config storage;
    bool hugepages_required; /* memory.hugepages=on: no hugepages for the pool = no start */
};

struct sl_shard;

/* Fills the bounds of opts with defaults derived from cfg (socket.request.max.bytes,
 * storage.cache.bytes, ...). Identity fields are left to the caller. */
void sl_shard_options_default(struct sl_shard_options *opts, const struct sl_config *cfg);

/* Allocates a shard (no I/O yet). Returns 0 and *out, or -ENOMEM / -EINVAL. */
int sl_shard_create(const struct sl_shard_options *opts, struct sl_shard **out);

/* Connects the shards of one broker before any of them runs: shards[i] must have
 * shard_id i, and drained must outlive them all (shared stop bookkeeping, initially 0).
 * Single-threaded setup. */
void sl_shard_set_peers(struct sl_shard **shards, uint32_t count, atomic_uint *drained);

/* Runs the shard on the calling thread until stopped. Returns 0 after a clean stop, or
 * a negative errno when setup failed (listen, io_uring, memory); *err explains. Ready
 * (listening) is signalled through sl_shard_is_ready. */
int sl_shard_run(struct sl_shard *shard, char *err, size_t err_size);

/* True once the shard listens and serves. Any thread. */
bool sl_shard_is_ready(const struct sl_shard *shard);
/* The port the shard listens on (after ready). Any thread. */
uint16_t sl_shard_port(const struct sl_shard *shard);
/* Whether the storage pool got hugepages (after ready). Any thread. */
bool sl_shard_hugepages(const struct sl_shard *shard);

/* Asks the shard to stop: it stops accepting, finishes in-flight requests (bounded by
 * a grace period), closes every log (flush) and returns from sl_shard_run. Any thread. */
void sl_shard_request_stop(struct sl_shard *shard);

/* The shard's counters (written by the shard only; readers may see torn values). */
const struct sl_dp_stats *sl_shard_stats(const struct sl_shard *shard);

/* The shard's network driver counters and storage engine stats, for the stats socket:
 * written by the shard only, valid from ready until sl_shard_request_stop (NULL before).
 * Readers on other threads may see torn or slightly stale values. */
const struct sl_net_counters *sl_shard_net_counters(const struct sl_shard *shard);
const struct sl_storage_stats *sl_shard_storage_stats(const struct sl_shard *shard);

/* Takes the next partition directory the shard closed for a deleted topic, copying its
 * path into out (control-plane side, which removes it). Returns false when empty.
 * Single consumer thread. */
bool sl_shard_take_deleted_dir(struct sl_shard *shard, char *out, size_t out_size);

/* Frees a shard whose run returned (or never ran). */
void sl_shard_destroy(struct sl_shard *shard);

#ifdef __cplusplus
}
#endif

#endif
