/*
 * queries.c - the Nexmark queries as eddy jobs over the `nexmark` source, with the
 * reference's semantics (nexmark/nexmark's SQL, quoted above each query): event time from
 * `dateTime` with the benchmark's watermark, dateTime - 4 s.
 *
 * nexmark_query(env, name, &options) builds query `name` ("q0" ... "q12") and returns its
 * result stream; the caller adds the sink. examples/nexmark.c runs one from the command
 * line; tests/nexmark_queries_test.c checks each against a computation of its own, and
 * bench/nexmark.c measures them. Included by those files (one copy of the code).
 *
 * Where SQL would produce a changelog (q3's join, q4 and q9's aggregations), the job
 * emits the new value of a result row whenever it changes: the last row per key is the
 * final result, as the reference's upsert sink would hold it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <eddy/eddy.h>

typedef struct nexmark_options {
    const char *events;    /* events.num; NULL: unbounded */
    const char *rate;      /* first-event.rate (and next-event.rate); NULL: 10000 */
    const char *base_time; /* events.base-time; NULL: the submission time */
    bool paced;            /* max-emit-speed false */
} nexmark_options;

#define NX_WATERMARK_DELAY_MS 4000
#define NX_WINDOW_MS 10000

/* Field copies (rows do not carry their types). */
static inline void cp_i64(eddy_row_builder *b, uint32_t i, const eddy_row *in, uint32_t j)
{
    eddy_rb_set_i64(b, i, eddy_row_i64(in, j));
}
static inline int cp_str(eddy_row_builder *b, uint32_t i, const eddy_row *in, uint32_t j)
{
    eddy_str v = eddy_row_str(in, j);
    return eddy_rb_set_str(b, i, v.ptr, v.len);
}

/* ---- scratch builders per operator subtask (made on first use, freed by nxq_close) ------ */

typedef struct nxq_scratch {
    eddy_row_builder *b[4];
    uint32_t arity[4];
    int64_t win[4], max[4]; /* q7's route: the highest price of recent windows (win + 1; 0: none) */
} nxq_scratch;

static nxq_scratch *nxq_scratch_of(eddy_ctx *ctx)
{
    nxq_scratch *s = eddy_ctx_user(ctx);
    if (!s && (s = calloc(1, sizeof *s))) eddy_ctx_set_user(ctx, s);
    return s;
}

/* Scratch builder `slot` (0-3) of this arity, reset; NULL when out of memory. */
static eddy_row_builder *nxq_rb(eddy_ctx *ctx, int slot, uint32_t arity)
{
    nxq_scratch *s = nxq_scratch_of(ctx);
    if (!s) return NULL;
    if (s->b[slot] && s->arity[slot] != arity) {
        eddy_rb_free(s->b[slot]);
        s->b[slot] = NULL;
    }
    if (!s->b[slot]) {
        s->b[slot] = eddy_rb_new(arity);
        s->arity[slot] = arity;
    }
    if (s->b[slot]) eddy_rb_reset(s->b[slot]);
    return s->b[slot];
}

void nxq_close(eddy_ctx *ctx)
{
    nxq_scratch *s = eddy_ctx_user(ctx);
    if (!s) return;
    for (int i = 0; i < 4; i++) eddy_rb_free(s->b[i]);
    free(s);
    eddy_ctx_set_user(ctx, NULL);
}

static eddy_stream *scratch_user(eddy_stream *s) { return eddy_rich(s, EDDY_FN_NONE, EDDY_FN(nxq_close)); }

/* ---- sources ---------------------------------------------------------------------------- */

/* A source of `connector` reading `kind`, with the options o sets: the rate under the
 * connector's own name(s) (rate_keys, NULL-terminated). */
static eddy_stream *bench_source(eddy_env *env, const char *connector, const char *kind,
                                 const char *schema, const nexmark_options *o,
                                 const char *const *rate_keys)
{
    const char *kv[16] = {"kind", kind};
    int n = 2;
    if (o->events) {
        kv[n++] = "events.num";
        kv[n++] = o->events;
    }
    for (int k = 0; o->rate && rate_keys[k]; k++) {
        kv[n++] = rate_keys[k];
        kv[n++] = o->rate;
    }
    if (o->base_time) {
        kv[n++] = "events.base-time";
        kv[n++] = o->base_time;
    }
    if (o->paced) {
        kv[n++] = "max-emit-speed";
        kv[n++] = "false";
    }
    return eddy_source(env, connector, schema, kv[0], kv[1], kv[2], kv[3], kv[4], kv[5], kv[6],
                       kv[7], kv[8], kv[9], kv[10], kv[11], kv[12], kv[13], NULL);
}

static eddy_stream *nx_source(eddy_env *env, const char *kind, const char *schema,
                              const nexmark_options *o)
{
    static const char *const rate_keys[] = {"first-event.rate", "next-event.rate", NULL};
    eddy_stream *s = bench_source(env, "nexmark", kind, schema, o, rate_keys);
    char uid[32];
    snprintf(uid, sizeof uid, "nexmark-%s", kind);
    return eddy_uid(eddy_name(s, kind), uid);
}

/* The kind's events with the benchmark's watermark. */
static eddy_stream *nx_timed(eddy_env *env, const char *kind, const char *schema,
                             const nexmark_options *o)
{
    return eddy_assign_timestamps_and_watermarks(
        nx_source(env, kind, schema, o),
        eddy_bounded_out_of_orderness(NX_WATERMARK_DELAY_MS, "dateTime"));
}

/* ---- q0: SELECT auction, bidder, price, dateTime, extra FROM bid ------------------------- */

