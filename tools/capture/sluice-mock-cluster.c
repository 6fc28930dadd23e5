/*
 * sluice-mock-cluster: run librdkafka's in-process mock Kafka cluster on loopback so that real
 * clients (kcat, kafka-python, kafkajs) can be captured talking to a known-good peer. The
 * captured bytes become sluice's golden frames (see docs/test-data.md).
 *
 * Prints the bootstrap servers (one line) on stdout once the listeners are up, then runs until
 * SIGTERM or SIGINT.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common/sl_assert.h"

/* Bounds keep a typo on the command line from creating thousands of listeners. */
#define SL_MOCK_BROKERS_MAX    16
#define SL_MOCK_TOPICS_MAX     32
#define SL_MOCK_PARTITIONS_MAX 256
/* Kafka's own limit on topic name length. */
#define SL_MOCK_TOPIC_NAME_MAX 249

struct sl_mock_topic_spec {
    char name[SL_MOCK_TOPIC_NAME_MAX + 1];
    int partition_count;
};

struct sl_mock_options {
    int broker_count;
    int topic_count;
    struct sl_mock_topic_spec topics[SL_MOCK_TOPICS_MAX];
};

static volatile sig_atomic_t sl_mock_stop_requested;

static void sl_mock_on_signal(int signo)
{
    (void)signo;
    sl_mock_stop_requested = 1;
}

static void sl_mock_usage(FILE *out)
{
    fprintf(out,
            "usage: sluice-mock-cluster [--brokers N] [--topic NAME:PARTITIONS]... [--help]\n"
            "\n"
            "Starts librdkafka's mock Kafka cluster with N brokers (default 1, max %d) on\n"
            "127.0.0.1, prints the bootstrap servers as one line on stdout, and runs until\n"
            "SIGTERM or SIGINT. --topic pre-creates a topic (replication factor 1);\n"
            "it may be given up to %d times.\n",
            SL_MOCK_BROKERS_MAX, SL_MOCK_TOPICS_MAX);
}

/* Parses a decimal int in [min, max]; returns 0 on success, -1 on bad input. */
static int sl_mock_parse_int(const char *text, int min, int max, int *out)
{
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
        return -1;
    }
    *out = (int)value;
    return 0;
}

/* Parses "name:partitions" without modifying arg; returns 0 on success, -1 on bad input. */
static int sl_mock_parse_topic(const char *arg, struct sl_mock_topic_spec *spec)
{
    const char *colon = strrchr(arg, ':');
    if (colon == NULL || colon == arg) {
        return -1;
    }
    size_t name_length = (size_t)(colon - arg);
    if (name_length > SL_MOCK_TOPIC_NAME_MAX) {
        return -1;
    }
    memcpy(spec->name, arg, name_length);
    spec->name[name_length] = '\0';
    return sl_mock_parse_int(colon + 1, 1, SL_MOCK_PARTITIONS_MAX, &spec->partition_count);
}

/* Returns 0 to run, 1 to exit successfully (--help), 2 on a usage error. */
static int sl_mock_parse_args(int argc, char **argv, struct sl_mock_options *options)
{
    static const struct option long_options[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    options->broker_count = 1;
    options->topic_count = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "b:t:h", long_options, NULL)) != -1) {
        switch (opt) {
        case 'b':
            if (sl_mock_parse_int(optarg, 1, SL_MOCK_BROKERS_MAX, &options->broker_count) != 0) {
                fprintf(stderr, "sluice-mock-cluster: bad --brokers '%s'\n", optarg);
                return 2;
            }
            break;
        case 't':
            if (options->topic_count == SL_MOCK_TOPICS_MAX) {
                fprintf(stderr, "sluice-mock-cluster: more than %d topics\n", SL_MOCK_TOPICS_MAX);
                return 2;
            }
            if (sl_mock_parse_topic(optarg, &options->topics[options->topic_count]) != 0) {
                fprintf(stderr, "sluice-mock-cluster: bad --topic '%s' (want NAME:PARTITIONS)\n",
                        optarg);
                return 2;
            }
            options->topic_count++;
            break;
        case 'h':
            sl_mock_usage(stdout);
            return 1;
        default:
            sl_mock_usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        sl_mock_usage(stderr);
        return 2;
    }
    return 0;
}

static int sl_mock_install_signal_handlers(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = sl_mock_on_signal;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGTERM, &action, NULL) != 0 || sigaction(SIGINT, &action, NULL) != 0) {
        perror("sluice-mock-cluster: sigaction");
        return -1;
    }
    return 0;
}

/* The mock cluster needs an rd_kafka_t for its bookkeeping; a default producer is enough. */
static rd_kafka_t *sl_mock_new_handle(void)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Keep librdkafka's own logs off stdout, which carries only the bootstrap line. */
    if (rd_kafka_conf_set(conf, "log.queue", "false", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "sluice-mock-cluster: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "sluice-mock-cluster: rd_kafka_new: %s\n", errstr);
        /* On failure rd_kafka_new leaves conf owned by the caller. */
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static int sl_mock_create_topics(rd_kafka_mock_cluster_t *cluster,
                                 const struct sl_mock_options *options)
{
    for (int i = 0; i < options->topic_count; i++) {
        const struct sl_mock_topic_spec *spec = &options->topics[i];
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(cluster, spec->name, spec->partition_count, 1);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "sluice-mock-cluster: topic %s: %s\n", spec->name,
                    rd_kafka_err2str(err));
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sl_mock_options options;
    int parse_result = sl_mock_parse_args(argc, argv, &options);
    if (parse_result != 0) {
        return parse_result == 1 ? EXIT_SUCCESS : 2;
    }
    if (sl_mock_install_signal_handlers() != 0) {
        return EXIT_FAILURE;
    }
    rd_kafka_t *rk = sl_mock_new_handle();
    if (rk == NULL) {
        return EXIT_FAILURE;
    }
    int exit_code = EXIT_FAILURE;
    rd_kafka_mock_cluster_t *cluster = rd_kafka_mock_cluster_new(rk, options.broker_count);
    if (cluster == NULL) {
        fprintf(stderr, "sluice-mock-cluster: rd_kafka_mock_cluster_new failed\n");
        goto out_handle;
    }
    if (sl_mock_create_topics(cluster, &options) != 0) {
        goto out_cluster;
    }
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(cluster);
    SL_ASSERT(bootstraps != NULL);
    printf("%s\n", bootstraps);
    fflush(stdout);

    /* The cluster runs on librdkafka's own thread; this one only waits for a stop signal.
     * sleep() returns early when a signal arrives, so shutdown is prompt. */
    while (!sl_mock_stop_requested) {
        sleep(1);
    }
    exit_code = EXIT_SUCCESS;
out_cluster:
    rd_kafka_mock_cluster_destroy(cluster);
out_handle:
    rd_kafka_destroy(rk);
    return exit_code;
}
