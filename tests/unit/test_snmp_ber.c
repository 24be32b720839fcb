/*
 * Unit tests for collectors/snmp_ber.c: requests encoded byte for byte as
 * net-snmp encodes them, responses that net-snmp encodes decoded to the
 * numbers net-snmp's own decoder gives, and malformed messages refused
 * with a reason that says what and where.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "collectors/snmp_ber.h"
#include "collectors/snmp_value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL 4096

/* ---- helpers ---- */

static void expect_reason(const char *what, int rc, const char *reason, const char *want)
{
    if (rc != -1)
        fail_msg("%s: expected error \"%s\", got success", what, want);
    if (strcmp(reason, want) != 0)
        fail_msg("%s: expected reason \"%s\", got \"%s\"", what, want, reason);
}

/* Writes tag, length (shortest form) and content; returns the size. */
static size_t put_tlv(unsigned char *out, unsigned char tag, const unsigned char *c, size_t n)
{
    size_t o = 0;
    out[o++] = tag;
    if (n < 0x80) {
        out[o++] = (unsigned char)n;
    } else if (n < 0x100) {
        out[o++] = 0x81;
        out[o++] = (unsigned char)n;
    } else {
        out[o++] = 0x82;
        out[o++] = (unsigned char)(n >> 8);
        out[o++] = (unsigned char)n;
    }
    memmove(out + o, c, n);
    return o + n;
}

/* A varbind: SEQUENCE { OID (content oidc), value (a whole TLV) }. */
static size_t put_varbind(unsigned char *out, const unsigned char *oidc, size_t oidn,
                          const unsigned char *val, size_t valn)
{
    unsigned char c[1024];
    size_t n = put_tlv(c, ASN_OBJECT_ID, oidc, oidn);
    memcpy(c + n, val, valn);
    return put_tlv(out, 0x30, c, n + valn);
}

/* A message: version, "public", a PDU of pdu_tag with request-id 7 and
 * the varbind list content vbl. */
static size_t put_message(unsigned char *out, unsigned char version, unsigned char pdu_tag,
                          const unsigned char *vbl, size_t vbl_len)
{
    unsigned char pdu[2048], msg[2048];
    static const unsigned char ids[] = {0x02, 0x01, 0x07, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00};
    memcpy(pdu, ids, sizeof ids);
    size_t pn = sizeof ids + put_tlv(pdu + sizeof ids, 0x30, vbl, vbl_len);
    size_t mn = 0;
    msg[mn++] = 0x02;
    msg[mn++] = 0x01;
    msg[mn++] = version;
    mn += put_tlv(msg + mn, ASN_OCTET_STR, (const unsigned char *)"public", 6);
    mn += put_tlv(msg + mn, pdu_tag, pdu, pn);
    return put_tlv(out, 0x30, msg, mn);
}

/* net-snmp's encoding of pdu (then freed) for a session of version and
 * community. Returns its length. */
static size_t net_snmp_encode(netsnmp_pdu *pdu, long version, const char *community,
                              unsigned char *out, size_t cap)
{
    netsnmp_session s;
    snmp_sess_init(&s);
    s.version = version;
    s.community = (u_char *)community;
    s.community_len = strlen(community);
    pdu->version = version;
    /* A Response carries its own community (a request takes the
     * session's); snmp_free_pdu frees it. */
    pdu->community = (u_char *)strdup(community);
    pdu->community_len = strlen(community);
    size_t pkt_len = 256, offset = 0;
    u_char *pkt = malloc(pkt_len);
    assert_non_null(pkt);
    if (snmp_build(&pkt, &pkt_len, &offset, &s, pdu) != 0)
        fail_msg("snmp_build failed: %s", snmp_api_errstring(snmp_errno));
    /* Reverse encoding (Debian's default) leaves the message at the end. */
    assert_true(netsnmp_ds_get_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_REVERSE_ENCODE));
    assert_true(offset <= cap);
    memcpy(out, pkt + pkt_len - offset, offset);
    free(pkt);
    snmp_free_pdu(pdu);
    return offset;
}

static int decode(const unsigned char *msg, size_t len, struct snmp_ber_varbind *vbs,
                  size_t max_vbs, oid *pool, size_t pool_len, struct snmp_ber_response *r,
                  char *err, size_t errlen)
{
    /* An exact-size copy: under ASan a read past len is caught. */
    unsigned char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, msg, len);
    err[0] = '\0';
    int rc = snmp_ber_decode(copy, len, vbs, max_vbs, pool, pool_len, r, err, errlen);
    if (rc == 0) {
        /* Pointers into the message stay valid for the caller's checks:
         * point them back at msg. */
        r->community = msg + (r->community - copy);
        for (size_t i = 0; i < r->n; i++)
            if (vbs[i].bytes)
                vbs[i].bytes = msg + (vbs[i].bytes - copy);
    }
    free(copy);
    return rc;
}

/* ---- requests ---- */

static const oid sys_uptime[] = {1, 3, 6, 1, 2, 1, 1, 3, 0};
static const oid if_hc_in[] = {1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, 4294967295UL};
static const oid big_subids[] = {
    1, 3, 6, 1, 4, 1, 268435456UL, 268435455UL, 4294967295UL, 2097152, 16384, 128, 127, 0};
static const oid joint_iso[] = {2, 999, 1};
static const oid joint_iso_max[] = {2, 4294967295UL};
static const oid itu[] = {0, 39};

static oid long_name[MAX_OID_LEN];

static void fill_long_name(void)
{
    long_name[0] = 1;
    long_name[1] = 3;
    for (size_t i = 2; i < MAX_OID_LEN; i++)
        long_name[i] = (i % 3 == 0) ? 4294967295UL : (i % 3 == 1) ? 268435457UL : i;
}

struct req_case {
    const char *name;
    long version;
    const char *community;
    int pdu_type;
    long request_id, non_repeaters, max_repetitions;
    const oid *names[8];
    size_t lens[8];
    size_t n;
};

