/*
 * store — the agent's SQLite database: telemetry history now; decisions,
 * policies, migrations and the audit log as later steps add them. The
 * reservation book has its own header, store/store_resv.h.
 *
 * WAL mode, synchronous=NORMAL: a crash (kill -9, power loss of the agent
 * process) loses at most the batch being written, never the file.
 * The schema version lives in PRAGMA user_version; store_open applies the
 * forward migrations in order inside one transaction each, and refuses a
 * database newer than this binary knows.
 *
 * All functions are safe to call from several threads: writes go through
 * one connection under a mutex, reads through a second connection (WAL
 * readers do not block the writer).
 */
#ifndef FLOE_STORE_H
#define FLOE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


/* Longest metric name, with its NUL. */
#define METRIC_NAME_MAX 200

/* One sample as the store keeps it: the live metrics table queues these
 * and the recorder drains them into store_write_samples. */
struct metric_sample {
    char name[METRIC_NAME_MAX];
    int64_t ts_ms;
    double value;
    bool ok;                    /* false: a failed read at ts_ms (value NaN) */
};

struct store;

/* Opens (creating if needed) the database at path, creating missing parent
 * directories is NOT done (systemd's StateDirectory does it). Returns 0 and
 * *out, or -1 with err filled. */
int store_open(struct store **out, const char *path, char *err, size_t errlen);
void store_close(struct store *s);

/* Schema version this binary writes. */
int store_schema_version(void);

/* Writes samples in one transaction, as one row of the raw log. Failed
 * reads (ok == false) are kept as such so history shows the gap; a later
 * write of the same metric and time replaces the value. */
int store_write_samples(struct store *s, const struct metric_sample *samples, size_t n, char *err,
                        size_t errlen);

/* ---- tiers (store_tier.c) ----
 * History is kept in three tiers: raw samples (the log of recent batches
 * and one chunk per metric per minute), per-minute rollups and per-hour
 * rollups (count, min, sum, max, first and last good sample). Compaction
 * turns closed minutes of the log into chunks and minute rollups, and
 * closed hours into hour rollups; retention drops each tier on its own
 * horizon. Reads take each part of the range from the finest tier that
 * still covers it: raw after the raw horizon, minute rollups between the
 * two horizons, hour rollups before; a rollup row counts as its samples
 * all at its bucket start. */

#define STORE_MINUTE_MS 60000
#define STORE_HOUR_MS 3600000
/* A minute closes this long after the newest sample's time has passed
 * its end, so the late samples of a slow poll land in it rather than in a
 * chunk of their own (they would still be merged correctly). */
#define STORE_COMPACT_GRACE_MS 10000

/* Compacts every closed minute of the log (in transactions of at most a
 * few hundred batches, the writer lock released between them) and folds
 * every closed hour. Times come from the samples, not from a clock: a
 * minute is closed when it ends at or before the newest sample's time
 * minus grace_ms (a negative grace closes the newest minutes too: tests,
 * and a bench's final flush). A
 * crash at any point loses nothing: each step is one transaction that
 * moves samples and deletes their log rows together. *rows (may be NULL)
 * gets the number of log rows compacted. Returns 0 or -1. */
int store_compact(struct store *s, int64_t grace_ms, int64_t *rows, char *err, size_t errlen);

/* Per tier, the time before which its data is deleted (INT64_MIN: none),
 * rounded down to the tier's bucket. Raw data is deleted only where the
 * minute rollups hold it, minute rollups only where the hour rollups do. */
struct store_retention {
    int64_t raw_before_ms, minute_before_ms, hour_before_ms;
};

/* Applies retention to every tier; *deleted (may be NULL) gets the number
 * of raw samples removed. Chunks of work each in their own transaction. */
int store_apply_retention(struct store *s, const struct store_retention *r, int64_t *deleted,
                          char *err, size_t errlen);

struct store_point {
    int64_t ts_ms;
    double value;
};

/* History of one metric in [since_ms, until_ms]. step_ms == 0: every good
 * raw sample, and one point per rollup row (its mean, at its bucket
 * start) where the range reaches into the rollup tiers; step_ms > 0: one
 * point per step bucket that has good samples, the mean of the bucket,
 * stamped with the bucket start (aligned to multiples of step_ms since
 * the epoch). At most max_points points (the earliest ones). *out is a
 * new array (caller frees), *n its length. */
int store_query(struct store *s, const char *metric, int64_t since_ms, int64_t until_ms,
                int64_t step_ms, size_t max_points, struct store_point **out, size_t *n, char *err,
                size_t errlen);

/* A number that grows after every write to the store commits (samples,
 * records, reservations, migrations, imports). Read it before reading
 * the store: equal numbers later mean nothing was written since, so what
 * was read then still holds. Lock-free. */
uint64_t store_generation(struct store *s);

/* Raw samples held (the log, the chunks and the legacy table, failed reads
 * included; for tests and /v1/status). */
int64_t store_sample_count(struct store *s);

/* Summary of the good samples of metric with since_ms <= ts <= until_ms
 * across the tiers (the policy language's history functions read these).
 * Fields other than n are set only when n > 0. */
struct store_window {
    size_t n;
    double sum, min, max;
    int64_t first_ms, last_ms;
    double first, last;
};
int store_window(struct store *s, const char *metric, int64_t since_ms, int64_t until_ms,
                 struct store_window *w, char *err, size_t errlen);

