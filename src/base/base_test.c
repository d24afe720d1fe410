/* base_test.c - errors, strbuf, arena, hashes, clocks, parsers and UTF-8 validation. */
#include "base/base.h"

#include "ed_test.h"

ED_TEST(err_keeps_first_message_and_wraps)
{
    ed_err e = {0};
    ED_CHECK_INT(ed_err_set(&e, "root %d", 1), -1);
    ED_CHECK_INT(e.set, 1);
    ed_err_set(&e, "second");
    ED_CHECK_STR(e.msg, "root 1");
    ed_err_wrap(&e, "file.yaml:%d", 3);
    ED_CHECK_STR(e.msg, "file.yaml:3: root 1");
    ed_err_clear(&e);
    ED_CHECK_INT(e.set, 0);
    ED_CHECK_STR(e.msg, "");
    ed_err_wrap(&e, "only prefix");
    ED_CHECK_STR(e.msg, "only prefix");
    ED_CHECK_INT(ed_err_set(NULL, "ignored"), -1);
}

ED_TEST(xalloc_and_strdup)
{
    char *s = ed_xstrdup("hello");
    ED_CHECK_STR(s, "hello");
    free(s);
    s = ed_xstrndup("hello", 3);
    ED_CHECK_STR(s, "hel");
    free(s);
    s = ed_xstrndup("hi", 10);
    ED_CHECK_STR(s, "hi");
    free(s);
    int *z = ed_xcalloc(4, sizeof(int));
    ED_CHECK(z[0] == 0 && z[3] == 0);
    z = ed_xrealloc(z, 100 * sizeof(int));
    z[99] = 1;
    free(z);
}

ED_TEST(strbuf_append_printf_steal)
{
    ed_strbuf sb;
    ed_sb_init(&sb);
    ed_sb_puts(&sb, "ab");
    ed_sb_putc(&sb, 'c');
    ed_sb_append(&sb, "defg", 2);
    ed_sb_printf(&sb, "-%d-%s", 42, "x");
    ED_CHECK_STR(sb.data, "abcde-42-x");
    ED_CHECK_INT(sb.len, 10);
    /* printf larger than the spare capacity */
    char big[300];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ed_sb_printf(&sb, "%s", big);
    ED_CHECK_INT(sb.len, 10 + 299);
    ED_CHECK_INT(strlen(sb.data), 10 + 299);
    ed_sb_reset(&sb);
    ED_CHECK_INT(sb.len, 0);
    ED_CHECK_STR(sb.data, "");
    ed_sb_puts(&sb, "kept");
    char *s = ed_sb_steal(&sb);
    ED_CHECK_STR(s, "kept");
    ED_CHECK(sb.data == NULL && sb.len == 0 && sb.cap == 0);
    free(s);
    s = ed_sb_steal(&sb); /* empty buffer gives an empty string */
    ED_CHECK_STR(s, "");
    free(s);
    ed_sb_free(&sb);
}

ED_TEST(arena_alignment_big_blocks_and_reset)
{
    ed_arena a;
    ed_arena_init(&a, 256);
    for (int i = 1; i < 100; i++) {
        char *p = ed_arena_alloc(&a, (size_t)i);
        ED_REQUIRE(p);
        ED_CHECK(((uintptr_t)p & 7) == 0);
        memset(p, 0xab, (size_t)i);
    }
    char *big = ed_arena_alloc(&a, 10000);
    ED_REQUIRE(big);
    memset(big, 1, 10000);
    char *after = ed_arena_alloc(&a, 8);
    ED_REQUIRE(after);
    ED_CHECK(a.used > 10000);
    char *s = ed_arena_strdup(&a, "arena");
    ED_CHECK_STR(s, "arena");
    ed_arena_reset(&a);
    ED_CHECK_INT(a.used, 0);
    ED_CHECK(a.head != NULL);
    ED_CHECK(ed_arena_alloc(&a, 16) != NULL);
    ed_arena_destroy(&a);
    ED_CHECK(a.head == NULL);
}

