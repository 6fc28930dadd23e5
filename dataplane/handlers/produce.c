/* Produce (0): validate and append each partition's record batches to its log (the one
 * copy of record bytes: request buffer -> storage tail buffer), and answer once the
 * O_DIRECT write covering the append has completed (the log's written end reached it:
 * the bytes are in the file and survive kill -9 of the broker, Kafka's page-cache
 * acknowledgement) or, when the log's flush policy asks for it, once the fdatasync
 * covering it has completed. The response is parked meanwhile; the log's progress
 * callback wakes it. acks=0 answers nothing. acks=all checks min.insync.replicas against
 * the ISR (on a single node the ISR is {self}, whose log end the written end is).
 */
#include <stdio.h>
#include <string.h>

#include "common/sl_bytes.h"
#include "common/sl_clock.h"
#include "dataplane/codec/kafka_errors.h"
#include "dataplane/group_host.h"
#include "dataplane/handlers/handlers.h"
#include "storage/batch.h"

/* Longest time an append waits for storage backpressure (no free chunk, pending-batch
 * bound) to clear before it is answered REQUEST_TIMED_OUT (also bounded by the request's
 * timeout_ms). */
#define SL_DP_APPEND_RETRY_MAX_MS 30000

/* An end offset an acknowledgement waits for. */
struct ack_target {
    int64_t offset; /* < 0: nothing to wait for */
    bool durable;   /* the durable end must reach offset, else the written end */
};

struct produce_wait {
    struct sl_md_uuid topic_id;
    int32_t partition;
    struct ack_target target;
    struct sl_codec_produce_response_partition_produce_response *out;
};

struct produce_state {
    struct sl_codec_produce_response resp;
    struct produce_wait *waits;
    uint32_t wait_count;
    int16_t acks;
    bool failed;      /* arena exhausted: the connection is closed */
    bool ack_checked; /* local ack waits done (or queued) */
};

static int16_t storage_to_kafka(enum sl_storage_err err)
{
    switch (err) {
    case SL_STORAGE_OK:
        return 0;
    case SL_STORAGE_ERR_BATCH_TRUNCATED:
    case SL_STORAGE_ERR_BATCH_LENGTH:
    case SL_STORAGE_ERR_BATCH_MAGIC:
    case SL_STORAGE_ERR_BATCH_CRC:
        return SL_KAFKA_ERR_CORRUPT_MESSAGE;
    case SL_STORAGE_ERR_BATCH_RECORD_COUNT:
    case SL_STORAGE_ERR_BATCH_ATTRIBUTES:
    case SL_STORAGE_ERR_BATCH_PRODUCER:
    case SL_STORAGE_ERR_BATCH_EMPTY:
    case SL_STORAGE_ERR_BATCH_TOO_MANY:
        return SL_KAFKA_ERR_INVALID_RECORD;
    case SL_STORAGE_ERR_BATCH_TOO_LARGE:
        return SL_KAFKA_ERR_MESSAGE_TOO_LARGE;
    case SL_STORAGE_ERR_NO_BUFFER:
    case SL_STORAGE_ERR_BUSY:
        return SL_KAFKA_ERR_REQUEST_TIMED_OUT;
    case SL_STORAGE_ERR_NO_SPACE:
    case SL_STORAGE_ERR_IO:
        return SL_KAFKA_ERR_KAFKA_STORAGE_ERROR;
    default:
        return SL_KAFKA_ERR_UNKNOWN_SERVER_ERROR;
    }
}

/* What one partition's append gives back. */
struct append_result {
    int16_t error_code;
    int64_t base_offset;
    int64_t log_start_offset;
    int64_t log_append_time_ms; /* -1 unless the topic is LogAppendTime */
    struct ack_target ack;      /* when to acknowledge (acks != 0) */
    bool backpressure;          /* storage had no room: retry later, nothing was appended */
};

/* The partition's timestamp limits (message.timestamp.before/after/difference.max.ms):
 * Kafka checks every record's timestamp; records are not decoded here, so the batch's
 * first and largest timestamps stand for them. */
