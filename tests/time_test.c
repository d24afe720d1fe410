/*
 * time_test.c - event time against Flink's semantics, with exact expectations.
 *
 * The timestamp/watermark operator runs alone in the operator harness (api/harness.h) on
 * the job's manual clock, so that every watermark is observed at the moment it is
 * emitted: timestamps from a BIGINT field, a TIMESTAMP field and a function; periodic
 * emission every pipeline.auto-watermark-interval of processing time, never going back
 * and never while the clock stands still; per-record emission; monotonous timestamps;
 * punctuated and periodic custom generators; ingestion time; idleness (IDLE after the
 * idle timeout without records, ACTIVE before the next record); and the builder's errors.
 *
 * Whole jobs check what only a running job shows: a NULL timestamp fails the job naming
 * the field; a task's watermark is the minimum over its inputs and leaves out an idle one
 * (two sources unioned into a process function that reports eddy_ctx_current_watermark);
 * the MAX watermark at the end of bounded input fires event-time timers and windows; and
 * processing-time timers fire when eddy_env_advance_clock moves the manual clock of a
 * running job. Jobs that must keep running read an unbounded, rate-limited datagen source
 * and are cancelled when the test has seen what it waits for; every wait is bounded.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "api/harness.h"
#include "ed_test.h"
#include "job_util.h"

/* Generous: the suite also runs under ASan and TSan. */
#define WAIT_MS 20000

/* ---- helpers ------------------------------------------------------------------------------ */

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A fresh environment that logs warnings and errors only. */
static eddy_env *quiet_env(void)
{
    eddy_env *env = eddy_env_new();
    if (eddy_env_set(env, "log.level", "WARN")) abort();
    return env;
}

/* A collection source of rows given as CSV lines of `schema` (an empty field is NULL). */
static eddy_stream *rows_of(eddy_env *env, const char *schema, const char *const *lines,
                            size_t n)
{
    char msg[256];
    eddy_schema *s = eddy_schema_parse(schema, msg, sizeof msg);
    if (!s) abort();
    eddy_row_builder *b = eddy_rb_new_schema(s);
    const eddy_row **rows = calloc(n + 1, sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        ed_err e = {0};
        if (ed_csv_parse_line(lines[i], strlen(lines[i]), s, ',', b, &e)) {
            fprintf(stderr, "  bad line '%s': %s\n", lines[i], e.msg);
            abort();
        }
        const eddy_row *r = eddy_rb_row(b);
        rows[i] = memcpy(malloc(eddy_row_size(r)), r, eddy_row_size(r));
    }
    eddy_stream *st = eddy_from_rows(env, schema, rows, n);
    for (size_t i = 0; i < n; i++) free((void *)rows[i]);
    free(rows);
    eddy_rb_free(b);
    eddy_schema_free(s);
    return st;
}

/* A harness on the timestamp/watermark operator of `ws` over rows of `schema`, on a
 * manual clock at `start_ms`; `interval` sets pipeline.auto-watermark-interval unless
 * NULL. The environment is returned in *envp (free it after the harness). */
static ed_harness *wm_harness(eddy_env **envp, const char *schema, eddy_watermark_strategy ws,
                              int64_t start_ms, const char *interval)
{
    eddy_env *env = quiet_env();
    *envp = env;
    eddy_env_use_manual_clock(env, start_ms);
    if (interval && eddy_env_set(env, "pipeline.auto-watermark-interval", interval)) abort();
    eddy_stream *ts = eddy_assign_timestamps_and_watermarks(rows_of(env, schema, NULL, 0), ws);
    if (!ts) {
        fprintf(stderr, "  build failed: %s\n", eddy_env_error(env));
        return NULL;
    }
    eddy_discard(ts);
    ed_err err = {0};
    ed_harness *h = ed_harness_new(env, ts, &err);
    if (!h) fprintf(stderr, "  harness: %s\n", err.msg);
    return h;
}

/* Checks what the operator emitted since the last check, then forgets it. */
static void expect_at(ed_harness *h, const char *want, int line)
{
    const char *got = ed_harness_text(h);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "  %s:%d: emitted:\n%s\n  expected:\n%s\n", __FILE__, line, got, want);
        ed_test_failed_now = 1;
    }
    ed_harness_clear(h);
}
#define EXPECT(h, want) expect_at((h), (want), __LINE__)

static void push_at(ed_harness *h, const char *csv, int64_t ts, int line)
{
    if (ed_harness_push_csv(h, 0, csv, ts)) {
        fprintf(stderr, "  %s:%d: push '%s' failed: %s\n", __FILE__, line, csv,
                ed_harness_error(h));
        ed_test_failed_now = 1;
    }
}
#define PUSH(h, csv) push_at((h), (csv), EDDY_NO_TIMESTAMP, __LINE__)
#define PUSH_TS(h, csv, ts) push_at((h), (csv), (ts), __LINE__)

