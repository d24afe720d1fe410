/*
 * format.c - rows as text: Flink's Row.toString, CSV both ways, and timestamps.
 *
 * eddy's output must match Flink's character for character, because the first thing a
 * user does is diff the two. So values print as the JVM prints them: doubles in the form
 * of Java's Double.toString (the shortest decimal that reads back to the same double,
 * "1.0", "1.0E10", "1.0E-5"), timestamps as LocalDateTime.toString ("2026-11-25T11:41",
 * seconds and fraction only when non-zero), and a row as "+I[a, b]".
 *
 * CSV follows RFC 4180 as Flink's CSV format does: quotes only when needed, "" for a
 * quote, the empty unquoted field is NULL and "" is the empty string, BYTES in base64.
 * A record is one line: a quoted field cannot span lines. Numbers, booleans and
 * timestamps may be surrounded by blanks (Flink trims them); strings are taken as they
 * are. The parser is on the per-record path: it writes straight into the row builder,
 * unescaping and base64-decoding in place in the row's tail, and allocates nothing.
 *
 * Time is UTC and the calendar proleptic Gregorian (Howard Hinnant's days-from-civil), as
 * Java's LocalDateTime.
 */
#include "types.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- doubles as Java prints them ----------------------------------------------------- */

static void ed_format_double_java(double d, ed_strbuf *out)
{
    if (isnan(d)) {
        ed_sb_puts(out, "NaN");
        return;
    }
    if (isinf(d)) {
        ed_sb_puts(out, d < 0 ? "-Infinity" : "Infinity");
        return;
    }
    if (d == 0) {
        ed_sb_puts(out, signbit(d) ? "-0.0" : "0.0");
        return;
    }
    /* The shortest correctly rounded decimal that reads back as d. Java's rule for a
     * one-digit shortest: choose among one- and two-digit decimals the closest to d, which
     * is the correctly rounded two-digit one (Double.MIN_VALUE is 4.9E-324, not 5.0E-324). */
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d) {
            if (prec == 1) {
                char two[40];
                snprintf(two, sizeof two, "%.1e", d);
                if (strtod(two, NULL) == d) memcpy(buf, two, sizeof buf);
            }
            break;
        }
    }
    char digits[24] = {0};
    int nd = 0;
    const char *p = buf;
    if (*p == '-') {
        ed_sb_putc(out, '-');
        p++;
    }
    for (; *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;

    if (exp >= -3 && exp < 7) {
        /* plain notation, at least one digit after the point */
        if (exp >= 0) {
            for (int k = 0; k <= exp; k++)
                ed_sb_putc(out, k < nd ? digits[k] : '0');
            ed_sb_putc(out, '.');
            if (nd > exp + 1)
                ed_sb_append(out, digits + exp + 1, (size_t)(nd - exp - 1));
            else
                ed_sb_putc(out, '0');
        } else {
            ed_sb_puts(out, "0.");
            for (int k = 0; k < -exp - 1; k++)
                ed_sb_putc(out, '0');
            ed_sb_append(out, digits, (size_t)nd);
        }
    } else {
        /* computerized scientific notation: d.dddE[-]n */
        ed_sb_putc(out, digits[0]);
        ed_sb_putc(out, '.');
        if (nd > 1)
            ed_sb_append(out, digits + 1, (size_t)(nd - 1));
        else
            ed_sb_putc(out, '0');
        ed_sb_printf(out, "E%d", exp);
    }
}

/* ---- calendar ------------------------------------------------------------------------ */

static int64_t ed_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void ed_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool ed_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned ed_days_in_month(int64_t y, unsigned m)
{
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && ed_leap(y) ? 29 : days[m - 1];
}

typedef struct ed_datetime {
    int64_t year;
    unsigned month, day, hour, minute, second, milli;
} ed_datetime;

static void ed_split_ms(int64_t ms, ed_datetime *t)
{
    int64_t days = ms / 86400000, rem = ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    ed_civil_from_days(days, &t->year, &t->month, &t->day);
    t->hour = (unsigned)(rem / 3600000);
    t->minute = (unsigned)(rem / 60000 % 60);
    t->second = (unsigned)(rem / 1000 % 60);
    t->milli = (unsigned)(rem % 1000);
}

