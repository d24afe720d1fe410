/*
 * timers.c - the timer service (see timers.h).
 *
 * Per domain: a binary min-heap of timer entries ordered by (time, sequence number) and
 * a hash set of the live entries over (time, key, namespace). Registering looks the
 * timer up in the set first, so a timer exists once however often it is registered;
 * deleting takes it out of the set and marks it dead, and the heap drops dead entries
 * when they reach the top, or all at once when they outnumber the live ones. Entries
 * come from size-class free lists, so registering and firing timers does not call malloc
 * once the service has warmed up.
 *
 * Moving a timer (a session window that an element extends: its timer goes from the old
 * end to the new one) re-keys the entry in place: the set slot is taken out and put back
 * under the new hash, and a new heap slot is pushed. The entry remembers the sequence
 * number of its current heap slot, so the old slot, still pointing to it, is stale and is
 * dropped like a dead one. Only the owning slot (sequence numbers equal) frees an entry;
 * a stale slot may point to an entry already on a free list or reused, which is why only
 * pooled entries (never returned to malloc while the service lives) are moved.
 *
 * Timers added with ed_timers_add_unique (the caller knows they are new and only pops
 * them: a window's timer registered with its first element) skip the set and the heap:
 * they go to a FIFO per time, the domain's queues kept in time order, written into the
 * queue's bytes (no entry of their own). Windows aligned on the same boundaries share a
 * handful of times, so adding is an append to a queue found among a few, and popping
 * reads the queue in order; a pop takes the earlier of the heap's top and the first
 * queue's head by (time, sequence number), the same total order.
 */
#include "timers.h"

#include <stdlib.h>
#include <string.h>

/* A timer; its sequence number is also in its heap slot. 40 bytes and the key and
 * namespace, so a timer of an 8-byte key in a window fits the smallest class. */
typedef struct tentry {
    union {
        int64_t time;
        struct tentry *next_free; /* on a free list */
    };
    uint64_t seq; /* of the heap slot that owns the entry */
    uint32_t hash;
    int key_group;
    uint32_t klen, nslen;
    bool dead;
    uint8_t cls;                /* size class, 255 for a malloc'd entry */
    _Alignas(8) uint8_t data[]; /* key bytes, then namespace bytes */
} tentry;

#define NCLASSES 4
static const size_t class_size[NCLASSES] = {64, 128, 256, 512};

/* Heap slots carry the ordering fields, so sifting never touches the entries. */
typedef struct hslot {
    int64_t time;
    uint64_t seq;
    tentry *e;
} hslot;

/* The slot is the entry's current one (not left behind by a move); a live timer when
 * the entry is not dead either. */
static inline bool owner(const hslot *h) { return h->seq == h->e->seq; }
static inline bool slot_live(const hslot *h) { return owner(h) && !h->e->dead; }

/* Set slots carry the entry's hash, so probing and deletion do not touch other entries. */
typedef struct sslot {
    uint32_t hash;
    tentry *e; /* NULL = empty */
} sslot;

/* A unique timer in its queue: the header, the key and namespace bytes, padded to 8. */
typedef struct qrec {
    uint64_t seq;
    int32_t key_group;
    uint32_t klen, nslen, size;
    _Alignas(8) uint8_t data[];
} qrec;

/* The unique timers of one time, in sequence order: the records in buf[head..len). */
typedef struct tqueue {
    int64_t time;
    uint8_t *buf;
    size_t head, len, cap;
} tqueue;

typedef struct domain {
    hslot *heap;
    size_t n, cap;
    sslot *set; /* open addressing, linear probing */
    uint32_t mask;
    size_t live;   /* timers in the set (and live in the heap) */
    tqueue *q;     /* by time, ascending; none empty */
    int nq, qcap;
    int qlast;     /* the queue added to last */
    size_t queued; /* timers in the queues */
} domain;

