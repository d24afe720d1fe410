/*
 * graph_test.c - operator chaining and job graph construction, as Flink chains: forward
 * edges of equal parallelism chain unless disabled; key_by, rebalance and parallelism
 * changes cut chains; start_new_chain cuts before an operator.
 */
#include "api/api.h"
#include "ed_test.h"
#include "job_util.h"

int g_map(eddy_ctx *ctx, const eddy_row *in, eddy_row_builder *out) { return 0; }

/* The job graph's vertices as "name|parallelism" lines. */
static char *vertices(eddy_env *env)
{
    ed_job_graph jg;
    ed_err err = {0};
    if (ed_job_graph_build(&env->sg, env->cfg, &jg, &err)) return strdup(err.msg);
    ed_strbuf sb;
    ed_sb_init(&sb);
    for (int v = 0; v < jg.nvertices; v++)
        ed_sb_printf(&sb, "%s%s|%d", v ? "\n" : "", jg.vertices[v].name, jg.vertices[v].parallelism);
    for (int e = 0; e < jg.nedges; e++)
        ed_sb_printf(&sb, "\n%d->%d %s", jg.edges[e].from_vertex, jg.edges[e].to_vertex,
                     ed_partitioner_name(jg.edges[e].partitioner));
    ed_job_graph_free(&jg);
    return ed_sb_steal(&sb);
}

static eddy_stream *gen(eddy_env *env)
{
    return eddy_source(env, "datagen", "id BIGINT", "number-of-rows", "10", NULL);
}

ED_TEST(chains_forward_edges_and_cuts_at_key_by)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 2);
    eddy_stream *m = eddy_map(gen(env), EDDY_FN(g_map), "id BIGINT");
    eddy_print(eddy_sum(eddy_key_by(m, "id"), "id"));
    char *got = vertices(env);
    ED_CHECK_STR(got, "Source: datagen -> Map|2\nKeyed Aggregation -> Sink: Print to Std. Out|2\n0->1 HASH");
    free(got);
    eddy_env_free(env);
}

ED_TEST(disable_chaining_and_start_new_chain)
{
    eddy_env *env = eddy_env_new();
    eddy_stream *a = eddy_name(eddy_map(gen(env), EDDY_FN(g_map), "id BIGINT"), "A");
    eddy_stream *b = eddy_name(eddy_map(a, EDDY_FN(g_map), "id BIGINT"), "B");
    eddy_stream *c = eddy_name(eddy_map(b, EDDY_FN(g_map), "id BIGINT"), "C");
    eddy_stream *d = eddy_name(eddy_map(c, EDDY_FN(g_map), "id BIGINT"), "D");
    eddy_disable_chaining(b);
    eddy_start_new_chain(d);
    eddy_discard(d);
    char *got = vertices(env);
    ED_CHECK_STR(got, "Source: datagen -> A|1\nB|1\nC|1\nD -> Sink: blackhole|1\n"
                      "0->1 FORWARD\n1->2 FORWARD\n2->3 FORWARD");
    free(got);
    eddy_env_free(env);
}

ED_TEST(parallelism_change_rebalances)
{
    eddy_env *env = eddy_env_new();
    eddy_stream *a = eddy_set_parallelism(eddy_map(gen(env), EDDY_FN(g_map), "id BIGINT"), 3);
    eddy_discard(eddy_broadcast(a));
    char *got = vertices(env);
    ED_CHECK_STR(got, "Source: datagen|1\nMap|3\nSink: blackhole|1\n0->1 REBALANCE\n1->2 BROADCAST");
    free(got);
    eddy_env_free(env);
}

ED_TEST(chaining_off_by_configuration)
{
    eddy_env *env = eddy_env_new();
    ED_REQUIRE(eddy_env_set(env, "pipeline.operator-chaining.enabled", "false") == 0);
    eddy_discard(eddy_map(gen(env), EDDY_FN(g_map), "id BIGINT"));
    char *got = vertices(env);
    ED_CHECK_STR(got, "Source: datagen|1\nMap|1\nSink: blackhole|1\n0->1 FORWARD\n1->2 FORWARD");
    free(got);
    eddy_env_free(env);
}

ED_TEST(union_and_side_outputs_chain)
{
    eddy_env *env = eddy_env_new();
    eddy_stream *a = gen(env);
    eddy_stream *b = gen(env);
    eddy_stream *u = eddy_map(eddy_union(a, b), EDDY_FN(g_map), "id BIGINT");
    eddy_stream *side = eddy_side_output(u, "late", "id BIGINT");
    eddy_discard(u);
    eddy_print(side);
    char *got = vertices(env);
    ED_CHECK_STR(got, "Source: datagen|1\nSource: datagen|1\nMap -> Sink: blackhole -> Sink: Print to Std. Out|1\n"
                      "0->2 FORWARD\n1->2 FORWARD");
    free(got);
    eddy_env_free(env);
}

ED_TEST(non_parallel_source_runs_with_one)
{
    eddy_env *env = eddy_env_new();
    eddy_env_set_parallelism(env, 4);
    eddy_discard(eddy_socket_text_stream(env, "localhost", 9));
    char *got = vertices(env);
    ED_CHECK_STR(got, "Source: socket|1\nSink: blackhole|4\n0->1 REBALANCE");
    free(got);
    eddy_env_free(env);
}
