/*
 * ops_process.c - the ProcessFunction family as Flink runs it: KeyedProcessOperator,
 * CoProcessOperator / KeyedCoProcessOperator, CoBroadcastWithNonKeyedOperator /
 * CoBroadcastWithKeyedOperator and IntervalJoinOperator.
 *
 * The runtime does the keyed part for all of them: for a node with node->keying.keyed it
 * makes op->keyed (key extraction per input, state backend, timer service), fires
 * event-time timers <= the watermark in order with their key and namespace current, and
 * processing-time timers from the task loop. What is left here is small:
 *
 *   process      make the record's key current (keyed kinds), call the input's function
 *   on_timer     the domain and timestamp into the context, call the user's on_timer;
 *                an event-time timer's output carries the timer's time, a processing-time
 *                timer's output no timestamp (Flink's collector.eraseTimestamp())
 *
 * Broadcast: each subtask holds its own copy of the broadcast maps (operator store), and
 * only process_broadcast writes them: they are switched to read-only around
 * process_element and on_timer, so a write there fails with the backend's error.
 *
 * Interval join: both inputs keyed alike. A record at t is buffered per (key, t) in a
 * list state whose namespace is t, and t is noted in a per-key map of timestamps. It then
 * joins the other side's rows of the key whose timestamps lie in [t + lo, t + hi]:
 * (lower, upper) for a left record, (-upper, -lower) for a right one. The matching
 * timestamps are sorted, so a bounded run's output order depends only on arrival order.
 * A cleanup timer per (key, side, time), at t + hi when hi > 0 else t, drops the bucket
 * once no record can join it any more; records older than the watermark are dropped.
 * The timer namespaces "L" and "R" tell the sides apart, as Flink's CLEANUP_LEFT/RIGHT.
 */
#include "ops_process.h"

#include "operators.h"

/* ---- plan data ------------------------------------------------------------------------------ */

ed_process_spec *ed_process_spec_new(void)
{
    return ed_xcalloc(1, sizeof(ed_process_spec));
}

void ed_process_spec_clear(ed_process_spec *s)
{
    if (!s) return;
    for (int i = 0; i < s->ndescs; i++) {
        eddy_state_desc *d = &s->descs[i];
        free((char *)d->name);
        free((char *)d->schema);
        free((char *)d->key_schema);
        free((char *)d->default_value);
    }
    free(s->descs);
    free(s->schema[0]);
    free(s->schema[1]);
    memset(s, 0, sizeof(*s));
}

void ed_process_spec_free(void *spec)
{
    ed_process_spec_clear(spec);
    free(spec);
}

static char *dup_or_null(const char *s)
{
    return s ? ed_xstrdup(s) : NULL;
}

void ed_process_spec_add_desc(ed_process_spec *s, const eddy_state_desc *d)
{
    s->descs = ed_xrealloc(s->descs, sizeof(*s->descs) * (size_t)(s->ndescs + 1));
    eddy_state_desc *c = &s->descs[s->ndescs++];
    *c = *d;
    c->name = dup_or_null(d->name);
    c->schema = dup_or_null(d->schema);
    c->key_schema = dup_or_null(d->key_schema);
    c->default_value = dup_or_null(d->default_value);
    c->aggregate = (eddy_aggregate){0};
    c->reduce = EDDY_FN_NONE;
}

/* ---- executor state ------------------------------------------------------------------------- */

typedef struct proc_state {
    const ed_process_spec *spec;
    eddy_process_fn fn[2];
    eddy_on_timer_fn on_timer;
    /* broadcast */
    eddy_state **bstate; /* one per spec->descs, same order */
    bool in_broadcast;   /* inside process_broadcast: eddy_apply_to_keyed_state allowed */
    uint8_t *saved_key;  /* the current key across eddy_apply_to_keyed_state */
    uint32_t saved_cap;
    /* interval join */
    eddy_join_fn join;
    eddy_state *buf[2];   /* rows per (key, timestamp namespace) */
    eddy_state *times[2]; /* per key: timestamp -> number of rows */
    eddy_row_builder *ts_rb, *cnt_rb;
    int64_t *scratch; /* the other side's matching timestamps, reused */
    size_t scap;
    uint8_t ns[8]; /* the namespace of a bucket: its timestamp */
} proc_state;

static const ed_op_vt broadcast_vt;

static proc_state *state_new(ed_operator *op)
{
    proc_state *s = ed_xcalloc(1, sizeof(*s));
    op->state = s;
    s->spec = op->node->spec;
    ed_assert(s->spec);
    return s;
}

