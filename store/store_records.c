/*
 * store_records — the store's records other than telemetry: decisions,
 * API-managed policies, policy states and the audit log (schema 2).
 *
 * These are written a few times an hour, not thousands of times a second,
 * so statements are prepared per call rather than kept: simpler, and the
 * cost is invisible at this rate. Writes go through the writer connection
 * under write_lock, reads through the reader under read_lock, as in
 * store.c. A change and its audit record commit in one transaction, so
 * the log never misses a change nor records one that did not happen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/vec.h"
#include "store/store_internal.h"

/* Prepares sql on db; on failure fills err. */
static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return util_strdup(t ? (const char *)t : "");
}

static int exec_locked(struct store *s, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_exec(s->writer, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(s, s->writer, sql, err, errlen);
    return 0;
}

/* Runs one statement to completion; returns the number of rows changed or -1. */
static int step_done(struct store *s, sqlite3_stmt *st, const char *what, char *err, size_t errlen)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_fail(s, s->writer, what, err, errlen);
    return sqlite3_changes(s->writer);
}

static int audit_locked(struct store *s, int64_t ts_ms, const char *actor, const char *action,
                        const char *target, const char *detail, char *err, size_t errlen)
{
    sqlite3_stmt *st = store_prepare(s, s->writer,
                                     "INSERT INTO audit(ts_ms, actor, action, target, detail) "
                                     "VALUES (?, ?, ?, ?, ?)",
                                     err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, ts_ms);
    sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, target, -1, SQLITE_STATIC);
    if (detail)
        sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
    int rc = step_done(s, st, "audit", err, errlen);
    sqlite3_finalize(st);
    return rc < 0 ? -1 : 0;
}

int store_audit_add(struct store *s, int64_t ts_ms, const char *actor, const char *action,
                    const char *target, const char *detail, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->write_lock);
    int rc = audit_locked(s, ts_ms, actor, action, target, detail, err, errlen);
    store_write_unlock(s);
    return rc;
}

/* ---- decisions ------------------------------------------------------- */

/* The audit record of a transition; store_decision_counts reads the
 * statuses a decision left from these. */
#define DECISION_AUDIT_TARGET "decision %lld"
#define DECISION_AUDIT_DETAIL "%s -> %s"

/* The in-memory decision counts (below) follow each committed write. */
static void tally_note(struct store *s, const char *kind, const char *from, const char *to);
static void tally_forget(struct store *s);

static int state_put_locked(struct store *s, const char *name, const char *body, char *err,
                            size_t errlen)
{
    sqlite3_stmt *st = store_prepare(s, s->writer,
                                     "INSERT INTO policy_state(name, body) VALUES (?1, ?2) "
                                     "ON CONFLICT(name) DO UPDATE SET body = ?2",
                                     err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC);
    int rc = step_done(s, st, "store policy state", err, errlen) < 0 ? -1 : 0;
    sqlite3_finalize(st);
    return rc;
}

int store_decision_add(struct store *s, int64_t ts_ms, const char *policy, const char *kind,
                       const char *status, const char *body, const char *state_body, int64_t *id,
                       char *err, size_t errlen)
{
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (exec_locked(s, "BEGIN IMMEDIATE", err, errlen) < 0)
        goto out;
    st = store_prepare(
        s, s->writer,
        "INSERT INTO decision(ts_ms, policy, kind, status, body) VALUES (?, ?, ?, ?, ?)", err,
        errlen);
    if (!st)
        goto rollback;
    sqlite3_bind_int64(st, 1, ts_ms);
    sqlite3_bind_text(st, 2, policy, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, body, -1, SQLITE_STATIC);
    if (step_done(s, st, "add decision", err, errlen) < 0)
        goto rollback;
    int64_t new_id = sqlite3_last_insert_rowid(s->writer);
    if ((state_body && state_put_locked(s, policy, state_body, err, errlen) < 0) ||
        exec_locked(s, "COMMIT", err, errlen) < 0)
        goto rollback;
    *id = new_id;
    tally_note(s, kind, NULL, status);
    rc = 0;
    goto out;
rollback:
    sqlite3_exec(s->writer, "ROLLBACK", NULL, NULL, NULL);
out:
    sqlite3_finalize(st);
    store_write_unlock(s);
    return rc;
}

