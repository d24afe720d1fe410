/*
 * env.c - the execution environment: configuration, running a job, cancelling it.
 *
 * Under `eddy run` an execution has a control endpoint (runtime/control.h) for its whole
 * life, across restarts, with one JobID. Its requests act on the attempt running at the
 * time; an attempt's job is destroyed only once no request uses it any more
 * (control_users), and a request that waits for the job to end waits on env->cv.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "../checkpoint/coordinator.h"
#include "../checkpoint/restart.h"
#include "../runtime/control.h"
#include "../runtime/operators.h"
#include "api.h"

const char *eddy_version(void) { return EDDY_VERSION; }

eddy_env *ed_env_new_with(ed_config *cfg, void *code)
{
    eddy_env *env = ed_xcalloc(1, sizeof(*env));
    env->cfg = cfg;
    env->code = code;
    pthread_mutex_init(&env->mu, NULL);
    pthread_cond_init(&env->cv, NULL);
    return env;
}

void ed_env_enable_control(eddy_env *env) { env->control = true; }

eddy_env *eddy_env_new(void) { return ed_env_new_with(ed_config_new(), NULL); }

static void node_free(ed_node *n)
{
    free(n->factory);
    free(n->name);
    free(n->uid);
    eddy_schema_free(n->schema);
    for (int i = 0; i < n->nparams; i++) {
        free(n->params[i].key);
        free(n->params[i].value);
    }
    free(n->params);
    free(n->inputs);
    free(n->keying.fields);
    eddy_schema_free(n->keying.key_schema);
    free(n->keying2.fields);
    eddy_schema_free(n->keying2.key_schema);
    if (n->free_spec) n->free_spec(n->spec);
    free(n->side_tag);
    free(n->blob);
    free(n);
}

void eddy_env_free(eddy_env *env)
{
    if (!env) return;
    for (int i = 0; i < env->sg.nnodes; i++) node_free(env->sg.nodes[i]);
    free(env->sg.nodes);
    for (int i = 0; i < env->nstreams; i++) free(env->streams[i]);
    free(env->streams);
    for (int i = 0; i < env->nresults; i++) ed_result_free(env->results[i]);
    free(env->results);
    ed_config_free(env->cfg);
    pthread_cond_destroy(&env->cv);
    pthread_mutex_destroy(&env->mu);
    free(env);
}

int eddy_env_set(eddy_env *env, const char *key, const char *value)
{
    ed_err e = {0};
    if (ed_config_set(env->cfg, key, value, &e)) {
        ed_err_set(&env->err, "%s", e.msg);
        return -1;
    }
    return 0;
}

const char *eddy_env_get(eddy_env *env, const char *key) { return ed_config_get(env->cfg, key); }

static void set_int(eddy_env *env, const char *key, int v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%d", v);
    eddy_env_set(env, key, buf);
}

void eddy_env_set_parallelism(eddy_env *env, int p) { set_int(env, "parallelism.default", p); }
void eddy_env_set_max_parallelism(eddy_env *env, int p)
{
    set_int(env, "pipeline.max-parallelism", p);
}
int eddy_env_parallelism(eddy_env *env)
{
    return (int)ed_config_get_int(env->cfg, "parallelism.default", 1);
}
const char *eddy_env_error(eddy_env *env) { return env->err.set ? env->err.msg : NULL; }

void eddy_env_cancel(eddy_env *env)
{
    pthread_mutex_lock(&env->mu);
    env->cancel_requested = true;
    if (env->running) ed_job_cancel(env->running);
    if (env->ctl) ed_control_set_state(env->ctl, "CANCELLING");
    pthread_mutex_unlock(&env->mu);
}

/* ---- the control endpoint's requests (on its threads) ------------------------------------- */

static int control_savepoint(void *arg, const char *dir, bool stop, bool drain, char *path,
                             size_t cap, ed_err *err)
{
    eddy_env *env = arg;
    pthread_mutex_lock(&env->mu);
    ed_job *job = env->running;
    if (!job || env->cancel_requested) {
        bool cancelled = env->cancel_requested;
        pthread_mutex_unlock(&env->mu);
        return ed_err_set(err, "the job is not running: %s",
                          cancelled ? "it is being cancelled" : "it is starting or restarting");
    }
    env->control_users++;
    pthread_mutex_unlock(&env->mu);
    int rc = ed_job_savepoint(job, dir, stop, drain, path, cap, err);
    pthread_mutex_lock(&env->mu);
    /* a stop answers once the job has ended: its sources end it after the savepoint */
    while (rc == 0 && stop && env->running == job) pthread_cond_wait(&env->cv, &env->mu);
    env->control_users--;
    pthread_cond_broadcast(&env->cv);
    pthread_mutex_unlock(&env->mu);
    return rc;
}

