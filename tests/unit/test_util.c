/* Unit tests of lib/util's parsers of outside input: durations (config,
 * `floe replay --tick`, the API's step) and times (RFC 3339 or Unix
 * seconds: replay CSV, --from/--to, the API's since/until), with the
 * formatters they round-trip with. Table-driven: valid forms, offsets,
 * fractions, leap days and seconds, DST edges, overflow, empty, garbage,
 * trailing junk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/util.h"

/* 2026-01-01T00:00:00Z */
#define T2026 1767225600000LL

/* ---- durations ---- */

static const struct {
    const char *text;
    int64_t ms;
} durations_valid[] = {
    {"500ms", 500},
    {"5s", 5000},
    {"2m", 120000},
    {"1h", 3600000},
    {"1d", 86400000},
    {"0s", 0},
    {"0ms", 0},
    {"1.5s", 1500},
    {"0.25s", 250},
    {"1.5m", 90000},
    {"007s", 7000},
    {"90m", 5400000},
    {"0.5ms", 1},             /* rounded to the nearest ms */
    {"100000000d", 8640000000000000LL}, /* the longest accepted: under 9e15 ms */
};

static const struct {
    const char *text;
    const char *message; /* the whole error message */
} durations_invalid[] = {
    {"", "empty duration"},
    {"5", "'5' has no known unit (use ms, s, m, h or d)"},
    {"s", "'s' is not a duration (examples: \"500ms\", \"5s\", \"2m\", \"1h\", \"1d\")"},
    {"ms", "'ms' is not a duration (examples: \"500ms\", \"5s\", \"2m\", \"1h\", \"1d\")"},
    {"5 s", "'5 s': remove the space: '5s'"},
    {"5 sx", "'5 sx' has no known unit (use ms, s, m, h or d)"},
    {" 5s", "' 5s' is not a duration (examples: \"500ms\", \"5s\", \"2m\", \"1h\", \"1d\")"},
    {"5s ", "'5s ': remove the space: '5s'"},
    {"5S", "'5S' has no known unit (use ms, s, m, h or d)"},
    {"5sec", "'5sec' has no known unit (use ms, s, m, h or d)"},
    {"5ss", "'5ss' has no known unit (use ms, s, m, h or d)"},
    {"5s5", "'5s5' has no known unit (use ms, s, m, h or d)"},
    {"1y", "'1y' has no known unit (use ms, s, m, h or d)"},
    {"-5s", "'-5s' is not a duration (examples: \"500ms\", \"5s\", \"2m\", \"1h\", \"1d\")"},
    {"-0s", "'-0s' is not a duration (examples: \"500ms\", \"5s\", \"2m\", \"1h\", \"1d\")"},
    {"+5s", "'+5s' is not a duration (examples: \"500ms\", \"5s\", \"2m\", \"1h\", \"1d\")"},
    {".5s", "'.5s' is not a duration (examples: \"500ms\", \"5s\", \"2m\", \"1h\", \"1d\")"},
    {"5.s", "'5.s' has no known unit (use ms, s, m, h or d)"},
    {"1.5.2s", "'1.5.2s' has no known unit (use ms, s, m, h or d)"},
    /* strtod would read these as numbers: hex, exponents, infinity. */
    {"0x10s", "'0x10s' has no known unit (use ms, s, m, h or d)"},
    {"0x1p4s", "'0x1p4s' has no known unit (use ms, s, m, h or d)"},
    {"1e3ms", "'1e3ms' has no known unit (use ms, s, m, h or d)"},
    {"infs", "'infs' is not a duration (examples: \"500ms\", \"5s\", \"2m\", \"1h\", \"1d\")"},
    {"nans", "'nans' is not a duration (examples: \"500ms\", \"5s\", \"2m\", \"1h\", \"1d\")"},
    {"1000000000d", "'1000000000d' is too long"},
    {"99999999999999999999999999999999999999h", "'99999999999999999999999999999999999999h' is too long"},
};

static void durations_parse_every_documented_form(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < ARRAY_LEN(durations_valid); i++) {
        int64_t ms = -42;
        char err[256] = "";
        if (util_parse_duration_ms(durations_valid[i].text, &ms, err, sizeof err) != 0)
            fail_msg("'%s': rejected: %s", durations_valid[i].text, err);
        if (ms != durations_valid[i].ms)
            fail_msg("'%s': %lld ms, want %lld", durations_valid[i].text, (long long)ms,
                     (long long)durations_valid[i].ms);
    }
}

