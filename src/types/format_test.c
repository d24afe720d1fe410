/* format_test.c - Flink's Row.toString, CSV both ways, doubles as Java prints them and
 * timestamps. */
#include "types/types.h"

#include "ed_test.h"

#include <math.h>

static eddy_schema *schema(const char *text)
{
    char err[256];
    eddy_schema *s = eddy_schema_parse(text, err, sizeof err);
    if (!s) fprintf(stderr, "  schema error: %s\n", err);
    return s;
}

/* Formats one DOUBLE the way ed_row_format_flink does, into a static buffer. */
static const char *java_double(double d)
{
    static char out[64];
    eddy_schema *s = schema("d DOUBLE");
    eddy_row_builder *b = eddy_rb_new_schema(s);
    eddy_rb_set_f64(b, 0, d);
    ed_strbuf sb;
    ed_sb_init(&sb);
    ed_value_format(EDDY_DOUBLE, eddy_rb_row(b), 0, &sb);
    snprintf(out, sizeof out, "%s", sb.data);
    ed_sb_free(&sb);
    eddy_rb_free(b);
    eddy_schema_free(s);
    return out;
}

ED_TEST(doubles_print_as_java_double_tostring)
{
    ED_CHECK_STR(java_double(1.0), "1.0");
    ED_CHECK_STR(java_double(0.5), "0.5");
    ED_CHECK_STR(java_double(123.456), "123.456");
    ED_CHECK_STR(java_double(1e10), "1.0E10");
    ED_CHECK_STR(java_double(1e-5), "1.0E-5");
    ED_CHECK_STR(java_double(NAN), "NaN");
    ED_CHECK_STR(java_double(INFINITY), "Infinity");
    ED_CHECK_STR(java_double(-INFINITY), "-Infinity");
    ED_CHECK_STR(java_double(0.0), "0.0");
    ED_CHECK_STR(java_double(-0.0), "-0.0");
    ED_CHECK_STR(java_double(0.1), "0.1");
    ED_CHECK_STR(java_double(-2.5), "-2.5");
    ED_CHECK_STR(java_double(100.0), "100.0");
    ED_CHECK_STR(java_double(0.001), "0.001");
    ED_CHECK_STR(java_double(0.00123), "0.00123");
    ED_CHECK_STR(java_double(1e-4), "1.0E-4");
    ED_CHECK_STR(java_double(9999999.0), "9999999.0");
    ED_CHECK_STR(java_double(1e7), "1.0E7");
    ED_CHECK_STR(java_double(12345678.0), "1.2345678E7");
    ED_CHECK_STR(java_double(123456789012.0), "1.23456789012E11");
    ED_CHECK_STR(java_double(0.1 + 0.2), "0.30000000000000004");
    ED_CHECK_STR(java_double(1.0 / 3), "0.3333333333333333");
    ED_CHECK_STR(java_double(2.0 / 3), "0.6666666666666666");
    ED_CHECK_STR(java_double(1.7976931348623157e308), "1.7976931348623157E308");
    ED_CHECK_STR(java_double(4.9e-324), "4.9E-324");
    ED_CHECK_STR(java_double(2.2250738585072014E-308), "2.2250738585072014E-308");
    ED_CHECK_STR(java_double(-1.5e300), "-1.5E300");
    ED_CHECK_STR(java_double(1e21), "1.0E21");
    ED_CHECK_STR(java_double(1e-7), "1.0E-7");
    ED_CHECK_STR(java_double(1234567.125), "1234567.125");
}

ED_TEST(doubles_round_trip_through_text)
{
    /* every printed double parses back to the same bits */
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        memcpy(&d, &x, 8);
        if (isnan(d)) continue;
        const char *t = java_double(d);
        double back;
        if (ed_parse_f64(t, &back) || memcmp(&back, &d, 8)) {
            ED_FAIL_AT("%.17g printed as %s, read back differently", d, t);
            return;
        }
    }
}

