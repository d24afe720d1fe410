/*
 * control_test.c - `eddy list`, `cancel`, `savepoint` and `stop` against jobs started by
 * `eddy run`, as a user runs them: the real binary, its exact output and exit status.
 *
 * The job is examples/exactly_once_sum.c, throttled so that it is still running when the
 * commands reach it: it sums values per key and writes one `key,total` line per key
 * through the exactly-once file sink when its input ends (on MAX_WATERMARK). So:
 *   - a savepoint, or a stop without --drain, followed by `eddy run -s` of the savepoint
 *     writes exactly the totals of an uninterrupted run (nothing lost, nothing twice);
 *   - stop --drain fires the timers before the savepoint: the job writes the totals of
 *     exactly the records it read, a prefix of the input, and ends as FINISHED.
 * A stop whose savepoint fails after its barrier (its state files cannot be written)
 * leaves the job running, with nothing lost; a drained one fails the job. Every test has
 * its own registry directory (EDDY_RUN_DIR), so that jobs of other tests running at the
 * same time are not listed. Garbage sent to the control port gets ERR lines and the job
 * runs on. Every wait is bounded.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "ed_test.h"
#include "proc_util.h"

#define SUM_JOB EDDY_BUILD_DIR "/exactly_once_sum.so"
#define RATE "4000" /* records per second: 20000 lines take 5 s */
#define LINES 20000
#define JOB_NAME "Exactly-Once Sum"

/* ---- the input and the expected output ------------------------------------------------------ */

static const char *input_file(void)
{
    static char path[PATH_MAX];
    if (!path[0]) {
        scratch_path(path, sizeof path, "sum-in.csv");
        sbuf b = {0};
        uint64_t x = 4242;
        for (int i = 0; i < LINES; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            sb_printf(&b, "k%d,%d\n", (int)((x >> 33) % 31), (int)((x >> 13) % 1000));
        }
        char *t = sb_take(&b);
        if (write_file(path, t)) abort();
        free(t);
    }
    return path;
}

/* Sorted "key,total\n" lines of the first n input lines. */
static char *sums_of_prefix(long n)
{
    char keys[64][8];
    long long totals[64];
    int nk = 0;
    FILE *f = fopen(input_file(), "r");
    char k[8];
    long long v;
    for (long i = 0; i < n && f && fscanf(f, "%7[^,],%lld\n", k, &v) == 2; i++) {
        int j = 0;
        while (j < nk && strcmp(keys[j], k))
            j++;
        if (j == nk) {
            snprintf(keys[nk], sizeof keys[nk], "%s", k);
            totals[nk++] = 0;
        }
        totals[j] += v;
    }
    if (f) fclose(f);
    char *lines[64];
    for (int i = 0; i < nk; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s,%lld", keys[i], totals[i]);
        lines[i] = strdup(buf);
    }
    qsort(lines, (size_t)nk, sizeof(char *), cmp_str);
    sbuf s = {0};
    for (int i = 0; i < nk; i++) {
        sb_printf(&s, "%s\n", lines[i]);
        free(lines[i]);
    }
    return sb_take(&s);
}


/* ---- a job under control -------------------------------------------------------------------- */

typedef struct job {
    proc p;
    char env[PATH_MAX + 16]; /* EDDY_RUN_DIR=... for every command of the test */
    char rundir[PATH_MAX];
    char id[33], token[33];
    int port;
    long long start_ms;
} job;

/* The registry directory of test `name`, fresh. */
static void job_init(job *j, const char *name)
{
    memset(j, 0, sizeof(*j));
    char rel[64];
    snprintf(rel, sizeof rel, "run-%s", name);
    scratch_path(j->rundir, sizeof j->rundir, rel);
    snprintf(j->env, sizeof j->env, "EDDY_RUN_DIR=%s", j->rundir);
}

/* Reads the registry entry of the one job in j->rundir; true once it is RUNNING. */
static bool read_registry(job *j)
{
    DIR *d = opendir(j->rundir);
    if (!d) return false;
    struct dirent *de;
    bool running = false;
    while ((de = readdir(d)) && !running) {
        if (strlen(de->d_name) != 32) continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%.256s", j->rundir, de->d_name);
        char *t = slurp(path);
        if (!t) continue;
        char *s;
        if ((s = strstr(t, "\nport "))) j->port = atoi(s + 6);
        if ((s = strstr(t, "\nstart "))) j->start_ms = atoll(s + 7);
        if ((s = strstr(t, "\ntoken ")) && strlen(s) >= 7 + 32)
            snprintf(j->token, 33, "%.32s", s + 7);
        snprintf(j->id, sizeof j->id, "%.32s", de->d_name);
        running = strstr(t, "\nstate RUNNING\n") != NULL;
        free(t);
    }
    closedir(d);
    return running;
}

