/*
 * eddy/state.h - keyed state, operator state and broadcast state, as Flink's.
 *
 * State is declared by a descriptor and fetched once, usually in a rich function's
 * open(): the handle belongs to the operator subtask and stays valid until close. Keyed
 * state is scoped to the key of the record (or timer) being processed - the runtime sets
 * it before calling the function - and, inside windows, to the window. Nothing in it is
 * locked: one subtask's functions run on one thread.
 *
 * Rows handed out by a state call are valid until the next call on the same handle.
 * Rows handed in are copied.
 */
#ifndef EDDY_STATE_H
#define EDDY_STATE_H

#include "datastream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum eddy_state_kind {
    EDDY_STATE_VALUE = 1,
    EDDY_STATE_LIST,
    EDDY_STATE_MAP,
    EDDY_STATE_REDUCING,
    EDDY_STATE_AGGREGATING,
} eddy_state_kind;

/* Flink's StateTtlConfig. */
typedef enum eddy_ttl_update {
    EDDY_TTL_ON_CREATE_AND_WRITE = 0, /* the clock restarts on writes */
    EDDY_TTL_ON_READ_AND_WRITE = 1,   /* ... and on reads */
} eddy_ttl_update;

typedef enum eddy_ttl_visibility {
    EDDY_TTL_NEVER_RETURN_EXPIRED = 0,
    EDDY_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP = 1,
} eddy_ttl_visibility;

typedef struct eddy_state_ttl {
    int64_t ttl_ms; /* 0: state never expires */
    eddy_ttl_update update;
    eddy_ttl_visibility visibility;
    /* Cleanup: expired entries are always invisible (NEVER_RETURN_EXPIRED); these say
     * when their memory is reclaimed. */
    bool cleanup_full_snapshot;  /* leave expired entries out of full snapshots */
    int cleanup_incremental;     /* entries examined per state access (0: off) */
    bool keep_expired_on_read;   /* do not drop an expired entry when it is read (Flink
                                  * drops it: the default, false, does too) */
} eddy_state_ttl;

/* The functions of an AggregateFunction, by name, with the accumulator's schema. */
typedef struct eddy_aggregate {
    const char *acc_schema;
    const char *out_schema;
    eddy_fn create; /* int create(eddy_ctx *, eddy_row_builder *acc) */
    eddy_fn add;    /* int add(eddy_ctx *, const eddy_row *in, const eddy_row *acc,
                     *         eddy_row_builder *acc_out) */
    eddy_fn result; /* int result(eddy_ctx *, const eddy_row *acc, eddy_row_builder *out) */
    eddy_fn merge;  /* int merge(eddy_ctx *, const eddy_row *a, const eddy_row *b,
                     *           eddy_row_builder *out); needed by merging windows */
} eddy_aggregate;

typedef int (*eddy_agg_create_fn)(eddy_ctx *ctx, eddy_row_builder *acc);
typedef int (*eddy_agg_add_fn)(eddy_ctx *ctx, const eddy_row *in, const eddy_row *acc,
                               eddy_row_builder *acc_out);
typedef int (*eddy_agg_result_fn)(eddy_ctx *ctx, const eddy_row *acc, eddy_row_builder *out);
typedef int (*eddy_agg_merge_fn)(eddy_ctx *ctx, const eddy_row *a, const eddy_row *b,
                                 eddy_row_builder *out);

typedef struct eddy_state_desc {
    const char *name;      /* unique per operator; the name in savepoints */
    eddy_state_kind kind;
    const char *schema;    /* values: VALUE, LIST elements, MAP values, REDUCING rows */
    const char *key_schema; /* MAP keys */
    const char *default_value; /* VALUE: a CSV line of `schema` returned when empty, or NULL */
    eddy_fn reduce;        /* REDUCING: an eddy_reduce_fn */
    eddy_aggregate aggregate; /* AGGREGATING: input rows are `schema` */
    eddy_state_ttl ttl;
} eddy_state_desc;

typedef struct eddy_state eddy_state;

/*
 * Keyed state of the calling operator (keyed streams only), created on first use. NULL
 * with the reason recorded (eddy_fail) when the descriptor is invalid, conflicts with an
 * earlier one of the same name, or the stream is not keyed.
 */
eddy_state *eddy_keyed_state(eddy_ctx *ctx, const eddy_state_desc *desc);

/* Operator state, redistributed on rescaling as Flink's: LIST splits the elements
 * round-robin, UNION gives every subtask all of them. desc->kind must be LIST. */
typedef enum eddy_operator_state_mode { EDDY_OP_STATE_SPLIT = 0, EDDY_OP_STATE_UNION = 1 } eddy_operator_state_mode;
eddy_state *eddy_operator_state(eddy_ctx *ctx, const eddy_state_desc *desc,
                                eddy_operator_state_mode mode);

/* ---- value ------------------------------------------------------------------------------ */
/* The value, the default value, or NULL. */
const eddy_row *eddy_value_get(eddy_state *s);
int eddy_value_update(eddy_state *s, const eddy_row *value);

/* ---- list ------------------------------------------------------------------------------- */
int eddy_list_add(eddy_state *s, const eddy_row *value);
/* Replaces the whole list. */
int eddy_list_update(eddy_state *s, const eddy_row *const *values, size_t n);
size_t eddy_list_size(eddy_state *s);
/* Element i in insertion order, or NULL past the end. */
const eddy_row *eddy_list_get(eddy_state *s, size_t i);

/* ---- map -------------------------------------------------------------------------------- */
const eddy_row *eddy_map_get(eddy_state *s, const eddy_row *key);
int eddy_map_put(eddy_state *s, const eddy_row *key, const eddy_row *value);
int eddy_map_remove(eddy_state *s, const eddy_row *key);
bool eddy_map_contains(eddy_state *s, const eddy_row *key);
size_t eddy_map_size(eddy_state *s);
/* Iteration in no particular order; changing the map ends the iteration. */
typedef struct eddy_map_iter {
    eddy_state *s;
    size_t pos;
    uint64_t version;
} eddy_map_iter;
void eddy_map_iter_start(eddy_state *s, eddy_map_iter *it);
/* The next entry: true with *key and *value set, false at the end. */
bool eddy_map_next(eddy_map_iter *it, const eddy_row **key, const eddy_row **value);

/* ---- reducing and aggregating --------------------------------------------------------------- */
int eddy_reducing_add(eddy_state *s, const eddy_row *value);
const eddy_row *eddy_reducing_get(eddy_state *s);
int eddy_aggregating_add(eddy_state *s, const eddy_row *value);
/* The aggregate's result (its result function applied to the accumulator), or NULL. */
const eddy_row *eddy_aggregating_get(eddy_state *s);

/* ---- any kind ------------------------------------------------------------------------------- */
/* Removes the state of the current key (and window). */
void eddy_state_clear(eddy_state *s);

#ifdef __cplusplus
}
#endif
#endif
