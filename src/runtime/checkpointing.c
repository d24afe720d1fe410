/*
 * checkpointing.c - Chandy-Lamport barrier snapshots, the runtime's side.
 *
 * The coordinator thread triggers checkpoint n by posting a mail to every source task.
 * A source task, between two batches, snapshots its chain, sends barrier n down every
 * output channel (in band, after everything it emitted before) and acknowledges. A task
 * with inputs, in exactly-once mode, stops reading a channel once barrier n arrived on
 * it (alignment); when the barrier has come on every live channel it snapshots its
 * chain, forwards the barrier, acknowledges and reads on. Its state then reflects exactly
 * the records before the barriers. In at-least-once mode channels are not blocked.
 *
 * A snapshot of an operator subtask is one checkpoint file, chk-<n>/<operator>-<subtask>,
 * holding sections: its keyed state and timers (state/snapshot.h), its operator and
 * broadcast state, and whatever the operator adds itself (vt->snapshot). The last
 * acknowledgement makes the coordinator write _metadata; the tasks are then told the
 * checkpoint is complete (vt->notify_checkpoint_complete).
 *
 * A savepoint travels the same way. As in Flink since 1.15, an intermediate savepoint
 * commits no side effects (no notify_checkpoint_complete: the sinks' pre-committed data
 * waits for the next checkpoint), while a stop-with-savepoint does. For a stop, every task
 * that passes the savepoint's barrier emits nothing of its own any more (sources poll no
 * more, timers do not fire) until the savepoint is complete and the sources end the job,
 * so that the savepoint holds everything the job did; with --drain the sources first
 * emit MAX_WATERMARK, so that event-time windows and timers fire before the barrier.
 *
 *   section: uint32 kind | uint32 0 | uint64 length | bytes, padded to 8
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "../checkpoint/coordinator.h"
#include "../state/rocks.h"
#include "../state/snapshot.h"
#include "incremental.h"
#include "operators.h"
#include "task.h"

enum {
    ED_SECTION_KEYED = 1,
    ED_SECTION_OPERATOR = 2,
    ED_SECTION_OWN = 3,
    ED_SECTION_KEYED_INCREMENTAL = 4, /* incremental.h */
};

static void put_section(ed_strbuf *out, uint32_t kind, const ed_strbuf *body)
{
    uint32_t h32[2] = {kind, 0};
    uint64_t len = body->len;
    ed_sb_append(out, h32, 8);
    ed_sb_append(out, &len, 8);
    if (body->len) ed_sb_append(out, body->data, body->len);
    static const char zeros[8] = {0};
    size_t pad = ED_ALIGN8(body->len) - body->len;
    if (pad) ed_sb_append(out, zeros, pad);
}

/* The name under which an operator's state is kept: its uid, else its node id. */
static void operator_key(const ed_operator *op, char *buf, size_t cap)
{
    if (op->node->uid)
        snprintf(buf, cap, "%s", op->node->uid);
    else
        snprintf(buf, cap, "node-%d", op->node->id);
    for (char *p = buf; *p; p++)
        if (*p == '/' || *p == ' ') *p = '_';
}

/* <dir>/<job>/shared for the checkpoint directory <dir>/<job>/chk-<n>. */
static void shared_dir_of(const char *chk_dir, char *out, size_t cap)
{
    snprintf(out, cap, "%s", chk_dir);
    char *slash = strrchr(out, '/');
    if (slash) *slash = 0;
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "/shared");
}

/* Whether op checkpoints its keyed state incrementally: RocksDB, the option set, and not a
 * savepoint (always full and backend-neutral). */
static bool incremental(ed_task *t, ed_operator *op, int64_t id)
{
    return ed_state_backend_is_rocksdb(op->keyed->backend) &&
           ed_config_get_bool(t->job->cfg, "execution.checkpointing.incremental", false) &&
           !ed_coord_is_savepoint(t->job->coord, id);
}

