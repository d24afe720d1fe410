/*
 * window.c - window throughput beside hand-written loops doing the same work.
 *
 *   build/bench_window [records] [keys]
 *
 * Engine: datagen (sequence) -> map (k = id % keys, ts = event time of id) -> timestamps
 * and watermarks (monotonous) -> key_by(k) -> window -> aggregate count -> blackhole, at
 * parallelism 1 (source and window in two tasks), in the embedded mini-cluster:
 *
 *   tumbling  10 s event-time windows; 100 records per ms of event time, so each window
 *             of a key counts 100 records
 *   session   10 s gap; the same rate, with a 20 s pause after every 10 s of event time
 *             so that each key's sessions close
 *
 * Baselines: one C loop each, on one core. Tumbling: make the id, compute key, timestamp
 * and window, find (key, window) in an open-addressing table, count, and when the
 * watermark (every 1024 records) passes a window's end hand its counts to a sink that
 * only looks at them and delete them. Session: a table of each key's open session,
 * extended by every record within the gap, emitted when a record comes after its end.
 *
 * Prints records/s of each and engine/baseline.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <eddy/eddy.h>

#include "base/base.h"
#include "bench_util.h"

#define WINDOW_MS 10000
#define GAP_MS 10000
#define PER_MS 100            /* records per ms of event time */
#define PHASE 1000000         /* session bench: records of activity before a pause */
#define PAUSE_MS 20000

static int64_t nkeys = 10000;
static int session_mode;

static inline int64_t event_time(int64_t id, int session)
{
    int64_t t = id / PER_MS;
    return session ? t + (id / PHASE) * PAUSE_MS : t;
}

int bench_window_map(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    int64_t id = eddy_row_i64(in, 0);
    eddy_rb_set_i64(out, 0, id % nkeys);
    eddy_rb_set_i64(out, 1, event_time(id, session_mode));
    return 0;
}

int bench_count_create(eddy_ctx *ctx, eddy_row_builder *acc)
{
    eddy_rb_set_i64(acc, 0, 0);
    return 0;
}
int bench_count_add(eddy_ctx *ctx, const eddy_row *in, const eddy_row *acc, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(acc, 0) + 1);
    return 0;
}
int bench_count_result(eddy_ctx *ctx, const eddy_row *acc, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(acc, 0));
    return 0;
}
int bench_count_merge(eddy_ctx *ctx, const eddy_row *a, const eddy_row *b, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(a, 0) + eddy_row_i64(b, 0));
    return 0;
}

static double run_engine(int64_t n, int session)
{
    session_mode = session;
    char end[32];
    snprintf(end, sizeof(end), "%lld", (long long)n - 1);
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 1);
    eddy_env_set(env, "log.level", "WARN");
    bench_apply_conf(env);
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", end,
                                   "rows-per-second", "0", NULL);
    eddy_stream *kv = eddy_map(src, EDDY_FN(bench_window_map), "k BIGINT, ts BIGINT");
    kv = eddy_assign_timestamps_and_watermarks(kv, eddy_monotonous_timestamps("ts"));
    eddy_window_assigner a = session ? eddy_event_time_session_windows(GAP_MS)
                                     : eddy_tumbling_event_time_windows(WINDOW_MS, 0);
    eddy_aggregate count = {.acc_schema = "c BIGINT",
                            .out_schema = "c BIGINT",
                            .create = EDDY_FN(bench_count_create),
                            .add = EDDY_FN(bench_count_add),
                            .result = EDDY_FN(bench_count_result),
                            .merge = EDDY_FN(bench_count_merge)};
    eddy_discard(eddy_window_aggregate(eddy_window(eddy_key_by(kv, "k"), a), count));
    double t0 = bench_now_s();
    if (eddy_execute(env, "bench")) {
        fprintf(stderr, "bench: %s\n", eddy_env_error(env));
        exit(1);
    }
    double secs = bench_now_s() - t0;
    eddy_env_free(env);
    return secs;
}

/* ---- the hand-written baselines ----------------------------------------------------------- */

static volatile int64_t sink_last;
static uint64_t emitted;

typedef struct wslot {
    int64_t key, start, count;
    int64_t end; /* sessions */
    int used;
} wslot;

typedef struct wtable {
    wslot *s;
    size_t mask;
} wtable;

static inline size_t slot_of(const wtable *t, int64_t key, int64_t start)
{
    uint64_t h = ed_mix64((uint64_t)ed_murmur3_32(&key, sizeof key, 0) ^ (uint64_t)start);
    return h & t->mask;
}

static wslot *wfind(wtable *t, int64_t key, int64_t start, int *fresh)
{
    size_t i = slot_of(t, key, start);
    while (t->s[i].used && (t->s[i].key != key || t->s[i].start != start)) i = (i + 1) & t->mask;
    *fresh = !t->s[i].used;
    if (*fresh) t->s[i] = (wslot){key, start, 0, 0, 1};
    return &t->s[i];
}

