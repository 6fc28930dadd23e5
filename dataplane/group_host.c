/* Hosting of the group coordinators of a shard: the offsets partition logs, replay at
 * startup, the durability cycle and the timers. See group_host.h.
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
#include "dataplane/shard_internal.h"

/* Kafka's offsets.retention.check.interval.ms default. */
#define SL_DP_OFFSETS_CLEANUP_INTERVAL_MS 600000
/* Timers (session expiry, join deadlines) run this often. */
#define SL_DP_GROUP_TICK_MS 10
/* Bytes asked per read while replaying a partition. */
#define SL_DP_GROUP_LOAD_READ_BYTES (1u << 20)
/* How long an append waits for storage room (BUSY / NO_BUFFER) before failing. */
#define SL_DP_GROUP_APPEND_WAIT_MS 5000

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sl_dp_group_now_ms(void)
{
    return sl_wall_clock_ms();
}

int32_t sl_dp_group_partition(const struct sl_shard *s, struct sl_codec_slice group_id)
{
    int32_t count = (int32_t)sl_config_int(s->opts.config, SL_CONFIG_OFFSETS_TOPIC_NUM_PARTITIONS);
    if (group_id.len <= 0)
        return sl_group_partition_for((const uint8_t *)"", 0, count);
    return sl_group_partition_for(group_id.ptr, (size_t)group_id.len, count);
}

uint32_t sl_dp_group_owner(const struct sl_shard *s, int32_t offsets_partition)
{
    return (uint32_t)offsets_partition % s->opts.shard_count;
}

static struct sl_dp_group_part *part_find(struct sl_shard *s, int32_t offsets_partition)
{
    struct sl_dp_group_host *h = s->groups;
    if (h == NULL || offsets_partition < 0 ||
        sl_dp_group_owner(s, offsets_partition) != s->opts.shard_id)
        return NULL;
    uint32_t i = (uint32_t)offsets_partition / s->opts.shard_count;
    return i < h->part_count ? &h->parts[i] : NULL;
}

int32_t sl_dp_group_coordinator_node(const struct sl_shard *s, int32_t offsets_partition)
{
    /* Kafka's rule: the leader of the group's partition of __consumer_offsets. With
     * replication factor 1 that is the one broker holding the partition's log, which the
     * group host keeps under the same name. */
    const struct sl_md_image *img = s->image;
    const struct sl_md_topic *t = img != NULL ? sl_md_image_topic(img, SL_DP_OFFSETS_TOPIC) : NULL;
    const struct sl_md_partition *mp =
        t != NULL ? sl_md_topic_partition(t, offsets_partition) : NULL;
    if (mp == NULL || mp->leader == SL_MD_NO_LEADER)
        return -1;
    const struct sl_md_broker *b = sl_md_image_broker(img, mp->leader);
    if (b == NULL || b->fenced)
        return -1;
    return mp->leader;
}

void sl_dp_group_create_offsets_topic(struct sl_shard *s)
{
    for (uint32_t i = 0; i < s->opts.md_requests_max; i++) {
        const struct sl_dp_md_slot *slot = &s->md_slots[i];
        if (slot->used && slot->owner == NULL && slot->req.type == SL_MD_REQUEST_CREATE_TOPIC &&
            sl_dp_is_offsets_topic(slot->req.create_topic.name))
            return; /* already asked */
    }
    struct sl_dp_md_slot *slot = sl_dp_md_slot_get(s, NULL);
    if (slot == NULL)
        return;
    const struct sl_config *cfg = s->opts.config;
    struct sl_controller_create_topic_request *ct = &slot->req.create_topic;
    slot->req.type = SL_MD_REQUEST_CREATE_TOPIC;
    snprintf(ct->name, sizeof(ct->name), "%s", SL_DP_OFFSETS_TOPIC);
    ct->num_partitions = (int32_t)sl_config_int(cfg, SL_CONFIG_OFFSETS_TOPIC_NUM_PARTITIONS);
    /* offsets.topic.replication.factor is clamped to 1: partition data is not replicated
     * yet, so a leader moved to another replica would find no offsets there (see
     * docs/groups.md, "Placement in a cluster"). */
    ct->replication_factor = 1;
    char segment_bytes[24];
    snprintf(segment_bytes, sizeof(segment_bytes), "%" PRId64,
             sl_config_int(cfg, SL_CONFIG_OFFSETS_TOPIC_SEGMENT_BYTES));
    const char *configs[][2] = {{"cleanup.policy", "compact"}, {"segment.bytes", segment_bytes}};
    ct->config_count = 0;
    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
        char why[256];
        if (sl_topic_config_validate(configs[i][0], configs[i][1], why, sizeof(why)) != 0)
            continue; /* not in the topic-config table: the broker config still applies */
        snprintf(ct->configs[ct->config_count].key, sizeof(ct->configs[0].key), "%s",
                 configs[i][0]);
        snprintf(ct->configs[ct->config_count].value, sizeof(ct->configs[0].value), "%s",
                 configs[i][1]);
        ct->config_count++;
    }
    sl_dp_md_submit(s, slot);
}

