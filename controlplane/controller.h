/* Controller logic: pure functions of (metadata image, request) -> records to propose.
 *
 * Every operation works on a struct sl_controller_batch: a draft image that starts as the
 * current image, plus the records produced so far. Each record is applied to the draft as
 * it is produced, so later requests in the same batch see earlier ones (two CreateTopics
 * of the same name in one batch conflict) and a record the image would refuse is never
 * proposed. The active controller proposes batch->records as one metadata log entry.
 *
 * Functions return a Kafka error code (kafka_error_codes.h; 0 = success) and, on error,
 * leave the batch exactly as it was. Broker liveness (heartbeat times) is controller
 * memory, not metadata: it lives in struct sl_controller_liveness.
 *
 * Threads: the control-plane thread only (the batch owns a draft image).
 */
#ifndef SL_CONTROLLER_H
#define SL_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controlplane/config.h"
#include "controlplane/kafka_error_codes.h"
#include "controlplane/metadata_image.h"

/* Bound on records per proposal (one raft entry). */
#define SL_CONTROLLER_BATCH_RECORDS_MAX 65536
#define SL_CONTROLLER_TOPIC_CONFIGS_MAX 64
#define SL_CONTROLLER_PARTITIONS_MAX    65000

struct sl_controller_settings {
    int32_t default_partitions;         /* num.partitions */
    int32_t default_replication_factor; /* default.replication.factor */
    bool unclean_leader_election;       /* unclean.leader.election.enable */
    bool delete_topic_enable;           /* delete.topic.enable */
    int64_t broker_session_timeout_ms;  /* broker.session.timeout.ms */
};

/* Reads the controller settings from a validated broker configuration. */
void sl_controller_settings_from_config(const struct sl_config *cfg,
                                        struct sl_controller_settings *out);

struct sl_controller_batch {
    struct sl_md_image *draft;    /* owned; base + records */
    struct sl_md_record *records; /* owned */
    size_t count;
    size_t capacity;
};

/* Starts a batch on `base` (not changed). Returns 0 or -ENOMEM. */
int sl_controller_batch_init(struct sl_controller_batch *batch, const struct sl_md_image *base);
/* Frees the draft and the records. */
void sl_controller_batch_free(struct sl_controller_batch *batch);

/* Heartbeat times of registered brokers, kept by the active controller only. Bounded
 * by `capacity` brokers. */
struct sl_controller_session {
    int32_t broker_id;
    int64_t last_heartbeat_ms;
};
struct sl_controller_liveness {
    uint32_t count;
    uint32_t capacity;
    struct sl_controller_session *sessions;
};
int sl_controller_liveness_init(struct sl_controller_liveness *l, uint32_t capacity);
void sl_controller_liveness_free(struct sl_controller_liveness *l);
/* A new active controller gives every registered broker a full session from `now_ms`. */
void sl_controller_liveness_reset(struct sl_controller_liveness *l, const struct sl_md_image *image,
                                  int64_t now_ms);

struct sl_controller_topic_config {
    char key[SL_MD_CONFIG_KEY_BYTES_MAX];
    char value[SL_MD_CONFIG_VALUE_BYTES_MAX];
};

struct sl_controller_create_topic_request {
    char name[SL_MD_TOPIC_NAME_BYTES_MAX];
    int32_t num_partitions;     /* -1: num.partitions */
    int16_t replication_factor; /* -1: default.replication.factor */
    uint32_t config_count;
    struct sl_controller_topic_config configs[SL_CONTROLLER_TOPIC_CONFIGS_MAX];
};

/* Creates a topic: name and configs checked, replicas placed round robin over unfenced
 * brokers (rack-aware when every unfenced broker has a rack), preferred leaders spread
 * evenly. `topic_id` must be fresh (random, chosen by the caller); `seed` varies the
 * placement of the second and later replicas. Errors: INVALID_TOPIC_EXCEPTION,
 * TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_CONFIG.
 * `err` (may be NULL) gets a message for the client. */
int sl_controller_create_topic(struct sl_controller_batch *batch,
                               const struct sl_controller_settings *settings,
                               const struct sl_controller_create_topic_request *req,
                               const struct sl_md_uuid *topic_id, uint32_t seed, char *err,
                               size_t err_size);

