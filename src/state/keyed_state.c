/*
 * keyed_state.c - the heap keyed state backend: value, list, map, reducing and
 * aggregating state with Flink's TTL, namespace merging for merging windows, and
 * iteration over every key.
 *
 * The per-record path. The runtime sets the current key (and a window as namespace)
 * before it calls a function; each handle call then needs the entry of (key, namespace).
 * The backend bumps a version counter when the key or namespace actually changes, and
 * every handle keeps the entry it found for the version it found it at, so a process
 * function that reads and writes a state for one record does one hash lookup, and a run
 * of records for the same key does none. Nothing on that path allocates once the pool has
 * blocks of the sizes the job uses (state_int.h).
 *
 * TTL follows Flink's StateTtlConfig and its TtlStateFactory decorators: each value
 * (each list element, each map entry) carries its last access time; it has expired when
 * last access + ttl <= now. OnCreateAndWrite restarts the clock on writes, OnReadAndWrite
 * on reads too. NeverReturnExpired hides expired values; ReturnExpiredIfNotCleanedUp
 * returns them while they are still stored. Memory is reclaimed on read (cleanup on read, unless keep_expired_on_read:
 * an expired value that is read is dropped - returned once more first when visibility
 * allows), incrementally (cleanup_incremental entries examined round-robin per state
 * access, the current entry excepted) and, later, by full snapshots that leave them out
 * (ed_state_for_each_flags). Reducing and aggregating states treat an expired
 * accumulator as absent when combining, as Flink's TtlReduceFunction does.
 *
 * Lists under TTL are read through a view: the size call (or a get after a change)
 * records which elements are visible, so indices stay stable while a caller walks the
 * list even if elements expire meanwhile. A read that drops expired elements builds the
 * compacted list in a spare buffer and keeps the old one as the spare, so the rows of the
 * view stay readable.
 *
 * Removal during ed_state_for_each takes the entry out of the table at once but frees it
 * when the outermost walk ends, so the walk's snapshot of entry pointers stays valid.
 */
#include "state_int.h"

#include <eddy/time.h>

#include "heap_kv.h"
#include "rocks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"?", "VALUE", "LIST", "MAP", "REDUCING", "AGGREGATING"};

/* ---- pool -------------------------------------------------------------------------------- */

/* Two classes per power of two (16, 24, 32, 48, 64, 96, ...), so a block wastes at most a
 * third of itself. Class 2p is 2^p bytes, class 2p-1 is 3 * 2^(p-2). */
static inline uint32_t pool_class(size_t n, size_t *size)
{
    if (n <= 16) {
        *size = 16;
        return 8;
    }
    uint32_t p = 64u - (uint32_t)__builtin_clzll((unsigned long long)(n - 1)); /* n <= 2^p */
    if (p > 31) return UINT32_MAX;
    if (n <= (size_t)3 << (p - 2)) {
        *size = (size_t)3 << (p - 2);
        return 2 * p - 1;
    }
    *size = (size_t)1 << p;
    return 2 * p;
}

void ed_spool_init(ed_spool *p)
{
    memset(p, 0, sizeof *p);
    ed_arena_init(&p->arena, 256u << 10);
}

void ed_spool_destroy(ed_spool *p)
{
    ed_arena_destroy(&p->arena);
    memset(p->free, 0, sizeof p->free);
}

void *ed_spool_alloc(ed_spool *p, size_t n, uint32_t *cap)
{
    size_t size = 0;
    uint32_t c = pool_class(n, &size);
    if (c == UINT32_MAX) return NULL;
    void *r;
    if (c > ED_SPOOL_MAX_CLASS) {
        r = malloc(size);
        if (r) p->bytes += size;
    } else if (p->free[c]) {
        r = p->free[c];
        memcpy(&p->free[c], r, sizeof(void *));
    } else {
        r = ed_arena_alloc(&p->arena, size);
        if (r) p->bytes += size;
    }
    if (r) *cap = (uint32_t)size;
    return r;
}

void ed_spool_free(ed_spool *p, void *ptr, uint32_t cap)
{
    if (!ptr) return;
    size_t size = 0;
    uint32_t c = pool_class(cap, &size);
    ed_assert(size == cap);
    if (c > ED_SPOOL_MAX_CLASS) {
        free(ptr);
        p->bytes -= cap;
        return;
    }
    memcpy(ptr, &p->free[c], sizeof(void *));
    p->free[c] = ptr;
}

/* memmove for the short, whole-word copies of the per-record path (keys, windows, small
 * rows), without a library call; src and dst may overlap. */
static inline void move_bytes(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *p = src;
    if (d == p) return;
    if ((n & 7) || n > 64 || (d > p && d < p + n)) {
        memmove(d, p, n);
        return;
    }
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        memcpy(d + i, &w, 8);
    }
}

/* Sets b to a copy of n bytes at src; src may point into b. 0 or -1 (memory). */
static int buf_set(ed_spool *pool, ed_buf *b, const void *src, uint32_t n)
{
    if (n > b->cap) {
        uint32_t cap;
        uint8_t *np = ed_spool_alloc(pool, n, &cap);
        if (!np) return -1;
        memcpy(np, src, n);
        ed_spool_free(pool, b->p, b->cap);
        b->p = np;
        b->cap = cap;
    } else if (n) {
        memmove(b->p, src, n);
    }
    b->len = n;
    return 0;
}

/* Room for `need` bytes in total, keeping the contents. */
static int buf_reserve(ed_spool *pool, ed_buf *b, size_t need)
{
    if (need <= b->cap) return 0;
    if (need > UINT32_MAX / 2) return -1;
    size_t want = need > 2 * (size_t)b->cap ? need : 2 * (size_t)b->cap;
    uint32_t cap;
    uint8_t *np = ed_spool_alloc(pool, want, &cap);
    if (!np) return -1;
    if (b->len) memcpy(np, b->p, b->len);
    ed_spool_free(pool, b->p, b->cap);
    b->p = np;
    b->cap = cap;
    return 0;
}

static void buf_free(ed_spool *pool, ed_buf *b)
{
    ed_spool_free(pool, b->p, b->cap);
    memset(b, 0, sizeof *b);
}

/* Sets the row of a value entry (VALUE, REDUCING, AGGREGATING) to a copy of n bytes; the
 * room in the entry's own block is used while the row fits and never freed. */
static int row_set(ed_spool *pool, ed_entry *e, const void *src, uint32_t n)
{
    ed_buf *r = entry_row(e);
    if (ED_LIKELY(n <= r->cap)) {
        move_bytes(r->p, src, n);
        r->len = n;
        return 0;
    }
    if (r->p != entry_inline_row(e)) return buf_set(pool, r, src, n);
    uint32_t cap;
    uint8_t *np = ed_spool_alloc(pool, n, &cap);
    if (!np) return -1;
    memcpy(np, src, n);
    r->p = np;
    r->cap = cap;
    r->len = n;
    return 0;
}

/* ---- errors ------------------------------------------------------------------------------ */

void (*ed_state_error_hook)(eddy_ctx *ctx, const char *msg);
void (*ed_state_fatal_hook)(eddy_ctx *ctx, const char *msg);

int ed_state_fail(eddy_state *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s->err.set = 0;
    ed_err_vset(&s->err, fmt, ap);
    va_end(ap);
    if (ed_state_error_hook && s->b && s->b->ctx) ed_state_error_hook(s->b->ctx, s->err.msg);
    return -1;
}

#define fail ed_state_fail

static int oom(eddy_state *s)
{
    return fail(s, "state '%s': out of memory", s->name);
}

/* Every handle call starts here: clears the last error and checks the kind. */
static inline bool begin(eddy_state *s, eddy_state_kind kind)
{
    s->err.set = 0;
    if (ED_LIKELY(s->kind == kind)) return true;
    fail(s, "state '%s' is a %s state, not %s", s->name, kind_names[s->kind], kind_names[kind]);
    return false;
}

/* Rows handed in must have the schema's arity (a cheap check of the header). */
static inline bool arity_ok(eddy_state *s, const eddy_row *r, const eddy_schema *sc,
                            const char *what)
{
    if (ED_UNLIKELY(!r)) return fail(s, "state '%s': %s is NULL", s->name, what), false;
    uint32_t n = eddy_row_arity(r), want = sc == s->schema ? s->arity : s->key_arity;
    if (ED_LIKELY(n == want)) return true;
    fail(s, "state '%s': %s has %u fields, expected %u (%s)", s->name, what, n, want,
         eddy_schema_text(sc));
    return false;
}

const char *ed_state_error(const eddy_state *s)
{
    return s && s->err.set ? s->err.msg : NULL;
}

/* ---- TTL --------------------------------------------------------------------------------- */

static inline int64_t clock_now(ed_state_backend *b)
{
    return b->clock->now_ms(b->clock);
}

#define expired ed_ttl_expired_at
#define return_expired ed_ttl_return_expired
#define touch_on_read ed_ttl_touch_on_read

bool ed_state_ttl_expired(eddy_state *s, int64_t last_access_ms)
{
    return s->has_ttl && expired(s, last_access_ms, clock_now(s->b));
}

/* ---- the table --------------------------------------------------------------------------- */

/* The table's hash of (key, namespace): the key's hash (murmur3 of its bytes, which the
 * runtime has computed for the key group anyway) mixed with the namespace a word at a
 * time, so a new window of the same key costs no pass over the key. Its low bits pick
 * the home slot. Internal to the tables: key groups come from the key's murmur3 alone. */
static inline uint32_t table_hash(uint32_t key_hash, const uint8_t *ns, uint32_t nslen)
{
    uint64_t h = key_hash;
    uint32_t i = 0;
    for (; i + 8 <= nslen; i += 8) {
        uint64_t w;
        memcpy(&w, ns + i, 8);
        h = ed_mix64(h ^ w);
    }
    if (i < nslen) {
        uint64_t w = 0;
        memcpy(&w, ns + i, nslen - i);
        h = ed_mix64(h ^ w ^ ((uint64_t)nslen << 56));
    }
    /* a subtask holds a range of key groups, key_hash % max parallelism, which fixes the
     * hash's low bits: mix them before they pick a slot */
    if (!nslen) h = ed_mix64(h);
    return (uint32_t)(h ^ (h >> 32));
}

static inline uint32_t cur_hash(ed_state_backend *b)
{
    if (b->hash_version != b->version) {
        b->hash = table_hash(b->key_hash, b->ns, b->nslen);
        b->hash_version = b->version;
    }
    return b->hash;
}

static uint32_t hash_of(const uint8_t *key, uint32_t klen, const uint8_t *ns, uint32_t nslen)
{
    return table_hash(ed_key_hash(key, klen), ns, nslen);
}

static inline bool bytes_eq(const uint8_t *a, const uint8_t *b, uint32_t n)
{
    return n == 0 || ed_key_bytes_equal(a, b, n); /* word compares for whole words */
}

