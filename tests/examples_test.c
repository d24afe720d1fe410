/*
 * examples_test.c - the bundled examples, run as a user runs them: the real `eddy` binary
 * on examples/click_sessions.c, durations.c and windowed_wordcount.c with the files of
 * data/, and the README's quickstart command as scripts/quickstart.sh spells it.
 *
 * The expected output is computed here from the data files, independently of the engine,
 * by a small model of Flink's event time: each source subtask reads the lines that start
 * in its byte range and emits every record followed by its per-record watermark (max
 * timestamp - bound - 1, when it rises), then the MAX watermark; the keyed operator sees
 * the records of its keys and the minimum watermark over its input channels.
 *
 * At parallelism 1 there is one channel, so the output is exact, and the texts the
 * examples print are also checked verbatim. At parallelism 2 the two source subtasks
 * race: which of one channel's records the operator sees before the other channel's
 * watermarks is up to the scheduler, and it decides whether a click is late or a START
 * reaches its END before its timeout. So the model explores every interleaving of the two
 * channels, key by key, and the engine's lines for each key must be one of the outcomes
 * Flink's semantics allow for that interleaving space - never an outcome none allows.
 */
#include <dirent.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>

#include "ed_test.h"
#include "proc_util.h"

#define CLICK_SESSIONS EDDY_BUILD_DIR "/click_sessions.so"
#define DURATIONS EDDY_BUILD_DIR "/durations.so"
#define WINDOWED_WORDCOUNT EDDY_BUILD_DIR "/windowed_wordcount.so"
#define CLICKS EDDY_SOURCE_DIR "/data/clicks.csv"
#define START_END EDDY_SOURCE_DIR "/data/start_end.csv"
#define TIMED_WORDS EDDY_SOURCE_DIR "/data/timed_words.csv"

#define GAP_MS (30 * 60 * 1000)        /* click_sessions: the session gap */
#define CLICK_BOUND_MS 10000           /* click_sessions: out-of-orderness */
#define TIMEOUT_4H (4LL * 60 * 60 * 1000) /* durations: the timeout */

/* ---- running an example ---------------------------------------------------------------------- */

/* Runs `eddy run -D log.level=WARN [-p P] JOB FILE [ARG]` to completion. */
static void run_example(proc *p, int par, const char *job, const char *file, const char *arg)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", par);
    eddy_in(p, NULL, NULL, "run", "-D", "log.level=WARN", "-p", ps, job, file, arg,
            (const char *)NULL);
    CHECK_EXIT(p, 0);
}

/* The lines of `out` without "N> " prefixes (which parallel print sinks add), sorted. */
static char **plain_lines(const char *out, size_t *n, bool prefixed)
{
    char **v = split_lines(out, n);
    for (size_t i = 0; i < *n; i++) {
        char *l = v[i];
        if (prefixed) {
            if (!(isdigit((unsigned char)l[0]) && l[1] == '>' && l[2] == ' '))
                ED_FAIL_AT("line without a subtask prefix: \"%s\"", l);
            else
                memmove(l, l + 3, strlen(l + 3) + 1);
        }
    }
    qsort(v, *n, sizeof(char *), cmp_str);
    return v;
}

static char *join_lines(char **v, size_t n)
{
    sbuf b = {0};
    for (size_t i = 0; i < n; i++) sb_printf(&b, "%s\n", v[i]);
    return sb_take(&b);
}

/* ---- the input files ------------------------------------------------------------------------- */

#define MAX_EVENTS 64

typedef struct event {
    char key[16];
    int64_t ts;
    char kind[8]; /* durations: START or END */
    long offset;  /* where the line starts in the file */
} event;

typedef struct events {
    event v[MAX_EVENTS];
    int n;
    long size; /* of the file */
} events;

/* Reads `key,ts[,kind]` lines. */
static int read_events(const char *path, events *e)
{
    char *text = slurp(path);
    if (!text) return -1;
    memset(e, 0, sizeof(*e));
    e->size = (long)strlen(text);
    for (const char *s = text; *s && e->n < MAX_EVENTS;) {
        size_t len = strcspn(s, "\n");
        if (len > 0) {
            event *ev = &e->v[e->n++];
            ev->offset = (long)(s - text);
            char line[128];
            snprintf(line, sizeof line, "%.*s", (int)len, s);
            if (sscanf(line, "%15[^,],%" SCNd64 ",%7s", ev->key, &ev->ts, ev->kind) < 2) {
                free(text);
                return -1;
            }
        }
        s += len + (s[len] == '\n');
    }
    free(text);
    return 0;
}

