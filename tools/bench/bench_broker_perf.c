/*
 * bench_broker_perf: librdkafka producer and consumer throughput and produce latency against a
 * Kafka-compatible broker on loopback (issue 6), next to the physical limits measured in the
 * same run (fio O_DIRECT write, iperf3 loopback) and to librdkafka's in-process mock cluster,
 * which keeps everything in memory and does no disk I/O.
 *
 * Targets: --bootstrap HOST:PORT (a running broker), --sluiced PATH (started here in a temp dir
 * under --dir, SIGTERMed at the end), or --mock-only (an in-process mock as the target).
 *
 * Runs, in order: sustained produce (largest --record-bytes, acks=1, --bytes), consume of
 * what it wrote, a paced produce at half the sustained record rate (latency), a --burst-bytes
 * produce on the target and on an in-process mock, then the rest of the record size x acks
 * matrix at --burst-bytes. The last line is `RESULT key=value ...`. MBps keys are MiB/s
 * (2^20 bytes/s, as limits.sh reports fio); ratios are same-run quotients.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common/sl_assert.h"
#include "tools/bench/bench_kafka_client.h"
#include "tools/bench/bench_limits.h"
#include "tools/bench/bench_sluiced_process.h"

#define SL_BENCH_RECORD_SIZES_MAX     8
#define SL_BENCH_RECORD_BYTES_MAX     (512u * 1024u)
#define SL_BENCH_RESULT_CHARS         8192
#define SL_BENCH_PATH_CHARS           4096
#define SL_BENCH_SLUICED_STARTUP_MS   30000
#define SL_BENCH_SLUICED_STOP_MS      15000
#define SL_BENCH_CONSUME_IDLE_MS      30000
#define SL_BENCH_TOPIC_CREATE_MS      5000
#define SL_BENCH_DEFAULT_QUEUE_KBYTES 65536
#define SL_BENCH_DEFAULT_HALF_RATE_S  10.0
#define SL_BENCH_DEFAULT_BURST_PAIRS  3
#define SL_BENCH_BURST_PAIRS_MAX      9

struct sl_bench_options {
    const char *bootstrap;
    const char *sluiced_path;
    bool mock_only;
    const char *overrides[SL_BENCH_SLUICED_OVERRIDES_MAX];
    int override_count;
    uint64_t sustained_bytes;
    uint64_t burst_bytes;
    size_t record_bytes[SL_BENCH_RECORD_SIZES_MAX];
    int record_size_count;
    double half_rate_s;
    int burst_pairs;
    int queue_kbytes;
    const char *limits_path;
    const char *limits_size;
    bool skip_limits;
    const char *parent_dir;
};

/* An in-process librdkafka mock cluster with one broker. */
struct sl_bench_mock {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *cluster;
    char bootstrap[256];
};

/* Where the measured client connects; mock is set when the target is in-process. */
struct sl_bench_target {
    const char *bootstrap;
    struct sl_bench_mock *mock;
    char topic_prefix[64];
    /* Set after CreateTopics failed once: later topics go straight to auto-creation instead of
     * waiting for the same timeout again. */
    bool create_topics_failed;
};

/* The RESULT line, built up as runs finish. */
struct sl_bench_result_line {
    char text[SL_BENCH_RESULT_CHARS];
    size_t length;
};

static volatile sig_atomic_t sl_bench_stop_requested;

static void sl_bench_on_signal(int signo)
{
    (void)signo;
    sl_bench_stop_requested = 1;
}

static void sl_bench_usage(FILE *out)
{
    fprintf(out,
            "usage: bench_broker_perf (--bootstrap HOST:PORT | --sluiced PATH | --mock-only)\n"
            "                         [options]\n"
            "\n"
            "librdkafka produce/consume throughput and produce latency against a broker on\n"
            "loopback, with fio/iperf3 limits and librdkafka's in-process mock cluster measured\n"
            "in the same run. Last line: RESULT key=value ... (MBps = MiB/s).\n"
            "\n"
            "target (exactly one):\n"
            "  --bootstrap HOST:PORT   an already running broker\n"
            "  --sluiced PATH          start PATH server.properties in a temp dir under --dir\n"
            "                          (free ports, node.id=1, broker+controller), SIGTERM it\n"
            "                          at the end and remove the dir\n"
            "  --override KEY=VALUE    passed to sluiced as --override KEY=VALUE (repeatable)\n"
            "  --mock-only             an in-process librdkafka mock cluster is the target\n"
            "options:\n"
            "  --bytes SIZE            sustained produce size (default 4G; K/M/G suffixes)\n"
            "  --burst-bytes SIZE      burst and matrix produce size (default 1G)\n"
            "  --record-bytes LIST     record payload sizes, comma-separated (default\n"
            "                          100,1024); the largest is used for the sustained,\n"
            "                          consume, half-rate and burst runs\n"
            "  --half-rate-seconds N   length of the paced half-rate latency run (default 10)\n"
            "  --burst-pairs N         burst comparisons, each target then mock, alternating;\n"
            "                          the medians are reported (default %d, at most %d)\n"
            "  --queue-kbytes N        producer queue.buffering.max.kbytes (default %d)\n"
            "  --limits PATH           limits script (default ../shared/tools/limits.sh), run\n"
            "                          once at the start on the temp dir\n"
            "  --limits-size SIZE      file size for the limits script's fio run (default 2G)\n"
            "  --skip-limits           do not run it; ratios print as na\n"
            "  --dir DIR               parent of the temp dir (default .; a real file system)\n"
            "  --help\n",
            SL_BENCH_DEFAULT_BURST_PAIRS, SL_BENCH_BURST_PAIRS_MAX, SL_BENCH_DEFAULT_QUEUE_KBYTES);
}

