/*
 * process.c - the builders of the ProcessFunction family (include/eddy/process.h):
 * keyed process, connected streams and co-process, broadcast state and broadcast
 * process, the interval join. Each appends one operator node whose plan data, an
 * ed_process_spec (runtime/ops_process.h), lives in node->spec.
 *
 * Two inputs: the operator node lists both streams as inputs 0 and 1, and copies the
 * keying of a keyed input into node->keying (input 0) and node->keying2 (input 1): the
 * runtime keys each input by its own fields or selector, into keys of one type. That type
 * must agree, so the builders compare the key field types of both inputs (fields of the
 * input schema, or the selector's key schema) and say which differ.
 *
 * The handles eddy_connected and eddy_broadcast_stream must die with the environment,
 * which frees nodes, stream handles and results, nothing else. So each is the spec of a
 * virtual partition node: "Connect" (FORWARD, over the first stream; never an input of
 * anything, it only carries the handle) and "Broadcast" (BROADCAST, over the stream to
 * broadcast; the broadcast process node reads through it, so that edge is a broadcast
 * one). Virtual nodes vanish from the job graph, and the env frees the handle with the
 * node through free_spec.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/ops_process.h"
#include "api.h"

struct eddy_connected {
    eddy_env *env;
    int first, second; /* the nodes of the two streams */
    bool keyed;        /* both keyed */
};

struct eddy_broadcast_stream {
    eddy_env *env;
    int node;              /* the BROADCAST partition node */
    ed_process_spec descs; /* descs/ndescs only */
};

static void broadcast_free(void *p)
{
    eddy_broadcast_stream *b = p;
    if (!b) return;
    ed_process_spec_clear(&b->descs);
    free(b);
}

/* The keyed partition node behind s, or NULL when s is not keyed. */
static ed_node *keyed_node(eddy_stream *s)
{
    ed_node *n = ed_api_node(s);
    return n->kind == ED_NODE_PARTITION && n->keying.keyed ? n : NULL;
}

/* The key types of a keyed partition node: of its fields in the stream's schema, or of
 * the key selector's schema. */
static int key_spec_of(eddy_env *env, const ed_node *k, ed_keyspec *ks, const char *what)
{
    if (k->keying.key_fn.name || k->keying.key_fn.ptr) {
        ed_keyspec_all(ks, k->keying.key_schema);
        return 0;
    }
    ed_err e = {0};
    if (ed_keyspec_parse(ks, ed_api_schema_of(env, k->id), k->keying.fields, &e)) {
        ed_api_fail(env, "%s: %s", what, e.msg);
        return -1;
    }
    return 0;
}

static void key_types_text(const ed_keyspec *ks, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < ks->n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "",
                                eddy_type_name(ks->type[i]));
}

/* Both keyed inputs must make keys of the same types (Flink: equal key TypeInformation). */
static int check_same_keys(eddy_env *env, const ed_node *a, const ed_node *b, const char *what)
{
    ed_keyspec ka, kb;
    if (key_spec_of(env, a, &ka, what) || key_spec_of(env, b, &kb, what)) return -1;
    bool same = ka.n == kb.n;
    for (uint32_t i = 0; same && i < ka.n; i++)
        same = ka.type[i] == kb.type[i];
    if (same) return 0;
    char ta[256], tb[256];
    key_types_text(&ka, ta, sizeof(ta));
    key_types_text(&kb, tb, sizeof(tb));
    ed_api_fail(env, "%s: the key types of the two inputs differ: (%s) and (%s)", what, ta, tb);
    return -1;
}

/* A new two-or-one-input process operator node with its spec and output schema. */
static ed_node *process_node(eddy_env *env, const char *factory, const char *name,
                             const char *out_schema, const eddy_schema *dflt, eddy_fn first)
{
    ed_node *n = ed_api_add_node(env, ED_NODE_OPERATOR, factory, name);
    n->spec = ed_process_spec_new();
    n->free_spec = ed_process_spec_free;
    n->fn = first;
    if (!out_schema && dflt) {
        n->schema = eddy_schema_copy(dflt);
    } else if (!(n->schema = ed_api_parse_schema(env, name, out_schema))) {
        return NULL;
    }
    return n;
}

static bool given(eddy_fn f)
{
    return f.name || f.ptr;
}

/* ---- one keyed input -------------------------------------------------------------------- */

eddy_stream *eddy_keyed_process(eddy_stream *keyed, eddy_fn process, eddy_fn on_timer,
                                const char *out_schema)
{
    if (!ed_api_usable(keyed)) return NULL;
    eddy_env *env = keyed->env;
    ed_node *k = ed_api_keyed_input(keyed, "eddy_keyed_process");
    if (!k) return NULL;
    if (!given(process)) return ed_api_fail(env, "eddy_keyed_process: no process function given");
    ed_node *n = process_node(env, "keyed_process", "KeyedProcess", out_schema,
                              ed_api_schema_of(env, keyed->node), process);
    if (!n) return NULL;
    ed_api_add_input(n, keyed->node);
    ed_process_spec *spec = n->spec;
    spec->fn[0] = process;
    spec->on_timer = on_timer;
    ed_api_copy_keying(&n->keying, k);
    return ed_api_handle(env, n->id);
}

