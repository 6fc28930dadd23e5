/* Metadata records: the commands of the replicated metadata log, and their binary
 * encoding.
 *
 * A raft log entry holds one record batch:
 *     magic u32 'SLMB' | format u16 | reserved u16 | crc32c u32 | count u32 | body_bytes u32
 *     | count x (type u16 | version u16 | size u32 | body)
 * All integers are big-endian; strings are u16 length + bytes. The CRC32C covers every
 * byte after the crc field, so a flipped bit anywhere in the batch is detected before a
 * single record is applied. Records in one batch are applied atomically (all or none).
 *
 * Pure functions; any thread may call them.
 */
#ifndef SL_METADATA_RECORDS_H
#define SL_METADATA_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_MD_BATCH_MAGIC        0x534c4d42u /* "SLMB" */
#define SL_MD_BATCH_FORMAT       1
#define SL_MD_BATCH_HEADER_BYTES 20
#define SL_MD_BATCH_RECORDS_MAX  65536

#define SL_MD_REPLICAS_MAX            16
#define SL_MD_LISTENERS_MAX           8
#define SL_MD_TOPIC_NAME_BYTES_MAX    250 /* Kafka's 249 characters + NUL */
#define SL_MD_LISTENER_NAME_BYTES_MAX 64
#define SL_MD_HOST_BYTES_MAX          256
#define SL_MD_RACK_BYTES_MAX          64
#define SL_MD_CONFIG_KEY_BYTES_MAX    128
#define SL_MD_CONFIG_VALUE_BYTES_MAX  1024

/* Kafka's ConfigResource types. */
#define SL_MD_RESOURCE_TOPIC  2
#define SL_MD_RESOURCE_BROKER 4

/* No leader (Kafka's -1). */
#define SL_MD_NO_LEADER (-1)

enum sl_md_record_type {
    SL_MD_RECORD_REGISTER_BROKER = 1,
    SL_MD_RECORD_UNREGISTER_BROKER = 2,
    SL_MD_RECORD_FENCE_BROKER = 3,
    SL_MD_RECORD_TOPIC = 4,
    SL_MD_RECORD_PARTITION = 5,
    SL_MD_RECORD_PARTITION_CHANGE = 6,
    SL_MD_RECORD_CONFIG = 7,
    SL_MD_RECORD_REMOVE_TOPIC = 8,
};

struct sl_md_uuid {
    uint8_t bytes[16];
};

struct sl_md_listener {
    char name[SL_MD_LISTENER_NAME_BYTES_MAX];
    char host[SL_MD_HOST_BYTES_MAX];
    uint16_t port;
};

/* A broker registration; also the broker entry of the image. `broker_epoch` grows with
 * every registration of the id; `incarnation_id` is random per process start. */
struct sl_md_broker {
    int32_t broker_id;
    int64_t broker_epoch;
    struct sl_md_uuid incarnation_id;
    char rack[SL_MD_RACK_BYTES_MAX]; /* "" = no rack */
    bool fenced;
    uint8_t listener_count;
    struct sl_md_listener listeners[SL_MD_LISTENERS_MAX];
};

/* FENCE_BROKER (fenced true/false) and UNREGISTER_BROKER (fenced ignored). Applies only
 * when broker_epoch is the broker's current epoch. */
struct sl_md_broker_change {
    int32_t broker_id;
    int64_t broker_epoch;
    bool fenced;
};

struct sl_md_topic_record {
    char name[SL_MD_TOPIC_NAME_BYTES_MAX];
    struct sl_md_uuid topic_id;
};

/* PARTITION (creates partition number `partition`, which must be the topic's next one)
 * and PARTITION_CHANGE (the full new state; partition_epoch must be the old one + 1).
 * Also the partition entry of the image. */
struct sl_md_partition {
    struct sl_md_uuid topic_id;
    int32_t partition;
    int32_t leader; /* SL_MD_NO_LEADER when none */
    int32_t leader_epoch;
    int32_t partition_epoch;
    uint8_t replica_count;
    uint8_t isr_count;
    int32_t replicas[SL_MD_REPLICAS_MAX]; /* replicas[0] is the preferred leader */
    int32_t isr[SL_MD_REPLICAS_MAX];
};

/* Sets (has_value) or deletes one config key of a topic (resource name = topic name) or
 * of a broker (resource name = decimal broker id, "" = cluster-wide default). */
struct sl_md_config {
    uint8_t resource_type;
    char resource_name[SL_MD_TOPIC_NAME_BYTES_MAX];
    char key[SL_MD_CONFIG_KEY_BYTES_MAX];
    bool has_value;
    char value[SL_MD_CONFIG_VALUE_BYTES_MAX];
};

struct sl_md_record {
    enum sl_md_record_type type;
    union {
        struct sl_md_broker broker;               /* REGISTER_BROKER */
        struct sl_md_broker_change broker_change; /* FENCE_BROKER, UNREGISTER_BROKER */
        struct sl_md_topic_record topic;          /* TOPIC */
        struct sl_md_partition partition;         /* PARTITION, PARTITION_CHANGE */
        struct sl_md_config config;               /* CONFIG */
        struct sl_md_uuid remove_topic_id;        /* REMOVE_TOPIC */
    };
};

/* Bytes needed to encode `count` records as one batch. */
size_t sl_md_batch_size(const struct sl_md_record *records, size_t count);

/* Encodes `count` (1..SL_MD_BATCH_RECORDS_MAX) records into `out`, which must hold
 * sl_md_batch_size() bytes (the caller owns it; allocate with raft_malloc for raft_apply).
 * Returns the bytes written. */
size_t sl_md_batch_encode(const struct sl_md_record *records, size_t count, uint8_t *out,
                          size_t out_size);

/* Iterates over the records of an encoded batch without allocating. */
struct sl_md_batch_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    uint32_t count;
    uint32_t index;
};

/* Checks the batch header, length and CRC32C. Returns 0, or -EBADMSG with err naming the
 * problem (bad magic, unsupported format, truncated, CRC mismatch). */
int sl_md_batch_open(struct sl_md_batch_reader *reader, const void *buf, size_t len, char *err,
                     size_t err_size);

/* Decodes the next record into *out. Returns 1 when a record was decoded, 0 at the end,
 * -EBADMSG for a malformed or unknown record (err says which, with its index). */
int sl_md_batch_next(struct sl_md_batch_reader *reader, struct sl_md_record *out, char *err,
                     size_t err_size);

/* Returns a stable name for a record type ("REGISTER_BROKER", ...) or "UNKNOWN". */
const char *sl_md_record_type_name(int type);

/* CRC32C (Castagnoli) of len bytes, as stored in batches and snapshots. */
uint32_t sl_md_crc32c(const void *data, size_t len);

#endif
