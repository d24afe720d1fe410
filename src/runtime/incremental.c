/*
 * incremental.c - incremental checkpoints of the RocksDB backend (incremental.h).
 */
#include "incremental.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/log.h"
#include "../state/rocks.h"
#include "../state/snapshot.h"
#include "upload.h"

#define INCR_MAGIC "EDDYRKIN"
#define INCR_VERSION 1u
#define FILE_SHARED 0u
#define FILE_INLINE 1u
#define MAX_NAME 255u

static void put_u32(ed_strbuf *o, uint32_t v)
{
    ed_sb_append(o, &v, 4);
}
static void put_u64(ed_strbuf *o, uint64_t v)
{
    ed_sb_append(o, &v, 8);
}
static void put_padded(ed_strbuf *o, const void *p, size_t n)
{
    static const uint8_t zeros[8];
    if (n) ed_sb_append(o, p, n);
    if (n & 7) ed_sb_append(o, zeros, 8 - (n & 7));
}

/* A local file of an instance being restored (no fsync: a crash restores again). */
static int write_all(const char *path, const void *data, size_t len, ed_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return ed_err_set(err, "cannot create '%s': %s", path, strerror(errno));
    const uint8_t *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            return ed_err_set(err, "cannot write '%s': %s", path, strerror(e));
        }
        p += w;
        len -= (size_t)w;
    }
    if (close(fd)) return ed_err_set(err, "cannot write '%s': %s", path, strerror(errno));
    return 0;
}

static bool is_sst(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".sst") == 0;
}

int ed_incr_snapshot(ed_operator *op, int64_t id, const char *shared_dir, ed_strbuf *body,
                     ed_strbuf *lines, ed_err *err)
{
    ed_state_backend *b = op->keyed->backend;
    int first, last;
    ed_key_group_range(op->ctx.subtask, op->ctx.parallelism, op->ctx.max_parallelism, &first,
                       &last);
    ed_rk_native n;
    if (ed_rk_native_checkpoint(b, &n, err)) return -1;
    if (ed_mkdirs(shared_dir, err)) {
        ed_rk_native_free(&n);
        return -1;
    }
    ed_sb_append(body, INCR_MAGIC, 8);
    put_u32(body, INCR_VERSION);
    put_u32(body, (uint32_t)op->ctx.max_parallelism);
    put_u32(body, (uint32_t)first);
    put_u32(body, (uint32_t)last);
    put_u32(body, (uint32_t)n.nfiles);
    put_u32(body, 0);
    int rc = 0;
    size_t uploaded = 0, bytes = 0;
    for (int i = 0; i < n.nfiles && !rc; i++) {
        const char *name = n.files[i];
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", n.dir, name);
        size_t nl = strlen(name);
        if (nl > MAX_NAME) {
            rc = ed_err_set(err, "RocksDB file name '%s' is too long", name);
            break;
        }
        void *data = NULL;
        size_t len = 0;
        if (is_sst(name)) {
            const char *shared = ed_rk_shared_name(b, name);
            char fresh[300];
            struct stat st;
            if (stat(path, &st)) {
                rc = ed_err_set(err, "cannot stat '%s': %s", path, strerror(errno));
                break;
            }
            len = (size_t)st.st_size;
            /* an upload that failed is made again */
            if (shared && ed_upload_take_failed(op->task->job, shared)) shared = NULL;
            if (!shared) { /* new since the last checkpoint: the upload thread copies it */
                snprintf(fresh, sizeof fresh, "%s-%s", ed_rk_instance_id(b), name);
                char to[4600];
                snprintf(to, sizeof to, "%s/%s", shared_dir, fresh);
                ed_upload_add_copy(op->task, id, path, to, ED_CKPT_SHARED_FILE, fresh);
                ed_rk_set_shared_name(b, name, fresh);
                shared = ed_rk_shared_name(b, name);
                uploaded++;
                bytes += len;
            }
            put_u32(body, FILE_SHARED);
            put_u32(body, (uint32_t)nl);
            put_u64(body, len);
            put_padded(body, name, nl);
            put_u32(body, (uint32_t)strlen(shared));
            put_u32(body, 0);
            put_padded(body, shared, strlen(shared));
            ed_sb_printf(lines, "shared %s\n", shared);
        } else {
            if (ed_read_file(path, &data, &len, err)) {
                rc = -1;
                break;
            }
            put_u32(body, FILE_INLINE);
            put_u32(body, (uint32_t)nl);
            put_u64(body, len);
            put_padded(body, name, nl);
            put_padded(body, data, len);
            free(data);
        }
    }
    if (!rc && uploaded) { /* the copies read from the native checkpoint: removed after */
        ed_upload_remove_after(op->task, id, n.dir);
        free(n.dir);
        n.dir = NULL;
    }
    ed_rk_native_free(&n);
    if (rc) return -1;
    ed_strbuf meta;
    ed_sb_init(&meta);
    rc = ed_state_snapshot_meta(b, op->keyed->timers, &meta, err);
    if (!rc) {
        put_u64(body, meta.len);
        put_padded(body, meta.data, meta.len);
        ed_log(ED_DEBUG, "checkpoint", "operator '%s' (%d/%d): %zu new shared files, %zu bytes",
               op->node->name, op->ctx.subtask + 1, op->ctx.parallelism, uploaded, bytes);
    }
    ed_sb_free(&meta);
    return rc;
}