int store_decision_last_id(struct store *s, const char *policy, int64_t *id, char *err,
                           size_t errlen)
{
    *id = 0;
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st =
        store_prepare(s, s->reader, "SELECT max(id) FROM decision WHERE policy = ?", err, errlen);
    if (st) {
        sqlite3_bind_text(st, 1, policy, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *id = sqlite3_column_int64(st, 0);
            rc = 0;
        } else {
            store_fail(s, s->reader, "latest decision", err, errlen);
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}

int store_decision_transition(struct store *s, int64_t id, const char *from, const char *to,
                              const char *body, const char *actor, int64_t ts_ms, char *err,
                              size_t errlen)
{
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    char *kind = NULL;
    if (exec_locked(s, "BEGIN IMMEDIATE", err, errlen) < 0)
        goto out;
    st = store_prepare(s, s->writer, "SELECT status, kind FROM decision WHERE id = ?", err,
                       errlen);
    if (!st)
        goto rollback;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        rc = STORE_NOT_FOUND;
        goto rollback;
    }
    if (step != SQLITE_ROW) {
        store_fail(s, s->writer, "read decision", err, errlen);
        goto rollback;
    }
    if (strcmp((const char *)sqlite3_column_text(st, 0), from) != 0) {
        rc = STORE_CONFLICT;
        goto rollback;
    }
    const unsigned char *kind_text = sqlite3_column_text(st, 1);
    kind = util_strdup(kind_text ? (const char *)kind_text : "");
    sqlite3_finalize(st);
    st = store_prepare(s, s->writer, "UPDATE decision SET status = ?, body = ? WHERE id = ?", err,
                       errlen);
    if (!st)
        goto rollback;
    sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, id);
    if (step_done(s, st, "update decision", err, errlen) < 0)
        goto rollback;
    char target[32], detail[128];
    snprintf(target, sizeof target, DECISION_AUDIT_TARGET, (long long)id);
    snprintf(detail, sizeof detail, DECISION_AUDIT_DETAIL, from, to);
    if (audit_locked(s, ts_ms, actor, to, target, detail, err, errlen) < 0 ||
        exec_locked(s, "COMMIT", err, errlen) < 0)
        goto rollback;
    if (kind)
        tally_note(s, kind, from, to);
    else
        tally_forget(s);
    rc = 0;
    goto out;
rollback:
    sqlite3_exec(s->writer, "ROLLBACK", NULL, NULL, NULL);
out:
    free(kind);
    sqlite3_finalize(st);
    store_write_unlock(s);
    return rc;
}

static void row_from(sqlite3_stmt *st, struct store_decision_row *row)
{
    row->id = sqlite3_column_int64(st, 0);
    row->ts_ms = sqlite3_column_int64(st, 1);
    row->policy = col_text(st, 2);
    row->kind = col_text(st, 3);
    row->status = col_text(st, 4);
    row->body = col_text(st, 5);
}

void store_decision_row_clear(struct store_decision_row *row)
{
    free(row->policy);
    free(row->kind);
    free(row->status);
    free(row->body);
    memset(row, 0, sizeof *row);
}

void store_decision_rows_free(struct store_decision_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        store_decision_row_clear(&rows[i]);
    free(rows);
}

int store_decisions(struct store *s, int64_t since_ms, size_t limit,
                    struct store_decision_row **rows, size_t *n, char *err, size_t errlen)
{
    return store_decisions_of(s, NULL, since_ms, limit, rows, n, err, errlen);
}

