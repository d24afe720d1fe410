/*
 * task.h - the execution: a job of tasks, each task one thread running one operator
 * chain through a mailbox loop.
 *
 * The task thread alone touches its operators, its gate's channel read state and its
 * writers' current buffers. Other threads reach a task only through its gate: channel
 * pushes and ed_task_post (mails: cancellation now, checkpoint triggers later).
 */
#ifndef ED_TASK_H
#define ED_TASK_H

#include "channel.h"
#include "../checkpoint/storage.h"
#include "graph.h"

typedef struct ed_job ed_job;
typedef struct ed_up_batch ed_up_batch;

/* One network output of a task: a partitioner over channels to the next vertex. */
struct ed_writer {
    ed_partitioner part;
    ed_channel **ch;
    int n;
    ed_pool *pool;
    ed_task *task;
    const ed_jedge *edge;
    /* keys (hash and custom partitioning) */
    ed_keyspec ks;
    eddy_key_fn key_fn;
    eddy_row_builder *key_rb;
    eddy_partition_fn part_fn;
    ed_operator *producer; /* whose context key selectors run in */
    uint8_t *keybuf;
    size_t keycap;
    int max_parallelism;
    ed_fastmod kg_mod;   /* hash -> key group */
    uint16_t *kg_channel; /* key group -> channel */
    uint32_t rr;
    uint64_t rng;
};

/* Serializes a record into the channel(s) the partitioner picks. 0 or -1 (cancelled,
 * or a key selector failed). */
int ed_writer_emit(ed_writer *w, const eddy_row *row, int64_t ts);
int ed_writer_broadcast_element(ed_writer *w, int tag, int64_t value);
/* Sends barrier id (of a checkpoint triggered at ts, job clock ms) down every channel and
 * pushes it at once; announce: for an unaligned checkpoint (channel.h). 0, or -1 when
 * cancelled. */
int ed_writer_barrier(ed_writer *w, int64_t id, int64_t ts, bool announce);
void ed_writer_flush(ed_writer *w);

typedef struct ed_mail {
    void (*fn)(ed_task *t, void *arg);
    void *arg;
    struct ed_mail *next;
} ed_mail;

struct ed_task {
    ed_job *job;
    const ed_vertex *vertex;
    int subtask;
    char *name; /* "Map -> Sink: print (1/2)" */
    pthread_t thread;
    ed_operator *ops;
    int nops;
    ed_gate gate;
    ed_pool pool;
    ed_writer **writers;
    int nwriters;
    int *input_channels;  /* channels per logical input of the head */
    int *input_ended;     /* ended channels per logical input */
    int ninputs;
    int nended;
    int64_t watermark;    /* combined input watermark */
    bool idle;            /* every live input channel is idle */
    int64_t buffer_timeout_ns;
    int64_t last_flush_ns;
    bool dirty;           /* partial buffers not yet pushed */
    int64_t now_ms;       /* the system clock as first read for the buffer (or poll) being
                           * processed, 0 before that: ed_op_now reads it once a buffer */
    bool finished;        /* ended; guarded by job->fin_mu (checkpoints are acknowledged
                           * for it: checkpointing.c) */
    bool restored_finished; /* every operator had finished in the checkpoint it starts
                             * from: it runs none of them, and ends its outputs at once */
    int64_t acked_id;     /* the newest checkpoint it acknowledged or declined
                           * (job->fin_mu once finished) */
    /* The checkpoint whose barriers are being collected (task.c, "Barriers"). */
    int64_t ckpt_id;     /* 0: none yet */
    int64_t ckpt_ts;     /* when it was triggered (job clock, ms; from its barrier) */
    bool ckpt_done;      /* its snapshot has been taken */
    bool ckpt_unaligned; /* ... at its first barrier: in-flight data is being recorded */
    bool ckpt_over;      /* acknowledged or declined here: its barriers are stale now */
    struct ed_ua_run *ua; /* an unaligned checkpoint's recordings (unaligned.c), or NULL */
    struct ed_up_batch *up_open; /* snapshot files not yet handed to the upload thread
                                  * (upload.c), per checkpoint */
    uint32_t la_seen;    /* gate.announce when announced barriers were last looked for */
    int64_t la_due;      /* when an announced barrier's alignment times out (INT64_MAX) */
    bool la_force;       /* look for announced barriers at the next chance */
    void **final_state;  /* finished: each operator's own state as it ended (ed_strbuf *,
                          * NULL for none); freed by ed_task_free_final_state */
    bool final_failed;   /* ... could not be taken: checkpoints are declined for it */
    int64_t stop_id;     /* a stop-with-savepoint this task took part in (0: none): until it
                          * fails, the task emits nothing of its own (a source polls no more,
                          * no processing-time timer fires); once complete, a source ends */
    pthread_mutex_t mail_mu;
    ed_mail *mails;
};