static eddy_stream *q0(eddy_env *env, const nexmark_options *o)
{
    return nx_timed(env, "bid",
                    "auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3), extra STRING", o);
}

/* ---- q1: SELECT auction, bidder, 0.908 * price AS price, dateTime, extra FROM bid -------- */

int nxq1_euro(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    cp_i64(out, 0, in, 0);
    cp_i64(out, 1, in, 1);
    eddy_rb_set_f64(out, 2, 0.908 * (double)eddy_row_i64(in, 2));
    cp_i64(out, 3, in, 3);
    return cp_str(out, 4, in, 4);
}

static eddy_stream *q1(eddy_env *env, const nexmark_options *o)
{
    return eddy_map(q0(env, o), EDDY_FN(nxq1_euro),
                    "auction BIGINT, bidder BIGINT, price DOUBLE, dateTime TIMESTAMP(3), extra STRING");
}

/* ---- q2: SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0 ---------------------- */

/* (auction, price, dateTime) -> (auction, price) */
int nxq2_select(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    if (eddy_row_i64(in, 0) % 123) return 0;
    eddy_row_builder *b = eddy_out_builder(out);
    cp_i64(b, 0, in, 0);
    cp_i64(b, 1, in, 1);
    return eddy_emit(out, eddy_rb_row(b));
}

static eddy_stream *q2(eddy_env *env, const nexmark_options *o)
{
    return eddy_flat_map(nx_timed(env, "bid", "auction BIGINT, price BIGINT, dateTime TIMESTAMP(3)", o),
                         EDDY_FN(nxq2_select), "auction BIGINT, price BIGINT");
}

/* ---- q3: SELECT P.name, P.city, P.state, A.id FROM auction A JOIN person P ON A.seller =
 * P.id WHERE A.category = 10 AND P.state IN ('OR', 'ID', 'CA') ----------------------------
 * A regular join: each side's rows wait in state for the other's (for ever, as the SQL's). */

static const eddy_state_desc q3_person = {
    .name = "person", .kind = EDDY_STATE_VALUE, .schema = "name STRING, city STRING, state STRING"};
static const eddy_state_desc q3_auctions = {
    .name = "auctions", .kind = EDDY_STATE_LIST, .schema = "id BIGINT"};

int nxq3_auction_filter(eddy_ctx *ctx, const eddy_row *in) { return eddy_row_i64(in, 2) == 10; }

int nxq3_person_filter(eddy_ctx *ctx, const eddy_row *in)
{
    eddy_str s = eddy_row_str(in, 3);
    return s.len == 2 && (!memcmp(s.ptr, "OR", 2) || !memcmp(s.ptr, "ID", 2) || !memcmp(s.ptr, "CA", 2));
}

static int q3_emit(eddy_collector *out, const eddy_row *person, int64_t auction)
{
    eddy_row_builder *b = eddy_out_builder(out);
    if (cp_str(b, 0, person, 0) || cp_str(b, 1, person, 1) || cp_str(b, 2, person, 2)) return -1;
    eddy_rb_set_i64(b, 3, auction);
    return eddy_emit(out, eddy_rb_row(b));
}

/* auction (id, seller, category, dateTime) */
int nxq3_on_auction(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    const eddy_row *p = eddy_value_get(eddy_keyed_state(ctx, &q3_person));
    if (p) return q3_emit(out, p, eddy_row_i64(in, 0));
    eddy_row_builder *b = nxq_rb(ctx, 0, 1);
    if (!b) return eddy_fail(ctx, "out of memory");
    eddy_rb_set_i64(b, 0, eddy_row_i64(in, 0));
    return eddy_list_add(eddy_keyed_state(ctx, &q3_auctions), eddy_rb_row(b));
}

/* person (id, name, city, state, dateTime); ids are unique */
int nxq3_on_person(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_row_builder *b = nxq_rb(ctx, 0, 3);
    if (!b) return eddy_fail(ctx, "out of memory");
    if (cp_str(b, 0, in, 1) || cp_str(b, 1, in, 2) || cp_str(b, 2, in, 3)) return -1;
    const eddy_row *p = eddy_rb_row(b);
    if (eddy_value_update(eddy_keyed_state(ctx, &q3_person), p)) return -1;
    eddy_state *waiting = eddy_keyed_state(ctx, &q3_auctions);
    p = eddy_value_get(eddy_keyed_state(ctx, &q3_person));
    for (size_t i = 0, n = eddy_list_size(waiting); i < n; i++)
        if (q3_emit(out, p, eddy_row_i64(eddy_list_get(waiting, i), 0))) return -1;
    eddy_state_clear(waiting);
    return 0;
}

static eddy_stream *q3(eddy_env *env, const nexmark_options *o)
{
    eddy_stream *a = eddy_filter(
        nx_timed(env, "auction", "id BIGINT, seller BIGINT, category BIGINT, dateTime TIMESTAMP(3)", o),
        EDDY_FN(nxq3_auction_filter));
    eddy_stream *p = eddy_filter(
        nx_timed(env, "person", "id BIGINT, name STRING, city STRING, state STRING, dateTime TIMESTAMP(3)", o),
        EDDY_FN(nxq3_person_filter));
    eddy_connected *c = eddy_connect(eddy_key_by(a, "seller"), eddy_key_by(p, "id"));
    return scratch_user(eddy_co_process(c, EDDY_FN(nxq3_on_auction), EDDY_FN(nxq3_on_person),
                                        EDDY_FN_NONE, "name STRING, city STRING, state STRING, id BIGINT"));
}