static ed_entry *table_find(const eddy_state *s, const uint8_t *key, uint32_t klen,
                            const uint8_t *ns, uint32_t nslen, uint32_t hash)
{
    if (!s->slots) return NULL;
    for (uint32_t i = hash & s->mask;; i = (i + 1) & s->mask) {
        const ed_slot *sl = &s->slots[i];
        if (!sl->e) return NULL;
        if (sl->hash != hash) continue; /* the entry is not touched */
        ed_entry *e = sl->e;
        if (e->klen == klen && e->nslen == nslen &&
            ed_key_bytes_equal(ed_entry_key(e), key, klen) && bytes_eq(ed_entry_ns(e), ns, nslen))
            return e;
    }
}

static int table_grow(eddy_state *s)
{
    uint32_t nmask = s->slots ? s->mask * 2 + 1 : 15;
    ed_slot *ns = calloc((size_t)nmask + 1, sizeof *ns);
    if (!ns) return -1;
    if (s->slots) {
        for (uint32_t i = 0; i <= s->mask; i++) {
            if (!s->slots[i].e) continue;
            uint32_t j = s->slots[i].hash & nmask;
            while (ns[j].e)
                j = (j + 1) & nmask;
            ns[j] = s->slots[i];
        }
        free(s->slots);
    }
    s->slots = ns;
    s->mask = nmask;
    s->clean_pos = 0;
    return 0;
}

/* Rows up to this size live in their entry's block. */
#define ROW_ROOM_MAX 128u

/* The body's size for the state's kind; value kinds leave room for a row of `room` bytes
 * (the first row stored) when it is small. */
static inline size_t body_size(const eddy_state *s, uint32_t room)
{
    switch (s->kind) {
    case EDDY_STATE_LIST:
        return sizeof(ed_list);
    case EDDY_STATE_MAP:
        return sizeof(ed_map);
    default:
        return sizeof(ed_buf) + (room <= ROW_ROOM_MAX ? ED_ALIGN8(room) : 0);
    }
}

static ed_entry *table_insert(eddy_state *s, const uint8_t *key, uint32_t klen, const uint8_t *ns,
                              uint32_t nslen, uint32_t hash, int key_group, uint32_t room)
{
    if ((!s->slots || (s->count + 1) * 2 > s->mask + 1) && table_grow(s)) return NULL;
    uint32_t cap;
    size_t body = body_size(s, room);
    ed_entry *e = ed_spool_alloc(
        &s->b->pool, sizeof(ed_entry) + ED_ALIGN8(klen) + ED_ALIGN8(nslen) + body, &cap);
    if (!e) return NULL;
    memset(e, 0, sizeof *e);
    e->hash = hash;
    e->key_group = (uint32_t)key_group;
    e->klen = klen;
    e->nslen = nslen;
    e->cap = cap;
    if (klen) memcpy(e->words, key, klen);
    if (nslen) memcpy((uint8_t *)ed_entry_ns(e), ns, nslen);
    memset(ed_entry_body(e), 0, body);
    if (s->kind != EDDY_STATE_LIST && s->kind != EDDY_STATE_MAP && body > sizeof(ed_buf)) {
        entry_row(e)->p = entry_inline_row(e);
        entry_row(e)->cap = (uint32_t)(body - sizeof(ed_buf));
    }
    uint32_t i = hash & s->mask;
    while (s->slots[i].e)
        i = (i + 1) & s->mask;
    s->slots[i] = (ed_slot){hash, e};
    s->count++;
    return e;
}

/* Backward-shift deletion: entries after the hole that may live there move up. */
static void table_remove(eddy_state *s, ed_entry *e)
{
    uint32_t i = e->hash & s->mask;
    while (s->slots[i].e != e)
        i = (i + 1) & s->mask;
    for (uint32_t j = (i + 1) & s->mask;; j = (j + 1) & s->mask) {
        ed_slot x = s->slots[j];
        if (!x.e) break;
        uint32_t home = x.hash & s->mask;
        if (((j - home) & s->mask) >= ((j - i) & s->mask)) {
            s->slots[i] = x;
            i = j;
        }
    }
    s->slots[i] = (ed_slot){0, NULL};
    s->count--;
}

static void map_release(ed_spool *pool, ed_map *m)
{
    for (uint32_t i = 0; m->slots && i <= m->mask; i++) {
        ed_mentry *me = m->slots[i];
        if (!me) continue;
        buf_free(pool, &me->val);
        ed_spool_free(pool, me, me->cap);
    }
    ed_spool_free(pool, m->slots, m->slots_cap);
    memset(m, 0, sizeof *m);
}

static void entry_release(eddy_state *s, ed_entry *e)
{
    ed_spool *pool = &s->b->pool;
    switch (s->kind) {
    case EDDY_STATE_LIST:
        buf_free(pool, &entry_list(e)->data);
        buf_free(pool, &entry_list(e)->els);
        break;
    case EDDY_STATE_MAP:
        map_release(pool, entry_map(e));
        break;
    default:
        if (entry_row(e)->p != entry_inline_row(e)) buf_free(pool, entry_row(e));
        break;
    }
    ed_spool_free(pool, e, e->cap);
}

static void entry_delete(eddy_state *s, ed_entry *e)
{
    table_remove(s, e);
    if (s->cache == e) s->cache = NULL; /* the current (key, namespace) has no entry now */
    if (s->view_e == e) s->view_ver = 0;
    if (s->iterating) {
        e->dead = true;
        e->next_dead = s->dead;
        s->dead = e;
    } else {
        entry_release(s, e);
    }
}

/* RocksDB: the working set (see the end of the file) */
static ed_entry *rk_load(eddy_state *s, const uint8_t *ns, uint32_t nslen);
static int rk_sync_ns(eddy_state *s, const uint8_t *ns, uint32_t nslen);
static inline int rk_sync(eddy_state *s)
{
    return ED_UNLIKELY(s->rk) ? rk_sync_ns(s, s->b->ns, s->b->nslen) : 0;
}
static int rk_list_add(eddy_state *s, const eddy_row *value, int64_t ts);
static void rk_clear(eddy_state *s);
static size_t rk_entries(eddy_state *s);
static int rk_for_each(eddy_state *s, unsigned flags, ed_state_key_fn fn, void *arg);
static void rk_preload(eddy_state *s, const uint8_t *target, uint32_t tlen,
                       const uint8_t *const *sources, const uint32_t *slens, int n);
static int rk_sync_merged(eddy_state *s, const uint8_t *target, uint32_t tlen,
                          const uint8_t *const *sources, const uint32_t *slens, int n);
static void heap_drop_all(eddy_state *s);

/* The entry of the current (key, namespace), or NULL. */
static inline ed_entry *cur(eddy_state *s)
{
    ed_state_backend *b = s->b;
    if (ED_LIKELY(s->cache_ver == b->version)) return s->cache;
    /* the same key, and the namespace changed back to the cached entry's (the window
     * operator goes from a window's contents to the key's merging-window set and back) */
    ed_entry *e = s->cache;
    if (e && s->cache_kver == b->key_version && e->nslen == b->nslen &&
        bytes_eq(ed_entry_ns(e), b->ns, b->nslen)) {
        s->cache_ver = b->version;
        return e;
    }
    s->cache = table_find(s, b->key, b->klen, b->ns, b->nslen, cur_hash(b));
    if (ED_UNLIKELY(b->rk) && (!s->cache || s->cache->key_group != (uint32_t)b->key_group))
        s->cache = rk_load(s, b->ns, b->nslen);
    s->cache_ver = b->version;
    s->cache_kver = b->key_version;
    return s->cache;
}

bool ed_state_has_entry(eddy_state *s)
{
    if (ED_UNLIKELY(s->rk) && s->kind == EDDY_STATE_MAP) return ed_rk_map_any(s, false);
    return cur(s) != NULL;
}

void ed_state_prefetch(eddy_state *s, const uint8_t *ns, uint32_t nslen)
{
    if (s->slots) __builtin_prefetch(&s->slots[table_hash(s->b->key_hash, ns, nslen) & s->mask]);
}

/* The entry of the current (key, namespace), made when absent; room: see body_size. */
static ed_entry *cur_make(eddy_state *s, uint32_t room)
{
    ed_entry *e = cur(s);
    if (e) return e;
    ed_state_backend *b = s->b;
    e = table_insert(s, b->key, b->klen, b->ns, b->nslen, cur_hash(b), b->key_group, room);
    if (e) {
        s->cache = e;
        s->cache_kver = b->key_version;
    }
    return e;
}

/* ---- TTL cleanup ------------------------------------------------------------------------- */

static inline uint32_t list_n(const ed_list *l)
{
    return l->els.len / (uint32_t)sizeof(ed_list_el);
}
static inline ed_list_el *list_els(const ed_list *l)
{
    return (ed_list_el *)l->els.p;
}

/* Keeps the elements with keep[i] (or, keep NULL, the unexpired ones) in place. Returns
 * the number removed. */
static uint32_t list_compact(eddy_state *s, ed_list *l, const bool *keep, int64_t now)
{
    ed_list_el *el = list_els(l);
    uint32_t n = list_n(l), w = 0, off = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (keep ? !keep[i] : expired(s, el[i].access, now)) continue;
        ed_list_el x = el[i];
        if (x.off != off) memmove(l->data.p + off, l->data.p + x.off, x.len);
        x.off = off;
        el[w++] = x;
        off += x.len;
    }
    l->els.len = w * (uint32_t)sizeof(ed_list_el);
    l->data.len = off;
    if (w != n) l->stamp = ++s->b->stamp;
    return n - w;
}

static void map_remove_at(ed_spool *pool, ed_map *m, uint32_t i);

/* Drops what has expired in e; true when e itself went. */
static bool purge_expired(eddy_state *s, ed_entry *e, int64_t now)
{
    switch (s->kind) {
    case EDDY_STATE_LIST:
        list_compact(s, entry_list(e), NULL, now);
        if (list_n(entry_list(e))) return false;
        break;
    case EDDY_STATE_MAP: {
        ed_map *m = entry_map(e);
        bool changed = false;
        for (uint32_t i = 0; m->slots && i <= m->mask;) {
            ed_mentry *me = m->slots[i];
            if (me && expired(s, me->access, now)) {
                map_remove_at(&s->b->pool, m, i); /* slot i may refill: look again */
                changed = true;
            } else {
                i++;
            }
        }
        if (changed) m->version = ++s->b->stamp;
        if (m->count) return false;
        break;
    }
    default:
        if (!expired(s, e->access, now)) return false;
        break;
    }
    entry_delete(s, e);
    return true;
}

/* Incremental cleanup: examines up to cleanup_incremental entries from where the last
 * step stopped, passing over `keep` (the entry the calling operation works on). */
static void ttl_step(eddy_state *s, ed_entry *keep, int64_t now)
{
    int n = s->ttl.cleanup_incremental;
    for (uint32_t scanned = 0; n > 0 && s->count && scanned <= s->mask;) {
        uint32_t i = s->clean_pos & s->mask;
        ed_entry *e = s->slots[i].e;
        if (e && e != keep) {
            n--;
            if (purge_expired(s, e, now)) continue; /* slot i refilled: look again */
        }
        s->clean_pos = (i + 1) & s->mask;
        scanned++;
    }
}

