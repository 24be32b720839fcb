/*
 * test_json_write — the direct JSON writer prints what cJSON printed for
 * the same values (the bodies of /v1/telemetry must not change by being
 * written without a tree), and its numbers read back exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json_write.h"
#include "lib/util.h"

static char *cjson_text(cJSON *item)
{
    char *t = cJSON_PrintUnformatted(item);
    cJSON_Delete(item);
    assert_non_null(t);
    return t;
}

static void numbers_print_as_cjson_printed_them_and_read_back_exactly(void **state)
{
    (void)state;
    const double values[] = {0, -0.0, 1, -1, 500, 470.25, 0.1, 1.0 / 3, 2.0 / 3, 123456.789,
                             1e-7, 3e9, -2147483648.0, 2147483647.0, 2147483648.0,
                             999999999999999.0, 1e15, 1e300, -1e-300, DBL_MIN, DBL_MAX,
                             0.30000000000000004, 12.3456789012345678, 5e-324};
    for (size_t i = 0; i < ARRAY_LEN(values); i++) {
        struct strbuf b = {0};
        json_put_number(&b, values[i]);
        char *ours = strbuf_take(&b);
        assert_non_null(ours);
        assert_true(strtod(ours, NULL) == values[i]);
        /* cJSON rounds to 15 digits when they read back within one part in
         * 2^52; ours only when they read back exactly (json_write.h). */
        char s15[40];
        snprintf(s15, sizeof s15, "%1.15g", values[i]);
        if ((values[i] == floor(values[i]) && fabs(values[i]) < 1e15) ||
            strtod(s15, NULL) == values[i]) {
            char *theirs = cjson_text(cJSON_CreateNumber(values[i]));
            if (strcmp(ours, theirs) != 0)
                fail_msg("%.17g: ours %s, cJSON %s", values[i], ours, theirs);
            free(theirs);
        }
        free(ours);
    }
    const double nonfinite[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < ARRAY_LEN(nonfinite); i++) {
        struct strbuf b = {0};
        json_put_number(&b, nonfinite[i]);
        assert_string_equal(b.data, "null");
        strbuf_free(&b);
    }
}

static void millis_print_as_seconds_did(void **state)
{
    (void)state;
    const int64_t ms[] = {0, 1, 10, 100, 589, 1000, 1001, 1010, 1100, 5114, 12000, 59999,
                          86400000, 2147483647000LL / 1000, 999999999999LL, 1000000000000LL,
                          123456789012345LL};
    for (size_t i = 0; i < ARRAY_LEN(ms); i++) {
        struct strbuf b = {0};
        json_put_millis(&b, ms[i]);
        char *ours = strbuf_take(&b);
        char *theirs = cjson_text(cJSON_CreateNumber((double)ms[i] / 1000.0));
        if (strcmp(ours, theirs) != 0)
            fail_msg("%lld ms: ours %s, cJSON %s", (long long)ms[i], ours, theirs);
        free(ours);
        free(theirs);
    }
}

static void strings_escape_as_cjson_escaped_them(void **state)
{
    (void)state;
    /* Every byte but NUL, in one string, and a few in context. */
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    const char *cases[] = {all, "", "kW", "say \"hi\"\\", "a\nb\tc\r\b\f", "\x01\x1f\x7f",
                           "Grad \xc2\xb0" "C", "\xff\xfe not UTF-8"};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct strbuf b = {0};
        json_put_string(&b, cases[i]);
        char *ours = strbuf_take(&b);
        char *theirs = cjson_text(cJSON_CreateString(cases[i]));
        assert_string_equal(ours, theirs);
        free(ours);
        free(theirs);
    }
    struct strbuf b = {0};
    json_put_string(&b, NULL);
    json_put_time(&b, 0);
    json_put_time(&b, 1767225600250LL);
    assert_string_equal(b.data, "nullnull\"2026-01-01T00:00:00.250Z\"");
    strbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_print_as_cjson_printed_them_and_read_back_exactly),
        cmocka_unit_test(millis_print_as_seconds_did),
        cmocka_unit_test(strings_escape_as_cjson_escaped_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
