/*
 * ops_basic.c - the stateless record-at-a-time operators: map, flat_map, filter and
 * process. Each resolves its user function once at open and then costs one indirect
 * call per record; map builds into the operator's own reusable builder, so nothing is
 * allocated per record.
 */
#include "operators.h"

typedef struct fn_state {
    void (*fn)(void);
} fn_state;

static int resolve_open(ed_operator *op, ed_err *err)
{
    fn_state *s = ed_xcalloc(1, sizeof(*s));
    op->state = s;
    s->fn = ed_op_resolve(op, &op->node->fn);
    return s->fn ? 0 : -1;
}

static void fn_close(ed_operator *op)
{
    free(op->state);
    op->state = NULL;
}

/* A user function returned an error. It may only pass on the failure of an operator it
 * emitted into, or of a cancelled job; otherwise it failed itself. */
static int user_failed(ed_operator *op)
{
    if (!ed_task_has_error(op->task) && !ed_op_cancelled(op)) {
        if (op->note[0])
            ed_op_fail(op, "function '%s' returned an error after: %s", op->node->fn.name,
                       op->note);
        else
            ed_op_fail(op, "function '%s' returned an error", op->node->fn.name);
    }
    return -1;
}

static int map_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    eddy_map_fn f = (eddy_map_fn)((fn_state *)op->state)->fn;
    op->ctx.ts = ts;
    eddy_rb_reset(op->out.rb);
    if (ED_UNLIKELY(f(&op->ctx, row, op->out.rb) < 0)) return user_failed(op);
    return ed_out_emit(&op->out, eddy_rb_row(op->out.rb), ts);
}

static int flat_map_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    eddy_flat_map_fn f = (eddy_flat_map_fn)((fn_state *)op->state)->fn;
    op->ctx.ts = ts;
    if (ED_UNLIKELY(f(&op->ctx, row, &op->out) < 0)) return user_failed(op);
    return 0;
}

static int filter_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    eddy_filter_fn f = (eddy_filter_fn)((fn_state *)op->state)->fn;
    op->ctx.ts = ts;
    int keep = f(&op->ctx, row);
    if (ED_UNLIKELY(keep < 0)) return user_failed(op);
    return keep ? ed_out_emit(&op->out, row, ts) : 0;
}

const ed_op_vt ed_op_map_vt = {.open = resolve_open, .process = map_process, .close = fn_close};
const ed_op_vt ed_op_flat_map_vt = {
    .open = resolve_open, .process = flat_map_process, .close = fn_close};
const ed_op_vt ed_op_filter_vt = {
    .open = resolve_open, .process = filter_process, .close = fn_close};
