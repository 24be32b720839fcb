/*
 * api_http — serves api_handle() over HTTP or HTTPS with libmicrohttpd.
 *
 * This file is only transport: it collects one request (raw query string,
 * Authorization and If-None-Match headers, body up to API_MAX_BODY), calls
 * api_handle() and sends the answer with the headers the answer implies
 * (WWW-Authenticate on 401, Allow on 405, the caching and security
 * headers the answer names). Everything a request means is decided in api.c.
 *
 * Threads: a pool of http.threads event-loop threads (epoll) shares
 * the connections, bounded by API_HTTP_MAX_CONNECTIONS and an idle
 * timeout. A slow client costs nothing there (its socket waits in epoll),
 * but a handler that waits would stall every connection of its thread. So
 * only the answers that never wait run on the pool: /healthz, the
 * dashboard's files, /v1/auth, and the cached /v1/status, /v1/telemetry
 * and /metrics (api_cache.h; on a miss they read memory and a few small
 * SQLite counts). Every other request (history queries, records, anything
 * that writes the store or asks a peer or the cluster) is suspended and
 * answered by a thread of its own, which resumes the connection when the
 * answer is ready (api_http_job); api_stop waits for those threads.
 *
 * Bodies: a Content-Length over API_MAX_BODY is answered 413 before any
 * of the body is read; a chunked body is buffered only up to the limit,
 * then the rest is read and thrown away (never kept) and the answer is
 * 413, or the connection is closed if the rest goes on past
 * API_HTTP_DISCARD_MAX.
 */
#include "api/api.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/api_cache.h"
#include "api/api_internal.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/vec.h"

#define API_HTTP_MAX_CONNECTIONS 128
#define API_HTTP_MAX_PER_IP 64
#define API_HTTP_TIMEOUT_S 30
/* libmicrohttpd 0.9.75 refuses to queue an answer while a body is still
 * arriving (MHD_queue_response returns MHD_NO), so a chunked body (no
 * Content-Length to refuse up front) must be read to its end before the
 * 413 can go out. Past this much thrown-away data the connection is closed
 * instead: an endless body must not hold a thread forever. */
#define API_HTTP_DISCARD_MAX (4 * API_MAX_BODY)

struct api_server {
    struct MHD_Daemon *daemon;
    struct agent *a;
    char *tls_cert; /* PEM, read at start; NULL without TLS */
    char *tls_key;
    size_t tls_key_len;
    pthread_mutex_t log_lock;
    bool starting; /* libmicrohttpd messages now explain a failed start */
    char start_err[256];
    bool owns_cache; /* api_start made a->api_cache */
    pthread_mutex_t jobs_lock;
    pthread_cond_t jobs_done;
    unsigned jobs; /* requests being answered off the pool (api_http_job) */
    bool stopping; /* api_stop waits for the jobs: no new ones */
};

/* One request's transport state, from the URI callback to completion. */
struct api_conn {
    char *query; /* raw query string (without '?'), or NULL */
    char *body;
    size_t len, cap;
    bool headers_seen; /* the access handler ran once already */
    bool too_large;    /* body passed API_MAX_BODY: discard the rest */
    size_t discarded;  /* bytes thrown away since */
    /* Answered off the pool: the request as the job reads it, and its
     * answer once job_done. */
    struct api_server *srv;
    struct MHD_Connection *con;
    const char *url, *method;
    bool job_started, job_done;
    struct api_response resp;
};

/* ---- listen address ---- */

/* "host:port" or "[IPv6]:port" into a socket address. The host may be a
 * name; the first address it resolves to is used. */
