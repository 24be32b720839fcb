/*
 * test_capacity — core/capacity with a hand-built agent (config from
 * cfg_load_buffer, metrics set at injected times, a temporary store, and
 * an evaluator where policies matter): the arithmetic (min of the
 * headrooms, margin, reservations, clamping at 0), unknown inputs of
 * every kind giving no capacity, a firing critical policy stopping
 * acceptance, as_of, grants and refusals through cap_reserve, expiry, and
 * the compiled-expression cache following config swaps.
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
#include <unistd.h>

#include "core/agent.h"
#include "core/capacity.h"
#include "core/evaluator.h"
#include "lib/util.h"

/* 2026-01-01T00:00:00Z */
#define T0 1767225600000LL
#define STALE_MS 15000

/* power headroom 650 - 400 = 250, cooling (300 + 300) - 400 = 200. */
#define CAPACITY(margin)                                                                           \
    "\"capacity\": { \"power_headroom_kw\": \"power.supply_kw - it.load_kw\","                     \
    " \"cooling_headroom_kw\": \"sum(cooling.*.capacity_kw) - it.load_kw\","                      \
    " \"margin_kw\": " #margin " }"

struct fixture {
    char dir[64];
    char db[96];
    struct agent a;
};

static struct floe_config *config_of(const char *members)
{
    char text[2048];
    snprintf(text, sizeof text, "{ \"site\": { \"name\": \"lulea-1\" }, %s }", members);
    struct cfg_errors errs = {0};
    struct floe_config *cfg = cfg_load_buffer("floe.json", text, strlen(text), NULL, &errs);
    if (!cfg)
        fail_msg("%s", errs.n ? errs.lines[0] : "config not loaded");
    cfg_errors_clear(&errs);
    return cfg;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/floe-test-cap.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/floe.db", f->dir);
    char err[256] = "";
    if (store_open(&f->a.store, f->db, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    f->a.metrics = metrics_new(1000);
    f->a.capacity = cap_cache_new();
    assert_non_null(f->a.metrics);
    assert_non_null(f->a.capacity);
    agent_config_init(&f->a, config_of(CAPACITY(20)));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    eval_stop(f->a.evaluator);
    cap_cache_free(f->a.capacity);
    agent_config_clear(&f->a);
    store_close(f->a.store);
    metrics_free(f->a.metrics);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void set(struct fixture *f, const char *metric, double value, int64_t at)
{
    metrics_set_good(f->a.metrics, metric, value, "kW", "test", STALE_MS, at);
}

/* The site of CAPACITY(): every input good, the newest read at `at`. */
static void site_at(struct fixture *f, int64_t at)
{
    set(f, "power.supply_kw", 650, at - 300);
    set(f, "it.load_kw", 400, at - 200);
    set(f, "cooling.chiller1.capacity_kw", 300, at - 100);
    set(f, "cooling.chiller2.capacity_kw", 300, at);
}

static struct cap_status evaluate(struct fixture *f, int64_t now)
{
    struct cap_status st;
    char err[256] = "";
    struct floe_config *cfg = agent_config_get(&f->a);
    if (cap_evaluate(&f->a, cfg, now, &st, err, sizeof err) != 0)
        fail_msg("cap_evaluate: %s", err);
    config_unref(cfg);
    return st;
}

/* cap_reserve under the agent's config; returns its code. */
static int reserve(struct fixture *f, const char *workload, double kw, int64_t ttl_ms, int64_t now,
                   struct cap_status *st, char id[STORE_RESV_ID_SIZE])
{
    struct store_resv_request req = {.from_site = "falkenberg-1", .workload = workload,
                                     .granted_by = "falkenberg-1", .kw = kw, .ttl_ms = ttl_ms};
    struct store_resv r;
    char err[256] = "";
    struct floe_config *cfg = agent_config_get(&f->a);
    int rc = cap_reserve(&f->a, cfg, &req, now, &r, st, err, sizeof err);
    config_unref(cfg);
    if (rc < 0)
        fail_msg("cap_reserve: %s", err);
    if (id)
        memcpy(id, r.id, STORE_RESV_ID_SIZE);
    store_resv_clear(&r);
    return rc;
}

static void spare_is_the_lower_headroom_less_margin_and_reservations(void **state)
{
    struct fixture *f = *state;
    site_at(f, T0);
    struct cap_status st = evaluate(f, T0 + 500);
    assert_true(st.known);
    assert_true(st.accepting);
    assert_string_equal(st.reason, "");
    assert_true(st.power_headroom_kw == 250);
    assert_true(st.cooling_headroom_kw == 200);
    assert_true(st.margin_kw == 20);
    assert_true(st.limit_kw == 180);
    assert_true(st.reserved_kw == 0);
    assert_true(st.spare_kw == 180);
    assert_int_equal(st.as_of_ms, T0); /* the newest of the metrics read */

    struct cap_status after;
    assert_int_equal(reserve(f, "shop", 50, 60000, T0 + 600, &after, NULL), 0);
    assert_true(after.reserved_kw == 50);
    assert_true(after.spare_kw == 130);
    st = evaluate(f, T0 + 700);
    assert_true(st.reserved_kw == 50);
    assert_true(st.spare_kw == 130);
    /* Power becomes the lower headroom. */
    set(f, "power.supply_kw", 500, T0 + 800);
    st = evaluate(f, T0 + 900);
    assert_true(st.limit_kw == 80);
    assert_true(st.spare_kw == 30);
    assert_int_equal(st.as_of_ms, T0 + 800);
}

static void spare_is_clamped_at_zero_not_negative(void **state)
{
    struct fixture *f = *state;
    site_at(f, T0);
    assert_int_equal(reserve(f, "shop", 150, 60000, T0, &(struct cap_status){0}, NULL), 0);
    /* Load rises after the grant: the reservations now pass the limit. */
    set(f, "it.load_kw", 550, T0 + 100);
    struct cap_status st = evaluate(f, T0 + 200);
    assert_true(st.known);
    assert_true(st.limit_kw == 30);  /* cooling 600 - 550 - 20 */
    assert_true(st.reserved_kw == 150);
    assert_true(st.spare_kw == 0);
    /* Headroom below the margin alone, nothing reserved. */
    agent_config_swap(&f->a, config_of(CAPACITY(60)));
    char id[STORE_RESV_ID_SIZE];
    st = evaluate(f, T0 + 300);
    assert_true(st.limit_kw == -10);
    assert_true(st.spare_kw == 0);
    assert_int_equal(reserve(f, "web", 1, 60000, T0 + 300, &st, id), CAP_REFUSED);
    assert_true(st.accepting);
    assert_true(st.spare_kw == 0);
    assert_string_equal(st.reason, "1 kW asked, 0 kW spare");
}

static void unknown_inputs_of_every_kind_give_no_capacity(void **state)
{
    struct fixture *f = *state;
    /* Missing: no supply metric at all. */
    set(f, "it.load_kw", 400, T0);
    set(f, "cooling.chiller1.capacity_kw", 300, T0);
    struct cap_status st = evaluate(f, T0);
    assert_false(st.known);
    assert_false(st.accepting);
    assert_true(st.spare_kw == 0);
    assert_true(isnan(st.power_headroom_kw));
    assert_true(st.cooling_headroom_kw == -100); /* known, and shown */
    assert_true(isnan(st.limit_kw));
    assert_string_equal(st.reason, "capacity input unknown: power.supply_kw");

    /* Stale: every input read once, then no sample for longer than the
     * stale window. */
    site_at(f, T0);
    assert_true(evaluate(f, T0 + STALE_MS - 400).known); /* the oldest is from T0 - 300 */
    st = evaluate(f, T0 + STALE_MS + 1000);
    assert_false(st.known);
    assert_false(st.accepting);
    assert_true(st.spare_kw == 0);
    assert_true(isnan(st.power_headroom_kw) && isnan(st.cooling_headroom_kw));

    /* Error: one chiller's read failed. The language's sum() would skip
     * it and give 300 - 400; capacity refuses to count on it. */
    site_at(f, T0 + 60000);
    metrics_set_error(f->a.metrics, "cooling.chiller2.capacity_kw", "test", STALE_MS,
                      "timed out", T0 + 60000);
    st = evaluate(f, T0 + 60000);
    assert_false(st.known);
    assert_true(st.power_headroom_kw == 250);
    assert_true(isnan(st.cooling_headroom_kw));
    assert_true(st.spare_kw == 0);
    assert_string_equal(st.reason, "capacity input unknown: cooling.chiller2.capacity_kw");
    char id[STORE_RESV_ID_SIZE];
    assert_int_equal(reserve(f, "shop", 1, 60000, T0 + 60000, &st, id), CAP_REFUSED);
    assert_false(st.accepting);
    assert_string_equal(id, "");

    /* Unknown without an unknown input: division by zero. */
    agent_config_swap(&f->a, config_of("\"capacity\": { \"power_headroom_kw\": \"100 / 0\","
                                       " \"cooling_headroom_kw\": \"100\" }"));
    st = evaluate(f, T0 + 60000);
    assert_false(st.known);
    assert_string_equal(st.reason, "capacity.power_headroom_kw is unknown");

    /* Back to good data: capacity again. */
    agent_config_swap(&f->a, config_of(CAPACITY(20)));
    site_at(f, T0 + 70000);
    st = evaluate(f, T0 + 70000);
    assert_true(st.known && st.accepting && st.spare_kw == 180);
}

static void constant_expressions_are_as_of_now(void **state)
{
    struct fixture *f = *state;
    agent_config_swap(&f->a, config_of("\"capacity\": { \"power_headroom_kw\": \"500\","
                                       " \"cooling_headroom_kw\": \"300 + 100\", \"margin_kw\": 50 }"));
    struct cap_status st = evaluate(f, T0 + 1234);
    assert_true(st.known && st.accepting);
    assert_true(st.spare_kw == 350);
    assert_int_equal(st.as_of_ms, T0 + 1234);
}

static void a_firing_critical_policy_stops_accepting_a_warning_does_not(void **state)
{
    struct fixture *f = *state;
    agent_config_swap(&f->a,
                      config_of(CAPACITY(20) ", \"policies\": ["
                                "{ \"name\": \"hot\", \"when\": \"room.temp_c > 30\", \"severity\": \"critical\" },"
                                "{ \"name\": \"warm\", \"when\": \"room.temp_c > 25\", \"severity\": \"warning\" } ]"));
    char err[256] = "";
    f->a.evaluator = eval_new(&f->a, err, sizeof err);
    if (!f->a.evaluator)
        fail_msg("eval_new: %s", err);
    site_at(f, T0);
    set(f, "room.temp_c", 28, T0);
    eval_tick(f->a.evaluator, T0);
    struct cap_status st = evaluate(f, T0);
    assert_true(st.accepting); /* warm fires, it is only a warning */

    set(f, "room.temp_c", 35, T0 + 10000);
    site_at(f, T0 + 10000);
    eval_tick(f->a.evaluator, T0 + 10000);
    st = evaluate(f, T0 + 10000);
    assert_true(st.known);
    assert_false(st.accepting);
    assert_true(st.spare_kw == 180); /* the figure is still reported */
    assert_string_equal(st.reason, "critical policy hot is firing");
    char id[STORE_RESV_ID_SIZE];
    assert_int_equal(reserve(f, "shop", 10, 60000, T0 + 10000, &st, id), CAP_REFUSED);
    assert_false(st.accepting);
    assert_true(evaluate(f, T0 + 10000).reserved_kw == 0);

    set(f, "room.temp_c", 21, T0 + 20000);
    site_at(f, T0 + 20000);
    eval_tick(f->a.evaluator, T0 + 20000);
    assert_true(evaluate(f, T0 + 20000).accepting);
    assert_int_equal(reserve(f, "shop", 10, 60000, T0 + 20000, &st, id), 0);
}

static void refusal_for_room_reports_the_spare_left(void **state)
{
    struct fixture *f = *state;
    site_at(f, T0);
    struct cap_status st;
    char id[STORE_RESV_ID_SIZE];
    assert_int_equal(reserve(f, "a", 100, 60000, T0, &st, id), 0);
    assert_int_equal(reserve(f, "b", 80, 60000, T0, &st, id), 0); /* 180: exactly full */
    assert_true(st.spare_kw == 0);
    assert_int_equal(reserve(f, "c", 0.5, 60000, T0, &st, id), CAP_REFUSED);
    assert_true(st.accepting);
    assert_true(st.reserved_kw == 180);
    assert_string_equal(st.reason, "0.5 kW asked, 0 kW spare");
}

static void expiry_frees_capacity_at_the_ttl_and_is_marked_once(void **state)
{
    struct fixture *f = *state;
    site_at(f, T0);
    struct cap_status st;
    char id[STORE_RESV_ID_SIZE];
    assert_int_equal(reserve(f, "shop", 100, 10000, T0, &st, id), 0);
    site_at(f, T0 + 9999);
    assert_true(evaluate(f, T0 + 9999).spare_kw == 80);
    site_at(f, T0 + 10000);
    assert_true(evaluate(f, T0 + 10000).spare_kw == 180);
    char err[256] = "";
    assert_int_equal(cap_expire(&f->a, T0 + 9999, err, sizeof err), 0);
    assert_int_equal(cap_expire(&f->a, T0 + 10000, err, sizeof err), 1);
    assert_int_equal(cap_expire(&f->a, T0 + 20000, err, sizeof err), 0);
    struct store_resv r;
    assert_int_equal(store_resv_get(f->a.store, id, &r, err, sizeof err), 0);
    assert_int_equal(r.state, STORE_RESV_EXPIRED);
    store_resv_clear(&r);
}

/* The cache keeps one config reference (its compiled expressions'), lets
 * go of a swapped-out config at the first evaluation under the next one,
 * and evaluates the next one's expressions. A stale pointer into the old
 * config would be a read after free under ASan. */
static void cache_follows_config_swaps_and_releases_the_old_config(void **state)
{
    struct fixture *f = *state;
    site_at(f, T0);
    struct floe_config *first = agent_config_get(&f->a);
    long before = config_refcount(first);
    evaluate(f, T0);
    assert_int_equal(config_refcount(first), before + 1); /* the cache's */
    evaluate(f, T0);
    assert_int_equal(config_refcount(first), before + 1); /* compiled once */

    agent_config_swap(&f->a, config_of("\"capacity\": { \"power_headroom_kw\": \"power.supply_kw - it.load_kw - 100\","
                                       " \"cooling_headroom_kw\": \"1000\", \"margin_kw\": 0 }"));
    assert_int_equal(config_refcount(first), 2); /* the test's, the cache's */
    struct cap_status st = evaluate(f, T0);
    assert_int_equal(config_refcount(first), 1);
    assert_true(config_unref(first));
    assert_true(st.power_headroom_kw == 150);
    assert_true(st.spare_kw == 150);

    /* Without a cache every call compiles its own. */
    cap_cache_free(f->a.capacity);
    f->a.capacity = NULL;
    assert_true(evaluate(f, T0).spare_kw == 150);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(spare_is_the_lower_headroom_less_margin_and_reservations),
        T(spare_is_clamped_at_zero_not_negative),
        T(unknown_inputs_of_every_kind_give_no_capacity),
        T(constant_expressions_are_as_of_now),
        T(a_firing_critical_policy_stops_accepting_a_warning_does_not),
        T(refusal_for_room_reports_the_spare_left),
        T(expiry_frees_capacity_at_the_ttl_and_is_marked_once),
        T(cache_follows_config_swaps_and_releases_the_old_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
