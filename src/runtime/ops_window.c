/*
 * ops_window.c - the window operator, as Flink's WindowOperator and EvictingWindowOperator.
 *
 * Windows are namespaces of keyed state. A window [start, end) is the 16 bytes (start,
 * end); the global window is [INT64_MIN, INT64_MAX). Per key and window the operator
 * keeps its contents in the keyed state backend of its subtask:
 *
 *   reduce, sum/min/max...   a REDUCING state: one row, combined as elements arrive
 *   aggregate                an AGGREGATING state: one accumulator
 *   process, any evictor     a LIST of (row, timestamp): every element
 *   join, co-group           two LISTs, one per input
 *
 * An element is assigned its windows; each window that is not late gets the element, and
 * the trigger decides (onElement) whether to fire, purge or wait. Triggers register
 * timers in the window's namespace; when one fires (the runtime makes its key and
 * namespace current and calls on_timer) the trigger decides again. Each window also gets
 * a cleanup timer at max timestamp + allowed lateness (event time) or max timestamp
 * (processing time), which clears contents, trigger state and per-window state. A firing
 * emits with the window's max timestamp (end - 1) as event timestamp.
 *
 * Merging windows (sessions) keep Flink's MergingWindowSet per key: the (window, state
 * window) pairs in the key's default namespace, as one VALUE row whose BYTES field holds
 * them back to back (mws_entry, four int64), so that the common case - one session that
 * the element extends - reads and rewrites one small row kept in its state entry. A new
 * element's window is merged with every window it overlaps or touches; the merged window
 * keeps the state window of the earliest of them, the other state windows are merged
 * into it (ed_state_merge_namespaces), the trigger's onMerge re-registers its timers
 * and the old windows' triggers and cleanup timers are cleared. So an element that bridges two
 * sessions turns them into one. One deliberate difference from Flink: a new window equal
 * to an existing one keeps the existing window's state window (Flink overwrites the
 * mapping and loses that state, a corner only dynamic gaps reach).
 *
 * Triggers are a table of built-in implementations (event time, processing time, count,
 * continuous, delta, never) plus the custom one that calls the user's functions; purging
 * turns FIRE into FIRE_AND_PURGE. Evictors run on the fired list before and/or after the
 * function, and the surviving elements stay in state (ed_list_retain).
 *
 * window_all is a keyed window whose key selector gives every record the same key, run
 * with parallelism 1 (the "window_all" factory allows no more).
 *
 * On the heap backend, reduce and aggregate windows without an evictor keep their
 * contents in a per-key table instead (state/window_table.h, unless
 * state.backend.heap.window-table is false): one entry per key with all its windows, so
 * that an element costs one probe of a table as large as the key set. The merging window
 * set lives in the same records. Around snapshots the table is written into the states
 * above and taken back after a restore, so checkpoints do not depend on the layout. The
 * task reads ahead and hands the operator the key hashes of the next records
 * (window_prefetch), so their entries are in cache when they come.
 *
 * The most common windows - event time, the event-time trigger, no allowed lateness,
 * nothing reading per-window state - take a shorter path (lean_process): a window's
 * timer is registered with its first element and firing clears it. Sessions there keep
 * their timer where it was registered while they grow and move it only when it fires
 * (lean_merge_process), instead of moving it for every element.
 *
 * Hot path: no allocation per record. Namespaces live in fixed buffers; assigned windows,
 * merging sets and fired elements reuse arrays that grow; rows copied out of state when a
 * window fires go to an arena reset after each firing. When the cleanup timer coincides
 * with the trigger's own (no lateness, event-time or processing-time trigger) it is not
 * registered twice.
 */
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "../state/rocks.h"
#include "../state/window_table.h"
#include "operators.h"
#include "window_int.h"

/* Windows (two int64) are made and passed field by field; GCC's straight-line
 * vectorizer then copies them as one 16-byte load of two 8-byte stores just made, which
 * the store buffer cannot forward (a stall of some ten cycles, several per record). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-slp-vectorize")
#endif

typedef struct mws_entry {
    ed_win w, sw; /* window, state window */
} mws_entry;

typedef struct side_elems {
    const eddy_row **rows;
    int64_t *ts;
    size_t n, cap;
} side_elems;

typedef struct ed_window_op ed_window_op;


/* A trigger's behaviour; each returns an eddy_trigger_result or -1. */
typedef struct trig_vt {
    int (*element)(ed_window_op *w, const eddy_row *row, int64_t ts);
    int (*event)(ed_window_op *w, int64_t time);
    int (*proc)(ed_window_op *w, int64_t time);
    int (*merge)(ed_window_op *w);
    int (*clear)(ed_window_op *w);
} trig_vt;

struct ed_window_op {
    ed_operator *op;
    const ed_window_spec *spec;
    eddy_trigger trig; /* resolved kind */
    const trig_vt *tv;
    bool event_time, merging, evicting, skip_cleanup, in_fn;
    int nlists; /* 1, or 2 for join and co-group */
    eddy_state *contents[2];
    eddy_state *mws;
    eddy_state *count_st, *fire_st, *delta_st;
    /* user functions */
    eddy_reduce_fn reduce;
    void (*fn)(void); /* process, join or co-group */
    eddy_agg_create_fn agg_create;
    eddy_agg_add_fn agg_add;
    eddy_agg_result_fn agg_result;
    eddy_session_gap_fn gap_fn;
    eddy_trigger_element_fn t_element;
    eddy_trigger_time_fn t_event, t_proc;
    eddy_trigger_merge_fn t_merge;
    eddy_trigger_clear_fn t_clear;
    eddy_delta_fn t_delta, e_delta;
    eddy_evict_fn ev_before, ev_after;
    /* built-in aggregation */
    ed_wagg agg;
    uint32_t field;
    eddy_type ftype;
    /* states touched by custom triggers and by window functions (for merging, clearing) */
    eddy_state **tstates;
    eddy_state_kind *tkinds;
    int ntstates;
    eddy_state **wstates;
    int nwstates;
    /* scratch, reused */
    ed_win *wins;
    size_t nwins, wcap;
    mws_entry *map;
    int nmap, mapcap;
    bool map_dirty;
    ed_win *cand, *merged;
    int *cidx;
    int candcap;
    const uint8_t **srcs;
    uint32_t *slens;
    uint8_t *srcbuf;
    int srccap;
    side_elems el[2];
    size_t *orig;
    bool *evicted, *keep;
    size_t evcap;
    ed_arena arena;
    eddy_row_builder *rb_mws, *rb_one, *rb_a, *rb_b, *rb_res;
    uint8_t ns_state[16], ns_tmp[16], ns_user[16];
    eddy_trigger_ctx tctx;
    /* Event- or processing-time trigger, windows that do not merge: the trigger's timer of a (key,
     * window) is registered with the window's first element, when its contents come into
     * being, and stays until the window is cleaned up; later elements need not register
     * it again. `fresh` says whether the element being added created the contents. */
    bool register_on_first;
    bool fresh;
    ed_win last_tumble; /* the tumbling window assigned last (empty at first) */
    /* Event-time trigger, merging windows: the merged window whose timer et_merge
     * registered while the current element was assigned; onElement for that window need
     * not register it again (nothing deletes it in between). Reset per element. */
    ed_win merge_reg;
    bool merge_reg_valid;
    uint64_t late_dropped;
    /* Reduce and aggregate windows without an evictor keep their contents (and, when
     * merging, the merging window set) in a per-key table (window_table.h), not in the
     * states above; those hold them only around snapshots and restores. */
    ed_wt *wt;
    ed_wt_entry *ce; /* the current key's entry (NULL: none), while ce_ok */
    bool ce_ok;
    bool lean;       /* lean_process applies (see there) */
    bool ns_needed;  /* something reads the backend's namespace (triggers' or per-window
                      * state); otherwise set_ns is skipped on the per-record path */
    eddy_reduce_fn f_reduce;          /* REDUCE and BUILTIN */
    eddy_agg_merge_fn agg_merge;      /* AGGREGATE, merging */
    uint8_t *mbuf;                    /* merged contents while windows merge */
    size_t mcap;
};

static const ed_op_vt ed_op_window_vt;

/* ---- small helpers ------------------------------------------------------------------------- */

static inline int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}
static inline int64_t sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_sub_overflow(a, b, &r) ? (b > 0 ? INT64_MIN : INT64_MAX) : r;
}

static inline ed_win ns_win(const uint8_t *ns)
{
    ed_win w;
    memcpy(&w.start, ns, 8);
    memcpy(&w.end, ns + 8, 8);
    return w;
}

static inline bool win_eq(ed_win a, ed_win b) { return a.start == b.start && a.end == b.end; }

static inline void set_ns(ed_window_op *w, const uint8_t *ns) { ed_op_set_namespace(w->op, ns, 16); }
static inline void set_ns_void(ed_window_op *w) { ed_op_set_namespace(w->op, NULL, 0); }

/* Flink's TimeWindow.getWindowStartWithOffset, for negative timestamps too. */
static inline int64_t window_start(int64_t ts, int64_t offset, int64_t size)
{
    int64_t rem = (ts - offset) % size;
    return rem < 0 ? ts - (rem + size) : ts - rem;
}

/* Flink's cleanupTime: max timestamp + lateness in event time (INT64_MAX on overflow). */
static inline int64_t cleanup_time(const ed_window_op *w, ed_win win)
{
    int64_t m = ed_win_max_ts(win);
    if (!w->event_time) return m;
    int64_t t = sat_add(m, w->spec->lateness_ms);
    return t >= m ? t : INT64_MAX;
}

static inline bool window_late(const ed_window_op *w, ed_win win)
{
    return w->event_time && cleanup_time(w, win) <= w->op->watermark;
}

static int fail_user(ed_window_op *w, const char *what, const char *name)
{
    ed_operator *op = w->op;
    if (!op->err.set && !ed_task_has_error(op->task) && !ed_op_cancelled(op))
        ed_op_fail(op, "%s '%s' failed", what, name ? name : "?");
    return -1;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 8;
    while (c < need) c *= 2;
    *cap = c;
    return ed_xrealloc(p, c * elem);
}

/* ---- timers -------------------------------------------------------------------------------- */

int ed_window_trigger_timer(eddy_trigger_ctx *t, eddy_time_domain d, int64_t time, bool del)
{
    ed_keyed *k = t->op->keyed;
    if (!k) return -1;
    if (del) {
        ed_timers_delete(k->timers, d, time, k->key, k->klen, t->ns, 16);
        return 0;
    }
    if (ed_timers_register(k->timers, d, time, k->key, k->klen, k->key_group, t->ns, 16))
        return ed_op_fail(t->op, "out of memory for timers");
    return 0;
}

static int timer_at(ed_window_op *w, ed_win win, bool del)
{
    int64_t t = cleanup_time(w, win);
    if (t == INT64_MAX) return 0;
    ed_keyed *k = w->op->keyed;
    eddy_time_domain d = w->event_time ? EDDY_EVENT_TIME : EDDY_PROCESSING_TIME;
    ed_win_ns(win, w->ns_tmp);
    if (del) {
        ed_timers_delete(k->timers, d, t, k->key, k->klen, w->ns_tmp, 16);
        return 0;
    }
    if (ed_timers_register(k->timers, d, t, k->key, k->klen, k->key_group, w->ns_tmp, 16))
        return ed_op_fail(w->op, "out of memory for timers");
    return 0;
}

static inline int register_cleanup(ed_window_op *w, ed_win win)
{
    return w->skip_cleanup ? 0 : timer_at(w, win, false);
}

/* ---- state ---------------------------------------------------------------------------------- */

static eddy_state *get_state(ed_window_op *w, const eddy_state_desc *d)
{
    ed_err e = {0};
    eddy_state *s = ed_state_get(w->op->keyed->backend, d, &e);
    if (!s) ed_op_fail(w->op, "window state '%s': %s", d->name, e.msg);
    return s;
}

