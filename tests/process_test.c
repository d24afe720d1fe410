/*
 * process_test.c - the ProcessFunction family against Flink's semantics: keyed process
 * functions with state, event- and processing-time timers (deduplicated, in order, a
 * timer at or below the watermark firing at the next one, deletion), side outputs,
 * co-process on non-keyed and keyed connected streams (shared state and timers),
 * broadcast state (per-subtask copies, read-only in process_element, applyToKeyedState),
 * the interval join (bounds, exclusive bounds, late records, cleanup of its buffers) and
 * the builder's errors.
 *
 * Whole jobs run at parallelism 1 and 2 with exact expected output (sorted at 2). Where
 * the interleaving of two inputs or the moment of a watermark matters, the operator runs
 * in the harness (api/harness.h), which drives it by hand; jobs whose two inputs must
 * arrive in a given order hold one source back until the operator has seen the other
 * (a gate function waiting on a counter the operator's functions bump).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "api/harness.h"
#include "ed_test.h"
#include "job_util.h"
#include "runtime/ops_process.h"

/* ---- helpers ------------------------------------------------------------------------------ */

/* A collection source of rows given as CSV lines of `schema`. */
static eddy_stream *csv_source(eddy_env *env, const char *schema, const char *const *lines,
                               size_t n)
{
    char msg[256];
    eddy_schema *s = eddy_schema_parse(schema, msg, sizeof msg);
    if (!s) {
        fprintf(stderr, "  bad schema: %s\n", msg);
        abort();
    }
    eddy_row_builder *b = eddy_rb_new_schema(s);
    const eddy_row **rows = calloc(n + 1, sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        ed_err e = {0};
        if (ed_csv_parse_line(lines[i], strlen(lines[i]), s, ',', b, &e)) {
            fprintf(stderr, "  bad line '%s': %s\n", lines[i], e.msg);
            abort();
        }
        const eddy_row *r = eddy_rb_row(b);
        void *copy = malloc(eddy_row_size(r));
        memcpy(copy, r, eddy_row_size(r));
        rows[i] = copy;
    }
    eddy_stream *st = eddy_from_rows(env, schema, rows, n);
    for (size_t i = 0; i < n; i++)
        free((void *)rows[i]);
    free(rows);
    eddy_rb_free(b);
    eddy_schema_free(s);
    return st;
}

#define CSV_SOURCE(env, schema, lines) csv_source(env, schema, lines, ED_ARRAY_LEN(lines))

/* Event timestamps from field `field`, no watermarks but the final MAX one: every
 * event-time timer fires at the end, after all input. */
static eddy_stream *stamped(eddy_stream *s, const char *field)
{
    eddy_watermark_strategy w = {.kind = EDDY_WM_NONE, .timestamp_field = field};
    return eddy_assign_timestamps_and_watermarks(s, w);
}

/* The rows of r as Row.toString lines with " @ts" when they carry a timestamp. */
static char *text_of(const eddy_result *r, const eddy_schema *s, int sorted)
{
    size_t n = eddy_result_count(r);
    char **lines = calloc(n + 1, sizeof(char *));
    ed_strbuf sb;
    ed_sb_init(&sb);
    for (size_t i = 0; i < n; i++) {
        ed_sb_reset(&sb);
        ed_row_format_flink(s, eddy_result_row(r, i), &sb);
        int64_t ts = eddy_result_timestamp(r, i);
        if (ts != EDDY_NO_TIMESTAMP) ed_sb_printf(&sb, " @%lld", (long long)ts);
        lines[i] = strdup(sb.data);
    }
    if (sorted) qsort(lines, n, sizeof(char *), ed_cmp_str);
    ed_sb_reset(&sb);
    for (size_t i = 0; i < n; i++) {
        if (i) ed_sb_putc(&sb, '\n');
        ed_sb_puts(&sb, lines[i]);
        free(lines[i]);
    }
    free(lines);
    if (!sb.data) ed_sb_puts(&sb, "");
    return ed_sb_steal(&sb);
}

/* Runs the job; the collected rows of each result as text (sorted at p > 1). */
typedef struct collected {
    eddy_result *r;
    const eddy_schema *s;
} collected;

static collected collect(eddy_stream *s)
{
    return (collected){eddy_collect(s), eddy_stream_schema(s)};
}

static int execute(eddy_env *env)
{
    if (eddy_execute(env, "process test")) {
        fprintf(stderr, "  job failed: %s\n", eddy_env_error(env));
        return -1;
    }
    return 0;
}

static void check_text(collected c, int sorted, const char *want, int line)
{
    char *got = c.r ? text_of(c.r, c.s, sorted) : strdup("<no result>");
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "  %s:%d: got:\n%s\n  expected:\n%s\n", __FILE__, line, got, want);
        ed_test_failed_now = 1;
    }
    free(got);
}
#define CHECK_TEXT(c, sorted, want) check_text(c, sorted, want, __LINE__)

static eddy_env *env_p(int p)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, p);
    return env;
}

static int emit_str_i64(eddy_collector *out, eddy_str a, const char *b, int64_t v)
{
    eddy_row_builder *rb = eddy_out_builder(out);
    eddy_rb_set_str(rb, 0, a.ptr, a.len);
    eddy_rb_set_cstr(rb, 1, b);
    eddy_rb_set_i64(rb, 2, v);
    return eddy_emit(out, eddy_rb_row(rb));
}

/* The first field of the current key, a STRING. */
static eddy_str key_str(eddy_ctx *ctx)
{
    const eddy_row *k = eddy_ctx_current_key(ctx);
    return k ? eddy_row_str(k, 0) : (eddy_str){"?", 1};
}

static bool str_is(eddy_str s, const char *c)
{
    return s.len == strlen(c) && !memcmp(s.ptr, c, s.len);
}

/* ---- keyed process: the START/END durations pattern ------------------------------------ */

#define TIMEOUT_MS (4LL * 60 * 60 * 1000)

static const eddy_state_desc started_desc = {
    .name = "started", .kind = EDDY_STATE_VALUE, .schema = "ts BIGINT"};

/* (id, ts, kind): START remembers ts and sets a timer 4 h later; END before it emits the
 * duration and deletes the timer; the timer emits TIMEOUT. */
int durations_process(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *st = eddy_keyed_state(ctx, &started_desc);
    if (!st) return -1;
    int64_t ts = eddy_ctx_timestamp(ctx);
    if (str_is(eddy_row_str(in, 2), "START")) {
        eddy_row_builder *b = eddy_rb_new(1);
        eddy_rb_reset(b);
        eddy_rb_set_i64(b, 0, ts);
        int rc = eddy_value_update(st, eddy_rb_row(b));
        eddy_rb_free(b);
        if (rc) return -1;
        return eddy_timer_register_event_time(ctx, ts + TIMEOUT_MS);
    }
    const eddy_row *start = eddy_value_get(st);
    if (!start) return 0;
    int64_t begun = eddy_row_i64(start, 0);
    if (eddy_timer_delete_event_time(ctx, begun + TIMEOUT_MS)) return -1;
    eddy_state_clear(st);
    return emit_str_i64(out, key_str(ctx), "END", ts - begun);
}

