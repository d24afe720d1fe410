/*
 * window_table.c - per-key window contents (window_table.h).
 *
 * The table: open addressing, linear probing, backward-shift deletion; a slot is the
 * entry's hash beside its pointer, so probing past other keys does not touch their
 * entries. An entry is one pool block: header, key bytes, then `cap` records of
 * sizeof(ed_wt_rec) + room bytes each.
 */
#include "window_table.h"

#include <stdlib.h>
#include <string.h>

#include "../types/types.h"
#include "heap_kv.h"
#include "state_int.h"

typedef ed_wt_slot wt_slot;

ed_wt *ed_wt_new(void)
{
    ed_wt *t = calloc(1, sizeof *t);
    ed_spool *pool = calloc(1, sizeof *pool);
    if (!t || !pool) {
        free(t);
        free(pool);
        return NULL;
    }
    ed_spool_init(pool);
    t->pool = pool;
    return t;
}

void ed_wt_free(ed_wt *t)
{
    if (!t) return;
    ed_wt_clear(t);
    ed_spool_destroy(t->pool);
    free(t->pool);
    free(t->slots);
    free(t);
}

/* Bytes of an entry with cap records of room bytes. */
static inline size_t entry_size(uint32_t klen, uint32_t cap, uint32_t room)
{
    return ed_wt_recs_offset(klen) + (size_t)cap * (sizeof(ed_wt_rec) + room);
}

/* Blocks are whole cache lines, so that every block of the pool (whose memory starts on
 * a line) starts on one. */
static inline size_t block_size(size_t n) { return (n + 63) & ~(size_t)63; }

/* The slot that points to e. */
static uint32_t slot_of(const ed_wt *t, const ed_wt_entry *e)
{
    uint32_t i = e->hash & t->mask;
    while (t->slots[i].e != e) i = (i + 1) & t->mask;
    return i;
}

static void note_used(ed_wt *t, const ed_wt_entry *e)
{
    t->slots[slot_of(t, e)].used = (uint32_t)entry_size(e->klen, e->n, e->room);
}

static int grow_table(ed_wt *t)
{
    uint32_t nmask = t->slots ? t->mask * 2 + 1 : 63;
    wt_slot *ns = calloc((size_t)nmask + 1, sizeof *ns);
    if (!ns) return -1;
    if (t->slots) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            if (!t->slots[i].e) continue;
            uint32_t j = t->slots[i].hash & nmask;
            while (ns[j].e) j = (j + 1) & nmask;
            ns[j] = t->slots[i];
        }
        free(t->slots);
    }
    t->slots = ns;
    t->mask = nmask;
    return 0;
}

ed_wt_entry *ed_wt_make(ed_wt *t, const uint8_t *key, uint32_t klen, uint32_t hash, int key_group)
{
    ed_wt_entry *e = ed_wt_find(t, key, klen, hash);
    if (e) return e;
    if ((!t->slots || (t->count + 1) * 2 > t->mask + 1) && grow_table(t)) return NULL;
    uint32_t block;
    /* room for two records of a 24-byte row (one BIGINT) to begin with */
    e = ed_spool_alloc(t->pool, block_size(entry_size(klen, 2, 24)), &block);
    if (!e) return NULL;
    *e = (ed_wt_entry){.hash = hash, .key_group = (uint32_t)key_group, .klen = klen,
                       .room = 24, .block = block, .older_end = INT64_MIN};
    uint32_t fit = (uint32_t)((block - ed_wt_recs_offset(klen)) / (sizeof(ed_wt_rec) + 24));
    e->cap = (uint16_t)(fit > UINT16_MAX ? UINT16_MAX : fit);
    memcpy(e->words, key, klen);
    uint32_t i = hash & t->mask;
    while (t->slots[i].e) i = (i + 1) & t->mask;
    t->slots[i] = (wt_slot){hash, (uint32_t)entry_size(klen, 0, 24), e};
    t->count++;
    return e;
}