static void track(eddy_state ***v, eddy_state_kind **kinds, int *n, eddy_state *s,
                  eddy_state_kind k)
{
    for (int i = 0; i < *n; i++)
        if ((*v)[i] == s) return;
    *v = ed_xrealloc(*v, sizeof(**v) * (size_t)(*n + 1));
    if (kinds) {
        *kinds = ed_xrealloc(*kinds, sizeof(**kinds) * (size_t)(*n + 1));
        (*kinds)[*n] = k;
    }
    (*v)[(*n)++] = s;
}

eddy_state *ed_window_trigger_state(eddy_trigger_ctx *t, const eddy_state_desc *desc)
{
    ed_window_op *w = t->wop;
    eddy_state *s = get_state(w, desc);
    if (!s) return NULL;
    track(&w->tstates, &w->tkinds, &w->ntstates, s, desc->kind);
    set_ns(w, t->ns);
    return s;
}

static ed_window_op *window_of(eddy_ctx *ctx, const char *what)
{
    ed_operator *op = ctx->op;
    if (op->vt != &ed_op_window_vt || !op->state || !((ed_window_op *)op->state)->in_fn) {
        eddy_fail(ctx, "%s: only inside a window function", what);
        return NULL;
    }
    return op->state;
}

eddy_state *ed_window_ctx_window_state(eddy_ctx *ctx, const eddy_state_desc *desc)
{
    ed_window_op *w = window_of(ctx, "eddy_ctx_window_state");
    if (!w) return NULL;
    if (w->merging) {
        eddy_fail(ctx, "eddy_ctx_window_state: per-window state is not allowed when using "
                  "merging windows");
        return NULL;
    }
    eddy_state *s = get_state(w, desc);
    if (!s) return NULL;
    track(&w->wstates, NULL, &w->nwstates, s, desc->kind);
    ed_win_ns((ed_win){ctx->win_start, ctx->win_end}, w->ns_user);
    set_ns(w, w->ns_user);
    return s;
}

eddy_state *ed_window_ctx_global_state(eddy_ctx *ctx, const eddy_state_desc *desc)
{
    ed_window_op *w = window_of(ctx, "eddy_ctx_global_state");
    if (!w) return NULL;
    eddy_state *s = get_state(w, desc);
    if (s) set_ns_void(w);
    return s;
}

/* ---- contents in the per-key table (window_table.h) ------------------------------------------ */

/* The current key's entry, looked up once per element or timer. */
static ed_wt_entry **wt_entry(ed_window_op *w)
{
    if (!w->ce_ok) {
        ed_keyed *k = w->op->keyed;
        w->ce = ed_wt_find(w->wt, k->key, k->klen, k->key_hash);
        w->ce_ok = true;
    }
    return &w->ce;
}

/* The record of state window sw of the current key, or NULL. */
static ed_wt_rec *wt_rec(ed_window_op *w, ed_win sw)
{
    ed_wt_entry *e = *wt_entry(w);
    return e ? ed_wt_rec_find(e, sw.start, sw.end) : NULL;
}

/* The same, made (window win, no contents, not mapped) when absent. */
static ed_wt_rec *wt_rec_make(ed_window_op *w, ed_win win, ed_win sw)
{
    ed_wt_entry **ep = wt_entry(w);
    if (!*ep) {
        ed_keyed *k = w->op->keyed;
        if (!(*ep = ed_wt_make(w->wt, k->key, k->klen, k->key_hash, k->key_group))) return NULL;
    }
    ed_wt_rec *r = ed_wt_rec_find(*ep, sw.start, sw.end);
    return r ? r : ed_wt_rec_add(w->wt, ep, win.start, win.end, sw.start, sw.end);
}

static int wt_oom(ed_window_op *w) { return ed_op_fail(w->op, "out of memory for window state"); }

/* Drops the contents of r; the record goes unless the merging window set holds it. */
static void wt_clear_rec(ed_window_op *w, ed_wt_rec *r)
{
    if (r->mapped) r->len = 0;
    else ed_wt_rec_remove(w->wt, &w->ce, r);
}

static int fn_failed(ed_window_op *w, const char *kind, const char *name)
{
    if (w->op->err.set) return -1;
    return ed_op_fail(w->op, "window: %s function '%s' failed", kind, name ? name : "?");
}

/* Adds an element to record r of the current key's entry, as a reducing or aggregating
 * state would; w->fresh tells whether the contents came into being. */
static int wt_add_to(ed_window_op *w, ed_wt_rec *r, const eddy_row *row)
{
    const eddy_row *acc = ed_wt_row(r);
    w->fresh = acc == NULL;
    eddy_ctx *ctx = &w->op->ctx;
    const eddy_row *out = row;
    if (w->spec->fn_kind == ED_WFN_AGGREGATE) {
        if (!acc) {
            eddy_rb_reset(w->rb_b);
            if (w->agg_create(ctx, w->rb_b) < 0)
                return fn_failed(w, "aggregate", w->spec->agg.create.name);
            acc = eddy_rb_row(w->rb_b);
        }
        eddy_rb_reset(w->rb_a);
        if (ED_UNLIKELY(w->agg_add(ctx, row, acc, w->rb_a) < 0))
            return fn_failed(w, "aggregate", w->spec->agg.add.name);
        out = eddy_rb_row(w->rb_a);
    } else if (acc) {
        eddy_rb_reset(w->rb_a);
        if (ED_UNLIKELY(w->f_reduce(ctx, acc, row, w->rb_a) < 0))
            return fn_failed(w, "reduce", w->spec->reduce.name);
        out = eddy_rb_row(w->rb_a);
    }
    if (ED_UNLIKELY(ed_wt_rec_set(w->wt, &w->ce, &r, out))) return wt_oom(w);
    return 0;
}

/* The same, to state window sw of window win (made when absent). */
static int wt_add(ed_window_op *w, ed_win win, ed_win sw, const eddy_row *row)
{
    ed_wt_rec *r = wt_rec_make(w, win, sw);
    if (ED_UNLIKELY(!r)) return wt_oom(w);
    return wt_add_to(w, r, row);
}

/* The window's result for firing: the reduced row, or the aggregate's result. */
static const eddy_row *wt_result(ed_window_op *w, ed_win sw, int *rc)
{
    ed_wt_rec *r = wt_rec(w, sw);
    const eddy_row *acc = r ? ed_wt_row(r) : NULL;
    if (!acc || w->spec->fn_kind != ED_WFN_AGGREGATE) return acc;
    eddy_rb_reset(w->rb_res);
    if (w->agg_result(&w->op->ctx, acc, w->rb_res) < 0) {
        *rc = fn_failed(w, "aggregate", w->spec->agg.result.name);
        return NULL;
    }
    return eddy_rb_row(w->rb_res);
}

/* a and b combined into w->rb_a (aggregate merge, or reduce). */
static const eddy_row *wt_combine(ed_window_op *w, const eddy_row *a, const eddy_row *b)
{
    eddy_rb_reset(w->rb_a);
    int rc = w->spec->fn_kind == ED_WFN_AGGREGATE ? w->agg_merge(&w->op->ctx, a, b, w->rb_a)
                                                  : w->f_reduce(&w->op->ctx, a, b, w->rb_a);
    if (rc < 0) {
        fn_failed(w, w->spec->fn_kind == ED_WFN_AGGREGATE ? "aggregate" : "reduce",
                  w->spec->fn_kind == ED_WFN_AGGREGATE ? w->spec->agg.merge.name
                                                       : w->spec->reduce.name);
        return NULL;
    }
    return eddy_rb_row(w->rb_a);
}

static void wt_keep(ed_window_op *w, const eddy_row *r)
{
    size_t n = eddy_row_size(r);
    if (n > w->mcap) {
        w->mbuf = ed_xrealloc(w->mbuf, n);
        w->mcap = n;
    }
    memcpy(w->mbuf, r, n);
}

/* ed_state_merge_namespaces for the table: the sources' contents, combined in order,
 * then combined into the target's, and the sources cleared. */
static int wt_merge(ed_window_op *w, ed_win target, const ed_win *src, int n)
{
    if (w->spec->fn_kind == ED_WFN_AGGREGATE && !w->agg_merge)
        return ed_op_fail(w->op, "merging windows: aggregating state 'window-contents' has no "
                          "merge function (needed by merging windows)");
    bool have = false;
    for (int i = 0; i < n; i++) {
        if (win_eq(src[i], target)) continue;
        ed_wt_rec *r = wt_rec(w, src[i]);
        if (!r) continue;
        const eddy_row *row = ed_wt_row(r);
        if (row) {
            if (have && !(row = wt_combine(w, (const eddy_row *)w->mbuf, row))) return -1;
            wt_keep(w, row);
            have = true;
        }
        wt_clear_rec(w, r);
    }
    if (!have) return 0;
    ed_wt_rec *t = wt_rec_make(w, target, target);
    if (!t) return wt_oom(w);
    const eddy_row *row = (const eddy_row *)w->mbuf;
    if (ed_wt_row(t) && !(row = wt_combine(w, ed_wt_row(t), row))) return -1;
    if (ed_wt_rec_set(w->wt, &w->ce, &t, row)) return wt_oom(w);
    return 0;
}

/* Merges the namespaces of windows src[0..n) into target for state s. */
static int merge_ns(ed_window_op *w, eddy_state *s, ed_win target, const ed_win *src, int n)
{
    if (n <= 0) return 0;
    if (w->wt && s == w->contents[0]) return wt_merge(w, target, src, n);
    size_t cap = (size_t)w->srccap;
    if ((size_t)n > cap) {
        size_t c2 = cap, c3 = cap;
        w->srcs = grow(w->srcs, &cap, (size_t)n, sizeof(*w->srcs));
        w->slens = grow(w->slens, &c2, (size_t)n, sizeof(*w->slens));
        w->srcbuf = grow(w->srcbuf, &c3, (size_t)n, 16);
        w->srccap = (int)cap;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (win_eq(src[i], target)) continue;
        ed_win_ns(src[i], w->srcbuf + 16 * k);
        w->srcs[k] = w->srcbuf + 16 * k;
        w->slens[k] = 16;
        k++;
    }
    uint8_t t[16];
    ed_win_ns(target, t);
    ed_err e = {0};
    w->op->keyed->in_window_fn = true;
    int rc = k ? ed_state_merge_namespaces(s, t, 16, w->srcs, w->slens, k, &e) : 0;
    w->op->keyed->in_window_fn = false;
    if (rc) return ed_op_fail(w->op, "merging windows: %s", e.msg);
    return 0;
}

static void clear_contents(ed_window_op *w, const uint8_t *sns)
{
    if (w->wt) {
        ed_wt_rec *r = wt_rec(w, ns_win(sns));
        if (r) wt_clear_rec(w, r);
        return;
    }
    set_ns(w, sns);
    for (int i = 0; i < w->nlists; i++) eddy_state_clear(w->contents[i]);
}

/* ---- internal reduce functions (state descriptors name them) -------------------------------- */

int ed_window_reduce_sum0(eddy_ctx *ctx, const eddy_row *acc, const eddy_row *in,
                          eddy_row_builder *out);
int ed_window_reduce_min0(eddy_ctx *ctx, const eddy_row *acc, const eddy_row *in,
                          eddy_row_builder *out);
int ed_window_builtin_reduce(eddy_ctx *ctx, const eddy_row *acc, const eddy_row *in,
                             eddy_row_builder *out);

int ed_window_reduce_sum0(eddy_ctx *ctx, const eddy_row *acc, const eddy_row *in,
                          eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(acc, 0) + eddy_row_i64(in, 0));
    return 0;
}

int ed_window_reduce_min0(eddy_ctx *ctx, const eddy_row *acc, const eddy_row *in,
                          eddy_row_builder *out)
{
    int64_t a = eddy_row_i64(acc, 0), b = eddy_row_i64(in, 0);
    eddy_rb_set_i64(out, 0, a < b ? a : b);
    return 0;
}

