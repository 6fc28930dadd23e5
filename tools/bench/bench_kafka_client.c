#include "tools/bench/bench_kafka_client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "common/sl_assert.h"

/* Producer settings from issue 6. batch.num.messages is librdkafka's maximum so that 100-byte
 * records still fill 1 MiB batches; message.max.bytes (librdkafka's request size cap) is above
 * batch.size so that batch.size is the limit that binds. */
#define SL_BENCH_BATCH_BYTES        "1048576"
#define SL_BENCH_LINGER_MS          "5"
#define SL_BENCH_BATCH_MESSAGES_MAX "1000000"
#define SL_BENCH_REQUEST_BYTES_MAX  "2097152"
#define SL_BENCH_QUEUE_MESSAGES_MAX "2000000"
#define SL_BENCH_MESSAGE_TIMEOUT_MS "120000"
/* Often enough that a 1 s burst still reports its batch sizes; one small JSON per interval. */
#define SL_BENCH_STATISTICS_INTERVAL_MS "200"
/* Consumer: one fetch may carry 50 MiB; the local queue is bounded to 64 MiB. */
#define SL_BENCH_FETCH_BYTES       "52428800"
#define SL_BENCH_RECEIVE_BYTES_MAX "53477376"
#define SL_BENCH_CONSUMER_QUEUE_KB "65536"

/* Payloads start at a varying offset inside one random buffer so records differ. */
#define SL_BENCH_PAYLOAD_SLACK_BYTES 4096u
#define SL_BENCH_PROGRESS_NS         (2ull * 1000000000ull)
#define SL_BENCH_DRAIN_TIMEOUT_NS    (180ull * 1000000000ull)
#define SL_BENCH_METADATA_TIMEOUT_MS 15000
/* Polling for delivery reports every 16 records bounds the error that late polling adds to a
 * latency sample to 16 produce calls (tens of microseconds). */
#define SL_BENCH_POLL_EVERY_RECORDS 16u
/* At a million records/s and more, reading the clock for every record on both ends cost the
 * bench (not the broker) about a tenth of this two-core machine (perf, 22 ns per read, several
 * reads per record). A full-speed producer stamps records with a clock read once per
 * SL_BENCH_POLL_EVERY_RECORDS records (taken before the first: the latency of the others is
 * overstated by at most 16 produce calls), and delivery reports served in one poll share a
 * clock read among up to SL_BENCH_REPORTS_PER_CLOCK_READ reports (all of one batch's reports
 * come from the same response; the first read follows its arrival, so the error is at most
 * the time to serve that many callbacks, a few microseconds). */
#define SL_BENCH_REPORTS_PER_CLOCK_READ 64u
/* A paced producer that is ahead of its schedule sleeps at least this long and then sends
 * every record that has come due, as an application producing at that rate would. Sleeping
 * only when the next record was far ahead made it spin at high rates (a record due every
 * 1.5 us): the bench took a whole core of this two-core machine at half rate, and the
 * broker and the client's own I/O thread queued for the other one (half-rate p99 9-71 ms
 * against sluiced, 4.4 ms with the sleep; docs/benchmarks.md). */
#define SL_BENCH_PACE_SLEEP_MIN_NS 100000ull
#define SL_BENCH_PACE_SLEEP_MAX_NS 1000000ull

uint64_t sl_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sl_bench_sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
                          .tv_nsec = (long)(ns % 1000000000ull)};
    nanosleep(&ts, NULL);
}

static double sl_bench_mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

static int sl_bench_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "bench: librdkafka config %s=%s: %s\n", key, value, errstr);
        return -1;
    }
    return 0;
}

struct sl_bench_conf_pair {
    const char *key;
    const char *value;
};

