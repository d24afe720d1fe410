/*
 * coordinator.c - checkpoint bookkeeping (see coordinator.h).
 *
 * A checkpoint moves from pending to complete when the last task acknowledges it: the
 * coordinator then writes _metadata (durably, last), deletes checkpoints beyond
 * execution.checkpointing.num-retained, and reports completion. A decline or a timeout
 * aborts it: its directory is removed and it counts as a failure; more failures in a row
 * than execution.checkpointing.tolerable-failed-checkpoints fail the job, as in Flink.
 *
 * Savepoints go through the same pending table, but each also has a record (id, kind,
 * directory, outcome) that outlives it, so that whoever asked for it can wait for its
 * outcome and tasks can ask what an id is. The records of the last MAX_SAVEPOINTS
 * finished savepoints are kept; pending ones always are.
 */
#include "coordinator.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PENDING 8
#define MAX_SAVEPOINTS 64 /* finished savepoints whose outcome is remembered */

typedef struct pending {
    int64_t id, started;
    int acks;
    int answered; /* acks and declines */
    bool savepoint;
    ed_strbuf lines;
} pending;

/* A savepoint asked for, pending or finished. */
typedef struct savepoint {
    int64_t id;
    ed_ckpt_props props;
    ed_savepoint_state state;
    char *path;  /* its directory */
    char *error; /* why it failed */
} savepoint;

struct ed_coord {
    pthread_mutex_t mu;
    ed_fs *fs;
    char *dir; /* <checkpoint dir>/<job> */
    char *job;
    int ntasks, max_parallelism;
    int64_t interval, timeout, min_pause; /* interval 0: no periodic checkpoints */
    int max_concurrent, tolerable, retained;
    bool exactly_once, stopped;
    bool stop_pending; /* a stop-with-savepoint is pending: no periodic checkpoints */
    bool stop_done;    /* ... it completed: the job is ending, nothing more is triggered */
    char job_id[33];
    char *savepoint_dir; /* execution.checkpointing.savepoint-dir, or NULL */
    savepoint *sp;       /* oldest first */
    int nsp;
    pthread_cond_t sp_cv; /* a savepoint finished */
    int64_t last_id, last_trigger, last_done; /* processing time */
    pending p[MAX_PENDING];
    int npending;
    int64_t *kept; /* completed ids, oldest first */
    int nkept;
    /* aborted checkpoints some task has not answered yet: a task still writing may put
     * files back into the removed directory, so it is removed again once every task has
     * answered, and at the end of the job (ed_coord_sweep) */
    struct aborted {
        int64_t id;
        int answered;
        char *dir;
    } *ab;
    int nab;
    int fails_in_row;
    ed_coord_stats stats;
};

