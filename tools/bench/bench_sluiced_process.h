/*
 * Starts and stops a `sluiced` broker for a benchmark: a generated single-node
 * server.properties (broker and controller in one process) on free loopback ports, its data
 * under a directory the caller owns, its output in <dir>/sluiced.log.
 *
 * Called from the benchmark's main thread only.
 */
#ifndef SL_BENCH_SLUICED_PROCESS_H
#define SL_BENCH_SLUICED_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#define SL_BENCH_SLUICED_PATH_MAX      4096
#define SL_BENCH_SLUICED_OVERRIDES_MAX 32

struct sl_bench_sluiced {
    pid_t pid;
    int broker_port;
    int controller_port;
    char bootstrap[64];
    char log_path[SL_BENCH_SLUICED_PATH_MAX];
};

/* Picks two free loopback ports, writes <dir>/server.properties (log.dirs=<dir>/data), starts
 * `binary_path <dir>/server.properties [--override k=v]...` and waits up to startup_timeout_ms
 * for the broker port to accept connections. overrides (override_count entries, "key=value")
 * stay owned by the caller. On success fills *sluiced and returns 0; on failure prints why
 * (with the tail of the broker's log) to stderr, leaves no process behind and returns -1. */
int sl_bench_sluiced_start(struct sl_bench_sluiced *sluiced, const char *binary_path,
                           const char *dir, const char *const *overrides, int override_count,
                           int startup_timeout_ms);

/* Returns true while the broker process has not exited (reaps it if it has). */
bool sl_bench_sluiced_alive(struct sl_bench_sluiced *sluiced);

/* Sends SIGTERM and waits up to timeout_ms, then SIGKILL. Returns 0 if the broker exited on
 * SIGTERM with status 0, 1 if it exited otherwise or had to be killed (a warning is printed),
 * and does nothing (returns 0) if it was never started or is already reaped. */
int sl_bench_sluiced_stop(struct sl_bench_sluiced *sluiced, int timeout_ms);

/* Returns a free TCP port on 127.0.0.1 (bound once and released), or -1 on error. */
int sl_bench_free_loopback_port(void);

/* Removes dir and everything under it (no symlinks followed), then syncs the file system
 * (sl_bench_sync_fs). Returns 0 or -1. */
int sl_bench_remove_tree(const char *dir);

#endif
