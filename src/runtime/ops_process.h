/*
 * ops_process.h - the plan data of the process-function operators: what the builder
 * (api/process.c) records in node->spec and the operators (ops_process.c) run from.
 *
 * Plain data, as every plan: the user functions by name (and address when in-process),
 * the interval join's bounds and buffered schemas, the broadcast state descriptors as
 * deep copies. The node owns its spec and frees it with ed_process_spec_free.
 */
#ifndef ED_OPS_PROCESS_H
#define ED_OPS_PROCESS_H

#include "graph.h"

typedef struct ed_process_spec {
    /* Per input: process (keyed process), process1/process2 (co-process),
     * process_element/process_broadcast (broadcast), the join function in fn[0] (interval
     * join). */
    eddy_fn fn[2];
    eddy_fn on_timer; /* keyed kinds, or EDDY_FN_NONE */
    /* interval join: the bounds with Flink's shift of exclusive ones already applied
     * (exclusive lower + 1, exclusive upper - 1), so both are inclusive here */
    int64_t lower, upper;
    char *schema[2]; /* interval join: the schemas of the rows buffered per input */
    /* broadcast: the broadcast MAP states, deep copies of the user's descriptors */
    eddy_state_desc *descs;
    int ndescs;
} ed_process_spec;

/* A zeroed spec; never NULL (aborts on out-of-memory, builder path). */
ed_process_spec *ed_process_spec_new(void);
/* Frees what a spec owns, not the spec itself. Accepts NULL. */
void ed_process_spec_clear(ed_process_spec *s);
/* node->free_spec of process nodes: clears and frees. Accepts NULL. */
void ed_process_spec_free(void *spec);
/* Appends a deep copy of d (its strings; MAP descriptors need no functions). */
void ed_process_spec_add_desc(ed_process_spec *s, const eddy_state_desc *d);

/* The state names of the interval join's buffers, as Flink's IntervalJoinOperator: per
 * (key, timestamp) a list of the rows of that timestamp, and per key the timestamps that
 * have rows (a map from "ts BIGINT" to the row count). */
#define ED_IJ_LEFT_BUFFER "LEFT_BUFFER"
#define ED_IJ_RIGHT_BUFFER "RIGHT_BUFFER"
#define ED_IJ_LEFT_TIMES "LEFT_TIMES"
#define ED_IJ_RIGHT_TIMES "RIGHT_TIMES"

#endif
