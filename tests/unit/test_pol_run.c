/*
 * Unit tests of pol_run, the tick shared by the agent and replay: derive
 * order, derived values layered over the data source (also in globs),
 * decision inputs, need_kw with in-flight kW, unknown inputs at a
 * cooldown decision, the events it reports, and site time from the zone.
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

#include "policies/pol_run.h"

#define SEC 1000LL
#define MIN (60 * SEC)
/* 2026-01-05T00:00:00Z, a Monday. */
#define T0 1767571200000LL

/* ---- a data source with settable values, and recording callbacks --------- */

struct var {
    char name[40];
    double value;
    int good;
};

struct rig {
    struct var vars[16];
    size_t nvars;
    struct pol_env env;
    struct pol_engine *eng;
    struct pol_run *run;
    struct pol_tz *tz;

    /* what the callbacks saw */
    char derived[8][40];
    double derived_value[8];
    int derived_good[8];
    size_t nderived;
    struct pol_run_event events[16];
    size_t nevents;
    char *decisions[8]; /* JSON text */
    size_t ndecisions;
};

static int rig_value(void *ctx, const char *metric, double *out)
{
    struct rig *r = ctx;
    for (size_t i = 0; i < r->nvars; i++) {
        if (strcmp(r->vars[i].name, metric) == 0) {
            *out = r->vars[i].value;
            return r->vars[i].good;
        }
    }
    return 0;
}

static int rig_glob(void *ctx, const char *pattern, pol_member_fn each, void *each_ctx)
{
    struct rig *r = ctx;
    for (size_t i = 0; i < r->nvars; i++)
        if (pol_glob_match(pattern, r->vars[i].name))
            each(each_ctx, r->vars[i].name, r->vars[i].value, r->vars[i].good);
    return 0;
}

static void set_var(struct rig *r, const char *name, double value, int good)
{
    for (size_t i = 0; i < r->nvars; i++) {
        if (strcmp(r->vars[i].name, name) == 0) {
            r->vars[i].value = value;
            r->vars[i].good = good;
            return;
        }
    }
    assert_true(r->nvars < sizeof r->vars / sizeof r->vars[0]);
    snprintf(r->vars[r->nvars].name, sizeof r->vars[0].name, "%s", name);
    r->vars[r->nvars].value = value;
    r->vars[r->nvars].good = good;
    r->nvars++;
}

static void on_derived(void *ctx, size_t i, const char *metric, const char *unit, double value,
                       int good, int64_t now_ms)
{
    struct rig *r = ctx;
    (void)unit;
    (void)now_ms;
    assert_int_equal(i, r->nderived % 8);
    snprintf(r->derived[i], sizeof r->derived[0], "%s", metric);
    r->derived_value[i] = value;
    r->derived_good[i] = good;
    r->nderived++;
}

static void on_event(void *ctx, const struct pol_run_event *ev)
{
    struct rig *r = ctx;
    assert_true(r->nevents < sizeof r->events / sizeof r->events[0]);
    r->events[r->nevents++] = *ev;
}

static void on_decision(void *ctx, struct decision *d)
{
    struct rig *r = ctx;
    assert_true(r->ndecisions < sizeof r->decisions / sizeof r->decisions[0]);
    r->decisions[r->ndecisions++] = decision_to_text(d);
}

static const struct pol_run_ops rig_ops = {
    .derived = on_derived, .event = on_event, .decision = on_decision};

static void rig_init(struct rig *r, const struct cfg_policy *pols, size_t npols,
                     const struct cfg_derive *derive, size_t nderive, const char *tz)
{
    memset(r, 0, sizeof *r);
    r->env = (struct pol_env){.ctx = r, .value = rig_value, .glob = rig_glob};
    char err[256];
    if (tz && pol_tz_load(tz, &r->tz, err, sizeof err) < 0)
        fail_msg("%s", err);
    if (pol_engine_new(&r->eng, pols, npols, err, sizeof err) < 0)
        fail_msg("%s", err);
    struct pol_run_setup s = {r->eng, pols, npols, derive, nderive, r->tz};
    if (pol_run_new(&r->run, &s, err, sizeof err) < 0)
        fail_msg("%s", err);
}

