/*
 * schema.c - schemas: field names, types and nullability, parsed from SQL-like text.
 *
 * The text form is the schema's identity: jobs, the job graph and savepoints carry
 * schemas as text, so parsing is strict (unknown types, duplicate names and unsupported
 * precisions are errors that point at a 1-based character position) and every schema
 * has one canonical text that parses back to an equal schema. Aliases are accepted and
 * normalized: INTEGER is INT, VARCHAR and VARCHAR(n) are STRING, VARBINARY is BYTES,
 * TIMESTAMP is TIMESTAMP(3) (the only precision rows store).
 *
 * Names are SQL identifiers ([A-Za-z_][A-Za-z0-9_]*) or backquoted (`any name`, with ``
 * for a backquote), as in Flink SQL; the canonical text backquotes a name only when it
 * needs it. Names are case-sensitive, type words are not.
 */
#include "types.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct ed_field {
    char *name;
    eddy_type type;
    bool nullable;
} ed_field;

struct eddy_schema {
    uint32_t n;
    ed_field *f;
    char *text; /* canonical form */
};

static const struct {
    const char *word;
    eddy_type type;
    bool has_len; /* takes an optional (n) */
} ed_type_words[] = {
    {"BOOLEAN", EDDY_BOOLEAN, false},
    {"BOOL", EDDY_BOOLEAN, false},
    {"INT", EDDY_INT, false},
    {"INTEGER", EDDY_INT, false},
    {"BIGINT", EDDY_BIGINT, false},
    {"DOUBLE", EDDY_DOUBLE, false},
    {"STRING", EDDY_STRING, false},
    {"VARCHAR", EDDY_STRING, true},
    {"BYTES", EDDY_BYTES, false},
    {"VARBINARY", EDDY_BYTES, true},
    {"TIMESTAMP", EDDY_TIMESTAMP, false},
};

const char *eddy_type_name(eddy_type t)
{
    switch (t) {
    case EDDY_BOOLEAN:
        return "BOOLEAN";
    case EDDY_INT:
        return "INT";
    case EDDY_BIGINT:
        return "BIGINT";
    case EDDY_DOUBLE:
        return "DOUBLE";
    case EDDY_STRING:
        return "STRING";
    case EDDY_BYTES:
        return "BYTES";
    case EDDY_TIMESTAMP:
        return "TIMESTAMP(3)";
    }
    return "UNKNOWN";
}

typedef struct ed_lexer {
    const char *s;
    size_t pos;
    char *err;
    size_t errlen;
} ed_lexer;

static void ed_skip_ws(ed_lexer *lx)
{
    while (isspace((unsigned char)lx->s[lx->pos]))
        lx->pos++;
}

static bool ed_is_ident_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}
static bool ed_is_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Describes what is at pos for messages: 'word', ',' or "end of input". */
static void ed_found(const ed_lexer *lx, char *out, size_t n)
{
    const char *p = lx->s + lx->pos;
    if (!*p) {
        snprintf(out, n, "end of input");
        return;
    }
    size_t len = 1;
    if (ed_is_ident_char(*p))
        while (len < 40 && ed_is_ident_char(p[len]))
            len++;
    snprintf(out, n, "'%.*s'", (int)len, p);
}

