/*
 * filesystem_source.c - rows from text or CSV files, read in parallel by byte ranges.
 *
 * `path` is a file, or a directory whose regular files are read in name order (hidden
 * files, starting with '.' or '_', are skipped as Flink skips them; subdirectories are
 * not entered). Every file is cut into p byte ranges; subtask i reads the lines that
 * START in its range [size*i/p, size*(i+1)/p), the line-record-reader rule:
 *
 *     file  |line 1.....\n|line 2..........\n|line 3\n|line 4.....|
 *     range [---- subtask 0 ----)[---- subtask 1 ----)[-- subtask 2 --)
 *                                ^ starts inside line 2: skip to the next line start,
 *                                  line 2 belongs to subtask 0, which reads past its
 *                                  range end to finish it
 *
 * A subtask seeks to begin-1 and discards one line: if the byte at begin-1 is '\n' that
 * line is empty and the first owned line starts exactly at begin; otherwise it is the
 * tail of a line owned by the subtask before. Lines then are read while their start is
 * below the range end. Every line is read by exactly one subtask, with or without a
 * trailing newline at the end of the file.
 *
 * Reading is one large read(2) per MiB into a buffer that grows only for a line longer
 * than it. Rows are built with one reused row builder: no per-line allocation or call.
 *
 * Line numbers in messages are exact: a subtask counts its own lines, and the lines
 * before its first one are counted (one scan of the file's prefix) the first time a
 * message needs them, not at open: an error-free run of p subtasks over a large file
 * then does not read the file's prefixes p-1 more times.
 *
 * Splits. A file's byte range is a split: subtask i of a fresh run has one split in each
 * file, its range i. What a split still has to do is its file, the offset where reading
 * goes on (the range's start, to be synchronised to a line as above, or - once reading
 * began - the start of the next line), the range's end and the lines before the offset
 * (for messages; -1 when not counted yet). A subtask reads its splits one after the other;
 * each is what ed_operator.split reports, so per-split watermarks follow them. A
 * checkpoint holds a subtask's unfinished splits, the one being read and those not begun;
 * a restore at any parallelism takes the splits of all old subtasks, orders them by file
 * (name order) and offset, and deals them round-robin (connectors_int.h: the rule that
 * also makes the fresh assignment). With fewer splits than subtasks it first cuts the
 * largest in halves, so that no subtask is left without work. The line rule above holds
 * at any cut and whichever subtask reads which split, so every line is read exactly once
 * across any number of restores. A split names its file by path and keeps the file's
 * size: a restore refuses a file that is gone or changed.
 *
 * Bad lines (a CSV line that does not parse, invalid UTF-8 in text) fail the job with
 * "path:line: field 2 (price): 'abc' is not a DOUBLE"; with csv.ignore-parse-errors
 * (also honoured for text) they are skipped, each logged at WARN, and the number skipped
 * is logged at close. Empty lines are rows in text format and skipped in CSV format.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/log.h"
#include "../state/snapshot.h"
#include "connectors_int.h"

#define FS "filesystem"
#define FS_READ_SIZE (1u << 20)

typedef struct fs_opts {
    const char *path;
    ed_conn_format format;
    char delim;
    bool ignore;
} fs_opts;

static int fs_opts_parse(const ed_node *n, fs_opts *o, ed_err *err)
{
    if (ed_conn_opt_str(n, FS, "path", NULL, &o->path, err) ||
        ed_conn_opt_format(n, FS, &o->format, err) ||
        ed_conn_opt_char(n, FS, "csv.field-delimiter", ',', &o->delim, err) ||
        ed_conn_opt_bool(n, FS, "csv.ignore-parse-errors", false, &o->ignore, err))
        return -1;
    if (o->format == ED_CONN_TEXT && !ed_conn_is_line_schema(n->schema))
        return ed_err_set(err, FS ": format 'text' needs a schema of one STRING field, not (%s)",
                          n->schema ? eddy_schema_text(n->schema) : "");
    if (!n->schema || eddy_schema_arity(n->schema) == 0)
        return ed_err_set(err, FS ": a schema is required");
    return 0;
}

static int fs_check(const ed_node *n, ed_err *err)
{
    fs_opts o;
    if (fs_opts_parse(n, &o, err) != 0) return -1;
    struct stat st;
    if (stat(o.path, &st) != 0)
        return ed_err_set(err, FS ": option 'path': '%s': %s", o.path, strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return ed_err_set(err, FS ": option 'path': '%s' is neither a file nor a directory",
                          o.path);
    return 0;
}

/* ---- running --------------------------------------------------------------------------- */

