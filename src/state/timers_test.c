/*
 * timers_test.c - the timer service: order, deduplication, deletion, domains, growth.
 */
#include "ed_test.h"
#include "state/timers.h"

static int reg(ed_timer_service *t, eddy_time_domain d, int64_t time, const char *key,
               const char *ns)
{
    return ed_timers_register(t, d, time, (const uint8_t *)key, (uint32_t)strlen(key), 7,
                              (const uint8_t *)ns, (uint32_t)strlen(ns));
}

/* Pops every timer <= limit as "time:key:ns" lines. */
static void drain(ed_timer_service *t, eddy_time_domain d, int64_t limit, char *out, size_t cap)
{
    ed_timer tm;
    out[0] = 0;
    while (ed_timers_pop(t, d, limit, &tm)) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%lld:%.*s:%.*s", n ? " " : "", (long long)tm.time,
                 (int)tm.klen, (const char *)tm.key, (int)tm.nslen, (const char *)tm.ns);
    }
}

ED_TEST(timers_fire_in_time_then_registration_order_once)
{
    ed_timer_service *t = ed_timers_new();
    reg(t, EDDY_EVENT_TIME, 30, "b", "");
    reg(t, EDDY_EVENT_TIME, 10, "a", "");
    reg(t, EDDY_EVENT_TIME, 20, "c", "w1");
    reg(t, EDDY_EVENT_TIME, 20, "a", "w1");
    reg(t, EDDY_EVENT_TIME, 10, "a", ""); /* duplicate */
    reg(t, EDDY_EVENT_TIME, 20, "c", "w2");
    ED_CHECK_INT(ed_timers_count(t, EDDY_EVENT_TIME), 5);
    ED_CHECK_INT(ed_timers_next(t, EDDY_EVENT_TIME), 10);
    char buf[256];
    drain(t, EDDY_EVENT_TIME, 20, buf, sizeof buf);
    ED_CHECK_STR(buf, "10:a: 20:c:w1 20:a:w1 20:c:w2");
    ED_CHECK_INT(ed_timers_next(t, EDDY_EVENT_TIME), 30);
    drain(t, EDDY_EVENT_TIME, INT64_MAX, buf, sizeof buf);
    ED_CHECK_STR(buf, "30:b:");
    ED_CHECK_INT(ed_timers_next(t, EDDY_EVENT_TIME), INT64_MAX);
    ed_timers_free(t);
}

ED_TEST(timers_delete_and_domains_are_separate)
{
    ed_timer_service *t = ed_timers_new();
    reg(t, EDDY_EVENT_TIME, 5, "k", "");
    reg(t, EDDY_PROCESSING_TIME, 5, "k", "");
    reg(t, EDDY_EVENT_TIME, 6, "k", "");
    ed_timers_delete(t, EDDY_EVENT_TIME, 5, (const uint8_t *)"k", 1, NULL, 0);
    ed_timers_delete(t, EDDY_EVENT_TIME, 99, (const uint8_t *)"k", 1, NULL, 0); /* absent */
    ED_CHECK_INT(ed_timers_count(t, EDDY_EVENT_TIME), 1);
    char buf[128];
    drain(t, EDDY_EVENT_TIME, 100, buf, sizeof buf);
    ED_CHECK_STR(buf, "6:k:");
    drain(t, EDDY_PROCESSING_TIME, 100, buf, sizeof buf);
    ED_CHECK_STR(buf, "5:k:");
    /* deleted then registered again: fires once */
    reg(t, EDDY_EVENT_TIME, 8, "k", "");
    ed_timers_delete(t, EDDY_EVENT_TIME, 8, (const uint8_t *)"k", 1, NULL, 0);
    reg(t, EDDY_EVENT_TIME, 8, "k", "");
    drain(t, EDDY_EVENT_TIME, 100, buf, sizeof buf);
    ED_CHECK_STR(buf, "8:k:");
    ed_timers_free(t);
}

