/*
 * checkpoint.c - what checkpoints cost, beside what the machine can do.
 *
 *   build/bench_checkpoint [--quick] [--runs=N] [--state-mb=MB] [--rate=N]
 *                          [window] [size] [recovery]
 *
 * Three parts (all of them when none is named). --quick scales every part down so that
 * the whole finishes in under a minute (one run each, a 128 MB state for recovery);
 * --runs=N repeats each measurement N times (default 3), --state-mb sets the recovery
 * part's state size (default 1024).
 *
 *   window    bench/window.c's keyed tumbling job (datagen -> map -> timestamps -> key_by ->
 *             10 s event-time window count over 10 k keys -> blackhole, parallelism 1, both
 *             cores) with checkpoints off and every second, on the heap backend and on
 *             RocksDB (full and incremental), beside window.c's hand-written C loop on one
 *             core. The goal: checkpointing every second costs under 10 % of throughput.
 *   size      checkpoints of a ValueState of many keys that changes a little between them:
 *             one job fills K keys with V incompressible bytes each and hands them over in a
 *             savepoint; the next restores it and updates R random keys per second (about
 *             1 % of the keys per checkpoint), checkpointing every second - on the heap
 *             backend, RocksDB full, RocksDB incremental. Per checkpoint: its duration and
 *             the bytes it wrote; for incremental ones also the bytes it refers to.
 *             --rate=0 updates as fast as the job goes instead, and also runs it without
 *             checkpoints: what a synchronous snapshot of that state costs the job.
 *   recovery  about 1 GB of RocksDB state (1 KB values): a job fills it with incremental
 *             checkpoints every second, then takes a full savepoint; each is restored as
 *             `eddy run -s` does (execution.savepoint.path) at the same parallelism (an
 *             incremental checkpoint's files are put back and opened) and at parallelism 2
 *             (the entries of each subtask's key groups are moved over). The baseline is a
 *             plain read/write copy of the same bytes, in the same run. Each timed run starts
 *             with the dirty pages written back (syncfs) and the files in the page cache, as
 *             they are just after they were written.
 *
 * Checkpoints are watched from outside the engine, with inotify on <dir>/<job>: the
 * coordinator creates chk-<n> when it triggers checkpoint n and renames _metadata into it
 * last, when every task has acknowledged. The two events give the duration; the files of
 * chk-<n> and the shared files its _metadata names give the sizes (a shared file counts as
 * new in the first checkpoint that names it). Savepoints are taken through the job's
 * control endpoint, as `eddy savepoint` does.
 *
 * Every file goes under one directory in $TMPDIR (or /tmp), removed at the end; the
 * recovery part checks the free space first and scales the state down, saying so, when
 * there is not enough.
 *
 * The window job and its baseline are window.c's own (included below, its main renamed),
 * so that both benchmarks always measure the same thing; extra settings reach its
 * engine runs through EDDY_BENCH_CONF (bench_util.h).
 */
#define main bench_window_main
#include "window.c"
#undef main

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "api/api.h"
#include "checkpoint/coordinator.h"
#include "checkpoint/storage.h"
#include "runtime/control.h"

/* ---- small helpers --------------------------------------------------------------------------- */

static char work[512]; /* everything this benchmark writes lives under it */

static void cleanup_work(void)
{
    if (!work[0]) return;
    ed_err e = {0};
    ed_remove_tree(work, &e);
    work[0] = 0;
}

/* Interrupted: the files go too (the jobs' threads may still be writing some). */
static void on_signal(int sig)
{
    cleanup_work();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* <work>/<name> in buf. */
static const char *wpath(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", work, name);
    return buf;
}

static void fresh_dir(const char *path)
{
    ed_err e = {0};
    ed_remove_tree(path, &e);
    if (ed_mkdirs(path, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        exit(1);
    }
}

static void remove_dir(const char *path)
{
    ed_err e = {0};
    ed_remove_tree(path, &e);
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *loadavg(char *buf, size_t cap)
{
    buf[0] = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fgets(buf, (int)cap, f)) {
            char *sp = buf;
            for (int i = 0; i < 3 && sp; i++)
                sp = strchr(sp + 1, ' ');
            if (sp) *sp = 0;
        }
        fclose(f);
    }
    return buf;
}

static double free_bytes(const char *path)
{
    struct statvfs v;
    return statvfs(path, &v) ? 0 : (double)v.f_bavail * (double)v.f_frsize;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? 0 : (uint64_t)st.st_size;
}

/* Bytes of the regular files under path, recursively. */
static uint64_t tree_bytes(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return file_size(path);
    uint64_t sum = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        struct stat st;
        if (lstat(sub, &st)) continue;
        if (S_ISDIR(st.st_mode))
            sum += tree_bytes(sub);
        else if (S_ISREG(st.st_mode))
            sum += (uint64_t)st.st_size;
    }
    closedir(d);
    return sum;
}

/* Writes back every dirty page of the file system under <work>, so that a timed run does
 * not pay for the writes of the one before it. */
