/*
 * snmp_ber — SNMPv1 and SNMPv2c messages (RFC 1157, RFC 3416) encoded and
 * decoded by hand: the GET, GETNEXT and GETBULK requests the SNMP collector
 * sends and the Response it reads. SNMPv3 stays with net-snmp (USM).
 *
 * Why not net-snmp for these: its decoder allocates and zeroes a 1.2 KB
 * netsnmp_variable_list per varbind and a 64 KiB buffer per reply, under
 * one process-wide lock; for a 100-row walk that was a third of a poll's
 * CPU (issue 11). These functions allocate nothing.
 *
 * Pure functions over bytes: no sockets, no clock, no global state. The
 * decoder reads anything a network can send: every length is checked
 * against the bytes that hold it, and a message it cannot read gives -1
 * and a reason that says what and where ("varbind 3: OID: length 9 runs
 * past the end of its SEQUENCE").
 */
#ifndef FLOE_SNMP_BER_H
#define FLOE_SNMP_BER_H

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include <stddef.h>

/* A request. Every varbind goes out with a NULL value. */
struct snmp_ber_request {
    long version;                    /* SNMP_VERSION_1 or SNMP_VERSION_2c */
    const unsigned char *community;  /* community_len bytes, any content */
    size_t community_len;
    int pdu_type;                    /* SNMP_MSG_GET, SNMP_MSG_GETNEXT, or
                                        SNMP_MSG_GETBULK (v2c only) */
    long request_id;                 /* 0 .. 2^31 - 1 */
    long non_repeaters;              /* GETBULK only (else 0): 0 .. 2^31 - 1 */
    long max_repetitions;            /* GETBULK only (else 0): 0 .. 2^31 - 1 */
    const oid *const *names;         /* names[i][0 .. name_lens[i]) */
    const size_t *name_lens;
    size_t n;
};

/* Encodes rq into out[0 .. cap). Returns the message's length, or 0 with a
 * reason in err when it does not fit or rq is not a valid request (version,
 * PDU type, an OID of fewer than 2 or more than MAX_OID_LEN
 * sub-identifiers, a first sub-identifier over 2, a second over 39 under a
 * first of 0 or 1, a sub-identifier over 4294967295, a negative id or
 * count). */
size_t snmp_ber_encode(const struct snmp_ber_request *rq, unsigned char *out, size_t cap,
                       char *err, size_t errlen);

/* One varbind of a response. */
struct snmp_ber_varbind {
    const oid *name;       /* into the caller's pool (snmp_ber_decode) */
    size_t name_len;
    /* The type as net-snmp's decoder would report it
     * (netsnmp_variable_list.type): the tag for ASN_INTEGER, ASN_OCTET_STR,
     * ASN_NULL, ASN_OBJECT_ID, ASN_IPADDRESS, ASN_COUNTER, ASN_GAUGE,
     * ASN_TIMETICKS, ASN_OPAQUE, ASN_COUNTER64, ASN_UINTEGER,
     * SNMP_NOSUCHOBJECT, SNMP_NOSUCHINSTANCE, SNMP_ENDOFMIBVIEW; an Opaque
     * that wraps net-snmp's float, double, Counter64, I64 or U64 (tag
     * 0x9f 0x78..0x7b, 0x76) is ASN_OPAQUE_FLOAT, ASN_OPAQUE_DOUBLE,
     * ASN_OPAQUE_COUNTER64, ASN_OPAQUE_I64, ASN_OPAQUE_U64; any other
     * tag is kept as it is, its content as bytes. */
    unsigned char type;
    /* Numbers, for the types that are numbers: a long for INTEGER (sign
     * extended) and for Counter32, Gauge32, TimeTicks, UInteger32 (0 ..
     * 4294967295), a struct counter64 for Counter64 and the Opaque 64-bit
     * types, a float or double for Opaque Float and Double. */
    union {
        long integer;
        struct counter64 c64;
        float f;
        double d;
    } num;
    /* For every other type: the content octets, inside the message. */
    const unsigned char *bytes;
    size_t len;
};

/* The value of vb in the form snmp_value_to_double() takes (collectors/
 * snmp_value.h): *val points into vb->num or at vb->bytes. */
void snmp_ber_value(const struct snmp_ber_varbind *vb, const void **val, size_t *val_len);

/* A decoded Response (or Report, or any other PDU: pdu_type says which). */
struct snmp_ber_response {
    long version;          /* SNMP_VERSION_1 or SNMP_VERSION_2c */
    const unsigned char *community; /* inside the message */
    size_t community_len;
    int pdu_type;          /* SNMP_MSG_RESPONSE for an answer */
    long request_id;
    long error_status, error_index;
    struct snmp_ber_varbind *vbs; /* the caller's array, vbs[0 .. n) filled */
    size_t n;
};

/* Decodes the message msg[0 .. len). The varbinds go into vbs[0 ..
 * max_vbs) and their names into pool[0 .. pool_len) (a message of len
 * bytes never holds more than len sub-identifiers, so a pool of len oids
 * always suffices). Returns 0 with *r filled, or -1 with a reason in err:
 * not BER (an indefinite length, a length of more than 4 octets, a
 * multi-octet tag), a length past the
 * end, bytes after the message, a version other than 0 or 1, an SNMPv1
 * Trap-PDU (it has no request-id), more than max_vbs varbinds, names that
 * do not fit in the pool, an empty OID, an OID of more than MAX_OID_LEN
 * sub-identifiers or a sub-identifier over 4294967295, an INTEGER of more
 * than 8 content octets (as long as a long holds it), a Counter32/Gauge32/
 * TimeTicks/UInteger32 out of 0 .. 4294967295, a Counter64 out of 0 ..
 * 2^64 - 1. Where agents commonly err and net-snmp reads on, so does
 * this: a Counter32/Gauge32/TimeTicks/UInteger32 of 1 to 4 octets whose
 * first has bit 8 set (a leading 0x00 left out) is read sign-extended and
 * cut to 32 bits, a Counter64 of up to 8 such octets as the unsigned
 * number they spell, and content in a NULL or noSuch* is ignored. Reasons
 * count varbinds from 1, as error-index does. Pointers in *r and vbs point
 * into msg and pool. */
int snmp_ber_decode(const unsigned char *msg, size_t len, struct snmp_ber_varbind *vbs,
                    size_t max_vbs, oid *pool, size_t pool_len, struct snmp_ber_response *r,
                    char *err, size_t errlen);

#endif
