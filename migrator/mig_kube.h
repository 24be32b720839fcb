/*
 * mig_kube — what a migration asks of its own site's Kubernetes API
 * (SPEC 6, "Kubernetes API used"): the Deployments and StatefulSets of a
 * namespace with their replica counts and rollout status, scaling one
 * through its /scale subresource, and deleting a namespace.
 *
 * Both sides of a migration use it: the source records replica counts at
 * switchover and scales to 0 (or back, on rollback); the target scales a
 * restored workload to the recorded counts and waits until it is ready.
 *
 * Readiness is kubectl's rollout check (kubectl rollout status), read
 * from the object's status: observedGeneration >= generation, and
 * updatedReplicas, readyReplicas (StatefulSet) or availableReplicas
 * (Deployment) equal spec.replicas, and status.replicas == spec.replicas
 * (no old pods left). "Scaled down" is spec.replicas == 0 and
 * status.replicas == 0: no pod of it runs any more.
 *
 * Every answer of the API server is checked where it enters: a list item
 * without a usable name, a replica count that is not a whole number
 * 0..MIG_MAX_REPLICAS, more than MIG_MAX_OBJECTS objects, is an error
 * naming the object and the field — never a crash, never a guess.
 *
 * Ownership: the client is borrowed; results are plain structs.
 */
#ifndef FLOE_MIG_KUBE_H
#define FLOE_MIG_KUBE_H

#include "kube/kube_client.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIG_MAX_OBJECTS 64     /* Deployments + StatefulSets of one namespace */
#define MIG_MAX_REPLICAS 10000 /* a larger count is a broken answer */
#define MIG_OBJ_NAME_MAX 253   /* a DNS-1123 subdomain */

enum mig_obj_kind { MIG_DEPLOYMENT, MIG_STATEFULSET };

/* "deployment", "statefulset": the prefix of a key of SPEC 5's
 * `replicas` ("deployment/web"). */
const char *mig_obj_kind_key(enum mig_obj_kind k);
/* "deployments", "statefulsets": the resource in a path. */
const char *mig_obj_kind_resource(enum mig_obj_kind k);

struct mig_obj {
    enum mig_obj_kind kind;
    char name[MIG_OBJ_NAME_MAX + 1];
    int32_t replicas;           /* spec.replicas (absent: 1, the API's default) */
    int32_t status_replicas;    /* status.replicas: pods that exist */
    int32_t ready_replicas;     /* status.readyReplicas */
    int32_t updated_replicas;   /* status.updatedReplicas */
    int32_t available_replicas; /* status.availableReplicas */
    int64_t generation;         /* metadata.generation */
    int64_t observed_generation;
};

struct mig_ns_state {
    bool exists;      /* GET /api/v1/namespaces/{ns} answered 200 */
    bool terminating; /* ... with status.phase "Terminating" */
    size_t nobjs;     /* Deployments first, then StatefulSets, each in the API's order */
    struct mig_obj objs[MIG_MAX_OBJECTS];
};

/* Reads namespace ns: whether it exists (404: exists = false, nobjs = 0,
 * and 0 is returned) and, when it does, its Deployments and StatefulSets.
 * Returns 0, or -1 with err (the API's error, or what is wrong in its
 * answer). */
int mig_kube_read(struct kube_client *kc, const char *ns, int64_t now_ms, struct mig_ns_state *out,
                  char *err, size_t errlen);

/* PATCH .../{kind}/{name}/scale with application/merge-patch+json
 * {"spec":{"replicas":N}}. Returns 0, or -1 with err. */
int mig_kube_scale(struct kube_client *kc, const char *ns, enum mig_obj_kind kind,
                   const char *name, int32_t replicas, int64_t now_ms, char *err, size_t errlen);

/* DELETE /api/v1/namespaces/{ns}. A 404 (already gone) and a 409
 * (already terminating) count as done. Returns 0, or -1 with err. */
int mig_kube_delete_namespace(struct kube_client *kc, const char *ns, int64_t now_ms, char *err,
                              size_t errlen);

/* kubectl's rollout check (above). */
bool mig_obj_ready(const struct mig_obj *o);
/* No pod of it left: spec and status replicas are 0. */
bool mig_obj_scaled_down(const struct mig_obj *o);

#endif
