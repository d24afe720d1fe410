/*
 * snapshot_test.c - state snapshots: a round trip of every state kind and of timers, TTL
 * (access times kept, cleanup_full_snapshot leaving expired values out), restored states
 * completed by the operator's declaration, rescaling by key group (1 -> 2, 1 -> 4, 4 -> 3,
 * 2 -> 1), operator state redistribution (split, union, broadcast), and malformed
 * snapshots: named errors, an untouched backend, and a fuzz loop of truncations and byte
 * flips that must fail cleanly or succeed (run it under ASan: no crash, no leak).
 */
#include "state/rocks.h"
#include "state/snapshot.h"

#include "ed_test.h"

/* ---- fixtures ---------------------------------------------------------------------------- */

typedef struct fx {
    ed_manual_clock clock;
    ed_state_backend *b;
    ed_timer_service *t;
} fx;

/* Shared by every test (reachable until exit). */
static eddy_schema *sch_v; /* "v BIGINT" */
static eddy_schema *sch_k; /* "k STRING" */
static eddy_row_builder *rb_v, *rb_k;

static void fx_init(fx *f)
{
    ed_manual_clock_init(&f->clock, 1000);
    f->b = ed_state_backend_new(128, &f->clock.base, NULL);
#ifdef ED_SNAPSHOT_TEST_ROCKSDB /* snapshot_rocks_test.c: every other backend is RocksDB */
    static int made;
    if (made++ % 2 == ED_SNAPSHOT_TEST_ROCKSDB) {
        ed_rocks_options o = {.name = "snapshot-test", .memory = 8 << 20};
        ed_err rerr = {0};
        if (ed_state_backend_use_rocksdb(f->b, &o, &rerr)) {
            fprintf(stderr, "  %s\n", rerr.msg);
            abort();
        }
    }
#endif
    f->t = ed_timers_new();
    if (!sch_v) {
        char err[128];
        sch_v = eddy_schema_parse("v BIGINT", err, sizeof err);
        sch_k = eddy_schema_parse("k STRING", err, sizeof err);
        rb_v = eddy_rb_new_schema(sch_v);
        rb_k = eddy_rb_new_schema(sch_k);
    }
}

static void fx_free(fx *f)
{
    ed_state_backend_free(f->b);
    ed_timers_free(f->t);
}

static const eddy_row *row_v(int64_t v)
{
    eddy_rb_reset(rb_v);
    eddy_rb_set_i64(rb_v, 0, v);
    return eddy_rb_row(rb_v);
}

static const eddy_row *row_k(const char *k)
{
    eddy_rb_reset(rb_k);
    eddy_rb_set_cstr(rb_k, 0, k);
    return eddy_rb_row(rb_k);
}

static int64_t v0(const eddy_row *r)
{
    return r ? eddy_row_i64(r, 0) : -999999;
}

static int kg_of(int64_t k)
{
    return ed_key_group(ed_key_hash(&k, 8), 128);
}

static void set_key(ed_state_backend *b, int64_t k)
{
    ed_state_set_key(b, (const uint8_t *)&k, 8, kg_of(k));
}

/* Namespace w: none for 0, else a window [w*10, w*10 + 10) as two words. */
static void set_ns(ed_state_backend *b, int w)
{
    int64_t ns[2] = {w * 10, w * 10 + 10};
    ed_state_set_namespace(b, (const uint8_t *)ns, w ? 16 : 0);
}

static int reduce_sum(eddy_ctx *ctx, const eddy_row *acc, const eddy_row *in, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(acc, 0) + eddy_row_i64(in, 0));
    return 0;
}
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

static eddy_state_desc d_value = {.name = "value", .kind = EDDY_STATE_VALUE, .schema = "v BIGINT"};
static eddy_state_desc d_list = {.name = "list", .kind = EDDY_STATE_LIST, .schema = "v BIGINT"};
static eddy_state_desc d_map = {
    .name = "map", .kind = EDDY_STATE_MAP, .schema = "v BIGINT", .key_schema = "k STRING"};

static eddy_state_desc d_reduce(void)
{
    return (eddy_state_desc){.name = "reduce",
                             .kind = EDDY_STATE_REDUCING,
                             .schema = "v BIGINT",
                             .reduce = EDDY_FN(reduce_sum)};
}
static eddy_state_desc d_agg(void)
{
    return (eddy_state_desc){.name = "agg",
                             .kind = EDDY_STATE_AGGREGATING,
                             .schema = "v BIGINT",
                             .aggregate = {.acc_schema = "sum BIGINT, cnt BIGINT",
                                           .out_schema = "avg DOUBLE",
                                           .create = EDDY_FN(avg_create),
                                           .add = EDDY_FN(avg_add),
                                           .result = EDDY_FN(avg_result)}};
}

static eddy_state *get(ed_state_backend *b, eddy_state_desc d)
{
    ed_err err = {0};
    eddy_state *s = ed_state_get(b, &d, &err);
    if (!s) fprintf(stderr, "  unexpected state error: %s\n", err.msg);
    return s;
}

