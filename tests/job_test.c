/*
 * job_test.c - whole jobs in the embedded mini-cluster with exact expected output, at
 * parallelism 1 and 2: transformations, keyed aggregations, partitioners, unions, side
 * outputs, rich functions, failures and cancellation.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "ed_test.h"
#include "job_util.h"

/* ---- user functions ---------------------------------------------------------------------- */

int times_ten(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(in, 0) * 10);
    return 0;
}

int is_even(eddy_ctx *ctx, const eddy_row *in) { return eddy_row_i64(in, 0) % 2 == 0; }

/* n -> n rows (n, i) for i in 1..n */
int explode(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    int64_t n = eddy_row_i64(in, 0);
    for (int64_t i = 1; i <= n; i++) {
        eddy_row_builder *b = eddy_out_builder(out);
        eddy_rb_set_i64(b, 0, n);
        eddy_rb_set_i64(b, 1, i);
        if (eddy_emit(out, eddy_rb_row(b))) return -1;
    }
    return 0;
}

int to_key_value(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    int64_t n = eddy_row_i64(in, 0);
    static const char *const names[] = {"apple", "pear", "fig"};
    eddy_rb_set_cstr(out, 0, names[n % 3]);
    eddy_rb_set_i64(out, 1, n);
    eddy_rb_set_f64(out, 2, (double)(n % 4) / 2.0);
    return 0;
}

static char *run_collect(eddy_env *env, eddy_stream *s, int sorted)
{
    eddy_result *r = eddy_collect(s);
    const eddy_schema *sc = eddy_stream_schema(s);
    if (eddy_execute(env, "test")) {
        fprintf(stderr, "  job failed: %s\n", eddy_env_error(env));
        return strdup("<failed>");
    }
    return result_text(r, sc, sorted);
}

static void check_map_filter_flat_map(int p)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, p);
    eddy_stream *s = numbers(env, 6);
    s = eddy_rebalance(s);
    s = eddy_map(s, EDDY_FN(times_ten), "n BIGINT");
    s = eddy_filter(s, EDDY_FN(is_even));
    s = eddy_map(s, EDDY_FN(times_ten), "n BIGINT");
    char *got = run_collect(env, s, 1);
    ED_CHECK_STR(got, "+I[100]\n+I[200]\n+I[300]\n+I[400]\n+I[500]\n+I[600]");
    free(got);
    eddy_env_free(env);

    env = eddy_env_new();
    eddy_env_set_parallelism(env, p);
    s = eddy_flat_map(eddy_rebalance(numbers(env, 3)), EDDY_FN(explode), "n BIGINT, i BIGINT");
    got = run_collect(env, s, 1);
    ED_CHECK_STR(got, "+I[1, 1]\n+I[2, 1]\n+I[2, 2]\n+I[3, 1]\n+I[3, 2]\n+I[3, 3]");
    free(got);
    eddy_env_free(env);
}

ED_TEST(map_filter_flat_map_p1) { check_map_filter_flat_map(1); }
ED_TEST(map_filter_flat_map_p2) { check_map_filter_flat_map(2); }

static void check_rolling_order(int p, const char *agg, const char *expected, int sorted)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, p);
    eddy_stream *s = eddy_map(numbers(env, 7), EDDY_FN(to_key_value), "k STRING, n BIGINT, d DOUBLE");
    /* one producer: the rows of a key reach the keyed operator in input order */
    eddy_set_parallelism(s, 1);
    eddy_stream *k = eddy_key_by(s, "k");
    eddy_stream *out = strcmp(agg, "sum") == 0      ? eddy_sum(k, "n")
                       : strcmp(agg, "min") == 0    ? eddy_min(k, "d")
                       : strcmp(agg, "max") == 0    ? eddy_max(k, "d")
                       : strcmp(agg, "min_by") == 0 ? eddy_min_by(k, "d")
                                                    : eddy_max_by(k, "d");
    /* collected with parallelism 1 after a rebalance would reorder; the keyed operator
     * keeps per-key order, and each key's rows are in one subtask: sort for p > 1 */
    char *got = run_collect(env, out, sorted);
    ED_CHECK_STR(got, expected);
    free(got);
    eddy_env_free(env);
}

