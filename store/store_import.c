/*
 * store_import — see store_import.h. The import and import_event tables
 * (schema 6).
 *
 * As in store_resv.c, statements are prepared per call: an import takes a
 * few dozen steps in its life. Writes hold write_lock for their whole
 * transaction on the writer connection, and commit with synchronous=FULL
 * (store_begin_durable); reads go through the reader.
 *
 * The reservation an import runs under lives in store_resv.c's table;
 * creating, failing and dropping an import touch that row in the same
 * transaction (confirm, release), with the same rules as
 * store_resv_confirm and store_resv_release.
 */
#include "store/store_import.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/util.h"
#include "lib/vec.h"
#include "store/store_internal.h"

/* Tries at a fresh random id when one is taken (1 in 2^40 per import). */
#define IMPORT_ID_TRIES 4
#define IMPORT_ID_LIMIT (1LL << 40)

#define IMPORT_COLUMNS                                                                             \
    "id, reservation, from_site, workload, namespace, backup, stateless, incremental, prestage, "  \
    "replicas, phase, error, seq, restore, attempts, owns_namespace, cleaning, cleanup, partial, " \
    "dropped_by, created_ms, updated_ms, phase_ms, ended_ms, ready_ms, restore_started_ms, "       \
    "restore_s, restored_bytes, rev, home"

#define IMPORT_ACTIVE "phase IN ('waiting-backup', 'restoring', 'starting')"

static const char *const phase_names[] = {"waiting-backup", "restoring", "starting", "ready",
                                          "failed"};
static const char *const cleanup_names[] = {"none", "pending", "done"};

const char *store_import_phase_name(enum store_import_phase p)
{
    return (size_t)p < ARRAY_LEN(phase_names) ? phase_names[p] : "failed";
}

bool store_import_phase_active(enum store_import_phase p)
{
    return p == STORE_IMPORT_WAITING_BACKUP || p == STORE_IMPORT_RESTORING ||
           p == STORE_IMPORT_STARTING;
}

const char *store_import_cleanup_name(enum store_import_cleanup c)
{
    return (size_t)c < ARRAY_LEN(cleanup_names) ? cleanup_names[c] : "none";
}

/* The CHECK constraints keep other words out of the table. */
static int index_of(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    return 0;
}

void store_import_clear(struct store_import *r)
{
    if (!r)
        return;
    free(r->reservation);
    free(r->from_site);
    free(r->workload);
    free(r->namespace_);
    free(r->backup);
    free(r->replicas);
    free(r->error);
    free(r->restore);
    free(r->dropped_by);
    free(r->home);
    memset(r, 0, sizeof *r);
}

void store_import_rows_free(struct store_import *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        store_import_clear(&rows[i]);
    free(rows);
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? util_strdup((const char *)t) : NULL;
}

static double col_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* A row of IMPORT_COLUMNS into r. */
static void row_from(sqlite3_stmt *st, struct store_import *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->reservation = col_text(st, 1);
    r->from_site = col_text(st, 2);
    r->workload = col_text(st, 3);
    r->namespace_ = col_text(st, 4);
    r->backup = col_text(st, 5);
    r->stateless = sqlite3_column_int(st, 6) != 0;
    r->incremental = sqlite3_column_int(st, 7) != 0;
    r->prestage = sqlite3_column_int(st, 8) != 0;
    r->replicas = col_text(st, 9);
    r->phase = (enum store_import_phase)index_of(phase_names, ARRAY_LEN(phase_names),
                                                 (const char *)sqlite3_column_text(st, 10));
    r->error = col_text(st, 11);
    r->seq = sqlite3_column_int(st, 12);
    r->restore = col_text(st, 13);
    r->attempts = sqlite3_column_int(st, 14);
    r->owns_namespace = sqlite3_column_int(st, 15) != 0;
    r->cleaning = sqlite3_column_int(st, 16) != 0;
    r->cleanup = (enum store_import_cleanup)index_of(cleanup_names, ARRAY_LEN(cleanup_names),
                                                     (const char *)sqlite3_column_text(st, 17));
    r->partial = sqlite3_column_int(st, 18) != 0;
    r->dropped_by = col_text(st, 19);
    r->created_ms = sqlite3_column_int64(st, 20);
    r->updated_ms = sqlite3_column_int64(st, 21);
    r->phase_ms = sqlite3_column_int64(st, 22);
    r->ended_ms = sqlite3_column_int64(st, 23);
    r->ready_ms = sqlite3_column_int64(st, 24);
    r->restore_started_ms = sqlite3_column_int64(st, 25);
    r->restore_s = col_real(st, 26);
    r->restored_bytes = col_real(st, 27);
    r->rev = sqlite3_column_int64(st, 28);
    r->home = col_text(st, 29);
}

