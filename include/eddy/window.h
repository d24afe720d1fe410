/*
 * eddy/window.h - windows as Flink's: assigners, triggers, evictors, window functions,
 * allowed lateness and late data, and window joins.
 *
 * Semantics (Flink's): time windows start at the epoch plus the offset and are aligned
 * to their size (slide); a window [start, end) has max timestamp end - 1; an event-time
 * window fires when the watermark reaches its max timestamp; an element is late, and
 * dropped or sent to the late side output, when max timestamp + allowed lateness <=
 * watermark; with allowed lateness a window fires again for each late element; session
 * windows merge when they overlap (end = last element + gap); count windows are global
 * windows with a count trigger (and, when sliding, a count evictor).
 */
#ifndef EDDY_WINDOW_H
#define EDDY_WINDOW_H

#include "process.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- assigners ------------------------------------------------------------------------------ */

typedef enum eddy_assigner_kind {
    EDDY_WINDOW_TUMBLING = 1,
    EDDY_WINDOW_SLIDING,
    EDDY_WINDOW_SESSION,
    EDDY_WINDOW_DYNAMIC_SESSION,
    EDDY_WINDOW_GLOBAL,
} eddy_assigner_kind;

/* For dynamic session gaps: the gap of an element, in ms (> 0). */
typedef int64_t (*eddy_session_gap_fn)(eddy_ctx *ctx, const eddy_row *row);

typedef struct eddy_window_assigner {
    eddy_assigner_kind kind;
    eddy_time_domain domain;
    int64_t size_ms, slide_ms, offset_ms, gap_ms;
    eddy_fn gap_fn; /* DYNAMIC_SESSION */
} eddy_window_assigner;

eddy_window_assigner eddy_tumbling_event_time_windows(int64_t size_ms, int64_t offset_ms);
eddy_window_assigner eddy_tumbling_processing_time_windows(int64_t size_ms, int64_t offset_ms);
eddy_window_assigner eddy_sliding_event_time_windows(int64_t size_ms, int64_t slide_ms,
                                                     int64_t offset_ms);
eddy_window_assigner eddy_sliding_processing_time_windows(int64_t size_ms, int64_t slide_ms,
                                                          int64_t offset_ms);
eddy_window_assigner eddy_event_time_session_windows(int64_t gap_ms);
eddy_window_assigner eddy_processing_time_session_windows(int64_t gap_ms);
eddy_window_assigner eddy_event_time_session_windows_dynamic(eddy_fn gap_fn);
eddy_window_assigner eddy_processing_time_session_windows_dynamic(eddy_fn gap_fn);
eddy_window_assigner eddy_global_windows(void);

/* ---- triggers ---------------------------------------------------------------------------- */

typedef enum eddy_trigger_result {
    EDDY_TRIGGER_CONTINUE = 0,
    EDDY_TRIGGER_FIRE = 1,
    EDDY_TRIGGER_PURGE = 2,
    EDDY_TRIGGER_FIRE_AND_PURGE = 3,
} eddy_trigger_result;

typedef enum eddy_trigger_kind {
    EDDY_TRIGGER_DEFAULT = 0, /* the assigner's: event time, processing time, or never */
    EDDY_TRIGGER_EVENT_TIME,
    EDDY_TRIGGER_PROCESSING_TIME,
    EDDY_TRIGGER_COUNT,
    EDDY_TRIGGER_CONTINUOUS_EVENT_TIME,
    EDDY_TRIGGER_CONTINUOUS_PROCESSING_TIME,
    EDDY_TRIGGER_DELTA,
    EDDY_TRIGGER_CUSTOM,
} eddy_trigger_kind;

/*
 * The trigger context: the window, time, timers and per-window trigger state. Custom
 * triggers receive it; their functions return an eddy_trigger_result (or a negative
 * error).
 */
typedef struct eddy_trigger_ctx eddy_trigger_ctx;
typedef int (*eddy_trigger_element_fn)(eddy_trigger_ctx *t, const eddy_row *row, int64_t ts);
typedef int (*eddy_trigger_time_fn)(eddy_trigger_ctx *t, int64_t time);
typedef int (*eddy_trigger_merge_fn)(eddy_trigger_ctx *t); /* windows merged: re-register */
typedef void (*eddy_trigger_clear_fn)(eddy_trigger_ctx *t);
/* For delta triggers and evictors: the distance between two elements. */
typedef double (*eddy_delta_fn)(const eddy_row *older, const eddy_row *newer);

