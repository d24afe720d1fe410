/*
 * state_test.c - the heap state backend: every state kind across keys and namespaces,
 * descriptor errors, TTL (update types, visibility, the exact expiry boundary, cleanup on
 * read and incremental), merging namespaces, iteration over keys, operator and broadcast
 * state, key groups per entry, and steady-state memory.
 */
#include "state/rocks.h"
#include "state/state.h"

#include <eddy/time.h>

#include "ed_test.h"

/* ---- fixtures ---------------------------------------------------------------------------- */

typedef struct fx {
    ed_manual_clock clock;
    ed_state_backend *b;
    eddy_schema *sch;     /* "v BIGINT" */
    eddy_row_builder *rb; /* of sch */
    eddy_row_builder *rb2;
} fx;

static void fx_init(fx *f)
{
    ed_manual_clock_init(&f->clock, 1000);
    f->b = ed_state_backend_new(128, &f->clock.base, NULL);
#ifdef ED_STATE_TEST_ROCKSDB /* state_rocks_test.c: the same tests over RocksDB */
    ed_rocks_options o = {.name = "state-test", .memory = 8 << 20};
    ed_err rerr = {0};
    if (ed_state_backend_use_rocksdb(f->b, &o, &rerr)) {
        fprintf(stderr, "  %s\n", rerr.msg);
        abort();
    }
#endif
    char err[128];
    f->sch = eddy_schema_parse("v BIGINT", err, sizeof err);
    f->rb = eddy_rb_new_schema(f->sch);
    f->rb2 = eddy_rb_new_schema(f->sch);
}

static void fx_free(fx *f)
{
    ed_state_backend_free(f->b);
    eddy_rb_free(f->rb);
    eddy_rb_free(f->rb2);
    eddy_schema_free(f->sch);
}

/* A row "v BIGINT" holding v (valid until the next call with the same builder). */
static const eddy_row *row1(eddy_row_builder *b, int64_t v)
{
    eddy_rb_reset(b);
    eddy_rb_set_i64(b, 0, v);
    return eddy_rb_row(b);
}

/* Current key: one BIGINT word; key group as the runtime would compute it. */
static void set_key(fx *f, int64_t k)
{
    uint8_t key[8];
    memcpy(key, &k, 8);
    ed_state_set_key(f->b, key, 8, ed_key_group(ed_key_hash(key, 8), 128));
}

/* Current namespace: a window [start, end) as two words. */
static void set_ns(fx *f, int64_t start, int64_t end)
{
    uint8_t ns[16];
    memcpy(ns, &start, 8);
    memcpy(ns + 8, &end, 8);
    ed_state_set_namespace(f->b, ns, 16);
}

static int64_t v0(const eddy_row *r)
{
    return r ? eddy_row_i64(r, 0) : -999999;
}

static eddy_state *get_state(fx *f, eddy_state_desc d)
{
    ed_err err = {0};
    eddy_state *s = ed_state_get(f->b, &d, &err);
    if (!s) fprintf(stderr, "  unexpected state error: %s\n", err.msg);
    return s;
}

static int reduce_sum(eddy_ctx *ctx, const eddy_row *acc, const eddy_row *in, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(acc, 0) + eddy_row_i64(in, 0));
    return 0;
}

static int reduce_fail(eddy_ctx *ctx, const eddy_row *acc, const eddy_row *in,
                       eddy_row_builder *out)
{
    return -1;
}

/* An average: acc (sum, cnt), result sum / cnt. */
static int avg_create(eddy_ctx *ctx, eddy_row_builder *acc)
{
    eddy_rb_set_i64(acc, 0, 0);
    eddy_rb_set_i64(acc, 1, 0);
    return 0;
}
static int avg_add(eddy_ctx *ctx, const eddy_row *in, const eddy_row *acc, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(acc, 0) + eddy_row_i64(in, 0));
    eddy_rb_set_i64(out, 1, eddy_row_i64(acc, 1) + 1);
    return 0;
}
static int avg_result(eddy_ctx *ctx, const eddy_row *acc, eddy_row_builder *out)
{
    eddy_rb_set_f64(out, 0, (double)eddy_row_i64(acc, 0) / (double)eddy_row_i64(acc, 1));
    return 0;
}
static int avg_merge(eddy_ctx *ctx, const eddy_row *a, const eddy_row *b, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(a, 0) + eddy_row_i64(b, 0));
    eddy_rb_set_i64(out, 1, eddy_row_i64(a, 1) + eddy_row_i64(b, 1));
    return 0;
}

static eddy_state_desc avg_desc(const char *name, bool with_merge)
{
    eddy_state_desc d = {.name = name, .kind = EDDY_STATE_AGGREGATING, .schema = "v BIGINT"};
    d.aggregate = (eddy_aggregate){.acc_schema = "sum BIGINT, cnt BIGINT",
                                   .out_schema = "avg DOUBLE",
                                   .create = EDDY_FN(avg_create),
                                   .add = EDDY_FN(avg_add),
                                   .result = EDDY_FN(avg_result)};
    if (with_merge) d.aggregate.merge = EDDY_FN(avg_merge);
    return d;
}

/* ---- value ------------------------------------------------------------------------------- */

ED_TEST(value_state_per_key_and_namespace)
{
    fx f;
    fx_init(&f);
    eddy_state *s = get_state(
        &f, (eddy_state_desc){.name = "v", .kind = EDDY_STATE_VALUE, .schema = "v BIGINT"});
    ED_REQUIRE(s);
    for (int64_t k = 1; k <= 3; k++) {
        set_key(&f, k);
        ED_CHECK(eddy_value_get(s) == NULL);
        ED_CHECK_INT(eddy_value_update(s, row1(f.rb, k * 10)), 0);
        set_ns(&f, 0, 10);
        ED_CHECK_INT(eddy_value_update(s, row1(f.rb, k * 100)), 0);
        ed_state_set_namespace(f.b, NULL, 0);
    }
    ED_CHECK_INT(ed_state_entries(s), 6);
    for (int64_t k = 3; k >= 1; k--) {
        set_key(&f, k);
        ED_CHECK_INT(v0(eddy_value_get(s)), k * 10);
        set_ns(&f, 0, 10);
        ED_CHECK_INT(v0(eddy_value_get(s)), k * 100);
        set_ns(&f, 10, 20);
        ED_CHECK(eddy_value_get(s) == NULL);
        ed_state_set_namespace(f.b, NULL, 0);
    }
    /* overwrite, clear one (key, namespace), the others stay */
    set_key(&f, 2);
    ED_CHECK_INT(eddy_value_update(s, row1(f.rb, 21)), 0);
    ED_CHECK_INT(v0(eddy_value_get(s)), 21);
    eddy_state_clear(s);
    ED_CHECK(eddy_value_get(s) == NULL);
    set_ns(&f, 0, 10);
    ED_CHECK_INT(v0(eddy_value_get(s)), 200);
    ED_CHECK_INT(ed_state_entries(s), 5);
    /* update(NULL) clears, as Flink's update(null) */
    ED_CHECK_INT(eddy_value_update(s, NULL), 0);
    ED_CHECK(eddy_value_get(s) == NULL);
    ED_CHECK_INT(ed_state_entries(s), 4);
    /* a row may be written back from the state itself */
    set_key(&f, 1);
    ed_state_set_namespace(f.b, NULL, 0);
    ED_CHECK_INT(eddy_value_update(s, eddy_value_get(s)), 0);
    ED_CHECK_INT(v0(eddy_value_get(s)), 10);
    fx_free(&f);
}

