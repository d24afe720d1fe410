/*
 * nexmark.c - the Nexmark queries (examples/nexmark/queries.c) beside hand-written C loops
 * that compute the same queries over the same generator, in the same run.
 *
 *   build/bench_nexmark [--quick] [--events N] [--queries q0,q5,...] [--rate EVENTS_PER_S]
 *                       [--no-latency | --latency-only]
 *   build/bench_nexmark --csv DIR [--events N]      the events as DIR/{person,auction,bid}.csv
 *
 * For each query: the baseline (one thread), then the engine at parallelism 1 on one core,
 * and at parallelism 1 and 2 on two, each run in a child process of its own (so that its
 * peak RSS is its own): events/s of the whole stream (the generator included, as the
 * published figures), events/s per CPU second of the process, peak RSS, and the ratio
 * engine/baseline. Then, per query, the latency at a fixed rate below the maximum (--rate,
 * default 200,000 events/s): the sources paced by event time, each result's arrival
 * compared with the moment it was due (see "latency" below), p50 and p99, at p=1 and p=2.
 *
 * --quick: 1 M events, one run per query, latency at p=1 over 6 s of events (q11 18 s, q12
 * 11 s): under two minutes.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../examples/nexmark/queries.c"
#include "base/base.h"
#include "bench_util.h"
#include "connectors/nexmark_gen.h"
#include "connectors/ysb_gen.h"

static int64_t events = 10000000;

/* ---- the generator loop the baselines share -------------------------------------------- */

typedef struct bgen {
    ed_nx_gen g;
    ed_nx_event ev;
} bgen;

/* extra / prices: whether the query reads them (the engine's source makes only what the
 * query's schema names; so does the baseline) */
static void bgen_init(bgen *b, bool extra, bool prices)
{
    ed_nx_config c;
    ed_nx_config_default(&c);
    c.events = events;
    if (ed_nx_gen_init(&b->g, &c, ed_nx_split_of(&c, 0, 1), 0)) abort();
    b->g.skip_extra = !extra;
    b->g.skip_prices = !prices;
}

/* The next event of one of the kinds in mask (1 << kind); false at the end. */
static inline bool bgen_next(bgen *b, unsigned mask)
{
    while (ed_nx_has_next(&b->g)) {
        if (mask & (1u << ed_nx_kind_of(&b->g, ed_nx_next_id(&b->g)))) {
            ed_nx_next(&b->g, &b->ev);
            return true;
        }
        ed_nx_skip(&b->g);
    }
    return false;
}

static volatile uint64_t sink; /* what the baselines produce goes here */
static uint64_t results;

/* ---- a small open-addressing map: int64 key -> slot of T ------------------------------- */

typedef struct imap {
    int64_t *key;
    uint32_t *val; /* index + 1 into the caller's array; 0: empty */
    size_t mask, n;
} imap;

static void imap_init(imap *m, size_t cap)
{
    size_t c = 16;
    while (c < cap * 2) c <<= 1;
    m->key = calloc(c, sizeof *m->key);
    m->val = calloc(c, sizeof *m->val);
    m->mask = c - 1;
    m->n = 0;
}
static void imap_free(imap *m)
{
    free(m->key);
    free(m->val);
}
static inline size_t imap_home(const imap *m, int64_t k)
{
    return (size_t)(ed_mix64((uint64_t)k) & m->mask);
}
/* The slot of k (its val 0 when absent). */
static inline size_t imap_slot(const imap *m, int64_t k)
{
    size_t i = imap_home(m, k);
    while (m->val[i] && m->key[i] != k) i = (i + 1) & m->mask;
    return i;
}
static void imap_grow(imap *m);
static inline void imap_put(imap *m, size_t slot, int64_t k, uint32_t v)
{
    if (!m->val[slot]) m->n++;
    m->key[slot] = k;
    m->val[slot] = v;
    if (m->n * 2 > m->mask) imap_grow(m);
}
static void imap_grow(imap *m)
{
    imap o = *m;
    imap_init(m, (o.mask + 1));
    for (size_t i = 0; i <= o.mask; i++)
        if (o.val[i]) imap_put(m, imap_slot(m, o.key[i]), o.key[i], o.val[i]);
    imap_free(&o);
}
static void imap_clear(imap *m)
{
    memset(m->val, 0, (m->mask + 1) * sizeof *m->val);
    m->n = 0;
}

/* ---- the baselines ------------------------------------------------------------------------ */

static void base_q0(void)
{
    bgen b;
    bgen_init(&b, true, true);
    while (bgen_next(&b, 1u << ED_NX_BID)) {
        const ed_nx_event *e = &b.ev;
        sink += (uint64_t)(e->bid.auction ^ e->bid.bidder ^ e->bid.price ^ e->date_time) + e->bid.extra.len;
        results++;
    }
    ed_nx_gen_free(&b.g);
}

static void base_q1(void)
{
    bgen b;
    bgen_init(&b, true, true);
    while (bgen_next(&b, 1u << ED_NX_BID)) {
        const ed_nx_event *e = &b.ev;
        double eur = 0.908 * (double)e->bid.price;
        sink += (uint64_t)(e->bid.auction ^ e->bid.bidder ^ e->date_time) + (uint64_t)eur + e->bid.extra.len;
        results++;
    }
    ed_nx_gen_free(&b.g);
}

static void base_q2(void)
{
    bgen b;
    bgen_init(&b, false, true);
    while (bgen_next(&b, 1u << ED_NX_BID))
        if (b.ev.bid.auction % 123 == 0) {
            sink += (uint64_t)(b.ev.bid.auction ^ b.ev.bid.price);
            results++;
        }
    ed_nx_gen_free(&b.g);
}