static bool timestamps_within(const struct sl_batch_info *infos, uint32_t count,
                              const struct sl_dp_partition *p)
{
    if (p->timestamp_before_max_ms == INT64_MAX && p->timestamp_after_max_ms == INT64_MAX)
        return true;
    int64_t now_ms = sl_wall_clock_ms(); /* record timestamps are wall-clock times */
    for (uint32_t i = 0; i < count; i++) {
        int64_t ts[2] = {infos[i].base_timestamp, infos[i].max_timestamp};
        for (int k = 0; k < 2; k++) {
            if (ts[k] == -1)
                continue; /* NO_TIMESTAMP: Kafka does not check it either */
            /* In unsigned arithmetic: the distance between any two int64 values fits. */
            if (ts[k] < now_ms &&
                (uint64_t)now_ms - (uint64_t)ts[k] > (uint64_t)p->timestamp_before_max_ms)
                return false;
            if (ts[k] > now_ms &&
                (uint64_t)ts[k] - (uint64_t)now_ms > (uint64_t)p->timestamp_after_max_ms)
                return false;
        }
    }
    return true;
}

/* Appends records to a partition this shard owns. */
static void append_local(struct sl_shard *s, const struct sl_md_uuid *topic_id, int32_t partition,
                         int16_t acks, const uint8_t *records, int32_t records_len,
                         struct append_result *out)
{
    out->error_code = 0;
    out->log_append_time_ms = -1;
    out->ack.offset = -1;
    out->ack.durable = false;
    out->backpressure = false;
    struct sl_dp_partition *p = sl_dp_partition_find(s, topic_id, partition);
    if (p == NULL) {
        out->error_code = SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER; /* not open (yet) */
        return;
    }
    if (records_len <= 0) {
        out->error_code = SL_KAFKA_ERR_INVALID_RECORD;
        return;
    }
    struct sl_batch_info infos[SL_LOG_APPEND_BATCHES_MAX];
    uint32_t count = 0;
    enum sl_storage_err err =
        sl_batch_validate_all(records, (size_t)records_len, p->max_message_bytes, infos,
                              SL_LOG_APPEND_BATCHES_MAX, &count);
    if (err == SL_STORAGE_ERR_BATCH_MAGIC && records_len > 16 &&
        (records[16] == 0 || records[16] == 1)) {
        out->error_code = SL_KAFKA_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT; /* message set v0/v1 */
        return;
    }
    if (err != SL_STORAGE_OK) {
        out->error_code = storage_to_kafka(err);
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (sl_batch_is_control(&infos[i])) {
            out->error_code = SL_KAFKA_ERR_INVALID_RECORD; /* only the broker writes these */
            return;
        }
        /* No transaction coordinator here, so no transaction is ever ongoing: Kafka
         * answers a transactional batch outside one INVALID_TXN_STATE (KIP-890). Never
         * stored, so read_committed readers never meet uncommitted records. */
        if (sl_batch_is_transactional(&infos[i])) {
            out->error_code = SL_KAFKA_ERR_INVALID_TXN_STATE;
            return;
        }
    }
    if (!timestamps_within(infos, count, p)) {
        out->error_code = SL_KAFKA_ERR_INVALID_TIMESTAMP;
        return;
    }
    struct sl_dp_producer_batch original;
    int16_t refusal = 0;
    switch (sl_dp_producer_check(&p->producers, infos, count, &original, &refusal)) {
    case SL_DP_PRODUCER_APPEND:
        break;
    case SL_DP_PRODUCER_LOADING:
        out->backpressure = true; /* retried in order once the state is rebuilt */
        return;
    case SL_DP_PRODUCER_REFUSED:
        out->error_code = refusal;
        return;
    case SL_DP_PRODUCER_DUPLICATE:
        /* A retry of a batch already appended: its original offset, acknowledged once
         * everything appended so far (the original included) is safe. */
        s->stats.produce_duplicates++;
        out->base_offset = original.base_offset;
        out->log_append_time_ms = original.append_time_ms;
        out->log_start_offset = sl_log_start_offset(p->log);
        if (acks != 0) {
            out->ack.offset = sl_log_end_offset(p->log);
            out->ack.durable = p->hw_is_durable;
        }
        return;
    }
    struct sl_log_append_result res;
    err = sl_log_append(p->log, records, (size_t)records_len, infos, count, p->leader_epoch,
                        s->now_ms, &res);
    if (err == SL_STORAGE_ERR_NO_BUFFER || err == SL_STORAGE_ERR_BUSY) {
        s->stats.produce_storage_retries++;
        out->backpressure = true;
        return;
    }
    if (err != SL_STORAGE_OK) {
        out->error_code = storage_to_kafka(err);
        return;
    }
    /* The high watermark follows the safe end: parked fetches are woken by the progress
     * callback, at once with a tail file, else once the write completes. */
    if (infos[0].producer_id >= 0 &&
        !sl_dp_producer_record(&p->producers, &infos[0], res.base_offset, res.log_append_time_ms))
        fprintf(stderr, "sluiced: %s: producer state: out of memory\n", sl_log_path(p->log));
    s->stats.produce_batches += res.batch_count;
    s->stats.produce_records += (uint64_t)(res.last_offset - res.base_offset + 1);
    s->stats.produce_bytes += (uint64_t)records_len;
    out->base_offset = res.base_offset;
    out->log_start_offset = res.log_start_offset;
    out->log_append_time_ms = res.log_append_time_ms;
    if (acks != 0) {
        out->ack.offset = res.log_end_offset;
        out->ack.durable = res.wait_for_durable;
    }
}