/* ---- the model: channels of records and watermarks ------------------------------------------- */

typedef struct element {
    int rec;    /* >= 0: the index of a record in `events`; -1: a watermark */
    int64_t wm; /* the watermark */
} element;

typedef struct channel {
    element v[2 * MAX_EVENTS + 1];
    int n;
} channel;

/* What source subtask `sub` of `par` emits, with per-record watermarks of `bound`: the
 * lines starting in [size*sub/par, size*(sub+1)/par), each followed by the watermark when
 * it rises, then MAX. */
static void source_channel(const events *e, int sub, int par, int64_t bound, channel *c)
{
    memset(c, 0, sizeof(*c));
    long lo = e->size * sub / par, hi = e->size * (sub + 1) / par;
    int64_t max_ts = INT64_MIN, wm = INT64_MIN;
    for (int i = 0; i < e->n; i++) {
        if (e->v[i].offset < lo || e->v[i].offset >= hi) continue;
        c->v[c->n++] = (element){i, 0};
        if (e->v[i].ts > max_ts) max_ts = e->v[i].ts;
        if (max_ts - bound - 1 > wm) {
            wm = max_ts - bound - 1;
            c->v[c->n++] = (element){-1, wm};
        }
    }
    c->v[c->n++] = (element){-1, INT64_MAX};
}

/* One key's operator state (sessions or durations) and what it emitted, as plain bytes:
 * the exploration below hashes and copies it whole. */
#define MAX_OUT 8
typedef struct model {
    int64_t wm; /* the operator's watermark */
    int64_t nsess;
    struct {
        int64_t start, end, count;
    } sess[MAX_OUT];
    int64_t started; /* a START without its END yet */
    int64_t begun;
    int64_t ntimers;
    int64_t timers[MAX_OUT];
    int64_t nout;
    char out[MAX_OUT][48]; /* no padding anywhere: hashed as bytes */
} model;

typedef enum { MODEL_SESSIONS, MODEL_DURATIONS } model_kind;

static void emit(model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(model *m, const char *fmt, ...)
{
    if (m->nout == MAX_OUT) abort();
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->out[m->nout++], sizeof m->out[0], fmt, ap);
    va_end(ap);
}

/* Session windows with the gap, EventTimeTrigger: a click opens [ts, ts + gap) and merges
 * with the sessions it overlaps; one that overlaps none and whose window's max timestamp
 * is at or below the watermark is late (dropped). */
static void sessions_record(model *m, const event *ev)
{
    int64_t start = ev->ts, end = ev->ts + GAP_MS, count = 1;
    int64_t k = 0;
    for (int64_t i = 0; i < m->nsess; i++) {
        if (m->sess[i].start < end && start < m->sess[i].end) {
            if (m->sess[i].start < start) start = m->sess[i].start;
            if (m->sess[i].end > end) end = m->sess[i].end;
            count += m->sess[i].count;
        } else {
            m->sess[k++] = m->sess[i];
        }
    }
    bool merged = k < m->nsess;
    m->nsess = k;
    if (!merged && end - 1 <= m->wm) return; /* late */
    if (m->nsess == MAX_OUT) abort();
    m->sess[m->nsess].start = start;
    m->sess[m->nsess].end = end;
    m->sess[m->nsess].count = count;
    m->nsess++;
}

static void sessions_watermark(model *m, const char *key)
{
    int k = 0;
    for (int i = 0; i < m->nsess; i++) {
        if (m->sess[i].end - 1 <= m->wm)
            emit(m, "%s,%" PRId64 ",%" PRId64 ",%" PRId64, key, m->sess[i].start, m->sess[i].end,
                 m->sess[i].count);
        else
            m->sess[k++] = m->sess[i];
    }
    m->nsess = k;
}

/* durations.c's KeyedProcessFunction: START remembers its time and sets a timer 4 h later;
 * END with a START emits the duration and deletes the timer; a timer emits a timeout. */
