/*
 * sim_velero — the simulated site's Velero (SPEC 6 and 7): Backup and
 * Restore objects under /apis/velero.io/v1/namespaces/{velero_ns}/,
 * validated against Velero's own CRDs (sim_schema.h); the controllers
 * that move them through Velero's phases in simulated time at the
 * report's rates; the pod volume objects that show the bytes moved;
 * backup storage locations that are directories two floe-sim processes
 * share, with Velero's periodic storage sync; and faults on demand.
 *
 * What it reproduces, each as Velero does it (sim/README.md has the
 * details and the sources):
 *   - a file-system backup copies a volume only while its pod runs: a
 *     backup of a stateful namespace scaled to 0 is Completed with no
 *     volume data (velero #1919); with snapshotMoveData and the data
 *     mover, a CSI snapshot captures it even at 0 replicas;
 *   - pre hooks (spec.hooks or the pods' pre.hook.backup.velero.io
 *     annotations) run before the volume is read and stop the
 *     namespace's writes (quiesce); post hooks start them again;
 *   - a backup captures the namespace's data version; a restore brings
 *     back what its backup captured, recreates what is missing, skips
 *     what exists;
 *   - a backup is written to its storage location only when it ends; a
 *     site sees another's backup only after its sync, with
 *     spec.storageLocation rewritten to its own location;
 *   - a Velero restart fails every InProgress Backup and Restore with
 *     Velero's failureReason.
 *
 * The caller (sim_site) holds the site's lock around every call; time is
 * simulated milliseconds passed in. Storage-location files are read and
 * written here (small JSON files, atomically replaced).
 */
#ifndef FLOE_SIM_VELERO_H
#define FLOE_SIM_VELERO_H

#include "sim/sim_cluster.h"
#include "sim/sim_kube.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIMV_NAME_MAX 64  /* a namespace or location name + NUL */
#define SIMV_DIR_MAX 1024 /* a storage location's directory + NUL */
#define SIMV_MAX_LOCATIONS 8
#define SIMV_MAX_OBJECTS 5000 /* Velero objects of all kinds: bounds a hostile client */

/* The report's rates (ArctiqDC PoC, "Summary"), GB per simulated minute. */
#define SIMV_INITIAL_GB_PER_MIN 0.88
#define SIMV_DELTA_DATABASE_GB_PER_MIN 0.25
#define SIMV_DELTA_LARGE_FILE_GB_PER_MIN 0.13
#define SIMV_DELTA_SMALL_FILES_GB_PER_MIN 0.80
#define SIMV_RESTORE_GB_PER_MIN 6.36
/* Namespace annotations read by the simulator only (not by floe). */
#define SIMV_ANNOTATION_DATA_KIND "sim.floe.dev/data-kind"
#define SIMV_ANNOTATION_WRITE_RATE "sim.floe.dev/write-gb-per-min"

struct sim_velero_location {
    char name[SIMV_NAME_MAX];
    char dir[SIMV_DIR_MAX];
};

/* The scenario's "velero" section (sim/README.md). */
struct sim_velero_config {
    bool enabled;                         /* the section is there: Velero is installed */
    char namespace_[SIMV_NAME_MAX];       /* "velero" */
    char storage_location[SIMV_NAME_MAX]; /* this site's own location: "default" */
    struct sim_velero_location locations[SIMV_MAX_LOCATIONS];
    size_t nlocations;
    int64_t sync_period_ms;   /* 60000; 0 = no sync (Velero's "0s") */
    bool data_mover;          /* CSI snapshots and the data mover are installed */
    bool incremental_restore; /* Restore spec.existingVolumeDataPolicy exists */
    double write_gb_per_min;  /* default churn of a writing namespace: 0.05 */
};

/* Parses the section (v; `path` starts messages) into *cfg. Returns 0, or
 * -1 with "path.key: message". */
int sim_velero_parse_config(struct sim_velero_config *cfg, const cJSON *v, const char *path,
                            char *err, size_t errlen);

struct sim_velero;

/* A Velero as configured (cfg copied), with no objects, its storage sync
 * due at once. Returns 0, or -1 with err (the built-in CRDs unreadable,
 * out of memory). */
int sim_velero_new(struct sim_velero **out, const struct sim_velero_config *cfg, char *err,
                   size_t errlen);
void sim_velero_free(struct sim_velero *v);
const struct sim_velero_config *sim_velero_config(const struct sim_velero *v);

/* Answers one request under /apis/velero.io (sim_kube.h's group
 * handler: the token is checked and the site's lock held) at simulated
 * time req->now_ms: GET (one, list with labelSelector), POST, DELETE and
 * PATCH (application/merge-patch+json) of backups and restores; GET of
 * podvolumebackups, podvolumerestores (v1), datauploads, datadownloads
 * (v2alpha1). Objects take resourceVersions from the cluster's counter.
 * Returns the HTTP status; *body is a new string (caller frees), NULL
 * when out of memory (send 500). */
int sim_velero_handle(struct sim_velero *v, struct simc_cluster *c,
                      const struct sim_kube_request *req, char **body);

/* One simulated second of Velero's controllers at now_ms: queues and
 * starts backups, ends those whose time is up (writing them to their
 * storage location), runs restores (creating namespaces and workloads in
 * c, setting their data versions), moves pod volume progress, and syncs
 * this site's storage location when due. */
void sim_velero_tick(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms);

/* /sim/set names (sim_api.h's extension): "velero.next_backup",
 * "velero.next_restore" ("PartiallyFailed", "Failed", or null: none),
 * "velero.restart" (true: Velero restarts now), "velero.sync" (false:
 * the storage sync stops; true: it resumes at once). check validates
 * without changing anything (0, or -1 with "NAME: why"); apply then
 * cannot fail. */
bool sim_velero_set_name(const char *name);
int sim_velero_set_check(const char *name, const cJSON *value, char *err, size_t errlen);
void sim_velero_set_apply(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms,
                          const char *name, const cJSON *value);

/* GET /sim/velero: the faults set, the sync's state, and every backup
 * and restore with what it captured or restored per namespace (data
 * version, bytes, how). The namespaces' own data versions are in GET
 * /sim/cluster. A new string (caller frees) or NULL when out of memory. */
char *sim_velero_state_json(const struct sim_velero *v, int64_t now_ms);

#endif