/* Whether the log of p has reached target; an error code (or 0) in *error_code when the
 * wait is over. */
static bool ack_reached(const struct sl_dp_partition *p, const struct ack_target *target,
                        int16_t *error_code)
{
    *error_code = 0;
    if (p == NULL) {
        *error_code = SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER; /* closed while waiting */
        return true;
    }
    if (sl_log_failure(p->log) != SL_STORAGE_OK) {
        *error_code = storage_to_kafka(sl_log_failure(p->log));
        return true;
    }
    int64_t end =
        target->durable ? sl_log_durable_end_offset(p->log) : sl_log_safe_end_offset(p->log);
    return end >= target->offset;
}

static void wait_add(struct produce_state *st, const struct sl_md_uuid *topic_id, int32_t partition,
                     const struct ack_target *target,
                     struct sl_codec_produce_response_partition_produce_response *out)
{
    struct produce_wait *w = &st->waits[st->wait_count++];
    w->topic_id = *topic_id;
    w->partition = partition;
    w->target = *target;
    w->out = out;
}

/* One partition's append when it cannot finish at once: a partition of another shard
 * (appended there, answered back), or an append waiting for storage backpressure to
 * clear. Lives in the request's arena. */
struct produce_op {
    struct sl_dp_part_op op;
    struct sl_md_uuid topic_id;
    int32_t partition;
    int16_t acks;
    bool local;             /* this shard's partition, queued for backpressure */
    int64_t deadline_ms;    /* give up waiting for storage room then */
    const uint8_t *records; /* in the home shard's request frame, alive until done */
    int32_t records_len;
    struct append_result result;
    struct sl_codec_produce_response_partition_produce_response *out; /* home's */
    struct produce_state *st;                                         /* home's */
    struct sl_dp_part_op *ack_next;
    struct produce_op *retry_next;
};

/* Appends wait in arrival order: once one waits for storage room, every later append of
 * this shard queues behind it, so appends to a partition never overtake each other. */
static void retry_push(struct sl_shard *s, struct produce_op *po)
{
    po->retry_next = NULL;
    if (s->append_retry_tail != NULL)
        ((struct produce_op *)s->append_retry_tail)->retry_next = po;
    else
        s->append_retry_head = po;
    s->append_retry_tail = po;
}

/* The response fields of a successful append. */
static void answer_appended(struct sl_codec_produce_response_partition_produce_response *out,
                            const struct append_result *res)
{
    out->base_offset = res->base_offset;
    out->log_start_offset = res->log_start_offset;
    out->log_append_time_ms = res->log_append_time_ms;
}

