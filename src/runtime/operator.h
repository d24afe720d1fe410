/*
 * operator.h - the operator contract: what every operator, source and sink implements,
 * and what it may call on the task that runs it.
 *
 * A plan node (ed_node, graph.h) is immutable data. Running it makes an ed_operator per
 * subtask: the vtable of its factory, its own executor state, its runtime context and
 * its output. An operator runs only on its task's thread, so nothing in it is locked.
 *
 * Records reach an operator by vt->process(op, input, row, ts); it emits through
 * ed_out_emit(&op->out, row, ts), which calls the next chained operator directly (no
 * copy) or serializes the row into a network buffer. Control elements travel the same
 * way: watermarks through on_watermark, end of input through end_input.
 *
 *                 chained: a function call             channel: buffer copy
 *   [source] --process--> [map] --process--> [writer] ===buffers===> [gate] -> [sum] ...
 *   \______________________ task 1 (one thread) ____/              \___ task 2 ___
 */
#ifndef ED_OPERATOR_H
#define ED_OPERATOR_H

#include <eddy/eddy.h>

#include "../base/base.h"
#include "../base/config.h"
#include "../state/state.h"
#include "../state/timers.h"
#include "../types/types.h"

typedef struct ed_node ed_node;
struct ed_snapshot_ref; /* state/snapshot.h */
typedef struct ed_task ed_task;
typedef struct ed_writer ed_writer;
typedef struct ed_operator ed_operator;

#define ED_TS_NONE INT64_MIN
#define ED_WATERMARK_MAX INT64_MAX

/* Where an operator's output goes: chained operators and channel writers. */
typedef struct ed_target {
    ed_operator *op; /* chained: op->vt->process(op, input, ...) */
    int input;
    ed_writer *writer; /* or a network edge */
} ed_target;

typedef struct ed_side_out {
    const char *tag;
    struct eddy_collector *out;
} ed_side_out;

/* The collector (public name eddy_collector): an operator's output. */
struct eddy_collector {
    ed_target *targets;
    int ntargets;
    ed_side_out *sides; /* side outputs that something consumes */
    int nsides;
    eddy_row_builder *rb; /* the out builder handed to user functions */
    ed_operator *op;      /* owner */
    uint64_t count;       /* numRecordsOut */
};
typedef struct eddy_collector ed_output;

/* The runtime context (public name eddy_ctx) of one operator subtask. */
struct eddy_ctx {
    ed_operator *op;
    int subtask, parallelism, max_parallelism;
    int64_t ts; /* timestamp of the record being processed */
    void *user;
    eddy_time_domain domain;     /* in on_timer: which clock fired */
    bool erase_ts;               /* emit without a timestamp (processing-time timers) */
    int64_t win_start, win_end;  /* in window functions: the window (else INT64_MIN/MAX) */
};

/*
 * The keyed context of an operator on a keyed stream: how keys are extracted (per input:
 * a connected operator may key its two inputs by different fields), the current key,
 * the state backend and the timer service. Made by the runtime for every keyed node.
 */
typedef struct ed_keyed {
    ed_keyspec ks[2];          /* key fields per input ... */
    eddy_key_fn key_fn[2];     /* ... or key selectors */
    eddy_row_builder *sel_rb[2]; /* selector output */
    ed_keyspec key_types;      /* the key row's fields, for decoding key bytes */
    eddy_schema *key_schema;   /* the schema of key rows */
    uint8_t *key;              /* current key bytes */
    uint32_t klen, kcap;
    int key_group;
    uint32_t key_hash;         /* ed_key_hash of the key bytes */
    ed_fastmod kg_mod;         /* hash -> key group without a division */
    bool records_skip_backend; /* the operator reads no keyed state while it processes a
                                * record: ed_op_set_key_from_row leaves the backend's key
                                * alone (timers and every other way of setting the key
                                * still set it) */
    bool in_window_fn;         /* a window's reduce or aggregate function is running: it
                                * may not use keyed state (Flink: not a rich function) */
    const uint8_t *ns;         /* current namespace (owned by the caller) */
    uint32_t nslen;
    eddy_row_builder *key_row; /* the current key as a row, decoded on demand */
    bool key_row_valid;
    ed_state_backend *backend;
    ed_timer_service *timers;
    /* the states the operator's functions asked for last, by descriptor (eddy_keyed_state
     * checks a descriptor once; a function asks on every record) */
    struct ed_state_memo {
        const eddy_state_desc *desc;
        const char *schema;
        eddy_state *state;
        eddy_state_kind kind;
        char name[40];
    } memo[8];
    int nmemo;
} ed_keyed;

typedef enum ed_poll_result {
    ED_POLL_ERROR = -1,
    ED_POLL_MORE = 0, /* more is available now: call again soon */
    ED_POLL_IDLE = 1, /* nothing now: call again at op->wake_ns or when woken */
    ED_POLL_END = 2,  /* bounded input finished */
} ed_poll_result;

