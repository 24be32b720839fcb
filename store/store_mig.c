/*
 * store_mig — see store_mig.h. The migration tables (schema 5).
 *
 * One table of column descriptions (mig_cols) drives the INSERT, the
 * UPDATE and the SELECT, so a column is added in one place and the three
 * cannot disagree on the order. Statements are prepared per call: a
 * migration changes a few times a minute at most.
 */
#include "store/store_mig.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/util.h"
#include "lib/vec.h"
#include "store/store_internal.h"

static const char *const rate_kinds[STORE_RATE_KINDS] = {"initial", "delta", "restore", "fixed"};

const char *store_mig_rate_kind_name(enum store_mig_rate_kind k)
{
    return (size_t)k < STORE_RATE_KINDS ? rate_kinds[k] : "initial";
}

/* ---- the columns ---- */

enum col_type {
    C_TEXT,     /* char array; '' for "" */
    C_RESULT,   /* char array; NULL for "" (the unique index counts NULLs as running) */
    C_I64,      /* int64_t */
    C_INT,      /* int */
    C_BOOL,     /* bool as 0/1 */
    C_REAL,     /* double; NULL for NAN, read back as NAN */
    C_REPLICAS, /* replicas[] + nreplicas as a JSON object {"deployment/web": 3} */
};

struct col {
    const char *name;
    enum col_type type;
    size_t off, size;
};

#define COL(name, type, field)                                                                     \
    {                                                                                              \
        name, type, offsetof(struct store_mig, field), sizeof(((struct store_mig *)0)->field)      \
    }

/* Every column save writes, in table order; id and abort_* are apart. */
static const struct col mig_cols[] = {
    COL("workload", C_TEXT, workload),
    COL("namespace", C_TEXT, namespace_),
    COL("peer", C_TEXT, peer),
    COL("reservation", C_TEXT, reservation),
    COL("hold_expires_ms", C_I64, hold_expires_ms),
    COL("decision_id", C_I64, decision_id),
    COL("kw", C_REAL, kw),
    COL("stateless", C_BOOL, stateless),
    COL("data_gb", C_REAL, data_gb),
    COL("hostname", C_TEXT, hostname),
    COL("quiesce", C_TEXT, quiesce),
    COL("phase", C_TEXT, phase),
    COL("step", C_INT, step),
    COL("result", C_RESULT, result),
    COL("created_ms", C_I64, created_ms),
    COL("updated_ms", C_I64, updated_ms),
    COL("ended_ms", C_I64, ended_ms),
    COL("phase_started_ms", C_I64, phase_started_ms),
    COL("step_started_ms", C_I64, step_started_ms),
    COL("retry_at_ms", C_I64, retry_at_ms),
    COL("seq", C_INT, seq),
    COL("backup", C_TEXT, backup),
    COL("backup_started_ms", C_I64, backup_started_ms),
    COL("last_backup", C_TEXT, last_backup),
    COL("last_backup_partial", C_BOOL, last_backup_partial),
    COL("last_backup_s", C_REAL, last_backup_s),
    COL("deltas", C_INT, deltas),
    COL("prev_delta_s", C_REAL, prev_delta_s),
    COL("last_delta_gb", C_REAL, last_delta_gb),
    COL("next_backup_ms", C_I64, next_backup_ms),
    COL("attempts", C_INT, attempts),
    COL("import_id", C_TEXT, import_id),
    COL("import_requested", C_BOOL, import_requested),
    COL("prestage_backup", C_TEXT, prestage_backup),
    COL("prestage_id", C_TEXT, prestage_id),
    COL("prestage_state", C_TEXT, prestage_state),
    COL("prestage_started_ms", C_I64, prestage_started_ms),
    COL("replicas", C_REPLICAS, replicas),
    COL("replicas_recorded", C_BOOL, replicas_recorded),
    COL("scaled", C_BOOL, scaled),
    COL("quiesced", C_BOOL, quiesced),
    COL("data_mover", C_BOOL, data_mover),
    COL("downtime_start_ms", C_I64, downtime_start_ms),
    COL("downtime_s", C_REAL, downtime_s),
    COL("estimated_downtime_s", C_REAL, estimated_downtime_s),
    COL("bytes", C_REAL, bytes),
    COL("precopy_s", C_REAL, precopy_s),
    COL("delta_s", C_REAL, delta_s),
    COL("switchover_s", C_REAL, switchover_s),
    COL("restoring_s", C_REAL, restoring_s),
    COL("restore_s", C_REAL, restore_s),
    COL("cutover_s", C_REAL, cutover_s),
    COL("error", C_TEXT, error),
    COL("rollback_from", C_TEXT, rollback_from),
    COL("reason", C_TEXT, reason),
    COL("traffic_switched_ms", C_I64, traffic_switched_ms),
    COL("released_ms", C_I64, released_ms),
    COL("retain_until_ms", C_I64, retain_until_ms),
    COL("source_deleted_ms", C_I64, source_deleted_ms),
};
#define NCOLS ARRAY_LEN(mig_cols)