/* ---- q5: hot items: per 10 s window sliding by 2 s, the auctions with the most bids -------
 *   SELECT auction, num FROM (count per auction and HOP window) JOIN (max count per
 *   window) ON same window AND num >= maxn
 * Counts per (auction, window) by a sliding window aggregation; then per window (keyed by
 * its end) the counts wait until the watermark passes the window's end, and those equal to
 * the window's maximum are emitted. */

int nxq_count_create(eddy_ctx *ctx, eddy_row_builder *acc)
{
    eddy_rb_set_i64(acc, 0, 0);
    return 0;
}
int nxq_count_add(eddy_ctx *ctx, const eddy_row *in, const eddy_row *acc, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(acc, 0) + 1);
    return 0;
}
int nxq_count_merge(eddy_ctx *ctx, const eddy_row *a, const eddy_row *b, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(a, 0) + eddy_row_i64(b, 0));
    return 0;
}
int nxq_count_result(eddy_ctx *ctx, const eddy_row *acc, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(acc, 0));
    return 0;
}
static const eddy_aggregate nxq_count = {"n BIGINT", "n BIGINT", EDDY_FN(nxq_count_create),
                                         EDDY_FN(nxq_count_add), EDDY_FN(nxq_count_result),
                                         EDDY_FN(nxq_count_merge)};

/* (key, count, window start, window end) from the counted window */
int nxq_keyed_count(eddy_ctx *ctx, const eddy_window_elements *e, eddy_collector *out)
{
    eddy_row_builder *b = eddy_out_builder(out);
    cp_i64(b, 0, eddy_ctx_current_key(ctx), 0);
    eddy_rb_set_i64(b, 1, eddy_row_i64(eddy_window_row(e, 0), 0));
    eddy_rb_set_i64(b, 2, eddy_ctx_window_start(ctx));
    eddy_rb_set_i64(b, 3, eddy_ctx_window_end(ctx));
    return eddy_emit(out, eddy_rb_row(b));
}

static const eddy_state_desc q5_counts = {
    .name = "counts", .kind = EDDY_STATE_LIST, .schema = "auction BIGINT, num BIGINT"};
static const eddy_state_desc q5_max = {.name = "max", .kind = EDDY_STATE_VALUE, .schema = "n BIGINT"};

/* (auction, num, start, end), keyed by end */
int nxq5_collect(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *max = eddy_keyed_state(ctx, &q5_max);
    const eddy_row *m = eddy_value_get(max);
    int64_t num = eddy_row_i64(in, 1);
    if (!m || num > eddy_row_i64(m, 0)) {
        eddy_row_builder *b = nxq_rb(ctx, 0, 1);
        if (!b) return eddy_fail(ctx, "out of memory");
        eddy_rb_set_i64(b, 0, num);
        if (eddy_value_update(max, eddy_rb_row(b))) return -1;
        if (!m) eddy_timer_register_event_time(ctx, eddy_row_i64(in, 3) - 1);
    }
    m = eddy_value_get(max);
    if (num < eddy_row_i64(m, 0)) return 0; /* never the window's maximum */
    eddy_row_builder *b = nxq_rb(ctx, 1, 2);
    if (!b) return eddy_fail(ctx, "out of memory");
    cp_i64(b, 0, in, 0);
    eddy_rb_set_i64(b, 1, num);
    return eddy_list_add(eddy_keyed_state(ctx, &q5_counts), eddy_rb_row(b));
}

int nxq5_fire(eddy_ctx *ctx, int64_t time, eddy_collector *out)
{
    eddy_state *counts = eddy_keyed_state(ctx, &q5_counts), *max = eddy_keyed_state(ctx, &q5_max);
    int64_t m = eddy_row_i64(eddy_value_get(max), 0);
    for (size_t i = 0, n = eddy_list_size(counts); i < n; i++) {
        const eddy_row *r = eddy_list_get(counts, i);
        if (eddy_row_i64(r, 1) < m) continue;
        eddy_row_builder *b = eddy_out_builder(out);
        cp_i64(b, 0, r, 0);
        cp_i64(b, 1, r, 1);
        if (eddy_emit(out, eddy_rb_row(b))) return -1;
    }
    eddy_state_clear(counts);
    eddy_state_clear(max);
    return 0;
}

static eddy_stream *q5(eddy_env *env, const nexmark_options *o)
{
    eddy_stream *bids = nx_timed(env, "bid", "auction BIGINT, dateTime TIMESTAMP(3)", o);
    eddy_windowed *w = eddy_window(eddy_key_by(bids, "auction"),
                                   eddy_sliding_event_time_windows(NX_WINDOW_MS, 2000, 0));
    eddy_stream *counts = eddy_window_aggregate_process(
        w, nxq_count, EDDY_FN(nxq_keyed_count), "auction BIGINT, num BIGINT, starttime BIGINT, endtime BIGINT");
    return scratch_user(eddy_keyed_process(eddy_key_by(counts, "endtime"), EDDY_FN(nxq5_collect),
                                           EDDY_FN(nxq5_fire), "auction BIGINT, num BIGINT"));
}

/* ---- q7: highest bid: the bids whose price is the maximum of their 10 s tumbling window
 *   SELECT B.* FROM bid B JOIN (SELECT MAX(price) maxprice, window_end dateTime FROM
 *   TUMBLE(bid, 10 s) GROUP BY window) B1 ON B.price = B1.maxprice
 *   WHERE B.dateTime BETWEEN B1.dateTime - 10 s AND B1.dateTime
 * Keyed by window; a bid at a window's end also meets the window before (BETWEEN includes
 * both ends), so it goes to both. At the window's end (the watermark past it) the bids of
 * the maximum price are emitted. Each subtask of the route sends a bid to a window only if
 * its price is at least the highest it has seen in that window so far (a local
 * pre-aggregation, as Flink SQL's two-phase aggregation): a lower one can be neither the
 * window's maximum nor equal to it. That memory is not checkpointed: after a restore every
 * bid is sent until it has seen the windows again. */

