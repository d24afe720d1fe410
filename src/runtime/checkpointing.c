/*
 * checkpointing.c - Chandy-Lamport barrier snapshots, the runtime's side.
 *
 * The coordinator thread triggers checkpoint n by posting a mail to every source task
 * (that has not finished: see "finished tasks" below). A source task, between two
 * batches, sends barrier n down every output channel (in band, after everything it
 * emitted before), snapshots its chain and acknowledges - the barrier first, as Flink
 * does: the task processes nothing in between, so the snapshot is still that of the
 * records before the barrier, and the tasks downstream need not wait for its files. A
 * task with inputs, in exactly-once mode, stops reading a channel once barrier n arrived
 * on it (alignment); when the barrier has come on every live channel it forwards the
 * barrier, snapshots its chain, acknowledges and reads on. Its state then reflects
 * exactly the records before the barriers. In at-least-once mode channels are not
 * blocked. Unaligned checkpoints (task.c, unaligned.c) snapshot at the first barrier and
 * acknowledge, with the in-flight data, at the last.
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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../base/log.h"
#include "../checkpoint/coordinator.h"
#include "../state/rocks.h"
#include "../state/snapshot.h"
#include "incremental.h"
#include "upload.h"
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
            rc = ed_incr_snapshot(op, id, shared, &body, lines, err);
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
        ed_sb_printf(lines, "state %s %d %d %s-%d %zu\n", key, t->subtask, op->ctx.parallelism,
                     key, t->subtask, payload.len);
        ed_upload_add(t, id, path, ED_CKPT_OPERATOR_STATE, &payload); /* written later */
    }
    ed_sb_free(&payload);
    ed_sb_free(&body);
    return rc;
}

static void notify_complete(ed_task *t, void *arg)
{
    int64_t id = (int64_t)(intptr_t)arg;
    for (int i = 0; i < t->nops; i++) {
        ed_operator *op = &t->ops[i];
        if (!op->vt->notify_checkpoint_complete) continue;
        op->vt->notify_checkpoint_complete(op, id);
        if (op->err.set) {
            ed_job_fail(t->job, "operator '%s' (subtask %d/%d) failed: %s", op->node->name,
                        t->subtask + 1, op->ctx.parallelism, op->err.msg);
            return;
        }
    }
}

void ed_task_mark_acked(ed_task *t, int64_t id)
{
    pthread_mutex_lock(&t->job->fin_mu);
    if (id > t->acked_id) t->acked_id = id;
    pthread_mutex_unlock(&t->job->fin_mu);
}

void ed_job_decline(ed_job *job, int64_t id, const char *reason)
{
    if (ed_coord_decline(job->coord, id, reason))
        ed_job_fail(job, "checkpoint %lld failed and no more failed checkpoints are "
                         "tolerated: %s", (long long)id, reason);
}

void ed_task_decline(ed_task *t, int64_t id, const char *reason)
{
    ed_upload_discard(t, id);
    ed_task_mark_acked(t, id);
    ed_job_decline(t->job, id, reason);
}

int ed_task_snapshot(ed_task *t, int64_t id, bool unaligned, ed_strbuf *lines)
{
    ed_job *job = t->job;
    ed_coord *c = job->coord;
    ed_ckpt_props props = ed_coord_props(c, id);
    if (props.stop) t->stop_id = id; /* even when it declines: the outcome says what next */
    char dir[4096];
    ed_coord_chk_dir(c, id, dir, sizeof dir);
    /* As Flink, the barrier goes on first: the task processes nothing until its snapshot is
     * taken, so the snapshot is still that of the records before the barrier, and the tasks
     * downstream do not wait for this one's files to be written. */
    for (int w = 0; w < t->nwriters; w++)
        if (ed_writer_barrier(t->writers[w], id, t->ckpt_ts, unaligned)) return -1;
    for (int w = 0; w < t->nwriters; w++) ed_writer_flush(t->writers[w]);
    t->dirty = false;
    ed_upload_discard(t, id - 1); /* older checkpoints not submitted can no longer complete */
    ed_err err = {0};
    for (int i = 0; i < t->nops; i++) {
        if (snapshot_operator(t, &t->ops[i], id, dir, lines, &err)) {
            ed_log(ED_WARN, "checkpoint", "checkpoint %lld: task '%s' cannot snapshot: %s",
                   (long long)id, t->name, err.msg);
            ed_task_decline(t, id, err.msg);
            return 1;
        }
    }
    return 0;
}

/* Checkpoint id is acknowledged: rc is ed_coord_ack's. The task that completed it says so
 * and tells every task (two-phase-commit sinks commit). */
