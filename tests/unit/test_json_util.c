/*
 * test_json_util — JSON with comments: what is accepted, what is refused
 * and the exact "line L column C: message" for each refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json_util.h"
#include "lib/util.h"

struct syntax_case {
    const char *name;
    const char *text;
    size_t len;       /* 0: strlen(text) */
    const char *want; /* error message, NULL when the text is valid */
};

/* Long runs of digits, for numbers whose range shows only at their end. */
#define ZEROS_10 "0000000000"
#define ZEROS_100 ZEROS_10 ZEROS_10 ZEROS_10 ZEROS_10 ZEROS_10 ZEROS_10 ZEROS_10 ZEROS_10 ZEROS_10 ZEROS_10

static const struct syntax_case cases[] = {
    {"line_comment_is_blank", "// c\n{\"a\": 1} // end", 0, NULL},
    {"block_comment_is_blank", "/* c\n */{\"a\": /* x */ 1}", 0, NULL},
    {"comment_markers_in_strings_stay", "{\"a\": \"//x/*y*/\"}", 0, NULL},
    {"byte_order_mark_is_skipped", "\xEF\xBB\xBF{\"a\": 1}", 0, NULL},
    {"escapes_and_surrogate_pairs_are_valid",
     "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"]", 0, NULL},
    {"numbers_in_every_form_are_valid", "[0, -0, 1.5, -2e3, 4E+2, 5e-1]", 0, NULL},
    {"empty_text", "", 0, "line 1 column 1: no JSON value (the text is empty or only comments)"},
    {"only_comments", "// nothing\n", 0,
     "line 2 column 1: no JSON value (the text is empty or only comments)"},
    {"trailing_comma_in_object", "{\"a\": 1,\n}", 0, "line 1 column 8: trailing comma before '}'"},
    {"trailing_comma_in_array", "[1, 2, ]", 0, "line 1 column 6: trailing comma before ']'"},
    {"missing_comma_between_members", "{\"a\": 1\n \"b\": 2}", 0,
     "line 2 column 2: missing ',' between object members"},
    {"missing_comma_between_elements", "[1 2]", 0,
     "line 1 column 4: missing ',' between array elements"},
    {"unquoted_key", "{a: 1}", 0, "line 1 column 2: object keys must be in double quotes"},
    {"single_quoted_string", "{\"a\": 'x'}", 0,
     "line 1 column 7: keys and strings use double quotes, not single quotes"},
    {"missing_colon", "{\"a\" 1}", 0, "line 1 column 6: expected ':' after the key, found '1'"},
    {"unknown_word", "{\"a\": tru}", 0,
     "line 1 column 7: unknown word (values are numbers, \"strings\", true, false, null, [arrays] "
     "or {objects})"},
    {"unquoted_duration", "{\"a\": 5s}", 0,
     "line 1 column 7: invalid number (durations and names are strings: put them in double "
     "quotes)"},
    {"leading_zero", "[01]", 0, "line 1 column 2: numbers must not have leading zeros"},
    {"bare_minus", "[-]", 0, "line 1 column 2: invalid number"},
    {"dot_without_digits", "[1.]", 0,
     "line 1 column 2: invalid number (a '.' must be followed by digits)"},
    {"number_out_of_range", "[1e400]", 0, "line 1 column 2: number out of range"},
    {"long_number_out_of_range", "[1" ZEROS_100 ZEROS_100 ZEROS_100 ZEROS_100 "]", 0,
     "line 1 column 2: number out of range"},
    {"long_exponent_out_of_range", "[1e" ZEROS_100 "400]", 0,
     "line 1 column 2: number out of range"},
    {"long_numbers_in_range_are_valid", "[0." ZEROS_100 "1, 1" ZEROS_100 ", 1e-" ZEROS_100 "5]", 0,
     NULL},
    {"utf8_in_strings_is_valid", "{\"caf\xC3\xA9\": \"\xE2\x82\xAC \xF0\x9F\x98\x80 \xEF\xBF\xBF\"}", 0,
     NULL},
    {"latin1_byte_in_string", "{\"a\": \"caf\xE9\"}", 0,
     "line 1 column 11: byte 0xe9 inside a string is not valid UTF-8 (the text must be UTF-8)"},
    {"stray_continuation_byte_in_key", "{\"\x80\": 1}", 0,
     "line 1 column 3: byte 0x80 inside a string is not valid UTF-8 (the text must be UTF-8)"},
    {"overlong_utf8", "[\"\xC0\xAF\"]", 0,
     "line 1 column 3: byte 0xc0 inside a string is not valid UTF-8 (the text must be UTF-8)"},
    {"utf8_surrogate", "[\"\xED\xA0\x80\"]", 0,
     "line 1 column 3: byte 0xed inside a string is not valid UTF-8 (the text must be UTF-8)"},
    {"utf8_past_u10ffff", "[\"\xF4\x90\x80\x80\"]", 0,
     "line 1 column 3: byte 0xf4 inside a string is not valid UTF-8 (the text must be UTF-8)"},
    {"utf8_cut_short", "[\"ab\xE2\x82\"]", 0,
     "line 1 column 5: byte 0xe2 inside a string is not valid UTF-8 (the text must be UTF-8)"},
    {"unterminated_string", "{\"a\": \"x}", 0, "line 1 column 7: unterminated string"},
    {"newline_inside_string", "{\"a\": \"x\ny\"}", 0,
     "line 1 column 7: unterminated string (line ends inside it)"},
    {"tab_inside_string", "[\"a\tb\"]", 0,
     "line 1 column 4: control character 0x09 inside a string (write it as an escape)"},
    {"invalid_escape", "[\"C:\\data\"]", 0,
     "line 1 column 5: invalid escape '\\d' (a backslash must be written \\\\)"},
    {"short_unicode_escape", "[\"\\u12\"]", 0,
     "line 1 column 3: \\u must be followed by four hex digits"},
    {"nul_escape", "[\"a\\u0000b\"]", 0, "line 1 column 4: \\u0000 is not allowed in strings"},
    {"lone_low_surrogate", "[\"\\udc00\"]", 0,
     "line 1 column 3: lone UTF-16 low surrogate \\uDC00"},
    {"high_surrogate_alone", "[\"\\ud83dx\"]", 0,
     "line 1 column 3: UTF-16 high surrogate \\uD83D without a low surrogate"},
    {"nul_byte_in_text", "{\"a\": 1}\0{}", 10, "line 1 column 9: NUL byte in the text"},
    {"text_after_value", "{} {}", 0,
     "line 1 column 4: unexpected text after the end of the JSON value"},
    {"unclosed_object", "{\"a\": [1, 2]", 0,
     "line 1 column 13: expected ',' or '}', found end of input"},
    {"unterminated_block_comment", "{\"a\": 1} /* x", 0,
     "line 1 column 10: unterminated /* comment"},
    {"stray_slash", "{\"a\": 1} / x", 0, "line 1 column 10: stray '/' (comments are // or /* */)"},
    {"column_counts_characters_not_bytes", "{\"\xC3\xA9\": x}", 0,
     "line 1 column 7: unknown word (values are numbers, \"strings\", true, false, null, [arrays] "
     "or {objects})"},
    {"too_deep",
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
     0, "line 1 column 65: nested more than 64 levels deep"},
};

