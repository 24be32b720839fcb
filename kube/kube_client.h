/*
 * kube_client — floe's client for its own site's Kubernetes API server
 * (SPEC 6, "Kubernetes API used"): where the server is, which CA
 * vouches for it, which bearer token to present, and one way to make a
 * request and read its answer.
 *
 * A request names a method and a path (with its query already escaped:
 * kube_query_escape) and gets back the HTTP status and, for a 2xx answer,
 * the parsed JSON; anything else is an error in words that name the
 * request and carry what the API server said — its Status object's
 * reason and message ("GET /api/v1/namespaces?labelSelector=...: 403
 * Forbidden: namespaces is forbidden: User \"system:serviceaccount:...\"
 * cannot list resource ..."). Transport problems (refused, timed out,
 * certificate not trusted) have status 0.
 *
 * The token comes from kube_token: re-read from its file every minute,
 * and once more at once when the server answers 401 (a rotated token
 * the minute has not caught up with yet); a request answered 401 is
 * repeated once if the file held a different token.
 *
 * Several requests run at once with kube_run_all (lib/httpc's curl
 * multi), each with the client's timeout. The client is safe to share
 * between threads; each request belongs to its caller.
 *
 * Ownership: the config's strings are copied; a request's inputs are
 * borrowed for the call, its answer (json) is the request's until
 * kube_req_clear.
 */
#ifndef FLOE_KUBE_CLIENT_H
#define FLOE_KUBE_CLIENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A big cluster's list answers (deployments with their pod templates) are
 * larger than lib/httpc's default cap. */
#define KUBE_MAX_ANSWER (16u << 20)
#define KUBE_DEFAULT_TIMEOUT_MS 10000

struct kube_client;

struct kube_client_config {
    const char *server;  /* "https://10.0.0.1:6443": scheme, host and port, no path */
    const char *ca_file; /* the CA that signed the server's certificate; NULL: ca_pem or the
                            system's bundle */
    const char *ca_pem;  /* the same as PEM text; NULL = none */
    size_t ca_pem_len;
    const char *token;      /* the bearer token as known now (may be NULL with token_file) */
    const char *token_file; /* re-read every minute; NULL: token never changes */
    int64_t timeout_ms;     /* each request; <= 0: KUBE_DEFAULT_TIMEOUT_MS */
};

struct kube_req {
    /* inputs (borrowed) */
    const char *method; /* NULL = GET */
    const char *path;   /* "/api/v1/namespaces?labelSelector=floe.dev%2Fmovable%3Dtrue" */
    const char *body;   /* NULL = none */
    size_t body_len;
    const char *content_type; /* for a body; default application/json */

    /* outputs */
    long status;     /* HTTP status; 0 when no answer came */
    cJSON *json;     /* a 2xx answer, parsed; NULL otherwise */
    char error[640]; /* when kube_run did not return 0: what and why */
};

/* A client for cfg; NULL with err when the config lacks a server or a
 * token, or memory runs out. now_ms (monotonic) is when cfg->token was
 * read. */
struct kube_client *kube_client_new(const struct kube_client_config *cfg, int64_t now_ms, char *err,
                                    size_t errlen);
/* NULL is a no-op. */
void kube_client_free(struct kube_client *kc);

/* Runs one request at now_ms (monotonic, for the token's schedule).
 * Returns 0 for a 2xx answer holding JSON (r->json), else -1 with
 * r->error (r->status says whether an answer came). */
int kube_run(struct kube_client *kc, struct kube_req *r, int64_t now_ms);
/* Runs n requests at once; returns how many returned 0 as kube_run would. */
size_t kube_run_all(struct kube_client *kc, struct kube_req *rs, size_t n, int64_t now_ms);
/* Frees the answer and resets the outputs. */
void kube_req_clear(struct kube_req *r);

/* Why the last token re-read failed, "" when it did not (copied into buf). */
void kube_client_token_warning(struct kube_client *kc, char *buf, size_t n);

/* ---- pure helpers (tests and fuzzing use them directly) ---- */

/* Percent-encodes s for a query value (RFC 3986 unreserved characters
 * stay). Returns 0, or -1 when out (size n) is too small. */
int kube_query_escape(const char *s, char *out, size_t n);

/* The error line for an answer that is not a 2xx: "METHOD PATH: 403
 * Forbidden: MESSAGE", from a Kubernetes Status body when there is one,
 * else from the first bytes of the body. Control characters are replaced,
 * the message is cut to fit out. */
void kube_status_error(const char *method, const char *path, long status, const char *body,
                       size_t body_len, char *out, size_t n);

/* Whether name is a DNS-1123 label (a namespace's name: [a-z0-9-], at
 * most 63, starting and ending alphanumeric) — checked before an API
 * server's answer is put into a path. */
bool kube_name_valid(const char *name);

#endif
