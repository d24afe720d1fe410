/*
 * nexmark.c - the `nexmark` source: the Nexmark benchmark's events (nexmark_gen.h), with
 * the options of the reference's Flink connector.
 *
 * One source reads one kind of event (option `kind`: person, auction or bid), with the
 * columns of the reference's view of that kind; the schema declares any of them, in any
 * order, matched by name:
 *
 *   person   id BIGINT, name STRING, emailAddress STRING, creditCard STRING, city STRING,
 *            state STRING, dateTime TIMESTAMP(3), extra STRING
 *   auction  id BIGINT, itemName STRING, description STRING, initialBid BIGINT,
 *            reserve BIGINT, dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT,
 *            category BIGINT, extra STRING
 *   bid      auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
 *            dateTime TIMESTAMP(3), extra STRING
 *
 * The stream is the same whatever is read from it: every source over the same options
 * sees the same events, and the events of other kinds are passed over without being
 * generated (each event's fields depend on its id only). A schema without `extra` skips
 * drawing it, the costliest field, and one without prices skips computing them.
 *
 * Splits: at the first start the stream is cut into one split per subtask (as the
 * reference, whose generators are the source's parallelism); a split's position is the
 * number of events it has produced. A checkpoint holds each subtask's unfinished splits,
 * the number of splits and the base time; a restore at any parallelism deals the splits of
 * all old subtasks out again (connectors_int.h). The options that shape the stream must be
 * those of the checkpoint.
 *
 * The base time (the timestamp of the first events) is `events.base-time`, or the
 * processing time when the job was submitted, kept across restarts. Events are emitted as
 * fast as the job takes them (the reference's max-emit-speed); with `max-emit-speed` false
 * each event waits until its timestamp has come, the base time being the moment the job
 * was submitted: every source of the job keeps the same schedule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "../state/snapshot.h"
#include "connectors_int.h"
#include "nexmark_gen.h"

#define NX "nexmark"

/* The columns of each kind. */
enum {
    C_P_ID, C_P_NAME, C_P_EMAIL, C_P_CARD, C_P_CITY, C_P_STATE, C_P_TIME, C_P_EXTRA,
    C_A_ID, C_A_ITEM, C_A_DESC, C_A_INITIAL, C_A_RESERVE, C_A_TIME, C_A_EXPIRES, C_A_SELLER,
    C_A_CATEGORY, C_A_EXTRA,
    C_B_AUCTION, C_B_BIDDER, C_B_PRICE, C_B_CHANNEL, C_B_URL, C_B_TIME, C_B_EXTRA,
};

static const ed_conn_column columns[] = { /* group: the kind */
    {ED_NX_PERSON, "id", EDDY_BIGINT},           {ED_NX_PERSON, "name", EDDY_STRING},
    {ED_NX_PERSON, "emailAddress", EDDY_STRING}, {ED_NX_PERSON, "creditCard", EDDY_STRING},
    {ED_NX_PERSON, "city", EDDY_STRING},         {ED_NX_PERSON, "state", EDDY_STRING},
    {ED_NX_PERSON, "dateTime", EDDY_TIMESTAMP},  {ED_NX_PERSON, "extra", EDDY_STRING},
    {ED_NX_AUCTION, "id", EDDY_BIGINT},          {ED_NX_AUCTION, "itemName", EDDY_STRING},
    {ED_NX_AUCTION, "description", EDDY_STRING}, {ED_NX_AUCTION, "initialBid", EDDY_BIGINT},
    {ED_NX_AUCTION, "reserve", EDDY_BIGINT},     {ED_NX_AUCTION, "dateTime", EDDY_TIMESTAMP},
    {ED_NX_AUCTION, "expires", EDDY_TIMESTAMP},  {ED_NX_AUCTION, "seller", EDDY_BIGINT},
    {ED_NX_AUCTION, "category", EDDY_BIGINT},    {ED_NX_AUCTION, "extra", EDDY_STRING},
    {ED_NX_BID, "auction", EDDY_BIGINT},         {ED_NX_BID, "bidder", EDDY_BIGINT},
    {ED_NX_BID, "price", EDDY_BIGINT},           {ED_NX_BID, "channel", EDDY_STRING},
    {ED_NX_BID, "url", EDDY_STRING},             {ED_NX_BID, "dateTime", EDDY_TIMESTAMP},
    {ED_NX_BID, "extra", EDDY_STRING},
};
#define NCOLUMNS ((int)(sizeof columns / sizeof columns[0]))
static const char *const kind_names[] = {"person", "auction", "bid"};