ED_TEST(timers_many_keys_stay_ordered)
{
    ed_timer_service *t = ed_timers_new();
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        char key[64];
        snprintf(key, sizeof key, "key-%d-with-a-longer-name-%d", i % 5000, i);
        ED_REQUIRE(reg(t, EDDY_EVENT_TIME, (int64_t)(x % 100000), key, "namespace") == 0);
    }
    ed_timer tm;
    int64_t last = INT64_MIN;
    size_t n = 0, registered = 20000;
    int bad = 0;
    while (ed_timers_pop(t, EDDY_EVENT_TIME, INT64_MAX, &tm)) {
        bad += tm.time < last;
        last = tm.time;
        n++;
        /* re-registering from inside a firing keeps the fired timer readable */
        if (n % 1000 == 0 && tm.time < 1000000) {
            char late[32];
            snprintf(late, sizeof late, "late-%zu", n);
            ED_REQUIRE(reg(t, EDDY_EVENT_TIME, tm.time + 1000000, late, "") == 0);
            registered++;
        }
        bad += tm.key_group != 7;
    }
    ED_CHECK_INT(bad, 0);
    ED_CHECK_INT(n, registered);
    ed_timers_free(t);
}

/* A session's timer moves with every element (delete, then register later): far more
 * dead entries than live ones, which the heap drops in bulk before they reach its top;
 * what is left still fires once each, in (time, registration) order. */
ED_TEST(timers_moved_many_times_fire_once_in_order)
{
    ed_timer_service *t = ed_timers_new();
    reg(t, EDDY_EVENT_TIME, 100000, "z", "");
    reg(t, EDDY_EVENT_TIME, 7, "a", "");
    char key[2] = "k";
    for (int64_t i = 0; i < 20000; i++) {
        key[0] = (char)('k' + i % 3);
        if (i >= 3)
            ed_timers_delete(t, EDDY_EVENT_TIME, 1000 + i - 3, (const uint8_t *)key, 1, NULL, 0);
        reg(t, EDDY_EVENT_TIME, 1000 + i, key, "");
    }
    ED_CHECK_INT(ed_timers_count(t, EDDY_EVENT_TIME), 5);
    ED_CHECK_INT(ed_timers_next(t, EDDY_EVENT_TIME), 7);
    char buf[256];
    drain(t, EDDY_EVENT_TIME, INT64_MAX, buf, sizeof buf);
    ED_CHECK_STR(buf, "7:a: 20997:m: 20998:k: 20999:l: 100000:z:");
    ed_timers_free(t);
}

static int mv(ed_timer_service *t, int64_t from, const char *ons, int64_t to, const char *nns,
              const char *key)
{
    return ed_timers_move(t, EDDY_EVENT_TIME, (const uint8_t *)key, (uint32_t)strlen(key), 7, from,
                          (const uint8_t *)ons, to, (const uint8_t *)nns, (uint32_t)strlen(ons));
}

/* A move is a delete of the old timer and a register of the new one: the moved timer
 * fires once, at its new time, after timers registered before the move at that time;
 * a move of an absent timer registers; a move onto an existing timer deletes the old. */
ED_TEST(timers_move_is_delete_then_register)
{
    ed_timer_service *t = ed_timers_new();
    reg(t, EDDY_EVENT_TIME, 50, "b", "w2");
    reg(t, EDDY_EVENT_TIME, 10, "a", "w1");
    ED_CHECK_INT(mv(t, 10, "w1", 50, "w3", "a"), 0);
    ED_CHECK_INT(ed_timers_count(t, EDDY_EVENT_TIME), 2);
    ED_CHECK_INT(ed_timers_next(t, EDDY_EVENT_TIME), 50);
    ED_CHECK_INT(mv(t, 99, "w9", 60, "w6", "c"), 0); /* absent: registers */
    reg(t, EDDY_EVENT_TIME, 70, "d", "w7");
    ED_CHECK_INT(mv(t, 60, "w6", 70, "w7", "d"), 0); /* another key: plain move */
    ED_CHECK_INT(mv(t, 70, "w7", 70, "w7", "d"), 0); /* onto itself */
    reg(t, EDDY_EVENT_TIME, 80, "e", "w8");
    reg(t, EDDY_EVENT_TIME, 90, "e", "w9");
    ED_CHECK_INT(mv(t, 80, "w8", 90, "w9", "e"), 0); /* onto an existing one */
    ED_CHECK_INT(ed_timers_count(t, EDDY_EVENT_TIME), 5);
    char buf[256];
    drain(t, EDDY_EVENT_TIME, INT64_MAX, buf, sizeof buf);
    ED_CHECK_STR(buf, "50:b:w2 50:a:w3 60:c:w6 70:d:w7 90:e:w9");
    ed_timers_free(t);
}

