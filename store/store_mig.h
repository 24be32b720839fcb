/*
 * store_mig — the migrations this site runs as their source (SPEC 6),
 * their events, and the per-peer transfer rates they measured.
 *
 * A migration row is the whole persisted state of one move: what moves
 * (workload, namespace, kW, data, hostname, quiesce command), where to
 * (peer, the reservation it granted), how far it got (phase, step within
 * the phase, Velero object counter `seq`, the backup in progress and the
 * last completed one, the target's import id and its prestage import,
 * the replica counts recorded at switchover) and what it cost (downtime, bytes, time per
 * phase). migrator/mig_phase.c decides every change; core/migrator.c
 * saves it here *before* acting on it, so a restarted agent re-reads
 * the row and resumes (SPEC 6: every step persisted before it is acted
 * on). Saves are synced to disk (synchronous=FULL, as store_resv does):
 * a reservation at a peer and a workload scaled to 0 are promises that
 * must survive a power cut.
 *
 * Never two active migrations of one workload: a unique index on
 * workload over the rows whose result is not set yet; creating a second
 * one is STORE_CONFLICT.
 *
 * A migration starts from a reservation this site holds at the peer
 * (store_hold.h). Creating it confirms that hold (or records a new,
 * confirmed one for a manual migration) in the same transaction: a
 * confirmed hold does not lapse at its TTL and keeps counting as in
 * flight until the migration releases it (store_mig_save with
 * release_hold).
 *
 * abort_requested and abort_by are written only by store_mig_abort (the
 * API's thread); store_mig_save leaves them alone, so a save from the
 * migrator's older copy of the row never loses an abort.
 *
 * Rates: an exponentially weighted moving average per (peer, kind) of GB
 * per minute, kinds "initial" (initial backups), "delta" (delta and
 * final backups) and "restore" (the target's restores); and of seconds,
 * kind "fixed": the downtime beyond what the transfers explain
 * (pl_estimate.h's fixed_s; in the same column, gb_per_min).
 *
 * Strings are fixed-size arrays (no ownership to track); text from
 * outside (Velero, a peer) is cut to fit.
 */
#ifndef FLOE_STORE_MIG_H
#define FLOE_STORE_MIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "store/store_hold.h"

#define STORE_MIG_NAME_MAX 128 /* workload, namespace */
#define STORE_MIG_PEER_MAX 72
#define STORE_MIG_ID_MAX 72 /* a reservation's or an import's id at the peer */
#define STORE_MIG_HOST_MAX 256
#define STORE_MIG_QUIESCE_MAX CFG_QUIESCE_JSON_MAX /* refused beyond, never cut */
#define STORE_MIG_PHASE_MAX 16
#define STORE_MIG_BACKUP_MAX 64 /* a Velero object name: at most 63 */
#define STORE_MIG_ERROR_MAX 400
#define STORE_MIG_ACTOR_MAX 64
#define STORE_MIG_DETAIL_MAX 512
#define STORE_MIG_MAX_REPLICAS 64     /* Deployments + StatefulSets recorded */
#define STORE_MIG_REPLICA_KEY_MAX 268 /* "statefulset/" + a 253-character name */

struct store_mig_replica {
    char key[STORE_MIG_REPLICA_KEY_MAX]; /* "deployment/web" */
    int32_t replicas;
};

struct store_mig {
    int64_t id;
    /* what moves, where to: fixed at creation */
    char workload[STORE_MIG_NAME_MAX];
    char namespace_[STORE_MIG_NAME_MAX];
    char peer[STORE_MIG_PEER_MAX];
    char reservation[STORE_MIG_ID_MAX];
    int64_t hold_expires_ms; /* the reservation lapses at the peer then unless an import
                                confirms it (the hold's expires_ms); 0 unknown */
    int64_t decision_id; /* 0: a manual migration */
    double kw;
    bool stateless;
    double data_gb;
    char hostname[STORE_MIG_HOST_MAX];   /* "" = none */
    char quiesce[STORE_MIG_QUIESCE_MAX]; /* JSON array of strings; "" = none */

    /* where it is */
    char phase[STORE_MIG_PHASE_MAX];
    int step;                         /* within the phase (mig_phase.c) */
    char result[STORE_MIG_PHASE_MAX]; /* "" while running; "done", "rolled-back", "failed" */
    int64_t created_ms, updated_ms, ended_ms; /* ended_ms 0 while running */
    int64_t phase_started_ms, step_started_ms;
    int64_t retry_at_ms; /* no action before this (after a failed one) */

