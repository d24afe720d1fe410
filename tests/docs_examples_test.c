/*
 * docs_examples_test.c - the code in the documentation runs. Every fenced ```c block of
 * README.md and docs/<name>.md that defines eddy_job_main (a job) or main( (a program) is
 * written to a scratch directory, compiled as a user would compile it, and run:
 *
 *   job:      cc -std=gnu17 -Wall -Werror -I include -shared -fPIC -o x.so x.c
 *             eddy run -D log.level=WARN x.so data/words.txt          -> exit status 0
 *   program:  cc -std=gnu17 -Wall -Werror -I include -o x x.c -L build -leddy
 *             ./x                                                       -> exit status 0
 *
 * Blocks that are fragments (neither) are skipped. A failure names the file and the line
 * of the block's fence, with the compiler's or the program's output. When the engine is
 * built with sanitizers (EDDY_SANITIZE), the examples are compiled with them too, so that
 * they load beside the instrumented libeddy.so.
 */
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

#define INCLUDE_DIR EDDY_SOURCE_DIR "/include"
#define SAMPLE EDDY_SOURCE_DIR "/data/words.txt"

/* Bounds on every child: a hang fails the test instead of hanging CI. */
#define COMPILE_TIMEOUT_MS 120000
#define RUN_TIMEOUT_MS 60000

extern char **environ;

/* ---- files and the scratch directory --------------------------------------------------------- */

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

static const char *scratch_dir(void)
{
    if (!scratch[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(scratch, sizeof(scratch), "%s/eddy_docs_test.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(scratch)) {
            perror("mkdtemp");
            abort();
        }
    }
    return scratch;
}

static char *slurp(const char *path)
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

static int write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int rc = fwrite(text, 1, n, f) == n ? 0 : -1;
    if (fclose(f)) rc = -1;
    return rc;
}

/* ---- child processes ------------------------------------------------------------------------- */

typedef struct proc {
    int status; /* from waitpid; meaningful when !timed_out && !failed_to_start */
    bool timed_out, failed_to_start;
    char *out; /* stdout and stderr of the child, interleaved as written */
} proc;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Runs argv (argv[0] looked up in PATH when it has no '/') in `cwd` with stdin from
 * /dev/null, stdout and stderr into one file, in its own process group; kills the group
 * when it outlives timeout_ms. EDDY_CONF_DIR is removed from the environment. */
static void run_cmd(proc *p, char *const argv[], const char *cwd, int timeout_ms)
{
    static unsigned seq;
    memset(p, 0, sizeof(*p));
    char out_path[PATH_MAX];
    snprintf(out_path, sizeof(out_path), "%s/cmd%u.out", scratch_dir(), ++seq);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    while (environ[n]) n++;
    char **envp = calloc(n + 1, sizeof(char *));
    for (size_t i = 0, k = 0; i < n; i++)
        if (strncmp(environ[i], "EDDY_CONF_DIR=", 14) != 0) envp[k++] = environ[i];
    pid_t pid = -1;
    if (out >= 0 && in >= 0) {
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid == 0) {
            setpgid(0, 0);
            dup2(in, 0);
            dup2(out, 1);
            dup2(out, 2);
            if (cwd && chdir(cwd) != 0) _exit(126);
            execvpe(argv[0], argv, envp);
            fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
            _exit(127);
        }
    }
    free(envp);
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    if (pid < 0) {
        p->failed_to_start = true;
        p->out = strdup(strerror(errno));
        return;
    }
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, &p->status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) {
            p->failed_to_start = true;
            break;
        }
        if (now_ms() > deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &p->status, 0) < 0 && errno == EINTR) {
            }
            p->timed_out = true;
            break;
        }
        sleep_ms(5);
    }
    p->out = slurp(out_path);
    if (!p->out) p->out = strdup("");
    unlink(out_path);
}

static bool proc_ok(const proc *p)
{
    return !p->timed_out && !p->failed_to_start && WIFEXITED(p->status) &&
           WEXITSTATUS(p->status) == 0;
}

static const char *proc_how(const proc *p, char *buf, size_t n)
{
    if (p->failed_to_start)
        snprintf(buf, n, "could not be run");
    else if (p->timed_out)
        snprintf(buf, n, "timed out and was killed");
    else if (WIFEXITED(p->status))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(p->status));
    else if (WIFSIGNALED(p->status))
        snprintf(buf, n, "was killed by signal %d", WTERMSIG(p->status));
    else
        snprintf(buf, n, "ended with wait status %d", p->status);
    return buf;
}

/* ---- the engine's sanitizers, from the build's CMake cache ----------------------------------- */