int store_decisions_of(struct store *s, const char *policy, int64_t since_ms, size_t limit,
                       struct store_decision_row **rows, size_t *n, char *err, size_t errlen)
{
    *rows = NULL;
    *n = 0;
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    struct store_decision_row *out = NULL;
    size_t len = 0, cap = 0;
    sqlite3_stmt *st = store_prepare(s, s->reader,
                                     "SELECT id, ts_ms, policy, kind, status, body FROM decision "
                                     "WHERE ts_ms >= ?1 AND (?3 IS NULL OR policy = ?3) "
                                     "ORDER BY id DESC LIMIT ?2",
                                     err, errlen);
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, since_ms);
    sqlite3_bind_int64(st, 2, limit > (size_t)INT64_MAX ? -1 : (int64_t)limit);
    if (policy)
        sqlite3_bind_text(st, 3, policy, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (vec_reserve(out, cap, len + 1) < 0) {
            errf(err, errlen, "out of memory");
            goto out;
        }
        row_from(st, &out[len++]);
    }
    if (step != SQLITE_DONE) {
        store_fail(s, s->reader, "list decisions", err, errlen);
        goto out;
    }
    *rows = out;
    *n = len;
    out = NULL;
    len = 0;
    rc = 0;
out:
    store_decision_rows_free(out, len);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}

int store_decision_get(struct store *s, int64_t id, struct store_decision_row *row, char *err,
                       size_t errlen)
{
    memset(row, 0, sizeof *row);
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(s, s->reader,
                                     "SELECT id, ts_ms, policy, kind, status, body FROM decision "
                                     "WHERE id = ?",
                                     err, errlen);
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        row_from(st, row);
        rc = 0;
    } else if (step == SQLITE_DONE) {
        rc = STORE_NOT_FOUND;
    } else {
        store_fail(s, s->reader, "read decision", err, errlen);
    }
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}

/* ---- decision counts ------------------------------------------------- */

/* After a committed decision write (write_lock held): the counts follow,
 * if they were read already (else the first reader reads them whole).
 * Out of memory leaves them unknown, so the next reader reads them again
 * from the tables rather than trust a count that missed a change. */
static void tally_note(struct store *s, const char *kind, const char *from, const char *to)
{
    pthread_mutex_lock(&s->counts_lock);
    if (s->tally_loaded && ((from && store_tally_add_locked(s, kind, from, 0, -1) < 0) ||
                            store_tally_add_locked(s, kind, to, 1, 1) < 0))
        store_tally_free(s);
    pthread_mutex_unlock(&s->counts_lock);
}

/* The counts may have missed a change: the next reader reads them anew. */
static void tally_forget(struct store *s)
{
    pthread_mutex_lock(&s->counts_lock);
    store_tally_free(s);
    pthread_mutex_unlock(&s->counts_lock);
}

/* Reads the counts from the tables. write_lock and counts_lock held, so
 * no decision write falls between the read and the counts it fills. */