/* SQL built from mig_cols once per call (cheap next to the fsync). */
enum sql_kind { SQL_INSERT, SQL_UPDATE, SQL_SELECT };

static char *mig_sql(enum sql_kind kind, const char *tail)
{
    struct strbuf b = {0};
    if (kind == SQL_INSERT) {
        strbuf_puts(&b, "INSERT INTO migration(");
        for (size_t i = 0; i < NCOLS; i++)
            strbuf_printf(&b, "%s%s", i ? ", " : "", mig_cols[i].name);
        strbuf_puts(&b, ") VALUES (");
        for (size_t i = 0; i < NCOLS; i++)
            strbuf_printf(&b, "%s?%zu", i ? ", " : "", i + 1);
        strbuf_puts(&b, ")");
    } else if (kind == SQL_UPDATE) {
        strbuf_puts(&b, "UPDATE migration SET ");
        for (size_t i = 0; i < NCOLS; i++)
            strbuf_printf(&b, "%s%s = ?%zu", i ? ", " : "", mig_cols[i].name, i + 1);
        strbuf_printf(&b, " WHERE id = ?%zu", NCOLS + 1);
    } else {
        strbuf_puts(&b, "SELECT id, abort_requested, abort_by");
        for (size_t i = 0; i < NCOLS; i++)
            strbuf_printf(&b, ", %s", mig_cols[i].name);
        strbuf_puts(&b, " FROM migration");
    }
    if (tail)
        strbuf_puts(&b, tail);
    return strbuf_take(&b);
}

static char *replicas_json(const struct store_mig *m)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o && i < m->nreplicas; i++)
        if (!cJSON_AddNumberToObject(o, m->replicas[i].key, m->replicas[i].replicas)) {
            cJSON_Delete(o);
            o = NULL;
        }
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

/* Our own text, but the file may have been edited: whatever does not fit
 * is left out rather than trusted. */
static void replicas_parse(const char *text, struct store_mig *m)
{
    m->nreplicas = 0;
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        if (m->nreplicas >= STORE_MIG_MAX_REPLICAS || !cJSON_IsNumber(it) || !it->string ||
            strlen(it->string) >= STORE_MIG_REPLICA_KEY_MAX)
            continue;
        struct store_mig_replica *r = &m->replicas[m->nreplicas++];
        util_strlcpy(r->key, it->string, sizeof r->key);
        r->replicas = (int32_t)it->valuedouble;
    }
    cJSON_Delete(o);
}