static int count_timer(const ed_timer *tm, void *arg)
{
    (*(size_t *)arg)++;
    return 0;
}

/* A session's timer moved with every element of many keys: old heap slots are left
 * behind (stale) and dropped in bulk; the live timers, listed for snapshots and fired,
 * are the last position of each, once, in order. */
ED_TEST(timers_moved_in_place_many_times)
{
    ed_timer_service *t = ed_timers_new();
    enum { KEYS = 300, STEPS = 200 };
    for (int s = 0; s < STEPS; s++)
        for (int k = 0; k < KEYS; k++) {
            char key[16], ons[16], nns[16];
            snprintf(key, sizeof key, "k%03d", k);
            snprintf(ons, sizeof ons, "n%05d", s - 1);
            snprintf(nns, sizeof nns, "n%05d", s);
            if (s == 0)
                ED_REQUIRE(reg(t, EDDY_EVENT_TIME, 1000 + k, key, nns) == 0);
            else
                ED_REQUIRE(mv(t, 1000 + (s - 1) * 10 + k, ons, 1000 + s * 10 + k, nns, key) == 0);
            if (s == STEPS / 2 && k == 0) { /* fire something mid-way: the earliest */
                ed_timer tm;
                ED_CHECK(!ed_timers_pop(t, EDDY_EVENT_TIME, 999, &tm));
            }
        }
    ED_CHECK_INT(ed_timers_count(t, EDDY_EVENT_TIME), KEYS);
    size_t n = 0;
    ED_CHECK_INT(ed_timers_for_each(t, EDDY_EVENT_TIME, count_timer, &n), 0);
    ED_CHECK_INT(n, KEYS);
    ed_timer tm;
    int64_t last = INT64_MIN;
    int bad = 0;
    n = 0;
    while (ed_timers_pop(t, EDDY_EVENT_TIME, INT64_MAX, &tm)) {
        int k = atoi((const char *)tm.key + 1);
        bad += tm.time != 1000 + (STEPS - 1) * 10 + k || tm.time < last ||
               memcmp(tm.ns, "n00199", 6) != 0;
        last = tm.time;
        n++;
    }
    ED_CHECK_INT(bad, 0);
    ED_CHECK_INT(n, KEYS);
    ed_timers_free(t);
}

static int add(ed_timer_service *t, eddy_time_domain d, int64_t time, const char *key,
               const char *ns)
{
    return ed_timers_add_unique(t, d, time, (const uint8_t *)key, (uint32_t)strlen(key), 7,
                                (const uint8_t *)ns, (uint32_t)strlen(ns));
}

static int list_one(const ed_timer *tm, void *arg)
{
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%s%lld:%.*s", n ? " " : "", (long long)tm->time, (int)tm->klen,
             (const char *)tm->key);
    return 0;
}

/* Timers added as unique (queued per time) and registered ones (heap) come out in one
 * order: time, then the order they were added in; snapshots list them the same way. */