static void durations_record(model *m, const event *ev)
{
    if (strcmp(ev->kind, "START") == 0) {
        m->started = 1;
        m->begun = ev->ts;
        int64_t t = ev->ts + TIMEOUT_4H;
        for (int i = 0; i < m->ntimers; i++)
            if (m->timers[i] == t) return;
        m->timers[m->ntimers++] = t;
    } else if (m->started) {
        emit(m, "%s,%" PRId64, ev->key, ev->ts - m->begun);
        int k = 0;
        for (int i = 0; i < m->ntimers; i++)
            if (m->timers[i] != m->begun + TIMEOUT_4H) m->timers[k++] = m->timers[i];
        m->ntimers = k;
        m->started = 0;
        m->begun = 0;
    }
}

static void durations_watermark(model *m, const char *key)
{
    for (;;) { /* the earliest due timer first */
        int due = -1;
        for (int i = 0; i < m->ntimers; i++)
            if (m->timers[i] <= m->wm && (due < 0 || m->timers[i] < m->timers[due])) due = i;
        if (due < 0) return;
        m->timers[due] = m->timers[--m->ntimers];
        m->timers[m->ntimers] = 0;
        m->started = 0;
        m->begun = 0;
        emit(m, "%s,timeout", key);
    }
}

/* ---- exploring the interleavings of two channels --------------------------------------------- */

typedef struct explore {
    model_kind kind;
    const events *e;
    const char *key;
    const channel *ch[2];
    int nch;
    /* visited (position, state) pairs, by hash */
    uint64_t *seen;
    size_t seen_cap, seen_n;
    /* the distinct outcomes: the key's sorted lines */
    char *outcomes[64];
    int noutcomes;
} explore;

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* True the first time this (positions, state) is seen. */
static bool first_visit(explore *x, const int *pos, const model *m)
{
    uint64_t h = fnv(pos, 2 * sizeof(int), 14695981039346656037ULL);
    h = fnv(m, sizeof(*m), h) | 1;
    if (x->seen_n * 2 >= x->seen_cap) {
        size_t cap = x->seen_cap ? x->seen_cap * 2 : 4096;
        uint64_t *t = calloc(cap, sizeof(uint64_t));
        for (size_t i = 0; i < x->seen_cap; i++)
            if (x->seen[i]) {
                size_t j = x->seen[i] & (cap - 1);
                while (t[j]) j = (j + 1) & (cap - 1);
                t[j] = x->seen[i];
            }
        free(x->seen);
        x->seen = t;
        x->seen_cap = cap;
    }
    size_t j = h & (x->seen_cap - 1);
    while (x->seen[j]) {
        if (x->seen[j] == h) return false;
        j = (j + 1) & (x->seen_cap - 1);
    }
    x->seen[j] = h;
    x->seen_n++;
    return true;
}

static void add_outcome(explore *x, const model *m)
{
    char *lines[MAX_OUT];
    for (int i = 0; i < m->nout; i++) lines[i] = (char *)m->out[i];
    qsort(lines, (size_t)m->nout, sizeof(char *), cmp_str);
    char *o = join_lines(lines, (size_t)m->nout);
    for (int i = 0; i < x->noutcomes; i++)
        if (strcmp(x->outcomes[i], o) == 0) {
            free(o);
            return;
        }
    if (x->noutcomes == 64) abort();
    x->outcomes[x->noutcomes++] = o;
}

/* Depth-first over every order of the channels' elements; `cw` are the channels'
 * watermarks so far (they follow from pos, kept for speed). */
static void dfs(explore *x, int pos[2], int64_t cw[2], model m)
{
    if (!first_visit(x, pos, &m)) return;
    bool any = false;
    for (int c = 0; c < x->nch; c++) {
        if (pos[c] == x->ch[c]->n) continue;
        any = true;
        const element *el = &x->ch[c]->v[pos[c]];
        model next = m;
        int npos[2] = {pos[0], pos[1]};
        int64_t ncw[2] = {cw[0], cw[1]};
        npos[c]++;
        if (el->rec >= 0) {
            const event *ev = &x->e->v[el->rec];
            if (strcmp(ev->key, x->key) == 0) {
                if (x->kind == MODEL_SESSIONS)
                    sessions_record(&next, ev);
                else
                    durations_record(&next, ev);
            }
        } else {
            ncw[c] = el->wm;
            int64_t min = INT64_MAX;
            for (int k = 0; k < x->nch; k++)
                if (ncw[k] < min) min = ncw[k];
            if (min > next.wm) {
                next.wm = min;
                if (x->kind == MODEL_SESSIONS)
                    sessions_watermark(&next, x->key);
                else
                    durations_watermark(&next, x->key);
            }
        }
        dfs(x, npos, ncw, next);
    }
    if (!any) add_outcome(x, &m);
}

