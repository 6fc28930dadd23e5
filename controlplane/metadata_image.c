#include "controlplane/metadata_image.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sl_assert.h"
#include "common/sl_bytes.h"

#define IMAGE_MAGIC        0x534c4d49u /* "SLMI" */
#define IMAGE_FORMAT       1
#define IMAGE_HEADER_BYTES 24
/* Records per batch in a snapshot: bounds the temporary record array while encoding. */
#define SNAPSHOT_BATCH_RECORDS 128

static void set_error(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t err_size, const char *fmt, ...)
{
    if (err == NULL || err_size == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

/* ---- topics ---- */

static void topic_unref(struct sl_md_topic *t)
{
    SL_ASSERT(t->refs > 0);
    if (--t->refs == 0) {
        free(t->partitions);
        free(t->configs);
        free(t);
    }
}

static struct sl_md_topic *topic_clone(const struct sl_md_topic *src)
{
    struct sl_md_topic *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    *t = *src;
    t->refs = 1;
    t->partitions = NULL;
    t->configs = NULL;
    if (src->partition_capacity > 0) {
        t->partitions = malloc(src->partition_capacity * sizeof(*t->partitions));
        if (t->partitions == NULL) {
            goto fail;
        }
        memcpy(t->partitions, src->partitions, src->partition_count * sizeof(*t->partitions));
    }
    if (src->config_count > 0) {
        t->configs = malloc(src->config_count * sizeof(*t->configs));
        if (t->configs == NULL) {
            goto fail;
        }
        memcpy(t->configs, src->configs, src->config_count * sizeof(*t->configs));
    }
    return t;
fail:
    free(t->partitions);
    free(t);
    return NULL;
}

/* ---- images ---- */

struct sl_md_image *sl_md_image_new(void)
{
    struct sl_md_image *image = calloc(1, sizeof(*image));
    if (image != NULL) {
        image->refs = 1;
        image->sealed = true;
    }
    return image;
}

struct sl_md_image *sl_md_image_ref(struct sl_md_image *image)
{
    SL_ASSERT(image->refs > 0);
    image->refs++;
    return image;
}

void sl_md_image_unref(struct sl_md_image *image)
{
    if (image == NULL) {
        return;
    }
    SL_ASSERT(image->refs > 0);
    if (--image->refs > 0) {
        return;
    }
    for (uint32_t i = 0; i < image->topic_count; i++) {
        topic_unref(image->topics_by_name[i]);
    }
    free(image->topics_by_name);
    free(image->topics_by_id);
    free(image->brokers);
    free(image->broker_configs);
    free(image);
}

struct sl_md_image *sl_md_image_clone(const struct sl_md_image *base)
{
    struct sl_md_image *image = calloc(1, sizeof(*image));
    if (image == NULL) {
        return NULL;
    }
    image->refs = 1;
    image->version = base->version;
    image->broker_capacity = base->broker_count;
    image->topic_capacity = base->topic_count;
    image->broker_config_count = base->broker_config_count;
    if (base->broker_count > 0) {
        image->brokers = malloc(base->broker_count * sizeof(*image->brokers));
    }
    if (base->topic_count > 0) {
        image->topics_by_name = malloc(base->topic_count * sizeof(*image->topics_by_name));
        image->topics_by_id = malloc(base->topic_count * sizeof(*image->topics_by_id));
    }
    if (base->broker_config_count > 0) {
        image->broker_configs = malloc(base->broker_config_count * sizeof(*image->broker_configs));
    }
    if ((base->broker_count > 0 && image->brokers == NULL) ||
        (base->topic_count > 0 && (image->topics_by_name == NULL || image->topics_by_id == NULL)) ||
        (base->broker_config_count > 0 && image->broker_configs == NULL)) {
        free(image->brokers);
        free(image->topics_by_name);
        free(image->topics_by_id);
        free(image->broker_configs);
        free(image);
        return NULL;
    }
    image->broker_count = base->broker_count;
    if (base->broker_count > 0) {
        memcpy(image->brokers, base->brokers, base->broker_count * sizeof(*image->brokers));
    }
    if (base->broker_config_count > 0) {
        memcpy(image->broker_configs, base->broker_configs,
               base->broker_config_count * sizeof(*image->broker_configs));
    }
    image->topic_count = base->topic_count;
    for (uint32_t i = 0; i < base->topic_count; i++) {
        image->topics_by_name[i] = base->topics_by_name[i];
        image->topics_by_id[i] = base->topics_by_id[i];
        image->topics_by_name[i]->refs++;
    }
    return image;
}

void sl_md_image_seal(struct sl_md_image *draft)
{
    draft->sealed = true;
}

/* ---- lookups (binary search over sorted arrays) ---- */

static int64_t broker_position(const struct sl_md_image *image, int32_t broker_id, bool *found)
{
    int64_t lo = 0, hi = image->broker_count;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (image->brokers[mid].broker_id < broker_id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < image->broker_count && image->brokers[lo].broker_id == broker_id;
    return lo;
}

static int64_t topic_name_position(const struct sl_md_image *image, const char *name, bool *found)
{
    int64_t lo = 0, hi = image->topic_count;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (strcmp(image->topics_by_name[mid]->name, name) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < image->topic_count && strcmp(image->topics_by_name[lo]->name, name) == 0;
    return lo;
}

static int64_t topic_id_position(const struct sl_md_image *image, const struct sl_md_uuid *id,
                                 bool *found)
{
    int64_t lo = 0, hi = image->topic_count;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (memcmp(image->topics_by_id[mid]->topic_id.bytes, id->bytes, 16) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < image->topic_count &&
             memcmp(image->topics_by_id[lo]->topic_id.bytes, id->bytes, 16) == 0;
    return lo;
}

static int compare_broker_config(const struct sl_md_config *c, const char *resource,
                                 const char *key)
{
    int rc = strcmp(c->resource_name, resource);
    return rc != 0 ? rc : strcmp(c->key, key);
}

static int64_t broker_config_position(const struct sl_md_image *image, const char *resource,
                                      const char *key, bool *found)
{
    int64_t lo = 0, hi = image->broker_config_count;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (compare_broker_config(&image->broker_configs[mid], resource, key) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < image->broker_config_count &&
             compare_broker_config(&image->broker_configs[lo], resource, key) == 0;
    return lo;
}

const struct sl_md_broker *sl_md_image_broker(const struct sl_md_image *image, int32_t broker_id)
{
    bool found;
    int64_t pos = broker_position(image, broker_id, &found);
    return found ? &image->brokers[pos] : NULL;
}

const struct sl_md_topic *sl_md_image_topic(const struct sl_md_image *image, const char *name)
{
    bool found;
    int64_t pos = topic_name_position(image, name, &found);
    return found ? image->topics_by_name[pos] : NULL;
}

const struct sl_md_topic *sl_md_image_topic_by_id(const struct sl_md_image *image,
                                                  const struct sl_md_uuid *topic_id)
{
    bool found;
    int64_t pos = topic_id_position(image, topic_id, &found);
    return found ? image->topics_by_id[pos] : NULL;
}

const struct sl_md_partition *sl_md_topic_partition(const struct sl_md_topic *topic,
                                                    int32_t partition)
{
    if (partition < 0 || (uint32_t)partition >= topic->partition_count) {
        return NULL;
    }
    return &topic->partitions[partition];
}

static int64_t topic_config_position(const struct sl_md_topic *t, const char *key, bool *found)
{
    int64_t lo = 0, hi = t->config_count;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (strcmp(t->configs[mid].key, key) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < t->config_count && strcmp(t->configs[lo].key, key) == 0;
    return lo;
}

const char *sl_md_topic_config(const struct sl_md_topic *topic, const char *key)
{
    bool found;
    int64_t pos = topic_config_position(topic, key, &found);
    return found ? topic->configs[pos].value : NULL;
}

const char *sl_md_image_broker_config(const struct sl_md_image *image, const char *resource_name,
                                      const char *key)
{
    bool found;
    int64_t pos = broker_config_position(image, resource_name, key, &found);
    return found ? image->broker_configs[pos].value : NULL;
}

bool sl_md_topic_name_valid(const char *name)
{
    size_t n = strnlen(name, SL_MD_TOPIC_NAME_BYTES_MAX);
    if (n == 0 || n >= SL_MD_TOPIC_NAME_BYTES_MAX || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* ---- apply ---- */

static int grow(void **array, uint32_t *capacity, uint32_t needed, size_t item_size)
{
    if (needed <= *capacity) {
        return 0;
    }
    uint32_t cap = *capacity ? *capacity * 2 : 8;
    while (cap < needed) {
        cap *= 2;
    }
    void *grown = realloc(*array, (size_t)cap * item_size);
    if (grown == NULL) {
        return -ENOMEM;
    }
    *array = grown;
    *capacity = cap;
    return 0;
}

/* Makes the topic at name position `pos` private to the draft, so it may be changed. */
static struct sl_md_topic *own_topic(struct sl_md_image *draft, int64_t pos)
{
    struct sl_md_topic *t = draft->topics_by_name[pos];
    if (t->refs == 1) {
        return t;
    }
    struct sl_md_topic *copy = topic_clone(t);
    if (copy == NULL) {
        return NULL;
    }
    bool found;
    int64_t id_pos = topic_id_position(draft, &t->topic_id, &found);
    SL_ASSERT(found && draft->topics_by_id[id_pos] == t);
    draft->topics_by_name[pos] = copy;
    draft->topics_by_id[id_pos] = copy;
    topic_unref(t);
    return copy;
}

static int apply_register_broker(struct sl_md_image *d, const struct sl_md_broker *b, char *err,
                                 size_t err_size)
{
    if (b->broker_id < 0) {
        set_error(err, err_size, "REGISTER_BROKER: bad broker id %d", b->broker_id);
        return -EINVAL;
    }
    bool found;
    int64_t pos = broker_position(d, b->broker_id, &found);
    if (found) {
        if (b->broker_epoch <= d->brokers[pos].broker_epoch) {
            set_error(err, err_size,
                      "REGISTER_BROKER: broker %d epoch %lld does not follow current epoch %lld",
                      b->broker_id, (long long)b->broker_epoch,
                      (long long)d->brokers[pos].broker_epoch);
            return -ESTALE;
        }
        d->brokers[pos] = *b;
        return 0;
    }
    if (grow((void **)&d->brokers, &d->broker_capacity, d->broker_count + 1, sizeof(*b)) != 0) {
        return -ENOMEM;
    }
    memmove(&d->brokers[pos + 1], &d->brokers[pos], (d->broker_count - pos) * sizeof(*b));
    d->brokers[pos] = *b;
    d->broker_count++;
    return 0;
}

static int apply_broker_change(struct sl_md_image *d, const struct sl_md_record *r, char *err,
                               size_t err_size)
{
    const struct sl_md_broker_change *c = &r->broker_change;
    const char *what = sl_md_record_type_name(r->type);
    bool found;
    int64_t pos = broker_position(d, c->broker_id, &found);
    if (!found) {
        set_error(err, err_size, "%s: broker %d is not registered", what, c->broker_id);
        return -ENOENT;
    }
    if (d->brokers[pos].broker_epoch != c->broker_epoch) {
        set_error(err, err_size, "%s: broker %d epoch %lld is not the current epoch %lld", what,
                  c->broker_id, (long long)c->broker_epoch,
                  (long long)d->brokers[pos].broker_epoch);
        return -ESTALE;
    }
    if (r->type == SL_MD_RECORD_FENCE_BROKER) {
        d->brokers[pos].fenced = c->fenced;
        return 0;
    }
    memmove(&d->brokers[pos], &d->brokers[pos + 1],
            (d->broker_count - pos - 1) * sizeof(d->brokers[0]));
    d->broker_count--;
    return 0;
}

static bool uuid_is_zero(const struct sl_md_uuid *u)
{
    static const struct sl_md_uuid zero;
    return memcmp(u, &zero, sizeof(zero)) == 0;
}

static int apply_topic(struct sl_md_image *d, const struct sl_md_topic_record *r, char *err,
                       size_t err_size)
{
    if (!sl_md_topic_name_valid(r->name)) {
        set_error(err, err_size, "TOPIC: illegal topic name '%s'", r->name);
        return -EINVAL;
    }
    if (uuid_is_zero(&r->topic_id)) {
        set_error(err, err_size, "TOPIC: topic '%s' has the zero topic id", r->name);
        return -EINVAL;
    }
    bool name_found, id_found;
    int64_t name_pos = topic_name_position(d, r->name, &name_found);
    int64_t id_pos = topic_id_position(d, &r->topic_id, &id_found);
    if (name_found || id_found) {
        set_error(err, err_size, "TOPIC: topic '%s' %s already exists", r->name,
                  name_found ? "(by name)" : "(by id)");
        return -EEXIST;
    }
    uint32_t cap = d->topic_capacity;
    if (grow((void **)&d->topics_by_name, &cap, d->topic_count + 1, sizeof(void *)) != 0) {
        return -ENOMEM;
    }
    cap = d->topic_capacity;
    if (grow((void **)&d->topics_by_id, &cap, d->topic_count + 1, sizeof(void *)) != 0) {
        return -ENOMEM;
    }
    d->topic_capacity = cap;
    struct sl_md_topic *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return -ENOMEM;
    }
    t->refs = 1;
    memcpy(t->name, r->name, sizeof(t->name));
    t->topic_id = r->topic_id;
    memmove(&d->topics_by_name[name_pos + 1], &d->topics_by_name[name_pos],
            (d->topic_count - name_pos) * sizeof(void *));
    memmove(&d->topics_by_id[id_pos + 1], &d->topics_by_id[id_pos],
            (d->topic_count - id_pos) * sizeof(void *));
    d->topics_by_name[name_pos] = t;
    d->topics_by_id[id_pos] = t;
    d->topic_count++;
    return 0;
}

static int apply_remove_topic(struct sl_md_image *d, const struct sl_md_uuid *id, char *err,
                              size_t err_size)
{
    bool found;
    int64_t id_pos = topic_id_position(d, id, &found);
    if (!found) {
        set_error(err, err_size, "REMOVE_TOPIC: unknown topic id");
        return -ENOENT;
    }
    struct sl_md_topic *t = d->topics_by_id[id_pos];
    int64_t name_pos = topic_name_position(d, t->name, &found);
    SL_ASSERT(found);
    memmove(&d->topics_by_name[name_pos], &d->topics_by_name[name_pos + 1],
            (d->topic_count - name_pos - 1) * sizeof(void *));
    memmove(&d->topics_by_id[id_pos], &d->topics_by_id[id_pos + 1],
            (d->topic_count - id_pos - 1) * sizeof(void *));
    d->topic_count--;
    topic_unref(t);
    return 0;
}

static bool has_duplicates(const int32_t *v, uint8_t n)
{
    for (uint8_t i = 0; i < n; i++) {
        for (uint8_t j = i + 1; j < n; j++) {
            if (v[i] == v[j]) {
                return true;
            }
        }
    }
    return false;
}

static bool contains_id(const int32_t *v, uint8_t n, int32_t id)
{
    for (uint8_t i = 0; i < n; i++) {
        if (v[i] == id) {
            return true;
        }
    }
    return false;
}

/* Invariants every partition state satisfies, new or changed. */
static int check_partition_state(const char *what, const char *topic,
                                 const struct sl_md_partition *p, char *err, size_t err_size)
{
    if (p->replica_count == 0 || has_duplicates(p->replicas, p->replica_count)) {
        set_error(err, err_size, "%s: %s-%d needs 1..%d distinct replicas", what, topic,
                  p->partition, SL_MD_REPLICAS_MAX);
        return -EINVAL;
    }
    for (uint8_t i = 0; i < p->replica_count; i++) {
        if (p->replicas[i] < 0) {
            set_error(err, err_size, "%s: %s-%d has bad replica id %d", what, topic, p->partition,
                      p->replicas[i]);
            return -EINVAL;
        }
    }
    if (has_duplicates(p->isr, p->isr_count)) {
        set_error(err, err_size, "%s: %s-%d has a duplicate ISR member", what, topic, p->partition);
        return -EINVAL;
    }
    for (uint8_t i = 0; i < p->isr_count; i++) {
        if (!contains_id(p->replicas, p->replica_count, p->isr[i])) {
            set_error(err, err_size, "%s: %s-%d ISR member %d is not a replica", what, topic,
                      p->partition, p->isr[i]);
            return -EINVAL;
        }
    }
    if (p->leader != SL_MD_NO_LEADER && !contains_id(p->isr, p->isr_count, p->leader)) {
        set_error(err, err_size, "%s: %s-%d leader %d is not in the ISR", what, topic, p->partition,
                  p->leader);
        return -EINVAL;
    }
    if (p->leader_epoch < 0 || p->partition_epoch < 0) {
        set_error(err, err_size, "%s: %s-%d has a negative epoch", what, topic, p->partition);
        return -EINVAL;
    }
    return 0;
}

static int apply_partition(struct sl_md_image *d, const struct sl_md_record *r, char *err,
                           size_t err_size)
{
    const struct sl_md_partition *p = &r->partition;
    const char *what = sl_md_record_type_name(r->type);
    bool found;
    int64_t id_pos = topic_id_position(d, &p->topic_id, &found);
    if (!found) {
        set_error(err, err_size, "%s: unknown topic id for partition %d", what, p->partition);
        return -ENOENT;
    }
    const char *name = d->topics_by_id[id_pos]->name;
    int rc = check_partition_state(what, name, p, err, err_size);
    if (rc != 0) {
        return rc;
    }
    int64_t name_pos = topic_name_position(d, name, &found);
    SL_ASSERT(found);
    const struct sl_md_topic *shared = d->topics_by_name[name_pos];
    if (r->type == SL_MD_RECORD_PARTITION) {
        if (p->partition < 0 || (uint32_t)p->partition != shared->partition_count) {
            set_error(err, err_size, "PARTITION: %s-%d is not the next partition (%u exist)", name,
                      p->partition, shared->partition_count);
            return p->partition >= 0 && (uint32_t)p->partition < shared->partition_count ? -EEXIST
                                                                                         : -EINVAL;
        }
    } else {
        const struct sl_md_partition *old = sl_md_topic_partition(shared, p->partition);
        if (old == NULL) {
            set_error(err, err_size, "PARTITION_CHANGE: %s-%d does not exist", name, p->partition);
            return -ENOENT;
        }
        if ((int64_t)p->partition_epoch != (int64_t)old->partition_epoch + 1) {
            set_error(err, err_size,
                      "PARTITION_CHANGE: %s-%d partition epoch %d does not follow %d", name,
                      p->partition, p->partition_epoch, old->partition_epoch);
            return -ESTALE;
        }
        /* A new leader always gets the next leader epoch; the same leader may keep its
         * epoch (ISR change) or take the next one (re-election). */
        bool leader_changed = p->leader != old->leader;
        int64_t next_epoch = (int64_t)old->leader_epoch + 1;
        bool epoch_ok = leader_changed ? p->leader_epoch == next_epoch
                                       : (p->leader_epoch == old->leader_epoch ||
                                          p->leader_epoch == next_epoch);
        if (!epoch_ok) {
            set_error(err, err_size, "PARTITION_CHANGE: %s-%d leader epoch %d does not follow %d",
                      name, p->partition, p->leader_epoch, old->leader_epoch);
            return -ESTALE;
        }
    }
    struct sl_md_topic *t = own_topic(d, name_pos);
    if (t == NULL) {
        return -ENOMEM;
    }
    if (r->type == SL_MD_RECORD_PARTITION) {
        if (grow((void **)&t->partitions, &t->partition_capacity, t->partition_count + 1,
                 sizeof(*p)) != 0) {
            return -ENOMEM;
        }
        t->partition_count++;
    }
    t->partitions[p->partition] = *p;
    return 0;
}

static int apply_config(struct sl_md_image *d, const struct sl_md_config *c, char *err,
                        size_t err_size)
{
    if (c->key[0] == '\0') {
        set_error(err, err_size, "CONFIG: empty key");
        return -EINVAL;
    }
    if (c->resource_type == SL_MD_RESOURCE_TOPIC) {
        bool found;
        int64_t pos = topic_name_position(d, c->resource_name, &found);
        if (!found) {
            set_error(err, err_size, "CONFIG: unknown topic '%s'", c->resource_name);
            return -ENOENT;
        }
        struct sl_md_topic *t = own_topic(d, pos);
        if (t == NULL) {
            return -ENOMEM;
        }
        int64_t at = topic_config_position(t, c->key, &found);
        if (!c->has_value) {
            if (found) {
                memmove(&t->configs[at], &t->configs[at + 1],
                        (t->config_count - at - 1) * sizeof(t->configs[0]));
                t->config_count--;
            }
            return 0;
        }
        if (!found) {
            void *grown = realloc(t->configs, (t->config_count + 1) * sizeof(t->configs[0]));
            if (grown == NULL) {
                return -ENOMEM;
            }
            t->configs = grown;
            memmove(&t->configs[at + 1], &t->configs[at],
                    (t->config_count - at) * sizeof(t->configs[0]));
            t->config_count++;
            snprintf(t->configs[at].key, sizeof(t->configs[at].key), "%s", c->key);
        }
        snprintf(t->configs[at].value, sizeof(t->configs[at].value), "%s", c->value);
        return 0;
    }
    if (c->resource_type != SL_MD_RESOURCE_BROKER) {
        set_error(err, err_size, "CONFIG: unknown resource type %u", c->resource_type);
        return -EINVAL;
    }
    if (c->resource_name[strspn(c->resource_name, "0123456789")] != '\0') {
        set_error(err, err_size, "CONFIG: broker resource '%s' is not a broker id",
                  c->resource_name);
        return -EINVAL;
    }
    bool found;
    int64_t at = broker_config_position(d, c->resource_name, c->key, &found);
    if (!c->has_value) {
        if (found) {
            memmove(&d->broker_configs[at], &d->broker_configs[at + 1],
                    (d->broker_config_count - at - 1) * sizeof(*c));
            d->broker_config_count--;
        }
        return 0;
    }
    if (!found) {
        void *grown = realloc(d->broker_configs, (d->broker_config_count + 1) * sizeof(*c));
        if (grown == NULL) {
            return -ENOMEM;
        }
        d->broker_configs = grown;
        memmove(&d->broker_configs[at + 1], &d->broker_configs[at],
                (d->broker_config_count - at) * sizeof(*c));
        d->broker_config_count++;
    }
    d->broker_configs[at] = *c;
    return 0;
}

int sl_md_image_apply(struct sl_md_image *draft, const struct sl_md_record *record, char *err,
                      size_t err_size)
{
    SL_ASSERT(!draft->sealed);
    int rc;
    switch (record->type) {
    case SL_MD_RECORD_REGISTER_BROKER:
        rc = apply_register_broker(draft, &record->broker, err, err_size);
        break;
    case SL_MD_RECORD_UNREGISTER_BROKER:
    case SL_MD_RECORD_FENCE_BROKER:
        rc = apply_broker_change(draft, record, err, err_size);
        break;
    case SL_MD_RECORD_TOPIC:
        rc = apply_topic(draft, &record->topic, err, err_size);
        break;
    case SL_MD_RECORD_PARTITION:
    case SL_MD_RECORD_PARTITION_CHANGE:
        rc = apply_partition(draft, record, err, err_size);
        break;
    case SL_MD_RECORD_CONFIG:
        rc = apply_config(draft, &record->config, err, err_size);
        break;
    case SL_MD_RECORD_REMOVE_TOPIC:
        rc = apply_remove_topic(draft, &record->remove_topic_id, err, err_size);
        break;
    default:
        set_error(err, err_size, "unknown record type %d", (int)record->type);
        rc = -EINVAL;
        break;
    }
    if (rc == -ENOMEM) {
        set_error(err, err_size, "out of memory applying %s", sl_md_record_type_name(record->type));
    }
    if (rc == 0) {
        draft->version++;
    }
    return rc;
}

int sl_md_image_apply_batch(const struct sl_md_image *base, const void *buf, size_t len,
                            struct sl_md_image **out, char *err, size_t err_size)
{
    struct sl_md_batch_reader reader;
    int rc = sl_md_batch_open(&reader, buf, len, err, err_size);
    if (rc != 0) {
        return rc;
    }
    struct sl_md_record *record = malloc(sizeof(*record));
    struct sl_md_image *draft = sl_md_image_clone(base);
    if (record == NULL || draft == NULL) {
        rc = -ENOMEM;
        set_error(err, err_size, "out of memory applying a metadata batch");
        goto fail;
    }
    while ((rc = sl_md_batch_next(&reader, record, err, err_size)) == 1) {
        rc = sl_md_image_apply(draft, record, err, err_size);
        if (rc != 0) {
            goto fail;
        }
    }
    if (rc != 0) {
        goto fail;
    }
    free(record);
    sl_md_image_seal(draft);
    *out = draft;
    return 0;
fail:
    free(record);
    sl_md_image_unref(draft);
    return rc;
}

/* ---- snapshot encoding ---- */

struct snapshot_writer {
    void *(*alloc)(size_t);
    uint8_t *buf; /* NULL during the sizing pass */
    size_t pos;
    size_t cap;
    uint32_t batch_count;
    struct sl_md_record *pending;
    size_t pending_count;
};

static void flush_pending(struct snapshot_writer *w)
{
    if (w->pending_count == 0) {
        return;
    }
    size_t n = sl_md_batch_size(w->pending, w->pending_count);
    if (w->buf != NULL) {
        SL_ASSERT(w->pos + n <= w->cap);
        sl_md_batch_encode(w->pending, w->pending_count, w->buf + w->pos, n);
    }
    w->pos += n;
    w->batch_count++;
    w->pending_count = 0;
}

static struct sl_md_record *next_record(struct snapshot_writer *w)
{
    if (w->pending_count == SNAPSHOT_BATCH_RECORDS) {
        flush_pending(w);
    }
    struct sl_md_record *r = &w->pending[w->pending_count++];
    memset(r, 0, sizeof(*r));
    return r;
}

static void write_image_records(struct snapshot_writer *w, const struct sl_md_image *image)
{
    for (uint32_t i = 0; i < image->broker_count; i++) {
        struct sl_md_record *r = next_record(w);
        r->type = SL_MD_RECORD_REGISTER_BROKER;
        r->broker = image->brokers[i];
    }
    for (uint32_t i = 0; i < image->broker_config_count; i++) {
        struct sl_md_record *r = next_record(w);
        r->type = SL_MD_RECORD_CONFIG;
        r->config = image->broker_configs[i];
    }
    for (uint32_t i = 0; i < image->topic_count; i++) {
        const struct sl_md_topic *t = image->topics_by_name[i];
        struct sl_md_record *r = next_record(w);
        r->type = SL_MD_RECORD_TOPIC;
        memcpy(r->topic.name, t->name, sizeof(r->topic.name));
        r->topic.topic_id = t->topic_id;
        for (uint32_t p = 0; p < t->partition_count; p++) {
            r = next_record(w);
            r->type = SL_MD_RECORD_PARTITION;
            r->partition = t->partitions[p];
        }
        for (uint32_t c = 0; c < t->config_count; c++) {
            r = next_record(w);
            r->type = SL_MD_RECORD_CONFIG;
            r->config.resource_type = SL_MD_RESOURCE_TOPIC;
            memcpy(r->config.resource_name, t->name, sizeof(r->config.resource_name));
            memcpy(r->config.key, t->configs[c].key, sizeof(r->config.key));
            r->config.has_value = true;
            memcpy(r->config.value, t->configs[c].value, sizeof(r->config.value));
        }
    }
    flush_pending(w);
}

int sl_md_image_encode(const struct sl_md_image *image, void *(*alloc)(size_t), void **out,
                       size_t *out_len)
{
    struct snapshot_writer w = {.alloc = alloc};
    w.pending = malloc(SNAPSHOT_BATCH_RECORDS * sizeof(*w.pending));
    if (w.pending == NULL) {
        return -ENOMEM;
    }
    w.pos = IMAGE_HEADER_BYTES;
    write_image_records(&w, image);
    size_t total = w.pos;
    w.buf = alloc(total);
    if (w.buf == NULL) {
        free(w.pending);
        return -ENOMEM;
    }
    w.cap = total;
    w.pos = IMAGE_HEADER_BYTES;
    w.batch_count = 0;
    write_image_records(&w, image);
    SL_ASSERT(w.pos == total);
    free(w.pending);
    sl_store_be32(w.buf, IMAGE_MAGIC);
    sl_store_be16(w.buf + 4, IMAGE_FORMAT);
    sl_store_be16(w.buf + 6, 0);
    sl_store_be64(w.buf + 12, image->version);
    sl_store_be32(w.buf + 20, w.batch_count);
    sl_store_be32(w.buf + 8, sl_md_crc32c(w.buf + 12, total - 12));
    *out = w.buf;
    *out_len = total;
    return 0;
}

int sl_md_image_decode(const void *buf, size_t len, struct sl_md_image **out, char *err,
                       size_t err_size)
{
    const uint8_t *p = buf;
    if (len < IMAGE_HEADER_BYTES || sl_load_be32(p) != IMAGE_MAGIC) {
        set_error(err, err_size, "metadata snapshot is not a sluice image (%s)",
                  len < IMAGE_HEADER_BYTES ? "too short" : "bad magic");
        return -EBADMSG;
    }
    if (sl_load_be16(p + 4) != IMAGE_FORMAT) {
        set_error(err, err_size, "metadata snapshot format %u is not supported (reads %d)",
                  sl_load_be16(p + 4), IMAGE_FORMAT);
        return -EBADMSG;
    }
    if (sl_load_be16(p + 6) != 0) {
        set_error(err, err_size, "metadata snapshot has non-zero reserved bits");
        return -EBADMSG;
    }
    uint32_t stored = sl_load_be32(p + 8);
    uint32_t computed = sl_md_crc32c(p + 12, len - 12);
    if (stored != computed) {
        set_error(err, err_size,
                  "metadata snapshot CRC32C mismatch: stored 0x%08x, computed 0x%08x", stored,
                  computed);
        return -EBADMSG;
    }
    uint64_t version = sl_load_be64(p + 12);
    uint32_t batch_count = sl_load_be32(p + 20);
    struct sl_md_image *image = sl_md_image_new();
    if (image == NULL) {
        return -ENOMEM;
    }
    size_t pos = IMAGE_HEADER_BYTES;
    for (uint32_t i = 0; i < batch_count; i++) {
        if (len - pos < SL_MD_BATCH_HEADER_BYTES) {
            set_error(err, err_size, "metadata snapshot truncated in batch %u", i);
            sl_md_image_unref(image);
            return -EBADMSG;
        }
        size_t batch_len = SL_MD_BATCH_HEADER_BYTES + sl_load_be32(p + pos + 16);
        if (batch_len > len - pos) {
            set_error(err, err_size, "metadata snapshot truncated in batch %u", i);
            sl_md_image_unref(image);
            return -EBADMSG;
        }
        struct sl_md_image *next = NULL;
        char why[256] = "";
        int rc = sl_md_image_apply_batch(image, p + pos, batch_len, &next, why, sizeof(why));
        sl_md_image_unref(image);
        if (rc != 0) {
            set_error(err, err_size, "metadata snapshot batch %u: %s", i, why);
            return rc == -ENOMEM ? rc : -EBADMSG;
        }
        image = next;
        pos += batch_len;
    }
    if (pos != len) {
        set_error(err, err_size, "metadata snapshot has %zu trailing bytes", len - pos);
        sl_md_image_unref(image);
        return -EBADMSG;
    }
    image->version = version;
    *out = image;
    return 0;
}