typedef struct fs_file {
    char *path;
    int64_t size; /* when listed */
} fs_file;

/* A byte range of a file still to read (see the top of the file). */
typedef struct fs_split {
    int file;       /* index in fs_state.files */
    bool aligned;   /* offset is a line start (reading began); else the range's start */
    int64_t offset; /* where reading goes on */
    int64_t end;    /* lines starting at or after this belong to the next split */
    int64_t line;   /* lines before offset; -1 when not counted yet */
} fs_split;

typedef struct fs_state {
    fs_opts o;
    const eddy_schema *schema;
    eddy_row_builder *rb;
    fs_file *files; /* in name order */
    int nfiles;
    fs_split *splits; /* this subtask's, in reading order */
    int nsplits, next_split;

    /* the split being read */
    const char *cur; /* its path, for messages */
    int fd;          /* -1 when none is open */
    int64_t end;     /* lines starting at or after this offset belong to the next split */
    int64_t buf_off; /* file offset of buf[0] */
    char *buf;
    size_t cap, lo, hi, scan; /* unread bytes buf[lo, hi); no '\n' in buf[lo, scan) */
    bool eof;
    int64_t cur_size;     /* the file's size when listed */
    int64_t first_line;   /* file offset of the first line read in this split */
    int64_t lines_before; /* lines before first_line; -1 until a message needs it */
    int64_t lines;        /* lines returned from this split so far */

    uint64_t bad; /* lines skipped */
    ed_err perr;
} fs_state;

static int fs_name_cmp(const void *a, const void *b)
{
    return strcmp(((const fs_file *)a)->path, ((const fs_file *)b)->path);
}

/* The files to read: path itself, or the visible regular files of the directory. */
static int fs_list(fs_state *s, ed_err *err)
{
    struct stat st;
    const char *path = s->o.path;
    if (stat(path, &st) != 0) return ed_err_set(err, FS ": '%s': %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        s->files = malloc(sizeof *s->files);
        if (!s->files || !(s->files[0].path = strdup(path)))
            return ed_err_set(err, FS ": out of memory");
        s->files[0].size = st.st_size;
        s->nfiles = 1;
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) return ed_err_set(err, FS ": cannot list '%s': %s", path, strerror(errno));
    size_t plen = strlen(path), cap = 0;
    bool slash = plen > 0 && path[plen - 1] == '/';
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || de->d_name[0] == '_') continue;
        size_t len = plen + 1 + strlen(de->d_name) + 1;
        char *full = malloc(len);
        if (!full) {
            rc = ed_err_set(err, FS ": out of memory");
            break;
        }
        snprintf(full, len, "%s%s%s", path, slash ? "" : "/", de->d_name);
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(full);
            continue;
        }
        if ((size_t)s->nfiles == cap) {
            cap = cap ? cap * 2 : 16;
            fs_file *nf = realloc(s->files, cap * sizeof *nf);
            if (!nf) {
                free(full);
                rc = ed_err_set(err, FS ": out of memory");
                break;
            }
            s->files = nf;
        }
        s->files[s->nfiles++] = (fs_file){full, st.st_size};
    }
    closedir(d);
    if (rc == 0 && s->nfiles > 1) qsort(s->files, (size_t)s->nfiles, sizeof *s->files, fs_name_cmp);
    return rc;
}

