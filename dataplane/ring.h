/* A bounded single-producer / single-consumer ring of pointers between two shards.
 * The producer thread only pushes, the consumer thread only pops; release/acquire on the
 * indexes publish the pointed-to memory with the pointer. Capacity is a power of two,
 * fixed at init. No locks, no system calls.
 */
#ifndef SL_DP_RING_H
#define SL_DP_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/sl_compiler.h"

struct sl_dp_ring {
    SL_CACHE_ALIGNED atomic_uint_fast32_t head; /* next slot to pop (consumer) */
    SL_CACHE_ALIGNED atomic_uint_fast32_t tail; /* next slot to push (producer) */
    SL_CACHE_ALIGNED uint32_t mask;
    void **slots;
};

/* Initialises over caller-owned slots (capacity entries, a power of two). */
static inline void sl_dp_ring_init(struct sl_dp_ring *r, void **slots, uint32_t capacity)
{
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->mask = capacity - 1;
    r->slots = slots;
}

/* Producer side: false when full. */
static inline bool sl_dp_ring_push(struct sl_dp_ring *r, void *item)
{
    uint_fast32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint_fast32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    if (tail - head > r->mask)
        return false;
    r->slots[tail & r->mask] = item;
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
    return true;
}

/* Consumer side: NULL when empty. */
static inline void *sl_dp_ring_pop(struct sl_dp_ring *r)
{
    uint_fast32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint_fast32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head == tail)
        return NULL;
    void *item = r->slots[head & r->mask];
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    return item;
}

#endif
