/*
 * state_int.h - the heap backend's objects, shared by the files of src/state only.
 *
 * Memory. Every byte a state holds comes from the backend's pool: size classes (two per
 * power of two) carved from one arena, with a free list per class (blocks above 64 KiB come
 * from malloc). An entry, a value buffer, a list's element array or a map's slot array
 * that is freed goes back to its class and is reused by the next one of that size, so a
 * job whose key set is steady stops allocating; a value rewritten with a row that fits
 * the buffer's class is copied in place.
 *
 * Tables. A state is an open-addressing table (linear probing, backward-shift deletion,
 * no tombstones) of entries keyed by (key bytes, namespace bytes). An entry carries its
 * key group (for snapshots by key group) and, by kind:
 *
 *   VALUE, REDUCING, AGGREGATING   one row (ed_buf) and its TTL access time; a row that
 *                                  fits the room left for it in the entry's block (sized
 *                                  by the first row stored) lives there, not in a block
 *                                  of its own
 *   LIST                           rows back to back in one buffer + an element array
 *                                  {offset, length, event ts, TTL access time}
 *   MAP                            a nested table of {canonical key bytes, key row, value
 *                                  row, TTL access time}
 *
 * The handle caches the entry of the current (key, namespace): the backend bumps
 * `version` when either changes, so calls for the same key and window skip the lookup;
 * and when only the namespace changed, back to that of the cached entry, it is used
 * again after a compare of the namespace bytes.
 */
#ifndef ED_STATE_INT_H
#define ED_STATE_INT_H

#include "state.h"

/* ---- pool -------------------------------------------------------------------------------- */
#define ED_SPOOL_MAX_CLASS 32 /* 2^16 = 64 KiB; larger blocks are malloc'ed and freed */

typedef struct ed_spool {
    ed_arena arena;
    void *free[ED_SPOOL_MAX_CLASS + 1]; /* per class: a list linked through the blocks */
    size_t bytes;                       /* obtained from the arena or malloc, never shrinks
                                         * for pooled classes */
} ed_spool;

void ed_spool_init(ed_spool *p);
void ed_spool_destroy(ed_spool *p);
/* At least n bytes, 8-aligned; *cap gets the block's size. NULL when out of memory. */
void *ed_spool_alloc(ed_spool *p, size_t n, uint32_t *cap);
/* Returns a block of size cap (as given by ed_spool_alloc). Accepts NULL. */
void ed_spool_free(ed_spool *p, void *ptr, uint32_t cap);

/* A pool-owned byte buffer. */
typedef struct ed_buf {
    uint8_t *p;
    uint32_t len, cap;
} ed_buf;

/* ---- entries ----------------------------------------------------------------------------- */
typedef struct ed_list_el {
    uint32_t off, len; /* the row within the list's data */
    int64_t ts;        /* event timestamp, EDDY_NO_TIMESTAMP when none */
    int64_t access;    /* TTL: last access */
} ed_list_el;

typedef struct ed_list {
    ed_buf data;    /* rows back to back (each a multiple of 8 bytes) */
    ed_buf els;     /* ed_list_el[els.len / sizeof(ed_list_el)] */
    uint64_t stamp; /* from the backend's counter on every change: list views check it */
} ed_list;

typedef struct ed_mentry {
    uint32_t hash, klen; /* canonical key bytes (whole words) */
    uint32_t rlen, cap;  /* the key row's bytes; this block's size */
    int64_t access;
    ed_buf val;       /* the value row; len 0 for a NULL value */
    uint64_t words[]; /* key bytes, then the key row */
} ed_mentry;

typedef struct ed_map {
    ed_mentry **slots;
    uint32_t mask, count, slots_cap;
    uint64_t version; /* from the backend's counter on every change: iterators check it */
} ed_map;

typedef struct ed_entry {
    uint32_t hash, key_group;
    uint32_t klen, nslen;
    uint32_t cap;   /* this block's size */
    bool dead;      /* removed while ed_state_for_each ran; freed when it ends */
    int64_t access; /* TTL of VALUE, REDUCING and AGGREGATING entries */
    struct ed_entry *next_dead;
    /* key bytes, padded to 8; namespace bytes, padded to 8; then the body by kind: an
     * ed_buf row followed by room for a small row (VALUE, REDUCING, AGGREGATING), an
     * ed_list or an ed_map */
    uint64_t words[];
} ed_entry;

