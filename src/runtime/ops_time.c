/*
 * ops_time.c - timestamp and watermark assignment (Flink's TimestampsAndWatermarks
 * operator).
 *
 * The operator gives each record its event timestamp (a field, a function, or the clock
 * for ingestion time) and runs a watermark generator. Generators are per split: chained
 * right behind a source that reads several splits, the operator keeps one generator for
 * each split the source reports (ed_operator.split) and its output watermark is the
 * minimum over the splits still active. Our sources read their splits one after the
 * other, so a split is finished when the source moves past it; a source that interleaves
 * splits keeps them all active.
 *
 * Watermarks are emitted every pipeline.auto-watermark-interval of processing time
 * (periodic generators, Flink's default), right after the record that advances them
 * (punctuated generators, or per_record), and never go back. Upstream watermarks are
 * dropped except the final MAX one, as in Flink. With idleness, a generator that sees
 * no records for that long of processing time marks the stream idle, so it stops
 * holding back the watermark of the tasks downstream; the next record makes it active.
 */
#include "operators.h"

typedef struct ed_wm_spec {
    eddy_watermark_strategy s;
    int ts_index; /* the timestamp field, or -1 */
} ed_wm_spec;

typedef struct split_gen {
    int64_t max_ts; /* highest timestamp seen */
    int64_t wm;     /* this split's watermark */
    int64_t state[8];
    bool finished;
} split_gen;

typedef struct wm_state {
    const ed_wm_spec *spec;
    eddy_timestamp_fn ts_fn;
    eddy_wm_event_fn on_event;
    eddy_wm_periodic_fn on_periodic;
    split_gen *gens;
    int ngens;
    int cur;
    ed_operator *source; /* the head source when chained behind one and per_split */
    int64_t emitted;     /* the output watermark */
    int64_t interval_ms;
    uint64_t records, records_at_check;
    int64_t active_at; /* processing time of the last check that saw records */
    bool idle;
} wm_state;

struct eddy_wm_ctx {
    wm_state *s;
    split_gen *g;
    ed_operator *op;
};

void eddy_emit_watermark(eddy_wm_ctx *w, int64_t wm)
{
    if (wm > w->g->wm) w->g->wm = wm;
}

int64_t *eddy_wm_state(eddy_wm_ctx *w) { return w->g->state; }

static int emit_combined(ed_operator *op, wm_state *s)
{
    int64_t min = INT64_MAX;
    bool any = false;
    for (int i = 0; i < s->ngens; i++) {
        if (s->gens[i].finished) continue;
        any = true;
        if (s->gens[i].wm < min) min = s->gens[i].wm;
    }
    if (!any || min <= s->emitted) return 0;
    s->emitted = min;
    return ed_out_watermark(&op->out, min);
}

static split_gen *gen_for(wm_state *s, int split)
{
    if (split < 0) split = 0;
    if (split >= s->ngens) {
        int n = split + 1;
        s->gens = ed_xrealloc(s->gens, sizeof(split_gen) * (size_t)n);
        for (int i = s->ngens; i < n; i++)
            s->gens[i] = (split_gen){.max_ts = INT64_MIN, .wm = INT64_MIN};
        s->ngens = n;
    }
    /* sequential sources: a split is done once the source has moved past it */
    if (s->source && split != s->cur)
        for (int i = 0; i < split; i++) s->gens[i].finished = true;
    s->cur = split;
    return &s->gens[split];
}

/* The built-in generators' watermark: max timestamp - bound - 1. */
static void bounded_update(const ed_wm_spec *sp, split_gen *g)
{
    if (g->max_ts == INT64_MIN) return;
    int64_t bound = sp->s.kind == EDDY_WM_BOUNDED_OUT_OF_ORDERNESS ? sp->s.max_out_of_orderness_ms : 0;
    int64_t wm = g->max_ts - bound - 1;
    if (wm > g->wm) g->wm = wm;
}

static bool builtin(const ed_wm_spec *sp)
{
    return sp->s.kind == EDDY_WM_BOUNDED_OUT_OF_ORDERNESS || sp->s.kind == EDDY_WM_MONOTONOUS ||
           sp->s.kind == EDDY_WM_INGESTION_TIME;
}

