/*
 * nexmark_gen.c - the Nexmark event generator (nexmark_gen.h).
 *
 * Each event: one java.util.Random seeded with the event id, then the reference's draws in
 * the reference's order (person: name, email, credit card, city, state, extra; auction:
 * seller, category, initial bid, length, name, description, reserve, extra; bid: auction,
 * bidder, price, channel, extra).
 */
#include "nexmark_gen.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PERSON_ID_LEAD 10
#define AUCTION_ID_LEAD 10
#define NUM_CATEGORIES 5
#define HOT_SELLER_RATIO 100
#define HOT_AUCTION_RATIO 100
#define HOT_BIDDER_RATIO 100
#define HOT_CHANNELS_RATIO 2
#define CHANNELS 10000
#define MIN_STRING_LENGTH 3

static const char *const US_STATES[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
static const char *const US_CITIES[] = {"Phoenix",  "Los Angeles", "San Francisco", "Boise",
                                        "Portland", "Bend",        "Redmond",       "Seattle",
                                        "Kent",     "Cheyenne"};
static const char *const FIRST_NAMES[] = {"Peter", "Paul",  "Luke",  "John",   "Saul",  "Vicky",
                                          "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
static const char *const LAST_NAMES[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                         "Walton", "Smith",  "Jones",   "Noris"};
static const char *const HOT_CHANNELS[] = {"Google", "Facebook", "Baidu", "Apple"};

#define NELEM(a) ((int32_t)(sizeof(a) / sizeof((a)[0])))

void ed_nx_config_default(ed_nx_config *c)
{
    *c = (ed_nx_config){
        .first_event_rate = 10000,
        .next_event_rate = 10000,
        .events = 0,
        .person_proportion = 1,
        .auction_proportion = 3,
        .bid_proportion = 46,
        .avg_person_size = 200,
        .avg_auction_size = 500,
        .avg_bid_size = 100,
        .hot_auction_ratio = 2,
        .hot_bidders_ratio = 4,
        .hot_sellers_ratio = 4,
        .num_active_people = 1000,
        .num_in_flight_auctions = 100,
        .out_of_order_group_size = 1,
        .base_time = 0,
        .generators = 1,
    };
}

const char *ed_nx_config_check(const ed_nx_config *c)
{
    if (c->first_event_rate <= 0 || c->next_event_rate <= 0) return "event rates must be positive";
    if (c->events < 0) return "events.num must not be negative";
    if (c->person_proportion < 0 || c->auction_proportion < 0 || c->bid_proportion < 0)
        return "proportions must not be negative";
    /* every kind is referred to by the others: a stream without persons or auctions has no
     * ids for sellers, bidders and auctions */
    if (c->person_proportion < 1 || c->auction_proportion < 1)
        return "person.proportion and auction.proportion must be at least 1";
    if ((int64_t)c->person_proportion + c->auction_proportion + c->bid_proportion > 1000000)
        return "the proportions add up to more than 1000000";
    if (c->avg_person_size < 0 || c->avg_auction_size < 0 || c->avg_bid_size < 0 ||
        c->avg_person_size > ED_NX_MAX_AVG_SIZE || c->avg_auction_size > ED_NX_MAX_AVG_SIZE ||
        c->avg_bid_size > ED_NX_MAX_AVG_SIZE)
        return "average sizes must be between 0 and 1 mb";
    if (c->hot_auction_ratio < 1 || c->hot_bidders_ratio < 1 || c->hot_sellers_ratio < 1)
        return "hot ratios must be at least 1";
    if (c->generators < 1) return "there must be at least one generator";
    return NULL;
}

ed_nx_split ed_nx_split_of(const ed_nx_config *c, int i, int n)
{
    int total = c->person_proportion + c->auction_proportion + c->bid_proportion;
    int biggest = c->avg_person_size;
    if (c->avg_auction_size > biggest) biggest = c->avg_auction_size;
    if (c->avg_bid_size > biggest) biggest = c->avg_bid_size;
    /* the reference's bound for an unbounded stream */
    int64_t max = c->events ? c->events : INT64_MAX / ((int64_t)total * (biggest ? biggest : 1));
    int64_t share = max / n;
    ed_nx_split s = {.first_id = 1 + share * i, .events = share};
    if (i == n - 1) s.events = max - share * (n - 1);
    return s;
}

/* ---- channels and their urls: the same for every generator, made once ------------------- */

typedef struct url_table {
    char hot[4][64];
    char url[CHANNELS][96];
    char name[CHANNELS][16];
    uint8_t hot_len[4], url_len[CHANNELS], name_len[CHANNELS];
} url_table;

static url_table *urls;
static pthread_once_t urls_once = PTHREAD_ONCE_INIT;

/* nextString(random, maxLength, special) into out (trimmed as Java's trim when special is
 * a space); returns the length. */
static uint32_t next_string(ed_jrandom *r, int32_t max_len, char special, char *out)
{
    int32_t len = MIN_STRING_LENGTH + ed_jr_below(r, max_len - MIN_STRING_LENGTH);
    uint32_t n = 0;
    while (len-- > 0) out[n++] = ed_jr_below(r, 13) == 0 ? special : (char)('a' + ed_jr_below(r, 26));
    if (special != ' ') return n;
    uint32_t a = 0;
    while (a < n && out[a] == ' ') a++;
    while (n > a && out[n - 1] == ' ') n--;
    if (a) memmove(out, out + a, n - a);
    return n - a;
}

static uint32_t base_url(ed_jrandom *r, char *out)
{
    uint32_t n = (uint32_t)sprintf(out, "https://www.nexmark.com/");
    for (int i = 0; i < 3; i++) {
        n += next_string(r, 5, '_', out + n);
        out[n++] = '/';
    }
    memcpy(out + n, "item.htm?query=1", 16);
    return n + 16;
}

static void make_urls(void)
{
    url_table *t = calloc(1, sizeof *t);
    if (!t) return;
    ed_jrandom r;
    for (int i = 0; i < 4; i++) {
        ed_jr_seed(&r, ED_NX_URL_SEED + i);
        t->hot_len[i] = (uint8_t)base_url(&r, t->hot[i]);
    }
    for (int k = 0; k < CHANNELS; k++) {
        ed_jr_seed(&r, ED_NX_URL_SEED + 4 + k);
        uint32_t n = base_url(&r, t->url[k]);
        if (ed_jr_below(&r, 10) > 0) {
            /* Math.abs(Integer.reverse(k)): reverse all 32 bits; abs keeps INT_MIN */
            uint32_t v = (uint32_t)k, rev = 0;
            for (int b = 0; b < 32; b++, v >>= 1) rev = (rev << 1) | (v & 1);
            int64_t id = (int32_t)rev;
            if (id < 0 && id != INT32_MIN) id = -id;
            n += (uint32_t)sprintf(t->url[k] + n, "&channel_id=%lld", (long long)id);
        }
        t->url_len[k] = (uint8_t)n;
        t->name_len[k] = (uint8_t)sprintf(t->name[k], "channel-%d", k);
    }
    urls = t;
}

/* ---- ids ------------------------------------------------------------------------------------ */

static int64_t next_long(ed_jrandom *r, int64_t n)
{
    if (n < INT32_MAX) return ed_jr_below(r, (int32_t)n);
    int64_t v = ed_jr_long(r) % n;
    return v < 0 ? -v : v;
}

static int64_t last_person(const ed_nx_gen *g, int64_t id)
{
    int64_t epoch = id / g->total, offset = id % g->total;
    if (offset >= g->c.person_proportion) offset = g->c.person_proportion - 1;
    return epoch * g->c.person_proportion + offset;
}

static int64_t next_person(const ed_nx_gen *g, int64_t id, ed_jrandom *r)
{
    int64_t people = last_person(g, id) + 1;
    int64_t active = people < g->c.num_active_people ? people : g->c.num_active_people;
    return people - active + next_long(r, active + PERSON_ID_LEAD);
}

static int64_t last_auction(const ed_nx_gen *g, int64_t id)
{
    int64_t epoch = id / g->total, offset = id % g->total;
    int pp = g->c.person_proportion, ap = g->c.auction_proportion;
    if (offset < pp) {
        epoch--;
        offset = ap - 1;
    } else if (offset >= pp + ap) {
        offset = ap - 1;
    } else {
        offset -= pp;
    }
    return epoch * ap + offset;
}

static int64_t next_auction(const ed_nx_gen *g, int64_t id, ed_jrandom *r)
{
    int64_t last = last_auction(g, id);
    int64_t min = last - g->c.num_in_flight_auctions > 0 ? last - g->c.num_in_flight_auctions : 0;
    return min + next_long(r, last - min + 1 + AUCTION_ID_LEAD);
}

static int64_t next_price(ed_jrandom *r)
{
    return (int64_t)floor(pow(10.0, ed_jr_double(r) * 6.0) * 100.0 + 0.5);
}

/* A price, or its draw alone when prices are not read. */
static inline int64_t price_of(const ed_nx_gen *g, ed_jrandom *r)
{
    if (g->skip_prices) {
        ed_jr_double(r);
        return 0;
    }
    return next_price(r);
}

/* ---- strings ---------------------------------------------------------------------------------- */

static uint32_t exact_string(ed_jrandom *r, int32_t length, char *out)
{
    int32_t rnd = 0, n = 0;
    for (int32_t i = 0; i < length; i++) {
        if (n == 0) {
            rnd = ed_jr_int(r);
            n = 6;
        }
        out[i] = (char)('a' + rnd % 26); /* C's % truncates as Java's: 'H'..'z' */
        rnd /= 26;
        n--;
    }
    return (uint32_t)length;
}

static uint32_t next_extra(ed_jrandom *r, int32_t current, int32_t average, char *out)
{
    if (current > average) return 0;
    average -= current;
    int32_t delta = (int32_t)floor(average * 0.2 + 0.5);
    int32_t size = average - delta + (delta == 0 ? 0 : ed_jr_below(r, 2 * delta));
    return exact_string(r, size, out);
}

/* ---- the generator ------------------------------------------------------------------------- */

int ed_nx_gen_init(ed_nx_gen *g, const ed_nx_config *c, ed_nx_split split, int64_t count)
{
    memset(g, 0, sizeof *g);
    pthread_once(&urls_once, make_urls);
    if (!urls) return -1;
    g->c = *c;
    g->split = split;
    g->count = count;
    g->total = c->person_proportion + c->auction_proportion + c->bid_proportion;
    g->delay_us = 1000000.0 / (double)c->first_event_rate * (double)c->generators;
    int biggest = c->avg_person_size;
    if (c->avg_auction_size > biggest) biggest = c->avg_auction_size;
    if (c->avg_bid_size > biggest) biggest = c->avg_bid_size;
    g->cap = 512 + (size_t)biggest * 2;
    g->buf = malloc(g->cap);
    return g->buf ? 0 : -1;
}

void ed_nx_gen_free(ed_nx_gen *g)
{
    free(g->buf);
    g->buf = NULL;
}

/* Event number n with out-of-order groups: a permutation within each group. */
static int64_t adjusted(const ed_nx_gen *g, int64_t n)
{
    int64_t k = g->c.out_of_order_group_size;
    if (k <= 1) return n;
    return (n / k) * k + (int64_t)((uint64_t)n * 953u) % k;
}

int64_t ed_nx_timestamp(const ed_nx_gen *g, int64_t n)
{
    return g->c.base_time + (int64_t)((double)n * g->delay_us) / 1000;
}

int64_t ed_nx_next_id(const ed_nx_gen *g)
{
    return g->split.first_id + adjusted(g, 1 + g->count);
}

static void person(ed_nx_gen *g, ed_jrandom *r, ed_nx_event *ev)
{
    char *at = g->buf;
    ev->person.id = last_person(g, ev->id) + ED_NX_FIRST_PERSON_ID;
    const char *first = FIRST_NAMES[ed_jr_below(r, NELEM(FIRST_NAMES))];
    const char *last = LAST_NAMES[ed_jr_below(r, NELEM(LAST_NAMES))];
    int n = sprintf(at, "%s %s", first, last);
    ev->person.name = (ed_nx_str){at, (uint32_t)n};
    at += n;
    char *email = at;
    uint32_t e = next_string(r, 7, ' ', at);
    at[e++] = '@';
    e += next_string(r, 5, ' ', at + e);
    memcpy(at + e, ".com", 4);
    e += 4;
    ev->person.email = (ed_nx_str){email, e};
    at += e;
    char *cc = at;
    for (int i = 0; i < 4; i++) at += sprintf(at, i ? " %04d" : "%04d", ed_jr_below(r, 10000));
    ev->person.credit_card = (ed_nx_str){cc, (uint32_t)(at - cc)};
    const char *city = US_CITIES[ed_jr_below(r, NELEM(US_CITIES))];
    const char *state = US_STATES[ed_jr_below(r, NELEM(US_STATES))];
    ev->person.city = (ed_nx_str){city, (uint32_t)strlen(city)};
    ev->person.state = (ed_nx_str){state, 2};
    int32_t size = (int32_t)(8 + ev->person.name.len + ev->person.email.len +
                             ev->person.credit_card.len + ev->person.city.len + 2);
    ev->person.extra = (ed_nx_str){at, g->skip_extra ? 0 : next_extra(r, size, g->c.avg_person_size, at)};
}

static void auction(ed_nx_gen *g, ed_jrandom *r, ed_nx_event *ev)
{
    char *at = g->buf;
    int64_t id = ev->id;
    ev->auction.id = last_auction(g, id) + ED_NX_FIRST_AUCTION_ID;
    int64_t seller = ed_jr_below(r, g->c.hot_sellers_ratio) > 0
                         ? (last_person(g, id) / HOT_SELLER_RATIO) * HOT_SELLER_RATIO
                         : next_person(g, id, r);
    ev->auction.seller = seller + ED_NX_FIRST_PERSON_ID;
    ev->auction.category = ED_NX_FIRST_CATEGORY_ID + ed_jr_below(r, NUM_CATEGORIES);
    ev->auction.initial_bid = price_of(g, r);
    /* the auction's length: up to twice the time until the auction numInFlightAuctions
     * auctions later */
    int64_t current = adjusted(g, 1 + g->count);
    int64_t ahead = ((int64_t)g->c.num_in_flight_auctions * g->total) / g->c.auction_proportion;
    int64_t horizon = ed_nx_timestamp(g, current + ahead) - ev->date_time;
    ev->auction.expires = ev->date_time + 1 + next_long(r, horizon * 2 > 1 ? horizon * 2 : 1);
    uint32_t n = next_string(r, 20, ' ', at);
    ev->auction.item_name = (ed_nx_str){at, n};
    at += n;
    n = next_string(r, 100, ' ', at);
    ev->auction.description = (ed_nx_str){at, n};
    at += n;
    ev->auction.reserve = ev->auction.initial_bid + price_of(g, r);
    int32_t size = (int32_t)(8 + ev->auction.item_name.len + ev->auction.description.len + 40);
    ev->auction.extra =
        (ed_nx_str){at, g->skip_extra ? 0 : next_extra(r, size, g->c.avg_auction_size, at)};
}

static void bid(ed_nx_gen *g, ed_jrandom *r, ed_nx_event *ev)
{
    int64_t id = ev->id;
    int64_t a = ed_jr_below(r, g->c.hot_auction_ratio) > 0
                    ? (last_auction(g, id) / HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO
                    : next_auction(g, id, r);
    ev->bid.auction = a + ED_NX_FIRST_AUCTION_ID;
    int64_t b = ed_jr_below(r, g->c.hot_bidders_ratio) > 0
                    ? (last_person(g, id) / HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1
                    : next_person(g, id, r);
    ev->bid.bidder = b + ED_NX_FIRST_PERSON_ID;
    ev->bid.price = price_of(g, r);
    if (ed_jr_below(r, HOT_CHANNELS_RATIO) > 0) {
        int i = ed_jr_below(r, NELEM(HOT_CHANNELS));
        ev->bid.channel = (ed_nx_str){HOT_CHANNELS[i], (uint32_t)strlen(HOT_CHANNELS[i])};
        ev->bid.url = (ed_nx_str){urls->hot[i], urls->hot_len[i]};
    } else {
        int k = ed_jr_below(r, CHANNELS);
        ev->bid.channel = (ed_nx_str){urls->name[k], urls->name_len[k]};
        ev->bid.url = (ed_nx_str){urls->url[k], urls->url_len[k]};
    }
    ev->bid.extra =
        (ed_nx_str){g->buf, g->skip_extra ? 0 : next_extra(r, 32, g->c.avg_bid_size, g->buf)};
}

void ed_nx_next(ed_nx_gen *g, ed_nx_event *ev)
{
    int64_t n = adjusted(g, 1 + g->count);
    ev->id = g->split.first_id + n;
    ev->kind = ed_nx_kind_of(g, ev->id);
    ev->date_time = ed_nx_timestamp(g, n);
    ed_jrandom r;
    ed_jr_seed(&r, ev->id);
    switch (ev->kind) {
    case ED_NX_PERSON: person(g, &r, ev); break;
    case ED_NX_AUCTION: auction(g, &r, ev); break;
    case ED_NX_BID: bid(g, &r, ev); break;
    }
    g->count++;
}
