/*
 * config.c - configuration as a list of string key/values over a table of known keys.
 *
 * Values are kept as the strings the user wrote and parsed again when read: the file,
 * -D flags and the defaults all speak the same text forms ("100 ms", "32 kb"), and a
 * job's own parameters (unknown keys) pass through untouched. Known keys are checked
 * when they are set, so a typo fails at start-up with the key, the expected form and -
 * from a YAML file - the path and line.
 *
 * YAML is read with libyaml's event parser. Nested mappings flatten into dotted keys,
 * as in Flink's config.yaml; only scalar leaves are allowed. A file is applied all or
 * nothing: it is loaded into a copy that replaces the configuration only when every
 * key in it was valid.
 */
#include "config.h"

#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

const ed_config_key ed_config_keys[] = {
#define ED_CONFIG_KEY(n, t, d, desc) {n, ED_CFG_##t, d, desc},
#include "config_keys.def"
#undef ED_CONFIG_KEY
    {NULL, 0, NULL, NULL},
};

/* Bounds of INT keys that are tighter than ">= 0". */
static const struct {
    const char *name;
    int64_t min, max;
} ed_config_ranges[] = {
    {"parallelism.default", 1, 32768},
    {"pipeline.max-parallelism", 1, 32768},
    {"taskmanager.network.memory.buffers-per-channel", 1, INT32_MAX},
};

const ed_config_key *ed_config_key_find(const char *name)
{
    for (const ed_config_key *k = ed_config_keys; k->name; k++)
        if (!strcmp(k->name, name)) return k;
    return NULL;
}

typedef struct ed_config_entry {
    char *key, *value;
} ed_config_entry;

struct ed_config {
    ed_config_entry *e;
    size_t n, cap;
};

ed_config *ed_config_new(void)
{
    return ed_xcalloc(1, sizeof(ed_config));
}

ed_config *ed_config_copy(const ed_config *c)
{
    ed_config *d = ed_config_new();
    d->cap = d->n = c->n;
    d->e = ed_xcalloc(c->n ? c->n : 1, sizeof *d->e);
    for (size_t i = 0; i < c->n; i++) {
        d->e[i].key = ed_xstrdup(c->e[i].key);
        d->e[i].value = ed_xstrdup(c->e[i].value);
    }
    return d;
}

static void ed_config_clear(ed_config *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].key);
        free(c->e[i].value);
    }
    free(c->e);
    c->e = NULL;
    c->n = c->cap = 0;
}

void ed_config_free(ed_config *c)
{
    if (!c) return;
    ed_config_clear(c);
    free(c);
}

static ed_config_entry *ed_config_find(const ed_config *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->e[i].key, key)) return &c->e[i];
    return NULL;
}

/* Checks value against the type of known key k; -1 with a message naming both. */
static int ed_config_validate(const ed_config_key *k, const char *value, ed_err *err)
{
    int64_t v;
    bool b;
    switch (k->type) {
    case ED_CFG_INT: {
        int64_t min = 0, max = INT64_MAX;
        for (size_t i = 0; i < ED_ARRAY_LEN(ed_config_ranges); i++) {
            if (!strcmp(ed_config_ranges[i].name, k->name)) {
                min = ed_config_ranges[i].min;
                max = ed_config_ranges[i].max;
            }
        }
        if (ed_parse_i64(value, &v) || v < min || v > max) {
            if (max == INT64_MAX)
                return ed_err_set(err, "key '%s': expected an integer >= %" PRId64 ", got '%s'",
                                  k->name, min, value);
            return ed_err_set(
                err, "key '%s': expected an integer in [%" PRId64 ", %" PRId64 "], got '%s'",
                k->name, min, max, value);
        }
        return 0;
    }
    case ED_CFG_BOOL:
        if (ed_parse_bool(value, &b))
            return ed_err_set(err, "key '%s': expected true or false, got '%s'", k->name, value);
        return 0;
    case ED_CFG_STRING:
        return 0;
    case ED_CFG_DURATION:
        if (ed_parse_duration_ms(value, &v))
            return ed_err_set(err,
                              "key '%s': expected a duration such as '100 ms', '10 s', "
                              "'1 min', got '%s'",
                              k->name, value);
        return 0;
    case ED_CFG_BYTES:
        if (ed_parse_bytes(value, &v))
            return ed_err_set(err,
                              "key '%s': expected a memory size such as '32 kb', '64mb', '1g', "
                              "got '%s'",
                              k->name, value);
        return 0;
    case ED_CFG_LEVEL:
        if (!ed_log_levels_valid(value))
            return ed_err_set(err,
                              "key '%s': expected a log level (TRACE, DEBUG, INFO, WARN, ERROR, "
                              "OFF) or 'LEVEL,component=LEVEL,...', got '%s'",
                              k->name, value);
        return 0;
    }
    return 0;
}

