/*
 * control.c - the local control endpoint of a job run by `eddy run` (see control.h).
 *
 * One acceptor thread per endpoint waits on the listener and on a wake-up pipe. Each
 * connection is served by a short-lived worker thread (at most MAX_WORKERS at once; more
 * get "ERR busy"), because a savepoint or a stop may take long and must not hold up a
 * cancel. A worker reads one line - bounded in size and in time - answers it, and
 * closes. Nothing here runs on a task's thread: the endpoint only calls its owner's ops,
 * which post mails to tasks like any other thread does.
 *
 * The registry directory is trusted only when it is the user's own: a directory named
 * after the uid in /tmp must be owned by the user and closed to everyone else (another
 * user could have made it first), and files are read only when the user owns them. The
 * token in the file (mode 0600) is what a request proves it may act with.
 */
#include "control.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h> /* kill */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../base/log.h"

#define MAX_WORKERS 8
#define REQUEST_TIMEOUT_MS 5000 /* a client that sends no full line by then is dropped */
#define REGISTRY_FILE_MAX 8192
#define DRAIN_MS 500        /* after the answer, input is dropped this long ... */
#define DRAIN_MAX (1 << 20) /* ... or up to this many bytes */

/* ---- the registry directory ----------------------------------------------------------------- */

/* Checks that path is a directory of this user that nobody else may write into (or, with
 * private_, use at all), not followed through a symlink. */
static int check_dir(const char *path, bool private_, ed_err *err)
{
    struct stat st;
    if (lstat(path, &st))
        return ed_err_set(err, "registry directory '%s': %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ed_err_set(err, "registry directory '%s' is not a directory", path);
    if (st.st_uid != getuid())
        return ed_err_set(err,
                          "registry directory '%s' belongs to another user (uid %u): set "
                          "EDDY_RUN_DIR to a directory of your own",
                          path, (unsigned)st.st_uid);
    if (st.st_mode & (private_ ? 077 : 022))
        return ed_err_set(err,
                          "registry directory '%s' is open to other users (mode %03o): "
                          "make it private (chmod 700) or set EDDY_RUN_DIR",
                          path, (unsigned)(st.st_mode & 0777));
    return 0;
}

/* mkdir that is fine with an existing directory. */
static int make_dir(const char *path, ed_err *err)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) return 0;
    return ed_err_set(err, "cannot create the registry directory '%s': %s", path, strerror(errno));
}

/* The registry directory in buf. create: make it when missing. Returns 1 when it exists,
 * 0 when it does not (and create is false), -1 with err. */
static int registry_dir(char *buf, size_t cap, bool create, ed_err *err)
{
    const char *env = getenv("EDDY_RUN_DIR");
    if (env && *env) {
        if ((size_t)snprintf(buf, cap, "%s", env) >= cap)
            return ed_err_set(err, "EDDY_RUN_DIR: the path is too long");
        size_t n = strlen(buf);
        while (n > 1 && buf[n - 1] == '/')
            buf[--n] = 0;
        if (create) /* each missing component, as mkdir -p, private */
            for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                    *p = 0;
                    int rc = mkdir(buf, 0700);
                    *p = '/';
                    if (rc && errno != EEXIST)
                        return ed_err_set(err, "cannot create the registry directory '%s': %s", buf,
                                          strerror(errno));
                }
        if (create && make_dir(buf, err)) return -1;
        struct stat st;
        if (!create && stat(buf, &st) && errno == ENOENT) return 0;
        /* the user chose it: it may be a symlink, but it must be theirs and closed */
        if (stat(buf, &st)) return ed_err_set(err, "EDDY_RUN_DIR '%s': %s", buf, strerror(errno));
        if (!S_ISDIR(st.st_mode))
            return ed_err_set(err, "EDDY_RUN_DIR '%s' is not a directory", buf);
        if (st.st_uid != getuid() || (st.st_mode & 022))
            return ed_err_set(err,
                              "EDDY_RUN_DIR '%s' must belong to you and be writable by "
                              "no one else (mode %03o)",
                              buf, (unsigned)(st.st_mode & 0777));
        return 1;
    }
    char top[64];
    snprintf(top, sizeof top, "/tmp/eddy-%u", (unsigned)getuid());
    if ((size_t)snprintf(buf, cap, "%s/jobs", top) >= cap)
        return ed_err_set(err, "registry path too long");
    struct stat st;
    if (!create && lstat(buf, &st) && errno == ENOENT) return 0;
    if (create && make_dir(top, err)) return -1;
    if (check_dir(top, true, err)) return -1;
    if (create && make_dir(buf, err)) return -1;
    if (check_dir(buf, true, err)) return -1;
    return 1;
}

