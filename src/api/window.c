/*
 * window.c - the window builder: assigners, triggers and evictors as values, windowed
 * streams, window functions, window joins and co-groups; and the small public calls
 * that triggers, evictors and window functions make while they run.
 *
 * A windowed stream (eddy_windowed) is only a plan being completed: the keyed stream it
 * reads and an ed_window_spec (runtime/window_int.h). It becomes an operator node when
 * a window function is given; the node gets its own deep copy of the spec, so that one
 * windowed stream can feed several functions as in Flink. The handle itself must live
 * as long as the environment and must be freed with it, but api.h gives the environment
 * no slot for it: so it is the spec of a hidden virtual node (a union with no inputs)
 * that nothing consumes. The job graph skips virtual nodes nobody reads, and the node's
 * free_spec frees the handle when the environment is freed.
 *
 * Flink's shapes: count windows are global windows with a (purging) count trigger and,
 * when sliding, a count evictor; window_all keys every record by one constant key
 * (Flink's NullByteKeySelector) and runs with parallelism 1; a window join or co-group
 * keys both inputs and runs one two-input window operator that keeps a list per input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/operators.h"
#include "../runtime/window_int.h"
#include "api.h"

struct eddy_windowed {
    eddy_env *env;
    int input; /* the keyed partition node the windows read */
    bool all;  /* window_all: parallelism 1 */
    ed_window_spec spec;
};

/* ---- the spec: deep copies ----------------------------------------------------------------- */

static eddy_fn fn_dup(eddy_fn f)
{
    return (eddy_fn){f.name ? ed_xstrdup(f.name) : NULL, f.ptr};
}
static void fn_free(eddy_fn *f)
{
    free((char *)f->name);
    f->name = NULL;
}
static char *str_dup(const char *s) { return s ? ed_xstrdup(s) : NULL; }

static void spec_own(ed_window_spec *s)
{
    s->assigner.gap_fn = fn_dup(s->assigner.gap_fn);
    eddy_trigger *t = &s->trigger;
    t->delta_fn = fn_dup(t->delta_fn);
    t->delta_schema = str_dup(t->delta_schema);
    t->on_element = fn_dup(t->on_element);
    t->on_event_time = fn_dup(t->on_event_time);
    t->on_processing_time = fn_dup(t->on_processing_time);
    t->on_merge = fn_dup(t->on_merge);
    t->clear = fn_dup(t->clear);
    eddy_evictor *e = &s->evictor;
    e->delta_fn = fn_dup(e->delta_fn);
    e->evict_before = fn_dup(e->evict_before);
    e->evict_after_fn = fn_dup(e->evict_after_fn);
    s->late_tag = str_dup(s->late_tag);
    s->reduce = fn_dup(s->reduce);
    s->process = fn_dup(s->process);
    eddy_aggregate *a = &s->agg;
    a->acc_schema = str_dup(a->acc_schema);
    a->out_schema = str_dup(a->out_schema);
    a->create = fn_dup(a->create);
    a->add = fn_dup(a->add);
    a->result = fn_dup(a->result);
    a->merge = fn_dup(a->merge);
    s->field = str_dup(s->field);
    s->in_schema[0] = str_dup(s->in_schema[0]);
    s->in_schema[1] = str_dup(s->in_schema[1]);
}

void ed_window_spec_clear(ed_window_spec *s)
{
    fn_free(&s->assigner.gap_fn);
    eddy_trigger *t = &s->trigger;
    fn_free(&t->delta_fn);
    free((char *)t->delta_schema);
    fn_free(&t->on_element);
    fn_free(&t->on_event_time);
    fn_free(&t->on_processing_time);
    fn_free(&t->on_merge);
    fn_free(&t->clear);
    fn_free(&s->evictor.delta_fn);
    fn_free(&s->evictor.evict_before);
    fn_free(&s->evictor.evict_after_fn);
    free(s->late_tag);
    fn_free(&s->reduce);
    fn_free(&s->process);
    free((char *)s->agg.acc_schema);
    free((char *)s->agg.out_schema);
    fn_free(&s->agg.create);
    fn_free(&s->agg.add);
    fn_free(&s->agg.result);
    fn_free(&s->agg.merge);
    free(s->field);
    free(s->in_schema[0]);
    free(s->in_schema[1]);
    memset(s, 0, sizeof(*s));
}

ed_window_spec *ed_window_spec_copy(const ed_window_spec *s)
{
    ed_window_spec *c = ed_xmalloc(sizeof(*c));
    *c = *s;
    spec_own(c);
    return c;
}

void ed_window_spec_free(void *spec)
{
    if (!spec) return;
    ed_window_spec_clear(spec);
    free(spec);
}

static void windowed_free(void *p)
{
    eddy_windowed *w = p;
    if (!w) return;
    ed_window_spec_clear(&w->spec);
    free(w);
}

/* ---- assigners, triggers and evictors as values ------------------------------------------- */

