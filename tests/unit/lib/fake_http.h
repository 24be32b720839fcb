/*
 * fake_http — a small HTTP/1.1 server on a free loopback port for unit
 * tests: it answers canned bodies by method and path and remembers the
 * requests it was sent (method, path with its query, Content-Type, body),
 * so a test can check both what a client read and what it wrote.
 *
 * One thread accepts and answers connections one after another
 * (Connection: close); a client's parallel requests are served in turn.
 * Routes and the request log are behind a lock: a test may change the
 * answers between calls.
 *
 * Ownership: route bodies are copied; a request taken from the log is
 * the caller's copy.
 */
#ifndef FLOE_TEST_FAKE_HTTP_H
#define FLOE_TEST_FAKE_HTTP_H

#include <stddef.h>

#define FAKE_HTTP_MAX_ROUTES 32
#define FAKE_HTTP_MAX_LOG 32

struct fake_http;

struct fake_http_request {
    char method[16];
    char path[1024]; /* with the query, as sent */
    char content_type[128];
    char authorization[160];
    char body[8192]; /* cut at its size */
    size_t body_len;
};

/* Starts the server; NULL when no socket could be had. */
struct fake_http *fake_http_start(void);
/* Stops and frees; NULL is a no-op. */
void fake_http_stop(struct fake_http *s);
int fake_http_port(const struct fake_http *s);
/* "http://127.0.0.1:PORT" into out. */
void fake_http_url(const struct fake_http *s, char *out, size_t n);

/* Answers METHOD PATH (the path with its query, matched whole) with
 * status and body from now on, replacing an earlier route of the same
 * method and path. Anything without a route gets a Kubernetes 404
 * Status. */
void fake_http_route(struct fake_http *s, const char *method, const char *path, int status,
                     const char *body);
/* Answers the next METHOD PATH request once with status and body, ahead
 * of its standing route (fake_http_route); several such answers are
 * given in the order they were added. */
void fake_http_route_once(struct fake_http *s, const char *method, const char *path, int status,
                          const char *body);
/* Forgets every route and every logged request. */
void fake_http_reset(struct fake_http *s);

/* How many requests arrived since the last reset (the log keeps the
 * first FAKE_HTTP_MAX_LOG). */
size_t fake_http_count(struct fake_http *s);
/* Copies request i (0 = the first) into out; -1 when there is none. */
int fake_http_request(struct fake_http *s, size_t i, struct fake_http_request *out);

#endif