static void durations_reject_garbage_naming_it(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < ARRAY_LEN(durations_invalid); i++) {
        int64_t ms = -42;
        char err[256] = "";
        if (util_parse_duration_ms(durations_invalid[i].text, &ms, err, sizeof err) == 0)
            fail_msg("'%s': accepted as %lld ms", durations_invalid[i].text, (long long)ms);
        assert_int_equal(ms, -42); /* untouched on error */
        if (strcmp(err, durations_invalid[i].message) != 0)
            fail_msg("'%s': message \"%s\", want \"%s\"", durations_invalid[i].text, err,
                     durations_invalid[i].message);
    }
    int64_t ms;
    assert_int_equal(util_parse_duration_ms(NULL, &ms, NULL, 0), -1);
}

static void durations_format_compactly_and_read_back(void **unused)
{
    (void)unused;
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {0, "0s"},         {1, "1ms"},       {999, "999ms"},   {1000, "1s"},
        {1500, "1500ms"},  {90000, "90s"},   {120000, "2m"},   {3600000, "1h"},
        {5400000, "90m"},  {86400000, "1d"}, {90000000, "25h"}, {8640000000000000LL, "100000000d"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char buf[32];
        util_format_duration(cases[i].ms, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
        int64_t back;
        assert_int_equal(util_parse_duration_ms(buf, &back, NULL, 0), 0);
        assert_int_equal(back, cases[i].ms);
    }
}

/* ---- times ---- */

static const struct {
    const char *text;
    int64_t ms;
} times_valid[] = {
    {"2026-01-01T00:00:00Z", T2026},
    {"2026-01-01t00:00:00z", T2026},
    {"2026-01-01 00:00:00Z", T2026}, /* RFC 3339 allows a space for readability */
    {"2026-01-01T00:00:00+00:00", T2026},
    {"2026-01-01T00:00:00-00:00", T2026},
    {"2026-01-01T01:00:00+01:00", T2026},
    {"2025-12-31T19:00:00-05:00", T2026},
    {"2026-01-01T05:30:00+05:30", T2026},
    {"2026-01-01T23:59:00+23:59", T2026},
    {"2025-12-31T00:01:00-23:59", T2026},
    /* Fractions: milliseconds kept, finer digits dropped (not rounded). */
    {"2026-01-01T00:00:00.250Z", T2026 + 250},
    {"2026-01-01T00:00:00.5Z", T2026 + 500},
    {"2026-01-01T00:00:00.05Z", T2026 + 50},
    {"2026-01-01T00:00:00.123456789Z", T2026 + 123},
    {"2026-01-01T00:00:00.9999Z", T2026 + 999},
    {"2026-01-01T01:00:00.750+01:00", T2026 + 750},
    /* The epoch and both sides of it; the range of four-digit years. */
    {"1970-01-01T00:00:00Z", 0},
    {"1969-12-31T23:59:59.500Z", -500},
    {"0000-01-01T00:00:00Z", -62167219200000LL},
    {"9999-12-31T23:59:59.999Z", 253402300799999LL},
    /* Leap days: every 4 years, not every 100, every 400. */
    {"2024-02-29T00:00:00Z", 1709164800000LL},
    {"2000-02-29T00:00:00Z", 951782400000LL},
    {"2026-02-28T23:59:59Z", 1772323199000LL},
    {"2026-12-31T23:59:59Z", 1798761599000LL},
    /* A leap second reads as the start of the next second. */
    {"2016-12-31T23:59:60Z", 1483228800000LL},
    {"2017-01-01T00:59:60+01:00", 1483228800000LL},
    /* DST edges in Stockholm: the offset decides, not a zone database. On
     * 2026-03-29 local 02:00+01:00 jumps to 03:00+02:00 (both 01:00Z);
     * on 2026-10-25 local 02:30 happens twice, an hour apart. */
    {"2026-03-29T01:59:59+01:00", 1774745999000LL},
    {"2026-03-29T03:00:00+02:00", 1774746000000LL},
    {"2026-03-29T02:00:00+01:00", 1774746000000LL},
    {"2026-10-25T02:30:00+02:00", 1792888200000LL},
    {"2026-10-25T02:30:00+01:00", 1792891800000LL},
    /* Unix seconds. */
    {"0", 0},
    {"1767225600", T2026},
    {"1767225600.5", T2026 + 500},
    {"1767225600.001", T2026 + 1},
    {"1767225600.999999", T2026 + 999},
    {"1767225600.0", T2026},
    {"-1.5", -1500},
    {"-0", 0},
    {"0000001767225600", T2026},
    {"10000000000000", 10000000000000000LL}, /* the largest accepted: 1e13 s */
    {"-10000000000000", -10000000000000000LL},
    {"2026", 2026000}, /* four digits and no '-': seconds, not a year */
};

static const char *const times_invalid[] = {
    "",
    "yesterday",
    "now",
    /* RFC 3339 shapes cut short or padded. */
    "2026-01-01",
    "2026-01-01T00:00Z",
    "2026-01-01T00:00:00",    /* no zone */
    "2026-01-01T00:00:00 Z",
    "2026-01-01T00:00:00Zjunk",
    "2026-01-01T00:00:00Z ",
    "2026-01-01T00:00:00Z\n",
    " 2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00.Z",
    "2026-01-01T00:00:00,5Z",
    "2026-1-01T00:00:00Z",
    "2026-01-1T00:00:00Z",
    "2026-01-01T0:00:00Z",
    "2026-01-01X00:00:00Z",
    "2026/01/01T00:00:00Z",
    "20260101T000000Z",
    "+2026-01-01T00:00:00Z",
    "-2026-01-01T00:00:00Z",
    "12026-01-01T00:00:00Z",
    /* Fields out of range. */
    "2026-00-10T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-01-00T00:00:00Z",
    "2026-01-32T00:00:00Z",
    "2026-02-29T00:00:00Z", /* not a leap year */
    "1900-02-29T00:00:00Z", /* divisible by 100, not by 400 */
    "2024-02-30T00:00:00Z",
    "2026-04-31T00:00:00Z",
    "2026-06-31T00:00:00Z",
    "2026-09-31T00:00:00Z",
    "2026-11-31T00:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T23:60:00Z",
    "2026-01-01T23:59:61Z",
    /* Offsets. */
    "2026-01-01T00:00:00+24:00",
    "2026-01-01T00:00:00-24:00",
    "2026-01-01T00:00:00+99:99",
    "2026-01-01T00:00:00+05:60",
    "2026-01-01T00:00:00+0100",
    "2026-01-01T00:00:00+01",
    "2026-01-01T00:00:00+1:00",
    "2026-01-01T00:00:00+01:00:00",
    "2026-01-01T00:00:00+01:00Z",
    "2026-01-01T00:00:00UTC",
    /* Unix seconds: plain decimal only. */
    " 1767225600",
    "1767225600 ",
    "1767225600\t",
    "+1767225600",
    "--1",
    "-",
    ".",
    "1.",
    ".5",
    "1..5",
    "1.5.2",
    "1e9",
    "1E9",
    "0x10",
    "0x1p4",
    "inf",
    "infinity",
    "nan",
    "1_000",
    "1,5",
    "10000000000001",        /* past 1e13 s */
    "-10000000000001",
    "99999999999999999999999999999999999999",
    "1767225600s",
};

static void times_parse_rfc3339_and_unix_seconds(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < ARRAY_LEN(times_valid); i++) {
        int64_t ms = -42;
        if (util_parse_time_ms(times_valid[i].text, &ms) != 0)
            fail_msg("'%s': rejected", times_valid[i].text);
        if (ms != times_valid[i].ms)
            fail_msg("'%s': %lld, want %lld", times_valid[i].text, (long long)ms,
                     (long long)times_valid[i].ms);
    }
}

