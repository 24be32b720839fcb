/*
 * libFuzzer target for collectors/snmp_ber.c — the decoder that reads
 * whatever arrives on an SNMP socket.
 *
 * The input is a message. Beyond not crashing (ASan, UBSan), it checks the
 * promises of the header on every message the decoder accepts: at most
 * max_vbs varbinds, names inside the pool and no longer than MAX_OID_LEN,
 * value bytes and the community inside the message, a pool of len oids
 * always enough; every value goes through snmp_value_to_double. A request
 * made of the decoded names then encodes (never longer than the message
 * it came from: ours are the shortest forms) and decodes back to the same
 * names. Decodes with a small pool or varbind array must fail, or agree
 * with the first.
 */
#include "collectors/snmp_ber.h"
#include "collectors/snmp_value.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VBS 64

static void check_reason(const char *reason)
{
    if (reason[0] == '\0')
        abort();
    for (const char *p = reason; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            abort();
}

static int inside(const void *p, size_t n, const void *base, size_t len)
{
    const unsigned char *q = p, *b = base;
    return q >= b && n <= len && (size_t)(q - b) <= len - n;
}

static void check_values(const struct snmp_ber_response *r, const uint8_t *data, size_t size,
                         const oid *pool, size_t pool_len)
{
    const oid *next = pool;
    for (size_t i = 0; i < r->n; i++) {
        const struct snmp_ber_varbind *vb = &r->vbs[i];
        /* Names lie one after the other in the pool. */
        if (vb->name != next || vb->name_len < 2 || vb->name_len > MAX_OID_LEN ||
            (size_t)(vb->name - pool) + vb->name_len > pool_len)
            abort();
        next += vb->name_len;
        if (vb->name[0] > 2 || (vb->name[0] < 2 && vb->name[1] > 39))
            abort();
        for (size_t k = 0; k < vb->name_len; k++)
            if (vb->name[k] > 0xffffffffUL)
                abort();

        const void *val;
        size_t len;
        snmp_ber_value(vb, &val, &len);
        if (val == (const void *)&vb->num) {
            if (len > sizeof vb->num)
                abort();
        } else if (!inside(val, len, data, size)) {
            abort();
        }
        double out = 0;
        char reason[160];
        reason[0] = '\0';
        if (snmp_value_to_double(vb->type, val, len, &out, reason, sizeof reason) == 0) {
            if (!isfinite(out))
                abort();
        } else {
            check_reason(reason);
        }
    }
}

/* A request of the decoded names encodes, fits in the message's size, and
 * decodes to the same names. */
static void check_reencode(const struct snmp_ber_response *r, size_t size)
{
    const oid *names[MAX_VBS];
    size_t lens[MAX_VBS];
    for (size_t i = 0; i < r->n; i++) {
        names[i] = r->vbs[i].name;
        lens[i] = r->vbs[i].name_len;
    }
    int type = r->pdu_type == SNMP_MSG_GETBULK && r->version == SNMP_VERSION_2c ? SNMP_MSG_GETBULK
               : r->pdu_type == SNMP_MSG_GETNEXT                                ? SNMP_MSG_GETNEXT
                                                                                : SNMP_MSG_GET;
    long id = r->request_id >= 0 && r->request_id <= 2147483647L ? r->request_id : 0;
    long nr = r->error_status >= 0 && r->error_status <= 2147483647L ? r->error_status : 0;
    long mr = r->error_index >= 0 && r->error_index <= 2147483647L ? r->error_index : 0;
    struct snmp_ber_request rq = {
        .version = r->version,
        .community = r->community,
        .community_len = r->community_len,
        .pdu_type = type,
        .request_id = id,
        .non_repeaters = type == SNMP_MSG_GETBULK ? nr : 0,
        .max_repetitions = type == SNMP_MSG_GETBULK ? mr : 0,
        .names = names,
        .name_lens = lens,
        .n = r->n,
    };
    unsigned char *out = malloc(size);
    char err[200];
    if (!out)
        return;
    size_t len = snmp_ber_encode(&rq, out, size, err, sizeof err);
    if (len == 0 || len > size)
        abort();

    struct snmp_ber_varbind vbs[MAX_VBS];
    oid *pool = malloc(len * sizeof(oid));
    struct snmp_ber_response back;
    if (!pool) {
        free(out);
        return;
    }
    if (snmp_ber_decode(out, len, vbs, MAX_VBS, pool, len, &back, err, sizeof err) != 0)
        abort();
    if (back.n != r->n || back.pdu_type != type || back.request_id != id ||
        back.version != r->version || back.community_len != r->community_len ||
        memcmp(back.community, r->community, r->community_len) != 0)
        abort();
    for (size_t i = 0; i < r->n; i++)
        if (vbs[i].name_len != lens[i] || vbs[i].type != ASN_NULL ||
            memcmp(vbs[i].name, names[i], lens[i] * sizeof(oid)) != 0)
            abort();
    free(pool);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct snmp_ber_varbind vbs[MAX_VBS];
    struct snmp_ber_response r;
    char err[200];
    /* The header promises a pool of size oids suffices. */
    oid *pool = malloc((size ? size : 1) * sizeof(oid));
    if (!pool)
        return 0;
    err[0] = '\0';
    int rc = snmp_ber_decode(data, size, vbs, MAX_VBS, pool, size, &r, err, sizeof err);
    if (rc == 0) {
        if (r.n > MAX_VBS || r.vbs != vbs ||
            (r.version != SNMP_VERSION_1 && r.version != SNMP_VERSION_2c) ||
            !inside(r.community, r.community_len, data, size) || r.pdu_type < SNMP_MSG_GET ||
            r.pdu_type > SNMP_MSG_REPORT)
            abort();
        check_values(&r, data, size, pool, size);
        check_reencode(&r, size);
    } else {
        if (rc != -1 || strstr(err, "pool"))
            abort();
        check_reason(err);
    }

    /* A small pool, then a small varbind array (sizes from the input's
     * size, which mutations vary): refused, or the same answer. */
    for (int pass = 0; pass < 2; pass++) {
        size_t max_vbs = pass ? size % 4 : MAX_VBS, pool_len = pass ? size : size % 37;
        struct snmp_ber_response small;
        err[0] = '\0';
        int rc2 =
            snmp_ber_decode(data, size, vbs, max_vbs, pool, pool_len, &small, err, sizeof err);
        if (rc2 != 0) {
            check_reason(err);
            continue;
        }
        if (rc != 0 || small.n != r.n || small.n > max_vbs)
            abort();
        for (size_t i = 0; i < small.n; i++)
            if ((size_t)(vbs[i].name - pool) + vbs[i].name_len > pool_len)
                abort();
    }
    free(pool);
    return 0;
}
