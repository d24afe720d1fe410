/*
 * durations.c - how long each START took to reach its END, with a timeout.
 *
 *   eddy run build/durations.so data/start_end.csv
 *
 * Input lines are `key,timestamp_ms,START|END` in event time. A KeyedProcessFunction
 * remembers a key's START timestamp and registers an event-time timer 4 hours later. An
 * END before the timer emits `key,duration_ms` and clears the state and the timer; a
 * timer that fires emits `key,timeout` and clears the state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <eddy/eddy.h>

#define TIMEOUT_MS (4LL * 60 * 60 * 1000)

static const eddy_state_desc started = {
    .name = "started", .kind = EDDY_STATE_VALUE, .schema = "ts BIGINT"};

/* Per subtask: the state handle and a builder for its rows, made in open. */
typedef struct durations {
    eddy_state *started;
    eddy_row_builder *ts;
} durations;

int durations_open(eddy_ctx *ctx)
{
    durations *d = calloc(1, sizeof(*d));
    if (!d) return eddy_fail(ctx, "out of memory");
    eddy_ctx_set_user(ctx, d);
    d->started = eddy_keyed_state(ctx, &started);
    d->ts = eddy_rb_new(1);
    return d->started ? 0 : -1;
}

void durations_close(eddy_ctx *ctx)
{
    durations *d = eddy_ctx_user(ctx);
    if (!d) return;
    eddy_rb_free(d->ts);
    free(d);
}

static int emit_line(eddy_collector *out, const char *line)
{
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_cstr(b, 0, line);
    return eddy_emit(out, eddy_rb_row(b));
}

int on_event(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    durations *d = eddy_ctx_user(ctx);
    eddy_state *st = d->started;
    eddy_str kind = eddy_row_str(in, 2);
    int64_t ts = eddy_row_i64(in, 1);
    if (kind.len == 5 && memcmp(kind.ptr, "START", 5) == 0) {
        eddy_rb_reset(d->ts);
        eddy_rb_set_i64(d->ts, 0, ts);
        if (eddy_value_update(st, eddy_rb_row(d->ts))) return -1;
        return eddy_timer_register_event_time(ctx, ts + TIMEOUT_MS);
    }
    if (kind.len == 3 && memcmp(kind.ptr, "END", 3) == 0) {
        const eddy_row *start = eddy_value_get(st);
        if (!start) return 0; /* an END without a START: nothing to measure */
        int64_t begun = eddy_row_i64(start, 0);
        char line[96];
        snprintf(line, sizeof line, "%.*s,%" PRId64, (int)eddy_row_str(in, 0).len,
                 eddy_row_str(in, 0).ptr, ts - begun);
        eddy_timer_delete_event_time(ctx, begun + TIMEOUT_MS);
        eddy_state_clear(st);
        return emit_line(out, line);
    }
    return eddy_fail(ctx, "unknown event kind '%.*s'", (int)kind.len, kind.ptr);
}

int on_timeout(eddy_ctx *ctx, int64_t timestamp, eddy_collector *out)
{
    durations *d = eddy_ctx_user(ctx);
    eddy_state_clear(d->started);
    eddy_str key = eddy_row_str(eddy_ctx_current_key(ctx), 0);
    char line[96];
    snprintf(line, sizeof line, "%.*s,timeout", (int)key.len, key.ptr);
    return emit_line(out, line);
}

int eddy_job_main(eddy_env *env, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: eddy run durations.so INPUT.csv\n");
        return 1;
    }
    eddy_stream *events = eddy_source(env, "filesystem", "k STRING, ts BIGINT, kind STRING",
                                      "path", argv[1], "format", "csv", NULL);
    eddy_set_parallelism(events, 1); /* one reader: events in file order */
    eddy_watermark_strategy wm = eddy_monotonous_timestamps("ts");
    wm.per_record = true; /* deterministic timeouts for a replayed file */
    events = eddy_assign_timestamps_and_watermarks(events, wm);
    eddy_stream *out = eddy_keyed_process(eddy_key_by(events, "k"), EDDY_FN(on_event),
                                          EDDY_FN(on_timeout), "line STRING");
    eddy_rich(out, EDDY_FN(durations_open), EDDY_FN(durations_close));
    eddy_print(eddy_name(out, "Durations"));
    return eddy_execute(env, "Start/End Durations");
}