/* "-fsanitize=..." when the build uses sanitizers, else NULL. */
static const char *sanitize_flag(void)
{
    static char flag[256];
    static bool done;
    if (done) return flag[0] ? flag : NULL;
    done = true;
    char *cache = slurp(EDDY_BUILD_DIR "/CMakeCache.txt");
    if (!cache) return NULL;
    const char *key = "\nEDDY_SANITIZE:STRING=";
    const char *v = strstr(cache, key);
    if (v) {
        v += strlen(key);
        size_t len = strcspn(v, "\r\n");
        if (len > 0 && len < sizeof(flag) - 16)
            snprintf(flag, sizeof(flag), "-fsanitize=%.*s", (int)len, v);
    }
    free(cache);
    return flag[0] ? flag : NULL;
}

/* ---- fenced blocks --------------------------------------------------------------------------- */

typedef struct block {
    char file[128]; /* relative to the source directory, for messages */
    int line;       /* line of the opening fence, from 1 */
    char *code;
} block;

typedef struct blocks {
    block *v;
    size_t len, cap;
} blocks;

/* Appends the ```c blocks of one Markdown file. Returns -1 when it cannot be read or a
 * block is not closed. */
static int collect_blocks(blocks *bs, const char *rel)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", EDDY_SOURCE_DIR, rel);
    char *text = slurp(path);
    if (!text) return -1;
    enum { OUTSIDE, IN_C, IN_OTHER } state = OUTSIDE;
    block *cur = NULL;
    size_t code_len = 0;
    int lineno = 0, rc = 0;
    for (const char *s = text; *s;) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        bool fence = len >= 3 && strncmp(s, "```", 3) == 0;
        /* as in CommonMark, a closing fence has no info string */
        bool closing = fence && strspn(s + 3, " \t\r") == len - 3;
        lineno++;
        if (state == IN_C && !closing) {
            cur->code = realloc(cur->code, code_len + len + 2);
            memcpy(cur->code + code_len, s, len);
            code_len += len;
            cur->code[code_len++] = '\n';
            cur->code[code_len] = 0;
        } else if (state != OUTSIDE && closing) {
            state = OUTSIDE;
        } else if (state == OUTSIDE && fence) {
            /* "```c" opens a C block; any other fence ("```sh", "```") another language */
            if (len >= 4 && s[3] == 'c' && strspn(s + 4, " \t\r") == len - 4) {
                if (bs->len == bs->cap) {
                    bs->cap = bs->cap ? bs->cap * 2 : 16;
                    bs->v = realloc(bs->v, bs->cap * sizeof(block));
                }
                cur = &bs->v[bs->len++];
                memset(cur, 0, sizeof(*cur));
                snprintf(cur->file, sizeof(cur->file), "%s", rel);
                cur->line = lineno;
                cur->code = strdup("");
                code_len = 0;
                state = IN_C;
            } else {
                state = IN_OTHER;
            }
        }
        s += len + (e ? 1 : 0);
    }
    if (state == IN_C) {
        ED_FAIL_AT("%s:%d: the ```c block is not closed", rel, cur->line);
        rc = -1;
    }
    free(text);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* README.md, then the .md files of docs/ in name order. */
static void collect_all(blocks *bs)
{
    if (collect_blocks(bs, "README.md")) ED_FAIL_AT("cannot read README.md");
    DIR *d = opendir(EDDY_SOURCE_DIR "/docs");
    if (!d) {
        ED_FAIL_AT("cannot open %s/docs", EDDY_SOURCE_DIR);
        return;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 256) {
        size_t l = strlen(de->d_name);
        if (l > 3 && strcmp(de->d_name + l - 3, ".md") == 0) names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++) {
        char rel[PATH_MAX];
        snprintf(rel, sizeof(rel), "docs/%s", names[i]);
        if (collect_blocks(bs, rel)) ED_FAIL_AT("cannot read %s", rel);
        free(names[i]);
    }
}

static void free_blocks(blocks *bs)
{
    for (size_t i = 0; i < bs->len; i++) free(bs->v[i].code);
    free(bs->v);
    memset(bs, 0, sizeof(*bs));
}

typedef enum { FRAGMENT, JOB, PROGRAM } block_kind;

static block_kind kind_of(const block *b)
{
    if (strstr(b->code, "eddy_job_main")) return JOB;
    if (strstr(b->code, "main(")) return PROGRAM;
    return FRAGMENT;
}

/* ---- compile and run one block --------------------------------------------------------------- */

/* Compiles and runs a job or program block; fails the test naming file:line. Returns 0 when
 * it compiled and ran. */