static void advance(ed_harness *h, int64_t ms)
{
    if (ed_harness_advance_clock(h, ms)) ED_FAIL_AT("advance failed: %s", ed_harness_error(h));
}

static void done(ed_harness *h, eddy_env *env)
{
    ed_harness_free(h);
    eddy_env_free(env);
}

/* ---- bounded out-of-orderness, periodic ---------------------------------------------------- */

ED_TEST(bounded_bigint_field_periodic_watermarks)
{
    eddy_env *env;
    ed_harness *h = wm_harness(&env, "k STRING, t BIGINT", eddy_bounded_out_of_orderness(10, "t"),
                               0, NULL);
    ED_REQUIRE(h);
    EXPECT(h, "");
    PUSH(h, "a,1000");
    EXPECT(h, "+I[a, 1000] @1000"); /* the field is the timestamp; no watermark yet */
    advance(h, 199);
    EXPECT(h, "");
    advance(h, 1); /* the default interval, 200 ms */
    EXPECT(h, "WM 989");
    PUSH(h, "b,500");
    advance(h, 200);
    EXPECT(h, "+I[b, 500] @500"); /* late for the watermark but passed on; WM never back */
    PUSH(h, "c,2000");
    PUSH(h, "d,1500");
    EXPECT(h, "+I[c, 2000] @2000\n+I[d, 1500] @1500"); /* the clock stands still */
    advance(h, 200);
    EXPECT(h, "WM 1989");
    advance(h, 600);
    EXPECT(h, ""); /* nothing new: no repeated watermark */
    done(h, env);
}

ED_TEST(periodic_interval_is_configurable_and_zero_turns_it_off)
{
    eddy_env *env;
    ed_harness *h = wm_harness(&env, "k STRING, t BIGINT", eddy_bounded_out_of_orderness(0, "t"),
                               100, "50 ms");
    ED_REQUIRE(h);
    PUSH(h, "a,7");
    advance(h, 49);
    EXPECT(h, "+I[a, 7] @7");
    advance(h, 1);
    EXPECT(h, "WM 6");
    done(h, env);

    h = wm_harness(&env, "k STRING, t BIGINT", eddy_bounded_out_of_orderness(0, "t"), 0, "0");
    ED_REQUIRE(h);
    PUSH(h, "a,7");
    advance(h, 10000);
    EXPECT(h, "+I[a, 7] @7");
    ED_REQUIRE(ed_harness_watermark(h, EDDY_MAX_WATERMARK) == 0); /* only the end passes */
    EXPECT(h, "WM MAX");
    done(h, env);
}

ED_TEST(timestamp_field_of_type_timestamp)
{
    eddy_env *env;
    ed_harness *h = wm_harness(&env, "k STRING, t TIMESTAMP(3)",
                               eddy_bounded_out_of_orderness(1000, "t"), 0, NULL);
    ED_REQUIRE(h);
    PUSH(h, "a,1970-01-01 00:00:05.250");
    advance(h, 200);
    EXPECT(h, "+I[a, 1970-01-01T00:00:05.250] @5250\nWM 4249");
    done(h, env);
}

/* seconds * 1000, plus the timestamp the record had (0 when none) */
int64_t tt_ts_from_seconds(eddy_ctx *ctx, const eddy_row *row, int64_t previous)
{
    return eddy_row_i64(row, 1) * 1000 + (previous == EDDY_NO_TIMESTAMP ? 0 : previous);
}

ED_TEST(timestamp_function)
{
    eddy_env *env;
    eddy_watermark_strategy ws = {.kind = EDDY_WM_BOUNDED_OUT_OF_ORDERNESS,
                                  .max_out_of_orderness_ms = 100,
                                  .timestamp_fn = EDDY_FN(tt_ts_from_seconds)};
    ed_harness *h = wm_harness(&env, "k STRING, secs BIGINT", ws, 0, NULL);
    ED_REQUIRE(h);
    PUSH(h, "a,3");
    PUSH_TS(h, "b,2", 7);
    advance(h, 200);
    EXPECT(h, "+I[a, 3] @3000\n+I[b, 2] @2007\nWM 2899");
    done(h, env);
}