/* q3: persons of OR/ID/CA by id; auctions of category 10 waiting for their seller (a
 * seller may come up to 10 persons after the auction) */
static void base_q3(void)
{
    bgen b;
    bgen_init(&b, false, false);
    typedef struct person {
        char name[32], city[32], state[4];
    } person;
    size_t np = 0, cap = 1024, nw = 0, wcap = 1024;
    person *ps = malloc(cap * sizeof *ps);
    int64_t(*w)[2] = malloc(wcap * sizeof *w); /* (auction id, next + 1) */
    imap byid, waiting;                        /* person id -> ps + 1; seller -> w + 1 */
    imap_init(&byid, 1024);
    imap_init(&waiting, 1024);
    while (bgen_next(&b, (1u << ED_NX_PERSON) | (1u << ED_NX_AUCTION))) {
        const ed_nx_event *e = &b.ev;
        if (e->kind == ED_NX_PERSON) {
            const char *st = e->person.state.p;
            if (memcmp(st, "OR", 2) && memcmp(st, "ID", 2) && memcmp(st, "CA", 2)) continue;
            if (np == cap) ps = realloc(ps, (cap *= 2) * sizeof *ps);
            person *p = &ps[np++];
            snprintf(p->name, sizeof p->name, "%.*s", (int)e->person.name.len, e->person.name.p);
            snprintf(p->city, sizeof p->city, "%.*s", (int)e->person.city.len, e->person.city.p);
            memcpy(p->state, st, 2);
            imap_put(&byid, imap_slot(&byid, e->person.id), e->person.id, (uint32_t)np);
            size_t ws = imap_slot(&waiting, e->person.id);
            if (!waiting.val[ws]) continue;
            for (int64_t i = waiting.val[ws]; i; i = w[i - 1][1]) {
                sink += (uint64_t)w[i - 1][0] + strlen(p->name);
                results++;
            }
            waiting.val[ws] = 0; /* (a tombstone-free delete is not needed: ids are unique) */
        } else if (e->auction.category == 10) {
            size_t s = imap_slot(&byid, e->auction.seller);
            if (byid.val[s]) {
                sink += (uint64_t)e->auction.id + strlen(ps[byid.val[s] - 1].name);
                results++;
                continue;
            }
            size_t ws = imap_slot(&waiting, e->auction.seller);
            if (nw == wcap) w = realloc(w, (wcap *= 2) * sizeof *w);
            w[nw][0] = e->auction.id;
            w[nw][1] = waiting.val[ws];
            imap_put(&waiting, ws, e->auction.seller, (uint32_t)++nw);
        }
    }
    imap_free(&byid);
    imap_free(&waiting);
    free(ps);
    free(w);
    ed_nx_gen_free(&b.g);
}

/* The index + 1 of key k in the caller's array of *n, k taking the next index (*n) when it
 * has none: *fresh says so, and the caller makes that element (its array has room for
 * *cap; it grows it when *cap doubles). */
static size_t imap_index(imap *m, int64_t k, size_t *n, size_t *cap, bool *fresh)
{
    size_t s = imap_slot(m, k);
    *fresh = !m->val[s];
    if (!*fresh) return m->val[s];
    if (*n == *cap) *cap *= 2;
    imap_put(m, s, k, (uint32_t)++*n);
    return *n;
}

/* q4: auctions by id with their best bid; bids early for their auction wait; per
 * category the average of the best prices */
typedef struct auc {
    int64_t id, start, expires, category, best_price, best_time;
    int64_t early; /* first early bid + 1 */
    bool known, has_best;
} auc;

/* Bid (p, t) for auction a: a new best moves the category's average. */
static void offer4(auc *a, int64_t p, int64_t t, int64_t *sum, int64_t *cnt)
{
    if (t < a->start || t > a->expires ||
        (a->has_best && (p < a->best_price || (p == a->best_price && t >= a->best_time))))
        return;
    int64_t c = a->category & 15;
    if (a->has_best) sum[c] -= a->best_price;
    else cnt[c]++;
    sum[c] += p;
    sink += (uint64_t)(sum[c] / cnt[c]);
    a->has_best = true;
    a->best_price = p;
    a->best_time = t;
    results++;
}

static void base_q4(void)
{
    bgen b;
    bgen_init(&b, false, true);
    size_t na = 0, cap = 1 << 16, ne = 0, ecap = 1 << 16;
    auc *as = calloc(cap, sizeof *as);
    int64_t(*early)[3] = malloc(ecap * sizeof *early); /* price, time, next + 1 */
    imap byid;
    imap_init(&byid, cap);
    int64_t sum[16] = {0}, cnt[16] = {0};
    while (bgen_next(&b, (1u << ED_NX_AUCTION) | (1u << ED_NX_BID))) {
        const ed_nx_event *e = &b.ev;
        int64_t id = e->kind == ED_NX_AUCTION ? e->auction.id : e->bid.auction;
        size_t had = cap;
        bool fresh;
        size_t ix = imap_index(&byid, id, &na, &cap, &fresh);
        if (cap != had) as = realloc(as, cap * sizeof *as);
        if (fresh) as[ix - 1] = (auc){.id = id};
        auc *a = &as[ix - 1];
        if (e->kind == ED_NX_BID && a->known) {
            offer4(a, e->bid.price, e->date_time, sum, cnt);
        } else if (e->kind == ED_NX_BID) { /* before its auction: it waits */
            if (ne == ecap) early = realloc(early, (ecap *= 2) * sizeof *early);
            early[ne][0] = e->bid.price;
            early[ne][1] = e->date_time;
            early[ne][2] = a->early;
            a->early = (int64_t)++ne;
        } else {
            a->known = true;
            a->start = e->date_time;
            a->expires = e->auction.expires;
            a->category = e->auction.category;
            for (int64_t i = a->early; i; i = early[i - 1][2])
                offer4(a, early[i - 1][0], early[i - 1][1], sum, cnt);
            a->early = 0;
        }
    }
    imap_free(&byid);
    free(as);
    free(early);
    ed_nx_gen_free(&b.g);
}

