/*
 * nexmark_test.c - the `nexmark` source: its rows are the generator's events of its kind,
 * in the declared columns, at parallelism 1 and 2 (one split per subtask); after failures
 * the job's results are exact (positions are checkpointed); options and schemas that do
 * not fit are refused with what is wrong. The `ysb` source too: exact counts after a
 * failure, and its ads table.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "api/api.h"
#include "checkpoint/storage.h"
#include "connectors/nexmark_gen.h"
#include "connectors/ysb_gen.h"
#include "ed_test.h"
#include "job_util.h"

static const char *const BID_SCHEMA =
    "auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, "
    "dateTime TIMESTAMP(3), extra STRING";

/* Expected rows: the bids of split i of n of `events` events (default options, base 0),
 * rendered as the job renders them, appended to out (one per line). */
static void expected_bids(int64_t events, int i, int n, ed_strbuf *out)
{
    ed_nx_config c;
    ed_nx_config_default(&c);
    c.events = events;
    c.generators = n;
    ed_nx_gen g;
    ED_REQUIRE(ed_nx_gen_init(&g, &c, ed_nx_split_of(&c, i, n), 0) == 0);
    ed_nx_event ev;
    char err[128];
    eddy_schema *s = eddy_schema_parse(BID_SCHEMA, err, sizeof err);
    eddy_row_builder *b = eddy_rb_new(7);
    while (ed_nx_has_next(&g)) {
        ed_nx_next(&g, &ev);
        if (ev.kind != ED_NX_BID) continue;
        eddy_rb_reset(b);
        eddy_rb_set_i64(b, 0, ev.bid.auction);
        eddy_rb_set_i64(b, 1, ev.bid.bidder);
        eddy_rb_set_i64(b, 2, ev.bid.price);
        eddy_rb_set_str(b, 3, ev.bid.channel.p, ev.bid.channel.len);
        eddy_rb_set_str(b, 4, ev.bid.url.p, ev.bid.url.len);
        eddy_rb_set_i64(b, 5, ev.date_time);
        eddy_rb_set_str(b, 6, ev.bid.extra.p, ev.bid.extra.len);
        if (out->len) ed_sb_putc(out, '\n');
        ed_row_format_flink(s, eddy_rb_row(b), out);
    }
    eddy_rb_free(b);
    eddy_schema_free(s);
    ed_nx_gen_free(&g);
}

ED_TEST(bids_are_the_generators_at_parallelism_1_and_2)
{
    for (int p = 1; p <= 2; p++) {
        eddy_env *env = eddy_env_new();
        eddy_env_set_parallelism(env, p);
        eddy_stream *s = eddy_source(env, "nexmark", BID_SCHEMA, "kind", "bid", "events.num",
                                     "3000", "events.base-time", "0", NULL);
        ED_REQUIRE(s);
        eddy_result *r = eddy_collect(s);
        ED_REQUIRE(eddy_execute(env, "nexmark") == 0);
        char *got = result_text(r, eddy_stream_schema(s), 0); /* subtasks in order */
        ed_strbuf want;
        ed_sb_init(&want);
        for (int i = 0; i < p; i++) expected_bids(3000, i, p, &want);
        ED_CHECK_INT(eddy_result_count(r), 2760); /* 46 of every 50 */
        ED_CHECK(strcmp(got, want.data) == 0);
        free(got);
        ed_sb_free(&want);
        eddy_env_free(env);
    }
}

ED_TEST(any_columns_in_any_order_and_every_kind)
{
    eddy_env *env = eddy_env_new();
    eddy_stream *b = eddy_source(env, "nexmark", "price BIGINT, auction BIGINT", "kind", "bid",
                                 "events.num", "100", "events.base-time", "0", NULL);
    eddy_stream *p = eddy_source(env, "nexmark", "name STRING, id BIGINT, state STRING, dateTime TIMESTAMP(3)",
                                 "kind", "person", "events.num", "100", "events.base-time", "0",
                                 NULL);
    eddy_stream *a = eddy_source(env, "nexmark",
                                 "id BIGINT, itemName STRING, seller BIGINT, expires TIMESTAMP(3)",
                                 "kind", "auction", "events.num", "10", "events.base-time", "0",
                                 NULL);
    eddy_result *rb = eddy_collect(b), *rp = eddy_collect(p), *ra = eddy_collect(a);
    ED_REQUIRE(eddy_execute(env, "kinds") == 0);
    /* the reference's first bid (event 4), person (event 50) and auction (event 2) */
    ED_CHECK_INT(eddy_result_count(rb), 92);
    ED_CHECK_INT(eddy_row_i64(eddy_result_row(rb, 0), 0), 32530001);
    ED_CHECK_INT(eddy_row_i64(eddy_result_row(rb, 0), 1), 1000);
    ED_CHECK_INT(eddy_result_count(rp), 2);
    char *pt = result_text(rp, eddy_stream_schema(p), 0);
    ED_CHECK(strncmp(pt, "+I[Sarah Smith, 1001, ID, 1970-01-01T00:00:00.004]", 50) == 0);
    free(pt);
    char *at = result_text(ra, eddy_stream_schema(a), 0);
    ED_CHECK_STR(at, "+I[1001, z ck w, 1000, 1970-01-01T00:00:00.202]\n"
                     "+I[1002, gxycmhtobprpd, 1000, 1970-01-01T00:00:00.001]");
    free(at);
    eddy_env_free(env);
}

