/*
 * job.c - the execution graph: tasks, operators, writers and channels of a job in this
 * process (the embedded mini-cluster), and running them.
 *
 * For every vertex of the job graph and every subtask of it, one task; in each task one
 * operator per chained node, wired to each other by direct targets. For every job edge
 * and every producer subtask, one writer holding the channels the partitioner may pick:
 * the same subtask for FORWARD, a contiguous group for RESCALE, all of them otherwise.
 * A task's output pool holds buffers-per-channel buffers for each of its channels plus
 * the floating ones, and is the only memory its outputs ever use.
 *
 * A job that may be asked for savepoints (one run by `eddy run`) always has a checkpoint
 * coordinator; without execution.checkpointing.interval it triggers nothing by itself.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../base/log.h"
#include "../checkpoint/coordinator.h"
#include "task.h"
#include "upload.h"

int ed_task_start(ed_task *t);

void ed_job_fail(ed_job *job, const char *fmt, ...)
{
    pthread_mutex_lock(&job->mu);
    if (!job->err.set) {
        va_list ap;
        va_start(ap, fmt);
        ed_err_vset(&job->err, fmt, ap);
        va_end(ap);
        ed_log(ED_ERROR, "runtime", "job '%s' failed: %s", job->name, job->err.msg);
    }
    pthread_mutex_unlock(&job->mu);
    ed_job_cancel(job);
}

void ed_job_wake(ed_job *job)
{
    if (job->coord) {
        pthread_mutex_lock(&job->coord_mu);
        pthread_cond_signal(&job->coord_cv);
        pthread_mutex_unlock(&job->coord_mu);
    }
    for (int i = 0; i < job->ntasks; i++) {
        atomic_fetch_add(&job->tasks[i]->gate.pending, 1);
        ed_gate_notify(&job->tasks[i]->gate);
    }
}

void ed_job_cancel(ed_job *job)
{
    atomic_store(&job->cancel, true);
    for (int i = 0; i < job->ntasks; i++) {
        ed_task *t = job->tasks[i];
        ed_gate_notify(&t->gate);
        pthread_mutex_lock(&t->pool.mu);
        pthread_cond_broadcast(&t->pool.cv);
        pthread_mutex_unlock(&t->pool.mu);
    }
}

static const ed_factory *node_factory(const ed_node *n)
{
    ed_factory_kind k = n->kind == ED_NODE_SOURCE ? ED_FACTORY_SOURCE
                        : n->kind == ED_NODE_SINK ? ED_FACTORY_SINK
                                                  : ED_FACTORY_OPERATOR;
    return ed_factory_find(n->factory, k);
}

/* The output of `op` that records for `side` (NULL: the main output) leave through. */
static ed_output *output_for(ed_operator *op, const char *side)
{
    if (!side) return &op->out;
    ed_output *o = &op->out;
    for (int i = 0; i < o->nsides; i++)
        if (strcmp(o->sides[i].tag, side) == 0) return o->sides[i].out;
    o->sides = ed_xrealloc(o->sides, sizeof(ed_side_out) * (size_t)(o->nsides + 1));
    ed_output *so = ed_xcalloc(1, sizeof(*so));
    so->op = op;
    o->sides[o->nsides++] = (ed_side_out){side, so};
    return so;
}

static void add_target(ed_output *o, ed_target t)
{
    o->targets = ed_xrealloc(o->targets, sizeof(ed_target) * (size_t)(o->ntargets + 1));
    o->targets[o->ntargets++] = t;
}

static ed_task *task_of(ed_job *job, int vertex, int subtask)
{
    int idx = 0;
    for (int v = 0; v < vertex; v++) idx += job->jg.vertices[v].parallelism;
    return job->tasks[idx + subtask];
}

/* Consumers of producer subtask i on an edge: [*lo, *hi). */
static void edge_targets(const ed_jedge *e, int pu, int pd, int i, int *lo, int *hi)
{
    switch (e->partitioner) {
    case ED_PART_FORWARD:
        *lo = i;
        *hi = i + 1;
        break;
    case ED_PART_RESCALE:
        if (pu >= pd) {
            *lo = (int)((int64_t)i * pd / pu);
            *hi = *lo + 1;
        } else {
            *lo = (int)((int64_t)i * pd / pu);
            *hi = (int)((int64_t)(i + 1) * pd / pu);
        }
        break;
    default:
        *lo = 0;
        *hi = pd;
    }
}

