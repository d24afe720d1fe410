/* row_test.c - schemas (parse, canonical text, errors) and the binary row builder. */
#include "types/types.h"

#include "ed_test.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static eddy_schema *parse_ok(const char *text)
{
    char err[256];
    eddy_schema *s = eddy_schema_parse(text, err, sizeof err);
    if (!s) fprintf(stderr, "  unexpected schema error: %s\n", err);
    return s;
}

static void check_schema_error(const char *text, const char *want, int line)
{
    char err[256];
    eddy_schema *s = eddy_schema_parse(text, err, sizeof err);
    if (s) {
        fprintf(stderr, "  row_test.c:%d: schema '%s' parsed, expected an error\n", line, text);
        ed_test_failed_now = 1;
        eddy_schema_free(s);
    } else if (strcmp(err, want) != 0) {
        fprintf(stderr, "  row_test.c:%d: error \"%s\", expected \"%s\"\n", line, err, want);
        ed_test_failed_now = 1;
    }
}
#define CHECK_SCHEMA_ERROR(text, want) check_schema_error(text, want, __LINE__)

ED_TEST(schema_parse_types_and_canonical_text)
{
    eddy_schema *s = parse_ok("word STRING, cnt BIGINT NOT NULL");
    ED_REQUIRE(s);
    ED_CHECK_INT(eddy_schema_arity(s), 2);
    ED_CHECK_STR(eddy_schema_name(s, 0), "word");
    ED_CHECK_INT(eddy_schema_type(s, 0), EDDY_STRING);
    ED_CHECK(eddy_schema_nullable(s, 0));
    ED_CHECK_INT(eddy_schema_type(s, 1), EDDY_BIGINT);
    ED_CHECK(!eddy_schema_nullable(s, 1));
    ED_CHECK_STR(eddy_schema_text(s), "word STRING, cnt BIGINT NOT NULL");
    ED_CHECK_INT(eddy_schema_index(s, "cnt"), 1);
    ED_CHECK_INT(eddy_schema_index(s, "CNT"), -1);
    ED_CHECK_INT(eddy_schema_index(s, "nope"), -1);
    eddy_schema_free(s);

    s = parse_ok("  a integer ,b varchar(20) not null,c VARCHAR, d timestamp, e TIMESTAMP( 3 ),"
                 "f double NULL, g Boolean, h bytes, i VARBINARY(4), j bool, k Int");
    ED_REQUIRE(s);
    ED_CHECK_STR(eddy_schema_text(s),
                 "a INT, b STRING NOT NULL, c STRING, d TIMESTAMP(3), e TIMESTAMP(3), "
                 "f DOUBLE, g BOOLEAN, h BYTES, i BYTES, j BOOLEAN, k INT");
    /* the canonical text parses back to itself */
    eddy_schema *again = parse_ok(eddy_schema_text(s));
    ED_REQUIRE(again);
    ED_CHECK_STR(eddy_schema_text(again), eddy_schema_text(s));
    eddy_schema_free(again);

    eddy_schema *copy = eddy_schema_copy(s);
    eddy_schema_free(s);
    ED_CHECK_STR(eddy_schema_text(copy), "a INT, b STRING NOT NULL, c STRING, d TIMESTAMP(3), "
                                         "e TIMESTAMP(3), f DOUBLE, g BOOLEAN, h BYTES, i BYTES, "
                                         "j BOOLEAN, k INT");
    ED_CHECK_STR(eddy_schema_name(copy, 10), "k");
    eddy_schema_free(copy);
    eddy_schema_free(NULL);
}

ED_TEST(schema_backquoted_names)
{
    eddy_schema *s = parse_ok("`my field` INT, `a``b` STRING, plain_1 BIGINT, `ok` INT");
    ED_REQUIRE(s);
    ED_CHECK_STR(eddy_schema_name(s, 0), "my field");
    ED_CHECK_STR(eddy_schema_name(s, 1), "a`b");
    ED_CHECK_STR(eddy_schema_text(s), "`my field` INT, `a``b` STRING, plain_1 BIGINT, ok INT");
    eddy_schema_free(s);
}