struct ed_timer_service {
    domain d[2];
    uint64_t seq;
    tentry *free_list[NCLASSES];
    tentry *last_popped; /* returned to the free lists on the next call */
    uint8_t *spare;      /* an emptied queue's bytes, for the next queue */
    size_t spare_cap;
    uint8_t *popped;     /* the key and namespace of the last timer popped from a queue */
    size_t popped_cap;
};

static void domain_init(domain *d)
{
    memset(d, 0, sizeof(*d));
    d->mask = 63;
    d->set = ed_xcalloc(d->mask + 1, sizeof(sslot));
}

ed_timer_service *ed_timers_new(void)
{
    ed_timer_service *t = ed_xcalloc(1, sizeof(*t));
    domain_init(&t->d[0]);
    domain_init(&t->d[1]);
    return t;
}

static void entry_free(ed_timer_service *t, tentry *e)
{
    if (e->cls == 255) {
        free(e);
        return;
    }
    e->next_free = t->free_list[e->cls];
    t->free_list[e->cls] = e;
}

void ed_timers_free(ed_timer_service *t)
{
    if (!t) return;
    for (int k = 0; k < 2; k++) {
        domain *d = &t->d[k];
        for (size_t i = 0; i < d->n; i++)
            if (owner(&d->heap[i])) entry_free(t, d->heap[i].e);
        free(d->heap);
        free(d->set);
        for (int q = 0; q < d->nq; q++) free(d->q[q].buf);
        free(d->q);
    }
    if (t->last_popped) entry_free(t, t->last_popped);
    free(t->spare);
    free(t->popped);
    for (int c = 0; c < NCLASSES; c++) {
        tentry *e = t->free_list[c];
        while (e) {
            tentry *n = e->next_free;
            free(e);
            e = n;
        }
    }
    free(t);
}

static uint32_t timer_hash(int64_t time, const uint8_t *key, uint32_t klen, const uint8_t *ns,
                           uint32_t nslen)
{
    uint32_t h = ed_murmur3_32(key, klen, (uint32_t)time ^ (uint32_t)((uint64_t)time >> 32));
    if (nslen) h = ed_murmur3_32(ns, nslen, h);
    return h;
}

static bool same(const tentry *e, int64_t time, const uint8_t *key, uint32_t klen,
                 const uint8_t *ns, uint32_t nslen)
{
    return e->time == time && e->klen == klen && e->nslen == nslen &&
           memcmp(e->data, key, klen) == 0 && (!nslen || memcmp(e->data + klen, ns, nslen) == 0);
}

static sslot *set_find(domain *d, uint32_t hash, int64_t time, const uint8_t *key, uint32_t klen,
                       const uint8_t *ns, uint32_t nslen)
{
    for (uint32_t i = (uint32_t)ed_mix64(hash) & d->mask;; i = (i + 1) & d->mask) {
        sslot *sl = &d->set[i];
        if (!sl->e || (sl->hash == hash && same(sl->e, time, key, klen, ns, nslen))) return sl;
    }
}

static int set_grow(domain *d)
{
    uint32_t nmask = d->mask * 2 + 1;
    sslot *ns = calloc((size_t)nmask + 1, sizeof(sslot));
    if (!ns) return -1;
    for (uint32_t i = 0; i <= d->mask; i++) {
        if (!d->set[i].e) continue;
        uint32_t j = (uint32_t)ed_mix64(d->set[i].hash) & nmask;
        while (ns[j].e) j = (j + 1) & nmask;
        ns[j] = d->set[i];
    }
    free(d->set);
    d->set = ns;
    d->mask = nmask;
    return 0;
}

/* Removes the entry at slot i with backward-shift deletion (no tombstones). */
static void set_remove_at(domain *d, uint32_t i)
{
    d->set[i].e = NULL;
    for (uint32_t j = (i + 1) & d->mask; d->set[j].e; j = (j + 1) & d->mask) {
        sslot e = d->set[j];
        uint32_t home = (uint32_t)ed_mix64(e.hash) & d->mask;
        /* e may move to the hole at i when its home is not within (i, j] */
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            d->set[i] = e;
            d->set[j].e = NULL;
            i = j;
        }
    }
}

