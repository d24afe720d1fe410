/*
 * nexmark_gen.h - the Nexmark event generator (the `nexmark` source, the CSV writer and
 * the benchmark baselines all use it).
 *
 * It follows the reference generator (nexmark/nexmark, after Apache Beam's): one stream of
 * persons, auctions and bids interleaved by event id in the configured proportions; every
 * event's fields are drawn from a java.util.Random seeded with the event's id, so an event
 * depends only on its id and the configuration, and any range of events can be generated
 * on its own. Two points differ from the newest reference, which draws from one unseeded
 * generator and so cannot repeat a run:
 *   - bids carry channel and url (the newer reference's columns) from the same per-event
 *     generator, after the price; the url of each of the 10,000 channels and of the four
 *     hot channels is drawn from java.util.Random seeded with ED_NX_URL_SEED + number
 *     (the reference draws them unseeded);
 *   - a bid's bidder is a person id (FIRST_PERSON_ID added once, as Beam and the first
 *     reference; the newer reference adds it twice, nexmark/nexmark#30).
 * Ids start at event id 2 (first event id 1, first event number 1, as the reference's
 * table factory); timestamps are base_time + (long)(n * inter_event_delay_us) / 1000 for
 * event number n, inter_event_delay_us = 1e6 / first_event_rate * generators.
 *
 * Splits: split i of n (ed_nx_split) is a contiguous block of event ids, as the reference's
 * GeneratorConfig.split; each split numbers its events from 1 again, so the n timelines
 * run side by side and together keep the configured rate. A split's position is the count
 * of events it has produced.
 *
 * Nothing here allocates per event: strings are written into buffers the generator owns,
 * valid until its next event.
 */
#ifndef ED_NEXMARK_GEN_H
#define ED_NEXMARK_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ED_NX_FIRST_PERSON_ID 1000
#define ED_NX_FIRST_AUCTION_ID 1000
#define ED_NX_FIRST_CATEGORY_ID 10
#define ED_NX_URL_SEED 0x6e65786d61726bLL /* "nexmark" */
#define ED_NX_MAX_AVG_SIZE (1 << 20)     /* the largest *.avg-size accepted */

/* java.util.Random, exactly. */
typedef struct ed_jrandom {
    uint64_t s;
} ed_jrandom;

static inline void ed_jr_seed(ed_jrandom *r, int64_t seed)
{
    r->s = ((uint64_t)seed ^ 0x5DEECE66DULL) & ((1ULL << 48) - 1);
}
static inline int32_t ed_jr_next(ed_jrandom *r, int bits)
{
    r->s = (r->s * 0x5DEECE66DULL + 0xBULL) & ((1ULL << 48) - 1);
    return (int32_t)(uint32_t)(r->s >> (48 - bits));
}
static inline int32_t ed_jr_int(ed_jrandom *r) { return ed_jr_next(r, 32); }
/* nextInt(bound), bound > 0 */
static inline int32_t ed_jr_below(ed_jrandom *r, int32_t bound)
{
    int32_t x = ed_jr_next(r, 31);
    int32_t m = bound - 1;
    if ((bound & m) == 0) return (int32_t)(((int64_t)bound * x) >> 31);
    for (int32_t u = x; (int32_t)((uint32_t)u - (uint32_t)(x = u % bound) + (uint32_t)m) < 0;
         u = ed_jr_next(r, 31))
        ;
    return x;
}
static inline int64_t ed_jr_long(ed_jrandom *r)
{
    int64_t hi = ed_jr_next(r, 32), lo = ed_jr_next(r, 32);
    return (int64_t)(((uint64_t)hi << 32) + (uint64_t)lo);
}
static inline double ed_jr_double(ed_jrandom *r)
{
    int64_t a = ed_jr_next(r, 26), b = ed_jr_next(r, 27);
    return (double)((a << 27) + b) * 0x1.0p-53;
}

