/*
 * upload.c - the job's upload thread (see upload.h).
 *
 * A task collects the files of its part of a checkpoint in a batch of its own (task
 * thread only, no lock); ed_upload_submit moves the batch to the job's queue (a mutex and
 * a condition variable: once per checkpoint and task, never per record), and the upload
 * thread writes its files in order and acknowledges. A job cancelled or failed meanwhile
 * writes nothing more: its checkpoints cannot complete.
 */
#include "upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../base/log.h"
#include "../checkpoint/coordinator.h"

typedef struct up_file {
    char *path;
    ed_ckpt_kind kind;
    ed_strbuf payload;
    char *from;        /* or a copy of this local file */
    char *shared_name; /* ... a shared file of this name */
} up_file;

struct ed_up_batch {
    struct ed_up_batch *next;
    ed_task *task;
    int64_t id;
    up_file *files;
    int n, cap;
    char *lines;
    char **rm; /* local directories removed after the batch */
    int nrm;
};

struct ed_uploader {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, idle;
    ed_up_batch *head, *tail; /* the queue, oldest first */
    bool busy;                /* the thread is writing a batch */
    bool stop;
};

static void note_failed(ed_job *job, const char *name)
{
    pthread_mutex_lock(&job->mu);
    job->up_failed = ed_xrealloc(job->up_failed, sizeof(char *) * (size_t)(job->nup_failed + 1));
    job->up_failed[job->nup_failed++] = ed_xstrdup(name);
    pthread_mutex_unlock(&job->mu);
}

bool ed_upload_take_failed(ed_job *job, const char *name)
{
    bool found = false;
    pthread_mutex_lock(&job->mu);
    for (int i = 0; i < job->nup_failed && !found; i++)
        if (strcmp(job->up_failed[i], name) == 0) {
            free(job->up_failed[i]);
            job->up_failed[i] = job->up_failed[--job->nup_failed];
            found = true;
        }
    pthread_mutex_unlock(&job->mu);
    return found;
}

/* The shared names of files i.. of b are not written: their uploads failed. */
static void failed_from(ed_job *job, ed_up_batch *b, int i)
{
    for (; i < b->n; i++)
        if (b->files[i].shared_name) note_failed(job, b->files[i].shared_name);
}

static void batch_free(ed_up_batch *b)
{
    for (int i = 0; i < b->n; i++) {
        free(b->files[i].path);
        free(b->files[i].from);
        free(b->files[i].shared_name);
        ed_sb_free(&b->files[i].payload);
    }
    for (int i = 0; i < b->nrm; i++) {
        ed_err e = {0};
        ed_remove_tree(b->rm[i], &e);
        free(b->rm[i]);
    }
    free(b->rm);
    free(b->files);
    free(b->lines);
    free(b);
}

/* The local file f->from, framed into f->path. */
static int copy_file(ed_job *job, const up_file *f, ed_err *err)
{
    void *buf;
    size_t n;
    if (ed_read_file(f->from, &buf, &n, err)) return -1;
    int rc = ed_ckpt_write(job->fs, f->path, f->kind, buf, n, err);
    free(buf);
    return rc;
}

/* Every "shared <name>" of the batch's lines exists in <dir>/<job>/shared. */
static int shared_present(ed_job *job, const ed_up_batch *b, ed_err *err)
{
    char dir[4096], path[4600];
    const char *p = b->lines;
    bool any = false;
    while (p && (p = strstr(p, "shared ")) != NULL) {
        if (p != b->lines && p[-1] != '\n') {
            p += 7;
            continue;
        }
        if (!any) {
            ed_coord_chk_dir(job->coord, b->id, dir, sizeof dir);
            char *slash = strrchr(dir, '/');
            if (slash) *slash = 0;
            any = true;
        }
        p += 7;
        size_t n = strcspn(p, "\n");
        snprintf(path, sizeof path, "%s/shared/%.*s", dir, (int)n, p);
        struct stat st;
        if (stat(path, &st))
            return ed_err_set(err, "shared file '%.*s' was not uploaded (an earlier checkpoint "
                                   "failed to write it)", (int)n, p);
        p += n;
    }
    return 0;
}

/* Writes a batch's files, then acknowledges (or declines) its checkpoint. */
static void upload(ed_job *job, ed_up_batch *b)
{
    /* the job is over, or the checkpoint was aborted (expired, declined by another task,
     * the job finishing): nothing to write */
    if (atomic_load(&job->cancel) || !ed_coord_is_pending(job->coord, b->id)) {
        failed_from(job, b, 0);
        ed_coord_decline(job->coord, b->id, "it is over"); /* counts as its late answer */
        return;
    }
    ed_err err = {0};
    for (int i = 0; i < b->n; i++) {
        up_file *f = &b->files[i];
        int rc = f->from ? copy_file(job, f, &err)
                         : ed_ckpt_write(job->fs, f->path, f->kind, f->payload.data,
                                         f->payload.len, &err);
        if (rc) {
            failed_from(job, b, i);
            ed_log(ED_WARN, "checkpoint", "checkpoint %lld: task '%s' cannot write its snapshot: %s",
                   (long long)b->id, b->task->name, err.msg);
            ed_job_decline(job, b->id, err.msg);
            return;
        }
        /* the payload is not needed any more: memory goes back at once */
        ed_sb_free(&f->payload);
    }
    if (shared_present(job, b, &err)) {
        ed_log(ED_WARN, "checkpoint", "checkpoint %lld: task '%s': %s", (long long)b->id,
               b->task->name, err.msg);
        ed_job_decline(job, b->id, err.msg);
        return;
    }
    ed_job_ack(job, b->id, b->lines ? b->lines : "");
}

