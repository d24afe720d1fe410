/*
 * coordinator_test.c - the coordinator's savepoint bookkeeping, driven by hand (no job):
 * a savepoint goes into <dir>/savepoint-<6 hex of the JobID>-<12 hex>, completes like a
 * checkpoint, is never deleted by retention nor counted in it, does not hold periodic
 * checkpoints back, and is known as one to the state layer (ed_coord_is_savepoint);
 * without an interval the coordinator triggers nothing by itself; a declined, expired or
 * orphaned savepoint fails with its reason and does not count toward the tolerated
 * failures; a stop-with-savepoint pauses periodic checkpoints and, once complete, ends
 * them.
 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/coordinator.h"
#include "ed_test.h"

#define JOB_ID "0123456789abcdef0123456789abcdef"

static char root[256];

static const char *tmpdir(void)
{
    if (!root[0]) {
        snprintf(root, sizeof root, "/tmp/eddy_coordinator_test.XXXXXX");
        if (!mkdtemp(root)) abort();
    }
    return root;
}

__attribute__((destructor)) static void cleanup(void)
{
    ed_err e = {0};
    if (root[0]) ed_remove_tree(root, &e);
}

/* A fresh directory under the test's root. */
static void fresh(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir(), name);
    ed_err e = {0};
    ed_remove_tree(buf, &e);
}

