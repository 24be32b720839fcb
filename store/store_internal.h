/*
 * store_internal — what the store's files (store.c, store_records.c,
 * store_resv.c, store_tally.c, ...) share:
 * the store's struct and its error helper. Not for any other module: the
 * rest of the agent sees only store.h and store_resv.h.
 */
#ifndef FLOE_STORE_INTERNAL_H
#define FLOE_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_codec.h"

/* Open-addressing hash map from metric name to metric.id, so a batch of
 * samples does not look names up in SQLite once per sample. */
struct store_id_slot {
    char *name; /* NULL: empty slot */
    size_t len;
    uint64_t hash;
    int64_t id;
};

struct store_ids {
    struct store_id_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t used;
};

struct store {
    char *path;

    pthread_mutex_t write_lock; /* guards writer, its statements and ids */
    sqlite3 *writer;
    sqlite3_stmt *begin, *commit, *rollback;
    sqlite3_stmt *metric_find, *metric_add;
    sqlite3_stmt *log_add, *count_add;
    sqlite3_stmt *metric_ids, *retention_chunk;
    struct store_ids ids;
    /* What compaction can skip without opening a transaction (write_lock):
     * the newest t_max in sample_log (once a compaction has read it, kept
     * by each write after), and the minute boundary below which the last
     * complete compaction left nothing. A write of samples older than that
     * boundary (late samples) forgets it, so they are compacted at once. */
    int64_t log_newest, compacted_close;
    bool log_newest_known, compacted_known;

    pthread_mutex_t read_lock; /* guards reader and its statements */
    sqlite3 *reader;
    sqlite3_stmt *count_get;
    struct store_tier_read *tiers; /* the reader's statements (store_tier.c) */

    /* +1 each time write_lock is let go (store_write_unlock), so after
     * every commit: store_generation() tells readers that cache what they
     * read when to read again. */
    atomic_uint_fast64_t generation;

    /* Decision counts per (kind, status) for store_decision_counts
     * (store_records.c): read from the tables once, under write_lock, then
     * kept by the two functions that write decisions, in the same
     * write_lock as their commit. counts_lock guards the array; taken
     * after write_lock, never before it. */
    pthread_mutex_t counts_lock;
    struct store_decision_tally *tally;
    size_t ntally, tally_cap;
    bool tally_loaded;
};

/* Releases write_lock after a write (or an attempt): every writer lets it
 * go through here, so store_generation() counts every commit. */
static inline void store_write_unlock(struct store *s)
{
    atomic_fetch_add_explicit(&s->generation, 1, memory_order_release);
    pthread_mutex_unlock(&s->write_lock);
}

/* The decision counts (store_tally.c). One (kind, status) pair: */
struct store_decision_tally {
    char *kind, *status;
    int64_t entered, now_in;
};
/* Frees the counts and marks them unread. counts_lock held (or the store
 * closing). */
void store_tally_free(struct store *s);
/* Adds to the counts of (kind, status), keeping the array in (kind,
 * status) order. counts_lock held. -1 when out of memory. */
int store_tally_add_locked(struct store *s, const char *kind, const char *status,
                           int64_t entered, int64_t now_in);
/* A copy of the counts with strings of its own, for reading without the
 * lock; store_tally_copy_free frees it (also after a failed copy). */
struct store_tally_copy {
    struct store_decision_tally *rows;
    size_t n;
};
int store_tally_copy_locked(struct store *s, struct store_tally_copy *out, char *err,
                            size_t errlen);
void store_tally_copy_free(struct store_tally_copy *copy);

struct store_tier_read;

/* store_tier.c: the statements that read the tiers on db (a reader
 * connection, or a read-only one of an older file: statements of tables
 * it lacks are left out). NULL with err filled when out of memory or a
 * statement of a table that exists fails to prepare. */
struct store_tier_read *store_tier_read_new(sqlite3 *db, const char *path, char *err,
                                            size_t errlen);
void store_tier_read_free(struct store_tier_read *t);