static int snapshot_operator(ed_task *t, ed_operator *op, int64_t id, const char *dir,
                             ed_strbuf *lines, ed_err *err)
{
    ed_strbuf payload, body;
    ed_sb_init(&payload);
    ed_sb_init(&body);
    int rc = 0;
    if (op->keyed) {
        if (op->vt->pre_snapshot && op->vt->pre_snapshot(op))
            rc = ed_err_set(err, "%s", op->err.set ? op->err.msg : "snapshot failed");
        bool incr = incremental(t, op, id);
        if (!rc && incr) {
            char shared[4200];
            shared_dir_of(dir, shared, sizeof shared);
            rc = ed_incr_snapshot(op, t->job->fs, shared, &body, lines, err);
        } else if (!rc) {
            rc = ed_state_snapshot(op->keyed->backend, op->keyed->timers, &body, err);
        }
        if (op->vt->post_snapshot) op->vt->post_snapshot(op);
        if (!rc) put_section(&payload, incr ? ED_SECTION_KEYED_INCREMENTAL : ED_SECTION_KEYED, &body);
    }
    if (!rc && op->op_store) {
        ed_sb_reset(&body);
        rc = ed_operator_store_snapshot(op->op_store, &body, err);
        if (!rc) put_section(&payload, ED_SECTION_OPERATOR, &body);
    }
    if (!rc && op->vt->snapshot) {
        ed_sb_reset(&body);
        rc = op->vt->snapshot(op, id, &body);
        if (rc) ed_err_set(err, "%s", op->err.set ? op->err.msg : "snapshot failed");
        else if (body.len) put_section(&payload, ED_SECTION_OWN, &body);
    }
    if (!rc && payload.len) {
        char key[256], path[4400];
        operator_key(op, key, sizeof key);
        snprintf(path, sizeof path, "%s/%s-%d", dir, key, t->subtask);
        rc = ed_ckpt_write(t->job->fs, path, ED_CKPT_OPERATOR_STATE, payload.data,
                           payload.len, err);
        if (!rc)
            ed_sb_printf(lines, "state %s %d %d %s-%d %zu\n", key, t->subtask,
                         op->ctx.parallelism, key, t->subtask, payload.len);
    }
    ed_sb_free(&payload);
    ed_sb_free(&body);
    return rc;
}

static void notify_complete(ed_task *t, void *arg)
{
    int64_t id = (int64_t)(intptr_t)arg;
    for (int i = 0; i < t->nops; i++)
        if (t->ops[i].vt->notify_checkpoint_complete)
            t->ops[i].vt->notify_checkpoint_complete(&t->ops[i], id);
}

int ed_task_checkpoint(ed_task *t, int64_t id)
{
    ed_job *job = t->job;
    ed_coord *c = job->coord;
    if (!c) return 0;
    ed_ckpt_props props = ed_coord_props(c, id);
    if (props.stop) t->stop_id = id; /* even when it declines: the outcome says what next */
    char dir[4096];
    ed_coord_chk_dir(c, id, dir, sizeof dir);
    ed_strbuf lines;
    ed_sb_init(&lines);
    ed_err err = {0};
    for (int i = 0; i < t->nops; i++) {
        if (snapshot_operator(t, &t->ops[i], id, dir, &lines, &err)) {
            ed_log(ED_WARN, "checkpoint", "checkpoint %lld: task '%s' cannot snapshot: %s",
                   (long long)id, t->name, err.msg);
            ed_sb_free(&lines);
            if (ed_coord_decline(c, id, err.msg))
                ed_job_fail(job, "checkpoint %lld failed and no more failed checkpoints are "
                                 "tolerated: %s", (long long)id, err.msg);
            /* the barrier still goes on, so that downstream tasks do not wait for it */
            for (int w = 0; w < t->nwriters; w++)
                if (ed_writer_broadcast_element(t->writers[w], ED_EL_BARRIER, id)) return -1;
            return 0;
        }
    }
    for (int w = 0; w < t->nwriters; w++)
        if (ed_writer_broadcast_element(t->writers[w], ED_EL_BARRIER, id)) {
            ed_sb_free(&lines);
            return -1;
        }
    for (int w = 0; w < t->nwriters; w++) ed_writer_flush(t->writers[w]);
    t->dirty = false;
    int rc = ed_coord_ack(c, id, lines.data, job->clock->now_ms(job->clock), &err);
    ed_sb_free(&lines);
    if (rc == 1) {
        if (props.savepoint)
            ed_log(ED_INFO, "checkpoint", "savepoint %lld of job '%s' complete: %s",
                   (long long)id, job->name, dir);
        else
            ed_log(ED_INFO, "checkpoint", "checkpoint %lld of job '%s' complete", (long long)id,
                   job->name);
        if (!props.savepoint || props.stop) /* an intermediate savepoint commits nothing */
            for (int k = 0; k < job->ntasks; k++)
                ed_task_post(job->tasks[k], notify_complete, (void *)(intptr_t)id);
    } else if (rc < 0 && err.set) {
        ed_log(ED_WARN, "checkpoint", "checkpoint %lld: %s", (long long)id, err.msg);
    }
    return 0;
}

