/*
 * api_respond — the answers every handler builds: JSON bodies and errors
 * ({"error", "code"} with the status), RFC 3339 times and finite numbers,
 * route and query parameters. Used by the routes of api.c and the record
 * handlers of api_records.c; it calls neither, so the handlers' files only
 * point down to it. Private to the api folder.
 */
#include "api/api_respond.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

#define API_JSON "application/json"
/* ---- responses ---- */

static const char *api_error_code(int status)
{
    switch (status) {
    case 400:
        return "bad_request";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 409:
        return "conflict";
    case 413:
        return "payload_too_large";
    default:
        return "internal";
    }
}

/* Adds item to an object (key != NULL) or an array; on any failure frees
 * item and clears *ok, so a builder checks once at the end. */
cJSON *api_jadd(cJSON *parent, const char *key, cJSON *item, bool *ok)
{
    if (!item) {
        *ok = false;
        return NULL;
    }
    bool added = parent && (key ? cJSON_AddItemToObject(parent, key, item)
                                : cJSON_AddItemToArray(parent, item));
    if (!added) {
        cJSON_Delete(item);
        *ok = false;
        return NULL;
    }
    return item;
}

/* The built document, or NULL (freed) when any part of it failed. */
cJSON *api_json_finish(cJSON *root, bool ok)
{
    if (ok)
        return root;
    cJSON_Delete(root);
    return NULL;
}

/* The last resort when even the error body cannot be built: a 500 with an
 * empty body (the transport sends it as such). */
void api_respond_oom(struct api_call *c)
{
    log_debug("api: out of memory while building an answer; sent 500 without a body");
    free(c->resp->body);
    c->resp->status = 500;
    c->resp->content_type = API_JSON;
    c->resp->body = NULL;
    c->resp->body_len = 0;
}

/* Takes ownership of root (may be NULL after a failed build). */
void api_respond_json(struct api_call *c, int status, cJSON *root)
{
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        api_respond_oom(c);
        return;
    }
    free(c->resp->body);
    c->resp->status = status;
    c->resp->content_type = API_JSON;
    c->resp->body = text;
    c->resp->body_len = strlen(text);
}

/* Method and path come from the client: one log line stays one line. */
static void log_safe_copy(char *dst, size_t n, const char *src)
{
    size_t w = 0;
    for (const char *p = src ? src : ""; *p && w + 1 < n; p++)
        dst[w++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
    dst[w] = '\0';
}

void api_respond_error(struct api_call *c, int status, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Messages quote the caller (a path segment, a body's key), and the cut
     * at sizeof msg can fall inside a character: the answer stays UTF-8. */
    util_utf8_sanitize(msg);
    char method[16], path[128];
    log_safe_copy(method, sizeof method, c->req->method);
    log_safe_copy(path, sizeof path, c->req->path);
    log_debug("api: %s %s: %d %s", method, path, status, msg);
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    api_jadd(root, "error", cJSON_CreateString(msg), &ok);
    api_jadd(root, "code", cJSON_CreateString(api_error_code(status)), &ok);
    api_respond_json(c, status, api_json_finish(root, ok));
}

cJSON *api_json_number(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

cJSON *api_json_time(int64_t ms)
{
    if (ms <= 0)
        return cJSON_CreateNull();
    char ts[32];
    util_format_rfc3339(ms, ts, sizeof ts);
    return cJSON_CreateString(ts);
}

size_t api_param_copy(const char *param, char *out, size_t n)
{
    size_t len = strcspn(param, "/");
    if (len >= n)
        return 0;
    memcpy(out, param, len);
    out[len] = '\0';
    return len;
}

/* ---- query parameters ---- */

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out. -1 on a bad escape, an encoded NUL or
 * a result that does not fit. '+' stays '+': RFC 3339 offsets ("+02:00")
 * are far likelier in these parameters than form-encoded spaces. */
static int percent_decode(const char *s, size_t n, char *out, size_t outlen)
{
    if (outlen == 0)
        return -1; /* not even room for the NUL */
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (w + 1 >= outlen)
            return -1;
        out[w++] = ch;
    }
    out[w] = '\0';
    return 0;
}

/* Finds key in the raw query string. Returns 1 with the decoded value in
 * out, 0 when absent, -1 when its value is malformed or too long. The
 * first occurrence wins; parameters this endpoint does not know are
 * ignored, as HTTP caches and proxies add their own. */
int api_query_param(const char *query, const char *key, char *out, size_t outlen)
{
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t keylen = eq ? (size_t)(eq - p) : len;
        char name[64];
        if (percent_decode(p, keylen, name, sizeof name) == 0 && strcmp(name, key) == 0) {
            const char *v = eq ? eq + 1 : p + len;
            return percent_decode(v, (size_t)(p + len - v), out, outlen) == 0 ? 1 : -1;
        }
        p = end ? end + 1 : p + len;
    }
    return 0;
}