typedef struct nx_opts {
    ed_nx_config c;
    ed_nx_kind kind;
    bool base_set;  /* events.base-time given */
    bool max_speed; /* max-emit-speed */
    int *col;       /* per schema field: its column (columns[]) */
    bool extra;     /* extra is read */
    bool prices;    /* a price is read (price, initialBid, reserve) */
} nx_opts;

static int opt_size(const ed_node *n, const char *key, int dflt, int *out, ed_err *err)
{
    const char *v = ed_node_param(n, key);
    *out = dflt;
    if (!v) return 0;
    int64_t b;
    if (ed_parse_bytes(v, &b) || b < 0 || b > ED_NX_MAX_AVG_SIZE)
        return ed_err_set(err, NX ": option '%s': '%s' is not a size between 0 b and 1 mb", key, v);
    *out = (int)b;
    return 0;
}

static int opt_int(const ed_node *n, const char *key, int dflt, int min, int *out, ed_err *err)
{
    int64_t v;
    if (ed_conn_opt_i64(n, NX, key, dflt, min, 1000000, &v, err)) return -1;
    *out = (int)v;
    return 0;
}

/* Parses the node's options and matches its schema to the kind's columns. */
static int nx_opts_parse(const ed_node *n, nx_opts *o, ed_err *err)
{
    memset(o, 0, sizeof *o);
    ed_nx_config *c = &o->c;
    ed_nx_config_default(c);
    const char *kind;
    if (ed_conn_opt_str(n, NX, "kind", NULL, &kind, err)) return -1;
    int k = 0;
    while (k < 3 && strcmp(kind, kind_names[k])) k++;
    if (k == 3)
        return ed_err_set(err, NX ": option 'kind': '%s' is not person, auction or bid", kind);
    o->kind = (ed_nx_kind)k;
    if (ed_conn_opt_i64(n, NX, "first-event.rate", 10000, 1, INT32_MAX, &c->first_event_rate, err) ||
        ed_conn_opt_i64(n, NX, "next-event.rate", 10000, 1, INT32_MAX, &c->next_event_rate, err) ||
        ed_conn_opt_i64(n, NX, "events.num", 0, 0, INT64_MAX / 2, &c->events, err) ||
        opt_int(n, "person.proportion", 1, 1, &c->person_proportion, err) ||
        opt_int(n, "auction.proportion", 3, 1, &c->auction_proportion, err) ||
        opt_int(n, "bid.proportion", 46, 0, &c->bid_proportion, err) ||
        opt_size(n, "person.avg-size", 200, &c->avg_person_size, err) ||
        opt_size(n, "auction.avg-size", 500, &c->avg_auction_size, err) ||
        opt_size(n, "bid.avg-size", 100, &c->avg_bid_size, err) ||
        opt_int(n, "bid.hot-ratio.auctions", 2, 1, &c->hot_auction_ratio, err) ||
        opt_int(n, "bid.hot-ratio.bidders", 4, 1, &c->hot_bidders_ratio, err) ||
        opt_int(n, "auction.hot-ratio.sellers", 4, 1, &c->hot_sellers_ratio, err) ||
        ed_conn_opt_bool(n, NX, "max-emit-speed", true, &o->max_speed, err))
        return -1;
    o->base_set = ed_node_param(n, "events.base-time") != NULL;
    if (o->base_set && ed_conn_opt_i64(n, NX, "events.base-time", 0, INT64_MIN / 4, INT64_MAX / 4,
                                       &c->base_time, err))
        return -1;
    const char *bad = ed_nx_config_check(c);
    if (bad) return ed_err_set(err, NX ": %s", bad);

    const eddy_schema *s = n->schema;
    uint32_t nf = eddy_schema_arity(s);
    o->col = calloc(nf ? nf : 1, sizeof(int));
    if (!o->col) return ed_err_set(err, NX ": out of memory");
    static const char *const what[] = {"person events", "auction events", "bid events"};
    if (ed_conn_match_columns(n, NX, columns, NCOLUMNS, (int)o->kind, what[o->kind], o->col, err))
        return -1;
    for (uint32_t f = 0; f < nf; f++) {
        int col = o->col[f];
        o->extra |= col == C_P_EXTRA || col == C_A_EXTRA || col == C_B_EXTRA;
        o->prices |= col == C_B_PRICE || col == C_A_INITIAL || col == C_A_RESERVE;
    }
    return 0;
}

static int nx_check(const ed_node *n, ed_err *err)
{
    nx_opts o;
    int rc = nx_opts_parse(n, &o, err);
    free(o.col);
    return rc;
}