ED_TEST(schema_errors_name_position_and_word)
{
    CHECK_SCHEMA_ERROR("n INT, word STRNG",
                       "schema: position 13: unknown type 'STRNG' for field 'word'");
    CHECK_SCHEMA_ERROR("a INT, a BIGINT", "schema: position 8: duplicate field name 'a'");
    CHECK_SCHEMA_ERROR("", "schema: position 1: expected a field name, found end of input");
    CHECK_SCHEMA_ERROR("a INT,", "schema: position 7: expected a field name, found end of input");
    CHECK_SCHEMA_ERROR("a INT,, b INT", "schema: position 7: expected a field name, found ','");
    CHECK_SCHEMA_ERROR("a",
                       "schema: position 2: expected a type for field 'a', found end of input");
    CHECK_SCHEMA_ERROR("1a INT", "schema: position 1: expected a field name, found '1a'");
    CHECK_SCHEMA_ERROR("t TIMESTAMP(6)",
                       "schema: position 3: TIMESTAMP(6) for field 't' is not supported: only "
                       "TIMESTAMP(3)");
    CHECK_SCHEMA_ERROR("t TIMESTAMP(3", "schema: position 12: malformed '(...)' after type "
                                        "TIMESTAMP of field 't'");
    CHECK_SCHEMA_ERROR("n INT(3)", "schema: position 6: type INT of field 'n' takes no length");
    CHECK_SCHEMA_ERROR("s VARCHAR(0)", "schema: position 10: length of field 's' must be at "
                                       "least 1");
    CHECK_SCHEMA_ERROR("a INT NOT", "schema: position 10: expected NULL after NOT, found end of "
                                    "input");
    CHECK_SCHEMA_ERROR("a INT b INT",
                       "schema: position 7: expected ',' or end of input after field 'a', "
                       "found 'b'");
    CHECK_SCHEMA_ERROR("`open INT", "schema: position 1: unterminated quoted field name");
    CHECK_SCHEMA_ERROR("`` INT", "schema: position 1: empty field name");
    /* a small error buffer truncates but stays terminated */
    char tiny[12];
    ED_CHECK(eddy_schema_parse("x NOPE", tiny, sizeof tiny) == NULL);
    ED_CHECK_STR(tiny, "schema: pos");
}

ED_TEST(type_names)
{
    ED_CHECK_STR(eddy_type_name(EDDY_BOOLEAN), "BOOLEAN");
    ED_CHECK_STR(eddy_type_name(EDDY_INT), "INT");
    ED_CHECK_STR(eddy_type_name(EDDY_BIGINT), "BIGINT");
    ED_CHECK_STR(eddy_type_name(EDDY_DOUBLE), "DOUBLE");
    ED_CHECK_STR(eddy_type_name(EDDY_STRING), "STRING");
    ED_CHECK_STR(eddy_type_name(EDDY_BYTES), "BYTES");
    ED_CHECK_STR(eddy_type_name(EDDY_TIMESTAMP), "TIMESTAMP(3)");
    ED_CHECK_STR(eddy_type_name((eddy_type)99), "UNKNOWN");
}

ED_TEST(builder_reset_is_all_null_insert)
{
    eddy_row_builder *b = eddy_rb_new(3);
    ED_CHECK_INT(eddy_rb_arity(b), 3);
    const eddy_row *r = eddy_rb_row(b);
    ED_CHECK(((uintptr_t)r & 7) == 0);
    ED_CHECK_INT(eddy_row_size(r), eddy_row_fixed_size(3));
    ED_CHECK_INT(eddy_row_size(r), 8 + 8 + 24);
    ED_CHECK_INT(eddy_row_arity(r), 3);
    ED_CHECK_INT(eddy_row_get_kind(r), EDDY_INSERT);
    for (uint32_t i = 0; i < 3; i++) {
        ED_CHECK(eddy_row_is_null(r, i));
        ED_CHECK_INT(eddy_row_slot(r, i), 0);
    }
    ED_CHECK_INT(eddy_row__nulls(r)[0], 7); /* no bits beyond the arity */
    eddy_rb_set_kind(b, EDDY_DELETE);
    eddy_rb_set_i64(b, 1, 5);
    eddy_rb_set_cstr(b, 2, "x");
    eddy_rb_reset(b);
    r = eddy_rb_row(b);
    ED_CHECK_INT(eddy_row_get_kind(r), EDDY_INSERT);
    ED_CHECK(eddy_row_is_null(r, 1) && eddy_row_slot(r, 1) == 0);
    ED_CHECK_INT(eddy_row_size(r), 40);
    ED_CHECK_INT(ed_row_validate(r, eddy_row_size(r), NULL), 0);
    eddy_rb_free(b);
    eddy_rb_free(NULL);
}