static int make_task(ed_job *job, const ed_vertex *v, int s, ed_task **out, ed_err *err)
{
    ed_task *t = ed_xcalloc(1, sizeof(*t));
    *out = t;
    t->job = job;
    t->vertex = v;
    t->subtask = s;
    t->watermark = INT64_MIN;
    t->la_due = INT64_MAX;
    pthread_mutex_init(&t->mail_mu, NULL);
    ed_gate_init(&t->gate);
    ed_strbuf sb;
    ed_sb_init(&sb);
    ed_sb_printf(&sb, "%s (%d/%d)", v->name, s + 1, v->parallelism);
    t->name = ed_sb_steal(&sb);
    t->buffer_timeout_ns =
        ed_config_get_duration_ms(job->cfg, "execution.buffer-timeout", 100) * 1000000LL;
    t->nops = v->nnodes;
    t->ops = ed_xcalloc((size_t)v->nnodes, sizeof(ed_operator));
    for (int k = 0; k < v->nnodes; k++) {
        const ed_node *n = job->sg->nodes[v->nodes[k]];
        ed_operator *op = &t->ops[k];
        const ed_factory *f = node_factory(n);
        if (!f) return ed_err_set(err, "operator '%s': unknown kind '%s'", n->name, n->factory);
        op->vt = f->vt;
        op->node = n;
        op->task = t;
        op->index = k;
        op->ctx = (struct eddy_ctx){.op = op,
                                    .subtask = s,
                                    .parallelism = v->parallelism,
                                    .max_parallelism = job->jg.max_parallelism,
                                    .ts = ED_TS_NONE};
        op->out.op = op;
        op->watermark = INT64_MIN;
        op->pt_callback_at = INT64_MAX;
        if (n->schema) op->out.rb = eddy_rb_new_schema(n->schema);
        if (n->keying.keyed && n->kind == ED_NODE_OPERATOR && ed_op_keyed_init(op, err))
            return ed_err_wrap(err, "operator '%s'", n->name);
    }
    /* chained targets */
    for (int k = 1; k < v->nnodes; k++) {
        const ed_jinput *in = &job->jg.inputs[v->nodes[k]].v[0];
        ed_operator *from = ed_task_operator(t, in->from);
        ed_assert(from);
        add_target(output_for(from, in->side_tag), (ed_target){.op = &t->ops[k], .input = 0});
    }
    return 0;
}

static int make_writer(ed_job *job, ed_task *t, const ed_jedge *e, ed_writer **out, ed_err *err)
{
    ed_writer *w = ed_xcalloc(1, sizeof(*w));
    *out = w;
    w->part = e->partitioner;
    w->task = t;
    w->edge = e;
    w->pool = &t->pool;
    w->max_parallelism = job->jg.max_parallelism;
    w->rr = (uint32_t)t->subtask;
    w->rng = (uint64_t)t->subtask * 7919u + 1;
    w->producer = ed_task_operator(t, e->from_node);
    ed_assert(w->producer);
    const ed_node *pn = e->part_node;
    if (w->part == ED_PART_HASH || w->part == ED_PART_CUSTOM) {
        ed_assert(pn);
        const eddy_schema *in_schema = job->sg->nodes[e->from_node]->schema;
        if (pn->keying.key_fn.name || pn->keying.key_fn.ptr) {
            w->key_fn = (eddy_key_fn)ed_op_resolve(w->producer, &pn->keying.key_fn);
            if (!w->key_fn) return ed_err_set(err, "%s", w->producer->err.msg);
            ed_keyspec_all(&w->ks, pn->keying.key_schema);
            w->key_rb = eddy_rb_new_schema(pn->keying.key_schema);
        } else if (ed_keyspec_parse(&w->ks, in_schema, pn->keying.fields, err)) {
            return -1;
        } else if (w->part == ED_PART_CUSTOM) {
            /* the custom partitioner sees the key fields as a row of their own */
            ed_strbuf sb;
            ed_sb_init(&sb);
            for (uint32_t i = 0; i < w->ks.n; i++)
                ed_sb_printf(&sb, "%sk%u %s", i ? ", " : "", i, eddy_type_name(w->ks.type[i]));
            char msg[256];
            eddy_schema *ks = eddy_schema_parse(sb.data, msg, sizeof(msg));
            ed_sb_free(&sb);
            ed_assert(ks);
            w->key_rb = eddy_rb_new_schema(ks);
            eddy_schema_free(ks);
        }
        if (w->part == ED_PART_CUSTOM) {
            w->part_fn = (eddy_partition_fn)ed_op_resolve(w->producer, &pn->partition_fn);
            if (!w->part_fn) return ed_err_set(err, "%s", w->producer->err.msg);
        }
        w->keycap = 256;
        w->keybuf = ed_xmalloc(w->keycap);
    }
    w->kg_mod = ed_fastmod_init((uint32_t)w->max_parallelism);
    add_target(output_for(w->producer, e->side_tag), (ed_target){.writer = w});
    return 0;
}