/* ---- two inputs ------------------------------------------------------------------------- */

eddy_connected *eddy_connect(eddy_stream *first, eddy_stream *second)
{
    if (!ed_api_usable(first) || !ed_api_usable(second)) return NULL;
    eddy_env *env = first->env;
    if (second->env != env) {
        ed_api_fail(env, "eddy_connect: streams of different environments");
        return NULL;
    }
    ed_node *ka = keyed_node(first), *kb = keyed_node(second);
    if (!ka != !kb) {
        ed_api_fail(env,
                    "eddy_connect: the %s stream is keyed and the %s is not: key both "
                    "(eddy_key_by) or neither",
                    ka ? "first" : "second", ka ? "second" : "first");
        return NULL;
    }
    if (ka && check_same_keys(env, ka, kb, "eddy_connect")) return NULL;
    ed_node *n = ed_api_add_node(env, ED_NODE_PARTITION, NULL, "Connect");
    ed_api_add_input(n, first->node);
    n->partitioner = ED_PART_FORWARD;
    n->schema = eddy_schema_copy(ed_api_schema_of(env, first->node));
    eddy_connected *c = ed_xcalloc(1, sizeof(*c));
    *c = (eddy_connected){env, first->node, second->node, ka != NULL};
    n->spec = c;
    n->free_spec = free;
    return c;
}

eddy_stream *eddy_co_process(eddy_connected *c, eddy_fn process1, eddy_fn process2,
                             eddy_fn on_timer, const char *out_schema)
{
    if (!c || c->env->err.set) return NULL;
    eddy_env *env = c->env;
    if (!given(process1) || !given(process2))
        return ed_api_fail(env, "eddy_co_process: process1 and process2 are both required");
    if (!c->keyed && given(on_timer))
        return ed_api_fail(env, "eddy_co_process: on_timer needs keyed inputs: timers exist "
                                "only on keyed streams (connect two eddy_key_by streams)");
    ed_node *n = process_node(env, "co_process", c->keyed ? "Co-Keyed-Process" : "Co-Process",
                              out_schema, NULL, process1);
    if (!n) return NULL;
    ed_api_add_input(n, c->first);
    ed_api_add_input(n, c->second);
    ed_process_spec *spec = n->spec;
    spec->fn[0] = process1;
    spec->fn[1] = process2;
    spec->on_timer = on_timer;
    if (c->keyed) {
        ed_api_copy_keying(&n->keying, env->sg.nodes[c->first]);
        ed_api_copy_keying(&n->keying2, env->sg.nodes[c->second]);
    }
    return ed_api_handle(env, n->id);
}

/* ---- broadcast state ---------------------------------------------------------------------- */

static int check_desc(eddy_env *env, const eddy_state_desc *descs, int i)
{
    const eddy_state_desc *d = &descs[i];
    const char *what = "eddy_broadcast_state";
    if (!d->name || !*d->name) {
        ed_api_fail(env, "%s: descriptor %d has no name", what, i);
        return -1;
    }
    if (d->kind != EDDY_STATE_MAP) {
        ed_api_fail(env,
                    "%s: '%s' is not a MAP state: broadcast state is a map (Flink's "
                    "MapStateDescriptor)",
                    what, d->name);
        return -1;
    }
    if (!d->key_schema) {
        ed_api_fail(env, "%s: '%s' has no key_schema: a broadcast MAP state needs one", what,
                    d->name);
        return -1;
    }
    for (int j = 0; j < i; j++)
        if (strcmp(descs[j].name, d->name) == 0) {
            ed_api_fail(env, "%s: two descriptors are named '%s'", what, d->name);
            return -1;
        }
    char ctx[300];
    snprintf(ctx, sizeof(ctx), "%s: '%s' key_schema", what, d->name);
    eddy_schema *ks = ed_api_parse_schema(env, ctx, d->key_schema);
    if (!ks) return -1;
    eddy_schema_free(ks);
    snprintf(ctx, sizeof(ctx), "%s: '%s' schema", what, d->name);
    eddy_schema *vs = ed_api_parse_schema(env, ctx, d->schema);
    if (!vs) return -1;
    eddy_schema_free(vs);
    return 0;
}

