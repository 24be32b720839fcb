/*
 * test_mig_phase — the source side's phase machine, step by step: every
 * transition of a stateful and a stateless migration, the data mover's
 * order, retries (Failed, a Velero restart, a refused POST), a
 * PartiallyFailed final backup, rollback from each phase (with what it
 * undoes, in order; restarting pods the final backup's hook may have
 * quiesced), abort, timeouts that follow the budgets, and the incremental
 * restore (a prestage import during precopy/delta, the final backup
 * restored in place).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/util.h"
#include "migrator/mig_phase.h"

#define T0 1767225600000LL
#define S 1000LL
#define MIN (60 * S)

struct h {
    struct store_mig m;
    struct mig_params p;
    struct mig_ns_state ns;
    int64_t now;
    struct mig_action act;
    struct mig_effects fx;
    bool changed;
};

static void set_obj(struct mig_obj *o, enum mig_obj_kind kind, const char *name, int32_t replicas,
                    int32_t running)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    util_strlcpy(o->name, name, sizeof o->name);
    o->replicas = replicas;
    o->status_replicas = o->ready_replicas = o->updated_replicas = o->available_replicas = running;
    o->generation = o->observed_generation = 1;
}

static struct h *new_h(bool stateless)
{
    struct h *h = calloc(1, sizeof *h);
    h->now = T0;
    mig_init(&h->m, T0);
    h->m.id = 7;
    util_strlcpy(h->m.workload, "shop", sizeof h->m.workload);
    util_strlcpy(h->m.namespace_, "shop", sizeof h->m.namespace_);
    util_strlcpy(h->m.peer, "falkenberg-1", sizeof h->m.peer);
    util_strlcpy(h->m.reservation, "rsv-1", sizeof h->m.reservation);
    util_strlcpy(h->m.hostname, "shop.apps.example.org", sizeof h->m.hostname);
    h->m.stateless = stateless;
    h->m.data_gb = stateless ? 0 : 37;
    h->m.kw = 40;
    if (!stateless)
        util_strlcpy(h->m.quiesce, "[\"fsfreeze\",\"--freeze\",\"/data\"]", sizeof h->m.quiesce);
    h->p = (struct mig_params){.site = "lulea-1",
                               .delta_interval_ms = 10 * MIN,
                               .backup_ttl_ms = 72 * 60 * MIN,
                               .retain_source_ms = 24 * 60 * MIN,
                               .storage_sync_ms = MIN,
                               .retries = 2,
                               .traffic_switches = true,
                               .traffic_ttl_s = 30,
                               .peer_ingress = "198.51.100.7",
                               .home_ingress = "192.0.2.10",
                               .rates = pl_rates_report()};
    h->ns.exists = true;
    h->ns.nobjs = 2;
    set_obj(&h->ns.objs[0], MIG_DEPLOYMENT, "web", 3, 3);
    set_obj(&h->ns.objs[1], MIG_STATEFULSET, "db", 1, 1);
    return h;
}

static void name_of(const struct h *h, int seq, char *out)
{
    assert_int_equal(mig_velero_name(out, MIG_VELERO_NAME_MAX + 1, "lulea-1", "shop", 7, seq), 0);
}

/* ---- observations ---- */

static struct mig_obs none(void)
{
    return (struct mig_obs){.slot_free = true};
}

static struct mig_obs backup_is(enum mig_vclass cls, double took_s, double bytes,
                                const char *reason)
{
    struct mig_obs o = none();
    o.backup.asked = o.backup.ok = true;
    o.backup.status.cls = cls;
    o.backup.bytes = bytes;
    if (reason)
        util_strlcpy(o.backup.status.reason, reason, sizeof o.backup.status.reason);
    if (took_s > 0) {
        o.backup.status.started_ms = T0;
        o.backup.status.completed_ms = T0 + (int64_t)(took_s * 1000);
    }
    return o;
}

static struct mig_obs ns_is(const struct h *h)
{
    struct mig_obs o = none();
    o.ns.asked = o.ns.ok = true;
    o.ns.ns = &h->ns;
    return o;
}

static struct mig_obs import_is(enum mig_import_phase ph, const char *error)
{
    struct mig_obs o = none();
    o.import.asked = o.import.ok = true;
    util_strlcpy(o.import.status.id, "imp-1", sizeof o.import.status.id);
    o.import.status.phase = ph;
    o.import.status.restore_s = 300;
    o.import.status.restored_bytes = 31.8e9;
    if (error)
        util_strlcpy(o.import.status.error, error, sizeof o.import.status.error);
    return o;
}

static struct mig_obs prestage_is(enum mig_import_phase ph, const char *error)
{
    struct mig_obs o = none();
    o.prestage.asked = o.prestage.ok = true;
    util_strlcpy(o.prestage.status.id, "imp-pre", sizeof o.prestage.status.id);
    o.prestage.status.phase = ph;
    o.prestage.status.restore_s = 360;
    o.prestage.status.restored_bytes = 37e9;
    if (error)
        util_strlcpy(o.prestage.status.error, error, sizeof o.prestage.status.error);
    return o;
}

static void step(struct h *h, const struct mig_obs *obs)
{
    struct store_mig next;
    h->changed = mig_step(&h->m, obs, &h->p, h->now, &next, &h->act, &h->fx);
    h->m = next;
}

static void outcome(struct h *h, bool ok, long http, const char *import_id)
{
    struct mig_result r = {.ok = ok, .http_status = http};
    if (!ok)
        snprintf(r.error, sizeof r.error, "HTTP %ld", http);
    if (import_id)
        util_strlcpy(r.import.id, import_id, sizeof r.import.id);
    struct store_mig next;
    struct mig_action act = h->act;
    h->changed = mig_outcome(&h->m, &act, &r, &h->p, h->now, &next, &h->fx);
    h->m = next;
}

static void expect_phase(const struct h *h, const char *phase, int step_)
{
    if (strcmp(h->m.phase, phase) != 0 || h->m.step != step_)
        fail_msg("phase %s step %d, wanted %s step %d (error: %s)", h->m.phase, h->m.step, phase,
                 step_, h->m.error);
}

/* Every object at 0, no pod left. */
static void scale_down(struct h *h)
{
    for (size_t i = 0; i < h->ns.nobjs; i++) {
        char name[MIG_OBJ_NAME_MAX + 1];
        util_strlcpy(name, h->ns.objs[i].name, sizeof name);
        set_obj(&h->ns.objs[i], h->ns.objs[i].kind, name, 0, 0);
    }
}

/* ---- drives to a phase ---- */

static void to_precopy(struct h *h)
{
    step(h, &(struct mig_obs){.slot_free = true});
    expect_phase(h, "precopy", 0);
}

/* precopy done after took_s; returns with the state after it */
static void finish_backup(struct h *h, double took_s, double bytes)
{
    h->now += (int64_t)(took_s * 1000);
    struct mig_obs o = backup_is(MIG_V_COMPLETED, took_s, bytes, NULL);
    step(h, &o);
}

static void to_switchover_backup(struct h *h)
{
    to_precopy(h);
    finish_backup(h, 60, 37e9); /* short: straight to switchover */
    expect_phase(h, "switchover", MIG_SW_RECORD);
    struct mig_obs o = ns_is(h);
    step(h, &o);
    expect_phase(h, "switchover", MIG_SW_BACKUP);
}

static void to_restoring(struct h *h)
{
    to_switchover_backup(h);
    finish_backup(h, 240, 1.2e9);
    expect_phase(h, "switchover", MIG_SW_SCALE);
    scale_down(h);
    struct mig_obs o = ns_is(h);
    step(h, &o);
    expect_phase(h, "restoring", 0);
}

static void to_cutover(struct h *h)
{
    to_restoring(h);
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_IMPORT);
    outcome(h, true, 202, "imp-1");
    h->now += 6 * MIN;
    struct mig_obs o = import_is(MIG_IMPORT_READY, NULL);
    o.import.asked = true;
    step(h, &o);
    expect_phase(h, "cutover", MIG_CU_SWITCH);
}

/* ---- the stateful path ---- */

