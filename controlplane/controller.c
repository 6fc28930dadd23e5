#include "controlplane/controller.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sl_assert.h"
#include "common/sl_compiler.h"

static void set_error(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t err_size, const char *fmt, ...)
{
    if (err == NULL || err_size == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

void sl_controller_settings_from_config(const struct sl_config *cfg,
                                        struct sl_controller_settings *out)
{
    out->default_partitions = (int32_t)sl_config_int(cfg, SL_CONFIG_NUM_PARTITIONS);
    out->default_replication_factor =
        (int32_t)sl_config_int(cfg, SL_CONFIG_DEFAULT_REPLICATION_FACTOR);
    out->unclean_leader_election = sl_config_bool(cfg, SL_CONFIG_UNCLEAN_LEADER_ELECTION_ENABLE);
    out->delete_topic_enable = sl_config_bool(cfg, SL_CONFIG_DELETE_TOPIC_ENABLE);
    out->broker_session_timeout_ms = sl_config_int(cfg, SL_CONFIG_BROKER_SESSION_TIMEOUT_MS);
}

/* ---- batches and all-or-nothing operations ---- */

int sl_controller_batch_init(struct sl_controller_batch *batch, const struct sl_md_image *base)
{
    memset(batch, 0, sizeof(*batch));
    batch->draft = sl_md_image_clone(base);
    return batch->draft ? 0 : -ENOMEM;
}

void sl_controller_batch_free(struct sl_controller_batch *batch)
{
    sl_md_image_unref(batch->draft);
    free(batch->records);
    memset(batch, 0, sizeof(*batch));
}

/* One operation: records go to a private copy of the draft and are kept only on commit. */
struct op {
    struct sl_controller_batch *batch;
    struct sl_md_image *draft;
    size_t start_count;
    bool failed;
};

static int op_begin(struct op *op, struct sl_controller_batch *batch)
{
    op->batch = batch;
    op->start_count = batch->count;
    op->failed = false;
    op->draft = sl_md_image_clone(batch->draft);
    return op->draft ? 0 : -ENOMEM;
}

/* Appends a record and applies it to the op's draft. A record the image refuses is a
 * controller bug, except ENOMEM and the batch bound, which fail the operation. */
static void op_emit(struct op *op, const struct sl_md_record *record)
{
    if (op->failed) {
        return;
    }
    struct sl_controller_batch *b = op->batch;
    if (b->count == SL_CONTROLLER_BATCH_RECORDS_MAX) {
        op->failed = true;
        return;
    }
    if (b->count == b->capacity) {
        size_t cap = b->capacity ? b->capacity * 2 : 16;
        cap = SL_MIN(cap, (size_t)SL_CONTROLLER_BATCH_RECORDS_MAX);
        struct sl_md_record *grown = realloc(b->records, cap * sizeof(*grown));
        if (grown == NULL) {
            op->failed = true;
            return;
        }
        b->records = grown;
        b->capacity = cap;
    }
    char err[256];
    int rc = sl_md_image_apply(op->draft, record, err, sizeof(err));
    if (rc == -ENOMEM) {
        op->failed = true;
        return;
    }
    if (rc != 0) {
        fprintf(stderr, "controller produced a record the image refuses: %s\n", err);
        SL_ASSERT(rc == 0);
    }
    b->records[b->count++] = *record;
}

static int op_end(struct op *op, int code)
{
    if (op->failed && code == SL_KAFKA_NONE) {
        code = SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    if (code == SL_KAFKA_NONE) {
        sl_md_image_unref(op->batch->draft);
        op->batch->draft = op->draft;
    } else {
        sl_md_image_unref(op->draft);
        op->batch->count = op->start_count;
    }
    return code;
}

/* ---- liveness ---- */

int sl_controller_liveness_init(struct sl_controller_liveness *l, uint32_t capacity)
{
    l->count = 0;
    l->capacity = capacity;
    l->sessions = calloc(capacity, sizeof(*l->sessions));
    return l->sessions ? 0 : -ENOMEM;
}

void sl_controller_liveness_free(struct sl_controller_liveness *l)
{
    free(l->sessions);
    l->sessions = NULL;
    l->count = 0;
}

static struct sl_controller_session *session_find(struct sl_controller_liveness *l, int32_t id)
{
    for (uint32_t i = 0; i < l->count; i++) {
        if (l->sessions[i].broker_id == id) {
            return &l->sessions[i];
        }
    }
    return NULL;
}

/* Finds or adds the session of `id`; NULL when the table is full. */
static struct sl_controller_session *session_get(struct sl_controller_liveness *l, int32_t id,
                                                 int64_t now_ms)
{
    struct sl_controller_session *s = session_find(l, id);
    if (s == NULL && l->count < l->capacity) {
        s = &l->sessions[l->count++];
        s->broker_id = id;
        s->last_heartbeat_ms = now_ms;
    }
    return s;
}

void sl_controller_liveness_reset(struct sl_controller_liveness *l, const struct sl_md_image *image,
                                  int64_t now_ms)
{
    l->count = 0;
    for (uint32_t i = 0; i < image->broker_count && l->count < l->capacity; i++) {
        l->sessions[l->count].broker_id = image->brokers[i].broker_id;
        l->sessions[l->count].last_heartbeat_ms = now_ms;
        l->count++;
    }
}

/* ---- partition helpers ---- */

static bool broker_alive(const struct sl_md_image *image, int32_t id)
{
    const struct sl_md_broker *b = sl_md_image_broker(image, id);
    return b != NULL && !b->fenced;
}

static bool list_has(const int32_t *v, uint8_t n, int32_t id)
{
    for (uint8_t i = 0; i < n; i++) {
        if (v[i] == id) {
            return true;
        }
    }
    return false;
}

/* First replica, in preference order, that is in `isr`, alive and not `exclude`. */
static int32_t choose_leader(const struct sl_md_image *image, const struct sl_md_partition *p,
                             const int32_t *isr, uint8_t isr_count, int32_t exclude)
{
    for (uint8_t i = 0; i < p->replica_count; i++) {
        int32_t id = p->replicas[i];
        if (id != exclude && list_has(isr, isr_count, id) && broker_alive(image, id)) {
            return id;
        }
    }
    return SL_MD_NO_LEADER;
}

/* Emits the new state of `old` with `leader` and `isr`, bumping the epochs. */
static void emit_partition_change(struct op *op, const struct sl_md_partition *old, int32_t leader,
                                  const int32_t *isr, uint8_t isr_count)
{
    struct sl_md_record r;
    memset(&r, 0, sizeof(r));
    r.type = SL_MD_RECORD_PARTITION_CHANGE;
    r.partition = *old;
    r.partition.leader = leader;
    r.partition.leader_epoch = old->leader_epoch + (leader != old->leader ? 1 : 0);
    r.partition.partition_epoch = old->partition_epoch + 1;
    memset(r.partition.isr, 0, sizeof(r.partition.isr));
    memcpy(r.partition.isr, isr, isr_count * sizeof(*isr));
    r.partition.isr_count = isr_count;
    op_emit(op, &r);
}

/* Copies the partitions of topic `index` (by name order) so emitting changes while
 * iterating cannot invalidate what is being iterated. */
static struct sl_md_partition *snapshot_partitions(const struct sl_md_image *image, uint32_t index,
                                                   uint32_t *count)
{
    const struct sl_md_topic *t = image->topics_by_name[index];
    *count = t->partition_count;
    if (t->partition_count == 0) {
        return NULL;
    }
    struct sl_md_partition *copy = malloc(t->partition_count * sizeof(*copy));
    if (copy != NULL) {
        memcpy(copy, t->partitions, t->partition_count * sizeof(*copy));
    }
    return copy;
}

/* Removes `broker_id` (now fenced in op->draft) from ISRs and moves its leaderships. */
static void move_leadership_away(struct op *op, const struct sl_controller_settings *settings,
                                 int32_t broker_id)
{
    uint32_t topic_count = op->draft->topic_count;
    for (uint32_t t = 0; t < topic_count && !op->failed; t++) {
        uint32_t n;
        struct sl_md_partition *parts = snapshot_partitions(op->draft, t, &n);
        if (n > 0 && parts == NULL) {
            op->failed = true;
            return;
        }
        for (uint32_t i = 0; i < n; i++) {
            const struct sl_md_partition *p = &parts[i];
            bool in_isr = list_has(p->isr, p->isr_count, broker_id);
            if (!in_isr && p->leader != broker_id) {
                continue;
            }
            int32_t isr[SL_MD_REPLICAS_MAX];
            uint8_t isr_count = 0;
            for (uint8_t k = 0; k < p->isr_count; k++) {
                if (p->isr[k] != broker_id) {
                    isr[isr_count++] = p->isr[k];
                }
            }
            int32_t leader = p->leader;
            if (leader == broker_id || leader == SL_MD_NO_LEADER) {
                leader = choose_leader(op->draft, p, isr, isr_count, broker_id);
            }
            if (isr_count == 0) {
                /* The last in-sync replica stays recorded so a clean election can pick it
                 * when it returns. */
                isr[isr_count++] = broker_id;
                leader = SL_MD_NO_LEADER;
                if (settings->unclean_leader_election) {
                    for (uint8_t k = 0; k < p->replica_count; k++) {
                        if (p->replicas[k] != broker_id &&
                            broker_alive(op->draft, p->replicas[k])) {
                            leader = p->replicas[k];
                            isr[0] = leader;
                            break;
                        }
                    }
                }
            }
            emit_partition_change(op, p, leader, isr, isr_count);
        }
        free(parts);
    }
}

/* Elects `broker_id` (now unfenced in op->draft) for leaderless partitions it may lead. */
static void recover_leaderless(struct op *op, const struct sl_controller_settings *settings,
                               int32_t broker_id)
{
    uint32_t topic_count = op->draft->topic_count;
    for (uint32_t t = 0; t < topic_count && !op->failed; t++) {
        uint32_t n;
        struct sl_md_partition *parts = snapshot_partitions(op->draft, t, &n);
        if (n > 0 && parts == NULL) {
            op->failed = true;
            return;
        }
        for (uint32_t i = 0; i < n; i++) {
            const struct sl_md_partition *p = &parts[i];
            if (p->leader != SL_MD_NO_LEADER ||
                !list_has(p->replicas, p->replica_count, broker_id)) {
                continue;
            }
            int32_t leader = choose_leader(op->draft, p, p->isr, p->isr_count, SL_MD_NO_LEADER);
            if (leader != SL_MD_NO_LEADER) {
                emit_partition_change(op, p, leader, p->isr, p->isr_count);
            } else if (settings->unclean_leader_election) {
                int32_t isr[1] = {broker_id};
                emit_partition_change(op, p, broker_id, isr, 1);
            }
        }
        free(parts);
    }
}

static void emit_fence(struct op *op, const struct sl_md_broker *b, bool fenced)
{
    struct sl_md_record r;
    memset(&r, 0, sizeof(r));
    r.type = SL_MD_RECORD_FENCE_BROKER;
    r.broker_change.broker_id = b->broker_id;
    r.broker_change.broker_epoch = b->broker_epoch;
    r.broker_change.fenced = fenced;
    op_emit(op, &r);
}

/* ---- placement ---- */

struct placement {
    uint32_t n;
    int32_t *ids;       /* brokers in placement order */
    const char **racks; /* rack of ids[i] */
    bool rack_aware;
    uint32_t rack_count;
    uint32_t start;
    uint32_t shift_seed;
};

static int compare_brokers_by_rack(const void *a, const void *b)
{
    const struct sl_md_broker *x = *(const struct sl_md_broker *const *)a;
    const struct sl_md_broker *y = *(const struct sl_md_broker *const *)b;
    int rc = strcmp(x->rack, y->rack);
    return rc != 0 ? rc : (x->broker_id > y->broker_id) - (x->broker_id < y->broker_id);
}

static void placement_free(struct placement *pl)
{
    free(pl->ids);
    free(pl->racks);
}

/* Orders the unfenced brokers: by id, or interleaved over racks (a1 b1 c1 a2 b2 ...)
 * when every one has a rack, so consecutive brokers sit in different racks. */
static int placement_init(struct placement *pl, const struct sl_md_image *image, uint32_t seed)
{
    memset(pl, 0, sizeof(*pl));
    const struct sl_md_broker **live = calloc(image->broker_count + 1, sizeof(*live));
    pl->ids = calloc(image->broker_count + 1, sizeof(*pl->ids));
    pl->racks = calloc(image->broker_count + 1, sizeof(*pl->racks));
    if (live == NULL || pl->ids == NULL || pl->racks == NULL) {
        free(live);
        placement_free(pl);
        return -ENOMEM;
    }
    bool all_racks = true;
    for (uint32_t i = 0; i < image->broker_count; i++) {
        if (!image->brokers[i].fenced) {
            live[pl->n++] = &image->brokers[i];
            all_racks = all_racks && image->brokers[i].rack[0] != '\0';
        }
    }
    pl->rack_aware = pl->n > 0 && all_racks;
    if (pl->rack_aware) {
        qsort(live, pl->n, sizeof(*live), compare_brokers_by_rack);
        /* Racks are now contiguous runs; take one broker from each run in turn. */
        uint32_t run_start[SL_MD_REPLICAS_MAX * 64];
        uint32_t run_len[SL_MD_REPLICAS_MAX * 64];
        uint32_t runs = 0;
        for (uint32_t i = 0; i < pl->n; i++) {
            if (i == 0 || strcmp(live[i]->rack, live[i - 1]->rack) != 0) {
                if (runs == SL_ARRAY_LEN(run_start)) {
                    pl->rack_aware = false; /* absurd rack count: place by id */
                    break;
                }
                run_start[runs] = i;
                run_len[runs++] = 0;
            }
            run_len[runs - 1]++;
        }
        if (pl->rack_aware) {
            pl->rack_count = runs;
            uint32_t out = 0;
            for (uint32_t round = 0; out < pl->n; round++) {
                for (uint32_t r = 0; r < runs; r++) {
                    if (round < run_len[r]) {
                        const struct sl_md_broker *b = live[run_start[r] + round];
                        pl->ids[out] = b->broker_id;
                        pl->racks[out++] = b->rack;
                    }
                }
            }
        }
    }
    if (!pl->rack_aware) {
        /* image->brokers is sorted by id, so live[] is too. */
        for (uint32_t i = 0; i < pl->n; i++) {
            pl->ids[i] = live[i]->broker_id;
            pl->racks[i] = live[i]->rack;
        }
    }
    free(live);
    pl->shift_seed = seed;
    return 0;
}

/* Starts placement at the broker leading the fewest partitions, so preferred leaders
 * stay balanced across topics; ties go to the seed's rotation. */
static void placement_choose_start(struct placement *pl, const struct sl_md_image *image,
                                   uint32_t seed)
{
    if (pl->n == 0) {
        return;
    }
    uint64_t best_count = UINT64_MAX;
    for (uint32_t k = 0; k < pl->n; k++) {
        uint32_t i = (uint32_t)((seed + k) % pl->n);
        uint64_t count = 0;
        for (uint32_t t = 0; t < image->topic_count; t++) {
            const struct sl_md_topic *topic = image->topics_by_name[t];
            for (uint32_t p = 0; p < topic->partition_count; p++) {
                count += topic->partitions[p].leader == pl->ids[i];
            }
        }
        if (count < best_count) {
            best_count = count;
            pl->start = i;
        }
    }
}

/* Replicas of partition number `p` (rf <= pl->n). */
static void place_partition(const struct placement *pl, uint32_t p, int rf, int32_t *replicas)
{
    uint32_t n = pl->n;
    uint32_t first = (pl->start + p) % n;
    replicas[0] = pl->ids[first];
    if (rf == 1) {
        return;
    }
    /* The shift changes every n partitions so followers do not always pair the same way. */
    uint32_t shift = (pl->shift_seed + p / n) % (n - 1);
    if (!pl->rack_aware) {
        for (int j = 1; j < rf; j++) {
            uint32_t idx = (first + 1 + (shift + (uint32_t)j - 1) % (n - 1)) % n;
            replicas[j] = pl->ids[idx];
        }
        return;
    }
    const char *used_racks[SL_MD_REPLICAS_MAX];
    uint32_t used_rack_count = 1;
    used_racks[0] = pl->racks[first];
    for (int j = 1; j < rf; j++) {
        int32_t chosen = -1;
        uint32_t chosen_idx = 0;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t idx = (first + 1 + shift + k) % n;
            if (list_has(replicas, (uint8_t)j, pl->ids[idx])) {
                continue;
            }
            bool rack_used = false;
            for (uint32_t u = 0; u < used_rack_count; u++) {
                rack_used = rack_used || strcmp(used_racks[u], pl->racks[idx]) == 0;
            }
            /* Every rack gets a replica before any rack gets a second one. */
            if (rack_used && used_rack_count < pl->rack_count) {
                continue;
            }
            chosen = pl->ids[idx];
            chosen_idx = idx;
            break;
        }
        SL_ASSERT(chosen >= 0);
        replicas[j] = chosen;
        bool known = false;
        for (uint32_t u = 0; u < used_rack_count; u++) {
            known = known || strcmp(used_racks[u], pl->racks[chosen_idx]) == 0;
        }
        if (!known) {
            used_racks[used_rack_count++] = pl->racks[chosen_idx];
        }
    }
}

static void emit_new_partition(struct op *op, const struct sl_md_uuid *topic_id, int32_t index,
                               const int32_t *replicas, int rf)
{
    struct sl_md_record r;
    memset(&r, 0, sizeof(r));
    r.type = SL_MD_RECORD_PARTITION;
    r.partition.topic_id = *topic_id;
    r.partition.partition = index;
    r.partition.leader = replicas[0];
    r.partition.replica_count = (uint8_t)rf;
    r.partition.isr_count = (uint8_t)rf;
    memcpy(r.partition.replicas, replicas, (size_t)rf * sizeof(*replicas));
    memcpy(r.partition.isr, replicas, (size_t)rf * sizeof(*replicas));
    op_emit(op, &r);
}

/* ---- requests ---- */

int sl_controller_create_topic(struct sl_controller_batch *batch,
                               const struct sl_controller_settings *settings,
                               const struct sl_controller_create_topic_request *req,
                               const struct sl_md_uuid *topic_id, uint32_t seed, char *err,
                               size_t err_size)
{
    const struct sl_md_image *image = batch->draft;
    if (!sl_md_topic_name_valid(req->name)) {
        set_error(err, err_size, "topic name '%.*s' is illegal: use 1 to 249 of a-z A-Z 0-9 . _ -",
                  249, req->name);
        return SL_KAFKA_INVALID_TOPIC_EXCEPTION;
    }
    if (sl_md_image_topic(image, req->name) != NULL) {
        set_error(err, err_size, "topic '%s' already exists", req->name);
        return SL_KAFKA_TOPIC_ALREADY_EXISTS;
    }
    int32_t partitions =
        req->num_partitions == -1 ? settings->default_partitions : req->num_partitions;
    if (partitions < 1 || partitions > SL_CONTROLLER_PARTITIONS_MAX) {
        set_error(err, err_size, "number of partitions %d is out of range 1..%d", partitions,
                  SL_CONTROLLER_PARTITIONS_MAX);
        return SL_KAFKA_INVALID_PARTITIONS;
    }
    int rf = req->replication_factor == -1 ? settings->default_replication_factor
                                           : req->replication_factor;
    if (rf < 1 || rf > SL_MD_REPLICAS_MAX) {
        set_error(err, err_size, "replication factor %d is out of range 1..%d", rf,
                  SL_MD_REPLICAS_MAX);
        return SL_KAFKA_INVALID_REPLICATION_FACTOR;
    }
    if (req->config_count > SL_CONTROLLER_TOPIC_CONFIGS_MAX) {
        set_error(err, err_size, "more than %d configs", SL_CONTROLLER_TOPIC_CONFIGS_MAX);
        return SL_KAFKA_INVALID_REQUEST;
    }
    for (uint32_t i = 0; i < req->config_count; i++) {
        char why[256];
        if (sl_topic_config_validate(req->configs[i].key, req->configs[i].value, why,
                                     sizeof(why)) != 0) {
            set_error(err, err_size, "%s", why);
            return SL_KAFKA_INVALID_CONFIG;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(req->configs[i].key, req->configs[j].key) == 0) {
                set_error(err, err_size, "config '%s' is given twice", req->configs[i].key);
                return SL_KAFKA_INVALID_REQUEST;
            }
        }
    }
    struct placement pl;
    if (placement_init(&pl, image, seed) != 0) {
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    if ((uint32_t)rf > pl.n) {
        set_error(err, err_size,
                  "replication factor %d is larger than the %u available (unfenced) brokers", rf,
                  pl.n);
        placement_free(&pl);
        return SL_KAFKA_INVALID_REPLICATION_FACTOR;
    }
    placement_choose_start(&pl, image, seed);
    struct op op;
    if (op_begin(&op, batch) != 0) {
        placement_free(&pl);
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    struct sl_md_record r;
    memset(&r, 0, sizeof(r));
    r.type = SL_MD_RECORD_TOPIC;
    snprintf(r.topic.name, sizeof(r.topic.name), "%s", req->name);
    r.topic.topic_id = *topic_id;
    op_emit(&op, &r);
    for (int32_t p = 0; p < partitions && !op.failed; p++) {
        int32_t replicas[SL_MD_REPLICAS_MAX];
        place_partition(&pl, (uint32_t)p, rf, replicas);
        emit_new_partition(&op, topic_id, p, replicas, rf);
    }
    for (uint32_t i = 0; i < req->config_count; i++) {
        memset(&r, 0, sizeof(r));
        r.type = SL_MD_RECORD_CONFIG;
        r.config.resource_type = SL_MD_RESOURCE_TOPIC;
        snprintf(r.config.resource_name, sizeof(r.config.resource_name), "%s", req->name);
        snprintf(r.config.key, sizeof(r.config.key), "%s", req->configs[i].key);
        r.config.has_value = true;
        snprintf(r.config.value, sizeof(r.config.value), "%s", req->configs[i].value);
        op_emit(&op, &r);
    }
    placement_free(&pl);
    if (op.failed) {
        set_error(err, err_size, "topic '%s' needs more records than one proposal holds",
                  req->name);
    }
    return op_end(&op, SL_KAFKA_NONE);
}

int sl_controller_delete_topic(struct sl_controller_batch *batch,
                               const struct sl_controller_settings *settings, const char *name)
{
    if (!settings->delete_topic_enable) {
        return SL_KAFKA_TOPIC_DELETION_DISABLED;
    }
    const struct sl_md_topic *t = sl_md_image_topic(batch->draft, name);
    if (t == NULL) {
        return SL_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    }
    struct op op;
    if (op_begin(&op, batch) != 0) {
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    struct sl_md_record r;
    memset(&r, 0, sizeof(r));
    r.type = SL_MD_RECORD_REMOVE_TOPIC;
    r.remove_topic_id = t->topic_id;
    op_emit(&op, &r);
    return op_end(&op, SL_KAFKA_NONE);
}

int sl_controller_create_partitions(struct sl_controller_batch *batch, const char *name,
                                    int32_t total_count, uint32_t seed, char *err, size_t err_size)
{
    const struct sl_md_topic *t = sl_md_image_topic(batch->draft, name);
    if (t == NULL) {
        set_error(err, err_size, "topic '%s' does not exist", name);
        return SL_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (total_count <= (int32_t)t->partition_count || total_count > SL_CONTROLLER_PARTITIONS_MAX) {
        set_error(err, err_size,
                  "topic '%s' has %u partitions; the new count %d must be larger and at most %d",
                  name, t->partition_count, total_count, SL_CONTROLLER_PARTITIONS_MAX);
        return SL_KAFKA_INVALID_PARTITIONS;
    }
    int rf = t->partition_count > 0 ? t->partitions[0].replica_count : 1;
    struct placement pl;
    if (placement_init(&pl, batch->draft, seed) != 0) {
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    if ((uint32_t)rf > pl.n) {
        set_error(err, err_size, "topic '%s' has %d replicas but only %u brokers are unfenced",
                  name, rf, pl.n);
        placement_free(&pl);
        return SL_KAFKA_INVALID_REPLICATION_FACTOR;
    }
    placement_choose_start(&pl, batch->draft, seed);
    struct sl_md_uuid topic_id = t->topic_id;
    uint32_t first_new = t->partition_count;
    struct op op;
    if (op_begin(&op, batch) != 0) {
        placement_free(&pl);
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    for (int32_t p = (int32_t)first_new; p < total_count && !op.failed; p++) {
        int32_t replicas[SL_MD_REPLICAS_MAX];
        place_partition(&pl, (uint32_t)p - first_new, rf, replicas);
        emit_new_partition(&op, &topic_id, p, replicas, rf);
    }
    placement_free(&pl);
    return op_end(&op, SL_KAFKA_NONE);
}

int sl_controller_alter_topic_config(struct sl_controller_batch *batch, const char *topic,
                                     const char *key, const char *value, char *err, size_t err_size)
{
    struct sl_controller_alter_configs_request *req = calloc(1, sizeof(*req));
    if (req == NULL) {
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    req->resource_type = SL_MD_RESOURCE_TOPIC;
    snprintf(req->resource_name, sizeof(req->resource_name), "%s", topic);
    req->change_count = 1;
    snprintf(req->changes[0].key, sizeof(req->changes[0].key), "%s", key);
    req->changes[0].op = value != NULL ? SL_CONTROLLER_CONFIG_SET : SL_CONTROLLER_CONFIG_DELETE;
    req->changes[0].has_value = value != NULL;
    if (value != NULL) {
        snprintf(req->changes[0].value, sizeof(req->changes[0].value), "%s", value);
    }
    int code = sl_controller_alter_configs(batch, req, err, err_size);
    free(req);
    return code;
}

static bool session_alive(struct sl_controller_liveness *l,
                          const struct sl_controller_settings *settings, int32_t id, int64_t now_ms)
{
    struct sl_controller_session *s = session_find(l, id);
    return s != NULL && now_ms - s->last_heartbeat_ms <= settings->broker_session_timeout_ms;
}

/* The registration a broker asks for is the one recorded (rack and listeners). */
static bool same_registration(const struct sl_md_broker *b,
                              const struct sl_controller_register_broker_request *req)
{
    if (strcmp(b->rack, req->rack) != 0 || b->listener_count != req->listener_count) {
        return false;
    }
    for (uint8_t i = 0; i < b->listener_count; i++) {
        const struct sl_md_listener *x = &b->listeners[i];
        const struct sl_md_listener *y = &req->listeners[i];
        if (strcmp(x->name, y->name) != 0 || strcmp(x->host, y->host) != 0 || x->port != y->port) {
            return false;
        }
    }
    return true;
}

int sl_controller_register_broker(struct sl_controller_batch *batch,
                                  const struct sl_controller_settings *settings,
                                  struct sl_controller_liveness *liveness,
                                  const struct sl_controller_register_broker_request *req,
                                  int64_t now_ms, int64_t *broker_epoch)
{
    if (req->broker_id < 0 || req->listener_count > SL_MD_LISTENERS_MAX) {
        return SL_KAFKA_INVALID_REQUEST;
    }
    const struct sl_md_broker *old = sl_md_image_broker(batch->draft, req->broker_id);
    bool same_incarnation =
        old != NULL && memcmp(&old->incarnation_id, &req->incarnation_id, 16) == 0;
    if (same_incarnation && same_registration(old, req)) {
        *broker_epoch = old->broker_epoch;
        return session_get(liveness, req->broker_id, now_ms) ? SL_KAFKA_NONE
                                                             : SL_KAFKA_INVALID_REQUEST;
    }
    /* The same incarnation with other listeners or rack is this broker restarted with a
     * new configuration: it replaces its registration at once. */
    if (old != NULL && !same_incarnation && !old->fenced &&
        session_alive(liveness, settings, req->broker_id, now_ms)) {
        return SL_KAFKA_DUPLICATE_BROKER_REGISTRATION;
    }
    struct sl_controller_session *session = session_get(liveness, req->broker_id, now_ms);
    if (session == NULL) {
        return SL_KAFKA_INVALID_REQUEST;
    }
    struct op op;
    if (op_begin(&op, batch) != 0) {
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    int64_t epoch = (int64_t)op.draft->version + 1;
    if (old != NULL) {
        epoch = SL_MAX(epoch, old->broker_epoch + 1);
        if (!old->fenced) {
            /* The old incarnation is gone: its leaderships move before it re-registers. */
            emit_fence(&op, old, true);
            move_leadership_away(&op, settings, req->broker_id);
        }
    }
    struct sl_md_record r;
    memset(&r, 0, sizeof(r));
    r.type = SL_MD_RECORD_REGISTER_BROKER;
    r.broker.broker_id = req->broker_id;
    r.broker.broker_epoch = epoch;
    r.broker.incarnation_id = req->incarnation_id;
    snprintf(r.broker.rack, sizeof(r.broker.rack), "%s", req->rack);
    r.broker.fenced = true;
    r.broker.listener_count = req->listener_count;
    memcpy(r.broker.listeners, req->listeners, req->listener_count * sizeof(req->listeners[0]));
    op_emit(&op, &r);
    int code = op_end(&op, SL_KAFKA_NONE);
    if (code == SL_KAFKA_NONE) {
        *broker_epoch = epoch;
        session->last_heartbeat_ms = now_ms;
    }
    return code;
}

int sl_controller_fence_broker(struct sl_controller_batch *batch,
                               const struct sl_controller_settings *settings, int32_t broker_id)
{
    const struct sl_md_broker *b = sl_md_image_broker(batch->draft, broker_id);
    if (b == NULL) {
        return SL_KAFKA_BROKER_ID_NOT_REGISTERED;
    }
    if (b->fenced) {
        return SL_KAFKA_NONE;
    }
    struct op op;
    if (op_begin(&op, batch) != 0) {
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    emit_fence(&op, b, true);
    move_leadership_away(&op, settings, broker_id);
    return op_end(&op, SL_KAFKA_NONE);
}

int sl_controller_heartbeat(struct sl_controller_batch *batch,
                            const struct sl_controller_settings *settings,
                            struct sl_controller_liveness *liveness, int32_t broker_id,
                            int64_t broker_epoch, bool want_fence, int64_t now_ms)
{
    const struct sl_md_broker *b = sl_md_image_broker(batch->draft, broker_id);
    if (b == NULL) {
        return SL_KAFKA_BROKER_ID_NOT_REGISTERED;
    }
    if (b->broker_epoch != broker_epoch) {
        return SL_KAFKA_STALE_BROKER_EPOCH;
    }
    struct sl_controller_session *s = session_get(liveness, broker_id, now_ms);
    if (s == NULL) {
        return SL_KAFKA_INVALID_REQUEST;
    }
    s->last_heartbeat_ms = now_ms;
    if (want_fence) {
        return sl_controller_fence_broker(batch, settings, broker_id);
    }
    if (!b->fenced) {
        return SL_KAFKA_NONE;
    }
    struct op op;
    if (op_begin(&op, batch) != 0) {
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    emit_fence(&op, b, false);
    recover_leaderless(&op, settings, broker_id);
    return op_end(&op, SL_KAFKA_NONE);
}

int sl_controller_check_sessions(struct sl_controller_batch *batch,
                                 const struct sl_controller_settings *settings,
                                 struct sl_controller_liveness *liveness, int64_t now_ms)
{
    int fenced = 0;
    /* Collect first: fencing changes the draft's broker array. */
    uint32_t n = batch->draft->broker_count;
    int32_t *expired = calloc(n + 1, sizeof(*expired));
    if (expired == NULL) {
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    uint32_t expired_count = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct sl_md_broker *b = &batch->draft->brokers[i];
        if (b->fenced) {
            continue;
        }
        /* A broker the controller has never heard from gets a full session from now. */
        struct sl_controller_session *s = session_get(liveness, b->broker_id, now_ms);
        if (s != NULL && now_ms - s->last_heartbeat_ms > settings->broker_session_timeout_ms) {
            expired[expired_count++] = b->broker_id;
        }
    }
    for (uint32_t i = 0; i < expired_count; i++) {
        int code = sl_controller_fence_broker(batch, settings, expired[i]);
        if (code != SL_KAFKA_NONE) {
            free(expired);
            return code;
        }
        fenced++;
    }
    free(expired);
    return fenced;
}

int sl_controller_elect_preferred(struct sl_controller_batch *batch, const char *topic,
                                  int32_t partition)
{
    const struct sl_md_topic *t = sl_md_image_topic(batch->draft, topic);
    const struct sl_md_partition *p = t ? sl_md_topic_partition(t, partition) : NULL;
    if (p == NULL) {
        return SL_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    }
    int32_t preferred = p->replicas[0];
    if (p->leader == preferred) {
        return SL_KAFKA_ELECTION_NOT_NEEDED;
    }
    if (!list_has(p->isr, p->isr_count, preferred) || !broker_alive(batch->draft, preferred)) {
        return SL_KAFKA_PREFERRED_LEADER_NOT_AVAILABLE;
    }
    struct sl_md_partition old = *p;
    struct op op;
    if (op_begin(&op, batch) != 0) {
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    emit_partition_change(&op, &old, preferred, old.isr, old.isr_count);
    return op_end(&op, SL_KAFKA_NONE);
}

int sl_controller_rebalance_leaders(struct sl_controller_batch *batch)
{
    int moved = 0;
    for (uint32_t t = 0; t < batch->draft->topic_count; t++) {
        char name[SL_MD_TOPIC_NAME_BYTES_MAX];
        memcpy(name, batch->draft->topics_by_name[t]->name, sizeof(name));
        uint32_t count = batch->draft->topics_by_name[t]->partition_count;
        for (uint32_t p = 0; p < count; p++) {
            int code = sl_controller_elect_preferred(batch, name, (int32_t)p);
            if (code == SL_KAFKA_NONE) {
                moved++;
            } else if (code == SL_KAFKA_UNKNOWN_SERVER_ERROR) {
                return code;
            }
        }
    }
    return moved;
}

int sl_controller_alter_partition(struct sl_controller_batch *batch,
                                  const struct sl_controller_alter_partition_request *req,
                                  int32_t *partition_epoch)
{
    const struct sl_md_topic *t = sl_md_image_topic_by_id(batch->draft, &req->topic_id);
    if (t == NULL) {
        return SL_KAFKA_UNKNOWN_TOPIC_ID;
    }
    const struct sl_md_partition *p = sl_md_topic_partition(t, req->partition);
    if (p == NULL) {
        return SL_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    }
    const struct sl_md_broker *b = sl_md_image_broker(batch->draft, req->broker_id);
    if (b == NULL || b->broker_epoch != req->broker_epoch) {
        return SL_KAFKA_STALE_BROKER_EPOCH;
    }
    if (p->leader != req->broker_id) {
        return SL_KAFKA_NOT_LEADER_OR_FOLLOWER;
    }
    if (req->leader_epoch != p->leader_epoch) {
        return SL_KAFKA_FENCED_LEADER_EPOCH;
    }
    if (req->partition_epoch != p->partition_epoch) {
        return SL_KAFKA_INVALID_UPDATE_VERSION;
    }
    if (req->isr_count == 0 || req->isr_count > SL_MD_REPLICAS_MAX ||
        !list_has(req->isr, req->isr_count, req->broker_id)) {
        return SL_KAFKA_INVALID_REQUEST;
    }
    for (uint8_t i = 0; i < req->isr_count; i++) {
        if (list_has(req->isr, i, req->isr[i])) {
            return SL_KAFKA_INVALID_REQUEST;
        }
        if (!list_has(p->replicas, p->replica_count, req->isr[i])) {
            return SL_KAFKA_INELIGIBLE_REPLICA;
        }
        bool joining = !list_has(p->isr, p->isr_count, req->isr[i]);
        if (joining && !broker_alive(batch->draft, req->isr[i])) {
            return SL_KAFKA_INELIGIBLE_REPLICA;
        }
    }
    struct sl_md_partition old = *p;
    struct op op;
    if (op_begin(&op, batch) != 0) {
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    emit_partition_change(&op, &old, old.leader, req->isr, req->isr_count);
    int code = op_end(&op, SL_KAFKA_NONE);
    if (code == SL_KAFKA_NONE) {
        *partition_epoch = old.partition_epoch + 1;
    }
    return code;
}

int sl_controller_alter_broker_config(struct sl_controller_batch *batch, const char *broker,
                                      const char *key, const char *value, char *err,
                                      size_t err_size)
{
    struct sl_controller_alter_configs_request *req = calloc(1, sizeof(*req));
    if (req == NULL) {
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    req->resource_type = SL_MD_RESOURCE_BROKER;
    if (strlen(broker) >= sizeof(req->resource_name)) {
        free(req);
        set_error(err, err_size, "broker resource '%.64s' is not a broker id", broker);
        return SL_KAFKA_INVALID_REQUEST;
    }
    snprintf(req->resource_name, sizeof(req->resource_name), "%s", broker);
    req->change_count = 1;
    snprintf(req->changes[0].key, sizeof(req->changes[0].key), "%s", key);
    req->changes[0].op = value != NULL ? SL_CONTROLLER_CONFIG_SET : SL_CONTROLLER_CONFIG_DELETE;
    req->changes[0].has_value = value != NULL;
    if (value != NULL) {
        snprintf(req->changes[0].value, sizeof(req->changes[0].value), "%s", value);
    }
    int code = sl_controller_alter_configs(batch, req, err, err_size);
    free(req);
    return code;
}

/* ---- AlterConfigs / IncrementalAlterConfigs ---- */

/* The override currently set on the resource in the draft, or NULL. */
static const char *current_override(const struct sl_md_image *draft,
                                    const struct sl_controller_alter_configs_request *req,
                                    const char *key)
{
    if (req->resource_type == SL_MD_RESOURCE_TOPIC) {
        const struct sl_md_topic *t = sl_md_image_topic(draft, req->resource_name);
        return t != NULL ? sl_md_topic_config(t, key) : NULL;
    }
    return sl_md_image_broker_config(draft, req->resource_name, key);
}

/* True when the comma-separated `list` holds `item` (length n). */
static bool list_contains(const char *list, const char *item, size_t n)
{
    for (const char *p = list; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, item, n) == 0) {
            return true;
        }
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    return false;
}

/* APPEND: old items, then the given items not yet present. SUBTRACT: old items that are
 * not among the given ones. Returns false when the result does not fit. */
static bool combine_lists(const char *old, const char *given, bool append, char *out,
                          size_t out_size)
{
    size_t used = 0;
    out[0] = '\0';
    const char *sources[2] = {old, append ? given : ""};
    for (int s = 0; s < 2; s++) {
        for (const char *p = sources[s]; *p != '\0';) {
            size_t len = strcspn(p, ",");
            bool keep = len > 0;
            if (keep && s == 0 && !append) {
                keep = !list_contains(given, p, len);
            } else if (keep && s == 1) {
                keep = !list_contains(out, p, len);
            }
            if (keep) {
                if (used + len + 2 > out_size) {
                    return false;
                }
                if (used > 0) {
                    out[used++] = ',';
                }
                memcpy(out + used, p, len);
                used += len;
                out[used] = '\0';
            }
            p += len;
            if (*p == ',') {
                p++;
            }
        }
    }
    return true;
}

/* Checks one change and works out its result: *value_out is the new value (NULL for a
 * delete). Returns a Kafka error code with err filled. */
static int resolve_change(const struct sl_md_image *draft,
                          const struct sl_controller_alter_configs_request *req,
                          const struct sl_controller_config_change *c, char *value_out,
                          bool *has_value_out, char *err, size_t err_size)
{
    bool topic = req->resource_type == SL_MD_RESOURCE_TOPIC;
    int index = topic ? sl_topic_config_key_find(c->key) : sl_config_key_find(c->key);
    if (index < 0) {
        set_error(err, err_size, "unknown %s config key '%s'", topic ? "topic" : "broker", c->key);
        return SL_KAFKA_INVALID_CONFIG;
    }
    const struct sl_config_key_info *info =
        topic ? &sl_topic_config_key_table()[index] : &sl_config_key_table()[index];
    if (!topic && !sl_config_key_is_dynamic(index)) {
        set_error(err, err_size,
                  "config key '%s' cannot be updated dynamically: set it in server.properties "
                  "and restart",
                  c->key);
        return SL_KAFKA_INVALID_REQUEST;
    }
    *has_value_out = c->op != SL_CONTROLLER_CONFIG_DELETE;
    switch (c->op) {
    case SL_CONTROLLER_CONFIG_DELETE:
        return SL_KAFKA_NONE;
    case SL_CONTROLLER_CONFIG_SET:
        if (!c->has_value) {
            set_error(err, err_size, "config key '%s': null value", c->key);
            return SL_KAFKA_INVALID_REQUEST;
        }
        snprintf(value_out, SL_MD_CONFIG_VALUE_BYTES_MAX, "%s", c->value);
        break;
    case SL_CONTROLLER_CONFIG_APPEND:
    case SL_CONTROLLER_CONFIG_SUBTRACT: {
        bool append = c->op == SL_CONTROLLER_CONFIG_APPEND;
        if (info->type != SL_CONFIG_LIST) {
            set_error(err, err_size,
                      "config value %s is not allowed for config key '%s': not a list",
                      append ? "append" : "subtract", c->key);
            return SL_KAFKA_INVALID_REQUEST;
        }
        const char *old = current_override(draft, req, c->key);
        if (old == NULL) {
            old = info->default_value != NULL ? info->default_value : "";
        }
        if (!combine_lists(old, c->has_value ? c->value : "", append, value_out,
                           SL_MD_CONFIG_VALUE_BYTES_MAX)) {
            set_error(err, err_size, "config key '%s': value too long", c->key);
            return SL_KAFKA_INVALID_CONFIG;
        }
        break;
    }
    default:
        set_error(err, err_size, "config key '%s': unknown operation %u", c->key, c->op);
        return SL_KAFKA_INVALID_REQUEST;
    }
    char why[512];
    int rc = topic ? sl_topic_config_validate(c->key, value_out, why, sizeof(why))
                   : sl_config_check_value(c->key, value_out, why, sizeof(why));
    if (rc != 0) {
        set_error(err, err_size, "%s", why);
        return SL_KAFKA_INVALID_CONFIG;
    }
    return SL_KAFKA_NONE;
}

static bool resource_valid(const struct sl_md_image *draft,
                           const struct sl_controller_alter_configs_request *req, int *code,
                           char *err, size_t err_size)
{
    if (req->change_count > SL_CONTROLLER_TOPIC_CONFIGS_MAX) {
        set_error(err, err_size, "more than %d config changes in one resource",
                  SL_CONTROLLER_TOPIC_CONFIGS_MAX);
        *code = SL_KAFKA_INVALID_REQUEST;
        return false;
    }
    if (req->resource_type == SL_MD_RESOURCE_TOPIC) {
        if (sl_md_image_topic(draft, req->resource_name) == NULL) {
            set_error(err, err_size, "topic '%s' does not exist", req->resource_name);
            *code = SL_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
            return false;
        }
        return true;
    }
    const char *name = req->resource_name;
    size_t n = strlen(name);
    if (req->resource_type != SL_MD_RESOURCE_BROKER || n > 10 ||
        name[strspn(name, "0123456789")] != '\0') {
        set_error(err, err_size, "resource '%s' (type %d) is not a topic or a broker id", name,
                  req->resource_type);
        *code = SL_KAFKA_INVALID_REQUEST;
        return false;
    }
    return true;
}

static void emit_config(struct op *op, const struct sl_controller_alter_configs_request *req,
                        const char *key, bool has_value, const char *value)
{
    struct sl_md_record r;
    memset(&r, 0, sizeof(r));
    r.type = SL_MD_RECORD_CONFIG;
    r.config.resource_type = (uint8_t)req->resource_type;
    snprintf(r.config.resource_name, sizeof(r.config.resource_name), "%s", req->resource_name);
    snprintf(r.config.key, sizeof(r.config.key), "%s", key);
    r.config.has_value = has_value;
    if (has_value) {
        snprintf(r.config.value, sizeof(r.config.value), "%s", value);
    }
    op_emit(op, &r);
}

/* AlterConfigs replaces the whole override set: keys set now but not listed go. */
static void emit_replaced(struct op *op, const struct sl_controller_alter_configs_request *req,
                          const struct sl_md_image *base)
{
    const char *listed[SL_CONTROLLER_TOPIC_CONFIGS_MAX];
    for (uint32_t i = 0; i < req->change_count; i++) {
        listed[i] = req->changes[i].key;
    }
    const struct sl_md_topic *t = req->resource_type == SL_MD_RESOURCE_TOPIC
                                      ? sl_md_image_topic(base, req->resource_name)
                                      : NULL;
    uint32_t count = t != NULL ? t->config_count : base->broker_config_count;
    for (uint32_t k = 0; k < count; k++) {
        const char *key;
        if (t != NULL) {
            key = t->configs[k].key;
        } else if (strcmp(base->broker_configs[k].resource_name, req->resource_name) == 0) {
            key = base->broker_configs[k].key;
        } else {
            continue;
        }
        bool keep = false;
        for (uint32_t i = 0; i < req->change_count && !keep; i++) {
            keep = strcmp(listed[i], key) == 0;
        }
        if (!keep) {
            emit_config(op, req, key, false, NULL);
        }
    }
}

int sl_controller_alter_configs(struct sl_controller_batch *batch,
                                const struct sl_controller_alter_configs_request *req, char *err,
                                size_t err_size)
{
    int code = SL_KAFKA_NONE;
    if (!resource_valid(batch->draft, req, &code, err, err_size)) {
        return code;
    }
    for (uint32_t i = 0; i < req->change_count; i++) {
        for (uint32_t k = 0; k < i; k++) {
            if (strcmp(req->changes[i].key, req->changes[k].key) == 0) {
                set_error(err, err_size, "duplicate config key '%s'", req->changes[i].key);
                return SL_KAFKA_INVALID_REQUEST;
            }
        }
    }
    /* Every change is resolved against the draft before anything is emitted. */
    char(*values)[SL_MD_CONFIG_VALUE_BYTES_MAX] = calloc(req->change_count + 1, sizeof(*values));
    bool has_value[SL_CONTROLLER_TOPIC_CONFIGS_MAX];
    if (values == NULL) {
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    for (uint32_t i = 0; i < req->change_count && code == SL_KAFKA_NONE; i++) {
        code = resolve_change(batch->draft, req, &req->changes[i], values[i], &has_value[i], err,
                              err_size);
    }
    struct op op;
    if (code == SL_KAFKA_NONE && op_begin(&op, batch) != 0) {
        code = SL_KAFKA_UNKNOWN_SERVER_ERROR;
    } else if (code == SL_KAFKA_NONE) {
        if (req->replace_all) {
            emit_replaced(&op, req, batch->draft);
        }
        for (uint32_t i = 0; i < req->change_count; i++) {
            emit_config(&op, req, req->changes[i].key, has_value[i], values[i]);
        }
        code = op_end(&op, SL_KAFKA_NONE);
    }
    free(values);
    return code;
}

int sl_controller_unregister_broker(struct sl_controller_batch *batch,
                                    const struct sl_controller_settings *settings,
                                    int32_t broker_id)
{
    const struct sl_md_broker *b = sl_md_image_broker(batch->draft, broker_id);
    if (b == NULL) {
        return SL_KAFKA_BROKER_ID_NOT_REGISTERED;
    }
    struct sl_md_broker copy = *b;
    struct op op;
    if (op_begin(&op, batch) != 0) {
        return SL_KAFKA_UNKNOWN_SERVER_ERROR;
    }
    if (!copy.fenced) {
        emit_fence(&op, &copy, true);
        move_leadership_away(&op, settings, broker_id);
    }
    struct sl_md_record r;
    memset(&r, 0, sizeof(r));
    r.type = SL_MD_RECORD_UNREGISTER_BROKER;
    r.broker_change.broker_id = broker_id;
    r.broker_change.broker_epoch = copy.broker_epoch;
    op_emit(&op, &r);
    return op_end(&op, SL_KAFKA_NONE);
}
