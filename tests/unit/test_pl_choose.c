/*
 * test_pl_choose — the placement choice (SPEC 3.3) over tables: groups,
 * pinned and other ineligible workloads, ties, stateless first, priority
 * order, over-shed minimisation (need 100 of 90, 30, 20 gives 90 + 20),
 * the drop pass, deadlines, splits across peers, a rearrangement only an
 * exact packing finds, a peer's refusal and the re-run, unusable inputs,
 * the greedy fallback. Every choice is also checked against invariants
 * that hold for any input (check_invariants).
 *
 * quality_over_random_tables runs 10,000 random tables (fixed seed)
 * through pl_choose and through an independent brute-force model of the
 * header's rule (every assignment of units to peers enumerated), asserts
 * the two quality properties and that the choice is exactly the rule's,
 * and prints one line of figures.
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

#include "placement/pl_choose.h"

/* name, kW, priority, downtime (also the migration time), in seconds. */
#define WL(n, kw, prio, down)                                                                      \
    {                                                                                              \
        .name = (n), .namespace_ = (n), .power_kw = (kw), .priority = (prio),                      \
        .downtime_s = (down), .migration_s = (down)                                                \
    }
#define PEER(n, spare)                                                                             \
    {                                                                                              \
        .name = (n), .answered = true, .accepting = true, .spare_kw = (spare)                      \
    }
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const double TOL = 1e-6;

/* What holds for every choice, whatever the input. */
static void check_invariants(const struct pl_workload *w, size_t nw, const struct pl_peer *p,
                             size_t np, const struct pl_request *r, const struct pl_choice *c)
{
    assert_int_equal(c->nworkloads, nw);
    assert_int_equal(c->npeers, np);
    double covered = 0, *planned = calloc(np + 1, sizeof *planned);
    size_t *seen = calloc(nw + 1, sizeof *seen);
    assert_non_null(planned);
    assert_non_null(seen);
    for (size_t t = 0; t < c->norder; t++) {
        assert_true(c->order[t] < nw);
        seen[c->order[t]]++;
    }
    for (size_t i = 0; i < nw; i++) {
        const struct pl_workload_choice *wc = &c->workloads[i];
        assert_true(strlen(wc->reason) > 0 && strlen(wc->reason) < PL_REASON_MAX);
        if (!wc->chosen) {
            assert_int_equal(wc->peer, -1);
            assert_int_equal(seen[i], 0);
            continue;
        }
        assert_false(w[i].pinned || w[i].moving || w[i].unmovable);
        assert_true(wc->peer >= 0 && (size_t)wc->peer < np);
        covered += w[i].power_kw;
        /* Reserved workloads are kept, not reserved again. */
        assert_int_equal(seen[i], w[i].reserved_at ? 0 : 1);
        if (!w[i].reserved_at)
            planned[wc->peer] += w[i].power_kw;
        /* A group moves whole, to one peer. */
        for (size_t k = 0; k < nw; k++)
            if (w[i].group && w[k].group && strcmp(w[i].group, w[k].group) == 0) {
                assert_true(c->workloads[k].chosen);
                if (!w[i].reserved_at && !w[k].reserved_at)
                    assert_int_equal(c->workloads[k].peer, wc->peer);
            }
    }
    for (size_t j = 0; j < np; j++) {
        assert_true(strlen(c->peers[j].reason) > 0);
        assert_float_equal(c->peers[j].planned_kw, planned[j], TOL);
        if (planned[j] > 0) {
            assert_true(p[j].answered && p[j].accepting && !p[j].problem);
            assert_true(planned[j] <= p[j].spare_kw + TOL);
        }
    }
    assert_float_equal(c->covered_kw, covered, TOL);
    if (isfinite(r->need_kw) && r->need_kw > 0)
        assert_float_equal(c->missing_kw, fmax(0, r->need_kw - covered), TOL);
    else
        assert_true(covered == 0 && c->norder == 0);
    assert_true(strlen(c->summary) > 0);
    free(planned);
    free(seen);
}

static void choose_req(const struct pl_workload *w, size_t nw, const struct pl_peer *p, size_t np,
                       const struct pl_request *r, struct pl_choice *c)
{
    char err[256] = "";
    assert_int_equal(pl_choose(w, nw, p, np, r, c, err, sizeof err), 0);
    check_invariants(w, nw, p, np, r, c);
}

static void choose(const struct pl_workload *w, size_t nw, const struct pl_peer *p, size_t np,
                   double need, double deadline, struct pl_choice *c)
{
    struct pl_request r = {.need_kw = need, .deadline_s = deadline};
    choose_req(w, nw, p, np, &r, c);
}

/* The chosen workloads' names in input order, space-separated. */
static const char *chosen(const struct pl_workload *w, const struct pl_choice *c)
{
    static char buf[512];
    buf[0] = '\0';
    for (size_t i = 0; i < c->nworkloads; i++)
        if (c->workloads[i].chosen)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", buf[0] ? " " : "",
                     w[i].name);
    return buf;
}

/* The reservation order as names. */
static const char *order(const struct pl_workload *w, const struct pl_choice *c)
{
    static char buf[512];
    buf[0] = '\0';
    for (size_t t = 0; t < c->norder; t++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", t ? " " : "",
                 w[c->order[t]].name);
    return buf;
}

/* ---- tables ------------------------------------------------------------- */

