/*
 * key.c - canonical key bytes and key groups.
 *
 * A key is reduced to bytes that depend only on its values, never on where a row put
 * them, written as whole 8-byte words (so that hashing them right after they are written
 * reads back complete stores: byte-wise writes followed by word reads stall the CPU's
 * store forwarding, which once cost a third of the keyed hot path):
 *
 *   fixed-size field    one word: the value, little-endian (NULL: 0)
 *   STRING / BYTES      one word holding the length, then the bytes, zero-padded to a
 *                       whole word (NULL: length 0, no bytes)
 *   any field NULL      one more word at the end: bit k set when key field k is NULL
 *
 * Decoding the fields by their lengths consumes the same words for both of two keys with
 * equal bytes, and a word left over can only be the null mask, so equal bytes <=> equal
 * keys. DOUBLE keys use Java's Double.equals semantics: all NaNs are written as the
 * canonical NaN, while 0.0 and -0.0 stay distinct keys. The bytes are what is hashed
 * (murmur3) into a key group and what keyed state stores.
 *
 * Key groups follow Flink's KeyGroupRangeAssignment: key group k of m belongs to subtask
 * k * p / m, and subtask i owns the contiguous range [ceil(i*m/p), ((i+1)*m - 1) / p].
 * The two formulas are exact inverses, so state is redistributed by whole key groups
 * when a job restores at another parallelism.
 */
#include "types.h"

#include <ctype.h>
#include <string.h>

int ed_keyspec_parse(ed_keyspec *ks, const eddy_schema *s, const char *fields, ed_err *err)
{
    ks->n = 0;
    const char *p = fields ? fields : "";
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && isspace((unsigned char)end[-1]))
            end--;
        size_t len = (size_t)(end - start);
        if (!len) return ed_err_set(err, "key: empty field name in '%s'", fields ? fields : "");
        char name[256];
        if (len >= sizeof name) return ed_err_set(err, "key: field name too long");
        memcpy(name, start, len);
        name[len] = '\0';
        int idx = eddy_schema_index(s, name);
        if (idx < 0)
            return ed_err_set(err, "key: unknown field '%s' (schema: %s)", name,
                              eddy_schema_text(s));
        for (uint32_t k = 0; k < ks->n; k++)
            if (ks->idx[k] == (uint32_t)idx)
                return ed_err_set(err, "key: field '%s' given twice", name);
        if (ks->n == ED_ARRAY_LEN(ks->idx))
            return ed_err_set(err, "key: more than %zu fields", ED_ARRAY_LEN(ks->idx));
        ks->idx[ks->n] = (uint32_t)idx;
        ks->type[ks->n] = eddy_schema_type(s, (uint32_t)idx);
        ks->n++;
        if (!*p) break;
        p++; /* ',' */
    }
    ed_keyspec_finish(ks);
    return 0;
}

void ed_keyspec_finish(ed_keyspec *ks)
{
    ks->fixed_only = true;
    ks->has_double = false;
    for (uint32_t k = 0; k < ks->n; k++) {
        if (ks->type[k] == EDDY_STRING || ks->type[k] == EDDY_BYTES) ks->fixed_only = false;
        if (ks->type[k] == EDDY_DOUBLE) ks->has_double = true;
    }
}

void ed_keyspec_all(ed_keyspec *ks, const eddy_schema *s)
{
    uint32_t n = eddy_schema_arity(s);
    ed_assert(n <= ED_ARRAY_LEN(ks->idx));
    ks->n = n;
    for (uint32_t i = 0; i < n; i++) {
        ks->idx[i] = i;
        ks->type[i] = eddy_schema_type(s, i);
    }
    ed_keyspec_finish(ks);
}

