/*
 * job_util.h - helpers for job tests: rows in, results out as text.
 */
#ifndef ED_JOB_UTIL_H
#define ED_JOB_UTIL_H

#include <eddy/eddy.h>
#include <stdlib.h>
#include <string.h>

#include "types/types.h"

static int ed_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The result's rows as Flink's Row.toString lines joined by '\n', sorted when asked
 * (parallel runs interleave subtasks). The caller frees the string. */
static inline char *result_text(const eddy_result *r, const eddy_schema *s, int sorted)
{
    size_t n = eddy_result_count(r);
    char **lines = calloc(n + 1, sizeof(char *));
    ed_strbuf sb;
    ed_sb_init(&sb);
    for (size_t i = 0; i < n; i++) {
        ed_sb_reset(&sb);
        ed_row_format_flink(s, eddy_result_row(r, i), &sb);
        lines[i] = strdup(sb.data ? sb.data : "");
    }
    if (sorted) qsort(lines, n, sizeof(char *), ed_cmp_str);
    ed_sb_reset(&sb);
    for (size_t i = 0; i < n; i++) {
        if (i) ed_sb_putc(&sb, '\n');
        ed_sb_puts(&sb, lines[i]);
        free(lines[i]);
    }
    free(lines);
    if (!sb.data) ed_sb_puts(&sb, "");
    return ed_sb_steal(&sb);
}

/* A collection source of BIGINT rows 1..n with schema "n BIGINT". */
static inline eddy_stream *numbers(eddy_env *env, int64_t n)
{
    eddy_row_builder *b = eddy_rb_new(1);
    const eddy_row **rows = calloc((size_t)n + 1, sizeof(*rows));
    for (int64_t i = 0; i < n; i++) {
        eddy_rb_reset(b);
        eddy_rb_set_i64(b, 0, i + 1);
        const eddy_row *r = eddy_rb_row(b);
        void *copy = malloc(eddy_row_size(r));
        memcpy(copy, r, eddy_row_size(r));
        rows[i] = copy;
    }
    eddy_stream *s = eddy_from_rows(env, "n BIGINT", rows, (size_t)n);
    for (int64_t i = 0; i < n; i++) free((void *)rows[i]);
    free(rows);
    eddy_rb_free(b);
    return s;
}

#endif
