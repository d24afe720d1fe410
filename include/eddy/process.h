/*
 * eddy/process.h - the ProcessFunction family: keyed process functions with timers, two
 * connected streams (CoProcessFunction, KeyedCoProcessFunction), broadcast state
 * (BroadcastProcessFunction, KeyedBroadcastProcessFunction) and the interval join.
 *
 * Functions emit through the collector (eddy_emit, eddy_emit_ts, eddy_emit_side) and
 * read their context: eddy_ctx_timestamp, eddy_ctx_current_key, timers and state
 * (time.h, state.h). A keyed function's state and timers are those of the current key.
 */
#ifndef EDDY_PROCESS_H
#define EDDY_PROCESS_H

#include "state.h"
#include "time.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- one keyed input --------------------------------------------------------------------- */

/*
 * KeyedProcessFunction: process is an eddy_process_fn called per record; on_timer (may be
 * EDDY_FN_NONE) an eddy_on_timer_fn called when a timer of the key fires, with the key
 * set and eddy_ctx_time_domain telling which clock.
 */
eddy_stream *eddy_keyed_process(eddy_stream *keyed, eddy_fn process, eddy_fn on_timer,
                                const char *out_schema);

/* ---- two inputs ----------------------------------------------------------------------------- */

typedef struct eddy_connected eddy_connected;

/* Connects two streams (of any schemas): both keyed (by keys of equal types), or neither. */
eddy_connected *eddy_connect(eddy_stream *first, eddy_stream *second);

/*
 * CoProcessFunction / KeyedCoProcessFunction: process1 gets the first input's records,
 * process2 the second's (both eddy_process_fn); on_timer for keyed inputs. The two
 * inputs share the operator's state and timers.
 */
eddy_stream *eddy_co_process(eddy_connected *c, eddy_fn process1, eddy_fn process2,
                             eddy_fn on_timer, const char *out_schema);

/* ---- broadcast state ---------------------------------------------------------------------- */

/*
 * A broadcast stream carries its records to every subtask of the operator it connects
 * to, where they may write the broadcast MAP states named by descs (Flink's
 * MapStateDescriptor); the other input only reads them.
 */
typedef struct eddy_broadcast_stream eddy_broadcast_stream;
eddy_broadcast_stream *eddy_broadcast_state(eddy_stream *s, const eddy_state_desc *descs,
                                            int ndescs);

/*
 * BroadcastProcessFunction (non-keyed input) or KeyedBroadcastProcessFunction (keyed
 * input, with on_timer): process_element gets the main input with read-only broadcast
 * state, process_broadcast the broadcast input with read-write broadcast state.
 */
eddy_stream *eddy_broadcast_process(eddy_stream *input, eddy_broadcast_stream *b,
                                    eddy_fn process_element, eddy_fn process_broadcast,
                                    eddy_fn on_timer, const char *out_schema);
/* Broadcast state by the name of its descriptor, inside either function. NULL if none.
 * eddy_map_put/remove on it fail in process_element (read-only there). */
eddy_state *eddy_broadcast_state_get(eddy_ctx *ctx, const char *name);
/*
 * KeyedBroadcastProcessFunction.applyToKeyedState: in process_broadcast, calls fn for
 * every key that has the keyed state named desc->name, with that key current.
 */
typedef int (*eddy_keyed_state_fn)(eddy_ctx *ctx, eddy_state *state, void *arg);
int eddy_apply_to_keyed_state(eddy_ctx *ctx, const eddy_state_desc *desc,
                              eddy_keyed_state_fn fn, void *arg);

/* ---- interval join ------------------------------------------------------------------------ */

/*
 * Flink's a.keyBy(k).intervalJoin(b.keyBy(k)).between(lower, upper).process(fn): joins
 * each left record at time t with every right record of the same key in
 * [t + lower, t + upper] (bounds inclusive unless excluded), in event time. fn is an
 * eddy_join_fn; the result's timestamp is the larger of the two.
 */
typedef int (*eddy_join_fn)(eddy_ctx *ctx, const eddy_row *left, const eddy_row *right,
                            eddy_collector *out);
eddy_stream *eddy_interval_join(eddy_stream *left_keyed, eddy_stream *right_keyed,
                                int64_t lower_ms, int64_t upper_ms, bool lower_exclusive,
                                bool upper_exclusive, eddy_fn join, const char *out_schema);

#ifdef __cplusplus
}
#endif
#endif
