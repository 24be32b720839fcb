/*
 * mb_decode — see mb_decode.h. Pure functions: bytes in, numbers or a
 * reason out; nothing here touches a socket or a clock.
 */
#include "collectors/mb_decode.h"

#include <math.h>
#include <string.h>

#include "lib/util.h"

const char *mb_type_name(enum mb_type type)
{
    static const char *const names[] = {
        [MB_TYPE_UINT16] = "uint16", [MB_TYPE_INT16] = "int16",     [MB_TYPE_UINT32] = "uint32",
        [MB_TYPE_INT32] = "int32",   [MB_TYPE_FLOAT32] = "float32", [MB_TYPE_UINT64] = "uint64",
        [MB_TYPE_INT64] = "int64",   [MB_TYPE_FLOAT64] = "float64", [MB_TYPE_BOOL] = "bool",
    };
    return (unsigned)type < ARRAY_LEN(names) ? names[type] : "?";
}

const char *mb_order_name(enum mb_order order)
{
    static const char *const names[] = {[MB_ORDER_ABCD] = "ABCD",
                                        [MB_ORDER_DCBA] = "DCBA",
                                        [MB_ORDER_BADC] = "BADC",
                                        [MB_ORDER_CDAB] = "CDAB"};
    return (unsigned)order < ARRAY_LEN(names) ? names[order] : "?";
}

const char *mb_table_name(enum mb_table table)
{
    static const char *const names[] = {[MB_TABLE_HOLDING] = "holding",
                                        [MB_TABLE_INPUT] = "input",
                                        [MB_TABLE_COIL] = "coil",
                                        [MB_TABLE_DISCRETE] = "discrete"};
    return (unsigned)table < ARRAY_LEN(names) ? names[table] : "?";
}

/* Reassembles the value's bytes A.. (most significant first) from n
 * registers and returns them as one unsigned integer. Every order is a
 * combination of two independent moves: reversing the word order (CDAB,
 * DCBA) and swapping the two bytes inside each word (BADC, DCBA). */
static uint64_t assemble(const uint16_t *words, unsigned n, enum mb_order order)
{
    bool reverse_words = order == MB_ORDER_CDAB || order == MB_ORDER_DCBA;
    bool swap_bytes = order == MB_ORDER_BADC || order == MB_ORDER_DCBA;
    if (n == 1)
        reverse_words = swap_bytes = false; /* see the header: order is for multi-register values */
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        uint16_t w = words[reverse_words ? n - 1 - i : i];
        if (swap_bytes)
            w = (uint16_t)((w >> 8) | (w << 8));
        v = (v << 16) | w;
    }
    return v;
}

static int check_float(double d, const char *type, uint64_t bits, unsigned n, char *err,
                       size_t errlen)
{
    if (isnan(d))
        return errf(err, errlen, "%s is NaN (raw 0x%0*llx)", type, (int)(n * 4),
                    (unsigned long long)bits);
    if (isinf(d))
        return errf(err, errlen, "%s is %sinfinite (raw 0x%0*llx)", type, d < 0 ? "-" : "+",
                    (int)(n * 4), (unsigned long long)bits);
    return 0;
}

int mb_decode_raw(const uint16_t *words, enum mb_type type, enum mb_order order, int bit,
                  double *raw, char *err, size_t errlen)
{
    if (bit >= 0) {
        if (bit > 15)
            return errf(err, errlen, "bit %d is outside a 16-bit register", bit);
        *raw = (words[0] >> bit) & 1u;
        return 0;
    }
    unsigned n = cfg_mb_type_registers(type);
    uint64_t u = assemble(words, n, order);
    switch (type) {
    case MB_TYPE_BOOL:
        *raw = u != 0;
        return 0;
    case MB_TYPE_UINT16:
    case MB_TYPE_UINT32:
    case MB_TYPE_UINT64:
        /* uint64 above 2^53 loses its low bits in a double: acceptable for
         * telemetry, and the only representation metrics have. */
        *raw = (double)u;
        return 0;
    case MB_TYPE_INT16:
        *raw = (int16_t)(uint16_t)u;
        return 0;
    case MB_TYPE_INT32:
        *raw = (int32_t)(uint32_t)u;
        return 0;
    case MB_TYPE_INT64:
        /* Two's complement without the implementation-defined
         * unsigned-to-signed conversion: a negative value is minus its
         * magnitude, 2^64 - u, which rounds like the positive one does. */
        *raw = u <= (uint64_t)INT64_MAX ? (double)(int64_t)u : -(double)(0 - u);
        return 0;
    case MB_TYPE_FLOAT32: {
        uint32_t b = (uint32_t)u;
        float f;
        memcpy(&f, &b, sizeof f);
        if (check_float(f, "float32", u, n, err, errlen) != 0)
            return -1;
        *raw = f;
        return 0;
    }
    case MB_TYPE_FLOAT64: {
        double d;
        memcpy(&d, &u, sizeof d);
        if (check_float(d, "float64", u, n, err, errlen) != 0)
            return -1;
        *raw = d;
        return 0;
    }
    }
    return errf(err, errlen, "unknown type %d", (int)type);
}

