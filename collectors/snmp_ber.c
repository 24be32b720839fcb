/*
 * snmp_ber — see snmp_ber.h. SNMPv1/v2c messages to and from BER (X.690
 * as RFC 1157 and RFC 3416 use it), by hand, without allocating.
 *
 * The encoder measures the whole message first and writes it only when it
 * fits, front to back, with every length in its shortest form (what
 * net-snmp's reverse encoder sends, byte for byte).
 *
 * The decoder walks the message once. Every TLV is read by ber_tlv(), which
 * checks its length against the bytes of the TLV that encloses it, so no
 * later step can read past what it was given. Numbers are read as the
 * two's complement integers X.690 makes them; a value the type cannot
 * hold is an error, not truncated as net-snmp does.
 */
#include "collectors/snmp_ber.h"

#include "collectors/snmp_value.h"
#include "lib/util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define BER_SEQUENCE (ASN_SEQUENCE | ASN_CONSTRUCTOR) /* 0x30 */
#define BER_SUBID_MAX 0xffffffffULL
/* The first encoded sub-identifier holds the first two (X.690 8.19.4):
 * 2.4294967295 is 80 + 4294967295. */
#define BER_FIRST_SUBID_MAX (80 + BER_SUBID_MAX)

/* ---- encoder ---- */

/* Octets of a length field for a content of n octets. */
static size_t ber_len_size(size_t n)
{
    size_t k = 1;
    if (n < 0x80)
        return 1;
    while (k < sizeof n && (n >> (8 * k)) != 0)
        k++;
    return 1 + k;
}

/* A whole TLV of n content octets (one-octet tag). */
static size_t ber_tlv_size(size_t n)
{
    return 1 + ber_len_size(n) + n;
}

/* Content octets of v in the shortest two's complement form. */
static size_t ber_int_size(long v)
{
    size_t n = 1;
    /* n octets hold -2^(8n-1) .. 2^(8n-1) - 1. */
    while (n < sizeof v) {
        long lim = 1L << (8 * n - 1);
        if (v >= -lim && v < lim)
            break;
        n++;
    }
    return n;
}

static size_t ber_subid_size(uint64_t v)
{
    size_t n = 1;
    while (v >> (7 * n))
        n++;
    return n;
}

/* The first encoded sub-identifier of a valid request OID. */
static uint64_t ber_first_subid(const oid *name)
{
    return (uint64_t)name[0] * 40 + (uint64_t)name[1];
}

static size_t ber_oid_size(const oid *name, size_t len)
{
    size_t n = ber_subid_size(ber_first_subid(name));
    for (size_t i = 2; i < len; i++)
        n += ber_subid_size(name[i]);
    return n;
}

static int ber_check_oid(const oid *name, size_t len, size_t i, char *err, size_t errlen)
{
    if (!name || len < 2)
        return errf(err, errlen, "varbind %zu: OID of %zu sub-identifiers (at least 2)", i + 1,
                    name ? len : 0);
    if (len > MAX_OID_LEN)
        return errf(err, errlen, "varbind %zu: OID of %zu sub-identifiers (at most %d)", i + 1, len,
                    MAX_OID_LEN);
    if (name[0] > 2)
        return errf(err, errlen, "varbind %zu: OID: first sub-identifier %lu is over 2", i + 1,
                    (unsigned long)name[0]);
    if (name[0] < 2 && name[1] > 39)
        return errf(err, errlen, "varbind %zu: OID: second sub-identifier %lu is over 39 under %lu",
                    i + 1, (unsigned long)name[1], (unsigned long)name[0]);
    for (size_t k = 1; k < len; k++)
        if ((uint64_t)name[k] > BER_SUBID_MAX)
            return errf(err, errlen, "varbind %zu: OID: sub-identifier %zu is over 4294967295",
                        i + 1, k + 1);
    return 0;
}

static unsigned char *ber_put_header(unsigned char *p, unsigned char tag, size_t n)
{
    *p++ = tag;
    if (n < 0x80) {
        *p++ = (unsigned char)n;
        return p;
    }
    size_t k = ber_len_size(n) - 1;
    *p++ = (unsigned char)(0x80 | k);
    while (k--)
        *p++ = (unsigned char)(n >> (8 * k));
    return p;
}