static inline bool before(const hslot *a, const hslot *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void heap_up(domain *d, size_t i)
{
    hslot e = d->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&e, &d->heap[p])) break;
        d->heap[i] = d->heap[p];
        i = p;
    }
    d->heap[i] = e;
}

static void heap_down(domain *d, size_t i)
{
    hslot e = d->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const hslot *best = &e;
        if (l < d->n && before(&d->heap[l], best)) {
            m = l;
            best = &d->heap[l];
        }
        if (r < d->n && before(&d->heap[r], best)) m = r;
        if (m == i) break;
        d->heap[i] = d->heap[m];
        i = m;
    }
    d->heap[i] = e;
}

/* Frees the dead entries of the heap and restores the heap order. The (time, seq) order
 * is total, so timers still pop in the same order. */
static void heap_compact(ed_timer_service *t, domain *d)
{
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (slot_live(&d->heap[i]))
            d->heap[k++] = d->heap[i];
        else if (owner(&d->heap[i]))
            entry_free(t, d->heap[i].e);
    }
    d->n = k;
    for (size_t i = k / 2; i-- > 0;) heap_down(d, i);
}

/* Removes the top slot; its entry when the slot owns it, else NULL. */
static tentry *heap_pop(domain *d)
{
    tentry *top = owner(&d->heap[0]) ? d->heap[0].e : NULL;
    d->heap[0] = d->heap[--d->n];
    if (d->n) heap_down(d, 0);
    return top;
}

/* The set slot holding entry e: probing compares pointers, not keys. */
static uint32_t set_slot_of(const domain *d, const tentry *e)
{
    uint32_t i = (uint32_t)ed_mix64(e->hash) & d->mask;
    while (d->set[i].e != e) i = (i + 1) & d->mask;
    return i;
}

static void recycle_last(ed_timer_service *t)
{
    if (t->last_popped) {
        entry_free(t, t->last_popped);
        t->last_popped = NULL;
    }
}

static int heap_reserve(domain *d)
{
    if (d->n < d->cap) return 0;
    size_t cap = d->cap ? d->cap * 2 : 64;
    hslot *nh = realloc(d->heap, cap * sizeof(hslot));
    if (!nh) return -1;
    d->heap = nh;
    d->cap = cap;
    return 0;
}

/* A new entry with the next sequence number, or NULL (memory). */
static tentry *entry_new(ed_timer_service *t, int64_t time, uint32_t hash, const uint8_t *key,
                         uint32_t klen, int key_group, const uint8_t *ns, uint32_t nslen)
{
    size_t need = sizeof(tentry) + klen + nslen;
    tentry *e = NULL;
    uint8_t cls = 255;
    for (uint8_t c = 0; c < NCLASSES; c++)
        if (need <= class_size[c]) {
            cls = c;
            break;
        }
    if (cls != 255 && t->free_list[cls]) {
        e = t->free_list[cls];
        t->free_list[cls] = e->next_free;
    } else {
        e = malloc(cls != 255 ? class_size[cls] : need);
        if (!e) return NULL;
    }
    e->time = time;
    e->seq = t->seq;
    e->hash = hash;
    e->key_group = key_group;
    e->klen = klen;
    e->nslen = nslen;
    e->dead = false;
    e->cls = cls;
    memcpy(e->data, key, klen);
    if (nslen) memcpy(e->data + klen, ns, nslen);
    return e;
}