static size_t rig_tick(struct rig *r, int64_t now_ms, double inflight_kw)
{
    r->nderived = 0;
    struct pol_run_ops ops = rig_ops;
    ops.ctx = r;
    return pol_run_tick(r->run, &r->env, now_ms, inflight_kw, &ops);
}

static void rig_free(struct rig *r)
{
    for (size_t i = 0; i < r->ndecisions; i++)
        free(r->decisions[i]);
    pol_run_free(r->run);
    pol_engine_free(r->eng);
    pol_tz_free(r->tz);
}

/* The decision's text must contain every fragment. */
static void assert_decision_has(const struct rig *r, size_t i, const char *const *fragments)
{
    assert_true(i < r->ndecisions);
    for (; *fragments; fragments++)
        if (!strstr(r->decisions[i], *fragments))
            fail_msg("decision %zu lacks '%s': %s", i, *fragments, r->decisions[i]);
}

/* ---- tests ------------------------------------------------------------------ */

static void derives_run_in_config_order_and_see_earlier_ones(void **unused)
{
    (void)unused;
    struct cfg_derive derive[] = {
        {.metric = "site.a", .expr = "x + 1", .unit = "kW"},
        {.metric = "site.b", .expr = "site.a * 2", .unit = "kW"},
    };
    struct cfg_policy pol = {
        .name = "big", .when = "site.b > 10", .mode = POL_MODE_OBSERVE, .cooldown_ms = 15 * MIN};
    struct rig r;
    rig_init(&r, &pol, 1, derive, 2, NULL);
    set_var(&r, "x", 5, 1);
    assert_int_equal(rig_tick(&r, T0, 0), 1);
    assert_int_equal(r.nderived, 2);
    assert_string_equal(r.derived[0], "site.a");
    assert_true(r.derived_good[0] && r.derived_value[0] == 6);
    assert_string_equal(r.derived[1], "site.b");
    assert_true(r.derived_good[1] && r.derived_value[1] == 12);
    const char *want[] = {"\"ts\":\"2026-01-05T00:00:00Z\"",
                          "\"policy\":\"big\"",
                          "\"kind\":\"notify\"",
                          "\"status\":\"observed\"",
                          "\"inputs\":[{\"name\":\"site.b\",\"value\":12,\"quality\":\"good\"}]",
                          "\"reasons\":[\"entered firing: `when` true\","
                          "\"mode observe: recorded only\"]",
                          NULL};
    assert_decision_has(&r, 0, want);
    rig_free(&r);
}

static void unknown_derive_is_handed_over_as_not_good(void **unused)
{
    (void)unused;
    struct cfg_derive derive[] = {{.metric = "site.a", .expr = "x / y", .unit = ""}};
    struct rig r;
    rig_init(&r, NULL, 0, derive, 1, NULL);
    set_var(&r, "x", 5, 1);
    set_var(&r, "y", 0, 1); /* division by zero is unknown */
    rig_tick(&r, T0, 0);
    assert_int_equal(r.nderived, 1);
    assert_int_equal(r.derived_good[0], 0);
    assert_true(isnan(r.derived_value[0]));
    rig_free(&r);
}

static void glob_sees_this_ticks_derived_value_in_place_of_the_old_one(void **unused)
{
    (void)unused;
    /* The agent's snapshot still holds last tick's power.total_kw (1); the
     * derive makes it 5 now. Counted once, with the new value: 5 + 2. */
    struct cfg_derive derive[] = {{.metric = "power.total_kw", .expr = "5", .unit = "kW"}};
    struct cfg_policy pol = {.name = "sum", .when = "sum(power.*) == 7", .cooldown_ms = MIN};
    struct rig r;
    rig_init(&r, &pol, 1, derive, 1, NULL);
    set_var(&r, "power.total_kw", 1, 1);
    set_var(&r, "power.other_kw", 2, 1);
    assert_int_equal(rig_tick(&r, T0, 0), 1);
    const char *want[] = {"{\"name\":\"power.other_kw\",\"value\":2,\"quality\":\"good\"},"
                          "{\"name\":\"power.total_kw\",\"value\":5,\"quality\":\"good\"}]",
                          NULL};
    assert_decision_has(&r, 0, want);
    rig_free(&r);
}