typedef struct ed_op_vt {
    /* Sets up executor state after op, ctx and out are filled. */
    int (*open)(ed_operator *op, ed_err *err);
    /* One record from input `input` (0 for single-input operators). */
    int (*process)(ed_operator *op, int input, const eddy_row *row, int64_t ts);
    /* The task's combined watermark advanced; NULL forwards it. */
    int (*on_watermark)(ed_operator *op, int64_t wm);
    /* Input `input` has ended (bounded input); NULL does nothing. */
    int (*end_input)(ed_operator *op, int input);
    /* The task is about to wait or its buffer timeout passed: push out buffered output
     * (sinks with their own buffers). NULL does nothing. */
    int (*flush)(ed_operator *op);
    /* Releases executor state; called once, also after a failure. NULL for none. */
    void (*close)(ed_operator *op);
    /* Sources only: emit up to max records through op->out. */
    ed_poll_result (*poll)(ed_operator *op, int max);
    /* A keyed timer fired; the key and namespace are already current. */
    int (*on_timer)(ed_operator *op, eddy_time_domain domain, const ed_timer *timer);
    /* op->pt_callback_at has passed (non-keyed processing-time callbacks: periodic
     * watermarks, idleness). */
    int (*on_processing_time)(ed_operator *op, int64_t now_ms);
    /* The watermark status of the task's input changed (idle = true); NULL forwards. */
    int (*on_idle)(ed_operator *op, bool idle);
    /* Checkpoint `id`: appends the operator's own state (a source's position, ...) to
     * out; keyed and operator state are snapshotted by the runtime. NULL for none. */
    int (*snapshot)(ed_operator *op, int64_t id, ed_strbuf *out);
    /* Restores what vt->snapshot wrote: the sections of the old subtasks (in subtask
     * order; nold of them, from a job of parallelism nold), after open. NULL: the
     * operator keeps no state of its own. */
    int (*restore)(ed_operator *op, const struct ed_snapshot_ref *old, int nold);
    /* Around the runtime's snapshot of keyed state: an operator that keeps keyed state
     * outside its states (the window operator's per-key table) writes it into them
     * before, and drops it from them after. NULL for none. */
    int (*pre_snapshot)(ed_operator *op);
    void (*post_snapshot)(ed_operator *op);
    /* A restore has put state into the operator's states (after vt->restore). NULL for
     * nothing to do. */
    int (*restored)(ed_operator *op);
    /* Optional, keyed heads of a task: a record whose key has hash `hash` comes soon.
     * Stage 0: it is a few records ahead (fetch the table slot); stage 1: it is next
     * (fetch what the slot points to). Changes nothing. */
    void (*prefetch)(ed_operator *op, uint32_t hash, int stage);
    /* Checkpoint `id` is complete (two-phase-commit sinks commit here). Setting op->err
     * (ed_op_fail) fails the job. */
    void (*notify_checkpoint_complete)(ed_operator *op, int64_t id);
    /* Makes a commit the operator left for the end of the job (ed_op_commit_at_end), given
     * the bytes it left. Called on another thread once the operator's task has finished,
     * or when a job restores from a checkpoint that recorded it, before any task runs
     * (the operator is then not open). Must be idempotent: a commit may be made again
     * after a failure. */
    int (*commit_at_end)(ed_operator *op, const void *data, size_t len, ed_err *err);
} ed_op_vt;

/* ed_operator.in_key_hash: ED_KEY_HASH_GIVEN | hash, or 0 */
#define ED_KEY_HASH_GIVEN (1ull << 32)

struct ed_operator {
    const ed_op_vt *vt;
    /* The hash of the key of the record being processed, when its producer sent it by
     * key (set by the task before vt->process, taken by ed_op_set_key_from_row). */
    uint64_t in_key_hash;
    const ed_node *node;
    ed_task *task;
    struct eddy_ctx ctx;
    ed_output out;
    void *state;        /* the operator's executor state */
    uint64_t records_in; /* numRecordsIn */
    int64_t wake_ns;    /* sources returning ED_POLL_IDLE: when to poll again (mono ns) */
    int index;          /* position in the task's chain */
    ed_err err;         /* why it failed */
    ed_keyed *keyed;    /* keyed operators: key, state and timers; else NULL */
    ed_operator_store *op_store; /* operator and broadcast state, made on first use */
    int64_t watermark;  /* the last watermark this operator saw */
    int64_t pt_callback_at; /* when to call vt->on_processing_time (INT64_MAX: never) */
    int split;          /* sources: the split the records being emitted come from */
    char note[256];     /* the last failed state call: the reason if a function gives up */
};

