/* Java-properties text parser (the format of Kafka's server.properties).
 *
 * Supported: comment lines starting with '#' or '!', separators '=', ':' or whitespace,
 * whitespace trimming around keys and before values, line continuations with a trailing
 * backslash (odd count), and the escapes \t \n \r \f \\ \uXXXX (encoded as UTF-8).
 * Pure function of its input; any thread may call it.
 */
#ifndef SL_PROPERTIES_H
#define SL_PROPERTIES_H

#include <stddef.h>

/* Called once per key/value pair in file order. `line` is the 1-based line the pair
 * starts on. key and value are NUL-terminated and valid only during the call. Return 0
 * to continue, non-zero to stop parsing (that value is returned by the parser). */
typedef int (*sl_properties_pair_fn)(const char *key, const char *value, unsigned line, void *arg);

/* Parses `len` bytes of `text` and calls `pair_fn` for each entry. Returns 0, the first
 * non-zero value returned by pair_fn, -EINVAL for malformed text (a bad \u escape or a
 * line with an empty key; err names the line), or -ENOMEM. */
int sl_properties_parse(const char *text, size_t len, sl_properties_pair_fn pair_fn, void *arg,
                        char *err, size_t err_size);

#endif
