/*
 * txn_sink_test.c - the two-phase-commit sink framework (include/eddy/sink.h) against a
 * transactional store of files: a transaction is a hidden file being written
 * (".txn-<subtask>-<number>"), pre-commit makes it durable, commit renames it into view
 * ("txn-<subtask>-<number>"), abort deletes it. Every committed id must be there exactly
 * once, whatever fails: the map, the sink's writes, a commit; at the same parallelism
 * and across a restore at another one. The store also checks the protocol: no write
 * after pre-commit, no commit before a checkpoint at or after its pre-commit completed,
 * no handle used twice.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "checkpoint/coordinator.h"
#include "checkpoint/storage.h"
#include "ed_test.h"

static char store[256];    /* the store's directory */
static char ckpt_root[400]; /* <checkpoint dir>/<job>: commits check a checkpoint completed */
static atomic_long begins, pre_commits, commits, aborts, violations, restore_commits;
static atomic_long map_fail_at = -1, write_fail_at = -1, commit_fails = 0, begin_fails = 0;
static atomic_long writes;

static void reset(void)
{
    atomic_store(&begins, 0);
    atomic_store(&pre_commits, 0);
    atomic_store(&commits, 0);
    atomic_store(&aborts, 0);
    atomic_store(&violations, 0);
    atomic_store(&restore_commits, 0);
    atomic_store(&map_fail_at, -1);
    atomic_store(&write_fail_at, -1);
    atomic_store(&commit_fails, 0);
    atomic_store(&begin_fails, 0);
    atomic_store(&writes, 0);
}

static void violation(const char *what, const char *handle)
{
    fprintf(stderr, "  protocol: %s (%s)\n", what, handle);
    atomic_fetch_add(&violations, 1);
}

/* The paths of a transaction: hidden while open, plain once committed. */
static void paths(const eddy_txn *t, char *hidden, char *committed, size_t cap)
{
    size_t len;
    const char *h = eddy_txn_handle(t, &len);
    snprintf(hidden, cap, "%s/.%.*s", store, (int)len, h);
    snprintf(committed, cap, "%s/%.*s", store, (int)len, h);
}

typedef struct open_txn {
    int fd;
} open_txn;

int ts_begin(eddy_ctx *ctx, eddy_txn *txn)
{
    if (atomic_load(&begin_fails)) return eddy_fail(ctx, "the store is down");
    char name[64], hidden[600], committed[600];
    snprintf(name, sizeof name, "txn-%d-%llu", eddy_ctx_subtask(ctx),
             (unsigned long long)eddy_txn_number(txn));
    static const char big[EDDY_TXN_MAX_HANDLE + 1];
    if (eddy_txn_set_handle(txn, big, sizeof big) != -1) violation("a handle too long", name);
    if (eddy_txn_set_handle(txn, name, strlen(name))) return eddy_fail(ctx, "handle refused");
    paths(txn, hidden, committed, sizeof hidden);
    struct stat st;
    if (stat(committed, &st) == 0) violation("handle used twice", name);
    open_txn *o = malloc(sizeof *o);
    o->fd = open(hidden, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o->fd < 0) {
        free(o);
        return eddy_fail(ctx, "cannot create %s: %s", hidden, strerror(errno));
    }
    eddy_txn_set_data(txn, o);
    atomic_fetch_add(&begins, 1);
    return 0;
}

int ts_write(eddy_ctx *ctx, eddy_txn *txn, const eddy_row *row)
{
    open_txn *o = eddy_txn_data(txn);
    if (!o) {
        violation("write into a transaction without data", eddy_txn_handle(txn, NULL));
        return eddy_fail(ctx, "write after pre-commit");
    }
    long w = atomic_fetch_add(&writes, 1);
    long f = atomic_load(&write_fail_at);
    if (w == f && atomic_compare_exchange_strong(&write_fail_at, &f, -1))
        return eddy_fail(ctx, "injected write failure");
    char line[32];
    int n = snprintf(line, sizeof line, "%lld\n", (long long)eddy_row_i64(row, 0));
    return write(o->fd, line, (size_t)n) == n ? 0 : eddy_fail(ctx, "write: %s", strerror(errno));
}

