/*
 * window_test.c - windows against Flink's semantics: every assigner (tumbling and sliding
 * with offsets and negative timestamps, sessions that merge - also when a new element
 * bridges two sessions -, dynamic gaps, global and count windows), every trigger (event
 * time, processing time on the manual clock, count, purging, continuous event and
 * processing time, delta, custom with state and timers, merging of trigger state),
 * every evictor before and after the function, the window functions (reduce, aggregate,
 * process, the combined ones, sum/min/max/min_by/max_by, per-window and global state),
 * allowed lateness with late firings, the late side output, window_all, the window join
 * and co-group, and the builder's errors.
 *
 * Where the moment of a watermark or of the clock matters the window operator runs in
 * the harness (api/harness.h); whole jobs run at parallelism 1 and 2 with exact output
 * (sorted at 2), timestamps from a field and the final MAX watermark firing everything.
 */
#include "api/harness.h"
#include "ed_test.h"
#include "job_util.h"

#define IN "k STRING, v BIGINT, t BIGINT"
#define SUMMARY "k STRING, ws BIGINT, we BIGINT, n BIGINT, vals STRING"

/* ---- user functions --------------------------------------------------------------------------- */

/* (k, v, t) + (k, v', t') -> (k, v + v', t) */
int wt_sum_v(eddy_ctx *ctx, const eddy_row *acc, const eddy_row *in, eddy_row_builder *out)
{
    eddy_rb_set_field(out, 0, acc, 0);
    eddy_rb_set_i64(out, 1, eddy_row_i64(acc, 1) + eddy_row_i64(in, 1));
    eddy_rb_set_i64(out, 2, eddy_row_i64(acc, 2));
    return 0;
}

/* One row per window: key, window, element count and the values in order. */
int wt_summary(eddy_ctx *ctx, const eddy_window_elements *e, eddy_collector *out)
{
    char vals[512];
    size_t len = 0;
    vals[0] = 0;
    for (size_t i = 0; i < eddy_window_count(e); i++)
        len += (size_t)snprintf(vals + len, sizeof vals - len, "%s%lld", i ? " " : "",
                                (long long)eddy_row_i64(eddy_window_row(e, i), 1));
    const eddy_row *key = eddy_ctx_current_key(ctx);
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_field(b, 0, key, 0);
    eddy_rb_set_i64(b, 1, eddy_ctx_window_start(ctx));
    eddy_rb_set_i64(b, 2, eddy_ctx_window_end(ctx));
    eddy_rb_set_i64(b, 3, (int64_t)eddy_window_count(e));
    eddy_rb_set_cstr(b, 4, vals);
    return eddy_emit(out, eddy_rb_row(b));
}

/* Elements' timestamps instead of values. */
int wt_stamps(eddy_ctx *ctx, const eddy_window_elements *e, eddy_collector *out)
{
    char vals[512];
    size_t len = 0;
    vals[0] = 0;
    for (size_t i = 0; i < eddy_window_count(e); i++)
        len += (size_t)snprintf(vals + len, sizeof vals - len, "%s%lld", i ? " " : "",
                                (long long)eddy_window_timestamp(e, i));
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_field(b, 0, eddy_ctx_current_key(ctx), 0);
    eddy_rb_set_i64(b, 1, eddy_ctx_window_start(ctx));
    eddy_rb_set_i64(b, 2, eddy_ctx_window_end(ctx));
    eddy_rb_set_i64(b, 3, (int64_t)eddy_window_count(e));
    eddy_rb_set_cstr(b, 4, vals);
    return eddy_emit(out, eddy_rb_row(b));
}

int wt_identity(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    return eddy_rb_copy(out, in);
}

int64_t wt_gap_from_v(eddy_ctx *ctx, const eddy_row *row) { return eddy_row_i64(row, 1); }

/* An average: acc (sum, count) -> (k, avg) */
int wt_avg_create(eddy_ctx *ctx, eddy_row_builder *acc)
{
    eddy_rb_set_i64(acc, 0, 0);
    eddy_rb_set_i64(acc, 1, 0);
    return 0;
}
int wt_avg_add(eddy_ctx *ctx, const eddy_row *in, const eddy_row *acc, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(acc, 0) + eddy_row_i64(in, 1));
    eddy_rb_set_i64(out, 1, eddy_row_i64(acc, 1) + 1);
    return 0;
}
int wt_avg_result(eddy_ctx *ctx, const eddy_row *acc, eddy_row_builder *out)
{
    int64_t n = eddy_row_i64(acc, 1);
    eddy_rb_set_f64(out, 0, n ? (double)eddy_row_i64(acc, 0) / (double)n : 0.0);
    return 0;
}
int wt_avg_merge(eddy_ctx *ctx, const eddy_row *a, const eddy_row *b, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(a, 0) + eddy_row_i64(b, 0));
    eddy_rb_set_i64(out, 1, eddy_row_i64(a, 1) + eddy_row_i64(b, 1));
    return 0;
}

static eddy_aggregate avg_agg(void)
{
    return (eddy_aggregate){.acc_schema = "s BIGINT, c BIGINT",
                            .out_schema = "avg DOUBLE",
                            .create = EDDY_FN(wt_avg_create),
                            .add = EDDY_FN(wt_avg_add),
                            .result = EDDY_FN(wt_avg_result),
                            .merge = EDDY_FN(wt_avg_merge)};
}

/* Over the single pre-aggregated row: key, window and the aggregate's first field. */
int wt_label_avg(eddy_ctx *ctx, const eddy_window_elements *e, eddy_collector *out)
{
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_field(b, 0, eddy_ctx_current_key(ctx), 0);
    eddy_rb_set_i64(b, 1, eddy_ctx_window_start(ctx));
    eddy_rb_set_i64(b, 2, (int64_t)eddy_window_count(e));
    eddy_rb_set_f64(b, 3, eddy_row_f64(eddy_window_row(e, 0), 0));
    return eddy_emit(out, eddy_rb_row(b));
}
int wt_label_sum(eddy_ctx *ctx, const eddy_window_elements *e, eddy_collector *out)
{
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_field(b, 0, eddy_ctx_current_key(ctx), 0);
    eddy_rb_set_i64(b, 1, eddy_ctx_window_start(ctx));
    eddy_rb_set_i64(b, 2, (int64_t)eddy_window_count(e));
    eddy_rb_set_f64(b, 3, (double)eddy_row_i64(eddy_window_row(e, 0), 1));
    return eddy_emit(out, eddy_rb_row(b));
}

/* Counts its firings per window (window state) and per key (global state). */
int wt_firings(eddy_ctx *ctx, const eddy_window_elements *e, eddy_collector *out)
{
    static const eddy_state_desc wd = {.name = "fired", .kind = EDDY_STATE_VALUE,
                                       .schema = "n BIGINT"};
    static const eddy_state_desc gd = {.name = "fired-all", .kind = EDDY_STATE_VALUE,
                                       .schema = "n BIGINT"};
    int64_t counts[2];
    for (int i = 0; i < 2; i++) {
        eddy_state *s = i ? eddy_ctx_global_state(ctx, &gd) : eddy_ctx_window_state(ctx, &wd);
        if (!s) return -1;
        const eddy_row *r = eddy_value_get(s);
        counts[i] = (r ? eddy_row_i64(r, 0) : 0) + 1;
        eddy_row_builder *nb = eddy_rb_new(1);
        eddy_rb_reset(nb);
        eddy_rb_set_i64(nb, 0, counts[i]);
        int rc = eddy_value_update(s, eddy_rb_row(nb));
        eddy_rb_free(nb);
        if (rc) return -1;
    }
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_field(b, 0, eddy_ctx_current_key(ctx), 0);
    eddy_rb_set_i64(b, 1, eddy_ctx_window_start(ctx));
    eddy_rb_set_i64(b, 2, (int64_t)eddy_window_count(e));
    eddy_rb_set_i64(b, 3, counts[0]);
    eddy_rb_set_i64(b, 4, counts[1]);
    return eddy_emit(out, eddy_rb_row(b));
}

double wt_delta_v(const eddy_row *older, const eddy_row *newer)
{
    return (double)(eddy_row_i64(newer, 1) - eddy_row_i64(older, 1));
}