ED_TEST(value_state_string_rows_grow_and_shrink)
{
    fx f;
    fx_init(&f);
    eddy_state *s = get_state(
        &f, (eddy_state_desc){.name = "s", .kind = EDDY_STATE_VALUE, .schema = "w STRING, n INT"});
    ED_REQUIRE(s);
    char err[64];
    eddy_schema *sc = eddy_schema_parse("w STRING, n INT", err, sizeof err);
    eddy_row_builder *rb = eddy_rb_new_schema(sc);
    set_key(&f, 7);
    /* a small first row is kept in the entry's block: growing moves it out, shrinking
     * keeps the bigger buffer */
    const char *words[] = {"a", "a much longer word than the first one, to grow the buffer", "b"};
    for (int i = 0; i < 3; i++) {
        eddy_rb_reset(rb);
        eddy_rb_set_cstr(rb, 0, words[i]);
        eddy_rb_set_i32(rb, 1, i);
        ED_CHECK_INT(eddy_value_update(s, eddy_rb_row(rb)), 0);
        const eddy_row *r = eddy_value_get(s);
        ED_REQUIRE(r);
        eddy_str w = eddy_row_str(r, 0);
        ED_CHECK_INT(w.len, strlen(words[i]));
        ED_CHECK(memcmp(w.ptr, words[i], w.len) == 0);
        ED_CHECK_INT(eddy_row_i32(r, 1), i);
    }
    /* a first row too big for the entry's block lives in its own from the start */
    char big[201];
    memset(big, 'x', 200);
    big[200] = 0;
    set_key(&f, 8);
    eddy_rb_reset(rb);
    eddy_rb_set_cstr(rb, 0, big);
    eddy_rb_set_i32(rb, 1, 8);
    ED_CHECK_INT(eddy_value_update(s, eddy_rb_row(rb)), 0);
    set_key(&f, 7);
    ED_CHECK_INT(eddy_row_str(eddy_value_get(s), 0).len, 1);
    set_key(&f, 8);
    ED_CHECK_INT(eddy_row_str(eddy_value_get(s), 0).len, 200);
    eddy_state_clear(s);
    ED_CHECK(eddy_value_get(s) == NULL);
    eddy_rb_free(rb);
    eddy_schema_free(sc);
    fx_free(&f);
}

ED_TEST(value_default_value_parsed_once)
{
    fx f;
    fx_init(&f);
    eddy_state *s = get_state(&f, (eddy_state_desc){.name = "d",
                                                    .kind = EDDY_STATE_VALUE,
                                                    .schema = "n BIGINT, w STRING",
                                                    .default_value = "42,none"});
    ED_REQUIRE(s);
    set_key(&f, 1);
    const eddy_row *r = eddy_value_get(s);
    ED_REQUIRE(r);
    ED_CHECK_INT(eddy_row_i64(r, 0), 42);
    ED_CHECK(eddy_row_str(r, 1).len == 4 && !memcmp(eddy_row_str(r, 1).ptr, "none", 4));
    ED_CHECK_INT(ed_state_entries(s), 0); /* reading the default stores nothing */
    fx_free(&f);
}

#ifndef ED_STATE_TEST_ROCKSDB /* the heap backend's own memory */
ED_TEST(value_update_of_same_size_does_not_allocate)
{
    fx f;
    fx_init(&f);
    eddy_state *s = get_state(
        &f, (eddy_state_desc){.name = "v", .kind = EDDY_STATE_VALUE, .schema = "v BIGINT"});
    ED_REQUIRE(s);
    for (int64_t k = 0; k < 100; k++) {
        set_key(&f, k);
        eddy_value_update(s, row1(f.rb, k));
    }
    size_t before = ed_state_backend_bytes(f.b);
    for (int round = 0; round < 50; round++) {
        for (int64_t k = 0; k < 100; k++) {
            set_key(&f, k);
            ED_CHECK_INT(eddy_value_update(s, row1(f.rb, v0(eddy_value_get(s)) + 1)), 0);
        }
    }
    ED_CHECK_INT(ed_state_backend_bytes(f.b), before);
    /* clearing and re-creating keys reuses freed blocks */
    for (int round = 0; round < 20; round++) {
        for (int64_t k = 0; k < 100; k++) {
            set_key(&f, k);
            eddy_state_clear(s);
        }
        for (int64_t k = 0; k < 100; k++) {
            set_key(&f, k);
            eddy_value_update(s, row1(f.rb, k));
        }
    }
    ED_CHECK_INT(ed_state_backend_bytes(f.b), before);
    set_key(&f, 99);
    ED_CHECK_INT(v0(eddy_value_get(s)), 99);
    fx_free(&f);
}
#endif

/* ---- list -------------------------------------------------------------------------------- */

ED_TEST(list_state_add_get_update_retain)
{
    fx f;
    fx_init(&f);
    eddy_state *s = get_state(
        &f, (eddy_state_desc){.name = "l", .kind = EDDY_STATE_LIST, .schema = "v BIGINT"});
    ED_REQUIRE(s);
    for (int64_t k = 1; k <= 2; k++) {
        set_key(&f, k);
        for (int64_t i = 0; i < 5; i++)
            ED_CHECK_INT(ed_list_add_ts(s, row1(f.rb, k * 10 + i), 1000 + i), 0);
        set_ns(&f, 0, 5);
        ED_CHECK_INT(eddy_list_add(s, row1(f.rb, -k)), 0);
        ed_state_set_namespace(f.b, NULL, 0);
    }
    set_key(&f, 1);
    ED_CHECK_INT(eddy_list_size(s), 5);
    for (size_t i = 0; i < 5; i++) {
        ED_CHECK_INT(v0(eddy_list_get(s, i)), 10 + (int64_t)i);
        ED_CHECK_INT(ed_list_timestamp(s, i), 1000 + (int64_t)i);
    }
    ED_CHECK(eddy_list_get(s, 5) == NULL);
    set_ns(&f, 0, 5);
    ED_CHECK_INT(eddy_list_size(s), 1);
    ED_CHECK_INT(v0(eddy_list_get(s, 0)), -1);
    ED_CHECK_INT(ed_list_timestamp(s, 0), EDDY_NO_TIMESTAMP);
    ed_state_set_namespace(f.b, NULL, 0);

    /* retain: drop odd positions (an evictor) */
    bool keep[5] = {true, false, true, false, true};
    ED_CHECK_INT(ed_list_retain(s, keep, 5), 0);
    ED_CHECK_INT(eddy_list_size(s), 3);
    ED_CHECK_INT(v0(eddy_list_get(s, 0)), 10);
    ED_CHECK_INT(v0(eddy_list_get(s, 1)), 12);
    ED_CHECK_INT(v0(eddy_list_get(s, 2)), 14);
    ED_CHECK_INT(ed_list_timestamp(s, 2), 1004);
    ED_CHECK_INT(ed_list_retain(s, keep, 5), -1);
    ED_CHECK_STR(ed_state_error(s), "state 'l': ed_list_retain got 5 flags for 3 elements");

    /* update with rows of the list itself, reversed */
    const eddy_row *rows[3] = {eddy_list_get(s, 2), eddy_list_get(s, 1), eddy_list_get(s, 0)};
    ED_CHECK_INT(eddy_list_update(s, rows, 3), 0);
    ED_CHECK_INT(eddy_list_size(s), 3);
    ED_CHECK_INT(v0(eddy_list_get(s, 0)), 14);
    ED_CHECK_INT(v0(eddy_list_get(s, 1)), 12);
    ED_CHECK_INT(v0(eddy_list_get(s, 2)), 10);
    /* adding an element of the list to itself, many times (the buffer moves) */
    for (int i = 0; i < 100; i++)
        ED_CHECK_INT(eddy_list_add(s, eddy_list_get(s, 0)), 0);
    ED_CHECK_INT(eddy_list_size(s), 103);
    ED_CHECK_INT(v0(eddy_list_get(s, 102)), 14);

    /* key 2 untouched */
    set_key(&f, 2);
    ED_CHECK_INT(eddy_list_size(s), 5);
    ED_CHECK_INT(v0(eddy_list_get(s, 4)), 24);
    /* update with nothing clears */
    ED_CHECK_INT(eddy_list_update(s, NULL, 0), 0);
    ED_CHECK_INT(eddy_list_size(s), 0);
    ED_CHECK_INT(ed_state_entries(s), 3);
    /* retain of everything false removes the entry */
    set_key(&f, 1);
    bool none[103] = {false};
    ED_CHECK_INT(ed_list_retain(s, none, 103), 0);
    ED_CHECK_INT(ed_state_entries(s), 2);
    fx_free(&f);
}