/* How the job's checkpoints are taken, once it has a coordinator. 0, or -1 with err. */
static int checkpoint_options(ed_job *job, ed_err *err)
{
    bool unaligned = ed_config_get_bool(job->cfg, "execution.checkpointing.unaligned", false);
    /* as Flink, unaligned checkpoints are for EXACTLY_ONCE only (AT_LEAST_ONCE ignores it) */
    job->unaligned = unaligned && job->coord && ed_coord_exactly_once(job->coord);
    job->aligned_timeout_ms = ed_config_get_duration_ms(
        job->cfg, "execution.checkpointing.aligned-checkpoint-timeout", 0);
    if (job->aligned_timeout_ms < 0)
        return ed_err_set(err, "execution.checkpointing.aligned-checkpoint-timeout: %lld ms is "
                               "negative", (long long)job->aligned_timeout_ms);
    job->after_finish = ed_config_get_bool(
        job->cfg, "execution.checkpointing.checkpoints-after-tasks-finish", true);
    return 0;
}

/* The task threads' malloc heaps grow in 32 MB steps rather than by what each request
 * needs: every growth is an mprotect, and an mprotect in a process with threads on other
 * CPUs interrupts them all to flush their TLBs (Nexmark q11 at p=2 made 1,150 of them;
 * 29 now, and q8 at p=2 went from 25 M to 29 M events/s). Only address space is reserved
 * by it: pages count when touched. Left alone when MALLOC_TOP_PAD_ says otherwise. */
static void grow_heaps_in_steps(void)
{
    if (!getenv("MALLOC_TOP_PAD_")) mallopt(M_TOP_PAD, 32 << 20);
}