static void over_shed_is_kept_within_15_percent(void **state)
{
    (void)state;
    /* Same priority and downtime per kW: the order is 90, 30, 20. Greedy
     * plus the drop pass takes 90 + 30 = 120; 90 + 20 = 110 exists. */
    struct pl_workload w[] = {WL("big", 90, 10, 900), WL("mid", 30, 10, 300),
                              WL("small", 20, 10, 200)};
    struct pl_peer p[] = {PEER("falkenberg", 500)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 100, 0, &c);
    assert_string_equal(chosen(w, &c), "big small");
    assert_float_equal(c.covered_kw, 110, 1e-9);
    assert_true(c.exact);
    assert_string_equal(c.workloads[1].reason, "not needed: the others cover 110 of 100 kW");
    assert_string_equal(c.workloads[0].reason, "priority 10, 6 kW per minute of downtime");
    assert_string_equal(c.peers[0].reason, "takes big, small (110 kW of 500 spare)");
    assert_string_equal(c.summary, "covers 110 of 100 kW: 2 workloads on 1 peer");
    pl_choice_clear(&c);

    /* The greedy fallback (one step of search) is what the search avoids. */
    struct pl_request r = {.need_kw = 100, .max_steps = 1};
    choose_req(w, N(w), p, N(p), &r, &c);
    assert_false(c.exact);
    assert_string_equal(chosen(w, &c), "big mid");
    assert_non_null(strstr(c.summary, "greedy: search stopped after 1 steps"));
    pl_choice_clear(&c);
}

static void when_every_cover_sheds_more_the_least_one_is_taken(void **state)
{
    (void)state;
    /* Need 100: covers are 150 (a + c), 120 (b + c) and more; 120 is the
     * least, though a comes first. */
    struct pl_workload w[] = {WL("a", 80, 10, 60), WL("b", 50, 20, 60), WL("c", 70, 30, 60)};
    struct pl_peer p[] = {PEER("f", 500)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 100, 0, &c);
    assert_string_equal(chosen(w, &c), "b c");
    assert_float_equal(c.covered_kw, 120, 1e-9);
    pl_choice_clear(&c);
}

static void lower_priority_moves_first(void **state)
{
    (void)state;
    struct pl_workload w[] = {WL("a", 50, 10, 600), WL("b", 50, 20, 60), WL("c", 50, 5, 600)};
    struct pl_peer p[] = {PEER("f", 500)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 100, 0, &c);
    assert_string_equal(chosen(w, &c), "a c");
    assert_string_equal(order(w, &c), "c a");
    assert_string_equal(c.workloads[1].reason, "not needed: the others cover 100 of 100 kW");
    pl_choice_clear(&c);
}

static void within_a_priority_most_kw_per_minute_of_downtime_first(void **state)
{
    (void)state;
    /* a: 42 kW down 10 min = 4.2 kW/min; b: 30 kW down 1 min = 30 kW/min. */
    struct pl_workload w[] = {WL("a", 42, 10, 600), WL("b", 30, 10, 60)};
    struct pl_peer p[] = {PEER("f", 500)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 30, 0, &c);
    assert_string_equal(chosen(w, &c), "b");
    assert_string_equal(c.workloads[1].reason, "priority 10, 30 kW per minute of downtime");
    pl_choice_clear(&c);
    choose(w, N(w), p, N(p), 60, 0, &c);
    assert_string_equal(order(w, &c), "b a");
    assert_string_equal(c.workloads[0].reason, "priority 10, 4.2 kW per minute of downtime");
    pl_choice_clear(&c);
}

static void stateless_goes_first_within_its_priority(void **state)
{
    (void)state;
    /* A stateless workload's downtime_s is not read: it has none. */
    struct pl_workload w[] = {WL("db", 100, 10, 1), WL("web", 20, 10, 99999)};
    w[1].stateless = true;
    struct pl_peer p[] = {PEER("f", 500)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 20, 0, &c);
    assert_string_equal(chosen(w, &c), "web");
    assert_string_equal(c.workloads[1].reason, "priority 10, stateless: no downtime");
    pl_choice_clear(&c);
    /* Even a stateless workload's unusable downtime_s does not matter. */
    w[1].downtime_s = NAN;
    choose(w, N(w), p, N(p), 20, 0, &c);
    assert_string_equal(chosen(w, &c), "web");
    pl_choice_clear(&c);
}

static void ties_keep_input_order(void **state)
{
    (void)state;
    struct pl_workload w[] = {WL("x", 25, 10, 300), WL("y", 25, 10, 300), WL("z", 25, 10, 300)};
    struct pl_peer p[] = {PEER("f", 500)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 50, 0, &c);
    assert_string_equal(chosen(w, &c), "x y");
    pl_choice_clear(&c);
    /* Same priority, no downtime for either: more kW first... */
    struct pl_workload s[] = {WL("s1", 10, 10, 0), WL("s2", 30, 10, 0)};
    choose(s, N(s), p, N(p), 30, 0, &c);
    assert_string_equal(chosen(s, &c), "s2");
    assert_string_equal(c.workloads[1].reason, "priority 10, no downtime expected");
    pl_choice_clear(&c);
    /* ...unless that sheds more than 15 % over need and the other does not. */
    choose(s, N(s), p, N(p), 5, 0, &c);
    assert_string_equal(chosen(s, &c), "s1");
    pl_choice_clear(&c);
}

static void groups_move_whole_at_their_highest_priority(void **state)
{
    (void)state;
    struct pl_workload w[] = {WL("web", 10, 10, 60), WL("db", 30, 50, 600), WL("x", 40, 20, 600)};
    w[0].group = w[1].group = "shop";
    struct pl_peer p[] = {PEER("f", 500)};
    struct pl_choice c;
    /* The group's priority is db's 50, so x (20) goes first. */
    choose(w, N(w), p, N(p), 40, 0, &c);
    assert_string_equal(chosen(w, &c), "x");
    pl_choice_clear(&c);
    /* Without x the group goes, whole and to one peer, members together. */
    w[2].pinned = true;
    choose(w, N(w), p, N(p), 15, 0, &c);
    assert_string_equal(chosen(w, &c), "web db");
    assert_string_equal(order(w, &c), "web db");
    assert_string_equal(
        c.workloads[0].reason,
        "group 'shop' (2 workloads, 40 kW), priority 50, 4 kW per minute of downtime");
    assert_string_equal(c.workloads[2].reason, "pinned");
    pl_choice_clear(&c);
}

