/*
 * sim_kube_write — the simulated API server's writes to the built-in
 * resources: create and delete a Namespace, create and replace (PUT) a
 * Deployment or StatefulSet, and read, replace and patch its /scale
 * subresource. Bodies are checked where they enter in the API server's
 * order (media type 415, decoding 400, namespace 404/403, resourceVersion
 * 409, validation 422, existence 409) and answered with its Status
 * bodies (sim_kube_json.h). No locking: the caller holds the site's lock.
 *
 * Each function returns the HTTP status and stores a new body in *body
 * (caller frees; NULL when out of memory: send 500). `in` is the request
 * body (NUL-terminated, len bytes) and its Content-Type (NULL: none, read
 * as application/json as the API server does); now_ms is simulated time.
 */
#ifndef FLOE_SIM_KUBE_WRITE_H
#define FLOE_SIM_KUBE_WRITE_H

#include "sim/sim_cluster.h"

#include <stddef.h>
#include <stdint.h>

struct sim_kube_body {
    const char *text;
    size_t len;
    const char *content_type;
};

/* POST /api/v1/namespaces: 201 Namespace; 409 AlreadyExists; 422. */
int sim_kube_create_namespace(struct simc_cluster *c, const struct sim_kube_body *in,
                              int64_t now_ms, char **body);
/* DELETE /api/v1/namespaces/{name}: 200 with the Namespace, Terminating
 * (again 200 while it is: today's API server answers a repeated delete
 * with the object, older ones with 409 Conflict); 404 once gone. */
int sim_kube_delete_namespace(struct simc_cluster *c, const char *name, int64_t now_ms,
                              char **body);
/* POST /apis/apps/v1/namespaces/{ns}/{deployments|statefulsets}: 201;
 * 404 (no namespace), 403 (Terminating), 422, 409 AlreadyExists. */
int sim_kube_create_workload(struct simc_cluster *c, const char *ns, enum simc_kind kind,
                             const struct sim_kube_body *in, int64_t now_ms, char **body);
/* PUT .../{kind}/{name}: 200; 404; 409 Conflict on a stale
 * metadata.resourceVersion (absent: unconditional, as for Deployments);
 * 422. Replaces labels, annotations, spec.replicas and the pod template's
 * annotations; the rest of the body is ignored. */
int sim_kube_replace_workload(struct simc_cluster *c, const char *ns, enum simc_kind kind,
                              const char *name, const struct sim_kube_body *in, int64_t now_ms,
                              char **body);
/* GET, PUT and PATCH .../{kind}/{name}/scale (autoscaling/v1 Scale).
 * PATCH takes application/merge-patch+json, application/json-patch+json
 * and application/strategic-merge-patch+json (the same as a merge patch
 * for a Scale, which has no lists); another type is 415. */
int sim_kube_get_scale(const struct simc_cluster *c, const char *ns, enum simc_kind kind,
                       const char *name, char **body);
int sim_kube_replace_scale(struct simc_cluster *c, const char *ns, enum simc_kind kind,
                           const char *name, const struct sim_kube_body *in, int64_t now_ms,
                           char **body);
int sim_kube_patch_scale(struct simc_cluster *c, const char *ns, enum simc_kind kind,
                         const char *name, const struct sim_kube_body *in, int64_t now_ms,
                         char **body);

#endif
