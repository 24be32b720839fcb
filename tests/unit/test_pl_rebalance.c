/*
 * test_pl_rebalance — the plan of an overnight rebalance (SPEC 3.3
 * `rebalance`, placement/pl_rebalance.h) over tables: failback of guests
 * when their home accepts with spare, and why they stay when it does not;
 * levelling only beyond min_gain_kw and never so far that the other site
 * would send the load back; failbacks before levelling; max_migrations
 * per window; min_residency; groups; an unknown spare here; and the home
 * of a workload read from the site's records of its moves.
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

#include "placement/pl_rebalance.h"

#define HOUR_MS 3600000LL
#define NOW_MS 1774746000000LL /* 2026-03-29T01:00:00Z */
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* An own workload: name, kW, priority; stateless (no downtime). */
#define OWN(n, kw, prio)                                                                           \
    {                                                                                              \
        .name = (n), .namespace_ = (n), .power_kw = (kw), .priority = (prio), .downtime_s = 0      \
    }
/* A guest of `home` that arrived `ago_h` hours ago. */
#define GUEST(n, kw, prio, h, ago_h)                                                               \
    {                                                                                              \
        .name = (n), .namespace_ = (n), .power_kw = (kw), .priority = (prio), .downtime_s = 0,     \
        .home = (h), .moved_ms = NOW_MS - (int64_t)((ago_h)*HOUR_MS)                               \
    }
#define PEER(n, spare)                                                                             \
    {                                                                                              \
        .name = (n), .answered = true, .accepting = true, .spare_kw = (spare)                      \
    }

static struct pl_rb_request request(double site_spare, double min_gain, int max, int started)
{
    return (struct pl_rb_request){.now_ms = NOW_MS,
                                  .site_spare_kw = site_spare,
                                  .min_gain_kw = min_gain,
                                  .max_migrations = max,
                                  .started = started,
                                  .min_residency_ms = 24 * HOUR_MS};
}

/* What holds for every plan: each moving workload is in the order once,
 * goes to a peer, and no peer gets more than its spare. */
static void check_plan(const struct pl_rb_workload *w, size_t nw, const struct pl_rb_peer *p,
                       size_t np, const struct pl_rb_request *r, const struct pl_rb_plan *plan)
{
    assert_int_equal(plan->nworkloads, nw);
    assert_int_equal(plan->npeers, np);
    size_t moving = 0;
    double *planned = calloc(np + 1, sizeof *planned);
    assert_non_null(planned);
    for (size_t i = 0; i < nw; i++) {
        const struct pl_rb_workload_plan *wp = &plan->workloads[i];
        assert_true(strlen(wp->reason) > 0);
        size_t seen = 0;
        for (size_t k = 0; k < plan->norder; k++)
            seen += plan->order[k] == i;
        if (wp->move == PL_RB_STAYS) {
            assert_int_equal(wp->peer, -1);
            assert_int_equal(seen, 0);
            continue;
        }
        assert_false(wp->blocked);
        assert_int_equal(seen, 1);
        assert_true(wp->peer >= 0 && (size_t)wp->peer < np);
        planned[wp->peer] += w[i].power_kw;
        moving++;
        if (wp->move == PL_RB_HOME)
            assert_string_equal(w[i].home, p[wp->peer].name);
        else
            assert_true(w[i].home == NULL || strcmp(w[i].home, p[wp->peer].name) != 0);
    }
    assert_int_equal(moving, plan->norder);
    assert_true((int)moving <=
                (r->max_migrations - r->started > 0 ? r->max_migrations - r->started : 0));
    for (size_t k = 0; k < np; k++) {
        assert_true(planned[k] <= p[k].spare_kw + 1e-6 || planned[k] == 0);
        assert_true(fabs(planned[k] - plan->peers[k].planned_kw) < 1e-6);
        assert_true(strlen(plan->peers[k].reason) > 0);
    }
    assert_true(strlen(plan->summary) > 0);
    free(planned);
}

static void plan_of(const struct pl_rb_workload *w, size_t nw, const struct pl_rb_peer *p,
                    size_t np, const struct pl_rb_request *r, struct pl_rb_plan *plan)
{
    char err[128];
    assert_int_equal(pl_rebalance(w, nw, p, np, r, plan, err, sizeof err), 0);
    check_plan(w, nw, p, np, r, plan);
}