/* ---- emitting -------------------------------------------------------------------------- */
int ed_out_emit_slow(ed_output *o, const eddy_row *row, int64_t ts);
int ed_writer_emit(ed_writer *w, const eddy_row *row, int64_t ts);
/* The hot path: one target is a direct call of the chained operator or the writer. */
static inline int ed_out_emit(ed_output *o, const eddy_row *row, int64_t ts)
{
    o->count++;
    if (ED_LIKELY(o->ntargets == 1)) {
        ed_operator *n = o->targets[0].op;
        if (!n) return ed_writer_emit(o->targets[0].writer, row, ts);
        n->records_in++;
        return n->vt->process(n, o->targets[0].input, row, ts);
    }
    return ed_out_emit_slow(o, row, ts);
}
int ed_out_emit_side(ed_output *o, const char *tag, const eddy_row *row, int64_t ts);
/* Hands a watermark to every target: chained operators advance (firing their event-time
 * timers) and the writers broadcast it. */
int ed_out_watermark(ed_output *o, int64_t wm);
/* Hands an idle/active watermark status to every target. */
int ed_out_idle(ed_output *o, bool idle);

/* ---- time and keys ------------------------------------------------------------------------- */
/* The operator sees watermark wm: fires its event-time timers <= wm (in order), then
 * calls vt->on_watermark or forwards wm. */
int ed_op_advance_watermark(ed_operator *op, int64_t wm);
/* Fires the operator's processing-time timers <= now, and its callback when due. */
int ed_op_fire_processing_time(ed_operator *op, int64_t now_ms);
/* The earliest processing time at which the operator has something to do, or INT64_MAX. */
int64_t ed_op_next_processing_time(ed_operator *op);
/* The job's processing time (its clock). */
int64_t ed_op_now(const ed_operator *op);
/* Keyed operators: makes the key of `row` (from input `input`) current. 0 or -1. */
int ed_op_set_key_from_row(ed_operator *op, int input, const eddy_row *row);
/* Makes the given key bytes current (timers, state iteration). */
void ed_op_set_key_bytes(ed_operator *op, const uint8_t *key, uint32_t len, int key_group);
/* Sets the current namespace of state and timers (not copied: keep it alive). */
void ed_op_set_namespace(ed_operator *op, const uint8_t *ns, uint32_t len);
/* The current key as a row (decoded on demand), or NULL when not keyed. */
const eddy_row *ed_op_current_key(ed_operator *op);
/* The operator's operator/broadcast state store, made on first use. */
ed_operator_store *ed_op_store(ed_operator *op);

/* Fails the operator: keeps the first message, prefixed with the operator and subtask
 * when the task reports it. Returns -1. */
int ed_op_fail(ed_operator *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The value of an operator option or parameter (node params, then job config), or dflt. */
const char *ed_op_param(const ed_operator *op, const char *key, const char *dflt);
/* Processing time (ms) when the job was submitted: the same for every subtask and every
 * restart of the job. */
int64_t ed_op_submitted_ms(const ed_operator *op);
/* The monotonic clock (ed_mono_ns) when the job was submitted; now when not known. */
int64_t ed_op_submitted_mono_ns(const ed_operator *op);
/* The job configuration of the running task. */
const ed_config *ed_op_config(const ed_operator *op);
/* The file system the job writes durable files through (checkpoints, committed sink
 * files): the real one, or a test's that injects faults. */
struct ed_fs *ed_op_fs(const ed_operator *op);
/* Leaves a commit (the operator's vt->commit_at_end of these bytes, copied) for when the
 * whole job has finished successfully, or for the first checkpoint that records the task
 * finished (ed_job_commit_at_end): a sink's last transaction at the end of its bounded
 * input. */
void ed_op_commit_at_end(ed_operator *op, const void *data, size_t len);
/* The output schema of the operator's node, and of its (first) input. */
const eddy_schema *ed_op_schema(const ed_operator *op);
const eddy_schema *ed_op_input_schema(const ed_operator *op);
/* Resolves a user function of the node: by address if known, else by name with dlsym in
 * the job's code. NULL with op->err set when it cannot be found. */
void (*ed_op_resolve(ed_operator *op, const eddy_fn *fn))(void);
/* True once the job is cancelled or failed: long-running sources check it. */
bool ed_op_cancelled(const ed_operator *op);

/* ---- factories ---------------------------------------------------------------------------
 * Every operator, source and sink kind is one row of a table (registry.c): its name, its
 * vtable, and a check of its options made when the job is built, so that a bad option is
 * reported by the builder call with the option's name rather than at run time. */
typedef enum ed_factory_kind { ED_FACTORY_OPERATOR, ED_FACTORY_SOURCE, ED_FACTORY_SINK } ed_factory_kind;

typedef struct ed_factory {
    const char *name;
    ed_factory_kind kind;
    const ed_op_vt *vt;
    /* Validates the node's options/schema at build time; NULL accepts all. */
    int (*check)(const ed_node *node, ed_err *err);
    int max_parallelism; /* 0: any; 1 for non-parallel sources (socket, collection) */
    /* Option names the factory understands (NULL-terminated); the builder rejects others
     * before calling check(). NULL: the names are dynamic (datagen's fields.<f>.<prop>)
     * and check(), which such a factory must have, rejects unknown ones itself. */
    const char *const *options;
} ed_factory;

const ed_factory *ed_factory_find(const char *name, ed_factory_kind kind);

#endif
