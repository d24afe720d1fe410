/*
 * snapshot.c - the backend-neutral snapshot format of keyed state, timers and operator
 * state: writer, checker and reader.
 *
 * Why this shape. A savepoint must restore at another parallelism: new subtask i of p
 * owns key groups [ceil(i*m/p), ceil((i+1)*m/p)) and reads that range out of the snapshot
 * of every old subtask whose range overlaps it. So the data is grouped by key group, in
 * ascending order, and an index at the front says where each key group's block lies: a
 * reader takes its range without parsing the rest. Functions (reduce, aggregate) cannot
 * be saved; states are described by name, kind, schemas (canonical text) and TTL, and a
 * restore re-creates them as placeholders that the operator's declaration completes
 * (keyed_state.c, adopt). Rows are relocatable, so they are stored as their bytes.
 *
 * The payload (every integer little-endian; every item starts on an 8-byte boundary,
 * so rows are read where they lie; "bytes" = the bytes, zero-padded to a multiple of 8):
 *
 *   header      8  magic "EDDYSNAP"
 *               u32 version (ED_SNAPSHOT_VERSION), u32 max parallelism
 *               u32 number of states S, u32 number of key-group blocks B
 *   index       B x { u32 key group, u32 0, u64 offset, u64 length }
 *               ascending key groups, blocks in the same order, offsets from the start
 *               of the payload; only non-empty key groups have a block
 *   descriptors S x { u32 kind, u32 flags, i64 ttl_ms, u32 ttl update, u32 ttl visibility,
 *                     i32 cleanup_incremental, u32 0,
 *                     5 x { u32 length, u32 0, bytes }: name, schema, key_schema,
 *                     acc_schema, out_schema (canonical text; empty when not used) }
 *               flags: 1 operator list, 2 UNION mode, 4 broadcast map,
 *                      8 ttl.cleanup_full_snapshot, 16 ttl.keep_expired_on_read
 *   blocks      { u32 key group, u32 number of sections,
 *                 sections: { u32 state (descriptor index), u32 number of entries,
 *                             entries: { u32 key length, u32 namespace length,
 *                                        key bytes, namespace bytes, body } },
 *                 u32 number of timers, u32 0,
 *                 timers: { i64 time, u32 domain (0 event, 1 processing), u32 0,
 *                           u32 key length, u32 namespace length, key bytes, ns bytes } }
 *   body by kind
 *     VALUE, REDUCING, AGGREGATING  i64 last access, u32 row length, u32 0, row
 *                                   (AGGREGATING: the accumulator, acc_schema)
 *     LIST   u32 n > 0, u32 0, n x { i64 event timestamp, i64 last access,
 *                                    u32 row length, u32 0, row }
 *     MAP    u32 n > 0, u32 0, n x { i64 last access, u32 key row length,
 *                                    u32 value row length (0: a NULL value), key row,
 *                                    value row }
 *
 * Timers come in firing order per domain (event time first), so timers of equal time keep
 * their order within a key group. Last-access times are the backend clock's milliseconds
 * and are kept as they are; cleanup_full_snapshot leaves expired values out (an entry
 * left with none is left out whole), as Flink's full-snapshot cleanup.
 *
 * Reading trusts nothing: every length and count is checked against what is left of the
 * payload (or of the block) before it is used, nothing is allocated from a count that the
 * bytes could not hold, and every row is checked against its schema
 * (ed_row_validate_schema) before a state sees it. A restore makes two passes: the first
 * checks the whole snapshot, declaring its states in a scratch backend (so a descriptor
 * is judged by the same code as ed_state_get), the second applies it; a malformed
 * snapshot therefore leaves the target untouched.
 */
#include "snapshot.h"

#include "rocks.h"
#include "state_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_SIZE 24u
#define INDEX_ENTRY 24u
#define DESC_MIN (32u + 5u * 8u) /* a descriptor with five empty strings */
#define BLOCK_MIN 16u            /* key group, sections, timers: no entries */
#define MAX_PARALLELISM 32768    /* Flink's upper bound for max parallelism */

#define F_OP_LIST 1u
#define F_UNION 2u
#define F_BROADCAST 4u
#define F_CLEANUP_FULL 8u
#define F_KEEP_EXPIRED 16u
#define F_ALL 31u

/* ---- writing --------------------------------------------------------------------------- */

static void put_u32(ed_strbuf *o, uint32_t v)
{
    ed_sb_append(o, &v, 4); /* little-endian targets */
}
static void put_i64(ed_strbuf *o, int64_t v)
{
    ed_sb_append(o, &v, 8);
}
static void put_u64(ed_strbuf *o, uint64_t v)
{
    ed_sb_append(o, &v, 8);
}
static void put_raw(ed_strbuf *o, const void *p, size_t n)
{
    static const uint8_t zeros[8];
    ed_sb_append(o, p, n);
    if (n & 7) ed_sb_append(o, zeros, 8 - (n & 7));
}
/* { u32 length, u32 0, bytes } */
static void put_str(ed_strbuf *o, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_u32(o, (uint32_t)n);
    put_u32(o, 0);
    put_raw(o, s, n);
}
static void patch_u32(ed_strbuf *o, size_t at, uint32_t v)
{
    memcpy(o->data + at, &v, 4);
}
static void patch_u64(ed_strbuf *o, size_t at, uint64_t v)
{
    memcpy(o->data + at, &v, 8);
}
static void truncate_to(ed_strbuf *o, size_t len)
{
    o->len = len;
    if (o->cap) o->data[len] = '\0';
}

/* What goes into the blocks: an entry of a state, or a timer. */
typedef struct rec {
    uint32_t kg;
    uint32_t state; /* index into b->states; UINT32_MAX for a timer */
    const ed_entry *e;
    ed_timer t; /* points into the timer service, which does not change meanwhile */
    uint32_t domain;
} rec;

typedef struct writer {
    ed_state_backend *b;
    uint32_t maxp;
    rec *recs;
    size_t n, cap;
    uint32_t state; /* the state being collected */
    ed_err *err;
} writer;

static int push(writer *w, rec r)
{
    if (r.kg >= w->maxp)
        return ed_err_set(w->err, "state snapshot: %s has key group %u, outside [0, %u)",
                          r.state == UINT32_MAX ? "a timer" : w->b->states[r.state]->name, r.kg,
                          w->maxp);
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 256;
        rec *nr = realloc(w->recs, cap * sizeof *nr);
        if (!nr) return ed_err_set(w->err, "state snapshot: out of memory");
        w->recs = nr;
        w->cap = cap;
    }
    w->recs[w->n++] = r;
    return 0;
}

