/*
 * nexmark_queries_test.c - each Nexmark query (examples/nexmark/queries.c) on a bounded
 * stream, at parallelism 1 and 2, against the same query computed here directly over the
 * generator's events with plain loops (no engine): the final result rows must be the
 * same. For queries whose SQL result is a changelog (q3), the rows emitted are the
 * inserts; for windowed ones, the windows fired by the end of input (the watermark goes to
 * the maximum at the end, firing every window).
 */
#include "../examples/nexmark/queries.c"

#include "connectors/nexmark_gen.h"
#include "ed_test.h"
#include "job_util.h"

enum { EVENTS = 120000 };

/* Every event of the stream of `events` events cut into n splits (the layout of a source
 * of parallelism n), in split order. */
typedef struct evlist {
    ed_nx_event *ev;
    char **strs; /* each event's strings, copied */
    size_t n;
    size_t *of[3]; /* the indexes of each kind's events */
    size_t nof[3];
} evlist;

static char *dup_str(ed_nx_str s)
{
    char *p = malloc(s.len + 1);
    memcpy(p, s.p, s.len);
    p[s.len] = 0;
    return p;
}

static ed_nx_str own(char *p) { return (ed_nx_str){p, (uint32_t)strlen(p)}; }

static evlist events_of(int n)
{
    ed_nx_config c;
    ed_nx_config_default(&c);
    c.events = EVENTS;
    c.generators = n;
    evlist l = {.ev = calloc(EVENTS, sizeof(ed_nx_event)), .strs = calloc(EVENTS * 4, sizeof(char *))};
    for (int i = 0; i < n; i++) {
        ed_nx_gen g;
        if (ed_nx_gen_init(&g, &c, ed_nx_split_of(&c, i, n), 0)) abort();
        while (ed_nx_has_next(&g)) {
            ed_nx_event *e = &l.ev[l.n];
            ed_nx_next(&g, e);
            char **s = &l.strs[l.n * 4];
            if (e->kind == ED_NX_PERSON) {
                e->person.name = own(s[0] = dup_str(e->person.name));
                e->person.city = own(s[1] = dup_str(e->person.city));
                e->person.state = own(s[2] = dup_str(e->person.state));
            } else if (e->kind == ED_NX_BID) {
                e->bid.extra = own(s[0] = dup_str(e->bid.extra));
            }
            l.n++;
        }
        ed_nx_gen_free(&g);
    }
    for (int k = 0; k < 3; k++) l.of[k] = malloc(l.n * sizeof(size_t));
    for (size_t i = 0; i < l.n; i++) l.of[l.ev[i].kind][l.nof[l.ev[i].kind]++] = i;
    return l;
}

static void evlist_free(evlist *l)
{
    for (size_t i = 0; i < l->n * 4; i++) free(l->strs[i]);
    free(l->strs);
    free(l->ev);
    for (int k = 0; k < 3; k++) free(l->of[k]);
}

/* Lines, sorted and joined, as result_text makes them. */
typedef struct lines {
    char **v;
    size_t n, cap;
} lines;

static void add_line(lines *ls, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_line(lines *ls, const char *fmt, ...)
{
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? 2 * ls->cap : 1024;
        ls->v = realloc(ls->v, ls->cap * sizeof(char *));
    }
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&ls->v[ls->n++], fmt, ap) < 0) abort();
    va_end(ap);
}

static char *joined(lines *ls)
{
    qsort(ls->v, ls->n, sizeof(char *), ed_cmp_str);
    ed_strbuf sb;
    ed_sb_init(&sb);
    for (size_t i = 0; i < ls->n; i++) {
        if (i) ed_sb_putc(&sb, '\n');
        ed_sb_puts(&sb, ls->v[i]);
        free(ls->v[i]);
    }
    free(ls->v);
    if (!sb.data) ed_sb_puts(&sb, "");
    return ed_sb_steal(&sb);
}

/* Flink's text of a TIMESTAMP(3) of ms since the epoch (small values: no dates needed). */
static const char *ts_text(int64_t ms, char *buf)
{
    int64_t s = ms / 1000, m = ms % 1000;
    int h = (int)(s / 3600), mi = (int)(s / 60 % 60), se = (int)(s % 60);
    if (m)
        sprintf(buf, "1970-01-01T%02d:%02d:%02d.%03d", h, mi, se, (int)m);
    else if (se)
        sprintf(buf, "1970-01-01T%02d:%02d:%02d", h, mi, se);
    else
        sprintf(buf, "1970-01-01T%02d:%02d", h, mi);
    return buf;
}