int ts_pre_commit(eddy_ctx *ctx, eddy_txn *txn)
{
    open_txn *o = eddy_txn_data(txn);
    if (!o) return eddy_fail(ctx, "pre-commit without data");
    int rc = fsync(o->fd) || close(o->fd) ? eddy_fail(ctx, "fsync: %s", strerror(errno)) : 0;
    free(o);
    atomic_fetch_add(&pre_commits, 1);
    return rc;
}

int ts_commit(eddy_ctx *ctx, eddy_txn *txn)
{
    char hidden[600], committed[600], latest[600];
    paths(txn, hidden, committed, sizeof hidden);
    int64_t c = eddy_txn_checkpoint(txn);
    if (c > 0 && ckpt_root[0] && ed_ckpt_latest_below(ckpt_root, INT64_MAX, latest, sizeof latest) < c)
        violation("commit before its checkpoint completed", committed);
    long f = atomic_load(&commit_fails);
    if (f > 0 && atomic_compare_exchange_strong(&commit_fails, &f, f - 1))
        return eddy_fail(ctx, "injected commit failure");
    if (!eddy_txn_data(txn) && eddy_ctx_user(ctx) == NULL) atomic_fetch_add(&restore_commits, 1);
    struct stat st;
    if (rename(hidden, committed) && !(errno == ENOENT && stat(committed, &st) == 0))
        return eddy_fail(ctx, "cannot commit %s: %s", hidden, strerror(errno));
    atomic_fetch_add(&commits, 1);
    return 0;
}

int ts_abort(eddy_ctx *ctx, eddy_txn *txn)
{
    char hidden[600], committed[600];
    paths(txn, hidden, committed, sizeof hidden);
    open_txn *o = eddy_txn_data(txn);
    if (o) {
        close(o->fd);
        free(o);
    }
    unlink(hidden);
    atomic_fetch_add(&aborts, 1);
    return 0;
}

int ts_map(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out)
{
    int64_t id = eddy_row_i64(in, 0);
    long f = atomic_load(&map_fail_at);
    if (id == f && atomic_compare_exchange_strong(&map_fail_at, &f, -1))
        return eddy_fail(ctx, "injected map failure at id %lld", (long long)id);
    eddy_rb_set_i64(out, 0, id);
    return 0;
}

static const eddy_txn_sink store_fns = {EDDY_FN(ts_begin), EDDY_FN(ts_write),
                                        EDDY_FN(ts_pre_commit), EDDY_FN(ts_commit),
                                        EDDY_FN(ts_abort)};

/* Committed ids 0..n-1: how many are missing or there twice (or not ids at all). */
static long wrong_ids(long n)
{
    unsigned char *seen = calloc((size_t)n, 1);
    long bad = 0;
    DIR *d = opendir(store);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strncmp(de->d_name, "txn-", 4)) continue;
        char p[600], line[64];
        snprintf(p, sizeof p, "%s/%s", store, de->d_name);
        FILE *f = fopen(p, "r");
        while (f && fgets(line, sizeof line, f)) {
            long id = strtol(line, NULL, 10);
            if (id < 0 || id >= n || seen[id]++) bad++;
        }
        if (f) fclose(f);
    }
    if (d) closedir(d);
    for (long i = 0; i < n; i++)
        if (!seen[i]) bad++;
    free(seen);
    return bad;
}

/* datagen 0..n-1 -> map -> the store's sink, with a uid; checkpoints into dir/ckpt. */
static void build(eddy_env *env, const char *dir, long n, const char *rate)
{
    char end[32];
    snprintf(end, sizeof end, "%ld", n - 1);
    snprintf(store, sizeof store, "%s/store", dir);
    mkdir(store, 0755);
    eddy_env_set(env, "log.level", "OFF");
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "fields.id.kind", "sequence",
                                   "fields.id.start", "0", "fields.id.end", end,
                                   "rows-per-second", rate, NULL);
    eddy_uid(src, "gen");
    eddy_stream *m = eddy_uid(eddy_map(src, EDDY_FN(ts_map), "id BIGINT"), "map");
    eddy_stream *sink = eddy_two_phase_commit_sink(eddy_rebalance(m), store_fns);
    ED_REQUIRE(sink);
    eddy_uid(sink, "store");
}