/* Sets pairs up to the one whose key is NULL; returns 0 or -1. */
static int sl_bench_conf_set_all(rd_kafka_conf_t *conf, const struct sl_bench_conf_pair *pairs)
{
    for (int i = 0; pairs[i].key != NULL; i++) {
        SL_ASSERT(pairs[i].value != NULL);
        if (sl_bench_conf_set(conf, pairs[i].key, pairs[i].value) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Returns a new client handle or NULL; conf is consumed either way. */
static rd_kafka_t *sl_bench_client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "bench: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

int sl_bench_topic_create(const char *bootstrap, const char *topic, int timeout_ms)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (sl_bench_conf_set(conf, "bootstrap.servers", bootstrap) != 0) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_t *rk = sl_bench_client_new(RD_KAFKA_PRODUCER, conf);
    if (rk == NULL) {
        return -1;
    }
    char errstr[512];
    int status = 1;
    rd_kafka_NewTopic_t *new_topic = rd_kafka_NewTopic_new(topic, 1, 1, errstr, sizeof(errstr));
    SL_ASSERT(new_topic != NULL);
    rd_kafka_AdminOptions_t *options =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof(errstr));
    rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, errstr, sizeof(errstr));
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &new_topic, 1, options, queue);
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, timeout_ms + 5000);
    if (event == NULL) {
        fprintf(stderr, "bench: warning: CreateTopics %s: no answer; relying on auto-creation\n",
                topic);
    } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "bench: warning: CreateTopics %s: %s; relying on auto-creation\n", topic,
                rd_kafka_event_error_string(event));
    } else {
        const rd_kafka_CreateTopics_result_t *result = rd_kafka_event_CreateTopics_result(event);
        size_t topic_count = 0;
        const rd_kafka_topic_result_t **topics =
            rd_kafka_CreateTopics_result_topics(result, &topic_count);
        SL_ASSERT(topic_count == 1);
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[0]);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            status = 0;
        } else {
            fprintf(stderr, "bench: warning: CreateTopics %s: %s; relying on auto-creation\n",
                    topic, rd_kafka_err2str(err));
        }
    }
    if (event != NULL) {
        rd_kafka_event_destroy(event);
    }
    rd_kafka_queue_destroy(queue);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_NewTopic_destroy(new_topic);
    rd_kafka_destroy(rk);
    return status;
}

/* State shared with the delivery-report and statistics callbacks (same thread). */
struct sl_bench_produce_state {
    struct sl_bench_produce_result *result;
    uint64_t last_report_ns;
    rd_kafka_resp_err_t first_error;
    double batch_bytes_sum;
    double batch_count;
    uint64_t report_clock_ns;        /* clock read shared by the next reports of this poll */
    uint32_t report_clock_uses_left; /* 0: read the clock again */
};

/* rd_kafka_poll for the produce runs: every poll starts with a fresh clock read for its
 * delivery reports. */
static int sl_bench_serve(rd_kafka_t *rk, struct sl_bench_produce_state *state, int timeout_ms)
{
    state->report_clock_uses_left = 0;
    return rd_kafka_poll(rk, timeout_ms);
}

static void sl_bench_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque)
{
    (void)rk;
    struct sl_bench_produce_state *state = opaque;
    struct sl_bench_produce_result *result = state->result;
    if (state->report_clock_uses_left == 0) {
        state->report_clock_ns = sl_bench_now_ns();
        state->report_clock_uses_left = SL_BENCH_REPORTS_PER_CLOCK_READ;
    }
    state->report_clock_uses_left--;
    uint64_t now_ns = state->report_clock_ns;
    state->last_report_ns = now_ns;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (result->records_failed == 0) {
            state->first_error = message->err;
        }
        result->records_failed++;
        return;
    }
    uint64_t sent_ns = (uint64_t)(uintptr_t)message->_private;
    SL_ASSERT(now_ns >= sent_ns);
    sl_bench_histogram_record(&result->latency, now_ns - sent_ns);
    result->records_acked++;
    result->payload_bytes_acked += message->len;
    if (result->first_offset < 0 || message->offset < result->first_offset) {
        result->first_offset = message->offset;
    }
    if (message->offset > result->last_offset) {
        result->last_offset = message->offset;
    }
}

/* Reads the topic's "batchsize" window (sum and count of produced batch sizes) from a
 * statistics JSON document; the windows do not overlap, so the sums add up over the run. */
static int sl_bench_on_statistics(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    (void)rk;
    (void)json_len;
    struct sl_bench_produce_state *state = opaque;
    const char *window = strstr(json, "\"batchsize\":");
    if (window != NULL) {
        const char *sum = strstr(window, "\"sum\":");
        const char *count = strstr(window, "\"cnt\":");
        if (sum != NULL && count != NULL) {
            state->batch_bytes_sum += strtod(sum + 6, NULL);
            state->batch_count += strtod(count + 6, NULL);
        }
    }
    return 0; /* librdkafka frees json */
}