    /* Velero */
    int seq;                           /* the last n used in mig_velero_name */
    char backup[STORE_MIG_BACKUP_MAX]; /* the backup last created (or to create) */
    int64_t backup_started_ms;
    char last_backup[STORE_MIG_BACKUP_MAX]; /* the last one that completed */
    bool last_backup_partial;               /* ... as PartiallyFailed */
    double last_backup_s;                   /* how long it took */
    int deltas;                             /* delta backups completed */
    double prev_delta_s;                    /* the delta before the last; 0 none */
    double last_delta_gb;                   /* the last delta's size; NAN unknown */
    int64_t next_backup_ms;                 /* when the next delta starts */
    int attempts;                           /* failed attempts of the current backup */

    /* target */
    char import_id[STORE_MIG_ID_MAX]; /* "" until the target answered */
    bool import_requested;            /* POST /v1/imports intended */
    /* the prestage import (migrator.incremental_restore): the initial
     * backup restored at the target during precopy/delta, kept stopped */
    char prestage_backup[STORE_MIG_BACKUP_MAX]; /* the backup it restores; "" none */
    char prestage_id[STORE_MIG_ID_MAX];         /* "" until the target answered */
    char prestage_state[STORE_MIG_PHASE_MAX];   /* "" none, "requested" (POST intended, then
                                                   running), "ready", "dropped" (by a rollback) */
    int64_t prestage_started_ms;

    /* source */
    struct store_mig_replica replicas[STORE_MIG_MAX_REPLICAS];
    size_t nreplicas;
    bool replicas_recorded;
    bool scaled;   /* scaling the source down was intended */
    bool quiesced; /* the final backup's pre hooks may have stopped the pods' writes: they
                      write again only once restarted (the hooks have no post hook) */
    bool data_mover; /* the final backup's mode, fixed when the replicas are
                        recorded at switchover (migrator.data_mover may change
                        under a reload; the order of scale and backup may not) */

    /* what it cost */
    int64_t downtime_start_ms;   /* 0: no downtime started */
    double downtime_s;           /* NAN until cut over */
    double estimated_downtime_s; /* NAN until switchover */
    double bytes;                /* volume bytes the backups moved */
    double precopy_s, delta_s, switchover_s, restoring_s, cutover_s;
    double restore_s; /* the final import's restore as the target timed it; NAN unknown */

    char error[STORE_MIG_ERROR_MAX]; /* the current problem, or why it rolled back */
    bool abort_requested;            /* store_mig_abort only */
    char abort_by[STORE_MIG_ACTOR_MAX];
    char rollback_from[STORE_MIG_PHASE_MAX]; /* the phase a rollback started in */
    char reason[STORE_MIG_ERROR_MAX];        /* why it rolls back ("" while it does not) */
    int64_t traffic_switched_ms;             /* the hostname points at the peer since */
    int64_t released_ms;                     /* the reservation was released (or given up) */
    int64_t retain_until_ms;                 /* done: the source namespace goes after this */
    int64_t source_deleted_ms;
};

struct store_mig_event {
    int64_t migration_id;
    int64_t ts_ms;
    char phase[STORE_MIG_PHASE_MAX];
    char detail[STORE_MIG_DETAIL_MAX];
};

enum store_mig_rate_kind {
    STORE_RATE_INITIAL,
    STORE_RATE_DELTA,
    STORE_RATE_RESTORE,
    STORE_RATE_FIXED, /* seconds, not GB per minute */
};
#define STORE_RATE_KINDS 4
const char *store_mig_rate_kind_name(enum store_mig_rate_kind k); /* "initial", ... */

struct store_mig_rate_sample {
    enum store_mig_rate_kind kind;
    double gb_per_min; /* finite, > 0; STORE_RATE_FIXED: seconds, finite, >= 0 */
};

/* What a save does besides writing the row, in the same transaction. */
struct store_mig_save_extra {
    const char *event; /* an event of the row's (new) phase; NULL = none */
    bool release_hold; /* the hold (peer, reservation) ends: released at updated_ms */
    struct store_mig_rate_sample rates[2];
    size_t nrates;
    double rate_alpha; /* the EWMA's weight of a new sample, (0, 1] */
};

/* Records m (id, created_ms and the state as given; phase as given,
 * usually "reserved") and its hold in one durable transaction: hold NULL
 * confirms the active hold (m->peer, m->reservation), which must exist
 * (else STORE_NOT_FOUND); a non-NULL hold is inserted as confirmed (a
 * manual migration). event (NULL: none) is its first event. *id gets
 * the new id. Returns 0, STORE_CONFLICT when the workload already has an
 * active migration, STORE_NOT_FOUND, or -1. */