static int api_parse_listen(const char *listen, struct sockaddr_storage *addr, char *err,
                            size_t errlen)
{
    char host[256];
    const char *port;
    if (!listen || !*listen)
        return errf(err, errlen, "empty listen address");
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return errf(err, errlen, "%s: expected [IPv6 address]:port", listen);
        size_t n = (size_t)(close - listen - 1);
        if (n == 0 || n >= sizeof host)
            return errf(err, errlen, "%s: bad address between [ ]", listen);
        memcpy(host, listen + 1, n);
        host[n] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon)
            return errf(err, errlen, "%s: expected host:port", listen);
        size_t n = (size_t)(colon - listen);
        if (memchr(listen, ':', n))
            return errf(err, errlen, "%s: an IPv6 address needs brackets: [address]:port", listen);
        if (n == 0 || n >= sizeof host)
            return errf(err, errlen, "%s: expected host:port", listen);
        memcpy(host, listen, n);
        host[n] = '\0';
        port = colon + 1;
    }
    size_t digits = strspn(port, "0123456789");
    if (digits == 0 || digits > 5 || port[digits] || atoi(port) > 65535)
        return errf(err, errlen, "%s: port must be a number 0..65535", listen);

    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        return errf(err, errlen, "%s: %s", listen, gai_strerror(rc));
    if (res->ai_addrlen > sizeof *addr) {
        freeaddrinfo(res);
        return errf(err, errlen, "%s: address too long", listen);
    }
    memset(addr, 0, sizeof *addr);
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static uint16_t api_addr_port(const struct sockaddr_storage *addr)
{
    if (addr->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
    return ntohs(((const struct sockaddr_in *)addr)->sin_port);
}

/* ---- libmicrohttpd callbacks ---- */

static void api_http_log(void *cls, const char *fmt, va_list ap)
{
    struct api_server *srv = cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    pthread_mutex_lock(&srv->log_lock);
    if (srv->starting)
        util_strlcpy(srv->start_err, line, sizeof srv->start_err);
    pthread_mutex_unlock(&srv->log_lock);
    log_debug("http: %s", line);
}

/* Called once per request with the URI as sent, before it is split: the
 * only place the raw query string is available. Returns the request's
 * state, which libmicrohttpd hands to the access handler. */
static void *api_http_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    (void)cls;
    (void)con;
    struct api_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    const char *q = uri ? strchr(uri, '?') : NULL;
    if (q) {
        c->query = strdup(q + 1);
        if (!c->query) {
            free(c);
            return NULL;
        }
    }
    return c;
}

static void api_http_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                               enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)con;
    (void)toe;
    struct api_conn *c = *con_cls;
    if (!c)
        return;
    api_response_clear(&c->resp);
    free(c->query);
    free(c->body);
    free(c);
    *con_cls = NULL;
}

/* Appends a body chunk, or drops the buffer for good once the body passes
 * API_MAX_BODY. */
static void api_conn_take(struct api_conn *c, const char *data, size_t n)
{
    if (c->too_large) {
        c->discarded += n;
        return;
    }
    if (n > API_MAX_BODY - c->len) {
        c->too_large = true;
        free(c->body);
        c->body = NULL;
        c->len = c->cap = 0;
        return;
    }
    if (vec_reserve(c->body, c->cap, c->len + n) < 0) {
        /* Cannot keep it: answer as for an oversized body rather than
         * hand the handler a truncated one. */
        c->too_large = true;
        free(c->body);
        c->body = NULL;
        c->len = c->cap = 0;
        return;
    }
    memcpy(c->body + c->len, data, n);
    c->len += n;
}

static void api_http_request(struct MHD_Connection *con, const char *url, const char *method,
                             const struct api_conn *c, struct api_request *req)
{
    *req = (struct api_request){
        .method = method,
        .path = url,
        .query = c->query,
        .authorization =
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        .if_none_match =
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
        .body = c->len ? c->body : NULL,
        .body_len = c->len,
        .body_too_large = c->too_large,
    };
}

static void api_http_unref_render(void *cls)
{
    api_render_unref(cls);
}

