/*
 * incremental_test.c - incremental checkpoints of the RocksDB backend: a checkpoint
 * uploads only the SST files that are new since the last one and refers to the others;
 * the shared directory holds exactly the files the retained checkpoints use (the others
 * are deleted as checkpoints are dropped); each checkpoint holds exactly the state before
 * its barrier; a damaged shared file fails the restore with its path.
 *
 * The job counts lines per key (ValueState, RocksDB, 1 MiB of memory so that it flushes
 * often). The test serves the lines on a loopback socket in rounds and, after each round
 * is counted, moves the manual clock until the next checkpoint is complete.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "checkpoint/storage.h"
#include "ed_test.h"
#include "runtime/incremental.h"
#include "state/rocks.h"

static atomic_long counted;

static const eddy_state_desc count_desc = {
    .name = "count", .kind = EDDY_STATE_VALUE, .schema = "n BIGINT"};

int inc_count(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    eddy_state *st = eddy_keyed_state(ctx, &count_desc);
    if (!st) return -1;
    const eddy_row *cur = eddy_value_get(st);
    eddy_row_builder *b = eddy_out_builder(out);
    eddy_rb_set_i64(b, 0, (cur ? eddy_row_i64(cur, 0) : 0) + 1);
    int rc = eddy_value_update(st, eddy_rb_row(b));
    atomic_fetch_add(&counted, 1);
    return rc;
}

typedef struct job_run {
    eddy_env *env;
    pthread_t thread;
    int rc;
} job_run;

static void *run_job(void *arg)
{
    job_run *r = arg;
    r->rc = eddy_execute(r->env, "inc");
    return NULL;
}

static void nap(int ms) { usleep((useconds_t)ms * 1000); }

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* The "shared <name>" lines of a checkpoint's _metadata, each followed by '\n'. */
static void refs_of(const char *chk, ed_strbuf *out)
{
    char meta[700];
    snprintf(meta, sizeof meta, "%s/_metadata", chk);
    void *m;
    size_t len;
    ed_err e = {0};
    if (ed_ckpt_read(meta, ED_CKPT_METADATA, &m, &len, &e)) {
        ED_FAIL_AT("%s", e.msg);
        return;
    }
    char *text = strndup(m, len);
    free(m);
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (!strncmp(l, "shared ", 7)) {
            ed_sb_puts(out, l + 7);
            ed_sb_putc(out, '\n');
        }
    free(text);
}

static bool listed(const ed_strbuf *list, const char *name)
{
    char line[300];
    snprintf(line, sizeof line, "%s\n", name);
    for (const char *p = list->data; p && (p = strstr(p, line)); p++)
        if (p == list->data || p[-1] == '\n') return true;
    return false;
}

static int count_lines(const ed_strbuf *list)
{
    int n = 0;
    for (size_t i = 0; i < list->len; i++) n += list->data[i] == '\n';
    return n;
}

/* The count of key "k<i>" in backend b (the job's key bytes: a STRING key). */
static long count_in(ed_state_backend *b, int i)
{
    char key[16];
    snprintf(key, sizeof key, "k%d", i);
    uint8_t kb[64] = {0};
    uint64_t len = strlen(key);
    memcpy(kb, &len, 8);
    memcpy(kb + 8, key, len);
    size_t klen = 8 + ED_ALIGN8(len);
    ed_state_set_key(b, kb, (uint32_t)klen, ed_key_group(ed_key_hash(kb, klen), 128));
    ed_err e = {0};
    eddy_state *s = ed_state_get(b, &count_desc, &e);
    if (!s) return -1;
    const eddy_row *v = eddy_value_get(s);
    return v ? (long)eddy_row_i64(v, 0) : 0;
}

/* Reads section `kind` of an operator state file's payload. */
static const uint8_t *section(const uint8_t *p, size_t n, uint32_t kind, size_t *len)
{
    size_t off = 0;
    while (off + 16 <= n) {
        uint32_t k;
        uint64_t l;
        memcpy(&k, p + off, 4);
        memcpy(&l, p + off + 8, 8);
        if (off + 16 + l > n) return NULL;
        if (k == kind) {
            *len = l;
            return p + off + 16;
        }
        off += 16 + ED_ALIGN8(l);
    }
    return NULL;
}