/* q9 outputs the auction's fields and the winning bid's, strings included: its baseline
 * makes them (extra too, as the engine's source must), keeps them, and writes each new
 * best out as a record of those fields. Strings live in one growing arena. */
typedef struct arena9 {
    char *p;
    size_t n, cap;
} arena9;

static size_t arena9_put(arena9 *a, ed_nx_str s)
{
    if (a->n + s.len > a->cap) {
        while (a->n + s.len > a->cap) a->cap = a->cap ? a->cap * 2 : 1 << 20;
        a->p = realloc(a->p, a->cap);
    }
    memcpy(a->p + a->n, s.p, s.len);
    a->n += s.len;
    return a->n - s.len;
}

typedef struct auc9 {
    int64_t id, start, expires, initial_bid, reserve, seller, category;
    size_t item, desc, extra; /* arena offsets */
    uint32_t item_len, desc_len, extra_len;
    int64_t price, time, bidder; /* the best bid */
    size_t bextra;
    uint32_t bextra_len;
    int64_t early; /* first early bid + 1 */
    bool known, has_best;
} auc9;

typedef struct bid9 {
    int64_t price, time, bidder, next;
    size_t extra;
    uint32_t extra_len;
} bid9;

/* Bid b for auction a (its extra in the arena, or the generator's when live: kept only
 * when it is a new best). */
static void offer9(auc9 *a, const bid9 *b, ed_nx_str live, arena9 *ar, char *out)
{
    if (b->time < a->start || b->time > a->expires ||
        (a->has_best && (b->price < a->price || (b->price == a->price && b->time >= a->time))))
        return;
    a->has_best = true;
    a->price = b->price;
    a->time = b->time;
    a->bidder = b->bidder;
    a->bextra = live.p ? arena9_put(ar, live) : b->extra;
    a->bextra_len = b->extra_len;
    /* the result: auction fields, then the bid's */
    int64_t nums[11] = {a->id, a->initial_bid, a->reserve, a->start, a->expires, a->seller,
                        a->category, a->id, b->bidder, b->price, b->time};
    size_t n = 0;
    memcpy(out + n, nums, sizeof nums), n += sizeof nums;
    memcpy(out + n, ar->p + a->item, a->item_len), n += a->item_len;
    memcpy(out + n, ar->p + a->desc, a->desc_len), n += a->desc_len;
    memcpy(out + n, ar->p + a->extra, a->extra_len), n += a->extra_len;
    memcpy(out + n, ar->p + a->bextra, a->bextra_len), n += a->bextra_len;
    sink += (uint64_t)n + (uint8_t)out[n / 2];
    results++;
}

static void base_q9(void)
{
    bgen b;
    bgen_init(&b, true, true);
    size_t na = 0, cap = 1 << 16, ne = 0, ecap = 1 << 16;
    auc9 *as = calloc(cap, sizeof *as);
    bid9 *early = malloc(ecap * sizeof *early);
    arena9 ar = {0};
    char *out = malloc(1 << 16);
    imap byid;
    imap_init(&byid, cap);
    while (bgen_next(&b, (1u << ED_NX_AUCTION) | (1u << ED_NX_BID))) {
        const ed_nx_event *e = &b.ev;
        int64_t id = e->kind == ED_NX_AUCTION ? e->auction.id : e->bid.auction;
        size_t had = cap;
        bool fresh;
        size_t ix = imap_index(&byid, id, &na, &cap, &fresh);
        if (cap != had) as = realloc(as, cap * sizeof *as);
        if (fresh) as[ix - 1] = (auc9){.id = id};
        auc9 *a = &as[ix - 1];
        if (e->kind == ED_NX_BID) {
            bid9 bd = {e->bid.price, e->date_time, e->bid.bidder, 0, 0, e->bid.extra.len};
            if (a->known) {
                offer9(a, &bd, e->bid.extra, &ar, out);
            } else { /* before its auction: it waits */
                if (ne == ecap) early = realloc(early, (ecap *= 2) * sizeof *early);
                bd.extra = arena9_put(&ar, e->bid.extra);
                bd.next = a->early;
                early[ne] = bd;
                a->early = (int64_t)++ne;
            }
        } else {
            a->known = true;
            a->start = e->date_time;
            a->expires = e->auction.expires;
            a->initial_bid = e->auction.initial_bid;
            a->reserve = e->auction.reserve;
            a->seller = e->auction.seller;
            a->category = e->auction.category;
            a->item_len = e->auction.item_name.len;
            a->item = arena9_put(&ar, e->auction.item_name);
            a->desc_len = e->auction.description.len;
            a->desc = arena9_put(&ar, e->auction.description);
            a->extra_len = e->auction.extra.len;
            a->extra = arena9_put(&ar, e->auction.extra);
            for (int64_t i = a->early; i; i = early[i - 1].next)
                offer9(a, &early[i - 1], (ed_nx_str){0}, &ar, out);
            a->early = 0;
        }
    }
    imap_free(&byid);
    free(as);
    free(early);
    free(ar.p);
    free(out);
    ed_nx_gen_free(&b.g);
}

