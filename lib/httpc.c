/*
 * httpc — see httpc.h. Every request, one or many, goes through the same
 * curl multi loop, so there is one set of options and one error path.
 */
#include "lib/httpc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"

#define HTTPC_DEFAULT_TIMEOUT_MS 10000

/* The per-request state the loop keeps beside the caller's struct. */
struct httpc_xfer {
    struct httpc_req *req;
    CURL *easy;
    struct curl_slist *headers;
    struct strbuf body;
    size_t max_body;
    bool too_big;
    char curl_err[CURL_ERROR_SIZE];
};

int httpc_global_init(void)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
#ifdef CURL_VERSION_THREADSAFE
    if (v && (v->features & CURL_VERSION_THREADSAFE))
        return 0;
#else
    (void)v;
#endif
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void httpc_req_clear(struct httpc_req *r)
{
    free(r->answer);
    r->answer = NULL;
    r->answer_len = 0;
    r->status = 0;
    r->elapsed_ms = 0;
    r->error[0] = '\0';
    r->too_large = false;
}

static size_t httpc_on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct httpc_xfer *x = userdata;
    size_t n = size * nmemb;
    if (n > x->max_body - x->body.len) {
        x->too_big = true;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    strbuf_append(&x->body, ptr, n);
    return x->body.failed ? 0 : n;
}

/* A header line is a token name, ':' and printable text: libcurl sends it
 * as it is, so a CR or LF would start a header (or a body) of its own. */
static bool header_line_valid(const char *line)
{
    size_t name = strcspn(line, ":");
    if (name == 0 || line[name] != ':')
        return false;
    for (size_t i = 0; i < name; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c <= 0x20 || c >= 0x7f)
            return false;
    }
    for (const char *p = line + name + 1; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* Sets up one transfer; returns 0, or -1 with the request's error set. */
static int httpc_xfer_setup(struct httpc_xfer *x, struct httpc_req *r)
{
    httpc_req_clear(r);
    x->req = r;
    x->max_body = r->max_body ? r->max_body : HTTPC_DEFAULT_MAX_BODY;
    if (!r->url || !*r->url) {
        snprintf(r->error, sizeof r->error, "no URL");
        return -1;
    }
    x->easy = curl_easy_init();
    if (!x->easy) {
        snprintf(r->error, sizeof r->error, "%s: cannot initialise libcurl", r->url);
        return -1;
    }
    CURL *e = x->easy;
    if (r->bearer && *r->bearer) {
        struct strbuf h = {0};
        strbuf_printf(&h, "Authorization: Bearer %s", r->bearer);
        char *line = strbuf_take(&h);
        struct curl_slist *l = line ? curl_slist_append(x->headers, line) : NULL;
        if (line) {
            /* the token must not linger in freed memory */
            memset(line, 0, strlen(line));
            free(line);
        }
        if (!l)
            goto nomem;
        x->headers = l;
    }
    for (size_t i = 0; r->headers && r->headers[i]; i++) {
        if (!header_line_valid(r->headers[i])) {
            snprintf(r->error, sizeof r->error,
                     "%s: request header %zu is not one 'Name: value' line", r->url, i + 1);
            return -1;
        }
        struct curl_slist *l = curl_slist_append(x->headers, r->headers[i]);
        if (!l)
            goto nomem;
        x->headers = l;
    }
    if (r->body) {
        struct strbuf h = {0};
        strbuf_printf(&h, "Content-Type: %s",
                      r->content_type ? r->content_type : "application/json");
        char *line = strbuf_take(&h);
        struct curl_slist *l = line ? curl_slist_append(x->headers, line) : NULL;
        free(line);
        if (!l)
            goto nomem;
        x->headers = l;
    }
    /* An empty Expect: no 100-continue round trip for small JSON bodies. */
    struct curl_slist *l = curl_slist_append(x->headers, "Expect:");
    if (!l)
        goto nomem;
    x->headers = l;

    long timeout = r->timeout_ms > 0 ? (long)r->timeout_ms : HTTPC_DEFAULT_TIMEOUT_MS;
    const char *method = r->method ? r->method : "GET";
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, httpc_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    if (r->ca_pem && r->ca_pem_len) {
        /* libcurl copies the blob: the caller's text may go after setup. */
        struct curl_blob blob = {
            .data = (void *)r->ca_pem, .len = r->ca_pem_len, .flags = CURL_BLOB_COPY};
        if (curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK) {
            snprintf(r->error, sizeof r->error,
                     "%s: this libcurl cannot take a CA certificate from memory", r->url);
            return -1;
        }
    } else if (r->ca_file && *r->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, r->ca_file);
    }
    if (r->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    else if (strcmp(method, "POST") == 0 && !r->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    }
    return 0;
nomem:
    snprintf(r->error, sizeof r->error, "%s: out of memory", r->url);
    return -1;
}

/* Moves a finished transfer's outcome into its request. */
static void httpc_xfer_finish(struct httpc_xfer *x, CURLcode cc)
{
    struct httpc_req *r = x->req;
    curl_off_t us = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK)
        r->elapsed_ms = (int64_t)(us / 1000);
    if (cc == CURLE_OK) {
        size_t len = x->body.len;
        char *text = strbuf_take(&x->body);
        if (!text) {
            snprintf(r->error, sizeof r->error, "%s: out of memory reading the answer", r->url);
            return;
        }
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
        r->answer = text;
        r->answer_len = len;
        return;
    }
    r->too_large = x->too_big;
    if (x->too_big)
        snprintf(r->error, sizeof r->error, "%s: answer larger than %zu bytes", r->url,
                 x->max_body);
    else if (cc == CURLE_OPERATION_TIMEDOUT)
        snprintf(r->error, sizeof r->error, "%s: no answer within %lld ms", r->url,
                 (long long)(r->timeout_ms > 0 ? r->timeout_ms : HTTPC_DEFAULT_TIMEOUT_MS));
    else
        snprintf(r->error, sizeof r->error, "%s: %s", r->url,
                 x->curl_err[0] ? x->curl_err : curl_easy_strerror(cc));
}