/* Custom trigger: fires every second element, fires and purges at the window's end. */
static const eddy_state_desc wt_tcount = {.name = "seen", .kind = EDDY_STATE_VALUE,
                                          .schema = "n BIGINT"};
int wt_trig_element(eddy_trigger_ctx *t, const eddy_row *row, int64_t ts)
{
    eddy_state *s = eddy_trigger_state(t, &wt_tcount);
    if (!s) return -1;
    const eddy_row *r = eddy_value_get(s);
    int64_t n = (r ? eddy_row_i64(r, 0) : 0) + 1;
    eddy_row_builder *b = eddy_rb_new(1);
    eddy_rb_reset(b);
    eddy_rb_set_i64(b, 0, n);
    int rc = eddy_value_update(s, eddy_rb_row(b));
    eddy_rb_free(b);
    if (rc || eddy_trigger_register_event_time(t, eddy_trigger_window_max_timestamp(t))) return -1;
    return n % 2 == 0 ? EDDY_TRIGGER_FIRE : EDDY_TRIGGER_CONTINUE;
}
int wt_trig_event(eddy_trigger_ctx *t, int64_t time)
{
    return time == eddy_trigger_window_max_timestamp(t) ? EDDY_TRIGGER_FIRE_AND_PURGE
                                                        : EDDY_TRIGGER_CONTINUE;
}
void wt_trig_clear(eddy_trigger_ctx *t)
{
    eddy_trigger_delete_event_time(t, eddy_trigger_window_max_timestamp(t));
}

/* Custom evictors: before drops odd values, after keeps only the last element. */
int wt_evict_odd(eddy_ctx *ctx, eddy_evictor_elements *e, int64_t start, int64_t end)
{
    for (size_t i = 0; i < eddy_evictor_size(e); i++)
        if (eddy_row_i64(eddy_evictor_row(e, i), 1) % 2) eddy_evictor_evict(e, i);
    return 0;
}
int wt_evict_all_but_last(eddy_ctx *ctx, eddy_evictor_elements *e, int64_t start, int64_t end)
{
    for (size_t i = 0; i + 1 < eddy_evictor_size(e); i++) eddy_evictor_evict(e, i);
    return 0;
}

/* Join and co-group. left (lk, lv, t), right (rk, rv DOUBLE, t) */
int wt_join(eddy_ctx *ctx, const eddy_row *l, const eddy_row *r, eddy_collector *out)
{
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_field(b, 0, l, 0);
    eddy_rb_set_i64(b, 1, eddy_row_i64(l, 1));
    eddy_rb_set_f64(b, 2, eddy_row_f64(r, 1));
    return eddy_emit(out, eddy_rb_row(b));
}
int wt_co_group(eddy_ctx *ctx, const eddy_window_elements *l, const eddy_window_elements *r,
                eddy_collector *out)
{
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_field(b, 0, eddy_ctx_current_key(ctx), 0);
    eddy_rb_set_i64(b, 1, eddy_ctx_window_start(ctx));
    eddy_rb_set_i64(b, 2, (int64_t)eddy_window_count(l));
    eddy_rb_set_i64(b, 3, (int64_t)eddy_window_count(r));
    return eddy_emit(out, eddy_rb_row(b));
}

/* ---- helpers ------------------------------------------------------------------------------ */

static eddy_stream *csv_source(eddy_env *env, const char *schema, const char *const *lines,
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
        void *copy = malloc(eddy_row_size(r));
        memcpy(copy, r, eddy_row_size(r));
        rows[i] = copy;
    }
    eddy_stream *st = eddy_from_rows(env, schema, rows, n);
    for (size_t i = 0; i < n; i++) free((void *)rows[i]);
    free(rows);
    eddy_rb_free(b);
    eddy_schema_free(s);
    return st;
}
#define CSV_SOURCE(env, schema, lines) csv_source(env, schema, lines, ED_ARRAY_LEN(lines))

/* Timestamps from `field` and only the final MAX watermark. */
static eddy_stream *stamped(eddy_stream *s, const char *field)
{
    eddy_watermark_strategy w = {.kind = EDDY_WM_NONE, .timestamp_field = field};
    return eddy_assign_timestamps_and_watermarks(s, w);
}

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

/* Runs the job and returns the collected rows of s as text (sorted when p > 1). */
static char *run(eddy_env *env, eddy_stream *s)
{
    eddy_result *r = eddy_collect(s);
    const eddy_schema *sc = eddy_stream_schema(s);
    if (!r || eddy_execute(env, "window test")) {
        fprintf(stderr, "  job failed: %s\n", eddy_env_error(env));
        return strdup("<failed>");
    }
    return text_of(r, sc, eddy_env_parallelism(env) > 1);
}

static eddy_env *env_p(int p)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, p);
    eddy_env_set(env, "log.level", "WARN");
    return env;
}

/* A harness around the window operator that produced `out` (its graph gets a sink). */
static ed_harness *harness(eddy_env *env, eddy_stream *out)
{
    if (!eddy_collect(out)) {
        fprintf(stderr, "  build failed: %s\n", eddy_env_error(env));
        return NULL;
    }
    ed_err e = {0};
    ed_harness *h = ed_harness_new(env, out, &e);
    if (!h) fprintf(stderr, "  harness: %s\n", e.msg);
    return h;
}

/* The same with a collected side output `tag` (after the main output, so that the harness
 * reads the main output first). */
static ed_harness *harness_side(eddy_env *env, eddy_stream *out, const char *tag)
{
    eddy_collect(out);
    eddy_collect(eddy_side_output(out, tag, IN));
    ed_err e = {0};
    ed_harness *h = ed_harness_new(env, out, &e);
    if (!h) fprintf(stderr, "  harness: %s\n", e.msg);
    return h;
}

/* Sorts the lines of s in place order (a new string; s is freed). */
static char *sort_lines(char *s)
{
    char *lines[64];
    int n = 0;
    for (char *l = strtok(s, "\n"); l && n < 64; l = strtok(NULL, "\n")) lines[n++] = l;
    qsort(lines, (size_t)n, sizeof(char *), ed_cmp_str);
    ed_strbuf sb;
    ed_sb_init(&sb);
    ed_sb_puts(&sb, "");
    for (int i = 0; i < n; i++) ed_sb_printf(&sb, "%s%s", i ? "\n" : "", lines[i]);
    free(s);
    return ed_sb_steal(&sb);
}

/* An environment on the manual clock and the keyed input of the operator under test. */
static eddy_stream *keyed_input(eddy_env **env)
{
    *env = eddy_env_new();
    eddy_env_use_manual_clock(*env, 0);
    return eddy_key_by(eddy_from_rows(*env, IN, NULL, 0), "k");
}

static int push(ed_harness *h, const char *k, int64_t v, int64_t ts)
{
    char line[128];
    snprintf(line, sizeof line, "%s,%lld,%lld", k, (long long)v, (long long)ts);
    int rc = ed_harness_push_csv(h, 0, line, ts);
    if (rc) fprintf(stderr, "  push: %s\n", ed_harness_error(h));
    return rc;
}

static const char *take(ed_harness *h)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s", ed_harness_text(h));
    ed_harness_clear(h);
    return buf;
}

/* ---- assigners ------------------------------------------------------------------------------ */

static const char *const words[] = {"a,1,1", "a,2,5", "b,3,9", "a,4,10", "b,5,19", "a,6,25"};

static void check_tumbling_job(int p)
{
    eddy_env *env = env_p(p);
    eddy_stream *k = eddy_key_by(stamped(CSV_SOURCE(env, IN, words), "t"), "k");
    eddy_stream *out = eddy_window_reduce(eddy_window(k, eddy_tumbling_event_time_windows(10, 0)),
                                          EDDY_FN(wt_sum_v));
    char *got = run(env, out);
    const char *want = p == 1 ? "+I[a, 3, 1] @9\n+I[b, 3, 9] @9\n+I[a, 4, 10] @19\n"
                                "+I[b, 5, 19] @19\n+I[a, 6, 25] @29"
                              : "+I[a, 3, 1] @9\n+I[a, 4, 10] @19\n+I[a, 6, 25] @29\n"
                                "+I[b, 3, 9] @9\n+I[b, 5, 19] @19";
    ED_CHECK_STR(got, want);
    free(got);
    eddy_env_free(env);
}
ED_TEST(tumbling_event_time_reduce_p1) { check_tumbling_job(1); }
ED_TEST(tumbling_event_time_reduce_p2) { check_tumbling_job(2); }

