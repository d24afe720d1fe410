/*
 * restart.h - restart strategies, as Flink's (restart-strategy.type): after a failure, may
 * the job restart, and after what delay?
 *
 *   none               never
 *   fixed-delay        up to .attempts restarts, .delay apart
 *   failure-rate       at most .max-failures-per-interval failures in .failure-rate-interval
 *   exponential-delay  .initial-backoff, times .backoff-multiplier per restart up to
 *                      .max-backoff, with .jitter-factor; reset after .reset-backoff-threshold
 *                      without failure
 *
 * Without restart-strategy.type, a job with checkpointing uses exponential-delay and one
 * without uses none (Flink's defaults).
 */
#ifndef ED_CKPT_RESTART_H
#define ED_CKPT_RESTART_H

#include "../base/config.h"

typedef struct ed_restart ed_restart;

/* NULL with err for a bad setting. */
ed_restart *ed_restart_new(const ed_config *cfg, ed_err *err);
void ed_restart_free(ed_restart *r);
/* A failure at `now` (ms): the delay before restarting, or -1 when the strategy says no. */
int64_t ed_restart_after_failure(ed_restart *r, int64_t now);
const char *ed_restart_name(const ed_restart *r);

#endif