static int wm_open(ed_operator *op, ed_err *err)
{
    wm_state *s = ed_xcalloc(1, sizeof(*s));
    op->state = s;
    s->spec = op->node->spec;
    s->emitted = INT64_MIN;
    const eddy_watermark_strategy *ws = &s->spec->s;
    if (ws->timestamp_fn.name || ws->timestamp_fn.ptr) {
        s->ts_fn = (eddy_timestamp_fn)ed_op_resolve(op, &ws->timestamp_fn);
        if (!s->ts_fn) return -1;
    }
    if (ws->on_event.name || ws->on_event.ptr) {
        s->on_event = (eddy_wm_event_fn)ed_op_resolve(op, &ws->on_event);
        if (!s->on_event) return -1;
    }
    if (ws->on_periodic.name || ws->on_periodic.ptr) {
        s->on_periodic = (eddy_wm_periodic_fn)ed_op_resolve(op, &ws->on_periodic);
        if (!s->on_periodic) return -1;
    }
    ed_operator *head = &op->task->ops[0];
    if (ws->per_split && op->index > 0 && head->vt->poll) s->source = head;
    s->interval_ms = ed_config_get_duration_ms(ed_op_config(op), "pipeline.auto-watermark-interval", 200);
    bool periodic = ws->kind != EDDY_WM_NONE && ws->kind != EDDY_WM_PUNCTUATED && !ws->per_record;
    if ((periodic && s->interval_ms > 0) || ws->idleness_ms > 0) {
        int64_t every = s->interval_ms > 0 ? s->interval_ms : 200;
        if (ws->idleness_ms > 0 && ws->idleness_ms < every) every = ws->idleness_ms;
        s->interval_ms = every;
        s->active_at = ed_op_now(op);
        op->pt_callback_at = s->active_at + every;
    }
    gen_for(s, 0);
    return 0;
}

static void wm_close(ed_operator *op)
{
    wm_state *s = op->state;
    if (!s) return;
    free(s->gens);
    free(s);
    op->state = NULL;
}

static int wm_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    wm_state *s = op->state;
    const ed_wm_spec *sp = s->spec;
    split_gen *g = &s->gens[s->cur];
    if (s->source) {
        int split = s->source->split < 0 ? 0 : s->source->split;
        if (ED_UNLIKELY(split != s->cur)) g = gen_for(s, split);
    }
    s->records++;
    if (ED_UNLIKELY(s->idle)) {
        s->idle = false;
        s->active_at = ed_op_now(op);
        if (ed_out_idle(&op->out, false)) return -1;
    }
    op->ctx.ts = ts;
    if (sp->s.kind == EDDY_WM_INGESTION_TIME) {
        ts = ed_op_now(op);
    } else if (sp->ts_index >= 0) {
        if (ED_UNLIKELY(eddy_row_is_null(row, (uint32_t)sp->ts_index)))
            return ed_op_fail(op, "timestamp field '%s' is NULL", sp->s.timestamp_field);
        ts = eddy_row_i64(row, (uint32_t)sp->ts_index);
    } else if (s->ts_fn) {
        ts = s->ts_fn(&op->ctx, row, ts);
        if (op->err.set) return -1;
    }
    if (ts > g->max_ts) g->max_ts = ts;
    if (s->on_event) {
        struct eddy_wm_ctx w = {s, g, op};
        if (s->on_event(&w, row, ts) < 0) {
            if (!op->err.set) ed_op_fail(op, "watermark generator '%s' failed", sp->s.on_event.name);
            return -1;
        }
    }
    if (ed_out_emit(&op->out, row, ts)) return -1;
    if (sp->s.kind == EDDY_WM_PUNCTUATED || sp->s.per_record) {
        if (builtin(sp)) bounded_update(sp, g);
        return emit_combined(op, s);
    }
    return 0;
}

static int wm_on_processing_time(ed_operator *op, int64_t now)
{
    wm_state *s = op->state;
    const ed_wm_spec *sp = s->spec;
    op->pt_callback_at = now + s->interval_ms;
    if (sp->s.idleness_ms > 0) {
        /* quiet for idleness_ms of processing time, however many checks that took */
        if (s->records != s->records_at_check) {
            s->active_at = now;
            s->records_at_check = s->records;
        } else if (!s->idle && now - s->active_at >= sp->s.idleness_ms) {
            s->idle = true;
            return ed_out_idle(&op->out, true);
        }
    }
    if (s->idle || sp->s.kind == EDDY_WM_NONE || sp->s.kind == EDDY_WM_PUNCTUATED) return 0;
    for (int i = 0; i < s->ngens; i++) {
        split_gen *g = &s->gens[i];
        if (g->finished) continue;
        if (builtin(sp)) {
            bounded_update(sp, g);
        } else if (s->on_periodic) {
            struct eddy_wm_ctx w = {s, g, op};
            if (s->on_periodic(&w) < 0) {
                if (!op->err.set) ed_op_fail(op, "watermark generator '%s' failed", sp->s.on_periodic.name);
                return -1;
            }
        }
    }
    return emit_combined(op, s);
}