static void check_rolling(int p, const char *agg, const char *expected)
{
    check_rolling_order(p, agg, expected, 1);
}

/* rows: 1 pear 0.5, 2 fig 1.0, 3 apple 1.5, 4 pear 0.0, 5 fig 0.5, 6 apple 1.0, 7 pear 1.5 */
ED_TEST(rolling_sum)
{
    const char *want = "+I[apple, 3, 1.5]\n+I[apple, 9, 1.5]\n+I[fig, 2, 1.0]\n+I[fig, 7, 1.0]\n"
                       "+I[pear, 1, 0.5]\n+I[pear, 12, 0.5]\n+I[pear, 5, 0.5]";
    check_rolling(1, "sum", want);
    check_rolling(2, "sum", want);
}

ED_TEST(rolling_min_max)
{
    check_rolling(2, "min",
                  "+I[apple, 3, 1.0]\n+I[apple, 3, 1.5]\n+I[fig, 2, 0.5]\n+I[fig, 2, 1.0]\n"
                  "+I[pear, 1, 0.0]\n+I[pear, 1, 0.0]\n+I[pear, 1, 0.5]");
    check_rolling(2, "max",
                  "+I[apple, 3, 1.5]\n+I[apple, 3, 1.5]\n+I[fig, 2, 1.0]\n+I[fig, 2, 1.0]\n"
                  "+I[pear, 1, 0.5]\n+I[pear, 1, 0.5]\n+I[pear, 1, 1.5]");
}

ED_TEST(rolling_min_by_max_by)
{
    check_rolling(2, "min_by",
                  "+I[apple, 3, 1.5]\n+I[apple, 6, 1.0]\n+I[fig, 2, 1.0]\n+I[fig, 5, 0.5]\n"
                  "+I[pear, 1, 0.5]\n+I[pear, 4, 0.0]\n+I[pear, 4, 0.0]");
    check_rolling(2, "max_by",
                  "+I[apple, 3, 1.5]\n+I[apple, 3, 1.5]\n+I[fig, 2, 1.0]\n+I[fig, 2, 1.0]\n"
                  "+I[pear, 1, 0.5]\n+I[pear, 1, 0.5]\n+I[pear, 7, 1.5]");
}

/* Rolling output per key arrives in order: check the unsorted sequence at p = 1. */
ED_TEST(rolling_sum_order_p1)
{
    check_rolling_order(1, "sum",
                        "+I[pear, 1, 0.5]\n+I[fig, 2, 1.0]\n+I[apple, 3, 1.5]\n+I[pear, 5, 0.5]\n"
                        "+I[fig, 7, 1.0]\n+I[apple, 9, 1.5]\n+I[pear, 12, 0.5]",
                        0);
}

int sum_reduce(eddy_ctx *ctx, const eddy_row *acc, const eddy_row *in, eddy_row_builder *out)
{
    eddy_rb_set_field(out, 0, in, 0);
    eddy_rb_set_i64(out, 1, eddy_row_i64(acc, 1) + eddy_row_i64(in, 1));
    eddy_rb_set_f64(out, 2, eddy_row_f64(acc, 2) * 10 + eddy_row_f64(in, 2));
    return 0;
}

ED_TEST(reduce_p2)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    eddy_stream *s = eddy_map(numbers(env, 5), EDDY_FN(to_key_value), "k STRING, n BIGINT, d DOUBLE");
    eddy_set_parallelism(s, 1);
    eddy_stream *out = eddy_reduce(eddy_key_by(s, "k"), EDDY_FN(sum_reduce));
    char *got = run_collect(env, out, 1);
    ED_CHECK_STR(got, "+I[apple, 3, 1.5]\n+I[fig, 2, 1.0]\n+I[fig, 7, 10.5]\n+I[pear, 1, 0.5]\n"
                      "+I[pear, 5, 5.0]");
    free(got);
    eddy_env_free(env);
}