int64_t eddy_trigger_window_start(const eddy_trigger_ctx *t); /* INT64_MIN for global */
int64_t eddy_trigger_window_end(const eddy_trigger_ctx *t);   /* INT64_MAX for global */
int64_t eddy_trigger_window_max_timestamp(const eddy_trigger_ctx *t);
int64_t eddy_trigger_current_watermark(const eddy_trigger_ctx *t);
int64_t eddy_trigger_processing_time(const eddy_trigger_ctx *t);
int eddy_trigger_register_event_time(eddy_trigger_ctx *t, int64_t time);
int eddy_trigger_register_processing_time(eddy_trigger_ctx *t, int64_t time);
int eddy_trigger_delete_event_time(eddy_trigger_ctx *t, int64_t time);
int eddy_trigger_delete_processing_time(eddy_trigger_ctx *t, int64_t time);
/* Per-window state of the trigger (merged with the windows for VALUE/REDUCING/AGG
 * when windows merge, cleared by clear). */
eddy_state *eddy_trigger_state(eddy_trigger_ctx *t, const eddy_state_desc *desc);
/* The operator context (parameters, subtask, current key). */
eddy_ctx *eddy_trigger_operator_ctx(eddy_trigger_ctx *t);

typedef struct eddy_trigger {
    eddy_trigger_kind kind;
    bool purging;        /* Flink's PurgingTrigger.of(...): FIRE becomes FIRE_AND_PURGE */
    int64_t count;       /* COUNT */
    int64_t interval_ms; /* CONTINUOUS_* */
    double threshold;    /* DELTA: fire when delta(last fired, new) > threshold */
    eddy_fn delta_fn;    /* DELTA: an eddy_delta_fn */
    const char *delta_schema; /* DELTA: the schema of the elements (for its state) */
    eddy_fn on_element, on_event_time, on_processing_time, on_merge, clear; /* CUSTOM */
    bool can_merge;      /* CUSTOM: supports merging windows (needs on_merge) */
} eddy_trigger;

eddy_trigger eddy_event_time_trigger(void);
eddy_trigger eddy_processing_time_trigger(void);
eddy_trigger eddy_count_trigger(int64_t count);
eddy_trigger eddy_purging_trigger(eddy_trigger inner);
eddy_trigger eddy_continuous_event_time_trigger(int64_t interval_ms);
eddy_trigger eddy_continuous_processing_time_trigger(int64_t interval_ms);
eddy_trigger eddy_delta_trigger(double threshold, eddy_fn delta_fn, const char *schema);

/* ---- evictors ------------------------------------------------------------------------------- */

typedef enum eddy_evictor_kind {
    EDDY_EVICTOR_COUNT = 1, /* keep the last `count` elements */
    EDDY_EVICTOR_TIME,      /* keep elements within `window_ms` of the newest */
    EDDY_EVICTOR_DELTA,     /* drop elements whose delta to the newest >= threshold */
    EDDY_EVICTOR_CUSTOM,
} eddy_evictor_kind;

/* Custom evictors see the window's elements in order and mark some as evicted. */
typedef struct eddy_evictor_elements eddy_evictor_elements;
size_t eddy_evictor_size(const eddy_evictor_elements *e);
const eddy_row *eddy_evictor_row(const eddy_evictor_elements *e, size_t i);
int64_t eddy_evictor_timestamp(const eddy_evictor_elements *e, size_t i);
void eddy_evictor_evict(eddy_evictor_elements *e, size_t i);
typedef int (*eddy_evict_fn)(eddy_ctx *ctx, eddy_evictor_elements *e, int64_t window_start,
                             int64_t window_end);

typedef struct eddy_evictor {
    eddy_evictor_kind kind;
    bool evict_after; /* COUNT/TIME/DELTA: evict after the function instead of before */
    int64_t count;    /* COUNT */
    int64_t window_ms; /* TIME */
    double threshold; /* DELTA */
    eddy_fn delta_fn; /* DELTA */
    eddy_fn evict_before, evict_after_fn; /* CUSTOM: eddy_evict_fn each, or EDDY_FN_NONE */
} eddy_evictor;

eddy_evictor eddy_count_evictor(int64_t count, bool evict_after);
eddy_evictor eddy_time_evictor(int64_t window_ms, bool evict_after);
eddy_evictor eddy_delta_evictor(double threshold, eddy_fn delta_fn, bool evict_after);
eddy_evictor eddy_custom_evictor(eddy_fn evict_before, eddy_fn evict_after);

/* ---- windowed streams ------------------------------------------------------------------------- */

typedef struct eddy_windowed eddy_windowed;

