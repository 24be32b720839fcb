/*
 * store — see store.h. SQLite history of telemetry samples.
 *
 * Layout: two connections to one WAL database. The writer connection (and
 * its prepared statements and the metric-id cache) sits behind write_lock;
 * the reader connection behind read_lock. WAL lets the reader see the last
 * committed state while a batch is being written, so history queries from
 * the API never wait for the store thread.
 *
 * Schema: PRAGMA user_version counts the entries of store_migrations that
 * have been applied. Each migration runs in its own transaction together
 * with the user_version bump, so a crash mid-upgrade leaves the database at
 * the previous version, never half-migrated. To change the schema, append
 * a migration; never edit one that has shipped.
 *
 * Samples: a batch is one row of sample_log (store_codec.h), appended at
 * the end of a rowid B-tree, so a commit writes the new row's pages and
 * not one page per metric as the metric-major table `sample` of schemas
 * 1-7 did (2.3-5.8 KB written per sample). store_tier.c moves closed
 * minutes into per-minute chunks and rollups, reads history across the
 * tiers, and applies retention per tier.
 * The number of raw samples held (sample_log, raw_chunk and the legacy
 * `sample`) is kept in meta('sample_count') in the same transactions that
 * add and delete them, because counting over months of history is a full
 * scan and /v1/status asks for it often. A sample written twice (the same
 * metric and time) counts twice until compaction merges it.
 */
#include "store/store.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/util.h"
#include "lib/vec.h"
#include "store/store_codec.h"
#include "store/store_internal.h"

/* "floe" in ASCII: marks the file as ours so a mistyped store.path that
 * names another program's database is refused rather than written into. */
#define STORE_APPLICATION_ID 0x666c6f65

/* How long a connection waits for a lock held by another process (an
 * operator's sqlite3 shell, a backup) before giving up. */
#define STORE_BUSY_TIMEOUT_MS 5000

/* Rows deleted per retention statement: large enough to make progress on a
 * backlog, small enough that a batch of new samples waits only a few ms. */
#define STORE_RETENTION_CHUNK 10000

/* WAL pages between checkpoints: SQLite's default. Schemas 1-7 needed
 * 8192 because every commit rewrote one page per metric; with one log row
 * per batch, pages are rewritten rarely and the checkpoint interval hardly
 * matters. Measured with bench/store_write.c (1000 metrics at 1 s, 30 min
 * of samples): bytes written per sample 67.4 at 200 pages, 56.6 at 1000,
 * 52.3 at 4000, 51.5 at 8192 (and a 32 MiB WAL). Overridable at build
 * time (-D) for such measurements. */
#ifndef STORE_WAL_AUTOCHECKPOINT_PAGES
#define STORE_WAL_AUTOCHECKPOINT_PAGES 1000
#endif

/* The writer's page cache, in KiB: SQLite's default 2 MiB, kept on
 * purpose. Writes append at the right end of each B-tree, so the pages a
 * batch and a compaction touch are few and recent: 8 MiB wrote the same
 * 56.6 bytes per sample (bench/store_write.c). */
#ifndef STORE_CACHE_KIB
#define STORE_CACHE_KIB 2048
#endif

/* Upper bound of the WAL file kept on disk after a checkpoint resets it; a
 * large retention run would otherwise leave a WAL file that never shrinks. */
#define STORE_WAL_SIZE_LIMIT (64 * 1024 * 1024)

