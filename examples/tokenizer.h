/*
 * tokenizer.h - the WordCount examples' splitter: a line into lower-case (word, 1) rows,
 * words being runs of letters and digits (Flink's Tokenizer splits on \W+).
 */
#ifndef EDDY_EXAMPLE_TOKENIZER_H
#define EDDY_EXAMPLE_TOKENIZER_H

#include <ctype.h>
#include <string.h>

#include <eddy/eddy.h>

/* Splits field `field` of `in`. */
static inline int tokenize_field(const eddy_row *in, uint32_t field, eddy_collector *out)
{
    eddy_str line = eddy_row_str(in, field);
    char word[256];
    uint32_t i = 0;
    while (i < line.len) {
        while (i < line.len && !isalnum((unsigned char)line.ptr[i])) i++;
        uint32_t n = 0;
        while (i < line.len && isalnum((unsigned char)line.ptr[i])) {
            if (n < sizeof(word)) word[n++] = (char)tolower((unsigned char)line.ptr[i]);
            i++;
        }
        if (n == 0) continue;
        eddy_row_builder *b = eddy_out_builder(out);
        eddy_rb_set_str(b, 0, word, n);
        eddy_rb_set_i64(b, 1, 1);
        if (eddy_emit(out, eddy_rb_row(b))) return -1;
    }
    return 0;
}

static inline const char *example_arg(int argc, char **argv, const char *name, const char *dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return dflt;
}

#endif
