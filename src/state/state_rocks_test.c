/*
 * state_rocks_test.c - state_test.c's tests over the RocksDB backend (rocks.h), but those
 * of the heap backend's own memory: the two backends keep one semantics.
 */
#define ED_STATE_TEST_ROCKSDB 1
#include "state_test.c"

#include <dirent.h>
#include <sys/stat.h>

/* ---- RocksDB only ------------------------------------------------------------------------ */

ED_TEST(rocksdb_ttl_compaction_filter_drops_expired_values_elements_and_map_entries)
{
    fx f;
    fx_init(&f);
    eddy_state_ttl ttl = {.ttl_ms = 100};
    eddy_state *v = get_state(
        &f, (eddy_state_desc){.name = "v", .kind = EDDY_STATE_VALUE, .schema = "v BIGINT", .ttl = ttl});
    eddy_state *l = get_state(
        &f, (eddy_state_desc){.name = "l", .kind = EDDY_STATE_LIST, .schema = "v BIGINT", .ttl = ttl});
    eddy_state *m = get_state(&f, (eddy_state_desc){.name = "m",
                                                    .kind = EDDY_STATE_MAP,
                                                    .schema = "v BIGINT",
                                                    .key_schema = "k BIGINT",
                                                    .ttl = ttl});
    ED_REQUIRE(v && l && m);
    for (int64_t k = 0; k < 20; k++) { /* written at 1000 */
        set_key(&f, k);
        eddy_value_update(v, row1(f.rb, k));
        eddy_list_add(l, row1(f.rb, k));
        eddy_map_put(m, row1(f.rb2, 1), row1(f.rb, k));
    }
    ed_manual_clock_advance(&f.clock, 60);
    for (int64_t k = 0; k < 10; k++) { /* written at 1060: live until 1160 */
        set_key(&f, k);
        eddy_value_update(v, row1(f.rb, k + 100));
        eddy_list_add(l, row1(f.rb, k + 100));
        eddy_map_put(m, row1(f.rb2, 2), row1(f.rb, k + 100));
    }
    ED_CHECK_INT(ed_state_rocksdb_entries(v), 20);
    ED_CHECK_INT(ed_state_rocksdb_entries(l), 20);
    ED_CHECK_INT(ed_state_rocksdb_entries(m), 30);
    ed_err err = {0};
    ED_CHECK_INT(ed_state_backend_compact(f.b, &err), 0); /* at 1060: nothing expired */
    ED_CHECK_INT(ed_state_rocksdb_entries(v), 20);
    ED_CHECK_INT(ed_state_rocksdb_entries(m), 30);
    ed_manual_clock_advance(&f.clock, 40); /* 1100: the first writes expire */
    ED_CHECK_INT(ed_state_backend_compact(f.b, &err), 0);
    ED_CHECK_INT(ed_state_rocksdb_entries(v), 10); /* keys 10..19 went */
    ED_CHECK_INT(ed_state_rocksdb_entries(l), 10); /* their lists too */
    ED_CHECK_INT(ed_state_rocksdb_entries(m), 10); /* every map entry written at 1000 */
    /* the lists of keys 0..9 lost their first element, in storage, not only on reads */
    for (int64_t k = 0; k < 10; k++) {
        set_key(&f, k);
        ED_CHECK_INT(eddy_list_size(l), 1);
        ED_CHECK_INT(v0(eddy_list_get(l, 0)), k + 100);
        ED_CHECK_INT(v0(eddy_value_get(v)), k + 100);
        ED_CHECK_INT(eddy_map_size(m), 1);
    }
    ed_manual_clock_advance(&f.clock, 60); /* 1160: everything expired */
    ED_CHECK_INT(ed_state_backend_compact(f.b, &err), 0);
    ED_CHECK_INT(ed_state_rocksdb_entries(v) + ed_state_rocksdb_entries(l) +
                     ed_state_rocksdb_entries(m), 0);
    fx_free(&f);
}

static uint64_t dir_bytes(const char *dir)
{
    uint64_t n = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    char path[4400];
    while ((de = readdir(d))) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (de->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) n += (uint64_t)st.st_size;
    }
    closedir(d);
    return n;
}

/* 4 MiB of memory for RocksDB, 24 MiB of state (incompressible strings): everything reads
 * back exactly, from disk, and the instance's memory stays near its budget. */
