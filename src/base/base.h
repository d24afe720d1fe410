/*
 * base.h - the bottom layer: errors, growable strings, arenas, hashing, clocks.
 * Everything in src/ may include it; it includes nothing of eddy's.
 */
#ifndef ED_BASE_H
#define ED_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ED_LIKELY(x) __builtin_expect(!!(x), 1)
#define ED_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ED_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ED_ALIGN8(n) (((n) + 7u) & ~(size_t)7u)

/* Invariants that stay on in release builds: print the place and abort. */
#define ed_assert(c)                                                                           \
    do {                                                                                       \
        if (ED_UNLIKELY(!(c))) ed_assert_fail(#c, __FILE__, __LINE__);                         \
    } while (0)
_Noreturn void ed_assert_fail(const char *expr, const char *file, int line);
/* Checks too costly for the hot path: debug builds only (EDDY_DEBUG_CHECKS, set by
 * CMAKE_BUILD_TYPE=Debug, which the sanitizer builds of the tests use). */
#ifdef EDDY_DEBUG_CHECKS
#define ed_assert_debug(c) ed_assert(c)
#else
#define ed_assert_debug(c) ((void)0)
#endif

/* ---- errors --------------------------------------------------------------------------
 * Errors are values: a function that can fail returns 0 / -1 (or NULL) and fills an
 * ed_err with a message naming the place. Setting an error that is already set keeps
 * the first message (the root cause). */
typedef struct ed_err {
    int set;
    char msg[1024];
} ed_err;

int ed_err_set(ed_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ed_err_vset(ed_err *e, const char *fmt, va_list ap);
/* Prefixes an already set message: "prefix: message". */
int ed_err_wrap(ed_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ed_err_clear(ed_err *e);

/* Allocation that reports out-of-memory as an error rather than returning silently.
 * ed_xmalloc and friends abort with a message: for start-up and builder paths only. */
void *ed_xmalloc(size_t n);
void *ed_xcalloc(size_t n, size_t size);
void *ed_xrealloc(void *p, size_t n);
char *ed_xstrdup(const char *s);
char *ed_xstrndup(const char *s, size_t n);

/* ---- growable byte strings ------------------------------------------------------------ */
typedef struct ed_strbuf {
    char *data; /* always NUL-terminated when cap > 0 */
    size_t len, cap;
} ed_strbuf;

void ed_sb_init(ed_strbuf *sb);
void ed_sb_free(ed_strbuf *sb);
void ed_sb_reset(ed_strbuf *sb); /* len = 0, keeps the memory */
void ed_sb_reserve(ed_strbuf *sb, size_t extra);
void ed_sb_append(ed_strbuf *sb, const void *p, size_t n);
void ed_sb_puts(ed_strbuf *sb, const char *s);
void ed_sb_putc(ed_strbuf *sb, char c);
void ed_sb_printf(ed_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Takes the string out; sb is empty afterwards. The caller frees the result. */
char *ed_sb_steal(ed_strbuf *sb);

/* ---- arenas ---------------------------------------------------------------------------
 * Memory by lifetime: bump allocation from blocks, freed all at once by reset/destroy.
 * Not thread-safe; one arena belongs to one thread at a time. */
typedef struct ed_arena_block ed_arena_block;
typedef struct ed_arena {
    ed_arena_block *head;
    size_t block_size; /* default size of new blocks */
    size_t used;       /* bytes handed out since the last reset */
} ed_arena;

void ed_arena_init(ed_arena *a, size_t block_size);
/* 8-byte aligned; NULL only when malloc fails. */
void *ed_arena_alloc(ed_arena *a, size_t n);
char *ed_arena_strdup(ed_arena *a, const char *s);
void ed_arena_reset(ed_arena *a); /* keeps the first block */
void ed_arena_destroy(ed_arena *a);

/* ---- hashing -------------------------------------------------------------------------- */
/* MurmurHash3 x86_32 (Appleby), as used for key groups. Inline: it is on the keyed
 * per-record path. */
static inline uint32_t ed_rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
static inline uint32_t ed_murmur3_32(const void *data, size_t len, uint32_t seed)
{
    const uint8_t *p = (const uint8_t *)data;
    const size_t nblocks = len / 4;
    const uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
    uint32_t h1 = seed;
    for (size_t i = 0; i < nblocks; i++) {
        uint32_t k1;
        __builtin_memcpy(&k1, p + 4 * i, 4);
        k1 *= c1;
        k1 = ed_rotl32(k1, 15);
        k1 *= c2;
        h1 ^= k1;
        h1 = ed_rotl32(h1, 13);
        h1 = h1 * 5 + 0xe6546b64;
    }
    const uint8_t *tail = p + nblocks * 4;
    uint32_t k1 = 0;
    switch (len & 3) {
    case 3:
        k1 ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        k1 ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        k1 ^= tail[0];
        k1 *= c1;
        k1 = ed_rotl32(k1, 15);
        k1 *= c2;
        h1 ^= k1;
    }
    h1 ^= (uint32_t)len;
    h1 ^= h1 >> 16;
    h1 *= 0x85ebca6b;
    h1 ^= h1 >> 13;
    h1 *= 0xc2b2ae35;
    h1 ^= h1 >> 16;
    return h1;
}
/* CRC-32C (Castagnoli), for checksums of files and frames; chain with the previous crc
 * (start with 0). */
uint32_t ed_crc32c(uint32_t crc, const void *data, size_t len);
/* A strong 64-bit mixer for hash tables. */
static inline uint64_t ed_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* Division-free remainder by a divisor fixed at set-up (Lemire, Kaser, Kurz 2019):
 * a % d for 32-bit a, exact for every a and d >= 1. */
typedef struct ed_fastmod {
    uint64_t m;
    uint32_t d;
} ed_fastmod;
static inline ed_fastmod ed_fastmod_init(uint32_t d)
{
    ed_fastmod f = {UINT64_MAX / d + 1, d};
    return f;
}
static inline uint32_t ed_fastmod_u32(uint32_t a, ed_fastmod f)
{
    uint64_t low = f.m * a;
    return (uint32_t)(((__uint128_t)low * f.d) >> 64);
}

/* ---- time ----------------------------------------------------------------------------- */
int64_t ed_mono_ns(void);  /* CLOCK_MONOTONIC */
int64_t ed_wall_ms(void);  /* CLOCK_REALTIME, epoch milliseconds */
void ed_sleep_ns(int64_t ns);

/* A processing-time clock. Tasks read time only through one, so tests can substitute a
 * manual clock. */
typedef struct ed_clock {
    int64_t (*now_ms)(struct ed_clock *c);
} ed_clock;
ed_clock *ed_clock_system(void); /* wall clock, shared, never freed */
typedef struct ed_manual_clock {
    ed_clock base;
    _Atomic int64_t now;
} ed_manual_clock;
void ed_manual_clock_init(ed_manual_clock *c, int64_t start_ms);
void ed_manual_clock_advance(ed_manual_clock *c, int64_t ms);

/* ---- small parsers shared by configuration, options and formats ------------------------- */
/* Whole-string parses: 0 on success, -1 on junk, overflow or empty input. */
int ed_parse_i64(const char *s, int64_t *out);
int ed_parse_f64(const char *s, double *out);
int ed_parse_bool(const char *s, bool *out); /* true/false, case-insensitive */
/* Durations as Flink writes them: "100 ms", "10s", "1 min", "2h", "1d"; a bare number is
 * milliseconds. */
int ed_parse_duration_ms(const char *s, int64_t *out);
/* Memory sizes as Flink writes them: "32kb", "64 mb", "1g", "512"; bare number = bytes. */
int ed_parse_bytes(const char *s, int64_t *out);

/* UTF-8 validation: returns the offset of the first invalid byte, or len if valid. */
size_t ed_utf8_check(const char *s, size_t len);

#endif