/* The current entry for an operation; *now is the clock when the state has TTL. */
static inline ed_entry *enter(eddy_state *s, int64_t *now)
{
    ed_entry *e = cur(s);
    *now = 0;
    if (s->has_ttl) {
        *now = clock_now(s->b);
        if (ED_UNLIKELY(s->rk)) ed_rk_publish_now(s->b->rk, *now);
        else if (s->ttl.cleanup_incremental > 0) ttl_step(s, e, *now);
    }
    return e;
}

/* The row of a VALUE/REDUCING/AGGREGATING entry as a read sees it, or NULL. */
static const eddy_row *read_row(eddy_state *s, ed_entry *e, int64_t now)
{
    if (!e) return NULL;
    if (!expired(s, e->access, now)) {
        if (touch_on_read(s)) e->access = now;
        return (const eddy_row *)entry_row(e)->p;
    }
    bool ret = return_expired(s);
    if (s->ttl.keep_expired_on_read) return ret ? (const eddy_row *)entry_row(e)->p : NULL;
    if (ret && buf_set(&s->b->pool, &s->out, entry_row(e)->p, entry_row(e)->len)) {
        oom(s);
        ret = false;
    }
    entry_delete(s, e);
    return ret ? (const eddy_row *)s->out.p : NULL;
}

/* The accumulator a combining write starts from: expired ones count as absent unless
 * visibility returns them (Flink's TtlReduceFunction / TtlAggregateFunction). */
static inline const eddy_row *combine_base(eddy_state *s, ed_entry *e, int64_t now)
{
    if (!e || (expired(s, e->access, now) && !return_expired(s))) return NULL;
    return (const eddy_row *)entry_row(e)->p;
}

/* ---- backend ----------------------------------------------------------------------------- */

ed_state_backend *ed_state_backend_new(int max_parallelism, ed_clock *clock, eddy_ctx *ctx)
{
    ed_state_backend *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->max_parallelism = max_parallelism > 0 ? max_parallelism : 128;
    b->clock = clock ? clock : ed_clock_system();
    b->ctx = ctx;
    b->version = 1;
    ed_spool_init(&b->pool);
    return b;
}

static void state_free(eddy_state *s)
{
    ed_state_backend *b = s->b;
    ed_rk_cf_close(s);
    for (uint32_t i = 0; s->slots && i <= s->mask; i++)
        if (s->slots[i].e) entry_release(s, s->slots[i].e);
    free(s->slots);
    for (ed_entry *d = s->dead, *nx; d; d = nx) {
        nx = d->next_dead;
        entry_release(s, d);
    }
    buf_free(&b->pool, &s->dflt);
    buf_free(&b->pool, &s->out);
    buf_free(&b->pool, &s->spare);
    buf_free(&b->pool, &s->spare_els);
    buf_free(&b->pool, &s->acc);
    eddy_schema_free(s->schema);
    eddy_schema_free(s->key_schema);
    eddy_schema_free(s->acc_schema);
    eddy_schema_free(s->out_schema);
    eddy_rb_free(s->rb_a);
    eddy_rb_free(s->rb_out);
    free((char *)s->reduce.name);
    free((char *)s->create.name);
    free((char *)s->add.name);
    free((char *)s->result.name);
    free((char *)s->merge.name);
    free(s->name);
    free(s->schema_src);
    free(s->key_schema_src);
    free(s->mkey);
    free(s->view);
    ed_sb_free(&s->spare_enc);
    free(s);
}

void ed_state_backend_free(ed_state_backend *b)
{
    if (!b) return;
    for (uint32_t i = 0; i < b->nstates; i++)
        state_free(b->states[i]);
    ed_rk_free(b->rk);
    free(b->states);
    free(b->key);
    free(b->ns);
    ed_spool_destroy(&b->pool);
    free(b);
}

size_t ed_state_backend_bytes(const ed_state_backend *b)
{
    return b->pool.bytes + (b->rk ? ed_rk_bytes(b->rk) : 0);
}

static void copy_in(uint8_t **dst, uint32_t *cap, const uint8_t *src, uint32_t len)
{
    if (len > *cap) {
        uint32_t ncap = len < 64 ? 64 : len;
        uint8_t *p = ed_xmalloc(ncap); /* grows to the longest key once */
        free(*dst);
        *dst = p;
        *cap = ncap;
    }
    move_bytes(*dst, src, len);
}

void ed_state_set_key_hashed(ed_state_backend *b, const uint8_t *key, uint32_t len, int key_group,
                             uint32_t key_hash)
{
    /* the same key again (a run of records of one key) keeps the handles' caches */
    if (len == b->klen && key_group == b->key_group && ed_key_bytes_equal(b->key, key, len)) return;
    copy_in(&b->key, &b->kcap, key, len);
    b->klen = len;
    b->key_group = key_group;
    b->key_hash = key_hash;
    b->version++;
    b->key_version++;
}

void ed_state_set_key(ed_state_backend *b, const uint8_t *key, uint32_t len, int key_group)
{
    if (len == b->klen && key_group == b->key_group && ed_key_bytes_equal(b->key, key, len)) return;
    ed_state_set_key_hashed(b, key, len, key_group, ed_key_hash(key, len));
}

void ed_state_set_namespace(ed_state_backend *b, const uint8_t *ns, uint32_t len)
{
    if (len == b->nslen && bytes_eq(b->ns, ns, len)) return;
    copy_in(&b->ns, &b->nscap, ns, len);
    b->nslen = len;
    b->version++;
}

/* ---- descriptors ------------------------------------------------------------------------- */

eddy_state *ed_state_find(ed_state_backend *b, const char *name)
{
    for (uint32_t i = 0; i < b->nstates; i++)
        if (strcmp(b->states[i]->name, name) == 0) return b->states[i];
    return NULL;
}

static eddy_schema *parse_schema(const char *text, const char *name, const char *what, ed_err *err)
{
    char msg[256];
    eddy_schema *sc = eddy_schema_parse(text, msg, sizeof msg);
    const char *m = strncmp(msg, "schema: ", 8) == 0 ? msg + 8 : msg; /* say which one */
    if (!sc) ed_err_set(err, "state '%s': %s: %s", name, what, m);
    return sc;
}

/* The same text, or the same schema once parsed. */
static bool same_schema(const char *src, const eddy_schema *have, const char *text)
{
    if (!have) return !text;
    if (!text) return false;
    if (src && strcmp(src, text) == 0) return true;
    char msg[256];
    eddy_schema *sc = eddy_schema_parse(text, msg, sizeof msg);
    bool same = sc && strcmp(eddy_schema_text(sc), eddy_schema_text(have)) == 0;
    eddy_schema_free(sc);
    return same;
}

static int take_fn(eddy_fn *dst, eddy_fn src, const char *what, const char *kind, const char *name,
                   bool required, ed_err *err)
{
    if (!src.ptr && !src.name) {
        if (required) return ed_err_set(err, "%s state '%s' needs %s function", kind, name, what);
        return 0;
    }
    if (!src.ptr)
        return ed_err_set(err, "state '%s': function '%s' is not resolved", name, src.name);
    dst->ptr = src.ptr;
    dst->name = ed_xstrdup(src.name ? src.name : "(unnamed)");
    return 0;
}

static int check_ttl(const eddy_state_ttl *t, const char *name, ed_err *err)
{
    if (t->ttl_ms < 0) return ed_err_set(err, "state '%s': ttl must not be negative", name);
    if (t->update != EDDY_TTL_ON_CREATE_AND_WRITE && t->update != EDDY_TTL_ON_READ_AND_WRITE)
        return ed_err_set(err, "state '%s': unknown TTL update type %d", name, (int)t->update);
    if (t->visibility != EDDY_TTL_NEVER_RETURN_EXPIRED &&
        t->visibility != EDDY_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP)
        return ed_err_set(err, "state '%s': unknown TTL visibility %d", name, (int)t->visibility);
    if (t->cleanup_incremental < 0)
        return ed_err_set(err, "state '%s': cleanup_incremental must not be negative", name);
    return 0;
}

/* A new state for d; `restored`: a placeholder re-created from a snapshot's descriptor,
 * whose functions come later with the operator's declaration (ed_state_declare_restored). */
static eddy_state *state_new(ed_state_backend *b, const eddy_state_desc *d, bool restored,
                             ed_err *err)
{
    const char *nm = d->name;
    if (!d->schema || !*d->schema) {
        ed_err_set(err, "state '%s' has no schema", nm);
        return NULL;
    }
    if (d->default_value && d->kind != EDDY_STATE_VALUE) {
        ed_err_set(err, "state '%s': a default value is only for VALUE state", nm);
        return NULL;
    }
    if (check_ttl(&d->ttl, nm, err)) return NULL;

    eddy_state *s = ed_xcalloc(1, sizeof *s);
    s->b = b;
    s->name = ed_xstrdup(nm);
    s->kind = d->kind;
    s->schema_src = ed_xstrdup(d->schema);
    if (!(s->schema = parse_schema(d->schema, nm, "schema", err))) goto bad;
    s->arity = eddy_schema_arity(s->schema);
    s->ttl = d->ttl;
    s->has_ttl = d->ttl.ttl_ms > 0;

    switch (d->kind) {
    case EDDY_STATE_VALUE:
        if (d->default_value) {
            eddy_row_builder *rb = eddy_rb_new_schema(s->schema);
            ed_err perr = {0};
            int rc = ed_csv_parse_line(d->default_value, strlen(d->default_value), s->schema, ',',
                                       rb, &perr);
            if (!rc) {
                const eddy_row *r = eddy_rb_row(rb);
                if (buf_set(&b->pool, &s->dflt, r, eddy_row_size(r))) {
                    ed_err_set(&perr, "out of memory");
                    rc = -1;
                }
            }
            eddy_rb_free(rb);
            if (rc) {
                ed_err_set(err, "state '%s': default value '%s': %s", nm, d->default_value,
                           perr.msg);
                goto bad;
            }
        }
        break;
    case EDDY_STATE_LIST:
        break;
    case EDDY_STATE_MAP:
        if (!d->key_schema || !*d->key_schema) {
            ed_err_set(err, "map state '%s' needs a key_schema", nm);
            goto bad;
        }
        s->key_schema_src = ed_xstrdup(d->key_schema);
        if (!(s->key_schema = parse_schema(d->key_schema, nm, "key_schema", err))) goto bad;
        s->key_arity = eddy_schema_arity(s->key_schema);
        if (s->key_arity > ED_ARRAY_LEN(s->mks.idx)) {
            ed_err_set(err, "state '%s': a map key has at most %zu fields", nm,
                       ED_ARRAY_LEN(s->mks.idx));
            goto bad;
        }
        ed_keyspec_all(&s->mks, s->key_schema);
        break;
    case EDDY_STATE_REDUCING:
        if (take_fn(&s->reduce, d->reduce, "a reduce", "reducing", nm, !restored, err)) goto bad;
        s->rb_a = eddy_rb_new_schema(s->schema);
        break;
    case EDDY_STATE_AGGREGATING: {
        const eddy_aggregate *a = &d->aggregate;
        if (!a->acc_schema || !*a->acc_schema) {
            ed_err_set(err, "aggregating state '%s' needs an acc_schema", nm);
            goto bad;
        }
        if (!a->out_schema || !*a->out_schema) {
            ed_err_set(err, "aggregating state '%s' needs an out_schema", nm);
            goto bad;
        }
        if (take_fn(&s->create, a->create, "a create", "aggregating", nm, !restored, err) ||
            take_fn(&s->add, a->add, "an add", "aggregating", nm, !restored, err) ||
            take_fn(&s->result, a->result, "a result", "aggregating", nm, !restored, err) ||
            take_fn(&s->merge, a->merge, "a merge", "aggregating", nm, false, err))
            goto bad;
        if (!(s->acc_schema = parse_schema(a->acc_schema, nm, "acc_schema", err))) goto bad;
        if (!(s->out_schema = parse_schema(a->out_schema, nm, "out_schema", err))) goto bad;
        s->rb_a = eddy_rb_new_schema(s->acc_schema);
        s->rb_out = eddy_rb_new_schema(s->out_schema);
        break;
    }
    }
    s->restored = restored;
    return s;
bad:
    state_free(s);
    return NULL;
}

