/*
 * socket.c - Flink's socketTextStream: delimited lines from a TCP connection.
 *
 * One subtask (max parallelism 1) connects to hostname:port and emits every record
 * between delimiters as a "line STRING" row; with the default delimiter "\n" a trailing
 * '\r' is dropped, and an unterminated last record is emitted when the peer closes, as
 * Flink does. The source is NOT replayable: what was read is gone, so after a failure
 * the job resumes with whatever the peer sends next.
 *
 * max-retry is Flink's maxRetry: 0 ends the source when the connection closes (and
 * fails the job when it cannot connect); n > 0 reconnects up to n times in the source's
 * life, 1 s apart; -1 reconnects forever. A failed connection attempt uses up a retry
 * like a closed connection does (Flink fails at once there; eddy waits for the server).
 *
 * Nothing blocks in poll: the socket is non-blocking, a connect in progress is checked
 * with poll(2) and a zero timeout, reads return EAGAIN when nothing is there, and the
 * source then returns ED_POLL_IDLE with op->wake_ns 10 ms ahead (or at the retry time).
 * Name resolution (getaddrinfo) is done once, in open. One read(2) of up to 64 KiB
 * serves many records; records are cut in place and built with one reused builder.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connectors_int.h"

#define SK "socket"
#define SK_READ_SIZE (64u * 1024u)
#define SK_IDLE_NS (10 * 1000 * 1000LL)
#define SK_RETRY_NS (1000 * 1000 * 1000LL)

typedef enum sk_phase { SK_CONNECTING, SK_CONNECTED, SK_WAITING, SK_DONE } sk_phase;

typedef struct sk_opts {
    const char *host, *delim_text;
    int64_t port, max_retry;
} sk_opts;

static int sk_opts_parse(const ed_node *n, sk_opts *o, ed_err *err)
{
    const char *port;
    if (ed_conn_opt_str(n, SK, "hostname", "localhost", &o->host, err) ||
        ed_conn_opt_str(n, SK, "port", NULL, &port, err) ||
        ed_conn_opt_i64(n, SK, "port", 0, 1, 65535, &o->port, err) ||
        ed_conn_opt_str(n, SK, "delimiter", "\n", &o->delim_text, err) ||
        ed_conn_opt_i64(n, SK, "max-retry", 0, -1, INT64_MAX, &o->max_retry, err))
        return -1;
    if (!ed_conn_is_line_schema(n->schema))
        return ed_err_set(err, SK ": the schema must be one STRING field (line STRING), not (%s)",
                          n->schema ? eddy_schema_text(n->schema) : "");
    return 0;
}

static int sk_check(const ed_node *n, ed_err *err)
{
    sk_opts o;
    return sk_opts_parse(n, &o, err);
}

typedef struct sk_state {
    sk_opts o;
    char where[300]; /* "host:port" for messages */
    char *delim;
    size_t dlen;
    bool strip_cr;
    struct addrinfo *ai, *ai_cur;
    sk_phase phase;
    int fd;
    int64_t retries_left; /* -1: forever */
    int64_t retry_at;     /* mono ns, SK_WAITING */
    bool peer_closed;     /* EOF seen; records still in the buffer */
    char *buf;
    size_t cap, lo, hi, scan; /* unread bytes buf[lo, hi); no delimiter starts in [lo, scan) */
    uint64_t records;
    eddy_row_builder *rb;
} sk_state;

/* "\n", "\t", "\r", "\\" in the option value become the characters; any other
 * backslash stays as it is. */
static char *sk_unescape(const char *s, size_t *len)
{
    size_t n = strlen(s), w = 0;
    char *out = malloc(n + 1);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            switch (s[i + 1]) {
            case 'n':
                c = '\n', i++;
                break;
            case 't':
                c = '\t', i++;
                break;
            case 'r':
                c = '\r', i++;
                break;
            case '\\':
                i++;
                break;
            default:
                break;
            }
        }
        out[w++] = c;
    }
    *len = w;
    return out;
}

static void sk_disconnect(sk_state *s)
{
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    s->lo = s->hi = s->scan = 0;
    s->peer_closed = false;
}

/* Starts connecting to the addresses from s->ai_cur on; returns 0 when one is connected
 * or in progress, or the errno of the last failure. */