/* q5: per window of 10 s sliding by 2 s, a count per auction; at the window's end (the
 * watermark, dateTime - 4 s, past it) the auctions of the largest count */
#define Q5_SLOTS 16
typedef struct win5 {
    int64_t start;
    imap m;
    int64_t *cnt, *ids;
    size_t n, cap;
    bool used;
} win5;

static void fire5(win5 *x)
{
    int64_t best = 0;
    for (size_t i = 0; i < x->n; i++)
        if (x->cnt[i] > best) best = x->cnt[i];
    for (size_t i = 0; i < x->n; i++)
        if (x->cnt[i] == best) {
            sink += (uint64_t)x->ids[i];
            results++;
        }
    imap_clear(&x->m);
    x->n = 0;
    x->used = false;
}

static void base_q5(void)
{
    bgen b;
    bgen_init(&b, false, false);
    win5 w[Q5_SLOTS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < Q5_SLOTS; i++) imap_init(&w[i].m, 8192);
    int64_t wm = INT64_MIN, next_fire = INT64_MIN, last_start = INT64_MIN;
    for (bool more = true; more;) {
        more = bgen_next(&b, 1u << ED_NX_BID);
        int64_t t = b.ev.date_time;
        wm = !more ? INT64_MAX : t - 4001 > wm ? t - 4001 : wm;
        /* windows whose end has passed, in order */
        while (next_fire != INT64_MIN && next_fire <= last_start &&
               (wm == INT64_MAX || next_fire + 10000 - 1 <= wm)) {
            win5 *x = &w[((next_fire / 2000) % Q5_SLOTS + Q5_SLOTS) % Q5_SLOTS];
            if (x->used && x->start == next_fire) fire5(x);
            next_fire += 2000;
        }
        if (!more) break;
        int64_t a = b.ev.bid.auction;
        for (int64_t s = t - t % 2000 - 8000; s <= t; s += 2000) {
            win5 *x = &w[((s / 2000) % Q5_SLOTS + Q5_SLOTS) % Q5_SLOTS];
            if (!x->used) {
                x->used = true;
                x->start = s;
                if (next_fire == INT64_MIN) next_fire = s;
                if (s > last_start) last_start = s;
            }
            size_t slot = imap_slot(&x->m, a);
            if (!x->m.val[slot]) {
                if (x->n == x->cap) {
                    x->cap = x->cap ? 2 * x->cap : 1024;
                    x->cnt = realloc(x->cnt, x->cap * sizeof *x->cnt);
                    x->ids = realloc(x->ids, x->cap * sizeof *x->ids);
                }
                x->ids[x->n] = a;
                x->cnt[x->n] = 0;
                imap_put(&x->m, slot, a, (uint32_t)++x->n);
                slot = imap_slot(&x->m, a);
            }
            x->cnt[x->m.val[slot] - 1]++;
        }
    }
    for (int i = 0; i < Q5_SLOTS; i++) {
        imap_free(&w[i].m);
        free(w[i].cnt);
        free(w[i].ids);
    }
    ed_nx_gen_free(&b.g);
}

/* q7: per 10 s window, its maximum price and the bids at it (a bid at a window's end also
 * meets the window before) */
static void base_q7(void)
{
    bgen b;
    bgen_init(&b, true, true);
    struct w7 {
        int64_t k, max;
        int64_t (*best)[4];
        size_t n, cap;
        bool used;
    } w[4];
    memset(w, 0, sizeof w);
    int64_t wm = INT64_MIN;
    for (bool more = true; more;) {
        more = bgen_next(&b, 1u << ED_NX_BID);
        int64_t t = more ? b.ev.date_time : INT64_MAX;
        wm = more ? (t - 4001 > wm ? t - 4001 : wm) : INT64_MAX;
        for (int i = 0; i < 4; i++) {
            struct w7 *x = &w[i];
            if (!x->used || (x->k + 1) * 10000 - 1 > wm) continue;
            for (size_t j = 0; j < x->n; j++)
                if (x->best[j][2] == x->max) {
                    sink += (uint64_t)(x->best[j][0] ^ x->best[j][1] ^ x->best[j][3]);
                    results++;
                }
            x->used = false;
            x->n = 0;
        }
        if (!more) break;
        const ed_nx_event *e = &b.ev;
        int64_t k = t / 10000;
        for (int64_t kk = k; kk >= k - 1 && kk >= 0; kk--) {
            bool edge = kk != k;
            if (edge && t % 10000) break;
            struct w7 *x = &w[kk % 4];
            if (!x->used) {
                x->used = true;
                x->k = kk;
                x->max = -1;
                x->n = 0;
            }
            if (!edge) {
                if (e->bid.price < x->max) continue;
                if (e->bid.price > x->max) {
                    /* keep only the edge bids (they are compared at the end) */
                    size_t m = 0;
                    for (size_t j = 0; j < x->n; j++)
                        if (x->best[j][3] == (x->k + 1) * 10000) memcpy(x->best[m++], x->best[j], sizeof x->best[j]);
                    x->n = m;
                    x->max = e->bid.price;
                }
            }
            if (x->n == x->cap) {
                x->cap = x->cap ? 2 * x->cap : 64;
                x->best = realloc(x->best, x->cap * sizeof *x->best);
            }
            int64_t *r = x->best[x->n++];
            r[0] = e->bid.auction;
            r[1] = e->bid.bidder;
            r[2] = e->bid.price;
            r[3] = t;
            sink += e->bid.extra.len;
        }
    }
    for (int i = 0; i < 4; i++) free(w[i].best);
    ed_nx_gen_free(&b.g);
}