static int control_cancel(void *arg, ed_err *err)
{
    eddy_env *env = arg;
    eddy_env_cancel(env);
    pthread_mutex_lock(&env->mu);
    while (env->running) pthread_cond_wait(&env->cv, &env->mu);
    pthread_mutex_unlock(&env->mu);
    return 0;
}

static const ed_control_ops control_ops = {control_savepoint, control_cancel};

/* Applies the logging keys; called when a job starts. */
static int apply_logging(eddy_env *env)
{
    const char *lvl = ed_config_get(env->cfg, "log.level");
    if (lvl && ed_log_set_levels(lvl)) return ed_err_set(&env->err, "log.level: bad value '%s'", lvl);
    const char *file = ed_config_get(env->cfg, "log.file");
    if (file && *file && ed_log_set_file(file))
        return ed_err_set(&env->err, "log.file: cannot open '%s'", file);
    return 0;
}

void ed_env_set_fs(eddy_env *env, ed_fs *fs) { env->fs = fs; }

void eddy_env_use_manual_clock(eddy_env *env, int64_t start_ms)
{
    ed_manual_clock_init(&env->manual, start_ms);
    env->use_manual = true;
}

void eddy_env_advance_clock(eddy_env *env, int64_t ms)
{
    if (!env->use_manual) return;
    ed_manual_clock_advance(&env->manual, ms);
    pthread_mutex_lock(&env->mu);
    if (env->running) ed_job_wake(env->running);
    pthread_mutex_unlock(&env->mu);
}

/* One attempt of the job: 0, or -1 with job->err (or env->err for a job that could not be
 * made). *last_ckpt gets the id of its latest completed checkpoint (0: none). */
static int run_attempt(eddy_env *env, ed_config *cfg, const char *name, int64_t first_id,
                       int64_t *last_ckpt, char *ckpt_dir, size_t cap, bool *made,
                       bool *restore_failed)
{
    ed_job *job = ed_xcalloc(1, sizeof(*job));
    ed_err err = {0};
    ed_clock *clock = env->use_manual ? &env->manual.base : ed_clock_system();
    *made = false;
    *restore_failed = false;
    if (ed_job_create(job, &env->sg, cfg, env->code, name, clock, env->fs, &err)) {
        *restore_failed = atomic_load(&job->restore_failed);
        ed_err_set(&env->err, "job '%s': %s", name, err.msg);
        ed_job_destroy(job);
        free(job);
        return -1;
    }
    if (env->control && ed_job_enable_savepoints(job, ed_control_job_id(env->ctl), &err)) {
        ed_err_set(&env->err, "job '%s': %s", name, err.msg);
        ed_job_destroy(job);
        free(job);
        return -1;
    }
    *made = true;
    job->submitted_ms = env->submitted_ms;
    job->submitted_mono_ns = env->submitted_mono_ns;
    if (job->coord) ed_coord_resume_ids(job->coord, first_id);
    for (int i = 0; i < env->sg.nnodes; i++) {
        ed_node *n = env->sg.nodes[i];
        if (n->result) ed_result_prepare(n->result, job->jg.node_parallelism[i]);
    }
    pthread_mutex_lock(&env->mu);
    env->running = job;
    if (env->cancel_requested) ed_job_cancel(job);
    else if (env->ctl) ed_control_set_state(env->ctl, "RUNNING");
    pthread_mutex_unlock(&env->mu);
    int rc = ed_job_run(job);
    pthread_mutex_lock(&env->mu);
    env->running = NULL;
    pthread_cond_broadcast(&env->cv);
    while (env->control_users) pthread_cond_wait(&env->cv, &env->mu);
    pthread_mutex_unlock(&env->mu);
    if (rc) ed_err_set(&env->err, "%s", job->err.msg);
    for (int i = 0; i < env->sg.nnodes; i++)
        if (env->sg.nodes[i]->result) ed_result_finish(env->sg.nodes[i]->result);
    *restore_failed = atomic_load(&job->restore_failed);
    *last_ckpt = 0;
    if (job->coord) {
        ed_coord_stats st = ed_coord_get_stats(job->coord);
        *last_ckpt = st.last_completed_id;
        if (st.last_completed_id) ed_coord_chk_dir(job->coord, st.last_completed_id, ckpt_dir, cap);
    }
    ed_job_destroy(job);
    free(job);
    return rc;
}

