/* key_test.c - key specs, canonical key bytes and Flink's key-group assignment. */
#include "types/types.h"

#include "ed_test.h"

static eddy_schema *schema(const char *text)
{
    char err[256];
    eddy_schema *s = eddy_schema_parse(text, err, sizeof err);
    if (!s) fprintf(stderr, "  schema error: %s\n", err);
    return s;
}

ED_TEST(keyspec_parse_names_and_errors)
{
    eddy_schema *s = schema("word STRING, n INT, ts TIMESTAMP, d DOUBLE");
    ED_REQUIRE(s);
    ed_keyspec ks;
    ed_err e = {0};
    ED_CHECK_INT(ed_keyspec_parse(&ks, s, "ts", &e), 0);
    ED_CHECK_INT(ks.n, 1);
    ED_CHECK_INT(ks.idx[0], 2);
    ED_CHECK_INT(ks.type[0], EDDY_TIMESTAMP);
    ED_CHECK_INT(ed_keyspec_parse(&ks, s, "  n ,word\t", &e), 0);
    ED_CHECK_INT(ks.n, 2);
    ED_CHECK(ks.idx[0] == 1 && ks.idx[1] == 0);
    ED_CHECK(ks.type[0] == EDDY_INT && ks.type[1] == EDDY_STRING);

    ED_CHECK_INT(ed_keyspec_parse(&ks, s, "word, wrod", &e), -1);
    ED_CHECK_STR(e.msg, "key: unknown field 'wrod' (schema: word STRING, n INT, ts TIMESTAMP(3), "
                        "d DOUBLE)");
    ed_err_clear(&e);
    ED_CHECK_INT(ed_keyspec_parse(&ks, s, "word,,n", &e), -1);
    ED_CHECK_STR(e.msg, "key: empty field name in 'word,,n'");
    ed_err_clear(&e);
    ED_CHECK_INT(ed_keyspec_parse(&ks, s, "", &e), -1);
    ED_CHECK_STR(e.msg, "key: empty field name in ''");
    ed_err_clear(&e);
    ED_CHECK_INT(ed_keyspec_parse(&ks, s, "n, n", &e), -1);
    ED_CHECK_STR(e.msg, "key: field 'n' given twice");
    ed_err_clear(&e);
    ED_CHECK_INT(ed_keyspec_parse(&ks, s, "Word", &e), -1); /* names are case-sensitive */
    ed_err_clear(&e);

    ed_keyspec_all(&ks, s);
    ED_CHECK_INT(ks.n, 4);
    ED_CHECK(ks.idx[3] == 3 && ks.type[3] == EDDY_DOUBLE);
    eddy_schema_free(s);
}

ED_TEST(keyspec_limit_of_16_fields)
{
    ed_strbuf text, names;
    ed_sb_init(&text);
    ed_sb_init(&names);
    for (int i = 0; i < 17; i++) {
        ed_sb_printf(&text, "%sf%d INT", i ? ", " : "", i);
        ed_sb_printf(&names, "%sf%d", i ? "," : "", i);
    }
    eddy_schema *s = schema(text.data);
    ED_REQUIRE(s);
    ed_keyspec ks;
    ed_err e = {0};
    ED_CHECK_INT(ed_keyspec_parse(&ks, s, names.data, &e), -1);
    ED_CHECK_STR(e.msg, "key: more than 16 fields");
    eddy_schema_free(s);
    ed_sb_free(&text);
    ed_sb_free(&names);
}