typedef struct ed_nx_config {
    int64_t first_event_rate, next_event_rate; /* events/s (next: accepted, unused) */
    int64_t events;                            /* events.num; 0: unbounded */
    int person_proportion, auction_proportion, bid_proportion;
    int avg_person_size, avg_auction_size, avg_bid_size;
    int hot_auction_ratio, hot_bidders_ratio, hot_sellers_ratio;
    int num_active_people, num_in_flight_auctions;
    int64_t out_of_order_group_size;
    int64_t base_time; /* ms: the timestamp of the first events */
    int generators;    /* splits the stream is generated in (the first run's parallelism) */
} ed_nx_config;

/* The reference's defaults (rate 10,000/s, 1:3:46, 200/500/100 bytes, hot ratios 2/4/4,
 * 1,000 active people, 100 auctions in flight), unbounded, base time 0, one generator. */
void ed_nx_config_default(ed_nx_config *c);
/* Checks a configuration; NULL, or what is wrong (a static string). */
const char *ed_nx_config_check(const ed_nx_config *c);

typedef enum ed_nx_kind { ED_NX_PERSON = 0, ED_NX_AUCTION = 1, ED_NX_BID = 2 } ed_nx_kind;

/* A block of the stream: event ids first_id + number for number in [1, events] (with
 * out-of-order groups: a permutation within each group). */
typedef struct ed_nx_split {
    int64_t first_id;
    int64_t events;
} ed_nx_split;
/* Split i of n of the configured stream (n = c->generators for the reference's layout). */
ed_nx_split ed_nx_split_of(const ed_nx_config *c, int i, int n);

typedef struct ed_nx_str {
    const char *p;
    uint32_t len;
} ed_nx_str;

typedef struct ed_nx_event {
    ed_nx_kind kind;
    int64_t id;        /* the event id */
    int64_t date_time; /* ms */
    union {
        struct {
            int64_t id;
            ed_nx_str name, email, credit_card, city, state, extra;
        } person;
        struct {
            int64_t id, initial_bid, reserve, expires, seller, category;
            ed_nx_str item_name, description, extra;
        } auction;
        struct {
            int64_t auction, bidder, price;
            ed_nx_str channel, url, extra;
        } bid;
    };
} ed_nx_event;

/* A generator of one split, at a position (events produced so far). */
typedef struct ed_nx_gen {
    ed_nx_config c;
    ed_nx_split split;
    int64_t count;
    int total; /* the sum of the proportions */
    double delay_us;
    bool skip_extra; /* extra is left empty (not drawn: it is each event's last draw, so
                      * nothing else changes) */
    bool skip_prices; /* prices are 0: their draws are made (the fields after them depend
                       * on the generator's state), only the pow() is not */
    char *buf; /* the current event's strings */
    size_t cap;
} ed_nx_gen;

/* 0, or -1 when out of memory. */
int ed_nx_gen_init(ed_nx_gen *g, const ed_nx_config *c, ed_nx_split split, int64_t count);
void ed_nx_gen_free(ed_nx_gen *g);
static inline bool ed_nx_has_next(const ed_nx_gen *g) { return g->count < g->split.events; }
/* The id and kind of the next event, without generating it. */
int64_t ed_nx_next_id(const ed_nx_gen *g);
static inline ed_nx_kind ed_nx_kind_of(const ed_nx_gen *g, int64_t id)
{
    int64_t rem = id % g->total;
    return rem < g->c.person_proportion ? ED_NX_PERSON
           : rem < g->c.person_proportion + g->c.auction_proportion ? ED_NX_AUCTION
                                                                      : ED_NX_BID;
}
/* Generates the next event into ev (its strings valid until the next call) and advances. */
void ed_nx_next(ed_nx_gen *g, ed_nx_event *ev);
/* Advances past the next event without generating it. */
static inline void ed_nx_skip(ed_nx_gen *g) { g->count++; }
/* The timestamp of event number n of a split. */
int64_t ed_nx_timestamp(const ed_nx_gen *g, int64_t n);

#endif