ED_TEST(row_format_flink_matches_row_tostring)
{
    eddy_schema *s = schema("word STRING, cnt BIGINT, n INT, ok BOOLEAN, d DOUBLE, ts TIMESTAMP, "
                            "raw BYTES");
    ED_REQUIRE(s);
    eddy_row_builder *b = eddy_rb_new_schema(s);
    eddy_rb_set_cstr(b, 0, "hello");
    eddy_rb_set_i64(b, 1, 3);
    eddy_rb_set_i32(b, 2, -42);
    eddy_rb_set_bool(b, 3, true);
    eddy_rb_set_f64(b, 4, 1.0);
    eddy_rb_set_i64(b, 5, 1795606873123LL);
    eddy_rb_set_str(b, 6, "\x0a\x1b\xff", 3);
    ed_strbuf sb;
    ed_sb_init(&sb);
    ed_row_format_flink(s, eddy_rb_row(b), &sb);
    ED_CHECK_STR(sb.data, "+I[hello, 3, -42, true, 1.0, 2026-11-25T11:41:13.123, x'0a1bff']");

    eddy_rb_reset(b);
    eddy_rb_set_kind(b, EDDY_UPDATE_BEFORE);
    eddy_rb_set_cstr(b, 0, "");
    eddy_rb_set_bool(b, 3, false);
    eddy_rb_set_i64(b, 5, 1795606860000LL);
    eddy_rb_set_str(b, 6, "", 0);
    ed_sb_reset(&sb);
    ed_row_format_flink(s, eddy_rb_row(b), &sb);
    ED_CHECK_STR(sb.data, "-U[, null, null, false, null, 2026-11-25T11:41, x'']");

    const char *kinds[] = {"+I[", "-U[", "+U[", "-D["};
    for (int k = 0; k < 4; k++) {
        eddy_rb_set_kind(b, (eddy_row_kind)k);
        ed_sb_reset(&sb);
        ed_row_format_flink(s, eddy_rb_row(b), &sb);
        ED_CHECK(!strncmp(sb.data, kinds[k], 3));
    }
    ed_sb_free(&sb);
    eddy_rb_free(b);
    eddy_schema_free(s);
}

static const char *flink_ts(int64_t ms)
{
    static char out[64];
    eddy_schema *s = schema("t TIMESTAMP");
    eddy_row_builder *b = eddy_rb_new_schema(s);
    eddy_rb_set_i64(b, 0, ms);
    ed_strbuf sb;
    ed_sb_init(&sb);
    ed_row_format_flink(s, eddy_rb_row(b), &sb);
    snprintf(out, sizeof out, "%s", sb.data);
    ed_sb_free(&sb);
    eddy_rb_free(b);
    eddy_schema_free(s);
    return out;
}

ED_TEST(timestamps_as_local_date_time_tostring)
{
    ED_CHECK_STR(flink_ts(1795606873123LL), "+I[2026-11-25T11:41:13.123]");
    ED_CHECK_STR(flink_ts(1795606873000LL), "+I[2026-11-25T11:41:13]");
    ED_CHECK_STR(flink_ts(1795606860000LL), "+I[2026-11-25T11:41]");
    ED_CHECK_STR(flink_ts(1795606860100LL), "+I[2026-11-25T11:41:00.100]");
    ED_CHECK_STR(flink_ts(0), "+I[1970-01-01T00:00]");
    ED_CHECK_STR(flink_ts(-1), "+I[1969-12-31T23:59:59.999]");
    ED_CHECK_STR(flink_ts(951825600500LL), "+I[2000-02-29T12:00:00.500]");
    ED_CHECK_STR(flink_ts(-62135596800000LL), "+I[0001-01-01T00:00]");
    ED_CHECK_STR(flink_ts(-62167219200000LL), "+I[0000-01-01T00:00]");
    ED_CHECK_STR(flink_ts(-62167219200001LL), "+I[-0001-12-31T23:59:59.999]");
    ED_CHECK_STR(flink_ts(253402300799999LL), "+I[9999-12-31T23:59:59.999]");
    ED_CHECK_STR(flink_ts(253402300800000LL), "+I[+10000-01-01T00:00]");
}