/* Years as java.time prints them: 4 digits at least, '+' above 9999. */
static void ed_format_year(int64_t y, ed_strbuf *out)
{
    if (y > 9999)
        ed_sb_printf(out, "+%" PRId64, y);
    else if (y < 0)
        ed_sb_printf(out, "-%04" PRId64, -y);
    else
        ed_sb_printf(out, "%04" PRId64, y);
}

void ed_format_timestamp_ms(int64_t ms, ed_strbuf *out)
{
    ed_datetime t;
    ed_split_ms(ms, &t);
    ed_format_year(t.year, out);
    ed_sb_printf(out, "-%02u-%02u %02u:%02u:%02u.%03u", t.month, t.day, t.hour, t.minute, t.second,
                 t.milli);
}

/* LocalDateTime.toString: "uuuu-MM-ddTHH:mm", then ":ss" unless seconds and fraction are
 * zero, then ".SSS" unless the fraction is zero. */
static void ed_format_timestamp_java(int64_t ms, ed_strbuf *out)
{
    ed_datetime t;
    ed_split_ms(ms, &t);
    ed_format_year(t.year, out);
    ed_sb_printf(out, "-%02u-%02uT%02u:%02u", t.month, t.day, t.hour, t.minute);
    if (t.second || t.milli) ed_sb_printf(out, ":%02u", t.second);
    if (t.milli) ed_sb_printf(out, ".%03u", t.milli);
}

static bool ed_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9') return false;
    return n > 0;
}

static unsigned ed_num(const char *p, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned)(p[i] - '0');
    return v;
}

int ed_parse_timestamp_ms(const char *p, size_t len, int64_t *out)
{
    /* epoch milliseconds */
    size_t s = len && (p[0] == '-' || p[0] == '+') ? 1 : 0;
    if (ed_digits(p + s, len - s)) {
        char buf[32];
        if (len >= sizeof buf) return -1;
        memcpy(buf, p, len);
        buf[len] = '\0';
        return ed_parse_i64(buf, out);
    }
    /* [+-]yyyy-MM-dd[ T]HH:mm[:ss[.fff]] */
    size_t i = s, ys = i;
    while (i < len && p[i] >= '0' && p[i] <= '9')
        i++;
    size_t ylen = i - ys;
    if (ylen < 4 || ylen > 7) return -1;
    int64_t year = 0;
    for (size_t k = ys; k < i; k++)
        year = year * 10 + (p[k] - '0');
    if (s && p[0] == '-') year = -year;
    const char *r = p + i;
    size_t rest = len - i;
    if (rest < 12 || r[0] != '-' || !ed_digits(r + 1, 2) || r[3] != '-' || !ed_digits(r + 4, 2) ||
        (r[6] != ' ' && r[6] != 'T') || !ed_digits(r + 7, 2) || r[9] != ':' ||
        !ed_digits(r + 10, 2))
        return -1;
    unsigned month = ed_num(r + 1, 2), day = ed_num(r + 4, 2), hour = ed_num(r + 7, 2),
             minute = ed_num(r + 10, 2), second = 0, milli = 0;
    size_t k = 12;
    if (k < rest) {
        if (r[k] != ':' || k + 3 > rest || !ed_digits(r + k + 1, 2)) return -1;
        second = ed_num(r + k + 1, 2);
        k += 3;
        if (k < rest) {
            if (r[k] != '.') return -1;
            size_t f = k + 1, flen = rest - f;
            if (flen < 1 || flen > 9 || !ed_digits(r + f, flen)) return -1;
            /* fraction to milliseconds; digits below a millisecond are cut, as a cast to
             * TIMESTAMP(3) does */
            for (size_t q = 0; q < 3; q++)
                milli = milli * 10 + (q < flen ? (unsigned)(r[f + q] - '0') : 0);
            k = rest;
        }
    }
    if (month < 1 || month > 12 || day < 1 || day > ed_days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 59)
        return -1;
    int64_t days = ed_days_from_civil(year, month, day);
    *out = days * 86400000 + (int64_t)hour * 3600000 + (int64_t)minute * 60000 +
           (int64_t)second * 1000 + milli;
    return 0;
}

/* ---- base64 (BYTES in CSV, as Flink's CSV format writes them) --------------------------- */

static const char ed_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void ed_base64_encode(const uint8_t *p, size_t n, ed_strbuf *out)
{
    ed_sb_reserve(out, (n + 2) / 3 * 4);
    char *o = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = ed_b64[v >> 18];
        *o++ = ed_b64[(v >> 12) & 63];
        *o++ = ed_b64[(v >> 6) & 63];
        *o++ = ed_b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = ed_b64[v >> 18];
        *o++ = ed_b64[(v >> 12) & 63];
        *o++ = i + 1 < n ? ed_b64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
}

