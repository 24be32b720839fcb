/*
 * sim_kube_json — the simulated API server's JSON going out: Status
 * bodies with the API server's reasons and message forms, and the
 * objects (Namespace, Deployment, StatefulSet, Scale) as it prints them.
 * Shared by the built-in resources (sim_kube.c, sim_kube_write.c) and
 * other API groups served beside them (Velero's), so every error and
 * every metadata block has one shape.
 *
 * Helpers that answer take `char **body`, store a new string there
 * (caller frees; NULL when out of memory: send 500) and return the HTTP
 * status, so a handler can `return sim_kube_not_found(body, ...)`.
 */
#ifndef FLOE_SIM_KUBE_JSON_H
#define FLOE_SIM_KUBE_JSON_H

#include "sim/sim_cluster.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One of Status.details.causes. */
struct sim_kube_cause {
    const char *reason;  /* "FieldValueInvalid" */
    const char *message; /* "Invalid value: -1: must be greater than or equal to 0" */
    const char *field;   /* "spec.replicas" */
};

struct sim_kube_status {
    int code;
    const char *reason;  /* "NotFound" */
    const char *message; /* "namespaces \"x\" not found" */
    /* details: kind NULL = none; "" = {} (or only causes) */
    const char *kind, *name, *group;
    const struct sim_kube_cause *causes;
    size_t ncauses;
};

/* A Status object {"kind":"Status","apiVersion":"v1","metadata":{},
 * "status":"Failure",...}; returns st->code. */
int sim_kube_fail(char **body, const struct sim_kube_status *st);

/* The API server's errors (k8s.io/apimachinery/pkg/api/errors). plural
 * is the resource ("deployments"), group NULL or "" for the core group. */
/* 404 `deployments.apps "web" not found` */
int sim_kube_not_found(char **body, const char *plural, const char *group, const char *name);
/* 409 AlreadyExists `namespaces "shop" already exists` */
int sim_kube_already_exists(char **body, const char *plural, const char *group, const char *name);
/* 409 Conflict `Operation cannot be fulfilled on deployments.apps "web": WHY` */
int sim_kube_conflict(char **body, const char *plural, const char *group, const char *name,
                      const char *why);
/* The Conflict of a stale resourceVersion. */
#define SIM_KUBE_MODIFIED                                                                          \
    "the object has been modified; please apply your changes to the latest version and try again"
/* 403 Forbidden `deployments.apps "web" is forbidden: WHY` */
int sim_kube_forbidden(char **body, const char *plural, const char *group, const char *name,
                       const char *why);
/* 422 Invalid `Deployment.apps "web" is invalid: FIELD: MESSAGE` (several
 * causes: `[f1: m1, f2: m2]`); kind is the Kind ("Scale"), group as
 * above. Each cause's reason is FieldValueInvalid unless set. */
int sim_kube_invalid(char **body, const char *kind, const char *group, const char *name,
                     const struct sim_kube_cause *causes, size_t ncauses);
/* 400 BadRequest with message. */
int sim_kube_bad_request(char **body, const char *message);
/* 415 UnsupportedMediaType `the body of the request was in an unknown
 * format - accepted media types include: A, B` */
int sim_kube_unsupported_media_type(char **body, const char *const *accepted, size_t naccepted);
/* 405 MethodNotAllowed. */
int sim_kube_method_not_allowed(char **body);
/* 500 InternalError `Internal error occurred: WHY` */
int sim_kube_internal_error(char **body, const char *why);

/* Takes o; `status` with its text, or 500 (NULL body) when o is NULL or
 * out of memory. */
int sim_kube_reply(cJSON *o, int status, char **body);

/* Simulated time as the API server's timestamps: RFC 3339, whole
 * seconds, UTC. */
void sim_kube_time(const struct simc_cluster *c, int64_t sim_ms, char *buf, size_t n);

/* metadata of an object into obj: name, namespace (NULL: cluster-scoped),
 * uid, resourceVersion, generation (0: left out), creationTimestamp,
 * labels, annotations (empty maps left out). False when out of memory. */
bool sim_kube_add_meta(cJSON *obj, const struct simc_cluster *c, const struct simc_meta *m,
                       const char *ns, int64_t generation);
/* "kind" and "apiVersion". */
bool sim_kube_add_type(cJSON *obj, const char *api_version, const char *kind);

/* The objects; with_type: kind and apiVersion (a single object has them,
 * a list item not). NULL when out of memory. */
cJSON *sim_kube_namespace_json(const struct simc_cluster *c, const struct simc_namespace *ns,
                               bool with_type);
cJSON *sim_kube_workload_json(const struct simc_cluster *c, const struct simc_namespace *ns,
                              const struct simc_workload *w, bool with_type);
/* autoscaling/v1 Scale of a workload. */
cJSON *sim_kube_scale_json(const struct simc_cluster *c, const struct simc_namespace *ns,
                           const struct simc_workload *w);

#endif
