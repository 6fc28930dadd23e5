/* The shard: setup on its own thread, the run-to-completion poll loop, and the drain on
 * stop. See shard.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/sl_assert.h"
#include "common/sl_clock.h"
#include "dataplane/group_host.h"
#include "dataplane/handlers/handlers.h"
#include "dataplane/shard_internal.h"
#include "drivers/net/uring_driver.h"

/* Work handled per driver poll; bounds the time before timers and storage are looked at. */
#define SL_SHARD_POLL_BUDGET 64u
/* Longest idle sleep: bounds the delay of image changes and stop requests. */
#define SL_SHARD_IDLE_WAIT_US 2000u
/* How long a stopping shard waits for in-flight requests before closing connections. */
#define SL_SHARD_DRAIN_MS 5000

static int64_t monotonic_ms(void)
{
    /* vDSO clock read; no system call on x86-64. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sl_shard_options_default(struct sl_shard_options *o, const struct sl_config *cfg)
{
    int64_t frame_max = sl_config_int(cfg, SL_CONFIG_SOCKET_REQUEST_MAX_BYTES);
    o->requests_max = 256;
    o->inflight_per_conn_max =
        (uint32_t)sl_config_int(cfg, SL_CONFIG_DATAPLANE_CONNECTION_INFLIGHT_MAX);
    o->arena_bytes = 256 * 1024;
    o->tx_bytes = 16 * 1024;
    o->response_bytes_max = 16 * 1024 * 1024;
    o->frame_memory_max = (uint64_t)frame_max + 64ull * 1024 * 1024;
    o->frame_cache_bytes_max = 128ull * 1024 * 1024;
    o->partitions_max = 8192;
    o->md_requests_max = 64;
    o->delete_queue_max = 64;
    o->ring_capacity = 1024;
    o->fetch_session_slots =
        (uint32_t)sl_config_int(cfg, SL_CONFIG_MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS);
    sl_storage_config_default(&o->storage);
    o->storage.cache_bytes = (uint64_t)sl_config_int(cfg, SL_CONFIG_STORAGE_CACHE_BYTES);
    const char *huge = sl_config_string(cfg, SL_CONFIG_MEMORY_HUGEPAGES);
    o->storage.hugepages = huge == NULL || strcmp(huge, "off") != 0;
    o->hugepages_required = huge != NULL && strcmp(huge, "on") == 0;
}

int sl_shard_create(const struct sl_shard_options *opts, struct sl_shard **out)
{
    if (opts->shard_count == 0 || opts->shard_id >= opts->shard_count || opts->requests_max == 0 ||
        opts->partitions_max == 0 || opts->delete_queue_max == 0 || opts->md_requests_max == 0 ||
        opts->ring_capacity == 0 || (opts->ring_capacity & (opts->ring_capacity - 1)) != 0)
        return -EINVAL;
    struct sl_shard *s = aligned_alloc(
        SL_CACHELINE_BYTES, SL_ALIGN_UP(sizeof(struct sl_shard), (size_t)SL_CACHELINE_BYTES));
    if (s == NULL)
        return -ENOMEM;
    memset(s, 0, sizeof(*s));
    s->opts = *opts;
    atomic_init(&s->stop_requested, false);
    atomic_init(&s->ready, false);
    atomic_init(&s->port, 0);
    atomic_init(&s->hugepages, false);
    atomic_init(&s->delete_head, 0);
    atomic_init(&s->delete_tail, 0);
    s->requests = calloc(opts->requests_max, sizeof(*s->requests));
    s->request_mem = malloc((size_t)opts->requests_max * (opts->arena_bytes + opts->tx_bytes));
    s->partition_cap = 2 * opts->partitions_max;
    s->partitions = calloc(s->partition_cap, sizeof(*s->partitions));
    s->md_slots = calloc(opts->md_requests_max, sizeof(*s->md_slots));
    s->delete_ring = calloc(opts->delete_queue_max, sizeof(*s->delete_ring));
    s->inbox = calloc(opts->shard_count, sizeof(*s->inbox));
    s->inbox_slots = calloc((size_t)opts->shard_count * opts->ring_capacity, sizeof(void *));
    s->peer_append_seen = calloc(opts->shard_count, sizeof(uint64_t));
    s->peers = calloc(opts->shard_count, sizeof(*s->peers));
    bool sessions_ok =
        sl_dp_fetch_sessions_init(&s->fetch_sessions,
                                  sl_dp_fetch_sessions_shard_slots(
                                      opts->fetch_session_slots, opts->shard_id, opts->shard_count),
                                  opts->shard_id, opts->shard_count);
    if (s->requests == NULL || s->request_mem == NULL || s->partitions == NULL ||
        s->md_slots == NULL || s->delete_ring == NULL || s->inbox == NULL ||
        s->inbox_slots == NULL || s->peer_append_seen == NULL || s->peers == NULL || !sessions_ok) {
        sl_shard_destroy(s);
        return -ENOMEM;
    }
    atomic_init(&s->append_seq, 0);
    sl_dp_frame_cache_init(&s->frame_cache, opts->frame_cache_bytes_max);
    atomic_init(&s->producer_id_next, sl_wall_clock_ms() * 4096);
    for (uint32_t i = 0; i < opts->shard_count; i++)
        sl_dp_ring_init(&s->inbox[i], s->inbox_slots + (size_t)i * opts->ring_capacity,
                        opts->ring_capacity);
    for (uint32_t i = opts->requests_max; i-- > 0;) {
        struct sl_dp_request *r = &s->requests[i];
        uint8_t *mem = s->request_mem + (size_t)i * (opts->arena_bytes + opts->tx_bytes);
        r->index = i;
        r->shard = s;
        r->tx = mem + opts->arena_bytes;
        sl_codec_arena_init(&r->arena, mem, opts->arena_bytes);
        r->next = s->free_requests;
        s->free_requests = r;
    }
    *out = s;
    return 0;
}

void sl_shard_destroy(struct sl_shard *s)
{
    if (s == NULL)
        return;
    if (s->conns != NULL) {
        for (uint32_t i = 0; i < s->conn_count_max; i++)
            free(s->conns[i].held);
    }
    free(s->conns);
    sl_dp_frame_cache_destroy(&s->frame_cache);
    free(s->rx_refs);
    free(s->requests);
    free(s->request_mem);
    free(s->partitions);
    free(s->md_slots);
    free(s->delete_ring);
    free(s->inbox);
    free(s->inbox_slots);
    free(s->peer_append_seen);
    free(s->peers);
    sl_dp_fetch_sessions_destroy(&s->fetch_sessions);
    free(s);
}

void sl_shard_set_peers(struct sl_shard **shards, uint32_t count, atomic_uint *drained)
{
    for (uint32_t i = 0; i < count; i++) {
        SL_ASSERT(shards[i]->opts.shard_id == i && shards[i]->opts.shard_count == count);
        for (uint32_t k = 0; k < count; k++)
            shards[i]->peers[k] = shards[k];
        shards[i]->drained = drained;
    }
}

bool sl_shard_is_ready(const struct sl_shard *s)
{
    return atomic_load(&s->ready);
}

uint16_t sl_shard_port(const struct sl_shard *s)
{
    return atomic_load(&s->port);
}

bool sl_shard_hugepages(const struct sl_shard *s)
{
    return atomic_load(&s->hugepages);
}

void sl_shard_request_stop(struct sl_shard *s)
{
    atomic_store(&s->stop_requested, true);
}

const struct sl_dp_stats *sl_shard_stats(const struct sl_shard *s)
{
    return &s->stats;
}

const struct sl_net_counters *sl_shard_net_counters(const struct sl_shard *s)
{
    return atomic_load(&s->ready) ? s->net_counters : NULL;
}

const struct sl_storage_stats *sl_shard_storage_stats(const struct sl_shard *s)
{
    return atomic_load(&s->ready) ? s->storage_stats : NULL;
}

/* Returns 1 when partitions were reconciled (work was done), else 0. */
static uint32_t refresh_image(struct sl_shard *s)
{
    s->image = sl_md_publisher_acquire(s->publisher, s->opts.md_reader_slot);
    bool retry = s->open_failed && s->now_ms >= s->open_retry_ms;
    if (s->image->version != s->image_version || s->image_version == 0 || retry ||
        s->reconcile_more) {
        s->image_version = s->image->version;
        sl_dp_partitions_reconcile(s);
        s->open_retry_ms = s->now_ms + 1000;
        return 1;
    }
    return 0;
}

/* One pass of the loop. Returns how much work it found (0 = idle). */
static uint32_t loop_once(struct sl_shard *s)
{
    s->now_ms = monotonic_ms();
    s->stats.loop_iterations++;
    uint32_t work = refresh_image(s);
    int n = sl_net_poll(s->net, SL_SHARD_POLL_BUDGET);
    work += n > 0 ? (uint32_t)n : 0;
    work += sl_storage_poll(s->storage, s->now_ms);
    /* Not counted as work: while a rebuild waits for its disk read the loop may idle
     * (the storage engine is busy, so the idle wait is short). */
    if (s->producer_loads > 0)
        sl_dp_partitions_load_producers(s);
    if (s->append_retry_head != NULL) {
        sl_dp_produce_retry_poll(s);
        work++;
    }
    if (s->storage_progress) {
        s->storage_progress = false;
        sl_dp_produce_ack_check(s);
        work++;
    }
    if (s->opts.shard_count > 1)
        work += sl_dp_route_poll(s);
    work += sl_dp_group_host_poll(s);
    sl_dp_md_poll(s);
    sl_dp_fetch_poll_parked(s);
    sl_dp_partitions_retention_poll(s);
    if (s->rescan) {
        sl_dp_conn_rescan(s);
        work++;
    }
    return work;
}

static void idle_wait(struct sl_shard *s)
{
    s->stats.loop_idle_waits++;
    uint32_t wait_us = SL_SHARD_IDLE_WAIT_US;
    /* Storage completions end the wait themselves (sl_net_watch_fd); a controller
     * request has no wakeup, so it is looked at often. */
    if (s->md_waiting != NULL)
        wait_us = 200;
    for (struct sl_dp_request *r = s->parked; r != NULL; r = r->wait_next) {
        int64_t left_ms = r->deadline_ms - s->now_ms;
        if (left_ms <= 0)
            wait_us = 0;
        else if ((uint64_t)left_ms * 1000 < wait_us)
            wait_us = (uint32_t)left_ms * 1000;
    }
    if (wait_us > 0)
        sl_net_wait(s->net, wait_us);
}

static bool busy_requests(const struct sl_shard *s)
{
    return s->requests_in_use > 0;
}

int sl_shard_run(struct sl_shard *s, char *err, size_t err_size)
{
    struct sl_net_config nc;
    sl_net_config_default(&nc);
    nc.queue_depth = (uint32_t)sl_config_int(s->opts.config, SL_CONFIG_DATAPLANE_URING_QUEUE_DEPTH);
    if (nc.queue_depth < 64)
        nc.queue_depth = 64;
    s->conn_count_max = nc.max_connections;
    s->rx_buf_count = nc.rx_buf_count;
    s->conns = calloc(s->conn_count_max, sizeof(*s->conns));
    s->rx_refs = calloc(s->rx_buf_count, sizeof(*s->rx_refs));
    if (s->conns == NULL || s->rx_refs == NULL) {
        snprintf(err, err_size, "shard %u: out of memory", s->opts.shard_id);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < s->conn_count_max; i++) {
        s->conns[i].held_cap = nc.rx_bufs_per_conn_max + 1;
        s->conns[i].held = calloc(s->conns[i].held_cap, sizeof(struct sl_dp_rx_held));
        if (s->conns[i].held == NULL) {
            snprintf(err, err_size, "shard %u: out of memory", s->opts.shard_id);
            return -ENOMEM;
        }
    }
    enum sl_storage_err serr = sl_storage_create(&s->opts.storage, &s->storage);
    if (serr != SL_STORAGE_OK) {
        if (s->opts.storage.tail_file[0] != '\0')
            snprintf(err, err_size,
                     "shard %u: storage engine: %s (with storage.tail.shared.memory: tail file "
                     "%s of %" PRIu64 " bytes in storage.tail.dir; see df and docs/operations.md)",
                     s->opts.shard_id, sl_storage_strerror(serr), s->opts.storage.tail_file,
                     s->opts.storage.cache_bytes);
        else
            snprintf(err, err_size, "shard %u: storage engine: %s", s->opts.shard_id,
                     sl_storage_strerror(serr));
        return -EIO;
    }
    bool hugepage_backed = sl_storage_get_stats(s->storage)->hugepage_backed;
    if (s->opts.hugepages_required && !hugepage_backed) {
        snprintf(err, err_size,
                 "shard %u: config key 'memory.hugepages' is on, but its %" PRIu64
                 " bytes of storage chunks got no hugepages (see HugePages_Free in "
                 "/proc/meminfo and docs/operations.md; auto falls back to 4 KiB pages)",
                 s->opts.shard_id, s->opts.storage.cache_bytes);
        sl_storage_destroy(s->storage);
        s->storage = NULL;
        return -ENOMEM;
    }
    atomic_store(&s->hugepages, hugepage_backed);
    struct sl_net_callbacks cb = {
        .ctx = s,
        .on_accept = sl_dp_conn_on_accept,
        .on_connect_done = NULL,
        .on_recv = sl_dp_conn_on_recv,
        .on_recv_exact_done = sl_dp_conn_on_recv_exact_done,
        .on_close = sl_dp_conn_on_close,
    };
    int rc = sl_net_create(&sl_net_uring_ops, &nc, &cb, &s->net);
    if (rc != 0) {
        snprintf(err, err_size, "shard %u: network driver: %s", s->opts.shard_id, strerror(-rc));
        sl_storage_destroy(s->storage);
        return rc;
    }
    /* Storage completions (write done: acks can go) wake the idle wait at once. */
    rc = sl_net_watch_fd(s->net, sl_storage_completion_fd(s->storage));
    SL_ASSERT(rc == 0);
    s->publisher = sl_md_log_publisher(s->opts.md_log);
    s->now_ms = monotonic_ms();
    s->min_insync_replicas = (int32_t)sl_config_int(s->opts.config, SL_CONFIG_MIN_INSYNC_REPLICAS);
    s->auto_create = sl_config_bool(s->opts.config, SL_CONFIG_AUTO_CREATE_TOPICS_ENABLE);
    /* Not serving yet: open every partition of the image before listening. */
    refresh_image(s);
    while (s->reconcile_more)
        refresh_image(s);
    /* Opening the group coordinator's __consumer_offsets partitions (50 by default) is
     * the largest part of a start: say how long it took. */
    int64_t groups_started_ms = monotonic_ms();
    rc = sl_dp_group_host_start(s, err, err_size);
    if (rc == 0)
        fprintf(stderr, "sluiced: shard %u: group coordinator partitions opened in %lld ms\n",
                s->opts.shard_id, (long long)(monotonic_ms() - groups_started_ms));
    if (rc != 0) {
        sl_dp_group_host_stop(s);
        sl_dp_partitions_close_all(s);
        sl_md_publisher_release(s->publisher, s->opts.md_reader_slot);
        sl_net_destroy(s->net);
        sl_storage_destroy(s->storage);
        return rc;
    }

    uint16_t port = 0;
    rc = sl_net_listen(s->net, (const struct sockaddr *)&s->opts.listen_addr,
                       s->opts.listen_addr_len, &s->listener_id, &port);
    if (rc != 0) {
        snprintf(err, err_size, "shard %u: cannot listen: %s", s->opts.shard_id, strerror(-rc));
        sl_dp_group_host_stop(s);
        sl_dp_partitions_close_all(s);
        sl_md_publisher_release(s->publisher, s->opts.md_reader_slot);
        sl_net_destroy(s->net);
        sl_storage_destroy(s->storage);
        return rc;
    }
    s->listening = true;
    s->net_counters = sl_net_counters_get(s->net);
    s->storage_stats = sl_storage_get_stats(s->storage);
    atomic_store(&s->port, port);
    atomic_store(&s->ready, true);

    while (!atomic_load_explicit(&s->stop_requested, memory_order_relaxed)) {
        if (loop_once(s) == 0)
            idle_wait(s);
    }

    /* Stop: no new connections and no new requests; answer what is in flight (bounded),
     * keep serving other shards' partition ops until every shard is done with its own
     * requests (their pins may point into this shard's storage), then close. */
    atomic_store(&s->ready, false); /* the stats socket stops reading net/storage stats */
    sl_net_listen_close(s->net, s->listener_id);
    s->listening = false;
    s->draining = true;
    int64_t drain_until = monotonic_ms() + SL_SHARD_DRAIN_MS;
    while (busy_requests(s) && monotonic_ms() < drain_until) {
        /* Parked fetches answer now with what they have. */
        for (struct sl_dp_request *r = s->parked; r != NULL; r = r->wait_next)
            r->deadline_ms = 0;
        if (loop_once(s) == 0)
            idle_wait(s);
    }
    for (uint32_t i = 0; i < s->conn_count_max; i++)
        sl_dp_conn_close(s, i);
    if (s->drained != NULL) {
        atomic_fetch_add(s->drained, 1);
        int64_t wait_until = monotonic_ms() + 2 * SL_SHARD_DRAIN_MS;
        while ((atomic_load(s->drained) < s->opts.shard_count || busy_requests(s)) &&
               monotonic_ms() < wait_until) {
            if (loop_once(s) == 0)
                idle_wait(s);
        }
    }
    for (uint32_t i = 0; i < s->conn_count_max; i++)
        sl_dp_conn_close(s, i);
    int64_t close_until = monotonic_ms() + 1000;
    while (s->stats.connections_open > 0 && monotonic_ms() < close_until) {
        if (loop_once(s) == 0)
            idle_wait(s);
    }
    s->net_destroying = true;
    sl_net_destroy(s->net); /* releases every segment (and their storage pins) */
    s->net = NULL;
    /* Requests still waiting on storage finish inside the close below. */
    sl_dp_group_host_stop(s);
    sl_dp_partitions_close_all(s);
    sl_md_publisher_release(s->publisher, s->opts.md_reader_slot);
    while (!sl_storage_idle(s->storage))
        sl_storage_wait(s->storage, monotonic_ms(), 10);
    sl_storage_destroy(s->storage);
    s->storage = NULL;
    return 0;
}
