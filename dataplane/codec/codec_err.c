#include "dataplane/codec/codec_err.h"

static const char *const codec_err_names[SL_CODEC_ERR_COUNT_] = {
    [SL_CODEC_OK] = "ok",
    [SL_CODEC_ERR_TRUNCATED] = "truncated",
    [SL_CODEC_ERR_BAD_VARINT] = "bad varint",
    [SL_CODEC_ERR_NEGATIVE_LENGTH] = "negative length",
    [SL_CODEC_ERR_NULL_NOT_ALLOWED] = "null not allowed in this version",
    [SL_CODEC_ERR_ARRAY_TOO_LONG] = "array longer than configured maximum",
    [SL_CODEC_ERR_COUNT_EXCEEDS_DATA] = "array count exceeds remaining bytes",
    [SL_CODEC_ERR_ARENA_EXHAUSTED] = "decode arena exhausted",
    [SL_CODEC_ERR_TAG_SIZE_MISMATCH] = "tagged field size mismatch",
    [SL_CODEC_ERR_TRAILING_BYTES] = "trailing bytes after message",
    [SL_CODEC_ERR_FRAME_TOO_LARGE] = "frame larger than configured maximum",
    [SL_CODEC_ERR_UNKNOWN_API] = "unknown api key",
    [SL_CODEC_ERR_UNSUPPORTED_VERSION] = "unsupported api version",
    [SL_CODEC_ERR_BUFFER_FULL] = "output buffer full",
    [SL_CODEC_ERR_GAPS_FULL] = "zero-copy segment slots full",
    [SL_CODEC_ERR_VALUE_TOO_LARGE] = "value too large to encode",
};

const char *sl_codec_strerror(int err)
{
    if (err < 0 || err >= SL_CODEC_ERR_COUNT_ || codec_err_names[err] == 0)
        return "unknown codec error";
    return codec_err_names[err];
}
