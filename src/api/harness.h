/*
 * harness.h - the operator test harness: one operator, driven by hand.
 *
 * A test builds a small job with the public API — a collection source standing for each
 * input, the operator under test, a sink — and hands the harness the stream the operator
 * produced. The harness makes the real tasks of that job (chaining off, so the operator
 * runs alone in its task) but starts no thread: the test pushes records, watermarks and
 * watermark statuses into the operator, moves the job's manual clock (firing
 * processing-time timers), ends inputs, and reads what the operator emitted — records,
 * watermarks and side outputs — from its real output channels, in order.
 *
 * Snapshot and restore: ed_harness_snapshot / ed_harness_restore are the hook the
 * checkpointing work fills; today they report that snapshots do not exist yet.
 */
#ifndef ED_HARNESS_H
#define ED_HARNESS_H

#include "../runtime/task.h"
#include "api.h"

typedef struct ed_harness ed_harness;

/* One element the operator emitted. */
typedef struct ed_harness_out {
    enum { ED_OUT_RECORD, ED_OUT_WATERMARK, ED_OUT_IDLE, ED_OUT_ACTIVE } kind;
    const char *side; /* NULL: the main output; else the side output's tag */
    int64_t ts;       /* record timestamp or watermark */
    const eddy_row *row; /* records: valid until the harness is freed or cleared */
} ed_harness_out;

/*
 * Makes a harness for the operator that produced `op` (env must use a manual clock, see
 * eddy_env_use_manual_clock; the graph must be complete, with a sink). Opens the
 * operator. NULL with err set on failure.
 */
ed_harness *ed_harness_new(eddy_env *env, eddy_stream *op, ed_err *err);
void ed_harness_free(ed_harness *h); /* closes the operator */

/* The operator's keyed context etc., for white-box checks. */
ed_operator *ed_harness_operator(ed_harness *h);

/* Pushes a record into input `input` (0 or 1); 0, or -1 with the operator's error in err. */
int ed_harness_push(ed_harness *h, int input, const eddy_row *row, int64_t ts);
/* Pushes a row given as a CSV line of the input's schema. */
int ed_harness_push_csv(ed_harness *h, int input, const char *csv, int64_t ts);
/* Advances the operator's watermark (firing event-time timers). */
int ed_harness_watermark(ed_harness *h, int64_t wm);
/* The watermark of one input of a two-input operator (Flink's processWatermark1/2): the
 * operator's watermark is the minimum over its inputs, as the task computes it. */
int ed_harness_input_watermark(ed_harness *h, int input, int64_t wm);
/* Tells the operator its input went idle (true) or active (false). */
int ed_harness_idle(ed_harness *h, bool idle);
/* Moves the manual clock by ms and fires due processing-time timers. */
int ed_harness_advance_clock(ed_harness *h, int64_t ms);
/* Ends input `input` (bounded input) . */
int ed_harness_end_input(ed_harness *h, int input);

/* Everything emitted since the last clear, in order. */
size_t ed_harness_count(ed_harness *h);
const ed_harness_out *ed_harness_get(ed_harness *h, size_t i);
/* The emitted elements as text lines: "+I[a, 1] @5", "WM 10", "late: +I[...] @3",
 * "IDLE"; one per line, joined by '\n'. The string is the harness's. */
const char *ed_harness_text(ed_harness *h);
void ed_harness_clear(ed_harness *h);
/* The error of the last failed call. */
const char *ed_harness_error(ed_harness *h);

/* Snapshot hooks (filled by checkpointing): -1 "snapshots are not supported yet". */
int ed_harness_snapshot(ed_harness *h, void **blob, size_t *len, ed_err *err);
ed_harness *ed_harness_restore(eddy_env *env, eddy_stream *op, const void *blob, size_t len,
                               ed_err *err);

#endif