/* ---- a keyed sum over a million records, checked against a plain loop ------------------- */

int mod_key(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    int64_t id = eddy_row_i64(in, 0);
    eddy_rb_set_i64(out, 0, id % 1000);
    eddy_rb_set_i64(out, 1, id * 3 + 1);
    return 0;
}

static void check_million(int p)
{
    const int64_t N = 1000000;
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, p);
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", "999999",
                                   "rows-per-second", "0", NULL);
    eddy_stream *kv = eddy_map(src, EDDY_FN(mod_key), "k BIGINT, v BIGINT");
    eddy_result *r = eddy_collect(eddy_sum(eddy_key_by(kv, "k"), "v"));
    ED_REQUIRE(eddy_execute(env, "million") == 0);
    ED_CHECK_INT(eddy_result_count(r), N);

    int64_t want[1000] = {0}, got[1000], seen[1000] = {0};
    for (int64_t id = 0; id < N; id++) want[id % 1000] += id * 3 + 1;
    for (size_t i = 0; i < eddy_result_count(r); i++) {
        const eddy_row *row = eddy_result_row(r, i);
        int64_t k = eddy_row_i64(row, 0);
        ED_REQUIRE(k >= 0 && k < 1000);
        got[k] = eddy_row_i64(row, 1); /* the last row of a key is its total */
        seen[k]++;
    }
    int bad = 0;
    for (int k = 0; k < 1000; k++) bad += got[k] != want[k] || seen[k] != N / 1000;
    ED_CHECK_INT(bad, 0);
    eddy_env_free(env);
}

ED_TEST(keyed_sum_million_p1) { check_million(1); }
ED_TEST(keyed_sum_million_p2) { check_million(2); }

/* ---- partitioners -------------------------------------------------------------------------- */

int tag_subtask(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_ctx_subtask(ctx));
    eddy_rb_set_i64(out, 1, eddy_row_i64(in, 0));
    return 0;
}

int by_mod(const eddy_row *key, int n) { return (int)(eddy_row_i64(key, 0) % n); }

/* Counts of rows per subtask, as "s0:c0 s1:c1 ...". */
static char *per_subtask(eddy_env *env, eddy_stream *s, int p)
{
    eddy_stream *m = eddy_set_parallelism(eddy_map(s, EDDY_FN(tag_subtask), "sub BIGINT, n BIGINT"), p);
    eddy_result *r = eddy_collect(m);
    if (eddy_execute(env, "partitioners")) return strdup(eddy_env_error(env));
    int counts[8] = {0};
    for (size_t i = 0; i < eddy_result_count(r); i++) counts[eddy_row_i64(eddy_result_row(r, i), 0)]++;
    char buf[128] = "";
    for (int i = 0; i < p; i++) snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%d", i ? " " : "", counts[i]);
    return strdup(buf);
}

/* n -> (n % 2, n, a string whose length depends on n: up to 17 MiB, beyond what one
 * element header can say) */
static uint32_t big_len(int64_t n)
{
    static const uint32_t lens[] = {3, 1000, 40000, 17u << 20, 10};
    return lens[n % 5];
}

int to_big(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    int64_t n = eddy_row_i64(in, 0);
    uint32_t len = big_len(n);
    char *p = malloc(len);
    if (!p) return -1;
    memset(p, 'a' + (int)(n % 26), len);
    p[len - 1] = 'z';
    eddy_rb_set_i64(out, 0, n % 2);
    eddy_rb_set_i64(out, 1, n);
    int rc = eddy_rb_set_str(out, 2, p, len);
    free(p);
    return rc;
}

/* (k, n, s) -> (n, length of s, its first and last character) */
int describe_big(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    eddy_str s = eddy_row_str(in, 2);
    eddy_rb_set_i64(out, 0, eddy_row_i64(in, 1));
    eddy_rb_set_i64(out, 1, s.len);
    eddy_rb_set_str(out, 2, s.ptr, 1);
    eddy_rb_set_str(out, 3, s.ptr + s.len - 1, 1);
    return 0;
}