static void state_close(ed_operator *op)
{
    proc_state *s = op->state;
    if (!s) return;
    free(s->bstate);
    free(s->saved_key);
    eddy_rb_free(s->ts_rb);
    eddy_rb_free(s->cnt_rb);
    free(s->scratch);
    free(s);
    op->state = NULL;
}

/* A user function returned an error: keep its own message (eddy_fail) or that of an
 * operator it emitted into; else the failure of a state call of ours it made (a write to
 * read-only broadcast state); else say which function failed. */
static int fn_failed(ed_operator *op, const char *what, const eddy_fn *fn)
{
    if (ed_task_has_error(op->task) || ed_op_cancelled(op)) return -1;
    proc_state *s = op->state;
    for (int i = 0; s->bstate && i < s->spec->ndescs; i++) {
        const char *e = ed_state_error(s->bstate[i]);
        if (e) return ed_op_fail(op, "%s '%s': %s", what, fn->name ? fn->name : "?", e);
    }
    if (op->note[0])
        return ed_op_fail(op, "%s '%s' returned an error after: %s", what,
                          fn->name ? fn->name : "?", op->note);
    return ed_op_fail(op, "%s '%s' returned an error", what, fn->name ? fn->name : "?");
}

static bool fn_given(const eddy_fn *f)
{
    return f->name || f->ptr;
}

/* Resolves the functions of the spec: fn[0..nfn) required, on_timer optional. */
static int resolve_fns(ed_operator *op, proc_state *s, int nfn)
{
    for (int i = 0; i < nfn; i++) {
        s->fn[i] = (eddy_process_fn)ed_op_resolve(op, &s->spec->fn[i]);
        if (!s->fn[i]) return op->err.set ? -1 : ed_op_fail(op, "no function for input %d", i);
    }
    if (fn_given(&s->spec->on_timer)) {
        s->on_timer = (eddy_on_timer_fn)ed_op_resolve(op, &s->spec->on_timer);
        if (!s->on_timer) return -1;
    }
    if (op->node->keying.keyed && !op->keyed)
        return ed_op_fail(op, "the runtime made no keyed context for a keyed operator");
    return 0;
}

/* The user's on_timer with Flink's timer context: the key (set by the runtime), the
 * domain, and the output timestamp of the domain. */
static int call_on_timer(ed_operator *op, proc_state *s, eddy_time_domain d, const ed_timer *t)
{
    if (!s->on_timer) return 0;
    op->ctx.domain = d;
    /* timestamp() is the timer's time in both domains; what a processing-time timer
     * emits carries no event timestamp (Flink erases it) */
    op->ctx.ts = t->time;
    op->ctx.erase_ts = d == EDDY_PROCESSING_TIME;
    int rc = s->on_timer(&op->ctx, t->time, &op->out);
    op->ctx.erase_ts = false;
    if (ED_UNLIKELY(rc < 0)) return fn_failed(op, "on_timer function", &s->spec->on_timer);
    return 0;
}

/* ---- keyed process and co-process ------------------------------------------------------------ */

static int keyed_process_open(ed_operator *op, ed_err *err)
{
    return resolve_fns(op, state_new(op), 1);
}

static int co_process_open(ed_operator *op, ed_err *err)
{
    return resolve_fns(op, state_new(op), 2);
}

/* One record of input `input`: its key current (keyed), then its function. */
static int process_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    proc_state *s = op->state;
    op->ctx.ts = ts;
    if (op->keyed && ED_UNLIKELY(ed_op_set_key_from_row(op, input, row))) return -1;
    if (ED_UNLIKELY(s->fn[input](&op->ctx, row, &op->out) < 0))
        return fn_failed(op, input ? "process2 function" : "process function", &s->spec->fn[input]);
    return 0;
}

static int process_on_timer(ed_operator *op, eddy_time_domain d, const ed_timer *t)
{
    return call_on_timer(op, op->state, d, t);
}

/* ---- broadcast process ----------------------------------------------------------------------- */

static int broadcast_open(ed_operator *op, ed_err *err)
{
    proc_state *s = state_new(op);
    if (resolve_fns(op, s, 2)) return -1;
    int n = s->spec->ndescs;
    s->bstate = ed_xcalloc((size_t)n + 1, sizeof(*s->bstate));
    for (int i = 0; i < n; i++) {
        ed_err e = {0};
        s->bstate[i] = ed_broadcast_map(ed_op_store(op), &s->spec->descs[i], &e);
        if (!s->bstate[i])
            return ed_op_fail(op, "broadcast state '%s': %s", s->spec->descs[i].name, e.msg);
    }
    return 0;
}