static void assert_reason(const struct pl_rb_plan *plan, size_t i, const char *part)
{
    if (!strstr(plan->workloads[i].reason, part))
        fail_msg("workload %zu: reason '%s' lacks '%s'", i, plan->workloads[i].reason, part);
}

/* ---- failback ---- */

static void a_guest_goes_home_when_home_accepts_with_spare(void **unused)
{
    (void)unused;
    struct pl_rb_workload w[] = {OWN("core", 50, 10), GUEST("web", 30, 20, "lulea-1", 30)};
    struct pl_rb_peer p[] = {PEER("lulea-1", 200), PEER("oslo-2", 500)};
    struct pl_rb_request r = request(100, 1000, 2, 0); /* no levelling: min_gain huge */
    struct pl_rb_plan plan;
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.workloads[1].move, PL_RB_HOME);
    assert_int_equal(plan.workloads[1].peer, 0);
    assert_reason(&plan, 1,
                  "guest of lulea-1: goes home (30 kW; the home accepts work, 200 kW spare)");
    assert_int_equal(plan.workloads[0].move, PL_RB_STAYS);
    assert_int_equal(plan.norder, 1);
    assert_int_equal(plan.order[0], 1);
    assert_int_equal(plan.nhome, 1);
    assert_false(plan.blocked);
    /* The load leaving raises this site's spare. */
    assert_true(fabs(plan.site_spare_after_kw - 130) < 1e-9);
    assert_non_null(
        strstr(plan.peers[0].reason, "home: takes back 1 guest(s), 30 of 200 kW spare"));
    assert_non_null(strstr(plan.summary, "1 guest(s) home (30 kW)"));
    pl_rb_plan_clear(&plan);
}

static void a_guest_stays_when_its_home_is_not_accepting(void **unused)
{
    (void)unused;
    struct pl_rb_workload w[] = {GUEST("web", 30, 20, "lulea-1", 30)};
    struct pl_rb_peer p[] = {PEER("lulea-1", 200), PEER("oslo-2", 500)};
    p[0].accepting = false;
    struct pl_rb_request r = request(100, 0, 2, 0);
    struct pl_rb_plan plan;
    plan_of(w, N(w), p, N(p), &r, &plan);
    /* ... and is not levelled to another peer instead: guests only go home. */
    assert_int_equal(plan.workloads[0].move, PL_RB_STAYS);
    assert_true(plan.workloads[0].blocked);
    assert_reason(&plan, 0, "guest of lulea-1: its home is not accepting work; stays");
    assert_true(plan.blocked);
    assert_int_equal(plan.norder, 0);
    assert_string_equal(plan.peers[0].reason, "skipped: not accepting work");
    pl_rb_plan_clear(&plan);
}

static void a_guest_stays_when_its_home_lacks_the_spare(void **unused)
{
    (void)unused;
    /* Two guests: the home takes the first and has too little left. */
    struct pl_rb_workload w[] = {GUEST("web", 30, 20, "lulea-1", 30),
                                 GUEST("db", 25, 30, "lulea-1", 30)};
    struct pl_rb_peer p[] = {PEER("lulea-1", 40)};
    struct pl_rb_request r = request(100, 1000, 5, 0);
    struct pl_rb_plan plan;
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.workloads[0].move, PL_RB_HOME);
    assert_int_equal(plan.workloads[1].move, PL_RB_STAYS);
    assert_true(plan.workloads[1].blocked);
    assert_reason(&plan, 1, "its home has 10 kW spare left, it needs 25 kW; stays");
    pl_rb_plan_clear(&plan);

    /* No spare at all, and a home that did not answer. */
    struct pl_rb_workload one[] = {GUEST("web", 30, 20, "lulea-1", 30),
                                   GUEST("api", 5, 20, "oslo-2", 30)};
    struct pl_rb_peer q[] = {PEER("lulea-1", 0), PEER("oslo-2", 100)};
    q[1].answered = false;
    q[1].spare_kw = NAN;
    q[1].problem = "unreachable: connection refused";
    plan_of(one, N(one), q, N(q), &r, &plan);
    assert_reason(&plan, 0, "its home has 0 kW spare left, it needs 30 kW");
    assert_reason(&plan, 1, "its home did not answer (unreachable: connection refused)");
    assert_true(plan.workloads[0].blocked && plan.workloads[1].blocked);
    assert_int_equal(plan.norder, 0);
    assert_string_equal(plan.peers[1].reason, "skipped: unreachable: connection refused");
    pl_rb_plan_clear(&plan);
}