static int snap(fx *f, ed_strbuf *out)
{
    ed_err err = {0};
    ed_sb_init(out);
    int rc = ed_state_snapshot(f->b, f->t, out, &err);
    if (rc) fprintf(stderr, "  snapshot: %s\n", err.msg);
    return rc;
}

static int restore(fx *f, const ed_strbuf *s, int first, int last)
{
    ed_err err = {0};
    int rc = ed_state_restore(f->b, f->t, s->data, s->len, first, last, &err);
    if (rc) fprintf(stderr, "  restore: %s\n", err.msg);
    return rc;
}

/* Every kind for keys 0..nkeys-1 in namespaces 0 (none) and 1, 2 (windows):
 *   value   key*100 + w
 *   list    key, key + 1, ... (key % 3 + 1 elements) with timestamps 1000*key + i
 *   map     "a<key>" -> key, "b" -> w, "n" -> NULL (window 1 only)
 *   reduce  sum of key and w
 *   agg     average of key*2 and w*2
 * and an event timer at 5000 + key and a processing timer at 9000 + w per (key, window). */
static void fill(fx *f, int64_t from, int64_t to)
{
    eddy_state *sv = get(f->b, d_value), *sl = get(f->b, d_list), *sm = get(f->b, d_map);
    eddy_state *sr = get(f->b, d_reduce()), *sa = get(f->b, d_agg());
    for (int64_t k = from; k < to; k++) {
        set_key(f->b, k);
        for (int w = 0; w < 3; w++) {
            set_ns(f->b, w);
            eddy_value_update(sv, row_v(k * 100 + w));
            for (int i = 0; i <= k % 3; i++)
                ed_list_add_ts(sl, row_v(k + i), 1000 * k + i);
            char a[32];
            snprintf(a, sizeof a, "a%lld", (long long)k);
            eddy_map_put(sm, row_k(a), row_v(k));
            eddy_map_put(sm, row_k("b"), row_v(w));
            if (w == 1) eddy_map_put(sm, row_k("n"), NULL);
            eddy_reducing_add(sr, row_v(k));
            eddy_reducing_add(sr, row_v(w));
            eddy_aggregating_add(sa, row_v(k * 2));
            eddy_aggregating_add(sa, row_v(w * 2));
            int64_t ns[2] = {w * 10, w * 10 + 10};
            ed_timers_register(f->t, EDDY_EVENT_TIME, 5000 + k, (const uint8_t *)&k, 8, kg_of(k),
                               (const uint8_t *)ns, w ? 16 : 0);
            ed_timers_register(f->t, EDDY_PROCESSING_TIME, 9000 + w, (const uint8_t *)&k, 8,
                               kg_of(k), (const uint8_t *)ns, w ? 16 : 0);
        }
    }
}

/* Checks what fill(from, to) wrote for key k in backend b; returns the failures. */
static int check_key(ed_state_backend *b, int64_t k)
{
    int bad = 0;
    eddy_state *sv = get(b, d_value), *sl = get(b, d_list), *sm = get(b, d_map);
    eddy_state *sr = get(b, d_reduce()), *sa = get(b, d_agg());
    if (!sv || !sl || !sm || !sr || !sa) return 1;
    set_key(b, k);
    for (int w = 0; w < 3; w++) {
        set_ns(b, w);
        bad += v0(eddy_value_get(sv)) != k * 100 + w;
        bad += ed_state_entry_key_group(sv) != kg_of(k);
        bad += eddy_list_size(sl) != (size_t)(k % 3 + 1);
        for (int i = 0; i <= k % 3; i++) {
            bad += v0(eddy_list_get(sl, (size_t)i)) != k + i;
            bad += ed_list_timestamp(sl, (size_t)i) != 1000 * k + i;
        }
        char a[32];
        snprintf(a, sizeof a, "a%lld", (long long)k);
        bad += v0(eddy_map_get(sm, row_k(a))) != k;
        bad += v0(eddy_map_get(sm, row_k("b"))) != w;
        bad += eddy_map_contains(sm, row_k("n")) != (w == 1);
        bad += eddy_map_get(sm, row_k("n")) != NULL;
        bad += eddy_map_size(sm) != (size_t)(w == 1 ? 3 : 2);
        bad += v0(eddy_reducing_get(sr)) != k + w;
        const eddy_row *avg = eddy_aggregating_get(sa);
        bad += !avg || eddy_row_f64(avg, 0) != (double)(k + w);
    }
    if (bad) fprintf(stderr, "  key %lld: %d mismatches\n", (long long)k, bad);
    return bad;
}