size_t httpc_run_all(struct httpc_req *rs, size_t n)
{
    if (n == 0)
        return 0;
    struct httpc_xfer *xs = calloc(n, sizeof *xs);
    CURLM *multi = curl_multi_init();
    if (!xs || !multi) {
        for (size_t i = 0; i < n; i++) {
            httpc_req_clear(&rs[i]);
            snprintf(rs[i].error, sizeof rs[i].error, "%s: out of memory",
                     rs[i].url ? rs[i].url : "request");
        }
        free(xs);
        if (multi)
            curl_multi_cleanup(multi);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (httpc_xfer_setup(&xs[i], &rs[i]) == 0)
            curl_multi_add_handle(multi, xs[i].easy);

    int running = 1;
    while (running) {
        if (curl_multi_perform(multi, &running) != CURLM_OK)
            break;
        int msgs;
        CURLMsg *m;
        while ((m = curl_multi_info_read(multi, &msgs))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct httpc_xfer *x = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            if (x)
                httpc_xfer_finish(x, m->data.result);
        }
        if (running && curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK)
            break;
    }

    size_t answered = 0;
    for (size_t i = 0; i < n; i++) {
        struct httpc_xfer *x = &xs[i];
        if (x->easy) {
            if (!rs[i].answer && !rs[i].error[0])
                snprintf(rs[i].error, sizeof rs[i].error, "%s: transfer abandoned", rs[i].url);
            curl_multi_remove_handle(multi, x->easy);
            curl_easy_cleanup(x->easy);
        }
        curl_slist_free_all(x->headers);
        strbuf_free(&x->body);
        if (rs[i].answer)
            answered++;
    }
    curl_multi_cleanup(multi);
    free(xs);
    return answered;
}

int httpc_run(struct httpc_req *r)
{
    return httpc_run_all(r, 1) == 1 ? 0 : -1;
}