/* ---- running ---------------------------------------------------------------------------- */

typedef ed_conn_split nx_split; /* pos: events produced */

typedef struct nx_state {
    nx_opts o;
    uint32_t nsplits;     /* the stream is cut into this many splits */
    nx_split *mine;       /* this subtask's splits, the current first */
    uint32_t nmine, cur;
    ed_nx_gen gen;        /* of mine[cur] */
    bool gen_ready;
    eddy_row_builder *rb;
    int64_t t0;           /* max-emit-speed false: monotonic ns of the base time */
} nx_state;

static void nx_close(ed_operator *op)
{
    nx_state *st = op->state;
    if (!st) return;
    if (st->gen_ready) ed_nx_gen_free(&st->gen);
    free(st->o.col);
    free(st->mine);
    eddy_rb_free(st->rb);
    free(st);
    op->state = NULL;
}

static int load(ed_operator *op, nx_state *st)
{
    if (st->gen_ready) ed_nx_gen_free(&st->gen);
    st->gen_ready = false;
    if (st->cur >= st->nmine) return 0;
    ed_nx_config c = st->o.c;
    c.generators = (int)st->nsplits;
    nx_split *sp = &st->mine[st->cur];
    if (ed_nx_gen_init(&st->gen, &c, ed_nx_split_of(&c, (int)sp->index, (int)st->nsplits),
                       sp->pos))
        return ed_op_fail(op, NX ": out of memory");
    st->gen.skip_extra = !st->o.extra;
    st->gen.skip_prices = !st->o.prices;
    st->gen_ready = true;
    return 0;
}

static int nx_open(ed_operator *op, ed_err *err)
{
    nx_state *st = calloc(1, sizeof *st);
    if (!st) return ed_err_set(err, NX ": out of memory");
    op->state = st;
    if (nx_opts_parse(op->node, &st->o, err)) return -1;
    if (!st->o.base_set) st->o.c.base_time = ed_op_submitted_ms(op);
    st->rb = eddy_rb_new(eddy_schema_arity(op->node->schema));
    st->nsplits = (uint32_t)(op->ctx.parallelism > 0 ? op->ctx.parallelism : 1);
    st->mine = calloc(1, sizeof *st->mine);
    if (!st->rb || !st->mine) return ed_err_set(err, NX ": out of memory");
    st->mine[0] = (nx_split){(uint32_t)op->ctx.subtask, 0};
    st->nmine = 1;
    return load(op, st) ? ed_err_set(err, "%s", op->err.msg) : 0;
}

static inline void set_str(eddy_row_builder *b, uint32_t f, ed_nx_str s, int *rc)
{
    *rc |= eddy_rb_set_str(b, f, s.p, s.len);
}

/* The row of the declared fields of ev. */
static int build(nx_state *st, const ed_nx_event *ev, uint32_t nf)
{
    eddy_row_builder *b = st->rb;
    eddy_rb_reset(b);
    int rc = 0;
    for (uint32_t f = 0; f < nf; f++) {
        switch (st->o.col[f]) {
        case C_P_ID: eddy_rb_set_i64(b, f, ev->person.id); break;
        case C_P_NAME: set_str(b, f, ev->person.name, &rc); break;
        case C_P_EMAIL: set_str(b, f, ev->person.email, &rc); break;
        case C_P_CARD: set_str(b, f, ev->person.credit_card, &rc); break;
        case C_P_CITY: set_str(b, f, ev->person.city, &rc); break;
        case C_P_STATE: set_str(b, f, ev->person.state, &rc); break;
        case C_P_EXTRA: set_str(b, f, ev->person.extra, &rc); break;
        case C_A_ID: eddy_rb_set_i64(b, f, ev->auction.id); break;
        case C_A_ITEM: set_str(b, f, ev->auction.item_name, &rc); break;
        case C_A_DESC: set_str(b, f, ev->auction.description, &rc); break;
        case C_A_INITIAL: eddy_rb_set_i64(b, f, ev->auction.initial_bid); break;
        case C_A_RESERVE: eddy_rb_set_i64(b, f, ev->auction.reserve); break;
        case C_A_EXPIRES: eddy_rb_set_i64(b, f, ev->auction.expires); break;
        case C_A_SELLER: eddy_rb_set_i64(b, f, ev->auction.seller); break;
        case C_A_CATEGORY: eddy_rb_set_i64(b, f, ev->auction.category); break;
        case C_A_EXTRA: set_str(b, f, ev->auction.extra, &rc); break;
        case C_B_AUCTION: eddy_rb_set_i64(b, f, ev->bid.auction); break;
        case C_B_BIDDER: eddy_rb_set_i64(b, f, ev->bid.bidder); break;
        case C_B_PRICE: eddy_rb_set_i64(b, f, ev->bid.price); break;
        case C_B_CHANNEL: set_str(b, f, ev->bid.channel, &rc); break;
        case C_B_URL: set_str(b, f, ev->bid.url, &rc); break;
        case C_B_EXTRA: set_str(b, f, ev->bid.extra, &rc); break;
        default: eddy_rb_set_i64(b, f, ev->date_time); break; /* the dateTime columns */
        }
    }
    return rc;
}

