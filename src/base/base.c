/*
 * base.c - the bottom layer: errors as values, allocation, strings, arenas, hashes,
 * clocks and the small text parsers that configuration, options and formats share.
 *
 * Two ideas carry this file. First, errors are values: an ed_err keeps the *first*
 * message set on it, so the root cause survives while callers up the stack add context
 * with ed_err_wrap ("config.yaml:3: " + "key 'x': ..."). Second, the parsers are strict
 * and whole-string: a value either parses completely or is rejected, never half-read,
 * because configuration typos should fail loudly at start-up rather than at 3 a.m.
 *
 * Durations and memory sizes follow Flink's TimeUtils.parseDuration and MemorySize.parse:
 * a non-negative decimal number, optional blanks, an optional unit (case-insensitive).
 * eddy keeps durations in milliseconds, so sub-millisecond units are not accepted.
 */
#include "base.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- assertions and errors ---------------------------------------------------------- */

_Noreturn void ed_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "eddy: assertion failed: %s (%s:%d)\n", expr, file, line);
    fflush(stderr);
    abort();
}

int ed_err_vset(ed_err *e, const char *fmt, va_list ap)
{
    if (!e || e->set) return -1;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    e->set = 1;
    return -1;
}

int ed_err_set(ed_err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ed_err_vset(e, fmt, ap);
    va_end(ap);
    return -1;
}

int ed_err_wrap(ed_err *e, const char *fmt, ...)
{
    if (!e) return -1;
    char prefix[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (!e->set) {
        snprintf(e->msg, sizeof e->msg, "%s", prefix);
        e->set = 1;
        return -1;
    }
    /* prefix + ": " + old message, truncated to fit; the prefix naming the place
     * comes first, so it survives truncation. */
    char old[sizeof e->msg];
    memcpy(old, e->msg, sizeof old);
    size_t cap = sizeof e->msg - 1, n = 0;
    const char *parts[3] = {prefix, ": ", old};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(parts[i]);
        if (l > cap - n) l = cap - n;
        memcpy(e->msg + n, parts[i], l);
        n += l;
    }
    e->msg[n] = '\0';
    return -1;
}

void ed_err_clear(ed_err *e)
{
    if (!e) return;
    e->set = 0;
    e->msg[0] = '\0';
}

/* ---- allocation ---------------------------------------------------------------------- */

static _Noreturn void ed_oom(size_t n)
{
    /* No allocation here: stdio on stderr is unbuffered. */
    fprintf(stderr, "eddy: out of memory allocating %zu bytes\n", n);
    abort();
}

void *ed_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) ed_oom(n);
    return p;
}

void *ed_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) ed_oom(n * size);
    return p;
}

void *ed_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) ed_oom(n);
    return q;
}

char *ed_xstrdup(const char *s)
{
    return ed_xstrndup(s, strlen(s));
}

char *ed_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = ed_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* ---- strbuf -------------------------------------------------------------------------- */

void ed_sb_init(ed_strbuf *sb)
{
    sb->data = NULL;
    sb->len = sb->cap = 0;
}

void ed_sb_free(ed_strbuf *sb)
{
    free(sb->data);
    ed_sb_init(sb);
}

void ed_sb_reset(ed_strbuf *sb)
{
    sb->len = 0;
    if (sb->cap) sb->data[0] = '\0';
}

void ed_sb_reserve(ed_strbuf *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap) return;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap *= 2;
    sb->data = ed_xrealloc(sb->data, cap);
    sb->cap = cap;
}