static inline const uint8_t *ed_entry_key(const ed_entry *e)
{
    return (const uint8_t *)e->words;
}
static inline const uint8_t *ed_entry_ns(const ed_entry *e)
{
    return (const uint8_t *)e->words + ED_ALIGN8(e->klen);
}
/* The body: key and namespace first, so that a lookup and the value it finds share the
 * entry's first cache lines. */
static inline void *ed_entry_body(const ed_entry *e)
{
    return (uint8_t *)e->words + ED_ALIGN8(e->klen) + ED_ALIGN8(e->nslen);
}
static inline ed_buf *entry_row(const ed_entry *e)
{
    return (ed_buf *)ed_entry_body(e);
}
static inline ed_list *entry_list(const ed_entry *e)
{
    return (ed_list *)ed_entry_body(e);
}
static inline ed_map *entry_map(const ed_entry *e)
{
    return (ed_map *)ed_entry_body(e);
}
/* A value entry's own room for its row (row->p points here while the row fits). */
static inline uint8_t *entry_inline_row(const ed_entry *e)
{
    return (uint8_t *)(entry_row(e) + 1);
}

/* A table slot: the entry's hash beside it, so probing past other entries does not touch
 * them. */
typedef struct ed_slot {
    uint32_t hash;
    ed_entry *e; /* NULL: empty */
} ed_slot;

/* ---- backend and handles ----------------------------------------------------------------- */
struct ed_state_backend {
    int max_parallelism;
    ed_clock *clock;
    eddy_ctx *ctx;
    ed_spool pool;
    uint8_t *key, *ns; /* current key and namespace (copies) */
    uint32_t klen, kcap, nslen, nscap;
    int key_group;
    uint64_t version;      /* bumped when the current key or namespace changes */
    uint64_t key_version;  /* bumped when the current key changes */
    uint32_t key_hash;     /* murmur3 of the current key's bytes */
    uint32_t hash;         /* of (key, namespace), computed on demand */
    uint64_t hash_version; /* the version `hash` belongs to */
    uint64_t stamp;        /* list stamps and map versions */
    eddy_state **states;
    uint32_t nstates, states_cap;
    struct ed_rocks *rk; /* the RocksDB backend (rocks.h), or NULL for the heap */
};

typedef struct ed_view_el {
    const eddy_row *row;
    int64_t ts;
} ed_view_el;

struct eddy_state {
    ed_state_backend *b;
    char *name;
    eddy_state_kind kind;
    char *schema_src, *key_schema_src; /* as declared, for the quick re-declaration check */
    eddy_schema *schema, *key_schema, *acc_schema, *out_schema;
    uint32_t arity, key_arity;
    ed_keyspec mks;                             /* MAP: every field of key_schema */
    eddy_row_builder *rb_a, *rb_out;            /* reduce/aggregate outputs; aggregate results */
    ed_buf dflt;                                /* VALUE: the parsed default value, len 0 if none */
    eddy_fn reduce, create, add, result, merge; /* names copied */
    eddy_state_ttl ttl;
    bool has_ttl;
    /* operator and broadcast state */
    bool op_list, broadcast, read_only;
    eddy_operator_state_mode mode;
    /* the table */
    ed_slot *slots;
    uint32_t mask, count, clean_pos;
    uint64_t cache_ver; /* == b->version: `cache` is the current entry (NULL: none) */
    ed_entry *cache;
    uint64_t cache_kver; /* the key_version `cache` was found under: while it holds, a
                          * non-NULL cache whose namespace is current is still the entry */
    int iterating; /* ed_state_for_each depth: removals are deferred */
    ed_entry *dead;
    /* scratch, reused */
    ed_buf out, spare, spare_els, acc;
    uint8_t *mkey;
    uint32_t mkcap;
    /* TTL lists: the elements the last read saw (valid while view_* match) */
    ed_view_el *view;
    uint32_t view_n, view_cap;
    ed_entry *view_e;
    uint64_t view_ver, view_stamp;
    ed_err err; /* why the last call failed */
    /* Re-created by a restore from a snapshot's descriptor (functions cannot be saved) and
     * not yet declared: the operator's first ed_state_get with the same name, kind and
     * schemas replaces it with a state made from its descriptor, entries kept. */
    bool restored;
    /* RocksDB (rocks.h): the state's column family; its entries live there, and the table
     * above is only a working set of the entries the latest calls used */
    struct ed_rk_cf *rk;
    ed_strbuf spare_enc; /* RocksDB: a value being encoded */
};