static void set_read_only(proc_state *s, bool ro)
{
    for (int i = 0; i < s->spec->ndescs; i++)
        ed_broadcast_set_read_only(s->bstate[i], ro);
}

static int broadcast_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    proc_state *s = op->state;
    op->ctx.ts = ts;
    int rc;
    if (input == 0) {
        if (op->keyed && ED_UNLIKELY(ed_op_set_key_from_row(op, 0, row))) return -1;
        set_read_only(s, true);
        rc = s->fn[0](&op->ctx, row, &op->out);
        set_read_only(s, false);
    } else {
        s->in_broadcast = true;
        rc = s->fn[1](&op->ctx, row, &op->out);
        s->in_broadcast = false;
    }
    if (ED_UNLIKELY(rc < 0))
        return fn_failed(op, input ? "process_broadcast function" : "process_element function",
                         &s->spec->fn[input]);
    return 0;
}

static int broadcast_on_timer(ed_operator *op, eddy_time_domain d, const ed_timer *t)
{
    proc_state *s = op->state;
    set_read_only(s, true);
    int rc = call_on_timer(op, s, d, t);
    set_read_only(s, false);
    return rc;
}

eddy_state *eddy_broadcast_state_get(eddy_ctx *ctx, const char *name)
{
    ed_operator *op = ctx->op;
    if (op->vt != &broadcast_vt || !op->state || !name) return NULL;
    proc_state *s = op->state;
    for (int i = 0; i < s->spec->ndescs; i++)
        if (strcmp(s->spec->descs[i].name, name) == 0) return s->bstate[i];
    return NULL;
}

typedef struct apply_arg {
    ed_operator *op;
    eddy_keyed_state_fn fn;
    void *arg;
} apply_arg;

static int apply_one(eddy_state *st, const uint8_t *key, uint32_t klen, const uint8_t *ns,
                     uint32_t nslen, void *arg)
{
    apply_arg *a = arg;
    if (nslen) return 0; /* keyed state of process functions lives in the default namespace */
    ed_op_set_key_bytes(a->op, key, klen,
                        ed_key_group(ed_key_hash(key, klen), a->op->ctx.max_parallelism));
    return a->fn(&a->op->ctx, st, a->arg) < 0 ? -1 : 0;
}

int eddy_apply_to_keyed_state(eddy_ctx *ctx, const eddy_state_desc *desc, eddy_keyed_state_fn fn,
                              void *arg)
{
    ed_operator *op = ctx->op;
    if (op->vt != &broadcast_vt || !op->keyed || !((proc_state *)op->state)->in_broadcast)
        return eddy_fail(ctx, "eddy_apply_to_keyed_state: only in process_broadcast of a keyed "
                              "broadcast process function");
    if (!desc || !fn) return eddy_fail(ctx, "eddy_apply_to_keyed_state: no descriptor or function");
    ed_err e = {0};
    eddy_state *st = ed_state_get(op->keyed->backend, desc, &e);
    if (!st) return eddy_fail(ctx, "eddy_apply_to_keyed_state: %s", e.msg);
    /* the walk moves the current key; put the operator's back afterwards */
    proc_state *s = op->state;
    ed_keyed *k = op->keyed;
    if (k->klen > s->saved_cap) {
        uint8_t *p = realloc(s->saved_key, k->klen);
        if (!p) return eddy_fail(ctx, "eddy_apply_to_keyed_state: out of memory");
        s->saved_key = p;
        s->saved_cap = k->klen;
    }
    uint32_t klen = k->klen;
    int kg = k->key_group;
    if (klen) memcpy(s->saved_key, k->key, klen);
    apply_arg a = {op, fn, arg};
    int rc = ed_state_for_each(st, apply_one, &a);
    static const uint8_t no_key[1];
    ed_op_set_key_bytes(op, klen ? s->saved_key : no_key, klen, kg);
    if (rc < 0 && !op->err.set && ed_state_error(st))
        return eddy_fail(ctx, "eddy_apply_to_keyed_state: %s", ed_state_error(st));
    return rc < 0 ? -1 : 0;
}

/* ---- interval join ----------------------------------------------------------------------------
 */

static const uint8_t ns_left[1] = {'L'}, ns_right[1] = {'R'};