int ed_timers_register(ed_timer_service *t, eddy_time_domain dom, int64_t time,
                       const uint8_t *key, uint32_t klen, int key_group, const uint8_t *ns,
                       uint32_t nslen)
{
    /* the entry of the last pop stays: its caller may still be reading it */
    domain *d = &t->d[dom == EDDY_PROCESSING_TIME];
    uint32_t h = timer_hash(time, key, klen, ns, nslen);
    sslot *slot = set_find(d, h, time, key, klen, ns, nslen);
    if (slot->e) return 0; /* already registered */
    if ((d->live + 1) * 2 > d->mask + 1) {
        if (set_grow(d)) return -1;
        slot = set_find(d, h, time, key, klen, ns, nslen);
    }
    if (heap_reserve(d)) return -1;
    tentry *e = entry_new(t, time, h, key, klen, key_group, ns, nslen);
    if (!e) return -1;
    *slot = (sslot){h, e};
    d->live++;
    d->heap[d->n] = (hslot){time, t->seq++, e};
    heap_up(d, d->n++);
    return 0;
}

/* The queue of `time`, made (in time order) when there is none; NULL (memory). */
static tqueue *queue_of(ed_timer_service *t, domain *d, int64_t time)
{
    if (d->qlast < d->nq && d->q[d->qlast].time == time) return &d->q[d->qlast];
    int i = d->nq;
    while (i > 0 && d->q[i - 1].time >= time) i--; /* few queues: from the latest */
    if (i < d->nq && d->q[i].time == time) {
        d->qlast = i;
        return &d->q[i];
    }
    if (d->nq == d->qcap) {
        int cap = d->qcap ? d->qcap * 2 : 8;
        tqueue *nq = realloc(d->q, (size_t)cap * sizeof *nq);
        if (!nq) return NULL;
        d->q = nq;
        d->qcap = cap;
    }
    memmove(&d->q[i + 1], &d->q[i], (size_t)(d->nq - i) * sizeof *d->q);
    d->q[i] = (tqueue){.time = time, .buf = t->spare, .cap = t->spare_cap};
    t->spare = NULL;
    t->spare_cap = 0;
    d->nq++;
    d->qlast = i;
    return &d->q[i];
}

int ed_timers_add_unique(ed_timer_service *t, eddy_time_domain dom, int64_t time,
                         const uint8_t *key, uint32_t klen, int key_group, const uint8_t *ns,
                         uint32_t nslen)
{
    domain *d = &t->d[dom == EDDY_PROCESSING_TIME];
    tqueue *q = queue_of(t, d, time);
    if (!q) return -1;
    size_t size = ED_ALIGN8(sizeof(qrec) + (size_t)klen + nslen);
    if (q->len + size > q->cap) {
        size_t cap = q->cap ? q->cap : 4096;
        while (cap < q->len + size) cap *= 2;
        uint8_t *nb = realloc(q->buf, cap);
        if (!nb) return -1;
        q->buf = nb;
        q->cap = cap;
    }
    qrec *r = (qrec *)(q->buf + q->len);
    r->seq = t->seq++;
    r->key_group = key_group;
    r->klen = klen;
    r->nslen = nslen;
    r->size = (uint32_t)size;
    memcpy(r->data, key, klen);
    if (nslen) memcpy(r->data + klen, ns, nslen);
    q->len += size;
    d->queued++;
    return 0;
}

/* Takes the head of the first queue into *out, dropping the queue when it is empty. The
 * key and namespace are copied out, so that they stay valid whatever the queues do until
 * the next pop. */
static void queue_pop(ed_timer_service *t, domain *d, ed_timer *out)
{
    tqueue *q = &d->q[0];
    const qrec *r = (const qrec *)(q->buf + q->head);
    size_t n = (size_t)r->klen + r->nslen;
    if (n > t->popped_cap) {
        t->popped = ed_xrealloc(t->popped, n);
        t->popped_cap = n;
    }
    memcpy(t->popped, r->data, n);
    *out = (ed_timer){.time = q->time,
                      .key = t->popped,
                      .klen = r->klen,
                      .key_group = r->key_group,
                      .ns = t->popped + r->klen,
                      .nslen = r->nslen};
    q->head += r->size;
    d->queued--;
    if (q->head == q->len) { /* the larger of its bytes and the spare is kept */
        if (q->cap > t->spare_cap) {
            free(t->spare);
            t->spare = q->buf;
            t->spare_cap = q->cap;
        } else {
            free(q->buf);
        }
        memmove(&d->q[0], &d->q[1], (size_t)(d->nq - 1) * sizeof *d->q);
        d->nq--;
        d->qlast = 0;
    }
}