static rd_kafka_t *sl_bench_producer_new(const struct sl_bench_produce_spec *spec,
                                         struct sl_bench_produce_state *state)
{
    char queue_kbytes[32];
    snprintf(queue_kbytes, sizeof(queue_kbytes), "%d", spec->queue_kbytes);
    const struct sl_bench_conf_pair pairs[] = {
        {"bootstrap.servers", spec->bootstrap},
        {"acks", spec->acks},
        {"linger.ms", SL_BENCH_LINGER_MS},
        {"batch.size", SL_BENCH_BATCH_BYTES},
        {"batch.num.messages", SL_BENCH_BATCH_MESSAGES_MAX},
        {"message.max.bytes", SL_BENCH_REQUEST_BYTES_MAX},
        {"compression.type", "none"},
        {"queue.buffering.max.kbytes", queue_kbytes},
        {"queue.buffering.max.messages", SL_BENCH_QUEUE_MESSAGES_MAX},
        {"message.timeout.ms", SL_BENCH_MESSAGE_TIMEOUT_MS},
        {"statistics.interval.ms", SL_BENCH_STATISTICS_INTERVAL_MS},
        /* As the Java client does: Nagle plus delayed ACKs would add 40 ms stalls. */
        {"socket.nagle.disable", "true"},
        {NULL, NULL},
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (sl_bench_conf_set_all(conf, pairs) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, sl_bench_on_delivery);
    rd_kafka_conf_set_stats_cb(conf, sl_bench_on_statistics);
    rd_kafka_conf_set_opaque(conf, state);
    return sl_bench_client_new(RD_KAFKA_PRODUCER, conf);
}

/* Waits until partition 0 of topic has a leader; returns 0 or -1. */
static int sl_bench_wait_for_leader(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const char *topic)
{
    uint64_t deadline_ns = sl_bench_now_ns() + SL_BENCH_METADATA_TIMEOUT_MS * 1000000ull;
    do {
        const struct rd_kafka_metadata *metadata = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &metadata, 2000);
        bool ready = false;
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && metadata->topic_cnt == 1 &&
            metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
            metadata->topics[0].partition_cnt >= 1 &&
            metadata->topics[0].partitions[0].leader >= 0) {
            ready = true;
            if (metadata->topics[0].partition_cnt != 1) {
                fprintf(stderr, "bench: note: topic %s has %d partitions; using partition 0\n",
                        topic, metadata->topics[0].partition_cnt);
            }
        }
        if (metadata != NULL) {
            rd_kafka_metadata_destroy(metadata);
        }
        if (ready) {
            return 0;
        }
        sl_bench_sleep_ns(100000000ull);
    } while (sl_bench_now_ns() < deadline_ns);
    fprintf(stderr, "bench: topic %s partition 0 has no leader after %d ms\n", topic,
            SL_BENCH_METADATA_TIMEOUT_MS);
    return -1;
}

static void sl_bench_print_progress(const char *label, const char *verb, uint64_t bytes,
                                    uint64_t target_bytes, uint64_t start_ns, uint64_t now_ns)
{
    double elapsed_s = (double)(now_ns - start_ns) / 1e9;
    printf("  progress %s: %s %.0f of %.0f MiB in %.1f s (%.0f MiB/s)\n", label, verb,
           sl_bench_mib(bytes), sl_bench_mib(target_bytes), elapsed_s,
           elapsed_s > 0 ? sl_bench_mib(bytes) / elapsed_s : 0.0);
}

/* Returns true once the paced producer may send record number sent, with the clock
 * reading in *now_ns (the record's send time); otherwise polls and sleeps (at least
 * SL_BENCH_PACE_SLEEP_MIN_NS) so the caller can ask again. */