static int fs_open(ed_operator *op, ed_err *err)
{
    fs_state *s = calloc(1, sizeof *s);
    if (!s) return ed_err_set(err, FS ": out of memory");
    op->state = s;
    s->fd = -1;
    if (fs_opts_parse(op->node, &s->o, err) != 0) return -1;
    s->schema = op->node->schema;
    s->cap = FS_READ_SIZE;
    s->buf = malloc(s->cap);
    s->rb = eddy_rb_new(eddy_schema_arity(s->schema));
    if (!s->buf || !s->rb) return ed_err_set(err, FS ": out of memory");
    if (fs_list(s, err) != 0) return -1;
    /* split i of every file: its byte range i of p (line-synchronised when read) */
    int i = op->ctx.subtask, p = op->ctx.parallelism > 0 ? op->ctx.parallelism : 1;
    s->splits = calloc((size_t)s->nfiles + 1, sizeof *s->splits);
    if (!s->splits) return ed_err_set(err, FS ": out of memory");
    for (int f = 0; f < s->nfiles; f++) {
        unsigned __int128 size = (unsigned __int128)s->files[f].size;
        int64_t begin = (int64_t)(size * (unsigned)i / (unsigned)p);
        s->splits[f] = (fs_split){.file = f,
                                  .aligned = begin == 0,
                                  .offset = begin,
                                  .end = (int64_t)(size * (unsigned)(i + 1) / (unsigned)p),
                                  .line = begin == 0 ? 0 : -1};
    }
    s->nsplits = s->nfiles;
    return 0;
}

static void fs_close_file(fs_state *s)
{
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
}

static void fs_close(ed_operator *op)
{
    fs_state *s = op->state;
    if (!s) return;
    fs_close_file(s);
    if (s->bad)
        ED_LOG_WARN("connector", FS ": '%s': subtask %d skipped %llu bad line(s)", s->o.path,
                    op->ctx.subtask + 1, (unsigned long long)s->bad);
    for (int i = 0; i < s->nfiles; i++)
        free(s->files[i].path);
    free(s->files);
    free(s->splits);
    free(s->buf);
    eddy_rb_free(s->rb);
    free(s);
    op->state = NULL;
}

/* Reads more of the file into the buffer, compacting and growing it as needed. 1 read,
 * 0 end of file, -1 error (op failed). */
static int fs_fill(ed_operator *op, fs_state *s)
{
    if (s->lo > 0) {
        memmove(s->buf, s->buf + s->lo, s->hi - s->lo);
        s->buf_off += (int64_t)s->lo;
        s->hi -= s->lo;
        s->scan -= s->lo;
        s->lo = 0;
    }
    if (s->hi == s->cap) { /* one line fills the buffer: grow it */
        char *nb = s->cap < SIZE_MAX / 2 ? realloc(s->buf, s->cap * 2) : NULL;
        if (!nb)
            return ed_op_fail(op, FS ": %s: line longer than %zu bytes: out of memory", s->cur,
                              s->cap);
        s->buf = nb;
        s->cap *= 2;
    }
    for (;;) {
        ssize_t r = read(s->fd, s->buf + s->hi, s->cap - s->hi);
        if (r > 0) {
            s->hi += (size_t)r;
            return 1;
        }
        if (r == 0) {
            s->eof = true;
            return 0;
        }
        if (errno != EINTR)
            return ed_op_fail(op, FS ": cannot read '%s': %s", s->cur, strerror(errno));
    }
}

/* The next line (without its '\n'): 1 with *line and *len set, 0 at the end of the file, -1
 * error. */
