/*
 * heap_kv.c - the heap backend's table (see heap_kv.h). The table doubles when half
 * full, which keeps probe sequences short; growing rehashes pointers only.
 */
#include "heap_kv.h"

#include <stdlib.h>
#include <string.h>

void ed_heap_kv_init(ed_heap_kv *kv)
{
    memset(kv, 0, sizeof(*kv));
    kv->mask = 1023;
    kv->slots = ed_xcalloc(kv->mask + 1, sizeof(ed_kv_entry *));
    ed_arena_init(&kv->arena, 1 << 20);
}

void ed_heap_kv_destroy(ed_heap_kv *kv)
{
    if (!kv->slots) return;
    free(kv->slots);
    kv->slots = NULL;
    ed_arena_destroy(&kv->arena);
}

static int grow(ed_heap_kv *kv)
{
    uint32_t nmask = kv->mask * 2 + 1;
    ed_kv_entry **ns = calloc((size_t)nmask + 1, sizeof(ed_kv_entry *));
    if (!ns) return -1;
    for (uint32_t i = 0; i <= kv->mask; i++) {
        ed_kv_entry *e = kv->slots[i];
        if (!e) continue;
        uint32_t j = (uint32_t)ed_mix64(e->hash) & nmask;
        while (ns[j]) j = (j + 1) & nmask;
        ns[j] = e;
    }
    free(kv->slots);
    kv->slots = ns;
    kv->mask = nmask;
    return 0;
}

ed_kv_entry *ed_heap_kv_insert(ed_heap_kv *kv, const void *key, uint32_t klen, uint32_t hash,
                               uint32_t key_group)
{
    if ((kv->count + 1) * 2 > kv->mask + 1 && grow(kv)) return NULL;
    ed_kv_entry *e = ed_arena_alloc(&kv->arena, sizeof(ed_kv_entry) + klen);
    if (!e) return NULL;
    e->hash = hash;
    e->key_group = key_group;
    e->klen = klen;
    e->vlen = e->vcap = 0;
    e->val = NULL;
    memcpy(e->key, key, klen);
    uint32_t i = (uint32_t)ed_mix64(hash) & kv->mask;
    while (kv->slots[i]) i = (i + 1) & kv->mask;
    kv->slots[i] = e;
    kv->count++;
    return e;
}

int ed_heap_kv_set(ed_heap_kv *kv, ed_kv_entry *e, const void *val, uint32_t n)
{
    if (n > e->vcap) {
        uint8_t *p = ed_arena_alloc(&kv->arena, n);
        if (!p) return -1;
        e->val = p;
        e->vcap = n;
    }
    memcpy(e->val, val, n);
    e->vlen = n;
    return 0;
}