static bool sl_bench_pace(rd_kafka_t *rk, struct sl_bench_produce_state *state,
                          double rate_records_per_s, uint64_t start_ns, uint64_t sent,
                          uint64_t *now_out)
{
    uint64_t due_ns = start_ns + (uint64_t)((double)sent * 1e9 / rate_records_per_s);
    uint64_t now_ns = sl_bench_now_ns();
    if (now_ns >= due_ns) {
        *now_out = now_ns;
        return true;
    }
    sl_bench_serve(rk, state, 0);
    uint64_t wait_ns = due_ns - now_ns;
    if (wait_ns < SL_BENCH_PACE_SLEEP_MIN_NS) {
        wait_ns = SL_BENCH_PACE_SLEEP_MIN_NS;
    }
    sl_bench_sleep_ns(wait_ns < SL_BENCH_PACE_SLEEP_MAX_NS ? wait_ns : SL_BENCH_PACE_SLEEP_MAX_NS);
    return false;
}

/* The send loop; returns 0 when every record was handed to librdkafka, -1 otherwise. */
static int sl_bench_produce_all(const struct sl_bench_produce_spec *spec, rd_kafka_t *rk,
                                rd_kafka_topic_t *rkt, const uint8_t *payload,
                                volatile sig_atomic_t *stop, struct sl_bench_produce_state *state,
                                uint64_t start_ns)
{
    struct sl_bench_produce_result *result = state->result;
    bool paced = spec->rate_records_per_s > 0;
    /* Send time of the next record: a paced record gets the clock read that let it go; at
     * full speed, the reading taken after the last poll (start_ns before the first). */
    uint64_t sent_ns = start_ns;
    uint64_t target_bytes = spec->record_count * spec->record_bytes;
    uint64_t next_progress_ns = start_ns + SL_BENCH_PROGRESS_NS;
    uint64_t sent = 0;
    while (sent < spec->record_count) {
        if (*stop) {
            fprintf(stderr, "bench: interrupted\n");
            return -1;
        }
        if (paced &&
            !sl_bench_pace(rk, state, spec->rate_records_per_s, start_ns, sent, &sent_ns)) {
            continue;
        }
        const uint8_t *value = payload + (sent % SL_BENCH_PAYLOAD_SLACK_BYTES);
        /* msgflags 0: librdkafka neither copies nor frees the payload, which stays valid
         * until rd_kafka_destroy. */
        if (rd_kafka_produce(rkt, 0, 0, (void *)value, spec->record_bytes, NULL, 0,
                             (void *)(uintptr_t)sent_ns) != 0) {
            rd_kafka_resp_err_t err = rd_kafka_last_error();
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                result->queue_full_count++;
                sl_bench_serve(rk, state, 1);
                sent_ns = sl_bench_now_ns();
                continue;
            }
            fprintf(stderr, "bench: produce: %s\n", rd_kafka_err2str(err));
            return -1;
        }
        sent++;
        if (sent % SL_BENCH_POLL_EVERY_RECORDS == 0) {
            sl_bench_serve(rk, state, 0);
            uint64_t now_ns = sl_bench_now_ns();
            sent_ns = now_ns;
            if (now_ns >= next_progress_ns) {
                sl_bench_print_progress(spec->label, "acked", result->payload_bytes_acked,
                                        target_bytes, start_ns, now_ns);
                next_progress_ns = now_ns + SL_BENCH_PROGRESS_NS;
            }
        }
    }
    return 0;
}

/* Serves delivery reports until none are outstanding; returns 0, or -1 on timeout/stop. */
static int sl_bench_drain(rd_kafka_t *rk, struct sl_bench_produce_state *state,
                          volatile sig_atomic_t *stop)
{
    uint64_t deadline_ns = sl_bench_now_ns() + SL_BENCH_DRAIN_TIMEOUT_NS;
    while (rd_kafka_outq_len(rk) > 0) {
        if (*stop || sl_bench_now_ns() > deadline_ns) {
            fprintf(stderr, "bench: %d records still unacknowledged; giving up\n",
                    rd_kafka_outq_len(rk));
            rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            sl_bench_serve(rk, state, 0);
            return -1;
        }
        sl_bench_serve(rk, state, 100);
    }
    return 0;
}

/* Sends one record and waits for it, so that the connection to the partition leader (a
 * separate one from the bootstrap connection) and its handshake are not measured; then clears
 * the result. Returns 0 or -1. */