/* The home shard's view of a finished local append. */
static void apply_local(struct sl_shard *s, struct produce_op *po)
{
    (void)s;
    po->out->error_code = po->result.error_code;
    if (po->result.error_code != 0)
        return;
    answer_appended(po->out, &po->result);
    if (po->result.ack.offset >= 0)
        wait_add(po->st, &po->topic_id, po->partition, &po->result.ack, po->out);
}

/* Owner side: the append of po finished (appended or failed). */
static void owner_finish(struct sl_shard *s, struct produce_op *po)
{
    if (po->local) {
        apply_local(s, po);
        if (po->result.error_code != 0)
            sl_dp_stats_error(&s->stats, po->result.error_code);
        sl_dp_op_finished(s, po->op.req);
        return;
    }
    if (po->result.error_code == 0 && po->result.ack.offset >= 0) {
        po->ack_next = s->remote_ack_waiting;
        s->remote_ack_waiting = &po->op;
        s->storage_progress = true; /* the end may be reached already: check next pass */
        return;
    }
    sl_dp_op_reply(s, &po->op);
}

static void owner_run(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct produce_op *po = (struct produce_op *)op;
    po->deadline_ms = s->now_ms + SL_DP_APPEND_RETRY_MAX_MS;
    if (s->append_retry_head == NULL) {
        append_local(s, &po->topic_id, po->partition, po->acks, po->records, po->records_len,
                     &po->result);
        if (!po->result.backpressure) {
            owner_finish(s, po);
            return;
        }
    }
    retry_push(s, po);
}

void sl_dp_produce_retry_poll(struct sl_shard *s)
{
    while (s->append_retry_head != NULL) {
        struct produce_op *po = s->append_retry_head;
        append_local(s, &po->topic_id, po->partition, po->acks, po->records, po->records_len,
                     &po->result);
        if (po->result.backpressure) {
            if (s->now_ms < po->deadline_ms)
                return; /* still no room: keep the order, try again next pass */
            po->result.backpressure = false;
            po->result.error_code = SL_KAFKA_ERR_REQUEST_TIMED_OUT;
        }
        s->append_retry_head = po->retry_next;
        if (s->append_retry_head == NULL)
            s->append_retry_tail = NULL;
        owner_finish(s, po);
    }
}

static void home_done(struct sl_shard *s, struct sl_dp_part_op *op)
{
    struct produce_op *po = (struct produce_op *)op;
    po->out->error_code = po->result.error_code;
    if (po->result.error_code == 0) {
        answer_appended(po->out, &po->result);
    } else {
        sl_dp_stats_error(&s->stats, po->result.error_code);
    }
    sl_dp_op_finished(s, op->req);
}