ED_TEST(builder_setters_and_accessors)
{
    eddy_row_builder *b = eddy_rb_new(7);
    eddy_rb_set_kind(b, EDDY_UPDATE_AFTER);
    eddy_rb_set_bool(b, 0, true);
    eddy_rb_set_i32(b, 1, -7);
    eddy_rb_set_i64(b, 2, INT64_MIN);
    eddy_rb_set_f64(b, 3, 0.1);
    ED_CHECK_INT(eddy_rb_set_str(b, 4, "hello", 5), 0);
    ED_CHECK_INT(eddy_rb_set_cstr(b, 5, ""), 0);
    eddy_rb_set_i64(b, 6, 1764071273123LL);
    const eddy_row *r = eddy_rb_row(b);
    ED_CHECK_INT(eddy_row_get_kind(r), EDDY_UPDATE_AFTER);
    ED_CHECK(eddy_row_bool(r, 0));
    ED_CHECK_INT(eddy_row_i32(r, 1), -7);
    ED_CHECK_INT(eddy_row_i64(r, 1), -7); /* INT is sign-extended in its slot */
    ED_CHECK(eddy_row_i64(r, 2) == INT64_MIN);
    ED_CHECK(eddy_row_f64(r, 3) == 0.1);
    eddy_str s = eddy_row_str(r, 4);
    ED_CHECK_INT(s.len, 5);
    ED_CHECK(!memcmp(s.ptr, "hello", 5));
    ED_CHECK_INT(eddy_row_slot(r, 4) >> 32, eddy_row_fixed_size(7));
    ED_CHECK_INT(eddy_row_str(r, 5).len, 0);
    ED_CHECK(!eddy_row_is_null(r, 5));
    ED_CHECK_INT(eddy_row_i64(r, 6), 1764071273123LL);
    for (uint32_t i = 0; i < 7; i++)
        ED_CHECK(!eddy_row_is_null(r, i));
    /* size: fixed part + "hello" padded to 8; a multiple of 8 */
    ED_CHECK_INT(eddy_row_size(r), eddy_row_fixed_size(7) + 8);
    ED_CHECK_INT(eddy_row_size(r) % 8, 0);
    ED_CHECK_INT(ed_row_bytes(7, 5), eddy_row_size(r));
    /* padding bytes are zero */
    const uint8_t *pad = (const uint8_t *)r + (eddy_row_slot(r, 4) >> 32) + 5;
    ED_CHECK(pad[0] == 0 && pad[1] == 0 && pad[2] == 0);
    /* set_null clears the slot */
    eddy_rb_set_null(b, 2);
    r = eddy_rb_row(b);
    ED_CHECK(eddy_row_is_null(r, 2));
    ED_CHECK_INT(eddy_row_i64(r, 2), 0);
    eddy_rb_free(b);
}

ED_TEST(builder_many_fields_null_words)
{
    eddy_row_builder *b = eddy_rb_new(130);
    const eddy_row *r = eddy_rb_row(b);
    ED_CHECK_INT(eddy_row_nullwords(130), 3);
    ED_CHECK(eddy_row__nulls(r)[0] == ~0ULL && eddy_row__nulls(r)[1] == ~0ULL);
    ED_CHECK_INT(eddy_row__nulls(r)[2], 3);
    eddy_rb_set_i64(b, 64, 1);
    eddy_rb_set_i64(b, 129, 2);
    r = eddy_rb_row(b);
    ED_CHECK(!eddy_row_is_null(r, 64) && !eddy_row_is_null(r, 129) && eddy_row_is_null(r, 65));
    ED_CHECK_INT(eddy_row_i64(r, 129), 2);
    ED_CHECK_INT(ed_row_validate(r, eddy_row_size(r), NULL), 0);
    eddy_rb_free(b);
    b = eddy_rb_new(64);
    ED_CHECK(eddy_row__nulls(eddy_rb_row(b))[0] == ~0ULL);
    eddy_rb_free(b);
    b = eddy_rb_new(0);
    ED_CHECK_INT(eddy_row_size(eddy_rb_row(b)), 8);
    eddy_rb_free(b);
}