/* Sends resp (its body moves to libmicrohttpd) with the headers it implies. */
static enum MHD_Result api_http_send(struct MHD_Connection *con, const char *url,
                                     const struct api_conn *c, struct api_response *resp)
{
    struct MHD_Response *r;
    if (resp->shared) {
        /* A cached body: the response holds a reference until sent. */
        r = MHD_create_response_from_buffer_with_free_callback_cls(
            resp->body_len, resp->body, api_http_unref_render, resp->shared);
        if (r) {
            resp->shared = NULL;
            resp->body = NULL;
        }
    } else if (resp->body) {
        r = MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_FREE);
        if (r)
            resp->body = NULL; /* libmicrohttpd frees it now */
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    api_response_clear(resp);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
                            resp->cache_control ? resp->cache_control : "no-store");
    if (resp->etag[0])
        MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, resp->etag);
    /* A page (the dashboard) also says where it may load from, and that
     * its content type is not to be guessed at. */
    if (resp->csp) {
        MHD_add_response_header(r, "Content-Security-Policy", resp->csp);
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    }
    if (resp->status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"floe\"");
    if (resp->status == MHD_HTTP_METHOD_NOT_ALLOWED) {
        char allow[64];
        api_allowed_methods(url, allow, sizeof allow);
        if (allow[0])
            MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    }
    /* The rest of an oversized body is never read: the connection cannot
     * carry another request after this answer. */
    if (c->too_large)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(con, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Answers that never wait, so they may run on an event-loop thread. */
static bool api_http_never_waits(const char *url, const char *method, const struct api_conn *c)
{
    static const char *const paths[] = {"/healthz", "/", "/dashboard.css", "/dashboard.js",
                                        "/v1/auth", "/v1/status", "/v1/telemetry", "/metrics"};
    if (c->too_large)
        return true;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return false;
    for (size_t i = 0; i < ARRAY_LEN(paths); i++)
        if (strcmp(url, paths[i]) == 0)
            return true;
    return false;
}

/* Answers a suspended request on its own thread, then resumes it: the
 * access handler is called again and sends the answer. */
static void *api_http_job(void *arg)
{
    struct api_conn *c = arg;
    struct api_server *srv = c->srv;
    struct api_request req;
    api_http_request(c->con, c->url, c->method, c, &req);
    api_handle(srv->a, &req, &c->resp);
    c->job_done = true;
    MHD_resume_connection(c->con);
    pthread_mutex_lock(&srv->jobs_lock);
    if (--srv->jobs == 0)
        pthread_cond_broadcast(&srv->jobs_done);
    pthread_mutex_unlock(&srv->jobs_lock);
    return NULL;
}

static enum MHD_Result api_http_reply(struct api_server *srv, struct MHD_Connection *con,
                                      const char *url, const char *method, struct api_conn *c)
{
    if (c->job_done)
        return api_http_send(con, url, c, &c->resp);
    if (c->job_started)
        return MHD_YES; /* resumed early: the answer is not there yet */
    pthread_mutex_lock(&srv->jobs_lock);
    bool inline_answer = srv->stopping || api_http_never_waits(url, method, c);
    if (!inline_answer)
        srv->jobs++;
    pthread_mutex_unlock(&srv->jobs_lock);
    if (inline_answer) {
        struct api_request req;
        struct api_response resp;
        api_http_request(con, url, method, c, &req);
        api_handle(srv->a, &req, &resp);
        return api_http_send(con, url, c, &resp);
    }
    c->srv = srv;
    c->con = con;
    c->url = url;
    c->method = method;
    c->job_started = true;
    MHD_suspend_connection(con);
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&thread, &attr, api_http_job, c);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        /* No thread to spare: answer here rather than not at all. */
        log_debug("http: no thread for a request (%s); answered on the event loop",
                  strerror(rc));
        api_http_job(c);
    }
    return MHD_YES;
}

static bool api_http_declared_too_large(struct MHD_Connection *con)
{
    const char *cl =
        MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    return end != cl && errno == 0 && n > API_MAX_BODY;
}