void ed_sb_append(ed_strbuf *sb, const void *p, size_t n)
{
    ed_sb_reserve(sb, n);
    if (n) memcpy(sb->data + sb->len, p, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void ed_sb_puts(ed_strbuf *sb, const char *s)
{
    ed_sb_append(sb, s, strlen(s));
}

void ed_sb_putc(ed_strbuf *sb, char c)
{
    ed_sb_reserve(sb, 1);
    sb->data[sb->len++] = c;
    sb->data[sb->len] = '\0';
}

void ed_sb_printf(ed_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    ed_sb_reserve(sb, 64);
    va_start(ap, fmt);
    int n = vsnprintf(sb->data + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    ed_assert(n >= 0);
    if ((size_t)n >= sb->cap - sb->len) {
        ed_sb_reserve(sb, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(sb->data + sb->len, sb->cap - sb->len, fmt, ap);
        va_end(ap);
    }
    sb->len += (size_t)n;
}

char *ed_sb_steal(ed_strbuf *sb)
{
    char *p = sb->data ? sb->data : ed_xstrdup("");
    ed_sb_init(sb);
    return p;
}

/* ---- arenas -------------------------------------------------------------------------- */

struct ed_arena_block {
    ed_arena_block *next; /* older block */
    size_t size;          /* bytes in data */
    size_t used;
    _Alignas(64) unsigned char data[]; /* on a cache line: pools carve lines from it */
};

void ed_arena_init(ed_arena *a, size_t block_size)
{
    a->head = NULL;
    a->block_size = block_size ? ED_ALIGN8(block_size) : 8192;
    a->used = 0;
}

static ed_arena_block *ed_arena_block_new(size_t size)
{
    ed_arena_block *blk = aligned_alloc(64, (sizeof *blk + size + 63) & ~(size_t)63);
    if (!blk) return NULL;
    blk->next = NULL;
    blk->size = size;
    blk->used = 0;
    return blk;
}

void *ed_arena_alloc(ed_arena *a, size_t n)
{
    n = ED_ALIGN8(n);
    ed_arena_block *h = a->head;
    if (h && h->size - h->used >= n) {
        void *p = h->data + h->used;
        h->used += n;
        a->used += n;
        return p;
    }
    if (n > a->block_size / 4 && h) {
        /* A big request gets its own block, linked behind the current one so the
         * current block keeps serving small requests. */
        ed_arena_block *blk = ed_arena_block_new(n);
        if (!blk) return NULL;
        blk->used = n;
        blk->next = h->next;
        h->next = blk;
        a->used += n;
        return blk->data;
    }
    ed_arena_block *blk = ed_arena_block_new(n > a->block_size ? n : a->block_size);
    if (!blk) return NULL;
    blk->next = h;
    a->head = blk;
    blk->used = n;
    a->used += n;
    return blk->data;
}

char *ed_arena_strdup(ed_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = ed_arena_alloc(a, n);
    if (p) memcpy(p, s, n);
    return p;
}

void ed_arena_reset(ed_arena *a)
{
    ed_arena_block *b = a->head, *first = NULL;
    while (b) {
        ed_arena_block *next = b->next;
        if (!next) {
            first = b; /* the oldest block stays */
        } else {
            free(b);
        }
        b = next;
    }
    if (first) first->used = 0;
    a->head = first;
    a->used = 0;
}

void ed_arena_destroy(ed_arena *a)
{
    ed_arena_block *b = a->head;
    while (b) {
        ed_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used = 0;
}

/* ---- hashing ------------------------------------------------------------------------- */


/* CRC-32C, reflected polynomial 0x82F63B78, slice-by-8 tables built once. */
static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        crc32c_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            uint32_t c = crc32c_table[t - 1][i];
            crc32c_table[t][i] = (c >> 8) ^ crc32c_table[0][c & 0xff];
        }
    }
}

uint32_t ed_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc32c_once, crc32c_init);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xff];
        len--;
    }
    while (len >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
        lo = __builtin_bswap32(lo);
        hi = __builtin_bswap32(hi);
#endif
        lo ^= c;
        c = crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^
            crc32c_table[5][(lo >> 16) & 0xff] ^ crc32c_table[4][lo >> 24] ^
            crc32c_table[3][hi & 0xff] ^ crc32c_table[2][(hi >> 8) & 0xff] ^
            crc32c_table[1][(hi >> 16) & 0xff] ^ crc32c_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xff];
    return ~c;
}

/* ---- time ---------------------------------------------------------------------------- */