static const struct req_case *req_cases(size_t *n)
{
    fill_long_name();
    static struct req_case cases[] = {
        {"v1 GET of one name (short lengths)",
         SNMP_VERSION_1,
         "public",
         SNMP_MSG_GET,
         1,
         0,
         0,
         {sys_uptime},
         {9},
         1},
        {"v2c GETNEXT of several names (one-octet long form)",
         SNMP_VERSION_2c,
         "c0mmunity",
         SNMP_MSG_GETNEXT,
         2147483647L,
         0,
         0,
         {sys_uptime, if_hc_in, big_subids, sys_uptime, if_hc_in, big_subids},
         {9, 12, 14, 9, 12, 14},
         6},
        {"v2c GETBULK with a 128 sub-identifier name (two-octet long form)",
         SNMP_VERSION_2c,
         "public",
         SNMP_MSG_GETBULK,
         128,
         1,
         50,
         {sys_uptime, long_name, if_hc_in},
         {9, MAX_OID_LEN, 12},
         3},
        {"v2c GETBULK with large counts and request-id",
         SNMP_VERSION_2c,
         "p",
         SNMP_MSG_GETBULK,
         8388608,
         32768,
         2147483647L,
         {if_hc_in},
         {12},
         1},
        {"v2c GET of 2.999.1 and 0.39",
         SNMP_VERSION_2c,
         "public",
         SNMP_MSG_GET,
         255,
         0,
         0,
         {joint_iso, itu},
         {3, 2},
         2},
        {"v1 GETNEXT with an empty community and no varbinds",
         SNMP_VERSION_1,
         "",
         SNMP_MSG_GETNEXT,
         0,
         0,
         0,
         {NULL},
         {0},
         0},
    };
    *n = sizeof cases / sizeof cases[0];
    return cases;
}

static struct snmp_ber_request to_request(const struct req_case *c)
{
    struct snmp_ber_request rq = {
        .version = c->version,
        .community = (const unsigned char *)c->community,
        .community_len = strlen(c->community),
        .pdu_type = c->pdu_type,
        .request_id = c->request_id,
        .non_repeaters = c->non_repeaters,
        .max_repetitions = c->max_repetitions,
        .names = c->names,
        .name_lens = c->lens,
        .n = c->n,
    };
    return rq;
}

static void requests_round_trip(void **state)
{
    (void)state;
    size_t ncases;
    const struct req_case *cases = req_cases(&ncases);
    for (size_t i = 0; i < ncases; i++) {
        const struct req_case *c = &cases[i];
        struct snmp_ber_request rq = to_request(c);
        unsigned char buf[2048];
        char err[200] = "";
        size_t len = snmp_ber_encode(&rq, buf, sizeof buf, err, sizeof err);
        if (len == 0)
            fail_msg("%s: encode failed: %s", c->name, err);

        struct snmp_ber_varbind vbs[8];
        oid pool[POOL];
        struct snmp_ber_response r;
        if (decode(buf, len, vbs, 8, pool, POOL, &r, err, sizeof err) != 0)
            fail_msg("%s: decode failed: %s", c->name, err);
        assert_int_equal(r.version, c->version);
        assert_int_equal(r.community_len, strlen(c->community));
        assert_memory_equal(r.community, c->community, r.community_len);
        assert_int_equal(r.pdu_type, c->pdu_type);
        assert_int_equal(r.request_id, c->request_id);
        assert_int_equal(r.error_status, c->pdu_type == SNMP_MSG_GETBULK ? c->non_repeaters : 0);
        assert_int_equal(r.error_index, c->pdu_type == SNMP_MSG_GETBULK ? c->max_repetitions : 0);
        assert_int_equal(r.n, c->n);
        assert_ptr_equal(r.vbs, vbs);
        for (size_t k = 0; k < c->n; k++) {
            if (vbs[k].name_len != c->lens[k] ||
                memcmp(vbs[k].name, c->names[k], c->lens[k] * sizeof(oid)) != 0)
                fail_msg("%s: name %zu differs after the round trip", c->name, k);
            assert_int_equal(vbs[k].type, ASN_NULL);
            assert_int_equal(vbs[k].len, 0);
        }
    }
}

static void requests_are_byte_for_byte_what_net_snmp_sends(void **state)
{
    (void)state;
    size_t ncases;
    const struct req_case *cases = req_cases(&ncases);
    for (size_t i = 0; i < ncases; i++) {
        const struct req_case *c = &cases[i];
        netsnmp_pdu *pdu = snmp_pdu_create(c->pdu_type);
        pdu->reqid = c->request_id;
        if (c->pdu_type == SNMP_MSG_GETBULK) {
            pdu->non_repeaters = c->non_repeaters;
            pdu->max_repetitions = c->max_repetitions;
        } else {
            pdu->errstat = 0;
            pdu->errindex = 0;
        }
        for (size_t k = 0; k < c->n; k++)
            snmp_add_null_var(pdu, c->names[k], c->lens[k]);
        unsigned char want[2048], got[2048];
        size_t want_len = net_snmp_encode(pdu, c->version, c->community, want, sizeof want);

        struct snmp_ber_request rq = to_request(c);
        char err[200] = "";
        size_t len = snmp_ber_encode(&rq, got, sizeof got, err, sizeof err);
        if (len == 0)
            fail_msg("%s: encode failed: %s", c->name, err);
        if (len != want_len || memcmp(got, want, len) != 0) {
            size_t at = 0;
            while (at < len && at < want_len && got[at] == want[at])
                at++;
            fail_msg("%s: %zu bytes, net-snmp sends %zu; first difference at byte %zu", c->name,
                     len, want_len, at);
        }
    }
    /* The lengths above cover the short form and both long forms. */
    unsigned char buf[2048];
    char err[200];
    struct snmp_ber_request rq = to_request(&cases[2]);
    size_t len = snmp_ber_encode(&rq, buf, sizeof buf, err, sizeof err);
    assert_int_equal(buf[1], 0x82);
    rq = to_request(&cases[1]);
    len = snmp_ber_encode(&rq, buf, sizeof buf, err, sizeof err);
    assert_int_equal(buf[1], 0x81);
    assert_true(len > 130);
}

