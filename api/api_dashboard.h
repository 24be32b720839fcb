/*
 * api_dashboard — the NOC dashboard (SPEC 4 `GET /`): one page and its
 * script and style sheet, served from the binary. Their sources are the
 * files in api/dashboard/; the build writes them as the byte arrays below
 * (api/dashboard/embed.sh into BUILD/gen/dashboard.c), so the agent needs
 * no data files and a page always matches the agent that serves it.
 *
 * The page holds no data: it is served without a token, and its script
 * reads the API with the read token the operator gives it (or none with
 * http.anonymous_read). Answers carry a Content-Security-Policy that lets
 * the page load and fetch from the agent only, and an ETag with
 * Cache-Control: no-cache, so a browser keeps the files and asks with
 * If-None-Match (304) instead of downloading them again. api.c routes to
 * the handler. Private to the api folder.
 */
#ifndef FLOE_API_DASHBOARD_H
#define FLOE_API_DASHBOARD_H

#include <stddef.h>

#include "api/api_respond.h"

/* The Content-Security-Policy of the dashboard's answers: nothing but the
 * agent itself as a source, no inline script or style, no framing. */
#define API_DASHBOARD_CSP                                                                          \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "                \
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* The generated arrays (BUILD/gen/dashboard.c): each file's bytes, no NUL. */
extern const unsigned char api_dash_index_html[];
extern const size_t api_dash_index_html_len;
extern const unsigned char api_dash_dashboard_css[];
extern const size_t api_dash_dashboard_css_len;
extern const unsigned char api_dash_dashboard_js[];
extern const size_t api_dash_dashboard_js_len;

/* GET / (the page), /dashboard.css, /dashboard.js: the file for the
 * request's path. 304 with no body when If-None-Match names its ETag. */
void api_handle_dashboard(struct api_call *c, const char *param);

#endif
