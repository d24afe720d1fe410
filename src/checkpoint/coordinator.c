/*
 * coordinator.c - checkpoint bookkeeping (see coordinator.h).
 *
 * A checkpoint moves from pending to complete when the last task acknowledges it: the
 * coordinator then writes _metadata (durably, last), deletes checkpoints beyond
 * execution.checkpointing.num-retained, and reports completion. A decline or a timeout
 * aborts it: its directory is removed and it counts as a failure; more failures in a row
 * than execution.checkpointing.tolerable-failed-checkpoints fail the job, as in Flink.
 */
#include "coordinator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>

#define MAX_PENDING 8

typedef struct pending {
    int64_t id, started;
    int acks;
    ed_strbuf lines;
} pending;

struct ed_coord {
    pthread_mutex_t mu;
    ed_fs *fs;
    char *dir; /* <checkpoint dir>/<job> */
    char *job;
    int ntasks, max_parallelism;
    int64_t interval, timeout, min_pause;
    int max_concurrent, tolerable, retained;
    bool exactly_once, stopped;
    int64_t last_id, last_trigger, last_done; /* processing time */
    pending p[MAX_PENDING];
    int npending;
    int64_t *kept; /* completed ids, oldest first */
    int nkept;
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

ed_coord *ed_coord_new(const ed_config *cfg, const char *job, int ntasks, int max_parallelism,
                       ed_fs *fs, ed_err *err)
{
    int64_t interval = ed_config_get_duration_ms(cfg, "execution.checkpointing.interval", 0);
    if (interval <= 0) return NULL;
    const char *dir = ed_config_get(cfg, "execution.checkpointing.dir");
    if (!dir || !*dir) {
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
    c->fs = fs ? fs : ed_fs_default();
    c->job = ed_xstrdup(job ? job : "job");
    char *safe = dir_name(job);
    ed_strbuf sb;
    ed_sb_init(&sb);
    ed_sb_printf(&sb, "%s/%s", dir, safe);
    free(safe);
    c->dir = ed_sb_steal(&sb);
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
    if (ed_mkdirs(c->dir, err)) {
        ed_coord_free(c);
        return NULL;
    }
    return c;
}

void ed_coord_free(ed_coord *c)
{
    if (!c) return;
    for (int i = 0; i < c->npending; i++) ed_sb_free(&c->p[i].lines);
    pthread_mutex_destroy(&c->mu);
    free(c->kept);
    free(c->dir);
    free(c->job);
    free(c);
}

bool ed_coord_exactly_once(const ed_coord *c) { return c->exactly_once; }
int64_t ed_coord_interval_ms(const ed_coord *c) { return c->interval; }

void ed_coord_chk_dir(const ed_coord *c, int64_t id, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/chk-%lld", c->dir, (long long)id);
}

int64_t ed_coord_maybe_trigger(ed_coord *c, int64_t now, ed_err *err)
{
    pthread_mutex_lock(&c->mu);
    int64_t id = 0;
    if (c->last_trigger == INT64_MIN) c->last_trigger = now; /* the first one interval in */
    bool due = !c->stopped && c->npending < c->max_concurrent &&
               now - c->last_trigger >= c->interval &&
               (c->last_done == INT64_MIN || now - c->last_done >= c->min_pause);
    if (due) {
        id = ++c->last_id;
        char dir[4096];
        ed_coord_chk_dir(c, id, dir, sizeof dir);
        if (ed_mkdirs(dir, err)) {
            id = 0;
        } else {
            pending *p = &c->p[c->npending++];
            p->id = id;
            p->started = now;
            p->acks = 0;
            ed_sb_init(&p->lines);
            c->last_trigger = now;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return id;
}

static pending *find(ed_coord *c, int64_t id)
{
    for (int i = 0; i < c->npending; i++)
        if (c->p[i].id == id) return &c->p[i];
    return NULL;
}

static void drop(ed_coord *c, pending *p, bool remove_dir)
{
    if (remove_dir) {
        char dir[4096];
        ed_err e = {0};
        ed_coord_chk_dir(c, p->id, dir, sizeof dir);
        ed_remove_tree(dir, &e);
    }
    ed_sb_free(&p->lines);
    *p = c->p[--c->npending];
}

/* Writes _metadata; then forgets checkpoints beyond the number retained. */
static int complete(ed_coord *c, pending *p, int64_t now, ed_err *err)
{
    ed_strbuf m;
    ed_sb_init(&m);
    ed_sb_printf(&m, "eddy-checkpoint 1\nid %lld\njob %s\ntimestamp %lld\nmax-parallelism %d\n",
                 (long long)p->id, c->job, (long long)ed_wall_ms(), c->max_parallelism);
    if (p->lines.len) ed_sb_append(&m, p->lines.data, p->lines.len);
    char path[4200];
    ed_coord_chk_dir(c, p->id, path, sizeof path);
    strcat(path, "/_metadata");
    int rc = ed_ckpt_write(c->fs, path, ED_CKPT_METADATA, m.data, m.len, err);
    ed_sb_free(&m);
    if (rc) return -1;
    c->kept = ed_xrealloc(c->kept, sizeof(int64_t) * (size_t)(c->nkept + 1));
    c->kept[c->nkept++] = p->id;
    while (c->nkept > c->retained) {
        char dir[4096];
        ed_err e = {0};
        ed_coord_chk_dir(c, c->kept[0], dir, sizeof dir);
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
        ed_err_set(err, "checkpoint %lld is not pending", (long long)id);
    } else {
        if (state_lines) ed_sb_puts(&p->lines, state_lines);
        if (++p->acks < c->ntasks) {
            rc = 0;
        } else if (complete(c, p, now, err) == 0) {
            drop(c, p, false);
            rc = 1;
        } else {
            c->stats.failed++;
            c->fails_in_row++;
            drop(c, p, true);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static bool fail_one(ed_coord *c, pending *p)
{
    c->stats.failed++;
    c->fails_in_row++;
    drop(c, p, true);
    return c->fails_in_row > c->tolerable;
}

bool ed_coord_decline(ed_coord *c, int64_t id, const char *reason)
{
    (void)reason;
    pthread_mutex_lock(&c->mu);
    pending *p = find(c, id);
    bool fatal = p && !c->stopped ? fail_one(c, p) : false;
    if (p && c->stopped) drop(c, p, true);
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
        *fatal = fail_one(c, &c->p[i]);
        break;
    }
    pthread_mutex_unlock(&c->mu);
    return aborted;
}

void ed_coord_stop(ed_coord *c)
{
    pthread_mutex_lock(&c->mu);
    c->stopped = true;
    while (c->npending) drop(c, &c->p[0], true);
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
