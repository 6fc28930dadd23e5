/* Storage append benchmark: how close does the partition log come to the disk?
 *
 * Appends 1 MiB of record batches per sl_log_append call (1 KiB and 100-byte records)
 * through the real storage engine (io_uring, O_DIRECT, page-aligned buffers) and
 * compares with fio measured in the same run on the same file system
 * (../shared/tools/limits.sh): O_DIRECT sequential write bandwidth, and 16 KiB
 * write+fdatasync IOPS for the flush.messages=1 case. Last line: RESULT key=value ...
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/sl_assert.h"
#include "storage/batch_builder.h"
#include "storage/log.h"

#define APPEND_BYTES (1u << 20)

struct options {
    const char *dir;
    uint64_t total_bytes;
    uint32_t batch_bytes;
    uint32_t sync_seconds;
    const char *limits_script;
    bool skip_limits;
};

struct limits {
    double fio_write_MBps;
    double fio_fsync_iops;
    double iperf3_Gbps;
};

struct run_result {
    double seconds;
    uint64_t bytes;
    uint64_t records;
    uint64_t appends;
};

static int64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: bench_storage_append [options]\n"
                 "Appends 1 MiB of record batches per call to a partition log and compares the\n"
                 "bandwidth with fio O_DIRECT writes measured in the same run.\n"
                 "  --dir DIR            data directory on the file system to measure (default "
                 "./bench-data)\n"
                 "  --bytes N[G|M]       bytes written per bandwidth run (default 4G)\n"
                 "  --batch-bytes N      record batch size (default 65536)\n"
                 "  --sync-seconds N     duration of the flush.messages=1 run (default 10)\n"
                 "  --limits PATH        limits.sh to run (default ../shared/tools/limits.sh)\n"
                 "  --skip-limits        do not run fio/iperf3 (ratios print as 0)\n"
                 "  --help               this text\n");
}

static uint64_t parse_size(const char *s)
{
    char *end;
    uint64_t v = strtoull(s, &end, 10);
    switch (*end) {
    case 'G':
    case 'g':
        v <<= 30;
        break;
    case 'M':
    case 'm':
        v <<= 20;
        break;
    case 'K':
    case 'k':
        v <<= 10;
        break;
    case '\0':
        break;
    default:
        fprintf(stderr, "bad size: %s\n", s);
        exit(2);
    }
    return v;
}

static void run_limits(const struct options *opt, struct limits *lim)
{
    memset(lim, 0, sizeof(*lim));
    if (opt->skip_limits)
        return;
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof(cmd), "bash '%s' '%s' 2G", opt->limits_script, opt->dir);
    printf("limits: %s\n", cmd);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p) {
        perror("popen limits");
        exit(1);
    }
    char line[512];
    while (fgets(line, sizeof(line), p)) {
        fputs(line, stdout);
        if (strncmp(line, "RESULT ", 7) == 0) {
            char *s;
            if ((s = strstr(line, "fio_write_MBps=")))
                lim->fio_write_MBps = atof(s + 15);
            if ((s = strstr(line, "fio_fsync_iops=")))
                lim->fio_fsync_iops = atof(s + 15);
            if ((s = strstr(line, "iperf3_loopback_Gbps=")))
                lim->iperf3_Gbps = atof(s + 21);
        }
    }
    /* limits.sh can exit non-zero from its clean-up trap after printing its figures
     * (the one-shot iperf3 server has already gone); the RESULT line is what counts. */
    int status = pclose(p);
    if (lim->fio_write_MBps <= 0 || lim->fio_fsync_iops <= 0) {
        fprintf(stderr, "limits.sh printed no usable RESULT line (exit status %d)\n", status);
        exit(1);
    }
}

/* Fills buf with batches of about batch_bytes each holding record_bytes values, up to
 * APPEND_BYTES in total. Returns the bytes used; *records gets the record count. */