static int fs_line(ed_operator *op, fs_state *s, const char **line, size_t *len)
{
    for (;;) {
        char *nl = memchr(s->buf + s->scan, '\n', s->hi - s->scan);
        if (nl) {
            *line = s->buf + s->lo;
            *len = (size_t)(nl - *line);
            s->lo = s->scan = (size_t)(nl - s->buf) + 1;
            return 1;
        }
        s->scan = s->hi;
        if (s->eof) {
            if (s->lo == s->hi) return 0;
            *line = s->buf + s->lo;
            *len = s->hi - s->lo;
            s->lo = s->scan = s->hi;
            return 1;
        }
        if (fs_fill(op, s) < 0) return -1;
    }
}

/* Opens the next split that has a line to read. 1 opened, 0 none left, -1 error. */
static int fs_next_split(ed_operator *op, fs_state *s)
{
    while (s->next_split < s->nsplits) {
        const fs_split *sp = &s->splits[s->next_split++];
        if (sp->offset >= sp->end) continue; /* no line starts in it */
        s->cur = s->files[sp->file].path;
        s->fd = open(s->cur, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0) return ed_op_fail(op, FS ": cannot open '%s': %s", s->cur, strerror(errno));
        bool sync = !sp->aligned && sp->offset > 0; /* discard the line through offset-1 */
        s->end = sp->end;
        s->cur_size = s->files[sp->file].size;
        s->lo = s->hi = s->scan = 0;
        s->eof = false;
        s->lines = 0;
        s->buf_off = sync ? sp->offset - 1 : sp->offset;
        if (s->buf_off > 0 && lseek(s->fd, s->buf_off, SEEK_SET) < 0) {
            ed_op_fail(op, FS ": cannot seek in '%s': %s", s->cur, strerror(errno));
            fs_close_file(s);
            return -1;
        }
        if (sync) {
            const char *l;
            size_t n;
            if (fs_line(op, s, &l, &n) < 0) {
                fs_close_file(s);
                return -1;
            }
        }
        s->first_line = s->buf_off + (int64_t)s->lo;
        s->lines_before = sync ? -1 : sp->line;
        if (s->first_line < s->end) {
            /* a split of its own for per-split watermarks */
            op->split = s->next_split - 1;
            return 1;
        }
        fs_close_file(s); /* no line starts in this split's range */
    }
    return 0;
}

/* The 1-based line number of the line just read. */
static int64_t fs_line_no(fs_state *s)
{
    if (s->lines_before < 0) { /* count the lines before first_line, once */
        int64_t count = 0, off = 0;
        char tmp[64 * 1024];
        while (off < s->first_line) {
            size_t want = sizeof tmp;
            if ((int64_t)want > s->first_line - off) want = (size_t)(s->first_line - off);
            ssize_t r = pread(s->fd, tmp, want, off);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            for (char *q = tmp, *e = tmp + r; (q = memchr(q, '\n', (size_t)(e - q))); q++)
                count++;
            off += r;
        }
        s->lines_before = count;
    }
    return s->lines_before + s->lines;
}

/* A bad line: fail the job, or (ignore) log, count and go on. Returns 0 to go on. */
static int fs_bad(ed_operator *op, fs_state *s)
{
    long long line = (long long)fs_line_no(s);
    if (!s->o.ignore) return ed_op_fail(op, "%s:%lld: %s", s->cur, line, s->perr.msg);
    s->bad++;
    ED_LOG_WARN("connector", FS ": %s:%lld: %s (skipped: csv.ignore-parse-errors)", s->cur, line,
                s->perr.msg);
    return 0;
}

