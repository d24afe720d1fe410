/*
 * operators.h - the operator vtables of the runtime's own operators (the rows of the
 * factory table in registry.c), and helpers they share.
 */
#ifndef ED_OPERATORS_H
#define ED_OPERATORS_H

#include <stdlib.h>

#include "task.h"

extern const ed_op_vt ed_op_map_vt;
extern const ed_op_vt ed_op_flat_map_vt;
extern const ed_op_vt ed_op_filter_vt;
extern const ed_op_vt ed_op_reduce_vt;
extern const ed_op_vt ed_op_agg_vt;
extern const ed_op_vt ed_op_collection_vt;
extern const ed_op_vt ed_op_collect_vt;

/* The two-phase-commit sink (ops_txn.c): its factory, whose node spec is the user's
 * eddy_txn_sink. */
#define ED_TXN_SINK "two-phase-commit"
extern const ed_factory ed_sink_txn_factory;

/* Factory tables of the window operators (ops_window.c), the process-function family
 * (ops_process.c) and the time operators (ops_time.c); each NULL-terminated. */
extern const ed_factory *const ed_window_factories[];
extern const ed_factory *const ed_process_factories[];
extern const ed_factory *const ed_time_factories[];

/* The collect sink's result: made by the builder, prepared with one part per subtask
 * before the job runs, finished (parts joined) after it. */
eddy_result *ed_result_new(void);
void ed_result_free(eddy_result *r);
void ed_result_prepare(eddy_result *r, int parallelism);
void ed_result_finish(eddy_result *r);

/* Timestamps and watermarks (ops_time.c): a validated strategy as a node's plan data. */
typedef struct ed_wm_spec ed_wm_spec;
ed_wm_spec *ed_wm_spec_new(const eddy_watermark_strategy *ws, const eddy_schema *schema,
                           ed_err *err);
void ed_wm_spec_free(void *spec);

/* True when an operator of the task has recorded a failure. */
bool ed_task_has_error(const ed_task *t);

#endif