static void trigger_mail(ed_task *t, void *arg)
{
    if (t->finished) return;
    int64_t id = (int64_t)(intptr_t)arg;
    /* stop --drain: event time ends before the barrier, firing every event-time timer */
    if (ed_coord_props(t->job->coord, id).drain &&
        ed_out_watermark(&t->ops[0].out, ED_WATERMARK_MAX)) {
        ed_job_fail(t->job, "task '%s' failed while draining for savepoint %lld", t->name,
                    (long long)id);
        return;
    }
    if (ed_task_checkpoint(t, id))
        ed_job_fail(t->job, "task '%s' failed while taking checkpoint %lld", t->name,
                    (long long)id);
}

int ed_task_stop_state(ed_task *t)
{
    ed_coord *c = t->job->coord;
    ed_savepoint_state st = ed_coord_savepoint_state(c, t->stop_id);
    if (st == ED_SAVEPOINT_FAILED) {
        if (ed_coord_props(c, t->stop_id).drain)
            ed_job_fail(t->job, "savepoint %lld of a stop --drain failed after the sources had "
                                "emitted MAX_WATERMARK", (long long)t->stop_id);
        t->stop_id = 0;
    }
    return st;
}

void ed_job_trigger_checkpoint(ed_job *job, int64_t id)
{
    for (int k = 0; k < job->ntasks; k++)
        if (job->tasks[k]->ops[0].vt->poll)
            ed_task_post(job->tasks[k], trigger_mail, (void *)(intptr_t)id);
}

void *ed_job_coordinator_main(void *arg)
{
    ed_job *job = arg;
    ed_coord *c = job->coord;
    pthread_mutex_lock(&job->coord_mu);
    while (!job->done && !atomic_load(&job->cancel)) {
        pthread_mutex_unlock(&job->coord_mu);
        int64_t now = job->clock->now_ms(job->clock);
        ed_err err = {0};
        int64_t id = ed_coord_maybe_trigger(c, now, &err);
        if (id) {
            ed_log(ED_DEBUG, "checkpoint", "triggering checkpoint %lld", (long long)id);
            ed_job_trigger_checkpoint(job, id);
        } else if (err.set) {
            ed_log(ED_WARN, "checkpoint", "cannot start a checkpoint: %s", err.msg);
        }
        bool fatal = false;
        int64_t aborted = ed_coord_check_timeouts(c, now, &fatal);
        if (aborted) ed_log(ED_WARN, "checkpoint", "checkpoint %lld expired", (long long)aborted);
        if (fatal) ed_job_fail(job, "checkpoint %lld expired and no more failed checkpoints are tolerated",
                               (long long)aborted);
        pthread_mutex_lock(&job->coord_mu);
        if (job->done) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t interval = ed_coord_interval_ms(c); /* 0: savepoints only */
        int64_t wait_ms = interval > 0 && interval < 50 ? interval : 50;
        ts.tv_nsec += wait_ms * 1000000;
        ts.tv_sec += ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&job->coord_cv, &job->coord_mu, &ts);
    }
    pthread_mutex_unlock(&job->coord_mu);
    return NULL;
}

/* ---- starting from a checkpoint ---------------------------------------------------------------- */

