/*
 * rocks_state.c - the RocksDB keyed state backend (rocks.h): the instance and its column
 * families, the entry layout, map state entry by entry, the list merge operator and the
 * TTL compaction filter.
 */
#include "rocks.h"

#include "state_int.h"

#include <rocksdb/c.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_HEAD 6u /* u16 key group, u32 key length */

/* What the compaction filter of a column family needs; owned by the instance, as long as
 * the database is open. */
typedef struct rk_filter_ctx {
    ed_rocks *rk;
    _Atomic int kind; /* eddy_state_kind; 0 until a state takes the family */
    _Atomic int64_t ttl_ms;
    struct rk_filter_ctx *next;
} rk_filter_ctx;

struct ed_rk_cf {
    rocksdb_column_family_handle_t *h;
    rk_filter_ctx *filter; /* NULL without TTL */
    ed_strbuf val;         /* the last value read, 8-aligned */
    ed_strbuf enc;         /* encoding scratch */
    uint8_t *mkey;         /* canonical map key bytes */
    uint32_t mkcap;
    uint64_t map_version;  /* bumped on every map change: iterators end */
    /* the map iteration in progress */
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *it_ro;
    ed_strbuf it_lo, it_hi;
    uint64_t it_version, it_bver;
    size_t it_pos;
    ed_strbuf it_rows; /* the key and value rows of the entry last returned */
};

struct ed_rocks {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_cache_t *cache;
    rocksdb_block_based_table_options_t *bbto;
    rocksdb_readoptions_t *ro;
    rocksdb_writeoptions_t *wo;
    rocksdb_writebatch_t *batch;
    size_t batch_bytes;
    char *dir;
    size_t memory;
    double wbr;
    int ncf;
    _Atomic int64_t now;
    rk_filter_ctx *filters;
    ed_strbuf key; /* the current key's prefix: kg, key, namespace */
    ed_strbuf ikey; /* scratch for explicit keys */
    /* families found when an existing instance was opened, until states take them */
    struct rk_found {
        char *name;
        rocksdb_column_family_handle_t *h;
        rk_filter_ctx *filter;
    } *found;
    int nfound;
    /* incremental checkpoints: which local files are in shared storage, under what name */
    char id[33]; /* this instance's random id: the prefix of the names it uploads */
    struct rk_shared {
        char *local, *shared;
    } *shared;
    int nshared;
    int native_seq;
};

/* ---- layout ------------------------------------------------------------------------------ */

static void put_be16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes the entry key of (kg, key, ns, mkey) into out (replacing it). */
static void make_key(ed_strbuf *out, int kg, const uint8_t *key, uint32_t klen, const uint8_t *ns,
                     uint32_t nslen, const uint8_t *mkey, uint32_t mklen)
{
    ed_sb_reset(out);
    ed_sb_reserve(out, (size_t)KEY_HEAD + klen + 4 + nslen + mklen);
    uint8_t *p = (uint8_t *)out->data;
    put_be16(p, (uint32_t)kg);
    put_be32(p + 2, klen);
    if (klen) memcpy(p + KEY_HEAD, key, klen);
    put_be32(p + KEY_HEAD + klen, nslen);
    if (nslen) memcpy(p + KEY_HEAD + klen + 4, ns, nslen);
    if (mklen) memcpy(p + KEY_HEAD + klen + 4 + nslen, mkey, mklen);
    out->len = (size_t)KEY_HEAD + klen + 4 + nslen + mklen;
}

/* The key of (current key, ns[, mkey]) in rk->key. */
static const char *cur_key(ed_state_backend *b, const uint8_t *ns, uint32_t nslen,
                           const uint8_t *mkey, uint32_t mklen, size_t *len)
{
    ed_rocks *rk = b->rk;
    make_key(&rk->key, b->key_group, b->key, b->klen, ns, nslen, mkey, mklen);
    *len = rk->key.len;
    return rk->key.data;
}

/* Splits an entry key; false when it is malformed. */
static bool split_key(const uint8_t *k, size_t n, ed_rk_item *it)
{
    if (n < KEY_HEAD + 4) return false;
    it->kg = (int)((uint32_t)k[0] << 8 | k[1]);
    it->klen = get_be32(k + 2);
    if (it->klen > n - KEY_HEAD - 4) return false;
    it->key = k + KEY_HEAD;
    it->nslen = get_be32(k + KEY_HEAD + it->klen);
    size_t at = (size_t)KEY_HEAD + it->klen + 4;
    if (it->nslen > n - at) return false;
    it->ns = k + at;
    it->mkey = k + at + it->nslen;
    it->mklen = (uint32_t)(n - at - it->nslen);
    return true;
}

/* The smallest key greater than every key starting with p[0, n), in hi; false when there
 * is none (p is all 0xff). */
static bool prefix_end(const uint8_t *p, size_t n, ed_strbuf *hi)
{
    ed_sb_reset(hi);
    while (n && p[n - 1] == 0xff) n--;
    if (!n) return false;
    ed_sb_append(hi, p, n);
    ((uint8_t *)hi->data)[n - 1]++;
    return true;
}

static int rk_fail(eddy_state *s, const char *what, char *errmsg)
{
    ed_state_fail(s, "state '%s': RocksDB %s failed: %s", s->name, what,
                  errmsg ? errmsg : "unknown error");
    rocksdb_free(errmsg);
    if (ed_state_fatal_hook && s->b->ctx) ed_state_fatal_hook(s->b->ctx, ed_state_error(s));
    return -1;
}

/* ---- list merge operator: concatenation ------------------------------------------------- */