/* Keyed windows, one set per key. */
eddy_windowed *eddy_window(eddy_stream *keyed, eddy_window_assigner assigner);
/* Windows over a whole non-keyed stream: the window operator runs with parallelism 1. */
eddy_windowed *eddy_window_all(eddy_stream *s, eddy_window_assigner assigner);
/* Flink's countWindow(size) and countWindow(size, slide): slide 0 is tumbling. */
eddy_windowed *eddy_count_window(eddy_stream *keyed, int64_t size, int64_t slide);
eddy_windowed *eddy_count_window_all(eddy_stream *s, int64_t size, int64_t slide);

eddy_windowed *eddy_window_trigger(eddy_windowed *w, eddy_trigger trigger);
eddy_windowed *eddy_window_evictor(eddy_windowed *w, eddy_evictor evictor);
eddy_windowed *eddy_window_allowed_lateness(eddy_windowed *w, int64_t ms);
/* Late elements (dropped otherwise) go to the side output `tag` of the result stream,
 * with the input's schema: eddy_side_output(result, tag, schema). */
eddy_windowed *eddy_window_late_side_output(eddy_windowed *w, const char *tag);

/*
 * Window functions. A process function sees every element of the window (or, combined
 * with reduce/aggregate, the one pre-aggregated row) through an eddy_window_elements, and
 * the window through its context:
 *
 *   int process(eddy_ctx *ctx, const eddy_window_elements *elements, eddy_collector *out);
 *
 * Results carry the window's max timestamp as their event timestamp.
 */
typedef struct eddy_window_elements eddy_window_elements;
size_t eddy_window_count(const eddy_window_elements *e);
const eddy_row *eddy_window_row(const eddy_window_elements *e, size_t i);
int64_t eddy_window_timestamp(const eddy_window_elements *e, size_t i);
typedef int (*eddy_window_process_fn)(eddy_ctx *ctx, const eddy_window_elements *elements,
                                      eddy_collector *out);

/* In window functions (and the triggers' operator context): the window being fired. */
int64_t eddy_ctx_window_start(const eddy_ctx *ctx);
int64_t eddy_ctx_window_end(const eddy_ctx *ctx);
/* ProcessWindowFunction.Context.windowState() and globalState(). */
eddy_state *eddy_ctx_window_state(eddy_ctx *ctx, const eddy_state_desc *desc);
eddy_state *eddy_ctx_global_state(eddy_ctx *ctx, const eddy_state_desc *desc);

/* Incremental: reduce (an eddy_reduce_fn) keeps one row per window. */
eddy_stream *eddy_window_reduce(eddy_windowed *w, eddy_fn reduce);
/* Incremental with an aggregate function; the result has agg.out_schema. */
eddy_stream *eddy_window_aggregate(eddy_windowed *w, eddy_aggregate agg);
/* All elements to a process function. */
eddy_stream *eddy_window_process(eddy_windowed *w, eddy_fn process, const char *out_schema);
/* Incremental, then a process function over the single pre-aggregated row. */
eddy_stream *eddy_window_reduce_process(eddy_windowed *w, eddy_fn reduce, eddy_fn process,
                                        const char *out_schema);
eddy_stream *eddy_window_aggregate_process(eddy_windowed *w, eddy_aggregate agg,
                                           eddy_fn process, const char *out_schema);
/* WindowedStream.sum/min/max/min_by/max_by on a field. */
eddy_stream *eddy_window_sum(eddy_windowed *w, const char *field);
eddy_stream *eddy_window_min(eddy_windowed *w, const char *field);
eddy_stream *eddy_window_max(eddy_windowed *w, const char *field);
eddy_stream *eddy_window_min_by(eddy_windowed *w, const char *field);
eddy_stream *eddy_window_max_by(eddy_windowed *w, const char *field);

/* ---- window join and co-group ---------------------------------------------------------------- */

/*
 * Flink's a.join(b).where(ka).equalTo(kb).window(assigner).apply(fn): for each window and
 * key, fn (an eddy_join_fn) is called for every pair of a left and a right element.
 * co_group calls fn once per window and key with both sides' elements (either may be
 * empty): int fn(eddy_ctx *, const eddy_window_elements *left,
 *                const eddy_window_elements *right, eddy_collector *out).
 */
typedef int (*eddy_co_group_fn)(eddy_ctx *ctx, const eddy_window_elements *left,
                                const eddy_window_elements *right, eddy_collector *out);
eddy_stream *eddy_window_join(eddy_stream *left, const char *left_key, eddy_stream *right,
                              const char *right_key, eddy_window_assigner assigner,
                              eddy_fn join, const char *out_schema);
eddy_stream *eddy_window_co_group(eddy_stream *left, const char *left_key, eddy_stream *right,
                                  const char *right_key, eddy_window_assigner assigner,
                                  eddy_fn co_group, const char *out_schema);

#ifdef __cplusplus
}
#endif
#endif
