/*
 * stream.c - the DataStream builder: every call appends a node to the stream graph.
 *
 * Nodes are appended in the order the calls are made, and a node's inputs always exist
 * before it, so the graph's node order is topological; the job graph relies on that.
 * A call with a NULL input, or made after an error, returns NULL and leaves the first
 * error in place; a bad argument sets an error naming the call and the operator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/operators.h"
#include "api.h"

eddy_stream *ed_api_fail(eddy_env *env, const char *fmt, ...)
{
    if (!env->err.set) {
        va_list ap;
        va_start(ap, fmt);
        ed_err_vset(&env->err, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

ed_node *ed_api_node(eddy_stream *s) { return s->env->sg.nodes[s->node]; }

eddy_stream *ed_api_handle(eddy_env *env, int node)
{
    eddy_stream *s = ed_xcalloc(1, sizeof(*s));
    s->env = env;
    s->node = node;
    env->streams = ed_xrealloc(env->streams, sizeof(*env->streams) * (size_t)(env->nstreams + 1));
    env->streams[env->nstreams++] = s;
    return s;
}

ed_node *ed_api_add_node(eddy_env *env, ed_node_kind kind, const char *factory,
                         const char *name)
{
    ed_stream_graph *sg = &env->sg;
    if (sg->nnodes == sg->cap) {
        sg->cap = sg->cap ? sg->cap * 2 : 16;
        sg->nodes = ed_xrealloc(sg->nodes, sizeof(ed_node *) * (size_t)sg->cap);
    }
    ed_node *n = ed_xcalloc(1, sizeof(*n));
    n->id = sg->nnodes;
    n->kind = kind;
    n->factory = factory ? ed_xstrdup(factory) : NULL;
    n->name = ed_xstrdup(name);
    sg->nodes[sg->nnodes++] = n;
    return n;
}

void ed_api_add_input(ed_node *n, int from)
{
    n->inputs = ed_xrealloc(n->inputs, sizeof(int) * (size_t)(n->ninputs + 1));
    n->inputs[n->ninputs++] = from;
}

void ed_api_add_param(ed_node *n, const char *k, const char *v)
{
    n->params = ed_xrealloc(n->params, sizeof(ed_kv) * (size_t)(n->nparams + 1));
    n->params[n->nparams++] = (ed_kv){ed_xstrdup(k), ed_xstrdup(v)};
}

eddy_schema *ed_api_parse_schema(eddy_env *env, const char *what, const char *text)
{
    char msg[512];
    if (!text) {
        ed_api_fail(env, "%s: no schema given", what);
        return NULL;
    }
    eddy_schema *s = eddy_schema_parse(text, msg, sizeof(msg));
    if (!s) ed_api_fail(env, "%s: %s", what, msg);
    return s;
}

/* A handle that names a node and no error so far. */
static bool live(eddy_stream *in) { return in && !in->env->err.set; }

/* A stream something may read from: a sink's handle (eddy_two_phase_commit_sink) only
 * takes operator properties. */
bool ed_api_usable(eddy_stream *in)
{
    if (!live(in)) return false;
    const ed_node *n = in->env->sg.nodes[in->node];
    if (n->kind == ED_NODE_SINK) {
        ed_api_fail(in->env, "'%s' is a sink: nothing can read from it", n->name);
        return false;
    }
    return true;
}

/* A physical node whose schema is known: the node's own, or for virtual nodes the
 * schema of what flows through them. */
const eddy_schema *ed_api_schema_of(eddy_env *env, int id)
{
    ed_node *n = env->sg.nodes[id];
    return n->schema;
}

/* ---- sources ------------------------------------------------------------------------------ */

static int check_options(eddy_env *env, const ed_factory *f, ed_node *n, const char *what)
{
    if (f->options) {
        for (int i = 0; i < n->nparams; i++) {
            bool ok = false;
            for (const char *const *o = f->options; *o; o++) ok |= strcmp(*o, n->params[i].key) == 0;
            if (!ok) {
                ed_strbuf sb;
                ed_sb_init(&sb);
                for (const char *const *o = f->options; *o; o++)
                    ed_sb_printf(&sb, "%s%s", o == f->options ? "" : ", ", *o);
                ed_api_fail(env, "%s: unknown option '%s' (options: %s)", what, n->params[i].key,
                     sb.len ? sb.data : "none");
                ed_sb_free(&sb);
                return -1;
            }
        }
    }
    ed_err e = {0};
    if (f->check && f->check(n, &e)) {
        ed_api_fail(env, "%s", e.msg); /* the factory's message names the connector and option */
        return -1;
    }
    return 0;
}

