/* Broker configuration: the key table, server.properties loading, command-line
 * overrides, and cross-key validation.
 *
 * Command line (documented in docs/configuration.md):
 *     sluiced [path/to/server.properties] [--override key=value]...
 * Without a file the embedded defaults apply (a single node that is its own quorum).
 * Precedence: default < file < --override. A key set twice in one file is an error.
 *
 * Threads: a struct sl_config is built on one thread before the broker starts and is
 * read-only afterwards, so any thread may read it then.
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "controlplane/config_keys.h"

enum sl_config_type {
    SL_CONFIG_INT,
    SL_CONFIG_BOOL,
    SL_CONFIG_STRING,
    SL_CONFIG_ENUM,
    SL_CONFIG_LIST,
};

#define SL_CONFIG_ENUM_ENTRY(id, ...) SL_CONFIG_##id,
enum sl_config_key { SL_CONFIG_KEYS(SL_CONFIG_ENUM_ENTRY) SL_CONFIG_KEY_COUNT };
#undef SL_CONFIG_ENUM_ENTRY

#define SL_TOPIC_CONFIG_ENUM_ENTRY(id, ...) SL_TOPIC_CONFIG_##id,
enum sl_topic_config_key {
    SL_TOPIC_CONFIG_KEYS(SL_TOPIC_CONFIG_ENUM_ENTRY) SL_TOPIC_CONFIG_KEY_COUNT
};
#undef SL_TOPIC_CONFIG_ENUM_ENTRY

/* One row of a key table. `broker_key` is only used by topic keys. */
struct sl_config_key_info {
    const char *name;
    enum sl_config_type type;
    const char *default_value; /* NULL: unset by default */
    int64_t min;
    int64_t max;
    const char *allowed; /* ENUM/LIST: '|'-separated allowed values, "" = any */
    const char *broker_key;
    const char *doc;
};

/* Where a value came from, for error messages and `sluice config` output. */
enum sl_config_source {
    SL_CONFIG_SOURCE_DEFAULT,
    SL_CONFIG_SOURCE_FILE,
    SL_CONFIG_SOURCE_OVERRIDE,
};

struct sl_config_value {
    bool is_set;
    enum sl_config_source source;
    unsigned line;     /* line in the file when source is FILE */
    int64_t int_value; /* INT and BOOL */
    char *text;        /* the value as given (owned); NULL when unset */
};

struct sl_config {
    struct sl_config_value values[SL_CONFIG_KEY_COUNT];
};

#define SL_CONFIG_LISTENERS_MAX  16
#define SL_CONFIG_VOTERS_MAX     16
#define SL_CONFIG_NAME_BYTES_MAX 64
#define SL_CONFIG_HOST_BYTES_MAX 256

struct sl_config_listener {
    char name[SL_CONFIG_NAME_BYTES_MAX];
    char host[SL_CONFIG_HOST_BYTES_MAX]; /* "" or "0.0.0.0" binds every address */
    uint16_t port;
};

struct sl_config_voter {
    int32_t id;
    char host[SL_CONFIG_HOST_BYTES_MAX];
    uint16_t port;
};

/* The broker key table, indexed by enum sl_config_key. */
const struct sl_config_key_info *sl_config_key_table(void);
/* The topic key table, indexed by enum sl_topic_config_key. */
const struct sl_config_key_info *sl_topic_config_key_table(void);
/* Returns the index of broker key `name`, or -1 if there is none. */
int sl_config_key_find(const char *name);
/* Returns the index of topic key `name`, or -1 if there is none. */
int sl_topic_config_key_find(const char *name);

/* True when broker key `key` (enum sl_config_key) is in SL_CONFIG_DYNAMIC_KEYS: it may be
 * changed at runtime through the metadata log. Any thread. */
bool sl_config_key_is_dynamic(int key);

/* Fills `cfg` with the embedded defaults. Free with sl_config_free. Returns 0 or
 * -ENOMEM. */
