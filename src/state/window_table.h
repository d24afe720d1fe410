/*
 * window_table.h - the heap backend's layout for the contents of incremental windows.
 *
 * A window that reduces or aggregates as elements arrive keeps one small row per (key,
 * window). In the general table (state_int.h) that is one entry per (key, window): with
 * thousands of keys and the watermark a few windows behind the data, the live entries
 * and their slots outgrow the cache, and each element costs a slot miss and an entry
 * miss. This table groups by key instead: one entry per key holding every live window of
 * that key side by side, with its row in place. A key's element finds its entry with
 * one probe, and the entry's windows with a short scan; the table holds as many entries
 * as keys, not as (key, window) pairs.
 *
 * A record is a window, its state window (merging windows keep their contents in the
 * state window of the earliest window they merged, as Flink's MergingWindowSet does; for
 * other windows both are the same), a `mapped` flag (the merging window set holds the
 * pair) and the contents row, which may be absent (len 0). Records are found by state
 * window.
 *
 * Snapshots stay backend-neutral: before a snapshot the window operator writes the
 * records into its ordinary states (contents per (key, state window), the merging window
 * set per key), and after a restore it takes them back from there.
 *
 * Memory comes from a pool of size classes; entries grow by doubling their record room
 * and shrink back to the pool when their last record goes. Nothing is locked: a table
 * belongs to its operator's task thread.
 */
#ifndef ED_WINDOW_TABLE_H
#define ED_WINDOW_TABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <eddy/row.h>

#include "heap_kv.h"

typedef struct ed_wt_rec {
    int64_t start, end;   /* the window */
    int64_t sstart, send; /* its state window */
    uint32_t len;         /* bytes of the row; 0: no contents */
    uint32_t mapped;      /* merging windows: the window set holds (window, state window) */
    /* then the row, in room bytes (ed_wt_entry.room) */
} ed_wt_rec;

typedef struct ed_wt_entry {
    uint32_t hash, key_group;
    uint32_t klen;
    uint16_t n, cap;   /* records in use, records with room */
    uint32_t room;     /* row bytes each record has room for */
    uint32_t block;    /* the block's size in the pool */
    int64_t older_end; /* the greatest end of the records before the last (INT64_MIN:
                        * none); a caller that moves a record's end other than the last's
                        * raises it (ed_wt_rec_extended) */
    uint64_t words[];  /* key bytes padded to 8, then cap records */
} ed_wt_entry;

/* A slot: the entry's hash beside it, so that probing past other keys does not touch
 * their entries, and how many bytes of it are in use, for prefetching. */
typedef struct ed_wt_slot {
    uint32_t hash;
    uint32_t used;
    ed_wt_entry *e; /* NULL: empty */
} ed_wt_slot;

/* Open addressing, linear probing, backward-shift deletion. The fields are here for the
 * inline calls below; only window_table.c changes them. */
typedef struct ed_wt {
    ed_wt_slot *slots;
    uint32_t mask, count;
    void *pool; /* the entries' memory */
} ed_wt;

ed_wt *ed_wt_new(void);
void ed_wt_free(ed_wt *t); /* accepts NULL */

static inline const uint8_t *ed_wt_key(const ed_wt_entry *e) { return (const uint8_t *)e->words; }

/* Where the records begin: on the cache line after the header and key (entries start
 * on a line), so that a record of 64 bytes is one line. */
static inline size_t ed_wt_recs_offset(uint32_t klen)
{
    return (sizeof(ed_wt_entry) + ((klen + 7u) & ~7u) + 63u) & ~(size_t)63u;
}

static inline ed_wt_rec *ed_wt_rec_at(const ed_wt_entry *e, uint32_t i)
{
    size_t stride = sizeof(ed_wt_rec) + e->room;
    return (ed_wt_rec *)((uint8_t *)e + ed_wt_recs_offset(e->klen) + stride * i);
}

static inline const eddy_row *ed_wt_row(const ed_wt_rec *r)
{
    return r->len ? (const eddy_row *)(r + 1) : NULL;
}

/* The record of state window [sstart, send), or NULL. */
static inline ed_wt_rec *ed_wt_rec_find(const ed_wt_entry *e, int64_t sstart, int64_t send)
{
    for (uint32_t i = e->n; i-- > 0;) { /* the newest window is most often the last */
        ed_wt_rec *r = ed_wt_rec_at(e, i);
        if (r->sstart == sstart && r->send == send) return r;
    }
    return NULL;
}