static size_t build_append_unit(uint8_t *buf, uint32_t batch_bytes, uint32_t record_bytes,
                                uint64_t *records)
{
    static uint8_t value[1 << 16];
    for (size_t i = 0; i < sizeof(value); i++)
        value[i] = (uint8_t)(i * 131 + 7);
    size_t used = 0;
    uint64_t count = 0;
    int64_t ts = realtime_ms();
    uint32_t batches = 0;
    while (APPEND_BYTES - used >= batch_bytes && batches < SL_LOG_APPEND_BATCHES_MAX) {
        struct sl_batch_builder b;
        sl_batch_builder_init(&b, buf + used, batch_bytes, ts, 0, -1, -1, -1);
        char key[32];
        for (;;) {
            int key_len = snprintf(key, sizeof(key), "key-%" PRIu64, count);
            if (sl_batch_builder_add(&b, ts, key, key_len, value, (int32_t)record_bytes, NULL, 0) !=
                0)
                break;
            count++;
        }
        used += sl_batch_builder_finish(&b);
        batches++;
    }
    *records = count;
    return used;
}

static void make_dir(const char *dir)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/bench-log-0'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot clean %s\n", dir);
        exit(1);
    }
    mkdir(dir, 0755);
}

static struct sl_log *open_log(struct sl_storage *storage, const char *dir,
                               const struct sl_log_config *lc)
{
    make_dir(dir);
    struct sl_log *log = NULL;
    enum sl_storage_err err =
        sl_log_open(storage, dir, "bench-log", 0, lc, NULL, realtime_ms(), &log, NULL);
    if (err != SL_STORAGE_OK) {
        fprintf(stderr, "sl_log_open(%s): %s\n", dir, sl_storage_strerror(err));
        exit(1);
    }
    return log;
}

static void close_log(struct sl_log *log, const char *dir)
{
    enum sl_storage_err err = sl_log_close(log);
    if (err != SL_STORAGE_OK) {
        fprintf(stderr, "sl_log_close: %s\n", sl_storage_strerror(err));
        exit(1);
    }
    make_dir(dir);
}

/* Appends the unit until total_bytes are in the log, then waits until the written (or,
 * with a flush policy, the durable) end offset reaches the log end. */
static struct run_result run_bandwidth(struct sl_storage *storage, const struct options *opt,
                                       const struct sl_log_config *lc, const uint8_t *unit,
                                       size_t unit_bytes, uint64_t unit_records, bool durable,
                                       const char *label)
{
    struct sl_log *log = open_log(storage, opt->dir, lc);
    struct run_result r = {0};
    uint64_t next_report = 1ull << 30;
    double start = monotonic_s();
    while (r.bytes < opt->total_bytes) {
        struct sl_log_append_result ar;
        int64_t now = realtime_ms();
        enum sl_storage_err err = sl_log_append(log, unit, unit_bytes, NULL, 0, 0, now, &ar);
        if (err == SL_STORAGE_ERR_BUSY || err == SL_STORAGE_ERR_NO_BUFFER) {
            sl_storage_wait(storage, now, 10);
            continue;
        }
        if (err != SL_STORAGE_OK) {
            fprintf(stderr, "%s: append: %s\n", label, sl_storage_strerror(err));
            exit(1);
        }
        r.bytes += unit_bytes;
        r.records += unit_records;
        r.appends++;
        sl_storage_poll(storage, now);
        if (r.bytes >= next_report) {
            printf("  %s: %.1f GiB appended, %.0f MB/s so far\n", label,
                   (double)r.bytes / (1 << 30), (double)r.bytes / 1e6 / (monotonic_s() - start));
            fflush(stdout);
            next_report += 1ull << 30;
        }
    }
    int64_t leo = sl_log_end_offset(log);
    for (;;) {
        int64_t done = durable ? sl_log_durable_end_offset(log) : sl_log_written_end_offset(log);
        if (done >= leo)
            break;
        sl_storage_wait(storage, realtime_ms(), 10);
        if (sl_log_failure(log) != SL_STORAGE_OK) {
            fprintf(stderr, "%s: write failed: %s\n", label,
                    sl_storage_strerror(sl_log_failure(log)));
            exit(1);
        }
    }
    r.seconds = monotonic_s() - start;
    close_log(log, opt->dir);
    printf("%s: %" PRIu64 " bytes, %" PRIu64 " records in %.2f s: %.0f MB/s, %.0f records/s\n",
           label, r.bytes, r.records, r.seconds, (double)r.bytes / 1e6 / r.seconds,
           (double)r.records / r.seconds);
    fflush(stdout);
    return r;
}

