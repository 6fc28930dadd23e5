/* Bounded multi-producer / single-consumer queue of pointers (lock-free, after Dmitry
 * Vyukov's bounded queue). Producers: any thread. Consumer: one thread.
 */
#ifndef SL_MPSC_QUEUE_H
#define SL_MPSC_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

struct sl_mpsc_queue;

/* Creates a queue holding at least `capacity` (>= 2) items (rounded up to a power of
 * two). Returns NULL on ENOMEM. */
struct sl_mpsc_queue *sl_mpsc_queue_new(uint32_t capacity);
/* Frees the queue; items still queued are not touched. */
void sl_mpsc_queue_free(struct sl_mpsc_queue *queue);
/* Appends `item` (not NULL). Any thread. Returns false when the queue is full. */
bool sl_mpsc_queue_push(struct sl_mpsc_queue *queue, void *item);
/* Removes the oldest item; NULL when empty. Consumer thread only. */
void *sl_mpsc_queue_pop(struct sl_mpsc_queue *queue);

#endif