static inline void put_word(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

size_t ed_key_write_any(const ed_keyspec *ks, const eddy_row *r, uint8_t *buf, size_t cap)
{
    size_t need = 0;
    uint64_t nulls = 0;
    for (uint32_t k = 0; k < ks->n; k++) {
        uint32_t i = ks->idx[k];
        eddy_type t = ks->type[k];
        need += 8;
        if (eddy_row_is_null(r, i))
            nulls |= 1ULL << k;
        else if (t == EDDY_STRING || t == EDDY_BYTES)
            need += ED_ALIGN8((size_t)eddy_row_str(r, i).len);
    }
    if (nulls) need += 8;
    if (need > cap) return need;
    uint8_t *p = buf;
    for (uint32_t k = 0; k < ks->n; k++) {
        uint32_t i = ks->idx[k];
        eddy_type t = ks->type[k];
        if (nulls >> k & 1) {
            put_word(p, 0);
            p += 8;
            continue;
        }
        if (t == EDDY_STRING || t == EDDY_BYTES) {
            eddy_str v = eddy_row_str(r, i);
            put_word(p, v.len);
            p += 8;
            size_t padded = ED_ALIGN8((size_t)v.len);
            if (padded) {
                put_word(p + padded - 8, 0);
                memcpy(p, v.ptr, v.len);
            }
            p += padded;
            continue;
        }
        uint64_t v = eddy_row_slot(r, i);
        if (t == EDDY_DOUBLE && (v & 0x7ff0000000000000ULL) == 0x7ff0000000000000ULL &&
            (v & 0x000fffffffffffffULL))
            v = 0x7ff8000000000000ULL; /* one NaN, as Double.doubleToLongBits */
        put_word(p, v);
        p += 8;
    }
    if (nulls) {
        put_word(p, nulls);
        p += 8;
    }
    ed_assert((size_t)(p - buf) == need);
    return need;
}

int ed_key_decode(const ed_keyspec *ks, const uint8_t *key, size_t len, eddy_row_builder *b)
{
    eddy_rb_reset(b);
    size_t pos = 0;
    for (uint32_t k = 0; k < ks->n; k++) {
        uint64_t w;
        if (pos + 8 > len) return -1;
        memcpy(&w, key + pos, 8);
        pos += 8;
        eddy_type t = ks->type[k];
        if (t == EDDY_STRING || t == EDDY_BYTES) {
            size_t padded = ED_ALIGN8((size_t)w);
            if (w > UINT32_MAX || pos + padded > len) return -1;
            if (eddy_rb_set_str(b, k, (const char *)key + pos, (uint32_t)w)) return -1;
            pos += padded;
        } else {
            eddy_rb_set_i64(b, k, (int64_t)w);
        }
    }
    if (pos + 8 == len) { /* the null mask */
        uint64_t nulls;
        memcpy(&nulls, key + pos, 8);
        for (uint32_t k = 0; k < ks->n; k++)
            if (nulls >> k & 1) eddy_rb_set_null(b, k);
        pos += 8;
    }
    return pos == len ? 0 : -1;
}

eddy_schema *ed_keyspec_schema(const ed_keyspec *ks, const eddy_schema *s)
{
    ed_strbuf sb;
    ed_sb_init(&sb);
    for (uint32_t k = 0; k < ks->n; k++)
        ed_sb_printf(&sb, "%s`%s` %s", k ? ", " : "", eddy_schema_name(s, ks->idx[k]),
                     eddy_type_name(ks->type[k]));
    char msg[256];
    eddy_schema *out = eddy_schema_parse(sb.len ? sb.data : "", msg, sizeof msg);
    ed_assert(out);
    ed_sb_free(&sb);
    return out;
}

void ed_key_group_range(int i, int parallelism, int max_parallelism, int *first, int *last)
{
    ed_assert(parallelism >= 1 && max_parallelism >= parallelism && i >= 0 && i < parallelism);
    int64_t m = max_parallelism, p = parallelism;
    *first = (int)((i * m + p - 1) / p);
    *last = (int)(((i + 1) * m - 1) / p);
}
