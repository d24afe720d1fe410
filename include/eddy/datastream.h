/*
 * eddy/datastream.h - the DataStream API in C.
 *
 * A job is a shared object that exports
 *
 *     int eddy_job_main(eddy_env *env, int argc, char **argv);
 *
 * which builds a stream graph with the calls below and runs it with eddy_execute.
 * Building only records data: operator kinds, names, schemas, parameters and the
 * *names* of user functions. A user function is passed as EDDY_FN(f), which carries
 * both its name and its address; a task resolves the name with dlsym in the job's
 * shared object when the address is not at hand (a remote TaskManager), so a job graph
 * is plain data.
 *
 * Builder calls never crash on misuse: the first error is kept in the environment, the
 * calls after it return NULL streams, and eddy_execute reports it.
 *
 * Threads: the builder is used by one thread. User functions run on the task thread of
 * their subtask; one subtask's functions are never called concurrently.
 */
#ifndef EDDY_DATASTREAM_H
#define EDDY_DATASTREAM_H

#include "row.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eddy_env eddy_env;
typedef struct eddy_stream eddy_stream;
typedef struct eddy_ctx eddy_ctx;
typedef struct eddy_collector eddy_collector;

/* A user function by name and address. */
typedef struct eddy_fn {
    const char *name;
    void (*ptr)(void);
} eddy_fn;
#define EDDY_FN(f) ((eddy_fn){#f, (void (*)(void))(f)})
#define EDDY_FN_NONE ((eddy_fn){NULL, NULL})

/*
 * User function signatures. Each returns 0 on success; a negative value fails the job
 * (call eddy_fail first to say why). The rows passed in are valid only during the call.
 */
/* map: fill `out` (already reset, with the declared output arity). */
typedef int (*eddy_map_fn)(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out);
/* flat_map and process: emit any number of rows through `out`. */
typedef int (*eddy_flat_map_fn)(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out);
typedef eddy_flat_map_fn eddy_process_fn;
/* filter: 1 keeps the row, 0 drops it, negative fails. */
typedef int (*eddy_filter_fn)(eddy_ctx *ctx, const eddy_row *in);
/* reduce: combine the accumulated row with a new one into `out` (same schema). */
typedef int (*eddy_reduce_fn)(eddy_ctx *ctx, const eddy_row *acc, const eddy_row *in,
                              eddy_row_builder *out);
/* key selector: fill `key` with the key fields (schema declared with key_by_fn). */
typedef int (*eddy_key_fn)(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *key);
/* custom partitioner: the channel in [0, n) for a key. */
typedef int (*eddy_partition_fn)(const eddy_row *key, int n);
/* rich functions: called once per subtask before the first and after the last record. */
typedef int (*eddy_open_fn)(eddy_ctx *ctx);
typedef void (*eddy_close_fn)(eddy_ctx *ctx);

/* ---- the execution environment ---------------------------------------------------- */

/*
 * Configuration uses Flink's keys where they exist (parallelism.default,
 * pipeline.max-parallelism, execution.buffer-timeout, ...); docs/configuration.md lists
 * them. Values are strings as in a YAML file. Returns 0, or -1 for an unknown key or a
 * value that does not parse (the message is in eddy_env_error).
 */
int eddy_env_set(eddy_env *env, const char *key, const char *value);
/* The value of a key (set or default) or NULL; valid until the key is set again. */
const char *eddy_env_get(eddy_env *env, const char *key);
void eddy_env_set_parallelism(eddy_env *env, int p);
void eddy_env_set_max_parallelism(eddy_env *env, int p);
int eddy_env_parallelism(eddy_env *env);
/* The first error (building or running), or NULL. */
const char *eddy_env_error(eddy_env *env);

/* Runs the graph built so far in the embedded mini-cluster and waits for bounded jobs
 * to finish. Returns 0, or -1 with the reason in eddy_env_error. */
int eddy_execute(eddy_env *env, const char *job_name);

/* Cancels a running job from another thread (or a signal-safe context). */
void eddy_env_cancel(eddy_env *env);

/*
 * For programs that embed eddy rather than being run by `eddy run`: a fresh
 * environment with the default configuration. Free with eddy_env_free.
 */
eddy_env *eddy_env_new(void);
void eddy_env_free(eddy_env *env);

/* ---- sources ------------------------------------------------------------------------ */

/*
 * A source by connector name with options as NULL-terminated key/value string pairs,
 * the same options the SQL connector takes in its WITH clause, e.g.
 *   eddy_source(env, "datagen", "id BIGINT, v DOUBLE", "number-of-rows", "1000", NULL);
 * Connectors: datagen, filesystem (format text or csv), socket, collection
 * (docs/connectors.md).
 */
eddy_stream *eddy_source(eddy_env *env, const char *connector, const char *schema, ...)
    __attribute__((sentinel));

/* Lines of text files: schema "line STRING". */
eddy_stream *eddy_read_text_file(eddy_env *env, const char *path);
/* Flink's socketTextStream: lines from host:port, schema "line STRING". Not replayable. */
eddy_stream *eddy_socket_text_stream(eddy_env *env, const char *host, int port);
/* Rows copied from the caller's array now; the stream has the given schema. */
eddy_stream *eddy_from_rows(eddy_env *env, const char *schema, const eddy_row *const *rows,
                            size_t n);

/* ---- transformations ---------------------------------------------------------------- */