static int sl_bench_parse_record_sizes(const char *text, struct sl_bench_options *options)
{
    char copy[256];
    if (strlen(text) >= sizeof(copy)) {
        return -1;
    }
    strcpy(copy, text);
    options->record_size_count = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        uint64_t size = 0;
        if (options->record_size_count == SL_BENCH_RECORD_SIZES_MAX ||
            sl_bench_parse_size(item, &size) != 0 || size > SL_BENCH_RECORD_BYTES_MAX) {
            return -1;
        }
        for (int i = 0; i < options->record_size_count; i++) {
            if (options->record_bytes[i] == size) {
                return -1; /* the same size twice would repeat its keys */
            }
        }
        options->record_bytes[options->record_size_count++] = (size_t)size;
    }
    return options->record_size_count > 0 ? 0 : -1;
}

static int sl_bench_parse_positive(const char *text, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(value > 0) || value > max) {
        return -1;
    }
    *out = value;
    return 0;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int sl_bench_parse_args(int argc, char **argv, struct sl_bench_options *options)
{
    enum {
        OPT_BOOTSTRAP = 256,
        OPT_SLUICED,
        OPT_OVERRIDE,
        OPT_MOCK_ONLY,
        OPT_BYTES,
        OPT_BURST_BYTES,
        OPT_RECORD_BYTES,
        OPT_HALF_RATE_SECONDS,
        OPT_BURST_PAIRS,
        OPT_QUEUE_KBYTES,
        OPT_LIMITS,
        OPT_LIMITS_SIZE,
        OPT_SKIP_LIMITS,
        OPT_DIR,
        OPT_HELP,
    };
    static const struct option long_options[] = {
        {"bootstrap", required_argument, NULL, OPT_BOOTSTRAP},
        {"sluiced", required_argument, NULL, OPT_SLUICED},
        {"override", required_argument, NULL, OPT_OVERRIDE},
        {"mock-only", no_argument, NULL, OPT_MOCK_ONLY},
        {"bytes", required_argument, NULL, OPT_BYTES},
        {"burst-bytes", required_argument, NULL, OPT_BURST_BYTES},
        {"record-bytes", required_argument, NULL, OPT_RECORD_BYTES},
        {"half-rate-seconds", required_argument, NULL, OPT_HALF_RATE_SECONDS},
        {"burst-pairs", required_argument, NULL, OPT_BURST_PAIRS},
        {"queue-kbytes", required_argument, NULL, OPT_QUEUE_KBYTES},
        {"limits", required_argument, NULL, OPT_LIMITS},
        {"limits-size", required_argument, NULL, OPT_LIMITS_SIZE},
        {"skip-limits", no_argument, NULL, OPT_SKIP_LIMITS},
        {"dir", required_argument, NULL, OPT_DIR},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(options, 0, sizeof(*options));
    options->sustained_bytes = 4ull << 30;
    options->burst_bytes = 1ull << 30;
    options->record_bytes[0] = 100;
    options->record_bytes[1] = 1024;
    options->record_size_count = 2;
    options->half_rate_s = SL_BENCH_DEFAULT_HALF_RATE_S;
    options->burst_pairs = SL_BENCH_DEFAULT_BURST_PAIRS;
    options->queue_kbytes = SL_BENCH_DEFAULT_QUEUE_KBYTES;
    options->limits_path = "../shared/tools/limits.sh";
    options->limits_size = "2G";
    options->parent_dir = ".";
    int opt;
    double number = 0;
    uint64_t size = 0;
    while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (opt) {
        case OPT_BOOTSTRAP:
            options->bootstrap = optarg;
            break;
        case OPT_SLUICED:
            options->sluiced_path = optarg;
            break;
        case OPT_OVERRIDE:
            if (options->override_count == SL_BENCH_SLUICED_OVERRIDES_MAX ||
                strchr(optarg, '=') == NULL) {
                fprintf(stderr, "bench: bad or too many --override '%s'\n", optarg);
                return 2;
            }
            options->overrides[options->override_count++] = optarg;
            break;
        case OPT_MOCK_ONLY:
            options->mock_only = true;
            break;
        case OPT_BYTES:
        case OPT_BURST_BYTES:
            if (sl_bench_parse_size(optarg, &size) != 0) {
                fprintf(stderr, "bench: bad size '%s'\n", optarg);
                return 2;
            }
            *(opt == OPT_BYTES ? &options->sustained_bytes : &options->burst_bytes) = size;
            break;
        case OPT_RECORD_BYTES:
            if (sl_bench_parse_record_sizes(optarg, options) != 0) {
                fprintf(stderr, "bench: bad --record-bytes '%s' (distinct sizes 1..%u, up to %d)\n",
                        optarg, SL_BENCH_RECORD_BYTES_MAX, SL_BENCH_RECORD_SIZES_MAX);
                return 2;
            }
            break;
        case OPT_HALF_RATE_SECONDS:
            if (sl_bench_parse_positive(optarg, 3600, &options->half_rate_s) != 0) {
                fprintf(stderr, "bench: bad --half-rate-seconds '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_BURST_PAIRS:
            if (sl_bench_parse_positive(optarg, SL_BENCH_BURST_PAIRS_MAX, &number) != 0 ||
                number != (int)number) {
                fprintf(stderr, "bench: bad --burst-pairs '%s' (1..%d)\n", optarg,
                        SL_BENCH_BURST_PAIRS_MAX);
                return 2;
            }
            options->burst_pairs = (int)number;
            break;
        case OPT_QUEUE_KBYTES:
            if (sl_bench_parse_positive(optarg, 2097151, &number) != 0 || number < 1024) {
                fprintf(stderr, "bench: bad --queue-kbytes '%s' (1024..2097151)\n", optarg);
                return 2;
            }
            options->queue_kbytes = (int)number;
            break;
        case OPT_LIMITS:
            options->limits_path = optarg;
            break;
        case OPT_LIMITS_SIZE:
            if (sl_bench_parse_size(optarg, &size) != 0) {
                fprintf(stderr, "bench: bad --limits-size '%s'\n", optarg);
                return 2;
            }
            options->limits_size = optarg;
            break;
        case OPT_SKIP_LIMITS:
            options->skip_limits = true;
            break;
        case OPT_DIR:
            options->parent_dir = optarg;
            break;
        case OPT_HELP:
            sl_bench_usage(stdout);
            return 1;
        default:
            sl_bench_usage(stderr);
            return 2;
        }
    }
    int target_count = (options->bootstrap != NULL) + (options->sluiced_path != NULL) +
                       (options->mock_only ? 1 : 0);
    if (optind != argc || target_count != 1) {
        fprintf(stderr, "bench: give exactly one of --bootstrap, --sluiced, --mock-only\n");
        sl_bench_usage(stderr);
        return 2;
    }
    if (options->override_count > 0 && options->sluiced_path == NULL) {
        fprintf(stderr, "bench: --override needs --sluiced\n");
        return 2;
    }
    return 0;
}

static void sl_bench_result_add(struct sl_bench_result_line *line, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void sl_bench_result_add(struct sl_bench_result_line *line, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int written =
        vsnprintf(line->text + line->length, sizeof(line->text) - line->length, format, args);
    va_end(args);
    SL_ASSERT(written >= 0 && (size_t)written < sizeof(line->text) - line->length);
    line->length += (size_t)written;
}

/* Appends " key=ratio", or " key=na" when the denominator was not measured. */
static void sl_bench_result_ratio(struct sl_bench_result_line *line, const char *key,
                                  double numerator, double denominator)
{
    if (denominator > 0) {
        sl_bench_result_add(line, " %s=%.3f", key, numerator / denominator);
    } else {
        sl_bench_result_add(line, " %s=na", key);
    }
}

static void sl_bench_result_value(struct sl_bench_result_line *line, const char *key, double value)
{
    if (value >= 0) {
        sl_bench_result_add(line, " %s=%.1f", key, value);
    } else {
        sl_bench_result_add(line, " %s=na", key);
    }
}

/* "1k" for 1024, "100b" for 100, "1g" for 2^30: labels inside key names. */
static void sl_bench_size_label(uint64_t bytes, char *out, size_t out_size)
{
    static const char suffixes[] = {'t', 'g', 'm', 'k'};
    for (size_t i = 0; i < sizeof(suffixes); i++) {
        unsigned shift = 40u - 10u * (unsigned)i;
        if (bytes >= (1ull << shift) && bytes % (1ull << shift) == 0) {
            snprintf(out, out_size, "%" PRIu64 "%c", bytes >> shift, suffixes[i]);
            return;
        }
    }
    snprintf(out, out_size, "%" PRIu64 "b", bytes);
}

static double sl_bench_mib_per_s(uint64_t bytes, double seconds)
{
    return seconds > 0 ? (double)bytes / (1024.0 * 1024.0) / seconds : 0.0;
}

static int sl_bench_mock_start(struct sl_bench_mock *mock)
{
    char errstr[512];
    memset(mock, 0, sizeof(*mock));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* This handle only hosts the mock; it never connects, so its "no bootstrap.servers"
     * notice is noise. */
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "bench: mock handle: %s\n", errstr);
    }
    mock->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (mock->rk == NULL) {
        fprintf(stderr, "bench: mock handle: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    mock->cluster = rd_kafka_mock_cluster_new(mock->rk, 1);
    if (mock->cluster == NULL) {
        fprintf(stderr, "bench: rd_kafka_mock_cluster_new failed\n");
        rd_kafka_destroy(mock->rk);
        mock->rk = NULL;
        return -1;
    }
    snprintf(mock->bootstrap, sizeof(mock->bootstrap), "%s",
             rd_kafka_mock_cluster_bootstraps(mock->cluster));
    return 0;
}

static void sl_bench_mock_stop(struct sl_bench_mock *mock)
{
    if (mock->cluster != NULL) {
        rd_kafka_mock_cluster_destroy(mock->cluster);
        mock->cluster = NULL;
    }
    if (mock->rk != NULL) {
        rd_kafka_destroy(mock->rk);
        mock->rk = NULL;
    }
}

static int sl_bench_create_topic(struct sl_bench_target *target, const char *topic)
{
    if (target->mock != NULL) {
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(target->mock->cluster, topic, 1, 1);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "bench: mock topic %s: %s\n", topic, rd_kafka_err2str(err));
            return -1;
        }
        return 0;
    }
    if (target->create_topics_failed) {
        return 0; /* the producer's metadata request auto-creates it */
    }
    int status = sl_bench_topic_create(target->bootstrap, topic, SL_BENCH_TOPIC_CREATE_MS);
    if (status == 1) {
        target->create_topics_failed = true;
    }
    return status < 0 ? -1 : 0;
}

static double sl_bench_us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

/* One produce run on a fresh topic <prefix>-<name>; prints a summary line. */
static int sl_bench_produce(struct sl_bench_target *target, const char *name,
                            const struct sl_bench_options *options, size_t record_bytes,
                            const char *acks, uint64_t record_count, double rate_records_per_s,
                            char *topic, size_t topic_size, struct sl_bench_produce_result *result)
{
    snprintf(topic, topic_size, "%s-%s", target->topic_prefix, name);
    printf("run %s: topic %s, %zu-byte records, acks=%s, %" PRIu64 " records (%.0f MiB)", name,
           topic, record_bytes, acks, record_count,
           (double)(record_count * record_bytes) / (1024.0 * 1024.0));
    if (rate_records_per_s > 0) {
        printf(", paced at %.0f records/s", rate_records_per_s);
    }
    printf("\n");
    if (sl_bench_create_topic(target, topic) != 0) {
        return -1;
    }
    struct sl_bench_produce_spec spec = {
        .bootstrap = target->bootstrap,
        .topic = topic,
        .label = name,
        .acks = acks,
        .record_bytes = record_bytes,
        .record_count = record_count,
        .rate_records_per_s = rate_records_per_s,
        .queue_kbytes = options->queue_kbytes,
    };
    if (sl_bench_produce_run(&spec, &sl_bench_stop_requested, result) != 0) {
        fprintf(stderr, "bench: run %s failed\n", name);
        return -1;
    }
    const struct sl_bench_histogram *latency = &result->latency;
    char batch_text[64] = "n/a (run shorter than librdkafka's statistics interval)";
    if (result->batch_avg_bytes > 0) {
        snprintf(batch_text, sizeof(batch_text), "%.0f KiB", result->batch_avg_bytes / 1024.0);
    }
    printf("result %s: %.0f MiB in %.2f s = %.1f MiB/s, %.0f records/s; latency us p50 %.0f "
           "p99 %.0f p99.9 %.0f max %.0f; mean batch %s; queue-full waits %" PRIu64 "\n",
           name, (double)result->payload_bytes_acked / (1024.0 * 1024.0), result->elapsed_s,
           sl_bench_mib_per_s(result->payload_bytes_acked, result->elapsed_s),
           (double)result->records_acked / result->elapsed_s,
           sl_bench_us(sl_bench_histogram_percentile_ns(latency, 50)),
           sl_bench_us(sl_bench_histogram_percentile_ns(latency, 99)),
           sl_bench_us(sl_bench_histogram_percentile_ns(latency, 99.9)),
           sl_bench_us(latency->max_ns), batch_text, result->queue_full_count);
    return 0;
}

static uint64_t sl_bench_record_count(uint64_t bytes, size_t record_bytes)
{
    uint64_t count = bytes / record_bytes;
    return count > 0 ? count : 1;
}

static void sl_bench_result_produce(struct sl_bench_result_line *line, const char *key_prefix,
                                    const struct sl_bench_produce_result *result,
                                    const struct sl_bench_limits *limits)
{
    double mbps = sl_bench_mib_per_s(result->payload_bytes_acked, result->elapsed_s);
    sl_bench_result_add(line, " %s_MBps=%.1f %s_records_per_s=%.0f", key_prefix, mbps, key_prefix,
                        (double)result->records_acked / result->elapsed_s);
    sl_bench_result_add(line, " %s_p99_us=%.0f", key_prefix,
                        sl_bench_us(sl_bench_histogram_percentile_ns(&result->latency, 99)));
    char key[128];
    snprintf(key, sizeof(key), "%s_fio_ratio", key_prefix);
    sl_bench_result_ratio(line, key, mbps, limits->fio_write_mbps);
}

static void sl_bench_result_latency(struct sl_bench_result_line *line, const char *suffix,
                                    const struct sl_bench_histogram *latency)
{
    sl_bench_result_add(line, " p50%s_us=%.0f p99%s_us=%.0f p999%s_us=%.0f", suffix,
                        sl_bench_us(sl_bench_histogram_percentile_ns(latency, 50)), suffix,
                        sl_bench_us(sl_bench_histogram_percentile_ns(latency, 99)), suffix,
                        sl_bench_us(sl_bench_histogram_percentile_ns(latency, 99.9)));
}

/* What the phases of one bench run share. */
struct sl_bench_run {
    const struct sl_bench_options *options;
    struct sl_bench_target *target;
    const struct sl_bench_limits *limits;
    struct sl_bench_result_line *line;
    /* Reused by every produce run: it holds a 30 KiB histogram. */
    struct sl_bench_produce_result *result;
    size_t primary_bytes; /* largest --record-bytes */
    char primary_label[32];
    double sustained_records_per_s;
    char sustained_topic[256];
    int64_t sustained_first_offset;
    int64_t sustained_last_offset;
};

/* Phase 1: sustained produce of the primary size at acks=1. */
static int sl_bench_phase_sustained(struct sl_bench_run *run)
{
    struct sl_bench_produce_result *result = run->result;
    uint64_t count = sl_bench_record_count(run->options->sustained_bytes, run->primary_bytes);
    if (sl_bench_produce(run->target, "sustained", run->options, run->primary_bytes, "1", count, 0,
                         run->sustained_topic, sizeof(run->sustained_topic), result) != 0) {
        return -1;
    }
    run->sustained_records_per_s = (double)result->records_acked / result->elapsed_s;
    run->sustained_first_offset = result->first_offset;
    run->sustained_last_offset = result->last_offset;
    char key[128];
    snprintf(key, sizeof(key), "produce_%s_acks1", run->primary_label);
    sl_bench_result_produce(run->line, key, result, run->limits);
    sl_bench_result_latency(run->line, "", &result->latency);
    /* librdkafka's statistics come every 200 ms; a shorter run has no batch figure. */
    sl_bench_result_value(run->line, "batch_avg_KiB",
                          result->batch_avg_bytes > 0 ? result->batch_avg_bytes / 1024.0 : -1);
    return 0;
}

/* Phase 2: read back exactly what the sustained run wrote. */
static int sl_bench_phase_consume(struct sl_bench_run *run)
{
    printf("run consume: topic %s, offsets %" PRId64 "..%" PRId64 "\n", run->sustained_topic,
           run->sustained_first_offset, run->sustained_last_offset);
    struct sl_bench_consume_spec spec = {
        .bootstrap = run->target->bootstrap,
        .topic = run->sustained_topic,
        .label = "consume",
        .start_offset = run->sustained_first_offset,
        .end_offset = run->sustained_last_offset + 1,
        .idle_timeout_ms = SL_BENCH_CONSUME_IDLE_MS,
    };
    struct sl_bench_consume_result consumed;
    if (sl_bench_consume_run(&spec, &sl_bench_stop_requested, &consumed) != 0) {
        fprintf(stderr, "bench: run consume failed\n");
        return -1;
    }
    double mbps = sl_bench_mib_per_s(consumed.payload_bytes, consumed.elapsed_s);
    printf("result consume: %" PRIu64 " records, %.0f MiB in %.2f s = %.1f MiB/s\n",
           consumed.records, (double)consumed.payload_bytes / (1024.0 * 1024.0), consumed.elapsed_s,
           mbps);
    sl_bench_result_add(run->line, " consume_MBps=%.1f consume_bytes=%" PRIu64, mbps,
                        consumed.payload_bytes);
    /* iperf3 reports 10^9 bit/s; MBps here is 2^20 bytes/s. */
    sl_bench_result_ratio(run->line, "consume_iperf3_ratio", mbps * 1048576.0 * 8.0 / 1e9,
                          run->limits->iperf3_gbps);
    return 0;
}

/* Phase 3: latency at half the sustained record rate. */
static int sl_bench_phase_half_rate(struct sl_bench_run *run)
{
    struct sl_bench_produce_result *result = run->result;
    double rate = run->sustained_records_per_s / 2.0;
    uint64_t count = (uint64_t)(rate * run->options->half_rate_s);
    char topic[256];
    if (sl_bench_produce(run->target, "half-rate", run->options, run->primary_bytes, "1",
                         count > 0 ? count : 1, rate, topic, sizeof(topic), result) != 0) {
        return -1;
    }
    sl_bench_result_latency(run->line, "_half_rate", &result->latency);
    sl_bench_result_add(run->line,
                        " half_rate_records_per_s=%.0f half_rate_achieved_records_per_s=%.0f"
                        " half_rate_queue_full_waits=%" PRIu64,
                        rate, (double)result->records_acked / result->elapsed_s,
                        result->queue_full_count);
    if (result->queue_full_count > 0) {
        /* Then the target did not keep up even at half rate and the tail is queueing in the
         * client, not the broker's service time. */
        printf("  warning half-rate: the paced producer hit the queue bound %" PRIu64
               " times; the target did not sustain half of its own maximum rate\n",
               result->queue_full_count);
    }
    return 0;
}

static int sl_bench_compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n values (sorts them). */
static double sl_bench_median(double *values, int n)
{
    qsort(values, (size_t)n, sizeof(*values), sl_bench_compare_doubles);
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/* One burst on a fresh in-process mock; MiB/s, or -1. */
static double sl_bench_mock_burst(struct sl_bench_run *run, const char *name, uint64_t count)
{
    struct sl_bench_mock mock;
    if (sl_bench_mock_start(&mock) != 0) {
        return -1;
    }
    struct sl_bench_target mock_target = {.bootstrap = mock.bootstrap, .mock = &mock};
    snprintf(mock_target.topic_prefix, sizeof(mock_target.topic_prefix), "%s",
             run->target->topic_prefix);
    printf("in-process mock cluster for the burst comparison: %s\n", mock.bootstrap);
    char topic[256];
    int status = sl_bench_produce(&mock_target, name, run->options, run->primary_bytes, "1", count,
                                  0, topic, sizeof(topic), run->result);
    sl_bench_mock_stop(&mock);
    if (status != 0) {
        return -1;
    }
    return sl_bench_mib_per_s(run->result->payload_bytes_acked, run->result->elapsed_s);
}

/* Phase 4: --burst-pairs times a burst on the target, then the same burst on a fresh
 * in-process mock. The machine's speed drifts by tens of percent within minutes (both the
 * disk and the CPU time left to the client), so one pair says little: pairs alternate, and
 * the medians of the target, the mock and the per-pair ratios are reported. */
static int sl_bench_phase_burst(struct sl_bench_run *run)
{
    uint64_t count = sl_bench_record_count(run->options->burst_bytes, run->primary_bytes);
    int pairs = run->options->burst_pairs;
    double target_mbps[SL_BENCH_BURST_PAIRS_MAX], mock_mbps[SL_BENCH_BURST_PAIRS_MAX];
    double ratios[SL_BENCH_BURST_PAIRS_MAX];
    for (int i = 0; i < pairs; i++) {
        char name[32];
        char topic[256];
        snprintf(name, sizeof(name), "burst-%d", i + 1);
        if (sl_bench_produce(run->target, name, run->options, run->primary_bytes, "1", count, 0,
                             topic, sizeof(topic), run->result) != 0) {
            return -1;
        }
        target_mbps[i] =
            sl_bench_mib_per_s(run->result->payload_bytes_acked, run->result->elapsed_s);
        snprintf(name, sizeof(name), "mock-burst-%d", i + 1);
        mock_mbps[i] = sl_bench_mock_burst(run, name, count);
        if (mock_mbps[i] <= 0) {
            return -1;
        }
        ratios[i] = target_mbps[i] / mock_mbps[i];
        printf("burst pair %d of %d: target %.1f MiB/s, mock %.1f MiB/s, ratio %.3f\n", i + 1,
               pairs, target_mbps[i], mock_mbps[i], ratios[i]);
    }
    double target_median = sl_bench_median(target_mbps, pairs);
    double ratio_median = sl_bench_median(ratios, pairs); /* sorts: min first, max last */
    char label[32];
    sl_bench_size_label(run->options->burst_bytes, label, sizeof(label));
    sl_bench_result_add(run->line, " burst_%s_MBps=%.1f mock_burst_%s_MBps=%.1f", label,
                        target_median, label, sl_bench_median(mock_mbps, pairs));
    sl_bench_result_add(run->line, " burst_vs_mock_ratio=%.3f", ratio_median);
    /* Acknowledged bursts cannot outrun the disk (acks wait for the write; the mock writes
     * nothing): this says how close the target's median burst came to that limit. */
    char key[64];
    snprintf(key, sizeof(key), "burst_%s_fio_ratio", label);
    sl_bench_result_ratio(run->line, key, target_median, run->limits->fio_write_mbps);
    sl_bench_result_add(run->line,
                        " burst_pairs=%d burst_vs_mock_ratio_min=%.3f"
                        " burst_vs_mock_ratio_max=%.3f",
                        pairs, ratios[0], ratios[pairs - 1]);
    return 0;
}

/* Phase 5: every record size x acks pair not yet measured, at --burst-bytes. */
static int sl_bench_phase_matrix(struct sl_bench_run *run)
{
    static const char *const acks_values[] = {"1", "all"};
    for (int i = 0; i < run->options->record_size_count; i++) {
        for (size_t a = 0; a < SL_ARRAY_LEN(acks_values); a++) {
            size_t record_bytes = run->options->record_bytes[i];
            if (record_bytes == run->primary_bytes && a == 0) {
                continue; /* that is the sustained run */
            }
            char label[32];
            char name[64];
            char key[128];
            char topic[256];
            sl_bench_size_label(record_bytes, label, sizeof(label));
            snprintf(name, sizeof(name), "%s-acks%s", label, acks_values[a]);
            snprintf(key, sizeof(key), "produce_%s_acks%s", label, acks_values[a]);
            uint64_t count = sl_bench_record_count(run->options->burst_bytes, record_bytes);
            if (sl_bench_produce(run->target, name, run->options, record_bytes, acks_values[a],
                                 count, 0, topic, sizeof(topic), run->result) != 0) {
                return -1;
            }
            sl_bench_result_produce(run->line, key, run->result, run->limits);
        }
    }
    return 0;
}

/* Runs every phase against target, in order; fills line. Returns 0 or -1. */
static int sl_bench_run_all(const struct sl_bench_options *options, struct sl_bench_target *target,
                            const struct sl_bench_limits *limits, struct sl_bench_result_line *line)
{
    struct sl_bench_run run = {
        .options = options,
        .target = target,
        .limits = limits,
        .line = line,
    };
    for (int i = 0; i < options->record_size_count; i++) {
        run.primary_bytes = SL_MAX(run.primary_bytes, options->record_bytes[i]);
    }
    sl_bench_size_label(run.primary_bytes, run.primary_label, sizeof(run.primary_label));
    run.result = malloc(sizeof(*run.result));
    if (run.result == NULL) {
        return -1;
    }
    int status = -1;
    if (sl_bench_phase_sustained(&run) == 0 && sl_bench_phase_consume(&run) == 0 &&
        sl_bench_phase_half_rate(&run) == 0 && sl_bench_phase_burst(&run) == 0 &&
        sl_bench_phase_matrix(&run) == 0) {
        status = 0;
    }
    free(run.result);
    return status;
}

static void sl_bench_print_settings(const struct sl_bench_options *options, const char *dir)
{
    printf("bench_broker_perf settings:\n");
    if (options->bootstrap != NULL) {
        printf("  target: --bootstrap %s\n", options->bootstrap);
    } else if (options->sluiced_path != NULL) {
        printf("  target: --sluiced %s\n", options->sluiced_path);
    } else {
        printf("  target: in-process librdkafka mock cluster (--mock-only)\n");
    }
    for (int i = 0; i < options->override_count; i++) {
        printf("  sluiced --override %s\n", options->overrides[i]);
    }
    printf("  sustained bytes %" PRIu64 ", burst/matrix bytes %" PRIu64 ", half-rate run %.1f s\n",
           options->sustained_bytes, options->burst_bytes, options->half_rate_s);
    printf("  record bytes:");
    for (int i = 0; i < options->record_size_count; i++) {
        printf(" %zu", options->record_bytes[i]);
    }
    printf("\n  producer: librdkafka %s, 1 partition, batch.size=1048576 linger.ms=5 "
           "batch.num.messages=1000000 message.max.bytes=2097152 compression=none "
           "queue.buffering.max.kbytes=%d\n",
           rd_kafka_version_str(), options->queue_kbytes);
    printf("  consumer: simple consumer (rd_kafka_consume_start, no group), "
           "fetch.max.bytes=max.partition.fetch.bytes=52428800 "
           "queued.max.messages.kbytes=65536\n");
    printf("  limits: %s\n", options->skip_limits ? "skipped" : options->limits_path);
    printf("  temp dir: %s\n", dir);
}

int main(int argc, char **argv)
{
    struct sl_bench_options options;
    int parse_status = sl_bench_parse_args(argc, argv, &options);
    if (parse_status != 0) {
        return parse_status == 1 ? EXIT_SUCCESS : 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = sl_bench_on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    signal(SIGPIPE, SIG_IGN);

    char dir[SL_BENCH_PATH_CHARS];
    if (snprintf(dir, sizeof(dir), "%s/bench-broker-perf.XXXXXX", options.parent_dir) >=
            (int)sizeof(dir) ||
        mkdtemp(dir) == NULL) {
        fprintf(stderr, "bench: cannot create a temp dir under %s: %s\n", options.parent_dir,
                strerror(errno));
        return EXIT_FAILURE;
    }
    sl_bench_print_settings(&options, dir);

    int exit_code = EXIT_FAILURE;
    struct sl_bench_limits limits = {-1, -1, -1};
    struct sl_bench_sluiced sluiced = {.pid = -1};
    struct sl_bench_mock target_mock = {0};
    struct sl_bench_target target = {.bootstrap = options.bootstrap};
    struct sl_bench_result_line line = {.length = 0};
    snprintf(target.topic_prefix, sizeof(target.topic_prefix), "sluice-perf-%d", (int)getpid());
    if (!options.skip_limits &&
        sl_bench_run_limits(options.limits_path, options.limits_size, dir, &limits) != 0) {
        goto out_dir;
    }
    if (options.sluiced_path != NULL) {
        if (sl_bench_sluiced_start(&sluiced, options.sluiced_path, dir, options.overrides,
                                   options.override_count, SL_BENCH_SLUICED_STARTUP_MS) != 0) {
            goto out_dir;
        }
        target.bootstrap = sluiced.bootstrap;
    } else if (options.mock_only) {
        if (sl_bench_mock_start(&target_mock) != 0) {
            goto out_dir;
        }
        target.bootstrap = target_mock.bootstrap;
        target.mock = &target_mock;
    }
    printf("target bootstrap: %s\n", target.bootstrap);

    sl_bench_result_add(&line, "RESULT bench=broker_perf target=%s",
                        options.sluiced_path != NULL ? "sluiced"
                        : options.mock_only          ? "in_process_mock"
                                                     : "bootstrap");
    sl_bench_result_value(&line, "fio_write_MBps", limits.fio_write_mbps);
    sl_bench_result_value(&line, "fio_fsync_iops", limits.fio_fsync_iops);
    sl_bench_result_value(&line, "iperf3_loopback_Gbps", limits.iperf3_gbps);
    sl_bench_result_add(&line, " sustained_bytes=%" PRIu64 " burst_bytes=%" PRIu64,
                        options.sustained_bytes, options.burst_bytes);
    int run_status = sl_bench_run_all(&options, &target, &limits, &line);
    if (options.sluiced_path != NULL && !sl_bench_sluiced_alive(&sluiced)) {
        fprintf(stderr, "bench: sluiced is gone\n");
        run_status = -1;
    }
    if (run_status == 0) {
        exit_code = EXIT_SUCCESS;
    }
out_dir:
    sl_bench_mock_stop(&target_mock);
    sl_bench_sluiced_stop(&sluiced, SL_BENCH_SLUICED_STOP_MS);
    if (sl_bench_remove_tree(dir) != 0) {
        fprintf(stderr, "bench: could not remove %s\n", dir);
    }
    if (exit_code == EXIT_SUCCESS) {
        printf("%s\n", line.text);
    } else {
        fprintf(stderr, "bench: FAILED (no RESULT line)\n");
    }
    return exit_code;
}
