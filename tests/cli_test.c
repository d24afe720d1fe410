/*
 * cli_test.c - the `eddy` command as a user runs it: the real binary is started with
 * fork/exec (no shell), its stdout and stderr captured in files, and its exit status, its
 * output and its messages checked exactly: usage and version, usage errors (status 2),
 * load and job failures (status 1), WordCount over a file at parallelism 1 and 2 (printed
 * and written as CSV), configuration files, socket WordCount and cancellation by signal.
 *
 * Expected WordCount output is computed here from the input text, independently of the
 * engine. Every wait is bounded: a child that hangs is killed and the test fails.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <eddy/eddy.h>

#include "ed_test.h"
#include "proc_util.h"

#define WORDCOUNT EDDY_BUILD_DIR "/wordcount.so"
#define SOCKET_WORDCOUNT EDDY_BUILD_DIR "/socket_wordcount.so"

/* ---- expected WordCount output, computed independently --------------------------------------- */

typedef struct word_counts {
    char **words;
    long *counts;
    size_t len, cap;
} word_counts;

/* Counts one more `w`; returns its new count. */
static long wc_add(word_counts *c, const char *w)
{
    for (size_t i = 0; i < c->len; i++)
        if (strcmp(c->words[i], w) == 0) return ++c->counts[i];
    if (c->len == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->words = realloc(c->words, c->cap * sizeof(char *));
        c->counts = realloc(c->counts, c->cap * sizeof(long));
    }
    c->words[c->len] = strdup(w);
    c->counts[c->len] = 1;
    c->len++;
    return 1;
}

/* Sets the count of `w` (the table doubles as a map from words to numbers). */
static void wc_set(word_counts *c, const char *w, long v)
{
    for (size_t i = 0; i < c->len; i++)
        if (strcmp(c->words[i], w) == 0) {
            c->counts[i] = v;
            return;
        }
    wc_add(c, w);
    c->counts[c->len - 1] = v;
}

static long wc_get(const word_counts *c, const char *w)
{
    for (size_t i = 0; i < c->len; i++)
        if (strcmp(c->words[i], w) == 0) return c->counts[i];
    return 0;
}

static void wc_free(word_counts *c)
{
    for (size_t i = 0; i < c->len; i++) free(c->words[i]);
    free(c->words);
    free(c->counts);
    memset(c, 0, sizeof(*c));
}

/* The rolling counts of `text` as WordCount emits them at parallelism 1: words are maximal
 * runs of ASCII letters and digits, lower-cased; each occurrence prints its count so far.
 * `csv` selects "word,n" lines instead of "+I[word, n]". Fills `totals` when given. */
static char *expected_rolling(const char *text, bool csv, word_counts *totals)
{
    word_counts c = {0};
    sbuf out = {0};
    char word[256];
    for (const char *s = text; *s;) {
        if (!isalnum((unsigned char)*s)) {
            s++;
            continue;
        }
        size_t n = 0;
        while (isalnum((unsigned char)*s)) {
            if (n + 1 < sizeof(word)) word[n++] = (char)tolower((unsigned char)*s);
            s++;
        }
        word[n] = 0;
        long k = wc_add(&c, word);
        if (csv)
            sb_printf(&out, "%s,%ld\n", word, k);
        else
            sb_printf(&out, "+I[%s, %ld]\n", word, k);
    }
    if (totals)
        *totals = c;
    else
        wc_free(&c);
    return sb_take(&out);
}

/* The input: mixed case, punctuation, digits, a blank line, CRLF, words split by '-', '_'
 * and '\'', many lines (so that two subtasks each read a byte range) and a last line
 * without a newline. */
static char *input_text(void)
{
    sbuf b = {0};
    sb_printf(&b, "To be, or not to be, that is the question:\n"
                  "Whether 'tis nobler in the mind to suffer\n"
                  "\n"
                  "THE slings & arrows of outrageous fortune,\r\n"
                  "Or to take arms -- against a sea of troubles--\n"
                  "and by opposing end them. 2b or NOT 2B; R2D2 c3po\n");
    for (int i = 0; i < 300; i++)
        sb_printf(&b, "line %d: Alpha beta%d GAMMA-%d delta_epsilon, to be\n", i % 37, i % 7,
                  i % 11);
    sb_printf(&b, "the End without a newline");
    return sb_take(&b);
}