ED_TEST(list_state_large_lists_and_reuse)
{
    fx f;
    fx_init(&f);
    eddy_state *s = get_state(
        &f, (eddy_state_desc){.name = "l", .kind = EDDY_STATE_LIST, .schema = "v BIGINT"});
    ED_REQUIRE(s);
    for (int round = 0; round < 3; round++) {
        for (int64_t k = 0; k < 3; k++) {
            set_key(&f, k);
            for (int64_t i = 0; i < 10000; i++)
                ED_CHECK_INT(eddy_list_add(s, row1(f.rb, i)), 0);
        }
        set_key(&f, 1);
        ED_CHECK_INT(eddy_list_size(s), 10000);
        ED_CHECK_INT(v0(eddy_list_get(s, 9999)), 9999);
        for (int64_t k = 0; k < 3; k++) {
            set_key(&f, k);
            eddy_state_clear(s);
        }
        ED_CHECK_INT(ed_state_entries(s), 0);
    }
    fx_free(&f);
}

/* ---- map --------------------------------------------------------------------------------- */

typedef struct mapfx {
    eddy_schema *ks;
    eddy_row_builder *kb;
} mapfx;

static const eddy_row *mkey(mapfx *m, const char *word, int n)
{
    eddy_rb_reset(m->kb);
    eddy_rb_set_cstr(m->kb, 0, word);
    eddy_rb_set_i32(m->kb, 1, n);
    return eddy_rb_row(m->kb);
}

ED_TEST(map_state_put_get_remove_iterate)
{
    fx f;
    fx_init(&f);
    mapfx m;
    char err[64];
    m.ks = eddy_schema_parse("w STRING, n INT", err, sizeof err);
    m.kb = eddy_rb_new_schema(m.ks);
    eddy_state *s = get_state(&f, (eddy_state_desc){.name = "m",
                                                    .kind = EDDY_STATE_MAP,
                                                    .schema = "v BIGINT",
                                                    .key_schema = "w STRING, n INT"});
    ED_REQUIRE(s);
    set_key(&f, 1);
    char word[32];
    for (int i = 0; i < 50; i++) {
        snprintf(word, sizeof word, "word-%d", i);
        ED_CHECK_INT(eddy_map_put(s, mkey(&m, word, i % 3), row1(f.rb, i)), 0);
    }
    ED_CHECK_INT(eddy_map_size(s), 50);
    ED_CHECK_INT(v0(eddy_map_get(s, mkey(&m, "word-17", 2))), 17);
    ED_CHECK(eddy_map_get(s, mkey(&m, "word-17", 1)) == NULL);
    ED_CHECK(eddy_map_contains(s, mkey(&m, "word-49", 1)));
    ED_CHECK(!eddy_map_contains(s, mkey(&m, "word-50", 2)));
    ED_CHECK_INT(eddy_map_put(s, mkey(&m, "word-17", 2), row1(f.rb, 1700)), 0);
    ED_CHECK_INT(v0(eddy_map_get(s, mkey(&m, "word-17", 2))), 1700);
    ED_CHECK_INT(eddy_map_size(s), 50);
    for (int i = 0; i < 50; i += 2) {
        snprintf(word, sizeof word, "word-%d", i);
        ED_CHECK_INT(eddy_map_remove(s, mkey(&m, word, i % 3)), 0);
    }
    ED_CHECK_INT(eddy_map_remove(s, mkey(&m, "absent", 0)), 0);
    ED_CHECK_INT(eddy_map_size(s), 25);
    /* every remaining entry is found after the removals (backward shift) */
    for (int i = 1; i < 50; i += 2) {
        snprintf(word, sizeof word, "word-%d", i);
        ED_CHECK_INT(v0(eddy_map_get(s, mkey(&m, word, i % 3))), i == 17 ? 1700 : i);
    }
    /* iteration visits each entry once, with its key row */
    eddy_map_iter it;
    eddy_map_iter_start(s, &it);
    const eddy_row *k, *v;
    int seen = 0;
    int64_t sum = 0;
    while (eddy_map_next(&it, &k, &v)) {
        eddy_str w = eddy_row_str(k, 0);
        int num = atoi(w.ptr + 5);
        ED_CHECK_INT(eddy_row_i32(k, 1), num % 3);
        ED_CHECK_INT(v0(v), num == 17 ? 1700 : num);
        sum += num;
        seen++;
    }
    ED_CHECK_INT(seen, 25);
    ED_CHECK_INT(sum, 625); /* 1 + 3 + ... + 49 */
    /* another key has its own map; a NULL value is contained and reads as NULL */
    set_key(&f, 2);
    ED_CHECK_INT(eddy_map_size(s), 0);
    ED_CHECK_INT(eddy_map_put(s, mkey(&m, "x", 1), NULL), 0);
    ED_CHECK(eddy_map_contains(s, mkey(&m, "x", 1)));
    ED_CHECK(eddy_map_get(s, mkey(&m, "x", 1)) == NULL);
    ED_CHECK_INT(eddy_map_size(s), 1);
    /* removing the last entry removes the (key, namespace) entry, as Flink */
    ED_CHECK_INT(ed_state_entries(s), 2);
    ED_CHECK_INT(eddy_map_remove(s, mkey(&m, "x", 1)), 0);
    ED_CHECK_INT(ed_state_entries(s), 1);
    eddy_rb_free(m.kb);
    eddy_schema_free(m.ks);
    fx_free(&f);
}

ED_TEST(map_iteration_ends_when_the_map_changes)
{
    fx f;
    fx_init(&f);
    mapfx m;
    char err[64];
    m.ks = eddy_schema_parse("w STRING, n INT", err, sizeof err);
    m.kb = eddy_rb_new_schema(m.ks);
    eddy_state *s = get_state(&f, (eddy_state_desc){.name = "m",
                                                    .kind = EDDY_STATE_MAP,
                                                    .schema = "v BIGINT",
                                                    .key_schema = "w STRING, n INT"});
    ED_REQUIRE(s);
    set_key(&f, 1);
    for (int i = 0; i < 4; i++)
        eddy_map_put(s, mkey(&m, "k", i), row1(f.rb, i));
    eddy_map_iter it;
    const eddy_row *k, *v;
    /* reads do not end it */
    eddy_map_iter_start(s, &it);
    ED_CHECK(eddy_map_next(&it, &k, &v));
    ED_CHECK(eddy_map_get(s, mkey(&m, "k", 0)) != NULL);
    ED_CHECK(eddy_map_next(&it, &k, &v));
    /* a put does */
    ED_CHECK_INT(eddy_map_put(s, mkey(&m, "k", 9), row1(f.rb, 9)), 0);
    ED_CHECK(!eddy_map_next(&it, &k, &v));
    /* a remove does */
    eddy_map_iter_start(s, &it);
    ED_CHECK(eddy_map_next(&it, &k, &v));
    ED_CHECK_INT(eddy_map_remove(s, mkey(&m, "k", 9)), 0);
    ED_CHECK(!eddy_map_next(&it, &k, &v));
    /* so does a switch to another key's map, or a clear */
    eddy_map_iter_start(s, &it);
    set_key(&f, 2);
    eddy_map_put(s, mkey(&m, "k", 0), row1(f.rb, 0));
    ED_CHECK(!eddy_map_next(&it, &k, &v));
    set_key(&f, 1);
    eddy_map_iter_start(s, &it);
    eddy_state_clear(s);
    ED_CHECK(!eddy_map_next(&it, &k, &v));
    /* an iterator on an absent map ends even if the map appears later */
    eddy_map_iter_start(s, &it);
    eddy_map_put(s, mkey(&m, "k", 0), row1(f.rb, 0));
    ED_CHECK(!eddy_map_next(&it, &k, &v));
    /* collect-then-modify works: the pattern the end-on-change rule asks for */
    for (int i = 1; i < 4; i++)
        eddy_map_put(s, mkey(&m, "k", i), row1(f.rb, i));
    int n = 0;
    eddy_map_iter_start(s, &it);
    while (eddy_map_next(&it, &k, &v))
        n++;
    ED_CHECK_INT(n, 4);
    eddy_rb_free(m.kb);
    eddy_schema_free(m.ks);
    fx_free(&f);
}

/* ---- reducing and aggregating ------------------------------------------------------------ */