ED_TEST(tumbling_fires_when_the_watermark_passes_the_max_timestamp)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_stream *out = eddy_window_reduce(eddy_window(k, eddy_tumbling_event_time_windows(10, 0)),
                                          EDDY_FN(wt_sum_v));
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    push(h, "a", 1, 1);
    push(h, "a", 2, 5);
    push(h, "b", 3, 9);
    push(h, "a", 4, 10);
    ED_CHECK_INT(ed_harness_watermark(h, 8), 0);
    ED_CHECK_STR(take(h), "WM 8");
    ED_CHECK_INT(ed_harness_watermark(h, 9), 0);
    ED_CHECK_STR(take(h), "+I[a, 3, 1] @9\n+I[b, 3, 9] @9\nWM 9");
    ED_CHECK_INT(ed_harness_watermark(h, 30), 0);
    ED_CHECK_STR(take(h), "+I[a, 4, 10] @19\nWM 30");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(tumbling_offset_and_negative_timestamps)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_stream *out = eddy_window_process(
        eddy_window(k, eddy_tumbling_event_time_windows(10, 3)), EDDY_FN(wt_summary), SUMMARY);
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    int64_t ts[] = {-8, -7, -1, 2, 3, 12};
    for (size_t i = 0; i < ED_ARRAY_LEN(ts); i++) push(h, "a", ts[i], ts[i]);
    ED_CHECK_INT(ed_harness_watermark(h, EDDY_MAX_WATERMARK), 0);
    ED_CHECK_STR(take(h), "+I[a, -17, -7, 1, -8] @-8\n+I[a, -7, 3, 3, -7 -1 2] @2\n"
                          "+I[a, 3, 13, 2, 3 12] @12\nWM MAX");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(sliding_windows_with_offset)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_stream *out = eddy_window_process(
        eddy_window(k, eddy_sliding_event_time_windows(10, 5, 2)), EDDY_FN(wt_summary), SUMMARY);
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    push(h, "a", 1, 1);
    push(h, "a", 7, 7);
    push(h, "a", 4, 4);
    ED_CHECK_INT(ed_harness_watermark(h, EDDY_MAX_WATERMARK), 0);
    ED_CHECK_STR(take(h), "+I[a, -8, 2, 1, 1] @1\n+I[a, -3, 7, 2, 1 4] @6\n"
                          "+I[a, 2, 12, 2, 7 4] @11\n+I[a, 7, 17, 1, 7] @16\nWM MAX");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(sliding_windows_negative_timestamps)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_stream *out = eddy_window_process(
        eddy_window(k, eddy_sliding_event_time_windows(6, 4, 0)), EDDY_FN(wt_summary), SUMMARY);
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    push(h, "a", -3, -3); /* windows [-4, 2) and [-8, -2) */
    ED_CHECK_INT(ed_harness_watermark(h, EDDY_MAX_WATERMARK), 0);
    ED_CHECK_STR(take(h), "+I[a, -8, -2, 1, -3] @-3\n+I[a, -4, 2, 1, -3] @1\nWM MAX");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(session_windows_merge_and_a_new_element_bridges_two)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_stream *out = eddy_window_process(eddy_window(k, eddy_event_time_session_windows(10)),
                                           EDDY_FN(wt_summary), SUMMARY);
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    push(h, "a", 1, 1);   /* [1, 11) */
    push(h, "a", 2, 15);  /* [15, 25): apart */
    push(h, "b", 9, 3);   /* b's own [3, 13) */
    push(h, "a", 5, 4);   /* [4, 14) merges into [1, 14) */
    ED_CHECK_INT(ed_harness_watermark(h, 5), 0);
    ED_CHECK_STR(take(h), "WM 5");
    push(h, "a", 3, 12); /* [12, 22) bridges [1, 14) and [15, 25) */
    ED_CHECK_INT(ed_harness_watermark(h, 30), 0);
    ED_CHECK_STR(take(h), "+I[b, 3, 13, 1, 9] @12\n+I[a, 1, 25, 4, 1 5 2 3] @24\nWM 30");
    /* everything was cleaned up: a new element starts a new session */
    push(h, "a", 7, 40);
    ED_CHECK_INT(ed_harness_watermark(h, 60), 0);
    ED_CHECK_STR(take(h), "+I[a, 40, 50, 1, 7] @49\nWM 60");
    ed_harness_free(h);
    eddy_env_free(env);
}

/* an aggregate that tries to keep keyed state of its own */
int wt_stateful_add(eddy_ctx *ctx, const eddy_row *in, const eddy_row *acc, eddy_row_builder *out)
{
    static const eddy_state_desc d = {.name = "seen", .kind = EDDY_STATE_VALUE, .schema = "n BIGINT"};
    if (!eddy_keyed_state(ctx, &d)) return -1;
    return wt_avg_add(ctx, in, acc, out);
}

ED_TEST(window_aggregate_functions_cannot_use_keyed_state)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_aggregate a = avg_agg();
    a.add = EDDY_FN(wt_stateful_add);
    ed_harness *h = harness(env, eddy_window_aggregate(eddy_window(k, eddy_event_time_session_windows(10)), a));
    ED_REQUIRE(h);
    ED_CHECK(ed_harness_push_csv(h, 0, "a,1,1", 1) != 0);
    ED_CHECK_CONTAINS(ed_harness_error(h), "keyed state 'seen': a window's reduce or aggregate "
                                           "function cannot use keyed state");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(session_windows_merge_accumulators)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_stream *out =
        eddy_window_aggregate(eddy_window(k, eddy_event_time_session_windows(10)), avg_agg());
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    push(h, "a", 2, 1);
    push(h, "a", 4, 20);
    push(h, "a", 6, 10); /* bridges [1, 11) and [20, 30) */
    ED_CHECK_INT(ed_harness_watermark(h, 100), 0);
    ED_CHECK_STR(take(h), "+I[4.0] @29\nWM 100");
    ed_harness_free(h);
    eddy_env_free(env);
}

/* A session that grows after its first timer was due does not fire at its old end; it
 * fires at its new end, in timestamp order among other keys' windows. The same with one
 * layout of window state and the other (state.backend.heap.window-table). */
static void check_growing_session(const char *table)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_env_set(env, "state.backend.heap.window-table", table);
    eddy_stream *out =
        eddy_window_aggregate(eddy_window(k, eddy_event_time_session_windows(10)), avg_agg());
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    push(h, "a", 2, 1);  /* a: [1, 11) */
    push(h, "b", 6, 12); /* b: [12, 22) */
    push(h, "a", 4, 8);  /* a: [1, 18) */
    ED_CHECK_INT(ed_harness_watermark(h, 10), 0);
    ED_CHECK_STR(take(h), "WM 10");
    push(h, "a", 9, 16); /* a: [1, 26) */
    push(h, "c", 1, 20); /* c: [20, 30) */
    ED_CHECK_INT(ed_harness_watermark(h, 100), 0);
    ED_CHECK_STR(take(h), "+I[6.0] @21\n+I[5.0] @25\n+I[1.0] @29\nWM 100");
    ed_harness_free(h);
    eddy_env_free(env);
}
ED_TEST(a_growing_session_fires_at_its_new_end) { check_growing_session("true"); }
ED_TEST(a_growing_session_fires_at_its_new_end_entry_per_window)
{
    check_growing_session("false");
}

