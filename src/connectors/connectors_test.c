/*
 * connectors_test.c - the built-in sources and sinks, through the public API.
 *
 * Every test runs a whole job in the embedded mini-cluster and checks exact output:
 * which rows arrive (each exactly once, at several parallelisms), the bytes a sink
 * writes, and the exact messages of build-time and run-time errors. Files live in a
 * fresh directory under /tmp; the socket test serves lines from a thread on 127.0.0.1;
 * the print test captures fd 1 by dup2 onto a file.
 */
#include <eddy/eddy.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ed_test.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static char *tmp_dir(void)
{
    static char tmpl[64];
    snprintf(tmpl, sizeof tmpl, "/tmp/eddy-conn-XXXXXX");
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
    fwrite(data, 1, len, f);
    fclose(f);
}

/* The whole file as a NUL-terminated string (NULL if it cannot be read). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += r;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) abort();
            buf = nb;
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static void rm_rf(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", path);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Field 0 of every result row (BIGINT), sorted. The caller frees. */
static int64_t *sorted_ids(const eddy_result *r)
{
    size_t n = eddy_result_count(r);
    int64_t *v = malloc((n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = eddy_row_i64(eddy_result_row(r, i), 0);
    qsort(v, n, sizeof *v, cmp_i64);
    return v;
}

/* Field 0 of every result row (STRING) as C strings, sorted. Free with free_strs. */
static char **sorted_strs(const eddy_result *r)
{
    size_t n = eddy_result_count(r);
    char **v = calloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        eddy_str s = eddy_row_str(eddy_result_row(r, i), 0);
        v[i] = strndup(s.ptr, s.len);
    }
    qsort(v, n, sizeof *v, cmp_str);
    return v;
}

static void free_strs(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static char *field_str(const eddy_row *r, uint32_t i)
{
    eddy_str s = eddy_row_str(r, i);
    return strndup(s.ptr, s.len);
}

/* A datagen stream of BIGINT ids start..end. */
static eddy_stream *seq_source(eddy_env *env, const char *start, const char *end)
{
    return eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence", "fields.id.start",
                       start, "fields.id.end", end, "rows-per-second", "0", NULL);
}

/* ---- datagen ------------------------------------------------------------------------------ */

static void check_sequence(int p)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, p);
    eddy_stream *s = seq_source(env, "1", "1000");
    ED_REQUIRE(s);
    eddy_result *r = eddy_collect(s);
    ED_REQUIRE(eddy_execute(env, "seq") == 0);
    ED_CHECK_INT(eddy_result_count(r), 1000);
    int64_t *v = sorted_ids(r);
    for (size_t i = 0; i < eddy_result_count(r); i++)
        if (v[i] != (int64_t)i + 1) {
            ED_FAIL_AT("p=%d: sorted value %zu is %lld, expected %zu", p, i, (long long)v[i],
                       i + 1);
            break;
        }
    free(v);
    eddy_env_free(env);
}

ED_TEST(datagen_sequence_is_exact_at_p1_p2_p3)
{
    check_sequence(1);
    check_sequence(2);
    check_sequence(3);
}

ED_TEST(datagen_sequence_p1_in_order)
{
    eddy_env *env = eddy_env_new();
    eddy_result *r = eddy_collect(seq_source(env, "-3", "3"));
    ED_REQUIRE(eddy_execute(env, "seq") == 0);
    ED_REQUIRE(eddy_result_count(r) == 7);
    for (size_t i = 0; i < 7; i++)
        ED_CHECK_INT(eddy_row_i64(eddy_result_row(r, i), 0), (int64_t)i - 3);
    eddy_env_free(env);
}

ED_TEST(datagen_sequence_string_and_int)
{
    eddy_env *env = eddy_env_new();
    eddy_stream *s = eddy_source(env, "datagen", "n INT, s STRING", "fields.n.kind", "sequence",
                                 "fields.n.start", "7", "fields.n.end", "9", "fields.s.kind",
                                 "sequence", "fields.s.start", "100", "fields.s.end", "200", NULL);
    ED_REQUIRE(s);
    eddy_result *r = eddy_collect(s);
    ED_REQUIRE(eddy_execute(env, "seq") == 0);
    /* The source ends with its shortest sequence, as Flink's. */
    ED_REQUIRE(eddy_result_count(r) == 3);
    for (size_t i = 0; i < 3; i++) {
        const eddy_row *row = eddy_result_row(r, i);
        ED_CHECK_INT(eddy_row_i32(row, 0), 7 + (int)i);
        char *str = field_str(row, 1), want[8];
        snprintf(want, sizeof want, "%d", 100 + (int)i);
        ED_CHECK_STR(str, want);
        free(str);
    }
    eddy_env_free(env);
}