struct ed_job {
    const ed_stream_graph *sg;
    ed_job_graph jg;
    ed_config *cfg;
    void *code; /* dlopen handle of the job's shared object, or NULL */
    ed_task **tasks;
    int ntasks;
    ed_channel **channels;
    int nchannels;
    _Atomic bool cancel;
    pthread_mutex_t mu;
    ed_err err; /* the first failure */
    /* guarded by mu: commits of sinks' last transactions, made once the whole job has
     * finished (a bounded input's end is not the job's: another task may still fail) */
    struct ed_final_commit {
        ed_operator *op; /* whose vt->commit_at_end makes it */
        void *data;      /* of len bytes */
        size_t len;
        const struct ed_task *task; /* op's task */
        int64_t recorded_in; /* the first checkpoint that has the task finished with it (0:
                              * none yet): made when that one completes (checkpointing.c) */
        bool done;
    } *final_commits;
    int nfinal_commits;
    char *name;
    ed_clock *clock; /* processing time: the wall clock or a test's manual clock */
    int64_t submitted_ms; /* processing time when the job was submitted (every attempt's) */
    int64_t submitted_mono_ns; /* the monotonic clock then (0: not set) */
    struct ed_coord *coord; /* checkpointing, or NULL */
    ed_fs *fs;              /* where checkpoint files are written */
    struct ed_uploader *up; /* the upload thread of checkpoint files (upload.c), or NULL */
    char **up_failed;       /* guarded by mu: shared files whose upload failed (upload.c) */
    int nup_failed;
    pthread_t coord_thread;
    bool coord_started;
    pthread_mutex_t coord_mu;
    pthread_cond_t coord_cv;
    bool done; /* guarded by coord_mu: the tasks have ended */
    struct ed_restore *restore; /* the checkpoint the job starts from, or NULL */
    _Atomic bool restore_failed; /* that checkpoint could not be restored */
    /* checkpoint options (set with the coordinator) */
    bool unaligned;              /* execution.checkpointing.unaligned, in EXACTLY_ONCE mode */
    int64_t aligned_timeout_ms;  /* execution.checkpointing.aligned-checkpoint-timeout */
    bool after_finish;           /* execution.checkpointing.checkpoints-after-tasks-finish */
    pthread_mutex_t fin_mu;      /* tasks' finished and acked_id; the ids below */
    int64_t triggered[16];       /* the newest checkpoints triggered, by id % 16 */
};

/* The checkpoint a job starts from: its "state", "channels", "finished" and "commits"
 * entries (checkpointing.c reads _metadata). */
typedef struct restore_entry {
    char key[256];
    int subtask, parallelism;
    char file[300];
    size_t bytes;
    bool claimed;
} restore_entry;

struct ed_restore {
    char dir[4096];
    restore_entry *e; /* state <key> <subtask> <parallelism> <file> <bytes> */
    int n;
    restore_entry *ch; /* channels <head key> <subtask> <parallelism> <file> <bytes> */
    int nch;
    restore_entry *fin; /* finished <key> <subtask> <parallelism> */
    int nfin;
    restore_entry *cm; /* commits <head key> <subtask> <parallelism> <file> <bytes> */
    int ncm;
};

