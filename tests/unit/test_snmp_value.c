/*
 * Unit tests for collectors/snmp_value.c: varbind values to numbers, OID
 * text, and the metric names of walked rows. Table-driven; every table
 * row names the behaviour it pins down.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "collectors/snmp_value.h"

#include <net-snmp/library/asn1.h>
#include <net-snmp/library/snmp.h>
#include <net-snmp/library/snmp_impl.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static void expect_number(const char *what, int rc, double got, double want, const char *reason)
{
    if (rc != 0)
        fail_msg("%s: expected %.17g, got error \"%s\"", what, want, reason);
    if (!(got == want))
        fail_msg("%s: expected %.17g, got %.17g", what, want, got);
}

static void expect_reason(const char *what, int rc, const char *reason, const char *want)
{
    if (rc != -1)
        fail_msg("%s: expected error \"%s\", got success", what, want);
    if (strcmp(reason, want) != 0)
        fail_msg("%s: expected reason \"%s\", got \"%s\"", what, want, reason);
}

/* ---- integers ---- */

static void integer_family_types_convert_exactly(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        unsigned char type;
        long raw;
        double want;
    } cases[] = {
        {"negative INTEGER keeps its sign", ASN_INTEGER, -40, -40},
        {"largest INTEGER", ASN_INTEGER, 2147483647L, 2147483647.0},
        {"smallest INTEGER", ASN_INTEGER, -2147483647L - 1, -2147483648.0},
        {"Gauge32 above 2^31 stays unsigned", ASN_GAUGE, 4000000000L, 4000000000.0},
        {"Unsigned32 maximum", ASN_UNSIGNED, 4294967295L, 4294967295.0},
        {"Counter32 ignores bits above 32", ASN_COUNTER, 0x1FFFFFFFFL, 4294967295.0},
        {"Counter32 from a sign-extended long", ASN_COUNTER, -1L, 4294967295.0},
        {"TimeTicks are raw hundredths", ASN_TIMETICKS, 8640000L, 8640000.0},
        {"obsolete UInteger32", ASN_UINTEGER, 7L, 7.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double got = -1;
        char reason[160] = "";
        int rc = snmp_value_to_double(cases[i].type, &cases[i].raw, sizeof(long), &got, reason,
                                      sizeof reason);
        expect_number(cases[i].name, rc, got, cases[i].want, reason);
    }
}

static void counter64_is_exact_up_to_2_pow_53_and_rounded_beyond(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        unsigned char type;
        unsigned long high, low;
        double want;
    } cases[] = {
        {"zero", ASN_COUNTER64, 0, 0, 0.0},
        {"carry into the high word", ASN_COUNTER64, 1, 0, 4294967296.0},
        {"2^53 - 1 exact", ASN_COUNTER64, 0x1FFFFF, 0xFFFFFFFF, 9007199254740991.0},
        {"2^53 exact", ASN_COUNTER64, 0x200000, 0, 9007199254740992.0},
        {"2^53 + 1 rounds to 2^53", ASN_COUNTER64, 0x200000, 1, 9007199254740992.0},
        {"2^53 + 2 exact again", ASN_COUNTER64, 0x200000, 2, 9007199254740994.0},
        {"2^64 - 1 rounds to 2^64", ASN_COUNTER64, 0xFFFFFFFF, 0xFFFFFFFF, 18446744073709551616.0},
        {"Opaque Counter64 like Counter64", ASN_OPAQUE_COUNTER64, 2, 5, 8589934597.0},
        {"Opaque U64 like Counter64", ASN_OPAQUE_U64, 0, 77, 77.0},
        {"Opaque I64 is signed", ASN_OPAQUE_I64, 0xFFFFFFFF, 0xFFFFFFFE, -2.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct counter64 c = {cases[i].high, cases[i].low};
        double got = -1;
        char reason[160] = "";
        int rc = snmp_value_to_double(cases[i].type, &c, sizeof c, &got, reason, sizeof reason);
        expect_number(cases[i].name, rc, got, cases[i].want, reason);
    }
}

