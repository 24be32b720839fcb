/*
 * test_pl_place — placement driven through scripted peers: every chosen
 * workload reserved at its peer and recorded with its reservation id; a
 * peer that refuses (its capacity went to someone else meanwhile) makes
 * the choice run again with what it says is left; a peer that fails
 * mid-way is taken out with the reason; partial cover and no capacity
 * recorded as such; grants the final choice does not use are released.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "placement/pl_place.h"

#define MAXP 4
#define MAXR 16

/* One peer's script: its capacity answer, then the outcome of each
 * reservation asked of it in turn (the last one repeats). */
struct script_peer {
    struct pl_peer_answer cap;
    struct {
        enum pl_resv_outcome outcome;
        double spare_kw;     /* refused: what it says is left */
        const char *problem; /* failed */
    } resv[MAXR];
    int nresv;
    int asked;
    char released[MAXR][PL_RESV_ID_MAX];
    int nreleased;
    double granted_kw;
};

struct script {
    struct script_peer peers[MAXP];
    size_t npeers;
    int next_id;
};

static void fake_capacity(void *ctx, size_t npeers, struct pl_peer_answer *out)
{
    struct script *s = ctx;
    for (size_t i = 0; i < npeers; i++)
        out[i] = s->peers[i].cap;
}

static void fake_reserve(void *ctx, size_t peer, size_t workload, double kw,
                         struct pl_resv_answer *out)
{
    (void)workload;
    struct script *s = ctx;
    struct script_peer *p = &s->peers[peer];
    int k = p->asked < p->nresv ? p->asked : p->nresv - 1;
    p->asked++;
    out->outcome = k >= 0 ? p->resv[k].outcome : PL_RESV_GRANTED;
    if (out->outcome == PL_RESV_GRANTED) {
        snprintf(out->id, sizeof out->id, "rsv-%d", ++s->next_id);
        out->kw = kw;
        out->expires_ms = 1000;
        p->granted_kw += kw;
    } else if (out->outcome == PL_RESV_REFUSED) {
        out->spare_kw = p->resv[k].spare_kw;
    } else {
        snprintf(out->problem, sizeof out->problem, "%s", p->resv[k].problem);
    }
}

static void fake_release(void *ctx, size_t peer, const char *id)
{
    struct script *s = ctx;
    struct script_peer *p = &s->peers[peer];
    if (p->nreleased < MAXR)
        snprintf(p->released[p->nreleased++], PL_RESV_ID_MAX, "%s", id);
}

static struct pl_peer_answer answer(double spare)
{
    return (struct pl_peer_answer){.answered = true, .accepting = true, .spare_kw = spare};
}

static struct pl_workload wl(const char *name, double kw, int prio)
{
    return (struct pl_workload){.name = name,
                                .namespace_ = name,
                                .power_kw = kw,
                                .data_gb = 10,
                                .priority = prio,
                                .stateless = true};
}

static const struct decision_workload *find_w(const struct decision *d, const char *name)
{
    for (size_t i = 0; i < d->nworkloads; i++)
        if (strcmp(d->workloads[i].name, name) == 0)
            return &d->workloads[i];
    fail_msg("no workload %s in the record", name);
    return NULL;
}

static const struct decision_peer *find_p(const struct decision *d, const char *name)
{
    for (size_t i = 0; i < d->npeers; i++)
        if (strcmp(d->peers[i].name, name) == 0)
            return &d->peers[i];
    fail_msg("no peer %s in the record", name);
    return NULL;
}

static const char *last_reason(const struct decision *d)
{
    return d->nreasons ? d->reasons[d->nreasons - 1] : "";
}

struct run {
    struct script s;
    struct decision d;
    struct pl_placement out;
};

static void place(struct run *r, const char *const *names, const struct pl_workload *w, size_t nw,
                  double need)
{
    struct pl_place_ops ops = {
        .ctx = &r->s, .capacity = fake_capacity, .reserve = fake_reserve, .release = fake_release};
    struct pl_place_request req = {.peer_names = names,
                                   .npeers = r->s.npeers,
                                   .workloads = w,
                                   .nworkloads = nw,
                                   .need_kw = need};
    decision_init(&r->d);
    r->d.kind = POL_ACTION_SHED;
    r->d.status = DECISION_PLACING;
    char err[128];
    assert_int_equal(pl_place(&req, &ops, &r->d, &r->out, err, sizeof err), 0);
}

static void done(struct run *r)
{
    decision_clear(&r->d);
    pl_placement_clear(&r->out);
}

