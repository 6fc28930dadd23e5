/* sluiced: the broker process. Loads the configuration, pins itself to controlplane.core,
 * runs the metadata log (the control-plane thread), registers this broker with the active
 * controller (forwarded to whichever voter leads; a broker-only node thereby also joins the quorum
 * as a standby), starts one pinned dataplane shard per CPU of dataplane.cores, heartbeats, and
 * serves the stats socket from this (main) thread until SIGTERM/SIGINT, then stops the shards
 * cleanly (logs flushed and closed).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netdb.h>

#include "controlplane/config.h"
#include "controlplane/metadata_log.h"
#include "dataplane/shard.h"
#include "sluiced/stats_server.h"
#include "sluiced/tail_files.h"

#define SL_SLUICED_SHARDS_MAX 64
/* Say on stderr what registration waits for this often. */
#define SL_SLUICED_WAIT_REPORT_MS 5000

struct shard_thread {
    struct sl_shard *shard;
    pthread_t thread;
    bool started;
    int cpu;
    int nice;
    uint32_t index;
    int rc;
    char err[256];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: sluiced [path/to/server.properties] [--override key=value]...\n"
                 "       sluiced --help | --version\n"
                 "\n"
                 "Runs one sluice broker. Without a properties file the embedded single-node\n"
                 "configuration applies (node 1, broker and controller, PLAINTEXT on\n"
                 "127.0.0.1:9092, data under ./data). Keys: docs/configuration.md.\n"
                 "SIGTERM or SIGINT stops the broker cleanly.\n");
}

static void *shard_main(void *arg)
{
    struct shard_thread *t = arg;
    /* Set by the thread itself: a nice value belongs to one thread (its tid). */
    if (t->nice != 0 && setpriority(PRIO_PROCESS, (id_t)gettid(), t->nice) != 0)
        fprintf(stderr,
                "sluiced: shard %u: cannot apply dataplane.nice=%d (%s); running at nice 0\n",
                t->index, t->nice, strerror(errno));
    t->rc = sl_shard_run(t->shard, t->err, sizeof(t->err));
    if (t->rc != 0)
        fprintf(stderr, "sluiced: %s\n", t->err);
    return NULL;
}

/* The CPUs this process may run on, as a list ("0-1,4"), for messages. */
static void allowed_cpus_text(const cpu_set_t *set, char *out, size_t out_size)
{
    size_t at = 0;
    out[0] = '\0';
    for (int cpu = 0; cpu < CPU_SETSIZE && at + 16 < out_size; cpu++) {
        if (!CPU_ISSET(cpu, set) || (cpu > 0 && CPU_ISSET(cpu - 1, set)))
            continue;
        int last = cpu;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set))
            last++;
        at += (size_t)snprintf(out + at, out_size - at, at > 0 ? ",%d" : "%d", cpu);
        if (last > cpu)
            at += (size_t)snprintf(out + at, out_size - at, "-%d", last);
    }
}

/* controlplane.core: pins this (main) thread, which serves the stats socket, before the
 * control-plane thread is started, so that it inherits the CPU; -1 leaves both where the
 * process may run. A CPU the process may not use stops the start naming the key. */
static int pin_control_plane(int cpu, const cpu_set_t *allowed, char *err, size_t err_size)
{
    if (cpu < 0)
        return 0;
    if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, allowed)) {
        char list[256];
        allowed_cpus_text(allowed, list, sizeof(list));
        snprintf(err, err_size,
                 "config key 'controlplane.core': CPU %d is not one this process may run on "
                 "(allowed: %s); set another, or -1 to leave the control plane unpinned",
                 cpu, list);
        return -1;
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
    if (rc != 0) {
        snprintf(err, err_size, "config key 'controlplane.core': cannot pin to CPU %d: %s", cpu,
                 strerror(rc));
        return -1;
    }
    return 0;
}