static void one_member_left_keeps_the_whole_group(void **state)
{
    (void)state;
    struct pl_workload w[] = {WL("web", 10, 10, 60), WL("db", 30, 10, 600), WL("cache", 5, 10, 0),
                              WL("other", 40, 90, 600)};
    w[0].group = w[1].group = w[2].group = "shop";
    w[1].pinned = true;
    struct pl_peer p[] = {PEER("f", 500)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 10, 0, &c);
    assert_string_equal(chosen(w, &c), "other");
    assert_string_equal(c.workloads[0].reason,
                        "group 'shop' left whole because member db is pinned");
    assert_string_equal(c.workloads[2].reason,
                        "group 'shop' left whole because member db is pinned");
    assert_string_equal(c.workloads[1].reason, "pinned (keeps group 'shop')");
    pl_choice_clear(&c);

    w[1].pinned = false;
    w[1].unmovable = "stateful, no quiesce hook and migrator.data_mover off";
    choose(w, N(w), p, N(p), 10, 0, &c);
    assert_string_equal(chosen(w, &c), "other");
    assert_string_equal(c.workloads[0].reason,
                        "group 'shop' left whole because member db is unmovable");
    assert_string_equal(
        c.workloads[1].reason,
        "stateful, no quiesce hook and migrator.data_mover off (keeps group 'shop')");
    pl_choice_clear(&c);

    w[1].unmovable = NULL;
    w[2].moving = true;
    choose(w, N(w), p, N(p), 10, 0, &c);
    assert_string_equal(c.workloads[0].reason,
                        "group 'shop' left whole because member cache is already moving");
    assert_string_equal(c.workloads[2].reason, "already moving (keeps group 'shop')");
    pl_choice_clear(&c);
}

static void a_group_goes_to_one_peer(void **state)
{
    (void)state;
    /* 40 kW of group would fit 30 + 30 split, but a group is not split. */
    struct pl_workload w[] = {WL("a", 20, 10, 60), WL("b", 20, 10, 60)};
    w[0].group = w[1].group = "g";
    struct pl_peer p[] = {PEER("f", 30), PEER("h", 30)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 40, 0, &c);
    assert_string_equal(chosen(w, &c), "");
    assert_string_equal(c.workloads[0].reason,
                        "no peer has 40 kW spare for group 'g' (largest 30 kW)");
    assert_float_equal(c.missing_kw, 40, 1e-9);
    assert_string_equal(c.summary, "covers 0 of 40 kW, 40 kW missing");
    pl_choice_clear(&c);
}

static void ineligible_workloads_say_why_and_never_move(void **state)
{
    (void)state;
    struct pl_workload w[] = {WL("pin", 10, 1, 60),  WL("mov", 10, 1, 60),
                              WL("unq", 10, 1, 60),  WL("nan", NAN, 1, 60),
                              WL("neg", -3, 1, 60),  WL("inf", INFINITY, 1, 60),
                              WL("down", 10, 1, 60), WL("mig", 10, 1, 60),
                              WL("zero", 0, 1, 60),  WL("ok", 10, 99, 60)};
    w[0].pinned = true;
    w[1].moving = true;
    w[2].unmovable = "not quiescable: no floe.dev/quiesce and no Velero hook";
    w[6].downtime_s = -1;
    w[7].migration_s = NAN;
    struct pl_peer p[] = {PEER("f", 500)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 100, 0, &c);
    assert_string_equal(chosen(w, &c), "ok");
    static const char *const want[] = {
        "pinned",
        "already moving",
        "not quiescable: no floe.dev/quiesce and no Velero hook",
        "power_kw unusable (nan)",
        "power_kw unusable (-3)",
        "power_kw unusable (inf)",
        "downtime_s unusable (-1)",
        "migration_s unusable (nan)",
        "0 kW: moving it sheds nothing",
    };
    for (size_t i = 0; i < N(want); i++)
        assert_string_equal(c.workloads[i].reason, want[i]);
    assert_float_equal(c.missing_kw, 90, 1e-9);
    pl_choice_clear(&c);
}

static void the_drop_pass_removes_what_the_rest_covers(void **state)
{
    (void)state;
    /* First in order: a (10), then b (100) crosses need at 110; the rest
     * (b alone) still covers 100, so a is dropped again. */
    struct pl_workload w[] = {WL("a", 10, 1, 60), WL("b", 100, 2, 60)};
    struct pl_peer p[] = {PEER("f", 500)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 100, 0, &c);
    assert_string_equal(chosen(w, &c), "b");
    assert_string_equal(c.workloads[0].reason, "not needed: the others cover 100 of 100 kW");
    pl_choice_clear(&c);

    /* a, b, c (115) found first; a is dropped; the rest is placed again
     * in choice order, each on the most spare peer: b on A (tie, lower
     * index), c on B, not where they sat beside a. */
    struct pl_workload x[] = {WL("a", 10, 1, 60), WL("b", 60, 2, 60), WL("c", 45, 3, 60)};
    struct pl_peer q[] = {PEER("A", 100), PEER("B", 100)};
    choose(x, N(x), q, N(q), 100, 0, &c);
    assert_string_equal(chosen(x, &c), "b c");
    assert_int_equal(c.workloads[1].peer, 0);
    assert_int_equal(c.workloads[2].peer, 1);
    pl_choice_clear(&c);
}

static void units_ending_after_the_deadline_are_taken_last(void **state)
{
    (void)state;
    /* late: lowest priority but 60 min of migration, deadline 30 min. */
    struct pl_workload w[] = {WL("late", 50, 1, 3600), WL("ontime", 50, 50, 600)};
    struct pl_peer p[] = {PEER("f", 500)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 50, 1800, &c);
    assert_string_equal(chosen(w, &c), "ontime");
    assert_true(c.workloads[0].late);
    assert_false(c.workloads[1].late);
    assert_string_equal(c.workloads[0].reason,
                        "ends after the deadline (60 min > 30 min); the others cover 50 of 50 kW");
    pl_choice_clear(&c);
    /* Without a deadline priority decides. */
    choose(w, N(w), p, N(p), 50, 0, &c);
    assert_string_equal(chosen(w, &c), "late");
    pl_choice_clear(&c);
    /* When the others do not cover need, the late one is still taken. */
    choose(w, N(w), p, N(p), 100, 1800, &c);
    assert_string_equal(order(w, &c), "ontime late");
    assert_string_equal(c.workloads[0].reason,
                        "priority 1, 0.8 kW per minute of downtime; ends after the deadline "
                        "(60 min > 30 min) but needed");
    pl_choice_clear(&c);
}

