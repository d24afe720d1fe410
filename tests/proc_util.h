/*
 * proc_util.h - child processes and scratch files for tests that run the real `eddy`
 * binary (cli_test.c, examples_test.c).
 *
 * A child is started with fork/exec (no shell) in its own process group, with stdin from
 * /dev/null and stdout/stderr captured in files of a private scratch directory that is
 * removed when the test executable exits. Every wait is bounded: a child that outlives
 * its timeout is killed (with its group) and the wait reports it. The environment of a
 * child never carries the developer's EDDY_CONF_DIR.
 *
 * Everything here is static: each test executable that includes the header gets its own
 * copy (one scratch directory per executable, named after it). The checks report through
 * ED_FAIL_AT (ed_test.h).
 */
#ifndef ED_PROC_UTIL_H
#define ED_PROC_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ed_test.h"

/* The command under test. */
#define EDDY EDDY_BUILD_DIR "/eddy"

/* Generous: the suites also run under ASan and TSan. A hang fails after this. */
#ifndef TIMEOUT_MS
#define TIMEOUT_MS 60000
#endif

extern char **environ;

/* ---- scratch directory ----------------------------------------------------------------------- */

static char scratch[PATH_MAX];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

__attribute__((destructor)) static void scratch_cleanup(void)
{
    if (scratch[0]) nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A private directory for this test executable, removed at exit. */
static inline const char *scratch_dir(void)
{
    if (!scratch[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(scratch, sizeof(scratch), "%s/eddy_%s.XXXXXX", t && *t ? t : "/tmp",
                 program_invocation_short_name);
        if (!mkdtemp(scratch)) {
            perror("mkdtemp");
            abort();
        }
    }
    return scratch;
}

static inline void scratch_path(char *buf, size_t n, const char *name)
{
    if (snprintf(buf, n, "%s/%s", scratch_dir(), name) >= (int)n) abort();
}

static inline int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = strlen(text);
    int rc = fwrite(text, 1, n, f) == n ? 0 : -1;
    if (fclose(f)) rc = -1;
    return rc;
}

static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) abort();
            buf = nb;
        }
    }
    buf[len] = 0;
    fclose(f);
    return buf;
}

/* ---- a growable string ----------------------------------------------------------------------- */

typedef struct sbuf {
    char *data;
    size_t len, cap;
} sbuf;

__attribute__((format(printf, 2, 3))) static inline void sb_printf(sbuf *b, const char *fmt,
                                                                  ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->data = realloc(b->data, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static inline char *sb_take(sbuf *b)
{
    if (!b->data) return strdup("");
    return b->data;
}

/* ---- child processes ------------------------------------------------------------------------- */

typedef struct proc {
    pid_t pid;
    bool reaped;
    bool timed_out;
    int status; /* from waitpid */
    char out_path[PATH_MAX], err_path[PATH_MAX];
    char *out, *err; /* what the child wrote, after proc_wait */
} proc;

/* The test's environment without EDDY_CONF_DIR (a developer's own configuration must not
 * leak into the tests), plus `extra` ("NAME=value") when given. */
static inline char **child_env(const char *extra)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 2, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "EDDY_CONF_DIR=", 14) != 0) env[k++] = environ[i];
    if (extra) env[k++] = (char *)extra;
    env[k] = NULL;
    return env;
}

/* Starts argv[0] (a path) with stdin from /dev/null and stdout/stderr into files, in its
 * own process group, in `cwd` when given. Returns 0 or -1. */
static inline int proc_start(proc *p, char *const argv[], const char *cwd,
                             const char *extra_env)
{
    static unsigned seq;
    memset(p, 0, sizeof(*p));
    seq++;
    if (snprintf(p->out_path, sizeof(p->out_path), "%s/proc%u.out", scratch_dir(), seq) >=
            (int)sizeof(p->out_path) ||
        snprintf(p->err_path, sizeof(p->err_path), "%s/proc%u.err", scratch_dir(), seq) >=
            (int)sizeof(p->err_path))
        return -1;
    int out = open(p->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || err < 0 || in < 0) {
        perror("open");
        return -1;
    }
    char **envp = child_env(extra_env);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        if (cwd && chdir(cwd) != 0) _exit(126);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    close(in);
    close(out);
    close(err);
    free(envp);
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    p->pid = pid;
    return 0;
}

