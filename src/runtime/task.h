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
    bool finished;
    int64_t ckpt_id;     /* the checkpoint whose barriers are being collected (0: none) */
    int ckpt_barriers;   /* barriers of ckpt_id received */
    bool ckpt_done;      /* ckpt_id has been snapshotted */
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
    /* guarded by mu: renames that commit a sink's last files once the whole job has
     * finished (a bounded input's end is not the job's: another task may still fail) */
    struct ed_final_commit {
        char *from, *to;
    } *final_commits;
    int nfinal_commits;
    char *name;
    ed_clock *clock; /* processing time: the wall clock or a test's manual clock */
    struct ed_coord *coord; /* checkpointing, or NULL */
    ed_fs *fs;              /* where checkpoint files are written */
    pthread_t coord_thread;
    bool coord_started;
    pthread_mutex_t coord_mu;
    pthread_cond_t coord_cv;
    bool done; /* guarded by coord_mu: the tasks have ended */
    struct ed_restore *restore; /* the checkpoint the job starts from, or NULL */
    _Atomic bool restore_failed; /* that checkpoint could not be restored */
};

/* Reads the checkpoint named by execution.savepoint.path and checks that the job claims
 * all its state (checkpointing.c). 0, or -1 with err. */
int ed_job_prepare_restore(ed_job *job, ed_err *err);
void ed_job_free_restore(ed_job *job);
/* Restores a task's operators from the job's checkpoint, after they opened. */
int ed_task_restore(ed_task *t, ed_err *err);

/* Takes checkpoint `id` of a task: snapshots its operators into the checkpoint's
 * directory, sends the barrier downstream and acknowledges (checkpointing.c). */
int ed_task_checkpoint(ed_task *t, int64_t id);
/* Posts the trigger of checkpoint id to every source task. */
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
/* Renames from to `to` once every task of the job has finished and the job succeeded;
 * forgotten when it fails (the restore then cleans the file away). Any thread. */
void ed_job_commit_at_end(ed_job *job, const char *from, const char *to);
/* Posts a mail to a task; runs on the task's thread between records. Any thread. */
void ed_task_post(ed_task *t, void (*fn)(ed_task *, void *), void *arg);

/* Opens the task's operators, downstream first (0 or -1), and closes them all. For the
 * task thread, or a test harness driving a task on its own thread. */
int ed_task_open(ed_task *t);
void ed_task_close(ed_task *t);

/* A hook for tests and the collect sink: the operator of a running task by node id. */
ed_operator *ed_task_operator(ed_task *t, int node_id);

#endif