static void encoder_refuses_what_does_not_fit(void **state)
{
    (void)state;
    size_t ncases;
    const struct req_case *cases = req_cases(&ncases);
    for (size_t i = 0; i < ncases; i++) {
        struct snmp_ber_request rq = to_request(&cases[i]);
        unsigned char full[2048];
        char err[200];
        size_t need = snmp_ber_encode(&rq, full, sizeof full, err, sizeof err);
        assert_true(need > 0);
        for (size_t cap = 0; cap < need; cap++) {
            /* Exact size: under ASan one byte written past cap is caught. */
            unsigned char *out = malloc(cap ? cap : 1);
            assert_non_null(out);
            err[0] = '\0';
            size_t got = snmp_ber_encode(&rq, out, cap, err, sizeof err);
            free(out);
            char want[80];
            snprintf(want, sizeof want, "message does not fit in %zu bytes", cap);
            if (got != 0 || strcmp(err, want) != 0)
                fail_msg("%s: cap %zu of %zu: got %zu, \"%s\"", cases[i].name, cap, need, got, err);
        }
        unsigned char *out = malloc(need);
        assert_non_null(out);
        assert_int_equal(snmp_ber_encode(&rq, out, need, err, sizeof err), need);
        assert_memory_equal(out, full, need);
        free(out);
    }
}

