/*
 * test_rebalancer — how core/rebalancer.c hands the inventory's workloads
 * to pl_rebalance: a member of a group whose annotations are in error is
 * unmovable and keeps its group, so the group stays whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rebalancer.h"

#define NOW_MS 1774746000000LL /* 2026-03-29T01:00:00Z */

/* db's annotations are in error, web is fine; both are in group shop.
 * With a peer far emptier than this site, web alone would be levelled;
 * it stays, with the group. */
static void a_member_in_error_keeps_its_whole_group(void **state)
{
    (void)state;
    struct inv_workload inv[2] = {
        {.name = "db", .namespace_ = "db", .group = "shop",
         .error = "floe.dev/power-kw: not a number ('lots')"},
        {.name = "web", .namespace_ = "web", .power_kw = 20, .priority = 10, .group = "shop"},
    };
    struct pl_rb_workload w[2];
    for (size_t i = 0; i < 2; i++) {
        w[i] = rebalancer_workload(&inv[i], NULL, 0, false);
        w[i].downtime_s = 0;
    }
    assert_string_equal(w[0].group, "shop");
    assert_string_equal(w[0].unmovable, "floe.dev/power-kw: not a number ('lots')");
    assert_true(w[0].power_kw == 0);
    struct pl_rb_peer peers[1] = {
        {.name = "falkenberg-1", .answered = true, .accepting = true, .spare_kw = 500}};
    struct pl_rb_request req = {.now_ms = NOW_MS,
                                .site_spare_kw = 10,
                                .min_gain_kw = 50,
                                .max_migrations = 2};
    struct pl_rb_plan plan;
    char err[128];
    assert_int_equal(pl_rebalance(w, 2, peers, 1, &req, &plan, err, sizeof err), 0);
    assert_int_equal(plan.norder, 0);
    assert_int_equal(plan.workloads[1].move, PL_RB_STAYS);
    assert_string_equal(plan.workloads[1].reason, "stays with group 'shop' (member db stays)");
    assert_string_equal(plan.workloads[0].reason, "floe.dev/power-kw: not a number ('lots')");
    pl_rb_plan_clear(&plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_member_in_error_keeps_its_whole_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
