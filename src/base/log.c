/*
 * log.c - levelled logging per component.
 *
 * Levels live in an immutable table: ed_log_set_levels builds a new one and publishes
 * it with one atomic pointer store, so readers (every ed_log_on) never lock and never see
 * a half-written table. Old tables are kept on a retired list rather than freed, because
 * a reader on another thread may still hold one; level changes are rare (start-up), so
 * this costs a few bytes. Set the levels before threads start anyway.
 *
 * The output is one file descriptor, allocated once and never closed. Switching files
 * dup2()s the new file onto that same descriptor number, which the kernel does
 * atomically: a thread writing concurrently lands its line in the old file or the new
 * one, never in a closed or recycled descriptor. Each line is formatted into one buffer
 * and written with a single write(2), so lines from threads do not interleave (O_APPEND
 * keeps that true across processes sharing a file).
 */
#include "log.h"

#include "base.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define ED_LOG_MAX_COMPONENTS 32
#define ED_LOG_COMPONENT_MAX 32

typedef struct ed_log_table {
    struct ed_log_table *retired; /* older tables, kept reachable (see above) */
    ed_log_level dflt;
    int n;
    struct {
        char name[ED_LOG_COMPONENT_MAX];
        ed_log_level level;
    } comp[ED_LOG_MAX_COMPONENTS];
} ed_log_table;

static ed_log_table ed_log_initial = {NULL, ED_INFO, 0, {{"", 0}}};
static _Atomic(ed_log_table *) ed_log_levels = &ed_log_initial;

static pthread_mutex_t ed_log_file_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int ed_log_fd = 2; /* stderr until a file is set */
static int ed_log_own_fd = -1;   /* our private descriptor once allocated */

static const char *const ed_level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};

static int ed_level_parse(const char *s, size_t n, ed_log_level *out)
{
    for (int i = 0; i <= ED_OFF; i++) {
        if (strlen(ed_level_names[i]) == n && !strncasecmp(ed_level_names[i], s, n)) {
            *out = (ed_log_level)i;
            return 0;
        }
    }
    if (n == 7 && !strncasecmp(s, "WARNING", 7)) {
        *out = ED_WARN;
        return 0;
    }
    return -1;
}

static void ed_trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s))
        (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* Parses spec into t; 0 or -1. Entries: LEVEL (the default) or component=LEVEL. */
static int ed_log_parse(const char *spec, ed_log_table *t)
{
    t->dflt = ED_INFO;
    t->n = 0;
    if (!spec) return -1;
    const char *p = spec;
    int entries = 0;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *e = p;
        ed_trim(&e, &n);
        if (!n) return -1;
        const char *eq = memchr(e, '=', n);
        if (!eq) {
            if (ed_level_parse(e, n, &t->dflt)) return -1;
        } else {
            const char *name = e, *lv = eq + 1;
            size_t nn = (size_t)(eq - e), ln = n - nn - 1;
            ed_trim(&name, &nn);
            ed_trim(&lv, &ln);
            if (!nn || nn >= ED_LOG_COMPONENT_MAX) return -1;
            for (size_t i = 0; i < nn; i++) {
                unsigned char c = (unsigned char)name[i];
                if (!isalnum(c) && c != '_' && c != '-' && c != '.') return -1;
            }
            ed_log_level lvl;
            if (ed_level_parse(lv, ln, &lvl)) return -1;
            int k;
            for (k = 0; k < t->n; k++)
                if (strlen(t->comp[k].name) == nn && !memcmp(t->comp[k].name, name, nn)) break;
            if (k == t->n) {
                if (t->n == ED_LOG_MAX_COMPONENTS) return -1;
                memcpy(t->comp[k].name, name, nn);
                t->comp[k].name[nn] = '\0';
                t->n++;
            }
            t->comp[k].level = lvl;
        }
        entries++;
        if (!end) break;
        p = end + 1;
    }
    return entries ? 0 : -1;
}

bool ed_log_levels_valid(const char *spec)
{
    ed_log_table t;
    return ed_log_parse(spec, &t) == 0;
}

int ed_log_set_levels(const char *spec)
{
    ed_log_table *t = calloc(1, sizeof *t);
    if (!t) return -1;
    if (ed_log_parse(spec, t)) {
        free(t);
        return -1;
    }
    pthread_mutex_lock(&ed_log_file_lock); /* serializes writers of the table pointer */
    ed_log_table *old = atomic_load(&ed_log_levels);
    t->retired = old;
    atomic_store(&ed_log_levels, t);
    pthread_mutex_unlock(&ed_log_file_lock);
    return 0;
}

int ed_log_set_file(const char *path)
{
    int fd;
    if (!path || !*path) {
        fd = 2;
    } else {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) return -1;
    }
    pthread_mutex_lock(&ed_log_file_lock);
    int rc = 0;
    if (ed_log_own_fd < 0) {
        ed_log_own_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (ed_log_own_fd < 0) rc = -1;
    } else if (dup2(fd, ed_log_own_fd) < 0) {
        rc = -1;
    }
    if (rc == 0) atomic_store(&ed_log_fd, ed_log_own_fd);
    int saved = errno;
    pthread_mutex_unlock(&ed_log_file_lock);
    if (fd != 2) close(fd);
    errno = saved;
    return rc;
}

static ed_log_level ed_log_threshold(const char *component)
{
    const ed_log_table *t = atomic_load_explicit(&ed_log_levels, memory_order_acquire);
    if (component) {
        for (int i = 0; i < t->n; i++)
            if (!strcmp(t->comp[i].name, component)) return t->comp[i].level;
    }
    return t->dflt;
}

bool ed_log_on(ed_log_level level, const char *component)
{
    return level < ED_OFF && level >= ed_log_threshold(component);
}

void ed_log(ed_log_level level, const char *component, const char *fmt, ...)
{
    if (!ed_log_on(level, component)) return;
    char stack[2048];
    char *buf = stack;
    size_t cap = sizeof stack;

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    int head =
        snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d.%03ld %-5s %-8s ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                 ed_level_names[level], component ? component : "-");
    if (head < 0 || (size_t)head >= cap) head = (int)cap - 1;

    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + head, cap - (size_t)head, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)head + (size_t)n + 2 > cap) {
        /* A long message: format again into a heap buffer (logging is never per record). */
        char *big = malloc((size_t)head + (size_t)n + 2);
        if (big) {
            memcpy(big, buf, (size_t)head);
            va_start(ap, fmt);
            vsnprintf(big + head, (size_t)n + 1, fmt, ap);
            va_end(ap);
            buf = big;
        } else {
            n = (int)(cap - (size_t)head - 2); /* truncate rather than lose the line */
        }
    }
    size_t len = (size_t)head + (size_t)n;
    while (len > (size_t)head && buf[len - 1] == '\n')
        len--;
    buf[len++] = '\n';

    int fd = atomic_load(&ed_log_fd);
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            break;
        }
        p += w;
        len -= (size_t)w;
    }
    if (buf != stack) free(buf);
}