/* The outcomes the model allows for `key` at parallelism `par` (1 or 2). */
static void outcomes_of(explore *x, model_kind kind, const events *e, const char *key, int par,
                        int64_t bound, channel *chs)
{
    memset(x, 0, sizeof(*x));
    x->kind = kind;
    x->e = e;
    x->key = key;
    x->nch = par;
    for (int c = 0; c < par; c++) {
        source_channel(e, c, par, bound, &chs[c]);
        x->ch[c] = &chs[c];
    }
    model m;
    memset(&m, 0, sizeof(m));
    m.wm = INT64_MIN;
    int pos[2] = {0, 0};
    int64_t cw[2] = {INT64_MIN, par == 1 ? INT64_MAX : INT64_MIN};
    dfs(x, pos, cw, m);
}

static void explore_free(explore *x)
{
    free(x->seen);
    for (int i = 0; i < x->noutcomes; i++) free(x->outcomes[i]);
}

/* The distinct keys of the events, in first-seen order. */
static int keys_of(const events *e, const char *keys[MAX_EVENTS])
{
    int n = 0;
    for (int i = 0; i < e->n; i++) {
        int k = 0;
        while (k < n && strcmp(keys[k], e->v[i].key) != 0) k++;
        if (k == n) keys[n++] = e->v[i].key;
    }
    return n;
}

/*
 * Checks an example's output lines (sorted, prefixes removed) against the model: for
 * every key, the engine's lines of that key (those starting with "key,") must be one of
 * the key's outcomes. At parallelism 1 there is one outcome per key and `exact` gets the
 * whole expected text (sorted lines). Returns the number of keys checked.
 */
static int check_against_model(model_kind kind, const events *e, int par, int64_t bound,
                               char **got, size_t ngot, char **exact)
{
    const char *keys[MAX_EVENTS];
    int nkeys = keys_of(e, keys);
    sbuf all = {0};
    size_t matched = 0;
    for (int k = 0; k < nkeys; k++) {
        channel chs[2];
        explore x;
        outcomes_of(&x, kind, e, keys[k], par, bound, chs);
        if (par == 1) ED_CHECK_INT(x.noutcomes, 1);
        char prefix[24];
        snprintf(prefix, sizeof prefix, "%s,", keys[k]);
        sbuf mine = {0};
        for (size_t i = 0; i < ngot; i++)
            if (strncmp(got[i], prefix, strlen(prefix)) == 0) {
                sb_printf(&mine, "%s\n", got[i]);
                matched++;
            }
        char *m = sb_take(&mine);
        bool ok = false;
        for (int i = 0; i < x.noutcomes; i++) ok |= strcmp(x.outcomes[i], m) == 0;
        if (!ok) {
            ED_FAIL_AT("p=%d, key %s: the engine printed\n%s  which no order of the inputs "
                       "allows; the model allows %d outcome(s), the first:\n%s",
                       par, keys[k], m, x.noutcomes, x.noutcomes ? x.outcomes[0] : "");
        }
        if (x.noutcomes) sb_printf(&all, "%s", x.outcomes[0]);
        free(m);
        explore_free(&x);
    }
    if (matched != ngot) ED_FAIL_AT("p=%d: %zu lines of no known key", par, ngot - matched);
    if (exact) {
        size_t n;
        char *t = sb_take(&all);
        char **v = split_lines(t, &n);
        qsort(v, n, sizeof(char *), cmp_str);
        *exact = join_lines(v, n);
        free_lines(v, n);
        free(t);
    } else {
        free(all.data);
    }
    return nkeys;
}

/* The count of late clicks an output implies: every click is in one session or late. */
static long late_clicks_of(const events *e, char **lines, size_t n)
{
    long in_sessions = 0;
    for (size_t i = 0; i < n; i++) {
        const char *c = strrchr(lines[i], ',');
        if (c) in_sessions += atol(c + 1);
    }
    return e->n - in_sessions;
}

/* The number N of the "late clicks: N" line on stderr, or -1. */
static long late_reported(const char *err)
{
    const char *l = strstr(err, "late clicks: ");
    return l ? atol(l + 13) : -1;
}