/* flush.messages=1 with one appender: each append of one batch waits until durable. */
static struct run_result run_sync_appends(struct sl_storage *storage, const struct options *opt,
                                          const uint8_t *batch, size_t batch_bytes,
                                          uint64_t batch_records)
{
    struct sl_log_config lc;
    sl_log_config_default(&lc);
    lc.flush_messages = 1;
    struct sl_log *log = open_log(storage, opt->dir, &lc);
    struct run_result r = {0};
    double start = monotonic_s();
    double end = start + opt->sync_seconds;
    while (monotonic_s() < end) {
        struct sl_log_append_result ar;
        int64_t now = realtime_ms();
        enum sl_storage_err err = sl_log_append(log, batch, batch_bytes, NULL, 0, 0, now, &ar);
        if (err == SL_STORAGE_ERR_BUSY || err == SL_STORAGE_ERR_NO_BUFFER) {
            sl_storage_wait(storage, now, 10);
            continue;
        }
        if (err != SL_STORAGE_OK) {
            fprintf(stderr, "sync: append: %s\n", sl_storage_strerror(err));
            exit(1);
        }
        SL_ASSERT(ar.wait_for_durable);
        while (sl_log_durable_end_offset(log) < ar.log_end_offset) {
            sl_storage_wait(storage, realtime_ms(), 100);
            if (sl_log_failure(log) != SL_STORAGE_OK) {
                fprintf(stderr, "sync: write failed\n");
                exit(1);
            }
        }
        r.appends++;
        r.bytes += batch_bytes;
        r.records += batch_records;
    }
    r.seconds = monotonic_s() - start;
    close_log(log, opt->dir);
    printf("flush.messages=1: %" PRIu64 " durable appends of %zu bytes in %.2f s: %.0f/s\n",
           r.appends, batch_bytes, r.seconds, (double)r.appends / r.seconds);
    return r;
}

