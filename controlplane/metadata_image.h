/* The metadata image: brokers, topics (by name and by id), partitions and configs, as of
 * some point of the metadata log.
 *
 * Versions are immutable once sealed. Applying records never changes an image: it
 * clones the base into a draft (copy-on-write: unchanged topics are shared between
 * versions) and the draft becomes the next version. A batch applies atomically: any
 * record that does not fit the image (unknown topic, stale epoch, ...) discards the draft
 * and leaves the base as it was.
 *
 * Threads: building, applying, ref/unref and freeing happen on the control-plane thread
 * only (reference counts are plain integers). A sealed image may be READ from any thread
 * for as long as the reader holds it through sl_md_publisher (metadata_publisher.h).
 */
#ifndef SL_METADATA_IMAGE_H
#define SL_METADATA_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controlplane/metadata_records.h"

struct sl_md_config_entry {
    char key[SL_MD_CONFIG_KEY_BYTES_MAX];
    char value[SL_MD_CONFIG_VALUE_BYTES_MAX];
};

struct sl_md_topic {
    uint32_t refs; /* images sharing this topic (control-plane thread only) */
    char name[SL_MD_TOPIC_NAME_BYTES_MAX];
    struct sl_md_uuid topic_id;
    uint32_t partition_count;
    uint32_t partition_capacity;
    struct sl_md_partition *partitions; /* index = partition number */
    uint32_t config_count;
    struct sl_md_config_entry *configs; /* sorted by key; only keys set on the topic */
};

struct sl_md_image {
    uint32_t refs;        /* control-plane thread only */
    bool sealed;          /* no more changes once true */
    uint64_t version;     /* records applied since the empty image */
    uint64_t publish_seq; /* set by sl_md_publisher; 0 before publication */
    uint32_t broker_count;
    uint32_t broker_capacity;
    struct sl_md_broker *brokers; /* sorted by broker_id */
    uint32_t topic_count;
    uint32_t topic_capacity;
    struct sl_md_topic **topics_by_name; /* sorted by name */
    struct sl_md_topic **topics_by_id;   /* sorted by topic_id bytes */
    uint32_t broker_config_count;
    struct sl_md_config *broker_configs; /* sorted by (resource_name, key) */
};

/* A new empty, sealed image (version 0) with one reference, or NULL on ENOMEM. */
struct sl_md_image *sl_md_image_new(void);
/* Adds a reference. Control-plane thread only. */
struct sl_md_image *sl_md_image_ref(struct sl_md_image *image);
/* Drops a reference; frees the image (and topics no other image shares) at zero. */
void sl_md_image_unref(struct sl_md_image *image);

/* An unsealed copy of `base` with one reference, sharing its topics; NULL on ENOMEM. */
struct sl_md_image *sl_md_image_clone(const struct sl_md_image *base);
/* Applies one record to an unsealed draft. Returns 0; -EEXIST (topic/partition exists),
 * -ENOENT (unknown broker/topic/partition), -ESTALE (epoch does not follow), -EINVAL
 * (record breaks an invariant: bad name, leader outside ISR, ...), -ENOMEM. On error
 * the draft is partly changed: discard it. err names the record and the problem. */
int sl_md_image_apply(struct sl_md_image *draft, const struct sl_md_record *record, char *err,
                      size_t err_size);
/* Marks a draft as an immutable version. */
void sl_md_image_seal(struct sl_md_image *draft);

/* Decodes an encoded batch and applies it to `base` as one unit. On success *out is a
 * new sealed image (one reference) and 0 is returned. -EBADMSG means the bytes are
 * corrupt (CRC, framing); other errors are those of sl_md_image_apply. `base` is never
 * changed. */
int sl_md_image_apply_batch(const struct sl_md_image *base, const void *buf, size_t len,
                            struct sl_md_image **out, char *err, size_t err_size);

/* Lookups on any image; results live as long as the image. NULL when absent. */
const struct sl_md_broker *sl_md_image_broker(const struct sl_md_image *image, int32_t broker_id);
const struct sl_md_topic *sl_md_image_topic(const struct sl_md_image *image, const char *name);
const struct sl_md_topic *sl_md_image_topic_by_id(const struct sl_md_image *image,
                                                  const struct sl_md_uuid *topic_id);
const struct sl_md_partition *sl_md_topic_partition(const struct sl_md_topic *topic,
                                                    int32_t partition);
/* Value of a key set on the topic, or NULL (then the broker default applies). */
const char *sl_md_topic_config(const struct sl_md_topic *topic, const char *key);
/* Value of a broker config (resource "" = cluster default, or a broker id), or NULL. */
const char *sl_md_image_broker_config(const struct sl_md_image *image, const char *resource_name,
                                      const char *key);

/* True when `name` is a legal Kafka topic name: 1..249 of [a-zA-Z0-9._-], not "." or "..". */
bool sl_md_topic_name_valid(const char *name);

/* Deterministic encoding of the whole image (the snapshot format): equal images encode
 * to equal bytes. *out is allocated with `alloc` (malloc or raft_malloc) and owned by the
 * caller. Returns 0 or -ENOMEM.
 *     magic u32 'SLMI' | format u16 | reserved u16 | crc32c u32 | version u64
 *     | batch_count u32 | batches (as in metadata_records.h) */
int sl_md_image_encode(const struct sl_md_image *image, void *(*alloc)(size_t), void **out,
                       size_t *out_len);
/* Rebuilds an image from sl_md_image_encode output. Returns 0 with *out sealed (one
 * reference) or -EBADMSG (corrupt: err names the problem) / -ENOMEM. */
int sl_md_image_decode(const void *buf, size_t len, struct sl_md_image **out, char *err,
                       size_t err_size);

#endif
