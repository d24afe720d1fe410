/*
 * row.c - building, validating and comparing binary rows (layout in eddy/row.h).
 *
 * The builder is on the per-record path of every source and operator, so it is shaped
 * for that: one buffer per builder that only grows, never shrinks; eddy_rb_reset clears
 * the fixed part with one memset and sets the null words, so a new row starts with every
 * field NULL and every slot 0; fixed-size setters are a bounds check, a store and a bit
 * clear. Variable-size values append to the tail at 8-byte aligned positions with their
 * padding zeroed, so two rows built by the same calls are equal byte for byte - which is
 * what lets keys and state entries be hashed and compared as bytes.
 *
 * A row does not carry its types. Code that must tell a string slot from a number slot
 * (eddy_rb_set_field, exact validation and equality) asks for the schema; the schema-less
 * ed_row_validate checks only what the bytes themselves can prove.
 */
#include "types.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ed_rb_nulls eddy_rb__nulls
#define ed_rb_slots eddy_rb__slots

_Noreturn void eddy_rb__bad_index(const eddy_row_builder *b, uint32_t i)
{
    fprintf(stderr, "eddy: row builder: field %u is past the row's %u fields\n", i, b->arity);
    abort();
}
static inline bool ed_type_is_var(eddy_type t)
{
    return t == EDDY_STRING || t == EDDY_BYTES;
}

/* Grows the buffer to hold at least need bytes; need <= EDDY_ROW_MAX_SIZE. */
static void ed_rb_grow(eddy_row_builder *b, uint32_t need)
{
    uint64_t cap = b->cap;
    while (cap < need)
        cap *= 2;
    if (cap > EDDY_ROW_MAX_SIZE) cap = EDDY_ROW_MAX_SIZE;
    b->buf = ed_xrealloc(b->buf, (size_t)cap);
    ed_assert(((uintptr_t)b->buf & 7) == 0); /* malloc aligns to 16 on every eddy target */
    b->cap = (uint32_t)cap;
}

eddy_row_builder *eddy_rb_new(uint32_t arity)
{
    ed_assert(arity <= EDDY_ROW_MAX_ARITY);
    eddy_row_builder *b = ed_xcalloc(1, sizeof *b);
    b->arity = arity;
    b->fixed = eddy_row_fixed_size(arity);
    b->cap = b->fixed + 64;
    b->buf = ed_xmalloc(b->cap);
    ed_assert(((uintptr_t)b->buf & 7) == 0);
    eddy_rb_reset(b);
    return b;
}

eddy_row_builder *eddy_rb_new_schema(const eddy_schema *s)
{
    uint32_t n = eddy_schema_arity(s);
    eddy_row_builder *b = eddy_rb_new(n);
    b->types = ed_xmalloc(n ? n : 1);
    for (uint32_t i = 0; i < n; i++)
        b->types[i] = (uint8_t)eddy_schema_type(s, i);
    return b;
}

void eddy_rb_free(eddy_row_builder *b)
{
    if (!b) return;
    free(b->buf);
    free(b->types);
    free(b);
}

static inline void ed_rb_put(eddy_row_builder *b, uint32_t i, uint64_t v)
{
    ed_assert(i < b->arity);
    ed_rb_slots(b)[i] = v;
    ed_rb_nulls(b)[i >> 6] &= ~(1ULL << (i & 63));
}

char *ed_rb_reserve_str(eddy_row_builder *b, uint32_t i, uint32_t len)
{
    ed_assert(i < b->arity);
    uint64_t padded = ED_ALIGN8((uint64_t)len);
    if ((uint64_t)b->len + padded > EDDY_ROW_MAX_SIZE) return NULL;
    uint32_t need = b->len + (uint32_t)padded;
    if (need > b->cap) ed_rb_grow(b, need);
    uint8_t *dst = b->buf + b->len;
    memset(dst + len, 0, (size_t)(padded - len)); /* zero padding: rows compare as bytes */
    ed_rb_put(b, i, (uint64_t)b->len << 32 | len);
    b->len = need;
    return (char *)dst;
}

void ed_rb_trim_last(eddy_row_builder *b, uint32_t i, uint32_t len)
{
    ed_assert(i < b->arity);
    uint64_t slot = ed_rb_slots(b)[i];
    uint32_t off = (uint32_t)(slot >> 32), old = (uint32_t)slot;
    ed_assert(len <= old && off + ED_ALIGN8(old) == b->len); /* the last value appended */
    uint32_t padded = (uint32_t)ED_ALIGN8(len);
    memset(b->buf + off + len, 0, padded - len);
    ed_rb_slots(b)[i] = (uint64_t)off << 32 | len;
    b->len = off + padded;
}

