/*
 * sim_cluster_snap — a namespace's definition as a Velero backup keeps
 * it, and its restore: name, labels, annotations, the Deployments and
 * StatefulSets with their replicas, labels, annotations and pod-template
 * annotations, and the volume data (its data_version, when captured).
 *
 * A snapshot is self-contained (owns its maps) and round-trips through
 * JSON (cJSON), so the simulated Velero can keep it in the shared backup
 * storage directory and another site can restore it:
 *
 *   {"name": "shop", "labels": {...}, "annotations": {...},
 *    "data_version": 812, "has_data": true,
 *    "deployments": [{"name": "web", "replicas": 2, "labels": {...},
 *                     "annotations": {...}, "pod_annotations": {...}}],
 *    "statefulsets": [...]}
 *
 * A restore behaves as Velero's: it creates what is missing and skips
 * what exists. Restored workloads are created through the controllers'
 * path (simc_workload_create): their pods are ready after the cluster's
 * ready delay. No lock: the caller (sim_site, or the simulated Velero
 * under the site's lock) holds it.
 */
#ifndef FLOE_SIM_CLUSTER_SNAP_H
#define FLOE_SIM_CLUSTER_SNAP_H

#include "sim/sim_cluster.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct simc_snap_workload {
    enum simc_kind kind;
    char name[SIMC_DNS_LABEL_MAX + 1];
    int32_t replicas; /* spec.replicas when backed up */
    struct simc_map labels, annotations, pod_annotations;
};

struct simc_snapshot {
    char name[SIMC_DNS_LABEL_MAX + 1];
    struct simc_map labels, annotations;
    /* The volume data: has_data when the backup captured it (a
     * file-system backup only does while pods run: simc_ns_pods_up; a
     * data mover always), data_version the version it holds. A restore
     * of a snapshot without data gives empty volumes: version 0. */
    uint64_t data_version;
    bool has_data;
    struct simc_snap_workload *workloads; /* Deployments first, then StatefulSets, by name */
    size_t nworkloads;
};

/* Copies ns's definition into *out (which holds nothing): data_version
 * as it is now, has_data = simc_ns_pods_up(ns) (a file-system backup;
 * the caller sets it for a data mover). Returns 0, or -1 when out of
 * memory (*out then holds nothing). */
int simc_ns_snapshot(const struct simc_namespace *ns, struct simc_snapshot *out);
/* Frees what *s owns; *s is empty afterwards. */
void simc_snapshot_free(struct simc_snapshot *s);

/* JSON of a snapshot (the format above); NULL when out of memory. Caller
 * deletes. */
cJSON *simc_snapshot_to_json(const struct simc_snapshot *s);
/* Reads that format, strictly (unknown or duplicate keys, wrong types,
 * names and keys Kubernetes would refuse are errors naming their path,
 * which starts with `path`). Returns 0, or -1 with err (*out then holds
 * nothing). */
int simc_snapshot_from_json(struct simc_snapshot *out, const cJSON *v, const char *path, char *err,
                            size_t errlen);

/* What a restore did. */
struct simc_restore_result {
    bool ns_created; /* the namespace was created, with the snapshot's data */
    size_t created;  /* workloads created */
    size_t skipped;  /* workloads that existed and were left as they are */
};

/* Velero's restore of one namespace at simulated time now_ms:
 *  - namespace absent: created Active with the snapshot's labels,
 *    annotations and volume data (data_version, or 0 without has_data),
 *    then every workload created with its replicas, pods starting;
 *  - namespace Active: it, its labels and its data are left as they are
 *    (Velero skips existing objects: a PVC that exists keeps its data);
 *    missing workloads are created, existing ones skipped;
 *  - namespace Terminating: nothing is created, *why TERMINATING (Velero
 *    reports each object refused).
 * Returns 0 and *res, or -1 with *why (TERMINATING, INVALID: over
 * SIMC_MAX_NAMESPACES or SIMC_MAX_WORKLOADS, NOMEM) and err; what was
 * created before a failure stays, as with Velero. */
int simc_ns_restore(struct simc_cluster *c, const struct simc_snapshot *s, int64_t now_ms,
                    struct simc_restore_result *res, enum simc_err *why, char *err, size_t errlen);
/* The same, but only into a namespace that does not exist: *why EXISTS
 * (Active or Terminating) and nothing changed otherwise. */
int simc_ns_restore_snapshot(struct simc_cluster *c, const struct simc_snapshot *s, int64_t now_ms,
                             struct simc_restore_result *res, enum simc_err *why, char *err,
                             size_t errlen);

#endif