ED_TEST(timestamp_text_both_ways)
{
    ed_strbuf sb;
    ed_sb_init(&sb);
    ed_format_timestamp_ms(1795606873123LL, &sb);
    ED_CHECK_STR(sb.data, "2026-11-25 11:41:13.123");
    ed_sb_reset(&sb);
    ed_format_timestamp_ms(0, &sb);
    ED_CHECK_STR(sb.data, "1970-01-01 00:00:00.000");
    ed_sb_reset(&sb);
    ed_format_timestamp_ms(-1, &sb);
    ED_CHECK_STR(sb.data, "1969-12-31 23:59:59.999");
    ed_sb_free(&sb);

    struct {
        const char *text;
        int64_t ms;
    } ok[] = {
        {"2026-11-25 11:41:13.123", 1795606873123LL},
        {"2026-11-25T11:41:13.123", 1795606873123LL},
        {"2026-11-25T11:41:13", 1795606873000LL},
        {"2026-11-25T11:41", 1795606860000LL},
        {"2026-11-25 11:41:13.1", 1795606873100LL},
        {"2026-11-25 11:41:13.123999", 1795606873123LL}, /* cut to milliseconds */
        {"2000-02-29 12:00:00.5", 951825600500LL},
        {"1969-12-31 23:59:59.999", -1},
        {"0001-01-01 00:00:00", -62135596800000LL},
        {"-0001-12-31T23:59:59.999", -62167219200001LL},
        {"+10000-01-01T00:00", 253402300800000LL},
        {"1795606873123", 1795606873123LL},
        {"-5", -5},
    };
    for (size_t i = 0; i < ED_ARRAY_LEN(ok); i++) {
        int64_t v = 0;
        int rc = ed_parse_timestamp_ms(ok[i].text, strlen(ok[i].text), &v);
        if (rc || v != ok[i].ms)
            ED_FAIL_AT("'%s' parsed as %" PRId64 " (rc %d), expected %" PRId64, ok[i].text, v, rc,
                       ok[i].ms);
    }
    const char *bad[] = {"",
                         "2026-11-25",
                         "2026-13-01 00:00:00",
                         "2026-02-29 00:00:00",
                         "2026-11-31 00:00:00",
                         "2026-11-25 24:00:00",
                         "2026-11-25 11:60:00",
                         "2026-11-25 11:41:60",
                         "2026-11-25 11:41:13.",
                         "2026-11-25 11:41:13.1234567890",
                         "2026-11-25x11:41:13",
                         "26-11-25 11:41:13",
                         "2026-11-25 11:41:13Z",
                         "2026/11/25 11:41:13",
                         "abc",
                         "2026-11-25 1:41:13"};
    for (size_t i = 0; i < ED_ARRAY_LEN(bad); i++) {
        int64_t v;
        if (ed_parse_timestamp_ms(bad[i], strlen(bad[i]), &v) == 0)
            ED_FAIL_AT("'%s' parsed, expected an error", bad[i]);
    }
    /* every day for ±2000 years round-trips through text */
    for (int64_t d = -730000; d <= 730000; d += 7) {
        int64_t ms = d * 86400000 + 12345, back;
        ed_strbuf t;
        ed_sb_init(&t);
        ed_format_timestamp_ms(ms, &t);
        int rc = ed_parse_timestamp_ms(t.data, t.len, &back);
        if (rc || back != ms) {
            ED_FAIL_AT("%" PRId64 " -> %s -> %" PRId64, ms, t.data, back);
            ed_sb_free(&t);
            return;
        }
        ed_sb_free(&t);
    }
}