/* Good samples summarised: a rollup row, a policy's window
 * (store_compact.c). Fields other than n mean something only when n > 0. */
struct store_roll {
    int64_t n;
    double sum, min, max;
    int64_t first_ts, last_ts;
    double first, last;
};
void store_roll_add(struct store_roll *r, int64_t ts, double v);
void store_roll_merge(struct store_roll *a, const struct store_roll *b);
/* The columns STORE_ROLL_COLS of st's row from col on, and back. */
#define STORE_ROLL_COLS "n, vmin, vsum, vmax, first_ts, first, last_ts, last"
struct store_roll store_roll_columns(sqlite3_stmt *st, int col);
void store_roll_bind(sqlite3_stmt *st, int col, const struct store_roll *r);

/* A rollup and its place in a pack (store_codec.h), both ways. */
static inline struct store_roll store_roll_of_pack(const struct store_pack_roll *p)
{
    return (struct store_roll){p->n,        p->sum,     p->min,   p->max,
                               p->first_ts, p->last_ts, p->first, p->last};
}
static inline struct store_pack_roll store_pack_of_roll(int64_t bucket, const struct store_roll *r)
{
    return (struct store_pack_roll){bucket,      r->n,       r->sum,   r->min, r->max,
                                    r->first_ts, r->last_ts, r->first, r->last};
}
/* The minutes of an hour in a pack of rollup_minute_pack. */
#define STORE_PACK_MINUTES 60

/* store.c: deletes the samples of the legacy table `sample` older than
 * cutoff_ms, in chunks, each in its own transaction (writer lock taken
 * per chunk); *deleted (may be NULL) gets the count. */
int store_legacy_retention(struct store *s, int64_t cutoff_ms, int64_t *deleted, char *err,
                           size_t errlen);

/* Formats "PATH: what: sqlite message" into err; returns -1. */
int store_fail(const struct store *s, sqlite3 *db, const char *what, char *err, size_t errlen);

/* Prepares sql on db (a statement the caller finalizes), or NULL with
 * err filled. For the record tables, whose statements are prepared per
 * call. */
sqlite3_stmt *store_prepare(const struct store *s, sqlite3 *db, const char *sql, char *err,
                            size_t errlen);

/* A transaction synced to disk at commit (synchronous=FULL), for
 * promises to other sites and migration steps; `what` prefixes errors.
 * store_end_durable commits (commit true) or rolls back, then goes back
 * to NORMAL. Called with write_lock held. */
int store_begin_durable(struct store *s, const char *what, char *err, size_t errlen);
int store_end_durable(struct store *s, bool commit, const char *what, char *err, size_t errlen);

/* Schema migration 2, defined in store_records.c's terms. */
#define STORE_RECORDS_SCHEMA                                                                       \
    "CREATE TABLE decision ("                                                                      \
    "  id     INTEGER PRIMARY KEY AUTOINCREMENT,"                                                  \
    "  ts_ms  INTEGER NOT NULL,"                                                                   \
    "  policy TEXT NOT NULL,"                                                                      \
    "  kind   TEXT NOT NULL,"                                                                      \
    "  status TEXT NOT NULL,"                                                                      \
    "  body   TEXT NOT NULL"                                                                       \
    ");"                                                                                           \
    "CREATE INDEX decision_ts ON decision(ts_ms);"                                                 \
    "CREATE INDEX decision_policy ON decision(policy, id);"                                        \
    "CREATE TABLE policy ("                                                                        \
    "  name       TEXT PRIMARY KEY NOT NULL,"                                                      \
    "  body       TEXT NOT NULL,"                                                                  \
    "  updated_ms INTEGER NOT NULL,"                                                               \
    "  updated_by TEXT NOT NULL"                                                                   \
    ") WITHOUT ROWID;"                                                                             \
    "CREATE TABLE policy_state ("                                                                  \
    "  name TEXT PRIMARY KEY NOT NULL,"                                                            \
    "  body TEXT NOT NULL"                                                                         \
    ") WITHOUT ROWID;"                                                                             \
    "CREATE TABLE audit ("                                                                         \
    "  id     INTEGER PRIMARY KEY AUTOINCREMENT,"                                                  \
    "  ts_ms  INTEGER NOT NULL,"                                                                   \
    "  actor  TEXT NOT NULL,"                                                                      \
    "  action TEXT NOT NULL,"                                                                      \
    "  target TEXT NOT NULL,"                                                                      \
    "  detail TEXT"                                                                                \
    ");"