ED_TEST(per_record_emits_after_the_record_that_advances_it)
{
    eddy_env *env;
    eddy_watermark_strategy ws = eddy_bounded_out_of_orderness(10, "t");
    ws.per_record = true;
    ed_harness *h = wm_harness(&env, "k STRING, t BIGINT", ws, 0, NULL);
    ED_REQUIRE(h);
    PUSH(h, "a,1000");
    EXPECT(h, "+I[a, 1000] @1000\nWM 989");
    PUSH(h, "b,995");
    PUSH(h, "c,1000");
    EXPECT(h, "+I[b, 995] @995\n+I[c, 1000] @1000"); /* neither advances it */
    advance(h, 1000);
    EXPECT(h, ""); /* per record only: no periodic emission */
    PUSH(h, "d,1011");
    EXPECT(h, "+I[d, 1011] @1011\nWM 1000");
    done(h, env);
}

ED_TEST(monotonous_timestamps)
{
    eddy_env *env;
    ed_harness *h = wm_harness(&env, "k STRING, t BIGINT", eddy_monotonous_timestamps("t"), 0,
                               NULL);
    ED_REQUIRE(h);
    PUSH(h, "a,5");
    PUSH(h, "b,8");
    advance(h, 200);
    EXPECT(h, "+I[a, 5] @5\n+I[b, 8] @8\nWM 7");
    done(h, env);
}

ED_TEST(no_watermarks_only_the_final_max_passes)
{
    eddy_env *env;
    eddy_watermark_strategy ws = {.kind = EDDY_WM_NONE, .timestamp_field = "t"};
    ed_harness *h = wm_harness(&env, "k STRING, t BIGINT", ws, 0, NULL);
    ED_REQUIRE(h);
    PUSH(h, "a,5");
    advance(h, 1000);
    ED_REQUIRE(ed_harness_watermark(h, 50) == 0); /* upstream watermarks are replaced */
    EXPECT(h, "+I[a, 5] @5");
    ED_REQUIRE(ed_harness_watermark(h, EDDY_MAX_WATERMARK) == 0);
    EXPECT(h, "WM MAX");
    done(h, env);
}

/* ---- custom generators --------------------------------------------------------------------- */

/* punctuated: a watermark at the record's timestamp when its `mark` field is true */
int tt_on_marker(eddy_wm_ctx *w, const eddy_row *row, int64_t ts)
{
    if (eddy_row_bool(row, 2)) eddy_emit_watermark(w, ts);
    return 0;
}

ED_TEST(punctuated_generator_emits_on_marked_records)
{
    eddy_env *env;
    eddy_watermark_strategy ws = {.kind = EDDY_WM_PUNCTUATED,
                                  .timestamp_field = "t",
                                  .on_event = EDDY_FN(tt_on_marker)};
    ed_harness *h = wm_harness(&env, "k STRING, t BIGINT, mark BOOLEAN", ws, 0, NULL);
    ED_REQUIRE(h);
    PUSH(h, "a,10,false");
    advance(h, 1000);
    EXPECT(h, "+I[a, 10, false] @10"); /* not periodic */
    PUSH(h, "b,20,true");
    EXPECT(h, "+I[b, 20, true] @20\nWM 20");
    PUSH(h, "c,15,true");
    EXPECT(h, "+I[c, 15, true] @15"); /* never back */
    done(h, env);
}

/* periodic: state[0] is the highest timestamp + 1, state[1] the number of records */
int tt_track(eddy_wm_ctx *w, const eddy_row *row, int64_t ts)
{
    int64_t *st = eddy_wm_state(w);
    if (ts + 1 > st[0]) st[0] = ts + 1;
    st[1]++;
    return 0;
}

int tt_emit_tracked(eddy_wm_ctx *w)
{
    int64_t *st = eddy_wm_state(w);
    if (st[1] > 0) eddy_emit_watermark(w, st[0] - 100 * st[1]);
    return 0;
}

ED_TEST(periodic_generator_with_state)
{
    eddy_env *env;
    eddy_watermark_strategy ws = {.kind = EDDY_WM_PERIODIC,
                                  .timestamp_field = "t",
                                  .on_event = EDDY_FN(tt_track),
                                  .on_periodic = EDDY_FN(tt_emit_tracked)};
    ed_harness *h = wm_harness(&env, "k STRING, t BIGINT", ws, 0, NULL);
    ED_REQUIRE(h);
    advance(h, 200);
    EXPECT(h, ""); /* state starts at zero: no records, no watermark */
    PUSH(h, "a,1000");
    EXPECT(h, "+I[a, 1000] @1000");
    advance(h, 200);
    EXPECT(h, "WM 901");
    PUSH(h, "b,1050");
    advance(h, 200);
    EXPECT(h, "+I[b, 1050] @1050"); /* 1051 - 200 < 901: never back */
    PUSH(h, "c,1500");
    advance(h, 200);
    EXPECT(h, "+I[c, 1500] @1500\nWM 1201");
    done(h, env);
}

