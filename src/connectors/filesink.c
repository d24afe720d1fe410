/*
 * filesink.c - an exactly-once file sink, as Flink's FileSink: rows go to part files that
 * become visible only when the checkpoint covering them completes (two-phase commit).
 *
 *   <path>/<bucket>/.part-<subtask>-<n>.inprogress   being written
 *   <path>/<bucket>/part-<subtask>-<n>                committed (finished)
 *
 * A part file is rolled (closed and fsynced) at every checkpoint, when it reaches
 * sink.rolling-policy.file-size, and when it is older than
 * sink.rolling-policy.rollover-interval. Pre-commit: at the checkpoint barrier the
 * subtask rolls and records its closed files, still under their in-progress names, with
 * the checkpoint's id in its snapshot. Commit: when the checkpoint is complete they are
 * renamed to their final names. A restore first commits what its checkpoint recorded
 * (a rename that already happened is fine: commits are idempotent), then deletes the
 * subtask's in-progress files its checkpoint does not know (written after it). A bounded
 * job commits everything when its input ends. Buckets come from processing time with
 * sink.bucket.pattern (Flink's DateTimeBucketAssigner, "yyyy-MM-dd--HH"; "" for none).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../checkpoint/storage.h"
#include "../state/snapshot.h"
#include "connectors_int.h"

#define FS2 "filesink"

typedef struct fs2_opts {
    const char *path;
    ed_conn_format format;
    char delim;
    int64_t max_bytes, max_age_ms;
    char strf[128]; /* the bucket pattern as strftime, "" for no buckets */
} fs2_opts;

/* Java's date-time letters (yyyy MM dd HH mm ss) to strftime; other text is literal. */
static int pattern_to_strf(const char *p, char *out, size_t cap)
{
    static const struct {
        const char *j, *c;
    } map[] = {{"yyyy", "%Y"}, {"MM", "%m"}, {"dd", "%d"}, {"HH", "%H"}, {"mm", "%M"}, {"ss", "%S"}};
    size_t n = 0;
    while (*p) {
        bool done = false;
        for (size_t i = 0; i < ED_ARRAY_LEN(map) && !done; i++) {
            size_t l = strlen(map[i].j);
            if (strncmp(p, map[i].j, l) == 0) {
                if (n + 2 >= cap) return -1;
                memcpy(out + n, map[i].c, 2);
                n += 2;
                p += l;
                done = true;
            }
        }
        if (done) continue;
        if (*p == '%' || *p == '/' || n + 1 >= cap) return -1;
        out[n++] = *p++;
    }
    out[n] = 0;
    return 0;
}

static int fs2_opts_parse(const ed_node *n, fs2_opts *o, ed_err *err)
{
    const char *size = NULL, *age = NULL, *pattern = NULL;
    if (ed_conn_opt_str(n, FS2, "path", NULL, &o->path, err) ||
        ed_conn_opt_format(n, FS2, &o->format, err) ||
        ed_conn_opt_char(n, FS2, "csv.field-delimiter", ',', &o->delim, err) ||
        ed_conn_opt_str(n, FS2, "sink.rolling-policy.file-size", "128 mb", &size, err) ||
        ed_conn_opt_str(n, FS2, "sink.rolling-policy.rollover-interval", "30 min", &age, err))
        return -1;
    pattern = ed_node_param(n, "sink.bucket.pattern"); /* "" is allowed: no buckets */
    if (!pattern) pattern = "yyyy-MM-dd--HH";
    if (ed_parse_bytes(size, &o->max_bytes) || o->max_bytes < 1)
        return ed_err_set(err, FS2 ": option 'sink.rolling-policy.file-size': '%s' is not a size",
                          size);
    if (ed_parse_duration_ms(age, &o->max_age_ms) || o->max_age_ms < 1)
        return ed_err_set(err,
                          FS2 ": option 'sink.rolling-policy.rollover-interval': '%s' is not a "
                              "duration",
                          age);
    if (pattern_to_strf(pattern, o->strf, sizeof o->strf))
        return ed_err_set(err, FS2 ": option 'sink.bucket.pattern': '%s' is not a pattern of "
                               "yyyy MM dd HH mm ss and plain characters (no '/' or '%%')",
                          pattern);
    return 0;
}

static int fs2_check(const ed_node *n, ed_err *err)
{
    fs2_opts o;
    return fs2_opts_parse(n, &o, err);
}

/* A closed part file and the checkpoint that will commit it (0: the next one). */
typedef struct part {
    char tmp[PATH_MAX], final[PATH_MAX];
    int64_t ckpt;
} part;