/* Parallelism 2, a checkpoint every 20 ms into dir, restarts 1 ms after a failure. */
static eddy_env *failover_env(const char *dir)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    eddy_env_set(env, "log.level", "OFF");
    eddy_env_set(env, "execution.checkpointing.interval", "20 ms");
    eddy_env_set(env, "execution.checkpointing.dir", dir);
    eddy_env_set(env, "restart-strategy.type", "fixed-delay");
    eddy_env_set(env, "restart-strategy.fixed-delay.delay", "1 ms");
    return env;
}

static atomic_long fail_at = -1;

int nx_fail_once(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    int64_t price = eddy_row_i64(in, 2);
    long f = atomic_load(&fail_at);
    if (f >= 0 && eddy_row_i64(in, 3) >= f && atomic_compare_exchange_strong(&fail_at, &f, -1))
        return eddy_fail(ctx, "injected failure");
    eddy_rb_set_i64(out, 0, eddy_row_i64(in, 1) % 7); /* bidder group */
    eddy_rb_set_i64(out, 1, price);
    return 0;
}

ED_TEST(positions_are_checkpointed_and_results_exact_after_a_failure)
{
    enum { EVENTS = 400000 };
    char dir[] = "/tmp/eddy_nexmark_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    /* expected: per bidder group, the sum of prices */
    int64_t want[7] = {0}, got[7];
    for (int k = 0; k < 7; k++) got[k] = -1;
    ed_nx_config c;
    ed_nx_config_default(&c);
    c.events = EVENTS;
    c.generators = 2;
    for (int i = 0; i < 2; i++) {
        ed_nx_gen g;
        ED_REQUIRE(ed_nx_gen_init(&g, &c, ed_nx_split_of(&c, i, 2), 0) == 0);
        g.skip_extra = true;
        ed_nx_event ev;
        while (ed_nx_has_next(&g)) {
            ed_nx_next(&g, &ev);
            if (ev.kind == ED_NX_BID) want[ev.bid.bidder % 7] += ev.bid.price;
        }
        ed_nx_gen_free(&g);
    }
    atomic_store(&fail_at, 15000); /* a bid with a timestamp past 15 s: mid-run */
    eddy_env *env = failover_env(dir);
    eddy_stream *s = eddy_source(env, "nexmark", "auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3)",
                                 "kind", "bid", "events.num", "400000", NULL);
    eddy_uid(s, "bids");
    eddy_stream *m = eddy_uid(eddy_map(s, EDDY_FN(nx_fail_once), "k BIGINT, price BIGINT"), "m");
    eddy_stream *sums = eddy_uid(eddy_sum(eddy_key_by(m, "k"), "price"), "sums");
    eddy_result *r = eddy_collect(sums);
    int rc = eddy_execute(env, "nx");
    if (rc) fprintf(stderr, "  %s\n", eddy_env_error(env));
    ED_REQUIRE(rc == 0);
    ED_CHECK_INT(atomic_load(&fail_at), -1);
    for (size_t i = 0; i < eddy_result_count(r); i++) {
        const eddy_row *row = eddy_result_row(r, i);
        int64_t k = eddy_row_i64(row, 0), v = eddy_row_i64(row, 1);
        if (v > got[k]) got[k] = v; /* sums only grow */
    }
    for (int k = 0; k < 7; k++) ED_CHECK_INT(got[k], want[k]);
    eddy_env_free(env);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

static const char *build_error(const char *schema, const char *k1, const char *v1)
{
    static char msg[600];
    eddy_env *env = eddy_env_new();
    eddy_stream *s = eddy_source(env, "nexmark", schema, "kind", "bid", k1, v1, NULL);
    snprintf(msg, sizeof msg, "%s", s ? "(accepted)" : eddy_env_error(env));
    eddy_env_free(env);
    return msg;
}

ED_TEST(options_and_schemas_that_do_not_fit_are_refused)
{
    ED_CHECK_STR(build_error("price BIGINT, name STRING", "events.num", "1"),
                 "nexmark: field 'name' is not a column of bid events (auction, bidder, price, "
                 "channel, url, dateTime, extra)");
    ED_CHECK_STR(build_error("price INT", "events.num", "1"),
                 "nexmark: field 'price' is INT, not BIGINT");
    ED_CHECK_STR(build_error("price BIGINT", "person.proportion", "0"),
                 "nexmark: option 'person.proportion': '0' is out of range [1, 1000000]");
    ED_CHECK_STR(build_error("price BIGINT", "bid.avg-size", "2 gb"),
                 "nexmark: option 'bid.avg-size': '2 gb' is not a size between 0 b and 1 mb");
    ED_CHECK_CONTAINS(build_error("price BIGINT", "rate.shape", "SINE"),
                      "Source: nexmark: unknown option 'rate.shape' (options: kind, ");
    eddy_env *env = eddy_env_new();
    ED_CHECK(eddy_source(env, "nexmark", "price BIGINT", "kind", "bids", NULL) == NULL);
    ED_CHECK_STR(eddy_env_error(env), "nexmark: option 'kind': 'bids' is not person, auction or bid");
    eddy_env_free(env);
}

/* ---- the ysb source ------------------------------------------------------------------------- */

static atomic_long ysb_fail_at = -1;

/* (event type, 1), failing once at the first event at or after ysb_fail_at ms */
int ysb_type_one(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    long f = atomic_load(&ysb_fail_at);
    if (f >= 0 && eddy_row_i64(in, 1) >= f && atomic_compare_exchange_strong(&ysb_fail_at, &f, -1))
        return eddy_fail(ctx, "injected failure");
    eddy_str t = eddy_row_str(in, 0);
    eddy_rb_set_str(out, 0, t.ptr, t.len);
    eddy_rb_set_i64(out, 1, 1);
    return 0;
}

ED_TEST(ysb_positions_are_checkpointed_and_counts_exact_after_a_failure)
{
    enum { EVENTS = 300000 };
    char dir[] = "/tmp/eddy_ysb_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    int64_t want[3] = {0};
    ed_ysb_event e;
    for (int64_t i = 0; i < EVENTS; i++) {
        ed_ysb_event_at(7, i, 0, 10000, 0, &e);
        want[e.event_type]++;
    }
    atomic_store(&ysb_fail_at, 15000); /* mid-run: events go to 30 s */
    eddy_env *env = failover_env(dir);
    eddy_stream *s = eddy_source(env, "ysb", "event_type STRING, event_time TIMESTAMP(3)", "kind",
                                 "events", "events.num", "300000", "events-per-second", "10000",
                                 "seed", "7", NULL);
    eddy_uid(s, "ysb");
    eddy_stream *m = eddy_uid(eddy_map(s, EDDY_FN(ysb_type_one), "t STRING, n BIGINT"), "m");
    eddy_stream *counts = eddy_uid(eddy_sum(eddy_key_by(m, "t"), "n"), "counts");
    eddy_result *r = eddy_collect(counts);
    int rc = eddy_execute(env, "ysb");
    if (rc) fprintf(stderr, "  %s\n", eddy_env_error(env));
    ED_REQUIRE(rc == 0);
    ED_CHECK_INT(atomic_load(&ysb_fail_at), -1);
    int64_t got[3] = {0};
    for (size_t i = 0; i < eddy_result_count(r); i++) {
        const eddy_row *row = eddy_result_row(r, i);
        eddy_str t = eddy_row_str(row, 0);
        for (int k = 0; k < 3; k++)
            if (t.len == strlen(ed_ysb_event_types[k]) && !memcmp(t.ptr, ed_ysb_event_types[k], t.len) &&
                eddy_row_i64(row, 1) > got[k])
                got[k] = eddy_row_i64(row, 1);
    }
    for (int k = 0; k < 3; k++) ED_CHECK_INT(got[k], want[k]);
    eddy_env_free(env);
    ed_err er = {0};
    ed_remove_tree(dir, &er);

    /* and the ads table: 1,000 ads, 10 per campaign */
    env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    eddy_env_set(env, "log.level", "OFF");
    r = eddy_collect(eddy_source(env, "ysb", "campaign_id STRING, ad_id STRING", "kind", "ads", NULL));
    ED_REQUIRE(eddy_execute(env, "ads") == 0);
    ED_CHECK_INT(eddy_result_count(r), 1000);
    char ad[37], campaign[37];
    ed_ysb_ad(0, 999, ad, campaign);
    bool found = false;
    for (size_t i = 0; i < eddy_result_count(r); i++) {
        eddy_str a = eddy_row_str(eddy_result_row(r, i), 1), c = eddy_row_str(eddy_result_row(r, i), 0);
        found |= a.len == 36 && !memcmp(a.ptr, ad, 36) && c.len == 36 && !memcmp(c.ptr, campaign, 36);
    }
    ED_CHECK(found);
    eddy_env_free(env);
}