static int collect_entry(eddy_state *s, const uint8_t *key, uint32_t klen, const uint8_t *ns,
                         uint32_t nslen, void *arg)
{
    writer *w = arg;
    const ed_entry *e = ed_state_current_entry(s);
    ed_assert(e != NULL); /* ed_state_for_each makes each entry current */
    return push(w, (rec){.kg = e->key_group, .state = w->state, .e = e});
}

static int collect_event_timer(const ed_timer *t, void *arg)
{
    return push(arg, (rec){.kg = (uint32_t)t->key_group, .state = UINT32_MAX, .t = *t});
}
static int collect_proc_timer(const ed_timer *t, void *arg)
{
    return push(arg,
                (rec){.kg = (uint32_t)t->key_group, .state = UINT32_MAX, .t = *t, .domain = 1});
}

static bool cleans_snapshots(const eddy_state *s)
{
    return s->has_ttl && s->ttl.cleanup_full_snapshot;
}

static void put_descriptor(ed_strbuf *o, const eddy_state *s)
{
    uint32_t flags = (s->op_list ? F_OP_LIST : 0) |
                     (s->op_list && s->mode == EDDY_OP_STATE_UNION ? F_UNION : 0) |
                     (s->broadcast ? F_BROADCAST : 0) |
                     (s->ttl.cleanup_full_snapshot ? F_CLEANUP_FULL : 0) |
                     (s->ttl.keep_expired_on_read ? F_KEEP_EXPIRED : 0);
    put_u32(o, (uint32_t)s->kind);
    put_u32(o, flags);
    put_i64(o, s->ttl.ttl_ms);
    put_u32(o, (uint32_t)s->ttl.update);
    put_u32(o, (uint32_t)s->ttl.visibility);
    put_u32(o, (uint32_t)s->ttl.cleanup_incremental);
    put_u32(o, 0);
    put_str(o, s->name);
    put_str(o, eddy_schema_text(s->schema));
    put_str(o, s->key_schema ? eddy_schema_text(s->key_schema) : NULL);
    put_str(o, s->acc_schema ? eddy_schema_text(s->acc_schema) : NULL);
    put_str(o, s->out_schema ? eddy_schema_text(s->out_schema) : NULL);
}

static void put_row(ed_strbuf *o, const void *row, uint32_t len)
{
    put_u32(o, len);
    put_u32(o, 0);
    put_raw(o, row, len);
}

/* Writes entry e of s; false (nothing written) when cleanup left nothing of it. */
static bool put_entry(ed_strbuf *o, eddy_state *s, const ed_entry *e)
{
    bool clean = cleans_snapshots(s);
    size_t start = o->len;
    put_u32(o, e->klen);
    put_u32(o, e->nslen);
    put_raw(o, ed_entry_key(e), e->klen);
    put_raw(o, ed_entry_ns(e), e->nslen);
    uint32_t n = 0;
    size_t count_at = o->len;
    switch (s->kind) {
    case EDDY_STATE_LIST: {
        const ed_list *l = entry_list(e);
        const ed_list_el *el = (const ed_list_el *)l->els.p;
        put_u64(o, 0);
        for (uint32_t i = 0, len = l->els.len / (uint32_t)sizeof *el; i < len; i++) {
            if (clean && ed_state_ttl_expired(s, el[i].access)) continue;
            put_i64(o, el[i].ts);
            put_i64(o, el[i].access);
            put_row(o, l->data.p + el[i].off, el[i].len);
            n++;
        }
        break;
    }
    case EDDY_STATE_MAP: {
        const ed_map *m = entry_map(e);
        put_u64(o, 0);
        for (uint32_t i = 0; m->slots && i <= m->mask; i++) {
            const ed_mentry *me = m->slots[i];
            if (!me || (clean && ed_state_ttl_expired(s, me->access))) continue;
            put_i64(o, me->access);
            put_u32(o, me->rlen);
            put_u32(o, me->val.len);
            put_raw(o, (const uint8_t *)me->words + me->klen, me->rlen);
            put_raw(o, me->val.p, me->val.len);
            n++;
        }
        break;
    }
    default: /* VALUE, REDUCING, AGGREGATING */
        if (clean && ed_state_ttl_expired(s, e->access)) break;
        put_i64(o, e->access);
        put_row(o, entry_row(e)->p, entry_row(e)->len);
        n = 1;
        break;
    }
    if (!n) {
        truncate_to(o, start);
        return false;
    }
    if (s->kind == EDDY_STATE_LIST || s->kind == EDDY_STATE_MAP) patch_u32(o, count_at, n);
    return true;
}

static void put_timer(ed_strbuf *o, const rec *r)
{
    put_i64(o, r->t.time);
    put_u32(o, r->domain);
    put_u32(o, 0);
    put_u32(o, r->t.klen);
    put_u32(o, r->t.nslen);
    put_raw(o, r->t.key, r->t.klen);
    put_raw(o, r->t.ns, r->t.nslen);
}

/* Writes the block of recs[from, to) (one key group); false when nothing was left in it. */
static bool put_block(ed_strbuf *o, ed_state_backend *b, const rec *recs, size_t from, size_t to)
{
    size_t start = o->len;
    put_u32(o, recs[from].kg);
    put_u32(o, 0);
    uint32_t nsections = 0, ntimers = 0;
    size_t i = from;
    while (i < to && recs[i].state != UINT32_MAX) {
        uint32_t st = recs[i].state, n = 0;
        size_t sec = o->len;
        put_u32(o, st);
        put_u32(o, 0);
        for (; i < to && recs[i].state == st; i++)
            n += put_entry(o, b->states[st], recs[i].e);
        if (n) {
            patch_u32(o, sec + 4, n);
            nsections++;
        } else {
            truncate_to(o, sec);
        }
    }
    size_t timers_at = o->len;
    put_u64(o, 0);
    for (; i < to; i++, ntimers++) {
        ed_assert(recs[i].state == UINT32_MAX); /* entries first, then timers */
        put_timer(o, &recs[i]);
    }
    if (!nsections && !ntimers) {
        truncate_to(o, start);
        return false;
    }
    patch_u32(o, start + 4, nsections);
    patch_u32(o, timers_at, ntimers);
    return true;
}

/* Sets the number of blocks and, when fewer than the nkg index entries reserved at
 * `index` were used, closes the gap. */
static void close_index(ed_strbuf *out, size_t base, size_t index, size_t nkg, uint32_t nblocks)
{
    patch_u32(out, base + 20, nblocks);
    if (nblocks >= nkg) return;
    size_t gap = (nkg - nblocks) * INDEX_ENTRY, from = index + nkg * INDEX_ENTRY;
    memmove(out->data + from - gap, out->data + from, out->len - from);
    truncate_to(out, out->len - gap);
    for (uint32_t k = 0; k < nblocks; k++) {
        uint64_t off;
        memcpy(&off, out->data + index + (size_t)k * INDEX_ENTRY + 8, 8);
        patch_u64(out, index + (size_t)k * INDEX_ENTRY + 8, off - gap);
    }
}