ED_TEST(ingestion_time_from_the_manual_clock)
{
    eddy_env *env;
    eddy_watermark_strategy ws = {.kind = EDDY_WM_INGESTION_TIME};
    ed_harness *h = wm_harness(&env, "k STRING, t BIGINT", ws, 5000, NULL);
    ED_REQUIRE(h);
    PUSH_TS(h, "a,1", 42);
    advance(h, 200);
    PUSH(h, "b,2");
    EXPECT(h, "+I[a, 1] @5000\nWM 4999\n+I[b, 2] @5200");
    advance(h, 200);
    EXPECT(h, "WM 5199");
    done(h, env);
}

/* ---- idleness -------------------------------------------------------------------------------- */

ED_TEST(idle_after_the_timeout_without_records_active_before_the_next)
{
    eddy_env *env;
    eddy_watermark_strategy ws = eddy_bounded_out_of_orderness(0, "t");
    ws.idleness_ms = 1000;
    ed_harness *h = wm_harness(&env, "k STRING, t BIGINT", ws, 0, NULL);
    ED_REQUIRE(h);
    PUSH(h, "a,1");
    advance(h, 200);
    EXPECT(h, "+I[a, 1] @1\nWM 0");
    for (int i = 0; i < 4; i++) advance(h, 200); /* t = 1000: 800 ms since the check that saw a */
    EXPECT(h, "");
    advance(h, 200); /* 1000 ms without records */
    EXPECT(h, "IDLE");
    advance(h, 2000);
    EXPECT(h, ""); /* said once */
    PUSH(h, "b,5");
    EXPECT(h, "ACTIVE\n+I[b, 5] @5");
    advance(h, 200);
    EXPECT(h, "WM 4");
    done(h, env);
}

ED_TEST(idleness_with_per_record_watermarks)
{
    eddy_env *env;
    eddy_watermark_strategy ws = eddy_monotonous_timestamps("t");
    ws.per_record = true;
    ws.idleness_ms = 500;
    ed_harness *h = wm_harness(&env, "k STRING, t BIGINT", ws, 0, NULL);
    ED_REQUIRE(h);
    PUSH(h, "a,10");
    EXPECT(h, "+I[a, 10] @10\nWM 9");
    for (int i = 0; i < 6; i++) advance(h, 100); /* checks every 200 ms: 400 ms quiet */
    EXPECT(h, "");
    advance(h, 200); /* 600 ms quiet >= 500 */
    EXPECT(h, "IDLE");
    PUSH(h, "b,20");
    EXPECT(h, "ACTIVE\n+I[b, 20] @20\nWM 19");
    done(h, env);
}

/* ---- the builder's errors ------------------------------------------------------------------- */

static void check_build_error(eddy_watermark_strategy ws, const char *want, int line)
{
    eddy_env *env = quiet_env();
    eddy_stream *src = rows_of(env, "k STRING, t BIGINT", NULL, 0);
    eddy_stream *s = eddy_assign_timestamps_and_watermarks(src, ws);
    if (s) {
        fprintf(stderr, "  %s:%d: built, expected \"%s\"\n", __FILE__, line, want);
        ed_test_failed_now = 1;
    } else if (!eddy_env_error(env) || strcmp(eddy_env_error(env), want) != 0) {
        fprintf(stderr, "  %s:%d: error \"%s\", expected \"%s\"\n", __FILE__, line,
                eddy_env_error(env) ? eddy_env_error(env) : "(none)", want);
        ed_test_failed_now = 1;
    }
    eddy_env_free(env);
}

ED_TEST(builder_errors)
{
    check_build_error(eddy_bounded_out_of_orderness(10, "ts"),
                      "eddy_assign_timestamps_and_watermarks: no timestamp field 'ts' in "
                      "(k STRING, t BIGINT)",
                      __LINE__);
    check_build_error(eddy_monotonous_timestamps("k"),
                      "eddy_assign_timestamps_and_watermarks: timestamp field 'k' is STRING, "
                      "not TIMESTAMP or BIGINT",
                      __LINE__);
    check_build_error((eddy_watermark_strategy){.kind = EDDY_WM_PUNCTUATED, .timestamp_field = "t"},
                      "eddy_assign_timestamps_and_watermarks: a punctuated generator needs its "
                      "on_event function",
                      __LINE__);
    check_build_error((eddy_watermark_strategy){.kind = EDDY_WM_PERIODIC,
                                                .timestamp_field = "t",
                                                .on_event = EDDY_FN(tt_track)},
                      "eddy_assign_timestamps_and_watermarks: a periodic generator needs its "
                      "on_periodic function",
                      __LINE__);
    eddy_watermark_strategy neg = eddy_bounded_out_of_orderness(-1, "t");
    check_build_error(neg, "eddy_assign_timestamps_and_watermarks: negative duration", __LINE__);
}

