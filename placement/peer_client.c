/*
 * peer_client — see peer_client.h. The parsers first (pure), then the
 * requests, which only build URLs and bodies, run them through lib/httpc
 * and sort the outcome into usable / unreachable / refused / garbage.
 */
#include "placement/peer_client.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/httpc.h"
#include "lib/log.h"
#include "lib/util.h"

/* Characters of a peer's text quoted in a reason (site, id, error). */
#define QUOTE_MAX 80
#define ERROR_TEXT_MAX 200
/* The largest integer a double holds exactly: a numeric id above it
 * would not survive the trip through JSON. */
#define ID_NUMBER_MAX 9007199254740992.0

const char *peer_state_name(enum peer_state s)
{
    switch (s) {
    case PEER_NOT_ASKED:
        return "pending";
    case PEER_OK:
        return "ok";
    case PEER_UNREACHABLE:
        return "unreachable";
    case PEER_REFUSED:
        return "refused";
    case PEER_GARBAGE:
        return "garbage";
    }
    return "unknown";
}

/* ---- text from a peer ---- */

/* Copies at most max characters of src (NUL-terminated) into dst (size n)
 * as printable ASCII: anything else becomes '?', so a peer's text can
 * neither break a log line nor carry escape sequences to a terminal. A
 * cut text ends in "...". */
static void clean_text(char *dst, size_t n, const char *src, size_t max)
{
    if (n == 0)
        return;
    size_t o = 0, i = 0;
    for (; src[i] && i < max && o + 4 < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (src[i] && o + 3 < n) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

static const char *json_type_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a bool";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "not a JSON value";
}

/* Parses text[0..len) as one JSON object and nothing else. Returns the
 * tree (caller frees) or NULL with err. */
static cJSON *parse_object(const char *text, size_t len, char *err, size_t errlen)
{
    if (len == 0) {
        errf(err, errlen, "empty answer");
        return NULL;
    }
    if (len > PEER_ANSWER_MAX) {
        errf(err, errlen, "%zu bytes, over the %d KiB an answer may have", len,
             PEER_ANSWER_MAX / 1024);
        return NULL;
    }
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        errf(err, errlen, "not JSON at byte %zu (a NUL byte)", (size_t)(nul - text));
        return NULL;
    }
    /* A terminated copy: cJSON then cannot read past the answer whatever
     * its bounds checks do. */
    char *copy = malloc(len + 1);
    if (!copy) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(copy, len, &end, false);
    size_t at = end && end >= copy && end <= copy + len ? (size_t)(end - copy) : 0;
    if (!j) {
        errf(err, errlen, "not JSON at byte %zu", at);
        goto fail;
    }
    while (at < len && strchr(" \t\r\n", copy[at]))
        at++;
    if (at < len) {
        errf(err, errlen, "not JSON at byte %zu (more after the value)", at);
        goto fail;
    }
    if (!cJSON_IsObject(j)) {
        errf(err, errlen, "not a JSON object but %s", json_type_name(j));
        goto fail;
    }
    free(copy);
    return j;
fail:
    cJSON_Delete(j);
    free(copy);
    return NULL;
}

/* The one member key of o: NULL with err when it is missing or given
 * more than once (which of two would the peer mean?). */
static const cJSON *member(const cJSON *o, const char *key, char *err, size_t errlen)
{
    const cJSON *found = NULL;
    int count = 0;
    for (const cJSON *c = o->child; c; c = c->next)
        if (c->string && strcmp(c->string, key) == 0) {
            found = found ? found : c;
            count++;
        }
    if (count == 0)
        errf(err, errlen, "%s is missing", key);
    else if (count > 1)
        errf(err, errlen, "%s is given %d times", key, count);
    return count == 1 ? found : NULL;
}

enum kw_rule { KW_NONNEG, KW_SIGNED, KW_SIGNED_OR_NULL };

/* A kW member: a finite number within ±PEER_MAX_KW (>= 0 for KW_NONNEG);
 * null reads as NAN where allowed. */