int durations_timeout(eddy_ctx *ctx, int64_t timestamp, eddy_collector *out)
{
    eddy_state *st = eddy_keyed_state(ctx, &started_desc);
    if (!st) return -1;
    eddy_state_clear(st);
    if (eddy_ctx_time_domain(ctx) != EDDY_EVENT_TIME || eddy_ctx_timestamp(ctx) != timestamp)
        return eddy_fail(ctx, "bad timer context");
    return emit_str_i64(out, key_str(ctx), "TIMEOUT", timestamp);
}

static void check_durations(int p)
{
    static const char *const events[] = {
        "a,0,START",       "b,1000,START",   "a,3600000,END",
        "c,7200000,START", "c,20000000,END", /* watermark 19999999: fires b's timer at 14401000 */
        "b,15000000,END",                    /* after b's timeout: nothing */
        "d,1000,START", /* its timer is below the watermark: fires at the next (MAX) */
    };
    eddy_env *env = env_p(p);
    eddy_stream *s = CSV_SOURCE(env, "id STRING, ts BIGINT, kind STRING", events);
    eddy_watermark_strategy w = eddy_bounded_out_of_orderness(0, "ts");
    w.per_record = true;
    s = eddy_assign_timestamps_and_watermarks(s, w);
    s = eddy_keyed_process(eddy_key_by(s, "id"), EDDY_FN(durations_process),
                           EDDY_FN(durations_timeout), "id STRING, outcome STRING, ms BIGINT");
    collected c = collect(s);
    if (execute(env) == 0)
        CHECK_TEXT(c, p > 1,
                   p > 1 ? "+I[a, END, 3600000] @3600000\n"
                           "+I[b, TIMEOUT, 14401000] @14401000\n"
                           "+I[c, END, 12800000] @20000000\n"
                           "+I[d, TIMEOUT, 14401000] @14401000"
                         : "+I[a, END, 3600000] @3600000\n"
                           "+I[c, END, 12800000] @20000000\n"
                           "+I[b, TIMEOUT, 14401000] @14401000\n"
                           "+I[d, TIMEOUT, 14401000] @14401000");
    else
        ED_FAIL_AT("job failed");
    eddy_env_free(env);
}

ED_TEST(keyed_process_durations_p1)
{
    check_durations(1);
}
ED_TEST(keyed_process_durations_p2)
{
    check_durations(2);
}

/* ---- keyed process in the harness: timer order, dedup, deletion, processing time -------- */

/* (k, t, op): "reg"/"del" an event-time timer at t, "preg"/"pdel" a processing-time timer
 * at now + t. */
int timers_process(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_str op = eddy_row_str(in, 2);
    int64_t t = eddy_row_i64(in, 1);
    if (str_is(op, "reg")) return eddy_timer_register_event_time(ctx, t);
    if (str_is(op, "del")) return eddy_timer_delete_event_time(ctx, t);
    int64_t now = eddy_ctx_processing_time(ctx);
    if (str_is(op, "preg")) return eddy_timer_register_processing_time(ctx, now + t);
    if (str_is(op, "pdel")) return eddy_timer_delete_processing_time(ctx, now + t);
    return eddy_fail(ctx, "bad op");
}

/* Emits (key, time, domain) with the context's timestamp, which is the timer's time in
 * both domains (Flink's OnTimerContext.timestamp()). */
int timers_on_timer(eddy_ctx *ctx, int64_t t, eddy_collector *out)
{
    bool et = eddy_ctx_time_domain(ctx) == EDDY_EVENT_TIME;
    if (eddy_ctx_timestamp(ctx) != t) return eddy_fail(ctx, "timestamp() is not the timer's time");
    return emit_str_i64(out, key_str(ctx), et ? "event" : "processing", t);
}

static ed_harness *timers_harness(eddy_env *env)
{
    eddy_env_use_manual_clock(env, 1000);
    eddy_stream *s = csv_source(env, "k STRING, t BIGINT, op STRING", NULL, 0);
    s = eddy_keyed_process(eddy_key_by(s, "k"), EDDY_FN(timers_process), EDDY_FN(timers_on_timer),
                           "k STRING, domain STRING, t BIGINT");
    eddy_discard(s);
    ed_err err = {0};
    ed_harness *h = ed_harness_new(env, s, &err);
    if (!h) fprintf(stderr, "  harness: %s\n", err.msg);
    return h;
}

ED_TEST(event_timers_fire_once_in_order)
{
    eddy_env *env = eddy_env_new();
    ed_harness *h = timers_harness(env);
    ED_REQUIRE(h);
    static const char *const regs[] = {"a,30,reg", "a,10,reg", "a,20,reg", "a,10,reg",
                                       "b,20,reg", "b,10,reg", "b,20,reg"};
    for (size_t i = 0; i < ED_ARRAY_LEN(regs); i++)
        ED_CHECK_INT(ed_harness_push_csv(h, 0, regs[i], 5), 0);
    ED_CHECK_STR(ed_harness_text(h), "");
    ED_CHECK_INT(ed_harness_watermark(h, 25), 0);
    /* equal times fire in the order they were registered; duplicates once */
    ED_CHECK_STR(ed_harness_text(h), "+I[a, event, 10] @10\n+I[b, event, 10] @10\n"
                                     "+I[a, event, 20] @20\n+I[b, event, 20] @20\nWM 25");
    ed_harness_clear(h);
    /* a timer at or below the watermark fires at the next watermark, not at once */
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "b,25,reg", 26), 0);
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "b,3,reg", 26), 0);
    ED_CHECK_STR(ed_harness_text(h), "");
    ED_CHECK_INT(ed_harness_watermark(h, 26), 0);
    ED_CHECK_STR(ed_harness_text(h), "+I[b, event, 3] @3\n+I[b, event, 25] @25\nWM 26");
    ed_harness_clear(h);
    /* deletion: b's 40 never fires, a's 30 (registered before) does */
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "b,40,reg", 27), 0);
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "b,40,del", 27), 0);
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "a,40,del", 27), 0); /* none: a no-op */
    ED_CHECK_INT(ed_harness_watermark(h, 100), 0);
    ED_CHECK_STR(ed_harness_text(h), "+I[a, event, 30] @30\nWM 100");
    ED_CHECK_INT((int)ed_timers_count(ed_harness_operator(h)->keyed->timers, EDDY_EVENT_TIME), 0);
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(processing_time_timers_with_manual_clock)
{
    eddy_env *env = eddy_env_new();
    ed_harness *h = timers_harness(env); /* the clock starts at 1000 */
    ED_REQUIRE(h);
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "a,100,preg", 5), 0); /* at 1100 */
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "a,100,preg", 5), 0); /* the same: once */
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "b,50,preg", 5), 0);  /* at 1050 */
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "c,70,preg", 5), 0);
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "c,70,pdel", 5), 0); /* deleted */
    ED_CHECK_INT(ed_harness_watermark(h, 2000), 0); /* event time moves no processing timer */
    ED_CHECK_STR(ed_harness_text(h), "WM 2000");
    ed_harness_clear(h);
    ED_CHECK_INT(ed_harness_advance_clock(h, 49), 0);
    ED_CHECK_STR(ed_harness_text(h), "");
    ED_CHECK_INT(ed_harness_advance_clock(h, 1), 0);
    /* a processing-time timer's output carries no timestamp (Flink erases it) */
    ED_CHECK_STR(ed_harness_text(h), "+I[b, processing, 1050]");
    ed_harness_clear(h);
    ED_CHECK_INT(ed_harness_advance_clock(h, 100), 0);
    ED_CHECK_STR(ed_harness_text(h), "+I[a, processing, 1100]");
    ed_harness_free(h);
    eddy_env_free(env);
}

