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

typedef struct fs_state {
    fs_opts o;
    const eddy_schema *schema;
    eddy_row_builder *rb;
    char **files; /* paths, in reading order */
    int nfiles, next_file;

    /* the file being read */
    const char *cur; /* its path, for messages */
    int fd;          /* -1 when none is open */
    int64_t end;     /* lines starting at or after this offset belong to the next subtask */
    int64_t buf_off; /* file offset of buf[0] */
    char *buf;
    size_t cap, lo, hi, scan; /* unread bytes buf[lo, hi); no '\n' in buf[lo, scan) */
    bool eof;
    int64_t first_line;   /* file offset of the first line this subtask owns */
    int64_t lines_before; /* lines before first_line; -1 until a message needs it */
    int64_t lines;        /* lines returned from this file so far */

    uint64_t bad, bad_file; /* lines skipped, in total and in the current file */
    ed_err perr;
} fs_state;

static int fs_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files to read: path itself, or the visible regular files of the directory. */
static int fs_list(fs_state *s, ed_err *err)
{
    struct stat st;
    const char *path = s->o.path;
    if (stat(path, &st) != 0) return ed_err_set(err, FS ": '%s': %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        s->files = malloc(sizeof *s->files);
        if (!s->files || !(s->files[0] = strdup(path)))
            return ed_err_set(err, FS ": out of memory");
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
            char **nf = realloc(s->files, cap * sizeof *nf);
            if (!nf) {
                free(full);
                rc = ed_err_set(err, FS ": out of memory");
                break;
            }
            s->files = nf;
        }
        s->files[s->nfiles++] = full;
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
    return fs_list(s, err);
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
        free(s->files[i]);
    free(s->files);
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

/* Opens the next file that has lines in this subtask's range. 1 opened, 0 none left, -1
 * error. */
static int fs_next_file(ed_operator *op, fs_state *s)
{
    int i = op->ctx.subtask, p = op->ctx.parallelism > 0 ? op->ctx.parallelism : 1;
    while (s->next_file < s->nfiles) {
        s->cur = s->files[s->next_file++];
        s->fd = open(s->cur, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0) return ed_op_fail(op, FS ": cannot open '%s': %s", s->cur, strerror(errno));
        struct stat st;
        if (fstat(s->fd, &st) != 0) {
            ed_op_fail(op, FS ": cannot stat '%s': %s", s->cur, strerror(errno));
            fs_close_file(s);
            return -1;
        }
        int64_t size = st.st_size;
        int64_t begin = (int64_t)((unsigned __int128)size * (unsigned)i / (unsigned)p);
        s->end = (int64_t)((unsigned __int128)size * (unsigned)(i + 1) / (unsigned)p);
        s->lo = s->hi = s->scan = 0;
        s->eof = false;
        s->lines = 0;
        s->lines_before = begin == 0 ? 0 : -1;
        s->bad_file = 0;
        s->buf_off = begin > 0 ? begin - 1 : 0;
        if (begin < s->end && s->buf_off > 0 && lseek(s->fd, s->buf_off, SEEK_SET) < 0) {
            ed_op_fail(op, FS ": cannot seek in '%s': %s", s->cur, strerror(errno));
            fs_close_file(s);
            return -1;
        }
        if (begin < s->end && begin > 0) { /* discard the line through byte begin-1 */
            const char *l;
            size_t n;
            int r = fs_line(op, s, &l, &n);
            if (r < 0) {
                fs_close_file(s);
                return -1;
            }
        }
        s->first_line = s->buf_off + (int64_t)s->lo;
        if (begin < s->end && s->first_line < s->end) {
            /* each file's range is a split: per-split watermarks follow it */
            op->split = s->next_file - 1;
            return 1;
        }
        fs_close_file(s); /* no line starts in this subtask's range */
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
    s->bad_file++;
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
            int r = fs_next_file(op, s);
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
 * The position of a subtask, for checkpoints: which of its files it reads, the offset of
 * the next line to read in it, and how many lines it has read there (for exact line
 * numbers in messages). A restore reopens the file at that line. Positions belong to the
 * subtask's byte ranges: they restore at the same parallelism, over the same files.
 *
 *   uint32 version 1 | int32 nfiles | int32 file (-1: between files) | int32 next_file |
 *   int64 offset | int64 lines | int64 lines_before | uint64 bad | uint64 bad_file
 */
typedef struct fs_pos {
    uint32_t version;
    int32_t nfiles, file, next_file;
    int64_t offset, lines, lines_before;
    uint64_t bad, bad_file;
} fs_pos;

static int fs_snapshot(ed_operator *op, int64_t id, ed_strbuf *out)
{
    fs_state *s = op->state;
    fs_pos p = {.version = 1,
                .nfiles = s->nfiles,
                .file = s->fd >= 0 ? s->next_file - 1 : -1,
                .next_file = s->next_file,
                .offset = s->buf_off + (int64_t)s->lo,
                .lines = s->lines,
                .lines_before = s->lines_before,
                .bad = s->bad,
                .bad_file = s->bad_file};
    ed_sb_append(out, &p, sizeof p);
    return 0;
}

static int fs_restore(ed_operator *op, const ed_snapshot_ref *old, int nold)
{
    fs_state *s = op->state;
    if (nold != op->ctx.parallelism)
        return ed_op_fail(op, FS ": positions were taken at parallelism %d; this source runs with "
                              "%d (a filesystem source restores at its own parallelism)",
                          nold, op->ctx.parallelism);
    const ed_snapshot_ref *r = &old[op->ctx.subtask];
    fs_pos p;
    if (r->len != sizeof p) return ed_op_fail(op, FS ": the checkpointed position does not fit");
    memcpy(&p, r->data, sizeof p);
    if (p.version != 1 || p.nfiles != s->nfiles || p.next_file < 0 || p.next_file > s->nfiles ||
        p.file < -1 || p.file >= s->nfiles)
        return ed_op_fail(op, FS ": the checkpointed position is for %d files; '%s' has %d now",
                          p.nfiles, s->o.path, s->nfiles);
    fs_close_file(s);
    s->bad = p.bad;
    if (p.file < 0) {
        s->next_file = p.next_file;
        return 0;
    }
    s->next_file = p.file;
    int rc = fs_next_file(op, s);
    if (rc < 0) return -1;
    if (rc == 0 || s->next_file != p.file + 1 || p.offset < s->first_line || p.offset > s->end)
        return ed_op_fail(op, FS ": '%s' changed since the checkpoint", s->files[p.file]);
    if (p.offset > s->buf_off + (int64_t)s->lo) {
        if (lseek(s->fd, p.offset, SEEK_SET) < 0)
            return ed_op_fail(op, FS ": cannot seek in '%s': %s", s->cur, strerror(errno));
        s->buf_off = p.offset;
        s->lo = s->hi = s->scan = 0;
        s->eof = false;
    }
    s->lines = p.lines;
    s->lines_before = p.lines_before;
    s->bad_file = p.bad_file;
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
