/*
 * mig_velero — the Velero objects a migration creates and watches on its
 * own cluster (SPEC 6): Backups at the source, Restores at the target,
 * through the Kubernetes API at
 * /apis/velero.io/v1/namespaces/{velero_ns}/backups[/{name}] and
 * restores, and the bytes their file-system uploads moved
 * (PodVolumeBackups and PodVolumeRestores labelled with the Backup's or
 * Restore's name, status.progress.bytesDone).
 *
 * The JSON built here carries only fields of Velero's own CRD schemas
 * (v1.18.1; tests/data/velero-crds/), because an API server with strict
 * field validation refuses anything else:
 *   Backup  spec: includedNamespaces, defaultVolumesToFsBackup,
 *           snapshotMoveData (with the data mover), storageLocation, ttl
 *           ("72h0m0s"), hooks.resources[].pre[].exec (the quiesce
 *           command), metadata.labels floe.dev/migration.
 *   Restore spec: backupName, includedNamespaces, restorePVs, and
 *           existingVolumeDataPolicy "incremental" only when asked
 *           (not in any Velero release yet: SPEC 6).
 *
 * Names are at most 63 characters (Velero puts them in labels):
 * "floe-<site>-<namespace>-<migration id>-<n>", and when that is longer,
 * its start cut and an 8-hex-digit FNV-1a hash of the whole name
 * appended, so two long names stay different.
 *
 * Creating is idempotent across a crash: a POST answered 409
 * AlreadyExists counts as created (the name is deterministic, so the
 * object is ours from before the restart).
 *
 * A phase is classified so the caller need not know Velero's list:
 *   RUNNING   New, Queued, ReadyToStart, InProgress, WaitingForPlugin...,
 *             Finalizing..., "" (not yet picked up), and any phase this
 *             version does not know (logged once by the caller, waited on,
 *             timed out like any other);
 *   COMPLETED Completed;  PARTIAL PartiallyFailed;
 *   FAILED    Failed, FailedValidation (with failureReason and
 *             validationErrors joined into `reason`);
 *   DELETING  Deleting;   GONE    the object does not exist (404).
 *
 * Ownership: the client is borrowed; results are plain structs.
 */
#ifndef FLOE_MIG_VELERO_H
#define FLOE_MIG_VELERO_H

#include "kube/kube_client.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIG_VELERO_NAME_MAX 63

/* Velero's failureReason after a server restart (SPEC 6). */
#define MIG_VELERO_RESTART_BACKUP \
    "found a backup with status \"InProgress\" during the server starting, mark it as \"Failed\""
#define MIG_VELERO_RESTART_RESTORE \
    "found a restore with status \"InProgress\" during the server starting, mark it as \"Failed\""

enum mig_vkind { MIG_BACKUP, MIG_RESTORE };

enum mig_vclass {
    MIG_V_RUNNING,
    MIG_V_COMPLETED,
    MIG_V_PARTIAL,
    MIG_V_FAILED,
    MIG_V_DELETING,
    MIG_V_GONE,
};
const char *mig_vclass_name(enum mig_vclass c); /* "running", "completed", ... */
enum mig_vclass mig_velero_classify(const char *phase);
/* Whether a failureReason is Velero's "marked Failed at server start". */
bool mig_velero_restart_failure(const char *failure_reason);

/* Writes the object name for (site, namespace, migration id, n) into out
 * (at least MIG_VELERO_NAME_MAX + 1 bytes). Returns 0, or -1 when the
 * parts are empty or n is too small. */
int mig_velero_name(char *out, size_t n, const char *site, const char *ns, int64_t migration_id,
                    int seq);

struct mig_backup_spec {
    const char *name;
    const char *namespace_;       /* the one namespace backed up */
    const char *storage_location; /* the peer's velero_storage_location; NULL = Velero's default */
    bool fs_backup;               /* defaultVolumesToFsBackup (false: resources only) */
    bool snapshot_move_data;      /* the data mover (migrator.data_mover) */
    int64_t ttl_ms;               /* migrator.backup_ttl */
    int64_t migration_id;         /* label floe.dev/migration */
    const char *const *quiesce;   /* pre exec hook command, run in every pod of the
                                     namespace; NULL = none */
    size_t nquiesce;
    int64_t hook_timeout_ms;      /* the hook's timeout; <= 0: Velero's default */
};

struct mig_restore_spec {
    const char *name;
    const char *backup_name;
    const char *namespace_;
    int64_t migration_id;   /* label floe.dev/migration (the source's id) */
    bool incremental;       /* existingVolumeDataPolicy: incremental */
};

/* The object as JSON text (malloc'd; caller frees). Pure. NULL with err
 * for an invalid spec (a name over 63, a bad namespace, a TTL below 1 s). */
char *mig_velero_backup_json(const struct mig_backup_spec *b, char *err, size_t errlen);
char *mig_velero_restore_json(const struct mig_restore_spec *r, char *err, size_t errlen);

int mig_velero_create_backup(struct kube_client *kc, const char *velero_ns,
                             const struct mig_backup_spec *b, int64_t now_ms, char *err,
                             size_t errlen);
int mig_velero_create_restore(struct kube_client *kc, const char *velero_ns,
                              const struct mig_restore_spec *r, int64_t now_ms, char *err,
                              size_t errlen);

struct mig_vstatus {
    enum mig_vclass cls;
    char phase[48];        /* as Velero wrote it, cleaned; "" before Velero picked it up */
    char reason[400];      /* failureReason, validationErrors: for FAILED and PARTIAL */
    char storage_location[64]; /* spec.storageLocation (a Backup) */
    int64_t started_ms;    /* status.startTimestamp; 0 when absent */
    int64_t completed_ms;  /* status.completionTimestamp; 0 when absent */
    int64_t created_ms;    /* metadata.creationTimestamp (the API server's clock); 0 when
                              absent: a name found taken can be told from ours */
    int32_t errors, warnings;
};

/* GET one Backup or Restore. A 404 is cls GONE and returns 0. Returns 0,
 * or -1 with err (transport, other status, an answer that is not a
 * Velero object of that name). */
int mig_velero_get(struct kube_client *kc, const char *velero_ns, enum mig_vkind kind,
                   const char *name, int64_t now_ms, struct mig_vstatus *out, char *err,
                   size_t errlen);

/* DELETE one Backup or Restore (404 counts as done). Deleting a Backup
 * object this way removes the API object only; its data in the storage
 * location lives until its TTL. Returns 0 or -1 with err. */
int mig_velero_delete(struct kube_client *kc, const char *velero_ns, enum mig_vkind kind,
                      const char *name, int64_t now_ms, char *err, size_t errlen);

/* Sum of status.progress.bytesDone over the PodVolumeBackups (kind
 * MIG_BACKUP) or PodVolumeRestores of that Backup or Restore (label
 * velero.io/backup-name or velero.io/restore-name). *bytes is 0 when there
 * are none (a resources-only backup). Returns 0 or -1 with err. */
int mig_velero_bytes(struct kube_client *kc, const char *velero_ns, enum mig_vkind kind,
                     const char *name, int64_t now_ms, double *bytes, char *err, size_t errlen);

#endif
