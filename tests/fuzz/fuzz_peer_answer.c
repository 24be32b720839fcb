/*
 * libFuzzer target for placement/peer_client.c — the parsers of what a
 * peer site's agent answers: GET /v1/capacity, a reservation grant (201)
 * and a refusal (409). A peer may be broken or hostile; none of its
 * answers may crash the agent or get a bad value past the parser.
 *
 * The first input byte picks the parser, the rest is the answer (any
 * bytes, not NUL-terminated: the parser must stay within its length):
 *   0: capacity, the site expected to be "falkenberg-1"
 *   1: capacity, any site
 *   2: grant of 12.5 kW
 *   3: refusal
 * Beyond not crashing, it checks the header's promises: an accepted
 * capacity has finite kW figures within ±PEER_MAX_KW, spare and reserved
 * >= 0, headrooms finite or NAN, the expected site; an accepted grant has
 * a valid id and the asked kW; a refused grant leaves an id that is
 * valid or empty; a refusal's spare is NAN or a valid figure; every
 * message is non-empty printable ASCII.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "placement/peer_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, bool may_be_empty)
{
    if (!may_be_empty && !*s)
        abort();
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            abort();
}

static void check_kw(double v, bool nonneg, bool nullable)
{
    if (nullable && isnan(v))
        return;
    if (!isfinite(v) || fabs(v) > PEER_MAX_KW || (nonneg && v < 0))
        abort();
}

static void fuzz_capacity(const char *text, size_t len, const char *expected)
{
    struct peer_capacity c;
    char err[256];
    err[0] = '\0';
    if (peer_parse_capacity(text, len, expected, &c, err, sizeof err) == 0) {
        check_kw(c.spare_kw, true, false);
        check_kw(c.reserved_kw, true, false);
        check_kw(c.power_headroom_kw, false, true);
        check_kw(c.cooling_headroom_kw, false, true);
        if (expected && strcmp(c.site, expected) != 0)
            abort();
        if (!c.site[0] || memchr(c.site, '\0', sizeof c.site) == NULL)
            abort();
        for (const char *p = c.ingress; *p; p++)
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '/')
                abort();
    } else {
        check_text(err, false);
    }
}

static void fuzz_grant(const char *text, size_t len)
{
    struct peer_grant g;
    char err[256];
    err[0] = '\0';
    if (peer_parse_grant(text, len, 12.5, &g, err, sizeof err) == 0) {
        if (!peer_id_valid(g.id) || fabs(g.kw - 12.5) > 1e-6)
            abort();
    } else {
        check_text(err, false);
        if (g.id[0] && !peer_id_valid(g.id))
            abort();
    }
}

static void fuzz_refusal(const char *text, size_t len)
{
    double spare;
    char error[256];
    int rc = peer_parse_refusal(text, len, &spare, error, sizeof error);
    if (!isnan(spare))
        check_kw(spare, true, false);
    if (rc == 0 && isnan(spare))
        abort();
    check_text(error, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 4;
    /* A copy of exactly the answer's bytes, so reading past it is caught. */
    size_t len = size - 1;
    char *text = malloc(len ? len : 1);
    if (!text)
        return 0;
    memcpy(text, data + 1, len);
    switch (mode) {
    case 0:
        fuzz_capacity(text, len, "falkenberg-1");
        break;
    case 1:
        fuzz_capacity(text, len, NULL);
        break;
    case 2:
        fuzz_grant(text, len);
        break;
    default:
        fuzz_refusal(text, len);
        break;
    }
    free(text);
    return 0;
}