static void units_are_split_across_peers_by_most_spare_left(void **state)
{
    (void)state;
    /* 40 -> A (30 left), 40 -> B (10 left), 30 -> A (0 left). */
    struct pl_workload w[] = {WL("a", 40, 1, 60), WL("b", 40, 2, 60), WL("c", 30, 3, 60)};
    struct pl_peer p[] = {PEER("A", 70), PEER("B", 50)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 110, 0, &c);
    assert_string_equal(chosen(w, &c), "a b c");
    assert_int_equal(c.workloads[0].peer, 0);
    assert_int_equal(c.workloads[1].peer, 1);
    assert_int_equal(c.workloads[2].peer, 0);
    assert_string_equal(c.peers[0].reason, "takes a, c (70 kW of 70 spare)");
    assert_string_equal(c.peers[1].reason, "takes b (40 kW of 50 spare)");
    assert_int_equal(c.peers[0].nplanned, 2);
    assert_string_equal(c.summary, "covers 110 of 110 kW: 3 workloads on 2 peers");
    pl_choice_clear(&c);
}

static void a_rearrangement_fits_what_most_spare_first_cannot(void **state)
{
    (void)state;
    /* Most spare first puts 30 on A and 20 on B, leaving no room for 50;
     * 30 + 20 on one peer and 50 on the other fits. */
    struct pl_workload w[] = {WL("a", 30, 1, 60), WL("b", 20, 2, 60), WL("c", 50, 3, 60)};
    struct pl_peer p[] = {PEER("A", 50), PEER("B", 50)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 100, 0, &c);
    assert_string_equal(chosen(w, &c), "a b c");
    assert_int_equal(c.workloads[0].peer, c.workloads[1].peer);
    assert_int_not_equal(c.workloads[0].peer, c.workloads[2].peer);
    assert_float_equal(c.missing_kw, 0, 1e-9);
    pl_choice_clear(&c);
}

static void a_unit_no_peer_can_take_makes_way_for_others(void **state)
{
    (void)state;
    struct pl_workload w[] = {WL("big", 40, 1, 60), WL("mid", 20, 2, 60), WL("small", 10, 3, 60)};
    struct pl_peer p[] = {PEER("A", 25)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 30, 0, &c);
    /* Only 25 kW fit anywhere: partial cover, the most that fits. */
    assert_string_equal(chosen(w, &c), "mid");
    assert_string_equal(c.workloads[0].reason, "no peer has 40 kW spare (largest 25 kW)");
    assert_string_equal(c.workloads[2].reason, "no peer has 10 kW spare left (largest 5 kW)");
    assert_float_equal(c.missing_kw, 10, 1e-9);
    assert_string_equal(c.summary, "covers 20 of 30 kW, 10 kW missing: 1 workload on 1 peer");
    pl_choice_clear(&c);
    /* A second peer covers it without big. */
    struct pl_peer q[] = {PEER("A", 25), PEER("B", 10)};
    choose(w, N(w), q, N(q), 30, 0, &c);
    assert_string_equal(chosen(w, &c), "mid small");
    assert_int_equal(c.workloads[1].peer, 0);
    assert_int_equal(c.workloads[2].peer, 1);
    pl_choice_clear(&c);
}

static void skipped_peers_say_why(void **state)
{
    (void)state;
    struct pl_workload w[] = {WL("a", 10, 1, 60)};
    struct pl_peer p[] = {
        {.name = "down", .problem = "unreachable: Connection refused"},
        {.name = "garbled",
         .answered = true,
         .accepting = true,
         .spare_kw = 99,
         .problem = "garbage answer: spare_kw: not a number"},
        {.name = "quiet"},
        {.name = "busy", .answered = true, .spare_kw = 500},
        {.name = "nan", .answered = true, .accepting = true, .spare_kw = NAN},
        {.name = "over", .answered = true, .accepting = true, .spare_kw = -5},
        {.name = "full", .answered = true, .accepting = true, .spare_kw = 0},
        PEER("ok", 50),
        PEER("idle", 20),
    };
    struct pl_choice c;
    choose(w, N(w), p, N(p), 10, 0, &c);
    static const char *const want[] = {
        "unreachable: Connection refused",
        "garbage answer: spare_kw: not a number",
        "did not answer",
        "not accepting",
        "spare_kw unusable (nan)",
        "no spare (-5 kW)",
        "no spare",
        "takes a (10 kW of 50 spare)",
        "not needed",
    };
    for (size_t j = 0; j < N(want); j++)
        assert_string_equal(c.peers[j].reason, want[j]);
    assert_int_equal(c.workloads[0].peer, 7);
    pl_choice_clear(&c);
    /* Without a usable peer nothing moves. */
    choose(w, N(w), p, 7, 10, 0, &c);
    assert_string_equal(chosen(w, &c), "");
    assert_string_equal(c.workloads[0].reason, "no peer has 10 kW spare (no usable peer)");
    pl_choice_clear(&c);
}

static void a_peer_that_fits_nothing_left_says_so(void **state)
{
    (void)state;
    struct pl_workload w[] = {WL("a", 30, 1, 60), WL("b", 30, 1, 60)};
    struct pl_peer p[] = {PEER("A", 40), PEER("tiny", 5)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 60, 0, &c);
    assert_string_equal(chosen(w, &c), "a");
    assert_string_equal(c.peers[1].reason, "fits none of the units left (5 kW spare)");
    pl_choice_clear(&c);
}