/* ---- whole jobs ----------------------------------------------------------------------------- */

ED_TEST(null_timestamp_fails_the_job_naming_the_field)
{
    eddy_env *env = quiet_env();
    static const char *const lines[] = {"a,1", "b,"};
    eddy_stream *s = eddy_assign_timestamps_and_watermarks(
        rows_of(env, "k STRING, t BIGINT", lines, 2), eddy_bounded_out_of_orderness(0, "t"));
    eddy_discard(s);
    ED_CHECK_INT(eddy_execute(env, "null ts"), -1);
    ED_CHECK_CONTAINS(eddy_env_error(env), "operator 'Timestamps/Watermarks' (subtask 1/1) "
                                           "failed: timestamp field 't' is NULL");
    eddy_env_free(env);
}

/* Event-time timers and windows with no watermark but the final MAX one. */
int tt_timer_at_plus_1000(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_field(b, 0, in, 0);
    eddy_rb_set_cstr(b, 1, "record");
    eddy_rb_set_i64(b, 2, eddy_ctx_current_watermark(ctx) == EDDY_MIN_WATERMARK);
    if (eddy_emit(out, eddy_rb_row(b))) return -1;
    return eddy_timer_register_event_time(ctx, eddy_ctx_timestamp(ctx) + 1000);
}

int tt_on_event_timer(eddy_ctx *ctx, int64_t timestamp, eddy_collector *out)
{
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_field(b, 0, eddy_ctx_current_key(ctx), 0);
    eddy_rb_set_cstr(b, 1, eddy_ctx_time_domain(ctx) == EDDY_EVENT_TIME ? "event" : "processing");
    eddy_rb_set_i64(b, 2, timestamp);
    return eddy_emit(out, eddy_rb_row(b));
}

ED_TEST(max_watermark_at_end_of_input_fires_timers_and_windows)
{
    eddy_env *env = quiet_env();
    static const char *const lines[] = {"a,300,1", "b,50,1", "a,100,1", "a,1200,1"};
    eddy_watermark_strategy none = {.kind = EDDY_WM_NONE, .timestamp_field = "t"};
    eddy_stream *s = eddy_assign_timestamps_and_watermarks(
        rows_of(env, "k STRING, t BIGINT, n BIGINT", lines, 4), none);
    eddy_stream *timers = eddy_keyed_process(eddy_key_by(s, "k"), EDDY_FN(tt_timer_at_plus_1000),
                                             EDDY_FN(tt_on_event_timer),
                                             "k STRING, what STRING, v BIGINT");
    eddy_result *tr = eddy_collect(timers);
    eddy_stream *windows =
        eddy_window_sum(eddy_window(eddy_key_by(s, "k"), eddy_tumbling_event_time_windows(1000, 0)),
                        "n");
    eddy_result *wr = eddy_collect(windows);
    ED_REQUIRE(eddy_execute(env, "max watermark") == 0);
    /* records first (no watermark yet: v = 1), then every timer in timestamp order */
    char *t = result_text(tr, eddy_stream_schema(timers), 0);
    ED_CHECK_STR(t, "+I[a, record, 1]\n+I[b, record, 1]\n+I[a, record, 1]\n+I[a, record, 1]\n"
                    "+I[b, event, 1050]\n+I[a, event, 1100]\n+I[a, event, 1300]\n"
                    "+I[a, event, 2200]");
    free(t);
    char *w = result_text(wr, eddy_stream_schema(windows), 1);
    ED_CHECK_STR(w, "+I[a, 1200, 1]\n+I[a, 300, 2]\n+I[b, 50, 1]");
    free(w);
    for (size_t i = 0; i < eddy_result_count(wr); i++) /* at the window's max timestamp */
        ED_CHECK(eddy_result_timestamp(wr, i) % 1000 == 999);
    eddy_env_free(env);
}

/* A job on a thread of its own, so that the test can move the clock and cancel it. */
typedef struct running {
    eddy_env *env;
    pthread_t th;
    int rc;
    atomic_bool done;
} running;

static void *run_job(void *arg)
{
    running *r = arg;
    r->rc = eddy_execute(r->env, "time test");
    atomic_store(&r->done, true);
    return NULL;
}

static void start_job(running *r, eddy_env *env)
{
    r->env = env;
    r->rc = 0;
    atomic_store(&r->done, false);
    if (pthread_create(&r->th, NULL, run_job, r)) abort();
}