/* Schema migration 3: the reservation book (store_resv.c). expires_ms is
 * the end of the TTL; confirmed_ms, ended_ms and ended_by stay NULL until
 * those happen. The index serves the active sum and the expiry sweep. */
#define STORE_RESV_SCHEMA                                                                          \
    "CREATE TABLE reservation ("                                                                   \
    "  id           TEXT PRIMARY KEY NOT NULL,"                                                    \
    "  from_site    TEXT NOT NULL,"                                                                \
    "  workload     TEXT NOT NULL,"                                                                \
    "  kw           REAL NOT NULL,"                                                                \
    "  granted_by   TEXT NOT NULL,"                                                                \
    "  created_ms   INTEGER NOT NULL,"                                                             \
    "  expires_ms   INTEGER NOT NULL,"                                                             \
    "  confirmed_ms INTEGER,"                                                                      \
    "  state        TEXT NOT NULL CHECK (state IN ('active', 'released', 'expired')),"             \
    "  ended_ms     INTEGER,"                                                                      \
    "  ended_by     TEXT"                                                                          \
    ") WITHOUT ROWID;"                                                                             \
    "CREATE INDEX reservation_state ON reservation(state, expires_ms);"

/* Schema migration 4, defined in store_hold.c's terms. */
#define STORE_HOLD_SCHEMA                                                                          \
    "CREATE TABLE hold ("                                                                          \
    "  peer        TEXT NOT NULL,"                                                                 \
    "  id          TEXT NOT NULL,"                                                                 \
    "  workload    TEXT NOT NULL,"                                                                 \
    "  namespace   TEXT NOT NULL,"                                                                 \
    "  kw          REAL NOT NULL,"                                                                 \
    "  decision_id INTEGER NOT NULL,"                                                              \
    "  created_ms  INTEGER NOT NULL,"                                                              \
    "  expires_ms  INTEGER NOT NULL,"                                                              \
    "  state       TEXT NOT NULL CHECK (state IN ('active', 'released')),"                         \
    "  ended_ms    INTEGER,"                                                                       \
    "  PRIMARY KEY (peer, id)"                                                                     \
    ") WITHOUT ROWID;"                                                                             \
    "CREATE INDEX hold_state ON hold(state, expires_ms);"

/* Schema migration 5, defined in store_mig.c's terms: migrations, their
 * events and the per-peer rates; holds gain the state 'confirmed' (SQLite
 * cannot change a CHECK constraint in place, so the table is rebuilt).
 * result is NULL while a migration runs: the partial unique index keeps
 * one running migration per workload. */
