/* Errors of the Kafka protocol codec (decode and encode), distinct from Kafka's own
 * error codes (kafka_errors.h). Every decode failure on client input maps to exactly one
 * of these values so the caller can count it and decide how to answer.
 */
#ifndef SL_CODEC_ERR_H
#define SL_CODEC_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

enum sl_codec_err {
    SL_CODEC_OK = 0,
    SL_CODEC_ERR_TRUNCATED,           /* a field runs past the end of the frame */
    SL_CODEC_ERR_BAD_VARINT,          /* unsigned varint longer than 5 bytes or > 32 bits */
    SL_CODEC_ERR_NEGATIVE_LENGTH,     /* length < -1, or -1 (null) where the type has no null */
    SL_CODEC_ERR_NULL_NOT_ALLOWED,    /* null string/bytes/array in a version where not nullable */
    SL_CODEC_ERR_ARRAY_TOO_LONG,      /* array count above the configured array_len_max */
    SL_CODEC_ERR_COUNT_EXCEEDS_DATA,  /* array count larger than the bytes left could hold */
    SL_CODEC_ERR_ARENA_EXHAUSTED,     /* per-request decode arena is full */
    SL_CODEC_ERR_TAG_SIZE_MISMATCH,   /* a known tagged field's size prefix disagrees with it */
    SL_CODEC_ERR_TRAILING_BYTES,      /* bytes left over after the message body */
    SL_CODEC_ERR_FRAME_TOO_LARGE,     /* frame longer than the configured frame_size_max */
    SL_CODEC_ERR_UNKNOWN_API,         /* api_key not served by sluice */
    SL_CODEC_ERR_UNSUPPORTED_VERSION, /* api_version outside the supported range */
    SL_CODEC_ERR_BUFFER_FULL,         /* encode: output buffer too small */
    SL_CODEC_ERR_GAPS_FULL,           /* encode: more zero-copy record segments than slots */
    SL_CODEC_ERR_VALUE_TOO_LARGE,     /* encode: string longer than int16 or count too large */
    SL_CODEC_ERR_COUNT_,              /* number of values; not an error */
};

/* Static, human-readable name of @err ("truncated", ...). Any thread. Never NULL. */
const char *sl_codec_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