/* Starts `eddy run [-D extra]... exactly_once_sum.so IN OUT RATE` and waits until it is
 * registered as RUNNING and has read some of its input. */
static bool job_start(job *j, const char *out, const char *extra_d, const char *extra_d2)
{
    const char *argv[16];
    int n = 0;
    argv[n++] = EDDY;
    argv[n++] = "run";
    argv[n++] = "-D";
    argv[n++] = "log.level=WARN";
    if (extra_d) {
        argv[n++] = "-D";
        argv[n++] = extra_d;
    }
    if (extra_d2) {
        argv[n++] = "-D";
        argv[n++] = extra_d2;
    }
    argv[n++] = SUM_JOB;
    argv[n++] = input_file();
    argv[n++] = out;
    argv[n++] = RATE;
    argv[n] = NULL;
    if (proc_start(&j->p, (char *const *)argv, NULL, j->env)) return false;
    for (long long deadline = now_ms() + 20000; now_ms() < deadline; sleep_ms(10)) {
        if (proc_exited(&j->p)) break;
        if (read_registry(j)) {
            sleep_ms(300); /* some records are read and summed */
            return !proc_exited(&j->p);
        }
    }
    proc_wait(&j->p, 1000);
    ED_FAIL_AT("the job did not show up as RUNNING in %s; stderr: %s", j->rundir, j->p.err);
    return false;
}

/* Runs `eddy ARGS...` with the test's registry directory. */
#define EDDY_CTL(pr, j, ...) eddy_in((pr), NULL, (j)->env, __VA_ARGS__, (const char *)NULL)

/* The log levels under which a job reports how many records each operator read. */
#define COUNTS_LOGGED "log.level=WARN,runtime=INFO"

/* The records the job's throttle read, from its log (-1: not logged). These are exactly
 * the records its source emitted. */
static long records_read(const char *log)
{
    const char *s = strstr(log, "operator 'Filter' (1/1): ");
    long n;
    return s && sscanf(s, "operator 'Filter' (1/1): %ld records in", &n) == 1 ? n : -1;
}

/* Fails when the log holds a warning or an error. */
static void check_quiet(const char *log)
{
    if (strstr(log, " WARN ") || strstr(log, " ERROR ")) ED_FAIL_AT("the job complained:\n%s", log);
}

/* `eddy run -s SAVEPOINT exactly_once_sum.so IN OUT` at full speed; its committed output,
 * and in *nread the records it read. */
static char *restore_run(const job *j, const char *savepoint, const char *out, long *nread)
{
    proc q;
    eddy_in(&q, NULL, j->env, "run", "-D", COUNTS_LOGGED, "-s", savepoint, SUM_JOB, input_file(),
            out, (const char *)NULL);
    CHECK_EXIT(&q, 0);
    check_quiet(q.err);
    *nread = records_read(q.err);
    proc_free(&q);
    return committed(out);
}

/* Checks "Savepoint completed. Path: <dir>/savepoint-<6 hex of id>-<12 hex>\n" at `line`
 * and copies the path. */
static void check_savepoint_line(const char *line, const char *dir, const char *id, char *path,
                                 size_t cap)
{
    static const char head[] = "Savepoint completed. Path: ";
    path[0] = 0;
    if (!line || strncmp(line, head, sizeof head - 1) != 0) {
        ED_FAIL_AT("no \"%s\" line: \"%s\"", head, line ? line : "(none)");
        return;
    }
    const char *p = line + sizeof head - 1;
    size_t n = strcspn(p, "\n");
    snprintf(path, cap, "%.*s", (int)n, p);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/savepoint-%.6s-", dir, id);
    size_t wl = strlen(want);
    if (strncmp(path, want, wl) != 0 || strlen(path) != wl + 12 ||
        strspn(path + wl, "0123456789abcdef") != 12)
        ED_FAIL_AT("savepoint path \"%s\" is not %sXXXXXXXXXXXX", path, want);
    char meta[PATH_MAX + 32];
    struct stat st;
    snprintf(meta, sizeof meta, "%s/_metadata", path);
    if (stat(meta, &st) != 0) ED_FAIL_AT("%s does not exist", meta);
}

/* ---- list --------------------------------------------------------------------------------- */