eddy_broadcast_stream *eddy_broadcast_state(eddy_stream *s, const eddy_state_desc *descs,
                                            int ndescs)
{
    if (!ed_api_usable(s)) return NULL;
    eddy_env *env = s->env;
    if (ndescs < 0 || (ndescs > 0 && !descs)) {
        ed_api_fail(env, "eddy_broadcast_state: %d descriptors at %p", ndescs, (void *)descs);
        return NULL;
    }
    for (int i = 0; i < ndescs; i++)
        if (check_desc(env, descs, i)) return NULL;
    ed_node *n = ed_api_add_node(env, ED_NODE_PARTITION, NULL, "Broadcast");
    ed_api_add_input(n, s->node);
    n->partitioner = ED_PART_BROADCAST;
    n->schema = eddy_schema_copy(ed_api_schema_of(env, s->node));
    eddy_broadcast_stream *b = ed_xcalloc(1, sizeof(*b));
    b->env = env;
    b->node = n->id;
    for (int i = 0; i < ndescs; i++)
        ed_process_spec_add_desc(&b->descs, &descs[i]);
    n->spec = b;
    n->free_spec = broadcast_free;
    return b;
}

eddy_stream *eddy_broadcast_process(eddy_stream *input, eddy_broadcast_stream *b,
                                    eddy_fn process_element, eddy_fn process_broadcast,
                                    eddy_fn on_timer, const char *out_schema)
{
    if (!ed_api_usable(input) || !b) return NULL;
    eddy_env *env = input->env;
    const char *what = "eddy_broadcast_process";
    if (b->env != env) return ed_api_fail(env, "%s: streams of different environments", what);
    if (!given(process_element) || !given(process_broadcast))
        return ed_api_fail(env, "%s: process_element and process_broadcast are both required",
                           what);
    ed_node *k = keyed_node(input);
    if (!k && given(on_timer))
        return ed_api_fail(env,
                           "%s: on_timer needs a keyed input: timers exist only on keyed "
                           "streams (eddy_key_by)",
                           what);
    ed_node *n = process_node(env, "broadcast_process",
                              k ? "Co-Process-Broadcast-Keyed" : "Co-Process-Broadcast", out_schema,
                              NULL, process_element);
    if (!n) return NULL;
    ed_api_add_input(n, input->node);
    ed_api_add_input(n, b->node);
    ed_process_spec *spec = n->spec;
    spec->fn[0] = process_element;
    spec->fn[1] = process_broadcast;
    spec->on_timer = on_timer;
    for (int i = 0; i < b->descs.ndescs; i++)
        ed_process_spec_add_desc(spec, &b->descs.descs[i]);
    if (k) ed_api_copy_keying(&n->keying, k);
    return ed_api_handle(env, n->id);
}

/* ---- interval join ------------------------------------------------------------------------ */

/* Bounds beyond this are meaningless as milliseconds and would overflow when shifted. */
#define ED_IJ_MAX_BOUND (INT64_C(1) << 62)

eddy_stream *eddy_interval_join(eddy_stream *left_keyed, eddy_stream *right_keyed, int64_t lower_ms,
                                int64_t upper_ms, bool lower_exclusive, bool upper_exclusive,
                                eddy_fn join, const char *out_schema)
{
    if (!ed_api_usable(left_keyed) || !ed_api_usable(right_keyed)) return NULL;
    eddy_env *env = left_keyed->env;
    const char *what = "eddy_interval_join";
    if (right_keyed->env != env)
        return ed_api_fail(env, "%s: streams of different environments", what);
    ed_node *kl = ed_api_keyed_input(left_keyed, what);
    if (!kl) return NULL;
    ed_node *kr = ed_api_keyed_input(right_keyed, what);
    if (!kr) return NULL;
    if (!given(join)) return ed_api_fail(env, "%s: no join function given", what);
    if (lower_ms > upper_ms)
        return ed_api_fail(env, "%s: lower bound %lld > upper bound %lld", what,
                           (long long)lower_ms, (long long)upper_ms);
    if (lower_ms < -ED_IJ_MAX_BOUND || upper_ms > ED_IJ_MAX_BOUND)
        return ed_api_fail(env, "%s: bounds [%lld, %lld] exceed +-2^62 ms", what,
                           (long long)lower_ms, (long long)upper_ms);
    if (check_same_keys(env, kl, kr, what)) return NULL;
    ed_node *n = process_node(env, "interval_join", "Interval Join", out_schema, NULL, join);
    if (!n) return NULL;
    ed_api_add_input(n, left_keyed->node);
    ed_api_add_input(n, right_keyed->node);
    ed_process_spec *spec = n->spec;
    spec->fn[0] = join;
    spec->lower = lower_exclusive ? lower_ms + 1 : lower_ms;
    spec->upper = upper_exclusive ? upper_ms - 1 : upper_ms;
    spec->schema[0] = ed_xstrdup(eddy_schema_text(ed_api_schema_of(env, left_keyed->node)));
    spec->schema[1] = ed_xstrdup(eddy_schema_text(ed_api_schema_of(env, right_keyed->node)));
    ed_api_copy_keying(&n->keying, kl);
    ed_api_copy_keying(&n->keying2, kr);
    return ed_api_handle(env, n->id);
}