static eddy_window_assigner assigner(eddy_assigner_kind k, eddy_time_domain d, int64_t size,
                                     int64_t slide, int64_t offset, int64_t gap)
{
    return (eddy_window_assigner){k, d, size, slide, offset, gap, EDDY_FN_NONE};
}

eddy_window_assigner eddy_tumbling_event_time_windows(int64_t size_ms, int64_t offset_ms)
{
    return assigner(EDDY_WINDOW_TUMBLING, EDDY_EVENT_TIME, size_ms, 0, offset_ms, 0);
}
eddy_window_assigner eddy_tumbling_processing_time_windows(int64_t size_ms, int64_t offset_ms)
{
    return assigner(EDDY_WINDOW_TUMBLING, EDDY_PROCESSING_TIME, size_ms, 0, offset_ms, 0);
}
eddy_window_assigner eddy_sliding_event_time_windows(int64_t size_ms, int64_t slide_ms,
                                                     int64_t offset_ms)
{
    return assigner(EDDY_WINDOW_SLIDING, EDDY_EVENT_TIME, size_ms, slide_ms, offset_ms, 0);
}
eddy_window_assigner eddy_sliding_processing_time_windows(int64_t size_ms, int64_t slide_ms,
                                                          int64_t offset_ms)
{
    return assigner(EDDY_WINDOW_SLIDING, EDDY_PROCESSING_TIME, size_ms, slide_ms, offset_ms, 0);
}
eddy_window_assigner eddy_event_time_session_windows(int64_t gap_ms)
{
    return assigner(EDDY_WINDOW_SESSION, EDDY_EVENT_TIME, 0, 0, 0, gap_ms);
}
eddy_window_assigner eddy_processing_time_session_windows(int64_t gap_ms)
{
    return assigner(EDDY_WINDOW_SESSION, EDDY_PROCESSING_TIME, 0, 0, 0, gap_ms);
}
eddy_window_assigner eddy_event_time_session_windows_dynamic(eddy_fn gap_fn)
{
    eddy_window_assigner a = assigner(EDDY_WINDOW_DYNAMIC_SESSION, EDDY_EVENT_TIME, 0, 0, 0, 0);
    a.gap_fn = gap_fn;
    return a;
}
eddy_window_assigner eddy_processing_time_session_windows_dynamic(eddy_fn gap_fn)
{
    eddy_window_assigner a =
        assigner(EDDY_WINDOW_DYNAMIC_SESSION, EDDY_PROCESSING_TIME, 0, 0, 0, 0);
    a.gap_fn = gap_fn;
    return a;
}
/* GlobalWindows.isEventTime() is false: global windows are never late. */
eddy_window_assigner eddy_global_windows(void)
{
    return assigner(EDDY_WINDOW_GLOBAL, EDDY_PROCESSING_TIME, 0, 0, 0, 0);
}

static eddy_trigger trigger(eddy_trigger_kind k)
{
    eddy_trigger t;
    memset(&t, 0, sizeof(t));
    t.kind = k;
    return t;
}
eddy_trigger eddy_event_time_trigger(void) { return trigger(EDDY_TRIGGER_EVENT_TIME); }
eddy_trigger eddy_processing_time_trigger(void) { return trigger(EDDY_TRIGGER_PROCESSING_TIME); }
eddy_trigger eddy_count_trigger(int64_t count)
{
    eddy_trigger t = trigger(EDDY_TRIGGER_COUNT);
    t.count = count;
    return t;
}
eddy_trigger eddy_purging_trigger(eddy_trigger inner)
{
    inner.purging = true;
    return inner;
}
eddy_trigger eddy_continuous_event_time_trigger(int64_t interval_ms)
{
    eddy_trigger t = trigger(EDDY_TRIGGER_CONTINUOUS_EVENT_TIME);
    t.interval_ms = interval_ms;
    return t;
}
eddy_trigger eddy_continuous_processing_time_trigger(int64_t interval_ms)
{
    eddy_trigger t = trigger(EDDY_TRIGGER_CONTINUOUS_PROCESSING_TIME);
    t.interval_ms = interval_ms;
    return t;
}
eddy_trigger eddy_delta_trigger(double threshold, eddy_fn delta_fn, const char *schema)
{
    eddy_trigger t = trigger(EDDY_TRIGGER_DELTA);
    t.threshold = threshold;
    t.delta_fn = delta_fn;
    t.delta_schema = schema;
    return t;
}

