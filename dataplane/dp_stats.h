/* Per-shard dataplane counters, read by the stats socket.
 *
 * One struct per shard, cache-line aligned, written only by its shard thread with plain
 * stores. Readers on other threads (the stats server) may see torn or slightly stale
 * values; on x86-64 aligned 64-bit loads do not tear, and every counter only grows
 * (except the gauges noted below). docs/stats.md lists every counter.
 */
#ifndef SL_DP_STATS_H
#define SL_DP_STATS_H

#include <stdint.h>

#include "common/sl_compiler.h"

#define SL_DP_STATS_API_KEYS    64  /* api_key 0..63 counted per key; higher keys in [63] */
#define SL_DP_STATS_ERROR_CODES 130 /* Kafka error code + 1 (index 0 = code -1) */

struct sl_dp_api_counters {
    uint64_t requests;
    uint64_t request_bytes;  /* frame bytes, size prefix excluded */
    uint64_t response_bytes; /* bytes handed to the driver, size prefix included */
};

struct SL_CACHE_ALIGNED sl_dp_stats {
    uint64_t connections_accepted;
    uint64_t connections_closed;
    uint64_t connections_open;             /* gauge */
    uint64_t connections_closed_mid_frame; /* peer closed with a frame partly received */
    uint64_t frames_rejected_too_large;    /* size prefix above socket.request.max.bytes */
    uint64_t frames_rejected_malformed;    /* codec decode errors (connection closed) */
    uint64_t frames_rejected_unknown_api;  /* unknown API key or unsupported version: closed */
    uint64_t requests_trailing_bytes;      /* requests with bytes after the body (ignored) */
    uint64_t frames_assembled_copy;        /* frames spanning receive buffers (copied/recv_exact) */
    uint64_t frames_zero_copy;             /* frames decoded in place in a receive buffer */
    uint64_t backpressure_request_slots;   /* parsing paused: no free request slot */
    uint64_t backpressure_frame_memory;    /* parsing paused: frame memory budget used up */
    uint64_t backpressure_inflight;        /* parsing paused: per-connection in-flight bound */
    uint64_t backpressure_send;            /* response waits for driver send space */
    uint64_t produce_records;              /* records appended (sum of batch record counts) */
    uint64_t produce_batches;
    uint64_t produce_bytes;
    uint64_t produce_storage_retries; /* appends retried after NO_BUFFER/BUSY */
    uint64_t produce_duplicates;      /* idempotent retries answered with their offset */
    uint64_t fetch_bytes;             /* record bytes sent zero-copy */
    uint64_t fetch_parked;            /* fetches that waited for min_bytes */
    uint64_t fetch_cold_reads;        /* partition reads that went to disk */
    uint64_t fetch_sessions_created;  /* KIP-227 sessions opened */
    uint64_t fetch_sessions_closed;   /* closed by their client (epoch -1 or a new session) */
    uint64_t fetch_sessions_evicted;  /* idle sessions dropped to make room for a new one */
    uint64_t fetch_sessions_refused;  /* cache full or session too large: answered sessionless */
    uint64_t fetch_sessions_open;     /* gauge */
    uint64_t fetch_incremental;       /* incremental fetches served */
    uint64_t partitions_open;         /* gauge */
    uint64_t partitions_opened;
    uint64_t partitions_closed;
    uint64_t partition_open_errors;
    uint64_t partition_config_changes;   /* open logs given a changed topic/broker config */
    uint64_t retention_segments_deleted; /* segments removed by retention.ms/retention.bytes */
    uint64_t md_submit_full;             /* control-plane queue refused a request */
    uint64_t requests_in_flight;         /* gauge */
    uint64_t loop_iterations;
    uint64_t loop_idle_waits;
    struct sl_dp_api_counters api[SL_DP_STATS_API_KEYS];
    uint64_t errors[SL_DP_STATS_ERROR_CODES]; /* partition/topic level error codes answered */
};

static inline void sl_dp_stats_error(struct sl_dp_stats *s, int code)
{
    if (code >= -1 && code < SL_DP_STATS_ERROR_CODES - 1)
        s->errors[code + 1]++;
}

static inline struct sl_dp_api_counters *sl_dp_stats_api(struct sl_dp_stats *s, int api_key)
{
    if (api_key < 0 || api_key >= SL_DP_STATS_API_KEYS)
        api_key = SL_DP_STATS_API_KEYS - 1;
    return &s->api[api_key];
}

#endif
