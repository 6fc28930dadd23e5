/* The stats socket server. See stats_server.h and docs/stats.md. */
#include "sluiced/stats_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "dataplane/codec/codec.h"
#include "dataplane/codec/kafka_errors.h"

int sl_stats_server_open(struct sl_stats_server *srv, const char *path, struct sl_shard **shards,
                         uint32_t shard_count, int32_t node_id, const struct sl_md_log *md_log,
                         char *err, size_t err_size)
{
    memset(srv, 0, sizeof(*srv));
    srv->fd = -1;
    srv->md_log = md_log;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        snprintf(err, err_size, "stats.socket '%s' is longer than %zu bytes", path,
                 sizeof(addr.sun_path) - 1);
        return -ENAMETOOLONG;
    }
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_size, "stats socket: %s", strerror(errno));
        return -errno;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 16) != 0) {
        int e = errno;
        snprintf(err, err_size, "stats.socket '%s': %s", path, strerror(e));
        close(fd);
        return -e;
    }
    srv->fd = fd;
    snprintf(srv->path, sizeof(srv->path), "%s", path);
    srv->shards = shards;
    srv->shard_count = shard_count;
    srv->node_id = node_id;
    return 0;
}

void sl_stats_server_close(struct sl_stats_server *srv)
{
    if (srv->fd >= 0) {
        close(srv->fd);
        unlink(srv->path);
        srv->fd = -1;
    }
}

/* clang-format off */
#define SL_STATS_FIELDS(X)         \
    X(connections_accepted)        \
    X(connections_closed)          \
    X(connections_open)            \
    X(connections_closed_mid_frame) \
    X(frames_rejected_too_large)   \
    X(frames_rejected_malformed)   \
    X(frames_rejected_unknown_api) \
    X(requests_trailing_bytes)     \
    X(frames_assembled_copy)       \
    X(frames_zero_copy)            \
    X(backpressure_request_slots)  \
    X(backpressure_frame_memory)   \
    X(backpressure_inflight)       \
    X(backpressure_send)           \
    X(produce_records)             \
    X(produce_batches)             \
    X(produce_bytes)               \
    X(produce_storage_retries)     \
    X(produce_duplicates)          \
    X(fetch_bytes)                 \
    X(fetch_parked)                \
    X(fetch_cold_reads)            \
    X(fetch_sessions_created)      \
    X(fetch_sessions_closed)       \
    X(fetch_sessions_evicted)      \
    X(fetch_sessions_refused)      \
    X(fetch_sessions_open)         \
    X(fetch_incremental)           \
    X(partitions_open)             \
    X(partitions_opened)           \
    X(partitions_closed)           \
    X(partition_open_errors)       \
    X(partition_config_changes)    \
    X(retention_segments_deleted)  \
    X(md_submit_full)              \
    X(requests_in_flight)          \
    X(loop_iterations)             \
    X(loop_idle_waits)
/* clang-format on */

/* One "name":value member of a JSON object; *sep is "" before the first. */
static void write_u64(FILE *out, const char **sep, const char *name, uint64_t value)
{
    fprintf(out, "%s\"%s\":%llu", *sep, name, (unsigned long long)value);
    *sep = ",";
}

static void write_shard(FILE *out, const struct sl_dp_stats *st)
{
    /* A snapshot copy first, so one shard's numbers come from (nearly) one moment. */
    struct sl_dp_stats s;
    memcpy(&s, st, sizeof(s));
    const char *sep = "";
#define SL_STATS_FIELD_OUT(name) write_u64(out, &sep, #name, s.name);
    SL_STATS_FIELDS(SL_STATS_FIELD_OUT)
#undef SL_STATS_FIELD_OUT
    fprintf(out, ",\"requests\":{");
    sep = "";
    for (int k = 0; k < SL_DP_STATS_API_KEYS; k++) {
        if (s.api[k].requests == 0)
            continue;
        const struct sl_codec_api *api = sl_codec_api_find((int16_t)k);
        fprintf(out,
                "%s\"%s\":{\"api_key\":%d,\"count\":%llu,\"request_bytes\":%llu,"
                "\"response_bytes\":%llu}",
                sep, api ? api->name : "other", k, (unsigned long long)s.api[k].requests,
                (unsigned long long)s.api[k].request_bytes,
                (unsigned long long)s.api[k].response_bytes);
        sep = ",";
    }
    fprintf(out, "},\"errors\":{");
    sep = "";
    for (int i = 0; i < SL_DP_STATS_ERROR_CODES; i++) {
        if (s.errors[i] == 0)
            continue;
        fprintf(out, "%s\"%s\":%llu", sep, sl_kafka_error_name((int16_t)(i - 1)),
                (unsigned long long)s.errors[i]);
        sep = ",";
    }
    fprintf(out, "}");
}

/* clang-format off */
#define SL_STATS_NET_FIELDS(X) \
    X(accepts)                 \
    X(accepts_rejected_full)   \
    X(closes)                  \
    X(closes_peer)             \
    X(closes_error)            \
    X(rx_bytes)                \
    X(rx_bufs_delivered)       \
    X(rx_exact_bytes)          \
    X(rx_exact_copied_bytes)   \
    X(rx_head_probes)          \
    X(rx_buf_exhausted)        \
    X(rx_backpressure_pauses)  \
    X(tx_bytes)                \
    X(tx_sends_plain)          \
    X(tx_sends_zc)             \
    X(tx_zc_fallbacks)         \
    X(tx_zc_copied)            \
    X(tx_queue_full)           \
    X(errors_accept)           \
    X(errors_recv)             \
    X(errors_send)
