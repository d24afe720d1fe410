/*
 * eddy/row.h - schemas and the binary row format.
 *
 * Every record, state entry and key in eddy is a row: one contiguous, relocatable block
 * of bytes that is copied with a single memcpy and read in place.
 *
 *   offset 0   uint32  size      total bytes of the row, a multiple of 8
 *   offset 4   uint8   kind      changelog kind: +I, -U, +U, -D (eddy_row_kind)
 *   offset 5   uint8   reserved  0
 *   offset 6   uint16  arity     number of fields
 *   offset 8   uint64  nulls[ceil(arity / 64)]   bit i set: field i is NULL
 *   then       uint64  slot[arity]               one 8-byte slot per field
 *   then       tail                              bytes of variable-size values
 *
 * Fixed-size values live in their slot (BOOLEAN 0/1, INT sign-extended, BIGINT,
 * TIMESTAMP(3) as epoch milliseconds, DOUBLE as its bits). A STRING or BYTES slot holds
 * (offset << 32 | length), the offset relative to the start of the row, so a row stays
 * valid wherever it is copied. Rows start at 8-byte aligned addresses.
 *
 * The accessors below are inline: reading a field is a load, not a call. The layout is
 * part of the public API and is versioned with it.
 */
#ifndef EDDY_ROW_H
#define EDDY_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Field types. The numbers are part of the serialized job-graph and row format. */
typedef enum eddy_type {
    EDDY_BOOLEAN = 1,
    EDDY_INT = 2,       /* 32-bit signed */
    EDDY_BIGINT = 3,    /* 64-bit signed */
    EDDY_DOUBLE = 4,
    EDDY_STRING = 5,    /* UTF-8, not NUL-terminated in the row */
    EDDY_BYTES = 6,
    EDDY_TIMESTAMP = 7, /* TIMESTAMP(3): milliseconds since the epoch, UTC */
} eddy_type;

/* Changelog kinds, as Flink's RowKind: +I, -U, +U, -D. */
typedef enum eddy_row_kind {
    EDDY_INSERT = 0,
    EDDY_UPDATE_BEFORE = 1,
    EDDY_UPDATE_AFTER = 2,
    EDDY_DELETE = 3,
} eddy_row_kind;

/* A row is only ever handled through pointers to its bytes. */
typedef struct eddy_row eddy_row;

/* A string or bytes value inside a row: not NUL-terminated, valid as long as the row. */
typedef struct eddy_str {
    const char *ptr;
    uint32_t len;
} eddy_str;

#define EDDY_ROW_HEADER 8u
#define EDDY_ROW_MAX_ARITY 4096u
#define EDDY_ROW_MAX_SIZE (1u << 30)

static inline uint32_t eddy_row_nullwords(uint32_t arity) { return (arity + 63u) / 64u; }
/* Bytes of header, null bitmap and slots: where the tail starts. */
static inline uint32_t eddy_row_fixed_size(uint32_t arity)
{
    return EDDY_ROW_HEADER + 8u * eddy_row_nullwords(arity) + 8u * arity;
}

static inline uint32_t eddy_row_size(const eddy_row *r)
{
    uint32_t v;
    memcpy(&v, r, 4);
    return v;
}
static inline eddy_row_kind eddy_row_get_kind(const eddy_row *r)
{
    return (eddy_row_kind)((const uint8_t *)r)[4];
}
static inline uint32_t eddy_row_arity(const eddy_row *r)
{
    uint16_t a;
    memcpy(&a, (const uint8_t *)r + 6, 2);
    return a;
}
static inline const uint64_t *eddy_row__nulls(const eddy_row *r)
{
    return (const uint64_t *)((const uint8_t *)r + EDDY_ROW_HEADER);
}
static inline const uint64_t *eddy_row__slots(const eddy_row *r)
{
    return eddy_row__nulls(r) + eddy_row_nullwords(eddy_row_arity(r));
}
static inline bool eddy_row_is_null(const eddy_row *r, uint32_t i)
{
    return (eddy_row__nulls(r)[i >> 6] >> (i & 63u)) & 1u;
}
/* INT, BIGINT and TIMESTAMP fields; 0 when NULL. */
static inline int64_t eddy_row_i64(const eddy_row *r, uint32_t i)
{
    return (int64_t)eddy_row__slots(r)[i];
}
static inline int32_t eddy_row_i32(const eddy_row *r, uint32_t i)
{
    return (int32_t)(int64_t)eddy_row__slots(r)[i];
}
static inline bool eddy_row_bool(const eddy_row *r, uint32_t i) { return eddy_row__slots(r)[i] != 0; }
static inline double eddy_row_f64(const eddy_row *r, uint32_t i)
{
    double d;
    memcpy(&d, &eddy_row__slots(r)[i], 8);
    return d;
}
/* STRING and BYTES fields; {NULL-ish pointer, 0} when NULL. */
static inline eddy_str eddy_row_str(const eddy_row *r, uint32_t i)
{
    uint64_t s = eddy_row__slots(r)[i];
    eddy_str v = {(const char *)r + (s >> 32), (uint32_t)s};
    return v;
}
/* The raw 8-byte slot of field i (for generic code: copy, compare, hash). */
static inline uint64_t eddy_row_slot(const eddy_row *r, uint32_t i) { return eddy_row__slots(r)[i]; }