static const eddy_state_desc q7_best = {
    .name = "best", .kind = EDDY_STATE_LIST,
    .schema = "auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3), extra STRING"};
static const eddy_state_desc q7_edge = {
    .name = "edge", .kind = EDDY_STATE_LIST,
    .schema = "auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3), extra STRING"};
static const eddy_state_desc q7_max = {.name = "max", .kind = EDDY_STATE_VALUE, .schema = "p BIGINT"};

/* Whether a bid of this price may matter to window w: not below the highest price seen
 * in w here. `in_window`: the bid is in w (else it is at w's end), and raises that price. */
static bool q7_may_matter(nxq_scratch *s, int64_t w, int64_t price, bool in_window)
{
    int k = (int)(w & 3);
    if (s->win[k] != w + 1) {
        if (s->win[k] > w + 1 || !in_window) return true; /* a window not followed here */
        s->win[k] = w + 1;
        s->max[k] = price;
        return true;
    }
    if (price < s->max[k]) return false;
    if (in_window) s->max[k] = price;
    return true;
}

/* (window, bid...) for the window(s) a bid meets */
int nxq7_route(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    int64_t t = eddy_row_i64(in, 3), w = t / NX_WINDOW_MS; /* event times are not negative */
    int64_t price = eddy_row_i64(in, 2);
    nxq_scratch *s = nxq_scratch_of(ctx);
    if (!s) return eddy_fail(ctx, "out of memory");
    bool edge = t % NX_WINDOW_MS == 0 && w > 0; /* also the end of the window before */
    bool here = q7_may_matter(s, w, price, true), before = edge && q7_may_matter(s, w - 1, price, false);
    if (!here && !before) return 0;
    eddy_row_builder *b = eddy_out_builder(out);
    for (uint32_t f = 0; f < 4; f++) cp_i64(b, f + 1, in, f);
    if (cp_str(b, 5, in, 4)) return -1;
    eddy_rb_set_i64(b, 0, w);
    if (here && eddy_emit(out, eddy_rb_row(b))) return -1;
    if (!before) return 0;
    eddy_rb_set_i64(b, 0, w - 1);
    return eddy_emit(out, eddy_rb_row(b));
}

int nxq7_collect(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    int64_t w = eddy_row_i64(in, 0), t = eddy_row_i64(in, 4), price = eddy_row_i64(in, 3);
    eddy_row_builder *b = nxq_rb(ctx, 0, 5);
    if (!b) return eddy_fail(ctx, "out of memory");
    for (uint32_t f = 0; f < 4; f++) cp_i64(b, f, in, f + 1);
    if (cp_str(b, 4, in, 5)) return -1;
    if (t == (w + 1) * NX_WINDOW_MS) /* the window's end: a candidate, not in its maximum */
        return eddy_list_add(eddy_keyed_state(ctx, &q7_edge), eddy_rb_row(b));
    eddy_state *max = eddy_keyed_state(ctx, &q7_max), *best = eddy_keyed_state(ctx, &q7_best);
    const eddy_row *m = eddy_value_get(max);
    if (!m) eddy_timer_register_event_time(ctx, (w + 1) * NX_WINDOW_MS - 1);
    if (m && price < eddy_row_i64(m, 0)) return 0;
    if (!m || price > eddy_row_i64(m, 0)) {
        eddy_state_clear(best);
        eddy_row_builder *p = nxq_rb(ctx, 1, 1);
        if (!p) return eddy_fail(ctx, "out of memory");
        eddy_rb_set_i64(p, 0, price);
        if (eddy_value_update(max, eddy_rb_row(p))) return -1;
    }
    return eddy_list_add(best, eddy_rb_row(b));
}

int nxq7_fire(eddy_ctx *ctx, int64_t time, eddy_collector *out)
{
    eddy_state *max = eddy_keyed_state(ctx, &q7_max);
    const eddy_row *m = eddy_value_get(max);
    if (m) {
        int64_t price = eddy_row_i64(m, 0);
        const eddy_state_desc *lists[2] = {&q7_best, &q7_edge};
        for (int k = 0; k < 2; k++) {
            eddy_state *l = eddy_keyed_state(ctx, lists[k]);
            for (size_t i = 0, n = eddy_list_size(l); i < n; i++) {
                const eddy_row *r = eddy_list_get(l, i);
                if (eddy_row_i64(r, 2) == price && eddy_emit(out, r)) return -1;
            }
        }
    }
    eddy_state_clear(eddy_keyed_state(ctx, &q7_best));
    eddy_state_clear(eddy_keyed_state(ctx, &q7_edge));
    eddy_state_clear(max);
    return 0;
}

static eddy_stream *q7(eddy_env *env, const nexmark_options *o)
{
    eddy_stream *bids = nx_timed(env, "bid",
                                 "auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3), extra STRING", o);
    eddy_stream *routed = scratch_user(eddy_flat_map(bids, EDDY_FN(nxq7_route),
                                                     "w BIGINT, auction BIGINT, bidder BIGINT, "
                                                     "price BIGINT, dateTime TIMESTAMP(3), extra STRING"));
    return scratch_user(eddy_keyed_process(
        eddy_key_by(routed, "w"), EDDY_FN(nxq7_collect), EDDY_FN(nxq7_fire),
        "auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3), extra STRING"));
}