static void checkpointing(eddy_env *env, const char *dir)
{
    char ck[300];
    snprintf(ck, sizeof ck, "%s/ckpt", dir);
    snprintf(ckpt_root, sizeof ckpt_root, "%s/txn", ck);
    eddy_env_set(env, "execution.checkpointing.dir", ck);
    eddy_env_set(env, "execution.checkpointing.interval", "30 ms");
    eddy_env_set(env, "execution.checkpointing.num-retained", "1000");
}

static void clean(const char *dir)
{
    ed_err e = {0};
    ed_remove_tree(dir, &e);
    ckpt_root[0] = 0;
}

ED_TEST(without_checkpoints_one_transaction_per_subtask_is_committed_at_the_end)
{
    char dir[] = "/tmp/eddy_txn_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    reset();
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    build(env, dir, 20000, "0");
    ED_REQUIRE(eddy_execute(env, "txn") == 0);
    ED_CHECK_INT(wrong_ids(20000), 0);
    ED_CHECK_INT(atomic_load(&begins), 2);
    ED_CHECK_INT(atomic_load(&pre_commits), 2);
    ED_CHECK_INT(atomic_load(&commits), 2);
    ED_CHECK_INT(atomic_load(&aborts), 0);
    ED_CHECK_INT(atomic_load(&violations), 0);
    eddy_env_free(env);
    clean(dir);
}

/* Fails in the map, in the sink's writes and in a commit; restarts each time. */
static void failures(bool unaligned)
{
    enum { N = 60000 };
    char dir[] = "/tmp/eddy_txn_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    reset();
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    build(env, dir, N, "100000");
    checkpointing(env, dir);
    if (unaligned) eddy_env_set(env, "execution.checkpointing.unaligned", "true");
    eddy_env_set(env, "restart-strategy.type", "fixed-delay");
    eddy_env_set(env, "restart-strategy.fixed-delay.attempts", "10");
    eddy_env_set(env, "restart-strategy.fixed-delay.delay", "5 ms");
    atomic_store(&map_fail_at, N / 3);
    atomic_store(&write_fail_at, N / 2);
    atomic_store(&commit_fails, 1);
    int rc = eddy_execute(env, "txn");
    if (rc) fprintf(stderr, "  %s\n", eddy_env_error(env));
    ED_CHECK_INT(rc, 0);
    ED_CHECK_INT(atomic_load(&map_fail_at), -1);
    ED_CHECK_INT(atomic_load(&write_fail_at), -1);
    ED_CHECK_INT(atomic_load(&commit_fails), 0);
    ED_CHECK_INT(wrong_ids(N), 0);
    ED_CHECK_INT(atomic_load(&violations), 0);
    ED_CHECK(atomic_load(&aborts) > 0);          /* open transactions were given up */
    ED_CHECK(atomic_load(&restore_commits) > 0); /* and waiting ones committed by restores */
    ED_CHECK(atomic_load(&pre_commits) > 4);
    eddy_env_free(env);
    clean(dir);
}

ED_TEST(failures_in_map_writes_and_commit_leave_every_record_committed_once)
{
    failures(false);
}

ED_TEST(failures_leave_every_record_committed_once_unaligned)
{
    failures(true);
}