static int tally_load_locked(struct store *s, char *err, size_t errlen)
{
    /* A decision entered the status it is in now and every status a
     * transition took it out of: its audit records (DECISION_AUDIT_*)
     * name them. So "entered" only grows, and survives restarts. */
    static const char sql[] =
        "WITH now_in AS (SELECT kind, status, count(*) AS n FROM decision GROUP BY kind, status),"
        " left_behind AS ("
        "   SELECT d.kind AS kind, substr(a.detail, 1, instr(a.detail, ' -> ') - 1) AS status,"
        "          count(*) AS n"
        "   FROM audit a JOIN decision d ON d.id = CAST(substr(a.target, 10) AS INTEGER)"
        "   WHERE substr(a.target, 1, 9) = 'decision ' AND instr(a.detail, ' -> ') > 1"
        "   GROUP BY 1, 2),"
        " pairs AS (SELECT kind, status FROM now_in UNION SELECT kind, status FROM left_behind) "
        "SELECT p.kind, p.status, coalesce(i.n, 0) + coalesce(l.n, 0), coalesce(i.n, 0) "
        "FROM pairs p LEFT JOIN now_in i USING (kind, status)"
        " LEFT JOIN left_behind l USING (kind, status) "
        "ORDER BY p.kind, p.status";
    store_tally_free(s);
    sqlite3_stmt *st = store_prepare(s, s->writer, sql, err, errlen);
    if (!st)
        return -1;
    int step, rc = 0;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(st, 0);
        const char *status = (const char *)sqlite3_column_text(st, 1);
        if (store_tally_add_locked(s, kind ? kind : "", status ? status : "",
                             sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3)) < 0)
            rc = errf(err, errlen, "%s: decision counts: out of memory", s->path);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = store_fail(s, s->writer, "count decisions", err, errlen);
    sqlite3_finalize(st);
    if (rc == 0)
        s->tally_loaded = true;
    else
        store_tally_free(s);
    return rc;
}

int store_decision_counts(struct store *s,
                          void (*each)(void *ctx, const char *kind, const char *status,
                                       int64_t entered, int64_t now_in),
                          void *ctx, char *err, size_t errlen)
{
    struct store_tally_copy copy = {0};
    int rc;
    pthread_mutex_lock(&s->counts_lock);
    bool loaded = s->tally_loaded;
    rc = loaded ? store_tally_copy_locked(s, &copy, err, errlen) : 0;
    pthread_mutex_unlock(&s->counts_lock);
    if (!loaded) {
        /* Lock order: write_lock, then counts_lock. */
        pthread_mutex_lock(&s->write_lock);
        pthread_mutex_lock(&s->counts_lock);
        rc = s->tally_loaded ? 0 : tally_load_locked(s, err, errlen);
        if (rc == 0)
            rc = store_tally_copy_locked(s, &copy, err, errlen);
        pthread_mutex_unlock(&s->counts_lock);
        pthread_mutex_unlock(&s->write_lock);
    }
    for (size_t i = 0; rc == 0 && i < copy.n; i++)
        each(ctx, copy.rows[i].kind, copy.rows[i].status, copy.rows[i].entered,
             copy.rows[i].now_in);
    store_tally_copy_free(&copy);
    return rc;
}

/* ---- policies and their states ---------------------------------------- */

int store_policy_put(struct store *s, const char *name, const char *body, const char *actor,
                     int64_t ts_ms, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (exec_locked(s, "BEGIN IMMEDIATE", err, errlen) < 0)
        goto out;
    st = store_prepare(
        s, s->writer,
        "INSERT INTO policy(name, body, updated_ms, updated_by) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT(name) DO UPDATE SET body = ?2, updated_ms = ?3, updated_by = ?4",
        err, errlen);
    if (!st)
        goto rollback;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ts_ms);
    sqlite3_bind_text(st, 4, actor, -1, SQLITE_STATIC);
    char target[160];
    snprintf(target, sizeof target, "policy %s", name);
    if (step_done(s, st, "store policy", err, errlen) < 0 ||
        audit_locked(s, ts_ms, actor, "put", target, body, err, errlen) < 0 ||
        exec_locked(s, "COMMIT", err, errlen) < 0)
        goto rollback;
    rc = 0;
    goto out;
rollback:
    sqlite3_exec(s->writer, "ROLLBACK", NULL, NULL, NULL);
out:
    sqlite3_finalize(st);
    store_write_unlock(s);
    return rc;
}

