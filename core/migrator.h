/*
 * migrator — the running agent's migrations as their source (SPEC 6):
 * one thread that, every migrator.tick (default 1 s) or at once when
 * woken, advances each migration by one step of migrator/mig_phase with
 * real actions on this site's cluster and at the peers.
 *
 * Where migrations come from: a hold (store_hold.h: a reservation a
 * placed decision holds at a peer) that has no migration yet becomes one
 * in `reserved`, confirming the hold in the same transaction; a workload
 * the inventory no longer has (or that may not move any more) becomes a
 * migration that rolls straight back, releasing the reservation, with
 * that reason. migrator_manual creates one for POST /v1/migrations.
 *
 * One step: read the row from the store (nothing is kept in memory
 * between steps, so a restarted agent simply carries on), observe what
 * mig_wants says (the Backup, the namespace, the import at the peer),
 * let mig_step decide, save the new state with its event (durably)
 * *before* acting, act, hand the outcome to mig_outcome, save again.
 * A save that fails means no action: what is not on disk is not done.
 * At most migrator.max_parallel migrations are past `reserved` at once;
 * every change is logged in a facility engineer's words
 * ("shop → falkenberg-1 (migration 7): final backup ... completed (1.2 GB
 * in 4m10s); scaling shop to 0").
 *
 * The actions go through struct migrator_ops: migrator_start uses the
 * real ones (core/migrator_kube.c: this site's Kubernetes API from
 * workloads.kubernetes, the peers' agents, the traffic driver); tests
 * pass their own with migrator_new and drive migrator_tick by hand.
 *
 * Ownership: borrows the agent until migrator_stop.
 */
#ifndef FLOE_MIGRATOR_H
#define FLOE_MIGRATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/agent.h"
#include "migrator/mig_kube.h"
#include "migrator/mig_peer.h"
#include "migrator/mig_traffic.h"
#include "migrator/mig_velero.h"
#include "placement/peer_client.h"

#define MIGRATOR_PEER_TIMEOUT_MS 5000 /* each request to a peer */
#define MIGRATOR_EWMA_ALPHA 0.3       /* a new measurement's weight in a peer's rates */

/* Every call returns 0 or -1 with err; calls to a peer also give the
 * HTTP status of its answer (0 without one). */
struct migrator_ops {
    void *ctx;
    /* Once per tick before the others, with the tick's config. -1: the
     * cluster cannot be used now (its calls are not made; err says why). */
    int (*begin)(void *ctx, const struct floe_config *cfg, uint64_t generation, char *err,
                 size_t errlen);
    int (*ns_read)(void *ctx, const char *ns, struct mig_ns_state *out, char *err, size_t errlen);
    int (*scale)(void *ctx, const char *ns, enum mig_obj_kind kind, const char *name,
                 int32_t replicas, char *err, size_t errlen);
    int (*delete_ns)(void *ctx, const char *ns, char *err, size_t errlen);
    int (*backup_create)(void *ctx, const struct mig_backup_spec *b, char *err, size_t errlen);
    int (*backup_get)(void *ctx, const char *name, struct mig_vstatus *out, char *err,
                      size_t errlen);
    int (*backup_bytes)(void *ctx, const char *name, double *bytes, char *err, size_t errlen);
    int (*import_start)(void *ctx, const struct cfg_peer *peer, const struct mig_import_request *r,
                        struct mig_import_status *out, long *http_status, char *err, size_t errlen);
    int (*import_get)(void *ctx, const struct cfg_peer *peer, const char *id,
                      struct mig_import_status *out, long *http_status, char *err, size_t errlen);
    int (*import_drop)(void *ctx, const struct cfg_peer *peer, const char *id, long *http_status,
                       char *err, size_t errlen);
    /* peer_reserve's contract (outcome and reason in out). */
    void (*reserve)(void *ctx, const struct cfg_peer *peer, const char *from_site,
                    const char *workload, double kw, int64_t ttl_s, struct peer_reservation *out);
    int (*release)(void *ctx, const struct cfg_peer *peer, const char *id, char *err,
                   size_t errlen);
    int (*traffic)(void *ctx, const struct cfg_traffic *t, const struct mig_traffic_switch *sw,
                   char *err, size_t errlen);
    /* Test seam: called where the process could die, "saved" (a step's
     * state is on disk, its action not taken) and "acted" (taken, its
     * outcome not saved); true stops the tick there as a SIGKILL would.
     * NULL: never. */
    bool (*crash_point)(void *ctx, const char *where);
};

struct migrator;

/* Starts the thread with the real actions (core/migrator_kube.c). NULL
 * with err when it cannot start. */
struct migrator *migrator_start(struct agent *a, char *err, size_t errlen);
/* Without a thread, with ops (copied): the caller drives migrator_tick.
 * NULL when out of memory. */
struct migrator *migrator_new(struct agent *a, const struct migrator_ops *ops);
/* Stops the thread (after the step in progress) and frees mg. NULL is a
 * no-op. */
void migrator_stop(struct migrator *mg);
/* Wakes the thread for a step now (a new or aborted migration). */
void migrator_wake(struct migrator *mg);

/* One round at wall-clock now_ms: holds become migrations, and each
 * migration that has work takes one step. One thread at a time. */
void migrator_tick(struct migrator *mg, int64_t now_ms);

/* POST /v1/migrations: moves `workload` (from the inventory) to peer
 * `to`, reserving its kW there first (under a->place_lock, as
 * placement does). Returns 0 with *id, or an HTTP status with err:
 * 400 (no such peer), 404 (no such workload), 409 (migration not
 * configured, inventory not read, not movable, already moving, the peer
 * refused), 502 (the peer did not answer usably), 500. */
int migrator_manual(struct migrator *mg, const struct floe_config *cfg, const char *workload,
                    const char *to, const char *actor, int64_t now_ms, int64_t *id, char *err,
                    size_t errlen);

/* The real actions (core/migrator_kube.c); free with migrator_kube_free. */
struct migrator_ops migrator_kube_ops(void);
void migrator_kube_free(struct migrator_ops *ops);

#endif
