/*
 * Unit tests of pol_engine with injected time: the ok/pending/firing
 * machine (for, hysteresis, noise, unknown inputs, cooldown), schedule
 * windows across midnight and across DST changes in Europe/Stockholm, the
 * time-zone reader against glibc, compile errors with config paths, and
 * carrying state over a reload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "policies/pol_engine.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

/* 2026-01-05T00:00:00Z, a Monday. */
#define MON_2026_01_05 1767571200000LL

/* ---- a fake data source with settable values ------------------------- */

struct var {
    char name[32];
    double value;
    int good;
};

struct rig {
    struct var vars[8];
    size_t nvars;
    struct pol_env env;
    struct pol_local local;
    struct pol_tz *tz; /* when set, env.local follows now */
    struct pol_engine *eng;
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

static void set_temp(struct rig *r, double v)
{
    set_var(r, "temp", v, 1);
}

static void set_temp_unknown(struct rig *r)
{
    set_var(r, "temp", 0, 0);
}

static void rig_init(struct rig *r, const struct cfg_policy *pols, size_t n, const char *tz)
{
    memset(r, 0, sizeof *r);
    r->env.ctx = r;
    r->env.value = rig_value;
    char err[256];
    if (tz && pol_tz_load(tz, &r->tz, err, sizeof err) < 0)
        fail_msg("%s", err);
    if (pol_engine_new(&r->eng, pols, n, err, sizeof err) < 0)
        fail_msg("%s", err);
}

static void rig_free(struct rig *r)
{
    pol_engine_free(r->eng);
    pol_tz_free(r->tz);
}

static struct pol_tick tick_policy(struct rig *r, size_t i, int64_t now_ms)
{
    struct pol_tick t;
    r->env.now_ms = now_ms;
    if (r->tz) {
        pol_tz_local(r->tz, now_ms, &r->local);
        r->env.local = &r->local;
    }
    assert_int_equal(pol_engine_tick(r->eng, i, &r->env, &t), 0);
    return t;
}

static struct pol_tick tick_at(struct rig *r, int64_t now_ms)
{
    return tick_policy(r, 0, now_ms);
}

/* A policy "temp > 30" with the given timings; clear defaults to !(when). */
static struct cfg_policy temp_policy(int64_t for_ms, int64_t clear_for_ms, int64_t cooldown_ms)
{
    struct cfg_policy p = {
        .name = "hot",
        .when = "temp > 30",
        .for_ms = for_ms,
        .clear_for_ms = clear_for_ms,
        .cooldown_ms = cooldown_ms,
    };
    return p;
}

/* ---- the state machine ------------------------------------------------- */

static void fires_only_after_when_has_held_for_the_for_duration(void **unused)
{
    (void)unused;
    struct cfg_policy p = temp_policy(2 * MIN, 0, 0);
    struct rig r;
    rig_init(&r, &p, 1, NULL);
    int64_t t0 = MON_2026_01_05;
    set_temp(&r, 25);
    struct pol_tick t = tick_at(&r, t0);
    assert_int_equal(t.state, POL_STATE_OK);
    assert_int_equal(t.when, POL_FALSE);

    set_temp(&r, 35);
    t = tick_at(&r, t0 + 10 * SEC);
    assert_int_equal(t.state, POL_STATE_PENDING);
    assert_true(t.changed);
    assert_string_equal(t.why, "when true");
    assert_int_equal(t.decide, POL_DECIDE_NONE);
    for (int64_t s = 20; s < 130; s += 10) {
        t = tick_at(&r, t0 + s * SEC);
        assert_int_equal(t.state, POL_STATE_PENDING);
        assert_false(t.changed);
    }
    t = tick_at(&r, t0 + 130 * SEC); /* 120 s after the first true tick */
    assert_int_equal(t.state, POL_STATE_FIRING);
    assert_int_equal(t.prev, POL_STATE_PENDING);
    assert_string_equal(t.why, "for held");
    assert_int_equal(t.decide, POL_DECIDE_FIRED);

    struct pol_status st;
    pol_engine_status(r.eng, 0, &st);
    assert_int_equal(st.state, POL_STATE_FIRING);
    assert_int_equal(st.since_ms, t0 + 130 * SEC);
    assert_int_equal(st.decisions, 1);
    rig_free(&r);
}

/* The agent ticks at pol_engine_next_due rather than waiting for its
 * periodic tick: a pending `for`, a firing policy's `clear_for` and a
 * cooldown each give the exact moment they end, and ticking at that moment
 * (not a millisecond later) completes them. Nothing is due while the
 * deciding expression is false or unknown. */
static void next_due_is_when_a_for_clear_for_or_cooldown_ends(void **unused)
{
    (void)unused;
    struct cfg_policy pols[2] = { temp_policy(90 * SEC, 60 * SEC, 5 * MIN),
                                  temp_policy(0, 0, 0) };
    pols[1].name = "other";
    pols[1].when = "load > 100";
    struct rig r;
    rig_init(&r, pols, 2, NULL);
    int64_t t0 = MON_2026_01_05;
    set_temp(&r, 25);
    set_var(&r, "load", 50, 1);
    tick_policy(&r, 0, t0);
    tick_policy(&r, 1, t0);
    assert_int_equal(pol_engine_next_due(r.eng), 0); /* all ok: nothing by time alone */

    /* Pending at t0+3 s (a sample came then): due when `for` is out. */
    set_temp(&r, 35);
    assert_int_equal(tick_policy(&r, 0, t0 + 3 * SEC).state, POL_STATE_PENDING);
    assert_int_equal(pol_engine_next_due(r.eng), t0 + 93 * SEC);
    /* A tick in between (another sample) does not move it. */
    assert_int_equal(tick_policy(&r, 0, t0 + 40 * SEC).state, POL_STATE_PENDING);
    assert_int_equal(pol_engine_next_due(r.eng), t0 + 93 * SEC);
    /* Unknown: the wait is frozen, nothing is due until data comes. */
    set_temp_unknown(&r);
    tick_policy(&r, 0, t0 + 50 * SEC);
    assert_int_equal(pol_engine_next_due(r.eng), 0);
    /* Known and true again at t0+60 s: the 37 s held (3 -> 40 s) count,
     * the unknown stretch does not; 53 s are left. */
    set_temp(&r, 35);
    tick_policy(&r, 0, t0 + 60 * SEC);
    assert_int_equal(pol_engine_next_due(r.eng), t0 + 113 * SEC);
    struct pol_tick t = tick_policy(&r, 0, t0 + 113 * SEC);
    assert_int_equal(t.state, POL_STATE_FIRING);
    assert_int_equal(t.decide, POL_DECIDE_FIRED);

    /* Firing: the cooldown ends 5 min after the decision. */
    assert_int_equal(pol_engine_next_due(r.eng), t0 + 113 * SEC + 5 * MIN);
    /* Clearing from t0+120 s: clear_for ends first, at t0+180 s. */
    set_temp(&r, 20);
    tick_policy(&r, 0, t0 + 120 * SEC);
    assert_int_equal(pol_engine_next_due(r.eng), t0 + 180 * SEC);
    /* The earliest over all policies: the other one pending sooner. */
    pols[1].for_ms = 0;
    set_var(&r, "load", 150, 1);
    assert_int_equal(tick_policy(&r, 1, t0 + 130 * SEC).state, POL_STATE_FIRING);
    assert_int_equal(pol_engine_next_due(r.eng), t0 + 180 * SEC); /* cooldown 0: none */
    t = tick_policy(&r, 0, t0 + 180 * SEC);
    assert_int_equal(t.state, POL_STATE_OK);
    assert_string_equal(t.why, "clear held");
    assert_int_equal(pol_engine_next_due(r.eng), 0);
    rig_free(&r);
}

static void noise_around_the_threshold_never_fires(void **unused)
{
    (void)unused;
    struct cfg_policy p = temp_policy(2 * MIN, 0, 0);
    struct rig r;
    rig_init(&r, &p, 1, NULL);
    int64_t t0 = MON_2026_01_05;
    /* 110 s above, one 10 s tick below, for an hour: never 120 s in a row. */
    int pendings = 0;
    for (int64_t s = 0; s < 3600; s += 10) {
        set_temp(&r, (s % 120) == 110 ? 29.9 : 30.1);
        struct pol_tick t = tick_at(&r, t0 + s * SEC);
        assert_int_not_equal(t.state, POL_STATE_FIRING);
        assert_int_equal(t.decide, POL_DECIDE_NONE);
        if (t.changed && t.state == POL_STATE_PENDING)
            pendings++;
    }
    assert_int_equal(pendings, 30); /* it did start waiting each time */
    rig_free(&r);
}

static void for_zero_fires_on_the_first_true_tick(void **unused)
{
    (void)unused;
    struct cfg_policy p = temp_policy(0, 0, 0);
    struct rig r;
    rig_init(&r, &p, 1, NULL);
    set_temp(&r, 31);
    struct pol_tick t = tick_at(&r, MON_2026_01_05);
    assert_int_equal(t.prev, POL_STATE_OK);
    assert_int_equal(t.state, POL_STATE_FIRING);
    assert_int_equal(t.decide, POL_DECIDE_FIRED);
    assert_string_equal(t.why, "when true");
    /* clear_for 0 and the default clear: the first false tick clears. */
    set_temp(&r, 30);
    t = tick_at(&r, MON_2026_01_05 + 10 * SEC);
    assert_int_equal(t.state, POL_STATE_OK);
    assert_string_equal(t.why, "clear held");
    assert_int_equal(t.clear, POL_TRUE);
    rig_free(&r);
}

static void hysteresis_keeps_firing_until_clear_holds_for_clear_for(void **unused)
{
    (void)unused;
    struct cfg_policy p = temp_policy(0, 5 * MIN, 0);
    p.clear = "temp < 25";
    struct rig r;
    rig_init(&r, &p, 1, NULL);
    int64_t t = MON_2026_01_05;
    set_temp(&r, 35);
    assert_int_equal(tick_at(&r, t).state, POL_STATE_FIRING);

    /* In the band between clear and when: still firing for an hour. */
    set_temp(&r, 28);
    for (int i = 0; i < 360; i++) {
        t += 10 * SEC;
        struct pol_tick k = tick_at(&r, t);
        assert_int_equal(k.state, POL_STATE_FIRING);
        assert_int_equal(k.when, POL_FALSE);
        assert_int_equal(k.clear, POL_FALSE);
    }
    /* Clear for 4 minutes, then back in the band: the clear wait restarts. */
    set_temp(&r, 24);
    for (int i = 0; i < 24; i++) {
        t += 10 * SEC;
        assert_int_equal(tick_at(&r, t).state, POL_STATE_FIRING);
    }
    set_temp(&r, 26);
    t += 10 * SEC;
    assert_int_equal(tick_at(&r, t).state, POL_STATE_FIRING);
    /* Clear for exactly 5 minutes: ok on the tick that completes it. */
    set_temp(&r, 24);
    int64_t clear_start = t + 10 * SEC;
    for (t = clear_start; t < clear_start + 5 * MIN; t += 10 * SEC)
        assert_int_equal(tick_at(&r, t).state, POL_STATE_FIRING);
    struct pol_tick k = tick_at(&r, clear_start + 5 * MIN);
    assert_int_equal(k.state, POL_STATE_OK);
    assert_string_equal(k.why, "clear held");
    rig_free(&r);
}

static void unknown_when_holds_ok_and_reports_unknown(void **unused)
{
    (void)unused;
    struct cfg_policy p = temp_policy(0, 0, 0);
    struct rig r;
    rig_init(&r, &p, 1, NULL);
    set_temp_unknown(&r);
    for (int i = 0; i < 10; i++) {
        struct pol_tick t = tick_at(&r, MON_2026_01_05 + i * 10 * SEC);
        assert_int_equal(t.state, POL_STATE_OK);
        assert_true(t.unknown);
        assert_int_equal(t.when, POL_UNKNOWN);
    }
    struct pol_status st;
    pol_engine_status(r.eng, 0, &st);
    assert_true(st.unknown);
    set_temp(&r, 20);
    assert_false(tick_at(&r, MON_2026_01_05 + 200 * SEC).unknown);
    rig_free(&r);
}

static void unknown_while_pending_neither_resets_nor_advances_the_wait(void **unused)
{
    (void)unused;
    struct cfg_policy p = temp_policy(2 * MIN, 0, 0);
    struct rig r;
    rig_init(&r, &p, 1, NULL);
    int64_t t0 = MON_2026_01_05;
    set_temp(&r, 35);
    for (int64_t s = 0; s <= 60; s += 10) /* 60 s held */
        assert_int_equal(tick_at(&r, t0 + s * SEC).state, POL_STATE_PENDING);
    set_temp_unknown(&r);
    for (int64_t s = 70; s <= 360; s += 10) { /* 5 minutes of no data */
        struct pol_tick t = tick_at(&r, t0 + s * SEC);
        assert_int_equal(t.state, POL_STATE_PENDING);
        assert_true(t.unknown);
    }
    set_temp(&r, 35);
    /* The gap is not counted: 60 s more of true are needed. */
    for (int64_t s = 370; s < 430; s += 10)
        assert_int_equal(tick_at(&r, t0 + s * SEC).state, POL_STATE_PENDING);
    struct pol_tick t = tick_at(&r, t0 + 430 * SEC);
    assert_int_equal(t.state, POL_STATE_FIRING);
    assert_int_equal(t.decide, POL_DECIDE_FIRED);
    rig_free(&r);
}

static void unknown_while_firing_does_not_clear(void **unused)
{
    (void)unused;
    struct cfg_policy p = temp_policy(0, 0, 15 * MIN);
    struct rig r;
    rig_init(&r, &p, 1, NULL);
    int64_t t0 = MON_2026_01_05;
    set_temp(&r, 35);
    assert_int_equal(tick_at(&r, t0).decide, POL_DECIDE_FIRED);
    set_temp_unknown(&r);
    int redecisions = 0;
    for (int64_t t = t0 + 10 * SEC; t <= t0 + HOUR; t += 10 * SEC) {
        struct pol_tick k = tick_at(&r, t);
        assert_int_equal(k.state, POL_STATE_FIRING);
        assert_true(k.unknown);
        assert_int_equal(k.clear, POL_UNKNOWN);
        if (k.decide == POL_DECIDE_COOLDOWN) {
            assert_true(k.unknown); /* the decision layer records "inputs unknown" */
            redecisions++;
        }
    }
    assert_int_equal(redecisions, 4);
    set_temp(&r, 20);
    assert_int_equal(tick_at(&r, t0 + HOUR + 10 * SEC).state, POL_STATE_OK);
    rig_free(&r);
}

static void explicit_clear_does_not_clear_while_when_is_unknown(void **unused)
{
    (void)unused;
    struct cfg_policy p = temp_policy(0, 0, 0);
    p.clear = "fan_ok == 1";
    struct rig r;
    rig_init(&r, &p, 1, NULL);
    set_temp(&r, 35);
    set_var(&r, "fan_ok", 0, 1);
    assert_int_equal(tick_at(&r, MON_2026_01_05).state, POL_STATE_FIRING);
    set_temp_unknown(&r);
    set_var(&r, "fan_ok", 1, 1);
    struct pol_tick t = tick_at(&r, MON_2026_01_05 + 10 * SEC);
    assert_int_equal(t.state, POL_STATE_FIRING);
    assert_true(t.unknown);
    /* and an unknown clear holds too */
    set_temp(&r, 20);
    set_var(&r, "fan_ok", 1, 0);
    t = tick_at(&r, MON_2026_01_05 + 20 * SEC);
    assert_int_equal(t.state, POL_STATE_FIRING);
    assert_true(t.unknown);
    set_var(&r, "fan_ok", 1, 1);
    assert_int_equal(tick_at(&r, MON_2026_01_05 + 30 * SEC).state, POL_STATE_OK);
    rig_free(&r);
}

static void cooldown_yields_a_decision_each_period_while_firing(void **unused)
{
    (void)unused;
    struct cfg_policy p = temp_policy(0, 0, 15 * MIN);
    struct rig r;
    rig_init(&r, &p, 1, NULL);
    int64_t t0 = MON_2026_01_05;
    set_temp(&r, 35);
    int64_t when[8];
    enum pol_decide kind[8];
    size_t n = 0;
    for (int64_t t = t0; t <= t0 + HOUR; t += 10 * SEC) {
        struct pol_tick k = tick_at(&r, t);
        if (k.decide != POL_DECIDE_NONE) {
            assert_true(n < 8);
            when[n] = t - t0;
            kind[n++] = k.decide;
        }
    }
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(when[i], (int64_t)i * 15 * MIN);
        assert_int_equal(kind[i], i == 0 ? POL_DECIDE_FIRED : POL_DECIDE_COOLDOWN);
    }
    struct pol_status st;
    pol_engine_status(r.eng, 0, &st);
    assert_int_equal(st.decisions, 5);
    assert_int_equal(st.last_decision_ms, t0 + HOUR);
    rig_free(&r);
}