ED_TEST(session_windows_dynamic_gap)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_stream *out = eddy_window_process(
        eddy_window(k, eddy_event_time_session_windows_dynamic(EDDY_FN(wt_gap_from_v))),
        EDDY_FN(wt_summary), SUMMARY);
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    push(h, "a", 5, 0);  /* [0, 5) */
    push(h, "a", 2, 6);  /* [6, 8) */
    push(h, "a", 10, 7); /* [7, 17) merges with [6, 8) */
    ED_CHECK_INT(ed_harness_watermark(h, EDDY_MAX_WATERMARK), 0);
    ED_CHECK_STR(take(h), "+I[a, 0, 5, 1, 5] @4\n+I[a, 6, 17, 2, 2 10] @16\nWM MAX");
    push(h, "a", 0, 100);
    ED_CHECK(strstr(ed_harness_error(h) ? ed_harness_error(h) : "", "must be positive") != NULL);
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(a_new_window_equal_to_a_merged_one_keeps_its_state)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_stream *out = eddy_window_process(
        eddy_window(k, eddy_event_time_session_windows_dynamic(EDDY_FN(wt_gap_from_v))),
        EDDY_FN(wt_summary), SUMMARY);
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    push(h, "a", 2, 0);  /* [0, 2) */
    push(h, "a", 10, 1); /* [1, 11): [0, 11), state kept in [0, 2)'s namespace */
    push(h, "a", 11, 0); /* exactly [0, 11): nothing merges, the state stays */
    ED_CHECK_INT(ed_harness_watermark(h, EDDY_MAX_WATERMARK), 0);
    ED_CHECK_STR(take(h), "+I[a, 0, 11, 3, 2 10 11] @10\nWM MAX");
    ed_harness_free(h);
    eddy_env_free(env);
}

static const char *const sessions_in[] = {"a,1,1", "b,1,2", "a,2,8", "a,3,30", "b,4,25",
                                          "a,4,17", "b,5,40"};
static void check_sessions_job(int p)
{
    eddy_env *env = env_p(p);
    eddy_stream *k = eddy_key_by(stamped(CSV_SOURCE(env, IN, sessions_in), "t"), "k");
    eddy_stream *out = eddy_window_sum(eddy_window(k, eddy_event_time_session_windows(10)), "v");
    char *got = run(env, out);
    /* a: 1, 8, 17 chain into [1, 27) (sum 7), 30 is [30, 40); b: [2, 12), [25, 35), [40, 50) */
    const char *want = p == 1 ? "+I[b, 1, 2] @11\n+I[a, 7, 1] @26\n+I[b, 4, 25] @34\n"
                                "+I[a, 3, 30] @39\n+I[b, 5, 40] @49"
                              : "+I[a, 3, 30] @39\n+I[a, 7, 1] @26\n+I[b, 1, 2] @11\n"
                                "+I[b, 4, 25] @34\n+I[b, 5, 40] @49";
    ED_CHECK_STR(got, want);
    free(got);
    eddy_env_free(env);
}
ED_TEST(session_windows_job_p1) { check_sessions_job(1); }
ED_TEST(session_windows_job_p2) { check_sessions_job(2); }

static const char *const counts_in[] = {"a,1,0", "a,2,0", "b,10,0", "a,3,0", "a,4,0",
                                        "b,20,0", "a,5,0", "a,6,0", "a,7,0"};
static void check_count_windows(int p)
{
    eddy_env *env = env_p(p);
    eddy_stream *src = CSV_SOURCE(env, IN, counts_in);
    eddy_stream *k = eddy_key_by(src, "k");
    eddy_stream *tumbling = eddy_window_sum(eddy_count_window(k, 3, 0), "v");
    char *got = run(env, tumbling);
    const char *max = "@9223372036854775807";
    char want[512];
    snprintf(want, sizeof want, "+I[a, 15, 0] %s\n+I[a, 6, 0] %s", max, max);
    ED_CHECK_STR(got, p == 1 ? "+I[a, 6, 0] @9223372036854775807\n+I[a, 15, 0] "
                               "@9223372036854775807"
                             : want);
    free(got);
    eddy_env_free(env);

    env = env_p(p);
    k = eddy_key_by(CSV_SOURCE(env, IN, counts_in), "k");
    eddy_stream *sliding =
        eddy_window_process(eddy_count_window(k, 3, 2), EDDY_FN(wt_summary), SUMMARY);
    got = run(env, sliding);
    const char *w1 = "+I[a, -9223372036854775808, 9223372036854775807, 2, 1 2] "
                     "@9223372036854775807\n"
                     "+I[a, -9223372036854775808, 9223372036854775807, 3, 2 3 4] "
                     "@9223372036854775807\n"
                     "+I[b, -9223372036854775808, 9223372036854775807, 2, 10 20] "
                     "@9223372036854775807\n"
                     "+I[a, -9223372036854775808, 9223372036854775807, 3, 4 5 6] "
                     "@9223372036854775807";
    const char *w2 = "+I[a, -9223372036854775808, 9223372036854775807, 2, 1 2] "
                     "@9223372036854775807\n"
                     "+I[a, -9223372036854775808, 9223372036854775807, 3, 2 3 4] "
                     "@9223372036854775807\n"
                     "+I[a, -9223372036854775808, 9223372036854775807, 3, 4 5 6] "
                     "@9223372036854775807\n"
                     "+I[b, -9223372036854775808, 9223372036854775807, 2, 10 20] "
                     "@9223372036854775807";
    ED_CHECK_STR(got, p == 1 ? w1 : w2);
    free(got);
    eddy_env_free(env);
}
ED_TEST(count_windows_p1) { check_count_windows(1); }
ED_TEST(count_windows_p2) { check_count_windows(2); }

/* ---- triggers -------------------------------------------------------------------------------- */

ED_TEST(processing_time_windows_on_the_manual_clock)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_env_use_manual_clock(env, 1000);
    eddy_stream *out = eddy_window_process(
        eddy_window(k, eddy_tumbling_processing_time_windows(100, 0)), EDDY_FN(wt_summary),
        SUMMARY);
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    push(h, "a", 1, EDDY_NO_TIMESTAMP); /* at 1000: [1000, 1100) */
    ED_CHECK_INT(ed_harness_advance_clock(h, 50), 0);
    push(h, "a", 2, 3); /* event time plays no part */
    ED_CHECK_INT(ed_harness_watermark(h, EDDY_MAX_WATERMARK - 1), 0);
    ED_CHECK_STR(take(h), "WM 9223372036854775806");
    ED_CHECK_INT(ed_harness_advance_clock(h, 48), 0); /* 1098 */
    ED_CHECK_STR(take(h), "");
    ED_CHECK_INT(ed_harness_advance_clock(h, 1), 0); /* 1099 */
    ED_CHECK_STR(take(h), "+I[a, 1000, 1100, 2, 1 2] @1099");
    push(h, "a", 3, 0);
    ED_CHECK_INT(ed_harness_advance_clock(h, 200), 0);
    ED_CHECK_STR(take(h), "+I[a, 1000, 1100, 1, 3] @1099");
    ed_harness_free(h);
    eddy_env_free(env);
}

/* An aggregation in processing time (the per-key window table, a timer added with each
 * window's first element): a window fires at its max timestamp, and an element that comes
 * at that same time, after the firing, starts the window again. */