static void encoder_refuses_invalid_requests(void **state)
{
    (void)state;
    static const oid one[] = {1};
    static const oid three[] = {3, 1};
    static const oid one_40[] = {1, 40};
    static const oid zero_40[] = {0, 40};
    static const oid too_big[] = {1, 3, 6, 4294967296UL};
    static oid too_long[MAX_OID_LEN + 1];
    for (size_t i = 0; i < MAX_OID_LEN + 1; i++)
        too_long[i] = 1;
    static const struct {
        const char *name;
        long version;
        int pdu_type;
        long request_id, non_repeaters, max_repetitions;
        const oid *oid;
        size_t len;
        const char *err;
    } cases[] = {
        {"one sub-identifier", 1, SNMP_MSG_GET, 1, 0, 0, one, 1,
         "varbind 2: OID of 1 sub-identifiers (at least 2)"},
        {"first over 2", 1, SNMP_MSG_GET, 1, 0, 0, three, 2,
         "varbind 2: OID: first sub-identifier 3 is over 2"},
        {"second over 39 under 1", 1, SNMP_MSG_GET, 1, 0, 0, one_40, 2,
         "varbind 2: OID: second sub-identifier 40 is over 39 under 1"},
        {"second over 39 under 0", 0, SNMP_MSG_GETNEXT, 1, 0, 0, zero_40, 2,
         "varbind 2: OID: second sub-identifier 40 is over 39 under 0"},
        {"sub-identifier 2^32", 1, SNMP_MSG_GET, 1, 0, 0, too_big, 4,
         "varbind 2: OID: sub-identifier 4 is over 4294967295"},
        {"129 sub-identifiers", 1, SNMP_MSG_GET, 1, 0, 0, too_long, MAX_OID_LEN + 1,
         "varbind 2: OID of 129 sub-identifiers (at most 128)"},
        {"version 3", 3, SNMP_MSG_GET, 1, 0, 0, sys_uptime, 9,
         "version 3 is not SNMPv1 (0) or SNMPv2c (1)"},
        {"SET", 1, SNMP_MSG_SET, 1, 0, 0, sys_uptime, 9,
         "PDU type 0xa3 is not GET, GETNEXT or GETBULK"},
        {"GETBULK under v1", 0, SNMP_MSG_GETBULK, 1, 0, 10, sys_uptime, 9, "GETBULK needs SNMPv2c"},
        {"negative request-id", 1, SNMP_MSG_GET, -1, 0, 0, sys_uptime, 9,
         "request-id -1 is out of 0 .. 2147483647"},
        {"request-id 2^31", 1, SNMP_MSG_GET, 2147483648L, 0, 0, sys_uptime, 9,
         "request-id 2147483648 is out of 0 .. 2147483647"},
        {"negative non-repeaters", 1, SNMP_MSG_GETBULK, 1, -1, 10, sys_uptime, 9,
         "non-repeaters -1 or max-repetitions 10 is out of 0 .. 2147483647"},
        {"max-repetitions 2^31", 1, SNMP_MSG_GETBULK, 1, 0, 2147483648L, sys_uptime, 9,
         "non-repeaters 0 or max-repetitions 2147483648 is out of 0 .. 2147483647"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const oid *names[] = {sys_uptime, cases[i].oid};
        size_t lens[] = {9, cases[i].len};
        struct snmp_ber_request rq = {
            .version = cases[i].version,
            .community = (const unsigned char *)"public",
            .community_len = 6,
            .pdu_type = cases[i].pdu_type,
            .request_id = cases[i].request_id,
            .non_repeaters = cases[i].non_repeaters,
            .max_repetitions = cases[i].max_repetitions,
            .names = names,
            .name_lens = lens,
            .n = 2,
        };
        unsigned char buf[2048];
        char err[200] = "";
        size_t len = snmp_ber_encode(&rq, buf, sizeof buf, err, sizeof err);
        if (len != 0 || strcmp(err, cases[i].err) != 0)
            fail_msg("%s: expected \"%s\", got %zu \"%s\"", cases[i].name, cases[i].err, len, err);
    }
    /* The largest valid sub-identifiers are accepted, and come back. */
    const oid *names[] = {joint_iso_max};
    size_t lens[] = {2};
    struct snmp_ber_request rq = {
        .version = 1, .pdu_type = SNMP_MSG_GET, .names = names, .name_lens = lens, .n = 1};
    unsigned char buf[64];
    char err[200];
    size_t len = snmp_ber_encode(&rq, buf, sizeof buf, err, sizeof err);
    assert_true(len > 0);
    struct snmp_ber_varbind vb;
    oid pool[8];
    struct snmp_ber_response r;
    assert_int_equal(decode(buf, len, &vb, 1, pool, 8, &r, err, sizeof err), 0);
    assert_int_equal(vb.name_len, 2);
    assert_int_equal(vb.name[0], 2);
    assert_int_equal(vb.name[1], 4294967295UL);
}

/* ---- responses ---- */

struct resp_value {
    const char *name;
    unsigned char type;
    long l;
    struct counter64 c64;
    float f;
    double d;
    const char *s; /* bytes for strings; NULL: the number above */
    size_t slen;
    const oid *objid;
    size_t objid_len;
    double want;          /* when want_err is NULL */
    const char *want_err; /* snmp_value_to_double's reason */
};

static const oid enterprise[] = {1, 3, 6, 1, 4, 1, 8072, 3, 2, 10};

static const struct resp_value resp_values[] = {
    {"INTEGER -1", ASN_INTEGER, -1, {0, 0}, 0, 0, NULL, 0, NULL, 0, -1, NULL},
    {"INTEGER -2^31",
     ASN_INTEGER,
     -2147483647L - 1,
     {0, 0},
     0,
     0,
     NULL,
     0,
     NULL,
     0,
     -2147483648.0,
     NULL},
    {"INTEGER 0", ASN_INTEGER, 0, {0, 0}, 0, 0, NULL, 0, NULL, 0, 0, NULL},
    {"INTEGER 2^31 - 1",
     ASN_INTEGER,
     2147483647L,
     {0, 0},
     0,
     0,
     NULL,
     0,
     NULL,
     0,
     2147483647.0,
     NULL},
    {"INTEGER 128", ASN_INTEGER, 128, {0, 0}, 0, 0, NULL, 0, NULL, 0, 128, NULL},
    {"INTEGER -129", ASN_INTEGER, -129, {0, 0}, 0, 0, NULL, 0, NULL, 0, -129, NULL},
    {"Counter32 2^32 - 1",
     ASN_COUNTER,
     4294967295L,
     {0, 0},
     0,
     0,
     NULL,
     0,
     NULL,
     0,
     4294967295.0,
     NULL},
    {"Counter32 0", ASN_COUNTER, 0, {0, 0}, 0, 0, NULL, 0, NULL, 0, 0, NULL},
    {"Gauge32 2^31", ASN_GAUGE, 2147483648L, {0, 0}, 0, 0, NULL, 0, NULL, 0, 2147483648.0, NULL},
    {"Gauge32 4000000000",
     ASN_GAUGE,
     4000000000L,
     {0, 0},
     0,
     0,
     NULL,
     0,
     NULL,
     0,
     4000000000.0,
     NULL},
    {"TimeTicks", ASN_TIMETICKS, 8640000, {0, 0}, 0, 0, NULL, 0, NULL, 0, 8640000, NULL},
    {"UInteger32", ASN_UINTEGER, 7, {0, 0}, 0, 0, NULL, 0, NULL, 0, 7, NULL},
    {"Counter64 2^64 - 1",
     ASN_COUNTER64,
     0,
     {0xffffffffUL, 0xffffffffUL},
     0,
     0,
     NULL,
     0,
     NULL,
     0,
     18446744073709551615.0,
     NULL},
    {"Counter64 2^53 + 1",
     ASN_COUNTER64,
     0,
     {0x200000, 1},
     0,
     0,
     NULL,
     0,
     NULL,
     0,
     9007199254740992.0,
     NULL},
    {"Counter64 0", ASN_COUNTER64, 0, {0, 0}, 0, 0, NULL, 0, NULL, 0, 0, NULL},
    {"OCTET STRING number", ASN_OCTET_STR, 0, {0, 0}, 0, 0, " 23.5 ", 6, NULL, 0, 23.5, NULL},
    {"OCTET STRING text",
     ASN_OCTET_STR,
     0,
     {0, 0},
     0,
     0,
     "n/a",
     3,
     NULL,
     0,
     0,
     "OCTET STRING \"n/a\" is not a number"},
    {"empty OCTET STRING",
     ASN_OCTET_STR,
     0,
     {0, 0},
     0,
     0,
     "",
     0,
     NULL,
     0,
     0,
     "empty OCTET STRING is not a number"},
    {"IpAddress",
     ASN_IPADDRESS,
     0,
     {0, 0},
     0,
     0,
     "\x0a\x00\x00\x01",
     4,
     NULL,
     0,
     0,
     "IpAddress is not a number"},
    {"OID value",
     ASN_OBJECT_ID,
     0,
     {0, 0},
     0,
     0,
     NULL,
     0,
     enterprise,
     10,
     0,
     "OBJECT IDENTIFIER is not a number"},
    {"Opaque",
     ASN_OPAQUE,
     0,
     {0, 0},
     0,
     0,
     "\x01\x02\x03",
     3,
     NULL,
     0,
     0,
     "Opaque is not a number"},
    {"Opaque Float", ASN_OPAQUE_FLOAT, 0, {0, 0}, 3.25f, 0, NULL, 0, NULL, 0, 3.25, NULL},
    {"Opaque Float -0.1",
     ASN_OPAQUE_FLOAT,
     0,
     {0, 0},
     -0.1f,
     0,
     NULL,
     0,
     NULL,
     0,
     (double)-0.1f,
     NULL},
    {"Opaque Double", ASN_OPAQUE_DOUBLE, 0, {0, 0}, 0, -2.5e300, NULL, 0, NULL, 0, -2.5e300, NULL},
    {"Opaque Double 0.1", ASN_OPAQUE_DOUBLE, 0, {0, 0}, 0, 0.1, NULL, 0, NULL, 0, 0.1, NULL},
    {"Opaque Counter64",
     ASN_OPAQUE_COUNTER64,
     0,
     {0x100, 0},
     0,
     0,
     NULL,
     0,
     NULL,
     0,
     1099511627776.0,
     NULL},
    {"Opaque U64 2^63",
     ASN_OPAQUE_U64,
     0,
     {0x80000000UL, 0},
     0,
     0,
     NULL,
     0,
     NULL,
     0,
     9223372036854775808.0,
     NULL},
    {"Opaque I64 -5",
     ASN_OPAQUE_I64,
     0,
     {0xffffffffUL, 0xfffffffbUL},
     0,
     0,
     NULL,
     0,
     NULL,
     0,
     -5,
     NULL},
    {"Opaque I64 2^40",
     ASN_OPAQUE_I64,
     0,
     {0x100, 0},
     0,
     0,
     NULL,
     0,
     NULL,
     0,
     1099511627776.0,
     NULL},
    {"noSuchObject", SNMP_NOSUCHOBJECT, 0, {0, 0}, 0, 0, NULL, 0, NULL, 0, 0, "noSuchObject"},
    {"noSuchInstance", SNMP_NOSUCHINSTANCE, 0, {0, 0}, 0, 0, NULL, 0, NULL, 0, 0, "noSuchInstance"},
    {"endOfMibView", SNMP_ENDOFMIBVIEW, 0, {0, 0}, 0, 0, NULL, 0, NULL, 0, 0, "endOfMibView"},
    {"NULL", ASN_NULL, 0, {0, 0}, 0, 0, NULL, 0, NULL, 0, 0, "NULL is not a number"},
};
#define N_RESP (sizeof resp_values / sizeof resp_values[0])

/* The name of response varbind i: most below one table, one of 128
 * sub-identifiers with values over 2^28, one under 2.x. */
static size_t resp_name(size_t i, oid *name)
{
    static const oid base[] = {1, 3, 6, 1, 4, 1, 99999, 1, 2, 1};
    if (i == 3) {
        fill_long_name();
        memcpy(name, long_name, sizeof long_name);
        return MAX_OID_LEN;
    }
    if (i == 5) {
        name[0] = 2;
        name[1] = 999;
        name[2] = 268435456UL;
        return 3;
    }
    memcpy(name, base, sizeof base);
    name[10] = i * 1000003UL;
    return 11;
}

static size_t net_snmp_response(long version, unsigned char *out, size_t cap)
{
    netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_RESPONSE);
    pdu->reqid = 123456789;
    pdu->errstat = 0;
    pdu->errindex = 0;
    for (size_t i = 0; i < N_RESP; i++) {
        const struct resp_value *v = &resp_values[i];
        oid name[MAX_OID_LEN];
        size_t name_len = resp_name(i, name);
        const void *val = NULL;
        size_t len = 0;
        switch (v->type) {
        case ASN_INTEGER:
        case ASN_COUNTER:
        case ASN_GAUGE:
        case ASN_TIMETICKS:
        case ASN_UINTEGER:
            val = &v->l, len = sizeof v->l;
            break;
        case ASN_COUNTER64:
        case ASN_OPAQUE_COUNTER64:
        case ASN_OPAQUE_U64:
        case ASN_OPAQUE_I64:
            val = &v->c64, len = sizeof v->c64;
            break;
        case ASN_OPAQUE_FLOAT:
            val = &v->f, len = sizeof v->f;
            break;
        case ASN_OPAQUE_DOUBLE:
            val = &v->d, len = sizeof v->d;
            break;
        case ASN_OBJECT_ID:
            val = v->objid, len = v->objid_len * sizeof(oid);
            break;
        default:
            val = v->s, len = v->slen;
            break;
        }
        /* snmp_set_var_value does not know Opaque Counter64, its encoder
         * does: store it as a Counter64 and retag it. */
        unsigned char as = v->type == ASN_OPAQUE_COUNTER64 ? ASN_COUNTER64 : v->type;
        netsnmp_variable_list *var = snmp_pdu_add_variable(pdu, name, name_len, as, val, len);
        if (!var)
            fail_msg("%s: net-snmp does not take it", v->name);
        var->type = v->type;
    }
    return net_snmp_encode(pdu, version, "public", out, cap);
}

