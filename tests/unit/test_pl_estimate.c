/*
 * test_pl_estimate — downtime and migration estimates: the report's own
 * measurements come back from its rates (37 GB initial backup in ~42 min,
 * 70 GB in ~80 min, 100 GB down "around 20 minutes"), the final delta is
 * capped at the data, stateless is never down, incremental restore
 * shortens only the restore, learned rates are used as given, and bad
 * values are refused by name with NAN estimates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "placement/pl_estimate.h"

static struct pl_estimate estimate(const struct pl_rates *r, double gb, bool stateless)
{
    struct pl_estimate e;
    char err[128] = "";
    assert_int_equal(pl_estimate(r, gb, stateless, &e, err, sizeof err), 0);
    assert_string_equal(err, "");
    return e;
}

static void report_rates_reproduce_the_reports_measurements(void **state)
{
    (void)state;
    struct pl_rates r = pl_rates_report();
    assert_true(r.initial_gb_per_min == 0.88 && r.delta_gb_per_min == 0.25 &&
                r.restore_gb_per_min == 6.36 && r.delta_gb == 1.0 && !r.incremental_restore);

    /* MySQL: 37 GB initially in 42 minutes; 1 GB delta in ~4 minutes;
     * restore of 37 GB at 6.36 GB/min. */
    struct pl_estimate e = estimate(&r, 37, false);
    assert_float_equal(e.initial_s, 37 / 0.88 * 60, 1e-6);
    assert_true(e.initial_s > 41 * 60 && e.initial_s < 43 * 60);
    assert_float_equal(e.final_delta_s, 4 * 60, 1e-6);
    assert_float_equal(e.restore_s, 37 / 6.36 * 60, 1e-6);
    assert_float_equal(e.downtime_s, e.final_delta_s + e.restore_s, 1e-6);
    assert_float_equal(e.migration_s, e.initial_s + e.downtime_s, 1e-6);

    /* 70 GB: "around 80 minutes" initial, "around 11 minutes" restore. */
    e = estimate(&r, 70, false);
    assert_true(e.initial_s > 79 * 60 && e.initial_s < 81 * 60);
    assert_true(e.restore_s > 10.5 * 60 && e.restore_s < 11.5 * 60);

    /* "an application of 100GB could be migrated with a downtime around
     * 20 minutes". */
    e = estimate(&r, 100, false);
    assert_true(e.downtime_s > 19 * 60 && e.downtime_s < 21 * 60);
}

static void the_final_delta_is_no_larger_than_the_data(void **state)
{
    (void)state;
    struct pl_rates r = pl_rates_report();
    struct pl_estimate e = estimate(&r, 0.5, false);
    assert_float_equal(e.final_delta_s, 0.5 / 0.25 * 60, 1e-9); /* not 1 GB's 4 min */
    e = estimate(&r, 0, false);
    assert_true(e.initial_s == 0 && e.downtime_s == 0 && e.migration_s == 0);
}

static void stateless_workloads_are_never_down(void **state)
{
    (void)state;
    struct pl_rates r = pl_rates_report();
    struct pl_estimate e = estimate(&r, 500, true);
    assert_true(e.downtime_s == 0 && e.migration_s == 0 && e.initial_s == 0 &&
                e.final_delta_s == 0 && e.restore_s == 0);
}

static void incremental_restore_restores_only_the_delta(void **state)
{
    (void)state;
    struct pl_rates r = pl_rates_report();
    struct pl_estimate full = estimate(&r, 37, false);
    r.incremental_restore = true;
    struct pl_estimate inc = estimate(&r, 37, false);
    assert_float_equal(inc.restore_s, 1 / 6.36 * 60, 1e-9);
    assert_float_equal(inc.final_delta_s, full.final_delta_s, 1e-9);
    assert_float_equal(inc.initial_s, full.initial_s, 1e-9);
    assert_true(inc.downtime_s < full.downtime_s);
    assert_float_equal(inc.downtime_s, inc.final_delta_s + inc.restore_s, 1e-9);
}

