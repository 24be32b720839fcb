/*
 * placer — the running agent's placement of a shed decision (SPEC 3.3):
 * what placement/pl_place decides, fed with the agent's own data and
 * wired to the network.
 *
 * placer_place takes a decision that is `placing` (mode auto, or just
 * approved) and resolves it: no-placement when placement is not
 * configured (no peers, no workloads.source) or the inventory has not
 * been read, else pl_place with
 *   - the inventory's workloads, each with its downtime estimate
 *     (pl_estimate with placer_rates: what migrations measured, else the
 *     report's rates) and marked moving when this site already holds a
 *     reservation for it (store_hold: in flight) or it has a migration
 *     running, or done with its source still kept here (store_mig_busy);
 *   - the peers asked concurrently (placement/peer_client.h), each
 *     reservation with a TTL that covers the workload's expected
 *     migration (at least PLACER_TTL_MIN_S).
 * The grants come back in a placer_grants. Once the decision is stored,
 * placer_keep records them as holds under its id; if it could not be
 * stored, placer_release gives them back at once, so the site never
 * holds capacity that no record explains.
 *
 * placer_inflight_kw is the kW of this site's holds: SPEC 3.3's
 * "migrations already in flight", which decision_classify takes off
 * action.kw.
 *
 * Locking: callers hold a->place_lock from placer_place until the
 * decision and its holds are stored (or the grants released), so two
 * placements never see the same workloads as free.
 *
 * Blocking: placer_place makes network requests (at most
 * PLACER_CAPACITY_TIMEOUT_MS for the capacity round, then
 * PLACER_RESERVE_TIMEOUT_MS per reservation). It runs on the policy
 * thread (a decision every cooldown at most) or on the HTTP thread that
 * approves a decision.
 *
 * Ownership: everything is borrowed for the call; placer_grants owns its
 * array (placer_grants_clear).
 */
#ifndef FLOE_PLACER_H
#define FLOE_PLACER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/agent.h"
#include "placement/inventory.h"
#include "placement/pl_estimate.h"
#include "policies/decision.h"

#define PLACER_CAPACITY_TIMEOUT_MS 3000
#define PLACER_RESERVE_TIMEOUT_MS 5000
#define PLACER_TTL_MIN_S 900
#define PLACER_TTL_MAX_S 86400

struct placer_grant {
    char peer[72];
    char id[72];
    char workload[128];
    char namespace_[128];
    double kw;
    int64_t expires_ms;
};

struct placer_grants {
    struct placer_grant *g;
    size_t n;
};

/* What placement knows of the inventory at decision time. */
struct placer_inventory {
    const struct inventory *inv; /* NULL: none read yet */
    const char *error;           /* the last refresh's error, or NULL/"" */
};

/* Resolves d (status placing) at wall-clock now_ms; see above. */
void placer_place(struct agent *a, const struct floe_config *cfg,
                  const struct placer_inventory *inventory, struct decision *d, int64_t now_ms,
                  struct placer_grants *out);

/* placer_place with the agent's inventory as it is now (a->inventory;
 * none when NULL). */
void placer_place_current(struct agent *a, const struct floe_config *cfg, struct decision *d,
                          int64_t now_ms, struct placer_grants *out);

/* The decision with the grants was stored as decision_id: record holds. */
void placer_keep(struct agent *a, const struct placer_grants *g, int64_t decision_id,
                 int64_t now_ms);
/* The decision could not be stored: release every grant at its peer. */
void placer_release(const struct floe_config *cfg, const struct placer_grants *g);

void placer_grants_clear(struct placer_grants *g);

/* The transfer rates migrations to peer have measured (its moving
 * averages, store/store_mig.h), or with peer NULL the mean over all
 * peers; the report's (pl_rates_report) for each kind without any
 * measurement yet, fixed_s 0 likewise. incremental_restore is false. */
struct pl_rates placer_rates(struct agent *a, const char *peer);

/* A reservation's TTL for a workload whose migration is estimated as est
 * (NULL or NAN: unknown), with migrator.delta_interval delta_interval_ms:
 * long enough to reach its import (which confirms it) however the
 * migrator goes, each wait at its budget (mig_phase.h: 3x the estimate):
 * the initial backup, MIG_MAX_DELTAS deltas each after delta_interval
 * (stateful only), the final backup and the restore, plus
 * PLACER_TTL_MIN_S; within PLACER_TTL_MIN_S .. PLACER_TTL_MAX_S. The wait
 * for a max_parallel slot has no bound: the migrator rolls back before
 * its switchover when the reservation would lapse first (mig_phase.h). */
int64_t placer_ttl_s(const struct pl_estimate *est, int64_t delta_interval_ms);

/* kW of the reservations this site holds at peers at now_ms (0 when the
 * store cannot say; logged). */
double placer_inflight_kw(struct agent *a, int64_t now_ms);

#endif
