/*
 * snmp_value — see snmp_value.h. Varbind value -> double, dotted OID text
 * <-> OID arrays, and walked row -> metric name. No I/O, no state.
 */
#include "collectors/snmp_value.h"

#include "config/config.h"
#include "lib/util.h"

#include <net-snmp/library/asn1.h>
#include <net-snmp/library/snmp.h>
#include <net-snmp/library/snmp_impl.h>

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *snmp_value_type_name(unsigned char type)
{
    switch (type) {
    case ASN_INTEGER:
        return "INTEGER";
    case ASN_OCTET_STR:
        return "OCTET STRING";
    case ASN_BIT_STR:
        return "BIT STRING";
    case ASN_NULL:
        return "NULL";
    case ASN_OBJECT_ID:
        return "OBJECT IDENTIFIER";
    case ASN_IPADDRESS:
        return "IpAddress";
    case ASN_COUNTER:
        return "Counter32";
    case ASN_GAUGE:
        return "Gauge32";
    case ASN_TIMETICKS:
        return "TimeTicks";
    case ASN_OPAQUE:
        return "Opaque";
    case ASN_NSAP:
        return "NsapAddress";
    case ASN_COUNTER64:
        return "Counter64";
    case ASN_UINTEGER:
        return "UInteger32";
    case ASN_OPAQUE_COUNTER64:
        return "Opaque Counter64";
    case ASN_OPAQUE_FLOAT:
        return "Opaque Float";
    case ASN_OPAQUE_DOUBLE:
        return "Opaque Double";
    case ASN_OPAQUE_I64:
        return "Opaque Integer64";
    case ASN_OPAQUE_U64:
        return "Opaque Unsigned64";
    case SNMP_NOSUCHOBJECT:
        return "noSuchObject";
    case SNMP_NOSUCHINSTANCE:
        return "noSuchInstance";
    case SNMP_ENDOFMIBVIEW:
        return "endOfMibView";
    default:
        return "unknown type";
    }
}

/* Copies a value of exactly `want` bytes out of val; the collector hands us
 * net-snmp's own storage, the fuzzer hands us anything. */
static int snmp_value_fixed(const void *val, size_t len, void *dst, size_t want, unsigned char type,
                            char *reason, size_t reasonlen)
{
    if (!val || len != want)
        return errf(reason, reasonlen, "%s value of %zu bytes (expected %zu)",
                    snmp_value_type_name(type), len, want);
    memcpy(dst, val, want);
    return 0;
}

/* net-snmp keeps each 32-bit half of a 64-bit value in its own u_long. */
static uint64_t snmp_value_u64(const struct counter64 *c)
{
    return ((uint64_t)(c->high & 0xffffffffUL) << 32) | (uint64_t)(c->low & 0xffffffffUL);
}

/* Writes text into reason as a quoted, printable excerpt: device strings
 * may hold anything, the reason ends up in logs and the HTTP API. */
static void snmp_value_quote(const unsigned char *s, size_t len, char *buf, size_t buflen)
{
    size_t shown = len > 24 ? 24 : len, o = 0;
    if (buflen == 0)
        return;
    for (size_t i = 0; i < shown && o + 1 < buflen; i++)
        buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\') ? (char)s[i] : '?';
    buf[o] = '\0';
    if (shown < len && o + 4 < buflen)
        memcpy(buf + o, "...", 4);
}

static int snmp_value_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\0';
}

/* True when s[0..len) is [+-]? (D+ (. D*)? | . D+) ([eE] [+-]? D+)?: the
 * only shapes a numeric display string takes. strtod alone would also take
 * "inf", "nan", hex floats and trailing junk. */
static int snmp_value_decimal_shape(const char *s, size_t len)
{
    size_t i = 0, int_digits = 0, frac_digits = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, int_digits++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++, frac_digits++;
    }
    if (int_digits + frac_digits == 0)
        return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_digits = 0;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++, exp_digits++;
        if (exp_digits == 0)
            return 0;
    }
    return i == len;
}

static int snmp_value_from_string(const unsigned char *s, size_t len, double *out, char *reason,
                                  size_t reasonlen)
{
    char shown[40];
    size_t start = 0, end = len;
    while (start < end && snmp_value_is_space(s[start]))
        start++;
    while (end > start && snmp_value_is_space(s[end - 1]))
        end--;
    if (start == end)
        return errf(reason, reasonlen, "empty OCTET STRING is not a number");
    snmp_value_quote(s + start, end - start, shown, sizeof shown);
    if (end - start > SNMP_VALUE_MAX_NUMERIC_STRING)
        return errf(reason, reasonlen, "OCTET STRING \"%s\" is too long to be a number", shown);

    char text[SNMP_VALUE_MAX_NUMERIC_STRING + 1];
    memcpy(text, s + start, end - start);
    text[end - start] = '\0';
    if (!snmp_value_decimal_shape(text, end - start))
        return errf(reason, reasonlen, "OCTET STRING \"%s\" is not a number", shown);

    /* The decimal point of the process locale must not matter: parse in "C". */
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    char *stop = NULL;
    errno = 0;
    double v = c_locale ? strtod_l(text, &stop, c_locale) : strtod(text, &stop);
    if (c_locale)
        freelocale(c_locale);
    if (!stop || *stop != '\0')
        return errf(reason, reasonlen, "OCTET STRING \"%s\" is not a number", shown);
    if (!isfinite(v))
        return errf(reason, reasonlen, "OCTET STRING \"%s\" is out of range", shown);
    *out = v;
    return 0;
}