static inline long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* True once the child has exited (reaps it). */
static inline bool proc_exited(proc *p)
{
    if (p->reaped) return true;
    pid_t r = waitpid(p->pid, &p->status, WNOHANG);
    if (r == p->pid || (r < 0 && errno == ECHILD)) {
        p->reaped = true;
        return true;
    }
    return false;
}

static inline void proc_kill(proc *p)
{
    if (p->reaped || p->pid <= 0) return;
    kill(-p->pid, SIGKILL);
    kill(p->pid, SIGKILL);
    while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR) {
    }
    p->reaped = true;
}

/* Waits for the child at most timeout_ms, killing it on expiry, then reads its output. */
static inline void proc_wait(proc *p, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    while (p->pid > 0 && !proc_exited(p)) {
        if (now_ms() > deadline) {
            proc_kill(p);
            p->timed_out = true;
            break;
        }
        sleep_ms(5);
    }
    p->out = slurp(p->out_path);
    p->err = slurp(p->err_path);
    if (!p->out) p->out = strdup("");
    if (!p->err) p->err = strdup("");
}

static inline void proc_free(proc *p)
{
    proc_kill(p);
    free(p->out);
    free(p->err);
    unlink(p->out_path);
    unlink(p->err_path);
    memset(p, 0, sizeof(*p));
}

/* How the child ended, for messages. */
static inline const char *proc_how(const proc *p, char *buf, size_t n)
{
    if (p->timed_out)
        snprintf(buf, n, "timed out after %d ms and was killed", TIMEOUT_MS);
    else if (!p->reaped)
        snprintf(buf, n, "did not start");
    else if (WIFEXITED(p->status))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(p->status));
    else if (WIFSIGNALED(p->status))
        snprintf(buf, n, "was killed by signal %d", WTERMSIG(p->status));
    else
        snprintf(buf, n, "ended with wait status %d", p->status);
    return buf;
}

static inline bool proc_exit_is(const proc *p, int code)
{
    return p->reaped && !p->timed_out && WIFEXITED(p->status) && WEXITSTATUS(p->status) == code;
}

#define CHECK_EXIT(p, code)                                                                    \
    do {                                                                                       \
        if (!proc_exit_is((p), (code))) {                                                      \
            char how_[128];                                                                    \
            ED_FAIL_AT("eddy %s, expected exit status %d\n  stdout: %.2000s\n  stderr: %.2000s", \
                       proc_how((p), how_, sizeof(how_)), (code), (p)->out ? (p)->out : "",    \
                       (p)->err ? (p)->err : "");                                              \
        }                                                                                      \
    } while (0)

/* Runs `eddy ARGS...` (NULL-terminated) to completion in cwd (NULL: the test's) with one
 * extra environment variable (or NULL). */
static inline void eddy_in(proc *p, const char *cwd, const char *extra_env, ...)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = EDDY;
    va_list ap;
    va_start(ap, extra_env);
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 63) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    if (proc_start(p, (char *const *)argv, cwd, extra_env) == 0) proc_wait(p, TIMEOUT_MS);
    else {
        p->out = strdup("");
        p->err = strdup("could not start eddy");
    }
}

#define EDDY_RUN(p, ...) eddy_in((p), NULL, NULL, __VA_ARGS__, (const char *)NULL)

/* ---- comparing line sets --------------------------------------------------------------------- */