struct sl_group_coordinator *sl_dp_group_coordinator(struct sl_shard *s, int32_t offsets_partition)
{
    if (sl_dp_group_coordinator_node(s, offsets_partition) != s->opts.node_id)
        return NULL; /* another broker coordinates these groups: NOT_COORDINATOR */
    struct sl_dp_group_part *p = part_find(s, offsets_partition);
    return p != NULL ? p->coord : NULL;
}

static bool topic_exists(void *ctx, const char *topic, uint32_t topic_len)
{
    struct sl_shard *s = ctx;
    char name[SL_MD_TOPIC_NAME_BYTES_MAX];
    if (topic_len >= sizeof(name))
        return false;
    memcpy(name, topic, topic_len);
    name[topic_len] = '\0';
    return s->image != NULL && sl_md_image_topic(s->image, name) != NULL;
}

static void on_progress(void *ctx, struct sl_log *log, int64_t written_end_offset,
                        int64_t durable_end_offset, enum sl_storage_err err)
{
    struct sl_dp_group_part *p = ctx;
    (void)written_end_offset;
    (void)durable_end_offset;
    if (err != SL_STORAGE_OK) {
        fprintf(stderr, "sluiced: %s: write failed: %s\n", sl_log_path(log),
                sl_storage_strerror(err));
        p->write_failed = true;
    }
}

static void group_config(const struct sl_shard *s, struct sl_group_config *gc)
{
    const struct sl_config *cfg = s->opts.config;
    sl_group_config_default(gc);
    /* One coordinator per offsets partition (50 by default): smaller pools than the
     * coordinator's defaults keep the per-shard memory bounded. */
    gc->groups_max = 64;
    gc->members_max = 256;
    gc->offsets_max = 4096;
    gc->topics_max = 256;
    gc->pending_commits_max = 256;
    gc->pending_commit_bytes = 128u << 10;
    gc->scratch_bytes = 128u << 10;
    gc->batch_bytes = 128u << 10;
    int64_t gmax = sl_config_int(cfg, SL_CONFIG_GROUP_MAX_SIZE);
    gc->group_size_max = gmax < gc->members_max ? (uint32_t)gmax : gc->members_max;
    gc->session_timeout_ms_min =
        (int32_t)sl_config_int(cfg, SL_CONFIG_GROUP_MIN_SESSION_TIMEOUT_MS);
    gc->session_timeout_ms_max =
        (int32_t)sl_config_int(cfg, SL_CONFIG_GROUP_MAX_SESSION_TIMEOUT_MS);
    gc->initial_rebalance_delay_ms =
        (int32_t)sl_config_int(cfg, SL_CONFIG_GROUP_INITIAL_REBALANCE_DELAY_MS);
    gc->offsets_retention_ms = sl_config_int(cfg, SL_CONFIG_OFFSETS_RETENTION_MINUTES) * 60000;
    gc->member_id_seed =
        (uint64_t)sl_dp_group_now_ms() * 0x9e3779b97f4a7c15ull ^ ((uint64_t)s->opts.shard_id << 32);
}

static void log_config(const struct sl_shard *s, struct sl_log_config *lc)
{
    const struct sl_config *cfg = s->opts.config;
    sl_log_config_default(lc);
    lc->segment_bytes = (uint32_t)sl_config_int(cfg, SL_CONFIG_OFFSETS_TOPIC_SEGMENT_BYTES);
    /* Coordinator batches are at most 128 KiB (group_config); segments are >= 256 KiB. */
    lc->max_message_bytes = 128u << 10;
    lc->retention_ms = -1; /* never deleted by time: the records are the state */
    lc->retention_bytes = -1;
    if (sl_config_is_set(cfg, SL_CONFIG_LOG_FLUSH_INTERVAL_MESSAGES))
        lc->flush_messages = sl_config_int(cfg, SL_CONFIG_LOG_FLUSH_INTERVAL_MESSAGES);
    if (sl_config_is_set(cfg, SL_CONFIG_LOG_FLUSH_INTERVAL_MS))
        lc->flush_ms = sl_config_int(cfg, SL_CONFIG_LOG_FLUSH_INTERVAL_MS);
}