static eddy_evictor evictor(eddy_evictor_kind k, bool after)
{
    eddy_evictor e;
    memset(&e, 0, sizeof(e));
    e.kind = k;
    e.evict_after = after;
    return e;
}
eddy_evictor eddy_count_evictor(int64_t count, bool evict_after)
{
    eddy_evictor e = evictor(EDDY_EVICTOR_COUNT, evict_after);
    e.count = count;
    return e;
}
eddy_evictor eddy_time_evictor(int64_t window_ms, bool evict_after)
{
    eddy_evictor e = evictor(EDDY_EVICTOR_TIME, evict_after);
    e.window_ms = window_ms;
    return e;
}
eddy_evictor eddy_delta_evictor(double threshold, eddy_fn delta_fn, bool evict_after)
{
    eddy_evictor e = evictor(EDDY_EVICTOR_DELTA, evict_after);
    e.threshold = threshold;
    e.delta_fn = delta_fn;
    return e;
}
eddy_evictor eddy_custom_evictor(eddy_fn evict_before, eddy_fn evict_after)
{
    eddy_evictor e = evictor(EDDY_EVICTOR_CUSTOM, false);
    e.evict_before = evict_before;
    e.evict_after_fn = evict_after;
    return e;
}

/* ---- validation ------------------------------------------------------------------------------- */

static bool has_fn(eddy_fn f) { return f.name || f.ptr; }

/* Flink's checks of its assigners' parameters. */
static int check_assigner(eddy_env *env, const char *what, const eddy_window_assigner *a)
{
    if (a->domain != EDDY_EVENT_TIME && a->domain != EDDY_PROCESSING_TIME) {
        ed_api_fail(env, "%s: unknown time domain %d", what, (int)a->domain);
        return -1;
    }
    switch (a->kind) {
    case EDDY_WINDOW_TUMBLING:
        if (a->size_ms <= 0 || a->offset_ms <= -a->size_ms || a->offset_ms >= a->size_ms) {
            ed_api_fail(env, "%s: tumbling windows need size > 0 and |offset| < size (size %lld, "
                        "offset %lld)", what, (long long)a->size_ms, (long long)a->offset_ms);
            return -1;
        }
        return 0;
    case EDDY_WINDOW_SLIDING:
        if (a->size_ms <= 0 || a->slide_ms <= 0 || a->offset_ms <= -a->slide_ms ||
            a->offset_ms >= a->slide_ms) {
            ed_api_fail(env, "%s: sliding windows need size > 0, slide > 0 and |offset| < slide "
                        "(size %lld, slide %lld, offset %lld)", what, (long long)a->size_ms,
                        (long long)a->slide_ms, (long long)a->offset_ms);
            return -1;
        }
        return 0;
    case EDDY_WINDOW_SESSION:
        if (a->gap_ms <= 0) {
            ed_api_fail(env, "%s: session windows need a gap > 0 (gap %lld)", what,
                        (long long)a->gap_ms);
            return -1;
        }
        return 0;
    case EDDY_WINDOW_DYNAMIC_SESSION:
        if (!has_fn(a->gap_fn)) {
            ed_api_fail(env, "%s: dynamic session windows need a gap function", what);
            return -1;
        }
        return 0;
    case EDDY_WINDOW_GLOBAL:
        return 0;
    }
    ed_api_fail(env, "%s: unknown window assigner kind %d", what, (int)a->kind);
    return -1;
}

static bool trigger_can_merge(const eddy_trigger *t)
{
    switch (t->kind) {
    case EDDY_TRIGGER_DELTA:
        return false;
    case EDDY_TRIGGER_CUSTOM:
        return t->can_merge;
    default:
        return true;
    }
}

/* ---- windowed streams ---------------------------------------------------------------------- */

static eddy_windowed *windowed_new(eddy_env *env, int input, bool all,
                                   eddy_window_assigner a, const char *schema_text)
{
    ed_node *hidden = ed_api_add_node(env, ED_NODE_UNION, NULL, "Windowed Stream (builder)");
    eddy_windowed *w = ed_xcalloc(1, sizeof(*w));
    w->env = env;
    w->input = input;
    w->all = all;
    w->spec.assigner = a;
    w->spec.assigner.gap_fn = fn_dup(a.gap_fn);
    w->spec.in_schema[0] = ed_xstrdup(schema_text);
    hidden->spec = w;
    hidden->free_spec = windowed_free;
    return w;
}

eddy_windowed *eddy_window(eddy_stream *keyed, eddy_window_assigner a)
{
    if (!ed_api_usable(keyed)) return NULL;
    if (!ed_api_keyed_input(keyed, "eddy_window")) return NULL;
    if (check_assigner(keyed->env, "eddy_window", &a)) return NULL;
    return windowed_new(keyed->env, keyed->node, false, a,
                        eddy_schema_text(ed_api_schema_of(keyed->env, keyed->node)));
}

int ed_window_all_key(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *key)
{
    eddy_rb_set_bool(key, 0, false);
    return 0;
}

eddy_windowed *eddy_window_all(eddy_stream *s, eddy_window_assigner a)
{
    if (!ed_api_usable(s)) return NULL;
    if (check_assigner(s->env, "eddy_window_all", &a)) return NULL;
    ed_node *n = ed_api_node(s);
    if (n->kind == ED_NODE_PARTITION && n->keying.keyed)
        return (eddy_windowed *)ed_api_fail(s->env, "eddy_window_all: the stream is keyed: use "
                                            "eddy_window");
    eddy_stream *k = eddy_key_by_fn(s, EDDY_FN(ed_window_all_key), "all BOOLEAN");
    if (!k) return NULL;
    return windowed_new(s->env, k->node, true, a,
                        eddy_schema_text(ed_api_schema_of(s->env, s->node)));
}