/* a + b, saturated: bounds near the ends of time must not wrap around. */
static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (!__builtin_add_overflow(a, b, &r)) return r;
    return b > 0 ? INT64_MAX : INT64_MIN;
}

static int join_open(ed_operator *op, ed_err *err)
{
    proc_state *s = state_new(op);
    s->join = (eddy_join_fn)ed_op_resolve(op, &s->spec->fn[0]);
    if (!s->join) return op->err.set ? -1 : ed_op_fail(op, "no join function");
    if (!op->keyed) return ed_op_fail(op, "the runtime made no keyed context for the join");
    static const char *const names[2][2] = {{ED_IJ_LEFT_BUFFER, ED_IJ_LEFT_TIMES},
                                            {ED_IJ_RIGHT_BUFFER, ED_IJ_RIGHT_TIMES}};
    for (int i = 0; i < 2; i++) {
        eddy_state_desc buf = {
            .name = names[i][0], .kind = EDDY_STATE_LIST, .schema = s->spec->schema[i]};
        eddy_state_desc times = {.name = names[i][1],
                                 .kind = EDDY_STATE_MAP,
                                 .schema = "n BIGINT",
                                 .key_schema = "ts BIGINT"};
        ed_err e = {0};
        if (!(s->buf[i] = ed_state_get(op->keyed->backend, &buf, &e)) ||
            !(s->times[i] = ed_state_get(op->keyed->backend, &times, &e)))
            return ed_op_fail(op, "interval join state: %s", e.msg);
    }
    s->ts_rb = eddy_rb_new(1);
    s->cnt_rb = eddy_rb_new(1);
    s->scap = 16;
    s->scratch = ed_xmalloc(s->scap * sizeof(int64_t));
    return 0;
}

/* Makes the bucket of timestamp t the current namespace; no_ns the default one. */
static void use_ns(ed_operator *op, proc_state *s, int64_t t)
{
    memcpy(s->ns, &t, 8);
    ed_op_set_namespace(op, s->ns, 8);
}
static void no_ns(ed_operator *op)
{
    ed_op_set_namespace(op, NULL, 0);
}

static const eddy_row *ts_key(proc_state *s, int64_t t)
{
    eddy_rb_reset(s->ts_rb);
    eddy_rb_set_i64(s->ts_rb, 0, t);
    return eddy_rb_row(s->ts_rb);
}

/* Appends row to its side's bucket of the current key and notes the timestamp. */
static int buffer_add(ed_operator *op, proc_state *s, int side, const eddy_row *row, int64_t t)
{
    use_ns(op, s, t);
    int rc = eddy_list_add(s->buf[side], row);
    no_ns(op);
    if (rc) return ed_op_fail(op, "interval join: %s", ed_state_error(s->buf[side]));
    const eddy_row *cnt = eddy_map_get(s->times[side], ts_key(s, t));
    int64_t n = cnt ? eddy_row_i64(cnt, 0) : 0;
    eddy_rb_reset(s->cnt_rb);
    eddy_rb_set_i64(s->cnt_rb, 0, n + 1);
    const eddy_row *nv = eddy_rb_row(s->cnt_rb);
    if (eddy_map_put(s->times[side], ts_key(s, t), nv))
        return ed_op_fail(op, "interval join: %s", ed_state_error(s->times[side]));
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The timestamps in [lo, hi] that `side` has rows at for the current key, ascending, in
 * s->scratch; their number in *n. */
static int matching_times(ed_operator *op, proc_state *s, int side, int64_t lo, int64_t hi,
                          size_t *n)
{
    eddy_map_iter it;
    const eddy_row *k, *v;
    *n = 0;
    eddy_map_iter_start(s->times[side], &it);
    while (eddy_map_next(&it, &k, &v)) {
        int64_t t = eddy_row_i64(k, 0);
        if (t < lo || t > hi) continue;
        if (*n == s->scap) {
            int64_t *p = realloc(s->scratch, s->scap * 2 * sizeof(int64_t));
            if (!p) return ed_op_fail(op, "interval join: out of memory");
            s->scratch = p;
            s->scap *= 2;
        }
        s->scratch[(*n)++] = t;
    }
    if (*n > 1) qsort(s->scratch, *n, sizeof(int64_t), cmp_i64);
    return 0;
}

static int join_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    proc_state *s = op->state;
    if (ED_UNLIKELY(ts == ED_TS_NONE))
        return ed_op_fail(op,
                          "interval join: a record of the %s input has no timestamp; "
                          "assign event timestamps before the join",
                          input ? "right" : "left");
    if (ED_UNLIKELY(ed_op_set_key_from_row(op, input, row))) return -1;
    if (ts < eddy_ctx_current_watermark(&op->ctx)) return 0; /* late: dropped, as Flink's */
    if (buffer_add(op, s, input, row, ts)) return -1;

    int other = 1 - input;
    int64_t lo = input == 0 ? s->spec->lower : -s->spec->upper;
    int64_t hi = input == 0 ? s->spec->upper : -s->spec->lower;
    size_t n;
    if (matching_times(op, s, other, sat_add(ts, lo), sat_add(ts, hi), &n)) return -1;
    for (size_t i = 0; i < n; i++) {
        int64_t ot = s->scratch[i];
        use_ns(op, s, ot);
        size_t m = eddy_list_size(s->buf[other]);
        for (size_t j = 0; j < m; j++) {
            use_ns(op, s, ot);
            const eddy_row *o = eddy_list_get(s->buf[other], j);
            no_ns(op); /* the join function sees the key's default namespace */
            if (!o) break;
            op->ctx.ts = ts > ot ? ts : ot;
            const eddy_row *l = input == 0 ? row : o, *r = input == 0 ? o : row;
            if (ED_UNLIKELY(s->join(&op->ctx, l, r, &op->out) < 0))
                return fn_failed(op, "join function", &s->spec->fn[0]);
        }
        no_ns(op);
    }
    op->ctx.ts = ts;

    int64_t cleanup = hi > 0 ? sat_add(ts, hi) : ts;
    ed_keyed *k = op->keyed;
    if (ed_timers_register(k->timers, EDDY_EVENT_TIME, cleanup, k->key, k->klen, k->key_group,
                           input ? ns_right : ns_left, 1))
        return ed_op_fail(op, "interval join: out of memory for timers");
    return 0;
}