/* The same in a running job: the test's thread moves the job's manual clock
 * (eddy_env_advance_clock) once the timer is set; the second source waits until it
 * fired, so the output order is fixed. */
static _Atomic int pt_registered, pt_fired;

int pt_process(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    if (str_is(eddy_row_str(in, 2), "preg")) {
        int64_t at = eddy_ctx_processing_time(ctx) + eddy_row_i64(in, 1);
        if (eddy_timer_register_processing_time(ctx, at)) return -1;
        atomic_store(&pt_registered, 1);
    }
    return emit_str_i64(out, key_str(ctx), "record", eddy_ctx_processing_time(ctx));
}

int pt_on_timer(eddy_ctx *ctx, int64_t t, eddy_collector *out)
{
    int rc = timers_on_timer(ctx, t, out);
    atomic_store(&pt_fired, 1);
    return rc;
}

int gate_on_fired(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    for (int i = 0; i < 10000 && !atomic_load(&pt_fired); i++)
        usleep(1000);
    if (!atomic_load(&pt_fired)) return eddy_fail(ctx, "gate: the timer never fired");
    return eddy_rb_copy(out, in);
}

static void *clock_mover(void *arg)
{
    for (int i = 0; i < 10000 && !atomic_load(&pt_registered); i++)
        usleep(1000);
    eddy_env_advance_clock(arg, 100);
    return NULL;
}

static void check_processing_time_job(int p)
{
    static const char *const first[] = {"a,100,preg"}, *const second[] = {"b,0,none"};
    atomic_store(&pt_registered, 0);
    atomic_store(&pt_fired, 0);
    eddy_env *env = env_p(p);
    eddy_env_use_manual_clock(env, 1000);
    const char *schema = "k STRING, t BIGINT, op STRING";
    eddy_stream *a = CSV_SOURCE(env, schema, first);
    eddy_stream *b = eddy_map(CSV_SOURCE(env, schema, second), EDDY_FN(gate_on_fired), schema);
    eddy_stream *s = eddy_keyed_process(eddy_key_by(eddy_union(a, b), "k"), EDDY_FN(pt_process),
                                        EDDY_FN(pt_on_timer), "k STRING, what STRING, t BIGINT");
    collected c = collect(s);
    pthread_t th;
    ED_REQUIRE(pthread_create(&th, NULL, clock_mover, env) == 0);
    int rc = execute(env);
    pthread_join(th, NULL);
    ED_REQUIRE(rc == 0);
    CHECK_TEXT(c, p > 1,
               p > 1 ? "+I[a, processing, 1100]\n+I[a, record, 1000]\n+I[b, record, 1100]"
                     : "+I[a, record, 1000]\n+I[a, processing, 1100]\n+I[b, record, 1100]");
    eddy_env_free(env);
}

ED_TEST(processing_time_timers_in_a_job_p1)
{
    check_processing_time_job(1);
}
ED_TEST(processing_time_timers_in_a_job_p2)
{
    check_processing_time_job(2);
}

/* ---- side outputs ---------------------------------------------------------------------- */

/* (k, v, ts): every row to the main output, v >= 10 also to "big"; a timer at ts + 1 to
 * "timers". */
int split_process(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_str(b, 0, eddy_row_str(in, 0).ptr, eddy_row_str(in, 0).len);
    eddy_rb_set_i64(b, 1, eddy_row_i64(in, 1));
    const eddy_row *r = eddy_rb_row(b);
    if (eddy_emit(out, r)) return -1;
    if (eddy_row_i64(in, 1) >= 10 && eddy_emit_side(out, "big", r)) return -1;
    return eddy_timer_register_event_time(ctx, eddy_ctx_timestamp(ctx) + 1);
}

int split_on_timer(eddy_ctx *ctx, int64_t t, eddy_collector *out)
{
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_str k = key_str(ctx);
    eddy_rb_set_str(b, 0, k.ptr, k.len);
    eddy_rb_set_i64(b, 1, t);
    return eddy_emit_side(out, "timers", eddy_rb_row(b));
}

static void check_side_outputs(int p)
{
    static const char *const rows[] = {"a,1,5", "a,12,5", "b,20,7", "b,3,9"};
    eddy_env *env = env_p(p);
    eddy_stream *s = stamped(CSV_SOURCE(env, "k STRING, v BIGINT, ts BIGINT", rows), "ts");
    s = eddy_keyed_process(eddy_key_by(s, "k"), EDDY_FN(split_process), EDDY_FN(split_on_timer),
                           "k STRING, v BIGINT");
    collected main = collect(s);
    collected big = collect(eddy_side_output(s, "big", "k STRING, v BIGINT"));
    collected timers = collect(eddy_side_output(s, "timers", "k STRING, t BIGINT"));
    ED_REQUIRE(execute(env) == 0);
    CHECK_TEXT(main, p > 1,
               p > 1 ? "+I[a, 12] @5\n+I[a, 1] @5\n+I[b, 20] @7\n+I[b, 3] @9"
                     : "+I[a, 1] @5\n+I[a, 12] @5\n+I[b, 20] @7\n+I[b, 3] @9");
    CHECK_TEXT(big, 1, "+I[a, 12] @5\n+I[b, 20] @7");
    /* a's two timers at 6 are one */
    CHECK_TEXT(timers, 1, "+I[a, 6] @6\n+I[b, 10] @10\n+I[b, 8] @8");
    eddy_env_free(env);
}

ED_TEST(side_outputs_from_process_and_on_timer_p1)
{
    check_side_outputs(1);
}
ED_TEST(side_outputs_from_process_and_on_timer_p2)
{
    check_side_outputs(2);
}

/* ---- co-process -------------------------------------------------------------------------- */

static int emit_tagged(eddy_collector *out, const char *tag, const char *s, uint32_t len)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%s:%.*s", tag, (int)len, s);
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_str(b, 0, buf, (uint32_t)n);
    return eddy_emit(out, eddy_rb_row(b));
}

int co_words(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_str w = eddy_row_str(in, 0);
    return emit_tagged(out, "1", w.ptr, w.len);
}

