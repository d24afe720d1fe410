/*
 * types.h - schemas, rows, keys and text formats for the rest of the tree.
 *
 * The row layout itself is public (include/eddy/row.h). This header adds what the
 * runtime and connectors need: canonical key bytes and key groups, and rendering and
 * parsing rows as text (Flink's Row.toString form and CSV).
 */
#ifndef ED_TYPES_H
#define ED_TYPES_H

#include <eddy/row.h>

#include "../base/base.h"


/* Appends room for a len-byte STRING/BYTES value of field i (which becomes non-NULL) and
 * returns where to write it, or NULL when the row would exceed EDDY_ROW_MAX_SIZE. For
 * sources that decode straight into the row. The pointer is valid until the next setter;
 * ed_rb_trim_last then shortens that same value to len bytes (no more than reserved). */
char *ed_rb_reserve_str(eddy_row_builder *b, uint32_t i, uint32_t len);
void ed_rb_trim_last(eddy_row_builder *b, uint32_t i, uint32_t len);

/* Number of bytes a row would need to hold `tail` bytes of variable-size data. */
static inline uint32_t ed_row_bytes(uint32_t arity, uint32_t tail)
{
    return eddy_row_fixed_size(arity) + (uint32_t)ED_ALIGN8(tail);
}

/* Checks that n bytes at p are a well-formed row (size, arity, every var slot inside the
 * row): for rows read from files or the network. 0, or -1 with a message. */
int ed_row_validate(const void *p, size_t n, ed_err *err);

/* ed_row_validate plus the schema: arity, every STRING/BYTES slot inside the tail,
 * BOOLEAN 0/1, INT sign-extended, NULL fields with zero slots. */
int ed_row_validate_schema(const eddy_schema *s, const void *p, size_t n, ed_err *err);

/* Equality of two rows field by field (values, not layout). A row does not record its
 * types, so this one infers them: a slot is compared as a string when it decodes to a
 * range inside the tail of both rows. Prefer ed_row_equal_schema, which is exact. */
bool ed_row_equal(const eddy_row *a, const eddy_row *b);
bool ed_row_equal_schema(const eddy_schema *s, const eddy_row *a, const eddy_row *b);

/* <0, 0, >0 as field f of a compares to field f of b (both of type t); NULL is smallest,
 * strings and bytes compare as unsigned bytes, then by length. */
static inline int ed_field_cmp(eddy_type t, const eddy_row *a, const eddy_row *b, uint32_t f)
{
    bool na = eddy_row_is_null(a, f), nb = eddy_row_is_null(b, f);
    if (na || nb) return (int)nb - (int)na;
    if (t == EDDY_DOUBLE) {
        double x = eddy_row_f64(a, f), y = eddy_row_f64(b, f);
        return (x > y) - (x < y);
    }
    if (t == EDDY_STRING || t == EDDY_BYTES) {
        eddy_str x = eddy_row_str(a, f), y = eddy_row_str(b, f);
        int c = memcmp(x.ptr, y.ptr, x.len < y.len ? x.len : y.len);
        return c ? c : (x.len > y.len) - (x.len < y.len);
    }
    int64_t x = eddy_row_i64(a, f), y = eddy_row_i64(b, f);
    return (x > y) - (x < y);
}

/* ---- keys and key groups ---------------------------------------------------------------
 * A key is written in a canonical byte form so that equal keys have equal bytes however
 * their rows are laid out, in whole 8-byte words: per key field one little-endian word
 * for a fixed-size value, or a length word and the zero-padded bytes for STRING/BYTES;
 * when a key field is NULL, a final word with the null bits (key.c). Hash and compare
 * keys as bytes. */
typedef struct ed_keyspec {
    uint32_t n;
    uint32_t idx[16];
    eddy_type type[16];
    bool fixed_only; /* no STRING/BYTES field: the key is n words (+ a null word) */
    bool has_double;
} ed_keyspec;

/* Builds a key spec from "a, b" field names; -1 with a message naming the field. */
int ed_keyspec_parse(ed_keyspec *ks, const eddy_schema *s, const char *fields, ed_err *err);
/* A key spec for every field of a key row of schema s (key selector output). */
void ed_keyspec_all(ed_keyspec *ks, const eddy_schema *s);
/* Writes the key bytes of row r into buf; returns the length, or the length needed when
 * it exceeds cap (nothing is written then). */
size_t ed_key_write_any(const ed_keyspec *ks, const eddy_row *r, uint8_t *buf, size_t cap);
/* Fills the flags of a key spec from its types. */
void ed_keyspec_finish(ed_keyspec *ks);

