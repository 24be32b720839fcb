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
 * The facility link: a namespace is running while it is Active and any of
 * its Deployments or StatefulSets has replicas > 0, and then draws the kW
 * of its annotation floe.dev/power-kw. simc_running_kw() is what the site
 * adds to it.base_kw to get it.load_kw (sim_model's it_cluster_kw).
 *
 * Pods, as the controllers make them: a spec change through the API
 * (simc_workload_set_spec, a restore) starts pods that are ready after
 * ready_delay_ms of simulated time and stops pods within stop_delay_ms;
 * simc_settle() moves the status on when that time has come, so kubectl's
 * rollout check (simc_workload_ready) holds only once pods are really up
 * (or gone). The scenario and POST /sim/cluster describe the cluster as
 * it is: their workloads' status equals their spec at once
 * (simc_workload_settle_now). A deleted namespace is Terminating for
 * terminate_delay_ms, then gone with its workloads.
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
/* Default delays, simulated milliseconds (scenario: cluster.ready_delay_s,
 * cluster.stop_delay_s, cluster.terminate_delay_s). */
#define SIMC_READY_DELAY_MS 10000
#define SIMC_STOP_DELAY_MS 2000
#define SIMC_TERMINATE_DELAY_MS 5000
#define SIMC_MAX_DELAY_MS 86400000 /* one simulated day */

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
    int32_t replicas;                /* spec.replicas */
    struct simc_map pod_annotations; /* spec.template.metadata.annotations */
    /* Status, as the controllers keep it. */
    int64_t observed_generation;
    int32_t pods;      /* status.replicas: pods that exist (stopping ones too) */
    int32_t updated;   /* pods with the current pod template */
    int32_t ready;     /* ready (and available) pods */
    int64_t settle_ms; /* simulated time pods reach the spec; 0 = they have */
};

enum simc_ns_phase { SIMC_NS_ACTIVE, SIMC_NS_TERMINATING };

struct simc_namespace {
    struct simc_meta meta;
    enum simc_ns_phase phase;
    int64_t deletion_ms; /* Terminating: when deleted (metadata.deletionTimestamp) */
    int64_t gone_ms;     /* Terminating: when it and its workloads go away */
    /* The namespace's volume data (SPEC 7), for a stateful namespace (see
     * simc_ns_stateful): data_version counts the writes its pods have
     * made, one per simulated second while simc_ns_writing. A backup
     * captures it, a restore brings it back, so a test compares the
     * version running at the target with the one at the source when
     * writes stopped. quiesced: a backup pre-hook (the workload's
     * floe.dev/quiesce command) has stopped writes; new pods (the
     * namespace's pod count going from 0 to more) write again. */
    uint64_t data_version;
    bool quiesced;
    int64_t write_carry_ms;          /* simulated time written but not yet a whole version */
    struct simc_workload *workloads; /* sorted by kind, then name */
    size_t nworkloads, cap_workloads;
};

struct simc_cluster {
    char token[SIMC_TOKEN_MAX]; /* bearer token the API wants; "" = none */
    uint64_t resource_version;  /* last one given out */
    uint32_t uid_prefix;        /* from the site name: two sites' uids differ */
    uint64_t uid_serial;        /* last uid given out */
    int64_t epoch_ms;           /* wall clock at simulated time 0, for creationTimestamp */
    int64_t ready_delay_ms;     /* new pods are ready after this */
    int64_t stop_delay_ms;      /* stopping pods are gone after this */
    int64_t terminate_delay_ms; /* a deleted namespace is gone after this */
    /* Fault (/sim/set cluster.never_ready): pods of the namespace of this
     * name never become ready (they exist, status.readyReplicas stays);
     * "" = none. By name, so it holds for a namespace restored later. */
    char never_ready[SIMC_DNS_LABEL_MAX + 1];
    struct simc_namespace *namespaces; /* sorted by name, as the API lists them */
    size_t nnamespaces, cap_namespaces;
};

/* An empty cluster whose uids are derived from the site name, with the
 * default delays. */
void simc_init(struct simc_cluster *c, const char *site);
/* Frees every object; the cluster is empty (token, counters, delays and
 * faults kept). */
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
/* Creates a workload with 1 replica (the API's default), generation 1,
 * its one pod up (status settled; a creation through the API follows with
 * simc_workload_set_spec from 0 pods, see simc_workload_create). The name
 * is a DNS-1123 label, unique per kind in the namespace. Returns it (valid
 * until the next add) or NULL with err. */
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

/* A namespace runs while any of its workloads has replicas > 0 (spec:
 * the kW follow what is asked for, at once). */