int ed_config_set(ed_config *c, const char *key, const char *value, ed_err *err)
{
    if (!key || !*key) return ed_err_set(err, "config: empty key");
    if (!value) value = "";
    const ed_config_key *k = ed_config_key_find(key);
    if (k && ed_config_validate(k, value, err)) return -1;
    ed_config_entry *e = ed_config_find(c, key);
    if (e) {
        char *v = ed_xstrdup(value);
        free(e->value);
        e->value = v;
        return 0;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->e = ed_xrealloc(c->e, c->cap * sizeof *c->e);
    }
    c->e[c->n].key = ed_xstrdup(key);
    c->e[c->n].value = ed_xstrdup(value);
    c->n++;
    return 0;
}

int ed_config_set_kv(ed_config *c, const char *kv, ed_err *err)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return ed_err_set(err, "config: expected key=value, got '%s'", kv);
    /* Blanks around the key are forgiven ("-D a = b" is a common slip); the value is
     * taken as written after the blanks following '='. */
    const char *ks = kv, *ke = eq;
    while (ks < ke && (*ks == ' ' || *ks == '\t'))
        ks++;
    while (ke > ks && (ke[-1] == ' ' || ke[-1] == '\t'))
        ke--;
    if (ks == ke) return ed_err_set(err, "config: expected key=value, got '%s'", kv);
    const char *v = eq + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    char *key = ed_xstrndup(ks, (size_t)(ke - ks));
    int rc = ed_config_set(c, key, v, err);
    free(key);
    return rc;
}

const char *ed_config_get(const ed_config *c, const char *key)
{
    const ed_config_entry *e = ed_config_find(c, key);
    if (e) return e->value;
    const ed_config_key *k = ed_config_key_find(key);
    return k ? k->dflt : NULL;
}

int64_t ed_config_get_int(const ed_config *c, const char *key, int64_t dflt)
{
    const char *s = ed_config_get(c, key);
    int64_t v;
    return s && !ed_parse_i64(s, &v) ? v : dflt;
}

bool ed_config_get_bool(const ed_config *c, const char *key, bool dflt)
{
    const char *s = ed_config_get(c, key);
    bool v;
    return s && !ed_parse_bool(s, &v) ? v : dflt;
}

int64_t ed_config_get_duration_ms(const ed_config *c, const char *key, int64_t dflt)
{
    const char *s = ed_config_get(c, key);
    int64_t v;
    return s && !ed_parse_duration_ms(s, &v) ? v : dflt;
}

int64_t ed_config_get_bytes(const ed_config *c, const char *key, int64_t dflt)
{
    const char *s = ed_config_get(c, key);
    int64_t v;
    return s && !ed_parse_bytes(s, &v) ? v : dflt;
}

size_t ed_config_count(const ed_config *c)
{
    return c->n;
}
const char *ed_config_key_at(const ed_config *c, size_t i)
{
    return i < c->n ? c->e[i].key : NULL;
}
const char *ed_config_value_at(const ed_config *c, size_t i)
{
    return i < c->n ? c->e[i].value : NULL;
}

/* ---- YAML ---------------------------------------------------------------------------- */

#define ED_YAML_MAX_DEPTH 32

typedef struct ed_yaml_ctx {
    const char *path;
    ed_config *c;
    ed_err *err;
    /* The key path: prefix lengths for each open mapping. */
    ed_strbuf key;
    size_t prefix[ED_YAML_MAX_DEPTH];
    int depth; /* open mappings */
    bool expect_key[ED_YAML_MAX_DEPTH];
} ed_yaml_ctx;

static int ed_yaml_fail(ed_yaml_ctx *y, const yaml_event_t *ev, const char *what)
{
    return ed_err_set(y->err, "%s:%zu: %s", y->path, (size_t)ev->start_mark.line + 1, what);
}

