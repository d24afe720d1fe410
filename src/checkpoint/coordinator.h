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
 * A savepoint is a checkpoint taken on request into a directory of its own,
 * <dir>/savepoint-<first 6 hex digits of the job id>-<12 random hex digits> (Flink's
 * naming). It shares the checkpoints' id sequence, files and _metadata, but retention
 * never deletes it nor counts it, and it does not hold back periodic checkpoints. A
 * savepoint that stops the job ("stop-with-savepoint") also pauses periodic checkpoints
 * while it is pending, and once complete no checkpoint is triggered any more. The
 * coordinator remembers the outcome of each savepoint so that a requester can wait for
 * it (ed_coord_savepoint_wait) and tasks can ask what an id is (ed_coord_props).
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
    int64_t savepoints;
} ed_coord_stats;

/* NULL (and no error) when execution.checkpointing.interval is not set; NULL with err set
 * for bad settings. ntasks acknowledgements complete a checkpoint. */
ed_coord *ed_coord_new(const ed_config *cfg, const char *job, int ntasks, int max_parallelism,
                       ed_fs *fs, ed_err *err);
/* The same, but made also when the interval is not set: periodic checkpoints then stay
 * off and only savepoints are taken. job_id (32 hex digits, copied) names savepoints. A
 * job run by `eddy run` has one, so that it can take savepoints on request. */
ed_coord *ed_coord_new_on_request(const ed_config *cfg, const char *job, const char *job_id,
                                  int ntasks, int max_parallelism, ed_fs *fs, ed_err *err);
void ed_coord_free(ed_coord *c);

bool ed_coord_exactly_once(const ed_coord *c);
/* 0: no periodic checkpoints. */
int64_t ed_coord_interval_ms(const ed_coord *c);

/* What checkpoint id is; all false for a periodic checkpoint and for an unknown id. */
typedef struct ed_ckpt_props {
    bool savepoint; /* taken on request into a savepoint directory */
    bool stop;      /* ... and the job ends once it is complete (stop-with-savepoint) */
    bool drain;     /* ... after the sources emitted MAX_WATERMARK (stop --drain) */
} ed_ckpt_props;
ed_ckpt_props ed_coord_props(const ed_coord *c, int64_t id);
/* Whether checkpoint id is a savepoint (the state layer writes savepoints in its full,
 * backend-neutral format). Any thread. */
bool ed_coord_is_savepoint(const ed_coord *c, int64_t id);
/* Whether checkpoint id is pending (triggered, neither complete nor aborted). Any thread. */
bool ed_coord_is_pending(ed_coord *c, int64_t id);

/* Starts a savepoint into a new directory under dir (NULL or "": the configured
 * execution.checkpointing.savepoint-dir) and creates it; returns its id, or 0 with err
 * (no directory, the job is finishing, a stop is already under way, ...). Periodic
 * limits (interval, min pause, concurrency) do not apply. The caller sends the trigger
 * to the sources. */
int64_t ed_coord_trigger_savepoint(ed_coord *c, const char *dir, ed_ckpt_props props,
                                   int64_t now, ed_err *err);
/* Blocks until savepoint id completed (0, its directory in path) or failed (-1, err says
 * why: declined, expired, the job ended before it was complete). */
int ed_coord_savepoint_wait(ed_coord *c, int64_t id, char *path, size_t cap, ed_err *err);
typedef enum { ED_SAVEPOINT_PENDING, ED_SAVEPOINT_COMPLETED, ED_SAVEPOINT_FAILED } ed_savepoint_state;
/* The outcome of savepoint id so far (FAILED for an unknown id). Does not block. */
ed_savepoint_state ed_coord_savepoint_state(ed_coord *c, int64_t id);

/* Triggers a checkpoint when one is due at `now` (interval, min pause, concurrency) and
 * creates its directory; returns its id, or 0. */
int64_t ed_coord_maybe_trigger(ed_coord *c, int64_t now, ed_err *err);
/* The directory of checkpoint id (a savepoint's own directory for a savepoint). */
void ed_coord_chk_dir(const ed_coord *c, int64_t id, char *buf, size_t cap);

/* A task's acknowledgement: its "state ..." lines (possibly none). Returns 1 when this
 * completed the checkpoint (_metadata written), 0 when others are still missing, -1 when
 * its metadata could not be written (err), -2 when it is unknown or was aborted (err: a
 * late answer, nothing to report). */
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
/* Every task has ended: the directories of aborted checkpoints are removed again, in case a
 * task that had not answered wrote into one after it was first removed. */
void ed_coord_sweep(ed_coord *c);

/* completed and failed count periodic checkpoints (savepoints neither count nor fail the
 * job, as in Flink); savepoints counts completed savepoints; last_completed_id is the
 * checkpoint a restart starts from: the latest periodic checkpoint, or the savepoint of a
 * stop, never an intermediate savepoint. */
ed_coord_stats ed_coord_get_stats(ed_coord *c);
/* The completed checkpoint (one with _metadata) of highest id below `below` in the job's
 * checkpoint directory root (<dir>/<job>); its id, with its directory in out, or 0. */
int64_t ed_ckpt_latest_below(const char *root, int64_t below, char *out, size_t cap);

/* After a restart: number new checkpoints after `last_id`, as Flink continues its ids. */
void ed_coord_resume_ids(ed_coord *c, int64_t last_id);

#endif
