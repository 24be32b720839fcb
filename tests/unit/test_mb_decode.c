/*
 * Unit tests of mb_decode: every type in every word/byte order from known
 * byte patterns, register bits, scale/offset, rejection of NaN/Inf, and the
 * reply-frame checks (unit id, exceptions, short and malformed replies).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collectors/mb_decode.h"

struct decode_case {
    const char *name;
    uint16_t words[4];
    enum mb_type type;
    enum mb_order order;
    int bit;
    int rc;             /* 0 or -1 */
    double value;       /* when rc == 0 */
    const char *reason; /* substring of err when rc == -1 */
};

#define F32_123_456 123.45600128173828 /* (float)123.456 = 0x42f6e979 */

/* clang-format off */
static const struct decode_case decode_cases[] = {
    /* float32 123.456 = bytes 42 f6 e9 79 (A B C D) */
    { "float32_abcd", { 0x42f6, 0xe979 }, MB_TYPE_FLOAT32, MB_ORDER_ABCD, -1, 0, F32_123_456,
      NULL },
    { "float32_cdab", { 0xe979, 0x42f6 }, MB_TYPE_FLOAT32, MB_ORDER_CDAB, -1, 0, F32_123_456,
      NULL },
    { "float32_badc", { 0xf642, 0x79e9 }, MB_TYPE_FLOAT32, MB_ORDER_BADC, -1, 0, F32_123_456,
      NULL },
    { "float32_dcba", { 0x79e9, 0xf642 }, MB_TYPE_FLOAT32, MB_ORDER_DCBA, -1, 0, F32_123_456,
      NULL },
    /* uint32 0x12345678 */
    { "uint32_abcd", { 0x1234, 0x5678 }, MB_TYPE_UINT32, MB_ORDER_ABCD, -1, 0, 305419896, NULL },
    { "uint32_cdab", { 0x5678, 0x1234 }, MB_TYPE_UINT32, MB_ORDER_CDAB, -1, 0, 305419896, NULL },
    { "uint32_badc", { 0x3412, 0x7856 }, MB_TYPE_UINT32, MB_ORDER_BADC, -1, 0, 305419896, NULL },
    { "uint32_dcba", { 0x7856, 0x3412 }, MB_TYPE_UINT32, MB_ORDER_DCBA, -1, 0, 305419896, NULL },
    { "uint32_max", { 0xffff, 0xffff }, MB_TYPE_UINT32, MB_ORDER_ABCD, -1, 0, 4294967295.0, NULL },
    /* int32 -2 = ff ff ff fe; -100000 = ff fe 79 60 */
    { "int32_abcd_neg", { 0xffff, 0xfffe }, MB_TYPE_INT32, MB_ORDER_ABCD, -1, 0, -2, NULL },
    { "int32_cdab_neg", { 0xfffe, 0xffff }, MB_TYPE_INT32, MB_ORDER_CDAB, -1, 0, -2, NULL },
    { "int32_badc_neg", { 0xfeff, 0x6079 }, MB_TYPE_INT32, MB_ORDER_BADC, -1, 0, -100000, NULL },
    { "int32_dcba_neg", { 0x6079, 0xfeff }, MB_TYPE_INT32, MB_ORDER_DCBA, -1, 0, -100000, NULL },
    { "int32_min", { 0x8000, 0x0000 }, MB_TYPE_INT32, MB_ORDER_ABCD, -1, 0, -2147483648.0, NULL },
    /* uint64 0x0102030405060708 */
    { "uint64_abcd", { 0x0102, 0x0304, 0x0506, 0x0708 }, MB_TYPE_UINT64, MB_ORDER_ABCD, -1, 0,
      72623859790382856.0, NULL },
    { "uint64_cdab", { 0x0708, 0x0506, 0x0304, 0x0102 }, MB_TYPE_UINT64, MB_ORDER_CDAB, -1, 0,
      72623859790382856.0, NULL },
    { "uint64_badc", { 0x0201, 0x0403, 0x0605, 0x0807 }, MB_TYPE_UINT64, MB_ORDER_BADC, -1, 0,
      72623859790382856.0, NULL },
    { "uint64_dcba", { 0x0807, 0x0605, 0x0403, 0x0201 }, MB_TYPE_UINT64, MB_ORDER_DCBA, -1, 0,
      72623859790382856.0, NULL },
    { "uint64_max", { 0xffff, 0xffff, 0xffff, 0xffff }, MB_TYPE_UINT64, MB_ORDER_ABCD, -1, 0,
      18446744073709551615.0, NULL },
    /* int64 -1234567890123 = ff ff fe e0 8e 04 fb 35 */
    { "int64_abcd_neg", { 0xffff, 0xfee0, 0x8e04, 0xfb35 }, MB_TYPE_INT64, MB_ORDER_ABCD, -1, 0,
      -1234567890123.0, NULL },
    { "int64_cdab_neg", { 0xfb35, 0x8e04, 0xfee0, 0xffff }, MB_TYPE_INT64, MB_ORDER_CDAB, -1, 0,
      -1234567890123.0, NULL },
    { "int64_badc_neg", { 0xffff, 0xe0fe, 0x048e, 0x35fb }, MB_TYPE_INT64, MB_ORDER_BADC, -1, 0,
      -1234567890123.0, NULL },
    { "int64_dcba_neg", { 0x35fb, 0x048e, 0xe0fe, 0xffff }, MB_TYPE_INT64, MB_ORDER_DCBA, -1, 0,
      -1234567890123.0, NULL },
    { "int64_minus_one", { 0xffff, 0xffff, 0xffff, 0xffff }, MB_TYPE_INT64, MB_ORDER_ABCD, -1, 0,
      -1, NULL },
    { "int64_min", { 0x8000, 0, 0, 0 }, MB_TYPE_INT64, MB_ORDER_ABCD, -1, 0, -9223372036854775808.0,
      NULL },
    /* -(2^60 + 384) lies exactly between two doubles: ties go to even */
    { "int64_negative_rounds_like_positive", { 0xefff, 0xffff, 0xffff, 0xfe80 }, MB_TYPE_INT64,
      MB_ORDER_ABCD, -1, 0, -1152921504606847488.0, NULL },
    { "int64_positive", { 0x0000, 0x0000, 0x0001, 0x0000 }, MB_TYPE_INT64, MB_ORDER_ABCD, -1, 0,
      65536, NULL },
    /* float64 123.456 = 40 5e dd 2f 1a 9f be 77; -2.5e-3 = bf 64 7a e1 47 ae 14 7b */
    { "float64_abcd", { 0x405e, 0xdd2f, 0x1a9f, 0xbe77 }, MB_TYPE_FLOAT64, MB_ORDER_ABCD, -1, 0,
      123.456, NULL },
    { "float64_cdab", { 0xbe77, 0x1a9f, 0xdd2f, 0x405e }, MB_TYPE_FLOAT64, MB_ORDER_CDAB, -1, 0,
      123.456, NULL },
    { "float64_badc", { 0x5e40, 0x2fdd, 0x9f1a, 0x77be }, MB_TYPE_FLOAT64, MB_ORDER_BADC, -1, 0,
      123.456, NULL },
    { "float64_dcba", { 0x77be, 0x9f1a, 0x2fdd, 0x5e40 }, MB_TYPE_FLOAT64, MB_ORDER_DCBA, -1, 0,
      123.456, NULL },
    { "float64_negative_abcd", { 0xbf64, 0x7ae1, 0x47ae, 0x147b }, MB_TYPE_FLOAT64, MB_ORDER_ABCD,
      -1, 0, -2.5e-3, NULL },
    /* 16-bit values are always big-endian registers: order does not apply */
    { "uint16_plain", { 0x1234 }, MB_TYPE_UINT16, MB_ORDER_ABCD, -1, 0, 4660, NULL },
    { "uint16_ignores_dcba", { 0x1234 }, MB_TYPE_UINT16, MB_ORDER_DCBA, -1, 0, 4660, NULL },
    { "uint16_ignores_badc", { 0xffff }, MB_TYPE_UINT16, MB_ORDER_BADC, -1, 0, 65535, NULL },
    { "int16_minus_one", { 0xffff }, MB_TYPE_INT16, MB_ORDER_ABCD, -1, 0, -1, NULL },
    { "int16_min", { 0x8000 }, MB_TYPE_INT16, MB_ORDER_CDAB, -1, 0, -32768, NULL },
    { "int16_max", { 0x7fff }, MB_TYPE_INT16, MB_ORDER_ABCD, -1, 0, 32767, NULL },
    /* register bits: 0x8005 has bits 0, 2 and 15 set */
    { "bit0_set", { 0x8005 }, MB_TYPE_BOOL, MB_ORDER_ABCD, 0, 0, 1, NULL },
    { "bit1_clear", { 0x8005 }, MB_TYPE_BOOL, MB_ORDER_ABCD, 1, 0, 0, NULL },
    { "bit2_set", { 0x8005 }, MB_TYPE_BOOL, MB_ORDER_ABCD, 2, 0, 1, NULL },
    { "bit14_clear", { 0x8005 }, MB_TYPE_BOOL, MB_ORDER_ABCD, 14, 0, 0, NULL },
    { "bit15_set", { 0x8005 }, MB_TYPE_BOOL, MB_ORDER_ABCD, 15, 0, 1, NULL },
    { "bit16_rejected", { 0xffff }, MB_TYPE_BOOL, MB_ORDER_ABCD, 16, -1, 0, "bit 16" },
    { "bool_register_nonzero", { 0x0100 }, MB_TYPE_BOOL, MB_ORDER_ABCD, -1, 0, 1, NULL },
    { "bool_register_zero", { 0x0000 }, MB_TYPE_BOOL, MB_ORDER_ABCD, -1, 0, 0, NULL },
    /* values that are not numbers */
    { "float32_nan", { 0x7fc0, 0x0000 }, MB_TYPE_FLOAT32, MB_ORDER_ABCD, -1, -1, 0,
      "float32 is NaN (raw 0x7fc00000)" },
    { "float32_nan_after_word_swap", { 0x0001, 0x7f80 }, MB_TYPE_FLOAT32, MB_ORDER_CDAB, -1, -1, 0,
      "float32 is NaN (raw 0x7f800001)" },
    { "float32_plus_inf", { 0x7f80, 0x0000 }, MB_TYPE_FLOAT32, MB_ORDER_ABCD, -1, -1, 0,
      "float32 is +infinite" },
    { "float32_minus_inf_dcba", { 0x0000, 0x80ff }, MB_TYPE_FLOAT32, MB_ORDER_DCBA, -1, -1, 0,
      "float32 is -infinite (raw 0xff800000)" },
    { "float64_nan", { 0x7ff8, 0, 0, 0 }, MB_TYPE_FLOAT64, MB_ORDER_ABCD, -1, -1, 0,
      "float64 is NaN (raw 0x7ff8000000000000)" },
    { "float64_inf_badc", { 0xf07f, 0, 0, 0 }, MB_TYPE_FLOAT64, MB_ORDER_BADC, -1, -1, 0,
      "float64 is +infinite" },
    /* the same bits that are NaN as a float are an ordinary integer */
    { "uint32_of_nan_bits", { 0x7fc0, 0x0000 }, MB_TYPE_UINT32, MB_ORDER_ABCD, -1, 0, 2143289344.0,
      NULL },
};
/* clang-format on */