static void cooldown_zero_yields_only_the_entering_decision(void **unused)
{
    (void)unused;
    struct cfg_policy p = temp_policy(0, 0, 0);
    struct rig r;
    rig_init(&r, &p, 1, NULL);
    set_temp(&r, 35);
    int decisions = 0;
    for (int64_t t = 0; t <= DAY; t += MIN)
        decisions += tick_at(&r, MON_2026_01_05 + t).decide != POL_DECIDE_NONE;
    assert_int_equal(decisions, 1);
    rig_free(&r);
}

static void refiring_after_clear_yields_a_new_fired_decision(void **unused)
{
    (void)unused;
    struct cfg_policy p = temp_policy(0, 0, HOUR);
    struct rig r;
    rig_init(&r, &p, 1, NULL);
    int64_t t0 = MON_2026_01_05;
    set_temp(&r, 35);
    assert_int_equal(tick_at(&r, t0).decide, POL_DECIDE_FIRED);
    set_temp(&r, 20);
    assert_int_equal(tick_at(&r, t0 + MIN).state, POL_STATE_OK);
    set_temp(&r, 35);
    /* Well within the cooldown of the first decision: a new firing is a
     * new event, not a re-decision. */
    struct pol_tick t = tick_at(&r, t0 + 2 * MIN);
    assert_int_equal(t.decide, POL_DECIDE_FIRED);
    rig_free(&r);
}