/* A cleanup timer: the bucket it was set for can join nothing any more. */
static int join_on_timer(ed_operator *op, eddy_time_domain d, const ed_timer *t)
{
    proc_state *s = op->state;
    if (d != EDDY_EVENT_TIME || t->nslen != 1) return 0;
    int side = t->ns[0] == 'R';
    int64_t upper = s->spec->upper, lower = s->spec->lower;
    int64_t bucket = side == 0 ? (upper <= 0 ? t->time : t->time - upper)
                               : (lower <= 0 ? t->time + lower : t->time);
    use_ns(op, s, bucket);
    eddy_state_clear(s->buf[side]);
    no_ns(op);
    eddy_map_remove(s->times[side], ts_key(s, bucket));
    return 0;
}

/* ---- factories ------------------------------------------------------------------------------- */

static const ed_op_vt process_vt = {.open = keyed_process_open,
                                    .process = process_process,
                                    .on_timer = process_on_timer,
                                    .close = state_close};
static const ed_op_vt co_process_vt = {.open = co_process_open,
                                       .process = process_process,
                                       .on_timer = process_on_timer,
                                       .close = state_close};
static const ed_op_vt broadcast_vt = {.open = broadcast_open,
                                      .process = broadcast_process,
                                      .on_timer = broadcast_on_timer,
                                      .close = state_close};
static const ed_op_vt join_vt = {
    .open = join_open, .process = join_process, .on_timer = join_on_timer, .close = state_close};

/* Rejects nodes that do not come from the builders (a job graph read from elsewhere). */
static int check_spec(const ed_node *n, ed_err *err)
{
    if (!n->spec) return ed_err_set(err, "operator '%s': no process plan data", n->name);
    return 0;
}

static const char *const no_options[] = {NULL};
static const ed_factory keyed_process_factory = {
    "keyed_process", ED_FACTORY_OPERATOR, &process_vt, check_spec, 0, no_options};
static const ed_factory co_process_factory = {
    "co_process", ED_FACTORY_OPERATOR, &co_process_vt, check_spec, 0, no_options};
static const ed_factory broadcast_factory = {
    "broadcast_process", ED_FACTORY_OPERATOR, &broadcast_vt, check_spec, 0, no_options};
static const ed_factory join_factory = {
    "interval_join", ED_FACTORY_OPERATOR, &join_vt, check_spec, 0, no_options};

const ed_factory *const ed_process_factories[] = {&keyed_process_factory, &co_process_factory,
                                                  &broadcast_factory, &join_factory, NULL};