static bool exists(const char *dir, const char *name)
{
    char p[2200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

/* Entries of dir whose names start with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) n++;
    closedir(d);
    return n;
}

/* A coordinator of one task, made on request, with these settings (key, value pairs). */
static ed_coord *make(ed_config *cfg, ...)
{
    va_list ap;
    va_start(ap, cfg);
    const char *k;
    ed_err e = {0};
    while ((k = va_arg(ap, const char *))) {
        const char *v = va_arg(ap, const char *);
        if (ed_config_set(cfg, k, v, &e)) {
            fprintf(stderr, "  %s\n", e.msg);
            abort();
        }
    }
    va_end(ap);
    ed_coord *c = ed_coord_new_on_request(cfg, "Job", JOB_ID, 1, 128, NULL, &e);
    if (!c) fprintf(stderr, "  %s\n", e.msg);
    return c;
}

static int64_t savepoint(ed_coord *c, const char *dir, bool stop, int64_t now)
{
    ed_err e = {0};
    int64_t id = ed_coord_trigger_savepoint(c, dir, (ed_ckpt_props){.stop = stop}, now, &e);
    if (!id) fprintf(stderr, "  %s\n", e.msg);
    return id;
}

static int ack(ed_coord *c, int64_t id, int64_t now)
{
    ed_err e = {0};
    int rc = ed_coord_ack(c, id, NULL, now, &e);
    if (rc < 0) fprintf(stderr, "  %s\n", e.msg);
    return rc;
}

ED_TEST(savepoint_without_interval_is_named_like_flinks)
{
    char sp[512];
    fresh(sp, sizeof sp, "sp1/deeper");
    ed_config *cfg = ed_config_new();
    ed_coord *c = make(cfg, NULL);
    ED_REQUIRE(c);
    ED_CHECK_INT(ed_coord_interval_ms(c), 0);
    /* no interval: nothing is ever due by itself */
    ed_err e = {0};
    ED_CHECK_INT(ed_coord_maybe_trigger(c, 0, &e), 0);
    ED_CHECK_INT(ed_coord_maybe_trigger(c, 1000000000, &e), 0);

    int64_t id = savepoint(c, sp, false, 5);
    ED_REQUIRE(id == 1);
    char dir[1024], path[1024];
    ed_coord_chk_dir(c, id, dir, sizeof dir);
    /* <dir>/savepoint-<first 6 hex digits of the JobID>-<12 hex digits> */
    size_t n = strlen(sp);
    ED_REQUIRE(strncmp(dir, sp, n) == 0);
    ED_CHECK(strncmp(dir + n, "/savepoint-012345-", 18) == 0);
    ED_CHECK_INT(strlen(dir + n + 18), 12);
    ED_CHECK_INT(strspn(dir + n + 18, "0123456789abcdef"), 12);
    struct stat st;
    ED_CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    ED_CHECK(ed_coord_is_savepoint(c, id));
    ED_CHECK(!ed_coord_props(c, id).stop);
    ED_CHECK_INT(ed_coord_savepoint_state(c, id), ED_SAVEPOINT_PENDING);

    ED_CHECK_INT(ack(c, id, 7), 1);
    ED_CHECK(exists(dir, "_metadata"));
    ED_CHECK_INT(ed_coord_savepoint_state(c, id), ED_SAVEPOINT_COMPLETED);
    ED_CHECK_INT(ed_coord_savepoint_wait(c, id, path, sizeof path, &e), 0);
    ED_CHECK_STR(path, dir);
    ed_coord_stats s = ed_coord_get_stats(c);
    ED_CHECK_INT(s.savepoints, 1);
    ED_CHECK_INT(s.completed, 0);
    ED_CHECK_INT(s.last_completed_id, 0); /* an intermediate savepoint is no restart point */

    /* a second one gets another directory */
    int64_t id2 = savepoint(c, sp, false, 8);
    ED_REQUIRE(id2 == 2);
    char dir2[1024];
    ed_coord_chk_dir(c, id2, dir2, sizeof dir2);
    ED_CHECK(strcmp(dir, dir2) != 0);
    ED_CHECK_INT(count_prefixed(sp, "savepoint-012345-"), 2);
    ed_coord_free(c);
    ed_config_free(cfg);
}

ED_TEST(savepoint_needs_a_directory)
{
    char sp[512];
    fresh(sp, sizeof sp, "sp-default");
    ed_config *cfg = ed_config_new();
    ed_coord *c = make(cfg, NULL);
    ED_REQUIRE(c);
    ed_err e = {0};
    ED_CHECK_INT(ed_coord_trigger_savepoint(c, NULL, (ed_ckpt_props){0}, 0, &e), 0);
    ED_CHECK_CONTAINS(e.msg, "execution.checkpointing.savepoint-dir");
    ed_err_clear(&e);
    ED_CHECK_INT(ed_coord_trigger_savepoint(c, "", (ed_ckpt_props){0}, 0, &e), 0);
    ED_CHECK(e.set);
    ed_coord_free(c);
    ed_config_free(cfg);

    /* the configured default */
    cfg = ed_config_new();
    c = make(cfg, "execution.checkpointing.savepoint-dir", sp, NULL);
    ED_REQUIRE(c);
    int64_t id = savepoint(c, NULL, false, 0);
    ED_REQUIRE(id);
    char dir[1024];
    ed_coord_chk_dir(c, id, dir, sizeof dir);
    ED_CHECK(strncmp(dir, sp, strlen(sp)) == 0);
    ED_CHECK_INT(count_prefixed(sp, "savepoint-"), 1);
    ed_coord_free(c);
    ed_config_free(cfg);
}

ED_TEST(retention_never_deletes_or_counts_a_savepoint)
{
    char ck[512], sp[512];
    fresh(ck, sizeof ck, "ck-ret");
    fresh(sp, sizeof sp, "sp-ret");
    ed_config *cfg = ed_config_new();
    ed_coord *c =
        make(cfg, "execution.checkpointing.interval", "10 ms", "execution.checkpointing.dir", ck,
             "execution.checkpointing.num-retained", "2", NULL);
    ED_REQUIRE(c);
    char root_dir[600];
    snprintf(root_dir, sizeof root_dir, "%s/Job", ck);
    ed_err e = {0};
    int64_t t = 0;
    /* checkpoint 1, then savepoint 2 while checkpoint 3 is pending */
    ED_REQUIRE(ed_coord_maybe_trigger(c, t, &e) == 0); /* the first comes one interval in */
    ED_REQUIRE(ed_coord_maybe_trigger(c, t += 10, &e) == 1);
    ED_CHECK_INT(ack(c, 1, t), 1);
    ED_REQUIRE(ed_coord_maybe_trigger(c, t += 10, &e) == 2);
    /* a savepoint is not held back by the pending checkpoint (max-concurrent 1) */
    int64_t sid = savepoint(c, sp, false, t);
    ED_REQUIRE(sid == 3);
    ED_CHECK(ed_coord_is_savepoint(c, sid));
    ED_CHECK(!ed_coord_is_savepoint(c, 2));
    ED_CHECK(!ed_coord_is_savepoint(c, 1));
    ED_CHECK(!ed_coord_is_savepoint(c, 99));
    ED_CHECK_INT(ack(c, sid, t), 1);
    ED_CHECK_INT(ack(c, 2, t), 1);
    /* nor does a pending savepoint hold checkpoints back */
    int64_t sid2 = savepoint(c, sp, false, t);
    ED_REQUIRE(sid2 == 4);
    ED_REQUIRE(ed_coord_maybe_trigger(c, t += 10, &e) == 5);
    ED_CHECK_INT(ack(c, 5, t), 1);
    ED_REQUIRE(ed_coord_maybe_trigger(c, t += 10, &e) == 6);
    ED_CHECK_INT(ack(c, 6, t), 1);
    ED_CHECK_INT(ack(c, sid2, t), 1);
    /* two checkpoints retained (5, 6), as many as num-retained: savepoints took no place */
    ED_CHECK(!exists(root_dir, "chk-1"));
    ED_CHECK(!exists(root_dir, "chk-2"));
    ED_CHECK(exists(root_dir, "chk-5/_metadata"));
    ED_CHECK(exists(root_dir, "chk-6/_metadata"));
    ED_CHECK_INT(count_prefixed(root_dir, "chk-"), 2);
    /* and both savepoints are still there, complete */
    char d1[1024], d2[1024];
    ed_coord_chk_dir(c, sid, d1, sizeof d1);
    ed_coord_chk_dir(c, sid2, d2, sizeof d2);
    ED_CHECK(exists(d1, "_metadata"));
    ED_CHECK(exists(d2, "_metadata"));
    ED_CHECK_INT(count_prefixed(sp, "savepoint-"), 2);
    ed_coord_stats s = ed_coord_get_stats(c);
    ED_CHECK_INT(s.completed, 4);
    ED_CHECK_INT(s.savepoints, 2);
    ED_CHECK_INT(s.last_completed_id, 6);
    ed_coord_free(c);
    ed_config_free(cfg);
}

ED_TEST(failed_savepoints_say_why_and_are_tolerated)
{
    char sp[512];
    fresh(sp, sizeof sp, "sp-fail");
    ed_config *cfg = ed_config_new();
    /* no failed checkpoint tolerated: a failed savepoint still does not fail the job */
    ed_coord *c = make(cfg, "execution.checkpointing.timeout", "100 ms",
                       "execution.checkpointing.tolerable-failed-checkpoints", "0", NULL);
    ED_REQUIRE(c);
    ed_err e = {0};
    char path[1024], dir[1024];

    int64_t a = savepoint(c, sp, false, 0);
    ED_REQUIRE(a);
    ed_coord_chk_dir(c, a, dir, sizeof dir);
    ED_CHECK(!ed_coord_decline(c, a, "disk full"));
    ED_CHECK_INT(ed_coord_savepoint_state(c, a), ED_SAVEPOINT_FAILED);
    ED_CHECK_INT(ed_coord_savepoint_wait(c, a, path, sizeof path, &e), -1);
    ED_CHECK_CONTAINS(e.msg, "disk full");
    struct stat st;
    ED_CHECK(stat(dir, &st) != 0);         /* its directory is removed */
    ED_CHECK(ed_coord_is_savepoint(c, a)); /* still known for what it was */

    ed_err_clear(&e);
    int64_t b = savepoint(c, sp, false, 0);
    ED_REQUIRE(b);
    bool fatal = true;
    ED_CHECK_INT(ed_coord_check_timeouts(c, 50, &fatal), 0);
    ED_CHECK_INT(ed_coord_check_timeouts(c, 100, &fatal), b);
    ED_CHECK(!fatal);
    ED_CHECK_INT(ed_coord_savepoint_wait(c, b, path, sizeof path, &e), -1);
    ED_CHECK_CONTAINS(e.msg, "expired");

    /* the job ends under a pending savepoint: it fails, and no more are taken */
    ed_err_clear(&e);
    int64_t d = savepoint(c, sp, false, 0);
    ED_REQUIRE(d);
    ed_coord_stop(c);
    ED_CHECK_INT(ed_coord_savepoint_wait(c, d, path, sizeof path, &e), -1);
    ED_CHECK_CONTAINS(e.msg, "ended");
    ed_err_clear(&e);
    ED_CHECK_INT(ed_coord_trigger_savepoint(c, sp, (ed_ckpt_props){0}, 0, &e), 0);
    ED_CHECK_CONTAINS(e.msg, "finishing");
    ED_CHECK_INT(ed_coord_get_stats(c).failed, 0);
    ED_CHECK_INT(count_prefixed(sp, "savepoint-"), 0);
    ed_coord_free(c);
    ed_config_free(cfg);
}

ED_TEST(stop_with_savepoint_pauses_and_then_ends_checkpoints)
{
    char ck[512], sp[512];
    fresh(ck, sizeof ck, "ck-stop");
    fresh(sp, sizeof sp, "sp-stop");
    ed_config *cfg = ed_config_new();
    ed_coord *c = make(cfg, "execution.checkpointing.interval", "10 ms",
                       "execution.checkpointing.dir", ck, NULL);
    ED_REQUIRE(c);
    ed_err e = {0};
    int64_t t = 0;
    ED_REQUIRE(ed_coord_maybe_trigger(c, t, &e) == 0);
    /* a stop that fails: periodic checkpoints resume */
    int64_t s1 = savepoint(c, sp, true, t);
    ED_REQUIRE(s1 == 1);
    ED_CHECK(ed_coord_props(c, s1).stop);
    ED_CHECK_INT(ed_coord_maybe_trigger(c, t += 100, &e), 0); /* paused */
    ED_CHECK_INT(ed_coord_trigger_savepoint(c, sp, (ed_ckpt_props){0}, t, &e), 0);
    ED_CHECK_CONTAINS(e.msg, "stopped with a savepoint");
    ED_CHECK(!ed_coord_decline(c, s1, "no"));
    ED_CHECK_INT(ed_coord_maybe_trigger(c, t += 100, &e), 2);
    ED_CHECK_INT(ack(c, 2, t), 1);

    /* a stop that completes: the restart point, and nothing is triggered after it */
    ed_ckpt_props drain = {.stop = true, .drain = true};
    int64_t s2 = ed_coord_trigger_savepoint(c, sp, drain, t, &e);
    ED_REQUIRE(s2 == 3);
    ED_CHECK(ed_coord_props(c, s2).drain && ed_coord_props(c, s2).savepoint);
    ED_CHECK_INT(ack(c, s2, t), 1);
    ED_CHECK_INT(ed_coord_maybe_trigger(c, t += 100, &e), 0);
    ED_CHECK_INT(ed_coord_maybe_trigger(c, t += 100, &e), 0);
    ed_err_clear(&e);
    ED_CHECK_INT(ed_coord_trigger_savepoint(c, sp, (ed_ckpt_props){0}, t, &e), 0);
    ED_CHECK(e.set);
    ed_coord_stats st = ed_coord_get_stats(c);
    ED_CHECK_INT(st.last_completed_id, s2);
    char dir[1024];
    ed_coord_chk_dir(c, s2, dir, sizeof dir);
    ED_CHECK(strncmp(dir, sp, strlen(sp)) == 0); /* a restart starts from the savepoint */
    ed_coord_free(c);
    ed_config_free(cfg);
}

ED_TEST(an_intermediate_savepoint_ignores_drain)
{
    char sp[512];
    fresh(sp, sizeof sp, "sp-nodrain");
    ed_config *cfg = ed_config_new();
    ed_coord *c = make(cfg, NULL);
    ED_REQUIRE(c);
    ed_err e = {0};
    int64_t id = ed_coord_trigger_savepoint(c, sp, (ed_ckpt_props){.drain = true}, 0, &e);
    ED_REQUIRE(id);
    ED_CHECK(!ed_coord_props(c, id).drain);
    ED_CHECK(!ed_coord_props(c, id).stop);
    ed_coord_free(c);
    ed_config_free(cfg);
}

/* Puts a file into dir again, as a task still writing its part of an aborted checkpoint. */
static void write_late(const char *dir)
{
    ed_err e = {0};
    ED_REQUIRE(ed_mkdirs(dir, &e) == 0);
    char f[1100];
    snprintf(f, sizeof f, "%s/sum-1", dir);
    FILE *fp = fopen(f, "w");
    ED_REQUIRE(fp);
    fclose(fp);
}

ED_TEST(an_aborted_checkpoint_is_removed_again_after_its_last_answer)
{
    char ck[512];
    fresh(ck, sizeof ck, "ck-late");
    ed_config *cfg = ed_config_new();
    ed_err e = {0};
    ED_REQUIRE(ed_config_set(cfg, "execution.checkpointing.interval", "10 ms", &e) == 0);
    ED_REQUIRE(ed_config_set(cfg, "execution.checkpointing.dir", ck, &e) == 0);
    ED_REQUIRE(ed_config_set(cfg, "execution.checkpointing.tolerable-failed-checkpoints", "5",
                             &e) == 0);
    ed_coord *c = ed_coord_new(cfg, "Job", 3, 128, NULL, &e); /* three tasks */
    ED_REQUIRE(c);
    char jobdir[600];
    snprintf(jobdir, sizeof jobdir, "%s/Job", ck);
    int64_t t = 0;
    ED_REQUIRE(ed_coord_maybe_trigger(c, t, &e) == 0); /* the first comes one interval in */
    ED_REQUIRE(ed_coord_maybe_trigger(c, t += 10, &e) == 1);
    char d1[1024];
    ed_coord_chk_dir(c, 1, d1, sizeof d1);
    ED_CHECK_INT(ack(c, 1, t), 0);
    ED_CHECK(!ed_coord_decline(c, 1, "disk full")); /* second task: aborted, removed */
    ED_CHECK(!exists(jobdir, "chk-1"));
    write_late(d1); /* the third task was still writing */
    ED_CHECK(exists(jobdir, "chk-1/sum-1"));
    ed_err_clear(&e);
    ED_CHECK_INT(ed_coord_ack(c, 1, NULL, t, &e), -2); /* its answer comes late */
    ED_CHECK(!exists(jobdir, "chk-1"));

    /* a task that never answers (it failed): removed at the end of the job */
    ED_REQUIRE(ed_coord_maybe_trigger(c, t += 10, &e) == 2);
    ED_CHECK(!ed_coord_decline(c, 2, "no"));
    char d2[1024];
    ed_coord_chk_dir(c, 2, d2, sizeof d2);
    write_late(d2);
    ED_CHECK(!ed_coord_decline(c, 2, "no")); /* one more answer: still one missing */
    write_late(d2);
    ed_coord_stop(c);
    ED_CHECK(exists(jobdir, "chk-2/sum-1"));
    ed_coord_sweep(c);
    ED_CHECK(!exists(jobdir, "chk-2"));
    ED_CHECK_INT(ed_coord_get_stats(c).failed, 2);
    ed_coord_free(c);
    ed_config_free(cfg);
}