/* Deletes by backward shift, keeping every probe chain whole. */
static void wdelete(wtable *t, int64_t key, int64_t start)
{
    size_t i = slot_of(t, key, start);
    while (t->s[i].key != key || t->s[i].start != start) i = (i + 1) & t->mask;
    size_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (!t->s[j].used) break;
        size_t home = slot_of(t, t->s[j].key, t->s[j].start);
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            t->s[i] = t->s[j];
            i = j;
        }
    }
    t->s[i].used = 0;
}

static double run_tumbling_baseline(int64_t n)
{
    wtable t;
    size_t cap = 1;
    while (cap < (size_t)nkeys * 4) cap <<= 1;
    t.s = calloc(cap, sizeof(wslot));
    t.mask = cap - 1;
    /* the "timers": (key, window) in the order they were made, which is end order */
    int64_t(*q)[2] = malloc(sizeof(*q) * (size_t)nkeys * 4);
    size_t qh = 0, qt = 0, qcap = (size_t)nkeys * 4;
    double t0 = bench_now_s();
    int64_t wm = INT64_MIN;
    for (int64_t id = 0; id <= n; id++) {
        int64_t ts = id < n ? event_time(id, 0) : INT64_MAX;
        if (id == n || (id & 1023) == 0) {
            wm = id == n ? INT64_MAX : ts - 1;
            while (qh != qt && q[qh % qcap][1] + WINDOW_MS - 1 <= wm) {
                int fresh;
                wslot *s = wfind(&t, q[qh % qcap][0], q[qh % qcap][1], &fresh);
                sink_last = s->count;
                emitted++;
                wdelete(&t, q[qh % qcap][0], q[qh % qcap][1]);
                qh++;
            }
            if (id == n) break;
        }
        int64_t k = id % nkeys;
        int64_t start = ts - ts % WINDOW_MS;
        int fresh;
        wslot *s = wfind(&t, k, start, &fresh);
        if (fresh) {
            q[qt % qcap][0] = k;
            q[qt % qcap][1] = start;
            qt++;
        }
        s->count++;
    }
    double secs = bench_now_s() - t0;
    free(q);
    free(t.s);
    return secs;
}

static double run_session_baseline(int64_t n)
{
    wtable t;
    size_t cap = 1;
    while (cap < (size_t)nkeys * 2) cap <<= 1;
    t.s = calloc(cap, sizeof(wslot));
    t.mask = cap - 1;
    double t0 = bench_now_s();
    for (int64_t id = 0; id < n; id++) {
        int64_t k = id % nkeys, ts = event_time(id, 1);
        int fresh;
        wslot *s = wfind(&t, k, 0, &fresh);
        if (!fresh && ts > s->end) { /* the session ended before this record */
            sink_last = s->count;
            emitted++;
            s->count = 0;
        }
        if (ts + GAP_MS > s->end) s->end = ts + GAP_MS;
        s->count++;
    }
    for (size_t i = 0; i < cap; i++)
        if (t.s[i].used) {
            sink_last = t.s[i].count;
            emitted++;
        }
    double secs = bench_now_s() - t0;
    free(t.s);
    return secs;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 20000000;
    if (argc > 2) nkeys = atoll(argv[2]);
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    const char *only = getenv("EDDY_BENCH_ENGINE_ONLY"); /* "tumbling" or "session": profiling */
    if (only) {
        int session = strcmp(only, "session") == 0;
        printf("eddy %s: %.0f records/s\n", only, (double)n / run_engine(n, session));
        return 0;
    }
    printf("window count: datagen -> map -> timestamps -> key_by -> window -> aggregate -> "
           "blackhole, %lld records, %lld keys\n", (long long)n, (long long)nkeys);
    printf("%-34s %14s %8s\n", "run", "records/s", "ratio");
    for (int session = 0; session <= 1; session++) {
        const char *what = session ? "session (gap 10 s)" : "tumbling (10 s)";
        bench_use_cores(1);
        double base = (double)n / (session ? run_session_baseline(n) : run_tumbling_baseline(n));
        printf("%-34s %14.0f %8s\n", session ? "session baseline (C loop)"
                                             : "tumbling baseline (C loop)", base, "1.00");
        for (int cores = 1; cores <= 2 && cores <= ncpu; cores++) {
            bench_use_cores(cores);
            double rate = (double)n / run_engine(n, session);
            char name[64];
            snprintf(name, sizeof name, "eddy %s, %d core%s", what, cores, cores > 1 ? "s" : "");
            printf("%-34s %14.0f %8.2f\n", name, rate, rate / base);
        }
    }
    bench_use_cores(ncpu);
    return 0;
}
