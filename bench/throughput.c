/*
 * throughput.c - the engine's keyed-aggregation throughput beside a hand-written loop.
 *
 *   build/bench_throughput [records] [keys]
 *
 * Engine: datagen (sequence) -> map (key = id % keys, v = id * 3 + 1) -> key_by(k) ->
 * sum(v) -> blackhole, at parallelism 1 and 2, in the embedded mini-cluster.
 * Baseline: one C loop doing the same work on one core: make the id, compute key and
 * value, find the key in an open-addressing table by a hash of its bytes, add, and
 * hand the updated aggregate to a sink that only counts.
 *
 * Prints records/s, records per CPU-second of the process, and engine/baseline.
 */
#include <sched.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <eddy/eddy.h>

#include "base/base.h"
#include "bench_util.h"

static int64_t nkeys = 10000;

int bench_map(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    int64_t id = eddy_row_i64(in, 0);
    eddy_rb_set_i64(out, 0, id % nkeys);
    eddy_rb_set_i64(out, 1, id * 3 + 1);
    return 0;
}

typedef struct result {
    double secs, cpu;
} result;

static const char *checkpoint_dir; /* set: the engine checkpoints every second into it */

static result run_engine(int64_t n, int p)
{
    char end[32];
    snprintf(end, sizeof(end), "%lld", (long long)n - 1);
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, p);
    eddy_env_set(env, "log.level", "WARN");
    bench_apply_conf(env);
    if (checkpoint_dir) {
        eddy_env_set(env, "execution.checkpointing.interval", "1 s");
        eddy_env_set(env, "execution.checkpointing.dir", checkpoint_dir);
    }
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", end,
                                   "rows-per-second", "0", NULL);
    eddy_stream *kv = eddy_map(src, EDDY_FN(bench_map), "k BIGINT, v BIGINT");
    eddy_discard(eddy_sum(eddy_key_by(kv, "k"), "v"));
    double c0 = bench_cpu_s(), t0 = bench_now_s();
    if (eddy_execute(env, "bench")) {
        fprintf(stderr, "bench: %s\n", eddy_env_error(env));
        exit(1);
    }
    result r = {bench_now_s() - t0, bench_cpu_s() - c0};
    eddy_env_free(env);
    return r;
}

/* ---- the hand-written baseline ---------------------------------------------------------- */

typedef struct slot {
    int64_t key, sum;
    int used;
} slot;

static volatile int64_t sink_last;

static result run_baseline(int64_t n)
{
    size_t cap = 1;
    while (cap < (size_t)nkeys * 2) cap <<= 1;
    slot *t = calloc(cap, sizeof(slot));
    uint64_t emitted = 0;
    double c0 = bench_cpu_s(), t0 = bench_now_s();
    for (int64_t id = 0; id < n; id++) {
        int64_t k = id % nkeys, v = id * 3 + 1;
        uint64_t h = ed_mix64((uint64_t)ed_murmur3_32(&k, sizeof(k), 0));
        size_t i = h & (cap - 1);
        while (t[i].used && t[i].key != k) i = (i + 1) & (cap - 1);
        if (!t[i].used) {
            t[i].used = 1;
            t[i].key = k;
            t[i].sum = v;
        } else {
            t[i].sum += v;
        }
        sink_last = t[i].sum; /* the blackhole sees every update */
        emitted++;
    }
    result r = {bench_now_s() - t0, bench_cpu_s() - c0};
    if (emitted != (uint64_t)n) abort();
    free(t);
    return r;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 20000000;
    if (argc > 2) nkeys = atoll(argv[2]);
    printf("keyed sum: datagen -> map -> key_by -> sum -> blackhole, %lld records, %lld keys\n",
           (long long)n, (long long)nkeys);
    if (getenv("EDDY_BENCH_ENGINE_ONLY")) { /* for profiling the engine alone */
        result r = run_engine(n, atoi(getenv("EDDY_BENCH_ENGINE_ONLY")));
        printf("eddy: %.0f records/s\n", (double)n / r.secs);
        return 0;
    }
    result base = run_baseline(n);
    double base_rate = (double)n / base.secs;
    printf("%-22s %14s %18s %8s\n", "run", "records/s", "records/cpu-s", "ratio");
    printf("%-22s %14.0f %18.0f %8s\n", "baseline (C loop)", base_rate, (double)n / base.cpu, "1.00");
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    struct {
        int p, cores;
    } runs[] = {{1, 1}, {1, 2}, {2, 2}};
    double one_core = 0, two_cores = 0;
    for (size_t k = 0; k < sizeof(runs) / sizeof(runs[0]); k++) {
        if (runs[k].cores > ncpu) continue;
        bench_use_cores(runs[k].cores);
        result r = run_engine(n, runs[k].p);
        double rate = (double)n / r.secs;
        char name[48];
        snprintf(name, sizeof(name), "eddy p=%d, %d core%s", runs[k].p, runs[k].cores,
                 runs[k].cores > 1 ? "s" : "");
        printf("%-22s %14.0f %18.0f %8.2f\n", name, rate, (double)n / r.cpu, rate / base_rate);
        if (runs[k].cores == 1 && rate > one_core) one_core = rate;
        if (runs[k].cores == 2 && rate > two_cores) two_cores = rate;
    }
    bench_use_cores(ncpu);
    if (one_core > 0 && two_cores > 0)
        printf("scaling from 1 to 2 cores: %.2fx\n", two_cores / one_core);

    /* the same job checkpointing every second, against none (p=1, 2 cores, 3 runs each) */
    char dir[] = "/tmp/eddy_bench_ckpt.XXXXXX";
    if (mkdtemp(dir)) {
        double best[2] = {0, 0};
        for (int i = 0; i < 6; i++) {
            checkpoint_dir = i % 2 ? dir : NULL;
            result r = run_engine(n, 1);
            if ((double)n / r.secs > best[i % 2]) best[i % 2] = (double)n / r.secs;
        }
        checkpoint_dir = NULL;
        printf("%-22s %14.0f\n%-22s %14.0f   (%.1f%% %s)\n", "p=1, no checkpoints", best[0],
               "p=1, checkpoint / 1 s", best[1], 100.0 * fabs(1.0 - best[1] / best[0]),
               best[1] < best[0] ? "slower" : "faster");
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd)) {
        }
    }
    return 0;
}