static eddy_stream *source_v(eddy_env *env, const char *connector, const char *schema, va_list ap)
{
    if (!env || env->err.set) return NULL;
    const ed_factory *f = ed_factory_find(connector, ED_FACTORY_SOURCE);
    if (!f) return ed_api_fail(env, "eddy_source: unknown source connector '%s'", connector ? connector : "(null)");
    char name[256];
    snprintf(name, sizeof(name), "Source: %s", connector);
    ed_node *n = ed_api_add_node(env, ED_NODE_SOURCE, connector, name);
    if (!(n->schema = ed_api_parse_schema(env, name, schema))) return NULL;
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k) break;
        const char *v = va_arg(ap, const char *);
        if (!v) return ed_api_fail(env, "%s: option '%s' has no value", name, k);
        ed_api_add_param(n, k, v);
    }
    if (check_options(env, f, n, name)) return NULL;
    return ed_api_handle(env, n->id);
}

eddy_stream *eddy_source(eddy_env *env, const char *connector, const char *schema, ...)
{
    va_list ap;
    va_start(ap, schema);
    eddy_stream *s = source_v(env, connector, schema, ap);
    va_end(ap);
    return s;
}

eddy_stream *eddy_read_text_file(eddy_env *env, const char *path)
{
    return eddy_source(env, "filesystem", "line STRING", "path", path, "format", "text", NULL);
}

eddy_stream *eddy_socket_text_stream(eddy_env *env, const char *host, int port)
{
    char p[16];
    snprintf(p, sizeof(p), "%d", port);
    return eddy_source(env, "socket", "line STRING", "hostname", host, "port", p, NULL);
}

eddy_stream *eddy_from_rows(eddy_env *env, const char *schema, const eddy_row *const *rows,
                            size_t nrows)
{
    if (!env || env->err.set) return NULL;
    ed_node *n = ed_api_add_node(env, ED_NODE_SOURCE, "collection", "Source: Collection");
    if (!(n->schema = ed_api_parse_schema(env, n->name, schema))) return NULL;
    size_t total = 0;
    uint32_t arity = eddy_schema_arity(n->schema);
    for (size_t i = 0; i < nrows; i++) {
        if (!rows[i] || eddy_row_arity(rows[i]) != arity)
            return ed_api_fail(env, "eddy_from_rows: row %zu has %u fields, the schema %u", i,
                        rows[i] ? eddy_row_arity(rows[i]) : 0, arity);
        total += eddy_row_size(rows[i]);
    }
    n->blob = ed_xmalloc(total ? total : 1);
    for (size_t i = 0; i < nrows; i++) {
        memcpy(n->blob + n->blob_len, rows[i], eddy_row_size(rows[i]));
        n->blob_len += eddy_row_size(rows[i]);
    }
    return ed_api_handle(env, n->id);
}

/* ---- transformations ---------------------------------------------------------------------- */

static eddy_stream *one_input(eddy_stream *in, const char *factory, const char *name, eddy_fn fn,
                              const char *out_schema)
{
    if (!ed_api_usable(in)) return NULL;
    eddy_env *env = in->env;
    if (!fn.ptr && !fn.name) return ed_api_fail(env, "%s: no function given", name);
    ed_node *n = ed_api_add_node(env, ED_NODE_OPERATOR, factory, name);
    ed_api_add_input(n, in->node);
    n->fn = fn;
    if (out_schema) {
        if (!(n->schema = ed_api_parse_schema(env, name, out_schema))) return NULL;
    } else {
        n->schema = eddy_schema_copy(ed_api_schema_of(env, in->node));
    }
    return ed_api_handle(env, n->id);
}