static void settle_disk(void)
{
    int fd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median, minimum and maximum of v[0..n) (sorted in place). */
typedef struct range {
    double med, min, max;
    int n;
} range;
static range range_of(double *v, int n)
{
    range r = {0, 0, 0, n};
    if (n <= 0) return r;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    r.min = v[0];
    r.max = v[n - 1];
    r.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return r;
}

static const char *mb(double bytes, char *buf, size_t cap)
{
    if (bytes >= 1e9)
        snprintf(buf, cap, "%.2f GB", bytes / 1e9);
    else if (bytes >= 1e6)
        snprintf(buf, cap, "%.1f MB", bytes / 1e6);
    else
        snprintf(buf, cap, "%.0f KB", bytes / 1e3);
    return buf;
}

/* ---- watching checkpoints -------------------------------------------------------------------- */

#define MAX_CKPTS 4096

typedef struct ckpt {
    int64_t id;
    int wd;                   /* inotify watch on chk-<id> */
    double t_trigger, t_done; /* bench_now_s(); t_done 0: not (yet) complete */
    uint64_t own;             /* bytes in chk-<id>: its state files and _metadata */
    uint64_t shared_new;      /* incremental: shared files first named by this checkpoint */
    uint64_t shared_all;      /* incremental: every shared file it names */
} ckpt;

typedef struct watch {
    char root[PATH_MAX]; /* <checkpoint dir>/<job> */
    int fd, root_wd, stop[2];
    pthread_t thread;
    pthread_mutex_t mu; /* guards c and n */
    ckpt c[MAX_CKPTS];
    int n;
    char **seen; /* shared files named so far */
    int nseen;
} watch;

static bool seen_before(watch *w, const char *name)
{
    for (int i = 0; i < w->nseen; i++)
        if (!strcmp(w->seen[i], name)) return true;
    w->seen = realloc(w->seen, sizeof(char *) * (size_t)(w->nseen + 1));
    w->seen[w->nseen++] = strdup(name);
    return false;
}

/* Checkpoint k is complete: its sizes, read at once (the next one deletes it). */
static void measure(watch *w, ckpt *k)
{
    char dir[PATH_MAX + 32], meta[PATH_MAX + 48];
    snprintf(dir, sizeof dir, "%s/chk-%lld", w->root, (long long)k->id);
    k->own = tree_bytes(dir);
    snprintf(meta, sizeof meta, "%s/_metadata", dir);
    void *m;
    size_t len;
    ed_err e = {0};
    if (ed_ckpt_read(meta, ED_CKPT_METADATA, &m, &len, &e)) return;
    char *text = strndup(m, len);
    free(m);
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "shared ", 7)) continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/shared/%s", w->root, l + 7);
        uint64_t sz = file_size(path);
        k->shared_all += sz;
        if (!seen_before(w, l + 7)) k->shared_new += sz;
    }
    free(text);
}