static int check_block(const block *b, int index)
{
    block_kind kind = kind_of(b);
    char dir[PATH_MAX], src[PATH_MAX + 8], bin[PATH_MAX + 8], how[128];
    snprintf(dir, sizeof(dir), "%s/block%d", scratch_dir(), index);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        ED_FAIL_AT("%s:%d: cannot create %s: %s", b->file, b->line, dir, strerror(errno));
        return -1;
    }
    snprintf(src, sizeof(src), "%s/x.c", dir);
    snprintf(bin, sizeof(bin), "%s/%s", dir, kind == JOB ? "x.so" : "x");
    /* #line: the compiler's messages point into the Markdown file itself */
    char *text = NULL;
    size_t text_len = 0;
    FILE *m = open_memstream(&text, &text_len);
    fprintf(m, "#line %d \"%s/%s\"\n%s", b->line + 1, EDDY_SOURCE_DIR, b->file, b->code);
    fclose(m);
    int wrc = write_file(src, text, text_len);
    free(text);
    if (wrc) {
        ED_FAIL_AT("%s:%d: cannot write %s", b->file, b->line, src);
        return -1;
    }

    const char *cc[24];
    int n = 0;
    cc[n++] = "cc";
    cc[n++] = "-std=gnu17";
    cc[n++] = "-Wall";
    cc[n++] = "-Werror";
    cc[n++] = "-I";
    cc[n++] = INCLUDE_DIR;
    if (sanitize_flag()) cc[n++] = sanitize_flag();
    if (kind == JOB) {
        cc[n++] = "-shared";
        cc[n++] = "-fPIC";
    }
    cc[n++] = "-o";
    cc[n++] = bin;
    cc[n++] = src;
    if (kind == PROGRAM) {
        cc[n++] = "-L";
        cc[n++] = EDDY_BUILD_DIR;
        cc[n++] = "-leddy";
        cc[n++] = "-Wl,-rpath," EDDY_BUILD_DIR;
    }
    cc[n] = NULL;
    proc p;
    run_cmd(&p, (char *const *)cc, dir, COMPILE_TIMEOUT_MS);
    if (!proc_ok(&p)) {
        ED_FAIL_AT("%s:%d: the ```c %s does not compile (cc %s):\n%s\n--- the block:\n%s",
                   b->file, b->line, kind == JOB ? "job" : "program",
                   proc_how(&p, how, sizeof(how)), p.out, b->code);
        free(p.out);
        return -1;
    }
    free(p.out);

    const char *job_argv[] = {EDDY_BUILD_DIR "/eddy", "run", "-D", "log.level=WARN", bin,
                              SAMPLE, NULL};
    const char *prog_argv[] = {bin, NULL};
    run_cmd(&p, (char *const *)(kind == JOB ? job_argv : prog_argv), dir, RUN_TIMEOUT_MS);
    int rc = 0;
    if (!proc_ok(&p)) {
        ED_FAIL_AT("%s:%d: the ```c %s compiles but %s %s; its output:\n%.4000s", b->file,
                   b->line, kind == JOB ? "job" : "program",
                   kind == JOB ? "`eddy run x.so data/words.txt`" : "the program",
                   proc_how(&p, how, sizeof(how)), p.out);
        rc = -1;
    }
    free(p.out);
    return rc;
}

ED_TEST(docs_c_blocks_compile_and_run)
{
    blocks bs = {0};
    collect_all(&bs);
    int jobs = 0, programs = 0, fragments = 0, failed = 0;
    for (size_t i = 0; i < bs.len; i++) {
        const block *b = &bs.v[i];
        block_kind kind = kind_of(b);
        if (kind == FRAGMENT) {
            fragments++;
            continue;
        }
        kind == JOB ? jobs++ : programs++;
        int rc = check_block(b, (int)i);
        if (rc) failed++;
        printf("     %s %s:%d (%s)\n", rc ? "FAIL" : "ok  ", b->file, b->line,
               kind == JOB ? "job" : "program");
    }
    printf("     %d jobs, %d programs, %d fragments skipped, %d failed%s%s\n", jobs, programs,
           fragments, failed, sanitize_flag() ? "; compiled with " : "",
           sanitize_flag() ? sanitize_flag() : "");
    /* the docs hold at least the README job, getting-started's job and datastream's
     * program: finding fewer means the block parser broke */
    ED_CHECK(jobs >= 2);
    ED_CHECK(programs >= 1);
    free_blocks(&bs);
}

/* The parser itself, on a known page: the README's job block is found at its fence. */
ED_TEST(docs_block_parser)
{
    blocks bs = {0};
    ED_REQUIRE(collect_blocks(&bs, "README.md") == 0);
    char *readme = slurp(EDDY_SOURCE_DIR "/README.md");
    ED_REQUIRE(readme);
    int found = 0;
    for (size_t i = 0; i < bs.len; i++) {
        /* the fence line really is "```c" and the code follows it verbatim */
        const char *s = readme;
        for (int l = 1; l < bs.v[i].line && s; l++) {
            s = strchr(s, '\n');
            if (s) s++;
        }
        ED_REQUIRE(s);
        ED_CHECK(strncmp(s, "```c\n", 5) == 0);
        ED_CHECK(strncmp(s + 5, bs.v[i].code, strlen(bs.v[i].code)) == 0);
        if (kind_of(&bs.v[i]) == JOB) found++;
    }
    ED_CHECK(found >= 1);
    free(readme);
    free_blocks(&bs);
}
