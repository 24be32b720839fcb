/*
 * rebalancer — the running agent's rebalance decisions (SPEC 3.3
 * `rebalance`): what placement/pl_rebalance plans, fed with the agent's
 * own data and carried out as a shed is: reserve first (POST
 * /v1/reservations at the peer), then the migrator moves (a placed
 * decision's reservations become holds, and holds become migrations).
 *
 * rebalancer_place takes a decision that is `placing` with kind
 * rebalance (mode auto, or just approved) and resolves it:
 *   - no-placement when it cannot act: its schedule window closed before
 *     an approval came; no peers, no workloads.source or no migrator
 *     section in the config; the inventory not read yet; the decisions that
 *     say how many migrations the window started could not be read;
 *   - else pl_rebalance with
 *       the inventory's workloads, each with its home (the namespace's
 *       floe.dev/home-site, else what this site's records say:
 *       pl_rb_history over the imports that became ready here and the
 *       migrations from here that ended done), when it last moved, its
 *       downtime estimate, and marked moving when this site holds a
 *       reservation for it, a migration of it runs or ended with its
 *       source still kept here, or an import of its namespace is under
 *       way here;
 *       this site's spare kW (core/capacity.h; unknown while a capacity
 *       input is);
 *       the migrations this policy started in the window: the moves
 *       reserved by its decisions since the window opened
 *       (decision.rebalance.window_start; the last 24 h when not known),
 *       read from the stored decisions, so a restart does not reset it;
 *       the peers asked concurrently (placement/peer_client.h);
 *   - then reserves each planned move, failbacks first, with the TTL a
 *     shed's reservation gets (placer_ttl_s); a group whose member is
 *     refused gives back its members' grants. Status: placed (every
 *     planned move reserved), partial (some refused), no-placement (none
 *     reserved while one was wanted: refused, or the plan blocked), or
 *     no-need (nothing to move), with the plan's reasons.
 * The grants come back in a placer_grants, kept (placer_keep) or
 * released (placer_release) by the caller as for a shed.
 *
 * What a database replacement loses: the homes read from the records.
 * Guests keep their home only through floe.dev/home-site then.
 *
 * Locking and blocking as placer_place: the caller holds a->place_lock
 * until the decision and its holds are stored; network requests take at
 * most PLACER_CAPACITY_TIMEOUT_MS for the capacity round, then
 * PLACER_RESERVE_TIMEOUT_MS per reservation; a peer that gave no answer
 * (timeout, connection error) is not asked again in the same decision
 * (its remaining moves are not reserved, with that reason), nor asked to
 * give back a grant it made earlier in it (left to lapse at its TTL).
 */
#ifndef FLOE_REBALANCER_H
#define FLOE_REBALANCER_H

#include <stdint.h>

#include "config/config.h"
#include "core/agent.h"
#include "core/placer.h"
#include "placement/inventory.h"
#include "placement/pl_rebalance.h"
#include "policies/decision.h"

/* Resolves d (status placing, kind rebalance) at wall-clock now_ms with
 * the agent's current inventory; see above. */
void rebalancer_place(struct agent *a, const struct floe_config *cfg, struct decision *d,
                      int64_t now_ms, struct placer_grants *out);

/* w as pl_rebalance sees it (strings borrowed from w and home): a
 * workload whose annotations are in error is unmovable for that reason
 * and keeps its group, so the group stays whole; downtime_s is left NAN
 * for the caller. */
struct pl_rb_workload rebalancer_workload(const struct inv_workload *w, const char *home,
                                          int64_t moved_ms, bool moving);

/* Migrations a rebalance policy started since since_ms: the reserved
 * workloads of its stored decisions (except decision skip_id). Returns
 * the count, or -1 with err. */
int rebalancer_started(struct agent *a, const char *policy, int64_t since_ms, int64_t skip_id,
                       char *err, size_t errlen);

#endif