/* Deletes a topic by name; its data is removed by the brokers that host it when they see
 * the topic gone from the image. Errors: UNKNOWN_TOPIC_OR_PARTITION,
 * TOPIC_DELETION_DISABLED. */
int sl_controller_delete_topic(struct sl_controller_batch *batch,
                               const struct sl_controller_settings *settings, const char *name);

/* Grows a topic to `total_count` partitions, placed like new ones. Errors:
 * UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS (not larger, or too many),
 * INVALID_REPLICATION_FACTOR (fewer unfenced brokers than the topic's replicas). */
int sl_controller_create_partitions(struct sl_controller_batch *batch, const char *name,
                                    int32_t total_count, uint32_t seed, char *err, size_t err_size);

/* Sets (value != NULL) or deletes a topic config. Errors: UNKNOWN_TOPIC_OR_PARTITION,
 * INVALID_CONFIG. */
int sl_controller_alter_topic_config(struct sl_controller_batch *batch, const char *topic,
                                     const char *key, const char *value, char *err,
                                     size_t err_size);

/* Sets (value != NULL) or deletes a dynamic broker config for `broker` (a decimal broker
 * id, or "" for the cluster-wide default). Only SL_CONFIG_DYNAMIC_KEYS may change; any
 * other known key is INVALID_REQUEST ("cannot be updated dynamically"); unknown keys and
 * bad values are INVALID_CONFIG; a bad resource name is INVALID_REQUEST. */
int sl_controller_alter_broker_config(struct sl_controller_batch *batch, const char *broker,
                                      const char *key, const char *value, char *err,
                                      size_t err_size);

/* Kafka's AlterConfigOp codes (IncrementalAlterConfigs config_operation). */
enum sl_controller_config_op {
    SL_CONTROLLER_CONFIG_SET = 0,
    SL_CONTROLLER_CONFIG_DELETE = 1,
    SL_CONTROLLER_CONFIG_APPEND = 2,   /* list keys: add items not yet present */
    SL_CONTROLLER_CONFIG_SUBTRACT = 3, /* list keys: remove the given items */
};

struct sl_controller_config_change {
    char key[SL_MD_CONFIG_KEY_BYTES_MAX];
    uint8_t op; /* enum sl_controller_config_op */
    bool has_value;
    char value[SL_MD_CONFIG_VALUE_BYTES_MAX];
};

/* One resource of AlterConfigs / IncrementalAlterConfigs. */
struct sl_controller_alter_configs_request {
    int8_t resource_type; /* SL_MD_RESOURCE_TOPIC or SL_MD_RESOURCE_BROKER */
    char resource_name[SL_MD_TOPIC_NAME_BYTES_MAX]; /* topic, broker id, "" = cluster default */
    bool replace_all;   /* AlterConfigs: overrides not listed are deleted */
    bool validate_only; /* check everything, propose nothing (metadata_log.c) */
    uint32_t change_count;
    struct sl_controller_config_change changes[SL_CONTROLLER_TOPIC_CONFIGS_MAX];
};

/* Changes a resource's config overrides as one unit: every change is checked against
 * the draft before any record is produced, so either all apply or none. APPEND and
 * SUBTRACT start from the current override, else the key's default, and produce the
 * comma-separated result. Errors: UNKNOWN_TOPIC_OR_PARTITION (topic); INVALID_CONFIG
 * (unknown key, bad value: err names the key and the value); INVALID_REQUEST (duplicate
 * key, null value for SET, APPEND/SUBTRACT on a non-list key, a broker key outside
 * SL_CONFIG_DYNAMIC_KEYS: "cannot be updated dynamically", a bad broker resource name,
 * an unknown resource type, too many changes). */
int sl_controller_alter_configs(struct sl_controller_batch *batch,
                                const struct sl_controller_alter_configs_request *req, char *err,
                                size_t err_size);

/* Removes a broker's registration (decommissioning): it is fenced first, so its
 * leaderships move. Errors: BROKER_ID_NOT_REGISTERED. */