/* sum/min/max keep the first row with the field aggregated; min_by/max_by keep the row
 * holding the extreme, the first one on ties (as the rolling aggregations). */
static int builtin_combine(ed_window_op *w, const eddy_row *acc, const eddy_row *in,
                           eddy_row_builder *out)
{
    uint32_t f = w->field;
    int c;
    switch (w->agg) {
    case ED_WAGG_MIN_BY:
        return eddy_rb_copy(out, ed_field_cmp(w->ftype, in, acc, f) < 0 ? in : acc);
    case ED_WAGG_MAX_BY:
        return eddy_rb_copy(out, ed_field_cmp(w->ftype, in, acc, f) > 0 ? in : acc);
    default:
        break;
    }
    if (eddy_rb_copy(out, acc)) return -1;
    if (eddy_row_is_null(in, f)) return 0;
    if (eddy_row_is_null(acc, f)) {
        eddy_rb__put(out, f, eddy_row_slot(in, f));
        return 0;
    }
    switch (w->agg) {
    case ED_WAGG_SUM:
        if (w->ftype == EDDY_DOUBLE)
            eddy_rb_set_f64(out, f, eddy_row_f64(acc, f) + eddy_row_f64(in, f));
        else if (w->ftype == EDDY_INT)
            eddy_rb_set_i32(out, f, (int32_t)((uint32_t)eddy_row_slot(acc, f) +
                                              (uint32_t)eddy_row_slot(in, f)));
        else
            eddy_rb__put(out, f, eddy_row_slot(acc, f) + eddy_row_slot(in, f));
        break;
    case ED_WAGG_MIN:
    case ED_WAGG_MAX:
        c = ed_field_cmp(w->ftype, in, acc, f);
        if ((w->agg == ED_WAGG_MIN && c < 0) || (w->agg == ED_WAGG_MAX && c > 0))
            eddy_rb__put(out, f, eddy_row_slot(in, f));
        break;
    default:
        break;
    }
    return 0;
}

int ed_window_builtin_reduce(eddy_ctx *ctx, const eddy_row *acc, const eddy_row *in,
                             eddy_row_builder *out)
{
    return builtin_combine(ctx->op->state, acc, in, out);
}

/* ---- triggers ------------------------------------------------------------------------------- */

static inline void tctx_set(ed_window_op *w, ed_win win)
{
    w->tctx.win = win;
    ed_win_ns(win, w->tctx.ns);
}

static inline int64_t tmax(ed_window_op *w) { return ed_win_max_ts(w->tctx.win); }
static inline int64_t wm(ed_window_op *w) { return w->op->watermark; }

static int reg(ed_window_op *w, eddy_time_domain d, int64_t t)
{
    return ed_window_trigger_timer(&w->tctx, d, t, false);
}
static int del(ed_window_op *w, eddy_time_domain d, int64_t t)
{
    return ed_window_trigger_timer(&w->tctx, d, t, true);
}
/* The trigger's timer of a window that does not merge, with the element that made its
 * contents (register_on_first): it is new, and nothing deletes it before it fires (the
 * trigger clears it at cleanup, which is that timer or after it), so the timer service
 * need not look it up (ed_timers_add_unique). */
static int reg_first(ed_window_op *w, eddy_time_domain d, int64_t t)
{
    ed_keyed *k = w->op->keyed;
    if (ED_UNLIKELY(ed_timers_add_unique(k->timers, d, t, k->key, k->klen, k->key_group,
                                         w->tctx.ns, 16)))
        return ed_op_fail(w->op, "out of memory for timers");
    return 0;
}
static int cont(ed_window_op *w, int64_t t) { return EDDY_TRIGGER_CONTINUE; }
static int none(ed_window_op *w) { return 0; }
static int cont_el(ed_window_op *w, const eddy_row *r, int64_t ts) { return EDDY_TRIGGER_CONTINUE; }

/* A trigger state of one BIGINT ("count", "fire-time") in the current window. */
static int64_t get_i64(ed_window_op *w, eddy_state *s, bool *found)
{
    set_ns(w, w->tctx.ns);
    const eddy_row *r = eddy_reducing_get(s);
    *found = r != NULL;
    return r ? eddy_row_i64(r, 0) : 0;
}
static int add_i64(ed_window_op *w, eddy_state *s, int64_t v)
{
    set_ns(w, w->tctx.ns);
    eddy_rb_reset(w->rb_one);
    eddy_rb_set_i64(w->rb_one, 0, v);
    return eddy_reducing_add(s, eddy_rb_row(w->rb_one));
}
static int merge_trigger_state(ed_window_op *w, eddy_state *s)
{
    return merge_ns(w, s, w->tctx.win, w->tctx.merged, w->tctx.nmerged);
}

/* EventTimeTrigger */
static int et_element(ed_window_op *w, const eddy_row *r, int64_t ts)
{
    int64_t t = tmax(w);
    if (t <= wm(w)) return EDDY_TRIGGER_FIRE;
    if (w->register_on_first) /* registered with the first element */
        return !w->fresh ? EDDY_TRIGGER_CONTINUE : reg_first(w, EDDY_EVENT_TIME, t) ? -1 : EDDY_TRIGGER_CONTINUE;
    if (w->merge_reg_valid && win_eq(w->merge_reg, w->tctx.win))
        return EDDY_TRIGGER_CONTINUE; /* registered by et_merge for this element */
    if (reg(w, EDDY_EVENT_TIME, t)) return -1;
    return EDDY_TRIGGER_CONTINUE;
}
static int et_event(ed_window_op *w, int64_t t)
{
    return t == tmax(w) ? EDDY_TRIGGER_FIRE : EDDY_TRIGGER_CONTINUE;
}
static int et_merge(ed_window_op *w)
{
    if (tmax(w) <= wm(w)) return 0;
    if (reg(w, EDDY_EVENT_TIME, tmax(w))) return -1;
    w->merge_reg = w->tctx.win;
    w->merge_reg_valid = true;
    return 0;
}
static int et_clear(ed_window_op *w)
{
    if (w->merge_reg_valid && win_eq(w->merge_reg, w->tctx.win)) w->merge_reg_valid = false;
    return del(w, EDDY_EVENT_TIME, tmax(w));
}

/* et_merge of `result` (merged from the one window `old`), then et_clear of `old`: the
 * timer at old's max timestamp moves to result's (ed_timers_move is delete, then register,
 * which ends the same as register, then delete, for two different windows). */
static int et_merge_move(ed_window_op *w, ed_win result, ed_win old)
{
    if (ed_win_max_ts(result) <= wm(w)) {
        tctx_set(w, old);
        return et_clear(w);
    }
    ed_keyed *k = w->op->keyed;
    ed_win_ns(old, w->ns_tmp);
    tctx_set(w, result);
    if (ed_timers_move(k->timers, EDDY_EVENT_TIME, k->key, k->klen, k->key_group,
                       ed_win_max_ts(old), w->ns_tmp, tmax(w), w->tctx.ns, 16))
        return ed_op_fail(w->op, "out of memory for timers");
    w->merge_reg = result; /* not old: et_clear(old) would keep it */
    w->merge_reg_valid = true;
    return 0;
}

/* ProcessingTimeTrigger */
static int pt_element(ed_window_op *w, const eddy_row *r, int64_t ts)
{
    if (w->register_on_first) /* registered with the first element */
        return !w->fresh ? EDDY_TRIGGER_CONTINUE
               : reg_first(w, EDDY_PROCESSING_TIME, tmax(w)) ? -1 : EDDY_TRIGGER_CONTINUE;
    return reg(w, EDDY_PROCESSING_TIME, tmax(w)) ? -1 : EDDY_TRIGGER_CONTINUE;
}
static int pt_proc(ed_window_op *w, int64_t t) { return EDDY_TRIGGER_FIRE; }
static int pt_merge(ed_window_op *w)
{
    return tmax(w) > ed_op_now(w->op) ? reg(w, EDDY_PROCESSING_TIME, tmax(w)) : 0;
}
static int pt_clear(ed_window_op *w) { return del(w, EDDY_PROCESSING_TIME, tmax(w)); }

/* CountTrigger */
static int ct_element(ed_window_op *w, const eddy_row *r, int64_t ts)
{
    if (add_i64(w, w->count_st, 1)) return -1;
    bool found;
    if (get_i64(w, w->count_st, &found) >= w->trig.count) {
        eddy_state_clear(w->count_st);
        return EDDY_TRIGGER_FIRE;
    }
    return EDDY_TRIGGER_CONTINUE;
}
static int ct_merge(ed_window_op *w) { return merge_trigger_state(w, w->count_st); }
static int ct_clear(ed_window_op *w)
{
    set_ns(w, w->tctx.ns);
    eddy_state_clear(w->count_st);
    return 0;
}

/* ContinuousEventTimeTrigger and ContinuousProcessingTimeTrigger */
static int cont_next(ed_window_op *w, eddy_time_domain d, int64_t time)
{
    int64_t next = sat_add(time, w->trig.interval_ms);
    if (next > tmax(w)) next = tmax(w);
    if (add_i64(w, w->fire_st, next)) return -1;
    return reg(w, d, next);
}
static int cet_element(ed_window_op *w, const eddy_row *r, int64_t ts)
{
    if (tmax(w) <= wm(w)) return EDDY_TRIGGER_FIRE;
    if (reg(w, EDDY_EVENT_TIME, tmax(w))) return -1;
    bool found;
    get_i64(w, w->fire_st, &found);
    if (!found && cont_next(w, EDDY_EVENT_TIME, ts - ts % w->trig.interval_ms)) return -1;
    return EDDY_TRIGGER_CONTINUE;
}
static int cet_event(ed_window_op *w, int64_t t)
{
    if (t == tmax(w)) return EDDY_TRIGGER_FIRE;
    bool found;
    int64_t f = get_i64(w, w->fire_st, &found);
    if (found && f == t) {
        eddy_state_clear(w->fire_st);
        return cont_next(w, EDDY_EVENT_TIME, t) ? -1 : EDDY_TRIGGER_FIRE;
    }
    return EDDY_TRIGGER_CONTINUE;
}
static int cont_clear(ed_window_op *w, eddy_time_domain d)
{
    bool found;
    int64_t f = get_i64(w, w->fire_st, &found);
    if (found) {
        if (del(w, d, f)) return -1;
        eddy_state_clear(w->fire_st);
    }
    return 0;
}
static int cont_merge(ed_window_op *w, eddy_time_domain d)
{
    if (merge_trigger_state(w, w->fire_st)) return -1;
    bool found;
    int64_t f = get_i64(w, w->fire_st, &found);
    return found ? reg(w, d, f) : 0;
}
static int cet_clear(ed_window_op *w) { return cont_clear(w, EDDY_EVENT_TIME); }
static int cet_merge(ed_window_op *w) { return cont_merge(w, EDDY_EVENT_TIME); }
static int cpt_element(ed_window_op *w, const eddy_row *r, int64_t ts)
{
    bool found;
    get_i64(w, w->fire_st, &found);
    int64_t now = ed_op_now(w->op);
    if (!found && cont_next(w, EDDY_PROCESSING_TIME, now - now % w->trig.interval_ms)) return -1;
    return EDDY_TRIGGER_CONTINUE;
}
static int cpt_proc(ed_window_op *w, int64_t t)
{
    bool found;
    int64_t f = get_i64(w, w->fire_st, &found);
    if (found && f == t) {
        eddy_state_clear(w->fire_st);
        return cont_next(w, EDDY_PROCESSING_TIME, t) ? -1 : EDDY_TRIGGER_FIRE;
    }
    return EDDY_TRIGGER_CONTINUE;
}
static int cpt_clear(ed_window_op *w) { return cont_clear(w, EDDY_PROCESSING_TIME); }
static int cpt_merge(ed_window_op *w) { return cont_merge(w, EDDY_PROCESSING_TIME); }