static void reserved_waits_for_a_slot_then_starts_the_initial_backup(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    step(h, &(struct mig_obs){.slot_free = false});
    assert_false(h->changed);
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    assert_int_equal(mig_wants(&h->m), MIG_WANT_SLOT);
    to_precopy(h);
    assert_true(h->changed);
    char want[64];
    name_of(h, 1, want);
    assert_string_equal(h->m.backup, want);
    assert_int_equal(h->m.seq, 1);
    assert_int_equal(h->act.kind, MIG_ACT_BACKUP);
    assert_true(h->act.fs_backup);
    assert_false(h->act.quiesce);
    assert_non_null(strstr(h->fx.event, "initial backup"));
    assert_int_equal(mig_wants(&h->m), MIG_WANT_BACKUP);
    free(h);
}

static void a_backup_the_cluster_does_not_have_is_created_again_after_a_crash(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_precopy(h);
    struct store_mig saved = h->m;
    /* The agent died between saving the intent and the POST: GET says
     * it does not exist; the same name is created, nothing else moves. */
    struct mig_obs gone = backup_is(MIG_V_GONE, 0, NAN, NULL);
    step(h, &gone);
    assert_false(h->changed);
    assert_int_equal(h->act.kind, MIG_ACT_BACKUP);
    assert_string_equal(h->m.backup, saved.backup);
    struct mig_obs running = backup_is(MIG_V_RUNNING, 0, NAN, NULL);
    step(h, &running);
    assert_false(h->changed);
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    free(h);
}

static void long_initial_backup_goes_to_delta_with_bytes_and_a_rate(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_precopy(h);
    finish_backup(h, 42 * 60, 37e9);
    expect_phase(h, "delta", 0);
    assert_true(h->m.bytes == 37e9);
    assert_int_equal(h->m.next_backup_ms, h->now + 10 * MIN);
    assert_int_equal(h->fx.nrates, 1);
    assert_int_equal(h->fx.rates[0].kind, STORE_RATE_INITIAL);
    assert_true(fabs(h->fx.rates[0].gb_per_min - 37.0 / 42) < 1e-9);
    assert_true(h->m.precopy_s == 42 * 60);
    assert_non_null(strstr(h->fx.event, "37.0 GB in 42m0s"));
    /* Without bytes from the cluster the workload's data size counts. */
    struct h *h2 = new_h(false);
    to_precopy(h2);
    finish_backup(h2, 42 * 60, 0);
    assert_true(h2->m.bytes == 37e9);
    free(h2);
    free(h);
}

static void deltas_until_small_or_no_longer_shrinking(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_precopy(h);
    finish_backup(h, 42 * 60, 37e9);
    /* Not before the interval. */
    h->now += 5 * MIN;
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    assert_int_equal(mig_wants(&h->m), 0u);
    h->now += 5 * MIN;
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_BACKUP);
    assert_int_equal(h->m.seq, 2);
    finish_backup(h, 600, 2.5e9); /* 10 min: not small */
    expect_phase(h, "delta", 0);
    assert_int_equal(h->m.deltas, 1);
    assert_true(h->m.last_delta_gb == 2.5);
    assert_int_equal(h->fx.rates[0].kind, STORE_RATE_DELTA);
    h->now += 10 * MIN;
    step(h, &(struct mig_obs){0});
    finish_backup(h, 700, 0.4e9); /* longer than the one before: stop waiting */
    /* Under MIG_RATE_MIN_GB: Velero's overhead more than the link's
     * speed, not learned. */
    assert_int_equal(h->fx.nrates, 0);
    expect_phase(h, "switchover", MIG_SW_RECORD);
    assert_non_null(strstr(h->fx.event, "no longer shrink"));

    struct h *g = new_h(false);
    to_precopy(g);
    finish_backup(g, 42 * 60, 37e9);
    g->now += 10 * MIN;
    step(g, &(struct mig_obs){0});
    finish_backup(g, 100, 0.4e9); /* under 2 min: small */
    expect_phase(g, "switchover", MIG_SW_RECORD);
    assert_non_null(strstr(g->fx.event, "small"));
    free(g);

    struct h *k = new_h(false);
    to_precopy(k);
    finish_backup(k, 42 * 60, 37e9);
    for (int i = 0; i < MIG_MAX_DELTAS; i++) {
        k->now += 10 * MIN;
        step(k, &(struct mig_obs){0});
        finish_backup(k, 900 - i * 10, 3e9); /* shrinking, never small */
    }
    expect_phase(k, "switchover", MIG_SW_RECORD);
    assert_int_equal(k->m.deltas, MIG_MAX_DELTAS);
    free(k);
    free(h);
}

static void switchover_records_replicas_then_backs_up_with_the_pods_up_then_scales(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_precopy(h);
    finish_backup(h, 60, 37e9);
    assert_int_equal(mig_wants(&h->m), MIG_WANT_NS);
    struct mig_obs o = ns_is(h);
    step(h, &o);
    expect_phase(h, "switchover", MIG_SW_BACKUP);
    /* Recorded before anything is scaled, saved with the backup's intent. */
    assert_true(h->m.replicas_recorded);
    assert_int_equal(h->m.nreplicas, 2);
    assert_string_equal(h->m.replicas[0].key, "deployment/web");
    assert_int_equal(h->m.replicas[0].replicas, 3);
    assert_string_equal(h->m.replicas[1].key, "statefulset/db");
    assert_int_equal(h->m.downtime_start_ms, h->now);
    assert_true(isfinite(h->m.estimated_downtime_s) && h->m.estimated_downtime_s > 0);
    assert_false(h->m.scaled);
    assert_int_equal(h->act.kind, MIG_ACT_BACKUP);
    assert_true(h->act.fs_backup);
    assert_true(h->act.quiesce);
    assert_false(h->act.snapshot_move_data);
    assert_int_equal(h->m.seq, 2);
    /* The final backup completes: only now the source goes to 0. */
    finish_backup(h, 240, 1.2e9);
    expect_phase(h, "switchover", MIG_SW_SCALE);
    assert_true(h->m.scaled);
    assert_non_null(strstr(h->fx.event, "final backup"));
    assert_non_null(strstr(h->fx.event, "scaling shop to 0"));
    o = ns_is(h);
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_SCALE);
    assert_int_equal(h->act.nscale, 2);
    assert_int_equal(h->act.scale[0].replicas, 0);
    assert_string_equal(h->act.scale[1].name, "db");
    /* Spec at 0, a pod still terminating: wait without scaling again. */
    scale_down(h);
    h->ns.objs[1].status_replicas = 1;
    o = ns_is(h);
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    expect_phase(h, "switchover", MIG_SW_SCALE);
    h->ns.objs[1].status_replicas = 0;
    step(h, &o);
    expect_phase(h, "restoring", 0);
    free(h);
}

static void pods_with_their_own_hooks_get_no_quiesce_hook(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    h->m.quiesce[0] = '\0';
    to_switchover_backup(h);
    assert_int_equal(h->act.kind, MIG_ACT_BACKUP);
    assert_false(h->act.quiesce);
    assert_non_null(strstr(h->fx.event, "own Velero hooks"));
    free(h);
}

static void data_mover_scales_to_zero_first_then_backs_up_with_snapshots(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    h->m.quiesce[0] = '\0';
    h->p.data_mover = true;
    to_precopy(h);
    finish_backup(h, 60, 37e9);
    struct mig_obs o = ns_is(h);
    step(h, &o);
    expect_phase(h, "switchover", MIG_SW_SCALE);
    assert_int_equal(h->act.kind, MIG_ACT_NONE); /* scaled at the next step */
    assert_true(h->m.scaled && h->m.replicas_recorded);
    assert_int_equal(h->m.seq, 1);
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_SCALE);
    scale_down(h);
    step(h, &o);
    expect_phase(h, "switchover", MIG_SW_MOVER_BACKUP);
    assert_int_equal(h->act.kind, MIG_ACT_BACKUP);
    assert_true(h->act.snapshot_move_data);
    assert_false(h->act.fs_backup);
    assert_int_equal(h->m.seq, 2);
    assert_int_equal(mig_wants(&h->m), MIG_WANT_BACKUP);
    /* A crash before the POST: the same object again, data mover on. */
    struct mig_obs gone = backup_is(MIG_V_GONE, 0, NAN, NULL);
    step(h, &gone);
    assert_true(h->act.snapshot_move_data);
    finish_backup(h, 300, 2e9);
    expect_phase(h, "restoring", 0);
    free(h);
}