static void a_refusal_rerun_keeps_what_is_reserved(void **state)
{
    (void)state;
    struct pl_workload w[] = {WL("shop", 40, 1, 60), WL("web", 30, 2, 60), WL("api", 20, 3, 60),
                              WL("batch", 50, 90, 60)};
    struct pl_peer p[] = {PEER("A", 80), PEER("B", 60)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 90, 0, &c);
    assert_string_equal(order(w, &c), "shop web api");
    assert_int_equal(c.workloads[0].peer, 0);
    assert_int_equal(c.workloads[1].peer, 1);
    assert_int_equal(c.workloads[2].peer, 0);
    pl_choice_clear(&c);

    /* shop is granted at A (A's spare drops by 40); B refuses web with
     * 409 and spare_kw 20. Re-run: shop stays, web and api re-placed. */
    w[0].reserved_at = "A";
    p[0].spare_kw = 40;
    p[1].spare_kw = 20;
    choose(w, N(w), p, N(p), 90, 0, &c);
    assert_string_equal(chosen(w, &c), "shop web api");
    assert_string_equal(order(w, &c), "web api");
    assert_int_equal(c.workloads[0].peer, 0);
    assert_int_equal(c.workloads[1].peer, 0);
    assert_int_equal(c.workloads[2].peer, 1);
    assert_string_equal(c.workloads[0].reason, "kept: already reserved at A");
    assert_string_equal(c.peers[0].reason, "takes web (30 kW of 40 spare); holds shop (40 kW)");
    assert_float_equal(c.peers[0].held_kw, 40, 1e-9);
    assert_float_equal(c.covered_kw, 90, 1e-9);
    pl_choice_clear(&c);

    /* B refuses again with nothing spare: batch cannot help either (50
     * kW), so the cover is partial and says so. */
    w[1].reserved_at = "A";
    p[0].spare_kw = 10;
    p[1].spare_kw = 0;
    choose(w, N(w), p, N(p), 90, 0, &c);
    assert_string_equal(chosen(w, &c), "shop web");
    assert_float_equal(c.missing_kw, 20, 1e-9);
    assert_string_equal(c.workloads[2].reason, "no peer has 20 kW spare (largest 10 kW)");
    assert_string_equal(c.peers[0].reason,
                        "fits none of the units left (10 kW spare); holds shop, web (70 kW)");
    assert_string_equal(c.peers[1].reason, "no spare");
    pl_choice_clear(&c);
}

static void a_reserved_group_is_completed_or_given_up(void **state)
{
    (void)state;
    struct pl_workload w[] = {WL("web", 10, 1, 60), WL("db", 30, 1, 600)};
    w[0].group = w[1].group = "shop";
    w[0].reserved_at = "A";
    struct pl_peer p[] = {PEER("A", 30), PEER("B", 100)};
    struct pl_choice c;
    choose(w, N(w), p, N(p), 40, 0, &c);
    assert_string_equal(chosen(w, &c), "web db");
    assert_string_equal(order(w, &c), "db");
    assert_int_equal(c.workloads[1].peer, 0); /* with its group, not on B */
    assert_string_equal(c.workloads[1].reason, "goes with group 'shop' to A");
    pl_choice_clear(&c);
    /* db takes A's last 30 kW, so x goes to B. */
    struct pl_workload x[] = {WL("web", 10, 1, 60), WL("db", 30, 1, 600), WL("x", 20, 2, 60)};
    x[0].group = x[1].group = "shop";
    x[0].reserved_at = "A";
    struct pl_peer q[] = {PEER("A", 30), PEER("B", 25)};
    choose(x, N(x), q, N(q), 60, 0, &c);
    assert_string_equal(chosen(x, &c), "web db x");
    assert_string_equal(order(x, &c), "db x");
    assert_int_equal(c.workloads[2].peer, 1);
    pl_choice_clear(&c);
    choose(x, N(x), q, 1, 60, 0, &c);
    assert_string_equal(c.workloads[2].reason, "no peer has 20 kW spare (largest 0 kW)");
    pl_choice_clear(&c);
    /* A cannot take db any more: the group is given up for release. */
    p[0].spare_kw = 20;
    choose(w, N(w), p, N(p), 40, 0, &c);
    assert_string_equal(chosen(w, &c), "");
    assert_string_equal(
        c.workloads[0].reason,
        "group 'shop' no longer fits A (30 kW more, 20 spare): release its reservations");
    pl_choice_clear(&c);
}

static void a_reservation_at_an_unknown_peer_is_an_error(void **state)
{
    (void)state;
    struct pl_workload w[] = {WL("a", 10, 1, 60), WL("shop", 10, 1, 60)};
    w[1].reserved_at = "nowhere";
    struct pl_peer p[] = {PEER("A", 30)};
    struct pl_request r = {.need_kw = 10};
    struct pl_choice c;
    char err[256] = "";
    assert_int_equal(pl_choose(w, N(w), p, N(p), &r, &c, err, sizeof err), -1);
    assert_string_equal(err, "workloads[1] (shop).reserved_at: no peer named 'nowhere'");
    assert_null(c.workloads);
    pl_choice_clear(&c);
}

static void no_need_moves_nothing(void **state)
{
    (void)state;
    struct pl_workload w[] = {WL("a", 10, 1, 60), WL("b", 10, 1, 60)};
    w[1].pinned = true;
    struct pl_peer p[] = {PEER("A", 30)};
    static const struct {
        double need;
        const char *reason, *summary;
    } cases[] = {
        {0, "not needed: need_kw is 0", "need_kw is 0: nothing to move"},
        {-5, "not needed: need_kw is -5", "need_kw is -5: nothing to move"},
        {NAN, "not needed: need_kw is not a finite number (nan)",
         "need_kw is not a finite number (nan): nothing to move"},
        {INFINITY, "not needed: need_kw is not a finite number (inf)",
         "need_kw is not a finite number (inf): nothing to move"},
    };
    for (size_t k = 0; k < N(cases); k++) {
        struct pl_choice c;
        choose(w, N(w), p, N(p), cases[k].need, 0, &c);
        assert_string_equal(chosen(w, &c), "");
        assert_string_equal(c.workloads[0].reason, cases[k].reason);
        assert_string_equal(c.workloads[1].reason, "pinned");
        assert_string_equal(c.peers[0].reason, "not needed");
        assert_string_equal(c.summary, cases[k].summary);
        pl_choice_clear(&c);
    }
}