/* Records larger than a buffer, and larger than an element header can state, cross
 * keyed and rebalancing edges whole, in order with small ones. */
ED_TEST(records_of_any_size_cross_the_network)
{
    for (int keyed = 0; keyed <= 1; keyed++) {
        eddy_env *env = eddy_env_new();
        eddy_env_set_parallelism(env, 2);
        eddy_stream *s = eddy_map(numbers(env, 10), EDDY_FN(to_big), "k BIGINT, n BIGINT, s STRING");
        s = keyed ? eddy_key_by(s, "k") : eddy_rebalance(s);
        s = eddy_map(s, EDDY_FN(describe_big), "n BIGINT, len BIGINT, first STRING, last STRING");
        char *got = run_collect(env, s, 1);
        ED_CHECK_STR(got, "+I[1, 1000, b, z]\n+I[10, 3, k, z]\n+I[2, 40000, c, z]\n"
                          "+I[3, 17825792, d, z]\n+I[4, 10, e, z]\n+I[5, 3, f, z]\n"
                          "+I[6, 1000, g, z]\n+I[7, 40000, h, z]\n+I[8, 17825792, i, z]\n"
                          "+I[9, 10, j, z]");
        free(got);
        eddy_env_free(env);
    }
}

ED_TEST(partitioners)
{
    struct {
        const char *name;
        eddy_stream *(*fn)(eddy_stream *);
        const char *want;
    } cases[] = {
        {"rebalance", eddy_rebalance, "10 10 10"},
        {"broadcast", eddy_broadcast, "30 30 30"},
        {"global", eddy_global, "30 0 0"},
    };
    for (size_t c = 0; c < 3; c++) {
        eddy_env *env = eddy_env_new();
        eddy_env_set_parallelism(env, 1);
        char *got = per_subtask(env, cases[c].fn(numbers(env, 30)), 3);
        if (strcmp(got, cases[c].want)) ED_FAIL_AT("%s: got %s, want %s", cases[c].name, got, cases[c].want);
        free(got);
        eddy_env_free(env);
    }
    /* custom: n % 3 */
    eddy_env *env = eddy_env_new();
    char *got = per_subtask(env, eddy_partition_custom(numbers(env, 31), EDDY_FN(by_mod), "n"), 3);
    ED_CHECK_STR(got, "10 11 10");
    free(got);
    eddy_env_free(env);
    /* shuffle: every record arrives once, somewhere */
    env = eddy_env_new();
    got = per_subtask(env, eddy_shuffle(numbers(env, 3000)), 3);
    int a, b, c;
    ED_CHECK(sscanf(got, "%d %d %d", &a, &b, &c) == 3 && a + b + c == 3000 && a > 800 && b > 800 && c > 800);
    free(got);
    eddy_env_free(env);
}

ED_TEST(rescale_is_pointwise)
{
    /* 2 producers to 4 consumers: producer 0 feeds subtasks 0-1, producer 1 feeds 2-3 */
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", "99",
                                   "rows-per-second", "0", NULL);
    eddy_stream *m = eddy_set_parallelism(eddy_map(eddy_rescale(src), EDDY_FN(tag_subtask), "sub BIGINT, n BIGINT"), 4);
    eddy_result *r = eddy_collect(m);
    ED_REQUIRE(eddy_execute(env, "rescale") == 0);
    int bad = 0;
    for (size_t i = 0; i < eddy_result_count(r); i++) {
        int64_t sub = eddy_row_i64(eddy_result_row(r, i), 0), n = eddy_row_i64(eddy_result_row(r, i), 1);
        /* datagen splits the sequence: subtask 0 makes 0..49, subtask 1 makes 50..99 */
        bad += (n < 50) != (sub < 2);
    }
    ED_CHECK_INT(eddy_result_count(r), 100);
    ED_CHECK_INT(bad, 0);
    eddy_env_free(env);
}