ED_TEST(csv_format_quotes_only_when_needed)
{
    eddy_schema *s = schema("a STRING, b INT, c DOUBLE, d TIMESTAMP, e BOOLEAN, f BYTES");
    ED_REQUIRE(s);
    eddy_row_builder *b = eddy_rb_new_schema(s);
    ed_strbuf sb;
    ed_sb_init(&sb);

    eddy_rb_set_cstr(b, 0, "plain text");
    eddy_rb_set_i32(b, 1, 7);
    eddy_rb_set_f64(b, 2, 1e10);
    eddy_rb_set_i64(b, 3, 1795606873123LL);
    eddy_rb_set_bool(b, 4, false);
    eddy_rb_set_str(b, 5, "hello", 5);
    ed_row_format_csv(s, eddy_rb_row(b), ',', &sb);
    ED_CHECK_STR(sb.data, "plain text,7,1.0E10,2026-11-25 11:41:13.123,false,aGVsbG8=");

    eddy_rb_reset(b);
    eddy_rb_set_cstr(b, 0, "say \"hi\", then go");
    ed_sb_reset(&sb);
    ed_row_format_csv(s, eddy_rb_row(b), ',', &sb);
    ED_CHECK_STR(sb.data, "\"say \"\"hi\"\", then go\",,,,,");

    eddy_rb_set_cstr(b, 0, "two\nlines\r");
    eddy_rb_set_str(b, 5, "", 0);
    ed_sb_reset(&sb);
    ed_row_format_csv(s, eddy_rb_row(b), ',', &sb);
    ED_CHECK_STR(sb.data, "\"two\nlines\r\",,,,,\"\"");

    /* the empty string is "" so that it stays apart from NULL */
    eddy_rb_reset(b);
    eddy_rb_set_cstr(b, 0, "");
    eddy_rb_set_i32(b, 1, -1);
    ed_sb_reset(&sb);
    ed_row_format_csv(s, eddy_rb_row(b), ',', &sb);
    ED_CHECK_STR(sb.data, "\"\",-1,,,,");

    /* any field holding the delimiter is quoted, numbers and timestamps included */
    eddy_rb_reset(b);
    eddy_rb_set_cstr(b, 0, "a,b");
    eddy_rb_set_i64(b, 3, 1795606873123LL);
    eddy_rb_set_f64(b, 2, 0.5);
    ed_sb_reset(&sb);
    ed_row_format_csv(s, eddy_rb_row(b), ':', &sb);
    ED_CHECK_STR(sb.data, "a,b::0.5:\"2026-11-25 11:41:13.123\"::");
    ed_sb_reset(&sb);
    ed_row_format_csv(s, eddy_rb_row(b), '.', &sb);
    ED_CHECK_STR(sb.data, "a,b..\"0.5\".\"2026-11-25 11:41:13.123\"..");

    ed_sb_free(&sb);
    eddy_rb_free(b);
    eddy_schema_free(s);
}

/* Parses line with schema s; on success formats the row back as CSV into out. */
static int parse(const eddy_schema *s, const char *line, ed_err *e, ed_strbuf *out)
{
    eddy_row_builder *b = eddy_rb_new_schema(s);
    ed_err_clear(e);
    int rc = ed_csv_parse_line(line, strlen(line), s, ',', b, e);
    ed_sb_reset(out);
    if (rc == 0) {
        ed_err v = {0};
        if (ed_row_validate_schema(s, eddy_rb_row(b), eddy_row_size(eddy_rb_row(b)), &v))
            ed_sb_printf(out, "(invalid row: %s)", v.msg);
        else
            ed_row_format_csv(s, eddy_rb_row(b), ',', out);
    }
    eddy_rb_free(b);
    return rc;
}

ED_TEST(csv_parse_values_and_round_trip)
{
    eddy_schema *s =
        schema("name STRING, n INT, price DOUBLE, ts TIMESTAMP, ok BOOLEAN, raw BYTES");
    ED_REQUIRE(s);
    ed_err e = {0};
    ed_strbuf out;
    ed_sb_init(&out);

    const char *same[] = {
        "apple,3,1.5,2026-11-25 11:41:13.123,true,aGVsbG8=",
        "\"a,b\",-2147483648,-0.0,1970-01-01 00:00:00.000,false,",
        "\"say \"\"hi\"\"\",2147483647,1.0E-5,,,\"\"",
        ",,,,,",
        "\"\",0,NaN,,TRUE,AA==",
        "\"multi\"\"\"\"quote\",1,Infinity,,,",
        "h\xc3\xa9llo \xe2\x82\xac,1,2.0,,,",
    };
    const char *back[] = {
        "apple,3,1.5,2026-11-25 11:41:13.123,true,aGVsbG8=",
        "\"a,b\",-2147483648,-0.0,1970-01-01 00:00:00.000,false,",
        "\"say \"\"hi\"\"\",2147483647,1.0E-5,,,\"\"",
        ",,,,,",
        "\"\",0,NaN,,true,AA==",
        "\"multi\"\"\"\"quote\",1,Infinity,,,",
        "h\xc3\xa9llo \xe2\x82\xac,1,2.0,,,",
    };
    for (size_t i = 0; i < ED_ARRAY_LEN(same); i++) {
        if (parse(s, same[i], &e, &out))
            ED_FAIL_AT("'%s': %s", same[i], e.msg);
        else
            ED_CHECK_STR(out.data, back[i]);
    }
    /* other accepted spellings */
    ED_CHECK_INT(parse(s, " x , 12 ,\t3e2 , 2026-11-25T11:41 ,false,aGk,x", &e, &out), -1);
    ED_CHECK_STR(e.msg, "expected 6 fields, found 7");
    ED_CHECK_INT(parse(s, " x , 12 ,\t3e2 , 2026-11-25T11:41 ,false,aGk", &e, &out), 0);
    ED_CHECK_STR(out.data, " x ,12,300.0,2026-11-25 11:41:00.000,false,aGk=");
    ED_CHECK_INT(parse(s, "crlf,1,1,,,\r", &e, &out), 0);
    ED_CHECK_STR(out.data, "crlf,1,1.0,,,");
    ED_CHECK_INT(parse(s, "t,1,1,1795606873123,,", &e, &out), 0); /* epoch ms */
    ED_CHECK_STR(out.data, "t,1,1.0,2026-11-25 11:41:13.123,,");
    ED_CHECK_INT(parse(s, "\"12\",\"5\",\"2.5\",,,", &e, &out), 0); /* quoted numbers */
    ED_CHECK_STR(out.data, "12,5,2.5,,,");
    ed_sb_free(&out);
    eddy_schema_free(s);
}

