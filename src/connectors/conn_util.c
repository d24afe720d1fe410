/*
 * conn_util.c - option parsing and output helpers shared by the connectors.
 *
 * Options are checked twice with the same functions: by the factory's check() when the
 * job is built, so a bad value is reported by the builder call that set it, and again
 * by open(), which reads the values it runs with. Keeping one parser means the two can
 * never disagree about what is valid.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connectors_int.h"

int ed_conn_opt_i64(const ed_node *n, const char *conn, const char *key, int64_t dflt, int64_t min,
                    int64_t max, int64_t *out, ed_err *err)
{
    const char *v = ed_node_param(n, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    int64_t x;
    if (ed_parse_i64(v, &x) != 0)
        return ed_err_set(err, "%s: option '%s': '%s' is not an integer", conn, key, v);
    if (x < min || x > max)
        return ed_err_set(err, "%s: option '%s': '%s' is out of range [%lld, %lld]", conn, key, v,
                          (long long)min, (long long)max);
    *out = x;
    return 0;
}

int ed_conn_opt_f64(const ed_node *n, const char *conn, const char *key, double dflt, double min,
                    double max, double *out, ed_err *err)
{
    const char *v = ed_node_param(n, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    double x;
    if (ed_parse_f64(v, &x) != 0 || isnan(x))
        return ed_err_set(err, "%s: option '%s': '%s' is not a number", conn, key, v);
    if (x < min || x > max)
        return ed_err_set(err, "%s: option '%s': '%s' is out of range [%g, %g]", conn, key, v, min,
                          max);
    *out = x;
    return 0;
}

int ed_conn_opt_bool(const ed_node *n, const char *conn, const char *key, bool dflt, bool *out,
                     ed_err *err)
{
    const char *v = ed_node_param(n, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (ed_parse_bool(v, out) != 0)
        return ed_err_set(err, "%s: option '%s': '%s' is not true or false", conn, key, v);
    return 0;
}

int ed_conn_opt_char(const ed_node *n, const char *conn, const char *key, char dflt, char *out,
                     ed_err *err)
{
    const char *v = ed_node_param(n, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (v[0] && !v[1] && v[0] != '\n' && v[0] != '\r' && v[0] != '"') {
        *out = v[0];
        return 0;
    }
    if (v[0] == '\\' && v[1] && !v[2]) {
        switch (v[1]) {
        case 't':
            *out = '\t';
            return 0;
        case '\\':
            *out = '\\';
            return 0;
        case '\'':
            *out = '\'';
            return 0;
        default:
            break;
        }
    }
    return ed_err_set(err,
                      "%s: option '%s': '%s' is not a single character (other than a quote, "
                      "CR or LF; '\\t' is a tab)",
                      conn, key, v);
}

int ed_conn_opt_str(const ed_node *n, const char *conn, const char *key, const char *dflt,
                    const char **out, ed_err *err)
{
    const char *v = ed_node_param(n, key);
    if (!v) {
        if (!dflt) return ed_err_set(err, "%s: option '%s' is required", conn, key);
        *out = dflt;
        return 0;
    }
    if (!*v) return ed_err_set(err, "%s: option '%s': the value is empty", conn, key);
    *out = v;
    return 0;
}

int ed_conn_opt_format(const ed_node *n, const char *conn, ed_conn_format *out, ed_err *err)
{
    const char *v = ed_node_param(n, "format");
    if (!v || strcmp(v, "text") == 0) {
        *out = ED_CONN_TEXT;
        return 0;
    }
    if (strcmp(v, "csv") == 0) {
        *out = ED_CONN_CSV;
        return 0;
    }
    return ed_err_set(err, "%s: option 'format': '%s' is not text or csv", conn, v);
}

bool ed_conn_is_line_schema(const eddy_schema *s)
{
    return s && eddy_schema_arity(s) == 1 && eddy_schema_type(s, 0) == EDDY_STRING;
}

int ed_conn_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void ed_conn_render_text(const eddy_schema *s, const eddy_row *r, ed_strbuf *out)
{
    if (eddy_row_arity(r) == 1) {
        if (eddy_row_is_null(r, 0))
            ed_sb_append(out, "null", 4);
        else
            ed_value_format(eddy_schema_type(s, 0), r, 0, out);
        return;
    }
    ed_row_format_flink(s, r, out);
}

/* ---- counted splits -------------------------------------------------------------------- */

