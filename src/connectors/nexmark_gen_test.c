/*
 * nexmark_gen_test.c - the Nexmark generator against the reference: java.util.Random's
 * values for known seeds, and events of the default configuration whose fields were
 * computed with the reference's Java code (persons and auctions whole; bids up to their
 * price, after which eddy's bids also draw a channel). Plus what the configuration implies:
 * proportions, id blocks of splits, timestamps, sizes, determinism.
 */
#include <stdlib.h>
#include <string.h>

#include "connectors/nexmark_gen.h"
#include "ed_test.h"

ED_TEST(java_random_matches_the_jdk)
{
    static const struct {
        int64_t seed;
        int32_t i, i13, i26, i2, i10000;
        double d;
        int64_t l;
    } v[] = {
        {0, -1155484576, 5, 23, 1, 3515, 0.3090505681997092, 2158390814503909950LL},
        {1, -1155869325, 0, 7, 0, 4254, 0.0362353821503677, -6292788870224356907LL},
        {2, -1154715079, 6, 0, 0, 8389, 0.8546809551995536, 614006110250892047LL},
        {42, -1170105035, 7, 22, 0, 9970, 0.9420735430282128, -5391787952107853122LL},
        {1000, -1244746321, 10, 16, 0, 9792, 0.015927628269880256, -3160424216356627552LL},
        {-1, 1155099827, 8, 9, 1, 5604, 0.6007954689329611, 7365572370171403210LL},
    };
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        ed_jrandom r;
        ed_jr_seed(&r, v[k].seed);
        ED_CHECK_INT(ed_jr_int(&r), v[k].i);
        ED_CHECK_INT(ed_jr_below(&r, 13), v[k].i13);
        ED_CHECK_INT(ed_jr_below(&r, 26), v[k].i26);
        ED_CHECK_INT(ed_jr_below(&r, 2), v[k].i2);
        ED_CHECK_INT(ed_jr_below(&r, 10000), v[k].i10000);
        ED_CHECK(ed_jr_double(&r) == v[k].d);
        ED_CHECK_INT(ed_jr_long(&r), v[k].l);
    }
}

/* The default stream's generator at a position (NULL when out of memory). */
static ed_nx_gen gen_at(int64_t count)
{
    ed_nx_config c;
    ed_nx_config_default(&c);
    ed_nx_gen g;
    if (ed_nx_gen_init(&g, &c, ed_nx_split_of(&c, 0, 1), count)) abort();
    return g;
}