typedef struct fs2_state {
    fs2_opts o;
    const eddy_schema *schema;
    int subtask;
    uint64_t counter; /* the next part number */
    char bucket[128];
    int64_t bucket_sec; /* the second the bucket was computed for */
    int fd;
    part cur;         /* the open part file (fd >= 0) */
    int64_t cur_bytes, cur_opened;
    part *parts;      /* closed, not yet committed */
    int nparts, cap;
    ed_strbuf out;
} fs2_state;

static int fs2_mkdirs(ed_operator *op, const char *dir)
{
    ed_err e = {0};
    if (ed_mkdirs(dir, &e)) return ed_op_fail(op, FS2 ": %s", e.msg);
    return 0;
}

static void bucket_of(fs2_state *s, int64_t now_ms)
{
    int64_t sec = now_ms / 1000;
    if (sec == s->bucket_sec && s->bucket_sec != INT64_MIN) return;
    s->bucket_sec = sec;
    if (!s->o.strf[0]) {
        s->bucket[0] = 0;
        return;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (!strftime(s->bucket, sizeof s->bucket, s->o.strf, &tm)) s->bucket[0] = 0;
}

static int flush_out(ed_operator *op, fs2_state *s)
{
    if (!s->out.len || s->fd < 0) return 0;
    ed_fs *fs = ed_op_fs(op);
    for (size_t off = 0; off < s->out.len;) {
        ssize_t w = fs->write(fs, s->fd, s->out.data + off, s->out.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            return ed_op_fail(op, FS2 ": cannot write '%s': %s", s->cur.tmp,
                              strerror(w ? errno : EIO));
        off += (size_t)w;
    }
    s->cur_bytes += (int64_t)s->out.len;
    ed_sb_reset(&s->out);
    return 0;
}

/* Closes the open part file durably; it waits for a checkpoint to commit it. */
static int roll(ed_operator *op, fs2_state *s)
{
    if (s->fd < 0) return 0;
    if (flush_out(op, s)) return -1;
    ed_fs *fs = ed_op_fs(op);
    int rc = fs->fsync(fs, s->fd);
    int e = errno;
    if (fs->close(fs, s->fd) && !rc) {
        rc = -1;
        e = errno;
    }
    s->fd = -1;
    if (rc) return ed_op_fail(op, FS2 ": cannot write '%s': %s", s->cur.tmp, strerror(e));
    if (s->nparts == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->parts = ed_xrealloc(s->parts, sizeof(part) * (size_t)s->cap);
    }
    s->cur.ckpt = 0;
    s->parts[s->nparts++] = s->cur;
    return 0;
}

static int open_part(ed_operator *op, fs2_state *s)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s%s%s", s->o.path, s->bucket[0] ? "/" : "", s->bucket);
    if (fs2_mkdirs(op, dir)) return -1;
    int n1 = snprintf(s->cur.tmp, sizeof s->cur.tmp, "%.*s/.part-%d-%llu.inprogress",
                      PATH_MAX - 64, dir, s->subtask, (unsigned long long)s->counter);
    int n2 = snprintf(s->cur.final, sizeof s->cur.final, "%.*s/part-%d-%llu", PATH_MAX - 64,
                      dir, s->subtask, (unsigned long long)s->counter);
    if (n1 >= (int)sizeof s->cur.tmp || n2 >= (int)sizeof s->cur.final)
        return ed_op_fail(op, FS2 ": path too long: '%s'", dir);
    s->counter++;
    ed_fs *fs = ed_op_fs(op);
    s->fd = fs->open(fs, s->cur.tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0) return ed_op_fail(op, FS2 ": cannot create '%s': %s", s->cur.tmp, strerror(errno));
    s->cur_bytes = 0;
    s->cur_opened = ed_op_now(op);
    return 0;
}

/* Commits a part file: renames it to its final name; done already is fine. */
static int commit_rename(ed_fs *fs, const char *tmp, const char *final, ed_err *err)
{
    if (fs->rename(fs, tmp, final) == 0) return 0;
    struct stat st;
    if (errno == ENOENT && stat(final, &st) == 0) return 0; /* committed before a restart */
    return ed_err_set(err, FS2 ": cannot commit '%s': %s", tmp, strerror(errno));
}

static int commit(ed_operator *op, const part *p)
{
    ed_err e = {0};
    if (commit_rename(ed_op_fs(op), p->tmp, p->final, &e)) return ed_op_fail(op, "%s", e.msg);
    return 0;
}

static int fs2_open(ed_operator *op, ed_err *err)
{
    fs2_state *s = ed_xcalloc(1, sizeof(*s));
    op->state = s;
    s->fd = -1;
    s->bucket_sec = INT64_MIN;
    s->subtask = op->ctx.subtask;
    s->schema = ed_op_input_schema(op);
    ed_sb_init(&s->out);
    if (fs2_opts_parse(op->node, &s->o, err)) return -1;
    return 0;
}

static int fs2_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    fs2_state *s = op->state;
    if (s->o.strf[0]) {
        char before[128];
        memcpy(before, s->bucket, sizeof before);
        bucket_of(s, ed_op_now(op));
        if (s->fd >= 0 && strcmp(before, s->bucket) != 0 && roll(op, s)) return -1;
    } else if (s->bucket_sec == INT64_MIN) {
        bucket_of(s, 0);
    }
    if (s->fd < 0 && open_part(op, s)) return -1;
    if (s->o.format == ED_CONN_CSV)
        ed_row_format_csv(s->schema, row, s->o.delim, &s->out);
    else
        ed_conn_render_text(s->schema, row, &s->out);
    ed_sb_putc(&s->out, '\n');
    if (s->out.len >= ED_CONN_SINK_BUFFER && flush_out(op, s)) return -1;
    if (s->cur_bytes + (int64_t)s->out.len >= s->o.max_bytes) return roll(op, s);
    return 0;
}

