#include "controlplane/metadata_publisher.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "common/sl_assert.h"
#include "common/sl_compiler.h"

/* One cache line per reader so announcing never contends with another shard. */
struct reader_slot {
    _Atomic(struct sl_md_image *) hazard;
} SL_CACHE_ALIGNED;

struct sl_md_publisher {
    _Atomic(struct sl_md_image *) current;
    uint64_t next_seq;
    uint32_t reader_count;
    uint32_t retired_count;
    struct sl_md_image **retired; /* capacity reader_count + 1 */
    struct reader_slot *slots;
};

struct sl_md_publisher *sl_md_publisher_new(uint32_t reader_count, struct sl_md_image *initial)
{
    SL_ASSERT(reader_count >= 1 && reader_count <= SL_MD_PUBLISHER_READERS_MAX);
    SL_ASSERT(initial != NULL && initial->sealed);
    struct sl_md_publisher *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    p->slots = aligned_alloc(SL_CACHELINE_BYTES, reader_count * sizeof(*p->slots));
    p->retired = calloc(reader_count + 1, sizeof(*p->retired));
    if (p->slots == NULL || p->retired == NULL) {
        free(p->slots);
        free(p->retired);
        free(p);
        return NULL;
    }
    for (uint32_t i = 0; i < reader_count; i++) {
        atomic_init(&p->slots[i].hazard, NULL);
    }
    p->reader_count = reader_count;
    initial->publish_seq = ++p->next_seq;
    atomic_init(&p->current, sl_md_image_ref(initial));
    return p;
}

void sl_md_publisher_free(struct sl_md_publisher *p)
{
    if (p == NULL) {
        return;
    }
    for (uint32_t i = 0; i < p->retired_count; i++) {
        sl_md_image_unref(p->retired[i]);
    }
    sl_md_image_unref(atomic_load(&p->current));
    free(p->slots);
    free(p->retired);
    free(p);
}

static bool announced(struct sl_md_publisher *p, const struct sl_md_image *image)
{
    for (uint32_t i = 0; i < p->reader_count; i++) {
        if (atomic_load_explicit(&p->slots[i].hazard, memory_order_seq_cst) == image) {
            return true;
        }
    }
    return false;
}

uint32_t sl_md_publisher_reclaim(struct sl_md_publisher *p)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < p->retired_count; i++) {
        if (announced(p, p->retired[i])) {
            p->retired[kept++] = p->retired[i];
        } else {
            sl_md_image_unref(p->retired[i]);
        }
    }
    p->retired_count = kept;
    return kept;
}

void sl_md_publisher_publish(struct sl_md_publisher *p, struct sl_md_image *image)
{
    SL_ASSERT(image != NULL && image->sealed);
    image->publish_seq = ++p->next_seq;
    sl_md_image_ref(image);
    /* seq_cst: the swap must be ordered before the hazard scan in reclaim. */
    struct sl_md_image *old = atomic_exchange_explicit(&p->current, image, memory_order_seq_cst);
    /* After reclaim at most reader_count images stay retired, so one more always fits. */
    SL_ASSERT(p->retired_count <= p->reader_count);
    p->retired[p->retired_count++] = old;
    sl_md_publisher_reclaim(p);
}

const struct sl_md_image *sl_md_publisher_current(const struct sl_md_publisher *p)
{
    return atomic_load_explicit(&((struct sl_md_publisher *)p)->current, memory_order_acquire);
}

const struct sl_md_image *sl_md_publisher_acquire(struct sl_md_publisher *p, uint32_t reader)
{
    SL_ASSERT(reader < p->reader_count);
    struct reader_slot *slot = &p->slots[reader];
    /* Bounded in practice: it only repeats when a publish lands between the two loads,
     * and publishes happen at control-plane rates. */
    for (;;) {
        struct sl_md_image *image = atomic_load_explicit(&p->current, memory_order_acquire);
        atomic_store_explicit(&slot->hazard, image, memory_order_seq_cst);
        if (atomic_load_explicit(&p->current, memory_order_seq_cst) == image) {
            return image;
        }
    }
}

void sl_md_publisher_release(struct sl_md_publisher *p, uint32_t reader)
{
    SL_ASSERT(reader < p->reader_count);
    atomic_store_explicit(&p->slots[reader].hazard, NULL, memory_order_release);
}