/* Writes the input into the scratch directory once; returns its path. */
static const char *input_file(void)
{
    static char path[PATH_MAX];
    if (!path[0]) {
        scratch_path(path, sizeof(path), "input.txt");
        char *t = input_text();
        if (write_file(path, t)) {
            perror(path);
            abort();
        }
        free(t);
    }
    return path;
}

/*
 * Checks WordCount output printed by a sink of parallelism 2: every line carries a "1> " or
 * "2> " prefix; without prefixes the lines are the expected rolling counts as a multiset;
 * all lines of a word come from one subtask (keyed state lives in one place), in order
 * 1, 2, 3, ...; the last count of each word is its independent total; both subtasks print.
 */
static void check_p2_output(const char *out, const char *text)
{
    word_counts totals;
    char *want = expected_rolling(text, false, &totals);
    size_t n;
    char **lines = split_lines(out, &n);
    ED_CHECK(n == 0 || out[strlen(out) - 1] == '\n');
    word_counts last = {0};  /* per word: the count seen last */
    word_counts owner = {0}; /* per word: the subtask that printed it */
    bool seen[3] = {false, false, false};
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char *l = lines[i];
        if (!((l[0] == '1' || l[0] == '2') && l[1] == '>' && l[2] == ' ')) {
            if (bad++ < 5) ED_FAIL_AT("line %zu has no \"1> \" or \"2> \" prefix: \"%s\"", i, l);
            continue;
        }
        int sub = l[0] - '0';
        seen[sub] = true;
        memmove(l, l + 3, strlen(l + 3) + 1);
        char word[256];
        long k;
        int end = 0;
        if (sscanf(l, "+I[%255[^,], %ld]%n", word, &k, &end) != 2 || l[end] != 0) {
            if (bad++ < 5) ED_FAIL_AT("line %zu is not a WordCount row: \"%s\"", i, l);
            continue;
        }
        long prev = wc_get(&last, word);
        long own = wc_get(&owner, word);
        if (own == 0)
            wc_set(&owner, word, sub);
        else if (own != sub && bad++ < 5)
            ED_FAIL_AT("word '%s' printed by subtasks %ld and %d", word, own, sub);
        if (k != prev + 1 && bad++ < 5)
            ED_FAIL_AT("word '%s': count %ld follows %ld in the output", word, k, prev);
        wc_set(&last, word, k);
    }
    check_same_lines(lines, n, want, "p=2 output without prefixes");
    for (size_t i = 0; i < totals.len; i++)
        if (wc_get(&last, totals.words[i]) != totals.counts[i])
            ED_FAIL_AT("word '%s': last count %ld, expected %ld", totals.words[i],
                       wc_get(&last, totals.words[i]), totals.counts[i]);
    ED_CHECK(seen[1] && seen[2]);
    free_lines(lines, n);
    free(want);
    wc_free(&totals);
    wc_free(&last);
    wc_free(&owner);
}

/* ---- usage and version ----------------------------------------------------------------------- */

ED_TEST(version)
{
    static const char *const forms[] = {"--version", "-v", "version"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        proc p;
        EDDY_RUN(&p, forms[i]);
        CHECK_EXIT(&p, 0);
        ED_CHECK_STR(p.out, "eddy " EDDY_VERSION "\n");
        ED_CHECK_STR(p.err, "");
        proc_free(&p);
    }
}

ED_TEST(help)
{
    static const char *const forms[] = {"--help", "-h", "help"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        proc p;
        EDDY_RUN(&p, forms[i]);
        CHECK_EXIT(&p, 0);
        ED_CHECK(strncmp(p.out, "Usage: eddy COMMAND", 19) == 0);
        ED_CHECK_CONTAINS(p.out, "\n  run ");
        ED_CHECK_CONTAINS(p.out, "--version");
        ED_CHECK_STR(p.err, "");
        proc_free(&p);
    }
}

ED_TEST(run_help)
{
    static const char *const forms[][2] = {{"run", "--help"}, {"run", "-h"}, {"help", "run"}};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        proc p;
        EDDY_RUN(&p, forms[i][0], forms[i][1]);
        CHECK_EXIT(&p, 0);
        ED_CHECK(strncmp(p.out, "Usage: eddy run ", 16) == 0);
        ED_CHECK_CONTAINS(p.out, "-p, --parallelism N");
        ED_CHECK_CONTAINS(p.out, "-D key=value");
        ED_CHECK_CONTAINS(p.out, "-c, --config FILE");
        ED_CHECK_STR(p.err, "");
        proc_free(&p);
    }
    /* --help before the job wins over the other options */
    proc p;
    EDDY_RUN(&p, "run", "-p", "2", "--help");
    CHECK_EXIT(&p, 0);
    ED_CHECK(strncmp(p.out, "Usage: eddy run ", 16) == 0);
    proc_free(&p);
}