ED_TEST(key_bytes_are_canonical)
{
    eddy_schema *s = schema("pad STRING, word STRING, n INT, d DOUBLE, b BOOLEAN");
    ED_REQUIRE(s);
    ed_keyspec ks;
    ed_err e = {0};
    ED_REQUIRE(ed_keyspec_parse(&ks, s, "word, n, d, b", &e) == 0);
    eddy_row_builder *x = eddy_rb_new_schema(s), *y = eddy_rb_new_schema(s);
    eddy_rb_set_cstr(x, 1, "ab");
    eddy_rb_set_i32(x, 2, -2);
    eddy_rb_set_f64(x, 3, 1.0);
    eddy_rb_set_bool(x, 4, true);
    /* y: same key values at other tail offsets */
    eddy_rb_set_cstr(y, 0, "a different, longer non-key value");
    eddy_rb_set_cstr(y, 1, "ab");
    eddy_rb_set_i32(y, 2, -2);
    eddy_rb_set_f64(y, 3, 1.0);
    eddy_rb_set_bool(y, 4, true);

    uint8_t kx[64], ky[64];
    size_t nx = ed_key_write(&ks, eddy_rb_row(x), kx, sizeof kx);
    size_t ny = ed_key_write(&ks, eddy_rb_row(y), ky, sizeof ky);
    const uint8_t want[] = {2,    0,    0,    0,    0,    0,    0,    0,    /* len(word) */
                            'a',  'b',  0,    0,    0,    0,    0,    0,    /* word */
                            0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* n = -2 */
                            0,    0,    0,    0,    0,    0,    0xf0, 0x3f, /* d = 1.0 */
                            1,    0,    0,    0,    0,    0,    0,    0};   /* b = true */
    ED_CHECK_INT(nx, sizeof want);
    ED_CHECK(!memcmp(kx, want, sizeof want));
    ED_CHECK_INT(ny, nx);
    ED_CHECK(!memcmp(kx, ky, nx));
    ED_CHECK_INT(ed_key_hash(kx, nx), ed_murmur3_32(want, sizeof want, 0));

    /* a small buffer: the needed length, nothing written */
    uint8_t small[4] = {9, 9, 9, 9};
    ED_CHECK_INT(ed_key_write(&ks, eddy_rb_row(x), small, sizeof small), sizeof want);
    ED_CHECK(small[0] == 9);

    /* NULL is a zero length plus the null-mask word; it differs from the empty string */
    eddy_rb_set_null(x, 1);
    eddy_rb_set_cstr(y, 1, "");
    nx = ed_key_write(&ks, eddy_rb_row(x), kx, sizeof kx);
    ny = ed_key_write(&ks, eddy_rb_row(y), ky, sizeof ky);
    ED_CHECK_INT(nx, sizeof want); /* one word less for the string, one more for the mask */
    ED_CHECK_INT(kx[nx - 8], 1);   /* key field 0 is NULL */
    ED_CHECK_INT(ny, sizeof want - 8);
    ED_CHECK(nx != ny || memcmp(kx, ky, nx));

    /* every NaN is one key; 0.0 and -0.0 are two keys, as Java's Double.equals */
    eddy_rb_set_cstr(x, 1, "ab");
    eddy_rb_set_cstr(y, 1, "ab");
    eddy_rb_set_f64(x, 3, __builtin_nan(""));
    eddy_rb_set_f64(y, 3, -__builtin_nan("0x123"));
    nx = ed_key_write(&ks, eddy_rb_row(x), kx, sizeof kx);
    ny = ed_key_write(&ks, eddy_rb_row(y), ky, sizeof ky);
    ED_CHECK(nx == ny && !memcmp(kx, ky, nx));
    eddy_rb_set_f64(x, 3, 0.0);
    eddy_rb_set_f64(y, 3, -0.0);
    nx = ed_key_write(&ks, eddy_rb_row(x), kx, sizeof kx);
    ny = ed_key_write(&ks, eddy_rb_row(y), ky, sizeof ky);
    ED_CHECK(nx == ny && memcmp(kx, ky, nx) != 0);

    eddy_rb_free(x);
    eddy_rb_free(y);
    eddy_schema_free(s);
}

ED_TEST(key_group_of_hash)
{
    ED_CHECK_INT(ed_key_group(0, 128), 0);
    ED_CHECK_INT(ed_key_group(129, 128), 1);
    ED_CHECK_INT(ed_key_group(0xffffffffu, 128), 127); /* unsigned: never negative */
    ED_CHECK_INT(ed_key_group(0x80000000u, 10), 0x80000000u % 10);
}