/* A reload flips migrator.data_mover mid-switchover: the mode saved at
 * step 0 decides, so neither the last delta is imported (mover on, then
 * off after the scale) nor a second final backup taken (off, then on). */
static void data_mover_mode_is_fixed_when_the_replicas_are_recorded(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    h->m.quiesce[0] = '\0';
    h->p.data_mover = true;
    to_precopy(h);
    finish_backup(h, 60, 37e9);
    struct mig_obs o = ns_is(h);
    step(h, &o);
    expect_phase(h, "switchover", MIG_SW_SCALE);
    assert_true(h->m.data_mover);
    h->p.data_mover = false; /* SIGHUP */
    scale_down(h);
    step(h, &o);
    expect_phase(h, "switchover", MIG_SW_MOVER_BACKUP);
    assert_int_equal(h->act.kind, MIG_ACT_BACKUP);
    assert_true(h->act.snapshot_move_data);
    finish_backup(h, 300, 2e9);
    expect_phase(h, "restoring", 0);
    char final[MIG_VELERO_NAME_MAX + 1];
    name_of(h, 2, final);
    assert_string_equal(h->m.last_backup, final);
    free(h);

    h = new_h(false);
    to_switchover_backup(h);
    assert_false(h->m.data_mover);
    h->p.data_mover = true;
    finish_backup(h, 240, 1.2e9);
    expect_phase(h, "switchover", MIG_SW_SCALE);
    scale_down(h);
    o = ns_is(h);
    step(h, &o);
    expect_phase(h, "restoring", 0);
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    free(h);
}

static void restoring_imports_the_final_backup_and_cutover_ends_the_downtime(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_restoring(h);
    int64_t down_from = h->m.downtime_start_ms;
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_IMPORT);
    assert_true(h->changed && h->m.import_requested); /* the intent is saved first */
    /* The target is down: tried again after MIG_RETRY_MS, not at once. */
    outcome(h, false, 0, NULL);
    assert_int_equal(h->m.retry_at_ms, h->now + MIG_RETRY_MS);
    assert_non_null(strstr(h->m.error, "cannot start the import"));
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    h->now += MIG_RETRY_MS;
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_IMPORT);
    outcome(h, true, 202, "imp-1");
    assert_string_equal(h->m.import_id, "imp-1");
    assert_int_equal(mig_wants(&h->m), MIG_WANT_IMPORT);
    struct mig_obs o = import_is(MIG_IMPORT_RESTORING, NULL);
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    h->now += 6 * MIN;
    o = import_is(MIG_IMPORT_READY, NULL);
    step(h, &o);
    expect_phase(h, "cutover", MIG_CU_SWITCH);
    assert_int_equal(h->fx.nrates, 1);
    assert_int_equal(h->fx.rates[0].kind, STORE_RATE_RESTORE);
    assert_true(fabs(h->fx.rates[0].gb_per_min - 31.8 / 5) < 1e-9);
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_TRAFFIC);
    assert_false(h->act.home);
    assert_string_equal(h->act.address, "198.51.100.7");
    h->now += 2 * S;
    outcome(h, true, 0, NULL);
    expect_phase(h, "done", MIG_DN_RELEASE);
    assert_string_equal(h->m.result, "done");
    assert_true(h->m.downtime_s == (double)(h->now - down_from) / 1000);
    assert_int_equal(h->m.traffic_switched_ms, h->now);
    assert_int_equal(h->m.retain_until_ms, h->now + 24 * 60 * MIN);
    assert_true(h->m.restoring_s > 0 && h->m.switchover_s > 0);
    /* done: release the reservation (and the hold), keep, then delete. */
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_RELEASE);
    outcome(h, true, 204, NULL);
    assert_true(h->fx.release_hold);
    assert_int_equal(h->m.released_ms, h->now);
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    h->now = h->m.retain_until_ms;
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_DELETE_NS);
    outcome(h, true, 200, NULL);
    assert_int_equal(h->m.source_deleted_ms, h->now);
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    free(h);
}

/* A done migration whose workload came back before retain_source ran
 * out (a rebalance's failback took the kept namespace over): its source
 * counts as deleted then, and is never deleted (that would delete what
 * came back). */
static void a_kept_source_taken_over_by_the_workload_coming_back_is_not_deleted(void **state)
{
    (void)state;
    struct h *h = new_h(true);
    util_strlcpy(h->m.phase, "done", sizeof h->m.phase);
    util_strlcpy(h->m.result, "done", sizeof h->m.result);
    h->m.step = MIG_DN_RELEASE;
    h->m.ended_ms = T0;
    h->m.retain_until_ms = T0 + 24 * 60 * MIN;
    /* Before the release nothing is asked of the records. */
    assert_int_equal(mig_wants(&h->m), 0);
    h->m.released_ms = T0 + S;
    h->m.step = MIG_DN_RETAIN;
    assert_int_equal(mig_wants(&h->m), MIG_WANT_RETURN);
    h->now = T0 + 10 * MIN;
    struct mig_obs o = none();
    o.returned.asked = true;
    step(h, &o); /* not come back: kept, nothing to do yet */
    assert_false(h->changed);
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    o.returned.found = true;
    o.returned.import_id = 4242;
    step(h, &o);
    assert_true(h->changed);
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    assert_int_equal(h->m.source_deleted_ms, h->now);
    assert_string_equal(h->fx.event, "shop came back from falkenberg-1 (import 4242 here took the "
                                     "namespace over): the source kept here was replaced by it "
                                     "and is not deleted");
    assert_int_equal(mig_wants(&h->m), 0);
    h->now = h->m.retain_until_ms + MIN;
    o = none();
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    free(h);
}

/* Whether the workload came back is unknown (the records could not be
 * read): past retain_source the source is still not deleted (it may be
 * what came back); once the records answer "not back", it is. */
static void an_unknown_return_never_deletes_the_kept_source(void **state)
{
    (void)state;
    struct h *h = new_h(true);
    util_strlcpy(h->m.phase, "done", sizeof h->m.phase);
    util_strlcpy(h->m.result, "done", sizeof h->m.result);
    h->m.step = MIG_DN_RETAIN;
    h->m.ended_ms = T0;
    h->m.released_ms = T0 + S;
    h->m.retain_until_ms = T0 + 60 * MIN;
    h->now = h->m.retain_until_ms + MIN;
    struct mig_obs o = none();
    o.returned.asked = true;
    o.returned.unknown = true;
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    assert_int_equal(h->m.source_deleted_ms, 0);
    o.returned.unknown = false;
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_DELETE_NS);
    free(h);
}

/* Done teaches the peer's fixed time: the downtime the final backup and
 * the restore do not explain at the rates as they stand. */
