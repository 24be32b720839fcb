/*
 * mig_phase — the source side of a migration as a pure state machine
 * (SPEC 6): given a migration's persisted state (store/store_mig.h),
 * what was just observed (its Velero Backup, its namespace, its import at
 * the target) and the configuration, it says what the state becomes and
 * which one action to take next. No I/O, no clock: core/migrator.c asks
 * what to observe (mig_wants), observes, calls mig_step, saves the new
 * state *before* it acts, acts, and hands the action's outcome to
 * mig_outcome (whose new state it saves again). Every action is
 * idempotent by name (Velero objects are named by mig_velero_name from
 * the migration id and `seq`; an import is found again by its backup; a
 * traffic switch or a scale sets the same value again), so an agent
 * killed at any point resumes from the saved row and does the same
 * thing again without harm.
 *
 * Phases and steps (stateful workload):
 *   reserved     waits for a slot (at most migrator.max_parallel
 *                migrations past reserved), then starts the initial
 *                Backup (n = 1, file-system backup of the volumes).
 *   precopy      waits for it. Done in <= MIG_DELTA_SMALL_S: straight to
 *                switchover (the final backup is as short as a delta);
 *                else delta.
 *   delta        a delta Backup every delta_interval; after each one,
 *                switchover when it took <= MIG_DELTA_SMALL_S, or was not
 *                shorter than the delta before it (waiting longer would
 *                not shrink the final one), or after MIG_MAX_DELTAS.
 *                With a prestage import still on its way (below), step 1
 *                (MIG_DL_PRESTAGE) waits for it to be ready first: the
 *                downtime starts only once the target holds the initial
 *                backup.
 *   switchover   step 0 first checks the reservation: the import that
 *                confirms it comes after the downtime has begun, so when
 *                it would lapse at the peer (m->hold_expires_ms) before
 *                budget(the estimated downtime) has passed, the migration
 *                rolls back here, nothing stopped yet, and releases it
 *                (placement chooses again). Then step 0 reads the
 *                namespace and records every
 *                Deployment's and StatefulSet's replica count (before
 *                anything is scaled); the downtime starts and the final
 *                Backup runs with the pods up and the quiesce pre-hook
 *                (floe.dev/quiesce; none when the pods carry their own
 *                Velero hook annotations) (step 1; `quiesced` is saved
 *                with its intent: from here the pods may not write until
 *                they restart); then every object is scaled to 0 and
 *                waited on until no pod is left (step 2).
 *                With migrator.data_mover (as in force at step 0: the
 *                mode is saved with the counts and never read again from
 *                the config): step 0 records, step 2 scales
 *                to 0 first, step 3 takes the final Backup with
 *                snapshotMoveData (volumes are snapshotted, not read
 *                through pods).
 *   restoring    POST /v1/imports at the peer (reservation, backup =
 *                the final one, the recorded replicas; `incremental` when
 *                a prestage import is ready), then polls it until ready
 *                or failed.
 *   cutover      points the hostname at the peer's ingress; the
 *                downtime ends; done.
 *   done         releases the reservation at the peer (step 0; the hold
 *                with it), keeps the source at 0 replicas until
 *                retain_source has passed and then deletes its
 *                namespace (step 1). When the workload comes back
 *                before that (a rebalance's failback: an import here
 *                from the peer takes the kept namespace over,
 *                MIG_WANT_RETURN), the source counts as deleted then,
 *                and is not deleted again.
 * Incremental restore (migrator.incremental_restore, stateful only):
 * once the initial Backup completed, the source asks the target for a
 * prestage import of it (POST /v1/imports with `prestage`: the target
 * restores it and keeps every object at 0 replicas), its intent saved
 * first (prestage_state "requested"), and watches it beside the deltas
 * (MIG_WANT_PRESTAGE). Ready: at `restoring` the final backup is imported
 * with `incremental` (Velero's existingVolumeDataPolicy incremental into
 * the prestaged namespace), so the downtime holds the final delta's
 * backup and restore only, and the estimate at switchover says so. A
 * prestage import that fails, that the target forgets (404) or that is
 * not ready within the budget of a full import rolls the migration back,
 * before any downtime (the target released the reservation with a failed
 * import, so no full import could follow).
 *
 * Stateless workload (make before break, no downtime): precopy backs up
 * the resources only, restoring records the current replica counts and
 * imports while the source keeps serving, cutover switches the traffic
 * (step 0), waits the record's TTL so resolvers let go of the old
 * address (step 1), then scales the source to 0 (step 2).
 *
 * Failures. A Backup that ends Failed or FailedValidation, or is marked
 * Failed by a Velero restart, or runs past its budget, is tried again
 * under the next name (seq + 1), at most migrator.retries times; after
 * that, or on any other failure before the traffic is switched (the
 * target refusing or failing the import, a budget spent), and on `floe
 * abort`, the migration rolls back (phase rolling-back): the traffic is
 * pointed home again if it may have been switched (step 0), the source
 * is scaled back to the recorded counts if it was scaled (step 1, tried
 * until it works: the workload must run again), the import is dropped
 * at the target (step 2), then the prestage import (step 4), and the
 * reservation released (step 3); then rolled-back. When the final
 * backup's pre hook may have run (`quiesced`: from switchover step 1
 * until the source is down) step 1 restarts the pods, since a quiesce
 * hook (a database's read-only switch, fsfreeze) has no post hook and
 * only a new pod writes again: it waits for a final Backup still
 * running to end (its hook could stop the new pods' writes again; at
 * most that backup's budget), scales the recorded objects to 0, waits
 * until no pod is left, then scales them to the counts recorded at
 * switchover (before the final backup). A PartiallyFailed Backup is
 * accepted (logged): the final
 * one only moves on if the target then becomes ready, else the import
 * fails and the migration rolls back. A failed action (a peer or the API
 * server not answering) is tried again after MIG_RETRY_MS.
 *
 * Budgets: every wait has one, 3x the expected time plus MIG_FLOOR_S, the
 * expected time coming from the bytes to move and this peer's learned
 * rates (struct pl_rates; the report's until measured): a backup
 * data_gb / initial rate (initial) or the expected delta / delta rate
 * (delta, final); an import the storage sync period plus data_gb /
 * restore rate (an incremental one: the expected delta instead of
 * data_gb; the wait for a prestage import: a full import's budget).
 * Waits that move no data (scaling, the traffic switch, reading the
 * namespace) have MIG_FLOOR_S. The peer cleanup of a
 * rollback or of a done migration (drop, release) is never given up (an
 * import left at the peer would run the workload at both sites, a
 * confirmed reservation left there never lapses): a failed attempt is
 * tried again after as long as the step has waited so far (so the pause
 * doubles), from MIG_RETRY_MS up to MIG_PEER_BACKOFF_MAX_MS, and the
 * error with the next pause is recorded (an event, a warning in the log)
 * each time its text changes. A done migration has its result while it
 * releases; a rollback gets its result once the peer has dropped the
 * import and released the reservation (until then the workload is kept
 * from placement: it may be running at the peer).
 *
 * Rates: every initial backup, delta or final backup and restore that
 * moved at least MIG_RATE_MIN_GB is a rate sample (mig_effects.rates) for
 * the peer's moving averages. A stateful migration that ends done is
 * also a sample of the peer's fixed time (pl_rates.fixed_s, mig_fixed_s):
 * its downtime beyond the final backup and restore the rates predict. A
 * migration that rolls back teaches nothing of it.
 *
 * Ownership: all plain structs; the caller owns them.
 */