eddy_stream *eddy_map(eddy_stream *in, eddy_fn map, const char *out_schema)
{
    return one_input(in, "map", "Map", map, out_schema);
}
eddy_stream *eddy_flat_map(eddy_stream *in, eddy_fn fm, const char *out_schema)
{
    return one_input(in, "flat_map", "Flat Map", fm, out_schema);
}
eddy_stream *eddy_filter(eddy_stream *in, eddy_fn filter)
{
    return one_input(in, "filter", "Filter", filter, NULL);
}
eddy_stream *eddy_process(eddy_stream *in, eddy_fn process, const char *out_schema)
{
    return one_input(in, "process", "Process", process, out_schema);
}

eddy_stream *eddy_union(eddy_stream *a, eddy_stream *b)
{
    if (!ed_api_usable(a) || !ed_api_usable(b)) return NULL;
    eddy_env *env = a->env;
    if (b->env != env) return ed_api_fail(env, "eddy_union: streams of different environments");
    const eddy_schema *sa = ed_api_schema_of(env, a->node), *sb = ed_api_schema_of(env, b->node);
    if (strcmp(eddy_schema_text(sa), eddy_schema_text(sb)) != 0)
        return ed_api_fail(env, "eddy_union: schemas differ: (%s) and (%s)", eddy_schema_text(sa),
                    eddy_schema_text(sb));
    ed_node *n = ed_api_add_node(env, ED_NODE_UNION, NULL, "Union");
    ed_api_add_input(n, a->node);
    ed_api_add_input(n, b->node);
    n->schema = eddy_schema_copy(sa);
    return ed_api_handle(env, n->id);
}

static eddy_stream *partition(eddy_stream *in, ed_partitioner p, const char *name)
{
    if (!ed_api_usable(in)) return NULL;
    ed_node *n = ed_api_add_node(in->env, ED_NODE_PARTITION, NULL, name);
    ed_api_add_input(n, in->node);
    n->partitioner = p;
    n->schema = eddy_schema_copy(ed_api_schema_of(in->env, in->node));
    return ed_api_handle(in->env, n->id);
}

eddy_stream *eddy_forward(eddy_stream *in) { return partition(in, ED_PART_FORWARD, "Forward"); }
eddy_stream *eddy_rebalance(eddy_stream *in) { return partition(in, ED_PART_REBALANCE, "Rebalance"); }
eddy_stream *eddy_rescale(eddy_stream *in) { return partition(in, ED_PART_RESCALE, "Rescale"); }
eddy_stream *eddy_shuffle(eddy_stream *in) { return partition(in, ED_PART_SHUFFLE, "Shuffle"); }
eddy_stream *eddy_broadcast(eddy_stream *in) { return partition(in, ED_PART_BROADCAST, "Broadcast"); }
eddy_stream *eddy_global(eddy_stream *in) { return partition(in, ED_PART_GLOBAL, "Global"); }

int ed_api_check_fields(eddy_env *env, const eddy_schema *s, const char *fields,
                        const char *what)
{
    ed_keyspec ks;
    ed_err e = {0};
    if (!fields) {
        ed_api_fail(env, "%s: no key fields given", what);
        return -1;
    }
    if (ed_keyspec_parse(&ks, s, fields, &e)) {
        ed_api_fail(env, "%s: %s", what, e.msg);
        return -1;
    }
    return 0;
}

eddy_stream *eddy_key_by(eddy_stream *in, const char *fields)
{
    if (!ed_api_usable(in)) return NULL;
    if (ed_api_check_fields(in->env, ed_api_schema_of(in->env, in->node), fields, "eddy_key_by")) return NULL;
    eddy_stream *s = partition(in, ED_PART_HASH, "KeyBy");
    ed_node *n = ed_api_node(s);
    n->keying.keyed = true;
    n->keying.fields = ed_xstrdup(fields);
    return s;
}