static void a_tick_earlier_than_the_previous_adds_no_time(void **unused)
{
    (void)unused;
    struct cfg_policy p = temp_policy(60 * SEC, 0, 0);
    struct rig r;
    rig_init(&r, &p, 1, NULL);
    int64_t t0 = MON_2026_01_05;
    set_temp(&r, 35);
    assert_int_equal(tick_at(&r, t0).state, POL_STATE_PENDING);
    assert_int_equal(tick_at(&r, t0 + 30 * SEC).state, POL_STATE_PENDING);
    assert_int_equal(tick_at(&r, t0 + 10 * SEC).state, POL_STATE_PENDING); /* clock stepped back */
    assert_int_equal(tick_at(&r, t0 + 35 * SEC).state, POL_STATE_PENDING); /* 30 + 0 + 25 */
    assert_int_equal(tick_at(&r, t0 + 45 * SEC).state, POL_STATE_FIRING);  /* + 10 */
    rig_free(&r);
}

/* ---- schedules ---------------------------------------------------------- */

struct window_case {
    int start, end;
    unsigned days;
    int weekday, hour, minute;
    bool open;
};

static void windows_across_midnight_belong_to_the_day_they_start(void **unused)
{
    (void)unused;
#define HM(h, m) ((h)*60 + (m))
    static const struct window_case cases[] = {
        /* 01:00-05:00 every day */
        {HM(1, 0), HM(5, 0), 0, 0, 0, 59, false},
        {HM(1, 0), HM(5, 0), 0, 0, 1, 0, true},
        {HM(1, 0), HM(5, 0), 0, 3, 4, 59, true},
        {HM(1, 0), HM(5, 0), 0, 3, 5, 0, false},
        /* 22:00-02:00 on Mondays (bit 0): Monday evening and Tuesday night */
        {HM(22, 0), HM(2, 0), 1, 0, 21, 59, false},
        {HM(22, 0), HM(2, 0), 1, 0, 22, 0, true},
        {HM(22, 0), HM(2, 0), 1, 0, 23, 59, true},
        {HM(22, 0), HM(2, 0), 1, 1, 0, 0, true},
        {HM(22, 0), HM(2, 0), 1, 1, 1, 59, true},
        {HM(22, 0), HM(2, 0), 1, 1, 2, 0, false},
        {HM(22, 0), HM(2, 0), 1, 1, 22, 0, false},     /* Tuesday evening: not listed */
        {HM(22, 0), HM(2, 0), 1, 0, 1, 0, false},      /* Monday night: Sunday's window */
        {HM(22, 0), HM(2, 0), 1u << 6, 0, 1, 0, true}, /* ...open when Sunday is listed */
        /* Saturday and Sunday, all day */
        {0, 1440, (1u << 5) | (1u << 6), 4, 12, 0, false},
        {0, 1440, (1u << 5) | (1u << 6), 5, 0, 0, true},
        {0, 1440, (1u << 5) | (1u << 6), 6, 23, 59, true},
        {HM(8, 0), HM(8, 0), 1u << 2, 2, 3, 0, true}, /* start == end: the whole day */
        {HM(8, 0), HM(8, 0), 1u << 2, 3, 3, 0, false},
        /* until midnight */
        {HM(18, 0), 1440, 0, 2, 23, 59, true},
        {HM(18, 0), 1440, 0, 3, 0, 0, false},
    };
#undef HM
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct window_case *c = &cases[i];
        struct pol_local l = {.weekday = c->weekday, .hour = c->hour, .minute = c->minute};
        if (pol_window_open(c->start, c->end, c->days, &l) != c->open)
            fail_msg("case %zu: window %d-%d days %#x at day %d %02d:%02d should be %s", i,
                     c->start, c->end, c->days, c->weekday, c->hour, c->minute,
                     c->open ? "open" : "closed");
    }
}

