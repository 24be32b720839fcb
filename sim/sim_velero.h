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

#include "sim/sim_api.h"
#include "sim/sim_cluster.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIMV_NAME_MAX 64       /* a namespace or location name + NUL */
#define SIMV_DIR_MAX 1024      /* a storage location's directory + NUL */
#define SIMV_MAX_LOCATIONS 8
#define SIMV_MAX_OBJECTS 5000  /* Velero objects of all kinds: bounds a hostile client */

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
    int64_t sync_period_ms;  /* 60000; 0 = no sync (Velero's "0s") */
    bool data_mover;         /* CSI snapshots and the data mover are installed */
    bool incremental_restore; /* Restore spec.existingVolumeDataPolicy exists */
    double write_gb_per_min; /* default churn of a writing namespace: 0.05 */
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

struct sim_velero_request {
    const char *method;
    const char *path;           /* under /apis/velero.io, without the query string */
    const char *label_selector; /* decoded labelSelector; NULL when absent */
    const char *authorization;  /* Authorization header; NULL when absent */
    const char *content_type;   /* Content-Type header; NULL when absent */
    const char *body;           /* "" when none */
    size_t body_len;
};

/* Answers one request under /apis/velero.io at simulated time now_ms:
 * GET (one, list with labelSelector), POST, DELETE and PATCH
 * (application/merge-patch+json) of backups and restores; GET of
 * podvolumebackups, podvolumerestores (v1), datauploads, datadownloads
 * (v2alpha1). Objects take resourceVersions from the cluster's counter
 * and the API token is the cluster's. Returns the HTTP status; *body is
 * a new string (caller frees), NULL when out of memory (send 500). */
int sim_velero_handle(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms,
                      const struct sim_velero_request *req, char **body);

/* One simulated second of Velero's controllers at now_ms: queues and
 * starts backups, ends those whose time is up (writing them to their
 * storage location), runs restores (creating namespaces and workloads in
 * c, setting their data versions), moves pod volume progress, and syncs
 * this site's storage location when due. */
void sim_velero_tick(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms);

/* A /sim/set member "velero.KEY" (sim_api.h's extension): checks it
 * (apply false: nothing changes) or applies it. Keys: next_backup,
 * next_restore ("PartiallyFailed", "Failed" or null), restart (true),
 * sync (true or false). Returns 0, or -1 with *why and err. */
int sim_velero_set(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms, const char *key,
                   const cJSON *value, bool apply, enum sim_api_error *why, char *err,
                   size_t errlen);

/* GET /sim/velero: the faults set, the sync's state, and every backup
 * and restore with what it captured or restored (names, phases, data
 * versions), and each stateful namespace's data version. A new string
 * (caller frees) or NULL when out of memory. */
char *sim_velero_state_json(const struct sim_velero *v, const struct simc_cluster *c,
                            int64_t now_ms);

#endif