static void opaque_floats_convert_and_non_finite_ones_are_refused(void **state)
{
    (void)state;
    float f = 21.25f;
    double d = -0.125, got = 0;
    char reason[160] = "";
    int rc = snmp_value_to_double(ASN_OPAQUE_FLOAT, &f, sizeof f, &got, reason, sizeof reason);
    expect_number("Opaque Float", rc, got, 21.25, reason);
    rc = snmp_value_to_double(ASN_OPAQUE_DOUBLE, &d, sizeof d, &got, reason, sizeof reason);
    expect_number("Opaque Double", rc, got, -0.125, reason);
    f = NAN;
    rc = snmp_value_to_double(ASN_OPAQUE_FLOAT, &f, sizeof f, &got, reason, sizeof reason);
    expect_reason("NaN Opaque Float", rc, reason, "Opaque Float is not finite");
    d = INFINITY;
    rc = snmp_value_to_double(ASN_OPAQUE_DOUBLE, &d, sizeof d, &got, reason, sizeof reason);
    expect_reason("infinite Opaque Double", rc, reason, "Opaque Double is not finite");
}

static void value_of_the_wrong_size_is_refused_not_read(void **state)
{
    (void)state;
    unsigned char bytes[16] = {0};
    double got = 0;
    char reason[160] = "";
    int rc = snmp_value_to_double(ASN_INTEGER, bytes, 4, &got, reason, sizeof reason);
    char want[160];
    snprintf(want, sizeof want, "INTEGER value of 4 bytes (expected %zu)", sizeof(long));
    expect_reason("short INTEGER", rc, reason, want);
    rc = snmp_value_to_double(ASN_COUNTER64, bytes, 8, &got, reason, sizeof reason);
    snprintf(want, sizeof want, "Counter64 value of 8 bytes (expected %zu)",
             sizeof(struct counter64));
    expect_reason("short Counter64", rc, reason, want);
    rc = snmp_value_to_double(ASN_GAUGE, NULL, sizeof(long), &got, reason, sizeof reason);
    snprintf(want, sizeof want, "Gauge32 value of %zu bytes (expected %zu)", sizeof(long),
             sizeof(long));
    expect_reason("missing Gauge32", rc, reason, want);
}

/* ---- OCTET STRING ---- */

static void numeric_strings_convert(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *text;
        size_t len; /* 0 = strlen */
        double want;
    } cases[] = {
        {"decimal", "23.5", 0, 23.5},
        {"surrounding blanks", "  -4 \r\n", 0, -4},
        {"plus sign", "+7", 0, 7},
        {"leading point", ".5", 0, 0.5},
        {"trailing point", "5.", 0, 5},
        {"exponent", "1.5e3", 0, 1500},
        {"negative exponent", "25E-1", 0, 2.5},
        {"C-style terminating NUL from the agent", "230\0", 4, 230},
        {"leading zeros", "007", 0, 7},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        double got = -1;
        char reason[160] = "";
        int rc =
            snmp_value_to_double(ASN_OCTET_STR, cases[i].text, len, &got, reason, sizeof reason);
        expect_number(cases[i].name, rc, got, cases[i].want, reason);
    }
}

static void strings_that_are_not_plain_numbers_give_a_reason(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *text;
        size_t len; /* 0 = strlen */
        const char *reason;
    } cases[] = {
        {"empty", "", 0, "empty OCTET STRING is not a number"},
        {"only blanks", "   ", 0, "empty OCTET STRING is not a number"},
        {"word", "online", 0, "OCTET STRING \"online\" is not a number"},
        {"number with unit", "23.5 C", 0, "OCTET STRING \"23.5 C\" is not a number"},
        {"hex", "0x1A", 0, "OCTET STRING \"0x1A\" is not a number"},
        {"infinity", "inf", 0, "OCTET STRING \"inf\" is not a number"},
        {"nan", "nan", 0, "OCTET STRING \"nan\" is not a number"},
        {"dangling exponent", "1e", 0, "OCTET STRING \"1e\" is not a number"},
        {"double sign", "--1", 0, "OCTET STRING \"--1\" is not a number"},
        {"decimal comma", "1,5", 0, "OCTET STRING \"1,5\" is not a number"},
        {"lone point", ".", 0, "OCTET STRING \".\" is not a number"},
        {"overflow", "1e999", 0, "OCTET STRING \"1e999\" is out of range"},
        {"control bytes are masked", "\x01\x02\"x", 0, "OCTET STRING \"???x\" is not a number"},
        {"embedded NUL", "1\0002", 3, "OCTET STRING \"1?2\" is not a number"},
        {"long text is cut", "abcdefghijklmnopqrstuvwxyz0123", 0,
         "OCTET STRING \"abcdefghijklmnopqrstuvwx...\" is not a number"},
        {"more digits than any reading has",
         "12345678901234567890123456789012345678901234567890123456789012345", 0,
         "OCTET STRING \"123456789012345678901234...\" is too long to be a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        double got = 0;
        char reason[160] = "";
        int rc =
            snmp_value_to_double(ASN_OCTET_STR, cases[i].text, len, &got, reason, sizeof reason);
        expect_reason(cases[i].name, rc, reason, cases[i].reason);
    }
}