static void *upload_main(void *arg)
{
    ed_job *job = arg;
    struct ed_uploader *u = job->up;
    pthread_mutex_lock(&u->mu);
    for (;;) {
        ed_up_batch *b = u->head;
        if (!b) {
            if (u->stop) break;
            pthread_cond_wait(&u->work, &u->mu);
            continue;
        }
        u->head = b->next;
        if (!u->head) u->tail = NULL;
        u->busy = true;
        pthread_mutex_unlock(&u->mu);
        upload(job, b);
        batch_free(b);
        pthread_mutex_lock(&u->mu);
        u->busy = false;
        if (!u->head) pthread_cond_broadcast(&u->idle);
    }
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

int ed_upload_start(ed_job *job, ed_err *err)
{
    struct ed_uploader *u = ed_xcalloc(1, sizeof(*u));
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->work, NULL);
    pthread_cond_init(&u->idle, NULL);
    job->up = u;
    if (pthread_create(&u->thread, NULL, upload_main, job)) {
        job->up = NULL;
        pthread_cond_destroy(&u->idle);
        pthread_cond_destroy(&u->work);
        pthread_mutex_destroy(&u->mu);
        free(u);
        return ed_err_set(err, "cannot start the checkpoint upload thread");
    }
    return 0;
}

void ed_upload_drain(ed_job *job)
{
    struct ed_uploader *u = job->up;
    if (!u) return;
    pthread_mutex_lock(&u->mu);
    while (u->head || u->busy) pthread_cond_wait(&u->idle, &u->mu);
    pthread_mutex_unlock(&u->mu);
}

void ed_upload_stop(ed_job *job)
{
    struct ed_uploader *u = job->up;
    if (!u) return;
    pthread_mutex_lock(&u->mu);
    u->stop = true;
    pthread_cond_signal(&u->work);
    pthread_mutex_unlock(&u->mu);
    pthread_join(u->thread, NULL);
    pthread_cond_destroy(&u->idle);
    pthread_cond_destroy(&u->work);
    pthread_mutex_destroy(&u->mu);
    free(u);
    job->up = NULL;
}

/* The task's open batch of checkpoint id, made if need be. */
static ed_up_batch *batch_of(ed_task *t, int64_t id)
{
    for (ed_up_batch *b = t->up_open; b; b = b->next)
        if (b->id == id) return b;
    ed_up_batch *b = ed_xcalloc(1, sizeof(*b));
    b->task = t;
    b->id = id;
    b->next = t->up_open;
    t->up_open = b;
    return b;
}

static up_file *add_file(ed_task *t, int64_t id, const char *path, ed_ckpt_kind kind)
{
    ed_up_batch *b = batch_of(t, id);
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 4;
        b->files = ed_xrealloc(b->files, sizeof(*b->files) * (size_t)b->cap);
    }
    up_file *f = &b->files[b->n++];
    memset(f, 0, sizeof *f);
    f->path = ed_xstrdup(path);
    f->kind = kind;
    ed_sb_init(&f->payload);
    return f;
}

void ed_upload_add(ed_task *t, int64_t id, const char *path, ed_ckpt_kind kind,
                   ed_strbuf *payload)
{
    up_file *f = add_file(t, id, path, kind);
    f->payload = *payload;
    ed_sb_init(payload);
}

void ed_upload_add_copy(ed_task *t, int64_t id, const char *from, const char *path,
                        ed_ckpt_kind kind, const char *shared_name)
{
    up_file *f = add_file(t, id, path, kind);
    f->from = ed_xstrdup(from);
    f->shared_name = shared_name ? ed_xstrdup(shared_name) : NULL;
}

void ed_upload_remove_after(ed_task *t, int64_t id, const char *dir)
{
    ed_up_batch *b = batch_of(t, id);
    b->rm = ed_xrealloc(b->rm, sizeof(char *) * (size_t)(b->nrm + 1));
    b->rm[b->nrm++] = ed_xstrdup(dir);
}

void ed_upload_submit(ed_task *t, int64_t id, const char *lines)
{
    ed_job *job = t->job;
    ed_up_batch *b = batch_of(t, id);
    /* out of the task's open batches */
    for (ed_up_batch **p = &t->up_open; *p; p = &(*p)->next)
        if (*p == b) {
            *p = b->next;
            break;
        }
    b->next = NULL;
    b->lines = ed_xstrdup(lines ? lines : "");
    ed_task_mark_acked(t, id);
    struct ed_uploader *u = job->up;
    if (!u || !b->n) { /* nothing to write, or no upload thread: here and now */
        upload(job, b);
        batch_free(b);
        return;
    }
    pthread_mutex_lock(&u->mu);
    if (u->tail) u->tail->next = b;
    else u->head = b;
    u->tail = b;
    pthread_cond_signal(&u->work);
    pthread_mutex_unlock(&u->mu);
}

void ed_upload_discard(ed_task *t, int64_t id)
{
    for (ed_up_batch **p = &t->up_open; *p;) {
        ed_up_batch *b = *p;
        if (b->id <= id) {
            *p = b->next;
            failed_from(t->job, b, 0); /* its shared files are not uploaded */
            batch_free(b);
        } else {
            p = &b->next;
        }
    }
}

void ed_upload_free_task(ed_task *t) { ed_upload_discard(t, INT64_MAX); }