struct load_wait {
    bool done;
};

static void on_load_read(void *ctx, struct sl_log *log, struct sl_log_read_result *result)
{
    (void)log;
    (void)result;
    ((struct load_wait *)ctx)->done = true;
}

/* Replays the whole log into p->coord (blocking: startup only). */
static int load_part(struct sl_shard *s, struct sl_dp_group_part *p, char *err, size_t err_size)
{
    int64_t off = sl_log_start_offset(p->log);
    int64_t end = sl_log_end_offset(p->log);
    int64_t give_up_ms = monotonic_ms() + 60000;
    while (off < end) {
        struct sl_log_read_result res;
        memset(&res, 0, sizeof(res));
        struct load_wait w = {false};
        enum sl_storage_err e = sl_log_read(p->log, off, INT64_MAX, SL_DP_GROUP_LOAD_READ_BYTES,
                                            &res, on_load_read, &w);
        if (e == SL_STORAGE_IN_PROGRESS) {
            while (!w.done)
                sl_storage_wait(s->storage, monotonic_ms(), 100);
            e = res.err;
        }
        if ((e == SL_STORAGE_ERR_BUSY || e == SL_STORAGE_ERR_NO_BUFFER) &&
            monotonic_ms() < give_up_ms) {
            sl_storage_wait(s->storage, monotonic_ms(), 10);
            continue;
        }
        if (e != SL_STORAGE_OK) {
            snprintf(err, err_size, "%s: read at offset %" PRId64 ": %s", sl_log_path(p->log), off,
                     sl_storage_strerror(e));
            return -EIO;
        }
        int rc = 0;
        for (uint32_t i = 0; i < res.slice_count && rc == 0; i++)
            rc = sl_group_coordinator_load(p->coord, res.slices[i].data, res.slices[i].len,
                                           sl_dp_group_now_ms());
        int64_t next = res.next_offset;
        sl_log_read_release(s->storage, &res);
        if (rc != 0) {
            /* The state holds everything before the bad record; serve it, loudly. */
            fprintf(stderr, "sluiced: %s: replay stopped near offset %" PRId64 ": %s\n",
                    sl_log_path(p->log), off, strerror(-rc));
            return 0;
        }
        if (next <= off)
            break;
        off = next;
    }
    return 0;
}

