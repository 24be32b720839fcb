/*
 * libFuzzer target for collectors/snmp_value.c — the code that turns what
 * an SNMP agent sends into numbers and metric names.
 *
 * The first input byte picks the function, the rest is its input:
 *   0: type = byte 1, value = the remaining bytes as they are (any length)
 *   1: type = byte 1, value = the remaining bytes padded to the size
 *      net-snmp uses for that type (so the numeric paths are reached)
 *   2: the rest as dotted OID text: parse, format, parse again
 *   3: "template\nrow-oid": the metric name of a walked row
 * Beyond not crashing, it checks the promises of the header: a number is
 * always finite, a reason is printable text, and OIDs survive a round trip.
 */
#include "collectors/snmp_value.h"

#include <net-snmp/library/asn1.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_reason(const char *reason)
{
    for (const char *p = reason; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            abort();
}

static void fuzz_value(unsigned char type, const uint8_t *data, size_t size)
{
    double out = 0;
    char reason[160];
    reason[0] = '\0';
    if (snmp_value_to_double(type, data, size, &out, reason, sizeof reason) == 0) {
        if (!isfinite(out))
            abort();
    } else {
        if (reason[0] == '\0')
            abort();
        check_reason(reason);
    }
}

static size_t native_size(unsigned char type)
{
    switch (type) {
    case ASN_COUNTER64:
    case ASN_OPAQUE_COUNTER64:
    case ASN_OPAQUE_U64:
    case ASN_OPAQUE_I64:
        return sizeof(struct counter64);
    case ASN_OPAQUE_FLOAT:
        return sizeof(float);
    case ASN_OPAQUE_DOUBLE:
        return sizeof(double);
    default:
        return sizeof(long);
    }
}

static void fuzz_oid(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    oid name[MAX_OID_LEN], again[MAX_OID_LEN];
    size_t len = 0, len2 = 0;
    char err[160], formatted[MAX_OID_LEN * 11 + 1];
    if (snmp_value_parse_oid(text, name, MAX_OID_LEN, &len, err, sizeof err) == 0) {
        snmp_value_format_oid(name, len, formatted, sizeof formatted);
        if (snmp_value_parse_oid(formatted, again, MAX_OID_LEN, &len2, err, sizeof err) != 0)
            abort();
        if (len != len2 || memcmp(name, again, len * sizeof *name) != 0)
            abort();
    }
    free(text);
}

static void fuzz_walk(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    char *row_text = strchr(text, '\n');
    if (row_text)
        *row_text++ = '\0';
    else
        row_text = "1.3.6.1.4.1.99999.1.2.1";
    static const oid root[] = {1, 3, 6, 1, 4, 1, 99999, 1, 2};
    oid row[MAX_OID_LEN];
    size_t row_len = 0;
    char err[160], out[256];
    if (snmp_value_parse_oid(row_text, row, MAX_OID_LEN, &row_len, err, sizeof err) == 0) {
        size_t root_len = sizeof root / sizeof root[0];
        if (snmp_value_walk_metric(text, root, root_len, row, row_len, out, sizeof out, err,
                                   sizeof err) == 0 &&
            strlen(out) >= sizeof out)
            abort();
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 4;
    data++, size--;
    switch (mode) {
    case 0:
        if (size >= 1)
            fuzz_value(data[0], data + 1, size - 1);
        break;
    case 1:
        if (size >= 1) {
            unsigned char type = data[0];
            size_t want = native_size(type);
            unsigned char buf[32] = {0};
            memcpy(buf, data + 1, size - 1 < want ? size - 1 : want);
            /* Strings are bytes: fuzz them at their own length. */
            if (type == ASN_OCTET_STR)
                fuzz_value(type, data + 1, size - 1);
            else
                fuzz_value(type, buf, want);
        }
        break;
    case 2:
        fuzz_oid(data, size);
        break;
    default:
        fuzz_walk(data, size);
        break;
    }
    return 0;
}
