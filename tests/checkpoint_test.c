/*
 * checkpoint_test.c - barrier checkpoints of a running job: a checkpoint triggered by the
 * coordinator completes with _metadata written last, and its keyed state is exactly the
 * state after the records sent before the barrier - at parallelism 1 and 2, aligned.
 *
 * The job reads lines from a socket the test serves on 127.0.0.1, counts them per key in
 * keyed ValueState and emits nothing; the test sends N lines, waits until all were
 * counted, moves the manual clock past the checkpoint interval, waits for chk-1, then
 * restores the snapshot files into fresh backends and compares the counts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "checkpoint/coordinator.h"
#include "checkpoint/storage.h"
#include "ed_test.h"
#include "runtime/incremental.h"
#include "job_util.h"
#include "state/snapshot.h"

static atomic_long counted;

static const eddy_state_desc count_desc = {
    .name = "count", .kind = EDDY_STATE_VALUE, .schema = "n BIGINT"};

int ck_count(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *st = eddy_keyed_state(ctx, &count_desc);
    if (!st) return -1;
    const eddy_row *cur = eddy_value_get(st);
    eddy_row_builder *b = eddy_out_builder(out); /* a scratch row of one BIGINT */
    eddy_rb_set_i64(b, 0, (cur ? eddy_row_i64(cur, 0) : 0) + 1);
    int rc = eddy_value_update(st, eddy_rb_row(b));
    atomic_fetch_add(&counted, 1);
    return rc;
}

typedef struct job_run {
    eddy_env *env;
    const char *name; /* the job's name: its checkpoints go to <dir>/<name>/ */
    pthread_t thread;
    int rc;
} job_run;

static void *run_job(void *arg)
{
    job_run *r = arg;
    r->rc = eddy_execute(r->env, r->name ? r->name : "ckpt test");
    return NULL;
}

/* The number of keys 0..keys-1 whose largest emitted sum (field 1 of (k, sum) rows) is not
 * the sum of the ids 0..n-1 with id % keys == k: what an uninterrupted run ends with. */
static int wrong_sums(const eddy_result *res, int64_t n, int keys)
{
    int64_t want[64] = {0}, got[64];
    for (int k = 0; k < keys; k++) got[k] = -1;
    for (int64_t id = 0; id < n; id++) want[id % keys] += id;
    for (size_t i = 0; i < eddy_result_count(res); i++) {
        const eddy_row *row = eddy_result_row(res, i);
        int64_t k = eddy_row_i64(row, 0), s = eddy_row_i64(row, 1);
        if (k >= 0 && k < keys && s > got[k]) got[k] = s; /* sums only grow */
    }
    int bad = 0;
    for (int k = 0; k < keys; k++)
        if (got[k] != want[k] && bad++ < 3)
            fprintf(stderr, "  key %d: sum %lld, uninterrupted %lld\n", k, (long long)got[k],
                    (long long)want[k]);
    return bad;
}

static void nap(int ms) { usleep((useconds_t)ms * 1000); }

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/*
 * Runs the job of env (named `name`) on a thread until `*progress` reaches `at_least`,
 * moves the manual clock until checkpoint 1 of <dir>/<name dir> is complete (its
 * directory goes to chk), then cancels it as a crash would stop it. True when the
 * checkpoint completed.
 */
static bool run_until_checkpoint_after(eddy_env *env, const char *name, const char *dir,
                                       const char *name_dir, atomic_long *progress,
                                       long at_least, atomic_long *before, char *chk,
                                       size_t cap);
static bool run_until_checkpoint(eddy_env *env, const char *name, const char *dir,
                                 const char *name_dir, atomic_long *progress, long at_least,
                                 char *chk, size_t cap)
{
    return run_until_checkpoint_after(env, name, dir, name_dir, progress, at_least, NULL, chk,
                                      cap);
}

/* The same; with `before`, the clock moves no further than 900 ms (short of the first
 * checkpoint at 1 s) until *before is positive: what must happen before the checkpoint
 * (windows that fire on periodic watermarks) does, however slow the machine is. */
static bool run_until_checkpoint_after(eddy_env *env, const char *name, const char *dir,
                                       const char *name_dir, atomic_long *progress,
                                       long at_least, atomic_long *before, char *chk,
                                       size_t cap)
{
    job_run r = {.env = env, .name = name};
    pthread_create(&r.thread, NULL, run_job, &r);
    for (int i = 0; i < 2000 && atomic_load(progress) < at_least; i++) nap(2);
    for (int i = 0, moved = 0; before && i < 5000 && atomic_load(before) <= 0; i++) {
        if (moved < 900) {
            eddy_env_advance_clock(env, 100);
            moved += 100;
        }
        nap(2);
    }
    char meta[800];
    snprintf(chk, cap, "%s/%s/chk-1", dir, name_dir);
    snprintf(meta, sizeof meta, "%s/_metadata", chk);
    for (int i = 0; i < 2000 && !exists(meta); i++) {
        /* no further once chk-1 is triggered: a chk-2 could complete and retire it before
         * it is seen (checkpoints go on after the sources end, too) */
        if (!exists(chk)) eddy_env_advance_clock(env, 100);
        nap(2);
    }
    eddy_env_cancel(env);
    pthread_join(r.thread, NULL);
    return exists(meta);
}

/* Counts of the keys in a restored snapshot: key "k<i>" -> count. */
static long restored_count(ed_state_backend *b, const char *key)
{
    uint8_t kb[64] = {0};
    uint64_t len = strlen(key);
    memcpy(kb, &len, 8);
    memcpy(kb + 8, key, len);
    size_t klen = 8 + ED_ALIGN8(len);
    ed_state_set_key(b, kb, (uint32_t)klen, ed_key_group(ed_key_hash(kb, klen), 128));
    ed_err e = {0};
    eddy_state *s = ed_state_get(b, &count_desc, &e);
    if (!s) return -1;
    const eddy_row *v = eddy_value_get(s);
    return v ? (long)eddy_row_i64(v, 0) : 0;
}

/* Reads section `kind` of an operator state file's payload. */
static const uint8_t *section(const uint8_t *p, size_t n, uint32_t kind, size_t *len)
{
    size_t off = 0;
    while (off + 16 <= n) {
        uint32_t k;
        uint64_t l;
        memcpy(&k, p + off, 4);
        memcpy(&l, p + off + 8, 8);
        if (off + 16 + l > n) return NULL;
        if (k == kind) {
            *len = l;
            return p + off + 16;
        }
        off += 16 + ED_ALIGN8(l);
    }
    return NULL;
}

static void check_checkpoint(int p)
{
    char dir[] = "/tmp/eddy_ckpt_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    atomic_store(&counted, 0);

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ED_REQUIRE(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 1) == 0);
    socklen_t alen = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &alen);

    eddy_env *env = eddy_env_new();
    eddy_env_use_manual_clock(env, 0);
    eddy_env_set_parallelism(env, p);
    eddy_env_set(env, "log.level", "WARN");
    eddy_env_set(env, "execution.checkpointing.interval", "1 s");
    eddy_env_set(env, "execution.checkpointing.dir", dir);
    /* checkpoints go on after the source ends: keep chk-1 when a second one completes */
    eddy_env_set(env, "execution.checkpointing.num-retained", "100");
    eddy_stream *lines = eddy_socket_text_stream(env, "127.0.0.1", ntohs(a.sin_port));
    eddy_stream *counts = eddy_keyed_process(eddy_key_by(lines, "line"), EDDY_FN(ck_count),
                                             EDDY_FN_NONE, "n BIGINT");
    eddy_uid(counts, "counter");
    eddy_discard(counts);
    job_run r = {.env = env};
    pthread_create(&r.thread, NULL, run_job, &r);

    int fd = accept(lfd, NULL, NULL);
    ED_REQUIRE(fd >= 0);
    enum { N = 1000, KEYS = 37 };
    long want[KEYS] = {0};
    char buf[N * 8];
    size_t len = 0;
    for (int i = 0; i < N; i++) {
        int k = (i * 7 + i / 13) % KEYS;
        want[k]++;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "k%d\n", k);
    }
    ED_REQUIRE(write(fd, buf, len) == (ssize_t)len);
    for (int i = 0; i < 2000 && atomic_load(&counted) < N; i++) nap(5);
    ED_CHECK_INT(atomic_load(&counted), N);

    /* the first checkpoint is due one interval after the start: move the clock there */
    char meta[512];
    snprintf(meta, sizeof meta, "%s/ckpt_test/chk-1/_metadata", dir);
    for (int i = 0; i < 2000 && !exists(meta); i++) {
        eddy_env_advance_clock(env, 100);
        nap(5);
    }
    ED_REQUIRE(exists(meta));
    /* more records after the checkpoint must not show in it */
    ED_REQUIRE(write(fd, "k0\nk0\n", 6) == 6);
    close(fd);
    pthread_join(r.thread, NULL);
    ED_CHECK_INT(r.rc, 0);

    void *m;
    size_t mlen;
    ed_err e = {0};
    ED_REQUIRE(ed_ckpt_read(meta, ED_CKPT_METADATA, &m, &mlen, &e) == 0);
    char *text = strndup(m, mlen);
    free(m);
    ED_CHECK(strncmp(text, "eddy-checkpoint 1\nid 1\njob ckpt test\n", 37) == 0);

    /* restore every subtask's keyed state into one backend: the counts of all keys */
    ed_manual_clock clk;
    ed_manual_clock_init(&clk, 0);
    ed_state_backend *b = ed_state_backend_new(128, &clk.base, NULL);
    ed_timer_service *tm = ed_timers_new();
    int files = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char key[128], file[256];
        int sub, par;
        size_t bytes;
        if (sscanf(line, "state %127s %d %d %255s %zu", key, &sub, &par, file, &bytes) != 5)
            continue;
        ED_CHECK_STR(key, "counter");
        ED_CHECK_INT(par, p);
        char path[700];
        snprintf(path, sizeof path, "%s/ckpt_test/chk-1/%s", dir, file);
        void *payload;
        size_t plen;
        ED_REQUIRE(ed_ckpt_read(path, ED_CKPT_OPERATOR_STATE, &payload, &plen, &e) == 0);
        ED_CHECK_INT(plen, bytes);
        size_t klen;
        const uint8_t *keyed = section(payload, plen, 1, &klen), *incr = NULL;
        if (!keyed) incr = section(payload, plen, 4, &klen); /* incremental (RocksDB) */
        ED_REQUIRE(keyed || incr);
        if (keyed) ED_REQUIRE(ed_state_restore(b, tm, keyed, klen, 0, 127, &e) == 0);
        char shared[700];
        snprintf(shared, sizeof shared, "%s/ckpt_test/shared", dir);
        if (incr) ED_REQUIRE(ed_incr_restore_into(b, tm, 128, incr, klen, shared, 0, 127, &e) == 0);
        free(payload);
        files++;
    }
    ED_CHECK_INT(files, p);
    int bad = 0;
    for (int k = 0; k < KEYS; k++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", k);
        long got = restored_count(b, key);
        if (got != want[k]) {
            if (bad++ < 3) ED_FAIL_AT("key %s: checkpointed %ld, sent %ld", key, got, want[k]);
        }
    }
    ed_timers_free(tm);
    ed_state_backend_free(b);
    free(text);
    close(lfd);
    eddy_env_free(env);
    ed_remove_tree(dir, &e);
}

ED_TEST(checkpoint_holds_the_state_before_the_barrier_p1) { check_checkpoint(1); }
ED_TEST(checkpoint_holds_the_state_before_the_barrier_p2) { check_checkpoint(2); }

ED_TEST(checkpointing_needs_a_directory)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set(env, "execution.checkpointing.interval", "1 s");
    eddy_discard(numbers(env, 3));
    ED_CHECK_INT(eddy_execute(env, "nodir"), -1);
    ED_CHECK_STR(eddy_env_error(env),
                 "job 'nodir': execution.checkpointing.interval is set but "
                 "execution.checkpointing.dir is not: where should checkpoints go?");
    eddy_env_free(env);
}

/* ---- starting from a checkpoint ------------------------------------------------------------ */

static atomic_long summed;

static atomic_long fail_at = -1; /* the id at which ck_key_value (or win_kv) fails once */

/* Called when fail_once fails the job (NULL: nothing); the unaligned checkpoint tests look
 * at the latest checkpoint there and arm the next failure. Set before the job runs. */
static void (*injected_failure_hook)(void);

/* Fails the job (-1) when id is fail_at, once; 0 otherwise. */
static int fail_once(eddy_ctx *ctx, int64_t id)
{
    long f = atomic_load(&fail_at);
    if (id == f && atomic_compare_exchange_strong(&fail_at, &f, -1)) {
        if (injected_failure_hook) injected_failure_hook();
        return eddy_fail(ctx, "injected failure at id %lld", (long long)id);
    }
    return 0;
}

/* Takes `us` microseconds per call on average: adds them to *debt and sleeps a millisecond
 * whenever a millisecond is owed (sleeping rather than spinning leaves the other tasks the
 * processor). */
static void slow_down(atomic_long *debt, long us)
{
    if (us > 0 && atomic_fetch_add(debt, us) + us >= 1000) {
        atomic_fetch_sub(debt, 1000);
        usleep(1000);
    }
}

