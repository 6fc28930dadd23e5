/*
 * The measured client side of bench_broker_perf: one librdkafka producer or consumer at a time
 * against a bootstrap address, with the settings of issue 6 (batch.size 1 MiB, linger 5 ms,
 * no compression, a bounded produce queue, large fetches).
 *
 * Every function here is called from the benchmark's main thread; librdkafka runs its own
 * threads underneath, and all callbacks are served on the calling thread by rd_kafka_poll.
 */
#ifndef SL_BENCH_KAFKA_CLIENT_H
#define SL_BENCH_KAFKA_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/bench/bench_latency_histogram.h"

struct sl_bench_produce_spec {
    const char *bootstrap;
    const char *topic;   /* produced to partition 0 only */
    const char *label;   /* names the run in progress lines */
    const char *acks;    /* "1" or "all" */
    size_t record_bytes; /* payload of each record; no key */
    uint64_t record_count;
    /* 0: as fast as the client and broker allow; else a paced producer at this rate. */
    double rate_records_per_s;
    int queue_kbytes; /* queue.buffering.max.kbytes: the bound on unacknowledged data */
};

struct sl_bench_produce_result {
    uint64_t records_acked;
    uint64_t records_failed;
    uint64_t payload_bytes_acked;
    uint64_t queue_full_count; /* produce calls refused because the bounded queue was full */
    double elapsed_s;          /* first produce call to last delivery report */
    int64_t first_offset;      /* lowest offset in a delivery report, -1 if none */
    int64_t last_offset;       /* highest offset in a delivery report, -1 if none */
    double batch_avg_bytes; /* mean produced batch size from librdkafka statistics, 0 if unknown */
    /* Produce call to delivery report, per record. */
    struct sl_bench_histogram latency;
};

struct sl_bench_consume_spec {
    const char *bootstrap;
    const char *topic; /* partition 0 */
    const char *label;
    int64_t start_offset; /* first offset wanted */
    int64_t end_offset;   /* one past the last offset wanted */
    int idle_timeout_ms;  /* fail when no record arrives for this long */
};

struct sl_bench_consume_result {
    uint64_t records;
    uint64_t payload_bytes;
    double elapsed_s;          /* consume start to last record */
    int64_t start_offset_used; /* > spec start when the broker no longer had the start */
};

/* Creates topic with 1 partition and replication factor 1 through the Admin API. Returns 0 if
 * it exists afterwards, 1 if the broker refused or does not support CreateTopics (a warning is
 * printed and the producer's metadata request is left to auto-create it), -1 on a client
 * error. */
int sl_bench_topic_create(const char *bootstrap, const char *topic, int timeout_ms);

/* Produces spec->record_count records and waits for every delivery report. The histogram and
 * counters land in *result. Stops early, returning -1, when *stop becomes non-zero. Returns 0
 * when every record was acknowledged, -1 otherwise (the reason is printed on stderr). */
int sl_bench_produce_run(const struct sl_bench_produce_spec *spec, volatile sig_atomic_t *stop,
                         struct sl_bench_produce_result *result);

/* Reads [start_offset, end_offset) of partition 0 with librdkafka's simple
 * (group-less) consumer.
 * If the broker's log now starts later (retention; librdkafka's mock keeps about 5 MiB per
 * partition) it starts there and says so. Returns 0 when end_offset was reached, -1
 * otherwise. */
int sl_bench_consume_run(const struct sl_bench_consume_spec *spec, volatile sig_atomic_t *stop,
                         struct sl_bench_consume_result *result);

/* Monotonic clock in nanoseconds. */
uint64_t sl_bench_now_ns(void);

#endif