ED_TEST(reducing_state_sums_per_key_and_namespace)
{
    fx f;
    fx_init(&f);
    eddy_state *s = get_state(&f, (eddy_state_desc){.name = "r",
                                                    .kind = EDDY_STATE_REDUCING,
                                                    .schema = "v BIGINT",
                                                    .reduce = EDDY_FN(reduce_sum)});
    ED_REQUIRE(s);
    for (int64_t k = 1; k <= 3; k++) {
        set_key(&f, k);
        for (int64_t i = 1; i <= k * 2; i++) {
            set_ns(&f, 0, 10);
            ED_CHECK_INT(eddy_reducing_add(s, row1(f.rb, i)), 0);
            set_ns(&f, 10, 20);
            ED_CHECK_INT(eddy_reducing_add(s, row1(f.rb, 100)), 0);
        }
    }
    set_key(&f, 1);
    set_ns(&f, 0, 10);
    ED_CHECK_INT(v0(eddy_reducing_get(s)), 3);
    set_key(&f, 3);
    ED_CHECK_INT(v0(eddy_reducing_get(s)), 21);
    set_ns(&f, 10, 20);
    ED_CHECK_INT(v0(eddy_reducing_get(s)), 600);
    set_ns(&f, 20, 30);
    ED_CHECK(eddy_reducing_get(s) == NULL);
    fx_free(&f);
}

ED_TEST(aggregating_state_average)
{
    fx f;
    fx_init(&f);
    eddy_state *s = get_state(&f, avg_desc("avg", false));
    ED_REQUIRE(s);
    set_key(&f, 1);
    ED_CHECK(eddy_aggregating_get(s) == NULL);
    int64_t in1[] = {1, 2, 3, 4};
    for (size_t i = 0; i < 4; i++)
        ED_CHECK_INT(eddy_aggregating_add(s, row1(f.rb, in1[i])), 0);
    set_key(&f, 2);
    ED_CHECK_INT(eddy_aggregating_add(s, row1(f.rb, 7)), 0);
    set_key(&f, 1);
    const eddy_row *r = eddy_aggregating_get(s);
    ED_REQUIRE(r);
    ED_CHECK(eddy_row_f64(r, 0) == 2.5);
    set_key(&f, 2);
    r = eddy_aggregating_get(s);
    ED_REQUIRE(r);
    ED_CHECK(eddy_row_f64(r, 0) == 7.0);
    fx_free(&f);
}

ED_TEST(function_failures_and_bad_rows_set_the_error)
{
    fx f;
    fx_init(&f);
    eddy_state *r = get_state(&f, (eddy_state_desc){.name = "r",
                                                    .kind = EDDY_STATE_REDUCING,
                                                    .schema = "v BIGINT",
                                                    .reduce = EDDY_FN(reduce_fail)});
    eddy_state *v = get_state(
        &f,
        (eddy_state_desc){.name = "v", .kind = EDDY_STATE_VALUE, .schema = "a BIGINT, b BIGINT"});
    ED_REQUIRE(r && v);
    set_key(&f, 1);
    ED_CHECK_INT(eddy_reducing_add(r, row1(f.rb, 1)), 0); /* first value: no call */
    ED_CHECK(ed_state_error(r) == NULL);
    ED_CHECK_INT(eddy_reducing_add(r, row1(f.rb, 2)), -1);
    ED_CHECK_STR(ed_state_error(r), "state 'r': reduce function 'reduce_fail' failed");
    ED_CHECK_INT(v0(eddy_reducing_get(r)), 1);
    ED_CHECK(ed_state_error(r) == NULL); /* the next call clears it */

    ED_CHECK_INT(eddy_value_update(v, row1(f.rb, 1)), -1);
    ED_CHECK_STR(ed_state_error(v),
                 "state 'v': value has 1 fields, expected 2 (a BIGINT, b BIGINT)");
    ED_CHECK_INT(ed_state_entries(v), 0);
    ED_CHECK_INT(eddy_list_add(v, row1(f.rb, 1)), -1);
    ED_CHECK_STR(ed_state_error(v), "state 'v' is a VALUE state, not LIST");
    fx_free(&f);
}

/* ---- descriptors ------------------------------------------------------------------------- */

static void check_desc_error(fx *f, eddy_state_desc d, const char *want, int line)
{
    ed_err err = {0};
    eddy_state *s = ed_state_get(f->b, &d, &err);
    if (s) {
        fprintf(stderr, "  state_test.c:%d: descriptor accepted, expected \"%s\"\n", line, want);
        ed_test_failed_now = 1;
    } else if (strcmp(err.msg, want) != 0) {
        fprintf(stderr, "  state_test.c:%d: error \"%s\", expected \"%s\"\n", line, err.msg, want);
        ed_test_failed_now = 1;
    }
}
#define CHECK_DESC_ERROR(d, want) check_desc_error(&f, d, want, __LINE__)

ED_TEST(descriptor_errors_name_the_problem)
{
    fx f;
    fx_init(&f);
    typedef eddy_state_desc D;
    CHECK_DESC_ERROR(((D){.kind = EDDY_STATE_VALUE, .schema = "v INT"}),
                     "state descriptor has no name");
    CHECK_DESC_ERROR(((D){.name = "x", .kind = 9, .schema = "v INT"}),
                     "state 'x' has an unknown kind 9");
    CHECK_DESC_ERROR(((D){.name = "x", .kind = EDDY_STATE_VALUE}), "state 'x' has no schema");
    CHECK_DESC_ERROR(((D){.name = "x", .kind = EDDY_STATE_VALUE, .schema = "v NUMBER"}),
                     "state 'x': schema: position 3: unknown type 'NUMBER' for field 'v'");
    CHECK_DESC_ERROR(
        ((D){.name = "x", .kind = EDDY_STATE_MAP, .schema = "v INT", .key_schema = "k INT,"}),
        "state 'x': key_schema: position 7: expected a field name, found end of input");
    CHECK_DESC_ERROR(((D){.name = "x", .kind = EDDY_STATE_MAP, .schema = "v INT"}),
                     "map state 'x' needs a key_schema");
    CHECK_DESC_ERROR(((D){.name = "x", .kind = EDDY_STATE_REDUCING, .schema = "v INT"}),
                     "reducing state 'x' needs a reduce function");
    CHECK_DESC_ERROR(((D){.name = "x",
                          .kind = EDDY_STATE_REDUCING,
                          .schema = "v INT",
                          .reduce = {"my_sum", NULL}}),
                     "state 'x': function 'my_sum' is not resolved");
    CHECK_DESC_ERROR(
        ((D){.name = "x", .kind = EDDY_STATE_VALUE, .schema = "v INT", .default_value = "abc"}),
        "state 'x': default value 'abc': field 1 (v): 'abc' is not an INT");
    CHECK_DESC_ERROR(
        ((D){.name = "x", .kind = EDDY_STATE_LIST, .schema = "v INT", .default_value = "1"}),
        "state 'x': a default value is only for VALUE state");
    CHECK_DESC_ERROR(
        ((D){.name = "x", .kind = EDDY_STATE_VALUE, .schema = "v INT", .ttl = {.ttl_ms = -1}}),
        "state 'x': ttl must not be negative");
    eddy_state_desc a = avg_desc("x", false);
    a.aggregate.add = EDDY_FN_NONE;
    CHECK_DESC_ERROR(a, "aggregating state 'x' needs an add function");
    a = avg_desc("x", false);
    a.aggregate.acc_schema = NULL;
    CHECK_DESC_ERROR(a, "aggregating state 'x' needs an acc_schema");
    a = avg_desc("x", false);
    a.aggregate.result = EDDY_FN_NONE;
    CHECK_DESC_ERROR(a, "aggregating state 'x' needs a result function");

    /* the same name: same kind and schema gives the same handle, else an error */
    eddy_state *l = get_state(&f, (D){.name = "x", .kind = EDDY_STATE_LIST, .schema = "v INT"});
    ED_REQUIRE(l);
    ED_CHECK(get_state(&f, (D){.name = "x", .kind = EDDY_STATE_LIST, .schema = "v INTEGER"}) == l);
    CHECK_DESC_ERROR(((D){.name = "x", .kind = EDDY_STATE_VALUE, .schema = "v INT"}),
                     "state 'x' is already declared as LIST");
    CHECK_DESC_ERROR(((D){.name = "x", .kind = EDDY_STATE_LIST, .schema = "v BIGINT"}),
                     "state 'x' is already declared as LIST with schema 'v INT'");
    fx_free(&f);
}