int co_numbers(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    char n[24];
    int len = snprintf(n, sizeof n, "%lld", (long long)eddy_row_i64(in, 0));
    return emit_tagged(out, "2", n, (uint32_t)len);
}

static void check_co_process(int p)
{
    static const char *const words[] = {"x", "y"};
    eddy_env *env = env_p(p);
    eddy_stream *a = eddy_rebalance(CSV_SOURCE(env, "w STRING", words));
    eddy_stream *b = eddy_rebalance(numbers(env, 3));
    eddy_connected *c = eddy_connect(a, b);
    eddy_stream *s =
        eddy_co_process(c, EDDY_FN(co_words), EDDY_FN(co_numbers), EDDY_FN_NONE, "s STRING");
    collected r = collect(s);
    ED_REQUIRE(execute(env) == 0);
    CHECK_TEXT(r, 1, "+I[1:x]\n+I[1:y]\n+I[2:1]\n+I[2:2]\n+I[2:3]");
    eddy_env_free(env);
}

ED_TEST(co_process_non_keyed_p1)
{
    check_co_process(1);
}
ED_TEST(co_process_non_keyed_p2)
{
    check_co_process(2);
}

int co_timer_attempt(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    return eddy_timer_register_event_time(ctx, 5);
}

int co_state_attempt(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    return eddy_keyed_state(ctx, &started_desc) ? 0 : -1;
}

ED_TEST(co_process_non_keyed_has_no_timers_or_keyed_state)
{
    for (int k = 0; k < 2; k++) {
        eddy_env *env = eddy_env_new();
        eddy_connected *c = eddy_connect(numbers(env, 2), numbers(env, 2));
        eddy_fn f = k == 0 ? EDDY_FN(co_timer_attempt) : EDDY_FN(co_state_attempt);
        eddy_discard(eddy_co_process(c, f, f, EDDY_FN_NONE, "s STRING"));
        ED_CHECK_INT(eddy_execute(env, "t"), -1);
        ED_CHECK_CONTAINS(eddy_env_error(env), "Co-Process");
        ED_CHECK_CONTAINS(eddy_env_error(env), "keyed stream");
        eddy_env_free(env);
    }
}

/* Keyed co-process: a control stream (key, on) enables keys; data (name, v, ts) adds v to
 * the key's sum and sets a timer at 100 (one per key); at the timer an enabled key emits
 * its sum. The timers fire after all input, so the result does not depend on how the two
 * inputs interleave. */
static const eddy_state_desc enabled_desc = {
    .name = "enabled", .kind = EDDY_STATE_VALUE, .schema = "on BOOLEAN"};
static const eddy_state_desc sum_desc = {
    .name = "sum", .kind = EDDY_STATE_VALUE, .schema = "v BIGINT"};

int control_process(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *st = eddy_keyed_state(ctx, &enabled_desc);
    if (!st) return -1;
    eddy_row_builder *b = eddy_rb_new(1);
    eddy_rb_reset(b);
    eddy_rb_set_bool(b, 0, eddy_row_bool(in, 1));
    int rc = eddy_value_update(st, eddy_rb_row(b));
    eddy_rb_free(b);
    return rc;
}

int data_process(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *st = eddy_keyed_state(ctx, &sum_desc);
    if (!st) return -1;
    const eddy_row *cur = eddy_value_get(st);
    eddy_row_builder *b = eddy_rb_new(1);
    eddy_rb_reset(b);
    eddy_rb_set_i64(b, 0, (cur ? eddy_row_i64(cur, 0) : 0) + eddy_row_i64(in, 1));
    int rc = eddy_value_update(st, eddy_rb_row(b));
    eddy_rb_free(b);
    return rc ? rc : eddy_timer_register_event_time(ctx, 100);
}

int control_on_timer(eddy_ctx *ctx, int64_t t, eddy_collector *out)
{
    eddy_state *en = eddy_keyed_state(ctx, &enabled_desc), *sum = eddy_keyed_state(ctx, &sum_desc);
    if (!en || !sum) return -1;
    const eddy_row *on = eddy_value_get(en), *v = eddy_value_get(sum);
    if (!on || !eddy_row_bool(on, 0) || !v) return 0;
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_str k = key_str(ctx);
    eddy_rb_set_str(b, 0, k.ptr, k.len);
    eddy_rb_set_i64(b, 1, eddy_row_i64(v, 0));
    return eddy_emit(out, eddy_rb_row(b));
}

static void check_keyed_co_process(int p)
{
    static const char *const control[] = {"a,true", "b,false", "c,true"};
    static const char *const data[] = {"a,1,1", "a,2,2", "b,5,1", "c,7,3", "d,9,1"};
    eddy_env *env = env_p(p);
    eddy_stream *ctl = eddy_key_by(CSV_SOURCE(env, "key STRING, on BOOLEAN", control), "key");
    eddy_stream *dat = stamped(CSV_SOURCE(env, "name STRING, v BIGINT, ts BIGINT", data), "ts");
    dat = eddy_key_by(dat, "name"); /* another field name, the same key type */
    eddy_stream *s =
        eddy_co_process(eddy_connect(ctl, dat), EDDY_FN(control_process), EDDY_FN(data_process),
                        EDDY_FN(control_on_timer), "k STRING, sum BIGINT");
    collected r = collect(s);
    ED_REQUIRE(execute(env) == 0);
    CHECK_TEXT(r, 1, "+I[a, 3] @100\n+I[c, 7] @100");
    eddy_env_free(env);
}

ED_TEST(keyed_co_process_shares_state_and_timers_p1)
{
    check_keyed_co_process(1);
}
ED_TEST(keyed_co_process_shares_state_and_timers_p2)
{
    check_keyed_co_process(2);
}

/* The operator's watermark is the minimum over its two inputs (harness per-input
 * watermarks, as Flink's processWatermark1/2): data's timer at 100 waits for both. */
ED_TEST(keyed_co_process_watermark_is_the_minimum_of_its_inputs)
{
    eddy_env *env = eddy_env_new();
    eddy_env_use_manual_clock(env, 0);
    eddy_stream *ctl = eddy_key_by(csv_source(env, "key STRING, on BOOLEAN", NULL, 0), "key");
    eddy_stream *dat =
        eddy_key_by(csv_source(env, "name STRING, v BIGINT, ts BIGINT", NULL, 0), "name");
    eddy_stream *s =
        eddy_co_process(eddy_connect(ctl, dat), EDDY_FN(control_process), EDDY_FN(data_process),
                        EDDY_FN(control_on_timer), "k STRING, sum BIGINT");
    eddy_discard(s);
    ed_err err = {0};
    ed_harness *h = ed_harness_new(env, s, &err);
    ED_REQUIRE(h);
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "a,true", 1), 0);
    ED_CHECK_INT(ed_harness_push_csv(h, 1, "a,4,2", 2), 0);
    ED_CHECK_INT(ed_harness_input_watermark(h, 1, 500), 0);
    ED_CHECK_STR(ed_harness_text(h), ""); /* input 0 still at the minimum */
    ED_CHECK_INT(ed_harness_input_watermark(h, 0, 99), 0);
    ED_CHECK_STR(ed_harness_text(h), "WM 99");
    ed_harness_clear(h);
    ED_CHECK_INT(ed_harness_input_watermark(h, 0, 700), 0);
    ED_CHECK_STR(ed_harness_text(h), "+I[a, 4] @100\nWM 500");
    ed_harness_free(h);
    eddy_env_free(env);
}