static void learned_rates_are_used_as_given(void **state)
{
    (void)state;
    struct pl_rates r = {
        .initial_gb_per_min = 2, .delta_gb_per_min = 1, .restore_gb_per_min = 10, .delta_gb = 3};
    struct pl_estimate e = estimate(&r, 20, false);
    assert_float_equal(e.initial_s, 600, 1e-9);     /* 20 GB at 2 GB/min */
    assert_float_equal(e.final_delta_s, 180, 1e-9); /* 3 GB at 1 GB/min */
    assert_float_equal(e.restore_s, 120, 1e-9);     /* 20 GB at 10 GB/min */
    assert_float_equal(e.downtime_s, 300, 1e-9);
    assert_float_equal(e.migration_s, 900, 1e-9);
}

/* The learned fixed time is inside every stateful downtime, full or
 * incremental restore, and never in a stateless one. */
static void the_fixed_time_is_added_to_stateful_downtime(void **state)
{
    (void)state;
    assert_float_equal(pl_rates_report().fixed_s, 0, 0); /* the report measured none */
    struct pl_rates r = {
        .initial_gb_per_min = 2, .delta_gb_per_min = 1, .restore_gb_per_min = 10, .delta_gb = 3};
    struct pl_estimate without = estimate(&r, 20, false);
    r.fixed_s = 45;
    struct pl_estimate with = estimate(&r, 20, false);
    assert_float_equal(with.final_delta_s, without.final_delta_s, 1e-9);
    assert_float_equal(with.restore_s, without.restore_s, 1e-9);
    assert_float_equal(with.downtime_s, 345, 1e-9); /* 180 + 120 + 45 */
    assert_float_equal(with.migration_s, 945, 1e-9);
    r.incremental_restore = true;
    struct pl_estimate inc = estimate(&r, 20, false);
    assert_float_equal(inc.downtime_s, 180 + 18 + 45, 1e-9); /* 3 GB restored at 10 GB/min */
    struct pl_estimate sl = estimate(&r, 20, true);
    assert_float_equal(sl.downtime_s, 0, 0);
    assert_float_equal(sl.migration_s, 0, 0);
}

static void bad_values_are_refused_by_name(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        double data_gb;
        struct pl_rates r;
    } cases[] = {
        {"data_gb", NAN, {0.88, 0.25, 6.36, 1, 0, false}},
        {"data_gb", -1, {0.88, 0.25, 6.36, 1, 0, false}},
        {"data_gb", INFINITY, {0.88, 0.25, 6.36, 1, 0, false}},
        {"initial_gb_per_min", 1, {0, 0.25, 6.36, 1, 0, false}},
        {"initial_gb_per_min", 1, {NAN, 0.25, 6.36, 1, 0, false}},
        {"delta_gb_per_min", 1, {0.88, -0.25, 6.36, 1, 0, false}},
        {"restore_gb_per_min", 1, {0.88, 0.25, INFINITY, 1, 0, false}},
        {"delta_gb", 1, {0.88, 0.25, 6.36, -1, 0, false}},
        {"delta_gb", 1, {0.88, 0.25, 6.36, NAN, 0, false}},
        {"fixed_s", 1, {0.88, 0.25, 6.36, 1, -1, false}},
        {"fixed_s", 1, {0.88, 0.25, 6.36, 1, NAN, false}},
        {"fixed_s", 1, {0.88, 0.25, 6.36, 1, INFINITY, false}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pl_estimate e = {0};
        char err[128] = "";
        assert_int_equal(pl_estimate(&cases[i].r, cases[i].data_gb, false, &e, err, sizeof err),
                         -1);
        assert_non_null(strstr(err, cases[i].field));
        assert_true(isnan(e.downtime_s) && isnan(e.migration_s) && isnan(e.initial_s));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(report_rates_reproduce_the_reports_measurements),
        cmocka_unit_test(the_final_delta_is_no_larger_than_the_data),
        cmocka_unit_test(stateless_workloads_are_never_down),
        cmocka_unit_test(incremental_restore_restores_only_the_delta),
        cmocka_unit_test(learned_rates_are_used_as_given),
        cmocka_unit_test(the_fixed_time_is_added_to_stateful_downtime),
        cmocka_unit_test(bad_values_are_refused_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