static int kw_member(const cJSON *o, const char *key, enum kw_rule rule, double *out, char *err,
                     size_t errlen)
{
    const cJSON *v = member(o, key, err, errlen);
    if (!v)
        return -1;
    if (rule == KW_SIGNED_OR_NULL && cJSON_IsNull(v)) {
        *out = NAN;
        return 0;
    }
    if (!cJSON_IsNumber(v))
        return errf(err, errlen, "%s is not a number%s (%s)", key,
                    rule == KW_SIGNED_OR_NULL ? " or null" : "", json_type_name(v));
    double x = v->valuedouble;
    if (!isfinite(x))
        return errf(err, errlen, "%s is not a finite number", key);
    if (rule == KW_NONNEG && x < 0)
        return errf(err, errlen, "%s is negative (%g)", key, x);
    if (fabs(x) > PEER_MAX_KW)
        return errf(err, errlen, "%s is %g, beyond the %g kW any site has", key, x, PEER_MAX_KW);
    *out = x;
    return 0;
}

/* An RFC 3339 time member. util_parse_time_ms also reads Unix seconds;
 * SPEC's times are RFC 3339 strings, so a bare number is refused. */
static int time_member(const cJSON *o, const char *key, int64_t *out, char *err, size_t errlen)
{
    const cJSON *v = member(o, key, err, errlen);
    if (!v)
        return -1;
    if (!cJSON_IsString(v))
        return errf(err, errlen, "%s is not a string (%s)", key, json_type_name(v));
    const char *s = v->valuestring;
    char quoted[QUOTE_MAX + 8];
    clean_text(quoted, sizeof quoted, s, QUOTE_MAX);
    if (strspn(s, "0123456789.-") == strlen(s) || util_parse_time_ms(s, out) != 0)
        return errf(err, errlen, "%s '%s' is not an RFC 3339 time", key, quoted);
    return 0;
}

/* A host name or address as a peer's config may hold it (the rule of
 * config's cfg_check_host), "" for null. */