#define STORE_MIG_SCHEMA                                                                           \
    "CREATE TABLE migration ("                                                                     \
    "  id                   INTEGER PRIMARY KEY AUTOINCREMENT,"                                    \
    "  workload             TEXT NOT NULL,"                                                        \
    "  namespace            TEXT NOT NULL,"                                                        \
    "  peer                 TEXT NOT NULL,"                                                        \
    "  reservation          TEXT NOT NULL,"                                                        \
    "  hold_expires_ms      INTEGER NOT NULL DEFAULT 0,"                                           \
    "  decision_id          INTEGER NOT NULL,"                                                     \
    "  kw                   REAL NOT NULL,"                                                        \
    "  stateless            INTEGER NOT NULL,"                                                     \
    "  data_gb              REAL NOT NULL,"                                                        \
    "  hostname             TEXT NOT NULL,"                                                        \
    "  quiesce              TEXT NOT NULL,"                                                        \
    "  phase                TEXT NOT NULL,"                                                        \
    "  step                 INTEGER NOT NULL,"                                                     \
    "  result               TEXT CHECK (result IN ('done', 'rolled-back', 'failed')),"             \
    "  created_ms           INTEGER NOT NULL,"                                                     \
    "  updated_ms           INTEGER NOT NULL,"                                                     \
    "  ended_ms             INTEGER NOT NULL,"                                                     \
    "  phase_started_ms     INTEGER NOT NULL,"                                                     \
    "  step_started_ms      INTEGER NOT NULL,"                                                     \
    "  retry_at_ms          INTEGER NOT NULL,"                                                     \
    "  seq                  INTEGER NOT NULL,"                                                     \
    "  backup               TEXT NOT NULL,"                                                        \
    "  backup_started_ms    INTEGER NOT NULL,"                                                     \
    "  last_backup          TEXT NOT NULL,"                                                        \
    "  last_backup_partial  INTEGER NOT NULL,"                                                     \
    "  last_backup_s        REAL NOT NULL,"                                                        \
    "  deltas               INTEGER NOT NULL,"                                                     \
    "  prev_delta_s         REAL NOT NULL,"                                                        \
    "  last_delta_gb        REAL,"                                                                 \
    "  next_backup_ms       INTEGER NOT NULL,"                                                     \
    "  attempts             INTEGER NOT NULL,"                                                     \
    "  import_id            TEXT NOT NULL,"                                                        \
    "  import_requested     INTEGER NOT NULL,"                                                     \
    "  prestage_backup      TEXT NOT NULL,"                                                        \
    "  prestage_id          TEXT NOT NULL,"                                                        \
    "  prestage_state       TEXT NOT NULL CHECK (prestage_state IN ('', 'requested', 'ready',"     \
    "                         'dropped')),"                                                        \
    "  prestage_started_ms  INTEGER NOT NULL,"                                                     \
    "  replicas             TEXT NOT NULL,"                                                        \
    "  replicas_recorded    INTEGER NOT NULL,"                                                     \
    "  scaled               INTEGER NOT NULL,"                                                     \
    "  quiesced             INTEGER NOT NULL,"                                                     \
    "  data_mover           INTEGER NOT NULL DEFAULT 0,"                                           \
    "  downtime_start_ms    INTEGER NOT NULL,"                                                     \
    "  downtime_s           REAL,"                                                                 \
    "  estimated_downtime_s REAL,"                                                                 \
    "  bytes                REAL NOT NULL,"                                                        \
    "  precopy_s            REAL NOT NULL,"                                                        \
    "  delta_s              REAL NOT NULL,"                                                        \
    "  switchover_s         REAL NOT NULL,"                                                        \
    "  restoring_s          REAL NOT NULL,"                                                        \
    "  restore_s            REAL,"                                                                 \
    "  cutover_s            REAL NOT NULL,"                                                        \
    "  error                TEXT NOT NULL,"                                                        \
    "  rollback_from        TEXT NOT NULL,"                                                        \
    "  reason               TEXT NOT NULL,"                                                        \
    "  traffic_switched_ms  INTEGER NOT NULL,"                                                     \
    "  released_ms          INTEGER NOT NULL,"                                                     \
    "  retain_until_ms      INTEGER NOT NULL,"                                                     \
    "  source_deleted_ms    INTEGER NOT NULL,"                                                     \
    "  abort_requested      INTEGER NOT NULL DEFAULT 0,"                                           \
    "  abort_by             TEXT NOT NULL DEFAULT ''"                                              \
    ");"                                                                                           \
    "CREATE UNIQUE INDEX migration_running ON migration(workload) WHERE result IS NULL;"           \
    "CREATE TABLE migration_event ("                                                               \
    "  id           INTEGER PRIMARY KEY AUTOINCREMENT,"                                            \
    "  migration_id INTEGER NOT NULL REFERENCES migration(id),"                                    \
    "  ts_ms        INTEGER NOT NULL,"                                                             \
    "  phase        TEXT NOT NULL,"                                                                \
    "  detail       TEXT NOT NULL"                                                                 \
    ");"                                                                                           \
    "CREATE INDEX migration_event_of ON migration_event(migration_id, id);"                        \
    "CREATE TABLE migration_rate ("                                                                \
    "  peer       TEXT NOT NULL,"                                                                  \
    "  kind       TEXT NOT NULL CHECK (kind IN ('initial', 'delta', 'restore', 'fixed')),"         \
    "  gb_per_min REAL NOT NULL,"                                                                  \
    "  samples    INTEGER NOT NULL,"                                                               \
    "  updated_ms INTEGER NOT NULL,"                                                               \
    "  PRIMARY KEY (peer, kind)"                                                                   \
    ") WITHOUT ROWID;"                                                                             \
    "CREATE TABLE hold_5 ("                                                                        \
    "  peer        TEXT NOT NULL,"                                                                 \
    "  id          TEXT NOT NULL,"                                                                 \
    "  workload    TEXT NOT NULL,"                                                                 \
    "  namespace   TEXT NOT NULL,"                                                                 \
    "  kw          REAL NOT NULL,"                                                                 \
    "  decision_id INTEGER NOT NULL,"                                                              \
    "  created_ms  INTEGER NOT NULL,"                                                              \
    "  expires_ms  INTEGER NOT NULL,"                                                              \
    "  state       TEXT NOT NULL CHECK (state IN ('active', 'confirmed', 'released')),"            \
    "  ended_ms    INTEGER,"                                                                       \
    "  PRIMARY KEY (peer, id)"                                                                     \
    ") WITHOUT ROWID;"                                                                             \
    "INSERT INTO hold_5 SELECT peer, id, workload, namespace, kw, decision_id, created_ms,"        \
    "  expires_ms, state, ended_ms FROM hold;"                                                     \
    "DROP TABLE hold;"                                                                             \
    "ALTER TABLE hold_5 RENAME TO hold;"                                                           \
    "CREATE INDEX hold_state ON hold(state, expires_ms);"
