/*
 * graph.c - from the stream graph the API builds to the job graph that runs.
 *
 * 1. Resolve inputs. Every physical node's inputs are followed through the virtual
 *    nodes (partition, union, side output) to the physical nodes that produce them,
 *    collecting on the way the partitioner and the side-output tag. A partitioner closer
 *    to the consumer wins, as in Flink.
 * 2. Resolve parallelism: the node's own, else the job default, capped by its factory
 *    (non-parallel sources run with 1).
 * 3. Chain. A node joins its producer's chain when it has exactly one resolved input,
 *    the edge is forward (explicitly, or by default with equal parallelism), chaining is
 *    enabled on both and the node does not start a new chain. The chain of a head is a
 *    tree: one producer may feed several chained consumers.
 * 4. Every resolved input that is not chained becomes a job edge between vertices.
 */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ed_partitioner_name(ed_partitioner p)
{
    static const char *const names[] = {"DEFAULT",  "FORWARD", "HASH",      "REBALANCE", "RESCALE",
                                        "SHUFFLE",  "BROADCAST", "GLOBAL", "CUSTOM"};
    return (unsigned)p < ED_ARRAY_LEN(names) ? names[p] : "?";
}

const char *ed_node_param(const ed_node *n, const char *key)
{
    for (int i = n->nparams - 1; i >= 0; i--)
        if (strcmp(n->params[i].key, key) == 0) return n->params[i].value;
    return NULL;
}

/* Appends the physical producers of node `id` to the input list, with what the virtual
 * nodes on the way say about partitioning and side outputs. */
static int collect_inputs(const ed_stream_graph *sg, int id, ed_partitioner part,
                          const ed_node *part_node, const char *side, int input_index,
                          ed_jinput_list *out, int depth, ed_err *err)
{
    if (depth > 64) return ed_err_set(err, "stream graph: virtual nodes nest too deeply");
    const ed_node *n = sg->nodes[id];
    switch (n->kind) {
    case ED_NODE_PARTITION:
        if (part == ED_PART_DEFAULT) {
            part = n->partitioner;
            part_node = n;
        }
        return collect_inputs(sg, n->inputs[0], part, part_node, side, input_index, out,
                              depth + 1, err);
    case ED_NODE_UNION:
        for (int i = 0; i < n->ninputs; i++)
            if (collect_inputs(sg, n->inputs[i], part, part_node, side, input_index, out,
                               depth + 1, err))
                return -1;
        return 0;
    case ED_NODE_SIDE:
        if (side)
            return ed_err_set(err, "stream graph: side output '%s' of a side output", n->side_tag);
        return collect_inputs(sg, n->inputs[0], part, part_node, n->side_tag, input_index, out,
                              depth + 1, err);
    default:
        break;
    }
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 4;
        out->v = ed_xrealloc(out->v, sizeof(*out->v) * (size_t)out->cap);
    }
    out->v[out->n++] = (ed_jinput){.from = id,
                                   .partitioner = part,
                                   .part_node = part_node,
                                   .side_tag = side,
                                   .input = input_index};
    return 0;
}

static bool chaining_enabled(const ed_config *cfg)
{
    return ed_config_get_bool(cfg, "pipeline.operator-chaining.enabled", true);
}

