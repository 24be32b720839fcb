/*
 * test_store_mig — migrations in the store: created from a hold (which
 * it confirms) or with a new confirmed hold, one running per workload,
 * every column kept across a reopen, an abort never lost to a save,
 * holds released with the save that ends a migration, the rates'
 * moving averages, and a database of schema 4 upgraded with its holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util.h"
#include "store/store_mig.h"

/* 2026-01-01T00:00:00Z */
#define T0 1767225600000LL
#define MIN_MS 60000LL

struct fixture {
    char dir[64];
    char path[96];
    struct store *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/floe-mig.XXXXXX");
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

static void reopen(struct fixture *f)
{
    char err[256];
    store_close(f->s);
    f->s = NULL;
    if (store_open(&f->s, f->path, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
}

static void add_hold(struct fixture *f, const char *peer, const char *id, const char *wl, double kw,
                     int64_t expires_ms)
{
    char err[256];
    struct store_hold h = {.peer = (char *)peer,
                           .id = (char *)id,
                           .workload = (char *)wl,
                           .kw = kw,
                           .decision_id = 7,
                           .created_ms = T0,
                           .expires_ms = expires_ms};
    if (store_hold_add(f->s, &h, err, sizeof err) != 0)
        fail_msg("store_hold_add: %s", err);
}

static double held_kw(struct fixture *f, int64_t now, const char *state_wanted)
{
    struct store_hold *rows;
    size_t n;
    char err[256];
    if (store_hold_active(f->s, now, &rows, &n, err, sizeof err) != 0)
        fail_msg("store_hold_active: %s", err);
    double kw = 0;
    for (size_t i = 0; i < n; i++)
        if (!state_wanted || strcmp(rows[i].state, state_wanted) == 0)
            kw += rows[i].kw;
    store_hold_rows_free(rows, n);
    return kw;
}

static void new_mig(struct store_mig *m, const char *wl, const char *peer, const char *resv)
{
    memset(m, 0, sizeof *m);
    util_strlcpy(m->workload, wl, sizeof m->workload);
    util_strlcpy(m->namespace_, wl, sizeof m->namespace_);
    util_strlcpy(m->peer, peer, sizeof m->peer);
    util_strlcpy(m->reservation, resv, sizeof m->reservation);
    util_strlcpy(m->phase, "reserved", sizeof m->phase);
    m->kw = 40;
    m->data_gb = 37;
    m->created_ms = m->updated_ms = m->phase_started_ms = m->step_started_ms = T0;
    m->downtime_s = m->estimated_downtime_s = m->last_delta_gb = m->restore_s = NAN;
}

static int64_t create(struct fixture *f, const struct store_mig *m, const struct store_hold *h,
                      int want)
{
    char err[256];
    int64_t id = 0;
    int rc = store_mig_create(f->s, m, h, "reserved 40 kW", &id, err, sizeof err);
    if (rc != want)
        fail_msg("store_mig_create: %d, wanted %d: %s", rc, want, err);
    return id;
}

static void get(struct fixture *f, int64_t id, struct store_mig *out)
{
    char err[256];
    if (store_mig_get(f->s, id, out, err, sizeof err) != 0)
        fail_msg("store_mig_get: %s", err);
}

static void save(struct fixture *f, const struct store_mig *m, const struct store_mig_save_extra *x)
{
    char err[256];
    if (store_mig_save(f->s, m, x, err, sizeof err) != 0)
        fail_msg("store_mig_save: %s", err);
}

/* ---- creation and holds ---- */

static void creating_confirms_the_hold_which_then_outlives_its_ttl(void **state)
{
    struct fixture *f = *state;
    add_hold(f, "falkenberg-1", "rsv-1", "shop", 40, T0 + MIN_MS);
    struct store_mig m;
    new_mig(&m, "shop", "falkenberg-1", "rsv-1");
    int64_t id = create(f, &m, NULL, 0);
    assert_true(id > 0);
    /* Confirmed: still counted long after the TTL. */
    assert_true(held_kw(f, T0 + 1000 * MIN_MS, "confirmed") == 40);
    /* No hold of that id: nothing to confirm. */
    struct store_mig other;
    new_mig(&other, "db", "falkenberg-1", "rsv-none");
    create(f, &other, NULL, STORE_NOT_FOUND);
    struct store_mig_event *ev;
    size_t nev;
    char err[256];
    assert_int_equal(store_mig_events(f->s, id, 0, &ev, &nev, err, sizeof err), 0);
    assert_int_equal(nev, 1);
    assert_string_equal(ev[0].detail, "reserved 40 kW");
    assert_string_equal(ev[0].phase, "reserved");
    free(ev);
}

static void one_running_migration_per_workload(void **state)
{
    struct fixture *f = *state;
    add_hold(f, "falkenberg-1", "rsv-1", "shop", 40, T0 + MIN_MS);
    add_hold(f, "oslo-2", "rsv-2", "shop", 40, T0 + MIN_MS);
    struct store_mig m;
    new_mig(&m, "shop", "falkenberg-1", "rsv-1");
    int64_t id = create(f, &m, NULL, 0);
    struct store_mig second;
    new_mig(&second, "shop", "oslo-2", "rsv-2");
    create(f, &second, NULL, STORE_CONFLICT);
    /* The refused one left its hold as it was: active, not confirmed. */
    assert_true(held_kw(f, T0, "active") == 40);
    /* Once the first has a result, the workload may move again. */
    get(f, id, &m);
    util_strlcpy(m.result, "rolled-back", sizeof m.result);
    util_strlcpy(m.phase, "rolled-back", sizeof m.phase);
    save(f, &m, NULL);
    assert_true(create(f, &second, NULL, 0) > id);
}

static void manual_migration_records_a_confirmed_hold(void **state)
{
    struct fixture *f = *state;
    struct store_mig m;
    new_mig(&m, "shop", "falkenberg-1", "rsv-9");
    struct store_hold h = {.peer = "falkenberg-1",
                           .id = "rsv-9",
                           .workload = "shop",
                           .namespace_ = "shop",
                           .kw = 40,
                           .created_ms = T0,
                           .expires_ms = T0 + MIN_MS};
    create(f, &m, &h, 0);
    assert_true(held_kw(f, T0 + 1000 * MIN_MS, "confirmed") == 40);
}

/* ---- state ---- */

static void every_column_survives_a_reopen(void **state)
{
    struct fixture *f = *state;
    add_hold(f, "falkenberg-1", "rsv-1", "shop", 40, T0 + MIN_MS);
    struct store_mig m;
    new_mig(&m, "shop", "falkenberg-1", "rsv-1");
    util_strlcpy(m.hostname, "shop.apps.example.org", sizeof m.hostname);
    util_strlcpy(m.quiesce, "[\"/sbin/fsfreeze\",\"--freeze\",\"/data\"]", sizeof m.quiesce);
    m.decision_id = 12;
    int64_t id = create(f, &m, NULL, 0);
    get(f, id, &m);
    assert_true(isnan(m.restore_s)); /* NULL until an import was ready */
    util_strlcpy(m.phase, "switchover", sizeof m.phase);
    m.step = 2;
    m.seq = 3;
    util_strlcpy(m.backup, "floe-lulea-1-shop-1-3", sizeof m.backup);
    util_strlcpy(m.last_backup, "floe-lulea-1-shop-1-2", sizeof m.last_backup);
    m.last_backup_partial = true;
    m.last_backup_s = 250.5;
    m.deltas = 1;
    m.prev_delta_s = 300;
    m.last_delta_gb = 1.25;
    m.backup_started_ms = T0 + 5 * MIN_MS;
    m.next_backup_ms = T0 + 15 * MIN_MS;
    m.attempts = 1;
    util_strlcpy(m.import_id, "imp-7", sizeof m.import_id);
    m.import_requested = true;
    m.nreplicas = 2;
    util_strlcpy(m.replicas[0].key, "deployment/web", sizeof m.replicas[0].key);
    m.replicas[0].replicas = 3;
    util_strlcpy(m.replicas[1].key, "statefulset/db", sizeof m.replicas[1].key);
    m.replicas[1].replicas = 1;
    m.replicas_recorded = true;
    m.scaled = true;
    m.data_mover = true;
    m.hold_expires_ms = T0 + 240 * MIN_MS;
    m.downtime_start_ms = T0 + 20 * MIN_MS;
    m.estimated_downtime_s = 590;
    m.bytes = 37e9;
    m.precopy_s = 2520;
    m.delta_s = 600;
    m.restore_s = 310.5;
    util_strlcpy(m.error, "Velero said no", sizeof m.error);
    util_strlcpy(m.rollback_from, "restoring", sizeof m.rollback_from);
    util_strlcpy(m.reason, "the import failed", sizeof m.reason);
    m.retain_until_ms = T0 + 1000 * MIN_MS;
    m.updated_ms = T0 + 21 * MIN_MS;
    save(f, &m, NULL);
    reopen(f);
    struct store_mig got;
    get(f, id, &got);
    assert_string_equal(got.workload, "shop");
    assert_string_equal(got.hostname, "shop.apps.example.org");
    assert_string_equal(got.quiesce, m.quiesce);
    assert_int_equal(got.decision_id, 12);
    assert_string_equal(got.phase, "switchover");
    assert_int_equal(got.step, 2);
    assert_string_equal(got.result, "");
    assert_int_equal(got.seq, 3);
    assert_string_equal(got.backup, "floe-lulea-1-shop-1-3");
    assert_string_equal(got.last_backup, "floe-lulea-1-shop-1-2");
    assert_true(got.last_backup_partial);
    assert_true(got.last_backup_s == 250.5);
    assert_true(got.last_delta_gb == 1.25);
    assert_true(got.restore_s == 310.5);
    assert_int_equal(got.next_backup_ms, T0 + 15 * MIN_MS);
    assert_int_equal(got.attempts, 1);
    assert_string_equal(got.import_id, "imp-7");
    assert_true(got.import_requested);
    assert_int_equal(got.nreplicas, 2);
    assert_string_equal(got.replicas[0].key, "deployment/web");
    assert_int_equal(got.replicas[0].replicas, 3);
    assert_string_equal(got.replicas[1].key, "statefulset/db");
    assert_int_equal(got.replicas[1].replicas, 1);
    assert_true(got.replicas_recorded && got.scaled);
    assert_true(got.data_mover);
    assert_int_equal(got.hold_expires_ms, T0 + 240 * MIN_MS);
    assert_true(isnan(got.downtime_s));
    assert_true(got.estimated_downtime_s == 590);
    assert_true(got.bytes == 37e9);
    assert_true(got.precopy_s == 2520 && got.delta_s == 600);
    assert_string_equal(got.error, "Velero said no");
    assert_string_equal(got.rollback_from, "restoring");
    assert_string_equal(got.reason, "the import failed");
    assert_int_equal(got.retain_until_ms, T0 + 1000 * MIN_MS);
    assert_int_equal(got.updated_ms, T0 + 21 * MIN_MS);
}

static void a_save_never_undoes_an_abort(void **state)
{
    struct fixture *f = *state;
    add_hold(f, "falkenberg-1", "rsv-1", "shop", 40, T0 + MIN_MS);
    struct store_mig m;
    new_mig(&m, "shop", "falkenberg-1", "rsv-1");
    int64_t id = create(f, &m, NULL, 0);
    get(f, id, &m); /* the migrator's copy, from before the abort */
    char why[200], err[256];
    assert_int_equal(
        store_mig_abort(f->s, id, "facility", T0 + 1000, why, sizeof why, err, sizeof err), 0);
    util_strlcpy(m.phase, "precopy", sizeof m.phase);
    save(f, &m, NULL);
    struct store_mig got;
    get(f, id, &got);
    assert_true(got.abort_requested);
    assert_string_equal(got.abort_by, "facility");
    assert_string_equal(got.phase, "precopy");
    assert_int_equal(store_mig_abort(f->s, 999, "facility", T0, why, sizeof why, err, sizeof err),
                     STORE_NOT_FOUND);
}

static void abort_is_refused_once_cut_over_or_ended(void **state)
{
    struct fixture *f = *state;
    add_hold(f, "falkenberg-1", "rsv-1", "shop", 40, T0 + MIN_MS);
    struct store_mig m;
    new_mig(&m, "shop", "falkenberg-1", "rsv-1");
    int64_t id = create(f, &m, NULL, 0);
    get(f, id, &m);
    char why[200], err[256];
    m.traffic_switched_ms = T0 + 5000;
    util_strlcpy(m.phase, "cutover", sizeof m.phase);
    save(f, &m, NULL);
    assert_int_equal(store_mig_abort(f->s, id, "facility", T0, why, sizeof why, err, sizeof err),
                     STORE_CONFLICT);
    assert_non_null(strstr(why, "cut over"));
    m.traffic_switched_ms = 0;
    util_strlcpy(m.phase, "rolling-back", sizeof m.phase);
    save(f, &m, NULL);
    assert_int_equal(store_mig_abort(f->s, id, "facility", T0, why, sizeof why, err, sizeof err),
                     STORE_CONFLICT);
    assert_non_null(strstr(why, "already rolling back"));
    util_strlcpy(m.phase, "done", sizeof m.phase);
    util_strlcpy(m.result, "done", sizeof m.result);
    save(f, &m, NULL);
    assert_int_equal(store_mig_abort(f->s, id, "facility", T0, why, sizeof why, err, sizeof err),
                     STORE_CONFLICT);
    assert_non_null(strstr(why, "has ended (done)"));
    get(f, id, &m);
    assert_false(m.abort_requested);
}

static void ending_save_releases_the_hold_and_records_event_and_rates(void **state)
{
    struct fixture *f = *state;
    add_hold(f, "falkenberg-1", "rsv-1", "shop", 40, T0 + MIN_MS);
    struct store_mig m;
    new_mig(&m, "shop", "falkenberg-1", "rsv-1");
    int64_t id = create(f, &m, NULL, 0);
    get(f, id, &m);
    m.updated_ms = T0 + 10 * MIN_MS;
    util_strlcpy(m.phase, "done", sizeof m.phase);
    util_strlcpy(m.result, "done", sizeof m.result);
    m.downtime_s = 250;
    struct store_mig_save_extra x = {.event = "reservation released",
                                     .release_hold = true,
                                     .rates = {{STORE_RATE_DELTA, 0.25}, {STORE_RATE_RESTORE, 6}},
                                     .nrates = 2,
                                     .rate_alpha = 0.5};
    save(f, &m, &x);
    assert_true(held_kw(f, T0, NULL) == 0);
    struct store_mig_rates r;
    char err[256];
    assert_int_equal(store_mig_rates(f->s, "falkenberg-1", &r, err, sizeof err), 0);
    assert_true(isnan(r.gb_per_min[STORE_RATE_INITIAL]));
    assert_true(r.gb_per_min[STORE_RATE_DELTA] == 0.25);
    assert_int_equal(r.samples[STORE_RATE_RESTORE], 1);
    /* The second sample moves the average by alpha. */
    struct store_mig_save_extra y = {
        .rates = {{STORE_RATE_DELTA, 0.75}}, .nrates = 1, .rate_alpha = 0.5};
    save(f, &m, &y);
    assert_int_equal(store_mig_rates(f->s, "falkenberg-1", &r, err, sizeof err), 0);
    assert_true(fabs(r.gb_per_min[STORE_RATE_DELTA] - 0.5) < 1e-9);
    assert_int_equal(r.samples[STORE_RATE_DELTA], 2);
    /* Another peer's rates are its own; the mean over peers mixes them. */
    assert_int_equal(store_mig_rates(f->s, "oslo-2", &r, err, sizeof err), 0);
    assert_true(isnan(r.gb_per_min[STORE_RATE_DELTA]));
    assert_int_equal(store_mig_rates_all(f->s, &r, err, sizeof err), 0);
    assert_true(fabs(r.gb_per_min[STORE_RATE_DELTA] - 0.5) < 1e-9);
    /* A nonsense sample is left out. */
    struct store_mig_save_extra z = {
        .rates = {{STORE_RATE_DELTA, NAN}, {STORE_RATE_DELTA, -1}}, .nrates = 2, .rate_alpha = 1};
    save(f, &m, &z);
    assert_int_equal(store_mig_rates(f->s, "falkenberg-1", &r, err, sizeof err), 0);
    assert_int_equal(r.samples[STORE_RATE_DELTA], 2);

    /* The fixed time is seconds, and 0 is a measurement; below 0 is not. */
    struct store_mig_save_extra fx1 = {
        .rates = {{STORE_RATE_FIXED, 0}, {STORE_RATE_FIXED, -5}}, .nrates = 2, .rate_alpha = 0.3};
    save(f, &m, &fx1);
    assert_int_equal(store_mig_rates(f->s, "falkenberg-1", &r, err, sizeof err), 0);
    assert_int_equal(r.samples[STORE_RATE_FIXED], 1);
    assert_true(r.gb_per_min[STORE_RATE_FIXED] == 0);
    struct store_mig_save_extra fx2 = {
        .rates = {{STORE_RATE_FIXED, 40}}, .nrates = 1, .rate_alpha = 0.3};
    save(f, &m, &fx2);
    assert_int_equal(store_mig_rates(f->s, "falkenberg-1", &r, err, sizeof err), 0);
    assert_int_equal(r.samples[STORE_RATE_FIXED], 2);
    assert_true(fabs(r.gb_per_min[STORE_RATE_FIXED] - 12) < 1e-9);  /* 0 * 0.7 + 40 * 0.3 */
    assert_true(fabs(r.gb_per_min[STORE_RATE_DELTA] - 0.5) < 1e-9); /* its own row */

    struct store_mig_event *ev;
    size_t nev;
    assert_int_equal(store_mig_events(f->s, id, 0, &ev, &nev, err, sizeof err), 0);
    assert_int_equal(nev, 2);
    assert_string_equal(ev[1].detail, "reservation released");
    assert_string_equal(ev[1].phase, "done");
    assert_int_equal(ev[1].ts_ms, T0 + 10 * MIN_MS);
    free(ev);
    double *dt;
    size_t ndt;
    assert_int_equal(store_mig_downtimes(f->s, &dt, &ndt, err, sizeof err), 0);
    assert_int_equal(ndt, 1);
    assert_true(dt[0] == 250);
    free(dt);
}

static void count_result(void *ctx, const char *result, int64_t n)
{
    char *buf = ctx;
    char line[64];
    snprintf(line, sizeof line, "%s=%lld;", result, (long long)n);
    strcat(buf, line);
}

static void pending_busy_and_counts_follow_the_results(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"a", "b", "c", "d"};
    int64_t ids[4];
    for (int i = 0; i < 4; i++) {
        char rid[16];
        snprintf(rid, sizeof rid, "rsv-%d", i);
        add_hold(f, "p", rid, names[i], 10, T0 + MIN_MS);
        struct store_mig m;
        new_mig(&m, names[i], "p", rid);
        ids[i] = create(f, &m, NULL, 0);
    }
    struct store_mig m;
    /* b: done, source still kept; c: done and deleted; d: rolled back. */
    get(f, ids[1], &m);
    util_strlcpy(m.result, "done", sizeof m.result);
    m.ended_ms = T0 + 5;
    save(f, &m, NULL);
    get(f, ids[2], &m);
    util_strlcpy(m.result, "done", sizeof m.result);
    m.source_deleted_ms = T0;
    save(f, &m, NULL);
    get(f, ids[3], &m);
    util_strlcpy(m.result, "rolled-back", sizeof m.result);
    save(f, &m, NULL);

    char err[256];
    struct store_mig *rows;
    size_t n;
    assert_int_equal(store_mig_pending(f->s, &rows, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].workload, "a");
    assert_string_equal(rows[1].workload, "b");
    free(rows);
    char **busy;
    assert_int_equal(store_mig_busy(f->s, &busy, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(busy[0], "a");
    assert_string_equal(busy[1], "b");
    store_mig_names_free(busy, n);
    assert_int_equal(store_mig_list(f->s, true, 0, &rows, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    free(rows);
    assert_int_equal(store_mig_list(f->s, false, 3, &rows, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].workload, "d"); /* newest first */
    free(rows);
    int64_t active;
    assert_int_equal(store_mig_active_count(f->s, &active, err, sizeof err), 0);
    assert_int_equal(active, 1);
    char counts[128] = "";
    assert_int_equal(store_mig_counts(f->s, count_result, counts, err, sizeof err), 0);
    assert_string_equal(counts, "done=2;rolled-back=1;");
    /* The moves done, oldest first, with whether the source is kept. */
    struct store_mig_move *moves;
    assert_int_equal(store_mig_moves(f->s, &moves, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(moves[0].workload, "b");
    assert_string_equal(moves[0].namespace_, "b");
    assert_string_equal(moves[0].peer, "p");
    assert_int_equal(moves[0].ended_ms, T0 + 5);
    assert_true(moves[0].source_kept);
    assert_int_equal(moves[0].id, ids[1]);
    assert_string_equal(moves[1].workload, "c");
    assert_false(moves[1].source_kept);
    store_mig_moves_free(moves, n);
}

/* floe_migrations_total tells a fault from an operator's choice: a
 * rollback that store_mig_abort started counts as aborted, not
 * rolled-back; one a fault started in the tick the abort was asked
 * (abort_requested set, the fault's reason) is a fault's. */
static void counts_tell_an_aborted_rollback_from_a_fault(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"faulty", "aborted", "faulty-as-aborted"};
    const char *reasons[] = {"the import 7 failed at p: restore failed", "aborted by facility",
                             "the import 8 failed at p: restore failed"};
    int64_t ids[3];
    char why[200], err[256];
    for (int i = 0; i < 3; i++) {
        char rid[16];
        snprintf(rid, sizeof rid, "rsv-%d", i);
        add_hold(f, "p", rid, names[i], 10, T0 + MIN_MS);
        struct store_mig m;
        new_mig(&m, names[i], "p", rid);
        ids[i] = create(f, &m, NULL, 0);
    }
    for (int i = 1; i < 3; i++)
        assert_int_equal(
            store_mig_abort(f->s, ids[i], "facility", T0 + 1000, why, sizeof why, err, sizeof err),
            0);
    for (int i = 0; i < 3; i++) {
        struct store_mig m;
        get(f, ids[i], &m);
        util_strlcpy(m.phase, "rolled-back", sizeof m.phase);
        util_strlcpy(m.result, "rolled-back", sizeof m.result);
        util_strlcpy(m.reason, reasons[i], sizeof m.reason);
        save(f, &m, NULL);
        get(f, ids[i], &m);
        assert_true(store_mig_aborted(&m) == (i == 1));
    }
    char counts[128] = "";
    assert_int_equal(store_mig_counts(f->s, count_result, counts, err, sizeof err), 0);
    assert_string_equal(counts, "aborted=1;rolled-back=2;");
}

/* ---- schema ---- */

static void database_of_schema_4_keeps_its_holds_and_gains_migrations(void **state)
{
    struct fixture *f = *state;
    add_hold(f, "falkenberg-1", "rsv-1", "shop", 40, T0 + MIN_MS);
    store_close(f->s);
    f->s = NULL;
    /* What a floe of schema 4 left: none of the later tables (whatever
     * later schemas add), a hold table whose states are active and
     * released only. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    static const char *const schema_4[] = {"meta",   "metric",         "sample", "decision",
                                           "policy", "policy_state",   "audit",  "reservation",
                                           "hold",   "sqlite_sequence"};
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    char later[16][64];
    size_t nlater = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        bool known = false;
        for (size_t i = 0; i < sizeof schema_4 / sizeof *schema_4; i++)
            known |= strcmp(name, schema_4[i]) == 0;
        if (!known && nlater < 16)
            util_strlcpy(later[nlater++], name, sizeof later[0]);
    }
    sqlite3_finalize(st);
    assert_true(nlater >= 3); /* migration, migration_event, migration_rate at least */
    for (size_t i = 0; i < nlater; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "DROP TABLE %.63s", later[i]);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    const char *back_to_4 =
        "CREATE TABLE hold_4 (peer TEXT NOT NULL, id TEXT NOT NULL, workload TEXT NOT NULL,"
        " namespace TEXT NOT NULL, kw REAL NOT NULL, decision_id INTEGER NOT NULL,"
        " created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
        " state TEXT NOT NULL CHECK (state IN ('active', 'released')), ended_ms INTEGER,"
        " PRIMARY KEY (peer, id)) WITHOUT ROWID;"
        "INSERT INTO hold_4 SELECT * FROM hold; DROP TABLE hold;"
        "ALTER TABLE hold_4 RENAME TO hold; CREATE INDEX hold_state ON hold(state, expires_ms);"
        "PRAGMA user_version = 4;"
        /* and without schema 8's telemetry tiers (their tables went with
         * the later ones above) */
        "DELETE FROM meta WHERE key IN ('hour_next', 'raw_from', 'minute_from');";
    assert_int_equal(sqlite3_exec(db, back_to_4, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    reopen(f);
    assert_true(held_kw(f, T0, "active") == 40);
    struct store_mig m;
    new_mig(&m, "shop", "falkenberg-1", "rsv-1");
    create(f, &m, NULL, 0);
    assert_true(held_kw(f, T0 + 1000 * MIN_MS, "confirmed") == 40);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(creating_confirms_the_hold_which_then_outlives_its_ttl),
        T(one_running_migration_per_workload),
        T(manual_migration_records_a_confirmed_hold),
        T(every_column_survives_a_reopen),
        T(a_save_never_undoes_an_abort),
        T(abort_is_refused_once_cut_over_or_ended),
        T(ending_save_releases_the_hold_and_records_event_and_rates),
        T(pending_busy_and_counts_follow_the_results),
        T(counts_tell_an_aborted_rollback_from_a_fault),
        T(database_of_schema_4_keeps_its_holds_and_gains_migrations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