/* ---- builder errors ------------------------------------------------------------------------ */

int noop_process(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    return 0;
}
int noop_join(eddy_ctx *ctx, const eddy_row *l, const eddy_row *r, eddy_collector *out)
{
    return 0;
}
int noop_timer(eddy_ctx *ctx, int64_t t, eddy_collector *out)
{
    return 0;
}

static void expect_build_error(eddy_env *env, const void *handle, const char *msg, int line)
{
    if (handle) {
        fprintf(stderr, "  %s:%d: the call succeeded\n", __FILE__, line);
        ed_test_failed_now = 1;
    }
    const char *e = eddy_env_error(env);
    if (!e || !strstr(e, msg)) {
        fprintf(stderr, "  %s:%d: error \"%s\" lacks \"%s\"\n", __FILE__, line, e ? e : "(none)",
                msg);
        ed_test_failed_now = 1;
    }
    eddy_env_free(env);
}
#define EXPECT_BUILD_ERROR(env, handle, msg) expect_build_error(env, handle, msg, __LINE__)

static eddy_stream *kv(eddy_env *env)
{
    return csv_source(env, "k STRING, n BIGINT, ts BIGINT", NULL, 0);
}

ED_TEST(builder_errors)
{
    eddy_env *env = eddy_env_new();
    EXPECT_BUILD_ERROR(env, eddy_connect(eddy_key_by(kv(env), "k"), eddy_key_by(kv(env), "n")),
                       "eddy_connect: the key types of the two inputs differ: (STRING) and "
                       "(BIGINT)");
    env = eddy_env_new();
    EXPECT_BUILD_ERROR(env, eddy_connect(eddy_key_by(kv(env), "k"), kv(env)),
                       "eddy_connect: the first stream is keyed and the second is not");
    env = eddy_env_new();
    EXPECT_BUILD_ERROR(env,
                       eddy_interval_join(eddy_key_by(kv(env), "k, n"), eddy_key_by(kv(env), "k"),
                                          0, 1, false, false, EDDY_FN(noop_join), "s STRING"),
                       "eddy_interval_join: the key types of the two inputs differ: (STRING, "
                       "BIGINT) and (STRING)");
    env = eddy_env_new();
    EXPECT_BUILD_ERROR(env,
                       eddy_interval_join(eddy_key_by(kv(env), "k"), eddy_key_by(kv(env), "k"), 5,
                                          3, false, false, EDDY_FN(noop_join), "s STRING"),
                       "eddy_interval_join: lower bound 5 > upper bound 3");
    env = eddy_env_new();
    EXPECT_BUILD_ERROR(env,
                       eddy_interval_join(kv(env), eddy_key_by(kv(env), "k"), 0, 3, false, false,
                                          EDDY_FN(noop_join), "s STRING"),
                       "eddy_interval_join needs a keyed stream");
    env = eddy_env_new();
    EXPECT_BUILD_ERROR(env, eddy_keyed_process(kv(env), EDDY_FN(noop_process), EDDY_FN_NONE, NULL),
                       "eddy_keyed_process needs a keyed stream");
    env = eddy_env_new();
    EXPECT_BUILD_ERROR(env,
                       eddy_co_process(eddy_connect(kv(env), kv(env)), EDDY_FN(noop_process),
                                       EDDY_FN(noop_process), EDDY_FN(noop_timer), "s STRING"),
                       "eddy_co_process: on_timer needs keyed inputs");
    env = eddy_env_new();
    eddy_state_desc value = {.name = "v", .kind = EDDY_STATE_VALUE, .schema = "n BIGINT"};
    EXPECT_BUILD_ERROR(env, eddy_broadcast_state(kv(env), &value, 1),
                       "eddy_broadcast_state: 'v' is not a MAP state");
    env = eddy_env_new();
    eddy_state_desc nokey = {.name = "m", .kind = EDDY_STATE_MAP, .schema = "n BIGINT"};
    EXPECT_BUILD_ERROR(env, eddy_broadcast_state(kv(env), &nokey, 1),
                       "eddy_broadcast_state: 'm' has no key_schema");
    env = eddy_env_new();
    eddy_state_desc m = {
        .name = "m", .kind = EDDY_STATE_MAP, .schema = "n BIGINT", .key_schema = "k STRING"};
    EXPECT_BUILD_ERROR(env,
                       eddy_broadcast_process(kv(env), eddy_broadcast_state(kv(env), &m, 1),
                                              EDDY_FN(noop_process), EDDY_FN(noop_process),
                                              EDDY_FN(noop_timer), "s STRING"),
                       "eddy_broadcast_process: on_timer needs a keyed input");

    /* key selectors: their key schemas' types are compared */
    env = eddy_env_new();
    eddy_stream *a = eddy_key_by_fn(kv(env), EDDY_FN(noop_process), "x BIGINT");
    eddy_stream *b = eddy_key_by(kv(env), "n");
    ED_CHECK(eddy_connect(a, b) != NULL);
    ED_CHECK(eddy_env_error(env) == NULL);
    eddy_env_free(env);
}

/* ---- broadcast state ------------------------------------------------------------------------ */

static _Atomic int rules_seen, elements_seen;
static int gate_rules_wanted, gate_elements_wanted;

static const eddy_state_desc rules_desc = {
    .name = "rules", .kind = EDDY_STATE_MAP, .schema = "lim BIGINT", .key_schema = "name STRING"};

/* Waits until *counter reaches want (another operator's progress); 10 s at most. */
static int wait_for(eddy_ctx *ctx, _Atomic int *counter, int want)
{
    for (int i = 0; i < 10000 && atomic_load(counter) < want; i++)
        usleep(1000);
    return atomic_load(counter) >= want ? 0 : eddy_fail(ctx, "gate: timed out");
}

/* Identity maps that hold their stream back until the broadcast rules (resp. the
 * elements) have been processed. */
int gate_on_rules(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    if (wait_for(ctx, &rules_seen, gate_rules_wanted)) return -1;
    return eddy_rb_copy(out, in);
}

int gate_on_elements(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    if (wait_for(ctx, &elements_seen, gate_elements_wanted)) return -1;
    return eddy_rb_copy(out, in);
}