ED_TEST(key_group_ranges_match_flink)
{
    int first, last;
    /* Flink: KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(128, 3, i) */
    ed_key_group_range(0, 3, 128, &first, &last);
    ED_CHECK(first == 0 && last == 42);
    ed_key_group_range(1, 3, 128, &first, &last);
    ED_CHECK(first == 43 && last == 85);
    ed_key_group_range(2, 3, 128, &first, &last);
    ED_CHECK(first == 86 && last == 127);
    ed_key_group_range(0, 1, 1, &first, &last);
    ED_CHECK(first == 0 && last == 0);
    ED_CHECK_INT(ed_key_group_to_subtask(42, 128, 3), 0);
    ED_CHECK_INT(ed_key_group_to_subtask(43, 128, 3), 1);
    ED_CHECK_INT(ed_key_group_to_subtask(127, 128, 3), 2);
}

ED_TEST(key_group_ranges_partition_exhaustively)
{
    /* For every p <= m: ranges are contiguous, cover [0, m) exactly once, are non-empty,
     * and every key group in range i maps back to subtask i. */
    for (int p = 1; p <= 20; p++) {
        for (int m = p; m <= 200; m++) {
            int next = 0;
            for (int i = 0; i < p; i++) {
                int first, last;
                ed_key_group_range(i, p, m, &first, &last);
                if (first != next || last < first) {
                    ED_FAIL_AT("p=%d m=%d i=%d: range [%d, %d], expected to start at %d", p, m, i,
                               first, last, next);
                    return;
                }
                for (int k = first; k <= last; k++) {
                    if (ed_key_group_to_subtask(k, m, p) != i) {
                        ED_FAIL_AT("p=%d m=%d: key group %d in range of %d maps to %d", p, m, k, i,
                                   ed_key_group_to_subtask(k, m, p));
                        return;
                    }
                }
                next = last + 1;
            }
            if (next != m) {
                ED_FAIL_AT("p=%d m=%d: ranges end at %d", p, m, next);
                return;
            }
        }
    }
    /* the largest max-parallelism Flink allows */
    int first, last;
    ed_key_group_range(6, 7, 32768, &first, &last);
    ED_CHECK(last == 32767 && ed_key_group_to_subtask(first, 32768, 7) == 6 &&
             ed_key_group_to_subtask(first - 1, 32768, 7) == 5);
}

ED_TEST(key_bytes_decode_back_to_the_key_row)
{
    eddy_schema *s = schema("pad STRING, word STRING, n INT, d DOUBLE");
    ED_REQUIRE(s);
    ed_keyspec ks;
    ed_err e = {0};
    ED_REQUIRE(ed_keyspec_parse(&ks, s, "word, n, d", &e) == 0);
    eddy_schema *kschema = ed_keyspec_schema(&ks, s);
    ED_CHECK_STR(eddy_schema_text(kschema), "word STRING, n INT, d DOUBLE");
    eddy_row_builder *x = eddy_rb_new_schema(s), *k = eddy_rb_new_schema(kschema);
    eddy_rb_set_cstr(x, 0, "ignored");
    eddy_rb_set_cstr(x, 1, "hello, world");
    eddy_rb_set_null(x, 2);
    eddy_rb_set_f64(x, 3, 2.5);
    uint8_t buf[128];
    size_t n = ed_key_write(&ks, eddy_rb_row(x), buf, sizeof buf);
    ed_keyspec all;
    ed_keyspec_all(&all, kschema);
    ED_REQUIRE(ed_key_decode(&all, buf, n, k) == 0);
    ed_strbuf sb;
    ed_sb_init(&sb);
    ed_row_format_flink(kschema, eddy_rb_row(k), &sb);
    ED_CHECK_STR(sb.data, "+I[hello, world, null, 2.5]");
    ED_CHECK(ed_key_decode(&all, buf, n - 4, k) == -1); /* cut mid-word: not a key */
    ed_sb_free(&sb);
    eddy_rb_free(x);
    eddy_rb_free(k);
    eddy_schema_free(kschema);
    eddy_schema_free(s);
}
