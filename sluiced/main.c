/* sluiced: the broker process. Loads the configuration, runs the metadata log (the
 * control-plane thread), registers this broker with the active controller (forwarded to
 * whichever voter leads; a broker-only node thereby also joins the quorum as a standby),
 * starts one pinned dataplane shard per CPU of dataplane.cores, heartbeats, and serves
 * the stats socket from this (main) thread until SIGTERM/SIGINT, then stops the shards
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

#define SL_SLUICED_SHARDS_MAX 64
/* Pause between two registration attempts the controller refused or could not answer. */
#define SL_SLUICED_REGISTER_RETRY_MS 200
/* Say on stderr what registration waits for this often. */
#define SL_SLUICED_WAIT_REPORT_MS 5000

struct shard_thread {
    struct sl_shard *shard;
    pthread_t thread;
    bool started;
    int cpu;
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
    t->rc = sl_shard_run(t->shard, t->err, sizeof(t->err));
    if (t->rc != 0)
        fprintf(stderr, "sluiced: %s\n", t->err);
    return NULL;
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

/* Submits `req` (a copy of `template`) until the controller accepts it, wherever it runs
 * (the metadata log forwards it), pausing between attempts and reporting what it waits
 * for. Returns 0, or -EINTR when a stop signal came first (the request is then answered
 * by sl_md_log_stop). */
static int md_request_until_accepted(struct sl_md_log *log, struct sl_md_request *req,
                                     const struct sl_md_request *template, const char *what,
                                     int sfd)
{
    int64_t started = now_ms();
    int64_t next_report = started + SL_SLUICED_WAIT_REPORT_MS;
    for (;;) {
        *req = *template;
        if (sl_md_log_submit(log, req) == 0) {
            while (!sl_md_request_is_done(req)) {
                if (stop_signalled(sfd))
                    return -EINTR;
                sleep_ms(2);
            }
            if (req->error_code == 0)
                return 0;
        }
        if (now_ms() >= next_report) {
            fprintf(stderr, "sluiced: %s: waiting for the active controller for %lld ms (%d %s)\n",
                    what, (long long)(now_ms() - started), req->error_code, req->error_message);
            next_report = now_ms() + SL_SLUICED_WAIT_REPORT_MS;
        }
        for (int waited = 0; waited < SL_SLUICED_REGISTER_RETRY_MS; waited += 10) {
            if (stop_signalled(sfd))
                return -EINTR;
            sleep_ms(10);
        }
    }
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
    if (mkdir_p(log_dir) != 0) {
        fprintf(stderr, "sluiced: log.dirs '%s': %s\n", log_dir, strerror(errno));
        return 1;
    }

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
    static struct sl_md_request reg, hb;
    int64_t broker_epoch = -1;
    bool hb_pending = false;
    bool reg_pending = false;

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
    /* Registration may meet the session of our previous run (a crash) or an election:
     * retry until accepted. */
    static struct sl_md_request reg_template, hb_template;
    reg_template = reg;
    if (md_request_until_accepted(md, &reg, &reg_template, "broker registration", sfd) != 0) {
        exit_code = 0; /* stopped by a signal while waiting */
        goto stop_md;
    }
    broker_epoch = reg.broker_epoch;
    memset(&hb_template, 0, sizeof(hb_template));
    hb_template.type = SL_MD_REQUEST_HEARTBEAT;
    hb_template.heartbeat.broker_id = node_id;
    hb_template.heartbeat.broker_epoch = broker_epoch;
    if (md_request_until_accepted(md, &hb, &hb_template, "first heartbeat", sfd) != 0) {
        exit_code = 0;
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
        if (pthread_create(&threads[i].thread, NULL, shard_main, &threads[i]) != 0) {
            fprintf(stderr, "sluiced: cannot start shard %u\n", i);
            goto stop_shards;
        }
        threads[i].started = true;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(threads[i].cpu, &set);
        if (pthread_setaffinity_np(threads[i].thread, sizeof(set), &set) != 0)
            fprintf(stderr, "sluiced: shard %u: cannot pin to CPU %d; running unpinned\n", i,
                    threads[i].cpu);
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
                                                   err, sizeof(err)) != 0)
        fprintf(stderr, "sluiced: %s (continuing without stats)\n", err);

    fprintf(stderr, "sluiced: node %d listening on %s://%s:%u (advertised %s:%u)\n", node_id,
            listener.name, listener.host, sl_shard_port(shards[0]), advertised.host,
            advertised.port);
    fprintf(stderr, "sluiced: data dir %s\n", log_dir);
    fprintf(stderr, "sluiced: %u dataplane shard(s) on CPU list %s\n", shard_count,
            sl_config_string(&cfg, SL_CONFIG_DATAPLANE_CORES));
    fprintf(stderr, "sluiced: hugepages %s\n", sl_shard_hugepages(shards[0]) ? "yes" : "no");
    if (stats.fd >= 0)
        fprintf(stderr, "sluiced: stats socket %s\n", stats.path);

    int64_t hb_interval = sl_config_int(&cfg, SL_CONFIG_BROKER_HEARTBEAT_INTERVAL_MS);
    int64_t next_hb = now_ms() + hb_interval;
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
        if (hb_pending && sl_md_request_is_done(&hb)) {
            hb_pending = false;
            /* The registration is gone (unregistered, or replaced while this broker was
             * cut off): register again, then heartbeat with the new epoch. */
            if (hb.error_code == SL_KAFKA_BROKER_ID_NOT_REGISTERED ||
                hb.error_code == SL_KAFKA_STALE_BROKER_EPOCH) {
                fprintf(stderr, "sluiced: heartbeat refused (%d %s): registering again\n",
                        hb.error_code, hb.error_message);
                reg = reg_template;
                reg_pending = sl_md_log_submit(md, &reg) == 0;
            }
        }
        if (reg_pending && sl_md_request_is_done(&reg)) {
            reg_pending = false;
            if (reg.error_code == 0) {
                broker_epoch = reg.broker_epoch;
                hb_template.heartbeat.broker_epoch = broker_epoch;
                next_hb = now_ms();
            } else {
                reg = reg_template; /* try again with the next heartbeat round */
                reg_pending = sl_md_log_submit(md, &reg) == 0;
            }
        }
        if (!hb_pending && !reg_pending && now_ms() >= next_hb) {
            hb = hb_template;
            hb_pending = sl_md_log_submit(md, &hb) == 0;
            next_hb = now_ms() + hb_interval;
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
    /* Stopping the log answers whatever is still pending (hb, reg), so their memory is
     * free to go with the process. */
    (void)md_reader;
    sl_md_log_stop(md);
    sl_md_log_close(md);
    sl_config_free(&cfg);
    fprintf(stderr, "sluiced: stopped\n");
    return exit_code;
}
