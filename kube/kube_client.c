/*
 * kube_client — see kube_client.h.
 */
#include "kube/kube_client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_token.h"
#include "lib/httpc.h"
#include "lib/strbuf.h"
#include "lib/util.h"

struct kube_client {
    char *server;
    char *ca_file;
    char *ca_pem;
    size_t ca_pem_len;
    int64_t timeout_ms;
    struct kube_token *token;
    pthread_mutex_t lock; /* guards token_warning */
    char token_warning[320];
};

struct kube_client *kube_client_new(const struct kube_client_config *cfg, int64_t now_ms, char *err,
                                    size_t errlen)
{
    if (!cfg->server || !*cfg->server) {
        errf(err, errlen, "no API server URL");
        return NULL;
    }
    struct kube_client *kc = calloc(1, sizeof *kc);
    if (!kc) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&kc->lock, NULL);
    size_t slen = strlen(cfg->server);
    while (slen && cfg->server[slen - 1] == '/')
        slen--; /* paths start with '/' */
    kc->server = strndup(cfg->server, slen);
    kc->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    if (cfg->ca_pem && cfg->ca_pem_len) {
        kc->ca_pem = malloc(cfg->ca_pem_len);
        if (kc->ca_pem) {
            memcpy(kc->ca_pem, cfg->ca_pem, cfg->ca_pem_len);
            kc->ca_pem_len = cfg->ca_pem_len;
        }
    }
    kc->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : KUBE_DEFAULT_TIMEOUT_MS;
    kc->token = kube_token_new(cfg->token, cfg->token_file, now_ms);
    if (!kc->server || (cfg->ca_file && !kc->ca_file) ||
        (cfg->ca_pem && cfg->ca_pem_len && !kc->ca_pem)) {
        errf(err, errlen, "out of memory");
        goto fail;
    }
    if (!kc->token) {
        errf(err, errlen, "no bearer token for %s (give a token or a token file)", kc->server);
        goto fail;
    }
    return kc;
fail:
    kube_client_free(kc);
    return NULL;
}

void kube_client_free(struct kube_client *kc)
{
    if (!kc)
        return;
    free(kc->server);
    free(kc->ca_file);
    free(kc->ca_pem);
    kube_token_free(kc->token);
    pthread_mutex_destroy(&kc->lock);
    free(kc);
}

void kube_client_token_warning(struct kube_client *kc, char *buf, size_t n)
{
    pthread_mutex_lock(&kc->lock);
    util_strlcpy(buf, kc->token_warning, n);
    pthread_mutex_unlock(&kc->lock);
}

void kube_req_clear(struct kube_req *r)
{
    cJSON_Delete(r->json);
    r->json = NULL;
    r->status = 0;
    r->error[0] = '\0';
}

static void wipe_free(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

/* ---- pure helpers ---- */

int kube_query_escape(const char *s, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        size_t need = plain ? 1 : 3;
        if (o + need >= n)
            return -1;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= n)
        return -1;
    out[o] = '\0';
    return 0;
}

bool kube_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (c != '-' || i == 0 || i == n - 1))
            return false;
    }
    return true;
}

static const char *status_text(long status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

/* Copies s into out with control characters as '?': an API server's
 * text goes into logs and JSON, one line each. */
static void put_clean(struct strbuf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        char ch = c < 0x20 || c == 0x7f ? '?' : (char)c;
        strbuf_append(b, &ch, 1);
    }
}

void kube_status_error(const char *method, const char *path, long status, const char *body,
                       size_t body_len, char *out, size_t n)
{
    struct strbuf b = {0};
    strbuf_printf(&b, "%s %s: %ld", method ? method : "GET", path ? path : "", status);
    cJSON *st = body && body_len ? cJSON_ParseWithLength(body, body_len) : NULL;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(st, "kind");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(st, "reason");
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(st, "message");
    bool is_status = cJSON_IsString(kind) && strcmp(kind->valuestring, "Status") == 0;
    const char *words = status_text(status);
    if (is_status && cJSON_IsString(reason) && *reason->valuestring) {
        strbuf_puts(&b, " ");
        put_clean(&b, reason->valuestring, 64);
    } else if (*words) {
        strbuf_printf(&b, " %s", words);
    }
    if (is_status && cJSON_IsString(message) && *message->valuestring) {
        strbuf_puts(&b, ": ");
        put_clean(&b, message->valuestring, 400);
    } else if (body && body_len) {
        strbuf_puts(&b, ": the answer is not a Kubernetes Status: ");
        put_clean(&b, body, body_len < 120 ? body_len : 120);
    }
    cJSON_Delete(st);
    char *text = strbuf_take(&b);
    util_strlcpy(out, text ? text : "out of memory", n);
    free(text);
}

/* ---- requests ---- */