static ed_poll_result fs_poll(ed_operator *op, int max)
{
    fs_state *s = op->state;
    int emitted = 0, lines = 0;
    if (max <= 0) max = 1;
    while (lines < max) { /* bounded by lines, not rows: skipped lines count too */
        if (s->fd < 0) {
            int r = fs_next_split(op, s);
            if (r < 0) return ED_POLL_ERROR;
            if (r == 0) return emitted ? ED_POLL_MORE : ED_POLL_END;
        }
        if (s->buf_off + (int64_t)s->lo >= s->end) { /* next line is the next subtask's */
            fs_close_file(s);
            continue;
        }
        const char *line;
        size_t len;
        int r = fs_line(op, s, &line, &len);
        if (r < 0) return ED_POLL_ERROR;
        if (r == 0) {
            fs_close_file(s);
            continue;
        }
        s->lines++;
        lines++;
        if (len > 0 && line[len - 1] == '\r') len--;
        if (ED_UNLIKELY(len > UINT32_MAX)) {
            ed_err_clear(&s->perr);
            ed_err_set(&s->perr, "line of %zu bytes is too long", len);
            if (fs_bad(op, s) != 0) return ED_POLL_ERROR;
            continue;
        }
        if (s->o.format == ED_CONN_TEXT) {
            size_t badat = ed_utf8_check(line, len);
            if (ED_UNLIKELY(badat != len)) {
                ed_err_clear(&s->perr);
                ed_err_set(&s->perr, "invalid UTF-8 at byte %zu", badat + 1);
                if (fs_bad(op, s) != 0) return ED_POLL_ERROR;
                continue;
            }
            eddy_rb_reset(s->rb);
            if (eddy_rb_set_str(s->rb, 0, line, (uint32_t)len) != 0) {
                ed_err_clear(&s->perr);
                ed_err_set(&s->perr, "line of %zu bytes is too long for a row", len);
                if (fs_bad(op, s) != 0) return ED_POLL_ERROR;
                continue;
            }
        } else {
            if (len == 0) continue;
            if (ED_UNLIKELY(ed_csv_parse_line(line, len, s->schema, s->o.delim, s->rb, &s->perr) !=
                            0)) {
                int rc = fs_bad(op, s);
                ed_err_clear(&s->perr);
                if (rc != 0) return ED_POLL_ERROR;
                continue;
            }
        }
        if (ed_out_emit(&op->out, eddy_rb_row(s->rb), ED_TS_NONE) != 0) return ED_POLL_ERROR;
        emitted++;
    }
    return ED_POLL_MORE;
}

/*
 * A subtask's state, for checkpoints: its unfinished splits in reading order, the one
 * being read first (from the next line: aligned), then those not begun, and the number of
 * lines it skipped (csv.ignore-parse-errors), for its log line at close.
 *
 *   uint32 version 2 | uint32 nsplits | uint64 bad
 *   per split: int64 offset | int64 end | int64 line | int64 file size | uint32 aligned |
 *              uint32 path length | path, zero-padded to 8
 */
#define FS_STATE_VERSION 2u
#define FS_MAX_PATH 4096

static void fs_put_split(ed_strbuf *out, const fs_file *f, bool aligned, int64_t offset,
                         int64_t end, int64_t line)
{
    int64_t v[4] = {offset, end, line, f->size};
    size_t plen = strlen(f->path);
    uint32_t w[2] = {aligned, (uint32_t)plen};
    static const char zeros[8] = {0};
    ed_sb_append(out, v, sizeof v);
    ed_sb_append(out, w, sizeof w);
    ed_sb_append(out, f->path, plen);
    if (ED_ALIGN8(plen) > plen) ed_sb_append(out, zeros, ED_ALIGN8(plen) - plen);
}

static int fs_snapshot(ed_operator *op, int64_t id, ed_strbuf *out)
{
    fs_state *s = op->state;
    size_t at = out->len;
    uint32_t head[2] = {FS_STATE_VERSION, 0};
    ed_sb_append(out, head, sizeof head);
    ed_sb_append(out, &s->bad, 8);
    if (s->fd >= 0) { /* the split being read goes on at its next line */
        const fs_split *sp = &s->splits[s->next_split - 1];
        int64_t off = s->buf_off + (int64_t)s->lo;
        if (off < s->end && off < s->cur_size) {
            fs_put_split(out, &s->files[sp->file], true, off, s->end,
                         s->lines_before >= 0 ? s->lines_before + s->lines : -1);
            head[1]++;
        }
    }
    for (int k = s->next_split; k < s->nsplits; k++) {
        const fs_split *sp = &s->splits[k];
        if (sp->offset >= sp->end) continue;
        fs_put_split(out, &s->files[sp->file], sp->aligned, sp->offset, sp->end, sp->line);
        head[1]++;
    }
    memcpy(out->data + at + 4, &head[1], 4);
    return 0;
}