/* Binds m's columns as ?1..?NCOLS. Returns 0, or -1 out of memory. */
static int bind_cols(sqlite3_stmt *st, const struct store_mig *m)
{
    for (size_t i = 0; i < NCOLS; i++) {
        const struct col *c = &mig_cols[i];
        const char *p = (const char *)m + c->off;
        int at = (int)i + 1;
        switch (c->type) {
        case C_TEXT:
            sqlite3_bind_text(st, at, p, -1, SQLITE_TRANSIENT);
            break;
        case C_RESULT:
            if (*p)
                sqlite3_bind_text(st, at, p, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(st, at);
            break;
        case C_I64:
            sqlite3_bind_int64(st, at, *(const int64_t *)(const void *)p);
            break;
        case C_INT:
            sqlite3_bind_int(st, at, *(const int *)(const void *)p);
            break;
        case C_BOOL:
            sqlite3_bind_int(st, at, *(const bool *)(const void *)p ? 1 : 0);
            break;
        case C_REAL: {
            double v = *(const double *)(const void *)p;
            if (isfinite(v))
                sqlite3_bind_double(st, at, v);
            else
                sqlite3_bind_null(st, at);
            break;
        }
        case C_REPLICAS: {
            char *text = replicas_json(m);
            if (!text)
                return -1;
            sqlite3_bind_text(st, at, text, -1, SQLITE_TRANSIENT);
            free(text);
            break;
        }
        }
    }
    return 0;
}

/* Reads a row of mig_sql(SQL_SELECT) into out. */
static void read_row(sqlite3_stmt *st, struct store_mig *out)
{
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(st, 0);
    out->abort_requested = sqlite3_column_int(st, 1) != 0;
    const unsigned char *by = sqlite3_column_text(st, 2);
    util_strlcpy(out->abort_by, by ? (const char *)by : "", sizeof out->abort_by);
    for (size_t i = 0; i < NCOLS; i++) {
        const struct col *c = &mig_cols[i];
        char *p = (char *)out + c->off;
        int at = (int)i + 3;
        bool null = sqlite3_column_type(st, at) == SQLITE_NULL;
        switch (c->type) {
        case C_TEXT:
        case C_RESULT: {
            const unsigned char *t = sqlite3_column_text(st, at);
            util_strlcpy(p, t ? (const char *)t : "", c->size);
            break;
        }
        case C_I64:
            *(int64_t *)(void *)p = sqlite3_column_int64(st, at);
            break;
        case C_INT:
            *(int *)(void *)p = sqlite3_column_int(st, at);
            break;
        case C_BOOL:
            *(bool *)(void *)p = sqlite3_column_int(st, at) != 0;
            break;
        case C_REAL:
            *(double *)(void *)p = null ? NAN : sqlite3_column_double(st, at);
            break;
        case C_REPLICAS:
            replicas_parse((const char *)sqlite3_column_text(st, at), out);
            break;
        }
    }
}

/* ---- writes ---- */

static int add_event_locked(struct store *s, int64_t id, int64_t ts_ms, const char *phase,
                            const char *detail, char *err, size_t errlen)
{
    sqlite3_stmt *st = store_prepare(
        s, s->writer,
        "INSERT INTO migration_event(migration_id, ts_ms, phase, detail) VALUES (?1, ?2, ?3, ?4)",
        err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, ts_ms);
    sqlite3_bind_text(st, 3, phase, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, detail, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE
                 ? 0
                 : store_fail(s, s->writer, "migration event", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

/* A statement on hold (peer ?1, id ?2, and ?3 = ts_ms unless 0);
 * *changes gets the rows it changed. */
static int exec_hold(struct store *s, const char *sql, const char *peer, const char *id,
                     int64_t ts_ms, int *changes, char *err, size_t errlen)
{
    sqlite3_stmt *st = store_prepare(s, s->writer, sql, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, peer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    if (ts_ms)
        sqlite3_bind_int64(st, 3, ts_ms);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, s->writer, "hold", err, errlen);
    *changes = sqlite3_changes(s->writer);
    sqlite3_finalize(st);
    return rc;
}

static int insert_hold_locked(struct store *s, const struct store_hold *h, char *err, size_t errlen)
{
    sqlite3_stmt *st = store_prepare(
        s, s->writer,
        "INSERT INTO hold(peer, id, workload, namespace, kw, decision_id, created_ms, expires_ms,"
        " state, ended_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'confirmed', NULL)",
        err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, h->peer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, h->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, h->workload, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, h->namespace_ ? h->namespace_ : h->workload, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 5, h->kw);
    sqlite3_bind_int64(st, 6, h->decision_id);
    sqlite3_bind_int64(st, 7, h->created_ms);
    sqlite3_bind_int64(st, 8, h->expires_ms);
    int rc =
        sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, s->writer, "record hold", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

int store_mig_create(struct store *s, const struct store_mig *m, const struct store_hold *hold,
                     const char *event, int64_t *id, char *err, size_t errlen)
{
    char *sql = mig_sql(SQL_INSERT, NULL);
    if (!sql)
        return errf(err, errlen, "%s: migration: out of memory", s->path);
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (store_begin_durable(s, "migration", err, errlen) < 0)
        goto out;
    int changes = 0;
    if (hold) {
        if (insert_hold_locked(s, hold, err, errlen) < 0)
            goto out;
    } else {
        if (exec_hold(s,
                      "UPDATE hold SET state = 'confirmed' WHERE peer = ?1 AND id = ?2"
                      " AND state = 'active'",
                      m->peer, m->reservation, 0, &changes, err, errlen) < 0)
            goto out;
        if (changes == 0) {
            errf(err, errlen, "no active hold %s at %s", m->reservation, m->peer);
            rc = STORE_NOT_FOUND;
            goto out;
        }
    }
    st = store_prepare(s, s->writer, sql, err, errlen);
    if (!st)
        goto out;
    if (bind_cols(st, m) < 0) {
        errf(err, errlen, "%s: migration: out of memory", s->path);
        goto out;
    }
    int step = sqlite3_step(st);
    if ((step & 0xff) == SQLITE_CONSTRAINT) {
        errf(err, errlen, "%s already has a migration running", m->workload);
        rc = STORE_CONFLICT;
        goto out;
    }
    if (step != SQLITE_DONE) {
        store_fail(s, s->writer, "record migration", err, errlen);
        goto out;
    }
    int64_t new_id = sqlite3_last_insert_rowid(s->writer);
    if (event && add_event_locked(s, new_id, m->created_ms, m->phase, event, err, errlen) < 0)
        goto out;
    if (store_end_durable(s, true, "migration", err, errlen) < 0)
        goto out;
    *id = new_id;
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc != 0)
        store_end_durable(s, false, "migration", NULL, 0);
    store_write_unlock(s);
    free(sql);
    return rc;
}

/* The EWMA of one (peer, kind): the first sample is the average. */
static int add_rate_locked(struct store *s, const char *peer, const struct store_mig_rate_sample *r,
                           double alpha, int64_t now_ms, char *err, size_t errlen)
{
    /* A fixed time of 0 is a measurement (the transfers explained it all). */
    if (!isfinite(r->gb_per_min) || (size_t)r->kind >= STORE_RATE_KINDS ||
        (r->kind == STORE_RATE_FIXED ? r->gb_per_min < 0 : r->gb_per_min <= 0))
        return 0;
    sqlite3_stmt *st = store_prepare(
        s, s->writer,
        "INSERT INTO migration_rate(peer, kind, gb_per_min, samples, updated_ms)"
        " VALUES (?1, ?2, ?3, 1, ?5) ON CONFLICT (peer, kind) DO UPDATE SET"
        " gb_per_min = gb_per_min * (1 - ?4) + ?3 * ?4, samples = samples + 1, updated_ms = ?5",
        err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, peer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rate_kinds[r->kind], -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, r->gb_per_min);
    sqlite3_bind_double(st, 4, alpha > 0 && alpha <= 1 ? alpha : 1);
    sqlite3_bind_int64(st, 5, now_ms);
    int rc = sqlite3_step(st) == SQLITE_DONE
                 ? 0
                 : store_fail(s, s->writer, "migration rate", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

int store_mig_save(struct store *s, const struct store_mig *m,
                   const struct store_mig_save_extra *extra, char *err, size_t errlen)
{
    char *sql = mig_sql(SQL_UPDATE, NULL);
    if (!sql)
        return errf(err, errlen, "%s: migration: out of memory", s->path);
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (store_begin_durable(s, "migration", err, errlen) < 0)
        goto out;
    st = store_prepare(s, s->writer, sql, err, errlen);
    if (!st)
        goto out;
    if (bind_cols(st, m) < 0) {
        errf(err, errlen, "%s: migration: out of memory", s->path);
        goto out;
    }
    sqlite3_bind_int64(st, (int)NCOLS + 1, m->id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        store_fail(s, s->writer, "save migration", err, errlen);
        goto out;
    }
    if (sqlite3_changes(s->writer) == 0) {
        errf(err, errlen, "no migration %lld", (long long)m->id);
        rc = STORE_NOT_FOUND;
        goto out;
    }
    if (extra && extra->event &&
        add_event_locked(s, m->id, m->updated_ms, m->phase, extra->event, err, errlen) < 0)
        goto out;
    if (extra && extra->release_hold) {
        int changes;
        if (exec_hold(s,
                      "UPDATE hold SET state = 'released', ended_ms = ?3 WHERE peer = ?1"
                      " AND id = ?2 AND state IN ('active', 'confirmed')",
                      m->peer, m->reservation, m->updated_ms, &changes, err, errlen) < 0)
            goto out;
    }
    for (size_t i = 0; extra && i < extra->nrates && i < ARRAY_LEN(extra->rates); i++)
        if (add_rate_locked(s, m->peer, &extra->rates[i], extra->rate_alpha, m->updated_ms, err,
                            errlen) < 0)
            goto out;
    if (store_end_durable(s, true, "migration", err, errlen) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc != 0)
        store_end_durable(s, false, "migration", NULL, 0);
    store_write_unlock(s);
    free(sql);
    return rc;
}

int store_mig_abort(struct store *s, int64_t id, const char *actor, int64_t now_ms, char *why,
                    size_t whylen, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->write_lock);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (store_begin_durable(s, "migration", err, errlen) < 0)
        goto out;
    st = store_prepare(s, s->writer,
                       "SELECT result, traffic_switched_ms, phase, abort_requested"
                       " FROM migration WHERE id = ?1",
                       err, errlen);
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        rc = STORE_NOT_FOUND;
        goto out;
    }
    if (step != SQLITE_ROW) {
        store_fail(s, s->writer, "migration", err, errlen);
        goto out;
    }
    const unsigned char *result = sqlite3_column_text(st, 0);
    int64_t switched = sqlite3_column_int64(st, 1);
    char phase[STORE_MIG_PHASE_MAX]; /* kept past the statement's end */
    const unsigned char *ph = sqlite3_column_text(st, 2);
    util_strlcpy(phase, ph ? (const char *)ph : "", sizeof phase);
    if (result) {
        snprintf(why, whylen, "migration %lld has ended (%s)", (long long)id, (const char *)result);
        rc = STORE_CONFLICT;
        goto out;
    }
    if (switched) {
        snprintf(why, whylen,
                 "migration %lld has cut over: traffic already goes to the peer; it cannot be "
                 "rolled back",
                 (long long)id);
        rc = STORE_CONFLICT;
        goto out;
    }
    if (strcmp(phase, "rolling-back") == 0) {
        snprintf(why, whylen, "migration %lld is already rolling back", (long long)id);
        rc = STORE_CONFLICT;
        goto out;
    }
    sqlite3_finalize(st);
    st = store_prepare(s, s->writer,
                       "UPDATE migration SET abort_requested = 1, abort_by = ?2 WHERE id = ?1", err,
                       errlen);
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, actor ? actor : "", -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        store_fail(s, s->writer, "abort migration", err, errlen);
        goto out;
    }
    char detail[160];
    snprintf(detail, sizeof detail, "abort requested by %s", actor ? actor : "someone");
    if (add_event_locked(s, id, now_ms, phase, detail, err, errlen) < 0)
        goto out;
    sqlite3_finalize(st);
    st = NULL;
    if (store_end_durable(s, true, "migration", err, errlen) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc != 0)
        store_end_durable(s, false, "migration", NULL, 0);
    store_write_unlock(s);
    return rc;
}

/* ---- reads ---- */

/* Runs a SELECT of rows (mig_sql + tail) with int64 binds; appends them. */
static int select_rows(struct store *s, const char *tail, const int64_t *binds, size_t nbinds,
                       struct store_mig **rows, size_t *n, char *err, size_t errlen)
{
    *rows = NULL;
    *n = 0;
    char *sql = mig_sql(SQL_SELECT, tail);
    if (!sql)
        return errf(err, errlen, "%s: migrations: out of memory", s->path);
    struct store_mig *out = NULL;
    size_t len = 0, cap = 0;
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(s, s->reader, sql, err, errlen);
    if (!st)
        goto out;
    for (size_t i = 0; i < nbinds; i++)
        sqlite3_bind_int64(st, (int)i + 1, binds[i]);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (vec_reserve(out, cap, len + 1) < 0) {
            errf(err, errlen, "%s: migrations: out of memory", s->path);
            goto out;
        }
        read_row(st, &out[len++]);
    }
    if (step != SQLITE_DONE) {
        store_fail(s, s->reader, "migrations", err, errlen);
        goto out;
    }
    *rows = out;
    *n = len;
    out = NULL;
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    free(out);
    free(sql);
    return rc;
}

int store_mig_get(struct store *s, int64_t id, struct store_mig *out, char *err, size_t errlen)
{
    struct store_mig *rows;
    size_t n;
    if (select_rows(s, " WHERE id = ?1", &id, 1, &rows, &n, err, errlen) < 0)
        return -1;
    if (n == 0) {
        free(rows);
        return STORE_NOT_FOUND;
    }
    *out = rows[0];
    free(rows);
    return 0;
}

int store_mig_list(struct store *s, bool active_only, size_t limit, struct store_mig **rows,
                   size_t *n, char *err, size_t errlen)
{
    int64_t lim = limit ? (int64_t)limit : -1;
    return select_rows(s,
                       active_only ? " WHERE result IS NULL ORDER BY id DESC LIMIT ?1"
                                   : " ORDER BY id DESC LIMIT ?1",
                       &lim, 1, rows, n, err, errlen);
}

int store_mig_pending(struct store *s, struct store_mig **rows, size_t *n, char *err, size_t errlen)
{
    return select_rows(s,
                       " WHERE result IS NULL OR (result = 'done' AND source_deleted_ms = 0)"
                       " ORDER BY id",
                       NULL, 0, rows, n, err, errlen);
}

void store_mig_names_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

int store_mig_busy(struct store *s, char ***names, size_t *n, char *err, size_t errlen)
{
    *names = NULL;
    *n = 0;
    char **out = NULL;
    size_t len = 0, cap = 0;
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st =
        store_prepare(s, s->reader,
                      "SELECT DISTINCT workload FROM migration WHERE result IS NULL"
                      " OR (result = 'done' AND source_deleted_ms = 0) ORDER BY workload",
                      err, errlen);
    if (!st)
        goto out;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        char *name = util_strdup(t ? (const char *)t : "");
        if (!name || vec_reserve(out, cap, len + 1) < 0) {
            free(name);
            errf(err, errlen, "%s: migrations: out of memory", s->path);
            goto out;
        }
        out[len++] = name;
    }
    if (step != SQLITE_DONE) {
        store_fail(s, s->reader, "migrations", err, errlen);
        goto out;
    }
    *names = out;
    *n = len;
    out = NULL;
    len = 0;
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    store_mig_names_free(out, len);
    return rc;
}

void store_mig_moves_free(struct store_mig_move *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].workload);
        free(rows[i].namespace_);
        free(rows[i].peer);
    }
    free(rows);
}