/* ---- q8: new users: people who registered and created an auction in the same 10 s
 * tumbling window: (id, name, window start) ---------------------------------------------- */

int nxq8_co_group(eddy_ctx *ctx, const eddy_window_elements *people,
                  const eddy_window_elements *auctions, eddy_collector *out)
{
    if (!eddy_window_count(auctions)) return 0;
    for (size_t i = 0, n = eddy_window_count(people); i < n; i++) {
        const eddy_row *p = eddy_window_row(people, i);
        eddy_row_builder *b = eddy_out_builder(out);
        cp_i64(b, 0, p, 0);
        if (cp_str(b, 1, p, 1)) return -1;
        eddy_rb_set_i64(b, 2, eddy_ctx_window_start(ctx));
        if (eddy_emit(out, eddy_rb_row(b))) return -1;
    }
    return 0;
}

static eddy_stream *q8(eddy_env *env, const nexmark_options *o)
{
    eddy_stream *p = nx_timed(env, "person", "id BIGINT, name STRING, dateTime TIMESTAMP(3)", o);
    eddy_stream *a = nx_timed(env, "auction", "seller BIGINT, dateTime TIMESTAMP(3)", o);
    return eddy_window_co_group(p, "id", a, "seller", eddy_tumbling_event_time_windows(NX_WINDOW_MS, 0),
                                EDDY_FN(nxq8_co_group), "id BIGINT, name STRING, starttime TIMESTAMP(3)");
}

/* ---- q4 and q9: the bids of each auction placed between its start and its expiry ------
 * q9: SELECT A.*, B.auction, B.bidder, B.price, B.dateTime, B.extra, ROW_NUMBER() OVER
 *     (PARTITION BY A.id ORDER BY B.price DESC, B.dateTime ASC) ... WHERE rownum <= 1
 *     FROM auction A, bid B WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND
 *     A.expires: the winning bid of each auction with the auction
 * q4: SELECT category, AVG(final) FROM (SELECT MAX(B.price) AS final, A.category FROM
 *     auction A, bid B WHERE <the same> GROUP BY A.id, A.category) GROUP BY category
 * Keyed by auction id: the auction waits in state, bids that come before it wait for it,
 * and the best bid so far (highest price, earliest on ties) is kept; each new best is
 * emitted. */

#define Q9_AUCTION "id BIGINT, itemName STRING, description STRING, initialBid BIGINT, " \
                   "reserve BIGINT, dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, " \
                   "category BIGINT, extra STRING"
#define Q9_BID "auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3), extra STRING"

/* q4 reads only what it uses: its auctions' strings and prices are not even made */
#define Q4_AUCTION "id BIGINT, category BIGINT, dateTime TIMESTAMP(3), expires TIMESTAMP(3)"
#define Q4_BID "auction BIGINT, price BIGINT, dateTime TIMESTAMP(3)"

/* The layout of one query's rows and its states. */
typedef struct q49 {
    eddy_state_desc auction, best, early;
    uint32_t a_id, a_time, a_expires, a_category, b_price, b_time;
    bool q4;
} q49;

static const q49 Q9 = {{.name = "auction", .kind = EDDY_STATE_VALUE, .schema = Q9_AUCTION},
                       {.name = "best", .kind = EDDY_STATE_VALUE, .schema = Q9_BID},
                       {.name = "early", .kind = EDDY_STATE_LIST, .schema = Q9_BID},
                       0, 5, 6, 8, 2, 3, false};
static const q49 Q4 = {{.name = "auction", .kind = EDDY_STATE_VALUE, .schema = Q4_AUCTION},
                       {.name = "best", .kind = EDDY_STATE_VALUE, .schema = Q4_BID},
                       {.name = "early", .kind = EDDY_STATE_LIST, .schema = Q4_BID},
                       0, 2, 3, 1, 1, 2, true};

static int copy_auction(eddy_row_builder *b, uint32_t at, const eddy_row *a)
{
    static const bool str[10] = {0, 1, 1, 0, 0, 0, 0, 0, 0, 1};
    for (uint32_t f = 0; f < 10; f++)
        if (str[f] ? cp_str(b, at + f, a, f) : (cp_i64(b, at + f, a, f), 0)) return -1;
    return 0;
}

static int copy_bid(eddy_row_builder *b, uint32_t at, const eddy_row *bid)
{
    for (uint32_t f = 0; f < 4; f++) cp_i64(b, at + f, bid, f);
    return cp_str(b, at + 4, bid, 4);
}

/* The new best bid of auction a (q9: the joined row; q4: (category, auction, price)). */
static int q49_emit(const q49 *q, const eddy_row *a, const eddy_row *bid, eddy_collector *out)
{
    eddy_row_builder *b = eddy_out_builder(out);
    if (q->q4) {
        cp_i64(b, 0, a, q->a_category);
        cp_i64(b, 1, a, q->a_id);
        cp_i64(b, 2, bid, q->b_price);
    } else if (copy_auction(b, 0, a) || copy_bid(b, 10, bid)) {
        return -1;
    }
    return eddy_emit(out, eddy_rb_row(b));
}

/* Whether bid is inside auction a's time and better than the best so far. */
static bool q49_better(const q49 *q, const eddy_row *a, const eddy_row *best, const eddy_row *bid)
{
    int64_t t = eddy_row_i64(bid, q->b_time);
    if (t < eddy_row_i64(a, q->a_time) || t > eddy_row_i64(a, q->a_expires)) return false;
    if (!best) return true;
    int64_t p = eddy_row_i64(bid, q->b_price), bp = eddy_row_i64(best, q->b_price);
    return p > bp || (p == bp && t < eddy_row_i64(best, q->b_time));
}