static void responses_decode_to_the_numbers_net_snmp_gives(void **state)
{
    (void)state;
    static const long versions[] = {SNMP_VERSION_1, SNMP_VERSION_2c};
    for (size_t vi = 0; vi < 2; vi++) {
        unsigned char msg[8192];
        size_t len = net_snmp_response(versions[vi], msg, sizeof msg);
        assert_true(len > 255); /* two-octet long form lengths */

        struct snmp_ber_varbind vbs[N_RESP];
        oid pool[POOL];
        struct snmp_ber_response r;
        char err[200];
        if (decode(msg, len, vbs, N_RESP, pool, POOL, &r, err, sizeof err) != 0)
            fail_msg("decode failed: %s", err);

        /* net-snmp's decoder on the same bytes. */
        netsnmp_session s;
        snmp_sess_init(&s);
        s.version = versions[vi];
        netsnmp_pdu *ref = snmp_pdu_create(0);
        unsigned char copy[8192];
        memcpy(copy, msg, len);
        assert_int_equal(snmp_parse(NULL, &s, ref, copy, len), 0);

        assert_int_equal(r.version, ref->version);
        assert_int_equal(r.version, versions[vi]);
        assert_int_equal(r.community_len, ref->community_len);
        assert_memory_equal(r.community, ref->community, r.community_len);
        assert_int_equal(r.pdu_type, ref->command);
        assert_int_equal(r.pdu_type, SNMP_MSG_RESPONSE);
        assert_int_equal(r.request_id, ref->reqid);
        assert_int_equal(r.error_status, ref->errstat);
        assert_int_equal(r.error_index, ref->errindex);

        size_t i = 0;
        for (netsnmp_variable_list *v = ref->variables; v; v = v->next_variable, i++) {
            const struct resp_value *want = &resp_values[i];
            assert_true(i < r.n);
            oid name[MAX_OID_LEN];
            size_t name_len = resp_name(i, name);
            if (vbs[i].name_len != v->name_length ||
                memcmp(vbs[i].name, v->name, v->name_length * sizeof(oid)) != 0 ||
                vbs[i].name_len != name_len ||
                memcmp(vbs[i].name, name, name_len * sizeof(oid)) != 0)
                fail_msg("%s: name differs", want->name);
            if (vbs[i].type != v->type)
                fail_msg("%s: type 0x%02x, net-snmp says 0x%02x", want->name, vbs[i].type, v->type);

            const void *val;
            size_t val_len;
            snmp_ber_value(&vbs[i], &val, &val_len);
            double ours = -1, theirs = -2;
            char our_reason[160] = "", their_reason[160] = "";
            int our_rc = snmp_value_to_double(vbs[i].type, val, val_len, &ours, our_reason,
                                              sizeof our_reason);
            int their_rc = snmp_value_to_double(v->type, v->val.string, v->val_len, &theirs,
                                                their_reason, sizeof their_reason);
            if (our_rc != their_rc || strcmp(our_reason, their_reason) != 0 ||
                (our_rc == 0 && ours != theirs))
                fail_msg("%s: we read %d %.17g \"%s\", net-snmp %d %.17g \"%s\"", want->name,
                         our_rc, ours, our_reason, their_rc, theirs, their_reason);
            if (want->want_err ? (our_rc != -1 || strcmp(our_reason, want->want_err) != 0)
                               : (our_rc != 0 || ours != want->want))
                fail_msg("%s: expected %.17g \"%s\", got %d %.17g \"%s\"", want->name, want->want,
                         want->want_err ? want->want_err : "", our_rc, ours, our_reason);
            /* Byte values are the bytes net-snmp keeps (it decodes OIDs). */
            if (v->type != ASN_OBJECT_ID && val_len == v->val_len && val_len &&
                memcmp(val, v->val.string, val_len) != 0)
                fail_msg("%s: value bytes differ", want->name);
            if (v->type != ASN_OBJECT_ID && val_len != v->val_len)
                fail_msg("%s: value of %zu bytes, net-snmp's of %zu", want->name, val_len,
                         v->val_len);
        }
        assert_int_equal(i, r.n);
        assert_int_equal(r.n, N_RESP);
        snmp_free_pdu(ref);
    }
}