/* The first listener that is not a controller listener serves clients. */
static int client_listener(const struct sl_config *cfg, struct sl_config_listener *out,
                           struct sl_config_listener *advertised, char *err, size_t err_size)
{
    struct sl_config_listener ls[SL_CONFIG_LISTENERS_MAX];
    int n = sl_config_parse_listeners("listeners", sl_config_string(cfg, SL_CONFIG_LISTENERS), ls,
                                      SL_CONFIG_LISTENERS_MAX, err, err_size);
    if (n < 0)
        return n;
    const char *ctrl = sl_config_string(cfg, SL_CONFIG_CONTROLLER_LISTENER_NAMES);
    for (int i = 0; i < n; i++) {
        if (ctrl != NULL && strstr(ctrl, ls[i].name) != NULL)
            continue;
        *out = ls[i];
        *advertised = ls[i];
        const char *adv = sl_config_string(cfg, SL_CONFIG_ADVERTISED_LISTENERS);
        if (adv != NULL) {
            struct sl_config_listener as[SL_CONFIG_LISTENERS_MAX];
            int an = sl_config_parse_listeners("advertised.listeners", adv, as,
                                               SL_CONFIG_LISTENERS_MAX, err, err_size);
            for (int k = 0; k < an; k++) {
                if (strcmp(as[k].name, ls[i].name) == 0)
                    *advertised = as[k];
            }
        }
        if (advertised->host[0] == '\0' || strcmp(advertised->host, "0.0.0.0") == 0)
            snprintf(advertised->host, sizeof(advertised->host), "127.0.0.1");
        return 0;
    }
    snprintf(err, err_size, "config key 'listeners' has no client listener (only %s)",
             ctrl ? ctrl : "controller listeners");
    return -EINVAL;
}

static int resolve(const struct sl_config_listener *l, struct sockaddr_storage *ss, socklen_t *len,
                   char *err, size_t err_size)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", l->port);
    int rc = getaddrinfo(l->host[0] ? l->host : NULL, port, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, err_size, "listener %s: cannot resolve '%s': %s", l->name, l->host,
                 gai_strerror(rc));
        return -EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* The incarnation id survives restarts of this broker (kept next to its data), so a
 * restarted broker re-registers as itself instead of waiting for its old session to
 * expire (the controller refuses a second incarnation while the first is alive). */
static int load_incarnation(const char *log_dir, struct sl_md_uuid *out)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/sluiced.incarnation", log_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, out->bytes, 16);
        close(fd);
        if (n == 16)
            return 0;
    }
    if (getrandom(out->bytes, 16, 0) != 16)
        return -errno;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, out->bytes, 16);
    fsync(fd);
    close(fd);
    return n == 16 ? 0 : -EIO;
}

/* True when SIGTERM/SIGINT arrived on the signalfd (consumed). */
static bool stop_signalled(int sfd)
{
    struct pollfd pfd = {sfd, POLLIN, 0};
    if (poll(&pfd, 1, 0) <= 0)
        return false;
    struct signalfd_siginfo si;
    if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
        return false;
    fprintf(stderr, "sluiced: %s: stopping\n", strsignal((int)si.ssi_signo));
    return true;
}

/* Waits until this broker's registration and first heartbeat were accepted by the active
 * controller (the control-plane thread retries them; see sl_md_log_broker_start), saying
 * on stderr every few seconds what it waits for. Returns 0, or -EINTR when a stop signal
 * came first. */