/* Runs query q at parallelism p over EVENTS events from base time 0; its rows, sorted. */
static char *run_query(const char *q, int p)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, p);
    eddy_env_set(env, "log.level", "WARN");
    char events[32];
    snprintf(events, sizeof events, "%d", EVENTS);
    nexmark_options o = {.events = events, .base_time = "0"};
    eddy_stream *s = nexmark_query(env, q, &o);
    if (!s) {
        fprintf(stderr, "  %s: %s\n", q, eddy_env_error(env));
        eddy_env_free(env);
        return strdup("(not built)");
    }
    eddy_result *r = eddy_collect(s);
    char *text;
    if (eddy_execute(env, q)) {
        fprintf(stderr, "  %s: %s\n", q, eddy_env_error(env));
        text = strdup("(failed)");
    } else {
        text = result_text(r, eddy_stream_schema(s), 1);
    }
    eddy_env_free(env);
    return text;
}

/* The query at p = 1 and 2 against expected(events of p splits). */
static void check_query(const char *q, char *(*expected)(const evlist *))
{
    for (int p = 1; p <= 2; p++) {
        evlist l = events_of(p);
        char *want = expected(&l), *got = run_query(q, p);
        size_t nl = 0;
        for (const char *c = want; *c; c++) nl += *c == '\n';
        if (strcmp(got, want) != 0) {
            ED_FAIL_AT("%s at parallelism %d differs from the direct computation (%zu rows "
                       "expected)", q, p, nl + (*want != 0));
            size_t i = 0;
            while (got[i] && got[i] == want[i]) i++;
            fprintf(stderr, "  first difference at byte %zu:\n  got:  %.160s\n  want: %.160s\n", i,
                    got + (i > 40 ? i - 40 : 0), want + (i > 40 ? i - 40 : 0));
        }
        ED_CHECK(nl > 0); /* the query has results on this stream */
        free(want);
        free(got);
        evlist_free(&l);
    }
}

/* ---- the queries, directly ------------------------------------------------------------------ */

static char *q0_direct(const evlist *l)
{
    lines ls = {0};
    char t[40];
    for (size_t i = 0; i < l->n; i++) {
        const ed_nx_event *e = &l->ev[i];
        if (e->kind == ED_NX_BID)
            add_line(&ls, "+I[%lld, %lld, %lld, %s, %s]", (long long)e->bid.auction,
                     (long long)e->bid.bidder, (long long)e->bid.price, ts_text(e->date_time, t),
                     e->bid.extra.p);
    }
    return joined(&ls);
}

static char *q1_direct(const evlist *l)
{
    lines ls = {0};
    char t[40];
    eddy_row_builder *b = eddy_rb_new(1);
    ed_strbuf d;
    ed_sb_init(&d);
    char err[64];
    eddy_schema *s = eddy_schema_parse("x DOUBLE", err, sizeof err);
    for (size_t i = 0; i < l->n; i++) {
        const ed_nx_event *e = &l->ev[i];
        if (e->kind != ED_NX_BID) continue;
        /* the engine's text of a DOUBLE, as Java prints it */
        eddy_rb_reset(b);
        eddy_rb_set_f64(b, 0, 0.908 * (double)e->bid.price);
        ed_sb_reset(&d);
        ed_row_format_flink(s, eddy_rb_row(b), &d); /* "+I[<value>]" */
        add_line(&ls, "+I[%lld, %lld, %.*s, %s, %s]", (long long)e->bid.auction,
                 (long long)e->bid.bidder, (int)d.len - 4, d.data + 3, ts_text(e->date_time, t),
                 e->bid.extra.p);
    }
    eddy_schema_free(s);
    ed_sb_free(&d);
    eddy_rb_free(b);
    return joined(&ls);
}

static char *q2_direct(const evlist *l)
{
    lines ls = {0};
    for (size_t i = 0; i < l->n; i++) {
        const ed_nx_event *e = &l->ev[i];
        if (e->kind == ED_NX_BID && e->bid.auction % 123 == 0)
            add_line(&ls, "+I[%lld, %lld]", (long long)e->bid.auction, (long long)e->bid.price);
    }
    return joined(&ls);
}

static char *q3_direct(const evlist *l)
{
    lines ls = {0};
    for (size_t i = 0; i < l->n; i++) {
        const ed_nx_event *a = &l->ev[i];
        if (a->kind != ED_NX_AUCTION || a->auction.category != 10) continue;
        for (size_t j = 0; j < l->nof[ED_NX_PERSON]; j++) {
            const ed_nx_event *p = &l->ev[l->of[ED_NX_PERSON][j]];
            if (p->person.id != a->auction.seller) continue;
            const char *st = p->person.state.p;
            if (strcmp(st, "OR") && strcmp(st, "ID") && strcmp(st, "CA")) continue;
            add_line(&ls, "+I[%s, %s, %s, %lld]", p->person.name.p, p->person.city.p, st,
                     (long long)a->auction.id);
        }
    }
    return joined(&ls);
}

