/*
 * eddy/time.h - event time, watermarks, processing time and timers, as Flink's.
 *
 * Records carry an event timestamp (epoch milliseconds; EDDY_NO_TIMESTAMP when none).
 * A watermark strategy gives records their timestamps and generates watermarks: a
 * watermark W says no record with a timestamp <= W is expected any more. A task's
 * watermark is the minimum over its inputs that are active (not idle, not finished);
 * bounded input ends with the maximum watermark, which fires every event-time timer.
 *
 * Processing time comes from the job's clock: the wall clock, or a manual clock that a
 * test advances (eddy_env_use_manual_clock).
 */
#ifndef EDDY_TIME_H
#define EDDY_TIME_H

#include "datastream.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EDDY_NO_TIMESTAMP INT64_MIN
#define EDDY_MAX_WATERMARK INT64_MAX
#define EDDY_MIN_WATERMARK INT64_MIN

typedef enum eddy_time_domain {
    EDDY_EVENT_TIME = 0,
    EDDY_PROCESSING_TIME = 1,
} eddy_time_domain;

/* ---- watermark strategies ------------------------------------------------------------------ */

typedef enum eddy_watermark_kind {
    EDDY_WM_BOUNDED_OUT_OF_ORDERNESS = 1, /* watermark = max timestamp - bound - 1 */
    EDDY_WM_MONOTONOUS,                   /* bound 0: timestamps never decrease */
    EDDY_WM_PERIODIC,                     /* a custom periodic generator */
    EDDY_WM_PUNCTUATED,                   /* a custom generator that decides per record */
    EDDY_WM_INGESTION_TIME,               /* timestamps from the clock at the source */
    EDDY_WM_NONE,                         /* timestamps only, no watermarks */
} eddy_watermark_kind;

/*
 * A custom generator keeps its state in a row of its own schema. on_event may emit a
 * watermark (punctuated), on_periodic is called every pipeline.auto-watermark-interval
 * (periodic). Each returns 0 or a negative error; a watermark is emitted with
 * eddy_emit_watermark.
 */
typedef struct eddy_wm_ctx eddy_wm_ctx;
typedef int (*eddy_wm_event_fn)(eddy_wm_ctx *w, const eddy_row *row, int64_t ts);
typedef int (*eddy_wm_periodic_fn)(eddy_wm_ctx *w);
void eddy_emit_watermark(eddy_wm_ctx *w, int64_t watermark);
/* Generator state: a 64-bit slot array of 8 values, zero at the start. */
int64_t *eddy_wm_state(eddy_wm_ctx *w);

/* The timestamp of a record: a TIMESTAMP or BIGINT field, or a function. */
typedef int64_t (*eddy_timestamp_fn)(eddy_ctx *ctx, const eddy_row *row, int64_t previous);

typedef struct eddy_watermark_strategy {
    eddy_watermark_kind kind;
    int64_t max_out_of_orderness_ms; /* BOUNDED_OUT_OF_ORDERNESS */
    const char *timestamp_field;     /* a TIMESTAMP or BIGINT field in epoch ms ... */
    eddy_fn timestamp_fn;            /* ... or an eddy_timestamp_fn */
    eddy_fn on_event;                /* PERIODIC / PUNCTUATED: eddy_wm_event_fn */
    eddy_fn on_periodic;             /* PERIODIC: eddy_wm_periodic_fn */
    int64_t idleness_ms;             /* with_idleness: 0 never idle */
    bool per_split;                  /* applied at a source: one generator per split */
    /* Emit the watermark right after the record that advances it, instead of every
     * pipeline.auto-watermark-interval: deterministic (tests, replays) at the cost of a
     * watermark per advancing record. Not in Flink, which is periodic only. */
    bool per_record;
} eddy_watermark_strategy;

/* Flink's WatermarkStrategy.forBoundedOutOfOrderness(...).withTimestampAssigner(field). */
eddy_watermark_strategy eddy_bounded_out_of_orderness(int64_t max_ms, const char *ts_field);
eddy_watermark_strategy eddy_monotonous_timestamps(const char *ts_field);

/*
 * Assigns timestamps and watermarks. Applied directly to a source stream, the strategy
 * runs inside the source task with one generator per source split (per file range, per
 * sequence), and the source's watermark is the minimum over its active splits.
 */
eddy_stream *eddy_assign_timestamps_and_watermarks(eddy_stream *s, eddy_watermark_strategy wm);

/* ---- inside functions ------------------------------------------------------------------- */

int64_t eddy_ctx_current_watermark(const eddy_ctx *ctx);
int64_t eddy_ctx_processing_time(const eddy_ctx *ctx);
/* In an on_timer callback: which clock fired. */
eddy_time_domain eddy_ctx_time_domain(const eddy_ctx *ctx);
/* Keyed functions: the key of the record or timer, as a row of the key fields (or the
 * key selector's schema). Valid during the call. */
const eddy_row *eddy_ctx_current_key(eddy_ctx *ctx);

/* Timers of keyed functions, per key and time, deduplicated; they fire in timestamp
 * order and are part of the operator's state. Return 0, or -1 outside a keyed context. */
int eddy_timer_register_event_time(eddy_ctx *ctx, int64_t time);
int eddy_timer_register_processing_time(eddy_ctx *ctx, int64_t time);
int eddy_timer_delete_event_time(eddy_ctx *ctx, int64_t time);
int eddy_timer_delete_processing_time(eddy_ctx *ctx, int64_t time);

/* on_timer of keyed process functions. */
typedef int (*eddy_on_timer_fn)(eddy_ctx *ctx, int64_t timestamp, eddy_collector *out);

/* ---- the job's clock ----------------------------------------------------------------------- */

/* Replaces the wall clock with a manual one starting at start_ms, for tests. */
void eddy_env_use_manual_clock(eddy_env *env, int64_t start_ms);
/* Moves the manual clock forward; due processing-time timers fire. Any thread. */
void eddy_env_advance_clock(eddy_env *env, int64_t ms);

#ifdef __cplusplus
}
#endif
#endif
