/*
 * restart_test.c - restart strategies decide as Flink's: attempts, rates, backoff.
 */
#include "checkpoint/restart.h"
#include "ed_test.h"

static ed_restart *make(const char *const *kv)
{
    ed_config *c = ed_config_new();
    ed_err e = {0};
    for (; *kv; kv += 2) ed_config_set(c, kv[0], kv[1], &e);
    ed_restart *r = ed_restart_new(c, &e);
    ed_config_free(c);
    return r;
}

ED_TEST(defaults_follow_checkpointing)
{
    const char *none[] = {NULL};
    ed_restart *r = make(none);
    ED_CHECK_STR(ed_restart_name(r), "none");
    ED_CHECK_INT(ed_restart_after_failure(r, 0), -1);
    ed_restart_free(r);
    const char *ck[] = {"execution.checkpointing.interval", "1 s", NULL};
    r = make(ck);
    ED_CHECK_STR(ed_restart_name(r), "exponential-delay");
    ed_restart_free(r);
}

ED_TEST(fixed_delay_counts_attempts)
{
    const char *kv[] = {"restart-strategy.type", "fixed-delay", "restart-strategy.fixed-delay.attempts",
                        "2", "restart-strategy.fixed-delay.delay", "250 ms", NULL};
    ed_restart *r = make(kv);
    ED_CHECK_INT(ed_restart_after_failure(r, 0), 250);
    ED_CHECK_INT(ed_restart_after_failure(r, 1000), 250);
    ED_CHECK_INT(ed_restart_after_failure(r, 2000), -1);
    ed_restart_free(r);
}

ED_TEST(failure_rate_counts_failures_in_the_interval)
{
    const char *kv[] = {"restart-strategy.type", "failure-rate",
                        "restart-strategy.failure-rate.max-failures-per-interval", "2",
                        "restart-strategy.failure-rate.failure-rate-interval", "10 s",
                        "restart-strategy.failure-rate.delay", "5 ms", NULL};
    ed_restart *r = make(kv);
    ED_CHECK_INT(ed_restart_after_failure(r, 0), 5);
    ED_CHECK_INT(ed_restart_after_failure(r, 1000), 5);
    ED_CHECK_INT(ed_restart_after_failure(r, 2000), -1); /* a third within 10 s */
    ed_restart_free(r);
    r = make(kv);
    ED_CHECK_INT(ed_restart_after_failure(r, 0), 5);
    ED_CHECK_INT(ed_restart_after_failure(r, 1000), 5);
    ED_CHECK_INT(ed_restart_after_failure(r, 10500), 5); /* the first has left the interval */
    ed_restart_free(r);
}

ED_TEST(exponential_delay_grows_caps_and_resets)
{
    const char *kv[] = {"restart-strategy.type", "exponential-delay",
                        "restart-strategy.exponential-delay.initial-backoff", "100 ms",
                        "restart-strategy.exponential-delay.max-backoff", "1 s",
                        "restart-strategy.exponential-delay.backoff-multiplier", "2.0",
                        "restart-strategy.exponential-delay.jitter-factor", "0",
                        "restart-strategy.exponential-delay.reset-backoff-threshold", "1 min",
                        NULL};
    ed_restart *r = make(kv);
    int64_t want[] = {100, 200, 400, 800, 1000, 1000};
    for (int i = 0; i < 6; i++) ED_CHECK_INT(ed_restart_after_failure(r, i * 10), want[i]);
    ED_CHECK_INT(ed_restart_after_failure(r, 60050 + 50), 100); /* quiet for a minute */
    ed_restart_free(r);
    /* jitter stays within its fraction */
    const char *j[] = {"restart-strategy.type", "exponential-delay",
                       "restart-strategy.exponential-delay.initial-backoff", "1 s",
                       "restart-strategy.exponential-delay.jitter-factor", "0.1", NULL};
    r = make(j);
    int64_t d = ed_restart_after_failure(r, 0);
    ED_CHECK(d >= 900 && d <= 1100);
    ed_restart_free(r);
}

ED_TEST(unknown_strategy_is_an_error)
{
    ed_config *c = ed_config_new();
    ed_err e = {0};
    ed_config_set(c, "restart-strategy.type", "sometimes", &e);
    ED_CHECK(ed_restart_new(c, &e) == NULL);
    ED_CHECK_STR(e.msg, "restart-strategy.type: 'sometimes' is not none, fixed-delay, "
                        "failure-rate or exponential-delay");
    ed_config_free(c);
}