static int16_t produce_partition(struct sl_shard *s, struct sl_dp_request *r, int16_t acks,
                                 int32_t timeout_ms, const struct sl_md_topic *t,
                                 const struct sl_codec_produce_request_partition_produce_data *pd,
                                 struct sl_codec_produce_response_partition_produce_response *out,
                                 struct produce_state *st)
{
    if (t == NULL)
        return SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    const struct sl_md_partition *mp = sl_md_topic_partition(t, pd->index);
    if (mp == NULL)
        return SL_KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (sl_dp_is_offsets_topic(t->name))
        return SL_KAFKA_ERR_INVALID_TOPIC_EXCEPTION; /* Kafka: no appends to internal topics */
    if (mp->leader != s->opts.node_id) {
        /* v10+ clients learn the leader without a Metadata round trip. */
        out->current_leader.leader_id = mp->leader;
        out->current_leader.leader_epoch = mp->leader_epoch;
        return SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER;
    }
    if (acks == -1) {
        int64_t min_isr =
            sl_dp_topic_int(s, t, "min.insync.replicas", SL_CONFIG_MIN_INSYNC_REPLICAS, 1);
        if ((int64_t)mp->isr_count < min_isr)
            return SL_KAFKA_ERR_NOT_ENOUGH_REPLICAS;
    }
    uint32_t owner = sl_dp_owner(s, &t->topic_id, pd->index);
    struct append_result res;
    if (owner == s->opts.shard_id && s->append_retry_head == NULL) {
        append_local(s, &t->topic_id, pd->index, acks, pd->records.ptr, pd->records.len, &res);
        if (!res.backpressure) {
            if (res.error_code != 0)
                return res.error_code;
            answer_appended(out, &res);
            if (res.ack.offset >= 0)
                wait_add(st, &t->topic_id, pd->index, &res.ack, out);
            return 0;
        }
    }
    struct produce_op *po = sl_dp_alloc(r, 1, sizeof(*po));
    if (po == NULL)
        return SL_KAFKA_ERR_UNKNOWN_SERVER_ERROR;
    po->op.req = r;
    po->op.owner = owner;
    po->op.run = owner_run;
    po->op.done = home_done;
    po->topic_id = t->topic_id;
    po->partition = pd->index;
    po->acks = acks;
    po->records = pd->records.ptr;
    po->records_len = pd->records.len;
    po->out = out;
    po->st = st;
    if (owner != s->opts.shard_id) {
        sl_dp_op_send(s, &po->op);
        return 0;
    }
    po->local = true;
    po->deadline_ms = s->now_ms + SL_MIN((int64_t)SL_MAX(timeout_ms, 0), SL_DP_APPEND_RETRY_MAX_MS);
    r->pending_ops++; /* owner_finish drops it */
    retry_push(s, po);
    return 0;
}

/* Whether any batch in records has the transactional attribute (a cheap walk over the
 * batch headers; the append validates every batch fully). */
static bool records_transactional(const uint8_t *records, int32_t len)
{
    size_t at = 0, n = len > 0 ? (size_t)len : 0;
    while (records != NULL && at + SL_BATCH_HEADER_BYTES <= n) {
        int32_t batch_len = (int32_t)sl_load_be32(records + at + SL_BATCH_OFF_LENGTH);
        if (records[at + SL_BATCH_OFF_MAGIC] != 2 ||
            batch_len < (int32_t)SL_BATCH_HEADER_BYTES - 12)
            return false;
        if (sl_load_be16(records + at + SL_BATCH_OFF_ATTRIBUTES) & SL_BATCH_ATTR_TRANSACTIONAL)
            return true;
        at += 12 + (size_t)batch_len;
    }
    return false;
}

/* Kafka's produce authorization: transactional records need a transactional id, else
 * the whole request is answered TRANSACTIONAL_ID_AUTHORIZATION_FAILED. */
static bool request_needs_transactional_id(const struct sl_codec_produce_request *req)
{
    if (req->transactional_id.len >= 0)
        return false;
    for (int32_t ti = 0; ti < req->topic_data_count; ti++) {
        const struct sl_codec_produce_request_topic_produce_data *td = &req->topic_data[ti];
        for (int32_t pi = 0; pi < td->partition_data_count; pi++) {
            const struct sl_codec_records *rec = &td->partition_data[pi].records;
            if (records_transactional(rec->ptr, rec->len))
                return true;
        }
    }
    return false;
}