ED_TEST(union_of_two_streams)
{
    for (int p = 1; p <= 2; p++) {
        eddy_env *env = eddy_env_new();
        eddy_env_set_parallelism(env, p);
        eddy_stream *a = numbers(env, 3);
        eddy_stream *b = eddy_map(numbers(env, 2), EDDY_FN(times_ten), "n BIGINT");
        char *got = run_collect(env, eddy_union(a, b), 1);
        ED_CHECK_STR(got, "+I[10]\n+I[1]\n+I[20]\n+I[2]\n+I[3]");
        free(got);
        eddy_env_free(env);
    }
}

/* ---- side outputs, rich functions, parameters --------------------------------------------- */

int side_open(eddy_ctx *ctx)
{
    eddy_ctx_set_user(ctx, eddy_rb_new(2));
    return 0;
}

void side_close(eddy_ctx *ctx) { eddy_rb_free(eddy_ctx_user(ctx)); }

int split_odd(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    if (eddy_row_i64(in, 0) % 2) {
        eddy_row_builder *b = eddy_ctx_user(ctx);
        eddy_rb_reset(b);
        eddy_rb_set_cstr(b, 0, "odd");
        eddy_rb_set_i64(b, 1, eddy_row_i64(in, 0));
        return eddy_emit_side(out, "odd", eddy_rb_row(b));
    }
    return eddy_emit(out, in);
}

ED_TEST(side_output)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    eddy_stream *main = eddy_process(eddy_rebalance(numbers(env, 6)), EDDY_FN(split_odd), "n BIGINT");
    eddy_rich(main, EDDY_FN(side_open), EDDY_FN(side_close));
    eddy_stream *side = eddy_side_output(main, "odd", "tag STRING, n BIGINT");
    eddy_result *rm = eddy_collect(main), *rs = eddy_collect(side);
    ED_REQUIRE(eddy_execute(env, "side") == 0);
    char *m = result_text(rm, eddy_stream_schema(main), 1);
    char *s = result_text(rs, eddy_stream_schema(side), 1);
    ED_CHECK_STR(m, "+I[2]\n+I[4]\n+I[6]");
    ED_CHECK_STR(s, "+I[odd, 1]\n+I[odd, 3]\n+I[odd, 5]");
    free(m);
    free(s);
    eddy_env_free(env);
}

static atomic_int opened, closed;

int rich_open(eddy_ctx *ctx)
{
    int64_t *add = malloc(sizeof(*add));
    *add = atoll(eddy_ctx_param(ctx, "add", "0")) + eddy_ctx_subtask(ctx) * 0;
    eddy_ctx_set_user(ctx, add);
    atomic_fetch_add(&opened, 1);
    return 0;
}

void rich_close(eddy_ctx *ctx)
{
    free(eddy_ctx_user(ctx));
    atomic_fetch_add(&closed, 1);
}

int rich_add(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(in, 0) + *(int64_t *)eddy_ctx_user(ctx));
    return 0;
}

ED_TEST(rich_function_open_close_param)
{
    atomic_store(&opened, 0);
    atomic_store(&closed, 0);
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    eddy_stream *s = eddy_map(eddy_rebalance(numbers(env, 3)), EDDY_FN(rich_add), "n BIGINT");
    eddy_rich(s, EDDY_FN(rich_open), EDDY_FN(rich_close));
    eddy_param(s, "add", "100");
    char *got = run_collect(env, s, 1);
    ED_CHECK_STR(got, "+I[101]\n+I[102]\n+I[103]");
    ED_CHECK_INT(atomic_load(&opened), 2);
    ED_CHECK_INT(atomic_load(&closed), 2);
    free(got);
    eddy_env_free(env);
}

/* ---- failures -------------------------------------------------------------------------------- */

int fail_at_77(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    if (eddy_row_i64(in, 0) == 77) return eddy_fail(ctx, "bad value %lld", (long long)eddy_row_i64(in, 0));
    eddy_rb_set_i64(out, 0, eddy_row_i64(in, 0));
    return 0;
}