void ed_conn_put_split(ed_strbuf *out, const ed_conn_split *s)
{
    uint32_t ix[2] = {s->index, 0};
    ed_sb_append(out, ix, sizeof ix);
    ed_sb_append(out, &s->pos, 8);
}

int ed_conn_take_splits(ed_operator *op, const char *conn, ed_conn_reader *rd, uint32_t n,
                        uint32_t nsplits, int k, int nold, ed_conn_split **all, size_t *count)
{
    if (rd->len - rd->off != (size_t)n * 16)
        return ed_op_fail(op, "%s: the state of subtask %d/%d has %zu bytes for %u split(s)",
                          conn, k + 1, nold, rd->len - rd->off, n);
    ed_conn_split *grown = realloc(*all, (*count + n + 1) * sizeof **all);
    if (!grown) return ed_op_fail(op, "%s: out of memory", conn);
    *all = grown;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t ix[2] = {0, 0};
        int64_t pos = -1;
        ed_conn_take(rd, ix, sizeof ix); /* the length was checked above */
        ed_conn_take(rd, &pos, 8);
        if (ix[0] >= nsplits || pos < 0)
            return ed_op_fail(op, "%s: split %u at %lld (of subtask %d/%d) does not fit %u splits",
                              conn, ix[0], (long long)pos, k + 1, nold, nsplits);
        (*all)[(*count)++] = (ed_conn_split){ix[0], pos};
    }
    return 0;
}

static int split_cmp(const void *a, const void *b)
{
    uint32_t x = ((const ed_conn_split *)a)->index, y = ((const ed_conn_split *)b)->index;
    return x < y ? -1 : x > y;
}

long ed_conn_deal_splits(ed_operator *op, const char *conn, ed_conn_split *all, size_t n)
{
    if (n) qsort(all, n, sizeof *all, split_cmp);
    for (size_t j = 1; j < n; j++)
        if (all[j].index == all[j - 1].index)
            return ed_op_fail(op, "%s: split %u is in the checkpoint twice", conn, all[j].index);
    size_t mine = 0;
    for (size_t j = 0; j < n; j++)
        if (ed_conn_split_is_mine(j, op)) all[mine++] = all[j];
    return (long)mine;
}

/* ---- fixed columns ------------------------------------------------------------------------ */

int ed_conn_match_columns(const ed_node *n, const char *conn, const ed_conn_column *cols,
                          int ncols, int group, const char *what, int *col, ed_err *err)
{
    const eddy_schema *s = n->schema;
    for (uint32_t f = 0, nf = eddy_schema_arity(s); f < nf; f++) {
        const char *name = eddy_schema_name(s, f);
        int c = -1;
        for (int j = 0; j < ncols && c < 0; j++)
            if (cols[j].group == group && strcmp(cols[j].name, name) == 0) c = j;
        if (c < 0) {
            ed_strbuf have;
            ed_sb_init(&have);
            for (int j = 0; j < ncols; j++)
                if (cols[j].group == group) ed_sb_printf(&have, "%s%s", have.len ? ", " : "", cols[j].name);
            ed_err_set(err, "%s: field '%s' is not a column of %s (%s)", conn, name, what, have.data);
            ed_sb_free(&have);
            return -1;
        }
        if (eddy_schema_type(s, f) != cols[c].type)
            return ed_err_set(err, "%s: field '%s' is %s, not %s", conn, name,
                              eddy_type_name(eddy_schema_type(s, f)), eddy_type_name(cols[c].type));
        col[f] = c;
    }
    return 0;
}