static char *concat(const char *first, size_t flen, const char *const *ops, const size_t *lens,
                    int n, unsigned char *ok, size_t *out_len)
{
    size_t total = flen;
    for (int i = 0; i < n; i++) total += lens[i];
    char *r = malloc(total ? total : 1);
    if (!r) {
        *ok = 0;
        return NULL;
    }
    size_t at = 0;
    if (flen) memcpy(r, first, flen);
    at = flen;
    for (int i = 0; i < n; i++) {
        memcpy(r + at, ops[i], lens[i]);
        at += lens[i];
    }
    *ok = 1;
    *out_len = total;
    return r;
}

static char *list_full_merge(void *st, const char *key, size_t klen, const char *existing,
                             size_t elen, const char *const *ops, const size_t *lens, int n,
                             unsigned char *ok, size_t *out_len)
{
    return concat(existing, existing ? elen : 0, ops, lens, n, ok, out_len);
}

static char *list_partial_merge(void *st, const char *key, size_t klen, const char *const *ops,
                                const size_t *lens, int n, unsigned char *ok, size_t *out_len)
{
    return concat(NULL, 0, ops, lens, n, ok, out_len);
}

static void merge_free(void *st, const char *v, size_t n)
{
    free((void *)v);
}

static void merge_state_free(void *st)
{
    (void)st; /* no state */
}

static const char *list_merge_name(void *st)
{
    return "eddy.list-append";
}

/* ---- TTL compaction filter -------------------------------------------------------------- */

typedef struct rk_filter {
    const rk_filter_ctx *ctx;
    char *buf;
    size_t cap;
} rk_filter;