static void acknowledged(ed_job *job, int64_t id, int rc, const ed_err *err)
{
    ed_coord *c = job->coord;
    if (rc == 1) {
        ed_ckpt_props props = ed_coord_props(c, id);
        if (props.savepoint) {
            char dir[4096];
            ed_coord_chk_dir(c, id, dir, sizeof dir);
            ed_log(ED_INFO, "checkpoint", "savepoint %lld of job '%s' complete: %s",
                   (long long)id, job->name, dir);
        } else {
            ed_log(ED_INFO, "checkpoint", "checkpoint %lld of job '%s' complete", (long long)id,
                   job->name);
        }
        if (!props.savepoint || props.stop) { /* an intermediate savepoint commits nothing */
            for (int k = 0; k < job->ntasks; k++)
                ed_task_post(job->tasks[k], notify_complete, (void *)(intptr_t)id);
            ed_job_commit_recorded(job, id); /* the last files of sinks finished in it */
        }
    } else if (rc == -1 && err->set) { /* (-2: aborted meanwhile, nothing to say) */
        ed_log(ED_WARN, "checkpoint", "checkpoint %lld: %s", (long long)id, err->msg);
    }
}

void ed_job_ack(ed_job *job, int64_t id, const char *lines)
{
    ed_err err = {0};
    int rc = ed_coord_ack(job->coord, id, lines, job->clock->now_ms(job->clock), &err);
    acknowledged(job, id, rc, &err);
}

void ed_task_ack(ed_task *t, int64_t id, const char *lines) { ed_upload_submit(t, id, lines); }

int ed_task_checkpoint(ed_task *t, int64_t id)
{
    if (!t->job->coord) return 0;
    ed_strbuf lines;
    ed_sb_init(&lines);
    int rc = ed_task_snapshot(t, id, t->job->unaligned && !ed_coord_is_savepoint(t->job->coord, id),
                              &lines);
    if (rc == 0) ed_task_ack(t, id, lines.data);
    ed_sb_free(&lines);
    return rc < 0 ? -1 : 0;
}