static int ingress_member(const cJSON *o, char *out, size_t n, char *err, size_t errlen)
{
    const cJSON *v = member(o, "ingress", err, errlen);
    if (!v)
        return -1;
    if (cJSON_IsNull(v)) {
        out[0] = '\0';
        return 0;
    }
    if (!cJSON_IsString(v))
        return errf(err, errlen, "ingress is not a string or null (%s)", json_type_name(v));
    const char *s = v->valuestring;
    bool ok = strlen(s) <= 253 && strlen(s) < n;
    for (const char *p = s; ok && *p; p++)
        ok = (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f && *p != '/';
    if (!ok) {
        char quoted[QUOTE_MAX + 8];
        clean_text(quoted, sizeof quoted, s, QUOTE_MAX);
        return errf(err, errlen, "ingress '%s' is not a host name or address", quoted);
    }
    util_strlcpy(out, s, n);
    return 0;
}

static int site_member(const cJSON *o, const char *expected, char *out, size_t n, char *err,
                       size_t errlen)
{
    const cJSON *v = member(o, "site", err, errlen);
    if (!v)
        return -1;
    if (!cJSON_IsString(v))
        return errf(err, errlen, "site is not a string (%s)", json_type_name(v));
    char quoted[QUOTE_MAX + 8];
    clean_text(quoted, sizeof quoted, v->valuestring, QUOTE_MAX);
    if (expected && strcmp(v->valuestring, expected) != 0)
        return errf(err, errlen, "site is '%s', expected '%s'", quoted, expected);
    if (!*v->valuestring || strlen(v->valuestring) >= n)
        return errf(err, errlen, "site '%s' is not a site name", quoted);
    util_strlcpy(out, v->valuestring, n);
    return 0;
}

int peer_parse_capacity(const char *text, size_t len, const char *expected_site,
                        struct peer_capacity *out, char *err, size_t errlen)
{
    struct peer_capacity c;
    memset(&c, 0, sizeof c);
    cJSON *j = parse_object(text, len, err, errlen);
    if (!j)
        return -1;
    int rc = -1;
    if (site_member(j, expected_site, c.site, sizeof c.site, err, errlen) != 0)
        goto done;
    const cJSON *accepting = member(j, "accepting", err, errlen);
    if (!accepting)
        goto done;
    if (!cJSON_IsBool(accepting)) {
        errf(err, errlen, "accepting is not true or false (%s)", json_type_name(accepting));
        goto done;
    }
    c.accepting = cJSON_IsTrue(accepting);
    if (kw_member(j, "spare_kw", KW_NONNEG, &c.spare_kw, err, errlen) != 0 ||
        kw_member(j, "power_headroom_kw", KW_SIGNED_OR_NULL, &c.power_headroom_kw, err, errlen) !=
            0 ||
        kw_member(j, "cooling_headroom_kw", KW_SIGNED_OR_NULL, &c.cooling_headroom_kw, err,
                  errlen) != 0 ||
        kw_member(j, "reserved_kw", KW_NONNEG, &c.reserved_kw, err, errlen) != 0 ||
        ingress_member(j, c.ingress, sizeof c.ingress, err, errlen) != 0 ||
        time_member(j, "as_of", &c.as_of_ms, err, errlen) != 0)
        goto done;
    *out = c;
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

bool peer_id_valid(const char *id)
{
    size_t len = strlen(id);
    if (len == 0 || len > PEER_ID_MAX)
        return false;
    bool only_dots = true;
    for (const char *p = id; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
        only_dots = only_dots && c == '.';
    }
    /* "." and ".." are path steps: DELETE .../reservations/.. would reach
     * .../v1/ once the URL is normalised. */
    return !only_dots;
}

/* The id member as text into out (size PEER_ID_MAX + 1). */
static int id_member(const cJSON *o, char *out, char *err, size_t errlen)
{
    const cJSON *v = member(o, "id", err, errlen);
    if (!v)
        return -1;
    char text[PEER_ID_MAX + 1];
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (!isfinite(x) || x < 0 || x > ID_NUMBER_MAX || floor(x) != x)
            return errf(err, errlen, "id %g is not a whole number from 0 to 2^53", x);
        snprintf(text, sizeof text, "%.0f", x);
    } else if (cJSON_IsString(v)) {
        if (!peer_id_valid(v->valuestring)) {
            char quoted[QUOTE_MAX + 8];
            clean_text(quoted, sizeof quoted, v->valuestring, QUOTE_MAX);
            return errf(err, errlen,
                        "id '%s' is not a reservation id (1 to %d of A-Z a-z 0-9 . _ -, not only "
                        "dots)",
                        quoted, PEER_ID_MAX);
        }
        util_strlcpy(text, v->valuestring, sizeof text);
    } else {
        return errf(err, errlen, "id is not a string or number (%s)", json_type_name(v));
    }
    memcpy(out, text, sizeof text);
    return 0;
}

int peer_parse_grant(const char *text, size_t len, double asked_kw, struct peer_grant *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct peer_grant g;
    memset(&g, 0, sizeof g);
    cJSON *j = parse_object(text, len, err, errlen);
    if (!j)
        return -1;
    int rc = -1;
    if (id_member(j, g.id, err, errlen) != 0)
        goto done;
    /* From here on the reservation can be named: keep the id for a
     * release even if the rest is wrong. */
    util_strlcpy(out->id, g.id, sizeof out->id);
    if (kw_member(j, "kw", KW_NONNEG, &g.kw, err, errlen) != 0)
        goto done;
    /* The peer echoes what it reserved; a JSON round trip keeps a double
     * exact, so anything beyond rounding noise is another amount. */
    if (!(fabs(g.kw - asked_kw) <= 1e-9 * fmax(1.0, fabs(asked_kw)))) {
        errf(err, errlen, "kw is %g, asked %g", g.kw, asked_kw);
        goto done;
    }
    if (time_member(j, "expires_at", &g.expires_at_ms, err, errlen) != 0)
        goto done;
    *out = g;
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

/* The `error` text of a JSON error answer, cleaned, or "". */
static void answer_error_text(const char *text, size_t len, char *out, size_t n)
{
    char ignored[64];
    out[0] = '\0';
    cJSON *j = text ? parse_object(text, len, ignored, sizeof ignored) : NULL;
    const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
    if (cJSON_IsString(e))
        clean_text(out, n, e->valuestring, ERROR_TEXT_MAX);
    cJSON_Delete(j);
}

int peer_parse_refusal(const char *text, size_t len, double *spare_kw, char *error, size_t n)
{
    *spare_kw = NAN;
    if (n)
        error[0] = '\0';
    char why[128];
    cJSON *j = parse_object(text, len, why, sizeof why);
    if (!j)
        return -1;
    int rc = 0;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsString(e) && n)
        clean_text(error, n, e->valuestring, ERROR_TEXT_MAX);
    else
        rc = -1;
    double spare;
    if (kw_member(j, "spare_kw", KW_NONNEG, &spare, why, sizeof why) == 0)
        *spare_kw = spare;
    else
        rc = -1;
    cJSON_Delete(j);
    return rc;
}

/* ---- requests ---- */

/* {peer url without trailing '/'}{path}: a new string (caller frees). */
static char *peer_url(const struct cfg_peer *peer, const char *path)
{
    const char *base = peer->url ? peer->url : "";
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    char *url = NULL;
    if (asprintf(&url, "%.*s%s", (int)blen, base, path) < 0)
        return NULL;
    return url;
}

static void peer_request(struct httpc_req *r, const struct cfg_peer *peer, const char *method,
                         const char *url, int64_t timeout_ms)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->url = url;
    r->bearer = peer->token;
    r->ca_file = peer->ca_file;
    r->timeout_ms = timeout_ms;
    r->max_body = PEER_ANSWER_MAX;
}

