/*
 * socket_wordcount.c - WordCount over lines from a socket, as Flink's socket example.
 *
 *   nc -lk 9999 &                       # something that writes lines
 *   eddy run build/examples/socket_wordcount.so --hostname localhost --port 9999
 *
 * Prints the rolling count of every word as lines arrive; ends when the peer closes
 * the connection (or on Ctrl-C).
 */
#include <stdlib.h>
#include <string.h>

#include <eddy/eddy.h>

#include "tokenizer.h"

int socket_tokenize(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    return tokenize_field(in, 0, out);
}

int eddy_job_main(eddy_env *env, int argc, char **argv)
{
    const char *host = example_arg(argc, argv, "--hostname", "localhost");
    int port = atoi(example_arg(argc, argv, "--port", "9999"));
    eddy_stream *lines = eddy_socket_text_stream(env, host, port);
    eddy_stream *words = eddy_flat_map(lines, EDDY_FN(socket_tokenize), "word STRING, cnt BIGINT");
    eddy_print(eddy_sum(eddy_key_by(words, "word"), "cnt"));
    return eddy_execute(env, "Socket WordCount");
}
