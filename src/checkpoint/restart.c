/*
 * restart.c - restart strategies (see restart.h). Pure decisions on failure times; the
 * runtime does the waiting and the restarting.
 */
#include "restart.h"

#include <stdlib.h>
#include <string.h>

typedef enum { R_NONE, R_FIXED, R_RATE, R_EXP } kind;

struct ed_restart {
    kind k;
    int64_t attempts, delay;           /* fixed-delay */
    int64_t max_failures, interval;    /* failure-rate */
    int64_t *times;                    /* failure-rate: recent failure times */
    int64_t ntimes;
    int64_t initial, max, reset;       /* exponential-delay */
    double multiplier, jitter;
    int64_t current, last_failure;
    int64_t failures;
    uint64_t rng;
};

static int64_t dur(const ed_config *c, const char *k, int64_t d)
{
    return ed_config_get_duration_ms(c, k, d);
}

ed_restart *ed_restart_new(const ed_config *cfg, ed_err *err)
{
    const char *t = ed_config_get(cfg, "restart-strategy.type");
    bool ckpt = ed_config_get_duration_ms(cfg, "execution.checkpointing.interval", 0) > 0;
    ed_restart *r = ed_xcalloc(1, sizeof(*r));
    r->last_failure = INT64_MIN;
    r->rng = 0x2545F4914F6CDD1DULL;
    if (!t || !*t) r->k = ckpt ? R_EXP : R_NONE;
    else if (!strcmp(t, "none") || !strcmp(t, "off") || !strcmp(t, "disable")) r->k = R_NONE;
    else if (!strcmp(t, "fixed-delay") || !strcmp(t, "fixeddelay")) r->k = R_FIXED;
    else if (!strcmp(t, "failure-rate") || !strcmp(t, "failurerate")) r->k = R_RATE;
    else if (!strcmp(t, "exponential-delay") || !strcmp(t, "exponentialdelay")) r->k = R_EXP;
    else {
        free(r);
        ed_err_set(err, "restart-strategy.type: '%s' is not none, fixed-delay, failure-rate or "
                        "exponential-delay", t);
        return NULL;
    }
    r->attempts = ed_config_get_int(cfg, "restart-strategy.fixed-delay.attempts", 1);
    r->delay = dur(cfg, "restart-strategy.fixed-delay.delay", 1000);
    r->max_failures =
        ed_config_get_int(cfg, "restart-strategy.failure-rate.max-failures-per-interval", 1);
    r->interval = dur(cfg, "restart-strategy.failure-rate.failure-rate-interval", 60000);
    if (r->k == R_RATE) r->delay = dur(cfg, "restart-strategy.failure-rate.delay", 1000);
    r->initial = dur(cfg, "restart-strategy.exponential-delay.initial-backoff", 1000);
    r->max = dur(cfg, "restart-strategy.exponential-delay.max-backoff", 60000);
    r->reset = dur(cfg, "restart-strategy.exponential-delay.reset-backoff-threshold", 3600000);
    const char *m = ed_config_get(cfg, "restart-strategy.exponential-delay.backoff-multiplier");
    const char *j = ed_config_get(cfg, "restart-strategy.exponential-delay.jitter-factor");
    r->multiplier = 1.5;
    r->jitter = 0.1;
    if ((m && (ed_parse_f64(m, &r->multiplier) || r->multiplier < 1)) ||
        (j && (ed_parse_f64(j, &r->jitter) || r->jitter < 0 || r->jitter > 1))) {
        free(r);
        ed_err_set(err, "restart-strategy.exponential-delay: the multiplier must be >= 1 and the "
                        "jitter factor in [0, 1]");
        return NULL;
    }
    r->times = ed_xcalloc((size_t)(r->max_failures > 0 ? r->max_failures : 1) + 1, sizeof(int64_t));
    return r;
}

void ed_restart_free(ed_restart *r)
{
    if (!r) return;
    free(r->times);
    free(r);
}

const char *ed_restart_name(const ed_restart *r)
{
    static const char *const names[] = {"none", "fixed-delay", "failure-rate", "exponential-delay"};
    return names[r->k];
}

int64_t ed_restart_after_failure(ed_restart *r, int64_t now)
{
    r->failures++;
    switch (r->k) {
    case R_NONE:
        return -1;
    case R_FIXED:
        return r->failures <= r->attempts ? r->delay : -1;
    case R_RATE: {
        /* keep the failures inside the interval; more than allowed: stop */
        int64_t n = 0;
        for (int64_t i = 0; i < r->ntimes; i++)
            if (now - r->times[i] < r->interval) r->times[n++] = r->times[i];
        r->ntimes = n;
        if (r->ntimes >= r->max_failures) return -1;
        r->times[r->ntimes++] = now;
        return r->delay;
    }
    case R_EXP: {
        if (r->last_failure != INT64_MIN && now - r->last_failure >= r->reset) r->current = 0;
        r->last_failure = now;
        r->current = r->current ? (int64_t)((double)r->current * r->multiplier) : r->initial;
        if (r->current > r->max) r->current = r->max;
        r->rng ^= r->rng << 13;
        r->rng ^= r->rng >> 7;
        r->rng ^= r->rng << 17;
        double u = (double)(r->rng >> 11) / 9007199254740992.0; /* [0, 1) */
        double j = ((u * 2.0) - 1.0) * r->jitter * (double)r->current;
        int64_t d = r->current + (int64_t)j;
        return d < 0 ? 0 : d;
    }
    }
    return -1;
}