static void decision_inputs_are_each_value_read_once_in_order(void **unused)
{
    (void)unused;
    struct cfg_policy pol = {.name = "shed-it",
                             .when = "load > cap && load > 0",
                             .mode = POL_MODE_AUTO,
                             .cooldown_ms = 15 * MIN,
                             .action = {.type = POL_ACTION_SHED, .kw = "load - cap + margin"}};
    struct rig r;
    rig_init(&r, &pol, 1, NULL, 0, NULL);
    set_var(&r, "load", 500, 1);
    set_var(&r, "cap", 380, 1);
    set_var(&r, "margin", 20, 1);
    assert_int_equal(rig_tick(&r, T0, 0), 1);
    /* pol_run hands an auto shed to its caller for placement: "placing". */
    const char *want[] = {"\"kind\":\"shed\"",
                          "\"status\":\"placing\"",
                          "\"need_kw\":140",
                          "\"inputs\":[{\"name\":\"load\",\"value\":500,\"quality\":\"good\"},"
                          "{\"name\":\"cap\",\"value\":380,\"quality\":\"good\"},"
                          "{\"name\":\"margin\",\"value\":20,\"quality\":\"good\"}]",
                          "\"reasons\":[\"entered firing: `when` true\"]",
                          NULL};
    assert_decision_has(&r, 0, want);
    rig_free(&r);
}

static void inflight_kw_is_subtracted_from_the_need(void **unused)
{
    (void)unused;
    struct cfg_policy pol = {.name = "shed-it",
                             .when = "load > 100",
                             .mode = POL_MODE_AUTO,
                             .cooldown_ms = 15 * MIN,
                             .action = {.type = POL_ACTION_SHED, .kw = "load - 100"}};
    struct rig r;
    rig_init(&r, &pol, 1, NULL, 0, NULL);
    set_var(&r, "load", 150, 1);
    assert_int_equal(rig_tick(&r, T0, 60), 1);
    const char *want[] = {"\"status\":\"no-need\"", "\"need_kw\":-10",
                          "need met by in-flight work: action.kw 50 kW, in flight 60 kW", NULL};
    assert_decision_has(&r, 0, want);
    rig_free(&r);
}

static void cooldown_decision_with_unknown_when_is_inputs_unknown(void **unused)
{
    (void)unused;
    struct cfg_policy pol = {.name = "hot",
                             .when = "temp > 30",
                             .mode = POL_MODE_AUTO,
                             .cooldown_ms = 5 * MIN,
                             .action = {.type = POL_ACTION_NOTIFY}};
    struct rig r;
    rig_init(&r, &pol, 1, NULL, 0, NULL);
    set_var(&r, "temp", 35, 1);
    assert_int_equal(rig_tick(&r, T0, 0), 1);
    set_var(&r, "temp", 0, 0);
    for (int64_t t = 10 * SEC; t < 5 * MIN; t += 10 * SEC)
        assert_int_equal(rig_tick(&r, T0 + t, 0), 0);
    assert_int_equal(rig_tick(&r, T0 + 5 * MIN, 0), 1);
    const char *first[] = {"\"status\":\"notified\"", NULL};
    assert_decision_has(&r, 0, first);
    const char *second[] = {
        "\"ts\":\"2026-01-05T00:05:00Z\"",
        "\"status\":\"inputs-unknown\"",
        "\"inputs\":[{\"name\":\"temp\",\"value\":null,\"quality\":\"unknown\"}]",
        "\"still firing 5m (the cooldown) after the previous decision\"",
        "inputs unknown: `when` could not be evaluated",
        NULL};
    assert_decision_has(&r, 1, second);
    rig_free(&r);
}