static int fs2_flush(ed_operator *op)
{
    fs2_state *s = op->state;
    if (s->fd >= 0 && ed_op_now(op) - s->cur_opened >= s->o.max_age_ms) return roll(op, s);
    return flush_out(op, s);
}

/* Pre-commit: roll, and record the closed files with the checkpoint that commits them.
 *   uint32 version 1 | uint32 nparts | uint64 counter | nparts x {int64 ckpt, tmp[], final[]} */
static int fs2_snapshot(ed_operator *op, int64_t id, ed_strbuf *out)
{
    fs2_state *s = op->state;
    if (roll(op, s)) return -1;
    uint32_t head[2] = {1, (uint32_t)s->nparts};
    ed_sb_append(out, head, 8);
    ed_sb_append(out, &s->counter, 8);
    for (int i = 0; i < s->nparts; i++) {
        if (!s->parts[i].ckpt) s->parts[i].ckpt = id;
        ed_sb_append(out, &s->parts[i].ckpt, 8);
        ed_sb_append(out, s->parts[i].tmp, PATH_MAX);
        ed_sb_append(out, s->parts[i].final, PATH_MAX);
    }
    return 0;
}

/* Commit: the files of checkpoints up to id. */
static void fs2_notify(ed_operator *op, int64_t id)
{
    fs2_state *s = op->state;
    int n = 0;
    bool failed = false; /* op->err fails the job; the files stay pending */
    for (int i = 0; i < s->nparts; i++) {
        if (!failed && s->parts[i].ckpt && s->parts[i].ckpt <= id) {
            failed = commit(op, &s->parts[i]) != 0;
            if (!failed) continue;
        }
        s->parts[n++] = s->parts[i];
    }
    s->nparts = n;
}

/* Deletes subtask `sub`'s in-progress files under dir that no checkpoint knows; raises
 * *next past every part number of sub's files there (committed or not). */
static void clean_stray(int sub, const char *dir, int depth, uint64_t *next)
{
    DIR *d = opendir(dir);
    if (!d) return;
    char prefix[64];
    snprintf(prefix, sizeof prefix, ".part-%d-", sub);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char p[PATH_MAX];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= sizeof p) continue;
        struct stat st;
        if (lstat(p, &st)) continue;
        if (S_ISDIR(st.st_mode) && depth == 0) {
            clean_stray(sub, p, 1, next);
            continue;
        }
        if (!S_ISREG(st.st_mode)) continue;
        const char *name = de->d_name + (de->d_name[0] == '.');
        int who;
        unsigned long long n;
        if (sscanf(name, "part-%d-%llu", &who, &n) == 2 && who == sub && n + 1 > *next)
            *next = n + 1;
        if (!strncmp(de->d_name, prefix, strlen(prefix)) && strstr(de->d_name, ".inprogress"))
            unlink(p);
    }
    closedir(d);
}

/* Restores at any parallelism, as Flink's FileSink: the state of old subtask k (the part
 * files it pre-committed, and its in-progress files written after the checkpoint) is taken
 * over by new subtask k % p, which commits those files and deletes those in progress. A
 * subtask numbers its new part files past every file of its number already there. */