/* (name, lim): stored in the subtask's copy of the broadcast map. */
int rules_broadcast(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *rules = eddy_broadcast_state_get(ctx, "rules");
    if (!rules) return eddy_fail(ctx, "no broadcast state 'rules'");
    eddy_row_builder *k = eddy_rb_new(1), *v = eddy_rb_new(1);
    eddy_rb_reset(k);
    eddy_rb_set_str(k, 0, eddy_row_str(in, 0).ptr, eddy_row_str(in, 0).len);
    eddy_rb_reset(v);
    eddy_rb_set_i64(v, 0, eddy_row_i64(in, 1));
    int rc = eddy_map_put(rules, eddy_rb_row(k), eddy_rb_row(v));
    eddy_rb_free(k);
    eddy_rb_free(v);
    atomic_fetch_add(&rules_seen, 1);
    return rc;
}

/* (v): one row (v, rule) per rule whose limit v exceeds. */
int rules_element(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *rules = eddy_broadcast_state_get(ctx, "rules");
    if (!rules || eddy_broadcast_state_get(ctx, "nothing")) return eddy_fail(ctx, "lookup");
    int64_t v = eddy_row_i64(in, 0);
    eddy_map_iter it;
    const eddy_row *k, *lim;
    eddy_map_iter_start(rules, &it);
    while (eddy_map_next(&it, &k, &lim)) {
        if (v <= eddy_row_i64(lim, 0)) continue;
        eddy_row_builder *b = eddy_out_builder(out);
        eddy_rb_set_i64(b, 0, v);
        eddy_rb_set_str(b, 1, eddy_row_str(k, 0).ptr, eddy_row_str(k, 0).len);
        if (eddy_emit(out, eddy_rb_row(b))) return -1;
    }
    return 0;
}

static void check_broadcast(int p)
{
    static const char *const rules[] = {"small,5", "big,100"};
    static const char *const values[] = {"3", "50", "200"};
    atomic_store(&rules_seen, 0);
    gate_rules_wanted = 2 * p; /* every subtask has both rules */
    eddy_env *env = env_p(p);
    eddy_broadcast_stream *b =
        eddy_broadcast_state(CSV_SOURCE(env, "name STRING, lim BIGINT", rules), &rules_desc, 1);
    eddy_stream *main =
        eddy_map(CSV_SOURCE(env, "v BIGINT", values), EDDY_FN(gate_on_rules), "v BIGINT");
    eddy_stream *s =
        eddy_broadcast_process(eddy_rebalance(main), b, EDDY_FN(rules_element),
                               EDDY_FN(rules_broadcast), EDDY_FN_NONE, "v BIGINT, rule STRING");
    collected r = collect(s);
    ED_REQUIRE(execute(env) == 0);
    CHECK_TEXT(r, 1, "+I[200, big]\n+I[200, small]\n+I[50, small]");
    ED_CHECK_INT(atomic_load(&rules_seen), 2 * p);
    eddy_env_free(env);
}

ED_TEST(broadcast_process_p1)
{
    check_broadcast(1);
}
ED_TEST(broadcast_process_p2)
{
    check_broadcast(2);
}

/* Keyed: (user, amount) adds to the user's total; a total over the broadcast rule "max"
 * emits "over". The broadcast row "report" emits every user's total through
 * eddy_apply_to_keyed_state. */
static const eddy_state_desc total_desc = {
    .name = "total", .kind = EDDY_STATE_VALUE, .schema = "v BIGINT"};

static int emit_total(eddy_collector *out, eddy_str user, int64_t total, const char *what)
{
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_str(b, 0, user.ptr, user.len);
    eddy_rb_set_i64(b, 1, total);
    eddy_rb_set_cstr(b, 2, what);
    return eddy_emit(out, eddy_rb_row(b));
}

int totals_element(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *st = eddy_keyed_state(ctx, &total_desc);
    eddy_state *rules = eddy_broadcast_state_get(ctx, "rules");
    if (!st || !rules) return -1;
    const eddy_row *cur = eddy_value_get(st);
    int64_t total = (cur ? eddy_row_i64(cur, 0) : 0) + eddy_row_i64(in, 1);
    eddy_row_builder *b = eddy_rb_new(1);
    eddy_rb_reset(b);
    eddy_rb_set_i64(b, 0, total);
    int rc = eddy_value_update(st, eddy_rb_row(b));
    eddy_rb_reset(b);
    eddy_rb_set_cstr(b, 0, "max");
    const eddy_row *lim = eddy_map_get(rules, eddy_rb_row(b));
    bool over = lim && total > eddy_row_i64(lim, 0);
    eddy_rb_free(b);
    atomic_fetch_add(&elements_seen, 1);
    if (rc) return rc;
    return over ? emit_total(out, eddy_row_str(in, 0), total, "over") : 0;
}

int report_one(eddy_ctx *ctx, eddy_state *state, void *arg)
{
    const eddy_row *v = eddy_value_get(state);
    return v ? emit_total(arg, key_str(ctx), eddy_row_i64(v, 0), "report") : -1;
}

int totals_broadcast(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    if (str_is(eddy_row_str(in, 0), "report"))
        return eddy_apply_to_keyed_state(ctx, &total_desc, report_one, out);
    return rules_broadcast(ctx, in, out);
}

static void check_keyed_broadcast(int p)
{
    static const char *const rules[] = {"max,12"};
    static const char *const report[] = {"report,0"};
    static const char *const spend[] = {"ann,5", "bob,7", "ann,10", "cat,1"};
    atomic_store(&rules_seen, 0);
    atomic_store(&elements_seen, 0);
    gate_rules_wanted = p;
    gate_elements_wanted = 4;
    eddy_env *env = env_p(p);
    eddy_stream *rs = CSV_SOURCE(env, "name STRING, lim BIGINT", rules);
    eddy_stream *rep = eddy_map(CSV_SOURCE(env, "name STRING, lim BIGINT", report),
                                EDDY_FN(gate_on_elements), "name STRING, lim BIGINT");
    eddy_broadcast_stream *b = eddy_broadcast_state(eddy_union(rs, rep), &rules_desc, 1);
    eddy_stream *main = eddy_map(CSV_SOURCE(env, "user STRING, amount BIGINT", spend),
                                 EDDY_FN(gate_on_rules), "user STRING, amount BIGINT");
    eddy_stream *s = eddy_broadcast_process(eddy_key_by(main, "user"), b, EDDY_FN(totals_element),
                                            EDDY_FN(totals_broadcast), EDDY_FN_NONE,
                                            "user STRING, total BIGINT, what STRING");
    collected r = collect(s);
    ED_REQUIRE(execute(env) == 0);
    CHECK_TEXT(r, 1,
               "+I[ann, 15, over]\n+I[ann, 15, report]\n+I[bob, 7, report]\n+I[cat, 1, report]");
    eddy_env_free(env);
}

ED_TEST(keyed_broadcast_apply_to_keyed_state_p1)
{
    check_keyed_broadcast(1);
}
ED_TEST(keyed_broadcast_apply_to_keyed_state_p2)
{
    check_keyed_broadcast(2);
}