static eddy_windowed *count_window(eddy_windowed *w, const char *what, int64_t size,
                                   int64_t slide)
{
    if (!w) return NULL;
    eddy_env *env = w->env;
    if (size <= 0 || slide < 0)
        return (eddy_windowed *)ed_api_fail(env, "%s: needs size > 0 and slide >= 0 (size %lld, "
                                            "slide %lld)", what, (long long)size, (long long)slide);
    if (slide == 0) {
        w->spec.trigger = eddy_purging_trigger(eddy_count_trigger(size));
    } else {
        w->spec.trigger = eddy_count_trigger(slide);
        w->spec.has_evictor = true;
        w->spec.evictor = eddy_count_evictor(size, false);
    }
    return w;
}

eddy_windowed *eddy_count_window(eddy_stream *keyed, int64_t size, int64_t slide)
{
    if (!ed_api_usable(keyed)) return NULL;
    if (!ed_api_keyed_input(keyed, "eddy_count_window")) return NULL;
    return count_window(eddy_window(keyed, eddy_global_windows()), "eddy_count_window", size,
                        slide);
}

eddy_windowed *eddy_count_window_all(eddy_stream *s, int64_t size, int64_t slide)
{
    return count_window(eddy_window_all(s, eddy_global_windows()), "eddy_count_window_all", size,
                        slide);
}

static bool windowed_usable(eddy_windowed *w) { return w && !w->env->err.set; }

eddy_windowed *eddy_window_trigger(eddy_windowed *w, eddy_trigger t)
{
    if (!windowed_usable(w)) return NULL;
    eddy_env *env = w->env;
    const char *what = "eddy_window_trigger";
    switch (t.kind) {
    case EDDY_TRIGGER_DEFAULT:
    case EDDY_TRIGGER_EVENT_TIME:
    case EDDY_TRIGGER_PROCESSING_TIME:
        break;
    case EDDY_TRIGGER_COUNT:
        if (t.count <= 0)
            return (eddy_windowed *)ed_api_fail(env, "%s: a count trigger needs count > 0 (%lld)",
                                                what, (long long)t.count);
        break;
    case EDDY_TRIGGER_CONTINUOUS_EVENT_TIME:
    case EDDY_TRIGGER_CONTINUOUS_PROCESSING_TIME:
        if (t.interval_ms <= 0)
            return (eddy_windowed *)ed_api_fail(env, "%s: a continuous trigger needs an interval "
                                                "> 0 (%lld)", what, (long long)t.interval_ms);
        break;
    case EDDY_TRIGGER_DELTA: {
        if (!has_fn(t.delta_fn))
            return (eddy_windowed *)ed_api_fail(env, "%s: a delta trigger needs a delta function",
                                                what);
        eddy_schema *s = ed_api_parse_schema(env, "eddy_window_trigger: delta schema",
                                             t.delta_schema);
        if (!s) return NULL;
        eddy_schema_free(s);
        break;
    }
    case EDDY_TRIGGER_CUSTOM:
        if (t.can_merge && !has_fn(t.on_merge))
            return (eddy_windowed *)ed_api_fail(env, "%s: a custom trigger that can merge needs "
                                                "on_merge", what);
        break;
    default:
        return (eddy_windowed *)ed_api_fail(env, "%s: unknown trigger kind %d", what, (int)t.kind);
    }
    if (ed_assigner_merging(&w->spec.assigner) && !trigger_can_merge(&t))
        return (eddy_windowed *)ed_api_fail(env, "%s: a merging window assigner (session windows) "
                                            "cannot be used with a trigger that does not "
                                            "support merging", what);
    eddy_trigger *old = &w->spec.trigger;
    fn_free(&old->delta_fn);
    free((char *)old->delta_schema);
    fn_free(&old->on_element);
    fn_free(&old->on_event_time);
    fn_free(&old->on_processing_time);
    fn_free(&old->on_merge);
    fn_free(&old->clear);
    *old = t;
    old->delta_fn = fn_dup(t.delta_fn);
    old->delta_schema = str_dup(t.delta_schema);
    old->on_element = fn_dup(t.on_element);
    old->on_event_time = fn_dup(t.on_event_time);
    old->on_processing_time = fn_dup(t.on_processing_time);
    old->on_merge = fn_dup(t.on_merge);
    old->clear = fn_dup(t.clear);
    return w;
}