/* SPEC 3.3: a guest goes home when home accepts it, whatever the balance
 * here: falkenberg-1 (150 kW spare) sends lulea-1's 50 kW guest home to
 * lulea-1 (80 kW spare) with min_gain_kw 50, though that leaves 200 kW
 * here and 30 kW there. (A levelled workload is no guest where it went:
 * its home moved with it, see the history below.) */
static void a_guest_goes_home_whenever_home_accepts_it(void **unused)
{
    (void)unused;
    struct pl_rb_workload w[] = {GUEST("web", 50, 20, "lulea-1", 30)};
    struct pl_rb_peer p[] = {PEER("lulea-1", 80)};
    struct pl_rb_request r = request(150, 50, 5, 0);
    struct pl_rb_plan plan;
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.workloads[0].move, PL_RB_HOME);
    assert_int_equal(plan.workloads[0].peer, 0);
    assert_reason(&plan, 0,
                  "guest of lulea-1: goes home (50 kW; the home accepts work, 80 kW spare)");
    assert_int_equal(plan.norder, 1);
    pl_rb_plan_clear(&plan);
    /* An unknown spare here does not hold it either. */
    r = request(NAN, 0, 5, 0);
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.workloads[0].move, PL_RB_HOME);
    pl_rb_plan_clear(&plan);
}

/* ---- levelling ---- */

static void levelling_moves_only_while_the_gain_exceeds_min_gain(void **unused)
{
    (void)unused;
    struct pl_rb_workload w[] = {OWN("a", 40, 10), OWN("b", 40, 20), OWN("c", 40, 30)};
    struct pl_rb_peer p[] = {PEER("falkenberg-1", 300)};
    struct pl_rb_request r = request(100, 50, 5, 0);
    struct pl_rb_plan plan;
    plan_of(w, N(w), p, N(p), &r, &plan);
    /* 300 vs 100: a goes (260 vs 140); 120 > 50: b goes (220 vs 180);
     * 40 is not more than 50: c stays. */
    assert_int_equal(plan.workloads[0].move, PL_RB_LEVEL);
    assert_reason(
        &plan, 0,
        "levels load: falkenberg-1 has 300 kW spare, this site 100 kW (difference 200 kW, "
        "more than min_gain_kw 50); after the move 260 and 140 kW (difference 120 kW)");
    assert_int_equal(plan.workloads[1].move, PL_RB_LEVEL);
    assert_int_equal(plan.workloads[2].move, PL_RB_STAYS);
    assert_false(plan.workloads[2].blocked);
    assert_reason(&plan, 2,
                  "stays: the most spare is falkenberg-1's 220 kW, this site has 180 kW "
                  "(difference 40 kW, not more than min_gain_kw 50)");
    assert_int_equal(plan.nlevel, 2);
    assert_true(fabs(plan.site_spare_after_kw - 180) < 1e-9);
    assert_false(plan.blocked);
    pl_rb_plan_clear(&plan);

    /* Within min_gain from the start: nothing to do, and not blocked. */
    struct pl_rb_peer near[] = {PEER("falkenberg-1", 140)};
    plan_of(w, N(w), near, N(near), &r, &plan);
    assert_int_equal(plan.norder, 0);
    assert_false(plan.blocked);
    assert_non_null(strstr(plan.summary, "nothing to rebalance"));
    assert_non_null(strstr(plan.peers[0].reason, "not more than min_gain_kw 50"));
    pl_rb_plan_clear(&plan);
}

/* Two sites with the same policy: a move never makes the other site send
 * the load back, by levelling or by failback. */