static void decodes_every_type_and_order(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < sizeof decode_cases / sizeof decode_cases[0]; i++) {
        const struct decode_case *c = &decode_cases[i];
        double v = -12345;
        char err[128] = "";
        int rc = mb_decode_raw(c->words, c->type, c->order, c->bit, &v, err, sizeof err);
        if (rc != c->rc)
            fail_msg("%s: rc %d, want %d (%s)", c->name, rc, c->rc, err);
        if (rc == 0 && v != c->value)
            fail_msg("%s: value %.17g, want %.17g", c->name, v, c->value);
        if (rc != 0 && !strstr(err, c->reason))
            fail_msg("%s: reason '%s' lacks '%s'", c->name, err, c->reason);
    }
}

static void scale_and_offset_apply_after_decoding(void **unused)
{
    (void)unused;
    struct cfg_mb_point p = {.metric = "x",
                             .table = MB_TABLE_HOLDING,
                             .type = MB_TYPE_INT16,
                             .order = MB_ORDER_ABCD,
                             .bit = -1,
                             .scale = 0.5,
                             .offset = -10};
    const uint16_t minus_40 = 0xffd8;
    double v;
    char err[128];
    assert_int_equal(mb_decode_register_point(&p, &minus_40, &v, err, sizeof err), 0);
    assert_true(v == -30.0);

    p.type = MB_TYPE_UINT16;
    p.scale = 0.1;
    p.offset = 0;
    const uint16_t tenths = 215;
    assert_int_equal(mb_decode_register_point(&p, &tenths, &v, err, sizeof err), 0);
    assert_true(v == 215 * 0.1);

    /* a bit point is scaled too: 1 × 2 + 1 */
    p.bit = 3;
    p.scale = 2;
    p.offset = 1;
    const uint16_t bit3 = 0x0008;
    assert_int_equal(mb_decode_register_point(&p, &bit3, &v, err, sizeof err), 0);
    assert_true(v == 3.0);
}

