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
    pthread_mutex_t mu; /* guards running and cancel_requested */
    ed_job *running;
    bool cancel_requested;
};

/* Takes ownership of cfg; code may be NULL (functions resolve in the process). */
eddy_env *ed_env_new_with(ed_config *cfg, void *code);

#endif
