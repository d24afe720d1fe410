/*
 * time.c - the builder side of event time: assigning timestamps and watermarks.
 */
#include "../runtime/operators.h"
#include "api.h"

eddy_stream *eddy_assign_timestamps_and_watermarks(eddy_stream *s, eddy_watermark_strategy wm)
{
    if (!ed_api_usable(s)) return NULL;
    eddy_env *env = s->env;
    const ed_node *in = ed_api_node(s);
    ed_err err = {0};
    /* on a source: one generator per split, inside the source's task */
    if (in->kind == ED_NODE_SOURCE) wm.per_split = true;
    ed_wm_spec *spec = ed_wm_spec_new(&wm, ed_api_schema_of(env, s->node), &err);
    if (!spec) return ed_api_fail(env, "%s", err.msg);
    ed_node *n = ed_api_add_node(env, ED_NODE_OPERATOR, "timestamps", "Timestamps/Watermarks");
    ed_api_add_input(n, s->node);
    n->schema = eddy_schema_copy(ed_api_schema_of(env, s->node));
    n->spec = spec;
    n->free_spec = ed_wm_spec_free;
    n->inherit_parallelism = true;
    return ed_api_handle(env, n->id);
}