/* The job name made safe for a directory name. */
static char *dir_name(const char *job)
{
    char *s = ed_xstrdup(job && *job ? job : "job");
    for (char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            *p = '_';
    return s;
}

static ed_coord *coord_new(const ed_config *cfg, const char *job, int ntasks,
                           int max_parallelism, ed_fs *fs, bool on_request, ed_err *err)
{
    int64_t interval = ed_config_get_duration_ms(cfg, "execution.checkpointing.interval", 0);
    if (interval < 0) interval = 0;
    if (interval == 0 && !on_request) return NULL;
    const char *dir = ed_config_get(cfg, "execution.checkpointing.dir");
    if (interval > 0 && (!dir || !*dir)) {
        ed_err_set(err, "execution.checkpointing.interval is set but execution.checkpointing.dir "
                        "is not: where should checkpoints go?");
        return NULL;
    }
    const char *mode = ed_config_get(cfg, "execution.checkpointing.mode");
    bool exactly = !mode || strcmp(mode, "EXACTLY_ONCE") == 0;
    if (mode && !exactly && strcmp(mode, "AT_LEAST_ONCE") != 0) {
        ed_err_set(err, "execution.checkpointing.mode: '%s' is not EXACTLY_ONCE or AT_LEAST_ONCE",
                   mode);
        return NULL;
    }
    ed_coord *c = ed_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->sp_cv, NULL);
    c->fs = fs ? fs : ed_fs_default();
    c->job = ed_xstrdup(job ? job : "job");
    snprintf(c->job_id, sizeof c->job_id, "%s", "00000000000000000000000000000000");
    const char *spdir = ed_config_get(cfg, "execution.checkpointing.savepoint-dir");
    if (spdir && *spdir) c->savepoint_dir = ed_xstrdup(spdir);
    if (interval > 0) { /* checked above: dir is set */
        char *safe = dir_name(job);
        ed_strbuf sb;
        ed_sb_init(&sb);
        ed_sb_printf(&sb, "%s/%s", dir, safe);
        free(safe);
        c->dir = ed_sb_steal(&sb);
    }
    c->ntasks = ntasks;
    c->max_parallelism = max_parallelism;
    c->interval = interval;
    c->timeout = ed_config_get_duration_ms(cfg, "execution.checkpointing.timeout", 600000);
    c->min_pause = ed_config_get_duration_ms(cfg, "execution.checkpointing.min-pause", 0);
    c->max_concurrent =
        (int)ed_config_get_int(cfg, "execution.checkpointing.max-concurrent-checkpoints", 1);
    c->tolerable = (int)ed_config_get_int(cfg, "execution.checkpointing.tolerable-failed-checkpoints", 0);
    c->retained = (int)ed_config_get_int(cfg, "execution.checkpointing.num-retained", 1);
    if (c->max_concurrent < 1) c->max_concurrent = 1;
    if (c->max_concurrent > MAX_PENDING) c->max_concurrent = MAX_PENDING;
    if (c->retained < 1) c->retained = 1;
    c->exactly_once = exactly;
    c->last_trigger = INT64_MIN;
    c->last_done = INT64_MIN;
    if (c->dir && ed_mkdirs(c->dir, err)) {
        ed_coord_free(c);
        return NULL;
    }
    return c;
}

ed_coord *ed_coord_new(const ed_config *cfg, const char *job, int ntasks, int max_parallelism,
                       ed_fs *fs, ed_err *err)
{
    return coord_new(cfg, job, ntasks, max_parallelism, fs, false, err);
}

ed_coord *ed_coord_new_on_request(const ed_config *cfg, const char *job, const char *job_id,
                                  int ntasks, int max_parallelism, ed_fs *fs, ed_err *err)
{
    ed_coord *c = coord_new(cfg, job, ntasks, max_parallelism, fs, true, err);
    if (c && job_id && strlen(job_id) == 32) memcpy(c->job_id, job_id, 33);
    return c;
}

void ed_coord_free(ed_coord *c)
{
    if (!c) return;
    for (int i = 0; i < c->npending; i++) ed_sb_free(&c->p[i].lines);
    for (int i = 0; i < c->nsp; i++) {
        free(c->sp[i].path);
        free(c->sp[i].error);
    }
    free(c->sp);
    pthread_cond_destroy(&c->sp_cv);
    pthread_mutex_destroy(&c->mu);
    free(c->kept);
    for (int i = 0; i < c->nab; i++) free(c->ab[i].dir);
    free(c->ab);
    free(c->dir);
    free(c->job);
    free(c->savepoint_dir);
    free(c);
}

bool ed_coord_exactly_once(const ed_coord *c) { return c->exactly_once; }
int64_t ed_coord_interval_ms(const ed_coord *c) { return c->interval; }

/* The record of savepoint id, or NULL. Holds c->mu. */
static savepoint *find_sp(const ed_coord *c, int64_t id)
{
    for (int i = 0; i < c->nsp; i++)
        if (c->sp[i].id == id) return &c->sp[i];
    return NULL;
}

/* The directory of checkpoint id. Holds c->mu. */
static void dir_of(const ed_coord *c, int64_t id, char *buf, size_t cap)
{
    const savepoint *s = find_sp(c, id);
    if (s)
        snprintf(buf, cap, "%s", s->path);
    else
        snprintf(buf, cap, "%s/chk-%lld", c->dir ? c->dir : ".", (long long)id);
}

/* The coordinator's lock guards data the const accessors read. */
static pthread_mutex_t *lock_of(const ed_coord *c) { return (pthread_mutex_t *)&c->mu; }

void ed_coord_chk_dir(const ed_coord *c, int64_t id, char *buf, size_t cap)
{
    pthread_mutex_lock(lock_of(c));
    dir_of(c, id, buf, cap);
    pthread_mutex_unlock(lock_of(c));
}