eddy_stream *eddy_key_by_fn(eddy_stream *in, eddy_fn key, const char *key_schema)
{
    if (!ed_api_usable(in)) return NULL;
    if (!key.ptr && !key.name) return ed_api_fail(in->env, "eddy_key_by_fn: no key selector given");
    eddy_schema *ks = ed_api_parse_schema(in->env, "eddy_key_by_fn", key_schema);
    if (!ks) return NULL;
    eddy_stream *s = partition(in, ED_PART_HASH, "KeyBy");
    ed_node *n = ed_api_node(s);
    n->keying.keyed = true;
    n->keying.key_fn = key;
    n->keying.key_schema = ks;
    return s;
}

eddy_stream *eddy_partition_custom(eddy_stream *in, eddy_fn partitioner, const char *key_fields)
{
    if (!ed_api_usable(in)) return NULL;
    if (!partitioner.ptr && !partitioner.name)
        return ed_api_fail(in->env, "eddy_partition_custom: no partitioner given");
    if (ed_api_check_fields(in->env, ed_api_schema_of(in->env, in->node), key_fields, "eddy_partition_custom"))
        return NULL;
    eddy_stream *s = partition(in, ED_PART_CUSTOM, "Custom Partition");
    ed_node *n = ed_api_node(s);
    n->partition_fn = partitioner;
    n->keying.fields = ed_xstrdup(key_fields);
    return s;
}

/* The keyed partition node a keyed operator reads from, or an error. */
ed_node *ed_api_keyed_input(eddy_stream *in, const char *what)
{
    ed_node *k = ed_api_node(in);
    if (k->kind != ED_NODE_PARTITION || !k->keying.keyed) {
        ed_api_fail(in->env, "%s needs a keyed stream: call eddy_key_by first", what);
        return NULL;
    }
    return k;
}

void ed_api_copy_keying(ed_keying *dst, const ed_node *k)
{
    dst->keyed = true;
    dst->fields = k->keying.fields ? ed_xstrdup(k->keying.fields) : NULL;
    dst->key_fn = k->keying.key_fn;
    dst->key_schema = k->keying.key_schema ? eddy_schema_copy(k->keying.key_schema) : NULL;
}

eddy_stream *eddy_reduce(eddy_stream *keyed, eddy_fn reduce)
{
    if (!ed_api_usable(keyed)) return NULL;
    ed_node *k = ed_api_keyed_input(keyed, "eddy_reduce");
    if (!k) return NULL;
    eddy_stream *s = one_input(keyed, "reduce", "Keyed Reduce", reduce, NULL);
    if (s) ed_api_copy_keying(&ed_api_node(s)->keying, k);
    return s;
}

static eddy_stream *aggregate(eddy_stream *keyed, const char *agg, const char *field)
{
    if (!ed_api_usable(keyed)) return NULL;
    eddy_env *env = keyed->env;
    char what[64];
    snprintf(what, sizeof(what), "eddy_%s", agg);
    ed_node *k = ed_api_keyed_input(keyed, what);
    if (!k) return NULL;
    const eddy_schema *sc = ed_api_schema_of(env, keyed->node);
    int idx = field ? eddy_schema_index(sc, field) : -1;
    if (idx < 0)
        return ed_api_fail(env, "%s: no field '%s' in (%s)", what, field ? field : "(null)",
                    eddy_schema_text(sc));
    eddy_type t = eddy_schema_type(sc, (uint32_t)idx);
    bool by = strstr(agg, "_by") != NULL;
    bool numeric = t == EDDY_INT || t == EDDY_BIGINT || t == EDDY_DOUBLE;
    bool fixed = numeric || t == EDDY_TIMESTAMP || t == EDDY_BOOLEAN;
    if (strcmp(agg, "sum") == 0 ? !numeric : !by && !fixed)
        return ed_api_fail(env, "%s: field '%s' is %s; %s takes %s", what, field, eddy_type_name(t), agg,
                    strcmp(agg, "sum") == 0 ? "INT, BIGINT or DOUBLE" : "a fixed-size type");
    ed_node *n = ed_api_add_node(env, ED_NODE_OPERATOR, "aggregate", "Keyed Aggregation");
    ed_api_add_input(n, keyed->node);
    n->schema = eddy_schema_copy(sc);
    ed_api_add_param(n, "agg", agg);
    ed_api_add_param(n, "field", field);
    ed_api_copy_keying(&n->keying, k);
    return ed_api_handle(env, n->id);
}