static void every_chosen_workload_is_reserved_and_recorded(void **state)
{
    (void)state;
    static const char *const names[] = {"falkenberg-1", "oslo-2"};
    struct run r = {.s = {.npeers = 2}};
    r.s.peers[0].cap = answer(100);
    r.s.peers[1].cap = answer(60);
    struct pl_workload w[] = {wl("shop", 40, 10), wl("web", 30, 20), wl("db", 50, 90)};
    place(&r, names, w, 3, 60);
    assert_int_equal(r.d.status, DECISION_PLACED);
    assert_true(fabs(r.d.placed_kw - 70) < 1e-9);
    assert_int_equal(r.out.ngrants, 2);
    const struct decision_workload *shop = find_w(&r.d, "shop");
    assert_true(shop->chosen);
    assert_string_equal(shop->to, "falkenberg-1"); /* the most spare */
    assert_non_null(shop->reservation);
    assert_true(strncmp(shop->reservation, "rsv-", 4) == 0);
    const struct decision_workload *web = find_w(&r.d, "web");
    assert_true(web->chosen);
    /* 60 kW left at falkenberg-1 after shop, 60 at oslo-2: a tie goes to
     * the first peer */
    assert_string_equal(web->to, "falkenberg-1");
    assert_false(find_w(&r.d, "db")->chosen);
    assert_null(find_w(&r.d, "db")->reservation);
    assert_true(fabs(find_p(&r.d, "falkenberg-1")->reserved_kw - 70) < 1e-9);
    assert_true(find_p(&r.d, "oslo-2")->reserved_kw == 0);
    assert_non_null(strstr(last_reason(&r.d), "placed 70 kW of 60 kW needed"));
    assert_non_null(strstr(last_reason(&r.d), "shop -> falkenberg-1"));
    assert_int_equal(r.s.peers[0].nreleased + r.s.peers[1].nreleased, 0);
    done(&r);
}

static void a_refusal_chooses_again_with_what_the_peer_has_left(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "b"};
    struct run r = {.s = {.npeers = 2}};
    /* a answered 100 but someone else took most of it before our request */
    r.s.peers[0].cap = answer(100);
    r.s.peers[0].resv[0].outcome = PL_RESV_REFUSED;
    r.s.peers[0].resv[0].spare_kw = 10;
    r.s.peers[0].nresv = 1;
    r.s.peers[1].cap = answer(50);
    struct pl_workload w[] = {wl("shop", 40, 10)};
    place(&r, names, w, 1, 40);
    assert_int_equal(r.d.status, DECISION_PLACED);
    assert_string_equal(find_w(&r.d, "shop")->to, "b");
    assert_int_equal(r.s.peers[0].asked, 1);
    assert_int_equal(r.s.peers[1].asked, 1);
    assert_true(r.out.rounds >= 2);
    assert_true(find_p(&r.d, "a")->reserved_kw == 0);
    assert_true(fabs(find_p(&r.d, "b")->reserved_kw - 40) < 1e-9);
    done(&r);
}

static void a_failing_peer_is_taken_out_with_its_reason(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "b"};
    struct run r = {.s = {.npeers = 2}};
    r.s.peers[0].cap = answer(100);
    r.s.peers[0].resv[0].outcome = PL_RESV_FAILED;
    r.s.peers[0].resv[0].problem = "unreachable: connection refused";
    r.s.peers[0].nresv = 1;
    r.s.peers[1].cap = answer(45);
    struct pl_workload w[] = {wl("shop", 40, 10)};
    place(&r, names, w, 1, 40);
    assert_int_equal(r.d.status, DECISION_PLACED);
    assert_string_equal(find_w(&r.d, "shop")->to, "b");
    assert_non_null(
        strstr(find_p(&r.d, "a")->reason, "reservation failed: unreachable: connection refused"));
    done(&r);
}

static void skipped_peers_keep_their_reasons(void **state)
{
    (void)state;
    static const char *const names[] = {"down", "garbage", "busy", "good"};
    struct run r = {.s = {.npeers = 4}};
    r.s.peers[0].cap = (struct pl_peer_answer){.spare_kw = NAN};
    snprintf(r.s.peers[0].cap.problem, PL_PROBLEM_MAX, "unreachable: connection refused");
    r.s.peers[1].cap = (struct pl_peer_answer){.spare_kw = NAN};
    snprintf(r.s.peers[1].cap.problem, PL_PROBLEM_MAX, "garbage answer: spare_kw is not a number");
    r.s.peers[2].cap =
        (struct pl_peer_answer){.answered = true, .accepting = false, .spare_kw = 500};
    r.s.peers[3].cap = answer(80);
    struct pl_workload w[] = {wl("shop", 40, 10)};
    place(&r, names, w, 1, 30);
    assert_int_equal(r.d.status, DECISION_PLACED);
    assert_string_equal(find_w(&r.d, "shop")->to, "good");
    assert_string_equal(find_p(&r.d, "down")->reason, "unreachable: connection refused");
    assert_true(isnan(find_p(&r.d, "down")->spare_kw));
    assert_false(find_p(&r.d, "down")->accepting);
    assert_string_equal(find_p(&r.d, "garbage")->reason,
                        "garbage answer: spare_kw is not a number");
    assert_non_null(strstr(find_p(&r.d, "busy")->reason, "not accepting"));
    assert_int_equal(r.s.peers[0].asked + r.s.peers[1].asked + r.s.peers[2].asked, 0);
    done(&r);
}

