/*
 * filesystem_sink.c - rows written to text or CSV files, as Flink's writeAsText/writeAsCsv.
 *
 * Where the rows go follows Flink's FileOutputFormat:
 *   - sink parallelism 1: `path` is the output file;
 *   - parallelism p > 1: `path` is a directory (created with its parents if missing)
 *     holding one file per subtask, named "1" .. "p".
 * Existing files are truncated (Flink's WriteMode.OVERWRITE); a directory's other files
 * are left alone. Rows are text (the rendering of print, without a prefix) or CSV
 * (ed_row_format_csv with csv.field-delimiter), one per line.
 *
 * Each subtask formats into a 64 KiB buffer and writes it with one write(2) when full,
 * on flush, at end of input and at close: no lock (a file per subtask), no fsync (this
 * sink makes no durability promise; a transactional file sink is a separate connector).
 * A failed open or write (ENOSPC, EIO) fails the job with the path and strerror.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/log.h"
#include "connectors_int.h"

#define FSK "filesystem"

typedef struct fsk_opts {
    const char *path;
    ed_conn_format format;
    char delim;
} fsk_opts;

static int fsk_opts_parse(const ed_node *n, fsk_opts *o, ed_err *err)
{
    return ed_conn_opt_str(n, FSK, "path", NULL, &o->path, err) ||
                   ed_conn_opt_format(n, FSK, &o->format, err) ||
                   ed_conn_opt_char(n, FSK, "csv.field-delimiter", ',', &o->delim, err)
               ? -1
               : 0;
}

static int fsk_check(const ed_node *n, ed_err *err)
{
    fsk_opts o;
    return fsk_opts_parse(n, &o, err);
}

typedef struct fsk_state {
    fsk_opts o;
    char file[PATH_MAX];
    int fd;
    const eddy_schema *schema;
    ed_strbuf out;
    bool failed;
} fsk_state;

/* mkdir -p; 0 or -1 with errno set. */
static int fsk_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
    struct stat st;
    if (stat(buf, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int fsk_open(ed_operator *op, ed_err *err)
{
    fsk_state *s = calloc(1, sizeof *s);
    if (!s) return ed_err_set(err, FSK ": out of memory");
    op->state = s;
    s->fd = -1;
    ed_sb_init(&s->out);
    if (fsk_opts_parse(op->node, &s->o, err) != 0) return -1;
    s->schema = ed_op_input_schema(op);
    if (!s->schema) s->schema = ed_op_schema(op);
    int n;
    if (op->ctx.parallelism > 1) {
        if (fsk_mkdirs(s->o.path) != 0)
            return ed_err_set(err, FSK ": cannot create directory '%s': %s", s->o.path,
                              strerror(errno));
        size_t plen = strlen(s->o.path);
        n = snprintf(s->file, sizeof s->file, "%s%s%d", s->o.path,
                     plen && s->o.path[plen - 1] == '/' ? "" : "/", op->ctx.subtask + 1);
    } else {
        n = snprintf(s->file, sizeof s->file, "%s", s->o.path);
    }
    if (n < 0 || (size_t)n >= sizeof s->file)
        return ed_err_set(err, FSK ": path '%s' is too long", s->o.path);
    s->fd = open(s->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0)
        return ed_err_set(err, FSK ": cannot open '%s' for writing: %s", s->file, strerror(errno));
    ed_sb_reserve(&s->out, ED_CONN_SINK_BUFFER + 1024);
    return 0;
}

static int fsk_write(ed_operator *op, fsk_state *s)
{
    if (s->failed) return -1;
    if (s->out.len == 0) return 0;
    int rc = ed_conn_write_all(s->fd, s->out.data, s->out.len), e = errno;
    ed_sb_reset(&s->out);
    if (rc != 0) {
        s->failed = true;
        return ed_op_fail(op, FSK ": cannot write '%s': %s", s->file, strerror(e));
    }
    return 0;
}

static int fsk_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    fsk_state *s = op->state;
    if (s->o.format == ED_CONN_CSV)
        ed_row_format_csv(s->schema, row, s->o.delim, &s->out);
    else
        ed_conn_render_text(s->schema, row, &s->out);
    ed_sb_putc(&s->out, '\n');
    if (s->out.len >= ED_CONN_SINK_BUFFER) return fsk_write(op, s);
    return 0;
}

static int fsk_flush(ed_operator *op)
{
    return fsk_write(op, op->state);
}

static int fsk_end_input(ed_operator *op, int input)
{
    fsk_state *s = op->state;
    if (fsk_write(op, s) != 0) return -1;
    if (s->fd >= 0 && close(s->fd) != 0) { /* NFS and some others report write errors here */
        s->fd = -1;
        s->failed = true;
        return ed_op_fail(op, FSK ": cannot write '%s': %s", s->file, strerror(errno));
    }
    s->fd = -1;
    return 0;
}

static void fsk_close(ed_operator *op)
{
    fsk_state *s = op->state;
    if (!s) return;
    if (s->fd >= 0) {
        if (s->out.len && !s->failed && fsk_write(op, s) != 0)
            ED_LOG_ERROR("connector", "%s", op->err.msg);
        close(s->fd);
    }
    ed_sb_free(&s->out);
    free(s);
    op->state = NULL;
}

static const ed_op_vt fsk_vt = {
    .open = fsk_open,
    .process = fsk_process,
    .end_input = fsk_end_input,
    .flush = fsk_flush,
    .close = fsk_close,
};

static const char *const fsk_options[] = {"path", "format", "csv.field-delimiter", NULL};

const ed_factory ed_connector_filesystem_sink = {
    .name = "filesystem",
    .kind = ED_FACTORY_SINK,
    .vt = &fsk_vt,
    .check = fsk_check,
    .max_parallelism = 0,
    .options = fsk_options,
};