typedef struct restore_entry {
    char key[256];
    int subtask, parallelism;
    char file[300];
    size_t bytes;
    bool claimed;
} restore_entry;

struct ed_restore {
    char dir[4096];
    restore_entry *e;
    int n;
};

void ed_job_free_restore(ed_job *job)
{
    if (!job->restore) return;
    free(job->restore->e);
    free(job->restore);
    job->restore = NULL;
}

int ed_job_prepare_restore(ed_job *job, ed_err *err)
{
    const char *path = ed_config_get(job->cfg, "execution.savepoint.path");
    if (!path || !*path) return 0;
    struct ed_restore *r = ed_xcalloc(1, sizeof(*r));
    job->restore = r;
    snprintf(r->dir, sizeof r->dir, "%s", path);
    size_t dl = strlen(r->dir);
    while (dl > 1 && r->dir[dl - 1] == '/') r->dir[--dl] = 0;
    /* a savepoint's directory or, as Flink accepts, the path of its _metadata file */
    if (dl > 10 && strcmp(r->dir + dl - 10, "/_metadata") == 0) r->dir[dl -= 10] = 0;
    char meta[4200];
    snprintf(meta, sizeof meta, "%s/_metadata", r->dir);
    void *m;
    size_t mlen;
    if (ed_ckpt_read(meta, ED_CKPT_METADATA, &m, &mlen, err))
        return ed_err_wrap(err, "cannot restore from %s", r->dir);
    char *text = ed_xstrndup(m, mlen);
    free(m);
    int lineno = 0;
    bool header = false;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (lineno == 1) {
            header = strcmp(line, "eddy-checkpoint 1") == 0;
            if (!header) break;
            continue;
        }
        if (strncmp(line, "state ", 6) != 0) continue;
        restore_entry x = {0};
        if (sscanf(line, "state %255s %d %d %299s %zu", x.key, &x.subtask, &x.parallelism, x.file,
                   &x.bytes) != 5 ||
            x.subtask < 0 || x.parallelism < 1 || x.subtask >= x.parallelism ||
            strchr(x.file, '/')) {
            free(text);
            return ed_err_set(err, "%s: line %d: malformed state entry", meta, lineno);
        }
        r->e = ed_xrealloc(r->e, sizeof(*r->e) * (size_t)(r->n + 1));
        r->e[r->n++] = x;
    }
    free(text);
    if (!header) return ed_err_set(err, "%s: not an eddy checkpoint (format line)", meta);
    /* every piece of state must belong to an operator of this job */
    bool ignore = ed_config_get_bool(job->cfg, "execution.savepoint.ignore-unclaimed-state", false);
    for (int i = 0; i < r->n; i++) {
        for (int k = 0; k < job->ntasks && !r->e[i].claimed; k++) {
            ed_task *t = job->tasks[k];
            for (int o = 0; o < t->nops; o++) {
                char key[256];
                operator_key(&t->ops[o], key, sizeof key);
                if (strcmp(key, r->e[i].key) == 0) r->e[i].claimed = true;
            }
        }
        if (!r->e[i].claimed && !ignore)
            return ed_err_set(err,
                              "%s holds state of operator '%s', which this job does not have "
                              "(execution.savepoint.ignore-unclaimed-state / "
                              "--allowNonRestoredState to start without it)",
                              r->dir, r->e[i].key);
    }
    return 0;
}

/* Finds section `kind` in an operator state payload. */
static bool find_section(const uint8_t *p, size_t n, uint32_t kind, ed_snapshot_ref *out)
{
    size_t off = 0;
    while (off + 16 <= n) {
        uint32_t k;
        uint64_t l;
        memcpy(&k, p + off, 4);
        memcpy(&l, p + off + 8, 8);
        if (l > n - off - 16) return false;
        if (k == kind) {
            *out = (ed_snapshot_ref){p + off + 16, (size_t)l};
            return true;
        }
        off += 16 + (size_t)ED_ALIGN8(l);
    }
    return false;
}

