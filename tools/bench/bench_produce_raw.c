/*
 * bench_produce_raw: how fast can the broker take Produce requests when the client costs
 * (almost) nothing? A load generator on one connection sends pre-built Produce v7 requests
 * (one partition, one uncompressed magic-v2 batch of --record-bytes records filling
 * --request-bytes, CRC computed once) with up to --inflight requests outstanding, and
 * measures acknowledged MiB/s against fio's O_DIRECT write bandwidth measured in the same
 * run, then per-request acknowledgement latency when paced at half that rate.
 *
 * bench_broker_perf answers the same question through librdkafka, whose per-record work
 * shares the two cores of a small machine with the broker; this one takes the client out
 * of the picture, so the figures are the broker's (network receive, CRC check, copy into
 * the log, O_DIRECT write, acknowledgement). The last line is `RESULT key=value ...`
 * (MBps = MiB/s, as limits.sh reports fio).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/sl_assert.h"
#include "common/sl_bytes.h"
#include "common/sl_compiler.h"
#include "storage/batch_builder.h"
#include "tools/bench/bench_latency_histogram.h"
#include "tools/bench/bench_limits.h"
#include "tools/bench/bench_sluiced_process.h"

#define RAW_INFLIGHT_MAX     64
#define RAW_RESPONSE_MAX     4096
#define RAW_TOPIC_BYTES_MAX  200
#define RAW_CLIENT_ID        "sluice-bench-raw"
#define RAW_API_PRODUCE      0
#define RAW_API_METADATA     3
#define RAW_PRODUCE_VERSION  7
#define RAW_METADATA_VERSION 4

struct raw_options {
    const char *sluiced_path;
    const char *bootstrap;
    const char *parent_dir;
    const char *limits_path;
    const char *limits_size;
    bool skip_limits;
    uint64_t total_bytes;
    uint64_t request_bytes;
    uint64_t record_bytes;
    int inflight;
    int acks;
    double half_rate_seconds;
    const char *overrides[SL_BENCH_SLUICED_OVERRIDES_MAX];
    int override_count;
};

/* One phase's outcome. */
struct raw_phase {
    uint64_t requests;
    uint64_t payload_bytes; /* batch bytes acknowledged */
    double seconds;
    struct sl_bench_histogram latency;
};

static volatile sig_atomic_t g_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: bench_produce_raw (--sluiced PATH | --bootstrap HOST:PORT) [options]\n"
        "\n"
        "Load generator: pre-built Produce requests on one connection, pipelined, against a\n"
        "broker on loopback; acknowledged MiB/s vs fio O_DIRECT write bandwidth measured in\n"
        "the same run, then acknowledgement latency at half that rate next to fio's own\n"
        "write latency at that rate (one request-sized write at a time).\n"
        "Last line: RESULT key=value ... (MBps = MiB/s).\n"
        "\n"
        "  --sluiced PATH          start this sluiced in a temp dir under --dir (removed after)\n"
        "  --bootstrap HOST:PORT   use a running broker instead (IPv4 address)\n"
        "  --dir DIR               parent of the temp dir, also where fio runs (default .)\n"
        "  --bytes SIZE            batch bytes to send in the saturated run (default 4G)\n"
        "  --request-bytes SIZE    batch bytes per request (default 1M)\n"
        "  --record-bytes SIZE     record value size (default 1024)\n"
        "  --inflight N            requests outstanding at once (default 8, max 64)\n"
        "  --acks N                1 or -1 (all) (default 1)\n"
        "  --half-rate-seconds S   length of the paced run (default 10; 0 skips it)\n"
        "  --override KEY=VALUE    passed to sluiced (repeatable)\n"
        "  --limits PATH           limits script (default ../shared/tools/limits.sh)\n"
        "  --limits-size SIZE      fio file size for the limits script (default 2G)\n"
        "  --skip-limits           do not measure limits; ratios print as na\n"
        "  --help                  this text\n");
}