/* ---- restoring ------------------------------------------------------------------------ */

typedef struct in {
    const uint8_t *p;
    size_t pos, len;
} in;

static bool take(in *r, size_t n, const uint8_t **out)
{
    if (n > r->len - r->pos) return false;
    *out = r->p + r->pos;
    r->pos += ED_ALIGN8(n) <= r->len - r->pos ? ED_ALIGN8(n) : n;
    return true;
}
static bool take_u32(in *r, uint32_t *v)
{
    const uint8_t *p;
    if (r->len - r->pos < 4) return false;
    p = r->p + r->pos;
    r->pos += 4;
    memcpy(v, p, 4);
    return true;
}
static bool take_u64(in *r, uint64_t *v)
{
    if (r->len - r->pos < 8) return false;
    memcpy(v, r->p + r->pos, 8);
    r->pos += 8;
    return true;
}

/* A file name from a checkpoint: no path, nothing hidden. */
static bool safe_name(const uint8_t *p, uint32_t n)
{
    if (!n || n > MAX_NAME || p[0] == '.') return false;
    for (uint32_t i = 0; i < n; i++)
        if (p[i] == '/' || p[i] == 0) return false;
    return true;
}

typedef struct parsed {
    uint32_t maxp, first, last, nfiles;
    size_t files_at; /* where the file list starts */
    const uint8_t *meta;
    size_t meta_len;
} parsed;

/* Checks the whole body: every length within it, every name safe. */
static int parse(const void *body, size_t len, parsed *out, ed_err *err)
{
    in r = {body, 0, len};
    const uint8_t *magic;
    uint32_t version = 0, z = 1;
    if (!take(&r, 8, &magic) || memcmp(magic, INCR_MAGIC, 8) || !take_u32(&r, &version) ||
        version != INCR_VERSION || !take_u32(&r, &out->maxp) || !take_u32(&r, &out->first) ||
        !take_u32(&r, &out->last) || !take_u32(&r, &out->nfiles) || !take_u32(&r, &z) || z ||
        out->first > out->last || out->last >= out->maxp)
        return ed_err_set(err, "incremental RocksDB state: malformed header");
    out->files_at = r.pos;
    for (uint32_t i = 0; i < out->nfiles; i++) {
        uint32_t kind, nl;
        uint64_t size;
        const uint8_t *name, *x;
        if (!take_u32(&r, &kind) || !take_u32(&r, &nl) || !take_u64(&r, &size) ||
            !take(&r, nl, &name) || !safe_name(name, nl) || kind > FILE_INLINE)
            return ed_err_set(err, "incremental RocksDB state: file %u is malformed", i);
        if (kind == FILE_SHARED) {
            uint32_t sl;
            if (!take_u32(&r, &sl) || !take_u32(&r, &z) || z || !take(&r, sl, &x) ||
                !safe_name(x, sl))
                return ed_err_set(err, "incremental RocksDB state: file %u is malformed", i);
        } else if (size > r.len - r.pos || !take(&r, (size_t)size, &x)) {
            return ed_err_set(err, "incremental RocksDB state: file %u is truncated", i);
        }
    }
    uint64_t ml;
    if (!take_u64(&r, &ml) || ml > r.len - r.pos)
        return ed_err_set(err, "incremental RocksDB state: the states' snapshot is truncated");
    out->meta = r.p + r.pos;
    out->meta_len = (size_t)ml;
    return 0;
}

