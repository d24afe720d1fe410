/*
 * ops_txn.c - the two-phase-commit sink (include/eddy/sink.h), Flink's
 * TwoPhaseCommitSinkFunction over the user's begin / write / pre_commit / commit / abort.
 *
 * A subtask holds the open transaction and the pre-committed ones that wait for their
 * checkpoint to complete. At a checkpoint barrier (vt->snapshot) the open transaction is
 * pre-committed, waits under the checkpoint's id, and a new one begins; the state written
 * is the waiting transactions and the new open one:
 *
 *   uint32 version 1 | uint32 n | uint64 next transaction number |
 *   n times: int64 checkpoint (negated: open at that checkpoint) | uint64 number |
 *            uint32 handle length | uint32 0 | handle, padded to 8
 *
 * A completed checkpoint commits the transactions waiting under its id or an older one.
 * A restore (at any parallelism: old subtask k goes to new subtask k % p, as the file
 * sink's state) commits the old waiting transactions and aborts the old open ones; the
 * numbering of new transactions continues past every old subtask's. At the end of a
 * bounded input the open transaction is pre-committed and every waiting one is left for
 * the end of the job (ed_op_commit_at_end), whose commit runs txn_commit_at_end with the
 * handle alone.
 */
#include <pthread.h>

#include "../base/log.h"
#include "../state/snapshot.h"
#include "operators.h"

struct eddy_txn {
    uint8_t *handle;
    uint32_t len;
    void *data;
    uint64_t number;
    int64_t ckpt; /* pre-committed for this checkpoint; 0: not pre-committed (or at the end) */
};

int eddy_txn_set_handle(eddy_txn *txn, const void *bytes, size_t len)
{
    if (!txn || len > EDDY_TXN_MAX_HANDLE || (len && !bytes)) return -1;
    uint8_t *h = ed_xmalloc(len ? len : 1);
    if (len) memcpy(h, bytes, len);
    free(txn->handle);
    txn->handle = h;
    txn->len = (uint32_t)len;
    return 0;
}

const void *eddy_txn_handle(const eddy_txn *txn, size_t *len)
{
    if (len) *len = txn ? txn->len : 0;
    return txn ? txn->handle : NULL;
}

void eddy_txn_set_data(eddy_txn *txn, void *data)
{
    if (txn) txn->data = data;
}
void *eddy_txn_data(const eddy_txn *txn) { return txn ? txn->data : NULL; }
uint64_t eddy_txn_number(const eddy_txn *txn) { return txn ? txn->number : 0; }
int64_t eddy_txn_checkpoint(const eddy_txn *txn) { return txn && txn->ckpt > 0 ? txn->ckpt : 0; }


typedef struct txn_state {
    eddy_txn_fn begin, pre_commit, commit, abort;
    eddy_txn_write_fn write;
    eddy_txn cur; /* the open transaction, when open */
    bool open;
    bool ended;             /* bounded input over: everything is left for the job's end */
    eddy_txn *waiting;      /* pre-committed, oldest first */
    int nwaiting, cap;
    uint64_t next_number;
} txn_state;

static void txn_clear(eddy_txn *t)
{
    free(t->handle);
    *t = (eddy_txn){0};
}

/* A user function returned an error: op->err says why (eddy_fail), or this does. */
static int fn_failed(ed_operator *op, const char *what, const eddy_fn *fn)
{
    if (ed_task_has_error(op->task) || ed_op_cancelled(op)) return -1;
    if (op->err.set) return -1;
    return ed_op_fail(op, "%s function '%s' returned an error", what, fn->name ? fn->name : "?");
}

static int begin(ed_operator *op, txn_state *s)
{
    s->cur = (eddy_txn){.number = s->next_number++};
    if (s->begin(&op->ctx, &s->cur) < 0) {
        txn_clear(&s->cur);
        return fn_failed(op, "begin", &((const eddy_txn_sink *)op->node->spec)->begin);
    }
    s->open = true;
    return 0;
}

/* Pre-commits the open transaction and makes it wait under checkpoint id. */
static int pre_commit(ed_operator *op, txn_state *s, int64_t id)
{
    if (!s->open) return 0;
    if (s->pre_commit(&op->ctx, &s->cur) < 0)
        return fn_failed(op, "pre_commit", &((const eddy_txn_sink *)op->node->spec)->pre_commit);
    s->cur.data = NULL; /* released by pre_commit */
    s->cur.ckpt = id;
    if (s->nwaiting == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4;
        s->waiting = ed_xrealloc(s->waiting, sizeof(*s->waiting) * (size_t)s->cap);
    }
    s->waiting[s->nwaiting++] = s->cur;
    s->cur = (eddy_txn){0};
    s->open = false;
    return 0;
}