/* Waits at most WAIT_MS for *flag to reach `at_least`. */
static bool wait_for(atomic_long *flag, long at_least)
{
    for (long long end = mono_ms() + WAIT_MS; mono_ms() < end; nap_ms(2))
        if (atomic_load(flag) >= at_least) return true;
    return atomic_load(flag) >= at_least;
}

/* Cancels the job and joins its thread (bounded: a job that ignores the cancel fails the
 * test and is left behind). */
static void stop_job(running *r)
{
    eddy_env_cancel(r->env);
    for (long long end = mono_ms() + WAIT_MS; mono_ms() < end && !atomic_load(&r->done);)
        nap_ms(2);
    if (!atomic_load(&r->done)) {
        ED_FAIL_AT("the job did not stop within %d ms of its cancellation", WAIT_MS);
        return;
    }
    pthread_join(r->th, NULL);
}

/* Task watermark = min over inputs: A (ingestion time on a clock that stands at 1000, so
 * watermark 999) and B (rows at 5000 and 6000, per-record watermarks) are unioned into a
 * probe that reports the task's watermark at each of B's records. B is held back until the
 * probe has seen two records of A (so A's watermark 999, which follows A's first record,
 * has arrived). */
static atomic_long tt_a_seen, tt_b_seen;
static int64_t tt_b_wm[8];

int tt_hold_b(eddy_ctx *ctx, const eddy_row *in)
{
    for (long long end = mono_ms() + WAIT_MS; mono_ms() < end && atomic_load(&tt_a_seen) < 2;)
        nap_ms(1);
    return 1;
}

int tt_probe(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    if (eddy_row_i64(in, 0) == 0) {
        atomic_fetch_add(&tt_a_seen, 1);
        return 0;
    }
    long i = atomic_load(&tt_b_seen);
    if (i < 8) tt_b_wm[i] = eddy_ctx_current_watermark(ctx);
    atomic_store(&tt_b_seen, i + 1);
    return 0;
}

ED_TEST(task_watermark_is_the_minimum_over_inputs)
{
    atomic_store(&tt_a_seen, 0);
    atomic_store(&tt_b_seen, 0);
    eddy_env *env = quiet_env();
    eddy_env_use_manual_clock(env, 1000);
    eddy_stream *a = eddy_source(env, "datagen", "src BIGINT, v BIGINT", "rows-per-second",
                                 "50", "fields.src.min", "0", "fields.src.max", "0", NULL);
    eddy_watermark_strategy ingestion = {.kind = EDDY_WM_INGESTION_TIME, .per_record = true};
    a = eddy_assign_timestamps_and_watermarks(a, ingestion);
    static const char *const lines[] = {"1,5000", "1,6000"};
    eddy_stream *b = eddy_filter(rows_of(env, "src BIGINT, v BIGINT", lines, 2),
                                 EDDY_FN(tt_hold_b));
    eddy_watermark_strategy bounded = eddy_bounded_out_of_orderness(0, "v");
    bounded.per_record = true;
    b = eddy_assign_timestamps_and_watermarks(b, bounded);
    eddy_discard(eddy_process(eddy_union(a, b), EDDY_FN(tt_probe), "src BIGINT, v BIGINT"));
    running r;
    start_job(&r, env);
    bool seen = wait_for(&tt_b_seen, 2);
    stop_job(&r);
    ED_REQUIRE(seen);
    /* B's first record: B has no watermark yet, so the minimum is still the start */
    ED_CHECK_INT(tt_b_wm[0], EDDY_MIN_WATERMARK);
    /* B's second: min(A's 999, B's 4999) */
    ED_CHECK_INT(tt_b_wm[1], 999);
    eddy_env_free(env);
}

/* Idle inputs are excluded: A never has a record (its rows are dropped before its
 * generator, which has an idleness of 1000 ms); B has ingestion-time records. B's
 * records see the start watermark until A has been idle for 1000 ms of the manual clock,
 * then B's own watermark. */
static atomic_long tt_idle_b_seen, tt_idle_seen_wm;
static _Atomic int64_t tt_idle_first_wm, tt_idle_first_at;

int tt_drop(eddy_ctx *ctx, const eddy_row *in) { return 0; }

int tt_idle_probe(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    atomic_fetch_add(&tt_idle_b_seen, 1);
    int64_t wm = eddy_ctx_current_watermark(ctx);
    if (wm != EDDY_MIN_WATERMARK && atomic_load(&tt_idle_seen_wm) == 0) {
        atomic_store(&tt_idle_first_wm, wm);
        atomic_store(&tt_idle_first_at, eddy_ctx_processing_time(ctx));
        atomic_store(&tt_idle_seen_wm, 1);
    }
    return 0;
}