static void odd_inputs_do_not_break_it(void **state)
{
    (void)state;
    struct pl_choice c;
    /* Nothing at all. */
    choose(NULL, 0, NULL, 0, 10, 0, &c);
    assert_float_equal(c.missing_kw, 10, 1e-9);
    assert_string_equal(c.summary, "covers 0 of 10 kW, 10 kW missing");
    pl_choice_clear(&c);
    /* Unnamed workloads and peers, an infinite spare, a NaN deadline. */
    struct pl_workload w[] = {WL(NULL, 10, 1, 60), WL(NULL, 10, 1, 60)};
    w[0].group = w[1].group = "g";
    struct pl_peer p[] = {{.answered = true, .accepting = true, .spare_kw = INFINITY},
                          {.answered = true, .accepting = true, .spare_kw = 30}};
    choose(w, N(w), p, N(p), 15, NAN, &c);
    assert_int_equal(c.workloads[0].peer, 1);
    assert_string_equal(c.peers[1].reason, "takes ?, ? (20 kW of 30 spare)");
    assert_string_equal(c.peers[0].reason, "spare_kw unusable (inf)");
    pl_choice_clear(&c);
    /* Clearing twice and a zeroed choice are fine. */
    pl_choice_clear(&c);
    pl_choice_clear(NULL);
}

static void long_peer_reasons_are_cut_cleanly(void **state)
{
    (void)state;
    enum { n = 40 };
    struct pl_workload w[n];
    char names[n][64];
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "namespace-with-a-long-name-%02d", i);
        w[i] = (struct pl_workload)WL(names[i], 1, 1, 60);
    }
    struct pl_peer p[] = {PEER("A", 100)};
    struct pl_choice c;
    choose(w, n, p, N(p), 40, 0, &c);
    const char *r = c.peers[0].reason;
    assert_true(strncmp(r, "takes namespace-with-a-long-name-00, ", 37) == 0);
    assert_non_null(strstr(r, " more (40 kW of 100 spare)"));
    pl_choice_clear(&c);
}

static void large_inputs_fall_back_to_greedy(void **state)
{
    (void)state;
    enum { n = PL_EXACT_MAX_UNITS + 44 };
    struct pl_workload *w = calloc(n, sizeof *w);
    assert_non_null(w);
    for (int i = 0; i < n; i++)
        w[i] = (struct pl_workload)WL("u", 1, i, 60);
    struct pl_peer p[] = {PEER("A", 1000)};
    struct pl_choice c;
    choose(w, n, p, N(p), 10, 0, &c);
    assert_false(c.exact);
    assert_float_equal(c.covered_kw, 10, 1e-9);
    for (int i = 0; i < n; i++)
        assert_int_equal(c.workloads[i].chosen, i < 10); /* lowest priorities */
    assert_non_null(strstr(c.summary, "(greedy: 300 candidate units)"));
    pl_choice_clear(&c);
    free(w);
}

/* ---- quality over random tables ------------------------------------------ */

#define QW 14 /* workloads per table at most */
#define QP 3  /* peers per table at most */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int below(uint64_t *s, int n)
{
    return (int)(rng_next(s) % (uint64_t)n);
}

/* A multiple of 0.5 in [lo, hi]: sums stay exact. */
static double halves(uint64_t *s, double lo, double hi)
{
    return lo + below(s, (int)((hi - lo) * 2) + 1) * 0.5;
}

struct table {
    struct pl_workload w[QW];
    size_t nw;
    struct pl_peer p[QP];
    size_t np;
    double need, deadline_s;
};

static const char *const qnames[QW] = {"w0", "w1", "w2", "w3",  "w4",  "w5",  "w6",
                                       "w7", "w8", "w9", "w10", "w11", "w12", "w13"};

static void random_table(uint64_t *s, struct table *t)
{
    memset(t, 0, sizeof *t);
    t->np = 1 + below(s, QP);
    size_t usable = 0;
    for (size_t j = 0; j < t->np; j++) {
        struct pl_peer *p = &t->p[j];
        *p = (struct pl_peer){.name = "p", .answered = true, .accepting = true};
        p->spare_kw = halves(s, 0, 150);
        switch (below(s, 16)) {
        case 0:
            p->answered = false;
            p->problem = "unreachable: timeout";
            break;
        case 1:
            p->accepting = false;
            break;
        case 2:
            p->spare_kw = below(s, 2) ? NAN : -5;
            break;
        default:
            usable++;
        }
    }
    /* Few enough workloads for the brute force to enumerate every
     * assignment quickly. */
    size_t cap = usable >= 3 ? 8 : usable == 2 ? 10 : QW;
    t->nw = 1 + below(s, (int)cap);
    for (size_t i = 0; i < t->nw; i++) {
        struct pl_workload *w = &t->w[i];
        *w = (struct pl_workload){.name = qnames[i], .namespace_ = qnames[i]};
        w->power_kw = below(s, 40) == 0 ? 0 : halves(s, 0.5, 40);
        if (below(s, 100) == 0)
            w->power_kw = NAN;
        w->priority = 10 * (1 + below(s, 3));
        w->stateless = below(s, 4) == 0;
        w->downtime_s = below(s, 3600);
        w->migration_s = w->downtime_s + below(s, 7200);
        int g = below(s, 10);
        w->group = g == 0 ? "g1" : g == 1 ? "g2" : NULL;
        int odd = below(s, 40);
        w->pinned = odd == 0;
        w->moving = odd == 1;
        w->unmovable = odd == 2 ? "not quiescable" : NULL;
    }
    t->need = halves(s, 5, 100);
    t->deadline_s = below(s, 3) == 0 ? 3600 : 0;
}

