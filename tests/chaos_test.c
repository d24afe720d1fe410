/*
 * chaos_test.c - end-to-end exactly-once under repeated failures: a job (datagen ->
 * map -> keyed tumbling event-time windows -> exactly-once file sink) fails many times
 * per run, at random points, in the map, in the window's reduce function and in the
 * sink's writes; it restarts from its latest checkpoint each time and, when it ends,
 * its committed output holds every window exactly once with exactly its sum and count.
 * Run on the heap backend, on RocksDB, and on RocksDB with incremental checkpoints, with
 * aligned and with unaligned checkpoints.
 *
 * The points are drawn from a seed (the time, or $CHAOS_SEED), printed when the test
 * fails so that a run can be repeated.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "checkpoint/storage.h"
#include "ed_test.h"

enum { N = 120000, KEYS = 40, WIN = 1000, FAILS = 3, MAX_FDS = 64 };

static uint64_t seed;
static atomic_long map_fail[FAILS], win_fail[FAILS], sink_fail[FAILS];
static atomic_long failures, sink_writes;

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Fires once for target id: true when v is one of the armed points (then disarmed). */
static bool fires(atomic_long *points, long v)
{
    for (int i = 0; i < FAILS; i++) {
        long p = atomic_load(&points[i]);
        if (p == v && atomic_compare_exchange_strong(&points[i], &p, -1)) {
            atomic_fetch_add(&failures, 1);
            return true;
        }
    }
    return false;
}

int chaos_kv(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    int64_t id = eddy_row_i64(in, 0);
    if (fires(map_fail, (long)id)) return eddy_fail(ctx, "injected map failure at id %lld", (long long)id);
    eddy_rb_set_i64(out, 0, id % KEYS);
    eddy_rb_set_i64(out, 1, id); /* the event time, ms */
    eddy_rb_set_i64(out, 2, id); /* the value summed */
    eddy_rb_set_i64(out, 3, 1);  /* the count */
    return 0;
}

int chaos_reduce(eddy_ctx *ctx, const eddy_row *a, const eddy_row *b, eddy_row_builder *out)
{
    if (fires(win_fail, (long)eddy_row_i64(b, 2)))
        return eddy_fail(ctx, "injected window failure at id %lld", (long long)eddy_row_i64(b, 2));
    eddy_rb_set_i64(out, 0, eddy_row_i64(a, 0));
    eddy_rb_set_i64(out, 1, eddy_row_i64(a, 1) > eddy_row_i64(b, 1) ? eddy_row_i64(a, 1)
                                                                    : eddy_row_i64(b, 1));
    eddy_rb_set_i64(out, 2, eddy_row_i64(a, 2) + eddy_row_i64(b, 2));
    eddy_rb_set_i64(out, 3, eddy_row_i64(a, 3) + eddy_row_i64(b, 3));
    return 0;
}

/* ---- a file system whose writes to the sink's files fail at the armed points ------------- */

static atomic_int sink_fds[MAX_FDS];

static int cf_open(ed_fs *fs, const char *p, int flags, mode_t m)
{
    int fd = ed_fs_default()->open(ed_fs_default(), p, flags, m);
    if (fd >= 0 && fd < MAX_FDS) atomic_store(&sink_fds[fd], strstr(p, "/out/") != NULL);
    return fd;
}
static ssize_t cf_write(ed_fs *fs, int fd, const void *b, size_t n)
{
    if (fd >= 0 && fd < MAX_FDS && atomic_load(&sink_fds[fd]) &&
        fires(sink_fail, atomic_fetch_add(&sink_writes, 1))) {
        errno = EIO;
        return -1;
    }
    return ed_fs_default()->write(ed_fs_default(), fd, b, n);
}
static int cf_fsync(ed_fs *fs, int fd) { return ed_fs_default()->fsync(ed_fs_default(), fd); }
static int cf_rename(ed_fs *fs, const char *a, const char *b)
{
    return ed_fs_default()->rename(ed_fs_default(), a, b);
}
static int cf_close(ed_fs *fs, int fd) { return ed_fs_default()->close(ed_fs_default(), fd); }
static ed_fs chaos_fs = {cf_open, cf_write, cf_fsync, cf_rename, cf_close};

