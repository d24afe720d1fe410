/*
 * heap_kv.h - the heap state backend's table: keyed entries in memory.
 *
 * Open addressing with linear probing over pointers to entries; an entry holds the key
 * bytes (canonical form, types.h), the key group they hash to, and a value that is a
 * row. Entries and values live in the table's arena: a new key costs a bump allocation,
 * an update of a fixed-size value is done in place and costs nothing. Values are 8-byte
 * aligned so that rows in state are read in place like rows in buffers.
 *
 * One table belongs to one operator subtask (one thread). It serves the built-in keyed
 * aggregations (runtime/ops_keyed.c); the state kinds of include/eddy/state.h live in
 * keyed_state.c's tables, keyed by (key, namespace) (the state layer's README).
 */
#ifndef ED_HEAP_KV_H
#define ED_HEAP_KV_H

#include <string.h>

#include "../base/base.h"

typedef struct ed_kv_entry {
    uint32_t hash;
    uint32_t key_group;
    uint32_t klen;
    uint32_t vlen, vcap;
    uint8_t *val;
    uint8_t key[];
} ed_kv_entry;

typedef struct ed_heap_kv {
    ed_kv_entry **slots;
    uint32_t mask;
    uint32_t count;
    ed_arena arena;
} ed_heap_kv;

void ed_heap_kv_init(ed_heap_kv *kv);
void ed_heap_kv_destroy(ed_heap_kv *kv);

/* Key bytes are whole words (types.h), so equality is a few word compares. */
static inline bool ed_key_bytes_equal(const uint8_t *a, const uint8_t *b, uint32_t len)
{
    if (ED_UNLIKELY(len & 7)) return memcmp(a, b, len) == 0;
    for (uint32_t i = 0; i < len; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) return false;
    }
    return true;
}

static inline ed_kv_entry *ed_heap_kv_get(const ed_heap_kv *kv, const void *key, uint32_t klen,
                                          uint32_t hash)
{
    uint64_t h = ed_mix64(hash);
    for (uint32_t i = (uint32_t)h & kv->mask;; i = (i + 1) & kv->mask) {
        ed_kv_entry *e = kv->slots[i];
        if (!e) return NULL;
        if (e->hash == hash && e->klen == klen && ed_key_bytes_equal(e->key, key, klen)) return e;
    }
}

/* Inserts a key that is not in the table; its value is empty. NULL when out of memory. */
ed_kv_entry *ed_heap_kv_insert(ed_heap_kv *kv, const void *key, uint32_t klen, uint32_t hash,
                               uint32_t key_group);
/* Sets an entry's value to a copy of n bytes; 0, or -1 when out of memory. */
int ed_heap_kv_set(ed_heap_kv *kv, ed_kv_entry *e, const void *val, uint32_t n);

#endif