static char *column_copy(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

int store_mig_moves(struct store *s, struct store_mig_move **rows, size_t *n, char *err,
                    size_t errlen)
{
    *rows = NULL;
    *n = 0;
    struct store_mig_move *out = NULL;
    size_t len = 0, cap = 0;
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(s, s->reader,
                                     "SELECT id, workload, namespace, peer, ended_ms,"
                                     " source_deleted_ms FROM migration WHERE result = 'done'"
                                     " ORDER BY id",
                                     err, errlen);
    if (!st)
        goto out;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (vec_reserve(out, cap, len + 1) < 0)
            goto oom;
        struct store_mig_move *m = &out[len];
        memset(m, 0, sizeof *m);
        m->id = sqlite3_column_int64(st, 0);
        m->workload = column_copy(st, 1);
        m->namespace_ = column_copy(st, 2);
        m->peer = column_copy(st, 3);
        m->ended_ms = sqlite3_column_int64(st, 4);
        m->source_kept = sqlite3_column_int64(st, 5) == 0;
        len++;
        if (!m->workload || !m->namespace_ || !m->peer)
            goto oom;
    }
    if (step != SQLITE_DONE) {
        store_fail(s, s->reader, "migrations", err, errlen);
        goto out;
    }
    *rows = out;
    *n = len;
    out = NULL;
    len = 0;
    rc = 0;
    goto out;
oom:
    errf(err, errlen, "%s: migrations: out of memory", s->path);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    store_mig_moves_free(out, len);
    return rc;
}

