/*
 * click_sessions.c - user sessions from a click stream, in event time.
 *
 *   eddy run build/click_sessions.so data/clicks.csv [OUTPUT]
 *
 * Input lines are `user_id,timestamp_ms`, up to 10 s out of order. Keyed by user, clicks
 * fall into event-time session windows with a 30-minute gap; each session becomes one line
 * `user_id,session_start_ms,session_end_ms,count`, where the end is the last click's
 * timestamp plus the gap (Flink's session window end). Watermarks trail the highest
 * timestamp by 10 s; a click that arrives after its session was closed is late: it goes
 * to a side output and the number of late clicks is reported on stderr.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>

#include <eddy/eddy.h>

#define GAP_MS (30 * 60 * 1000)

/* count: the accumulator is one BIGINT */
int count_create(eddy_ctx *ctx, eddy_row_builder *acc)
{
    eddy_rb_set_i64(acc, 0, 0);
    return 0;
}
int count_add(eddy_ctx *ctx, const eddy_row *in, const eddy_row *acc, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(acc, 0) + 1);
    return 0;
}
int count_result(eddy_ctx *ctx, const eddy_row *acc, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(acc, 0));
    return 0;
}
int count_merge(eddy_ctx *ctx, const eddy_row *a, const eddy_row *b, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(a, 0) + eddy_row_i64(b, 0));
    return 0;
}

/* One line per session: user_id,start,end,count. */
int session_line(eddy_ctx *ctx, const eddy_window_elements *counts, eddy_collector *out)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64,
                     eddy_row_i64(eddy_ctx_current_key(ctx), 0), eddy_ctx_window_start(ctx),
                     eddy_ctx_window_end(ctx), eddy_row_i64(eddy_window_row(counts, 0), 0));
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_str(b, 0, line, (uint32_t)n);
    return eddy_emit(out, eddy_rb_row(b));
}

static atomic_long late_clicks;

int count_late(eddy_ctx *ctx, const eddy_row *in)
{
    atomic_fetch_add(&late_clicks, 1);
    return 0; /* counted, not passed on */
}

void report_late(eddy_ctx *ctx)
{
    if (eddy_ctx_subtask(ctx) == 0)
        fprintf(stderr, "late clicks: %ld\n", atomic_load(&late_clicks));
}

int eddy_job_main(eddy_env *env, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: eddy run click_sessions.so INPUT.csv [OUTPUT]\n");
        return 1;
    }
    eddy_stream *clicks = eddy_source(env, "filesystem", "user_id BIGINT, ts BIGINT", "path",
                                      argv[1], "format", "csv", NULL);
    /* one reader: the file's order is the event order the lateness rule sees, at any
     * parallelism of the sessions */
    eddy_set_parallelism(clicks, 1);
    eddy_watermark_strategy wm = eddy_bounded_out_of_orderness(10000, "ts");
    wm.per_record = true; /* deterministic lateness for a replayed file */
    clicks = eddy_assign_timestamps_and_watermarks(clicks, wm);

    eddy_windowed *w = eddy_window(eddy_key_by(clicks, "user_id"),
                                   eddy_event_time_session_windows(GAP_MS));
    eddy_window_late_side_output(w, "late");
    eddy_aggregate count = {.acc_schema = "n BIGINT",
                            .out_schema = "n BIGINT",
                            .create = EDDY_FN(count_create),
                            .add = EDDY_FN(count_add),
                            .result = EDDY_FN(count_result),
                            .merge = EDDY_FN(count_merge)};
    eddy_stream *sessions =
        eddy_window_aggregate_process(w, count, EDDY_FN(session_line), "line STRING");
    eddy_name(sessions, "Sessions");

    eddy_stream *late = eddy_side_output(sessions, "late", "user_id BIGINT, ts BIGINT");
    eddy_stream *counted = eddy_filter(late, EDDY_FN(count_late));
    eddy_rich(eddy_set_parallelism(counted, 1), EDDY_FN_NONE, EDDY_FN(report_late));
    eddy_discard(counted);

    if (argc > 2)
        eddy_write_as_text(sessions, argv[2]);
    else
        eddy_print(sessions);
    return eddy_execute(env, "Click Sessions");
}