static void *watch_main(void *arg)
{
    watch *w = arg;
    _Alignas(struct inotify_event) char buf[64 * 1024];
    for (;;) {
        struct pollfd p[2] = {{w->fd, POLLIN, 0}, {w->stop[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR) break;
        if (p[1].revents) break;
        if (!(p[0].revents & POLLIN)) continue;
        ssize_t got = read(w->fd, buf, sizeof buf);
        double now = bench_now_s();
        for (char *q = buf; got > 0 && q < buf + got;) {
            struct inotify_event *ev = (struct inotify_event *)q;
            q += sizeof *ev + ev->len;
            long long id;
            pthread_mutex_lock(&w->mu);
            if (ev->wd == w->root_wd && (ev->mask & IN_CREATE) && (ev->mask & IN_ISDIR) &&
                ev->len && sscanf(ev->name, "chk-%lld", &id) == 1 && w->n < MAX_CKPTS) {
                ckpt *k = &w->c[w->n++];
                memset(k, 0, sizeof *k);
                k->id = id;
                k->t_trigger = now;
                char dir[PATH_MAX + 32], meta[PATH_MAX + 48];
                snprintf(dir, sizeof dir, "%s/%s", w->root, ev->name);
                k->wd = inotify_add_watch(w->fd, dir, IN_MOVED_TO | IN_ONLYDIR);
                snprintf(meta, sizeof meta, "%s/_metadata", dir);
                if (file_size(meta)) { /* complete before the watch was in place */
                    k->t_done = bench_now_s();
                    measure(w, k);
                }
            } else if ((ev->mask & IN_MOVED_TO) && ev->len && !strcmp(ev->name, "_metadata")) {
                for (int i = w->n - 1; i >= 0; i--)
                    if (w->c[i].wd == ev->wd && !w->c[i].t_done) {
                        w->c[i].t_done = now;
                        measure(w, &w->c[i]);
                        break;
                    }
            }
            pthread_mutex_unlock(&w->mu);
        }
    }
    return NULL;
}

/* Starts watching <dir>/<job> (made here, so that the watch is in place from the start). */
static watch *watch_start(const char *dir, const char *job)
{
    watch *w = calloc(1, sizeof *w);
    snprintf(w->root, sizeof w->root, "%s/%s", dir, job);
    fresh_dir(w->root);
    pthread_mutex_init(&w->mu, NULL);
    w->fd = inotify_init1(IN_CLOEXEC);
    w->root_wd = w->fd < 0 ? -1 : inotify_add_watch(w->fd, w->root, IN_CREATE | IN_ONLYDIR);
    if (w->root_wd < 0 || pipe(w->stop)) {
        fprintf(stderr, "bench: cannot watch %s: %s\n", w->root, strerror(errno));
        exit(1);
    }
    pthread_create(&w->thread, NULL, watch_main, w);
    return w;
}

static void watch_stop(watch *w)
{
    if (write(w->stop[1], "x", 1) != 1) abort();
    pthread_join(w->thread, NULL);
    close(w->fd);
    close(w->stop[0]);
    close(w->stop[1]);
}

static void watch_free(watch *w)
{
    if (!w) return;
    for (int i = 0; i < w->nseen; i++)
        free(w->seen[i]);
    free(w->seen);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* Checkpoints triggered after time t that are complete. */
static int watch_completed_after(watch *w, double t)
{
    int n = 0;
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->n; i++)
        n += w->c[i].t_trigger > t && w->c[i].t_done > 0;
    pthread_mutex_unlock(&w->mu);
    return n;
}

/* What the checkpoints of a run (complete ones triggered after `after`, skipping the
 * first `skip` and taking at most `max`; -1: all) cost: durations in ms, bytes written,
 * bytes referenced. */
typedef struct ckpt_cost {
    int n;
    double *dur_ms, *written, *referenced; /* n each */
} ckpt_cost;

static void cost_add(ckpt_cost *c, watch *w, double after, int skip, int max)
{
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->n; i++) {
        ckpt *k = &w->c[i];
        if (k->t_trigger <= after || !k->t_done) continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        if (max >= 0 && max-- == 0) break;
        c->dur_ms = realloc(c->dur_ms, sizeof(double) * (size_t)(c->n + 1));
        c->written = realloc(c->written, sizeof(double) * (size_t)(c->n + 1));
        c->referenced = realloc(c->referenced, sizeof(double) * (size_t)(c->n + 1));
        c->dur_ms[c->n] = (k->t_done - k->t_trigger) * 1e3;
        c->written[c->n] = (double)(k->own + k->shared_new);
        c->referenced[c->n] = (double)(k->own + k->shared_all);
        c->n++;
    }
    pthread_mutex_unlock(&w->mu);
}

static void cost_free(ckpt_cost *c)
{
    free(c->dur_ms);
    free(c->written);
    free(c->referenced);
    memset(c, 0, sizeof *c);
}

/* ---- part 1: the window job with and without checkpoints ------------------------------------- */

typedef struct win_config {
    const char *name;
    const char *conf; /* settings of its own, as in EDDY_BENCH_CONF (NULL: none) */
    bool rocks, checkpoints;
} win_config;

/* One engine run of window.c's tumbling job with `conf` added to the user's own
 * EDDY_BENCH_CONF; with checkpoints, adds what they cost to *cost. Returns records/s. */
static double window_run(int64_t n, const win_config *cfg, ckpt_cost *cost)
{
    const char *user = getenv("EDDY_BENCH_CONF");
    char *saved = user ? strdup(user) : NULL;
    char ckdir[PATH_MAX], rocks[PATH_MAX], conf[4 * PATH_MAX];
    wpath(ckdir, sizeof ckdir, "window-ckpt");
    wpath(rocks, sizeof rocks, "window-rocksdb");
    fresh_dir(rocks);
    snprintf(conf, sizeof conf, "%s%sstate.backend.rocksdb.localdir=%s%s%s", saved ? saved : "",
             saved ? ";" : "", rocks, cfg->conf ? ";" : "", cfg->conf ? cfg->conf : "");
    if (cfg->checkpoints) {
        size_t l = strlen(conf);
        snprintf(conf + l, sizeof conf - l,
                 ";execution.checkpointing.interval=1 s;"
                 "execution.checkpointing.dir=%s",
                 ckdir);
    }
    setenv("EDDY_BENCH_CONF", conf, 1);
    watch *w = cfg->checkpoints ? watch_start(ckdir, "bench") : NULL;
    double t0 = bench_now_s();
    double rate = (double)n / run_engine(n, 0);
    if (w) {
        watch_stop(w);
        cost_add(cost, w, t0, 0, -1);
        watch_free(w);
    }
    if (saved)
        setenv("EDDY_BENCH_CONF", saved, 1);
    else
        unsetenv("EDDY_BENCH_CONF");
    free(saved);
    remove_dir(ckdir);
    remove_dir(rocks);
    return rate;
}

/* "12.3 M" or "123 k" records/s, and a median with its range. */
static const char *rate_str(const range *r, char *buf, size_t cap)
{
    if (r->med >= 1e6)
        snprintf(buf, cap, "%.2f M (%.2f-%.2f)", r->med / 1e6, r->min / 1e6, r->max / 1e6);
    else
        snprintf(buf, cap, "%.0f k (%.0f-%.0f)", r->med / 1e3, r->min / 1e3, r->max / 1e3);
    return buf;
}

static void part_window(bool quick, int runs)
{
    /* sized so that a run lasts about 10 s (2-3 s quick) on this machine: the heap
     * backend does some 15-27 M records/s here, RocksDB some 150 k */
    int64_t n_heap = quick ? 40000000 : 250000000, n_rocks = quick ? 300000 : 1500000;
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN), cores = ncpu < 2 ? ncpu : 2;
    static const win_config cfgs[] = {
        {"heap, no checkpoints", NULL, false, false},
        {"heap, checkpoint / 1 s", NULL, false, true},
        {"rocksdb, no checkpoints", "state.backend.type=rocksdb", true, false},
        {"rocksdb full, ckpt / 1 s", "state.backend.type=rocksdb", true, true},
        {"rocksdb incremental, / 1 s",
         "state.backend.type=rocksdb;execution.checkpointing.incremental=true", true, true},
    };
    enum { NCFG = sizeof cfgs / sizeof cfgs[0] };
    char la[64], b1[64], b2[32], b3[32];
    printf("\n== 1. keyed window job, checkpoints off / every 1 s ==\n");
    printf("window.c's tumbling job (10 s windows, %lld keys), parallelism 1 on %d cores; "
           "%lld records on the heap, %lld on RocksDB; %d run%s each, interleaved; load %s\n",
           (long long)nkeys, cores, (long long)n_heap, (long long)n_rocks, runs,
           runs > 1 ? "s" : "", loadavg(la, sizeof la));
    double base[16], rate[NCFG][16];
    ckpt_cost cost[NCFG];
    memset(cost, 0, sizeof cost);
    for (int r = 0; r < runs; r++) {
        bench_use_cores(1);
        base[r] = (double)n_heap / run_tumbling_baseline(n_heap);
        bench_use_cores(cores);
        for (int c = 0; c < NCFG; c++)
            rate[c][r] = window_run(cfgs[c].rocks ? n_rocks : n_heap, &cfgs[c], &cost[c]);
    }
    bench_use_cores(ncpu);
    range rb = range_of(base, runs);
    printf("%-30s %-24s %7s %7s %7s %17s %6s %14s %20s\n", "run", "records/s med (min-max)",
           "ratio", "loss", "best", "loss per round", "ckpts", "ckpt ms med/max",
           "written med/max");
    printf("%-30s %-24s %7s\n", "tumbling baseline (C, 1 core)", rate_str(&rb, b1, sizeof b1),
           "1.00");
    double off[16] = {0}, off_med = 0, off_best = 0;
    for (int c = 0; c < NCFG; c++) {
        double v[16];
        memcpy(v, rate[c], sizeof(double) * (size_t)runs);
        range rr = range_of(v, runs);
        printf("%-30s %-24s %7.4f", cfgs[c].name, rate_str(&rr, b1, sizeof b1), rr.med / rb.med);
        if (!cfgs[c].checkpoints) {
            off_med = rr.med;
            off_best = rr.max;
            memcpy(off, rate[c], sizeof off);
            printf("\n");
            continue;
        }
        /* the loss of each run against the run without checkpoints of its round */
        double loss[16];
        for (int r = 0; r < runs; r++)
            loss[r] = 100.0 * (1.0 - rate[c][r] / off[r]);
        range rl = range_of(loss, runs);
        double d[4096], w[4096];
        int nk = cost[c].n < 4096 ? cost[c].n : 4096;
        memcpy(d, cost[c].dur_ms, sizeof(double) * (size_t)nk);
        memcpy(w, cost[c].written, sizeof(double) * (size_t)nk);
        range rd = range_of(d, nk), rw = range_of(w, nk);
        char pair[48];
        snprintf(pair, sizeof pair, "%.1f%% to %.1f%%", rl.min, rl.max);
        printf(" %6.1f%% %6.1f%% %17s %6.1f %6.0f / %-5.0f %9s / %-9s\n",
               100.0 * (1.0 - rr.med / off_med), 100.0 * (1.0 - rr.max / off_best), pair,
               (double)nk / runs, rd.med, rd.max, mb(rw.med, b2, sizeof b2),
               mb(rw.max, b3, sizeof b3));
    }
    printf("(ratio: to the baseline's median; loss: of the median against the median "
           "without checkpoints on the same backend; best: of the best run against the best; "
           "per round: each run against the run without checkpoints of its round; ckpts: "
           "complete checkpoints per run; ckpt ms: trigger to _metadata; written: bytes a "
           "checkpoint wrote)\n");
    for (int c = 0; c < NCFG; c++)
        cost_free(&cost[c]);
}

