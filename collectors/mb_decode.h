/*
 * mb_decode — turns what a Modbus device sent into numbers, without I/O.
 *
 * Two layers, both pure functions of their input bytes:
 *   - mb_reply_parse() checks one reply frame (as libmodbus'
 *     modbus_receive_confirmation() hands it over) against the request it
 *     answers: unit id, function code, exception, byte count, MBAP header.
 *     The collector sends raw requests because libmodbus 3.1.6 does not
 *     compare the unit id of a TCP reply, and a gateway answering for the
 *     wrong unit must not pass for good data.
 *   - mb_decode_*() turn the register words or bits of a point into a
 *     double: every type of SPEC 2.1 in every word/byte order, register
 *     bits, then raw × scale + offset.
 *
 * Register words are host-order values of big-endian registers, as
 * libmodbus and mb_reply_parse() produce them. A value's bytes are named
 * A (most significant) .. D (or .. H for 64-bit values):
 *   ABCD  registers hold AB CD (big-endian, the Modbus default)
 *   CDAB  word order reversed:       CD AB  (64-bit: GH EF CD AB)
 *   BADC  bytes swapped in each word: BA DC (64-bit: BA DC FE HG)
 *   DCBA  fully reversed:             DC BA (64-bit: HG FE DC BA)
 * Order applies to multi-register values only; a 16-bit register is always
 * read big-endian, as the protocol defines it (SPEC 2.1: "order for
 * multi-register values").
 */
#ifndef FLOE_MB_DECODE_H
#define FLOE_MB_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

const char *mb_type_name(enum mb_type type);
const char *mb_order_name(enum mb_order order);
const char *mb_table_name(enum mb_table table);

/* Decodes the raw value of a register point. `words` holds
 * cfg_mb_type_registers(type) registers (1 when bit >= 0). bit 0..15 selects a
 * single bit (bit 0 = least significant) and gives 0 or 1; bit < 0 reads
 * the whole value (BOOL without a bit: 1 when the register is non-zero).
 * Returns 0, or -1 with a reason when the value is not a number (NaN or
 * infinite float) or the bit is out of range. */
int mb_decode_raw(const uint16_t *words, enum mb_type type, enum mb_order order, int bit,
                  double *raw, char *err, size_t errlen);

/* value = raw × scale + offset; -1 with a reason if that is not finite. */
int mb_decode_scale(double raw, double scale, double offset, double *value, char *err,
                    size_t errlen);

/* A holding/input point from the words of its registers (mb_decode_raw
 * then scale and offset). */
int mb_decode_register_point(const struct cfg_mb_point *p, const uint16_t *words, double *value,
                             char *err, size_t errlen);
/* A coil/discrete point from its bit (any non-zero byte is 1). */
int mb_decode_bit_point(const struct cfg_mb_point *p, uint8_t bit, double *value, char *err,
                        size_t errlen);

/* ---- reply frames ---- */

/* Modbus exception names (the wording libmodbus uses); NULL if unknown. */
const char *mb_exception_name(int code);

enum mb_reply_status {
    MB_REPLY_OK = 0,
    MB_REPLY_EXCEPTION = 1, /* a well-formed exception reply; *exception set */
    MB_REPLY_MALFORMED = -1 /* garbage: the link may be out of step */
};

struct mb_reply_expect {
    bool tcp;                /* MBAP header (7 bytes) vs RTU (unit byte ... 2 CRC bytes) */
    uint16_t transaction_id; /* TCP only */
    uint8_t unit_id;
    uint8_t function; /* 1 coils, 2 discretes, 3 holding, 4 input */
    uint16_t count;   /* registers or bits asked for, >= 1 */
};

/* Checks a whole reply frame (header, PDU and, for RTU, the CRC that
 * libmodbus has already verified) against the request. On MB_REPLY_OK
 * fills words[count] (functions 3, 4) or bits[count] (0/1; functions 1, 2);
 * the other array may be NULL. On MB_REPLY_EXCEPTION sets *exception and
 * writes its name to err; on MB_REPLY_MALFORMED writes what was wrong. */
enum mb_reply_status mb_reply_parse(const uint8_t *frame, size_t len,
                                    const struct mb_reply_expect *expect, uint16_t *words,
                                    uint8_t *bits, int *exception, char *err, size_t errlen);

#endif