int ed_job_create(ed_job *job, const ed_stream_graph *sg, ed_config *cfg, void *code,
                  const char *name, ed_clock *clock, ed_fs *fs, ed_err *err)
{
    memset(job, 0, sizeof(*job));
    job->fs = fs ? fs : ed_fs_default();
    job->clock = clock ? clock : ed_clock_system();
    pthread_mutex_init(&job->coord_mu, NULL);
    pthread_cond_init(&job->coord_cv, NULL);
    pthread_mutex_init(&job->fin_mu, NULL);
    job->sg = sg;
    job->cfg = cfg;
    job->code = code;
    job->name = ed_xstrdup(name);
    pthread_mutex_init(&job->mu, NULL);
    if (ed_job_graph_build(sg, cfg, &job->jg, err)) return -1;
    ed_job_graph *jg = &job->jg;

    for (int v = 0; v < jg->nvertices; v++) job->ntasks += jg->vertices[v].parallelism;
    job->tasks = ed_xcalloc((size_t)job->ntasks, sizeof(ed_task *));
    int idx = 0;
    for (int v = 0; v < jg->nvertices; v++)
        for (int s = 0; s < jg->vertices[v].parallelism; s++)
            if (make_task(job, &jg->vertices[v], s, &job->tasks[idx++], err)) return -1;

    /* size each task's pool by its output channels */
    int64_t seg = ed_config_get_bytes(cfg, "taskmanager.memory.segment-size", 32768);
    int per_ch = (int)ed_config_get_int(cfg, "taskmanager.network.memory.buffers-per-channel", 2);
    int floating =
        (int)ed_config_get_int(cfg, "taskmanager.network.memory.floating-buffers-per-gate", 8);
    if (seg < 256 || seg > (1 << 30))
        return ed_err_set(err, "taskmanager.memory.segment-size: %lld bytes is outside [256 b, 1 gb]",
                          (long long)seg);
    int *nch = ed_xcalloc((size_t)job->ntasks, sizeof(int));
    for (int e = 0; e < jg->nedges; e++) {
        const ed_jedge *ed = &jg->edges[e];
        int pu = jg->vertices[ed->from_vertex].parallelism;
        int pd = jg->vertices[ed->to_vertex].parallelism;
        for (int i = 0; i < pu; i++) {
            int lo, hi;
            edge_targets(ed, pu, pd, i, &lo, &hi);
            ed_task *t = task_of(job, ed->from_vertex, i);
            for (int k = 0; k < job->ntasks; k++)
                if (job->tasks[k] == t) nch[k] += hi - lo;
        }
    }
    for (int k = 0; k < job->ntasks; k++) {
        int n = nch[k] ? nch[k] * per_ch + floating : 0;
        if (ed_pool_init(&job->tasks[k]->pool, n, (uint32_t)seg, &job->cancel)) {
            free(nch);
            return ed_err_set(err, "out of memory for %d network buffers of %lld bytes", n,
                              (long long)seg);
        }
    }
    free(nch);
    static pthread_once_t heap_once = PTHREAD_ONCE_INIT;
    pthread_once(&heap_once, grow_heaps_in_steps);
    /* more tasks than CPUs: a waiting task gives its CPU up at once rather than spinning
     * while the task it waits for may need that CPU */
    if (job->ntasks > ed_cpus_allowed())
        for (int k = 0; k < job->ntasks; k++) job->tasks[k]->pool.spin_ns = job->tasks[k]->gate.spin_ns = 0;

    /* writers and channels */
    for (int e = 0; e < jg->nedges; e++) {
        const ed_jedge *ed = &jg->edges[e];
        int pu = jg->vertices[ed->from_vertex].parallelism;
        int pd = jg->vertices[ed->to_vertex].parallelism;
        for (int i = 0; i < pu; i++) {
            ed_task *t = task_of(job, ed->from_vertex, i);
            ed_writer *w;
            t->writers = ed_xrealloc(t->writers, sizeof(ed_writer *) * (size_t)(t->nwriters + 1));
            if (make_writer(job, t, ed, &w, err)) {
                t->writers[t->nwriters++] = w;
                return -1;
            }
            t->writers[t->nwriters++] = w;
            int lo, hi;
            edge_targets(ed, pu, pd, i, &lo, &hi);
            w->n = hi - lo;
            w->ch = ed_xcalloc((size_t)w->n, sizeof(ed_channel *));
            if (w->part == ED_PART_HASH) {
                w->kg_channel = ed_xcalloc((size_t)jg->max_parallelism, sizeof(uint16_t));
                for (int kg = 0; kg < jg->max_parallelism; kg++)
                    w->kg_channel[kg] =
                        (uint16_t)ed_key_group_to_subtask(kg, jg->max_parallelism, w->n);
            }
            for (int j = lo; j < hi; j++) {
                ed_task *c = task_of(job, ed->to_vertex, j);
                ed_channel *ch = aligned_alloc(64, (sizeof(ed_channel) + 63) & ~(size_t)63);
                ed_channel_init(ch, t->pool.size, &c->gate, ed->to_input);
                ch->src = w;
                ed_gate_add(&c->gate, ch);
                w->ch[j - lo] = ch;
                job->channels =
                    ed_xrealloc(job->channels, sizeof(ed_channel *) * (size_t)(job->nchannels + 1));
                job->channels[job->nchannels++] = ch;
            }
        }
    }
    /* the checkpoint to start from, when given: its finished operators and in-flight data */
    if (ed_job_prepare_restore(job, err) || ed_job_mark_restored_finished(job, err) ||
        ed_job_restore_commits(job, err) || ed_job_restore_channels(job, err)) {
        atomic_store(&job->restore_failed, true);
        return -1;
    }
    /* checkpointing, when configured */
    ed_err_clear(err);
    job->coord = ed_coord_new(cfg, name, job->ntasks, jg->max_parallelism, job->fs, err);
    if (!job->coord && err->set) return -1;
    if (checkpoint_options(job, err)) return -1;
    /* per-input channel counts at each head */
    for (int k = 0; k < job->ntasks; k++) {
        ed_task *t = job->tasks[k];
        int ninputs = t->ops[0].node->ninputs > 0 ? t->ops[0].node->ninputs : 0;
        t->ninputs = ninputs;
        t->input_channels = ed_xcalloc((size_t)ninputs + 1, sizeof(int));
        t->input_ended = ed_xcalloc((size_t)ninputs + 1, sizeof(int));
        for (int c = 0; c < t->gate.n; c++) t->input_channels[t->gate.ch[c]->input]++;
    }
    return 0;
}