/* DeltaTrigger: fires when delta(last fired element, element) > threshold. */
static int dt_element(ed_window_op *w, const eddy_row *r, int64_t ts)
{
    set_ns(w, w->tctx.ns);
    const eddy_row *last = eddy_value_get(w->delta_st);
    if (!last) return eddy_value_update(w->delta_st, r) ? -1 : EDDY_TRIGGER_CONTINUE;
    if (w->t_delta(last, r) > w->trig.threshold)
        return eddy_value_update(w->delta_st, r) ? -1 : EDDY_TRIGGER_FIRE;
    return EDDY_TRIGGER_CONTINUE;
}
static int dt_clear(ed_window_op *w)
{
    set_ns(w, w->tctx.ns);
    eddy_state_clear(w->delta_st);
    return 0;
}

/* Custom triggers: the user's functions; absent ones continue. */
static int cu_check(ed_window_op *w, int r, const char *what, eddy_fn fn)
{
    if (r < 0 || r > EDDY_TRIGGER_FIRE_AND_PURGE) return fail_user(w, what, fn.name);
    return r;
}
static int cu_element(ed_window_op *w, const eddy_row *r, int64_t ts)
{
    if (!w->t_element) return EDDY_TRIGGER_CONTINUE;
    return cu_check(w, w->t_element(&w->tctx, r, ts), "trigger on_element",
                    w->trig.on_element);
}
static int cu_event(ed_window_op *w, int64_t t)
{
    if (!w->t_event) return EDDY_TRIGGER_CONTINUE;
    return cu_check(w, w->t_event(&w->tctx, t), "trigger on_event_time", w->trig.on_event_time);
}
static int cu_proc(ed_window_op *w, int64_t t)
{
    if (!w->t_proc) return EDDY_TRIGGER_CONTINUE;
    return cu_check(w, w->t_proc(&w->tctx, t), "trigger on_processing_time",
                    w->trig.on_processing_time);
}
static int cu_merge(ed_window_op *w)
{
    for (int i = 0; i < w->ntstates; i++) {
        eddy_state_kind k = w->tkinds[i];
        if (k == EDDY_STATE_VALUE || k == EDDY_STATE_REDUCING || k == EDDY_STATE_AGGREGATING)
            if (merge_trigger_state(w, w->tstates[i])) return -1;
    }
    if (!w->t_merge) return 0;
    return w->t_merge(&w->tctx) < 0 ? fail_user(w, "trigger on_merge", w->trig.on_merge.name) : 0;
}
static int cu_clear(ed_window_op *w)
{
    if (w->t_clear) w->t_clear(&w->tctx);
    set_ns(w, w->tctx.ns);
    for (int i = 0; i < w->ntstates; i++) eddy_state_clear(w->tstates[i]);
    return w->op->err.set ? -1 : 0;
}

static const trig_vt never_vt = {cont_el, cont, cont, none, none};
static const trig_vt trigger_vts[] = {
    [EDDY_TRIGGER_EVENT_TIME] = {et_element, et_event, cont, et_merge, et_clear},
    [EDDY_TRIGGER_PROCESSING_TIME] = {pt_element, cont, pt_proc, pt_merge, pt_clear},
    [EDDY_TRIGGER_COUNT] = {ct_element, cont, cont, ct_merge, ct_clear},
    [EDDY_TRIGGER_CONTINUOUS_EVENT_TIME] = {cet_element, cet_event, cont, cet_merge, cet_clear},
    [EDDY_TRIGGER_CONTINUOUS_PROCESSING_TIME] = {cpt_element, cont, cpt_proc, cpt_merge,
                                                 cpt_clear},
    [EDDY_TRIGGER_DELTA] = {dt_element, cont, cont, none, dt_clear},
    [EDDY_TRIGGER_CUSTOM] = {cu_element, cu_event, cu_proc, cu_merge, cu_clear},
};

/* PurgingTrigger: FIRE becomes FIRE_AND_PURGE. */
static inline int purging(ed_window_op *w, int r)
{
    return w->trig.purging && r > 0 && (r & EDDY_TRIGGER_FIRE) ? EDDY_TRIGGER_FIRE_AND_PURGE : r;
}

/* ---- firing ----------------------------------------------------------------------------------- */

static int ensure_side(side_elems *s, size_t n)
{
    size_t c = s->cap;
    s->rows = grow(s->rows, &c, n, sizeof(*s->rows));
    c = s->cap;
    s->ts = grow(s->ts, &c, n, sizeof(*s->ts));
    s->cap = c;
    return 0;
}

/* Copies the list of the current namespace into side `k` (rows in the arena). */
static int load_list(ed_window_op *w, eddy_state *s, int k)
{
    side_elems *e = &w->el[k];
    size_t n = eddy_list_size(s);
    ensure_side(e, n);
    e->n = 0;
    for (size_t i = 0; i < n; i++) {
        const eddy_row *r = eddy_list_get(s, i);
        if (!r) break;
        uint32_t sz = eddy_row_size(r);
        void *copy = ed_arena_alloc(&w->arena, sz);
        if (!copy) return ed_op_fail(w->op, "out of memory for window elements");
        memcpy(copy, r, sz);
        e->rows[e->n] = copy;
        e->ts[e->n++] = ed_list_timestamp(s, i);
    }
    return 0;
}

static const eddy_row *arena_copy(ed_window_op *w, const eddy_row *r)
{
    uint32_t sz = eddy_row_size(r);
    void *copy = ed_arena_alloc(&w->arena, sz);
    if (!copy) {
        ed_op_fail(w->op, "out of memory for window elements");
        return NULL;
    }
    memcpy(copy, r, sz);
    return copy;
}

/* Calls the window's function on the prepared elements, or emits `one`. */
static int apply(ed_window_op *w, const eddy_row *one, int64_t max_ts)
{
    ed_operator *op = w->op;
    int rc = 0;
    if (one && !w->fn) return ed_out_emit(&op->out, one, max_ts);
    set_ns_void(w); /* keyed state inside the function is the key's, not the window's */
    w->in_fn = true;
    if (w->spec->fn_kind == ED_WFN_JOIN) {
        eddy_join_fn f = (eddy_join_fn)w->fn;
        for (size_t i = 0; i < w->el[0].n && rc == 0; i++)
            for (size_t j = 0; j < w->el[1].n && rc == 0; j++)
                if (f(&op->ctx, w->el[0].rows[i], w->el[1].rows[j], &op->out) < 0)
                    rc = fail_user(w, "join function", w->spec->process.name);
    } else if (w->spec->fn_kind == ED_WFN_CO_GROUP) {
        eddy_window_elements l = {w->el[0].rows, w->el[0].ts, w->el[0].n};
        eddy_window_elements r = {w->el[1].rows, w->el[1].ts, w->el[1].n};
        if (((eddy_co_group_fn)w->fn)(&op->ctx, &l, &r, &op->out) < 0)
            rc = fail_user(w, "co-group function", w->spec->process.name);
    } else {
        int64_t ts1 = EDDY_NO_TIMESTAMP;
        eddy_window_elements e = one ? (eddy_window_elements){&one, &ts1, 1}
                                     : (eddy_window_elements){w->el[0].rows, w->el[0].ts,
                                                              w->el[0].n};
        if (((eddy_window_process_fn)w->fn)(&op->ctx, &e, &op->out) < 0)
            rc = fail_user(w, "window function", w->spec->process.name);
    }
    w->in_fn = false;
    return rc;
}

/* Runs one evictor stage over el[0] (compacting it); `after` picks the stage. */
static int evict(ed_window_op *w, ed_win win, bool after)
{
    const eddy_evictor *ev = &w->spec->evictor;
    side_elems *e = &w->el[0];
    size_t n = e->n;
    if (ev->kind != EDDY_EVICTOR_CUSTOM && ev->evict_after != after) return 0;
    memset(w->evicted, 0, n * sizeof(bool));
    switch (ev->kind) {
    case EDDY_EVICTOR_COUNT:
        if ((int64_t)n > ev->count)
            for (size_t i = 0; i < n - (size_t)ev->count; i++) w->evicted[i] = true;
        break;
    case EDDY_EVICTOR_TIME: {
        if (n == 0 || e->ts[0] == EDDY_NO_TIMESTAMP) break;
        int64_t max = INT64_MIN;
        for (size_t i = 0; i < n; i++)
            if (e->ts[i] > max) max = e->ts[i];
        int64_t cutoff = sat_sub(max, ev->window_ms);
        for (size_t i = 0; i < n; i++) w->evicted[i] = e->ts[i] <= cutoff;
        break;
    }
    case EDDY_EVICTOR_DELTA:
        if (n == 0) break;
        for (size_t i = 0; i < n; i++)
            w->evicted[i] = w->e_delta(e->rows[i], e->rows[n - 1]) >= ev->threshold;
        break;
    case EDDY_EVICTOR_CUSTOM: {
        eddy_evict_fn f = after ? w->ev_after : w->ev_before;
        if (!f) return 0;
        eddy_evictor_elements ee = {e->rows, e->ts, w->evicted, n};
        set_ns_void(w);
        w->in_fn = true;
        int r = f(&w->op->ctx, &ee, win.start, win.end);
        w->in_fn = false;
        if (r < 0)
            return fail_user(w, "evictor",
                             after ? ev->evict_after_fn.name : ev->evict_before.name);
        break;
    }
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (w->evicted[i]) continue;
        e->rows[k] = e->rows[i];
        e->ts[k] = e->ts[i];
        w->orig[k++] = w->orig[i];
    }
    e->n = k;
    return 0;
}

/* The reduce or aggregate over the elements left by the evictor; NULL when there are none
 * to reduce (an aggregate of none is the result of a fresh accumulator, as Flink's). */
static const eddy_row *fold(ed_window_op *w, int *rc)
{
    ed_operator *op = w->op;
    side_elems *e = &w->el[0];
    *rc = 0;
    if (w->spec->fn_kind == ED_WFN_AGGREGATE) {
        eddy_row_builder *a = w->rb_a, *b = w->rb_b;
        eddy_rb_reset(a);
        if (w->agg_create(&op->ctx, a) < 0) {
            *rc = fail_user(w, "aggregate create", w->spec->agg.create.name);
            return NULL;
        }
        for (size_t i = 0; i < e->n; i++) {
            eddy_rb_reset(b);
            if (w->agg_add(&op->ctx, e->rows[i], eddy_rb_row(a), b) < 0) {
                *rc = fail_user(w, "aggregate add", w->spec->agg.add.name);
                return NULL;
            }
            eddy_row_builder *t = a;
            a = b;
            b = t;
        }
        eddy_rb_reset(w->rb_res);
        if (w->agg_result(&op->ctx, eddy_rb_row(a), w->rb_res) < 0) {
            *rc = fail_user(w, "aggregate result", w->spec->agg.result.name);
            return NULL;
        }
        return eddy_rb_row(w->rb_res);
    }
    if (e->n == 0) return NULL;
    const eddy_row *acc = e->rows[0];
    for (size_t i = 1; i < e->n; i++) {
        eddy_row_builder *b = acc == (const eddy_row *)w->rb_a->buf ? w->rb_b : w->rb_a;
        eddy_rb_reset(b);
        int r = w->spec->fn_kind == ED_WFN_BUILTIN ? builtin_combine(w, acc, e->rows[i], b)
                                                   : w->reduce(&op->ctx, acc, e->rows[i], b);
        if (r < 0) {
            *rc = fail_user(w, "reduce function", w->spec->reduce.name);
            return NULL;
        }
        acc = eddy_rb_row(b);
    }
    return acc;
}