ED_TEST(list_without_jobs)
{
    job j;
    job_init(&j, "none");
    proc p;
    EDDY_CTL(&p, &j, "list"); /* the registry directory does not even exist */
    CHECK_EXIT(&p, 0);
    ED_CHECK_STR(p.out, "Waiting for response...\nNo running jobs.\nNo scheduled jobs.\n");
    ED_CHECK_STR(p.err, "");
    proc_free(&p);
    ED_REQUIRE(mkdir(j.rundir, 0700) == 0);
    EDDY_CTL(&p, &j, "list", "-r");
    CHECK_EXIT(&p, 0);
    ED_CHECK_STR(p.out, "Waiting for response...\nNo running jobs.\n");
    proc_free(&p);
    EDDY_CTL(&p, &j, "list", "--scheduled");
    CHECK_EXIT(&p, 0);
    ED_CHECK_STR(p.out, "Waiting for response...\nNo scheduled jobs.\n");
    proc_free(&p);
    EDDY_CTL(&p, &j, "list", "--bogus");
    CHECK_EXIT(&p, 2);
    ED_CHECK_CONTAINS(p.err, "'--bogus'");
    proc_free(&p);
}

ED_TEST(list_ignores_and_removes_stale_entries)
{
    job j;
    job_init(&j, "stale");
    ED_REQUIRE(mkdir(j.rundir, 0700) == 0);
    /* a process that is gone */
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    ED_REQUIRE(dead > 0);
    waitpid(dead, NULL, 0);
    char stale[PATH_MAX + 40], junk[PATH_MAX + 40], text[512];
    snprintf(stale, sizeof stale, "%s/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", j.rundir);
    snprintf(text, sizeof text,
             "id aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nname Gone\npid %ld\nport 1\nstart 0\n"
             "state RUNNING\ntoken bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n",
             (long)dead);
    ED_REQUIRE(write_file(stale, text) == 0);
    /* a file that is no entry at all */
    snprintf(junk, sizeof junk, "%s/cccccccccccccccccccccccccccccccc", j.rundir);
    ED_REQUIRE(write_file(junk, "\x01\x02 garbage\nport 99999999999\n") == 0);
    proc p;
    EDDY_CTL(&p, &j, "list");
    CHECK_EXIT(&p, 0);
    ED_CHECK_STR(p.out, "Waiting for response...\nNo running jobs.\nNo scheduled jobs.\n");
    ED_CHECK_STR(p.err, "");
    proc_free(&p);
    struct stat st;
    ED_CHECK(stat(stale, &st) != 0); /* cleaned */
    /* and a command naming the stale job does not find it */
    EDDY_CTL(&p, &j, "cancel", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    CHECK_EXIT(&p, 1);
    proc_free(&p);
}

ED_TEST(list_shows_the_running_job_and_cancel_ends_it)
{
    job j;
    job_init(&j, "cancel");
    char out[PATH_MAX];
    scratch_path(out, sizeof out, "out-cancel");
    ED_REQUIRE(job_start(&j, out, NULL, NULL));
    /* Flink's format: start time (dd.MM.yyyy HH:mm:ss), JobID, name, state */
    char when[64], want[1024];
    time_t t = (time_t)(j.start_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%d.%m.%Y %H:%M:%S", &tm);
    snprintf(want, sizeof want,
             "Waiting for response...\n"
             "------------------ Running/Restarting Jobs -------------------\n"
             "%s : %s : " JOB_NAME " (RUNNING)\n"
             "--------------------------------------------------------------\n"
             "No scheduled jobs.\n",
             when, j.id);
    proc p;
    EDDY_CTL(&p, &j, "list");
    CHECK_EXIT(&p, 0);
    ED_CHECK_STR(p.out, want);
    ED_CHECK_STR(p.err, "");
    proc_free(&p);

    /* the JobID in capitals is the same JobID */
    char upper[33];
    for (int i = 0; i < 33; i++)
        upper[i] = (char)toupper((unsigned char)j.id[i]);
    EDDY_CTL(&p, &j, "cancel", upper);
    CHECK_EXIT(&p, 0);
    snprintf(want, sizeof want, "Cancelling job %s.\nCancelled job %s.\n", j.id, j.id);
    ED_CHECK_STR(p.out, want);
    ED_CHECK_STR(p.err, "");
    proc_free(&p);
    /* eddy run ends as when it is cancelled by a signal */
    proc_wait(&j.p, TIMEOUT_MS);
    CHECK_EXIT(&j.p, 1);
    ED_CHECK_CONTAINS(j.p.err, "eddy run: job '" JOB_NAME "' was cancelled");
    proc_free(&j.p);
    /* and is no longer listed */
    EDDY_CTL(&p, &j, "list");
    CHECK_EXIT(&p, 0);
    ED_CHECK_STR(p.out, "Waiting for response...\nNo running jobs.\nNo scheduled jobs.\n");
    proc_free(&p);
    EDDY_CTL(&p, &j, "cancel", j.id);
    CHECK_EXIT(&p, 1);
    ED_CHECK_STR(p.out, "");
    proc_free(&p);
}

/* ---- savepoint ---------------------------------------------------------------------------- */

ED_TEST(savepoint_of_a_running_job_restores_to_the_uninterrupted_result)
{
    job j;
    job_init(&j, "savepoint");
    char out[PATH_MAX], spdir[PATH_MAX], want[PATH_MAX + 256];
    scratch_path(out, sizeof out, "out-savepoint");
    scratch_path(spdir, sizeof spdir, "savepoints-a");
    ED_REQUIRE(job_start(&j, out, NULL, NULL));
    proc p;
    /* no directory given and none configured: an error, and the job runs on */
    EDDY_CTL(&p, &j, "savepoint", j.id);
    CHECK_EXIT(&p, 1);
    ED_CHECK_CONTAINS(p.err, "eddy savepoint: Failed to trigger a savepoint for the job ");
    ED_CHECK_CONTAINS(p.err, "execution.checkpointing.savepoint-dir");
    proc_free(&p);
    ED_CHECK(!proc_exited(&j.p));

    EDDY_CTL(&p, &j, "savepoint", j.id, spdir);
    CHECK_EXIT(&p, 0);
    snprintf(want, sizeof want, "Triggering savepoint for job %s.\nWaiting for response...\n",
             j.id);
    ED_CHECK(strncmp(p.out, want, strlen(want)) == 0);
    char path[PATH_MAX + 64];
    size_t n;
    char **lines = split_lines(p.out, &n);
    ED_CHECK_INT(n, 4);
    check_savepoint_line(n > 2 ? lines[2] : NULL, spdir, j.id, path, sizeof path);
    ED_CHECK_STR(n > 3 ? lines[3] : "",
                 "You can resume your program from this savepoint with the run command.");
    free_lines(lines, n);
    ED_CHECK_STR(p.err, "");
    proc_free(&p);

    /* the job runs on after a savepoint; then it is cancelled before its end */
    sleep_ms(200);
    ED_CHECK(!proc_exited(&j.p));
    EDDY_CTL(&p, &j, "cancel", j.id);
    CHECK_EXIT(&p, 0);
    proc_free(&p);
    proc_wait(&j.p, TIMEOUT_MS);
    CHECK_EXIT(&j.p, 1);
    proc_free(&j.p);
    char *got = committed(out);
    ED_CHECK_STR(got, ""); /* it had written nothing yet */
    free(got);

    /* started from the savepoint, into the same directory: the uninterrupted result */
    long nread;
    got = restore_run(&j, path, out, &nread);
    ED_CHECK(nread > 0 && nread < LINES);
    char *expect = sums_of_prefix(LINES);
    ED_REQUIRE(got);
    CHECK_TEXT(got, expect);
    free(got);
    free(expect);
}

/* A savepoint taken at parallelism 2 restores at 1 and at 4: keyed sums redistributed by
 * key group, the source's splits dealt anew, the sink's pending files committed by their
 * new owners; the output is the uninterrupted result. */
ED_TEST(savepoint_at_parallelism_2_restores_at_1_and_at_4)
{
    static const char *const restore_p[] = {"1", "4"};
    for (int r = 0; r < 2; r++) {
        job j;
        char name[32], rel[64];
        snprintf(name, sizeof name, "rescale-%s", restore_p[r]);
        job_init(&j, name);
        char out[PATH_MAX], spdir[PATH_MAX];
        snprintf(rel, sizeof rel, "out-rescale-%s", restore_p[r]);
        scratch_path(out, sizeof out, rel);
        snprintf(rel, sizeof rel, "savepoints-rescale-%s", restore_p[r]);
        scratch_path(spdir, sizeof spdir, rel);
        ED_REQUIRE(job_start(&j, out, "parallelism.default=2", NULL));
        proc p;
        EDDY_CTL(&p, &j, "savepoint", j.id, spdir);
        CHECK_EXIT(&p, 0);
        char path[PATH_MAX + 64];
        size_t n;
        char **lines = split_lines(p.out, &n);
        check_savepoint_line(n > 2 ? lines[2] : NULL, spdir, j.id, path, sizeof path);
        free_lines(lines, n);
        proc_free(&p);
        EDDY_CTL(&p, &j, "cancel", j.id);
        CHECK_EXIT(&p, 0);
        proc_free(&p);
        proc_wait(&j.p, TIMEOUT_MS);
        proc_free(&j.p);

        proc q;
        eddy_in(&q, NULL, j.env, "run", "-p", restore_p[r], "-s", path, SUM_JOB, input_file(),
                out, (const char *)NULL);
        CHECK_EXIT(&q, 0);
        proc_free(&q);
        char *got = committed(out), *expect = sums_of_prefix(LINES);
        ED_REQUIRE(got);
        CHECK_TEXT(got, expect);
        free(got);
        free(expect);
    }
}

/* ---- stop --------------------------------------------------------------------------------- */

ED_TEST(stop_then_run_from_the_savepoint_gives_the_uninterrupted_result)
{
    job j;
    job_init(&j, "stop");
    char out[PATH_MAX], spdir[PATH_MAX], dflag[PATH_MAX + 64], want[256];
    scratch_path(out, sizeof out, "out-stop");
    scratch_path(spdir, sizeof spdir, "savepoints-default");
    snprintf(dflag, sizeof dflag, "execution.checkpointing.savepoint-dir=%s", spdir);
    /* (the log level goes last: the job's -D log.level=WARN comes first) */
    ED_REQUIRE(job_start(&j, out, dflag, COUNTS_LOGGED));
    proc p;
    /* no -p: the job's execution.checkpointing.savepoint-dir */
    EDDY_CTL(&p, &j, "stop", j.id);
    CHECK_EXIT(&p, 0);
    snprintf(want, sizeof want, "Suspending job \"%s\" with a savepoint.\n", j.id);
    size_t n;
    char **lines = split_lines(p.out, &n);
    ED_CHECK_INT(n, 2);
    ED_CHECK(strncmp(p.out, want, strlen(want)) == 0);
    char path[PATH_MAX + 64];
    check_savepoint_line(n > 1 ? lines[1] : NULL, spdir, j.id, path, sizeof path);
    free_lines(lines, n);
    ED_CHECK_STR(p.err, "");
    proc_free(&p);
    /* the job has ended when stop returns: FINISHED, status 0, no totals (no drain) */
    proc_wait(&j.p, TIMEOUT_MS);
    CHECK_EXIT(&j.p, 0);
    ED_CHECK_STR(j.p.out, "");
    check_quiet(j.p.err);
    long before = records_read(j.p.err);
    proc_free(&j.p);
    char *got = committed(out);
    ED_CHECK_STR(got, "");
    free(got);

    /* -s also takes the _metadata file, as in Flink */
    char meta[PATH_MAX + 80];
    snprintf(meta, sizeof meta, "%s/_metadata", path);
    long after;
    got = restore_run(&j, meta, out, &after);
    char *expect = sums_of_prefix(LINES);
    ED_REQUIRE(got);
    CHECK_TEXT(got, expect);
    free(got);
    free(expect);
    /* no record was emitted after the savepoint's barrier, none is read twice */
    ED_CHECK(before > 0 && after > 0);
    ED_CHECK_INT(before + after, LINES);
}

ED_TEST(stop_drain_fires_the_timers_and_finishes)
{
    job j;
    job_init(&j, "drain");
    char out[PATH_MAX], spdir[PATH_MAX], want[256];
    scratch_path(out, sizeof out, "out-drain");
    scratch_path(spdir, sizeof spdir, "savepoints-drain");
    ED_REQUIRE(job_start(&j, out, COUNTS_LOGGED, NULL));
    proc p;
    EDDY_CTL(&p, &j, "stop", "--drain", "--savepointPath", spdir, j.id);
    CHECK_EXIT(&p, 0);
    snprintf(want, sizeof want, "Draining job \"%s\" with a savepoint.\n", j.id);
    size_t n;
    char **lines = split_lines(p.out, &n);
    ED_CHECK_INT(n, 2);
    ED_CHECK(strncmp(p.out, want, strlen(want)) == 0);
    char path[PATH_MAX + 64];
    check_savepoint_line(n > 1 ? lines[1] : NULL, spdir, j.id, path, sizeof path);
    free_lines(lines, n);
    proc_free(&p);
    proc_wait(&j.p, TIMEOUT_MS);
    CHECK_EXIT(&j.p, 0);
    check_quiet(j.p.err);
    long before = records_read(j.p.err);
    proc_free(&j.p);
    /* MAX_WATERMARK fired every key's timer before the barrier: the totals of exactly the
     * records read, committed with the savepoint - a prefix of the input, not all of it */
    char *got = committed(out);
    ED_REQUIRE(got);
    ED_REQUIRE(before > 0 && before < LINES);
    char *expect = sums_of_prefix(before);
    CHECK_TEXT(got, expect);
    free(expect);
    free(got);
    /* the drained savepoint holds the source's position: a run from it reads the rest (its
     * timers have fired, so, as Flink warns, it is no way to resume such a job) */
    char out2[PATH_MAX];
    scratch_path(out2, sizeof out2, "out-drain-2");
    long after;
    got = restore_run(&j, path, out2, &after);
    ED_CHECK_INT(before + after, LINES);
    /* every key was seen before the stop, and its timer fired before the barrier: none is
     * left in the savepoint to fire again */
    ED_CHECK_STR(got, "");
    free(got);
}

ED_TEST(stop_that_cannot_take_its_savepoint_leaves_the_job_running)
{
    job j;
    job_init(&j, "stopfail");
    char out[PATH_MAX], blocker[PATH_MAX], dir[PATH_MAX + 8];
    scratch_path(out, sizeof out, "out-stopfail");
    scratch_path(blocker, sizeof blocker, "a-file");
    ED_REQUIRE(write_file(blocker, "not a directory\n") == 0);
    snprintf(dir, sizeof dir, "%s/sp", blocker);
    ED_REQUIRE(job_start(&j, out, NULL, NULL));
    proc p;
    EDDY_CTL(&p, &j, "stop", "-d", "-p", dir, j.id);
    CHECK_EXIT(&p, 1);
    ED_CHECK_CONTAINS(p.err, "eddy stop: Could not stop with a savepoint job \"");
    ED_CHECK_CONTAINS(p.err, blocker);
    proc_free(&p);
    sleep_ms(100);
    ED_CHECK(!proc_exited(&j.p));
    /* it still answers, and a later stop works */
    char spdir[PATH_MAX];
    scratch_path(spdir, sizeof spdir, "savepoints-stopfail");
    EDDY_CTL(&p, &j, "stop", "-p", spdir, j.id);
    CHECK_EXIT(&p, 0);
    proc_free(&p);
    proc_wait(&j.p, TIMEOUT_MS);
    CHECK_EXIT(&j.p, 0);
    proc_free(&j.p);
}

/* A directory path so long that a savepoint directory under it can still be made, but no
 * state file in it: PATH_MAX (4096) cuts "<savepoint dir>/input-0.tmp.<pid>" short. So a
 * savepoint there fails after its barrier, when the tasks write their state. */
static void too_deep_dir(char *out, size_t cap)
{
    /* savepoint-<6>-<12> adds 30 characters; the result stays within 4095 */
    const size_t want = 4095 - 30 - 2;
    ED_REQUIRE(cap > want);
    size_t n = strlen(scratch_dir());
    ED_REQUIRE(n + 5 < want);
    memcpy(out, scratch_dir(), n);
    memcpy(out + n, "/deep", 6);
    n += 5;
    while (n < want) {
        size_t part = want - n - 1 > 200 ? 200 : want - n - 1;
        if (part == 0) break;
        out[n++] = '/';
        memset(out + n, 'd', part);
        n += part;
        out[n] = 0;
    }
}

ED_TEST(stop_whose_savepoint_fails_after_its_barrier_leaves_the_job_running)
{
    job j;
    job_init(&j, "latefail");
    char out[PATH_MAX], deep[PATH_MAX + 1], spdir[PATH_MAX];
    scratch_path(out, sizeof out, "out-latefail");
    scratch_path(spdir, sizeof spdir, "savepoints-latefail");
    too_deep_dir(deep, sizeof deep);
    ED_REQUIRE(job_start(&j, out, COUNTS_LOGGED, NULL));
    proc p;
    /* the sources took part and waited for the savepoint; it failed: they go on */
    EDDY_CTL(&p, &j, "stop", "-p", deep, j.id);
    CHECK_EXIT(&p, 1);
    ED_CHECK_CONTAINS(p.err, "eddy stop: Could not stop with a savepoint job \"");
    ED_CHECK_CONTAINS(p.err, "declined");
    proc_free(&p);
    sleep_ms(200);
    ED_CHECK(!proc_exited(&j.p));
    EDDY_CTL(&p, &j, "stop", "-p", spdir, j.id);
    CHECK_EXIT(&p, 0);
    size_t n;
    char **lines = split_lines(p.out, &n);
    char path[PATH_MAX + 64];
    check_savepoint_line(n > 1 ? lines[1] : NULL, spdir, j.id, path, sizeof path);
    free_lines(lines, n);
    proc_free(&p);
    proc_wait(&j.p, TIMEOUT_MS);
    CHECK_EXIT(&j.p, 0);
    long before = records_read(j.p.err);
    proc_free(&j.p);
    /* nothing was lost or repeated around the failed savepoint */
    long after;
    char *got = restore_run(&j, path, out, &after);
    char *expect = sums_of_prefix(LINES);
    ED_REQUIRE(got);
    CHECK_TEXT(got, expect);
    ED_CHECK_INT(before + after, LINES);
    free(got);
    free(expect);
}

ED_TEST(stop_drain_whose_savepoint_fails_fails_the_job)
{
    job j;
    job_init(&j, "drainfail");
    char out[PATH_MAX], deep[PATH_MAX + 1];
    scratch_path(out, sizeof out, "out-drainfail");
    too_deep_dir(deep, sizeof deep);
    ED_REQUIRE(job_start(&j, out, NULL, NULL));
    proc p;
    EDDY_CTL(&p, &j, "stop", "--drain", "-p", deep, j.id);
    CHECK_EXIT(&p, 1);
    ED_CHECK_CONTAINS(p.err, "declined");
    proc_free(&p);
    /* its event time has ended: it cannot go on */
    proc_wait(&j.p, TIMEOUT_MS);
    CHECK_EXIT(&j.p, 1);
    ED_CHECK_CONTAINS(j.p.err, "of a stop --drain failed after the sources had emitted "
                               "MAX_WATERMARK");
    proc_free(&j.p);
}

/* ---- job ids and usage -------------------------------------------------------------------- */

ED_TEST(unknown_and_malformed_job_ids)
{
    job j;
    job_init(&j, "ids");
    static const char unknown[] = "0123456789abcdef0123456789abcdef";
    static const char *const verbs[][3] = {{"cancel", NULL}, {"savepoint", NULL}, {"stop", "-p"}};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        const char *v = verbs[i][0];
        proc p;
        if (verbs[i][1])
            EDDY_CTL(&p, &j, v, "-p", "/tmp", unknown);
        else
            EDDY_CTL(&p, &j, v, unknown);
        CHECK_EXIT(&p, 1);
        ED_CHECK_STR(p.out, "");
        char want[256];
        snprintf(want, sizeof want,
                 "eddy %s: no running job has the JobID %s ('eddy list' shows the running "
                 "jobs)\n",
                 v, unknown);
        ED_CHECK_STR(p.err, want);
        proc_free(&p);

        EDDY_CTL(&p, &j, v, "not-a-job-id");
        CHECK_EXIT(&p, 2);
        ED_CHECK_STR(p.out, "");
        snprintf(want, sizeof want,
                 "eddy %s: Cannot parse JobID from \"not-a-job-id\". The expected format is "
                 "[0-9a-fA-F]{32}, e.g. fd72014d4c864993a2e5a9287b4a9c5d.\n",
                 v);
        ED_CHECK(strncmp(p.err, want, strlen(want)) == 0);
        proc_free(&p);

        EDDY_CTL(&p, &j, v, "0123456789abcdef0123456789abcdeg"); /* 'g' */
        CHECK_EXIT(&p, 2);
        proc_free(&p);

        eddy_in(&p, NULL, j.env, v, (const char *)NULL); /* no JobID */
        CHECK_EXIT(&p, 2);
        ED_CHECK_CONTAINS(p.err, "Missing JobID");
        proc_free(&p);
    }
}

ED_TEST(help_shows_the_control_verbs)
{
    proc p;
    EDDY_RUN(&p, "help");
    CHECK_EXIT(&p, 0);
    ED_CHECK_CONTAINS(p.out, "\n  list ");
    ED_CHECK_CONTAINS(p.out, "\n  cancel ");
    ED_CHECK_CONTAINS(p.out, "\n  savepoint ");
    ED_CHECK_CONTAINS(p.out, "\n  stop ");
    proc_free(&p);
    static const char *const verbs[] = {"list", "cancel", "savepoint", "stop"};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "Usage: eddy %s", verbs[i]);
        EDDY_RUN(&p, verbs[i], "--help");
        CHECK_EXIT(&p, 0);
        ED_CHECK(strncmp(p.out, want, strlen(want)) == 0);
        proc_free(&p);
        EDDY_RUN(&p, "help", verbs[i]);
        CHECK_EXIT(&p, 0);
        ED_CHECK(strncmp(p.out, want, strlen(want)) == 0);
        proc_free(&p);
    }
    EDDY_RUN(&p, "stop", "-h");
    ED_CHECK_CONTAINS(p.out, "-p, --savepointPath DIR");
    ED_CHECK_CONTAINS(p.out, "-d, --drain");
    proc_free(&p);
}

