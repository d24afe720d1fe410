/*
 * api.h - the DataStream builder's internals: the environment and stream handles.
 *
 * An eddy_env owns a configuration, the stream graph being built, the handles it gave
 * out and the collect results; eddy_execute turns the graph into a job (runtime/) and
 * runs it. A stream handle names a node of the graph.
 */
#ifndef ED_API_H
#define ED_API_H

#include <eddy/eddy.h>

#include "../runtime/task.h"

struct eddy_stream {
    eddy_env *env;
    int node;
};

struct eddy_env {
    ed_config *cfg;
    ed_stream_graph sg;
    eddy_stream **streams;
    int nstreams;
    eddy_result **results;
    int nresults;
    ed_err err;
    void *code; /* the job's shared object (eddy run), for resolving functions by name */
    pthread_mutex_t mu; /* guards running, cancel_requested, ctl and control_users */
    pthread_cond_t cv;  /* running or control_users changed */
    ed_job *running;
    bool cancel_requested;
    bool control;               /* serve a control endpoint while a job runs (eddy run) */
    struct ed_control *ctl;     /* that endpoint, while eddy_execute runs */
    int control_users;          /* control requests using `running`: it stays alive */
    ed_manual_clock manual; /* eddy_env_use_manual_clock */
    bool use_manual;
    ed_fs *fs; /* checkpoint files go through it (tests inject faults); NULL: the real one */
    int64_t submitted_ms; /* processing time when eddy_execute began: every attempt's */
    int64_t submitted_mono_ns; /* ... and the monotonic clock then */
};

/* Tests: checkpoint files of the env's jobs go through fs (fault injection). */
void ed_env_set_fs(eddy_env *env, ed_fs *fs);

/* Takes ownership of cfg; code may be NULL (functions resolve in the process). */
eddy_env *ed_env_new_with(ed_config *cfg, void *code);
/* Jobs of this environment get a JobID and a control endpoint (runtime/control.h) while
 * they run, so that `eddy list`, `cancel`, `savepoint` and `stop` reach them; and they
 * can take savepoints even without periodic checkpoints. `eddy run` turns it on. */
void ed_env_enable_control(eddy_env *env);

/* ---- for the builder's files (stream.c, window.c, process.c, time.c) ---------------------- */
/* Keeps the first error; returns NULL so that `return ed_api_fail(...)` reads well. */
eddy_stream *ed_api_fail(eddy_env *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when the stream exists and no error happened yet. */
bool ed_api_usable(eddy_stream *in);
ed_node *ed_api_node(eddy_stream *s);
/* A new handle naming node `node`, owned by the environment. */
eddy_stream *ed_api_handle(eddy_env *env, int node);
/* Appends a node; its inputs must be added before any later node is. */
ed_node *ed_api_add_node(eddy_env *env, ed_node_kind kind, const char *factory,
                         const char *name);
void ed_api_add_input(ed_node *n, int from);
void ed_api_add_param(ed_node *n, const char *k, const char *v);
/* Parses a schema; NULL with the error kept, prefixed by `what`. */
eddy_schema *ed_api_parse_schema(eddy_env *env, const char *what, const char *text);
const eddy_schema *ed_api_schema_of(eddy_env *env, int id);
/* The keyed partition node behind a keyed stream, or NULL with "<what> needs a keyed
 * stream" kept. */
ed_node *ed_api_keyed_input(eddy_stream *in, const char *what);
void ed_api_copy_keying(ed_keying *dst, const ed_node *keyed_partition);
int ed_api_check_fields(eddy_env *env, const eddy_schema *s, const char *fields,
                        const char *what);

#endif
