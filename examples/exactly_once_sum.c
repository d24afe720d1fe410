/*
 * exactly_once_sum.c - a keyed running sum whose output survives any crash exactly once.
 *
 *   eddy run -D execution.checkpointing.interval=1s -D execution.checkpointing.dir=CKPT \
 *            build/exactly_once_sum.so INPUT.csv OUTDIR [records-per-second]
 *   eddy run -s CKPT/Exactly-Once_Sum/chk-N build/exactly_once_sum.so INPUT.csv OUTDIR
 *
 * Reads `key,value` lines, keeps each key's sum in keyed state, and when the input ends
 * writes one `key,total` line per key into OUTDIR through the exactly-once file sink
 * (part files committed with the checkpoints). The optional rate slows the reading down,
 * so that a run can be interrupted. Killed at any moment (kill -9) and started again from
 * its latest checkpoint, its finished output is exactly that of an uninterrupted run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <eddy/eddy.h>

/* per key: the row it will write, (key, total) */
static const eddy_state_desc sum_desc = {
    .name = "sum", .kind = EDDY_STATE_VALUE, .schema = "key STRING, total BIGINT"};

/* Throttles the stream to `rate` records per second (the job's third argument). */
int throttle(eddy_ctx *ctx, const eddy_row *in)
{
    static __thread uint64_t n;
    static __thread struct timespec t0;
    int64_t rate = atoll(eddy_ctx_param(ctx, "rate", "0"));
    if (rate <= 0) return 1;
    if (n++ == 0) clock_gettime(CLOCK_MONOTONIC, &t0);
    if (n % 64 == 0) { /* sleep off whatever the last 64 records were early */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double elapsed = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        double due = (double)n / (double)rate;
        if (due > elapsed) {
            struct timespec d = {(time_t)(due - elapsed), (long)((due - elapsed - (time_t)(due - elapsed)) * 1e9)};
            nanosleep(&d, NULL);
        }
    }
    return 1;
}

int add(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *st = eddy_keyed_state(ctx, &sum_desc);
    if (!st) return -1;
    const eddy_row *cur = eddy_value_get(st);
    if (!cur && eddy_timer_register_event_time(ctx, EDDY_MAX_WATERMARK - 1)) return -1;
    eddy_row_builder *b = eddy_out_builder(out); /* a scratch row of the output schema */
    eddy_rb_set_field(b, 0, in, 0);
    eddy_rb_set_i64(b, 1, (cur ? eddy_row_i64(cur, 1) : 0) + eddy_row_i64(in, 1));
    return eddy_value_update(st, eddy_rb_row(b));
}

/* The end of input: one line per key. */
int emit_total(eddy_ctx *ctx, int64_t t, eddy_collector *out)
{
    eddy_state *st = eddy_keyed_state(ctx, &sum_desc);
    if (!st) return -1;
    const eddy_row *total = eddy_value_get(st);
    return total ? eddy_emit(out, total) : 0;
}

int eddy_job_main(eddy_env *env, int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: eddy run exactly_once_sum.so INPUT.csv OUTDIR [records-per-second]\n");
        return 1;
    }
    eddy_stream *in = eddy_source(env, "filesystem", "key STRING, value BIGINT", "path", argv[1],
                                  "format", "csv", NULL);
    eddy_uid(eddy_set_parallelism(in, 1), "input");
    eddy_stream *slow = eddy_filter(in, EDDY_FN(throttle));
    eddy_param(slow, "rate", argc > 3 ? argv[3] : "0");
    eddy_stream *sums = eddy_keyed_process(eddy_key_by(slow, "key"), EDDY_FN(add),
                                           EDDY_FN(emit_total), "key STRING, total BIGINT");
    eddy_uid(sums, "sums");
    eddy_sink(sums, "filesink", "path", argv[2], "format", "csv", "sink.bucket.pattern", "", NULL);
    return eddy_execute(env, "Exactly-Once Sum");
}
