/*
 * test_vec — the one growing-array helper: doubling from 8, exact
 * reservations past double, overflow refused with the array untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "lib/vec.h"

struct wide {
    char bytes[64];
};

static void pushes_keep_every_element_and_double(void **state)
{
    (void)state;
    int *items = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(vec_reserve(items, cap, n + 1), 0);
        assert_true(cap >= n + 1);
        items[n++] = i;
    }
    for (int i = 0; i < 1000; i++)
        assert_int_equal(items[i], i);
    assert_int_equal(cap, 1024); /* 8, 16, ... 1024: doubling, not +1 */
    free(items);
}

static void a_reservation_past_double_is_met_at_once(void **state)
{
    (void)state;
    double *items = NULL;
    size_t cap = 0;
    assert_int_equal(vec_reserve(items, cap, 3), 0);
    assert_int_equal(cap, 8);
    assert_int_equal(vec_reserve(items, cap, 100), 0);
    assert_int_equal(cap, 128);
    assert_int_equal(vec_reserve(items, cap, 50), 0); /* already room: unchanged */
    assert_int_equal(cap, 128);
    items[99] = 1.5;
    free(items);
}

static void overflow_is_refused_and_the_array_kept(void **state)
{
    (void)state;
    struct wide *items = NULL;
    size_t cap = 0;
    assert_int_equal(vec_reserve(items, cap, 2), 0);
    struct wide *before = items;
    items[1].bytes[0] = 'x';
    assert_int_equal(vec_reserve(items, cap, SIZE_MAX / 8), -1);
    assert_ptr_equal(items, before);
    assert_int_equal(cap, 8);
    assert_int_equal(vec_reserve(items, cap, SIZE_MAX), -1);
    assert_int_equal(items[1].bytes[0], 'x');
    free(items);
}

static void resize_sets_an_exact_size(void **state)
{
    (void)state;
    long *items = NULL;
    vec_resize_or_abort(items, 3);
    items[2] = 7;
    vec_resize_or_abort(items, 1000);
    assert_int_equal(items[2], 7);
    items[999] = 1;
    free(items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pushes_keep_every_element_and_double),
        cmocka_unit_test(a_reservation_past_double_is_met_at_once),
        cmocka_unit_test(overflow_is_refused_and_the_array_kept),
        cmocka_unit_test(resize_sets_an_exact_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