#ifndef FLOE_MIG_PHASE_H
#define FLOE_MIG_PHASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migrator/mig_kube.h"
#include "migrator/mig_peer.h"
#include "migrator/mig_velero.h"
#include "placement/pl_estimate.h"
#include "store/store_mig.h"

#define MIG_DELTA_SMALL_S 120   /* a backup this short: switch over now */
#define MIG_MAX_DELTAS 6        /* at most this many deltas before switchover */
#define MIG_BUDGET_FACTOR 3     /* a wait may take 3x its expected time ... */
#define MIG_FLOOR_S 600         /* ... plus 10 min (API calls, queueing, pod start) */
#define MIG_PEER_BACKOFF_MAX_MS 600000 /* drop/release at an unreachable peer: at least every 10 min */
#define MIG_RETRY_MS 5000       /* a failed action is tried again after 5 s */
#define MIG_CLOCK_SKEW_MS (5 * 60 * 1000) /* a Velero object created this long before its
                                            migration (by the API server's clock) is not its own */
/* A backup or restore that moved less than this is mostly Velero's own
 * work (seconds per object, whatever the size): its GB per minute says
 * nothing about the link and is not learned. */
#define MIG_RATE_MIN_GB 0.5
/* A downtime more than this beyond its transfers is a stall (retries, a
 * peer not answering), not a fixed cost: not learned. */
#define MIG_FIXED_MAX_S 3600

enum mig_phase {
    MIG_PH_RESERVED,
    MIG_PH_PRECOPY,
    MIG_PH_DELTA,
    MIG_PH_SWITCHOVER,
    MIG_PH_RESTORING,
    MIG_PH_CUTOVER,
    MIG_PH_ROLLING_BACK,
    MIG_PH_DONE,
    MIG_PH_ROLLED_BACK,
};
#define MIG_PHASES 9
/* "reserved", "precopy", "delta", "switchover", "restoring", "cutover",
 * "rolling-back", "done", "rolled-back". */
const char *mig_phase_name(enum mig_phase p);
/* -1 when s is none of them. */
int mig_phase_parse(const char *s);

/* Steps (store_mig.step) of the phases that have several. */
enum {
    MIG_SW_RECORD = 0, /* switchover */
    MIG_SW_BACKUP = 1,
    MIG_SW_SCALE = 2,
    MIG_SW_MOVER_BACKUP = 3,
    MIG_DL_DELTAS = 0, /* delta */
    MIG_DL_PRESTAGE = 1,
    MIG_CU_SWITCH = 0, /* cutover */
    MIG_CU_TTL = 1,
    MIG_CU_SCALE = 2,
    MIG_RB_TRAFFIC = 0, /* rolling-back */
    MIG_RB_SCALE = 1,
    MIG_RB_DROP = 2,
    MIG_RB_RELEASE = 3,
    MIG_RB_DROP_PRESTAGE = 4, /* taken after MIG_RB_DROP, before MIG_RB_RELEASE */
    MIG_DN_RELEASE = 0,       /* done */
    MIG_DN_RETAIN = 1,
};

/* A new migration's state: phase reserved, everything else empty
 * (downtimes NAN). The caller fills in what moves where. */
void mig_init(struct store_mig *m, int64_t now_ms);

/* Whether the migration is past `reserved` and holds a slot of
 * max_parallel (precopy .. cutover). */
bool mig_holds_slot(const struct store_mig *m);

struct mig_params {
    const char *site; /* this site's name (Velero object names) */
    int64_t delta_interval_ms;
    int64_t backup_ttl_ms;
    int64_t retain_source_ms;
    int64_t storage_sync_ms; /* the target's Velero storage sync period */
    int retries;             /* failed backups tried again */
    bool data_mover;          /* read at switchover step 0 only (store_mig.data_mover) */
    bool traffic_switches;    /* a traffic driver other than none */
    int traffic_ttl_s;        /* the record's TTL */
    const char *peer_ingress; /* the peer's ingress; NULL or "" when unknown */
    const char *home_ingress; /* site.ingress, where a rollback points back; NULL or "" */
    struct pl_rates rates;    /* this peer's: learned, else pl_rates_report() */
    bool incremental_restore; /* prestage the initial backup, restore the final in place */
    /* The config has no migrator section any more (a reload or a restart):
     * a migration whose source still serves untouched (reserved, precopy,
     * delta) rolls back; one in switchover or later carries on to its end
     * (docs/config.md). */
    bool winding_down;
};

/* What to observe before mig_step. */
enum {
    MIG_WANT_SLOT = 1,      /* whether a slot of max_parallel is free */
    MIG_WANT_BACKUP = 2,    /* GET the Backup named m->backup (and its bytes once finished) */
    MIG_WANT_NS = 4,        /* read the source namespace */
    MIG_WANT_IMPORT = 8,    /* GET the import m->import_id at the peer */
    MIG_WANT_PRESTAGE = 16, /* GET the import m->prestage_id at the peer */
    MIG_WANT_RETURN = 32,   /* done, source kept: did it come back (mig_obs.returned)? */
};
unsigned mig_wants(const struct store_mig *m);

struct mig_obs {
    bool slot_free;
    struct {
        bool asked, ok; /* ok: status is valid */
        struct mig_vstatus status;
        double bytes;    /* mig_velero_bytes once finished; NAN unknown */
        char error[400]; /* !ok: why it could not be read */
    } backup;
    struct {
        bool asked, ok;
        const struct mig_ns_state *ns; /* borrowed; valid when ok */
        char error[400];
    } ns;
    struct mig_import_obs {
        bool asked, ok;
        struct mig_import_status status;
        long http_status; /* the answer's status (404: the target forgot it) */
        char error[400];
    } import, prestage;
    /* MIG_WANT_RETURN: an import here from m->peer of m->namespace_, made
     * after the migration started, took the kept source over (the workload
     * came back: core/importer.h deleted the old copy to restore the
     * returning one). The source then counts as deleted and is never
     * deleted again (that would delete what came back). unknown: the
     * records could not be read; the source is then not deleted (asked
     * again next tick), since it may be what came back. */
    struct {
        bool asked, found, unknown;
        int64_t import_id;
    } returned;
};

enum mig_act_kind {
    MIG_ACT_NONE,
    MIG_ACT_BACKUP,    /* create the Backup m->backup */
    MIG_ACT_SCALE,     /* scale the listed objects of m->namespace_ */
    MIG_ACT_IMPORT,    /* POST /v1/imports for m->last_backup with m->replicas (prestage:
                          for m->prestage_backup, no replicas) */
    MIG_ACT_DROP,      /* DELETE /v1/imports/{m->import_id} (prestage: m->prestage_id) */
    MIG_ACT_TRAFFIC,   /* point m->hostname at the peer (or home) */
    MIG_ACT_RELEASE,   /* DELETE /v1/reservations/{m->reservation} at the peer */
    MIG_ACT_DELETE_NS, /* DELETE the source namespace */
};
const char *mig_act_name(enum mig_act_kind k);

struct mig_scale_item {
    enum mig_obj_kind kind;
    char name[MIG_OBJ_NAME_MAX + 1];
    int32_t replicas;
};

struct mig_action {
    enum mig_act_kind kind;
    /* MIG_ACT_BACKUP */
    bool fs_backup;          /* defaultVolumesToFsBackup */
    bool snapshot_move_data; /* the data mover */
    bool quiesce;            /* with m->quiesce as the pre hook */
    /* MIG_ACT_SCALE */
    struct mig_scale_item scale[MIG_MAX_OBJECTS];
    size_t nscale;
    /* MIG_ACT_IMPORT, MIG_ACT_DROP */
    bool prestage;    /* the prestage import, not the final one */
    bool incremental; /* IMPORT: into the prestaged namespace */
    /* MIG_ACT_TRAFFIC */
    bool home;           /* point it back at this site (a rollback) */
    const char *address; /* borrowed from the params */
};

struct mig_result {
    bool ok;
    long http_status; /* the peer's answer (0: none) */
    char error[400];
    struct mig_import_status import; /* MIG_ACT_IMPORT when ok */
};

/* What a step means beyond the new state: an event for the record and
 * the log, the hold to release and rate samples, saved with the state. */
struct mig_effects {
    char event[STORE_MIG_DETAIL_MAX]; /* "" = none */
    bool warn;                        /* the event is a problem */
    bool release_hold;
    struct store_mig_rate_sample rates[2];
    size_t nrates;
};

/* One step at now_ms: *next gets the new state (a copy of *m when
 * nothing changes), *act the action to take once next is saved.
 * Returns whether next differs from m. */
bool mig_step(const struct store_mig *m, const struct mig_obs *obs, const struct mig_params *p,
              int64_t now_ms, struct store_mig *next, struct mig_action *act,
              struct mig_effects *fx);

/* The outcome r of act, taken in state m (the state saved before it).
 * Returns whether *next differs from m. */
bool mig_outcome(const struct store_mig *m, const struct mig_action *act,
                 const struct mig_result *r, const struct mig_params *p, int64_t now_ms,
                 struct store_mig *next, struct mig_effects *fx);

/* The budget in seconds of the wait m is in (for tests and the API). */
double mig_budget_s(const struct store_mig *m, const struct mig_params *p);

/* The downtime expected if m switched over now: the final delta at the
 * delta rate plus a full restore at the restore rate (pl_estimate) — of
 * the delta only when a prestage import is ready — plus the peer's
 * learned fixed time (p->rates.fixed_s); 0 for a stateless
 * workload, NAN when the numbers are unusable. */
double mig_estimate_downtime_s(const struct store_mig *m, const struct mig_params *p);

/* What done migration m's downtime held beyond its transfers, in
 * seconds: downtime - the final backup's predicted transfer (its bytes,
 * last_delta_gb, at the delta rate; the data size at the initial rate
 * with the data mover) - the restore's (the data size, or the final
 * delta when a prestage import was ready, at the restore rate), rates
 * p->rates as they stand. Computed as (final backup's Velero time -
 * predicted) + (the target's Restore time - predicted) + (the rest of
 * the downtime, our clock), the rest counted only when > 0: the same
 * when the clocks agree, and a site whose Velero runs on another clock
 * (floe-sim sped up) still learns Velero's own part. >= 0; NAN when
 * stateless, the downtime is unknown, or the result is over
 * MIG_FIXED_MAX_S. */
double mig_fixed_s(const struct store_mig *m, const struct mig_params *p);

/* "4m10s", "1h2m", "45s": a duration for people. */
void mig_format_s(double s, char *buf, size_t n);

#endif