static int64_t get_i64(const uint8_t *p)
{
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Walks the elements of a list value: the offset of the next one after `at`, or 0 when
 * the value ends (or is malformed) there. */
static size_t list_el_next(const uint8_t *v, size_t n, size_t at)
{
    if (n - at < 24) return 0;
    uint32_t rl;
    memcpy(&rl, v + at + 16, 4);
    size_t len = 24 + ED_ALIGN8((size_t)rl);
    if (len > n - at) return 0;
    return at + len;
}

static unsigned char ttl_filter(void *st, int level, const char *key, size_t klen,
                                const char *val, size_t vlen, char **new_val, size_t *new_len,
                                unsigned char *changed)
{
    rk_filter *f = st;
    int64_t now = atomic_load_explicit(&f->ctx->rk->now, memory_order_relaxed);
    int64_t ttl = atomic_load_explicit(&f->ctx->ttl_ms, memory_order_relaxed);
    if (now <= 0 || ttl <= 0) return 0;
    const uint8_t *v = (const uint8_t *)val;
    if (atomic_load_explicit(&f->ctx->kind, memory_order_relaxed) != EDDY_STATE_LIST)
        /* one access time first */
        return vlen >= 8 && now - get_i64(v) >= ttl;
    /* a list: keep the elements not expired */
    if (f->cap < vlen) {
        char *nb = realloc(f->buf, vlen);
        if (!nb) return 0;
        f->buf = nb;
        f->cap = vlen;
    }
    size_t out = 0, at = 0, next;
    bool dropped = false;
    while (at < vlen && (next = list_el_next(v, vlen, at))) {
        if (now - get_i64(v + at + 8) >= ttl) {
            dropped = true;
        } else {
            memcpy(f->buf + out, v + at, next - at);
            out += next - at;
        }
        at = next;
    }
    if (at != vlen || !dropped) return 0; /* malformed (kept as it is) or nothing expired */
    if (!out) return 1;
    *new_val = f->buf;
    *new_len = out;
    *changed = 1;
    return 0;
}

static void filter_free(void *st)
{
    rk_filter *f = st;
    free(f->buf);
    free(f);
}

static const char *filter_name(void *st)
{
    return "eddy.ttl";
}

static rocksdb_compactionfilter_t *filter_create(void *st, rocksdb_compactionfiltercontext_t *c)
{
    rk_filter *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->ctx = st;
    return rocksdb_compactionfilter_create(f, filter_free, ttl_filter, filter_name);
}

static void factory_free(void *st)
{
    (void)st; /* the context belongs to the instance */
}

static const char *factory_name(void *st)
{
    return "eddy.ttl-factory";
}

void ed_rk_publish_now(ed_rocks *rk, int64_t now)
{
    atomic_store_explicit(&rk->now, now, memory_order_relaxed);
}

/* ---- the instance ----------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A family's options: the list merge operator (harmless for other kinds) and the TTL
 * filter with context f. */
static rocksdb_options_t *family_options(ed_rocks *rk, rk_filter_ctx *f)
{
    rocksdb_options_t *o = rocksdb_options_create_copy(rk->opts);
    rocksdb_options_set_merge_operator(
        o, rocksdb_mergeoperator_create(NULL, merge_state_free, list_full_merge,
                                        list_partial_merge, merge_free, list_merge_name));
    rocksdb_options_set_compaction_filter_factory(
        o, rocksdb_compactionfilterfactory_create(f, factory_free, filter_create, factory_name));
    return o;
}

static rk_filter_ctx *new_filter_ctx(ed_rocks *rk)
{
    rk_filter_ctx *f = ed_xcalloc(1, sizeof *f);
    f->rk = rk;
    f->next = rk->filters;
    rk->filters = f;
    return f;
}

/* Opens rk->dir: a new instance, or (existing) the one there with its families. */
static int rk_open_db(ed_rocks *rk, bool existing, ed_err *err)
{
    char *e = NULL;
    if (!existing) {
        rk->db = rocksdb_open(rk->opts, rk->dir, &e);
    } else {
        size_t n = 0;
        char **names = rocksdb_list_column_families(rk->opts, rk->dir, &n, &e);
        if (!e) {
            rocksdb_options_t **opts = ed_xcalloc(n ? n : 1, sizeof *opts);
            rocksdb_column_family_handle_t **hs = ed_xcalloc(n ? n : 1, sizeof *hs);
            rk_filter_ctx **fs = ed_xcalloc(n ? n : 1, sizeof *fs);
            for (size_t i = 0; i < n; i++) {
                fs[i] = new_filter_ctx(rk);
                opts[i] = family_options(rk, fs[i]);
            }
            rk->db = rocksdb_open_column_families(rk->opts, rk->dir, (int)n,
                                                  (const char *const *)names,
                                                  (const rocksdb_options_t *const *)opts, hs, &e);
            for (size_t i = 0; i < n; i++) {
                rocksdb_options_destroy(opts[i]);
                if (!rk->db) continue;
                if (strcmp(names[i], "default") == 0) {
                    rocksdb_column_family_handle_destroy(hs[i]);
                    continue;
                }
                rk->found = ed_xrealloc(rk->found, sizeof(*rk->found) * (size_t)(rk->nfound + 1));
                rk->found[rk->nfound++] = (struct rk_found){ed_xstrdup(names[i]), hs[i], fs[i]};
            }
            free(opts);
            free(hs);
            free(fs);
            rocksdb_list_column_families_destroy(names, n);
        }
    }
    if (!rk->db) {
        ed_err_set(err, "cannot open RocksDB in '%s': %s", rk->dir, e ? e : "unknown error");
        rocksdb_free(e);
        return -1;
    }
    return 0;
}

static _Atomic unsigned seq;

int ed_state_backend_use_rocksdb(ed_state_backend *b, const ed_rocks_options *o, ed_err *err)
{
    ed_assert(!b->rk && b->nstates == 0);
    const char *parent = o->local_dir && *o->local_dir ? o->local_dir : getenv("TMPDIR");
    if (!parent || !*parent) parent = "/tmp";
    char dir[4096];
    char name[200];
    snprintf(name, sizeof name, "%s", o->name ? o->name : "state");
    for (char *p = name; *p; p++)
        if (*p == '/' || *p == ' ') *p = '_';
    if (o->existing) {
        snprintf(dir, sizeof dir, "%s", o->local_dir);
    } else {
        snprintf(dir, sizeof dir, "%s/eddy-rocksdb-%d-%u-%s", parent, (int)getpid(),
                 atomic_fetch_add(&seq, 1), name);
        if (mkdir(parent, 0700) && errno != EEXIST)
            return ed_err_set(err, "state.backend.rocksdb.localdir '%s': %s", parent,
                              strerror(errno));
        remove_tree(dir); /* a leftover of an earlier process with the same pid */
    }

    ed_rocks *rk = ed_xcalloc(1, sizeof *rk);
    rk->dir = ed_xstrdup(dir);
    rk->memory = o->memory ? o->memory : (size_t)128 << 20;
    rk->wbr = o->write_buffer_ratio > 0 && o->write_buffer_ratio < 1 ? o->write_buffer_ratio : 0.5;
    ed_sb_init(&rk->key);
    ed_sb_init(&rk->ikey);

    size_t wb = (size_t)((double)rk->memory * rk->wbr);
    if (wb < ((size_t)1 << 20)) wb = (size_t)1 << 20;
    size_t cache = rk->memory > wb ? rk->memory - wb : (size_t)1 << 20;
    rk->cache = rocksdb_cache_create_lru(cache);
    rk->bbto = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(rk->bbto, rk->cache);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(rk->bbto, 1);
    rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(rk->bbto, 1);
    rocksdb_block_based_options_set_block_size(rk->bbto, 16 << 10);

    rk->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(rk->opts, 1);
    rocksdb_options_set_create_missing_column_families(rk->opts, 1);
    rocksdb_options_set_info_log_level(rk->opts, 3 /* ERROR */);
    rocksdb_options_set_keep_log_file_num(rk->opts, 1);
    rocksdb_options_set_max_background_jobs(rk->opts, 2);
    rocksdb_options_set_db_write_buffer_size(rk->opts, wb);
    rocksdb_options_set_write_buffer_size(rk->opts, wb / 2 > 0 ? wb / 2 : wb);
    rocksdb_options_set_max_write_buffer_number(rk->opts, 2);
    rocksdb_options_set_block_based_table_factory(rk->opts, rk->bbto);

    static const char hex[] = "0123456789abcdef";
    uint64_t r1 = ed_mix64((uint64_t)ed_wall_ms() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)rk);
    uint64_t r2 = ed_mix64(r1 ^ atomic_load(&seq) ^ (uint64_t)ed_mono_ns());
    for (int i = 0; i < 16; i++) {
        rk->id[i] = hex[(r1 >> (4 * i)) & 15];
        rk->id[16 + i] = hex[(r2 >> (4 * i)) & 15];
    }
    if (rk_open_db(rk, o->existing, err)) {
        ed_rk_free(rk);
        return -1;
    }
    rk->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_verify_checksums(rk->ro, 1);
    rk->wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(rk->wo, 1);
    rk->batch = rocksdb_writebatch_create();
    b->rk = rk;
    return 0;
}

static void rk_close_db(ed_rocks *rk)
{
    for (int i = 0; i < rk->nfound; i++) {
        rocksdb_column_family_handle_destroy(rk->found[i].h);
        free(rk->found[i].name);
    }
    free(rk->found);
    rk->found = NULL;
    rk->nfound = 0;
    if (rk->db) rocksdb_close(rk->db);
    rk->db = NULL;
}

void ed_rk_free(ed_rocks *rk)
{
    if (!rk) return;
    rk_close_db(rk);
    for (int i = 0; i < rk->nshared; i++) {
        free(rk->shared[i].local);
        free(rk->shared[i].shared);
    }
    free(rk->shared);
    if (rk->batch) rocksdb_writebatch_destroy(rk->batch);
    if (rk->ro) rocksdb_readoptions_destroy(rk->ro);
    if (rk->wo) rocksdb_writeoptions_destroy(rk->wo);
    if (rk->opts) rocksdb_options_destroy(rk->opts);
    if (rk->bbto) rocksdb_block_based_options_destroy(rk->bbto);
    if (rk->cache) rocksdb_cache_destroy(rk->cache);
    for (rk_filter_ctx *f = rk->filters, *nx; f; f = nx) {
        nx = f->next;
        free(f);
    }
    if (rk->dir) remove_tree(rk->dir);
    free(rk->dir);
    ed_sb_free(&rk->key);
    ed_sb_free(&rk->ikey);
    free(rk);
}