ED_TEST(no_command_is_a_usage_error)
{
    proc p;
    EDDY_RUN(&p, (const char *)NULL);
    CHECK_EXIT(&p, 2);
    ED_CHECK_STR(p.out, "");
    ED_CHECK_CONTAINS(p.err, "Usage: eddy COMMAND");
    proc_free(&p);
}

ED_TEST(unknown_command_is_a_usage_error)
{
    proc p;
    EDDY_RUN(&p, "frobnicate", "x");
    CHECK_EXIT(&p, 2);
    ED_CHECK_STR(p.out, "");
    ED_CHECK_CONTAINS(p.err, "eddy: unknown command 'frobnicate'");
    proc_free(&p);

    EDDY_RUN(&p, "help", "frobnicate");
    CHECK_EXIT(&p, 2);
    ED_CHECK_STR(p.out, "");
    ED_CHECK_CONTAINS(p.err, "'frobnicate'");
    proc_free(&p);
}

/* ---- usage errors and load failures of `eddy run` -------------------------------------------- */

ED_TEST(run_without_job)
{
    proc p;
    EDDY_RUN(&p, "run");
    CHECK_EXIT(&p, 2);
    ED_CHECK_STR(p.out, "");
    ED_CHECK(strncmp(p.err, "eddy run: no job given\n", 23) == 0);
    proc_free(&p);

    EDDY_RUN(&p, "run", "-p", "2", "-D", "log.level=WARN");
    CHECK_EXIT(&p, 2);
    ED_CHECK_CONTAINS(p.err, "eddy run: no job given");
    proc_free(&p);
}

ED_TEST(run_bad_options)
{
    proc p;
    EDDY_RUN(&p, "run", "-D", "parallelism.default=abc", WORDCOUNT);
    CHECK_EXIT(&p, 2);
    ED_CHECK_STR(p.out, "");
    ED_CHECK_CONTAINS(p.err, "eddy run: ");
    ED_CHECK_CONTAINS(p.err, "parallelism.default");
    ED_CHECK_CONTAINS(p.err, "'abc'");
    proc_free(&p);

    EDDY_RUN(&p, "run", "-p", "abc", WORDCOUNT);
    CHECK_EXIT(&p, 2);
    ED_CHECK_CONTAINS(p.err, "parallelism.default");
    proc_free(&p);

    EDDY_RUN(&p, "run", "-p", "0", WORDCOUNT);
    CHECK_EXIT(&p, 2);
    ED_CHECK_CONTAINS(p.err, "parallelism.default");
    proc_free(&p);

    EDDY_RUN(&p, "run", "-D", "log.level=LOUD", WORDCOUNT);
    CHECK_EXIT(&p, 2);
    ED_CHECK_CONTAINS(p.err, "log.level");
    proc_free(&p);

    EDDY_RUN(&p, "run", "-D", "no-equals-sign", WORDCOUNT);
    CHECK_EXIT(&p, 2);
    ED_CHECK_CONTAINS(p.err, "no-equals-sign");
    proc_free(&p);

    EDDY_RUN(&p, "run", "--frobnicate", "x", WORDCOUNT);
    CHECK_EXIT(&p, 2);
    ED_CHECK_CONTAINS(p.err, "'--frobnicate'");
    proc_free(&p);

    EDDY_RUN(&p, "run", "-p");
    CHECK_EXIT(&p, 2);
    ED_CHECK_CONTAINS(p.err, "'-p'");
    proc_free(&p);
}

ED_TEST(run_cannot_load_job)
{
    proc p;
    EDDY_RUN(&p, "run", "/nonexistent.so");
    CHECK_EXIT(&p, 1);
    ED_CHECK_STR(p.out, "");
    ED_CHECK_CONTAINS(p.err, "eddy run: cannot load job '/nonexistent.so'");
    proc_free(&p);

    /* a bare name is looked up in the current directory only */
    eddy_in(&p, scratch_dir(), NULL, "run", "wordcount.so", (const char *)NULL);
    CHECK_EXIT(&p, 1);
    ED_CHECK_CONTAINS(p.err, "cannot load job 'wordcount.so'");
    proc_free(&p);

    /* a shared object without eddy_job_main */
    EDDY_RUN(&p, "run", EDDY_BUILD_DIR "/libeddy.so");
    CHECK_EXIT(&p, 1);
    ED_CHECK_CONTAINS(p.err, "does not export eddy_job_main");
    proc_free(&p);
}