static void done_teaches_the_fixed_time_beyond_the_transfers(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    h->p.rates = (struct pl_rates){.initial_gb_per_min = 1,
                                   .delta_gb_per_min = 0.5,
                                   .restore_gb_per_min = 6,
                                   .delta_gb = 1,
                                   .fixed_s = 1000}; /* not part of what is learned */
    to_cutover(h); /* final backup 1.2 GB in 240 s, restore 300 s */
    /* The estimate at switchover counted the fixed time as it stood: the
     * expected 1 GB delta (120 s) + 37 GB (370 s) + 1000 s. */
    assert_true(fabs(h->m.estimated_downtime_s - 1490) < 1e-9);
    int64_t down_from = h->m.downtime_start_ms;
    assert_true(h->m.last_delta_gb == 1.2 && h->m.restore_s == 300);
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_TRAFFIC);
    h->now += 2 * S;
    outcome(h, true, 0, NULL);
    expect_phase(h, "done", MIG_DN_RELEASE);
    double down = (double)(h->now - down_from) / 1000;
    assert_true(h->m.downtime_s == down && down == 602);
    /* 602 - 1.2 GB at 0.5 GB/min (144) - 37 GB at 6 GB/min (370) */
    assert_int_equal(h->fx.nrates, 1);
    assert_int_equal(h->fx.rates[0].kind, STORE_RATE_FIXED);
    assert_true(fabs(h->fx.rates[0].gb_per_min - 88) < 1e-9);
    assert_true(fabs(mig_fixed_s(&h->m, &h->p) - 88) < 1e-9);

    struct store_mig m = h->m;
    /* Incremental: only the final delta was restored (1.2 GB: 12 s). */
    util_strlcpy(m.prestage_state, "ready", sizeof m.prestage_state);
    assert_true(fabs(mig_fixed_s(&m, &h->p) - (602 - 144 - 12)) < 1e-9);
    /* Velero on another clock (a sped-up floe-sim): the downtime on ours
     * is shorter than its backup and restore; Velero's own part counts. */
    m = h->m;
    m.downtime_s = 20;
    assert_true(fabs(mig_fixed_s(&m, &h->p) - ((240 - 144) + (300 - 370))) < 1e-9);
    /* Faster than the rates predict: 0, never below. */
    m.last_backup_s = m.restore_s = 10;
    m.downtime_s = 30;
    assert_true(mig_fixed_s(&m, &h->p) == 0);
    /* Unknown Velero times: the predictions stand in for them. */
    m = h->m;
    m.last_backup_s = m.restore_s = NAN;
    assert_true(fabs(mig_fixed_s(&m, &h->p) - 88) < 1e-9);
    /* A stall over an hour is no fixed cost; nothing without a downtime. */
    m = h->m;
    m.downtime_s = 602 + MIG_FIXED_MAX_S;
    assert_true(isnan(mig_fixed_s(&m, &h->p)));
    m.downtime_s = NAN;
    assert_true(isnan(mig_fixed_s(&m, &h->p)));
    m = h->m;
    m.stateless = true;
    assert_true(isnan(mig_fixed_s(&m, &h->p)));
    free(h);
}

/* A rollback, even after the target was ready, teaches no fixed time. */
static void a_rollback_teaches_no_fixed_time(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    h->p.peer_ingress = NULL; /* the traffic cannot be switched */
    to_cutover(h);
    for (int i = 0; i < 200 && !h->m.result[0]; i++) {
        h->now += MIN;
        struct mig_obs o = ns_is(h);
        step(h, &o);
        for (size_t k = 0; k < h->fx.nrates; k++)
            assert_int_not_equal(h->fx.rates[k].kind, STORE_RATE_FIXED);
        for (size_t k = 0; h->act.kind == MIG_ACT_SCALE && k < h->act.nscale; k++)
            for (size_t j = 0; j < h->ns.nobjs; j++)
                if (strcmp(h->ns.objs[j].name, h->act.scale[k].name) == 0)
                    set_obj(&h->ns.objs[j], h->ns.objs[j].kind, h->act.scale[k].name,
                            h->act.scale[k].replicas, h->act.scale[k].replicas);
        if (h->act.kind != MIG_ACT_NONE)
            outcome(h, true, 204, NULL);
        for (size_t k = 0; k < h->fx.nrates; k++)
            assert_int_not_equal(h->fx.rates[k].kind, STORE_RATE_FIXED);
    }
    assert_string_equal(h->m.result, "rolled-back");
    free(h);
}

static void no_ingress_known_waits_then_rolls_back_pointing_traffic_home(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_cutover(h);
    h->p.peer_ingress = "";
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    assert_non_null(strstr(h->m.error, "no ingress known"));
    h->now += (int64_t)(mig_budget_s(&h->m, &h->p) * 1000) + S;
    step(h, &(struct mig_obs){0});
    expect_phase(h, "rolling-back", MIG_RB_TRAFFIC);
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_TRAFFIC);
    assert_true(h->act.home);
    assert_string_equal(h->act.address, "192.0.2.10");
    outcome(h, true, 0, NULL);
    expect_phase(h, "rolling-back", MIG_RB_SCALE);
    free(h);
}

/* ---- stateless ---- */

static void stateless_imports_while_serving_switches_waits_the_ttl_then_scales_down(void **state)
{
    (void)state;
    struct h *h = new_h(true);
    to_precopy(h);
    assert_false(h->act.fs_backup);
    finish_backup(h, 5, 0);
    expect_phase(h, "restoring", 0);
    assert_int_equal(h->fx.nrates, 0);
    assert_int_equal(mig_wants(&h->m), MIG_WANT_NS);
    struct mig_obs o = ns_is(h);
    step(h, &o);
    /* The counts of now go along; the source is not touched. */
    assert_true(h->m.replicas_recorded && !h->m.scaled);
    assert_int_equal(h->act.kind, MIG_ACT_IMPORT);
    outcome(h, true, 202, "imp-1");
    o = import_is(MIG_IMPORT_READY, NULL);
    step(h, &o);
    expect_phase(h, "cutover", MIG_CU_SWITCH);
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_TRAFFIC);
    outcome(h, true, 0, NULL);
    expect_phase(h, "cutover", MIG_CU_TTL);
    assert_int_equal(h->m.traffic_switched_ms, h->now);
    h->now += 29 * S;
    step(h, &(struct mig_obs){0});
    expect_phase(h, "cutover", MIG_CU_TTL);
    h->now += S;
    step(h, &(struct mig_obs){0});
    expect_phase(h, "cutover", MIG_CU_SCALE);
    assert_true(h->m.scaled);
    o = ns_is(h);
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_SCALE);
    scale_down(h);
    step(h, &o);
    expect_phase(h, "done", MIG_DN_RELEASE);
    assert_true(h->m.downtime_s == 0);
    assert_true(h->m.estimated_downtime_s != h->m.estimated_downtime_s ||
                h->m.estimated_downtime_s == 0);
    /* An abort after the switch changes nothing. */
    free(h);
}

/* ---- failures ---- */

static void failed_backups_retry_under_new_names_then_roll_back(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_precopy(h);
    char first[64], second[64];
    util_strlcpy(first, h->m.backup, sizeof first);
    struct mig_obs failed = backup_is(MIG_V_FAILED, 0, NAN, "pod volume backup failed");
    step(h, &failed);
    expect_phase(h, "precopy", 0);
    assert_int_equal(h->m.seq, 2);
    assert_int_equal(h->m.attempts, 1);
    assert_string_not_equal(h->m.backup, first);
    assert_int_equal(h->act.kind, MIG_ACT_BACKUP);
    assert_non_null(strstr(h->fx.event, "retry 1 of 2"));
    util_strlcpy(second, h->m.backup, sizeof second);
    /* A Velero restart marks it Failed with its own reason: retried too. */
    struct mig_obs restart = backup_is(MIG_V_FAILED, 0, NAN, MIG_VELERO_RESTART_BACKUP);
    step(h, &restart);
    assert_int_equal(h->m.seq, 3);
    assert_non_null(strstr(h->fx.event, "Velero restart"));
    step(h, &failed);
    expect_phase(h, "rolling-back", MIG_RB_RELEASE);
    assert_string_equal(h->m.rollback_from, "precopy");
    assert_non_null(strstr(h->m.reason, "no retries left"));
    /* Nothing was scaled or imported: only the reservation goes back. */
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_RELEASE);
    outcome(h, true, 204, NULL);
    expect_phase(h, "rolled-back", 0);
    assert_string_equal(h->m.result, "rolled-back");
    assert_true(h->fx.release_hold);
    assert_non_null(strstr(h->m.error, "no retries left"));
    free(h);
}

static void a_refused_backup_post_counts_as_a_failed_attempt(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_precopy(h);
    outcome(h, false, 422, NULL);
    assert_int_equal(h->m.seq, 2);
    assert_int_equal(h->m.attempts, 1);
    /* 500 or no answer: the same name again later. */
    outcome(h, false, 500, NULL);
    assert_int_equal(h->m.seq, 2);
    assert_int_equal(h->m.retry_at_ms, h->now + MIG_RETRY_MS);
    free(h);
}