/* ---- schemas ---------------------------------------------------------------------- */

typedef struct eddy_schema eddy_schema;

/*
 * Parses "name TYPE [NOT NULL], ..." (types: BOOLEAN, INT, INTEGER, BIGINT, DOUBLE,
 * STRING, VARCHAR, BYTES, TIMESTAMP, TIMESTAMP(3); case-insensitive). Returns a new
 * schema the caller frees with eddy_schema_free, or NULL with a message in err that
 * names the position and the offending word.
 */
eddy_schema *eddy_schema_parse(const char *text, char *err, size_t errlen);
void eddy_schema_free(eddy_schema *s); /* accepts NULL */
eddy_schema *eddy_schema_copy(const eddy_schema *s);
uint32_t eddy_schema_arity(const eddy_schema *s);
const char *eddy_schema_name(const eddy_schema *s, uint32_t i);
eddy_type eddy_schema_type(const eddy_schema *s, uint32_t i);
bool eddy_schema_nullable(const eddy_schema *s, uint32_t i);
/* The index of a field by name (case-sensitive), or -1. */
int eddy_schema_index(const eddy_schema *s, const char *name);
/* The canonical text form, parseable by eddy_schema_parse. Owned by the schema. */
const char *eddy_schema_text(const eddy_schema *s);
const char *eddy_type_name(eddy_type t);

/* ---- building rows ---------------------------------------------------------------- */

/*
 * A row builder owns one growable buffer. eddy_rb_reset starts a row with every field
 * NULL; setters fill fields in any order; eddy_rb_row returns the finished row, valid
 * until the next reset or free. Setting a variable-size field twice wastes its first
 * bytes until the next reset; nothing else allocates after the buffer has grown to fit.
 */
typedef struct eddy_row_builder eddy_row_builder;

/* The builder's fields are visible only so that the calls on the per-record path below
 * can be inline; treat them as private. */
struct eddy_row_builder {
    uint8_t *buf;   /* 8-byte aligned; the row under construction starts here */
    uint32_t cap;   /* bytes allocated */
    uint32_t len;   /* bytes used: fixed part + tail so far, a multiple of 8 */
    uint32_t arity;
    uint32_t fixed; /* eddy_row_fixed_size(arity) */
    uint8_t *types; /* eddy_type per field when made by eddy_rb_new_schema, else NULL */
};

/* Aborts with a message naming the field: an index past the builder's arity. */
_Noreturn void eddy_rb__bad_index(const eddy_row_builder *b, uint32_t i);

eddy_row_builder *eddy_rb_new(uint32_t arity);
/* A builder that also knows the field types of schema s (copied): needed by
 * eddy_rb_set_field, which must tell variable-size values from fixed-size ones. */
eddy_row_builder *eddy_rb_new_schema(const eddy_schema *s);
void eddy_rb_free(eddy_row_builder *b); /* accepts NULL */
/* Copies len bytes; returns 0, or -1 when the row would exceed EDDY_ROW_MAX_SIZE. */
int eddy_rb_set_str(eddy_row_builder *b, uint32_t i, const char *p, uint32_t len);
int eddy_rb_set_cstr(eddy_row_builder *b, uint32_t i, const char *s);
/* Copies field `from` of row src (any type, NULL included) into field i. The builder must
 * come from eddy_rb_new_schema (a row does not record its types), and src's field `from`
 * must have field i's type. Aborts with a message on a builder without types. */