/* ---- the control port --------------------------------------------------------------------- */

/* Sends `data` (n bytes), ends the request and returns the answer. */
static char *send_raw(int port, const void *data, size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
        if (fd >= 0) close(fd);
        return strdup("(cannot connect)");
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, (const char *)data + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    sbuf b = {0};
    char buf[512];
    for (long long deadline = now_ms() + 10000; now_ms() < deadline;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
        if (r <= 0) break;
        buf[r] = 0;
        sb_printf(&b, "%s", buf);
    }
    close(fd);
    return sb_take(&b);
}

ED_TEST(garbage_on_the_control_port_gets_errors_and_the_job_runs_on)
{
    job j;
    job_init(&j, "garbage");
    char out[PATH_MAX];
    scratch_path(out, sizeof out, "out-garbage");
    ED_REQUIRE(job_start(&j, out, NULL, NULL));
    char line[256];
    struct {
        const char *data;
        size_t n;
        const char *want; /* the answer starts with it */
    } cases[] = {
        {"garbage\n", 8, "ERR not authorized"},
        {"\n", 1, "ERR not authorized"},
        {"00000000000000000000000000000000 STATUS\n", 40, "ERR not authorized"},
        {"\xff\xfe\x01\n", 4, "ERR not authorized"},
        {"a\0b\n", 4, "ERR the request holds a NUL byte"},
        {"", 0, "ERR the connection ended before a request line"},
        {"STATUS", 6, "ERR the connection ended before a request line"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = send_raw(j.port, cases[i].data, cases[i].n);
        if (strncmp(got, cases[i].want, strlen(cases[i].want)) != 0 || !strchr(got, '\n'))
            ED_FAIL_AT("case %zu: answer \"%s\", expected \"%s...\"", i, got, cases[i].want);
        free(got);
    }
    /* the right token: unknown verbs and a verb quoted safely */
    snprintf(line, sizeof line, "%s FROBNICATE now\n", j.token);
    char *got = send_raw(j.port, line, strlen(line));
    ED_CHECK_STR(got,
                 "ERR unknown request 'FROBNICATE' (STATUS, CANCEL, SAVEPOINT, STOP, DRAIN)\n");
    free(got);
    snprintf(line, sizeof line, "%s \x1b[2J\n", j.token);
    got = send_raw(j.port, line, strlen(line));
    ED_CHECK_STR(got, "ERR unknown request '?[2J' (STATUS, CANCEL, SAVEPOINT, STOP, DRAIN)\n");
    free(got);
    /* a request far too long, without a newline */
    size_t big = 64 << 10;
    char *junk = malloc(big);
    memset(junk, 'x', big);
    got = send_raw(j.port, junk, big);
    ED_CHECK(strncmp(got, "ERR the request is longer than", 30) == 0);
    free(got);
    free(junk);
    /* many connections at once that say nothing: the job still answers and runs */
    int idle[12];
    for (int i = 0; i < 12; i++) {
        idle[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)j.port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(idle[i], (struct sockaddr *)&a, sizeof a)) ED_FAIL_AT("connect %d", i);
    }
    for (int i = 0; i < 12; i++)
        close(idle[i]);
    snprintf(line, sizeof line, "%s STATUS\r\n", j.token);
    char want[128];
    snprintf(want, sizeof want, "OK %s RUNNING\n", j.id);
    got = NULL;
    for (long long deadline = now_ms() + 5000; now_ms() < deadline; sleep_ms(20)) {
        free(got);
        got = send_raw(j.port, line, strlen(line));
        if (strcmp(got, want) == 0) break;
    }
    ED_CHECK_STR(got, want);
    free(got);

    ED_CHECK(!proc_exited(&j.p));
    proc p;
    EDDY_CTL(&p, &j, "list", "-r");
    CHECK_EXIT(&p, 0);
    ED_CHECK_CONTAINS(p.out, " (RUNNING)\n");
    proc_free(&p);
    EDDY_CTL(&p, &j, "cancel", j.id);
    CHECK_EXIT(&p, 0);
    proc_free(&p);
    proc_wait(&j.p, TIMEOUT_MS);
    CHECK_EXIT(&j.p, 1);
    proc_free(&j.p);
}