static int ed_b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes n chars at in to out (out may equal in: it never overtakes the input).
 * Padding is optional. Returns the decoded length or -1. */
static long ed_base64_decode(const char *in, size_t n, uint8_t *out)
{
    while (n && in[n - 1] == '=')
        n--;
    if (n % 4 == 1) return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = ed_b64_value(in[i]);
        if (v < 0) return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)o;
}

/* ---- formatting rows ----------------------------------------------------------------- */

static const char *const ed_kind_short[] = {"+I", "-U", "+U", "-D"};

void ed_value_format(eddy_type t, const eddy_row *r, uint32_t i, ed_strbuf *out)
{
    if (eddy_row_is_null(r, i)) return;
    switch (t) {
    case EDDY_BOOLEAN:
        ed_sb_puts(out, eddy_row_bool(r, i) ? "true" : "false");
        break;
    case EDDY_INT:
        ed_sb_printf(out, "%" PRId32, eddy_row_i32(r, i));
        break;
    case EDDY_BIGINT:
        ed_sb_printf(out, "%" PRId64, eddy_row_i64(r, i));
        break;
    case EDDY_DOUBLE:
        ed_format_double_java(eddy_row_f64(r, i), out);
        break;
    case EDDY_STRING: {
        eddy_str v = eddy_row_str(r, i);
        ed_sb_append(out, v.ptr, v.len);
        break;
    }
    case EDDY_BYTES: {
        eddy_str v = eddy_row_str(r, i);
        ed_base64_encode((const uint8_t *)v.ptr, v.len, out);
        break;
    }
    case EDDY_TIMESTAMP:
        ed_format_timestamp_ms(eddy_row_i64(r, i), out);
        break;
    }
}

void ed_row_format_flink(const eddy_schema *s, const eddy_row *r, ed_strbuf *out)
{
    uint32_t n = eddy_row_arity(r);
    ed_assert(n == eddy_schema_arity(s));
    ed_sb_puts(out, ed_kind_short[eddy_row_get_kind(r) & 3]);
    ed_sb_putc(out, '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i) ed_sb_puts(out, ", ");
        if (eddy_row_is_null(r, i)) {
            ed_sb_puts(out, "null");
            continue;
        }
        eddy_type t = eddy_schema_type(s, i);
        if (t == EDDY_TIMESTAMP) {
            ed_format_timestamp_java(eddy_row_i64(r, i), out);
        } else if (t == EDDY_BYTES) {
            static const char hex[] = "0123456789abcdef";
            eddy_str v = eddy_row_str(r, i);
            ed_sb_puts(out, "x'");
            for (uint32_t k = 0; k < v.len; k++) {
                uint8_t c = (uint8_t)v.ptr[k];
                ed_sb_putc(out, hex[c >> 4]);
                ed_sb_putc(out, hex[c & 15]);
            }
            ed_sb_putc(out, '\'');
        } else {
            ed_value_format(t, r, i, out);
        }
    }
    ed_sb_putc(out, ']');
}

void ed_row_format_csv(const eddy_schema *s, const eddy_row *r, char delim, ed_strbuf *out)
{
    uint32_t n = eddy_row_arity(r);
    ed_assert(n == eddy_schema_arity(s));
    for (uint32_t i = 0; i < n; i++) {
        if (i) ed_sb_putc(out, delim);
        if (eddy_row_is_null(r, i)) continue;
        size_t start = out->len;
        ed_value_format(eddy_schema_type(s, i), r, i, out);
        size_t len = out->len - start, quotes = 0;
        bool need = len == 0; /* "" keeps an empty value apart from NULL */
        for (size_t k = start; k < out->len; k++) {
            char c = out->data[k];
            if (c == '"') quotes++;
            if (c == delim || c == '"' || c == '\r' || c == '\n') need = true;
        }
        if (!need) continue;
        /* Quote in place: shift right from the end, doubling quotes. */
        ed_sb_reserve(out, quotes + 2);
        char *d = out->data;
        size_t src = out->len, dst = out->len + quotes + 2;
        d[dst] = '\0';
        d[--dst] = '"';
        while (src > start) {
            char c = d[--src];
            d[--dst] = c;
            if (c == '"') d[--dst] = '"';
        }
        d[--dst] = '"';
        ed_assert(dst == start);
        out->len += quotes + 2;
    }
}

