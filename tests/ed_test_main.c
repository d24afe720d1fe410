/* The shared main of every unit-test executable (see ed_test.h). */
#include "ed_test.h"

ed_test_case *ed_test_list;
int ed_test_failed_now;

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (ed_test_case *t = ed_test_list; t; t = t->next) {
        if (argc > 1 && !strstr(t->name, argv[1])) continue;
        ed_test_failed_now = 0;
        t->fn();
        if (ed_test_failed_now) {
            fprintf(stderr, "FAIL %s\n", t->name);
            failed++;
        } else {
            printf("ok   %s\n", t->name);
            passed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
