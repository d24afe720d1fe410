/*
 * ysb.c - the `ysb` source: the Yahoo Streaming Benchmark's ad events (ysb_gen.h), or its
 * table of 1,000 ads and their campaigns.
 *
 *   kind = events:  user_id STRING, page_id STRING, ad_id STRING, ad_type STRING,
 *                   event_type STRING, event_time TIMESTAMP(3), ip_address STRING
 *   kind = ads:     ad_id STRING, campaign_id STRING   (1,000 rows)
 *
 * The schema names any of the kind's columns in any order. Options: `events.num` (0:
 * unbounded), `events-per-second` (of event time, default 100,000), `events.base-time`
 * (default: the job's submission time), `seed` (default 0; the ads and the events both
 * depend on it), `max-emit-speed` (default true; false paces events by their time).
 *
 * Splits: split i of n (n = the first run's parallelism) makes events i, i + n, i + 2n ...
 * (ads: k with k % n == i); its position is how many it made. Checkpoints hold each
 * subtask's splits at their positions and restore at any parallelism.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../state/snapshot.h"
#include "connectors_int.h"
#include "ysb_gen.h"

#define YSB "ysb"

enum { C_USER, C_PAGE, C_AD, C_AD_TYPE, C_EVENT_TYPE, C_TIME, C_IP, C_ADS_AD, C_ADS_CAMPAIGN };
static const ed_conn_column ycols[] = { /* group 1: the ads table */
    {0, "user_id", EDDY_STRING},    {0, "page_id", EDDY_STRING},
    {0, "ad_id", EDDY_STRING},      {0, "ad_type", EDDY_STRING},
    {0, "event_type", EDDY_STRING}, {0, "event_time", EDDY_TIMESTAMP},
    {0, "ip_address", EDDY_STRING}, {1, "ad_id", EDDY_STRING},
    {1, "campaign_id", EDDY_STRING},
};

typedef struct ysb_opts {
    bool ads;
    int64_t events, rate, base, seed;
    bool base_set, max_speed, uuids;
    int *col;
} ysb_opts;

static int ysb_parse(const ed_node *n, ysb_opts *o, ed_err *err)
{
    memset(o, 0, sizeof *o);
    const char *kind;
    if (ed_conn_opt_str(n, YSB, "kind", NULL, &kind, err)) return -1;
    if (strcmp(kind, "events") && strcmp(kind, "ads"))
        return ed_err_set(err, YSB ": option 'kind': '%s' is not events or ads", kind);
    o->ads = strcmp(kind, "ads") == 0;
    if (ed_conn_opt_i64(n, YSB, "events.num", 0, 0, INT64_MAX / 2, &o->events, err) ||
        ed_conn_opt_i64(n, YSB, "events-per-second", 100000, 1, INT32_MAX, &o->rate, err) ||
        ed_conn_opt_i64(n, YSB, "seed", 0, INT64_MIN, INT64_MAX, &o->seed, err) ||
        ed_conn_opt_bool(n, YSB, "max-emit-speed", true, &o->max_speed, err))
        return -1;
    o->base_set = ed_node_param(n, "events.base-time") != NULL;
    if (o->base_set && ed_conn_opt_i64(n, YSB, "events.base-time", 0, INT64_MIN / 4, INT64_MAX / 4,
                                       &o->base, err))
        return -1;
    uint32_t nf = eddy_schema_arity(n->schema);
    o->col = calloc(nf ? nf : 1, sizeof(int));
    if (!o->col) return ed_err_set(err, YSB ": out of memory");
    if (ed_conn_match_columns(n, YSB, ycols, (int)(sizeof ycols / sizeof ycols[0]), o->ads,
                              o->ads ? "the ads table" : "the events", o->col, err))
        return -1;
    for (uint32_t f = 0; f < nf; f++)
        o->uuids |= o->col[f] == C_USER || o->col[f] == C_PAGE || o->col[f] == C_IP;
    return 0;
}

static int ysb_check(const ed_node *n, ed_err *err)
{
    ysb_opts o;
    int rc = ysb_parse(n, &o, err);
    free(o.col);
    return rc;
}