bool ed_state_backend_is_rocksdb(const ed_state_backend *b)
{
    return b && b->rk;
}

const char *ed_state_backend_rocksdb_dir(const ed_state_backend *b)
{
    return b && b->rk ? b->rk->dir : NULL;
}

size_t ed_rk_bytes(ed_rocks *rk)
{
    uint64_t mem = 0, v = 0;
    static const char *const props[] = {"rocksdb.cur-size-all-mem-tables",
                                        "rocksdb.block-cache-usage"};
    for (size_t i = 0; i < ED_ARRAY_LEN(props); i++)
        if (rocksdb_property_int(rk->db, props[i], &v) == 0) mem += v;
    return (size_t)mem;
}

int ed_state_backend_compact(ed_state_backend *b, ed_err *err)
{
    ed_rocks *rk = b->rk;
    if (!rk) return 0;
    ed_rk_publish_now(rk, b->clock->now_ms(b->clock));
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    int rc = 0;
    for (uint32_t i = 0; i < b->nstates && !rc; i++) {
        eddy_state *s = b->states[i];
        if (!s->rk) continue;
        char *e = NULL;
        rocksdb_flush_cf(rk->db, fo, s->rk->h, &e);
        if (e) {
            rc = ed_err_set(err, "RocksDB flush of state '%s': %s", s->name, e);
            rocksdb_free(e);
            break;
        }
        rocksdb_compact_range_cf(rk->db, s->rk->h, NULL, 0, NULL, 0);
    }
    rocksdb_flushoptions_destroy(fo);
    return rc;
}

/* ---- column families ---------------------------------------------------------------------- */

int ed_rk_cf_open(eddy_state *s, ed_err *err)
{
    ed_rocks *rk = s->b->rk;
    char name[300];
    snprintf(name, sizeof name, "s:%s", s->name);
    ed_rk_cf *cf = ed_xcalloc(1, sizeof *cf);
    for (int i = 0; i < rk->nfound; i++) {
        if (strcmp(rk->found[i].name, name)) continue;
        /* a family of the instance opened: the state takes it, with its filter */
        cf->h = rk->found[i].h;
        cf->filter = rk->found[i].filter;
        atomic_store(&cf->filter->kind, (int)s->kind);
        atomic_store(&cf->filter->ttl_ms, s->has_ttl ? s->ttl.ttl_ms : 0);
        free(rk->found[i].name);
        rk->found[i] = rk->found[--rk->nfound];
        break;
    }
    ed_sb_init(&cf->val);
    ed_sb_init(&cf->enc);
    ed_sb_init(&cf->it_lo);
    ed_sb_init(&cf->it_hi);
    ed_sb_init(&cf->it_rows);
    cf->map_version = 1;
    if (cf->h) {
        s->rk = cf;
        rk->ncf++;
        return 0;
    }
    rocksdb_options_t *o = rocksdb_options_create_copy(rk->opts);
    if (s->kind == EDDY_STATE_LIST)
        rocksdb_options_set_merge_operator(
            o, rocksdb_mergeoperator_create(NULL, merge_state_free, list_full_merge, list_partial_merge,
                                            merge_free, list_merge_name));
    if (s->has_ttl) {
        rk_filter_ctx *f = new_filter_ctx(rk);
        atomic_store(&f->kind, (int)s->kind);
        atomic_store(&f->ttl_ms, s->ttl.ttl_ms);
        cf->filter = f;
        rocksdb_options_set_compaction_filter_factory(
            o, rocksdb_compactionfilterfactory_create(f, factory_free, filter_create,
                                                      factory_name));
    }
    char *e = NULL;
    cf->h = rocksdb_create_column_family(rk->db, o, name, &e);
    rocksdb_options_destroy(o);
    if (!cf->h) {
        ed_err_set(err, "state '%s': cannot create its RocksDB column family: %s", s->name,
                   e ? e : "unknown error");
        rocksdb_free(e);
        s->rk = cf;
        ed_rk_cf_close(s);
        return -1;
    }
    rk->ncf++;
    s->rk = cf;
    return 0;
}

static void iter_end(ed_rk_cf *cf)
{
    if (cf->it) rocksdb_iter_destroy(cf->it);
    if (cf->it_ro) rocksdb_readoptions_destroy(cf->it_ro);
    cf->it = NULL;
    cf->it_ro = NULL;
}

void ed_rk_cf_close(eddy_state *s)
{
    ed_rk_cf *cf = s->rk;
    if (!cf) return;
    iter_end(cf);
    if (cf->h) rocksdb_column_family_handle_destroy(cf->h);
    ed_sb_free(&cf->val);
    ed_sb_free(&cf->enc);
    ed_sb_free(&cf->it_lo);
    ed_sb_free(&cf->it_hi);
    ed_sb_free(&cf->it_rows);
    free(cf->mkey);
    free(cf);
    s->rk = NULL;
}

void ed_rk_cf_adopt(eddy_state *to, eddy_state *from)
{
    to->rk = from->rk;
    from->rk = NULL;
    if (to->rk && to->rk->filter) atomic_store(&to->rk->filter->ttl_ms, to->ttl.ttl_ms);
}

/* ---- values -------------------------------------------------------------------------------- */

/* Copies n bytes to the family's aligned value buffer. */
static const uint8_t *keep_value(ed_rk_cf *cf, const char *v, size_t n)
{
    ed_sb_reset(&cf->val);
    ed_sb_append(&cf->val, v, n);
    return (const uint8_t *)cf->val.data;
}