/* The model: the header's rule written the slow, obvious way. */
struct munit {
    double kw, down, mig, per_min;
    int prio;
    bool late;
    size_t first;
    unsigned members; /* bit i = workload i */
};

static bool model_usable_peer(const struct pl_peer *p)
{
    return p->answered && p->accepting && !p->problem && isfinite(p->spare_kw) && p->spare_kw > 0;
}

static bool model_eligible(const struct pl_workload *w)
{
    bool ok = isfinite(w->power_kw) && w->power_kw >= 0 && isfinite(w->migration_s) &&
              w->migration_s >= 0;
    if (!w->stateless)
        ok = ok && isfinite(w->downtime_s) && w->downtime_s >= 0;
    return ok && !w->pinned && !w->moving && !w->unmovable;
}

static int model_cmp(const void *a, const void *b)
{
    const struct munit *x = a, *y = b;
    if (x->late != y->late)
        return x->late - y->late;
    if (x->prio != y->prio)
        return x->prio - y->prio;
    if (x->per_min != y->per_min)
        return x->per_min > y->per_min ? -1 : 1;
    if (x->kw != y->kw)
        return x->kw > y->kw ? -1 : 1;
    return (int)x->first - (int)y->first;
}

/* Candidate units in choice order. */
static size_t model_units(const struct table *t, double largest, double tol, struct munit *u)
{
    struct munit all[QW];
    bool bad[QW] = {false};
    size_t n = 0;
    for (size_t i = 0; i < t->nw; i++) {
        const struct pl_workload *w = &t->w[i];
        size_t k = n;
        for (size_t m = 0; m < n && w->group; m++)
            if (t->w[all[m].first].group && strcmp(t->w[all[m].first].group, w->group) == 0)
                k = m;
        if (k == n)
            all[n++] = (struct munit){.first = i, .prio = w->priority};
        struct munit *x = &all[k];
        x->members |= 1u << i;
        if (!model_eligible(w)) {
            bad[k] = true;
            continue;
        }
        x->kw += w->power_kw;
        x->prio = w->priority > x->prio ? w->priority : x->prio;
        x->down = fmax(x->down, w->stateless ? 0 : w->downtime_s);
        x->mig = fmax(x->mig, w->migration_s);
    }
    size_t k = 0;
    for (size_t m = 0; m < n; m++) {
        if (bad[m] || all[m].kw <= 0 || all[m].kw > largest + tol)
            continue;
        all[m].late = t->deadline_s > 0 && all[m].mig > t->deadline_s;
        all[m].per_min = all[m].down > 0 ? all[m].kw / (all[m].down / 60) : INFINITY;
        u[k++] = all[m];
    }
    qsort(u, k, sizeof *u, model_cmp);
    return k;
}

/* Marks every set of units (bit k-1-i = unit i) some assignment places. */
static void model_place(const struct munit *u, size_t k, size_t i, unsigned mask, double *rem,
                        size_t m, double tol, unsigned char *placeable)
{
    placeable[mask] = 1;
    if (i == k)
        return;
    model_place(u, k, i + 1, mask, rem, m, tol, placeable);
    for (size_t j = 0; j < m; j++)
        if (u[i].kw <= rem[j] + tol) {
            double before = rem[j];
            rem[j] -= u[i].kw;
            model_place(u, k, i + 1, mask | 1u << (k - 1 - i), rem, m, tol, placeable);
            rem[j] = before;
        }
}

struct verdict {
    bool can_cover, within_15; /* some placeable set covers / covers within 15 % */
    double most;               /* the most kW any placeable set has */
    unsigned want;             /* the rule's set */
};

static struct verdict model_choose(const struct munit *u, size_t k, const double *cap, size_t m,
                                   double need, double tol)
{
    size_t nmask = (size_t)1 << k;
    unsigned char *placeable = calloc(nmask, 1);
    double *sum = calloc(nmask, sizeof *sum), rem[QP];
    assert_non_null(placeable);
    assert_non_null(sum);
    memcpy(rem, cap, m * sizeof *cap);
    model_place(u, k, 0, 0, rem, m, tol, placeable);
    for (size_t mask = 1; mask < nmask; mask++)
        for (size_t i = 0; i < k; i++)
            if (mask & (1u << (k - 1 - i)))
                sum[mask] += u[i].kw;
    double hi = need * (1 + PL_OVER_SHED), least = INFINITY;
    struct verdict v = {0};
    for (size_t mask = 0; mask < nmask; mask++) {
        if (!placeable[mask])
            continue;
        v.most = fmax(v.most, sum[mask]);
        if (sum[mask] >= need - tol) {
            v.can_cover = true;
            least = fmin(least, sum[mask]);
            v.within_15 = v.within_15 || sum[mask] <= hi + tol;
        }
    }
    double lo = v.can_cover ? need : v.most, top = v.within_15   ? hi
                                                   : v.can_cover ? least
                                                                 : INFINITY;
    for (size_t mask = nmask; mask-- > 0;) /* larger mask = earlier units */
        if (placeable[mask] && sum[mask] >= lo - tol && sum[mask] <= top + tol) {
            v.want = (unsigned)mask;
            break;
        }
    if (v.can_cover) {
        /* Cut where it first covers, then drop from the last back. */
        double acc = 0;
        for (size_t i = 0; i < k; i++) {
            unsigned bit = 1u << (k - 1 - i);
            if (acc >= need - tol)
                v.want &= ~bit;
            else if (v.want & bit)
                acc += u[i].kw;
        }
        for (size_t i = k; i-- > 0;) {
            unsigned bit = 1u << (k - 1 - i);
            if ((v.want & bit) && acc - u[i].kw >= need - tol) {
                v.want &= ~bit;
                acc -= u[i].kw;
            }
        }
    }
    free(placeable);
    free(sum);
    return v;
}