int store_mig_events(struct store *s, int64_t id, size_t limit, struct store_mig_event **rows,
                     size_t *n, char *err, size_t errlen)
{
    *rows = NULL;
    *n = 0;
    struct store_mig_event *out = NULL;
    size_t len = 0, cap = 0;
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(s, s->reader,
                                     "SELECT ts_ms, phase, detail FROM migration_event"
                                     " WHERE migration_id = ?1 ORDER BY id LIMIT ?2",
                                     err, errlen);
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (vec_reserve(out, cap, len + 1) < 0) {
            errf(err, errlen, "%s: migration events: out of memory", s->path);
            goto out;
        }
        struct store_mig_event *e = &out[len++];
        memset(e, 0, sizeof *e);
        e->migration_id = id;
        e->ts_ms = sqlite3_column_int64(st, 0);
        const unsigned char *t = sqlite3_column_text(st, 1);
        util_strlcpy(e->phase, t ? (const char *)t : "", sizeof e->phase);
        t = sqlite3_column_text(st, 2);
        util_strlcpy(e->detail, t ? (const char *)t : "", sizeof e->detail);
    }
    if (step != SQLITE_DONE) {
        store_fail(s, s->reader, "migration events", err, errlen);
        goto out;
    }
    *rows = out;
    *n = len;
    out = NULL;
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    free(out);
    return rc;
}