ED_TEST(datagen_number_of_rows_total_is_exact)
{
    for (int p = 1; p <= 4; p++) {
        for (int rows = 0; rows <= 11; rows += 11) {
            eddy_env *env = eddy_env_new();
            eddy_env_set_parallelism(env, p);
            char n[16];
            snprintf(n, sizeof n, "%d", rows);
            eddy_stream *s = eddy_source(env, "datagen", "a INT, b STRING, c DOUBLE, d BOOLEAN",
                                         "number-of-rows", n, "rows-per-second", "0", NULL);
            ED_REQUIRE(s);
            eddy_result *r = eddy_collect(s);
            ED_REQUIRE(eddy_execute(env, "rows") == 0);
            if ((int)eddy_result_count(r) != rows)
                ED_FAIL_AT("p=%d rows=%d: got %zu", p, rows, eddy_result_count(r));
            eddy_env_free(env);
        }
    }
}

/* Runs a seeded random source at parallelism p and returns the result's env. */
static eddy_env *seeded_run(const char *seed, int p, eddy_result **r)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, p);
    eddy_stream *s =
        eddy_source(env, "datagen", "a INT, b BIGINT, s STRING, x DOUBLE, t BYTES",
                    "number-of-rows", "200", "rows-per-second", "0", "seed", seed, "fields.a.min",
                    "5", "fields.a.max", "10", "fields.s.length", "7", "fields.x.min", "-1",
                    "fields.x.max", "1", "fields.t.length", "3", NULL);
    *r = s ? eddy_collect(s) : NULL;
    if (!s || eddy_execute(env, "seeded") != 0) {
        fprintf(stderr, "seeded run failed: %s\n", eddy_env_error(env));
        eddy_env_free(env);
        return NULL;
    }
    return env;
}

static bool same_rows(const eddy_result *a, const eddy_result *b)
{
    if (eddy_result_count(a) != eddy_result_count(b)) return false;
    for (size_t i = 0; i < eddy_result_count(a); i++) {
        const eddy_row *x = eddy_result_row(a, i), *y = eddy_result_row(b, i);
        if (eddy_row_size(x) != eddy_row_size(y) || memcmp(x, y, eddy_row_size(x)) != 0)
            return false;
    }
    return true;
}

ED_TEST(datagen_seeded_random_is_deterministic_and_in_range)
{
    for (int p = 1; p <= 2; p++) {
        eddy_result *r1, *r2, *r3;
        eddy_env *e1 = seeded_run("42", p, &r1), *e2 = seeded_run("42", p, &r2),
                 *e3 = seeded_run("43", p, &r3);
        ED_REQUIRE(e1 && e2 && e3);
        ED_CHECK_INT(eddy_result_count(r1), 200);
        ED_CHECK(same_rows(r1, r2));
        ED_CHECK(!same_rows(r1, r3));
        for (size_t i = 0; i < eddy_result_count(r1); i++) {
            const eddy_row *row = eddy_result_row(r1, i);
            int32_t a = eddy_row_i32(row, 0);
            double x = eddy_row_f64(row, 3);
            eddy_str s = eddy_row_str(row, 2);
            if (a < 5 || a > 10 || x < -1 || x > 1 || s.len != 7 || eddy_row_str(row, 4).len != 3) {
                ED_FAIL_AT("row %zu out of range: a=%d x=%g len=%u", i, a, x, s.len);
                break;
            }
            for (uint32_t k = 0; k < s.len; k++)
                if (!strchr("0123456789abcdef", s.ptr[k])) ED_FAIL_AT("not hex: %c", s.ptr[k]);
        }
        eddy_env_free(e1);
        eddy_env_free(e2);
        eddy_env_free(e3);
    }
}

ED_TEST(datagen_null_rate_and_timestamps)
{
    eddy_env *env = eddy_env_new();
    /* "now", give or take a minute: this machine's clock may be stepped meanwhile */
    int64_t before = (int64_t)time(NULL) * 1000 - 60000;
    eddy_stream *s = eddy_source(env, "datagen", "a INT, t TIMESTAMP(3), u TIMESTAMP(3)",
                                 "number-of-rows", "50", "rows-per-second", "0",
                                 "fields.a.null-rate", "1", "fields.u.max-past", "1 h", NULL);
    ED_REQUIRE(s);
    eddy_result *r = eddy_collect(s);
    ED_REQUIRE(eddy_execute(env, "nulls") == 0);
    int64_t after = (int64_t)time(NULL) * 1000 + 60000;
    ED_REQUIRE(eddy_result_count(r) == 50);
    for (size_t i = 0; i < 50; i++) {
        const eddy_row *row = eddy_result_row(r, i);
        ED_CHECK(eddy_row_is_null(row, 0));
        int64_t t = eddy_row_i64(row, 1), u = eddy_row_i64(row, 2);
        ED_CHECK(t >= before && t <= after);
        ED_CHECK(u >= before - 3600 * 1000 && u <= after);
    }
    eddy_env_free(env);
}