/* A declaration of d for the existing state s: the same kind and schemas. */
static int check_redeclare(const eddy_state *s, const eddy_state_desc *d, ed_err *err)
{
    const char *how = s->restored ? "restored from a snapshot" : "already declared";
    if (s->kind != d->kind)
        return ed_err_set(err, "state '%s' is %s as %s", d->name, how, kind_names[s->kind]);
    if (!same_schema(s->schema_src, s->schema, d->schema))
        return ed_err_set(err, "state '%s' is %s as %s with schema '%s'", d->name, how,
                          kind_names[s->kind], eddy_schema_text(s->schema));
    if (s->kind == EDDY_STATE_MAP && !same_schema(s->key_schema_src, s->key_schema, d->key_schema))
        return ed_err_set(err, "state '%s' is %s as MAP with key_schema '%s'", d->name, how,
                          eddy_schema_text(s->key_schema));
    return 0;
}

/* What a snapshot holds must also fit: the accumulators of an aggregating state, and TTL
 * on or off (Flink refuses to restore state saved with TTL into a descriptor without,
 * and the reverse: the stored values have, or lack, their access times). `saved`: s
 * comes from the snapshot and d is the declaration, or the other way round. */
static int check_restore(const eddy_state *s, const eddy_state_desc *d, bool saved, ed_err *err)
{
    if (s->kind == EDDY_STATE_AGGREGATING &&
        !same_schema(NULL, s->acc_schema, d->aggregate.acc_schema))
        return ed_err_set(err, "state '%s' is %s with acc_schema '%s'", d->name,
                          saved ? "restored" : "declared", eddy_schema_text(s->acc_schema));
    bool saved_ttl = saved ? s->has_ttl : d->ttl.ttl_ms > 0;
    if (s->has_ttl != (d->ttl.ttl_ms > 0))
        return ed_err_set(err, "state '%s' was saved %s TTL and is declared %s", d->name,
                          saved_ttl ? "with" : "without", saved_ttl ? "without" : "with");
    return 0;
}

static void add_state(ed_state_backend *b, eddy_state *s)
{
    if (b->nstates == b->states_cap) {
        b->states_cap = b->states_cap ? 2 * b->states_cap : 8;
        b->states = ed_xrealloc(b->states, b->states_cap * sizeof *b->states);
    }
    b->states[b->nstates++] = s;
}

/* The operator declares a state that a restore re-created: a state made from d (with its
 * functions, default value and TTL settings) takes over the placeholder's entries. */
static eddy_state *adopt(ed_state_backend *b, eddy_state *old, const eddy_state_desc *d,
                         ed_err *err)
{
    if (check_restore(old, d, true, err)) return NULL;
    eddy_state *s = state_new(b, d, false, err);
    if (!s) return NULL;
    s->slots = old->slots;
    s->mask = old->mask;
    s->count = old->count;
    s->op_list = old->op_list;
    s->mode = old->mode;
    s->broadcast = old->broadcast;
    old->slots = NULL;
    old->count = 0;
    ed_rk_cf_adopt(s, old);
    for (uint32_t i = 0; i < b->nstates; i++)
        if (b->states[i] == old) b->states[i] = s;
    state_free(old);
    return s;
}

eddy_state *ed_state_get(ed_state_backend *b, const eddy_state_desc *d, ed_err *err)
{
    if (!d || !d->name || !*d->name) {
        ed_err_set(err, "state descriptor has no name");
        return NULL;
    }
    if (d->kind < EDDY_STATE_VALUE || d->kind > EDDY_STATE_AGGREGATING) {
        ed_err_set(err, "state '%s' has an unknown kind %d", d->name, (int)d->kind);
        return NULL;
    }
    eddy_state *s = ed_state_find(b, d->name);
    if (s) {
        if (check_redeclare(s, d, err)) return NULL;
        return s->restored ? adopt(b, s, d, err) : s;
    }
    s = state_new(b, d, false, err);
    if (!s) return NULL;
    if (b->rk && ed_rk_cf_open(s, err)) {
        state_free(s);
        return NULL;
    }
    add_state(b, s);
    return s;
}

/* ---- value ------------------------------------------------------------------------------- */

const eddy_row *eddy_value_get(eddy_state *s)
{
    if (!begin(s, EDDY_STATE_VALUE)) return NULL;
    int64_t now;
    ed_entry *e = enter(s, &now);
    const eddy_row *r = read_row(s, e, now);
    if (ED_UNLIKELY(s->rk) && e && s->has_ttl) rk_sync(s);
    if (r) return r;
    return s->dflt.len ? (const eddy_row *)s->dflt.p : NULL;
}

int eddy_value_update(eddy_state *s, const eddy_row *value)
{
    if (!begin(s, EDDY_STATE_VALUE)) return -1;
    if (!value) { /* Flink: update(null) clears */
        eddy_state_clear(s);
        return 0;
    }
    if (!arity_ok(s, value, s->schema, "value")) return -1;
    int64_t now;
    enter(s, &now);
    uint32_t n = eddy_row_size(value);
    ed_entry *e = cur_make(s, n);
    if (!e || row_set(&s->b->pool, e, value, n)) return oom(s);
    e->access = now;
    return rk_sync(s);
}

/* ---- list -------------------------------------------------------------------------------- */

static int list_append(eddy_state *s, ed_entry *e, const eddy_row *v, int64_t ts, int64_t now)
{
    ed_spool *pool = &s->b->pool;
    ed_list *l = entry_list(e);
    uint32_t len = eddy_row_size(v);
    /* v may be an element of this very list: find it again after the data moves */
    const uint8_t *vp = (const uint8_t *)v;
    bool inside = l->data.p && vp >= l->data.p && vp < l->data.p + l->data.len;
    size_t voff = inside ? (size_t)(vp - l->data.p) : 0;
    if (buf_reserve(pool, &l->els, l->els.len + sizeof(ed_list_el)) ||
        buf_reserve(pool, &l->data, (size_t)l->data.len + len))
        return -1;
    if (inside) vp = l->data.p + voff;
    memcpy(l->data.p + l->data.len, vp, len);
    ed_list_el *el = (ed_list_el *)(l->els.p + l->els.len);
    el->off = l->data.len;
    el->len = len;
    el->ts = ts;
    el->access = now;
    l->data.len += len;
    l->els.len += (uint32_t)sizeof(ed_list_el);
    l->stamp = ++s->b->stamp;
    return 0;
}

int ed_list_add_ts(eddy_state *s, const eddy_row *value, int64_t ts)
{
    if (!begin(s, EDDY_STATE_LIST)) return -1;
    if (!arity_ok(s, value, s->schema, "list element")) return -1;
    if (ED_UNLIKELY(s->rk)) return rk_list_add(s, value, ts);
    int64_t now;
    enter(s, &now);
    ed_entry *e = cur_make(s, 0);
    if (!e || list_append(s, e, value, ts, now)) return oom(s);
    return 0;
}

int eddy_list_add(eddy_state *s, const eddy_row *value)
{
    return ed_list_add_ts(s, value, EDDY_NO_TIMESTAMP);
}

/* Swaps the list's buffers with the handle's spares. */
static void list_swap_spare(eddy_state *s, ed_list *l)
{
    ed_buf t = l->data;
    l->data = s->spare;
    s->spare = t;
    t = l->els;
    l->els = s->spare_els;
    s->spare_els = t;
    l->stamp = ++s->b->stamp;
}