ed_ckpt_props ed_coord_props(const ed_coord *c, int64_t id)
{
    pthread_mutex_lock(lock_of(c));
    const savepoint *s = find_sp(c, id);
    ed_ckpt_props p = s ? s->props : (ed_ckpt_props){0};
    pthread_mutex_unlock(lock_of(c));
    return p;
}

bool ed_coord_is_savepoint(const ed_coord *c, int64_t id) { return ed_coord_props(c, id).savepoint; }

int64_t ed_coord_maybe_trigger(ed_coord *c, int64_t now, ed_err *err)
{
    pthread_mutex_lock(&c->mu);
    int64_t id = 0;
    if (c->last_trigger == INT64_MIN) c->last_trigger = now; /* the first one interval in */
    int ncheckpoints = 0; /* pending savepoints do not hold checkpoints back */
    for (int i = 0; i < c->npending; i++) ncheckpoints += !c->p[i].savepoint;
    bool due = c->interval > 0 && !c->stopped && !c->stop_pending && !c->stop_done &&
               ncheckpoints < c->max_concurrent && c->npending < MAX_PENDING &&
               now - c->last_trigger >= c->interval &&
               (c->last_done == INT64_MIN || now - c->last_done >= c->min_pause);
    if (due) {
        id = ++c->last_id;
        char dir[4096];
        dir_of(c, id, dir, sizeof dir);
        if (ed_mkdirs(dir, err)) {
            id = 0;
        } else {
            pending *p = &c->p[c->npending++];
            p->id = id;
            p->started = now;
            p->acks = p->answered = 0;
            p->savepoint = false;
            ed_sb_init(&p->lines);
            c->last_trigger = now;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return id;
}

/* Forgets the oldest finished savepoints beyond MAX_SAVEPOINTS. Holds c->mu. */
static void trim_savepoints(ed_coord *c)
{
    int finished = 0;
    for (int i = 0; i < c->nsp; i++) finished += c->sp[i].state != ED_SAVEPOINT_PENDING;
    for (int i = 0; i < c->nsp && finished > MAX_SAVEPOINTS;) {
        if (c->sp[i].state == ED_SAVEPOINT_PENDING) {
            i++;
            continue;
        }
        free(c->sp[i].path);
        free(c->sp[i].error);
        memmove(&c->sp[i], &c->sp[i + 1], sizeof(savepoint) * (size_t)(c->nsp - i - 1));
        c->nsp--;
        finished--;
    }
}

/* Makes <dir>/savepoint-<job id:6>-<random:12>, a directory nobody else has; its path in
 * out. Holds c->mu. */
static int make_savepoint_dir(ed_coord *c, const char *dir, char *out, size_t cap, ed_err *err)
{
    if (ed_mkdirs(dir, err)) return ed_err_wrap(err, "savepoint directory");
    for (int attempt = 0; attempt < 8; attempt++) {
        uint8_t r[6];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
            uint64_t x = ed_mix64((uint64_t)ed_mono_ns() ^ ((uint64_t)getpid() << 32));
            memcpy(r, &x, sizeof r);
        }
        char hex[13];
        for (int i = 0; i < 6; i++) snprintf(hex + 2 * i, 3, "%02x", r[i]);
        if ((size_t)snprintf(out, cap, "%s/savepoint-%.6s-%s", dir, c->job_id, hex) >= cap)
            return ed_err_set(err, "savepoint directory '%s': the path is too long", dir);
        if (mkdir(out, 0777) == 0) return 0;
        if (errno != EEXIST)
            return ed_err_set(err, "cannot create the savepoint directory '%s': %s", out,
                              strerror(errno));
    }
    return ed_err_set(err, "cannot create a new savepoint directory under '%s'", dir);
}

int64_t ed_coord_trigger_savepoint(ed_coord *c, const char *dir, ed_ckpt_props props,
                                   int64_t now, ed_err *err)
{
    props.savepoint = true;
    if (!props.stop) props.drain = false;
    if (!dir || !*dir) dir = c->savepoint_dir;
    if (!dir) {
        ed_err_set(err, "no savepoint directory: give one, or configure a default with "
                        "execution.checkpointing.savepoint-dir");
        return 0;
    }
    pthread_mutex_lock(&c->mu);
    int64_t id = 0;
    char path[4096];
    if (c->stopped)
        ed_err_set(err, "the job is finishing: it takes no more savepoints");
    else if (c->stop_pending || c->stop_done)
        ed_err_set(err, "the job is being stopped with a savepoint");
    else if (c->npending == MAX_PENDING)
        ed_err_set(err, "%d checkpoints are in progress: try again later", MAX_PENDING);
    else if (make_savepoint_dir(c, dir, path, sizeof path, err) == 0) {
        id = ++c->last_id;
        pending *p = &c->p[c->npending++];
        p->id = id;
        p->started = now;
        p->acks = p->answered = 0;
        p->savepoint = true;
        ed_sb_init(&p->lines);
        c->sp = ed_xrealloc(c->sp, sizeof(savepoint) * (size_t)(c->nsp + 1));
        c->sp[c->nsp++] = (savepoint){.id = id, .props = props, .state = ED_SAVEPOINT_PENDING,
                                      .path = ed_xstrdup(path)};
        if (props.stop) c->stop_pending = true;
    }
    pthread_mutex_unlock(&c->mu);
    return id;
}

/* Savepoint id has an outcome. Holds c->mu. */
static void finish_sp(ed_coord *c, int64_t id, const char *why_failed)
{
    savepoint *s = find_sp(c, id);
    if (!s || s->state != ED_SAVEPOINT_PENDING) return;
    s->state = why_failed ? ED_SAVEPOINT_FAILED : ED_SAVEPOINT_COMPLETED;
    if (why_failed) s->error = ed_xstrdup(why_failed);
    if (s->props.stop) {
        c->stop_pending = false;
        if (!why_failed) c->stop_done = true;
    }
    pthread_cond_broadcast(&c->sp_cv);
    trim_savepoints(c);
}

int ed_coord_savepoint_wait(ed_coord *c, int64_t id, char *path, size_t cap, ed_err *err)
{
    pthread_mutex_lock(&c->mu);
    savepoint *s;
    while ((s = find_sp(c, id)) && s->state == ED_SAVEPOINT_PENDING)
        pthread_cond_wait(&c->sp_cv, &c->mu);
    int rc = 0;
    if (!s)
        rc = ed_err_set(err, "savepoint %lld is unknown", (long long)id);
    else if (s->state == ED_SAVEPOINT_FAILED)
        rc = ed_err_set(err, "savepoint %lld failed: %s", (long long)id, s->error);
    else
        snprintf(path, cap, "%s", s->path);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

ed_savepoint_state ed_coord_savepoint_state(ed_coord *c, int64_t id)
{
    pthread_mutex_lock(&c->mu);
    const savepoint *s = find_sp(c, id);
    ed_savepoint_state st = s ? s->state : ED_SAVEPOINT_FAILED;
    pthread_mutex_unlock(&c->mu);
    return st;
}

static pending *find(ed_coord *c, int64_t id)
{
    for (int i = 0; i < c->npending; i++)
        if (c->p[i].id == id) return &c->p[i];
    return NULL;
}

static void forget_aborted(ed_coord *c, int i)
{
    ed_err e = {0};
    ed_remove_tree(c->ab[i].dir, &e);
    free(c->ab[i].dir);
    c->ab[i] = c->ab[--c->nab];
}

/* A task answered checkpoint id, which is no longer pending: if it was aborted and this was
 * the last answer, its directory is removed for good. */
static void late_answer(ed_coord *c, int64_t id)
{
    for (int i = 0; i < c->nab; i++)
        if (c->ab[i].id == id) {
            if (++c->ab[i].answered >= c->ntasks) forget_aborted(c, i);
            return;
        }
}

bool ed_coord_is_pending(ed_coord *c, int64_t id)
{
    pthread_mutex_lock(&c->mu);
    bool yes = find(c, id) != NULL;
    pthread_mutex_unlock(&c->mu);
    return yes;
}

void ed_coord_sweep(ed_coord *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->nab) forget_aborted(c, 0);
    pthread_mutex_unlock(&c->mu);
}

/* Forgets pending checkpoint p: complete (why_failed NULL), or aborted and its directory
 * removed. */
static void drop(ed_coord *c, pending *p, const char *why_failed)
{
    if (why_failed) {
        char dir[4096];
        ed_err e = {0};
        dir_of(c, p->id, dir, sizeof dir);
        ed_remove_tree(dir, &e);
        if (p->answered < c->ntasks) {
            c->ab = ed_xrealloc(c->ab, sizeof(*c->ab) * (size_t)(c->nab + 1));
            c->ab[c->nab++] = (struct aborted){p->id, p->answered, ed_xstrdup(dir)};
        }
    }
    if (p->savepoint) finish_sp(c, p->id, why_failed);
    ed_sb_free(&p->lines);
    *p = c->p[--c->npending];
}

/* The "shared <name>" lines of the _metadata in dir, appended to names (one per line). */
static void shared_refs(const char *dir, ed_strbuf *names)
{
    char meta[4200];
    snprintf(meta, sizeof meta, "%s/_metadata", dir);
    void *m;
    size_t len;
    ed_err e = {0};
    if (ed_ckpt_read(meta, ED_CKPT_METADATA, &m, &len, &e)) return;
    const char *p = m, *end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        if (nl - p > 7 && memcmp(p, "shared ", 7) == 0) {
            ed_sb_append(names, p + 7, (size_t)(nl - p - 7));
            ed_sb_putc(names, '\n');
        }
        p = nl + 1;
    }
    free(m);
}