int sl_config_init_defaults(struct sl_config *cfg);
/* Releases the strings held by `cfg` (the struct itself belongs to the caller). */
void sl_config_free(struct sl_config *cfg);

/* Sets one key from text. Returns 0; -ENOENT for an unknown key; -EINVAL for a bad
 * value (err names the key, the value and what is allowed); -ENOMEM. */
int sl_config_set(struct sl_config *cfg, const char *key, const char *value,
                  enum sl_config_source source, unsigned line, char *err, size_t err_size);

/* Applies a server.properties text (`name` is used in messages). A key set twice is an
 * error naming both lines. Returns 0 or a negative errno with err filled. */
int sl_config_load_text(struct sl_config *cfg, const char *name, const char *text, size_t len,
                        char *err, size_t err_size);
/* Reads and applies the file at `path`. Returns 0 or a negative errno with err filled. */
int sl_config_load_file(struct sl_config *cfg, const char *path, char *err, size_t err_size);

/* Builds the full configuration from a command line (argv[0] is skipped):
 * defaults, then the optional properties file, then every `--override key=value`, then
 * sl_config_validate. On error `cfg` is freed and err explains; returns negative errno. */
int sl_config_load_args(struct sl_config *cfg, int argc, const char *const argv[], char *err,
                        size_t err_size);

/* Cross-key checks: listeners, protocol map, controller listener, voter list against
 * node.id and process.roles, cpu lists, timeout ordering. Returns 0 or -EINVAL. */
int sl_config_validate(const struct sl_config *cfg, char *err, size_t err_size);

/* Typed reads; the key's type must match (asserted). */
int64_t sl_config_int(const struct sl_config *cfg, enum sl_config_key key);
bool sl_config_bool(const struct sl_config *cfg, enum sl_config_key key);
/* Returns the text of a STRING/ENUM/LIST key, or NULL when unset. Owned by cfg. */
const char *sl_config_string(const struct sl_config *cfg, enum sl_config_key key);
bool sl_config_is_set(const struct sl_config *cfg, enum sl_config_key key);
/* True when process.roles contains `role` ("broker" or "controller"). */
bool sl_config_has_role(const struct sl_config *cfg, const char *role);
/* Effective log retention from log.retention.ms/.minutes/.hours; -1 means forever. */
int64_t sl_config_log_retention_ms(const struct sl_config *cfg);
/* Effective metadata log directory, written to out (NUL-terminated). Returns 0 or
 * -ENAMETOOLONG. */
int sl_config_metadata_log_dir(const struct sl_config *cfg, char *out, size_t out_size);

/* Parses a NAME://host:port,... list. Returns the count (>= 0) or -EINVAL with err
 * naming `key` and the bad entry. */
int sl_config_parse_listeners(const char *key, const char *text, struct sl_config_listener *out,
                              int out_max, char *err, size_t err_size);
/* Parses controller.quorum.voters (id@host:port,...). Rejects duplicate ids and
 * duplicate addresses. Returns the count (>= 1) or -EINVAL with err filled. */
int sl_config_parse_voters(const char *text, struct sl_config_voter *out, int out_max, char *err,
                           size_t err_size);
/* Parses a CPU list such as "1-3,5" into a bitmask of CPUs 0..63. Returns 0 or -EINVAL. */
int sl_config_parse_cpu_list(const char *text, uint64_t *mask, char *err, size_t err_size);

/* Validates one broker key's value without a struct sl_config (AlterConfigs). Returns 0;
 * -ENOENT for an unknown key; -EINVAL for a bad value; err explains. */
int sl_config_check_value(const char *key, const char *value, char *err, size_t err_size);

/* Validates a topic-level config pair (CreateTopics, AlterConfigs). Returns 0; -ENOENT
 * for an unknown key; -EINVAL for a bad value; err explains. */
int sl_topic_config_validate(const char *key, const char *value, char *err, size_t err_size);

/* Writes the Markdown reference of both key tables (docs/configuration.md body). */
void sl_config_write_markdown(FILE *out);

#endif