ED_TEST(datagen_rate_limit_spreads_rows_over_time)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    eddy_stream *s = eddy_source(env, "datagen", "id BIGINT", "number-of-rows", "60",
                                 "rows-per-second", "200", NULL);
    ED_REQUIRE(s);
    eddy_result *r = eddy_collect(s);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    ED_REQUIRE(eddy_execute(env, "rate") == 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    ED_CHECK_INT(eddy_result_count(r), 60);
    /* 30 rows per subtask at 100/s: the first at once, the 30th after 0.29 s. */
    if (secs < 0.25 || secs > 5) ED_FAIL_AT("60 rows at 200/s took %.3f s", secs);
    eddy_env_free(env);
}

/* Builds a datagen source with the given options and returns the build error. */
static const char *datagen_error(eddy_env *env, const char *schema, const char *k1, const char *v1,
                                 const char *k2, const char *v2)
{
    eddy_stream *s = eddy_source(env, "datagen", schema, k1, v1, k2, v2, NULL);
    if (s) return NULL;
    return eddy_env_error(env);
}

ED_TEST(datagen_check_rejects_bad_options_by_name)
{
    struct {
        const char *schema, *k1, *v1, *k2, *v2, *want;
    } cases[] = {
        {"id BIGINT", "fields.id.kind", "randm", NULL, NULL,
         "datagen: option 'fields.id.kind': 'randm' is not random or sequence"},
        {"id BIGINT", "fields.idd.kind", "random", NULL, NULL,
         "datagen: option 'fields.idd.kind': no field 'idd' in the schema"},
        {"id BIGINT", "fields.id.kind", "sequence", "fields.id.start", "1",
         "datagen: field 'id': kind 'sequence' needs options 'fields.id.start' and "
         "'fields.id.end'"},
        {"id INT", "fields.id.min", "10", "fields.id.max", "5",
         "datagen: option 'fields.id.min': '10' is greater than 'fields.id.max' '5'"},
        {"id INT", "fields.id.max", "3000000000", NULL, NULL,
         "datagen: option 'fields.id.max': '3000000000' is out of range"},
        {"id BIGINT", "rows-per-sec", "5", NULL, NULL, "datagen: unknown option 'rows-per-sec'"},
        {"id BIGINT", "number-of-rows", "ten", NULL, NULL,
         "datagen: option 'number-of-rows': 'ten' is not an integer"},
        {"id BIGINT", "fields.id.length", "5", NULL, NULL,
         "datagen: option 'fields.id.length' does not apply to random field 'id' of type BIGINT"},
        {"id BIGINT NOT NULL", "fields.id.null-rate", "0.5", NULL, NULL,
         "datagen: option 'fields.id.null-rate': '0.5' but field 'id' is NOT NULL"},
        {"b BOOLEAN", "fields.b.kind", "sequence", NULL, NULL,
         "datagen: field 'b': kind 'sequence' is not supported for BOOLEAN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        eddy_env *env = eddy_env_new();
        const char *e =
            datagen_error(env, cases[i].schema, cases[i].k1, cases[i].v1, cases[i].k2, cases[i].v2);
        ED_CHECK_CONTAINS(e, cases[i].want);
        eddy_env_free(env);
    }
    /* start > end */
    eddy_env *env = eddy_env_new();
    ED_CHECK(!seq_source(env, "5", "1"));
    ED_CHECK_CONTAINS(eddy_env_error(env),
                      "datagen: option 'fields.id.start': '5' is greater than 'fields.id.end' '1'");
    eddy_env_free(env);
}

/* ---- filesystem source -------------------------------------------------------------------- */

ED_TEST(fs_source_csv_with_quoting)
{
    char *dir = tmp_dir(), *f = path_in(dir, "in.csv");
    const char *csv = "1,\"hello, world\",2.5\n"
                      "2,\"say \"\"hi\"\"\",-3\r\n"
                      "\n"
                      "3,plain,0.125\n";
    write_file(f, csv, strlen(csv));
    eddy_env *env = eddy_env_new();
    eddy_stream *s = eddy_source(env, "filesystem", "id INT, s STRING, d DOUBLE", "path", f,
                                 "format", "csv", NULL);
    ED_REQUIRE(s);
    eddy_result *r = eddy_collect(s);
    ED_REQUIRE(eddy_execute(env, "csv") == 0);
    ED_REQUIRE(eddy_result_count(r) == 3);
    const char *want_s[] = {"hello, world", "say \"hi\"", "plain"};
    double want_d[] = {2.5, -3, 0.125};
    for (size_t i = 0; i < 3; i++) {
        const eddy_row *row = eddy_result_row(r, i);
        ED_CHECK_INT(eddy_row_i32(row, 0), (int)i + 1);
        char *str = field_str(row, 1);
        ED_CHECK_STR(str, want_s[i]);
        free(str);
        ED_CHECK(eddy_row_f64(row, 2) == want_d[i]);
    }
    eddy_env_free(env);
    rm_rf(dir);
    free(f);
    free(dir);
}

ED_TEST(fs_source_csv_delimiter_option)
{
    char *dir = tmp_dir(), *f = path_in(dir, "in.tsv");
    write_file(f, "1\ta,b\n2\tc\n", 10);
    eddy_env *env = eddy_env_new();
    eddy_result *r = eddy_collect(eddy_source(env, "filesystem", "id INT, s STRING", "path", f,
                                              "format", "csv", "csv.field-delimiter", "\\t", NULL));
    ED_REQUIRE(eddy_execute(env, "tsv") == 0);
    ED_REQUIRE(eddy_result_count(r) == 2);
    char *s0 = field_str(eddy_result_row(r, 0), 1);
    ED_CHECK_STR(s0, "a,b");
    free(s0);
    eddy_env_free(env);
    rm_rf(dir);
    free(f);
    free(dir);
}

static const char bad_csv[] = "id,price\n" /* a header is a bad row too: 'price' */
                              "1,1.5\n"
                              "2,abc\n"
                              "3,2.5\n";

ED_TEST(fs_source_bad_csv_row_fails_with_place)
{
    char *dir = tmp_dir(), *f = path_in(dir, "in.csv");
    write_file(f, bad_csv + 9, strlen(bad_csv + 9)); /* without the header */
    eddy_env *env = eddy_env_new();
    eddy_stream *s =
        eddy_source(env, "filesystem", "id INT, price DOUBLE", "path", f, "format", "csv", NULL);
    ED_REQUIRE(s);
    eddy_collect(s);
    ED_CHECK(eddy_execute(env, "bad") != 0);
    char want[512];
    snprintf(want, sizeof want, "%s:2: field 2 (price): 'abc' is not a DOUBLE", f);
    ED_CHECK_CONTAINS(eddy_env_error(env), want);
    eddy_env_free(env);
    rm_rf(dir);
    free(f);
    free(dir);
}

ED_TEST(fs_source_ignore_parse_errors_keeps_good_rows)
{
    char *dir = tmp_dir(), *f = path_in(dir, "in.csv");
    write_file(f, bad_csv, strlen(bad_csv));
    for (int p = 1; p <= 3; p++) {
        eddy_env *env = eddy_env_new();
        eddy_env_set(env, "log.level", "OFF");
        eddy_env_set_parallelism(env, p);
        eddy_stream *s = eddy_source(env, "filesystem", "id INT, price DOUBLE", "path", f, "format",
                                     "csv", "csv.ignore-parse-errors", "true", NULL);
        ED_REQUIRE(s);
        eddy_result *r = eddy_collect(s);
        ED_REQUIRE(eddy_execute(env, "ignore") == 0);
        ED_CHECK_INT(eddy_result_count(r), 2);
        int64_t sum = 0;
        for (size_t i = 0; i < eddy_result_count(r); i++)
            sum += eddy_row_i32(eddy_result_row(r, i), 0);
        ED_CHECK_INT(sum, 4); /* rows 1 and 3 */
        eddy_env_free(env);
    }
    rm_rf(dir);
    free(f);
    free(dir);
}

/* Lines "line <i> ..." of varying length; one of `longest` bytes at index `long_at`. */
static char *make_lines(int n, int long_at, size_t longest, bool trailing_nl, size_t *len)
{
    size_t cap = (size_t)n * 64 + longest + 64, w = 0;
    char *buf = malloc(cap);
    for (int i = 0; i < n; i++) {
        w += (size_t)snprintf(buf + w, cap - w, "line %d", i);
        size_t pad = i == long_at ? longest : (size_t)(i * 7 % 40);
        memset(buf + w, 'a' + i % 26, pad);
        w += pad;
        if (i < n - 1 || trailing_nl) buf[w++] = '\n';
    }
    *len = w;
    return buf;
}

static void check_text_read(const char *path, const char *data, size_t len, int p)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, p);
    eddy_stream *s = eddy_read_text_file(env, path);
    if (!s) {
        ED_FAIL_AT("%s", eddy_env_error(env));
        eddy_env_free(env);
        return;
    }
    eddy_result *r = eddy_collect(s);
    if (eddy_execute(env, "text") != 0) {
        ED_FAIL_AT("p=%d: %s", p, eddy_env_error(env));
        eddy_env_free(env);
        return;
    }
    /* The expected lines: split data on '\n'. */
    size_t n = 0;
    char **want = calloc(len + 2, sizeof *want);
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(data + at, '\n', len - at);
        size_t l = nl ? (size_t)(nl - (data + at)) : len - at;
        want[n++] = strndup(data + at, l);
        at += l + 1;
    }
    qsort(want, n, sizeof *want, cmp_str);
    char **got = sorted_strs(r);
    if (eddy_result_count(r) != n)
        ED_FAIL_AT("p=%d: %zu lines, expected %zu", p, eddy_result_count(r), n);
    for (size_t i = 0; i < n && i < eddy_result_count(r); i++)
        if (strcmp(got[i], want[i]) != 0) {
            ED_FAIL_AT("p=%d: line %zu differs (%.30s... vs %.30s...)", p, i, got[i], want[i]);
            break;
        }
    free_strs(got);
    free_strs(want);
    eddy_env_free(env);
}