static bool has_line(const ed_strbuf *names, const char *name, size_t n)
{
    for (const char *p = names->data, *end = p ? p + names->len : NULL; p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if ((size_t)(nl - p) == n && memcmp(p, name, n) == 0) return true;
        p = nl + 1;
    }
    return false;
}

/* Before checkpoint `gone` (its directory) is deleted: the shared files it uses that no
 * other completed checkpoint of the job uses are deleted (incremental state; a file
 * uploaded by a pending checkpoint is in no _metadata yet, and is not in gone's). */
static void release_shared(ed_coord *c, const char *gone)
{
    ed_strbuf mine, others;
    ed_sb_init(&mine);
    ed_sb_init(&others);
    shared_refs(gone, &mine);
    if (mine.len) {
        DIR *d = opendir(c->dir);
        struct dirent *de;
        char sub[4400];
        while (d && (de = readdir(d))) {
            if (strncmp(de->d_name, "chk-", 4)) continue;
            snprintf(sub, sizeof sub, "%s/%s", c->dir, de->d_name);
            if (strcmp(sub, gone)) shared_refs(sub, &others);
        }
        if (d) closedir(d);
        for (const char *p = mine.data, *end = p + mine.len; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!has_line(&others, p, (size_t)(nl - p))) {
                snprintf(sub, sizeof sub, "%s/shared/%.*s", c->dir, (int)(nl - p), p);
                unlink(sub);
            }
            p = nl + 1;
        }
    }
    ed_sb_free(&mine);
    ed_sb_free(&others);
}

