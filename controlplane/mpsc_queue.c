#include "controlplane/mpsc_queue.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#include "common/sl_assert.h"
#include "common/sl_compiler.h"

/* Each cell's sequence says whose turn it is: pos for a producer, pos + 1 for the
 * consumer; the consumer hands it back as pos + capacity. */
struct cell {
    _Atomic size_t sequence;
    void *item;
};

struct sl_mpsc_queue {
    struct cell *cells;
    size_t mask;
    SL_CACHE_ALIGNED _Atomic size_t enqueue_pos;
    SL_CACHE_ALIGNED size_t dequeue_pos;
};

struct sl_mpsc_queue *sl_mpsc_queue_new(uint32_t capacity)
{
    SL_ASSERT(capacity >= 2);
    size_t size = 2;
    while (size < capacity) {
        size *= 2;
    }
    struct sl_mpsc_queue *q = aligned_alloc(SL_CACHELINE_BYTES, sizeof(*q));
    if (q == NULL) {
        return NULL;
    }
    q->cells = calloc(size, sizeof(*q->cells));
    if (q->cells == NULL) {
        free(q);
        return NULL;
    }
    for (size_t i = 0; i < size; i++) {
        atomic_init(&q->cells[i].sequence, i);
    }
    q->mask = size - 1;
    atomic_init(&q->enqueue_pos, 0);
    q->dequeue_pos = 0;
    return q;
}

void sl_mpsc_queue_free(struct sl_mpsc_queue *q)
{
    if (q != NULL) {
        free(q->cells);
        free(q);
    }
}

bool sl_mpsc_queue_push(struct sl_mpsc_queue *q, void *item)
{
    SL_ASSERT(item != NULL);
    size_t pos = atomic_load_explicit(&q->enqueue_pos, memory_order_relaxed);
    struct cell *c;
    for (;;) {
        c = &q->cells[pos & q->mask];
        size_t seq = atomic_load_explicit(&c->sequence, memory_order_acquire);
        intptr_t diff = (intptr_t)seq - (intptr_t)pos;
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->enqueue_pos, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                break;
            }
        } else if (diff < 0) {
            return false;
        } else {
            pos = atomic_load_explicit(&q->enqueue_pos, memory_order_relaxed);
        }
    }
    c->item = item;
    atomic_store_explicit(&c->sequence, pos + 1, memory_order_release);
    return true;
}

void *sl_mpsc_queue_pop(struct sl_mpsc_queue *q)
{
    size_t pos = q->dequeue_pos;
    struct cell *c = &q->cells[pos & q->mask];
    size_t seq = atomic_load_explicit(&c->sequence, memory_order_acquire);
    if ((intptr_t)seq - (intptr_t)(pos + 1) != 0) {
        return NULL;
    }
    void *item = c->item;
    q->dequeue_pos = pos + 1;
    atomic_store_explicit(&c->sequence, pos + q->mask + 1, memory_order_release);
    return item;
}