static struct cfg_policy scheduled(const char *when, int start, int end, unsigned days,
                                   int64_t for_ms)
{
    struct cfg_policy p = {
        .name = "night",
        .when = (char *)when,
        .for_ms = for_ms,
        .has_schedule = true,
        .schedule = {start, end, days},
    };
    return p;
}

static void schedule_across_midnight_fires_only_inside_the_window(void **unused)
{
    (void)unused;
    struct cfg_policy p = scheduled("1", 22 * 60, 2 * 60, 1 /* mon */, 0);
    struct rig r;
    rig_init(&r, &p, 1, "UTC");
    /* From Sunday 20:00 to Wednesday 04:00, every minute. */
    int64_t start = MON_2026_01_05 - 4 * HOUR, end = MON_2026_01_05 + 2 * DAY + 4 * HOUR;
    int64_t fired_at = -1, closed_at = -1, open_minutes = 0;
    for (int64_t t = start; t <= end; t += MIN) {
        struct pol_tick k = tick_at(&r, t);
        open_minutes += k.in_window;
        if (k.decide == POL_DECIDE_FIRED) {
            assert_int_equal(fired_at, -1);
            fired_at = t;
        }
        if (k.changed && k.state == POL_STATE_OK) {
            assert_string_equal(k.why, "window closed");
            closed_at = t;
        }
        if (!k.in_window)
            assert_int_equal(k.state, POL_STATE_OK);
    }
    assert_int_equal(fired_at, MON_2026_01_05 + 22 * HOUR);
    assert_int_equal(closed_at, MON_2026_01_05 + DAY + 2 * HOUR);
    assert_int_equal(open_minutes, 4 * 60);
    rig_free(&r);
}

static void window_close_resets_pending_and_firing_and_the_next_window_starts_afresh(void **unused)
{
    (void)unused;
    struct cfg_policy pols[2] = {
        scheduled("temp > 30", 60, 5 * 60, 0, 10 * MIN),
        scheduled("temp > 30", 60, 5 * 60, 0, 0),
    };
    pols[1].name = "night-now";
    struct rig r;
    rig_init(&r, pols, 2, "UTC");
    int64_t day = MON_2026_01_05;
    set_temp(&r, 20);
    tick_policy(&r, 0, day + HOUR);
    tick_policy(&r, 1, day + HOUR);
    set_temp(&r, 35);
    /* policy 0 becomes pending at 04:55 and is 5 min short at 05:00 */
    assert_int_equal(tick_policy(&r, 0, day + 4 * HOUR + 55 * MIN).state, POL_STATE_PENDING);
    assert_int_equal(tick_policy(&r, 1, day + 4 * HOUR + 55 * MIN).decide, POL_DECIDE_FIRED);
    for (size_t i = 0; i < 2; i++) {
        struct pol_tick k = tick_policy(&r, i, day + 5 * HOUR);
        assert_false(k.in_window);
        assert_int_equal(k.state, POL_STATE_OK);
        assert_true(k.changed);
        assert_string_equal(k.why, "window closed");
        assert_int_equal(k.decide, POL_DECIDE_NONE);
        assert_int_equal(k.when, POL_UNKNOWN); /* not evaluated outside */
        assert_false(k.unknown);
    }
    /* All day outside the window with when true: nothing happens. */
    for (int64_t t = day + 5 * HOUR; t < day + DAY + HOUR; t += MIN)
        for (size_t i = 0; i < 2; i++)
            assert_int_equal(tick_policy(&r, i, t).state, POL_STATE_OK);
    /* Next night: pending waits its full `for` again, firing decides again. */
    struct pol_tick k = tick_policy(&r, 0, day + DAY + HOUR);
    assert_int_equal(k.state, POL_STATE_PENDING);
    assert_int_equal(tick_policy(&r, 1, day + DAY + HOUR).decide, POL_DECIDE_FIRED);
    assert_int_equal(tick_policy(&r, 0, day + DAY + HOUR + 9 * MIN).state, POL_STATE_PENDING);
    k = tick_policy(&r, 0, day + DAY + HOUR + 10 * MIN);
    assert_int_equal(k.decide, POL_DECIDE_FIRED);
    rig_free(&r);
}

