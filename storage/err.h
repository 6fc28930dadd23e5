/* Error codes of the storage layer: one value per distinct failure, so a Kafka handler
 * can map each to the right error code (noted per value) and count it.
 */
#ifndef SL_STORAGE_ERR_H
#define SL_STORAGE_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

enum sl_storage_err {
    SL_STORAGE_OK = 0,
    /* The operation continues asynchronously; its callback reports the outcome. */
    SL_STORAGE_IN_PROGRESS,

    /* Batch validation (bad client input; the log is untouched). */
    SL_STORAGE_ERR_BATCH_TRUNCATED, /* buffer shorter than header or batchLength: CORRUPT_MESSAGE */
    SL_STORAGE_ERR_BATCH_LENGTH,    /* batchLength smaller than a v2 header: CORRUPT_MESSAGE */
    SL_STORAGE_ERR_BATCH_MAGIC,     /* magic != 2: CORRUPT_MESSAGE (only v2 is stored) */
    SL_STORAGE_ERR_BATCH_CRC,       /* CRC32C mismatch: CORRUPT_MESSAGE */
    SL_STORAGE_ERR_BATCH_RECORD_COUNT, /* count < 1, != lastOffsetDelta+1, or too many:
                                          INVALID_RECORD */
    SL_STORAGE_ERR_BATCH_ATTRIBUTES,   /* unknown compression codec: INVALID_RECORD */
    SL_STORAGE_ERR_BATCH_PRODUCER,     /* producerId/epoch/sequence shape: INVALID_RECORD */
    SL_STORAGE_ERR_BATCH_TOO_LARGE,    /* batch > max.message.bytes: MESSAGE_TOO_LARGE */
    SL_STORAGE_ERR_BATCH_EMPTY,        /* no batch at all in the records field: INVALID_RECORD */
    SL_STORAGE_ERR_BATCH_TOO_MANY,     /* more batches in one append than allowed: INVALID_RECORD */

    /* Resources: backpressure, retry after sl_storage_poll made progress. */
    SL_STORAGE_ERR_NO_BUFFER, /* memory pool / cache has no unpinned chunk */
    SL_STORAGE_ERR_BUSY,      /* a per-log or per-engine queue bound is reached */

    /* I/O. A write error makes the log fail further appends (sticky). */
    SL_STORAGE_ERR_NO_SPACE, /* ENOSPC or EDQUOT: KAFKA_STORAGE_ERROR */
    SL_STORAGE_ERR_IO,       /* any other I/O errno: KAFKA_STORAGE_ERROR */

    /* Requests about offsets. */
    SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE, /* OFFSET_OUT_OF_RANGE */
    SL_STORAGE_ERR_NOT_FOUND,           /* no batch with timestamp >= target */

    /* Open / configuration. */
    SL_STORAGE_ERR_INVALID_ARGUMENT, /* config value or argument outside its range */
    SL_STORAGE_ERR_NO_MEMORY,        /* allocation failed at open/create time */
    SL_STORAGE_ERR_CORRUPT,          /* on-disk metadata that recovery cannot repair */
    SL_STORAGE_ERR_IN_USE,           /* the partition directory is open elsewhere (its .lock) */

    SL_STORAGE_ERR__COUNT
};

/* Short, stable, human-readable name of an error (never NULL). Any thread. */
const char *sl_storage_strerror(enum sl_storage_err err);

#ifdef __cplusplus
}
#endif

#endif