static bool str_is(ed_nx_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

ED_TEST(events_match_the_reference)
{
    ed_nx_gen g = gen_at(0);
    ed_nx_event ev;
    ed_nx_next(&g, &ev); /* count 0: event id 2 */
    ED_CHECK_INT(ev.id, 2);
    ED_CHECK_INT(ev.kind, ED_NX_AUCTION);
    ED_CHECK_INT(ev.auction.id, 1001);
    ED_CHECK(str_is(ev.auction.item_name, "z ck w"));
    ED_CHECK_INT(ev.auction.description.len, 89);
    ED_CHECK_INT(ev.auction.initial_bid, 25626290);
    ED_CHECK_INT(ev.auction.reserve, 28805847);
    ED_CHECK_INT(ev.date_time, 0);
    ED_CHECK_INT(ev.auction.expires, 202);
    ED_CHECK_INT(ev.auction.seller, 1000);
    ED_CHECK_INT(ev.auction.category, 12);
    ED_CHECK_INT(ev.auction.extra.len, 319);

    ed_nx_next(&g, &ev); /* event id 3 */
    ED_CHECK_INT(ev.auction.id, 1002);
    ED_CHECK(str_is(ev.auction.item_name, "gxycmhtobprpd"));
    ED_CHECK_INT(ev.auction.description.len, 54);
    ED_CHECK_INT(ev.auction.initial_bid, 267);
    ED_CHECK_INT(ev.auction.reserve, 422398);
    ED_CHECK_INT(ev.auction.expires, 1);
    ED_CHECK_INT(ev.auction.category, 10);
    ED_CHECK_INT(ev.auction.extra.len, 407);

    static const struct {
        int64_t auction, bidder, price, ts;
    } bids[] = {{1000, 1001, 32530001, 0}, {1000, 1009, 468715, 0}, {1000, 1001, 300435, 0},
                {1000, 1001, 3126206, 0}};
    for (int i = 0; i < 4; i++) {
        ed_nx_next(&g, &ev); /* event ids 4..7 */
        ED_CHECK_INT(ev.kind, ED_NX_BID);
        ED_CHECK_INT(ev.bid.auction, bids[i].auction);
        ED_CHECK_INT(ev.bid.bidder, bids[i].bidder);
        ED_CHECK_INT(ev.bid.price, bids[i].price);
        ED_CHECK_INT(ev.date_time, bids[i].ts);
    }
    ed_nx_gen_free(&g);

    g = gen_at(46); /* event ids 48, 49: bids; 50: a person; 51-53: auctions */
    ed_nx_next(&g, &ev);
    ED_CHECK_INT(ev.id, 48);
    ED_CHECK_INT(ev.bid.bidder, 1003);
    ED_CHECK_INT(ev.bid.price, 34926);
    ED_CHECK_INT(ev.date_time, 4);
    ed_nx_next(&g, &ev);
    ED_CHECK_INT(ev.bid.price, 545);
    ed_nx_next(&g, &ev);
    ED_CHECK_INT(ev.kind, ED_NX_PERSON);
    ED_CHECK_INT(ev.person.id, 1001);
    ED_CHECK(str_is(ev.person.name, "Sarah Smith"));
    ED_CHECK(str_is(ev.person.email, "f  y@yumv.com"));
    ED_CHECK(str_is(ev.person.credit_card, "0892 2755 1923 0591"));
    ED_CHECK(str_is(ev.person.city, "Los Angeles"));
    ED_CHECK(str_is(ev.person.state, "ID"));
    ED_CHECK_INT(ev.date_time, 4);
    ED_CHECK_INT(ev.person.extra.len, 153);
    ED_CHECK(ev.person.extra.len >= 16 && memcmp(ev.person.extra.p, "`RT]WInnxtneWPLP", 16) == 0);
    ed_nx_next(&g, &ev);
    ED_CHECK_INT(ev.auction.id, 1003);
    ED_CHECK(str_is(ev.auction.item_name, "ap yurxvft"));
    ED_CHECK_INT(ev.auction.expires, 8);
    ED_CHECK_INT(ev.auction.category, 11);
    ED_CHECK_INT(ev.auction.extra.len, 330);
    ed_nx_next(&g, &ev);
    ED_CHECK_INT(ev.auction.initial_bid, 614534);
    ED_CHECK_INT(ev.auction.expires, 159);
    ed_nx_gen_free(&g);
}

ED_TEST(proportions_sizes_and_channels)
{
    ed_nx_gen g = gen_at(0);
    ed_nx_event ev;
    long kinds[3] = {0}, bytes[3] = {0}, hot_channel = 0;
    enum { N = 500000 };
    for (int i = 0; i < N; i++) {
        ed_nx_next(&g, &ev);
        kinds[ev.kind]++;
        if (ev.kind == ED_NX_PERSON)
            bytes[0] += 8 + ev.person.name.len + ev.person.email.len + ev.person.credit_card.len +
                        ev.person.city.len + 2 + ev.person.extra.len;
        else if (ev.kind == ED_NX_AUCTION)
            bytes[1] += 48 + ev.auction.item_name.len + ev.auction.description.len +
                        ev.auction.extra.len;
        else {
            bytes[2] += 32 + ev.bid.extra.len;
            hot_channel += ev.bid.channel.len < 9; /* not "channel-<n>" */
            ED_CHECK(ev.bid.url.len > 40 && memcmp(ev.bid.url.p, "https://www.nexmark.com/", 24) == 0);
        }
    }
    ED_CHECK_INT(kinds[0], N / 50);
    ED_CHECK_INT(kinds[1], N / 50 * 3);
    ED_CHECK_INT(kinds[2], N / 50 * 46);
    /* the reference's average sizes */
    ED_CHECK(llabs(bytes[0] / kinds[0] - 200) <= 3);
    ED_CHECK(llabs(bytes[1] / kinds[1] - 500) <= 3);
    ED_CHECK(llabs(bytes[2] / kinds[2] - 100) <= 2);
    /* half of the bids on one of the four hot channels */
    ED_CHECK(llabs(hot_channel - kinds[2] / 2) < kinds[2] / 100);
    /* 10,000 events/s: a millisecond every 10 events */
    ED_CHECK_INT(ed_nx_timestamp(&g, 1000), 100);
    ed_nx_gen_free(&g);
}

ED_TEST(splits_are_blocks_of_ids_with_their_own_timelines)
{
    ed_nx_config c;
    ed_nx_config_default(&c);
    c.events = 1003;
    c.generators = 2;
    ed_nx_split a = ed_nx_split_of(&c, 0, 2), b = ed_nx_split_of(&c, 1, 2);
    ED_CHECK_INT(a.first_id, 1);
    ED_CHECK_INT(a.events, 501);
    ED_CHECK_INT(b.first_id, 502);
    ED_CHECK_INT(b.events, 502);
    ed_nx_gen g;
    ED_REQUIRE(ed_nx_gen_init(&g, &c, b, 0) == 0);
    ed_nx_event ev, again;
    ED_CHECK_INT(ed_nx_next_id(&g), 503);
    ed_nx_next(&g, &ev);
    ED_CHECK_INT(ev.id, 503);
    ED_CHECK_INT(ev.date_time, 0); /* each split's timeline starts at the base time */
    /* two generators: each at half the rate, 5 events per ms */
    ED_CHECK_INT(ed_nx_timestamp(&g, 10), 2);
    /* an event depends on its id only: generated again from a position, it is the same */
    int64_t price = ev.kind == ED_NX_BID ? ev.bid.price : -1;
    ed_nx_gen_free(&g);
    ED_REQUIRE(ed_nx_gen_init(&g, &c, b, 0) == 0);
    ed_nx_next(&g, &again);
    ED_CHECK_INT(again.kind == ED_NX_BID ? again.bid.price : -1, price);
    while (ed_nx_has_next(&g)) ed_nx_next(&g, &ev);
    ED_CHECK_INT(ev.id, 1004); /* 1003 events in all, ids 2..1004 */
    ed_nx_gen_free(&g);
    ED_CHECK(ed_nx_config_check(&c) == NULL);
    c.auction_proportion = 0;
    ED_CHECK_STR(ed_nx_config_check(&c), "person.proportion and auction.proportion must be at least 1");
}
