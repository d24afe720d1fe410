/* config_test.c - the key table, validation by type, -D pairs and YAML loading. */
#include "base/config.h"

#include "ed_test.h"

#include <unistd.h>

/* Writes text to a fresh temp file; the caller unlinks path. */
static int write_temp(char *path, const char *text)
{
    strcpy(path, "/tmp/eddy_config_test_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    return ok ? 0 : -1;
}

ED_TEST(key_table_comes_from_def_file)
{
    const ed_config_key *k = ed_config_key_find("parallelism.default");
    ED_REQUIRE(k);
    ED_CHECK_INT(k->type, ED_CFG_INT);
    ED_CHECK_STR(k->dflt, "1");
    k = ed_config_key_find("taskmanager.memory.segment-size");
    ED_REQUIRE(k);
    ED_CHECK_INT(k->type, ED_CFG_BYTES);
    ED_CHECK(ed_config_key_find("no.such.key") == NULL);
    size_t n = 0;
    while (ed_config_keys[n].name) {
        ED_CHECK(ed_config_keys[n].description && *ed_config_keys[n].description);
        n++;
    }
    ED_CHECK(n > 10);
    ED_CHECK(ed_config_keys[n].description == NULL);
}

ED_TEST(defaults_and_typed_reads)
{
    ed_config *c = ed_config_new();
    ED_CHECK_STR(ed_config_get(c, "execution.buffer-timeout"), "100 ms");
    ED_CHECK_INT(ed_config_get_int(c, "parallelism.default", -1), 1);
    ED_CHECK_INT(ed_config_get_int(c, "pipeline.max-parallelism", -1), 128);
    ED_CHECK_INT(ed_config_get_duration_ms(c, "execution.buffer-timeout", -1), 100);
    ED_CHECK_INT(ed_config_get_bytes(c, "taskmanager.memory.segment-size", -1), 32768);
    ED_CHECK(ed_config_get_bool(c, "pipeline.operator-chaining.enabled", false));
    ED_CHECK(ed_config_get(c, "unknown.key") == NULL);
    ED_CHECK_INT(ed_config_get_int(c, "unknown.key", 77), 77);
    ED_CHECK_INT(ed_config_get_int(c, "pipeline.name", 5), 5); /* unparsable: default */
    ED_CHECK_INT(ed_config_count(c), 0);
    ed_config_free(c);
    ed_config_free(NULL);
}

ED_TEST(set_validates_known_keys)
{
    ed_config *c = ed_config_new();
    ed_err e = {0};
    ED_CHECK_INT(ed_config_set(c, "parallelism.default", "4", &e), 0);
    ED_CHECK_INT(ed_config_get_int(c, "parallelism.default", -1), 4);

    ED_CHECK_INT(ed_config_set(c, "parallelism.default", "abc", &e), -1);
    ED_CHECK_STR(e.msg, "key 'parallelism.default': expected an integer in [1, 32768], got 'abc'");
    ed_err_clear(&e);
    ED_CHECK_INT(ed_config_set(c, "parallelism.default", "0", &e), -1);
    ed_err_clear(&e);
    ED_CHECK_INT(ed_config_get_int(c, "parallelism.default", -1), 4); /* unchanged */

    ED_CHECK_INT(ed_config_set(c, "pipeline.max-parallelism", "32768", &e), 0);
    ED_CHECK_INT(ed_config_set(c, "pipeline.max-parallelism", "32769", &e), -1);
    ED_CHECK_STR(e.msg,
                 "key 'pipeline.max-parallelism': expected an integer in [1, 32768], got '32769'");
    ed_err_clear(&e);

    ED_CHECK_INT(ed_config_set(c, "taskmanager.network.memory.floating-buffers-per-gate", "0", &e),
                 0);
    ED_CHECK_INT(ed_config_set(c, "taskmanager.network.memory.floating-buffers-per-gate", "-1", &e),
                 -1);
    ED_CHECK_STR(e.msg, "key 'taskmanager.network.memory.floating-buffers-per-gate': expected an "
                        "integer >= 0, got '-1'");
    ed_err_clear(&e);

    ED_CHECK_INT(ed_config_set(c, "pipeline.operator-chaining.enabled", "yes", &e), -1);
    ED_CHECK_STR(e.msg,
                 "key 'pipeline.operator-chaining.enabled': expected true or false, got 'yes'");
    ed_err_clear(&e);
    ED_CHECK_INT(ed_config_set(c, "pipeline.operator-chaining.enabled", "FALSE", &e), 0);
    ED_CHECK(!ed_config_get_bool(c, "pipeline.operator-chaining.enabled", true));

    ED_CHECK_INT(ed_config_set(c, "execution.buffer-timeout", "soon", &e), -1);
    ED_CHECK_CONTAINS(e.msg, "key 'execution.buffer-timeout': expected a duration");
    ED_CHECK_CONTAINS(e.msg, "got 'soon'");
    ed_err_clear(&e);
    ED_CHECK_INT(ed_config_set(c, "execution.buffer-timeout", "2 s", &e), 0);
    ED_CHECK_INT(ed_config_get_duration_ms(c, "execution.buffer-timeout", -1), 2000);

    ED_CHECK_INT(ed_config_set(c, "taskmanager.memory.segment-size", "big", &e), -1);
    ED_CHECK_CONTAINS(e.msg, "key 'taskmanager.memory.segment-size': expected a memory size");
    ed_err_clear(&e);
    ED_CHECK_INT(ed_config_set(c, "taskmanager.memory.segment-size", "64kb", &e), 0);
    ED_CHECK_INT(ed_config_get_bytes(c, "taskmanager.memory.segment-size", -1), 65536);

    ED_CHECK_INT(ed_config_set(c, "log.level", "LOUD", &e), -1);
    ED_CHECK_CONTAINS(e.msg, "key 'log.level': expected a log level");
    ed_err_clear(&e);
    ED_CHECK_INT(ed_config_set(c, "log.level", "WARN,runtime=DEBUG", &e), 0);
    ED_CHECK_INT(ed_config_set(c, "log.level", "WARN,runtime=", &e), -1);
    ed_err_clear(&e);

    ED_CHECK_INT(ed_config_set(c, "", "x", &e), -1);
    ED_CHECK_STR(e.msg, "config: empty key");
    ed_config_free(c);
}

ED_TEST(unknown_keys_kept_in_order_and_replaced_in_place)
{
    ed_config *c = ed_config_new();
    ed_err e = {0};
    ED_CHECK_INT(ed_config_set(c, "job.input", "/data/in", &e), 0);
    ED_CHECK_INT(ed_config_set(c, "parallelism.default", "2", &e), 0);
    ED_CHECK_INT(ed_config_set(c, "job.input", "/data/other", &e), 0);
    ED_CHECK_INT(ed_config_count(c), 2);
    ED_CHECK_STR(ed_config_key_at(c, 0), "job.input");
    ED_CHECK_STR(ed_config_value_at(c, 0), "/data/other");
    ED_CHECK_STR(ed_config_key_at(c, 1), "parallelism.default");
    ED_CHECK(ed_config_key_at(c, 2) == NULL);

    ed_config *d = ed_config_copy(c);
    ED_CHECK_INT(ed_config_set(c, "job.input", "changed", &e), 0);
    ED_CHECK_STR(ed_config_get(d, "job.input"), "/data/other");
    ed_config_free(d);
    ed_config_free(c);
}

ED_TEST(set_kv_splits_on_first_equals)
{
    ed_config *c = ed_config_new();
    ed_err e = {0};
    ED_CHECK_INT(ed_config_set_kv(c, "parallelism.default=3", &e), 0);
    ED_CHECK_INT(ed_config_get_int(c, "parallelism.default", -1), 3);
    ED_CHECK_INT(ed_config_set_kv(c, "job.query=a=b", &e), 0);
    ED_CHECK_STR(ed_config_get(c, "job.query"), "a=b");
    ED_CHECK_INT(ed_config_set_kv(c, " job.x = 5", &e), 0);
    ED_CHECK_STR(ed_config_get(c, "job.x"), "5");
    ED_CHECK_INT(ed_config_set_kv(c, "job.empty=", &e), 0);
    ED_CHECK_STR(ed_config_get(c, "job.empty"), "");
    ED_CHECK_INT(ed_config_set_kv(c, "novalue", &e), -1);
    ED_CHECK_STR(e.msg, "config: expected key=value, got 'novalue'");
    ed_err_clear(&e);
    ED_CHECK_INT(ed_config_set_kv(c, "=5", &e), -1);
    ed_err_clear(&e);
    ED_CHECK_INT(ed_config_set_kv(c, "parallelism.default=x", &e), -1);
    ED_CHECK_CONTAINS(e.msg, "key 'parallelism.default'");
    ed_config_free(c);
}

ED_TEST(yaml_nested_maps_flatten_to_dotted_keys)
{
    char path[64];
    ED_REQUIRE(write_temp(path, "# eddy config\n"
                                "parallelism.default: 4\n"
                                "taskmanager:\n"
                                "  memory:\n"
                                "    segment-size: 64kb\n"
                                "  network:\n"
                                "    memory:\n"
                                "      buffers-per-channel: 3\n"
                                "execution:\n"
                                "  buffer-timeout: 10 ms\n"
                                "job:\n"
                                "  name: \"word count\"\n"
                                "  empty:\n"
                                "  quoted-null: 'null'\n"
                                "top: last\n") == 0);
    ed_config *c = ed_config_new();
    ed_err e = {0};
    int rc = ed_config_load_yaml(c, path, &e);
    unlink(path);
    ED_CHECK_INT(rc, 0);
    ED_CHECK_STR(e.msg, "");
    ED_CHECK_INT(ed_config_get_int(c, "parallelism.default", -1), 4);
    ED_CHECK_INT(ed_config_get_bytes(c, "taskmanager.memory.segment-size", -1), 65536);
    ED_CHECK_INT(ed_config_get_int(c, "taskmanager.network.memory.buffers-per-channel", -1), 3);
    ED_CHECK_INT(ed_config_get_duration_ms(c, "execution.buffer-timeout", -1), 10);
    ED_CHECK_STR(ed_config_get(c, "job.name"), "word count");
    ED_CHECK_STR(ed_config_get(c, "job.empty"), "");
    ED_CHECK_STR(ed_config_get(c, "job.quoted-null"), "null");
    ED_CHECK_STR(ed_config_get(c, "top"), "last");
    ED_CHECK_INT(ed_config_count(c), 8);
    ED_CHECK_STR(ed_config_key_at(c, 0), "parallelism.default");
    ed_config_free(c);
}

ED_TEST(yaml_overrides_earlier_values)
{
    char path[64];
    ED_REQUIRE(write_temp(path, "parallelism.default: 8\n") == 0);
    ed_config *c = ed_config_new();
    ed_err e = {0};
    ED_CHECK_INT(ed_config_set(c, "parallelism.default", "2", &e), 0);
    ED_CHECK_INT(ed_config_set(c, "job.keep", "yes", &e), 0);
    ED_CHECK_INT(ed_config_load_yaml(c, path, &e), 0);
    unlink(path);
    ED_CHECK_INT(ed_config_get_int(c, "parallelism.default", -1), 8);
    ED_CHECK_STR(ed_config_get(c, "job.keep"), "yes");
    ed_config_free(c);
}

ED_TEST(yaml_empty_file_is_fine)
{
    char path[64];
    ED_REQUIRE(write_temp(path, "# nothing here\n") == 0);
    ed_config *c = ed_config_new();
    ed_err e = {0};
    ED_CHECK_INT(ed_config_load_yaml(c, path, &e), 0);
    unlink(path);
    ED_CHECK_INT(ed_config_count(c), 0);
    ed_config_free(c);
}

/* Loads text and expects an error; returns the message (static). */
static const char *yaml_error(const char *text, char *path)
{
    static ed_err e;
    ed_err_clear(&e);
    if (write_temp(path, text)) return "(cannot write temp file)";
    ed_config *c = ed_config_new();
    ed_config_set(c, "job.before", "kept", &e);
    int rc = ed_config_load_yaml(c, path, &e);
    unlink(path);
    /* all or nothing: the configuration is unchanged after an error */
    if (rc == 0 || ed_config_count(c) != 1 || ed_config_get(c, "parallelism.default")[0] != '1')
        ed_err_set(&e, "(expected a failed, atomic load)");
    ed_config_free(c);
    return e.msg;
}

ED_TEST(yaml_errors_name_path_and_line)
{
    char path[64], want[256];
    const char *msg = yaml_error("parallelism.default: 2\n"
                                 "job:\n"
                                 "  list:\n"
                                 "    - a\n"
                                 "    - b\n",
                                 path);
    snprintf(want, sizeof want, "%s:4: key 'job.list': lists are not supported, use a scalar value",
             path);
    ED_CHECK_STR(msg, want);

    msg = yaml_error("a: 1\n"
                     "parallelism:\n"
                     "  default: many\n",
                     path);
    snprintf(want, sizeof want,
             "%s:3: key 'parallelism.default': expected an integer in [1, 32768], got 'many'",
             path);
    ED_CHECK_STR(msg, want);

    msg = yaml_error("a: 1\nb: [1, 2\n", path);
    snprintf(want, sizeof want, "%s:", path);
    ED_CHECK_CONTAINS(msg, want);
    ED_CHECK(strlen(msg) > strlen(want));

    msg = yaml_error("just a scalar\n", path);
    snprintf(want, sizeof want, "%s:1: expected a mapping of keys to values", path);
    ED_CHECK_STR(msg, want);

    msg = yaml_error("- a\n- b\n", path);
    snprintf(want, sizeof want, "%s:1: expected a mapping of keys to values", path);
    ED_CHECK_STR(msg, want);

    msg = yaml_error("base: &x 1\nother: *x\n", path);
    snprintf(want, sizeof want, "%s:2: aliases are not supported", path);
    ED_CHECK_STR(msg, want);

    msg = yaml_error("? [a, b]\n: 1\n", path);
    snprintf(want, sizeof want, "%s:1: a key must be a plain value", path);
    ED_CHECK_STR(msg, want);

    msg = yaml_error("a:\n  b: 1\n  c: x\n  d:\n     - 1\n", path);
    snprintf(want, sizeof want, "%s:5: key 'a.d': lists are not supported, use a scalar value",
             path);
    ED_CHECK_STR(msg, want);
}

ED_TEST(yaml_missing_file_names_path_and_errno)
{
    ed_config *c = ed_config_new();
    ed_err e = {0};
    ED_CHECK_INT(ed_config_load_yaml(c, "/nonexistent/eddy.yaml", &e), -1);
    ED_CHECK_STR(e.msg, "/nonexistent/eddy.yaml: No such file or directory");
    ed_config_free(c);
}