static void partially_failed_final_backup_continues_and_a_failed_import_rolls_back(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_switchover_backup(h);
    h->now += 240 * S;
    struct mig_obs partial = backup_is(MIG_V_PARTIAL, 240, 1e9, "1 item failed");
    step(h, &partial);
    expect_phase(h, "switchover", MIG_SW_SCALE);
    assert_true(h->m.last_backup_partial);
    assert_true(h->fx.warn);
    assert_non_null(strstr(h->fx.event, "partially failed"));
    scale_down(h);
    struct mig_obs o = ns_is(h);
    step(h, &o);
    step(h, &(struct mig_obs){0});
    outcome(h, true, 202, "imp-1");
    o = import_is(MIG_IMPORT_FAILED, "web never became ready");
    step(h, &o);
    expect_phase(h, "rolling-back", MIG_RB_SCALE);
    assert_non_null(strstr(h->m.reason, "web never became ready"));
    assert_non_null(strstr(h->m.reason, "partially failed"));
    free(h);
}

static void rollback_after_scaling_restores_counts_drops_import_and_releases(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_restoring(h);
    step(h, &(struct mig_obs){0});
    outcome(h, true, 202, "imp-1");
    /* The target refuses (4xx): roll back. */
    struct mig_obs o = import_is(MIG_IMPORT_FAILED, "no space");
    step(h, &o);
    expect_phase(h, "rolling-back", MIG_RB_SCALE);
    assert_int_equal(mig_wants(&h->m), MIG_WANT_NS);
    o = ns_is(h);
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_SCALE);
    assert_int_equal(h->act.nscale, 2);
    assert_string_equal(h->act.scale[0].name, "web");
    assert_int_equal(h->act.scale[0].replicas, 3);
    assert_int_equal(h->act.scale[1].replicas, 1);
    /* Scaled, pods starting: wait for ready. */
    set_obj(&h->ns.objs[0], MIG_DEPLOYMENT, "web", 3, 1);
    set_obj(&h->ns.objs[1], MIG_STATEFULSET, "db", 1, 1);
    h->ns.objs[0].ready_replicas = h->ns.objs[0].available_replicas = 1;
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    expect_phase(h, "rolling-back", MIG_RB_SCALE);
    set_obj(&h->ns.objs[0], MIG_DEPLOYMENT, "web", 3, 3);
    step(h, &o);
    expect_phase(h, "rolling-back", MIG_RB_DROP);
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_DROP);
    outcome(h, false, 0, NULL); /* the peer is down: later */
    expect_phase(h, "rolling-back", MIG_RB_DROP);
    h->now += MIG_RETRY_MS;
    step(h, &(struct mig_obs){0});
    outcome(h, false, 404, NULL); /* already gone counts as dropped */
    expect_phase(h, "rolling-back", MIG_RB_RELEASE);
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_RELEASE);
    outcome(h, true, 204, NULL);
    expect_phase(h, "rolled-back", 0);
    assert_non_null(strstr(h->m.error, "no space"));
    free(h);
}

static void rollback_after_the_quiesce_hook_restarts_the_pods(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_switchover_backup(h);
    /* The final backup (with its pre hook) is on its way; nothing is
     * scaled yet. An abort comes. */
    assert_true(h->m.quiesced);
    assert_false(h->m.scaled);
    h->m.abort_requested = true;
    step(h, &(struct mig_obs){0});
    expect_phase(h, "rolling-back", MIG_RB_SCALE);
    assert_int_equal(mig_wants(&h->m), MIG_WANT_NS | MIG_WANT_BACKUP);
    /* The backup still runs: its hook could stop new pods' writes. */
    struct mig_obs o = backup_is(MIG_V_RUNNING, 0, NAN, NULL);
    o.ns = ns_is(h).ns;
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    assert_non_null(strstr(h->m.error, "waiting for the final backup"));
    /* Ended: every recorded object to 0, the intent saved first. */
    o.backup.status.cls = MIG_V_COMPLETED;
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_SCALE);
    assert_int_equal(h->act.nscale, 2);
    assert_int_equal(h->act.scale[0].replicas, 0);
    assert_int_equal(h->act.scale[1].replicas, 0);
    assert_true(h->m.scaled && h->m.quiesced);
    assert_non_null(strstr(h->fx.event, "restarting shop"));
    /* A pod still terminating: wait. */
    scale_down(h);
    h->ns.objs[0].status_replicas = 1;
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    assert_true(h->m.quiesced);
    h->ns.objs[0].status_replicas = 0;
    step(h, &o);
    assert_false(h->m.quiesced);
    expect_phase(h, "rolling-back", MIG_RB_SCALE);
    /* Then back to the counts recorded before the final backup. */
    o = ns_is(h);
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_SCALE);
    assert_int_equal(h->act.scale[0].replicas, 3);
    assert_int_equal(h->act.scale[1].replicas, 1);
    set_obj(&h->ns.objs[0], MIG_DEPLOYMENT, "web", 3, 3);
    set_obj(&h->ns.objs[1], MIG_STATEFULSET, "db", 1, 1);
    step(h, &o);
    expect_phase(h, "rolling-back", MIG_RB_RELEASE);
    free(h);
    /* A backup stuck past its budget is not waited on for ever. */
    h = new_h(false);
    to_switchover_backup(h);
    h->m.abort_requested = true;
    step(h, &(struct mig_obs){0});
    h->now = h->m.backup_started_ms + 3 * 60 * MIN;
    o = backup_is(MIG_V_RUNNING, 0, NAN, NULL);
    o.ns = ns_is(h).ns;
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_SCALE);
    free(h);
    /* Once the source had no pod left, nothing is quiesced any more. */
    h = new_h(false);
    to_restoring(h);
    assert_false(h->m.quiesced);
    free(h);
}

static void import_started_but_id_lost_is_asked_again_to_drop_it(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_restoring(h);
    step(h, &(struct mig_obs){0});
    assert_true(h->m.import_requested);
    /* Aborted before the answer's id was saved. */
    h->m.abort_requested = true;
    util_strlcpy(h->m.abort_by, "facility", sizeof h->m.abort_by);
    step(h, &(struct mig_obs){0});
    expect_phase(h, "rolling-back", MIG_RB_SCALE);
    scale_down(h);
    set_obj(&h->ns.objs[0], MIG_DEPLOYMENT, "web", 3, 3);
    set_obj(&h->ns.objs[1], MIG_STATEFULSET, "db", 1, 1);
    struct mig_obs o = ns_is(h);
    step(h, &o);
    expect_phase(h, "rolling-back", MIG_RB_DROP);
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_IMPORT); /* the target answers with the existing one */
    outcome(h, true, 202, "imp-1");
    assert_string_equal(h->m.import_id, "imp-1");
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_DROP);
    free(h);
}

static void target_refusing_the_import_rolls_back_without_a_drop(void **state)
{
    (void)state;
    struct h *h = new_h(true);
    to_precopy(h);
    finish_backup(h, 5, 0);
    struct mig_obs o = ns_is(h);
    step(h, &o);
    outcome(h, false, 409, NULL);
    expect_phase(h, "rolling-back", MIG_RB_DROP);
    assert_non_null(strstr(h->m.reason, "refused the import"));
    /* A stateless source was never scaled: nothing to scale back. The
     * import request is repeated to find what to drop; refused again,
     * there is none. */
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_IMPORT);
    outcome(h, false, 409, NULL);
    expect_phase(h, "rolling-back", MIG_RB_RELEASE);
    free(h);
}