static inline int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of `s` (each ending in '\n'; a last unterminated line counts too), copied. */
static inline char **split_lines(const char *s, size_t *n)
{
    size_t cap = 16, len = 0;
    char **v = malloc(cap * sizeof(char *));
    while (*s) {
        const char *e = strchr(s, '\n');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (len + 1 >= cap) {
            char **nv = realloc(v, (cap *= 2) * sizeof(char *));
            if (!nv) abort();
            v = nv;
        }
        v[len++] = strndup(s, l);
        s += l + (e ? 1 : 0);
    }
    v[len] = NULL;
    *n = len;
    return v;
}

static inline void free_lines(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* The lines of text (taken and freed) sorted, each ending in a newline. */
static inline char *sorted_lines(char *text)
{
    size_t nl;
    char **lines = split_lines(text, &nl);
    qsort(lines, nl, sizeof(char *), cmp_str);
    free(text);
    sbuf s = {0};
    for (size_t i = 0; i < nl; i++) sb_printf(&s, "%s\n", lines[i]);
    free_lines(lines, nl);
    return sb_take(&s);
}

/* Fails unless the lines `got` equal the lines of `want` as multisets. */
static inline void check_same_lines(char **got, size_t ngot, const char *want,
                                    const char *what)
{
    size_t nwant;
    char **w = split_lines(want, &nwant);
    char **g = malloc((ngot + 1) * sizeof(char *));
    memcpy(g, got, ngot * sizeof(char *));
    qsort(g, ngot, sizeof(char *), cmp_str);
    qsort(w, nwant, sizeof(char *), cmp_str);
    if (ngot != nwant) ED_FAIL_AT("%s: %zu lines, expected %zu", what, ngot, nwant);
    /* walk both sorted lists: report lines missing from or unexpected in the output */
    size_t i = 0, j = 0;
    int missing = 0, extra = 0;
    while (i < ngot || j < nwant) {
        int c = i == ngot ? 1 : j == nwant ? -1 : strcmp(g[i], w[j]);
        if (c == 0) {
            i++, j++;
        } else if (c < 0) {
            if (extra++ < 5) ED_FAIL_AT("%s: unexpected line \"%s\"", what, g[i]);
            i++;
        } else {
            if (missing++ < 5) ED_FAIL_AT("%s: missing line \"%s\"", what, w[j]);
            j++;
        }
    }
    free(g);
    free_lines(w, nwant);
}

/* Fails unless `got` equals `want`, naming the first line that differs (outputs are long). */
#define CHECK_TEXT(got, want) check_text_at(__FILE__, __LINE__, (got), (want))

static inline void check_text_at(const char *file, int line, const char *got,
                                 const char *want)
{
    if (got && strcmp(got, want) == 0) return;
    ed_test_failed_now = 1;
    if (!got) {
        fprintf(stderr, "  %s:%d: no output to compare\n", file, line);
        return;
    }
    int n = 1;
    const char *g = got, *w = want;
    while (*g && *g == *w) {
        if (*g == '\n') n++;
        g++, w++;
    }
    while (g > got && g[-1] != '\n') g--, w--;
    int gl = (int)strcspn(g, "\n"), wl = (int)strcspn(w, "\n");
    fprintf(stderr, "  %s:%d: output differs at line %d: got \"%.*s\"%s, expected \"%.*s\"%s\n",
            file, line, n, gl, g, *g ? "" : " (end of output)", wl, w, *w ? "" : " (end)");
}

/* The committed part files of dir, their lines sorted; NULL when an in-progress file is
 * left over. */
static inline char *committed(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return strdup("");
    sbuf all = {0};
    struct dirent *de;
    bool stray = false;
    while ((de = readdir(d))) {
        if (!strncmp(de->d_name, ".part-", 6)) stray = true;
        if (strncmp(de->d_name, "part-", 5)) continue;
        char p[PATH_MAX + 300];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        char *t = slurp(p);
        if (t) sb_printf(&all, "%s", t);
        free(t);
    }
    closedir(d);
    char *text = sb_take(&all);
    if (stray) {
        free(text);
        return NULL;
    }
    return sorted_lines(text);
}

#endif