/* recs sorted by key group, stably (entries by state, then timers in firing order). */
static int sort_by_key_group(writer *w, size_t *nkg)
{
    size_t *start = calloc((size_t)w->maxp + 1, sizeof *start);
    rec *sorted = w->n ? malloc(w->n * sizeof *sorted) : NULL;
    if (!start || (w->n && !sorted)) {
        free(start);
        free(sorted);
        return ed_err_set(w->err, "state snapshot: out of memory");
    }
    for (size_t i = 0; i < w->n; i++)
        start[w->recs[i].kg + 1]++;
    *nkg = 0;
    for (uint32_t k = 0; k < w->maxp; k++) {
        *nkg += start[k + 1] != 0;
        start[k + 1] += start[k];
    }
    for (size_t i = 0; i < w->n; i++)
        sorted[start[w->recs[i].kg]++] = w->recs[i];
    free(start);
    free(w->recs);
    w->recs = sorted;
    w->cap = w->n;
    return 0;
}

static int rk_snapshot(ed_state_backend *b, ed_timer_service *timers, bool entries, ed_strbuf *out,
                       ed_err *err);

int ed_state_snapshot(ed_state_backend *b, ed_timer_service *timers, ed_strbuf *out, ed_err *err)
{
    if (b->rk) return rk_snapshot(b, timers, true, out, err);
    writer w = {.b = b, .maxp = (uint32_t)b->max_parallelism, .err = err};
    for (uint32_t i = 0; i < b->nstates; i++) {
        eddy_state *s = b->states[i];
        w.state = i;
        unsigned flags = cleans_snapshots(s) ? 0 : ED_STATE_VISIT_EXPIRED;
        if (ed_state_for_each_flags(s, flags, collect_entry, &w)) {
            if (!err->set) ed_err_set(err, "state snapshot: %s", ed_state_error(s));
            free(w.recs);
            return -1;
        }
    }
    if (timers && (ed_timers_for_each(timers, EDDY_EVENT_TIME, collect_event_timer, &w) ||
                   ed_timers_for_each(timers, EDDY_PROCESSING_TIME, collect_proc_timer, &w))) {
        if (!err->set) ed_err_set(err, "state snapshot: timers: out of memory");
        free(w.recs);
        return -1;
    }
    size_t nkg = 0;
    if (sort_by_key_group(&w, &nkg)) {
        free(w.recs);
        return -1;
    }

    size_t base = out->len;
    ed_sb_append(out, ED_SNAPSHOT_MAGIC, 8);
    put_u32(out, ED_SNAPSHOT_VERSION);
    put_u32(out, w.maxp);
    put_u32(out, b->nstates);
    put_u32(out, 0); /* blocks: patched */
    size_t index = out->len;
    ed_sb_reserve(out, nkg * INDEX_ENTRY);
    memset(out->data + index, 0, nkg * INDEX_ENTRY);
    truncate_to(out, index + nkg * INDEX_ENTRY);
    for (uint32_t i = 0; i < b->nstates; i++)
        put_descriptor(out, b->states[i]);

    uint32_t nblocks = 0;
    for (size_t i = 0, j; i < w.n; i = j) {
        for (j = i + 1; j < w.n && w.recs[j].kg == w.recs[i].kg; j++) {
        }
        size_t at = out->len;
        if (!put_block(out, b, w.recs, i, j)) continue;
        size_t ie = index + (size_t)nblocks++ * INDEX_ENTRY;
        patch_u32(out, ie, w.recs[i].kg);
        patch_u64(out, ie + 8, at - base);
        patch_u64(out, ie + 16, out->len - at);
    }
    free(w.recs);
    close_index(out, base, index, nkg, nblocks);
    return 0;
}

/* ---- writing from RocksDB -----------------------------------------------------------------
 * The entries come out of each column family in key-group order, one key group at a time,
 * so nothing but the timers is collected first; RocksDB values are snapshot bodies
 * (rocks.h), copied as they are. */

typedef struct rk_src {
    eddy_state *s;
    ed_rk_cursor *c;
    ed_rk_item it;
    int have; /* 1: `it` is the next item; 0: the end; -1: an error */
    uint8_t *place; /* the current entry's key and namespace bytes */
    size_t pcap;
} rk_src;

static void rk_advance(rk_src *r)
{
    r->have = ed_rk_cursor_next(r->c, &r->it);
}

/* Writes the entry at r's current item (a map: every item of its place) and advances past
 * it; false when cleanup left nothing of it. */
static bool rk_put_entry(ed_strbuf *o, rk_src *r)
{
    eddy_state *s = r->s;
    bool clean = cleans_snapshots(s);
    size_t start = o->len;
    uint32_t klen = r->it.klen, nslen = r->it.nslen;
    int kg = r->it.kg;
    if ((size_t)klen + nslen > r->pcap) {
        r->pcap = 2 * ((size_t)klen + nslen);
        r->place = ed_xrealloc(r->place, r->pcap);
    }
    memcpy(r->place, r->it.key, klen);
    memcpy(r->place + klen, r->it.ns, nslen);
    put_u32(o, klen);
    put_u32(o, nslen);
    put_raw(o, r->place, klen);
    put_raw(o, r->place + klen, nslen);
    uint32_t n = 0;
    switch (s->kind) {
    case EDDY_STATE_LIST: {
        size_t count_at = o->len;
        put_u64(o, 0);
        const uint8_t *v = r->it.val;
        for (size_t at = 0; at + 24 <= r->it.vlen;) {
            int64_t access;
            uint32_t len;
            memcpy(&access, v + at + 8, 8);
            memcpy(&len, v + at + 16, 4);
            size_t el = 24 + ED_ALIGN8((size_t)len);
            if (el > r->it.vlen - at) break;
            if (!(clean && ed_state_ttl_expired(s, access))) {
                ed_sb_append(o, v + at, el);
                n++;
            }
            at += el;
        }
        patch_u32(o, count_at, n);
        rk_advance(r);
        break;
    }
    case EDDY_STATE_MAP: {
        size_t count_at = o->len;
        put_u64(o, 0);
        do {
            int64_t access;
            memcpy(&access, r->it.val, 8);
            if (r->it.vlen >= 16 && !(clean && ed_state_ttl_expired(s, access))) {
                ed_sb_append(o, r->it.val, r->it.vlen);
                n++;
            }
            rk_advance(r);
        } while (r->have == 1 && r->it.kg == kg && r->it.klen == klen && r->it.nslen == nslen &&
                 !memcmp(r->it.key, r->place, klen) && !memcmp(r->it.ns, r->place + klen, nslen));
        patch_u32(o, count_at, n);
        break;
    }
    default: {
        int64_t access;
        memcpy(&access, r->it.val, 8);
        if (r->it.vlen >= 16 && !(clean && ed_state_ttl_expired(s, access))) {
            ed_sb_append(o, r->it.val, r->it.vlen);
            n = 1;
        }
        rk_advance(r);
        break;
    }
    }
    if (!n) {
        truncate_to(o, start);
        return false;
    }
    return true;
}

