/*
 * config.h - configuration: defaults from config_keys.def, overridden by a YAML file
 * (nested maps flatten to dotted keys, as Flink's config.yaml) and by -D key=value.
 *
 * Known keys are validated when set (an INT key rejects "abc"); unknown keys are kept,
 * because jobs read their own parameters from the configuration (Flink's global job
 * parameters). An ed_config is not thread-safe to modify; a running job only reads its
 * own copy.
 */
#ifndef ED_CONFIG_H
#define ED_CONFIG_H

#include "base.h"

typedef enum ed_config_type {
    ED_CFG_INT,
    ED_CFG_BOOL,
    ED_CFG_STRING,
    ED_CFG_DURATION,
    ED_CFG_BYTES,
    ED_CFG_LEVEL,
} ed_config_type;

typedef struct ed_config_key {
    const char *name;
    ed_config_type type;
    const char *dflt;
    const char *description;
} ed_config_key;

/* The table of known keys, ending with a zeroed entry. */
extern const ed_config_key ed_config_keys[];
const ed_config_key *ed_config_key_find(const char *name);

typedef struct ed_config ed_config;

ed_config *ed_config_new(void); /* defaults only */
ed_config *ed_config_copy(const ed_config *c);
void ed_config_free(ed_config *c); /* accepts NULL */

/* Sets a key; for known keys validates the value. 0, or -1 with a message naming the
 * key and the expected form. */
int ed_config_set(ed_config *c, const char *key, const char *value, ed_err *err);
/* Parses "key=value" (as given to -D). */
int ed_config_set_kv(ed_config *c, const char *kv, ed_err *err);
/* Loads a YAML file; errors name "path:line". Keys from the file override earlier ones. */
int ed_config_load_yaml(ed_config *c, const char *path, ed_err *err);

/* The current string value (set or default), or NULL. Valid until the key is set again. */
const char *ed_config_get(const ed_config *c, const char *key);
/* Typed reads of validated keys; unknown or unparsable values give dflt. */
int64_t ed_config_get_int(const ed_config *c, const char *key, int64_t dflt);
bool ed_config_get_bool(const ed_config *c, const char *key, bool dflt);
int64_t ed_config_get_duration_ms(const ed_config *c, const char *key, int64_t dflt);
int64_t ed_config_get_bytes(const ed_config *c, const char *key, int64_t dflt);

/* Iterates over explicitly set keys (not defaults) in the order first set. */
size_t ed_config_count(const ed_config *c);
const char *ed_config_key_at(const ed_config *c, size_t i);
const char *ed_config_value_at(const ed_config *c, size_t i);

#endif