ED_TEST(rocksdb_state_six_times_larger_than_its_memory)
{
    ed_manual_clock clock;
    ed_manual_clock_init(&clock, 1000);
    ed_state_backend *b = ed_state_backend_new(128, &clock.base, NULL);
    ed_rocks_options o = {.name = "big", .memory = 4 << 20};
    ed_err err = {0};
    ED_REQUIRE(ed_state_backend_use_rocksdb(b, &o, &err) == 0);
    char e[64];
    eddy_schema *sc = eddy_schema_parse("n BIGINT, s STRING", e, sizeof e);
    eddy_row_builder *rb = eddy_rb_new_schema(sc);
    eddy_state *s = ed_state_get(
        b, &(eddy_state_desc){.name = "big", .kind = EDDY_STATE_VALUE, .schema = "n BIGINT, s STRING"},
        &err);
    ED_REQUIRE(s);
    enum { KEYS = 24 * 1024, LEN = 1000 };
    char text[LEN + 1];
    uint64_t x = 88172645463325252ull;
    size_t peak = 0;
    for (int64_t k = 0; k < KEYS; k++) {
        for (int i = 0; i < LEN; i++) { /* xorshift: text that does not compress */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            text[i] = (char)('a' + x % 26);
        }
        text[LEN] = 0;
        uint8_t key[8];
        memcpy(key, &k, 8);
        ed_state_set_key(b, key, 8, ed_key_group(ed_key_hash(key, 8), 128));
        eddy_rb_reset(rb);
        eddy_rb_set_i64(rb, 0, k);
        eddy_rb_set_cstr(rb, 1, text);
        ED_CHECK_INT(eddy_value_update(s, eddy_rb_row(rb)), 0);
        size_t now = ed_state_backend_bytes(b);
        if (now > peak) peak = now;
    }
    ED_CHECK(dir_bytes(ed_state_backend_rocksdb_dir(b)) > (uint64_t)4 * o.memory);
    ED_CHECK(peak < 2 * o.memory); /* memtables and cache, near the budget */
    /* every value reads back: same text from the same generator */
    x = 88172645463325252ull;
    int bad = 0;
    for (int64_t k = 0; k < KEYS; k++) {
        for (int i = 0; i < LEN; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            text[i] = (char)('a' + x % 26);
        }
        uint8_t key[8];
        memcpy(key, &k, 8);
        ed_state_set_key(b, key, 8, ed_key_group(ed_key_hash(key, 8), 128));
        const eddy_row *r = eddy_value_get(s);
        if (!r || eddy_row_i64(r, 0) != k || eddy_row_str(r, 1).len != LEN ||
            memcmp(eddy_row_str(r, 1).ptr, text, LEN))
            bad++;
    }
    ED_CHECK_INT(bad, 0);
    ED_CHECK_INT(ed_state_entries(s), KEYS);
    eddy_rb_free(rb);
    eddy_schema_free(sc);
    ed_state_backend_free(b);
}

/* A map of 5000 entries iterated whole, twice at once: each iteration sees every entry
 * once; a change ends an iteration. */
ED_TEST(rocksdb_map_iteration_of_a_large_map)
{
    fx f;
    fx_init(&f);
    eddy_state *m = get_state(&f, (eddy_state_desc){.name = "m",
                                                    .kind = EDDY_STATE_MAP,
                                                    .schema = "v BIGINT",
                                                    .key_schema = "k BIGINT"});
    ED_REQUIRE(m);
    set_key(&f, 7);
    for (int64_t i = 0; i < 5000; i++) eddy_map_put(m, row1(f.rb2, i), row1(f.rb, 2 * i));
    set_key(&f, 8);
    eddy_map_put(m, row1(f.rb2, 1), row1(f.rb, 1));
    set_key(&f, 7);
    eddy_map_iter a, c;
    eddy_map_iter_start(m, &a);
    eddy_map_iter_start(m, &c);
    const eddy_row *k, *v;
    int64_t sum_a = 0, sum_c = 0, n_a = 0, n_c = 0;
    for (;;) {
        bool more = false;
        if (eddy_map_next(&a, &k, &v)) {
            sum_a += eddy_row_i64(k, 0);
            n_a += eddy_row_i64(v, 0) == 2 * eddy_row_i64(k, 0);
            more = true;
        }
        if (eddy_map_next(&c, &k, &v)) {
            sum_c += eddy_row_i64(k, 0);
            n_c++;
            more = true;
        }
        if (!more) break;
    }
    ED_CHECK_INT(n_a, 5000);
    ED_CHECK_INT(n_c, 5000);
    ED_CHECK_INT(sum_a, 4999 * 5000 / 2);
    ED_CHECK_INT(sum_c, sum_a);
    eddy_map_iter_start(m, &a);
    ED_CHECK(eddy_map_next(&a, &k, &v));
    eddy_map_put(m, row1(f.rb2, 9999), row1(f.rb, 1));
    ED_CHECK(!eddy_map_next(&a, &k, &v)); /* the map changed */
    ED_CHECK_INT(eddy_map_size(m), 5001);
    fx_free(&f);
}