typedef ed_conn_split ysb_split; /* pos: items made */

typedef struct ysb_state {
    ysb_opts o;
    uint32_t nsplits;
    ysb_split *mine;
    uint32_t nmine, cur;
    eddy_row_builder *rb;
    char ad_id[ED_YSB_ADS][37], campaign[ED_YSB_ADS][37];
    int64_t t0;
} ysb_state;

static void ysb_close(ed_operator *op)
{
    ysb_state *st = op->state;
    if (!st) return;
    free(st->o.col);
    free(st->mine);
    eddy_rb_free(st->rb);
    free(st);
    op->state = NULL;
}

static int ysb_open(ed_operator *op, ed_err *err)
{
    ysb_state *st = calloc(1, sizeof *st);
    if (!st) return ed_err_set(err, YSB ": out of memory");
    op->state = st;
    if (ysb_parse(op->node, &st->o, err)) return -1;
    if (!st->o.base_set) st->o.base = ed_op_submitted_ms(op);
    for (int k = 0; k < ED_YSB_ADS; k++) ed_ysb_ad((uint64_t)st->o.seed, k, st->ad_id[k], st->campaign[k]);
    st->rb = eddy_rb_new(eddy_schema_arity(op->node->schema));
    st->nsplits = (uint32_t)(op->ctx.parallelism > 0 ? op->ctx.parallelism : 1);
    st->mine = calloc(1, sizeof *st->mine);
    if (!st->rb || !st->mine) return ed_err_set(err, YSB ": out of memory");
    st->mine[0] = (ysb_split){(uint32_t)op->ctx.subtask, 0};
    st->nmine = 1;
    return 0;
}

/* The index of split sp's next item, or -1 when it has made them all. */
static int64_t next_index(const ysb_state *st, const ysb_split *sp)
{
    int64_t i = (int64_t)sp->index + sp->pos * (int64_t)st->nsplits;
    int64_t end = st->o.ads ? ED_YSB_ADS : st->o.events ? st->o.events : INT64_MAX;
    return i < end ? i : -1;
}

static ed_poll_result ysb_poll(ed_operator *op, int max)
{
    ysb_state *st = op->state;
    uint32_t nf = eddy_schema_arity(op->node->schema);
    ed_ysb_event e;
    for (int k = 0; k < max; k++) {
        int64_t i = -1;
        while (st->cur < st->nmine && (i = next_index(st, &st->mine[st->cur])) < 0) st->cur++;
        if (i < 0) return ED_POLL_END;
        eddy_row_builder *b = st->rb;
        eddy_rb_reset(b);
        int rc = 0;
        if (st->o.ads) {
            for (uint32_t f = 0; f < nf; f++)
                rc |= eddy_rb_set_str(b, f, st->o.col[f] == C_ADS_AD ? st->ad_id[i] : st->campaign[i],
                                      ED_YSB_UUID_LEN);
        } else {
            ed_ysb_event_at((uint64_t)st->o.seed, i, st->o.base, st->o.rate, st->o.uuids, &e);
            if (!st->o.max_speed) {
                int64_t now = ed_mono_ns();
                if (!st->t0) st->t0 = ed_op_submitted_mono_ns(op);
                int64_t due = st->t0 + (e.event_time - st->o.base) * 1000000;
                if (due > now) {
                    op->wake_ns = due;
                    return k ? ED_POLL_MORE : ED_POLL_IDLE;
                }
            }
            for (uint32_t f = 0; f < nf; f++) {
                switch (st->o.col[f]) {
                case C_USER: rc |= eddy_rb_set_str(b, f, e.user_id, ED_YSB_UUID_LEN); break;
                case C_PAGE: rc |= eddy_rb_set_str(b, f, e.page_id, ED_YSB_UUID_LEN); break;
                case C_AD: rc |= eddy_rb_set_str(b, f, st->ad_id[e.ad], ED_YSB_UUID_LEN); break;
                case C_AD_TYPE: rc |= eddy_rb_set_cstr(b, f, ed_ysb_ad_types[e.ad_type]); break;
                case C_EVENT_TYPE: rc |= eddy_rb_set_cstr(b, f, ed_ysb_event_types[e.event_type]); break;
                case C_TIME: eddy_rb_set_i64(b, f, e.event_time); break;
                default: rc |= eddy_rb_set_str(b, f, e.ip, e.ip_len); break;
                }
            }
        }
        st->mine[st->cur].pos++;
        if (rc) {
            ed_op_fail(op, YSB ": a row larger than %u bytes", EDDY_ROW_MAX_SIZE);
            return ED_POLL_ERROR;
        }
        if (ed_out_emit(&op->out, eddy_rb_row(b), ED_TS_NONE)) return ED_POLL_ERROR;
    }
    return ED_POLL_MORE;
}