static ed_poll_result nx_poll(ed_operator *op, int max)
{
    nx_state *st = op->state;
    uint32_t nf = eddy_schema_arity(op->node->schema);
    ed_nx_event ev;
    int emitted = 0;
    /* events of other kinds are passed over: at most this many per poll */
    for (int looked = 0; emitted < max && looked < 16 * max; looked++) {
        while (!st->gen_ready || !ed_nx_has_next(&st->gen)) {
            if (st->cur >= st->nmine) return ED_POLL_END;
            st->cur++; /* the split is done: on to the next (load frees the generator) */
            if (load(op, st)) return ED_POLL_ERROR;
        }
        ed_nx_gen *g = &st->gen;
        int64_t id = ed_nx_next_id(g);
        if (ed_nx_kind_of(g, id) != st->o.kind) {
            ed_nx_skip(g);
            continue;
        }
        if (!st->o.max_speed) {
            int64_t now = ed_mono_ns();
            if (!st->t0) st->t0 = ed_op_submitted_mono_ns(op);
            int64_t due = st->t0 + (ed_nx_timestamp(g, id - g->split.first_id) -
                                    st->o.c.base_time) * 1000000;
            if (due > now) {
                op->wake_ns = due;
                return emitted ? ED_POLL_MORE : ED_POLL_IDLE;
            }
        }
        ed_nx_next(g, &ev);
        if (build(st, &ev, nf)) {
            ed_op_fail(op, NX ": an event larger than a row (%u bytes)", EDDY_ROW_MAX_SIZE);
            return ED_POLL_ERROR;
        }
        if (ed_out_emit(&op->out, eddy_rb_row(st->rb), ED_TS_NONE)) return ED_POLL_ERROR;
        emitted++;
    }
    return ED_POLL_MORE;
}

/*
 * A subtask's state: the stream's shape (so that a restore under other options is refused),
 * the number of splits, the base time, and its unfinished splits with their positions.
 *
 *   uint32 version 1 | uint32 nsplits | uint32 n | uint32 0 | int64 base time |
 *   int64 first-event.rate | int64 events.num | int32 proportions[3] | int32 sizes[3] |
 *   int32 hot ratios[3] (auctions, bidders, sellers) | int32 0 |
 *   n times: uint32 split index | uint32 0 | int64 events produced
 */
#define NX_STATE_VERSION 1u

static void shape(const ed_nx_config *c, int32_t v[10])
{
    int32_t s[10] = {c->person_proportion, c->auction_proportion, c->bid_proportion,
                     c->avg_person_size,   c->avg_auction_size,   c->avg_bid_size,
                     c->hot_auction_ratio, c->hot_bidders_ratio,  c->hot_sellers_ratio, 0};
    memcpy(v, s, sizeof s);
}

static int nx_snapshot(ed_operator *op, int64_t id, ed_strbuf *out)
{
    nx_state *st = op->state;
    if (st->gen_ready) st->mine[st->cur].pos = st->gen.count; /* (ready: cur < nmine) */
    uint32_t left = 0;
    for (uint32_t j = st->cur; j < st->nmine; j++)
        left += !(j == st->cur && st->gen_ready && !ed_nx_has_next(&st->gen));
    uint32_t head[4] = {NX_STATE_VERSION, st->nsplits, left, 0};
    ed_sb_append(out, head, sizeof head);
    int64_t w[3] = {st->o.c.base_time, st->o.c.first_event_rate, st->o.c.events};
    ed_sb_append(out, w, sizeof w);
    int32_t v[10];
    shape(&st->o.c, v);
    ed_sb_append(out, v, sizeof v);
    for (uint32_t j = st->cur; j < st->nmine; j++)
        if (!(j == st->cur && st->gen_ready && !ed_nx_has_next(&st->gen)))
            ed_conn_put_split(out, &st->mine[j]);
    return 0;
}

