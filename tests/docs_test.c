/*
 * docs_test.c - the documentation stays true to the code: every configuration key is on
 * docs/configuration.md with its default and type.
 */
#include <stdio.h>

#include "base/config.h"
#include "ed_test.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = 0;
    fclose(f);
    return buf;
}

ED_TEST(configuration_page_lists_every_key)
{
    char *doc = slurp(EDDY_SOURCE_DIR "/docs/configuration.md");
    ED_REQUIRE(doc);
    static const char *const types[] = {"INT", "BOOL", "STRING", "DURATION", "BYTES", "LEVEL"};
    for (const ed_config_key *k = ed_config_keys; k->name; k++) {
        char row[512];
        snprintf(row, sizeof(row), "| `%s` | %s | `%s` |", k->name, types[k->type], k->dflt);
        if (!strstr(doc, row)) ED_FAIL_AT("docs/configuration.md lacks the row: %s", row);
    }
    free(doc);
}
