/*
 * nexmark.c - runs one Nexmark query (examples/nexmark/queries.c):
 *
 *   eddy run [-p N] build/nexmark.so QUERY [--events N] [--rate EVENTS_PER_S]
 *            [--base-time MS] [--print]
 *
 * QUERY is q0, q1, q2, q3, q4, q5, q7, q8, q9, q11, q12 or ysb (the Yahoo Streaming
 * Benchmark). The results go to a blackhole sink, as the benchmark's, or printed with
 * --print. Without --events the stream is unbounded.
 */
#include "nexmark/queries.c"

static int usage(const char *why)
{
    fprintf(stderr, "nexmark: %s\nusage: nexmark.so QUERY [--events N] [--rate EVENTS_PER_S] "
                    "[--base-time MS] [--print]\nqueries:", why);
    for (size_t i = 0; i < sizeof nexmark_queries / sizeof nexmark_queries[0]; i++)
        fprintf(stderr, "\n  %-4s %s", nexmark_queries[i].name, nexmark_queries[i].what);
    fprintf(stderr, "\n");
    return 2;
}

int eddy_job_main(eddy_env *env, int argc, char **argv)
{
    if (argc < 2) return usage("which query?");
    nexmark_options o = {0};
    bool print = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--print") == 0) {
            print = true;
        } else if (i + 1 < argc && strcmp(a, "--events") == 0) {
            o.events = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--rate") == 0) {
            o.rate = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--base-time") == 0) {
            o.base_time = argv[++i];
        } else {
            char why[300];
            snprintf(why, sizeof why, "unknown argument '%s'", a);
            return usage(why);
        }
    }
    eddy_stream *result = nexmark_query(env, argv[1], &o);
    if (!result) {
        if (eddy_env_error(env)) return 1;
        char why[300];
        snprintf(why, sizeof why, "unknown query '%s'", argv[1]);
        return usage(why);
    }
    if (print ? eddy_print(result) : eddy_discard(result)) return 1;
    char name[64];
    snprintf(name, sizeof name, "Nexmark %s", argv[1]);
    return eddy_execute(env, name) ? 1 : 0;
}