static int fs_path_cmp(const void *key, const void *f)
{
    return strcmp(key, ((const fs_file *)f)->path);
}

/*
 * Checks old subtask k's state against the files of path and reads its splits into out
 * (NULL: only counts them into *n) and its count of skipped lines into *bad. 0, or -1 with
 * op failed naming what does not fit.
 */
static int fs_read_state(ed_operator *op, const ed_snapshot_ref *r, int k, int nold, fs_split *out,
                         int *n, uint64_t *bad)
{
    fs_state *s = op->state;
    if (!r->data)
        return ed_op_fail(op, FS ": the checkpoint has no state for subtask %d of %d", k + 1, nold);
    ed_conn_reader rd = {r->data, r->len, 0};
    uint32_t head[2];
    if (!ed_conn_take(&rd, head, sizeof head) || !ed_conn_take(&rd, bad, 8))
        return ed_op_fail(op, FS ": the state of subtask %d/%d is truncated (%zu bytes)", k + 1,
                          nold, r->len);
    if (head[0] != FS_STATE_VERSION)
        return ed_op_fail(op, FS ": the state of subtask %d/%d has format version %u, not %u%s",
                          k + 1, nold, head[0], FS_STATE_VERSION,
                          head[0] == 1 ? " (an eddy before splits: start without it)" : "");
    for (uint32_t j = 0; j < head[1]; j++) {
        int64_t v[4];
        uint32_t w[2];
        char path[FS_MAX_PATH + 1];
        if (!ed_conn_take(&rd, v, sizeof v) || !ed_conn_take(&rd, w, sizeof w) || w[1] == 0 ||
            w[1] > FS_MAX_PATH || !ed_conn_take(&rd, path, w[1]) ||
            rd.len - rd.off < ED_ALIGN8(w[1]) - w[1])
            return ed_op_fail(op, FS ": the state of subtask %d/%d is truncated in split %u of %u",
                              k + 1, nold, j + 1, head[1]);
        rd.off += ED_ALIGN8(w[1]) - w[1];
        path[w[1]] = '\0';
        int64_t offset = v[0], end = v[1], line = v[2], size = v[3];
        if (strlen(path) != w[1] || w[0] > 1 || offset < 0 || offset >= end || end > size ||
            line < -1 || line > offset)
            return ed_op_fail(op,
                              FS ": split %u of subtask %d/%d is malformed (offset %lld, end "
                                 "%lld, line %lld, size %lld)",
                              j + 1, k + 1, nold, (long long)offset, (long long)end,
                              (long long)line, (long long)size);
        const fs_file *f =
            bsearch(path, s->files, (size_t)s->nfiles, sizeof *s->files, fs_path_cmp);
        if (!f)
            return ed_op_fail(op,
                              FS ": the checkpoint has a split of '%s', which is not a file of "
                                 "path '%s' now",
                              path, s->o.path);
        if (f->size != size)
            return ed_op_fail(op,
                              FS ": '%s' has %lld bytes, %lld when the checkpoint was taken: "
                                 "it changed since",
                              path, (long long)f->size, (long long)size);
        if (out)
            out[j] = (fs_split){.file = (int)(f - s->files),
                                .aligned = w[0] != 0,
                                .offset = offset,
                                .end = end,
                                .line = line};
    }
    if (rd.off != rd.len)
        return ed_op_fail(op, FS ": the state of subtask %d/%d has %zu bytes after its %u splits",
                          k + 1, nold, rd.len - rd.off, head[1]);
    *n = (int)head[1];
    return 0;
}

