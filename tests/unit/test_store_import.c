/*
 * Unit tests of store/store_import: creating an import confirms its
 * reservation in the same transaction, every refusal (reservation unknown,
 * another's, released, expired, for another workload; backup another's;
 * namespace busy) writes nothing, asking again returns the same import,
 * saves go over the revision read and no other, a drop ends the import,
 * marks its namespace for cleanup only when the import made it and
 * releases the reservation, the counts, the prestage lookup, reopening,
 * the migration of a database made before the import tables existed, and
 * of one of schema 6 that holds an import (the home column added as NULL).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "lib/util.h"
#include "store/store_import.h"
#include "store/store_resv.h"

/* 2026-01-01T00:00:00Z */
#define T0 1767225600000LL
#define TTL_MS 60000
#define PEER "falkenberg-1"

struct fixture {
    char dir[64];
    char path[96];
    struct store *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/floe-import.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/floe.db", f->dir);
    char err[256];
    if (store_open(&f->s, f->path, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* A reservation for workload granted to token `to` at now. */
static void grant(struct fixture *f, const char *to, const char *workload, int64_t now,
                  char id[STORE_RESV_ID_SIZE])
{
    struct store_resv_request req = {
        .from_site = to, .workload = workload, .granted_by = to, .kw = 10, .ttl_ms = TTL_MS};
    struct store_resv r;
    char err[256] = "";
    if (store_resv_grant(f->s, &req, 1000, now, &r, NULL, err, sizeof err) != 0)
        fail_msg("grant: %s", err);
    memcpy(id, r.id, STORE_RESV_ID_SIZE);
    store_resv_clear(&r);
}

static struct store_resv resv(struct fixture *f, const char *id)
{
    struct store_resv r;
    char err[256];
    if (store_resv_get(f->s, id, &r, err, sizeof err) != 0)
        fail_msg("reservation %s: %s", id, err);
    return r;
}

static struct store_import_request request(const char *rid, const char *backup)
{
    return (struct store_import_request){.reservation = rid,
                                         .workload = "shop",
                                         .namespace_ = "shop",
                                         .backup = backup,
                                         .replicas = "{\"deployment/web\":3}",
                                         .caller = PEER};
}

/* Creates req at now; fails the test unless created. */
static struct store_import create(struct fixture *f, const struct store_import_request *req,
                                  int64_t now)
{
    struct store_import r;
    char why[300] = "", err[256] = "";
    int rc = store_import_create(f->s, req, now, &r, why, sizeof why, err, sizeof err);
    if (rc != 0)
        fail_msg("create %s: rc %d: %s%s", req->backup, rc, why, err);
    return r;
}

/* Expects req refused with a reason starting with prefix. */
static void refused(struct fixture *f, const struct store_import_request *req, int64_t now,
                    const char *prefix)
{
    struct store_import r;
    char why[300] = "", err[256] = "";
    int rc = store_import_create(f->s, req, now, &r, why, sizeof why, err, sizeof err);
    if (rc != STORE_CONFLICT)
        fail_msg("expected a refusal (%s), got rc %d %s", prefix, rc, err);
    if (strncmp(why, prefix, strlen(prefix)) != 0)
        fail_msg("reason \"%s\" does not start with \"%s\"", why, prefix);
    assert_int_equal(r.id, 0);
}

static size_t import_count(struct fixture *f)
{
    struct store_import *rows;
    size_t n;
    char err[256];
    assert_int_equal(store_import_list(f->s, false, NULL, 0, &rows, &n, err, sizeof err), 0);
    store_import_rows_free(rows, n);
    return n;
}

static void create_confirms_the_reservation_and_records_the_request(void **state)
{
    struct fixture *f = *state;
    char rid[STORE_RESV_ID_SIZE];
    grant(f, PEER, "shop", T0, rid);
    struct store_import_request req = request(rid, "floe-falkenberg-1-shop-7-2");
    req.stateless = true;
    struct store_import r = create(f, &req, T0 + 1000);
    assert_true(r.id >= 1 && r.id < (1LL << 40));
    assert_int_equal(r.phase, STORE_IMPORT_WAITING_BACKUP);
    assert_string_equal(r.reservation, rid);
    assert_string_equal(r.from_site, PEER);
    assert_string_equal(r.namespace_, "shop");
    assert_string_equal(r.backup, "floe-falkenberg-1-shop-7-2");
    assert_string_equal(r.replicas, "{\"deployment/web\":3}");
    assert_true(r.stateless);
    assert_false(r.incremental || r.prestage || r.owns_namespace || r.cleaning || r.partial);
    assert_int_equal(r.cleanup, STORE_IMPORT_CLEANUP_NONE);
    assert_null(r.error);
    assert_null(r.restore);
    assert_int_equal(r.created_ms, T0 + 1000);
    assert_int_equal(r.phase_ms, T0 + 1000);
    assert_int_equal(r.ended_ms, 0);
    assert_true(isnan(r.restore_s) && isnan(r.restored_bytes));

    struct store_resv rv = resv(f, rid);
    assert_int_equal(rv.confirmed_ms, T0 + 1000);
    store_resv_clear(&rv);
    /* Confirmed: it counts long past its TTL. */
    double kw = 0;
    char err[256];
    assert_int_equal(store_resv_active_kw(f->s, T0 + 10 * TTL_MS, &kw, err, sizeof err), 0);
    assert_true(kw == 10);

    struct store_import_event *ev;
    size_t n;
    assert_int_equal(store_import_events(f->s, r.id, &ev, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].phase, "waiting-backup");
    assert_string_equal(ev[0].detail,
                        "import of backup floe-falkenberg-1-shop-7-2 requested by " PEER);
    store_import_events_free(ev, n);
    store_import_clear(&r);
}

static void refusals_name_the_reason_and_write_nothing(void **state)
{
    struct fixture *f = *state;
    char rid[STORE_RESV_ID_SIZE], other[STORE_RESV_ID_SIZE], gone[STORE_RESV_ID_SIZE];
    grant(f, PEER, "shop", T0, rid);
    grant(f, "oslo-2", "shop", T0, other);
    grant(f, PEER, "shop", T0, gone);
    char err[256];
    assert_int_equal(store_resv_release(f->s, gone, NULL, PEER, T0, NULL, err, sizeof err), 0);

    struct store_import_request req = request("rsv-0000000000000000", "b1");
    refused(f, &req, T0, "reservation rsv-0000000000000000: no such reservation");
    req = request(other, "b1");
    refused(f, &req, T0, "reservation ");
    req = request(gone, "b1");
    refused(f, &req, T0, "reservation ");
    req = request(rid, "b1");
    req.workload = "crm";
    refused(f, &req, T0, "reservation ");
    req = request(rid, "b1");
    refused(f, &req, T0 + TTL_MS, "reservation ");
    assert_int_equal(import_count(f), 0);
    /* Nothing confirmed by a refusal. */
    struct store_resv rv = resv(f, rid);
    assert_int_equal(rv.confirmed_ms, 0);
    store_resv_clear(&rv);

    /* The exact words, once each. */
    char why[300];
    struct store_import r;
    req = request(other, "b1");
    assert_int_equal(store_import_create(f->s, &req, T0, &r, why, sizeof why, err, sizeof err),
                     STORE_CONFLICT);
    char want[300];
    snprintf(want, sizeof want, "reservation %s was not granted to " PEER, other);
    assert_string_equal(why, want);
    req = request(gone, "b1");
    assert_int_equal(store_import_create(f->s, &req, T0, &r, why, sizeof why, err, sizeof err),
                     STORE_CONFLICT);
    snprintf(want, sizeof want, "reservation %s was released", gone);
    assert_string_equal(why, want);
    req = request(rid, "b1");
    req.workload = "crm";
    assert_int_equal(store_import_create(f->s, &req, T0, &r, why, sizeof why, err, sizeof err),
                     STORE_CONFLICT);
    snprintf(want, sizeof want, "reservation %s is for workload shop, not crm", rid);
    assert_string_equal(why, want);
    req = request(rid, "b1");
    assert_int_equal(
        store_import_create(f->s, &req, T0 + TTL_MS, &r, why, sizeof why, err, sizeof err),
        STORE_CONFLICT);
    snprintf(want, sizeof want,
             "reservation %s expired (its TTL ended before an import confirmed it)", rid);
    assert_string_equal(why, want);

    /* An admin (caller NULL) may use another's reservation. */
    req = request(other, "b1");
    req.caller = NULL;
    struct store_import a = create(f, &req, T0);
    assert_string_equal(a.from_site, "oslo-2");
    store_import_clear(&a);
}

static void asking_again_returns_the_same_import_and_another_caller_is_refused(void **state)
{
    struct fixture *f = *state;
    char rid[STORE_RESV_ID_SIZE];
    grant(f, PEER, "shop", T0, rid);
    struct store_import_request req = request(rid, "b1");
    struct store_import first = create(f, &req, T0);
    struct store_import again;
    char why[300], err[256];
    assert_int_equal(
        store_import_create(f->s, &req, T0 + 5000, &again, why, sizeof why, err, sizeof err),
        STORE_IMPORT_EXISTING);
    assert_int_equal(again.id, first.id);
    assert_int_equal(again.created_ms, T0);
    store_import_clear(&again);
    req.caller = "oslo-2";
    refused(f, &req, T0, "backup b1 is imported already by import ");
    assert_int_equal(import_count(f), 1);
    store_import_clear(&first);
}

static void one_active_import_per_namespace(void **state)
{
    struct fixture *f = *state;
    char rid[STORE_RESV_ID_SIZE];
    grant(f, PEER, "shop", T0, rid);
    struct store_import_request req = request(rid, "b1");
    struct store_import first = create(f, &req, T0);
    req.backup = "b2";
    refused(f, &req, T0, "namespace shop is being imported already (import ");
    char err[256];
    first.phase = STORE_IMPORT_FAILED;
    first.error = util_strdup("test");
    assert_int_equal(store_import_save(f->s, &first, "failed", NULL, T0, err, sizeof err), 0);
    struct store_import second = create(f, &req, T0);
    assert_true(second.id != first.id);
    store_import_clear(&second);
    store_import_clear(&first);
}

static void save_writes_over_the_revision_read_and_no_other(void **state)
{
    struct fixture *f = *state;
    char rid[STORE_RESV_ID_SIZE];
    grant(f, PEER, "shop", T0, rid);
    struct store_import_request req = request(rid, "b1");
    struct store_import r = create(f, &req, T0);
    struct store_import stale;
    char err[256];
    assert_int_equal(store_import_get(f->s, r.id, NULL, &stale, err, sizeof err), 0);

    r.phase = STORE_IMPORT_RESTORING;
    r.owns_namespace = true;
    r.seq = 1;
    r.restore = util_strdup("floe-lulea-1-shop-1-1");
    r.phase_ms = T0 + 2000;
    r.restore_s = 12.5;
    assert_int_equal(store_import_save(f->s, &r, "restoring as floe-lulea-1-shop-1-1", NULL,
                                       T0 + 2000, err, sizeof err),
                     0);
    assert_int_equal(r.updated_ms, T0 + 2000);

    /* The stale copy cannot overwrite it. */
    stale.phase = STORE_IMPORT_FAILED;
    assert_int_equal(store_import_save(f->s, &stale, "stale", NULL, T0 + 3000, err, sizeof err),
                     STORE_CONFLICT);
    struct store_import now;
    assert_int_equal(store_import_get(f->s, r.id, NULL, &now, err, sizeof err), 0);
    assert_int_equal(now.phase, STORE_IMPORT_RESTORING);
    assert_true(now.owns_namespace);
    assert_int_equal(now.seq, 1);
    assert_string_equal(now.restore, "floe-lulea-1-shop-1-1");
    assert_true(now.restore_s == 12.5);
    assert_int_equal(now.rev, r.rev);
    store_import_clear(&now);
    store_import_clear(&stale);

    /* Failing with release_by releases the reservation in the same write. */
    r.phase = STORE_IMPORT_FAILED;
    r.error = util_strdup("restore failed");
    assert_int_equal(
        store_import_save(f->s, &r, "restore failed", "import 1", T0 + 4000, err, sizeof err), 0);
    struct store_resv rv = resv(f, rid);
    assert_int_equal(rv.state, STORE_RESV_RELEASED);
    assert_string_equal(rv.ended_by, "import 1");
    store_resv_clear(&rv);

    struct store_import_event *ev;
    size_t n;
    assert_int_equal(store_import_events(f->s, r.id, &ev, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(ev[1].phase, "restoring");
    assert_string_equal(ev[2].phase, "failed");
    assert_string_equal(ev[2].detail, "restore failed");
    store_import_events_free(ev, n);

    struct store_import ghost = {.id = 42, .rev = 0};
    assert_int_equal(store_import_save(f->s, &ghost, NULL, NULL, T0, err, sizeof err),
                     STORE_NOT_FOUND);
    store_import_clear(&r);
}

static void drop_ends_it_cleans_only_what_it_made_and_releases(void **state)
{
    struct fixture *f = *state;
    char rid[STORE_RESV_ID_SIZE], rid2[STORE_RESV_ID_SIZE];
    grant(f, PEER, "shop", T0, rid);
    grant(f, PEER, "crm", T0, rid2);
    struct store_import_request req = request(rid, "b1");
    struct store_import mine = create(f, &req, T0);
    req = request(rid2, "b2");
    req.workload = "crm";
    req.namespace_ = "crm";
    struct store_import waiting = create(f, &req, T0);
    char err[256];
    mine.phase = STORE_IMPORT_RESTORING;
    mine.owns_namespace = true;
    assert_int_equal(store_import_save(f->s, &mine, "restoring", NULL, T0, err, sizeof err), 0);

    struct store_import out;
    /* Another token does not see it. */
    assert_int_equal(
        store_import_drop(f->s, mine.id, "oslo-2", "oslo-2", T0, &out, err, sizeof err),
        STORE_NOT_FOUND);
    assert_int_equal(store_import_drop(f->s, mine.id, PEER, PEER, T0 + 1000, &out, err, sizeof err),
                     0);
    assert_int_equal(out.phase, STORE_IMPORT_FAILED);
    assert_string_equal(out.error, "dropped by " PEER);
    assert_string_equal(out.dropped_by, PEER);
    assert_int_equal(out.cleanup, STORE_IMPORT_CLEANUP_PENDING);
    assert_int_equal(out.ended_ms, T0 + 1000);
    store_import_clear(&out);
    struct store_resv rv = resv(f, rid);
    assert_int_equal(rv.state, STORE_RESV_RELEASED);
    store_resv_clear(&rv);
    /* Twice: nothing changes. */
    assert_int_equal(
        store_import_drop(f->s, mine.id, NULL, "root", T0 + 2000, &out, err, sizeof err),
        STORE_CONFLICT);
    assert_string_equal(out.dropped_by, PEER);
    assert_int_equal(out.ended_ms, T0 + 1000);
    store_import_clear(&out);
    /* The importer's copy read before the drop cannot undo it. */
    mine.phase = STORE_IMPORT_STARTING;
    assert_int_equal(store_import_save(f->s, &mine, "starting", NULL, T0, err, sizeof err),
                     STORE_CONFLICT);

    /* One that never made its namespace leaves nothing to clean. */
    assert_int_equal(store_import_drop(f->s, waiting.id, NULL, "root", T0, &out, err, sizeof err),
                     0);
    assert_int_equal(out.cleanup, STORE_IMPORT_CLEANUP_NONE);
    store_import_clear(&out);

    struct store_import_counts c;
    assert_int_equal(store_import_counts(f->s, &c, err, sizeof err), 0);
    assert_int_equal(c.active, 0);
    assert_int_equal(c.dropped, 2);
    assert_int_equal(c.failed, 0);
    /* The cleanup is work for the importer; the other one is not. */
    struct store_import *rows;
    size_t n;
    assert_int_equal(store_import_list(f->s, true, NULL, 0, &rows, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].id, mine.id);
    store_import_rows_free(rows, n);
    store_import_clear(&mine);
    store_import_clear(&waiting);
}

static void a_failed_import_dropped_keeps_its_error(void **state)
{
    struct fixture *f = *state;
    char rid[STORE_RESV_ID_SIZE];
    grant(f, PEER, "shop", T0, rid);
    struct store_import_request req = request(rid, "b1");
    struct store_import r = create(f, &req, T0);
    char err[256];
    r.phase = STORE_IMPORT_FAILED;
    r.error = util_strdup("namespace shop already exists at lulea-1");
    r.ended_ms = T0 + 10;
    assert_int_equal(store_import_save(f->s, &r, r.error, "import", T0 + 10, err, sizeof err), 0);
    struct store_import out;
    assert_int_equal(store_import_drop(f->s, r.id, PEER, PEER, T0 + 20, &out, err, sizeof err), 0);
    assert_string_equal(out.error, "namespace shop already exists at lulea-1");
    assert_int_equal(out.ended_ms, T0 + 10);
    store_import_clear(&out);
    struct store_import_counts c;
    assert_int_equal(store_import_counts(f->s, &c, err, sizeof err), 0);
    assert_int_equal(c.failed, 0);
    assert_int_equal(c.dropped, 1);
    store_import_clear(&r);
}

static void counts_and_the_prestage_lookup(void **state)
{
    struct fixture *f = *state;
    char rid[STORE_RESV_ID_SIZE];
    grant(f, PEER, "shop", T0, rid);
    struct store_import_request req = request(rid, "b-initial");
    req.prestage = true;
    struct store_import pre = create(f, &req, T0);
    char err[256];
    int64_t id = 0;
    assert_int_equal(store_import_find_prestage(f->s, rid, "shop", &id, err, sizeof err),
                     STORE_NOT_FOUND);
    pre.phase = STORE_IMPORT_READY;
    pre.owns_namespace = true;
    pre.ready_ms = pre.ended_ms = T0 + 60000;
    assert_int_equal(store_import_save(f->s, &pre, "ready", NULL, T0 + 60000, err, sizeof err), 0);
    assert_int_equal(store_import_find_prestage(f->s, rid, "shop", &id, err, sizeof err), 0);
    assert_int_equal(id, pre.id);
    assert_int_equal(store_import_find_prestage(f->s, rid, "crm", &id, err, sizeof err),
                     STORE_NOT_FOUND);
    assert_int_equal(store_import_find_prestage(f->s, "rsv-1", "shop", &id, err, sizeof err),
                     STORE_NOT_FOUND);

    /* The final import of the same reservation goes in beside it. */
    req = request(rid, "b-final");
    req.incremental = true;
    struct store_import fin = create(f, &req, T0 + 70000);
    struct store_import_counts c;
    assert_int_equal(store_import_counts(f->s, &c, err, sizeof err), 0);
    assert_int_equal(c.active, 1);
    assert_int_equal(c.ready, 1);
    assert_int_equal(c.failed, 0);
    fin.phase = STORE_IMPORT_FAILED;
    fin.error = util_strdup("x");
    assert_int_equal(store_import_save(f->s, &fin, "x", NULL, T0 + 80000, err, sizeof err), 0);
    assert_int_equal(store_import_counts(f->s, &c, err, sizeof err), 0);
    assert_int_equal(c.active, 0);
    assert_int_equal(c.failed, 1);
    store_import_clear(&fin);
    store_import_clear(&pre);
}

static void imports_survive_reopening_the_database(void **state)
{
    struct fixture *f = *state;
    char rid[STORE_RESV_ID_SIZE];
    grant(f, PEER, "shop", T0, rid);
    struct store_import_request req = request(rid, "b1");
    struct store_import r = create(f, &req, T0);
    char err[256];
    r.phase = STORE_IMPORT_STARTING;
    r.partial = true;
    r.restored_bytes = 1e9;
    assert_int_equal(store_import_save(f->s, &r, "starting", NULL, T0 + 1, err, sizeof err), 0);
    store_close(f->s);
    if (store_open(&f->s, f->path, err, sizeof err) != 0)
        fail_msg("reopen: %s", err);
    struct store_import back;
    assert_int_equal(store_import_get(f->s, r.id, PEER, &back, err, sizeof err), 0);
    assert_int_equal(back.phase, STORE_IMPORT_STARTING);
    assert_true(back.partial);
    assert_true(back.restored_bytes == 1e9);
    assert_int_equal(back.rev, r.rev);
    store_import_clear(&back);
    assert_int_equal(store_import_get(f->s, r.id, "oslo-2", &back, err, sizeof err),
                     STORE_NOT_FOUND);
    store_import_clear(&back);
    store_import_clear(&r);
}

/* ---- schema ---- */

/* Takes schema 8's telemetry tiers (and 9's packs) out of a file. */
#define UNDO_TIERS                                                                                 \
    "DROP TABLE sample_log; DROP TABLE raw_chunk; DROP TABLE rollup_minute;"                       \
    " DROP TABLE rollup_hour; DROP TABLE rollup_minute_pack;"                                    \
    " DELETE FROM meta WHERE key IN ('hour_next', 'raw_from', 'minute_from');"

/* The import tables are migration 6 (7 adds their home column, 8 the
 * telemetry tiers): the version before them is 5. */
static void database_before_the_import_tables_gains_them_and_keeps_its_reservations(void **state)
{
    struct fixture *f = *state;
    char rid[STORE_RESV_ID_SIZE];
    grant(f, PEER, "shop", T0, rid);
    store_close(f->s);
    f->s = NULL;
    /* Turn the file back into what the floe before them left behind. */
    sqlite3 *db;
    char sql[512];
    snprintf(sql, sizeof sql,
             "DROP TABLE import_event; DROP TABLE import; %s PRAGMA user_version = 5;",
             UNDO_TIERS);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    char err[256];
    if (store_open(&f->s, f->path, err, sizeof err) != 0)
        fail_msg("open the older schema: %s", err);
    struct store_resv rv = resv(f, rid);
    assert_int_equal(rv.state, STORE_RESV_ACTIVE);
    store_resv_clear(&rv);
    struct store_import_request req = request(rid, "b1");
    struct store_import r = create(f, &req, T0);
    assert_int_equal(r.phase, STORE_IMPORT_WAITING_BACKUP);
    store_import_clear(&r);
}

/* A database of schema 6 (before the home column) that already holds an
 * import: the upgrade keeps the row, its events and its revision, and
 * the home reads as NULL, which GET /v1/imports/{id} (store_import_get)
 * answers as "home": null, the sender being the home (docs/api.md). The
 * file is made by the store and then turned back: SQLite (3.35 on) drops
 * the column by rewriting the table's CREATE text, which leaves exactly
 * schema 6's table. */
static void database_of_schema_6_with_an_import_gains_the_home_as_null(void **state)
{
    struct fixture *f = *state;
    char rid[STORE_RESV_ID_SIZE];
    grant(f, PEER, "shop", T0, rid);
    struct store_import_request req = request(rid, "b6");
    struct store_import r = create(f, &req, T0);
    char err[256];
    r.phase = STORE_IMPORT_RESTORING;
    r.restore = strdup("b6-restore");
    assert_int_equal(store_import_save(f->s, &r, "restoring", NULL, T0 + 1, err, sizeof err), 0);
    store_close(f->s);
    f->s = NULL;

    sqlite3 *db;
    char sql[512];
    snprintf(sql, sizeof sql, "ALTER TABLE import DROP COLUMN home; %s PRAGMA user_version = 6;",
             UNDO_TIERS);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM pragma_table_info('import')"
                                        " WHERE name = 'home'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    sqlite3_close(db);

    if (store_open(&f->s, f->path, err, sizeof err) != 0)
        fail_msg("open schema 6: %s", err);
    struct store_import back;
    assert_int_equal(store_import_get(f->s, r.id, PEER, &back, err, sizeof err), 0);
    assert_null(back.home);
    assert_int_equal(back.phase, STORE_IMPORT_RESTORING);
    assert_string_equal(back.restore, "b6-restore");
    assert_string_equal(back.backup, "b6");
    assert_int_equal(back.rev, r.rev);
    store_import_clear(&back);
    struct store_import_event *ev;
    size_t n;
    assert_int_equal(store_import_events(f->s, r.id, &ev, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    store_import_events_free(ev, n);
    /* The row upgraded is still written over: a save after the upgrade
     * goes through and keeps the home NULL. */
    r.phase = STORE_IMPORT_STARTING;
    assert_int_equal(store_import_save(f->s, &r, "starting", NULL, T0 + 2, err, sizeof err), 0);
    assert_int_equal(store_import_get(f->s, r.id, PEER, &back, err, sizeof err), 0);
    assert_int_equal(back.phase, STORE_IMPORT_STARTING);
    assert_null(back.home);
    store_import_clear(&back);
    store_import_clear(&r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(create_confirms_the_reservation_and_records_the_request),
        T(refusals_name_the_reason_and_write_nothing),
        T(asking_again_returns_the_same_import_and_another_caller_is_refused),
        T(one_active_import_per_namespace),
        T(save_writes_over_the_revision_read_and_no_other),
        T(drop_ends_it_cleans_only_what_it_made_and_releases),
        T(a_failed_import_dropped_keeps_its_error),
        T(counts_and_the_prestage_lookup),
        T(imports_survive_reopening_the_database),
        T(database_before_the_import_tables_gains_them_and_keeps_its_reservations),
        T(database_of_schema_6_with_an_import_gains_the_home_as_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