/* Reads the history of every metric with from_ms <= ts <= to_ms from the
 * database file at path, opened read-only (never migrated nor written; a
 * file of any schema version from 1 on is read). Calls each() per metric
 * in time order: raw samples (value NaN: a failed read) and one sample
 * per rollup row (its mean at its bucket start) where the range reaches
 * into the rollup tiers. each() returns 0, or -1 to stop (the -1 is
 * returned, err untouched). Returns 0, or -1 with err filled. */
int store_history_read(const char *path, int64_t from_ms, int64_t to_ms,
                       int (*each)(void *ctx, const char *metric, int64_t ts_ms, double value),
                       void *ctx, char *err, size_t errlen);

/* ---- records: decisions, API-managed policies, policy states, audit ----
 * Bodies are JSON texts owned by the caller's modules (decision.c,
 * config.c); the store indexes the few columns it filters on. */

struct store_decision_row {
    int64_t id;
    int64_t ts_ms;
    char *policy, *kind, *status;
    char *body;                 /* JSON, as stored */
};
void store_decision_rows_free(struct store_decision_row *rows, size_t n);

/* Adds a decision; *id gets its id (1, 2, ... never reused). When
 * state_body is not NULL, the policy's state (store_policy_state_put) is
 * written in the same transaction, so a crash can never keep the decision
 * and lose the state that says it was made (which would decide again). */
int store_decision_add(struct store *s, int64_t ts_ms, const char *policy, const char *kind,
                       const char *status, const char *body, const char *state_body, int64_t *id,
                       char *err, size_t errlen);
/* Id of the latest decision of policy into *id (0 when none). */
int store_decision_last_id(struct store *s, const char *policy, int64_t *id, char *err,
                           size_t errlen);
/* Moves decision id from status `from` to `to`, replacing its body, and
 * writes an audit record in the same transaction. Returns 0 when done,
 * STORE_NOT_FOUND, STORE_CONFLICT when its status is not `from`, or -1. */
#define STORE_NOT_FOUND 1
#define STORE_CONFLICT 2
int store_decision_transition(struct store *s, int64_t id, const char *from, const char *to,
                              const char *body, const char *actor, int64_t ts_ms, char *err,
                              size_t errlen);
/* Decisions with ts >= since_ms, newest first, at most limit. */
int store_decisions(struct store *s, int64_t since_ms, size_t limit,
                    struct store_decision_row **rows, size_t *n, char *err, size_t errlen);
/* The same of one policy only (policy NULL: of every policy). */
int store_decisions_of(struct store *s, const char *policy, int64_t since_ms, size_t limit,
                       struct store_decision_row **rows, size_t *n, char *err, size_t errlen);
/* One decision into *row: 0 found, STORE_NOT_FOUND, or -1. Free the
 * row's strings with store_decision_row_clear. */
int store_decision_get(struct store *s, int64_t id, struct store_decision_row *row, char *err,
                       size_t errlen);
void store_decision_row_clear(struct store_decision_row *row);
/* Decisions per (kind, status), for /metrics: `entered` counts those that
 * ever entered the status (recorded with it, or moved to it by a
 * transition), so it never decreases; `now_in` those in it now. Calls
 * each() once per pair that was ever entered, in (kind, status) order.
 * The counts are read from the tables (decisions and their audit records)
 * on the first call and kept in memory after that by store_decision_add
 * and store_decision_transition, so a scrape does not read SQLite. */
int store_decision_counts(struct store *s,
                          void (*each)(void *ctx, const char *kind, const char *status,
                                       int64_t entered, int64_t now_in),
                          void *ctx, char *err, size_t errlen);

/* API-managed policies (PUT/DELETE /v1/policies/{name}), kept across
 * restarts. Each change writes an audit record in the same transaction. */
int store_policy_put(struct store *s, const char *name, const char *body, const char *actor,
                     int64_t ts_ms, char *err, size_t errlen);
/* 0 when deleted (with its saved state), STORE_NOT_FOUND, or -1. */
int store_policy_delete(struct store *s, const char *name, const char *actor, int64_t ts_ms,
                        char *err, size_t errlen);
/* Calls each() for every stored policy in name order. */
int store_policies(struct store *s, void (*each)(void *ctx, const char *name, const char *body),
                   void *ctx, char *err, size_t errlen);

/* Policy states (JSON per policy name), so a restart neither forgets a
 * firing policy nor decides again before its cooldown. */
int store_policy_state_put(struct store *s, const char *name, const char *body, char *err,
                           size_t errlen);
int store_policy_states(struct store *s,
                        void (*each)(void *ctx, const char *name, const char *body), void *ctx,
                        char *err, size_t errlen);

/* The audit log: who did what to which object. */
int store_audit_add(struct store *s, int64_t ts_ms, const char *actor, const char *action,
                    const char *target, const char *detail, char *err, size_t errlen);
struct store_audit_row {
    int64_t id, ts_ms;
    char *actor, *action, *target, *detail;
};
/* Newest first, at most limit. */
int store_audit(struct store *s, size_t limit, struct store_audit_row **rows, size_t *n, char *err,
                size_t errlen);
void store_audit_rows_free(struct store_audit_row *rows, size_t n);

#endif