static void truncated_messages_are_refused_at_every_byte(void **state)
{
    (void)state;
    unsigned char msg[8192];
    size_t len = net_snmp_response(SNMP_VERSION_2c, msg, sizeof msg);
    struct snmp_ber_varbind vbs[N_RESP];
    oid pool[POOL];
    struct snmp_ber_response r;
    char err[200];
    assert_int_equal(msg[1], 0x82);
    for (size_t k = 0; k < len; k++) {
        int rc = decode(msg, k, vbs, N_RESP, pool, POOL, &r, err, sizeof err);
        const char *want = k == 0   ? "message: empty"
                           : k == 1 ? "message: length missing (the datagram ends)"
                           : k < 4  ? "message: length cut short (the datagram ends)"
                                    : NULL;
        char buf[120];
        if (!want) {
            snprintf(buf, sizeof buf, "message: length %zu runs past the end of the datagram",
                     len - 4);
            want = buf;
        }
        if (rc != -1 || strcmp(err, want) != 0)
            fail_msg("cut at %zu of %zu: %d \"%s\", expected \"%s\"", k, len, rc, err, want);
    }
    /* The same cuts with the outer length made to fit: every inner TLV
     * is then cut somewhere, and says so without reading past it. */
    for (size_t k = 4; k < len; k++) {
        unsigned char cut[8192];
        size_t n = put_tlv(cut, 0x30, msg + 4, k - 4);
        int rc = decode(cut, n, vbs, N_RESP, pool, POOL, &r, err, sizeof err);
        if (rc != -1 || strncmp(err, "message: length", 15) == 0 || strlen(err) < 10)
            fail_msg("inner cut at %zu of %zu: %d \"%s\"", k, len, rc, err);
    }
}