eddy_stream *eddy_sum(eddy_stream *k, const char *f) { return aggregate(k, "sum", f); }
eddy_stream *eddy_min(eddy_stream *k, const char *f) { return aggregate(k, "min", f); }
eddy_stream *eddy_max(eddy_stream *k, const char *f) { return aggregate(k, "max", f); }
eddy_stream *eddy_min_by(eddy_stream *k, const char *f) { return aggregate(k, "min_by", f); }
eddy_stream *eddy_max_by(eddy_stream *k, const char *f) { return aggregate(k, "max_by", f); }

eddy_stream *eddy_side_output(eddy_stream *of, const char *tag, const char *schema)
{
    if (!ed_api_usable(of)) return NULL;
    eddy_env *env = of->env;
    ed_node *src = ed_api_node(of);
    if (src->kind != ED_NODE_OPERATOR && src->kind != ED_NODE_SOURCE)
        return ed_api_fail(env, "eddy_side_output: '%s' is not an operator", src->name);
    if (!tag || !*tag) return ed_api_fail(env, "eddy_side_output: empty tag");
    char name[256];
    snprintf(name, sizeof(name), "Side Output: %s", tag);
    ed_node *n = ed_api_add_node(env, ED_NODE_SIDE, NULL, name);
    ed_api_add_input(n, of->node);
    n->side_tag = ed_xstrdup(tag);
    if (!(n->schema = ed_api_parse_schema(env, name, schema))) return NULL;
    return ed_api_handle(env, n->id);
}

/* ---- operator properties ------------------------------------------------------------------ */

static ed_node *physical(eddy_stream *s, const char *what)
{
    if (!live(s)) return NULL;
    ed_node *n = ed_api_node(s);
    if (n->kind == ED_NODE_PARTITION || n->kind == ED_NODE_UNION || n->kind == ED_NODE_SIDE) {
        ed_api_fail(s->env, "%s: '%s' is not an operator (it only routes records)", what, n->name);
        return NULL;
    }
    return n;
}

eddy_stream *eddy_name(eddy_stream *s, const char *name)
{
    ed_node *n = physical(s, "eddy_name");
    if (!n) return NULL;
    if (!name || !*name) return ed_api_fail(s->env, "eddy_name: empty name");
    free(n->name);
    n->name = ed_xstrdup(name);
    return s;
}

eddy_stream *eddy_uid(eddy_stream *s, const char *uid)
{
    ed_node *n = physical(s, "eddy_uid");
    if (!n) return NULL;
    if (!uid || !*uid) return ed_api_fail(s->env, "eddy_uid: empty uid");
    for (int i = 0; i < s->env->sg.nnodes; i++) {
        ed_node *o = s->env->sg.nodes[i];
        if (o != n && o->uid && strcmp(o->uid, uid) == 0)
            return ed_api_fail(s->env, "eddy_uid: '%s' is already the uid of '%s'", uid, o->name);
    }
    free(n->uid);
    n->uid = ed_xstrdup(uid);
    return s;
}

eddy_stream *eddy_set_parallelism(eddy_stream *s, int p)
{
    ed_node *n = physical(s, "eddy_set_parallelism");
    if (!n) return NULL;
    if (p < 1) return ed_api_fail(s->env, "eddy_set_parallelism: '%s': %d is not >= 1", n->name, p);
    n->parallelism = p;
    return s;
}

eddy_stream *eddy_disable_chaining(eddy_stream *s)
{
    ed_node *n = physical(s, "eddy_disable_chaining");
    if (!n) return NULL;
    n->disable_chaining = true;
    return s;
}

eddy_stream *eddy_start_new_chain(eddy_stream *s)
{
    ed_node *n = physical(s, "eddy_start_new_chain");
    if (!n) return NULL;
    n->start_new_chain = true;
    return s;
}

eddy_stream *eddy_rich(eddy_stream *s, eddy_fn open, eddy_fn close)
{
    ed_node *n = physical(s, "eddy_rich");
    if (!n) return NULL;
    n->open_fn = open;
    n->close_fn = close;
    return s;
}

