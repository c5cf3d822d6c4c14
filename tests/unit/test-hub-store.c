/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "hub-store.h"
static void test_open(void **state) {
        (void) state;
}
int main(void) {
        const struct CMUnitTest tests[] = { cmocka_unit_test(test_open) };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