int store_policy_delete(struct store *s, const char *name, const char *actor, int64_t ts_ms,
                        char *err, size_t errlen)
{
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (exec_locked(s, "BEGIN IMMEDIATE", err, errlen) < 0)
        goto out;
    st = store_prepare(s, s->writer, "DELETE FROM policy WHERE name = ?", err, errlen);
    if (!st)
        goto rollback;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int changed = step_done(s, st, "delete policy", err, errlen);
    if (changed < 0)
        goto rollback;
    if (changed == 0) {
        rc = STORE_NOT_FOUND;
        goto rollback;
    }
    sqlite3_finalize(st);
    st = store_prepare(s, s->writer, "DELETE FROM policy_state WHERE name = ?", err, errlen);
    if (!st)
        goto rollback;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (step_done(s, st, "delete policy state", err, errlen) < 0)
        goto rollback;
    char target[160];
    snprintf(target, sizeof target, "policy %s", name);
    if (audit_locked(s, ts_ms, actor, "delete", target, NULL, err, errlen) < 0 ||
        exec_locked(s, "COMMIT", err, errlen) < 0)
        goto rollback;
    rc = 0;
    goto out;
rollback:
    sqlite3_exec(s->writer, "ROLLBACK", NULL, NULL, NULL);
out:
    sqlite3_finalize(st);
    store_write_unlock(s);
    return rc;
}

/* Lists (name, body) pairs of a two-column query through the reader. */
static int list_pairs(struct store *s, const char *sql,
                      void (*each)(void *ctx, const char *name, const char *body), void *ctx,
                      char *err, size_t errlen)
{
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(s, s->reader, sql, err, errlen);
    if (!st)
        goto out;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        each(ctx, (const char *)sqlite3_column_text(st, 0),
             (const char *)sqlite3_column_text(st, 1));
    if (step != SQLITE_DONE) {
        store_fail(s, s->reader, sql, err, errlen);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}

int store_policies(struct store *s, void (*each)(void *ctx, const char *name, const char *body),
                   void *ctx, char *err, size_t errlen)
{
    return list_pairs(s, "SELECT name, body FROM policy ORDER BY name", each, ctx, err, errlen);
}

int store_policy_state_put(struct store *s, const char *name, const char *body, char *err,
                           size_t errlen)
{
    pthread_mutex_lock(&s->write_lock);
    int rc = state_put_locked(s, name, body, err, errlen);
    store_write_unlock(s);
    return rc;
}

int store_policy_states(struct store *s,
                        void (*each)(void *ctx, const char *name, const char *body), void *ctx,
                        char *err, size_t errlen)
{
    return list_pairs(s, "SELECT name, body FROM policy_state ORDER BY name", each, ctx, err,
                      errlen);
}

/* ---- audit ------------------------------------------------------------ */

void store_audit_rows_free(struct store_audit_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].actor);
        free(rows[i].action);
        free(rows[i].target);
        free(rows[i].detail);
    }
    free(rows);
}

int store_audit(struct store *s, size_t limit, struct store_audit_row **rows, size_t *n, char *err,
                size_t errlen)
{
    *rows = NULL;
    *n = 0;
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    struct store_audit_row *out = NULL;
    size_t len = 0, cap = 0;
    sqlite3_stmt *st = store_prepare(s, s->reader,
                                     "SELECT id, ts_ms, actor, action, target, detail FROM audit "
                                     "ORDER BY id DESC LIMIT ?",
                                     err, errlen);
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, limit > (size_t)INT64_MAX ? -1 : (int64_t)limit);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (vec_reserve(out, cap, len + 1) < 0) {
            errf(err, errlen, "out of memory");
            goto out;
        }
        out[len].id = sqlite3_column_int64(st, 0);
        out[len].ts_ms = sqlite3_column_int64(st, 1);
        out[len].actor = col_text(st, 2);
        out[len].action = col_text(st, 3);
        out[len].target = col_text(st, 4);
        out[len].detail = col_text(st, 5);
        len++;
    }
    if (step != SQLITE_DONE) {
        store_fail(s, s->reader, "read audit", err, errlen);
        goto out;
    }
    *rows = out;
    *n = len;
    out = NULL;
    len = 0;
    rc = 0;
out:
    store_audit_rows_free(out, len);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}