/* Writes _metadata; then forgets checkpoints beyond the number retained (never a
 * savepoint), with the shared files only they used. */
static int complete(ed_coord *c, pending *p, int64_t now, ed_err *err)
{
    ed_strbuf m;
    ed_sb_init(&m);
    ed_sb_printf(&m, "eddy-checkpoint 1\nid %lld\njob %s\ntimestamp %lld\nmax-parallelism %d\n",
                 (long long)p->id, c->job, (long long)ed_wall_ms(), c->max_parallelism);
    if (p->lines.len) ed_sb_append(&m, p->lines.data, p->lines.len);
    char path[4200];
    dir_of(c, p->id, path, sizeof path);
    strcat(path, "/_metadata");
    int rc = ed_ckpt_write(c->fs, path, ED_CKPT_METADATA, m.data, m.len, err);
    ed_sb_free(&m);
    if (rc) return -1;
    if (p->savepoint) {
        c->stats.savepoints++;
        const savepoint *s = find_sp(c, p->id);
        if (s && s->props.stop) c->stats.last_completed_id = p->id;
        return 0;
    }
    c->kept = ed_xrealloc(c->kept, sizeof(int64_t) * (size_t)(c->nkept + 1));
    c->kept[c->nkept++] = p->id;
    while (c->nkept > c->retained) {
        char dir[4096];
        ed_err e = {0};
        dir_of(c, c->kept[0], dir, sizeof dir);
        release_shared(c, dir);
        ed_remove_tree(dir, &e);
        memmove(c->kept, c->kept + 1, sizeof(int64_t) * (size_t)(--c->nkept));
    }
    c->stats.completed++;
    c->stats.last_completed_id = p->id;
    c->stats.last_duration_ms = now - p->started;
    c->last_done = now;
    c->fails_in_row = 0;
    return 0;
}