static enum MHD_Result api_http_access(void *cls, struct MHD_Connection *con, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **con_cls)
{
    (void)version;
    struct api_server *srv = cls;
    struct api_conn *c = *con_cls;
    if (!c)
        return MHD_NO; /* the URI callback ran out of memory: drop the connection */
    if (!c->headers_seen) {
        c->headers_seen = true;
        if (api_http_declared_too_large(con)) {
            c->too_large = true;
            return api_http_reply(srv, con, url, method, c);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        api_conn_take(c, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (c->discarded > API_HTTP_DISCARD_MAX) {
            log_debug("http: chunked request body passed %d bytes; connection closed",
                      API_MAX_BODY + API_HTTP_DISCARD_MAX);
            return MHD_NO;
        }
        return MHD_YES;
    }
    return api_http_reply(srv, con, url, method, c);
}

/* ---- start and stop ---- */

static int api_load_tls(struct api_server *srv, const struct cfg_http *http, char *err,
                        size_t errlen)
{
    if (!http->tls_cert_file && !http->tls_key_file)
        return 0;
    if (!http->tls_cert_file || !http->tls_key_file)
        return errf(err, errlen, "http.tls needs both cert_file and key_file");
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return errf(err, errlen, "http.tls: this libmicrohttpd was built without TLS support");
    srv->tls_cert = util_read_file(http->tls_cert_file, NULL, err, errlen);
    if (!srv->tls_cert)
        return -1;
    srv->tls_key = util_read_file(http->tls_key_file, &srv->tls_key_len, err, errlen);
    if (!srv->tls_key)
        return -1;
    return 0;
}

struct api_server *api_start(struct agent *a, const char *listen, char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    if (api_parse_listen(listen, &addr, err, errlen) != 0)
        return NULL;
    struct api_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    srv->a = a;
    pthread_mutex_init(&srv->log_lock, NULL);
    pthread_mutex_init(&srv->jobs_lock, NULL);
    pthread_cond_init(&srv->jobs_done, NULL);
    if (!a->api_cache) {
        /* Without it every request renders: slower, still correct. */
        a->api_cache = api_cache_new();
        srv->owns_cache = a->api_cache != NULL;
    }

    struct floe_config *cfg = agent_config_get(a);
    int tls_rc = api_load_tls(srv, &cfg->http, err, errlen);
    /* A config built in code (tests) may leave it 0. */
    unsigned threads = cfg->http.threads > 0 ? (unsigned)cfg->http.threads : 4;
    config_unref(cfg);
    if (tls_rc != 0)
        goto fail;

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert},
        {MHD_OPTION_END, 0, NULL},
    };
    if (srv->tls_cert)
        flags |= MHD_USE_TLS;
    else
        tls_opts[0].option = MHD_OPTION_END;

    srv->starting = true;
    /* One option and its arguments per line. */
    /* clang-format off */
    srv->daemon = MHD_start_daemon(
        flags, api_addr_port(&addr), NULL, NULL, api_http_access, srv,
        MHD_OPTION_EXTERNAL_LOGGER, api_http_log, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_HTTP_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)API_HTTP_MAX_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_HTTP_TIMEOUT_S,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_URI_LOG_CALLBACK, api_http_uri, srv,
        MHD_OPTION_NOTIFY_COMPLETED, api_http_completed, srv,
        MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_END);
    /* clang-format on */
    pthread_mutex_lock(&srv->log_lock);
    srv->starting = false;
    pthread_mutex_unlock(&srv->log_lock);
    if (!srv->daemon) {
        errf(err, errlen, "cannot serve on %s: %s", listen,
             srv->start_err[0] ? srv->start_err : "libmicrohttpd could not start");
        goto fail;
    }
    return srv;
fail:
    api_stop(srv);
    return NULL;
}

void api_stop(struct api_server *srv)
{
    if (!srv)
        return;
    /* A job resumes its connection when done: the daemon must outlive it. */
    pthread_mutex_lock(&srv->jobs_lock);
    srv->stopping = true;
    while (srv->jobs > 0)
        pthread_cond_wait(&srv->jobs_done, &srv->jobs_lock);
    pthread_mutex_unlock(&srv->jobs_lock);
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    if (srv->owns_cache) {
        api_cache_free(srv->a->api_cache);
        srv->a->api_cache = NULL;
    }
    if (srv->tls_key)
        explicit_bzero(srv->tls_key, srv->tls_key_len);
    free(srv->tls_key);
    free(srv->tls_cert);
    pthread_mutex_destroy(&srv->log_lock);
    pthread_mutex_destroy(&srv->jobs_lock);
    pthread_cond_destroy(&srv->jobs_done);
    free(srv);
}
