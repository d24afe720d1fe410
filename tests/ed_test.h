/*
 * ed_test.h - the unit-test harness: tests register themselves, so no list is kept by
 * hand. Each *_test.c file is one CTest executable; it runs every ED_TEST in it (or
 * those whose names contain argv[1]) and ends with "N passed, M failed".
 */
#ifndef ED_TEST_H
#define ED_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ed_test_case {
    const char *name;
    void (*fn)(void);
    struct ed_test_case *next;
} ed_test_case;

extern ed_test_case *ed_test_list;
extern int ed_test_failed_now;

#define ED_TEST(name)                                                                          \
    static void ed_test_fn_##name(void);                                                       \
    static ed_test_case ed_test_case_##name = {#name, ed_test_fn_##name, NULL};                \
    __attribute__((constructor)) static void ed_test_reg_##name(void)                          \
    {                                                                                          \
        ed_test_case **p = &ed_test_list;                                                      \
        while (*p) p = &(*p)->next;                                                            \
        *p = &ed_test_case_##name;                                                             \
    }                                                                                          \
    static void ed_test_fn_##name(void)

#define ED_FAIL_AT(...)                                                                        \
    do {                                                                                       \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                      \
        fprintf(stderr, __VA_ARGS__);                                                          \
        fputc('\n', stderr);                                                                   \
        ed_test_failed_now = 1;                                                                \
    } while (0)

#define ED_CHECK(c)                                                                            \
    do {                                                                                       \
        if (!(c)) ED_FAIL_AT("check failed: %s", #c);                                          \
    } while (0)

/* Stops the current test when the check fails. */
#define ED_REQUIRE(c)                                                                          \
    do {                                                                                       \
        if (!(c)) {                                                                            \
            ED_FAIL_AT("requirement failed: %s", #c);                                          \
            return;                                                                            \
        }                                                                                      \
    } while (0)

#define ED_CHECK_INT(a, b)                                                                     \
    do {                                                                                       \
        long long ed_a_ = (long long)(a), ed_b_ = (long long)(b);                              \
        if (ed_a_ != ed_b_) ED_FAIL_AT("%s == %lld, expected %s == %lld", #a, ed_a_, #b, ed_b_); \
    } while (0)

#define ED_CHECK_STR(a, b)                                                                     \
    do {                                                                                       \
        const char *ed_a_ = (a), *ed_b_ = (b);                                                 \
        if (!ed_a_ || !ed_b_ || strcmp(ed_a_, ed_b_) != 0)                                     \
            ED_FAIL_AT("%s is \"%s\", expected \"%s\"", #a, ed_a_ ? ed_a_ : "(null)",          \
                       ed_b_ ? ed_b_ : "(null)");                                              \
    } while (0)

/* True when haystack contains needle. */
#define ED_CHECK_CONTAINS(hay, needle)                                                         \
    do {                                                                                       \
        const char *ed_h_ = (hay), *ed_n_ = (needle);                                          \
        if (!ed_h_ || !strstr(ed_h_, ed_n_))                                                   \
            ED_FAIL_AT("\"%s\" does not contain \"%s\"", ed_h_ ? ed_h_ : "(null)", ed_n_);     \
    } while (0)

#endif