/* ---- the ValueState jobs of parts 2 and 3 ---------------------------------------------------- */

#define MAX_VALUE 16384

static int64_t state_keys = 1000000; /* keys of the state */
static int value_bytes = 100;        /* bytes of each value */
static atomic_llong written;         /* values written by ckb_write */
static atomic_llong found;           /* values ckb_probe found whole */
static atomic_int opened;            /* keyed subtasks whose open function ran */
static atomic_llong last_open_ns;    /* when the last of them did */

static const eddy_state_desc value_desc = {
    .name = "v", .kind = EDDY_STATE_VALUE, .schema = "v BYTES"};

/* Incompressible bytes from a seed (splitmix64). */
static void random_bytes(uint64_t seed, uint8_t *p, int n)
{
    for (int i = 0; i < n; i += 8) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        memcpy(p + i, &z, n - i < 8 ? (size_t)(n - i) : 8);
    }
}

/* The fill job keeps the first state_keys ids. */
int ckb_first_keys(eddy_ctx *ctx, const eddy_row *in)
{
    return eddy_row_i64(in, 0) < state_keys;
}

/* Writes a new value for the record's key. */
int ckb_write(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    static _Thread_local uint8_t buf[MAX_VALUE];
    static _Thread_local uint64_t version;
    eddy_state *st = eddy_keyed_state(ctx, &value_desc);
    if (!st) return -1;
    random_bytes((uint64_t)eddy_row_i64(in, 0) * 0x2545f4914f6cdd1dULL ^ ++version, buf,
                 value_bytes);
    eddy_row_builder *b = eddy_out_builder(out);
    if (eddy_rb_set_str(b, 0, (const char *)buf, (uint32_t)value_bytes)) return -1;
    int rc = eddy_value_update(st, eddy_rb_row(b));
    atomic_fetch_add(&written, 1);
    return rc;
}

/* After a restore: the key's value is there, whole. */
int ckb_probe(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *st = eddy_keyed_state(ctx, &value_desc);
    if (!st) return -1;
    const eddy_row *v = eddy_value_get(st);
    if (v && eddy_row_str(v, 0).len == (uint32_t)value_bytes) atomic_fetch_add(&found, 1);
    return 0;
}

/* The keyed operator's open function: it runs once its state is restored. */
int ckb_opened(eddy_ctx *ctx)
{
    atomic_store(&last_open_ns, ed_mono_ns());
    atomic_fetch_add(&opened, 1);
    return 0;
}

/* The keyed part every job here shares: key_by(id) -> the process function, uid "values". */
static void values_op(eddy_stream *ids, eddy_fn fn)
{
    eddy_stream *s = eddy_keyed_process(eddy_key_by(ids, "id"), fn, EDDY_FN_NONE, "v BYTES");
    eddy_uid(s, "values");
    eddy_rich(s, EDDY_FN(ckb_opened), EDDY_FN_NONE);
    eddy_discard(s);
}

static eddy_env *new_env(int p, const char *backend, const char *rocks_dir)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, p);
    eddy_env_set(env, "log.level", "WARN");
    eddy_env_set(env, "state.backend.type", backend);
    eddy_env_set(env, "state.backend.rocksdb.localdir", rocks_dir);
    bench_apply_conf(env);
    return env;
}

static void env_check(eddy_env *env, const char *what)
{
    if (eddy_env_error(env)) {
        fprintf(stderr, "bench: %s: %s\n", what, eddy_env_error(env));
        exit(1);
    }
}

typedef struct job_thread {
    eddy_env *env;
    const char *name;
    pthread_t thread;
    atomic_bool ended;
    int rc;
} job_thread;

static void *job_main(void *arg)
{
    job_thread *j = arg;
    j->rc = eddy_execute(j->env, j->name);
    atomic_store(&j->ended, true);
    return NULL;
}

static void job_start(job_thread *j, eddy_env *env, const char *name)
{
    j->env = env;
    j->name = name;
    atomic_store(&j->ended, false);
    pthread_create(&j->thread, NULL, job_main, j);
}

/* Cancels the job (it is expected to be running) and waits for it. */
static void job_cancel(job_thread *j)
{
    eddy_env_cancel(j->env);
    pthread_join(j->thread, NULL);
}

/* A savepoint of this process's running job into dir, as `eddy savepoint` takes it; its
 * path in out. Returns the seconds it took. */
static double take_savepoint(const char *dir, char *out, size_t cap)
{
    ed_err e = {0};
    for (int tries = 0;; tries++) {
        ed_control_entry *list = NULL;
        int n = 0;
        if (ed_control_list(&list, &n, &e)) {
            fprintf(stderr, "bench: %s\n", e.msg);
            exit(1);
        }
        for (int i = 0; i < n; i++) {
            if (list[i].pid != (long)getpid() || strcmp(list[i].state, "RUNNING")) continue;
            char req[PATH_MAX + 16];
            snprintf(req, sizeof req, "SAVEPOINT %s", dir);
            double t0 = bench_now_s();
            int rc = ed_control_call(&list[i], req, -1, out, cap, &e);
            double secs = bench_now_s() - t0;
            free(list);
            if (rc) {
                fprintf(stderr, "bench: savepoint: %s\n", e.msg);
                exit(1);
            }
            return secs;
        }
        free(list);
        if (tries > 500) {
            fprintf(stderr, "bench: the job's control endpoint is not there\n");
            exit(1);
        }
        nap_ms(10);
    }
}

