/* log_test.c - level specs, per-component thresholds and the line format. */
#include "base/log.h"

#include "base/base.h"
#include "ed_test.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

ED_TEST(level_spec_default_and_components)
{
    ED_CHECK_INT(ed_log_set_levels("WARN,runtime=DEBUG, connector = trace"), 0);
    ED_CHECK(!ed_log_on(ED_INFO, "api"));
    ED_CHECK(ed_log_on(ED_WARN, "api"));
    ED_CHECK(ed_log_on(ED_ERROR, NULL));
    ED_CHECK(!ed_log_on(ED_INFO, NULL));
    ED_CHECK(ed_log_on(ED_DEBUG, "runtime"));
    ED_CHECK(!ed_log_on(ED_TRACE, "runtime"));
    ED_CHECK(ed_log_on(ED_TRACE, "connector"));
    ED_CHECK(!ed_log_on(ED_OFF, "connector")); /* OFF is a threshold, never a message level */

    ED_CHECK_INT(ed_log_set_levels("runtime=OFF"), 0); /* default back to INFO */
    ED_CHECK(ed_log_on(ED_INFO, "api"));
    ED_CHECK(!ed_log_on(ED_ERROR, "runtime"));

    ED_CHECK_INT(ed_log_set_levels("off"), 0);
    ED_CHECK(!ed_log_on(ED_ERROR, "api"));
    ED_CHECK_INT(ed_log_set_levels("INFO"), 0);
}

ED_TEST(bad_level_specs_change_nothing)
{
    ED_CHECK_INT(ed_log_set_levels("DEBUG"), 0);
    const char *bad[] = {
        "", "LOUD", "INFO,", ",INFO", "runtime=", "=DEBUG", "run time=INFO", "runtime=LOUD", NULL};
    for (int i = 0; bad[i]; i++) {
        ED_CHECK(!ed_log_levels_valid(bad[i]));
        ED_CHECK_INT(ed_log_set_levels(bad[i]), -1);
    }
    ED_CHECK_INT(ed_log_set_levels(NULL), -1);
    ED_CHECK(ed_log_on(ED_DEBUG, "x")); /* still DEBUG */
    ED_CHECK(ed_log_levels_valid("warning,a.b-c_d=error"));
    ED_CHECK_INT(ed_log_set_levels("INFO"), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    ed_strbuf sb;
    ed_sb_init(&sb);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        ed_sb_append(&sb, buf, n);
    fclose(f);
    return ed_sb_steal(&sb);
}

/* "2026-11-25 11:41:13.123 " : digits and separators in place */
static int has_timestamp_prefix(const char *l)
{
    const char *shape = "dddd-dd-dd dd:dd:dd.ddd ";
    for (int i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)l[i]) : l[i] != shape[i]) return 0;
    }
    return 1;
}

ED_TEST(lines_go_to_file_in_the_documented_format)
{
    char path[] = "/tmp/eddy_log_test_XXXXXX";
    int fd = mkstemp(path);
    ED_REQUIRE(fd >= 0);
    close(fd);
    ED_CHECK_INT(ed_log_set_levels("INFO,runtime=DEBUG"), 0);
    ED_REQUIRE(ed_log_set_file(path) == 0);
    ED_LOG_INFO("runtime", "message %d", 1);
    ED_LOG_DEBUG("runtime", "debug shown");
    ED_LOG_DEBUG("api", "debug hidden");
    ED_LOG_WARN("connector", "trailing newline is not doubled\n");
    ED_LOG_ERROR("api", "%s", "");
    ED_REQUIRE(ed_log_set_file(NULL) == 0);
    ED_LOG_INFO("runtime", "to stderr, not the file");
    char *text = slurp(path);
    unlink(path);
    ED_REQUIRE(text);
    /* strip the timestamps and compare the rest */
    const char *want[] = {"INFO  runtime  message 1", "DEBUG runtime  debug shown",
                          "WARN  connector trailing newline is not doubled", "ERROR api      "};
    char *line = text;
    int n = 0;
    while (*line) {
        char *nl = strchr(line, '\n');
        ED_REQUIRE(nl);
        *nl = '\0';
        ED_REQUIRE(n < 4);
        ED_CHECK(has_timestamp_prefix(line));
        ED_CHECK_STR(line + 24, want[n]);
        n++;
        line = nl + 1;
    }
    ED_CHECK_INT(n, 4);
    free(text);
    ED_CHECK_INT(ed_log_set_levels("INFO"), 0);
}

ED_TEST(long_lines_are_written_whole)
{
    char path[] = "/tmp/eddy_log_test_XXXXXX";
    int fd = mkstemp(path);
    ED_REQUIRE(fd >= 0);
    close(fd);
    ED_REQUIRE(ed_log_set_file(path) == 0);
    char big[10001];
    memset(big, 'q', 10000);
    big[10000] = '\0';
    ED_LOG_INFO("x", "%s|end", big);
    ED_REQUIRE(ed_log_set_file("") == 0);
    char *text = slurp(path);
    unlink(path);
    ED_REQUIRE(text);
    ED_CHECK_INT(strlen(text), 24 + 6 + 9 + 10000 + 4 + 1);
    ED_CHECK_CONTAINS(text, "q|end\n");
    free(text);
}

static void *log_thread(void *arg)
{
    for (int i = 0; i < 200; i++)
        ED_LOG_INFO("thread", "t%ld line %d payload", (long)arg, i);
    return NULL;
}

ED_TEST(concurrent_lines_do_not_interleave)
{
    char path[] = "/tmp/eddy_log_test_XXXXXX";
    int fd = mkstemp(path);
    ED_REQUIRE(fd >= 0);
    close(fd);
    ED_REQUIRE(ed_log_set_file(path) == 0);
    pthread_t th[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, log_thread, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ED_REQUIRE(ed_log_set_file(NULL) == 0);
    char *text = slurp(path);
    unlink(path);
    ED_REQUIRE(text);
    int lines = 0;
    for (char *l = text; *l;) {
        char *nl = strchr(l, '\n');
        ED_REQUIRE(nl);
        *nl = '\0';
        ED_CHECK(has_timestamp_prefix(l));
        ED_CHECK(strstr(l, " payload") == nl - 8);
        lines++;
        l = nl + 1;
    }
    ED_CHECK_INT(lines, 800);
    free(text);
}

ED_TEST(set_file_failure_keeps_errno)
{
    ED_CHECK_INT(ed_log_set_file("/nonexistent/dir/eddy.log"), -1);
    ED_CHECK(errno == ENOENT);
}
