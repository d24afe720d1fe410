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