static int parse_options(int argc, char **argv, struct raw_options *o)
{
    enum {
        OPT_SLUICED = 256,
        OPT_BOOTSTRAP,
        OPT_DIR,
        OPT_BYTES,
        OPT_REQUEST_BYTES,
        OPT_RECORD_BYTES,
        OPT_INFLIGHT,
        OPT_ACKS,
        OPT_HALF_RATE,
        OPT_OVERRIDE,
        OPT_LIMITS,
        OPT_LIMITS_SIZE,
        OPT_SKIP_LIMITS,
        OPT_HELP,
    };
    static const struct option long_options[] = {
        {"sluiced", required_argument, NULL, OPT_SLUICED},
        {"bootstrap", required_argument, NULL, OPT_BOOTSTRAP},
        {"dir", required_argument, NULL, OPT_DIR},
        {"bytes", required_argument, NULL, OPT_BYTES},
        {"request-bytes", required_argument, NULL, OPT_REQUEST_BYTES},
        {"record-bytes", required_argument, NULL, OPT_RECORD_BYTES},
        {"inflight", required_argument, NULL, OPT_INFLIGHT},
        {"acks", required_argument, NULL, OPT_ACKS},
        {"half-rate-seconds", required_argument, NULL, OPT_HALF_RATE},
        {"override", required_argument, NULL, OPT_OVERRIDE},
        {"limits", required_argument, NULL, OPT_LIMITS},
        {"limits-size", required_argument, NULL, OPT_LIMITS_SIZE},
        {"skip-limits", no_argument, NULL, OPT_SKIP_LIMITS},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->parent_dir = ".";
    o->limits_path = "../shared/tools/limits.sh";
    o->limits_size = "2G";
    o->total_bytes = 4ull << 30;
    o->request_bytes = 1ull << 20;
    o->record_bytes = 1024;
    o->inflight = 8;
    o->acks = 1;
    o->half_rate_seconds = 10;
    int c;
    while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case OPT_SLUICED:
            o->sluiced_path = optarg;
            break;
        case OPT_BOOTSTRAP:
            o->bootstrap = optarg;
            break;
        case OPT_DIR:
            o->parent_dir = optarg;
            break;
        case OPT_BYTES:
        case OPT_REQUEST_BYTES:
        case OPT_RECORD_BYTES: {
            uint64_t v = 0;
            if (sl_bench_parse_size(optarg, &v) != 0 || v == 0) {
                fprintf(stderr, "bench: bad size '%s'\n", optarg);
                return -1;
            }
            if (c == OPT_BYTES)
                o->total_bytes = v;
            else if (c == OPT_REQUEST_BYTES)
                o->request_bytes = v;
            else
                o->record_bytes = v;
            break;
        }
        case OPT_INFLIGHT:
            o->inflight = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || o->inflight < 1 || o->inflight > RAW_INFLIGHT_MAX) {
                fprintf(stderr, "bench: --inflight must be 1..%d\n", RAW_INFLIGHT_MAX);
                return -1;
            }
            break;
        case OPT_ACKS:
            o->acks = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || (o->acks != 1 && o->acks != -1)) {
                fprintf(stderr, "bench: --acks must be 1 or -1\n");
                return -1;
            }
            break;
        case OPT_HALF_RATE:
            o->half_rate_seconds = strtod(optarg, &end);
            if (*end != '\0' || o->half_rate_seconds < 0) {
                fprintf(stderr, "bench: bad --half-rate-seconds '%s'\n", optarg);
                return -1;
            }
            break;
        case OPT_OVERRIDE:
            if (o->override_count == SL_BENCH_SLUICED_OVERRIDES_MAX) {
                fprintf(stderr, "bench: at most %d --override\n", SL_BENCH_SLUICED_OVERRIDES_MAX);
                return -1;
            }
            o->overrides[o->override_count++] = optarg;
            break;
        case OPT_LIMITS:
            o->limits_path = optarg;
            break;
        case OPT_LIMITS_SIZE:
            o->limits_size = optarg;
            break;
        case OPT_SKIP_LIMITS:
            o->skip_limits = true;
            break;
        case OPT_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if ((o->sluiced_path == NULL) == (o->bootstrap == NULL)) {
        fprintf(stderr, "bench: give exactly one of --sluiced or --bootstrap\n");
        usage(stderr);
        return -1;
    }
    if (o->request_bytes > (64ull << 20) || o->record_bytes + 128 > o->request_bytes) {
        fprintf(stderr, "bench: --request-bytes must be at most 64M and hold one record\n");
        return -1;
    }
    return 0;
}