int sl_dp_group_host_start(struct sl_shard *s, char *err, size_t err_size)
{
    struct sl_dp_group_host *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    s->groups = h;
    h->partition_count =
        (int32_t)sl_config_int(s->opts.config, SL_CONFIG_OFFSETS_TOPIC_NUM_PARTITIONS);
    for (int32_t i = 0; i < h->partition_count; i++) {
        if (sl_dp_group_owner(s, i) == s->opts.shard_id)
            h->part_count++;
    }
    struct sl_group_config gc;
    group_config(s, &gc);
    h->batch_cap_bytes = gc.batch_bytes;
    h->batch_buf = malloc(h->batch_cap_bytes);
    h->parts = calloc(h->part_count > 0 ? h->part_count : 1, sizeof(*h->parts));
    if (h->batch_buf == NULL || h->parts == NULL) {
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    struct sl_group_callbacks cb = {
        .join_done = sl_dp_groups_join_done,
        .sync_done = sl_dp_groups_sync_done,
        .commit_done = sl_dp_groups_commit_done,
        .topic_exists = topic_exists,
        .ctx = s,
    };
    struct sl_log_config lc;
    log_config(s, &lc);
    for (uint32_t i = 0; i < h->part_count; i++) {
        struct sl_dp_group_part *p = &h->parts[i];
        p->partition = (int32_t)(i * s->opts.shard_count + s->opts.shard_id);
        struct sl_log_callbacks lcb = {on_progress, p};
        enum sl_storage_err e = sl_log_open(s->storage, s->opts.log_dir, SL_DP_OFFSETS_TOPIC,
                                            p->partition, &lc, &lcb, s->now_ms, &p->log, NULL);
        if (e != SL_STORAGE_OK) {
            snprintf(err, err_size, "cannot open %s-%d: %s", SL_DP_OFFSETS_TOPIC, p->partition,
                     sl_storage_strerror(e));
            return -EIO;
        }
        int rc = sl_group_coordinator_create(&gc, &cb, &p->coord);
        if (rc != 0) {
            snprintf(err, err_size, "group coordinator %d: %s", p->partition, strerror(-rc));
            return rc;
        }
        rc = load_part(s, p, err, err_size);
        if (rc != 0)
            return rc;
    }
    h->next_cleanup_ms = monotonic_ms() + SL_DP_OFFSETS_CLEANUP_INTERVAL_MS;
    h->compact_after_bytes =
        (uint64_t)sl_config_int(s->opts.config, SL_CONFIG_OFFSETS_TOPIC_SEGMENT_BYTES);
    return 0;
}

static void fail_part(struct sl_dp_group_part *p)
{
    if (p->failed)
        return;
    p->failed = true;
    fprintf(stderr,
            "sluiced: %s-%d: offsets log write failed; its groups answer NOT_COORDINATOR "
            "until the broker restarts\n",
            SL_DP_OFFSETS_TOPIC, p->partition);
    sl_group_coordinator_persisted(p->coord, UINT64_MAX, false);
    p->inflight_count = 0;
}

/* Appends bytes that already left the coordinator: waits here for storage room (bounded)
 * rather than lose them. */
static enum sl_storage_err append_waiting(struct sl_shard *s, struct sl_dp_group_part *p,
                                          const uint8_t *buf, size_t len,
                                          struct sl_log_append_result *res)
{
    enum sl_storage_err e;
    int64_t give_up_ms = monotonic_ms() + SL_DP_GROUP_APPEND_WAIT_MS;
    for (;;) {
        e = sl_log_append(p->log, buf, len, NULL, 0, 0, s->now_ms, res);
        if ((e != SL_STORAGE_ERR_BUSY && e != SL_STORAGE_ERR_NO_BUFFER) ||
            monotonic_ms() >= give_up_ms)
            break;
        sl_storage_wait(s->storage, monotonic_ms(), 10);
    }
    if (e == SL_STORAGE_OK)
        p->appended_bytes += len;
    return e;
}

/* Appends the staged batch, if any. Returns true when something was appended. */
static bool append_part(struct sl_shard *s, struct sl_dp_group_host *h, struct sl_dp_group_part *p)
{
    if (p->failed || p->inflight_count == SL_DP_GROUP_INFLIGHT_MAX)
        return false;
    uint64_t batch_id = 0;
    int64_t n =
        sl_group_coordinator_take_batch(p->coord, h->batch_buf, h->batch_cap_bytes, &batch_id);
    SL_ASSERT(n >= 0); /* the buffer holds config.batch_bytes */
    if (n == 0)
        return false;
    struct sl_log_append_result res;
    enum sl_storage_err e = append_waiting(s, p, h->batch_buf, (size_t)n, &res);
    if (e != SL_STORAGE_OK) {
        fprintf(stderr, "sluiced: %s: append failed: %s\n", sl_log_path(p->log),
                sl_storage_strerror(e));
        fail_part(p);
        return true;
    }
    uint32_t tail = (p->inflight_head + p->inflight_count) % SL_DP_GROUP_INFLIGHT_MAX;
    p->inflight[tail] =
        (struct sl_dp_group_inflight){batch_id, res.log_end_offset, res.wait_for_durable};
    p->inflight_count++;
    return true;
}

/* Reports batches that are safe from a kill -9 (or durable, per the flush policy). */
static bool check_persisted(struct sl_dp_group_part *p)
{
    if (p->write_failed) {
        fail_part(p);
        return true;
    }
    if (p->inflight_count == 0)
        return false;
    int64_t safe = sl_log_safe_end_offset(p->log);
    int64_t durable = sl_log_durable_end_offset(p->log);
    bool any = false;
    uint64_t last = 0;
    while (p->inflight_count > 0) {
        const struct sl_dp_group_inflight *f = &p->inflight[p->inflight_head];
        if ((f->wait_durable ? durable : safe) < f->end_offset)
            break;
        last = f->batch_id;
        any = true;
        p->inflight_head = (p->inflight_head + 1) % SL_DP_GROUP_INFLIGHT_MAX;
        p->inflight_count--;
    }
    if (any)
        sl_group_coordinator_persisted(p->coord, last, true);
    return any;
}

/* Keeps the log bounded ("latest value per key"): once offsets.topic.segment.bytes were
 * appended since the last snapshot, appends the coordinator's snapshot (its whole live
 * state) and, when that is durable, moves the log start to the snapshot, deleting the
 * segments wholly below it. Replay from the new start gives the same state (see
 * docs/groups.md for the one exception: groups in the middle of a rebalance). */
static bool compact_part(struct sl_shard *s, struct sl_dp_group_host *h, struct sl_dp_group_part *p)
{
    if (p->failed || s->draining)
        return false;
    if (p->snapshot_pending) {
        if (sl_log_durable_end_offset(p->log) < p->snapshot_end)
            return false;
        p->snapshot_pending = false;
        enum sl_storage_err e = sl_log_advance_start_offset(p->log, p->snapshot_start, NULL);
        if (e != SL_STORAGE_OK)
            fprintf(stderr, "sluiced: %s: cannot drop records below the snapshot: %s\n",
                    sl_log_path(p->log), sl_storage_strerror(e));
        return true;
    }
    if (p->appended_bytes < h->compact_after_bytes)
        return false;
    /* append_part ran just before: nothing is staged, so the snapshot follows every
     * record in the log and replaces them all. */
    int64_t start = sl_log_end_offset(p->log);
    struct sl_group_snapshot_cursor cur = {0, 0};
    int64_t now = sl_dp_group_now_ms();
    for (;;) {
        int64_t n =
            sl_group_coordinator_snapshot(p->coord, &cur, h->batch_buf, h->batch_cap_bytes, now);
        if (n < 0) {
            fprintf(stderr, "sluiced: %s: snapshot: %s\n", sl_log_path(p->log), strerror((int)-n));
            return false;
        }
        if (n == 0)
            break;
        struct sl_log_append_result res;
        enum sl_storage_err e = append_waiting(s, p, h->batch_buf, (size_t)n, &res);
        if (e != SL_STORAGE_OK) {
            fprintf(stderr, "sluiced: %s: snapshot append failed: %s\n", sl_log_path(p->log),
                    sl_storage_strerror(e));
            fail_part(p);
            return true;
        }
    }
    p->appended_bytes = 0;
    p->snapshot_start = start;
    p->snapshot_end = sl_log_end_offset(p->log); /* == start when no state is left */
    p->snapshot_pending = true;
    sl_log_flush(p->log);
    return true;
}

uint32_t sl_dp_group_host_poll(struct sl_shard *s)
{
    struct sl_dp_group_host *h = s->groups;
    if (h == NULL)
        return 0;
    uint32_t work = 0;
    int64_t mono = monotonic_ms();
    bool tick = mono >= h->next_tick_ms;
    bool cleanup = mono >= h->next_cleanup_ms;
    int64_t now = tick || cleanup ? sl_dp_group_now_ms() : 0;
    if (tick)
        h->next_tick_ms = mono + SL_DP_GROUP_TICK_MS;
    if (cleanup)
        h->next_cleanup_ms = mono + SL_DP_OFFSETS_CLEANUP_INTERVAL_MS;
    for (uint32_t i = 0; i < h->part_count; i++) {
        struct sl_dp_group_part *p = &h->parts[i];
        if (p->coord == NULL)
            continue;
        if (tick && !p->failed)
            sl_group_coordinator_tick(p->coord, now);
        if (cleanup && !p->failed) {
            struct sl_group_cleanup_report rep;
            sl_group_coordinator_cleanup(p->coord, now, &rep);
        }
        if (append_part(s, h, p))
            work++;
        if (check_persisted(p))
            work++;
        if (compact_part(s, h, p))
            work++;
        if (s->draining && !p->failed && !p->stop_failed && p->inflight_count == 0) {
            /* Stopping: joins and syncs parked for a rebalance would hold the drain until
             * their timeouts; answer them NOT_COORDINATOR (clients look again and retry
             * against the restarted broker). Everything appended is persisted by now. */
            p->stop_failed = true;
            sl_group_coordinator_persisted(p->coord, 0, false);
        }
    }
    return work;
}

void sl_dp_group_host_stop(struct sl_shard *s)
{
    struct sl_dp_group_host *h = s->groups;
    if (h == NULL)
        return;
    for (uint32_t i = 0; i < h->part_count; i++) {
        struct sl_dp_group_part *p = &h->parts[i];
        if (p->coord != NULL)
            sl_group_coordinator_destroy(p->coord);
        if (p->log != NULL) {
            enum sl_storage_err e = sl_log_close(p->log);
            if (e != SL_STORAGE_OK)
                fprintf(stderr, "sluiced: closing %s-%d: %s\n", SL_DP_OFFSETS_TOPIC, p->partition,
                        sl_storage_strerror(e));
        }
    }
    free(h->parts);
    free(h->batch_buf);
    free(h);
    s->groups = NULL;
}
