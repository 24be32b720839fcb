/*
 * store_hold — see store_hold.h. The hold table (schema 4). Statements
 * are prepared per call, as in store_records.c: a decision writes a few
 * rows an hour.
 */
#include "store/store_hold.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/vec.h"
#include "store/store_internal.h"

#define HOLD_COLUMNS                                                                               \
    "peer, id, workload, namespace, kw, decision_id, created_ms, expires_ms, state, ended_ms"

void store_hold_rows_free(struct store_hold *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].peer);
        free(rows[i].id);
        free(rows[i].workload);
        free(rows[i].namespace_);
        free(rows[i].state);
    }
    free(rows);
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return util_strdup(t ? (const char *)t : "");
}

int store_hold_add(struct store *s, const struct store_hold *h, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(s, s->writer,
                                     "INSERT INTO hold(" HOLD_COLUMNS ")"
                                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'active', NULL)",
                                     err, errlen);
    if (st) {
        sqlite3_bind_text(st, 1, h->peer, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, h->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, h->workload, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, h->namespace_ ? h->namespace_ : h->workload, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 5, h->kw);
        sqlite3_bind_int64(st, 6, h->decision_id);
        sqlite3_bind_int64(st, 7, h->created_ms);
        sqlite3_bind_int64(st, 8, h->expires_ms);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0
                                             : store_fail(s, s->writer, "record hold", err, errlen);
    }
    sqlite3_finalize(st);
    store_write_unlock(s);
    return rc;
}

int store_hold_active(struct store *s, int64_t now_ms, struct store_hold **rows, size_t *n,
                      char *err, size_t errlen)
{
    *rows = NULL;
    *n = 0;
    struct store_hold *out = NULL;
    size_t len = 0, cap = 0;
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st =
        store_prepare(s, s->reader,
                      "SELECT " HOLD_COLUMNS " FROM hold"
                      " WHERE (state = 'active' AND expires_ms > ?1) OR state = 'confirmed'"
                      " ORDER BY created_ms",
                      err, errlen);
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, now_ms);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (vec_reserve(out, cap, len + 1) < 0) {
            errf(err, errlen, "%s: holds: out of memory", s->path);
            goto out;
        }
        struct store_hold *h = &out[len++];
        *h = (struct store_hold){
            .peer = col_text(st, 0),
            .id = col_text(st, 1),
            .workload = col_text(st, 2),
            .namespace_ = col_text(st, 3),
            .kw = sqlite3_column_double(st, 4),
            .decision_id = sqlite3_column_int64(st, 5),
            .created_ms = sqlite3_column_int64(st, 6),
            .expires_ms = sqlite3_column_int64(st, 7),
            .state = col_text(st, 8),
            .ended_ms = sqlite3_column_int64(st, 9),
        };
    }
    if (step != SQLITE_DONE) {
        store_fail(s, s->reader, "holds", err, errlen);
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
    store_hold_rows_free(out, len);
    return rc;
}

int store_hold_release(struct store *s, const char *peer, const char *id, int64_t now_ms, char *err,
                       size_t errlen)
{
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(s, s->writer,
                                     "UPDATE hold SET state = 'released', ended_ms = ?3"
                                     " WHERE peer = ?1 AND id = ?2"
                                     " AND state IN ('active', 'confirmed')",
                                     err, errlen);
    if (st) {
        sqlite3_bind_text(st, 1, peer, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now_ms);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = store_fail(s, s->writer, "release hold", err, errlen);
        else
            rc = sqlite3_changes(s->writer) > 0 ? 0 : STORE_NOT_FOUND;
    }
    sqlite3_finalize(st);
    store_write_unlock(s);
    return rc;
}

int store_hold_prune(struct store *s, int64_t cutoff_ms, int64_t *deleted, char *err, size_t errlen)
{
    *deleted = 0;
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(s, s->writer,
                                     "DELETE FROM hold WHERE (state != 'active' AND ended_ms < ?1)"
                                     " OR (state = 'active' AND expires_ms < ?1)",
                                     err, errlen);
    if (st) {
        sqlite3_bind_int64(st, 1, cutoff_ms);
        if (sqlite3_step(st) == SQLITE_DONE) {
            *deleted = sqlite3_changes(s->writer);
            rc = 0;
        } else {
            rc = store_fail(s, s->writer, "prune holds", err, errlen);
        }
    }
    sqlite3_finalize(st);
    store_write_unlock(s);
    return rc;
}
