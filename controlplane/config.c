#include "controlplane/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/sl_assert.h"
#include "common/sl_compiler.h"
#include "controlplane/properties.h"

#define SL_CONFIG_ROW(id, name, type, def, min, max, allowed, doc)                                 \
    [SL_CONFIG_##id] = {name, SL_CONFIG_##type, def, min, max, allowed, "", doc},
static const struct sl_config_key_info config_keys[SL_CONFIG_KEY_COUNT] = {
    SL_CONFIG_KEYS(SL_CONFIG_ROW)};
#undef SL_CONFIG_ROW

#define SL_TOPIC_CONFIG_ROW(id, name, type, def, min, max, allowed, broker_key, doc)               \
    [SL_TOPIC_CONFIG_##id] = {name, SL_CONFIG_##type, def, min, max, allowed, broker_key, doc},
static const struct sl_config_key_info topic_config_keys[SL_TOPIC_CONFIG_KEY_COUNT] = {
    SL_TOPIC_CONFIG_KEYS(SL_TOPIC_CONFIG_ROW)};
#undef SL_TOPIC_CONFIG_ROW

static void set_error(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t err_size, const char *fmt, ...)
{
    if (err == NULL || err_size == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

const struct sl_config_key_info *sl_config_key_table(void)
{
    return config_keys;
}

const struct sl_config_key_info *sl_topic_config_key_table(void)
{
    return topic_config_keys;
}

static int find_key(const struct sl_config_key_info *table, int count, const char *name)
{
    for (int i = 0; i < count; i++) {
        if (strcmp(table[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

int sl_config_key_find(const char *name)
{
    return find_key(config_keys, SL_CONFIG_KEY_COUNT, name);
}

int sl_topic_config_key_find(const char *name)
{
    return find_key(topic_config_keys, SL_TOPIC_CONFIG_KEY_COUNT, name);
}

/* True when `item` (length n) is one of the '|'-separated words of `allowed`. */
static bool word_allowed(const char *allowed, const char *item, size_t n)
{
    const char *p = allowed;
    while (*p != '\0') {
        const char *end = strchr(p, '|');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, item, n) == 0) {
            return true;
        }
        p += len;
        if (*p == '|') {
            p++;
        }
    }
    return false;
}

static void allowed_text(const char *allowed, char *out, size_t out_size)
{
    size_t o = 0;
    for (const char *p = allowed; *p != '\0' && o + 3 < out_size; p++) {
        if (*p == '|') {
            out[o++] = ',';
            out[o++] = ' ';
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

/* Checks `value` against one key row and returns its integer form for INT and BOOL. */
static int check_value(const struct sl_config_key_info *info, const char *value, int64_t *out,
                       char *err, size_t err_size)
{
    char allowed[256];
    *out = 0;
    switch (info->type) {
    case SL_CONFIG_INT: {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (value[0] == '\0' || *end != '\0' || errno == ERANGE || v < info->min || v > info->max) {
            set_error(err, err_size,
                      "config key '%s': bad value '%s': expected an integer from %lld to %lld",
                      info->name, value, (long long)info->min, (long long)info->max);
            return -EINVAL;
        }
        *out = v;
        return 0;
    }
    case SL_CONFIG_BOOL:
        if (strcasecmp(value, "true") == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(value, "false") == 0) {
            return 0;
        }
        set_error(err, err_size, "config key '%s': bad value '%s': expected true or false",
                  info->name, value);
        return -EINVAL;
    case SL_CONFIG_ENUM:
        if (word_allowed(info->allowed, value, strlen(value))) {
            return 0;
        }
        allowed_text(info->allowed, allowed, sizeof(allowed));
        set_error(err, err_size, "config key '%s': bad value '%s': expected one of %s", info->name,
                  value, allowed);
        return -EINVAL;
    case SL_CONFIG_LIST: {
        const char *p = value;
        allowed_text(info->allowed, allowed, sizeof(allowed));
        for (;;) {
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            const char *end = p;
            while (*end != '\0' && *end != ',') {
                end++;
            }
            const char *item_end = end;
            while (item_end > p && (item_end[-1] == ' ' || item_end[-1] == '\t')) {
                item_end--;
            }
            size_t n = (size_t)(item_end - p);
            if (n == 0) {
                set_error(err, err_size,
                          "config key '%s': bad value '%s': empty item in list (allowed: %s)",
                          info->name, value, info->allowed[0] ? allowed : "any text");
                return -EINVAL;
            }
            if (info->allowed[0] != '\0' && !word_allowed(info->allowed, p, n)) {
                set_error(err, err_size,
                          "config key '%s': bad value '%s': item '%.*s' is not one of %s",
                          info->name, value, (int)n, p, allowed);
                return -EINVAL;
            }
            if (*end == '\0') {
                return 0;
            }
            p = end + 1;
        }
    }
    case SL_CONFIG_STRING:
        return 0;
    }
    SL_ASSERT(false);
    return -EINVAL;
}

static int store_value(struct sl_config_value *v, const struct sl_config_key_info *info,
                       const char *value, enum sl_config_source source, unsigned line, char *err,
                       size_t err_size)
{
    int64_t int_value;
    int rc = check_value(info, value, &int_value, err, err_size);
    if (rc != 0) {
        return rc;
    }
    char *text = strdup(value);
    if (text == NULL) {
        set_error(err, err_size, "out of memory");
        return -ENOMEM;
    }
    free(v->text);
    v->text = text;
    v->int_value = int_value;
    v->is_set = true;
    v->source = source;
    v->line = line;
    return 0;
}

int sl_config_init_defaults(struct sl_config *cfg)
{
    SL_ASSERT(cfg != NULL);
    memset(cfg, 0, sizeof(*cfg));
    for (int i = 0; i < SL_CONFIG_KEY_COUNT; i++) {
        const struct sl_config_key_info *info = &config_keys[i];
        if (info->default_value == NULL) {
            continue;
        }
        char err[256];
        int rc = store_value(&cfg->values[i], info, info->default_value, SL_CONFIG_SOURCE_DEFAULT,
                             0, err, sizeof(err));
        if (rc == -ENOMEM) {
            sl_config_free(cfg);
            return rc;
        }
        /* A default that fails its own table's check is a bug in config_keys.h. */
        SL_ASSERT(rc == 0);
    }
    return 0;
}

void sl_config_free(struct sl_config *cfg)
{
    for (int i = 0; i < SL_CONFIG_KEY_COUNT; i++) {
        free(cfg->values[i].text);
        cfg->values[i].text = NULL;
        cfg->values[i].is_set = false;
    }
}

int sl_config_set(struct sl_config *cfg, const char *key, const char *value,
                  enum sl_config_source source, unsigned line, char *err, size_t err_size)
{
    SL_ASSERT(cfg != NULL && key != NULL && value != NULL);
    int index = sl_config_key_find(key);
    if (index < 0) {
        int topic_index = sl_topic_config_key_find(key);
        if (topic_index >= 0 && topic_config_keys[topic_index].broker_key[0] != '\0') {
            set_error(err, err_size,
                      "unknown config key '%s' (it is a topic-level key; the broker key is "
                      "'%s')",
                      key, topic_config_keys[topic_index].broker_key);
        } else {
            set_error(err, err_size,
                      "unknown config key '%s' (see docs/configuration.md for every key)", key);
        }
        return -ENOENT;
    }
    return store_value(&cfg->values[index], &config_keys[index], value, source, line, err,
                       err_size);
}

struct load_ctx {
    struct sl_config *cfg;
    const char *name;
    char *err;
    size_t err_size;
    unsigned lines[SL_CONFIG_KEY_COUNT]; /* line each key was set on in this text */
};

static int load_pair(const char *key, const char *value, unsigned line, void *arg)
{
    struct load_ctx *ctx = arg;
    char why[512];
    int index = sl_config_key_find(key);
    if (index >= 0 && ctx->lines[index] != 0) {
        set_error(ctx->err, ctx->err_size,
                  "%s:%u: config key '%s' is set twice (first on line %u); remove one", ctx->name,
                  line, key, ctx->lines[index]);
        return -EINVAL;
    }
    int rc = sl_config_set(ctx->cfg, key, value, SL_CONFIG_SOURCE_FILE, line, why, sizeof(why));
    if (rc != 0) {
        set_error(ctx->err, ctx->err_size, "%s:%u: %s", ctx->name, line, why);
        return rc;
    }
    ctx->lines[index] = line;
    return 0;
}

int sl_config_load_text(struct sl_config *cfg, const char *name, const char *text, size_t len,
                        char *err, size_t err_size)
{
    struct load_ctx *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        set_error(err, err_size, "out of memory");
        return -ENOMEM;
    }
    ctx->cfg = cfg;
    ctx->name = name;
    ctx->err = err;
    ctx->err_size = err_size;
    char why[512] = "";
    int rc = sl_properties_parse(text, len, load_pair, ctx, why, sizeof(why));
    if (rc != 0 && why[0] != '\0') {
        set_error(err, err_size, "%s: %s", name, why);
    }
    free(ctx);
    return rc;
}

int sl_config_load_file(struct sl_config *cfg, const char *path, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int rc = -errno;
        set_error(err, err_size, "cannot open config file '%s': %s", path, strerror(-rc));
        return rc;
    }
    char *text = NULL;
    size_t len = 0;
    size_t capacity = 0;
    int rc = 0;
    for (;;) {
        if (len + 4096 > capacity) {
            /* server.properties is small; 16 MiB is far beyond any real one. */
            if (capacity >= (16u << 20)) {
                set_error(err, err_size, "config file '%s' is larger than 16 MiB", path);
                rc = -EFBIG;
                goto out;
            }
            capacity = capacity ? capacity * 2 : 8192;
            char *grown = realloc(text, capacity);
            if (grown == NULL) {
                set_error(err, err_size, "out of memory");
                rc = -ENOMEM;
                goto out;
            }
            text = grown;
        }
        size_t n = fread(text + len, 1, capacity - len, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    if (ferror(f)) {
        rc = -EIO;
        set_error(err, err_size, "cannot read config file '%s'", path);
        goto out;
    }
    rc = sl_config_load_text(cfg, path, text, len, err, err_size);
out:
    free(text);
    fclose(f);
    return rc;
}

static int apply_override(struct sl_config *cfg, const char *pair, char *err, size_t err_size)
{
    const char *eq = strchr(pair, '=');
    if (eq == NULL || eq == pair) {
        set_error(err, err_size, "--override needs key=value, got '%s'", pair);
        return -EINVAL;
    }
    char key[256];
    size_t key_len = (size_t)(eq - pair);
    if (key_len >= sizeof(key)) {
        set_error(err, err_size, "--override key too long in '%s'", pair);
        return -EINVAL;
    }
    memcpy(key, pair, key_len);
    key[key_len] = '\0';
    char why[512];
    int rc = sl_config_set(cfg, key, eq + 1, SL_CONFIG_SOURCE_OVERRIDE, 0, why, sizeof(why));
    if (rc != 0) {
        set_error(err, err_size, "--override %s: %s", pair, why);
    }
    return rc;
}

int sl_config_load_args(struct sl_config *cfg, int argc, const char *const argv[], char *err,
                        size_t err_size)
{
    int rc = sl_config_init_defaults(cfg);
    if (rc != 0) {
        set_error(err, err_size, "out of memory");
        return rc;
    }
    const char *path = NULL;
    /* The file goes first so overrides win regardless of their position. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--override") == 0) {
            i++;
            continue;
        }
        if (strncmp(argv[i], "--", 2) == 0) {
            set_error(err, err_size,
                      "unknown option '%s' (usage: sluiced [server.properties] "
                      "[--override key=value]...)",
                      argv[i]);
            rc = -EINVAL;
            goto fail;
        }
        if (path != NULL) {
            set_error(err, err_size, "more than one config file given: '%s' and '%s'", path,
                      argv[i]);
            rc = -EINVAL;
            goto fail;
        }
        path = argv[i];
    }
    if (path != NULL) {
        rc = sl_config_load_file(cfg, path, err, err_size);
        if (rc != 0) {
            goto fail;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--override") != 0) {
            continue;
        }
        if (i + 1 >= argc) {
            set_error(err, err_size, "--override needs a key=value argument");
            rc = -EINVAL;
            goto fail;
        }
        rc = apply_override(cfg, argv[++i], err, err_size);
        if (rc != 0) {
            goto fail;
        }
    }
    rc = sl_config_validate(cfg, err, err_size);
    if (rc != 0) {
        goto fail;
    }
    return 0;
fail:
    sl_config_free(cfg);
    return rc;
}

int64_t sl_config_int(const struct sl_config *cfg, enum sl_config_key key)
{
    SL_ASSERT(key < SL_CONFIG_KEY_COUNT);
    SL_ASSERT(config_keys[key].type == SL_CONFIG_INT);
    return cfg->values[key].int_value;
}

bool sl_config_bool(const struct sl_config *cfg, enum sl_config_key key)
{
    SL_ASSERT(key < SL_CONFIG_KEY_COUNT);
    SL_ASSERT(config_keys[key].type == SL_CONFIG_BOOL);
    return cfg->values[key].int_value != 0;
}

const char *sl_config_string(const struct sl_config *cfg, enum sl_config_key key)
{
    SL_ASSERT(key < SL_CONFIG_KEY_COUNT);
    SL_ASSERT(config_keys[key].type != SL_CONFIG_INT && config_keys[key].type != SL_CONFIG_BOOL);
    return cfg->values[key].is_set ? cfg->values[key].text : NULL;
}

bool sl_config_is_set(const struct sl_config *cfg, enum sl_config_key key)
{
    SL_ASSERT(key < SL_CONFIG_KEY_COUNT);
    return cfg->values[key].is_set;
}

static bool list_contains(const char *list, const char *item)
{
    size_t n = strlen(item);
    const char *p = list;
    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        const char *end = strchr(p, ',');
        const char *item_end = end ? end : p + strlen(p);
        while (item_end > p && (item_end[-1] == ' ' || item_end[-1] == '\t')) {
            item_end--;
        }
        if ((size_t)(item_end - p) == n && strncmp(p, item, n) == 0) {
            return true;
        }
        p = end ? end + 1 : NULL;
    }
    return false;
}

bool sl_config_has_role(const struct sl_config *cfg, const char *role)
{
    const char *roles = sl_config_string(cfg, SL_CONFIG_PROCESS_ROLES);
    return roles != NULL && list_contains(roles, role);
}

int64_t sl_config_log_retention_ms(const struct sl_config *cfg)
{
    if (sl_config_is_set(cfg, SL_CONFIG_LOG_RETENTION_MS)) {
        return sl_config_int(cfg, SL_CONFIG_LOG_RETENTION_MS);
    }
    if (sl_config_is_set(cfg, SL_CONFIG_LOG_RETENTION_MINUTES)) {
        int64_t minutes = sl_config_int(cfg, SL_CONFIG_LOG_RETENTION_MINUTES);
        return minutes < 0 ? -1 : minutes * 60 * 1000;
    }
    int64_t hours = sl_config_int(cfg, SL_CONFIG_LOG_RETENTION_HOURS);
    return hours < 0 ? -1 : hours * 3600 * 1000;
}

int sl_config_metadata_log_dir(const struct sl_config *cfg, char *out, size_t out_size)
{
    const char *dir = sl_config_string(cfg, SL_CONFIG_METADATA_LOG_DIR);
    int n;
    if (dir != NULL) {
        n = snprintf(out, out_size, "%s", dir);
    } else {
        const char *dirs = sl_config_string(cfg, SL_CONFIG_LOG_DIRS);
        SL_ASSERT(dirs != NULL);
        size_t first = strcspn(dirs, ",");
        n = snprintf(out, out_size, "%.*s/__cluster_metadata-0", (int)first, dirs);
    }
    return (n < 0 || (size_t)n >= out_size) ? -ENAMETOOLONG : 0;
}

/* Parses "host:port" (host may be empty or a [v6] literal) at p[0..n). */
static int parse_host_port(const char *p, size_t n, char *host, uint16_t *port)
{
    const char *colon = NULL;
    for (size_t i = n; i > 0; i--) {
        if (p[i - 1] == ':') {
            colon = p + i - 1;
            break;
        }
    }
    if (colon == NULL) {
        return -EINVAL;
    }
    size_t host_len = (size_t)(colon - p);
    const char *port_text = colon + 1;
    size_t port_len = n - host_len - 1;
    if (host_len >= SL_CONFIG_HOST_BYTES_MAX || port_len == 0 || port_len > 5) {
        return -EINVAL;
    }
    unsigned value = 0;
    for (size_t i = 0; i < port_len; i++) {
        if (!isdigit((unsigned char)port_text[i])) {
            return -EINVAL;
        }
        value = value * 10 + (unsigned)(port_text[i] - '0');
    }
    if (value > 65535) {
        return -EINVAL;
    }
    memcpy(host, p, host_len);
    host[host_len] = '\0';
    *port = (uint16_t)value;
    return 0;
}

/* Calls item_fn for each trimmed, non-empty comma-separated item of text. */
static int for_each_item(const char *text, int (*item_fn)(const char *p, size_t n, void *arg),
                         void *arg)
{
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        const char *end = strchr(p, ',');
        const char *item_end = end ? end : p + strlen(p);
        while (item_end > p && (item_end[-1] == ' ' || item_end[-1] == '\t')) {
            item_end--;
        }
        int rc = item_fn(p, (size_t)(item_end - p), arg);
        if (rc != 0) {
            return rc;
        }
        if (end == NULL) {
            return 0;
        }
        p = end + 1;
    }
}

struct listener_parse {
    const char *key;
    struct sl_config_listener *out;
    int out_max;
    int count;
    char *err;
    size_t err_size;
};

static int parse_listener_item(const char *p, size_t n, void *arg)
{
    struct listener_parse *lp = arg;
    const char *sep = NULL;
    for (size_t i = 0; i + 2 < n; i++) {
        if (p[i] == ':' && p[i + 1] == '/' && p[i + 2] == '/') {
            sep = p + i;
            break;
        }
    }
    if (n == 0) {
        set_error(lp->err, lp->err_size, "config key '%s': empty listener in list", lp->key);
        return -EINVAL;
    }
    size_t name_len = sep ? (size_t)(sep - p) : 0;
    if (sep == NULL || name_len == 0 || name_len >= SL_CONFIG_NAME_BYTES_MAX) {
        set_error(lp->err, lp->err_size,
                  "config key '%s': bad listener '%.*s': expected NAME://host:port", lp->key,
                  (int)n, p);
        return -EINVAL;
    }
    for (size_t i = 0; i < name_len; i++) {
        if (!(isupper((unsigned char)p[i]) || isdigit((unsigned char)p[i]) || p[i] == '_')) {
            set_error(lp->err, lp->err_size,
                      "config key '%s': bad listener name '%.*s': use A-Z, 0-9 and _", lp->key,
                      (int)name_len, p);
            return -EINVAL;
        }
    }
    if (lp->count == lp->out_max) {
        set_error(lp->err, lp->err_size, "config key '%s': more than %d listeners", lp->key,
                  lp->out_max);
        return -EINVAL;
    }
    struct sl_config_listener *l = &lp->out[lp->count];
    const char *hp = sep + 3;
    if (parse_host_port(hp, n - name_len - 3, l->host, &l->port) != 0) {
        set_error(lp->err, lp->err_size,
                  "config key '%s': bad listener '%.*s': expected NAME://host:port with a port "
                  "from 0 to 65535",
                  lp->key, (int)n, p);
        return -EINVAL;
    }
    memcpy(l->name, p, name_len);
    l->name[name_len] = '\0';
    for (int i = 0; i < lp->count; i++) {
        if (strcmp(lp->out[i].name, l->name) == 0) {
            set_error(lp->err, lp->err_size, "config key '%s': listener name '%s' is used twice",
                      lp->key, l->name);
            return -EINVAL;
        }
        if (l->port != 0 && lp->out[i].port == l->port && strcmp(lp->out[i].host, l->host) == 0) {
            set_error(lp->err, lp->err_size,
                      "config key '%s': listeners '%s' and '%s' both use %s:%u", lp->key,
                      lp->out[i].name, l->name, l->host, l->port);
            return -EINVAL;
        }
    }
    lp->count++;
    return 0;
}

int sl_config_parse_listeners(const char *key, const char *text, struct sl_config_listener *out,
                              int out_max, char *err, size_t err_size)
{
    struct listener_parse lp = {key, out, out_max, 0, err, err_size};
    if (text == NULL || text[0] == '\0') {
        return 0;
    }
    int rc = for_each_item(text, parse_listener_item, &lp);
    return rc != 0 ? rc : lp.count;
}

struct voter_parse {
    struct sl_config_voter *out;
    int out_max;
    int count;
    char *err;
    size_t err_size;
};

static int parse_voter_item(const char *p, size_t n, void *arg)
{
    struct voter_parse *vp = arg;
    const char *at = memchr(p, '@', n);
    const char *key = "controller.quorum.voters";
    if (at == NULL || at == p) {
        set_error(vp->err, vp->err_size, "config key '%s': bad voter '%.*s': expected id@host:port",
                  key, (int)n, p);
        return -EINVAL;
    }
    long long id = 0;
    for (const char *d = p; d < at; d++) {
        if (!isdigit((unsigned char)*d) || id > SL_I32_MAX) {
            set_error(vp->err, vp->err_size,
                      "config key '%s': bad voter '%.*s': the id must be a number from 0 to "
                      "2147483647",
                      key, (int)n, p);
            return -EINVAL;
        }
        id = id * 10 + (*d - '0');
    }
    if (id > SL_I32_MAX) {
        set_error(vp->err, vp->err_size, "config key '%s': bad voter '%.*s': id too large", key,
                  (int)n, p);
        return -EINVAL;
    }
    if (vp->count == vp->out_max) {
        set_error(vp->err, vp->err_size, "config key '%s': more than %d voters", key, vp->out_max);
        return -EINVAL;
    }
    struct sl_config_voter *v = &vp->out[vp->count];
    size_t hp_len = n - (size_t)(at + 1 - p);
    if (parse_host_port(at + 1, hp_len, v->host, &v->port) != 0 || v->host[0] == '\0' ||
        v->port == 0) {
        set_error(vp->err, vp->err_size,
                  "config key '%s': bad voter '%.*s': expected id@host:port with a host and a "
                  "port from 1 to 65535",
                  key, (int)n, p);
        return -EINVAL;
    }
    v->id = (int32_t)id;
    for (int i = 0; i < vp->count; i++) {
        if (vp->out[i].id == v->id) {
            set_error(vp->err, vp->err_size,
                      "config key '%s': voter id %d is listed twice; every voter needs its own "
                      "node.id",
                      key, v->id);
            return -EINVAL;
        }
        if (vp->out[i].port == v->port && strcmp(vp->out[i].host, v->host) == 0) {
            set_error(vp->err, vp->err_size,
                      "config key '%s': voters %d and %d both use %s:%u; every voter needs its "
                      "own address",
                      key, vp->out[i].id, v->id, v->host, v->port);
            return -EINVAL;
        }
    }
    vp->count++;
    return 0;
}

int sl_config_parse_voters(const char *text, struct sl_config_voter *out, int out_max, char *err,
                           size_t err_size)
{
    struct voter_parse vp = {out, out_max, 0, err, err_size};
    if (text == NULL || text[0] == '\0') {
        set_error(err, err_size,
                  "config key 'controller.quorum.voters' is empty: a quorum needs at least one "
                  "voter (id@host:port)");
        return -EINVAL;
    }
    int rc = for_each_item(text, parse_voter_item, &vp);
    return rc != 0 ? rc : vp.count;
}

int sl_config_parse_cpu_list(const char *text, uint64_t *mask, char *err, size_t err_size)
{
    *mask = 0;
    const char *p = text;
    if (p == NULL || *p == '\0') {
        set_error(err, err_size, "empty CPU list");
        return -EINVAL;
    }
    for (;;) {
        char *end;
        errno = 0;
        long first = strtol(p, &end, 10);
        long last = first;
        if (end == p || first < 0 || first > 63) {
            goto bad;
        }
        p = end;
        if (*p == '-') {
            p++;
            last = strtol(p, &end, 10);
            if (end == p || last < first || last > 63) {
                goto bad;
            }
            p = end;
        }
        for (long c = first; c <= last; c++) {
            *mask |= 1ull << c;
        }
        if (*p == '\0') {
            return 0;
        }
        if (*p != ',') {
            goto bad;
        }
        p++;
    }
bad:
    set_error(err, err_size,
              "bad CPU list '%s': expected CPUs 0-63 as a list of N or N-M separated by commas",
              text);
    return -EINVAL;
}

/* Returns the listener named `name` or NULL. */
static const struct sl_config_listener *find_listener(const struct sl_config_listener *ls, int n,
                                                      const char *name)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(ls[i].name, name) == 0) {
            return &ls[i];
        }
    }
    return NULL;
}

struct protocol_check {
    const struct sl_config_listener *listeners;
    int listener_count;
    bool mapped[SL_CONFIG_LISTENERS_MAX];
    char *err;
    size_t err_size;
};

static int check_protocol_item(const char *p, size_t n, void *arg)
{
    struct protocol_check *pc = arg;
    const char *key = "listener.security.protocol.map";
    const char *colon = memchr(p, ':', n);
    if (colon == NULL || colon == p) {
        set_error(pc->err, pc->err_size,
                  "config key '%s': bad entry '%.*s': expected NAME:PROTOCOL", key, (int)n, p);
        return -EINVAL;
    }
    size_t name_len = (size_t)(colon - p);
    const char *proto = colon + 1;
    size_t proto_len = n - name_len - 1;
    if (proto_len != strlen("PLAINTEXT") || strncmp(proto, "PLAINTEXT", proto_len) != 0) {
        set_error(pc->err, pc->err_size,
                  "config key '%s': listener '%.*s' uses protocol '%.*s': only PLAINTEXT is "
                  "supported",
                  key, (int)name_len, p, (int)proto_len, proto);
        return -EINVAL;
    }
    for (int i = 0; i < pc->listener_count; i++) {
        if (strlen(pc->listeners[i].name) == name_len &&
            strncmp(pc->listeners[i].name, p, name_len) == 0) {
            pc->mapped[i] = true;
        }
    }
    return 0;
}

static bool host_is_wildcard(const char *host)
{
    return host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0;
}

/* Checks the quorum keys against node.id, process.roles and the controller listener. */
static int validate_quorum(const struct sl_config *cfg, const struct sl_config_listener *ls,
                           int listener_count, char *err, size_t err_size)
{
    struct sl_config_voter voters[SL_CONFIG_VOTERS_MAX];
    int voter_count =
        sl_config_parse_voters(sl_config_string(cfg, SL_CONFIG_CONTROLLER_QUORUM_VOTERS), voters,
                               SL_CONFIG_VOTERS_MAX, err, err_size);
    if (voter_count < 0) {
        return voter_count;
    }
    int64_t node_id = sl_config_int(cfg, SL_CONFIG_NODE_ID);
    const struct sl_config_voter *self = NULL;
    for (int i = 0; i < voter_count; i++) {
        if (voters[i].id == node_id) {
            self = &voters[i];
        }
    }
    const char *names = sl_config_string(cfg, SL_CONFIG_CONTROLLER_LISTENER_NAMES);
    char first_name[SL_CONFIG_NAME_BYTES_MAX] = "";
    if (names != NULL) {
        size_t n = strcspn(names, ",");
        snprintf(first_name, sizeof(first_name), "%.*s", (int)n, names);
    }
    if (first_name[0] == '\0') {
        set_error(err, err_size, "config key 'controller.listener.names' is empty");
        return -EINVAL;
    }
    const struct sl_config_listener *controller_listener =
        find_listener(ls, listener_count, first_name);
    if (!sl_config_has_role(cfg, "controller")) {
        if (self != NULL) {
            set_error(err, err_size,
                      "node.id %lld is listed in controller.quorum.voters but process.roles "
                      "'%s' has no controller role; add controller to process.roles or remove "
                      "the node from the voters",
                      (long long)node_id, sl_config_string(cfg, SL_CONFIG_PROCESS_ROLES));
            return -EINVAL;
        }
        if (controller_listener != NULL) {
            set_error(err, err_size,
                      "listener '%s' is a controller listener but process.roles has no "
                      "controller role; remove it from listeners",
                      first_name);
            return -EINVAL;
        }
        return 0;
    }
    if (self == NULL) {
        set_error(err, err_size,
                  "cannot form the metadata quorum: node.id %lld has the controller role but "
                  "is not in controller.quorum.voters '%s'",
                  (long long)node_id, sl_config_string(cfg, SL_CONFIG_CONTROLLER_QUORUM_VOTERS));
        return -EINVAL;
    }
    if (controller_listener == NULL) {
        set_error(err, err_size,
                  "cannot form the metadata quorum: controller.listener.names names '%s' but "
                  "listeners has no listener of that name",
                  first_name);
        return -EINVAL;
    }
    bool port_matches = controller_listener->port == self->port;
    bool host_matches = host_is_wildcard(controller_listener->host) ||
                        strcmp(controller_listener->host, self->host) == 0;
    if (!port_matches || !host_matches) {
        set_error(err, err_size,
                  "cannot form the metadata quorum: controller.quorum.voters says node %lld is "
                  "at %s:%u but its %s listener is %s:%u",
                  (long long)node_id, self->host, self->port, first_name, controller_listener->host,
                  controller_listener->port);
        return -EINVAL;
    }
    return 0;
}

static int validate_listeners(const struct sl_config *cfg, struct sl_config_listener *ls,
                              int *listener_count, char *err, size_t err_size)
{
    int n = sl_config_parse_listeners("listeners", sl_config_string(cfg, SL_CONFIG_LISTENERS), ls,
                                      SL_CONFIG_LISTENERS_MAX, err, err_size);
    if (n < 0) {
        return n;
    }
    if (n == 0) {
        set_error(err, err_size, "config key 'listeners' is empty: at least one is needed");
        return -EINVAL;
    }
    *listener_count = n;
    struct protocol_check pc = {
        .listeners = ls, .listener_count = n, .err = err, .err_size = err_size};
    const char *map = sl_config_string(cfg, SL_CONFIG_LISTENER_SECURITY_PROTOCOL_MAP);
    int rc = map ? for_each_item(map, check_protocol_item, &pc) : 0;
    if (rc != 0) {
        return rc;
    }
    for (int i = 0; i < n; i++) {
        if (!pc.mapped[i]) {
            set_error(err, err_size,
                      "listener '%s' has no entry in listener.security.protocol.map (add "
                      "%s:PLAINTEXT)",
                      ls[i].name, ls[i].name);
            return -EINVAL;
        }
    }
    const char *controller_names = sl_config_string(cfg, SL_CONFIG_CONTROLLER_LISTENER_NAMES);
    if (sl_config_has_role(cfg, "broker")) {
        const char *ibl = sl_config_string(cfg, SL_CONFIG_INTER_BROKER_LISTENER_NAME);
        if (ibl == NULL || find_listener(ls, n, ibl) == NULL) {
            set_error(err, err_size,
                      "config key 'inter.broker.listener.name' is '%s' but listeners has no "
                      "listener of that name",
                      ibl ? ibl : "");
            return -EINVAL;
        }
        if (controller_names != NULL && list_contains(controller_names, ibl)) {
            set_error(err, err_size,
                      "config key 'inter.broker.listener.name' is '%s', a controller listener; "
                      "brokers need a separate listener",
                      ibl);
            return -EINVAL;
        }
    }
    const char *advertised = sl_config_string(cfg, SL_CONFIG_ADVERTISED_LISTENERS);
    if (advertised != NULL) {
        struct sl_config_listener adv[SL_CONFIG_LISTENERS_MAX];
        int adv_n = sl_config_parse_listeners("advertised.listeners", advertised, adv,
                                              SL_CONFIG_LISTENERS_MAX, err, err_size);
        if (adv_n < 0) {
            return adv_n;
        }
        for (int i = 0; i < adv_n; i++) {
            if (find_listener(ls, n, adv[i].name) == NULL) {
                set_error(err, err_size,
                          "config key 'advertised.listeners' names '%s', which is not in "
                          "listeners",
                          adv[i].name);
                return -EINVAL;
            }
            if (controller_names != NULL && list_contains(controller_names, adv[i].name)) {
                set_error(err, err_size,
                          "config key 'advertised.listeners' must not contain the controller "
                          "listener '%s'",
                          adv[i].name);
                return -EINVAL;
            }
            if (host_is_wildcard(adv[i].host)) {
                set_error(err, err_size,
                          "config key 'advertised.listeners': listener '%s' advertises the "
                          "wildcard host '%s'; clients need a reachable address",
                          adv[i].name, adv[i].host);
                return -EINVAL;
            }
        }
    }
    return 0;
}

int sl_config_validate(const struct sl_config *cfg, char *err, size_t err_size)
{
    const char *roles = sl_config_string(cfg, SL_CONFIG_PROCESS_ROLES);
    if (roles == NULL) {
        set_error(err, err_size, "config key 'process.roles' is not set (broker, controller)");
        return -EINVAL;
    }
    /* LIST values were checked item by item when set, so only duplicates remain. */
    const char *names[] = {"broker", "controller"};
    for (size_t i = 0; i < SL_ARRAY_LEN(names); i++) {
        const char *first = strstr(roles, names[i]);
        if (first != NULL && strstr(first + strlen(names[i]), names[i]) != NULL) {
            set_error(err, err_size, "config key 'process.roles': '%s' is listed twice in '%s'",
                      names[i], roles);
            return -EINVAL;
        }
    }
    struct sl_config_listener ls[SL_CONFIG_LISTENERS_MAX];
    int listener_count = 0;
    int rc = validate_listeners(cfg, ls, &listener_count, err, err_size);
    if (rc == 0) {
        rc = validate_quorum(cfg, ls, listener_count, err, err_size);
    }
    if (rc != 0) {
        return rc;
    }
    const char *standby = sl_config_string(cfg, SL_CONFIG_METADATA_STANDBY_ADDRESS);
    if (standby != NULL) {
        char host[SL_CONFIG_HOST_BYTES_MAX];
        uint16_t port = 0;
        if (parse_host_port(standby, strlen(standby), host, &port) != 0 || host[0] == '\0' ||
            port == 0) {
            set_error(err, err_size,
                      "config key 'metadata.standby.address': bad value '%s': expected host:port",
                      standby);
            return -EINVAL;
        }
    }
    uint64_t mask;
    char why[256];
    if (sl_config_parse_cpu_list(sl_config_string(cfg, SL_CONFIG_DATAPLANE_CORES), &mask, why,
                                 sizeof(why)) != 0) {
        set_error(err, err_size, "config key 'dataplane.cores': %s", why);
        return -EINVAL;
    }
    const char *dirs = sl_config_string(cfg, SL_CONFIG_LOG_DIRS);
    if (dirs == NULL || dirs[0] == '\0' || dirs[strspn(dirs, " ,")] == '\0') {
        set_error(err, err_size,
                  "config key 'log.dirs' is empty: at least one directory is needed");
        return -EINVAL;
    }
    if (sl_config_int(cfg, SL_CONFIG_GROUP_MIN_SESSION_TIMEOUT_MS) >
        sl_config_int(cfg, SL_CONFIG_GROUP_MAX_SESSION_TIMEOUT_MS)) {
        set_error(err, err_size,
                  "group.min.session.timeout.ms (%lld) is larger than "
                  "group.max.session.timeout.ms (%lld)",
                  (long long)sl_config_int(cfg, SL_CONFIG_GROUP_MIN_SESSION_TIMEOUT_MS),
                  (long long)sl_config_int(cfg, SL_CONFIG_GROUP_MAX_SESSION_TIMEOUT_MS));
        return -EINVAL;
    }
    if (sl_config_int(cfg, SL_CONFIG_BROKER_HEARTBEAT_INTERVAL_MS) >=
        sl_config_int(cfg, SL_CONFIG_BROKER_SESSION_TIMEOUT_MS)) {
        set_error(err, err_size,
                  "broker.heartbeat.interval.ms (%lld) must be smaller than "
                  "broker.session.timeout.ms (%lld)",
                  (long long)sl_config_int(cfg, SL_CONFIG_BROKER_HEARTBEAT_INTERVAL_MS),
                  (long long)sl_config_int(cfg, SL_CONFIG_BROKER_SESSION_TIMEOUT_MS));
        return -EINVAL;
    }
    if (sl_config_int(cfg, SL_CONFIG_CONTROLPLANE_QUORUM_HEARTBEAT_MS) * 2 >
        sl_config_int(cfg, SL_CONFIG_CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS)) {
        set_error(err, err_size,
                  "controlplane.quorum.heartbeat.ms (%lld) must be at most half of "
                  "controller.quorum.election.timeout.ms (%lld)",
                  (long long)sl_config_int(cfg, SL_CONFIG_CONTROLPLANE_QUORUM_HEARTBEAT_MS),
                  (long long)sl_config_int(cfg, SL_CONFIG_CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS));
        return -EINVAL;
    }
    return 0;
}

int sl_config_check_value(const char *key, const char *value, char *err, size_t err_size)
{
    int index = sl_config_key_find(key);
    if (index < 0) {
        set_error(err, err_size, "unknown config key '%s'", key);
        return -ENOENT;
    }
    int64_t ignored;
    return check_value(&config_keys[index], value, &ignored, err, err_size);
}

int sl_topic_config_validate(const char *key, const char *value, char *err, size_t err_size)
{
    int index = sl_topic_config_key_find(key);
    if (index < 0) {
        set_error(err, err_size, "unknown topic config key '%s'", key);
        return -ENOENT;
    }
    if (value == NULL) {
        set_error(err, err_size, "topic config key '%s' has no value", key);
        return -EINVAL;
    }
    int64_t ignored;
    int rc = check_value(&topic_config_keys[index], value, &ignored, err, err_size);
    if (rc != 0 && err != NULL && strncmp(err, "config key", 10) == 0) {
        /* Say "topic config key" so a CreateTopics error is not mistaken for the broker's. */
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "topic %s", err);
        set_error(err, err_size, "%s", tmp);
    }
    return rc;
}

static const char *type_name(enum sl_config_type type)
{
    switch (type) {
    case SL_CONFIG_INT:
        return "int";
    case SL_CONFIG_BOOL:
        return "bool";
    case SL_CONFIG_STRING:
        return "string";
    case SL_CONFIG_ENUM:
        return "enum";
    case SL_CONFIG_LIST:
        return "list";
    }
    return "?";
}

bool sl_config_key_is_dynamic(int key)
{
#define SL_CONFIG_DYNAMIC_CASE(id) case SL_CONFIG_##id:
    switch (key) {
        SL_CONFIG_DYNAMIC_KEYS(SL_CONFIG_DYNAMIC_CASE)
        return true;
    default:
        return false;
    }
#undef SL_CONFIG_DYNAMIC_CASE
}

static void write_row(FILE *out, const struct sl_config_key_info *info, bool topic)
{
    char allowed[256] = "";
    if (info->type == SL_CONFIG_INT) {
        snprintf(allowed, sizeof(allowed), "%lld .. %lld", (long long)info->min,
                 (long long)info->max);
    } else if (info->allowed[0] != '\0') {
        allowed_text(info->allowed, allowed, sizeof(allowed));
    }
    fprintf(out, "| `%s` | %s | %s%s%s | %s |", info->name, type_name(info->type),
            info->default_value ? "`" : "", info->default_value ? info->default_value : "unset",
            info->default_value ? "`" : "", allowed);
    if (topic) {
        fprintf(out, " %s%s%s |", info->broker_key[0] ? "`" : "", info->broker_key,
                info->broker_key[0] ? "`" : "");
    }
    bool dynamic = !topic && sl_config_key_is_dynamic(sl_config_key_find(info->name));
    fprintf(out, " %s%s |\n", dynamic ? "Dynamic (AlterConfigs). " : "", info->doc);
}

void sl_config_write_markdown(FILE *out)
{
    fprintf(out, "## Broker keys\n\n| key | type | default | allowed | description |\n"
                 "|---|---|---|---|---|\n");
    for (int i = 0; i < SL_CONFIG_KEY_COUNT; i++) {
        write_row(out, &config_keys[i], false);
    }
    fprintf(out, "\n## Topic keys\n\n| key | type | default | allowed | broker default | "
                 "description |\n|---|---|---|---|---|---|\n");
    for (int i = 0; i < SL_TOPIC_CONFIG_KEY_COUNT; i++) {
        write_row(out, &topic_config_keys[i], true);
    }
}