static int get_raw(eddy_state *s, const char *k, size_t klen, const uint8_t **val, size_t *len)
{
    ed_rocks *rk = s->b->rk;
    char *e = NULL;
    rocksdb_pinnableslice_t *ps = rocksdb_get_pinned_cf(rk->db, rk->ro, s->rk->h, k, klen, &e);
    if (e) return rk_fail(s, "read", e);
    if (!ps) return 0;
    size_t n = 0;
    const char *v = rocksdb_pinnableslice_value(ps, &n);
    *val = keep_value(s->rk, v, n);
    *len = n;
    rocksdb_pinnableslice_destroy(ps);
    return 1;
}

int ed_rk_get(eddy_state *s, const uint8_t *ns, uint32_t nslen, const uint8_t **val, size_t *len)
{
    size_t kl;
    const char *k = cur_key(s->b, ns, nslen, NULL, 0, &kl);
    return get_raw(s, k, kl, val, len);
}

int ed_rk_put(eddy_state *s, const uint8_t *ns, uint32_t nslen, const void *val, size_t len)
{
    ed_rocks *rk = s->b->rk;
    size_t kl;
    const char *k = cur_key(s->b, ns, nslen, NULL, 0, &kl);
    char *e = NULL;
    rocksdb_put_cf(rk->db, rk->wo, s->rk->h, k, kl, val, len, &e);
    return e ? rk_fail(s, "write", e) : 0;
}

int ed_rk_merge(eddy_state *s, const void *val, size_t len)
{
    ed_state_backend *b = s->b;
    size_t kl;
    const char *k = cur_key(b, b->ns, b->nslen, NULL, 0, &kl);
    char *e = NULL;
    rocksdb_merge_cf(b->rk->db, b->rk->wo, s->rk->h, k, kl, val, len, &e);
    return e ? rk_fail(s, "merge", e) : 0;
}

int ed_rk_delete(eddy_state *s, const uint8_t *ns, uint32_t nslen)
{
    ed_rocks *rk = s->b->rk;
    size_t kl;
    const char *k = cur_key(s->b, ns, nslen, NULL, 0, &kl);
    char *e = NULL;
    rocksdb_delete_cf(rk->db, rk->wo, s->rk->h, k, kl, &e);
    return e ? rk_fail(s, "delete", e) : 0;
}

/* Deletes the keys in [lo, hi) (hi NULL: to the end). */
static int delete_range(eddy_state *s, const char *lo, size_t lolen, const char *hi, size_t hilen)
{
    ed_rocks *rk = s->b->rk;
    static const char top[] = {(char)0xff, (char)0xff, (char)0xff};
    if (!hi) {
        hi = top; /* above every key group */
        hilen = sizeof top;
    }
    char *e = NULL;
    rocksdb_delete_range_cf(rk->db, rk->wo, s->rk->h, lo, lolen, hi, hilen, &e);
    return e ? rk_fail(s, "delete", e) : 0;
}

int ed_rk_delete_all(eddy_state *s)
{
    s->rk->map_version++;
    return delete_range(s, "", 0, NULL, 0);
}

int ed_rk_put_at(eddy_state *s, int kg, const uint8_t *key, uint32_t klen, const uint8_t *ns,
                 uint32_t nslen, const uint8_t *mkey, uint32_t mklen, const void *val, size_t len)
{
    ed_rocks *rk = s->b->rk;
    make_key(&rk->ikey, kg, key, klen, ns, nslen, mkey, mklen);
    rocksdb_writebatch_put_cf(rk->batch, s->rk->h, rk->ikey.data, rk->ikey.len, val, len);
    rk->batch_bytes += rk->ikey.len + len;
    if (rk->batch_bytes < ((size_t)4 << 20)) return 0;
    ed_err err = {0};
    if (ed_rk_flush(rk, &err)) return ed_state_fail(s, "state '%s': %s", s->name, err.msg);
    return 0;
}

int ed_rk_flush(ed_rocks *rk, ed_err *err)
{
    if (!rk || !rk->batch_bytes) return 0;
    char *e = NULL;
    rocksdb_write(rk->db, rk->wo, rk->batch, &e);
    rocksdb_writebatch_clear(rk->batch);
    rk->batch_bytes = 0;
    if (e) {
        ed_err_set(err, "RocksDB write failed: %s", e);
        rocksdb_free(e);
        return -1;
    }
    return 0;
}

/* ---- iteration ------------------------------------------------------------------------------ */

struct ed_rk_cursor {
    eddy_state *s;
    rocksdb_readoptions_t *ro;
    rocksdb_iterator_t *it;
    ed_strbuf lo, hi, k, v;
    bool started;
};

static void kg_bound(ed_strbuf *out, int kg)
{
    ed_sb_reset(out);
    uint8_t p[2];
    put_be16(p, (uint32_t)kg);
    ed_sb_append(out, p, 2);
}

/* An iterator over [lo, hi) of s (hi empty: to the end), with checksums checked. */
static rocksdb_iterator_t *open_iter(eddy_state *s, rocksdb_readoptions_t **ro,
                                     const ed_strbuf *lo, const ed_strbuf *hi)
{
    *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_verify_checksums(*ro, 1);
    if (hi->len) rocksdb_readoptions_set_iterate_upper_bound(*ro, hi->data, hi->len);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->b->rk->db, *ro, s->rk->h);
    rocksdb_iter_seek(it, lo->data ? lo->data : "", lo->len);
    return it;
}

ed_rk_cursor *ed_rk_cursor_open(eddy_state *s, int first_kg, int end_kg)
{
    ed_rk_cursor *c = ed_xcalloc(1, sizeof *c);
    c->s = s;
    ed_sb_init(&c->lo);
    ed_sb_init(&c->hi);
    ed_sb_init(&c->k);
    ed_sb_init(&c->v);
    kg_bound(&c->lo, first_kg);
    if (end_kg <= 0xffff) kg_bound(&c->hi, end_kg);
    c->it = open_iter(s, &c->ro, &c->lo, &c->hi);
    return c;
}