/* Schema migration 6, defined in store_import.c's terms: imports run here
 * for peers, and their events. backup is unique: one Backup object of
 * this cluster is imported once. rev is the row's revision
 * (store_import_save writes over the one it read). */
#define STORE_IMPORT_SCHEMA                                                                        \
    "CREATE TABLE import ("                                                                        \
    "  id                 INTEGER PRIMARY KEY,"                                                    \
    "  reservation        TEXT NOT NULL,"                                                          \
    "  from_site          TEXT NOT NULL,"                                                          \
    "  workload           TEXT NOT NULL,"                                                          \
    "  namespace          TEXT NOT NULL,"                                                          \
    "  backup             TEXT NOT NULL UNIQUE,"                                                   \
    "  stateless          INTEGER NOT NULL,"                                                       \
    "  incremental        INTEGER NOT NULL,"                                                       \
    "  prestage           INTEGER NOT NULL,"                                                       \
    "  replicas           TEXT NOT NULL,"                                                          \
    "  phase              TEXT NOT NULL CHECK (phase IN ('waiting-backup', 'restoring',"           \
    "                       'starting', 'ready', 'failed')),"                                      \
    "  error              TEXT,"                                                                   \
    "  seq                INTEGER NOT NULL DEFAULT 0,"                                             \
    "  restore            TEXT,"                                                                   \
    "  attempts           INTEGER NOT NULL DEFAULT 0,"                                             \
    "  owns_namespace     INTEGER NOT NULL DEFAULT 0,"                                             \
    "  cleaning           INTEGER NOT NULL DEFAULT 0,"                                             \
    "  cleanup            TEXT NOT NULL DEFAULT 'none'"                                            \
    "                       CHECK (cleanup IN ('none', 'pending', 'done')),"                       \
    "  partial            INTEGER NOT NULL DEFAULT 0,"                                             \
    "  dropped_by         TEXT,"                                                                   \
    "  created_ms         INTEGER NOT NULL,"                                                       \
    "  updated_ms         INTEGER NOT NULL,"                                                       \
    "  phase_ms           INTEGER NOT NULL,"                                                       \
    "  ended_ms           INTEGER,"                                                                \
    "  ready_ms           INTEGER,"                                                                \
    "  restore_started_ms INTEGER,"                                                                \
    "  restore_s          REAL,"                                                                   \
    "  restored_bytes     REAL,"                                                                   \
    "  rev                INTEGER NOT NULL DEFAULT 0"                                              \
    ");"                                                                                           \
    "CREATE INDEX import_namespace ON import(namespace, phase);"                                   \
    "CREATE TABLE import_event ("                                                                  \
    "  id        INTEGER PRIMARY KEY AUTOINCREMENT,"                                               \
    "  import_id INTEGER NOT NULL REFERENCES import(id),"                                           \
    "  ts_ms     INTEGER NOT NULL,"                                                                \
    "  phase     TEXT NOT NULL,"                                                                   \
    "  detail    TEXT NOT NULL"                                                                    \
    ");"                                                                                           \
    "CREATE INDEX import_event_import ON import_event(import_id, id);"