int ck_key_value(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    int64_t id = eddy_row_i64(in, 0);
    if (fail_once(ctx, id)) return -1;
    eddy_rb_set_i64(out, 0, id % 50);
    eddy_rb_set_i64(out, 1, id);
    return 0;
}

/* per key: the running sum, kept and emitted as (k, sum) */
static const eddy_state_desc sum_desc_kv = {
    .name = "sum", .kind = EDDY_STATE_VALUE, .schema = "k BIGINT, s BIGINT"};

int ck_sum_kv(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *st = eddy_keyed_state(ctx, &sum_desc_kv);
    if (!st) return -1;
    const eddy_row *cur = eddy_value_get(st);
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_field(b, 0, in, 0);
    eddy_rb_set_i64(b, 1, (cur ? eddy_row_i64(cur, 1) : 0) + eddy_row_i64(in, 1));
    atomic_fetch_add(&summed, 1);
    if (eddy_value_update(st, eddy_rb_row(b))) return -1;
    return eddy_emit(out, eddy_rb_row(b));
}

static eddy_result *sum_job(eddy_env *env, const char *dir, int keyed_p, int64_t n)
{
    char end[32];
    snprintf(end, sizeof end, "%lld", (long long)n - 1);
    eddy_env_use_manual_clock(env, 0);
    eddy_env_set(env, "log.level", "WARN");
    eddy_env_set(env, "execution.checkpointing.interval", "1 s");
    eddy_env_set(env, "execution.checkpointing.dir", dir);
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", end,
                                   "rows-per-second", "100000", NULL);
    eddy_uid(src, "gen");
    eddy_stream *kv = eddy_map(src, EDDY_FN(ck_key_value), "k BIGINT, v BIGINT");
    eddy_uid(kv, "kv");
    eddy_stream *sums = eddy_keyed_process(eddy_key_by(kv, "k"), EDDY_FN(ck_sum_kv),
                                           EDDY_FN_NONE, "k BIGINT, s BIGINT");
    eddy_uid(eddy_set_parallelism(sums, keyed_p), "sum");
    return eddy_collect(sums);
}

/*
 * A job checkpoints mid-run and is cancelled; the same job started from that checkpoint,
 * with its keyed operator at another parallelism, ends with exactly the sums of an
 * uninterrupted run: the source resumes at its checkpointed position and the keyed state
 * is redistributed by key group - no record lost, none counted twice.
 */
ED_TEST(restore_from_a_checkpoint_resumes_exactly_once)
{
    enum { N = 200000, KEYS = 50 };
    char dir[] = "/tmp/eddy_restore_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    atomic_store(&summed, 0);

    eddy_env *a = eddy_env_new();
    sum_job(a, dir, 1, N);
    char chk[600];
    ED_REQUIRE(run_until_checkpoint(a, "ckpt test", dir, "ckpt_test", &summed, N / 5, chk,
                                    sizeof chk));
    long first_run = atomic_load(&summed);
    ED_CHECK(first_run < N); /* it really was interrupted */
    eddy_env_free(a);

    eddy_env *b = eddy_env_new();
    eddy_result *res = sum_job(b, dir, 2, N);
    eddy_env_set(b, "execution.savepoint.path", chk);
    eddy_env_set(b, "execution.checkpointing.interval", "0");
    ED_REQUIRE(eddy_execute(b, "ckpt test") == 0);

    ED_CHECK_INT(wrong_sums(res, N, KEYS), 0);
    eddy_env_free(b);

    /* state of an operator the job does not have is refused */
    eddy_env *c = eddy_env_new();
    eddy_env_set(c, "execution.savepoint.path", chk);
    eddy_discard(numbers(c, 3));
    ED_CHECK_INT(eddy_execute(c, "other"), -1);
    ED_CHECK_CONTAINS(eddy_env_error(c), "holds state of operator 'gen', which this job does not have");
    eddy_env_free(c);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

static atomic_bool ticking;

/* Moves the job's manual clock while the job runs, so that checkpoints are taken. */
static void *tick(void *arg)
{
    while (atomic_load(&ticking)) {
        eddy_env_advance_clock(arg, 100);
        nap(5);
    }
    return NULL;
}

/*
 * Failover: a map fails once, mid-run; the restart strategy restarts the job from its
 * latest completed checkpoint, and the final sums are exactly those of a run without
 * the failure.
 */
ED_TEST(a_failed_job_restarts_from_its_latest_checkpoint)
{
    enum { N = 200000, KEYS = 50 };
    char dir[] = "/tmp/eddy_failover_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    atomic_store(&fail_at, 140000);
    eddy_env *env = eddy_env_new();
    eddy_result *res = sum_job(env, dir, 2, N);
    eddy_env_set(env, "restart-strategy.type", "fixed-delay");
    eddy_env_set(env, "restart-strategy.fixed-delay.attempts", "3");
    eddy_env_set(env, "restart-strategy.fixed-delay.delay", "10 ms");
    eddy_env_set(env, "execution.checkpointing.interval", "200 ms");
    atomic_store(&ticking, true);
    pthread_t t;
    pthread_create(&t, NULL, tick, env);
    int rc = eddy_execute(env, "ckpt test");
    atomic_store(&ticking, false);
    pthread_join(t, NULL);
    ED_REQUIRE(rc == 0);
    ED_CHECK_INT(atomic_load(&fail_at), -1); /* the failure did happen */
    ED_CHECK_INT(wrong_sums(res, N, KEYS), 0);
    eddy_env_free(env);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

ED_TEST(without_a_restart_strategy_a_failure_fails_the_job)
{
    atomic_store(&fail_at, 10);
    eddy_env *env = eddy_env_new();
    eddy_env_set(env, "log.level", "OFF");
    eddy_stream *kv = eddy_map(numbers(env, 100), EDDY_FN(ck_key_value), "k BIGINT, v BIGINT");
    eddy_discard(kv);
    ED_CHECK_INT(eddy_execute(env, "no restarts"), -1);
    ED_CHECK_STR(eddy_env_error(env), "operator 'Map' (subtask 1/1) failed: injected failure at id 10");
    atomic_store(&fail_at, -1);
    eddy_env_free(env);
}

/* ---- the filesystem source resumes at its checkpointed line ------------------------------ */

static atomic_long slow_left;

/* per key (k, v): the running sum of v; slow for its first records, so that a checkpoint
 * is taken while the file is still being read */
int ck_slow_sum(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    if (atomic_load(&slow_left) > 0) {
        atomic_fetch_sub(&slow_left, 1);
        usleep(20);
    }
    return ck_sum_kv(ctx, in, out);
}

ED_TEST(filesystem_source_resumes_at_its_checkpointed_line)
{
    enum { N = 100000, KEYS = 50 };
    char dir[] = "/tmp/eddy_fs_restore_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    char csv[600];
    snprintf(csv, sizeof csv, "%s/in.csv", dir);
    FILE *f = fopen(csv, "w");
    ED_REQUIRE(f);
    for (int64_t id = 0; id < N; id++) fprintf(f, "%lld,%lld\n", (long long)(id % KEYS), (long long)id);
    fclose(f);
    char ckdir[600];
    snprintf(ckdir, sizeof ckdir, "%s/ck", dir);

    eddy_result *res = NULL;
    for (int run = 0; run < 2; run++) {
        eddy_env *env = eddy_env_new();
        eddy_env_use_manual_clock(env, 0);
        eddy_env_set(env, "log.level", "WARN");
        eddy_env_set(env, "execution.checkpointing.interval", "1 s");
        eddy_env_set(env, "execution.checkpointing.dir", ckdir);
        eddy_stream *src = eddy_source(env, "filesystem", "k BIGINT, v BIGINT", "path", csv,
                                       "format", "csv", NULL);
        eddy_uid(src, "file");
        eddy_stream *sums = eddy_keyed_process(eddy_key_by(src, "k"), EDDY_FN(ck_slow_sum),
                                               EDDY_FN_NONE, "k BIGINT, s BIGINT");
        eddy_uid(sums, "sum");
        res = eddy_collect(sums);
        char chk[700], meta[800];
        snprintf(chk, sizeof chk, "%s/fs_test/chk-1", ckdir);
        snprintf(meta, sizeof meta, "%s/_metadata", chk);
        if (run == 0) {
            atomic_store(&slow_left, 40000);
            atomic_store(&summed, 0);
            job_run r = {.env = env, .name = "fs test"};
            pthread_create(&r.thread, NULL, run_job, &r);
            for (int i = 0; i < 4000 && !exists(meta); i++) {
                if (!exists(chk)) eddy_env_advance_clock(env, 100); /* not past its trigger */
                nap(2);
            }
            ED_CHECK(exists(meta));
            eddy_env_cancel(env);
            pthread_join(r.thread, NULL);
            ED_CHECK(atomic_load(&summed) < N); /* interrupted mid-file */
            eddy_env_free(env);
            if (!exists(meta)) break;
            continue;
        }
        atomic_store(&slow_left, 0);
        eddy_env_set(env, "execution.savepoint.path", chk);
        eddy_env_set(env, "execution.checkpointing.interval", "0");
        ED_REQUIRE(eddy_execute(env, "fs test") == 0);
        ED_CHECK_INT(wrong_sums(res, N, KEYS), 0);
        eddy_env_free(env);
    }
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* ---- a checkpoint that cannot be written ----------------------------------------------------- */

/* A file system whose writes of files under "chk-2/" fail with ENOSPC. */
static atomic_int doomed[64];
static atomic_int ndoomed;

static int nf_open(ed_fs *fs, const char *p, int flags, mode_t m)
{
    int fd = ed_fs_default()->open(ed_fs_default(), p, flags, m);
    if (fd >= 0 && strstr(p, "/chk-2/")) {
        int i = atomic_fetch_add(&ndoomed, 1);
        if (i < 64) atomic_store(&doomed[i], fd);
    }
    return fd;
}
static ssize_t nf_write(ed_fs *fs, int fd, const void *b, size_t n)
{
    for (int i = 0; i < atomic_load(&ndoomed) && i < 64; i++)
        if (atomic_load(&doomed[i]) == fd) {
            errno = ENOSPC;
            return -1;
        }
    return ed_fs_default()->write(ed_fs_default(), fd, b, n);
}
static int nf_fsync(ed_fs *fs, int fd) { return ed_fs_default()->fsync(ed_fs_default(), fd); }
static int nf_rename(ed_fs *fs, const char *a, const char *b)
{
    return ed_fs_default()->rename(ed_fs_default(), a, b);
}
static int nf_close(ed_fs *fs, int fd)
{
    for (int i = 0; i < atomic_load(&ndoomed) && i < 64; i++)
        if (atomic_load(&doomed[i]) == fd) atomic_store(&doomed[i], -1);
    return ed_fs_default()->close(ed_fs_default(), fd);
}

/*
 * ENOSPC while checkpoint 2 is written: that checkpoint fails and is removed, the job goes
 * on (one failure tolerated), the next checkpoints complete, and the results are exact.
 */
ED_TEST(a_checkpoint_that_cannot_be_written_fails_alone)
{
    enum { N = 200000, KEYS = 50 };
    char dir[] = "/tmp/eddy_enospc_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    static ed_fs nospace = {nf_open, nf_write, nf_fsync, nf_rename, nf_close};
    atomic_store(&ndoomed, 0);
    eddy_env *env = eddy_env_new();
    eddy_result *res = sum_job(env, dir, 2, N);
    ed_env_set_fs(env, &nospace);
    eddy_env_set(env, "log.level", "OFF");
    eddy_env_set(env, "execution.checkpointing.interval", "200 ms");
    eddy_env_set(env, "execution.checkpointing.tolerable-failed-checkpoints", "1");
    eddy_env_set(env, "execution.checkpointing.num-retained", "100000");
    atomic_store(&ticking, true);
    pthread_t t;
    pthread_create(&t, NULL, tick, env);
    int rc = eddy_execute(env, "ckpt test");
    atomic_store(&ticking, false);
    pthread_join(t, NULL);
    ED_REQUIRE(rc == 0);
    char p1[700], p2[700], p3[700];
    snprintf(p1, sizeof p1, "%s/ckpt_test/chk-1/_metadata", dir);
    snprintf(p2, sizeof p2, "%s/ckpt_test/chk-2", dir);
    snprintf(p3, sizeof p3, "%s/ckpt_test/chk-3/_metadata", dir);
    ED_CHECK(exists(p1));
    ED_CHECK(!exists(p2)); /* failed, and cleaned away */
    ED_CHECK(exists(p3));
    ED_CHECK(atomic_load(&ndoomed) > 0);
    ED_CHECK_INT(wrong_sums(res, N, KEYS), 0);
    eddy_env_free(env);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* ---- a damaged latest checkpoint ------------------------------------------------------------ */

static char damage_root[600];
static atomic_long damage_at = -1;

/* Fails once at id `damage_at`, truncating a state file of the latest checkpoint first. */
int ck_damage(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    int64_t id = eddy_row_i64(in, 0);
    long f = atomic_load(&damage_at);
    if (id == f && atomic_compare_exchange_strong(&damage_at, &f, -1)) {
        char latest[4096], file[4200];
        if (ed_ckpt_latest_below(damage_root, INT64_MAX, latest, sizeof latest)) {
            snprintf(file, sizeof file, "%s/sum-1", latest);
            if (truncate(file, 40)) return eddy_fail(ctx, "cannot damage %s", file);
        }
        return eddy_fail(ctx, "injected failure at id %lld", (long long)id);
    }
    return ck_key_value(ctx, in, out);
}

/*
 * The job fails, and its latest checkpoint turns out damaged: the restart reports it and
 * falls back to the checkpoint before, and the results are still exact.
 */
ED_TEST(a_damaged_checkpoint_falls_back_to_the_previous_one)
{
    enum { N = 200000, KEYS = 50 };
    char dir[] = "/tmp/eddy_damaged_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    snprintf(damage_root, sizeof damage_root, "%s/damaged", dir);
    atomic_store(&damage_at, 120000);
    eddy_env *env = eddy_env_new();
    char end[32];
    snprintf(end, sizeof end, "%d", N - 1);
    eddy_env_use_manual_clock(env, 0);
    eddy_env_set(env, "log.level", getenv("CK_LOG") ? getenv("CK_LOG") : "OFF");
    eddy_env_set(env, "execution.checkpointing.interval", "200 ms");
    eddy_env_set(env, "execution.checkpointing.dir", dir);
    eddy_env_set(env, "execution.checkpointing.num-retained", "3");
    eddy_env_set(env, "restart-strategy.type", "fixed-delay");
    eddy_env_set(env, "restart-strategy.fixed-delay.attempts", "3");
    eddy_env_set(env, "restart-strategy.fixed-delay.delay", "10 ms");
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", end,
                                   "rows-per-second", "100000", NULL);
    eddy_uid(src, "gen");
    eddy_stream *kv = eddy_uid(eddy_map(src, EDDY_FN(ck_damage), "k BIGINT, v BIGINT"), "kv");
    eddy_stream *sums = eddy_keyed_process(eddy_key_by(kv, "k"), EDDY_FN(ck_sum_kv),
                                           EDDY_FN_NONE, "k BIGINT, s BIGINT");
    eddy_uid(eddy_set_parallelism(sums, 2), "sum");
    eddy_result *res = eddy_collect(sums);
    atomic_store(&ticking, true);
    pthread_t t;
    pthread_create(&t, NULL, tick, env);
    int rc = eddy_execute(env, "damaged");
    atomic_store(&ticking, false);
    pthread_join(t, NULL);
    ED_REQUIRE(rc == 0);
    ED_CHECK_INT(atomic_load(&damage_at), -1);
    ED_CHECK_INT(wrong_sums(res, N, KEYS), 0);
    eddy_env_free(env);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* ---- the exactly-once file sink ------------------------------------------------------------- */

int ck_id_only(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(in, 0));
    return 0;
}

/* Counts how often each id 0..n-1 appears in the committed part files under dir; returns
 * the number of ids not seen exactly once, or -1 when an in-progress file is left. */
static long count_ids(const char *dir, long n)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "find %s -type f -name '.part-*' | grep -q . && exit 3; "
                              "cat %s/part-* 2>/dev/null", dir, dir);
    FILE *p = popen(cmd, "r");
    if (!p) return -2;
    int *seen = calloc((size_t)n, sizeof(int));
    long id;
    while (fscanf(p, "%ld", &id) == 1)
        if (id >= 0 && id < n) seen[id]++;
    int st = pclose(p);
    long bad = 0;
    for (long i = 0; i < n; i++) bad += seen[i] != 1;
    free(seen);
    return WIFEXITED(st) && WEXITSTATUS(st) == 3 ? -1 : bad;
}

/*
 * A job writing every id to the exactly-once file sink is stopped mid-run (as by a crash:
 * open part files stay in progress, closed ones stay uncommitted) and started again from
 * its checkpoint: the committed files then hold every id exactly once.
 */
ED_TEST(file_sink_commits_each_row_exactly_once_across_a_crash)
{
    enum { N = 100000 };
    char dir[] = "/tmp/eddy_filesink_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    char out[600], ck[600];
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(ck, sizeof ck, "%s/ck", dir);
    char end[32];
    snprintf(end, sizeof end, "%d", N - 1);
    for (int run = 0; run < 2; run++) {
        eddy_env *env = eddy_env_new();
        eddy_env_use_manual_clock(env, 0);
        eddy_env_set(env, "log.level", "OFF");
        eddy_env_set(env, "execution.checkpointing.interval", "1 s");
        eddy_env_set(env, "execution.checkpointing.dir", ck);
        eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                       "fields.id.start", "0", "fields.id.end", end,
                                       "rows-per-second", run == 0 ? "50000" : "0", NULL);
        eddy_uid(src, "gen");
        eddy_stream *ids = eddy_uid(eddy_map(src, EDDY_FN(ck_id_only), "id BIGINT"), "ids");
        eddy_sink(eddy_rebalance(ids), "filesink", "path", out, "format", "csv",
                  "sink.bucket.pattern", "", NULL);
        eddy_env_set_parallelism(env, 2);
        eddy_set_parallelism(src, 1);
        eddy_set_parallelism(ids, 1);
        char chk[700], meta[800];
        snprintf(chk, sizeof chk, "%s/sink_test/chk-2", ck);
        snprintf(meta, sizeof meta, "%s/_metadata", chk);
        if (run == 0) {
            job_run r = {.env = env, .name = "sink test"};
            pthread_create(&r.thread, NULL, run_job, &r);
            for (int i = 0; i < 4000 && !exists(meta); i++) {
                if (!exists(chk)) eddy_env_advance_clock(env, 100); /* not past its trigger */
                nap(5);
            }
            ED_CHECK(exists(meta));
            nap(50); /* more rows after the checkpoint, in files it does not cover */
            eddy_env_cancel(env);
            pthread_join(r.thread, NULL);
            eddy_env_free(env);
            ED_CHECK_INT(count_ids(out, N) == 0, 0); /* not complete yet */
            continue;
        }
        eddy_env_set(env, "execution.savepoint.path", chk);
        eddy_env_set(env, "execution.checkpointing.interval", "0");
        ED_REQUIRE(eddy_execute(env, "sink test") == 0);
        eddy_env_free(env);
    }
    ED_CHECK_INT(count_ids(out, N), 0);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* ---- rolling aggregations keep their sums across a restore ----------------------------------- */

static atomic_long agg_seen;

int ck_count_kv(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    atomic_fetch_add(&agg_seen, 1);
    return ck_key_value(ctx, in, out);
}

static eddy_result *rolling_job(eddy_env *env, const char *dir, int p, int64_t n)
{
    char end[32];
    snprintf(end, sizeof end, "%lld", (long long)n - 1);
    eddy_env_use_manual_clock(env, 0);
    eddy_env_set(env, "log.level", "OFF");
    eddy_env_set(env, "execution.checkpointing.interval", "1 s");
    eddy_env_set(env, "execution.checkpointing.dir", dir);
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", end,
                                   "rows-per-second", "100000", NULL);
    eddy_uid(src, "gen");
    eddy_stream *kv = eddy_uid(eddy_map(src, EDDY_FN(ck_count_kv), "k BIGINT, v BIGINT"), "kv");
    eddy_stream *sums = eddy_sum(eddy_key_by(kv, "k"), "v");
    eddy_uid(eddy_set_parallelism(sums, p), "rolling");
    return eddy_collect(sums);
}