static void a_schedule_without_local_time_counts_as_closed(void **unused)
{
    (void)unused;
    struct cfg_policy p = scheduled("1", 0, 1440, 0, 0);
    struct rig r;
    rig_init(&r, &p, 1, NULL);
    struct pol_tick k = tick_at(&r, MON_2026_01_05);
    assert_false(k.in_window);
    assert_int_equal(k.state, POL_STATE_OK);
    rig_free(&r);
}

/* ---- site time and DST -------------------------------------------------- */

static bool have_zone(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
    return access(path, R_OK) == 0;
}

struct local_case {
    const char *utc; /* RFC 3339 */
    int year, month, day, hour, minute, second, weekday, offset;
    bool dst;
};

static int64_t parse_utc(const char *s)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, se;
    assert_int_equal(sscanf(s, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &se), 6);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    return (int64_t)timegm(&tm) * 1000;
}

static void check_local_cases(const char *tz, const struct local_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct local_case *c = &cases[i];
        struct pol_local l;
        assert_int_equal(pol_local_time(parse_utc(c->utc), tz, &l), 0);
        if (l.year != c->year || l.month != c->month || l.day != c->day || l.hour != c->hour ||
            l.minute != c->minute || l.second != c->second || l.weekday != c->weekday ||
            l.utc_offset_s != c->offset || l.is_dst != c->dst)
            fail_msg("%s in %s: got %04d-%02d-%02d %02d:%02d:%02d wd %d off %d dst %d", c->utc, tz,
                     l.year, l.month, l.day, l.hour, l.minute, l.second, l.weekday, l.utc_offset_s,
                     l.is_dst);
    }
}

static const struct local_case stockholm_cases[] = {
    /* spring forward 2025-03-30: 02:00 CET becomes 03:00 CEST */
    {"2025-03-30T00:59:59", 2025, 3, 30, 1, 59, 59, 6, 3600, false},
    {"2025-03-30T01:00:00", 2025, 3, 30, 3, 0, 0, 6, 7200, true},
    /* fall back 2025-10-26: 03:00 CEST becomes 02:00 CET */
    {"2025-10-26T00:59:59", 2025, 10, 26, 2, 59, 59, 6, 7200, true},
    {"2025-10-26T01:00:00", 2025, 10, 26, 2, 0, 0, 6, 3600, false},
    /* midnight rolls the date and weekday */
    {"2025-12-31T22:59:59", 2025, 12, 31, 23, 59, 59, 2, 3600, false},
    {"2025-12-31T23:00:00", 2026, 1, 1, 0, 0, 0, 3, 3600, false},
    /* past the last transition in the file: the footer rule applies */
    {"2040-07-01T12:00:00", 2040, 7, 1, 14, 0, 0, 6, 7200, true},
    {"2099-03-29T00:59:59", 2099, 3, 29, 1, 59, 59, 6, 3600, false},
    {"2099-03-29T01:00:00", 2099, 3, 29, 3, 0, 0, 6, 7200, true},
    /* before 1970 */
    {"1969-12-31T23:30:00", 1970, 1, 1, 0, 30, 0, 3, 3600, false},
};

static void stockholm_local_time_follows_dst_changes(void **unused)
{
    (void)unused;
    if (!have_zone("Europe/Stockholm"))
        skip();
    check_local_cases("Europe/Stockholm", stockholm_cases,
                      sizeof stockholm_cases / sizeof stockholm_cases[0]);
}

static void a_posix_rule_gives_the_same_local_time_as_the_zone_file(void **unused)
{
    (void)unused;
    /* These run without tzdata. */
    check_local_cases("CET-1CEST,M3.5.0,M10.5.0/3", stockholm_cases,
                      sizeof stockholm_cases / sizeof stockholm_cases[0]);
    static const struct local_case others[] = {
        {"2026-01-05T12:00:00", 2026, 1, 5, 12, 0, 0, 0, 0, false},
    };
    check_local_cases("UTC", others, 1);
    static const struct local_case kolkata[] = {
        {"2026-01-05T20:00:00", 2026, 1, 6, 1, 30, 0, 1, 19800, false},
    };
    check_local_cases("<+0530>-5:30", kolkata, 1);
    /* Southern hemisphere: DST spans the new year. */
    static const struct local_case sydney[] = {
        {"2026-01-05T00:00:00", 2026, 1, 5, 11, 0, 0, 0, 39600, true},
        {"2026-07-01T00:00:00", 2026, 7, 1, 10, 0, 0, 2, 36000, false},
    };
    check_local_cases("AEST-10AEDT,M10.1.0,M4.1.0/3", sydney, 2);
}

static void zone_names_that_are_neither_files_nor_rules_are_refused(void **unused)
{
    (void)unused;
    char err[256];
    struct pol_tz *tz = NULL;
    assert_int_equal(pol_tz_load("Mars/Olympus_Mons", &tz, err, sizeof err), -1);
    assert_string_equal(err, "unknown time zone 'Mars/Olympus_Mons' (no zoneinfo file of that "
                             "name, nor a POSIX TZ rule)");
    assert_int_equal(pol_tz_load("../../etc/passwd", &tz, err, sizeof err), -1);
    assert_int_equal(pol_tz_load("", &tz, err, sizeof err), -1);
    assert_int_equal(pol_tz_load("CET-1CEST,M3.5.0", &tz, err, sizeof err), -1);
    assert_int_equal(pol_tz_load("CET-1CEST,M13.5.0,M10.5.0", &tz, err, sizeof err), -1);
    struct pol_local l;
    assert_int_equal(pol_local_time(0, "Nowhere/Land", &l), -1);
}