/* process_element writes broadcast state: the write fails, and so does the job. */
int rules_element_writes(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *rules = eddy_broadcast_state_get(ctx, "rules");
    eddy_row_builder *k = eddy_rb_new(1), *v = eddy_rb_new(1);
    eddy_rb_reset(k);
    eddy_rb_set_cstr(k, 0, "sneaky");
    eddy_rb_reset(v);
    eddy_rb_set_i64(v, 0, 1);
    int rc = eddy_map_put(rules, eddy_rb_row(k), eddy_rb_row(v));
    eddy_rb_free(k);
    eddy_rb_free(v);
    return rc;
}

int apply_in_element(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    return eddy_apply_to_keyed_state(ctx, &total_desc, report_one, out);
}

ED_TEST(broadcast_state_is_read_only_in_process_element)
{
    eddy_env *env = eddy_env_new();
    eddy_env_use_manual_clock(env, 0);
    eddy_broadcast_stream *b =
        eddy_broadcast_state(csv_source(env, "name STRING, lim BIGINT", NULL, 0), &rules_desc, 1);
    eddy_stream *main = csv_source(env, "v BIGINT", NULL, 0);
    eddy_stream *s =
        eddy_broadcast_process(main, b, EDDY_FN(rules_element_writes), EDDY_FN(rules_broadcast),
                               EDDY_FN_NONE, "v BIGINT, rule STRING");
    eddy_discard(s);
    ed_err err = {0};
    ed_harness *h = ed_harness_new(env, s, &err);
    ED_REQUIRE(h);
    ED_CHECK_INT(ed_harness_push_csv(h, 1, "small,5", 1), 0); /* process_broadcast may write */
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "7", 2), -1);
    ED_CHECK_CONTAINS(ed_harness_error(h), "process_element function 'rules_element_writes'");
    ED_CHECK_CONTAINS(ed_harness_error(h), "read-only");
    ed_harness_free(h);
    eddy_env_free(env);

    /* apply_to_keyed_state belongs to process_broadcast */
    env = eddy_env_new();
    eddy_env_use_manual_clock(env, 0);
    b = eddy_broadcast_state(csv_source(env, "name STRING, lim BIGINT", NULL, 0), &rules_desc, 1);
    main = eddy_key_by(csv_source(env, "user STRING, amount BIGINT", NULL, 0), "user");
    s = eddy_broadcast_process(main, b, EDDY_FN(apply_in_element), EDDY_FN(rules_broadcast),
                               EDDY_FN_NONE, "user STRING, total BIGINT, what STRING");
    eddy_discard(s);
    h = ed_harness_new(env, s, &err);
    ED_REQUIRE(h);
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "ann,1", 2), -1);
    ED_CHECK_CONTAINS(ed_harness_error(h), "only in process_broadcast");
    ed_harness_free(h);
    eddy_env_free(env);
}

/* ---- interval join ----------------------------------------------------------------------------
 */

/* (k, l, r, ts): the pair and the result's timestamp. */
int join_pair(eddy_ctx *ctx, const eddy_row *l, const eddy_row *r, eddy_collector *out)
{
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_str(b, 0, eddy_row_str(l, 0).ptr, eddy_row_str(l, 0).len);
    eddy_rb_set_str(b, 1, eddy_row_str(l, 2).ptr, eddy_row_str(l, 2).len);
    eddy_rb_set_str(b, 2, eddy_row_str(r, 2).ptr, eddy_row_str(r, 2).len);
    eddy_rb_set_i64(b, 3, eddy_ctx_timestamp(ctx));
    return eddy_emit(out, eddy_rb_row(b));
}

#define JOIN_IN "k STRING, ts BIGINT, v STRING"
#define JOIN_OUT "k STRING, l STRING, r STRING, ts BIGINT"

static void check_interval_join(int p, bool lower_excl, bool upper_excl, const char *want)
{
    static const char *const left[] = {"a,10,L10", "a,20,L20", "b,10,Lb10"};
    static const char *const right[] = {"a,8,R8",   "a,11,R11",  "a,12,R12", "a,19,R19",
                                        "a,21,R21", "b,12,Rb12", "c,10,Rc10"};
    eddy_env *env = env_p(p);
    eddy_stream *l = eddy_key_by(stamped(CSV_SOURCE(env, JOIN_IN, left), "ts"), "k");
    eddy_stream *r = eddy_key_by(stamped(CSV_SOURCE(env, JOIN_IN, right), "ts"), "k");
    eddy_stream *s =
        eddy_interval_join(l, r, -2, 1, lower_excl, upper_excl, EDDY_FN(join_pair), JOIN_OUT);
    collected c = collect(s);
    ED_REQUIRE(execute(env) == 0);
    CHECK_TEXT(c, 1, want);
    eddy_env_free(env);
}

ED_TEST(interval_join_bounds)
{
    for (int p = 1; p <= 2; p++) {
        /* [t - 2, t + 1] */
        check_interval_join(p, false, false,
                            "+I[a, L10, R11, 11] @11\n+I[a, L10, R8, 10] @10\n"
                            "+I[a, L20, R19, 20] @20\n+I[a, L20, R21, 21] @21");
        /* (t - 2, t + 1): [t - 1, t] */
        check_interval_join(p, true, true, "+I[a, L20, R19, 20] @20");
        /* (t - 2, t + 1] */
        check_interval_join(p, true, false,
                            "+I[a, L10, R11, 11] @11\n+I[a, L20, R19, 20] @20\n"
                            "+I[a, L20, R21, 21] @21");
    }
}

/* The number of (key, namespace) entries of one of the join's buffer states. */
static size_t join_entries(ed_harness *h, const char *name, const char *schema)
{
    bool times = strstr(name, "TIMES") != NULL;
    eddy_state_desc d = {.name = name,
                         .kind = times ? EDDY_STATE_MAP : EDDY_STATE_LIST,
                         .schema = times ? "n BIGINT" : schema,
                         .key_schema = times ? "ts BIGINT" : NULL};
    ed_err err = {0};
    eddy_state *s = ed_state_get(ed_harness_operator(h)->keyed->backend, &d, &err);
    if (!s) {
        fprintf(stderr, "  %s: %s\n", name, err.msg);
        return (size_t)-1;
    }
    return ed_state_entries(s);
}