static int fatal_calls;
static char fatal_msg[256];
static void count_fatal(eddy_ctx *ctx, const char *msg)
{
    fatal_calls++;
    snprintf(fatal_msg, sizeof fatal_msg, "%s", msg);
}

/* A damaged SST file: the read fails with RocksDB's reason, and the runtime's fatal hook
 * is called (the job fails and restores; a read error never reads as "no value"). */
ED_TEST(rocksdb_read_errors_are_fatal_not_absent)
{
    ed_manual_clock clock;
    ed_manual_clock_init(&clock, 1000);
    static int dummy_ctx;
    ed_state_backend *b = ed_state_backend_new(128, &clock.base, (eddy_ctx *)&dummy_ctx);
    ed_rocks_options o = {.name = "damaged", .memory = 1 << 20};
    ed_err err = {0};
    ED_REQUIRE(ed_state_backend_use_rocksdb(b, &o, &err) == 0);
    char e[64];
    eddy_schema *sc = eddy_schema_parse("s STRING", e, sizeof e);
    eddy_row_builder *rb = eddy_rb_new_schema(sc);
    eddy_state *s = ed_state_get(
        b, &(eddy_state_desc){.name = "v", .kind = EDDY_STATE_VALUE, .schema = "s STRING"}, &err);
    ED_REQUIRE(s);
    char text[1001];
    memset(text, 'x', 1000);
    text[1000] = 0;
    for (int64_t k = 0; k < 2000; k++) {
        uint8_t key[8];
        memcpy(key, &k, 8);
        ed_state_set_key(b, key, 8, ed_key_group(ed_key_hash(key, 8), 128));
        eddy_rb_reset(rb);
        text[k % 1000] = (char)('a' + k % 26);
        eddy_rb_set_cstr(rb, 0, text);
        ED_REQUIRE(eddy_value_update(s, eddy_rb_row(rb)) == 0);
    }
    ED_REQUIRE(ed_state_backend_compact(b, &err) == 0);
    /* flip bytes in the middle of every SST file */
    const char *dir = ed_state_backend_rocksdb_dir(b);
    DIR *d = opendir(dir);
    ED_REQUIRE(d);
    struct dirent *de;
    int damaged = 0;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".sst")) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r+b");
        ED_REQUIRE(f);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        for (long at = 4096; at < size / 2; at += 8192) {
            fseek(f, at, SEEK_SET);
            int c = fgetc(f);
            fseek(f, at, SEEK_SET);
            fputc(c ^ 0x55, f);
        }
        fclose(f);
        damaged++;
    }
    closedir(d);
    ED_REQUIRE(damaged > 0);
    /* the runtime's hooks expect an operator's context: this one is a stand-in */
    void (*saved)(eddy_ctx *, const char *) = ed_state_fatal_hook;
    void (*saved_note)(eddy_ctx *, const char *) = ed_state_error_hook;
    ed_state_fatal_hook = count_fatal;
    ed_state_error_hook = NULL;
    fatal_calls = 0;
    int failed_reads = 0;
    for (int64_t k = 0; k < 2000; k++) {
        uint8_t key[8];
        memcpy(key, &k, 8);
        ed_state_set_key(b, key, 8, ed_key_group(ed_key_hash(key, 8), 128));
        if (!eddy_value_get(s)) failed_reads += ed_state_error(s) != NULL;
    }
    ed_state_fatal_hook = saved;
    ed_state_error_hook = saved_note;
    ED_CHECK(failed_reads > 0);
    ED_CHECK_INT(fatal_calls, failed_reads);
    ED_CHECK_CONTAINS(fatal_msg, "state 'v': RocksDB read failed: Corruption");
    eddy_rb_free(rb);
    eddy_schema_free(sc);
    ed_state_backend_free(b);
}