static unsigned char *ber_put_int(unsigned char *p, long v)
{
    size_t k = ber_int_size(v);
    unsigned long u = (unsigned long)v;
    p = ber_put_header(p, ASN_INTEGER, k);
    while (k--)
        *p++ = (unsigned char)(u >> (8 * k));
    return p;
}

static unsigned char *ber_put_subid(unsigned char *p, uint64_t v)
{
    size_t k = ber_subid_size(v);
    while (k--)
        *p++ = (unsigned char)(((v >> (7 * k)) & 0x7f) | (k ? 0x80 : 0));
    return p;
}

size_t snmp_ber_encode(const struct snmp_ber_request *rq, unsigned char *out, size_t cap, char *err,
                       size_t errlen)
{
    int bulk = rq->pdu_type == SNMP_MSG_GETBULK;
    if (rq->version != SNMP_VERSION_1 && rq->version != SNMP_VERSION_2c) {
        errf(err, errlen, "version %ld is not SNMPv1 (0) or SNMPv2c (1)", rq->version);
        return 0;
    }
    if (rq->pdu_type != SNMP_MSG_GET && rq->pdu_type != SNMP_MSG_GETNEXT && !bulk) {
        errf(err, errlen, "PDU type 0x%02x is not GET, GETNEXT or GETBULK", (unsigned)rq->pdu_type);
        return 0;
    }
    if (bulk && rq->version == SNMP_VERSION_1) {
        errf(err, errlen, "GETBULK needs SNMPv2c");
        return 0;
    }
    if (rq->request_id < 0 || rq->request_id > 2147483647L) {
        errf(err, errlen, "request-id %ld is out of 0 .. 2147483647", rq->request_id);
        return 0;
    }
    /* GET and GETNEXT carry error-status and error-index 0: the counts
     * are not theirs to send. */
    long second = bulk ? rq->non_repeaters : 0, third = bulk ? rq->max_repetitions : 0;
    if (second < 0 || second > 2147483647L || third < 0 || third > 2147483647L) {
        errf(err, errlen, "non-repeaters %ld or max-repetitions %ld is out of 0 .. 2147483647",
             rq->non_repeaters, rq->max_repetitions);
        return 0;
    }
    if (rq->community_len > 0 && !rq->community) {
        errf(err, errlen, "community of %zu bytes without data", rq->community_len);
        return 0;
    }
    if (rq->n > 0 && (!rq->names || !rq->name_lens)) {
        errf(err, errlen, "%zu varbinds without names", rq->n);
        return 0;
    }

    /* Measure, stopping as soon as the message cannot fit: sizes are then
     * bounded by cap and the sums cannot wrap. */
    size_t list = 0;
    for (size_t i = 0; i < rq->n; i++) {
        if (ber_check_oid(rq->names[i], rq->name_lens[i], i, err, errlen) < 0)
            return 0;
        size_t vb = ber_tlv_size(ber_oid_size(rq->names[i], rq->name_lens[i])) + 2;
        list += ber_tlv_size(vb);
        if (list > cap)
            goto no_room;
    }
    if (rq->community_len > cap)
        goto no_room;
    size_t pdu = ber_tlv_size(ber_int_size(rq->request_id)) + ber_tlv_size(ber_int_size(second)) +
                 ber_tlv_size(ber_int_size(third)) + ber_tlv_size(list);
    size_t msg = ber_tlv_size(ber_int_size(rq->version)) + ber_tlv_size(rq->community_len) +
                 ber_tlv_size(pdu);
    size_t total = ber_tlv_size(msg);
    if (total > cap)
        goto no_room;

    unsigned char *p = out;
    p = ber_put_header(p, BER_SEQUENCE, msg);
    p = ber_put_int(p, rq->version);
    p = ber_put_header(p, ASN_OCTET_STR, rq->community_len);
    if (rq->community_len)
        memcpy(p, rq->community, rq->community_len);
    p += rq->community_len;
    p = ber_put_header(p, (unsigned char)rq->pdu_type, pdu);
    p = ber_put_int(p, rq->request_id);
    p = ber_put_int(p, second);
    p = ber_put_int(p, third);
    p = ber_put_header(p, BER_SEQUENCE, list);
    for (size_t i = 0; i < rq->n; i++) {
        const oid *name = rq->names[i];
        size_t len = rq->name_lens[i], olen = ber_oid_size(name, len);
        p = ber_put_header(p, BER_SEQUENCE, ber_tlv_size(olen) + 2);
        p = ber_put_header(p, ASN_OBJECT_ID, olen);
        p = ber_put_subid(p, ber_first_subid(name));
        for (size_t k = 2; k < len; k++)
            p = ber_put_subid(p, name[k]);
        *p++ = ASN_NULL;
        *p++ = 0;
    }
    return (size_t)(p - out);

no_room:
    errf(err, errlen, "message does not fit in %zu bytes", cap);
    return 0;
}

