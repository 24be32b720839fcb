/*
 * sim_velero_int — what the files of the simulated Velero share, and no
 * one else includes:
 *   sim_velero.c        configuration, life cycle, faults, /sim/velero,
 *                       the tick that runs the controllers below
 *   sim_velero_api.c    the Kubernetes API for Velero's objects
 *   sim_velero_ctl.c    the backup and restore controllers: phases,
 *                       hooks, data capture, durations, restore into the
 *                       cluster, Velero restart
 *   sim_velero_store.c  backup storage locations: records on disk, the
 *                       storage sync, expiry
 *   sim_velero_obj.c    the object store: every Velero object as the JSON
 *                       the API serves, with its controller state
 */
#ifndef FLOE_SIM_VELERO_INT_H
#define FLOE_SIM_VELERO_INT_H

#include "sim/sim_cluster.h"
#include "sim/sim_schema.h"
#include "sim/sim_velero.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

/* Seconds of a backup or restore that are not volume data: reading or
 * creating the Kubernetes objects (the report measured none; Velero
 * takes seconds for a namespace). */
#define SIMV_RESOURCES_MS 5000
/* Finalizing: Velero's finalizer uploads the last metadata. */
#define SIMV_FINALIZE_MS 2000
#define SIMV_DEFAULT_TTL_MS (720LL * 3600 * 1000) /* Velero's --default-backup-ttl */
#define SIMV_RECORD_FORMAT 1
/* Velero's labels on the objects it makes and restores. */
#define SIMV_LABEL_BACKUP_NAME "velero.io/backup-name"
#define SIMV_LABEL_BACKUP_UID "velero.io/backup-uid"
#define SIMV_LABEL_RESTORE_NAME "velero.io/restore-name"
#define SIMV_LABEL_RESTORE_UID "velero.io/restore-uid"
#define SIMV_LABEL_STORAGE_LOCATION "velero.io/storage-location"

enum vkind { VK_BACKUP, VK_RESTORE, VK_PVB, VK_PVR, VK_DU, VK_DD, VK_COUNT };

struct vres {
    const char *version;   /* "v1", "v2alpha1" */
    const char *plural;    /* "backups" */
    const char *kind;      /* "Backup" */
    const char *list_kind; /* "BackupList" */
};
extern const struct vres simv_res[VK_COUNT];

struct vobj {
    enum vkind kind;
    char name[SIMC_DNS_SUBDOMAIN_MAX + 1];
    cJSON *obj; /* what the API serves: apiVersion, kind, metadata, spec, status */
    /* Backups and Restores */
    int64_t until_ms; /* end of the timed phase (InProgress, Finalizing...) */
    cJSON *contents;  /* Backup: {"namespaces": [...]} as captured; Restore: what it restores */
    int errors, warnings;
    bool stuck; /* a spec Velero cannot decode: stays New (logged once) */
    /* Pod volume objects (PodVolumeBackup/Restore, DataUpload/Download) */
    char owner[SIMC_DNS_SUBDOMAIN_MAX + 1]; /* its Backup or Restore */
    double total_bytes;
    int64_t from_ms, to_ms; /* when its bytes move */
};

struct sim_velero {
    struct sim_velero_config cfg;
    struct sim_crd crd_backup, crd_restore;
    struct vobj *objs; /* sorted by kind, then name: the API's list order */
    size_t nobjs, cap;
    char next_backup[24], next_restore[24]; /* faults: "" = none */
    bool sync_stopped;
    int64_t next_sync_ms, last_sync_ms; /* last_sync_ms -1: never */
    char sync_error[1024];              /* the last sync's trouble; "" = none */
    uint64_t serial;                    /* generated name suffixes */
};

/* ---- sim_velero_obj.c ---- */

struct vobj *simv_find(const struct sim_velero *v, enum vkind k, const char *name);
/* Stores obj (taken over, even on failure) as object `name` of kind k.
 * Returns it (valid until the next insert or remove), or NULL when out
 * of memory or at SIMV_MAX_OBJECTS. */
struct vobj *simv_insert(struct sim_velero *v, enum vkind k, const char *name, cJSON *obj);
/* Removes o, and the pod volume objects it owns (Kubernetes' garbage
 * collection of owned objects). */
void simv_remove(struct sim_velero *v, struct vobj *o);

/* Server-set metadata of a new object: namespace, uid, resourceVersion,
 * generation 1, creationTimestamp (now). */
void simv_stamp_new(struct simc_cluster *c, cJSON *obj, const char *ns, int64_t now_ms);
/* After a change: the next resourceVersion; a change beyond metadata
 * also bumps generation (Velero's CRDs have no status subresource). */
void simv_touch(struct simc_cluster *c, struct vobj *o, bool spec_or_status);
/* Sorts object keys at every level, as the API server prints custom
 * resources (they are maps). */
void simv_sort_keys(cJSON *o);
/* RFC 3339 of simulated time ms, whole seconds (metav1.Time). */
void simv_time(const struct simc_cluster *c, int64_t ms, char buf[40]);
/* Simulated ms of an RFC 3339 time in obj at key; false when absent. */
bool simv_time_of(const struct simc_cluster *c, const cJSON *obj, const char *key, int64_t *ms);
/* prefix + 5 characters of [bcdfghjklmnpqrstvwxz2456789], as the API
 * server's generateName; the prefix is cut so the whole fits 253. */
void simv_generate_name(struct sim_velero *v, const char *prefix, char *out, size_t n);

/* Small JSON edits; each returns false when out of memory. */
cJSON *simv_child(cJSON *obj, const char *key); /* object member, created when missing */
bool simv_set_str(cJSON *obj, const char *key, const char *value);
bool simv_set_num(cJSON *obj, const char *key, double value);
bool simv_set_bool(cJSON *obj, const char *key, bool value);
void simv_del(cJSON *obj, const char *key);
const char *simv_str(const cJSON *obj, const char *key); /* NULL when not a string */
const char *simv_phase(const struct vobj *o);            /* status.phase; "" when absent */
bool simv_set_phase(struct vobj *o, const char *phase);
/* A metadata.labels entry (value cut to a label value as Velero does). */
bool simv_set_label(cJSON *obj, const char *key, const char *value);

/* ---- sim_velero_store.c ---- */

/* The directory of location `name`; NULL when this site has none. */
const char *simv_location_dir(const struct sim_velero *v, const char *name);
/* Writes a finished Backup's record (the object and its contents) to its
 * location, atomically (temporary file, then rename). 0 or -1 with err. */
int simv_store_write(struct sim_velero *v, const struct vobj *b, char *err, size_t errlen);
/* Reads a record by backup name from a location's directory. NULL with
 * err when missing or malformed. */
cJSON *simv_store_read(const char *dir, const char *name, char *err, size_t errlen);
/* The most recent data version captured of namespace ns in location dir
 * that is not above `at`: the base of an incremental backup. False when
 * there is none. */
bool simv_store_base(const char *dir, const char *ns, uint64_t at, uint64_t *version);
/* The storage sync of this site's location (when due), and expiry. */
void simv_sync_tick(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms);

/* ---- sim_velero_ctl.c ---- */

void simv_backups_tick(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms);
void simv_restores_tick(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms);
void simv_volumes_tick(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms);
/* Velero's start after a restart: InProgress Backups and Restores fail. */
void simv_restart(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms);
/* A Go duration ("72h0m0s", "90s", "1.5h") in ms; -1 when it is not one. */
int64_t simv_parse_duration_ms(const char *s);
/* ms as Go prints a duration ("720h0m0s", "1m30s", "0s"). */
void simv_format_duration(int64_t ms, char *buf, size_t n);

#endif
