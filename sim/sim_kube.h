/*
 * sim_kube — the simulated cluster's Kubernetes API, apart from HTTP:
 * request in (method, path, labelSelector, Authorization), status and
 * JSON body out, no locking (the caller holds the site's lock). Kept
 * separate from the server so the shapes are unit-tested without sockets.
 *
 * Served (GET only in this version; sim/README.md has the details):
 *   /api/v1/namespaces[?labelSelector=]             NamespaceList
 *   /api/v1/namespaces/{ns}                         Namespace
 *   /apis/apps/v1/namespaces/{ns}/deployments       DeploymentList  (also statefulsets)
 *   /apis/apps/v1/namespaces/{ns}/deployments/{n}   Deployment      (also statefulsets)
 *
 * Objects are printed as the API server prints them: lists carry
 * apiVersion, kind and metadata.resourceVersion and their items carry
 * neither kind nor apiVersion; empty maps and the status counts Kubernetes
 * marks omitempty are left out. Errors are Status objects with the API
 * server's reasons and messages (NotFound, MethodNotAllowed, BadRequest,
 * Unauthorized).
 */
#ifndef FLOE_SIM_KUBE_H
#define FLOE_SIM_KUBE_H

#include "sim/sim_cluster.h"

struct sim_kube_request {
    const char *method;
    const char *path;           /* without the query string */
    const char *label_selector; /* decoded labelSelector parameter; NULL when absent */
    const char *authorization;  /* Authorization header; NULL when absent */
};

/* The API server's bearer-token check: true when the cluster wants no
 * token, or the Authorization header is "Bearer TOKEN" (scheme in any
 * case) with its token. Also used for Velero's API (sim_velero.h). */
bool sim_kube_authorized(const struct simc_cluster *c, const char *authorization);

/* Answers one request for a path under /api or /apis (others are 404).
 * Returns the HTTP status; *body is a new string
 * (caller frees), NULL when out of memory (send 500). */
int sim_kube_handle(const struct simc_cluster *c, const struct sim_kube_request *req, char **body);

#endif