/* ---- click_sessions -------------------------------------------------------------------------- */

static const char click_sessions_p1[] = "1,0,1920000,3\n"
                                        "3,500000,2300000,1\n"
                                        "2,25000,2800000,3\n"
                                        "2,2900000,4700000,1\n"
                                        "1,4000000,5900000,3\n";

ED_TEST(click_sessions_p1_prints_the_sessions_and_counts_the_late_click)
{
    events e;
    ED_REQUIRE(read_events(CLICKS, &e) == 0);
    proc p;
    run_example(&p, 1, CLICK_SESSIONS, CLICKS, NULL);
    CHECK_TEXT(p.out, click_sessions_p1);
    ED_CHECK_CONTAINS(p.err, "late clicks: 1\n");

    size_t n;
    char **got = plain_lines(p.out, &n, false);
    char *want = NULL;
    check_against_model(MODEL_SESSIONS, &e, 1, CLICK_BOUND_MS, got, n, &want);
    char *have = join_lines(got, n);
    CHECK_TEXT(have, want);
    ED_CHECK_INT(late_reported(p.err), late_clicks_of(&e, got, n));
    /* the literal above is what the model computes from data/clicks.csv */
    size_t nl;
    char **lit = plain_lines(click_sessions_p1, &nl, false);
    char *lit_text = join_lines(lit, nl);
    CHECK_TEXT(lit_text, want);
    free(lit_text);
    free_lines(lit, nl);
    free(have);
    free(want);
    free_lines(got, n);
    proc_free(&p);
}

/* The example reads its file with one source subtask, so at p=2 the sessions are exactly
 * those of p=1 (in another order); the model check still holds for any legal order. */
ED_TEST(click_sessions_p2_prints_the_same_sessions)
{
    events e;
    ED_REQUIRE(read_events(CLICKS, &e) == 0);
    proc p;
    run_example(&p, 2, CLICK_SESSIONS, CLICKS, NULL);
    size_t n;
    char **got = plain_lines(p.out, &n, true);
    check_against_model(MODEL_SESSIONS, &e, 2, CLICK_BOUND_MS, got, n, NULL);
    size_t nw;
    char **want = plain_lines(click_sessions_p1, &nw, false);
    char *got_text = join_lines(got, n), *want_text = join_lines(want, nw);
    CHECK_TEXT(got_text, want_text);
    free(got_text);
    free(want_text);
    free_lines(want, nw);
    long late = late_reported(p.err);
    ED_CHECK_INT(late, 1);
    ED_CHECK_INT(late, late_clicks_of(&e, got, n));
    free_lines(got, n);
    proc_free(&p);
}

/* ---- durations ------------------------------------------------------------------------------- */

static const char durations_p1[] = "a,5000\nc,3594000\nb,timeout\nd,1000000\ne,timeout\n";

ED_TEST(durations_p1_prints_durations_and_timeouts)
{
    events e;
    ED_REQUIRE(read_events(START_END, &e) == 0);
    proc p;
    run_example(&p, 1, DURATIONS, START_END, NULL);
    CHECK_TEXT(p.out, durations_p1);
    size_t n;
    char **got = plain_lines(p.out, &n, false);
    char *want = NULL;
    check_against_model(MODEL_DURATIONS, &e, 1, 0, got, n, &want);
    size_t nl;
    char **lit = plain_lines(durations_p1, &nl, false);
    char *lit_text = join_lines(lit, nl);
    CHECK_TEXT(lit_text, want);
    free(lit_text);
    free_lines(lit, nl);
    free(want);
    free_lines(got, n);
    proc_free(&p);
}

ED_TEST(durations_p2_prints_the_same_lines)
{
    events e;
    ED_REQUIRE(read_events(START_END, &e) == 0);
    proc p;
    run_example(&p, 2, DURATIONS, START_END, NULL);
    size_t n;
    char **got = plain_lines(p.out, &n, true);
    check_against_model(MODEL_DURATIONS, &e, 2, 0, got, n, NULL);
    size_t nw;
    char **want = plain_lines(durations_p1, &nw, false);
    char *got_text = join_lines(got, n), *want_text = join_lines(want, nw);
    CHECK_TEXT(got_text, want_text);
    free(got_text);
    free(want_text);
    free_lines(want, nw);
    free_lines(got, n);
    proc_free(&p);
}