ED_TEST(csv_parse_errors_name_the_field)
{
    eddy_schema *s = schema("name STRING, price DOUBLE, n INT NOT NULL");
    ED_REQUIRE(s);
    ed_err e = {0};
    ed_strbuf out;
    ed_sb_init(&out);
    struct {
        const char *line, *msg;
    } cases[] = {
        {"a,1,2,3", "expected 3 fields, found 4"},
        {"a,1", "expected 3 fields, found 2"},
        {"", "expected 3 fields, found 1"},
        {"a,1,2,", "expected 3 fields, found 4"},
        {"a,abc,1", "field 2 (price): 'abc' is not a DOUBLE"},
        {"a,abc,1,4", "expected 3 fields, found 4"}, /* the count wins over values */
        {"a,1.5,", "field 3 (n): empty value for NOT NULL field"},
        {"a,1.5,2147483648", "field 3 (n): '2147483648' is not an INT"},
        {"a,1.5,-2147483649", "field 3 (n): '-2147483649' is not an INT"},
        {"a,1.5,1.0", "field 3 (n): '1.0' is not an INT"},
        {"a,1.5,\"\"", "field 3 (n): '' is not an INT"},
        {"a,1.5,\"1\"\"\"", "field 3 (n): '1\"' is not an INT"},
        {"a,1e999,1", "field 2 (price): '1e999' is not a DOUBLE"},
        {"a,inf,1", "field 2 (price): 'inf' is not a DOUBLE"},
        {"caf\xc3\xa9 \xff,1,1", "field 1 (name): invalid UTF-8 at byte 7"},
        {"ok,1,\"2\xc0\xaf\"", "field 3 (n): invalid UTF-8 at byte 8"},
        {"\"open,1,2", "field 1 (name): unterminated quoted value"},
        {"a,1,2,\"open", "field 4: unterminated quoted value"},
        {"\"a\"b,1,2", "field 1 (name): unexpected character 'b' after closing quote"},
    };
    for (size_t i = 0; i < ED_ARRAY_LEN(cases); i++) {
        if (parse(s, cases[i].line, &e, &out) == 0)
            ED_FAIL_AT("'%s' parsed, expected \"%s\"", cases[i].line, cases[i].msg);
        else if (strcmp(e.msg, cases[i].msg) != 0)
            ED_FAIL_AT("'%s': \"%s\", expected \"%s\"", cases[i].line, e.msg, cases[i].msg);
    }
    ed_sb_free(&out);
    eddy_schema_free(s);

    s = schema("t TIMESTAMP, b BOOLEAN, x BYTES, big BIGINT");
    ED_REQUIRE(s);
    ED_CHECK_INT(parse(s, "2026-02-30 00:00:00,,,", &e, &out), -1);
    ED_CHECK_STR(e.msg, "field 1 (t): '2026-02-30 00:00:00' is not a TIMESTAMP(3)");
    ED_CHECK_INT(parse(s, ",yes,,", &e, &out), -1);
    ED_CHECK_STR(e.msg, "field 2 (b): 'yes' is not a BOOLEAN");
    ED_CHECK_INT(parse(s, ",,not base64!,", &e, &out), -1);
    ED_CHECK_STR(e.msg, "field 3 (x): 'not base64!' is not BYTES in base64");
    ED_CHECK_INT(parse(s, ",,,9223372036854775808", &e, &out), -1);
    ED_CHECK_STR(e.msg, "field 4 (big): '9223372036854775808' is not a BIGINT");
    ED_CHECK_INT(parse(s, ",,,-9223372036854775808", &e, &out), 0);
    ed_sb_free(&out);
    eddy_schema_free(s);
}