ED_TEST(murmur3_known_vectors)
{
    ED_CHECK_INT(ed_murmur3_32("", 0, 0), 0);
    ED_CHECK_INT(ed_murmur3_32("", 0, 1), 0x514E28B7);
    ED_CHECK_INT(ed_murmur3_32("", 0, 0xffffffffu), 0x81F16F39);
    ED_CHECK_INT(ed_murmur3_32("hello", 5, 0), 0x248bfa47);
    ED_CHECK_INT(ed_murmur3_32("\xff\xff\xff\xff", 4, 0), 0x76293B50);
    ED_CHECK_INT(ed_murmur3_32("\x21\x43\x65\x87", 4, 0), 0xF55B516B);
    ED_CHECK_INT(ed_murmur3_32("\x21\x43\x65\x87", 4, 0x5082EDEE), 0x2362F9DE);
    ED_CHECK_INT(ed_murmur3_32("\x21\x43\x65", 3, 0), 0x7E4A8634);
    ED_CHECK_INT(ed_murmur3_32("\x21\x43", 2, 0), 0xA0F7B07A);
    ED_CHECK_INT(ed_murmur3_32("\x21", 1, 0), 0x72661CF4);
    ED_CHECK_INT(ed_murmur3_32("\0\0\0\0", 4, 0), 0x2362F9DE);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    ED_CHECK_INT(ed_murmur3_32(fox, strlen(fox), 0), 0x2e4ff723);
}

ED_TEST(crc32c_known_vectors_and_chaining)
{
    ED_CHECK_INT(ed_crc32c(0, "123456789", 9), 0xE3069283);
    ED_CHECK_INT(ed_crc32c(0, "", 0), 0);
    uint8_t buf[32];
    memset(buf, 0, sizeof buf);
    ED_CHECK_INT(ed_crc32c(0, buf, 32), 0x8A9136AA);
    memset(buf, 0xff, sizeof buf);
    ED_CHECK_INT(ed_crc32c(0, buf, 32), 0x62A8AB43);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    ED_CHECK_INT(ed_crc32c(0, buf, 32), 0x46DD794E);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    ED_CHECK_INT(ed_crc32c(0, buf, 32), 0x113FDB5C);
    /* chaining over any split equals one pass, also at unaligned starts */
    char data[100];
    for (int i = 0; i < 100; i++)
        data[i] = (char)(i * 7 + 3);
    uint32_t whole = ed_crc32c(0, data, sizeof data);
    for (size_t cut = 0; cut <= sizeof data; cut++)
        ED_CHECK_INT(ed_crc32c(ed_crc32c(0, data, cut), data + cut, sizeof data - cut), whole);
}

ED_TEST(clocks)
{
    int64_t a = ed_mono_ns();
    ed_sleep_ns(2000000);
    int64_t b = ed_mono_ns();
    ED_CHECK(b - a >= 2000000);
    ED_CHECK(ed_wall_ms() > 1700000000000LL);
    ed_clock *sys = ed_clock_system();
    ED_CHECK(sys == ed_clock_system());
    ED_CHECK(sys->now_ms(sys) > 1700000000000LL);
    ed_manual_clock m;
    ed_manual_clock_init(&m, 1000);
    ed_clock *c = &m.base;
    ED_CHECK_INT(c->now_ms(c), 1000);
    ed_manual_clock_advance(&m, 250);
    ED_CHECK_INT(c->now_ms(c), 1250);
}

ED_TEST(parse_integers)
{
    int64_t v;
    ED_CHECK(ed_parse_i64("0", &v) == 0 && v == 0);
    ED_CHECK(ed_parse_i64("-42", &v) == 0 && v == -42);
    ED_CHECK(ed_parse_i64("+7", &v) == 0 && v == 7);
    ED_CHECK(ed_parse_i64("9223372036854775807", &v) == 0 && v == INT64_MAX);
    ED_CHECK(ed_parse_i64("-9223372036854775808", &v) == 0 && v == INT64_MIN);
    ED_CHECK_INT(ed_parse_i64("9223372036854775808", &v), -1);
    ED_CHECK_INT(ed_parse_i64("-9223372036854775809", &v), -1);
    ED_CHECK_INT(ed_parse_i64("", &v), -1);
    ED_CHECK_INT(ed_parse_i64("-", &v), -1);
    ED_CHECK_INT(ed_parse_i64(" 1", &v), -1);
    ED_CHECK_INT(ed_parse_i64("1 ", &v), -1);
    ED_CHECK_INT(ed_parse_i64("12a", &v), -1);
    ED_CHECK_INT(ed_parse_i64("0x10", &v), -1);
}