/* Fills r's outputs from its finished HTTP request. */
static int finish(struct kube_req *r, const struct httpc_req *h)
{
    const char *method = r->method ? r->method : "GET";
    r->status = h->status;
    if (!h->answer) {
        /* httpc names the URL already; no answer, so no status to add. */
        util_strlcpy(r->error, h->error, sizeof r->error);
        return -1;
    }
    if (h->status < 200 || h->status > 299) {
        kube_status_error(method, r->path, h->status, h->answer, h->answer_len, r->error,
                          sizeof r->error);
        return -1;
    }
    r->json = cJSON_ParseWithLength(h->answer, h->answer_len);
    if (!r->json) {
        snprintf(r->error, sizeof r->error, "%s %s: %ld, but the answer is not JSON", method,
                 r->path, h->status);
        return -1;
    }
    return 0;
}

static void set_warning(struct kube_client *kc, const char *warn)
{
    pthread_mutex_lock(&kc->lock);
    util_strlcpy(kc->token_warning, warn, sizeof kc->token_warning);
    pthread_mutex_unlock(&kc->lock);
}

/* One round of the requests whose ask[] is set (the first try: all of
 * them; the retry after a 401: those refused), all with one token. */
static void round_trip(struct kube_client *kc, struct kube_req *rs, const bool *ask, size_t n,
                       const char *token)
{
    struct httpc_req *hs = calloc(n, sizeof *hs);
    char **urls = calloc(n, sizeof *urls);
    size_t *map = calloc(n, sizeof *map);
    if (!hs || !urls || !map) {
        for (size_t i = 0; i < n; i++)
            if (ask[i])
                snprintf(rs[i].error, sizeof rs[i].error, "%s: out of memory", rs[i].path);
        goto out;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ask[i])
            continue;
        if (asprintf(&urls[i], "%s%s", kc->server, rs[i].path ? rs[i].path : "") < 0) {
            urls[i] = NULL;
            snprintf(rs[i].error, sizeof rs[i].error, "%s: out of memory", rs[i].path);
            continue;
        }
        hs[m] = (struct httpc_req){.method = rs[i].method,
                                   .url = urls[i],
                                   .bearer = token,
                                   .ca_file = kc->ca_file,
                                   .ca_pem = kc->ca_pem,
                                   .ca_pem_len = kc->ca_pem_len,
                                   .content_type = rs[i].content_type,
                                   .body = rs[i].body,
                                   .body_len = rs[i].body_len,
                                   .timeout_ms = kc->timeout_ms,
                                   .max_body = KUBE_MAX_ANSWER};
        map[m++] = i;
    }
    httpc_run_all(hs, m);
    for (size_t j = 0; j < m; j++) {
        finish(&rs[map[j]], &hs[j]);
        httpc_req_clear(&hs[j]);
    }
out:
    for (size_t i = 0; urls && i < n; i++)
        free(urls[i]);
    free(urls);
    free(map);
    free(hs);
}

size_t kube_run_all(struct kube_client *kc, struct kube_req *rs, size_t n, int64_t now_ms)
{
    if (n == 0)
        return 0;
    bool *ask = calloc(n, sizeof *ask);
    if (!ask) {
        for (size_t i = 0; i < n; i++)
            snprintf(rs[i].error, sizeof rs[i].error, "%s: out of memory", rs[i].path);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        kube_req_clear(&rs[i]);
        ask[i] = true;
    }
    char warn[320], *token = NULL;
    int trc = kube_token_get(kc->token, now_ms, false, &token, warn, sizeof warn);
    set_warning(kc, warn);
    if (trc < 0) {
        for (size_t i = 0; i < n; i++)
            snprintf(rs[i].error, sizeof rs[i].error, "%s %s: no bearer token: %s",
                     rs[i].method ? rs[i].method : "GET", rs[i].path, warn);
        free(ask);
        return 0;
    }
    round_trip(kc, rs, ask, n, token);

    /* 401: the token may have been rotated since the last read. Read the
     * file now, and ask again with the new token if it changed. */
    size_t unauthorized = 0;
    for (size_t i = 0; i < n; i++) {
        ask[i] = rs[i].status == 401;
        unauthorized += ask[i];
    }
    if (unauthorized && kube_token_file(kc->token)) {
        char *fresh = NULL;
        trc = kube_token_get(kc->token, now_ms, true, &fresh, warn, sizeof warn);
        set_warning(kc, warn);
        if (trc == 0 && strcmp(fresh, token) != 0) {
            for (size_t i = 0; i < n; i++)
                if (ask[i])
                    kube_req_clear(&rs[i]);
            round_trip(kc, rs, ask, n, fresh);
        }
        wipe_free(fresh);
    }
    wipe_free(token);
    free(ask);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += rs[i].json != NULL;
    return ok;
}

int kube_run(struct kube_client *kc, struct kube_req *r, int64_t now_ms)
{
    return kube_run_all(kc, r, 1, now_ms) == 1 ? 0 : -1;
}
