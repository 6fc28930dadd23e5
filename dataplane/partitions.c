/* The partitions a shard owns: a bounded open-addressing table keyed by (topic id,
 * partition), kept in step with the metadata image. Opening and closing a log may block
 * on the file system (storage's maintenance calls); it happens only when a new image
 * version arrives, never per request.
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

/* Log opens plus closes per reconcile pass: each may block the shard on the file system
 * (recovery scan, flush), so a new image with many partitions for this broker is taken
 * in steps between which the shard serves its connections. */
#define SL_DP_RECONCILE_LOG_OPS_MAX 8

uint32_t sl_dp_partition_shard(const struct sl_md_uuid *topic_id, int32_t partition,
                               uint32_t shard_count)
{
    /* FNV-1a over the topic id and the partition: stable across restarts and brokers. */
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ topic_id->bytes[i]) * 16777619u;
    for (int i = 0; i < 4; i++)
        h = (h ^ (uint8_t)((uint32_t)partition >> (8 * i))) * 16777619u;
    return h % shard_count;
}

static uint32_t slot_hash(const struct sl_md_uuid *topic_id, int32_t partition, uint32_t cap)
{
    uint32_t h = 0x9747b28cu;
    for (int i = 0; i < 16; i++)
        h = (h ^ topic_id->bytes[i]) * 0x01000193u;
    h ^= (uint32_t)partition * 0x9e3779b1u;
    return h % cap;
}

struct sl_dp_partition *sl_dp_partition_find(struct sl_shard *s, const struct sl_md_uuid *topic_id,
                                             int32_t partition)
{
    uint32_t i = slot_hash(topic_id, partition, s->partition_cap);
    for (uint32_t n = 0; n < s->partition_cap; n++) {
        struct sl_dp_partition *p = &s->partitions[i];
        if (!p->used && !p->tombstone)
            return NULL;
        if (p->used && p->partition == partition &&
            memcmp(p->topic_id.bytes, topic_id->bytes, 16) == 0)
            return p;
        i = (i + 1) % s->partition_cap;
    }
    return NULL;
}

static struct sl_dp_partition *
partition_insert(struct sl_shard *s, const struct sl_md_uuid *topic_id, int32_t partition)
{
    if (s->partition_count >= s->opts.partitions_max)
        return NULL;
    uint32_t i = slot_hash(topic_id, partition, s->partition_cap);
    for (;;) {
        struct sl_dp_partition *p = &s->partitions[i];
        if (!p->used) {
            memset(p, 0, sizeof(*p));
            p->used = true;
            p->topic_id = *topic_id;
            p->partition = partition;
            s->partition_count++;
            return p;
        }
        i = (i + 1) % s->partition_cap;
    }
}

static bool parse_int(const char *v, int64_t *out)
{
    if (v == NULL)
        return false;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0')
        return false;
    *out = x;
    return true;
}

const char *sl_dp_broker_config(const struct sl_shard *s, enum sl_config_key key,
                                enum sl_dp_config_source *source)
{
    SL_ASSERT((int)key >= 0 && key < SL_CONFIG_KEY_COUNT);
    enum sl_dp_config_source local;
    if (source == NULL)
        source = &local;
    /* Only dynamic keys can have broker config records (the controller refuses others). */
    if (sl_config_key_is_dynamic(key) && s->image != NULL && s->image->broker_config_count > 0) {
        const char *name = sl_config_key_table()[key].name;
        char self[16];
        snprintf(self, sizeof(self), "%d", s->opts.node_id);
        const char *v = sl_md_image_broker_config(s->image, self, name);
        if (v != NULL) {
            *source = SL_DP_CONFIG_SOURCE_DYNAMIC_BROKER;
            return v;
        }
        v = sl_md_image_broker_config(s->image, "", name);
        if (v != NULL) {
            *source = SL_DP_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER;
            return v;
        }
    }
    const struct sl_config_value *cv = &s->opts.config->values[key];
    if (!cv->is_set || cv->text == NULL) {
        *source = SL_DP_CONFIG_SOURCE_DEFAULT;
        return NULL;
    }
    *source = cv->source == SL_CONFIG_SOURCE_DEFAULT ? SL_DP_CONFIG_SOURCE_DEFAULT
                                                     : SL_DP_CONFIG_SOURCE_STATIC_BROKER;
    return cv->text;
}

