/*
 * test_store_hold — the reservations this site holds at peers: recorded,
 * counted until their TTL or release, kept across a reopen, pruned with
 * the history.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store_hold.h"

/* 2026-01-01T00:00:00Z */
#define T0 1767225600000LL

struct fixture {
    char dir[64];
    char path[96];
    struct store *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/floe-hold.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/floe.db", f->dir);
    char err[256];
    if (store_open(&f->s, f->path, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void add(struct fixture *f, const char *peer, const char *id, const char *wl, double kw,
                int64_t expires_ms)
{
    char err[256];
    struct store_hold h = {.peer = (char *)peer,
                           .id = (char *)id,
                           .workload = (char *)wl,
                           .kw = kw,
                           .decision_id = 7,
                           .created_ms = T0,
                           .expires_ms = expires_ms};
    if (store_hold_add(f->s, &h, err, sizeof err) != 0)
        fail_msg("store_hold_add: %s", err);
}

static size_t active(struct fixture *f, int64_t now, double *kw)
{
    struct store_hold *rows;
    size_t n;
    char err[256];
    if (store_hold_active(f->s, now, &rows, &n, err, sizeof err) != 0)
        fail_msg("store_hold_active: %s", err);
    *kw = 0;
    for (size_t i = 0; i < n; i++)
        *kw += rows[i].kw;
    store_hold_rows_free(rows, n);
    return n;
}

static void holds_count_until_their_ttl_or_release(void **state)
{
    struct fixture *f = *state;
    add(f, "falkenberg-1", "rsv-1", "shop", 40, T0 + 60000);
    add(f, "oslo-2", "rsv-1", "web", 12.5, T0 + 120000); /* same id, other peer */
    double kw;
    assert_int_equal(active(f, T0, &kw), 2);
    assert_true(kw == 52.5);

    struct store_hold *rows;
    size_t n;
    char err[256];
    assert_int_equal(store_hold_active(f->s, T0, &rows, &n, err, sizeof err), 0);
    assert_string_equal(rows[0].peer, "falkenberg-1");
    assert_string_equal(rows[0].workload, "shop");
    assert_string_equal(rows[0].namespace_, "shop"); /* defaults to the workload */
    assert_int_equal(rows[0].decision_id, 7);
    assert_string_equal(rows[0].state, "active");
    store_hold_rows_free(rows, n);

    /* a peer that hands out an id twice does not silently replace a hold */
    struct store_hold dup = {.peer = "falkenberg-1",
                             .id = "rsv-1",
                             .workload = "other",
                             .kw = 99,
                             .created_ms = T0,
                             .expires_ms = T0 + 60000};
    assert_int_equal(store_hold_add(f->s, &dup, err, sizeof err), -1);
    assert_int_equal(active(f, T0, &kw), 2);
    assert_true(kw == 52.5);

    assert_int_equal(active(f, T0 + 60000, &kw), 1); /* shop's TTL ended */
    assert_true(kw == 12.5);
    assert_int_equal(store_hold_release(f->s, "oslo-2", "rsv-1", T0 + 1000, err, sizeof err), 0);
    assert_int_equal(active(f, T0 + 1000, &kw), 1);
    assert_true(kw == 40);
    assert_int_equal(store_hold_release(f->s, "oslo-2", "rsv-1", T0 + 2000, err, sizeof err),
                     STORE_NOT_FOUND);
    assert_int_equal(store_hold_release(f->s, "nobody", "rsv-9", T0 + 2000, err, sizeof err),
                     STORE_NOT_FOUND);
}

static void holds_survive_a_reopen_and_are_pruned_with_the_history(void **state)
{
    struct fixture *f = *state;
    add(f, "a", "rsv-a", "shop", 40, T0 + 3600000);
    add(f, "a", "rsv-b", "web", 10, T0 + 60000);
    char err[256];
    store_close(f->s);
    assert_int_equal(store_open(&f->s, f->path, err, sizeof err), 0);
    double kw;
    assert_int_equal(active(f, T0, &kw), 2);
    assert_int_equal(store_hold_release(f->s, "a", "rsv-a", T0 + 5000, err, sizeof err), 0);
    int64_t deleted = -1;
    /* a cutoff before both ends removes nothing */
    assert_int_equal(store_hold_prune(f->s, T0, &deleted, err, sizeof err), 0);
    assert_int_equal(deleted, 0);
    /* past the release and the other's TTL: both go */
    assert_int_equal(store_hold_prune(f->s, T0 + 70000, &deleted, err, sizeof err), 0);
    assert_int_equal(deleted, 2);
    assert_int_equal(active(f, T0, &kw), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(holds_count_until_their_ttl_or_release, setup, teardown),
        cmocka_unit_test_setup_teardown(holds_survive_a_reopen_and_are_pruned_with_the_history,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