static int fire_evicting(ed_window_op *w, ed_win win, const uint8_t *sns, int64_t max_ts)
{
    if (load_list(w, w->contents[0], 0)) return -1;
    side_elems *e = &w->el[0];
    size_t n = e->n;
    if (n == 0) return 0;
    size_t c = w->evcap;
    w->orig = grow(w->orig, &c, n, sizeof(*w->orig));
    c = w->evcap;
    w->evicted = grow(w->evicted, &c, n, sizeof(*w->evicted));
    c = w->evcap;
    w->keep = grow(w->keep, &c, n, sizeof(*w->keep));
    w->evcap = c;
    for (size_t i = 0; i < n; i++) w->orig[i] = i;
    if (evict(w, win, false)) return -1;
    int rc = 0;
    if (w->spec->fn_kind == ED_WFN_PROCESS) {
        rc = apply(w, NULL, max_ts);
    } else {
        const eddy_row *one = fold(w, &rc);
        if (!rc && one) {
            if (w->fn && !(one = arena_copy(w, one))) return -1;
            rc = apply(w, one, max_ts);
        }
    }
    if (rc) return -1;
    if (evict(w, win, true)) return -1;
    if (e->n == n) return 0;
    memset(w->keep, 0, n * sizeof(bool));
    for (size_t i = 0; i < e->n; i++) w->keep[w->orig[i]] = true;
    set_ns(w, sns);
    if (ed_list_retain(w->contents[0], w->keep, n))
        return ed_op_fail(w->op, "out of memory for window state");
    return 0;
}

/* Emits the contents of window `win` kept in state window `sns`. */
static int fire(ed_window_op *w, ed_win win, const uint8_t *sns)
{
    ed_operator *op = w->op;
    int64_t max_ts = ed_win_max_ts(win);
    op->ctx.ts = max_ts;
    op->ctx.win_start = win.start;
    op->ctx.win_end = win.end;
    if (w->ns_needed) set_ns(w, sns);
    int rc = 0;
    if (w->evicting) {
        rc = fire_evicting(w, win, sns, max_ts);
    } else {
        switch (w->spec->fn_kind) {
        case ED_WFN_REDUCE:
        case ED_WFN_BUILTIN:
        case ED_WFN_AGGREGATE: {
            w->op->keyed->in_window_fn = true;
            const eddy_row *r = w->wt ? wt_result(w, ns_win(sns), &rc)
                                : w->spec->fn_kind == ED_WFN_AGGREGATE
                                    ? eddy_aggregating_get(w->contents[0])
                                    : eddy_reducing_get(w->contents[0]);
            w->op->keyed->in_window_fn = false;
            if (rc) break;
            if (r && w->fn) r = arena_copy(w, r);
            if (r) rc = apply(w, r, max_ts);
            break;
        }
        default:
            for (int k = 0; k < w->nlists && rc == 0; k++) rc = load_list(w, w->contents[k], k);
            if (rc == 0 && (w->el[0].n || (w->nlists == 2 && w->el[1].n)))
                rc = apply(w, NULL, max_ts);
        }
    }
    ed_arena_reset(&w->arena);
    op->ctx.win_start = INT64_MIN;
    op->ctx.win_end = INT64_MAX;
    return rc;
}

/* Flink's clearAllState: contents, trigger state and timers, per-window state. */
static int clear_all(ed_window_op *w, ed_win win, const uint8_t *sns)
{
    clear_contents(w, sns);
    tctx_set(w, win);
    if (w->tv->clear(w)) return -1;
    if (w->nwstates) {
        set_ns(w, w->tctx.ns);
        for (int i = 0; i < w->nwstates; i++) eddy_state_clear(w->wstates[i]);
    }
    if (w->merging) {
        for (int i = 0; i < w->nmap; i++) {
            if (!win_eq(w->map[i].w, win)) continue;
            w->map[i] = w->map[--w->nmap];
            w->map_dirty = true;
            break;
        }
    }
    return 0;
}

/* ---- the merging window set (Flink's MergingWindowSet) ------------------------------------- */

static int mws_load(ed_window_op *w)
{
    if (w->wt) {
        ed_wt_entry *e = *wt_entry(w);
        size_t n = e ? e->n : 0, cap = (size_t)w->mapcap;
        w->map = grow(w->map, &cap, n + 1, sizeof(*w->map));
        w->mapcap = (int)cap;
        w->nmap = 0;
        for (size_t i = 0; i < n; i++) {
            const ed_wt_rec *r = ed_wt_rec_at(e, (uint32_t)i);
            if (r->mapped)
                w->map[w->nmap++] = (mws_entry){{r->start, r->end}, {r->sstart, r->send}};
        }
        w->map_dirty = false;
        return 0;
    }
    set_ns_void(w);
    const eddy_row *r = eddy_value_get(w->mws);
    eddy_str set = r ? eddy_row_str(r, 0) : (eddy_str){NULL, 0};
    size_t n = set.len / sizeof(mws_entry);
    size_t cap = (size_t)w->mapcap;
    w->map = grow(w->map, &cap, n + 1, sizeof(*w->map));
    w->mapcap = (int)cap;
    if (n) memcpy(w->map, set.ptr, n * sizeof(mws_entry));
    w->nmap = (int)n;
    w->map_dirty = false;
    return 0;
}

/* The table's records follow the window set: a pair's record is mapped (and made when
 * absent), records the set no longer holds are not, and those without contents go. */
static int mws_persist_wt(ed_window_op *w)
{
    ed_wt_entry **ep = wt_entry(w);
    for (uint32_t i = 0; *ep && i < (*ep)->n; i++) ed_wt_rec_at(*ep, i)->mapped = 0;
    for (int i = 0; i < w->nmap; i++) {
        ed_wt_rec *r = wt_rec_make(w, w->map[i].w, w->map[i].sw);
        if (!r) return wt_oom(w);
        r->start = w->map[i].w.start;
        r->end = w->map[i].w.end;
        r->mapped = 1;
        ed_wt_rec_extended(*ep, r);
    }
    for (uint32_t i = *ep ? (*ep)->n : 0; i-- > 0;) {
        ed_wt_rec *r = ed_wt_rec_at(*ep, i);
        if (!r->mapped && !r->len) ed_wt_rec_remove(w->wt, ep, r);
        if (!*ep) break;
    }
    return 0;
}

/* w->map into the merging window set state of the current key. */
static int mws_write_state(ed_window_op *w)
{
    set_ns_void(w);
    if (w->nmap == 0) {
        eddy_state_clear(w->mws);
        return 0;
    }
    eddy_rb_reset(w->rb_mws);
    if (eddy_rb_set_str(w->rb_mws, 0, (const char *)w->map,
                        (uint32_t)((size_t)w->nmap * sizeof(mws_entry))) ||
        eddy_value_update(w->mws, eddy_rb_row(w->rb_mws)))
        return ed_op_fail(w->op, "out of memory for the merging window set");
    return 0;
}

static int mws_persist(ed_window_op *w)
{
    if (!w->map_dirty) return 0;
    w->map_dirty = false;
    if (w->wt) return mws_persist_wt(w);
    return mws_write_state(w);
}

static int mws_find(const ed_window_op *w, ed_win win)
{
    for (int i = 0; i < w->nmap; i++)
        if (win_eq(w->map[i].w, win)) return i;
    return -1;
}

/* The operator's merge function: windows merged[0..n) became `result`, whose state
 * window is `sw`; their state windows ssrc[0..ns) merge into it. */
static int on_merge(ed_window_op *w, ed_win result, const ed_win *merged, int n, ed_win sw,
                    const ed_win *ssrc, int ns)
{
    if (w->event_time && sat_add(ed_win_max_ts(result), w->spec->lateness_ms) <= wm(w))
        return ed_op_fail(w->op, "the end timestamp of an event-time window cannot become "
                          "earlier than the current watermark by merging (window [%lld, %lld), "
                          "watermark %lld)", (long long)result.start, (long long)result.end,
                          (long long)wm(w));
    if (!w->event_time && ed_win_max_ts(result) <= ed_op_now(w->op))
        return ed_op_fail(w->op, "the end timestamp of a processing-time window cannot become "
                          "earlier than the current processing time by merging");
    if (n == 1 && w->tv == &trigger_vts[EDDY_TRIGGER_EVENT_TIME]) {
        /* one window grew (an element extended a session): the trigger's timer moves */
        if (et_merge_move(w, result, merged[0])) return -1;
        if (!w->skip_cleanup && timer_at(w, merged[0], true)) return -1;
    } else {
        tctx_set(w, result);
        w->tctx.merged = merged;
        w->tctx.nmerged = n;
        int rc = w->tv->merge(w);
        w->tctx.merged = NULL;
        w->tctx.nmerged = 0;
        if (rc) return -1;
        for (int i = 0; i < n; i++) {
            tctx_set(w, merged[i]);
            if (w->tv->clear(w)) return -1;
            if (!w->skip_cleanup && timer_at(w, merged[i], true)) return -1;
        }
    }
    for (int k = 0; k < w->nlists; k++)
        if (merge_ns(w, w->contents[k], sw, ssrc, ns)) return -1;
    return 0;
}

/* Flink's MergingWindowSet.addWindow: adds `nw`, merging it with what it overlaps; *out is
 * the window the element belongs to now. */
static int mws_add(ed_window_op *w, ed_win nw, ed_win *out)
{
    int n = w->nmap + 1;
    if (n > w->candcap) {
        size_t c = (size_t)w->candcap, c2 = c, c3 = c;
        w->cand = grow(w->cand, &c, (size_t)n, sizeof(*w->cand));
        w->cidx = grow(w->cidx, &c2, (size_t)n, sizeof(*w->cidx));
        w->merged = grow(w->merged, &c3, (size_t)n * 2, sizeof(*w->merged));
        w->candcap = (int)c;
    }
    /* candidates sorted by start (insertion sort: sets are small); cidx -1 is the new one */
    for (int i = 0; i < n; i++) {
        ed_win c = i < w->nmap ? w->map[i].w : nw;
        int ci = i < w->nmap ? i : -1, j = i;
        while (j > 0 && w->cand[j - 1].start > c.start) {
            w->cand[j] = w->cand[j - 1];
            w->cidx[j] = w->cidx[j - 1];
            j--;
        }
        w->cand[j] = c;
        w->cidx[j] = ci;
    }
    ed_win result = nw;
    bool merged_new = false, any_merge = false;
    /* the map changes below: remember the groups by their windows first */
    int g0 = 0;
    while (g0 < n) {
        ed_win cover = w->cand[g0];
        int g1 = g0 + 1;
        while (g1 < n && cover.start <= w->cand[g1].end && cover.end >= w->cand[g1].start) {
            if (w->cand[g1].start < cover.start) cover.start = w->cand[g1].start;
            if (w->cand[g1].end > cover.end) cover.end = w->cand[g1].end;
            g1++;
        }
        /* distinct windows in the group: a merge when more than one */
        int distinct = 0;
        for (int i = g0; i < g1; i++) {
            bool dup = false;
            for (int j = g0; j < i && !dup; j++) dup = win_eq(w->cand[i], w->cand[j]);
            distinct += !dup;
        }
        if (distinct > 1) {
            any_merge = true;
            /* merged windows: the existing ones of the group, earliest first */
            ed_win *mw = w->merged, *sws = w->merged + n;
            int nm = 0, nsw = 0;
            for (int i = g0; i < g1; i++) {
                if (w->cidx[i] < 0) {
                    merged_new = true;
                    result = cover;
                    continue;
                }
                mw[nm++] = w->cand[i];
            }
            ed_win sw = w->map[mws_find(w, mw[0])].sw;
            for (int i = 0; i < nm; i++) {
                int k = mws_find(w, mw[i]);
                if (k < 0) continue;
                if (!win_eq(w->map[k].sw, sw)) sws[nsw++] = w->map[k].sw;
                w->map[k] = w->map[--w->nmap];
            }
            w->map[w->nmap++] = (mws_entry){cover, sw};
            w->map_dirty = true;
            bool only_self = nm == 1 && win_eq(mw[0], cover);
            if (!only_self && on_merge(w, cover, mw, nm, sw, sws, nsw)) return -1;
            /* the groups' positions in cand are stale now, but the indexes are not used
             * again: the next groups are disjoint from this one */
        }
        g0 = g1;
    }
    if ((!any_merge || (win_eq(result, nw) && !merged_new)) && mws_find(w, result) < 0) {
        w->map[w->nmap++] = (mws_entry){result, result};
        w->map_dirty = true;
    }
    *out = result;
    return 0;
}