/* Forward migrations; entry i takes user_version i to i + 1. */
static const char *const store_migrations[] = {
    /* 1: telemetry history. metric ids are never reused while the
     * database lives (rows are not deleted), so a cached id stays valid. */
    "CREATE TABLE meta ("
    "  key   TEXT PRIMARY KEY NOT NULL,"
    "  value"
    ") WITHOUT ROWID;"
    "CREATE TABLE metric ("
    "  id   INTEGER PRIMARY KEY,"
    "  name TEXT UNIQUE NOT NULL"
    ");"
    "CREATE TABLE sample ("
    "  metric_id INTEGER NOT NULL REFERENCES metric(id),"
    "  ts_ms     INTEGER NOT NULL,"
    "  value     REAL,"
    "  PRIMARY KEY (metric_id, ts_ms)"
    ") WITHOUT ROWID;"
    "INSERT INTO meta(key, value) VALUES ('sample_count', 0);",
    /* 2: policy decisions, API-managed policies, policy states kept across
     * restarts, and the audit log (store_records.c). */
    STORE_RECORDS_SCHEMA,
    /* 3: the reservation book (store_resv.c). */
    STORE_RESV_SCHEMA,
    /* 4: the reservations this site holds at its peers (store_hold.c). */
    STORE_HOLD_SCHEMA,
    /* 5: migrations, their events and rates; confirmed holds (store_mig.c). */
    STORE_MIG_SCHEMA,
    /* 6: imports carried out here for peers (store_import.c). */
    STORE_IMPORT_SCHEMA,
    /* 7: the home an import's sender gave (store_import.c). */
    STORE_IMPORT_HOME_SCHEMA,
    /* 8: time-major telemetry tiers (store_tier.c). */
    STORE_TIERS_SCHEMA,
    /* 9: the minute rollups of folded hours packed per (hour, metric). */
    STORE_PACK_SCHEMA,
};

/* ---- metric id cache ---------------------------------------------------- */

static uint64_t store_hash(const char *name, size_t len)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The slot holding name, or the empty slot where it would go. */
static struct store_id_slot *store_ids_slot(const struct store_ids *ids, const char *name,
                                            size_t len, uint64_t hash)
{
    size_t mask = ids->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        struct store_id_slot *slot = &ids->slots[i];
        if (!slot->name)
            return slot;
        if (slot->hash == hash && slot->len == len && memcmp(slot->name, name, len) == 0)
            return slot;
    }
}

static bool store_ids_get(const struct store_ids *ids, const char *name, size_t len, uint64_t hash,
                          int64_t *id)
{
    if (ids->cap == 0)
        return false;
    const struct store_id_slot *slot = store_ids_slot(ids, name, len, hash);
    if (!slot->name)
        return false;
    *id = slot->id;
    return true;
}

static int store_ids_grow(struct store_ids *ids)
{
    size_t cap = ids->cap ? ids->cap * 2 : 256;
    struct store_id_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    struct store_ids grown = {.slots = slots, .cap = cap, .used = ids->used};
    for (size_t i = 0; i < ids->cap; i++) {
        const struct store_id_slot *old = &ids->slots[i];
        if (old->name)
            *store_ids_slot(&grown, old->name, old->len, old->hash) = *old;
    }
    free(ids->slots);
    *ids = grown;
    return 0;
}

/* Adds name -> id (name not yet present). Returns 0, or -1 out of memory. */
static int store_ids_put(struct store_ids *ids, const char *name, size_t len, uint64_t hash,
                         int64_t id)
{
    /* Keep the load under 70 % so probe sequences stay short. */
    if ((ids->used + 1) * 10 > ids->cap * 7 && store_ids_grow(ids) < 0)
        return -1;
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, name, len);
    copy[len] = '\0';
    struct store_id_slot *slot = store_ids_slot(ids, name, len, hash);
    *slot = (struct store_id_slot){.name = copy, .len = len, .hash = hash, .id = id};
    ids->used++;
    return 0;
}

/* Forgets every entry (capacity kept). */
static void store_ids_clear(struct store_ids *ids)
{
    for (size_t i = 0; i < ids->cap; i++)
        free(ids->slots[i].name);
    if (ids->cap)
        memset(ids->slots, 0, ids->cap * sizeof *ids->slots);
    ids->used = 0;
}

/* ---- small SQLite helpers ---------------------------------------------- */

/* Steps a statement once and resets it, so it never holds a transaction
 * or a read snapshot open. Returns 0 (row or done) or -1; on -1 the
 * connection's sqlite3_errmsg says why. */