int64_t ed_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ed_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ed_sleep_ns(int64_t ns)
{
    if (ns <= 0) return;
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t ed_system_now_ms(ed_clock *c)
{
    return ed_wall_ms();
}
static ed_clock ed_system_clock = {ed_system_now_ms};

ed_clock *ed_clock_system(void)
{
    return &ed_system_clock;
}

static int64_t ed_manual_now_ms(ed_clock *c)
{
    return ((ed_manual_clock *)c)->now;
}

void ed_manual_clock_init(ed_manual_clock *c, int64_t start_ms)
{
    c->base.now_ms = ed_manual_now_ms;
    c->now = start_ms;
}

void ed_manual_clock_advance(ed_manual_clock *c, int64_t ms)
{
    c->now += ms;
}

/* ---- parsers ------------------------------------------------------------------------- */

int ed_parse_i64(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (*p < '0' || *p > '9') return -1;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (lim - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (*p) return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Java's Double.parseDouble forms without the exotic ones: decimal with optional
 * exponent, NaN, [+-]Infinity. No blanks, no hex, no "inf". */
int ed_parse_f64(const char *s, double *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!strcmp(p, "Infinity")) {
        *out = *s == '-' ? -__builtin_inf() : __builtin_inf();
        return 0;
    }
    if (p == s && !strcmp(p, "NaN")) {
        *out = __builtin_nan("");
        return 0;
    }
    bool digits = false;
    while (*p >= '0' && *p <= '9')
        p++, digits = true;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, digits = true;
    }
    if (!digits) return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (*p < '0' || *p > '9') return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p) return -1;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*end) return -1;
    /* Overflow to infinity is an error; underflow to 0 or a subnormal is not, as Java. */
    if (errno == ERANGE && (d == __builtin_inf() || d == -__builtin_inf())) return -1;
    *out = d;
    return 0;
}

int ed_parse_bool(const char *s, bool *out)
{
    if (!strcasecmp(s, "true")) {
        *out = true;
        return 0;
    }
    if (!strcasecmp(s, "false")) {
        *out = false;
        return 0;
    }
    return -1;
}

typedef struct ed_unit {
    const char *name;
    int64_t mult;
} ed_unit;

/* Parses "<digits><blanks><unit>" against a table of units; a missing unit is `bare`. */
static int ed_parse_with_unit(const char *s, const ed_unit *units, int64_t bare, int64_t *out)
{
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p < '0' || *p > '9') return -1;
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    const char *u = p;
    size_t ulen = strlen(u);
    while (ulen && (u[ulen - 1] == ' ' || u[ulen - 1] == '\t'))
        ulen--;
    int64_t mult = bare;
    if (ulen) {
        mult = 0;
        for (const ed_unit *e = units; e->name; e++) {
            if (strlen(e->name) == ulen && !strncasecmp(e->name, u, ulen)) {
                mult = e->mult;
                break;
            }
        }
        if (!mult) return -1;
    }
    if (v > (uint64_t)(INT64_MAX / mult)) return -1;
    *out = (int64_t)v * mult;
    return 0;
}

static const ed_unit ed_duration_units[] = {
    {"ms", 1},           {"milli", 1},       {"millis", 1},      {"millisecond", 1},
    {"milliseconds", 1}, {"s", 1000},        {"sec", 1000},      {"secs", 1000},
    {"second", 1000},    {"seconds", 1000},  {"m", 60000},       {"min", 60000},
    {"mins", 60000},     {"minute", 60000},  {"minutes", 60000}, {"h", 3600000},
    {"hour", 3600000},   {"hours", 3600000}, {"d", 86400000},    {"day", 86400000},
    {"days", 86400000},  {NULL, 0},
};

int ed_parse_duration_ms(const char *s, int64_t *out)
{
    return ed_parse_with_unit(s, ed_duration_units, 1, out);
}

static const ed_unit ed_bytes_units[] = {
    {"b", 1},
    {"bytes", 1},
    {"k", 1024},
    {"kb", 1024},
    {"kibibytes", 1024},
    {"m", 1024 * 1024},
    {"mb", 1024 * 1024},
    {"mebibytes", 1024 * 1024},
    {"g", 1024LL * 1024 * 1024},
    {"gb", 1024LL * 1024 * 1024},
    {"gibibytes", 1024LL * 1024 * 1024},
    {"t", 1024LL * 1024 * 1024 * 1024},
    {"tb", 1024LL * 1024 * 1024 * 1024},
    {"tebibytes", 1024LL * 1024 * 1024 * 1024},
    {NULL, 0},
};

int ed_parse_bytes(const char *s, int64_t *out)
{
    return ed_parse_with_unit(s, ed_bytes_units, 1, out);
}

/* ---- UTF-8 ----------------------------------------------------------------------------
 * Well-formed UTF-8 per RFC 3629 / Unicode table 3-7: no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF. ASCII runs are skipped eight bytes at a time. */
size_t ed_utf8_check(const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return i;
        }
        if (i + n > len) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < n; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += n;
    }
    return len;
}