ED_TEST(fs_source_parallel_reads_every_line_once)
{
    char *dir = tmp_dir(), *f = path_in(dir, "lines.txt");
    for (int trailing = 0; trailing <= 1; trailing++) {
        size_t len;
        char *data = make_lines(2000, 700, 100, trailing, &len);
        write_file(f, data, len);
        for (int p = 1; p <= 3; p++)
            check_text_read(f, data, len, p);
        free(data);
    }
    /* a small file read by more subtasks than it has bytes per line */
    write_file(f, "a\nb\n\nc", 6);
    for (int p = 1; p <= 5; p++)
        check_text_read(f, "a\nb\n\nc", 6, p);
    rm_rf(dir);
    free(f);
    free(dir);
}

ED_TEST(fs_source_lines_crossing_and_exceeding_the_read_buffer)
{
    char *dir = tmp_dir(), *f = path_in(dir, "big.txt");
    for (int trailing = 0; trailing <= 1; trailing++) {
        size_t len;
        /* ~1.2 MiB of short lines with one 2.5 MiB line in the middle: lines cross the
         * 1 MiB buffer's end and one is longer than the buffer. */
        char *data = make_lines(40000, 20000, (size_t)5 << 19, trailing, &len);
        write_file(f, data, len);
        for (int p = 1; p <= 3; p++)
            check_text_read(f, data, len, p);
        free(data);
    }
    rm_rf(dir);
    free(f);
    free(dir);
}