/* The name an operator's state goes by in a checkpoint: its uid, else "node-<id>". */
void ed_op_state_key(const ed_operator *op, char *buf, size_t cap);

/* Reads the checkpoint named by execution.savepoint.path and checks that the job claims
 * all its state (checkpointing.c). 0, or -1 with err. */
int ed_job_prepare_restore(ed_job *job, ed_err *err);
void ed_job_free_restore(ed_job *job);
/* Restores a task's operators from the job's checkpoint, after they opened. */
int ed_task_restore(ed_task *t, ed_err *err);

/* Takes checkpoint `id` of a task: sends the barrier downstream, snapshots its operators
 * into the checkpoint's directory and acknowledges (checkpointing.c). */
int ed_task_checkpoint(ed_task *t, int64_t id);
/* The first half of that: sends the barrier on (announced, for an unaligned checkpoint)
 * and snapshots the operators, leaving their "state" lines in lines (an initialised
 * buffer). 0; 1 when the task declined the checkpoint (the barrier went on
 * all the same); -1 when the task must fail. */
int ed_task_snapshot(ed_task *t, int64_t id, bool unaligned, ed_strbuf *lines);
/* The second half: the task's files of checkpoint id are written and the checkpoint
 * acknowledged with its lines, by the upload thread (upload.h). */
void ed_task_ack(ed_task *t, int64_t id, const char *lines);
/* Declines checkpoint id (reason); fails the job when no more failures are tolerated. */
void ed_task_decline(ed_task *t, int64_t id, const char *reason);
/* The task has taken its part of checkpoint id (acknowledged or declined, or its files are
 * being written): finishing, it does not acknowledge id again. */
void ed_task_mark_acked(ed_task *t, int64_t id);
/* Acknowledges / declines checkpoint id for a task whose files are written (any thread);
 * the acknowledgement that completes it tells every task. */
void ed_job_ack(ed_job *job, int64_t id, const char *lines);
void ed_job_decline(ed_job *job, int64_t id, const char *reason);
/* The task has ended (task thread, before its operators close): from now on checkpoints
 * are acknowledged on its behalf with its operators marked finished, and those pending
 * that it has not acknowledged are, now. */
void ed_task_finished(ed_task *t);
void ed_task_free_final_state(ed_task *t);
/* Marks the tasks every operator of which had finished in the checkpoint the job starts
 * from (they run none); refuses a chain that mixes finished and running operators. */
int ed_job_mark_restored_finished(ed_job *job, ed_err *err);
/* Makes the renames of finished sinks' last files that the checkpoint the job starts from
 * records (before any task runs). 0, or -1 with err. */
int ed_job_restore_commits(ed_job *job, ed_err *err);

/* Unaligned checkpoints (unaligned.c). The task thread records, while checkpoint id is
 * taken unaligned, what it reads from channels before their barriers; ed_ua_* own it. */
typedef struct ed_ua_pos {
    uint32_t idx; /* ring index of the buffer that holds the barrier */
    uint32_t off; /* its offset in that buffer */
    int64_t id, ts;
} ed_ua_pos;
/* Starts recording for checkpoint id (the snapshot's lines are moved in). */
void ed_ua_begin(ed_task *t, int64_t id, ed_strbuf *lines);
/* Appends [from, to) of a buffer read from c to c's in-flight data. */
void ed_ua_record(ed_task *t, ed_channel *c, const uint8_t *from, const uint8_t *to);
/* Finds the first barrier in c's ring after its read position with an id above
 * c->bar_id; 1 with its position, or 0. */
int ed_ua_find_barrier(ed_channel *c, ed_ua_pos *pos);
/* Records everything in c's ring from its read position up to pos (barriers of older
 * checkpoints left out): data the barrier overtook. */
void ed_ua_record_ahead(ed_task *t, ed_channel *c, const ed_ua_pos *pos);
/* Every barrier has arrived: writes the in-flight data (if any) as
 * <head key>-channels-<subtask> and acknowledges with the snapshot's lines. */