/*
 * Fills state_keys keys of value_bytes each: datagen (sequence, uid "gen") -> filter ->
 * key_by -> ckb_write (RocksDB), in a job that goes on running (its source makes rows the
 * filter drops) until a savepoint of it has been taken into <work>/savepoints. With
 * incr_ckpt_dir, the job also checkpoints incrementally every second into it; the fill
 * then waits for two checkpoints triggered after the last value was written, so that the
 * latest one holds the whole state.
 */
typedef struct fill_result {
    double fill_s, savepoint_s;
    uint64_t rocks_bytes; /* the RocksDB instance's directory once filled */
    char savepoint[PATH_MAX];
    ckpt_cost during; /* checkpoints while filling (incremental) */
} fill_result;

static void fill_state(const char *incr_ckpt_dir, fill_result *r)
{
    char rocks[PATH_MAX], sp[PATH_MAX];
    wpath(rocks, sizeof rocks, "fill-rocksdb");
    wpath(sp, sizeof sp, "savepoints");
    fresh_dir(rocks);
    ed_err e = {0};
    ed_mkdirs(sp, &e);
    eddy_env *env = new_env(1, "rocksdb", rocks);
    ed_env_enable_control(env);
    watch *w = NULL;
    if (incr_ckpt_dir) {
        eddy_env_set(env, "execution.checkpointing.interval", "1 s");
        eddy_env_set(env, "execution.checkpointing.dir", incr_ckpt_dir);
        eddy_env_set(env, "execution.checkpointing.incremental", "true");
        w = watch_start(incr_ckpt_dir, "fill");
    }
    /* a rate above what the keyed task writes: the source keeps going after the fill
     * without taking a core */
    eddy_stream *ids =
        eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence", "fields.id.start",
                    "0", "fields.id.end", "1000000000000000", "rows-per-second", "2000000", NULL);
    eddy_uid(ids, "gen");
    values_op(eddy_filter(ids, EDDY_FN(ckb_first_keys)), EDDY_FN(ckb_write));
    env_check(env, "fill job");
    atomic_store(&written, 0);
    job_thread j;
    double t0 = bench_now_s();
    job_start(&j, env, "fill");
    while (atomic_load(&written) < state_keys && !atomic_load(&j.ended))
        nap_ms(5);
    r->fill_s = bench_now_s() - t0;
    double filled_at = bench_now_s();
    if (w)
        for (int waited = 0; watch_completed_after(w, filled_at) < 2 && !atomic_load(&j.ended);
             waited += 10) {
            if (waited > 600000) {
                fprintf(stderr, "bench: no checkpoint completes after the fill\n");
                exit(1);
            }
            nap_ms(10);
        }
    if (atomic_load(&j.ended)) {
        fprintf(stderr, "bench: the fill job ended: %s\n", eddy_env_error(env));
        exit(1);
    }
    r->rocks_bytes = tree_bytes(rocks);
    r->savepoint_s = take_savepoint(sp, r->savepoint, sizeof r->savepoint);
    job_cancel(&j);
    if (w) {
        watch_stop(w);
        cost_add(&r->during, w, t0, 0, -1);
        watch_free(w);
    }
    eddy_env_free(env);
    remove_dir(rocks);
}

/* ---- part 2: checkpoint duration and size for a state that changes a little ------------------ */

typedef struct size_config {
    const char *name, *backend;
    bool checkpoints, incremental;
} size_config;

/* Restores the savepoint and updates `rate` random keys per second (0: as many as it can)
 * for `secs`, checkpointing every second; adds the checkpoints after the first to *steady
 * and the first to *first. Returns the updates per second it made after the restore. */
static double size_run(const char *savepoint, const size_config *cfg, int64_t rate, double secs,
                       ckpt_cost *first, ckpt_cost *steady)
{
    char rocks[PATH_MAX], ckdir[PATH_MAX], rps[32], maxk[32];
    wpath(rocks, sizeof rocks, "size-rocksdb");
    wpath(ckdir, sizeof ckdir, "size-ckpt");
    fresh_dir(rocks);
    eddy_env *env = new_env(1, cfg->backend, rocks);
    eddy_env_set(env, "execution.savepoint.path", savepoint);
    eddy_env_set(env, "execution.savepoint.ignore-unclaimed-state", "true");
    if (cfg->checkpoints) {
        eddy_env_set(env, "execution.checkpointing.interval", "1 s");
        eddy_env_set(env, "execution.checkpointing.dir", ckdir);
        eddy_env_set(env, "execution.checkpointing.incremental",
                     cfg->incremental ? "true" : "false");
    }
    snprintf(rps, sizeof rps, "%lld", (long long)rate);
    snprintf(maxk, sizeof maxk, "%lld", (long long)state_keys - 1);
    eddy_stream *ids =
        eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "random", "fields.id.min", "0",
                    "fields.id.max", maxk, "rows-per-second", rps, NULL);
    eddy_uid(ids, "updates");
    values_op(ids, EDDY_FN(ckb_write));
    env_check(env, "size job");
    watch *w = watch_start(ckdir, "size");
    atomic_store(&opened, 0);
    job_thread j;
    double t0 = bench_now_s();
    job_start(&j, env, "size");
    while (!atomic_load(&opened) && !atomic_load(&j.ended))
        nap_ms(2);
    double restored = bench_now_s();
    long long w0 = atomic_load(&written);
    while (bench_now_s() - restored < secs && !atomic_load(&j.ended))
        nap_ms(20);
    double updates = (double)(atomic_load(&written) - w0) / (bench_now_s() - restored);
    if (atomic_load(&j.ended)) {
        fprintf(stderr, "bench: the size job ended: %s\n", eddy_env_error(env));
        exit(1);
    }
    job_cancel(&j);
    watch_stop(w);
    cost_add(first, w, t0, 0, 1);
    cost_add(steady, w, t0, 1, -1);
    watch_free(w);
    eddy_env_free(env);
    remove_dir(ckdir);
    remove_dir(rocks);
    return updates;
}