int ed_rk_cursor_next(ed_rk_cursor *c, ed_rk_item *it)
{
    if (c->started) rocksdb_iter_next(c->it);
    c->started = true;
    if (!rocksdb_iter_valid(c->it)) {
        char *e = NULL;
        rocksdb_iter_get_error(c->it, &e);
        return e ? rk_fail(c->s, "read", e) : 0;
    }
    size_t kl, vl;
    const char *k = rocksdb_iter_key(c->it, &kl);
    const char *v = rocksdb_iter_value(c->it, &vl);
    ed_sb_reset(&c->k);
    ed_sb_append(&c->k, k, kl);
    ed_sb_reset(&c->v);
    ed_sb_append(&c->v, v, vl);
    if (!split_key((const uint8_t *)c->k.data, kl, it))
        return ed_state_fail(c->s, "state '%s': a malformed RocksDB entry key (%zu bytes)",
                             c->s->name, kl);
    it->val = (const uint8_t *)(c->v.data ? c->v.data : "");
    it->vlen = vl;
    return 1;
}

void ed_rk_cursor_close(ed_rk_cursor *c)
{
    if (!c) return;
    rocksdb_iter_destroy(c->it);
    rocksdb_readoptions_destroy(c->ro);
    ed_sb_free(&c->lo);
    ed_sb_free(&c->hi);
    ed_sb_free(&c->k);
    ed_sb_free(&c->v);
    free(c);
}

size_t ed_state_rocksdb_entries(eddy_state *s)
{
    if (!s->rk) return 0;
    ed_rk_cursor *c = ed_rk_cursor_open(s, 0, 0x10000);
    ed_rk_item it;
    size_t n = 0;
    while (ed_rk_cursor_next(c, &it) == 1) n++;
    ed_rk_cursor_close(c);
    return n;
}

/* ---- map state ------------------------------------------------------------------------------ */
/* An entry: i64 access, u32 key row length, u32 value row length (0: NULL), key row, value
 * row (each padded to 8). */

static uint32_t map_key(eddy_state *s, const eddy_row *key)
{
    ed_rk_cf *cf = s->rk;
    size_t n = ed_key_write_any(&s->mks, key, cf->mkey, cf->mkcap);
    if (n > cf->mkcap) {
        cf->mkcap = (uint32_t)(n < 64 ? 64 : 2 * n);
        cf->mkey = ed_xrealloc(cf->mkey, cf->mkcap);
        n = ed_key_write_any(&s->mks, key, cf->mkey, cf->mkcap);
    }
    return (uint32_t)n;
}

static bool map_begin(eddy_state *s)
{
    s->err.set = 0;
    if (s->kind == EDDY_STATE_MAP) return true;
    ed_state_fail(s, "state '%s' is not a MAP state", s->name);
    return false;
}

static bool map_arity(eddy_state *s, const eddy_row *r, bool key, const char *what)
{
    if (!r) return ed_state_fail(s, "state '%s': %s is NULL", s->name, what), false;
    uint32_t want = key ? s->key_arity : s->arity;
    if (eddy_row_arity(r) == want) return true;
    ed_state_fail(s, "state '%s': %s has %u fields, expected %u (%s)", s->name, what,
                  eddy_row_arity(r), want, eddy_schema_text(key ? s->key_schema : s->schema));
    return false;
}

static int64_t now_of(eddy_state *s)
{
    if (!s->has_ttl) return 0;
    int64_t now = s->b->clock->now_ms(s->b->clock);
    ed_rk_publish_now(s->b->rk, now);
    return now;
}

/* Checks a map entry value and returns its parts. */
static bool map_decode(const uint8_t *v, size_t n, int64_t *access, const eddy_row **key,
                       const eddy_row **val)
{
    if (n < 16) return false;
    uint32_t kl, vl;
    memcpy(&kl, v + 8, 4);
    memcpy(&vl, v + 12, 4);
    if (ED_ALIGN8((size_t)kl) + ED_ALIGN8((size_t)vl) != n - 16) return false;
    *access = get_i64(v);
    *key = (const eddy_row *)(v + 16);
    *val = vl ? (const eddy_row *)(v + 16 + ED_ALIGN8((size_t)kl)) : NULL;
    return true;
}

void ed_rk_map_encode(ed_strbuf *o, int64_t access, const eddy_row *key, const eddy_row *val)
{
    static const uint8_t zeros[8];
    uint32_t kl = eddy_row_size(key), vl = val ? eddy_row_size(val) : 0;
    ed_sb_reset(o);
    ed_sb_append(o, &access, 8);
    ed_sb_append(o, &kl, 4);
    ed_sb_append(o, &vl, 4);
    ed_sb_append(o, key, kl);
    if (kl & 7) ed_sb_append(o, zeros, 8 - (kl & 7));
    if (vl) ed_sb_append(o, val, vl);
    if (vl & 7) ed_sb_append(o, zeros, 8 - (vl & 7));
}

static int map_put_raw(eddy_state *s, const char *k, size_t kl, const ed_strbuf *v)
{
    ed_rocks *rk = s->b->rk;
    char *e = NULL;
    rocksdb_put_cf(rk->db, rk->wo, s->rk->h, k, kl, v->data, v->len, &e);
    s->rk->map_version++;
    return e ? rk_fail(s, "write", e) : 0;
}

static int map_delete_raw(eddy_state *s, const char *k, size_t kl)
{
    ed_rocks *rk = s->b->rk;
    char *e = NULL;
    rocksdb_delete_cf(rk->db, rk->wo, s->rk->h, k, kl, &e);
    s->rk->map_version++;
    return e ? rk_fail(s, "delete", e) : 0;
}

/* A read of the entry for key: TTL rules as the heap backend's (map_read). *found tells
 * whether the read sees it; the value row (or NULL) is returned. */