static int64_t max_time(const evlist *l)
{
    int64_t m = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->ev[i].date_time > m) m = l->ev[i].date_time;
    return m;
}

static char *q5_direct(const evlist *l)
{
    lines ls = {0};
    int64_t end = max_time(l);
    /* windows [s, s + 10 s) for s a multiple of 2 s, from the first that holds time 0 */
    for (int64_t s = -8000; s <= end; s += 2000) {
        /* count per auction, in a small open-addressed table */
        enum { CAP = 1 << 16 };
        static int64_t key[CAP], cnt[CAP];
        memset(cnt, 0, sizeof cnt);
        int64_t best = 0;
        for (size_t i = 0; i < l->n; i++) {
            const ed_nx_event *e = &l->ev[i];
            if (e->kind != ED_NX_BID || e->date_time < s || e->date_time >= s + 10000) continue;
            uint64_t h = (uint64_t)e->bid.auction * 0x9E3779B97F4A7C15ULL >> 48;
            while (cnt[h] && key[h] != e->bid.auction) h = (h + 1) & (CAP - 1);
            key[h] = e->bid.auction;
            if (++cnt[h] > best) best = cnt[h];
        }
        for (int h = 0; h < CAP && best; h++)
            if (cnt[h] == best) add_line(&ls, "+I[%lld, %lld]", (long long)key[h], (long long)best);
    }
    return joined(&ls);
}

static char *q7_direct(const evlist *l)
{
    lines ls = {0};
    char t[40];
    int64_t end = max_time(l);
    for (int64_t w = 0; w * 10000 <= end; w++) {
        int64_t lo = w * 10000, hi = lo + 10000, best = -1;
        for (size_t i = 0; i < l->n; i++) {
            const ed_nx_event *e = &l->ev[i];
            if (e->kind == ED_NX_BID && e->date_time >= lo && e->date_time < hi && e->bid.price > best)
                best = e->bid.price;
        }
        if (best < 0) continue; /* no bids: no window */
        for (size_t i = 0; i < l->n; i++) {
            const ed_nx_event *e = &l->ev[i];
            if (e->kind == ED_NX_BID && e->bid.price == best && e->date_time >= lo &&
                e->date_time <= hi) /* BETWEEN: both ends */
                add_line(&ls, "+I[%lld, %lld, %lld, %s, %s]", (long long)e->bid.auction,
                         (long long)e->bid.bidder, (long long)e->bid.price,
                         ts_text(e->date_time, t), e->bid.extra.p);
        }
    }
    return joined(&ls);
}

static char *q8_direct(const evlist *l)
{
    lines ls = {0};
    char t[40];
    for (size_t i = 0; i < l->n; i++) {
        const ed_nx_event *p = &l->ev[i];
        if (p->kind != ED_NX_PERSON) continue;
        int64_t w = p->date_time / 10000;
        for (size_t j = 0; j < l->nof[ED_NX_AUCTION]; j++) {
            const ed_nx_event *a = &l->ev[l->of[ED_NX_AUCTION][j]];
            if (a->auction.seller == p->person.id &&
                a->date_time / 10000 == w) {
                add_line(&ls, "+I[%lld, %s, %s]", (long long)p->person.id, p->person.name.p,
                         ts_text(w * 10000, t));
                break;
            }
        }
    }
    return joined(&ls);
}

static int cmp_pair(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static char *q11_direct(const evlist *l)
{
    lines ls = {0};
    char t1[40], t2[40];
    int64_t(*bt)[2] = malloc(l->n * sizeof *bt); /* (bidder, time) */
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->ev[i].kind == ED_NX_BID) {
            bt[n][0] = l->ev[i].bid.bidder;
            bt[n][1] = l->ev[i].date_time;
            n++;
        }
    qsort(bt, n, sizeof *bt, cmp_pair);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && bt[j][0] == bt[i][0] && bt[j][1] < bt[j - 1][1] + 10000) j++;
        add_line(&ls, "+I[%lld, %zu, %s, %s]", (long long)bt[i][0], j - i, ts_text(bt[i][1], t1),
                 ts_text(bt[j - 1][1] + 10000, t2));
        i = j;
    }
    free(bt);
    return joined(&ls);
}

ED_TEST(q0_pass_through) { check_query("q0", q0_direct); }
ED_TEST(q1_currency_conversion) { check_query("q1", q1_direct); }
ED_TEST(q2_selection) { check_query("q2", q2_direct); }
ED_TEST(q3_local_item_suggestion) { check_query("q3", q3_direct); }
ED_TEST(q5_hot_items) { check_query("q5", q5_direct); }
ED_TEST(q7_highest_bid) { check_query("q7", q7_direct); }
ED_TEST(q8_monitor_new_users) { check_query("q8", q8_direct); }
ED_TEST(q11_user_sessions) { check_query("q11", q11_direct); }