eddy_windowed *eddy_window_evictor(eddy_windowed *w, eddy_evictor e)
{
    if (!windowed_usable(w)) return NULL;
    eddy_env *env = w->env;
    const char *what = "eddy_window_evictor";
    switch (e.kind) {
    case EDDY_EVICTOR_COUNT:
        if (e.count <= 0)
            return (eddy_windowed *)ed_api_fail(env, "%s: a count evictor needs count > 0 (%lld)",
                                                what, (long long)e.count);
        break;
    case EDDY_EVICTOR_TIME:
        if (e.window_ms < 0)
            return (eddy_windowed *)ed_api_fail(env, "%s: a time evictor needs window >= 0 (%lld)",
                                                what, (long long)e.window_ms);
        break;
    case EDDY_EVICTOR_DELTA:
        if (!has_fn(e.delta_fn))
            return (eddy_windowed *)ed_api_fail(env, "%s: a delta evictor needs a delta function",
                                                what);
        break;
    case EDDY_EVICTOR_CUSTOM:
        if (!has_fn(e.evict_before) && !has_fn(e.evict_after_fn))
            return (eddy_windowed *)ed_api_fail(env, "%s: a custom evictor needs evict_before or "
                                                "evict_after", what);
        break;
    default:
        return (eddy_windowed *)ed_api_fail(env, "%s: unknown evictor kind %d", what, (int)e.kind);
    }
    eddy_evictor *old = &w->spec.evictor;
    fn_free(&old->delta_fn);
    fn_free(&old->evict_before);
    fn_free(&old->evict_after_fn);
    *old = e;
    old->delta_fn = fn_dup(e.delta_fn);
    old->evict_before = fn_dup(e.evict_before);
    old->evict_after_fn = fn_dup(e.evict_after_fn);
    w->spec.has_evictor = true;
    return w;
}

eddy_windowed *eddy_window_allowed_lateness(eddy_windowed *w, int64_t ms)
{
    if (!windowed_usable(w)) return NULL;
    if (ms < 0)
        return (eddy_windowed *)ed_api_fail(w->env, "eddy_window_allowed_lateness: the allowed "
                                            "lateness cannot be negative (%lld)", (long long)ms);
    w->spec.lateness_ms = ms;
    return w;
}

eddy_windowed *eddy_window_late_side_output(eddy_windowed *w, const char *tag)
{
    if (!windowed_usable(w)) return NULL;
    if (!tag || !*tag)
        return (eddy_windowed *)ed_api_fail(w->env, "eddy_window_late_side_output: empty tag");
    free(w->spec.late_tag);
    w->spec.late_tag = ed_xstrdup(tag);
    return w;
}

/* ---- window functions: the operator node ------------------------------------------------------ */

static const char *assigner_name(const eddy_window_assigner *a, char *buf, size_t n)
{
    const char *dom = a->domain == EDDY_EVENT_TIME ? "EventTime" : "ProcessingTime";
    switch (a->kind) {
    case EDDY_WINDOW_TUMBLING:
        snprintf(buf, n, "Tumbling%sWindows(%lld)", dom, (long long)a->size_ms);
        break;
    case EDDY_WINDOW_SLIDING:
        snprintf(buf, n, "Sliding%sWindows(%lld, %lld)", dom, (long long)a->size_ms,
                 (long long)a->slide_ms);
        break;
    case EDDY_WINDOW_SESSION:
        snprintf(buf, n, "%sSessionWindows(%lld)", dom, (long long)a->gap_ms);
        break;
    case EDDY_WINDOW_DYNAMIC_SESSION:
        snprintf(buf, n, "Dynamic%sSessionWindows()", dom);
        break;
    default:
        snprintf(buf, n, "GlobalWindows()");
    }
    return buf;
}

static const char *trigger_name(const ed_window_spec *s)
{
    static const char *const names[] = {
        [EDDY_TRIGGER_EVENT_TIME] = "EventTimeTrigger",
        [EDDY_TRIGGER_PROCESSING_TIME] = "ProcessingTimeTrigger",
        [EDDY_TRIGGER_COUNT] = "CountTrigger",
        [EDDY_TRIGGER_CONTINUOUS_EVENT_TIME] = "ContinuousEventTimeTrigger",
        [EDDY_TRIGGER_CONTINUOUS_PROCESSING_TIME] = "ContinuousProcessingTimeTrigger",
        [EDDY_TRIGGER_DELTA] = "DeltaTrigger",
        [EDDY_TRIGGER_CUSTOM] = "CustomTrigger",
    };
    eddy_trigger_kind k = s->trigger.kind;
    if (k == EDDY_TRIGGER_DEFAULT) {
        if (s->assigner.kind == EDDY_WINDOW_GLOBAL) return "NeverTrigger";
        return s->assigner.domain == EDDY_EVENT_TIME ? "EventTimeTrigger" : "ProcessingTimeTrigger";
    }
    return names[k];
}