ED_TEST(fs_source_directory_skips_hidden_files)
{
    char *dir = tmp_dir();
    char *a = path_in(dir, "a.txt"), *b = path_in(dir, "b.txt"), *h = path_in(dir, ".hidden"),
         *u = path_in(dir, "_SUCCESS"), *sub = path_in(dir, "sub");
    write_file(a, "a1\na2\n", 6);
    write_file(b, "b1", 2);
    write_file(h, "hidden\n", 7);
    write_file(u, "underscore\n", 11);
    mkdir(sub, 0755);
    eddy_env *env = eddy_env_new();
    eddy_result *r = eddy_collect(eddy_read_text_file(env, dir));
    ED_REQUIRE(eddy_execute(env, "dir") == 0);
    ED_REQUIRE(eddy_result_count(r) == 3);
    const char *want[] = {"a1", "a2", "b1"}; /* files in name order */
    for (size_t i = 0; i < 3; i++) {
        char *s = field_str(eddy_result_row(r, i), 0);
        ED_CHECK_STR(s, want[i]);
        free(s);
    }
    eddy_env_free(env);
    rm_rf(dir);
    free(a), free(b), free(h), free(u), free(sub), free(dir);
}

ED_TEST(fs_source_invalid_utf8_names_exact_line_at_any_parallelism)
{
    char *dir = tmp_dir(), *f = path_in(dir, "bad.txt");
    size_t len;
    char *data = make_lines(3000, -1, 0, true, &len);
    /* line 2901 (1-based) gets an invalid byte */
    size_t at = 0;
    for (int i = 0; i < 2900; i++)
        at = (size_t)((char *)memchr(data + at, '\n', len - at) - data) + 1;
    data[at + 2] = (char)0xff;
    write_file(f, data, len);
    char want[512];
    snprintf(want, sizeof want, "%s:2901: invalid UTF-8", f);
    for (int p = 1; p <= 3; p++) {
        eddy_env *env = eddy_env_new();
        eddy_env_set_parallelism(env, p);
        eddy_collect(eddy_read_text_file(env, f));
        ED_CHECK(eddy_execute(env, "utf8") != 0);
        ED_CHECK_CONTAINS(eddy_env_error(env), want);
        eddy_env_free(env);

        /* csv.ignore-parse-errors applies to text too: every other line arrives */
        env = eddy_env_new();
        eddy_env_set(env, "log.level", "OFF");
        eddy_env_set_parallelism(env, p);
        eddy_result *r = eddy_collect(eddy_source(env, "filesystem", "line STRING", "path", f,
                                                  "csv.ignore-parse-errors", "true", NULL));
        ED_CHECK(eddy_execute(env, "utf8-ignore") == 0);
        ED_CHECK_INT(eddy_result_count(r), 2999);
        eddy_env_free(env);
    }
    free(data);
    rm_rf(dir);
    free(f);
    free(dir);
}

