/*
 * wordcount.c - streaming WordCount over text files, as Flink's WordCount example.
 *
 *   eddy run build/examples/wordcount.so [--input PATH] [--output PATH]
 *
 * Splits lines into lower-case words, keys by word and keeps a rolling count: every word
 * emits its count so far, "+I[to, 2]". Without --input it reads the bundled sample
 * (data/words.txt, found beside the build); without --output it prints.
 */
#include <stdio.h>
#include <string.h>

#include <eddy/eddy.h>

#include "tokenizer.h"

/* Splits a line on non-letters into (word, 1) rows. */
int tokenize(eddy_ctx *ctx, const eddy_row *in, eddy_collector *out)
{
    return tokenize_field(in, 0, out);
}

int eddy_job_main(eddy_env *env, int argc, char **argv)
{
    const char *input = example_arg(argc, argv, "--input", EDDY_SAMPLE_DIR "/words.txt");
    const char *output = example_arg(argc, argv, "--output", NULL);

    eddy_stream *lines = eddy_read_text_file(env, input);
    eddy_stream *words = eddy_flat_map(lines, EDDY_FN(tokenize), "word STRING, cnt BIGINT");
    eddy_stream *counts = eddy_sum(eddy_key_by(words, "word"), "cnt");
    eddy_name(words, "Tokenizer");
    if (output)
        eddy_write_as_csv(counts, output);
    else
        eddy_print(counts);
    return eddy_execute(env, "Streaming WordCount");
}
