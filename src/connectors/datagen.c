/*
 * datagen.c - Flink's datagen source: rows of random or sequence values.
 *
 * Options follow Flink's DataGen connector (rows-per-second, number-of-rows,
 * fields.<name>.kind|min|max|length|start|end|null-rate|max-past), plus eddy's `seed`.
 * The option names are dynamic (fields.*), so the factory lists none and check()
 * rejects unknown names itself (see connectors.h for what the runtime does with NULL).
 * check() and open() run the same parser, dg_spec_parse, over the node's options.
 *
 * Parallel subtasks split the work so that the union is what one subtask would make:
 *   - a sequence [start, end] is cut into p contiguous parts, part i being
 *     [start + floor(n*i/p), start + floor(n*(i+1)/p)) with n = end - start + 1;
 *   - number-of-rows is cut the same way, so the total is exact;
 *   - rows-per-second is the rate of the whole source: each subtask runs at rate / p.
 * A subtask ends when any of its sequences is exhausted or its rows are done (Flink's
 * RowDataGenerator.hasNext: all field generators must have a next value). Without a
 * sequence or number-of-rows the source is unbounded.
 *
 * Hot path: one row builder reused for every row, a xoshiro256** generator seeded by
 * splitmix64 from seed and subtask, and no allocation, lock or system call per row. The
 * wall clock (TIMESTAMP fields) and the monotonic clock (rate limit) are read once per
 * poll. The rate limit never sleeps: when a subtask is ahead of its budget, poll
 * returns ED_POLL_IDLE with op->wake_ns set to when the next row is due.
 *
 * Determinism: with `seed` set, a subtask's rows depend only on seed, subtask index and
 * parallelism. Without it every run differs (Flink's behaviour); the seed used is
 * logged at DEBUG so a run can be repeated.
 *
 * Splits (Flink's DataGeneratorSource / NumberSequenceSource): the share of subtask i of
 * the first run is split i, and a split carries everything its rows depend on - its
 * generator, the rows it has left and each sequence's next value. A checkpoint holds each
 * subtask's unfinished splits; a restore at any parallelism deals the splits of all old
 * subtasks out again by the rule of connectors_int.h (ordered by id, rank j to subtask
 * j % p), and a subtask reads its splits one after the other. So every sequence value
 * comes exactly once across any number of restores at any parallelisms, and the random
 * fields of a split are the same whichever subtask reads it. Splits are not cut further:
 * restored at a higher parallelism, a bounded source leaves the extra subtasks without
 * work (they end at once, as Flink's readers without splits). An unbounded source (no
 * sequence, no number-of-rows) gives such a subtask a new split, seeded from seed and
 * the split's id as split i of a fresh run, so every subtask keeps generating at the
 * source's rate / p; a subtask holding several unbounded splits generates from its first
 * and carries the others along, unchanged, to the next restore.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "../state/snapshot.h"
#include "connectors_int.h"

#define DG "datagen"
#define DG_MAX_LENGTH (16 * 1024 * 1024) /* longest random STRING/BYTES value */

typedef enum dg_kind { DG_RANDOM, DG_SEQUENCE } dg_kind;

/* The properties of fields.<name>.<prop>, as bits for "which apply to this field". */
enum {
    DG_P_KIND = 1 << 0,
    DG_P_MIN = 1 << 1,
    DG_P_MAX = 1 << 2,
    DG_P_LENGTH = 1 << 3,
    DG_P_START = 1 << 4,
    DG_P_END = 1 << 5,
    DG_P_NULL_RATE = 1 << 6,
    DG_P_MAX_PAST = 1 << 7,
};
static const struct {
    const char *name;
    int bit;
} dg_props[] = {
    {"kind", DG_P_KIND},           {"min", DG_P_MIN},           {"max", DG_P_MAX},
    {"length", DG_P_LENGTH},       {"start", DG_P_START},       {"end", DG_P_END},
    {"null-rate", DG_P_NULL_RATE}, {"max-past", DG_P_MAX_PAST},
};

typedef struct dg_field {
    eddy_type type;
    dg_kind kind;
    bool null_always;    /* null-rate 1 */
    uint64_t null_below; /* a draw below this makes the value NULL (0: never) */
    int64_t min, max;    /* INT/BIGINT random range; sequence start/end (inclusive) */
    double dmin, dmax;   /* DOUBLE random range */
    int64_t max_past;    /* TIMESTAMP: milliseconds before now */
    uint32_t length;     /* STRING/BYTES random length */
    int64_t seq_next;    /* running: this subtask's next sequence value */
} dg_field;

typedef struct dg_spec {
    uint32_t nfields;
    dg_field *f;
    int64_t rows_per_second; /* 0: unlimited */
    int64_t number_of_rows;  /* -1: unbounded */
    bool has_seed;
    int64_t seed;
} dg_spec;

/* ---- options ----------------------------------------------------------------------------- */