ED_TEST(builder_grows_then_stops_allocating)
{
    eddy_row_builder *b = eddy_rb_new(2);
    char big[5000];
    memset(big, 'a', sizeof big);
    ED_CHECK_INT(eddy_rb_set_str(b, 0, big, sizeof big), 0);
    ED_CHECK(b->cap >= 5000 + eddy_row_fixed_size(2));
    uint8_t *buf = b->buf;
    uint32_t cap = b->cap;
    for (int n = 0; n < 1000; n++) {
        eddy_rb_reset(b);
        eddy_rb_set_i64(b, 1, n);
        ED_CHECK_INT(eddy_rb_set_str(b, 0, big, (uint32_t)(n % 5000)), 0);
        const eddy_row *r = eddy_rb_row(b);
        ED_CHECK_INT(eddy_row_str(r, 0).len, n % 5000);
    }
    ED_CHECK(b->buf == buf && b->cap == cap);
    eddy_rb_free(b);
}

ED_TEST(builder_set_str_from_its_own_row_survives_growth)
{
    eddy_row_builder *b = eddy_rb_new(2);
    ED_CHECK_INT(eddy_rb_set_cstr(b, 0, "0123456789012345678901234567890123456789012345678"), 0);
    for (int k = 0; k < 6; k++) {
        /* append field 0 to itself through field 1 repeatedly: p points into b's buffer
         * while the buffer grows */
        eddy_str v = eddy_row_str(eddy_rb_row(b), 0);
        ED_CHECK_INT(eddy_rb_set_str(b, 1, v.ptr, v.len), 0);
        eddy_str w = eddy_row_str(eddy_rb_row(b), 1);
        ED_CHECK_INT(w.len, 49);
        ED_CHECK(!memcmp(w.ptr, "0123456789012345678901234567890123456789012345678", 49));
    }
    eddy_rb_free(b);
}

ED_TEST(builder_row_limit)
{
    eddy_row_builder *b = eddy_rb_new(1);
    ED_CHECK_INT(eddy_rb_set_str(b, 0, "x", EDDY_ROW_MAX_SIZE), -1); /* length checked first */
    ED_CHECK(eddy_row_is_null(eddy_rb_row(b), 0));
    ED_CHECK(ed_rb_reserve_str(b, 0, UINT32_MAX) == NULL);
    eddy_rb_free(b);
}

ED_TEST(builder_reserve_and_trim)
{
    eddy_row_builder *b = eddy_rb_new(2);
    char *p = ed_rb_reserve_str(b, 1, 20);
    ED_REQUIRE(p);
    memcpy(p, "abcdefghijklmnopqrst", 20);
    ed_rb_trim_last(b, 1, 9);
    const eddy_row *r = eddy_rb_row(b);
    ED_CHECK_INT(eddy_row_size(r), eddy_row_fixed_size(2) + 16);
    eddy_str v = eddy_row_str(r, 1);
    ED_CHECK_INT(v.len, 9);
    ED_CHECK(!memcmp(v.ptr, "abcdefghi", 9));
    ED_CHECK(((const uint8_t *)v.ptr)[9] == 0 && ((const uint8_t *)v.ptr)[15] == 0);
    eddy_rb_free(b);
}

