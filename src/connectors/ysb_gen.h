/*
 * ysb_gen.h - the Yahoo Streaming Benchmark's events (the `ysb` source, its tests and the
 * benchmark baseline use it).
 *
 * As the benchmark's generator: ad events of random users and pages, each for one of
 * 1,000 ads, of one of five ad types and three event types (view, click, purchase), at a
 * fixed rate of event time, with an IP address; the 1,000 ads belong to 100 campaigns, 10
 * each. Ids are UUIDs. Event i is made from splitmix64 seeded with (seed, i) alone, so any
 * range of events can be made on its own; ad k's id and its campaign's come from (seed, k)
 * and (seed, k / 10).
 */
#ifndef ED_YSB_GEN_H
#define ED_YSB_GEN_H

#include <stdint.h>
#include <stdio.h>

#define ED_YSB_ADS 1000
#define ED_YSB_CAMPAIGNS 100
#define ED_YSB_UUID_LEN 36

static const char *const ed_ysb_ad_types[] = {"banner", "modal", "sponsored-search", "mail",
                                              "mobile"};
static const char *const ed_ysb_event_types[] = {"view", "click", "purchase"};

static inline uint64_t ed_ysb_mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A UUID (version 4 layout) from two words, into out (37 bytes with the NUL). */
static inline void ed_ysb_uuid(uint64_t a, uint64_t b, char *out)
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20) *p++ = '-';
        uint64_t w = i < 16 ? a : b;
        int nib = (int)((w >> (4 * (15 - (i & 15)))) & 15);
        if (i == 12) nib = 4;                /* version 4 */
        if (i == 16) nib = 8 | (nib & 3);    /* variant */
        *p++ = hex[nib];
    }
    *p = 0;
}

/* Ad k's id and its campaign's. */
static inline void ed_ysb_ad(uint64_t seed, int k, char *ad, char *campaign)
{
    uint64_t s = ed_ysb_mix(seed ^ 0x7973622d616473ULL) + (uint64_t)k * 0x9e3779b97f4a7c15ULL;
    ed_ysb_uuid(ed_ysb_mix(s), ed_ysb_mix(s + 1), ad);
    uint64_t c = ed_ysb_mix(seed ^ 0x7973622d63616dULL) + (uint64_t)(k / 10) * 0x9e3779b97f4a7c15ULL;
    ed_ysb_uuid(ed_ysb_mix(c), ed_ysb_mix(c + 1), campaign);
}

typedef struct ed_ysb_event {
    char user_id[37], page_id[37];
    int ad;         /* 0..999: the ad's id is ed_ysb_ad's */
    int ad_type;    /* index into ed_ysb_ad_types */
    int event_type; /* index into ed_ysb_event_types: 0 is "view" */
    int64_t event_time;
    char ip[16];
    uint32_t ip_len;
} ed_ysb_event;

/* Event i of the stream: timestamps base + i * 1000 / rate. uuids: whether the user and
 * page ids and the IP address are written (the benchmark's query reads none of them). */
static inline void ed_ysb_event_at(uint64_t seed, int64_t i, int64_t base, int64_t rate,
                                   int uuids, ed_ysb_event *e)
{
    uint64_t s = ed_ysb_mix(seed) ^ ((uint64_t)i * 0xd1b54a32d192ed03ULL);
    uint64_t r0 = ed_ysb_mix(s), r1 = ed_ysb_mix(s + 1), r2 = ed_ysb_mix(s + 2);
    if (uuids) {
        ed_ysb_uuid(r0, r1, e->user_id);
        ed_ysb_uuid(r2, ed_ysb_mix(s + 3), e->page_id);
    }
    uint64_t r4 = ed_ysb_mix(s + 4);
    e->ad = (int)(r4 % ED_YSB_ADS);
    e->ad_type = (int)((r4 >> 20) % 5);
    e->event_type = (int)((r4 >> 40) % 3);
    e->event_time = base + (int64_t)((unsigned __int128)i * 1000 / (uint64_t)rate);
    e->ip_len = 0;
    if (uuids)
        e->ip_len = (uint32_t)snprintf(e->ip, sizeof e->ip, "%u.%u.%u.%u", (unsigned)(r1 >> 56),
                                   (unsigned)(r1 >> 48 & 255), (unsigned)(r1 >> 40 & 255),
                                   (unsigned)(r1 >> 32 & 255));
}

#endif
