/*
 * importer — carries out on this site's own cluster the imports peers ask
 * for (SPEC 5, POST /v1/imports; store/store_import.h keeps them).
 *
 * A thread wakes every migrator.tick (default 1 s; the same round as the
 * source's migrator, so a finished restore or a ready workload is seen
 * here as soon as the source would look for it), or at once when
 * importer_wake is called (a new import, a drop), and takes each import
 * that has work one step further:
 *
 *   waiting-backup  GET the Backup in migrator.velero_namespace. Not there
 *                   yet: wait, at most 4 × migrator.backup_sync_period
 *                   from the import's start (Velero shows a peer's
 *                   backup only after its storage-location sync, which
 *                   runs once a period; the source asks for the import
 *                   once its backup is finished). Failed: the import
 *                   fails. Completed or PartiallyFailed: the namespace
 *                   must not exist here (it exists: failed, and it is
 *                   never touched; still terminating: wait) — unless the
 *                   import is incremental, which restores into the
 *                   namespace a prestage import of the same reservation
 *                   left here and into nothing else.
 *   restoring       the Restore (restorePVs) is named
 *                   mig_velero_name(site, namespace, import id, seq) and
 *                   the name is written before the Restore is created, so
 *                   after a crash the importer GETs the Restore it meant
 *                   to create and creates it only when it is not there.
 *                   Failed (also Velero's restart failure) or gone: the
 *                   half-restored namespace is deleted, the importer
 *                   waits until it is really gone, and tries again under
 *                   seq + 1, at most 1 + migrator.retries Restores in all
 *                   (an incremental import tries again in place).
 *                   PartiallyFailed: on to starting, remembered.
 *                   No time limit of its own: the source knows the bytes
 *                   and owns the restore's budget (it drops the import
 *                   when the budget is spent).
 *   starting        each Deployment/StatefulSet named in `replicas` is
 *                   scaled to its count (a restore recreates objects as
 *                   they were backed up) and every object of the
 *                   namespace must pass mig_obj_ready within
 *                   migrator.import_ready_timeout; a prestage import
 *                   scales every object to 0 and waits until no pod is
 *                   left. A PartiallyFailed backup or restore is accepted
 *                   only when the workload becomes ready.
 *   ready           restore_s (the Restore's completion minus its start)
 *                   and restored_bytes (mig_velero_bytes) are recorded.
 *
 * Every step is written to the store before it is acted on. An import
 * that fails, or is dropped (DELETE /v1/imports/{id}), releases its
 * reservation (a prestage import and the incremental one restored into
 * its namespace share one: the last of them to end releases it), and the
 * namespace it made is deleted (an incremental import that began
 * restoring has taken the namespace over: the prestage import's drop
 * then leaves it alone): a failed import
 * never served anything (the source cuts traffic over only after
 * `ready`), so the source's copy is the one that counts, and a
 * half-restored copy left running would run the workload at two sites.
 * A namespace that existed before the import is never deleted. The
 * Restore objects stay in Velero for whoever wants to read why.
 *
 * The cluster is reached through an ops table (struct importer_ops), so
 * tests drive every path with a fake cluster and an injected clock; the
 * agent's own (core/importer_kube.h) builds its Kubernetes client from
 * workloads.kubernetes.
 */
#ifndef FLOE_IMPORTER_H
#define FLOE_IMPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/agent.h"
#include "migrator/mig_kube.h"
#include "migrator/mig_velero.h"

/* What the importer asks of its cluster; the mig_* functions' contracts
 * (migrator/mig_kube.h, mig_velero.h), with the client and Velero's
 * namespace behind ctx. Each returns 0 or -1 with err. */
struct importer_ops {
    /* Called before a round of work with the config in force: builds or
     * rebuilds the client. -1 with err when this site cannot reach a
     * cluster (no workloads.kubernetes): the imports wait. */
    int (*begin)(void *ctx, const struct floe_config *cfg, uint64_t generation, char *err,
                 size_t errlen);
    int (*velero_get)(void *ctx, enum mig_vkind kind, const char *name, struct mig_vstatus *out,
                      char *err, size_t errlen);
    int (*create_restore)(void *ctx, const struct mig_restore_spec *r, char *err, size_t errlen);
    int (*velero_bytes)(void *ctx, enum mig_vkind kind, const char *name, double *bytes, char *err,
                        size_t errlen);
    int (*ns_read)(void *ctx, const char *ns, struct mig_ns_state *out, char *err, size_t errlen);
    int (*scale)(void *ctx, const char *ns, enum mig_obj_kind kind, const char *name,
                 int32_t replicas, char *err, size_t errlen);
    int (*delete_namespace)(void *ctx, const char *ns, char *err, size_t errlen);
    void (*free)(void *ctx); /* NULL: nothing to free */
    void *ctx;
};

struct importer;

/* Starts the thread over ops (taken over: ops->free(ops->ctx) is called
 * at importer_stop, also when the start fails); borrows a until
 * importer_stop. NULL with err when it cannot start. The agent passes
 * importer_kube_ops (core/importer_kube.h). */
struct importer *importer_start(struct agent *a, const struct importer_ops *ops, char *err,
                                size_t errlen);
/* The same without a thread: the caller drives it with importer_tick
 * (tests). NULL when out of memory (ops freed). */
struct importer *importer_new(struct agent *a, const struct importer_ops *ops);
/* Stops the thread if there is one and frees im. NULL is a no-op. */
void importer_stop(struct importer *im);

/* One round now (wall clock now_ms): every import with work is taken as
 * far as it goes without waiting. One thread at a time. */
void importer_tick(struct importer *im, int64_t now_ms);
/* Asks for a round at once; returns at once. NULL is a no-op. */
void importer_wake(struct importer *im);

/* The budgets, from the config (exposed for the API's documentation
 * and the tests). */
int64_t importer_backup_wait_ms(const struct floe_config *cfg);
int64_t importer_ready_wait_ms(const struct floe_config *cfg);
/* The thread's round when nothing wakes it: migrator.tick. */
int64_t importer_round_ms(const struct floe_config *cfg);

#endif