int sl_controller_unregister_broker(struct sl_controller_batch *batch,
                                    const struct sl_controller_settings *settings,
                                    int32_t broker_id);

struct sl_controller_register_broker_request {
    int32_t broker_id;
    struct sl_md_uuid incarnation_id;
    char rack[SL_MD_RACK_BYTES_MAX];
    uint8_t listener_count;
    struct sl_md_listener listeners[SL_MD_LISTENERS_MAX];
};

/* Registers a broker (fenced until its first heartbeat that asks to be unfenced). The
 * same incarnation registering again with the same rack and listeners is idempotent;
 * with other ones (restarted with a new configuration) it replaces its registration with
 * a new epoch. A different incarnation while the
 * old one's session is alive is DUPLICATE_BROKER_REGISTRATION; once that session has
 * expired, the old registration is replaced and its leaderships move. On success
 * *broker_epoch is the registration's epoch. */
int sl_controller_register_broker(struct sl_controller_batch *batch,
                                  const struct sl_controller_settings *settings,
                                  struct sl_controller_liveness *liveness,
                                  const struct sl_controller_register_broker_request *req,
                                  int64_t now_ms, int64_t *broker_epoch);

/* A broker heartbeat. want_fence=false unfences a fenced broker and elects it for
 * leaderless partitions whose ISR holds it; want_fence=true (controlled shutdown) fences
 * it and moves its leaderships. Errors: BROKER_ID_NOT_REGISTERED, STALE_BROKER_EPOCH,
 * or the liveness table being full (INVALID_REQUEST). */
int sl_controller_heartbeat(struct sl_controller_batch *batch,
                            const struct sl_controller_settings *settings,
                            struct sl_controller_liveness *liveness, int32_t broker_id,
                            int64_t broker_epoch, bool want_fence, int64_t now_ms);

/* Fences every unfenced broker whose last heartbeat is older than the session timeout,
 * removing it from ISRs and electing new leaders from the ISR with a bumped leader epoch
 * (outside the ISR only when unclean election is enabled). Returns the number of brokers
 * fenced, or a negative Kafka-style error (SL_KAFKA_UNKNOWN_SERVER_ERROR) on ENOMEM. */
int sl_controller_check_sessions(struct sl_controller_batch *batch,
                                 const struct sl_controller_settings *settings,
                                 struct sl_controller_liveness *liveness, int64_t now_ms);

/* Fences `broker_id` now and moves its leaderships (used by sessions and shutdown). */
int sl_controller_fence_broker(struct sl_controller_batch *batch,
                               const struct sl_controller_settings *settings, int32_t broker_id);

/* Preferred leader election for one partition. Errors: UNKNOWN_TOPIC_OR_PARTITION,
 * ELECTION_NOT_NEEDED (already the leader), PREFERRED_LEADER_NOT_AVAILABLE (not in the
 * ISR or fenced). */
int sl_controller_elect_preferred(struct sl_controller_batch *batch, const char *topic,
                                  int32_t partition);
/* Preferred leader election over every partition; returns how many leaders moved. */
int sl_controller_rebalance_leaders(struct sl_controller_batch *batch);

struct sl_controller_alter_partition_request {
    int32_t broker_id; /* the leader asking */
    int64_t broker_epoch;
    struct sl_md_uuid topic_id;
    int32_t partition;
    int32_t leader_epoch;
    int32_t partition_epoch;
    uint8_t isr_count;
    int32_t isr[SL_MD_REPLICAS_MAX];
};

/* An ISR change from the partition leader. Errors: UNKNOWN_TOPIC_ID,
 * UNKNOWN_TOPIC_OR_PARTITION, STALE_BROKER_EPOCH, NOT_LEADER_OR_FOLLOWER,
 * FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION (partition epoch moved on),
 * INELIGIBLE_REPLICA (a new member is fenced or not a replica), INVALID_REQUEST (leader
 * missing from the new ISR, duplicates). On success *partition_epoch is the new epoch. */
int sl_controller_alter_partition(struct sl_controller_batch *batch,
                                  const struct sl_controller_alter_partition_request *req,
                                  int32_t *partition_epoch);

#endif