bool ed_control_valid_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') ||
              (s[n] >= 'A' && s[n] <= 'F')))
            return false;
    return n == 32;
}

/* 16 random bytes as 32 lower-case hex digits (a JobID, a token). */
static int random_hex32(char out[33], ed_err *err)
{
    uint8_t b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return ed_err_set(err, "getrandom: %s", strerror(errno));
        got += (size_t)r;
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}

/* Parses a registry file's text into e; -1 when it is not one. */
static int parse_entry(char *text, ed_control_entry *e)
{
    memset(e, 0, sizeof(*e));
    bool have_id = false, have_port = false, have_pid = false, have_token = false;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *v = strchr(line, ' ');
        if (!v) continue;
        *v++ = 0;
        char *end;
        if (strcmp(line, "id") == 0 && ed_control_valid_id(v)) {
            memcpy(e->id, v, 33);
            have_id = true;
        } else if (strcmp(line, "name") == 0) {
            snprintf(e->name, sizeof e->name, "%s", v);
        } else if (strcmp(line, "pid") == 0) {
            errno = 0;
            long pid = strtol(v, &end, 10);
            have_pid = !errno && !*end && pid > 0;
            e->pid = pid;
        } else if (strcmp(line, "port") == 0) {
            long port = strtol(v, &end, 10);
            have_port = !*end && port > 0 && port < 65536;
            e->port = (int)port;
        } else if (strcmp(line, "start") == 0) {
            e->start_ms = strtoll(v, &end, 10);
        } else if (strcmp(line, "state") == 0) {
            snprintf(e->state, sizeof e->state, "%s", v);
        } else if (strcmp(line, "token") == 0 && ed_control_valid_id(v)) {
            memcpy(e->token, v, 33);
            have_token = true;
        }
    }
    if (!e->state[0]) snprintf(e->state, sizeof e->state, "RUNNING");
    return have_id && have_pid && have_port && have_token ? 0 : -1;
}

/* Reads the registry file `name` of dir: 1 read, 0 missing or not a valid entry. */
static int read_entry(const char *dir, const char *name, ed_control_entry *e)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) return 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat st;
    char *text = NULL;
    int ok = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == getuid() && st.st_size > 0 &&
        st.st_size < REGISTRY_FILE_MAX) {
        text = malloc((size_t)st.st_size + 1);
        ssize_t n = text ? read(fd, text, (size_t)st.st_size) : -1;
        if (n == st.st_size) {
            text[n] = 0;
            ok = strlen(text) == (size_t)n && parse_entry(text, e) == 0 && strcmp(e->id, name) == 0;
        }
    }
    free(text);
    close(fd);
    return ok;
}

static bool process_lives(long pid)
{
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static int by_start(const void *a, const void *b)
{
    const ed_control_entry *x = a, *y = b;
    return x->start_ms < y->start_ms ? -1 : x->start_ms > y->start_ms ? 1 : strcmp(x->id, y->id);
}

int ed_control_list(ed_control_entry **out, int *n, ed_err *err)
{
    *out = NULL;
    *n = 0;
    char dir[PATH_MAX];
    int rc = registry_dir(dir, sizeof dir, false, err);
    if (rc <= 0) return rc;
    DIR *d = opendir(dir);
    if (!d) return ed_err_set(err, "registry directory '%s': %s", dir, strerror(errno));
    struct dirent *de;
    int cap = 0;
    while ((de = readdir(d))) {
        if (!ed_control_valid_id(de->d_name)) continue;
        ed_control_entry e;
        if (!read_entry(dir, de->d_name, &e)) continue;
        if (!process_lives(e.pid)) { /* its process is gone: the entry is stale */
            char path[PATH_MAX];
            if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < sizeof path)
                unlink(path);
            continue;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            ed_control_entry *m = realloc(*out, sizeof(**out) * (size_t)cap);
            if (!m) {
                closedir(d);
                free(*out);
                *out = NULL;
                *n = 0;
                return ed_err_set(err, "out of memory listing jobs");
            }
            *out = m;
        }
        (*out)[(*n)++] = e;
    }
    closedir(d);
    if (*n) qsort(*out, (size_t)*n, sizeof(**out), by_start);
    return 0;
}