int64_t sl_dp_log_retention_ms(const struct sl_shard *s, enum sl_dp_config_source *source)
{
    static const struct {
        enum sl_config_key key;
        int64_t unit_ms;
    } keys[] = {
        {SL_CONFIG_LOG_RETENTION_MS, 1},
        {SL_CONFIG_LOG_RETENTION_MINUTES, 60 * 1000},
        {SL_CONFIG_LOG_RETENTION_HOURS, 3600 * 1000},
    };
    enum sl_dp_config_source local;
    if (source == NULL)
        source = &local;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        int64_t v;
        if (parse_int(sl_dp_broker_config(s, keys[i].key, source), &v))
            return v < 0 ? -1 : v * keys[i].unit_ms;
    }
    *source = SL_DP_CONFIG_SOURCE_DEFAULT;
    return sl_config_log_retention_ms(s->opts.config);
}

int64_t sl_dp_topic_int(const struct sl_shard *s, const struct sl_md_topic *t, const char *key,
                        enum sl_config_key broker_key, int64_t dflt)
{
    int64_t v;
    if (t != NULL && parse_int(sl_md_topic_config(t, key), &v))
        return v;
    if ((int)broker_key >= 0 && parse_int(sl_dp_broker_config(s, broker_key, NULL), &v))
        return v;
    return dflt;
}

int64_t sl_dp_partition_hw(const struct sl_dp_partition *p)
{
    /* Consumers see only what an acknowledgement could cover, so nothing they read can be
     * taken back by a crash: with the single-node ISR {self} that is the safe end (survives
     * kill -9 of the broker, Kafka's page-cache guarantee: written to the file, or in the
     * shared-memory tail file with storage.tail.shared.memory), or the durable end when
     * flush.messages=1 acknowledges only fdatasynced data. */
    return p->hw_is_durable ? sl_log_durable_end_offset(p->log) : sl_log_safe_end_offset(p->log);
}

static void on_progress(void *ctx, struct sl_log *log, int64_t written_end_offset,
                        int64_t durable_end_offset, enum sl_storage_err err)
{
    struct sl_dp_partition *p = ctx;
    struct sl_shard *s = p->shard;
    (void)written_end_offset;
    (void)durable_end_offset;
    if (err != SL_STORAGE_OK)
        fprintf(stderr, "sluiced: shard %u: %s: write failed: %s\n", s->opts.shard_id,
                sl_log_path(log), sl_storage_strerror(err));
    if (p->log == log) /* NULL while sl_log_open still runs: nothing written yet */
        sl_log_set_high_watermark(log, sl_dp_partition_hw(p));
    /* Produces waiting for these ends are answered, and fetches parked below the high
     * watermark (on this shard and the others) try again. */
    s->storage_progress = true;
    s->appended = true;
    atomic_fetch_add_explicit(&s->append_seq, 1, memory_order_relaxed);
}

/* message.timestamp.type of t, else log.message.timestamp.type: whether the broker's
 * clock stamps its batches. */
static bool topic_log_append_time(const struct sl_shard *s, const struct sl_md_topic *t)
{
    const char *type = t != NULL ? sl_md_topic_config(t, "message.timestamp.type") : NULL;
    if (type == NULL)
        type = sl_dp_broker_config(s, SL_CONFIG_LOG_MESSAGE_TIMESTAMP_TYPE, NULL);
    return type != NULL && strcmp(type, "LogAppendTime") == 0;
}

/* The timestamp limits of t into p: KIP-937's before/after keys where set (a value other
 * than the default, as Kafka decides), else the older difference key for both sides. */
static void apply_timestamp_limits(const struct sl_shard *s, struct sl_dp_partition *p,
                                   const struct sl_md_topic *t, bool log_append_time)
{
    p->timestamp_before_max_ms = INT64_MAX;
    p->timestamp_after_max_ms = INT64_MAX;
    if (log_append_time)
        return;
    int64_t difference =
        sl_dp_topic_int(s, t, "message.timestamp.difference.max.ms",
                        SL_CONFIG_LOG_MESSAGE_TIMESTAMP_DIFFERENCE_MAX_MS, INT64_MAX);
    int64_t before = sl_dp_topic_int(s, t, "message.timestamp.before.max.ms",
                                     SL_CONFIG_LOG_MESSAGE_TIMESTAMP_BEFORE_MAX_MS, INT64_MAX);
    int64_t after = sl_dp_topic_int(s, t, "message.timestamp.after.max.ms",
                                    SL_CONFIG_LOG_MESSAGE_TIMESTAMP_AFTER_MAX_MS, INT64_MAX);
    p->timestamp_before_max_ms = before != INT64_MAX ? before : difference;
    p->timestamp_after_max_ms = after != INT64_MAX ? after : difference;
}