ED_TEST(csv_parse_other_delimiter_and_reuse)
{
    eddy_schema *s = schema("a STRING, b BIGINT");
    ED_REQUIRE(s);
    eddy_row_builder *b = eddy_rb_new_schema(s);
    ed_err e = {0};
    const char *line = "x|y\t|42";
    ED_CHECK_INT(ed_csv_parse_line(line, strlen(line), s, '|', b, &e), -1);
    ED_CHECK_STR(e.msg, "expected 2 fields, found 3");
    ed_err_clear(&e);
    line = "x,y\t|42";
    ED_CHECK_INT(ed_csv_parse_line(line, strlen(line), s, '|', b, &e), 0);
    const eddy_row *r = eddy_rb_row(b);
    ED_CHECK_INT(eddy_row_str(r, 0).len, 4);
    ED_CHECK_INT(eddy_row_i64(r, 1), 42);
    /* a length shorter than the string: only len bytes are read */
    line = "abc|7|junk";
    ED_CHECK_INT(ed_csv_parse_line(line, 5, s, '|', b, &e), 0);
    ED_CHECK_INT(eddy_row_i64(eddy_rb_row(b), 1), 7);
    /* the builder is reset by each parse, so a failed line leaves no residue */
    line = "only";
    ED_CHECK_INT(ed_csv_parse_line(line, 4, s, '|', b, &e), -1);
    ed_err_clear(&e);
    line = "|";
    ED_CHECK_INT(ed_csv_parse_line(line, 1, s, '|', b, &e), 0);
    r = eddy_rb_row(b);
    ED_CHECK(eddy_row_is_null(r, 0) && eddy_row_is_null(r, 1));
    ED_CHECK_INT(eddy_row_size(r), eddy_row_fixed_size(2));
    eddy_rb_free(b);
    eddy_schema_free(s);
}

ED_TEST(value_parse_single_values)
{
    eddy_row_builder *b = eddy_rb_new(1);
    ed_err e = {0};
    ED_CHECK_INT(ed_value_parse(EDDY_INT, " 17 ", 4, b, 0, &e), 0);
    ED_CHECK_INT(eddy_row_i32(eddy_rb_row(b), 0), 17);
    ED_CHECK_INT(ed_value_parse(EDDY_STRING, "x\xff", 2, b, 0, &e), -1);
    ED_CHECK_STR(e.msg, "invalid UTF-8 at byte 2");
    ed_err_clear(&e);
    ED_CHECK_INT(ed_value_parse(EDDY_BYTES, "AAEC", 4, b, 0, &e), 0);
    eddy_str v = eddy_row_str(eddy_rb_row(b), 0);
    ED_CHECK(v.len == 3 && v.ptr[0] == 0 && v.ptr[1] == 1 && v.ptr[2] == 2);
    ED_CHECK_INT(ed_value_parse(EDDY_BYTES, "A", 1, b, 0, &e), -1);
    ED_CHECK(eddy_row_is_null(eddy_rb_row(b), 0));
    ED_CHECK_STR(e.msg, "'A' is not BYTES in base64");
    ed_err_clear(&e);
    char longv[200];
    memset(longv, '9', sizeof longv);
    ED_CHECK_INT(ed_value_parse(EDDY_BIGINT, longv, sizeof longv, b, 0, &e), -1);
    ED_CHECK_CONTAINS(e.msg, "...' is not a BIGINT");
    eddy_rb_free(b);
}