static void abort_rolls_back_from_every_phase_before_the_switch(void **state)
{
    (void)state;
    const char *phases[] = {"reserved", "precopy", "delta", "switchover", "restoring", "cutover"};
    for (size_t i = 0; i < ARRAY_LEN(phases); i++) {
        struct h *h = new_h(false);
        util_strlcpy(h->m.phase, phases[i], sizeof h->m.phase);
        h->m.abort_requested = true;
        util_strlcpy(h->m.abort_by, "facility", sizeof h->m.abort_by);
        step(h, &(struct mig_obs){0});
        if (strcmp(h->m.phase, "rolling-back") != 0)
            fail_msg("abort in %s: phase %s", phases[i], h->m.phase);
        assert_string_equal(h->m.rollback_from, phases[i]);
        assert_string_equal(h->m.reason, "aborted by facility");
        /* From cutover the traffic may have moved: pointed home first. */
        assert_int_equal(h->m.step, i == 5 ? MIG_RB_TRAFFIC : MIG_RB_RELEASE);
        free(h);
    }
    /* After the switch the abort is not taken. */
    struct h *h = new_h(true);
    util_strlcpy(h->m.phase, "cutover", sizeof h->m.phase);
    h->m.step = MIG_CU_TTL;
    h->m.traffic_switched_ms = T0;
    h->m.abort_requested = true;
    step(h, &(struct mig_obs){0});
    expect_phase(h, "cutover", MIG_CU_TTL);
    free(h);
}

/* ---- incremental restore ---- */

/* precopy done (long: deltas follow) with incremental_restore: the
 * prestage import asked for, answered imp-pre. */
static void to_prestaged_delta(struct h *h)
{
    h->p.incremental_restore = true;
    to_precopy(h);
    char initial[64];
    util_strlcpy(initial, h->m.backup, sizeof initial);
    finish_backup(h, 42 * 60, 37e9);
    expect_phase(h, "delta", MIG_DL_DELTAS);
    /* The intent is saved with the step that asks for it. */
    assert_int_equal(h->act.kind, MIG_ACT_IMPORT);
    assert_true(h->act.prestage);
    assert_false(h->act.incremental);
    assert_string_equal(h->m.prestage_state, "requested");
    assert_string_equal(h->m.prestage_backup, initial);
    assert_int_equal(h->m.prestage_started_ms, h->now);
    assert_non_null(strstr(h->fx.event, "prestaging it at falkenberg-1"));
    outcome(h, true, 202, "imp-pre");
    assert_string_equal(h->m.prestage_id, "imp-pre");
    assert_string_equal(h->m.import_id, "");
}

static void
incremental_restore_prestages_the_initial_backup_and_restores_only_the_delta(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_prestaged_delta(h);
    assert_int_equal(mig_wants(&h->m), MIG_WANT_PRESTAGE);
    struct mig_obs o = prestage_is(MIG_IMPORT_RESTORING, NULL);
    step(h, &o);
    assert_false(h->changed);
    /* Deltas go on meanwhile; a small one would switch over, but the
     * target does not hold the initial backup yet: wait for it. */
    h->now += 10 * MIN;
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_BACKUP);
    assert_int_equal(mig_wants(&h->m), MIG_WANT_BACKUP | MIG_WANT_PRESTAGE);
    h->now += 100 * S;
    o = backup_is(MIG_V_COMPLETED, 100, 0.4e9, NULL);
    o.prestage = prestage_is(MIG_IMPORT_RESTORING, NULL).prestage;
    step(h, &o);
    expect_phase(h, "delta", MIG_DL_PRESTAGE);
    assert_non_null(strstr(h->fx.event, "once the prestage import"));
    assert_true(isfinite(mig_budget_s(&h->m, &h->p)));
    assert_int_equal(h->m.downtime_start_ms, 0);
    o = prestage_is(MIG_IMPORT_STARTING, NULL);
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    expect_phase(h, "delta", MIG_DL_PRESTAGE);
    /* Ready: a restore rate sample, then the switchover. */
    o = prestage_is(MIG_IMPORT_READY, NULL);
    step(h, &o);
    assert_string_equal(h->m.prestage_state, "ready");
    assert_int_equal(h->fx.nrates, 1);
    assert_int_equal(h->fx.rates[0].kind, STORE_RATE_RESTORE);
    assert_true(fabs(h->fx.rates[0].gb_per_min - 37.0 / 6) < 1e-9);
    assert_int_equal(mig_wants(&h->m), 0u);
    step(h, &(struct mig_obs){0});
    expect_phase(h, "switchover", MIG_SW_RECORD);
    /* The estimate: the 0.4 GB delta backed up and restored, not 37 GB. */
    o = ns_is(h);
    step(h, &o);
    expect_phase(h, "switchover", MIG_SW_BACKUP);
    double delta_only = 0.4 / 0.25 * 60 + 0.4 / 6.36 * 60;
    assert_true(fabs(h->m.estimated_downtime_s - delta_only) < 1e-6);
    struct store_mig full = h->m;
    full.prestage_state[0] = '\0';
    assert_true(fabs(mig_estimate_downtime_s(&full, &h->p) - (0.4 / 0.25 * 60 + 37 / 6.36 * 60)) <
                1e-6);
    finish_backup(h, 100, 0.4e9);
    scale_down(h);
    o = ns_is(h);
    step(h, &o);
    expect_phase(h, "restoring", 0);
    assert_non_null(strstr(h->fx.event, "incremental"));
    /* The restore's budget: the delta, not the whole data. */
    assert_true(fabs(mig_budget_s(&h->m, &h->p) - (3 * (60 + 0.4 / 6.36 * 60) + MIG_FLOOR_S)) <
                1e-6);
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_IMPORT);
    assert_true(h->act.incremental);
    assert_false(h->act.prestage);
    outcome(h, true, 202, "imp-1");
    assert_string_equal(h->m.import_id, "imp-1");
    assert_non_null(strstr(h->fx.event, "incremental import imp-1"));
    o = import_is(MIG_IMPORT_READY, NULL);
    o.import.status.restored_bytes = NAN; /* an unknown delta teaches no rate */
    step(h, &o);
    expect_phase(h, "cutover", MIG_CU_SWITCH);
    assert_int_equal(h->fx.nrates, 0);
    free(h);
}

static void without_incremental_restore_nothing_is_prestaged(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_precopy(h);
    finish_backup(h, 42 * 60, 37e9);
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    assert_string_equal(h->m.prestage_state, "");
    free(h);
    /* Nor for a stateless workload: no volume data to stage. */
    h = new_h(true);
    h->p.incremental_restore = true;
    to_precopy(h);
    finish_backup(h, 5, 0);
    expect_phase(h, "restoring", 0);
    assert_string_equal(h->m.prestage_state, "");
    struct mig_obs o = ns_is(h);
    step(h, &o);
    assert_int_equal(h->act.kind, MIG_ACT_IMPORT);
    assert_false(h->act.incremental || h->act.prestage);
    free(h);
}

static void a_short_initial_backup_waits_for_the_prestage_before_switching_over(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    h->p.incremental_restore = true;
    to_precopy(h);
    finish_backup(h, 60, 37e9);
    expect_phase(h, "delta", MIG_DL_PRESTAGE);
    assert_int_equal(h->act.kind, MIG_ACT_IMPORT);
    assert_true(h->act.prestage);
    /* The peer did not answer: asked again after MIG_RETRY_MS. */
    outcome(h, false, 0, NULL);
    assert_non_null(strstr(h->m.error, "cannot start the prestage import"));
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_NONE);
    h->now += MIG_RETRY_MS;
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_IMPORT);
    assert_true(h->act.prestage);
    outcome(h, true, 202, "imp-pre");
    struct mig_obs o = prestage_is(MIG_IMPORT_READY, NULL);
    step(h, &o);
    step(h, &(struct mig_obs){0});
    expect_phase(h, "switchover", MIG_SW_RECORD);
    assert_non_null(strstr(h->fx.event, "prestage import imp-pre is ready"));
    free(h);
}