/* clang-format on */

/* clang-format off */
#define SL_STATS_STORAGE_FIELDS(X) \
    X(chunk_bytes)                 \
    X(chunks_total)                \
    X(chunks_free)                 \
    X(cache_hits)                  \
    X(cache_misses)                \
    X(cache_evictions)             \
    X(cache_pinned_skips)          \
    X(no_buffer)                   \
    X(sqe_full)                    \
    X(completions)                  \
    X(fixed_io)                    \
    X(prefetches)
/* clang-format on */

static void write_driver_and_storage(FILE *out, const struct sl_shard *shard)
{
    const struct sl_net_counters *nc = sl_shard_net_counters(shard);
    if (nc != NULL) {
        struct sl_net_counters n;
        memcpy(&n, nc, sizeof(n));
        const char *sep = "";
        fprintf(out, ",\"net\":{");
#define SL_STATS_NET_OUT(name) write_u64(out, &sep, #name, n.name);
        SL_STATS_NET_FIELDS(SL_STATS_NET_OUT)
#undef SL_STATS_NET_OUT
        fprintf(out, "}");
    }
    const struct sl_storage_stats *sc = sl_shard_storage_stats(shard);
    if (sc != NULL) {
        struct sl_storage_stats st;
        memcpy(&st, sc, sizeof(st));
        fprintf(out,
                ",\"storage\":{\"hugepage_backed\":%s,\"direct_io\":%s,\"fixed_buffers\":%s,"
                "\"writev_fixed\":%s,\"tail_shared_memory\":%s",
                st.hugepage_backed ? "true" : "false", st.direct_io ? "true" : "false",
                st.fixed_buffers ? "true" : "false", st.writev_fixed ? "true" : "false",
                st.tail_shared_memory ? "true" : "false");
        const char *sep = ","; /* after the flags above */
#define SL_STATS_STORAGE_OUT(name) write_u64(out, &sep, #name, st.name);
        SL_STATS_STORAGE_FIELDS(SL_STATS_STORAGE_OUT)
#undef SL_STATS_STORAGE_OUT
        fprintf(out, "}");
    }
}

#define SL_STATS_RPC_FIELDS(X)                                                                     \
    X(raft_connections)                                                                            \
    X(rpc_connections)                                                                             \
    X(refused_connections)                                                                         \
    X(bad_handshakes)                                                                              \
    X(bad_frames)                                                                                  \
    X(requests_served)                                                                             \
    X(requests_forwarded)                                                                          \
    X(forward_retries)                                                                             \
    X(forward_timeouts)

static void write_controller_rpc(FILE *out, const struct sl_md_log *log)
{
    struct sl_md_log_rpc_stats r;
    sl_md_log_get_rpc_stats(log, &r);
    const char *sep = "";
    fprintf(out, ",\"controller_rpc\":{");
#define SL_STATS_RPC_OUT(name) write_u64(out, &sep, #name, r.name);
    SL_STATS_RPC_FIELDS(SL_STATS_RPC_OUT)
#undef SL_STATS_RPC_OUT
    fprintf(out, "}");
}

static void write_stats(struct sl_stats_server *srv, FILE *out)
{
    fprintf(out, "{\"node_id\":%d,\"shards\":[", srv->node_id);
    for (uint32_t i = 0; i < srv->shard_count; i++) {
        fprintf(out, "%s{\"shard\":%u,", i ? "," : "", i);
        write_shard(out, sl_shard_stats(srv->shards[i]));
        write_driver_and_storage(out, srv->shards[i]);
        fprintf(out, "}");
    }
    fprintf(out, "]");
    if (srv->md_log != NULL)
        write_controller_rpc(out, srv->md_log);
    fprintf(out, "}\n");
}

void sl_stats_server_serve_one(struct sl_stats_server *srv)
{
    int c = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return;
    struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char req[1024];
    size_t have = 0;
    while (have < sizeof(req) - 1) {
        ssize_t n = recv(c, req + have, sizeof(req) - 1 - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
        if (memchr(req, '}', have) != NULL || memchr(req, '\n', have) != NULL)
            break;
    }
    req[have] = '\0';
    char *body = NULL;
    size_t body_len = 0;
    FILE *out = open_memstream(&body, &body_len);
    if (out == NULL) {
        close(c);
        return;
    }
    if (strstr(req, "\"/stats\"") != NULL)
        write_stats(srv, out);
    else if (strstr(req, "\"/help\"") != NULL)
        fprintf(out, "{\"commands\":[\"/stats\",\"/help\"]}\n");
    else
        fprintf(out, "{\"error\":\"unknown command; send {\\\"cmd\\\":\\\"/stats\\\"} or "
                     "{\\\"cmd\\\":\\\"/help\\\"}\"}\n");
    fclose(out);
    size_t off = 0;
    while (off < body_len) {
        ssize_t n = send(c, body + off, body_len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(body);
    close(c);
}