static int sk_connect(sk_state *s)
{
    int e = ECONNREFUSED;
    for (; s->ai_cur; s->ai_cur = s->ai_cur->ai_next) {
        struct addrinfo *a = s->ai_cur;
        s->fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (s->fd < 0) {
            e = errno;
            continue;
        }
        if (connect(s->fd, a->ai_addr, a->ai_addrlen) == 0) {
            s->phase = SK_CONNECTED;
            return 0;
        }
        if (errno == EINPROGRESS || errno == EINTR) {
            s->phase = SK_CONNECTING;
            return 0;
        }
        e = errno;
        close(s->fd);
        s->fd = -1;
    }
    return e;
}

/* The connection ended (error 0: closed by the peer) or could not be made: retry, end or
 * fail. */
static ed_poll_result sk_lost(ed_operator *op, sk_state *s, int error)
{
    bool was_connected = s->phase == SK_CONNECTED;
    sk_disconnect(s);
    if (s->retries_left != 0) {
        if (s->retries_left > 0) s->retries_left--;
        s->phase = SK_WAITING;
        s->retry_at = ed_mono_ns() + SK_RETRY_NS;
        op->wake_ns = s->retry_at;
        return ED_POLL_IDLE;
    }
    s->phase = SK_DONE;
    if (error) {
        ed_op_fail(op, SK ": cannot %s %s: %s", was_connected ? "read from" : "connect to",
                   s->where, strerror(error));
        return ED_POLL_ERROR;
    }
    return ED_POLL_END;
}

static void sk_close(ed_operator *op);

static int sk_open(ed_operator *op, ed_err *err)
{
    sk_state *s = calloc(1, sizeof *s);
    if (!s) return ed_err_set(err, SK ": out of memory");
    op->state = s;
    s->fd = -1;
    if (sk_opts_parse(op->node, &s->o, err) != 0) return -1;
    snprintf(s->where, sizeof s->where, "%s:%lld", s->o.host, (long long)s->o.port);
    s->delim = sk_unescape(s->o.delim_text, &s->dlen);
    s->cap = SK_READ_SIZE;
    s->buf = malloc(s->cap);
    s->rb = eddy_rb_new(1);
    if (!s->delim || !s->buf || !s->rb) return ed_err_set(err, SK ": out of memory");
    if (s->dlen == 0) return ed_err_set(err, SK ": option 'delimiter' is empty");
    s->strip_cr = s->dlen == 1 && s->delim[0] == '\n';
    s->retries_left = s->o.max_retry;

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char port[16];
    snprintf(port, sizeof port, "%lld", (long long)s->o.port);
    int rc = getaddrinfo(s->o.host, port, &hints, &s->ai);
    if (rc != 0)
        return ed_err_set(err, SK ": cannot resolve '%s': %s", s->o.host, gai_strerror(rc));
    s->ai_cur = s->ai;
    s->phase = SK_WAITING; /* the first poll connects */
    s->retry_at = 0;
    return 0;
}

static void sk_close(ed_operator *op)
{
    sk_state *s = op->state;
    if (!s) return;
    sk_disconnect(s);
    if (s->ai) freeaddrinfo(s->ai);
    free(s->delim);
    free(s->buf);
    eddy_rb_free(s->rb);
    free(s);
    op->state = NULL;
}

/* Emits one record; 0, or -1 when the job fails. */
static int sk_emit(ed_operator *op, sk_state *s, const char *p, size_t len)
{
    s->records++;
    if (s->strip_cr && len > 0 && p[len - 1] == '\r') len--;
    size_t bad = ed_utf8_check(p, len);
    if (ED_UNLIKELY(bad != len))
        return ed_op_fail(op, SK " %s: record %llu: invalid UTF-8 at byte %zu", s->where,
                          (unsigned long long)s->records, bad + 1);
    eddy_rb_reset(s->rb);
    if (len > UINT32_MAX || eddy_rb_set_str(s->rb, 0, p, (uint32_t)len) != 0)
        return ed_op_fail(op, SK " %s: record %llu of %zu bytes is too long for a row", s->where,
                          (unsigned long long)s->records, len);
    return ed_out_emit(&op->out, eddy_rb_row(s->rb), ED_TS_NONE);
}