ED_TEST(fs_source_check_errors)
{
    eddy_env *env = eddy_env_new();
    ED_CHECK(!eddy_read_text_file(env, "/nonexistent/eddy/in.txt"));
    ED_CHECK_CONTAINS(eddy_env_error(env),
                      "filesystem: option 'path': '/nonexistent/eddy/in.txt': No such file or "
                      "directory");
    eddy_env_free(env);

    env = eddy_env_new();
    ED_CHECK(
        !eddy_source(env, "filesystem", "a INT, b INT", "path", "/tmp", "format", "text", NULL));
    ED_CHECK_CONTAINS(eddy_env_error(env), "format 'text' needs a schema of one STRING field");
    eddy_env_free(env);

    env = eddy_env_new();
    ED_CHECK(!eddy_source(env, "filesystem", "a INT", "path", "/tmp", "format", "json", NULL));
    ED_CHECK_CONTAINS(eddy_env_error(env),
                      "filesystem: option 'format': 'json' is not text or csv");
    eddy_env_free(env);

    env = eddy_env_new();
    ED_CHECK(!eddy_source(env, "filesystem", "a INT", "path", "/tmp", "format", "csv",
                          "csv.field-delimiter", ";;", NULL));
    ED_CHECK_CONTAINS(eddy_env_error(env), "option 'csv.field-delimiter': ';;' is not a single");
    eddy_env_free(env);
}

/* ---- filesystem sink ---------------------------------------------------------------------- */

ED_TEST(fs_sink_text_and_csv_at_p1)
{
    char *dir = tmp_dir(), *t = path_in(dir, "out.txt"), *c = path_in(dir, "out.csv"),
         *w = path_in(dir, "wide.txt");
    write_file(t, "old content that must go away\n", 30);
    eddy_env *env = eddy_env_new();
    ED_REQUIRE(eddy_write_as_text(seq_source(env, "1", "5"), t) == 0);
    eddy_stream *two =
        eddy_source(env, "datagen", "id BIGINT, s STRING", "fields.id.kind", "sequence",
                    "fields.id.start", "1", "fields.id.end", "3", "fields.s.kind", "sequence",
                    "fields.s.start", "10", "fields.s.end", "12", "rows-per-second", "0", NULL);
    ED_REQUIRE(eddy_sink(two, "filesystem", "path", c, "format", "csv", "csv.field-delimiter", "|",
                         NULL) == 0);
    ED_REQUIRE(eddy_write_as_text(two, w) == 0);
    ED_REQUIRE(eddy_execute(env, "sink") == 0);
    char *got = slurp(t);
    ED_CHECK_STR(got, "1\n2\n3\n4\n5\n");
    free(got);
    got = slurp(c);
    ED_CHECK_STR(got, "1|10\n2|11\n3|12\n");
    free(got);
    got = slurp(w);
    ED_CHECK_STR(got, "+I[1, 10]\n+I[2, 11]\n+I[3, 12]\n");
    free(got);
    eddy_env_free(env);
    rm_rf(dir);
    free(t), free(c), free(w), free(dir);
}

ED_TEST(fs_sink_one_file_per_subtask_at_p2)
{
    char *dir = tmp_dir(), *out = path_in(dir, "out/nested");
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    ED_REQUIRE(eddy_write_as_text(seq_source(env, "1", "10"), out) == 0);
    ED_REQUIRE(eddy_execute(env, "sink2") == 0);
    char *f1 = path_in(out, "1"), *f2 = path_in(out, "2");
    char *g1 = slurp(f1), *g2 = slurp(f2);
    /* source subtask i feeds sink subtask i (forward): contiguous halves */
    ED_CHECK_STR(g1, "1\n2\n3\n4\n5\n");
    ED_CHECK_STR(g2, "6\n7\n8\n9\n10\n");
    free(g1), free(g2), free(f1), free(f2);
    eddy_env_free(env);
    rm_rf(dir);
    free(out), free(dir);
}

ED_TEST(fs_sink_write_failure_fails_the_job)
{
    /* /dev/full accepts open and fails every write with ENOSPC. */
    eddy_env *env = eddy_env_new();
    ED_REQUIRE(eddy_write_as_text(seq_source(env, "1", "100000"), "/dev/full") == 0);
    ED_CHECK(eddy_execute(env, "full") != 0);
    ED_CHECK_CONTAINS(eddy_env_error(env),
                      "filesystem: cannot write '/dev/full': No space left on device");
    eddy_env_free(env);

    env = eddy_env_new();
    ED_REQUIRE(eddy_write_as_text(seq_source(env, "1", "3"), "/nonexistent/eddy/out.txt") == 0);
    ED_CHECK(eddy_execute(env, "noent") != 0);
    ED_CHECK_CONTAINS(eddy_env_error(env),
                      "filesystem: cannot open '/nonexistent/eddy/out.txt' for writing: No such "
                      "file or directory");
    eddy_env_free(env);
}

