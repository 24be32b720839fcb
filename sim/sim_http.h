/*
 * sim_http — the simulator's HTTP server (libmicrohttpd), a thin router.
 *
 * It collects the request body (up to SIM_HTTP_MAX_BODY, else 413), finds
 * the first route whose path matches (exactly, or as a prefix for routes
 * that serve a subtree) and calls its handler, which fills a response.
 * It knows nothing about the site: /sim/... and the Kubernetes subset
 * are route tables handed to sim_http_start().
 * Handlers run on libmicrohttpd's threads, one per connection, and take
 * the site's lock themselves; one may wait (a simulated hang) without
 * holding up the others.
 */
#ifndef FLOE_SIM_HTTP_H
#define FLOE_SIM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define SIM_HTTP_MAX_BODY (1024 * 1024)

struct sim_http_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query string */
    const char *body;   /* NUL-terminated; "" when there is none */
    size_t body_len;
    void *conn; /* the server's connection, for the lookups below */
};

struct sim_http_response {
    int status;               /* 0 is sent as 500 */
    char *body;               /* malloc'd; the server frees it. NULL = empty */
    const char *content_type; /* static string; NULL = application/json */
};

typedef void (*sim_http_handler)(void *arg, const struct sim_http_request *req,
                                 struct sim_http_response *resp);

struct sim_http_route {
    const char *path;
    bool prefix; /* also matches path + "/..." */
    sim_http_handler handler;
    void *arg;
};

struct sim_http;

/* Listens on addr:port (IPv4; port 0 = any free port) and serves `routes`
 * (copied). Returns 0 and *out, or -1 with err. */
int sim_http_start(struct sim_http **out, const char *addr, int port,
                   const struct sim_http_route *routes, size_t nroutes, char *err, size_t errlen);

int sim_http_port(const struct sim_http *h);

/* A query parameter (decoded; the first when repeated) or a request
 * header (name in any case) of the request being handled; NULL when
 * absent. Valid while the handler runs. */
const char *sim_http_query(const struct sim_http_request *req, const char *key);
const char *sim_http_header(const struct sim_http_request *req, const char *name);

/* Stops serving (waits for handlers in progress) and frees h. NULL is a
 * no-op. */
void sim_http_stop(struct sim_http *h);

/* Response helpers: body is taken over (may be NULL for out of memory,
 * sent as 500). Errors are {"error": message, "code": code} as in the
 * agent's API. */
void sim_http_reply(struct sim_http_response *resp, int status, char *body);
void sim_http_error(struct sim_http_response *resp, int status, const char *code, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

#endif