static void run_case(void **state)
{
    const struct syntax_case *c = *state;
    char err[256] = "";
    size_t len = c->len ? c->len : strlen(c->text);
    cJSON *root = json_parse_commented(c->text, len, err, sizeof err);
    if (!c->want) {
        if (!root)
            print_message("  got: %s\n", err);
        assert_non_null(root);
    } else {
        assert_null(root);
        assert_string_equal(err, c->want);
    }
    cJSON_Delete(root);
}

static void values_survive_comment_blanking(void **state)
{
    (void)state;
    char err[256];
    const char *text =
        "{ /* a */ \"url\": \"http://x//y/*z*/\", // b\n \"n\": -2.5e1, \"ok\": true }";
    cJSON *root = json_parse_commented(text, strlen(text), err, sizeof err);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItem(root, "url")->valuestring, "http://x//y/*z*/");
    assert_true(cJSON_GetObjectItem(root, "n")->valuedouble == -25.0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(root, "ok")));
    cJSON_Delete(root);
}

static void text_need_not_be_nul_terminated(void **state)
{
    (void)state;
    char err[256];
    const char buf[] = {'[', '1', ']', 'x'}; /* only the first 3 bytes are the document */
    cJSON *root = json_parse_commented(buf, 3, err, sizeof err);
    assert_non_null(root);
    assert_int_equal(cJSON_GetArraySize(root), 1);
    cJSON_Delete(root);
}

/* Asserts where item's value (or key) starts. */
static void assert_at(const struct json_positions *pos, const cJSON *item, bool of_key, int line,
                      int col)
{
    struct json_pos at = {0, 0};
    assert_non_null(item);
    assert_int_equal(json_position_of(pos, item, of_key, &at), 0);
    if (at.line != line || at.col != col)
        fail_msg("%s of '%s': got %d:%d, want %d:%d", of_key ? "key" : "value",
                 item->string ? item->string : "(element)", at.line, at.col, line, col);
}