ED_TEST(idle_input_is_left_out_of_the_task_watermark)
{
    atomic_store(&tt_idle_b_seen, 0);
    atomic_store(&tt_idle_seen_wm, 0);
    eddy_env *env = quiet_env();
    eddy_env_use_manual_clock(env, 0);
    eddy_stream *a = eddy_filter(eddy_source(env, "datagen", "v BIGINT", "rows-per-second", "50",
                                             NULL),
                                 EDDY_FN(tt_drop));
    eddy_watermark_strategy idle = eddy_bounded_out_of_orderness(0, "v");
    idle.idleness_ms = 1000;
    a = eddy_assign_timestamps_and_watermarks(a, idle);
    eddy_stream *b = eddy_source(env, "datagen", "v BIGINT", "rows-per-second", "50", NULL);
    eddy_watermark_strategy ingestion = {.kind = EDDY_WM_INGESTION_TIME, .per_record = true};
    b = eddy_assign_timestamps_and_watermarks(b, ingestion);
    eddy_discard(eddy_process(eddy_union(a, b), EDDY_FN(tt_idle_probe), "v BIGINT"));
    running r;
    start_job(&r, env);
    bool started = wait_for(&tt_idle_b_seen, 1);
    /* the clock moves in steps of 100 ms, each given time to reach the tasks */
    int64_t moved = 0;
    for (long long end = mono_ms() + WAIT_MS;
         started && mono_ms() < end && moved < 60000 && !atomic_load(&tt_idle_seen_wm);) {
        eddy_env_advance_clock(env, 100);
        moved += 100;
        nap_ms(10);
    }
    stop_job(&r);
    ED_REQUIRE(started);
    ED_REQUIRE(atomic_load(&tt_idle_seen_wm));
    /* never before A had been quiet for its idleness */
    ED_CHECK(atomic_load(&tt_idle_first_at) >= 1000);
    /* B's watermark: below the clock, at or above the start - 1 */
    ED_CHECK(atomic_load(&tt_idle_first_wm) >= -1);
    ED_CHECK(atomic_load(&tt_idle_first_wm) < atomic_load(&tt_idle_first_at));
    eddy_env_free(env);
}

/* Processing-time timers of a keyed process function fire when the test moves the job's
 * manual clock. */
static atomic_long tt_pt_records, tt_pt_fired;
static _Atomic int64_t tt_pt_registered, tt_pt_fired_ts, tt_pt_fired_now, tt_pt_domain;

int tt_pt_register(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    if (atomic_fetch_add(&tt_pt_records, 1) == 0) {
        int64_t at = eddy_ctx_processing_time(ctx) + 1000;
        atomic_store(&tt_pt_registered, at);
        return eddy_timer_register_processing_time(ctx, at);
    }
    return 0;
}

int tt_pt_on_timer(eddy_ctx *ctx, int64_t timestamp, eddy_collector *out)
{
    atomic_store(&tt_pt_fired_ts, timestamp);
    atomic_store(&tt_pt_fired_now, eddy_ctx_processing_time(ctx));
    atomic_store(&tt_pt_domain, eddy_ctx_time_domain(ctx));
    atomic_fetch_add(&tt_pt_fired, 1);
    return 0;
}

ED_TEST(processing_time_timers_fire_when_the_manual_clock_moves)
{
    atomic_store(&tt_pt_records, 0);
    atomic_store(&tt_pt_fired, 0);
    eddy_env *env = quiet_env();
    eddy_env_use_manual_clock(env, 500);
    eddy_stream *s = eddy_source(env, "datagen", "k BIGINT", "rows-per-second", "50",
                                 "fields.k.min", "1", "fields.k.max", "1", NULL);
    eddy_discard(eddy_keyed_process(eddy_key_by(s, "k"), EDDY_FN(tt_pt_register),
                                    EDDY_FN(tt_pt_on_timer), "k BIGINT"));
    running r;
    start_job(&r, env);
    bool started = wait_for(&tt_pt_records, 1);
    long fired_early = -1, fired = -1;
    if (started) {
        eddy_env_advance_clock(env, 999);
        nap_ms(200); /* bounded: a timer that fires early has had time to */
        fired_early = atomic_load(&tt_pt_fired);
        eddy_env_advance_clock(env, 1);
        wait_for(&tt_pt_fired, 1);
        fired = atomic_load(&tt_pt_fired);
    }
    stop_job(&r);
    ED_REQUIRE(started);
    ED_CHECK_INT(atomic_load(&tt_pt_registered), 1500);
    ED_CHECK_INT(fired_early, 0);
    ED_CHECK_INT(fired, 1);
    ED_CHECK_INT(atomic_load(&tt_pt_fired_ts), 1500);
    ED_CHECK_INT(atomic_load(&tt_pt_fired_now), 1500);
    ED_CHECK_INT(atomic_load(&tt_pt_domain), EDDY_PROCESSING_TIME);
    eddy_env_free(env);
}

