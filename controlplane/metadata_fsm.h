/* The raft state machine of the metadata log: each committed entry is one record batch
 * (metadata_records.h) applied to the metadata image; snapshots are the encoded image.
 *
 * Apply rules, identical on every node so every node ends with the same image:
 *  - a batch that does not fit the image (stale epoch, topic exists, ...) is a no-op;
 *    its error (negative errno) is the apply result the proposer sees;
 *  - a batch whose bytes are corrupt (bad CRC, unknown record type or version) stops
 *    this node's state machine: nothing more is applied, sl_md_fsm_error() says why, and
 *    the owner must stop the broker (a node never silently diverges).
 * Each new image version is sealed and, if a publisher is attached, published.
 *
 * Threads: raft calls the FSM on the loop thread that drives it (the control plane).
 */
#ifndef SL_METADATA_FSM_H
#define SL_METADATA_FSM_H

#include <raft.h>
#include <stdbool.h>
#include <stdint.h>

#include "controlplane/metadata_image.h"
#include "controlplane/metadata_publisher.h"

struct sl_md_fsm {
    struct raft_fsm raft_fsm;          /* hand &raft_fsm to raft_init */
    struct sl_md_image *image;         /* current version (one reference held) */
    struct sl_md_publisher *publisher; /* optional, not owned */
    uint64_t entries_applied;          /* batches applied, including no-op ones */
    uint64_t entries_rejected;         /* batches that did not fit the image */
    bool failed;
    char error[320];
};

/* Initializes an FSM holding the empty image. `publisher` may be NULL. Returns 0 or
 * -ENOMEM. */
int sl_md_fsm_init(struct sl_md_fsm *fsm, struct sl_md_publisher *publisher);
/* Releases the image; raft must no longer use the FSM. */
void sl_md_fsm_close(struct sl_md_fsm *fsm);
/* The FSM behind a raft_fsm pointer (e.g. from raft->fsm). */
struct sl_md_fsm *sl_md_fsm_from_raft(struct raft_fsm *raft_fsm);
/* NULL while healthy; otherwise why the FSM stopped (corrupt entry or snapshot). */
const char *sl_md_fsm_error(const struct sl_md_fsm *fsm);

/* Encodes records as a raft_malloc'd entry buffer for raft_apply. Returns 0 or -ENOMEM. */
int sl_md_fsm_encode_entry(const struct sl_md_record *records, size_t count,
                           struct raft_buffer *out);

/* Decodes the apply result raft hands to a raft_apply callback: 0 or a negative errno. */
int sl_md_fsm_apply_result(void *result);

#endif