/* True when b has no value entry for key k (default namespace). */
static bool absent(ed_state_backend *b, int64_t k)
{
    eddy_state *sv = get(b, d_value);
    set_key(b, k);
    set_ns(b, 0);
    return !ed_state_has_entry(sv);
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Pops every timer of both domains as "d:time:kg:key:namespace" lines. Timers of equal time
 * keep their order within a key group only (a restore registers them key group by key
 * group), so the lines are sorted after checking that times never go back. */
static void drain_timers(ed_timer_service *t, ed_strbuf *out)
{
    char *lines[4096];
    size_t n = 0;
    for (int d = 0; d < 2; d++) {
        ed_timer tm;
        int64_t last = INT64_MIN;
        while (n < ED_ARRAY_LEN(lines) &&
               ed_timers_pop(t, d ? EDDY_PROCESSING_TIME : EDDY_EVENT_TIME, INT64_MAX, &tm)) {
            int64_t k, ns = -1;
            memcpy(&k, tm.key, 8);
            if (tm.nslen) memcpy(&ns, tm.ns, 8);
            ED_CHECK(tm.time >= last);
            last = tm.time;
            ed_strbuf l;
            ed_sb_init(&l);
            ed_sb_printf(&l, "%d:%lld:%03d:%lld:%lld\n", d, (long long)tm.time, tm.key_group,
                         (long long)k, (long long)ns);
            lines[n++] = ed_sb_steal(&l);
        }
    }
    qsort(lines, n, sizeof *lines, line_cmp);
    ed_sb_init(out);
    for (size_t i = 0; i < n; i++) {
        ed_sb_puts(out, lines[i]);
        free(lines[i]);
    }
}

/* ---- round trip -------------------------------------------------------------------------- */

ED_TEST(round_trip_of_every_kind_and_timers)
{
    fx a, b;
    fx_init(&a);
    fx_init(&b);
    fill(&a, 0, 40);
    ed_strbuf s;
    ED_REQUIRE(snap(&a, &s) == 0);
    ED_CHECK(memcmp(s.data, ED_SNAPSHOT_MAGIC, 8) == 0);
    ED_REQUIRE(restore(&b, &s, 0, 127) == 0);
    int bad = 0;
    for (int64_t k = 0; k < 40; k++)
        bad += check_key(b.b, k);
    ED_CHECK_INT(bad, 0);
    ED_CHECK_INT(ed_state_entries(get(b.b, d_value)), 120);
    ED_CHECK_INT(ed_state_entries(get(b.b, d_map)), 120);
    ED_CHECK_INT(ed_timers_count(b.t, EDDY_EVENT_TIME), 120);
    ED_CHECK_INT(ed_timers_count(b.t, EDDY_PROCESSING_TIME), 120);

    /* restored states work on: reduce and aggregate functions came with the declaration */
    set_key(b.b, 7);
    set_ns(b.b, 0);
    ED_CHECK_INT(eddy_reducing_add(get(b.b, d_reduce()), row_v(100)), 0);
    ED_CHECK_INT(v0(eddy_reducing_get(get(b.b, d_reduce()))), 107);
    ED_CHECK_INT(eddy_aggregating_add(get(b.b, d_agg()), row_v(20)), 0); /* (14 + 0 + 20) / 3 */
    ED_CHECK(eddy_row_f64(eddy_aggregating_get(get(b.b, d_agg())), 0) == 34.0 / 3);

    /* the same timers fire in the same order */
    ed_strbuf ta, tb;
    drain_timers(a.t, &ta);
    drain_timers(b.t, &tb);
    ED_CHECK(ta.len > 0);
    ED_CHECK_STR(tb.data, ta.data);
    ed_sb_free(&ta);
    ed_sb_free(&tb);
    ed_sb_free(&s);
    fx_free(&a);
    fx_free(&b);
}

ED_TEST(restored_states_survive_another_snapshot_before_they_are_declared)
{
    fx a, b, c;
    fx_init(&a);
    fx_init(&b);
    fx_init(&c);
    fill(&a, 0, 30);
    ed_strbuf s1, s2;
    ED_REQUIRE(snap(&a, &s1) == 0);
    ED_REQUIRE(restore(&b, &s1, 0, 127) == 0);
    ED_REQUIRE(snap(&b, &s2) == 0); /* b's states are placeholders: no functions yet */
    ED_CHECK_INT(s2.len, s1.len);
    ED_REQUIRE(restore(&c, &s2, 0, 127) == 0);
    int bad = 0;
    for (int64_t k = 0; k < 30; k++)
        bad += check_key(c.b, k);
    ED_CHECK_INT(bad, 0);
    ed_sb_free(&s1);
    ed_sb_free(&s2);
    fx_free(&a);
    fx_free(&b);
    fx_free(&c);
}

ED_TEST(restored_states_need_a_matching_declaration)
{
    fx a, b;
    fx_init(&a);
    fx_init(&b);
    fill(&a, 0, 5);
    ed_strbuf s;
    ED_REQUIRE(snap(&a, &s) == 0);
    ED_REQUIRE(restore(&b, &s, 0, 127) == 0);
    ed_err err = {0};
    eddy_state_desc d = d_value;
    d.kind = EDDY_STATE_LIST;
    ED_CHECK(ed_state_get(b.b, &d, &err) == NULL);
    ED_CHECK_CONTAINS(err.msg, "state 'value' is restored from a snapshot as VALUE");
    ed_err_clear(&err);
    d = d_value;
    d.schema = "v INT";
    ED_CHECK(ed_state_get(b.b, &d, &err) == NULL);
    ED_CHECK_CONTAINS(err.msg, "with schema 'v BIGINT'");
    ed_err_clear(&err);
    d = d_value;
    d.ttl.ttl_ms = 100;
    ED_CHECK(ed_state_get(b.b, &d, &err) == NULL);
    ED_CHECK_CONTAINS(err.msg, "was saved without TTL and is declared with");
    ed_err_clear(&err);
    d = d_agg();
    d.aggregate.acc_schema = "sum DOUBLE, cnt BIGINT";
    ED_CHECK(ed_state_get(b.b, &d, &err) == NULL);
    ED_CHECK_CONTAINS(err.msg, "restored with acc_schema");
    ed_err_clear(&err);
    d = d_reduce();
    d.reduce = EDDY_FN_NONE;
    ED_CHECK(ed_state_get(b.b, &d, &err) == NULL);
    ED_CHECK_CONTAINS(err.msg, "needs a reduce function");
    /* after the failures, the right declarations still find the entries */
    ED_CHECK_INT(check_key(b.b, 3), 0);
    /* a second restore of the same key groups collides */
    ed_err_clear(&err);
    ED_CHECK_INT(ed_state_restore(b.b, b.t, s.data, s.len, 0, 127, &err), -1);
    ED_CHECK_CONTAINS(err.msg, "already has this key and namespace");
    ed_sb_free(&s);
    fx_free(&a);
    fx_free(&b);
}

ED_TEST(states_declared_before_the_restore_take_the_entries)
{
    fx a, b, c;
    fx_init(&a);
    fx_init(&b);
    fx_init(&c);
    fill(&a, 0, 6);
    ed_strbuf s;
    ED_REQUIRE(snap(&a, &s) == 0);
    eddy_state *sr = get(b.b, d_reduce()); /* the operator opened first */
    ED_REQUIRE(restore(&b, &s, 0, 127) == 0);
    ED_CHECK(get(b.b, d_reduce()) == sr);
    ED_CHECK_INT(check_key(b.b, 4), 0);
    /* a declaration that contradicts the snapshot stops the restore at its descriptor */
    eddy_state_desc d = d_value;
    d.ttl.ttl_ms = 10;
    ED_REQUIRE(get(c.b, d) != NULL);
    ed_err err = {0};
    ED_CHECK_INT(ed_state_restore(c.b, c.t, s.data, s.len, 0, 127, &err), -1);
    ED_CHECK_CONTAINS(err.msg, "state snapshot: descriptor 0 at offset");
    ED_CHECK_CONTAINS(err.msg, "'value' was saved without TTL and is declared with");
    ed_sb_free(&s);
    fx_free(&a);
    fx_free(&b);
    fx_free(&c);
}

/* ---- TTL --------------------------------------------------------------------------------- */

static eddy_state_desc ttl_desc(eddy_state_desc d, bool cleanup)
{
    d.ttl.ttl_ms = 100;
    d.ttl.cleanup_full_snapshot = cleanup;
    return d;
}

/* Keys 1 and 2 written at t=1000, key 2 and 3 again at t=1050; the clock then at 1120:
 * key 1 expired; key 2's list and map hold one expired and one live value. */
static void fill_ttl(fx *f, bool cleanup)
{
    eddy_state *sv = get(f->b, ttl_desc(d_value, cleanup));
    eddy_state *sl = get(f->b, ttl_desc(d_list, cleanup));
    eddy_state *sm = get(f->b, ttl_desc(d_map, cleanup));
    set_ns(f->b, 0);
    for (int64_t k = 1; k <= 2; k++) {
        set_key(f->b, k);
        eddy_value_update(sv, row_v(k));
        eddy_list_add(sl, row_v(k));
        eddy_map_put(sm, row_k("old"), row_v(k));
    }
    ed_manual_clock_advance(&f->clock, 50);
    for (int64_t k = 2; k <= 3; k++) {
        set_key(f->b, k);
        eddy_value_update(sv, row_v(k * 10));
        eddy_list_add(sl, row_v(k * 10));
        eddy_map_put(sm, row_k("new"), row_v(k * 10));
    }
    ed_manual_clock_advance(&f->clock, 70);
}

ED_TEST(ttl_values_keep_their_access_times)
{
    fx a, b;
    fx_init(&a);
    fx_init(&b);
    fill_ttl(&a, false);
    ed_strbuf s;
    ED_REQUIRE(snap(&a, &s) == 0);
    ed_manual_clock_advance(&b.clock, 120); /* b's clock at 1120 too */
    ED_REQUIRE(restore(&b, &s, 0, 127) == 0);
    eddy_state *sv = get(b.b, ttl_desc(d_value, false));
    eddy_state *sl = get(b.b, ttl_desc(d_list, false));
    eddy_state *sm = get(b.b, ttl_desc(d_map, false));
    ED_REQUIRE(sv && sl && sm);
    ED_CHECK_INT(ed_state_entries(sv), 3); /* expired ones are kept, with their times */
    ED_CHECK_INT(ed_state_entries(sl), 3);
    set_ns(b.b, 0);
    set_key(b.b, 1);
    ED_CHECK(eddy_value_get(sv) == NULL); /* expired at 1100 */
    set_key(b.b, 2);
    ED_CHECK_INT(eddy_list_size(sl), 1);
    ED_CHECK_INT(v0(eddy_list_get(sl, 0)), 20);
    ED_CHECK(!eddy_map_contains(sm, row_k("old")));
    ED_CHECK_INT(v0(eddy_map_get(sm, row_k("new"))), 20);
    set_key(b.b, 3);
    ed_manual_clock_advance(&b.clock, 29); /* 1149: written at 1050, live until 1150 */
    ED_CHECK_INT(v0(eddy_value_get(sv)), 30);
    ed_manual_clock_advance(&b.clock, 1);
    ED_CHECK(eddy_value_get(sv) == NULL);
    ed_sb_free(&s);
    fx_free(&a);
    fx_free(&b);
}

ED_TEST(ttl_cleanup_full_snapshot_leaves_expired_values_out)
{
    fx a, b;
    fx_init(&a);
    fx_init(&b);
    fill_ttl(&a, true);
    ed_strbuf s;
    ED_REQUIRE(snap(&a, &s) == 0);
    ED_REQUIRE(restore(&b, &s, 0, 127) == 0); /* b's clock at 1000: nothing expired there */
    eddy_state *sv = get(b.b, ttl_desc(d_value, true));
    eddy_state *sl = get(b.b, ttl_desc(d_list, true));
    eddy_state *sm = get(b.b, ttl_desc(d_map, true));
    ED_REQUIRE(sv && sl && sm);
    ED_CHECK_INT(ed_state_entries(sv), 2); /* key 1 left out */
    ED_CHECK_INT(ed_state_entries(sl), 2);
    ED_CHECK_INT(ed_state_entries(sm), 2);
    set_ns(b.b, 0);
    set_key(b.b, 1);
    ED_CHECK(!ed_state_has_entry(sv));
    set_key(b.b, 2);
    ED_CHECK_INT(eddy_list_size(sl), 1); /* the expired element left out */
    ED_CHECK_INT(v0(eddy_list_get(sl, 0)), 20);
    ED_CHECK_INT(eddy_map_size(sm), 1);
    ED_CHECK(!eddy_map_contains(sm, row_k("old")));
    ed_sb_free(&s);

    /* a key group whose entries all expired has no block: the index closes the gap */
    fx c, d;
    fx_init(&c);
    fx_init(&d);
    eddy_state *cv = get(c.b, ttl_desc(d_value, true));
    set_ns(c.b, 0);
    for (int64_t k = 0; k < 50; k++) {
        if (k == 25) ed_manual_clock_advance(&c.clock, 60);
        set_key(c.b, k);
        eddy_value_update(cv, row_v(k));
    }
    ed_manual_clock_advance(&c.clock, 60); /* keys 0..24 expired */
    ED_REQUIRE(snap(&c, &s) == 0);
    ED_REQUIRE(restore(&d, &s, 0, 127) == 0);
    eddy_state *dv = get(d.b, ttl_desc(d_value, true));
    ED_CHECK_INT(ed_state_entries(dv), 25);
    int bad = 0;
    for (int64_t k = 0; k < 50; k++) {
        set_key(d.b, k);
        bad += ed_state_has_entry(dv) != (k >= 25);
    }
    ED_CHECK_INT(bad, 0);
    ed_sb_free(&s);
    fx_free(&a);
    fx_free(&b);
    fx_free(&c);
    fx_free(&d);
}

/* ---- rescaling --------------------------------------------------------------------------- */

#define NKEYS 1000

/* Restores the snapshots old[0..nold) into p new backends by key-group range and checks
 * that every key of [0, NKEYS) is in exactly the backend owning its key group. */
static void check_rescale(const ed_strbuf *old, int nold, int p)
{
    fx nf[8];
    int bad = 0;
    size_t entries = 0, timers = 0;
    for (int i = 0; i < p; i++) {
        fx_init(&nf[i]);
        int first, last;
        ed_key_group_range(i, p, 128, &first, &last);
        for (int k = 0; k < nold; k++)
            ED_CHECK_INT(restore(&nf[i], &old[k], first, last), 0);
        entries += ed_state_entries(get(nf[i].b, d_value));
        timers += ed_timers_count(nf[i].t, EDDY_EVENT_TIME);
        ed_timer tm;
        while (ed_timers_pop(nf[i].t, EDDY_PROCESSING_TIME, INT64_MAX, &tm))
            bad += tm.key_group < first || tm.key_group > last;
    }
    for (int64_t k = 0; k < NKEYS; k++) {
        int owner = ed_key_group_to_subtask(kg_of(k), 128, p);
        for (int i = 0; i < p; i++) {
            if (i == owner)
                bad += check_key(nf[i].b, k);
            else
                bad += !absent(nf[i].b, k);
        }
    }
    ED_CHECK_INT(bad, 0);
    ED_CHECK_INT(entries, 3 * NKEYS); /* none lost, none twice */
    ED_CHECK_INT(timers, 3 * NKEYS);
    for (int i = 0; i < p; i++)
        fx_free(&nf[i]);
}

ED_TEST(rescale_one_to_two_and_four_and_four_to_three)
{
    fx a;
    fx_init(&a);
    fill(&a, 0, NKEYS);
    bool used[128] = {0};
    for (int64_t k = 0; k < NKEYS; k++)
        used[kg_of(k)] = true;
    for (int g = 0; g < 128; g++)
        ED_REQUIRE(used[g]); /* the keys cover every key group */
    ed_strbuf s;
    ED_REQUIRE(snap(&a, &s) == 0);
    check_rescale(&s, 1, 2);
    check_rescale(&s, 1, 4);

    /* 4 -> 3: each new subtask reads its range out of all four old snapshots */
    ed_strbuf four[4];
    for (int i = 0; i < 4; i++) {
        fx o;
        fx_init(&o);
        int first, last;
        ed_key_group_range(i, 4, 128, &first, &last);
        ED_CHECK_INT(restore(&o, &s, first, last), 0);
        ED_CHECK_INT(snap(&o, &four[i]), 0);
        fx_free(&o);
    }
    check_rescale(four, 4, 3);
    for (int i = 0; i < 4; i++)
        ed_sb_free(&four[i]);
    ed_sb_free(&s);
    fx_free(&a);
}

ED_TEST(rescale_two_to_one)
{
    ed_strbuf two[2];
    for (int i = 0; i < 2; i++) {
        fx o;
        fx_init(&o);
        /* old subtask i holds the keys whose key group it owns */
        for (int64_t k = 0; k < NKEYS; k++)
            if (ed_key_group_to_subtask(kg_of(k), 128, 2) == i) fill(&o, k, k + 1);
        ED_CHECK_INT(snap(&o, &two[i]), 0);
        fx_free(&o);
    }
    check_rescale(two, 2, 1);
    ed_sb_free(&two[0]);
    ed_sb_free(&two[1]);
}

/* ---- operator state ---------------------------------------------------------------------- */

static eddy_state_desc d_op = {.name = "offsets", .kind = EDDY_STATE_LIST, .schema = "v BIGINT"};
static eddy_state_desc d_un = {.name = "all", .kind = EDDY_STATE_LIST, .schema = "v BIGINT"};
static eddy_state_desc d_bc = {
    .name = "rules", .kind = EDDY_STATE_MAP, .schema = "v BIGINT", .key_schema = "k STRING"};

/* Old subtask k of n: split list k*100 + j (j < k + 2), union list k, broadcast map
 * "x" -> 1 and "from" -> k (to see whose copy is taken). */
static void op_old(int k, ed_strbuf *out)
{
    ed_err err = {0};
    ed_operator_store *o = ed_operator_store_new(NULL);
    eddy_state *sp = ed_operator_list(o, &d_op, EDDY_OP_STATE_SPLIT, &err);
    eddy_state *su = ed_operator_list(o, &d_un, EDDY_OP_STATE_UNION, &err);
    eddy_state *bm = ed_broadcast_map(o, &d_bc, &err);
    for (int j = 0; j < k + 2; j++)
        eddy_list_add(sp, row_v(k * 100 + j));
    eddy_list_add(su, row_v(k));
    eddy_map_put(bm, row_k("x"), row_v(1));
    eddy_map_put(bm, row_k("from"), row_v(k));
    ed_sb_init(out);
    ED_CHECK_INT(ed_operator_store_snapshot(o, out, &err), 0);
    ed_operator_store_free(o);
}

static void check_redistribution(int nold, int p)
{
    ed_strbuf snaps[4];
    ed_snapshot_ref refs[4];
    int64_t all[64];
    int nall = 0;
    for (int k = 0; k < nold; k++) {
        op_old(k, &snaps[k]);
        refs[k] = (ed_snapshot_ref){snaps[k].data, snaps[k].len};
        for (int j = 0; j < k + 2; j++)
            all[nall++] = k * 100 + j;
    }
    int seen = 0;
    for (int i = 0; i < p; i++) {
        ed_err err = {0};
        ed_operator_store *o = ed_operator_store_new(NULL);
        ED_CHECK_INT(ed_operator_store_restore(o, refs, nold, i, p, &err), 0);
        if (err.set) fprintf(stderr, "  %s\n", err.msg);
        eddy_state *sp = ed_operator_list(o, &d_op, EDDY_OP_STATE_SPLIT, &err);
        eddy_state *su = ed_operator_list(o, &d_un, EDDY_OP_STATE_UNION, &err);
        eddy_state *bm = ed_broadcast_map(o, &d_bc, &err);
        ED_REQUIRE(sp && su && bm);
        size_t n = eddy_list_size(sp), want = 0;
        for (int j = i; j < nall; j += p, want++)
            ED_CHECK_INT(v0(eddy_list_get(sp, want)), all[j]); /* element j goes to j % p */
        ED_CHECK_INT(n, want);
        seen += (int)n;
        ED_CHECK_INT(eddy_list_size(su), nold);
        for (int k = 0; k < nold; k++)
            ED_CHECK_INT(v0(eddy_list_get(su, (size_t)k)), k);
        ED_CHECK_INT(eddy_map_size(bm), 2);
        ED_CHECK_INT(v0(eddy_map_get(bm, row_k("from"))), 0);
        ED_CHECK_INT(v0(eddy_map_get(bm, row_k("x"))), 1);
        ed_operator_store_free(o);
    }
    ED_CHECK_INT(seen, nall);
    for (int k = 0; k < nold; k++)
        ed_sb_free(&snaps[k]);
}

ED_TEST(operator_state_split_union_and_broadcast_redistribution)
{
    check_redistribution(2, 3);
    check_redistribution(3, 1);
    check_redistribution(3, 2);
}

ED_TEST(operator_state_restore_refuses_mode_changes_and_keyed_snapshots)
{
    ed_strbuf s;
    op_old(0, &s);
    ed_snapshot_ref ref = {s.data, s.len};
    ed_err err = {0};
    ed_operator_store *o = ed_operator_store_new(NULL);
    ED_CHECK(ed_operator_list(o, &d_op, EDDY_OP_STATE_UNION, &err) != NULL);
    ED_CHECK_INT(ed_operator_store_restore(o, &ref, 1, 0, 1, &err), -1);
    ED_CHECK_CONTAINS(err.msg, "old subtask 0: state snapshot: descriptor 0 at offset");
    ED_CHECK_CONTAINS(err.msg, "declared as UNION and saved as SPLIT");
    ed_operator_store_free(o);
    ed_sb_free(&s);

    /* a keyed snapshot (max parallelism 128) is not an operator store's */
    fx a;
    fx_init(&a);
    fill(&a, 0, 3);
    ED_REQUIRE(snap(&a, &s) == 0);
    ref = (ed_snapshot_ref){s.data, s.len};
    o = ed_operator_store_new(NULL);
    ed_err_clear(&err);
    ED_CHECK_INT(ed_operator_store_restore(o, &ref, 1, 0, 1, &err), -1);
    ED_CHECK_CONTAINS(err.msg, "taken at max parallelism 128");
    ed_operator_store_free(o);
    ed_sb_free(&s);
    fx_free(&a);
}

/* ---- malformed snapshots ----------------------------------------------------------------- */

static uint32_t rd32(const ed_strbuf *s, size_t at)
{
    uint32_t v;
    memcpy(&v, s->data + at, 4);
    return v;
}

/* Restores len bytes of s into a fresh backend; the error message, or NULL on success. */
static const char *restore_bytes(const void *p, size_t len, ed_err *err)
{
    fx f;
    fx_init(&f);
    ed_err_clear(err);
    int rc = ed_state_restore(f.b, f.t, p, len, 0, 127, err);
    if (rc == 0) {
        /* whatever was restored must be usable: snapshot it again */
        ed_strbuf again;
        ed_sb_init(&again);
        ed_err e2 = {0};
        if (ed_state_snapshot(f.b, f.t, &again, &e2)) ED_FAIL_AT("%s", e2.msg);
        ed_sb_free(&again);
    } else if (!err->set || strncmp(err->msg, "state snapshot: ", 16) != 0) {
        ED_FAIL_AT("restore failed without a state snapshot error: %s", err->msg);
    }
    /* a failed restore of a malformed snapshot leaves the backend untouched (an entry
     * that appears twice is found only while applying: a flipped key may do that) */
    if (rc && !strstr(err->msg, "appears twice") && !strstr(err->msg, "already has this"))
        ED_CHECK(ed_state_entries(get(f.b, d_value)) == 0);
    fx_free(&f);
    return rc ? err->msg : NULL;
}

ED_TEST(malformed_snapshots_give_named_errors)
{
    fx a;
    fx_init(&a);
    fill(&a, 0, 10);
    ed_strbuf s;
    ED_REQUIRE(snap(&a, &s) == 0);
    ed_err err = {0};
    ED_CHECK(restore_bytes(s.data, s.len, &err) == NULL);
    ED_CHECK_STR(restore_bytes(s.data, 5, &err),
                 "state snapshot: header at offset 0: needs 8 bytes, 5 left");
    ED_CHECK_CONTAINS(restore_bytes(s.data, s.len - 1, &err), "index entry at offset");

    ed_strbuf c;
    ed_sb_init(&c);
    ed_sb_append(&c, s.data, s.len);
    c.data[0] = 'X';
    ED_CHECK_CONTAINS(restore_bytes(c.data, c.len, &err), "bad magic");
    memcpy(c.data, s.data, 8);
    c.data[8] = 9;
    ED_CHECK_CONTAINS(restore_bytes(c.data, c.len, &err), "unsupported version 9");
    c.data[8] = 1;

    /* the length of the first block: a huge one and one a little too long */
    size_t len_at = 24 + 16;
    uint64_t blen;
    memcpy(&blen, c.data + len_at, 8);
    c.data[len_at + 5] ^= 0x40;
    ED_CHECK_CONTAINS(restore_bytes(c.data, c.len, &err), "index entry at offset 24: block of");
    memcpy(c.data + len_at, &blen, 8);
    /* the count of the first block's first section's entries */
    uint64_t off;
    memcpy(&off, c.data + 24 + 8, 8);
    uint32_t n = rd32(&c, (size_t)off + 12) + 1000;
    memcpy(c.data + off + 12, &n, 4);
    ED_CHECK_CONTAINS(restore_bytes(c.data, c.len, &err), " at offset ");
    memcpy(c.data, s.data, s.len);
    /* the length of the first row of the first entry (a VALUE: key, access, row length) */
    size_t klen = rd32(&c, (size_t)off + 16), nslen = rd32(&c, (size_t)off + 20);
    size_t row_at = (size_t)off + 24 + ED_ALIGN8(klen) + ED_ALIGN8(nslen) + 8;
    n = 0xfffffff0u;
    memcpy(c.data + row_at, &n, 4);
    ED_CHECK_CONTAINS(restore_bytes(c.data, c.len, &err), "value row at offset");
    n = 16; /* shorter than the row says: the row check catches it */
    memcpy(c.data + row_at, &n, 4);
    ED_CHECK_CONTAINS(restore_bytes(c.data, c.len, &err), "row: size field says");

    /* a misaligned copy of a good snapshot restores */
    ed_sb_reset(&c);
    ed_sb_putc(&c, 0);
    ed_sb_append(&c, s.data, s.len);
    ED_CHECK(restore_bytes(c.data + 1, s.len, &err) == NULL);

    /* a range outside the key groups, a snapshot with timers and no timer service */
    fx b;
    fx_init(&b);
    ED_CHECK_INT(ed_state_restore(b.b, b.t, s.data, s.len, 5, 128, &err), -1);
    ED_CHECK_CONTAINS(err.msg, "key groups [5, 128] are not within [0, 128)");
    ed_err_clear(&err);
    ED_CHECK_INT(ed_state_restore(b.b, NULL, s.data, s.len, 0, 127, &err), -1);
    ED_CHECK_CONTAINS(err.msg, "there is no timer service");
    ed_sb_free(&c);
    ed_sb_free(&s);
    fx_free(&a);
    fx_free(&b);
}

ED_TEST(fuzz_truncations_and_byte_flips_fail_cleanly_or_restore)
{
    fx a;
    fx_init(&a);
    fill(&a, 0, 2);
    eddy_state *sv = get(
        a.b,
        ttl_desc((eddy_state_desc){.name = "ttl", .kind = EDDY_STATE_VALUE, .schema = "s STRING"},
                 false));
    set_key(a.b, 5);
    eddy_value_update(sv, row_k("hello"));
    ed_strbuf s;
    ED_REQUIRE(snap(&a, &s) == 0);
    ed_err err = {0};
    int ok = 0, failed = 0;
#ifdef ED_SNAPSHOT_TEST_ROCKSDB /* opening a RocksDB instance per try: a sample */
    const size_t step = 29;
#else
    const size_t step = 1;
#endif
    for (size_t len = 0; len < s.len; len += step) {
        if (restore_bytes(s.data, len, &err))
            failed++;
        else
            ED_FAIL_AT("a snapshot cut at %zu of %zu bytes restored", len, s.len);
    }
    ed_strbuf c;
    ed_sb_init(&c);
    ed_sb_append(&c, s.data, s.len);
    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < s.len; i += step) {
        for (size_t f = 0; f < sizeof flips; f++) {
            c.data[i] = (char)(s.data[i] ^ flips[f]);
            if (restore_bytes(c.data, c.len, &err))
                failed++;
            else
                ok++;
        }
        c.data[i] = s.data[i];
    }
    /* the flips inside values (not lengths, counts or schemas) restore */
    ED_CHECK(ok > 0);
    ED_CHECK(failed > (int)(s.len / step));
    if (ed_test_failed_now) fprintf(stderr, "  %zu bytes: %d ok, %d failed\n", s.len, ok, failed);

    /* the same for operator state */
    ed_strbuf o;
    op_old(1, &o);
    for (size_t len = 0; len <= o.len; len++) {
        ed_operator_store *st = ed_operator_store_new(NULL);
        ed_snapshot_ref ref = {o.data, len};
        ed_err_clear(&err);
        int rc = ed_operator_store_restore(st, &ref, 1, 0, 2, &err);
        ED_CHECK(rc == (len == o.len ? 0 : -1));
        ed_operator_store_free(st);
    }
    for (size_t i = 0; i < o.len; i++) {
        char keep = o.data[i];
        o.data[i] ^= 0x21;
        ed_operator_store *st = ed_operator_store_new(NULL);
        ed_snapshot_ref ref = {o.data, o.len};
        ed_err_clear(&err);
        if (ed_operator_store_restore(st, &ref, 1, 1, 2, &err))
            ED_CHECK_CONTAINS(err.msg, "state snapshot: ");
        ed_operator_store_free(st);
        o.data[i] = keep;
    }
    ed_sb_free(&o);
    ed_sb_free(&c);
    ed_sb_free(&s);
    fx_free(&a);
}