static void levelling_never_inverts_the_balance_beyond_min_gain(void **unused)
{
    (void)unused;
    struct pl_rb_workload big[] = {OWN("big", 80, 10)};
    struct pl_rb_peer p[] = {PEER("falkenberg-1", 200)};
    struct pl_rb_request r = request(100, 10, 5, 0);
    struct pl_rb_plan plan;
    plan_of(big, N(big), p, N(p), &r, &plan);
    /* 80 kW: 120 vs 180 afterwards, 60 the other way round > 10. */
    assert_int_equal(plan.norder, 0);
    assert_reason(&plan, 0,
                  "stays: moving 80 kW to falkenberg-1 would leave it 120 kW spare and this site "
                  "180 kW, 60 kW the other way round, more than min_gain_kw 10 (it would come "
                  "back)");
    pl_rb_plan_clear(&plan);

    /* Every size, every gain: after a move, the other site's plan with the
     * same rule does not move it back. */
    for (double kw = 5; kw <= 200; kw += 5)
        for (double g = 0; g <= 60; g += 15) {
            struct pl_rb_workload one[] = {OWN("x", kw, 10)};
            struct pl_rb_request here = request(100, g, 5, 0);
            plan_of(one, 1, p, 1, &here, &plan);
            bool moved = plan.norder == 1;
            pl_rb_plan_clear(&plan);
            if (!moved)
                continue;
            struct pl_rb_workload back[] = {OWN("x", kw, 10)};
            struct pl_rb_peer us[] = {PEER("here", 100 + kw)};
            struct pl_rb_request there = request(200 - kw, g, 5, 0);
            plan_of(back, 1, us, 1, &there, &plan);
            if (plan.norder != 0)
                fail_msg("%g kW with min_gain %g moved and would come back", kw, g);
            pl_rb_plan_clear(&plan);
            /* ... nor by failback: its import there named "there" its
             * home, so it is that site's own, not a guest of here. */
            struct pl_rb_event arrived[] = {{"x", NOW_MS - 48 * HOUR_MS, true, "here", "there"}};
            const char *home = NULL;
            int64_t moved_ms = 0;
            bool named = false;
            pl_rb_history(arrived, 1, "x", &home, &moved_ms, &named);
            if (!home || strcmp(home, "there") != 0 || !named)
                fail_msg("%g kW with min_gain %g levelled: its home did not move with it", kw, g);
        }
}

static void failbacks_come_before_levelling_and_count_in_it(void **unused)
{
    (void)unused;
    /* The guest's 30 kW leave first (this site 100 -> 130, lulea-1 300 ->
     * 270); then own load levels toward the peer with the most spare. */
    struct pl_rb_workload w[] = {OWN("batch", 40, 10), GUEST("web", 30, 90, "lulea-1", 48)};
    struct pl_rb_peer p[] = {PEER("oslo-2", 150), PEER("lulea-1", 300)};
    struct pl_rb_request r = request(100, 50, 5, 0);
    struct pl_rb_plan plan;
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.norder, 2);
    assert_int_equal(plan.order[0], 1); /* the failback first */
    assert_int_equal(plan.order[1], 0);
    assert_int_equal(plan.workloads[0].move, PL_RB_LEVEL);
    assert_int_equal(plan.workloads[0].peer, 1);
    assert_reason(&plan, 0, "lulea-1 has 270 kW spare, this site 130 kW");
    assert_non_null(
        strstr(plan.peers[1].reason, "takes back 1 guest(s) and 1 levelled workload(s)"));
    assert_non_null(strstr(plan.summary, "this site's spare 100 -> 170 kW"));
    pl_rb_plan_clear(&plan);
}

/* ---- limits ---- */

static void max_migrations_counts_what_the_window_started_already(void **unused)
{
    (void)unused;
    struct pl_rb_workload w[] = {GUEST("a", 10, 10, "lulea-1", 30),
                                 GUEST("b", 10, 20, "lulea-1", 30),
                                 GUEST("c", 10, 30, "lulea-1", 30)};
    struct pl_rb_peer p[] = {PEER("lulea-1", 500)};
    struct pl_rb_request r = request(100, 0, 2, 1);
    struct pl_rb_plan plan;
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.budget, 1);
    assert_int_equal(plan.norder, 1);
    assert_int_equal(plan.workloads[0].move, PL_RB_HOME); /* lowest priority first */
    assert_reason(&plan, 1,
                  "max_migrations 2 reached in this window (1 started before this decision): "
                  "stays until the next window");
    assert_false(plan.workloads[1].blocked);
    assert_false(plan.blocked);
    pl_rb_plan_clear(&plan);

    /* All started already: nothing moves, nothing is blocked. */
    r.started = 2;
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.budget, 0);
    assert_int_equal(plan.norder, 0);
    assert_false(plan.blocked);
    assert_string_equal(plan.summary,
                        "nothing moves: max_migrations 2 already started in this window");
    pl_rb_plan_clear(&plan);
}