/* Old subtask k's state: checked, its splits appended to *all. */
static int read_state(ed_operator *op, nx_state *st, const ed_snapshot_ref *r, int k, int nold,
                      nx_split **all, size_t *n, uint32_t *nsplits, int64_t *base)
{
    ed_conn_reader rd = {r->data, r->len, 0};
    uint32_t head[4];
    int64_t w[3];
    int32_t v[10], mine[10];
    if (!r->data || !ed_conn_take(&rd, head, sizeof head) || !ed_conn_take(&rd, w, sizeof w) ||
        !ed_conn_take(&rd, v, sizeof v))
        return ed_op_fail(op, NX ": the state of subtask %d/%d is truncated", k + 1, nold);
    if (head[0] != NX_STATE_VERSION)
        return ed_op_fail(op, NX ": the state of subtask %d/%d has format version %u, not %u",
                          k + 1, nold, head[0], NX_STATE_VERSION);
    shape(&st->o.c, mine);
    static const char *const what[] = {"person.proportion", "auction.proportion",
                                       "bid.proportion", "person.avg-size", "auction.avg-size",
                                       "bid.avg-size", "bid.hot-ratio.auctions",
                                       "bid.hot-ratio.bidders", "auction.hot-ratio.sellers"};
    for (int i = 0; i < 9; i++)
        if (v[i] != mine[i])
            return ed_op_fail(op, NX ": %s was %d at the checkpoint and is %d now: the events "
                                  "would not be the same", what[i], v[i], mine[i]);
    if (w[1] != st->o.c.first_event_rate || w[2] != st->o.c.events)
        return ed_op_fail(op, NX ": %s was %lld at the checkpoint and is %lld now: the events "
                              "would not be the same",
                          w[1] != st->o.c.first_event_rate ? "first-event.rate" : "events.num",
                          (long long)(w[1] != st->o.c.first_event_rate ? w[1] : w[2]),
                          (long long)(w[1] != st->o.c.first_event_rate ? st->o.c.first_event_rate
                                                                        : st->o.c.events));
    if (st->o.base_set && w[0] != st->o.c.base_time)
        return ed_op_fail(op, NX ": events.base-time was %lld at the checkpoint and is %lld now",
                          (long long)w[0], (long long)st->o.c.base_time);
    if (head[1] == 0 || head[1] > 1u << 20 || (*nsplits && head[1] != *nsplits) ||
        (*n && w[0] != *base))
        return ed_op_fail(op, NX ": the state of subtask %d/%d does not fit the others'", k + 1,
                          nold);
    *nsplits = head[1];
    *base = w[0];
    return ed_conn_take_splits(op, NX, &rd, head[2], head[1], k, nold, all, n);
}

static int nx_restore(ed_operator *op, const ed_snapshot_ref *old, int nold)
{
    nx_state *st = op->state;
    nx_split *all = NULL;
    size_t n = 0;
    uint32_t nsplits = 0;
    int64_t base = 0;
    for (int k = 0; k < nold; k++)
        if (read_state(op, st, &old[k], k, nold, &all, &n, &nsplits, &base)) {
            free(all);
            return -1;
        }
    long mine = ed_conn_deal_splits(op, NX, all, n);
    if (mine < 0) {
        free(all);
        return -1;
    }
    free(st->mine);
    st->mine = all ? all : calloc(1, sizeof *st->mine);
    st->nmine = (uint32_t)mine;
    st->cur = 0;
    st->nsplits = nsplits ? nsplits : st->nsplits;
    if (nsplits) st->o.c.base_time = base;
    return load(op, st);
}

static const ed_op_vt nx_vt = {
    .open = nx_open,
    .close = nx_close,
    .poll = nx_poll,
    .snapshot = nx_snapshot,
    .restore = nx_restore,
};

static const char *const nx_options[] = {"kind",
                                         "first-event.rate",
                                         "next-event.rate",
                                         "events.num",
                                         "events.base-time",
                                         "person.proportion",
                                         "auction.proportion",
                                         "bid.proportion",
                                         "person.avg-size",
                                         "auction.avg-size",
                                         "bid.avg-size",
                                         "bid.hot-ratio.auctions",
                                         "bid.hot-ratio.bidders",
                                         "auction.hot-ratio.sellers",
                                         "max-emit-speed",
                                         NULL};

const ed_factory ed_connector_nexmark = {
    .name = NX,
    .kind = ED_FACTORY_SOURCE,
    .vt = &nx_vt,
    .check = nx_check,
    .max_parallelism = 0,
    .options = nx_options,
};
