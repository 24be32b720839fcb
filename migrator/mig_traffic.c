/*
 * mig_traffic — see mig_traffic.h. The bodies are pure and checked
 * strictly (a wrong name or address in DNS sends users to the wrong
 * site); the requests are one httpc call each, and what an answer other
 * than success says is quoted cleaned and cut short, so a DNS server's
 * text cannot forge a log line. The PowerDNS key goes only into the
 * X-API-Key header: no message here ever contains it.
 */
#include "migrator/mig_traffic.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/httpc.h"
#include "lib/strbuf.h"
#include "lib/util.h"

#define DNS_NAME_MAX 253
#define DNS_LABEL_MAX 63
#define TTL_MAX 86400
/* PowerDNS and webhooks answer a few lines at most. */
#define TRAFFIC_ANSWER_MAX (64 * 1024)
/* Characters of an answer quoted in an error. */
#define QUOTE_MAX 160

/* ASCII only, whatever the process's locale. */
static bool ascii_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Whether name (no trailing dot) is dot-separated labels of 1..63
 * letters, digits, '-' or '_', at most 253 characters in all. */
static bool dns_name_valid(const char *name)
{
    size_t len = strlen(name), label = 0;
    if (len == 0 || len > DNS_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++) {
        if (*p == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (ascii_alnum((unsigned char)*p) || *p == '-' || *p == '_') {
            if (++label > DNS_LABEL_MAX)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

/* The lower-case absolute form of name ("shop.apps.example.org." from
 * "Shop.apps.example.org" or "shop.apps.example.org.") into out, or -1
 * when it is no DNS name. */
static int absolute_name(const char *name, char *out, size_t n)
{
    size_t len = strlen(name);
    if (len && name[len - 1] == '.')
        len--;
    if (len + 2 > n || len > DNS_NAME_MAX)
        return -1;
    for (size_t i = 0; i < len; i++)
        out[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a') : name[i];
    out[len] = '\0';
    if (!dns_name_valid(out))
        return -1;
    out[len] = '.';
    out[len + 1] = '\0';
    return 0;
}

/* "A" or "AAAA" for address, its canonical text in out; NULL when it is
 * not an IP address. */
static const char *record_type(const char *address, char *out, size_t n)
{
    unsigned char bin[16];
    if (inet_pton(AF_INET, address, bin) == 1 && inet_ntop(AF_INET, bin, out, (socklen_t)n))
        return "A";
    if (inet_pton(AF_INET6, address, bin) == 1 && inet_ntop(AF_INET6, bin, out, (socklen_t)n))
        return "AAAA";
    return NULL;
}

/* Copies src as printable ASCII (anything else '?'), at most max
 * characters, "..." when cut. */
static void clean_text(char *dst, size_t n, const char *src, size_t max)
{
    size_t o = 0, i = 0;
    if (n == 0)
        return;
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

char *mig_traffic_powerdns_body(const struct mig_traffic_switch *sw, const char *zone, int ttl,
                                char *err, size_t errlen)
{
    char name[DNS_NAME_MAX + 2], zone_abs[DNS_NAME_MAX + 2], content[INET6_ADDRSTRLEN];
    char quoted[QUOTE_MAX + 8];
    if (!sw || !sw->hostname || !sw->address || !zone) {
        errf(err, errlen, "a switch needs a hostname, an address and a zone");
        return NULL;
    }
    if (!*zone || zone[strlen(zone) - 1] != '.' || absolute_name(zone, zone_abs, sizeof zone_abs)) {
        clean_text(quoted, sizeof quoted, zone, QUOTE_MAX);
        errf(err, errlen, "zone '%s' is not a DNS name ending in '.'", quoted);
        return NULL;
    }
    if (absolute_name(sw->hostname, name, sizeof name) != 0) {
        clean_text(quoted, sizeof quoted, sw->hostname, QUOTE_MAX);
        errf(err, errlen, "hostname '%s' is not a DNS name", quoted);
        return NULL;
    }
    size_t nl = strlen(name), zl = strlen(zone_abs);
    bool inside = strcmp(name, zone_abs) == 0 ||
                  (nl > zl && name[nl - zl - 1] == '.' && strcmp(name + nl - zl, zone_abs) == 0);
    if (!inside) {
        errf(err, errlen, "hostname '%s' is not in zone %s", name, zone_abs);
        return NULL;
    }
    const char *type = record_type(sw->address, content, sizeof content);
    if (!type) {
        clean_text(quoted, sizeof quoted, sw->address, QUOTE_MAX);
        errf(err, errlen, "address '%s' is not an IPv4 or IPv6 address", quoted);
        return NULL;
    }
    if (ttl < 1 || ttl > TTL_MAX) {
        errf(err, errlen, "ttl %d is not within 1..%d", ttl, TTL_MAX);
        return NULL;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON *rrsets = cJSON_AddArrayToObject(body, "rrsets");
    cJSON *rrset = cJSON_CreateObject();
    bool ok = body && rrsets && rrset && cJSON_AddItemToArray(rrsets, rrset);
    if (!ok)
        cJSON_Delete(rrset);
    cJSON *records = NULL, *record = NULL;
    ok = ok && cJSON_AddStringToObject(rrset, "name", name) &&
         cJSON_AddStringToObject(rrset, "type", type) &&
         cJSON_AddNumberToObject(rrset, "ttl", ttl) &&
         cJSON_AddStringToObject(rrset, "changetype", "REPLACE") &&
         (records = cJSON_AddArrayToObject(rrset, "records")) && (record = cJSON_CreateObject()) &&
         cJSON_AddItemToArray(records, record) &&
         cJSON_AddStringToObject(record, "content", content) &&
         cJSON_AddFalseToObject(record, "disabled");
    char *text = ok ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    if (!text)
        errf(err, errlen, "out of memory");
    return text;
}

char *mig_traffic_webhook_body(const struct mig_traffic_switch *sw, int ttl, char *err,
                               size_t errlen)
{
    if (!sw || !sw->workload || !*sw->workload || !sw->hostname || !*sw->hostname || !sw->address ||
        !*sw->address) {
        errf(err, errlen, "a switch needs a workload, a hostname and an address");
        return NULL;
    }
    if (ttl < 1 || ttl > TTL_MAX) {
        errf(err, errlen, "ttl %d is not within 1..%d", ttl, TTL_MAX);
        return NULL;
    }
    size_t hl = strlen(sw->hostname);
    if (hl > 1 && sw->hostname[hl - 1] == '.')
        hl--;
    char *hostname = strndup(sw->hostname, hl);
    cJSON *o = cJSON_CreateObject();
    bool ok = hostname && o && cJSON_AddStringToObject(o, "workload", sw->workload) &&
              cJSON_AddStringToObject(o, "hostname", hostname) &&
              cJSON_AddStringToObject(o, "address", sw->address) &&
              cJSON_AddStringToObject(o, "from", sw->from_site ? sw->from_site : "") &&
              cJSON_AddStringToObject(o, "to", sw->to_site ? sw->to_site : "") &&
              cJSON_AddNumberToObject(o, "ttl", ttl);
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    free(hostname);
    if (!text)
        errf(err, errlen, "out of memory");
    return text;
}

/* base without trailing '/' + path: a new string, or NULL. */
static char *join_url(const char *base, const char *path)
{
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    char *url = NULL;
    if (asprintf(&url, "%.*s%s", (int)bl, base, path) < 0)
        return NULL;
    return url;
}

/* s with every byte outside [A-Za-z0-9._~-] %-escaped, appended to sb. */
static void append_escaped(struct strbuf *sb, const char *s)
{
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (ascii_alnum(c) || strchr("._~-", c))
            strbuf_append(sb, p, 1);
        else
            strbuf_printf(sb, "%%%02X", c);
    }
}

/* "HTTP 422: <the answer's error text, or its start>" into out. */
static void describe_answer(const struct httpc_req *r, char *out, size_t n)
{
    char text[QUOTE_MAX + 8] = "";
    cJSON *j = r->answer ? cJSON_ParseWithLength(r->answer, r->answer_len) : NULL;
    const cJSON *e = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
    if (cJSON_IsString(e))
        clean_text(text, sizeof text, e->valuestring, QUOTE_MAX);
    else if (r->answer)
        clean_text(text, sizeof text, r->answer, QUOTE_MAX);
    cJSON_Delete(j);
    size_t tl = strlen(text);
    while (tl && text[tl - 1] == ' ')
        text[--tl] = '\0';
    snprintf(out, n, "HTTP %ld%s%s", r->status, *text ? ": " : "", text);
}

/* Runs one request; 0 when the status is what success is (want, or any
 * 2xx when want is 0), else -1 with err naming the driver, method and URL. */
static int run(struct httpc_req *r, const char *driver, long want, char *err, size_t errlen)
{
    int rc = -1;
    if (httpc_run(r) != 0) {
        errf(err, errlen, "traffic %s: %s %s", driver, r->method, r->error);
    } else if (want ? r->status == want : r->status >= 200 && r->status <= 299) {
        rc = 0;
    } else {
        char what[QUOTE_MAX + 64];
        describe_answer(r, what, sizeof what);
        errf(err, errlen, "traffic %s: %s %s: %s%s", driver, r->method, r->url, what,
             want ? (r->status >= 200 && r->status <= 299 ? " (expected 204)" : "") : "");
    }
    httpc_req_clear(r);
    return rc;
}

static int apply_powerdns(const struct cfg_traffic *t, const struct mig_traffic_switch *sw,
                          int64_t timeout_ms, char *err, size_t errlen)
{
    char why[256];
    if (!t->api || !*t->api || !t->api_key || !*t->api_key)
        return errf(err, errlen, "traffic powerdns: api and api_key are not configured");
    char *body = mig_traffic_powerdns_body(sw, t->zone, t->ttl, why, sizeof why);
    if (!body)
        return errf(err, errlen, "traffic powerdns: %s: %s",
                    sw && sw->workload ? sw->workload : "?", why);
    struct strbuf path = {0}, key = {0};
    strbuf_printf(&path, "/api/v1/servers/");
    append_escaped(&path, t->server_id && *t->server_id ? t->server_id : "localhost");
    strbuf_printf(&path, "/zones/");
    append_escaped(&path, t->zone);
    strbuf_printf(&key, "X-API-Key: %s", t->api_key);
    char *p = strbuf_take(&path);
    char *key_line = strbuf_take(&key);
    char *url = p ? join_url(t->api, p) : NULL;
    int rc = -1;
    if (!url || !key_line) {
        errf(err, errlen, "traffic powerdns: out of memory");
        goto done;
    }
    const char *headers[] = {key_line, NULL};
    struct httpc_req r = {.method = "PATCH",
                          .url = url,
                          .headers = headers,
                          .body = body,
                          .body_len = strlen(body),
                          .timeout_ms = timeout_ms,
                          .max_body = TRAFFIC_ANSWER_MAX};
    rc = run(&r, "powerdns", 204, err, errlen);
done:
    if (key_line) {
        /* the key must not linger in freed memory */
        memset(key_line, 0, strlen(key_line));
        free(key_line);
    }
    free(p);
    free(url);
    free(body);
    return rc;
}

static int apply_webhook(const struct cfg_traffic *t, const struct mig_traffic_switch *sw,
                         int64_t timeout_ms, char *err, size_t errlen)
{
    char why[256];
    if (!t->url || !*t->url)
        return errf(err, errlen, "traffic webhook: url is not configured");
    char *body = mig_traffic_webhook_body(sw, t->ttl, why, sizeof why);
    if (!body)
        return errf(err, errlen, "traffic webhook: %s", why);
    struct httpc_req r = {.method = "POST",
                          .url = t->url,
                          .body = body,
                          .body_len = strlen(body),
                          .timeout_ms = timeout_ms,
                          .max_body = TRAFFIC_ANSWER_MAX};
    int rc = run(&r, "webhook", 0, err, errlen);
    free(body);
    return rc;
}

int mig_traffic_apply(const struct cfg_traffic *t, const struct mig_traffic_switch *sw,
                      int64_t timeout_ms, char *err, size_t errlen)
{
    const char *driver = t && t->driver ? t->driver : "none";
    if (strcmp(driver, "none") == 0)
        return 0;
    if (strcmp(driver, "powerdns") == 0)
        return apply_powerdns(t, sw, timeout_ms, err, errlen);
    if (strcmp(driver, "webhook") == 0)
        return apply_webhook(t, sw, timeout_ms, err, errlen);
    char quoted[QUOTE_MAX + 8];
    clean_text(quoted, sizeof quoted, driver, QUOTE_MAX);
    return errf(err, errlen, "traffic: unknown driver '%s'", quoted);
}