static void a_failed_prestage_rolls_back_before_any_downtime_and_drops_it(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_prestaged_delta(h);
    struct mig_obs o = prestage_is(MIG_IMPORT_FAILED, "the Restore failed");
    step(h, &o);
    expect_phase(h, "rolling-back", MIG_RB_DROP_PRESTAGE);
    assert_non_null(strstr(h->m.reason, "prestage import imp-pre failed"));
    assert_int_equal(h->m.downtime_start_ms, 0);
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_DROP);
    assert_true(h->act.prestage);
    outcome(h, true, 200, NULL);
    assert_string_equal(h->m.prestage_state, "dropped");
    assert_string_equal(h->m.prestage_id, "");
    expect_phase(h, "rolling-back", MIG_RB_RELEASE);
    free(h);
    /* Forgotten by the target (404), or never ready within a full
     * import's budget: the same. */
    h = new_h(false);
    to_prestaged_delta(h);
    struct mig_obs gone = none();
    gone.prestage.asked = true;
    gone.prestage.http_status = 404;
    step(h, &gone);
    expect_phase(h, "rolling-back", MIG_RB_DROP_PRESTAGE);
    assert_non_null(strstr(h->m.reason, "unknown at"));
    free(h);
    h = new_h(false);
    to_prestaged_delta(h);
    o = prestage_is(MIG_IMPORT_RESTORING, NULL);
    h->now += 10 * MIN;
    step(h, &o);
    finish_backup(h, 100, 0.4e9);
    expect_phase(h, "delta", MIG_DL_PRESTAGE);
    double limit = 3 * (60 + 37 / 6.36 * 60) + MIG_FLOOR_S;
    assert_true(fabs(mig_budget_s(&h->m, &h->p) - limit) < 1e-6);
    h->now = h->m.prestage_started_ms + (int64_t)(limit * 1000) + S;
    step(h, &o);
    expect_phase(h, "rolling-back", MIG_RB_DROP_PRESTAGE);
    assert_non_null(strstr(h->m.reason, "not ready within"));
    free(h);
    /* A peer that never answers the prestage POST: the same budget. */
    h = new_h(false);
    h->p.incremental_restore = true;
    to_precopy(h);
    finish_backup(h, 60, 37e9);
    outcome(h, false, 0, NULL);
    h->now = h->m.prestage_started_ms + (int64_t)(limit * 1000) + S;
    step(h, &(struct mig_obs){0});
    expect_phase(h, "rolling-back", MIG_RB_DROP_PRESTAGE);
    assert_non_null(strstr(h->m.reason, "no prestage import started"));
    assert_non_null(strstr(h->m.reason, "cannot start the prestage import"));
    free(h);
}

static void rollback_drops_the_final_import_then_the_prestage_one(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_prestaged_delta(h);
    struct mig_obs o = prestage_is(MIG_IMPORT_READY, NULL);
    step(h, &o);
    h->now += 10 * MIN;
    step(h, &(struct mig_obs){0});
    finish_backup(h, 100, 0.4e9);
    expect_phase(h, "switchover", MIG_SW_RECORD);
    o = ns_is(h);
    step(h, &o);
    finish_backup(h, 100, 0.4e9);
    scale_down(h);
    o = ns_is(h);
    step(h, &o);
    expect_phase(h, "restoring", 0);
    step(h, &(struct mig_obs){0});
    outcome(h, true, 202, "imp-1");
    o = import_is(MIG_IMPORT_FAILED, "no space");
    step(h, &o);
    expect_phase(h, "rolling-back", MIG_RB_SCALE);
    set_obj(&h->ns.objs[0], MIG_DEPLOYMENT, "web", 3, 3);
    set_obj(&h->ns.objs[1], MIG_STATEFULSET, "db", 1, 1);
    o = ns_is(h);
    step(h, &o);
    expect_phase(h, "rolling-back", MIG_RB_DROP);
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_DROP);
    assert_false(h->act.prestage);
    outcome(h, true, 200, NULL);
    expect_phase(h, "rolling-back", MIG_RB_DROP_PRESTAGE);
    assert_true(isinf(mig_budget_s(&h->m, &h->p)));
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_DROP);
    assert_true(h->act.prestage);
    /* The peer is down: later; 404 counts as dropped. */
    outcome(h, false, 0, NULL);
    expect_phase(h, "rolling-back", MIG_RB_DROP_PRESTAGE);
    assert_non_null(strstr(h->m.error, "cannot drop prestage import imp-pre"));
    h->now += MIG_RETRY_MS;
    step(h, &(struct mig_obs){0});
    outcome(h, false, 404, NULL);
    expect_phase(h, "rolling-back", MIG_RB_RELEASE);
    assert_non_null(strstr(h->fx.event, "prestage import imp-pre dropped"));
    free(h);
}

static void a_prestage_asked_for_but_never_answered_is_asked_again_to_drop_it(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    h->p.incremental_restore = true;
    to_precopy(h);
    finish_backup(h, 42 * 60, 37e9);
    assert_true(h->act.prestage);
    /* The agent died before the answer's id was saved, then an abort. */
    h->m.abort_requested = true;
    step(h, &(struct mig_obs){0});
    expect_phase(h, "rolling-back", MIG_RB_DROP_PRESTAGE);
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_IMPORT);
    assert_true(h->act.prestage);
    outcome(h, true, 200, "imp-pre");
    assert_string_equal(h->m.prestage_id, "imp-pre");
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_DROP);
    assert_true(h->act.prestage);
    free(h);
    /* Refused when asked again: nothing of ours there. */
    h = new_h(false);
    h->p.incremental_restore = true;
    to_precopy(h);
    finish_backup(h, 42 * 60, 37e9);
    h->m.abort_requested = true;
    step(h, &(struct mig_obs){0});
    step(h, &(struct mig_obs){0});
    outcome(h, false, 409, NULL);
    expect_phase(h, "rolling-back", MIG_RB_RELEASE);
    assert_string_equal(h->m.prestage_state, "");
    free(h);
}

/* ---- budgets ---- */

static void budgets_grow_with_the_data_and_a_stuck_backup_is_retried(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_precopy(h);
    double b37 = mig_budget_s(&h->m, &h->p);
    /* 3 x 37 GB at 0.88 GB/min + 10 min */
    assert_true(fabs(b37 - (3 * 37 / 0.88 * 60 + MIG_FLOOR_S)) < 1e-6);
    h->m.data_gb = 370;
    assert_true(mig_budget_s(&h->m, &h->p) > 9 * b37);
    h->m.data_gb = 37;
    /* Learned rates: a faster peer gets a shorter budget. */
    h->p.rates.initial_gb_per_min = 8.8;
    assert_true(fabs(mig_budget_s(&h->m, &h->p) - (3 * 37 / 8.8 * 60 + MIG_FLOOR_S)) < 1e-6);
    h->p.rates = pl_rates_report();
    struct mig_obs running = backup_is(MIG_V_RUNNING, 0, NAN, NULL);
    h->now = h->m.backup_started_ms + (int64_t)(b37 * 1000);
    step(h, &running);
    assert_int_equal(h->m.seq, 1);
    h->now += S;
    step(h, &running);
    assert_int_equal(h->m.seq, 2);
    assert_non_null(strstr(h->fx.event, "budget"));
    /* An import may also wait for the target's storage sync. */
    struct h *r = new_h(false);
    to_restoring(r);
    double ib = mig_budget_s(&r->m, &r->p);
    assert_true(fabs(ib - (3 * (60 + 37 / 6.36 * 60) + MIG_FLOOR_S)) < 1e-6);
    step(r, &(struct mig_obs){0});
    outcome(r, true, 202, "imp-1");
    struct mig_obs o = import_is(MIG_IMPORT_WAITING_BACKUP, NULL);
    r->now = r->m.step_started_ms + (int64_t)(ib * 1000) + S;
    step(r, &o);
    expect_phase(r, "rolling-back", MIG_RB_SCALE);
    assert_non_null(strstr(r->m.reason, "not ready within"));
    free(r);
    free(h);
}

/* Fails the peer's cleanup action m is at until t_end; returns how many
 * attempts and events there were. */
static void fail_cleanup_until(struct h *h, int64_t t_end, enum mig_act_kind kind, int *tries,
                               int *events, int64_t *last_pause)
{
    *tries = *events = 0;
    *last_pause = 0;
    while (h->now < t_end) {
        step(h, &(struct mig_obs){0});
        if (h->act.kind == kind) {
            outcome(h, false, 0, NULL);
            (*tries)++;
            *events += h->fx.event[0] != '\0';
            if (h->fx.event[0])
                assert_true(h->fx.warn);
            *last_pause = h->m.retry_at_ms - h->now;
        }
        h->now += S;
    }
}