int ed_state_snapshot_meta(ed_state_backend *b, ed_timer_service *timers, ed_strbuf *out,
                           ed_err *err)
{
    ed_assert(b->rk);
    return rk_snapshot(b, timers, false, out, err);
}

static int rk_snapshot(ed_state_backend *b, ed_timer_service *timers, bool entries, ed_strbuf *out,
                       ed_err *err)
{
    if (ed_rk_flush(b->rk, err)) return -1;
    writer w = {.b = b, .maxp = (uint32_t)b->max_parallelism, .err = err};
    size_t nkg = 0;
    if (timers && (ed_timers_for_each(timers, EDDY_EVENT_TIME, collect_event_timer, &w) ||
                   ed_timers_for_each(timers, EDDY_PROCESSING_TIME, collect_proc_timer, &w))) {
        if (!err->set) ed_err_set(err, "state snapshot: timers: out of memory");
        free(w.recs);
        return -1;
    }
    if (sort_by_key_group(&w, &nkg)) {
        free(w.recs);
        return -1;
    }
    rk_src *src = ed_xcalloc(b->nstates ? b->nstates : 1, sizeof *src);
    for (uint32_t i = 0; i < b->nstates; i++) {
        src[i].s = b->states[i];
        if (!entries) continue; /* have 0: nothing */
        src[i].c = ed_rk_cursor_open(b->states[i], 0, (int)w.maxp);
        rk_advance(&src[i]);
    }
    size_t base = out->len;
    ed_sb_append(out, ED_SNAPSHOT_MAGIC, 8);
    put_u32(out, ED_SNAPSHOT_VERSION);
    put_u32(out, w.maxp);
    put_u32(out, b->nstates);
    put_u32(out, 0); /* blocks: patched */
    size_t index = out->len;
    nkg = w.maxp; /* at most one block per key group */
    ed_sb_reserve(out, nkg * INDEX_ENTRY);
    memset(out->data + index, 0, nkg * INDEX_ENTRY);
    truncate_to(out, index + nkg * INDEX_ENTRY);
    for (uint32_t i = 0; i < b->nstates; i++)
        put_descriptor(out, b->states[i]);

    uint32_t nblocks = 0;
    size_t ti = 0;
    int rc = 0;
    for (uint32_t kg = 0; kg < w.maxp && !rc; kg++) {
        size_t at = out->len;
        put_u32(out, kg);
        put_u32(out, 0);
        uint32_t nsections = 0, ntimers = 0;
        for (uint32_t i = 0; i < b->nstates; i++) {
            rk_src *r = &src[i];
            if (r->have != 1 || (uint32_t)r->it.kg != kg) continue;
            size_t sec = out->len;
            uint32_t n = 0;
            put_u32(out, i);
            put_u32(out, 0);
            while (r->have == 1 && (uint32_t)r->it.kg == kg) n += rk_put_entry(out, r);
            if (n) {
                patch_u32(out, sec + 4, n);
                nsections++;
            } else {
                truncate_to(out, sec);
            }
        }
        size_t timers_at = out->len;
        put_u64(out, 0);
        for (; ti < w.n && w.recs[ti].kg == kg; ti++, ntimers++) put_timer(out, &w.recs[ti]);
        for (uint32_t i = 0; i < b->nstates; i++)
            if (src[i].have < 0) {
                rc = ed_err_set(err, "state snapshot: %s", ed_state_error(src[i].s));
                break;
            } else if (src[i].have == 1 && (uint32_t)src[i].it.kg < kg) {
                rc = ed_err_set(err, "state snapshot: state '%s' has key group %d out of order",
                                src[i].s->name, src[i].it.kg);
                break;
            }
        if (!nsections && !ntimers) {
            truncate_to(out, at);
            continue;
        }
        patch_u32(out, at + 4, nsections);
        patch_u32(out, timers_at, ntimers);
        size_t ie = index + (size_t)nblocks++ * INDEX_ENTRY;
        patch_u32(out, ie, kg);
        patch_u64(out, ie + 8, at - base);
        patch_u64(out, ie + 16, out->len - at);
    }
    for (uint32_t i = 0; i < b->nstates; i++) {
        if (!rc && src[i].have == 1)
            rc = ed_err_set(err, "state snapshot: state '%s' has key group %d, outside [0, %u)",
                            src[i].s->name, src[i].it.kg, w.maxp);
        if (src[i].c) ed_rk_cursor_close(src[i].c);
        free(src[i].place);
    }
    free(src);
    free(w.recs);
    if (rc) return -1;
    close_index(out, base, index, nkg, nblocks);
    return 0;
}

int ed_operator_store_snapshot(ed_operator_store *o, ed_strbuf *out, ed_err *err)
{
    return ed_state_snapshot(ed_operator_store_backend(o), NULL, out, err);
}

/* ---- reading --------------------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p; /* the payload, 8-aligned */
    size_t pos, end;  /* offsets into it; end: of the payload or of the current block */
    ed_err *err;
} rd;