/* The model itself, for a file read by two source subtasks (each half of the file one
 * channel): b's START (first half) and END (second half) race with the other half's
 * watermarks, so both a duration and a timeout are possible; a's START and END are both
 * in the first half, so only its duration is. (The example reads with one subtask.) */
ED_TEST(model_p2_durations_outcomes)
{
    events e;
    ED_REQUIRE(read_events(START_END, &e) == 0);
    channel chs[2];
    explore x;
    outcomes_of(&x, MODEL_DURATIONS, &e, "a", 2, 0, chs);
    ED_CHECK_INT(x.noutcomes, 1);
    if (x.noutcomes == 1) ED_CHECK_STR(x.outcomes[0], "a,5000\n");
    explore_free(&x);
    outcomes_of(&x, MODEL_DURATIONS, &e, "b", 2, 0, chs);
    ED_CHECK_INT(x.noutcomes, 2);
    bool duration = false, timeout = false;
    for (int i = 0; i < x.noutcomes; i++) {
        duration |= strcmp(x.outcomes[i], "b,15499000\n") == 0;
        timeout |= strcmp(x.outcomes[i], "b,timeout\n") == 0;
    }
    ED_CHECK(duration && timeout);
    explore_free(&x);
}

/* ---- windowed_wordcount ---------------------------------------------------------------------- */

/* Flink's window start for a timestamp: aligned to the epoch, offset 0. */
static int64_t window_start(int64_t ts, int64_t slide)
{
    int64_t r = ts % slide;
    return ts - (r < 0 ? r + slide : r);
}

typedef struct wcount {
    char line[128]; /* label start,end,word */
    long n;
} wcount;

static void count_word(wcount *c, int *nc, int cap, const char *label, int64_t start,
                       int64_t end, const char *word)
{
    char key[128];
    snprintf(key, sizeof key, "%s%" PRId64 ",%" PRId64 ",%s", label, start, end, word);
    for (int i = 0; i < *nc; i++)
        if (strcmp(c[i].line, key) == 0) {
            c[i].n++;
            return;
        }
    if (*nc == cap) abort();
    snprintf(c[*nc].line, sizeof c[0].line, "%s", key);
    c[(*nc)++].n = 1;
}

/* The expected lines (sorted) for `which`: tumbling 5 s, sliding 10 s every 5 s, or both
 * with labels. Words are runs of ASCII letters and digits, lower-cased. */
static char *expected_windowed(const char *which)
{
    char *text = slurp(TIMED_WORDS);
    if (!text) return strdup("cannot read " TIMED_WORDS);
    bool both = strcmp(which, "both") == 0;
    bool tumbling = both || strcmp(which, "tumbling") == 0;
    bool sliding = both || strcmp(which, "sliding") == 0;
    enum { CAP = 512 };
    wcount *c = calloc(CAP, sizeof(*c));
    int nc = 0;
    size_t nlines;
    char **lines = split_lines(text, &nlines);
    for (size_t l = 0; l < nlines; l++) {
        char *comma = strchr(lines[l], ',');
        if (!comma) continue;
        int64_t ts = strtoll(lines[l], NULL, 10);
        for (const char *s = comma + 1; *s;) {
            if (!isalnum((unsigned char)*s)) {
                s++;
                continue;
            }
            char word[64];
            size_t n = 0;
            while (isalnum((unsigned char)*s)) {
                if (n + 1 < sizeof word) word[n++] = (char)tolower((unsigned char)*s);
                s++;
            }
            word[n] = 0;
            if (tumbling) {
                int64_t st = window_start(ts, 5000);
                count_word(c, &nc, CAP, both ? "tumbling," : "", st, st + 5000, word);
            }
            if (sliding) /* every window [start, start + 10 s) that holds ts */
                for (int64_t st = window_start(ts, 5000); st > ts - 10000; st -= 5000)
                    count_word(c, &nc, CAP, both ? "sliding," : "", st, st + 10000, word);
        }
    }
    char **out = calloc((size_t)nc + 1, sizeof(char *));
    for (int i = 0; i < nc; i++) {
        sbuf b = {0};
        sb_printf(&b, "%s,%ld", c[i].line, c[i].n);
        out[i] = sb_take(&b);
    }
    qsort(out, (size_t)nc, sizeof(char *), cmp_str);
    char *r = join_lines(out, (size_t)nc);
    free_lines(out, (size_t)nc);
    free_lines(lines, nlines);
    free(c);
    free(text);
    return r;
}

