/*
 * windowed_wordcount.c - WordCount in event-time windows: 5 s tumbling and 10 s sliding
 * every 5 s.
 *
 *   eddy run build/windowed_wordcount.so data/timed_words.csv [tumbling|sliding]
 *
 * Input lines are `timestamp_ms,text`. Words are counted per window; each result is a
 * line `window_start,window_end,word,count`. With no second argument both windowings
 * run and each line starts with `tumbling,` or `sliding,`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <eddy/eddy.h>

#include "tokenizer.h"

/* (ts, text) -> (word, 1) rows, keeping the record's timestamp */
int timed_tokenize(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    return tokenize_field(in, 1, out);
}

static int window_line(eddy_ctx *ctx, const char *label, const eddy_window_elements *e,
                       eddy_collector *out)
{
    const eddy_row *r = eddy_window_row(e, 0);
    eddy_str w = eddy_row_str(r, 0);
    char line[400];
    int n = snprintf(line, sizeof line, "%s%" PRId64 ",%" PRId64 ",%.*s,%" PRId64, label,
                     eddy_ctx_window_start(ctx), eddy_ctx_window_end(ctx), (int)w.len, w.ptr,
                     eddy_row_i64(r, 1));
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_str(b, 0, line, (uint32_t)n);
    return eddy_emit(out, eddy_rb_row(b));
}

int tumbling_line(eddy_ctx *ctx, const eddy_window_elements *e, eddy_collector *out)
{
    return window_line(ctx, eddy_ctx_param(ctx, "label", ""), e, out);
}

int sum_counts(eddy_ctx *ctx, const eddy_row *acc, const eddy_row *in, eddy_row_builder *out)
{
    eddy_rb_set_field(out, 0, acc, 0);
    eddy_rb_set_i64(out, 1, eddy_row_i64(acc, 1) + eddy_row_i64(in, 1));
    return 0;
}

static eddy_stream *counts(eddy_stream *keyed, eddy_window_assigner a, const char *label)
{
    eddy_windowed *w = eddy_window(keyed, a);
    eddy_stream *s = eddy_window_reduce_process(w, EDDY_FN(sum_counts), EDDY_FN(tumbling_line),
                                                "line STRING");
    return eddy_param(s, "label", label);
}

int eddy_job_main(eddy_env *env, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: eddy run windowed_wordcount.so INPUT.csv [tumbling|sliding]\n");
        return 1;
    }
    const char *which = argc > 2 ? argv[2] : "both";
    eddy_stream *lines = eddy_source(env, "filesystem", "ts BIGINT, text STRING", "path",
                                     argv[1], "format", "csv", NULL);
    lines = eddy_assign_timestamps_and_watermarks(lines, eddy_bounded_out_of_orderness(1000, "ts"));
    eddy_stream *words = eddy_flat_map(lines, EDDY_FN(timed_tokenize), "word STRING, cnt BIGINT");
    eddy_stream *keyed = eddy_key_by(words, "word");
    bool both = strcmp(which, "both") == 0;
    eddy_stream *out = NULL;
    if (both || strcmp(which, "tumbling") == 0)
        out = counts(keyed, eddy_tumbling_event_time_windows(5000, 0), both ? "tumbling," : "");
    if (both || strcmp(which, "sliding") == 0) {
        eddy_stream *s = counts(keyed, eddy_sliding_event_time_windows(10000, 5000, 0),
                                both ? "sliding," : "");
        out = out ? eddy_union(out, s) : s;
    }
    if (!out) {
        fprintf(stderr, "windowed_wordcount: '%s' is not tumbling or sliding\n", which);
        return 1;
    }
    eddy_print(out);
    return eddy_execute(env, "Windowed WordCount");
}