static int sl_bench_warm_up(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const uint8_t *payload,
                            size_t record_bytes, struct sl_bench_produce_result *result)
{
    if (rd_kafka_produce(rkt, 0, 0, (void *)payload, record_bytes, NULL, 0,
                         (void *)(uintptr_t)sl_bench_now_ns()) != 0) {
        fprintf(stderr, "bench: warm-up produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    rd_kafka_resp_err_t err = rd_kafka_flush(rk, SL_BENCH_METADATA_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR || result->records_acked != 1) {
        fprintf(stderr, "bench: warm-up record not acknowledged: %s\n",
                err != RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_err2str(err) : "delivery failed");
        return -1;
    }
    memset(result, 0, sizeof(*result));
    sl_bench_histogram_reset(&result->latency);
    result->first_offset = -1;
    result->last_offset = -1;
    return 0;
}

int sl_bench_produce_run(const struct sl_bench_produce_spec *spec, volatile sig_atomic_t *stop,
                         struct sl_bench_produce_result *result)
{
    SL_ASSERT(spec != NULL && result != NULL && stop != NULL);
    SL_ASSERT(spec->record_bytes > 0 && spec->record_count > 0 && spec->queue_kbytes > 0);
    memset(result, 0, sizeof(*result));
    sl_bench_histogram_reset(&result->latency);
    result->first_offset = -1;
    result->last_offset = -1;

    uint8_t *payload = malloc(spec->record_bytes + SL_BENCH_PAYLOAD_SLACK_BYTES);
    if (payload == NULL) {
        fprintf(stderr, "bench: out of memory for payload\n");
        return -1;
    }
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < spec->record_bytes + SL_BENCH_PAYLOAD_SLACK_BYTES; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        payload[i] = (uint8_t)x;
    }

    struct sl_bench_produce_state state = {.result = result};
    int status = -1;
    rd_kafka_t *rk = sl_bench_producer_new(spec, &state);
    if (rk == NULL) {
        goto out_payload;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, spec->topic, NULL);
    SL_ASSERT(rkt != NULL);
    if (sl_bench_wait_for_leader(rk, rkt, spec->topic) != 0 ||
        sl_bench_warm_up(rk, rkt, payload, spec->record_bytes, result) != 0) {
        goto out_topic;
    }
    state.batch_bytes_sum = 0;
    state.batch_count = 0;
    uint64_t start_ns = sl_bench_now_ns();
    if (sl_bench_produce_all(spec, rk, rkt, payload, stop, &state, start_ns) != 0) {
        sl_bench_drain(rk, &state, stop);
        goto out_topic;
    }
    if (sl_bench_drain(rk, &state, stop) != 0) {
        goto out_topic;
    }
    result->elapsed_s = (double)(state.last_report_ns - start_ns) / 1e9;
    if (state.batch_count > 0) {
        result->batch_avg_bytes = state.batch_bytes_sum / state.batch_count;
    }
    if (result->records_failed > 0) {
        fprintf(stderr, "bench: %" PRIu64 " records failed, first error: %s\n",
                result->records_failed, rd_kafka_err2str(state.first_error));
        goto out_topic;
    }
    SL_ASSERT(result->records_acked == spec->record_count);
    status = 0;
out_topic:
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
out_payload:
    free(payload);
    return status;
}