int eddy_list_update(eddy_state *s, const eddy_row *const *values, size_t n)
{
    if (!begin(s, EDDY_STATE_LIST)) return -1;
    for (size_t i = 0; i < n; i++)
        if (!arity_ok(s, values[i], s->schema, "list element")) return -1;
    if (n == 0) { /* Flink: update with an empty list clears */
        eddy_state_clear(s);
        return 0;
    }
    int64_t now;
    enter(s, &now);
    ed_entry *e = cur_make(s, 0);
    if (!e) return oom(s);
    /* Build the new list in the spare buffers: values may be rows of the old one. They
     * may also be rows of the spare itself (a TTL read left its old rows there): then
     * the spare is set aside until the new list is built. */
    ed_spool *pool = &s->b->pool;
    ed_buf hold = {0};
    for (size_t i = 0; i < n && s->spare.p; i++) {
        const uint8_t *vp = (const uint8_t *)values[i];
        if (vp >= s->spare.p && vp < s->spare.p + s->spare.cap) {
            hold = s->spare;
            memset(&s->spare, 0, sizeof s->spare);
            break;
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += eddy_row_size(values[i]);
    if (total > UINT32_MAX / 2 || n > UINT32_MAX / (2 * sizeof(ed_list_el)) ||
        buf_reserve(pool, &s->spare, total) ||
        buf_reserve(pool, &s->spare_els, n * sizeof(ed_list_el))) {
        buf_free(pool, &hold);
        return oom(s);
    }
    ed_list_el *el = (ed_list_el *)s->spare_els.p;
    uint32_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = eddy_row_size(values[i]);
        memcpy(s->spare.p + off, values[i], len);
        el[i] = (ed_list_el){off, len, EDDY_NO_TIMESTAMP, now};
        off += len;
    }
    s->spare.len = off;
    s->spare_els.len = (uint32_t)(n * sizeof(ed_list_el));
    list_swap_spare(s, entry_list(e));
    buf_free(pool, &hold);
    return rk_sync(s);
}

static inline bool view_valid(const eddy_state *s, const ed_entry *e)
{
    return s->view_ver == s->b->version && s->view_e == e &&
           (!e || s->view_stamp == entry_list(e)->stamp);
}

/* TTL lists: records what a read of e sees now (see the file comment). 0 or -1. */
static int list_view(eddy_state *s, ed_entry *e, int64_t now)
{
    if (view_valid(s, e)) return 0;
    s->view_n = 0;
    s->view_e = e;
    s->view_ver = s->b->version;
    if (!e) return 0;
    ed_list *l = entry_list(e);
    uint32_t n = list_n(l);
    if (n > s->view_cap) {
        ed_view_el *v = realloc(s->view, n * sizeof *v); /* grows to the longest list once */
        if (!v) return oom(s);
        s->view = v;
        s->view_cap = n;
    }
    ed_list_el *el = list_els(l);
    bool ret = return_expired(s), any_expired = false;
    for (uint32_t i = 0; i < n; i++) {
        bool exp = expired(s, el[i].access, now);
        any_expired |= exp;
        if (exp && !ret) continue;
        if (!exp && touch_on_read(s)) el[i].access = now;
        s->view[s->view_n++] = (ed_view_el){(const eddy_row *)(l->data.p + el[i].off), el[i].ts};
    }
    if (any_expired && !s->ttl.keep_expired_on_read) {
        /* Compact into the spares and keep the old buffers (the view's rows) as spares. */
        ed_spool *pool = &s->b->pool;
        if (buf_reserve(pool, &s->spare, l->data.len) ||
            buf_reserve(pool, &s->spare_els, l->els.len)) {
            s->view_ver = 0;
            return oom(s);
        }
        memcpy(s->spare.p, l->data.p, l->data.len);
        memcpy(s->spare_els.p, l->els.p, l->els.len);
        s->spare.len = l->data.len;
        s->spare_els.len = l->els.len;
        list_swap_spare(s, l); /* the entry now has the copy; the view reads the old rows */
        list_compact(s, l, NULL, now);
        if (!list_n(l)) {
            entry_delete(s, e);
            s->view_e = NULL; /* the view stays valid for "no entry" at this version */
            s->view_ver = s->b->version;
            return rk_sync(s);
        }
    }
    s->view_stamp = l->stamp;
    if (ED_UNLIKELY(s->rk) && (touch_on_read(s) || (any_expired && !s->ttl.keep_expired_on_read)))
        return rk_sync(s);
    return 0;
}

size_t eddy_list_size(eddy_state *s)
{
    if (!begin(s, EDDY_STATE_LIST)) return 0;
    int64_t now;
    ed_entry *e = enter(s, &now);
    if (!s->has_ttl) return e ? list_n(entry_list(e)) : 0;
    s->view_ver = 0; /* a size call starts a new read */
    if (list_view(s, e, now)) return 0;
    return s->view_n;
}

const eddy_row *eddy_list_get(eddy_state *s, size_t i)
{
    if (!begin(s, EDDY_STATE_LIST)) return NULL;
    int64_t now;
    ed_entry *e = enter(s, &now);
    if (!s->has_ttl) {
        if (!e || i >= list_n(entry_list(e))) return NULL;
        return (const eddy_row *)(entry_list(e)->data.p + list_els(entry_list(e))[i].off);
    }
    if (list_view(s, e, now) || i >= s->view_n) return NULL;
    return s->view[i].row;
}

int64_t ed_list_timestamp(eddy_state *s, size_t i)
{
    if (!begin(s, EDDY_STATE_LIST)) return EDDY_NO_TIMESTAMP;
    int64_t now;
    ed_entry *e = enter(s, &now);
    if (!s->has_ttl) {
        if (!e || i >= list_n(entry_list(e))) return EDDY_NO_TIMESTAMP;
        return list_els(entry_list(e))[i].ts;
    }
    if (list_view(s, e, now) || i >= s->view_n) return EDDY_NO_TIMESTAMP;
    return s->view[i].ts;
}

int ed_list_retain(eddy_state *s, const bool *keep, size_t n)
{
    if (!begin(s, EDDY_STATE_LIST)) return -1;
    if (s->has_ttl) return fail(s, "state '%s': ed_list_retain needs a list without TTL", s->name);
    int64_t now;
    ed_entry *e = enter(s, &now);
    size_t have = e ? list_n(entry_list(e)) : 0;
    if (n != have)
        return fail(s, "state '%s': ed_list_retain got %zu flags for %zu elements", s->name, n,
                    have);
    if (!e) return 0;
    list_compact(s, entry_list(e), keep, now);
    if (!list_n(entry_list(e))) entry_delete(s, e);
    return rk_sync(s);
}

/* ---- map --------------------------------------------------------------------------------- */

static inline const uint8_t *mentry_key(const ed_mentry *me)
{
    return (const uint8_t *)me->words;
}
static inline const eddy_row *mentry_row(const ed_mentry *me)
{
    return (const eddy_row *)((const uint8_t *)me->words + me->klen);
}
static inline const eddy_row *mentry_val(const ed_mentry *me)
{
    return me->val.len ? (const eddy_row *)me->val.p : NULL;
}

/* The canonical bytes of a map key row in s->mkey; their length. */
static uint32_t map_key_bytes(eddy_state *s, const eddy_row *key)
{
    size_t n = ed_key_write(&s->mks, key, s->mkey, s->mkcap);
    if (n > s->mkcap) {
        uint32_t cap = (uint32_t)(n < 64 ? 64 : 2 * n);
        s->mkey = ed_xrealloc(s->mkey, cap); /* grows to the longest key once */
        s->mkcap = cap;
        n = ed_key_write(&s->mks, key, s->mkey, s->mkcap);
    }
    return (uint32_t)n;
}

static ed_mentry *map_find(const ed_map *m, const uint8_t *k, uint32_t klen, uint32_t hash,
                           uint32_t *slot)
{
    if (!m->slots) return NULL;
    for (uint32_t i = (uint32_t)ed_mix64(hash) & m->mask;; i = (i + 1) & m->mask) {
        ed_mentry *me = m->slots[i];
        if (!me) return NULL;
        if (me->hash == hash && me->klen == klen && ed_key_bytes_equal(mentry_key(me), k, klen)) {
            *slot = i;
            return me;
        }
    }
}

static int map_grow(ed_spool *pool, ed_map *m)
{
    uint32_t nmask = m->slots ? m->mask * 2 + 1 : 7, cap;
    ed_mentry **ns = ed_spool_alloc(pool, ((size_t)nmask + 1) * sizeof *ns, &cap);
    if (!ns) return -1;
    memset(ns, 0, ((size_t)nmask + 1) * sizeof *ns);
    for (uint32_t i = 0; m->slots && i <= m->mask; i++) {
        ed_mentry *me = m->slots[i];
        if (!me) continue;
        uint32_t j = (uint32_t)ed_mix64(me->hash) & nmask;
        while (ns[j])
            j = (j + 1) & nmask;
        ns[j] = me;
    }
    ed_spool_free(pool, m->slots, m->slots_cap);
    m->slots = ns;
    m->slots_cap = cap;
    m->mask = nmask;
    return 0;
}

static void map_remove_at(ed_spool *pool, ed_map *m, uint32_t i)
{
    ed_mentry *me = m->slots[i];
    for (uint32_t j = (i + 1) & m->mask;; j = (j + 1) & m->mask) {
        ed_mentry *x = m->slots[j];
        if (!x) break;
        uint32_t home = (uint32_t)ed_mix64(x->hash) & m->mask;
        if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
            m->slots[i] = x;
            i = j;
        }
    }
    m->slots[i] = NULL;
    m->count--;
    buf_free(pool, &me->val);
    ed_spool_free(pool, me, me->cap);
}

/* Adds map key `key` (canonical bytes k of klen, hash h), absent from m, with no value
 * yet. NULL when out of memory. */
static ed_mentry *map_add(ed_spool *pool, ed_map *m, const uint8_t *k, uint32_t klen, uint32_t h,
                          const eddy_row *key)
{
    if ((!m->slots || (m->count + 1) * 2 > m->mask + 1) && map_grow(pool, m)) return NULL;
    uint32_t rlen = eddy_row_size(key), cap;
    ed_mentry *me = ed_spool_alloc(pool, sizeof *me + ED_ALIGN8(klen) + rlen, &cap);
    if (!me) return NULL;
    memset(me, 0, sizeof *me);
    ed_assert((klen & 7) == 0); /* canonical key bytes are whole words */
    me->hash = h;
    me->klen = klen;
    me->cap = cap;
    me->rlen = rlen;
    memcpy(me->words, k, klen);
    memcpy((uint8_t *)me->words + klen, key, rlen);
    uint32_t i = (uint32_t)ed_mix64(h) & m->mask;
    while (m->slots[i])
        i = (i + 1) & m->mask;
    m->slots[i] = me;
    m->count++;
    return me;
}

static bool writable(eddy_state *s)
{
    if (ED_LIKELY(!s->read_only)) return true;
    fail(s, "broadcast state '%s' is read-only in process_element", s->name);
    return false;
}

/* A read of map entry me at slot i of e: TTL rules; may remove it (and e). */
static bool map_read(eddy_state *s, ed_entry *e, ed_mentry *me, uint32_t slot, int64_t now,
                     const eddy_row **val)
{
    *val = mentry_val(me);
    if (!expired(s, me->access, now)) {
        if (touch_on_read(s)) me->access = now;
        return true;
    }
    bool ret = return_expired(s);
    if (s->ttl.keep_expired_on_read) return ret;
    if (ret && *val) {
        if (buf_set(&s->b->pool, &s->out, me->val.p, me->val.len)) {
            oom(s);
            ret = false;
        }
        *val = (const eddy_row *)s->out.p;
    }
    ed_map *m = entry_map(e);
    map_remove_at(&s->b->pool, m, slot);
    m->version = ++s->b->stamp;
    if (!m->count) entry_delete(s, e);
    if (!ret) *val = NULL;
    return ret;
}

/* Finds key in the current map: *found tells, *val gets the value the read sees. */
static int map_lookup(eddy_state *s, const eddy_row *key, bool *found, const eddy_row **val)
{
    *found = false;
    *val = NULL;
    if (!begin(s, EDDY_STATE_MAP)) return -1;
    if (!arity_ok(s, key, s->key_schema, "map key")) return -1;
    int64_t now;
    ed_entry *e = enter(s, &now);
    if (!e) return 0;
    uint32_t klen = map_key_bytes(s, key), slot = 0;
    uint32_t h = ed_key_hash(s->mkey, klen);
    ed_mentry *me = map_find(entry_map(e), s->mkey, klen, h, &slot);
    if (me) *found = map_read(s, e, me, slot, now, val);
    return 0;
}

const eddy_row *eddy_map_get(eddy_state *s, const eddy_row *key)
{
    if (ED_UNLIKELY(s->rk)) return ed_rk_map_get(s, key);
    bool found;
    const eddy_row *v;
    map_lookup(s, key, &found, &v);
    return v;
}

bool eddy_map_contains(eddy_state *s, const eddy_row *key)
{
    if (ED_UNLIKELY(s->rk)) return ed_rk_map_contains(s, key);
    bool found;
    const eddy_row *v;
    map_lookup(s, key, &found, &v);
    return found;
}