int main(int argc, char **argv)
{
    struct options opt = {
        .dir = "./bench-data",
        .total_bytes = 4ull << 30,
        .batch_bytes = 65536,
        .sync_seconds = 10,
        .limits_script = "../shared/tools/limits.sh",
    };
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"bytes", required_argument, NULL, 'b'},
        {"batch-bytes", required_argument, NULL, 'B'},
        {"sync-seconds", required_argument, NULL, 's'},
        {"limits", required_argument, NULL, 'l'},
        {"skip-limits", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            opt.dir = optarg;
            break;
        case 'b':
            opt.total_bytes = parse_size(optarg);
            break;
        case 'B':
            opt.batch_bytes = (uint32_t)parse_size(optarg);
            break;
        case 's':
            opt.sync_seconds = (uint32_t)atoi(optarg);
            break;
        case 'l':
            opt.limits_script = optarg;
            break;
        case 'S':
            opt.skip_limits = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (opt.batch_bytes < 4096 || opt.batch_bytes > APPEND_BYTES) {
        fprintf(stderr, "--batch-bytes must be within 4096..%u\n", APPEND_BYTES);
        return 2;
    }
    mkdir(opt.dir, 0755);
    printf("bench_storage_append: dir=%s bytes_per_run=%" PRIu64
           " batch_bytes=%u append_bytes=%u\n",
           opt.dir, opt.total_bytes, opt.batch_bytes, APPEND_BYTES);

    struct limits lim;
    run_limits(&opt, &lim);

    struct sl_storage_config sc;
    sl_storage_config_default(&sc);
    struct sl_storage *storage = NULL;
    enum sl_storage_err err = sl_storage_create(&sc, &storage);
    if (err != SL_STORAGE_OK) {
        fprintf(stderr, "sl_storage_create: %s\n", sl_storage_strerror(err));
        return 1;
    }
    const struct sl_storage_stats *st = sl_storage_get_stats(storage);
    printf("engine: cache=%" PRIu64 " MiB chunk=%u KiB hugepages=%s direct_io=%s\n",
           sc.cache_bytes >> 20, sc.chunk_bytes >> 10, st->hugepage_backed ? "yes" : "no",
           st->direct_io ? "yes" : "no");

    uint8_t *unit = aligned_alloc(4096, APPEND_BYTES);
    SL_ASSERT(unit != NULL);
    struct sl_log_config lc;
    sl_log_config_default(&lc);

    uint64_t recs_1k, recs_100;
    size_t unit_1k = build_append_unit(unit, opt.batch_bytes, 1024, &recs_1k);
    struct run_result nosync_1k =
        run_bandwidth(storage, &opt, &lc, unit, unit_1k, recs_1k, false, "no-fsync 1KiB records");
    size_t unit_100 = build_append_unit(unit, opt.batch_bytes, 100, &recs_100);
    struct run_result nosync_100 =
        run_bandwidth(storage, &opt, &lc, unit, unit_100, recs_100, false, "no-fsync 100B records");
    unit_1k = build_append_unit(unit, opt.batch_bytes, 1024, &recs_1k);
    struct sl_log_config group = lc;
    group.flush_ms = 5;
    struct run_result group_1k = run_bandwidth(storage, &opt, &group, unit, unit_1k, recs_1k, true,
                                               "fdatasync every 5 ms, 1KiB records");

    /* One 16 KiB batch per durable append, the same write size as fio's fsync run. */
    uint64_t sync_records = 0;
    size_t sync_batch;
    {
        struct sl_batch_builder b;
        static uint8_t value[1024];
        sl_batch_builder_init(&b, unit, 16384, realtime_ms(), 0, -1, -1, -1);
        while (sl_batch_builder_add(&b, b.base_timestamp_ms, NULL, -1, value, sizeof(value), NULL,
                                    0) == 0)
            sync_records++;
        sync_batch = sl_batch_builder_finish(&b);
    }
    struct run_result sync1 = run_sync_appends(storage, &opt, unit, sync_batch, sync_records);

    free(unit);
    sl_storage_destroy(storage);
    rmdir(opt.dir);

    double mbps_1k = (double)nosync_1k.bytes / 1e6 / nosync_1k.seconds;
    double mbps_100 = (double)nosync_100.bytes / 1e6 / nosync_100.seconds;
    double mbps_group = (double)group_1k.bytes / 1e6 / group_1k.seconds;
    double sync_per_s = (double)sync1.appends / sync1.seconds;
    double fio = lim.fio_write_MBps > 0 ? lim.fio_write_MBps : 0;
    double fio_iops = lim.fio_fsync_iops > 0 ? lim.fio_fsync_iops : 0;
    printf("RESULT bench=storage_append fio_write_MBps=%.0f fio_fsync_iops=%.0f"
           " nosync_1k_MBps=%.0f nosync_1k_records_per_s=%.0f nosync_1k_ratio=%.3f"
           " nosync_100b_MBps=%.0f nosync_100b_records_per_s=%.0f nosync_100b_ratio=%.3f"
           " group5ms_1k_MBps=%.0f group5ms_1k_ratio=%.3f"
           " flush1_appends_per_s=%.0f flush1_ratio=%.3f\n",
           fio, fio_iops, mbps_1k, (double)nosync_1k.records / nosync_1k.seconds,
           fio > 0 ? mbps_1k / fio : 0, mbps_100, (double)nosync_100.records / nosync_100.seconds,
           fio > 0 ? mbps_100 / fio : 0, mbps_group, fio > 0 ? mbps_group / fio : 0, sync_per_s,
           fio_iops > 0 ? sync_per_s / fio_iops : 0);
    return 0;
}