static int txn_open(ed_operator *op, ed_err *err)
{
    const eddy_txn_sink *sp = op->node->spec; /* the user's functions */
    if (!sp) return ed_err_set(err, "'%s' has no transaction functions", op->node->name);
    txn_state *s = ed_xcalloc(1, sizeof(*s));
    op->state = s;
    const eddy_fn *need[] = {&sp->begin, &sp->write, &sp->pre_commit, &sp->commit};
    void (*got[4])(void);
    for (int i = 0; i < 4; i++)
        if (!(got[i] = ed_op_resolve(op, need[i]))) return -1;
    s->begin = (eddy_txn_fn)got[0];
    s->write = (eddy_txn_write_fn)got[1];
    s->pre_commit = (eddy_txn_fn)got[2];
    s->commit = (eddy_txn_fn)got[3];
    if (sp->abort.name || sp->abort.ptr) {
        s->abort = (eddy_txn_fn)ed_op_resolve(op, &sp->abort);
        if (!s->abort) return -1;
    }
    return 0;
}

static int txn_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    txn_state *s = op->state;
    if (ED_UNLIKELY(!s->open) && begin(op, s)) return -1;
    op->ctx.ts = ts;
    if (ED_UNLIKELY(s->write(&op->ctx, &s->cur, row) < 0))
        return fn_failed(op, "write", &((const eddy_txn_sink *)op->node->spec)->write);
    return 0;
}

static void put_txn(ed_strbuf *out, const eddy_txn *t, int64_t ckpt)
{
    uint32_t len[2] = {t->len, 0};
    ed_sb_append(out, &ckpt, 8);
    ed_sb_append(out, &t->number, 8);
    ed_sb_append(out, len, 8);
    if (t->len) ed_sb_append(out, t->handle, t->len);
    static const uint8_t zeros[8] = {0};
    if (ED_ALIGN8(t->len) != t->len) ed_sb_append(out, zeros, ED_ALIGN8(t->len) - t->len);
}

static int txn_snapshot(ed_operator *op, int64_t id, ed_strbuf *out)
{
    txn_state *s = op->state;
    if (!s->ended) {
        if (pre_commit(op, s, id)) return -1;
        if (begin(op, s)) return -1;
    }
    uint32_t head[2] = {1, (uint32_t)(s->nwaiting + (s->open ? 1 : 0))};
    ed_sb_append(out, head, 8);
    ed_sb_append(out, &s->next_number, 8);
    for (int i = 0; i < s->nwaiting; i++) put_txn(out, &s->waiting[i], s->waiting[i].ckpt);
    if (s->open) put_txn(out, &s->cur, id > 0 ? -id : -1);
    return 0;
}

/* Commits waiting transactions of checkpoint id or older, oldest first. */
static void txn_notify(ed_operator *op, int64_t id)
{
    txn_state *s = op->state;
    int n = 0;
    bool failed = false; /* op->err fails the job; the rest keep waiting */
    for (int i = 0; i < s->nwaiting; i++) {
        eddy_txn *t = &s->waiting[i];
        if (!failed && t->ckpt <= id) {
            if (s->commit(&op->ctx, t) < 0) {
                fn_failed(op, "commit", &((const eddy_txn_sink *)op->node->spec)->commit);
                failed = true;
            } else {
                txn_clear(t);
                continue;
            }
        }
        s->waiting[n++] = *t;
    }
    s->nwaiting = n;
}

/* Calls abort, logging a failure. */
static void abort_txn(ed_operator *op, txn_state *s, eddy_txn *t, const char *when)
{
    if (!s->abort) return;
    ed_err saved = op->err;
    op->err.set = false;
    if (s->abort(&op->ctx, t) < 0)
        ed_log(ED_WARN, "sink", "operator '%s' (subtask %d/%d): abort of transaction %llu %s "
               "failed: %s", op->node->name, op->ctx.subtask + 1, op->ctx.parallelism,
               (unsigned long long)t->number, when, op->err.set ? op->err.msg : "(no reason)");
    op->err = saved;
}

/* One old subtask's state: its waiting transactions are committed, its open one aborted;
 * *next is raised past its numbers. */
