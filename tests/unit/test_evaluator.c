/*
 * test_evaluator — the policy loop driven tick by tick with injected time
 * (eval_new + eval_tick, no thread, no clock): a hand-built agent with a
 * config from cfg_load_buffer, metrics set at each tick's time and a
 * temporary SQLite store. Checks that `for: 2m` fires at the tick where
 * two minutes have passed and its decision is stored; that a config
 * swapped between ticks (policy changed, removed) is picked up and the
 * old config is released, not read after (ASan); and that a tick waiting
 * on a slow store write holds no agent lock: a reload completes meanwhile.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/agent.h"
#include "core/evaluator.h"
#include "lib/util.h"

/* 2026-01-01T00:00:00Z, a Thursday. */
#define T0 1767225600000LL
#define TICK_MS 10000

#define HOT_2M "{ \"name\": \"hot\", \"when\": \"room.temp_c > 30\", \"for\": \"2m\" }"
#define HOT_2M_CRITICAL                                                                            \
    "{ \"name\": \"hot\", \"when\": \"room.temp_c > 30\", \"for\": \"2m\", "                       \
    "\"severity\": \"critical\" }"
#define HUMID "{ \"name\": \"humid\", \"when\": \"room.rh_pct > 80\" }"

struct fixture {
    char dir[64];
    char db[96];
    struct agent a;
    struct evaluator *ev;
};

/* A config with the given top-level members (after "site" and "policy_tick"). */
static struct floe_config *config_of(const char *members)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{ \"site\": { \"name\": \"test\" }, \"policy_tick\": \"10s\", %s }", members);
    struct cfg_errors errs = {0};
    struct floe_config *cfg = cfg_load_buffer("floe.json", text, strlen(text), NULL, &errs);
    if (!cfg)
        fail_msg("%s", errs.n ? errs.lines[0] : "config not loaded");
    cfg_errors_clear(&errs);
    return cfg;
}