/* Whether cleanup.policy of t lists delete (Kafka's default). A compact-only topic keeps
 * every segment whatever its age or the partition's size: Kafka removes its old records
 * only by compaction, which sluice does not do yet, so retention must not either. */
static bool topic_deletes_by_retention(const struct sl_md_topic *t)
{
    const char *policy = t != NULL ? sl_md_topic_config(t, "cleanup.policy") : NULL;
    if (policy == NULL)
        return true;
    for (const char *at = policy; *at != '\0';) {
        while (*at == ' ' || *at == ',')
            at++;
        size_t n = strcspn(at, ", ");
        if (n == 6 && strncmp(at, "delete", 6) == 0)
            return true;
        at += n;
    }
    return false;
}

static void log_config_for(struct sl_shard *s, const struct sl_md_topic *t,
                           struct sl_log_config *lc)
{
    sl_log_config_default(lc);
    const int none = -1;
    lc->segment_bytes = (uint32_t)sl_dp_topic_int(s, t, "segment.bytes",
                                                  SL_CONFIG_LOG_SEGMENT_BYTES, lc->segment_bytes);
    lc->segment_ms = sl_dp_topic_int(s, t, "segment.ms", SL_CONFIG_LOG_ROLL_MS, lc->segment_ms);
    lc->index_interval_bytes = (uint32_t)sl_dp_topic_int(
        s, t, "index.interval.bytes", SL_CONFIG_LOG_INDEX_INTERVAL_BYTES, lc->index_interval_bytes);
    lc->segment_index_bytes = (uint32_t)sl_dp_topic_int(
        s, t, "segment.index.bytes", (enum sl_config_key)none, lc->segment_index_bytes);
    lc->retention_ms = sl_dp_topic_int(s, t, "retention.ms", (enum sl_config_key)none,
                                       sl_dp_log_retention_ms(s, NULL));
    lc->retention_bytes = sl_dp_topic_int(s, t, "retention.bytes", SL_CONFIG_LOG_RETENTION_BYTES,
                                          lc->retention_bytes);
    if (!topic_deletes_by_retention(t)) {
        lc->retention_ms = -1;
        lc->retention_bytes = -1;
    }
    lc->flush_messages = sl_dp_topic_int(s, t, "flush.messages",
                                         SL_CONFIG_LOG_FLUSH_INTERVAL_MESSAGES, lc->flush_messages);
    lc->flush_ms = sl_dp_topic_int(s, t, "flush.ms", SL_CONFIG_LOG_FLUSH_INTERVAL_MS, lc->flush_ms);
    lc->max_message_bytes = (uint32_t)sl_dp_topic_int(
        s, t, "max.message.bytes", SL_CONFIG_MESSAGE_MAX_BYTES, lc->max_message_bytes);
    /* A batch never spans segments: a larger limit could not be met anyway (Kafka answers
     * RECORD_LIST_TOO_LARGE for such batches), and storage refuses the combination. */
    lc->max_message_bytes = SL_MIN(lc->max_message_bytes, lc->segment_bytes);
    lc->log_append_time = topic_log_append_time(s, t);
}

/* A topic or broker config changed in the image: give the open log its new settings. */
static void apply_log_config(struct sl_shard *s, struct sl_dp_partition *p,
                             const struct sl_md_topic *t)
{
    struct sl_log_config lc;
    log_config_for(s, t, &lc);
    apply_timestamp_limits(s, p, t, lc.log_append_time);
    const struct sl_log_config *cur = sl_log_get_config(p->log);
    if (lc.segment_bytes == cur->segment_bytes && lc.segment_ms == cur->segment_ms &&
        lc.index_interval_bytes == cur->index_interval_bytes &&
        lc.segment_index_bytes == cur->segment_index_bytes &&
        lc.retention_ms == cur->retention_ms && lc.retention_bytes == cur->retention_bytes &&
        lc.flush_messages == cur->flush_messages && lc.flush_ms == cur->flush_ms &&
        lc.max_message_bytes == cur->max_message_bytes &&
        lc.log_append_time == cur->log_append_time)
        return; /* most image changes touch no config */
    enum sl_storage_err err = sl_log_set_config(p->log, &lc);
    if (err != SL_STORAGE_OK) {
        fprintf(stderr, "sluiced: %s-%d: new topic config not applied: %s\n", t->name, p->partition,
                sl_storage_strerror(err));
        return;
    }
    /* hw_is_durable stays as opened: switching it would move the high watermark back. */
    p->max_message_bytes = lc.max_message_bytes;
    s->stats.partition_config_changes++;
}