ED_TEST(parse_doubles_and_bools)
{
    double d;
    ED_CHECK(ed_parse_f64("1.5", &d) == 0 && d == 1.5);
    ED_CHECK(ed_parse_f64("-0.25", &d) == 0 && d == -0.25);
    ED_CHECK(ed_parse_f64("1e10", &d) == 0 && d == 1e10);
    ED_CHECK(ed_parse_f64("1.0E-5", &d) == 0 && d == 1e-5);
    ED_CHECK(ed_parse_f64(".5", &d) == 0 && d == 0.5);
    ED_CHECK(ed_parse_f64("5.", &d) == 0 && d == 5.0);
    ED_CHECK(ed_parse_f64("NaN", &d) == 0 && d != d);
    ED_CHECK(ed_parse_f64("Infinity", &d) == 0 && d > 1e308);
    ED_CHECK(ed_parse_f64("-Infinity", &d) == 0 && d < -1e308);
    ED_CHECK(ed_parse_f64("1e-400", &d) == 0 && d == 0.0);
    ED_CHECK_INT(ed_parse_f64("1e400", &d), -1);
    ED_CHECK_INT(ed_parse_f64("", &d), -1);
    ED_CHECK_INT(ed_parse_f64(".", &d), -1);
    ED_CHECK_INT(ed_parse_f64("abc", &d), -1);
    ED_CHECK_INT(ed_parse_f64("inf", &d), -1);
    ED_CHECK_INT(ed_parse_f64("0x1p3", &d), -1);
    ED_CHECK_INT(ed_parse_f64("1e", &d), -1);
    ED_CHECK_INT(ed_parse_f64(" 1", &d), -1);
    ED_CHECK_INT(ed_parse_f64("1.5x", &d), -1);

    bool b;
    ED_CHECK(ed_parse_bool("true", &b) == 0 && b);
    ED_CHECK(ed_parse_bool("TRUE", &b) == 0 && b);
    ED_CHECK(ed_parse_bool("False", &b) == 0 && !b);
    ED_CHECK_INT(ed_parse_bool("yes", &b), -1);
    ED_CHECK_INT(ed_parse_bool("1", &b), -1);
    ED_CHECK_INT(ed_parse_bool("", &b), -1);
}

ED_TEST(parse_durations_flink_forms)
{
    int64_t v;
    ED_CHECK(ed_parse_duration_ms("100 ms", &v) == 0 && v == 100);
    ED_CHECK(ed_parse_duration_ms("100ms", &v) == 0 && v == 100);
    ED_CHECK(ed_parse_duration_ms("10 s", &v) == 0 && v == 10000);
    ED_CHECK(ed_parse_duration_ms("10s", &v) == 0 && v == 10000);
    ED_CHECK(ed_parse_duration_ms("1 min", &v) == 0 && v == 60000);
    ED_CHECK(ed_parse_duration_ms("3m", &v) == 0 && v == 180000);
    ED_CHECK(ed_parse_duration_ms("2 h", &v) == 0 && v == 7200000);
    ED_CHECK(ed_parse_duration_ms("1 d", &v) == 0 && v == 86400000);
    ED_CHECK(ed_parse_duration_ms("2 days", &v) == 0 && v == 172800000);
    ED_CHECK(ed_parse_duration_ms("5 SECONDS", &v) == 0 && v == 5000);
    ED_CHECK(ed_parse_duration_ms("250", &v) == 0 && v == 250);
    ED_CHECK(ed_parse_duration_ms("0", &v) == 0 && v == 0);
    ED_CHECK(ed_parse_duration_ms(" 7 s ", &v) == 0 && v == 7000);
    ED_CHECK_INT(ed_parse_duration_ms("", &v), -1);
    ED_CHECK_INT(ed_parse_duration_ms("ms", &v), -1);
    ED_CHECK_INT(ed_parse_duration_ms("-1 s", &v), -1);
    ED_CHECK_INT(ed_parse_duration_ms("1.5 s", &v), -1);
    ED_CHECK_INT(ed_parse_duration_ms("10 parsecs", &v), -1);
    ED_CHECK_INT(ed_parse_duration_ms("1 ns", &v), -1);
    ED_CHECK_INT(ed_parse_duration_ms("99999999999999999999", &v), -1);
    ED_CHECK_INT(ed_parse_duration_ms("9223372036854775807 d", &v), -1);
}