/* ---- elements --------------------------------------------------------------------------------- */

static int assign(ed_window_op *w, const eddy_row *row, int64_t ts)
{
    const eddy_window_assigner *a = &w->spec->assigner;
    w->nwins = 0;
    if (a->kind == EDDY_WINDOW_GLOBAL) {
        w->wins[w->nwins++] = (ed_win){INT64_MIN, INT64_MAX};
        return 0;
    }
    int64_t t;
    if (w->event_time) {
        if (ED_UNLIKELY(ts == EDDY_NO_TIMESTAMP))
            return ed_op_fail(w->op, "record has no timestamp: event-time windows need "
                              "eddy_assign_timestamps_and_watermarks (or processing-time "
                              "windows)");
        t = ts;
    } else {
        t = ed_op_now(w->op);
    }
    switch (a->kind) {
    case EDDY_WINDOW_TUMBLING:
        /* records come in runs of one window: the division only when the window changes */
        if (t < w->last_tumble.start || t >= w->last_tumble.end ||
            w->last_tumble.end == INT64_MAX) {
            int64_t s = window_start(t, a->offset_ms, a->size_ms);
            w->last_tumble = (ed_win){s, sat_add(s, a->size_ms)};
        }
        w->wins[w->nwins++] = w->last_tumble;
        break;
    case EDDY_WINDOW_SLIDING: {
        int64_t last = window_start(t, a->offset_ms, a->slide_ms);
        int64_t lo = sat_sub(t, a->size_ms);
        for (int64_t s = last; s > lo; s = sat_sub(s, a->slide_ms)) {
            w->wins = grow(w->wins, &w->wcap, w->nwins + 1, sizeof(*w->wins));
            w->wins[w->nwins++] = (ed_win){s, sat_add(s, a->size_ms)};
            if (s == INT64_MIN) break;
        }
        break;
    }
    case EDDY_WINDOW_SESSION:
        w->wins[w->nwins++] = (ed_win){t, sat_add(t, a->gap_ms)};
        break;
    case EDDY_WINDOW_DYNAMIC_SESSION: {
        int64_t gap = w->gap_fn(&w->op->ctx, row);
        if (w->op->err.set) return -1;
        if (gap <= 0)
            return ed_op_fail(w->op, "dynamic session gap function '%s' returned %lld: the gap "
                              "must be positive", a->gap_fn.name ? a->gap_fn.name : "?",
                              (long long)gap);
        w->wins[w->nwins++] = (ed_win){t, sat_add(t, gap)};
        break;
    }
    default:
        break;
    }
    return 0;
}

/* Adds the element to window win, whose state window's bytes are w->ns_state. */
static int add_element(ed_window_op *w, int input, ed_win win, const eddy_row *row, int64_t ts)
{
    eddy_state *s = w->contents[input];
    if (w->wt) return wt_add(w, win, ns_win(w->ns_state), row);
    if (w->register_on_first) w->fresh = !ed_state_has_entry(s);
    int rc;
    if (w->evicting || w->nlists == 2 || w->spec->fn_kind == ED_WFN_PROCESS)
        rc = ed_list_add_ts(s, row, ts);
    else {
        w->op->keyed->in_window_fn = true;
        rc = w->spec->fn_kind == ED_WFN_AGGREGATE ? eddy_aggregating_add(s, row)
                                                  : eddy_reducing_add(s, row);
        w->op->keyed->in_window_fn = false;
    }
    if (ED_UNLIKELY(rc)) {
        if (!w->op->err.set) ed_op_fail(w->op, "adding to the window's state failed");
        return -1;
    }
    return 0;
}

/* The element's window `win` (state in `sns`) got it: ask the trigger. */
static int after_add(ed_window_op *w, ed_win win, const uint8_t *sns, const eddy_row *row,
                     int64_t ts)
{
    tctx_set(w, win);
    int r = purging(w, w->tv->element(w, row, ts));
    if (ED_UNLIKELY(r < 0)) return -1;
    if (r & EDDY_TRIGGER_FIRE) {
        if (fire(w, win, sns)) return -1;
    }
    if (r & EDDY_TRIGGER_PURGE) clear_contents(w, sns);
    return register_cleanup(w, win);
}

/* Merging windows: the element's window nw will most likely grow one window of the set.
 * Its state lookup and timer changes depend on the set just read; fetching their slots
 * now lets those cache misses overlap instead of coming one after another. */
static void prefetch_merge(ed_window_op *w, ed_win nw)
{
    for (int i = 0; i < w->nmap; i++) {
        ed_win old = w->map[i].w;
        if (old.start > nw.end || old.end < nw.start) continue;
        ed_win_ns(w->map[i].sw, w->ns_tmp);
        for (int k = 0; k < w->nlists && !w->wt; k++)
            ed_state_prefetch(w->contents[k], w->ns_tmp, 16);
        if (w->tv != &trigger_vts[EDDY_TRIGGER_EVENT_TIME]) return;
        ed_win cover = {old.start < nw.start ? old.start : nw.start,
                        old.end > nw.end ? old.end : nw.end};
        if (win_eq(cover, old)) return;
        ed_keyed *k = w->op->keyed;
        ed_win_ns(old, w->ns_tmp);
        ed_timers_prefetch(k->timers, EDDY_EVENT_TIME, ed_win_max_ts(old), k->key, k->klen,
                           w->ns_tmp, 16);
        ed_win_ns(cover, w->ns_tmp);
        ed_timers_prefetch(k->timers, EDDY_EVENT_TIME, ed_win_max_ts(cover), k->key, k->klen,
                           w->ns_tmp, 16);
        return;
    }
}

static int lean_register(ed_window_op *w, ed_win win)
{
    ed_keyed *k = w->op->keyed;
    ed_win_ns(win, w->ns_tmp);
    if (ED_UNLIKELY(ed_timers_register(k->timers, EDDY_EVENT_TIME, ed_win_max_ts(win), k->key,
                                       k->klen, k->key_group, w->ns_tmp, 16)))
        return ed_op_fail(w->op, "out of memory for timers");
    return 0;
}

/* The timer of a window that does not merge, with its first element: new, and only ever
 * popped, so the timer service need not look it up (ed_timers_add_unique). */
static int lean_add(ed_window_op *w, ed_win win)
{
    ed_keyed *k = w->op->keyed;
    ed_win_ns(win, w->ns_tmp);
    if (ED_UNLIKELY(ed_timers_add_unique(k->timers, w->event_time ? EDDY_EVENT_TIME : EDDY_PROCESSING_TIME,
                                         ed_win_max_ts(win), k->key, k->klen, k->key_group,
                                         w->ns_tmp, 16)))
        return ed_op_fail(w->op, "out of memory for timers");
    return 0;
}

/* The common case, without the general machinery: windows kept in the per-key table,
 * nothing that reads state per window, and either event time with the event-time
 * trigger and no allowed lateness, or processing time with the processing-time trigger.
 * What the trigger would do for such a window that is not late is to register its timer
 * once, with the first element (the window's max timestamp is after the watermark, or
 * the window would be late; in processing time, after now); its cleanup is that same
 * timer. */
static int lean_process(ed_window_op *w, const eddy_row *row, int64_t ts)
{
    ed_operator *op = w->op;
    if (w->event_time && ts >= w->last_tumble.start && ts < w->last_tumble.end &&
        ts != EDDY_NO_TIMESTAMP && w->spec->assigner.kind == EDDY_WINDOW_TUMBLING) {
        w->wins[0] = w->last_tumble; /* what assign gives while time stays in one window */
        w->nwins = 1;
    } else if (ED_UNLIKELY(assign(w, row, ts))) {
        return -1;
    }
    bool skipped = true;
    for (size_t i = 0; i < w->nwins; i++) {
        ed_win win = w->wins[i];
        if (w->event_time && ed_win_max_ts(win) <= op->watermark) continue; /* late */
        skipped = false;
        if (ED_UNLIKELY(wt_add(w, win, win, row))) return -1;
        if (w->fresh && lean_add(w, win)) return -1;
    }
    if (skipped && w->event_time && ts <= op->watermark) {
        if (w->spec->late_tag) return ed_out_emit_side(&op->out, w->spec->late_tag, row, ts);
        w->late_dropped++;
    }
    return 0;
}

/*
 * lean_process for merging windows (sessions). A record is a session: its window, and
 * as state window the window its timer was registered for. A session that grows keeps
 * its timer where it was; when that timer fires and the session has grown, the timer is
 * registered again at the session's end (lean_on_timer). The firing is the same as
 * Flink's - the window fires when the watermark passes its max timestamp, and timers
 * fire in timestamp order, the new one among them - but an element that extends a
 * session costs no timer work. A session merged into another leaves its timer behind;
 * it finds no record with its window when it fires and does nothing. Before a snapshot
 * every session's timer is moved to its window (wt_spill), so that what is saved is
 * what the general operator keeps.
 */
static int lean_merge_process(ed_window_op *w, const eddy_row *row, int64_t ts)
{
    ed_operator *op = w->op;
    const eddy_window_assigner *a = &w->spec->assigner;
    ed_win nw;
    if (a->kind == EDDY_WINDOW_SESSION && ts != EDDY_NO_TIMESTAMP) {
        nw = (ed_win){ts, sat_add(ts, a->gap_ms)}; /* what assign gives */
    } else {
        if (ED_UNLIKELY(assign(w, row, ts))) return -1;
        nw = w->wins[0];
    }
    ed_wt_entry **ep = wt_entry(w);
    uint32_t n = *ep ? (*ep)->n : 0, over = 0, first = 0;
    ed_win cover = nw;
    /* in order, only the newest session can overlap: the others ended before nw */
    uint32_t from = n && nw.start > (*ep)->older_end ? n - 1 : 0;
    for (uint32_t i = from; i < n; i++) {
        const ed_wt_rec *r = ed_wt_rec_at(*ep, i);
        if (r->start > nw.end || r->end < nw.start) continue;
        if (!over++ || r->start < ed_wt_rec_at(*ep, first)->start) first = i;
        if (r->start < cover.start) cover.start = r->start;
        if (r->end > cover.end) cover.end = r->end;
    }
    ed_wt_rec *r;
    if (over == 0) {
        if (ed_win_max_ts(nw) <= op->watermark) { /* late, and alone */
            if (w->spec->late_tag) return ed_out_emit_side(&op->out, w->spec->late_tag, row, ts);
            w->late_dropped++;
            return 0;
        }
        if (lean_register(w, nw)) return -1;
        if (!(r = wt_rec_make(w, nw, nw))) return wt_oom(w);
        r->mapped = 1;
    } else {
        r = ed_wt_rec_at(*ep, first);
        ed_win sw = {r->sstart, r->send};
        if (over > 1) { /* the element bridges sessions: the others merge into the first */
            ed_win *src = w->merged;
            size_t cap = (size_t)w->candcap;
            if (over > cap) {
                size_t c1 = cap, c2 = cap;
                w->cand = grow(w->cand, &c1, over, sizeof(*w->cand));
                w->cidx = grow(w->cidx, &c2, over, sizeof(*w->cidx));
                w->merged = src = grow(w->merged, &cap, (size_t)over * 2, sizeof(*w->merged));
                w->candcap = (int)cap;
            }
            int m = 0;
            for (uint32_t i = 0; i < n; i++) {
                const ed_wt_rec *o = ed_wt_rec_at(*ep, i);
                if (i == first || o->start > nw.end || o->end < nw.start) continue;
                int j = m++; /* by start, as Flink orders the merged windows */
                while (j > 0 && src[j - 1].start > o->start) {
                    src[j] = src[j - 1];
                    j--;
                }
                src[j] = (ed_win){o->sstart, o->send};
            }
            if (wt_merge(w, sw, src, m)) return -1;
            for (int j = 0; j < m; j++) {
                ed_wt_rec *o = wt_rec(w, src[j]);
                if (o) ed_wt_rec_remove(w->wt, &w->ce, o);
            }
            if (!(r = wt_rec(w, sw))) return wt_oom(w);
        }
        r->start = cover.start;
        r->end = cover.end;
        ed_wt_rec_extended(w->ce, r);
    }
    return wt_add_to(w, r, row);
}

