/*
 * coordinator.h - the checkpoint coordinator's bookkeeping: when to trigger, which
 * checkpoints are pending, which tasks acknowledged, when a checkpoint is complete, and
 * which completed checkpoints are retained.
 *
 * The runtime drives it (a job thread triggers, task threads acknowledge) and does the
 * messaging; the coordinator knows only numbers, time and files. A checkpoint n lives in
 * <execution.checkpointing.dir>/<job>/chk-<n>/: one state file per operator subtask,
 * written by the task, and _metadata, written here last, once every task has
 * acknowledged. Only a checkpoint whose _metadata exists is complete. Thread-safe.
 *
 * _metadata is a framed file (storage.h) whose payload is text, one item per line:
 *
 *   eddy-checkpoint 1
 *   id 7
 *   job Click Sessions
 *   timestamp 1700000000000
 *   max-parallelism 128
 *   state <operator key> <subtask> <parallelism> <file> <bytes>
 *   ...
 */
#ifndef ED_CKPT_COORDINATOR_H
#define ED_CKPT_COORDINATOR_H

#include "../base/config.h"
#include "storage.h"

typedef struct ed_coord ed_coord;

typedef struct ed_coord_stats {
    int64_t completed, failed, last_completed_id;
    int64_t last_duration_ms;
} ed_coord_stats;

/* NULL (and no error) when execution.checkpointing.interval is not set; NULL with err set
 * for bad settings. ntasks acknowledgements complete a checkpoint. */
ed_coord *ed_coord_new(const ed_config *cfg, const char *job, int ntasks, int max_parallelism,
                       ed_fs *fs, ed_err *err);
void ed_coord_free(ed_coord *c);

bool ed_coord_exactly_once(const ed_coord *c);
int64_t ed_coord_interval_ms(const ed_coord *c);

/* Triggers a checkpoint when one is due at `now` (interval, min pause, concurrency) and
 * creates its directory; returns its id, or 0. */
int64_t ed_coord_maybe_trigger(ed_coord *c, int64_t now, ed_err *err);
/* The directory of checkpoint id. */
void ed_coord_chk_dir(const ed_coord *c, int64_t id, char *buf, size_t cap);

/* A task's acknowledgement: its "state ..." lines (possibly none). Returns 1 when this
 * completed the checkpoint (_metadata written), 0 when others are still missing, -1 when
 * the checkpoint is unknown, aborted, or its metadata could not be written (err). */
int ed_coord_ack(ed_coord *c, int64_t id, const char *state_lines, int64_t now, ed_err *err);
/* A task cannot take part (finished, failed to snapshot): the checkpoint is aborted.
 * Returns true when too many checkpoints failed in a row
 * (execution.checkpointing.tolerable-failed-checkpoints): the job must fail. */
bool ed_coord_decline(ed_coord *c, int64_t id, const char *reason);
/* Aborts pending checkpoints older than the timeout; returns the id of one aborted (0 if
 * none) and whether the tolerance was exceeded in *fatal. */
int64_t ed_coord_check_timeouts(ed_coord *c, int64_t now, bool *fatal);
/* No new checkpoints (the job is finishing); pending ones are aborted. */
void ed_coord_stop(ed_coord *c);

ed_coord_stats ed_coord_get_stats(ed_coord *c);
/* The completed checkpoint (one with _metadata) of highest id below `below` in the job's
 * checkpoint directory root (<dir>/<job>); its id, with its directory in out, or 0. */
int64_t ed_ckpt_latest_below(const char *root, int64_t below, char *out, size_t cap);

/* After a restart: number new checkpoints after `last_id`, as Flink continues its ids. */
void ed_coord_resume_ids(ed_coord *c, int64_t last_id);

#endif
