/*
 * store_resv — see store_resv.h. The reservation table (schema 3).
 *
 * Like store_records.c, statements are prepared per call: a site grants
 * a few reservations an hour. Writes hold write_lock on the writer
 * connection for their whole transaction, reads go through the reader.
 */
#include "store/store_resv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/util.h"
#include "lib/vec.h"
#include "store/store_internal.h"

/* Tries at a fresh id when a random one is taken: with 64 random bits a
 * second try is already never needed, but a collision must not become a
 * 500. */
#define RESV_ID_TRIES 4

#define RESV_COLUMNS                                                                               \
    "id, from_site, workload, granted_by, kw, created_ms, expires_ms, confirmed_ms, state, "       \
    "ended_ms, ended_by"

/* Counting at ?1 (ms): see store_resv.h. */
#define RESV_COUNTING "state = 'active' AND (confirmed_ms IS NOT NULL OR expires_ms > ?1)"

static const char *const state_names[] = {"active", "released", "expired"};

const char *store_resv_state_name(enum store_resv_state s)
{
    return (size_t)s < ARRAY_LEN(state_names) ? state_names[s] : "active";
}

static enum store_resv_state state_of(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_LEN(state_names); i++)
        if (strcmp(name, state_names[i]) == 0)
            return (enum store_resv_state)i;
    return STORE_RESV_ACTIVE;
}

void store_resv_clear(struct store_resv *r)
{
    if (!r)
        return;
    free(r->from_site);
    free(r->workload);
    free(r->granted_by);
    free(r->ended_by);
    memset(r, 0, sizeof *r);
}

void store_resv_rows_free(struct store_resv *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        store_resv_clear(&rows[i]);
    free(rows);
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? util_strdup((const char *)t) : NULL;
}

/* A row of RESV_COLUMNS into r. */
static void row_from(sqlite3_stmt *st, struct store_resv *r)
{
    memset(r, 0, sizeof *r);
    const unsigned char *id = sqlite3_column_text(st, 0);
    util_strlcpy(r->id, id ? (const char *)id : "", sizeof r->id);
    r->from_site = col_text(st, 1);
    r->workload = col_text(st, 2);
    r->granted_by = col_text(st, 3);
    r->kw = sqlite3_column_double(st, 4);
    r->created_ms = sqlite3_column_int64(st, 5);
    r->expires_ms = sqlite3_column_int64(st, 6);
    r->confirmed_ms = sqlite3_column_int64(st, 7);
    r->state = state_of((const char *)sqlite3_column_text(st, 8));
    r->ended_ms = sqlite3_column_int64(st, 9);
    r->ended_by = col_text(st, 10);
}

/* Collects every row st yields; on failure frees what it had. */
static int rows_from(const struct store *s, sqlite3 *db, sqlite3_stmt *st, struct store_resv **rows,
                     size_t *n, char *err, size_t errlen)
{
    struct store_resv *out = NULL;
    size_t len = 0, cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (vec_reserve(out, cap, len + 1) < 0) {
            store_resv_rows_free(out, len);
            return errf(err, errlen, "%s: reservations: out of memory", s->path);
        }
        row_from(st, &out[len++]);
    }
    if (step != SQLITE_DONE) {
        store_resv_rows_free(out, len);
        return store_fail(s, db, "reservations", err, errlen);
    }
    *rows = out;
    *n = len;
    return 0;
}

/* ---- grant ---- */