/* The entry of the key (hash: ed_key_hash of its bytes), or NULL. */
static inline ed_wt_entry *ed_wt_find(ed_wt *t, const uint8_t *key, uint32_t klen, uint32_t hash)
{
    if (!t->slots) return NULL;
    for (uint32_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        const ed_wt_slot *s = &t->slots[i];
        if (!s->e) return NULL;
        if (s->hash == hash && s->e->klen == klen && ed_key_bytes_equal(ed_wt_key(s->e), key, klen))
            return s->e;
    }
}
/* The same, made (with no records) when absent. NULL when out of memory. */
ed_wt_entry *ed_wt_make(ed_wt *t, const uint8_t *key, uint32_t klen, uint32_t hash,
                        int key_group);

/* Adds a record (window w, state window s, no contents, not mapped) to *e. The entry may
 * move: *e is updated. NULL when out of memory. */
ed_wt_rec *ed_wt_rec_add(ed_wt *t, ed_wt_entry **e, int64_t start, int64_t end, int64_t sstart,
                         int64_t send);

/* Gives *e room for rows of len bytes (ed_wt_rec_set); *e and *r are updated. */
int ed_wt_rec_grow(ed_wt *t, ed_wt_entry **e, ed_wt_rec **r, uint32_t len);

/* Stores row as *r's contents (copied). The entry may move to make room: *e and *r are
 * updated. -1 when out of memory. */
static inline int ed_wt_rec_set(ed_wt *t, ed_wt_entry **e, ed_wt_rec **r, const eddy_row *row)
{
    uint32_t len = eddy_row_size(row);
    if (len > (*e)->room && ed_wt_rec_grow(t, e, r, len)) return -1;
    uint64_t *to = (uint64_t *)(*r + 1);
    const uint8_t *from = (const uint8_t *)row;
    for (uint32_t i = 0; i < len; i += 8) memcpy(to + i / 8, from + i, 8); /* whole words */
    (*r)->len = len;
    return 0;
}

/* Record r of e got a new end. */
static inline void ed_wt_rec_extended(ed_wt_entry *e, const ed_wt_rec *r)
{
    if (r != ed_wt_rec_at(e, e->n - 1u) && r->end > e->older_end) e->older_end = r->end;
}

/* Removes *r from *e; the records after it move up, so records stay in the order they
 * were added. When it was the last, the entry goes too and *e becomes NULL. */
void ed_wt_rec_remove(ed_wt *t, ed_wt_entry **e, ed_wt_rec *r);

/* Hints that the key with this hash (ed_key_hash) comes soon: fetch its slot; then, the
 * slot being near, fetch its entry. Change nothing. */
static inline void ed_wt_prefetch_slot(const ed_wt *t, uint32_t hash)
{
    if (t->slots) __builtin_prefetch(&t->slots[hash & t->mask]);
}

static inline void ed_wt_prefetch_entry(const ed_wt *t, uint32_t hash)
{
    if (!t->slots) return;
    /* a few probes at most: a key further on only misses its prefetch */
    for (uint32_t i = hash & t->mask, k = 0; k < 4; i = (i + 1) & t->mask, k++) {
        const ed_wt_slot *s = &t->slots[i];
        if (!s->e) return;
        if (s->hash == hash) {
            const uint8_t *e = (const uint8_t *)s->e;
            __builtin_prefetch(e);                /* the header and the key */
            __builtin_prefetch(e + s->used - 64); /* the newest record */
            if (s->used > 128) __builtin_prefetch(e + s->used - 1); /* (when rows are big) */
            return;
        }
    }
}

/* Keys with an entry. */
size_t ed_wt_count(const ed_wt *t);
/* Bytes held. */
size_t ed_wt_bytes(const ed_wt *t);

/* Calls fn with every entry; fn must not add or remove entries or records. Stops at, and
 * returns, the first non-zero result. */
typedef int (*ed_wt_entry_fn)(ed_wt_entry *e, void *arg);
int ed_wt_for_each(ed_wt *t, ed_wt_entry_fn fn, void *arg);

/* Removes every entry. */
void ed_wt_clear(ed_wt *t);

#endif