/* ---- exceptions and other types ---- */

static void exceptions_and_non_numeric_types_give_a_reason(void **state)
{
    (void)state;
    static const struct {
        unsigned char type;
        const char *reason;
    } cases[] = {
        {SNMP_NOSUCHOBJECT, "noSuchObject"},
        {SNMP_NOSUCHINSTANCE, "noSuchInstance"},
        {SNMP_ENDOFMIBVIEW, "endOfMibView"},
        {ASN_IPADDRESS, "IpAddress is not a number"},
        {ASN_OBJECT_ID, "OBJECT IDENTIFIER is not a number"},
        {ASN_NULL, "NULL is not a number"},
        {ASN_OPAQUE, "Opaque is not a number"},
        {0x99, "unsupported type 0x99"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char bytes[8] = {10, 0, 0, 1};
        double got = 0;
        char reason[160] = "";
        int rc = snmp_value_to_double(cases[i].type, bytes, 4, &got, reason, sizeof reason);
        expect_reason(cases[i].reason, rc, reason, cases[i].reason);
    }
}

/* ---- OIDs ---- */

static void dotted_oids_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len;
        oid first, last;
    } cases[] = {
        {"1.3.6.1.2.1.33.1.2.4.0", 11, 1, 0},
        {".1.3.6.1.2.1.1.3.0", 9, 1, 0},
        {"1.3.6.1.4.1.4294967295", 7, 1, 4294967295UL},
        {"0.0", 2, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        oid name[MAX_OID_LEN];
        size_t len = 0;
        char err[160] = "";
        if (snmp_value_parse_oid(cases[i].text, name, MAX_OID_LEN, &len, err, sizeof err) != 0)
            fail_msg("%s: %s", cases[i].text, err);
        assert_int_equal(len, cases[i].len);
        assert_int_equal(name[0], cases[i].first);
        assert_int_equal(name[len - 1], cases[i].last);
    }
}

static void malformed_oids_are_refused_with_a_reason(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t max;
        const char *err;
    } cases[] = {
        {"", MAX_OID_LEN, "empty OID"},
        {"1", MAX_OID_LEN, "OID \"1\": needs at least two sub-identifiers"},
        {"1..3", MAX_OID_LEN, "OID \"1..3\": expected a number at offset 2"},
        {"1.3.", MAX_OID_LEN, "OID \"1.3.\": expected a number at offset 4"},
        {"iso.3", MAX_OID_LEN, "OID \"iso.3\": expected a number at offset 0"},
        {"1.3 .6", MAX_OID_LEN, "OID \"1.3 .6\": unexpected ' ' at offset 3"},
        {"-1.3", MAX_OID_LEN, "OID \"-1.3\": expected a number at offset 0"},
        {"1.3.4294967296", MAX_OID_LEN, "OID \"1.3.4294967296\": sub-identifier above 4294967295"},
        {"1.3.6.1", 3, "OID \"1.3.6.1\": more than 3 sub-identifiers"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        oid name[MAX_OID_LEN];
        size_t len = 0;
        char err[160] = "";
        int rc = snmp_value_parse_oid(cases[i].text, name, cases[i].max, &len, err, sizeof err);
        expect_reason(cases[i].text, rc, err, cases[i].err);
    }
}

static void oids_format_back_to_dotted_text_and_truncate_visibly(void **state)
{
    (void)state;
    oid name[MAX_OID_LEN];
    size_t len = 0;
    char buf[64];
    assert_int_equal(
        snmp_value_parse_oid("1.3.6.1.2.1.1.3.0", name, MAX_OID_LEN, &len, buf, sizeof buf), 0);
    snmp_value_format_oid(name, len, buf, sizeof buf);
    assert_string_equal(buf, "1.3.6.1.2.1.1.3.0");
    char small[10];
    snmp_value_format_oid(name, len, small, sizeof small);
    assert_string_equal(small, "1.3.6....");
}

/* ---- walk rows ---- */