/* q8: per 10 s window, the persons who registered and the sellers of auctions */
static void base_q8(void)
{
    bgen b;
    bgen_init(&b, false, false);
    struct w8 {
        int64_t k;
        imap sellers;
        int64_t *ids;
        size_t n, cap;
        bool used;
    } w[2];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 2; i++) imap_init(&w[i].sellers, 4096);
    int64_t wm = INT64_MIN;
    for (bool more = true; more;) {
        more = bgen_next(&b, (1u << ED_NX_PERSON) | (1u << ED_NX_AUCTION));
        int64_t t = more ? b.ev.date_time : INT64_MAX;
        wm = more ? (t - 4001 > wm ? t - 4001 : wm) : INT64_MAX;
        for (int i = 0; i < 2; i++) {
            struct w8 *x = &w[i];
            if (!x->used || (x->k + 1) * 10000 - 1 > wm) continue;
            for (size_t j = 0; j < x->n; j++)
                if (x->sellers.val[imap_slot(&x->sellers, x->ids[j])]) {
                    sink += (uint64_t)x->ids[j];
                    results++;
                }
            imap_clear(&x->sellers);
            x->n = 0;
            x->used = false;
        }
        if (!more) break;
        int64_t k = t / 10000;
        struct w8 *x = &w[k % 2];
        if (!x->used) {
            x->used = true;
            x->k = k;
        }
        if (b.ev.kind == ED_NX_PERSON) {
            if (x->n == x->cap) {
                x->cap = x->cap ? 2 * x->cap : 1024;
                x->ids = realloc(x->ids, x->cap * sizeof *x->ids);
            }
            x->ids[x->n++] = b.ev.person.id;
            sink += b.ev.person.name.len;
        } else {
            size_t s = imap_slot(&x->sellers, b.ev.auction.seller);
            if (!x->sellers.val[s]) imap_put(&x->sellers, s, b.ev.auction.seller, 1);
        }
    }
    for (int i = 0; i < 2; i++) {
        imap_free(&w[i].sellers);
        free(w[i].ids);
    }
    ed_nx_gen_free(&b.g);
}

/* q11: per bidder, the open session (start, last, count), emitted when a bid comes after
 * it or at the end */
static void base_q11(void)
{
    bgen b;
    bgen_init(&b, false, false);
    size_t cap = 1 << 16, n = 0;
    int64_t(*s)[3] = malloc(cap * sizeof *s);
    imap by;
    imap_init(&by, cap);
    while (bgen_next(&b, 1u << ED_NX_BID)) {
        int64_t bidder = b.ev.bid.bidder, t = b.ev.date_time;
        size_t slot = imap_slot(&by, bidder);
        if (!by.val[slot]) {
            if (n == cap) s = realloc(s, (cap *= 2) * sizeof *s);
            s[n][0] = t;
            s[n][1] = t;
            s[n][2] = 1;
            imap_put(&by, slot, bidder, (uint32_t)++n);
            continue;
        }
        int64_t *x = s[by.val[slot] - 1];
        if (t < x[1] + 10000) {
            x[2]++;
            if (t > x[1]) x[1] = t;
        } else {
            sink += (uint64_t)(x[0] ^ x[2]);
            results++;
            x[0] = x[1] = t;
            x[2] = 1;
        }
    }
    results += n;
    imap_free(&by);
    free(s);
    ed_nx_gen_free(&b.g);
}

/* q12: per bidder, bids in 10 s windows of processing time */
static void base_q12(void)
{
    bgen b;
    bgen_init(&b, false, false);
    size_t cap = 1 << 16, n = 0;
    int64_t *cnt = malloc(cap * sizeof *cnt);
    imap by;
    imap_init(&by, cap);
    int64_t end = (ed_wall_ms() / 10000 + 1) * 10000;
    for (uint64_t i = 0; bgen_next(&b, 1u << ED_NX_BID); i++) {
        if ((i & 1023) == 0 && ed_wall_ms() >= end) {
            results += n;
            imap_clear(&by);
            n = 0;
            end += 10000;
        }
        size_t slot = imap_slot(&by, b.ev.bid.bidder);
        if (!by.val[slot]) {
            if (n == cap) cnt = realloc(cnt, (cap *= 2) * sizeof *cnt);
            cnt[n] = 0;
            imap_put(&by, slot, b.ev.bid.bidder, (uint32_t)++n);
            slot = imap_slot(&by, b.ev.bid.bidder);
        }
        cnt[by.val[slot] - 1]++;
    }
    imap_free(&by);
    free(cnt);
    ed_nx_gen_free(&b.g);
}

/* YSB: the views; each ad id (a UUID string, as the events carry it) looked up in a hash
 * table of the 1,000 ads for its campaign; counts per campaign and 10 s window, emitted when
 * the window has passed */