static void events_report_state_changes_and_unknown_turns(void **unused)
{
    (void)unused;
    struct cfg_policy pol = {
        .name = "hot", .when = "temp > 30", .for_ms = 20 * SEC, .cooldown_ms = 15 * MIN};
    struct rig r;
    rig_init(&r, &pol, 1, NULL, 0, NULL);
    rig_tick(&r, T0, 0); /* temp missing: unknown */
    set_var(&r, "temp", 25, 1);
    rig_tick(&r, T0 + 10 * SEC, 0); /* known again, ok */
    rig_tick(&r, T0 + 20 * SEC, 0); /* nothing changes: no event */
    set_var(&r, "temp", 35, 1);
    rig_tick(&r, T0 + 30 * SEC, 0); /* pending */
    rig_tick(&r, T0 + 40 * SEC, 0);
    rig_tick(&r, T0 + 50 * SEC, 0); /* firing */
    assert_int_equal(r.nevents, 4);
    struct pol_run_event *e = r.events;
    assert_true(e[0].unknown_changed && e[0].unknown && e[0].why == NULL);
    assert_int_equal(e[0].ts_ms, T0);
    assert_true(e[1].unknown_changed && !e[1].unknown);
    assert_int_equal(e[2].prev, POL_STATE_OK);
    assert_int_equal(e[2].state, POL_STATE_PENDING);
    assert_string_equal(e[2].why, "when true");
    assert_false(e[2].unknown_changed);
    assert_int_equal(e[3].state, POL_STATE_FIRING);
    assert_string_equal(e[3].why, "for held");
    assert_string_equal(e[3].name, "hot");
    assert_int_equal(e[3].ts_ms, T0 + 50 * SEC);
    assert_int_equal(r.ndecisions, 1);
    rig_free(&r);
}

static void site_time_comes_from_the_zone(void **unused)
{
    (void)unused;
    struct cfg_derive derive[] = {{.metric = "site.hour", .expr = "hour()", .unit = ""}};
    struct cfg_policy pol = {.name = "night",
                             .when = "1",
                             .cooldown_ms = 15 * MIN,
                             .has_schedule = true,
                             .schedule = {.start_min = 60, .end_min = 300}};
    struct rig r;
    rig_init(&r, &pol, 1, derive, 1, "CET-1CEST,M3.5.0,M10.5.0/3");
    /* 23:59:50Z is 00:59:50 in Stockholm in winter: closed; 00:00Z opens. */
    assert_int_equal(rig_tick(&r, T0 - 10 * SEC, 0), 0);
    assert_true(r.derived_value[0] == 0);
    assert_int_equal(rig_tick(&r, T0, 0), 1);
    assert_true(r.derived_value[0] == 1);
    rig_free(&r);
}

static void new_run_names_the_bad_derive(void **unused)
{
    (void)unused;
    struct cfg_policy pol = {.name = "p", .when = "1", .cooldown_ms = MIN};
    struct pol_engine *eng;
    char err[256];
    assert_int_equal(pol_engine_new(&eng, &pol, 1, err, sizeof err), 0);
    struct {
        struct cfg_derive derive[2];
        size_t npolicies;
        const char *want;
    } cases[] = {
        {{{.metric = "a.b", .expr = "1"}, {.metric = "a.c", .expr = "sun(x.*)"}},
         1,
         "derive[1].expr: unknown function 'sun' at column 1"},
        {{{.metric = "a.b", .expr = "1"}, {.metric = "a.b", .expr = "2"}},
         1,
         "derive[1].metric: 'a.b' is also derive[0]"},
        {{{.metric = "A.b", .expr = "1"}, {.metric = "a.c", .expr = "2"}},
         1,
         "derive[0].metric: 'A.b' is not a metric name"},
        {{{.metric = "a.b", .expr = "1"}, {.metric = "a.c", .expr = "2"}},
         0,
         "policy engine has 1 policies, the config 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pol_run *run = NULL;
        struct pol_run_setup s = {eng, &pol, cases[i].npolicies, cases[i].derive, 2, NULL};
        err[0] = '\0';
        assert_int_equal(pol_run_new(&run, &s, err, sizeof err), -1);
        assert_string_equal(err, cases[i].want);
        assert_null(run);
    }
    pol_engine_free(eng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(derives_run_in_config_order_and_see_earlier_ones),
        cmocka_unit_test(unknown_derive_is_handed_over_as_not_good),
        cmocka_unit_test(glob_sees_this_ticks_derived_value_in_place_of_the_old_one),
        cmocka_unit_test(decision_inputs_are_each_value_read_once_in_order),
        cmocka_unit_test(inflight_kw_is_subtracted_from_the_need),
        cmocka_unit_test(cooldown_decision_with_unknown_when_is_inputs_unknown),
        cmocka_unit_test(events_report_state_changes_and_unknown_turns),
        cmocka_unit_test(site_time_comes_from_the_zone),
        cmocka_unit_test(new_run_names_the_bad_derive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