static void a_workload_that_moved_within_min_residency_stays(void **unused)
{
    (void)unused;
    struct pl_rb_workload w[] = {GUEST("fresh", 10, 10, "lulea-1", 1),
                                 GUEST("settled", 10, 20, "lulea-1", 25), OWN("batch", 20, 10)};
    w[2].moved_ms = NOW_MS - 2 * HOUR_MS; /* came back home two hours ago */
    struct pl_rb_peer p[] = {PEER("lulea-1", 500)};
    struct pl_rb_request r = request(100, 0, 5, 0);
    struct pl_rb_plan plan;
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.workloads[0].move, PL_RB_STAYS);
    assert_false(plan.workloads[0].blocked);
    assert_reason(&plan, 0,
                  "moved here 1h00m ago, within min_residency 1d: stays until "
                  "2026-03-30T00:00:00Z");
    assert_int_equal(plan.workloads[1].move, PL_RB_HOME);
    assert_int_equal(plan.workloads[2].move, PL_RB_STAYS);
    assert_reason(&plan, 2, "moved here 2h00m ago");
    pl_rb_plan_clear(&plan);

    /* min_residency 0: everything may move. */
    r.min_residency_ms = 0;
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.workloads[0].move, PL_RB_HOME);
    assert_int_equal(plan.workloads[2].move, PL_RB_LEVEL);
    pl_rb_plan_clear(&plan);
}

static void groups_move_whole_or_stay_together(void **unused)
{
    (void)unused;
    struct pl_rb_workload w[] = {GUEST("front", 10, 10, "lulea-1", 30),
                                 GUEST("back", 20, 40, "lulea-1", 30), OWN("solo", 5, 10)};
    w[0].group = w[1].group = "shop";
    struct pl_rb_peer p[] = {PEER("lulea-1", 500)};
    struct pl_rb_request r = request(400, 0, 2, 0);
    struct pl_rb_plan plan;
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.workloads[0].move, PL_RB_HOME);
    assert_int_equal(plan.workloads[1].move, PL_RB_HOME);
    assert_reason(&plan, 0, "goes home (30 kW");
    pl_rb_plan_clear(&plan);

    /* A budget of one cannot carry a group of two. */
    r.max_migrations = 1;
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.workloads[0].move, PL_RB_STAYS);
    assert_int_equal(plan.workloads[1].move, PL_RB_STAYS);
    assert_reason(&plan, 1, "max_migrations 1 reached");
    pl_rb_plan_clear(&plan);

    /* A pinned member keeps the whole group here. */
    r.max_migrations = 5;
    w[1].pinned = true;
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.workloads[0].move, PL_RB_STAYS);
    assert_int_equal(plan.workloads[1].move, PL_RB_STAYS);
    assert_string_equal(plan.workloads[1].reason, "pinned");
    assert_string_equal(plan.workloads[0].reason, "stays with group 'shop' (member back stays)");
    pl_rb_plan_clear(&plan);
}

static void an_unknown_spare_here_stops_levelling_not_failback(void **unused)
{
    (void)unused;
    struct pl_rb_workload w[] = {GUEST("web", 30, 20, "lulea-1", 30), OWN("batch", 20, 10)};
    struct pl_rb_peer p[] = {PEER("lulea-1", 500)};
    struct pl_rb_request r = request(NAN, 0, 5, 0);
    struct pl_rb_plan plan;
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.workloads[0].move, PL_RB_HOME);
    assert_int_equal(plan.workloads[1].move, PL_RB_STAYS);
    assert_true(plan.workloads[1].blocked);
    assert_reason(&plan, 1, "not levelled: this site's spare kW is unknown");
    assert_true(isnan(plan.site_spare_after_kw));
    pl_rb_plan_clear(&plan);
}

