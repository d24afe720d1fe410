/*
 * operator_state.c - operator state (named lists, split or union on restore) and
 * broadcast state (named maps) of one operator subtask.
 *
 * Neither is keyed, yet both are the same objects as keyed state: the store is a heap
 * backend whose current key and namespace stay empty forever, so every operator list is
 * a LIST state with a single entry and every broadcast map a MAP state with a single
 * entry. The handle calls of include/eddy/state.h work on them unchanged; what the store
 * adds is the redistribution mode of a list, and the read-only flag of a broadcast map
 * that the runtime raises around process_element (Flink's ReadOnlyBroadcastState).
 * Neither supports TTL, as in Flink.
 */
#include "state_int.h"

#include <stdlib.h>

struct ed_operator_store {
    ed_state_backend *b;
};

ed_operator_store *ed_operator_store_new(eddy_ctx *ctx)
{
    ed_operator_store *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->b = ed_state_backend_new(1, ed_clock_system(), ctx);
    if (!o->b) {
        free(o);
        return NULL;
    }
    return o;
}

void ed_operator_store_free(ed_operator_store *o)
{
    if (!o) return;
    ed_state_backend_free(o->b);
    free(o);
}

static const char *const mode_names[] = {"SPLIT", "UNION"};

eddy_state *ed_operator_list(ed_operator_store *o, const eddy_state_desc *desc,
                             eddy_operator_state_mode mode, ed_err *err)
{
    if (desc && desc->name && desc->kind != EDDY_STATE_LIST) {
        ed_err_set(err, "operator state '%s' must be a LIST state", desc->name);
        return NULL;
    }
    if (mode != EDDY_OP_STATE_SPLIT && mode != EDDY_OP_STATE_UNION) {
        ed_err_set(err, "operator state '%s': unknown mode %d",
                   desc && desc->name ? desc->name : "", (int)mode);
        return NULL;
    }
    if (desc && desc->name && desc->ttl.ttl_ms) {
        ed_err_set(err, "operator state '%s' does not support TTL", desc->name);
        return NULL;
    }
    eddy_state *old = desc && desc->name ? ed_state_find(o->b, desc->name) : NULL;
    if (old && old->kind == EDDY_STATE_LIST && old->mode != mode) {
        ed_err_set(err, "operator state '%s' is already declared as %s", desc->name,
                   mode_names[old->mode]);
        return NULL;
    }
    eddy_state *s = ed_state_get(o->b, desc, err);
    if (!s) return NULL;
    s->op_list = true;
    s->mode = mode;
    return s;
}

eddy_state *ed_broadcast_map(ed_operator_store *o, const eddy_state_desc *desc, ed_err *err)
{
    if (desc && desc->name && desc->kind != EDDY_STATE_MAP) {
        ed_err_set(err, "broadcast state '%s' must be a MAP state", desc->name);
        return NULL;
    }
    if (desc && desc->name && desc->ttl.ttl_ms) {
        ed_err_set(err, "broadcast state '%s' does not support TTL", desc->name);
        return NULL;
    }
    eddy_state *s = ed_state_get(o->b, desc, err);
    if (!s) return NULL;
    s->broadcast = true;
    return s;
}

void ed_broadcast_set_read_only(eddy_state *s, bool ro)
{
    s->read_only = ro;
}

eddy_operator_state_mode ed_operator_list_mode(const eddy_state *s)
{
    return s->mode;
}

ed_state_backend *ed_operator_store_backend(ed_operator_store *o)
{
    return o->b;
}