__attribute__((format(printf, 3, 4))) static eddy_schema *ed_schema_fail(ed_lexer *lx, size_t pos,
                                                                         const char *fmt, ...)
{
    if (lx->err && lx->errlen) {
        int n = snprintf(lx->err, lx->errlen, "schema: position %zu: ", pos + 1);
        if (n >= 0 && (size_t)n < lx->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(lx->err + n, lx->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return NULL;
}

/* Reads an identifier or backquoted name into a new string; NULL if none is there. */
static char *ed_read_name(ed_lexer *lx, bool *unterminated)
{
    const char *s = lx->s;
    *unterminated = false;
    if (s[lx->pos] == '`') {
        ed_strbuf sb;
        ed_sb_init(&sb);
        size_t p = lx->pos + 1;
        for (;;) {
            if (!s[p]) {
                ed_sb_free(&sb);
                *unterminated = true;
                return NULL;
            }
            if (s[p] == '`') {
                if (s[p + 1] != '`') break;
                p++;
            }
            ed_sb_putc(&sb, s[p]);
            p++;
        }
        lx->pos = p + 1;
        return ed_sb_steal(&sb);
    }
    if (!ed_is_ident_start(s[lx->pos])) return NULL;
    size_t start = lx->pos;
    while (ed_is_ident_char(s[lx->pos]))
        lx->pos++;
    return ed_xstrndup(s + start, lx->pos - start);
}

/* Reads a keyword-like word; returns its length (0 if none). */
static size_t ed_read_word(ed_lexer *lx)
{
    size_t start = lx->pos;
    while (ed_is_ident_char(lx->s[lx->pos]))
        lx->pos++;
    return lx->pos - start;
}

static bool ed_word_is(const ed_lexer *lx, size_t at, size_t n, const char *kw)
{
    return strlen(kw) == n && !strncasecmp(lx->s + at, kw, n);
}

/* Reads "( digits )" if present; -1 when malformed, 0 when absent, 1 with *v set. */
static int ed_read_paren_number(ed_lexer *lx, long *v)
{
    size_t save = lx->pos;
    ed_skip_ws(lx);
    if (lx->s[lx->pos] != '(') {
        lx->pos = save;
        return 0;
    }
    lx->pos++;
    ed_skip_ws(lx);
    if (!isdigit((unsigned char)lx->s[lx->pos])) return -1;
    long n = 0;
    while (isdigit((unsigned char)lx->s[lx->pos])) {
        if (n < 100000000) n = n * 10 + (lx->s[lx->pos] - '0');
        lx->pos++;
    }
    ed_skip_ws(lx);
    if (lx->s[lx->pos] != ')') return -1;
    lx->pos++;
    *v = n;
    return 1;
}

static bool ed_name_is_plain(const char *name)
{
    if (!ed_is_ident_start(name[0])) return false;
    for (const char *p = name; *p; p++)
        if (!ed_is_ident_char(*p)) return false;
    return true;
}

static void ed_schema_make_text(eddy_schema *s)
{
    ed_strbuf sb;
    ed_sb_init(&sb);
    for (uint32_t i = 0; i < s->n; i++) {
        if (i) ed_sb_puts(&sb, ", ");
        const char *name = s->f[i].name;
        if (ed_name_is_plain(name)) {
            ed_sb_puts(&sb, name);
        } else {
            ed_sb_putc(&sb, '`');
            for (const char *p = name; *p; p++) {
                if (*p == '`') ed_sb_putc(&sb, '`');
                ed_sb_putc(&sb, *p);
            }
            ed_sb_putc(&sb, '`');
        }
        ed_sb_putc(&sb, ' ');
        ed_sb_puts(&sb, eddy_type_name(s->f[i].type));
        if (!s->f[i].nullable) ed_sb_puts(&sb, " NOT NULL");
    }
    s->text = ed_sb_steal(&sb);
}

eddy_schema *eddy_schema_parse(const char *text, char *err, size_t errlen)
{
    ed_lexer lx = {text ? text : "", 0, err, errlen};
    if (err && errlen) err[0] = '\0';
    eddy_schema *s = ed_xcalloc(1, sizeof *s);
    uint32_t cap = 0;
    char found[64];

    for (;;) {
        ed_skip_ws(&lx);
        size_t name_pos = lx.pos;
        bool unterminated;
        char *name = ed_read_name(&lx, &unterminated);
        if (!name) {
            if (unterminated)
                ed_schema_fail(&lx, name_pos, "unterminated quoted field name");
            else {
                ed_found(&lx, found, sizeof found);
                ed_schema_fail(&lx, name_pos, "expected a field name, found %s", found);
            }
            goto fail;
        }
        if (!*name) {
            free(name);
            ed_schema_fail(&lx, name_pos, "empty field name");
            goto fail;
        }
        for (uint32_t i = 0; i < s->n; i++) {
            if (!strcmp(s->f[i].name, name)) {
                ed_schema_fail(&lx, name_pos, "duplicate field name '%s'", name);
                free(name);
                goto fail;
            }
        }
        if (s->n == EDDY_ROW_MAX_ARITY) {
            free(name);
            ed_schema_fail(&lx, name_pos, "more than %u fields", EDDY_ROW_MAX_ARITY);
            goto fail;
        }
        if (s->n == cap) {
            cap = cap ? cap * 2 : 8;
            s->f = ed_xrealloc(s->f, cap * sizeof *s->f);
        }
        ed_field *f = &s->f[s->n++];
        f->name = name;
        f->nullable = true;

        ed_skip_ws(&lx);
        size_t type_pos = lx.pos;
        size_t wlen = ed_read_word(&lx);
        if (!wlen) {
            ed_found(&lx, found, sizeof found);
            ed_schema_fail(&lx, type_pos, "expected a type for field '%s', found %s", name, found);
            goto fail;
        }
        size_t k;
        for (k = 0; k < ED_ARRAY_LEN(ed_type_words); k++)
            if (ed_word_is(&lx, type_pos, wlen, ed_type_words[k].word)) break;
        if (k == ED_ARRAY_LEN(ed_type_words)) {
            ed_schema_fail(&lx, type_pos, "unknown type '%.*s' for field '%s'", (int)wlen,
                           text + type_pos, name);
            goto fail;
        }
        f->type = ed_type_words[k].type;
        size_t paren_pos = lx.pos;
        long num = 0;
        int pr = ed_read_paren_number(&lx, &num);
        if (pr < 0) {
            ed_schema_fail(&lx, paren_pos, "malformed '(...)' after type %s of field '%s'",
                           ed_type_words[k].word, name);
            goto fail;
        }
        if (pr > 0) {
            if (f->type == EDDY_TIMESTAMP) {
                if (num != 3) {
                    ed_schema_fail(&lx, type_pos,
                                   "TIMESTAMP(%ld) for field '%s' is not supported: only "
                                   "TIMESTAMP(3)",
                                   num, name);
                    goto fail;
                }
            } else if (!ed_type_words[k].has_len) {
                ed_schema_fail(&lx, paren_pos, "type %s of field '%s' takes no length",
                               ed_type_words[k].word, name);
                goto fail;
            } else if (num < 1) {
                ed_schema_fail(&lx, paren_pos, "length of field '%s' must be at least 1", name);
                goto fail;
            }
        }

        /* [NOT NULL | NULL] */
        ed_skip_ws(&lx);
        size_t kw_pos = lx.pos;
        wlen = ed_read_word(&lx);
        if (wlen && ed_word_is(&lx, kw_pos, wlen, "NOT")) {
            ed_skip_ws(&lx);
            size_t null_pos = lx.pos;
            size_t nlen = ed_read_word(&lx);
            if (!nlen || !ed_word_is(&lx, null_pos, nlen, "NULL")) {
                lx.pos = null_pos;
                ed_found(&lx, found, sizeof found);
                ed_schema_fail(&lx, null_pos, "expected NULL after NOT, found %s", found);
                goto fail;
            }
            f->nullable = false;
        } else if (wlen && ed_word_is(&lx, kw_pos, wlen, "NULL")) {
            f->nullable = true;
        } else {
            lx.pos = kw_pos;
        }

        ed_skip_ws(&lx);
        if (!text[lx.pos]) break;
        if (text[lx.pos] != ',') {
            ed_found(&lx, found, sizeof found);
            ed_schema_fail(&lx, lx.pos, "expected ',' or end of input after field '%s', found %s",
                           name, found);
            goto fail;
        }
        lx.pos++;
    }
    ed_schema_make_text(s);
    return s;
fail:
    eddy_schema_free(s);
    return NULL;
}

void eddy_schema_free(eddy_schema *s)
{
    if (!s) return;
    for (uint32_t i = 0; i < s->n; i++)
        free(s->f[i].name);
    free(s->f);
    free(s->text);
    free(s);
}

eddy_schema *eddy_schema_copy(const eddy_schema *s)
{
    eddy_schema *d = ed_xcalloc(1, sizeof *d);
    d->n = s->n;
    d->f = ed_xcalloc(s->n ? s->n : 1, sizeof *d->f);
    for (uint32_t i = 0; i < s->n; i++) {
        d->f[i] = s->f[i];
        d->f[i].name = ed_xstrdup(s->f[i].name);
    }
    d->text = ed_xstrdup(s->text);
    return d;
}

uint32_t eddy_schema_arity(const eddy_schema *s)
{
    return s->n;
}

const char *eddy_schema_name(const eddy_schema *s, uint32_t i)
{
    ed_assert(i < s->n);
    return s->f[i].name;
}

eddy_type eddy_schema_type(const eddy_schema *s, uint32_t i)
{
    ed_assert(i < s->n);
    return s->f[i].type;
}

bool eddy_schema_nullable(const eddy_schema *s, uint32_t i)
{
    ed_assert(i < s->n);
    return s->f[i].nullable;
}

int eddy_schema_index(const eddy_schema *s, const char *name)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (!strcmp(s->f[i].name, name)) return (int)i;
    return -1;
}

const char *eddy_schema_text(const eddy_schema *s)
{
    return s->text;
}