int ed_task_restore(ed_task *t, ed_err *err)
{
    struct ed_restore *r = t->job->restore;
    if (!r) return 0;
    for (int o = 0; o < t->nops; o++) {
        ed_operator *op = &t->ops[o];
        char key[256];
        operator_key(op, key, sizeof key);
        int nold = 0;
        for (int i = 0; i < r->n; i++)
            if (strcmp(r->e[i].key, key) == 0 && r->e[i].parallelism > nold)
                nold = r->e[i].parallelism;
        if (!nold) continue;
        void **payload = ed_xcalloc((size_t)nold, sizeof(void *));
        size_t *plen = ed_xcalloc((size_t)nold, sizeof(size_t));
        ed_snapshot_ref *ops = ed_xcalloc((size_t)nold, sizeof(*ops));
        ed_snapshot_ref *own = ed_xcalloc((size_t)nold, sizeof(*own));
        int rc = 0;
        bool any_op = false, any_own = false;
        for (int i = 0; i < r->n && !rc; i++) {
            restore_entry *x = &r->e[i];
            if (strcmp(x->key, key) || x->parallelism != nold) continue;
            char path[4500];
            snprintf(path, sizeof path, "%s/%s", r->dir, x->file);
            if (ed_ckpt_read(path, ED_CKPT_OPERATOR_STATE, &payload[x->subtask],
                             &plen[x->subtask], err)) {
                rc = -1;
                break;
            }
            ed_snapshot_ref sec;
            if (find_section(payload[x->subtask], plen[x->subtask], ED_SECTION_KEYED, &sec)) {
                if (!op->keyed) {
                    rc = ed_err_set(err, "operator '%s': the checkpoint has keyed state for it, "
                                         "but it is not keyed", op->node->name);
                    break;
                }
                int first, last;
                ed_key_group_range(t->subtask, op->ctx.parallelism, op->ctx.max_parallelism,
                                   &first, &last);
                rc = ed_state_restore(op->keyed->backend, op->keyed->timers, sec.data, sec.len,
                                      first, last, err);
            }
            if (!rc && find_section(payload[x->subtask], plen[x->subtask],
                                    ED_SECTION_KEYED_INCREMENTAL, &sec)) {
                if (!op->keyed) {
                    rc = ed_err_set(err, "operator '%s': the checkpoint has keyed state for it, "
                                         "but it is not keyed", op->node->name);
                    break;
                }
                int first, last;
                ed_key_group_range(t->subtask, op->ctx.parallelism, op->ctx.max_parallelism,
                                   &first, &last);
                char shared[4200];
                shared_dir_of(r->dir, shared, sizeof shared);
                rc = ed_incr_restore(op, sec.data, sec.len, shared, first, last, err);
            }
            if (find_section(payload[x->subtask], plen[x->subtask], ED_SECTION_OPERATOR,
                             &ops[x->subtask]))
                any_op = true;
            if (find_section(payload[x->subtask], plen[x->subtask], ED_SECTION_OWN,
                             &own[x->subtask]))
                any_own = true;
        }
        if (!rc && any_op) {
            /* old subtasks that had no operator state hold no elements: leaving them out
             * keeps the concatenation Flink redistributes */
            int n = 0;
            for (int k = 0; k < nold; k++)
                if (ops[k].data) ops[n++] = ops[k];
            rc = ed_operator_store_restore(ed_op_store(op), ops, n, t->subtask,
                                           op->ctx.parallelism, err);
        }
        if (!rc && any_own) {
            if (!op->vt->restore)
                rc = ed_err_set(err, "operator '%s' cannot restore its own state", op->node->name);
            else if (op->vt->restore(op, own, nold))
                rc = ed_err_set(err, "%s", op->err.set ? op->err.msg : "restore failed");
        }
        if (!rc && op->vt->restored && op->vt->restored(op))
            rc = ed_err_set(err, "%s", op->err.set ? op->err.msg : "restore failed");
        for (int k = 0; k < nold; k++) free(payload[k]);
        free(payload);
        free(plen);
        free(ops);
        free(own);
        if (rc) return ed_err_wrap(err, "restoring operator '%s' (subtask %d/%d)", op->node->name,
                                   t->subtask + 1, op->ctx.parallelism);
    }
    return 0;
}