static void partial_cover_says_what_is_missing(void **state)
{
    (void)state;
    static const char *const names[] = {"a"};
    struct run r = {.s = {.npeers = 1}};
    r.s.peers[0].cap = answer(70);
    struct pl_workload w[] = {wl("shop", 40, 10), wl("web", 25, 10), wl("big", 90, 10)};
    place(&r, names, w, 3, 100);
    assert_int_equal(r.d.status, DECISION_PARTIAL);
    assert_true(fabs(r.d.placed_kw - 65) < 1e-9);
    assert_true(fabs(r.out.missing_kw - 35) < 1e-9);
    assert_non_null(strstr(last_reason(&r.d), "placed 65 of 100 kW needed, 35 kW missing"));
    assert_false(find_w(&r.d, "big")->chosen);
    assert_non_null(strstr(find_w(&r.d, "big")->reason, "no peer has"));
    done(&r);
}

static void no_capacity_anywhere_places_nothing(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "b"};
    struct run r = {.s = {.npeers = 2}};
    r.s.peers[0].cap = answer(0);
    r.s.peers[1].cap =
        (struct pl_peer_answer){.answered = true, .accepting = false, .spare_kw = 300};
    struct pl_workload w[] = {wl("shop", 40, 10)};
    place(&r, names, w, 1, 30);
    assert_int_equal(r.d.status, DECISION_NO_PLACEMENT);
    assert_true(r.d.placed_kw == 0);
    assert_string_equal(last_reason(&r.d), "nothing placed: no peer has capacity (2 asked)");
    assert_int_equal(r.out.ngrants, 0);
    done(&r);
}

static void pinned_and_unmovable_are_left_with_reasons(void **state)
{
    (void)state;
    static const char *const names[] = {"a"};
    struct run r = {.s = {.npeers = 1}};
    r.s.peers[0].cap = answer(500);
    struct pl_workload w[] = {wl("pinned", 40, 10), wl("db", 50, 10)};
    w[0].pinned = true;
    w[1].stateless = false;
    w[1].unmovable = "stateful, no quiesce hook and migrator.data_mover off";
    place(&r, names, w, 2, 30);
    assert_int_equal(r.d.status, DECISION_NO_PLACEMENT);
    assert_string_equal(find_w(&r.d, "pinned")->reason, "pinned");
    assert_non_null(strstr(find_w(&r.d, "db")->reason, "no quiesce hook"));
    assert_int_equal(r.s.peers[0].asked, 0);
    done(&r);
}

/* Two peers refuse in turn; what was granted before a refusal is kept
 * where the new choice keeps it, and nothing granted is left unused. */
static void grants_survive_refusals_and_none_is_left_unused(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "b", "c"};
    struct run r = {.s = {.npeers = 3}};
    r.s.peers[0].cap = answer(100);
    r.s.peers[1].cap = answer(90);
    r.s.peers[1].resv[0].outcome = PL_RESV_REFUSED;
    r.s.peers[1].resv[0].spare_kw = 0;
    r.s.peers[1].nresv = 1;
    r.s.peers[2].cap = answer(60);
    struct pl_workload w[] = {wl("w1", 80, 10), wl("w2", 50, 20), wl("w3", 40, 30)};
    place(&r, names, w, 3, 150);
    /* a takes w1 (80); b refuses; c (60) can take w2 (50) or w3 (40) */
    assert_int_equal(r.d.status, DECISION_PARTIAL);
    double held = 0;
    for (size_t i = 0; i < r.out.ngrants; i++)
        held += r.out.grants[i].kw;
    assert_true(fabs(held - r.d.placed_kw) < 1e-9);
    /* every grant not in the record was released */
    size_t recorded = 0;
    for (size_t i = 0; i < r.d.nworkloads; i++)
        recorded += r.d.workloads[i].reservation != NULL;
    int released = r.s.peers[0].nreleased + r.s.peers[1].nreleased + r.s.peers[2].nreleased;
    assert_int_equal((int)recorded + released, r.s.next_id);
    assert_true(fabs(find_p(&r.d, "a")->reserved_kw - 80) < 1e-9);
    assert_true(find_p(&r.d, "b")->reserved_kw == 0);
    done(&r);
}