static void every_key_and_value_keeps_its_line_and_column(void **state)
{
    (void)state;
    const char *text = "// header\n"
                       "{ \"site\": {\"name\": \"x\"},\n"
                       "  /* a block\n"
                       "     comment */ \"modbus\": [\n"
                       "    {\"h\\u00e9\": 1, \"points\": [ 7,\n"
                       "  [true, null]]},\n"
                       "    \"\xC3\xA9t\xC3\xA9\", \"after\" ] }";
    struct json_positions *pos = NULL;
    struct json_pos err_at;
    char err[256];
    cJSON *root = json_parse_located(text, strlen(text), &pos, &err_at, err, sizeof err);
    assert_non_null(root);
    assert_non_null(pos);
    assert_at(pos, root, false, 2, 1);
    const cJSON *site = cJSON_GetObjectItem(root, "site");
    assert_at(pos, site, true, 2, 3);
    assert_at(pos, site, false, 2, 11);
    assert_at(pos, cJSON_GetObjectItem(site, "name"), false, 2, 20);
    const cJSON *modbus = cJSON_GetObjectItem(root, "modbus");
    assert_at(pos, modbus, true, 4, 17);
    assert_at(pos, modbus, false, 4, 27);
    const cJSON *dev = cJSON_GetArrayItem(modbus, 0);
    assert_at(pos, dev, false, 5, 5);
    assert_at(pos, dev->child, true, 5, 6);   /* an escape counts as the characters written */
    assert_at(pos, dev->child, false, 5, 17);
    const cJSON *points = cJSON_GetObjectItem(dev, "points");
    assert_at(pos, cJSON_GetArrayItem(points, 0), false, 5, 32);
    const cJSON *inner = cJSON_GetArrayItem(points, 1);
    assert_at(pos, inner, false, 6, 3);
    assert_at(pos, cJSON_GetArrayItem(inner, 1), false, 6, 10);
    /* Columns count characters: "été" is 3 wide though 5 bytes. */
    assert_at(pos, cJSON_GetArrayItem(modbus, 1), false, 7, 5);
    assert_at(pos, cJSON_GetArrayItem(modbus, 2), false, 7, 12);
    /* Elements have no key; items of another tree are unknown. */
    struct json_pos at;
    assert_int_equal(json_position_of(pos, cJSON_GetArrayItem(modbus, 1), true, &at), -1);
    cJSON *other = cJSON_CreateNull();
    assert_int_equal(json_position_of(pos, other, false, &at), -1);
    cJSON_Delete(other);
    json_positions_free(pos);
    json_positions_free(NULL);
    cJSON_Delete(root);
}

static void located_errors_give_the_position_apart(void **state)
{
    (void)state;
    struct json_positions *pos = (struct json_positions *)&pos; /* must be reset */
    struct json_pos at = {0, 0};
    char err[256];
    const char *text = "{\n  \"a\": 1,\n}";
    assert_null(json_parse_located(text, strlen(text), &pos, &at, err, sizeof err));
    assert_null(pos);
    assert_string_equal(err, "trailing comma before '}'");
    assert_int_equal(at.line, 2);
    assert_int_equal(at.col, 9);
}

/* A byte order mark takes no column: positions read as without it. */
static void a_byte_order_mark_shifts_no_column(void **state)
{
    (void)state;
    struct json_positions *pos = NULL;
    struct json_pos at = {0, 0};
    char err[256];
    const char *text = "\xEF\xBB\xBF{\"site\": 5}";
    cJSON *root = json_parse_located(text, strlen(text), &pos, &at, err, sizeof err);
    assert_non_null(root);
    assert_at(pos, root, false, 1, 1);
    assert_at(pos, cJSON_GetObjectItem(root, "site"), false, 1, 10);
    json_positions_free(pos);
    cJSON_Delete(root);
    const char *bad = "\xEF\xBB\xBF{\"site\" 5}";
    assert_null(json_parse_located(bad, strlen(bad), &pos, &at, err, sizeof err));
    assert_int_equal(at.line, 1);
    assert_int_equal(at.col, 9);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(values_survive_comment_blanking),
        cmocka_unit_test(text_need_not_be_nul_terminated),
        cmocka_unit_test(every_key_and_value_keeps_its_line_and_column),
        cmocka_unit_test(located_errors_give_the_position_apart),
        cmocka_unit_test(a_byte_order_mark_shifts_no_column),
    };
    size_t ncases = ARRAY_LEN(cases), nfixed = ARRAY_LEN(fixed);
    struct CMUnitTest *tests = calloc(ncases + nfixed, sizeof *tests);
    if (!tests)
        return 1;
    for (size_t i = 0; i < ncases; i++)
        tests[i] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL, (void *)&cases[i]};
    memcpy(tests + ncases, fixed, sizeof fixed);
    int failed = _cmocka_run_group_tests("json_util", tests, ncases + nfixed, NULL, NULL);
    free(tests);
    return failed;
}