/* An unreachable peer: the drop and the release are never given up (an
 * import left there would run the workload at both sites; a confirmed
 * reservation never lapses), tried again after pauses that double up to
 * 10 min, with a warning each time the recorded error changes. */
static void peer_cleanup_is_never_given_up_and_backs_off(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_restoring(h);
    step(h, &(struct mig_obs){0});
    outcome(h, true, 202, "imp-1");
    h->m.abort_requested = true;
    step(h, &(struct mig_obs){0});
    expect_phase(h, "rolling-back", MIG_RB_SCALE);
    set_obj(&h->ns.objs[0], MIG_DEPLOYMENT, "web", 3, 3);
    set_obj(&h->ns.objs[1], MIG_STATEFULSET, "db", 1, 1);
    struct mig_obs o = ns_is(h);
    step(h, &o);
    expect_phase(h, "rolling-back", MIG_RB_DROP);
    int tries, events;
    int64_t pause;
    fail_cleanup_until(h, h->now + 6 * 3600 * S, MIG_ACT_DROP, &tries, &events, &pause);
    expect_phase(h, "rolling-back", MIG_RB_DROP); /* still trying after 6 h */
    assert_string_equal(h->m.import_id, "imp-1");
    assert_true(pause == MIG_PEER_BACKOFF_MAX_MS);
    /* 5 s, 5 s, 10 s, 20 s ... 10 min: a handful, then one per 10 min */
    assert_true(tries > 36 && tries < 50);
    assert_true(events >= 7 && events <= 10); /* only when the pause changes */
    assert_non_null(strstr(h->m.error, "cannot drop import imp-1 at falkenberg-1"));
    assert_non_null(strstr(h->m.error, "trying again in 10m0s"));
    assert_true(isinf(mig_budget_s(&h->m, &h->p)));
    /* The peer is back. */
    h->now = h->m.retry_at_ms;
    step(h, &(struct mig_obs){0});
    assert_int_equal(h->act.kind, MIG_ACT_DROP);
    outcome(h, true, 200, NULL);
    expect_phase(h, "rolling-back", MIG_RB_RELEASE);
    fail_cleanup_until(h, h->now + 3 * 3600 * S, MIG_ACT_RELEASE, &tries, &events, &pause);
    expect_phase(h, "rolling-back", MIG_RB_RELEASE);
    assert_false(h->m.released_ms);
    assert_true(pause == MIG_PEER_BACKOFF_MAX_MS);
    h->now = h->m.retry_at_ms;
    step(h, &(struct mig_obs){0});
    outcome(h, true, 200, NULL);
    expect_phase(h, "rolled-back", 0);
    assert_true(h->fx.release_hold);
    free(h);

    /* A done migration releases likewise, its result recorded meanwhile. */
    h = new_h(false);
    to_restoring(h);
    step(h, &(struct mig_obs){0});
    outcome(h, true, 202, "imp-1");
    o = import_is(MIG_IMPORT_READY, NULL);
    step(h, &o);
    step(h, &(struct mig_obs){0});
    outcome(h, true, 0, NULL);
    expect_phase(h, "done", MIG_DN_RELEASE);
    assert_string_equal(h->m.result, "done");
    fail_cleanup_until(h, h->now + 4 * 3600 * S, MIG_ACT_RELEASE, &tries, &events, &pause);
    expect_phase(h, "done", MIG_DN_RELEASE);
    assert_false(h->m.released_ms);
    assert_true(pause == MIG_PEER_BACKOFF_MAX_MS);
    assert_true(tries < 40);
    free(h);
}

static void formats_durations_for_people(void **state)
{
    (void)state;
    char b[32];
    mig_format_s(250, b, sizeof b);
    assert_string_equal(b, "4m10s");
    mig_format_s(3720, b, sizeof b);
    assert_string_equal(b, "1h2m");
    mig_format_s(45.4, b, sizeof b);
    assert_string_equal(b, "45s");
    mig_format_s(NAN, b, sizeof b);
    assert_string_equal(b, "?");
}

/* A backup of our name that is older than the migration is left from an
 * earlier database (ids start again at 1): its data is old, so it is not
 * taken as ours; one a little older (clocks differ) still is. */
static void a_backup_older_than_the_migration_is_not_taken_as_ours(void **state)
{
    (void)state;
    struct h *h = new_h(false);
    to_precopy(h);
    h->now += 30000;
    struct mig_obs o = backup_is(MIG_V_COMPLETED, 60, 37e9, NULL);
    o.backup.status.created_ms = T0 - MIG_CLOCK_SKEW_MS + 1000; /* skew: ours */
    step(h, &o);
    assert_string_not_equal(h->m.phase, "rolling-back");
    free(h);

    h = new_h(false);
    to_precopy(h);
    h->now += 30000;
    o = backup_is(MIG_V_COMPLETED, 60, 37e9, NULL);
    o.backup.status.created_ms = T0 - 3 * 86400000LL; /* three days old */
    step(h, &o);
    expect_phase(h, "rolling-back", MIG_RB_RELEASE); /* nothing stopped, nothing imported */
    assert_non_null(strstr(h->m.reason, "already exists from before migration 7"));
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reserved_waits_for_a_slot_then_starts_the_initial_backup),
        cmocka_unit_test(a_kept_source_taken_over_by_the_workload_coming_back_is_not_deleted),
        cmocka_unit_test(an_unknown_return_never_deletes_the_kept_source),
        cmocka_unit_test(a_backup_the_cluster_does_not_have_is_created_again_after_a_crash),
        cmocka_unit_test(long_initial_backup_goes_to_delta_with_bytes_and_a_rate),
        cmocka_unit_test(deltas_until_small_or_no_longer_shrinking),
        cmocka_unit_test(switchover_records_replicas_then_backs_up_with_the_pods_up_then_scales),
        cmocka_unit_test(pods_with_their_own_hooks_get_no_quiesce_hook),
        cmocka_unit_test(data_mover_scales_to_zero_first_then_backs_up_with_snapshots),
        cmocka_unit_test(data_mover_mode_is_fixed_when_the_replicas_are_recorded),
        cmocka_unit_test(restoring_imports_the_final_backup_and_cutover_ends_the_downtime),
        cmocka_unit_test(done_teaches_the_fixed_time_beyond_the_transfers),
        cmocka_unit_test(a_rollback_teaches_no_fixed_time),
        cmocka_unit_test(no_ingress_known_waits_then_rolls_back_pointing_traffic_home),
        cmocka_unit_test(stateless_imports_while_serving_switches_waits_the_ttl_then_scales_down),
        cmocka_unit_test(failed_backups_retry_under_new_names_then_roll_back),
        cmocka_unit_test(a_refused_backup_post_counts_as_a_failed_attempt),
        cmocka_unit_test(partially_failed_final_backup_continues_and_a_failed_import_rolls_back),
        cmocka_unit_test(rollback_after_scaling_restores_counts_drops_import_and_releases),
        cmocka_unit_test(import_started_but_id_lost_is_asked_again_to_drop_it),
        cmocka_unit_test(target_refusing_the_import_rolls_back_without_a_drop),
        cmocka_unit_test(abort_rolls_back_from_every_phase_before_the_switch),
        cmocka_unit_test(budgets_grow_with_the_data_and_a_stuck_backup_is_retried),
        cmocka_unit_test(peer_cleanup_is_never_given_up_and_backs_off),
        cmocka_unit_test(a_backup_older_than_the_migration_is_not_taken_as_ours),
        cmocka_unit_test(rollback_after_the_quiesce_hook_restarts_the_pods),
        cmocka_unit_test(
            incremental_restore_prestages_the_initial_backup_and_restores_only_the_delta),
        cmocka_unit_test(without_incremental_restore_nothing_is_prestaged),
        cmocka_unit_test(a_short_initial_backup_waits_for_the_prestage_before_switching_over),
        cmocka_unit_test(a_failed_prestage_rolls_back_before_any_downtime_and_drops_it),
        cmocka_unit_test(rollback_drops_the_final_import_then_the_prestage_one),
        cmocka_unit_test(a_prestage_asked_for_but_never_answered_is_asked_again_to_drop_it),
        cmocka_unit_test(formats_durations_for_people),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