static void malformed_messages_are_refused_with_a_reason(void **state)
{
    (void)state;
    static const unsigned char up[] = {0x2b, 6, 1, 2, 1, 1, 3, 0}; /* 1.3.6.1.2.1.1.3.0 */
    static const unsigned char null[] = {0x05, 0x00};
    unsigned char vb[4096], vbl[4096], msg[8192], oidc[512];
    struct snmp_ber_varbind vbs[4];
    oid pool[POOL];
    struct snmp_ber_response r;
    char err[200];
    size_t n, m;

    /* One valid message to start from. */
    n = put_varbind(vbl, up, sizeof up, null, sizeof null);
    m = put_message(msg, 1, SNMP_MSG_RESPONSE, vbl, n);
    assert_int_equal(decode(msg, m, vbs, 4, pool, POOL, &r, err, sizeof err), 0);
    assert_int_equal(r.n, 1);

    msg[1] = 0x80;
    expect_reason("indefinite length", decode(msg, m, vbs, 4, pool, POOL, &r, err, sizeof err), err,
                  "message: indefinite length (not allowed in SNMP)");
    msg[1] = 0x85;
    expect_reason("5-octet length", decode(msg, m, vbs, 4, pool, POOL, &r, err, sizeof err), err,
                  "message: length of 5 octets (at most 4)");
    m = put_message(msg, 1, SNMP_MSG_RESPONSE, vbl, n);
    msg[m] = 0;
    expect_reason("trailing byte", decode(msg, m + 1, vbs, 4, pool, POOL, &r, err, sizeof err), err,
                  "message: 1 byte after its end");
    msg[0] = 0x02;
    expect_reason("not a SEQUENCE", decode(msg, m, vbs, 4, pool, POOL, &r, err, sizeof err), err,
                  "message: tag 0x02 where SEQUENCE (0x30) belongs");
    expect_reason("empty", decode(msg, 0, vbs, 4, pool, POOL, &r, err, sizeof err), err,
                  "message: empty");

    m = put_message(msg, 3, SNMP_MSG_RESPONSE, vbl, n);
    expect_reason("version 3", decode(msg, m, vbs, 4, pool, POOL, &r, err, sizeof err), err,
                  "message: version: 3 is not SNMPv1 (0) or SNMPv2c (1)");
    m = put_message(msg, 1, 0x30, vbl, n);
    expect_reason("not a PDU", decode(msg, m, vbs, 4, pool, POOL, &r, err, sizeof err), err,
                  "PDU: tag 0x30 is not a PDU (0xa0 .. 0xa8)");
    m = put_message(msg, 0, SNMP_MSG_TRAP, vbl, n);
    expect_reason("v1 trap", decode(msg, m, vbs, 4, pool, POOL, &r, err, sizeof err), err,
                  "PDU: SNMPv1 Trap-PDU (0xa4) is not supported");

    /* Three varbinds where two fit. */
    size_t one = put_varbind(vb, up, sizeof up, null, sizeof null);
    memcpy(vbl + one, vb, one);
    memcpy(vbl + 2 * one, vb, one);
    m = put_message(msg, 1, SNMP_MSG_RESPONSE, vbl, 3 * one);
    assert_int_equal(decode(msg, m, vbs, 3, pool, POOL, &r, err, sizeof err), 0);
    expect_reason("too many varbinds", decode(msg, m, vbs, 2, pool, POOL, &r, err, sizeof err), err,
                  "PDU: more than 2 varbinds");
    /* Pool: 9 + 9 sub-identifiers where 15 fit. */
    expect_reason("pool too small", decode(msg, m, vbs, 4, pool, 15, &r, err, sizeof err), err,
                  "varbind 2: OID: 9 sub-identifiers do not fit in the 6 left of the pool of 15");
    assert_int_equal(decode(msg, m, vbs, 4, pool, 27, &r, err, sizeof err), 0);
    expect_reason("no pool", decode(msg, m, vbs, 4, NULL, 0, &r, err, sizeof err), err,
                  "varbind 1: OID: 9 sub-identifiers do not fit in the 0 left of the pool of 0");

    /* Varbinds, each in a message of its own. */
    static const struct {
        const char *name;
        const unsigned char *oidc; /* NULL: 1.3.6.1.2.1.1.3.0 */
        size_t oidn;
        const char *val;
        size_t valn;
        const char *err; /* NULL: decodes */
    } cases[] = {
        {"OID length past its SEQUENCE", (const unsigned char *)"\x2b\x06\x01", 3, "", 0, NULL},
        {"INTEGER of 9 octets", NULL, 0, "\x02\x09\x00\xff\xff\xff\xff\xff\xff\xff\xff", 11,
         "varbind 1: value: INTEGER of 9 octets (1 .. 8)"},
        {"INTEGER of 8 octets", NULL, 0, "\x02\x08\x7f\xff\xff\xff\xff\xff\xff\xff", 10, NULL},
        {"INTEGER of 0 octets", NULL, 0, "\x02\x00", 2,
         "varbind 1: value: INTEGER of 0 octets (1 .. 8)"},
        {"Counter32 2^32", NULL, 0, "\x41\x05\x01\x00\x00\x00\x00", 7,
         "varbind 1: value: Counter32 4294967296 is out of 0 .. 4294967295"},
        {"Counter32 without its leading 0x00 (read as net-snmp reads it)", NULL, 0,
         "\x41\x04\xff\xff\xff\xff", 6, NULL},
        {"Gauge32 of 0 octets", NULL, 0, "\x42\x00", 2, "varbind 1: value: Gauge32 of 0 octets"},
        {"TimeTicks 2^40", NULL, 0, "\x43\x06\x01\x00\x00\x00\x00\x00", 8,
         "varbind 1: value: TimeTicks 1099511627776 is out of 0 .. 4294967295"},
        {"Counter64 2^64", NULL, 0, "\x46\x09\x01\x00\x00\x00\x00\x00\x00\x00\x00", 11,
         "varbind 1: value: Counter64 of 9 significant octets is out of 0 .. 2^64 - 1"},
        {"Counter64 without its leading 0x00 (read as net-snmp reads it)", NULL, 0,
         "\x46\x08\xff\xff\xff\xff\xff\xff\xff\xff", 10, NULL},
        {"sub-identifier 2^32", (const unsigned char *)"\x2b\x06\x90\x80\x80\x80\x00", 7,
         "\x05\x00", 2, "varbind 1: OID: sub-identifier 4: over 4294967295"},
        {"sub-identifier 2^32 - 1", (const unsigned char *)"\x2b\x06\x8f\xff\xff\xff\x7f", 7,
         "\x05\x00", 2, NULL},
        {"sub-identifier cut short", (const unsigned char *)"\x2b\x06\x81", 3, "\x05\x00", 2,
         "varbind 1: OID: sub-identifier 4: cut short (the last octet has bit 8 set)"},
        {"empty OID", (const unsigned char *)"", 0, "\x05\x00", 2, "varbind 1: OID: empty"},
        {"bytes after the value", NULL, 0, "\x05\x00\x05\x00", 4,
         "varbind 1: 2 bytes after the value"},
        {"value missing", NULL, 0, "", 0, "varbind 1: value: missing (its SEQUENCE ends)"},
        {"NULL with content (ignored, as net-snmp ignores it)", NULL, 0, "\x05\x01\x00", 3,
         NULL},
        {"multi-octet tag", NULL, 0, "\x1f\x01\x00", 3,
         "varbind 1: value: tag 0x1f with a multi-octet tag number"},
        {"Opaque Float of 5 octets", NULL, 0, "\x44\x08\x9f\x78\x05\x00\x00\x00\x00\x00", 10,
         "varbind 1: value: Opaque Float of 5 octets (expected 4)"},
        {"Opaque Float past its Opaque", NULL, 0, "\x44\x06\x9f\x78\x04\x00\x00\x00", 8,
         "varbind 1: value: length 4 runs past the end of the Opaque"},
        {"bytes after an Opaque Double", NULL, 0,
         "\x44\x0c\x9f\x79\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00", 14,
         "varbind 1: value: 1 byte after the Opaque Double in its Opaque"},
        {"Opaque I64 of 9 octets", NULL, 0,
         "\x44\x0c\x9f\x7a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01", 14,
         "varbind 1: value: Opaque Integer64 of 9 octets (1 .. 8)"},
        {"other Opaque is bytes", NULL, 0, "\x44\x03\x9f\x70\x00", 5, NULL},
        {"value OID cut short", NULL, 0, "\x06\x02\x2b\x86", 4,
         "varbind 1: value: sub-identifier 3: cut short (the last octet has bit 8 set)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (i == 0) {
            /* An OID that claims 9 octets of the 3 its SEQUENCE holds. */
            unsigned char c[] = {0x30, 0x05, 0x06, 0x09, 0x2b, 0x06, 0x01};
            m = put_message(msg, 1, SNMP_MSG_RESPONSE, c, sizeof c);
            expect_reason(cases[i].name, decode(msg, m, vbs, 4, pool, POOL, &r, err, sizeof err),
                          err, "varbind 1: OID: length 9 runs past the end of its SEQUENCE");
            continue;
        }
        const unsigned char *oc = cases[i].oidc ? cases[i].oidc : up;
        size_t on = cases[i].oidc ? cases[i].oidn : sizeof up;
        n = put_varbind(vbl, oc, on, (const unsigned char *)cases[i].val, cases[i].valn);
        m = put_message(msg, 1, SNMP_MSG_RESPONSE, vbl, n);
        int rc = decode(msg, m, vbs, 4, pool, POOL, &r, err, sizeof err);
        if (cases[i].err)
            expect_reason(cases[i].name, rc, err, cases[i].err);
        else if (rc != 0)
            fail_msg("%s: expected success, got \"%s\"", cases[i].name, err);
    }

    /* 128 sub-identifiers decode; 129 do not. */
    oidc[0] = 0x2b;
    memset(oidc + 1, 0x01, 127);
    n = put_varbind(vbl, oidc, 127, null, sizeof null);
    m = put_message(msg, 1, SNMP_MSG_RESPONSE, vbl, n);
    assert_int_equal(decode(msg, m, vbs, 4, pool, POOL, &r, err, sizeof err), 0);
    assert_int_equal(vbs[0].name_len, MAX_OID_LEN);
    n = put_varbind(vbl, oidc, 128, null, sizeof null);
    m = put_message(msg, 1, SNMP_MSG_RESPONSE, vbl, n);
    expect_reason("129 sub-identifiers", decode(msg, m, vbs, 4, pool, POOL, &r, err, sizeof err),
                  err, "varbind 1: OID: more than 128 sub-identifiers");
}