static int store_run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static int store_pragma_int(sqlite3 *db, const char *pragma, int64_t *out)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA %s", pragma);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Error text for a failure on db, with a hint for the codes that mean
 * the file itself is bad rather than the operation. */
int store_fail(const struct store *s, sqlite3 *db, const char *what, char *err, size_t errlen)
{
    int code = sqlite3_errcode(db);
    const char *hint = "";
    if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
        hint = " (the file is damaged or not a database: move it aside or restore a backup)";
    return errf(err, errlen, "%s: %s: %s%s", s->path, what, sqlite3_errmsg(db), hint);
}

sqlite3_stmt *store_prepare(const struct store *s, sqlite3 *db, const char *sql, char *err,
                            size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_fail(s, db, "prepare", err, errlen);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Promises to another site (a reservation granted, a migration's next
 * step) are synced to disk before they are acted on: the store's default,
 * synchronous=NORMAL, is durable against a crash of the process but not
 * of the machine. Only these transactions pay for the fsync; telemetry
 * batches keep NORMAL. Called with write_lock held. */
int store_begin_durable(struct store *s, const char *what, char *err, size_t errlen)
{
    if (sqlite3_exec(s->writer, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->writer, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        char w[64];
        snprintf(w, sizeof w, "%s: begin", what);
        store_fail(s, s->writer, w, err, errlen);
        sqlite3_exec(s->writer, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

int store_end_durable(struct store *s, bool commit, const char *what, char *err, size_t errlen)
{
    int rc = 0;
    if (commit && sqlite3_exec(s->writer, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        char w[64];
        snprintf(w, sizeof w, "%s: commit", what);
        rc = store_fail(s, s->writer, w, err, errlen);
    }
    if (sqlite3_get_autocommit(s->writer) == 0)
        sqlite3_exec(s->writer, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_exec(s->writer, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    return rc;
}

struct store_stmt_def {
    sqlite3_stmt **stmt;
    const char *sql;
};

static int store_prepare_all(const struct store *s, sqlite3 *db, const struct store_stmt_def *defs,
                             size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (sqlite3_prepare_v3(db, defs[i].sql, -1, SQLITE_PREPARE_PERSISTENT, defs[i].stmt,
                               NULL) != SQLITE_OK)
            return store_fail(s, db, "prepare", err, errlen);
    }
    return 0;
}

/* ---- open, schema ------------------------------------------------------- */

static int store_open_failed(const char *path, sqlite3 *db, char *err, size_t errlen)
{
    int sys_errno = db ? sqlite3_system_errno(db) : 0;
    const char *msg = db ? sqlite3_errmsg(db) : "out of memory";

    /* SQLite says only "unable to open database file"; name the cause. */
    char dir[4096];
    util_strlcpy(dir, path, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        util_strlcpy(dir, ".", sizeof dir);
    struct stat st;
    if (stat(dir, &st) != 0)
        return errf(err, errlen, "%s: cannot open database: directory %s: %s", path, dir,
                    strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return errf(err, errlen, "%s: cannot open database: %s is not a directory", path, dir);
    if (sys_errno)
        return errf(err, errlen, "%s: cannot open database: %s (%s)", path, msg,
                    strerror(sys_errno));
    return errf(err, errlen, "%s: cannot open database: %s", path, msg);
}

static int store_configure_writer(struct store *s, char *err, size_t errlen)
{
    sqlite3_extended_result_codes(s->writer, 1);
    sqlite3_busy_timeout(s->writer, STORE_BUSY_TIMEOUT_MS);

    /* journal_mode=WAL is the first statement that reads the file, so a
     * non-database file is reported here. */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->writer, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        store_fail(s, s->writer, "cannot read database", err, errlen);
        sqlite3_finalize(st);
        return -1;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    bool wal = mode && strcmp(mode, "wal") == 0;
    if (!wal)
        errf(err, errlen, "%s: cannot use WAL journal mode (got %s)", s->path,
             mode ? mode : "nothing");
    sqlite3_finalize(st);
    if (!wal)
        return -1;

    char sql[192];
    snprintf(sql, sizeof sql,
             "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=%d;"
             " PRAGMA journal_size_limit=%d; PRAGMA cache_size=-%d;",
             STORE_WAL_AUTOCHECKPOINT_PAGES, STORE_WAL_SIZE_LIMIT, STORE_CACHE_KIB);
    if (sqlite3_exec(s->writer, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(s, s->writer, "configure", err, errlen);
    return 0;
}

/* Refuses files that are not ours and versions newer than ours. Runs
 * inside the migration transaction so two openers agree. */
static int store_check_identity(struct store *s, int64_t app_id, int64_t version, char *err,
                                size_t errlen)
{
    int known = store_schema_version();
    if (app_id != 0 && app_id != STORE_APPLICATION_ID)
        return errf(err, errlen, "%s: not a floe database (application_id 0x%08llx)", s->path,
                    (unsigned long long)app_id);
    if (version > known)
        return errf(err, errlen,
                    "%s: database schema version %lld is newer than this floe supports (%d); "
                    "run a newer floe or restore an older database",
                    s->path, (long long)version, known);
    if (version == 0 && app_id == 0) {
        int64_t tables = 0;
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->writer, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL) !=
                SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_finalize(st);
            return store_fail(s, s->writer, "cannot read schema", err, errlen);
        }
        tables = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (tables > 0)
            return errf(err, errlen,
                        "%s: not a floe database (it has tables but no floe schema version)",
                        s->path);
    }
    return 0;
}

/* Applies one pending migration, or none if the schema is current.
 * *done is set when nothing was left to apply. */
static int store_migrate_step(struct store *s, bool *done, char *err, size_t errlen)
{
    if (sqlite3_exec(s->writer, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(s, s->writer, "cannot lock database", err, errlen);

    int64_t app_id = 0, version = 0;
    if (store_pragma_int(s->writer, "application_id", &app_id) < 0 ||
        store_pragma_int(s->writer, "user_version", &version) < 0) {
        store_fail(s, s->writer, "cannot read database", err, errlen);
        goto fail;
    }
    if (store_check_identity(s, app_id, version, err, errlen) < 0)
        goto fail;

    *done = version == store_schema_version();
    if (!*done) {
        char what[48];
        snprintf(what, sizeof what, "schema migration %lld", (long long)version + 1);
        if (sqlite3_exec(s->writer, store_migrations[version], NULL, NULL, NULL) != SQLITE_OK) {
            store_fail(s, s->writer, what, err, errlen);
            goto fail;
        }
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA user_version=%lld; PRAGMA application_id=%d;",
                 (long long)version + 1, STORE_APPLICATION_ID);
        if (sqlite3_exec(s->writer, sql, NULL, NULL, NULL) != SQLITE_OK) {
            store_fail(s, s->writer, what, err, errlen);
            goto fail;
        }
    }
    if (sqlite3_exec(s->writer, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        store_fail(s, s->writer, "commit schema", err, errlen);
        goto fail;
    }
    return 0;
fail:
    sqlite3_exec(s->writer, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int store_migrate(struct store *s, char *err, size_t errlen)
{
    bool done = false;
    while (!done) {
        if (store_migrate_step(s, &done, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int store_open_writer(struct store *s, char *err, size_t errlen)
{
    if (sqlite3_open_v2(s->path, &s->writer,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        return store_open_failed(s->path, s->writer, err, errlen);
    if (store_configure_writer(s, err, errlen) < 0 || store_migrate(s, err, errlen) < 0)
        return -1;

    const struct store_stmt_def defs[] = {
        {&s->begin, "BEGIN IMMEDIATE"},
        {&s->commit, "COMMIT"},
        {&s->rollback, "ROLLBACK"},
        {&s->metric_find, "SELECT id FROM metric WHERE name = ?1"},
        {&s->metric_add, "INSERT INTO metric(name) VALUES (?1)"},
        {&s->log_add, "INSERT INTO sample_log(t_min, t_max, n, data) VALUES (?1, ?2, ?3, ?4)"},
        {&s->count_add, "UPDATE meta SET value = value + ?1 WHERE key = 'sample_count'"},
        {&s->metric_ids, "SELECT id FROM metric ORDER BY id"},
        /* Legacy table `sample` (schemas 1-7), emptied by the raw window.
         * Deletes the oldest ?3 samples of one metric older than ?2: the
         * bound is the ts of the ?3-th such sample, or the cutoff when
         * fewer remain. Both halves are range scans of the primary key. */
        {&s->retention_chunk,
         "DELETE FROM sample WHERE metric_id = ?1 AND ts_ms < ?2 AND ts_ms <= coalesce("
         "  (SELECT ts_ms FROM sample WHERE metric_id = ?1 AND ts_ms < ?2"
         "   ORDER BY ts_ms LIMIT 1 OFFSET ?3 - 1), ?2)"},
    };
    return store_prepare_all(s, s->writer, defs, ARRAY_LEN(defs), err, errlen);
}

static int store_open_reader(struct store *s, char *err, size_t errlen)
{
    /* Read-only: this connection can never take the write lock, so a
     * query can never queue behind (or in front of) a batch. */
    if (sqlite3_open_v2(s->path, &s->reader, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        return store_open_failed(s->path, s->reader, err, errlen);
    sqlite3_extended_result_codes(s->reader, 1);
    sqlite3_busy_timeout(s->reader, STORE_BUSY_TIMEOUT_MS);

    const struct store_stmt_def defs[] = {
        {&s->count_get, "SELECT value FROM meta WHERE key = 'sample_count'"},
    };
    if (store_prepare_all(s, s->reader, defs, ARRAY_LEN(defs), err, errlen) < 0)
        return -1;
    s->tiers = store_tier_read_new(s->reader, s->path, err, errlen);
    return s->tiers ? 0 : -1;
}

int store_schema_version(void)
{
    return (int)ARRAY_LEN(store_migrations);
}

int store_open(struct store **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    /* SQLite would open "" as a private temporary database, invisible to
     * the reader connection. */
    if (path[0] == '\0')
        return errf(err, errlen, "store path is empty");
    struct store *s = calloc(1, sizeof *s);
    if (!s)
        return errf(err, errlen, "%s: out of memory", path);
    pthread_mutex_init(&s->write_lock, NULL);
    pthread_mutex_init(&s->read_lock, NULL);
    pthread_mutex_init(&s->counts_lock, NULL);
    s->path = strdup(path);
    if (!s->path) {
        errf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    /* The reader opens after the writer has made the file a WAL database
     * with the current schema, so its statements prepare against it. */
    if (store_open_writer(s, err, errlen) < 0 || store_open_reader(s, err, errlen) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    store_close(s);
    return -1;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    sqlite3_stmt *stmts[] = {s->begin,           s->commit,   s->rollback,  s->metric_find,
                             s->metric_add,      s->log_add,  s->count_add, s->metric_ids,
                             s->retention_chunk, s->count_get};
    for (size_t i = 0; i < ARRAY_LEN(stmts); i++)
        sqlite3_finalize(stmts[i]);
    store_tier_read_free(s->tiers);
    /* Reader first: the last connection to close checkpoints the WAL into
     * the database file and removes it. */
    sqlite3_close(s->reader);
    sqlite3_close(s->writer);
    store_ids_clear(&s->ids);
    free(s->ids.slots);
    pthread_mutex_destroy(&s->write_lock);
    pthread_mutex_destroy(&s->read_lock);
    store_tally_free(s);
    pthread_mutex_destroy(&s->counts_lock);
    free(s->path);
    free(s);
}

uint64_t store_generation(struct store *s)
{
    return atomic_load_explicit(&s->generation, memory_order_acquire);
}

/* ---- writing ------------------------------------------------------------ */

/* The id of metric `name`, creating its row if new. Writer lock held,
 * inside the batch transaction. */
static int store_metric_id(struct store *s, const char *name, size_t len, int64_t *id, char *err,
                           size_t errlen)
{
    uint64_t hash = store_hash(name, len);
    if (store_ids_get(&s->ids, name, len, hash, id))
        return 0;

    sqlite3_bind_text(s->metric_find, 1, name, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(s->metric_find);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s->metric_find, 0);
    sqlite3_reset(s->metric_find);
    if (rc == SQLITE_DONE) {
        sqlite3_bind_text(s->metric_add, 1, name, (int)len, SQLITE_STATIC);
        if (store_run(s->metric_add) < 0)
            return store_fail(s, s->writer, "write samples", err, errlen);
        *id = sqlite3_last_insert_rowid(s->writer);
    } else if (rc != SQLITE_ROW) {
        return store_fail(s, s->writer, "write samples", err, errlen);
    }
    if (store_ids_put(&s->ids, name, len, hash, *id) < 0)
        return errf(err, errlen, "%s: write samples: out of memory", s->path);
    return 0;
}

/* The batch as one sample_log row: the store_codec 'L' blob of its
 * samples in batch order (a later sample of the same metric and time wins
 * when read), stamped with its earliest and latest time so compaction
 * and queries find it without decoding it. */
static int store_write_locked(struct store *s, const struct metric_sample *samples, size_t n,
                              char *err, size_t errlen)
{
    uint8_t *blob = NULL;
    size_t bloblen = 0;
    struct store_rec *recs = calloc(n, sizeof *recs);
    if (!recs)
        return errf(err, errlen, "%s: write samples: out of memory", s->path);
    if (store_run(s->begin) < 0) {
        free(recs);
        return store_fail(s, s->writer, "write samples", err, errlen);
    }
    int64_t t_min = INT64_MAX, t_max = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        const struct metric_sample *m = &samples[i];
        size_t len = strnlen(m->name, sizeof m->name);
        int64_t id = 0;
        if (store_metric_id(s, m->name, len, &id, err, errlen) < 0)
            goto fail;
        recs[i] = (struct store_rec){.metric_id = id,
                                     .ts_ms = m->ts_ms,
                                     .value = m->ok && !isnan(m->value) ? m->value : NAN};
        t_min = m->ts_ms < t_min ? m->ts_ms : t_min;
        t_max = m->ts_ms > t_max ? m->ts_ms : t_max;
    }
    if (store_codec_encode(recs, n, false, &blob, &bloblen) < 0) {
        errf(err, errlen, "%s: write samples: out of memory", s->path);
        goto fail;
    }
    sqlite3_bind_int64(s->log_add, 1, t_min);
    sqlite3_bind_int64(s->log_add, 2, t_max);
    sqlite3_bind_int64(s->log_add, 3, (int64_t)n);
    sqlite3_bind_blob(s->log_add, 4, blob, (int)bloblen, SQLITE_STATIC);
    int rc = store_run(s->log_add);
    sqlite3_clear_bindings(s->log_add);
    if (rc < 0) {
        store_fail(s, s->writer, "write samples", err, errlen);
        goto fail;
    }
    sqlite3_bind_int64(s->count_add, 1, (int64_t)n);
    if (store_run(s->count_add) < 0 || store_run(s->commit) < 0) {
        store_fail(s, s->writer, "write samples", err, errlen);
        goto fail;
    }
    if (s->log_newest_known && t_max > s->log_newest)
        s->log_newest = t_max;
    if (s->compacted_known && t_min < s->compacted_close)
        s->compacted_known = false;
    free(blob);
    free(recs);
    return 0;
fail:
    free(blob);
    free(recs);
    if (sqlite3_get_autocommit(s->writer) == 0)
        store_run(s->rollback);
    /* Ids of metrics created in this batch were rolled back with it and
     * may be handed to other names later: the cache must not keep them. */
    store_ids_clear(&s->ids);
    return -1;
}

int store_write_samples(struct store *s, const struct metric_sample *samples, size_t n, char *err,
                        size_t errlen)
{
    if (n == 0)
        return 0;
    pthread_mutex_lock(&s->write_lock);
    int rc = store_write_locked(s, samples, n, err, errlen);
    store_write_unlock(s);
    return rc;
}

/* ---- retention ---------------------------------------------------------- */

static int store_metric_id_list(struct store *s, int64_t **out, size_t *n, char *err, size_t errlen)
{
    size_t len = 0, cap = 0;
    int64_t *ids = NULL;
    pthread_mutex_lock(&s->write_lock);
    int rc;
    while ((rc = sqlite3_step(s->metric_ids)) == SQLITE_ROW) {
        if (vec_reserve(ids, cap, len + 1) < 0)
            break;
        ids[len++] = sqlite3_column_int64(s->metric_ids, 0);
    }
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_ROW)
            errf(err, errlen, "%s: retention: out of memory", s->path);
        else
            store_fail(s, s->writer, "retention", err, errlen);
    }
    sqlite3_reset(s->metric_ids);
    store_write_unlock(s);
    if (rc != SQLITE_DONE) {
        free(ids);
        return -1;
    }
    *out = ids;
    *n = len;
    return 0;
}

/* Deletes one chunk of old samples of one metric in its own transaction.
 * *removed gets the number of rows deleted. */
static int store_retention_chunk(struct store *s, int64_t metric_id, int64_t cutoff_ms,
                                 int64_t *removed, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->write_lock);
    if (store_run(s->begin) < 0)
        goto fail;
    sqlite3_bind_int64(s->retention_chunk, 1, metric_id);
    sqlite3_bind_int64(s->retention_chunk, 2, cutoff_ms);
    sqlite3_bind_int64(s->retention_chunk, 3, STORE_RETENTION_CHUNK);
    if (store_run(s->retention_chunk) < 0)
        goto fail;
    *removed = sqlite3_changes(s->writer);
    if (*removed > 0) {
        sqlite3_bind_int64(s->count_add, 1, -*removed);
        if (store_run(s->count_add) < 0)
            goto fail;
    }
    if (store_run(s->commit) < 0)
        goto fail;
    store_write_unlock(s);
    return 0;
fail:
    store_fail(s, s->writer, "retention", err, errlen);
    if (sqlite3_get_autocommit(s->writer) == 0)
        store_run(s->rollback);
    store_write_unlock(s);
    return -1;
}

/*
 * Chunks in separate transactions, with the writer lock released between
 * them, so a backlog of millions of rows (first run after a long outage or
 * after shortening the retention) delays sample batches by one chunk at a
 * time instead of for the whole run.
 *
 * No VACUUM: pages freed here go to SQLite's free list and are reused by
 * the next days' samples, so under a steady retention the file stops
 * growing at its working size. Shrinking the file after retention was cut
 * is a rare operator task (`sqlite3 floe.db VACUUM` with the agent
 * stopped); incremental vacuum would need auto_vacuum set from creation and
 * would only move the same pages back and forth.
 */
int store_legacy_retention(struct store *s, int64_t cutoff_ms, int64_t *deleted, char *err,
                           size_t errlen)
{
    int64_t total = 0;
    int64_t *ids = NULL;
    size_t nids = 0;
    if (deleted)
        *deleted = 0;
    if (store_metric_id_list(s, &ids, &nids, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < nids; i++) {
        int64_t removed;
        do {
            if (store_retention_chunk(s, ids[i], cutoff_ms, &removed, err, errlen) < 0)
                goto fail;
            total += removed;
        } while (removed == STORE_RETENTION_CHUNK);
    }
    free(ids);
    if (deleted)
        *deleted = total;
    return 0;
fail:
    free(ids);
    if (deleted)
        *deleted = total;
    return -1;
}

/* ---- reading ------------------------------------------------------------ */

int64_t store_sample_count(struct store *s)
{
    int64_t count = -1;
    pthread_mutex_lock(&s->read_lock);
    if (sqlite3_step(s->count_get) == SQLITE_ROW)
        count = sqlite3_column_int64(s->count_get, 0);
    sqlite3_reset(s->count_get);
    pthread_mutex_unlock(&s->read_lock);
    return count;
}