/* "refused: HTTP 401: the bearer token is not valid" (the text when the
 * answer has one). */
static void refused_reason(const struct httpc_req *r, char *out, size_t n)
{
    char text[ERROR_TEXT_MAX + 8];
    answer_error_text(r->answer, r->answer_len, text, sizeof text);
    snprintf(out, n, "refused: HTTP %ld%s%s", r->status, *text ? ": " : "", text);
}

static void capacity_result(const struct cfg_peer *peer, const struct httpc_req *r,
                            struct peer_capacity_result *res)
{
    res->http_status = r->status;
    res->latency_ms = r->elapsed_ms;
    char why[PEER_REASON_MAX - 32];
    if (r->status == 0 && r->too_large) {
        res->state = PEER_GARBAGE;
        snprintf(res->reason, sizeof res->reason,
                 "garbage answer: larger than the %d KiB an answer may have",
                 PEER_ANSWER_MAX / 1024);
    } else if (r->status == 0) {
        res->state = PEER_UNREACHABLE;
        snprintf(res->reason, sizeof res->reason, "unreachable: %s", r->error);
    } else if (r->status < 200 || r->status > 299) {
        res->state = PEER_REFUSED;
        refused_reason(r, res->reason, sizeof res->reason);
    } else if (peer_parse_capacity(r->answer, r->answer_len, peer->name, &res->cap, why,
                                   sizeof why) != 0) {
        res->state = PEER_GARBAGE;
        snprintf(res->reason, sizeof res->reason, "garbage answer: %s", why);
    } else {
        res->state = PEER_OK;
        res->reason[0] = '\0';
    }
}