static void base_ysb(void)
{
    static char ad[ED_YSB_ADS][37], campaign[ED_YSB_ADS][37];
    enum { CAP = 4096 };
    static int16_t slot_ad[CAP];
    for (int k = 0; k < ED_YSB_ADS; k++) ed_ysb_ad(0, k, ad[k], campaign[k]);
    memset(slot_ad, -1, sizeof slot_ad);
    for (int k = 0; k < ED_YSB_ADS; k++) {
        uint32_t h = ed_murmur3_32(ad[k], 36, 0) & (CAP - 1);
        while (slot_ad[h] >= 0) h = (h + 1) & (CAP - 1);
        slot_ad[h] = (int16_t)k;
    }
    int64_t count[2][ED_YSB_CAMPAIGNS] = {{0}}, win[2] = {-1, -1};
    ed_ysb_event e = {0};
    for (int64_t i = 0; i <= events; i++) {
        int64_t w = -1;
        if (i < events) {
            ed_ysb_event_at(0, i, 0, 100000, 0, &e);
            w = e.event_time / 10000;
        }
        for (int s = 0; s < 2; s++) /* windows before this event's: out */
            if (win[s] >= 0 && (i == events || win[s] < w)) {
                for (int c = 0; c < ED_YSB_CAMPAIGNS; c++)
                    if (count[s][c]) {
                        sink += (uint64_t)count[s][c] + (uint64_t)campaign[c * 10][0];
                        results++;
                        count[s][c] = 0;
                    }
                win[s] = -1;
            }
        if (i == events) break;
        if (e.event_type != 0) continue;
        const char *id = ad[e.ad]; /* the event's ad_id */
        uint32_t h = ed_murmur3_32(id, 36, 0) & (CAP - 1);
        while (memcmp(ad[slot_ad[h]], id, 36)) h = (h + 1) & (CAP - 1);
        int s = (int)(w & 1);
        win[s] = w;
        count[s][slot_ad[h] / 10]++;
    }
}

static void (*const baselines[])(void) = {base_q0, base_q1, base_q2, base_q3,  base_q4, base_q5,
                                          base_q7, base_q8, base_q9, base_q11, base_q12, base_ysb};

/* ---- runs in child processes -------------------------------------------------------------- */

typedef struct measure {
    double secs, cpu;
    long rss_kb;
    uint64_t results;
    double p50, p99; /* latency runs, ms */
    uint64_t at_end;  /* latency runs: results due after the last event */
    int ok;
} measure;

static const char *rate_opt; /* --rate: the stream's event rate (timestamps) */

/* p < 0: parallelism 1 on one core */
static void engine_run(const char *q, int p, measure *m)
{
    if (p < 0) {
        bench_use_cores(1);
        p = 1;
    }
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, p);
    eddy_env_set(env, "log.level", "WARN");
    bench_apply_conf(env);
    char ev[32];
    snprintf(ev, sizeof ev, "%lld", (long long)events);
    nexmark_options o = {.events = ev, .base_time = "0", .rate = rate_opt};
    eddy_stream *s = nexmark_query(env, q, &o);
    if (!s || eddy_discard(s)) {
        fprintf(stderr, "bench: %s: %s\n", q, eddy_env_error(env));
        return;
    }
    double t0 = bench_now_s();
    if (eddy_execute(env, q)) {
        fprintf(stderr, "bench: %s: %s\n", q, eddy_env_error(env));
        return;
    }
    m->secs = bench_now_s() - t0;
    m->ok = 1;
    eddy_env_free(env);
}

/* Runs fn(q, p, m) in a child; its measure (wall, CPU, peak RSS) comes back in a pipe. */
static measure in_child(void (*fn)(const char *, int, measure *), const char *q, int p)
{
    measure m = {0};
    int fd[2];
    if (pipe(fd)) return m;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        double c0 = bench_cpu_s();
        fn(q, p, &m);
        m.cpu = bench_cpu_s() - c0;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        m.rss_kb = ru.ru_maxrss;
        if (write(fd[1], &m, sizeof m) != sizeof m) _exit(1);
        _exit(0);
    }
    close(fd[1]);
    if (read(fd[0], &m, sizeof m) != sizeof m) m.ok = 0;
    close(fd[0]);
    waitpid(pid, NULL, 0);
    return m;
}

static int query_index(const char *q)
{
    for (size_t i = 0; i < sizeof nexmark_queries / sizeof nexmark_queries[0]; i++)
        if (strcmp(nexmark_queries[i].name, q) == 0) return (int)i;
    return -1;
}

static void baseline_run(const char *q, int p, measure *m)
{
    double t0 = bench_now_s();
    baselines[query_index(q)]();
    m->secs = bench_now_s() - t0;
    m->results = results;
    m->ok = 1;
}

/* ---- latency at a fixed rate --------------------------------------------------------------
 * The sources are paced (max-emit-speed false): the event of time T leaves the source at
 * t0 + (T - base) of the monotonic clock, t0 the job's submission. A result of timestamp t is
 * due when the event that makes it known has left: at event time t + due_after (the
 * query's table entry). Its latency is its arrival at the end of the job minus that.
 * Results due after the stream's last event are fired by the end of the input, not by
 * time: not counted. Processing-time results (q12) are due at t + 1 of the clock. */

static double *lat;
static atomic_size_t nlat, nlat_end;
static size_t lat_cap;
static int64_t lat_due_after, lat_base, lat_last; /* event times */
static int64_t lat_t0_ns; /* when the job was submitted: the sources' base time */