static void walked_rows_get_their_index_in_the_metric_name(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *tmpl;
        const char *row; /* below root 1.3.6.1.4.1.99999.1.2 */
        const char *want;
    } cases[] = {
        {"single index", "power.pdu1.outlet{index}_w", "1.3.6.1.4.1.99999.1.2.7",
         "power.pdu1.outlet7_w"},
        {"two-part index joins with _", "power.pdu1.outlet{index}_w", "1.3.6.1.4.1.99999.1.2.1.2",
         "power.pdu1.outlet1_2_w"},
        {"index as its own segment", "sensors.{index}.temp_c", "1.3.6.1.4.1.99999.1.2.1004",
         "sensors.1004.temp_c"},
        {"every {index} replaced", "a{index}.b{index}", "1.3.6.1.4.1.99999.1.2.3", "a3.b3"},
        {"large sub-identifier", "x.y{index}", "1.3.6.1.4.1.99999.1.2.4294967295", "x.y4294967295"},
    };
    oid root[MAX_OID_LEN], row[MAX_OID_LEN];
    size_t root_len = 0, row_len = 0;
    char err[160] = "";
    assert_int_equal(snmp_value_parse_oid("1.3.6.1.4.1.99999.1.2", root, MAX_OID_LEN, &root_len,
                                          err, sizeof err),
                     0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        assert_int_equal(
            snmp_value_parse_oid(cases[i].row, row, MAX_OID_LEN, &row_len, err, sizeof err), 0);
        if (snmp_value_walk_metric(cases[i].tmpl, root, root_len, row, row_len, out, sizeof out,
                                   err, sizeof err) != 0)
            fail_msg("%s: %s", cases[i].name, err);
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("%s: expected %s, got %s", cases[i].name, cases[i].want, out);
    }
}

static void rows_outside_the_root_or_bad_names_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *tmpl;
        const char *row;
        size_t outlen;
        const char *err;
    } cases[] = {
        {"the root itself is no row", "a.b{index}", "1.3.6.1.4.1.99999.1.2", 256,
         "row OID is not below the walked root"},
        {"a neighbouring subtree", "a.b{index}", "1.3.6.1.4.1.99999.1.3.1", 256,
         "row OID is not below the walked root"},
        {"a shorter OID", "a.b{index}", "1.3.6.1", 256, "row OID is not below the walked root"},
        {"template with capitals", "Power.b{index}", "1.3.6.1.4.1.99999.1.2.1", 256,
         "\"Power.b1\" is not a valid metric name"},
        {"index landing in an empty segment", "a..{index}", "1.3.6.1.4.1.99999.1.2.1", 256,
         "\"a..1\" is not a valid metric name"},
        {"name longer than the buffer", "abcdefghij{index}", "1.3.6.1.4.1.99999.1.2.12345", 12,
         "metric name for index 12345 too long"},
        {"a template without {index} (the config refuses it)", "power.pdu1.outlet_w",
         "1.3.6.1.4.1.99999.1.2.3.4", 256, "metric template \"power.pdu1.outlet_w\" has no {index}"},
    };
    oid root[MAX_OID_LEN], row[MAX_OID_LEN];
    size_t root_len = 0, row_len = 0;
    char err[160] = "";
    assert_int_equal(snmp_value_parse_oid("1.3.6.1.4.1.99999.1.2", root, MAX_OID_LEN, &root_len,
                                          err, sizeof err),
                     0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        assert_int_equal(
            snmp_value_parse_oid(cases[i].row, row, MAX_OID_LEN, &row_len, err, sizeof err), 0);
        int rc = snmp_value_walk_metric(cases[i].tmpl, root, root_len, row, row_len, out,
                                        cases[i].outlen, err, sizeof err);
        expect_reason(cases[i].name, rc, err, cases[i].err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(integer_family_types_convert_exactly),
        cmocka_unit_test(counter64_is_exact_up_to_2_pow_53_and_rounded_beyond),
        cmocka_unit_test(opaque_floats_convert_and_non_finite_ones_are_refused),
        cmocka_unit_test(value_of_the_wrong_size_is_refused_not_read),
        cmocka_unit_test(numeric_strings_convert),
        cmocka_unit_test(strings_that_are_not_plain_numbers_give_a_reason),
        cmocka_unit_test(exceptions_and_non_numeric_types_give_a_reason),
        cmocka_unit_test(dotted_oids_parse),
        cmocka_unit_test(malformed_oids_are_refused_with_a_reason),
        cmocka_unit_test(oids_format_back_to_dotted_text_and_truncate_visibly),
        cmocka_unit_test(walked_rows_get_their_index_in_the_metric_name),
        cmocka_unit_test(rows_outside_the_root_or_bad_names_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