ED_TEST(run_failing_job)
{
    proc p;
    EDDY_RUN(&p, "run", "-D", "log.level=OFF", WORDCOUNT, "--input", "/nonexistent/words.txt");
    CHECK_EXIT(&p, 1);
    ED_CHECK_STR(p.out, "");
    ED_CHECK(strncmp(p.err, "eddy run: ", 10) == 0);
    ED_CHECK_CONTAINS(p.err, "/nonexistent/words.txt");
    proc_free(&p);
}

/* ---- WordCount over a file ------------------------------------------------------------------- */

ED_TEST(wordcount_p1_prints_rolling_counts_in_order)
{
    char *text = input_text();
    char *want = expected_rolling(text, false, NULL);
    proc p;
    EDDY_RUN(&p, "run", "-p", "1", "-D", "log.level=WARN", WORDCOUNT, "--input", input_file());
    CHECK_EXIT(&p, 0);
    CHECK_TEXT(p.out, want);
    ED_CHECK_STR(p.err, "");
    proc_free(&p);

    /* the default parallelism is 1; a bare name is found in the current directory;
     * arguments after the job (even --help) are the job's */
    eddy_in(&p, EDDY_BUILD_DIR, NULL, "run", "-D", "log.level=WARN", "wordcount.so", "--input",
            input_file(), "--help", (const char *)NULL);
    CHECK_EXIT(&p, 0);
    CHECK_TEXT(p.out, want);
    proc_free(&p);
    free(want);
    free(text);
}

ED_TEST(wordcount_p2_prints_prefixed_counts)
{
    char *text = input_text();
    proc p;
    EDDY_RUN(&p, "run", "-p", "2", "-D", "log.level=WARN", WORDCOUNT, "--input", input_file());
    CHECK_EXIT(&p, 0);
    check_p2_output(p.out, text);
    ED_CHECK_STR(p.err, "");
    proc_free(&p);

    EDDY_RUN(&p, "run", "--parallelism", "2", "-D", "log.level=WARN", WORDCOUNT, "--input",
             input_file());
    CHECK_EXIT(&p, 0);
    check_p2_output(p.out, text);
    proc_free(&p);
    free(text);
}

ED_TEST(wordcount_p1_writes_csv)
{
    char *text = input_text();
    char *want = expected_rolling(text, true, NULL);
    char out[PATH_MAX];
    scratch_path(out, sizeof(out), "counts.csv");
    /* an existing file is overwritten */
    ED_REQUIRE(write_file(out, "stale content that is longer than nothing\n") == 0);
    proc p;
    EDDY_RUN(&p, "run", "-p", "1", "-D", "log.level=WARN", WORDCOUNT, "--input", input_file(),
             "--output", out);
    CHECK_EXIT(&p, 0);
    ED_CHECK_STR(p.out, "");
    char *got = slurp(out);
    CHECK_TEXT(got, want);
    free(got);
    proc_free(&p);
    unlink(out);
    free(want);
    free(text);
}

ED_TEST(wordcount_p2_writes_csv_directory)
{
    char *text = input_text();
    char *want = expected_rolling(text, true, NULL);
    char dir[PATH_MAX], f1[PATH_MAX + 8], f2[PATH_MAX + 8];
    scratch_path(dir, sizeof(dir), "counts_p2/sub");
    snprintf(f1, sizeof(f1), "%s/1", dir);
    snprintf(f2, sizeof(f2), "%s/2", dir);
    proc p;
    EDDY_RUN(&p, "run", "-p", "2", "-D", "log.level=WARN", WORDCOUNT, "--input", input_file(),
             "--output", dir);
    CHECK_EXIT(&p, 0);
    ED_CHECK_STR(p.out, "");
    /* docs/connectors.md: a directory with one file per subtask, named 1 .. p */
    char *a = slurp(f1), *b = slurp(f2);
    ED_CHECK(a && b);
    if (a && b) {
        sbuf all = {0};
        sb_printf(&all, "%s%s", a, b);
        char *joined = sb_take(&all);
        size_t n;
        char **lines = split_lines(joined, &n);
        check_same_lines(lines, n, want, "p=2 CSV files");
        free_lines(lines, n);
        free(joined);
    }
    free(a);
    free(b);
    proc_free(&p);
    free(want);
    free(text);
}