static void check_windowed(int par, const char *which)
{
    proc p;
    run_example(&p, par, WINDOWED_WORDCOUNT, TIMED_WORDS, which);
    size_t n;
    char **got = plain_lines(p.out, &n, par > 1);
    char *have = join_lines(got, n);
    char *want = expected_windowed(which ? which : "both");
    CHECK_TEXT(have, want);
    free(want);
    free(have);
    free_lines(got, n);
    proc_free(&p);
}

/* The words arrive in timestamp order, so no word is late and any parallelism gives the
 * same windows. */
ED_TEST(windowed_wordcount_tumbling) { check_windowed(1, "tumbling"); }
ED_TEST(windowed_wordcount_sliding) { check_windowed(1, "sliding"); }
ED_TEST(windowed_wordcount_both) { check_windowed(1, NULL); }
ED_TEST(windowed_wordcount_both_p2) { check_windowed(2, NULL); }

/* The model's own sanity: the words at 1000 ms fall into Flink's two sliding windows. */
ED_TEST(model_sliding_windows_are_flinks)
{
    char *w = expected_windowed("sliding");
    ED_CHECK_CONTAINS(w, "-5000,5000,to,2\n");
    ED_CHECK_CONTAINS(w, "0,10000,to,3\n");
    free(w);
}

/* ---- the README's quickstart ----------------------------------------------------------------- */

/* The command the quickstart script ends with: its `exec` line, split on blanks. */
static int quickstart_argv(char *buf, size_t n, const char *argv[16])
{
    char *script = slurp(EDDY_SOURCE_DIR "/scripts/quickstart.sh");
    if (!script) return -1;
    char *l = strstr(script, "\nexec ");
    if (!l) {
        free(script);
        return -1;
    }
    snprintf(buf, n, "%.*s", (int)strcspn(l + 6, "\n"), l + 6);
    free(script);
    int argc = 0;
    for (char *tok = strtok(buf, " "); tok && argc < 15; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    argv[argc] = NULL;
    return argc;
}

ED_TEST(readme_quickstart_runs_click_sessions)
{
    char *readme = slurp(EDDY_SOURCE_DIR "/README.md");
    ED_REQUIRE(readme);
    ED_CHECK_CONTAINS(readme, "./scripts/quickstart.sh");
    free(readme);

    char buf[1024];
    const char *argv[16];
    int argc = quickstart_argv(buf, sizeof buf, argv);
    ED_REQUIRE(argc >= 3);
    ED_CHECK_STR(argv[0], "./build/eddy");
    /* the script's build/ is ours */
    char paths[16][512];
    const char *run[17];
    run[0] = EDDY;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "build/", 6) == 0) {
            snprintf(paths[i], sizeof paths[i], "%s/%s", EDDY_BUILD_DIR, argv[i] + 6);
            run[i] = paths[i];
        } else {
            run[i] = argv[i];
        }
    }
    run[argc] = NULL;
    proc p;
    ED_REQUIRE(proc_start(&p, (char *const *)run, EDDY_SOURCE_DIR, NULL) == 0);
    proc_wait(&p, TIMEOUT_MS);
    CHECK_EXIT(&p, 0);
    CHECK_TEXT(p.out, click_sessions_p1);
    ED_CHECK_CONTAINS(p.err, "late clicks: 1\n");
    proc_free(&p);
}

/* ---- exactly_once_sum: kill -9 and start again ----------------------------------------------- */

#define EXACTLY_ONCE_SUM EDDY_BUILD_DIR "/exactly_once_sum.so"

/* The example's expected output, from the input: one "key,total" line per key, sorted. */
static char *expected_sums(const char *csv)
{
    char keys[64][16];
    long long totals[64];
    int n = 0;
    FILE *f = fopen(csv, "r");
    char k[16];
    long long v;
    while (f && fscanf(f, "%15[^,],%lld\n", k, &v) == 2) {
        int i = 0;
        while (i < n && strcmp(keys[i], k)) i++;
        if (i == n) {
            snprintf(keys[n], sizeof keys[n], "%s", k);
            totals[n++] = 0;
        }
        totals[i] += v;
    }
    if (f) fclose(f);
    sbuf b = {0};
    for (int i = 0; i < n; i++) sb_printf(&b, "%s,%lld\n", keys[i], totals[i]);
    return sorted_lines(sb_take(&b));
}