void ed_ua_complete(ed_task *t);
/* Drops an unaligned checkpoint's recordings (abandoned, declined, task ending). */
void ed_ua_free(ed_task *t);
/* Puts the in-flight data of the checkpoint the job starts from in front of the channels
 * it was read from (before any task runs). 0, or -1 with err: unreadable, or a channel
 * that this job does not have (another parallelism: in-flight data is not redistributed). */
int ed_job_restore_channels(ed_job *job, ed_err *err);
/* Posts the trigger of checkpoint id to every source task still running, and acknowledges
 * it for the tasks that have finished. Any thread but a task's. */
void ed_job_trigger_checkpoint(ed_job *job, int64_t id);
/* Where the stop-with-savepoint t->stop_id stands (checkpointing.c): PENDING, COMPLETED
 * (the task may end), or FAILED: t->stop_id is cleared and the task goes on - unless the
 * sources had drained (MAX_WATERMARK sent), in which case the job fails. Task thread. */
int ed_task_stop_state(ed_task *t);

/* Makes a job able to take savepoints on request (eddy run): a checkpoint coordinator
 * even when periodic checkpointing is off; job_id (32 hex digits) names its savepoints.
 * Before ed_job_run. 0, or -1 with err. */
int ed_job_enable_savepoints(ed_job *job, const char *job_id, ed_err *err);
/* Takes a savepoint into a new directory under dir (NULL or "": the configured default)
 * and waits for it: 0 with its directory in path, or -1 with err. With stop, the sources
 * then end the job (FINISHED); with drain they emit MAX_WATERMARK before the savepoint's
 * barrier, as Flink's stop --drain. Any thread but the job's own; the job must stay alive
 * until this returns. */
int ed_job_savepoint(ed_job *job, const char *dir, bool stop, bool drain, char *path, size_t cap,
                     ed_err *err);
/* The coordinator's thread (checkpointing.c). */
void *ed_job_coordinator_main(void *arg);

/* Makes and frees an operator's keyed context (keyed.c). */
int ed_op_keyed_init(ed_operator *op, ed_err *err);
void ed_op_keyed_free(ed_operator *op);
/* Wakes every task (the manual clock moved). Any thread. */
void ed_job_wake(ed_job *job);

/* Builds tasks, channels and operators for a job graph; -1 with err set. */
/* fs: the file system checkpoints are written through (NULL: the real one). */
int ed_job_create(ed_job *job, const ed_stream_graph *sg, ed_config *cfg, void *code,
                  const char *name, ed_clock *clock, ed_fs *fs, ed_err *err);
/* Runs every task to completion or failure; 0, or -1 with job->err set. */
int ed_job_run(ed_job *job);
void ed_job_cancel(ed_job *job);
void ed_job_destroy(ed_job *job);

/* Records the failure of a task (first wins) and cancels the job. */
void ed_job_fail(ed_job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes op's commit of `data` (op->vt->commit_at_end) once every task of the job has
 * finished and the job succeeded - or, with checkpoints after tasks finish, once a
 * checkpoint that has op's task finished is complete (it is recorded there, and a restore
 * from it makes it); forgotten when the job fails before (the restore then cleans the
 * transaction away). Any thread. */
void ed_job_commit_at_end(ed_job *job, ed_operator *op, const void *data, size_t len);
/* Makes the commits recorded in checkpoint id or before (ed_job_commit_at_end). */
void ed_job_commit_recorded(ed_job *job, int64_t id);
/* Posts a mail to a task; runs on the task's thread between records. Any thread. */
void ed_task_post(ed_task *t, void (*fn)(ed_task *, void *), void *arg);

/* Opens the task's operators, downstream first (0 or -1), and closes them all. For the
 * task thread, or a test harness driving a task on its own thread. */
int ed_task_open(ed_task *t);
void ed_task_close(ed_task *t);

/* A hook for tests and the collect sink: the operator of a running task by node id. */
ed_operator *ed_task_operator(ed_task *t, int node_id);

#endif