/* ---- decoder ---- */

/* Where the decoder is, for reasons: "varbind 3: value: ..." (vb counted
 * from 1, as error-index counts; 0 outside the varbinds). */
struct ber_at {
    size_t vb;
    const char *what; /* NULL: the varbind itself */
};

static int ber_fail(const struct ber_at *at, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int ber_fail(const struct ber_at *at, char *err, size_t errlen, const char *fmt, ...)
{
    char detail[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (at->vb && at->what)
        return errf(err, errlen, "varbind %zu: %s: %s", at->vb, at->what, detail);
    if (at->vb)
        return errf(err, errlen, "varbind %zu: %s", at->vb, detail);
    return errf(err, errlen, "%s: %s", at->what, detail);
}

static const char *ber_s(size_t n)
{
    return n == 1 ? "" : "s";
}

/* One TLV as read from the wire. */
struct ber_tlv {
    unsigned char tag;
    const unsigned char *content;
    size_t len;
};

/* Reads a length field at *p, which must end before end (the end of
 * `encl`); the content it announces must fit there too. */
static int ber_length(const unsigned char **p, const unsigned char *end, size_t *len,
                      const struct ber_at *at, const char *encl, char *err, size_t errlen)
{
    const unsigned char *q = *p;
    if (q >= end)
        return ber_fail(at, err, errlen, "length missing (%s ends)", encl);
    unsigned char first = *q++;
    size_t n = first;
    if (first == 0x80)
        return ber_fail(at, err, errlen, "indefinite length (not allowed in SNMP)");
    if (first > 0x80) {
        size_t k = first & 0x7f;
        if (k > 4)
            return ber_fail(at, err, errlen, "length of %zu octets (at most 4)", k);
        if ((size_t)(end - q) < k)
            return ber_fail(at, err, errlen, "length cut short (%s ends)", encl);
        n = 0;
        while (k--)
            n = (n << 8) | *q++;
    }
    if (n > (size_t)(end - q))
        return ber_fail(at, err, errlen, "length %zu runs past the end of %s", n, encl);
    *len = n;
    *p = q;
    return 0;
}

/* Reads the TLV at *p inside [*p, end) and moves *p past it. */
static int ber_tlv(const unsigned char **p, const unsigned char *end, struct ber_tlv *t,
                   const struct ber_at *at, const char *encl, char *err, size_t errlen)
{
    const unsigned char *q = *p;
    if (q >= end)
        return ber_fail(at, err, errlen, "missing (%s ends)", encl);
    t->tag = *q++;
    /* SNMP uses one-octet tags only; the next octets of a longer one
     * would be read as the length. */
    if ((t->tag & ASN_EXTENSION_ID) == ASN_EXTENSION_ID)
        return ber_fail(at, err, errlen, "tag 0x%02x with a multi-octet tag number", t->tag);
    if (ber_length(&q, end, &t->len, at, encl, err, errlen) < 0)
        return -1;
    t->content = q;
    *p = q + t->len;
    return 0;
}

static int ber_expect(const unsigned char **p, const unsigned char *end, unsigned char tag,
                      const char *tag_name, struct ber_tlv *t, const struct ber_at *at,
                      const char *encl, char *err, size_t errlen)
{
    if (ber_tlv(p, end, t, at, encl, err, errlen) < 0)
        return -1;
    if (t->tag != tag)
        return ber_fail(at, err, errlen, "tag 0x%02x where %s (0x%02x) belongs", t->tag, tag_name,
                        tag);
    return 0;
}

/* A signed INTEGER content of 1 .. max_octets octets, as 64 bits of two's
 * complement. */
static int ber_signed(const struct ber_tlv *t, size_t max_octets, const char *type_name,
                      uint64_t *out, const struct ber_at *at, char *err, size_t errlen)
{
    if (t->len == 0 || t->len > max_octets)
        return ber_fail(at, err, errlen, "%s of %zu octets (1 .. %zu)", type_name, t->len,
                        max_octets);
    uint64_t v = (t->content[0] & 0x80) ? ~(uint64_t)0 : 0;
    for (size_t i = 0; i < t->len; i++)
        v = (v << 8) | t->content[i];
    *out = v;
    return 0;
}

static long ber_as_long(uint64_t v)
{
    /* Two's complement without the implementation-defined conversion. */
    return v > (uint64_t)INT64_MAX ? -(long)(~v) - 1 : (long)v;
}

static int ber_long(const struct ber_tlv *t, long *out, const struct ber_at *at, char *err,
                    size_t errlen)
{
    uint64_t v = 0;
    if (t->tag != ASN_INTEGER)
        return ber_fail(at, err, errlen, "tag 0x%02x where INTEGER (0x02) belongs", t->tag);
    if (ber_signed(t, sizeof(long), "INTEGER", &v, at, err, errlen) < 0)
        return -1;
    *out = ber_as_long(v);
    return 0;
}

/* A non-negative INTEGER content that fits `bits` (32 or 64). Leading
 * zero octets are allowed (a value with its top bit set needs one); a
 * set top bit in the first octet is a negative number. */
static int ber_unsigned(const unsigned char *c, size_t len, unsigned bits, const char *type_name,
                        uint64_t *out, const struct ber_at *at, char *err, size_t errlen)
{
    const char *range = bits == 32 ? "0 .. 4294967295" : "0 .. 2^64 - 1";
    if (len == 0)
        return ber_fail(at, err, errlen, "%s of 0 octets", type_name);
    if (c[0] & 0x80)
        return ber_fail(at, err, errlen, "%s is negative (out of %s)", type_name, range);
    while (len > 1 && c[0] == 0)
        c++, len--;
    if (len > bits / 8) {
        if (len <= 8) {
            uint64_t v = 0;
            for (size_t i = 0; i < len; i++)
                v = (v << 8) | c[i];
            return ber_fail(at, err, errlen, "%s %llu is out of %s", type_name,
                            (unsigned long long)v, range);
        }
        return ber_fail(at, err, errlen, "%s of %zu significant octets is out of %s", type_name,
                        len, range);
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++)
        v = (v << 8) | c[i];
    *out = v;
    return 0;
}

static void ber_c64(uint64_t v, struct counter64 *c)
{
    c->high = (u_long)(v >> 32);
    c->low = (u_long)(v & 0xffffffffU);
}

/* Walks the sub-identifiers of an OID's content. Writes them to out[0 ..
 * cap) (out may be NULL) and the number the OID holds to *count (which
 * may be more than cap). */
static int ber_oid(const unsigned char *c, size_t len, oid *out, size_t cap, size_t *count,
                   const struct ber_at *at, char *err, size_t errlen)
{
    size_t n = 0, i = 0;
    while (i < len) {
        uint64_t v = 0, max = n == 0 ? BER_FIRST_SUBID_MAX : BER_SUBID_MAX;
        unsigned char b;
        do {
            if (i == len) {
                if (n == 0)
                    return ber_fail(at, err, errlen,
                                    "the first two sub-identifiers: cut short (the last octet "
                                    "has bit 8 set)");
                return ber_fail(at, err, errlen,
                                "sub-identifier %zu: cut short (the last octet has bit 8 set)",
                                n + 1);
            }
            b = c[i++];
            v = (v << 7) | (b & 0x7f);
            /* Checked at every octet, so v stays far from wrapping. */
            if (v > max) {
                if (n == 0)
                    return ber_fail(at, err, errlen,
                                    "the first two sub-identifiers: 2.x with x over 4294967295");
                return ber_fail(at, err, errlen, "sub-identifier %zu: over 4294967295", n + 1);
            }
        } while (b & 0x80);
        if (n == 0) {
            /* X.690 8.19.4: X*40 + Y, X in 0..2 (Y < 40 unless X is 2). */
            uint64_t first = v < 40 ? 0 : v < 80 ? 1 : 2;
            if (out && cap > 0)
                out[0] = (oid)first;
            if (out && cap > 1)
                out[1] = (oid)(v - first * 40);
            n = 2;
        } else {
            if (out && n < cap)
                out[n] = (oid)v;
            n++;
        }
        if (n > MAX_OID_LEN)
            return ber_fail(at, err, errlen, "more than %d sub-identifiers", MAX_OID_LEN);
    }
    *count = n;
    return 0;
}

/* net-snmp's Opaque wrapping of its 64-bit, float and double types: the
 * Opaque's content is one more TLV with a two-octet tag 0x9f 0x7N. */
static int ber_opaque(struct snmp_ber_varbind *vb, const struct ber_tlv *t, const struct ber_at *at,
                      char *err, size_t errlen)
{
    const unsigned char *c = t->content, *end = c + t->len;
    unsigned char inner = t->len >= 2 && c[0] == ASN_OPAQUE_TAG1 ? c[1] : 0;
    const char *name;
    switch (inner) {
    case ASN_OPAQUE_FLOAT:
        name = "Opaque Float";
        break;
    case ASN_OPAQUE_DOUBLE:
        name = "Opaque Double";
        break;
    case ASN_OPAQUE_COUNTER64:
        name = "Opaque Counter64";
        break;
    case ASN_OPAQUE_I64:
        name = "Opaque Integer64";
        break;
    case ASN_OPAQUE_U64:
        name = "Opaque Unsigned64";
        break;
    default:
        vb->type = ASN_OPAQUE;
        vb->bytes = c;
        vb->len = t->len;
        return 0;
    }
    const unsigned char *q = c + 2;
    size_t len;
    if (ber_length(&q, end, &len, at, "the Opaque", err, errlen) < 0)
        return -1;
    if (q + len != end)
        return ber_fail(at, err, errlen, "%zu byte%s after the %s in its Opaque",
                        (size_t)(end - (q + len)), ber_s((size_t)(end - (q + len))), name);
    vb->type = inner;
    uint64_t v = 0;
    if (inner == ASN_OPAQUE_FLOAT || inner == ASN_OPAQUE_DOUBLE) {
        size_t want = inner == ASN_OPAQUE_FLOAT ? 4 : 8;
        if (len != want)
            return ber_fail(at, err, errlen, "%s of %zu octets (expected %zu)", name, len, want);
        /* IEEE 754, most significant octet first. */
        for (size_t i = 0; i < len; i++)
            v = (v << 8) | q[i];
        if (inner == ASN_OPAQUE_FLOAT) {
            uint32_t u = (uint32_t)v;
            memcpy(&vb->num.f, &u, sizeof u);
        } else {
            memcpy(&vb->num.d, &v, sizeof v);
        }
        return 0;
    }
    if (inner == ASN_OPAQUE_I64) {
        struct ber_tlv it = {inner, q, len};
        if (ber_signed(&it, 8, name, &v, at, err, errlen) < 0)
            return -1;
    } else if (ber_unsigned(q, len, 64, name, &v, at, err, errlen) < 0) {
        return -1;
    }
    ber_c64(v, &vb->num.c64);
    return 0;
}

static int ber_value(struct snmp_ber_varbind *vb, const struct ber_tlv *t, const struct ber_at *at,
                     char *err, size_t errlen)
{
    uint64_t v = 0;
    size_t count;
    memset(&vb->num, 0, sizeof vb->num);
    vb->type = t->tag;
    vb->bytes = t->content;
    vb->len = t->len;
    switch (t->tag) {
    case ASN_INTEGER:
        return ber_long(t, &vb->num.integer, at, err, errlen);
    case ASN_COUNTER:
    case ASN_GAUGE:
    case ASN_TIMETICKS:
    case ASN_UINTEGER:
        /* Agents that leave out the leading 0x00 of a value with its top
         * bit set are read as net-snmp reads them (sign extended, then cut
         * to 32 bits: ff ff ff ff is 4294967295), not refused: a whole
         * reply refused for one counter would lose the device. */
        if (t->len >= 1 && t->len <= 4 && (t->content[0] & 0x80)) {
            if (ber_signed(t, 4, snmp_value_type_name(t->tag), &v, at, err, errlen) < 0)
                return -1;
            v &= 0xffffffffULL;
        } else if (ber_unsigned(t->content, t->len, 32, snmp_value_type_name(t->tag), &v, at,
                                err, errlen) < 0) {
            return -1;
        }
        vb->num.integer = (long)v;
        return 0;
    case ASN_COUNTER64:
        /* The same leniency: net-snmp reads 8 octets without a leading
         * 0x00 as the unsigned number they spell. */
        if (t->len >= 1 && t->len <= 8 && (t->content[0] & 0x80)) {
            v = 0;
            for (size_t i = 0; i < t->len; i++)
                v = (v << 8) | t->content[i];
        } else if (ber_unsigned(t->content, t->len, 64, "Counter64", &v, at, err, errlen) < 0) {
            return -1;
        }
        ber_c64(v, &vb->num.c64);
        return 0;
    case ASN_OPAQUE:
        return ber_opaque(vb, t, at, err, errlen);
    case ASN_NULL:
    case SNMP_NOSUCHOBJECT:
    case SNMP_NOSUCHINSTANCE:
    case SNMP_ENDOFMIBVIEW:
        /* All four are NULLs (RFC 3416's IMPLICIT NULL); content an agent
         * puts there anyway is ignored, as net-snmp ignores it. */
        return 0;
    case ASN_OBJECT_ID:
        /* Kept as its bytes, but checked as net-snmp's decoder checks it
         * (an empty one it reads as 0.0). */
        return ber_oid(t->content, t->len, NULL, 0, &count, at, err, errlen);
    default:
        return 0;
    }
}

static int ber_varbind(const struct ber_tlv *seq, size_t index, struct snmp_ber_varbind *vb,
                       oid *pool, size_t pool_len, size_t *pool_used, char *err, size_t errlen)
{
    struct ber_at at = {index, NULL};
    const unsigned char *p = seq->content, *end = seq->content + seq->len;
    struct ber_tlv name, value;
    size_t count = 0, room = pool_len - *pool_used;

    if (seq->tag != BER_SEQUENCE)
        return ber_fail(&at, err, errlen, "tag 0x%02x where SEQUENCE (0x30) belongs", seq->tag);
    at.what = "OID";
    if (ber_expect(&p, end, ASN_OBJECT_ID, "OBJECT IDENTIFIER", &name, &at, "its SEQUENCE", err,
                   errlen) < 0)
        return -1;
    if (name.len == 0)
        return ber_fail(&at, err, errlen, "empty");
    /* pool may be NULL when pool_len is 0: no pointer arithmetic on it. */
    oid *dst = pool ? pool + *pool_used : NULL;
    if (ber_oid(name.content, name.len, dst, room, &count, &at, err, errlen) < 0)
        return -1;
    if (count > room)
        return ber_fail(&at, err, errlen,
                        "%zu sub-identifiers do not fit in the %zu left of the pool of %zu", count,
                        room, pool_len);
    vb->name = dst;
    vb->name_len = count;
    *pool_used += count;

    at.what = "value";
    if (ber_tlv(&p, end, &value, &at, "its SEQUENCE", err, errlen) < 0)
        return -1;
    if (ber_value(vb, &value, &at, err, errlen) < 0)
        return -1;
    if (p != end) {
        at.what = NULL;
        return ber_fail(&at, err, errlen, "%zu byte%s after the value", (size_t)(end - p),
                        ber_s((size_t)(end - p)));
    }
    return 0;
}

int snmp_ber_decode(const unsigned char *msg, size_t len, struct snmp_ber_varbind *vbs,
                    size_t max_vbs, oid *pool, size_t pool_len, struct snmp_ber_response *r,
                    char *err, size_t errlen)
{
    struct ber_at at = {0, "message"};
    struct snmp_ber_response out = {0};
    struct ber_tlv top, t;
    const unsigned char *p = msg;

    if (!msg || len == 0)
        return ber_fail(&at, err, errlen, "empty");
    if (ber_expect(&p, msg + len, BER_SEQUENCE, "SEQUENCE", &top, &at, "the datagram", err,
                   errlen) < 0)
        return -1;
    if (p != msg + len)
        return ber_fail(&at, err, errlen, "%zu byte%s after its end", (size_t)(msg + len - p),
                        ber_s((size_t)(msg + len - p)));

    const unsigned char *end = top.content + top.len;
    p = top.content;
    at.what = "message: version";
    if (ber_tlv(&p, end, &t, &at, "the message", err, errlen) < 0 ||
        ber_long(&t, &out.version, &at, err, errlen) < 0)
        return -1;
    if (out.version != SNMP_VERSION_1 && out.version != SNMP_VERSION_2c)
        return ber_fail(&at, err, errlen, "%ld is not SNMPv1 (0) or SNMPv2c (1)", out.version);
    at.what = "message: community";
    if (ber_expect(&p, end, ASN_OCTET_STR, "OCTET STRING", &t, &at, "the message", err, errlen) < 0)
        return -1;
    out.community = t.content;
    out.community_len = t.len;

    at.what = "PDU";
    if (ber_tlv(&p, end, &t, &at, "the message", err, errlen) < 0)
        return -1;
    if (t.tag < SNMP_MSG_GET || t.tag > SNMP_MSG_REPORT)
        return ber_fail(&at, err, errlen, "tag 0x%02x is not a PDU (0xa0 .. 0xa8)", t.tag);
    /* The SNMPv1 Trap-PDU has no request-id: not one of ours. */
    if (t.tag == SNMP_MSG_TRAP)
        return ber_fail(&at, err, errlen, "SNMPv1 Trap-PDU (0xa4) is not supported");
    if (p != end) {
        at.what = "message";
        return ber_fail(&at, err, errlen, "%zu byte%s after the PDU", (size_t)(end - p),
                        ber_s((size_t)(end - p)));
    }
    out.pdu_type = t.tag;
    end = t.content + t.len;
    p = t.content;
    static const char *const fields[] = {"PDU: request-id", "PDU: error-status",
                                         "PDU: error-index"};
    long *values[] = {&out.request_id, &out.error_status, &out.error_index};
    for (size_t i = 0; i < 3; i++) {
        at.what = fields[i];
        if (ber_tlv(&p, end, &t, &at, "the PDU", err, errlen) < 0 ||
            ber_long(&t, values[i], &at, err, errlen) < 0)
            return -1;
    }
    at.what = "PDU: varbind list";
    if (ber_expect(&p, end, BER_SEQUENCE, "SEQUENCE", &t, &at, "the PDU", err, errlen) < 0)
        return -1;
    if (p != end) {
        at.what = "PDU";
        return ber_fail(&at, err, errlen, "%zu byte%s after the varbind list", (size_t)(end - p),
                        ber_s((size_t)(end - p)));
    }

    end = t.content + t.len;
    p = t.content;
    size_t pool_used = 0;
    while (p < end) {
        struct ber_tlv seq;
        at.vb = out.n + 1;
        at.what = NULL;
        if (out.n == max_vbs) {
            at.vb = 0;
            at.what = "PDU";
            return ber_fail(&at, err, errlen, "more than %zu varbinds", max_vbs);
        }
        if (ber_tlv(&p, end, &seq, &at, "the varbind list", err, errlen) < 0 ||
            ber_varbind(&seq, out.n + 1, &vbs[out.n], pool, pool_len, &pool_used, err, errlen) < 0)
            return -1;
        out.n++;
    }
    out.vbs = vbs;
    *r = out;
    return 0;
}

void snmp_ber_value(const struct snmp_ber_varbind *vb, const void **val, size_t *val_len)
{
    switch (vb->type) {
    case ASN_INTEGER:
    case ASN_COUNTER:
    case ASN_GAUGE:
    case ASN_TIMETICKS:
    case ASN_UINTEGER:
        *val = &vb->num.integer;
        *val_len = sizeof vb->num.integer;
        return;
    case ASN_COUNTER64:
    case ASN_OPAQUE_COUNTER64:
    case ASN_OPAQUE_U64:
    case ASN_OPAQUE_I64:
        *val = &vb->num.c64;
        *val_len = sizeof vb->num.c64;
        return;
    case ASN_OPAQUE_FLOAT:
        *val = &vb->num.f;
        *val_len = sizeof vb->num.f;
        return;
    case ASN_OPAQUE_DOUBLE:
        *val = &vb->num.d;
        *val_len = sizeof vb->num.d;
        return;
    default:
        *val = vb->bytes;
        *val_len = vb->len;
        return;
    }
}