int ed_control_find(const char *id, ed_control_entry *e, ed_err *err)
{
    if (!ed_control_valid_id(id)) return 0;
    char dir[PATH_MAX], lower[33];
    for (int i = 0; i < 33; i++)
        lower[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] - 'A' + 'a' : id[i]);
    int rc = registry_dir(dir, sizeof dir, false, err);
    if (rc <= 0) return rc;
    return read_entry(dir, lower, e) && process_lives(e->pid);
}

/* ---- the client --------------------------------------------------------------------------- */

/* Waits until fd is ready for `events` or the deadline (ms, monotonic; -1 none) passes. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int t = -1;
        if (deadline >= 0) {
            int64_t left = deadline - ed_mono_ns() / 1000000;
            if (left <= 0) return 0;
            t = left > INT_MAX ? INT_MAX : (int)left;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, t);
        if (r < 0 && errno == EINTR) continue;
        return r;
    }
}

/* Writes all of buf; -1 on failure. */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one line (without its newline) into buf[cap]: its length, -1 on error or EOF
 * before a newline, -2 when longer than cap - 1, -3 on timeout. */
static ssize_t read_line(int fd, char *buf, size_t cap, int64_t deadline)
{
    size_t len = 0;
    for (;;) {
        int r = wait_fd(fd, POLLIN, deadline);
        if (r == 0) return -3;
        if (r < 0) return -1;
        ssize_t got = recv(fd, buf + len, cap - 1 - len, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        char *nl = memchr(buf + len, '\n', (size_t)got);
        len += (size_t)got;
        if (nl) {
            *nl = 0;
            size_t l = (size_t)(nl - buf);
            if (l && buf[l - 1] == '\r') buf[--l] = 0;
            return (ssize_t)l;
        }
        if (len == cap - 1) return -2;
    }
}

int ed_control_call(const ed_control_entry *e, const char *request, int timeout_ms, char *reply,
                    size_t cap, ed_err *err)
{
    int64_t deadline = timeout_ms < 0 ? -1 : ed_mono_ns() / 1000000 + timeout_ms;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return ed_err_set(err, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)e->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        int en = errno;
        close(fd);
        ed_err_set(err, "cannot reach job %s at 127.0.0.1:%d: %s", e->id, e->port, strerror(en));
        return -2;
    }
    ed_strbuf req;
    ed_sb_init(&req);
    ed_sb_printf(&req, "%s %s\n", e->token, request);
    int rc = 0;
    if (req.len > ED_CONTROL_MAX_REQUEST) {
        rc = ed_err_set(err, "the request is longer than %d bytes", ED_CONTROL_MAX_REQUEST);
    } else if (write_all(fd, req.data, req.len)) {
        ed_err_set(err, "job %s: cannot send the request: %s", e->id, strerror(errno));
        rc = -2;
    } else {
        char line[ED_CONTROL_MAX_REPLY];
        ssize_t n = read_line(fd, line, sizeof line, deadline);
        if (n == -3) {
            ed_err_set(err, "job %s did not answer within %d ms", e->id, timeout_ms);
            rc = -2;
        } else if (n < 0) {
            ed_err_set(err, "job %s closed the connection without an answer (it may have ended)",
                       e->id);
            rc = -2;
        } else if (strcmp(line, "OK") == 0 || strncmp(line, "OK ", 3) == 0)
            snprintf(reply, cap, "%s", line[2] ? line + 3 : "");
        else if (strncmp(line, "ERR ", 4) == 0)
            rc = ed_err_set(err, "%s", line + 4);
        else
            rc = ed_err_set(err, "job %s gave an answer that is not OK or ERR", e->id);
    }
    ed_sb_free(&req);
    close(fd);
    return rc;
}

