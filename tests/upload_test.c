/*
 * upload_test.c - checkpoint files are written in the background: while a task's snapshot
 * file is being written (slowly: the test's file system sleeps in the middle of it), the
 * task goes on processing records; the checkpoint completes once the file is written, and
 * a write that fails there fails that checkpoint alone. With incremental RocksDB
 * checkpoints, a new SST file whose upload fails is uploaded again by the next checkpoint,
 * which restores exactly.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "checkpoint/coordinator.h"
#include "checkpoint/storage.h"
#include "ed_test.h"

static atomic_long processed;      /* records the keyed operator has counted */
static atomic_long during = -1;    /* ... while its first snapshot file was being written */
static atomic_int slow_fd = -1;    /* that file */
static atomic_bool fail_writes;    /* writes of snapshot files fail (EIO) */
static atomic_long failed_writes;
static atomic_int fail_shared = 0; /* writes of shared files to fail (EIO), one per file */
static atomic_int shared_fd = -1;
static char failed_name[600];    /* the first shared file whose write failed */
static atomic_int reopened;        /* ... opened again later: uploaded again */

static const eddy_state_desc count_desc = {
    .name = "count", .kind = EDDY_STATE_VALUE, .schema = "k BIGINT, n BIGINT"};

int up_count(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *st = eddy_keyed_state(ctx, &count_desc);
    if (!st) return -1;
    const eddy_row *cur = eddy_value_get(st);
    eddy_row_builder *b = eddy_out_builder(out); /* (k, n): the state and the output */
    eddy_rb_set_i64(b, 0, eddy_row_i64(in, 0));
    eddy_rb_set_i64(b, 1, (cur ? eddy_row_i64(cur, 1) : 0) + 1);
    atomic_fetch_add(&processed, 1);
    if (eddy_value_update(st, eddy_rb_row(b))) return -1;
    return eddy_ctx_param(ctx, "emit", NULL) ? eddy_emit(out, eddy_rb_row(b)) : 0;
}

int up_key(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    eddy_rb_set_i64(out, 0, eddy_row_i64(in, 0) % 100);
    return 0;
}

static int sf_open(ed_fs *fs, const char *p, int flags, mode_t m)
{
    int fd = ed_fs_default()->open(ed_fs_default(), p, flags, m);
    int none = -1;
    if (fd >= 0 && strstr(p, "/chk-") && strstr(p, "/counts-0.tmp"))
        atomic_compare_exchange_strong(&slow_fd, &none, fd);
    none = -1;
    if (fd >= 0 && strstr(p, "/shared/")) {
        if (atomic_load(&fail_shared) > 0 &&
            atomic_compare_exchange_strong(&shared_fd, &none, fd) && !failed_name[0])
            snprintf(failed_name, sizeof failed_name, "%s", p); /* upload thread only */
        else if (failed_name[0] && strcmp(p, failed_name) == 0)
            atomic_fetch_add(&reopened, 1);
    }
    return fd;
}

static ssize_t sf_write(ed_fs *fs, int fd, const void *b, size_t n)
{
    if (fd == atomic_load(&slow_fd) && atomic_load(&during) < 0) {
        long before = atomic_load(&processed);
        usleep(400 * 1000);
        atomic_store(&during, atomic_load(&processed) - before);
    }
    if (fd == atomic_load(&slow_fd) && atomic_load(&fail_writes)) {
        atomic_fetch_add(&failed_writes, 1);
        errno = EIO;
        return -1;
    }
    if (fd == atomic_load(&shared_fd)) {
        atomic_fetch_sub(&fail_shared, 1);
        atomic_fetch_add(&failed_writes, 1);
        errno = EIO;
        return -1;
    }
    return ed_fs_default()->write(ed_fs_default(), fd, b, n);
}

static int sf_fsync(ed_fs *fs, int fd) { return ed_fs_default()->fsync(ed_fs_default(), fd); }
static int sf_rename(ed_fs *fs, const char *a, const char *b)
{
    return ed_fs_default()->rename(ed_fs_default(), a, b);
}
static int sf_close(ed_fs *fs, int fd)
{
    int x = fd;
    atomic_compare_exchange_strong(&slow_fd, &x, -2); /* done: no other file is slowed */
    x = fd;
    atomic_compare_exchange_strong(&shared_fd, &x, -1);
    return ed_fs_default()->close(ed_fs_default(), fd);
}
static ed_fs slow_fs = {sf_open, sf_write, sf_fsync, sf_rename, sf_close};

static eddy_stream *counted_stream; /* the counting operator of the last job built */

/* ids 0..n-1 at `rate` per second, counted per key id % 100 (emitted as (k, n) with emit);
 * checkpoints every 50 ms. */
static eddy_env *counting_job(const char *dir, long n, const char *rate, bool emit)
{
    char end[32];
    snprintf(end, sizeof end, "%ld", n - 1);
    eddy_env *env = eddy_env_new();
    ed_env_set_fs(env, &slow_fs);
    eddy_env_set(env, "log.level", getenv("UP_LOG") ? getenv("UP_LOG") : "OFF");
    eddy_env_set(env, "restart-strategy.type", "none");
    eddy_env_set(env, "execution.checkpointing.dir", dir);
    eddy_env_set(env, "execution.checkpointing.interval", "50 ms");
    eddy_env_set(env, "execution.checkpointing.num-retained", "100000"); /* all kept */
    eddy_env_set(env, "execution.checkpointing.tolerable-failed-checkpoints", "10");
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", end,
                                   "rows-per-second", rate, NULL);
    eddy_stream *k = eddy_map(src, EDDY_FN(up_key), "k BIGINT");
    eddy_stream *c =
        eddy_keyed_process(eddy_key_by(k, "k"), EDDY_FN(up_count), EDDY_FN_NONE, "k BIGINT, n BIGINT");
    eddy_uid(c, "counts");
    if (emit) eddy_param(c, "emit", "yes");
    eddy_discard(c);
    counted_stream = c;
    return env;
}