/*
 * Runs the job; when it fails and the restart strategy allows, starts it again from its
 * latest completed checkpoint (or from where it started, when it completed none), as
 * Flink's failover of a whole job.
 */
int eddy_execute(eddy_env *env, const char *job_name)
{
    if (env->err.set) return -1;
    if (apply_logging(env)) return -1;
    const char *cfg_name = ed_config_get(env->cfg, "pipeline.name");
    const char *name = cfg_name && *cfg_name ? cfg_name : job_name ? job_name : "eddy job";
    ed_err err = {0};
    ed_restart *restart = ed_restart_new(env->cfg, &err);
    if (!restart) {
        ed_err_set(&env->err, "job '%s': %s", name, err.msg);
        return -1;
    }
    ed_control *ctl = NULL;
    if (env->control) {
        ctl = ed_control_start(&control_ops, env, name, &err);
        if (!ctl) {
            ed_err_set(&env->err, "job '%s': %s", name, err.msg);
            ed_restart_free(restart);
            return -1;
        }
        ed_log(ED_INFO, "runtime", "Job has been submitted with JobID %s (control endpoint "
               "127.0.0.1:%d)", ed_control_job_id(ctl), ed_control_port(ctl));
        pthread_mutex_lock(&env->mu);
        env->ctl = ctl;
        pthread_mutex_unlock(&env->mu);
    }
    ed_config *cfg = ed_config_copy(env->cfg);
    ed_clock *clock = env->use_manual ? &env->manual.base : ed_clock_system();
    env->submitted_ms = clock->now_ms(clock);
    env->submitted_mono_ns = ed_mono_ns();
    int64_t last_id = 0, restoring_id = 0;
    char root[4096] = ""; /* <checkpoint dir>/<job>, once a checkpoint completed */
    int rc;
    for (int attempt = 1;; attempt++) {
        char dir[4096] = "";
        int64_t id = 0;
        bool made, restore_failed;
        rc = run_attempt(env, cfg, name, last_id, &id, dir, sizeof dir, &made, &restore_failed);
        if (rc == 0) break;
        if (restore_failed && restoring_id && root[0]) {
            /* the checkpoint cannot be read back: fall back to the one before it */
            char older[4096];
            int64_t prev = ed_ckpt_latest_below(root, restoring_id, older, sizeof older);
            if (!prev) break;
            ed_log(ED_WARN, "runtime", "job '%s': checkpoint %lld cannot be restored (%s); "
                   "falling back to checkpoint %lld", name, (long long)restoring_id,
                   env->err.msg, (long long)prev);
            restoring_id = prev;
            ed_config_set(cfg, "execution.savepoint.path", older, &err);
            ed_err_clear(&env->err);
            continue;
        }
        if (!made) break;
        pthread_mutex_lock(&env->mu);
        bool cancelled = env->cancel_requested;
        pthread_mutex_unlock(&env->mu);
        if (cancelled) break;
        int64_t delay = ed_restart_after_failure(restart, ed_mono_ns() / 1000000);
        if (delay < 0) {
            if (attempt > 1)
                ed_log(ED_ERROR, "runtime", "job '%s': restart strategy %s allows no more restarts",
                       name, ed_restart_name(restart));
            break;
        }
        if (id) {
            last_id = id;
            restoring_id = id;
            snprintf(root, sizeof root, "%s", dir);
            char *slash = strrchr(root, '/');
            if (slash) *slash = 0;
            ed_config_set(cfg, "execution.savepoint.path", dir, &err);
        }
        ed_control_set_state(ctl, "RESTARTING");
        ed_log(ED_WARN, "runtime", "job '%s' failed (%s); restarting in %lld ms from %s", name,
               env->err.msg, (long long)delay,
               id ? dir : last_id ? "its latest checkpoint" : "the beginning");
        /* sleep in slices, so that a cancel is not held up */
        for (int64_t waited = 0; waited < delay; waited += 10) {
            pthread_mutex_lock(&env->mu);
            cancelled = env->cancel_requested;
            pthread_mutex_unlock(&env->mu);
            if (cancelled) break;
            ed_sleep_ns((delay - waited < 10 ? delay - waited : 10) * 1000000LL);
        }
        if (cancelled) break;
        ed_err_clear(&env->err);
    }
    pthread_mutex_lock(&env->mu);
    env->ctl = NULL;
    pthread_mutex_unlock(&env->mu);
    ed_control_stop(ctl);
    ed_config_free(cfg);
    ed_restart_free(restart);
    return rc;
}
