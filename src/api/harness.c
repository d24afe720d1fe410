/*
 * harness.c - the operator test harness (see harness.h).
 *
 * The harness makes the job's real tasks with chaining off and opens only the task of
 * the operator under test. Whatever the operator emits goes through its real writers
 * into real channel buffers; the harness flushes the writers after every call and reads
 * the buffers back as the next task would, so a test sees exactly the stream of
 * elements - records, watermarks, statuses - that the operator produced.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ed_harness {
    eddy_env *env;
    ed_config *cfg;
    ed_job job;
    bool job_made;
    ed_task *task;
    ed_operator *op;
    ed_harness_out *out;
    size_t nout, cap;
    ed_arena rows;
    ed_strbuf text;
    eddy_row_builder *in_rb[2];
    const eddy_schema *in_schema[2];
    int64_t in_wm[2];
    ed_err err;
};

ed_operator *ed_harness_operator(ed_harness *h) { return h->op; }
const char *ed_harness_error(ed_harness *h) { return h->err.set ? h->err.msg : NULL; }

static void add_out(ed_harness *h, ed_harness_out o)
{
    if (h->nout == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->out = ed_xrealloc(h->out, h->cap * sizeof(*h->out));
    }
    h->out[h->nout++] = o;
}

/* Reads back what the operator's writers hold. */
static void drain(ed_harness *h)
{
    ed_task *t = h->task;
    for (int w = 0; w < t->nwriters; w++) {
        ed_writer *wr = t->writers[w];
        ed_writer_flush(wr);
        for (int c = 0; c < wr->n; c++) {
            ed_channel *ch = wr->ch[c];
            ed_buffer *b;
            while ((b = ed_channel_peek(ch))) {
                const uint8_t *p = b->data, *end = b->data + b->len;
                while (p < end) {
                    uint32_t len = ed_el_len(p, end);
                    int tag = ed_el_tag(p);
                    int64_t v = 0;
                    if (tag != ED_EL_END) memcpy(&v, p + 8, 8);
                    if (ed_el_is_record(tag)) {
                        const eddy_row *r = (const eddy_row *)(p + 16);
                        void *copy = ed_arena_alloc(&h->rows, eddy_row_size(r));
                        memcpy(copy, r, eddy_row_size(r));
                        add_out(h, (ed_harness_out){ED_OUT_RECORD, wr->edge->side_tag, v, copy});
                    } else if (c == 0 && tag == ED_EL_WATERMARK) {
                        /* control elements go to every channel: take them once */
                        add_out(h, (ed_harness_out){ED_OUT_WATERMARK, wr->edge->side_tag, v, NULL});
                    } else if (c == 0 && tag == ED_EL_STATUS) {
                        add_out(h, (ed_harness_out){v ? ED_OUT_IDLE : ED_OUT_ACTIVE,
                                                    wr->edge->side_tag, 0, NULL});
                    }
                    p += len;
                }
                ed_channel_pop(ch);
                ed_buffer_put(b);
            }
        }
    }
}

static int result(ed_harness *h, int rc)
{
    drain(h);
    if (rc) {
        ed_err_clear(&h->err);
        ed_err_set(&h->err, "%s", h->op->err.set ? h->op->err.msg : "the operator failed");
        ed_err_clear(&h->op->err);
    }
    return rc ? -1 : 0;
}

ed_harness *ed_harness_new(eddy_env *env, eddy_stream *s, ed_err *err)
{
    if (!env->use_manual) {
        ed_err_set(err, "the harness needs a manual clock (eddy_env_use_manual_clock)");
        return NULL;
    }
    if (env->err.set) {
        ed_err_set(err, "%s", env->err.msg);
        return NULL;
    }
    ed_harness *h = ed_xcalloc(1, sizeof(*h));
    h->env = env;
    h->in_wm[0] = h->in_wm[1] = INT64_MIN;
    ed_arena_init(&h->rows, 1 << 16);
    ed_sb_init(&h->text);
    h->cfg = ed_config_copy(env->cfg);
    ed_config_set(h->cfg, "pipeline.operator-chaining.enabled", "false", err);
    if (ed_job_create(&h->job, &env->sg, h->cfg, env->code, "harness", &env->manual.base, NULL,
                      err)) {
        h->job_made = true;
        ed_harness_free(h);
        return NULL;
    }
    h->job_made = true;
    for (int i = 0; i < h->job.ntasks && !h->task; i++)
        if (h->job.tasks[i]->ops[0].node->id == s->node && h->job.tasks[i]->subtask == 0)
            h->task = h->job.tasks[i];
    if (!h->task) {
        ed_err_set(err, "the harness needs the stream of an operator");
        ed_harness_free(h);
        return NULL;
    }
    h->op = &h->task->ops[0];
    const ed_jinput_list *l = &h->job.jg.inputs[s->node];
    for (int i = 0; i < l->n; i++) {
        int in = l->v[i].input;
        if (in < 2 && !h->in_schema[in]) {
            h->in_schema[in] = env->sg.nodes[l->v[i].from]->schema;
            h->in_rb[in] = eddy_rb_new_schema(h->in_schema[in]);
        }
    }
    if (ed_task_open(h->task)) {
        ed_err_set(err, "open failed: %s", h->op->err.set ? h->op->err.msg : "?");
        ed_harness_free(h);
        return NULL;
    }
    drain(h);
    return h;
}