static const eddy_row *map_lookup(eddy_state *s, const eddy_row *key, bool *found)
{
    *found = false;
    if (!map_begin(s) || !map_arity(s, key, true, "map key")) return NULL;
    ed_state_backend *b = s->b;
    int64_t now = now_of(s);
    uint32_t mkl = map_key(s, key);
    size_t kl;
    const char *k = cur_key(b, b->ns, b->nslen, s->rk->mkey, mkl, &kl);
    const uint8_t *v;
    size_t vl;
    int rc = get_raw(s, k, kl, &v, &vl);
    if (rc <= 0) return NULL;
    int64_t access;
    const eddy_row *kr, *vr;
    if (!map_decode(v, vl, &access, &kr, &vr)) {
        ed_state_fail(s, "state '%s': a malformed RocksDB map entry (%zu bytes)", s->name, vl);
        return NULL;
    }
    if (!ed_ttl_expired_at(s, access, now)) {
        if (ed_ttl_touch_on_read(s) && access != now) {
            memcpy(s->rk->val.data, &now, 8);
            map_put_raw(s, k, kl, &s->rk->val);
        }
        *found = true;
        return vr;
    }
    bool ret = ed_ttl_return_expired(s);
    if (!s->ttl.keep_expired_on_read) map_delete_raw(s, k, kl);
    *found = ret;
    return ret ? vr : NULL;
}

const eddy_row *ed_rk_map_get(eddy_state *s, const eddy_row *key)
{
    bool found;
    return map_lookup(s, key, &found);
}

bool ed_rk_map_contains(eddy_state *s, const eddy_row *key)
{
    bool found;
    map_lookup(s, key, &found);
    return found;
}

int ed_rk_map_put(eddy_state *s, const eddy_row *key, const eddy_row *value)
{
    if (!map_begin(s) || !map_arity(s, key, true, "map key")) return -1;
    if (value && !map_arity(s, value, false, "map value")) return -1;
    ed_state_backend *b = s->b;
    int64_t now = now_of(s);
    ed_rk_map_encode(&s->rk->enc, now, key, value);
    uint32_t mkl = map_key(s, key);
    size_t kl;
    const char *k = cur_key(b, b->ns, b->nslen, s->rk->mkey, mkl, &kl);
    return map_put_raw(s, k, kl, &s->rk->enc);
}

int ed_rk_map_remove(eddy_state *s, const eddy_row *key)
{
    if (!map_begin(s) || !map_arity(s, key, true, "map key")) return -1;
    ed_state_backend *b = s->b;
    uint32_t mkl = map_key(s, key);
    size_t kl;
    const char *k = cur_key(b, b->ns, b->nslen, s->rk->mkey, mkl, &kl);
    return map_delete_raw(s, k, kl);
}

/* An iterator over the map of the current (key, namespace). */
static rocksdb_iterator_t *map_iter(eddy_state *s, rocksdb_readoptions_t **ro, ed_strbuf *lo,
                                    ed_strbuf *hi)
{
    ed_state_backend *b = s->b;
    size_t kl;
    const char *k = cur_key(b, b->ns, b->nslen, NULL, 0, &kl);
    ed_sb_reset(lo);
    ed_sb_append(lo, k, kl);
    if (!prefix_end((const uint8_t *)k, kl, hi)) ed_sb_reset(hi);
    return open_iter(s, ro, lo, hi);
}

/* Calls fn on each entry of the current map until it returns false; -1 on an error. */
static int map_walk(eddy_state *s, bool (*fn)(eddy_state *, int64_t, void *), void *arg)
{
    ed_strbuf lo, hi;
    ed_sb_init(&lo);
    ed_sb_init(&hi);
    rocksdb_readoptions_t *ro;
    rocksdb_iterator_t *it = map_iter(s, &ro, &lo, &hi);
    int rc = 0;
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl < lo.len || memcmp(k, lo.data, lo.len)) break;
        const char *v = rocksdb_iter_value(it, &vl);
        if (vl < 16) {
            rc = ed_state_fail(s, "state '%s': a malformed RocksDB map entry", s->name);
            break;
        }
        if (!fn(s, get_i64((const uint8_t *)v), arg)) break;
    }
    char *e = NULL;
    rocksdb_iter_get_error(it, &e);
    if (e) rc = rk_fail(s, "read", e);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    ed_sb_free(&lo);
    ed_sb_free(&hi);
    return rc;
}

typedef struct count_arg {
    int64_t now;
    bool live;
    size_t n;
    size_t stop_at;
} count_arg;

static bool count_one(eddy_state *s, int64_t access, void *arg)
{
    count_arg *c = arg;
    if (!c->live || !ed_ttl_expired_at(s, access, c->now)) c->n++;
    return c->n < c->stop_at;
}

size_t ed_rk_map_size(eddy_state *s)
{
    if (!map_begin(s)) return 0;
    count_arg c = {.now = now_of(s), .stop_at = SIZE_MAX};
    c.live = s->has_ttl && !ed_ttl_return_expired(s);
    return map_walk(s, count_one, &c) ? 0 : c.n;
}

bool ed_rk_map_any(eddy_state *s, bool live)
{
    count_arg c = {.now = now_of(s), .stop_at = 1};
    c.live = live && s->has_ttl && !ed_ttl_return_expired(s);
    return !map_walk(s, count_one, &c) && c.n > 0;
}

int ed_rk_map_clear(eddy_state *s)
{
    ed_strbuf hi;
    ed_sb_init(&hi);
    ed_state_backend *b = s->b;
    size_t kl;
    const char *k = cur_key(b, b->ns, b->nslen, NULL, 0, &kl);
    bool bounded = prefix_end((const uint8_t *)k, kl, &hi);
    s->rk->map_version++;
    int rc = delete_range(s, k, kl, bounded ? hi.data : NULL, hi.len);
    ed_sb_free(&hi);
    return rc;
}