/* Makes the window operator node for w with function kind and names in `fn` (moved). */
static eddy_stream *window_node(eddy_windowed *w, const char *what, ed_window_spec *fn,
                                const char *out_schema, const char *fn_name)
{
    eddy_env *env = w->env;
    eddy_schema *out = out_schema ? ed_api_parse_schema(env, what, out_schema)
                                  : eddy_schema_copy(ed_api_schema_of(env, w->input));
    if (!out) return NULL;
    ed_window_spec *s = ed_window_spec_copy(&w->spec);
    s->fn_kind = fn->fn_kind;
    s->reduce = fn_dup(fn->reduce);
    s->process = fn_dup(fn->process);
    s->agg = fn->agg;
    s->agg.acc_schema = str_dup(fn->agg.acc_schema);
    s->agg.out_schema = str_dup(fn->agg.out_schema);
    s->agg.create = fn_dup(fn->agg.create);
    s->agg.add = fn_dup(fn->agg.add);
    s->agg.result = fn_dup(fn->agg.result);
    s->agg.merge = fn_dup(fn->agg.merge);
    s->builtin = fn->builtin;
    s->field = str_dup(fn->field);

    char an[96], name[320];
    snprintf(name, sizeof(name), "%s(%s, %s, %s%s%s)", w->all ? "AllWindow" : "Window",
             assigner_name(&s->assigner, an, sizeof(an)), trigger_name(s),
             s->has_evictor ? (const char *[]){"", "CountEvictor", "TimeEvictor", "DeltaEvictor",
                                               "CustomEvictor"}[s->evictor.kind]
                            : "",
             s->has_evictor ? ", " : "", fn_name ? fn_name : "?");
    ed_node *n = ed_api_add_node(env, ED_NODE_OPERATOR, w->all ? "window_all" : "window", name);
    ed_api_add_input(n, w->input);
    n->schema = out;
    n->spec = s;
    n->free_spec = ed_window_spec_free;
    ed_api_copy_keying(&n->keying, env->sg.nodes[w->input]);
    if (w->all) n->parallelism = 1;
    return ed_api_handle(env, n->id);
}

eddy_stream *eddy_window_reduce(eddy_windowed *w, eddy_fn reduce)
{
    if (!windowed_usable(w)) return NULL;
    if (!has_fn(reduce)) return ed_api_fail(w->env, "eddy_window_reduce: no reduce function given");
    ed_window_spec f = {.fn_kind = ED_WFN_REDUCE, .reduce = reduce};
    return window_node(w, "eddy_window_reduce", &f, NULL, reduce.name);
}

static int check_aggregate(eddy_windowed *w, const char *what, const eddy_aggregate *a)
{
    eddy_env *env = w->env;
    if (!has_fn(a->create) || !has_fn(a->add) || !has_fn(a->result)) {
        ed_api_fail(env, "%s: the aggregate needs create, add and result functions", what);
        return -1;
    }
    char buf[96];
    snprintf(buf, sizeof(buf), "%s: acc_schema", what);
    eddy_schema *s = ed_api_parse_schema(env, buf, a->acc_schema);
    if (!s) return -1;
    eddy_schema_free(s);
    if (ed_assigner_merging(&w->spec.assigner) && !w->spec.has_evictor && !has_fn(a->merge)) {
        ed_api_fail(env, "%s: session windows merge accumulators: the aggregate needs a merge "
                    "function", what);
        return -1;
    }
    return 0;
}

eddy_stream *eddy_window_aggregate(eddy_windowed *w, eddy_aggregate agg)
{
    if (!windowed_usable(w)) return NULL;
    if (check_aggregate(w, "eddy_window_aggregate", &agg)) return NULL;
    ed_window_spec f = {.fn_kind = ED_WFN_AGGREGATE, .agg = agg};
    return window_node(w, "eddy_window_aggregate", &f, agg.out_schema, agg.add.name);
}

eddy_stream *eddy_window_process(eddy_windowed *w, eddy_fn process, const char *out_schema)
{
    if (!windowed_usable(w)) return NULL;
    if (!has_fn(process))
        return ed_api_fail(w->env, "eddy_window_process: no process function given");
    if (!out_schema) return ed_api_fail(w->env, "eddy_window_process: no output schema given");
    ed_window_spec f = {.fn_kind = ED_WFN_PROCESS, .process = process};
    return window_node(w, "eddy_window_process", &f, out_schema, process.name);
}

eddy_stream *eddy_window_reduce_process(eddy_windowed *w, eddy_fn reduce, eddy_fn process,
                                        const char *out_schema)
{
    if (!windowed_usable(w)) return NULL;
    if (!has_fn(reduce) || !has_fn(process))
        return ed_api_fail(w->env, "eddy_window_reduce_process: needs a reduce and a process "
                           "function");
    if (!out_schema)
        return ed_api_fail(w->env, "eddy_window_reduce_process: no output schema given");
    ed_window_spec f = {.fn_kind = ED_WFN_REDUCE, .reduce = reduce, .process = process};
    return window_node(w, "eddy_window_reduce_process", &f, out_schema, process.name);
}