/* The home an import's sender gave (POST /v1/imports "home"; NULL: the
 * sender is the workload's home). */
#define STORE_IMPORT_HOME_SCHEMA "ALTER TABLE import ADD COLUMN home TEXT;"

/* Schema migration 8, defined in store_tier.c's terms: time-major tables,
 * so that writes append at the right end of their B-trees.
 *   sample_log     one row per recorder batch (store_codec.h 'L' blob);
 *                  the crash-safe buffer of the newest raw samples
 *   raw_chunk      one row per metric per closed minute ('C' blob)
 *   rollup_minute  per metric per minute: count, min, sum, max, first and
 *                  last good sample (delta and rate need them)
 *   rollup_hour    the same per hour, folded from rollup_minute
 * The legacy table `sample` (schemas 1-7) stays as a read-only raw source:
 * its history is folded into the rollups here, and retention empties it by
 * the raw window. meta: 'hour_next' is the first hour not yet folded into
 * rollup_hour (NULL: none); 'raw_from' and 'minute_from' are where the raw
 * and minute tiers begin after retention (NULL: they hold everything). */
/* The SQL text formats best by hand: keep the formatter out. */
// clang-format off
#define STORE_FLOOR(ts, width) "((" ts ") - ((" ts ") % " width " + " width ") % " width ")"
#define STORE_ROLLUP_COLUMNS                                                                       \
    "  bucket    INTEGER NOT NULL,"                                                                \
    "  metric_id INTEGER NOT NULL,"                                                                \
    "  n         INTEGER NOT NULL,"                                                                \
    "  vmin      REAL NOT NULL,"                                                                   \
    "  vsum      REAL NOT NULL,"                                                                   \
    "  vmax      REAL NOT NULL,"                                                                   \
    "  first_ts  INTEGER NOT NULL,"                                                                \
    "  first     REAL NOT NULL,"                                                                   \
    "  last_ts   INTEGER NOT NULL,"                                                                \
    "  last      REAL NOT NULL,"                                                                   \
    "  PRIMARY KEY (bucket, metric_id)"