/* Restores checkpoint chk into a heap backend; 0 with *b, or -1 (err). */
static int restore_heap(const char *root, const char *chk, ed_state_backend **b, ed_err *e)
{
    *b = ed_state_backend_new(128, NULL, NULL);
    ed_timer_service *tm = ed_timers_new();
    char path[800], shared[700];
    snprintf(path, sizeof path, "%s/counter-0", chk);
    snprintf(shared, sizeof shared, "%s/shared", root);
    void *payload;
    size_t plen, klen;
    int rc = ed_ckpt_read(path, ED_CKPT_OPERATOR_STATE, &payload, &plen, e);
    if (!rc) {
        const uint8_t *incr = section(payload, plen, 4, &klen);
        rc = incr ? ed_incr_restore_into(*b, tm, 128, incr, klen, shared, 0, 127, e)
                  : ed_err_set(e, "no incremental keyed section in %s", path);
        free(payload);
    }
    ed_timers_free(tm);
    return rc;
}

enum { ROUNDS = 10, PER_ROUND = 3000, KEYS = 500 };

ED_TEST(incremental_checkpoints_share_files_and_delete_the_unused)
{
    char dir[] = "/tmp/eddy_incr_test.XXXXXX";
    ED_REQUIRE(mkdtemp(dir));
    atomic_store(&counted, 0);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ED_REQUIRE(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 1) == 0);
    socklen_t alen = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &alen);

    eddy_env *env = eddy_env_new();
    eddy_env_use_manual_clock(env, 0);
    eddy_env_set(env, "log.level", "WARN");
    eddy_env_set(env, "execution.checkpointing.interval", "1 s");
    eddy_env_set(env, "execution.checkpointing.dir", dir);
    eddy_env_set(env, "execution.checkpointing.num-retained", "2");
    eddy_env_set(env, "execution.checkpointing.incremental", "true");
    eddy_env_set(env, "state.backend.type", "rocksdb");
    eddy_env_set(env, "state.backend.rocksdb.memory.fixed-per-slot", "1 mb");
    eddy_stream *lines = eddy_socket_text_stream(env, "127.0.0.1", ntohs(a.sin_port));
    eddy_stream *counts = eddy_keyed_process(eddy_key_by(lines, "line"), EDDY_FN(inc_count),
                                             EDDY_FN_NONE, "n BIGINT");
    eddy_uid(counts, "counter");
    eddy_discard(counts);
    job_run r = {.env = env};
    pthread_create(&r.thread, NULL, run_job, &r);
    int fd = accept(lfd, NULL, NULL);
    ED_REQUIRE(fd >= 0);

    static long want[ROUNDS][KEYS];
    static char buf[PER_ROUND * 8];
    ed_strbuf ever, prev, cur;
    ed_sb_init(&ever);
    ed_sb_init(&prev);
    ed_sb_init(&cur);
    int shared_with_prev = 0;
    for (int round = 0; round < ROUNDS; round++) {
        size_t len = 0;
        if (round) memcpy(want[round], want[round - 1], sizeof want[round]);
        for (int i = 0; i < PER_ROUND; i++) {
            int k = (i * 7 + round * 131 + i / 13) % KEYS;
            want[round][k]++;
            len += (size_t)snprintf(buf + len, sizeof buf - len, "k%d\n", k);
        }
        ED_REQUIRE(write(fd, buf, len) == (ssize_t)len);
        long target = (long)(round + 1) * PER_ROUND;
        for (int i = 0; i < 4000 && atomic_load(&counted) < target; i++) nap(2);
        ED_REQUIRE(atomic_load(&counted) == target);
        char chk[600], meta[700];
        snprintf(chk, sizeof chk, "%s/inc/chk-%d", dir, round + 1);
        snprintf(meta, sizeof meta, "%s/_metadata", chk);
        /* exactly one interval: one checkpoint, after this round's lines */
        eddy_env_advance_clock(env, 1000);
        for (int i = 0; i < 10000 && !exists(meta); i++) nap(2);
        ED_REQUIRE(exists(meta));
        ed_sb_reset(&cur);
        refs_of(chk, &cur);
        ED_CHECK(cur.len > 0);
        int common = 0;
        for (char *p = cur.data, *nl; p && (nl = strchr(p, '\n')); p = nl + 1) {
            *nl = 0;
            common += listed(&prev, p);
            if (!listed(&ever, p)) {
                ed_sb_puts(&ever, p);
                ed_sb_putc(&ever, '\n');
            }
            /* every file a checkpoint uses is there when it is complete */
            char path[1000];
            snprintf(path, sizeof path, "%s/inc/shared/%s", dir, p);
            ED_CHECK(exists(path));
            *nl = '\n';
        }
        shared_with_prev += common > 0;
        ed_sb_reset(&prev);
        ed_sb_append(&prev, cur.data, cur.len);
    }
    eddy_env_cancel(env);
    pthread_join(r.thread, NULL);
    close(fd);
    close(lfd);

    /* later checkpoints referred to files of earlier ones instead of uploading them */
    ED_CHECK(shared_with_prev >= ROUNDS / 2);
    /* the shared directory holds exactly what the two retained checkpoints use */
    ed_strbuf kept;
    ed_sb_init(&kept);
    char chk[600];
    snprintf(chk, sizeof chk, "%s/inc/chk-%d", dir, ROUNDS - 1);
    refs_of(chk, &kept);
    snprintf(chk, sizeof chk, "%s/inc/chk-%d", dir, ROUNDS);
    refs_of(chk, &kept);
    char sd[600];
    snprintf(sd, sizeof sd, "%s/inc/shared", dir);
    DIR *d = opendir(sd);
    ED_REQUIRE(d);
    int present = 0, stray = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        present++;
        if (!listed(&kept, de->d_name) && stray++ < 3)
            ED_FAIL_AT("shared file %s is used by no retained checkpoint", de->d_name);
    }
    closedir(d);
    for (char *p = kept.data, *nl; p && (nl = strchr(p, '\n')); p = nl + 1) {
        *nl = 0;
        char path[1000];
        snprintf(path, sizeof path, "%s/%s", sd, p);
        ED_CHECK(exists(path));
        *nl = '\n';
    }
    /* files of dropped checkpoints that nothing used any more were deleted */
    ED_CHECK(count_lines(&ever) > present);
    snprintf(chk, sizeof chk, "%s/inc/chk-1", dir);
    ED_CHECK(!exists(chk)); /* beyond the two retained */
    char root[600];
    snprintf(root, sizeof root, "%s/inc", dir);

    /* each retained checkpoint holds exactly the counts before its barrier */
    for (int k = ROUNDS - 1; k <= ROUNDS; k++) {
        snprintf(chk, sizeof chk, "%s/inc/chk-%d", dir, k);
        ed_state_backend *b;
        ed_err e = {0};
        if (restore_heap(root, chk, &b, &e)) {
            ED_FAIL_AT("restore of %s: %s", chk, e.msg);
        } else {
            int bad = 0;
            for (int i = 0; i < KEYS; i++)
                if (count_in(b, i) != want[k - 1][i] && bad++ < 3)
                    ED_FAIL_AT("chk-%d: key k%d has %ld, sent %ld", k, i, count_in(b, i),
                               want[k - 1][i]);
        }
        ed_state_backend_free(b);
    }

    /* a damaged shared file: the restore names it and fails */
    snprintf(chk, sizeof chk, "%s/inc/chk-%d", dir, ROUNDS);
    char *first = kept.data, *nl = first ? strchr(first, '\n') : NULL;
    ED_REQUIRE(nl);
    *nl = 0;
    char victim[1000];
    snprintf(victim, sizeof victim, "%s/inc/shared/%s", dir, first);
    FILE *f = fopen(victim, "r+b");
    ED_REQUIRE(f);
    fseek(f, 100, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(c ^ 0xff, f);
    fclose(f);
    ed_state_backend *b;
    ed_err e = {0};
    ED_CHECK(restore_heap(root, chk, &b, &e) != 0);
    ED_CHECK_CONTAINS(e.msg, first);
    ed_state_backend_free(b);

    ed_sb_free(&kept);
    ed_sb_free(&ever);
    ed_sb_free(&prev);
    ed_sb_free(&cur);
    eddy_env_free(env);
    ed_err rm = {0};
    ed_remove_tree(dir, &rm);
}