int bench_nx_latency(eddy_ctx *ctx, const eddy_row *in)
{
    int64_t ts = eddy_ctx_timestamp(ctx);
    double d;
    if (lat_due_after == NXQ_PROCESSING_TIME) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        d = (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6 - (double)(ts + 1);
    } else {
        int64_t due = ts + lat_due_after;
        if (due > lat_last) {
            atomic_fetch_add(&nlat_end, 1);
            return 0;
        }
        d = (double)(ed_mono_ns() - lat_t0_ns) / 1e6 - (double)(due - lat_base);
    }
    size_t i = atomic_fetch_add(&nlat, 1);
    if (i < lat_cap) lat[i] = d;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void latency_run(const char *q, int p, measure *m)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, p);
    eddy_env_set(env, "log.level", "WARN");
    bench_apply_conf(env);
    double rate = atof(rate_opt);
    /* a 10 s window boundary (and a 2 s one) 300 ms after the start */
    lat_base = ed_wall_ms() / NX_WINDOW_MS * NX_WINDOW_MS + NX_WINDOW_MS - 300;
    lat_last = lat_base + (int64_t)((double)(events - 1) * 1000.0 / rate);
    lat_due_after = nexmark_queries[query_index(q)].due_after;
    char ev[32], base[32];
    snprintf(ev, sizeof ev, "%lld", (long long)events);
    snprintf(base, sizeof base, "%lld", (long long)lat_base);
    nexmark_options o = {.events = ev, .base_time = base, .rate = rate_opt, .paced = true};
    eddy_stream *s = nexmark_query(env, q, &o);
    eddy_stream *f = eddy_filter(s, EDDY_FN(bench_nx_latency));
    if (!f || eddy_discard(f)) return;
    double t0 = bench_now_s();
    lat_t0_ns = ed_mono_ns(); /* the job's submission, microseconds before its own reading */
    if (eddy_execute(env, q)) {
        fprintf(stderr, "bench: %s: %s\n", q, eddy_env_error(env));
        return;
    }
    m->secs = bench_now_s() - t0;
    size_t n = atomic_load(&nlat) < lat_cap ? atomic_load(&nlat) : lat_cap;
    qsort(lat, n, sizeof *lat, cmp_double);
    m->p50 = n ? lat[n / 2] : NAN;
    m->p99 = n ? lat[n * 99 / 100] : NAN;
    m->results = n;
    m->at_end = atomic_load(&nlat_end);
    m->ok = 1;
    eddy_env_free(env);
}

/* Seconds of event time each query's latency run lasts: long enough for its results to be
 * due inside the run. The stream starts 300 ms before a 10 s boundary: 10 s windows are due
 * 4.3 s, 14.3 s, 24.3 s into it; q5's 2 s slides every 2 s from 4.3 s; q11's sessions 10 s
 * after a bidder's last bid and 4 s more (bidders are active for a fraction of a second);
 * q12's windows at the clock's 10 s boundaries. */
static double latency_secs(const char *q, bool quick)
{
    int64_t due = nexmark_queries[query_index(q)].due_after;
    if (!strcmp(q, "q11")) return quick ? 18 : 30;
    if (due == NXQ_PROCESSING_TIME) return quick ? 11 : 21;
    if (due == NXQ_AT_EVENT) return quick ? 3 : 10;
    if (!strcmp(q, "q5")) return quick ? 8 : 16;
    return quick ? 6 : 26;
}

/* ---- CSV ---------------------------------------------------------------------------------- */

static void csv_str(FILE *f, ed_nx_str s)
{
    fputc('"', f);
    for (uint32_t i = 0; i < s.len; i++) {
        if (s.p[i] == '"') fputc('"', f);
        fputc(s.p[i], f);
    }
    fputc('"', f);
}

static int write_csv(const char *dir)
{
    mkdir(dir, 0755);
    char path[3][600];
    FILE *f[3];
    static const char *const names[] = {"person", "auction", "bid"};
    static const char *const heads[] = {
        "id,name,emailAddress,creditCard,city,state,dateTime,extra",
        "id,itemName,description,initialBid,reserve,dateTime,expires,seller,category,extra",
        "auction,bidder,price,channel,url,dateTime,extra"};
    for (int k = 0; k < 3; k++) {
        snprintf(path[k], sizeof path[k], "%s/%s.csv", dir, names[k]);
        if (!(f[k] = fopen(path[k], "w"))) {
            fprintf(stderr, "bench_nexmark: %s: %s\n", path[k], strerror(errno));
            return 1;
        }
        fprintf(f[k], "%s\n", heads[k]);
    }
    bgen b;
    bgen_init(&b, true, true);
    while (bgen_next(&b, 7)) {
        const ed_nx_event *e = &b.ev;
        FILE *o = f[e->kind];
        switch (e->kind) {
        case ED_NX_PERSON:
            fprintf(o, "%lld,", (long long)e->person.id);
            csv_str(o, e->person.name), fputc(',', o), csv_str(o, e->person.email), fputc(',', o);
            csv_str(o, e->person.credit_card), fputc(',', o), csv_str(o, e->person.city), fputc(',', o);
            csv_str(o, e->person.state);
            fprintf(o, ",%lld,", (long long)e->date_time);
            csv_str(o, e->person.extra);
            break;
        case ED_NX_AUCTION:
            fprintf(o, "%lld,", (long long)e->auction.id);
            csv_str(o, e->auction.item_name), fputc(',', o), csv_str(o, e->auction.description);
            fprintf(o, ",%lld,%lld,%lld,%lld,%lld,%lld,", (long long)e->auction.initial_bid,
                    (long long)e->auction.reserve, (long long)e->date_time,
                    (long long)e->auction.expires, (long long)e->auction.seller,
                    (long long)e->auction.category);
            csv_str(o, e->auction.extra);
            break;
        case ED_NX_BID:
            fprintf(o, "%lld,%lld,%lld,", (long long)e->bid.auction, (long long)e->bid.bidder,
                    (long long)e->bid.price);
            csv_str(o, e->bid.channel), fputc(',', o), csv_str(o, e->bid.url);
            fprintf(o, ",%lld,", (long long)e->date_time);
            csv_str(o, e->bid.extra);
            break;
        }
        fputc('\n', o);
    }
    ed_nx_gen_free(&b.g);
    int rc = 0;
    for (int k = 0; k < 3; k++)
        if (fclose(f[k])) rc = 1;
    printf("%lld events (base time 0, default options) in %s/{person,auction,bid}.csv; "
           "dateTime and expires in ms since the epoch\n", (long long)events, dir);
    return rc;
}