size_t peer_capacity_poll(const struct cfg_peer *peers, size_t npeers, int64_t timeout_ms,
                          struct peer_capacity_result *results)
{
    if (npeers == 0)
        return 0;
    struct httpc_req *reqs = calloc(npeers, sizeof *reqs);
    char **urls = calloc(npeers, sizeof *urls);
    size_t usable = 0;
    for (size_t i = 0; i < npeers; i++) {
        memset(&results[i], 0, sizeof results[i]);
        util_strlcpy(results[i].name, peers[i].name ? peers[i].name : "", sizeof results[i].name);
    }
    if (!reqs || !urls)
        goto oom;
    for (size_t i = 0; i < npeers; i++) {
        urls[i] = peer_url(&peers[i], "/v1/capacity");
        if (!urls[i])
            goto oom;
        peer_request(&reqs[i], &peers[i], "GET", urls[i], timeout_ms);
    }
    httpc_run_all(reqs, npeers);
    for (size_t i = 0; i < npeers; i++) {
        capacity_result(&peers[i], &reqs[i], &results[i]);
        usable += results[i].state == PEER_OK;
        httpc_req_clear(&reqs[i]);
    }
    goto done;
oom:
    for (size_t i = 0; i < npeers; i++) {
        results[i].state = PEER_UNREACHABLE;
        snprintf(results[i].reason, sizeof results[i].reason, "unreachable: out of memory");
    }
done:
    for (size_t i = 0; urls && i < npeers; i++)
        free(urls[i]);
    free(urls);
    free(reqs);
    return usable;
}

size_t peer_capacity_all(const struct cfg_peer *peers, size_t npeers, int64_t timeout_ms,
                         struct peer_capacity_result *results)
{
    size_t usable = peer_capacity_poll(peers, npeers, timeout_ms, results);
    for (size_t i = 0; i < npeers; i++)
        if (results[i].state != PEER_OK)
            log_warn("peer %s: skipped: %s", results[i].name, results[i].reason);
    return usable;
}

/* Releases the id of a grant we cannot use and says what became of it
 * after the reason already in out. */
static void release_unusable(const struct cfg_peer *peer, const char *id, int64_t ttl_s,
                             int64_t timeout_ms, char *out, size_t n)
{
    size_t used = strlen(out);
    if (!*id) {
        snprintf(out + used, n - used, "; not released (no usable id): it expires after %llds",
                 (long long)ttl_s);
        return;
    }
    char err[PEER_REASON_MAX];
    if (peer_release(peer, id, timeout_ms, err, sizeof err) == 0)
        snprintf(out + used, n - used, "; released reservation %s", id);
    else
        snprintf(out + used, n - used,
                 "; could not release reservation %s (%s): it expires after %llds", id, err,
                 (long long)ttl_s);
}

/* Sorts the answer to a POST into out; returns 0 when granted. */
static int reserve_result(const struct cfg_peer *peer, const struct httpc_req *r, double kw,
                          int64_t ttl_s, int64_t timeout_ms, struct peer_reservation *out)
{
    out->http_status = r->status;
    out->latency_ms = r->elapsed_ms;
    char why[PEER_REASON_MAX / 2];
    if (r->status == 0 && !r->too_large) {
        out->outcome = PEER_RESERVE_ERROR;
        snprintf(out->reason, sizeof out->reason, "unreachable: %s", r->error);
        return -1;
    }
    if (r->status == 409) {
        char text[ERROR_TEXT_MAX + 8];
        out->outcome = PEER_RESERVE_REFUSED;
        peer_parse_refusal(r->answer, r->answer_len, &out->spare_kw, text, sizeof text);
        char spare[64] = " (no valid spare_kw in the answer)";
        if (!isnan(out->spare_kw))
            snprintf(spare, sizeof spare, " (spare %g kW)", out->spare_kw);
        snprintf(out->reason, sizeof out->reason, "refused: HTTP 409%s%s%s", *text ? ": " : "",
                 text, spare);
        return -1;
    }
    if (r->status != 0 && (r->status < 200 || r->status > 299)) {
        out->outcome = PEER_RESERVE_ERROR;
        refused_reason(r, out->reason, sizeof out->reason);
        return -1;
    }
    struct peer_grant g;
    if (r->too_large) {
        memset(&g, 0, sizeof g);
        snprintf(why, sizeof why, "larger than the %d KiB an answer may have",
                 PEER_ANSWER_MAX / 1024);
    } else if (peer_parse_grant(r->answer, r->answer_len, kw, &g, why, sizeof why) == 0) {
        out->outcome = PEER_GRANTED;
        out->grant = g;
        out->reason[0] = '\0';
        return 0;
    }
    out->outcome = PEER_RESERVE_ERROR;
    snprintf(out->reason, sizeof out->reason, "garbage answer: %s", why);
    release_unusable(peer, g.id, ttl_s, timeout_ms, out->reason, sizeof out->reason);
    return -1;
}

