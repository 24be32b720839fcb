/*
 * Fuzz target for mb_decode: arbitrary words through every type, order and
 * bit, and arbitrary reply frames through mb_reply_parse for every function
 * and count. Input layout: byte 0 selects type/order/bit, byte 1 the
 * function and transport, bytes 2-3 the count, the rest is the frame (and
 * its first 8 bytes the words).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/mb_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint8_t sel = data[0], fsel = data[1];
    uint16_t count = (uint16_t)(data[2] << 8 | data[3]);
    const uint8_t *rest = data + 4;
    size_t rest_len = size - 4;

    uint16_t words[4] = {0};
    for (size_t i = 0; i < 8 && i < rest_len; i++)
        words[i / 2] = (uint16_t)(words[i / 2] | rest[i] << (i % 2 ? 0 : 8));
    enum mb_type type = (enum mb_type)(sel % 9);
    enum mb_order order = (enum mb_order)(sel / 9 % 4);
    int bit = (sel & 0x80) ? (int)(sel % 17) : -1; /* 16 is out of range on purpose */
    double raw = 0, value = 0;
    char err[200];
    if (mb_decode_raw(words, type, order, bit, &raw, err, sizeof err) == 0) {
        if (!isfinite(raw))
            abort(); /* the decoder promises finite raw values */
        struct cfg_mb_point p = {.metric = "fuzz",
                                 .table = MB_TABLE_HOLDING,
                                 .type = type,
                                 .order = order,
                                 .bit = bit,
                                 .scale = 1e300,
                                 .offset = -1};
        if (mb_decode_register_point(&p, words, &value, err, sizeof err) == 0 && !isfinite(value))
            abort();
    } else if (!memchr(err, '\0', sizeof err) || err[0] == '\0') {
        abort(); /* every refusal carries a reason */
    }

    static const uint8_t functions[] = {1, 2, 3, 4};
    struct mb_reply_expect exp = {.tcp = fsel & 1,
                                  .transaction_id = 0,
                                  .unit_id = 1,
                                  .function = functions[fsel >> 1 & 3],
                                  .count = (uint16_t)(count % 2001 + 1)};
    uint16_t regs[2001];
    uint8_t bits[2001];
    int exception = -1;
    enum mb_reply_status st =
        mb_reply_parse(rest, rest_len, &exp, regs, bits, &exception, err, sizeof err);
    if (st == MB_REPLY_EXCEPTION && (exception < 0 || exception > 255))
        abort();
    if (st != MB_REPLY_OK && err[0] == '\0')
        abort();
    return 0;
}