/* Upstream watermarks are replaced by this operator's own, but the end of input passes. */
static int wm_on_watermark(ed_operator *op, int64_t wm)
{
    wm_state *s = op->state;
    if (wm != ED_WATERMARK_MAX || s->emitted == ED_WATERMARK_MAX) return 0;
    s->emitted = ED_WATERMARK_MAX;
    return ed_out_watermark(&op->out, wm);
}

static const ed_op_vt wm_vt = {
    .open = wm_open,
    .process = wm_process,
    .on_watermark = wm_on_watermark,
    .on_processing_time = wm_on_processing_time,
    .close = wm_close,
};

static const char *const no_options[] = {NULL};
static const ed_factory wm_factory = {"timestamps", ED_FACTORY_OPERATOR, &wm_vt, NULL, 0, no_options};

const ed_factory *const ed_time_factories[] = {&wm_factory, NULL};

/* ---- the builder --------------------------------------------------------------------------------- */

eddy_watermark_strategy eddy_bounded_out_of_orderness(int64_t max_ms, const char *ts_field)
{
    return (eddy_watermark_strategy){.kind = EDDY_WM_BOUNDED_OUT_OF_ORDERNESS,
                                     .max_out_of_orderness_ms = max_ms,
                                     .timestamp_field = ts_field};
}

eddy_watermark_strategy eddy_monotonous_timestamps(const char *ts_field)
{
    return (eddy_watermark_strategy){.kind = EDDY_WM_MONOTONOUS, .timestamp_field = ts_field};
}

static void spec_free(void *p)
{
    ed_wm_spec *sp = p;
    if (!sp) return;
    free((char *)sp->s.timestamp_field);
    free(sp);
}

/* Validates a strategy against the stream's schema; the plan data of the node. */
ed_wm_spec *ed_wm_spec_new(const eddy_watermark_strategy *ws, const eddy_schema *schema,
                           ed_err *err)
{
    const char *what = "eddy_assign_timestamps_and_watermarks";
    if (ws->kind < EDDY_WM_BOUNDED_OUT_OF_ORDERNESS || ws->kind > EDDY_WM_NONE) {
        ed_err_set(err, "%s: unknown watermark kind %d", what, (int)ws->kind);
        return NULL;
    }
    if (ws->max_out_of_orderness_ms < 0 || ws->idleness_ms < 0) {
        ed_err_set(err, "%s: negative duration", what);
        return NULL;
    }
    int idx = -1;
    bool has_fn = ws->timestamp_fn.name || ws->timestamp_fn.ptr;
    if (ws->timestamp_field) {
        idx = eddy_schema_index(schema, ws->timestamp_field);
        if (idx < 0) {
            ed_err_set(err, "%s: no timestamp field '%s' in (%s)", what, ws->timestamp_field,
                       eddy_schema_text(schema));
            return NULL;
        }
        eddy_type t = eddy_schema_type(schema, (uint32_t)idx);
        if (t != EDDY_TIMESTAMP && t != EDDY_BIGINT) {
            ed_err_set(err, "%s: timestamp field '%s' is %s, not TIMESTAMP or BIGINT", what,
                       ws->timestamp_field, eddy_type_name(t));
            return NULL;
        }
    } else if (!has_fn && ws->kind != EDDY_WM_INGESTION_TIME) {
        /* records keep the timestamps they have */
    }
    if ((ws->kind == EDDY_WM_PERIODIC && !(ws->on_periodic.name || ws->on_periodic.ptr)) ||
        (ws->kind == EDDY_WM_PUNCTUATED && !(ws->on_event.name || ws->on_event.ptr))) {
        ed_err_set(err, "%s: a %s generator needs its %s function", what,
                   ws->kind == EDDY_WM_PERIODIC ? "periodic" : "punctuated",
                   ws->kind == EDDY_WM_PERIODIC ? "on_periodic" : "on_event");
        return NULL;
    }
    ed_wm_spec *sp = ed_xcalloc(1, sizeof(*sp));
    sp->s = *ws;
    sp->s.timestamp_field = ws->timestamp_field ? ed_xstrdup(ws->timestamp_field) : NULL;
    sp->ts_index = idx;
    return sp;
}

void ed_wm_spec_free(void *p) { spec_free(p); }