int ed_job_graph_build(const ed_stream_graph *sg, const ed_config *cfg, ed_job_graph *jg,
                       ed_err *err)
{
    memset(jg, 0, sizeof(*jg));
    jg->sg = sg;
    int nn = sg->nnodes;
    int dflt = (int)ed_config_get_int(cfg, "parallelism.default", 1);
    jg->max_parallelism = (int)ed_config_get_int(cfg, "pipeline.max-parallelism", 128);
    jg->node_parallelism = ed_xcalloc((size_t)nn + 1, sizeof(int));
    jg->node_vertex = ed_xcalloc((size_t)nn + 1, sizeof(int));
    jg->inputs = ed_xcalloc((size_t)nn + 1, sizeof(ed_jinput_list));
    jg->chained = ed_xcalloc((size_t)nn + 1, sizeof(bool));

    bool any_sink = false;
    for (int i = 0; i < nn; i++) {
        const ed_node *n = sg->nodes[i];
        jg->node_vertex[i] = -1;
        if (n->kind == ED_NODE_PARTITION || n->kind == ED_NODE_UNION || n->kind == ED_NODE_SIDE)
            continue;
        if (n->kind == ED_NODE_SINK) any_sink = true;
        int p = n->parallelism > 0 ? n->parallelism : dflt;
        const ed_factory *f = ed_factory_find(
            n->factory, n->kind == ED_NODE_SOURCE ? ED_FACTORY_SOURCE
                        : n->kind == ED_NODE_SINK ? ED_FACTORY_SINK
                                                  : ED_FACTORY_OPERATOR);
        if (!f) return ed_err_set(err, "operator '%s': unknown kind '%s'", n->name, n->factory);
        if (f->max_parallelism && p > f->max_parallelism) {
            if (n->parallelism > 0)
                return ed_err_set(err, "operator '%s': parallelism %d, but '%s' runs with at most %d",
                                  n->name, p, n->factory, f->max_parallelism);
            p = f->max_parallelism;
        }
        if (n->keying.keyed && p > jg->max_parallelism)
            return ed_err_set(err,
                              "operator '%s': parallelism %d exceeds pipeline.max-parallelism %d",
                              n->name, p, jg->max_parallelism);
        for (int k = 0; k < n->ninputs; k++)
            if (collect_inputs(sg, n->inputs[k], ED_PART_DEFAULT, NULL, NULL, k, &jg->inputs[i],
                               0, err))
                return -1;
        if (n->inherit_parallelism && n->parallelism == 0 && jg->inputs[i].n > 0)
            p = jg->node_parallelism[jg->inputs[i].v[0].from];
        jg->node_parallelism[i] = p;
    }
    if (!any_sink)
        return ed_err_set(err, "the job has no sink: add eddy_print, eddy_sink or eddy_collect");

    /* Resolve default partitioners and check forward edges. */
    for (int i = 0; i < nn; i++) {
        ed_jinput_list *l = &jg->inputs[i];
        for (int k = 0; k < l->n; k++) {
            ed_jinput *in = &l->v[k];
            int pu = jg->node_parallelism[in->from], pd = jg->node_parallelism[i];
            if (in->partitioner == ED_PART_DEFAULT)
                in->partitioner = pu == pd ? ED_PART_FORWARD : ED_PART_REBALANCE;
            if (in->partitioner == ED_PART_FORWARD && pu != pd)
                return ed_err_set(err,
                                  "forward partitioning from '%s' (parallelism %d) to '%s' "
                                  "(parallelism %d) needs equal parallelism",
                                  sg->nodes[in->from]->name, pu, sg->nodes[i]->name, pd);
        }
    }

    /* Chain and make vertices; nodes are in topological order by construction. */
    bool chain_on = chaining_enabled(cfg);
    jg->vertices = ed_xcalloc((size_t)nn + 1, sizeof(ed_vertex));
    for (int i = 0; i < nn; i++) {
        const ed_node *n = sg->nodes[i];
        if (jg->node_parallelism[i] == 0) continue; /* virtual */
        ed_jinput_list *l = &jg->inputs[i];
        bool chain = false;
        if (chain_on && l->n == 1 && n->ninputs == 1 && !n->start_new_chain &&
            !n->disable_chaining) {
            const ed_node *up = sg->nodes[l->v[0].from];
            chain = l->v[0].partitioner == ED_PART_FORWARD && !up->disable_chaining &&
                    jg->node_parallelism[l->v[0].from] == jg->node_parallelism[i];
        }
        if (chain) {
            int v = jg->node_vertex[l->v[0].from];
            ed_vertex *vx = &jg->vertices[v];
            vx->nodes = ed_xrealloc(vx->nodes, sizeof(int) * (size_t)(vx->nnodes + 1));
            vx->nodes[vx->nnodes++] = i;
            jg->node_vertex[i] = v;
            jg->chained[i] = true;
        } else {
            ed_vertex *vx = &jg->vertices[jg->nvertices];
            vx->id = jg->nvertices;
            vx->nodes = ed_xmalloc(sizeof(int));
            vx->nodes[0] = i;
            vx->nnodes = 1;
            vx->parallelism = jg->node_parallelism[i];
            jg->node_vertex[i] = jg->nvertices++;
        }
    }
    /* Vertex names as Flink's: "Source: a -> b -> Sink: c". */
    for (int v = 0; v < jg->nvertices; v++) {
        ed_vertex *vx = &jg->vertices[v];
        ed_strbuf sb;
        ed_sb_init(&sb);
        for (int k = 0; k < vx->nnodes; k++) {
            if (k) ed_sb_puts(&sb, " -> ");
            ed_sb_puts(&sb, sg->nodes[vx->nodes[k]]->name);
        }
        vx->name = ed_sb_steal(&sb);
    }
    /* Edges for inputs that are not chained. */
    for (int i = 0; i < nn; i++) {
        if (jg->node_parallelism[i] == 0 || jg->chained[i]) continue;
        ed_jinput_list *l = &jg->inputs[i];
        for (int k = 0; k < l->n; k++) {
            ed_jinput *in = &l->v[k];
            jg->edges = ed_xrealloc(jg->edges, sizeof(ed_jedge) * (size_t)(jg->nedges + 1));
            jg->edges[jg->nedges++] = (ed_jedge){.from_vertex = jg->node_vertex[in->from],
                                                 .to_vertex = jg->node_vertex[i],
                                                 .from_node = in->from,
                                                 .to_input = in->input,
                                                 .partitioner = in->partitioner,
                                                 .part_node = in->part_node,
                                                 .side_tag = in->side_tag};
        }
    }
    return 0;
}

void ed_job_graph_free(ed_job_graph *jg)
{
    if (!jg) return;
    for (int v = 0; v < jg->nvertices; v++) {
        free(jg->vertices[v].nodes);
        free(jg->vertices[v].name);
    }
    free(jg->vertices);
    free(jg->edges);
    if (jg->inputs) {
        for (int i = 0; i < jg->sg->nnodes; i++) free(jg->inputs[i].v);
        free(jg->inputs);
    }
    free(jg->chained);
    free(jg->node_parallelism);
    free(jg->node_vertex);
    memset(jg, 0, sizeof(*jg));
}