/* ---- the committed output ---------------------------------------------------------------- */

typedef struct win {
    int64_t k, end, sum, n;
} win;

static int win_cmp(const void *a, const void *b)
{
    const win *x = a, *y = b;
    if (x->k != y->k) return x->k < y->k ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->sum > y->sum) - (x->sum < y->sum);
}

/* Reads the committed part files under dir (recursively); false on a malformed line. */
static bool read_parts(const char *dir, win **w, size_t *n, size_t *cap)
{
    DIR *d = opendir(dir);
    if (!d) return true;
    struct dirent *de;
    bool ok = true;
    while (ok && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue; /* in progress or hidden: not committed */
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            ok = read_parts(path, w, n, cap);
            continue;
        }
        if (strncmp(de->d_name, "part-", 5)) continue;
        FILE *f = fopen(path, "r");
        char line[256];
        while (ok && f && fgets(line, sizeof line, f)) {
            win x;
            if (sscanf(line, "%" SCNd64 ",%" SCNd64 ",%" SCNd64 ",%" SCNd64, &x.k, &x.end, &x.sum,
                       &x.n) != 4) {
                ED_FAIL_AT("%s: malformed line '%s'", path, line);
                ok = false;
                break;
            }
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 1024;
                *w = realloc(*w, *cap * sizeof **w);
            }
            (*w)[(*n)++] = x;
        }
        if (f) fclose(f);
    }
    closedir(d);
    return ok;
}

/* Every (key, window) once, with its sum and count: what an uninterrupted run writes. */
static int wrong_output(const char *out)
{
    win *got = NULL;
    size_t n = 0, cap = 0;
    if (!read_parts(out, &got, &n, &cap)) {
        free(got);
        return -1;
    }
    size_t nw = (size_t)((N + WIN - 1) / WIN) * KEYS, m = 0;
    win *want = calloc(nw, sizeof *want);
    for (int64_t id = 0; id < N; id++) {
        int64_t k = id % KEYS, w = id / WIN;
        win *x = &want[(size_t)w * KEYS + (size_t)k];
        x->k = k;
        x->end = id; /* the largest timestamp of the key's elements in the window */
        x->sum += id;
        x->n++;
    }
    for (size_t i = 0; i < nw; i++)
        if (want[i].n) want[m++] = want[i];
    qsort(got, n, sizeof *got, win_cmp);
    qsort(want, m, sizeof *want, win_cmp);
    int bad = 0;
    if (n != m) {
        fprintf(stderr, "  %zu windows written, %zu expected\n", n, m);
        bad++;
    }
    for (size_t i = 0; i < n && i < m; i++)
        if (win_cmp(&got[i], &want[i]) || got[i].n != want[i].n) {
            if (bad++ < 3)
                fprintf(stderr, "  window %zu: key %lld end %lld sum %lld n %lld, expected key %lld "
                                "end %lld sum %lld n %lld\n",
                        i, (long long)got[i].k, (long long)got[i].end, (long long)got[i].sum,
                        (long long)got[i].n, (long long)want[i].k, (long long)want[i].end,
                        (long long)want[i].sum, (long long)want[i].n);
        }
    free(got);
    free(want);
    return bad;
}

static void arm(void)
{
    uint64_t x = seed | 1;
    for (int i = 0; i < FAILS; i++) {
        /* spread over the run, away from its very end (where no checkpoint follows) */
        atomic_store(&map_fail[i], (long)(next_rand(&x) % (N * 8 / 10)));
        /* not the first element of its key in its window (that one meets no reduce) */
        long wf = (long)(next_rand(&x) % (N * 8 / 10));
        if (wf % WIN < KEYS) wf += KEYS;
        atomic_store(&win_fail[i], wf);
        /* the sink writes when it rolls a part file: a few times per run */
        atomic_store(&sink_fail[i], (long)(5 * i + next_rand(&x) % 4));
    }
    atomic_store(&failures, 0);
    atomic_store(&sink_writes, 0);
}