static void times_reject_garbage_and_fields_out_of_range(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < ARRAY_LEN(times_invalid); i++) {
        int64_t ms = -42;
        if (util_parse_time_ms(times_invalid[i], &ms) == 0)
            fail_msg("'%s': accepted as %lld", times_invalid[i], (long long)ms);
        assert_int_equal(ms, -42); /* untouched on error */
    }
    int64_t ms;
    assert_int_equal(util_parse_time_ms(NULL, &ms), -1);
}

static void times_format_as_rfc3339_utc_and_read_back(void **unused)
{
    (void)unused;
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {0, "1970-01-01T00:00:00Z"},
        {-500, "1969-12-31T23:59:59.500Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {T2026 + 250, "2026-01-01T00:00:00.250Z"},
        {T2026 + 7, "2026-01-01T00:00:00.007Z"},
        {1709164800000LL, "2024-02-29T00:00:00Z"},
        {-62167219200000LL, "0000-01-01T00:00:00Z"},
        {253402300799999LL, "9999-12-31T23:59:59.999Z"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char buf[32];
        util_format_rfc3339(cases[i].ms, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
        int64_t back;
        assert_int_equal(util_parse_time_ms(buf, &back), 0);
        assert_int_equal(back, cases[i].ms);
    }
    /* Every ms of a day-crossing second, and a spread over the years. */
    for (int64_t ms = T2026 - 1000; ms <= T2026 + 1000; ms++) {
        char buf[32];
        int64_t back;
        util_format_rfc3339(ms, buf, sizeof buf);
        assert_int_equal(util_parse_time_ms(buf, &back), 0);
        assert_int_equal(back, ms);
    }
    for (int64_t ms = -62167219200000LL; ms < 253402300799999LL; ms += 86399999LL * 37) {
        char buf[32];
        int64_t back;
        util_format_rfc3339(ms, buf, sizeof buf);
        if (util_parse_time_ms(buf, &back) != 0 || back != ms)
            fail_msg("%lld formats as %s, reads back as %lld", (long long)ms, buf,
                     (long long)back);
    }
}

/* util_utf8_len against Unicode's table of well-formed sequences, at both
 * ends of every range; util_utf8_sanitize marks each byte outside one. */
static void utf8_lengths_follow_the_well_formed_table_and_sanitize_marks_the_rest(void **unused)
{
    (void)unused;
    static const struct {
        const char *s;
        size_t len;
    } cases[] = {
        {"a", 1}, {"\x7F", 1}, {"\xC2\x80", 2}, {"\xDF\xBF", 2}, {"\xE0\xA0\x80", 3},
        {"\xE0\xBF\xBF", 3}, {"\xE1\x80\x80", 3}, {"\xEC\xBF\xBF", 3}, {"\xED\x80\x80", 3},
        {"\xED\x9F\xBF", 3}, {"\xEE\x80\x80", 3}, {"\xEF\xBF\xBF", 3},
        {"\xF0\x90\x80\x80", 4}, {"\xF0\xBF\xBF\xBF", 4}, {"\xF1\x80\x80\x80", 4},
        {"\xF3\xBF\xBF\xBF", 4}, {"\xF4\x80\x80\x80", 4}, {"\xF4\x8F\xBF\xBF", 4},
        /* continuation alone; overlong; surrogates; past U+10FFFF; cut short */
        {"\x80", 0}, {"\xBF", 0}, {"\xC0\x80", 0}, {"\xC1\xBF", 0}, {"\xE0\x9F\xBF", 0},
        {"\xED\xA0\x80", 0}, {"\xED\xBF\xBF", 0}, {"\xF0\x8F\xBF\xBF", 0},
        {"\xF4\x90\x80\x80", 0}, {"\xF5\x80\x80\x80", 0}, {"\xFF", 0}, {"\xC3", 0},
        {"\xE2\x82", 0}, {"\xF0\x9F\x98", 0}, {"\xC3\x41", 0}, {"\xE2\x28\xA1", 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t got = util_utf8_len(cases[i].s, strlen(cases[i].s));
        if (got != cases[i].len)
            fail_msg("case %zu: length %zu, want %zu", i, got, cases[i].len);
    }
    /* The length given is a limit: a sequence running past it is none. */
    assert_int_equal(util_utf8_len("\xC3\xA9", 1), 0);
    assert_int_equal(util_utf8_len("a", 0), 0);

    char s[] = "caf\xC3\xA9 \xE9t\xE9 \xF0\x9F\x98\x80\xF0\x9F\x98";
    util_utf8_sanitize(s);
    assert_string_equal(s, "caf\xC3\xA9 ?t? \xF0\x9F\x98\x80???");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations_parse_every_documented_form),
        cmocka_unit_test(durations_reject_garbage_naming_it),
        cmocka_unit_test(durations_format_compactly_and_read_back),
        cmocka_unit_test(times_parse_rfc3339_and_unix_seconds),
        cmocka_unit_test(times_reject_garbage_and_fields_out_of_range),
        cmocka_unit_test(times_format_as_rfc3339_utc_and_read_back),
        cmocka_unit_test(utf8_lengths_follow_the_well_formed_table_and_sanitize_marks_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