static bool is_replica(const struct sl_md_partition *mp, int32_t node_id)
{
    for (uint32_t i = 0; i < mp->replica_count; i++) {
        if (mp->replicas[i] == node_id)
            return true;
    }
    return false;
}

static void queue_delete(struct sl_shard *s, const char *path)
{
    unsigned tail = atomic_load_explicit(&s->delete_tail, memory_order_relaxed);
    unsigned head = atomic_load_explicit(&s->delete_head, memory_order_acquire);
    if (tail - head >= s->opts.delete_queue_max) {
        fprintf(stderr, "sluiced: shard %u: delete queue full, leaving %s on disk\n",
                s->opts.shard_id, path);
        return;
    }
    snprintf(s->delete_ring[tail % s->opts.delete_queue_max], 4096, "%s", path);
    atomic_store_explicit(&s->delete_tail, tail + 1, memory_order_release);
}

bool sl_shard_take_deleted_dir(struct sl_shard *s, char *out, size_t out_size)
{
    unsigned head = atomic_load_explicit(&s->delete_head, memory_order_relaxed);
    unsigned tail = atomic_load_explicit(&s->delete_tail, memory_order_acquire);
    if (head == tail)
        return false;
    snprintf(out, out_size, "%s", s->delete_ring[head % s->opts.delete_queue_max]);
    atomic_store_explicit(&s->delete_head, head + 1, memory_order_release);
    return true;
}

static void partition_close(struct sl_shard *s, struct sl_dp_partition *p, bool delete_data)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s", sl_log_path(p->log));
    /* Parked fetches and ack waiters look partitions up again when they run, so a
     * closed partition is simply not found by them. */
    enum sl_storage_err err = sl_log_close(p->log); /* completes a producer-state read */
    sl_dp_producers_close(&p->producers);
    if (err != SL_STORAGE_OK)
        fprintf(stderr, "sluiced: shard %u: closing %s: %s\n", s->opts.shard_id, path,
                sl_storage_strerror(err));
    p->log = NULL;
    p->used = false;
    p->tombstone = true;
    s->partition_count--;
    s->stats.partitions_open--;
    s->stats.partitions_closed++;
    if (delete_data)
        queue_delete(s, path);
}