int eddy_rb_set_str(eddy_row_builder *b, uint32_t i, const char *p, uint32_t len)
{
    /* p may point into our own buffer (a field of the row being built): keep its offset
     * across a realloc. */
    uintptr_t q = (uintptr_t)p, lo = (uintptr_t)b->buf;
    bool inside = q >= lo && q < lo + b->cap;
    size_t off = inside ? (size_t)(q - lo) : 0;
    char *dst = ed_rb_reserve_str(b, i, len);
    if (!dst) return -1;
    if (inside) p = (const char *)b->buf + off;
    if (len) memmove(dst, p, len);
    return 0;
}

int eddy_rb_set_cstr(eddy_row_builder *b, uint32_t i, const char *s)
{
    size_t n = strlen(s);
    if (n > EDDY_ROW_MAX_SIZE) return -1;
    return eddy_rb_set_str(b, i, s, (uint32_t)n);
}

int eddy_rb_set_field(eddy_row_builder *b, uint32_t i, const eddy_row *src, uint32_t from)
{
    ed_assert(b->types != NULL); /* eddy_rb_set_field needs a builder from eddy_rb_new_schema */
    ed_assert(i < b->arity && from < eddy_row_arity(src));
    if (eddy_row_is_null(src, from)) {
        eddy_rb_set_null(b, i);
        return 0;
    }
    if (ed_type_is_var((eddy_type)b->types[i])) {
        eddy_str v = eddy_row_str(src, from);
        return eddy_rb_set_str(b, i, v.ptr, v.len);
    }
    ed_rb_put(b, i, eddy_row_slot(src, from));
    return 0;
}

int eddy_rb_copy(eddy_row_builder *b, const eddy_row *src)
{
    if (eddy_row_arity(src) != b->arity) return -1;
    uint32_t size = eddy_row_size(src);
    ed_assert(size >= b->fixed && size % 8 == 0 && size <= EDDY_ROW_MAX_SIZE);
    if ((const uint8_t *)src != b->buf) {
        if (size > b->cap) ed_rb_grow(b, size);
        memcpy(b->buf, src, size);
    }
    b->len = size;
    return 0;
}

/* ---- validation ---------------------------------------------------------------------- */

static uint64_t ed_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

int ed_row_validate(const void *p, size_t n, ed_err *err)
{
    const uint8_t *r = p;
    if (n < EDDY_ROW_HEADER) return ed_err_set(err, "row: %zu bytes, shorter than a header", n);
    uint32_t size;
    uint16_t arity;
    memcpy(&size, r, 4);
    memcpy(&arity, r + 6, 2);
    if (size != n) return ed_err_set(err, "row: size field says %u bytes, have %zu", size, n);
    if (size % 8) return ed_err_set(err, "row: size %u is not a multiple of 8", size);
    if (size > EDDY_ROW_MAX_SIZE) return ed_err_set(err, "row: size %u exceeds the maximum", size);
    if (r[4] > EDDY_DELETE) return ed_err_set(err, "row: invalid kind %u", r[4]);
    if (r[5] != 0) return ed_err_set(err, "row: reserved byte is %u, not 0", r[5]);
    if (arity > EDDY_ROW_MAX_ARITY) return ed_err_set(err, "row: arity %u too large", arity);
    uint32_t fixed = eddy_row_fixed_size(arity);
    if (fixed > size)
        return ed_err_set(err, "row: %u fields need %u bytes, row has %u", arity, fixed, size);
    if (arity % 64) {
        uint64_t last = ed_load64(r + 8 + 8 * (arity / 64));
        if (last >> (arity % 64))
            return ed_err_set(err, "row: null bits set beyond arity %u", arity);
    }
    return 0;
}