eddy_stream *eddy_map(eddy_stream *in, eddy_fn map, const char *out_schema);
eddy_stream *eddy_flat_map(eddy_stream *in, eddy_fn flat_map, const char *out_schema);
eddy_stream *eddy_filter(eddy_stream *in, eddy_fn filter);
eddy_stream *eddy_process(eddy_stream *in, eddy_fn process, const char *out_schema);
/* Merges streams of the same schema. */
eddy_stream *eddy_union(eddy_stream *a, eddy_stream *b);

/* Keyed streams: by field names ("word" or "a, b"), or by a key selector function. */
eddy_stream *eddy_key_by(eddy_stream *in, const char *fields);
eddy_stream *eddy_key_by_fn(eddy_stream *in, eddy_fn key, const char *key_schema);

/*
 * Rolling aggregations on a keyed stream, as Flink's: each record emits the updated
 * aggregate of its key. sum/min/max update one field and keep the other fields of the
 * first record of the key; min_by/max_by emit the whole record holding the extreme
 * (the first one on ties).
 */
eddy_stream *eddy_reduce(eddy_stream *keyed, eddy_fn reduce);
eddy_stream *eddy_sum(eddy_stream *keyed, const char *field);
eddy_stream *eddy_min(eddy_stream *keyed, const char *field);
eddy_stream *eddy_max(eddy_stream *keyed, const char *field);
eddy_stream *eddy_min_by(eddy_stream *keyed, const char *field);
eddy_stream *eddy_max_by(eddy_stream *keyed, const char *field);

/* Partitioning of the edge into the next operator. */
eddy_stream *eddy_forward(eddy_stream *in);
eddy_stream *eddy_rebalance(eddy_stream *in);
eddy_stream *eddy_rescale(eddy_stream *in);
eddy_stream *eddy_shuffle(eddy_stream *in);
eddy_stream *eddy_broadcast(eddy_stream *in);
eddy_stream *eddy_global(eddy_stream *in);
eddy_stream *eddy_partition_custom(eddy_stream *in, eddy_fn partitioner, const char *key_fields);

/* Side outputs: the stream of rows an operator emitted with eddy_emit_side(tag). */
eddy_stream *eddy_side_output(eddy_stream *of, const char *tag, const char *schema);

/* ---- operator properties (apply to the operator that produced the stream) ----------- */

eddy_stream *eddy_name(eddy_stream *s, const char *name);
eddy_stream *eddy_uid(eddy_stream *s, const char *uid);
eddy_stream *eddy_set_parallelism(eddy_stream *s, int p);
eddy_stream *eddy_disable_chaining(eddy_stream *s);
eddy_stream *eddy_start_new_chain(eddy_stream *s);
eddy_stream *eddy_rich(eddy_stream *s, eddy_fn open, eddy_fn close);
/* A parameter the operator's functions read with eddy_ctx_param. */
eddy_stream *eddy_param(eddy_stream *s, const char *key, const char *value);
/* The schema of a stream (owned by the environment). */
const eddy_schema *eddy_stream_schema(eddy_stream *s);

/* ---- sinks --------------------------------------------------------------------------- */

/* A sink by connector name with key/value options, NULL-terminated: print, blackhole,
 * filesystem (format text or csv), collect. Returns 0 or -1. */
int eddy_sink(eddy_stream *in, const char *connector, ...) __attribute__((sentinel));
/* Flink's print(): "N> " prefix with the subtask number when the sink runs in parallel. */
int eddy_print(eddy_stream *in);
int eddy_discard(eddy_stream *in);
int eddy_write_as_text(eddy_stream *in, const char *path);
int eddy_write_as_csv(eddy_stream *in, const char *path);

/*
 * A collect sink for tests and embedding: after eddy_execute, eddy_result_rows gives
 * every row that reached it (in arrival order per subtask, subtasks concatenated in
 * order). The result belongs to the environment.
 */
typedef struct eddy_result eddy_result;
eddy_result *eddy_collect(eddy_stream *in);
size_t eddy_result_count(const eddy_result *r);
const eddy_row *eddy_result_row(const eddy_result *r, size_t i);
int64_t eddy_result_timestamp(const eddy_result *r, size_t i);

/* ---- inside user functions ---------------------------------------------------------- */

int eddy_ctx_subtask(const eddy_ctx *ctx);        /* 0-based subtask index */
int eddy_ctx_parallelism(const eddy_ctx *ctx);
int eddy_ctx_max_parallelism(const eddy_ctx *ctx);
const char *eddy_ctx_operator(const eddy_ctx *ctx); /* operator name */
/* The operator parameter set with eddy_param, else the job configuration, else dflt. */
const char *eddy_ctx_param(const eddy_ctx *ctx, const char *key, const char *dflt);
/* The event timestamp of the record being processed (INT64_MIN if none). */
int64_t eddy_ctx_timestamp(const eddy_ctx *ctx);
/* One pointer of per-subtask user state, e.g. set in open and freed in close. */
void *eddy_ctx_user(const eddy_ctx *ctx);
void eddy_ctx_set_user(eddy_ctx *ctx, void *p);
/* Records why the function fails; returns -1 so that `return eddy_fail(...)` reads well. */
int eddy_fail(eddy_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Emits a row (copied) with the current record's timestamp; returns 0 or -1. */
int eddy_emit(eddy_collector *out, const eddy_row *row);
int eddy_emit_ts(eddy_collector *out, const eddy_row *row, int64_t ts);
int eddy_emit_side(eddy_collector *out, const char *tag, const eddy_row *row);
/* A builder of the output arity, reset, owned by the collector: build, then emit. */
eddy_row_builder *eddy_out_builder(eddy_collector *out);

#ifdef __cplusplus
}
#endif
#endif