static int restore_one(ed_operator *op, txn_state *s, const ed_snapshot_ref *r, int k, int nold,
                       bool mine, uint64_t *next)
{
    const uint8_t *p = r->data, *end = p + r->len;
    uint32_t head[2];
    uint64_t number;
    if (!p || r->len < 16) goto bad;
    memcpy(head, p, 8);
    memcpy(&number, p + 8, 8);
    if (head[0] != 1) goto bad;
    if (number > *next) *next = number;
    p += 16;
    for (uint32_t i = 0; i < head[1]; i++) {
        uint32_t len[2];
        eddy_txn t = {0};
        if (end - p < 24) goto bad;
        memcpy(&t.ckpt, p, 8);
        memcpy(&t.number, p + 8, 8);
        memcpy(len, p + 16, 8);
        p += 24;
        if (len[0] > EDDY_TXN_MAX_HANDLE || ED_ALIGN8((size_t)len[0]) > (size_t)(end - p)) goto bad;
        if (!mine) {
            p += ED_ALIGN8((size_t)len[0]);
            continue;
        }
        t.handle = (uint8_t *)p; /* borrowed: the functions see it during the call only */
        t.len = len[0];
        p += ED_ALIGN8((size_t)len[0]);
        if (t.ckpt >= 0) {
            if (s->commit(&op->ctx, &t) < 0)
                return fn_failed(op, "commit", &((const eddy_txn_sink *)op->node->spec)->commit);
        } else {
            t.ckpt = -t.ckpt;
            abort_txn(op, s, &t, "after a restore");
        }
    }
    if (p != end) goto bad;
    return 0;
bad:
    return ed_op_fail(op, "the checkpointed transactions of subtask %d/%d do not fit", k + 1,
                      nold);
}

static int txn_restore(ed_operator *op, const ed_snapshot_ref *old, int nold)
{
    txn_state *s = op->state;
    uint64_t next = 0;
    for (int k = 0; k < nold; k++)
        if (restore_one(op, s, &old[k], k, nold, k % op->ctx.parallelism == op->ctx.subtask,
                        &next))
            return -1;
    if (next > s->next_number) s->next_number = next;
    return 0;
}

/* The input is over: the open transaction is pre-committed, and everything waiting is
 * committed at the end of the job. */
static int txn_end_input(ed_operator *op, int input)
{
    txn_state *s = op->state;
    if (pre_commit(op, s, 0)) return -1;
    for (int i = 0; i < s->nwaiting; i++) {
        ed_op_commit_at_end(op, s->waiting[i].handle, s->waiting[i].len);
        txn_clear(&s->waiting[i]);
    }
    s->nwaiting = 0;
    s->ended = true;
    return 0;
}

/* commit_at_end may run on two threads at once (checkpoints completing); the user's
 * functions are never called concurrently. */
static pthread_mutex_t end_mu = PTHREAD_MUTEX_INITIALIZER;

static int txn_commit_at_end(ed_operator *op, const void *data, size_t len, ed_err *err)
{
    const eddy_txn_sink *sp = op->node->spec;
    if (len > EDDY_TXN_MAX_HANDLE) return ed_err_set(err, "a transaction handle of %zu bytes", len);
    pthread_mutex_lock(&end_mu);
    eddy_txn_fn commit = (eddy_txn_fn)ed_op_resolve(op, &sp->commit);
    int rc = -1;
    if (commit) {
        /* the operator's context, without the user data of a subtask that may have closed */
        eddy_ctx ctx = op->ctx;
        ctx.user = NULL;
        ed_err saved = op->err;
        op->err.set = false;
        eddy_txn t = {.handle = (uint8_t *)data, .len = (uint32_t)len};
        rc = commit(&ctx, &t) < 0 ? -1 : 0;
        if (rc)
            ed_err_set(err, "commit function '%s' failed: %s", sp->commit.name ? sp->commit.name : "?",
                       op->err.set ? op->err.msg : "it returned an error");
        op->err = saved;
    } else {
        ed_err_set(err, "%s", op->err.set ? op->err.msg : "no commit function");
    }
    pthread_mutex_unlock(&end_mu);
    return rc;
}

/* A failure or cancel: the open transaction is aborted; the waiting ones stay for the
 * restore to commit (their checkpoint may have completed). */
static void txn_close(ed_operator *op)
{
    txn_state *s = op->state;
    if (!s) return;
    if (s->open) abort_txn(op, s, &s->cur, "at close");
    txn_clear(&s->cur);
    for (int i = 0; i < s->nwaiting; i++) txn_clear(&s->waiting[i]);
    free(s->waiting);
    free(s);
    op->state = NULL;
}

static const ed_op_vt txn_vt = {
    .open = txn_open,
    .process = txn_process,
    .end_input = txn_end_input,
    .close = txn_close,
    .snapshot = txn_snapshot,
    .restore = txn_restore,
    .notify_checkpoint_complete = txn_notify,
    .commit_at_end = txn_commit_at_end,
};

static const char *const txn_options[] = {NULL};

const ed_factory ed_sink_txn_factory = {
    .name = ED_TXN_SINK,
    .kind = ED_FACTORY_SINK,
    .vt = &txn_vt,
    .check = NULL,
    .max_parallelism = 0,
    .options = txn_options,
};