void ed_job_commit_at_end(ed_job *job, ed_operator *op, const void *data, size_t len)
{
    void *copy = ed_xmalloc(len ? len : 1);
    if (len) memcpy(copy, data, len);
    pthread_mutex_lock(&job->mu);
    job->final_commits = ed_xrealloc(job->final_commits, sizeof(*job->final_commits) *
                                                             (size_t)(job->nfinal_commits + 1));
    job->final_commits[job->nfinal_commits++] =
        (struct ed_final_commit){op, copy, len, op->task, 0, false};
    pthread_mutex_unlock(&job->mu);
}

/* Makes the commits of job->final_commits that pick(c, id) selects (outside job->mu: a
 * commit may take its time); the job fails when one cannot be made. */
static void final_commits(ed_job *job, bool (*pick)(const struct ed_final_commit *, int64_t),
                          int64_t id)
{
    pthread_mutex_lock(&job->mu);
    int n = 0;
    struct ed_final_commit *todo =
        ed_xmalloc(sizeof(*todo) * (size_t)(job->nfinal_commits ? job->nfinal_commits : 1));
    for (int i = 0; i < job->nfinal_commits; i++) {
        struct ed_final_commit *c = &job->final_commits[i];
        if (c->done || !pick(c, id)) continue;
        c->done = true;
        todo[n++] = *c; /* its data lives as long as the job */
    }
    pthread_mutex_unlock(&job->mu);
    ed_err failed = {0};
    for (int i = 0; i < n; i++) {
        ed_operator *op = todo[i].op;
        ed_err e = {0};
        if (op->vt->commit_at_end(op, todo[i].data, todo[i].len, &e) && !failed.set)
            ed_err_set(&failed, "operator '%s' (subtask %d/%d) failed to commit: %s",
                       op->node->name, op->ctx.subtask + 1, op->ctx.parallelism, e.msg);
    }
    free(todo);
    if (failed.set) ed_job_fail(job, "%s", failed.msg);
}

static bool recorded_by(const struct ed_final_commit *c, int64_t id)
{
    return c->recorded_in && c->recorded_in <= id;
}

static bool any_commit(const struct ed_final_commit *c, int64_t id) { return true; }

void ed_job_commit_recorded(ed_job *job, int64_t id) { final_commits(job, recorded_by, id); }

int ed_job_run(ed_job *job)
{
    int64_t start = ed_mono_ns();
    ed_log(ED_INFO, "runtime", "job '%s' starting: %d tasks, %d channels", job->name,
           job->ntasks, job->nchannels);
    ed_err uerr = {0};
    if (job->coord && ed_upload_start(job, &uerr)) /* without: tasks write their own files */
        ed_log(ED_WARN, "checkpoint", "job '%s': %s; tasks write their checkpoint files "
               "themselves", job->name, uerr.msg);
    int started = 0;
    for (; started < job->ntasks; started++) {
        if (ed_task_start(job->tasks[started])) {
            ed_job_fail(job, "cannot start a thread for task '%s'", job->tasks[started]->name);
            break;
        }
    }
    if (job->coord && started == job->ntasks) {
        if (pthread_create(&job->coord_thread, NULL, ed_job_coordinator_main, job) == 0)
            job->coord_started = true;
        else
            ed_job_fail(job, "cannot start the checkpoint coordinator's thread");
    }
    for (int i = 0; i < started; i++) pthread_join(job->tasks[i]->thread, NULL);
    ed_upload_drain(job); /* the tasks' last checkpoint files, and their acknowledgements */
    /* whatever is still pending fails now (also when no task ever started), so that no
     * one waits for a savepoint of a job that has ended */
    if (job->coord) ed_coord_stop(job->coord);
    if (job->coord_started) {
        pthread_mutex_lock(&job->coord_mu);
        job->done = true;
        pthread_cond_signal(&job->coord_cv);
        pthread_mutex_unlock(&job->coord_mu);
        pthread_join(job->coord_thread, NULL);
        job->coord_started = false;
    }
    ed_upload_stop(job);
    if (job->coord) ed_coord_sweep(job->coord);
    double secs = (double)(ed_mono_ns() - start) / 1e9;
    /* the job succeeded: the sinks' last files become visible */
    if (!job->err.set && !atomic_load(&job->cancel)) final_commits(job, any_commit, 0);
    if (job->err.set) return -1;
    if (atomic_load(&job->cancel)) {
        ed_err_set(&job->err, "job '%s' was cancelled", job->name);
        ed_log(ED_INFO, "runtime", "job '%s' cancelled after %.3f s", job->name, secs);
        return -1;
    }
    ed_log(ED_INFO, "runtime", "job '%s' finished in %.3f s", job->name, secs);
    return 0;
}