/* ---- the endpoint ------------------------------------------------------------------------- */

typedef struct worker {
    pthread_t thread;
    int fd;
    bool used, done; /* guarded by the endpoint's mu */
    struct ed_control *c;
} worker;

struct ed_control {
    ed_control_ops ops;
    void *arg;
    char id[33], token[33];
    char *name;
    char dir[PATH_MAX], file[PATH_MAX + 40];
    int64_t start_ms;
    int lfd, port;
    int wake[2]; /* written to stop the acceptor */
    pthread_t thread;
    pthread_mutex_t mu; /* guards state, the registry file and the workers */
    char state[32];
    bool stopping;
    worker w[MAX_WORKERS];
};

/* (Re)writes the registry file: a temporary file, then a rename. Holds c->mu. */
static int write_registry(ed_control *c, ed_err *err)
{
    char tmp[PATH_MAX + 48];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", c->dir, c->id);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return ed_err_set(err, "cannot write '%s': %s", tmp, strerror(errno));
    ed_strbuf sb;
    ed_sb_init(&sb);
    ed_sb_printf(&sb, "id %s\nname %s\npid %ld\nport %d\nstart %lld\nstate %s\ntoken %s\n", c->id,
                 c->name, (long)getpid(), c->port, (long long)c->start_ms, c->state, c->token);
    bool ok = write(fd, sb.data, sb.len) == (ssize_t)sb.len;
    ok = close(fd) == 0 && ok;
    ed_sb_free(&sb);
    if (!ok || rename(tmp, c->file)) {
        int en = errno;
        unlink(tmp);
        return ed_err_set(err, "cannot write '%s': %s", c->file, strerror(en));
    }
    return 0;
}

void ed_control_set_state(ed_control *c, const char *state)
{
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    if (strcmp(c->state, state) != 0 && !c->stopping) {
        snprintf(c->state, sizeof c->state, "%s", state);
        ed_err err = {0};
        if (write_registry(c, &err)) ed_log(ED_WARN, "runtime", "job %s: %s", c->id, err.msg);
    }
    pthread_mutex_unlock(&c->mu);
}

const char *ed_control_job_id(const ed_control *c)
{
    return c->id;
}
int ed_control_port(const ed_control *c)
{
    return c->port;
}

/* Compares the token without giving away where it first differs. */
static bool token_ok(const char *given, size_t n, const char *token)
{
    if (n != 32) return false;
    unsigned diff = 0;
    for (size_t i = 0; i < 32; i++)
        diff |= (unsigned)(given[i] ^ token[i]);
    return diff == 0;
}

/* The verb of a request, fit to be quoted in an answer. */
static void quote_verb(const char *v, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap && i < 32; i++)
        out[k++] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
    out[k] = 0;
}

/* The requests: each answers into reply ("OK ...") or returns -1 with err. */
typedef int (*request_fn)(ed_control *c, const char *arg, char *reply, size_t cap, ed_err *err);