static unsigned chosen_mask(const struct pl_choice *c, const struct munit *u, size_t k)
{
    unsigned mask = 0;
    for (size_t i = 0; i < k; i++)
        if (c->workloads[u[i].first].chosen)
            mask |= 1u << (k - 1 - i);
    return mask;
}

static void quality_over_random_tables(void **state)
{
    (void)state;
    enum { tables = 10000 };
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    size_t can_cover = 0, covered = 0, within = 0, partial = 0, partial_at_most = 0;
    size_t greedy_over = 0, not_exact = 0;
    double over_sum = 0, over_max = 0, over_max_within = 0, greedy_over_max = 0;
    long steps_max = 0;
    for (int n = 0; n < tables; n++) {
        struct table t;
        random_table(&seed, &t);
        struct pl_request r = {.need_kw = t.need, .deadline_s = t.deadline_s};
        struct pl_choice c;
        choose_req(t.w, t.nw, t.p, t.np, &r, &c);

        double cap[QP], largest = 0;
        size_t m = 0;
        for (size_t j = 0; j < t.np; j++)
            if (model_usable_peer(&t.p[j])) {
                cap[m++] = t.p[j].spare_kw;
                largest = fmax(largest, t.p[j].spare_kw);
            }
        double tol = 1e-9 * (1 + t.need + largest);
        struct munit u[QW];
        size_t k = model_units(&t, largest, tol, u);
        struct verdict v = model_choose(u, k, cap, m, t.need, tol);

        /* The rule, exactly; and the two quality properties. */
        if (chosen_mask(&c, u, k) != v.want)
            fail_msg("table %d: chose %x, the rule %x (need %g, %s)", n, chosen_mask(&c, u, k),
                     v.want, t.need, c.summary);
        double over = (c.covered_kw - t.need) / t.need * 100;
        if (v.can_cover) {
            can_cover++;
            assert_true(c.covered_kw >= t.need - tol);
        } else {
            partial++;
            partial_at_most += fabs(c.covered_kw - v.most) <= tol;
            assert_float_equal(c.covered_kw, v.most, tol);
        }
        if (c.covered_kw >= t.need - tol) {
            covered++;
            over_sum += over;
            over_max = fmax(over_max, over);
        }
        if (v.within_15) {
            within++;
            assert_true(over <= PL_OVER_SHED * 100 + 1e-6);
            over_max_within = fmax(over_max_within, over);
        }
        not_exact += !c.exact;
        steps_max = c.steps > steps_max ? c.steps : steps_max;
        pl_choice_clear(&c);

        /* What greedy plus the drop pass alone would have shed. */
        if (v.within_15) {
            r.max_steps = 1;
            choose_req(t.w, t.nw, t.p, t.np, &r, &c);
            double g = (c.covered_kw - t.need) / t.need * 100;
            if (c.covered_kw >= t.need - tol && g > PL_OVER_SHED * 100 + 1e-6) {
                greedy_over++;
                greedy_over_max = fmax(greedy_over_max, g);
            }
            pl_choice_clear(&c);
        }
    }
    assert_int_equal(covered, can_cover);
    assert_int_equal(not_exact, 0);
    assert_int_equal(partial_at_most, partial);
    /* The tables exercise what the search is for. */
    assert_true(greedy_over > 0);
    assert_true(partial > 0 && within > 0 && within < can_cover);
    print_message("pl_choose quality: %d random tables (seed fixed): %zu allowed a cover, %zu "
                  "covered; over-shed mean %.1f %%, max %.1f %%; %zu had a subset within 15 %%: "
                  "max over-shed there %.1f %% (greedy + drop pass alone: %zu over 15 %%, up to "
                  "%.0f %%); %zu partial, all at the most placeable kW; search steps <= %ld\n",
                  tables, can_cover, covered, covered ? over_sum / (double)covered : 0, over_max,
                  within, over_max_within, greedy_over, greedy_over_max, partial, steps_max);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(over_shed_is_kept_within_15_percent),
        cmocka_unit_test(when_every_cover_sheds_more_the_least_one_is_taken),
        cmocka_unit_test(lower_priority_moves_first),
        cmocka_unit_test(within_a_priority_most_kw_per_minute_of_downtime_first),
        cmocka_unit_test(stateless_goes_first_within_its_priority),
        cmocka_unit_test(ties_keep_input_order),
        cmocka_unit_test(groups_move_whole_at_their_highest_priority),
        cmocka_unit_test(one_member_left_keeps_the_whole_group),
        cmocka_unit_test(a_group_goes_to_one_peer),
        cmocka_unit_test(ineligible_workloads_say_why_and_never_move),
        cmocka_unit_test(the_drop_pass_removes_what_the_rest_covers),
        cmocka_unit_test(units_ending_after_the_deadline_are_taken_last),
        cmocka_unit_test(units_are_split_across_peers_by_most_spare_left),
        cmocka_unit_test(a_rearrangement_fits_what_most_spare_first_cannot),
        cmocka_unit_test(a_unit_no_peer_can_take_makes_way_for_others),
        cmocka_unit_test(skipped_peers_say_why),
        cmocka_unit_test(a_peer_that_fits_nothing_left_says_so),
        cmocka_unit_test(a_refusal_rerun_keeps_what_is_reserved),
        cmocka_unit_test(a_reserved_group_is_completed_or_given_up),
        cmocka_unit_test(a_reservation_at_an_unknown_peer_is_an_error),
        cmocka_unit_test(no_need_moves_nothing),
        cmocka_unit_test(odd_inputs_do_not_break_it),
        cmocka_unit_test(long_peer_reasons_are_cut_cleanly),
        cmocka_unit_test(large_inputs_fall_back_to_greedy),
        cmocka_unit_test(quality_over_random_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