/* ---- idleness over clock jumps -------------------------------------------------------------- */

/*
 * Idleness is measured in processing time, not in periodic callbacks: when the clock
 * jumps, one callback stands for the whole jump, and a stream quiet for that long is idle.
 */
ED_TEST(idleness_counts_time_not_callbacks)
{
    eddy_env *env;
    eddy_watermark_strategy ws = eddy_bounded_out_of_orderness(0, "t");
    ws.idleness_ms = 1000;
    ed_harness *h = wm_harness(&env, "k STRING, t BIGINT", ws, 0, NULL);
    ED_REQUIRE(h);
    PUSH(h, "a,1");
    advance(h, 200);
    EXPECT(h, "+I[a, 1] @1\nWM 0");
    advance(h, 200); /* the first check without records */
    advance(h, 5000);
    EXPECT(h, "IDLE");
    done(h, env);
}

/* ---- all inputs idle ------------------------------------------------------------------------ */

static atomic_long ai_a, ai_b, ai_seen, ai_fired;
static _Atomic int64_t ai_last_wm;

/* each source lets exactly one record through */
int ai_one_a(eddy_ctx *ctx, const eddy_row *in) { return atomic_fetch_add(&ai_a, 1) == 0; }
int ai_one_b(eddy_ctx *ctx, const eddy_row *in) { return atomic_fetch_add(&ai_b, 1) == 0; }
int64_t ai_ts_a(eddy_ctx *ctx, const eddy_row *row, int64_t prev) { return 100; }
int64_t ai_ts_b(eddy_ctx *ctx, const eddy_row *row, int64_t prev) { return 50; }
int ai_proc(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    atomic_fetch_add(&ai_seen, 1);
    if (eddy_timer_register_event_time(ctx, 49)) return -1;
    return eddy_timer_register_event_time(ctx, 99);
}
int ai_timer(eddy_ctx *ctx, int64_t t, eddy_collector *out)
{
    atomic_store(&ai_last_wm, eddy_ctx_current_watermark(ctx));
    atomic_fetch_add(&ai_fired, 1);
    return 0;
}
int ai_const_key(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *key)
{
    eddy_rb_set_i64(key, 0, 1);
    return 0;
}

/*
 * Two inputs that both go idle, one at watermark 99 and one at 49: as Flink's valve, the
 * task's watermark moves to the furthest input (99) whichever goes idle first, so both
 * timers fire.
 */
ED_TEST(all_inputs_idle_move_time_to_the_furthest_input)
{
    atomic_store(&ai_a, 0);
    atomic_store(&ai_b, 0);
    atomic_store(&ai_seen, 0);
    atomic_store(&ai_fired, 0);
    eddy_env *env = quiet_env();
    eddy_env_use_manual_clock(env, 0);
    eddy_stream *a = eddy_filter(
        eddy_source(env, "datagen", "v BIGINT", "rows-per-second", "50", NULL), EDDY_FN(ai_one_a));
    eddy_stream *b = eddy_filter(
        eddy_source(env, "datagen", "v BIGINT", "rows-per-second", "50", NULL), EDDY_FN(ai_one_b));
    eddy_watermark_strategy wa = {.kind = EDDY_WM_BOUNDED_OUT_OF_ORDERNESS,
                                  .timestamp_fn = EDDY_FN(ai_ts_a),
                                  .idleness_ms = 1000};
    eddy_watermark_strategy wb = wa;
    wb.timestamp_fn = EDDY_FN(ai_ts_b);
    a = eddy_assign_timestamps_and_watermarks(a, wa);
    b = eddy_assign_timestamps_and_watermarks(b, wb);
    eddy_stream *k = eddy_key_by_fn(eddy_union(a, b), EDDY_FN(ai_const_key), "k BIGINT");
    eddy_discard(eddy_keyed_process(k, EDDY_FN(ai_proc), EDDY_FN(ai_timer), "v BIGINT"));
    running r;
    start_job(&r, env);
    ED_CHECK(wait_for(&ai_seen, 2));
    for (int i = 0; i < 100 && atomic_load(&ai_fired) < 2; i++) {
        eddy_env_advance_clock(env, 100);
        nap_ms(10);
    }
    stop_job(&r);
    ED_CHECK_INT(atomic_load(&ai_fired), 2);
    ED_CHECK_INT(atomic_load(&ai_last_wm), 99);
    eddy_env_free(env);
}