static int q49_offer(const q49 *q, eddy_ctx *ctx, const eddy_row *a, const eddy_row *bid,
                     eddy_collector *out)
{
    eddy_state *best = eddy_keyed_state(ctx, &q->best);
    if (!q49_better(q, a, eddy_value_get(best), bid)) return 0;
    if (eddy_value_update(best, bid)) return -1;
    return q49_emit(q, a, bid, out);
}

static int q49_on_auction(const q49 *q, eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *auction = eddy_keyed_state(ctx, &q->auction);
    if (eddy_value_update(auction, in)) return -1;
    const eddy_row *a = eddy_value_get(auction);
    eddy_state *early = eddy_keyed_state(ctx, &q->early);
    for (size_t i = 0, n = eddy_list_size(early); i < n; i++)
        if (q49_offer(q, ctx, a, eddy_list_get(early, i), out)) return -1;
    eddy_state_clear(early);
    return 0;
}

static int q49_on_bid(const q49 *q, eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    const eddy_row *a = eddy_value_get(eddy_keyed_state(ctx, &q->auction));
    if (!a) return eddy_list_add(eddy_keyed_state(ctx, &q->early), in);
    return q49_offer(q, ctx, a, in, out);
}

int nxq9_on_auction(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out) { return q49_on_auction(&Q9, ctx, in, out); }
int nxq9_on_bid(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out) { return q49_on_bid(&Q9, ctx, in, out); }
int nxq4_on_auction(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out) { return q49_on_auction(&Q4, ctx, in, out); }
int nxq4_on_bid(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out) { return q49_on_bid(&Q4, ctx, in, out); }

static eddy_stream *best_bids(eddy_env *env, const nexmark_options *o, bool q4)
{
    eddy_stream *a = nx_timed(env, "auction", q4 ? Q4_AUCTION : Q9_AUCTION, o);
    eddy_stream *b = nx_timed(env, "bid", q4 ? Q4_BID : Q9_BID, o);
    eddy_connected *c = eddy_connect(eddy_key_by(a, "id"), eddy_key_by(b, "auction"));
    if (q4)
        return eddy_co_process(c, EDDY_FN(nxq4_on_auction), EDDY_FN(nxq4_on_bid), EDDY_FN_NONE,
                               "category BIGINT, auction BIGINT, final BIGINT");
    return eddy_co_process(c, EDDY_FN(nxq9_on_auction), EDDY_FN(nxq9_on_bid), EDDY_FN_NONE,
                           Q9_AUCTION ", auction BIGINT, bidder BIGINT, price BIGINT, "
                                      "bid_dateTime TIMESTAMP(3), bid_extra STRING");
}

static eddy_stream *q9(eddy_env *env, const nexmark_options *o) { return best_bids(env, o, false); }

/* q4's second half: per category, the winning price of each auction; the average (AVG of
 * BIGINT is a BIGINT, truncated) emitted at every change. */
static const eddy_state_desc q4_finals = {
    .name = "finals", .kind = EDDY_STATE_MAP, .schema = "final BIGINT", .key_schema = "auction BIGINT"};
static const eddy_state_desc q4_sum = {.name = "sum", .kind = EDDY_STATE_VALUE, .schema = "sum BIGINT, n BIGINT"};

int nxq4_average(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *finals = eddy_keyed_state(ctx, &q4_finals), *sum = eddy_keyed_state(ctx, &q4_sum);
    eddy_row_builder *k = nxq_rb(ctx, 0, 1), *v = nxq_rb(ctx, 1, 1), *t = nxq_rb(ctx, 2, 2);
    if (!k || !v || !t || !finals || !sum) return eddy_fail(ctx, "out of memory");
    eddy_rb_set_i64(k, 0, eddy_row_i64(in, 1)); /* the auction */
    const eddy_row *key = eddy_rb_row(k), *old = eddy_map_get(finals, key);
    const eddy_row *s = eddy_value_get(sum);
    int64_t total = s ? eddy_row_i64(s, 0) : 0, n = s ? eddy_row_i64(s, 1) : 0;
    int64_t price = eddy_row_i64(in, 2);
    if (old) total -= eddy_row_i64(old, 0);
    else n++;
    total += price;
    eddy_rb_set_i64(v, 0, price);
    if (eddy_map_put(finals, key, eddy_rb_row(v))) return -1;
    eddy_rb_set_i64(t, 0, total);
    eddy_rb_set_i64(t, 1, n);
    if (eddy_value_update(sum, eddy_rb_row(t))) return -1;
    eddy_row_builder *b = eddy_out_builder(out);
    cp_i64(b, 0, in, 0);
    eddy_rb_set_i64(b, 1, total / n);
    return eddy_emit(out, eddy_rb_row(b));
}

static eddy_stream *q4(eddy_env *env, const nexmark_options *o)
{
    eddy_stream *best = best_bids(env, o, true);
    return scratch_user(eddy_keyed_process(eddy_key_by(best, "category"), EDDY_FN(nxq4_average),
                                           EDDY_FN_NONE, "id BIGINT, final BIGINT"));
}

/* ---- q11: user sessions: per bidder, session windows with a 10 s gap --------------------
 *   SELECT bidder, count(*), SESSION_START, SESSION_END FROM bid GROUP BY bidder,
 *   SESSION(dateTime, 10 s) */