ED_TEST(interval_join_cleans_up_and_drops_late_records)
{
    eddy_env *env = eddy_env_new();
    eddy_env_use_manual_clock(env, 0);
    eddy_stream *l = eddy_key_by(csv_source(env, JOIN_IN, NULL, 0), "k");
    eddy_stream *r = eddy_key_by(csv_source(env, JOIN_IN, NULL, 0), "k");
    eddy_stream *s = eddy_interval_join(l, r, -2, 1, false, false, EDDY_FN(join_pair), JOIN_OUT);
    eddy_discard(s);
    const char *schema = eddy_schema_text(eddy_stream_schema(l));
    ed_err err = {0};
    ed_harness *h = ed_harness_new(env, s, &err);
    ED_REQUIRE(h);
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "a,10,L10", 10), 0);
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "a,10,L10b", 10), 0);
    ED_CHECK_INT(ed_harness_push_csv(h, 1, "a,11,R11", 11), 0);
    ED_CHECK_INT(ed_harness_push_csv(h, 1, "b,11,Rb11", 11), 0);
    /* rows of one timestamp join in arrival order */
    ED_CHECK_STR(ed_harness_text(h), "+I[a, L10, R11, 11] @11\n+I[a, L10b, R11, 11] @11");
    ed_harness_clear(h);
    ED_CHECK_INT(join_entries(h, ED_IJ_LEFT_BUFFER, schema), 1);
    ED_CHECK_INT(join_entries(h, ED_IJ_LEFT_TIMES, schema), 1);
    ED_CHECK_INT(join_entries(h, ED_IJ_RIGHT_BUFFER, schema), 2);
    ED_CHECK_INT(join_entries(h, ED_IJ_RIGHT_TIMES, schema), 2);

    /* left 10 can join right rows up to 11: gone at watermark 11; right 11 waits until 13 */
    ED_CHECK_INT(ed_harness_watermark(h, 11), 0);
    ED_CHECK_INT(join_entries(h, ED_IJ_LEFT_BUFFER, schema), 0);
    ED_CHECK_INT(join_entries(h, ED_IJ_LEFT_TIMES, schema), 0);
    ED_CHECK_INT(join_entries(h, ED_IJ_RIGHT_BUFFER, schema), 2);
    /* late (10 < 11): dropped, though right 11 would match */
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "a,10,late", 10), 0);
    ED_CHECK_INT(join_entries(h, ED_IJ_LEFT_BUFFER, schema), 0);
    /* on time: 12 joins right 11 (11 in [10, 13]) */
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "a,12,L12", 12), 0);
    ED_CHECK_STR(ed_harness_text(h), "WM 11\n+I[a, L12, R11, 12] @12");
    ed_harness_clear(h);
    ED_CHECK_INT(ed_harness_watermark(h, 12), 0);
    ED_CHECK_INT(join_entries(h, ED_IJ_LEFT_BUFFER, schema), 1); /* left 12 until 13 */
    ED_CHECK_INT(join_entries(h, ED_IJ_RIGHT_BUFFER, schema), 2);
    ED_CHECK_INT(ed_harness_watermark(h, 13), 0);
    ED_CHECK_INT(join_entries(h, ED_IJ_RIGHT_BUFFER, schema), 0);
    ED_CHECK_INT(join_entries(h, ED_IJ_RIGHT_TIMES, schema), 0);
    ED_CHECK_INT(join_entries(h, ED_IJ_LEFT_BUFFER, schema), 0);
    ED_CHECK_INT(join_entries(h, ED_IJ_LEFT_TIMES, schema), 0);
    ED_CHECK_INT((int)ed_timers_count(ed_harness_operator(h)->keyed->timers, EDDY_EVENT_TIME), 0);

    /* a record without a timestamp cannot be joined */
    ED_CHECK_INT(ed_harness_push_csv(h, 1, "a,1,x", EDDY_NO_TIMESTAMP), -1);
    ED_CHECK_CONTAINS(ed_harness_error(h), "record of the right input has no timestamp");
    ed_harness_free(h);
    eddy_env_free(env);
}

/* Negative bounds: the right side is cleaned up at t - lower, the left at t (Flink). */
ED_TEST(interval_join_negative_bounds_cleanup)
{
    eddy_env *env = eddy_env_new();
    eddy_env_use_manual_clock(env, 0);
    eddy_stream *l = eddy_key_by(csv_source(env, JOIN_IN, NULL, 0), "k");
    eddy_stream *r = eddy_key_by(csv_source(env, JOIN_IN, NULL, 0), "k");
    eddy_stream *s = eddy_interval_join(l, r, -5, -3, false, false, EDDY_FN(join_pair), JOIN_OUT);
    eddy_discard(s);
    const char *schema = eddy_schema_text(eddy_stream_schema(l));
    ed_err err = {0};
    ed_harness *h = ed_harness_new(env, s, &err);
    ED_REQUIRE(h);
    ED_CHECK_INT(ed_harness_push_csv(h, 1, "a,6,R6", 6), 0);    /* joins left in [9, 11] */
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "a,10,L10", 10), 0); /* joins right in [5, 7] */
    ED_CHECK_INT(ed_harness_push_csv(h, 0, "a,12,L12", 12), 0); /* [7, 9]: nothing */
    ED_CHECK_STR(ed_harness_text(h), "+I[a, L10, R6, 10] @10");
    ED_CHECK_INT(ed_harness_watermark(h, 10), 0);
    ED_CHECK_INT(join_entries(h, ED_IJ_LEFT_BUFFER, schema), 1);  /* left 12 until 12 */
    ED_CHECK_INT(join_entries(h, ED_IJ_RIGHT_BUFFER, schema), 1); /* right 6 until 11 */
    ED_CHECK_INT(ed_harness_watermark(h, 11), 0);
    ED_CHECK_INT(join_entries(h, ED_IJ_RIGHT_BUFFER, schema), 0);
    ED_CHECK_INT(ed_harness_watermark(h, 12), 0);
    ED_CHECK_INT(join_entries(h, ED_IJ_LEFT_BUFFER, schema), 0);
    ed_harness_free(h);
    eddy_env_free(env);
}

/* ---- keyed state by descriptor: one declaration checked once, another name another state -- */

int memo_zero_key(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, 0);
    eddy_rb_set_i64(out, 1, eddy_row_i64(in, 0));
    return 0;
}

/* counts records in state "s0" or "s1" by the parity of n, through one descriptor on the
 * stack whose name buffer is rewritten every call */
int memo_two_names(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    char name[8];
    snprintf(name, sizeof name, "s%lld", (long long)(eddy_row_i64(in, 1) % 2));
    eddy_state_desc d = {.name = name, .kind = EDDY_STATE_VALUE, .schema = "n BIGINT"};
    eddy_state *st = eddy_keyed_state(ctx, &d);
    if (!st) return -1;
    const eddy_row *cur = eddy_value_get(st);
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_i64(b, 0, (cur ? eddy_row_i64(cur, 0) : 0) + 1);
    if (eddy_value_update(st, eddy_rb_row(b))) return -1;
    return eddy_emit(out, eddy_rb_row(b));
}

ED_TEST(a_descriptor_rebuilt_with_another_name_is_another_state)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set(env, "log.level", "OFF");
    eddy_stream *kv = eddy_map(numbers(env, 6), EDDY_FN(memo_zero_key), "k BIGINT, n BIGINT");
    eddy_stream *c = eddy_keyed_process(eddy_key_by(kv, "k"), EDDY_FN(memo_two_names),
                                        EDDY_FN_NONE, "c BIGINT");
    eddy_result *r = eddy_collect(c);
    ED_REQUIRE(eddy_execute(env, "memo") == 0);
    char *got = result_text(r, eddy_stream_schema(c), 0);
    ED_CHECK_STR(got, "+I[1]\n+I[1]\n+I[2]\n+I[2]\n+I[3]\n+I[3]"); /* s1, s0, s1, s0, ... */
    free(got);
    eddy_env_free(env);
}