ED_TEST(rolling_sums_restore_at_another_parallelism)
{
    enum { N = 200000, KEYS = 50 };
    char dir[] = "/tmp/eddy_rolling_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    atomic_store(&agg_seen, 0);
    eddy_env *a = eddy_env_new();
    rolling_job(a, dir, 2, N);
    char chk[600];
    ED_REQUIRE(run_until_checkpoint(a, "rolling", dir, "rolling", &agg_seen, N / 5, chk, sizeof chk));
    eddy_env_free(a);

    eddy_env *b = eddy_env_new();
    eddy_result *res = rolling_job(b, dir, 3, N);
    eddy_env_set(b, "execution.savepoint.path", chk);
    eddy_env_set(b, "execution.checkpointing.interval", "0");
    ED_REQUIRE(eddy_execute(b, "rolling") == 0);
    ED_CHECK_INT(wrong_sums(res, N, KEYS), 0);
    eddy_env_free(b);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* ---- operator list state across a restore at another parallelism ------------------------------ */

static const eddy_state_desc seen_desc = {
    .name = "seen", .kind = EDDY_STATE_LIST, .schema = "n BIGINT"};

typedef struct op_counter {
    eddy_state *seen;
    int64_t count; /* restored + this run's */
    eddy_row_builder *rb;
} op_counter;

int oc_open(eddy_ctx *ctx)
{
    op_counter *c = calloc(1, sizeof(*c));
    eddy_ctx_set_user(ctx, c);
    c->seen = eddy_operator_state(ctx, &seen_desc, EDDY_OP_STATE_SPLIT);
    if (!c->seen) return -1;
    for (size_t i = 0; i < eddy_list_size(c->seen); i++)
        c->count += eddy_row_i64(eddy_list_get(c->seen, i), 0);
    c->rb = eddy_rb_new(1);
    return 0;
}

void oc_close(eddy_ctx *ctx)
{
    op_counter *c = eddy_ctx_user(ctx);
    if (!c) return;
    eddy_rb_free(c->rb);
    free(c);
}

/* Counts the records of its subtask in operator list state; emits (subtask, count). */
int oc_count(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    op_counter *c = eddy_ctx_user(ctx);
    c->count++;
    eddy_rb_reset(c->rb);
    eddy_rb_set_i64(c->rb, 0, c->count);
    const eddy_row *one = eddy_rb_row(c->rb);
    if (eddy_list_update(c->seen, &one, 1)) return -1;
    atomic_fetch_add(&summed, 1);
    eddy_rb_set_i64(out, 0, eddy_ctx_subtask(ctx));
    eddy_rb_set_i64(out, 1, c->count);
    return 0;
}

static eddy_result *counter_job(eddy_env *env, const char *dir, int p, int64_t n)
{
    char end[32];
    snprintf(end, sizeof end, "%lld", (long long)n - 1);
    eddy_env_use_manual_clock(env, 0);
    eddy_env_set(env, "log.level", "OFF");
    eddy_env_set(env, "execution.checkpointing.interval", "1 s");
    eddy_env_set(env, "execution.checkpointing.dir", dir);
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", end,
                                   "rows-per-second", "100000", NULL);
    eddy_uid(eddy_set_parallelism(src, 2), "gen");
    eddy_stream *c = eddy_map(eddy_rebalance(src), EDDY_FN(oc_count), "sub BIGINT, n BIGINT");
    eddy_rich(c, EDDY_FN(oc_open), EDDY_FN(oc_close));
    eddy_uid(eddy_set_parallelism(c, p), "counter");
    return eddy_collect(c);
}

/*
 * Operator list state (Flink's split redistribution): counters of 2 subtasks are
 * checkpointed and restored into 3; together the new subtasks end with every record
 * counted exactly once.
 */
ED_TEST(operator_list_state_is_split_across_a_rescale)
{
    enum { N = 200000 };
    char dir[] = "/tmp/eddy_opstate_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    atomic_store(&summed, 0);
    eddy_env *a = eddy_env_new();
    counter_job(a, dir, 2, N);
    char chk[600];
    ED_REQUIRE(run_until_checkpoint(a, "opstate", dir, "opstate", &summed, N / 5, chk, sizeof chk));
    eddy_env_free(a);

    eddy_env *b = eddy_env_new();
    eddy_result *res = counter_job(b, dir, 3, N);
    eddy_env_set(b, "execution.savepoint.path", chk);
    eddy_env_set(b, "execution.checkpointing.interval", "0");
    ED_REQUIRE(eddy_execute(b, "opstate") == 0);
    int64_t last[3] = {0, 0, 0};
    for (size_t i = 0; i < eddy_result_count(res); i++) {
        const eddy_row *row = eddy_result_row(res, i);
        int64_t sub = eddy_row_i64(row, 0), n = eddy_row_i64(row, 1);
        if (sub >= 0 && sub < 3 && n > last[sub]) last[sub] = n;
    }
    ED_CHECK_INT(last[0] + last[1] + last[2], N);
    eddy_env_free(b);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* ---- keyed event-time windows recover exactly ---------------------------------------------- */

/*
 * Ids 0..WIN_N-1 become (k = id % WIN_KEYS, ts, v = id), windowed per key by event time
 * and aggregated to (k, window start, window end, count, sum of v). Tumbling windows:
 * ts = 3 id, WIN_SIZE ms each. Sessions: ts grows by 2 per id plus, in each block of
 * WIN_BLOCK ids, two jumps of WIN_JUMP - at the block's start and s = block % 20 + 1 ids
 * later - so that the keys whose consecutive elements straddle both jumps (20 - s of them)
 * start a new session there and the others do not: sessions of different keys end at
 * different points, and all through the run.
 */
enum { WIN_N = 100000, WIN_KEYS = 20, WIN_SIZE = 1000, WIN_GAP = 10000, WIN_BLOCK = 2000,
       WIN_JUMP = 6000 };
#define WIN_SCHEMA "k BIGINT, ws BIGINT, we BIGINT, n BIGINT, s BIGINT"

static atomic_long win_seen; /* records through the key-value map */
static atomic_long win_fired; /* windows through the tap */

static int64_t win_ts(int64_t id, bool session)
{
    if (!session) return id * 3;
    int64_t b = id / WIN_BLOCK, r = id % WIN_BLOCK;
    return id * 2 + WIN_JUMP * (2 * b + (r >= b % 20 + 1));
}

static int win_kv(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out, bool session)
{
    int64_t id = eddy_row_i64(in, 0);
    if (fail_once(ctx, id)) return -1;
    eddy_rb_set_i64(out, 0, id % WIN_KEYS);
    eddy_rb_set_i64(out, 1, win_ts(id, session));
    eddy_rb_set_i64(out, 2, id);
    atomic_fetch_add(&win_seen, 1);
    return 0;
}
int ck_tumbling_kv(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    return win_kv(ctx, in, out, false);
}
int ck_session_kv(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    return win_kv(ctx, in, out, true);
}

/* acc (count, sum) -> (k, start, end, count, sum): key and window from the context */
int ck_win_create(eddy_ctx *ctx, eddy_row_builder *acc)
{
    eddy_rb_set_i64(acc, 0, 0);
    eddy_rb_set_i64(acc, 1, 0);
    return 0;
}
static atomic_long win_add_delay_us, win_add_debt; /* a slow window operator: its input backs up */

int ck_win_add(eddy_ctx *ctx, const eddy_row *in, const eddy_row *acc, eddy_row_builder *out)
{
    slow_down(&win_add_debt, atomic_load_explicit(&win_add_delay_us, memory_order_relaxed));
    eddy_rb_set_i64(out, 0, eddy_row_i64(acc, 0) + 1);
    eddy_rb_set_i64(out, 1, eddy_row_i64(acc, 1) + eddy_row_i64(in, 2));
    return 0;
}
int ck_win_result(eddy_ctx *ctx, const eddy_row *acc, eddy_row_builder *out)
{
    eddy_rb_set_field(out, 0, eddy_ctx_current_key(ctx), 0);
    eddy_rb_set_i64(out, 1, eddy_ctx_window_start(ctx));
    eddy_rb_set_i64(out, 2, eddy_ctx_window_end(ctx));
    eddy_rb_set_i64(out, 3, eddy_row_i64(acc, 0));
    eddy_rb_set_i64(out, 4, eddy_row_i64(acc, 1));
    return 0;
}
int ck_win_merge(eddy_ctx *ctx, const eddy_row *a, const eddy_row *b, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(a, 0) + eddy_row_i64(b, 0));
    eddy_rb_set_i64(out, 1, eddy_row_i64(a, 1) + eddy_row_i64(b, 1));
    return 0;
}

