/*
 * sim_cluster — the simulated site's Kubernetes cluster: namespaces with
 * labels, annotations and a phase, each holding Deployments and
 * StatefulSets with a replica count and pod-template annotations.
 *
 * The objects carry what the API server would give them (uid,
 * resourceVersion, creation time, generation), so sim_kube.c can print
 * them as a real cluster does. resourceVersion is one counter for the
 * whole cluster, as etcd's revision is: every change of any object takes
 * the next number, and a list reports the counter.
 *
 * The facility link: a namespace is running while any of its Deployments
 * or StatefulSets has replicas > 0, and then draws the kW of its
 * annotation floe.dev/power-kw. simc_running_kw() is what the site adds to
 * it.base_kw to get it.load_kw (sim_model's it_cluster_kw).
 *
 * No clock and no lock, like sim_model: times are simulated milliseconds
 * passed in, and the caller (sim_site) holds its lock.
 */
#ifndef FLOE_SIM_CLUSTER_H
#define FLOE_SIM_CLUSTER_H

#include "sim/sim_labels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIMC_UID_LEN 37          /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */
#define SIMC_TOKEN_MAX 1024      /* bearer token, bytes + NUL */
#define SIMC_MAX_NAMESPACES 1000 /* a test cluster; keeps a hostile body bounded */
#define SIMC_MAX_WORKLOADS 100   /* per namespace */
/* The label the API server puts on every namespace (Kubernetes >= 1.21). */
#define SIMC_LABEL_NS_NAME "kubernetes.io/metadata.name"
#define SIMC_ANNOTATION_POWER_KW "floe.dev/power-kw"

/* What every object has, as ObjectMeta. */
struct simc_meta {
    char name[SIMC_DNS_SUBDOMAIN_MAX + 1];
    char uid[SIMC_UID_LEN];
    uint64_t resource_version;
    int64_t created_ms; /* simulated time */
    struct simc_map labels;
    struct simc_map annotations;
};

enum simc_kind { SIMC_DEPLOYMENT, SIMC_STATEFULSET };

struct simc_workload {
    enum simc_kind kind;
    struct simc_meta meta;
    int64_t generation;              /* spec changes: 1 at creation */
    int32_t replicas;                /* spec.replicas; status follows at once in this version */
    struct simc_map pod_annotations; /* spec.template.metadata.annotations */
};

enum simc_ns_phase { SIMC_NS_ACTIVE, SIMC_NS_TERMINATING };

struct simc_namespace {
    struct simc_meta meta;
    enum simc_ns_phase phase;
    /* The namespace's volume data (SPEC 7), for a stateful namespace (see
     * simc_ns_stateful): data_version counts the writes its pods have
     * made, one per simulated second while simc_ns_writing. A backup
     * captures it, a restore brings it back, so a test compares the
     * version running at the target with the one at the source when
     * writes stopped. quiesced: a backup pre-hook (the workload's
     * floe.dev/quiesce command) has stopped writes; pods started again
     * (replicas 0 -> n) write again. */
    uint64_t data_version;
    bool quiesced;
    int64_t write_carry_ms; /* simulated time written but not yet a whole version */
    struct simc_workload *workloads; /* sorted by kind, then name */
    size_t nworkloads, cap_workloads;
};

struct simc_cluster {
    char token[SIMC_TOKEN_MAX];        /* bearer token the API wants; "" = none */
    uint64_t resource_version;         /* last one given out */
    uint32_t uid_prefix;               /* from the site name: two sites' uids differ */
    uint64_t uid_serial;               /* last uid given out */
    int64_t epoch_ms;                  /* wall clock at simulated time 0, for creationTimestamp */
    struct simc_namespace *namespaces; /* sorted by name, as the API lists them */
    size_t nnamespaces, cap_namespaces;
};

/* An empty cluster whose uids are derived from the site name. */
void simc_init(struct simc_cluster *c, const char *site);
/* Frees every object; the cluster is empty (token and counters kept). */
void simc_clear(struct simc_cluster *c);
/* Deep copy into *dst (which holds nothing). Returns 0, or -1 when out of
 * memory (*dst then holds nothing). Used to apply a change all or
 * nothing. */
int simc_clone(struct simc_cluster *dst, const struct simc_cluster *src);

const char *simc_kind_name(enum simc_kind k);   /* "Deployment" */
const char *simc_kind_plural(enum simc_kind k); /* "deployments" */
const char *simc_ns_phase_name(enum simc_ns_phase p);

struct simc_namespace *simc_ns_find(const struct simc_cluster *c, const char *name);
/* Creates an Active namespace (name a DNS-1123 label, not yet used) with
 * the label kubernetes.io/metadata.name. Returns it (valid until the next
 * add or remove) or NULL with err. */
struct simc_namespace *simc_ns_add(struct simc_cluster *c, const char *name, int64_t now_ms,
                                   char *err, size_t errlen);
/* Deletes a namespace and its workloads at once. Returns 0, or -1 when
 * there is none of that name. */
int simc_ns_remove(struct simc_cluster *c, const char *name);

struct simc_workload *simc_workload_find(const struct simc_namespace *ns, enum simc_kind kind,
                                         const char *name);
/* Creates a workload with 1 replica (the API's default), generation 1.
 * The name is a DNS-1123 label, unique per kind in the namespace.
 * Returns it (valid until the next add) or NULL with err. */
struct simc_workload *simc_workload_add(struct simc_cluster *c, struct simc_namespace *ns,
                                        enum simc_kind kind, const char *name, int64_t now_ms,
                                        char *err, size_t errlen);

/* The next uid of this cluster, for any new object (Velero's too). */
void simc_next_uid(struct simc_cluster *c, char uid[SIMC_UID_LEN]);

/* After a change: the object takes the next resourceVersion; a spec
 * change (replicas, pod template) also bumps the workload's generation. */
void simc_touch(struct simc_cluster *c, struct simc_meta *meta);
void simc_touch_spec(struct simc_cluster *c, struct simc_workload *w);
/* Puts kubernetes.io/metadata.name back to the namespace's name, as the
 * API server does on every write. Returns 0 or -1 (out of memory). */
int simc_ns_fix_labels(struct simc_namespace *ns);

/* A namespace runs while any of its workloads has replicas > 0. */
bool simc_ns_running(const struct simc_namespace *ns);
/* Its floe.dev/power-kw: a finite number >= 0, anything else counts 0 (a
 * test may give the agent a bad annotation; the facility ignores it). */
double simc_ns_power_kw(const struct simc_namespace *ns);
/* Sum of power-kw over the running namespaces: the cluster's IT load. */
double simc_running_kw(const struct simc_cluster *c);

/* Stateful: floe.dev/data-gb is a number > 0 and floe.dev/stateless is
 * not "true" (the inventory's rule). */
bool simc_ns_stateful(const struct simc_namespace *ns);
/* Its pods write now: stateful, Active, running and not quiesced. */
bool simc_ns_writing(const struct simc_namespace *ns);
/* Advances every writing namespace's data_version by step_ms of simulated
 * time (one version per whole simulated second, the rest carried). */
void simc_advance(struct simc_cluster *c, int64_t step_ms);

#endif