static eddy_stream *q11(eddy_env *env, const nexmark_options *o)
{
    eddy_stream *bids = nx_timed(env, "bid", "bidder BIGINT, dateTime TIMESTAMP(3)", o);
    eddy_windowed *w = eddy_window(eddy_key_by(bids, "bidder"), eddy_event_time_session_windows(NX_WINDOW_MS));
    return eddy_window_aggregate_process(w, nxq_count, EDDY_FN(nxq_keyed_count),
                                         "bidder BIGINT, bid_count BIGINT, starttime TIMESTAMP(3), "
                                         "endtime TIMESTAMP(3)");
}

/* ---- q12: per bidder, bids in 10 s processing-time tumbling windows ---------------------- */

static eddy_stream *q12(eddy_env *env, const nexmark_options *o)
{
    eddy_stream *bids = nx_source(env, "bid", "bidder BIGINT", o);
    eddy_windowed *w = eddy_window(eddy_key_by(bids, "bidder"),
                                   eddy_tumbling_processing_time_windows(NX_WINDOW_MS, 0));
    return eddy_window_aggregate_process(w, nxq_count, EDDY_FN(nxq_keyed_count),
                                         "bidder BIGINT, bid_count BIGINT, starttime TIMESTAMP(3), "
                                         "endtime TIMESTAMP(3)");
}

/* ---- YSB: the Yahoo Streaming Benchmark -----------------------------------------------------
 * The views among the ad events, each joined to its ad's campaign, counted per campaign in
 * 10 s event-time tumbling windows: (campaign_id, window end, count). The ads table (1,000
 * ads of 100 campaigns) is a second, bounded source. Keyed by ad, the join counts its
 * ad's views per window and sends (campaign, count) when the watermark passes the
 * window's end (a local pre-aggregation, as Flink SQL's two-phase aggregation); the
 * campaign's window sums them. Views of an ad not yet seen are counted and sent when it
 * comes. */

static const eddy_state_desc ysb_campaign = {
    .name = "campaign", .kind = EDDY_STATE_VALUE, .schema = "campaign_id STRING"};
static const eddy_state_desc ysb_views = {
    .name = "views", .kind = EDDY_STATE_MAP, .schema = "n BIGINT", .key_schema = "window_end BIGINT"};

/* (campaign_id, n) at the window's max timestamp */
static int ysb_emit(eddy_collector *out, const eddy_row *campaign, int64_t end, int64_t n)
{
    eddy_row_builder *b = eddy_out_builder(out);
    if (cp_str(b, 0, campaign, 0)) return -1;
    eddy_rb_set_i64(b, 1, n);
    return eddy_emit_ts(out, eddy_rb_row(b), end - 1);
}

int ysb_event_is_view(eddy_ctx *ctx, const eddy_row *in)
{
    eddy_str t = eddy_row_str(in, 1);
    return t.len == 4 && memcmp(t.ptr, "view", 4) == 0;
}

/* a view (ad_id, event_type, event_time): counted in its window */
int ysb_on_view(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    int64_t t = eddy_row_i64(in, 2), end = t - t % NX_WINDOW_MS + NX_WINDOW_MS; /* t >= 0 */
    eddy_state *views = eddy_keyed_state(ctx, &ysb_views);
    eddy_row_builder *k = nxq_rb(ctx, 0, 1), *v = nxq_rb(ctx, 1, 1);
    if (!k || !v || !views) return eddy_fail(ctx, "out of memory");
    eddy_rb_set_i64(k, 0, end);
    const eddy_row *c = eddy_map_get(views, eddy_rb_row(k));
    if (!c && eddy_timer_register_event_time(ctx, end - 1)) return -1;
    eddy_rb_set_i64(v, 0, c ? eddy_row_i64(c, 0) + 1 : 1);
    return eddy_map_put(views, eddy_rb_row(k), eddy_rb_row(v));
}

/* The window ending at `end` is over: its count goes to the ad's campaign, once known. */
static int ysb_send(eddy_ctx *ctx, eddy_collector *out, const eddy_row *campaign, int64_t end)
{
    eddy_state *views = eddy_keyed_state(ctx, &ysb_views);
    eddy_row_builder *k = nxq_rb(ctx, 0, 1);
    if (!k || !views) return eddy_fail(ctx, "out of memory");
    eddy_rb_set_i64(k, 0, end);
    const eddy_row *c = eddy_map_get(views, eddy_rb_row(k));
    if (!c) return 0;
    if (ysb_emit(out, campaign, end, eddy_row_i64(c, 0))) return -1;
    return eddy_map_remove(views, eddy_rb_row(k));
}

int ysb_on_timer(eddy_ctx *ctx, int64_t time, eddy_collector *out)
{
    const eddy_row *campaign = eddy_value_get(eddy_keyed_state(ctx, &ysb_campaign));
    return campaign ? ysb_send(ctx, out, campaign, time + 1) : 0; /* else when the ad comes */
}

/* an ad (ad_id, campaign_id): the windows already over that counted its views are sent */
int ysb_on_ad(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_row_builder *b = nxq_rb(ctx, 2, 1);
    if (!b || cp_str(b, 0, in, 1)) return eddy_fail(ctx, "out of memory");
    eddy_state *campaign = eddy_keyed_state(ctx, &ysb_campaign);
    if (eddy_value_update(campaign, eddy_rb_row(b))) return -1;
    const eddy_row *c = eddy_value_get(campaign);
    int64_t wm = eddy_ctx_current_watermark(ctx), over[64];
    for (;;) { /* (a few at a time: the map is not changed while it is walked) */
        size_t n = 0;
        eddy_map_iter it;
        const eddy_row *key, *value;
        eddy_map_iter_start(eddy_keyed_state(ctx, &ysb_views), &it);
        while (n < 64 && eddy_map_next(&it, &key, &value))
            if (eddy_row_i64(key, 0) - 1 <= wm) over[n++] = eddy_row_i64(key, 0);
        for (size_t i = 0; i < n; i++)
            if (ysb_send(ctx, out, c, over[i])) return -1;
        if (n < 64) return 0;
    }
}