void sl_dp_handle_produce(struct sl_shard *s, struct sl_dp_request *r)
{
    const struct sl_codec_produce_request *req = r->req.body;
    struct produce_state *st = sl_dp_alloc(r, 1, sizeof(*st));
    uint32_t partitions = 0;
    for (int32_t i = 0; i < req->topic_data_count; i++)
        partitions += (uint32_t)SL_MAX(req->topic_data[i].partition_data_count, 0);
    if (st != NULL)
        st->waits = sl_dp_alloc(r, partitions + 1, sizeof(*st->waits));
    struct sl_codec_produce_response *resp = st ? &st->resp : NULL;
    if (resp != NULL) {
        sl_codec_produce_response_init(resp);
        resp->responses =
            sl_dp_alloc(r, (size_t)SL_MAX(req->topic_data_count, 0) + 1, sizeof(*resp->responses));
    }
    if (st == NULL || st->waits == NULL || resp->responses == NULL) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    r->hstate = st;
    st->acks = req->acks;
    resp->responses_count = SL_MAX(req->topic_data_count, 0);
    /* Kafka refuses the whole request, appending nothing, for acks outside -1, 0, 1 and
     * for transactional records without a transactional id. */
    int16_t refusal = 0;
    if (req->acks < -1 || req->acks > 1)
        refusal = SL_KAFKA_ERR_INVALID_REQUIRED_ACKS;
    else if (request_needs_transactional_id(req))
        refusal = SL_KAFKA_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    r->pending_ops++; /* this pass, so remote answers cannot finish the request early */
    for (int32_t ti = 0; ti < req->topic_data_count; ti++) {
        const struct sl_codec_produce_request_topic_produce_data *td = &req->topic_data[ti];
        struct sl_codec_produce_response_topic_produce_response *tout = &resp->responses[ti];
        sl_codec_produce_response_topic_produce_response_init(tout);
        tout->name = td->name;
        const struct sl_md_topic *t = sl_dp_topic_by_name(s, td->name);
        int32_t np = SL_MAX(td->partition_data_count, 0);
        tout->partition_responses =
            sl_dp_alloc(r, (size_t)np + 1, sizeof(*tout->partition_responses));
        if (tout->partition_responses == NULL) {
            tout->partition_responses_count = 0;
            st->failed = true;
            break;
        }
        tout->partition_responses_count = np;
        for (int32_t pi = 0; pi < np; pi++) {
            struct sl_codec_produce_response_partition_produce_response *out =
                &tout->partition_responses[pi];
            sl_codec_produce_response_partition_produce_response_init(out);
            out->index = td->partition_data[pi].index;
            out->base_offset = -1;
            out->error_code = refusal != 0 ? refusal
                                           : produce_partition(s, r, req->acks, req->timeout_ms, t,
                                                               &td->partition_data[pi], out, st);
            if (out->error_code != 0)
                sl_dp_stats_error(&s->stats, out->error_code);
        }
    }
    sl_dp_op_finished(s, r); /* resumes into sl_dp_resume_produce once nothing is pending */
}

/* v10+ (KIP-951): the endpoints of the leaders named in NOT_LEADER_OR_FOLLOWER answers,
 * so the client can go there without a Metadata round trip. Best effort: a leader the
 * image no longer lists, or an exhausted arena, is simply left out. */
static void add_leader_endpoints(struct sl_shard *s, struct sl_dp_request *r,
                                 struct sl_codec_produce_response *resp)
{
    const struct sl_md_image *img = s->image;
    if (r->response_version < 10 || img->broker_count == 0)
        return;
    struct sl_codec_produce_response_node_endpoint *eps = NULL;
    int32_t n = 0;
    for (int32_t t = 0; t < resp->responses_count; t++) {
        const struct sl_codec_produce_response_topic_produce_response *tr = &resp->responses[t];
        for (int32_t i = 0; i < tr->partition_responses_count; i++) {
            const struct sl_codec_produce_response_partition_produce_response *pr =
                &tr->partition_responses[i];
            int32_t leader = pr->current_leader.leader_id;
            if (pr->error_code != SL_KAFKA_ERR_NOT_LEADER_OR_FOLLOWER || leader < 0)
                continue;
            bool known = false;
            for (int32_t k = 0; k < n && !known; k++)
                known = eps[k].node_id == leader;
            const struct sl_md_broker *b = sl_md_image_broker(img, leader);
            const struct sl_md_listener *l = b != NULL ? sl_dp_broker_listener(b) : NULL;
            if (known || l == NULL || b->fenced)
                continue;
            if (eps == NULL) {
                eps = sl_dp_alloc(r, img->broker_count, sizeof(*eps));
                if (eps == NULL)
                    return;
            }
            if ((uint32_t)n >= img->broker_count)
                return;
            struct sl_codec_produce_response_node_endpoint *e = &eps[n++];
            sl_codec_produce_response_node_endpoint_init(e);
            e->node_id = leader;
            e->host = sl_dp_cstr(l->host);
            e->port = l->port;
            if (b->rack[0] != '\0')
                e->rack = sl_dp_cstr(b->rack);
        }
    }
    if (n > 0) {
        resp->node_endpoints = eps;
        resp->node_endpoints_count = n;
    }
}