int ed_row_validate_schema(const eddy_schema *s, const void *p, size_t n, ed_err *err)
{
    if (ed_row_validate(p, n, err)) return -1;
    const uint8_t *r = p;
    uint16_t arity;
    memcpy(&arity, r + 6, 2);
    if (arity != eddy_schema_arity(s))
        return ed_err_set(err, "row: %u fields, schema has %u", arity, eddy_schema_arity(s));
    uint32_t fixed = eddy_row_fixed_size(arity), size = (uint32_t)n;
    const uint8_t *nulls = r + 8, *slots = r + fixed - 8u * arity;
    for (uint32_t i = 0; i < arity; i++) {
        uint64_t v = ed_load64(slots + 8 * i);
        bool null = (ed_load64(nulls + 8 * (i / 64)) >> (i % 64)) & 1;
        const char *name = eddy_schema_name(s, i);
        if (null) {
            if (!eddy_schema_nullable(s, i))
                return ed_err_set(err, "row: field %u (%s): NULL in a NOT NULL field", i + 1, name);
            if (v)
                return ed_err_set(err, "row: field %u (%s): NULL with a non-zero slot", i + 1,
                                  name);
            continue;
        }
        switch (eddy_schema_type(s, i)) {
        case EDDY_STRING:
        case EDDY_BYTES: {
            uint64_t off = v >> 32, len = (uint32_t)v;
            if (off < fixed || off > size || len > size - off)
                return ed_err_set(err,
                                  "row: field %u (%s): value at offset %" PRIu64 " length %" PRIu64
                                  " lies outside the tail [%u, %u)",
                                  i + 1, name, off, len, fixed, size);
            break;
        }
        case EDDY_BOOLEAN:
            if (v > 1)
                return ed_err_set(err, "row: field %u (%s): BOOLEAN slot is not 0 or 1", i + 1,
                                  name);
            break;
        case EDDY_INT:
            if ((uint64_t)(int64_t)(int32_t)v != v)
                return ed_err_set(err, "row: field %u (%s): INT slot is not sign-extended", i + 1,
                                  name);
            break;
        case EDDY_BIGINT:
        case EDDY_DOUBLE:
        case EDDY_TIMESTAMP:
            break;
        }
    }
    return 0;
}

/* ---- equality ------------------------------------------------------------------------ */

static bool ed_header_equal(const eddy_row *a, const eddy_row *b)
{
    uint32_t n = eddy_row_arity(a);
    if (n != eddy_row_arity(b) || eddy_row_get_kind(a) != eddy_row_get_kind(b)) return false;
    return !memcmp(eddy_row__nulls(a), eddy_row__nulls(b), 8 * eddy_row_nullwords(n));
}

static bool ed_str_equal(eddy_str x, eddy_str y)
{
    return x.len == y.len && (x.len == 0 || !memcmp(x.ptr, y.ptr, x.len));
}

static bool ed_f64_equal(uint64_t x, uint64_t y)
{
    /* Java's Double.equals: bit equality, all NaNs equal. */
    const uint64_t exp = 0x7ff0000000000000ULL, mant = 0x000fffffffffffffULL;
    bool xnan = (x & exp) == exp && (x & mant), ynan = (y & exp) == exp && (y & mant);
    return xnan || ynan ? xnan && ynan : x == y;
}

bool ed_row_equal_schema(const eddy_schema *s, const eddy_row *a, const eddy_row *b)
{
    if (!ed_header_equal(a, b)) return false;
    uint32_t n = eddy_row_arity(a);
    ed_assert(n == eddy_schema_arity(s));
    for (uint32_t i = 0; i < n; i++) {
        if (eddy_row_is_null(a, i)) continue;
        eddy_type t = eddy_schema_type(s, i);
        if (ed_type_is_var(t)) {
            if (!ed_str_equal(eddy_row_str(a, i), eddy_row_str(b, i))) return false;
        } else if (t == EDDY_DOUBLE) {
            if (!ed_f64_equal(eddy_row_slot(a, i), eddy_row_slot(b, i))) return false;
        } else if (eddy_row_slot(a, i) != eddy_row_slot(b, i)) {
            return false;
        }
    }
    return true;
}

/* Whether slot v of row r could be a string: its range lies inside r's tail. */
static bool ed_maybe_str(const eddy_row *r, uint64_t v)
{
    uint64_t off = v >> 32, len = (uint32_t)v, size = eddy_row_size(r);
    return off >= eddy_row_fixed_size(eddy_row_arity(r)) && off <= size && len <= size - off;
}

bool ed_row_equal(const eddy_row *a, const eddy_row *b)
{
    if (!ed_header_equal(a, b)) return false;
    uint32_t n = eddy_row_arity(a);
    for (uint32_t i = 0; i < n; i++) {
        if (eddy_row_is_null(a, i)) continue;
        uint64_t x = eddy_row_slot(a, i), y = eddy_row_slot(b, i);
        bool var = ed_maybe_str(a, x) && ed_maybe_str(b, y);
        if (var) {
            if (!ed_str_equal(eddy_row_str(a, i), eddy_row_str(b, i))) return false;
        } else if (x != y) {
            return false;
        }
    }
    return true;
}