int ysb_sum_add(eddy_ctx *ctx, const eddy_row *in, const eddy_row *acc, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(acc, 0) + eddy_row_i64(in, 1));
    return 0;
}
static const eddy_aggregate ysb_sum = {"n BIGINT", "n BIGINT", EDDY_FN(nxq_count_create),
                                       EDDY_FN(ysb_sum_add), EDDY_FN(nxq_count_result),
                                       EDDY_FN(nxq_count_merge)};

/* (campaign_id, window end, count) */
int ysb_window_count(eddy_ctx *ctx, const eddy_window_elements *e, eddy_collector *out)
{
    eddy_row_builder *b = eddy_out_builder(out);
    if (cp_str(b, 0, eddy_ctx_current_key(ctx), 0)) return -1;
    eddy_rb_set_i64(b, 1, eddy_ctx_window_end(ctx));
    eddy_rb_set_i64(b, 2, eddy_row_i64(eddy_window_row(e, 0), 0));
    return eddy_emit(out, eddy_rb_row(b));
}

static eddy_stream *ysb(eddy_env *env, const nexmark_options *o)
{
    static const char *const rate_keys[] = {"events-per-second", NULL};
    eddy_stream *ev = bench_source(env, "ysb", "events",
                                   "ad_id STRING, event_type STRING, event_time TIMESTAMP(3)", o,
                                   rate_keys);
    eddy_uid(eddy_name(ev, "ad events"), "ysb-events");
    ev = eddy_assign_timestamps_and_watermarks(ev, eddy_bounded_out_of_orderness(0, "event_time"));
    eddy_stream *ads = eddy_uid(eddy_source(env, "ysb", "ad_id STRING, campaign_id STRING", "kind", "ads",
                                            NULL), "ysb-ads");
    eddy_stream *views = eddy_filter(ev, EDDY_FN(ysb_event_is_view));
    eddy_connected *c = eddy_connect(eddy_key_by(views, "ad_id"), eddy_key_by(ads, "ad_id"));
    eddy_stream *counted = scratch_user(eddy_co_process(c, EDDY_FN(ysb_on_view), EDDY_FN(ysb_on_ad),
                                                        EDDY_FN(ysb_on_timer), "campaign_id STRING, n BIGINT"));
    eddy_windowed *w = eddy_window(eddy_key_by(counted, "campaign_id"),
                                   eddy_tumbling_event_time_windows(NX_WINDOW_MS, 0));
    return eddy_window_aggregate_process(w, ysb_sum, EDDY_FN(ysb_window_count),
                                         "campaign_id STRING, window_end TIMESTAMP(3), count BIGINT");
}

/* ---- the table ------------------------------------------------------------------------- */

/* When a query's result is due, in the event time of its timestamp t: results that follow
 * an event at t (due: t); results fired by the watermark (windows, event-time timers) once
 * it passes t, that is once events reach t + the watermark's delay + 1; processing-time
 * results at t + 1 of the clock (NXQ_PROCESSING_TIME). */
#define NXQ_AT_EVENT 0
#define NXQ_AT_WATERMARK (NX_WATERMARK_DELAY_MS + 1)
#define NXQ_PROCESSING_TIME (-1)

static const struct nexmark_query {
    const char *name;
    eddy_stream *(*build)(eddy_env *env, const nexmark_options *o);
    const char *what;
    int64_t due_after; /* NXQ_AT_EVENT, the event time after t the result waits for, or
                          NXQ_PROCESSING_TIME */
} nexmark_queries[] = {
    {"q0", q0, "pass-through of bids", NXQ_AT_EVENT},
    {"q1", q1, "bid prices in euros", NXQ_AT_EVENT},
    {"q2", q2, "bids of auctions whose id is a multiple of 123", NXQ_AT_EVENT},
    {"q3", q3, "auctions of category 10 by sellers in OR, ID or CA", NXQ_AT_EVENT},
    {"q4", q4, "average winning price per category", NXQ_AT_EVENT},
    {"q5", q5, "hot items: most bids per 10 s window sliding by 2 s", NXQ_AT_WATERMARK},
    {"q7", q7, "highest bids of each 10 s window", NXQ_AT_WATERMARK},
    {"q8", q8, "people who registered and auctioned in the same 10 s window", NXQ_AT_WATERMARK},
    {"q9", q9, "the winning bid of each auction", NXQ_AT_EVENT},
    {"q11", q11, "bidder sessions with a 10 s gap", NXQ_AT_WATERMARK},
    {"q12", q12, "bids per bidder in 10 s processing-time windows", NXQ_PROCESSING_TIME},
    {"ysb", ysb, "Yahoo Streaming Benchmark: views per campaign per 10 s", 1 /* bound 0 */},
};

/* Builds query `name`; NULL (with the environment's error set) when unknown. */
static eddy_stream *nexmark_query(eddy_env *env, const char *name, const nexmark_options *o)
{
    for (size_t i = 0; i < sizeof nexmark_queries / sizeof nexmark_queries[0]; i++)
        if (strcmp(nexmark_queries[i].name, name) == 0) return nexmark_queries[i].build(env, o);
    return NULL;
}