int ed_job_enable_savepoints(ed_job *job, const char *job_id, ed_err *err)
{
    /* a periodic coordinator is made again, now knowing the job id savepoints are named by */
    ed_coord *c = ed_coord_new_on_request(job->cfg, job->name, job_id, job->ntasks,
                                          job->jg.max_parallelism, job->fs, err);
    if (!c) return -1;
    ed_coord_free(job->coord);
    job->coord = c;
    return checkpoint_options(job, err);
}

int ed_job_savepoint(ed_job *job, const char *dir, bool stop, bool drain, char *path, size_t cap,
                     ed_err *err)
{
    if (!job->coord)
        return ed_err_set(err, "job '%s' takes no savepoints (no checkpoint coordinator)",
                          job->name);
    ed_ckpt_props props = {.savepoint = true, .stop = stop, .drain = stop && drain};
    int64_t id = ed_coord_trigger_savepoint(job->coord, dir, props,
                                            job->clock->now_ms(job->clock), err);
    if (!id) return -1;
    char where[4096];
    ed_coord_chk_dir(job->coord, id, where, sizeof where);
    ed_log(ED_INFO, "checkpoint", "triggering savepoint %lld of job '%s'%s into %s", (long long)id,
           job->name, !stop ? "" : props.drain ? " (stop --drain)" : " (stop)", where);
    ed_job_trigger_checkpoint(job, id);
    return ed_coord_savepoint_wait(job->coord, id, path, cap, err);
}

void ed_job_destroy(ed_job *job)
{
    if (!job) return;
    for (int c = 0; c < job->nchannels; c++) {
        ed_channel_destroy(job->channels[c]);
        free(job->channels[c]);
    }
    free(job->channels);
    for (int k = 0; k < job->ntasks; k++) {
        ed_task *t = job->tasks[k];
        if (!t) continue;
        for (int i = 0; i < t->nwriters; i++) {
            ed_writer *w = t->writers[i];
            free(w->ch);
            free(w->kg_channel);
            free(w->keybuf);
            eddy_rb_free(w->key_rb);
            free(w);
        }
        free(t->writers);
        for (int i = 0; i < t->nops; i++) {
            ed_output *o = &t->ops[i].out;
            for (int s = 0; s < o->nsides; s++) {
                free(o->sides[s].out->targets);
                free(o->sides[s].out);
            }
            free(o->sides);
            free(o->targets);
            eddy_rb_free(o->rb);
            ed_op_keyed_free(&t->ops[i]);
            ed_operator_store_free(t->ops[i].op_store);
        }
        ed_ua_free(t);
        ed_upload_free_task(t);
        ed_task_free_final_state(t);
        free(t->ops);
        ed_mail *m = t->mails;
        while (m) {
            ed_mail *n = m->next;
            free(m);
            m = n;
        }
        ed_pool_destroy(&t->pool);
        ed_gate_destroy(&t->gate);
        pthread_mutex_destroy(&t->mail_mu);
        free(t->input_channels);
        free(t->input_ended);
        free(t->name);
        free(t);
    }
    free(job->tasks);
    ed_coord_free(job->coord);
    ed_job_free_restore(job);
    for (int i = 0; i < job->nfinal_commits; i++) {
        free(job->final_commits[i].data);
    }
    for (int i = 0; i < job->nup_failed; i++) free(job->up_failed[i]);
    free(job->up_failed);
    free(job->final_commits);
    pthread_mutex_destroy(&job->coord_mu);
    pthread_cond_destroy(&job->coord_cv);
    pthread_mutex_destroy(&job->fin_mu);
    ed_job_graph_free(&job->jg);
    pthread_mutex_destroy(&job->mu);
    free(job->name);
    memset(job, 0, sizeof(*job));
}