/* ---- TTL --------------------------------------------------------------------------------- */

static eddy_state *ttl_value(fx *f, const char *name, eddy_ttl_update up, eddy_ttl_visibility vis,
                             bool on_read)
{
    return get_state(
        f, (eddy_state_desc){
               .name = name,
               .kind = EDDY_STATE_VALUE,
               .schema = "v BIGINT",
               .ttl = {.ttl_ms = 10, .update = up, .visibility = vis, .keep_expired_on_read = !on_read}});
}

ED_TEST(ttl_on_create_and_write_expires_exactly_at_the_boundary)
{
    fx f;
    fx_init(&f);
    eddy_state *s =
        ttl_value(&f, "t", EDDY_TTL_ON_CREATE_AND_WRITE, EDDY_TTL_NEVER_RETURN_EXPIRED, true);
    ED_REQUIRE(s);
    set_key(&f, 1);
    eddy_value_update(s, row1(f.rb, 5)); /* at 1000 */
    ed_manual_clock_advance(&f.clock, 9);
    ED_CHECK_INT(v0(eddy_value_get(s)), 5); /* 1009: reads do not extend it */
    ED_CHECK(!ed_state_ttl_expired(s, 1000));
    ed_manual_clock_advance(&f.clock, 1);
    ED_CHECK(ed_state_ttl_expired(s, 1000)); /* lastAccess + ttl <= now */
    ED_CHECK(eddy_value_get(s) == NULL);     /* 1010: expired */
    ED_CHECK_INT(ed_state_entries(s), 0);    /* and dropped on read */
    /* a write restarts the clock */
    eddy_value_update(s, row1(f.rb, 6)); /* 1010 */
    ed_manual_clock_advance(&f.clock, 5);
    eddy_value_update(s, row1(f.rb, 7)); /* 1015 */
    ed_manual_clock_advance(&f.clock, 9);
    ED_CHECK_INT(v0(eddy_value_get(s)), 7); /* 1024 */
    ed_manual_clock_advance(&f.clock, 1);
    ED_CHECK(eddy_value_get(s) == NULL); /* 1025 */
    fx_free(&f);
}

ED_TEST(ttl_on_read_and_write_extends_on_read)
{
    fx f;
    fx_init(&f);
    eddy_state *s =
        ttl_value(&f, "t", EDDY_TTL_ON_READ_AND_WRITE, EDDY_TTL_NEVER_RETURN_EXPIRED, true);
    ED_REQUIRE(s);
    set_key(&f, 1);
    eddy_value_update(s, row1(f.rb, 5)); /* 1000 */
    ed_manual_clock_advance(&f.clock, 9);
    ED_CHECK_INT(v0(eddy_value_get(s)), 5); /* 1009: restarts the clock */
    ed_manual_clock_advance(&f.clock, 9);
    ED_CHECK_INT(v0(eddy_value_get(s)), 5); /* 1018 */
    ed_manual_clock_advance(&f.clock, 10);
    ED_CHECK(eddy_value_get(s) == NULL); /* 1028 = 1018 + 10 */
    fx_free(&f);
}

ED_TEST(ttl_visibility_and_cleanup_on_read)
{
    fx f;
    fx_init(&f);
    /* NeverReturnExpired without cleanup on read: hidden but still stored */
    eddy_state *a =
        ttl_value(&f, "a", EDDY_TTL_ON_CREATE_AND_WRITE, EDDY_TTL_NEVER_RETURN_EXPIRED, false);
    /* ReturnExpiredIfNotCleanedUp without cleanup: returned while stored */
    eddy_state *b = ttl_value(&f, "b", EDDY_TTL_ON_CREATE_AND_WRITE,
                              EDDY_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP, false);
    /* ReturnExpiredIfNotCleanedUp with cleanup on read: returned once, then gone */
    eddy_state *c = ttl_value(&f, "c", EDDY_TTL_ON_CREATE_AND_WRITE,
                              EDDY_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP, true);
    ED_REQUIRE(a && b && c);
    set_key(&f, 1);
    eddy_value_update(a, row1(f.rb, 1));
    eddy_value_update(b, row1(f.rb, 2));
    eddy_value_update(c, row1(f.rb, 3));
    ed_manual_clock_advance(&f.clock, 10);
    ED_CHECK(eddy_value_get(a) == NULL);
    ED_CHECK(eddy_value_get(a) == NULL);
    ED_CHECK_INT(ed_state_entries(a), 1);
    ED_CHECK_INT(v0(eddy_value_get(b)), 2);
    ED_CHECK_INT(v0(eddy_value_get(b)), 2);
    ED_CHECK_INT(ed_state_entries(b), 1);
    ED_CHECK_INT(v0(eddy_value_get(c)), 3);
    ED_CHECK_INT(ed_state_entries(c), 0);
    ED_CHECK(eddy_value_get(c) == NULL);
    /* an expired entry is visited by for_each only when asked */
    fx_free(&f);
}

__attribute__((unused)) static int count_fn(eddy_state *s, const uint8_t *key, uint32_t klen, const uint8_t *ns,
                    uint32_t nslen, void *arg)
{
    (*(int *)arg)++;
    return 0;
}

#ifndef ED_STATE_TEST_ROCKSDB /* the heap backend's own memory */
ED_TEST(ttl_incremental_cleanup_reduces_entries)
{
    fx f;
    fx_init(&f);
    eddy_state *s =
        get_state(&f, (eddy_state_desc){.name = "i",
                                        .kind = EDDY_STATE_VALUE,
                                        .schema = "v BIGINT",
                                        .ttl = {.ttl_ms = 10, .cleanup_incremental = 5}});
    eddy_state *off = get_state(&f, (eddy_state_desc){.name = "o",
                                                      .kind = EDDY_STATE_VALUE,
                                                      .schema = "v BIGINT",
                                                      .ttl = {.ttl_ms = 10}});
    ED_REQUIRE(s && off);
    for (int64_t k = 0; k < 40; k++) {
        set_key(&f, k);
        eddy_value_update(s, row1(f.rb, k));
        eddy_value_update(off, row1(f.rb, k));
    }
    ED_CHECK_INT(ed_state_entries(s), 40);
    int n = 0;
    ed_state_for_each(s, count_fn, &n);
    ED_CHECK_INT(n, 40);
    ed_manual_clock_advance(&f.clock, 10);
    n = 0;
    ED_CHECK_INT(ed_state_for_each(s, count_fn, &n), 0);
    ED_CHECK_INT(n, 0); /* all expired: nothing visible */
    n = 0;
    ed_state_for_each_flags(s, ED_STATE_VISIT_EXPIRED, count_fn, &n);
    ED_CHECK_INT(n, 40);
    /* a fresh key is written; each access examines 5 entries */
    set_key(&f, 1000);
    eddy_value_update(s, row1(f.rb, 1));
    eddy_value_update(off, row1(f.rb, 1));
    ED_CHECK_INT(ed_state_entries(s), 36);
    ED_CHECK_INT(v0(eddy_value_get(s)), 1);
    ED_CHECK_INT(ed_state_entries(s), 31);
    for (int i = 0; i < 10; i++)
        eddy_value_get(s);
    ED_CHECK_INT(ed_state_entries(s), 1); /* only the live one is left */
    ED_CHECK_INT(v0(eddy_value_get(s)), 1);
    ED_CHECK_INT(ed_state_entries(off), 41); /* no incremental cleanup there */
    fx_free(&f);
}
#endif

