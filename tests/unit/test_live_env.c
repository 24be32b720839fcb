/*
 * Unit tests for core/live_env.c's history windows: what the store holds,
 * and the latest sample of the metrics snapshot when the recorder has not
 * committed it yet (it commits every few seconds), counted once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "core/live_env.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* 2026-01-01T00:00:00Z */
#define T0 1767225600000LL

struct fixture {
    char dir[64];
    char path[96];
    struct store *store;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/floe-live-env.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/floe.db", f->dir);
    char err[256] = "";
    if (store_open(&f->store, f->path, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    /* Committed: 10, 20, 30 at T0 + 1, 2, 3 s. */
    struct metric_sample s[3];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 3; i++) {
        snprintf(s[i].name, sizeof s[i].name, "room.inlet_c");
        s[i].ts_ms = T0 + (i + 1) * 1000;
        s[i].value = 10.0 * (i + 1);
        s[i].ok = true;
    }
    if (store_write_samples(f->store, s, 3, err, sizeof err) != 0)
        fail_msg("store_write_samples: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct pol_window window(struct fixture *f, const struct metric_snapshot *snap,
                                int64_t since, int64_t until)
{
    struct live_env le = {snap, snap ? 1 : 0, f->store};
    struct pol_env env;
    memset(&env, 0, sizeof env);
    live_env_bind(&le, &env);
    struct pol_window w;
    memset(&w, 0, sizeof w);
    assert_int_equal(env.history(env.ctx, "room.inlet_c", since, until, &w), 0);
    return w;
}

static struct metric_snapshot live(double value, int64_t ts, enum metric_quality q)
{
    struct metric_snapshot m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "room.inlet_c");
    m.value = value;
    m.ts_ms = ts;
    m.updated_ms = ts;
    m.quality = q;
    return m;
}

static void the_latest_sample_joins_what_the_store_holds(void **state)
{
    struct fixture *f = *state;
    struct metric_snapshot m = live(60, T0 + 5000, MQ_GOOD);
    struct pol_window w = window(f, &m, T0, T0 + 10000);
    assert_int_equal(w.n, 4);
    assert_true(w.sum == 120);
    assert_true(w.min == 10 && w.max == 60);
    assert_true(w.first == 10 && w.first_ms == T0 + 1000);
    assert_true(w.last == 60 && w.last_ms == T0 + 5000);
}

static void a_committed_sample_is_not_counted_twice(void **state)
{
    struct fixture *f = *state;
    struct metric_snapshot m = live(30, T0 + 3000, MQ_GOOD);
    struct pol_window w = window(f, &m, T0, T0 + 10000);
    assert_int_equal(w.n, 3);
    assert_true(w.sum == 60 && w.last_ms == T0 + 3000);
}

static void only_a_good_sample_inside_the_window_joins(void **state)
{
    struct fixture *f = *state;
    struct metric_snapshot late = live(60, T0 + 20000, MQ_GOOD);
    assert_int_equal(window(f, &late, T0, T0 + 10000).n, 3);
    struct metric_snapshot failed = live(60, T0 + 5000, MQ_ERROR);
    assert_int_equal(window(f, &failed, T0, T0 + 10000).n, 3);
    /* A window the store has nothing in: the live sample alone. */
    struct metric_snapshot m = live(-4, T0 + 5000, MQ_GOOD);
    struct pol_window w = window(f, &m, T0 + 4000, T0 + 6000);
    assert_int_equal(w.n, 1);
    assert_true(w.sum == -4 && w.min == -4 && w.max == -4 && w.first == -4 && w.last == -4);
    assert_true(w.first_ms == T0 + 5000 && w.last_ms == T0 + 5000);
    /* No snapshot entry: the store's alone. */
    assert_int_equal(window(f, NULL, T0, T0 + 10000).n, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(the_latest_sample_joins_what_the_store_holds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_committed_sample_is_not_counted_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(only_a_good_sample_inside_the_window_joins, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