/* Window results as plain values: (k, start, end, count, sum). */
typedef struct win_rows {
    int64_t (*w)[5];
    size_t n, cap;
} win_rows;

static void win_push(win_rows *r, const int64_t w[5])
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->w = realloc(r->w, r->cap * sizeof *r->w);
    }
    memcpy(r->w[r->n++], w, sizeof *r->w);
}

static void win_push_row(win_rows *r, const eddy_row *row)
{
    int64_t w[5];
    for (int i = 0; i < 5; i++) w[i] = eddy_row_i64(row, (uint32_t)i);
    win_push(r, w);
}

static void win_push_result(win_rows *r, const eddy_result *res)
{
    for (size_t i = 0; i < eddy_result_count(res); i++) win_push_row(r, eddy_result_row(res, i));
}

/* Every window result of every attempt: a job's collect result keeps only the rows of
 * its last attempt, so failover tests look at what the window operator emitted here. */
static win_rows tapped;
static pthread_mutex_t tap_mu = PTHREAD_MUTEX_INITIALIZER;

int ck_win_tap(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    pthread_mutex_lock(&tap_mu);
    win_push_row(&tapped, in);
    pthread_mutex_unlock(&tap_mu);
    atomic_fetch_add(&win_fired, 1);
    return eddy_rb_copy(out, in);
}