/* Whether the first queue's head comes before the heap's top (dead slots skipped). */
static inline bool queue_first(const domain *d)
{
    if (!d->nq) return false;
    if (!d->n) return true;
    const tqueue *q = &d->q[0];
    hslot qs = {q->time, ((const qrec *)(q->buf + q->head))->seq, NULL};
    return before(&qs, &d->heap[0]);
}

void ed_timers_delete(ed_timer_service *t, eddy_time_domain dom, int64_t time,
                      const uint8_t *key, uint32_t klen, const uint8_t *ns, uint32_t nslen)
{
    domain *d = &t->d[dom == EDDY_PROCESSING_TIME];
    uint32_t h = timer_hash(time, key, klen, ns, nslen);
    sslot *slot = set_find(d, h, time, key, klen, ns, nslen);
    if (!slot->e) return;
    slot->e->dead = true;
    set_remove_at(d, (uint32_t)(slot - d->set));
    d->live--;
    /* Dead entries wait in the heap for the top; when they outnumber the live ones (a
     * session window re-registering its timer with every element), drop them all so the
     * heap stays proportional to the live timers. Amortized O(1) per delete. */
    if (d->n - d->live > d->live + 1024) heap_compact(t, d);
}

int ed_timers_move(ed_timer_service *t, eddy_time_domain dom, const uint8_t *key, uint32_t klen,
                   int key_group, int64_t old_time, const uint8_t *old_ns, int64_t new_time,
                   const uint8_t *new_ns, uint32_t nslen)
{
    domain *d = &t->d[dom == EDDY_PROCESSING_TIME];
    uint32_t ho = timer_hash(old_time, key, klen, old_ns, nslen);
    sslot *os = set_find(d, ho, old_time, key, klen, old_ns, nslen);
    tentry *e = os->e;
    if (!e || e->cls == 255 || (old_time == new_time && (!nslen || !memcmp(old_ns, new_ns, nslen)))) {
        ed_timers_delete(t, dom, old_time, key, klen, old_ns, nslen);
        return ed_timers_register(t, dom, new_time, key, klen, key_group, new_ns, nslen);
    }
    uint32_t hn = timer_hash(new_time, key, klen, new_ns, nslen);
    if (set_find(d, hn, new_time, key, klen, new_ns, nslen)->e) { /* the new one exists */
        ed_timers_delete(t, dom, old_time, key, klen, old_ns, nslen);
        return 0;
    }
    if (heap_reserve(d)) return -1;
    /* re-key the entry: out of the set under the old hash, back in under the new one */
    set_remove_at(d, (uint32_t)(os - d->set));
    e->time = new_time;
    e->hash = hn;
    e->seq = t->seq;
    if (nslen) memcpy(e->data + klen, new_ns, nslen);
    uint32_t i = (uint32_t)ed_mix64(hn) & d->mask;
    while (d->set[i].e) i = (i + 1) & d->mask;
    d->set[i] = (sslot){hn, e};
    /* the old heap slot is stale now (its sequence number is not the entry's) */
    d->heap[d->n] = (hslot){new_time, t->seq++, e};
    heap_up(d, d->n++);
    if (d->n - d->live > d->live + 1024) heap_compact(t, d);
    return 0;
}

void ed_timers_prefetch(ed_timer_service *t, eddy_time_domain dom, int64_t time,
                        const uint8_t *key, uint32_t klen, const uint8_t *ns, uint32_t nslen)
{
    domain *d = &t->d[dom == EDDY_PROCESSING_TIME];
    uint32_t h = timer_hash(time, key, klen, ns, nslen);
    __builtin_prefetch(&d->set[(uint32_t)ed_mix64(h) & d->mask]);
}