static rd_kafka_t *sl_bench_consumer_new(const char *bootstrap)
{
    const struct sl_bench_conf_pair pairs[] = {
        {"bootstrap.servers", bootstrap},
        {"fetch.max.bytes", SL_BENCH_FETCH_BYTES},
        {"max.partition.fetch.bytes", SL_BENCH_FETCH_BYTES},
        {"receive.message.max.bytes", SL_BENCH_RECEIVE_BYTES_MAX},
        {"queued.max.messages.kbytes", SL_BENCH_CONSUMER_QUEUE_KB},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"},
        {"socket.nagle.disable", "true"},
        {NULL, NULL},
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (sl_bench_conf_set_all(conf, pairs) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return sl_bench_client_new(RD_KAFKA_CONSUMER, conf);
}

#define SL_BENCH_CONSUME_BATCH_RECORDS 4096

/* Consumes until end_offset; returns 0, or -1 on error, idle timeout or stop. */
static int sl_bench_consume_loop(rd_kafka_topic_t *rkt, const struct sl_bench_consume_spec *spec,
                                 volatile sig_atomic_t *stop,
                                 struct sl_bench_consume_result *result, uint64_t start_ns)
{
    /* Bounded: one batch of message pointers; librdkafka bounds its own queue. */
    static rd_kafka_message_t *messages[SL_BENCH_CONSUME_BATCH_RECORDS];
    uint64_t target_bytes = 0;
    uint64_t next_progress_ns = start_ns + SL_BENCH_PROGRESS_NS;
    uint64_t last_record_ns = start_ns;
    int64_t next_offset = result->start_offset_used;
    while (next_offset < spec->end_offset) {
        if (*stop) {
            fprintf(stderr, "bench: interrupted\n");
            return -1;
        }
        ssize_t count =
            rd_kafka_consume_batch(rkt, 0, 100, messages, SL_BENCH_CONSUME_BATCH_RECORDS);
        uint64_t now_ns = sl_bench_now_ns();
        if (count < 0) {
            fprintf(stderr, "bench: consume %s: %s\n", spec->label,
                    rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
        if (count == 0 && now_ns - last_record_ns > (uint64_t)spec->idle_timeout_ms * 1000000ull) {
            fprintf(stderr,
                    "bench: consume %s: no record for %d ms at offset %" PRId64
                    " (want up to %" PRId64 ")\n",
                    spec->label, spec->idle_timeout_ms, next_offset, spec->end_offset);
            return -1;
        }
        int status = 0;
        for (ssize_t i = 0; i < count; i++) {
            rd_kafka_message_t *message = messages[i];
            if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr, "bench: consume %s: %s\n", spec->label,
                        rd_kafka_message_errstr(message));
                status = -1;
            } else if (message->offset >= next_offset && message->offset < spec->end_offset) {
                result->records++;
                result->payload_bytes += message->len;
                next_offset = message->offset + 1;
                last_record_ns = now_ns;
                if (target_bytes == 0) {
                    target_bytes =
                        (uint64_t)(spec->end_offset - result->start_offset_used) * message->len;
                }
            }
            rd_kafka_message_destroy(message);
        }
        if (status != 0) {
            return -1;
        }
        if (now_ns >= next_progress_ns) {
            sl_bench_print_progress(spec->label, "read", result->payload_bytes, target_bytes,
                                    start_ns, now_ns);
            next_progress_ns = now_ns + SL_BENCH_PROGRESS_NS;
        }
    }
    result->elapsed_s = (double)(last_record_ns - start_ns) / 1e9;
    return 0;
}

int sl_bench_consume_run(const struct sl_bench_consume_spec *spec, volatile sig_atomic_t *stop,
                         struct sl_bench_consume_result *result)
{
    SL_ASSERT(spec != NULL && result != NULL && stop != NULL);
    SL_ASSERT(spec->start_offset >= 0 && spec->end_offset > spec->start_offset);
    memset(result, 0, sizeof(*result));
    rd_kafka_t *rk = sl_bench_consumer_new(spec->bootstrap);
    if (rk == NULL) {
        return -1;
    }
    int status = -1;
    int64_t low = 0;
    int64_t high = 0;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, spec->topic, NULL);
    SL_ASSERT(rkt != NULL);
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, spec->topic, 0, &low, &high, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "bench: watermarks of %s: %s\n", spec->topic, rd_kafka_err2str(err));
        goto out;
    }
    if (high < spec->end_offset) {
        fprintf(stderr, "bench: %s ends at offset %" PRId64 ", before %" PRId64 "\n", spec->topic,
                high, spec->end_offset);
        goto out;
    }
    result->start_offset_used = spec->start_offset > low ? spec->start_offset : low;
    if (result->start_offset_used > spec->start_offset) {
        printf("  note %s: the broker's log starts at offset %" PRId64 " (retention); reading "
               "%" PRId64 " of %" PRId64 " records\n",
               spec->label, low, spec->end_offset - low, spec->end_offset - spec->start_offset);
    }
    /* The simple (group-less) consumer: a fetch stream for one partition, no group protocol
     * at all, so only Metadata, ListOffsets and Fetch reach the broker. */
    uint64_t start_ns = sl_bench_now_ns();
    if (rd_kafka_consume_start(rkt, 0, result->start_offset_used) != 0) {
        fprintf(stderr, "bench: consume_start: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
        goto out;
    }
    status = sl_bench_consume_loop(rkt, spec, stop, result, start_ns);
    rd_kafka_consume_stop(rkt, 0);
out:
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return status;
}
