/*
 * output.c - what operators and user functions call while they run: emitting to the
 * chain and the network, side outputs, failing, parameters and the runtime context.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "task.h"

int ed_out_emit_slow(ed_output *o, const eddy_row *row, int64_t ts)
{
    for (int i = 0; i < o->ntargets; i++) {
        ed_target *t = &o->targets[i];
        if (t->op) {
            t->op->records_in++;
            if (t->op->vt->process(t->op, t->input, row, ts)) return -1;
        } else if (ed_writer_emit(t->writer, row, ts)) {
            return -1;
        }
    }
    return 0;
}

int ed_out_emit_side(ed_output *o, const char *tag, const eddy_row *row, int64_t ts)
{
    for (int i = 0; i < o->nsides; i++)
        if (strcmp(o->sides[i].tag, tag) == 0) return ed_out_emit(o->sides[i].out, row, ts);
    /* As in Flink, a side output nobody asked for goes nowhere. */
    return 0;
}

static int targets_watermark(ed_output *o, int64_t wm)
{
    for (int i = 0; i < o->ntargets; i++) {
        ed_target *t = &o->targets[i];
        if (t->op) {
            if (ed_op_advance_watermark(t->op, wm)) return -1;
        } else if (ed_writer_broadcast_element(t->writer, ED_EL_WATERMARK, wm)) {
            return -1;
        }
    }
    return 0;
}

int ed_out_watermark(ed_output *o, int64_t wm)
{
    if (targets_watermark(o, wm)) return -1;
    for (int i = 0; i < o->nsides; i++)
        if (targets_watermark(o->sides[i].out, wm)) return -1;
    return 0;
}

static int targets_idle(ed_output *o, bool idle)
{
    for (int i = 0; i < o->ntargets; i++) {
        ed_target *t = &o->targets[i];
        if (t->op) {
            ed_operator *n = t->op;
            if (n->vt->on_idle ? n->vt->on_idle(n, idle) : ed_out_idle(&n->out, idle)) return -1;
        } else if (ed_writer_broadcast_element(t->writer, ED_EL_STATUS, idle)) {
            return -1;
        }
    }
    return 0;
}

int ed_out_idle(ed_output *o, bool idle)
{
    if (targets_idle(o, idle)) return -1;
    for (int i = 0; i < o->nsides; i++)
        if (targets_idle(o->sides[i].out, idle)) return -1;
    return 0;
}

int ed_op_fail(ed_operator *op, const char *fmt, ...)
{
    if (!op->err.set) {
        va_list ap;
        va_start(ap, fmt);
        ed_err_vset(&op->err, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const ed_config *ed_op_config(const ed_operator *op) { return op->task->job->cfg; }
int64_t ed_op_submitted_ms(const ed_operator *op) { return op->task->job->submitted_ms; }
int64_t ed_op_submitted_mono_ns(const ed_operator *op)
{
    int64_t t = op->task->job->submitted_mono_ns;
    return t ? t : ed_mono_ns();
}
struct ed_fs *ed_op_fs(const ed_operator *op) { return op->task->job->fs; }
void ed_op_commit_at_end(ed_operator *op, const void *data, size_t len)
{
    ed_job_commit_at_end(op->task->job, op, data, len);
}
const eddy_schema *ed_op_schema(const ed_operator *op) { return op->node->schema; }

const eddy_schema *ed_op_input_schema(const ed_operator *op)
{
    const ed_job_graph *jg = &op->task->job->jg;
    const ed_jinput_list *l = &jg->inputs[op->node->id];
    return l->n ? jg->sg->nodes[l->v[0].from]->schema : NULL;
}

const char *ed_op_param(const ed_operator *op, const char *key, const char *dflt)
{
    const char *v = ed_node_param(op->node, key);
    if (!v) v = ed_config_get(op->task->job->cfg, key);
    return v ? v : dflt;
}

void (*ed_op_resolve(ed_operator *op, const eddy_fn *fn))(void)
{
    if (fn->ptr) return fn->ptr;
    if (!fn->name) return NULL;
    void *h = op->task->job->code ? op->task->job->code : RTLD_DEFAULT;
    void *p = dlsym(h, fn->name);
    if (!p) ed_op_fail(op, "function '%s' not found in the job's code", fn->name);
    void (*f)(void);
    memcpy(&f, &p, sizeof(f));
    return f;
}

bool ed_op_cancelled(const ed_operator *op)
{
    return atomic_load_explicit(&op->task->job->cancel, memory_order_relaxed);
}

/* ---- the public side: eddy_ctx and eddy_collector --------------------------------------- */

int eddy_ctx_subtask(const eddy_ctx *ctx) { return ctx->subtask; }
int eddy_ctx_parallelism(const eddy_ctx *ctx) { return ctx->parallelism; }
int eddy_ctx_max_parallelism(const eddy_ctx *ctx) { return ctx->max_parallelism; }
const char *eddy_ctx_operator(const eddy_ctx *ctx) { return ctx->op->node->name; }
int64_t eddy_ctx_timestamp(const eddy_ctx *ctx) { return ctx->ts; }
void *eddy_ctx_user(const eddy_ctx *ctx) { return ctx->user; }
void eddy_ctx_set_user(eddy_ctx *ctx, void *p) { ctx->user = p; }

const char *eddy_ctx_param(const eddy_ctx *ctx, const char *key, const char *dflt)
{
    return ed_op_param(ctx->op, key, dflt);
}

int eddy_fail(eddy_ctx *ctx, const char *fmt, ...)
{
    if (!ctx->op->err.set) {
        va_list ap;
        va_start(ap, fmt);
        ed_err_vset(&ctx->op->err, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int eddy_emit(eddy_collector *out, const eddy_row *row)
{
    const eddy_ctx *c = &out->op->ctx;
    return ed_out_emit(out, row, c->erase_ts ? ED_TS_NONE : c->ts);
}

int eddy_emit_ts(eddy_collector *out, const eddy_row *row, int64_t ts)
{
    return ed_out_emit(out, row, ts);
}

int eddy_emit_side(eddy_collector *out, const char *tag, const eddy_row *row)
{
    const eddy_ctx *c = &out->op->ctx;
    return ed_out_emit_side(out, tag, row, c->erase_ts ? ED_TS_NONE : c->ts);
}

eddy_row_builder *eddy_out_builder(eddy_collector *out)
{
    eddy_rb_reset(out->rb);
    return out->rb;
}