static void chaos_run(const char *backend, bool incremental, bool unaligned, int p)
{
    char dir[] = "/tmp/eddy_chaos_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    char ckpt[200], out[200], end[32];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(end, sizeof end, "%d", N - 1);
    arm();
    eddy_env *env = eddy_env_new();
    ed_env_set_fs(env, &chaos_fs);
    eddy_env_set_parallelism(env, p);
    eddy_env_set(env, "log.level", getenv("CHAOS_LOG") ? getenv("CHAOS_LOG") : "OFF");
    eddy_env_set(env, "state.backend.type", backend);
    if (incremental) eddy_env_set(env, "execution.checkpointing.incremental", "true");
    if (unaligned) eddy_env_set(env, "execution.checkpointing.unaligned", "true");
    eddy_env_set(env, "execution.checkpointing.interval", "40 ms");
    eddy_env_set(env, "execution.checkpointing.dir", ckpt);
    eddy_env_set(env, "restart-strategy.type", "fixed-delay");
    eddy_env_set(env, "restart-strategy.fixed-delay.attempts", "100");
    eddy_env_set(env, "restart-strategy.fixed-delay.delay", "5 ms");
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", end,
                                   "rows-per-second", "150000", NULL);
    eddy_uid(src, "gen");
    eddy_stream *kv = eddy_uid(eddy_map(src, EDDY_FN(chaos_kv), "k BIGINT, ts BIGINT, v BIGINT, n BIGINT"), "kv");
    kv = eddy_uid(eddy_assign_timestamps_and_watermarks(kv, eddy_monotonous_timestamps("ts")), "wm");
    eddy_stream *w = eddy_window_reduce(
        eddy_window(eddy_key_by(kv, "k"), eddy_tumbling_event_time_windows(WIN, 0)),
        EDDY_FN(chaos_reduce));
    eddy_uid(w, "win");
    ED_REQUIRE(eddy_sink(w, "filesink", "path", out, "format", "csv", "sink.bucket.pattern", "",
                         "sink.rolling-policy.file-size", "4 kb", NULL) == 0);
    int rc = eddy_execute(env, "chaos");
    if (rc) fprintf(stderr, "  %s\n", eddy_env_error(env));
    ED_CHECK_INT(rc, 0);
    ED_CHECK_INT(atomic_load(&failures), 3 * FAILS); /* every armed failure happened */
    ED_CHECK_INT(wrong_output(out), 0);
    for (int i = 0; i < FAILS; i++)
        if (atomic_load(&map_fail[i]) >= 0 || atomic_load(&win_fail[i]) >= 0 ||
            atomic_load(&sink_fail[i]) >= 0)
            fprintf(stderr, "  not fired: map %ld, window %ld, sink write %ld (of %ld)\n",
                    atomic_load(&map_fail[i]), atomic_load(&win_fail[i]),
                    atomic_load(&sink_fail[i]), atomic_load(&sink_writes));
    if (ed_test_failed_now)
        fprintf(stderr, "  backend %s%s, %s, parallelism %d, CHAOS_SEED=%llu\n", backend,
                incremental ? " (incremental)" : "", unaligned ? "unaligned" : "aligned", p,
                (unsigned long long)seed);
    eddy_env_free(env);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

static void init_seed(void)
{
    const char *s = getenv("CHAOS_SEED");
    seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL) * 2654435761u;
}

ED_TEST(repeated_failures_heap_backend)
{
    init_seed();
    chaos_run("hashmap", false, false, 2);
}

ED_TEST(repeated_failures_rocksdb_backend)
{
    init_seed();
    chaos_run("rocksdb", false, false, 2);
}

ED_TEST(repeated_failures_rocksdb_incremental)
{
    init_seed();
    chaos_run("rocksdb", true, false, 1);
}

ED_TEST(repeated_failures_heap_backend_unaligned)
{
    init_seed();
    chaos_run("hashmap", false, true, 2);
}

ED_TEST(repeated_failures_rocksdb_incremental_unaligned)
{
    init_seed();
    chaos_run("rocksdb", true, true, 2);
}