static void print_cost_row(const char *name, const ckpt_cost *c, bool referenced)
{
    char b1[32], b2[32], b3[32], b4[32];
    double *v = malloc(sizeof(double) * (size_t)(c->n + 1));
    memcpy(v, c->dur_ms, sizeof(double) * (size_t)c->n);
    range d = range_of(v, c->n);
    memcpy(v, c->written, sizeof(double) * (size_t)c->n);
    range wr = range_of(v, c->n);
    memcpy(v, c->referenced, sizeof(double) * (size_t)c->n);
    range rf = range_of(v, c->n);
    printf("%-42s %4d %6.0f (%.0f-%.0f)  %9s (%s-%s)", name, c->n, d.med, d.min, d.max,
           mb(wr.med, b1, sizeof b1), mb(wr.min, b2, sizeof b2), mb(wr.max, b3, sizeof b3));
    if (referenced) printf("  %9s", mb(rf.med, b4, sizeof b4));
    printf("\n");
    free(v);
}

static void part_size(bool quick, int runs, int64_t rate)
{
    state_keys = quick ? 200000 : 1000000;
    value_bytes = 100;
    if (rate < 0) rate = state_keys / 100; /* 1 % of the keys per second */
    double secs = quick ? 4 : 10;
    char la[64], b1[32], b2[32], what[64];
    if (rate)
        snprintf(what, sizeof what, "%lld random keys updated per second (%.1f %%)",
                 (long long)rate, 100.0 * (double)rate / (double)state_keys);
    else
        snprintf(what, sizeof what, "random keys updated as fast as the job goes");
    printf("\n== 2. checkpoint duration and size: a ValueState that changes a little ==\n");
    printf("%lld keys x %d random bytes, restored from a savepoint; %s, checkpoint every 1 s; "
           "%d run%s of %.0f s each; load %s\n",
           (long long)state_keys, value_bytes, what, runs, runs > 1 ? "s" : "", secs,
           loadavg(la, sizeof la));
    fill_result fill = {0};
    fill_state(NULL, &fill);
    printf("filled in %.1f s: RocksDB directory %s; full savepoint %s, taken in %.2f s\n",
           fill.fill_s, mb((double)fill.rocks_bytes, b1, sizeof b1),
           mb((double)tree_bytes(fill.savepoint), b2, sizeof b2), fill.savepoint_s);
    /* without checkpoints only when the source is not throttled: what they cost then */
    static const size_config cfgs[] = {
        {"heap, no checkpoints", "hashmap", false, false},
        {"heap (full)", "hashmap", true, false},
        {"rocksdb, no checkpoints", "rocksdb", false, false},
        {"rocksdb full", "rocksdb", true, false},
        {"rocksdb incremental", "rocksdb", true, true},
    };
    enum { NCFG = sizeof cfgs / sizeof cfgs[0] };
    ckpt_cost first[NCFG], steady[NCFG];
    double updates[NCFG][16];
    memset(first, 0, sizeof first);
    memset(steady, 0, sizeof steady);
    for (int r = 0; r < runs; r++)
        for (int c = 0; c < NCFG; c++)
            if (cfgs[c].checkpoints || !rate)
                updates[c][r] =
                    size_run(fill.savepoint, &cfgs[c], rate, secs, &first[c], &steady[c]);
    printf("%-42s %4s %-18s  %-30s %9s\n", "checkpoints", "n", "ms med (min-max)",
           "written med (min-max)", "referenced");
    for (int c = 0; c < NCFG; c++) {
        if (!cfgs[c].checkpoints) continue;
        char name[64];
        snprintf(name, sizeof name, "%s, first after restore", cfgs[c].name);
        print_cost_row(name, &first[c], cfgs[c].incremental);
        snprintf(name, sizeof name, "%s, the others", cfgs[c].name);
        print_cost_row(name, &steady[c], cfgs[c].incremental);
        cost_free(&first[c]);
        cost_free(&steady[c]);
    }
    printf("(written: the checkpoint's own files and, incremental, the shared files it was "
           "first to name; referenced: everything an incremental checkpoint names)\n");
    printf("%-42s %-26s %7s\n", "updates after the restore", "per second med (min-max)", "loss");
    double off = 0;
    for (int c = 0; c < NCFG; c++) {
        if (!cfgs[c].checkpoints && rate) continue;
        range u = range_of(updates[c], runs);
        printf("%-42s %-26s", cfgs[c].name, rate_str(&u, b1, sizeof b1));
        if (!cfgs[c].checkpoints)
            off = u.med;
        else if (off > 0)
            printf(" %6.1f%%", 100.0 * (1.0 - u.med / off));
        printf("\n");
    }
    remove_dir(fill.savepoint);
    cost_free(&fill.during);
}

/* ---- part 3: recovery of 1 GB of RocksDB state ----------------------------------------------- */

/* Restores `from` into a job at parallelism p that reads one record; the seconds from the
 * start of eddy_execute until every keyed subtask is open (its state restored) in *restore,
 * and until the job has ended (the RocksDB directories removed) in *total. */
