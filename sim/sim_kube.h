/*
 * sim_kube — the simulated cluster's Kubernetes API, apart from HTTP:
 * request in (method, path, labelSelector, Authorization, body), status
 * and JSON body out, no locking (the caller holds the site's lock). Kept
 * separate from the server so the shapes are unit-tested without sockets.
 *
 * Served (sim/README.md has the details):
 *   /api/v1/namespaces[?labelSelector=]           GET NamespaceList, POST
 *   /api/v1/namespaces/{ns}                       GET, DELETE
 *   /apis/apps/v1/namespaces/{ns}/deployments     GET DeploymentList, POST  (also statefulsets)
 *   /apis/apps/v1/namespaces/{ns}/deployments/{n} GET, PUT                  (also statefulsets)
 *   .../deployments/{n}/scale                     GET, PUT, PATCH           (also statefulsets)
 *   /apis/{group}/...                             another group's handler (sim_kube_group)
 *
 * Reads here; writes in sim_kube_write.c; objects and Status bodies in
 * sim_kube_json.c. Order of checks, as in the API server: authentication
 * first (a request without the token learns nothing, not even whether a
 * path exists), then the path, then the method, then the query and body.
 *
 * Faults (/sim/set "kube.fail_next", "kube.hang") are kept in struct
 * sim_kube_faults and applied by the HTTP side before sim_kube_handle:
 * a hang must wait without the site's lock.
 */
#ifndef FLOE_SIM_KUBE_H
#define FLOE_SIM_KUBE_H

#include "sim/sim_cluster.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_kube_request;

/* Another API group served beside the built-in ones (Velero's): every
 * request whose path starts with `prefix` ("/apis/velero.io/", or equals
 * it without the trailing slash) goes to handle() once the bearer token
 * is accepted. handle() answers as sim_kube_handle does (status, *body a
 * new string or NULL for 500) and runs under the same lock, so it may
 * read and change the cluster. */
struct sim_kube_group {
    const char *prefix;
    int (*handle)(void *arg, struct simc_cluster *c, const struct sim_kube_request *req,
                  char **body);
    void *arg;
};

struct sim_kube_request {
    const char *method;
    const char *path;           /* without the query string */
    const char *label_selector; /* decoded labelSelector parameter; NULL when absent */
    const char *authorization;  /* Authorization header; NULL when absent */
    const char *content_type;   /* Content-Type header; NULL when absent */
    const char *body;           /* request body, NUL-terminated; NULL or "" when none */
    size_t body_len;
    int64_t now_ms;                      /* simulated time */
    const struct sim_kube_group *groups; /* may be NULL */
    size_t ngroups;
};

/* Answers one request for a path under /api or /apis (others are 404).
 * Returns the HTTP status; *body is a new string (caller frees), NULL
 * when out of memory (send 500). */
int sim_kube_handle(struct simc_cluster *c, const struct sim_kube_request *req, char **body);

/* ---- faults on demand ---- */

struct sim_kube_faults {
    int64_t fail_next;     /* the next N requests are answered 500 InternalError */
    int64_t hang_until_ms; /* simulated time requests wait for; INT64_MAX: until cleared; 0: none */
};

/* /sim/set names this module takes: "kube.fail_next" (a whole number
 * 0..1000000) and "kube.hang" (true: hang until false; false: no hang; a
 * number of simulated seconds > 0: hang that long from now). check
 * validates without changing anything: 0, or -1 with "NAME: why";
 * apply then cannot fail. */
bool sim_kube_fault_name(const char *name);
int sim_kube_fault_check(const char *name, const cJSON *v, char *err, size_t errlen);
void sim_kube_fault_apply(struct sim_kube_faults *f, const char *name, const cJSON *v,
                          int64_t now_ms);
/* A request arrives: when an injected failure is due, takes it, fills
 * *body with the InternalError Status and returns 500; else returns 0. */
int sim_kube_fault_fail(struct sim_kube_faults *f, char **body);
/* Requests wait (without the lock) while this is true. */
bool sim_kube_fault_hanging(const struct sim_kube_faults *f, int64_t now_ms);

#endif