void ed_harness_free(ed_harness *h)
{
    if (!h) return;
    if (h->task) ed_task_close(h->task);
    if (h->job_made) ed_job_destroy(&h->job);
    ed_config_free(h->cfg);
    for (int i = 0; i < 2; i++) eddy_rb_free(h->in_rb[i]);
    free(h->out);
    ed_arena_destroy(&h->rows);
    ed_sb_free(&h->text);
    free(h);
}

int ed_harness_push(ed_harness *h, int input, const eddy_row *row, int64_t ts)
{
    h->op->records_in++;
    return result(h, h->op->vt->process(h->op, input, row, ts));
}

int ed_harness_push_csv(ed_harness *h, int input, const char *csv, int64_t ts)
{
    if (input < 0 || input > 1 || !h->in_schema[input]) {
        ed_err_set(&h->err, "no input %d", input);
        return -1;
    }
    ed_err_clear(&h->err);
    if (ed_csv_parse_line(csv, strlen(csv), h->in_schema[input], ',', h->in_rb[input], &h->err))
        return -1;
    return ed_harness_push(h, input, eddy_rb_row(h->in_rb[input]), ts);
}

int ed_harness_watermark(ed_harness *h, int64_t wm)
{
    return result(h, ed_op_advance_watermark(h->op, wm));
}

int ed_harness_input_watermark(ed_harness *h, int input, int64_t wm)
{
    if (input < 0 || input > 1 || !h->in_schema[input]) {
        ed_err_set(&h->err, "no input %d", input);
        return -1;
    }
    if (wm > h->in_wm[input]) h->in_wm[input] = wm;
    int64_t min = h->in_wm[0];
    if (h->in_schema[1] && h->in_wm[1] < min) min = h->in_wm[1];
    return min > h->op->watermark ? ed_harness_watermark(h, min) : result(h, 0);
}

int ed_harness_idle(ed_harness *h, bool idle)
{
    ed_operator *op = h->op;
    return result(h, op->vt->on_idle ? op->vt->on_idle(op, idle) : ed_out_idle(&op->out, idle));
}

int ed_harness_advance_clock(ed_harness *h, int64_t ms)
{
    ed_manual_clock_advance(&h->env->manual, ms);
    int64_t now = h->job.clock->now_ms(h->job.clock);
    int rc = 0;
    while (rc == 0 && ed_op_next_processing_time(h->op) <= now)
        rc = ed_op_fire_processing_time(h->op, now);
    return result(h, rc);
}

int ed_harness_end_input(ed_harness *h, int input)
{
    ed_operator *op = h->op;
    return result(h, op->vt->end_input ? op->vt->end_input(op, input) : 0);
}

size_t ed_harness_count(ed_harness *h) { return h->nout; }
const ed_harness_out *ed_harness_get(ed_harness *h, size_t i) { return i < h->nout ? &h->out[i] : NULL; }

const char *ed_harness_text(ed_harness *h)
{
    ed_sb_reset(&h->text);
    for (size_t i = 0; i < h->nout; i++) {
        const ed_harness_out *o = &h->out[i];
        if (i) ed_sb_putc(&h->text, '\n');
        if (o->side) ed_sb_printf(&h->text, "%s: ", o->side);
        switch (o->kind) {
        case ED_OUT_RECORD: {
            const eddy_schema *sc = h->op->node->schema;
            if (o->side) /* a side output's schema is that of its side node */
                for (int n = 0; n < h->env->sg.nnodes; n++) {
                    const ed_node *sn = h->env->sg.nodes[n];
                    if (sn->kind == ED_NODE_SIDE && sn->inputs[0] == h->op->node->id &&
                        strcmp(sn->side_tag, o->side) == 0)
                        sc = sn->schema;
                }
            ed_row_format_flink(sc, o->row, &h->text);
            if (o->ts != INT64_MIN) ed_sb_printf(&h->text, " @%lld", (long long)o->ts);
            break;
        }
        case ED_OUT_WATERMARK:
            if (o->ts == INT64_MAX)
                ed_sb_puts(&h->text, "WM MAX");
            else
                ed_sb_printf(&h->text, "WM %lld", (long long)o->ts);
            break;
        case ED_OUT_IDLE:
            ed_sb_puts(&h->text, "IDLE");
            break;
        case ED_OUT_ACTIVE:
            ed_sb_puts(&h->text, "ACTIVE");
            break;
        }
    }
    if (!h->text.data) ed_sb_puts(&h->text, "");
    return h->text.data;
}

void ed_harness_clear(ed_harness *h)
{
    h->nout = 0;
    ed_arena_reset(&h->rows);
}

int ed_harness_snapshot(ed_harness *h, void **blob, size_t *len, ed_err *err)
{
    (void)h;
    *blob = NULL;
    *len = 0;
    return ed_err_set(err, "snapshots are not supported yet");
}

ed_harness *ed_harness_restore(eddy_env *env, eddy_stream *op, const void *blob, size_t len,
                               ed_err *err)
{
    (void)env, (void)op, (void)blob, (void)len;
    ed_err_set(err, "snapshots are not supported yet");
    return NULL;
}