/* ---- parsing values ------------------------------------------------------------------ */

static const char *ed_type_article(eddy_type t)
{
    return t == EDDY_INT ? "an" : "a";
}

static int ed_not_a(ed_err *err, eddy_type t, const char *p, size_t len)
{
    if (len > 64)
        return ed_err_set(err, "'%.64s...' is not %s %s", p, ed_type_article(t), eddy_type_name(t));
    return ed_err_set(err, "'%.*s' is not %s %s", (int)len, p, ed_type_article(t),
                      eddy_type_name(t));
}

int ed_value_parse(eddy_type t, const char *p, size_t len, eddy_row_builder *b, uint32_t i,
                   ed_err *err)
{
    if (t == EDDY_STRING) {
        size_t bad = ed_utf8_check(p, len);
        if (bad < len) return ed_err_set(err, "invalid UTF-8 at byte %zu", bad + 1);
        if (len > EDDY_ROW_MAX_SIZE || eddy_rb_set_str(b, i, p, (uint32_t)len))
            return ed_err_set(err, "value of %zu bytes does not fit in a row", len);
        return 0;
    }
    if (t == EDDY_BYTES) {
        if (len > EDDY_ROW_MAX_SIZE) return ed_err_set(err, "value of %zu bytes is too big", len);
        char *dst = ed_rb_reserve_str(b, i, (uint32_t)len);
        if (!dst) return ed_err_set(err, "value of %zu bytes does not fit in a row", len);
        memmove(dst, p, len);
        long n = ed_base64_decode(dst, len, (uint8_t *)dst);
        if (n < 0) {
            ed_rb_trim_last(b, i, 0);
            eddy_rb_set_null(b, i);
            if (len > 64) return ed_err_set(err, "'%.64s...' is not BYTES in base64", p);
            return ed_err_set(err, "'%.*s' is not BYTES in base64", (int)len, p);
        }
        ed_rb_trim_last(b, i, (uint32_t)n);
        return 0;
    }
    /* Numbers, booleans and timestamps: blanks around the value are ignored, as Flink's
     * CSV format trims them. */
    const char *v = p;
    size_t n = len;
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    char buf[80];
    if (n >= sizeof buf) return ed_not_a(err, t, p, len);
    memcpy(buf, v, n);
    buf[n] = '\0';
    int64_t iv;
    double dv;
    bool bv;
    switch (t) {
    case EDDY_BOOLEAN:
        if (ed_parse_bool(buf, &bv)) return ed_not_a(err, t, p, len);
        eddy_rb_set_bool(b, i, bv);
        return 0;
    case EDDY_INT:
        if (ed_parse_i64(buf, &iv) || iv < INT32_MIN || iv > INT32_MAX)
            return ed_not_a(err, t, p, len);
        eddy_rb_set_i32(b, i, (int32_t)iv);
        return 0;
    case EDDY_BIGINT:
        if (ed_parse_i64(buf, &iv)) return ed_not_a(err, t, p, len);
        eddy_rb_set_i64(b, i, iv);
        return 0;
    case EDDY_DOUBLE:
        if (ed_parse_f64(buf, &dv)) return ed_not_a(err, t, p, len);
        eddy_rb_set_f64(b, i, dv);
        return 0;
    case EDDY_TIMESTAMP:
        if (ed_parse_timestamp_ms(buf, n, &iv)) return ed_not_a(err, t, p, len);
        eddy_rb_set_i64(b, i, iv);
        return 0;
    case EDDY_STRING:
    case EDDY_BYTES:
        break;
    }
    return ed_err_set(err, "unsupported type %d", (int)t);
}

/* ---- CSV lines ----------------------------------------------------------------------- */

/* Parses the text of one field (quotes already stripped; `escaped` when it holds ""
 * pairs) into field i. `at` is the field's 0-based offset in the line, for messages. */