static void ineligible_workloads_stay_with_their_reason(void **unused)
{
    (void)unused;
    struct pl_rb_workload w[] = {
        GUEST("moving", 10, 10, "lulea-1", 30), GUEST("stuck", 10, 10, "lulea-1", 30),
        GUEST("elsewhere", 10, 10, "bergen-3", 30), GUEST("idle", 0, 10, "lulea-1", 30)};
    w[0].moving = true;
    w[1].unmovable = "stateful, no quiesce hook and migrator.data_mover off";
    struct pl_rb_peer p[] = {PEER("lulea-1", 500)};
    struct pl_rb_request r = request(100, 1000, 5, 0);
    struct pl_rb_plan plan;
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.norder, 0);
    assert_reason(&plan, 0, "already moving");
    assert_string_equal(plan.workloads[1].reason,
                        "stateful, no quiesce hook and migrator.data_mover off");
    /* A guest of a site that is no peer here is levelled like our own. */
    assert_reason(&plan, 2, "guest of bergen-3, which is not a peer here: stays: the most spare");
    /* A peer reserves only kW > 0: a guest drawing nothing cannot go. */
    assert_reason(&plan, 3, "guest of lulea-1: draws 0 kW, nothing to reserve at its home; stays");
    assert_false(plan.workloads[3].blocked);
    pl_rb_plan_clear(&plan);
}

/* Night 1: lulea-1 (100 kW spare) levels its 40 kW web to falkenberg-1
 * (300 kW spare) with min_gain_kw 50, and its import there names
 * falkenberg-1 web's home. Night 2 at falkenberg-1: web is its own (the
 * rebalancer maps a home naming this site to NULL), not a guest of
 * lulea-1, so it does not go "home" (nor level back: 140 vs 260). */
static void a_levelled_workload_stays_at_its_new_site_the_next_night(void **unused)
{
    (void)unused;
    struct pl_rb_workload w[] = {OWN("web", 40, 10)};
    struct pl_rb_peer p[] = {PEER("falkenberg-1", 300)};
    struct pl_rb_request r = request(100, 50, 5, 0);
    struct pl_rb_plan plan;
    plan_of(w, N(w), p, N(p), &r, &plan);
    assert_int_equal(plan.workloads[0].move, PL_RB_LEVEL);
    pl_rb_plan_clear(&plan);

    struct pl_rb_event ev[] = {{"web", NOW_MS - 30 * HOUR_MS, true, "lulea-1", "falkenberg-1"}};
    const char *home = NULL;
    int64_t moved = 0;
    bool named = false;
    pl_rb_history(ev, N(ev), "web", &home, &moved, &named);
    assert_string_equal(home, "falkenberg-1");
    assert_true(named);
    struct pl_rb_workload there[] = {OWN("web", 40, 10)};
    there[0].home = strcmp(home, "falkenberg-1") == 0 ? NULL : home;
    there[0].moved_ms = moved;
    struct pl_rb_peer back[] = {PEER("lulea-1", 140)};
    r = request(260, 50, 5, 0);
    plan_of(there, N(there), back, N(back), &r, &plan);
    assert_int_equal(plan.workloads[0].move, PL_RB_STAYS);
    assert_int_equal(plan.norder, 0);
    pl_rb_plan_clear(&plan);
    /* Without the named home it would be lulea-1's guest and go back:
     * the ping-pong this prevents. */
    there[0].home = "lulea-1";
    plan_of(there, N(there), back, N(back), &r, &plan);
    assert_int_equal(plan.workloads[0].move, PL_RB_HOME);
    pl_rb_plan_clear(&plan);
}

/* ---- homes from the records ---- */