/* Drops dead entries from the top of the heap. */
static void skip_dead(ed_timer_service *t, domain *d)
{
    while (d->n && !slot_live(&d->heap[0])) {
        tentry *e = heap_pop(d);
        if (e) entry_free(t, e);
    }
}

bool ed_timers_pop(ed_timer_service *t, eddy_time_domain dom, int64_t limit, ed_timer *out)
{
    recycle_last(t);
    domain *d = &t->d[dom == EDDY_PROCESSING_TIME];
    skip_dead(t, d);
    if (queue_first(d)) {
        if (d->q[0].time > limit) return false;
        queue_pop(t, d, out);
        return true;
    }
    if (!d->n || d->heap[0].time > limit) return false;
    tentry *e = heap_pop(d);
    set_remove_at(d, set_slot_of(d, e));
    d->live--;
    *out = (ed_timer){.time = e->time,
                      .key = e->data,
                      .klen = e->klen,
                      .key_group = e->key_group,
                      .ns = e->data + e->klen,
                      .nslen = e->nslen};
    t->last_popped = e; /* out points into it until the next call */
    return true;
}

bool ed_timers_peek_queued(const ed_timer_service *t, eddy_time_domain dom, int ahead,
                           const uint8_t **key, uint32_t *klen)
{
    const domain *d = &t->d[dom == EDDY_PROCESSING_TIME];
    if (!d->nq) return false;
    const tqueue *q = &d->q[0];
    size_t at = q->head;
    for (int i = 0; i < ahead && at < q->len; i++) at += ((const qrec *)(q->buf + at))->size;
    if (at >= q->len) return false;
    const qrec *r = (const qrec *)(q->buf + at);
    *key = r->data;
    *klen = r->klen;
    return true;
}

int64_t ed_timers_next(ed_timer_service *t, eddy_time_domain dom)
{
    domain *d = &t->d[dom == EDDY_PROCESSING_TIME];
    skip_dead(t, d);
    int64_t next = d->n ? d->heap[0].time : INT64_MAX;
    return d->nq && d->q[0].time < next ? d->q[0].time : next;
}

size_t ed_timers_count(ed_timer_service *t, eddy_time_domain dom)
{
    const domain *d = &t->d[dom == EDDY_PROCESSING_TIME];
    return d->live + d->queued;
}

/* A timer as snapshots list it. */
typedef struct item {
    int64_t time;
    uint64_t seq;
    ed_timer tm;
} item;

static int item_cmp(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int ed_timers_for_each(ed_timer_service *t, eddy_time_domain dom, ed_timer_fn fn, void *arg)
{
    domain *d = &t->d[dom == EDDY_PROCESSING_TIME];
    if (!d->live && !d->queued) return 0;
    item *v = malloc((d->live + d->queued) * sizeof *v);
    if (!v) return -1;
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (!slot_live(&d->heap[i])) continue;
        const tentry *e = d->heap[i].e;
        v[n++] = (item){e->time, d->heap[i].seq,
                        {.time = e->time, .key = e->data, .klen = e->klen,
                         .key_group = e->key_group, .ns = e->data + e->klen, .nslen = e->nslen}};
    }
    ed_assert(n == d->live);
    for (int k = 0; k < d->nq; k++) {
        const tqueue *q = &d->q[k];
        for (size_t at = q->head; at < q->len;) {
            const qrec *r = (const qrec *)(q->buf + at);
            v[n++] = (item){q->time, r->seq,
                            {.time = q->time, .key = r->data, .klen = r->klen,
                             .key_group = r->key_group, .ns = r->data + r->klen, .nslen = r->nslen}};
            at += r->size;
        }
    }
    qsort(v, n, sizeof *v, item_cmp);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) rc = fn(&v[i].tm, arg);
    free(v);
    return rc;
}