/* A peer that refuses while saying it has the room is taken out, not
 * asked again and again. */
static void a_refusal_claiming_room_takes_the_peer_out(void **state)
{
    (void)state;
    static const char *const names[] = {"liar", "b"};
    struct run r = {.s = {.npeers = 2}};
    r.s.peers[0].cap = answer(1000);
    r.s.peers[0].resv[0].outcome = PL_RESV_REFUSED;
    r.s.peers[0].resv[0].spare_kw = 1000;
    r.s.peers[0].nresv = 1;
    r.s.peers[1].cap = answer(100);
    struct pl_workload w[] = {wl("w1", 40, 10), wl("w2", 40, 10)};
    place(&r, names, w, 2, 80);
    assert_int_equal(r.d.status, DECISION_PLACED);
    assert_int_equal(r.s.peers[0].asked, 1);
    assert_string_equal(find_w(&r.d, "w1")->to, "b");
    assert_string_equal(find_w(&r.d, "w2")->to, "b");
    assert_string_equal(find_p(&r.d, "liar")->reason,
                        "refused 40 kW while reporting 1000 kW spare");
    assert_true(r.out.rounds <= 2);
    done(&r);
}

/* After a failure at one peer, what the others granted meanwhile is no
 * longer believed to be spare there. */
static void a_failure_lowers_what_the_others_granted_meanwhile(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "b"};
    struct run r = {.s = {.npeers = 2}};
    r.s.peers[0].cap = answer(100);
    r.s.peers[1].cap = answer(90);
    r.s.peers[1].resv[0].outcome = PL_RESV_FAILED;
    r.s.peers[1].resv[0].problem = "unreachable: timed out";
    r.s.peers[1].nresv = 1;
    struct pl_workload w[] = {wl("w1", 60, 10), wl("w2", 60, 10)};
    place(&r, names, w, 2, 120);
    /* w1 at a (40 left there), w2 failed at b: a cannot take w2 */
    assert_int_equal(r.d.status, DECISION_PARTIAL);
    assert_int_equal(r.s.peers[0].asked, 1);
    assert_int_equal(r.s.peers[1].asked, 1);
    assert_string_equal(find_w(&r.d, "w1")->to, "a");
    assert_false(find_w(&r.d, "w2")->chosen);
    done(&r);
}

/* A group moves whole to one peer: when the peer refuses its second
 * member, the first member's grant there is released and the group goes
 * elsewhere. */
static void a_group_refused_halfway_is_released_and_moves_whole(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "b"};
    struct run r = {.s = {.npeers = 2}};
    r.s.peers[0].cap = answer(100);
    r.s.peers[0].resv[0].outcome = PL_RESV_GRANTED;
    r.s.peers[0].resv[1].outcome = PL_RESV_REFUSED;
    r.s.peers[0].resv[1].spare_kw = 0;
    r.s.peers[0].nresv = 2;
    r.s.peers[1].cap = answer(100);
    struct pl_workload w[] = {wl("g1", 40, 10), wl("g2", 40, 10)};
    w[0].group = w[1].group = "shop";
    place(&r, names, w, 2, 80);
    assert_int_equal(r.d.status, DECISION_PLACED);
    assert_string_equal(find_w(&r.d, "g1")->to, "b");
    assert_string_equal(find_w(&r.d, "g2")->to, "b");
    assert_int_equal(r.s.peers[0].nreleased, 1);
    assert_string_equal(r.s.peers[0].released[0], "rsv-1");
    assert_true(find_p(&r.d, "a")->reserved_kw == 0);
    assert_true(fabs(find_p(&r.d, "b")->reserved_kw - 80) < 1e-9);
    assert_int_equal(r.out.ngrants, 2);
    done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_chosen_workload_is_reserved_and_recorded),
        cmocka_unit_test(a_refusal_chooses_again_with_what_the_peer_has_left),
        cmocka_unit_test(a_failing_peer_is_taken_out_with_its_reason),
        cmocka_unit_test(skipped_peers_keep_their_reasons),
        cmocka_unit_test(partial_cover_says_what_is_missing),
        cmocka_unit_test(no_capacity_anywhere_places_nothing),
        cmocka_unit_test(pinned_and_unmovable_are_left_with_reasons),
        cmocka_unit_test(grants_survive_refusals_and_none_is_left_unused),
        cmocka_unit_test(a_refusal_claiming_room_takes_the_peer_out),
        cmocka_unit_test(a_failure_lowers_what_the_others_granted_meanwhile),
        cmocka_unit_test(a_group_refused_halfway_is_released_and_moves_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