/* A timer of the lean operator: fire and clear the window it belongs to; a session
 * that grew since its timer was registered gets a new one instead. */
static int lean_on_timer(ed_window_op *w, const ed_timer *timer)
{
    ed_win tw = ns_win(timer->ns);
    ed_wt_rec *r = wt_rec(w, tw);
    if (!r) return 0; /* left behind by a merge */
    ed_win win = {r->start, r->end};
    if (ed_win_max_ts(win) != timer->time) {
        r->sstart = win.start;
        r->send = win.end;
        return lean_register(w, win);
    }
    if (fire(w, win, timer->ns)) return -1;
    if ((r = wt_rec(w, tw))) ed_wt_rec_remove(w->wt, &w->ce, r);
    if (w->nwstates) { /* the per-window state the window function used */
        set_ns(w, timer->ns);
        for (int i = 0; i < w->nwstates; i++) eddy_state_clear(w->wstates[i]);
    }
    return 0;
}

static int window_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    ed_window_op *w = op->state;
    if (ED_UNLIKELY(ed_op_set_key_from_row(op, input, row))) {
        if (!op->err.set) ed_op_fail(op, "extracting the key failed");
        return -1;
    }
    op->ctx.ts = ts;
    w->ce_ok = false;
    if (w->lean) return w->merging ? lean_merge_process(w, row, ts) : lean_process(w, row, ts);
    if (ED_UNLIKELY(assign(w, row, ts))) return -1;
    bool skipped = true;
    if (w->merging) {
        w->merge_reg_valid = false;
        if (mws_load(w)) return -1;
        if (w->nwins == 1) prefetch_merge(w, w->wins[0]);
        for (size_t i = 0; i < w->nwins; i++) {
            ed_win actual;
            if (mws_add(w, w->wins[i], &actual)) return -1;
            int k = mws_find(w, actual);
            ed_assert(k >= 0);
            if (window_late(w, actual)) {
                w->map[k] = w->map[--w->nmap];
                w->map_dirty = true;
                continue;
            }
            skipped = false;
            ed_win_ns(w->map[k].sw, w->ns_state);
            if (w->ns_needed) set_ns(w, w->ns_state);
            if (add_element(w, input, actual, row, ts)) return -1;
            if (after_add(w, actual, w->ns_state, row, ts)) return -1;
        }
        if (mws_persist(w)) return -1;
    } else {
        for (size_t i = 0; i < w->nwins; i++) {
            ed_win win = w->wins[i];
            if (window_late(w, win)) continue;
            skipped = false;
            ed_win_ns(win, w->ns_state);
            if (w->ns_needed) set_ns(w, w->ns_state);
            if (ED_UNLIKELY(add_element(w, input, win, row, ts))) return -1;
            if (ED_UNLIKELY(after_add(w, win, w->ns_state, row, ts))) return -1;
        }
    }
    if (skipped && w->event_time && sat_add(ts, w->spec->lateness_ms) <= wm(w)) {
        if (w->spec->late_tag) return ed_out_emit_side(&op->out, w->spec->late_tag, row, ts);
        w->late_dropped++;
    }
    return 0;
}

static int window_on_timer(ed_operator *op, eddy_time_domain domain, const ed_timer *timer)
{
    ed_window_op *w = op->state;
    if (timer->nslen != 16) return 0;
    w->ce_ok = false;
    op->ctx.domain = domain;
    if (w->lean)
        return w->event_time == (domain == EDDY_EVENT_TIME) ? lean_on_timer(w, timer) : 0;
    int64_t time = timer->time;
    ed_win win = ns_win(timer->ns);
    tctx_set(w, win);
    if (w->merging) {
        if (mws_load(w)) return -1;
        int k = mws_find(w, win);
        if (k < 0) return 0; /* a timer a trigger did not delete, of a window that is gone */
        ed_win_ns(w->map[k].sw, w->ns_state);
    } else {
        memcpy(w->ns_state, w->tctx.ns, 16);
    }
    op->ctx.domain = domain;
    int r = domain == EDDY_EVENT_TIME ? w->tv->event(w, time) : w->tv->proc(w, time);
    r = purging(w, r);
    if (r < 0) return -1;
    if ((r & EDDY_TRIGGER_FIRE) && fire(w, win, w->ns_state)) return -1;
    if (r & EDDY_TRIGGER_PURGE) clear_contents(w, w->ns_state);
    if (w->event_time == (domain == EDDY_EVENT_TIME) && time == cleanup_time(w, win) &&
        clear_all(w, win, w->ns_state))
        return -1;
    return w->merging ? mws_persist(w) : 0;
}

/* ---- open and close ------------------------------------------------------------------------- */

#define RESOLVE(dst, type, fnv)                                                                \
    do {                                                                                       \
        if ((fnv).name || (fnv).ptr) {                                                         \
            (dst) = (type)ed_op_resolve(op, &(fnv));                                           \
            if (!(dst)) return -1;                                                             \
        }                                                                                      \
    } while (0)

static eddy_schema *parse(ed_operator *op, const char *text)
{
    char msg[256];
    eddy_schema *s = eddy_schema_parse(text ? text : "", msg, sizeof(msg));
    if (!s) ed_op_fail(op, "window schema: %s", msg);
    return s;
}

static int open_states(ed_window_op *w)
{
    const ed_window_spec *s = w->spec;
    eddy_state_desc d;
    for (int k = 0; k < w->nlists; k++) {
        memset(&d, 0, sizeof(d));
        d.name = k ? "window-contents-right" : "window-contents";
        d.schema = s->in_schema[k];
        if (w->evicting || w->nlists == 2 || s->fn_kind == ED_WFN_PROCESS) {
            d.kind = EDDY_STATE_LIST;
        } else if (s->fn_kind == ED_WFN_AGGREGATE) {
            d.kind = EDDY_STATE_AGGREGATING;
            d.aggregate = s->agg;
        } else {
            d.kind = EDDY_STATE_REDUCING;
            d.reduce = s->fn_kind == ED_WFN_BUILTIN ? EDDY_FN(ed_window_builtin_reduce) : s->reduce;
        }
        if (!(w->contents[k] = get_state(w, &d))) return -1;
    }
    if (w->merging) {
        d = (eddy_state_desc){.name = "merging-window-set",
                              .kind = EDDY_STATE_VALUE,
                              .schema = "windows BYTES"};
        if (!(w->mws = get_state(w, &d))) return -1;
    }
    switch (w->trig.kind) {
    case EDDY_TRIGGER_COUNT:
        d = (eddy_state_desc){.name = "count", .kind = EDDY_STATE_REDUCING,
                              .schema = "count BIGINT", .reduce = EDDY_FN(ed_window_reduce_sum0)};
        if (!(w->count_st = get_state(w, &d))) return -1;
        break;
    case EDDY_TRIGGER_CONTINUOUS_EVENT_TIME:
    case EDDY_TRIGGER_CONTINUOUS_PROCESSING_TIME:
        d = (eddy_state_desc){.name = "fire-time", .kind = EDDY_STATE_REDUCING,
                              .schema = "fire_time BIGINT",
                              .reduce = EDDY_FN(ed_window_reduce_min0)};
        if (!(w->fire_st = get_state(w, &d))) return -1;
        break;
    case EDDY_TRIGGER_DELTA:
        d = (eddy_state_desc){.name = "last-element", .kind = EDDY_STATE_VALUE,
                              .schema = w->trig.delta_schema};
        if (!(w->delta_st = get_state(w, &d))) return -1;
        break;
    default:
        break;
    }
    return 0;
}