static void reset(void)
{
    atomic_store(&processed, 0);
    atomic_store(&during, -1);
    atomic_store(&slow_fd, -1);
    atomic_store(&fail_writes, false);
    atomic_store(&failed_writes, 0);
    atomic_store(&fail_shared, 0);
    atomic_store(&shared_fd, -1);
    failed_name[0] = 0;
    atomic_store(&reopened, 0);
}

ED_TEST(a_task_processes_records_while_its_snapshot_is_written)
{
    char dir[] = "/tmp/eddy_upload_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    reset();
    enum { N = 3000000 };
    eddy_env *env = counting_job(dir, N, "1500000", false);
    int rc = eddy_execute(env, "up");
    if (rc) fprintf(stderr, "  %s\n", eddy_env_error(env));
    ED_REQUIRE(rc == 0);
    ED_CHECK_INT(atomic_load(&processed), N);
    long d = atomic_load(&during);
    fprintf(stderr, "  records counted while the snapshot file was written (400 ms): %ld\n", d);
    ED_CHECK(d > 1000); /* written on the task's thread, it would be 0 */
    /* and the slowed checkpoint completed with the file */
    char root[600], latest[700];
    snprintf(root, sizeof root, "%s/up", dir);
    ED_CHECK(ed_ckpt_latest_below(root, INT64_MAX, latest, sizeof latest) >= 2);
    eddy_env_free(env);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

ED_TEST(a_snapshot_that_cannot_be_written_in_the_background_fails_that_checkpoint)
{
    char dir[] = "/tmp/eddy_upload_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    reset();
    atomic_store(&fail_writes, true);
    enum { N = 1500000 };
    eddy_env *env = counting_job(dir, N, "1000000", false);
    int rc = eddy_execute(env, "up");
    if (rc) fprintf(stderr, "  %s\n", eddy_env_error(env));
    ED_REQUIRE(rc == 0); /* one failed checkpoint is tolerated */
    ED_CHECK_INT(atomic_load(&processed), N);
    ED_CHECK_INT(atomic_load(&failed_writes), 1);
    /* the checkpoint of the failed file is gone; a later one completed */
    char root[600], latest[700];
    snprintf(root, sizeof root, "%s/up", dir);
    int64_t last = ed_ckpt_latest_below(root, INT64_MAX, latest, sizeof latest);
    ED_CHECK(last >= 2);
    int complete = 0;
    for (int64_t id = 1; id <= last; id++) {
        char meta[800];
        struct stat sb;
        snprintf(meta, sizeof meta, "%s/chk-%lld/_metadata", root, (long long)id);
        complete += stat(meta, &sb) == 0;
    }
    ED_CHECK_INT(complete, last - 1); /* all but the one that failed */
    eddy_env_free(env);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}

/* The sum over keys of each key's largest count in res: n when every record is counted
 * once across the runs that emitted into it. */
static long counted_total(const eddy_result *res)
{
    long best[100] = {0}, sum = 0;
    for (size_t i = 0; i < eddy_result_count(res); i++) {
        const eddy_row *r = eddy_result_row(res, i);
        int64_t k = eddy_row_i64(r, 0), c = eddy_row_i64(r, 1);
        if (k >= 0 && k < 100 && c > best[k]) best[k] = c;
    }
    for (int k = 0; k < 100; k++) sum += best[k];
    return sum;
}

ED_TEST(a_shared_file_that_failed_to_upload_is_uploaded_again)
{
    char dir[] = "/tmp/eddy_upload_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    reset();
    atomic_store(&slow_fd, -2); /* nothing slowed */
    atomic_store(&fail_shared, 1);
    enum { N = 200000 };
    /* a memtable flushed per checkpoint, compacted every fourth: the SST file whose upload
     * fails is still live at the next checkpoint */
    eddy_env *env = counting_job(dir, N, "100000", false);
    eddy_env_set(env, "state.backend.type", "rocksdb");
    eddy_env_set(env, "execution.checkpointing.incremental", "true");
    eddy_env_set(env, "execution.checkpointing.checkpoints-after-tasks-finish", "false");
    int rc = eddy_execute(env, "up");
    if (rc) fprintf(stderr, "  %s\n", eddy_env_error(env));
    ED_REQUIRE(rc == 0);
    ED_CHECK_INT(atomic_load(&failed_writes), 1);
    ED_CHECK(atomic_load(&reopened) >= 1); /* the next checkpoint uploaded it again */
    eddy_env_free(env);
    char root[600], latest[700];
    snprintf(root, sizeof root, "%s/up", dir);
    ED_REQUIRE(ed_ckpt_latest_below(root, INT64_MAX, latest, sizeof latest) >= 2);

    /* the latest checkpoint restores: its state and the rest of the input count every
     * record once */
    reset();
    atomic_store(&slow_fd, -2);
    env = counting_job(dir, N, "0", true);
    eddy_env_set(env, "state.backend.type", "rocksdb");
    eddy_env_set(env, "execution.savepoint.path", latest);
    eddy_result *res = eddy_collect(counted_stream);
    rc = eddy_execute(env, "up");
    if (rc) fprintf(stderr, "  %s\n", eddy_env_error(env));
    ED_REQUIRE(rc == 0);
    ED_CHECK(atomic_load(&processed) < N); /* it started from the checkpoint */
    ED_CHECK_INT(counted_total(res), N);
    eddy_env_free(env);
    ed_err e = {0};
    ed_remove_tree(dir, &e);
}