static void restore_run(const char *from, int p, double *restore, double *total)
{
    char rocks[PATH_MAX], maxk[32];
    wpath(rocks, sizeof rocks, "restore-rocksdb");
    fresh_dir(rocks);
    eddy_env *env = new_env(p, "rocksdb", rocks);
    eddy_env_set(env, "execution.savepoint.path", from);
    eddy_env_set(env, "execution.savepoint.ignore-unclaimed-state", "true");
    snprintf(maxk, sizeof maxk, "%lld", (long long)state_keys - 1);
    eddy_stream *ids =
        eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "random", "fields.id.min", "0",
                    "fields.id.max", maxk, "number-of-rows", "1", "rows-per-second", "0", NULL);
    eddy_uid(ids, "probe");
    values_op(ids, EDDY_FN(ckb_probe));
    env_check(env, "restore job");
    atomic_store(&opened, 0);
    atomic_store(&found, 0);
    int64_t t0 = ed_mono_ns();
    if (eddy_execute(env, "restore")) {
        fprintf(stderr, "bench: restore from %s at parallelism %d: %s\n", from, p,
                eddy_env_error(env));
        exit(1);
    }
    int64_t t1 = ed_mono_ns();
    if (atomic_load(&opened) != p || atomic_load(&found) != 1) {
        fprintf(stderr,
                "bench: restore from %s at parallelism %d: %d subtasks opened, the "
                "probed key %s\n",
                from, p, atomic_load(&opened), atomic_load(&found) ? "found" : "NOT found");
        exit(1);
    }
    *restore = (double)(atomic_load(&last_open_ns) - t0) / 1e9;
    *total = (double)(t1 - t0) / 1e9;
    eddy_env_free(env);
    remove_dir(rocks);
}

/* The files of a checkpoint (its directory's, and the shared files its _metadata names). */
static int checkpoint_files(const char *chk, char ***out)
{
    int n = 0;
    char **v = NULL;
    DIR *d = opendir(chk);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char p[PATH_MAX + 300];
        snprintf(p, sizeof p, "%s/%s", chk, de->d_name);
        struct stat st;
        if (stat(p, &st) || !S_ISREG(st.st_mode)) continue;
        v = realloc(v, sizeof(char *) * (size_t)(n + 1));
        v[n++] = strdup(p);
    }
    if (d) closedir(d);
    char meta[PATH_MAX + 16], shared[PATH_MAX + 16];
    snprintf(meta, sizeof meta, "%s/_metadata", chk);
    snprintf(shared, sizeof shared, "%s/../shared", chk);
    void *m;
    size_t len;
    ed_err e = {0};
    if (ed_ckpt_read(meta, ED_CKPT_METADATA, &m, &len, &e) == 0) {
        char *text = strndup(m, len);
        free(m);
        for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save)) {
            if (strncmp(l, "shared ", 7)) continue;
            char p[2 * PATH_MAX];
            snprintf(p, sizeof p, "%s/%s", shared, l + 7);
            v = realloc(v, sizeof(char *) * (size_t)(n + 1));
            v[n++] = strdup(p);
        }
        free(text);
    }
    *out = v;
    return n;
}

/* The baseline: the same bytes copied with read and write, 1 MiB at a time, into a fresh
 * directory (no fsync, as a restore writes its files). Seconds; the bytes in *bytes. */
static double copy_run(char **files, int n, uint64_t *bytes)
{
    char to[PATH_MAX];
    wpath(to, sizeof to, "copy");
    fresh_dir(to);
    static char buf[1 << 20];
    *bytes = 0;
    double t0 = bench_now_s();
    for (int i = 0; i < n; i++) {
        char dst[2 * PATH_MAX];
        snprintf(dst, sizeof dst, "%s/%d", to, i);
        int in = open(files[i], O_RDONLY | O_CLOEXEC);
        int outfd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (in < 0 || outfd < 0) {
            fprintf(stderr, "bench: copy %s: %s\n", files[i], strerror(errno));
            exit(1);
        }
        ssize_t got;
        while ((got = read(in, buf, sizeof buf)) > 0) {
            for (ssize_t off = 0; off < got;) {
                ssize_t put = write(outfd, buf + off, (size_t)(got - off));
                if (put < 0) {
                    fprintf(stderr, "bench: copy to %s: %s\n", dst, strerror(errno));
                    exit(1);
                }
                off += put;
            }
            *bytes += (uint64_t)got;
        }
        close(in);
        close(outfd);
    }
    double secs = bench_now_s() - t0;
    remove_dir(to);
    return secs;
}