int eddy_rb_set_field(eddy_row_builder *b, uint32_t i, const eddy_row *src, uint32_t from);
/* Starts the builder as a copy of src (same arity required); returns 0 or -1. */
int eddy_rb_copy(eddy_row_builder *b, const eddy_row *src);

static inline uint64_t *eddy_rb__nulls(eddy_row_builder *b) { return (uint64_t *)(b->buf + 8); }
static inline uint64_t *eddy_rb__slots(eddy_row_builder *b)
{
    return (uint64_t *)(b->buf + b->fixed) - b->arity;
}
static inline void eddy_rb__put(eddy_row_builder *b, uint32_t i, uint64_t v)
{
    if (__builtin_expect(i >= b->arity, 0)) eddy_rb__bad_index(b, i);
    eddy_rb__slots(b)[i] = v;
    eddy_rb__nulls(b)[i >> 6] &= ~(1ULL << (i & 63u));
}

/* Starts a new row: every field NULL, kind +I. */
static inline void eddy_rb_reset(eddy_row_builder *b)
{
    uint8_t *p = b->buf;
    uint32_t arity = b->arity;
    if (b->fixed <= 64) { /* the common rows: whole-word stores, no library call */
        uint64_t z = 0;
        switch (b->fixed / 8) {
        case 8: memcpy(p + 56, &z, 8); /* fall through */
        case 7: memcpy(p + 48, &z, 8); /* fall through */
        case 6: memcpy(p + 40, &z, 8); /* fall through */
        case 5: memcpy(p + 32, &z, 8); /* fall through */
        case 4: memcpy(p + 24, &z, 8); /* fall through */
        case 3: memcpy(p + 16, &z, 8); /* fall through */
        case 2: memcpy(p + 8, &z, 8); /* fall through */
        default: memcpy(p, &z, 8);
        }
    } else {
        memset(p, 0, b->fixed);
    }
    uint16_t a16 = (uint16_t)arity;
    memcpy(p + 6, &a16, 2);
    uint64_t *nulls = eddy_rb__nulls(b);
    uint32_t full = arity / 64, rest = arity % 64;
    for (uint32_t w = 0; w < full; w++) nulls[w] = ~0ULL;
    if (rest) nulls[full] = (1ULL << rest) - 1;
    b->len = b->fixed;
}
static inline void eddy_rb_set_kind(eddy_row_builder *b, eddy_row_kind k) { b->buf[4] = (uint8_t)k; }
static inline void eddy_rb_set_null(eddy_row_builder *b, uint32_t i)
{
    if (__builtin_expect(i >= b->arity, 0)) eddy_rb__bad_index(b, i);
    eddy_rb__slots(b)[i] = 0;
    eddy_rb__nulls(b)[i >> 6] |= 1ULL << (i & 63u);
}
/* INT, BIGINT and TIMESTAMP fields */
static inline void eddy_rb_set_i64(eddy_row_builder *b, uint32_t i, int64_t v)
{
    eddy_rb__put(b, i, (uint64_t)v);
}
static inline void eddy_rb_set_i32(eddy_row_builder *b, uint32_t i, int32_t v)
{
    eddy_rb__put(b, i, (uint64_t)(int64_t)v);
}
static inline void eddy_rb_set_f64(eddy_row_builder *b, uint32_t i, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    eddy_rb__put(b, i, bits);
}
static inline void eddy_rb_set_bool(eddy_row_builder *b, uint32_t i, bool v)
{
    eddy_rb__put(b, i, v ? 1u : 0u);
}
static inline uint32_t eddy_rb_arity(const eddy_row_builder *b) { return b->arity; }
/* The finished row, valid until the next reset, set_str or free. */
static inline const eddy_row *eddy_rb_row(eddy_row_builder *b)
{
    memcpy(b->buf, &b->len, 4);
    return (const eddy_row *)b->buf;
}

#ifdef __cplusplus
}
#endif
#endif
