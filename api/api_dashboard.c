/*
 * api_dashboard — see api_dashboard.h. A table maps each path to its
 * file and content type; the answer borrows nothing (libmicrohttpd frees
 * the body), so the file is copied per request: at most a few tens of
 * kilobytes, asked for once per screen and then revalidated (304).
 */
#include "api/api_dashboard.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

struct dashboard_file {
    const char *path;
    const char *content_type;
    const unsigned char *bytes;
    const size_t *len;
};

static const struct dashboard_file dashboard_files[] = {
    {"/", "text/html; charset=utf-8", api_dash_index_html, &api_dash_index_html_len},
    {"/dashboard.css", "text/css; charset=utf-8", api_dash_dashboard_css,
     &api_dash_dashboard_css_len},
    {"/dashboard.js", "text/javascript; charset=utf-8", api_dash_dashboard_js,
     &api_dash_dashboard_js_len},
};

/* A strong ETag from the content (FNV-1a, 64 bits): a new build with a
 * changed file gets a new tag, an unchanged file keeps its tag across
 * builds and restarts. */
static void dashboard_etag(const unsigned char *bytes, size_t len, char *out, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= bytes[i];
        h *= 0x100000001b3ULL;
    }
    snprintf(out, n, "\"%016" PRIx64 "\"", h);
}

/* If-None-Match holds "*" or a list of tags; weak tags (W/"...") match
 * too, as RFC 9110 has it for this header. */
static bool etag_listed(const char *if_none_match, const char *etag)
{
    if (!if_none_match)
        return false;
    size_t n = strlen(etag);
    for (const char *p = if_none_match; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (p[0] == '*' && (p[1] == '\0' || p[1] == ',' || p[1] == ' '))
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return true;
        p = strchrnul(p, ',');
    }
    return false;
}

void api_handle_dashboard(struct api_call *c, const char *param)
{
    (void)param;
    const struct dashboard_file *file = NULL;
    for (size_t i = 0; i < ARRAY_LEN(dashboard_files) && !file; i++)
        if (strcmp(c->req->path, dashboard_files[i].path) == 0)
            file = &dashboard_files[i];
    if (!file) {
        api_respond_error(c, 404, "no such endpoint");
        return;
    }
    struct api_response *r = c->resp;
    char etag[sizeof r->etag];
    dashboard_etag(file->bytes, *file->len, etag, sizeof etag);
    char *body = NULL;
    bool unchanged = etag_listed(c->req->if_none_match, etag);
    if (!unchanged) {
        body = malloc(*file->len + 1);
        if (!body) {
            api_respond_oom(c);
            return;
        }
        memcpy(body, file->bytes, *file->len);
        body[*file->len] = '\0';
    }
    free(r->body);
    r->body = body;
    r->body_len = unchanged ? 0 : *file->len;
    r->status = unchanged ? 304 : 200;
    r->content_type = file->content_type;
    r->cache_control = "no-cache";
    r->csp = API_DASHBOARD_CSP;
    memcpy(r->etag, etag, sizeof r->etag);
}