ED_TEST(ttl_list_elements_expire_one_by_one)
{
    fx f;
    fx_init(&f);
    eddy_state *s =
        get_state(&f, (eddy_state_desc){.name = "l",
                                        .kind = EDDY_STATE_LIST,
                                        .schema = "v BIGINT",
                                        .ttl = {.ttl_ms = 10, .keep_expired_on_read = false}});
    ED_REQUIRE(s);
    set_key(&f, 1);
    eddy_list_add(s, row1(f.rb, 1)); /* 1000 */
    ed_manual_clock_advance(&f.clock, 5);
    eddy_list_add(s, row1(f.rb, 2)); /* 1005 */
    eddy_list_add(s, row1(f.rb, 3));
    ED_CHECK_INT(eddy_list_size(s), 3);
    ed_manual_clock_advance(&f.clock, 5); /* 1010: the first expired */
    ED_CHECK_INT(eddy_list_size(s), 2);
    ED_CHECK_INT(v0(eddy_list_get(s, 0)), 2);
    ED_CHECK_INT(v0(eddy_list_get(s, 1)), 3);
    /* the view stays stable while walking, even when the rest expires meanwhile */
    ED_CHECK_INT(eddy_list_size(s), 2);
    ed_manual_clock_advance(&f.clock, 5); /* 1015 */
    ED_CHECK_INT(v0(eddy_list_get(s, 0)), 2);
    ED_CHECK_INT(v0(eddy_list_get(s, 1)), 3);
    ED_CHECK_INT(eddy_list_size(s), 0); /* a new read: all gone, and cleaned up */
    ED_CHECK_INT(ed_state_entries(s), 0);
    fx_free(&f);
}

ED_TEST(ttl_list_return_expired_once_with_cleanup)
{
    fx f;
    fx_init(&f);
    eddy_state *s = get_state(
        &f, (eddy_state_desc){.name = "l",
                              .kind = EDDY_STATE_LIST,
                              .schema = "v BIGINT",
                              .ttl = {.ttl_ms = 10,
                                      .visibility = EDDY_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP,
                                      .keep_expired_on_read = false}});
    ED_REQUIRE(s);
    set_key(&f, 1);
    eddy_list_add(s, row1(f.rb, 1));
    eddy_list_add(s, row1(f.rb, 2));
    ed_manual_clock_advance(&f.clock, 3);
    eddy_list_add(s, row1(f.rb, 3));
    ed_manual_clock_advance(&f.clock, 7); /* 1 and 2 expired */
    ED_CHECK_INT(eddy_list_size(s), 3);
    ED_CHECK_INT(v0(eddy_list_get(s, 0)), 1); /* still readable from the view */
    ED_CHECK_INT(v0(eddy_list_get(s, 1)), 2);
    ED_CHECK_INT(v0(eddy_list_get(s, 2)), 3);
    /* they were dropped by that read: rewrite the list from the rows just read */
    const eddy_row *rows[2] = {eddy_list_get(s, 2), eddy_list_get(s, 0)};
    ED_CHECK_INT(eddy_list_update(s, rows, 2), 0);
    ED_CHECK_INT(eddy_list_size(s), 2);
    ED_CHECK_INT(v0(eddy_list_get(s, 0)), 3);
    ED_CHECK_INT(v0(eddy_list_get(s, 1)), 1);
    ed_manual_clock_advance(&f.clock, 10);
    ED_CHECK_INT(eddy_list_size(s), 2);
    ED_CHECK_INT(eddy_list_size(s), 0);
    ED_CHECK_INT(ed_state_entries(s), 0);
    fx_free(&f);
}

ED_TEST(ttl_map_entries_expire_one_by_one)
{
    fx f;
    fx_init(&f);
    eddy_state *s = get_state(&f, (eddy_state_desc){.name = "m",
                                                    .kind = EDDY_STATE_MAP,
                                                    .schema = "v BIGINT",
                                                    .key_schema = "k BIGINT",
                                                    .ttl = {.ttl_ms = 10,
                                                            .update = EDDY_TTL_ON_READ_AND_WRITE,
                                                            .keep_expired_on_read = false}});
    ED_REQUIRE(s);
    set_key(&f, 1);
    eddy_map_put(s, row1(f.rb2, 1), row1(f.rb, 10)); /* 1000 */
    ed_manual_clock_advance(&f.clock, 5);
    eddy_map_put(s, row1(f.rb2, 2), row1(f.rb, 20)); /* 1005 */
    ed_manual_clock_advance(&f.clock, 4);
    ED_CHECK_INT(v0(eddy_map_get(s, row1(f.rb2, 1))), 10); /* 1009: read refreshes */
    ed_manual_clock_advance(&f.clock, 6);                  /* 1015: 2 expired */
    ED_CHECK_INT(eddy_map_size(s), 1);
    eddy_map_iter it;
    const eddy_row *k, *v;
    eddy_map_iter_start(s, &it);
    ED_CHECK(eddy_map_next(&it, &k, &v));
    ED_CHECK_INT(v0(k), 1);
    ED_CHECK(!eddy_map_next(&it, &k, &v));
    ED_CHECK(!eddy_map_contains(s, row1(f.rb2, 2)));
    ed_manual_clock_advance(&f.clock, 10); /* 1025: both */
    ED_CHECK(eddy_map_get(s, row1(f.rb2, 1)) == NULL);
    ED_CHECK_INT(ed_state_entries(s), 0); /* the last entry read away removes the map */
    fx_free(&f);
}

ED_TEST(ttl_reducing_treats_an_expired_accumulator_as_absent)
{
    fx f;
    fx_init(&f);
    eddy_state *s = get_state(&f, (eddy_state_desc){.name = "r",
                                                    .kind = EDDY_STATE_REDUCING,
                                                    .schema = "v BIGINT",
                                                    .reduce = EDDY_FN(reduce_sum),
                                                    .ttl = {.ttl_ms = 10}});
    eddy_state *a = get_state(&f, avg_desc("a", false));
    ED_REQUIRE(s && a);
    set_key(&f, 1);
    eddy_reducing_add(s, row1(f.rb, 5));
    eddy_reducing_add(s, row1(f.rb, 6));
    ED_CHECK_INT(v0(eddy_reducing_get(s)), 11);
    ed_manual_clock_advance(&f.clock, 10);
    eddy_reducing_add(s, row1(f.rb, 7));
    ED_CHECK_INT(v0(eddy_reducing_get(s)), 7);
    fx_free(&f);
}

/* ---- merging namespaces ------------------------------------------------------------------ */

static void win(uint8_t out[16], int64_t s, int64_t e)
{
    memcpy(out, &s, 8);
    memcpy(out + 8, &e, 8);
}