/* ---- configuration files --------------------------------------------------------------------- */

ED_TEST(config_file_nested_map_takes_effect)
{
    char *text = input_text();
    char cfg[PATH_MAX];
    scratch_path(cfg, sizeof(cfg), "p2.yaml");
    ED_REQUIRE(write_file(cfg, "# nested maps flatten to dotted keys\n"
                               "parallelism:\n"
                               "  default: 2\n"
                               "log:\n"
                               "  level: WARN\n") == 0);
    proc p;
    EDDY_RUN(&p, "run", "--config", cfg, WORDCOUNT, "--input", input_file());
    CHECK_EXIT(&p, 0);
    check_p2_output(p.out, text);
    ED_CHECK_STR(p.err, "");
    proc_free(&p);

    EDDY_RUN(&p, "run", "-c", cfg, WORDCOUNT, "--input", input_file());
    CHECK_EXIT(&p, 0);
    check_p2_output(p.out, text);
    proc_free(&p);
    free(text);
}

ED_TEST(config_file_then_command_line)
{
    char *text = input_text();
    char *want = expected_rolling(text, false, NULL);
    char cfg[PATH_MAX];
    scratch_path(cfg, sizeof(cfg), "p2_flat.yaml");
    ED_REQUIRE(write_file(cfg, "parallelism.default: 2\nlog.level: WARN\n") == 0);
    proc p;
    /* -p overrides the file whatever the order of the options */
    EDDY_RUN(&p, "run", "-p", "1", "--config", cfg, WORDCOUNT, "--input", input_file());
    CHECK_EXIT(&p, 0);
    CHECK_TEXT(p.out, want);
    proc_free(&p);

    EDDY_RUN(&p, "run", "--config", cfg, "-D", "parallelism.default=1", WORDCOUNT, "--input",
             input_file());
    CHECK_EXIT(&p, 0);
    CHECK_TEXT(p.out, want);
    proc_free(&p);
    free(want);
    free(text);
}

ED_TEST(config_file_from_eddy_conf_dir)
{
    char *text = input_text();
    char *want = expected_rolling(text, false, NULL);
    char dir[PATH_MAX], cfg[PATH_MAX + 16], env[PATH_MAX + 32], p1[PATH_MAX];
    scratch_path(dir, sizeof(dir), "conf");
    ED_REQUIRE(mkdir(dir, 0700) == 0 || errno == EEXIST);
    snprintf(cfg, sizeof(cfg), "%s/config.yaml", dir);
    snprintf(env, sizeof(env), "EDDY_CONF_DIR=%s", dir);
    ED_REQUIRE(write_file(cfg, "parallelism:\n  default: 2\nlog.level: WARN\n") == 0);
    proc p;
    eddy_in(&p, NULL, env, "run", WORDCOUNT, "--input", input_file(), (const char *)NULL);
    CHECK_EXIT(&p, 0);
    check_p2_output(p.out, text);
    proc_free(&p);

    /* --config replaces the default file */
    scratch_path(p1, sizeof(p1), "p1.yaml");
    ED_REQUIRE(write_file(p1, "log.level: WARN\n") == 0);
    eddy_in(&p, NULL, env, "run", "--config", p1, WORDCOUNT, "--input", input_file(),
            (const char *)NULL);
    CHECK_EXIT(&p, 0);
    CHECK_TEXT(p.out, want);
    proc_free(&p);
    free(want);
    free(text);
}

ED_TEST(config_file_errors)
{
    char cfg[PATH_MAX], want[PATH_MAX + 16];
    scratch_path(cfg, sizeof(cfg), "bad.yaml");
    ED_REQUIRE(write_file(cfg, "log.level: WARN\n"
                               "parallelism:\n"
                               "  default: abc\n") == 0);
    proc p;
    EDDY_RUN(&p, "run", "--config", cfg, WORDCOUNT, "--input", input_file());
    CHECK_EXIT(&p, 2);
    ED_CHECK_STR(p.out, "");
    snprintf(want, sizeof(want), "%s:3:", cfg);
    ED_CHECK_CONTAINS(p.err, want);
    ED_CHECK_CONTAINS(p.err, "parallelism.default");
    proc_free(&p);

    EDDY_RUN(&p, "run", "--config", "/nonexistent/config.yaml", WORDCOUNT);
    CHECK_EXIT(&p, 2);
    ED_CHECK_CONTAINS(p.err, "/nonexistent/config.yaml");
    proc_free(&p);
}

/* ---- socket WordCount and cancellation ------------------------------------------------------- */

