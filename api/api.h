/*
 * api — the HTTP API of SPEC section 4.
 *
 * Split in two so the routing and answers are testable without sockets:
 * api_handle() turns a request into a response using only the agent
 * context; api_start() serves it over libmicrohttpd (its own threads).
 * Handlers read snapshots and the store; they never call a device or a peer.
 */
#ifndef FLOE_API_H
#define FLOE_API_H

#include <stddef.h>

#include "core/agent.h"

#define API_MAX_BODY (1024 * 1024)

struct api_request {
    const char *method;         /* "GET", "PUT", ... */
    const char *path;           /* without query string */
    const char *query;          /* raw query string without '?', or NULL */
    const char *authorization;  /* the Authorization header, or NULL */
    const char *if_none_match;  /* the If-None-Match header, or NULL */
    const char *body;           /* NULL when empty */
    size_t body_len;
    int body_too_large;         /* set by the transport when the body passed API_MAX_BODY */
};

struct api_render;

struct api_response {
    int status;
    const char *content_type;   /* static string */
    char *body;                 /* malloc'd, or shared->text; api_response_clear frees it */
    size_t body_len;
    struct api_render *shared;  /* a cached body (api/api_cache.h) the response holds a
                                   reference to; NULL when body is its own */
    const char *cache_control;  /* static string; NULL sends "no-store" */
    const char *csp;            /* static Content-Security-Policy, or NULL for none */
    char etag[24];              /* the ETag header with its quotes; "" for none */
};

void api_handle(struct agent *a, const struct api_request *req, struct api_response *resp);
void api_response_clear(struct api_response *resp);

/* Starts serving on listen ("host:port"). Returns NULL with err filled. */
struct api_server *api_start(struct agent *a, const char *listen, char *err, size_t errlen);
void api_stop(struct api_server *srv);

#endif