static int rd_fail(rd *r, const char *what, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int rd_fail(rd *r, const char *what, size_t at, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ed_err_set(r->err, "state snapshot: %s at offset %zu: %s", what, at, msg);
}

/* n bytes (and their padding) at the cursor, or an error naming what they are. */
static int rd_take(rd *r, const char *what, uint64_t n, const uint8_t **out)
{
    uint64_t padded = (n + 7u) & ~(uint64_t)7u;
    if (padded > r->end - r->pos)
        return rd_fail(r, what, r->pos, "needs %" PRIu64 " bytes, %zu left", padded,
                       r->end - r->pos);
    *out = r->p + r->pos;
    r->pos += (size_t)padded;
    return 0;
}
static int rd_u32(rd *r, const char *what, uint32_t *v)
{
    if (r->end - r->pos < 4)
        return rd_fail(r, what, r->pos, "needs 4 bytes, %zu left", r->end - r->pos);
    memcpy(v, r->p + r->pos, 4);
    r->pos += 4;
    return 0;
}
/* Two u32 in one word. */
static int rd_pair(rd *r, const char *what, uint32_t *a, uint32_t *b)
{
    return rd_u32(r, what, a) || rd_u32(r, what, b) ? -1 : 0;
}
static int rd_i64(rd *r, const char *what, int64_t *v)
{
    if (r->end - r->pos < 8)
        return rd_fail(r, what, r->pos, "needs 8 bytes, %zu left", r->end - r->pos);
    memcpy(v, r->p + r->pos, 8);
    r->pos += 8;
    return 0;
}
static int rd_zero(rd *r, const char *what, uint32_t v, size_t at)
{
    return v ? rd_fail(r, what, at, "reserved word is %u, not 0", v) : 0;
}
/* { u32 length, u32 0, bytes } as a new NUL-terminated string. */
static int rd_str(rd *r, const char *what, char **out)
{
    size_t at = r->pos;
    uint32_t n = 0, z = 0;
    const uint8_t *p = NULL;
    if (rd_pair(r, what, &n, &z) || rd_zero(r, what, z, at) || rd_take(r, what, n, &p)) return -1;
    if (memchr(p, 0, n)) return rd_fail(r, what, at, "contains a NUL byte");
    *out = ed_xstrndup((const char *)p, n);
    return 0;
}

/* A row of `len` bytes at the cursor, valid for schema sc when `check`. */
static int rd_row(rd *r, const char *what, uint32_t len, const eddy_schema *sc, bool check,
                  const eddy_row **out)
{
    size_t at = r->pos;
    const uint8_t *p = NULL;
    if (rd_take(r, what, len, &p)) return -1;
    if (check) {
        ed_err e = {0};
        if (ed_row_validate_schema(sc, p, len, &e)) return rd_fail(r, what, at, "%s", e.msg);
    }
    *out = (const eddy_row *)p;
    return 0;
}

/* Where a pass puts what it reads: the scratch backend of the checking pass, the keyed
 * backend, or the operator store's redistribution. Each sets e and returns -1 to stop;
 * the reader prefixes the place. NULL functions take nothing. */
typedef struct sink sink;
struct sink {
    eddy_state *(*state)(sink *k, const eddy_state_desc *d, uint32_t flags, ed_err *e);
    int (*entry)(sink *k, eddy_state *s, int kg, const uint8_t *key, uint32_t klen,
                 const uint8_t *ns, uint32_t nslen, uint32_t room, ed_err *e);
    int (*row)(sink *k, const eddy_row *r, int64_t access, ed_err *e);
    int (*list_el)(sink *k, const eddy_row *r, int64_t ts, int64_t access, ed_err *e);
    int (*map_el)(sink *k, const eddy_row *key, const eddy_row *value, int64_t access, ed_err *e);
    int (*timer)(sink *k, eddy_time_domain d, int64_t time, const uint8_t *key, uint32_t klen,
                 const uint8_t *ns, uint32_t nslen, int kg, ed_err *e);
    bool check_rows; /* the checking pass */
};

/* Calls sink function fn of k, if any; on failure, the reader's message names the place. */
#define SINK(r, what, at, k, fn, ...)                                                              \
    do {                                                                                           \
        ed_err e_ = {0};                                                                           \
        if ((k)->fn && (k)->fn((k), __VA_ARGS__, &e_) < 0)                                         \
            return rd_fail((r), (what), (at), "%s", e_.set ? e_.msg : "failed");                   \
    } while (0)

static int rd_descriptor(rd *r, sink *k, uint32_t i, eddy_state **out)
{
    size_t at = r->pos;
    char what[64];
    snprintf(what, sizeof what, "descriptor %u", i);
    uint32_t kind = 0, flags = 0, update = 0, visibility = 0, incremental = 0, z = 0;
    eddy_state_desc d = {0};
    char *str[5] = {0};
    int rc = -1;
    if (rd_pair(r, what, &kind, &flags) || rd_i64(r, what, &d.ttl.ttl_ms) ||
        rd_pair(r, what, &update, &visibility) || rd_pair(r, what, &incremental, &z) ||
        rd_zero(r, what, z, at))
        goto out;
    for (int s = 0; s < 5; s++)
        if (rd_str(r, what, &str[s])) goto out;
    if (flags & ~F_ALL) {
        rd_fail(r, what, at, "unknown flags 0x%x", flags);
        goto out;
    }
    d.name = str[0];
    d.kind = (eddy_state_kind)kind;
    d.schema = str[1];
    d.key_schema = *str[2] ? str[2] : NULL;
    d.aggregate.acc_schema = *str[3] ? str[3] : NULL;
    d.aggregate.out_schema = *str[4] ? str[4] : NULL;
    d.ttl.update = (eddy_ttl_update)update;
    d.ttl.visibility = (eddy_ttl_visibility)visibility;
    d.ttl.cleanup_incremental = (int)incremental;
    d.ttl.cleanup_full_snapshot = flags & F_CLEANUP_FULL;
    d.ttl.keep_expired_on_read = flags & F_KEEP_EXPIRED;
    ed_err e = {0};
    *out = k->state(k, &d, flags, &e);
    if (!*out) {
        rd_fail(r, what, at, "%s", e.set ? e.msg : "failed");
        goto out;
    }
    rc = 0;
out:
    for (int s = 0; s < 5; s++)
        free(str[s]);
    return rc;
}

static int rd_entry(rd *r, sink *k, eddy_state *s, int kg)
{
    size_t at = r->pos;
    uint32_t klen = 0, nslen = 0, n = 0, z = 0;
    const uint8_t *key = NULL, *ns = NULL;
    const eddy_row *row = NULL, *val = NULL;
    int64_t access = 0, ts = 0;
    if (rd_pair(r, "entry", &klen, &nslen) || rd_take(r, "entry key", klen, &key) ||
        rd_take(r, "entry namespace", nslen, &ns))
        return -1;
    bool check = k->check_rows;
    switch (s->kind) {
    case EDDY_STATE_LIST:
        if (rd_pair(r, "list", &n, &z) || rd_zero(r, "list", z, r->pos - 4)) return -1;
        if (!n) return rd_fail(r, "list", r->pos - 8, "no elements");
        SINK(r, "list", at, k, entry, s, kg, key, klen, ns, nslen, 0);
        for (uint32_t i = 0; i < n; i++) {
            size_t el = r->pos;
            uint32_t len;
            if (rd_i64(r, "list element", &ts) || rd_i64(r, "list element", &access) ||
                rd_pair(r, "list element", &len, &z) || rd_zero(r, "list element", z, el) ||
                rd_row(r, "list element row", len, s->schema, check, &row))
                return -1;
            SINK(r, "list element", el, k, list_el, row, ts, access);
        }
        return 0;
    case EDDY_STATE_MAP:
        if (rd_pair(r, "map", &n, &z) || rd_zero(r, "map", z, r->pos - 4)) return -1;
        if (!n) return rd_fail(r, "map", r->pos - 8, "no entries");
        SINK(r, "map", at, k, entry, s, kg, key, klen, ns, nslen, 0);
        for (uint32_t i = 0; i < n; i++) {
            size_t el = r->pos;
            uint32_t klen2, vlen;
            if (rd_i64(r, "map entry", &access) || rd_pair(r, "map entry", &klen2, &vlen) ||
                rd_row(r, "map key row", klen2, s->key_schema, check, &row))
                return -1;
            val = NULL;
            if (vlen && rd_row(r, "map value row", vlen, s->schema, check, &val)) return -1;
            SINK(r, "map entry", el, k, map_el, row, val, access);
        }
        return 0;
    default: {
        const eddy_schema *sc = s->kind == EDDY_STATE_AGGREGATING ? s->acc_schema : s->schema;
        uint32_t len;
        if (rd_i64(r, "value", &access) || rd_pair(r, "value", &len, &z) ||
            rd_zero(r, "value", z, r->pos - 4) || rd_row(r, "value row", len, sc, check, &row))
            return -1;
        SINK(r, "value", at, k, entry, s, kg, key, klen, ns, nslen, len);
        SINK(r, "value", at, k, row, row, access);
        return 0;
    }
    }
}

static int rd_block(rd *r, sink *k, eddy_state **states, uint32_t nstates, uint32_t want_kg)
{
    size_t at = r->pos;
    uint32_t kg, nsec, ntimers, z;
    if (rd_pair(r, "block", &kg, &nsec)) return -1;
    if (kg != want_kg)
        return rd_fail(r, "block", at, "holds key group %u, the index says %u", kg, want_kg);
    for (uint32_t i = 0; i < nsec; i++) {
        size_t sec = r->pos;
        uint32_t st, n;
        if (rd_pair(r, "section", &st, &n)) return -1;
        if (st >= nstates) return rd_fail(r, "section", sec, "state %u of %u states", st, nstates);
        if (!n) return rd_fail(r, "section", sec, "no entries");
        for (uint32_t j = 0; j < n; j++)
            if (rd_entry(r, k, states[st], (int)kg)) return -1;
    }
    size_t tat = r->pos;
    if (rd_pair(r, "timers", &ntimers, &z) || rd_zero(r, "timers", z, tat)) return -1;
    for (uint32_t i = 0; i < ntimers; i++) {
        size_t t = r->pos;
        int64_t time = 0;
        uint32_t dom = 0, klen = 0, nslen = 0;
        const uint8_t *key = NULL, *ns = NULL;
        if (rd_i64(r, "timer", &time) || rd_pair(r, "timer", &dom, &z) ||
            rd_zero(r, "timer", z, t) || rd_pair(r, "timer", &klen, &nslen) ||
            rd_take(r, "timer key", klen, &key) || rd_take(r, "timer namespace", nslen, &ns))
            return -1;
        if (dom > 1) return rd_fail(r, "timer", t, "unknown time domain %u", dom);
        SINK(r, "timer", t, k, timer, dom ? EDDY_PROCESSING_TIME : EDDY_EVENT_TIME, time, key, klen,
             ns, nslen, (int)kg);
    }
    if (r->pos != r->end)
        return rd_fail(r, "block", at, "%zu bytes left over after key group %u", r->end - r->pos,
                       kg);
    return 0;
}

/* One pass over the payload p (8-aligned) into k: the descriptors, then the blocks of
 * key groups [first, last]. maxp: the reading backend's max parallelism. */
static int read_pass(const uint8_t *p, size_t len, int maxp, int first, int last, sink *k,
                     ed_err *err)
{
    rd r = {.p = p, .pos = 0, .end = len, .err = err};
    const uint8_t *magic = NULL;
    uint32_t version = 0, smaxp = 0, nstates = 0, nblocks = 0;
    if (rd_take(&r, "header", 8, &magic)) return -1;
    if (memcmp(magic, ED_SNAPSHOT_MAGIC, 8) != 0)
        return rd_fail(&r, "header", 0, "bad magic (not a state snapshot)");
    if (rd_pair(&r, "header", &version, &smaxp) || rd_pair(&r, "header", &nstates, &nblocks))
        return -1;
    if (version != ED_SNAPSHOT_VERSION)
        return rd_fail(&r, "header", 8, "unsupported version %u (this build reads %u)", version,
                       ED_SNAPSHOT_VERSION);
    if (smaxp != (uint32_t)maxp)
        return rd_fail(&r, "header", 12,
                       "taken at max parallelism %u, the backend has %d (key groups cannot be "
                       "reassigned)",
                       smaxp, maxp);
    if (first < 0 || last < first || last >= maxp)
        return ed_err_set(err, "state snapshot: key groups [%d, %d] are not within [0, %d)", first,
                          last, maxp);
    if (nblocks > smaxp || (uint64_t)nblocks * INDEX_ENTRY > len - r.pos)
        return rd_fail(&r, "header", 20, "%u blocks do not fit", nblocks);
    size_t index = r.pos;
    r.pos += (size_t)nblocks * INDEX_ENTRY;
    if (nstates > (len - r.pos) / DESC_MIN)
        return rd_fail(&r, "header", 16, "%u state descriptors do not fit", nstates);

    eddy_state **states = calloc(nstates ? nstates : 1, sizeof *states);
    if (!states) return ed_err_set(err, "state snapshot: out of memory");
    int rc = -1;
    for (uint32_t i = 0; i < nstates; i++)
        if (rd_descriptor(&r, k, i, &states[i])) goto out;

    /* the index: ascending key groups, blocks in order after the descriptors */
    size_t prev_end = r.pos;
    uint32_t prev_kg = 0;
    for (uint32_t b = 0; b < nblocks; b++) {
        size_t ie = index + (size_t)b * INDEX_ENTRY;
        uint32_t kg, z;
        uint64_t off, blen;
        memcpy(&kg, p + ie, 4);
        memcpy(&z, p + ie + 4, 4);
        memcpy(&off, p + ie + 8, 8);
        memcpy(&blen, p + ie + 16, 8);
        if (z) {
            rd_fail(&r, "index entry", ie, "reserved word is %u, not 0", z);
            goto out;
        }
        if (kg >= smaxp || (b && kg <= prev_kg)) {
            rd_fail(&r, "index entry", ie, "key group %u out of order or range", kg);
            goto out;
        }
        if (off < prev_end || off > len || blen > len - off || blen < BLOCK_MIN || (off & 7)) {
            rd_fail(&r, "index entry", ie,
                    "block of key group %u at [%" PRIu64 ", +%" PRIu64 ") is not within [%zu, %zu)",
                    kg, off, blen, prev_end, len);
            goto out;
        }
        prev_end = (size_t)(off + blen);
        prev_kg = kg;
    }
    for (uint32_t b = 0; b < nblocks; b++) {
        size_t ie = index + (size_t)b * INDEX_ENTRY;
        uint32_t kg;
        uint64_t off, blen;
        memcpy(&kg, p + ie, 4);
        memcpy(&off, p + ie + 8, 8);
        memcpy(&blen, p + ie + 16, 8);
        if ((int)kg < first || (int)kg > last) continue;
        rd br = {.p = p, .pos = (size_t)off, .end = (size_t)(off + blen), .err = err};
        if (rd_block(&br, k, states, nstates, kg)) goto out;
    }
    rc = 0;
out:
    free(states);
    return rc;
}

/* The checking pass: states are declared in a scratch backend, rows checked, nothing
 * kept. Operator stores hold only lists and maps, and no timers. */
typedef struct check_sink {
    sink k;
    ed_state_backend *scratch;
    bool operator_state, timers;
} check_sink;

static eddy_state *check_state(sink *k, const eddy_state_desc *d, uint32_t flags, ed_err *e)
{
    check_sink *c = (check_sink *)k;
    if (c->operator_state && d->kind != EDDY_STATE_LIST && d->kind != EDDY_STATE_MAP) {
        ed_err_set(e, "operator state '%s' is neither a list nor a map", d->name);
        return NULL;
    }
    return ed_state_declare_restored(c->scratch, d, e);
}
static int check_timer(sink *k, eddy_time_domain d, int64_t time, const uint8_t *key, uint32_t klen,
                       const uint8_t *ns, uint32_t nslen, int kg, ed_err *e)
{
    check_sink *c = (check_sink *)k;
    if (c->operator_state) return ed_err_set(e, "an operator state snapshot holds no timers");
    if (!c->timers) return ed_err_set(e, "the snapshot has timers and there is no timer service");
    return 0;
}

/* Runs the checking pass over a payload; *aligned gets p or an aligned copy of it (the
 * caller frees it when it differs from p). */
static int check_snapshot(const void *p, size_t len, int maxp, int first, int last,
                          bool operator_state, bool timers, const uint8_t **aligned, ed_err *err)
{
    *aligned = p;
    if (((uintptr_t)p & 7) && len) {
        uint8_t *copy = malloc(len);
        if (!copy) return ed_err_set(err, "state snapshot: out of memory");
        memcpy(copy, p, len);
        *aligned = copy;
    }
    check_sink c = {.k = {.state = check_state, .timer = check_timer, .check_rows = true},
                    .scratch = ed_state_backend_new(maxp, ed_clock_system(), NULL),
                    .operator_state = operator_state,
                    .timers = timers};
    if (!c.scratch) return ed_err_set(err, "state snapshot: out of memory");
    int rc = read_pass(*aligned, len, maxp, first, last, &c.k, err);
    ed_state_backend_free(c.scratch);
    return rc;
}

/* ---- keyed restore --------------------------------------------------------------------- */

typedef struct keyed_sink {
    sink k;
    ed_state_backend *b;
    ed_timer_service *timers;
    eddy_state *s; /* the entry being restored */
    ed_entry *e;
    /* RocksDB: where the entry goes (pointers into the snapshot) */
    int kg;
    const uint8_t *key, *ns;
    uint32_t klen, nslen;
} keyed_sink;

/* RocksDB: the value or list entry restored last goes from the working set to RocksDB. */
static int rk_store_pending(keyed_sink *ks, ed_err *e)
{
    if (!ks->e) return 0;
    ed_entry *en = ks->e;
    ks->e = NULL;
    if (ed_state_rk_store_restored(ks->s, en))
        return ed_err_set(e, "%s", ed_state_error(ks->s));
    return 0;
}

static eddy_state *keyed_state(sink *k, const eddy_state_desc *d, uint32_t flags, ed_err *e)
{
    return ed_state_declare_restored(((keyed_sink *)k)->b, d, e);
}
static int keyed_entry(sink *k, eddy_state *s, int kg, const uint8_t *key, uint32_t klen,
                       const uint8_t *ns, uint32_t nslen, uint32_t room, ed_err *e)
{
    keyed_sink *ks = (keyed_sink *)k;
    bool existed;
    if (ks->b->rk) {
        if (rk_store_pending(ks, e)) return -1;
        ks->s = s;
        ks->kg = kg;
        ks->key = key;
        ks->klen = klen;
        ks->ns = ns;
        ks->nslen = nslen;
        if (s->kind == EDDY_STATE_MAP) return 0; /* its entries go to RocksDB one by one */
    }
    ks->s = s;
    ks->e = ed_state_restore_entry(s, key, klen, ns, nslen, kg, room, &existed);
    if (!ks->e) return ed_err_set(e, "state '%s': out of memory", s->name);
    if (existed)
        return ed_err_set(e,
                          "state '%s' already has this key and namespace (key group %d "
                          "restored twice?)",
                          s->name, kg);
    return 0;
}
static int keyed_row(sink *k, const eddy_row *r, int64_t access, ed_err *e)
{
    keyed_sink *ks = (keyed_sink *)k;
    if (ed_state_restore_row(ks->s, ks->e, r, access))
        return ed_err_set(e, "state '%s': out of memory", ks->s->name);
    return 0;
}
static int keyed_list_el(sink *k, const eddy_row *r, int64_t ts, int64_t access, ed_err *e)
{
    keyed_sink *ks = (keyed_sink *)k;
    if (ed_state_restore_list_el(ks->s, ks->e, r, ts, access))
        return ed_err_set(e, "state '%s': out of memory", ks->s->name);
    return 0;
}
static int keyed_map_el(sink *k, const eddy_row *key, const eddy_row *value, int64_t access,
                        ed_err *e)
{
    keyed_sink *ks = (keyed_sink *)k;
    bool existed;
    if (ks->b->rk) {
        if (ed_state_rk_store_map_entry(ks->s, ks->kg, ks->key, ks->klen, ks->ns, ks->nslen, key,
                                        value, access))
            return ed_err_set(e, "%s", ed_state_error(ks->s));
        return 0;
    }
    if (ed_state_restore_map_entry(ks->s, ks->e, key, value, access, &existed))
        return ed_err_set(e, "state '%s': out of memory", ks->s->name);
    if (existed) return ed_err_set(e, "state '%s': a map key appears twice", ks->s->name);
    return 0;
}
static int keyed_timer(sink *k, eddy_time_domain d, int64_t time, const uint8_t *key, uint32_t klen,
                       const uint8_t *ns, uint32_t nslen, int kg, ed_err *e)
{
    keyed_sink *ks = (keyed_sink *)k;
    ed_assert(ks->timers != NULL); /* the checking pass refused timers without a service */
    if (ed_timers_register(ks->timers, d, time, key, klen, kg, ns, nslen))
        return ed_err_set(e, "timers: out of memory");
    return 0;
}

int ed_state_restore(ed_state_backend *b, ed_timer_service *timers, const void *snap, size_t len,
                     int first_kg, int last_kg, ed_err *err)
{
    const uint8_t *p;
    int rc = check_snapshot(snap, len, b->max_parallelism, first_kg, last_kg, false, timers != NULL,
                            &p, err);
    if (rc == 0) {
        keyed_sink ks = {.k = {.state = keyed_state,
                               .entry = keyed_entry,
                               .row = keyed_row,
                               .list_el = keyed_list_el,
                               .map_el = keyed_map_el,
                               .timer = keyed_timer},
                         .b = b,
                         .timers = timers};
        rc = read_pass(p, len, b->max_parallelism, first_kg, last_kg, &ks.k, err);
        if (b->rk && !rc) rc = rk_store_pending(&ks, err) ? -1 : ed_rk_flush(b->rk, err);
    }
    if (p != snap) free((void *)p);
    return rc;
}

/* ---- operator state restore ------------------------------------------------------------ */

/* Split lists count their elements across all old subtasks. */
typedef struct op_count {
    eddy_state *s;
    uint64_t n;
} op_count;

typedef struct op_sink {
    sink k;
    ed_state_backend *b;
    int old, subtask, parallelism; /* old: the old subtask being read */
    op_count *counts;
    size_t ncounts;
    eddy_state *s; /* the entry being read, made on its first kept element */
    int kg;
    const uint8_t *key, *ns;
    uint32_t klen, nslen;
    ed_entry *e;
} op_sink;

static eddy_state *op_state(sink *k, const eddy_state_desc *d, uint32_t flags, ed_err *e)
{
    op_sink *os = (op_sink *)k;
    eddy_state *s = ed_state_declare_restored(os->b, d, e);
    if (!s) return NULL;
    eddy_operator_state_mode mode = flags & F_UNION ? EDDY_OP_STATE_UNION : EDDY_OP_STATE_SPLIT;
    if (s->restored) {
        s->op_list = flags & F_OP_LIST;
        s->mode = mode;
        s->broadcast = flags & F_BROADCAST;
    } else if (s->op_list && (flags & F_OP_LIST) && s->mode != mode) {
        ed_err_set(e, "operator state '%s' is declared as %s and saved as %s", d->name,
                   s->mode == EDDY_OP_STATE_UNION ? "UNION" : "SPLIT",
                   mode == EDDY_OP_STATE_UNION ? "UNION" : "SPLIT");
        return NULL;
    }
    return s;
}
static int op_entry(sink *k, eddy_state *s, int kg, const uint8_t *key, uint32_t klen,
                    const uint8_t *ns, uint32_t nslen, uint32_t room, ed_err *e)
{
    op_sink *os = (op_sink *)k;
    os->s = s;
    os->kg = kg;
    os->key = key;
    os->klen = klen;
    os->ns = ns;
    os->nslen = nslen;
    os->e = NULL;
    return 0;
}
/* The entry being read, made when absent (lists gather the elements of every old
 * subtask in one entry). */
static ed_entry *op_target(op_sink *os, ed_err *e)
{
    bool existed;
    if (!os->e)
        os->e = ed_state_restore_entry(os->s, os->key, os->klen, os->ns, os->nslen, os->kg, 0,
                                       &existed);
    if (!os->e) ed_err_set(e, "operator state '%s': out of memory", os->s->name);
    return os->e;
}
static int op_list_el(sink *k, const eddy_row *r, int64_t ts, int64_t access, ed_err *e)
{
    op_sink *os = (op_sink *)k;
    if (os->s->mode == EDDY_OP_STATE_SPLIT) {
        op_count *c = NULL;
        for (size_t i = 0; i < os->ncounts && !c; i++)
            if (os->counts[i].s == os->s) c = &os->counts[i];
        if (!c) {
            op_count *nc = realloc(os->counts, (os->ncounts + 1) * sizeof *nc);
            if (!nc) return ed_err_set(e, "out of memory");
            os->counts = nc;
            c = &nc[os->ncounts++];
            *c = (op_count){os->s, 0};
        }
        if (c->n++ % (uint64_t)os->parallelism != (uint64_t)os->subtask) return 0;
    }
    if (!op_target(os, e)) return -1;
    if (ed_state_restore_list_el(os->s, os->e, r, ts, access))
        return ed_err_set(e, "operator state '%s': out of memory", os->s->name);
    return 0;
}
static int op_map_el(sink *k, const eddy_row *key, const eddy_row *value, int64_t access, ed_err *e)
{
    op_sink *os = (op_sink *)k;
    if (os->old != 0) return 0; /* broadcast state: old subtask 0's copy */
    bool existed;
    if (!op_target(os, e)) return -1;
    if (ed_state_restore_map_entry(os->s, os->e, key, value, access, &existed))
        return ed_err_set(e, "operator state '%s': out of memory", os->s->name);
    if (existed) return ed_err_set(e, "state '%s': a map key appears twice", os->s->name);
    return 0;
}
int ed_operator_store_restore(ed_operator_store *o, const ed_snapshot_ref *old, int nold,
                              int subtask, int parallelism, ed_err *err)
{
    if (parallelism < 1 || subtask < 0 || subtask >= parallelism || nold < 0)
        return ed_err_set(err, "operator state restore: subtask %d of %d from %d snapshots",
                          subtask, parallelism, nold);
    ed_state_backend *b = ed_operator_store_backend(o);
    const uint8_t **p = calloc(nold ? (size_t)nold : 1, sizeof *p);
    if (!p) return ed_err_set(err, "state snapshot: out of memory");
    int rc = 0;
    for (int i = 0; i < nold && rc == 0; i++) {
        rc = check_snapshot(old[i].data, old[i].len, b->max_parallelism, 0, b->max_parallelism - 1,
                            true, false, &p[i], err);
        if (rc) ed_err_wrap(err, "old subtask %d", i);
    }
    /* the checking pass let only lists and maps through, and no timers */
    op_sink os = {
        .k = {.state = op_state, .entry = op_entry, .list_el = op_list_el, .map_el = op_map_el},
        .b = b,
        .subtask = subtask,
        .parallelism = parallelism};
    for (int i = 0; i < nold && rc == 0; i++) {
        os.old = i;
        rc = read_pass(p[i], old[i].len, b->max_parallelism, 0, b->max_parallelism - 1, &os.k, err);
        if (rc) ed_err_wrap(err, "old subtask %d", i);
    }
    for (int i = 0; i < nold; i++)
        if (p[i] != old[i].data) free((void *)p[i]); /* an aligned copy */
    free(os.counts);
    free(p);
    return rc;
}