int eddy_map_put(eddy_state *s, const eddy_row *key, const eddy_row *value)
{
    if (ED_UNLIKELY(s->rk)) return ed_rk_map_put(s, key, value);
    if (!begin(s, EDDY_STATE_MAP) || !writable(s)) return -1;
    if (!arity_ok(s, key, s->key_schema, "map key")) return -1;
    if (value && !arity_ok(s, value, s->schema, "map value")) return -1;
    int64_t now;
    enter(s, &now);
    ed_entry *e = cur_make(s, 0);
    if (!e) return oom(s);
    ed_spool *pool = &s->b->pool;
    ed_map *m = entry_map(e);
    uint32_t klen = map_key_bytes(s, key), slot = 0;
    uint32_t h = ed_key_hash(s->mkey, klen);
    ed_mentry *me = map_find(m, s->mkey, klen, h, &slot);
    if (!me && !(me = map_add(pool, m, s->mkey, klen, h, key))) return oom(s);
    if (value) {
        if (buf_set(pool, &me->val, value, eddy_row_size(value))) return oom(s);
    } else {
        me->val.len = 0; /* a NULL value: contained, get returns NULL */
    }
    me->access = now;
    m->version = ++s->b->stamp;
    return 0;
}

int eddy_map_remove(eddy_state *s, const eddy_row *key)
{
    if (ED_UNLIKELY(s->rk)) return ed_rk_map_remove(s, key);
    if (!begin(s, EDDY_STATE_MAP) || !writable(s)) return -1;
    if (!arity_ok(s, key, s->key_schema, "map key")) return -1;
    int64_t now;
    ed_entry *e = enter(s, &now);
    if (!e) return 0;
    ed_map *m = entry_map(e);
    uint32_t klen = map_key_bytes(s, key), slot = 0;
    ed_mentry *me = map_find(m, s->mkey, klen, ed_key_hash(s->mkey, klen), &slot);
    if (!me) return 0;
    map_remove_at(&s->b->pool, m, slot);
    m->version = ++s->b->stamp;
    if (!m->count) entry_delete(s, e); /* as Flink's heap map state */
    return 0;
}

size_t eddy_map_size(eddy_state *s)
{
    if (ED_UNLIKELY(s->rk)) return ed_rk_map_size(s);
    if (!begin(s, EDDY_STATE_MAP)) return 0;
    int64_t now;
    ed_entry *e = enter(s, &now);
    if (!e) return 0;
    ed_map *m = entry_map(e);
    if (!s->has_ttl || return_expired(s)) return m->count;
    size_t n = 0;
    for (uint32_t i = 0; m->slots && i <= m->mask; i++)
        if (m->slots[i] && !expired(s, m->slots[i]->access, now)) n++;
    return n;
}

void eddy_map_iter_start(eddy_state *s, eddy_map_iter *it)
{
    if (ED_UNLIKELY(s->rk)) {
        ed_rk_map_iter_start(s, it);
        return;
    }
    it->s = s;
    it->pos = 0;
    it->version = 0;
    if (!begin(s, EDDY_STATE_MAP)) return;
    ed_entry *e = cur(s);
    if (e) it->version = entry_map(e)->version;
}

/* Versions come from the backend's counter, which starts past 0, so an iterator started
 * on an absent map (version 0) or on another key's map never matches. Reading through
 * the iterator does not clean up (that would change the map under it). */
bool eddy_map_next(eddy_map_iter *it, const eddy_row **key, const eddy_row **value)
{
    eddy_state *s = it->s;
    if (ED_UNLIKELY(s->rk)) return ed_rk_map_next(it, key, value);
    if (!begin(s, EDDY_STATE_MAP)) return false;
    int64_t now;
    ed_entry *e = enter(s, &now);
    if (!e || entry_map(e)->version != it->version) return false;
    ed_map *m = entry_map(e);
    while (m->slots && it->pos <= m->mask) {
        ed_mentry *me = m->slots[it->pos++];
        if (!me) continue;
        if (s->has_ttl) {
            bool exp = expired(s, me->access, now);
            if (exp && !return_expired(s)) continue;
            if (!exp && touch_on_read(s)) me->access = now;
        }
        *key = mentry_row(me);
        *value = mentry_val(me);
        return true;
    }
    return false;
}

/* ---- reducing and aggregating ------------------------------------------------------------ */

static int store_row(eddy_state *s, ed_entry *e, const eddy_row *r, int64_t now)
{
    uint32_t n = eddy_row_size(r);
    if (!e) e = cur_make(s, n);
    if (!e || row_set(&s->b->pool, e, r, n)) return oom(s);
    e->access = now;
    return rk_sync(s);
}

static int call_reduce(eddy_state *s, const eddy_row *acc, const eddy_row *in)
{
    eddy_rb_reset(s->rb_a);
    if (((eddy_reduce_fn)s->reduce.ptr)(s->b->ctx, acc, in, s->rb_a) < 0)
        return fail(s, "state '%s': reduce function '%s' failed", s->name, s->reduce.name);
    return 0;
}

int eddy_reducing_add(eddy_state *s, const eddy_row *value)
{
    if (!begin(s, EDDY_STATE_REDUCING)) return -1;
    if (!arity_ok(s, value, s->schema, "value")) return -1;
    int64_t now;
    ed_entry *e = enter(s, &now);
    const eddy_row *acc = combine_base(s, e, now);
    if (!acc) return store_row(s, e, value, now);
    if (call_reduce(s, acc, value)) return -1;
    return store_row(s, e, eddy_rb_row(s->rb_a), now);
}

const eddy_row *eddy_reducing_get(eddy_state *s)
{
    if (!begin(s, EDDY_STATE_REDUCING)) return NULL;
    int64_t now;
    ed_entry *e = enter(s, &now);
    const eddy_row *r = read_row(s, e, now);
    if (ED_UNLIKELY(s->rk) && e && s->has_ttl) rk_sync(s);
    return r;
}

int eddy_aggregating_add(eddy_state *s, const eddy_row *value)
{
    if (!begin(s, EDDY_STATE_AGGREGATING)) return -1;
    if (!arity_ok(s, value, s->schema, "value")) return -1;
    int64_t now;
    ed_entry *e = enter(s, &now);
    const eddy_row *acc = combine_base(s, e, now);
    ed_spool *pool = &s->b->pool;
    if (!acc) {
        eddy_rb_reset(s->rb_a);
        if (((eddy_agg_create_fn)s->create.ptr)(s->b->ctx, s->rb_a) < 0)
            return fail(s, "state '%s': aggregate function '%s' failed", s->name, s->create.name);
        const eddy_row *fresh = eddy_rb_row(s->rb_a);
        if (buf_set(pool, &s->acc, fresh, eddy_row_size(fresh))) return oom(s);
        acc = (const eddy_row *)s->acc.p;
    }
    eddy_rb_reset(s->rb_a);
    if (((eddy_agg_add_fn)s->add.ptr)(s->b->ctx, value, acc, s->rb_a) < 0)
        return fail(s, "state '%s': aggregate function '%s' failed", s->name, s->add.name);
    return store_row(s, e, eddy_rb_row(s->rb_a), now);
}

const eddy_row *eddy_aggregating_get(eddy_state *s)
{
    if (!begin(s, EDDY_STATE_AGGREGATING)) return NULL;
    int64_t now;
    ed_entry *e = enter(s, &now);
    const eddy_row *acc = read_row(s, e, now);
    if (ED_UNLIKELY(s->rk) && e && s->has_ttl) rk_sync(s);
    if (!acc) return NULL;
    eddy_rb_reset(s->rb_out);
    if (((eddy_agg_result_fn)s->result.ptr)(s->b->ctx, acc, s->rb_out) < 0) {
        fail(s, "state '%s': aggregate function '%s' failed", s->name, s->result.name);
        return NULL;
    }
    return eddy_rb_row(s->rb_out);
}

/* ---- any kind ---------------------------------------------------------------------------- */

void eddy_state_clear(eddy_state *s)
{
    s->err.set = 0;
    if (s->read_only) {
        writable(s);
        return;
    }
    if (ED_UNLIKELY(s->rk)) {
        rk_clear(s);
        return;
    }
    ed_entry *e = cur(s);
    if (e) entry_delete(s, e);
}

const eddy_row *ed_state_stored_row(eddy_state *s)
{
    s->err.set = 0;
    ed_entry *e = s->kind == EDDY_STATE_LIST || s->kind == EDDY_STATE_MAP ? NULL : cur(s);
    return e && entry_row(e)->len ? (const eddy_row *)entry_row(e)->p : NULL;
}

int ed_state_store_row(eddy_state *s, const eddy_row *r)
{
    s->err.set = 0;
    if (s->kind == EDDY_STATE_LIST || s->kind == EDDY_STATE_MAP)
        return fail(s, "state '%s' does not hold one row", s->name);
    return store_row(s, cur(s), r, s->has_ttl ? clock_now(s->b) : 0);
}

void ed_state_drop_all(eddy_state *s)
{
    if (s->rk) ed_rk_delete_all(s);
    heap_drop_all(s);
}

static void heap_drop_all(eddy_state *s)
{
    ed_assert(!s->iterating);
    for (uint32_t i = 0; s->slots && i <= s->mask; i++) {
        if (!s->slots[i].e) continue;
        entry_release(s, s->slots[i].e);
        s->slots[i] = (ed_slot){0, NULL};
    }
    s->count = 0;
    s->cache = NULL;
    s->cache_ver = 0;
    s->view_ver = 0;
}

size_t ed_state_entries(eddy_state *s)
{
    return s->rk ? rk_entries(s) : s->count;
}

int ed_state_entry_key_group(eddy_state *s)
{
    if (s->rk && s->kind == EDDY_STATE_MAP)
        return ed_rk_map_any(s, false) ? s->b->key_group : -1;
    ed_entry *e = cur(s);
    return e ? (int)e->key_group : -1;
}

/* True when e holds something a NEVER_RETURN_EXPIRED read would see. */
static bool entry_live(eddy_state *s, const ed_entry *e, int64_t now)
{
    if (!s->has_ttl || return_expired(s)) return true;
    switch (s->kind) {
    case EDDY_STATE_LIST: {
        const ed_list_el *el = list_els(entry_list(e));
        for (uint32_t i = 0, n = list_n(entry_list(e)); i < n; i++)
            if (!expired(s, el[i].access, now)) return true;
        return false;
    }
    case EDDY_STATE_MAP:
        for (uint32_t i = 0; entry_map(e)->slots && i <= entry_map(e)->mask; i++)
            if (entry_map(e)->slots[i] && !expired(s, entry_map(e)->slots[i]->access, now))
                return true;
        return false;
    default:
        return !expired(s, e->access, now);
    }
}

int ed_state_for_each(eddy_state *s, ed_state_key_fn fn, void *arg)
{
    return ed_state_for_each_flags(s, 0, fn, arg);
}