ED_TEST(merge_namespaces_for_each_kind)
{
    fx f;
    fx_init(&f);
    eddy_state *l = get_state(
        &f, (eddy_state_desc){.name = "l", .kind = EDDY_STATE_LIST, .schema = "v BIGINT"});
    eddy_state *r = get_state(&f, (eddy_state_desc){.name = "r",
                                                    .kind = EDDY_STATE_REDUCING,
                                                    .schema = "v BIGINT",
                                                    .reduce = EDDY_FN(reduce_sum)});
    eddy_state *a = get_state(&f, avg_desc("a", true));
    eddy_state *v = get_state(
        &f, (eddy_state_desc){.name = "v", .kind = EDDY_STATE_VALUE, .schema = "v BIGINT"});
    ED_REQUIRE(l && r && a && v);
    uint8_t w1[16], w2[16], w3[16], wt[16];
    win(w1, 0, 10);
    win(w2, 5, 15);
    win(w3, 12, 20);
    win(wt, 0, 20);
    set_key(&f, 1);
    /* w1: 1, 2   w2: 3   w3: 4, 5 */
    int64_t vals[3][2] = {{1, 2}, {3, 0}, {4, 5}};
    uint8_t *ws[3] = {w1, w2, w3};
    for (int i = 0; i < 3; i++) {
        ed_state_set_namespace(f.b, ws[i], 16);
        for (int j = 0; j < 2 && vals[i][j]; j++) {
            ed_list_add_ts(l, row1(f.rb, vals[i][j]), vals[i][j] * 100);
            eddy_reducing_add(r, row1(f.rb, vals[i][j]));
            eddy_aggregating_add(a, row1(f.rb, vals[i][j]));
        }
        if (i > 0) eddy_value_update(v, row1(f.rb, 10 * (i + 1)));
    }
    /* another key's windows are not touched */
    set_key(&f, 2);
    ed_state_set_namespace(f.b, w2, 16);
    ed_list_add_ts(l, row1(f.rb, 99), 9900);
    set_key(&f, 1);
    /* merge w2 and w3 into w1 (the target has state itself, as in session windows) */
    const uint8_t *srcs[3] = {w2, w3, w1};
    uint32_t lens[3] = {16, 16, 16};
    ed_err err = {0};
    ED_CHECK_INT(ed_state_merge_namespaces(l, w1, 16, srcs, lens, 3, &err), 0);
    ED_CHECK_INT(ed_state_merge_namespaces(r, w1, 16, srcs, lens, 3, &err), 0);
    ED_CHECK_INT(ed_state_merge_namespaces(a, w1, 16, srcs, lens, 3, &err), 0);
    ED_CHECK_INT(ed_state_merge_namespaces(v, w1, 16, srcs, lens, 3, &err), 0);
    ed_state_set_namespace(f.b, w1, 16);
    ED_CHECK_INT(eddy_list_size(l), 5);
    int64_t want[5] = {1, 2, 3, 4, 5};
    for (size_t i = 0; i < 5; i++) {
        ED_CHECK_INT(v0(eddy_list_get(l, i)), want[i]);
        ED_CHECK_INT(ed_list_timestamp(l, i), want[i] * 100);
    }
    ED_CHECK_INT(v0(eddy_reducing_get(r)), 15);
    const eddy_row *avg = eddy_aggregating_get(a);
    ED_REQUIRE(avg);
    ED_CHECK(eddy_row_f64(avg, 0) == 3.0);
    ED_CHECK_INT(v0(eddy_value_get(v)), 20); /* w1 had none: the first source's */
    ed_state_set_namespace(f.b, w2, 16);
    ED_CHECK_INT(eddy_list_size(l), 0);
    ED_CHECK(eddy_reducing_get(r) == NULL);
    ED_CHECK(eddy_aggregating_get(a) == NULL);
    ED_CHECK(eddy_value_get(v) == NULL);
    ED_CHECK_INT(ed_state_entries(l), 2); /* key 1's w1 and key 2's w2 */
    ED_CHECK_INT(ed_state_entries(r), 1);
    set_key(&f, 2);
    ED_CHECK_INT(eddy_list_size(l), 1);

    /* into a new target: the target did not exist */
    set_key(&f, 1);
    const uint8_t *one[1] = {w1};
    ED_CHECK_INT(ed_state_merge_namespaces(r, wt, 16, one, lens, 1, &err), 0);
    ed_state_set_namespace(f.b, wt, 16);
    ED_CHECK_INT(v0(eddy_reducing_get(r)), 15);
    /* value: the target keeps its own */
    ed_state_set_namespace(f.b, w2, 16);
    eddy_value_update(v, row1(f.rb, 77));
    ED_CHECK_INT(ed_state_merge_namespaces(v, w2, 16, one, lens, 1, &err), 0);
    ED_CHECK_INT(v0(eddy_value_get(v)), 77);
    ED_CHECK_INT(ed_state_entries(v), 1);
    fx_free(&f);
}

ED_TEST(merge_namespaces_needs_an_aggregate_merge)
{
    fx f;
    fx_init(&f);
    eddy_state *a = get_state(&f, avg_desc("a", false));
    ED_REQUIRE(a);
    uint8_t w1[16], w2[16];
    win(w1, 0, 10);
    win(w2, 5, 15);
    set_key(&f, 1);
    ed_state_set_namespace(f.b, w2, 16);
    eddy_aggregating_add(a, row1(f.rb, 4));
    const uint8_t *srcs[1] = {w2};
    uint32_t lens[1] = {16};
    ed_err err = {0};
    ED_CHECK_INT(ed_state_merge_namespaces(a, w1, 16, srcs, lens, 1, &err), -1);
    ED_CHECK_STR(err.msg,
                 "aggregating state 'a' has no merge function (needed by merging windows)");
    ED_CHECK_STR(ed_state_error(a), err.msg);
    ED_CHECK_INT(ed_state_entries(a), 1); /* nothing changed */
    fx_free(&f);
}

/* ---- for_each ---------------------------------------------------------------------------- */

typedef struct visit {
    fx *f;
    int seen;
    int64_t sum;
} visit;

static int clear_even(eddy_state *s, const uint8_t *key, uint32_t klen, const uint8_t *ns,
                      uint32_t nslen, void *arg)
{
    visit *v = arg;
    int64_t k;
    memcpy(&k, key, 8);
    v->seen++;
    const eddy_row *r = eddy_value_get(s); /* the visited key is current */
    if (v0(r) != k * 3) return -1;
    v->sum += v0(r);
    if (k % 2 == 0) {
        eddy_state_clear(s);
    } else {
        eddy_value_update(s, row1(v->f->rb, k * 3 + 1));
        /* a write under another namespace while walking: not visited */
        ed_state_set_namespace(v->f->b, (const uint8_t *)"nsnsnsns", 8);
        eddy_value_update(s, row1(v->f->rb, 0));
    }
    return 0;
}

ED_TEST(for_each_visits_every_key_with_the_key_current_and_allows_clear)
{
    fx f;
    fx_init(&f);
    eddy_state *s = get_state(
        &f, (eddy_state_desc){.name = "v", .kind = EDDY_STATE_VALUE, .schema = "v BIGINT"});
    ED_REQUIRE(s);
    for (int64_t k = 0; k < 100; k++) {
        set_key(&f, k);
        eddy_value_update(s, row1(f.rb, k * 3));
    }
    set_key(&f, 5000); /* restored after the walk */
    visit v = {&f, 0, 0};
    ED_CHECK_INT(ed_state_for_each(s, clear_even, &v), 0);
    ED_CHECK_INT(v.seen, 100);
    ED_CHECK_INT(v.sum, 3 * 4950);
    ED_CHECK_INT(ed_state_entries(s), 100); /* 50 odd keys + 50 new namespaces */
    ED_CHECK(eddy_value_get(s) == NULL);    /* key 5000 is current again */
    set_key(&f, 7);
    ED_CHECK_INT(v0(eddy_value_get(s)), 22);
    set_key(&f, 8);
    ED_CHECK(eddy_value_get(s) == NULL);
    /* a non-zero return stops the walk and is returned */
    v = (visit){&f, 0, 0};
    ED_CHECK_INT(ed_state_for_each(s, clear_even, &v), -1);
    ED_CHECK_INT(v.seen, 1);
    fx_free(&f);
}

static int clear_all_others(eddy_state *s, const uint8_t *key, uint32_t klen, const uint8_t *ns,
                            uint32_t nslen, void *arg)
{
    visit *v = arg;
    v->seen++;
    int64_t me;
    memcpy(&me, key, 8);
    for (int64_t k = 0; k < 100; k++) {
        if (k == me) continue;
        set_key(v->f, k);
        eddy_state_clear(s);
        /* and new entries (under another namespace) take the freed memory */
        ed_state_set_namespace(v->f->b, (const uint8_t *)"nsnsnsns", 8);
        eddy_value_update(s, row1(v->f->rb, -1));
        ed_state_set_namespace(v->f->b, NULL, 0);
    }
    return 0;
}

ED_TEST(for_each_skips_entries_removed_by_the_callback)
{
    fx f;
    fx_init(&f);
    eddy_state *s = get_state(
        &f, (eddy_state_desc){.name = "v", .kind = EDDY_STATE_VALUE, .schema = "v BIGINT"});
    ED_REQUIRE(s);
    for (int64_t k = 0; k < 100; k++) {
        set_key(&f, k);
        eddy_value_update(s, row1(f.rb, k));
    }
    visit v = {&f, 0, 0};
    ED_CHECK_INT(ed_state_for_each(s, clear_all_others, &v), 0);
    ED_CHECK_INT(v.seen, 1);
    ED_CHECK_INT(ed_state_entries(s), 100); /* the survivor + 99 new namespace entries */
    fx_free(&f);
}

/* ---- key groups -------------------------------------------------------------------------- */

static int check_group(eddy_state *s, const uint8_t *key, uint32_t klen, const uint8_t *ns,
                       uint32_t nslen, void *arg)
{
    int *bad = arg;
    if (ed_state_entry_key_group(s) != ed_key_group(ed_key_hash(key, klen), 128)) (*bad)++;
    return 0;
}