/* ---- print and blackhole ------------------------------------------------------------------ */

/* Runs env's job with fd 1 redirected to a file; returns what was printed. */
static char *run_capturing_stdout(eddy_env *env)
{
    char *dir = tmp_dir(), *f = path_in(dir, "stdout");
    fflush(stdout);
    int saved = dup(1), fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    close(fd);
    int rc = eddy_execute(env, "print");
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    char *out = rc == 0 ? slurp(f) : NULL;
    if (rc != 0) fprintf(stderr, "print job failed: %s\n", eddy_env_error(env));
    rm_rf(dir);
    free(f), free(dir);
    return out;
}

/* The lines of s, sorted, joined again. */
static char *sorted_lines(const char *s)
{
    char *copy = strdup(s), *save = NULL, *lines[256];
    int n = 0;
    for (char *l = strtok_r(copy, "\n", &save); l && n < 256; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    qsort(lines, (size_t)n, sizeof *lines, cmp_str);
    char *out = calloc(strlen(s) + 2, 1);
    for (int i = 0; i < n; i++)
        strcat(strcat(out, lines[i]), "\n");
    free(copy);
    return out;
}

ED_TEST(print_at_p1_has_no_prefix)
{
    eddy_env *env = eddy_env_new();
    ED_REQUIRE(eddy_print(seq_source(env, "1", "4")) == 0);
    char *out = run_capturing_stdout(env);
    ED_CHECK_STR(out, "1\n2\n3\n4\n");
    free(out);
    eddy_env_free(env);

    env = eddy_env_new();
    eddy_stream *s =
        eddy_source(env, "datagen", "id BIGINT, s STRING, n INT", "fields.id.kind", "sequence",
                    "fields.id.start", "1", "fields.id.end", "2", "fields.s.kind", "sequence",
                    "fields.s.start", "7", "fields.s.end", "8", "fields.n.null-rate", "1", NULL);
    ED_REQUIRE(eddy_sink(s, "print", "print-identifier", "rows", NULL) == 0);
    out = run_capturing_stdout(env);
    ED_CHECK_STR(out, "rows> +I[1, 7, null]\nrows> +I[2, 8, null]\n");
    free(out);
    eddy_env_free(env);
}

ED_TEST(print_at_p2_prefixes_subtask)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    ED_REQUIRE(eddy_print(seq_source(env, "1", "4")) == 0);
    char *out = run_capturing_stdout(env);
    ED_REQUIRE(out);
    char *sorted = sorted_lines(out);
    ED_CHECK_STR(sorted, "1> 1\n1> 2\n2> 3\n2> 4\n");
    /* each subtask's lines keep their order */
    ED_CHECK(strstr(out, "1> 1\n") < strstr(out, "1> 2\n"));
    free(sorted), free(out);
    eddy_env_free(env);

    env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    ED_REQUIRE(eddy_sink(seq_source(env, "1", "2"), "print", "print-identifier", "id", NULL) == 0);
    out = run_capturing_stdout(env);
    ED_REQUIRE(out);
    sorted = sorted_lines(out);
    ED_CHECK_STR(sorted, "id:1> 1\nid:2> 2\n");
    free(sorted), free(out);
    eddy_env_free(env);

    env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    ED_REQUIRE(eddy_env_set(env, "eddy.sink.print.prefix", "false") == 0);
    ED_REQUIRE(eddy_print(seq_source(env, "1", "2")) == 0);
    out = run_capturing_stdout(env);
    ED_REQUIRE(out);
    sorted = sorted_lines(out);
    ED_CHECK_STR(sorted, "1\n2\n");
    free(sorted), free(out);
    eddy_env_free(env);
}

ED_TEST(print_many_rows_in_buffers)
{
    eddy_env *env = eddy_env_new();
    ED_REQUIRE(eddy_print(seq_source(env, "1", "100000")) == 0);
    char *out = run_capturing_stdout(env);
    ED_REQUIRE(out);
    /* exact: every number once, in order, across many 64 KiB writes */
    char *p = out;
    for (int i = 1; i <= 100000; i++) {
        char want[16];
        int n = snprintf(want, sizeof want, "%d\n", i);
        if (strncmp(p, want, (size_t)n) != 0) {
            ED_FAIL_AT("line %d differs", i);
            break;
        }
        p += n;
    }
    ED_CHECK(*p == '\0');
    free(out);
    eddy_env_free(env);
}