static void a_home_is_read_from_the_moves_of_its_namespace(void **unused)
{
    (void)unused;
    const char *home;
    int64_t moved;
    /* Never moved: own. */
    pl_rb_history(NULL, 0, "web", &home, &moved, NULL);
    assert_null(home);
    assert_int_equal(moved, 0);

    /* Imported from lulea-1: its guest; other namespaces do not count. */
    struct pl_rb_event in[] = {{"web", 100, true, "lulea-1", NULL}, {"db", 300, true, "oslo-2", NULL}};
    pl_rb_history(in, N(in), "web", &home, &moved, NULL);
    assert_string_equal(home, "lulea-1");
    assert_int_equal(moved, 100);

    /* Sent to falkenberg-1 and back from it: own again (the home side of
     * a failback). */
    struct pl_rb_event back[] = {{"web", 200, true, "falkenberg-1", NULL},
                                 {"web", 100, false, "falkenberg-1", NULL}};
    pl_rb_history(back, N(back), "web", &home, &moved, NULL);
    assert_null(home);
    assert_int_equal(moved, 200);

    /* A guest of lulea-1 sent on to oslo-2 and back from it stays lulea-1's. */
    struct pl_rb_event on[] = {
        {"web", 100, true, "lulea-1", NULL}, {"web", 200, false, "oslo-2", NULL}, {"web", 300, true, "oslo-2", NULL}};
    pl_rb_history(on, N(on), "web", &home, &moved, NULL);
    assert_string_equal(home, "lulea-1");
    assert_int_equal(moved, 300);

    /* Failed back to lulea-1, then moved here again by lulea-1's shed. */
    struct pl_rb_event again[] = {{"web", 300, true, "lulea-1", NULL},
                                  {"web", 100, true, "lulea-1", NULL},
                                  {"web", 200, false, "lulea-1", NULL}};
    pl_rb_history(again, N(again), "web", &home, &moved, NULL);
    assert_string_equal(home, "lulea-1");
    assert_int_equal(moved, 300);

    /* Own, sent away and brought here by another site than the one it
     * went to: that site's guest. */
    struct pl_rb_event other[] = {{"web", 100, false, "falkenberg-1", NULL},
                                  {"web", 200, true, "oslo-2", NULL}};
    pl_rb_history(other, N(other), "web", &home, &moved, NULL);
    assert_string_equal(home, "oslo-2");

    /* At one instant a move away comes before an arrival. */
    struct pl_rb_event tie[] = {{"web", 100, true, "falkenberg-1", NULL},
                                {"web", 100, false, "falkenberg-1", NULL}};
    pl_rb_history(tie, N(tie), "web", &home, &moved, NULL);
    assert_null(home);

    /* An import that names the home sets it, named; one that does not
     * after it goes back to the rules above. */
    bool named = false;
    struct pl_rb_event levelled[] = {{"web", 100, true, "lulea-1", "falkenberg-1"}};
    pl_rb_history(levelled, N(levelled), "web", &home, &moved, &named);
    assert_string_equal(home, "falkenberg-1");
    assert_true(named);
    struct pl_rb_event shed_after[] = {{"web", 100, true, "lulea-1", "falkenberg-1"},
                                       {"web", 200, false, "oslo-2", NULL},
                                       {"web", 300, true, "oslo-2", NULL}};
    pl_rb_history(shed_after, N(shed_after), "web", &home, &moved, &named);
    assert_string_equal(home, "falkenberg-1"); /* came back from oslo-2: as before it left */
    struct pl_rb_event shed_from[] = {{"web", 100, true, "lulea-1", "falkenberg-1"},
                                      {"web", 300, true, "oslo-2", NULL}};
    pl_rb_history(shed_from, N(shed_from), "web", &home, &moved, &named);
    assert_string_equal(home, "oslo-2");
    assert_false(named);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_guest_goes_home_when_home_accepts_with_spare),
        cmocka_unit_test(a_guest_stays_when_its_home_is_not_accepting),
        cmocka_unit_test(a_guest_stays_when_its_home_lacks_the_spare),
        cmocka_unit_test(a_guest_goes_home_whenever_home_accepts_it),
        cmocka_unit_test(a_levelled_workload_stays_at_its_new_site_the_next_night),
        cmocka_unit_test(levelling_moves_only_while_the_gain_exceeds_min_gain),
        cmocka_unit_test(levelling_never_inverts_the_balance_beyond_min_gain),
        cmocka_unit_test(failbacks_come_before_levelling_and_count_in_it),
        cmocka_unit_test(max_migrations_counts_what_the_window_started_already),
        cmocka_unit_test(a_workload_that_moved_within_min_residency_stays),
        cmocka_unit_test(groups_move_whole_or_stay_together),
        cmocka_unit_test(an_unknown_spare_here_stops_levelling_not_failback),
        cmocka_unit_test(ineligible_workloads_stay_with_their_reason),
        cmocka_unit_test(a_home_is_read_from_the_moves_of_its_namespace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