static void trigger_mail(ed_task *t, void *arg)
{
    if (t->finished) return;
    int64_t id = (int64_t)(intptr_t)arg;
    t->ckpt_ts = t->job->clock->now_ms(t->job->clock); /* the barrier carries it */
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

static void ack_finished(ed_task *t, int64_t id);

void ed_job_trigger_checkpoint(ed_job *job, int64_t id)
{
    /* under fin_mu, so that a task finishing now either sees id among those triggered
     * or is seen finished here: either way it is acknowledged once */
    pthread_mutex_lock(&job->fin_mu);
    job->triggered[id % ED_ARRAY_LEN(job->triggered)] = id;
    for (int k = 0; k < job->ntasks; k++) {
        ed_task *t = job->tasks[k];
        if (t->finished) {
            if (job->after_finish) ack_finished(t, id); /* a finished source needs no trigger */
        } else if (t->ops[0].vt->poll) {
            ed_task_post(t, trigger_mail, (void *)(intptr_t)id);
        }
    }
    pthread_mutex_unlock(&job->fin_mu);
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

void ed_job_free_restore(ed_job *job)
{
    if (!job->restore) return;
    free(job->restore->e);
    free(job->restore->ch);
    free(job->restore->fin);
    free(job->restore->cm);
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
        if (strncmp(line, "channels ", 9) == 0 || strncmp(line, "finished ", 9) == 0 ||
            strncmp(line, "commits ", 8) == 0) {
            /* in-flight data of a task (unaligned.c); an operator subtask that had ended; the
             * last files of a finished sink */
            bool fin = line[0] == 'f', cm = line[1] == 'o';
            restore_entry x = {0};
            int got = fin ? sscanf(line, "finished %255s %d %d", x.key, &x.subtask, &x.parallelism)
                          : sscanf(line + (cm ? 8 : 9), "%255s %d %d %299s %zu", x.key,
                                   &x.subtask, &x.parallelism, x.file, &x.bytes);
            if (got != (fin ? 3 : 5) || x.subtask < 0 || x.parallelism < 1 ||
                x.subtask >= x.parallelism || strchr(x.file, '/')) {
                free(text);
                return ed_err_set(err, "%s: line %d: malformed %s entry", meta, lineno,
                                  fin ? "finished" : cm ? "commits" : "channels");
            }
            restore_entry **v = fin ? &r->fin : cm ? &r->cm : &r->ch;
            int *nv = fin ? &r->nfin : cm ? &r->ncm : &r->nch;
            *v = ed_xrealloc(*v, sizeof(**v) * (size_t)(*nv + 1));
            (*v)[(*nv)++] = x;
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
    const char *unclaimed = NULL; /* the first by name: tasks acknowledge in any order */
    for (int i = 0; i < r->n; i++) {
        for (int k = 0; k < job->ntasks && !r->e[i].claimed; k++) {
            ed_task *t = job->tasks[k];
            for (int o = 0; o < t->nops; o++) {
                char key[256];
                operator_key(&t->ops[o], key, sizeof key);
                if (strcmp(key, r->e[i].key) == 0) r->e[i].claimed = true;
            }
        }
        if (!r->e[i].claimed && (!unclaimed || strcmp(r->e[i].key, unclaimed) < 0))
            unclaimed = r->e[i].key;
    }
    if (unclaimed && !ignore)
        return ed_err_set(err,
                          "%s holds state of operator '%s', which this job does not have "
                          "(execution.savepoint.ignore-unclaimed-state / "
                          "--allowNonRestoredState to start without it)",
                          r->dir, unclaimed);
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

/* ---- finished tasks --------------------------------------------------------------------------- */

/*
 * With execution.checkpointing.checkpoints-after-tasks-finish (Flink's FLIP-147, on by
 * default), a task that ends does not stop the job's checkpoints. It keeps the own state
 * its operators ended with (a source: no splits left; a file sink: its part counter) and
 * from then on every checkpoint is acknowledged on its behalf, from whichever thread
 * triggers it: each operator is written down as finished ("finished <key> <subtask>
 * <parallelism>" in _metadata) with that own state, but no keyed or operator state (as
 * Flink, whose finished subtasks report empty state). A finished source is not triggered
 * any more, and no barrier comes from a finished task: its channels end instead, which a
 * consumer counts as the barrier. On restore, an operator finished in every subtask is
 * fully finished: a task of such operators runs none of them and ends its outputs at once;
 * an operator finished in some subtasks only is restored as any other, from all of them.
 */

void ed_op_state_key(const ed_operator *op, char *buf, size_t cap) { operator_key(op, buf, cap); }

/*
 * A finished sink's last transactions are committed when the whole job has finished
 * (ed_job_commit_at_end); while it has not, each checkpoint that has the sink's task
 * finished records them ("commits <head key> <subtask> <parallelism> <file> <bytes>", the
 * file of kind ED_CKPT_SINK_TXN), and the first of those to complete makes them, as
 * Flink's final checkpoint commits; a restore from one makes them too (before any task
 * runs, so that a restored sink does not clean them away as stray), through the operator
 * of the same key in the new job (the subtask of the old number modulo the parallelism):
 *
 *   uint32 version 2 | uint32 n | n times: uint32 key length | uint32 data length | key |
 *   data, padded to 8
 */
#define COMMITS_VERSION 2
#define COMMIT_MAX_KEY 255
#define COMMIT_MAX_DATA (16u << 20)

static int record_commits(ed_task *t, int64_t id, const char *dir, ed_strbuf *lines, ed_err *err)
{
    ed_job *job = t->job;
    ed_strbuf body;
    ed_sb_init(&body);
    uint32_t head[2] = {COMMITS_VERSION, 0};
    pthread_mutex_lock(&job->mu);
    for (int i = 0; i < job->nfinal_commits; i++) {
        const struct ed_final_commit *c = &job->final_commits[i];
        if (c->task != t) continue;
        char key[256];
        operator_key(c->op, key, sizeof key);
        uint32_t len[2] = {(uint32_t)strlen(key), (uint32_t)c->len};
        ed_sb_append(&body, len, 8);
        ed_sb_append(&body, key, len[0]);
        ed_sb_append(&body, c->data, c->len);
        static const char zeros[8] = {0};
        size_t n = len[0] + c->len;
        if (ED_ALIGN8(n) != n) ed_sb_append(&body, zeros, ED_ALIGN8(n) - n);
        head[1]++;
    }
    pthread_mutex_unlock(&job->mu);
    int rc = 0;
    if (head[1]) {
        ed_strbuf payload;
        ed_sb_init(&payload);
        ed_sb_append(&payload, head, 8);
        ed_sb_append(&payload, body.data, body.len);
        char key[256], path[4400];
        operator_key(&t->ops[0], key, sizeof key);
        snprintf(path, sizeof path, "%s/%s-commits-%d", dir, key, t->subtask);
        rc = ed_ckpt_write(job->fs, path, ED_CKPT_SINK_TXN, payload.data, payload.len, err);
        if (!rc) {
            ed_sb_printf(lines, "commits %s %d %d %s-commits-%d %zu\n", key, t->subtask,
                         t->vertex->parallelism, key, t->subtask, payload.len);
            pthread_mutex_lock(&job->mu);
            for (int i = 0; i < job->nfinal_commits; i++)
                if (job->final_commits[i].task == t && !job->final_commits[i].recorded_in)
                    job->final_commits[i].recorded_in = id;
            pthread_mutex_unlock(&job->mu);
        }
        ed_sb_free(&payload);
    }
    ed_sb_free(&body);
    return rc;
}

/* The operator of the job with this key and subtask `old % parallelism`, or NULL. */
static ed_operator *op_for_commit(ed_job *job, const char *key, int old)
{
    for (int k = 0; k < job->ntasks; k++) {
        ed_task *t = job->tasks[k];
        for (int o = 0; o < t->nops; o++) {
            ed_operator *op = &t->ops[o];
            char mine[256];
            operator_key(op, mine, sizeof mine);
            if (strcmp(mine, key) == 0 && op->ctx.subtask == old % op->ctx.parallelism)
                return op;
        }
    }
    return NULL;
}

/* Makes the commits of one "commits" entry: file `path` of old subtask `old`. */
static int restore_commit_file(ed_job *job, const char *path, int old, ed_err *err)
{
    void *data;
    size_t len;
    if (ed_ckpt_read(path, ED_CKPT_SINK_TXN, &data, &len, err)) return -1;
    const uint8_t *p = data, *end = p + len;
    uint32_t head[2] = {0, 0};
    if (len >= 8) memcpy(head, p, 8);
    p += len >= 8 ? 8 : 0;
    int rc = head[0] == COMMITS_VERSION
                 ? 0
                 : ed_err_set(err, "%s: not a list of commits of format %d", path, COMMITS_VERSION);
    for (uint32_t k = 0; k < head[1] && !rc; k++) {
        uint32_t l[2];
        if (end - p < 8) {
            rc = ed_err_set(err, "%s: commit %u is cut short", path, k + 1);
            break;
        }
        memcpy(l, p, 8);
        p += 8;
        size_t n = (size_t)l[0] + l[1];
        if (!l[0] || l[0] > COMMIT_MAX_KEY || l[1] > COMMIT_MAX_DATA ||
            ED_ALIGN8(n) > (size_t)(end - p)) {
            rc = ed_err_set(err, "%s: commit %u is malformed", path, k + 1);
            break;
        }
        char key[COMMIT_MAX_KEY + 1];
        memcpy(key, p, l[0]);
        key[l[0]] = 0;
        ed_operator *op = op_for_commit(job, key, old);
        if (!op || !op->vt->commit_at_end) {
            rc = ed_err_set(err, "%s: commit %u is for operator '%s', which this job does not "
                                 "have as a committing sink", path, k + 1, key);
            break;
        }
        ed_err e = {0};
        if (op->vt->commit_at_end(op, p + l[0], l[1], &e))
            rc = ed_err_set(err, "operator '%s' cannot make the commit recorded in %s: %s",
                            op->node->name, path, e.msg);
        p += ED_ALIGN8(n);
    }
    free(data);
    return rc;
}

/* Makes the commits of finished sinks that the checkpoint the job starts from records. */
int ed_job_restore_commits(ed_job *job, ed_err *err)
{
    struct ed_restore *r = job->restore;
    for (int i = 0; r && i < r->ncm; i++) {
        char path[4500];
        snprintf(path, sizeof path, "%s/%s", r->dir, r->cm[i].file);
        if (restore_commit_file(job, path, r->cm[i].subtask, err)) return -1;
    }
    return 0;
}

/* Acknowledges checkpoint id for finished task t. Holds job->fin_mu. */
static void ack_finished(ed_task *t, int64_t id)
{
    if (id <= t->acked_id) return;
    t->acked_id = id;
    ed_job *job = t->job;
    ed_coord *c = job->coord;
    char dir[4096];
    ed_coord_chk_dir(c, id, dir, sizeof dir);
    ed_strbuf lines;
    ed_sb_init(&lines);
    ed_err err = {0};
    int rc = 0;
    if (t->final_failed)
        rc = ed_err_set(&err, "task '%s' could not keep the state it ended with", t->name);
    for (int i = 0; i < t->nops && !rc; i++) {
        ed_operator *op = &t->ops[i];
        char key[256];
        operator_key(op, key, sizeof key);
        ed_sb_printf(&lines, "finished %s %d %d\n", key, t->subtask, op->ctx.parallelism);
        ed_strbuf *own = t->final_state ? t->final_state[i] : NULL;
        if (!own || !own->len) continue;
        ed_strbuf payload;
        ed_sb_init(&payload);
        put_section(&payload, ED_SECTION_OWN, own);
        char path[4400];
        snprintf(path, sizeof path, "%s/%s-%d", dir, key, t->subtask);
        rc = ed_ckpt_write(job->fs, path, ED_CKPT_OPERATOR_STATE, payload.data, payload.len, &err);
        if (!rc)
            ed_sb_printf(&lines, "state %s %d %d %s-%d %zu\n", key, t->subtask,
                         op->ctx.parallelism, key, t->subtask, payload.len);
        ed_sb_free(&payload);
    }
    if (!rc) rc = record_commits(t, id, dir, &lines, &err);
    if (rc) {
        /* (a checkpoint aborted meanwhile has no directory: declining it changes nothing) */
        if (ed_coord_decline(c, id, err.msg))
            ed_job_fail(job, "checkpoint %lld failed and no more failed checkpoints are "
                             "tolerated: %s", (long long)id, err.msg);
    } else {
        rc = ed_coord_ack(c, id, lines.data, job->clock->now_ms(job->clock), &err);
        acknowledged(job, id, rc, &err);
    }
    ed_sb_free(&lines);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void ed_task_finished(ed_task *t)
{
    ed_job *job = t->job;
    if (job->coord && job->after_finish && !t->restored_finished) {
        t->final_state = ed_xcalloc((size_t)t->nops, sizeof(void *));
        for (int i = 0; i < t->nops && !t->final_failed; i++) {
            ed_operator *op = &t->ops[i];
            if (!op->vt->snapshot) continue;
            ed_strbuf *sb = ed_xmalloc(sizeof(*sb));
            ed_sb_init(sb);
            t->final_state[i] = sb;
            if (op->vt->snapshot(op, t->acked_id, sb)) {
                ed_log(ED_WARN, "checkpoint", "task '%s' cannot keep the state it ended with: "
                       "%s; checkpoints fail from now on", t->name,
                       op->err.set ? op->err.msg : "snapshot failed");
                t->final_failed = true;
            }
        }
    }
    pthread_mutex_lock(&job->fin_mu);
    t->finished = true;
    if (job->coord && job->after_finish) {
        /* the checkpoints pending that it took no part in are acknowledged now, oldest first */
        int64_t ids[ED_ARRAY_LEN(job->triggered)];
        size_t n = 0;
        for (size_t i = 0; i < ED_ARRAY_LEN(job->triggered); i++)
            if (job->triggered[i] > t->acked_id) ids[n++] = job->triggered[i];
        qsort(ids, n, sizeof ids[0], cmp_i64);
        for (size_t i = 0; i < n; i++) ack_finished(t, ids[i]);
    }
    pthread_mutex_unlock(&job->fin_mu);
}

void ed_task_free_final_state(ed_task *t)
{
    if (!t->final_state) return;
    for (int i = 0; i < t->nops; i++) {
        if (!t->final_state[i]) continue;
        ed_sb_free(t->final_state[i]);
        free(t->final_state[i]);
    }
    free(t->final_state);
    t->final_state = NULL;
}

/* Whether every subtask of operator `key` had finished in the checkpoint. */
static bool fully_finished(const struct ed_restore *r, const char *key)
{
    int par = 0, n = 0;
    for (int i = 0; i < r->nfin; i++) {
        if (strcmp(r->fin[i].key, key)) continue;
        par = r->fin[i].parallelism;
        n++;
    }
    return par && n >= par;
}

int ed_job_mark_restored_finished(ed_job *job, ed_err *err)
{
    struct ed_restore *r = job->restore;
    if (!r || !r->nfin) return 0;
    for (int k = 0; k < job->ntasks; k++) {
        ed_task *t = job->tasks[k];
        const ed_operator *fin = NULL, *running = NULL;
        for (int o = 0; o < t->nops; o++) {
            char key[256];
            operator_key(&t->ops[o], key, sizeof key);
            if (fully_finished(r, key))
                fin = &t->ops[o];
            else
                running = &t->ops[o];
        }
        if (fin && running)
            return ed_err_set(err, "cannot restore %s: operator '%s' had finished in every subtask "
                                   "when the checkpoint was taken, but operator '%s', chained "
                                   "with it in task '%s', had not",
                              r->dir, fin->node->name, running->node->name, t->name);
        t->restored_finished = fin != NULL;
    }
    return 0;
}