static void tzif_bytes_are_checked(void **unused)
{
    (void)unused;
    /* A version 1 file: one transition at t = 1000 s from +0 to +3600 dst. */
    unsigned char buf[64 + 44] = "TZif";
    buf[4] = 0;
    buf[35] = 1; /* timecnt */
    buf[39] = 2; /* typecnt */
    buf[43] = 4; /* charcnt */
    unsigned char *d = buf + 44;
    d[3] = 0xe8, d[2] = 0x03; /* 1000 */
    d[4] = 1;                 /* transition -> type 1 */
    /* type 0: +0 std; type 1: +3600 dst */
    d[5 + 6 + 2] = 0x0e, d[5 + 6 + 3] = 0x10, d[5 + 6 + 4] = 1;
    size_t len = 44 + 4 + 1 + 12 + 4;
    struct pol_tz *tz;
    char err[128];
    assert_int_equal(pol_tz_from_tzif(buf, len, &tz, err, sizeof err), 0);
    struct pol_local l;
    pol_tz_local(tz, 999 * SEC, &l);
    assert_int_equal(l.utc_offset_s, 0);
    pol_tz_local(tz, 1000 * SEC, &l);
    assert_int_equal(l.utc_offset_s, 3600);
    assert_true(l.is_dst);
    pol_tz_free(tz);

    assert_int_equal(pol_tz_from_tzif(buf, len - 1, &tz, err, sizeof err), -1);
    assert_string_equal(err, "truncated TZif file");
    d[4] = 2; /* a type that does not exist */
    assert_int_equal(pol_tz_from_tzif(buf, len, &tz, err, sizeof err), -1);
    assert_string_equal(err, "TZif transition names a missing type");
    assert_int_equal(pol_tz_from_tzif((const unsigned char *)"TZjf", 4, &tz, err, sizeof err), -1);
    assert_string_equal(err, "not a TZif file");
}

/* The zone reader must agree with glibc wherever both apply. TZ is set
 * only in this single-threaded test. */
static void zone_files_agree_with_glibc_localtime(void **unused)
{
    (void)unused;
    static const char *const zones[] = {
        "Europe/Stockholm",  "America/New_York",
        "Australia/Sydney",  "Asia/Kolkata",
        "America/St_Johns",  "Pacific/Chatham",
        "Europe/Dublin",     "America/Sao_Paulo",
        "Africa/Casablanca", "UTC",
    };
    size_t checked = 0;
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        if (!have_zone(zones[z]))
            continue;
        struct pol_tz *tz;
        char err[256];
        if (pol_tz_load(zones[z], &tz, err, sizeof err) < 0)
            fail_msg("%s", err);
        setenv("TZ", zones[z], 1);
        tzset();
        /* 1950 to 2070 in steps of 7 h 13 min 17 s: every hour of day and
         * weekday, on both sides of every transition era and the footer. */
        for (int64_t s = -631152000LL; s < 3155760000LL; s += 7 * 3600 + 13 * 60 + 17) {
            time_t tt = (time_t)s;
            struct tm tm;
            localtime_r(&tt, &tm);
            struct pol_local l;
            pol_tz_local(tz, s * 1000, &l);
            if (l.year != tm.tm_year + 1900 || l.month != tm.tm_mon + 1 || l.day != tm.tm_mday ||
                l.hour != tm.tm_hour || l.minute != tm.tm_min || l.second != tm.tm_sec ||
                l.weekday != (tm.tm_wday + 6) % 7 || l.utc_offset_s != tm.tm_gmtoff ||
                l.is_dst != (tm.tm_isdst > 0))
                fail_msg("%s at %lld: got %04d-%02d-%02d %02d:%02d off %d dst %d, glibc "
                         "%04d-%02d-%02d %02d:%02d off %ld dst %d",
                         zones[z], (long long)s, l.year, l.month, l.day, l.hour, l.minute,
                         l.utc_offset_s, l.is_dst, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min, tm.tm_gmtoff, tm.tm_isdst);
            checked++;
        }
        pol_tz_free(tz);
    }
    unsetenv("TZ");
    tzset();
    if (!checked)
        skip();
}

/* Minutes a 02:00-03:00 window is open on one local day of Stockholm. */
static int window_minutes_on(int64_t from_utc_ms, int64_t to_utc_ms, int *decisions)
{
    struct cfg_policy p = scheduled("1", 2 * 60, 3 * 60, 0, 0);
    struct rig r;
    rig_init(&r, &p, 1, "Europe/Stockholm");
    int open = 0;
    *decisions = 0;
    for (int64_t t = from_utc_ms; t < to_utc_ms; t += MIN) {
        struct pol_tick k = tick_at(&r, t);
        open += k.in_window;
        *decisions += k.decide != POL_DECIDE_NONE;
    }
    rig_free(&r);
    return open;
}

static void
a_window_in_the_skipped_hour_never_opens_and_in_the_repeated_hour_opens_twice(void **unused)
{
    (void)unused;
    if (!have_zone("Europe/Stockholm"))
        skip();
    int decisions;
    /* An ordinary day: 60 minutes, one decision. */
    assert_int_equal(window_minutes_on(parse_utc("2025-06-14T22:00:00"),
                                       parse_utc("2025-06-15T22:00:00"), &decisions),
                     60);
    assert_int_equal(decisions, 1);
    /* Spring forward: local 02:00-03:00 does not exist. */
    assert_int_equal(window_minutes_on(parse_utc("2025-03-29T23:00:00"),
                                       parse_utc("2025-03-30T22:00:00"), &decisions),
                     0);
    assert_int_equal(decisions, 0);
    /* Fall back: local 02:00-03:00 happens twice, back to back. */
    assert_int_equal(window_minutes_on(parse_utc("2025-10-25T22:00:00"),
                                       parse_utc("2025-10-26T23:00:00"), &decisions),
                     120);
    assert_int_equal(decisions, 1);
}

struct bounds_case {
    const char *now; /* UTC */
    int start, end;
    unsigned days;
    int rc;
    const char *from, *until; /* UTC */
};

/* A rebalance counts its migrations per occurrence of its window: the
 * occurrence open now, found in site time. */