eddy_stream *eddy_window_aggregate_process(eddy_windowed *w, eddy_aggregate agg,
                                           eddy_fn process, const char *out_schema)
{
    if (!windowed_usable(w)) return NULL;
    const char *what = "eddy_window_aggregate_process";
    if (check_aggregate(w, what, &agg)) return NULL;
    if (!has_fn(process)) return ed_api_fail(w->env, "%s: no process function given", what);
    if (!out_schema) return ed_api_fail(w->env, "%s: no output schema given", what);
    eddy_schema *res = ed_api_parse_schema(w->env, "eddy_window_aggregate_process: out_schema of "
                                           "the aggregate", agg.out_schema);
    if (!res) return NULL;
    eddy_schema_free(res);
    ed_window_spec f = {.fn_kind = ED_WFN_AGGREGATE, .agg = agg, .process = process};
    return window_node(w, what, &f, out_schema, process.name);
}

static eddy_stream *builtin(eddy_windowed *w, ed_wagg agg, const char *field)
{
    static const char *const names[] = {"sum", "min", "max", "min_by", "max_by"};
    if (!windowed_usable(w)) return NULL;
    eddy_env *env = w->env;
    char what[64];
    snprintf(what, sizeof(what), "eddy_window_%s", names[agg]);
    const eddy_schema *sc = ed_api_schema_of(env, w->input);
    int idx = field ? eddy_schema_index(sc, field) : -1;
    if (idx < 0)
        return ed_api_fail(env, "%s: no field '%s' in (%s)", what, field ? field : "(null)",
                           eddy_schema_text(sc));
    eddy_type t = eddy_schema_type(sc, (uint32_t)idx);
    bool numeric = t == EDDY_INT || t == EDDY_BIGINT || t == EDDY_DOUBLE;
    bool fixed = numeric || t == EDDY_TIMESTAMP || t == EDDY_BOOLEAN;
    bool by = agg == ED_WAGG_MIN_BY || agg == ED_WAGG_MAX_BY;
    if (agg == ED_WAGG_SUM ? !numeric : !by && !fixed)
        return ed_api_fail(env, "%s: field '%s' is %s; %s takes %s", what, field,
                           eddy_type_name(t), names[agg],
                           agg == ED_WAGG_SUM ? "INT, BIGINT or DOUBLE" : "a fixed-size type");
    ed_window_spec f = {.fn_kind = ED_WFN_BUILTIN, .builtin = agg, .field = (char *)field};
    char fname[96];
    snprintf(fname, sizeof(fname), "%s(%s)", names[agg], field);
    return window_node(w, what, &f, NULL, fname);
}

eddy_stream *eddy_window_sum(eddy_windowed *w, const char *f) { return builtin(w, ED_WAGG_SUM, f); }
eddy_stream *eddy_window_min(eddy_windowed *w, const char *f) { return builtin(w, ED_WAGG_MIN, f); }
eddy_stream *eddy_window_max(eddy_windowed *w, const char *f) { return builtin(w, ED_WAGG_MAX, f); }
eddy_stream *eddy_window_min_by(eddy_windowed *w, const char *f)
{
    return builtin(w, ED_WAGG_MIN_BY, f);
}
eddy_stream *eddy_window_max_by(eddy_windowed *w, const char *f)
{
    return builtin(w, ED_WAGG_MAX_BY, f);
}

/* ---- window join and co-group ---------------------------------------------------------------- */

static eddy_stream *join_like(eddy_stream *left, const char *left_key, eddy_stream *right,
                              const char *right_key, eddy_window_assigner a, eddy_fn fn,
                              const char *out_schema, ed_wfn_kind kind, const char *what)
{
    if (!ed_api_usable(left) || !ed_api_usable(right)) return NULL;
    eddy_env *env = left->env;
    if (right->env != env) return ed_api_fail(env, "%s: streams of different environments", what);
    if (check_assigner(env, what, &a)) return NULL;
    if (!has_fn(fn)) return ed_api_fail(env, "%s: no function given", what);
    const eddy_schema *ls = ed_api_schema_of(env, left->node);
    const eddy_schema *rs = ed_api_schema_of(env, right->node);
    ed_keyspec lk, rk;
    ed_err e = {0};
    if (!left_key || ed_keyspec_parse(&lk, ls, left_key, &e))
        return ed_api_fail(env, "%s: left key: %s", what, left_key ? e.msg : "no key fields given");
    if (!right_key || ed_keyspec_parse(&rk, rs, right_key, &e))
        return ed_api_fail(env, "%s: right key: %s", what,
                           right_key ? e.msg : "no key fields given");
    bool same = lk.n == rk.n;
    for (uint32_t i = 0; same && i < lk.n; i++) same = lk.type[i] == rk.type[i];
    if (!same)
        return ed_api_fail(env, "%s: the keys '%s' and '%s' have different types", what, left_key,
                           right_key);
    eddy_schema *out = ed_api_parse_schema(env, what, out_schema);
    if (!out) return NULL;
    eddy_stream *kl = eddy_key_by(left, left_key), *kr = eddy_key_by(right, right_key);
    if (!kl || !kr) {
        eddy_schema_free(out);
        return NULL;
    }
    ed_window_spec *s = ed_xcalloc(1, sizeof(*s));
    s->assigner = a;
    s->fn_kind = kind;
    s->process = fn;
    s->in_schema[0] = (char *)eddy_schema_text(ls);
    s->in_schema[1] = (char *)eddy_schema_text(rs);
    spec_own(s);
    char an[96], name[320];
    snprintf(name, sizeof(name), "Window %s(%s, %s)", kind == ED_WFN_JOIN ? "Join" : "CoGroup",
             assigner_name(&a, an, sizeof(an)), fn.name ? fn.name : "?");
    ed_node *n = ed_api_add_node(env, ED_NODE_OPERATOR, "window", name);
    ed_api_add_input(n, kl->node);
    ed_api_add_input(n, kr->node);
    n->schema = out;
    n->spec = s;
    n->free_spec = ed_window_spec_free;
    ed_api_copy_keying(&n->keying, ed_api_node(kl));
    ed_api_copy_keying(&n->keying2, ed_api_node(kr));
    return ed_api_handle(env, n->id);
}