/* Reads import id (with owner, only one of its) into *r on db.
 * 0, STORE_NOT_FOUND or -1. */
static int get_on(struct store *s, sqlite3 *db, int64_t id, const char *owner,
                  struct store_import *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    sqlite3_stmt *st = store_prepare(s, db,
                                     "SELECT " IMPORT_COLUMNS " FROM import WHERE id = ?1"
                                     " AND (?2 IS NULL OR from_site = ?2)",
                                     err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    if (owner)
        sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc;
    if (step == SQLITE_ROW) {
        row_from(st, r);
        rc = 0;
    } else if (step == SQLITE_DONE) {
        rc = STORE_NOT_FOUND;
    } else {
        rc = store_fail(s, db, "read import", err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

static int add_event(struct store *s, int64_t import_id, int64_t ts_ms, const char *phase,
                     const char *detail, char *err, size_t errlen)
{
    sqlite3_stmt *st = store_prepare(
        s, s->writer,
        "INSERT INTO import_event(import_id, ts_ms, phase, detail) VALUES (?, ?, ?, ?)", err,
        errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, import_id);
    sqlite3_bind_int64(st, 2, ts_ms);
    sqlite3_bind_text(st, 3, phase, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, detail, -1, SQLITE_STATIC);
    int rc =
        sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, s->writer, "import event", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

/* Releases reservation id at now_ms, by `by`, if it is still active. */
static int release_reservation(struct store *s, const char *id, const char *by, int64_t now_ms,
                               char *err, size_t errlen)
{
    sqlite3_stmt *st = store_prepare(s, s->writer,
                                     "UPDATE reservation SET state = 'released', ended_ms = ?2,"
                                     " ended_by = ?3 WHERE id = ?1 AND state = 'active'",
                                     err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_text(st, 3, by, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE
                 ? 0
                 : store_fail(s, s->writer, "release reservation", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

/* Releases the reservation of import r unless another import of it
 * still lives (works, or is ready and not dropped): a prestage import
 * and the incremental one restored into it share one reservation, which
 * ends with the last of them. */
static int release_if_last(struct store *s, const struct store_import *r, const char *by,
                           int64_t now_ms, char *err, size_t errlen)
{
    sqlite3_stmt *st = store_prepare(s, s->writer,
                                     "SELECT 1 FROM import WHERE reservation = ?1 AND id != ?2"
                                     " AND (" IMPORT_ACTIVE " OR phase = 'ready') LIMIT 1",
                                     err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->reservation, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->id);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step == SQLITE_ROW)
        return 0;
    if (step != SQLITE_DONE)
        return store_fail(s, s->writer, "imports of reservation", err, errlen);
    return release_reservation(s, r->reservation, by, now_ms, err, errlen);
}

/* An incremental import that owns its namespace took it over from the
 * prestage import of its reservation: dropping that one later must not
 * delete what the incremental import runs. */
static int take_over_namespace(struct store *s, const struct store_import *r, char *err,
                               size_t errlen)
{
    if (!r->incremental || !r->owns_namespace)
        return 0;
    sqlite3_stmt *st = store_prepare(s, s->writer,
                                     "UPDATE import SET owns_namespace = 0, rev = rev + 1"
                                     " WHERE reservation = ?1 AND namespace = ?2 AND prestage"
                                     " AND owns_namespace AND id != ?3",
                                     err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->reservation, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->namespace_, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->id);
    int rc = sqlite3_step(st) == SQLITE_DONE
                 ? 0
                 : store_fail(s, s->writer, "take over namespace", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

/* ---- create ---- */

static int new_id(int64_t *id, char *err, size_t errlen)
{
    uint64_t v = 0;
    size_t got = 0;
    unsigned char *bytes = (unsigned char *)&v;
    while (got < sizeof v) {
        ssize_t r = getrandom(bytes + got, sizeof v - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errf(err, errlen, "import id: getrandom: %s", strerror(errno));
        got += (size_t)r;
    }
    *id = (int64_t)(v % (uint64_t)(IMPORT_ID_LIMIT - 1)) + 1;
    return 0;
}

/* Checks the reservation for req inside the transaction. 0 when it may
 * be used, STORE_CONFLICT with why, or -1. */
static int check_reservation(struct store *s, const struct store_import_request *req,
                             int64_t now_ms, char *why, size_t whylen, char *err, size_t errlen)
{
    sqlite3_stmt *st = store_prepare(s, s->writer,
                                     "SELECT granted_by, workload, state, expires_ms, confirmed_ms"
                                     " FROM reservation WHERE id = ?1",
                                     err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, req->reservation, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = STORE_CONFLICT;
    if (step == SQLITE_DONE) {
        errf(why, whylen, "reservation %s: no such reservation in this site's book",
             req->reservation);
    } else if (step != SQLITE_ROW) {
        rc = store_fail(s, s->writer, "read reservation", err, errlen);
    } else {
        const char *granted_by = (const char *)sqlite3_column_text(st, 0);
        const char *workload = (const char *)sqlite3_column_text(st, 1);
        const char *state = (const char *)sqlite3_column_text(st, 2);
        int64_t expires_ms = sqlite3_column_int64(st, 3);
        bool confirmed = sqlite3_column_type(st, 4) != SQLITE_NULL;
        if (req->caller && (!granted_by || strcmp(granted_by, req->caller) != 0))
            errf(why, whylen, "reservation %s was not granted to %s", req->reservation,
                 req->caller);
        else if (!state || strcmp(state, "active") != 0)
            errf(why, whylen, "reservation %s %s", req->reservation,
                 state && strcmp(state, "released") == 0 ? "was released" : "expired");
        else if (!confirmed && expires_ms <= now_ms)
            errf(why, whylen,
                 "reservation %s expired (its TTL ended before an import confirmed "
                 "it)",
                 req->reservation);
        else if (!workload || strcmp(workload, req->workload) != 0)
            errf(why, whylen, "reservation %s is for workload %s, not %s", req->reservation,
                 workload ? workload : "?", req->workload);
        else
            rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The import of req->backup, if any, into *found (0 / STORE_NOT_FOUND / -1). */
static int find_backup(struct store *s, const char *backup, struct store_import *found, char *err,
                       size_t errlen)
{
    sqlite3_stmt *st = store_prepare(
        s, s->writer, "SELECT " IMPORT_COLUMNS " FROM import WHERE backup = ?1", err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, backup, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = STORE_NOT_FOUND;
    if (step == SQLITE_ROW) {
        row_from(st, found);
        rc = 0;
    } else if (step != SQLITE_DONE) {
        rc = store_fail(s, s->writer, "find import", err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

/* An active import of namespace: 0 with *id and its phase in phase,
 * STORE_NOT_FOUND, or -1. */
static int find_active(struct store *s, const char *namespace_, int64_t *id, char *phase,
                       size_t phaselen, char *err, size_t errlen)
{
    sqlite3_stmt *st = store_prepare(
        s, s->writer,
        "SELECT id, phase FROM import WHERE namespace = ?1 AND " IMPORT_ACTIVE " LIMIT 1", err,
        errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, namespace_, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = STORE_NOT_FOUND;
    if (step == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        const unsigned char *p = sqlite3_column_text(st, 1);
        util_strlcpy(phase, p ? (const char *)p : "", phaselen);
        rc = 0;
    } else if (step != SQLITE_DONE) {
        rc = store_fail(s, s->writer, "find import", err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Inserts the row of req under a fresh id into *id. */
static int insert(struct store *s, const struct store_import_request *req, const char *from_site,
                  int64_t now_ms, int64_t *id, char *err, size_t errlen)
{
    sqlite3_stmt *st = store_prepare(
        s, s->writer,
        "INSERT INTO import(id, reservation, from_site, workload, namespace, backup, stateless,"
        " incremental, prestage, replicas, phase, created_ms, updated_ms, phase_ms, home)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'waiting-backup', ?11, ?11, ?11, ?12)",
        err, errlen);
    if (!st)
        return -1;
    int rc = -1;
    for (int attempt = 0; attempt < IMPORT_ID_TRIES; attempt++) {
        if (new_id(id, err, errlen) < 0)
            break;
        sqlite3_bind_int64(st, 1, *id);
        sqlite3_bind_text(st, 2, req->reservation, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, from_site, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, req->workload, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, req->namespace_, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, req->backup, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 7, req->stateless);
        sqlite3_bind_int(st, 8, req->incremental);
        sqlite3_bind_int(st, 9, req->prestage);
        sqlite3_bind_text(st, 10, req->replicas, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 11, now_ms);
        if (req->home)
            sqlite3_bind_text(st, 12, req->home, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 12);
        if (sqlite3_step(st) == SQLITE_DONE) {
            rc = 0;
            break;
        }
        if (sqlite3_extended_errcode(s->writer) != SQLITE_CONSTRAINT_PRIMARYKEY) {
            store_fail(s, s->writer, "create import", err, errlen);
            break;
        }
        errf(err, errlen, "%s: create import: no free id after %d tries", s->path, IMPORT_ID_TRIES);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

/* The token name the reservation was granted to: the import's from_site. */
static int granted_to(struct store *s, const char *reservation, char **out, char *err,
                      size_t errlen)
{
    sqlite3_stmt *st = store_prepare(
        s, s->writer, "SELECT granted_by FROM reservation WHERE id = ?1", err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, reservation, -1, SQLITE_STATIC);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = col_text(st, 0);
        rc =
            *out ? 0 : errf(err, errlen, "%s: reservation %s has no grantee", s->path, reservation);
    } else {
        store_fail(s, s->writer, "read reservation", err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

/* The part of store_import_create inside its transaction. */
static int create_locked(struct store *s, const struct store_import_request *req, int64_t now_ms,
                         struct store_import *out, char *why, size_t whylen, char *err,
                         size_t errlen)
{
    int rc = find_backup(s, req->backup, out, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        /* A peer asking again (its answer was lost, it restarted) gets
         * the import it started; anyone else is refused. */
        bool same_caller = !req->caller || strcmp(out->from_site, req->caller) == 0;
        if (same_caller && strcmp(out->reservation, req->reservation) == 0 &&
            strcmp(out->namespace_, req->namespace_) == 0)
            return STORE_IMPORT_EXISTING;
        errf(why, whylen, "backup %s is imported already by import %lld of another %s", req->backup,
             (long long)out->id,
             !same_caller                                      ? "site"
             : strcmp(out->reservation, req->reservation) != 0 ? "reservation"
                                                               : "namespace");
        store_import_clear(out);
        return STORE_CONFLICT;
    }
    rc = check_reservation(s, req, now_ms, why, whylen, err, errlen);
    if (rc != 0)
        return rc;
    int64_t busy_id = 0;
    char busy_phase[32];
    rc = find_active(s, req->namespace_, &busy_id, busy_phase, sizeof busy_phase, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        errf(why, whylen, "namespace %s is being imported already (import %lld, %s)",
             req->namespace_, (long long)busy_id, busy_phase);
        return STORE_CONFLICT;
    }
    char *from_site = NULL;
    int64_t id = 0;
    if (granted_to(s, req->reservation, &from_site, err, errlen) < 0)
        return -1;
    rc = -1;
    char detail[200];
    snprintf(detail, sizeof detail, "import of backup %s requested by %s", req->backup,
             req->caller ? req->caller : "an admin");
    sqlite3_stmt *confirm = NULL;
    if (insert(s, req, from_site, now_ms, &id, err, errlen) < 0 ||
        add_event(s, id, now_ms, "waiting-backup", detail, err, errlen) < 0)
        goto out;
    /* Confirmed once: a second import of the reservation (incremental
     * after prestage) leaves the first confirmation as it is. */
    confirm = store_prepare(s, s->writer,
                            "UPDATE reservation SET confirmed_ms = ?2 WHERE id = ?1"
                            " AND confirmed_ms IS NULL",
                            err, errlen);
    if (!confirm)
        goto out;
    sqlite3_bind_text(confirm, 1, req->reservation, -1, SQLITE_STATIC);
    sqlite3_bind_int64(confirm, 2, now_ms);
    if (sqlite3_step(confirm) != SQLITE_DONE) {
        store_fail(s, s->writer, "confirm reservation", err, errlen);
        goto out;
    }
    rc = get_on(s, s->writer, id, NULL, out, err, errlen) == 0 ? 0 : -1;
out:
    sqlite3_finalize(confirm);
    free(from_site);
    return rc;
}

int store_import_create(struct store *s, const struct store_import_request *req, int64_t now_ms,
                        struct store_import *out, char *why, size_t whylen, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (whylen)
        why[0] = '\0';
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    if (store_begin_durable(s, "imports", err, errlen) < 0)
        goto unlock;
    rc = create_locked(s, req, now_ms, out, why, whylen, err, errlen);
    if (rc == 0 && store_end_durable(s, true, "imports", err, errlen) < 0)
        rc = -1;
    else if (rc != 0)
        store_end_durable(s, false, "imports", err, errlen);
unlock:
    store_write_unlock(s);
    if (rc != 0 && rc != STORE_IMPORT_EXISTING)
        store_import_clear(out);
    return rc;
}

/* ---- read ---- */

int store_import_get(struct store *s, int64_t id, const char *owner, struct store_import *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->read_lock);
    int rc = get_on(s, s->reader, id, owner, out, err, errlen);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}

int store_import_list(struct store *s, bool work_only, const char *owner, size_t limit,
                      struct store_import **rows, size_t *n, char *err, size_t errlen)
{
    *rows = NULL;
    *n = 0;
    struct store_import *out = NULL;
    size_t len = 0, cap = 0;
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(
        s, s->reader,
        work_only ? "SELECT " IMPORT_COLUMNS " FROM import WHERE (" IMPORT_ACTIVE
                    " OR cleanup = 'pending') AND (?1 IS NULL OR from_site = ?1)"
                    " ORDER BY created_ms, id LIMIT ?2"
                  : "SELECT " IMPORT_COLUMNS " FROM import WHERE ?1 IS NULL OR from_site = ?1"
                    " ORDER BY created_ms DESC, id DESC LIMIT ?2",
        err, errlen);
    if (!st)
        goto out;
    if (owner)
        sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (vec_reserve(out, cap, len + 1) < 0) {
            errf(err, errlen, "%s: imports: out of memory", s->path);
            goto out;
        }
        row_from(st, &out[len++]);
    }
    if (step != SQLITE_DONE) {
        store_fail(s, s->reader, "imports", err, errlen);
        goto out;
    }
    *rows = out;
    *n = len;
    out = NULL;
    len = 0;
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    store_import_rows_free(out, len);
    return rc;
}

/* ---- write ---- */

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_ms_or_null(sqlite3_stmt *st, int i, int64_t ms)
{
    if (ms)
        sqlite3_bind_int64(st, i, ms);
    else
        sqlite3_bind_null(st, i);
}

static void bind_real_or_null(sqlite3_stmt *st, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

/* UPDATE of r's changing fields over revision r->rev: 1 written, 0 the
 * revision moved on (or no such row), -1 failure. */
static int update_locked(struct store *s, const struct store_import *r, int64_t now_ms, char *err,
                         size_t errlen)
{
    sqlite3_stmt *st = store_prepare(
        s, s->writer,
        "UPDATE import SET phase = ?3, error = ?4, seq = ?5, restore = ?6, attempts = ?7,"
        " owns_namespace = ?8, cleaning = ?9, cleanup = ?10, partial = ?11, dropped_by = ?12,"
        " updated_ms = ?13, phase_ms = ?14, ended_ms = ?15, ready_ms = ?16,"
        " restore_started_ms = ?17, restore_s = ?18, restored_bytes = ?19, rev = rev + 1"
        " WHERE id = ?1 AND rev = ?2",
        err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_int64(st, 2, r->rev);
    sqlite3_bind_text(st, 3, store_import_phase_name(r->phase), -1, SQLITE_STATIC);
    bind_text_or_null(st, 4, r->error);
    sqlite3_bind_int(st, 5, r->seq);
    bind_text_or_null(st, 6, r->restore);
    sqlite3_bind_int(st, 7, r->attempts);
    sqlite3_bind_int(st, 8, r->owns_namespace);
    sqlite3_bind_int(st, 9, r->cleaning);
    sqlite3_bind_text(st, 10, store_import_cleanup_name(r->cleanup), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 11, r->partial);
    bind_text_or_null(st, 12, r->dropped_by);
    sqlite3_bind_int64(st, 13, now_ms);
    sqlite3_bind_int64(st, 14, r->phase_ms);
    bind_ms_or_null(st, 15, r->ended_ms);
    bind_ms_or_null(st, 16, r->ready_ms);
    bind_ms_or_null(st, 17, r->restore_started_ms);
    bind_real_or_null(st, 18, r->restore_s);
    bind_real_or_null(st, 19, r->restored_bytes);
    int rc = sqlite3_step(st) == SQLITE_DONE
                 ? sqlite3_changes(s->writer) > 0
                 : store_fail(s, s->writer, "update import", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

/* Whether import id exists at all (for telling a conflict from a gap). */
static int exists_locked(struct store *s, int64_t id, char *err, size_t errlen)
{
    struct store_import r;
    int rc = get_on(s, s->writer, id, NULL, &r, err, errlen);
    store_import_clear(&r);
    return rc;
}

int store_import_save(struct store *s, struct store_import *r, const char *event,
                      const char *release_by, int64_t now_ms, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    if (store_begin_durable(s, "imports", err, errlen) < 0)
        goto unlock;
    int written = update_locked(s, r, now_ms, err, errlen);
    if (written < 0)
        goto end;
    if (written == 0) {
        rc = exists_locked(s, r->id, err, errlen);
        if (rc == 0)
            rc = STORE_CONFLICT;
        goto end;
    }
    if ((event &&
         add_event(s, r->id, now_ms, store_import_phase_name(r->phase), event, err, errlen) < 0) ||
        take_over_namespace(s, r, err, errlen) < 0 ||
        (release_by && release_if_last(s, r, release_by, now_ms, err, errlen) < 0))
        goto end;
    if (store_end_durable(s, true, "imports", err, errlen) < 0)
        goto unlock;
    r->rev++;
    r->updated_ms = now_ms;
    rc = 0;
    goto unlock;
end:
    store_end_durable(s, false, "imports", err, errlen);
unlock:
    store_write_unlock(s);
    return rc;
}

/* Sets *field to a copy of v (freeing the old); false when out of memory. */
static bool set_text(char **field, const char *v)
{
    char *copy = util_strdup(v);
    if (!copy)
        return false;
    free(*field);
    *field = copy;
    return true;
}

int store_import_drop(struct store *s, int64_t id, const char *owner, const char *by,
                      int64_t now_ms, struct store_import *out, char *err, size_t errlen)
{
    struct store_import r = {0};
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    if (store_begin_durable(s, "imports", err, errlen) < 0)
        goto unlock;
    rc = get_on(s, s->writer, id, owner, &r, err, errlen);
    if (rc != 0)
        goto end;
    if (r.dropped_by) {
        rc = STORE_CONFLICT;
        goto end;
    }
    char detail[200];
    snprintf(detail, sizeof detail, "dropped by %s", by);
    rc = -1;
    if (!set_text(&r.dropped_by, by) ||
        (r.phase != STORE_IMPORT_FAILED && !set_text(&r.error, detail))) {
        errf(err, errlen, "%s: drop import: out of memory", s->path);
        goto end;
    }
    if (r.phase != STORE_IMPORT_FAILED) {
        r.phase = STORE_IMPORT_FAILED;
        r.phase_ms = now_ms;
        r.ended_ms = now_ms;
    }
    r.cleaning = false;
    if (r.owns_namespace && r.cleanup == STORE_IMPORT_CLEANUP_NONE)
        r.cleanup = STORE_IMPORT_CLEANUP_PENDING;
    int written = update_locked(s, &r, now_ms, err, errlen);
    if (written == 0)
        errf(err, errlen, "%s: drop import %lld: the row changed under the write lock", s->path,
             (long long)id);
    if (written != 1 || add_event(s, r.id, now_ms, "failed", detail, err, errlen) < 0 ||
        release_if_last(s, &r, by, now_ms, err, errlen) < 0 ||
        store_end_durable(s, true, "imports", err, errlen) < 0)
        goto end;
    r.rev++;
    r.updated_ms = now_ms;
    rc = 0;
    goto unlock;
end:
    store_end_durable(s, false, "imports", err, errlen);
unlock:
    store_write_unlock(s);
    if (out && (rc == 0 || rc == STORE_CONFLICT))
        *out = r;
    else
        store_import_clear(&r);
    return rc;
}

/* Runs st (a bound "SELECT id ..." on the reader), finalizes it and
 * unlocks the reader: 0 with *id, STORE_NOT_FOUND, or -1 naming what. */
static int read_one_id(struct store *s, sqlite3_stmt *st, const char *what, int64_t *id,
                       char *err, size_t errlen)
{
    int rc = -1;
    if (st) {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            *id = sqlite3_column_int64(st, 0);
            rc = 0;
        } else if (step == SQLITE_DONE) {
            rc = STORE_NOT_FOUND;
        } else {
            store_fail(s, s->reader, what, err, errlen);
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}

int store_import_find_prestage(struct store *s, const char *reservation, const char *namespace_,
                               int64_t *id, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->read_lock);
    sqlite3_stmt *st = store_prepare(s, s->reader,
                                     "SELECT id FROM import WHERE reservation = ?1"
                                     " AND namespace = ?2 AND prestage AND owns_namespace"
                                     " AND phase = 'ready' ORDER BY created_ms DESC LIMIT 1",
                                     err, errlen);
    if (st) {
        sqlite3_bind_text(st, 1, reservation, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, namespace_, -1, SQLITE_STATIC);
    }
    return read_one_id(s, st, "find prestage import", id, err, errlen);
}

int store_import_returned(struct store *s, const char *namespace_, const char *from_site,
                          int64_t since_ms, int64_t *id, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->read_lock);
    sqlite3_stmt *st = store_prepare(s, s->reader,
                                     "SELECT id FROM import WHERE namespace = ?1 AND from_site = ?2"
                                     " AND created_ms >= ?3 AND owns_namespace"
                                     " ORDER BY created_ms DESC LIMIT 1",
                                     err, errlen);
    if (st) {
        sqlite3_bind_text(st, 1, namespace_, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, from_site, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, since_ms);
    }
    return read_one_id(s, st, "find a returning import", id, err, errlen);
}

/* ---- events, counts ---- */

void store_import_events_free(struct store_import_event *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].phase);
        free(rows[i].detail);
    }
    free(rows);
}

int store_import_events(struct store *s, int64_t id, struct store_import_event **rows, size_t *n,
                        char *err, size_t errlen)
{
    *rows = NULL;
    *n = 0;
    struct store_import_event *out = NULL;
    size_t len = 0, cap = 0;
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(
        s, s->reader,
        "SELECT ts_ms, phase, detail FROM import_event WHERE import_id = ?1 ORDER BY id", err,
        errlen);
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (vec_reserve(out, cap, len + 1) < 0) {
            errf(err, errlen, "%s: import events: out of memory", s->path);
            goto out;
        }
        out[len].ts_ms = sqlite3_column_int64(st, 0);
        out[len].phase = col_text(st, 1);
        out[len].detail = col_text(st, 2);
        len++;
    }
    if (step != SQLITE_DONE) {
        store_fail(s, s->reader, "import events", err, errlen);
        goto out;
    }
    *rows = out;
    *n = len;
    out = NULL;
    len = 0;
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    store_import_events_free(out, len);
    return rc;
}

int store_import_counts(struct store *s, struct store_import_counts *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(s, s->reader,
                                     "SELECT coalesce(sum(" IMPORT_ACTIVE "), 0),"
                                     " coalesce(sum(ready_ms IS NOT NULL), 0),"
                                     " coalesce(sum(phase = 'failed' AND dropped_by IS NULL), 0),"
                                     " coalesce(sum(dropped_by IS NOT NULL), 0) FROM import",
                                     err, errlen);
    if (st) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            c->active = sqlite3_column_int64(st, 0);
            c->ready = sqlite3_column_int64(st, 1);
            c->failed = sqlite3_column_int64(st, 2);
            c->dropped = sqlite3_column_int64(st, 3);
            rc = 0;
        } else {
            store_fail(s, s->reader, "import counts", err, errlen);
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}