ED_TEST(failing_function_names_operator_and_subtask)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", "99",
                                   "rows-per-second", "0", NULL);
    eddy_stream *m = eddy_name(eddy_map(src, EDDY_FN(fail_at_77), "id BIGINT"), "Boom");
    eddy_discard(m);
    ED_CHECK_INT(eddy_execute(env, "fails"), -1);
    ED_CHECK_STR(eddy_env_error(env), "operator 'Boom' (subtask 2/2) failed: bad value 77");
    eddy_env_free(env);
}

int fail_silently(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out) { return -1; }

ED_TEST(failing_function_without_message)
{
    eddy_env *env = eddy_env_new();
    eddy_discard(eddy_map(numbers(env, 3), EDDY_FN(fail_silently), "n BIGINT"));
    ED_CHECK_INT(eddy_execute(env, "fails"), -1);
    ED_CHECK_STR(eddy_env_error(env),
                 "operator 'Map' (subtask 1/1) failed: function 'fail_silently' returned an error");
    eddy_env_free(env);
}

static void *cancel_later(void *arg)
{
    usleep(200 * 1000);
    eddy_env_cancel(arg);
    return NULL;
}

ED_TEST(cancel_unbounded_job)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "rows-per-second", "0", NULL);
    eddy_discard(eddy_key_by(src, "id"));
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, env);
    ED_CHECK_INT(eddy_execute(env, "forever"), -1);
    pthread_join(t, NULL);
    ED_CHECK_STR(eddy_env_error(env), "job 'forever' was cancelled");
    eddy_env_free(env);
}

ED_TEST(builder_errors_name_the_call)
{
    eddy_env *env = eddy_env_new();
    eddy_stream *s = numbers(env, 3);
    ED_CHECK(eddy_sum(s, "n") == NULL);
    ED_CHECK_STR(eddy_env_error(env), "eddy_sum needs a keyed stream: call eddy_key_by first");
    eddy_env_free(env);

    env = eddy_env_new();
    ED_CHECK(eddy_key_by(numbers(env, 3), "nope") == NULL);
    ED_CHECK_CONTAINS(eddy_env_error(env), "eddy_key_by: ");
    ED_CHECK_CONTAINS(eddy_env_error(env), "nope");
    eddy_env_free(env);

    env = eddy_env_new();
    ED_CHECK(eddy_map(numbers(env, 3), EDDY_FN(times_ten), "n BIGGINT") == NULL);
    ED_CHECK_CONTAINS(eddy_env_error(env), "Map: ");
    ED_CHECK_CONTAINS(eddy_env_error(env), "BIGGINT");
    eddy_env_free(env);

    env = eddy_env_new();
    eddy_stream *m = eddy_set_parallelism(eddy_map(numbers(env, 3), EDDY_FN(times_ten), "n BIGINT"), 2);
    eddy_discard(eddy_set_parallelism(eddy_map(eddy_forward(m), EDDY_FN(times_ten), "n BIGINT"), 3));
    ED_CHECK_INT(eddy_execute(env, "fwd"), -1);
    ED_CHECK_STR(eddy_env_error(env), "job 'fwd': forward partitioning from 'Map' (parallelism 2) to 'Map' "
                                      "(parallelism 3) needs equal parallelism");
    eddy_env_free(env);

    env = eddy_env_new();
    numbers(env, 3);
    ED_CHECK_INT(eddy_execute(env, "nosink"), -1);
    ED_CHECK_STR(eddy_env_error(env), "job 'nosink': the job has no sink: add eddy_print, eddy_sink or eddy_collect");
    eddy_env_free(env);

    env = eddy_env_new();
    ED_CHECK(eddy_source(env, "datagen", "id BIGINT", "bogus", "1", NULL) == NULL);
    ED_CHECK_CONTAINS(eddy_env_error(env), "bogus");
    eddy_env_free(env);
}
