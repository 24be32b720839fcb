/*
 * test_strbuf — appends and printf keep the text whole and terminated,
 * long formats go past the small stack buffer, take hands the text over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"

static void appends_and_printf_build_one_text(void **state)
{
    (void)state;
    struct strbuf b = {0};
    strbuf_puts(&b, "floe_samples_dropped_total ");
    strbuf_printf(&b, "%d\n", 42);
    strbuf_append(&b, "xyz", 2);
    char *text = strbuf_take(&b);
    assert_string_equal(text, "floe_samples_dropped_total 42\nxy");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(text);
}

static void a_format_longer_than_the_stack_buffer_is_whole(void **state)
{
    (void)state;
    char long_label[2000];
    memset(long_label, 'a', sizeof long_label - 1);
    long_label[sizeof long_label - 1] = '\0';
    struct strbuf b = {0};
    strbuf_puts(&b, "<");
    strbuf_printf(&b, "%s|%s", long_label, long_label);
    strbuf_puts(&b, ">");
    assert_int_equal(b.len, 1 + 2 * 1999 + 1 + 1);
    assert_int_equal(strlen(b.data), b.len);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[2000], '|');
    assert_int_equal(b.data[b.len - 1], '>');
    strbuf_free(&b);
}

static void nothing_appended_takes_an_empty_string(void **state)
{
    (void)state;
    struct strbuf b = {0};
    char *text = strbuf_take(&b);
    assert_non_null(text);
    assert_string_equal(text, "");
    free(text);
}

static void a_failed_buffer_takes_null_and_ignores_appends(void **state)
{
    (void)state;
    struct strbuf b = {0};
    strbuf_puts(&b, "kept until the failure");
    b.failed = true; /* as after an allocation failure */
    strbuf_puts(&b, "more");
    assert_int_equal(b.len, strlen("kept until the failure"));
    assert_null(strbuf_take(&b));
    assert_null(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_and_printf_build_one_text),
        cmocka_unit_test(a_format_longer_than_the_stack_buffer_is_whole),
        cmocka_unit_test(nothing_appended_takes_an_empty_string),
        cmocka_unit_test(a_failed_buffer_takes_null_and_ignores_appends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