bool simc_ns_running(const struct simc_namespace *ns);
/* Its floe.dev/power-kw: a finite number >= 0, anything else counts 0 (a
 * test may give the agent a bad annotation; the facility ignores it). */
double simc_ns_power_kw(const struct simc_namespace *ns);
/* Sum of power-kw over the running Active namespaces: the cluster's IT
 * load (a Terminating namespace's pods are being killed). */
double simc_running_kw(const struct simc_cluster *c);

/* Stateful: floe.dev/data-gb is a number > 0 and floe.dev/stateless is
 * not "true" (the inventory's rule). */
bool simc_ns_stateful(const struct simc_namespace *ns);
/* Its pods write now: stateful, Active, not quiesced, and some pod of it
 * is up (simc_ns_pods_up). */
bool simc_ns_writing(const struct simc_namespace *ns);
/* Advances every writing namespace's data_version by step_ms of simulated
 * time (one version per whole simulated second, the rest carried). */
void simc_advance(struct simc_cluster *c, int64_t step_ms);

/* ---- Pods and namespace life cycle (controllers' time) ---- */

/* Why a change through the API or a restore was refused; sim_kube turns
 * it into a Status (404, 409, 403, 422; OOM 500). */
enum simc_err {
    SIMC_OK,
    SIMC_ERR_NOT_FOUND,   /* the namespace does not exist */
    SIMC_ERR_EXISTS,      /* the object exists already */
    SIMC_ERR_TERMINATING, /* the namespace is Terminating: no new content */
    SIMC_ERR_INVALID,     /* a bad name or value */
    SIMC_ERR_NOMEM,
};

/* Some pod of the namespace is up (ready): the pods mount the volumes and
 * write. What a file-system backup needs to capture the data. */
bool simc_ns_pods_up(const struct simc_namespace *ns);
/* Pods of the namespace that exist (status.replicas summed). */
int32_t simc_ns_pods(const struct simc_namespace *ns);

/* kubectl's rollout check on the status: observedGeneration >=
 * generation, updated == spec.replicas, ready (StatefulSet) or available
 * (Deployment) == spec.replicas, status.replicas == spec.replicas. */
bool simc_workload_ready(const struct simc_workload *w);

/* Status = spec at once (the scenario's and /sim/cluster's cluster "as it
 * is"). Clears the namespace's quiesced when its pods go from 0 to more. */
void simc_workload_settle_now(struct simc_namespace *ns, struct simc_workload *w);

/* A spec change as the API server and the controllers make it: replicas
 * (>= 0) and, when pod_annotations is not NULL, the pod template's
 * annotations (copied). An actual change takes a new resourceVersion and
 * generation; new pods exist at once and are ready after ready_delay_ms,
 * pods to stop are gone after stop_delay_ms (simc_settle), a changed
 * template replaces every pod (updated 0 until ready_delay_ms). The
 * namespace's quiesced is cleared when its pods go from 0 to more.
 * Returns 0, or -1 when out of memory (nothing changed). */
int simc_workload_set_spec(struct simc_cluster *c, struct simc_namespace *ns,
                           struct simc_workload *w, int32_t replicas,
                           const struct simc_map *pod_annotations, int64_t now_ms);

/* A workload created through the API (or a restore) in an Active
 * namespace: generation 1, no pods yet, then `replicas` started as by
 * simc_workload_set_spec. *why: EXISTS, TERMINATING, INVALID (bad name),
 * NOMEM. Returns it or NULL with *why and err ("deployments.apps \"web\"
 * already exists"). */
struct simc_workload *simc_workload_create(struct simc_cluster *c, struct simc_namespace *ns,
                                           enum simc_kind kind, const char *name, int32_t replicas,
                                           int64_t now_ms, enum simc_err *why, char *err,
                                           size_t errlen);

/* DELETE of a namespace: Active -> Terminating now (deletionTimestamp),
 * gone with its workloads terminate_delay_ms later (simc_settle). Its
 * writes stop and its kW leave the IT load at once. A namespace already
 * Terminating is left as it is. */
void simc_ns_delete(struct simc_cluster *c, struct simc_namespace *ns, int64_t now_ms);

/* The controllers' work due by now_ms: workloads whose pods are due reach
 * their spec (not the ready count in a never_ready namespace), Terminating
 * namespaces whose time has come are removed. Status changes take new
 * resourceVersions. Called once per simulated second, before
 * simc_advance. Returns true when anything changed. */
bool simc_settle(struct simc_cluster *c, int64_t now_ms);

#endif