#define HM(h, m) ((h)*60 + (m))
static void window_bounds_are_the_occurrence_open_now_in_site_time(void **unused)
{
    (void)unused;
    /* tzdata is a dependency (DEB_PACKAGES): without it this must fail,
     * not pass by skipping. */
    if (!have_zone("Europe/Stockholm"))
        fail_msg("/usr/share/zoneinfo/Europe/Stockholm is missing (install tzdata)");
    static const struct bounds_case cases[] = {
        /* 01:00-05:00 on a winter night (CET, UTC+1); seconds ignored. */
        {"2026-01-14T02:17:42", HM(1, 0), HM(5, 0), 0, 0, "2026-01-14T00:00:00",
         "2026-01-14T04:00:00"},
        /* Across midnight: at 01:00 Tuesday it is Monday's window. */
        {"2026-01-06T00:00:00", HM(22, 0), HM(2, 0), 1, 0, "2026-01-05T21:00:00",
         "2026-01-06T01:00:00"},
        /* Whole day, every day: cut at local midnight. */
        {"2026-01-14T15:00:00", 0, 0, 0, 0, "2026-01-13T23:00:00", "2026-01-14T23:00:00"},
        /* Summer (CEST, UTC+2). */
        {"2026-07-01T01:30:00", HM(1, 0), HM(5, 0), 0, 0, "2026-06-30T23:00:00",
         "2026-07-01T03:00:00"},
        /* The clocks go back in the window: 02:00-03:00 happens twice, one
         * occurrence of 120 minutes (here at the second 02:30). */
        {"2025-10-26T01:30:00", HM(2, 0), HM(3, 0), 0, 0, "2025-10-26T00:00:00",
         "2025-10-26T02:00:00"},
        /* Closed now. */
        {"2026-01-14T12:00:00", HM(1, 0), HM(5, 0), 0, -1, NULL, NULL},
        /* Open at its last minute, closed at its end. */
        {"2026-01-14T03:59:59", HM(1, 0), HM(5, 0), 0, 0, "2026-01-14T00:00:00",
         "2026-01-14T04:00:00"},
        {"2026-01-14T04:00:00", HM(1, 0), HM(5, 0), 0, -1, NULL, NULL},
    };
    struct pol_tz *tz;
    assert_int_equal(pol_tz_load("Europe/Stockholm", &tz, NULL, 0), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bounds_case *c = &cases[i];
        int64_t from = 0, until = 0;
        int rc = pol_window_bounds(tz, c->start, c->end, c->days, parse_utc(c->now), &from, &until);
        if (rc != c->rc)
            fail_msg("case %zu: rc %d, want %d", i, rc, c->rc);
        if (rc == 0 && (from != parse_utc(c->from) || until != parse_utc(c->until)))
            fail_msg("case %zu: %lld..%lld, want %s..%s", i, (long long)from, (long long)until,
                     c->from, c->until);
    }
    pol_tz_free(tz);
}

/* Where the clocks skip midnight (America/Santiago springs forward from
 * 00:00 to 01:00 on 2025-09-07), a whole-day window is still cut where
 * the local date changes: 2025-09-06 is 24 h, 2025-09-07 is 23 h
 * (01:00-24:00), and the two days meet without overlap. */
static void a_whole_day_window_is_cut_where_the_date_changes_when_dst_skips_midnight(void **unused)
{
    (void)unused;
    if (!have_zone("America/Santiago"))
        fail_msg("/usr/share/zoneinfo/America/Santiago is missing (install tzdata)");
    static const struct bounds_case cases[] = {
        {"2025-09-06T12:00:00", 0, 0, 0, 0, "2025-09-06T04:00:00", "2025-09-07T04:00:00"},
        {"2025-09-07T12:00:00", 0, 0, 0, 0, "2025-09-07T04:00:00", "2025-09-08T03:00:00"},
        /* The first minute of the short day, and the last of the one before. */
        {"2025-09-07T04:00:00", 0, 0, 0, 0, "2025-09-07T04:00:00", "2025-09-08T03:00:00"},
        {"2025-09-07T03:59:00", 0, 0, 0, 0, "2025-09-06T04:00:00", "2025-09-07T04:00:00"},
        /* 00:00-24:00 is the same window. */
        {"2025-09-07T12:00:00", 0, HM(24, 0), 0, 0, "2025-09-07T04:00:00",
         "2025-09-08T03:00:00"},
    };
    struct pol_tz *tz;
    assert_int_equal(pol_tz_load("America/Santiago", &tz, NULL, 0), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bounds_case *c = &cases[i];
        int64_t from = 0, until = 0;
        int rc = pol_window_bounds(tz, c->start, c->end, c->days, parse_utc(c->now), &from, &until);
        if (rc != c->rc)
            fail_msg("case %zu: rc %d, want %d", i, rc, c->rc);
        if (rc == 0 && (from != parse_utc(c->from) || until != parse_utc(c->until)))
            fail_msg("case %zu: %lld..%lld, want %s..%s", i, (long long)from, (long long)until,
                     c->from, c->until);
    }
    pol_tz_free(tz);
}
#undef HM

static void for_counts_real_time_across_a_dst_change(void **unused)
{
    (void)unused;
    if (!have_zone("Europe/Stockholm"))
        skip();
    struct cfg_policy p = temp_policy(30 * MIN, 0, 0);
    struct rig r;
    rig_init(&r, &p, 1, "Europe/Stockholm");
    set_temp(&r, 35);
    int64_t start = parse_utc("2025-03-30T00:45:00"); /* 01:45 CET */
    int64_t fired = -1;
    for (int64_t t = start; t < start + HOUR; t += MIN)
        if (tick_at(&r, t).decide == POL_DECIDE_FIRED)
            fired = t;
    assert_int_equal(fired, start + 30 * MIN); /* 03:15 CEST: 30 real minutes */
    assert_int_equal(r.local.hour, 3);
    rig_free(&r);
}

/* ---- compiling --------------------------------------------------------- */

struct compile_case {
    struct cfg_policy pols[2];
    size_t n;
    const char *message;
};

static void compile_errors_name_the_policy_and_key(void **unused)
{
    (void)unused;
    static const struct compile_case cases[] = {
        {{{.name = "a", .when = "x > 1"}, {.name = "b", .when = "avgg(x) > 1"}},
         2,
         "policies[1].when: unknown function 'avgg' at column 1"},
        {{{.name = "a", .when = "x > 1", .clear = "(x < 1"}},
         1,
         "policies[0].clear: expected ')' at column 7"},
        {{{.name = "a",
           .when = "x > 1",
           .action = {.type = POL_ACTION_SHED, .kw = "it.load_kw *"}}},
         1,
         "policies[0].action.kw: expected a number, metric or function at column 13 (end of "
         "expression)"},
        {{{.name = "a", .when = "x > 1", .action = {.type = POL_ACTION_SHED}}},
         1,
         "policies[0].action.kw: required for action type \"shed\""},
        {{{.name = "p", .when = "x > 1"}, {.name = "p", .when = "y > 1"}},
         2,
         "policies[1].name: duplicate policy name 'p' (also policies[0])"},
        {{{.name = "a"}}, 1, "policies[0].when: required"},
        {{{.name = "a", .when = ""}}, 1, "policies[0].when: empty expression"},
        {{{.name = "a", .when = "1", .has_schedule = true, .schedule = {0, 1441, 0}}},
         1,
         "policies[0].schedule: window out of range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pol_engine *eng = NULL;
        char err[256] = "";
        if (pol_engine_new(&eng, cases[i].pols, cases[i].n, err, sizeof err) == 0) {
            pol_engine_free(eng);
            fail_msg("case %zu compiled, want \"%s\"", i, cases[i].message);
        }
        if (strcmp(err, cases[i].message) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].message);
    }

    struct cfg_policy p = {.name = "x", .when = "a >"};
    char err[256];
    assert_int_equal(pol_policy_check(&p, "body", err, sizeof err), -1);
    assert_string_equal(err, "body.when: expected a number, metric or function at column 4 (end of "
                             "expression)");
    p.when = "a > 1";
    assert_int_equal(pol_policy_check(&p, "body", err, sizeof err), 0);
}

