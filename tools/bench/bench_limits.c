/* Pieces every broker benchmark shares: the physical limits from limits.sh, sizes on the
 * command line. */
#include "tools/bench/bench_limits.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/sl_assert.h"

int sl_bench_parse_size(const char *text, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || text[0] == '-') {
        return -1;
    }
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    case 't':
    case 'T':
        shift = 40;
        break;
    default:
        return -1;
    }
    if (*end != '\0' && end[1] != '\0' && !((end[1] == 'B' || end[1] == 'b') && end[2] == '\0')) {
        return -1;
    }
    if (value == 0 || value > (UINT64_MAX >> shift)) {
        return -1;
    }
    *out = (uint64_t)value << shift;
    return 0;
}

double sl_bench_result_field(const char *line, const char *key)
{
    size_t key_length = strlen(key);
    for (const char *p = strstr(line, key); p != NULL; p = strstr(p + 1, key)) {
        if ((p == line || p[-1] == ' ') && p[key_length] == '=') {
            char *end = NULL;
            double value = strtod(p + key_length + 1, &end);
            return end == p + key_length + 1 ? -1 : value;
        }
    }
    return -1;
}

void sl_bench_sync_fs(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "bench: warning: open %s to sync its file system: %s\n", path,
                strerror(errno));
        return;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (syncfs(fd) != 0) {
        fprintf(stderr, "bench: warning: syncfs %s: %s\n", path, strerror(errno));
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    close(fd);
    double ms =
        (double)(end.tv_sec - start.tv_sec) * 1e3 + (double)(end.tv_nsec - start.tv_nsec) / 1e6;
    if (ms >= 100) {
        printf("  file system of %s settled in %.1f s (syncfs)\n", path, ms / 1e3);
    }
}

int sl_bench_run_limits(const char *limits_path, const char *limits_size, const char *dir,
                        struct sl_bench_limits *limits)
{
    int pipe_fds[2];
    if (access(limits_path, R_OK) != 0) {
        fprintf(stderr, "bench: limits script %s: %s (use --limits or --skip-limits)\n",
                limits_path, strerror(errno));
        return -1;
    }
    if (pipe(pipe_fds) != 0) {
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(pipe_fds[1], STDOUT_FILENO);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        execlp("bash", "bash", limits_path, dir, limits_size, (char *)NULL);
        _exit(127);
    }
    close(pipe_fds[1]);
    FILE *out = fdopen(pipe_fds[0], "r");
    SL_ASSERT(out != NULL);
    char line[1024];
    char result_line[1024] = "";
    while (fgets(line, sizeof(line), out) != NULL) {
        printf("  limits: %s", line);
        if (strncmp(line, "RESULT ", 7) == 0) {
            snprintf(result_line, sizeof(result_line), "%s", line);
        }
    }
    fclose(out);
    int status = 0;
    waitpid(pid, &status, 0);
    /* fio's file was just removed: its discards must not land in the first measurement. */
    sl_bench_sync_fs(dir);
    if (result_line[0] == '\0') {
        fprintf(stderr, "bench: %s printed no RESULT line\n", limits_path);
        return -1;
    }
    /* A complete RESULT line counts even after a non-zero exit: limits.sh's EXIT trap kills the
     * one-shot iperf3 server, which has usually exited already, and that failed kill becomes
     * the script's status. */
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench: warning: %s exited with status %d after its RESULT line\n",
                limits_path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    limits->fio_write_mbps = sl_bench_result_field(result_line, "fio_write_MBps");
    limits->fio_fsync_iops = sl_bench_result_field(result_line, "fio_fsync_iops");
    limits->iperf3_gbps = sl_bench_result_field(result_line, "iperf3_loopback_Gbps");
    if (limits->fio_write_mbps <= 0 || limits->iperf3_gbps <= 0) {
        fprintf(stderr, "bench: %s RESULT line lacks fio_write_MBps or iperf3_loopback_Gbps\n",
                limits_path);
        return -1;
    }
    return 0;
}