int snmp_value_to_double(unsigned char type, const void *val, size_t len, double *out, char *reason,
                         size_t reasonlen)
{
    long l = 0;
    struct counter64 c64 = {0, 0};
    float f = 0;
    double d = 0;

    switch (type) {
    case ASN_INTEGER:
        if (snmp_value_fixed(val, len, &l, sizeof l, type, reason, reasonlen) < 0)
            return -1;
        *out = (double)l;
        return 0;
    case ASN_GAUGE: /* == ASN_UNSIGNED */
    case ASN_COUNTER:
    case ASN_TIMETICKS:
    case ASN_UINTEGER:
        if (snmp_value_fixed(val, len, &l, sizeof l, type, reason, reasonlen) < 0)
            return -1;
        /* 32-bit unsigned on the wire; net-snmp keeps them in a long. */
        *out = (double)((unsigned long)l & 0xffffffffUL);
        return 0;
    case ASN_COUNTER64:
    case ASN_OPAQUE_COUNTER64:
    case ASN_OPAQUE_U64:
        if (snmp_value_fixed(val, len, &c64, sizeof c64, type, reason, reasonlen) < 0)
            return -1;
        *out = (double)snmp_value_u64(&c64);
        return 0;
    case ASN_OPAQUE_I64:
        if (snmp_value_fixed(val, len, &c64, sizeof c64, type, reason, reasonlen) < 0)
            return -1;
        *out = (double)(int64_t)snmp_value_u64(&c64);
        return 0;
    case ASN_OPAQUE_FLOAT:
        if (snmp_value_fixed(val, len, &f, sizeof f, type, reason, reasonlen) < 0)
            return -1;
        d = (double)f;
        break;
    case ASN_OPAQUE_DOUBLE:
        if (snmp_value_fixed(val, len, &d, sizeof d, type, reason, reasonlen) < 0)
            return -1;
        break;
    case ASN_OCTET_STR:
        if (!val && len > 0)
            return errf(reason, reasonlen, "OCTET STRING without data");
        return snmp_value_from_string(val, len, out, reason, reasonlen);
    case SNMP_NOSUCHOBJECT:
    case SNMP_NOSUCHINSTANCE:
    case SNMP_ENDOFMIBVIEW:
        return errf(reason, reasonlen, "%s", snmp_value_type_name(type));
    case ASN_IPADDRESS:
    case ASN_OBJECT_ID:
    case ASN_NULL:
    case ASN_BIT_STR:
    case ASN_OPAQUE:
    case ASN_NSAP:
        return errf(reason, reasonlen, "%s is not a number", snmp_value_type_name(type));
    default:
        return errf(reason, reasonlen, "unsupported type 0x%02x", type);
    }
    if (!isfinite(d))
        return errf(reason, reasonlen, "%s is not finite", snmp_value_type_name(type));
    *out = d;
    return 0;
}

int snmp_value_parse_oid(const char *text, oid *out, size_t max, size_t *out_len, char *err,
                         size_t errlen)
{
    size_t n = 0;
    const char *p = text;
    if (!p || !*p)
        return errf(err, errlen, "empty OID");
    if (*p == '.')
        p++;
    for (;;) {
        if (*p < '0' || *p > '9')
            return errf(err, errlen, "OID \"%.64s\": expected a number at offset %zu", text,
                        (size_t)(p - text));
        uint64_t sub = 0;
        while (*p >= '0' && *p <= '9') {
            sub = sub * 10 + (uint64_t)(*p - '0');
            if (sub > 0xffffffffULL)
                return errf(err, errlen, "OID \"%.64s\": sub-identifier above 4294967295", text);
            p++;
        }
        if (n == max)
            return errf(err, errlen, "OID \"%.64s\": more than %zu sub-identifiers", text, max);
        out[n++] = (oid)sub;
        if (*p == '\0')
            break;
        if (*p != '.')
            return errf(err, errlen, "OID \"%.64s\": unexpected '%c' at offset %zu", text, *p,
                        (size_t)(p - text));
        p++;
    }
    if (n < 2)
        return errf(err, errlen, "OID \"%.64s\": needs at least two sub-identifiers", text);
    *out_len = n;
    return 0;
}

void snmp_value_format_oid(const oid *name, size_t len, char *buf, size_t buflen)
{
    size_t o = 0;
    if (buflen == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < len; i++) {
        int w = snprintf(buf + o, buflen - o, "%s%lu", i ? "." : "", (unsigned long)name[i]);
        if (w < 0 || (size_t)w >= buflen - o) {
            if (buflen >= 4)
                memcpy(buf + buflen - 4, "...", 4);
            return;
        }
        o += (size_t)w;
    }
}

int snmp_value_walk_metric(const char *tmpl, const oid *root, size_t root_len, const oid *row,
                           size_t row_len, char *out, size_t outlen, char *err, size_t errlen)
{
    if (row_len <= root_len || memcmp(row, root, root_len * sizeof *root) != 0)
        return errf(err, errlen, "row OID is not below the walked root");

    /* Digits by hand: this runs for every row of every walk, and
     * snprintf's format parsing was most of its cost. */
    char index[MAX_OID_LEN * 11];
    size_t il = 0;
    for (size_t i = root_len; i < row_len; i++) {
        char digits[24];
        size_t nd = 0;
        unsigned long v = (unsigned long)row[i];
        do {
            digits[nd++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        if (il + (i > root_len) + nd >= sizeof index)
            return errf(err, errlen, "row index too long");
        if (i > root_len)
            index[il++] = '_';
        while (nd)
            index[il++] = digits[--nd];
    }
    index[il] = '\0';
    return cfg_metric_template_expand(tmpl, index, out, outlen, err, errlen);
}