static struct floe_config *config_with(const char *policies)
{
    char members[900];
    snprintf(members, sizeof members, "\"policies\": [ %s ]", policies);
    return config_of(members);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/floe-test-eval.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/floe.db", f->dir);
    char err[256] = "";
    if (store_open(&f->a.store, f->db, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    f->a.metrics = metrics_new(1000);
    assert_non_null(f->a.metrics);
    agent_config_init(&f->a, config_with(HOT_2M));
    f->ev = eval_new(&f->a, err, sizeof err);
    if (!f->ev)
        fail_msg("eval_new: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    eval_stop(f->ev);
    agent_config_clear(&f->a);
    store_close(f->a.store);
    metrics_free(f->a.metrics);
    const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
        char p[128];
        snprintf(p, sizeof p, "%s%s", f->db, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* The room as the pollers would have reported it just now, then a tick. */
static void tick_at(struct fixture *f, int64_t now_ms, double temp_c)
{
    metrics_set_good(f->a.metrics, "room.temp_c", temp_c, "C", "test", 3 * TICK_MS, now_ms);
    metrics_set_good(f->a.metrics, "room.rh_pct", 40, "%", "test", 3 * TICK_MS, now_ms);
    eval_tick(f->ev, now_ms);
}

/* The status of policy name; fails the test when it is not running. */
static struct eval_policy_status status_of(struct fixture *f, const char *name)
{
    struct eval_policy_status *st = NULL, found = {0};
    size_t n = eval_statuses(f->ev, &st);
    bool seen = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(st[i].name, name) == 0) {
            found = st[i];
            seen = true;
        }
    }
    free(st);
    if (!seen)
        fail_msg("policy %s is not running", name);
    return found;
}

/* Names of the running policies, comma-separated, into out. */
static void running(struct fixture *f, char *out, size_t outlen)
{
    struct eval_policy_status *st = NULL;
    size_t n = eval_statuses(f->ev, &st);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strncat(out, ",", outlen - strlen(out) - 1);
        strncat(out, st[i].name, outlen - strlen(out) - 1);
    }
    free(st);
}

static size_t decision_count(struct fixture *f, struct store_decision_row *first)
{
    struct store_decision_row *rows = NULL;
    size_t n = 0;
    char err[256];
    if (store_decisions(f->a.store, 0, 100, &rows, &n, err, sizeof err) != 0)
        fail_msg("store_decisions: %s", err);
    if (first && n) {
        *first = rows[n - 1]; /* newest first: the oldest is last */
        first->policy = util_strdup(rows[n - 1].policy);
        first->kind = util_strdup(rows[n - 1].kind);
        first->status = util_strdup(rows[n - 1].status);
        first->body = util_strdup(rows[n - 1].body);
    }
    store_decision_rows_free(rows, n);
    return n;
}

/* `for: 2m` with a tick every 10 s: pending from the first tick, firing at
 * the first tick with two full minutes behind it, not a millisecond
 * before; the decision is in the store with that tick's time. */
static void for_2m_fires_at_the_tick_where_two_minutes_have_passed(void **state)
{
    struct fixture *f = *state;
    for (int64_t t = T0; t < T0 + 120000; t += TICK_MS) {
        tick_at(f, t, 35);
        struct eval_policy_status st = status_of(f, "hot");
        assert_int_equal(st.state, POL_STATE_PENDING);
        assert_int_equal(st.since_ms, T0);
        assert_int_equal(decision_count(f, NULL), 0);
    }
    tick_at(f, T0 + 119999, 35);
    assert_int_equal(status_of(f, "hot").state, POL_STATE_PENDING);
    assert_int_equal(decision_count(f, NULL), 0);

    tick_at(f, T0 + 120000, 35);
    struct eval_policy_status st = status_of(f, "hot");
    assert_int_equal(st.state, POL_STATE_FIRING);
    assert_int_equal(st.since_ms, T0 + 120000);
    struct store_decision_row d = {0};
    assert_int_equal(decision_count(f, &d), 1);
    assert_string_equal(d.policy, "hot");
    assert_int_equal(d.ts_ms, T0 + 120000);
    assert_int_equal(st.last_decision_id, d.id);
    store_decision_row_clear(&d);

    /* Still firing a tick later, and no second decision. */
    tick_at(f, T0 + 130000, 35);
    assert_int_equal(status_of(f, "hot").state, POL_STATE_FIRING);
    assert_int_equal(decision_count(f, NULL), 1);
}

/* Swaps between ticks: a changed policy keeps its state (no second
 * decision) and shows its new settings; a removed one stops running, and
 * the config it came from is released by the evaluator at that tick (its
 * last reference here is the test's, dropped before more ticks: a stale
 * pointer into it would be a read after free under ASan). */
static void config_swaps_between_ticks_are_picked_up_and_release_the_old_config(void **state)
{
    struct fixture *f = *state;
    for (int64_t t = T0; t <= T0 + 120000; t += TICK_MS)
        tick_at(f, t, 35);
    assert_int_equal(status_of(f, "hot").state, POL_STATE_FIRING);
    assert_int_equal(status_of(f, "hot").severity, POL_SEV_WARNING);

    /* Changed: same name, now critical. */
    struct floe_config *first = agent_config_get(&f->a);
    agent_config_swap(&f->a, config_with(HOT_2M_CRITICAL));
    assert_int_equal(config_refcount(first), 2); /* the test's, the evaluator's */
    tick_at(f, T0 + 130000, 35);
    assert_int_equal(config_refcount(first), 1); /* the evaluator let go */
    assert_true(config_unref(first));
    struct eval_policy_status st = status_of(f, "hot");
    assert_int_equal(st.state, POL_STATE_FIRING);
    assert_int_equal(st.since_ms, T0 + 120000);
    assert_int_equal(st.severity, POL_SEV_CRITICAL);
    assert_int_equal(decision_count(f, NULL), 1);

    /* Removed, another added. */
    struct floe_config *second = agent_config_get(&f->a);
    agent_config_swap(&f->a, config_with(HUMID));
    assert_true(!config_unref(second)); /* the evaluator still holds it */
    tick_at(f, T0 + 140000, 35);
    char names[128];
    running(f, names, sizeof names);
    assert_string_equal(names, "humid");
    assert_int_equal(status_of(f, "humid").state, POL_STATE_OK);
    for (int64_t t = T0 + 150000; t <= T0 + 200000; t += TICK_MS)
        tick_at(f, t, 35);
    running(f, names, sizeof names);
    assert_string_equal(names, "humid");
    assert_int_equal(decision_count(f, NULL), 1);

    /* Back again: states carry over only from the engine being replaced,
     * which did not run it, so it starts afresh from this config. */
    agent_config_swap(&f->a, config_with(HOT_2M "," HUMID));
    tick_at(f, T0 + 210000, 35);
    running(f, names, sizeof names);
    assert_string_equal(names, "hot,humid");
    st = status_of(f, "hot");
    assert_int_equal(st.state, POL_STATE_PENDING);
    assert_int_equal(st.since_ms, T0 + 210000);
}

static struct floe_config *config_with_derive(const char *derive_json)
{
    char members[900];
    snprintf(members, sizeof members, "\"derive\": [ %s ]", derive_json);
    return config_of(members);
}

static bool metric_listed(struct fixture *f, const char *name, int64_t now_ms)
{
    struct metric_snapshot m;
    return metrics_get(f->a.metrics, name, now_ms, &m);
}

/* A derive removed by a reload leaves the table at the next tick, even
 * when a tick still running on the old config wrote it after the swap
 * (the reload itself cannot order itself after that write). */
static void a_removed_derive_is_forgotten_even_if_written_after_the_swap(void **state)
{
    struct fixture *f = *state;
    agent_config_swap(&f->a, config_with_derive(
        "{ \"metric\": \"room.double_c\", \"expr\": \"room.temp_c * 2\", \"unit\": \"C\" }"));
    tick_at(f, T0, 21);
    assert_true(metric_listed(f, "room.double_c", T0));

    agent_config_swap(&f->a, config_with_derive(
        "{ \"metric\": \"room.half_c\", \"expr\": \"room.temp_c / 2\", \"unit\": \"C\" }"));
    /* What a tick in flight on the old config does after the swap. */
    metrics_set_good(f->a.metrics, "room.double_c", 42, "C", "derive", 3 * TICK_MS, T0 + 1);
    tick_at(f, T0 + TICK_MS, 21);
    assert_false(metric_listed(f, "room.double_c", T0 + TICK_MS));
    assert_true(metric_listed(f, "room.half_c", T0 + TICK_MS));
}

/* ---- a tick blocked in the store holds no agent lock ---- */

struct blocked_tick {
    struct fixture *f;
    int64_t now_ms;
    atomic_bool done;
};

static void *tick_in_thread(void *arg)
{
    struct blocked_tick *bt = arg;
    tick_at(bt->f, bt->now_ms, 35);
    atomic_store(&bt->done, true);
    return NULL;
}

/* Another connection holds the database's write lock, so the tick that
 * fires `hot` waits in its decision write (SQLite's busy wait). Meanwhile
 * a reload swaps the config: it must return at once, with the tick still
 * waiting and still holding its own reference to the config it started
 * with. When the database is free again the decision lands, and the next
 * tick runs the new config. */
static void a_reload_completes_while_a_tick_waits_on_a_store_write(void **state)
{
    struct fixture *f = *state;
    for (int64_t t = T0; t < T0 + 120000; t += TICK_MS)
        tick_at(f, t, 35);
    struct floe_config *first = agent_config_get(&f->a);

    sqlite3 *blocker = NULL;
    assert_int_equal(sqlite3_open(f->db, &blocker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    struct blocked_tick bt = {.f = f, .now_ms = T0 + 120000, .done = false};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, tick_in_thread, &bt), 0);
    util_sleep_ms(200, NULL);
    /* Read now, asserted once the tick thread is joined. */
    bool done_before_swap = atomic_load(&bt.done);
    int64_t t0 = util_mono_ms();
    agent_config_swap(&f->a, config_with(HUMID));
    int64_t swap_ms = util_mono_ms() - t0;
    bool done_after_swap = atomic_load(&bt.done);
    long refs_during_tick = config_refcount(first);

    assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(blocker);
    pthread_join(t, NULL);
    assert_false(done_before_swap);
    assert_true(swap_ms < 100);
    assert_false(done_after_swap);
    assert_int_equal(refs_during_tick, 3); /* the test's, the evaluator's, the tick's */

    struct store_decision_row d = {0};
    assert_int_equal(decision_count(f, &d), 1);
    assert_string_equal(d.policy, "hot");
    assert_int_equal(d.ts_ms, T0 + 120000);
    store_decision_row_clear(&d);
    assert_int_equal(config_refcount(first), 2); /* the tick let go */

    tick_at(f, T0 + 130000, 35);
    char names[128];
    running(f, names, sizeof names);
    assert_string_equal(names, "humid");
    assert_true(config_unref(first));
}

/* ---- when the loop ticks ---- */

static void next_tick_comes_at_the_earliest_of_period_deadline_and_samples(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        struct eval_wake_in in;
        int64_t at;
    } cases[] = {
        {"the period alone", {.now_ms = 1000, .last_tick_ms = 500, .tick_ms = 10000,
                              .due_in_ms = EVAL_NEVER}, 10500},
        {"nothing to evaluate: no periodic tick", {.now_ms = 1000, .last_tick_ms = 500,
                                                   .due_in_ms = EVAL_NEVER}, EVAL_NEVER},
        {"a for ending before the tick", {.now_ms = 1000, .last_tick_ms = 500, .tick_ms = 10000,
                                          .due_in_ms = 1234}, 2234},
        {"a cooldown ending after the tick", {.now_ms = 1000, .last_tick_ms = 500,
                                              .tick_ms = 10000, .due_in_ms = 60000}, 10500},
        {"a deadline already past: now", {.now_ms = 1000, .last_tick_ms = 500, .tick_ms = 10000,
                                          .due_in_ms = -300}, 1000},
        {"a deadline without periodic tick", {.now_ms = 1000, .last_tick_ms = 500,
                                              .due_in_ms = 700}, 1700},
        {"samples long after the last tick: now", {.now_ms = 9000, .last_tick_ms = 500,
                                                   .tick_ms = 10000, .due_in_ms = EVAL_NEVER,
                                                   .samples = true, .min_gap_ms = 25}, 9000},
        {"samples right after a tick: held back to coalesce a burst",
         {.now_ms = 510, .last_tick_ms = 500, .tick_ms = 10000, .due_in_ms = EVAL_NEVER,
          .samples = true, .min_gap_ms = 25}, 525},
        {"samples without periodic tick", {.now_ms = 4000, .last_tick_ms = 500,
                                           .due_in_ms = EVAL_NEVER, .samples = true,
                                           .min_gap_ms = 25}, 4000},
        {"a period overdue (a long tick): now", {.now_ms = 12000, .last_tick_ms = 500,
                                                 .tick_ms = 10000, .due_in_ms = EVAL_NEVER},
         12000},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int64_t at = eval_next_tick_ms(&cases[i].in);
        if (at != cases[i].at)
            fail_msg("%s: %lld, want %lld", cases[i].what, (long long)at, (long long)cases[i].at);
    }
}

/* The running loop (eval_start): after its first periodic tick, a poll
 * bringing a value that makes `for: 300ms` true is evaluated at once, and
 * the policy fires when the 300 ms are out, not at the next periodic
 * ticks (3 s apart: pending at one, firing at the next). */
static void a_poll_is_evaluated_at_once_and_for_fires_when_it_ends(void **state)
{
    struct fixture *f = *state;
    eval_stop(f->ev);
    static const char text[] =
        "{ \"site\": { \"name\": \"test\" }, \"policy_tick\": \"3s\", \"policies\": [ "
        "{ \"name\": \"hot\", \"when\": \"room.temp_c > 30\", \"for\": \"300ms\" } ] }";
    struct cfg_errors errs = {0};
    struct floe_config *cfg = cfg_load_buffer("floe.json", text, strlen(text), NULL, &errs);
    assert_non_null(cfg);
    agent_config_swap(&f->a, cfg);
    metrics_set_good(f->a.metrics, "room.temp_c", 25, "C", "test", 60000, util_now_ms());
    char err[256];
    f->ev = eval_start(&f->a, err, sizeof err);
    assert_non_null(f->ev);
    /* The first periodic tick (samples before it are not evaluated). */
    for (int i = 0; i < 1000 && status_of(f, "hot").since_ms == 0; i++)
        util_sleep_ms(10, NULL);
    assert_int_equal(status_of(f, "hot").state, POL_STATE_OK);

    int64_t change_ms = util_now_ms();
    metrics_set_good(f->a.metrics, "room.temp_c", 35, "C", "test", 60000, change_ms);
    eval_samples_changed(f->ev);
    eval_samples_changed(f->ev); /* a burst: one tick */
    struct store_decision_row d = {0};
    for (int i = 0; i < 1000 && decision_count(f, NULL) == 0; i++)
        util_sleep_ms(10, NULL);
    assert_int_equal(decision_count(f, &d), 1);
    int64_t latency = d.ts_ms - change_ms;
    store_decision_row_clear(&d);
    /* Not before `for`; well before the next periodic tick (3 s on; the
     * 1.5 s allow for a loaded machine). */
    if (latency < 300 || latency > 1500)
        fail_msg("decided %lld ms after the value changed (for: 300ms)", (long long)latency);
}

/* At start-up the loop does not wait out a whole policy_tick: once every
 * device has finished its first poll, new values are evaluated at once.
 * Before that, a first device's values alone are not. */
static void first_evaluation_comes_when_every_device_has_polled(void **state)
{
    struct fixture *f = *state;
    eval_stop(f->ev);
    static const char text[] =
        "{ \"site\": { \"name\": \"test\" }, \"policy_tick\": \"30s\", \"policies\": [ "
        "{ \"name\": \"hot\", \"when\": \"room.temp_c > 30\" } ] }";
    struct cfg_errors errs = {0};
    struct floe_config *cfg = cfg_load_buffer("floe.json", text, strlen(text), NULL, &errs);
    assert_non_null(cfg);
    agent_config_swap(&f->a, cfg);
    metrics_collector_declare(f->a.metrics, "chiller", "modbus");
    metrics_collector_declare(f->a.metrics, "crah", "snmp");
    char err[256];
    f->ev = eval_start(&f->a, err, sizeof err);
    assert_non_null(f->ev);

    int64_t now = util_now_ms();
    metrics_set_good(f->a.metrics, "room.temp_c", 35, "C", "chiller", 60000, now);
    metrics_collector_report(f->a.metrics, "chiller", true, 0.01, NULL, now);
    eval_samples_changed(f->ev);
    util_sleep_ms(300, NULL);
    assert_int_equal(decision_count(f, NULL), 0); /* crah has not answered */

    int64_t last_poll_ms = util_now_ms();
    metrics_collector_report(f->a.metrics, "crah", false, 0.01, "timeout", last_poll_ms);
    eval_samples_changed(f->ev);
    struct store_decision_row d = {0};
    for (int i = 0; i < 1000 && decision_count(f, NULL) == 0; i++)
        util_sleep_ms(10, NULL);
    assert_int_equal(decision_count(f, &d), 1);
    int64_t latency = d.ts_ms - last_poll_ms;
    store_decision_row_clear(&d);
    if (latency > 1500) /* the tick is 30 s away; 1.5 s for a loaded machine */
        fail_msg("decided %lld ms after the last device's first poll", (long long)latency);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(for_2m_fires_at_the_tick_where_two_minutes_have_passed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            config_swaps_between_ticks_are_picked_up_and_release_the_old_config, setup, teardown),
        cmocka_unit_test_setup_teardown(a_removed_derive_is_forgotten_even_if_written_after_the_swap,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_reload_completes_while_a_tick_waits_on_a_store_write,
                                        setup, teardown),
        cmocka_unit_test(next_tick_comes_at_the_earliest_of_period_deadline_and_samples),
        cmocka_unit_test_setup_teardown(a_poll_is_evaluated_at_once_and_for_fires_when_it_ends,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(first_evaluation_comes_when_every_device_has_polled,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
