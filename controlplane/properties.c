#include "controlplane/properties.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sl_assert.h"

/* A logical line (continuations joined) with escapes still in place. */
struct logical_line {
    char *text;
    size_t len;
    size_t capacity;
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

static int line_append(struct logical_line *l, const char *p, size_t n)
{
    if (l->len + n + 1 > l->capacity) {
        size_t capacity = (l->len + n + 1) * 2;
        char *text = realloc(l->text, capacity);
        if (text == NULL) {
            return -ENOMEM;
        }
        l->text = text;
        l->capacity = capacity;
    }
    memcpy(l->text + l->len, p, n);
    l->len += n;
    l->text[l->len] = '\0';
    return 0;
}

/* A physical line continues when it ends in an odd number of backslashes. */
static bool ends_in_continuation(const char *p, size_t n)
{
    size_t backslashes = 0;
    while (backslashes < n && p[n - 1 - backslashes] == '\\') {
        backslashes++;
    }
    return backslashes % 2 == 1;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static size_t encode_utf8(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* Unescapes src[0..n) into dst (which has room for n + 1 bytes; output never grows). */
static int unescape(const char *src, size_t n, char *dst, unsigned line, char *err, size_t err_size)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c != '\\' || i + 1 == n) {
            if (c != '\\') {
                dst[out++] = c;
            }
            continue;
        }
        c = src[++i];
        switch (c) {
        case 't':
            dst[out++] = '\t';
            break;
        case 'n':
            dst[out++] = '\n';
            break;
        case 'r':
            dst[out++] = '\r';
            break;
        case 'f':
            dst[out++] = '\f';
            break;
        case 'u': {
            unsigned cp = 0;
            if (i + 4 >= n) {
                snprintf(err, err_size, "line %u: incomplete \\u escape", line);
                return -EINVAL;
            }
            for (int k = 1; k <= 4; k++) {
                int h = hex_value(src[i + (size_t)k]);
                if (h < 0) {
                    snprintf(err, err_size, "line %u: bad \\u escape (need 4 hex digits)", line);
                    return -EINVAL;
                }
                cp = cp * 16 + (unsigned)h;
            }
            i += 4;
            /* \uXXXX is 6 bytes of input and at most 3 of output. */
            out += encode_utf8(cp, dst + out);
            break;
        }
        default:
            dst[out++] = c;
            break;
        }
    }
    dst[out] = '\0';
    return 0;
}

/* Splits one logical line into key and value and hands them to pair_fn. */
static int emit_pair(struct logical_line *l, unsigned line, sl_properties_pair_fn pair_fn,
                     void *arg, char *err, size_t err_size)
{
    const char *t = l->text;
    size_t n = l->len;
    size_t i = 0;
    while (i < n && is_blank(t[i])) {
        i++;
    }
    if (i == n || t[i] == '#' || t[i] == '!') {
        return 0;
    }
    size_t key_start = i;
    while (i < n && t[i] != '=' && t[i] != ':' && !is_blank(t[i])) {
        if (t[i] == '\\') {
            i++;
        }
        i++;
    }
    size_t key_end = SL_MIN(i, n);
    while (i < n && is_blank(t[i])) {
        i++;
    }
    if (i < n && (t[i] == '=' || t[i] == ':')) {
        i++;
    }
    while (i < n && is_blank(t[i])) {
        i++;
    }
    if (key_end == key_start) {
        snprintf(err, err_size, "line %u: empty key before '%c'", line, t[key_start]);
        return -EINVAL;
    }
    char *key = malloc(key_end - key_start + 1);
    char *value = malloc(n - i + 1);
    int rc = -ENOMEM;
    if (key == NULL || value == NULL) {
        goto out_free;
    }
    rc = unescape(t + key_start, key_end - key_start, key, line, err, err_size);
    if (rc == 0) {
        rc = unescape(t + i, n - i, value, line, err, err_size);
    }
    if (rc == 0) {
        rc = pair_fn(key, value, line, arg);
    }
out_free:
    free(key);
    free(value);
    return rc;
}

int sl_properties_parse(const char *text, size_t len, sl_properties_pair_fn pair_fn, void *arg,
                        char *err, size_t err_size)
{
    SL_ASSERT(text != NULL || len == 0);
    SL_ASSERT(pair_fn != NULL);
    struct logical_line l = {0};
    unsigned line_no = 0;
    unsigned start_line = 0;
    bool continuing = false;
    size_t pos = 0;
    int rc = 0;

    while (pos < len && rc == 0) {
        size_t end = pos;
        while (end < len && text[end] != '\n' && text[end] != '\r') {
            end++;
        }
        size_t next = end;
        if (next < len && text[next] == '\r') {
            next++;
        }
        if (next < len && text[next] == '\n' && (next == end || text[end] == '\r')) {
            next++;
        }
        line_no++;
        const char *p = text + pos;
        size_t n = end - pos;
        if (continuing) {
            /* Leading whitespace of a continuation line is not part of the value. */
            while (n > 0 && is_blank(*p)) {
                p++;
                n--;
            }
        } else {
            start_line = line_no;
            l.len = 0;
            size_t k = 0;
            while (k < n && is_blank(p[k])) {
                k++;
            }
            /* A comment line never continues, even if it ends in a backslash. */
            if (k < n && (p[k] == '#' || p[k] == '!')) {
                pos = next;
                continue;
            }
        }
        bool more = ends_in_continuation(p, n);
        rc = line_append(&l, p, more ? n - 1 : n);
        if (rc == 0 && !more) {
            rc = emit_pair(&l, start_line, pair_fn, arg, err, err_size);
        }
        continuing = more;
        pos = next;
    }
    if (rc == 0 && continuing) {
        rc = emit_pair(&l, start_line, pair_fn, arg, err, err_size);
    }
    if (rc == -ENOMEM) {
        snprintf(err, err_size, "out of memory while parsing properties");
    }
    free(l.text);
    return rc;
}