static int win_cmp(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    for (int i = 0; i < 5; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

static void win_print(const char *what, const int64_t w[5])
{
    fprintf(stderr, "  %s: key %lld [%lld, %lld) count %lld sum %lld\n", what, (long long)w[0],
            (long long)w[1], (long long)w[2], (long long)w[3], (long long)w[4]);
}

/*
 * The number of wrong windows in `got` (sorted in place): every window of an uninterrupted
 * run must be there with its count and sum, nothing else may be; as collect is not an
 * exactly-once sink, a window may come more than once after a restart, each time equal.
 * The expected windows come from a plain loop over the ids: per key, tumbling windows are
 * ts's bucket; a session goes on while the next ts is at most the last ts + gap (windows
 * that touch merge) and ends at the last ts + gap.
 */
static int wrong_windows(win_rows *got, bool session)
{
    win_rows want = {0};
    int64_t cur[WIN_KEYS][5] = {{0}};
    for (int64_t id = 0; id < WIN_N; id++) {
        int64_t k = id % WIN_KEYS, ts = win_ts(id, session), *c = cur[k];
        if (c[3] && (session ? ts > c[2] : ts >= c[2])) {
            win_push(&want, c);
            c[3] = 0;
        }
        if (!c[3]) {
            c[0] = k;
            c[1] = session ? ts : ts - ts % WIN_SIZE;
            c[4] = 0;
        }
        c[2] = session ? ts + WIN_GAP : c[1] + WIN_SIZE;
        c[3]++;
        c[4] += id;
    }
    for (int k = 0; k < WIN_KEYS; k++)
        if (cur[k][3]) win_push(&want, cur[k]);
    qsort(want.w, want.n, sizeof *want.w, win_cmp);
    qsort(got->w, got->n, sizeof *got->w, win_cmp);
    int bad = 0;
    size_t g = 0;
    for (size_t i = 0; i <= want.n; i++) {
        const int64_t *w = i < want.n ? want.w[i] : NULL;
        bool seen = false;
        /* before w (or at the end) come only windows that are not expected, or wrong */
        for (; g < got->n && (!w || win_cmp(got->w[g], w) < 0 || memcmp(got->w[g], w, 24) == 0);
             g++) {
            if (w && win_cmp(got->w[g], w) == 0) {
                seen = true;
            } else if (bad++ < 5) {
                win_print(w && memcmp(got->w[g], w, 24) == 0 ? "wrong" : "unexpected", got->w[g]);
                if (w && memcmp(got->w[g], w, 24) == 0) win_print("  expected", w);
            }
        }
        if (w && !seen && bad++ < 5) win_print("missing", w);
    }
    if (bad) fprintf(stderr, "  %d wrong of %zu windows (%zu emitted)\n", bad, want.n, got->n);
    free(want.w);
    return bad;
}

static eddy_result *win_job(eddy_env *env, const char *dir, bool session, int p,
                            const char *window_table)
{
    char end[32];
    snprintf(end, sizeof end, "%d", WIN_N - 1);
    eddy_env_use_manual_clock(env, 0);
    eddy_env_set(env, "log.level", getenv("CK_LOG") ? getenv("CK_LOG") : "OFF");
    eddy_env_set(env, "execution.checkpointing.interval", "1 s");
    eddy_env_set(env, "execution.checkpointing.dir", dir);
    if (window_table) eddy_env_set(env, "state.backend.heap.window-table", window_table);
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", end,
                                   "rows-per-second", "100000", NULL);
    eddy_uid(src, "gen");
    eddy_stream *kv = eddy_map(src, session ? EDDY_FN(ck_session_kv) : EDDY_FN(ck_tumbling_kv),
                               "k BIGINT, ts BIGINT, v BIGINT");
    eddy_uid(kv, "kv");
    kv = eddy_uid(eddy_assign_timestamps_and_watermarks(kv, eddy_monotonous_timestamps("ts")),
                  "wm");
    eddy_aggregate agg = {.acc_schema = "n BIGINT, s BIGINT",
                          .out_schema = WIN_SCHEMA,
                          .create = EDDY_FN(ck_win_create),
                          .add = EDDY_FN(ck_win_add),
                          .result = EDDY_FN(ck_win_result),
                          .merge = EDDY_FN(ck_win_merge)};
    eddy_window_assigner a = session ? eddy_event_time_session_windows(WIN_GAP)
                                     : eddy_tumbling_event_time_windows(WIN_SIZE, 0);
    eddy_stream *w = eddy_window_aggregate(eddy_window(eddy_key_by(kv, "k"), a), agg);
    eddy_uid(eddy_set_parallelism(w, p), "win");
    eddy_stream *t = eddy_map(w, EDDY_FN(ck_win_tap), WIN_SCHEMA);
    eddy_uid(eddy_set_parallelism(t, p), "tap");
    return eddy_collect(t);
}

static void tap_reset(void)
{
    pthread_mutex_lock(&tap_mu);
    free(tapped.w);
    tapped = (win_rows){0};
    pthread_mutex_unlock(&tap_mu);
}

/*
 * Failover: the job fails once mid-run and restarts from its latest checkpoint, which
 * holds the open windows (and, for sessions, the merged windows) of each key: every
 * window is emitted with exactly the contents of a run without the failure.
 */
static void check_window_failover(bool session)
{
    char dir[] = "/tmp/eddy_win_failover_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    tap_reset();
    atomic_store(&win_seen, 0);
    atomic_store(&fail_at, WIN_N * 6 / 10);
    eddy_env *env = eddy_env_new();
    win_job(env, dir, session, 2, NULL);
    eddy_env_set(env, "restart-strategy.type", "fixed-delay");
    eddy_env_set(env, "restart-strategy.fixed-delay.attempts", "3");
    eddy_env_set(env, "restart-strategy.fixed-delay.delay", "10 ms");
    eddy_env_set(env, "execution.checkpointing.interval", "200 ms");
    atomic_store(&ticking, true);
    pthread_t t;
    pthread_create(&t, NULL, tick, env);
    int rc = eddy_execute(env, "win failover");
    atomic_store(&ticking, false);
    pthread_join(t, NULL);
    ED_REQUIRE(rc == 0);
    ED_CHECK_INT(atomic_load(&fail_at), -1); /* the failure did happen */
    /* and the restart began at a checkpoint, not at the start */
    ED_CHECK(atomic_load(&win_seen) < WIN_N + WIN_N * 6 / 10);
    ED_CHECK_INT(wrong_windows(&tapped, session), 0);
    tap_reset();
    eddy_env_free(env);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

ED_TEST(tumbling_windows_fail_over_exactly) { check_window_failover(false); }
ED_TEST(session_windows_fail_over_exactly) { check_window_failover(true); }

/*
 * The job runs with its window operator at parallelism p1 (and the window table layout
 * table1) until its first checkpoint and is cancelled; started from that checkpoint at
 * parallelism p2 (layout table2), it emits the windows the first run had not fired when
 * the checkpoint was taken. Windows fired before it are not fired again, so the two
 * runs' outputs together must hold every window, exactly.
 */
static void check_window_restore(bool session, int p1, const char *table1, int p2,
                                 const char *table2)
{
    char dir[] = "/tmp/eddy_win_restore_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    atomic_store(&win_seen, 0);
    atomic_store(&win_fired, 0);
    eddy_env *a = eddy_env_new();
    eddy_result *first = win_job(a, dir, session, p1, table1);
    char chk[600];
    /* the checkpoint comes after the first windows fired (however slow the machine) */
    ED_REQUIRE(run_until_checkpoint_after(a, "win restore", dir, "win_restore", &win_seen,
                                          WIN_N / 5, &win_fired, chk, sizeof chk));
    ED_CHECK(atomic_load(&win_seen) < WIN_N); /* it really was interrupted */
    ED_CHECK(eddy_result_count(first) > 0);   /* after firing windows */

    eddy_env *b = eddy_env_new();
    eddy_result *second = win_job(b, dir, session, p2, table2);
    eddy_env_set(b, "execution.savepoint.path", chk);
    eddy_env_set(b, "execution.checkpointing.interval", "0");
    ED_REQUIRE(eddy_execute(b, "win restore") == 0);
    win_rows got = {0};
    win_push_result(&got, first);
    win_push_result(&got, second);
    ED_CHECK_INT(wrong_windows(&got, session), 0);
    free(got.w);
    eddy_env_free(a);
    eddy_env_free(b);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

ED_TEST(tumbling_windows_restore_at_another_parallelism)
{
    check_window_restore(false, 1, NULL, 2, NULL);
}
ED_TEST(session_windows_restore_at_another_parallelism)
{
    check_window_restore(true, 2, NULL, 1, NULL);
}

/* state.backend.heap.window-table picks the layout of window contents in the heap backend;
 * a checkpoint taken with either layout restores into the other. */
ED_TEST(tumbling_windows_restore_from_the_window_table_into_entries)
{
    check_window_restore(false, 2, "true", 2, "false");
}
ED_TEST(tumbling_windows_restore_from_entries_into_the_window_table)
{
    check_window_restore(false, 2, "false", 2, "true");
}
ED_TEST(session_windows_restore_from_the_window_table_into_entries)
{
    check_window_restore(true, 2, "true", 2, "false");
}
ED_TEST(session_windows_restore_from_entries_into_the_window_table)
{
    check_window_restore(true, 2, "false", 2, "true");
}

/* ---- sources restore at another parallelism ------------------------------------------------- */

/*
 * Every replayable source keeps its unfinished splits in a checkpoint, and a restore deals
 * the splits of all old subtasks out among the new ones: a job checkpointed at parallelism
 * p and started again at p' ends with exactly the per-key sums of an uninterrupted run.
 * While `held` is set, the keyed sum is slow, so that the sources are still mid-input when
 * the checkpoint is taken (backpressure holds them back).
 */
static atomic_bool held;

int ck_held_sum(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    if (atomic_load(&held) && atomic_load(&summed) % 32 == 0) nap(1);
    return ck_sum_kv(ctx, in, out);
}

/* Keys the rows of src by field "k" and sums field "v" (ck_held_sum), everything at
 * parallelism p, checkpointing to ckdir (checkpoint = true) and starting from `from`
 * when not NULL. */
static eddy_result *rescale_job(eddy_env *env, eddy_stream *src, int p, const char *ckdir,
                                bool checkpoint, const char *from)
{
    eddy_env_use_manual_clock(env, 0);
    eddy_env_set(env, "log.level", getenv("CK_LOG") ? getenv("CK_LOG") : "OFF");
    eddy_env_set_parallelism(env, p);
    eddy_env_set(env, "execution.checkpointing.interval", checkpoint ? "1 s" : "0");
    eddy_env_set(env, "execution.checkpointing.dir", ckdir);
    /* few records in flight: backpressure holds the sources back while `held` */
    eddy_env_set(env, "taskmanager.memory.segment-size", "4 kb");
    eddy_env_set(env, "taskmanager.network.memory.floating-buffers-per-gate", "1");
    if (from) eddy_env_set(env, "execution.savepoint.path", from);
    eddy_stream *sums = eddy_keyed_process(eddy_key_by(src, "k"), EDDY_FN(ck_held_sum),
                                           EDDY_FN_NONE, "k BIGINT, s BIGINT");
    eddy_uid(sums, "sum");
    return eddy_collect(sums);
}

typedef eddy_stream *(*source_fn)(eddy_env *env, const void *arg);

/*
 * Runs the job over source(env, arg) at parallelism p until its first checkpoint (into
 * <ckdir>/rescale/chk-1, which goes to chk), held, and cancels it there; starting from
 * `from` when not NULL. True when the checkpoint completed.
 */
static bool checkpoint_at(source_fn source, const void *arg, int p, const char *ckdir,
                          const char *from, char *chk, size_t cap)
{
    atomic_store(&summed, 0);
    atomic_store(&held, true);
    eddy_env *env = eddy_env_new();
    rescale_job(env, source(env, arg), p, ckdir, true, from);
    bool ok = run_until_checkpoint(env, "rescale", ckdir, "rescale", &summed, 2000, chk, cap);
    atomic_store(&held, false);
    eddy_env_free(env);
    if (!ok) fprintf(stderr, "  no checkpoint at parallelism %d in %s\n", p, ckdir);
    return ok;
}

/* Starts the job over source(env, arg) at parallelism p from chk, to its end: its result
 * (in *env, which the caller frees), or NULL when the job fails. */
static eddy_result *restore_at(source_fn source, const void *arg, int p, const char *chk,
                               eddy_env **env)
{
    *env = eddy_env_new();
    eddy_result *res = rescale_job(*env, source(*env, arg), p, "/nonexistent", false, chk);
    return eddy_execute(*env, "rescale") == 0 ? res : NULL;
}

/* The error of starting the job over source(env, arg) at parallelism p from chk ("" when
 * it ran). The caller frees it. */
static char *restore_error(source_fn source, const void *arg, int p, const char *chk)
{
    eddy_env *env;
    eddy_result *res = restore_at(source, arg, p, chk, &env);
    char *e = strdup(res ? "" : eddy_env_error(env));
    eddy_env_free(env);
    return e;
}

/* The number of keys whose final sum after restoring chk at parallelism p is not that of
 * an uninterrupted run (ids 0..n-1 summed per id % keys); -1 when the restore fails. */
static int wrong_after_restore(source_fn source, const void *arg, int p, const char *chk, int64_t n,
                               int keys)
{
    eddy_env *env;
    eddy_result *res = restore_at(source, arg, p, chk, &env);
    if (!res) fprintf(stderr, "  restoring at parallelism %d: %s\n", p, eddy_env_error(env));
    int bad = res ? wrong_sums(res, n, keys) : -1;
    if (bad) fprintf(stderr, "  after restoring at parallelism %d: %d keys wrong\n", p, bad);
    eddy_env_free(env);
    return bad;
}

enum { RS_N = 100000, RS_KEYS = 50 };

/* The CSV files (k, v) = (id % RS_KEYS, id) for ids 0..RS_N-1 of the directory arg. */
static eddy_stream *csv_source(eddy_env *env, const void *arg)
{
    return eddy_uid(eddy_source(env, "filesystem", "k BIGINT, v BIGINT", "path", (const char *)arg,
                                "format", "csv", NULL),
                    "file");
}

/* Writes ids [from, to) as "k,v" lines to dir/name. */
static void write_ids(const char *dir, const char *name, int64_t from, int64_t to)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    for (int64_t id = from; f && id < to; id++)
        fprintf(f, "%lld,%lld\n", (long long)(id % RS_KEYS), (long long)id);
    if (f) fclose(f);
}

/* Three files of different sizes (and a hidden one, not read) under <dir>/in. */
static void write_inputs(const char *dir, char *in, size_t cap)
{
    snprintf(in, cap, "%s/in", dir);
    mkdir(in, 0755);
    write_ids(in, "a.csv", 0, 12000);
    write_ids(in, "b.csv", 12000, 60000);
    write_ids(in, "c.csv", 60000, RS_N);
    write_ids(in, ".hidden.csv", 0, 10);
}

/*
 * The filesystem source's splits (byte ranges of files) checkpointed at parallelism 2
 * restore at 1, 2 and 4, and through a second checkpoint at 3 into 1; checkpointed at 1
 * they restore at 3, and at 4 - more subtasks than the 3 files' splits, so one is cut in
 * two: all 4 subtasks read, and the job checkpoints again - and from there at 2. Each time
 * every line is summed exactly once.
 */
ED_TEST(filesystem_source_restores_at_another_parallelism)
{
    char dir[] = "/tmp/eddy_fs_rescale_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    char in[600], ck[4][700], chk[4][800];
    write_inputs(dir, in, sizeof in);
    for (int i = 0; i < 4; i++)
        snprintf(ck[i], sizeof ck[i], "%s/ck%d", dir, i);

    ED_REQUIRE(checkpoint_at(csv_source, in, 2, ck[0], NULL, chk[0], sizeof chk[0]));
    ED_CHECK(atomic_load(&summed) < RS_N); /* interrupted mid-input */
    for (int p = 1; p <= 4; p *= 2)
        ED_CHECK_INT(wrong_after_restore(csv_source, in, p, chk[0], RS_N, RS_KEYS), 0);

    /* restored splits (some begun, some not) checkpoint again, at another parallelism */
    ED_REQUIRE(checkpoint_at(csv_source, in, 3, ck[1], chk[0], chk[1], sizeof chk[1]));
    ED_CHECK_INT(wrong_after_restore(csv_source, in, 1, chk[1], RS_N, RS_KEYS), 0);

    ED_REQUIRE(checkpoint_at(csv_source, in, 1, ck[2], NULL, chk[2], sizeof chk[2]));
    ED_CHECK_INT(wrong_after_restore(csv_source, in, 3, chk[2], RS_N, RS_KEYS), 0);
    ED_REQUIRE(checkpoint_at(csv_source, in, 4, ck[3], chk[2], chk[3], sizeof chk[3]));
    ED_CHECK_INT(wrong_after_restore(csv_source, in, 2, chk[3], RS_N, RS_KEYS), 0);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* Rewrites the own section of checkpoint file `path` (an operator state file) with
 * edit(bytes, len). */
static bool edit_own_state(const char *path, void (*edit)(uint8_t *p, size_t len))
{
    void *payload;
    size_t plen, len;
    ed_err e = {0};
    if (ed_ckpt_read(path, ED_CKPT_OPERATOR_STATE, &payload, &plen, &e)) {
        fprintf(stderr, "  %s\n", e.msg);
        return false;
    }
    uint8_t *own = (uint8_t *)section(payload, plen, 3, &len);
    if (own) edit(own, len);
    bool ok =
        own && ed_ckpt_write(ed_fs_default(), path, ED_CKPT_OPERATOR_STATE, payload, plen, &e) == 0;
    free(payload);
    return ok;
}

static void set_version_9(uint8_t *p, size_t len)
{
    p[0] = 9;
}

/* the first split of a filesystem state: its offset past its end */
static void offset_past_end(uint8_t *p, size_t len)
{
    int64_t end;
    memcpy(&end, p + 16 + 8, 8);
    end += 1;
    memcpy(p + 16, &end, 8);
}

/* A copy of checkpoint directory chk at dst. */
static void copy_dir(const char *chk, const char *dst)
{
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", chk, dst);
    if (system(cmd) != 0) fprintf(stderr, "  %s failed\n", cmd);
}

/*
 * A restore that does not fit the files or whose state is damaged fails with a message
 * that says what: a file not under path any more, a file changed since the checkpoint, a
 * state of an unknown format, a split that cannot be.
 */
ED_TEST(filesystem_source_refuses_other_files_and_bad_state)
{
    char dir[] = "/tmp/eddy_fs_refuse_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    char in[600], ck[700], chk[800], other[700], bad[820], file[900];
    write_inputs(dir, in, sizeof in);
    snprintf(ck, sizeof ck, "%s/ck", dir);
    ED_REQUIRE(checkpoint_at(csv_source, in, 2, ck, NULL, chk, sizeof chk));

    /* the same files under another directory */
    snprintf(other, sizeof other, "%s/other", dir);
    mkdir(other, 0755);
    write_ids(other, "c.csv", 60000, RS_N);
    char *err = restore_error(csv_source, other, 2, chk);
    ED_CHECK_CONTAINS(err, "filesystem: the checkpoint has a split of '");
    ED_CHECK_CONTAINS(err, "which is not a file of path '");
    free(err);

    /* a file grown since */
    snprintf(file, sizeof file, "%s/c.csv", in);
    FILE *f = fopen(file, "a");
    ED_REQUIRE(f);
    fputs("1,1\n", f);
    fclose(f);
    err = restore_error(csv_source, in, 2, chk);
    ED_CHECK_CONTAINS(err, "c.csv' has ");
    ED_CHECK_CONTAINS(err, " when the checkpoint was taken: it changed since");
    free(err);
    write_ids(in, "c.csv", 60000, RS_N);

    /* damaged state (framed and checksummed anew, so that storage does not catch it); a
     * sibling of the checkpoint, so that it shares its incremental state's files */
    snprintf(bad, sizeof bad, "%s-bad", chk);
    copy_dir(chk, bad);
    snprintf(file, sizeof file, "%s/file-1", bad);
    ED_REQUIRE(edit_own_state(file, set_version_9));
    err = restore_error(csv_source, in, 3, bad);
    ED_CHECK_CONTAINS(err, "restoring operator 'Source: filesystem' (subtask ");
    ED_CHECK_CONTAINS(err, "/3): filesystem: the state of subtask 2/2 has format version 9, not 2");
    free(err);
    ed_err e = {0};
    ed_remove_tree(bad, &e);
    copy_dir(chk, bad);
    snprintf(file, sizeof file, "%s/file-0", bad);
    ED_REQUIRE(edit_own_state(file, offset_past_end));
    err = restore_error(csv_source, in, 1, bad);
    ED_CHECK_CONTAINS(err, "filesystem: split 1 of subtask 1/2 is malformed (offset ");
    free(err);

    /* line numbers stay exact across a restore: a bad last line, read after it */
    snprintf(file, sizeof file, "%s/c.csv", in);
    f = fopen(file, "a");
    ED_REQUIRE(f);
    fputs("7,oops\n", f);
    fclose(f);
    snprintf(ck, sizeof ck, "%s/ck2", dir);
    ED_REQUIRE(checkpoint_at(csv_source, in, 2, ck, NULL, chk, sizeof chk));
    err = restore_error(csv_source, in, 3, chk);
    char want[1000];
    snprintf(want, sizeof want, "%s:%d: field 2 (v): 'oops' is not a BIGINT", file,
             RS_N - 60000 + 1);
    ED_CHECK_CONTAINS(err, want);
    free(err);
    ed_remove_tree(dir, &e);
}

/* ---- datagen: splits of sequences and generators ---------------------------------------- */

/* The options of the datagen source of dg_source: the sequence's end and number-of-rows. */
typedef struct dg_opts {
    const char *end, *rows;
} dg_opts;

static const dg_opts dg_default = {"99999", NULL};

/* (id, r) -> (k, v) = (id % RS_KEYS, id * 1000 + r): a sum of v per key is wrong when an id
 * is missing or repeated or a random r differs from an uninterrupted run's */
int ck_dg_kv(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    int64_t id = eddy_row_i64(in, 0);
    eddy_rb_set_i64(out, 0, id % RS_KEYS);
    eddy_rb_set_i64(out, 1, id * 1000 + eddy_row_i32(in, 1));
    return 0;
}

/* A sequence id 0..end and a seeded random r in [0, 999], as (k, v) by ck_dg_kv. */
static eddy_stream *dg_source(eddy_env *env, const void *arg)
{
    const dg_opts *o = arg;
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT, r INT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", o->end, "fields.r.min",
                                   "0", "fields.r.max", "999", "seed", "7", "rows-per-second", "0",
                                   o->rows ? "number-of-rows" : NULL, o->rows, NULL);
    eddy_uid(src, "gen");
    return eddy_uid(eddy_map(src, EDDY_FN(ck_dg_kv), "k BIGINT, v BIGINT"), "kv");
}

/* The final sum of each key 0..RS_KEYS-1 in res (sums only grow), -1 for a key not seen. */
static void final_sums(const eddy_result *res, int64_t sums[RS_KEYS])
{
    for (int k = 0; k < RS_KEYS; k++)
        sums[k] = -1;
    for (size_t i = 0; i < eddy_result_count(res); i++) {
        const eddy_row *row = eddy_result_row(res, i);
        int64_t k = eddy_row_i64(row, 0), v = eddy_row_i64(row, 1);
        if (k >= 0 && k < RS_KEYS && v > sums[k]) sums[k] = v;
    }
}

/* The number of keys whose final sum after restoring chk at parallelism p is not want's. */
static int dg_wrong_after_restore(int p, const char *chk, const int64_t want[RS_KEYS])
{
    eddy_env *env;
    eddy_result *res = restore_at(dg_source, &dg_default, p, chk, &env);
    int bad = 0;
    int64_t got[RS_KEYS];
    if (res) {
        final_sums(res, got);
        for (int k = 0; k < RS_KEYS; k++)
            if (got[k] != want[k] && bad++ < 3)
                fprintf(stderr, "  parallelism %d: key %d: sum %lld, uninterrupted %lld\n", p, k,
                        (long long)got[k], (long long)want[k]);
    } else {
        fprintf(stderr, "  restoring at parallelism %d: %s\n", p, eddy_env_error(env));
        bad = -1;
    }
    eddy_env_free(env);
    return bad;
}

/*
 * datagen's splits (a share of the sequence with its own random generator each)
 * checkpointed at parallelism 2 restore at 1 and 4, and through a second checkpoint at 1
 * into 4; checkpointed at 1 they restore at 3. Every time, the per-key sums of id and of
 * the random field are exactly those of an uninterrupted run at parallelism 2: no id
 * missing or repeated, and each split's random values are the same whoever reads it.
 */
ED_TEST(datagen_restores_at_another_parallelism)
{
    char dir[] = "/tmp/eddy_dg_rescale_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    char ck[3][700], chk[3][800];
    for (int i = 0; i < 3; i++)
        snprintf(ck[i], sizeof ck[i], "%s/ck%d", dir, i);

    /* the uninterrupted run, at parallelism 2 (random values depend on the splits) */
    int64_t want[RS_KEYS], want1[RS_KEYS];
    eddy_env *env = eddy_env_new();
    eddy_result *res = rescale_job(env, dg_source(env, &dg_default), 2, ck[0], false, NULL);
    ED_REQUIRE(eddy_execute(env, "rescale") == 0);
    final_sums(res, want);
    eddy_env_free(env);
    int64_t ids = 0;
    for (int k = 0; k < RS_KEYS; k++)
        ids += want[k] / 1000;
    ED_CHECK(ids > 0);

    ED_REQUIRE(checkpoint_at(dg_source, &dg_default, 2, ck[0], NULL, chk[0], sizeof chk[0]));
    ED_CHECK(atomic_load(&summed) < RS_N); /* interrupted mid-input */
    ED_CHECK_INT(dg_wrong_after_restore(1, chk[0], want), 0);
    ED_CHECK_INT(dg_wrong_after_restore(4, chk[0], want), 0);
    /* both splits in one subtask, the second not begun, checkpoint again */
    ED_REQUIRE(checkpoint_at(dg_source, &dg_default, 1, ck[1], chk[0], chk[1], sizeof chk[1]));
    ED_CHECK_INT(dg_wrong_after_restore(4, chk[1], want), 0);

    /* from parallelism 1: one split, which an uninterrupted run at 1 has too */
    env = eddy_env_new();
    res = rescale_job(env, dg_source(env, &dg_default), 1, ck[2], false, NULL);
    ED_REQUIRE(eddy_execute(env, "rescale") == 0);
    final_sums(res, want1);
    eddy_env_free(env);
    ED_REQUIRE(checkpoint_at(dg_source, &dg_default, 1, ck[2], NULL, chk[2], sizeof chk[2]));
    ED_CHECK_INT(dg_wrong_after_restore(3, chk[2], want1), 0);

    /* state that does not fit this source is refused, naming what differs */
    dg_opts longer = {"199999", NULL}, rows = {"99999", "5"};
    char *err = restore_error(dg_source, &longer, 2, chk[0]);
    ED_CHECK_CONTAINS(err, "datagen: field 'id' was a sequence [0, 99999] of BIGINT at the "
                           "checkpoint and is a sequence [0, 199999] of BIGINT now");
    free(err);
    err = restore_error(dg_source, &rows, 2, chk[0]);
    ED_CHECK_CONTAINS(err, "datagen: number-of-rows was unset at the checkpoint and is 5 now");
    free(err);
    /* a damaged copy beside the checkpoint (where the shared files of incremental RocksDB
     * checkpoints are found too) */
    char bad[800], file[900];
    snprintf(bad, sizeof bad, "%s", chk[0]);
    char *slash = strrchr(bad, '/');
    ED_REQUIRE(slash);
    snprintf(slash, sizeof bad - (size_t)(slash - bad), "/chk-damaged");
    copy_dir(chk[0], bad);
    snprintf(file, sizeof file, "%s/gen-0", bad);
    ED_REQUIRE(edit_own_state(file, set_version_9));
    err = restore_error(dg_source, &dg_default, 4, bad);
    ED_CHECK_CONTAINS(err, "restoring operator 'Source: datagen' (subtask ");
    ED_CHECK_CONTAINS(err, "/4): datagen: the state of subtask 1/2 has format version 9, not 2");
    free(err);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* ---- unbounded datagen: new subtasks get splits of their own ---------------------------- */

static atomic_long tagged[4]; /* rows per subtask through ck_tag */

/* v -> (subtask, v) */
int ck_tag(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    int sub = eddy_ctx_subtask(ctx);
    eddy_rb_set_i64(out, 0, sub);
    eddy_rb_set_field(out, 1, in, 0);
    if (sub >= 0 && sub < 4) atomic_fetch_add(&tagged[sub], 1);
    atomic_fetch_add(&summed, 1);
    return 0;
}

static eddy_result *tag_job(eddy_env *env, int p, const char *ckdir, const char *from,
                            const char *rows)
{
    eddy_env_use_manual_clock(env, 0);
    eddy_env_set(env, "log.level", getenv("CK_LOG") ? getenv("CK_LOG") : "OFF");
    eddy_env_set_parallelism(env, p);
    eddy_env_set(env, "execution.checkpointing.interval", from || rows ? "0" : "1 s");
    eddy_env_set(env, "execution.checkpointing.dir", ckdir);
    if (from) eddy_env_set(env, "execution.savepoint.path", from);
    eddy_stream *src = eddy_source(env, "datagen", "v BIGINT", "seed", "3", "rows-per-second",
                                   rows ? "0" : "3000", rows ? "number-of-rows" : NULL, rows, NULL);
    eddy_uid(src, "gen");
    return eddy_collect(eddy_map(src, EDDY_FN(ck_tag), "sub BIGINT, v BIGINT"));
}

/* The values of subtask sub's rows in res, in order, up to n of them; how many. */
static size_t values_of(const eddy_result *res, int sub, int64_t *v, size_t n)
{
    size_t got = 0;
    for (size_t i = 0; i < eddy_result_count(res) && got < n; i++) {
        const eddy_row *row = eddy_result_row(res, i);
        if (eddy_row_i64(row, 0) == sub) v[got++] = eddy_row_i64(row, 1);
    }
    return got;
}

/*
 * An unbounded datagen (no sequence, no number-of-rows) checkpointed at parallelism 1
 * and restored at 3: its one split goes to subtask 1, and subtasks 2 and 3 get splits of
 * their own rather than ending (which would stop the job's checkpoints). A new split i
 * generates what subtask i of a fresh run does with the same seed.
 */
ED_TEST(unbounded_datagen_gives_new_subtasks_splits_of_their_own)
{
    enum { ROWS = 20 };
    char dir[] = "/tmp/eddy_dg_unbounded_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    char chk[800];
    atomic_store(&summed, 0);
    eddy_env *a = eddy_env_new();
    tag_job(a, 1, dir, NULL, NULL);
    ED_REQUIRE(run_until_checkpoint(a, "rescale", dir, "rescale", &summed, 10, chk, sizeof chk));
    eddy_env_free(a);

    for (int i = 0; i < 4; i++)
        atomic_store(&tagged[i], 0);
    eddy_env *b = eddy_env_new();
    eddy_result *res = tag_job(b, 3, "/nonexistent", chk, NULL);
    job_run r = {.env = b, .name = "rescale"};
    pthread_create(&r.thread, NULL, run_job, &r);
    for (int i = 0; i < 2000; i++) {
        if (atomic_load(&tagged[0]) >= ROWS && atomic_load(&tagged[1]) >= ROWS &&
            atomic_load(&tagged[2]) >= ROWS)
            break;
        nap(2);
    }
    eddy_env_cancel(b);
    pthread_join(r.thread, NULL);

    eddy_env *c = eddy_env_new();
    eddy_result *fresh = tag_job(c, 3, dir, NULL, "60"); /* ROWS per subtask */
    ED_REQUIRE(eddy_execute(c, "fresh") == 0);
    for (int sub = 0; sub < 3; sub++) {
        int64_t got[ROWS], want[ROWS];
        ED_CHECK_INT(values_of(res, sub, got, ROWS), ROWS);
        ED_CHECK_INT(values_of(fresh, sub, want, ROWS), ROWS);
        if (sub > 0)
            ED_CHECK(memcmp(got, want, sizeof got) == 0);
        else
            ED_CHECK(memcmp(got, want, sizeof got) != 0); /* split 1 goes on where it was */
    }
    eddy_env_free(b);
    eddy_env_free(c);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* ---- the collection source ------------------------------------------------------------------ */

/* Rows (k, v) = (id % RS_KEYS, id) for ids 0..RS_N-1, from the program. */
static eddy_stream *rows_source(eddy_env *env, const void *arg)
{
    eddy_row_builder *b = eddy_rb_new(2);
    const eddy_row **rows = calloc(RS_N, sizeof *rows);
    for (int64_t id = 0; id < RS_N; id++) {
        eddy_rb_reset(b);
        eddy_rb_set_i64(b, 0, id % RS_KEYS);
        eddy_rb_set_i64(b, 1, id);
        const eddy_row *row = eddy_rb_row(b);
        void *copy = malloc(eddy_row_size(row));
        memcpy(copy, row, eddy_row_size(row));
        rows[id] = copy;
    }
    eddy_stream *s = eddy_from_rows(env, "k BIGINT, v BIGINT", rows, RS_N);
    for (int64_t id = 0; id < RS_N; id++)
        free((void *)rows[id]);
    free(rows);
    eddy_rb_free(b);
    return eddy_uid(s, "rows");
}

/*
 * The collection source runs at parallelism 1 whatever the job's is; its offset restores
 * when the rest of the job changes parallelism, 2 -> 1 and 2 -> 4.
 */
ED_TEST(collection_source_restores_under_another_parallelism)
{
    char dir[] = "/tmp/eddy_coll_rescale_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    char chk[800];
    ED_REQUIRE(checkpoint_at(rows_source, NULL, 2, dir, NULL, chk, sizeof chk));
    ED_CHECK(atomic_load(&summed) < RS_N); /* interrupted mid-input */
    ED_CHECK_INT(wrong_after_restore(rows_source, NULL, 1, chk, RS_N, RS_KEYS), 0);
    ED_CHECK_INT(wrong_after_restore(rows_source, NULL, 4, chk, RS_N, RS_KEYS), 0);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* ---- unaligned checkpoints -------------------------------------------------------------------- */

static atomic_long sunk; /* records through the slow sink */
static atomic_long sink_delay_us, sink_debt;

/* A sink that takes sink_delay_us per record. */
int ua_slow_sink(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    slow_down(&sink_debt, atomic_load_explicit(&sink_delay_us, memory_order_relaxed));
    atomic_fetch_add(&sunk, 1);
    return eddy_rb_copy(out, in);
}

/* The bytes of in-flight data checkpoint chk holds ("channels" entries of its _metadata),
 * or -1 when it cannot be read. */
static long long inflight_bytes(const char *chk)
{
    char meta[900];
    snprintf(meta, sizeof meta, "%s/_metadata", chk);
    void *m;
    size_t len;
    ed_err e = {0};
    if (ed_ckpt_read(meta, ED_CKPT_METADATA, &m, &len, &e)) return -1;
    char *text = strndup(m, len);
    free(m);
    long long total = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char key[256], file[300];
        int sub, par;
        size_t bytes;
        if (sscanf(line, "channels %255s %d %d %299s %zu", key, &sub, &par, file, &bytes) == 5)
            total += (long long)bytes;
    }
    free(text);
    return total;
}

enum { UA_BP_SINK_US = 200 }; /* the backpressured job's sink: microseconds per record */

/* How the backpressured job checkpoints: NULL leaves the default. */
typedef struct ua_opts {
    const char *unaligned, *timeout, *mode, *floating;
} ua_opts;

/* ids 0.. -> (id % 50, id) -> keyed running sum (parallelism 2) -> slow sink (1) */
static void ua_backpressure_job(eddy_env *env, const char *dir, ua_opts o)
{
    eddy_env_set(env, "log.level", getenv("CK_LOG") ? getenv("CK_LOG") : "OFF");
    eddy_env_set(env, "execution.checkpointing.interval", "500 ms");
    eddy_env_set(env, "execution.checkpointing.dir", dir);
    if (o.unaligned) eddy_env_set(env, "execution.checkpointing.unaligned", o.unaligned);
    if (o.timeout)
        eddy_env_set(env, "execution.checkpointing.aligned-checkpoint-timeout", o.timeout);
    if (o.mode) eddy_env_set(env, "execution.checkpointing.mode", o.mode);
    /* deep queues of small buffers, a sink far slower than the rest (also under
     * sanitizers): an aligned barrier waits behind every queued buffer, an unaligned one
     * behind about one per task */
    eddy_env_set(env, "taskmanager.memory.segment-size", "4 kb");
    eddy_env_set(env, "taskmanager.network.memory.floating-buffers-per-gate",
                 o.floating ? o.floating : "30");
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", "100000000",
                                   "rows-per-second", "0", NULL);
    eddy_uid(src, "gen");
    eddy_stream *kv = eddy_uid(eddy_map(src, EDDY_FN(ck_key_value), "k BIGINT, v BIGINT"), "kv");
    eddy_stream *sums = eddy_keyed_process(eddy_key_by(kv, "k"), EDDY_FN(ck_sum_kv),
                                           EDDY_FN_NONE, "k BIGINT, s BIGINT");
    eddy_uid(eddy_set_parallelism(sums, 2), "sum");
    eddy_stream *out = eddy_map(eddy_rebalance(sums), EDDY_FN(ua_slow_sink), "k BIGINT, s BIGINT");
    eddy_discard(eddy_uid(eddy_set_parallelism(out, 1), "sink"));
}

/* Runs the job of env until checkpoint 1 of <dir>/bp completes: the milliseconds from
 * its trigger (its directory made) to its _metadata, or -1 when it did not complete. */
static long checkpoint_1_ms(eddy_env *env, const char *dir, char *chk, size_t cap)
{
    job_run r = {.env = env, .name = "bp"};
    pthread_create(&r.thread, NULL, run_job, &r);
    char meta[1000];
    snprintf(chk, cap, "%s/bp/chk-1", dir);
    snprintf(meta, sizeof meta, "%s/_metadata", chk);
    int64_t start = 0, end = 0;
    for (int i = 0; i < 60000 && !end; i++) {
        if (!start && exists(chk)) start = ed_mono_ns();
        if (start && exists(meta)) end = ed_mono_ns();
        if (!end) usleep(500);
    }
    eddy_env_cancel(env);
    pthread_join(r.thread, NULL);
    return end ? (long)((end - start) / 1000000) : -1;
}

/*
 * Under backpressure (a slow sink, deep buffer queues) an aligned checkpoint's barriers
 * wait behind every queued buffer; unaligned ones overtake them and the checkpoint holds
 * the data they overtook: it completes many times sooner.
 */
ED_TEST(unaligned_checkpoint_completes_under_backpressure)
{
    char dir[] = "/tmp/eddy_ua_bp_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    long ms[2];
    long long inflight[2];
    for (int unaligned = 0; unaligned < 2; unaligned++) {
        char sub[600], chk[800];
        snprintf(sub, sizeof sub, "%s/%d", dir, unaligned);
        atomic_store(&sink_delay_us, UA_BP_SINK_US);
        atomic_store(&sunk, 0);
        eddy_env *env = eddy_env_new();
        ua_backpressure_job(env, sub, (ua_opts){.unaligned = unaligned ? "true" : "false"});
        ms[unaligned] = checkpoint_1_ms(env, sub, chk, sizeof chk);
        inflight[unaligned] = inflight_bytes(chk);
        eddy_env_free(env);
        fprintf(stderr, "  %s checkpoint under backpressure: %ld ms, %lld bytes in flight\n",
                unaligned ? "unaligned" : "aligned", ms[unaligned], inflight[unaligned]);
    }
    atomic_store(&sink_delay_us, 0);
    ED_CHECK(ms[0] > 0 && ms[1] >= 0);
    ED_CHECK_INT(inflight[0], 0);
    ED_CHECK(inflight[1] > 100000); /* the queued buffers */
    if (!(ms[1] * 4 < ms[0]))
        ED_FAIL_AT("unaligned: %ld ms, aligned: %ld ms; expected at least 4 times sooner", ms[1],
                   ms[0]);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* Checkpoint 1 of the backpressured job with options o: its milliseconds and in-flight
 * bytes. */
static long ua_checkpoint_1(const char *dir, const char *sub, ua_opts o, long long *inflight)
{
    char path[600], chk[800];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    atomic_store(&sink_delay_us, UA_BP_SINK_US);
    eddy_env *env = eddy_env_new();
    ua_backpressure_job(env, path, o);
    long ms = checkpoint_1_ms(env, path, chk, sizeof chk);
    *inflight = inflight_bytes(chk);
    eddy_env_free(env);
    atomic_store(&sink_delay_us, 0);
    return ms;
}

/*
 * execution.checkpointing.aligned-checkpoint-timeout: the checkpoint starts aligned and
 * goes unaligned once it is that old - it completes soon after, with in-flight data. As
 * in Flink, unaligned checkpoints are for EXACTLY_ONCE: AT_LEAST_ONCE ignores the option.
 */
ED_TEST(aligned_checkpoint_timeout_and_at_least_once)
{
    char dir[] = "/tmp/eddy_ua_timeout_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    long long inflight;
    long ms = ua_checkpoint_1(dir, "timeout", (ua_opts){"true", "400 ms", NULL, NULL}, &inflight);
    fprintf(stderr, "  aligned-checkpoint-timeout 400 ms: %ld ms, %lld bytes in flight\n", ms,
            inflight);
    ED_CHECK(ms >= 350); /* aligned for 400 ms from its trigger (a 1 ms poll either side) */
    if (!(ms < 1200)) ED_FAIL_AT("it took %ld ms", ms); /* aligned, it takes about 2900 */
    ED_CHECK(inflight > 0);
    ms = ua_checkpoint_1(dir, "alo", (ua_opts){"true", NULL, "AT_LEAST_ONCE", "10"}, &inflight);
    ED_CHECK(ms > 0);
    ED_CHECK_INT(inflight, 0);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* ids 0..n-1 -> (id % 50, id) -> keyed running sum (parallelism p) -> slow sink (1),
 * collected; unaligned checkpoints every second of the manual clock. */
static eddy_result *ua_sum_job(eddy_env *env, const char *dir, int p, int64_t n)
{
    char end[32];
    snprintf(end, sizeof end, "%lld", (long long)n - 1);
    eddy_env_use_manual_clock(env, 0);
    eddy_env_set(env, "log.level", getenv("CK_LOG") ? getenv("CK_LOG") : "OFF");
    eddy_env_set(env, "execution.checkpointing.interval", "1 s");
    eddy_env_set(env, "execution.checkpointing.dir", dir);
    eddy_env_set(env, "execution.checkpointing.unaligned", "true");
    eddy_env_set(env, "taskmanager.memory.segment-size", "8 kb");
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", end,
                                   "rows-per-second", "0", NULL);
    eddy_uid(src, "gen");
    eddy_stream *kv = eddy_uid(eddy_map(src, EDDY_FN(ck_key_value), "k BIGINT, v BIGINT"), "kv");
    eddy_stream *sums = eddy_keyed_process(eddy_key_by(kv, "k"), EDDY_FN(ck_sum_kv),
                                           EDDY_FN_NONE, "k BIGINT, s BIGINT");
    eddy_uid(eddy_set_parallelism(sums, p), "sum");
    eddy_stream *out = eddy_map(eddy_rebalance(sums), EDDY_FN(ua_slow_sink), "k BIGINT, s BIGINT");
    return eddy_collect(eddy_uid(eddy_set_parallelism(out, 1), "sink"));
}

/*
 * A job killed mid-run under backpressure is started again from its unaligned checkpoint,
 * which holds in-flight data: the data is replayed before the channels are read, and the
 * per-key sums are exactly those of an uninterrupted run. In-flight data does not restore
 * at another parallelism: that is refused, saying why.
 */
ED_TEST(unaligned_checkpoint_restores_exactly)
{
    enum { N = 200000, KEYS = 50 };
    char dir[] = "/tmp/eddy_ua_restore_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    atomic_store(&summed, 0);
    atomic_store(&sink_delay_us, 20);
    eddy_env *a = eddy_env_new();
    ua_sum_job(a, dir, 2, N);
    char chk[600];
    bool ok =
        run_until_checkpoint(a, "ua restore", dir, "ua_restore", &summed, 5000, chk, sizeof chk);
    eddy_env_free(a);
    atomic_store(&sink_delay_us, 0);
    ED_REQUIRE(ok);
    ED_CHECK(atomic_load(&summed) < N); /* it really was interrupted */
    long long bytes = inflight_bytes(chk);
    if (bytes <= 0) ED_FAIL_AT("the checkpoint holds %lld bytes of in-flight data", bytes);

    eddy_env *b = eddy_env_new();
    eddy_result *res = ua_sum_job(b, dir, 2, N);
    eddy_env_set(b, "execution.savepoint.path", chk);
    eddy_env_set(b, "execution.checkpointing.interval", "0");
    ED_REQUIRE(eddy_execute(b, "ua restore") == 0);
    ED_CHECK_INT(wrong_sums(res, N, KEYS), 0);
    eddy_env_free(b);

    eddy_env *c = eddy_env_new();
    ua_sum_job(c, dir, 3, N);
    eddy_env_set(c, "execution.savepoint.path", chk);
    eddy_env_set(c, "execution.checkpointing.interval", "0");
    ED_CHECK_INT(eddy_execute(c, "ua restore"), -1);
    ED_CHECK_CONTAINS(eddy_env_error(c), "it is an unaligned checkpoint with in-flight data");
    ED_CHECK_CONTAINS(eddy_env_error(c), "in-flight data is not redistributed");
    eddy_env_free(c);

    /* damaged in-flight data is refused, naming the file and what is wrong: an element of
     * an unknown kind (framed anew, so that storage does not catch it) */
    char bad[700], file[900];
    snprintf(bad, sizeof bad, "%s/bad", dir);
    copy_dir(chk, bad);
    snprintf(file, sizeof file, "%s/sink-channels-0", bad);
    void *data;
    size_t len;
    ed_err e = {0};
    ED_REQUIRE(ed_ckpt_read(file, ED_CKPT_CHANNEL_STATE, &data, &len, &e) == 0);
    uint8_t *p = data;
    uint32_t nlen;
    memcpy(&nlen, p + 8 + 16, 4);
    size_t first = 8 + 24 + ED_ALIGN8(nlen) + 8 + 8; /* the first element of the first channel */
    ED_REQUIRE(first + 8 <= len);
    p[first + 3] = 9; /* its tag */
    ED_REQUIRE(ed_ckpt_write(ed_fs_default(), file, ED_CKPT_CHANNEL_STATE, data, len, &e) == 0);
    free(data);
    eddy_env *d = eddy_env_new();
    ua_sum_job(d, dir, 2, N);
    eddy_env_set(d, "execution.savepoint.path", bad);
    eddy_env_set(d, "execution.checkpointing.interval", "0");
    ED_CHECK_INT(eddy_execute(d, "ua restore"), -1);
    ED_CHECK_CONTAINS(eddy_env_error(d), "/sink-channels-0: in-flight data of task 'Map -> Sink: "
                                         "Collect (1/1)': an element of kind 9 has no place in "
                                         "in-flight data");
    eddy_env_free(d);
    ed_remove_tree(dir, &e);
}

/* Failures injected at random ids (each once, in order), and what the latest checkpoint
 * held when each happened. */
static char ua_root[700];
static long ua_fail_ids[3];
static atomic_int ua_failures, ua_with_inflight;

static void ua_on_failure(void)
{
    char latest[4096];
    if (ed_ckpt_latest_below(ua_root, INT64_MAX, latest, sizeof latest) &&
        inflight_bytes(latest) > 0)
        atomic_fetch_add(&ua_with_inflight, 1);
    int k = atomic_fetch_add(&ua_failures, 1) + 1;
    if (k < (int)ED_ARRAY_LEN(ua_fail_ids)) atomic_store(&fail_at, ua_fail_ids[k]);
}

/* Arms ED_ARRAY_LEN(ua_fail_ids) failures at random ids in [n/10, 9n/10), in order. */
static unsigned ua_arm_failures(long n, const char *root)
{
    unsigned seed = getenv("UA_SEED") ? (unsigned)atoi(getenv("UA_SEED"))
                                      : (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    for (size_t i = 0; i < ED_ARRAY_LEN(ua_fail_ids); i++)
        ua_fail_ids[i] = n / 10 + (long)(((double)rand() / RAND_MAX) * (double)(n * 8 / 10));
    for (size_t i = 1; i < ED_ARRAY_LEN(ua_fail_ids); i++) /* sorted, distinct */
        for (size_t j = i; j > 0 && ua_fail_ids[j] <= ua_fail_ids[j - 1]; j--) {
            long x = ua_fail_ids[j - 1];
            ua_fail_ids[j - 1] = ua_fail_ids[j];
            ua_fail_ids[j] = x + 1;
        }
    snprintf(ua_root, sizeof ua_root, "%s", root);
    atomic_store(&ua_failures, 0);
    atomic_store(&ua_with_inflight, 0);
    injected_failure_hook = ua_on_failure;
    atomic_store(&fail_at, ua_fail_ids[0]);
    return seed;
}

static void ua_failover_settings(eddy_env *env)
{
    eddy_env_set(env, "execution.checkpointing.unaligned", "true");
    eddy_env_set(env, "execution.checkpointing.interval", "200 ms");
    /* two at once: a task may see the next barrier before the current one is complete */
    eddy_env_set(env, "execution.checkpointing.max-concurrent-checkpoints", "2");
    eddy_env_set(env, "execution.checkpointing.num-retained", "3");
    eddy_env_set(env, "restart-strategy.type", "fixed-delay");
    eddy_env_set(env, "restart-strategy.fixed-delay.attempts", "5");
    eddy_env_set(env, "restart-strategy.fixed-delay.delay", "10 ms");
}

/* Runs env's job, named name, with the clock ticking: its rc. */
static int run_ticking(eddy_env *env, const char *name)
{
    atomic_store(&ticking, true);
    pthread_t t;
    pthread_create(&t, NULL, tick, env);
    int rc = eddy_execute(env, name);
    atomic_store(&ticking, false);
    pthread_join(t, NULL);
    return rc;
}

/*
 * Failover with unaligned checkpoints: the job fails three times, at random ids, while it
 * is backpressured, and restarts each time from its latest checkpoint, in-flight data and
 * all: the final per-key sums are exactly those of a run without failures.
 */
ED_TEST(unaligned_checkpoints_fail_over_exactly)
{
    enum { N = 200000, KEYS = 50 };
    char dir[] = "/tmp/eddy_ua_failover_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    char root[700];
    snprintf(root, sizeof root, "%s/ua_failover", dir);
    unsigned seed = ua_arm_failures(N, root);
    atomic_store(&sink_delay_us, 3);
    eddy_env *env = eddy_env_new();
    eddy_result *res = ua_sum_job(env, dir, 2, N);
    ua_failover_settings(env);
    int rc = run_ticking(env, "ua failover");
    injected_failure_hook = NULL;
    atomic_store(&sink_delay_us, 0);
    if (rc || atomic_load(&ua_failures) != 3 || wrong_sums(res, N, KEYS) ||
        !atomic_load(&ua_with_inflight))
        ED_FAIL_AT("seed %u (UA_SEED), failures at %ld, %ld, %ld: rc %d, %d failures, %d with "
                   "in-flight data, %d keys wrong", seed, ua_fail_ids[0], ua_fail_ids[1],
                   ua_fail_ids[2], rc, atomic_load(&ua_failures), atomic_load(&ua_with_inflight),
                   wrong_sums(res, N, KEYS));
    atomic_store(&fail_at, -1);
    eddy_env_free(env);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* The same for event-time windows: every window exactly as without failures. */
static void check_window_failover_unaligned(bool session)
{
    char dir[] = "/tmp/eddy_ua_win_failover_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    char root[700];
    snprintf(root, sizeof root, "%s/ua_win_failover", dir);
    tap_reset();
    unsigned seed = ua_arm_failures(WIN_N, root);
    atomic_store(&win_add_delay_us, 15); /* slower than the source: its input backs up */
    eddy_env *env = eddy_env_new();
    win_job(env, dir, session, 2, NULL);
    ua_failover_settings(env);
    eddy_env_set(env, "taskmanager.memory.segment-size", "8 kb");
    int rc = run_ticking(env, "ua win failover");
    injected_failure_hook = NULL;
    atomic_store(&win_add_delay_us, 0);
    int wrong = rc ? -1 : wrong_windows(&tapped, session);
    if (wrong || atomic_load(&ua_failures) != 3 || !atomic_load(&ua_with_inflight))
        ED_FAIL_AT("seed %u (UA_SEED), failures at %ld, %ld, %ld: rc %d, %d failures, %d with "
                   "in-flight data, %d windows wrong", seed, ua_fail_ids[0], ua_fail_ids[1],
                   ua_fail_ids[2], rc, atomic_load(&ua_failures), atomic_load(&ua_with_inflight),
                   wrong);
    atomic_store(&fail_at, -1);
    tap_reset();
    eddy_env_free(env);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

ED_TEST(tumbling_windows_fail_over_exactly_unaligned) { check_window_failover_unaligned(false); }
ED_TEST(session_windows_fail_over_exactly_unaligned) { check_window_failover_unaligned(true); }

/*
 * Windows from an unaligned checkpoint of a job killed mid-run: the first run's windows and
 * the restored run's together are every window, exactly.
 */
ED_TEST(windows_restore_exactly_from_an_unaligned_checkpoint)
{
    char dir[] = "/tmp/eddy_ua_win_restore_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    atomic_store(&win_seen, 0);
    atomic_store(&win_add_delay_us, 15);
    eddy_env *a = eddy_env_new();
    eddy_result *first = win_job(a, dir, false, 2, NULL);
    eddy_env_set(a, "execution.checkpointing.unaligned", "true");
    eddy_env_set(a, "taskmanager.memory.segment-size", "8 kb");
    char chk[600];
    bool ok = run_until_checkpoint(a, "ua win restore", dir, "ua_win_restore", &win_seen,
                                   WIN_N / 5, chk, sizeof chk);
    atomic_store(&win_add_delay_us, 0);
    ED_REQUIRE(ok);
    ED_CHECK(atomic_load(&win_seen) < WIN_N); /* it really was interrupted */
    long long bytes = inflight_bytes(chk);
    if (bytes <= 0) ED_FAIL_AT("the checkpoint holds %lld bytes of in-flight data", bytes);

    eddy_env *b = eddy_env_new();
    eddy_result *second = win_job(b, dir, false, 2, NULL);
    eddy_env_set(b, "execution.checkpointing.unaligned", "true");
    eddy_env_set(b, "execution.savepoint.path", chk);
    eddy_env_set(b, "execution.checkpointing.interval", "0");
    ED_REQUIRE(eddy_execute(b, "ua win restore") == 0);
    win_rows got = {0};
    win_push_result(&got, first);
    win_push_result(&got, second);
    ED_CHECK_INT(wrong_windows(&got, false), 0);
    free(got.w);
    eddy_env_free(a);
    eddy_env_free(b);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* ---- checkpoints after tasks finish ----------------------------------------------------------- */

enum { FIN_FAST = 2000, FIN_SLOW = 60000, FIN_OFF = 1000000 };
static atomic_long fast_seen;
static atomic_int fin_at_failure; /* "finished" entries in the latest checkpoint at the failure */

/* The fast source's ids -> (id % 50, FIN_OFF + id) */
int fin_fast_kv(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    int64_t id = eddy_row_i64(in, 0);
    eddy_rb_set_i64(out, 0, id % 50);
    eddy_rb_set_i64(out, 1, FIN_OFF + id);
    atomic_fetch_add(&fast_seen, 1);
    return 0;
}

/* The "finished" entries of checkpoint chk's _metadata, or -1. */
static int finished_entries(const char *chk)
{
    char meta[4200];
    snprintf(meta, sizeof meta, "%s/_metadata", chk);
    void *m;
    size_t len;
    ed_err e = {0};
    if (ed_ckpt_read(meta, ED_CKPT_METADATA, &m, &len, &e)) return -1;
    int n = 0;
    for (const char *p = m, *end = p + len; p < end; p++)
        if ((p == m || p[-1] == '\n') && end - p > 9 && !memcmp(p, "finished ", 9)) n++;
    free(m);
    return n;
}

static char fin_out[700];          /* the fast source's file sink */
static atomic_long fin_sink_at_failure; /* its ids not committed exactly once then */

static void fin_on_failure(void)
{
    char latest[4096];
    if (ed_ckpt_latest_below(ua_root, INT64_MAX, latest, sizeof latest))
        atomic_store(&fin_at_failure, finished_entries(latest));
    atomic_store(&fin_sink_at_failure, count_ids(fin_out, FIN_FAST));
}

/* The keys whose final sum is not that of the two sources together. */
static int fin_wrong_sums(const eddy_result *res)
{
    int64_t want[50] = {0}, got[50];
    for (int k = 0; k < 50; k++) got[k] = -1;
    for (int64_t id = 0; id < FIN_SLOW; id++) want[id % 50] += id;
    for (int64_t id = 0; id < FIN_FAST; id++) want[id % 50] += FIN_OFF + id;
    for (size_t i = 0; i < eddy_result_count(res); i++) {
        const eddy_row *row = eddy_result_row(res, i);
        int64_t k = eddy_row_i64(row, 0), s = eddy_row_i64(row, 1);
        if (k >= 0 && k < 50 && s > got[k]) got[k] = s;
    }
    int bad = 0;
    for (int k = 0; k < 50; k++)
        if (got[k] != want[k] && bad++ < 3)
            fprintf(stderr, "  key %d: sum %lld, uninterrupted %lld\n", k, (long long)got[k],
                    (long long)want[k]);
    return bad;
}

/*
 * A bounded job of two sources, one finishing at once and one running on (a union into a
 * keyed sum): its checkpoints go on after the fast source's task finished, recording it as
 * finished. A failure after that restarts from such a checkpoint: the finished source does
 * not run again, the other resumes, and every per-key sum is exact. The fast source also
 * writes its ids to a file sink, whose last files the first checkpoint after its end
 * commits (Flink's final checkpoint): every id is committed, once, before the failure.
 * With unaligned checkpoints too (the finished source's channels end while in-flight data
 * is recorded).
 */
static void check_checkpoints_after_finish(bool unaligned)
{
    char dir[] = "/tmp/eddy_fin_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    snprintf(ua_root, sizeof ua_root, "%s/fin", dir);
    snprintf(fin_out, sizeof fin_out, "%s/out", dir);
    atomic_store(&fin_sink_at_failure, -2);
    atomic_store(&fast_seen, 0);
    atomic_store(&fin_at_failure, -2);
    injected_failure_hook = fin_on_failure;
    atomic_store(&fail_at, FIN_SLOW * 3 / 4);
    eddy_env *env = eddy_env_new();
    eddy_env_use_manual_clock(env, 0);
    eddy_env_set(env, "log.level", getenv("CK_LOG") ? getenv("CK_LOG") : "OFF");
    eddy_env_set(env, "execution.checkpointing.interval", "200 ms");
    eddy_env_set(env, "execution.checkpointing.dir", dir);
    eddy_env_set(env, "execution.checkpointing.num-retained", "3");
    eddy_env_set(env, "execution.checkpointing.unaligned", unaligned ? "true" : "false");
    eddy_env_set(env, "restart-strategy.type", "fixed-delay");
    eddy_env_set(env, "restart-strategy.fixed-delay.attempts", "3");
    eddy_env_set(env, "restart-strategy.fixed-delay.delay", "10 ms");
    char end[32];
    snprintf(end, sizeof end, "%d", FIN_FAST - 1);
    eddy_stream *fast = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                    "fields.id.start", "0", "fields.id.end", end,
                                    "rows-per-second", "0", NULL);
    eddy_uid(fast, "fast");
    eddy_sink(fast, "filesink", "path", fin_out, "format", "csv", "sink.bucket.pattern", "", NULL);
    fast = eddy_uid(eddy_map(fast, EDDY_FN(fin_fast_kv), "k BIGINT, v BIGINT"), "fast-kv");
    snprintf(end, sizeof end, "%d", FIN_SLOW - 1);
    eddy_stream *slow = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                    "fields.id.start", "0", "fields.id.end", end,
                                    "rows-per-second", "60000", NULL);
    eddy_uid(slow, "slow");
    slow = eddy_uid(eddy_map(slow, EDDY_FN(ck_key_value), "k BIGINT, v BIGINT"), "slow-kv");
    eddy_stream *sums = eddy_keyed_process(eddy_key_by(eddy_union(fast, slow), "k"),
                                           EDDY_FN(ck_sum_kv), EDDY_FN_NONE, "k BIGINT, s BIGINT");
    eddy_uid(eddy_set_parallelism(sums, 2), "sum");
    eddy_result *res = eddy_collect(sums);
    int rc = run_ticking(env, "fin");
    injected_failure_hook = NULL;
    ED_REQUIRE(rc == 0);
    ED_CHECK_INT(atomic_load(&fail_at), -1); /* the failure did happen */
    /* the checkpoint it restarted from had the fast source (and its map) finished */
    ED_CHECK_INT(atomic_load(&fin_at_failure), 3); /* source, map, sink */
    ED_CHECK_INT(atomic_load(&fin_sink_at_failure), 0);
    ED_CHECK_INT(atomic_load(&fast_seen), FIN_FAST); /* it did not run again */
    ED_CHECK_INT(fin_wrong_sums(res), 0);
    ED_CHECK_INT(count_ids(fin_out, FIN_FAST), 0);
    eddy_env_free(env);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

ED_TEST(checkpoints_go_on_after_a_source_finished) { check_checkpoints_after_finish(false); }
ED_TEST(unaligned_checkpoints_go_on_after_a_source_finished)
{
    check_checkpoints_after_finish(true);
}