/* A listening TCP socket on 127.0.0.1 with an ephemeral port; returns the fd or -1. */
static int listen_local(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4) ||
        getsockname(fd, (struct sockaddr *)&a, &len)) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* Accepts one connection, giving up after the timeout or when the child exits. */
static int accept_within(int lfd, proc *p, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        struct pollfd pf = {.fd = lfd, .events = POLLIN};
        int r = poll(&pf, 1, 50);
        if (r > 0) return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (r < 0 && errno != EINTR) return -1;
        if (proc_exited(p)) return -1;
    }
    return -1;
}

static int start_socket_job(proc *p, int port)
{
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", port);
    const char *argv[] = {EDDY, "run", "-D", "log.level=WARN", SOCKET_WORDCOUNT, "--hostname",
                          "127.0.0.1", "--port", ports, NULL};
    return proc_start(p, (char *const *)argv, NULL, NULL);
}

ED_TEST(socket_wordcount)
{
    int port;
    int lfd = listen_local(&port);
    ED_REQUIRE(lfd >= 0);
    proc p;
    ED_REQUIRE(start_socket_job(&p, port) == 0);
    int c = accept_within(lfd, &p, TIMEOUT_MS);
    if (c < 0) {
        proc_wait(&p, 1000);
        ED_FAIL_AT("the socket job did not connect; stderr: %s", p.err);
    } else {
        static const char data[] = "a b a\nb\n";
        ED_CHECK(send(c, data, sizeof(data) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(data) - 1));
        close(c);
        proc_wait(&p, TIMEOUT_MS);
        CHECK_EXIT(&p, 0);
        ED_CHECK_STR(p.out, "+I[a, 1]\n+I[b, 1]\n+I[a, 2]\n+I[b, 2]\n");
        ED_CHECK_STR(p.err, "");
    }
    proc_free(&p);
    close(lfd);
}

ED_TEST(socket_wordcount_connection_refused)
{
    /* a port nobody listens on: bound, never listening */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ED_REQUIRE(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    ED_REQUIRE(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    ED_REQUIRE(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    proc p;
    ED_REQUIRE(start_socket_job(&p, ntohs(a.sin_port)) == 0);
    proc_wait(&p, TIMEOUT_MS);
    CHECK_EXIT(&p, 1);
    ED_CHECK_STR(p.out, "");
    /* cli.md: a failed job exits 1 with the reason, naming the operator and subtask */
    ED_CHECK_CONTAINS(p.err, "eddy run: operator '");
    ED_CHECK_CONTAINS(p.err, "(subtask 1/1) failed");
    ED_CHECK_CONTAINS(p.err, "127.0.0.1");
    proc_free(&p);
    close(fd);
}

static void check_cancel(int sig)
{
    int port;
    int lfd = listen_local(&port);
    ED_REQUIRE(lfd >= 0);
    proc p;
    ED_REQUIRE(start_socket_job(&p, port) == 0);
    int c = accept_within(lfd, &p, TIMEOUT_MS);
    if (c < 0) {
        proc_wait(&p, 1000);
        ED_FAIL_AT("the socket job did not connect; stderr: %s", p.err);
    } else {
        /* rows arrive while the job runs (the buffer timeout flushes them); the connection
         * stays open, so the job would run forever */
        static const char data[] = "x y\n";
        ED_CHECK(send(c, data, sizeof(data) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(data) - 1));
        char *out = NULL;
        for (long long deadline = now_ms() + TIMEOUT_MS; now_ms() < deadline; sleep_ms(10)) {
            free(out);
            out = slurp(p.out_path);
            if (out && strcmp(out, "+I[x, 1]\n+I[y, 1]\n") == 0) break;
        }
        ED_CHECK_STR(out, "+I[x, 1]\n+I[y, 1]\n");
        free(out);
        sleep_ms(300);
        ED_CHECK(!proc_exited(&p));
        kill(p.pid, sig);
        proc_wait(&p, TIMEOUT_MS);
        CHECK_EXIT(&p, 1);
        ED_CHECK_STR(p.out, "+I[x, 1]\n+I[y, 1]\n");
        ED_CHECK_CONTAINS(p.err, "eddy run: job 'Socket WordCount' was cancelled");
        close(c);
    }
    proc_free(&p);
    close(lfd);
}

ED_TEST(sigterm_cancels_the_job) { check_cancel(SIGTERM); }
ED_TEST(sigint_cancels_the_job) { check_cancel(SIGINT); }