/* The response's topic names point into the request frame: copy them into the arena so
 * the frame can go while the request waits for its writes. False (frame kept) when the
 * arena is out of room. */
static bool detach_names(struct sl_dp_request *r, struct sl_codec_produce_response *resp)
{
    for (int32_t t = 0; t < resp->responses_count; t++) {
        struct sl_codec_slice *name = &resp->responses[t].name;
        if (name->ptr == NULL || name->len <= 0)
            continue;
        uint8_t *copy = sl_dp_alloc(r, (size_t)name->len, 1);
        if (copy == NULL)
            return false;
        memcpy(copy, name->ptr, (size_t)name->len);
        name->ptr = copy;
    }
    return true;
}

/* Every partition has its result (local appends, remote ops back): answer, or wait for
 * the local writes (or fdatasyncs) first. */
void sl_dp_resume_produce(struct sl_shard *s, struct sl_dp_request *r)
{
    struct produce_state *st = r->hstate;
    if (st->failed) {
        sl_dp_request_close_conn(s, r);
        sl_dp_respond_none(s, r);
        return;
    }
    if (st->acks == 0) {
        sl_dp_respond_none(s, r);
        return;
    }
    if (st->wait_count > 0 && !st->ack_checked) {
        st->ack_checked = true;
        /* Every batch is in its log's tail chunk now. Giving the frame back while the
         * write is in flight keeps the frame buffers in use few, so the next requests are
         * received into cache-warm memory (with 64 requests in flight per connection the
         * frames had been 2 MiB x requests waiting for the disk, far beyond the caches). */
        if (detach_names(r, &st->resp))
            sl_dp_request_release_frame(s, r);
        r->waiting_ack = true;
        sl_dp_wait_push(&s->ack_waiting, r);
        s->storage_progress = true; /* check once even if no progress is reported later */
        return;
    }
    add_leader_endpoints(s, r, &st->resp);
    sl_dp_respond(s, r, &st->resp, 0);
}

void sl_dp_produce_ack_check(struct sl_shard *s)
{
    /* Owner side: ops of other shards waiting for this shard's writes. */
    struct sl_dp_part_op **link = &s->remote_ack_waiting;
    while (*link != NULL) {
        struct produce_op *po = (struct produce_op *)*link;
        struct sl_dp_partition *p = sl_dp_partition_find(s, &po->topic_id, po->partition);
        if (!ack_reached(p, &po->result.ack, &po->result.error_code)) {
            link = &po->ack_next;
            continue;
        }
        *link = po->ack_next;
        sl_dp_op_reply(s, &po->op);
    }
    struct sl_dp_request *r = s->ack_waiting;
    while (r != NULL) {
        struct sl_dp_request *next = r->wait_next;
        struct produce_state *st = r->hstate;
        bool all = true;
        for (uint32_t i = 0; i < st->wait_count; i++) {
            struct produce_wait *w = &st->waits[i];
            if (w->target.offset < 0)
                continue;
            struct sl_dp_partition *p = sl_dp_partition_find(s, &w->topic_id, w->partition);
            int16_t error_code = 0;
            if (!ack_reached(p, &w->target, &error_code)) {
                all = false;
                continue;
            }
            w->target.offset = -1;
            if (error_code != 0) {
                w->out->error_code = error_code;
                sl_dp_stats_error(&s->stats, error_code);
            }
        }
        if (all) {
            sl_dp_wait_remove(&s->ack_waiting, r);
            r->waiting_ack = false;
            if (sl_dp_request_orphaned(r))
                sl_dp_request_reap_orphan(s, r);
            else
                sl_dp_resume_produce(s, r);
        }
        r = next;
    }
}