/* Which props a field of this kind and type takes. */
static int dg_props_allowed(dg_kind kind, eddy_type t)
{
    if (kind == DG_SEQUENCE) return DG_P_KIND | DG_P_START | DG_P_END;
    switch (t) {
    case EDDY_INT:
    case EDDY_BIGINT:
    case EDDY_DOUBLE:
        return DG_P_KIND | DG_P_MIN | DG_P_MAX | DG_P_NULL_RATE;
    case EDDY_STRING:
    case EDDY_BYTES:
        return DG_P_KIND | DG_P_LENGTH | DG_P_NULL_RATE;
    case EDDY_TIMESTAMP:
        return DG_P_KIND | DG_P_MAX_PAST | DG_P_NULL_RATE;
    default:
        return DG_P_KIND | DG_P_NULL_RATE; /* BOOLEAN */
    }
}

static bool dg_sequence_type(eddy_type t)
{
    return t == EDDY_INT || t == EDDY_BIGINT || t == EDDY_DOUBLE || t == EDDY_STRING;
}

/* "fields.<name>.<prop>" into key; -1 when the name is too long for the buffer. */
static int dg_key(char *key, size_t cap, const char *field, const char *prop)
{
    int n = snprintf(key, cap, "fields.%s.%s", field, prop);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int dg_kind_of(const ed_node *n, const char *field, dg_kind *out, ed_err *err)
{
    char key[300];
    if (dg_key(key, sizeof key, field, "kind") != 0)
        return ed_err_set(err, DG ": field name '%s' is too long", field);
    const char *v = ed_node_param(n, key);
    if (!v || strcmp(v, "random") == 0)
        *out = DG_RANDOM;
    else if (strcmp(v, "sequence") == 0)
        *out = DG_SEQUENCE;
    else
        return ed_err_set(err, DG ": option '%s': '%s' is not random or sequence", key, v);
    return 0;
}

/* Every option name must be known, name a field of the schema and apply to it. */
static int dg_check_names(const ed_node *n, const eddy_schema *s, ed_err *err)
{
    for (int i = 0; i < n->nparams; i++) {
        const char *k = n->params[i].key;
        if (strcmp(k, "rows-per-second") == 0 || strcmp(k, "number-of-rows") == 0 ||
            strcmp(k, "seed") == 0)
            continue;
        if (strncmp(k, "fields.", 7) != 0)
            return ed_err_set(err,
                              DG ": unknown option '%s' (options: rows-per-second, "
                                 "number-of-rows, seed, fields.<field>.<property>)",
                              k);
        const char *name = k + 7, *dot = strrchr(name, '.');
        if (!dot || dot == name)
            return ed_err_set(err, DG ": option '%s' is not fields.<field>.<property>", k);
        int bit = 0;
        for (size_t j = 0; j < ED_ARRAY_LEN(dg_props); j++)
            if (strcmp(dot + 1, dg_props[j].name) == 0) bit = dg_props[j].bit;
        if (!bit)
            return ed_err_set(err,
                              DG ": option '%s': unknown property '%s' (kind, min, max, length, "
                                 "start, end, null-rate, max-past)",
                              k, dot + 1);
        char field[256];
        size_t len = (size_t)(dot - name);
        if (len >= sizeof field) return ed_err_set(err, DG ": option '%s': name too long", k);
        memcpy(field, name, len);
        field[len] = '\0';
        int fi = eddy_schema_index(s, field);
        if (fi < 0)
            return ed_err_set(err, DG ": option '%s': no field '%s' in the schema (%s)", k, field,
                              eddy_schema_text(s));
        dg_kind kind;
        if (dg_kind_of(n, field, &kind, err) != 0) return -1;
        eddy_type t = eddy_schema_type(s, (uint32_t)fi);
        if (!(dg_props_allowed(kind, t) & bit))
            return ed_err_set(err, DG ": option '%s' does not apply to %s field '%s' of type %s", k,
                              kind == DG_SEQUENCE ? "sequence" : "random", field,
                              eddy_type_name(t));
    }
    return 0;
}

/* The integer range of a field's type. */
static void dg_type_range(eddy_type t, int64_t *lo, int64_t *hi)
{
    if (t == EDDY_INT) {
        *lo = INT32_MIN;
        *hi = INT32_MAX;
    } else {
        *lo = INT64_MIN;
        *hi = INT64_MAX;
    }
}

static int dg_field_parse(const ed_node *n, const eddy_schema *s, uint32_t i, dg_field *f,
                          ed_err *err)
{
    const char *name = eddy_schema_name(s, i);
    char k1[300], k2[300];
    memset(f, 0, sizeof *f);
    f->type = eddy_schema_type(s, i);
    if (dg_kind_of(n, name, &f->kind, err) != 0) return -1;

    if (f->kind == DG_SEQUENCE) {
        if (!dg_sequence_type(f->type))
            return ed_err_set(err,
                              DG ": field '%s': kind 'sequence' is not supported for %s "
                                 "(INT, BIGINT, DOUBLE, STRING)",
                              name, eddy_type_name(f->type));
        int64_t lo, hi;
        dg_type_range(f->type, &lo, &hi);
        if (dg_key(k1, sizeof k1, name, "start") || dg_key(k2, sizeof k2, name, "end"))
            return ed_err_set(err, DG ": field name '%s' is too long", name);
        if (!ed_node_param(n, k1) || !ed_node_param(n, k2))
            return ed_err_set(err, DG ": field '%s': kind 'sequence' needs options '%s' and '%s'",
                              name, k1, k2);
        if (ed_conn_opt_i64(n, DG, k1, 0, lo, hi, &f->min, err) ||
            ed_conn_opt_i64(n, DG, k2, 0, lo, hi, &f->max, err))
            return -1;
        if (f->min > f->max)
            return ed_err_set(err, DG ": option '%s': '%s' is greater than '%s' '%s'", k1,
                              ed_node_param(n, k1), k2, ed_node_param(n, k2));
        return 0;
    }

    /* random */
    double rate;
    if (dg_key(k1, sizeof k1, name, "null-rate"))
        return ed_err_set(err, DG ": field name '%s' is too long", name);
    if (ed_conn_opt_f64(n, DG, k1, 0.0, 0.0, 1.0, &rate, err)) return -1;
    if (rate > 0 && !eddy_schema_nullable(s, i))
        return ed_err_set(err, DG ": option '%s': '%s' but field '%s' is NOT NULL", k1,
                          ed_node_param(n, k1), name);
    f->null_always = rate >= 1.0;
    f->null_below = rate > 0 && rate < 1.0 ? (uint64_t)ldexp(rate, 64) : 0;

    if (dg_key(k1, sizeof k1, name, "min") || dg_key(k2, sizeof k2, name, "max"))
        return ed_err_set(err, DG ": field name '%s' is too long", name);
    switch (f->type) {
    case EDDY_INT:
    case EDDY_BIGINT: {
        int64_t lo, hi;
        dg_type_range(f->type, &lo, &hi);
        if (ed_conn_opt_i64(n, DG, k1, lo, lo, hi, &f->min, err) ||
            ed_conn_opt_i64(n, DG, k2, hi, lo, hi, &f->max, err))
            return -1;
        if (f->min > f->max)
            return ed_err_set(err, DG ": option '%s': '%lld' is greater than '%s' '%lld'", k1,
                              (long long)f->min, k2, (long long)f->max);
        break;
    }
    case EDDY_DOUBLE:
        /* Flink's defaults: Double.MIN_VALUE (the smallest positive double) to MAX_VALUE. */
        if (ed_conn_opt_f64(n, DG, k1, DBL_TRUE_MIN, -DBL_MAX, DBL_MAX, &f->dmin, err) ||
            ed_conn_opt_f64(n, DG, k2, DBL_MAX, -DBL_MAX, DBL_MAX, &f->dmax, err))
            return -1;
        if (f->dmin > f->dmax)
            return ed_err_set(err, DG ": option '%s': '%g' is greater than '%s' '%g'", k1, f->dmin,
                              k2, f->dmax);
        break;
    case EDDY_STRING:
    case EDDY_BYTES: {
        int64_t len;
        if (dg_key(k1, sizeof k1, name, "length"))
            return ed_err_set(err, DG ": field name '%s' is too long", name);
        if (ed_conn_opt_i64(n, DG, k1, 100, 0, DG_MAX_LENGTH, &len, err)) return -1;
        f->length = (uint32_t)len;
        break;
    }
    case EDDY_TIMESTAMP: {
        if (dg_key(k1, sizeof k1, name, "max-past"))
            return ed_err_set(err, DG ": field name '%s' is too long", name);
        const char *v = ed_node_param(n, k1);
        if (v && (ed_parse_duration_ms(v, &f->max_past) != 0 || f->max_past < 0))
            return ed_err_set(err, DG ": option '%s': '%s' is not a duration (\"10 s\", \"5 min\")",
                              k1, v);
        break;
    }
    default:
        break;
    }
    return 0;
}

static void dg_spec_free(dg_spec *sp)
{
    free(sp->f);
    sp->f = NULL;
}

static int dg_spec_parse(const ed_node *n, dg_spec *sp, ed_err *err)
{
    memset(sp, 0, sizeof *sp);
    const eddy_schema *s = n->schema;
    if (!s || eddy_schema_arity(s) == 0) return ed_err_set(err, DG ": a schema is required");
    if (dg_check_names(n, s, err) != 0) return -1;
    if (ed_conn_opt_i64(n, DG, "rows-per-second", 10000, 0, INT64_MAX, &sp->rows_per_second, err) ||
        ed_conn_opt_i64(n, DG, "number-of-rows", -1, 0, INT64_MAX, &sp->number_of_rows, err) ||
        ed_conn_opt_i64(n, DG, "seed", 0, INT64_MIN, INT64_MAX, &sp->seed, err))
        return -1;
    sp->has_seed = ed_node_param(n, "seed") != NULL;
    sp->nfields = eddy_schema_arity(s);
    sp->f = calloc(sp->nfields, sizeof *sp->f);
    if (!sp->f) return ed_err_set(err, DG ": out of memory");
    for (uint32_t i = 0; i < sp->nfields; i++) {
        if (dg_field_parse(n, s, i, &sp->f[i], err) != 0) {
            dg_spec_free(sp);
            return -1;
        }
    }
    return 0;
}

static int dg_check(const ed_node *n, ed_err *err)
{
    dg_spec sp;
    if (dg_spec_parse(n, &sp, err) != 0) return -1;
    dg_spec_free(&sp);
    return 0;
}

/* ---- the generator ------------------------------------------------------------------------ */

/* A split waiting to be read (the one being read lives in dg_state's working fields). */
typedef struct dg_split {
    uint32_t id;
    uint64_t rng[4];
    uint64_t remaining;
    int64_t *seq; /* the next value of every field (0 for random ones): nfields */
} dg_split;

typedef struct dg_state {
    dg_spec sp;
    eddy_row_builder *rb;
    /* the split being read: its id, generator, rows left and (in sp.f[k].seq_next) the
     * next value of each sequence */
    bool has_split; /* false: this subtask has no split (after a restore) */
    uint32_t split_id;
    uint64_t rng[4];      /* xoshiro256** */
    bool bounded;         /* number-of-rows or a sequence is set */
    uint64_t remaining;   /* rows the current split still emits, when bounded */
    dg_split *pending;    /* the splits after it, in reading order */
    int64_t *pending_seq; /* their seq arrays, in one block */
    uint32_t npending, next_pending;
    bool has_timestamp;
    uint64_t seed;    /* the seed used: of the option, or made up by this subtask */
    double rate;      /* rows per second of this subtask; 0: unlimited */
    int64_t t0;       /* monotonic ns the rate budget counts from; 0 before the first poll */
    uint64_t emitted; /* rows since t0 */
    char *scratch;    /* one random STRING/BYTES value */
} dg_state;

static inline uint64_t dg_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t dg_next(uint64_t *s)
{
    uint64_t r = dg_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = dg_rotl(s[3], 45);
    return r;
}

static uint64_t dg_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, r), r > 0, without modulo bias (Lemire's method). */
static inline uint64_t dg_below(uint64_t *s, uint64_t r)
{
    unsigned __int128 m = (unsigned __int128)dg_next(s) * r;
    uint64_t l = (uint64_t)m;
    if (ED_UNLIKELY(l < r)) {
        uint64_t t = (0 - r) % r; /* 2^64 mod r: draws below it are biased */
        while (l < t) {
            m = (unsigned __int128)dg_next(s) * r;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* Uniform in [lo, hi]. */
static inline int64_t dg_between(uint64_t *s, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    if (span == UINT64_MAX) return (int64_t)dg_next(s);
    return (int64_t)((uint64_t)lo + dg_below(s, span + 1));
}

/* Part i of p of n things, cut contiguously: [first, first + count). */
static void dg_share(unsigned __int128 n, int i, int p, unsigned __int128 *first,
                     unsigned __int128 *count)
{
    unsigned __int128 a = n * (unsigned)i / (unsigned)p, b = n * (unsigned)(i + 1) / (unsigned)p;
    *first = a;
    *count = b - a;
}

static void dg_limit(dg_state *st, unsigned __int128 count)
{
    uint64_t c = count > UINT64_MAX ? UINT64_MAX : (uint64_t)count;
    if (!st->bounded || c < st->remaining) st->remaining = c;
    st->bounded = true;
}

/* The generator of split `id`: that of subtask id of a fresh run. */
static void dg_seed_split(uint64_t seed, uint32_t id, uint64_t rng[4])
{
    uint64_t x = ed_mix64(seed ^ 0x6564647964617461ULL) + (uint64_t)id * 0xd1b54a32d192ed03ULL;
    for (int k = 0; k < 4; k++)
        rng[k] = dg_splitmix(&x);
}

static void dg_close(ed_operator *op);

static int dg_open(ed_operator *op, ed_err *err)
{
    dg_state *st = calloc(1, sizeof *st);
    if (!st) return ed_err_set(err, DG ": out of memory");
    op->state = st;
    if (dg_spec_parse(op->node, &st->sp, err) != 0) return -1;
    int i = op->ctx.subtask, p = op->ctx.parallelism > 0 ? op->ctx.parallelism : 1;

    if (st->sp.number_of_rows >= 0) {
        unsigned __int128 first, count;
        dg_share((unsigned __int128)st->sp.number_of_rows, i, p, &first, &count);
        dg_limit(st, count);
    }
    uint32_t longest = 24; /* a sequence value as decimal text */
    for (uint32_t k = 0; k < st->sp.nfields; k++) {
        dg_field *f = &st->sp.f[k];
        if (f->kind == DG_SEQUENCE) {
            unsigned __int128 n = (unsigned __int128)((uint64_t)f->max - (uint64_t)f->min) + 1;
            unsigned __int128 first, count;
            dg_share(n, i, p, &first, &count);
            f->seq_next = (int64_t)((uint64_t)f->min + (uint64_t)first);
            dg_limit(st, count);
        } else if (f->type == EDDY_STRING || f->type == EDDY_BYTES) {
            if (f->length > longest) longest = f->length;
        }
        if (f->type == EDDY_TIMESTAMP) st->has_timestamp = true;
    }
    st->scratch = malloc(longest + 16u);
    st->rb = eddy_rb_new(st->sp.nfields);
    if (!st->scratch || !st->rb) return ed_err_set(err, DG ": out of memory");

    uint64_t seed = (uint64_t)st->sp.seed;
    if (!st->sp.has_seed) {
        seed = ed_mix64((uint64_t)ed_wall_ms() ^ (uint64_t)ed_mono_ns() ^ (uintptr_t)st);
        ED_LOG_DEBUG("connector", DG ": subtask %d/%d: no 'seed' option, using seed %lld", i + 1, p,
                     (long long)seed);
    }
    st->seed = seed;
    st->has_split = true; /* split i, of this subtask's share */
    st->split_id = (uint32_t)i;
    dg_seed_split(seed, st->split_id, st->rng);

    if (st->sp.rows_per_second > 0) st->rate = (double)st->sp.rows_per_second / p;
    return 0;
}

static void dg_close(ed_operator *op)
{
    dg_state *st = op->state;
    if (!st) return;
    dg_spec_free(&st->sp);
    eddy_rb_free(st->rb);
    free(st->pending);
    free(st->pending_seq);
    free(st->scratch);
    free(st);
    op->state = NULL;
}

/* Decimal text of v into buf (at least 21 bytes); returns the length. */
static uint32_t dg_itoa(int64_t v, char *buf)
{
    char tmp[24];
    uint32_t n = 0, len = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    return len;
}

/* Fills the builder with the next row; -1 when the row would be too large. */
static int dg_build(dg_state *st, int64_t now_ms)
{
    eddy_row_builder *b = st->rb;
    eddy_rb_reset(b);
    for (uint32_t i = 0; i < st->sp.nfields; i++) {
        dg_field *f = &st->sp.f[i];
        if (f->kind == DG_SEQUENCE) {
            int64_t v = f->seq_next++;
            switch (f->type) {
            case EDDY_INT:
                eddy_rb_set_i32(b, i, (int32_t)v);
                break;
            case EDDY_DOUBLE:
                eddy_rb_set_f64(b, i, (double)v);
                break;
            case EDDY_STRING:
                if (eddy_rb_set_str(b, i, st->scratch, dg_itoa(v, st->scratch)) != 0) return -1;
                break;
            default:
                eddy_rb_set_i64(b, i, v);
                break;
            }
            continue;
        }
        if (f->null_always || (f->null_below && dg_next(st->rng) < f->null_below)) continue;
        switch (f->type) {
        case EDDY_BOOLEAN:
            eddy_rb_set_bool(b, i, dg_next(st->rng) >> 63);
            break;
        case EDDY_INT:
            eddy_rb_set_i32(b, i, (int32_t)dg_between(st->rng, f->min, f->max));
            break;
        case EDDY_BIGINT:
            eddy_rb_set_i64(b, i, dg_between(st->rng, f->min, f->max));
            break;
        case EDDY_DOUBLE: {
            double u = (double)(dg_next(st->rng) >> 11) * 0x1p-53; /* [0, 1) */
            eddy_rb_set_f64(b, i, f->dmin * (1.0 - u) + f->dmax * u);
            break;
        }
        case EDDY_TIMESTAMP:
            eddy_rb_set_i64(b, i, now_ms - (f->max_past ? dg_between(st->rng, 0, f->max_past) : 0));
            break;
        case EDDY_STRING: {
            /* Flink's random strings are hex digits: 16 per 64-bit draw. */
            static const char hex[] = "0123456789abcdef";
            char *p = st->scratch;
            for (uint32_t k = 0; k < f->length; k += 16) {
                uint64_t r = dg_next(st->rng);
                for (int j = 0; j < 16; j++, r >>= 4)
                    p[k + (uint32_t)j] = hex[r & 15];
            }
            if (eddy_rb_set_str(b, i, p, f->length) != 0) return -1;
            break;
        }
        case EDDY_BYTES: {
            char *p = st->scratch;
            for (uint32_t k = 0; k < f->length; k += 8) {
                uint64_t r = dg_next(st->rng);
                memcpy(p + k, &r, 8);
            }
            if (eddy_rb_set_str(b, i, p, f->length) != 0) return -1;
            break;
        }
        default:
            break;
        }
    }
    return 0;
}

/* Makes split sp the one being read. */
static void dg_load(dg_state *st, const dg_split *sp)
{
    st->has_split = true;
    st->split_id = sp->id;
    memcpy(st->rng, sp->rng, sizeof st->rng);
    st->remaining = sp->remaining;
    for (uint32_t k = 0; k < st->sp.nfields; k++)
        st->sp.f[k].seq_next = sp->seq[k];
}

/* How many rows the rate budget allows now (at least 1), or 0 with op->wake_ns set. */
static uint64_t dg_budget(ed_operator *op, dg_state *st)
{
    int64_t now = ed_mono_ns();
    if (!st->t0) st->t0 = now;
    double due = (double)(now - st->t0) * st->rate / 1e9 + 1.0; /* rows due since t0 */
    double credit = floor(due) - (double)st->emitted;
    double burst = st->rate > 1.0 ? st->rate : 1.0; /* never more than a second's worth */
    if (credit > burst) {
        /* Fell behind (backpressure, a pause): keep at most a second's worth of credit
         * rather than flood downstream to catch up. */
        st->t0 = now - (int64_t)((burst - 1.0) * 1e9 / st->rate);
        st->emitted = 0;
        credit = floor(burst);
    }
    if (credit >= 1.0) return credit > 1e18 ? UINT64_MAX : (uint64_t)credit;
    op->wake_ns = st->t0 + (int64_t)ceil((double)st->emitted * 1e9 / st->rate);
    if (op->wake_ns <= now) op->wake_ns = now + 1;
    return 0;
}

static ed_poll_result dg_poll(ed_operator *op, int max)
{
    dg_state *st = op->state;
    ed_assert_debug(st->has_split || st->bounded);
    while (st->bounded && st->remaining == 0) { /* the split is done: on to the next */
        if (st->next_pending >= st->npending) return ED_POLL_END;
        dg_load(st, &st->pending[st->next_pending++]);
    }
    uint64_t n = max > 0 ? (uint64_t)max : 1;
    if (st->bounded && n > st->remaining) n = st->remaining;
    if (st->rate > 0) {
        uint64_t allowed = dg_budget(op, st);
        if (allowed == 0) return ED_POLL_IDLE;
        if (n > allowed) n = allowed;
    }
    int64_t now_ms = st->has_timestamp ? ed_wall_ms() : 0;
    for (uint64_t k = 0; k < n; k++) {
        if (dg_build(st, now_ms) != 0) {
            ed_op_fail(op, DG ": row larger than %u bytes", EDDY_ROW_MAX_SIZE);
            return ED_POLL_ERROR;
        }
        if (st->bounded) st->remaining--;
        st->emitted++;
        if (ed_out_emit(&op->out, eddy_rb_row(st->rb), ED_TS_NONE) != 0) return ED_POLL_ERROR;
    }
    return ED_POLL_MORE;
}

/*
 * A subtask's state, for checkpoints: its unfinished splits, the one being read first,
 * each with its generator, the rows it has left and every field's next sequence value.
 * The fields' definitions and number-of-rows come along, so that a restore into a source
 * whose sequences mean something else is refused rather than read wrongly.
 *
 *   uint32 version 2 | uint32 nfields | uint32 nsplits | uint32 0 | int64 number-of-rows
 *   per field: uint32 type | uint32 kind | int64 start | int64 end   (0, 0 when random)
 *   per split: uint32 id | uint32 0 | uint64 rng[4] | uint64 remaining | int64 seq[nfields]
 */
#define DG_STATE_VERSION 2u

static void dg_put_split(ed_strbuf *out, uint32_t id, const uint64_t rng[4], uint64_t remaining,
                         const dg_state *st, const int64_t *seq)
{
    uint32_t head[2] = {id, 0};
    ed_sb_append(out, head, sizeof head);
    ed_sb_append(out, rng, 4 * sizeof *rng);
    ed_sb_append(out, &remaining, 8);
    for (uint32_t k = 0; k < st->sp.nfields; k++) {
        const dg_field *f = &st->sp.f[k];
        int64_t v = seq ? seq[k] : f->kind == DG_SEQUENCE ? f->seq_next : 0; /* NULL: current */
        ed_sb_append(out, &v, 8);
    }
}

static int dg_snapshot(ed_operator *op, int64_t id, ed_strbuf *out)
{
    dg_state *st = op->state;
    bool cur = st->has_split && (!st->bounded || st->remaining > 0);
    uint32_t head[4] = {DG_STATE_VERSION, st->sp.nfields,
                        (uint32_t)cur + (st->npending - st->next_pending), 0};
    ed_sb_append(out, head, sizeof head);
    ed_sb_append(out, &st->sp.number_of_rows, 8);
    for (uint32_t k = 0; k < st->sp.nfields; k++) {
        const dg_field *f = &st->sp.f[k];
        uint32_t tk[2] = {(uint32_t)f->type, (uint32_t)f->kind};
        int64_t range[2] = {f->kind == DG_SEQUENCE ? f->min : 0,
                            f->kind == DG_SEQUENCE ? f->max : 0};
        ed_sb_append(out, tk, sizeof tk);
        ed_sb_append(out, range, sizeof range);
    }
    if (cur) dg_put_split(out, st->split_id, st->rng, st->remaining, st, NULL);
    for (uint32_t j = st->next_pending; j < st->npending; j++)
        dg_put_split(out, st->pending[j].id, st->pending[j].rng, st->pending[j].remaining, st,
                     st->pending[j].seq);
    return 0;
}

/* "a sequence [1, 10] of BIGINT" or "random INT", into buf. */
static const char *dg_describe(uint32_t type, uint32_t kind, int64_t start, int64_t end, char *buf,
                               size_t cap)
{
    const char *t =
        type >= EDDY_BOOLEAN && type <= EDDY_TIMESTAMP ? eddy_type_name((eddy_type)type) : "?";
    if (kind == DG_SEQUENCE)
        snprintf(buf, cap, "a sequence [%lld, %lld] of %s", (long long)start, (long long)end, t);
    else
        snprintf(buf, cap, "random %s", t);
    return buf;
}

/*
 * Checks old subtask k's state against this source and reads its splits into out
 * (NULL: only counts them into *nsplits). The seq arrays of the splits are taken from
 * *seq, which advances. 0, or -1 with op failed naming what does not fit.
 */
static int dg_read_state(ed_operator *op, const ed_snapshot_ref *r, int k, int nold, dg_split *out,
                         int64_t **seq, uint32_t *nsplits)
{
    dg_state *st = op->state;
    const dg_spec *sp = &st->sp;
    if (!r->data)
        return ed_op_fail(op, DG ": the checkpoint has no state for subtask %d of %d", k + 1, nold);
    ed_conn_reader rd = {r->data, r->len, 0};
    uint32_t head[4];
    int64_t rows;
    if (!ed_conn_take(&rd, head, sizeof head) || !ed_conn_take(&rd, &rows, 8))
        return ed_op_fail(op, DG ": the state of subtask %d/%d is truncated (%zu bytes)", k + 1,
                          nold, r->len);
    if (head[0] != DG_STATE_VERSION)
        return ed_op_fail(op, DG ": the state of subtask %d/%d has format version %u, not %u%s",
                          k + 1, nold, head[0], DG_STATE_VERSION,
                          head[0] == 1 ? " (an eddy before splits: start without it)" : "");
    if (head[1] != sp->nfields)
        return ed_op_fail(op, DG ": the checkpoint has %u fields; this source has %u (%s)", head[1],
                          sp->nfields, eddy_schema_text(op->node->schema));
    if (rows != sp->number_of_rows) {
        char a[32] = "unset", b[32] = "unset";
        if (rows >= 0) snprintf(a, sizeof a, "%lld", (long long)rows);
        if (sp->number_of_rows >= 0) snprintf(b, sizeof b, "%lld", (long long)sp->number_of_rows);
        return ed_op_fail(op,
                          DG ": number-of-rows was %s at the checkpoint and is %s now: the "
                             "rows left do not carry over",
                          a, b);
    }
    for (uint32_t f = 0; f < sp->nfields; f++) {
        uint32_t tk[2];
        int64_t range[2];
        if (!ed_conn_take(&rd, tk, sizeof tk) || !ed_conn_take(&rd, range, sizeof range))
            return ed_op_fail(op, DG ": the state of subtask %d/%d is truncated (%zu bytes)", k + 1,
                              nold, r->len);
        const dg_field *x = &sp->f[f];
        bool is_seq = x->kind == DG_SEQUENCE;
        if (tk[0] != (uint32_t)x->type || tk[1] != (uint32_t)x->kind ||
            (is_seq && (range[0] != x->min || range[1] != x->max))) {
            char was[96], now[96];
            return ed_op_fail(
                op,
                DG ": field '%s' was %s at the checkpoint and is %s now: its "
                   "positions do not carry over",
                eddy_schema_name(op->node->schema, f),
                dg_describe(tk[0], tk[1], range[0], range[1], was, sizeof was),
                dg_describe((uint32_t)x->type, (uint32_t)x->kind, x->min, x->max, now, sizeof now));
        }
    }
    size_t split_bytes = 8 + 32 + 8 + 8u * sp->nfields;
    if (r->len - rd.off != (size_t)head[2] * split_bytes)
        return ed_op_fail(op,
                          DG ": the state of subtask %d/%d has %zu bytes for its %u split(s) "
                             "of %zu bytes each",
                          k + 1, nold, r->len - rd.off, head[2], split_bytes);
    *nsplits = head[2];
    for (uint32_t j = 0; out && j < head[2]; j++) {
        dg_split *x = &out[j];
        uint32_t id[2];
        ed_conn_take(&rd, id, sizeof id);
        ed_conn_take(&rd, x->rng, sizeof x->rng);
        ed_conn_take(&rd, &x->remaining, 8);
        x->id = id[0];
        x->seq = *seq;
        *seq += sp->nfields;
        ed_conn_take(&rd, x->seq, 8u * sp->nfields);
        if (!st->bounded) continue;
        if (x->remaining == 0 ||
            (sp->number_of_rows >= 0 && x->remaining > (uint64_t)sp->number_of_rows))
            return ed_op_fail(op,
                              DG ": split %u (of subtask %d/%d) has %llu rows left, which "
                                 "does not fit number-of-rows %lld",
                              x->id, k + 1, nold, (unsigned long long)x->remaining,
                              (long long)sp->number_of_rows);
        for (uint32_t f = 0; f < sp->nfields; f++) {
            const dg_field *d = &sp->f[f];
            if (d->kind != DG_SEQUENCE) continue;
            int64_t v = x->seq[f];
            if (v < d->min || v > d->max ||
                (unsigned __int128)x->remaining >
                    (unsigned __int128)((uint64_t)d->max - (uint64_t)v) + 1)
                return ed_op_fail(op,
                                  DG ": split %u (of subtask %d/%d) is at %lld of sequence "
                                     "'%s' [%lld, %lld] with %llu rows left, which does not fit",
                                  x->id, k + 1, nold, (long long)v,
                                  eddy_schema_name(op->node->schema, f), (long long)d->min,
                                  (long long)d->max, (unsigned long long)x->remaining);
        }
    }
    return 0;
}

static int dg_split_cmp(const void *a, const void *b)
{
    uint32_t x = ((const dg_split *)a)->id, y = ((const dg_split *)b)->id;
    return x < y ? -1 : x > y;
}

/*
 * Takes this subtask's splits out of the states of all nold old subtasks: every split,
 * in id order, dealt round-robin (connectors_int.h), whatever the old parallelism was.
 */
static int dg_restore(ed_operator *op, const ed_snapshot_ref *old, int nold)
{
    dg_state *st = op->state;
    uint32_t nf = st->sp.nfields, n;
    size_t total = 0;
    for (int k = 0; k < nold; k++) {
        if (dg_read_state(op, &old[k], k, nold, NULL, NULL, &n) != 0) return -1;
        total += n;
    }
    dg_split *all = calloc(total ? total : 1, sizeof *all);
    int64_t *seqs = calloc(total * nf + 1, sizeof *seqs), *next = seqs;
    if (!all || !seqs) {
        free(all);
        free(seqs);
        return ed_op_fail(op, DG ": out of memory restoring %zu splits", total);
    }
    size_t got = 0;
    for (int k = 0; k < nold; k++) {
        if (dg_read_state(op, &old[k], k, nold, all + got, &next, &n) != 0) {
            free(all);
            free(seqs);
            return -1;
        }
        got += n;
    }
    qsort(all, total, sizeof *all, dg_split_cmp);
    for (size_t j = 1; j < total; j++) {
        if (all[j].id == all[j - 1].id) {
            uint32_t id = all[j].id;
            free(all);
            free(seqs);
            return ed_op_fail(op,
                              DG ": split %u is in the checkpoint twice: its state is "
                                 "inconsistent",
                              id);
        }
    }
    uint32_t first_new = total ? all[total - 1].id + 1 : 0; /* after every old split's id */
    size_t mine = 0;
    for (size_t j = 0; j < total; j++)
        if (ed_conn_split_is_mine(j, op)) all[mine++] = all[j];
    free(st->pending);
    free(st->pending_seq);
    st->pending = all;
    st->pending_seq = seqs;
    st->npending = (uint32_t)mine;
    st->next_pending = 0;
    st->has_split = false;
    st->remaining = 0;
    if (mine > 0) {
        dg_load(st, &st->pending[st->next_pending++]);
    } else if (!st->bounded) {
        /* an unbounded source never runs out: a subtask left without a split (subtasks
         * total..p-1) gets a new one, numbered after the old ones in subtask order */
        st->has_split = true;
        st->split_id = first_new + (uint32_t)(op->ctx.subtask - (int)total);
        dg_seed_split(st->seed, st->split_id, st->rng);
    }
    ed_assert(st->has_split || st->bounded); /* dg_poll: an unbounded source has a split */
    return 0;
}

static const ed_op_vt dg_vt = {
    .open = dg_open,
    .close = dg_close,
    .poll = dg_poll,
    .snapshot = dg_snapshot,
    .restore = dg_restore,
};

const ed_factory ed_connector_datagen = {
    .name = "datagen",
    .kind = ED_FACTORY_SOURCE,
    .vt = &dg_vt,
    .check = dg_check,
    .max_parallelism = 0,
    .options = NULL, /* dynamic (fields.*): dg_check rejects unknown names */
};