static void scale_overflow_is_a_bad_value(void **unused)
{
    (void)unused;
    /* float64 1e308 × 10 overflows to +inf */
    struct cfg_mb_point p = {.metric = "x",
                             .table = MB_TABLE_HOLDING,
                             .type = MB_TYPE_FLOAT64,
                             .order = MB_ORDER_ABCD,
                             .bit = -1,
                             .scale = 10,
                             .offset = 0};
    const uint16_t big[4] = {0x7fe1, 0xccf3, 0x85eb, 0xc8a0}; /* 1e308 */
    double v = 0;
    char err[128] = "";
    assert_int_equal(mb_decode_register_point(&p, big, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a finite number"));
    p.scale = 1;
    assert_int_equal(mb_decode_register_point(&p, big, &v, err, sizeof err), 0);
    assert_true(v == 1e308);
}

static void coil_bits_decode_to_zero_or_one_scaled(void **unused)
{
    (void)unused;
    struct cfg_mb_point p = {.metric = "x",
                             .table = MB_TABLE_COIL,
                             .type = MB_TYPE_BOOL,
                             .bit = -1,
                             .scale = 1,
                             .offset = 0};
    double v;
    char err[64];
    assert_int_equal(mb_decode_bit_point(&p, 1, &v, err, sizeof err), 0);
    assert_true(v == 1.0);
    assert_int_equal(mb_decode_bit_point(&p, 0, &v, err, sizeof err), 0);
    assert_true(v == 0.0);
    assert_int_equal(mb_decode_bit_point(&p, 0xff, &v, err, sizeof err), 0);
    assert_true(v == 1.0);
    p.scale = -1;
    p.offset = 5;
    assert_int_equal(mb_decode_bit_point(&p, 1, &v, err, sizeof err), 0);
    assert_true(v == 4.0);
}

/* ---- reply frames ---- */

struct reply_case {
    const char *name;
    bool tcp;
    uint8_t function;
    uint16_t count;
    uint8_t frame[32];
    size_t len;
    enum mb_reply_status status;
    int exception;
    const char *reason; /* substring of err, or NULL */
    uint16_t words[4];  /* expected on OK (functions 3, 4) */
    uint8_t bits[12];   /* expected on OK (functions 1, 2) */
};

/* clang-format off */
static const struct reply_case reply_cases[] = {
    { "tcp_holding_ok", true, 3, 3,
      { 0, 0, 0, 0, 0, 9, 1, 3, 6, 0x12, 0x34, 0xff, 0xfe, 0x00, 0x07 }, 15, MB_REPLY_OK, 0, NULL,
      { 0x1234, 0xfffe, 0x0007 }, { 0 } },
    { "tcp_input_ok", true, 4, 1, { 0, 0, 0, 0, 0, 5, 1, 4, 2, 0xab, 0xcd }, 11, MB_REPLY_OK, 0,
      NULL, { 0xabcd }, { 0 } },
    { "tcp_coils_unpack_lsb_first", true, 1, 10, { 0, 0, 0, 0, 0, 5, 1, 1, 2, 0xa5, 0x02 }, 11,
      MB_REPLY_OK, 0, NULL, { 0 }, { 1, 0, 1, 0, 0, 1, 0, 1, 0, 1 } },
    { "rtu_holding_ok_crc_ignored", false, 3, 2, { 1, 3, 4, 0, 1, 0, 2, 0xaa, 0xbb }, 9,
      MB_REPLY_OK, 0, NULL, { 1, 2 }, { 0 } },
    { "wrong_unit_id", true, 3, 1, { 0, 0, 0, 0, 0, 5, 2, 3, 2, 0, 7 }, 11, MB_REPLY_MALFORMED, 0,
      "reply from unit 2, expected unit 1", { 0 }, { 0 } },
    { "rtu_wrong_unit_id", false, 3, 1, { 9, 3, 2, 0, 7, 0, 0 }, 7, MB_REPLY_MALFORMED, 0,
      "reply from unit 9, expected unit 1", { 0 }, { 0 } },
    { "wrong_transaction", true, 3, 1, { 0, 5, 0, 0, 0, 5, 1, 3, 2, 0, 7 }, 11, MB_REPLY_MALFORMED,
      0, "reply to transaction 5, expected 0", { 0 }, { 0 } },
    { "not_modbus_protocol", true, 3, 1, { 0, 0, 0, 1, 0, 5, 1, 3, 2, 0, 7 }, 11,
      MB_REPLY_MALFORMED, 0, "protocol id 1", { 0 }, { 0 } },
    { "mbap_length_lies", true, 3, 1, { 0, 0, 0, 0, 0, 9, 1, 3, 2, 0, 7 }, 11, MB_REPLY_MALFORMED,
      0, "announces 9 bytes but 5 arrived", { 0 }, { 0 } },
    { "exception_illegal_address", true, 3, 21, { 0, 0, 0, 0, 0, 3, 1, 0x83, 2 }, 9,
      MB_REPLY_EXCEPTION, 2, "Illegal data address", { 0 }, { 0 } },
    { "exception_busy", true, 4, 2, { 0, 0, 0, 0, 0, 3, 1, 0x84, 6 }, 9, MB_REPLY_EXCEPTION, 6,
      "Slave device or server is busy", { 0 }, { 0 } },
    { "exception_unknown_code", true, 3, 2, { 0, 0, 0, 0, 0, 3, 1, 0x83, 0x42 }, 9,
      MB_REPLY_EXCEPTION, 0x42, "unknown exception code 66", { 0 }, { 0 } },
    { "exception_for_other_function", true, 3, 2, { 0, 0, 0, 0, 0, 3, 1, 0x81, 2 }, 9,
      MB_REPLY_MALFORMED, 0, "function code 0x81, expected 0x03", { 0 }, { 0 } },
    { "exception_too_long", true, 3, 2, { 0, 0, 0, 0, 0, 4, 1, 0x83, 2, 0 }, 10, MB_REPLY_MALFORMED,
      0, "exception reply of 3 bytes", { 0 }, { 0 } },
    { "wrong_function", true, 3, 1, { 0, 0, 0, 0, 0, 5, 1, 4, 2, 0, 7 }, 11, MB_REPLY_MALFORMED, 0,
      "function code 0x04, expected 0x03", { 0 }, { 0 } },
    { "short_reply_fewer_registers", true, 3, 3, { 0, 0, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2 }, 13,
      MB_REPLY_MALFORMED, 0, "reply carries 4 bytes (2 registers), asked for 3", { 0 }, { 0 } },
    { "odd_byte_count", true, 3, 1, { 0, 0, 0, 0, 0, 4, 1, 3, 1, 7 }, 10, MB_REPLY_MALFORMED, 0,
      "reply carries 1 bytes (0 registers), asked for 1", { 0 }, { 0 } },
    { "byte_count_disagrees_with_data", true, 3, 1, { 0, 0, 0, 0, 0, 6, 1, 3, 2, 0, 7, 9 }, 12,
      MB_REPLY_MALFORMED, 0, "byte count 2 but 3 data bytes", { 0 }, { 0 } },
    { "coils_short", true, 1, 9, { 0, 0, 0, 0, 0, 4, 1, 1, 1, 0xff }, 10, MB_REPLY_MALFORMED, 0,
      "asked for 9 bits (2 bytes)", { 0 }, { 0 } },
    { "no_byte_count", true, 3, 1, { 0, 0, 0, 0, 0, 2, 1, 3 }, 8, MB_REPLY_MALFORMED, 0,
      "no byte count", { 0 }, { 0 } },
    { "header_only", true, 3, 1, { 0, 0, 0, 0, 0, 1, 1 }, 7, MB_REPLY_MALFORMED, 0, "too short",
      { 0 }, { 0 } },
    { "empty", true, 3, 1, { 0 }, 0, MB_REPLY_MALFORMED, 0, "too short", { 0 }, { 0 } },
    { "rtu_too_short", false, 3, 1, { 1, 3 }, 2, MB_REPLY_MALFORMED, 0, "too short", { 0 }, { 0 } },
};
/* clang-format on */

static void reply_frames_are_checked_against_the_request(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < sizeof reply_cases / sizeof reply_cases[0]; i++) {
        const struct reply_case *c = &reply_cases[i];
        struct mb_reply_expect exp = {.tcp = c->tcp,
                                      .transaction_id = 0,
                                      .unit_id = 1,
                                      .function = c->function,
                                      .count = c->count};
        uint16_t words[16] = {0};
        uint8_t bits[16] = {0};
        int exception = 0;
        char err[160] = "";
        enum mb_reply_status st =
            mb_reply_parse(c->frame, c->len, &exp, words, bits, &exception, err, sizeof err);
        if (st != c->status)
            fail_msg("%s: status %d, want %d (%s)", c->name, st, c->status, err);
        if (c->reason && !strstr(err, c->reason))
            fail_msg("%s: reason '%s' lacks '%s'", c->name, err, c->reason);
        if (st == MB_REPLY_EXCEPTION && exception != c->exception)
            fail_msg("%s: exception %d, want %d", c->name, exception, c->exception);
        if (st == MB_REPLY_OK && (c->function == 3 || c->function == 4))
            for (unsigned w = 0; w < c->count; w++)
                if (words[w] != c->words[w])
                    fail_msg("%s: word %u = 0x%04x, want 0x%04x", c->name, w, words[w],
                             c->words[w]);
        if (st == MB_REPLY_OK && (c->function == 1 || c->function == 2))
            for (unsigned b = 0; b < c->count; b++)
                if (bits[b] != c->bits[b])
                    fail_msg("%s: bit %u = %u, want %u", c->name, b, bits[b], c->bits[b]);
    }
}

static void exception_names_match_libmodbus_wording(void **unused)
{
    (void)unused;
    assert_string_equal(mb_exception_name(1), "Illegal function");
    assert_string_equal(mb_exception_name(2), "Illegal data address");
    assert_string_equal(mb_exception_name(6), "Slave device or server is busy");
    assert_string_equal(mb_exception_name(11), "Target device failed to respond");
    assert_null(mb_exception_name(0));
    assert_null(mb_exception_name(9));
    assert_null(mb_exception_name(12));
    assert_null(mb_exception_name(-1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decodes_every_type_and_order),
        cmocka_unit_test(scale_and_offset_apply_after_decoding),
        cmocka_unit_test(scale_overflow_is_a_bad_value),
        cmocka_unit_test(coil_bits_decode_to_zero_or_one_scaled),
        cmocka_unit_test(reply_frames_are_checked_against_the_request),
        cmocka_unit_test(exception_names_match_libmodbus_wording),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