/* ---- TTL (keyed_state.c, rocks_state.c) -------------------------------------------------- */
static inline bool ed_ttl_expired_at(const eddy_state *s, int64_t access, int64_t now)
{
    return s->has_ttl && now - access >= s->ttl.ttl_ms;
}
static inline bool ed_ttl_return_expired(const eddy_state *s)
{
    return s->ttl.visibility == EDDY_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP;
}
static inline bool ed_ttl_touch_on_read(const eddy_state *s)
{
    return s->has_ttl && s->ttl.update == EDDY_TTL_ON_READ_AND_WRITE;
}

/* Records why the last call on s failed (ed_state_error) and tells the runtime's hook;
 * returns -1. */
int ed_state_fail(eddy_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The state of that name, or NULL. */
eddy_state *ed_state_find(ed_state_backend *b, const char *name);

/* ---- snapshots (snapshot.c) ---------------------------------------------------------------
 * Raw access to entries: reads see them as stored (no TTL touch or cleanup), restores put
 * them back as they were, access times and list timestamps included. */

/* The entry of the current (key, namespace), or NULL. */
ed_entry *ed_state_current_entry(eddy_state *s);
/* The state a snapshot's descriptor d names: the existing one when its kind and schemas
 * (and an aggregate's acc_schema, and TTL on or off) agree, else a new placeholder with
 * `restored` set; d's functions may be absent. NULL with err on a mismatch. */
eddy_state *ed_state_declare_restored(ed_state_backend *b, const eddy_state_desc *d, ed_err *err);
/* The entry of (key, ns) in s, made with key group kg when absent (room: the size of the
 * row it will hold, for VALUE/REDUCING/AGGREGATING). *existed tells whether it was there.
 * NULL when out of memory. */
ed_entry *ed_state_restore_entry(eddy_state *s, const uint8_t *key, uint32_t klen,
                                 const uint8_t *ns, uint32_t nslen, int key_group, uint32_t room,
                                 bool *existed);
/* Sets the row of a VALUE/REDUCING/AGGREGATING entry; appends a list element; adds a map
 * entry (value NULL: a NULL value) unless its key is there (*existed). The rows must be
 * valid for the state's schemas (ed_row_validate_schema). 0, or -1 when out of memory. */
int ed_state_restore_row(eddy_state *s, ed_entry *e, const eddy_row *r, int64_t access);
int ed_state_restore_list_el(eddy_state *s, ed_entry *e, const eddy_row *r, int64_t ts,
                             int64_t access);
int ed_state_restore_map_entry(eddy_state *s, ed_entry *e, const eddy_row *key,
                               const eddy_row *value, int64_t access, bool *existed);
/* RocksDB (rocks.h): a restored entry e of a value or list state is written to RocksDB
 * (batched until ed_rk_flush) and leaves the working set; a restored map entry is
 * written at its place. 0, or -1 (recorded on s). */
int ed_state_rk_store_restored(eddy_state *s, ed_entry *e);
int ed_state_rk_store_map_entry(eddy_state *s, int kg, const uint8_t *key, uint32_t klen,
                                const uint8_t *ns, uint32_t nslen, const eddy_row *mkey,
                                const eddy_row *value, int64_t access);
/* RocksDB: forgets the working set of s (its entries are all in RocksDB). */
void ed_state_drop_working_set(eddy_state *s);
/* The heap backend an operator store keeps its lists and maps in. */
ed_state_backend *ed_operator_store_backend(ed_operator_store *o);

#endif