static int req_status(ed_control *c, const char *arg, char *reply, size_t cap, ed_err *err)
{
    pthread_mutex_lock(&c->mu);
    snprintf(reply, cap, "OK %s %s", c->id, c->state);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static int req_cancel(ed_control *c, const char *arg, char *reply, size_t cap, ed_err *err)
{
    if (c->ops.cancel(c->arg, err)) return -1;
    snprintf(reply, cap, "OK");
    return 0;
}

static int savepoint_request(ed_control *c, const char *dir, bool stop, bool drain, char *reply,
                             size_t cap, ed_err *err)
{
    char path[4096];
    if (c->ops.savepoint(c->arg, dir, stop, drain, path, sizeof path, err)) return -1;
    snprintf(reply, cap, "OK %s", path);
    return 0;
}

static int req_savepoint(ed_control *c, const char *arg, char *reply, size_t cap, ed_err *err)
{
    return savepoint_request(c, arg, false, false, reply, cap, err);
}

static int req_stop(ed_control *c, const char *arg, char *reply, size_t cap, ed_err *err)
{
    return savepoint_request(c, arg, true, false, reply, cap, err);
}

static int req_drain(ed_control *c, const char *arg, char *reply, size_t cap, ed_err *err)
{
    return savepoint_request(c, arg, true, true, reply, cap, err);
}

static const struct {
    const char *verb;
    request_fn fn;
} requests[] = {
    {"STATUS", req_status}, {"CANCEL", req_cancel}, {"SAVEPOINT", req_savepoint},
    {"STOP", req_stop},     {"DRAIN", req_drain},
};

/* Answers one request line (len bytes, maybe with NULs) into reply. */
static void handle(ed_control *c, char *line, size_t len, char *reply, size_t cap)
{
    if (memchr(line, 0, len)) {
        snprintf(reply, cap, "ERR the request holds a NUL byte");
        return;
    }
    char *sp = strchr(line, ' ');
    if (!token_ok(line, sp ? (size_t)(sp - line) : len, c->token)) {
        snprintf(reply, cap,
                 "ERR not authorized: a request starts with the job's token (from "
                 "its registry file)");
        return;
    }
    char *verb = sp ? sp + 1 : line + len;
    char *arg = strchr(verb, ' ');
    size_t vlen = arg ? (size_t)(arg - verb) : strlen(verb);
    arg = arg ? arg + 1 : verb + vlen;
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        if (strlen(requests[i].verb) != vlen || memcmp(verb, requests[i].verb, vlen) != 0) continue;
        ed_err err = {0};
        if (requests[i].fn(c, arg, reply, cap, &err)) snprintf(reply, cap, "ERR %s", err.msg);
        return;
    }
    char q[40];
    quote_verb(verb, vlen, q, sizeof q);
    ed_strbuf known;
    ed_sb_init(&known);
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++)
        ed_sb_printf(&known, "%s%s", i ? ", " : "", requests[i].verb);
    snprintf(reply, cap, "ERR unknown request '%s' (%s)", q, known.data);
    ed_sb_free(&known);
}

static void *worker_main(void *argp)
{
    worker *w = argp;
    ed_control *c = w->c;
    char line[ED_CONTROL_MAX_REQUEST + 1], reply[ED_CONTROL_MAX_REPLY];
    int64_t deadline = ed_mono_ns() / 1000000 + REQUEST_TIMEOUT_MS;
    ssize_t n = read_line(w->fd, line, sizeof line, deadline);
    if (n >= 0)
        handle(c, line, (size_t)n, reply, sizeof reply);
    else if (n == -2)
        snprintf(reply, sizeof reply, "ERR the request is longer than %d bytes",
                 ED_CONTROL_MAX_REQUEST);
    else if (n == -3)
        snprintf(reply, sizeof reply, "ERR no request line within %d ms", REQUEST_TIMEOUT_MS);
    else
        snprintf(reply, sizeof reply, "ERR the connection ended before a request line");
    for (char *p = reply; *p; p++) /* one line, whatever an error message holds */
        if (*p == '\n' || *p == '\r') *p = ' ';
    size_t rl = strlen(reply);
    reply[rl] = '\n';
    write_all(w->fd, reply, rl + 1);
    /* what the client still sends is read and dropped for a moment: closing with unread
     * input would reset the connection and lose the answer to a request too long */
    shutdown(w->fd, SHUT_WR);
    int64_t until = ed_mono_ns() / 1000000 + DRAIN_MS;
    for (size_t dropped = 0; dropped < DRAIN_MAX && wait_fd(w->fd, POLLIN, until) > 0;) {
        ssize_t got = recv(w->fd, line, sizeof line, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        dropped += (size_t)got;
    }
    pthread_mutex_lock(&c->mu);
    close(w->fd);
    w->fd = -1;
    w->done = true;
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Joins the workers that are done. Holds c->mu. */
static void reap_workers(ed_control *c)
{
    for (int i = 0; i < MAX_WORKERS; i++)
        if (c->w[i].used && c->w[i].done) {
            pthread_join(c->w[i].thread, NULL);
            c->w[i].used = c->w[i].done = false;
        }
}

static void *acceptor_main(void *arg)
{
    ed_control *c = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = c->lfd, .events = POLLIN},
                              {.fd = c->wake[0], .events = POLLIN}};
        int r = poll(p, 2, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 || p[1].revents) break;
        if (!(p[0].revents & POLLIN)) continue;
        int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue; /* the client went away, or no descriptors: try again later */
        pthread_mutex_lock(&c->mu);
        reap_workers(c);
        worker *w = NULL;
        for (int i = 0; i < MAX_WORKERS && !w; i++)
            if (!c->w[i].used) w = &c->w[i];
        if (w) {
            *w = (worker){.fd = fd, .used = true, .c = c};
            if (pthread_create(&w->thread, NULL, worker_main, w)) {
                w->used = false;
                w = NULL;
            }
        }
        pthread_mutex_unlock(&c->mu);
        if (!w) {
            static const char busy[] = "ERR busy: too many requests at once, try again\n";
            write_all(fd, busy, sizeof busy - 1);
            close(fd);
        }
    }
    return NULL;
}

