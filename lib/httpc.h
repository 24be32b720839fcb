/*
 * httpc — floe's outgoing HTTP requests over libcurl: the site's own
 * Kubernetes API server, the peer sites' agents, the command-line client.
 *
 * One request is a struct httpc_req: the caller fills the inputs, httpc
 * fills the outputs. httpc_run does one; httpc_run_all does several at
 * once (curl multi), each with its own timeout, so a dead peer costs its
 * own timeout and not the sum of everyone's. Nothing here blocks longer
 * than the request's timeout_ms.
 *
 * What every request gets, because the callers talk to other machines
 * that may be wrong, hostile or gone: only http and https (no file://,
 * no redirects followed: an answer is from the URL configured or it is
 * an error), https verified against ca_pem or ca_file when given or the
 * system's bundle otherwise, an answer body capped at max_body (default
 * 4 MiB) so a garbage peer cannot fill memory, and transport errors
 * described in words that name the URL ("http://127.0.0.1:8471/v1/capacity:
 * connection refused"). A non-2xx status is an answer, not a transport
 * error: the caller reads status and body.
 *
 * Threads: httpc_global_init() runs once from main(), before any thread
 * starts. Each request is independent; requests may run in different
 * threads at once.
 *
 * Ownership: inputs are borrowed for the duration of the call; the answer
 * (body) is owned by the request until httpc_req_clear() frees it.
 */
#ifndef FLOE_HTTPC_H
#define FLOE_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPC_DEFAULT_MAX_BODY (4u << 20)

struct httpc_req {
    /* inputs (borrowed) */
    const char *method; /* "GET" (default when NULL), "POST", "PUT", "PATCH", "DELETE" */
    const char *url;
    const char *bearer;  /* Authorization: Bearer ...; NULL or "" = none */
    const char *const *headers; /* more request headers, "Name: value" each, ending with
                                   NULL (PowerDNS's X-API-Key); NULL = none. A line
                                   without a name and ':' or with a control character
                                   (CR, LF: a second header smuggled in) is refused,
                                   without quoting it: a header may carry a secret */
    const char *ca_file; /* NULL = the system's CA bundle */
    const char *ca_pem;  /* CA certificates as PEM text (a kubeconfig's
                            certificate-authority-data); used instead of
                            ca_file when given. NULL = none */
    size_t ca_pem_len;
    const char *content_type; /* for a body; default "application/json" */
    const char *body;         /* NULL = no body */
    size_t body_len;
    int64_t timeout_ms; /* whole request; <= 0 means 10 s */
    size_t max_body;    /* 0 = HTTPC_DEFAULT_MAX_BODY */

    /* outputs */
    long status;  /* HTTP status, 0 when no answer came */
    char *answer; /* NUL-terminated answer body ("" when empty); NULL without an answer */
    size_t answer_len;
    int64_t elapsed_ms; /* how long the request took */
    char error[320];    /* when status is 0: what went wrong, naming the URL */
    bool too_large;     /* the answer passed max_body (status 0; error says so): the far
                           end answered, with more than the caller accepts */
};

/* Makes libcurl safe to use from any thread; call once from main() before
 * any thread starts. A libcurl that initialises itself thread-safely at
 * its first handle (7.84 and later: CURL_VERSION_THREADSAFE) is left to
 * do so, because initialising it loads and sets up OpenSSL — about 2 MiB
 * of resident memory that an agent which never calls a peer or a
 * Kubernetes API does not need. An older one is initialised here.
 * Returns 0 or -1. */
int httpc_global_init(void);

/* Runs one request. Returns 0 when an HTTP answer came (any status), -1
 * with r->error otherwise. */
int httpc_run(struct httpc_req *r);

/* Runs n requests concurrently; returns when every one is answered or
 * timed out. Each request's outcome is in its own outputs (status 0 and
 * error on failure). Returns the number of requests that got an answer. */
size_t httpc_run_all(struct httpc_req *rs, size_t n);

/* Frees the answer and resets the outputs; inputs are left as they are. */
void httpc_req_clear(struct httpc_req *r);

#endif