ED_TEST(print_and_blackhole_reject_unknown_options)
{
    eddy_env *env = eddy_env_new();
    ED_CHECK(eddy_sink(seq_source(env, "1", "2"), "print", "standard-error", "maybe", NULL) != 0);
    ED_CHECK_CONTAINS(eddy_env_error(env),
                      "print: option 'standard-error': 'maybe' is not true or false");
    eddy_env_free(env);

    env = eddy_env_new();
    ED_CHECK(eddy_sink(seq_source(env, "1", "2"), "blackhole", "x", "1", NULL) != 0);
    ED_CHECK_CONTAINS(eddy_env_error(env), "unknown option 'x'");
    eddy_env_free(env);
}

ED_TEST(blackhole_discards)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    ED_REQUIRE(eddy_discard(seq_source(env, "1", "10000")) == 0);
    ED_CHECK(eddy_execute(env, "blackhole") == 0);
    eddy_env_free(env);
}

/* ---- socket ------------------------------------------------------------------------------- */

typedef struct server {
    int listen_fd, port;
    const char *payload;
    int connections; /* serve the payload this many times */
} server;

static void *serve(void *arg)
{
    server *s = arg;
    for (int i = 0; i < s->connections; i++) {
        int c = accept(s->listen_fd, NULL, NULL);
        if (c < 0) break;
        /* in pieces, so records straddle reads */
        size_t len = strlen(s->payload);
        for (size_t at = 0; at < len; at += 3) {
            size_t n = len - at < 3 ? len - at : 3;
            if (write(c, s->payload + at, n) < 0) break;
            usleep(1000);
        }
        close(c);
    }
    return NULL;
}

static int listen_local(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static eddy_result *run_socket(server *srv, const char *delim, const char *retry, int *rc,
                               eddy_env **envp)
{
    char port[16];
    snprintf(port, sizeof port, "%d", srv->port);
    pthread_t th;
    pthread_create(&th, NULL, serve, srv);
    eddy_env *env = eddy_env_new();
    eddy_stream *s = eddy_source(env, "socket", "line STRING", "hostname", "127.0.0.1", "port",
                                 port, "delimiter", delim, "max-retry", retry, NULL);
    eddy_result *r = s ? eddy_collect(s) : NULL;
    *rc = s ? eddy_execute(env, "socket") : -1;
    pthread_join(th, NULL);
    *envp = env;
    return r;
}

ED_TEST(socket_reads_lines_and_the_unterminated_last_one)
{
    server srv = {.payload = "first\nsecond\r\n\nthird line\nlast", .connections = 1};
    srv.listen_fd = listen_local(&srv.port);
    ED_REQUIRE(srv.listen_fd >= 0);
    int rc;
    eddy_env *env;
    eddy_result *r = run_socket(&srv, "\n", "0", &rc, &env);
    ED_REQUIRE(rc == 0);
    const char *want[] = {"first", "second", "", "third line", "last"};
    ED_REQUIRE(eddy_result_count(r) == 5);
    for (size_t i = 0; i < 5; i++) {
        char *s = field_str(eddy_result_row(r, i), 0);
        ED_CHECK_STR(s, want[i]);
        free(s);
    }
    eddy_env_free(env);
    close(srv.listen_fd);
}

ED_TEST(socket_multi_byte_delimiter_and_retry)
{
    /* served twice: max-retry 1 reconnects once after the first connection closes */
    server srv = {.payload = "a||bb||ccc||", .connections = 2};
    srv.listen_fd = listen_local(&srv.port);
    ED_REQUIRE(srv.listen_fd >= 0);
    int rc;
    eddy_env *env;
    eddy_result *r = run_socket(&srv, "||", "1", &rc, &env);
    ED_REQUIRE(rc == 0);
    const char *want[] = {"a", "bb", "ccc", "a", "bb", "ccc"};
    ED_REQUIRE(eddy_result_count(r) == 6);
    for (size_t i = 0; i < 6; i++) {
        char *s = field_str(eddy_result_row(r, i), 0);
        ED_CHECK_STR(s, want[i]);
        free(s);
    }
    eddy_env_free(env);
    close(srv.listen_fd);
}

ED_TEST(socket_connection_refused_fails_with_place)
{
    int port;
    int fd = listen_local(&port);
    ED_REQUIRE(fd >= 0);
    close(fd); /* nobody listens there now */
    char p[16], want[128];
    snprintf(p, sizeof p, "%d", port);
    eddy_env *env = eddy_env_new();
    eddy_collect(eddy_socket_text_stream(env, "127.0.0.1", port));
    ED_CHECK(eddy_execute(env, "refused") != 0);
    snprintf(want, sizeof want, "socket: cannot connect to 127.0.0.1:%d: Connection refused", port);
    ED_CHECK_CONTAINS(eddy_env_error(env), want);
    eddy_env_free(env);

    env = eddy_env_new();
    ED_CHECK(!eddy_source(env, "socket", "line STRING", "hostname", "localhost", NULL));
    ED_CHECK_CONTAINS(eddy_env_error(env), "socket: option 'port' is required");
    eddy_env_free(env);
}