static void part_recovery(bool quick, int runs, int state_mb)
{
    char la[64], b1[32], b2[32], b3[32];
    value_bytes = 1000;
    /* what the disk must hold at once: the checkpoint, the savepoint, the filling job's
     * instance with its compactions, and a restore at parallelism 2 (two instances opened
     * on the side and the new ones) - about eight times the state */
    double need = 8.0 * state_mb * 1048576.0 + 1e9, avail = free_bytes(work);
    printf("\n== 3. recovery of RocksDB state ==\n");
    if (avail < need) {
        int fit = (int)((avail - 1e9) / 8.0 / 1048576.0);
        printf("NOTE: %s free under %s, a %d MB state needs about %s: scaled down to %d MB\n",
               mb(avail, b1, sizeof b1), work, state_mb, mb(need, b2, sizeof b2), fit);
        state_mb = fit;
        if (state_mb < 16) {
            printf("not enough disk for the recovery part: skipped\n");
            return;
        }
    }
    state_keys = (int64_t)state_mb * 1048576 / 1024;
    printf("%lld keys x %d random bytes, at parallelism 1, RocksDB, incremental checkpoints "
           "every 1 s; %d run%s each; %s free; load %s\n",
           (long long)state_keys, value_bytes, runs, runs > 1 ? "s" : "", mb(avail, b1, sizeof b1),
           loadavg(la, sizeof la));
    char ckdir[PATH_MAX], root[PATH_MAX + 8], chk[PATH_MAX + 64];
    wpath(ckdir, sizeof ckdir, "recovery-ckpt");
    snprintf(root, sizeof root, "%s/fill", ckdir);
    fill_result fill = {0};
    fill_state(ckdir, &fill);
    if (!ed_ckpt_latest_below(root, INT64_MAX, chk, sizeof chk)) {
        fprintf(stderr, "bench: no complete checkpoint in %s\n", root);
        exit(1);
    }
    char **incr_files, **full_files;
    int n_incr = checkpoint_files(chk, &incr_files),
        n_full = checkpoint_files(fill.savepoint, &full_files);
    uint64_t incr_bytes = 0, full_bytes = 0;
    for (int i = 0; i < n_incr; i++)
        incr_bytes += file_size(incr_files[i]);
    for (int i = 0; i < n_full; i++)
        full_bytes += file_size(full_files[i]);
    double wmax = 0, dmax = 0, wsum = 0;
    for (int i = 0; i < fill.during.n; i++) {
        wsum += fill.during.written[i];
        if (fill.during.written[i] > wmax) wmax = fill.during.written[i];
        if (fill.during.dur_ms[i] > dmax) dmax = fill.during.dur_ms[i];
    }
    printf("filled in %.1f s (%.0f k values/s) with %d incremental checkpoints "
           "(longest %.0f ms, largest upload %s, %s uploaded in all)\n",
           fill.fill_s, (double)state_keys / fill.fill_s / 1e3, fill.during.n, dmax,
           mb(wmax, b1, sizeof b1), mb(wsum, b2, sizeof b2));
    printf("RocksDB directory %s; incremental checkpoint %s (%d files); full savepoint %s, "
           "taken in %.2f s\n",
           mb((double)fill.rocks_bytes, b1, sizeof b1), mb((double)incr_bytes, b2, sizeof b2),
           n_incr, mb((double)full_bytes, b3, sizeof b3), fill.savepoint_s);
    struct {
        const char *name;
        const char *from;
        int p;
        bool incr;
    } rs[] = {
        {"incremental, p=1 (files put back)", chk, 1, true},
        {"incremental, p=2 (entries moved)", chk, 2, true},
        {"full savepoint, p=1", fill.savepoint, 1, false},
        {"full savepoint, p=2", fill.savepoint, 2, false},
    };
    enum { NR = sizeof rs / sizeof rs[0] };
    double restore[NR][16], total[NR][16], copy_incr[16], copy_full[16];
    uint64_t copied;
    for (int r = 0; r < runs; r++) {
        settle_disk();
        copy_incr[r] = copy_run(incr_files, n_incr, &copied);
        settle_disk();
        copy_full[r] = copy_run(full_files, n_full, &copied);
        for (int k = 0; k < NR; k++) {
            settle_disk();
            restore_run(rs[k].from, rs[k].p, &restore[k][r], &total[k][r]);
        }
    }
    range ci = range_of(copy_incr, runs), cf = range_of(copy_full, runs);
    printf("%-36s %22s %7s %22s\n", "run", "s med (min-max)", "ratio", "to job end, s");
    printf("%-36s %8.2f (%.2f-%.2f) %7s  %.2f GB/s\n", "copy of the checkpoint's bytes", ci.med,
           ci.min, ci.max, "1.00", (double)incr_bytes / ci.med / 1e9);
    printf("%-36s %8.2f (%.2f-%.2f) %7s  %.2f GB/s\n", "copy of the savepoint's bytes", cf.med,
           cf.min, cf.max, "1.00", (double)full_bytes / cf.med / 1e9);
    for (int k = 0; k < NR; k++) {
        range rr = range_of(restore[k], runs), rt = range_of(total[k], runs);
        printf("%-36s %8.2f (%.2f-%.2f) %7.2f %8.2f (%.2f-%.2f)\n", rs[k].name, rr.med, rr.min,
               rr.max, rr.med / (rs[k].incr ? ci.med : cf.med), rt.med, rt.min, rt.max);
    }
    printf("(restore: eddy_execute's start until every keyed subtask is open, its state "
           "restored; ratio: against the copy of the same bytes; to job end: until the job "
           "has read its one record and ended, removing its RocksDB directories)\n");
    for (int i = 0; i < n_incr; i++)
        free(incr_files[i]);
    for (int i = 0; i < n_full; i++)
        free(full_files[i]);
    free(incr_files);
    free(full_files);
    cost_free(&fill.during);
    remove_dir(ckdir);
    remove_dir(fill.savepoint);
}

/* ---- main ------------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    bool quick = false, want[3] = {false, false, false}, any = false;
    int runs = 0, state_mb = 0;
    int64_t rate = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = true;
        else if (!strncmp(argv[i], "--runs=", 7))
            runs = atoi(argv[i] + 7);
        else if (!strncmp(argv[i], "--state-mb=", 11))
            state_mb = atoi(argv[i] + 11);
        else if (!strncmp(argv[i], "--rate=", 7))
            rate = atoll(argv[i] + 7);
        else if (!strcmp(argv[i], "window"))
            want[0] = any = true;
        else if (!strcmp(argv[i], "size"))
            want[1] = any = true;
        else if (!strcmp(argv[i], "recovery"))
            want[2] = any = true;
        else {
            fprintf(stderr,
                    "usage: %s [--quick] [--runs=N] [--state-mb=MB] [--rate=N] [window] "
                    "[size] [recovery]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!any) want[0] = want[1] = want[2] = true;
    if (runs <= 0) runs = quick ? 1 : 3;
    if (runs > 16) runs = 16;
    if (state_mb <= 0) state_mb = quick ? 128 : 1024;
    const char *tmp = getenv("TMPDIR");
    if ((size_t)snprintf(work, sizeof work, "%s/eddy_bench_ckpt.XXXXXX",
                         tmp && *tmp ? tmp : "/tmp") >= sizeof work) {
        fprintf(stderr, "bench: TMPDIR is too long\n");
        return 1;
    }
    if (!mkdtemp(work)) {
        fprintf(stderr, "bench: cannot create %s: %s\n", work, strerror(errno));
        return 1;
    }
    atexit(cleanup_work);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    /* restores at another parallelism open old instances under $TMPDIR; the control
     * endpoint's registry (for savepoints) is ours alone */
    char run_dir[PATH_MAX];
    setenv("TMPDIR", work, 1);
    setenv("EDDY_RUN_DIR", wpath(run_dir, sizeof run_dir, "run"), 1);
    char la[64], b1[32];
    printf("checkpoint benchmark%s: %ld CPUs, load %s, %s free under %s\n", quick ? " (quick)" : "",
           sysconf(_SC_NPROCESSORS_ONLN), loadavg(la, sizeof la),
           mb(free_bytes(work), b1, sizeof b1), work);
    double t0 = bench_now_s();
    if (want[0]) part_window(quick, runs);
    if (want[1]) part_size(quick, runs, rate);
    if (want[2]) part_recovery(quick, runs, state_mb);
    printf("\ndone in %.0f s; load %s\n", bench_now_s() - t0, loadavg(la, sizeof la));
    return 0;
}
