/*
 * ops_collect.c - the collection source and the collect sink: rows in and out of a job
 * that runs in the caller's process (tests, embedding).
 *
 * The collection source's rows are part of the plan (a blob of concatenated rows), so
 * it stays plain data. The collect sink writes into an eddy_result that the builder
 * made; each subtask appends to its own part, so no lock is needed, and the parts are
 * read in subtask order after the job ends.
 */
#include "../state/snapshot.h"
#include "operators.h"

/* ---- collection source ------------------------------------------------------------------ */

typedef struct coll_state {
    size_t pos;
} coll_state;

static int coll_open(ed_operator *op, ed_err *err)
{
    op->state = ed_xcalloc(1, sizeof(coll_state));
    return 0;
}

static ed_poll_result coll_poll(ed_operator *op, int max)
{
    coll_state *s = op->state;
    const ed_node *n = op->node;
    for (int i = 0; i < max && s->pos < n->blob_len; i++) {
        const eddy_row *r = (const eddy_row *)(n->blob + s->pos);
        s->pos += eddy_row_size(r);
        if (ed_out_emit(&op->out, r, ED_TS_NONE)) return ED_POLL_ERROR;
    }
    return s->pos < n->blob_len ? ED_POLL_MORE : ED_POLL_END;
}

static void coll_close(ed_operator *op)
{
    free(op->state);
    op->state = NULL;
}

/* The position: the offset of the next row in the plan's blob. */
static int coll_snapshot(ed_operator *op, int64_t id, ed_strbuf *out)
{
    uint64_t pos = ((coll_state *)op->state)->pos;
    ed_sb_append(out, &pos, 8);
    return 0;
}

static int coll_restore(ed_operator *op, const struct ed_snapshot_ref *old, int nold)
{
    const ed_snapshot_ref *r = &old[0];
    uint64_t pos;
    if (nold != 1 || r->len != 8)
        return ed_op_fail(op, "collection source: the checkpointed position does not fit");
    memcpy(&pos, r->data, 8);
    size_t at = 0;
    while (at < pos && at < op->node->blob_len)
        at += eddy_row_size((const eddy_row *)(op->node->blob + at));
    if (at != pos)
        return ed_op_fail(op, "collection source: position %llu is not the start of a row of "
                              "its %zu bytes", (unsigned long long)pos, op->node->blob_len);
    ((coll_state *)op->state)->pos = (size_t)pos;
    return 0;
}

const ed_op_vt ed_op_collection_vt = {.open = coll_open,
                                      .poll = coll_poll,
                                      .close = coll_close,
                                      .snapshot = coll_snapshot,
                                      .restore = coll_restore};

/* ---- collect sink ----------------------------------------------------------------------- */

typedef struct collect_part {
    ed_arena arena;
    const eddy_row **rows;
    int64_t *ts;
    size_t n, cap;
} collect_part;

struct eddy_result {
    collect_part *parts;
    int nparts;
    size_t total;
    const eddy_row **rows; /* all parts in subtask order, after the job */
    int64_t *ts;
};

eddy_result *ed_result_new(void) { return ed_xcalloc(1, sizeof(eddy_result)); }

static void result_clear(eddy_result *r)
{
    for (int i = 0; i < r->nparts; i++) {
        ed_arena_destroy(&r->parts[i].arena);
        free(r->parts[i].rows);
        free(r->parts[i].ts);
    }
    free(r->parts);
    free(r->rows);
    free(r->ts);
    r->parts = NULL;
    r->rows = NULL;
    r->ts = NULL;
    r->nparts = 0;
    r->total = 0;
}

void ed_result_free(eddy_result *r)
{
    if (!r) return;
    result_clear(r);
    free(r);
}

/* Called before the job starts (one part per subtask) and after it ends. */
void ed_result_prepare(eddy_result *r, int parallelism)
{
    result_clear(r);
    r->parts = ed_xcalloc((size_t)parallelism, sizeof(collect_part));
    r->nparts = parallelism;
    for (int i = 0; i < parallelism; i++) ed_arena_init(&r->parts[i].arena, 1 << 16);
}

void ed_result_finish(eddy_result *r)
{
    size_t total = 0;
    for (int i = 0; i < r->nparts; i++) total += r->parts[i].n;
    r->rows = ed_xcalloc(total + 1, sizeof(*r->rows));
    r->ts = ed_xcalloc(total + 1, sizeof(*r->ts));
    size_t k = 0;
    for (int i = 0; i < r->nparts; i++)
        for (size_t j = 0; j < r->parts[i].n; j++, k++) {
            r->rows[k] = r->parts[i].rows[j];
            r->ts[k] = r->parts[i].ts[j];
        }
    r->total = total;
}

static int collect_open(ed_operator *op, ed_err *err)
{
    eddy_result *r = op->node->result;
    ed_assert(r && op->ctx.subtask < r->nparts);
    op->state = &r->parts[op->ctx.subtask];
    return 0;
}

static int collect_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    collect_part *p = op->state;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1024;
        p->rows = realloc(p->rows, p->cap * sizeof(*p->rows));
        p->ts = realloc(p->ts, p->cap * sizeof(*p->ts));
        if (!p->rows || !p->ts) return ed_op_fail(op, "out of memory collecting results");
    }
    uint32_t n = eddy_row_size(row);
    void *copy = ed_arena_alloc(&p->arena, n);
    if (!copy) return ed_op_fail(op, "out of memory collecting results");
    memcpy(copy, row, n);
    p->rows[p->n] = copy;
    p->ts[p->n++] = ts;
    return 0;
}

const ed_op_vt ed_op_collect_vt = {.open = collect_open, .process = collect_process};

size_t eddy_result_count(const eddy_result *r) { return r ? r->total : 0; }
const eddy_row *eddy_result_row(const eddy_result *r, size_t i)
{
    return r && i < r->total ? r->rows[i] : NULL;
}
int64_t eddy_result_timestamp(const eddy_result *r, size_t i)
{
    return r && i < r->total ? r->ts[i] : ED_TS_NONE;
}
