/* Publication of metadata image versions to readers on other threads, lock-free on the
 * read side.
 *
 * The rule (hazard pointers, one per reader):
 *  - The control-plane thread publishes a sealed image: it swaps it into `current` and
 *    puts the previous one on a retired list.
 *  - A reader (a dataplane shard, identified by a fixed slot index) calls
 *    sl_md_publisher_acquire() once per poll-loop pass: it announces the image pointer in
 *    its slot, then checks that it is still current (retrying otherwise). From then on
 *    it may read that image freely, without locks, until its next acquire or release.
 *  - A retired image is freed (on the control-plane thread, by publish or reclaim) only
 *    when no slot announces it. Each reader holds at most one image, so at most
 *    reader_count + 1 images are ever retired: memory is bounded by configuration.
 * Readers never write to images and never free them.
 */
#ifndef SL_METADATA_PUBLISHER_H
#define SL_METADATA_PUBLISHER_H

#include <stdint.h>

#include "controlplane/metadata_image.h"

#define SL_MD_PUBLISHER_READERS_MAX 256

struct sl_md_publisher;

/* Creates a publisher for `reader_count` (1..SL_MD_PUBLISHER_READERS_MAX) reader slots,
 * publishing `initial` (sealed; the publisher takes its own reference). Control-plane
 * thread. Returns NULL on ENOMEM. */
struct sl_md_publisher *sl_md_publisher_new(uint32_t reader_count, struct sl_md_image *initial);

/* Frees the publisher and its references. Every reader must have stopped reading. */
void sl_md_publisher_free(struct sl_md_publisher *publisher);

/* Makes `image` (sealed) the current version, taking a reference, and frees retired
 * versions no reader holds. Control-plane thread only. */
void sl_md_publisher_publish(struct sl_md_publisher *publisher, struct sl_md_image *image);

/* Frees retired versions no reader holds; returns how many stay retired. Control-plane
 * thread only (call it now and then, e.g. on a timer, so released versions go away). */
uint32_t sl_md_publisher_reclaim(struct sl_md_publisher *publisher);

/* The current image as seen by the control-plane thread (no protection needed there). */
const struct sl_md_image *sl_md_publisher_current(const struct sl_md_publisher *publisher);

/* Reader side: protects and returns the current image for reader slot `reader`. Only the
 * thread owning that slot may call it. Lock-free, no allocation; valid until the next
 * acquire or release on the same slot. */
const struct sl_md_image *sl_md_publisher_acquire(struct sl_md_publisher *publisher,
                                                  uint32_t reader);

/* Reader side: drops the protection of slot `reader` (e.g. before a shard idles). */
void sl_md_publisher_release(struct sl_md_publisher *publisher, uint32_t reader);

#endif