/* ---- main ------------------------------------------------------------------------------------ */

/* Whether --queries (a comma-separated list; NULL: all) names q. */
static bool wanted(const char *only, const char *q)
{
    if (!only) return true;
    size_t n = strlen(q);
    for (const char *at = only; (at = strstr(at, q)); at++)
        if ((at == only || at[-1] == ',') && (!at[n] || at[n] == ',')) return true;
    return false;
}

int main(int argc, char **argv)
{
    const char *only = NULL, *csv = NULL;
    bool quick = false, throughput = true, latency = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = true;
        else if (!strcmp(argv[i], "--no-latency")) latency = false;
        else if (!strcmp(argv[i], "--latency-only")) throughput = false;
        else if (i + 1 < argc && !strcmp(argv[i], "--events")) events = atoll(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--queries")) only = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--rate")) rate_opt = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--csv")) csv = argv[++i];
        else {
            fprintf(stderr, "usage: bench_nexmark [--quick] [--events N] [--queries q0,q5,...] "
                            "[--rate EVENTS_PER_S] [--no-latency | --latency-only]\n"
                            "       bench_nexmark --csv DIR [--events N]\n");
            return 2;
        }
    }
    if (quick && events == 10000000) events = 1000000;
    if (events <= 0) return 2;
    if (csv) return write_csv(csv);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char load[64] = "?";
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (!fgets(load, sizeof load, lf)) snprintf(load, sizeof load, "?");
        fclose(lf);
        load[strcspn(load, "\n")] = 0;
    }
    printf("nexmark: %lld events per run (the generator included), %ld CPUs, load %s\n",
           (long long)events, cpus, load);
    if (throughput)
        printf("%-4s %-9s %14s %12s %14s %10s %8s\n", "q", "run", "events/s", "ratio",
               "ev/s per CPU-s", "peak RSS", "results");
    for (size_t qi = 0; throughput && qi < sizeof nexmark_queries / sizeof nexmark_queries[0]; qi++) {
        const char *q = nexmark_queries[qi].name;
        if (!wanted(only, q)) continue;
        measure base = in_child(baseline_run, q, 1);
        double bps = base.ok ? (double)events / base.secs : 0;
        printf("%-4s %-9s %14.0f %12s %14.0f %8ld MB %8llu\n", q, "baseline", bps, "1.00",
               base.ok ? (double)events / base.cpu : 0, base.rss_kb / 1024,
               (unsigned long long)base.results);
        double one = 0, two = 0; /* events/s on one core; the best on two */
        for (int p = -1; p <= 2; p++) {
            if (p == 0) continue;
            measure m = in_child(engine_run, q, p);
            char run[16];
            snprintf(run, sizeof run, p < 0 ? "eddy 1cpu" : "eddy p=%d", p);
            if (!m.ok) {
                printf("%-4s %-9s failed\n", q, run);
                continue;
            }
            double eps = (double)events / m.secs;
            if (p < 0) one = eps;
            else if (eps > two) two = eps;
            printf("%-4s %-9s %14.0f %12.3f %14.0f %8ld MB\n", q, run, eps, bps ? eps / bps : 0,
                   (double)events / m.cpu, m.rss_kb / 1024);
        }
        if (one > 0) printf("%-4s 1 -> 2 cores: %.2fx\n", q, two / one);
        fflush(stdout);
    }
    /* latency: a fixed rate below the maximum (default: 200,000 events/s of event time) */
    if (latency) {
        if (!rate_opt) rate_opt = "200000";
        int64_t keep = events;
        printf("latency at %s events/s (paced by event time), p=1%s: result arrival - the time "
               "it is due\n", rate_opt, quick ? "" : " and p=2");
        for (size_t qi = 0; qi < sizeof nexmark_queries / sizeof nexmark_queries[0]; qi++) {
            const char *q = nexmark_queries[qi].name;
            if (!wanted(only, q)) continue;
            double secs = latency_secs(q, quick);
            events = (int64_t)(secs * atof(rate_opt));
            lat_cap = (size_t)events;
            lat = malloc(lat_cap * sizeof *lat);
            for (int p = 1; p <= (quick ? 1 : 2) && lat; p++) {
                atomic_store(&nlat, 0);
                atomic_store(&nlat_end, 0);
                measure m = in_child(latency_run, q, p);
                if (!m.ok)
                    printf("%-4s p=%d latency run failed\n", q, p);
                else if (!m.results)
                    printf("%-4s p=%d %4.0f s: no result due inside the run\n", q, p, secs);
                else
                    printf("%-4s p=%d %4.0f s: p50 %6.1f ms  p99 %6.1f ms  (%llu results; %llu due "
                           "after the last event)\n", q, p, secs, m.p50, m.p99,
                           (unsigned long long)m.results, (unsigned long long)m.at_end);
                fflush(stdout);
            }
            free(lat);
        }
        events = keep;
    }
    return 0;
}