/* Moves *e to a block with room for cap records of room bytes each. */
static int reshape(ed_wt *t, ed_wt_entry **ep, uint32_t cap, uint32_t room)
{
    ed_wt_entry *e = *ep;
    uint32_t block;
    size_t need = entry_size(e->klen, cap, room);
    if (cap > UINT16_MAX || need > UINT32_MAX) return -1;
    ed_wt_entry *n = ed_spool_alloc(t->pool, block_size(need), &block);
    if (!n) return -1;
    memcpy(n, e, sizeof *e + ED_ALIGN8(e->klen));
    n->cap = (uint16_t)cap;
    n->room = room;
    n->block = block;
    for (uint32_t i = 0; i < e->n; i++) {
        ed_wt_rec *from = ed_wt_rec_at(e, i), *to = ed_wt_rec_at(n, i);
        memcpy(to, from, sizeof *from + from->len);
    }
    uint32_t i = slot_of(t, e);
    t->slots[i].e = n;
    t->slots[i].used = (uint32_t)entry_size(n->klen, n->n, n->room);
    ed_spool_free(t->pool, e, e->block);
    *ep = n;
    return 0;
}

ed_wt_rec *ed_wt_rec_add(ed_wt *t, ed_wt_entry **ep, int64_t start, int64_t end, int64_t sstart,
                         int64_t send)
{
    if ((*ep)->n == (*ep)->cap && reshape(t, ep, (uint32_t)(*ep)->cap * 2, (*ep)->room))
        return NULL;
    ed_wt_entry *e = *ep;
    if (e->n && ed_wt_rec_at(e, e->n - 1u)->end > e->older_end)
        e->older_end = ed_wt_rec_at(e, e->n - 1u)->end;
    ed_wt_rec *r = ed_wt_rec_at(e, e->n++);
    *r = (ed_wt_rec){start, end, sstart, send, 0, 0};
    note_used(t, e);
    return r;
}

int ed_wt_rec_grow(ed_wt *t, ed_wt_entry **ep, ed_wt_rec **rp, uint32_t len)
{
    uint32_t i = (uint32_t)(((uint8_t *)*rp - (uint8_t *)ed_wt_rec_at(*ep, 0)) /
                            (sizeof(ed_wt_rec) + (*ep)->room));
    uint32_t room = (*ep)->room;
    while (room < len) room *= 2;
    if (reshape(t, ep, (*ep)->cap, room)) return -1;
    *rp = ed_wt_rec_at(*ep, i);
    return 0;
}

static void remove_entry(ed_wt *t, ed_wt_entry *e)
{
    uint32_t i = slot_of(t, e), j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (!t->slots[j].e) break;
        uint32_t home = t->slots[j].hash & t->mask;
        /* slot j may move to i when its home is not in (i, j] (cyclically) */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i] = (wt_slot){0, 0, NULL};
    t->count--;
    ed_spool_free(t->pool, e, e->block);
}

void ed_wt_rec_remove(ed_wt *t, ed_wt_entry **ep, ed_wt_rec *r)
{
    ed_wt_entry *e = *ep;
    if (e->n == 1) {
        remove_entry(t, e);
        *ep = NULL;
        return;
    }
    /* the others move up, in the order they came: the newest window stays last */
    uint8_t *end = (uint8_t *)ed_wt_rec_at(e, e->n);
    size_t stride = sizeof(ed_wt_rec) + e->room;
    memmove(r, (uint8_t *)r + stride, (size_t)(end - (uint8_t *)r) - stride);
    e->n--;
    e->older_end = INT64_MIN;
    for (uint32_t i = 0; i + 1 < e->n; i++)
        if (ed_wt_rec_at(e, i)->end > e->older_end) e->older_end = ed_wt_rec_at(e, i)->end;
    note_used(t, e);
}

size_t ed_wt_count(const ed_wt *t) { return t->count; }

size_t ed_wt_bytes(const ed_wt *t)
{
    return ((ed_spool *)t->pool)->bytes + (t->slots ? ((size_t)t->mask + 1) * sizeof(wt_slot) : 0);
}

int ed_wt_for_each(ed_wt *t, ed_wt_entry_fn fn, void *arg)
{
    if (!t->slots) return 0;
    for (uint32_t i = 0; i <= t->mask; i++) {
        if (!t->slots[i].e) continue;
        int rc = fn(t->slots[i].e, arg);
        if (rc) return rc;
    }
    return 0;
}

void ed_wt_clear(ed_wt *t)
{
    if (!t->slots) return;
    for (uint32_t i = 0; i <= t->mask; i++) {
        if (!t->slots[i].e) continue;
        ed_spool_free(t->pool, t->slots[i].e, t->slots[i].e->block);
        t->slots[i] = (wt_slot){0, 0, NULL};
    }
    t->count = 0;
}