/* ---- a minimal Kafka wire writer ---- */

struct wire {
    uint8_t *buf;
    size_t len;
    size_t cap;
};

static void put(struct wire *w, const void *p, size_t n)
{
    SL_ASSERT(w->len + n <= w->cap);
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put16(struct wire *w, int16_t v)
{
    uint8_t b[2];
    sl_store_be16(b, (uint16_t)v);
    put(w, b, 2);
}

static void put32(struct wire *w, int32_t v)
{
    uint8_t b[4];
    sl_store_be32(b, (uint32_t)v);
    put(w, b, 4);
}

static void put_string(struct wire *w, const char *s)
{
    put16(w, (int16_t)strlen(s));
    put(w, s, strlen(s));
}

/* Size prefix placeholder, request header v1 (api, version, correlation id, client id). */
static void begin_request(struct wire *w, int16_t api, int16_t version, int32_t correlation_id)
{
    w->len = 0;
    put32(w, 0);
    put16(w, api);
    put16(w, version);
    put32(w, correlation_id);
    put_string(w, RAW_CLIENT_ID);
}

static void end_request(struct wire *w)
{
    sl_store_be32(w->buf, (uint32_t)(w->len - 4));
}

/* Offset of the correlation id inside a framed request. */
#define RAW_CORRELATION_AT 8

/* ---- socket I/O ---- */

static int connect_to(const char *host_port)
{
    char host[64];
    const char *colon = strrchr(host_port, ':');
    if (colon == NULL || (size_t)(colon - host_port) >= sizeof(host)) {
        fprintf(stderr, "bench: bad address '%s' (want IPv4:PORT)\n", host_port);
        return -1;
    }
    memcpy(host, host_port, (size_t)(colon - host_port));
    host[colon - host_port] = '\0';
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "bench: '%s' is not an IPv4 address\n", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        fprintf(stderr, "bench: connect %s: %s\n", host_port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Reads one response frame into buf; returns its length or -1. */
static int read_frame(int fd, uint8_t *buf, size_t cap)
{
    uint8_t prefix[4];
    if (read_all(fd, prefix, 4) != 0)
        return -1;
    uint32_t len = sl_load_be32(prefix);
    if (len < 4 || len > cap) {
        fprintf(stderr, "bench: response of %u bytes\n", len);
        return -1;
    }
    if (read_all(fd, buf, len) != 0)
        return -1;
    return (int)len;
}

/* ---- Metadata (auto-creates the topic) and the Produce response ---- */

struct reader {
    const uint8_t *p;
    size_t left;
    bool bad;
};

static const uint8_t *take(struct reader *r, size_t n)
{
    if (r->bad || r->left < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *at = r->p;
    r->p += n;
    r->left -= n;
    return at;
}

static int32_t get32(struct reader *r)
{
    const uint8_t *p = take(r, 4);
    return p ? (int32_t)sl_load_be32(p) : 0;
}

static int16_t get16(struct reader *r)
{
    const uint8_t *p = take(r, 2);
    return p ? (int16_t)sl_load_be16(p) : 0;
}

static void skip_string(struct reader *r)
{
    int16_t n = get16(r);
    if (n > 0)
        take(r, (size_t)n);
}

static void skip_int32_array(struct reader *r)
{
    int32_t n = get32(r);
    for (int32_t i = 0; i < n && !r->bad; i++)
        get32(r);
}

/* True when Metadata v4 says the topic exists with partition 0 led by a broker. */
static bool topic_ready(const uint8_t *resp, size_t len, int32_t correlation_id)
{
    struct reader r = {resp, len, false};
    if (get32(&r) != correlation_id)
        return false;
    get32(&r); /* throttle */
    int32_t brokers = get32(&r);
    for (int32_t i = 0; i < brokers && !r.bad; i++) {
        get32(&r);
        skip_string(&r);
        get32(&r);
        skip_string(&r); /* rack */
    }
    skip_string(&r); /* cluster id */
    get32(&r);       /* controller */
    int32_t topics = get32(&r);
    bool ready = false;
    for (int32_t t = 0; t < topics && !r.bad; t++) {
        int16_t topic_error = get16(&r);
        skip_string(&r);
        take(&r, 1); /* is_internal */
        int32_t partitions = get32(&r);
        for (int32_t p = 0; p < partitions && !r.bad; p++) {
            int16_t error = get16(&r);
            int32_t index = get32(&r);
            int32_t leader = get32(&r);
            skip_int32_array(&r);
            skip_int32_array(&r);
            if (topic_error == 0 && error == 0 && index == 0 && leader >= 0)
                ready = true;
        }
    }
    return ready && !r.bad;
}

static int ensure_topic(int fd, const char *topic, struct wire *w)
{
    uint8_t resp[RAW_RESPONSE_MAX * 4];
    for (int attempt = 0; attempt < 100 && !g_interrupted; attempt++) {
        begin_request(w, RAW_API_METADATA, RAW_METADATA_VERSION, 1000 + attempt);
        put32(w, 1);
        put_string(w, topic);
        uint8_t allow_auto_create = 1;
        put(w, &allow_auto_create, 1);
        end_request(w);
        if (write_all(fd, w->buf, w->len) != 0)
            return -1;
        int n = read_frame(fd, resp, sizeof(resp));
        if (n < 0)
            return -1;
        if (topic_ready(resp, (size_t)n, 1000 + attempt))
            return 0;
        usleep(100 * 1000);
    }
    fprintf(stderr, "bench: topic %s has no leader for partition 0 after 10 s\n", topic);
    return -1;
}

/* Produce v7 response with one topic and one partition: its error code, or -1000 when
 * the response does not parse or answers another request. */
static int produce_error(const uint8_t *resp, size_t len, int32_t correlation_id)
{
    struct reader r = {resp, len, false};
    if (get32(&r) != correlation_id)
        return -1000;
    if (get32(&r) != 1)
        return -1000;
    skip_string(&r);
    if (get32(&r) != 1)
        return -1000;
    get32(&r); /* partition */
    int16_t error = get16(&r);
    return r.bad ? -1000 : error;
}

/* Builds the framed Produce request: one batch of records filling request_bytes. */
static int build_produce(const struct raw_options *o, const char *topic, struct wire *w)
{
    size_t batch_cap = (size_t)o->request_bytes;
    uint8_t *batch = malloc(batch_cap);
    uint8_t *value = malloc((size_t)o->record_bytes);
    if (batch == NULL || value == NULL) {
        free(batch);
        free(value);
        return -1;
    }
    for (uint64_t i = 0; i < o->record_bytes; i++)
        value[i] = (uint8_t)(i * 131 + 7);
    struct sl_batch_builder b;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t ts = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    sl_batch_builder_init(&b, batch, batch_cap, ts, 0, -1, -1, -1);
    while (sl_batch_builder_add(&b, ts, NULL, -1, value, (int32_t)o->record_bytes, NULL, 0) == 0) {
    }
    int32_t records = b.record_count;
    size_t batch_len = sl_batch_builder_finish(&b);
    begin_request(w, RAW_API_PRODUCE, RAW_PRODUCE_VERSION, 0);
    put16(w, -1); /* transactional id: null */
    put16(w, (int16_t)o->acks);
    put32(w, 30000);
    put32(w, 1);
    put_string(w, topic);
    put32(w, 1);
    put32(w, 0); /* partition */
    put32(w, (int32_t)batch_len);
    put(w, batch, batch_len);
    end_request(w);
    printf("request: %zu bytes, one batch of %d records x %llu B (%zu batch bytes)\n", w->len,
           records, (unsigned long long)o->record_bytes, batch_len);
    free(batch);
    free(value);
    return (int)batch_len;
}

/* Sends requests until total_bytes of batches are acknowledged. With pace_ns > 0 a request
 * starts every pace_ns (never more than `inflight` outstanding), else as soon as one of the
 * `inflight` slots is free. Returns 0 or -1. */
static int run_phase(int fd, struct wire *req, size_t batch_len, uint64_t total_bytes,
                     double max_seconds, int inflight, uint64_t pace_ns, int32_t *correlation,
                     struct raw_phase *out)
{
    uint64_t sent_at[RAW_INFLIGHT_MAX];
    const int32_t first_id = *correlation;
    uint8_t resp[RAW_RESPONSE_MAX];
    memset(out, 0, sizeof(*out));
    sl_bench_histogram_reset(&out->latency);
    uint64_t start = now_ns();
    uint64_t next_send = start;
    uint64_t deadline = max_seconds > 0 ? start + (uint64_t)(max_seconds * 1e9) : UINT64_MAX;
    uint64_t sent = 0, acked = 0;
    uint64_t want = (total_bytes + batch_len - 1) / batch_len;
    uint64_t last_progress = start;
    while (acked < want && !g_interrupted) {
        uint64_t now = now_ns();
        bool may_send = sent < want && sent - acked < (uint64_t)inflight && now < deadline &&
                        (pace_ns == 0 || now >= next_send);
        if (may_send) {
            int32_t id = first_id + (int32_t)sent;
            sl_store_be32(req->buf + RAW_CORRELATION_AT, (uint32_t)id);
            sent_at[sent % RAW_INFLIGHT_MAX] = now;
            if (write_all(fd, req->buf, req->len) != 0) {
                fprintf(stderr, "bench: send failed: %s\n", strerror(errno));
                return -1;
            }
            sent++;
            next_send += pace_ns;
            if (pace_ns > 0 && next_send < now)
                next_send = now; /* fell behind: do not burst to catch up */
            continue;
        }
        if (sent == acked) {
            if (now >= deadline)
                break;
            if (pace_ns > 0 && next_send > now) {
                uint64_t gap = next_send - now;
                struct timespec ts = {(time_t)(gap / 1000000000ull), (long)(gap % 1000000000ull)};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        if (pace_ns > 0 && sent - acked < (uint64_t)inflight && next_send > now && sent < want &&
            now < deadline) {
            /* Paced: wait for a response or the next send time, whichever comes first. */
            struct timeval tv = {0, (suseconds_t)SL_MIN((next_send - now) / 1000, 1000000ull)};
            fd_set rd;
            FD_ZERO(&rd);
            FD_SET(fd, &rd);
            if (select(fd + 1, &rd, NULL, NULL, &tv) <= 0)
                continue;
        }
        int n = read_frame(fd, resp, sizeof(resp));
        if (n < 0) {
            fprintf(stderr, "bench: connection lost after %llu acknowledged requests\n",
                    (unsigned long long)acked);
            return -1;
        }
        int32_t id = first_id + (int32_t)acked;
        int err = produce_error(resp, (size_t)n, id);
        if (err != 0) {
            fprintf(stderr, "bench: Produce %d answered with error %d\n", id, err);
            return -1;
        }
        sl_bench_histogram_record(&out->latency, now_ns() - sent_at[acked % RAW_INFLIGHT_MAX]);
        acked++;
        if (now_ns() - last_progress > 2000000000ull) {
            last_progress = now_ns();
            printf("  progress: %llu MiB acknowledged in %.1f s\n",
                   (unsigned long long)(acked * batch_len >> 20), (last_progress - start) / 1e9);
            fflush(stdout);
        }
    }
    out->seconds = (now_ns() - start) / 1e9;
    out->requests = acked;
    out->payload_bytes = acked * batch_len;
    *correlation = first_id + (int32_t)sent;
    return g_interrupted ? -1 : 0;
}

static double mibps(const struct raw_phase *p)
{
    return p->seconds > 0 ? p->payload_bytes / 1048576.0 / p->seconds : 0;
}

static void print_phase(const char *name, const struct raw_phase *p)
{
    printf("result %s: %llu requests, %.0f MiB in %.2f s = %.1f MiB/s; ack latency us p50 %.0f "
           "p99 %.0f p99.9 %.0f max %.0f\n",
           name, (unsigned long long)p->requests, p->payload_bytes / 1048576.0, p->seconds,
           mibps(p), sl_bench_histogram_percentile_ns(&p->latency, 50) / 1e3,
           sl_bench_histogram_percentile_ns(&p->latency, 99) / 1e3,
           sl_bench_histogram_percentile_ns(&p->latency, 99.9) / 1e3, p->latency.max_ns / 1e3);
    fflush(stdout);
}

/* The disk's own latency at the paced rate: fio writing request-sized O_DIRECT blocks at
 * queue depth 1, rate-limited to mibps, for `seconds`, in dir. Fills p50/p99/p99.9 of
 * fio's total write latency in microseconds; returns 0 or -1. */
static int fio_latency_at_rate(const char *dir, uint64_t block_bytes, double mibps, double seconds,
                               double out_us[3])
{
    char cmd[8192];
    snprintf(cmd, sizeof(cmd),
             "fio --name=ack-latency-limit --filename=%s/fio-latency.dat --rw=write --bs=%llu "
             "--direct=1 --ioengine=io_uring --iodepth=1 --rate=%llu --size=4G --time_based "
             "--runtime=%.0f --lat_percentiles=1 --output-format=json 2>/dev/null",
             dir, (unsigned long long)block_bytes, (unsigned long long)(mibps * 1048576.0),
             seconds < 1 ? 1 : seconds);
    FILE *out = popen(cmd, "r");
    if (out == NULL)
        return -1;
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof(text) - 1, out);
    text[len] = '\0';
    int status = pclose(out);
    char path[4200];
    snprintf(path, sizeof(path), "%s/fio-latency.dat", dir);
    unlink(path);
    /* The write section's lat_ns percentiles (the read section comes first, empty). */
    const char *write = strstr(text, "\"write\" : {");
    const char *lat = write ? strstr(write, "\"lat_ns\" : {") : NULL;
    static const char *const keys[3] = {"\"50.000000\" : ", "\"99.000000\" : ", "\"99.900000\" : "};
    for (int i = 0; i < 3; i++) {
        const char *at = lat ? strstr(lat, keys[i]) : NULL;
        if (at == NULL) {
            fprintf(stderr, "bench: fio latency run gave no %s percentile (status %d)\n", keys[i],
                    status);
            return -1;
        }
        out_us[i] = strtod(at + strlen(keys[i]), NULL) / 1e3;
    }
    return 0;
}

static void ratio(char *out, size_t size, double value, double limit)
{
    if (limit > 0)
        snprintf(out, size, "%.3f", value / limit);
    else
        snprintf(out, size, "na");
}

int main(int argc, char **argv)
{
    struct raw_options o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/bench-produce-raw.XXXXXX", o.parent_dir);
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "bench: mkdtemp %s: %s\n", dir, strerror(errno));
        return 1;
    }
    struct sl_bench_limits limits = {-1, -1, -1};
    int rc = 1;
    struct sl_bench_sluiced broker;
    memset(&broker, 0, sizeof(broker));
    struct wire w = {NULL, 0, 0};
    int fd = -1;
    if (!o.skip_limits && sl_bench_run_limits(o.limits_path, o.limits_size, dir, &limits) != 0)
        goto out;
    const char *bootstrap = o.bootstrap;
    if (o.sluiced_path != NULL) {
        char broker_dir[4200];
        snprintf(broker_dir, sizeof(broker_dir), "%s/broker", dir);
        if (mkdir(broker_dir, 0755) != 0 ||
            sl_bench_sluiced_start(&broker, o.sluiced_path, broker_dir, o.overrides,
                                   o.override_count, 30000) != 0)
            goto out;
        bootstrap = broker.bootstrap;
        printf("sluiced %s on %s\n", o.sluiced_path, bootstrap);
    }
    w.cap = (size_t)o.request_bytes + 4096;
    w.buf = malloc(w.cap);
    if (w.buf == NULL)
        goto out;
    fd = connect_to(bootstrap);
    if (fd < 0)
        goto out;
    char topic[RAW_TOPIC_BYTES_MAX];
    snprintf(topic, sizeof(topic), "sluice-raw-%d", (int)getpid());
    if (ensure_topic(fd, topic, &w) != 0)
        goto out;
    int batch_len = build_produce(&o, topic, &w);
    if (batch_len <= 0)
        goto out;
    int32_t correlation = 1;
    struct raw_phase saturated, paced;
    double fio_us[3] = {-1, -1, -1};
    memset(&paced, 0, sizeof(paced));
    printf("run saturated: %llu MiB, %d in flight, acks=%d\n",
           (unsigned long long)(o.total_bytes >> 20), o.inflight, o.acks);
    if (run_phase(fd, &w, (size_t)batch_len, o.total_bytes, 0, o.inflight, 0, &correlation,
                  &saturated) != 0)
        goto out;
    print_phase("saturated", &saturated);
    double half_rps = saturated.requests / saturated.seconds / 2;
    if (o.half_rate_seconds > 0) {
        printf("run half-rate: %.0f requests/s (%.1f MiB/s) for %.0f s\n", half_rps,
               half_rps * batch_len / 1048576.0, o.half_rate_seconds);
        if (run_phase(fd, &w, (size_t)batch_len, UINT64_MAX / 2, o.half_rate_seconds, o.inflight,
                      (uint64_t)(1e9 / half_rps), &correlation, &paced) != 0)
            goto out;
        print_phase("half-rate", &paced);
        if (!o.skip_limits) {
            printf(
                "run fio-latency: %llu-byte O_DIRECT writes at queue depth 1, %.1f MiB/s, %.0f s\n",
                (unsigned long long)SL_ALIGN_UP((uint64_t)batch_len, 4096ull), mibps(&paced),
                o.half_rate_seconds);
            /* O_DIRECT needs whole sectors: the request's batch rounded up to pages. */
            if (fio_latency_at_rate(dir, SL_ALIGN_UP((uint64_t)batch_len, 4096ull), mibps(&paced),
                                    o.half_rate_seconds, fio_us) != 0)
                goto out;
            printf("result fio-latency: us p50 %.0f p99 %.0f p99.9 %.0f\n", fio_us[0], fio_us[1],
                   fio_us[2]);
        }
    }
    char fio_ratio[32];
    ratio(fio_ratio, sizeof(fio_ratio), mibps(&saturated), limits.fio_write_mbps);
    char fio_p99_text[32] = "na", p99_ratio[32];
    if (fio_us[1] > 0)
        snprintf(fio_p99_text, sizeof(fio_p99_text), "%.0f", fio_us[1]);
    ratio(p99_ratio, sizeof(p99_ratio), sl_bench_histogram_percentile_ns(&paced.latency, 99) / 1e3,
          fio_us[1]);
    char fio_text[32] = "na";
    if (limits.fio_write_mbps > 0)
        snprintf(fio_text, sizeof(fio_text), "%.1f", limits.fio_write_mbps);
    printf("RESULT bench=produce_raw target=%s fio_write_MBps=%s request_bytes=%d inflight=%d "
           "acks=%d saturated_MBps=%.1f saturated_requests_per_s=%.0f saturated_fio_ratio=%s "
           "saturated_p50_us=%.0f saturated_p99_us=%.0f half_rate_MBps=%.1f "
           "half_rate_p50_us=%.0f half_rate_p99_us=%.0f half_rate_p999_us=%.0f "
           "fio_half_rate_p99_us=%s half_rate_p99_vs_fio=%s\n",
           o.sluiced_path ? "sluiced" : "bootstrap", fio_text, batch_len, o.inflight, o.acks,
           mibps(&saturated), saturated.requests / saturated.seconds, fio_ratio,
           sl_bench_histogram_percentile_ns(&saturated.latency, 50) / 1e3,
           sl_bench_histogram_percentile_ns(&saturated.latency, 99) / 1e3, mibps(&paced),
           sl_bench_histogram_percentile_ns(&paced.latency, 50) / 1e3,
           sl_bench_histogram_percentile_ns(&paced.latency, 99) / 1e3,
           sl_bench_histogram_percentile_ns(&paced.latency, 99.9) / 1e3, fio_p99_text, p99_ratio);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(w.buf);
    if (o.sluiced_path != NULL)
        sl_bench_sluiced_stop(&broker, 15000);
    sl_bench_remove_tree(dir);
    if (rc != 0)
        fprintf(stderr, "bench: FAILED (no RESULT line)\n");
    return rc;
}
