/*
 * print.c - Flink's print sink: one line per row on stdout (or stderr).
 *
 * The line is prefix + text + "\n". The prefix is Flink's PrintSinkOutputWriter's:
 *
 *                     parallelism 1     parallelism > 1
 *   no identifier     ""                "<subtask+1>> "
 *   identifier "id"   "id> "            "id:<subtask+1>> "
 *
 * and eddy.sink.print.prefix=false drops the subtask part (as if parallelism were 1).
 * The text is the row's as Flink prints a DataStream: a one-field row is its bare value
 * (a DataStream<String>), a wider row is Row.toString ("+I[a, 1]").
 *
 * Each subtask formats into its own 64 KiB buffer and writes it with one write(2) when
 * it is full, on flush (the task is about to wait, or its buffer timeout passed), at end
 * of input and at close. Subtasks share the file descriptor, so a process-wide mutex
 * is held around each buffer's write: lines of different subtasks interleave only at
 * line boundaries, and nothing is locked per row.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/log.h"
#include "connectors_int.h"

#define PR "print"

/* Guards writes to stdout/stderr by all print sinks of the process. */
static pthread_mutex_t pr_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct pr_state {
    int fd;
    const eddy_schema *schema;
    char prefix[256];
    size_t plen;
    ed_strbuf out;
    bool failed;
} pr_state;

static int pr_opts(const ed_node *n, const char **ident, bool *to_stderr, ed_err *err)
{
    *ident = ed_node_param(n, "print-identifier");
    if (!*ident) *ident = "";
    if (strlen(*ident) > 200)
        return ed_err_set(err, PR ": option 'print-identifier': longer than 200 bytes");
    return ed_conn_opt_bool(n, PR, "standard-error", false, to_stderr, err);
}

static int pr_check(const ed_node *n, ed_err *err)
{
    const char *ident;
    bool e;
    return pr_opts(n, &ident, &e, err);
}

static int pr_open(ed_operator *op, ed_err *err)
{
    pr_state *s = calloc(1, sizeof *s);
    if (!s) return ed_err_set(err, PR ": out of memory");
    op->state = s;
    const char *ident;
    bool to_stderr;
    if (pr_opts(op->node, &ident, &to_stderr, err) != 0) return -1;
    s->fd = to_stderr ? STDERR_FILENO : STDOUT_FILENO;
    s->schema = ed_op_input_schema(op);
    if (!s->schema) s->schema = ed_op_schema(op);
    bool subtask_prefix = op->ctx.parallelism > 1;
    const ed_config *cfg = ed_op_config(op);
    if (cfg && !ed_config_get_bool(cfg, "eddy.sink.print.prefix", true)) subtask_prefix = false;
    int n;
    if (subtask_prefix)
        n = snprintf(s->prefix, sizeof s->prefix, "%s%s%d> ", ident, *ident ? ":" : "",
                     op->ctx.subtask + 1);
    else
        n = snprintf(s->prefix, sizeof s->prefix, *ident ? "%s> " : "%s", ident);
    s->plen = n > 0 ? (size_t)n : 0;
    ed_sb_init(&s->out);
    ed_sb_reserve(&s->out, ED_CONN_SINK_BUFFER + 1024);
    return 0;
}

/* Writes the buffer out under the process-wide lock. */
static int pr_write(ed_operator *op, pr_state *s)
{
    if (s->out.len == 0 || s->failed) return s->failed ? -1 : 0;
    pthread_mutex_lock(&pr_lock);
    int rc = ed_conn_write_all(s->fd, s->out.data, s->out.len);
    int e = errno;
    pthread_mutex_unlock(&pr_lock);
    ed_sb_reset(&s->out);
    if (rc != 0) {
        s->failed = true;
        return ed_op_fail(op, PR ": cannot write to %s: %s",
                          s->fd == STDERR_FILENO ? "standard error" : "standard output",
                          strerror(e));
    }
    return 0;
}

static int pr_process(ed_operator *op, int input, const eddy_row *row, int64_t ts)
{
    pr_state *s = op->state;
    ed_sb_append(&s->out, s->prefix, s->plen);
    ed_conn_render_text(s->schema, row, &s->out);
    ed_sb_putc(&s->out, '\n');
    if (s->out.len >= ED_CONN_SINK_BUFFER) return pr_write(op, s);
    return 0;
}

static int pr_flush(ed_operator *op)
{
    return pr_write(op, op->state);
}

static int pr_end_input(ed_operator *op, int input)
{
    return pr_write(op, op->state);
}

static void pr_close(ed_operator *op)
{
    pr_state *s = op->state;
    if (!s) return;
    if (s->out.len && !s->failed && pr_write(op, s) != 0)
        ED_LOG_ERROR("connector", PR ": %s", op->err.msg);
    ed_sb_free(&s->out);
    free(s);
    op->state = NULL;
}

static const ed_op_vt pr_vt = {
    .open = pr_open,
    .process = pr_process,
    .end_input = pr_end_input,
    .flush = pr_flush,
    .close = pr_close,
};

static const char *const pr_options[] = {"print-identifier", "standard-error", NULL};

const ed_factory ed_connector_print = {
    .name = "print",
    .kind = ED_FACTORY_SINK,
    .vt = &pr_vt,
    .check = pr_check,
    .max_parallelism = 0,
    .options = pr_options,
};