ED_TEST(entries_remember_their_key_group)
{
    fx f;
    fx_init(&f);
    eddy_state *s = get_state(
        &f, (eddy_state_desc){.name = "l", .kind = EDDY_STATE_LIST, .schema = "v BIGINT"});
    ED_REQUIRE(s);
    uint8_t key[8] = {1};
    ed_state_set_key(f.b, key, 8, 77);
    ED_CHECK_INT(ed_state_entry_key_group(s), -1);
    eddy_list_add(s, row1(f.rb, 1));
    ED_CHECK_INT(ed_state_entry_key_group(s), 77);
    for (int64_t k = 0; k < 50; k++) {
        set_key(&f, k);
        eddy_list_add(s, row1(f.rb, k));
    }
    ed_state_set_key(f.b, key, 8, 77);
    ED_CHECK_INT(ed_state_entry_key_group(s), 77);
    int bad = 0;
    ed_state_set_key(f.b, key, 8, ed_key_group(ed_key_hash(key, 8), 128));
    ed_state_for_each(s, check_group, &bad);
    ED_CHECK_INT(bad, 1); /* the entry made with group 77 keeps 77 */
    fx_free(&f);
}

/* ---- operator and broadcast state -------------------------------------------------------- */

ED_TEST(operator_lists_and_broadcast_maps)
{
    ed_operator_store *o = ed_operator_store_new(NULL);
    ED_REQUIRE(o);
    eddy_row_builder *rb = eddy_rb_new(1), *kb = eddy_rb_new(1);
    ed_err err = {0};
    eddy_state_desc ld = {.name = "offsets", .kind = EDDY_STATE_LIST, .schema = "v BIGINT"};
    eddy_state *l = ed_operator_list(o, &ld, EDDY_OP_STATE_UNION, &err);
    ED_REQUIRE(l);
    ED_CHECK(ed_operator_list(o, &ld, EDDY_OP_STATE_UNION, &err) == l);
    ED_CHECK_INT(ed_operator_list_mode(l), EDDY_OP_STATE_UNION);
    ED_CHECK(ed_operator_list(o, &ld, EDDY_OP_STATE_SPLIT, &err) == NULL);
    ED_CHECK_STR(err.msg, "operator state 'offsets' is already declared as UNION");
    for (int64_t i = 0; i < 3; i++)
        ED_CHECK_INT(eddy_list_add(l, row1(rb, i * 7)), 0);
    ED_CHECK_INT(eddy_list_size(l), 3);
    ED_CHECK_INT(v0(eddy_list_get(l, 2)), 14);

    eddy_state_desc md = {
        .name = "rules", .kind = EDDY_STATE_MAP, .schema = "v BIGINT", .key_schema = "k BIGINT"};
    eddy_state *m = ed_broadcast_map(o, &md, &err);
    ED_REQUIRE(m);
    ED_CHECK_INT(eddy_map_put(m, row1(kb, 1), row1(rb, 100)), 0);
    ed_broadcast_set_read_only(m, true);
    ED_CHECK_INT(eddy_map_put(m, row1(kb, 2), row1(rb, 200)), -1);
    ED_CHECK_STR(ed_state_error(m), "broadcast state 'rules' is read-only in process_element");
    ED_CHECK_INT(eddy_map_remove(m, row1(kb, 1)), -1);
    ED_CHECK_STR(ed_state_error(m), "broadcast state 'rules' is read-only in process_element");
    eddy_state_clear(m);
    ED_CHECK_STR(ed_state_error(m), "broadcast state 'rules' is read-only in process_element");
    ED_CHECK_INT(v0(eddy_map_get(m, row1(kb, 1))), 100); /* reads work */
    ED_CHECK_INT(eddy_map_size(m), 1);
    ed_broadcast_set_read_only(m, false);
    ED_CHECK_INT(eddy_map_put(m, row1(kb, 2), row1(rb, 200)), 0);
    ED_CHECK_INT(eddy_map_size(m), 2);

    eddy_state_desc bad = {.name = "x", .kind = EDDY_STATE_VALUE, .schema = "v BIGINT"};
    ed_err_clear(&err);
    ED_CHECK(ed_operator_list(o, &bad, EDDY_OP_STATE_SPLIT, &err) == NULL);
    ED_CHECK_STR(err.msg, "operator state 'x' must be a LIST state");
    ed_err_clear(&err);
    ED_CHECK(ed_broadcast_map(o, &bad, &err) == NULL);
    ED_CHECK_STR(err.msg, "broadcast state 'x' must be a MAP state");
    ed_err_clear(&err);
    ld.ttl.ttl_ms = 5;
    ld.name = "t";
    ED_CHECK(ed_operator_list(o, &ld, EDDY_OP_STATE_SPLIT, &err) == NULL);
    ED_CHECK_STR(err.msg, "operator state 't' does not support TTL");
    eddy_rb_free(rb);
    eddy_rb_free(kb);
    ed_operator_store_free(o);
    ed_operator_store_free(NULL);
    ed_state_backend_free(NULL);
}

/* The handle keeps its entry while only the namespace changes and comes back (a window's
 * contents, then the key's merging-window set, then the contents): reads see every
 * write, clears and merges in between, and another key never sees the entry. */
ED_TEST(namespace_round_trips_see_writes_clears_and_merges)
{
    fx f;
    fx_init(&f);
    eddy_state *v = get_state(
        &f, (eddy_state_desc){.name = "v", .kind = EDDY_STATE_VALUE, .schema = "v BIGINT"});
    eddy_state *r = get_state(&f, (eddy_state_desc){.name = "r", .kind = EDDY_STATE_REDUCING,
                                                    .schema = "v BIGINT",
                                                    .reduce = EDDY_FN(reduce_sum)});
    ED_REQUIRE(v && r);
    set_key(&f, 1);
    for (int64_t i = 1; i <= 3; i++) {
        set_ns(&f, 0, 10);
        ED_CHECK_INT(eddy_reducing_add(r, row1(f.rb, i)), 0);
        ed_state_set_namespace(f.b, NULL, 0);
        ED_CHECK_INT(eddy_value_update(v, row1(f.rb, i * 10)), 0);
        ed_state_prefetch(r, (const uint8_t *)"0123456789abcdef", 16); /* a hint only */
    }
    set_ns(&f, 0, 10);
    ED_CHECK_INT(v0(eddy_reducing_get(r)), 6);
    ED_CHECK(eddy_value_get(v) == NULL);
    ed_state_set_namespace(f.b, NULL, 0);
    ED_CHECK_INT(v0(eddy_value_get(v)), 30);
    /* another key with the same namespace: its own (absent) entries */
    set_key(&f, 2);
    ED_CHECK(eddy_value_get(v) == NULL);
    set_ns(&f, 0, 10);
    ED_CHECK(eddy_reducing_get(r) == NULL);
    set_key(&f, 1);
    ED_CHECK_INT(v0(eddy_reducing_get(r)), 6);
    /* cleared in another namespace's turn, then back */
    eddy_state_clear(r);
    ed_state_set_namespace(f.b, NULL, 0);
    ED_CHECK_INT(v0(eddy_value_get(v)), 30);
    set_ns(&f, 0, 10);
    ED_CHECK(eddy_reducing_get(r) == NULL);
    ED_CHECK_INT(eddy_reducing_add(r, row1(f.rb, 5)), 0);
    /* merged away into [0, 20) while the handle held [0, 10) */
    set_ns(&f, 10, 20);
    ED_CHECK_INT(eddy_reducing_add(r, row1(f.rb, 7)), 0);
    uint8_t t[16], s0[16];
    int64_t a = 0, b = 20, c = 10;
    memcpy(t, &a, 8);
    memcpy(t + 8, &b, 8);
    memcpy(s0, &a, 8);
    memcpy(s0 + 8, &c, 8);
    const uint8_t *src[1] = {s0};
    uint32_t lens[1] = {16};
    set_ns(&f, 0, 10);
    ED_CHECK_INT(v0(eddy_reducing_get(r)), 5);
    ed_err e = {0};
    ED_CHECK_INT(ed_state_merge_namespaces(r, t, 16, src, lens, 1, &e), 0);
    ED_CHECK(eddy_reducing_get(r) == NULL);
    set_ns(&f, 0, 20);
    ED_CHECK_INT(v0(eddy_reducing_get(r)), 5);
    set_ns(&f, 10, 20);
    ED_CHECK_INT(v0(eddy_reducing_get(r)), 7);
    fx_free(&f);
}