static char *reservation_body(const char *from_site, const char *workload, double kw, int64_t ttl_s)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, "from_site", from_site) &&
              cJSON_AddStringToObject(o, "workload", workload) &&
              cJSON_AddNumberToObject(o, "kw", kw) &&
              cJSON_AddNumberToObject(o, "ttl_s", (double)ttl_s);
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

int peer_reserve(const struct cfg_peer *peer, const char *from_site, const char *workload,
                 double kw, int64_t ttl_s, int64_t timeout_ms, struct peer_reservation *out)
{
    memset(out, 0, sizeof *out);
    out->outcome = PEER_RESERVE_ERROR;
    out->spare_kw = NAN;
    const char *name = peer->name ? peer->name : "?";
    if (!(isfinite(kw) && kw > 0 && kw <= PEER_MAX_KW) || ttl_s <= 0 || !from_site || !*from_site ||
        !workload || !*workload) {
        snprintf(out->reason, sizeof out->reason,
                 "not asked: a reservation needs kW > 0, ttl_s > 0, from_site and workload");
        log_warn("peer %s: reservation for %s: %s", name, workload ? workload : "?", out->reason);
        return -1;
    }
    char *url = peer_url(peer, "/v1/reservations");
    char *body = reservation_body(from_site, workload, kw, ttl_s);
    int rc = -1;
    if (!url || !body) {
        snprintf(out->reason, sizeof out->reason, "not asked: out of memory");
        goto done;
    }
    struct httpc_req r;
    peer_request(&r, peer, "POST", url, timeout_ms);
    r.body = body;
    r.body_len = strlen(body);
    httpc_run(&r);
    rc = reserve_result(peer, &r, kw, ttl_s, timeout_ms, out);
    httpc_req_clear(&r);
done:
    if (rc == 0)
        log_info("peer %s: reserved %g kW for %s: reservation %s", name, kw, workload,
                 out->grant.id);
    else
        log_warn("peer %s: reservation of %g kW for %s: %s", name, kw, workload, out->reason);
    free(url);
    free(body);
    return rc;
}

int peer_release(const struct cfg_peer *peer, const char *id, int64_t timeout_ms, char *err,
                 size_t errlen)
{
    if (!id || !peer_id_valid(id))
        return errf(err, errlen, "not sent: not a valid reservation id");
    char path[sizeof "/v1/reservations/" + PEER_ID_MAX];
    snprintf(path, sizeof path, "/v1/reservations/%s", id);
    char *url = peer_url(peer, path);
    if (!url)
        return errf(err, errlen, "not sent: out of memory");
    struct httpc_req r;
    peer_request(&r, peer, "DELETE", url, timeout_ms);
    int rc = -1;
    if (httpc_run(&r) != 0) {
        errf(err, errlen, "unreachable: %s", r.error);
    } else if (r.status == 404) {
        log_info("peer %s: reservation %s was already gone (HTTP 404): counted as released",
                 peer->name ? peer->name : "?", id);
        rc = 0;
    } else if (r.status >= 200 && r.status <= 299) {
        rc = 0;
    } else {
        refused_reason(&r, err, errlen);
    }
    httpc_req_clear(&r);
    free(url);
    return rc;
}

/* ---- the rules, for mig_peer ---- */

cJSON *peer_answer_object(const char *text, size_t len, char *err, size_t errlen)
{
    return parse_object(text, len, err, errlen);
}

const cJSON *peer_answer_member(const cJSON *o, const char *key, char *err, size_t errlen)
{
    return member(o, key, err, errlen);
}

const char *peer_json_type_name(const cJSON *v)
{
    return json_type_name(v);
}

void peer_clean_text(char *dst, size_t n, const char *src, size_t max)
{
    clean_text(dst, n, src, max);
}

void peer_answer_error(const char *text, size_t len, char *out, size_t n)
{
    answer_error_text(text, len, out, n);
}