ED_TEST(builder_copy_and_set_field)
{
    char err[128];
    eddy_schema *s = eddy_schema_parse("a STRING, b BIGINT, c DOUBLE, d STRING", err, sizeof err);
    ED_REQUIRE(s);
    eddy_row_builder *src = eddy_rb_new_schema(s);
    eddy_rb_set_kind(src, EDDY_UPDATE_BEFORE);
    eddy_rb_set_cstr(src, 0, "first value");
    eddy_rb_set_i64(src, 1, 99);
    eddy_rb_set_f64(src, 2, 2.5);
    const eddy_row *r = eddy_rb_row(src);

    eddy_row_builder *dst = eddy_rb_new_schema(s);
    ED_CHECK_INT(eddy_rb_copy(dst, r), 0);
    const eddy_row *c = eddy_rb_row(dst);
    ED_CHECK_INT(eddy_row_size(c), eddy_row_size(r));
    ED_CHECK(!memcmp(c, r, eddy_row_size(r)));
    ED_CHECK(ed_row_equal_schema(s, c, r));
    /* the copy keeps building: a setter after copy appends to the tail */
    ED_CHECK_INT(eddy_rb_set_cstr(dst, 3, "more"), 0);
    c = eddy_rb_row(dst);
    ED_CHECK_INT(eddy_row_str(c, 3).len, 4);
    ED_CHECK(!memcmp(eddy_row_str(c, 0).ptr, "first value", 11));

    /* set_field: a permutation, NULL included, into a fresh builder */
    eddy_rb_reset(dst);
    ED_CHECK_INT(eddy_rb_set_field(dst, 3, r, 0), 0);
    ED_CHECK_INT(eddy_rb_set_field(dst, 1, r, 1), 0);
    ED_CHECK_INT(eddy_rb_set_field(dst, 2, r, 2), 0);
    ED_CHECK_INT(eddy_rb_set_field(dst, 0, r, 3), 0); /* NULL */
    c = eddy_rb_row(dst);
    ED_CHECK(eddy_row_is_null(c, 0));
    ED_CHECK_INT(eddy_row_i64(c, 1), 99);
    ED_CHECK(eddy_row_f64(c, 2) == 2.5);
    eddy_str v = eddy_row_str(c, 3);
    ED_CHECK(v.len == 11 && !memcmp(v.ptr, "first value", 11));
    ED_CHECK_INT(ed_row_validate_schema(s, c, eddy_row_size(c), NULL), 0);

    eddy_row_builder *other = eddy_rb_new(3);
    ED_CHECK_INT(eddy_rb_copy(other, r), -1); /* arity differs */
    eddy_rb_free(other);
    eddy_rb_free(dst);
    eddy_rb_free(src);
    eddy_schema_free(s);
}

ED_TEST(row_equal_compares_values_not_layout)
{
    char err[128];
    eddy_schema *s = eddy_schema_parse("a STRING, b STRING, n INT, d DOUBLE", err, sizeof err);
    ED_REQUIRE(s);
    eddy_row_builder *x = eddy_rb_new_schema(s), *y = eddy_rb_new_schema(s);
    eddy_rb_set_cstr(x, 0, "alpha");
    eddy_rb_set_cstr(x, 1, "beta");
    eddy_rb_set_i32(x, 2, 3);
    eddy_rb_set_f64(x, 3, __builtin_nan(""));
    /* same values, tail in the other order */
    eddy_rb_set_cstr(y, 1, "beta");
    eddy_rb_set_cstr(y, 0, "alpha");
    eddy_rb_set_i32(y, 2, 3);
    eddy_rb_set_f64(y, 3, -__builtin_nan(""));
    const eddy_row *a = eddy_rb_row(x), *b = eddy_rb_row(y);
    ED_CHECK(memcmp(a, b, eddy_row_size(a)) != 0);
    ED_CHECK(ed_row_equal_schema(s, a, b)); /* NaN equals NaN, as Double.equals */
    eddy_rb_set_f64(x, 3, 0.0);
    eddy_rb_set_f64(y, 3, 0.0);
    ED_CHECK(ed_row_equal(a, b));
    eddy_rb_set_f64(y, 3, -0.0);
    ED_CHECK(!ed_row_equal_schema(s, a, b)); /* 0.0 and -0.0 differ, as Double.equals */
    eddy_rb_set_f64(y, 3, 0.0);
    eddy_rb_set_cstr(y, 1, "betb");
    ED_CHECK(!ed_row_equal_schema(s, a, b));
    ED_CHECK(!ed_row_equal(a, b));
    eddy_rb_set_cstr(y, 1, "beta");
    eddy_rb_set_kind(y, EDDY_DELETE);
    ED_CHECK(!ed_row_equal_schema(s, a, b));
    eddy_rb_set_kind(y, EDDY_INSERT);
    eddy_rb_set_null(y, 2);
    ED_CHECK(!ed_row_equal_schema(s, a, b));
    ED_CHECK(!ed_row_equal(a, b));
    eddy_rb_free(x);
    eddy_rb_free(y);
    eddy_schema_free(s);
}