static int new_id(char *out, size_t n, char *err, size_t errlen)
{
    unsigned char bytes[8];
    size_t got = 0;
    while (got < sizeof bytes) {
        ssize_t r = getrandom(bytes + got, sizeof bytes - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errf(err, errlen, "reservation id: getrandom: %s", strerror(errno));
        got += (size_t)r;
    }
    snprintf(out, n, "rsv-%02x%02x%02x%02x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3],
             bytes[4], bytes[5], bytes[6], bytes[7]);
    return 0;
}

static int active_sum_locked(struct store *s, sqlite3 *db, int64_t now_ms, double *kw, char *err,
                             size_t errlen)
{
    sqlite3_stmt *st = store_prepare(
        s, db, "SELECT coalesce(sum(kw), 0) FROM reservation WHERE " RESV_COUNTING, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now_ms);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        *kw = sqlite3_column_double(st, 0);
    else
        rc = store_fail(s, db, "reserved kW", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

/* Inserts the row under a fresh id; retries when the id is taken. */
static int insert_locked(struct store *s, const struct store_resv_request *req, int64_t now_ms,
                         char *id, char *err, size_t errlen)
{
    sqlite3_stmt *st =
        store_prepare(s, s->writer,
                      "INSERT INTO reservation(id, from_site, workload, granted_by, kw, "
                      "created_ms, expires_ms, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'active')",
                      err, errlen);
    if (!st)
        return -1;
    int rc = -1;
    for (int attempt = 0; attempt < RESV_ID_TRIES; attempt++) {
        if (new_id(id, STORE_RESV_ID_SIZE, err, errlen) < 0)
            break;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, req->from_site, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, req->workload, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, req->granted_by, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 5, req->kw);
        sqlite3_bind_int64(st, 6, now_ms);
        sqlite3_bind_int64(st, 7, now_ms + req->ttl_ms);
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE) {
            rc = 0;
            break;
        }
        if (sqlite3_extended_errcode(s->writer) != SQLITE_CONSTRAINT_PRIMARYKEY) {
            store_fail(s, s->writer, "grant reservation", err, errlen);
            break;
        }
        errf(err, errlen, "%s: grant reservation: no free id after %d tries", s->path,
             RESV_ID_TRIES);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_resv_grant(struct store *s, const struct store_resv_request *req, double limit_kw,
                     int64_t now_ms, struct store_resv *out, double *active_kw, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    double sum = 0;
    if (store_begin_durable(s, "reservations", err, errlen) < 0)
        goto unlock;
    if (active_sum_locked(s, s->writer, now_ms, &sum, err, errlen) < 0)
        goto end;
    if (active_kw)
        *active_kw = sum;
    /* Written so that a NaN limit refuses too. */
    if (!(sum + req->kw <= limit_kw)) {
        rc = STORE_CONFLICT;
        goto end;
    }
    if (insert_locked(s, req, now_ms, out->id, err, errlen) < 0)
        goto end;
    if (store_end_durable(s, true, "reservations", err, errlen) < 0)
        goto unlock;
    out->from_site = util_strdup(req->from_site);
    out->workload = util_strdup(req->workload);
    out->granted_by = util_strdup(req->granted_by);
    out->kw = req->kw;
    out->created_ms = now_ms;
    out->expires_ms = now_ms + req->ttl_ms;
    out->state = STORE_RESV_ACTIVE;
    rc = 0;
    goto unlock;
end:
    store_end_durable(s, false, "reservations", err, errlen);
unlock:
    store_write_unlock(s);
    if (rc != 0)
        memset(out->id, 0, sizeof out->id);
    return rc;
}

/* ---- release, confirm ---- */

/* Reads reservation id into *r inside the writer's transaction; with
 * owner, only one granted to that token. 0, STORE_NOT_FOUND or -1. */
static int get_locked(struct store *s, sqlite3 *db, const char *id, const char *owner,
                      struct store_resv *r, char *err, size_t errlen)
{
    sqlite3_stmt *st = store_prepare(s, db,
                                     "SELECT " RESV_COLUMNS " FROM reservation WHERE id = ?1"
                                     " AND (?2 IS NULL OR granted_by = ?2)",
                                     err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
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
        rc = store_fail(s, db, "read reservation", err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Runs one UPDATE of reservation id with the bound values; -1 on failure. */
static int update_locked(struct store *s, const char *sql, const char *id, int64_t ms,
                         const char *by, char *err, size_t errlen)
{
    sqlite3_stmt *st = store_prepare(s, s->writer, sql, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ms);
    if (by)
        sqlite3_bind_text(st, 3, by, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE
                 ? 0
                 : store_fail(s, s->writer, "update reservation", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

int store_resv_release(struct store *s, const char *id, const char *owner, const char *by,
                       int64_t now_ms, struct store_resv *out, char *err, size_t errlen)
{
    struct store_resv r = {0};
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    if (store_begin_durable(s, "reservations", err, errlen) < 0)
        goto unlock;
    rc = get_locked(s, s->writer, id, owner, &r, err, errlen);
    if (rc != 0)
        goto end;
    if (r.state != STORE_RESV_ACTIVE) {
        rc = STORE_CONFLICT;
        goto end;
    }
    if (update_locked(s,
                      "UPDATE reservation SET state = 'released', ended_ms = ?2, ended_by = ?3"
                      " WHERE id = ?1",
                      id, now_ms, by, err, errlen) < 0 ||
        store_end_durable(s, true, "reservations", err, errlen) < 0) {
        rc = -1;
        goto end;
    }
    r.state = STORE_RESV_RELEASED;
    r.ended_ms = now_ms;
    free(r.ended_by);
    r.ended_by = util_strdup(by);
    goto unlock;
end:
    store_end_durable(s, false, "reservations", err, errlen);
unlock:
    store_write_unlock(s);
    if (out && (rc == 0 || rc == STORE_CONFLICT))
        *out = r;
    else
        store_resv_clear(&r);
    return rc;
}

int store_resv_confirm(struct store *s, const char *id, int64_t now_ms, char *err, size_t errlen)
{
    struct store_resv r = {0};
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    if (store_begin_durable(s, "reservations", err, errlen) < 0)
        goto unlock;
    rc = get_locked(s, s->writer, id, NULL, &r, err, errlen);
    if (rc != 0)
        goto end;
    if (r.state != STORE_RESV_ACTIVE || (!r.confirmed_ms && r.expires_ms <= now_ms)) {
        rc = STORE_CONFLICT;
        goto end;
    }
    if (r.confirmed_ms)
        goto end; /* confirmed before: nothing to write */
    if (update_locked(s, "UPDATE reservation SET confirmed_ms = ?2 WHERE id = ?1", id, now_ms, NULL,
                      err, errlen) < 0 ||
        store_end_durable(s, true, "reservations", err, errlen) < 0)
        rc = -1;
    goto unlock;
end:
    store_end_durable(s, false, "reservations", err, errlen);
unlock:
    store_write_unlock(s);
    store_resv_clear(&r);
    return rc;
}

/* ---- expiry, reading, retention ---- */

int store_resv_expire(struct store *s, int64_t now_ms, struct store_resv **rows, size_t *n,
                      char *err, size_t errlen)
{
    *rows = NULL;
    *n = 0;
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    /* One statement in autocommit: its rows are the ones it changed, and
     * they are committed when it finishes. Marking an expiry needs no
     * fsync: lost to a power cut, it is found and reported again. */
    sqlite3_stmt *st =
        store_prepare(s, s->writer,
                      "UPDATE reservation SET state = 'expired', ended_ms = expires_ms"
                      " WHERE state = 'active' AND confirmed_ms IS NULL AND expires_ms <= ?1"
                      " RETURNING " RESV_COLUMNS,
                      err, errlen);
    if (st) {
        sqlite3_bind_int64(st, 1, now_ms);
        rc = rows_from(s, s->writer, st, rows, n, err, errlen);
    }
    sqlite3_finalize(st);
    store_write_unlock(s);
    return rc;
}

int store_resv_next_expiry(struct store *s, int64_t *expires_ms, char *err, size_t errlen)
{
    *expires_ms = 0;
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(s, s->reader,
                                     "SELECT coalesce(min(expires_ms), 0) FROM reservation"
                                     " WHERE state = 'active' AND confirmed_ms IS NULL",
                                     err, errlen);
    if (st) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            *expires_ms = sqlite3_column_int64(st, 0);
            rc = 0;
        } else {
            rc = store_fail(s, s->reader, "next reservation expiry", err, errlen);
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}

int store_resv_active_kw(struct store *s, int64_t now_ms, double *kw, char *err, size_t errlen)
{
    *kw = 0;
    pthread_mutex_lock(&s->read_lock);
    int rc = active_sum_locked(s, s->reader, now_ms, kw, err, errlen);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}

int store_resv_list(struct store *s, int64_t now_ms, bool include_ended, const char *owner,
                    struct store_resv **rows, size_t *n, char *err, size_t errlen)
{
    *rows = NULL;
    *n = 0;
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st =
        store_prepare(s, s->reader,
                      "SELECT " RESV_COLUMNS " FROM reservation"
                      " WHERE (?2 OR " RESV_COUNTING ") AND (?3 IS NULL OR granted_by = ?3)"
                      " ORDER BY created_ms, id",
                      err, errlen);
    if (st) {
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int(st, 2, include_ended);
        if (owner)
            sqlite3_bind_text(st, 3, owner, -1, SQLITE_STATIC);
        rc = rows_from(s, s->reader, st, rows, n, err, errlen);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}

int store_resv_get(struct store *s, const char *id, struct store_resv *out, char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->read_lock);
    int rc = get_locked(s, s->reader, id, NULL, out, err, errlen);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}

int store_resv_prune(struct store *s, int64_t cutoff_ms, int64_t *deleted, char *err, size_t errlen)
{
    if (deleted)
        *deleted = 0;
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(
        s, s->writer, "DELETE FROM reservation WHERE state != 'active' AND ended_ms < ?1", err,
        errlen);
    if (st) {
        sqlite3_bind_int64(st, 1, cutoff_ms);
        if (sqlite3_step(st) == SQLITE_DONE) {
            rc = 0;
            if (deleted)
                *deleted = sqlite3_changes(s->writer);
        } else {
            store_fail(s, s->writer, "reservations retention", err, errlen);
        }
    }
    sqlite3_finalize(st);
    store_write_unlock(s);
    return rc;
}