/*
 *   uint32 version 1 | uint32 nsplits | uint32 n | uint32 ads | int64 base time |
 *   int64 seed | int64 events.num | int64 events-per-second |
 *   n times: uint32 index | uint32 0 | int64 made
 */
static int ysb_snapshot(ed_operator *op, int64_t id, ed_strbuf *out)
{
    ysb_state *st = op->state;
    uint32_t left = 0;
    for (uint32_t j = st->cur; j < st->nmine; j++) left += next_index(st, &st->mine[j]) >= 0;
    uint32_t head[4] = {1, st->nsplits, left, st->o.ads};
    int64_t w[4] = {st->o.base, st->o.seed, st->o.events, st->o.rate};
    ed_sb_append(out, head, sizeof head);
    ed_sb_append(out, w, sizeof w);
    for (uint32_t j = st->cur; j < st->nmine; j++)
        if (next_index(st, &st->mine[j]) >= 0) ed_conn_put_split(out, &st->mine[j]);
    return 0;
}

static int ysb_restore(ed_operator *op, const ed_snapshot_ref *old, int nold)
{
    ysb_state *st = op->state;
    ysb_split *all = NULL;
    size_t n = 0;
    uint32_t nsplits = 0;
    int64_t base = 0;
    for (int k = 0; k < nold; k++) {
        ed_conn_reader rd = {old[k].data, old[k].len, 0};
        uint32_t head[4];
        int64_t w[4];
        if (!old[k].data || !ed_conn_take(&rd, head, sizeof head) || !ed_conn_take(&rd, w, sizeof w) ||
            head[0] != 1 || head[1] == 0 || head[1] > 1u << 20 || (nsplits && head[1] != nsplits) ||
            head[3] != (uint32_t)st->o.ads) {
            free(all);
            return ed_op_fail(op, YSB ": the state of subtask %d/%d does not fit this source", k + 1,
                              nold);
        }
        if (w[1] != st->o.seed || w[2] != st->o.events || w[3] != st->o.rate ||
            (st->o.base_set && w[0] != st->o.base)) {
            free(all);
            return ed_op_fail(op, YSB ": seed, events.num, events-per-second or events.base-time "
                                  "differ from the checkpoint's: the events would not be the same");
        }
        nsplits = head[1];
        base = w[0];
        if (ed_conn_take_splits(op, YSB, &rd, head[2], nsplits, k, nold, &all, &n)) {
            free(all);
            return -1;
        }
    }
    long mine = ed_conn_deal_splits(op, YSB, all, n);
    if (mine < 0) {
        free(all);
        return -1;
    }
    free(st->mine);
    st->mine = all ? all : calloc(1, sizeof *st->mine);
    st->nmine = (uint32_t)mine;
    st->cur = 0;
    if (nsplits) {
        st->nsplits = nsplits;
        st->o.base = base;
    }
    return 0;
}

static const ed_op_vt ysb_vt = {
    .open = ysb_open,
    .close = ysb_close,
    .poll = ysb_poll,
    .snapshot = ysb_snapshot,
    .restore = ysb_restore,
};

static const char *const ysb_options[] = {"kind", "events.num", "events-per-second", "events.base-time",
                                          "seed", "max-emit-speed", NULL};

const ed_factory ed_connector_ysb = {
    .name = YSB,
    .kind = ED_FACTORY_SOURCE,
    .vt = &ysb_vt,
    .check = ysb_check,
    .max_parallelism = 0,
    .options = ysb_options,
};
