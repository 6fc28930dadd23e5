#include "controlplane/metadata_fsm.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/sl_assert.h"

struct sl_md_fsm *sl_md_fsm_from_raft(struct raft_fsm *raft_fsm)
{
    return raft_fsm->data;
}

const char *sl_md_fsm_error(const struct sl_md_fsm *fsm)
{
    return fsm->failed ? fsm->error : NULL;
}

int sl_md_fsm_apply_result(void *result)
{
    return (int)(intptr_t)result;
}

static void install(struct sl_md_fsm *fsm, struct sl_md_image *image)
{
    sl_md_image_unref(fsm->image);
    fsm->image = image;
    if (fsm->publisher != NULL) {
        sl_md_publisher_publish(fsm->publisher, image);
    }
}

static int fsm_apply(struct raft_fsm *raft_fsm, const struct raft_buffer *buf, void **result)
{
    struct sl_md_fsm *fsm = raft_fsm->data;
    *result = (void *)(intptr_t)-EIO;
    if (fsm->failed) {
        return 0;
    }
    struct sl_md_image *next = NULL;
    char why[256] = "";
    int rc = sl_md_image_apply_batch(fsm->image, buf->base, buf->len, &next, why, sizeof(why));
    fsm->entries_applied++;
    if (rc == -EBADMSG || rc == -ENOMEM) {
        /* Not deterministic across nodes (a disk or memory fault here only): stop rather
         * than continue with an image the other nodes do not have. */
        fsm->failed = true;
        snprintf(fsm->error, sizeof(fsm->error),
                 "metadata log entry %llu cannot be applied: %s; this node stops applying the "
                 "metadata log",
                 (unsigned long long)fsm->entries_applied, why);
        return 0;
    }
    *result = (void *)(intptr_t)rc;
    if (rc != 0) {
        fsm->entries_rejected++;
        return 0;
    }
    install(fsm, next);
    return 0;
}

static int fsm_snapshot(struct raft_fsm *raft_fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct sl_md_fsm *fsm = raft_fsm->data;
    if (fsm->failed) {
        return RAFT_CORRUPT;
    }
    struct raft_buffer *buf = raft_malloc(sizeof(*buf));
    if (buf == NULL) {
        return RAFT_NOMEM;
    }
    if (sl_md_image_encode(fsm->image, raft_malloc, &buf->base, &buf->len) != 0) {
        raft_free(buf);
        return RAFT_NOMEM;
    }
    *bufs = buf;
    *n_bufs = 1;
    return 0;
}

/* Version 2: raft leaves the snapshot buffers to us once it has written them. */
static int fsm_snapshot_finalize(struct raft_fsm *raft_fsm, struct raft_buffer *bufs[],
                                 unsigned *n_bufs)
{
    (void)raft_fsm;
    if (*bufs == NULL) {
        return 0;
    }
    for (unsigned i = 0; i < *n_bufs; i++) {
        raft_free((*bufs)[i].base);
    }
    raft_free(*bufs);
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

static int fsm_restore(struct raft_fsm *raft_fsm, struct raft_buffer *buf)
{
    struct sl_md_fsm *fsm = raft_fsm->data;
    struct sl_md_image *image = NULL;
    char why[256] = "";
    int rc = sl_md_image_decode(buf->base, buf->len, &image, why, sizeof(why));
    if (rc != 0) {
        fsm->failed = true;
        snprintf(fsm->error, sizeof(fsm->error), "metadata snapshot cannot be restored: %s", why);
        return rc == -ENOMEM ? RAFT_NOMEM : RAFT_CORRUPT;
    }
    /* On success the FSM owns the snapshot buffer. */
    raft_free(buf->base);
    install(fsm, image);
    return 0;
}

int sl_md_fsm_init(struct sl_md_fsm *fsm, struct sl_md_publisher *publisher)
{
    memset(fsm, 0, sizeof(*fsm));
    fsm->image = sl_md_image_new();
    if (fsm->image == NULL) {
        return -ENOMEM;
    }
    fsm->publisher = publisher;
    fsm->raft_fsm.version = 2;
    fsm->raft_fsm.data = fsm;
    fsm->raft_fsm.apply = fsm_apply;
    fsm->raft_fsm.snapshot = fsm_snapshot;
    fsm->raft_fsm.snapshot_finalize = fsm_snapshot_finalize;
    fsm->raft_fsm.restore = fsm_restore;
    return 0;
}

void sl_md_fsm_close(struct sl_md_fsm *fsm)
{
    sl_md_image_unref(fsm->image);
    fsm->image = NULL;
}

int sl_md_fsm_encode_entry(const struct sl_md_record *records, size_t count,
                           struct raft_buffer *out)
{
    SL_ASSERT(count >= 1);
    size_t len = sl_md_batch_size(records, count);
    /* libraft's on-disk batches assume entry sizes that are multiples of 8 bytes; an
     * unpadded entry is written in a way it cannot read back. */
    size_t padded = (len + 7) & ~(size_t)7;
    out->base = raft_calloc(1, padded);
    if (out->base == NULL) {
        return -ENOMEM;
    }
    sl_md_batch_encode(records, count, out->base, len);
    out->len = padded;
    return 0;
}
