/* Unit tests of store/store_records: decisions, their transitions with
 * audit, API-managed policies, policy states and history summaries. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

struct fixture {
    char dir[64];
    char path[96];
    struct store *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/floe-records.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/floe.db", f->dir);
    char err[256];
    assert_int_equal(store_open(&f->s, f->path, err, sizeof err), 0);
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

static void decisions_list_newest_first_and_filter_by_time(void **state)
{
    struct fixture *f = *state;
    char err[256];
    int64_t id1, id2, id3;
    assert_int_equal(store_decision_add(f->s, 1000, "a", "shed", "observed", "{\"x\":1}", NULL, &id1, err, sizeof err), 0);
    assert_int_equal(store_decision_add(f->s, 2000, "b", "notify", "notified", "{\"x\":2}", NULL, &id2, err, sizeof err), 0);
    assert_int_equal(store_decision_add(f->s, 3000, "a", "shed", "observed", "{\"x\":3}", NULL, &id3, err, sizeof err), 0);
    assert_true(id1 < id2 && id2 < id3);
    struct store_decision_row *rows;
    size_t n;
    assert_int_equal(store_decisions(f->s, 2000, 10, &rows, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].id, id3);
    assert_string_equal(rows[1].policy, "b");
    assert_string_equal(rows[1].body, "{\"x\":2}");
    store_decision_rows_free(rows, n);
    assert_int_equal(store_decisions(f->s, 0, 1, &rows, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    store_decision_rows_free(rows, n);
}

static void transition_checks_status_and_audits(void **state)
{
    struct fixture *f = *state;
    char err[256];
    int64_t id;
    assert_int_equal(store_decision_add(f->s, 1000, "a", "shed", "awaiting-approval", "{}", NULL, &id, err, sizeof err), 0);
    assert_int_equal(store_decision_transition(f->s, id, "awaiting-approval", "approved", "{\"s\":1}",
                                               "facility", 2000, err, sizeof err), 0);
    /* A second approval finds the status moved on: conflict, nothing audited. */
    assert_int_equal(store_decision_transition(f->s, id, "awaiting-approval", "approved", "{}",
                                               "facility", 3000, err, sizeof err), STORE_CONFLICT);
    assert_int_equal(store_decision_transition(f->s, id + 100, "awaiting-approval", "approved", "{}",
                                               "facility", 3000, err, sizeof err), STORE_NOT_FOUND);
    struct store_decision_row row;
    assert_int_equal(store_decision_get(f->s, id, &row, err, sizeof err), 0);
    assert_string_equal(row.status, "approved");
    assert_string_equal(row.body, "{\"s\":1}");
    store_decision_row_clear(&row);
    struct store_audit_row *audit;
    size_t n;
    assert_int_equal(store_audit(f->s, 10, &audit, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(audit[0].actor, "facility");
    assert_string_equal(audit[0].action, "approved");
    assert_string_equal(audit[0].detail, "awaiting-approval -> approved");
    store_audit_rows_free(audit, n);
}

struct counted {
    char lines[8][96];
    size_t n;
};

static void count_each(void *ctx, const char *kind, const char *status, int64_t entered,
                       int64_t now_in)
{
    struct counted *c = ctx;
    assert_true(c->n < 8);
    snprintf(c->lines[c->n++], sizeof c->lines[0], "%s %s entered %lld now %lld", kind, status,
             (long long)entered, (long long)now_in);
}

static void decision_counts_keep_every_status_entered_across_transitions_and_reopen(void **state)
{
    struct fixture *f = *state;
    char err[256];
    int64_t a, b, c;
    assert_int_equal(store_decision_add(f->s, 1000, "hot", "shed", "awaiting-approval", "{}", NULL, &a, err, sizeof err), 0);
    assert_int_equal(store_decision_add(f->s, 2000, "hot", "shed", "awaiting-approval", "{}", NULL, &b, err, sizeof err), 0);
    assert_int_equal(store_decision_add(f->s, 3000, "ups", "notify", "awaiting-approval", "{}", NULL, &c, err, sizeof err), 0);
    assert_int_equal(store_decision_transition(f->s, a, "awaiting-approval", "no-placement", "{}", "facility", 4000, err, sizeof err), 0);
    assert_int_equal(store_decision_transition(f->s, b, "awaiting-approval", "rejected", "{}", "facility", 5000, err, sizeof err), 0);
    /* Audit records about other things must not count. */
    assert_int_equal(store_policy_put(f->s, "hot", "{}", "facility", 6000, err, sizeof err), 0);
    assert_int_equal(store_audit_add(f->s, 7000, "facility", "note", "decisions", "a -> b", err, sizeof err), 0);
    static const char *const want[] = {
        "notify awaiting-approval entered 1 now 1",
        "shed awaiting-approval entered 2 now 0",
        "shed no-placement entered 1 now 1",
        "shed rejected entered 1 now 1",
    };
    for (int round = 0; round < 2; round++) {
        struct counted got = { 0 };
        assert_int_equal(store_decision_counts(f->s, count_each, &got, err, sizeof err), 0);
        assert_int_equal(got.n, 4);
        for (size_t i = 0; i < 4; i++)
            assert_string_equal(got.lines[i], want[i]);
        /* The counts come from the records, so a restart keeps them. */
        store_close(f->s);
        assert_int_equal(store_open(&f->s, f->path, err, sizeof err), 0);
    }
}

/* The counts are read from the tables at the first call and kept in
 * memory after: written decisions and transitions must move them exactly
 * as a fresh count of the tables (after a reopen) says. */
static void decision_counts_kept_in_memory_match_the_tables(void **state)
{
    struct fixture *f = *state;
    char err[256];
    int64_t a, b;
    assert_int_equal(store_decision_add(f->s, 1000, "hot", "shed", "awaiting-approval", "{}", NULL, &a, err, sizeof err), 0);
    struct counted first = { 0 };
    assert_int_equal(store_decision_counts(f->s, count_each, &first, err, sizeof err), 0);
    assert_int_equal(first.n, 1);
    assert_string_equal(first.lines[0], "shed awaiting-approval entered 1 now 1");
    /* Written after the counts were read: kept in memory. */
    assert_int_equal(store_decision_add(f->s, 2000, "hot", "shed", "awaiting-approval", "{}", NULL, &b, err, sizeof err), 0);
    assert_int_equal(store_decision_add(f->s, 2500, "ups", "notify", "observed", "{}", NULL, &b, err, sizeof err), 0);
    assert_int_equal(store_decision_transition(f->s, a, "awaiting-approval", "placed", "{}", "facility", 3000, err, sizeof err), 0);
    /* A refused transition changes nothing. */
    assert_int_equal(store_decision_transition(f->s, a, "awaiting-approval", "rejected", "{}", "facility", 3500, err, sizeof err), STORE_CONFLICT);
    static const char *const want[] = {
        "notify observed entered 1 now 1",
        "shed awaiting-approval entered 2 now 1",
        "shed placed entered 1 now 1",
    };
    for (int round = 0; round < 2; round++) {
        struct counted got = { 0 };
        assert_int_equal(store_decision_counts(f->s, count_each, &got, err, sizeof err), 0);
        assert_int_equal(got.n, 3);
        for (size_t i = 0; i < 3; i++)
            assert_string_equal(got.lines[i], want[i]);
        /* Round 1 counts the tables anew. */
        store_close(f->s);
        assert_int_equal(store_open(&f->s, f->path, err, sizeof err), 0);
    }
}

struct collected {
    char names[8][32];
    char bodies[8][64];
    size_t n;
};

static void collect(void *ctx, const char *name, const char *body)
{
    struct collected *c = ctx;
    snprintf(c->names[c->n], sizeof c->names[0], "%s", name);
    snprintf(c->bodies[c->n], sizeof c->bodies[0], "%s", body);
    c->n++;
}

static void policies_put_replace_delete_with_audit(void **state)
{
    struct fixture *f = *state;
    char err[256];
    assert_int_equal(store_policy_put(f->s, "hot", "{\"v\":1}", "facility", 1000, err, sizeof err), 0);
    assert_int_equal(store_policy_put(f->s, "cold", "{\"v\":2}", "facility", 1000, err, sizeof err), 0);
    assert_int_equal(store_policy_put(f->s, "hot", "{\"v\":3}", "admin", 2000, err, sizeof err), 0);
    struct collected c = { 0 };
    assert_int_equal(store_policies(f->s, collect, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.names[0], "cold");
    assert_string_equal(c.bodies[1], "{\"v\":3}");
    assert_int_equal(store_policy_delete(f->s, "cold", "admin", 3000, err, sizeof err), 0);
    assert_int_equal(store_policy_delete(f->s, "cold", "admin", 3000, err, sizeof err), STORE_NOT_FOUND);
    struct store_audit_row *audit;
    size_t n;
    assert_int_equal(store_audit(f->s, 10, &audit, &n, err, sizeof err), 0);
    assert_int_equal(n, 4); /* put, put, put, delete; the failed delete left none */
    assert_string_equal(audit[0].action, "delete");
    assert_string_equal(audit[0].target, "policy cold");
    store_audit_rows_free(audit, n);
}

static void decision_with_state_commits_both_and_delete_drops_state(void **state)
{
    struct fixture *f = *state;
    char err[256];
    int64_t id, last;
    assert_int_equal(store_policy_put(f->s, "hot", "{}", "facility", 1000, err, sizeof err), 0);
    assert_int_equal(store_decision_add(f->s, 1000, "hot", "notify", "notified", "{}",
                                        "{\"state\":\"firing\"}", &id, err, sizeof err), 0);
    assert_int_equal(store_decision_last_id(f->s, "hot", &last, err, sizeof err), 0);
    assert_int_equal(last, id);
    assert_int_equal(store_decision_last_id(f->s, "cold", &last, err, sizeof err), 0);
    assert_int_equal(last, 0);
    struct collected c = { 0 };
    assert_int_equal(store_policy_states(f->s, collect, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.bodies[0], "{\"state\":\"firing\"}");
    /* A deleted policy's state must not come back for a new one of its name. */
    assert_int_equal(store_policy_delete(f->s, "hot", "facility", 2000, err, sizeof err), 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(store_policy_states(f->s, collect, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 0);
}

static void policy_states_survive_reopen(void **state)
{
    struct fixture *f = *state;
    char err[256];
    assert_int_equal(store_policy_state_put(f->s, "hot", "{\"state\":\"firing\"}", err, sizeof err), 0);
    assert_int_equal(store_policy_state_put(f->s, "hot", "{\"state\":\"ok\"}", err, sizeof err), 0);
    store_close(f->s);
    assert_int_equal(store_open(&f->s, f->path, err, sizeof err), 0);
    struct collected c = { 0 };
    assert_int_equal(store_policy_states(f->s, collect, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.bodies[0], "{\"state\":\"ok\"}");
}

static void window_summarises_good_samples_in_range(void **state)
{
    struct fixture *f = *state;
    char err[256];
    struct metric_sample smp[5] = {
        { "room.inlet_c", 1000, 20, true }, { "room.inlet_c", 2000, 22, true },
        { "room.inlet_c", 3000, NAN, false }, { "room.inlet_c", 4000, 26, true },
        { "room.inlet_c", 9000, 99, true },
    };
    assert_int_equal(store_write_samples(f->s, smp, 5, err, sizeof err), 0);
    struct store_window w;
    assert_int_equal(store_window(f->s, "room.inlet_c", 1000, 4000, &w, err, sizeof err), 0);
    assert_int_equal(w.n, 3);
    assert_true(w.sum == 68 && w.min == 20 && w.max == 26);
    assert_int_equal(w.first_ms, 1000);
    assert_int_equal(w.last_ms, 4000);
    assert_true(w.first == 20 && w.last == 26);
    assert_int_equal(store_window(f->s, "room.inlet_c", 5000, 8000, &w, err, sizeof err), 0);
    assert_int_equal(w.n, 0);
    assert_int_equal(store_window(f->s, "no.such", 0, 9000, &w, err, sizeof err), 0);
    assert_int_equal(w.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(decisions_list_newest_first_and_filter_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(transition_checks_status_and_audits, setup, teardown),
        cmocka_unit_test_setup_teardown(decision_counts_keep_every_status_entered_across_transitions_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(decision_counts_kept_in_memory_match_the_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(policies_put_replace_delete_with_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(policy_states_survive_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(decision_with_state_commits_both_and_delete_drops_state, setup, teardown),
        cmocka_unit_test_setup_teardown(window_summarises_good_samples_in_range, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