static int fs_split_cmp(const void *a, const void *b)
{
    const fs_split *x = a, *y = b;
    if (x->file != y->file) return x->file < y->file ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/*
 * Takes this subtask's splits out of the states of all nold old subtasks: every split,
 * ordered by file and offset, cut while there are fewer than p, dealt round-robin
 * (connectors_int.h), whatever the old parallelism was. The skipped-line counts of old
 * subtasks k go to new subtask k % p.
 */
static int fs_restore(ed_operator *op, const ed_snapshot_ref *old, int nold)
{
    fs_state *s = op->state;
    int p = op->ctx.parallelism > 0 ? op->ctx.parallelism : 1, n;
    size_t total = 0;
    uint64_t bad, bad_mine = 0;
    for (int k = 0; k < nold; k++) {
        if (fs_read_state(op, &old[k], k, nold, NULL, &n, &bad) != 0) return -1;
        total += (size_t)n;
        if (k % p == op->ctx.subtask) bad_mine += bad;
    }
    if (total > INT32_MAX) return ed_op_fail(op, FS ": %zu splits in the checkpoint", total);
    fs_split *all = calloc(total + (size_t)p + 1, sizeof *all);
    if (!all) return ed_op_fail(op, FS ": out of memory restoring %zu splits", total);
    size_t got = 0;
    for (int k = 0; k < nold; k++) {
        if (fs_read_state(op, &old[k], k, nold, all + got, &n, &bad) != 0) {
            free(all);
            return -1;
        }
        got += (size_t)n;
    }
    qsort(all, total, sizeof *all, fs_split_cmp);
    for (size_t j = 1; j < total; j++) {
        if (all[j].file == all[j - 1].file && all[j - 1].end > all[j].offset) {
            ed_op_fail(op,
                       FS ": the checkpoint has overlapping splits of '%s' (bytes [%lld, %lld) "
                          "and [%lld, %lld)): its state is inconsistent",
                       s->files[all[j].file].path, (long long)all[j - 1].offset,
                       (long long)all[j - 1].end, (long long)all[j].offset, (long long)all[j].end);
            free(all);
            return -1;
        }
    }
    /* Fewer splits than subtasks: cut the largest in two at its middle byte (the line rule
     * holds at any cut) until every subtask has one, so that none ends at once - a task
     * that ends stops the job's checkpoints. Every subtask cuts alike. */
    while (total < (size_t)p) {
        size_t big = 0;
        int64_t most = 0;
        for (size_t j = 0; j < total; j++)
            if (all[j].end - all[j].offset > most) {
                most = all[j].end - all[j].offset;
                big = j;
            }
        if (most < 2) break;
        memmove(&all[big + 2], &all[big + 1], (total - big - 1) * sizeof *all);
        int64_t mid = all[big].offset + most / 2;
        all[big + 1] =
            (fs_split){.file = all[big].file, .offset = mid, .end = all[big].end, .line = -1};
        all[big].end = mid;
        total++;
        ed_assert(all[big].offset < mid && mid < all[big + 1].end);
    }
    int mine = 0;
    for (size_t j = 0; j < total; j++)
        if (ed_conn_split_is_mine(j, op)) all[mine++] = all[j];
    fs_close_file(s);
    free(s->splits);
    s->splits = all;
    s->nsplits = mine;
    s->next_split = 0;
    s->bad = bad_mine;
    return 0;
}

static const ed_op_vt fs_vt = {
    .open = fs_open,
    .close = fs_close,
    .poll = fs_poll,
    .snapshot = fs_snapshot,
    .restore = fs_restore,
};

static const char *const fs_options[] = {"path", "format", "csv.field-delimiter",
                                         "csv.ignore-parse-errors", NULL};

const ed_factory ed_connector_filesystem_source = {
    .name = "filesystem",
    .kind = ED_FACTORY_SOURCE,
    .vt = &fs_vt,
    .check = fs_check,
    .max_parallelism = 0,
    .options = fs_options,
};