ED_TEST(a_restore_at_another_parallelism_commits_what_the_old_subtasks_waited_for)
{
    enum { N = 40000 };
    char dir[] = "/tmp/eddy_txn_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    reset();
    /* parallelism 2; the first commit fails and nothing restarts: the job fails with
     * transactions pre-committed in its latest checkpoint */
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    build(env, dir, N, "20000");
    checkpointing(env, dir);
    eddy_env_set(env, "restart-strategy.type", "none");
    atomic_store(&commit_fails, 1);
    ED_CHECK_INT(eddy_execute(env, "txn"), -1);
    ED_CHECK_CONTAINS(eddy_env_error(env), "injected commit failure");
    ED_CHECK_CONTAINS(eddy_env_error(env), "operator 'Sink: Two-phase commit' (subtask");
    eddy_env_free(env);
    char latest[600];
    ED_REQUIRE(ed_ckpt_latest_below(ckpt_root, INT64_MAX, latest, sizeof latest) > 0);
    long before = atomic_load(&commits);

    /* parallelism 1 from that checkpoint: both old subtasks' transactions are committed */
    env = eddy_env_new();
    eddy_env_set_parallelism(env, 1);
    build(env, dir, N, "0");
    eddy_env_set(env, "execution.savepoint.path", latest);
    atomic_store(&restore_commits, 0);
    ED_REQUIRE(eddy_execute(env, "txn") == 0);
    ED_CHECK(atomic_load(&restore_commits) >= 2);
    ED_CHECK(atomic_load(&commits) > before);
    ED_CHECK_INT(wrong_ids(N), 0);
    ED_CHECK_INT(atomic_load(&violations), 0);
    eddy_env_free(env);
    clean(dir);
}

ED_TEST(a_failing_begin_names_the_sink_and_the_function)
{
    char dir[] = "/tmp/eddy_txn_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    reset();
    eddy_env *env = eddy_env_new();
    build(env, dir, 10, "0");
    atomic_store(&begin_fails, 1);
    ED_CHECK_INT(eddy_execute(env, "txn"), -1);
    ED_CHECK_STR(eddy_env_error(env),
                 "operator 'Sink: Two-phase commit' (subtask 1/1) failed: the store is down");
    eddy_env_free(env);
    clean(dir);
}

int ts_begin_silent(eddy_ctx *ctx, eddy_txn *txn) { return -1; }

ED_TEST(a_function_that_fails_without_a_reason_is_named)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set(env, "log.level", "OFF");
    eddy_txn_sink fns = store_fns;
    fns.begin = EDDY_FN(ts_begin_silent);
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "number-of-rows", "5", NULL);
    eddy_name(eddy_two_phase_commit_sink(src, fns), "Store");
    ED_CHECK_INT(eddy_execute(env, "txn"), -1);
    ED_CHECK_STR(eddy_env_error(env), "operator 'Store' (subtask 1/1) failed: begin function "
                                      "'ts_begin_silent' returned an error");
    eddy_env_free(env);
}

ED_TEST(the_builder_refuses_what_cannot_work)
{
    eddy_env *env = eddy_env_new();
    eddy_stream *src = eddy_source(env, "datagen", "id BIGINT", "number-of-rows", "5", NULL);
    eddy_txn_sink fns = store_fns;
    fns.commit = EDDY_FN_NONE;
    ED_CHECK(eddy_two_phase_commit_sink(src, fns) == NULL);
    ED_CHECK_STR(eddy_env_error(env), "eddy_two_phase_commit_sink: no commit function");
    eddy_env_free(env);

    env = eddy_env_new();
    src = eddy_source(env, "datagen", "id BIGINT", "number-of-rows", "5", NULL);
    eddy_stream *sink = eddy_two_phase_commit_sink(src, store_fns);
    ED_REQUIRE(sink);
    ED_CHECK(eddy_uid(eddy_name(sink, "Store"), "store") == sink); /* properties apply */
    ED_CHECK(eddy_map(sink, EDDY_FN(ts_map), "id BIGINT") == NULL);
    ED_CHECK_STR(eddy_env_error(env), "'Store' is a sink: nothing can read from it");
    eddy_env_free(env);

    env = eddy_env_new();
    src = eddy_source(env, "datagen", "id BIGINT", "number-of-rows", "5", NULL);
    ED_CHECK_INT(eddy_sink(src, "two-phase-commit", NULL), -1);
    ED_CHECK_STR(eddy_env_error(env), "eddy_sink: unknown sink connector 'two-phase-commit'");
    eddy_env_free(env);
    ED_CHECK_INT(eddy_txn_set_handle(NULL, "x", 1), -1);
}