int store_mig_create(struct store *s, const struct store_mig *m, const struct store_hold *hold,
                     const char *event, int64_t *id, char *err, size_t errlen);

/* Writes m's state (every column but abort_*), with extra (NULL: none),
 * in one durable transaction. Returns 0, STORE_NOT_FOUND, or -1. */
int store_mig_save(struct store *s, const struct store_mig *m,
                   const struct store_mig_save_extra *extra, char *err, size_t errlen);

/* One migration: 0, STORE_NOT_FOUND, or -1. */
int store_mig_get(struct store *s, int64_t id, struct store_mig *out, char *err, size_t errlen);

/* Migrations newest first, at most limit (0: no limit). active_only: only
 * those without a result. *rows is a new array (free()). */
int store_mig_list(struct store *s, bool active_only, size_t limit, struct store_mig **rows,
                   size_t *n, char *err, size_t errlen);

/* The migrations core/migrator.c still has work for, oldest first: no
 * result yet, or done with the source namespace not yet deleted. */
int store_mig_pending(struct store *s, struct store_mig **rows, size_t *n, char *err,
                      size_t errlen);

/* Workloads that placement must not choose: an active migration, or a
 * done one whose source is still kept. *names is a new array of new
 * strings (store_mig_names_free). */
int store_mig_busy(struct store *s, char ***names, size_t *n, char *err, size_t errlen);
void store_mig_names_free(char **names, size_t n);

/* A migration that ended done, for what other modules need of the moves
 * this site made (the rebalance's homes, an import taking back a kept
 * source): strings owned by the row. */
struct store_mig_move {
    int64_t id;
    char *workload, *namespace_, *peer;
    int64_t ended_ms;
    bool source_kept; /* its source namespace is still kept here (not deleted) */
};
/* Every migration that ended done, oldest first; free with
 * store_mig_moves_free. */
int store_mig_moves(struct store *s, struct store_mig_move **rows, size_t *n, char *err,
                    size_t errlen);
void store_mig_moves_free(struct store_mig_move *rows, size_t n);

/* Asks migration id to roll back: sets abort_requested (and abort_by)
 * when it has no result yet and traffic has not been switched to the
 * peer. Returns 0, STORE_NOT_FOUND, STORE_CONFLICT (ended, or already cut
 * over: *why, size whylen, says which), or -1. */
int store_mig_abort(struct store *s, int64_t id, const char *actor, int64_t now_ms, char *why,
                    size_t whylen, char *err, size_t errlen);

/* Events of migration id, oldest first (at most limit; 0: all). */
int store_mig_events(struct store *s, int64_t id, size_t limit, struct store_mig_event **rows,
                     size_t *n, char *err, size_t errlen);

/* How the reason of a rollback begins when store_mig_abort started it
 * (migrator/mig_phase.c writes "aborted by ACTOR"). A fault can start a
 * rollback in the tick an abort is asked: abort_requested is then set
 * and the reason is the fault's, and it is not an abort. */
#define STORE_MIG_ABORT_REASON "aborted by "

/* m rolls back, or rolled back, because of the abort asked of it:
 * abort_requested and its rollback's reason is the abort's. */
bool store_mig_aborted(const struct store_mig *m);

/* Counts for /metrics: each() per result ("done", "rolled-back",
 * "failed", and "aborted" for a rollback that store_mig_abort started
 * (store_mig_aborted), which "rolled-back" then leaves out: a fault and
 * an operator's choice are told apart) with the number of migrations
 * that ended so. */
int store_mig_counts(struct store *s, void (*each)(void *ctx, const char *result, int64_t n),
                     void *ctx, char *err, size_t errlen);
/* The downtime (seconds) of every migration that ended done with a
 * known downtime, in id order; *out a new array (free()). */
int store_mig_downtimes(struct store *s, double **out, size_t *n, char *err, size_t errlen);
/* Migrations without a result. */
int store_mig_active_count(struct store *s, int64_t *n, char *err, size_t errlen);

/* The moving averages of peer (NAN where there are no samples yet);
 * samples[k] how many went in. */
struct store_mig_rates {
    double gb_per_min[STORE_RATE_KINDS];
    int64_t samples[STORE_RATE_KINDS];
};
int store_mig_rates(struct store *s, const char *peer, struct store_mig_rates *out, char *err,
                    size_t errlen);
/* The averages over every peer (each kind: the mean of the peers that
 * have one; NAN when none). */
int store_mig_rates_all(struct store *s, struct store_mig_rates *out, char *err, size_t errlen);

#endif