/* Handles one event; returns 1 at the end of the stream, 0 to continue, -1 on error. */
static int ed_yaml_event(ed_yaml_ctx *y, yaml_event_t *ev)
{
    char msg[512];
    bool in_map = y->depth > 0;
    bool want_key = in_map && y->expect_key[y->depth - 1];
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        return 1;
    case YAML_STREAM_START_EVENT:
    case YAML_DOCUMENT_START_EVENT:
    case YAML_DOCUMENT_END_EVENT:
        return 0;
    case YAML_ALIAS_EVENT:
        return ed_yaml_fail(y, ev, "aliases are not supported");
    case YAML_SEQUENCE_START_EVENT:
        if (!in_map) return ed_yaml_fail(y, ev, "expected a mapping of keys to values");
        if (want_key) return ed_yaml_fail(y, ev, "a key must be a plain value");
        snprintf(msg, sizeof msg, "key '%s': lists are not supported, use a scalar value",
                 y->key.data);
        return ed_yaml_fail(y, ev, msg);
    case YAML_MAPPING_START_EVENT:
        if (in_map && want_key) return ed_yaml_fail(y, ev, "a key must be a plain value");
        if (y->depth == ED_YAML_MAX_DEPTH) return ed_yaml_fail(y, ev, "mappings nest too deep");
        if (in_map) y->expect_key[y->depth - 1] = true; /* the value is this mapping */
        y->prefix[y->depth] = y->key.len;
        y->expect_key[y->depth] = true;
        y->depth++;
        return 0;
    case YAML_MAPPING_END_EVENT:
        /* The next key of the parent mapping truncates the key back to its own prefix;
         * here only the depth changes. */
        y->depth--;
        return 0;
    case YAML_SCALAR_EVENT: {
        if (!in_map) return ed_yaml_fail(y, ev, "expected a mapping of keys to values");
        const char *v = (const char *)ev->data.scalar.value;
        size_t vlen = ev->data.scalar.length;
        if (want_key) {
            if (!vlen) return ed_yaml_fail(y, ev, "empty key");
            if (memchr(v, '\0', vlen)) return ed_yaml_fail(y, ev, "key contains a NUL byte");
            y->key.len = y->prefix[y->depth - 1];
            if (y->key.len) ed_sb_putc(&y->key, '.');
            ed_sb_append(&y->key, v, vlen);
            y->expect_key[y->depth - 1] = false;
            return 0;
        }
        y->expect_key[y->depth - 1] = true;
        if (memchr(v, '\0', vlen)) {
            snprintf(msg, sizeof msg, "key '%s': value contains a NUL byte", y->key.data);
            return ed_yaml_fail(y, ev, msg);
        }
        /* A plain null ("~", "null" or nothing) is the empty string. */
        if (ev->data.scalar.plain_implicit && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            (vlen == 0 || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
             !strcmp(v, "NULL")))
            v = "";
        ed_err tmp = {0};
        if (ed_config_set(y->c, y->key.data, v, &tmp)) {
            return ed_err_set(y->err, "%s:%zu: %s", y->path, (size_t)ev->start_mark.line + 1,
                              tmp.msg);
        }
        return 0;
    }
    case YAML_SEQUENCE_END_EVENT: /* unreachable: a sequence start already failed */
    case YAML_NO_EVENT:
        return 0;
    }
    return 0;
}

int ed_config_load_yaml(ed_config *c, const char *path, ed_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return ed_err_set(err, "%s: %s", path, strerror(errno));

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return ed_err_set(err, "%s: cannot initialize the YAML parser", path);
    }
    yaml_parser_set_input_file(&parser, f);

    ed_yaml_ctx y = {.path = path, .c = ed_config_copy(c), .err = err};
    ed_sb_init(&y.key);
    ed_sb_reserve(&y.key, 64);
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = ed_err_set(err, "%s:%zu: %s%s%s", path, (size_t)parser.problem_mark.line + 1,
                            parser.problem ? parser.problem : "syntax error",
                            parser.context ? " " : "", parser.context ? parser.context : "");
            break;
        }
        int r = ed_yaml_event(&y, &ev);
        yaml_event_delete(&ev);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r > 0) break;
    }
    yaml_parser_delete(&parser);
    fclose(f);
    ed_sb_free(&y.key);
    if (rc == 0) {
        /* Swap the loaded copy in: all or nothing. */
        ed_config tmp = *c;
        *c = *y.c;
        *y.c = tmp;
    }
    ed_config_free(y.c);
    return rc;
}
