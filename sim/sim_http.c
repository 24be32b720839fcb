/*
 * sim_http — see sim_http.h.
 */
#include "sim/sim_http.h"

#include "lib/log.h"
#include "lib/util.h"
#include "lib/vec.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_http {
    struct MHD_Daemon *daemon;
    struct sim_http_route *routes;
    size_t nroutes;
    int port;
};

/* Per-request state, kept by libmicrohttpd between calls of on_request. */
struct pending {
    char *body;
    size_t len, cap;
    bool too_large;
};

int sim_http_port(const struct sim_http *h)
{
    return h->port;
}

const char *sim_http_query(const struct sim_http_request *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *sim_http_header(const struct sim_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void sim_http_reply(struct sim_http_response *resp, int status, char *body)
{
    free(resp->body);
    resp->status = body ? status : 500;
    resp->body = body;
    resp->content_type = NULL;
}

void sim_http_error(struct sim_http_response *resp, int status, const char *code, const char *fmt,
                    ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *body = NULL;
    cJSON *o = cJSON_CreateObject();
    if (o && cJSON_AddStringToObject(o, "error", msg) && cJSON_AddStringToObject(o, "code", code))
        body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    sim_http_reply(resp, status, body);
}

static bool route_matches(const struct sim_http_route *r, const char *path)
{
    size_t n = strlen(r->path);
    if (strncmp(path, r->path, n) != 0)
        return false;
    return path[n] == '\0' || (r->prefix && path[n] == '/');
}

static void dispatch(struct sim_http *h, const struct sim_http_request *req,
                     struct sim_http_response *resp)
{
    for (size_t i = 0; i < h->nroutes; i++) {
        if (route_matches(&h->routes[i], req->path)) {
            h->routes[i].handler(h->routes[i].arg, req, resp);
            return;
        }
    }
    sim_http_error(resp, 404, "not_found", "no such path: %s", req->path);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct sim_http_response *resp)
{
    const char *body = resp->body ? resp->body : "";
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), resp->body ? resp->body : (void *)"",
        resp->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(resp->body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, resp->status ? (unsigned)resp->status : 500u, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct sim_http *h = cls;
    struct pending *p = *con_cls;
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p)
            return MHD_NO;
        *con_cls = p;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (p->too_large)
            return MHD_YES;
        if (p->len + n > SIM_HTTP_MAX_BODY) {
            /* Keep reading (and dropping) so the client gets a clean 413. */
            p->too_large = true;
            free(p->body);
            p->body = NULL;
            p->len = p->cap = 0;
            return MHD_YES;
        }
        if (vec_reserve(p->body, p->cap, p->len + n + 1) < 0)
            return MHD_NO;
        memcpy(p->body + p->len, upload_data, n);
        p->len += n;
        p->body[p->len] = '\0';
        return MHD_YES;
    }
    struct sim_http_response resp = {0};
    if (p->too_large) {
        sim_http_error(&resp, 413, "too_large", "request body over %d bytes", SIM_HTTP_MAX_BODY);
    } else {
        struct sim_http_request req = {.method = method,
                                       .path = url,
                                       .body = p->body ? p->body : "",
                                       .body_len = p->len,
                                       .conn = conn};
        dispatch(h, &req, &resp);
    }
    return send_response(conn, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct pending *p = *con_cls;
    if (p) {
        free(p->body);
        free(p);
        *con_cls = NULL;
    }
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("http: %s", msg);
}

int sim_http_start(struct sim_http **out, const char *addr, int port,
                   const struct sim_http_route *routes, size_t nroutes, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
        return errf(err, errlen, "http: '%s' is not an IPv4 address", addr);
    struct sim_http *h = calloc(1, sizeof *h);
    if (!h)
        return errf(err, errlen, "out of memory");
    h->routes = calloc(nroutes ? nroutes : 1, sizeof *h->routes);
    if (!h->routes) {
        errf(err, errlen, "out of memory");
        goto fail;
    }
    memcpy(h->routes, routes, nroutes * sizeof *routes);
    h->nroutes = nroutes;
    /* A thread per connection: a handler may wait (the simulated API
     * server's hang fault) without stalling the other clients. */
    h->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                     MHD_USE_ERROR_LOG,
                                 (uint16_t)port, NULL, NULL, on_request, h,
                                 /* First, so that errors of the other options go through it. */
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, h, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                                 h, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!h->daemon) {
        errf(err, errlen, "http: cannot listen on %s:%d (see the line before)", addr, port);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : port;
    *out = h;
    return 0;
fail:
    sim_http_stop(h);
    return -1;
}

void sim_http_stop(struct sim_http *h)
{
    if (!h)
        return;
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    free(h->routes);
    free(h);
}