static void hand_encoded_values_read_as_x690_says(void **state)
{
    (void)state;
    static const unsigned char up[] = {0x2b, 6, 1, 2, 1, 1, 3, 0};
    static const struct {
        const char *name;
        const char *val;
        size_t valn;
        unsigned char type;
        double want;
    } cases[] = {
        {"INTEGER -1 in one octet", "\x02\x01\xff", 3, ASN_INTEGER, -1},
        {"INTEGER -2^63", "\x02\x08\x80\x00\x00\x00\x00\x00\x00\x00", 10, ASN_INTEGER,
         -9223372036854775808.0},
        {"INTEGER 255 with its sign octet", "\x02\x02\x00\xff", 4, ASN_INTEGER, 255},
        {"Counter32 with a leading zero", "\x41\x05\x00\xff\xff\xff\xff", 7, ASN_COUNTER,
         4294967295.0},
        {"Gauge32 with redundant zeros", "\x42\x06\x00\x00\x00\x00\x00\x05", 8, ASN_GAUGE, 5},
        {"Counter64 2^64 - 1", "\x46\x09\x00\xff\xff\xff\xff\xff\xff\xff\xff", 11, ASN_COUNTER64,
         18446744073709551615.0},
        {"Opaque Float 1.5", "\x44\x07\x9f\x78\x04\x3f\xc0\x00\x00", 9, ASN_OPAQUE_FLOAT, 1.5},
        {"Opaque Double -2", "\x44\x0b\x9f\x79\x08\xc0\x00\x00\x00\x00\x00\x00\x00", 13,
         ASN_OPAQUE_DOUBLE, -2},
        {"Opaque I64 -1", "\x44\x04\x9f\x7a\x01\xff", 6, ASN_OPAQUE_I64, -1},
        {"Opaque U64 with long-form inner length", "\x44\x05\x9f\x7b\x81\x01\x2a", 7,
         ASN_OPAQUE_U64, 42},
        /* Agents that leave out the leading 0x00: read as net-snmp reads
         * them (sign extended, cut to 32 bits), not refused. */
        {"Counter32 ff ff ff ff", "\x41\x04\xff\xff\xff\xff", 6, ASN_COUNTER, 4294967295.0},
        {"Gauge32 80", "\x42\x01\x80", 3, ASN_GAUGE, 4294967168.0},
        {"Counter64 of 8 octets without its leading 0x00",
         "\x46\x08\xff\xff\xff\xff\xff\xff\xff\xff", 10, ASN_COUNTER64, 18446744073709551615.0},
        {"endOfMibView with content, ignored", "\x82\x01\x00", 3, SNMP_ENDOFMIBVIEW, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char vbl[256], msg[512];
        size_t n =
            put_varbind(vbl, up, sizeof up, (const unsigned char *)cases[i].val, cases[i].valn);
        size_t m = put_message(msg, 0, SNMP_MSG_RESPONSE, vbl, n);
        struct snmp_ber_varbind vb;
        oid pool[16];
        struct snmp_ber_response r;
        char err[200];
        if (decode(msg, m, &vb, 1, pool, 16, &r, err, sizeof err) != 0)
            fail_msg("%s: %s", cases[i].name, err);
        if (vb.type != cases[i].type)
            fail_msg("%s: type 0x%02x", cases[i].name, vb.type);
        const void *val;
        size_t len;
        double got = 0;
        snmp_ber_value(&vb, &val, &len);
        if (cases[i].type == SNMP_ENDOFMIBVIEW)
            continue; /* no number: decoding is what is checked */
        if (snmp_value_to_double(vb.type, val, len, &got, err, sizeof err) != 0 ||
            got != cases[i].want)
            fail_msg("%s: got %.17g \"%s\", expected %.17g", cases[i].name, got, err,
                     cases[i].want);
    }
}

int main(void)
{
    /* No configuration files or MIBs: net-snmp is only our yardstick. */
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(requests_round_trip),
        cmocka_unit_test(requests_are_byte_for_byte_what_net_snmp_sends),
        cmocka_unit_test(encoder_refuses_what_does_not_fit),
        cmocka_unit_test(encoder_refuses_invalid_requests),
        cmocka_unit_test(responses_decode_to_the_numbers_net_snmp_gives),
        cmocka_unit_test(truncated_messages_are_refused_at_every_byte),
        cmocka_unit_test(malformed_messages_are_refused_with_a_reason),
        cmocka_unit_test(hand_encoded_values_read_as_x690_says),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