ED_TEST(processing_time_aggregation_on_the_manual_clock)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_env_use_manual_clock(env, 1000);
    eddy_stream *out =
        eddy_window_aggregate(eddy_window(k, eddy_tumbling_processing_time_windows(100, 0)), avg_agg());
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    push(h, "a", 1, 0);
    push(h, "b", 7, 0);
    ED_CHECK_INT(ed_harness_advance_clock(h, 50), 0);
    push(h, "a", 3, 0);
    ED_CHECK_INT(ed_harness_advance_clock(h, 48), 0); /* 1098 */
    ED_CHECK_STR(take(h), "");
    ED_CHECK_INT(ed_harness_advance_clock(h, 1), 0); /* 1099 */
    ED_CHECK_STR(take(h), "+I[2.0] @1099\n+I[7.0] @1099");
    push(h, "a", 5, 0); /* at 1099: [1000, 1100) again */
    ED_CHECK_INT(ed_harness_advance_clock(h, 1), 0);
    ED_CHECK_STR(take(h), "+I[5.0] @1099");
    push(h, "a", 9, 0); /* at 1100: [1100, 1200) */
    ED_CHECK_INT(ed_harness_advance_clock(h, 98), 0);
    ED_CHECK_STR(take(h), "");
    ED_CHECK_INT(ed_harness_advance_clock(h, 1), 0);
    ED_CHECK_STR(take(h), "+I[9.0] @1199");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(window_state_is_cleared_with_the_window)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_env_use_manual_clock(env, 1000);
    eddy_stream *out = eddy_window_process(
        eddy_window(k, eddy_tumbling_processing_time_windows(100, 0)), EDDY_FN(wt_firings),
        "k STRING, ws BIGINT, n BIGINT, wf BIGINT, gf BIGINT");
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    push(h, "a", 1, 0);
    ED_CHECK_INT(ed_harness_advance_clock(h, 99), 0);
    ED_CHECK_STR(take(h), "+I[a, 1000, 1, 1, 1] @1099");
    push(h, "a", 2, 0); /* at 1099: the same window again, with fresh window state */
    ED_CHECK_INT(ed_harness_advance_clock(h, 1), 0);
    ED_CHECK_STR(take(h), "+I[a, 1000, 1, 1, 2] @1099");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(processing_time_sessions_merge)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_stream *out = eddy_window_process(
        eddy_window(k, eddy_processing_time_session_windows(10)), EDDY_FN(wt_summary), SUMMARY);
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    push(h, "a", 1, 0);
    ED_CHECK_INT(ed_harness_advance_clock(h, 5), 0);
    push(h, "a", 2, 0);
    ED_CHECK_INT(ed_harness_advance_clock(h, 8), 0); /* 13: [0, 15) is still open */
    ED_CHECK_STR(take(h), "");
    ED_CHECK_INT(ed_harness_advance_clock(h, 1), 0);
    ED_CHECK_STR(take(h), "+I[a, 0, 15, 2, 1 2] @14");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(processing_time_sliding_windows)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env); /* the clock starts at 0 */
    eddy_stream *out = eddy_window_process(
        eddy_window(k, eddy_sliding_processing_time_windows(100, 50, 0)), EDDY_FN(wt_summary),
        SUMMARY);
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    push(h, "a", 1, EDDY_NO_TIMESTAMP); /* at 0: [-50, 50) and [0, 100) */
    ED_CHECK_INT(ed_harness_advance_clock(h, 49), 0);
    ED_CHECK_STR(take(h), "+I[a, -50, 50, 1, 1] @49");
    ED_CHECK_INT(ed_harness_advance_clock(h, 50), 0);
    ED_CHECK_STR(take(h), "+I[a, 0, 100, 1, 1] @99");
    ED_CHECK_INT(ed_harness_advance_clock(h, 21), 0);
    push(h, "a", 2, EDDY_NO_TIMESTAMP); /* at 120: [50, 150) and [100, 200) */
    ED_CHECK_INT(ed_harness_advance_clock(h, 29), 0);
    ED_CHECK_STR(take(h), "+I[a, 50, 150, 1, 2] @149");
    ED_CHECK_INT(ed_harness_advance_clock(h, 50), 0);
    ED_CHECK_STR(take(h), "+I[a, 100, 200, 1, 2] @199");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(processing_time_sessions_with_dynamic_gaps)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_stream *out = eddy_window_process(
        eddy_window(k, eddy_processing_time_session_windows_dynamic(EDDY_FN(wt_gap_from_v))),
        EDDY_FN(wt_summary), SUMMARY);
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    push(h, "a", 10, 0); /* at 0: [0, 10) */
    ED_CHECK_INT(ed_harness_advance_clock(h, 5), 0);
    push(h, "a", 30, 0); /* at 5: [5, 35) merges into [0, 35) */
    ED_CHECK_INT(ed_harness_advance_clock(h, 28), 0); /* 33 */
    ED_CHECK_STR(take(h), "");
    ED_CHECK_INT(ed_harness_advance_clock(h, 1), 0);
    ED_CHECK_STR(take(h), "+I[a, 0, 35, 2, 10 30] @34");
    ed_harness_free(h);
    eddy_env_free(env);
}

static ed_harness *tumbling_sum(eddy_env **env, int64_t size, eddy_trigger t, bool purge)
{
    eddy_stream *k = keyed_input(env);
    eddy_windowed *w = eddy_window(k, eddy_tumbling_event_time_windows(size, 0));
    eddy_window_trigger(w, purge ? eddy_purging_trigger(t) : t);
    return harness(*env, eddy_window_reduce(w, EDDY_FN(wt_sum_v)));
}