/* Emits complete records from the buffer, up to max - *emitted. -1 on failure. */
static int sk_drain(ed_operator *op, sk_state *s, int max, int *emitted)
{
    while (*emitted < max) {
        size_t from = s->scan;
        if (s->hi - from < s->dlen) return 0;
        char *d = s->dlen == 1 ? memchr(s->buf + from, s->delim[0], s->hi - from)
                               : memmem(s->buf + from, s->hi - from, s->delim, s->dlen);
        if (!d) {
            s->scan = s->hi - (s->dlen - 1); /* a delimiter may straddle the next read */
            return 0;
        }
        const char *rec = s->buf + s->lo;
        size_t len = (size_t)(d - rec);
        s->lo = s->scan = (size_t)(d - s->buf) + s->dlen;
        if (sk_emit(op, s, rec, len) != 0) return -1;
        (*emitted)++;
    }
    return 0;
}

static ed_poll_result sk_idle(ed_operator *op, int emitted)
{
    if (emitted) return ED_POLL_MORE;
    op->wake_ns = ed_mono_ns() + SK_IDLE_NS;
    return ED_POLL_IDLE;
}

static ed_poll_result sk_poll(ed_operator *op, int max)
{
    sk_state *s = op->state;
    int emitted = 0;
    if (max <= 0) max = 1;

    if (s->phase == SK_DONE) return ED_POLL_END;
    if (s->phase == SK_WAITING) {
        int64_t now = ed_mono_ns();
        if (now < s->retry_at) {
            op->wake_ns = s->retry_at;
            return ED_POLL_IDLE;
        }
        s->ai_cur = s->ai;
        int e = sk_connect(s);
        if (e) return sk_lost(op, s, e);
    }
    if (s->phase == SK_CONNECTING) {
        struct pollfd pfd = {.fd = s->fd, .events = POLLOUT};
        int r = poll(&pfd, 1, 0);
        if (r == 0) return sk_idle(op, 0);
        if (r < 0) return errno == EINTR ? sk_idle(op, 0) : sk_lost(op, s, errno);
        int e = 0;
        socklen_t elen = sizeof e;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0) e = errno;
        if (e) { /* try the next address, else this attempt failed */
            close(s->fd);
            s->fd = -1;
            s->ai_cur = s->ai_cur->ai_next;
            int e2 = s->ai_cur ? sk_connect(s) : e;
            if (e2) return sk_lost(op, s, e2);
            return sk_idle(op, 0);
        }
        s->phase = SK_CONNECTED;
    }

    /* connected */
    if (sk_drain(op, s, max, &emitted) != 0) return ED_POLL_ERROR;
    if (emitted == max) return ED_POLL_MORE;
    if (s->peer_closed) { /* every complete record is out: the rest is the last one */
        if (s->lo < s->hi && sk_emit(op, s, s->buf + s->lo, s->hi - s->lo) != 0)
            return ED_POLL_ERROR;
        return sk_lost(op, s, 0);
    }
    if (s->lo > 0) { /* compact, then grow if one record fills the buffer */
        memmove(s->buf, s->buf + s->lo, s->hi - s->lo);
        s->hi -= s->lo;
        s->scan -= s->lo;
        s->lo = 0;
    }
    if (s->hi == s->cap) {
        char *nb = realloc(s->buf, s->cap * 2);
        if (!nb) {
            ed_op_fail(op, SK " %s: record longer than %zu bytes: out of memory", s->where, s->cap);
            return ED_POLL_ERROR;
        }
        s->buf = nb;
        s->cap *= 2;
    }
    ssize_t r = read(s->fd, s->buf + s->hi, s->cap - s->hi);
    if (r > 0) {
        s->hi += (size_t)r;
        if (sk_drain(op, s, max, &emitted) != 0) return ED_POLL_ERROR;
        return ED_POLL_MORE;
    }
    if (r == 0) {
        s->peer_closed = true;
        return ED_POLL_MORE; /* the next poll emits what is left and ends or retries */
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return sk_idle(op, emitted);
    return sk_lost(op, s, errno);
}

static const ed_op_vt sk_vt = {
    .open = sk_open,
    .close = sk_close,
    .poll = sk_poll,
};

static const char *const sk_options[] = {"hostname", "port", "delimiter", "max-retry", NULL};

const ed_factory ed_connector_socket = {
    .name = "socket",
    .kind = ED_FACTORY_SOURCE,
    .vt = &sk_vt,
    .check = sk_check,
    .max_parallelism = 1,
    .options = sk_options,
};