int ed_state_for_each_flags(eddy_state *s, unsigned flags, ed_state_key_fn fn, void *arg)
{
    s->err.set = 0;
    if (s->rk) return rk_for_each(s, flags, fn, arg);
    ed_state_backend *b = s->b;
    if (!s->count) return 0;
    /* A snapshot of the entries: fn may add and remove entries (removals are deferred). */
    ed_entry **snap = malloc(s->count * sizeof *snap);
    uint8_t *saved = malloc((size_t)b->klen + b->nslen + 1);
    if (!snap || !saved) {
        free(snap);
        free(saved);
        return oom(s);
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i <= s->mask; i++)
        if (s->slots[i].e) snap[n++] = s->slots[i].e;
    uint32_t sklen = b->klen, snslen = b->nslen;
    int skg = b->key_group;
    if (sklen) memcpy(saved, b->key, sklen);
    if (snslen) memcpy(saved + sklen, b->ns, snslen);

    int64_t now = s->has_ttl ? clock_now(b) : 0;
    int rc = 0;
    s->iterating++;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        ed_entry *e = snap[i];
        if (e->dead) continue;
        if (!(flags & ED_STATE_VISIT_EXPIRED) && !entry_live(s, e, now)) continue;
        ed_state_set_key(b, ed_entry_key(e), e->klen, (int)e->key_group);
        ed_state_set_namespace(b, ed_entry_ns(e), e->nslen);
        rc = fn(s, ed_entry_key(e), e->klen, ed_entry_ns(e), e->nslen, arg);
    }
    if (--s->iterating == 0) {
        for (ed_entry *d = s->dead, *nx; d; d = nx) {
            nx = d->next_dead;
            entry_release(s, d);
        }
        s->dead = NULL;
    }
    ed_state_set_key(b, saved, sklen, skg);
    ed_state_set_namespace(b, saved + sklen, snslen);
    free(snap);
    free(saved);
    return rc;
}

/* ---- merging namespaces ------------------------------------------------------------------ */

/* The entry of (current key, ns), or NULL. */
static ed_entry *find_ns(eddy_state *s, const uint8_t *ns, uint32_t nslen)
{
    ed_state_backend *b = s->b;
    return table_find(s, b->key, b->klen, ns, nslen, hash_of(b->key, b->klen, ns, nslen));
}

static int merge_rows(eddy_state *s, const eddy_row *a, const eddy_row *b_)
{
    if (s->kind == EDDY_STATE_REDUCING) return call_reduce(s, a, b_);
    eddy_rb_reset(s->rb_a);
    if (((eddy_agg_merge_fn)s->merge.ptr)(s->b->ctx, a, b_, s->rb_a) < 0)
        return fail(s, "state '%s': aggregate function '%s' failed", s->name, s->merge.name);
    return 0;
}

static int merge_into(eddy_state *s, const uint8_t *target, uint32_t tlen,
                      const uint8_t *const *sources, const uint32_t *slens, int n, int64_t now)
{
    ed_state_backend *b = s->b;
    ed_spool *pool = &b->pool;
    ed_entry *te = find_ns(s, target, tlen);
    bool have = false; /* s->acc holds the merged sources (reducing, aggregating) */
    int64_t acc_access = now;
    for (int i = 0; i < n; i++) {
        if (slens[i] == tlen && bytes_eq(sources[i], target, tlen)) continue;
        ed_entry *se = find_ns(s, sources[i], slens[i]);
        if (!se) continue;
        switch (s->kind) {
        case EDDY_STATE_LIST: {
            if (!te &&
                !(te = table_insert(s, b->key, b->klen, target, tlen,
                                    hash_of(b->key, b->klen, target, tlen), b->key_group, 0)))
                return oom(s);
            ed_list *sl = entry_list(se);
            ed_list *tl = entry_list(te);
            if (buf_reserve(pool, &tl->data, (size_t)tl->data.len + sl->data.len) ||
                buf_reserve(pool, &tl->els, (size_t)tl->els.len + sl->els.len))
                return oom(s);
            ed_list_el *tel = (ed_list_el *)(tl->els.p + tl->els.len);
            const ed_list_el *sel = list_els(sl);
            for (uint32_t k = 0, m = list_n(sl); k < m; k++) {
                tel[k] = sel[k]; /* event timestamps and TTL access times kept */
                tel[k].off += tl->data.len;
            }
            memcpy(tl->data.p + tl->data.len, sl->data.p, sl->data.len);
            tl->data.len += sl->data.len;
            tl->els.len += sl->els.len;
            tl->stamp = ++b->stamp;
            break;
        }
        case EDDY_STATE_VALUE:
            if (!combine_base(s, te, now) && combine_base(s, se, now)) {
                if (!te && !(te = table_insert(s, b->key, b->klen, target, tlen,
                                               hash_of(b->key, b->klen, target, tlen), b->key_group,
                                               entry_row(se)->len)))
                    return oom(s);
                if (row_set(pool, te, entry_row(se)->p, entry_row(se)->len)) return oom(s);
                te->access = se->access;
            }
            break;
        default: { /* REDUCING, AGGREGATING */
            const eddy_row *r = combine_base(s, se, now);
            if (!r) break;
            if (have) {
                if (merge_rows(s, (const eddy_row *)s->acc.p, r)) return -1;
                r = eddy_rb_row(s->rb_a);
                acc_access = now;
            } else {
                acc_access = se->access;
            }
            if (buf_set(pool, &s->acc, r, eddy_row_size(r))) return oom(s);
            have = true;
            break;
        }
        }
        entry_delete(s, se);
    }
    if (!have) return 0;
    const eddy_row *base = combine_base(s, te, now);
    const eddy_row *r = (const eddy_row *)s->acc.p;
    if (base) {
        if (merge_rows(s, base, r)) return -1;
        r = eddy_rb_row(s->rb_a);
        acc_access = now;
    }
    uint32_t rsize = eddy_row_size(r);
    if (!te && !(te = table_insert(s, b->key, b->klen, target, tlen,
                                   hash_of(b->key, b->klen, target, tlen), b->key_group, rsize)))
        return oom(s);
    if (row_set(pool, te, r, rsize)) return oom(s);
    te->access = acc_access;
    return 0;
}

int ed_state_merge_namespaces(eddy_state *s, const uint8_t *target, uint32_t tlen,
                              const uint8_t *const *sources, const uint32_t *slens, int n,
                              ed_err *err)
{
    s->err.set = 0;
    int rc = 0;
    if (s->kind == EDDY_STATE_MAP)
        rc = fail(s, "map state '%s' cannot merge namespaces", s->name);
    else if (s->kind == EDDY_STATE_AGGREGATING && !s->merge.ptr)
        rc = fail(s, "aggregating state '%s' has no merge function (needed by merging windows)",
                  s->name);
    else if (n > 0) {
        int64_t now = s->has_ttl ? clock_now(s->b) : 0;
        if (s->rk) rk_preload(s, target, tlen, sources, slens, n);
        rc = merge_into(s, target, tlen, sources, slens, n, now);
        if (s->rk && !rc) rc = rk_sync_merged(s, target, tlen, sources, slens, n);
        s->cache_ver = 0; /* entries of the current key came and went */
        s->cache = NULL;
        s->view_ver = 0;
    }
    if (rc) ed_err_set(err, "%s", s->err.msg);
    return rc;
}

/* ---- snapshots ---------------------------------------------------------------------------
 * Raw access for snapshot.c: a snapshot reads entries as they are stored (no TTL touch, no
 * cleanup on read), and a restore puts them back as they were, access times included. */

ed_entry *ed_state_current_entry(eddy_state *s)
{
    return cur(s);
}

eddy_state *ed_state_declare_restored(ed_state_backend *b, const eddy_state_desc *d, ed_err *err)
{
    if (!d->name || !*d->name) {
        ed_err_set(err, "state descriptor has no name");
        return NULL;
    }
    if (d->kind < EDDY_STATE_VALUE || d->kind > EDDY_STATE_AGGREGATING) {
        ed_err_set(err, "state '%s' has an unknown kind %d", d->name, (int)d->kind);
        return NULL;
    }
    eddy_state *s = ed_state_find(b, d->name);
    if (s) return check_redeclare(s, d, err) || check_restore(s, d, s->restored, err) ? NULL : s;
    s = state_new(b, d, true, err);
    if (s && b->rk && ed_rk_cf_open(s, err)) {
        state_free(s);
        return NULL;
    }
    if (s) add_state(b, s);
    return s;
}

ed_entry *ed_state_restore_entry(eddy_state *s, const uint8_t *key, uint32_t klen,
                                 const uint8_t *ns, uint32_t nslen, int key_group, uint32_t room,
                                 bool *existed)
{
    uint32_t h = hash_of(key, klen, ns, nslen);
    ed_entry *e = table_find(s, key, klen, ns, nslen, h);
    *existed = e != NULL;
    if (e) return e;
    s->cache_ver = 0; /* the current (key, namespace) may be the one restored */
    s->view_ver = 0;
    return table_insert(s, key, klen, ns, nslen, h, key_group, room);
}

int ed_state_restore_row(eddy_state *s, ed_entry *e, const eddy_row *r, int64_t access)
{
    if (row_set(&s->b->pool, e, r, eddy_row_size(r))) return -1;
    e->access = access;
    return 0;
}

int ed_state_restore_list_el(eddy_state *s, ed_entry *e, const eddy_row *r, int64_t ts,
                             int64_t access)
{
    return list_append(s, e, r, ts, access);
}

int ed_state_restore_map_entry(eddy_state *s, ed_entry *e, const eddy_row *key,
                               const eddy_row *value, int64_t access, bool *existed)
{
    ed_spool *pool = &s->b->pool;
    ed_map *m = entry_map(e);
    uint32_t klen = map_key_bytes(s, key), slot = 0;
    uint32_t h = ed_key_hash(s->mkey, klen);
    *existed = map_find(m, s->mkey, klen, h, &slot) != NULL;
    if (*existed) return 0;
    ed_mentry *me = map_add(pool, m, s->mkey, klen, h, key);
    if (!me || (value && buf_set(pool, &me->val, value, eddy_row_size(value)))) return -1;
    me->access = access;
    m->version = ++s->b->stamp;
    return 0;
}

/* ---- RocksDB: the working set ------------------------------------------------------------
 * With the RocksDB backend (rocks.h) the table holds the entries of value and list states
 * that the latest calls used, each exactly as stored in RocksDB: a call loads the entry of
 * the current (key, namespace) when it is not there, works on it as the heap backend does,
 * and writes it back (or deletes it) before it returns. So entries may be dropped from
 * the table between any two calls; it is emptied when it reaches RK_WORKING_SET entries. */

#define RK_WORKING_SET 64

/* Encodes a value or list entry as its RocksDB value (rocks.h) into out. */
static void rk_encode(eddy_state *s, const ed_entry *e, ed_strbuf *out)
{
    static const uint8_t zeros[8];
    ed_sb_reset(out);
    if (s->kind == EDDY_STATE_LIST) {
        const ed_list *l = entry_list(e);
        const ed_list_el *el = list_els(l);
        for (uint32_t i = 0, n = list_n(l); i < n; i++) {
            uint32_t h[2] = {el[i].len, 0};
            ed_sb_append(out, &el[i].ts, 8);
            ed_sb_append(out, &el[i].access, 8);
            ed_sb_append(out, h, 8);
            ed_sb_append(out, l->data.p + el[i].off, el[i].len);
            if (el[i].len & 7) ed_sb_append(out, zeros, 8 - (el[i].len & 7));
        }
        return;
    }
    const ed_buf *r = entry_row(e);
    uint32_t h[2] = {r->len, 0};
    ed_sb_append(out, &e->access, 8);
    ed_sb_append(out, h, 8);
    ed_sb_append(out, r->p, r->len);
    if (r->len & 7) ed_sb_append(out, zeros, 8 - (r->len & 7));
}