ed_control *ed_control_start(const ed_control_ops *ops, void *arg, const char *name, ed_err *err)
{
    ed_control *c = ed_xcalloc(1, sizeof(*c));
    c->ops = *ops;
    c->arg = arg;
    c->lfd = -1;
    c->wake[0] = c->wake[1] = -1;
    pthread_mutex_init(&c->mu, NULL);
    snprintf(c->state, sizeof c->state, "INITIALIZING");
    c->start_ms = ed_wall_ms();
    /* one line per field: a name's line breaks become spaces */
    c->name = ed_xstrdup(name && *name ? name : "eddy job");
    for (char *p = c->name; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    if (random_hex32(c->id, err) || random_hex32(c->token, err)) goto fail;
    if (registry_dir(c->dir, sizeof c->dir, true, err) < 0) goto fail;
    snprintf(c->file, sizeof c->file, "%s/%s", c->dir, c->id);
    c->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0}; /* ephemeral */
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (c->lfd < 0 || bind(c->lfd, (struct sockaddr *)&a, sizeof a) || listen(c->lfd, 16) ||
        getsockname(c->lfd, (struct sockaddr *)&a, &alen)) {
        ed_err_set(err, "control endpoint: cannot listen on 127.0.0.1: %s", strerror(errno));
        goto fail;
    }
    c->port = ntohs(a.sin_port);
    if (pipe2(c->wake, O_CLOEXEC)) {
        ed_err_set(err, "control endpoint: pipe: %s", strerror(errno));
        goto fail;
    }
    pthread_mutex_lock(&c->mu);
    int rc = write_registry(c, err);
    pthread_mutex_unlock(&c->mu);
    if (rc) goto fail;
    if (pthread_create(&c->thread, NULL, acceptor_main, c)) {
        unlink(c->file);
        ed_err_set(err, "control endpoint: cannot start its thread");
        goto fail;
    }
    return c;
fail:
    if (c->lfd >= 0) close(c->lfd);
    if (c->wake[0] >= 0) close(c->wake[0]);
    if (c->wake[1] >= 0) close(c->wake[1]);
    pthread_mutex_destroy(&c->mu);
    free(c->name);
    free(c);
    return NULL;
}

void ed_control_stop(ed_control *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    unlink(c->file); /* the job is no longer listed before it stops answering */
    pthread_mutex_unlock(&c->mu);
    ssize_t w;
    do
        w = write(c->wake[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(c->thread, NULL);
    close(c->lfd);
    /* requests under way: a slow client's read ends now; those waiting for a savepoint or
     * the job's end have their answer, since the job has ended */
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < MAX_WORKERS; i++)
        if (c->w[i].used && c->w[i].fd >= 0) shutdown(c->w[i].fd, SHUT_RD);
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < MAX_WORKERS; i++)
        if (c->w[i].used) pthread_join(c->w[i].thread, NULL);
    close(c->wake[0]);
    close(c->wake[1]);
    pthread_mutex_destroy(&c->mu);
    free(c->name);
    free(c);
}