void sl_dp_partitions_reconcile(struct sl_shard *s)
{
    const struct sl_md_image *img = s->image;
    uint64_t version = img->version;
    bool failed = false;
    uint32_t log_ops = 0;
    s->reconcile_more = false;
    for (uint32_t ti = 0; ti < img->topic_count; ti++) {
        const struct sl_md_topic *t = img->topics_by_name[ti];
        if (sl_dp_is_offsets_topic(t->name))
            continue; /* its logs are the group host's (dataplane/group_host.c) */
        for (uint32_t pi = 0; pi < t->partition_count; pi++) {
            const struct sl_md_partition *mp = &t->partitions[pi];
            if (!is_replica(mp, s->opts.node_id) ||
                sl_dp_partition_shard(&t->topic_id, mp->partition, s->opts.shard_count) !=
                    s->opts.shard_id)
                continue;
            struct sl_dp_partition *p = sl_dp_partition_find(s, &t->topic_id, mp->partition);
            if (p == NULL && log_ops >= SL_DP_RECONCILE_LOG_OPS_MAX) {
                s->reconcile_more = true; /* opened by a later pass */
                continue;
            }
            if (p == NULL) {
                p = partition_insert(s, &t->topic_id, mp->partition);
                if (p == NULL) {
                    s->stats.partition_open_errors++;
                    continue;
                }
                struct sl_log_config lc;
                log_config_for(s, t, &lc);
                p->shard = s;
                p->hw_is_durable = lc.flush_messages == 1;
                struct sl_log_callbacks cb = {on_progress, p};
                struct sl_log_recovery_report report;
                enum sl_storage_err err =
                    sl_log_open(s->storage, s->opts.log_dir, t->name, mp->partition, &lc, &cb,
                                s->now_ms, &p->log, &report);
                if (err != SL_STORAGE_OK) {
                    /* Retried from the loop every second (e.g. when cache chunks free up). */
                    if (!s->open_failed)
                        fprintf(stderr, "sluiced: shard %u: cannot open %s-%d: %s\n",
                                s->opts.shard_id, t->name, mp->partition, sl_storage_strerror(err));
                    failed = true;
                    p->used = false;
                    p->tombstone = true;
                    s->partition_count--;
                    s->stats.partition_open_errors++;
                    continue;
                }
                log_ops++; /* failed opens are quick and not counted: they retry later */
                snprintf(p->topic, sizeof(p->topic), "%s", t->name);
                if (!sl_dp_producers_open(&p->producers, s->storage, p->log))
                    fprintf(stderr,
                            "sluiced: %s-%d: no memory to rebuild idempotent producer state\n",
                            t->name, mp->partition);
                if (p->producers.loading)
                    s->producer_loads++;
                sl_log_set_high_watermark(p->log, sl_dp_partition_hw(p));
                p->max_message_bytes = lc.max_message_bytes;
                apply_timestamp_limits(s, p, t, lc.log_append_time);
                s->stats.partitions_open++;
                s->stats.partitions_opened++;
                if (!report.clean_shutdown && report.segments_scanned > 0)
                    fprintf(stderr,
                            "sluiced: recovered %s-%d: %u segments scanned, %" PRIu64
                            " bytes truncated, log end %" PRId64 "\n",
                            t->name, mp->partition, report.segments_scanned, report.bytes_truncated,
                            report.log_end_offset);
            } else if (p->seen_version != version)
                apply_log_config(s, p, t);
            p->leader_epoch = mp->leader_epoch;
            p->seen_version = version;
        }
    }
    for (uint32_t i = 0; i < s->partition_cap; i++) {
        struct sl_dp_partition *p = &s->partitions[i];
        if (!p->used || p->seen_version == version)
            continue;
        if (log_ops >= SL_DP_RECONCILE_LOG_OPS_MAX) {
            s->reconcile_more = true;
            break;
        }
        log_ops++;
        /* Gone from this broker: deleted topic (remove the data) or moved elsewhere. */
        bool topic_gone = sl_md_image_topic_by_id(img, &p->topic_id) == NULL;
        partition_close(s, p, topic_gone);
    }
    s->open_failed = failed;
}

void sl_dp_partitions_close_all(struct sl_shard *s)
{
    for (uint32_t i = 0; i < s->partition_cap; i++) {
        if (s->partitions[i].used)
            partition_close(s, &s->partitions[i], false);
    }
}

void sl_dp_partitions_load_producers(struct sl_shard *s)
{
    uint32_t loading = 0;
    for (uint32_t i = 0; i < s->partition_cap; i++) {
        struct sl_dp_partition *p = &s->partitions[i];
        if (p->used && sl_dp_producers_load_step(&p->producers, p->log))
            loading++;
    }
    s->producer_loads = loading; /* recounted: closes and finished reads drop out */
}

void sl_dp_partitions_retention_poll(struct sl_shard *s)
{
    if (s->now_ms < s->retention_next_ms)
        return;
    int64_t interval_ms = sl_config_int(s->opts.config, SL_CONFIG_LOG_RETENTION_CHECK_INTERVAL_MS);
    s->retention_next_ms = s->now_ms + interval_ms;
    /* Segment timestamps are wall-clock times (record timestamps), unlike now_ms. */
    int64_t wall_ms = sl_wall_clock_ms();
    for (uint32_t i = 0; i < s->partition_cap; i++) {
        struct sl_dp_partition *p = &s->partitions[i];
        if (!p->used || p->log == NULL)
            continue;
        struct sl_log_retention_report rep;
        enum sl_storage_err err = sl_log_enforce_retention(p->log, wall_ms, &rep);
        if (err != SL_STORAGE_OK) {
            fprintf(stderr, "sluiced: %s-%d: retention: %s\n", p->topic, p->partition,
                    sl_storage_strerror(err));
            continue;
        }
        if (rep.segments_deleted > 0) {
            s->stats.retention_segments_deleted += rep.segments_deleted;
            /* The new log start must survive a crash like DeleteRecords' does. */
            err = sl_log_write_checkpoints(p->log);
            if (err != SL_STORAGE_OK)
                fprintf(stderr, "sluiced: %s-%d: checkpoints: %s\n", p->topic, p->partition,
                        sl_storage_strerror(err));
        }
    }
}