int ed_coord_ack(ed_coord *c, int64_t id, const char *state_lines, int64_t now, ed_err *err)
{
    pthread_mutex_lock(&c->mu);
    pending *p = find(c, id);
    int rc = -1;
    if (!p) {
        late_answer(c, id);
        ed_err_set(err, "checkpoint %lld is not pending", (long long)id);
        rc = -2;
    } else {
        p->answered++;
        if (state_lines) ed_sb_puts(&p->lines, state_lines);
        if (++p->acks < c->ntasks) {
            rc = 0;
        } else if (complete(c, p, now, err) == 0) {
            drop(c, p, NULL);
            rc = 1;
        } else {
            if (!p->savepoint) {
                c->stats.failed++;
                c->fails_in_row++;
            }
            drop(c, p, err->msg);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Aborts p; true when that was one failure too many. A failed savepoint does not count
 * (Flink's CheckpointFailureManager counts periodic checkpoints only). */
static bool fail_one(ed_coord *c, pending *p, const char *why)
{
    if (p->savepoint) {
        drop(c, p, why);
        return false;
    }
    c->stats.failed++;
    c->fails_in_row++;
    drop(c, p, why);
    return c->fails_in_row > c->tolerable;
}

bool ed_coord_decline(ed_coord *c, int64_t id, const char *reason)
{
    pthread_mutex_lock(&c->mu);
    pending *p = find(c, id);
    char why[1100];
    snprintf(why, sizeof why, "a task declined it: %s", reason ? reason : "no reason given");
    if (p) p->answered++;
    else late_answer(c, id);
    bool fatal = p && !c->stopped ? fail_one(c, p, why) : false;
    if (p && c->stopped) drop(c, p, why);
    pthread_mutex_unlock(&c->mu);
    return fatal;
}

int64_t ed_coord_check_timeouts(ed_coord *c, int64_t now, bool *fatal)
{
    pthread_mutex_lock(&c->mu);
    int64_t aborted = 0;
    *fatal = false;
    for (int i = 0; i < c->npending; i++) {
        if (now - c->p[i].started < c->timeout) continue;
        aborted = c->p[i].id;
        char why[96];
        snprintf(why, sizeof why, "it expired after %lld ms (execution.checkpointing.timeout)",
                 (long long)c->timeout);
        *fatal = fail_one(c, &c->p[i], why);
        break;
    }
    pthread_mutex_unlock(&c->mu);
    return aborted;
}

void ed_coord_stop(ed_coord *c)
{
    pthread_mutex_lock(&c->mu);
    c->stopped = true;
    while (c->npending) drop(c, &c->p[0], "the job ended before it was complete");
    pthread_mutex_unlock(&c->mu);
}

int64_t ed_ckpt_latest_below(const char *root, int64_t below, char *out, size_t cap)
{
    DIR *d = opendir(root);
    if (!d) return 0;
    int64_t best = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        long long id;
        char tail;
        if (sscanf(de->d_name, "chk-%lld%c", &id, &tail) != 1 || id <= best || id >= below) continue;
        char meta[4400];
        struct stat st;
        snprintf(meta, sizeof meta, "%s/%s/_metadata", root, de->d_name);
        if (stat(meta, &st) == 0) best = id;
    }
    closedir(d);
    if (best) snprintf(out, cap, "%s/chk-%lld", root, (long long)best);
    return best;
}

void ed_coord_resume_ids(ed_coord *c, int64_t last_id)
{
    pthread_mutex_lock(&c->mu);
    if (last_id > c->last_id) c->last_id = last_id;
    pthread_mutex_unlock(&c->mu);
}

ed_coord_stats ed_coord_get_stats(ed_coord *c)
{
    pthread_mutex_lock(&c->mu);
    ed_coord_stats s = c->stats;
    pthread_mutex_unlock(&c->mu);
    return s;
}