/* The newest completed checkpoint under root ("" when none). */
static void latest_checkpoint(const char *root, char *out, size_t cap)
{
    out[0] = 0;
    DIR *d = opendir(root);
    if (!d) return;
    long best = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        long id;
        if (sscanf(de->d_name, "chk-%ld", &id) != 1 || id <= best) continue;
        char meta[PATH_MAX + 300];
        struct stat st;
        snprintf(meta, sizeof meta, "%s/%s/_metadata", root, de->d_name);
        if (stat(meta, &st) == 0) {
            best = id;
            snprintf(out, cap, "%s/%s", root, de->d_name);
        }
    }
    closedir(d);
}

/* rocks: RocksDB with incremental checkpoints, its working directories in the scratch
 * directory (a killed process leaves its own behind). */
static void check_kill_9(bool rocks)
{
    char in[PATH_MAX], out[PATH_MAX], ck[PATH_MAX], root[PATH_MAX + 32];
    scratch_path(in, sizeof in, rocks ? "eos-rocks-in.csv" : "eos-in.csv");
    scratch_path(out, sizeof out, rocks ? "eos-rocks-out" : "eos-out");
    scratch_path(ck, sizeof ck, rocks ? "eos-rocks-ck" : "eos-ck");
    char local[PATH_MAX], lflag[PATH_MAX + 64];
    scratch_path(local, sizeof local, "eos-rocks-local");
    snprintf(lflag, sizeof lflag, "state.backend.rocksdb.localdir=%s", local);
    const char *backend = rocks ? "state.backend.type=rocksdb" : "state.backend.type=hashmap";
    const char *incremental = rocks ? "execution.checkpointing.incremental=true"
                                    : "execution.checkpointing.incremental=false";
    snprintf(root, sizeof root, "%s/Exactly-Once_Sum", ck);
    sbuf data = {0};
    uint64_t x = 12345;
    for (int i = 0; i < 20000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        sb_printf(&data, "k%d,%d\n", (int)(x >> 59) + (int)((x >> 40) % 7), (int)((x >> 20) % 1000));
    }
    char *text = sb_take(&data);
    ED_REQUIRE(write_file(in, text) == 0);
    free(text);
    char dflag[PATH_MAX + 64];
    snprintf(dflag, sizeof dflag, "execution.checkpointing.dir=%s", ck);

    /* the first run, throttled, killed once two checkpoints are complete */
    const char *argv[] = {EDDY, "run", "-D", "log.level=WARN", "-D",
                          "execution.checkpointing.interval=200ms", "-D", dflag, "-D",
                          "execution.checkpointing.num-retained=3", "-D", backend, "-D",
                          incremental, "-D", lflag, EXACTLY_ONCE_SUM, in, out, "8000", NULL};
    proc p;
    ED_REQUIRE(proc_start(&p, (char *const *)argv, NULL, NULL) == 0);
    char chk[PATH_MAX + 64] = "";
    for (int i = 0; i < 1500 && !proc_exited(&p); i++) {
        latest_checkpoint(root, chk, sizeof chk);
        if (strstr(chk, "chk-") && atoi(strstr(chk, "chk-") + 4) >= 2) break;
        sleep_ms(10);
    }
    ED_REQUIRE(!proc_exited(&p)); /* it was killed mid-run, not finished */
    kill(-p.pid, SIGKILL);
    proc_wait(&p, TIMEOUT_MS);
    proc_free(&p);
    latest_checkpoint(root, chk, sizeof chk);
    ED_REQUIRE(chk[0]);

    /* started again from its latest checkpoint, at full speed */
    proc q;
    EDDY_RUN(&q, "run", "-D", "log.level=WARN", "-D", backend, "-D", lflag, "-s", chk,
             EXACTLY_ONCE_SUM, in, out);
    CHECK_EXIT(&q, 0);
    proc_free(&q);
    char *got = committed(out), *want = expected_sums(in);
    ED_REQUIRE(got);
    CHECK_TEXT(got, want);
    free(got);
    free(want);
}

ED_TEST(exactly_once_sum_survives_kill_9) { check_kill_9(false); }
ED_TEST(exactly_once_sum_survives_kill_9_on_rocksdb_incremental) { check_kill_9(true); }