ED_TEST(row_validate_rejects_malformed_rows)
{
    char e1[128];
    eddy_schema *s = eddy_schema_parse("s STRING, n INT NOT NULL, f BOOLEAN", e1, sizeof e1);
    ED_REQUIRE(s);
    eddy_row_builder *b = eddy_rb_new_schema(s);
    eddy_rb_set_cstr(b, 0, "abc");
    eddy_rb_set_i32(b, 1, -1);
    eddy_rb_set_bool(b, 2, true);
    const eddy_row *r = eddy_rb_row(b);
    uint32_t n = eddy_row_size(r);
    ED_CHECK_INT(ed_row_validate(r, n, NULL), 0);
    ED_CHECK_INT(ed_row_validate_schema(s, r, n, NULL), 0);

    _Alignas(8) uint8_t buf[128];
    ed_err err = {0};
#define CORRUPT(stmt, len, want, schema_only)                                                      \
    do {                                                                                           \
        memcpy(buf, r, n);                                                                         \
        stmt;                                                                                      \
        ed_err_clear(&err);                                                                        \
        int rc_ = (schema_only) ? ed_row_validate_schema(s, buf, len, &err)                        \
                                : ed_row_validate(buf, len, &err);                                 \
        ED_CHECK_INT(rc_, -1);                                                                     \
        ED_CHECK_STR(err.msg, want);                                                               \
    } while (0)
    CORRUPT((void)0, 4, "row: 4 bytes, shorter than a header", 0);
    CORRUPT((void)0, n - 8, "row: size field says 48 bytes, have 40", 0);
    CORRUPT((buf[0] = 57), 57, "row: size 57 is not a multiple of 8", 0);
    CORRUPT((buf[4] = 4), n, "row: invalid kind 4", 0);
    CORRUPT((buf[5] = 1), n, "row: reserved byte is 1, not 0", 0);
    CORRUPT((buf[6] = 9), n, "row: 9 fields need 88 bytes, row has 48", 0);
    CORRUPT((buf[8] |= 0x10), n, "row: null bits set beyond arity 3", 0);
    /* the schema-aware checks */
    CORRUPT((buf[16 + 4] = 60), n,
            "row: field 1 (s): value at offset 60 length 3 lies outside the tail [40, 48)", 1);
    CORRUPT((buf[16] = 200), n,
            "row: field 1 (s): value at offset 40 length 200 lies outside the tail [40, 48)", 1);
    CORRUPT((buf[16 + 4] = 8), n,
            "row: field 1 (s): value at offset 8 length 3 lies outside the tail [40, 48)", 1);
    CORRUPT((buf[32] = 2), n, "row: field 3 (f): BOOLEAN slot is not 0 or 1", 1);
    CORRUPT((buf[24 + 4] = 0), n, "row: field 2 (n): INT slot is not sign-extended", 1);
    CORRUPT((buf[8] |= 2), n, "row: field 2 (n): NULL in a NOT NULL field", 1);
    CORRUPT((buf[8] |= 4), n, "row: field 3 (f): NULL with a non-zero slot", 1);
#undef CORRUPT
    eddy_schema *one = eddy_schema_parse("x INT", e1, sizeof e1);
    ED_REQUIRE(one);
    ed_err_clear(&err);
    ED_CHECK_INT(ed_row_validate_schema(one, r, n, &err), -1);
    ED_CHECK_STR(err.msg, "row: 3 fields, schema has 1");
    eddy_schema_free(one);
    eddy_rb_free(b);
    eddy_schema_free(s);
}

ED_TEST(set_field_without_types_aborts_loudly)
{
    /* A row does not know its types: eddy_rb_set_field on a builder from eddy_rb_new
     * must stop with a message rather than guess string-or-number. */
    fflush(NULL);
    pid_t pid = fork();
    ED_REQUIRE(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) dup2(fd, 2);
        eddy_row_builder *b = eddy_rb_new(1), *src = eddy_rb_new(1);
        eddy_rb_set_i64(src, 0, 1);
        eddy_rb_set_field(b, 0, eddy_rb_row(src), 0);
        _exit(0);
    }
    int status = 0;
    ED_REQUIRE(waitpid(pid, &status, 0) == pid);
    ED_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}