static int window_open(ed_operator *op, ed_err *err)
{
    const ed_window_spec *s = op->node->spec;
    ed_window_op *w = ed_xcalloc(1, sizeof(*w));
    op->state = w;
    w->op = op;
    w->spec = s;
    op->ctx.win_start = INT64_MIN;
    op->ctx.win_end = INT64_MAX;
    if (!s) return ed_op_fail(op, "window operator without a window plan");
    if (!op->keyed || !op->keyed->backend || !op->keyed->timers)
        return ed_op_fail(op, "window operator without keyed state (the input must be keyed)");
    const eddy_window_assigner *a = &s->assigner;
    w->event_time = a->kind != EDDY_WINDOW_GLOBAL && a->domain == EDDY_EVENT_TIME;
    w->merging = ed_assigner_merging(a);
    w->evicting = s->has_evictor;
    w->nlists = s->fn_kind == ED_WFN_JOIN || s->fn_kind == ED_WFN_CO_GROUP ? 2 : 1;
    w->tctx.op = op;
    w->tctx.wop = w;
    w->trig = s->trigger;
    if (w->trig.kind == EDDY_TRIGGER_DEFAULT) {
        if (a->kind == EDDY_WINDOW_GLOBAL) w->tv = &never_vt;
        else w->trig.kind = w->event_time ? EDDY_TRIGGER_EVENT_TIME : EDDY_TRIGGER_PROCESSING_TIME;
    }
    if (!w->tv) {
        w->register_on_first = (w->trig.kind == EDDY_TRIGGER_EVENT_TIME ||
                                w->trig.kind == EDDY_TRIGGER_PROCESSING_TIME) && !w->merging;
        if ((unsigned)w->trig.kind >= ED_ARRAY_LEN(trigger_vts) || !trigger_vts[w->trig.kind].element)
            return ed_op_fail(op, "unknown trigger kind %d", (int)w->trig.kind);
        w->tv = &trigger_vts[w->trig.kind];
    }
    /* the cleanup timer is the trigger's own timer at the window's max timestamp */
    w->skip_cleanup = s->lateness_ms == 0 && a->kind != EDDY_WINDOW_GLOBAL &&
                      ((w->event_time && w->trig.kind == EDDY_TRIGGER_EVENT_TIME) ||
                       (!w->event_time && w->trig.kind == EDDY_TRIGGER_PROCESSING_TIME));

    RESOLVE(w->reduce, eddy_reduce_fn, s->reduce);
    RESOLVE(w->fn, void (*)(void), s->process);
    RESOLVE(w->agg_create, eddy_agg_create_fn, s->agg.create);
    RESOLVE(w->agg_add, eddy_agg_add_fn, s->agg.add);
    RESOLVE(w->agg_result, eddy_agg_result_fn, s->agg.result);
    RESOLVE(w->gap_fn, eddy_session_gap_fn, a->gap_fn);
    if (w->trig.kind == EDDY_TRIGGER_CUSTOM) {
        RESOLVE(w->t_element, eddy_trigger_element_fn, s->trigger.on_element);
        RESOLVE(w->t_event, eddy_trigger_time_fn, s->trigger.on_event_time);
        RESOLVE(w->t_proc, eddy_trigger_time_fn, s->trigger.on_processing_time);
        RESOLVE(w->t_merge, eddy_trigger_merge_fn, s->trigger.on_merge);
        RESOLVE(w->t_clear, eddy_trigger_clear_fn, s->trigger.clear);
    }
    if (w->trig.kind == EDDY_TRIGGER_DELTA) RESOLVE(w->t_delta, eddy_delta_fn, s->trigger.delta_fn);
    if (s->has_evictor) {
        if (s->evictor.kind == EDDY_EVICTOR_DELTA)
            RESOLVE(w->e_delta, eddy_delta_fn, s->evictor.delta_fn);
        if (s->evictor.kind == EDDY_EVICTOR_CUSTOM) {
            RESOLVE(w->ev_before, eddy_evict_fn, s->evictor.evict_before);
            RESOLVE(w->ev_after, eddy_evict_fn, s->evictor.evict_after_fn);
        }
    }
    eddy_schema *in = parse(op, s->in_schema[0]);
    if (!in) return -1;
    if (s->fn_kind == ED_WFN_BUILTIN) {
        int idx = s->field ? eddy_schema_index(in, s->field) : -1;
        if (idx < 0) {
            eddy_schema_free(in);
            return ed_op_fail(op, "no field '%s' to aggregate", s->field ? s->field : "(null)");
        }
        w->agg = s->builtin;
        w->field = (uint32_t)idx;
        w->ftype = eddy_schema_type(in, w->field);
    }
    if (s->fn_kind == ED_WFN_AGGREGATE) {
        eddy_schema *acc = parse(op, s->agg.acc_schema), *res = parse(op, s->agg.out_schema);
        if (acc && res) {
            w->rb_a = eddy_rb_new_schema(acc);
            w->rb_b = eddy_rb_new_schema(acc);
            w->rb_res = eddy_rb_new_schema(res);
        }
        eddy_schema_free(acc);
        eddy_schema_free(res);
        if (!acc || !res) {
            eddy_schema_free(in);
            return -1;
        }
    } else {
        w->rb_a = eddy_rb_new_schema(in);
        w->rb_b = eddy_rb_new_schema(in);
    }
    eddy_schema_free(in);
    w->rb_one = eddy_rb_new(1);
    w->rb_mws = eddy_rb_new(1);
    const ed_config *cfg = ed_op_config(op);
    if (!w->evicting && w->nlists == 1 && s->fn_kind != ED_WFN_PROCESS &&
        !ed_state_backend_is_rocksdb(op->keyed->backend) &&
        (!cfg || ed_config_get_bool(cfg, "state.backend.heap.window-table", true))) {
        w->wt = ed_wt_new();
        if (!w->wt) return ed_op_fail(op, "out of memory for window state");
        if (s->fn_kind == ED_WFN_BUILTIN) w->f_reduce = ed_window_builtin_reduce;
        else if (s->fn_kind == ED_WFN_REDUCE) w->f_reduce = w->reduce;
        RESOLVE(w->agg_merge, eddy_agg_merge_fn, s->agg.merge);
    }
    /* built-in event-time and processing-time triggers keep no state and only timers */
    w->ns_needed = !w->wt ||
                   (w->trig.kind != EDDY_TRIGGER_EVENT_TIME &&
                    w->trig.kind != EDDY_TRIGGER_PROCESSING_TIME);
    /* a window function may read keyed state: the key is then current for records too */
    op->keyed->records_skip_backend = !w->ns_needed && !w->fn;
    w->lean = w->wt && !w->ns_needed &&
              (w->event_time ? s->lateness_ms == 0 && w->trig.kind == EDDY_TRIGGER_EVENT_TIME &&
                                   w->tv == &trigger_vts[EDDY_TRIGGER_EVENT_TIME]
                             : !w->merging && w->trig.kind == EDDY_TRIGGER_PROCESSING_TIME &&
                                   w->tv == &trigger_vts[EDDY_TRIGGER_PROCESSING_TIME]);
    w->wcap = 4;
    w->wins = ed_xcalloc(w->wcap, sizeof(*w->wins));
    ed_arena_init(&w->arena, 64 * 1024);
    return open_states(w);
}

static void window_close(ed_operator *op)
{
    ed_window_op *w = op->state;
    if (!w) return;
    if (w->late_dropped)
        ed_log(ED_INFO, "window", "operator '%s' (%d/%d): %llu late records dropped",
               op->node->name, op->ctx.subtask + 1, op->ctx.parallelism,
               (unsigned long long)w->late_dropped);
    free(w->tstates);
    free(w->tkinds);
    free(w->wstates);
    free(w->wins);
    free(w->map);
    free(w->cand);
    free(w->merged);
    free(w->cidx);
    free(w->srcs);
    free(w->slens);
    free(w->srcbuf);
    for (int k = 0; k < 2; k++) {
        free(w->el[k].rows);
        free(w->el[k].ts);
    }
    free(w->orig);
    free(w->evicted);
    free(w->keep);
    free(w->mbuf);
    ed_wt_free(w->wt);
    ed_arena_destroy(&w->arena);
    eddy_rb_free(w->rb_mws);
    eddy_rb_free(w->rb_one);
    eddy_rb_free(w->rb_a);
    eddy_rb_free(w->rb_b);
    eddy_rb_free(w->rb_res);
    free(w);
    op->state = NULL;
}

/* ---- snapshots of the per-key table ----------------------------------------------------------- */

/* Writes one key's records into the contents state (per state window) and the merging
 * window set (per key), as the states themselves would hold them. */
static int wt_spill(ed_wt_entry *e, void *arg)
{
    ed_window_op *w = arg;
    ed_op_set_key_bytes(w->op, ed_wt_key(e), e->klen, (int)e->key_group);
    w->nmap = 0;
    for (uint32_t i = 0; i < e->n; i++) {
        ed_wt_rec *r = ed_wt_rec_at(e, i);
        if (w->lean && (r->sstart != r->start || r->send != r->end)) {
            /* a session whose timer stayed behind: the timer moves to its window now */
            ed_keyed *k = w->op->keyed;
            ed_win_ns((ed_win){r->sstart, r->send}, w->ns_tmp);
            ed_timers_delete(k->timers, EDDY_EVENT_TIME, ed_win_max_ts((ed_win){r->sstart, r->send}),
                             k->key, k->klen, w->ns_tmp, 16);
            r->sstart = r->start;
            r->send = r->end;
            if (lean_register(w, (ed_win){r->start, r->end})) return -1;
        }
        if (r->len) {
            ed_win_ns((ed_win){r->sstart, r->send}, w->ns_tmp);
            set_ns(w, w->ns_tmp);
            if (ed_state_store_row(w->contents[0], ed_wt_row(r)))
                return ed_op_fail(w->op, "snapshot of window state: %s",
                                  ed_state_error(w->contents[0]));
        }
        if (r->mapped) {
            size_t cap = (size_t)w->mapcap;
            w->map = grow(w->map, &cap, (size_t)w->nmap + 1, sizeof(*w->map));
            w->mapcap = (int)cap;
            w->map[w->nmap++] = (mws_entry){{r->start, r->end}, {r->sstart, r->send}};
        }
    }
    return w->merging && w->nmap ? mws_write_state(w) : 0;
}

static int window_pre_snapshot(ed_operator *op)
{
    ed_window_op *w = op->state;
    if (!w->wt) return 0;
    int rc = ed_wt_for_each(w->wt, wt_spill, w);
    w->nmap = 0;
    set_ns_void(w);
    return rc;
}

static void window_post_snapshot(ed_operator *op)
{
    ed_window_op *w = op->state;
    if (!w->wt) return;
    ed_state_drop_all(w->contents[0]);
    if (w->mws) ed_state_drop_all(w->mws);
}

/* The entry of a key met while iterating a state (its key is the backend's current). */
static ed_wt_entry *wt_entry_of(ed_window_op *w, eddy_state *s, const uint8_t *key,
                                uint32_t klen)
{
    ed_wt_entry *e = ed_wt_make(w->wt, key, klen, ed_key_hash(key, klen),
                                ed_state_entry_key_group(s));
    if (!e) wt_oom(w);
    return e;
}

static int wt_take_set(eddy_state *s, const uint8_t *key, uint32_t klen, const uint8_t *ns,
                       uint32_t nslen, void *arg)
{
    ed_window_op *w = arg;
    const eddy_row *row = eddy_value_get(s);
    eddy_str set = row ? eddy_row_str(row, 0) : (eddy_str){NULL, 0};
    ed_wt_entry *e = wt_entry_of(w, s, key, klen);
    if (!e) return -1;
    for (size_t i = 0; i + sizeof(mws_entry) <= set.len; i += sizeof(mws_entry)) {
        mws_entry m;
        memcpy(&m, set.ptr + i, sizeof m);
        ed_wt_rec *r = ed_wt_rec_find(e, m.sw.start, m.sw.end);
        if (!r && !(r = ed_wt_rec_add(w->wt, &e, m.w.start, m.w.end, m.sw.start, m.sw.end)))
            return wt_oom(w);
        r->mapped = 1;
    }
    return 0;
}

static int wt_take_contents(eddy_state *s, const uint8_t *key, uint32_t klen, const uint8_t *ns,
                            uint32_t nslen, void *arg)
{
    ed_window_op *w = arg;
    const eddy_row *row = ed_state_stored_row(s);
    if (!row || nslen != 16) return 0;
    ed_wt_entry *e = wt_entry_of(w, s, key, klen);
    if (!e) return -1;
    ed_win sw = ns_win(ns);
    ed_wt_rec *r = ed_wt_rec_find(e, sw.start, sw.end);
    if (!r && !(r = ed_wt_rec_add(w->wt, &e, sw.start, sw.end, sw.start, sw.end)))
        return wt_oom(w);
    return ed_wt_rec_set(w->wt, &e, &r, row) ? wt_oom(w) : 0;
}

/* The lean merging operator keeps a session's timer under its state window: after a
 * restore the timers are at the windows (as wt_spill and the general operator leave
 * them), and the contents are in the records, so the state windows become the windows. */
static int wt_own_windows(ed_wt_entry *e, void *arg)
{
    for (uint32_t i = 0; i < e->n; i++) {
        ed_wt_rec *r = ed_wt_rec_at(e, i);
        r->sstart = r->start;
        r->send = r->end;
    }
    return 0;
}

/* After a restore the contents are in the states: they move into the table. */
static int window_restored(ed_operator *op)
{
    ed_window_op *w = op->state;
    if (!w->wt) return 0;
    if (w->mws && ed_state_for_each(w->mws, wt_take_set, w)) return -1;
    if (ed_state_for_each(w->contents[0], wt_take_contents, w)) return -1;
    if (w->lean && w->merging && ed_wt_for_each(w->wt, wt_own_windows, w)) return -1;
    window_post_snapshot(op);
    w->ce_ok = false;
    return 0;
}

static void window_prefetch(ed_operator *op, uint32_t hash, int stage)
{
    ed_window_op *w = op->state;
    if (!w->wt) return;
    if (stage == 0) ed_wt_prefetch_slot(w->wt, hash);
    else ed_wt_prefetch_entry(w->wt, hash);
}

static const ed_op_vt ed_op_window_vt = {
    .open = window_open,
    .process = window_process,
    .close = window_close,
    .on_timer = window_on_timer,
    .pre_snapshot = window_pre_snapshot,
    .post_snapshot = window_post_snapshot,
    .restored = window_restored,
    .prefetch = window_prefetch,
};

static int window_check(const ed_node *n, ed_err *err)
{
    if (!n->spec) return ed_err_set(err, "operator '%s': no window plan", n->name);
    if (!n->keying.keyed) return ed_err_set(err, "operator '%s': windows need a keyed input", n->name);
    return 0;
}

static const char *const no_options[] = {NULL};
static const ed_factory window_factory = {"window", ED_FACTORY_OPERATOR, &ed_op_window_vt,
                                          window_check, 0, no_options};
/* window_all: one key, one subtask */
static const ed_factory window_all_factory = {"window_all", ED_FACTORY_OPERATOR,
                                              &ed_op_window_vt, window_check, 1, no_options};

const ed_factory *const ed_window_factories[] = {&window_factory, &window_all_factory, NULL};