ED_TEST(parse_memory_sizes_flink_forms)
{
    int64_t v;
    ED_CHECK(ed_parse_bytes("32kb", &v) == 0 && v == 32768);
    ED_CHECK(ed_parse_bytes("32 kb", &v) == 0 && v == 32768);
    ED_CHECK(ed_parse_bytes("64mb", &v) == 0 && v == 64LL << 20);
    ED_CHECK(ed_parse_bytes("64 MB", &v) == 0 && v == 64LL << 20);
    ED_CHECK(ed_parse_bytes("1g", &v) == 0 && v == 1LL << 30);
    ED_CHECK(ed_parse_bytes("1 gb", &v) == 0 && v == 1LL << 30);
    ED_CHECK(ed_parse_bytes("2t", &v) == 0 && v == 2LL << 40);
    ED_CHECK(ed_parse_bytes("512", &v) == 0 && v == 512);
    ED_CHECK(ed_parse_bytes("512 bytes", &v) == 0 && v == 512);
    ED_CHECK(ed_parse_bytes("3 k", &v) == 0 && v == 3072);
    ED_CHECK_INT(ed_parse_bytes("", &v), -1);
    ED_CHECK_INT(ed_parse_bytes("kb", &v), -1);
    ED_CHECK_INT(ed_parse_bytes("1.5mb", &v), -1);
    ED_CHECK_INT(ed_parse_bytes("1 xb", &v), -1);
    ED_CHECK_INT(ed_parse_bytes("-1", &v), -1);
    ED_CHECK_INT(ed_parse_bytes("16777216 tb", &v), -1);
}

ED_TEST(utf8_check_rejects_overlongs_surrogates_and_out_of_range)
{
    const char *ok = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 plain ascii tail";
    ED_CHECK_INT(ed_utf8_check(ok, strlen(ok)), strlen(ok));
    ED_CHECK_INT(ed_utf8_check("", 0), 0);
    ED_CHECK_INT(ed_utf8_check("\xef\xbf\xbf", 3), 3);     /* U+FFFF */
    ED_CHECK_INT(ed_utf8_check("\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF */
    ED_CHECK_INT(ed_utf8_check("\xed\x9f\xbf", 3), 3);     /* U+D7FF */
    ED_CHECK_INT(ed_utf8_check("ab\xc0\xaf", 4), 2);       /* overlong '/' */
    ED_CHECK_INT(ed_utf8_check("ab\xc1\xbf", 4), 2);       /* overlong */
    ED_CHECK_INT(ed_utf8_check("\xe0\x80\xaf", 3), 0);     /* overlong 3-byte */
    ED_CHECK_INT(ed_utf8_check("\xf0\x80\x80\xaf", 4), 0); /* overlong 4-byte */
    ED_CHECK_INT(ed_utf8_check("x\xed\xa0\x80", 4), 1);    /* surrogate U+D800 */
    ED_CHECK_INT(ed_utf8_check("x\xed\xbf\xbf", 4), 1);    /* surrogate U+DFFF */
    ED_CHECK_INT(ed_utf8_check("\xf4\x90\x80\x80", 4), 0); /* U+110000 */
    ED_CHECK_INT(ed_utf8_check("\xf5\x80\x80\x80", 4), 0);
    ED_CHECK_INT(ed_utf8_check("abc\x80", 4), 3);                /* stray continuation */
    ED_CHECK_INT(ed_utf8_check("abc\xe2\x82", 5), 3);            /* truncated */
    ED_CHECK_INT(ed_utf8_check("\xe2\x28\xa1", 3), 0);           /* bad continuation */
    ED_CHECK_INT(ed_utf8_check("0123456789abcdef\xff", 17), 16); /* after the fast path */
    ED_CHECK_INT(ed_utf8_check("a\0b", 3), 3);                   /* NUL is valid UTF-8 */
}

static int assert_helper_ok(void)
{
    ed_assert(1 + 1 == 2);
    return 1;
}

ED_TEST(assert_passes_when_true)
{
    ED_CHECK(assert_helper_ok());
}