eddy_stream *eddy_window_join(eddy_stream *left, const char *left_key, eddy_stream *right,
                              const char *right_key, eddy_window_assigner assigner,
                              eddy_fn join, const char *out_schema)
{
    return join_like(left, left_key, right, right_key, assigner, join, out_schema, ED_WFN_JOIN,
                     "eddy_window_join");
}

eddy_stream *eddy_window_co_group(eddy_stream *left, const char *left_key, eddy_stream *right,
                                  const char *right_key, eddy_window_assigner assigner,
                                  eddy_fn co_group, const char *out_schema)
{
    return join_like(left, left_key, right, right_key, assigner, co_group, out_schema,
                     ED_WFN_CO_GROUP, "eddy_window_co_group");
}

/* ---- inside triggers, evictors and window functions ----------------------------------------- */

int64_t eddy_trigger_window_start(const eddy_trigger_ctx *t) { return t->win.start; }
int64_t eddy_trigger_window_end(const eddy_trigger_ctx *t) { return t->win.end; }
int64_t eddy_trigger_window_max_timestamp(const eddy_trigger_ctx *t)
{
    return ed_win_max_ts(t->win);
}
int64_t eddy_trigger_current_watermark(const eddy_trigger_ctx *t) { return t->op->watermark; }
int64_t eddy_trigger_processing_time(const eddy_trigger_ctx *t) { return ed_op_now(t->op); }
int eddy_trigger_register_event_time(eddy_trigger_ctx *t, int64_t time)
{
    return ed_window_trigger_timer(t, EDDY_EVENT_TIME, time, false);
}
int eddy_trigger_register_processing_time(eddy_trigger_ctx *t, int64_t time)
{
    return ed_window_trigger_timer(t, EDDY_PROCESSING_TIME, time, false);
}
int eddy_trigger_delete_event_time(eddy_trigger_ctx *t, int64_t time)
{
    return ed_window_trigger_timer(t, EDDY_EVENT_TIME, time, true);
}
int eddy_trigger_delete_processing_time(eddy_trigger_ctx *t, int64_t time)
{
    return ed_window_trigger_timer(t, EDDY_PROCESSING_TIME, time, true);
}
eddy_state *eddy_trigger_state(eddy_trigger_ctx *t, const eddy_state_desc *desc)
{
    return ed_window_trigger_state(t, desc);
}
eddy_ctx *eddy_trigger_operator_ctx(eddy_trigger_ctx *t) { return &t->op->ctx; }

size_t eddy_evictor_size(const eddy_evictor_elements *e) { return e->n; }
const eddy_row *eddy_evictor_row(const eddy_evictor_elements *e, size_t i)
{
    return i < e->n ? e->rows[i] : NULL;
}
int64_t eddy_evictor_timestamp(const eddy_evictor_elements *e, size_t i)
{
    return i < e->n ? e->ts[i] : EDDY_NO_TIMESTAMP;
}
void eddy_evictor_evict(eddy_evictor_elements *e, size_t i)
{
    if (i < e->n) e->evicted[i] = true;
}

size_t eddy_window_count(const eddy_window_elements *e) { return e ? e->n : 0; }
const eddy_row *eddy_window_row(const eddy_window_elements *e, size_t i)
{
    return e && i < e->n ? e->rows[i] : NULL;
}
int64_t eddy_window_timestamp(const eddy_window_elements *e, size_t i)
{
    return e && i < e->n ? e->ts[i] : EDDY_NO_TIMESTAMP;
}

int64_t eddy_ctx_window_start(const eddy_ctx *ctx) { return ctx->win_start; }
int64_t eddy_ctx_window_end(const eddy_ctx *ctx) { return ctx->win_end; }
eddy_state *eddy_ctx_window_state(eddy_ctx *ctx, const eddy_state_desc *desc)
{
    return ed_window_ctx_window_state(ctx, desc);
}
eddy_state *eddy_ctx_global_state(eddy_ctx *ctx, const eddy_state_desc *desc)
{
    return ed_window_ctx_global_state(ctx, desc);
}