eddy_stream *eddy_param(eddy_stream *s, const char *key, const char *value)
{
    ed_node *n = physical(s, "eddy_param");
    if (!n) return NULL;
    if (!key || !value) return ed_api_fail(s->env, "eddy_param: '%s': key and value are required", n->name);
    ed_api_add_param(n, key, value);
    return s;
}

const eddy_schema *eddy_stream_schema(eddy_stream *s)
{
    return live(s) ? ed_api_schema_of(s->env, s->node) : NULL;
}

/* ---- sinks -------------------------------------------------------------------------------- */

static ed_node *sink_node(eddy_stream *in, const char *connector, const char *name)
{
    ed_node *n = ed_api_add_node(in->env, ED_NODE_SINK, connector, name);
    ed_api_add_input(n, in->node);
    n->schema = eddy_schema_copy(ed_api_schema_of(in->env, in->node));
    return n;
}

static int sink_v(eddy_stream *in, const char *connector, va_list ap)
{
    if (!ed_api_usable(in)) return -1;
    eddy_env *env = in->env;
    const ed_factory *f = ed_factory_find(connector, ED_FACTORY_SINK);
    if (!f || strcmp(connector, "collect") == 0 || strcmp(connector, ED_TXN_SINK) == 0) {
        ed_api_fail(env, "eddy_sink: unknown sink connector '%s'", connector ? connector : "(null)");
        return -1;
    }
    char name[256];
    snprintf(name, sizeof(name), "Sink: %s",
             strcmp(connector, "print") == 0 ? "Print to Std. Out" : connector);
    ed_node *n = sink_node(in, connector, name);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k) break;
        const char *v = va_arg(ap, const char *);
        if (!v) {
            ed_api_fail(env, "%s: option '%s' has no value", name, k);
            return -1;
        }
        ed_api_add_param(n, k, v);
    }
    return check_options(env, f, n, name);
}

int eddy_sink(eddy_stream *in, const char *connector, ...)
{
    va_list ap;
    va_start(ap, connector);
    int rc = sink_v(in, connector, ap);
    va_end(ap);
    return rc;
}

int eddy_print(eddy_stream *in) { return eddy_sink(in, "print", NULL); }
int eddy_discard(eddy_stream *in) { return eddy_sink(in, "blackhole", NULL); }
int eddy_write_as_text(eddy_stream *in, const char *path)
{
    return eddy_sink(in, "filesystem", "path", path, "format", "text", NULL);
}
int eddy_write_as_csv(eddy_stream *in, const char *path)
{
    return eddy_sink(in, "filesystem", "path", path, "format", "csv", NULL);
}

eddy_result *eddy_collect(eddy_stream *in)
{
    if (!ed_api_usable(in)) return NULL;
    eddy_env *env = in->env;
    ed_node *n = sink_node(in, "collect", "Sink: Collect");
    n->result = ed_result_new();
    env->results = ed_xrealloc(env->results, sizeof(*env->results) * (size_t)(env->nresults + 1));
    env->results[env->nresults++] = n->result;
    return n->result;
}

/* ---- two-phase-commit sinks (runtime/ops_txn.c) ---------------------------------------- */

eddy_stream *eddy_two_phase_commit_sink(eddy_stream *in, eddy_txn_sink fns)
{
    if (!ed_api_usable(in)) return NULL;
    eddy_env *env = in->env;
    const eddy_fn *need[] = {&fns.begin, &fns.write, &fns.pre_commit, &fns.commit};
    static const char *const names[] = {"begin", "write", "pre_commit", "commit"};
    for (int i = 0; i < 4; i++)
        if (!need[i]->name && !need[i]->ptr)
            return ed_api_fail(env, "eddy_two_phase_commit_sink: no %s function", names[i]);
    ed_node *n = ed_api_add_node(env, ED_NODE_SINK, ED_TXN_SINK, "Sink: Two-phase commit");
    ed_api_add_input(n, in->node);
    n->schema = eddy_schema_copy(ed_api_schema_of(env, in->node));
    eddy_txn_sink *sp = ed_xmalloc(sizeof(*sp));
    *sp = fns;
    n->spec = sp; /* plain data: names and addresses */
    n->free_spec = free;
    return ed_api_handle(env, n->id);
}