ED_TEST(count_trigger_and_purging_trigger)
{
    eddy_env *env;
    ed_harness *h = tumbling_sum(&env, 100, eddy_count_trigger(2), false);
    ED_REQUIRE(h);
    for (int i = 1; i <= 4; i++) push(h, "a", i, i);
    ED_CHECK_STR(take(h), "+I[a, 3, 1] @99\n+I[a, 10, 1] @99");
    ED_CHECK_INT(ed_harness_watermark(h, 200), 0); /* the count trigger ignores time */
    ED_CHECK_STR(take(h), "WM 200");
    push(h, "a", 5, 150); /* late: the window is gone */
    ED_CHECK_STR(take(h), "");
    ed_harness_free(h);
    eddy_env_free(env);

    h = tumbling_sum(&env, 100, eddy_count_trigger(2), true);
    ED_REQUIRE(h);
    for (int i = 1; i <= 5; i++) push(h, "a", i, i);
    ED_CHECK_STR(take(h), "+I[a, 3, 1] @99\n+I[a, 7, 3] @99");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(purging_event_time_trigger_with_lateness_fires_only_new_elements)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_windowed *w = eddy_window(k, eddy_tumbling_event_time_windows(10, 0));
    eddy_window_trigger(w, eddy_purging_trigger(eddy_event_time_trigger()));
    eddy_window_allowed_lateness(w, 100);
    ed_harness *h = harness(env, eddy_window_reduce(w, EDDY_FN(wt_sum_v)));
    ED_REQUIRE(h);
    push(h, "a", 1, 1);
    push(h, "a", 2, 2);
    ED_CHECK_INT(ed_harness_watermark(h, 10), 0);
    push(h, "a", 5, 3);
    ED_CHECK_STR(take(h), "+I[a, 3, 1] @9\nWM 10\n+I[a, 5, 3] @9");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(continuous_event_time_trigger)
{
    eddy_env *env;
    ed_harness *h = tumbling_sum(&env, 100, eddy_continuous_event_time_trigger(30), false);
    ED_REQUIRE(h);
    push(h, "a", 1, 5);
    ED_CHECK_INT(ed_harness_watermark(h, 35), 0);
    push(h, "a", 2, 40);
    ED_CHECK_INT(ed_harness_watermark(h, 65), 0);
    ED_CHECK_INT(ed_harness_watermark(h, 95), 0);
    ED_CHECK_INT(ed_harness_watermark(h, 100), 0);
    ED_CHECK_STR(take(h), "+I[a, 1, 5] @99\nWM 35\n+I[a, 3, 5] @99\nWM 65\n+I[a, 3, 5] @99\n"
                          "WM 95\n+I[a, 3, 5] @99\nWM 100");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(continuous_processing_time_trigger)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_env_use_manual_clock(env, 10000);
    eddy_windowed *w = eddy_window(k, eddy_tumbling_processing_time_windows(1000, 0));
    eddy_window_trigger(w, eddy_continuous_processing_time_trigger(300));
    ed_harness *h = harness(env, eddy_window_reduce(w, EDDY_FN(wt_sum_v)));
    ED_REQUIRE(h);
    push(h, "a", 1, 0);
    ED_CHECK_INT(ed_harness_advance_clock(h, 300), 0);
    ED_CHECK_STR(take(h), "+I[a, 1, 0] @10999");
    push(h, "a", 2, 0);
    ED_CHECK_INT(ed_harness_advance_clock(h, 300), 0);
    ED_CHECK_STR(take(h), "+I[a, 3, 0] @10999");
    ED_CHECK_INT(ed_harness_advance_clock(h, 500), 0); /* 10900 and 10999 (the end) */
    ED_CHECK_STR(take(h), "+I[a, 3, 0] @10999\n+I[a, 3, 0] @10999");
    ED_CHECK_INT(ed_harness_advance_clock(h, 1000), 0);
    ED_CHECK_STR(take(h), "");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(delta_trigger_on_global_windows)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_windowed *w = eddy_window(k, eddy_global_windows());
    eddy_window_trigger(w, eddy_delta_trigger(5.0, EDDY_FN(wt_delta_v), IN));
    ed_harness *h = harness(env, eddy_window_process(w, EDDY_FN(wt_summary), SUMMARY));
    ED_REQUIRE(h);
    int64_t v[] = {1, 3, 7, 8, 20};
    for (size_t i = 0; i < 5; i++) push(h, "a", v[i], (int64_t)i);
    ED_CHECK_INT(ed_harness_watermark(h, EDDY_MAX_WATERMARK), 0);
    ED_CHECK_STR(take(h), "+I[a, -9223372036854775808, 9223372036854775807, 3, 1 3 7] "
                          "@9223372036854775807\n"
                          "+I[a, -9223372036854775808, 9223372036854775807, 5, 1 3 7 8 20] "
                          "@9223372036854775807\nWM MAX");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(global_windows_never_fire_by_default)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    ed_harness *h = harness(env, eddy_window_reduce(eddy_window(k, eddy_global_windows()),
                                                    EDDY_FN(wt_sum_v)));
    ED_REQUIRE(h);
    push(h, "a", 1, 1);
    ED_CHECK_INT(ed_harness_watermark(h, EDDY_MAX_WATERMARK), 0);
    ED_CHECK_INT(ed_harness_advance_clock(h, 1000000), 0);
    ED_CHECK_STR(take(h), "WM MAX");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(custom_trigger_with_state_and_timers)
{
    eddy_env *env;
    eddy_trigger t = {.kind = EDDY_TRIGGER_CUSTOM,
                      .on_element = EDDY_FN(wt_trig_element),
                      .on_event_time = EDDY_FN(wt_trig_event),
                      .clear = EDDY_FN(wt_trig_clear)};
    ed_harness *h = tumbling_sum(&env, 100, t, false);
    ED_REQUIRE(h);
    push(h, "a", 1, 1);
    push(h, "b", 10, 1);
    push(h, "a", 2, 2);
    push(h, "a", 3, 3);
    ED_CHECK_STR(take(h), "+I[a, 3, 1] @99");
    ED_CHECK_INT(ed_harness_watermark(h, 100), 0);
    ED_CHECK_STR(take(h), "+I[a, 6, 1] @99\n+I[b, 10, 1] @99\nWM 100");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(count_trigger_state_merges_with_sessions)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_windowed *w = eddy_window(k, eddy_event_time_session_windows(10));
    eddy_window_trigger(w, eddy_count_trigger(3));
    ed_harness *h = harness(env, eddy_window_process(w, EDDY_FN(wt_summary), SUMMARY));
    ED_REQUIRE(h);
    push(h, "a", 1, 1);
    push(h, "a", 2, 20);
    ED_CHECK_STR(take(h), "");
    push(h, "a", 3, 10); /* [10, 20) bridges: counts 1 + 1 merge, + 1 fires */
    ED_CHECK_STR(take(h), "+I[a, 1, 30, 3, 1 2 3] @29");
    ed_harness_free(h);
    eddy_env_free(env);
}

/* ---- evictors ---------------------------------------------------------------------------------- */

static ed_harness *evicting(eddy_env **env, eddy_evictor e, int64_t count, eddy_fn fn)
{
    eddy_stream *k = keyed_input(env);
    eddy_windowed *w = eddy_window(k, eddy_tumbling_event_time_windows(1000, 0));
    if (count) eddy_window_trigger(w, eddy_count_trigger(count));
    eddy_window_evictor(w, e);
    return harness(*env, eddy_window_process(w, fn, SUMMARY));
}

ED_TEST(count_evictor_before_and_after)
{
    eddy_env *env;
    ed_harness *h = evicting(&env, eddy_count_evictor(2, false), 2, EDDY_FN(wt_summary));
    ED_REQUIRE(h);
    for (int i = 1; i <= 4; i++) push(h, "a", i, i);
    ED_CHECK_STR(take(h), "+I[a, 0, 1000, 2, 1 2] @999\n+I[a, 0, 1000, 2, 3 4] @999");
    ed_harness_free(h);
    eddy_env_free(env);

    h = evicting(&env, eddy_count_evictor(2, true), 2, EDDY_FN(wt_summary));
    ED_REQUIRE(h);
    for (int i = 1; i <= 4; i++) push(h, "a", i, i);
    ED_CHECK_STR(take(h), "+I[a, 0, 1000, 2, 1 2] @999\n+I[a, 0, 1000, 4, 1 2 3 4] @999");
    push(h, "a", 5, 5);
    push(h, "a", 6, 6);
    ED_CHECK_STR(take(h), "+I[a, 0, 1000, 4, 3 4 5 6] @999");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(time_evictor_before_and_after)
{
    eddy_env *env;
    ed_harness *h = evicting(&env, eddy_time_evictor(10, false), 0, EDDY_FN(wt_stamps));
    ED_REQUIRE(h);
    int64_t ts[] = {1, 5, 12, 15};
    for (int i = 0; i < 4; i++) push(h, "a", i, ts[i]);
    ED_CHECK_INT(ed_harness_watermark(h, 2000), 0);
    ED_CHECK_STR(take(h), "+I[a, 0, 1000, 2, 12 15] @999\nWM 2000");
    ed_harness_free(h);
    eddy_env_free(env);

    h = evicting(&env, eddy_time_evictor(10, true), 2, EDDY_FN(wt_stamps));
    ED_REQUIRE(h);
    int64_t ts2[] = {1, 5, 12, 15, 16, 17};
    for (int i = 0; i < 6; i++) push(h, "a", i, ts2[i]);
    ED_CHECK_STR(take(h), "+I[a, 0, 1000, 2, 1 5] @999\n+I[a, 0, 1000, 4, 1 5 12 15] @999\n"
                          "+I[a, 0, 1000, 4, 12 15 16 17] @999");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(delta_evictor)
{
    eddy_env *env;
    ed_harness *h =
        evicting(&env, eddy_delta_evictor(5.0, EDDY_FN(wt_delta_v), false), 0, EDDY_FN(wt_summary));
    ED_REQUIRE(h);
    int64_t v[] = {1, 3, 7, 8};
    for (int i = 0; i < 4; i++) push(h, "a", v[i], i);
    ED_CHECK_INT(ed_harness_watermark(h, 2000), 0);
    ED_CHECK_STR(take(h), "+I[a, 0, 1000, 2, 7 8] @999\nWM 2000");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(custom_evictor_before_and_after)
{
    eddy_env *env;
    ed_harness *h = evicting(&env,
                             eddy_custom_evictor(EDDY_FN(wt_evict_odd),
                                                 EDDY_FN(wt_evict_all_but_last)),
                             3, EDDY_FN(wt_summary));
    ED_REQUIRE(h);
    for (int i = 1; i <= 6; i++) push(h, "a", i, i);
    /* 1 2 3 -> sees 2, keeps 2; 2 4 5 6 -> sees 2 4 6, keeps 6 */
    ED_CHECK_STR(take(h), "+I[a, 0, 1000, 1, 2] @999\n+I[a, 0, 1000, 3, 2 4 6] @999");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(evictor_with_reduce_reduces_the_kept_elements)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_windowed *w = eddy_window(k, eddy_tumbling_event_time_windows(100, 0));
    eddy_window_evictor(w, eddy_count_evictor(2, false));
    ed_harness *h = harness(env, eddy_window_reduce(w, EDDY_FN(wt_sum_v)));
    ED_REQUIRE(h);
    for (int i = 1; i <= 4; i++) push(h, "a", i * 10, i);
    ED_CHECK_INT(ed_harness_watermark(h, 100), 0);
    ED_CHECK_STR(take(h), "+I[a, 70, 3] @99\nWM 100");
    ed_harness_free(h);
    eddy_env_free(env);
}

/* ---- window functions --------------------------------------------------------------------- */

static const char *const fn_in[] = {"a,1,1", "a,4,2", "b,7,3", "a,2,12", "b,5,14", "b,9,15"};

static char *run_fn(int p, int which)
{
    eddy_env *env = env_p(p);
    eddy_stream *k = eddy_key_by(stamped(CSV_SOURCE(env, IN, fn_in), "t"), "k");
    eddy_windowed *w = eddy_window(k, eddy_tumbling_event_time_windows(10, 0));
    eddy_stream *out = NULL;
    switch (which) {
    case 0: out = eddy_window_aggregate(w, avg_agg()); break;
    case 1:
        out = eddy_window_aggregate_process(w, avg_agg(), EDDY_FN(wt_label_avg),
                                            "k STRING, ws BIGINT, n BIGINT, x DOUBLE");
        break;
    case 2:
        out = eddy_window_reduce_process(w, EDDY_FN(wt_sum_v), EDDY_FN(wt_label_sum),
                                         "k STRING, ws BIGINT, n BIGINT, x DOUBLE");
        break;
    case 3: out = eddy_window_min(w, "v"); break;
    case 4: out = eddy_window_max(w, "v"); break;
    case 5: out = eddy_window_min_by(w, "v"); break;
    case 6: out = eddy_window_max_by(w, "v"); break;
    case 8:
        out = eddy_window_aggregate_process(w, avg_agg(), EDDY_FN(wt_firings),
                                            "k STRING, ws BIGINT, n BIGINT, wf BIGINT, gf BIGINT");
        break;
    default: out = eddy_window_process(w, EDDY_FN(wt_firings),
                                       "k STRING, ws BIGINT, n BIGINT, wf BIGINT, gf BIGINT");
    }
    char *got = run(env, out);
    eddy_env_free(env);
    return got;
}

static void check_fn(int which, const char *want)
{
    for (int p = 1; p <= 2; p++) {
        /* compared sorted: at p 1 windows fire in timer order, keys interleaved */
        char *got = sort_lines(run_fn(p, which));
        ED_CHECK_STR(got, want);
        free(got);
    }
}

ED_TEST(aggregate_window_function)
{
    check_fn(0, "+I[2.0] @19\n+I[2.5] @9\n+I[7.0] @19\n+I[7.0] @9");
}
ED_TEST(aggregate_with_process_function)
{
    check_fn(1, "+I[a, 0, 1, 2.5] @9\n+I[a, 10, 1, 2.0] @19\n+I[b, 0, 1, 7.0] @9\n"
                "+I[b, 10, 1, 7.0] @19");
}
ED_TEST(reduce_with_process_function)
{
    check_fn(2, "+I[a, 0, 1, 5.0] @9\n+I[a, 10, 1, 2.0] @19\n+I[b, 0, 1, 7.0] @9\n"
                "+I[b, 10, 1, 14.0] @19");
}
ED_TEST(min_max_min_by_max_by)
{
    /* min/max keep the first row's other fields; min_by/max_by the row of the extreme */
    check_fn(3, "+I[a, 1, 1] @9\n+I[a, 2, 12] @19\n+I[b, 5, 14] @19\n+I[b, 7, 3] @9");
    check_fn(4, "+I[a, 2, 12] @19\n+I[a, 4, 1] @9\n+I[b, 7, 3] @9\n+I[b, 9, 14] @19");
    check_fn(5, "+I[a, 1, 1] @9\n+I[a, 2, 12] @19\n+I[b, 5, 14] @19\n+I[b, 7, 3] @9");
    check_fn(6, "+I[a, 2, 12] @19\n+I[a, 4, 2] @9\n+I[b, 7, 3] @9\n+I[b, 9, 15] @19");
}
ED_TEST(window_state_and_global_state)
{
    check_fn(7, "+I[a, 0, 2, 1, 1] @9\n+I[a, 10, 1, 1, 2] @19\n+I[b, 0, 1, 1, 1] @9\n"
                "+I[b, 10, 2, 1, 2] @19");
    /* the same states from the function of an aggregation (its contents in the per-key
     * window table, its timers added with the first element) */
    check_fn(8, "+I[a, 0, 1, 1, 1] @9\n+I[a, 10, 1, 1, 2] @19\n+I[b, 0, 1, 1, 1] @9\n"
                "+I[b, 10, 1, 1, 2] @19");
}

/* ---- lateness ---------------------------------------------------------------------------------- */

ED_TEST(allowed_lateness_fires_again_and_late_side_output)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    eddy_windowed *w = eddy_window(k, eddy_tumbling_event_time_windows(10, 0));
    eddy_window_allowed_lateness(w, 5);
    eddy_window_late_side_output(w, "late");
    eddy_stream *out = eddy_window_process(w, EDDY_FN(wt_firings),
                                           "k STRING, ws BIGINT, n BIGINT, wf BIGINT, gf BIGINT");
    ed_harness *h = harness_side(env, out, "late");
    ED_REQUIRE(h);
    push(h, "a", 1, 1);
    push(h, "a", 2, 2);
    ED_CHECK_INT(ed_harness_watermark(h, 9), 0);
    ED_CHECK_STR(take(h), "+I[a, 0, 2, 1, 1] @9\nWM 9\nlate: WM 9");
    push(h, "a", 3, 3); /* late but within the lateness: fires again with all three */
    ED_CHECK_STR(take(h), "+I[a, 0, 3, 2, 2] @9");
    push(h, "a", 4, 12); /* the next window */
    ED_CHECK_INT(ed_harness_watermark(h, 14), 0); /* cleanup of [0, 10) at 9 + 5 */
    ED_CHECK_STR(take(h), "WM 14\nlate: WM 14");
    push(h, "a", 5, 4); /* too late */
    ED_CHECK_STR(take(h), "late: +I[a, 5, 4] @4");
    ED_CHECK_INT(ed_harness_watermark(h, 30), 0);
    /* window state of [0, 10) was cleared with it; the global count goes on */
    ED_CHECK_STR(take(h), "+I[a, 10, 1, 1, 3] @19\nWM 30\nlate: WM 30");
    ed_harness_free(h);
    eddy_env_free(env);
}

ED_TEST(late_elements_are_dropped_without_side_output)
{
    eddy_env *env;
    eddy_stream *k = keyed_input(&env);
    ed_harness *h = harness(env, eddy_window_reduce(eddy_window(k, eddy_tumbling_event_time_windows(10, 0)),
                                                    EDDY_FN(wt_sum_v)));
    ED_REQUIRE(h);
    push(h, "a", 1, 1);
    ED_CHECK_INT(ed_harness_watermark(h, 10), 0);
    push(h, "a", 2, 5);
    ED_CHECK_INT(ed_harness_watermark(h, 30), 0);
    ED_CHECK_STR(take(h), "+I[a, 1, 1] @9\nWM 10\nWM 30");
    ed_harness_free(h);
    eddy_env_free(env);
}

/* ---- window_all ------------------------------------------------------------------------------ */

ED_TEST(window_all_runs_with_parallelism_1)
{
    eddy_env *env = env_p(2);
    eddy_stream *src = eddy_rebalance(stamped(CSV_SOURCE(env, IN, words), "t"));
    eddy_stream *m = eddy_map(src, EDDY_FN(wt_identity), IN);
    /* records of both map subtasks meet in one window subtask, in any order: an average */
    eddy_stream *out =
        eddy_window_aggregate(eddy_window_all(m, eddy_tumbling_event_time_windows(10, 0)),
                              avg_agg());
    char *got = run(env, out);
    ED_CHECK_STR(got, "+I[2.0] @9\n+I[4.5] @19\n+I[6.0] @29");
    free(got);
    eddy_env_free(env);

    env = env_p(1);
    out = eddy_window_sum(eddy_count_window_all(CSV_SOURCE(env, IN, counts_in), 4, 0), "v");
    got = run(env, out);
    ED_CHECK_STR(got, "+I[a, 16, 0] @9223372036854775807\n+I[a, 35, 0] @9223372036854775807");
    free(got);
    eddy_env_free(env);

    env = env_p(1);
    out = eddy_window_sum(eddy_window_all(CSV_SOURCE(env, IN, words), eddy_global_windows()), "v");
    eddy_set_parallelism(out, 2);
    eddy_collect(out);
    ED_CHECK(eddy_execute(env, "x") != 0);
    ED_CHECK_CONTAINS(eddy_env_error(env), "at most 1");
    eddy_env_free(env);
}

/* ---- join and co-group ------------------------------------------------------------------------ */

#define LEFT "lk STRING, lv BIGINT, t BIGINT"
#define RIGHT "rk STRING, rv DOUBLE, t BIGINT"
static const char *const left_in[] = {"a,1,1", "a,2,3", "b,3,4", "a,4,12"};
static const char *const right_in[] = {"a,0.5,2", "c,9.5,5", "a,1.5,11", "a,2.5,15"};

static void check_join(int p)
{
    eddy_env *env = env_p(p);
    eddy_stream *l = stamped(CSV_SOURCE(env, LEFT, left_in), "t");
    eddy_stream *r = stamped(CSV_SOURCE(env, RIGHT, right_in), "t");
    eddy_stream *out = eddy_window_join(l, "lk", r, "rk", eddy_tumbling_event_time_windows(10, 0),
                                        EDDY_FN(wt_join), "k STRING, lv BIGINT, rv DOUBLE");
    char *got = run(env, out);
    /* the same order at p 1 (only key a joins) and sorted at p 2 */
    ED_CHECK_STR(got, "+I[a, 1, 0.5] @9\n+I[a, 2, 0.5] @9\n+I[a, 4, 1.5] @19\n"
                      "+I[a, 4, 2.5] @19");
    free(got);
    eddy_env_free(env);

    env = env_p(p);
    l = stamped(CSV_SOURCE(env, LEFT, left_in), "t");
    r = stamped(CSV_SOURCE(env, RIGHT, right_in), "t");
    out = eddy_window_co_group(l, "lk", r, "rk", eddy_tumbling_event_time_windows(10, 0),
                               EDDY_FN(wt_co_group), "k STRING, ws BIGINT, nl BIGINT, nr BIGINT");
    got = sort_lines(run(env, out));
    ED_CHECK_STR(got, "+I[a, 0, 2, 1] @9\n+I[a, 10, 1, 2] @19\n+I[b, 0, 1, 0] @9\n"
                      "+I[c, 0, 0, 1] @9");
    free(got);
    eddy_env_free(env);
}
ED_TEST(window_join_and_co_group_p1) { check_join(1); }
ED_TEST(window_join_and_co_group_p2) { check_join(2); }

ED_TEST(window_join_two_inputs_in_the_harness)
{
    eddy_env *env = eddy_env_new();
    eddy_env_use_manual_clock(env, 0);
    eddy_stream *l = eddy_from_rows(env, LEFT, NULL, 0), *r = eddy_from_rows(env, RIGHT, NULL, 0);
    eddy_stream *out = eddy_window_join(l, "lk", r, "rk", eddy_event_time_session_windows(5),
                                        EDDY_FN(wt_join), "k STRING, lv BIGINT, rv DOUBLE");
    ed_harness *h = harness(env, out);
    ED_REQUIRE(h);
    ed_harness_push_csv(h, 0, "a,1,1", 1);
    ed_harness_push_csv(h, 1, "a,0.5,8", 8);  /* apart: [8, 13) */
    ed_harness_push_csv(h, 0, "a,2,4", 4);    /* [4, 9) bridges [1, 6) and [8, 13) */
    ed_harness_push_csv(h, 1, "b,7.5,4", 4);
    ED_CHECK_INT(ed_harness_watermark(h, 100), 0);
    ED_CHECK_STR(take(h), "+I[a, 1, 0.5] @12\n+I[a, 2, 0.5] @12\nWM 100");
    ed_harness_free(h);
    eddy_env_free(env);
}

/* ---- the builder ------------------------------------------------------------------------------- */

static void expect_error(eddy_env *env, const char *needle)
{
    ED_CHECK_CONTAINS(eddy_env_error(env), needle);
    eddy_env_free(env);
}

ED_TEST(builder_errors)
{
    eddy_env *env = env_p(1);
    ED_CHECK(eddy_window(CSV_SOURCE(env, IN, words), eddy_tumbling_event_time_windows(10, 0)) ==
             NULL);
    expect_error(env, "eddy_window needs a keyed stream");

    env = env_p(1);
    eddy_stream *k = eddy_key_by(CSV_SOURCE(env, IN, words), "k");
    ED_CHECK(eddy_window(k, eddy_tumbling_event_time_windows(0, 0)) == NULL);
    expect_error(env, "eddy_window: tumbling windows need size > 0");

    env = env_p(1);
    k = eddy_key_by(CSV_SOURCE(env, IN, words), "k");
    ED_CHECK(eddy_window(k, eddy_tumbling_event_time_windows(10, 10)) == NULL);
    expect_error(env, "|offset| < size");

    env = env_p(1);
    k = eddy_key_by(CSV_SOURCE(env, IN, words), "k");
    ED_CHECK(eddy_window(k, eddy_sliding_event_time_windows(10, 5, -5)) == NULL);
    expect_error(env, "|offset| < slide");

    env = env_p(1);
    k = eddy_key_by(CSV_SOURCE(env, IN, words), "k");
    ED_CHECK(eddy_window(k, eddy_event_time_session_windows(0)) == NULL);
    expect_error(env, "gap > 0");

    env = env_p(1);
    k = eddy_key_by(CSV_SOURCE(env, IN, words), "k");
    ED_CHECK(eddy_window_allowed_lateness(eddy_window(k, eddy_global_windows()), -1) == NULL);
    expect_error(env, "eddy_window_allowed_lateness: the allowed lateness cannot be negative");

    env = env_p(1);
    k = eddy_key_by(CSV_SOURCE(env, IN, words), "k");
    ED_CHECK(eddy_window_trigger(eddy_window(k, eddy_event_time_session_windows(5)),
                                 eddy_delta_trigger(1, EDDY_FN(wt_delta_v), IN)) == NULL);
    expect_error(env, "cannot be used with a trigger that does not support merging");

    env = env_p(1);
    k = eddy_key_by(CSV_SOURCE(env, IN, words), "k");
    eddy_aggregate a = avg_agg();
    a.merge = EDDY_FN_NONE;
    ED_CHECK(eddy_window_aggregate(eddy_window(k, eddy_event_time_session_windows(5)), a) == NULL);
    expect_error(env, "eddy_window_aggregate: session windows merge accumulators");

    env = env_p(1);
    k = eddy_key_by(CSV_SOURCE(env, IN, words), "k");
    ED_CHECK(eddy_window_sum(eddy_window(k, eddy_global_windows()), "k") == NULL);
    expect_error(env, "eddy_window_sum: field 'k' is STRING");

    env = env_p(1);
    k = eddy_key_by(CSV_SOURCE(env, IN, words), "k");
    ED_CHECK(eddy_window_max(eddy_window(k, eddy_global_windows()), "nope") == NULL);
    expect_error(env, "eddy_window_max: no field 'nope'");

    env = env_p(1);
    k = eddy_key_by(CSV_SOURCE(env, IN, words), "k");
    ED_CHECK(eddy_count_window(k, 0, 0) == NULL);
    expect_error(env, "eddy_count_window: needs size > 0");

    env = env_p(1);
    ED_CHECK(eddy_window_join(CSV_SOURCE(env, LEFT, left_in), "lk", CSV_SOURCE(env, RIGHT, right_in),
                              "rv", eddy_global_windows(), EDDY_FN(wt_join), "x BIGINT") == NULL);
    expect_error(env, "eddy_window_join: the keys 'lk' and 'rv' have different types");

    env = env_p(1);
    k = eddy_key_by(CSV_SOURCE(env, IN, words), "k");
    ED_CHECK(eddy_window_evictor(eddy_window(k, eddy_global_windows()), eddy_count_evictor(0, false)) ==
             NULL);
    expect_error(env, "eddy_window_evictor: a count evictor needs count > 0");
}

ED_TEST(event_time_windows_need_timestamps)
{
    eddy_env *env = env_p(1);
    eddy_stream *k = eddy_key_by(CSV_SOURCE(env, IN, words), "k");
    eddy_collect(eddy_window_sum(eddy_window(k, eddy_tumbling_event_time_windows(10, 0)), "v"));
    ED_CHECK(eddy_execute(env, "x") != 0);
    ED_CHECK_CONTAINS(eddy_env_error(env), "record has no timestamp");
    eddy_env_free(env);
}
