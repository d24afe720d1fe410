/*
 * window_int.h - what the window builder (api/window.c) and the window operator
 * (runtime/ops_window.c) share: the window plan as plain data, and the contexts that
 * triggers, evictors and window functions see while the operator runs.
 *
 * The plan (ed_window_spec) is made by the builder and owned by the operator's node
 * (node->spec, freed by node->free_spec); every string in it is owned by it. Nothing in
 * it points to code except the optional addresses inside eddy_fn, which a remote process
 * ignores and resolves by name.
 */
#ifndef ED_WINDOW_INT_H
#define ED_WINDOW_INT_H

#include <eddy/window.h>

#include "operator.h"

/* What the operator computes when a window fires. */
typedef enum ed_wfn_kind {
    ED_WFN_REDUCE = 1, /* reducing state; optional process function over the one row */
    ED_WFN_AGGREGATE,  /* aggregating state; optional process function over its result */
    ED_WFN_PROCESS,    /* list state; process function over every element */
    ED_WFN_BUILTIN,    /* sum/min/max/min_by/max_by of a field: reducing state */
    ED_WFN_JOIN,       /* two inputs, two lists; join function per pair */
    ED_WFN_CO_GROUP,   /* two inputs, two lists; co-group function per window and key */
} ed_wfn_kind;

/* Built-in aggregations, as the rolling ones (datastream.h). */
typedef enum ed_wagg { ED_WAGG_SUM, ED_WAGG_MIN, ED_WAGG_MAX, ED_WAGG_MIN_BY, ED_WAGG_MAX_BY } ed_wagg;

typedef struct ed_window_spec {
    eddy_window_assigner assigner;
    eddy_trigger trigger;       /* kind DEFAULT resolved by the operator */
    bool has_evictor;
    eddy_evictor evictor;
    int64_t lateness_ms;
    char *late_tag;             /* or NULL: late elements are dropped and counted */
    ed_wfn_kind fn_kind;
    eddy_fn reduce;             /* REDUCE */
    eddy_aggregate agg;         /* AGGREGATE */
    eddy_fn process;            /* PROCESS, optional with REDUCE/AGGREGATE; JOIN; CO_GROUP */
    ed_wagg builtin;            /* BUILTIN */
    char *field;                /* BUILTIN */
    char *in_schema[2];         /* input schemas (text); [1] for JOIN and CO_GROUP */
} ed_window_spec;

/* Deep copies and frees (strings and function names are owned). Free accepts NULL. */
ed_window_spec *ed_window_spec_copy(const ed_window_spec *s);
void ed_window_spec_free(void *spec);
/* Frees what a spec owns, not the spec itself. */
void ed_window_spec_clear(ed_window_spec *s);

/* Merging windows (sessions) need a merging trigger; true for those assigners. */
static inline bool ed_assigner_merging(const eddy_window_assigner *a)
{
    return a->kind == EDDY_WINDOW_SESSION || a->kind == EDDY_WINDOW_DYNAMIC_SESSION;
}

/* The key selector of window_all: every record has the same key (Flink's
 * NullByteKeySelector), so the keyed operator sees one key. Schema "all BOOLEAN". */
int ed_window_all_key(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *key);

/* ---- what triggers, evictors and window functions see ------------------------------------ */

/* A window: [start, end); the global window is [INT64_MIN, INT64_MAX). */
typedef struct ed_win {
    int64_t start, end;
} ed_win;

static inline int64_t ed_win_max_ts(ed_win w) { return w.end == INT64_MAX ? INT64_MAX : w.end - 1; }

struct eddy_trigger_ctx {
    ed_operator *op;
    struct ed_window_op *wop;
    ed_win win;       /* the window the trigger is called for */
    uint8_t ns[16];   /* its namespace bytes: start, end */
    const ed_win *merged; /* in on_merge: the windows merged into win */
    int nmerged;
};

struct eddy_window_elements {
    const eddy_row *const *rows;
    const int64_t *ts;
    size_t n;
};

struct eddy_evictor_elements {
    const eddy_row **rows;
    int64_t *ts;
    bool *evicted;
    size_t n;
};

/* The namespace bytes of a window. */
static inline void ed_win_ns(ed_win w, uint8_t ns[16])
{
    memcpy(ns, &w.start, 8);
    memcpy(ns + 8, &w.end, 8);
}

/* Operator-side services of the public calls (ops_window.c). */
eddy_state *ed_window_trigger_state(eddy_trigger_ctx *t, const eddy_state_desc *desc);
eddy_state *ed_window_ctx_window_state(eddy_ctx *ctx, const eddy_state_desc *desc);
eddy_state *ed_window_ctx_global_state(eddy_ctx *ctx, const eddy_state_desc *desc);
int ed_window_trigger_timer(eddy_trigger_ctx *t, eddy_time_domain d, int64_t time, bool del);

#endif