int mb_decode_scale(double raw, double scale, double offset, double *value, char *err,
                    size_t errlen)
{
    double v = raw * scale + offset;
    if (!isfinite(v))
        return errf(err, errlen, "%.17g * %.17g + %.17g is not a finite number", raw, scale,
                    offset);
    *value = v;
    return 0;
}

int mb_decode_register_point(const struct cfg_mb_point *p, const uint16_t *words, double *value,
                             char *err, size_t errlen)
{
    double raw;
    if (mb_decode_raw(words, p->type, p->order, p->bit, &raw, err, errlen) != 0)
        return -1;
    return mb_decode_scale(raw, p->scale, p->offset, value, err, errlen);
}

int mb_decode_bit_point(const struct cfg_mb_point *p, uint8_t bit, double *value, char *err,
                        size_t errlen)
{
    return mb_decode_scale(bit ? 1.0 : 0.0, p->scale, p->offset, value, err, errlen);
}

/* ---- reply frames ---- */

const char *mb_exception_name(int code)
{
    static const char *const names[] = {
        [1] = "Illegal function",
        [2] = "Illegal data address",
        [3] = "Illegal data value",
        [4] = "Slave device or server failure",
        [5] = "Acknowledge",
        [6] = "Slave device or server is busy",
        [7] = "Negative acknowledge",
        [8] = "Memory parity error",
        [10] = "Gateway path unavailable",
        [11] = "Target device failed to respond",
    };
    if (code < 0 || (size_t)code >= ARRAY_LEN(names))
        return NULL;
    return names[code];
}

enum mb_reply_status mb_reply_parse(const uint8_t *frame, size_t len,
                                    const struct mb_reply_expect *expect, uint16_t *words,
                                    uint8_t *bits, int *exception, char *err, size_t errlen)
{
    const size_t header = expect->tcp ? 7 : 1;
    const size_t trailer = expect->tcp ? 0 : 2; /* RTU CRC, checked by libmodbus */
    if (len < header + 1 + trailer)
        return errf(err, errlen, "reply of %zu bytes is too short", len);
    if (expect->tcp) {
        unsigned tid = (unsigned)frame[0] << 8 | frame[1];
        unsigned proto = (unsigned)frame[2] << 8 | frame[3];
        unsigned mbap_len = (unsigned)frame[4] << 8 | frame[5];
        if (tid != expect->transaction_id)
            return errf(err, errlen, "reply to transaction %u, expected %u", tid,
                        (unsigned)expect->transaction_id);
        if (proto != 0)
            return errf(err, errlen, "reply with protocol id %u, not Modbus (0)", proto);
        if (mbap_len != len - 6)
            return errf(err, errlen, "reply header announces %u bytes but %zu arrived", mbap_len,
                        len - 6);
    }
    unsigned unit = frame[header - 1];
    if (unit != expect->unit_id)
        return errf(err, errlen, "reply from unit %u, expected unit %u", unit,
                    (unsigned)expect->unit_id);

    const uint8_t *pdu = frame + header;
    size_t pdu_len = len - header - trailer;
    unsigned function = pdu[0];
    if (function == (expect->function | 0x80u)) {
        if (pdu_len != 2)
            return errf(err, errlen, "exception reply of %zu bytes, expected 2", pdu_len);
        const char *name = mb_exception_name(pdu[1]);
        *exception = pdu[1];
        if (name)
            errf(err, errlen, "%s", name);
        else
            errf(err, errlen, "unknown exception code %u", (unsigned)pdu[1]);
        return MB_REPLY_EXCEPTION;
    }
    if (function != expect->function)
        return errf(err, errlen, "reply has function code 0x%02x, expected 0x%02x", function,
                    (unsigned)expect->function);

    bool registers = expect->function == 3 || expect->function == 4;
    size_t want = registers ? 2u * expect->count : (expect->count + 7u) / 8u;
    if (pdu_len < 2)
        return errf(err, errlen, "reply has no byte count");
    size_t byte_count = pdu[1];
    if (byte_count != pdu_len - 2)
        return errf(err, errlen, "reply byte count %zu but %zu data bytes arrived", byte_count,
                    pdu_len - 2);
    if (byte_count != want) {
        if (registers)
            return errf(err, errlen, "reply carries %zu bytes (%zu registers), asked for %u",
                        byte_count, byte_count / 2, (unsigned)expect->count);
        return errf(err, errlen, "reply carries %zu bytes of bits, asked for %u bits (%zu bytes)",
                    byte_count, (unsigned)expect->count, want);
    }
    const uint8_t *data = pdu + 2;
    for (unsigned i = 0; i < expect->count; i++) {
        if (registers && words)
            words[i] = (uint16_t)(data[2 * i] << 8 | data[2 * i + 1]);
        else if (!registers && bits)
            bits[i] = (data[i / 8] >> (i % 8)) & 1u;
    }
    return MB_REPLY_OK;
}