static ed_strbuf *rk_scratch(eddy_state *s)
{
    return &s->spare_enc;
}

/* Puts the RocksDB value v (n bytes, 8-aligned) into the new entry e. 0, or -1 when it is
 * malformed or memory ran out. */
static int rk_decode(eddy_state *s, ed_entry *e, const uint8_t *v, size_t n)
{
    if (s->kind != EDDY_STATE_LIST) {
        uint32_t len;
        if (n < 16) return fail(s, "state '%s': a malformed RocksDB value (%zu bytes)", s->name, n);
        memcpy(&len, v + 8, 4);
        if (16 + ED_ALIGN8((size_t)len) != n || len < 8)
            return fail(s, "state '%s': a malformed RocksDB value (%zu bytes)", s->name, n);
        if (row_set(&s->b->pool, e, v + 16, len)) return oom(s);
        memcpy(&e->access, v, 8);
        return 0;
    }
    for (size_t at = 0; at < n;) {
        uint32_t len;
        int64_t ts, access;
        if (n - at < 24) return fail(s, "state '%s': a malformed RocksDB list", s->name);
        memcpy(&ts, v + at, 8);
        memcpy(&access, v + at + 8, 8);
        memcpy(&len, v + at + 16, 4);
        if (len < 8 || ED_ALIGN8((size_t)len) > n - at - 24)
            return fail(s, "state '%s': a malformed RocksDB list", s->name);
        if (list_append(s, e, (const eddy_row *)(v + at + 24), ts, access)) return oom(s);
        at += 24 + ED_ALIGN8((size_t)len);
    }
    return 0;
}

static ed_entry *rk_load_at(eddy_state *s, const uint8_t *ns, uint32_t nslen, bool may_evict)
{
    ed_state_backend *b = s->b;
    if (s->kind == EDDY_STATE_MAP) return NULL; /* maps are read entry by entry (rocks.h) */
    uint32_t h = table_hash(b->key_hash, ns, nslen);
    ed_entry *e = table_find(s, b->key, b->klen, ns, nslen, h);
    if (e && e->key_group == (uint32_t)b->key_group) return e;
    if (e) entry_delete(s, e); /* the same bytes in another key group: another entry */
    if (may_evict && s->count >= RK_WORKING_SET && !s->iterating) heap_drop_all(s);
    const uint8_t *v;
    size_t n;
    if (ed_rk_get(s, ns, nslen, &v, &n) <= 0) return NULL;
    uint32_t room = 0;
    if (s->kind != EDDY_STATE_LIST && n >= 16) memcpy(&room, v + 8, 4);
    e = table_insert(s, b->key, b->klen, ns, nslen, h, b->key_group, room);
    if (!e) {
        oom(s);
        return NULL;
    }
    if (rk_decode(s, e, v, n)) {
        table_remove(s, e);
        entry_release(s, e);
        return NULL;
    }
    return e;
}

static ed_entry *rk_load(eddy_state *s, const uint8_t *ns, uint32_t nslen)
{
    return rk_load_at(s, ns, nslen, true);
}

static int rk_sync_ns(eddy_state *s, const uint8_t *ns, uint32_t nslen)
{
    ed_state_backend *b = s->b;
    ed_entry *e = table_find(s, b->key, b->klen, ns, nslen, table_hash(b->key_hash, ns, nslen));
    if (!e) return ed_rk_delete(s, ns, nslen);
    ed_strbuf *out = rk_scratch(s);
    rk_encode(s, e, out);
    return ed_rk_put(s, ns, nslen, out->data, out->len);
}

/* An add is a merge that appends the element, without reading the list; a list in the
 * working set gets it too. */
static int rk_list_add(eddy_state *s, const eddy_row *value, int64_t ts)
{
    ed_state_backend *b = s->b;
    int64_t now = 0;
    if (s->has_ttl) {
        now = clock_now(b);
        ed_rk_publish_now(b->rk, now);
    }
    /* encoded first: value may be a row of this very list, which the append moves */
    static const uint8_t zeros[8];
    ed_strbuf *out = rk_scratch(s);
    uint32_t len = eddy_row_size(value), h[2] = {len, 0};
    ed_sb_reset(out);
    ed_sb_append(out, &ts, 8);
    ed_sb_append(out, &now, 8);
    ed_sb_append(out, h, 8);
    ed_sb_append(out, value, len);
    if (len & 7) ed_sb_append(out, zeros, 8 - (len & 7));
    ed_entry *e = table_find(s, b->key, b->klen, b->ns, b->nslen, cur_hash(b));
    if (e && list_append(s, e, value, ts, now)) return oom(s);
    if (!e) s->cache_ver = 0; /* the cache may say there is no list */
    return ed_rk_merge(s, out->data, out->len);
}

static void rk_clear(eddy_state *s)
{
    ed_state_backend *b = s->b;
    if (s->kind == EDDY_STATE_MAP) {
        ed_rk_map_clear(s);
        return;
    }
    ed_entry *e = table_find(s, b->key, b->klen, b->ns, b->nslen, cur_hash(b));
    if (e) entry_delete(s, e);
    s->cache = NULL;
    s->cache_ver = b->version;
    s->cache_kver = b->key_version;
    ed_rk_delete(s, b->ns, b->nslen);
}

static bool same_place(const ed_rk_item *a, const ed_rk_item *b_)
{
    return a->kg == b_->kg && a->klen == b_->klen && a->nslen == b_->nslen &&
           bytes_eq(a->key, b_->key, a->klen) && bytes_eq(a->ns, b_->ns, a->nslen);
}

/* Walks the (key, namespace) places of s: fn gets each once, with its bytes in place. */
typedef int (*rk_place_fn)(eddy_state *s, const ed_rk_item *it, void *arg);
static int rk_places(eddy_state *s, rk_place_fn fn, void *arg)
{
    ed_rk_cursor *c = ed_rk_cursor_open(s, 0, 0x10000);
    ed_rk_item it, prev = {0};
    uint8_t *held = NULL;
    size_t hcap = 0;
    int rc, r = 0;
    while (r == 0 && (rc = ed_rk_cursor_next(c, &it)) == 1) {
        if (prev.key && same_place(&prev, &it)) continue;
        size_t need = (size_t)it.klen + it.nslen + 1;
        if (need > hcap) {
            hcap = 2 * need;
            held = ed_xrealloc(held, hcap);
        }
        memcpy(held, it.key, it.klen);
        memcpy(held + it.klen, it.ns, it.nslen);
        prev = it;
        prev.key = held;
        prev.ns = held + it.klen;
        r = fn(s, &prev, arg);
    }
    if (r == 0 && rc < 0) r = -1;
    free(held);
    ed_rk_cursor_close(c);
    return r;
}

static int count_place(eddy_state *s, const ed_rk_item *it, void *arg)
{
    ++*(size_t *)arg;
    return 0;
}

static size_t rk_entries(eddy_state *s)
{
    size_t n = 0;
    rk_places(s, count_place, &n);
    return n;
}

typedef struct rk_each {
    unsigned flags;
    ed_state_key_fn fn;
    void *arg;
    int64_t now;
} rk_each;

static int each_place(eddy_state *s, const ed_rk_item *it, void *arg)
{
    rk_each *a = arg;
    ed_state_backend *b = s->b;
    ed_state_set_key(b, it->key, it->klen, it->kg);
    ed_state_set_namespace(b, it->ns, it->nslen);
    if (!(a->flags & ED_STATE_VISIT_EXPIRED)) {
        if (s->kind == EDDY_STATE_MAP) {
            if (!ed_rk_map_any(s, true)) return 0;
        } else {
            ed_entry *e = cur(s);
            if (!e || !entry_live(s, e, a->now)) return 0;
        }
    }
    return a->fn(s, it->key, it->klen, it->ns, it->nslen, a->arg);
}

/* ed_state_for_each over RocksDB: the places as they were when the walk began. */
static int rk_for_each(eddy_state *s, unsigned flags, ed_state_key_fn fn, void *arg)
{
    ed_state_backend *b = s->b;
    uint32_t sklen = b->klen, snslen = b->nslen;
    int skg = b->key_group;
    uint8_t *saved = ed_xmalloc((size_t)sklen + snslen + 1);
    if (sklen) memcpy(saved, b->key, sklen);
    if (snslen) memcpy(saved + sklen, b->ns, snslen);
    rk_each a = {flags, fn, arg, s->has_ttl ? clock_now(b) : 0};
    int rc = rk_places(s, each_place, &a);
    ed_state_set_key(b, saved, sklen, skg);
    ed_state_set_namespace(b, saved + sklen, snslen);
    free(saved);
    return rc;
}

/* Loads the target and the sources of a merge into the working set (none is evicted). */
static void rk_preload(eddy_state *s, const uint8_t *target, uint32_t tlen,
                       const uint8_t *const *sources, const uint32_t *slens, int n)
{
    if (s->count >= RK_WORKING_SET && !s->iterating) heap_drop_all(s);
    rk_load_at(s, target, tlen, false);
    for (int i = 0; i < n; i++) rk_load_at(s, sources[i], slens[i], false);
}

static int rk_sync_merged(eddy_state *s, const uint8_t *target, uint32_t tlen,
                          const uint8_t *const *sources, const uint32_t *slens, int n)
{
    int rc = rk_sync_ns(s, target, tlen);
    for (int i = 0; i < n && !rc; i++)
        if (!(slens[i] == tlen && bytes_eq(sources[i], target, tlen)))
            rc = rk_sync_ns(s, sources[i], slens[i]);
    return rc;
}

/* Restores into RocksDB (snapshot.c): the entry e, filled from a snapshot in the working
 * set, is written to RocksDB (batched until ed_rk_flush) and leaves the working set. */
int ed_state_rk_store_restored(eddy_state *s, ed_entry *e)
{
    ed_strbuf *out = rk_scratch(s);
    rk_encode(s, e, out);
    int rc = ed_rk_put_at(s, (int)e->key_group, ed_entry_key(e), e->klen, ed_entry_ns(e),
                          e->nslen, NULL, 0, out->data, out->len);
    entry_delete(s, e);
    s->cache_ver = 0;
    return rc;
}

/* A map entry restored into RocksDB: key row and value row (NULL: a NULL value). */
int ed_state_rk_store_map_entry(eddy_state *s, int kg, const uint8_t *key, uint32_t klen,
                                const uint8_t *ns, uint32_t nslen, const eddy_row *mkey,
                                const eddy_row *value, int64_t access)
{
    uint32_t mklen = map_key_bytes(s, mkey);
    ed_strbuf *out = rk_scratch(s);
    ed_rk_map_encode(out, access, mkey, value);
    return ed_rk_put_at(s, kg, key, klen, ns, nslen, s->mkey, mklen, out->data, out->len);
}

void ed_state_drop_working_set(eddy_state *s)
{
    heap_drop_all(s);
}