static int fs2_restore(ed_operator *op, const ed_snapshot_ref *old, int nold)
{
    fs2_state *s = op->state;
    int p = op->ctx.parallelism;
    uint64_t next = 0;
    for (int k = op->ctx.subtask; k < nold; k += p) {
        const ed_snapshot_ref *r = &old[k];
        const uint8_t *at = r->data;
        uint32_t head[2];
        if (!at || r->len < 16)
            return ed_op_fail(op, FS2 ": the checkpointed state of subtask %d/%d does not fit",
                              k + 1, nold);
        memcpy(head, at, 8);
        size_t need = 16 + (size_t)head[1] * (8 + 2 * PATH_MAX);
        if (head[0] != 1 || head[1] > r->len / (8 + 2 * PATH_MAX) || r->len != need)
            return ed_op_fail(op, FS2 ": the checkpointed state of subtask %d/%d does not fit",
                              k + 1, nold);
        uint64_t counter;
        memcpy(&counter, at + 8, 8);
        if (counter > next) next = counter;
        at += 16;
        /* everything the checkpoint recorded was pre-committed: commit it now */
        for (uint32_t i = 0; i < head[1]; i++, at += 8 + 2 * PATH_MAX) {
            part x;
            memcpy(&x.ckpt, at, 8);
            memcpy(x.tmp, at + 8, PATH_MAX);
            memcpy(x.final, at + 8 + PATH_MAX, PATH_MAX);
            x.tmp[PATH_MAX - 1] = x.final[PATH_MAX - 1] = 0;
            if (commit(op, &x)) return -1;
        }
        uint64_t ignored = 0;
        if (k != s->subtask) clean_stray(k, s->o.path, 0, &ignored);
    }
    clean_stray(s->subtask, s->o.path, 0, &next);
    s->counter = next;
    return 0;
}

/* Bounded input is over: the files are committed when the whole job has finished - not
 * now, as another task may still fail and the job restart from a checkpoint before this
 * subtask's end (the files would then be written again). */
static int fs2_end_input(ed_operator *op, int input)
{
    fs2_state *s = op->state;
    if (roll(op, s)) return -1;
    for (int i = 0; i < s->nparts; i++) {
        /* "<in-progress name>\0<final name>\0" */
        size_t a = strlen(s->parts[i].tmp) + 1, b = strlen(s->parts[i].final) + 1;
        char both[2 * PATH_MAX];
        memcpy(both, s->parts[i].tmp, a);
        memcpy(both + a, s->parts[i].final, b);
        ed_op_commit_at_end(op, both, a + b);
    }
    s->nparts = 0;
    return 0;
}

/* The rename ed_op_commit_at_end left (see fs2_end_input). */
static int fs2_commit_at_end(ed_operator *op, const void *data, size_t len, ed_err *err)
{
    const char *from = data, *to = memchr(data, 0, len);
    if (!len || !to || ++to >= from + len || !memchr(to, 0, (size_t)(from + len - to)) ||
        strlen(from) >= PATH_MAX || strlen(to) >= PATH_MAX)
        return ed_err_set(err, FS2 ": a commit left for the end is not two file names");
    return commit_rename(ed_op_fs(op), from, to, err);
}

static void fs2_close(ed_operator *op)
{
    fs2_state *s = op->state;
    if (!s) return;
    if (s->fd >= 0) close(s->fd); /* left in progress: a restore cleans it away */
    free(s->parts);
    ed_sb_free(&s->out);
    free(s);
    op->state = NULL;
}

static const ed_op_vt fs2_vt = {
    .open = fs2_open,
    .process = fs2_process,
    .flush = fs2_flush,
    .end_input = fs2_end_input,
    .close = fs2_close,
    .snapshot = fs2_snapshot,
    .restore = fs2_restore,
    .notify_checkpoint_complete = fs2_notify,
    .commit_at_end = fs2_commit_at_end,
};

static const char *const fs2_options[] = {"path",
                                          "format",
                                          "csv.field-delimiter",
                                          "sink.rolling-policy.file-size",
                                          "sink.rolling-policy.rollover-interval",
                                          "sink.bucket.pattern",
                                          NULL};

const ed_factory ed_connector_filesink = {
    .name = FS2,
    .kind = ED_FACTORY_SINK,
    .vt = &fs2_vt,
    .check = fs2_check,
    .max_parallelism = 0,
    .options = fs2_options,
};