static void compiled_policies_expose_names_and_expressions(void **unused)
{
    (void)unused;
    struct cfg_policy pols[2] = {
        {.name = "cooling-shortfall",
         .when = "cap < load * 1.10",
         .clear = "cap >= load * 1.2",
         .action = {.type = POL_ACTION_SHED, .kw = "load * 1.10 - cap"}},
        {.name = "notify-only", .when = "load > 100"},
    };
    struct rig r;
    rig_init(&r, pols, 2, NULL);
    assert_int_equal(pol_engine_count(r.eng), 2);
    assert_string_equal(pol_engine_name(r.eng, 0), "cooling-shortfall");
    assert_null(pol_engine_name(r.eng, 2));
    assert_int_equal(pol_engine_find(r.eng, "notify-only"), 1);
    assert_int_equal(pol_engine_find(r.eng, "nope"), -1);
    assert_non_null(pol_engine_when(r.eng, 1));
    assert_non_null(pol_engine_clear(r.eng, 0));
    assert_null(pol_engine_clear(r.eng, 1));
    assert_null(pol_engine_kw(r.eng, 1));

    set_var(&r, "cap", 100, 1);
    set_var(&r, "load", 100, 1);
    double kw;
    assert_int_equal(pol_engine_action_kw(r.eng, 0, &r.env, &kw), 1);
    assert_true(fabs(kw - 10) < 1e-9);
    set_var(&r, "cap", 100, 0);
    assert_int_equal(pol_engine_action_kw(r.eng, 0, &r.env, &kw), 0);
    assert_int_equal(pol_engine_action_kw(r.eng, 1, &r.env, &kw), -1);

    struct pol_tick t;
    assert_int_equal(pol_engine_tick(r.eng, 2, &r.env, &t), -1);
    assert_string_equal(pol_state_name(POL_STATE_OK), "ok");
    assert_string_equal(pol_state_name(POL_STATE_PENDING), "pending");
    assert_string_equal(pol_state_name(POL_STATE_FIRING), "firing");
    rig_free(&r);
}

static void a_reload_keeps_the_state_of_policies_with_the_same_name(void **unused)
{
    (void)unused;
    struct cfg_policy old_pols[1] = {temp_policy(0, 0, HOUR)};
    struct rig r;
    rig_init(&r, old_pols, 1, NULL);
    set_temp(&r, 35);
    assert_int_equal(tick_at(&r, MON_2026_01_05).decide, POL_DECIDE_FIRED);

    struct cfg_policy new_pols[2] = {{.name = "new", .when = "temp > 0"}, temp_policy(0, 0, HOUR)};
    struct pol_engine *neweng;
    char err[128];
    assert_int_equal(pol_engine_new(&neweng, new_pols, 2, err, sizeof err), 0);
    pol_engine_adopt(neweng, r.eng);
    struct pol_status st;
    pol_engine_status(neweng, 1, &st);
    assert_int_equal(st.state, POL_STATE_FIRING);
    pol_engine_status(neweng, 0, &st);
    assert_int_equal(st.state, POL_STATE_OK);

    /* No second "fired" decision for the same firing. */
    pol_engine_free(r.eng);
    r.eng = neweng;
    struct pol_tick t = tick_policy(&r, 1, MON_2026_01_05 + MIN);
    assert_int_equal(t.state, POL_STATE_FIRING);
    assert_int_equal(t.decide, POL_DECIDE_NONE);
    assert_int_equal(tick_policy(&r, 1, MON_2026_01_05 + HOUR).decide, POL_DECIDE_COOLDOWN);

    /* A status copied out and back resumes the same way. */
    pol_engine_status(r.eng, 1, &st);
    st.state = POL_STATE_PENDING;
    st.held_ms = 0;
    st.last = POL_TRUE;
    pol_engine_set_status(r.eng, 1, &st);
    assert_int_equal(tick_policy(&r, 1, MON_2026_01_05 + HOUR + MIN).decide, POL_DECIDE_FIRED);
    rig_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fires_only_after_when_has_held_for_the_for_duration),
        cmocka_unit_test(next_due_is_when_a_for_clear_for_or_cooldown_ends),
        cmocka_unit_test(noise_around_the_threshold_never_fires),
        cmocka_unit_test(for_zero_fires_on_the_first_true_tick),
        cmocka_unit_test(hysteresis_keeps_firing_until_clear_holds_for_clear_for),
        cmocka_unit_test(unknown_when_holds_ok_and_reports_unknown),
        cmocka_unit_test(unknown_while_pending_neither_resets_nor_advances_the_wait),
        cmocka_unit_test(unknown_while_firing_does_not_clear),
        cmocka_unit_test(explicit_clear_does_not_clear_while_when_is_unknown),
        cmocka_unit_test(cooldown_yields_a_decision_each_period_while_firing),
        cmocka_unit_test(cooldown_zero_yields_only_the_entering_decision),
        cmocka_unit_test(refiring_after_clear_yields_a_new_fired_decision),
        cmocka_unit_test(a_tick_earlier_than_the_previous_adds_no_time),
        cmocka_unit_test(windows_across_midnight_belong_to_the_day_they_start),
        cmocka_unit_test(schedule_across_midnight_fires_only_inside_the_window),
        cmocka_unit_test(window_close_resets_pending_and_firing_and_the_next_window_starts_afresh),
        cmocka_unit_test(a_schedule_without_local_time_counts_as_closed),
        cmocka_unit_test(stockholm_local_time_follows_dst_changes),
        cmocka_unit_test(a_posix_rule_gives_the_same_local_time_as_the_zone_file),
        cmocka_unit_test(zone_names_that_are_neither_files_nor_rules_are_refused),
        cmocka_unit_test(tzif_bytes_are_checked),
        cmocka_unit_test(zone_files_agree_with_glibc_localtime),
        cmocka_unit_test(
            a_window_in_the_skipped_hour_never_opens_and_in_the_repeated_hour_opens_twice),
        cmocka_unit_test(window_bounds_are_the_occurrence_open_now_in_site_time),
        cmocka_unit_test(a_whole_day_window_is_cut_where_the_date_changes_when_dst_skips_midnight),
        cmocka_unit_test(for_counts_real_time_across_a_dst_change),
        cmocka_unit_test(compile_errors_name_the_policy_and_key),
        cmocka_unit_test(compiled_policies_expose_names_and_expressions),
        cmocka_unit_test(a_reload_keeps_the_state_of_policies_with_the_same_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