bool store_mig_aborted(const struct store_mig *m)
{
    return m->abort_requested &&
           strncmp(m->reason, STORE_MIG_ABORT_REASON, strlen(STORE_MIG_ABORT_REASON)) == 0;
}

int store_mig_counts(struct store *s, void (*each)(void *ctx, const char *result, int64_t n),
                     void *ctx, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(s, s->reader,
                                     "SELECT CASE WHEN result = 'rolled-back' AND abort_requested"
                                     " AND substr(reason, 1, length(?1)) = ?1"
                                     " THEN 'aborted' ELSE result END AS r, count(*)"
                                     " FROM migration WHERE result IS NOT NULL"
                                     " GROUP BY r ORDER BY r",
                                     err, errlen);
    if (st)
        sqlite3_bind_text(st, 1, STORE_MIG_ABORT_REASON, -1, SQLITE_STATIC);
    if (st) {
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            each(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
        rc = step == SQLITE_DONE ? 0 : store_fail(s, s->reader, "migration counts", err, errlen);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}

int store_mig_downtimes(struct store *s, double **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    double *v = NULL;
    size_t len = 0, cap = 0;
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(s, s->reader,
                                     "SELECT downtime_s FROM migration WHERE result = 'done'"
                                     " AND downtime_s IS NOT NULL ORDER BY id",
                                     err, errlen);
    if (!st)
        goto out;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (vec_reserve(v, cap, len + 1) < 0) {
            errf(err, errlen, "%s: downtimes: out of memory", s->path);
            goto out;
        }
        v[len++] = sqlite3_column_double(st, 0);
    }
    if (step != SQLITE_DONE) {
        store_fail(s, s->reader, "downtimes", err, errlen);
        goto out;
    }
    *out = v;
    *n = len;
    v = NULL;
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    free(v);
    return rc;
}

int store_mig_active_count(struct store *s, int64_t *n, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(
        s, s->reader, "SELECT count(*) FROM migration WHERE result IS NULL", err, errlen);
    if (st) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            *n = sqlite3_column_int64(st, 0);
            rc = 0;
        } else {
            store_fail(s, s->reader, "migrations", err, errlen);
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}

/* Reads the rates of peer, or (peer NULL) the mean over peers. */
static int read_rates(struct store *s, const char *peer, struct store_mig_rates *out, char *err,
                      size_t errlen)
{
    for (size_t k = 0; k < STORE_RATE_KINDS; k++) {
        out->gb_per_min[k] = NAN;
        out->samples[k] = 0;
    }
    pthread_mutex_lock(&s->read_lock);
    int rc = -1;
    sqlite3_stmt *st = store_prepare(
        s, s->reader,
        peer ? "SELECT kind, gb_per_min, samples FROM migration_rate WHERE peer = ?1"
             : "SELECT kind, avg(gb_per_min), sum(samples) FROM migration_rate GROUP BY kind",
        err, errlen);
    if (!st)
        goto out;
    if (peer)
        sqlite3_bind_text(st, 1, peer, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(st, 0);
        for (size_t k = 0; kind && k < STORE_RATE_KINDS; k++)
            if (strcmp(kind, rate_kinds[k]) == 0) {
                out->gb_per_min[k] = sqlite3_column_double(st, 1);
                out->samples[k] = sqlite3_column_int64(st, 2);
            }
    }
    rc = step == SQLITE_DONE ? 0 : store_fail(s, s->reader, "migration rates", err, errlen);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->read_lock);
    return rc;
}

int store_mig_rates(struct store *s, const char *peer, struct store_mig_rates *out, char *err,
                    size_t errlen)
{
    return read_rates(s, peer ? peer : "", out, err, errlen);
}

int store_mig_rates_all(struct store *s, struct store_mig_rates *out, char *err, size_t errlen)
{
    return read_rates(s, NULL, out, err, errlen);
}