ED_TEST(timers_unique_interleave_with_registered)
{
    ed_timer_service *t = ed_timers_new();
    add(t, EDDY_EVENT_TIME, 20, "u1", "w");
    reg(t, EDDY_EVENT_TIME, 20, "r1", "w");
    add(t, EDDY_EVENT_TIME, 10, "u2", "w");
    add(t, EDDY_EVENT_TIME, 30, "u3", "w");
    add(t, EDDY_EVENT_TIME, 20, "u4", "w");
    reg(t, EDDY_EVENT_TIME, 5, "r2", "w");
    add(t, EDDY_PROCESSING_TIME, 1, "p", "w");
    ED_CHECK_INT(ed_timers_count(t, EDDY_EVENT_TIME), 6);
    ED_CHECK_INT(ed_timers_next(t, EDDY_EVENT_TIME), 5);
    char buf[256] = "";
    ED_CHECK_INT(ed_timers_for_each(t, EDDY_EVENT_TIME, list_one, buf), 0);
    ED_CHECK_STR(buf, "5:r2 10:u2 20:u1 20:r1 20:u4 30:u3");
    drain(t, EDDY_EVENT_TIME, 19, buf, sizeof buf);
    ED_CHECK_STR(buf, "5:r2:w 10:u2:w");
    ED_CHECK_INT(ed_timers_next(t, EDDY_EVENT_TIME), 20);
    add(t, EDDY_EVENT_TIME, 25, "u5", "w"); /* a queue between two others */
    add(t, EDDY_EVENT_TIME, 20, "u6", "w");
    drain(t, EDDY_EVENT_TIME, INT64_MAX, buf, sizeof buf);
    ED_CHECK_STR(buf, "20:u1:w 20:r1:w 20:u4:w 20:u6:w 25:u5:w 30:u3:w");
    ED_CHECK_INT(ed_timers_count(t, EDDY_EVENT_TIME), 0);
    ED_CHECK_INT(ed_timers_next(t, EDDY_EVENT_TIME), INT64_MAX);
    ED_CHECK_INT(ed_timers_count(t, EDDY_PROCESSING_TIME), 1);
    /* many timers over a few times, emptied and refilled (queues reuse their arrays) */
    for (int round = 0; round < 3; round++) {
        char key[16];
        for (int i = 0; i < 1000; i++) {
            snprintf(key, sizeof key, "k%04d", i);
            ED_CHECK_INT(add(t, EDDY_EVENT_TIME, 100 * round + i % 5, key, "w"), 0);
        }
        ed_timer tm;
        int64_t last = INT64_MIN;
        int n = 0, prev_key = -1;
        while (ed_timers_pop(t, EDDY_EVENT_TIME, INT64_MAX, &tm)) {
            int k = atoi((const char *)tm.key + 1);
            ED_CHECK(tm.time >= last);
            if (tm.time == last) ED_CHECK(k > prev_key); /* added in key order */
            last = tm.time;
            prev_key = k;
            n++;
        }
        ED_CHECK_INT(n, 1000);
    }
    ed_timers_free(t); /* with a processing-time timer still queued */
}

/* Peeking into the first queue names the timers about to fire, and changes nothing. */
ED_TEST(timers_peek_queued)
{
    ed_timer_service *t = ed_timers_new();
    const uint8_t *k;
    uint32_t kl;
    ED_CHECK(!ed_timers_peek_queued(t, EDDY_EVENT_TIME, 0, &k, &kl));
    add(t, EDDY_EVENT_TIME, 20, "late", "w");
    add(t, EDDY_EVENT_TIME, 10, "a", "w");
    add(t, EDDY_EVENT_TIME, 10, "bb", "w");
    ed_timer tm;
    ED_CHECK(ed_timers_pop(t, EDDY_EVENT_TIME, INT64_MAX, &tm)); /* "a" */
    ED_REQUIRE(ed_timers_peek_queued(t, EDDY_EVENT_TIME, 0, &k, &kl));
    ED_CHECK_INT(kl, 2);
    ED_CHECK(memcmp(k, "bb", 2) == 0);
    ED_CHECK(!ed_timers_peek_queued(t, EDDY_EVENT_TIME, 1, &k, &kl)); /* only the first queue */
    ED_CHECK(memcmp(tm.key, "a", 1) == 0 && tm.klen == 1);           /* still valid */
    char buf[256];
    drain(t, EDDY_EVENT_TIME, INT64_MAX, buf, sizeof buf);
    ED_CHECK_STR(buf, "10:bb:w 20:late:w");
    ed_timers_free(t);
}
