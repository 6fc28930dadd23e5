/* Pieces every broker benchmark shares: running ../shared/tools/limits.sh (fio O_DIRECT
 * write bandwidth, fsync IOPS, iperf3 loopback) in the same run, reading key=value figures
 * out of RESULT lines, and parsing sizes given on the command line. Main thread only. */
#ifndef SL_BENCH_LIMITS_H
#define SL_BENCH_LIMITS_H

#include <stdint.h>

/* The physical limits from limits.sh; negative when not measured. */
struct sl_bench_limits {
    double fio_write_mbps;
    double fio_fsync_iops;
    double iperf3_gbps;
};

/* Parses a size with an optional K, M, G or T (binary) suffix; returns 0 or -1. */
int sl_bench_parse_size(const char *text, uint64_t *out);

/* Reads a "key=value" number out of a RESULT line; returns -1 when absent. */
double sl_bench_result_field(const char *line, const char *key);

/* Runs `bash limits_path dir limits_size`, echoing its output prefixed "  limits: ";
 * returns 0 and fills *limits from its RESULT line (a complete RESULT line counts even
 * after a non-zero exit, with a warning), or -1 with the reason on stderr. */
int sl_bench_run_limits(const char *limits_path, const char *limits_size, const char *dir,
                        struct sl_bench_limits *limits);

/* syncfs on the file system holding path, so that work the kernel still owes it (the
 * discards of files just removed, on a file system mounted with `discard`) is done before
 * the next measurement starts. Prints how long it took when that was noticeable. */
void sl_bench_sync_fs(const char *path);

#endif