static int wait_unfenced(struct sl_md_log *log, int sfd)
{
    int64_t started = now_ms();
    int64_t next_report = started + SL_SLUICED_WAIT_REPORT_MS;
    bool registered = false;
    while (!sl_md_log_broker_unfenced(log)) {
        if (stop_signalled(sfd))
            return -EINTR;
        if (!registered && sl_md_log_broker_epoch(log) >= 0) {
            registered = true;
            fprintf(stderr, "sluiced: broker registered (epoch %lld) after %lld ms\n",
                    (long long)sl_md_log_broker_epoch(log), (long long)(now_ms() - started));
        }
        if (now_ms() >= next_report) {
            fprintf(stderr,
                    "sluiced: broker %s: waiting for the active controller for %lld ms "
                    "(last answer: error %d)\n",
                    sl_md_log_broker_epoch(log) < 0 ? "registration" : "first heartbeat",
                    (long long)(now_ms() - started), sl_md_log_broker_last_error(log));
            next_report = now_ms() + SL_SLUICED_WAIT_REPORT_MS;
        }
        sleep_ms(5);
    }
    fprintf(stderr, "sluiced: broker unfenced after %lld ms\n", (long long)(now_ms() - started));
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("sluiced %s\n", SLUICE_VERSION);
            return 0;
        }
    }
    int64_t process_started_ms = now_ms();
    static struct sl_config cfg;
    char err[1024];
    if (sl_config_load_args(&cfg, argc, (const char *const *)argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "sluiced: %s\n", err);
        return 2;
    }
    int32_t node_id = (int32_t)sl_config_int(&cfg, SL_CONFIG_NODE_ID);
    struct sl_config_listener listener, advertised;
    if (client_listener(&cfg, &listener, &advertised, err, sizeof(err)) != 0) {
        fprintf(stderr, "sluiced: %s\n", err);
        return 2;
    }
    struct sockaddr_storage addr;
    socklen_t addr_len;
    if (resolve(&listener, &addr, &addr_len, err, sizeof(err)) != 0) {
        fprintf(stderr, "sluiced: %s\n", err);
        return 2;
    }
    uint64_t cpu_mask = 0;
    if (sl_config_parse_cpu_list(sl_config_string(&cfg, SL_CONFIG_DATAPLANE_CORES), &cpu_mask, err,
                                 sizeof(err)) != 0) {
        fprintf(stderr, "sluiced: %s\n", err);
        return 2;
    }
    const char *driver = sl_config_string(&cfg, SL_CONFIG_DATAPLANE_DRIVER);
    if (driver != NULL && strcmp(driver, "uring") != 0) {
        /* dpdk is a valid value (the DPDK driver is planned) but not built: refusing beats
         * running the kernel driver under a configuration that says otherwise. */
        fprintf(stderr,
                "sluiced: config key 'dataplane.driver': '%s' is not built into this sluiced; "
                "the io_uring driver ('uring', the default) is\n",
                driver);
        return 2;
    }
    /* The CPUs the process was started with (taskset, cpuset), before any pinning. */
    static cpu_set_t process_cpus;
    CPU_ZERO(&process_cpus);
    if (sched_getaffinity(0, sizeof(process_cpus), &process_cpus) != 0) {
        fprintf(stderr, "sluiced: cannot read the process's CPU mask: %s\n", strerror(errno));
        return 1;
    }
    int control_cpu = (int)sl_config_int(&cfg, SL_CONFIG_CONTROLPLANE_CORE);
    if (pin_control_plane(control_cpu, &process_cpus, err, sizeof(err)) != 0) {
        fprintf(stderr, "sluiced: %s\n", err);
        return 2;
    }
    uint32_t shard_count = (uint32_t)__builtin_popcountll(cpu_mask);
    if (shard_count == 0 || shard_count > SL_SLUICED_SHARDS_MAX) {
        fprintf(stderr, "sluiced: config key 'dataplane.cores' must list 1 to %d CPUs\n",
                SL_SLUICED_SHARDS_MAX);
        return 2;
    }
    char log_dir[4096];
    snprintf(log_dir, sizeof(log_dir), "%s", sl_config_string(&cfg, SL_CONFIG_LOG_DIRS));
    char *comma = strchr(log_dir, ',');
    if (comma != NULL)
        *comma = '\0';
    const char *tail_dir = sl_config_string(&cfg, SL_CONFIG_STORAGE_TAIL_DIR);
    bool tail_shared = sl_config_bool(&cfg, SL_CONFIG_STORAGE_TAIL_SHARED_MEMORY);
    if (tail_shared && access(tail_dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "sluiced: config key 'storage.tail.dir': %s: %s\n", tail_dir,
                strerror(errno));
        return 2;
    }
    if (mkdir_p(log_dir) != 0) {
        fprintf(stderr, "sluiced: log.dirs '%s': %s\n", log_dir, strerror(errno));
        return 1;
    }
    /* A broker killed with storage.tail.shared.memory left appended bytes in its tail
     * files: they go to the segment files before any log is opened (and whether or not the
     * key is still on, so nothing acknowledged is dropped by turning it off). The prefix is
     * short enough for the shard number in sl_storage_config.tail_file (1024 bytes). */
    char tail_prefix[1000];
    int tail_rc = sl_tail_files_prefix(tail_dir, log_dir, tail_prefix, sizeof(tail_prefix));
    if (tail_rc != 0) {
        fprintf(stderr, "sluiced: config key 'storage.tail.dir': %s: %s\n", tail_dir,
                strerror(-tail_rc));
        return 2;
    }
    if (access(tail_dir, F_OK) == 0 && sl_tail_files_replay(tail_prefix) != 0)
        return 1;
    if (tail_shared)
        fprintf(stderr, "sluiced: tail buffers in shared memory: %s<shard>\n", tail_prefix);

    /* Signals go to the signalfd of this thread only; every thread started below
     * inherits the blocked mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    sigdelset(&sigs, SIGPIPE);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);

    struct sl_md_log_options mdo;
    if (sl_md_log_options_from_config(&cfg, shard_count + 1, &mdo, err, sizeof(err)) != 0) {
        fprintf(stderr, "sluiced: %s\n", err);
        return 2;
    }
    struct sl_md_log *md = NULL;
    if (sl_md_log_open(&mdo, &md, err, sizeof(err)) != 0) {
        fprintf(stderr, "sluiced: metadata log: %s\n", err);
        return 1;
    }
    fprintf(stderr, "sluiced: metadata log opened after %lld ms\n",
            (long long)(now_ms() - process_started_ms));
    if (sl_md_log_start(md) != 0) {
        fprintf(stderr, "sluiced: cannot start the control-plane thread\n");
        sl_md_log_close(md);
        return 1;
    }
    int exit_code = 1;
    struct shard_thread threads[SL_SLUICED_SHARDS_MAX];
    struct sl_shard *shards[SL_SLUICED_SHARDS_MAX];
    memset(threads, 0, sizeof(threads));
    struct sl_stats_server stats = {.fd = -1};
    uint32_t md_reader = shard_count; /* the main thread's publisher slot */
    static struct sl_md_request reg;

    /* Every broker registers with the active controller, wherever it runs: the metadata
     * log forwards the request over the CONTROLLER listener of the raft leader. */
    memset(&reg, 0, sizeof(reg));
    reg.type = SL_MD_REQUEST_REGISTER_BROKER;
    reg.register_broker.broker_id = node_id;
    if (load_incarnation(log_dir, &reg.register_broker.incarnation_id) != 0) {
        fprintf(stderr, "sluiced: cannot keep the incarnation id in %s\n", log_dir);
        goto stop_md;
    }
    reg.register_broker.listener_count = 1;
    snprintf(reg.register_broker.listeners[0].name, SL_MD_LISTENER_NAME_BYTES_MAX, "%s",
             advertised.name);
    snprintf(reg.register_broker.listeners[0].host, SL_MD_HOST_BYTES_MAX, "%s", advertised.host);
    reg.register_broker.listeners[0].port = advertised.port;
    const char *rack = sl_config_string(&cfg, SL_CONFIG_BROKER_RACK);
    if (rack != NULL)
        snprintf(reg.register_broker.rack, sizeof(reg.register_broker.rack), "%s", rack);
    /* A broker-only node asks to be made a standby too, so the log reaches it. */
    if (!mdo.voter)
        snprintf(reg.register_standby_address, sizeof(reg.register_standby_address), "%s",
                 mdo.address);
    /* The control-plane thread registers and heartbeats from now on (retrying through an
     * election or the session of a previous run of this id); the first accepted heartbeat
     * unfences the broker. */
    if (sl_md_log_broker_start(
            md, &reg, (uint32_t)sl_config_int(&cfg, SL_CONFIG_BROKER_HEARTBEAT_INTERVAL_MS)) != 0) {
        fprintf(stderr, "sluiced: cannot start the broker lifecycle\n");
        goto stop_md;
    }
    if (wait_unfenced(md, sfd) != 0) {
        exit_code = 0; /* stopped by a signal while waiting */
        goto stop_md;
    }

    for (uint32_t i = 0; i < shard_count; i++) {
        struct sl_shard_options so;
        memset(&so, 0, sizeof(so));
        sl_shard_options_default(&so, &cfg);
        so.shard_id = i;
        so.shard_count = shard_count;
        so.node_id = node_id;
        so.listen_addr = addr;
        so.listen_addr_len = addr_len;
        so.config = &cfg;
        so.md_log = md;
        so.md_reader_slot = i;
        snprintf(so.log_dir, sizeof(so.log_dir), "%s", log_dir);
        /* storage.cache.bytes is the broker's total: each shard's engine gets its share. */
        so.storage.cache_bytes /= shard_count;
        if (tail_shared)
            snprintf(so.storage.tail_file, sizeof(so.storage.tail_file), "%s%u", tail_prefix, i);
        if (sl_shard_create(&so, &shards[i]) != 0) {
            fprintf(stderr, "sluiced: cannot create shard %u\n", i);
            goto stop_shards;
        }
        threads[i].shard = shards[i];
    }
    static atomic_uint drained;
    atomic_init(&drained, 0);
    sl_shard_set_peers(shards, shard_count, &drained);
    uint32_t k = 0;
    for (int cpu = 0; cpu < 64 && k < shard_count; cpu++) {
        if ((cpu_mask >> cpu) & 1)
            threads[k++].cpu = cpu;
    }
    for (uint32_t i = 0; i < shard_count; i++) {
        threads[i].nice = (int)sl_config_int(&cfg, SL_CONFIG_DATAPLANE_NICE);
        threads[i].index = i;
    }
    for (uint32_t i = 0; i < shard_count; i++) {
        /* Started on its CPU (not inheriting controlplane.core for a moment): its io_uring
         * worker threads take the CPU mask it has when they are created. */
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(threads[i].cpu, &set);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        bool pinned = pthread_attr_setaffinity_np(&attr, sizeof(set), &set) == 0 &&
                      pthread_create(&threads[i].thread, &attr, shard_main, &threads[i]) == 0;
        pthread_attr_destroy(&attr);
        if (!pinned) {
            /* The CPU is not ours (e.g. a narrower cpuset): run on the CPUs the process was
             * started with (not the control plane's one), but say so. */
            fprintf(stderr, "sluiced: shard %u: cannot pin to CPU %d; running unpinned\n", i,
                    threads[i].cpu);
            pthread_attr_init(&attr);
            pthread_attr_setaffinity_np(&attr, sizeof(process_cpus), &process_cpus);
            int rc = pthread_create(&threads[i].thread, &attr, shard_main, &threads[i]);
            pthread_attr_destroy(&attr);
            if (rc != 0) {
                fprintf(stderr, "sluiced: cannot start shard %u\n", i);
                goto stop_shards;
            }
        }
        threads[i].started = true;
        char name[16];
        snprintf(name, sizeof(name), "sluice-shard%u", i);
        pthread_setname_np(threads[i].thread, name);
    }
    for (uint32_t i = 0; i < shard_count; i++) {
        while (!sl_shard_is_ready(shards[i])) {
            if (__atomic_load_n(&threads[i].rc, __ATOMIC_ACQUIRE) != 0)
                goto stop_shards;
            sleep_ms(5);
        }
    }
    const char *stats_path = sl_config_string(&cfg, SL_CONFIG_STATS_SOCKET);
    if (stats_path != NULL && sl_stats_server_open(&stats, stats_path, shards, shard_count, node_id,
                                                   md, err, sizeof(err)) != 0)
        fprintf(stderr, "sluiced: %s (continuing without stats)\n", err);

    fprintf(stderr,
            "sluiced: node %d listening on %s://%s:%u (advertised %s:%u) %lld ms after start\n",
            node_id, listener.name, listener.host, sl_shard_port(shards[0]), advertised.host,
            advertised.port, (long long)(now_ms() - process_started_ms));
    fprintf(stderr, "sluiced: data dir %s\n", log_dir);
    fprintf(stderr, "sluiced: %u dataplane shard(s) on CPU list %s, nice %d\n", shard_count,
            sl_config_string(&cfg, SL_CONFIG_DATAPLANE_CORES),
            (int)sl_config_int(&cfg, SL_CONFIG_DATAPLANE_NICE));
    if (control_cpu >= 0)
        fprintf(stderr, "sluiced: control plane on CPU %d\n", control_cpu);
    else
        fprintf(stderr, "sluiced: control plane unpinned\n");
    fprintf(stderr, "sluiced: hugepages %s\n", sl_shard_hugepages(shards[0]) ? "yes" : "no");
    if (stats.fd >= 0)
        fprintf(stderr, "sluiced: stats socket %s\n", stats.path);

    exit_code = 0;
    for (;;) {
        struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {stats.fd, POLLIN, 0}};
        int n = poll(pfd, stats.fd >= 0 ? 2 : 1, 100);
        if (n > 0 && (pfd[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                fprintf(stderr, "sluiced: %s: stopping\n", strsignal((int)si.ssi_signo));
                break;
            }
        }
        if (n > 0 && stats.fd >= 0 && (pfd[1].revents & POLLIN))
            sl_stats_server_serve_one(&stats);
        bool dead = false;
        for (uint32_t i = 0; i < shard_count; i++)
            dead |= __atomic_load_n(&threads[i].rc, __ATOMIC_ACQUIRE) != 0;
        if (dead || sl_md_log_error(md) != NULL) {
            fprintf(stderr, "sluiced: %s: stopping\n",
                    dead ? "a shard failed" : sl_md_log_error(md));
            exit_code = 1;
            break;
        }
        for (uint32_t i = 0; i < shard_count; i++) {
            char path[4096];
            while (sl_shard_take_deleted_dir(shards[i], path, sizeof(path)))
                nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        }
    }

stop_shards:
    for (uint32_t i = 0; i < shard_count; i++) {
        if (threads[i].started)
            sl_shard_request_stop(shards[i]);
    }
    for (uint32_t i = 0; i < shard_count; i++) {
        if (threads[i].started)
            pthread_join(threads[i].thread, NULL);
        if (threads[i].shard != NULL) {
            char path[4096];
            while (sl_shard_take_deleted_dir(shards[i], path, sizeof(path)))
                nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            sl_shard_destroy(shards[i]);
        }
    }
    sl_stats_server_close(&stats);
stop_md:
    (void)md_reader;
    sl_md_log_stop(md);
    sl_md_log_close(md);
    sl_config_free(&cfg);
    fprintf(stderr, "sluiced: stopped\n");
    return exit_code;
}