/* Writes the instance's files into dir; with b, remembers the shared names. */
static int materialize(const void *body, size_t len, const parsed *ps, const char *shared_dir,
                       const char *dir, ed_state_backend *b, ed_err *err)
{
    in r = {body, ps->files_at, len};
    for (uint32_t i = 0; i < ps->nfiles; i++) {
        uint32_t kind = 0, nl = 0, sl = 0, z = 0;
        uint64_t size = 0;
        const uint8_t *name = NULL, *x = NULL;
        /* parse() checked all of it */
        if (!take_u32(&r, &kind) || !take_u32(&r, &nl) || !take_u64(&r, &size) ||
            !take(&r, nl, &name) || nl > MAX_NAME)
            return ed_err_set(err, "incremental RocksDB state: file %u is malformed", i);
        char local[MAX_NAME + 1], path[4600];
        memcpy(local, name, nl);
        local[nl] = 0;
        snprintf(path, sizeof path, "%s/%s", dir, local);
        if (kind == FILE_INLINE) {
            if (size > r.len - r.pos || !take(&r, (size_t)size, &x) ||
                write_all(path, x, (size_t)size, err))
                return err->set ? -1 : ed_err_set(err, "incremental RocksDB state: file %u", i);
            continue;
        }
        if (!take_u32(&r, &sl) || !take_u32(&r, &z) || !take(&r, sl, &x) || sl > MAX_NAME)
            return ed_err_set(err, "incremental RocksDB state: file %u is malformed", i);
        char shared[MAX_NAME + 1], from[4600];
        memcpy(shared, x, sl);
        shared[sl] = 0;
        snprintf(from, sizeof from, "%s/%s", shared_dir, shared);
        void *data;
        size_t dlen;
        if (ed_ckpt_read(from, ED_CKPT_SHARED_FILE, &data, &dlen, err)) return -1;
        int rc = dlen == size ? write_all(path, data, dlen, err)
                              : ed_err_set(err, "%s: %zu bytes, the checkpoint says %llu", from,
                                           dlen, (unsigned long long)size);
        free(data);
        if (rc) return -1;
        if (b) ed_rk_set_shared_name(b, local, shared);
    }
    return 0;
}

int ed_incr_restore(ed_operator *op, const void *body, size_t len, const char *shared_dir,
                    int first, int last, ed_err *err)
{
    return ed_incr_restore_into(op->keyed->backend, op->keyed->timers, op->ctx.max_parallelism,
                                body, len, shared_dir, first, last, err);
}

int ed_incr_restore_into(ed_state_backend *b, ed_timer_service *timers, int max_parallelism,
                         const void *body, size_t len, const char *shared_dir, int first,
                         int last, ed_err *err)
{
    parsed ps;
    if (parse(body, len, &ps, err)) return -1;
    if (ps.maxp != (uint32_t)max_parallelism)
        return ed_err_set(err, "incremental RocksDB state of max parallelism %u; the job has %d",
                          ps.maxp, max_parallelism);
    if ((int)ps.last < first || (int)ps.first > last) return 0; /* none of our key groups */
    if (ed_state_backend_is_rocksdb(b) && (int)ps.first == first && (int)ps.last == last) {
        /* the same key groups: the files become this subtask's instance */
        const char *dir = ed_rk_begin_replace(b);
        int rc = materialize(body, len, &ps, shared_dir, dir, b, err);
        if (ed_rk_end_replace(b, rc ? &(ed_err){0} : err)) rc = -1;
        if (!rc) rc = ed_state_restore(b, timers, ps.meta, ps.meta_len, first, last, err);
        return rc;
    }
    /* another range (or the heap backend): open the old instance on the side and move the
     * entries of our key groups over, through the backend-neutral format */
    const char *tmp = getenv("TMPDIR");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/eddy-rocksdb-restore-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return ed_err_set(err, "cannot create '%s': %s", dir, strerror(errno));
    ed_state_backend *old = ed_state_backend_new(max_parallelism, NULL, NULL);
    ed_timer_service *scratch = ed_timers_new();
    ed_rocks_options o = {.local_dir = dir, .existing = true, .memory = 64 << 20};
    ed_strbuf neutral;
    ed_sb_init(&neutral);
    int rc = materialize(body, len, &ps, shared_dir, dir, NULL, err);
    if (!rc) rc = ed_state_backend_use_rocksdb(old, &o, err);
    bool opened = ed_state_backend_is_rocksdb(old);
    if (!rc) rc = ed_state_restore(old, scratch, ps.meta, ps.meta_len, (int)ps.first, (int)ps.last, err);
    if (!rc) rc = ed_state_snapshot(old, NULL, &neutral, err);
    if (!rc) rc = ed_state_restore(b, timers, ps.meta, ps.meta_len, first, last, err);
    if (!rc) rc = ed_state_restore(b, NULL, neutral.data, neutral.len, first, last, err);
    ed_sb_free(&neutral);
    ed_timers_free(scratch);
    ed_state_backend_free(old); /* removes dir with its instance */
    if (!opened) {
        ed_err e = {0};
        ed_remove_tree(dir, &e);
    }
    return rc;
}