/* The same, inline for the common keys of fixed-size fields. (GCC cannot see that the
 * cap check guards the stores when a caller passes a small array.) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
static inline size_t ed_key_write(const ed_keyspec *ks, const eddy_row *r, uint8_t *buf,
                                  size_t cap)
{
    if (!ks->fixed_only || ks->has_double || cap < 8u * ks->n + 8u)
        return ed_key_write_any(ks, r, buf, cap);
    uint64_t nulls = 0;
    for (uint32_t k = 0; k < ks->n; k++) {
        uint32_t i = ks->idx[k];
        uint64_t v = eddy_row_slot(r, i);
        if (ED_UNLIKELY(eddy_row_is_null(r, i))) {
            nulls |= 1ULL << k;
            v = 0;
        }
        __builtin_memcpy(buf + 8u * k, &v, 8); /* little-endian targets */
    }
    if (ED_LIKELY(!nulls)) return 8u * ks->n;
    __builtin_memcpy(buf + 8u * ks->n, &nulls, 8);
    return 8u * ks->n + 8u;
}
#pragma GCC diagnostic pop

/* Decodes key bytes written for spec ks into a row whose field k is key field k (b must
 * have ks->n fields and types: eddy_rb_new_schema of ed_keyspec_schema). 0, or -1 for
 * bytes that are not a key of ks. */
int ed_key_decode(const ed_keyspec *ks, const uint8_t *key, size_t len, eddy_row_builder *b);
/* The schema of key rows for ks over input schema s: the key fields, named as in s. The
 * caller frees it. */
eddy_schema *ed_keyspec_schema(const ed_keyspec *ks, const eddy_schema *s);

static inline uint32_t ed_key_hash(const void *key, size_t len)
{
    return ed_murmur3_32(key, len, 0);
}
/* Flink's KeyGroupRangeAssignment. */
static inline int ed_key_group(uint32_t hash, int max_parallelism)
{
    return (int)(hash % (uint32_t)max_parallelism);
}
static inline int ed_key_group_to_subtask(int key_group, int max_parallelism, int parallelism)
{
    return (int)((int64_t)key_group * parallelism / max_parallelism);
}
/* Key groups [*first, *last] owned by subtask i of p. */
void ed_key_group_range(int i, int parallelism, int max_parallelism, int *first, int *last);

/* ---- text forms ----------------------------------------------------------------------- */
/* Flink's Row.toString: "+I[hello, 3]"; NULL prints as "null", doubles as Java prints
 * them (1.0, 0.1, 1.0E10), timestamps as "2026-11-25T11:41:13.123". */
void ed_row_format_flink(const eddy_schema *s, const eddy_row *r, ed_strbuf *out);
/* One CSV line without the newline: fields separated by delim, quoted ("...", "" for a
 * quote) only when they contain delim, a quote, CR or LF; NULL is the empty field. */
void ed_row_format_csv(const eddy_schema *s, const eddy_row *r, char delim, ed_strbuf *out);
/* Appends one field's value in the CSV form (unquoted; NULL appends nothing). */
void ed_value_format(eddy_type t, const eddy_row *r, uint32_t i, ed_strbuf *out);

/*
 * Parses one CSV line (no trailing newline; a trailing CR is ignored) into b (reset
 * first) for schema s: RFC 4180 quoting, delim as separator, an empty unquoted field is
 * NULL for nullable fields. Errors (returns -1, err set) name the field by number and
 * name: "field 2 (price): 'abc' is not a DOUBLE", "expected 3 fields, found 4", "invalid
 * UTF-8 at byte 7" (a 1-based byte position in the line). The caller prefixes file:line.
 * A quoted empty field ("") is the empty string; BYTES are base64, as Flink's CSV format;
 * blanks around numbers, booleans and timestamps are ignored (Flink trims them).
 */
int ed_csv_parse_line(const char *line, size_t len, const eddy_schema *s, char delim,
                      eddy_row_builder *b, ed_err *err);
/* Parses one value from text into field i of b (used by CSV and by option parsing). */
int ed_value_parse(eddy_type t, const char *p, size_t len, eddy_row_builder *b, uint32_t i,
                   ed_err *err);
/* Timestamps as text: "2026-11-25 11:41:13.123", "2026-11-25T11:41:13", or epoch ms. */
int ed_parse_timestamp_ms(const char *p, size_t len, int64_t *out);
void ed_format_timestamp_ms(int64_t ms, ed_strbuf *out);

#endif
