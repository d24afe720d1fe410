/*
 * graph.h - jobs as data: the stream graph the API builds, and the job graph it becomes.
 *
 * Stream graph: one ed_node per transformation. Physical nodes (sources, operators,
 * sinks) run; virtual nodes (partition, union, side output) only describe how records
 * move between physical nodes and vanish when the job graph is made.
 *
 * Job graph: physical nodes grouped into chains. A node chains into its single upstream
 * when the edge is forward, the parallelisms are equal and neither side disabled
 * chaining: chained operators run in one task and hand rows over by a function call.
 * A vertex is a chain; an edge between vertices carries a partitioner.
 *
 * Everything here is plain data: names, strings and numbers, no pointers to code but
 * the optional addresses inside eddy_fn, which a remote process ignores.
 */
#ifndef ED_GRAPH_H
#define ED_GRAPH_H

#include "operator.h"

typedef enum ed_node_kind {
    ED_NODE_SOURCE,
    ED_NODE_OPERATOR,
    ED_NODE_SINK,
    ED_NODE_PARTITION, /* virtual */
    ED_NODE_UNION,     /* virtual */
    ED_NODE_SIDE,      /* virtual: a side output of its input */
} ed_node_kind;

typedef enum ed_partitioner {
    ED_PART_DEFAULT = 0, /* forward when parallelism is equal, else rebalance */
    ED_PART_FORWARD,
    ED_PART_HASH, /* key groups */
    ED_PART_REBALANCE,
    ED_PART_RESCALE,
    ED_PART_SHUFFLE,
    ED_PART_BROADCAST,
    ED_PART_GLOBAL,
    ED_PART_CUSTOM,
} ed_partitioner;

const char *ed_partitioner_name(ed_partitioner p);

typedef struct ed_kv {
    char *key, *value;
} ed_kv;

/* How records are keyed: by fields of the row, or by a key selector function. */
typedef struct ed_keying {
    bool keyed;
    char *fields;         /* "a, b" when keyed by fields */
    eddy_fn key_fn;       /* or a selector ... */
    eddy_schema *key_schema; /* ... producing rows of this schema */
} ed_keying;

struct ed_node {
    int id;
    ed_node_kind kind;
    char *factory; /* ed_factory name: "map", "datagen", "print", ... */
    char *name, *uid;
    int parallelism; /* 0: the job default */
    eddy_schema *schema; /* output schema */
    eddy_fn fn, open_fn, close_fn;
    ed_kv *params;
    int nparams;
    int *inputs; /* node ids */
    int ninputs;
    /* partition nodes */
    ed_partitioner partitioner;
    eddy_fn partition_fn;
    /* keyed operators take this from their keyed input; partition nodes declare it */
    ed_keying keying;
    ed_keying keying2; /* two-input keyed operators: the second input's keys */
    /* operator-specific plan data (window specs, join bounds...), owned by the node and
     * freed with free_spec; plain data only */
    void *spec;
    void (*free_spec)(void *spec);
    char *side_tag; /* side nodes */
    uint8_t *blob;  /* collection sources: the rows, concatenated */
    size_t blob_len;
    struct eddy_result *result; /* collect sinks: where rows go (in-process only) */
    bool disable_chaining, start_new_chain;
    bool inherit_parallelism; /* without its own: its input's (as Flink's timestamp assigner) */
};

/* The value of option/parameter key of a node, or NULL. */
const char *ed_node_param(const ed_node *n, const char *key);

typedef struct ed_stream_graph {
    ed_node **nodes;
    int nnodes, cap;
} ed_stream_graph;

/* ---- job graph -------------------------------------------------------------------------- */

typedef struct ed_jedge {
    int from_vertex, to_vertex;
    int from_node;  /* the producing node inside the upstream chain */
    int to_input;   /* input index at the downstream head */
    ed_partitioner partitioner;
    const ed_node *part_node; /* the partition node (keys, custom function), or NULL */
    const char *side_tag;     /* records of this side output only, or NULL */
} ed_jedge;

/* A physical input of a node, resolved through the virtual nodes. */
typedef struct ed_jinput {
    int from; /* producing physical node */
    ed_partitioner partitioner;
    const ed_node *part_node; /* the partition node that set it, or NULL */
    const char *side_tag;     /* a side output of `from`, or NULL for its main output */
    int input;                /* input index at the consuming node */
} ed_jinput;

typedef struct ed_jinput_list {
    ed_jinput *v;
    int n, cap;
} ed_jinput_list;

typedef struct ed_vertex {
    int id;
    int *nodes; /* chain members in topological order; nodes[0] is the head */
    int nnodes;
    int parallelism;
    char *name; /* "Source: datagen -> Map" as Flink names chained tasks */
} ed_vertex;

typedef struct ed_job_graph {
    const ed_stream_graph *sg;
    ed_vertex *vertices;
    int nvertices;
    ed_jedge *edges;
    int nedges;
    int *node_parallelism; /* resolved, by node id */
    int *node_vertex;      /* by node id; -1 for virtual nodes */
    ed_jinput_list *inputs; /* by node id: resolved physical inputs */
    bool *chained;          /* by node id: runs chained to its single input */
    int max_parallelism;
} ed_job_graph;

/* Builds the job graph; -1 with a message naming the node for an invalid graph. */
int ed_job_graph_build(const ed_stream_graph *sg, const ed_config *cfg, ed_job_graph *jg,
                       ed_err *err);
void ed_job_graph_free(ed_job_graph *jg);

#endif