void ed_rk_map_iter_start(eddy_state *s, eddy_map_iter *it)
{
    it->s = s;
    it->pos = 0;
    it->version = 0;
    if (!map_begin(s)) return;
    ed_rk_cf *cf = s->rk;
    iter_end(cf);
    it->version = cf->map_version;
    cf->it_version = cf->map_version;
    cf->it_bver = s->b->version;
    cf->it_pos = 0;
}

/* Map changes and a change of key or namespace end the iteration; reading through it does
 * not clean up, as the heap backend. */
bool ed_rk_map_next(eddy_map_iter *it, const eddy_row **key, const eddy_row **value)
{
    eddy_state *s = it->s;
    if (!map_begin(s)) return false;
    ed_rk_cf *cf = s->rk;
    if (it->version != cf->map_version || cf->it_bver != s->b->version) return false;
    if (!cf->it || cf->it_pos != it->pos) { /* another iteration came between: seek again */
        iter_end(cf);
        cf->it = map_iter(s, &cf->it_ro, &cf->it_lo, &cf->it_hi);
        for (size_t i = 0; i < it->pos && rocksdb_iter_valid(cf->it); i++)
            rocksdb_iter_next(cf->it);
        cf->it_pos = it->pos;
    }
    int64_t now = now_of(s);
    for (; rocksdb_iter_valid(cf->it); rocksdb_iter_next(cf->it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(cf->it, &kl);
        if (kl < cf->it_lo.len || memcmp(k, cf->it_lo.data, cf->it_lo.len)) break;
        const char *v = rocksdb_iter_value(cf->it, &vl);
        ed_sb_reset(&cf->it_rows);
        ed_sb_append(&cf->it_rows, v, vl);
        int64_t access;
        const eddy_row *kr, *vr;
        it->pos++;
        cf->it_pos++;
        if (!map_decode((const uint8_t *)cf->it_rows.data, vl, &access, &kr, &vr)) {
            ed_state_fail(s, "state '%s': a malformed RocksDB map entry (%zu bytes)", s->name, vl);
            break;
        }
        if (ed_ttl_expired_at(s, access, now) && !ed_ttl_return_expired(s)) continue;
        rocksdb_iter_next(cf->it);
        *key = kr;
        *value = vr;
        return true;
    }
    char *e = NULL;
    rocksdb_iter_get_error(cf->it, &e);
    if (e) rk_fail(s, "read", e);
    iter_end(cf);
    return false;
}

/* ---- incremental checkpoints ------------------------------------------------------------------ */

int ed_rk_native_checkpoint(ed_state_backend *b, ed_rk_native *out, ed_err *err)
{
    ed_rocks *rk = b->rk;
    memset(out, 0, sizeof *out);
    if (ed_rk_flush(rk, err)) return -1;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s.native-%d", rk->dir, rk->native_seq++);
    remove_tree(dir);
    char *e = NULL;
    rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(rk->db, &e);
    if (cp) {
        rocksdb_checkpoint_create(cp, dir, 0 /* flush the memtables first */, &e);
        rocksdb_checkpoint_object_destroy(cp);
    }
    if (e) {
        ed_err_set(err, "RocksDB checkpoint of '%s' failed: %s", rk->dir, e);
        rocksdb_free(e);
        remove_tree(dir);
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        remove_tree(dir);
        return ed_err_set(err, "cannot list '%s': %s", dir, strerror(errno));
    }
    out->dir = ed_xstrdup(dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        out->files = ed_xrealloc(out->files, sizeof(char *) * (size_t)(out->nfiles + 1));
        out->files[out->nfiles++] = ed_xstrdup(de->d_name);
    }
    closedir(d);
    return 0;
}

void ed_rk_native_free(ed_rk_native *n)
{
    if (n->dir) remove_tree(n->dir);
    free(n->dir);
    for (int i = 0; i < n->nfiles; i++) free(n->files[i]);
    free(n->files);
    memset(n, 0, sizeof *n);
}

const char *ed_rk_instance_id(const ed_state_backend *b)
{
    return b->rk->id;
}

const char *ed_rk_shared_name(const ed_state_backend *b, const char *local)
{
    const ed_rocks *rk = b->rk;
    for (int i = 0; i < rk->nshared; i++)
        if (strcmp(rk->shared[i].local, local) == 0) return rk->shared[i].shared;
    return NULL;
}

void ed_rk_set_shared_name(ed_state_backend *b, const char *local, const char *shared)
{
    ed_rocks *rk = b->rk;
    for (int i = 0; i < rk->nshared; i++)
        if (strcmp(rk->shared[i].local, local) == 0) {
            free(rk->shared[i].shared);
            rk->shared[i].shared = ed_xstrdup(shared);
            return;
        }
    rk->shared = ed_xrealloc(rk->shared, sizeof(*rk->shared) * (size_t)(rk->nshared + 1));
    rk->shared[rk->nshared++] = (struct rk_shared){ed_xstrdup(local), ed_xstrdup(shared)};
}

const char *ed_rk_begin_replace(ed_state_backend *b)
{
    ed_rocks *rk = b->rk;
    if (ed_rk_flush(rk, &(ed_err){0})) {
        /* nothing of the batch matters: the instance is replaced */
    }
    for (uint32_t i = 0; i < b->nstates; i++) {
        ed_state_drop_working_set(b->states[i]);
        ed_rk_cf_close(b->states[i]);
    }
    rk_close_db(rk);
    remove_tree(rk->dir);
    mkdir(rk->dir, 0700);
    return rk->dir;
}

int ed_rk_end_replace(ed_state_backend *b, ed_err *err)
{
    if (rk_open_db(b->rk, true, err)) return -1;
    for (uint32_t i = 0; i < b->nstates; i++) /* declared states take their families back */
        if (ed_rk_cf_open(b->states[i], err)) return -1;
    return 0;
}