static int ed_csv_field(const eddy_schema *s, uint32_t i, const char *p, size_t n, bool quoted,
                        bool escaped, size_t at, eddy_row_builder *b, ed_err *err)
{
    const char *name = eddy_schema_name(s, i);
    size_t bad = ed_utf8_check(p, n);
    if (bad < n)
        return ed_err_set(err, "field %u (%s): invalid UTF-8 at byte %zu", i + 1, name,
                          at + bad + 1);
    if (!quoted && n == 0) {
        if (eddy_schema_nullable(s, i)) return 0; /* reset left it NULL */
        return ed_err_set(err, "field %u (%s): empty value for NOT NULL field", i + 1, name);
    }
    eddy_type t = eddy_schema_type(s, i);
    int rc;
    if (escaped && t == EDDY_STRING) {
        /* copy, then collapse "" to " in place in the row's tail */
        if (n > EDDY_ROW_MAX_SIZE) return ed_err_set(err, "field %u (%s): too big", i + 1, name);
        char *dst = ed_rb_reserve_str(b, i, (uint32_t)n);
        if (!dst) return ed_err_set(err, "field %u (%s): value does not fit in a row", i + 1, name);
        size_t w = 0;
        for (size_t r = 0; r < n; r++) {
            dst[w++] = p[r];
            if (p[r] == '"') r++; /* the second quote of the pair */
        }
        ed_rb_trim_last(b, i, (uint32_t)w);
        return 0;
    }
    if (escaped) {
        /* a quote cannot be part of any other type's text: report the value as written */
        char tmp[80];
        size_t w = 0;
        for (size_t r = 0; r < n && w < sizeof tmp; r++) {
            tmp[w++] = p[r];
            if (p[r] == '"') r++;
        }
        rc = ed_not_a(err, t, tmp, w);
    } else if (t == EDDY_STRING) {
        if (n > EDDY_ROW_MAX_SIZE || eddy_rb_set_str(b, i, p, (uint32_t)n))
            rc = ed_err_set(err, "value does not fit in a row");
        else
            rc = 0;
    } else {
        rc = ed_value_parse(t, p, n, b, i, err);
    }
    if (rc) ed_err_wrap(err, "field %u (%s)", i + 1, name);
    return rc;
}

int ed_csv_parse_line(const char *line, size_t len, const eddy_schema *s, char delim,
                      eddy_row_builder *b, ed_err *err)
{
    uint32_t arity = eddy_schema_arity(s);
    ed_assert(b->arity == arity);
    if (len && line[len - 1] == '\r') len--;
    eddy_rb_reset(b);

    /* The first bad value is kept in verr and reported only when the field count is
     * right: with a wrong count, the values are shifted and the count is the news. */
    ed_err verr;
    verr.set = 0;
    bool bad = false;
    uint32_t field = 0;
    size_t pos = 0;
    for (;;) {
        const char *p;
        size_t n, next;
        bool quoted = pos < len && line[pos] == '"', escaped = false;
        if (quoted) {
            size_t k = pos + 1;
            for (;;) {
                const char *q = k < len ? memchr(line + k, '"', len - k) : NULL;
                if (!q) {
                    if (field < arity)
                        return ed_err_set(err, "field %u (%s): unterminated quoted value",
                                          field + 1, eddy_schema_name(s, field));
                    return ed_err_set(err, "field %u: unterminated quoted value", field + 1);
                }
                k = (size_t)(q - line);
                if (k + 1 < len && line[k + 1] == '"') {
                    escaped = true;
                    k += 2;
                    continue;
                }
                break;
            }
            p = line + pos + 1;
            n = k - pos - 1;
            next = k + 1;
            if (next < len && line[next] != delim) {
                if (field < arity)
                    return ed_err_set(err,
                                      "field %u (%s): unexpected character '%c' after closing "
                                      "quote",
                                      field + 1, eddy_schema_name(s, field), line[next]);
                return ed_err_set(err, "field %u: unexpected character '%c' after closing quote",
                                  field + 1, line[next]);
            }
        } else {
            const char *d = pos < len ? memchr(line + pos, delim, len - pos) : NULL;
            next = d ? (size_t)(d - line) : len;
            p = line + pos;
            n = next - pos;
        }
        if (field < arity && !bad) {
            if (ed_csv_field(s, field, p, n, quoted, escaped, (size_t)(p - line), b, &verr))
                bad = true;
        }
        field++;
        if (next >= len) break;
        pos = next + 1; /* past the delimiter; "a," ends with an empty field */
    }
    if (field != arity)
        return ed_err_set(err, "expected %u field%s, found %u", arity, arity == 1 ? "" : "s",
                          field);
    if (bad) return ed_err_set(err, "%s", verr.msg);
    return 0;
}