#define STORE_TIERS_SCHEMA                                                                         \
    "CREATE TABLE sample_log ("                                                                    \
    "  id    INTEGER PRIMARY KEY,"                                                                 \
    "  t_min INTEGER NOT NULL,"                                                                    \
    "  t_max INTEGER NOT NULL,"                                                                    \
    "  n     INTEGER NOT NULL,"                                                                    \
    "  data  BLOB NOT NULL"                                                                        \
    ");"                                                                                           \
    "CREATE TABLE raw_chunk ("                                                                     \
    "  bucket    INTEGER NOT NULL,"                                                                \
    "  metric_id INTEGER NOT NULL,"                                                                \
    "  n         INTEGER NOT NULL,"                                                                \
    "  data      BLOB NOT NULL,"                                                                   \
    "  PRIMARY KEY (bucket, metric_id)"                                                            \
    ") WITHOUT ROWID;"                                                                             \
    "CREATE TABLE rollup_minute (" STORE_ROLLUP_COLUMNS ") WITHOUT ROWID;"                         \
    "CREATE TABLE rollup_hour (" STORE_ROLLUP_COLUMNS ") WITHOUT ROWID;"                           \
    "INSERT INTO rollup_minute"                                                                    \
    " SELECT g.bucket, g.metric_id, g.n, g.vmin, g.vsum, g.vmax,"                                  \
    "   g.first_ts,"                                                                               \
    "   (SELECT value FROM sample WHERE metric_id = g.metric_id AND ts_ms = g.first_ts),"          \
    "   g.last_ts,"                                                                                \
    "   (SELECT value FROM sample WHERE metric_id = g.metric_id AND ts_ms = g.last_ts)"            \
    " FROM (SELECT metric_id, " STORE_FLOOR("ts_ms", "60000") " AS bucket, count(*) AS n,"        \
    "         min(value) AS vmin, sum(value) AS vsum, max(value) AS vmax,"                         \
    "         min(ts_ms) AS first_ts, max(ts_ms) AS last_ts"                                       \
    "       FROM sample WHERE value IS NOT NULL GROUP BY metric_id, bucket) g;"                    \
    "INSERT INTO rollup_hour"                                                                      \
    " SELECT g.hour, g.metric_id, g.n, g.vmin, g.vsum, g.vmax, g.first_ts,"                        \
    "   (SELECT first FROM rollup_minute WHERE bucket = " STORE_FLOOR("g.first_ts", "60000")       \
    "     AND metric_id = g.metric_id), g.last_ts,"                                                \
    "   (SELECT last FROM rollup_minute WHERE bucket = " STORE_FLOOR("g.last_ts", "60000")         \
    "     AND metric_id = g.metric_id)"                                                            \
    " FROM (SELECT metric_id, " STORE_FLOOR("bucket", "3600000") " AS hour, sum(n) AS n,"         \
    "         min(vmin) AS vmin, sum(vsum) AS vsum, max(vmax) AS vmax,"                            \
    "         min(first_ts) AS first_ts, max(last_ts) AS last_ts"                                  \
    "       FROM rollup_minute GROUP BY metric_id, hour) g;"                                       \
    "INSERT INTO meta(key, value) SELECT 'hour_next', max(bucket) FROM rollup_hour;"               \
    "INSERT INTO meta(key, value) VALUES ('raw_from', NULL), ('minute_from', NULL);"
// clang-format on

/* Schema migration 9: rollup_minute_pack holds, per (hour, metric), the
 * minute rollups of a folded hour in one store_codec 'R' blob (about 20
 * bytes a minute against 85 for a rollup_minute row). The fold of an hour
 * writes its packs and deletes its rollup_minute rows in one transaction;
 * rollup_minute keeps the hours not yet folded, and a late minute of a
 * folded hour until the same compaction refolds and repacks it. Rows of
 * hours that schema 8 had folded are packed by later compactions, a few
 * hours each (SQL cannot encode the blobs); until then they are read as
 * they are. A rowid table, not WITHOUT ROWID: a pack of 1-2 KiB would
 * spill into an overflow page of its own in a WITHOUT ROWID b-tree (whose
 * rows stay inline only up to about a quarter of a page). */
#define STORE_PACK_SCHEMA                                                                          \
    "CREATE TABLE rollup_minute_pack ("                                                            \
    "  bucket    INTEGER NOT NULL,"                                                                \
    "  metric_id INTEGER NOT NULL,"                                                                \
    "  data      BLOB NOT NULL,"                                                                   \
    "  UNIQUE (bucket, metric_id)"                                                                 \
    ");"

#endif
