/*
 * Unit tests of decision: the status rules by mode, action and inputs,
 * the exact JSON shape of GET /v1/decisions, the round trip through JSON
 * text, and the messages for malformed stored records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policies/decision.h"

/* ---- status rules ---------------------------------------------------------- */

struct classify_case {
    const char *name;
    enum pol_mode mode;
    enum pol_action_type kind;
    const char *unknown;
    double kw, inflight_kw;
    enum decision_status status;
    double need_kw; /* NAN = expect null */
    const char *reason;
};

static const struct classify_case classify_cases[] = {
    {"observe_records_only", POL_MODE_OBSERVE, POL_ACTION_NOTIFY, NULL, NAN, 0, DECISION_OBSERVED,
     NAN, "mode observe: recorded only"},
    {"observe_shed_records_only", POL_MODE_OBSERVE, POL_ACTION_SHED, NULL, 50, 0, DECISION_OBSERVED,
     50, "mode observe: recorded only"},
    {"approve_waits", POL_MODE_APPROVE, POL_ACTION_SHED, NULL, 80, 0, DECISION_AWAITING_APPROVAL,
     80, "mode approve: waiting for approval"},
    {"approve_rebalance_waits", POL_MODE_APPROVE, POL_ACTION_REBALANCE, NULL, NAN, 0,
     DECISION_AWAITING_APPROVAL, NAN, "mode approve: waiting for approval"},
    {"auto_notify_is_notified", POL_MODE_AUTO, POL_ACTION_NOTIFY, NULL, NAN, 0, DECISION_NOTIFIED,
     NAN, "notify: the decision is the notification"},
    {"auto_shed_goes_to_placement", POL_MODE_AUTO, POL_ACTION_SHED, NULL, 140, 0,
     DECISION_PLACING, 140, NULL},
    {"auto_rebalance_goes_to_placement", POL_MODE_AUTO, POL_ACTION_REBALANCE, NULL, NAN, 0,
     DECISION_PLACING, NAN, NULL},
    {"unknown_when_beats_mode", POL_MODE_AUTO, POL_ACTION_NOTIFY, "when", NAN, 0,
     DECISION_INPUTS_UNKNOWN, NAN, "inputs unknown: `when`"},
    {"unknown_clear_in_observe", POL_MODE_OBSERVE, POL_ACTION_SHED, "clear", 30, 0,
     DECISION_INPUTS_UNKNOWN, 30, "inputs unknown: `clear`"},
    {"unknown_kw_is_inputs_unknown", POL_MODE_AUTO, POL_ACTION_SHED, NULL, NAN, 0,
     DECISION_INPUTS_UNKNOWN, NAN, "inputs unknown: `action.kw`"},
    {"negative_kw_is_no_need", POL_MODE_AUTO, POL_ACTION_SHED, NULL, -30, 0, DECISION_NO_NEED, -30,
     "no need: action.kw is -30 kW"},
    {"zero_need_is_no_need", POL_MODE_APPROVE, POL_ACTION_SHED, NULL, 0, 0, DECISION_NO_NEED, 0,
     "no need: action.kw is 0 kW"},
    {"inflight_covers_need", POL_MODE_AUTO, POL_ACTION_SHED, NULL, 40, 60, DECISION_NO_NEED, -20,
     "need met by in-flight work: action.kw 40 kW, in flight 60 kW"},
    {"inflight_reduces_need", POL_MODE_AUTO, POL_ACTION_SHED, NULL, 100, 60, DECISION_PLACING,
     40, NULL},
};

static void test_classify_follows_mode_action_and_inputs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof classify_cases / sizeof classify_cases[0]; i++) {
        const struct classify_case *c = &classify_cases[i];
        struct decision d;
        decision_init(&d);
        d.kind = c->kind;
        struct decision_facts f = {c->mode, c->unknown, c->kw, c->inflight_kw};
        decision_classify(&d, &f);
        /* placing adds no reason: placement adds what it did */
        if (d.status != c->status || d.nreasons != (c->reason ? 1u : 0u) ||
            (c->reason && !strstr(d.reasons[0], c->reason)))
            fail_msg("%s: status %s reason '%s'", c->name, decision_status_name(d.status),
                     d.nreasons ? d.reasons[0] : "");
        if (isnan(c->need_kw) ? !isnan(d.need_kw) : d.need_kw != c->need_kw)
            fail_msg("%s: need_kw %g, want %g", c->name, d.need_kw, c->need_kw);
        decision_clear(&d);
    }
}

static void test_status_and_kind_names_round_trip(void **state)
{
    (void)state;
    static const char *const statuses[] = {
        "inputs-unknown", "no-need", "observed", "awaiting-approval", "notified",
        "no-placement",   "rejected", "placing",  "placed",           "partial"};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        enum decision_status s;
        assert_int_equal(decision_status_parse(statuses[i], &s), 0);
        assert_string_equal(decision_status_name(s), statuses[i]);
    }
    enum decision_status s;
    assert_int_equal(decision_status_parse("Observed", &s), -1);
    static const char *const kinds[] = {"shed", "notify", "rebalance"};
    for (size_t i = 0; i < 3; i++) {
        enum pol_action_type k;
        assert_int_equal(decision_kind_parse(kinds[i], &k), 0);
        assert_string_equal(decision_kind_name(k), kinds[i]);
    }
    enum pol_action_type k;
    assert_int_equal(decision_kind_parse("migrate", &k), -1);
}

/* ---- JSON ---------------------------------------------------------------------- */

/* 2026-01-15T09:12:00Z */
#define TS_2026_01_15_0912 1768468320000LL

static void fill_sample(struct decision *d)
{
    decision_init(d);
    d->id = 42;
    d->ts_ms = TS_2026_01_15_0912;
    decision_set_policy(d, "cooling-shortfall");
    d->kind = POL_ACTION_SHED;
    decision_add_input(d, "cooling.capacity_kw", 300, true);
    decision_add_input(d, "it.load_kw", 0, false);
    decision_add_input(d, "rate(room.inlet_c, 5m)", 0.0125, true);
    decision_add_workload(d, &(struct decision_workload){.name = "shop",
                                                         .namespace_ = "shop-prod",
                                                         .power_kw = 40,
                                                         .priority = 10,
                                                         .data_gb = 37,
                                                         .downtime_s = 588.5,
                                                         .chosen = true,
                                                         .to = "falkenberg-1",
                                                         .reservation = "rsv-0a1b",
                                                         .reason = "lowest priority"});
    decision_add_workload(d, &(struct decision_workload){.name = "db",
                                                         .power_kw = 60,
                                                         .priority = 50,
                                                         .data_gb = NAN,
                                                         .downtime_s = NAN,
                                                         .chosen = false,
                                                         .reason = "pinned"});
    decision_add_peer(d, &(struct decision_peer){.name = "falkenberg-1",
                                                 .accepting = true,
                                                 .spare_kw = 220.5,
                                                 .reserved_kw = 40,
                                                 .reason = "most spare"});
    decision_add_peer(
        d, &(struct decision_peer){
               .name = "oslo-2", .accepting = false, .spare_kw = NAN, .reason = "unreachable"});
    struct decision_facts f = {POL_MODE_AUTO, NULL, 400 * 1.1 - 300, 0};
    decision_add_reason(d, "entered firing: `when` held for %s", "2m");
    decision_classify(d, &f);
    d->status = DECISION_PARTIAL;
    d->placed_kw = 40;
    d->deadline_s = 1800;
    decision_add_reason(d, "placed 40 of 140 kW; 100 kW missing");
}

static void test_json_has_the_api_shape(void **state)
{
    (void)state;
    struct decision d;
    fill_sample(&d);
    char *text = decision_to_text(&d);
    assert_string_equal(
        text,
        "{\"id\":42,\"ts\":\"2026-01-15T09:12:00Z\",\"policy\":\"cooling-shortfall\","
        "\"kind\":\"shed\",\"status\":\"partial\",\"need_kw\":140,\"placed_kw\":40,"
        "\"inflight_kw\":0,\"deadline_s\":1800,"
        "\"inputs\":[{\"name\":\"cooling.capacity_kw\",\"value\":300,\"quality\":\"good\"},"
        "{\"name\":\"it.load_kw\",\"value\":null,\"quality\":\"unknown\"},"
        "{\"name\":\"rate(room.inlet_c, 5m)\",\"value\":0.0125,\"quality\":\"good\"}],"
        "\"workloads\":[{\"name\":\"shop\",\"namespace\":\"shop-prod\",\"power_kw\":40,"
        "\"priority\":10,\"data_gb\":37,\"downtime_s\":588.5,"
        "\"chosen\":true,\"to\":\"falkenberg-1\",\"reservation\":\"rsv-0a1b\","
        "\"reason\":\"lowest priority\"},"
        "{\"name\":\"db\",\"namespace\":\"db\",\"power_kw\":60,\"priority\":50,"
        "\"data_gb\":null,\"downtime_s\":null,\"chosen\":false,\"to\":null,"
        "\"reservation\":null,\"reason\":\"pinned\"}],"
        "\"peers\":[{\"name\":\"falkenberg-1\",\"accepting\":true,\"spare_kw\":220.5,"
        "\"reserved_kw\":40,\"reason\":\"most spare\"},"
        "{\"name\":\"oslo-2\",\"accepting\":false,\"spare_kw\":null,\"reserved_kw\":0,"
        "\"reason\":\"unreachable\"}],"
        "\"reasons\":[\"entered firing: `when` held for 2m\","
        "\"placed 40 of 140 kW; 100 kW missing\"]}");
    free(text);
    decision_clear(&d);
}

static void test_json_empty_decision_keeps_every_field(void **state)
{
    (void)state;
    struct decision d;
    decision_init(&d);
    decision_set_policy(&d, "ups-on-battery");
    d.ts_ms = 1773131250500LL;
    char *text = decision_to_text(&d);
    assert_string_equal(text, "{\"id\":0,\"ts\":\"2026-03-10T08:27:30.500Z\","
                              "\"policy\":\"ups-on-battery\",\"kind\":\"notify\","
                              "\"status\":\"inputs-unknown\",\"need_kw\":null,"
                              "\"placed_kw\":null,\"inflight_kw\":null,\"deadline_s\":null,"
                              "\"inputs\":[],"
                              "\"workloads\":[],\"peers\":[],\"reasons\":[]}");
    free(text);
    decision_clear(&d);
}

/* Numbers survive JSON to 12 significant digits (decision.h). */
static bool same_number(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return fabs(a - b) <= 1e-11 * fmax(1.0, fabs(a));
}

static void assert_same_decision(const struct decision *a, const struct decision *b)
{
    assert_int_equal(a->id, b->id);
    assert_int_equal(a->ts_ms, b->ts_ms);
    assert_string_equal(a->policy, b->policy);
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->status, b->status);
    assert_true(same_number(a->need_kw, b->need_kw));
    assert_true(same_number(a->placed_kw, b->placed_kw));
    assert_true(same_number(a->inflight_kw, b->inflight_kw));
    assert_true(same_number(a->deadline_s, b->deadline_s));
    assert_int_equal(a->ninputs, b->ninputs);
    for (size_t i = 0; i < a->ninputs; i++) {
        assert_string_equal(a->inputs[i].name, b->inputs[i].name);
        assert_int_equal(a->inputs[i].good, b->inputs[i].good);
        assert_true(same_number(a->inputs[i].value, b->inputs[i].value));
    }
    assert_int_equal(a->nworkloads, b->nworkloads);
    for (size_t i = 0; i < a->nworkloads; i++) {
        const struct decision_workload *x = &a->workloads[i], *y = &b->workloads[i];
        assert_string_equal(x->name, y->name);
        assert_true((x->namespace_ == NULL) == (y->namespace_ == NULL));
        if (x->namespace_)
            assert_string_equal(x->namespace_, y->namespace_);
        assert_true(same_number(x->power_kw, y->power_kw));
        assert_int_equal(x->priority, y->priority);
        assert_true(same_number(x->data_gb, y->data_gb));
        assert_true(same_number(x->downtime_s, y->downtime_s));
        assert_int_equal(x->chosen, y->chosen);
        assert_true((x->to == NULL) == (y->to == NULL));
        if (x->to)
            assert_string_equal(x->to, y->to);
        assert_true((x->reservation == NULL) == (y->reservation == NULL));
        if (x->reservation)
            assert_string_equal(x->reservation, y->reservation);
        assert_string_equal(x->reason, y->reason);
    }
    assert_int_equal(a->npeers, b->npeers);
    for (size_t i = 0; i < a->npeers; i++) {
        assert_string_equal(a->peers[i].name, b->peers[i].name);
        assert_int_equal(a->peers[i].accepting, b->peers[i].accepting);
        assert_true(same_number(a->peers[i].spare_kw, b->peers[i].spare_kw));
        assert_true(same_number(a->peers[i].reserved_kw, b->peers[i].reserved_kw));
        assert_string_equal(a->peers[i].reason, b->peers[i].reason);
    }
    assert_int_equal(a->nreasons, b->nreasons);
    for (size_t i = 0; i < a->nreasons; i++)
        assert_string_equal(a->reasons[i], b->reasons[i]);
}

static void test_json_round_trip_keeps_every_field(void **state)
{
    (void)state;
    struct decision d, back;
    fill_sample(&d);
    char *text = decision_to_text(&d);
    char err[256] = "";
    assert_int_equal(decision_parse(text, strlen(text), &back, err, sizeof err), 0);
    assert_same_decision(&d, &back);
    char *again = decision_to_text(&back);
    assert_string_equal(text, again);
    free(text);
    free(again);
    decision_clear(&d);
    decision_clear(&back);
}

/* A rebalance record keeps its parameters, its window, what it counted
 * and each workload's home through the store. */
static void test_rebalance_json_round_trip_keeps_home_and_window(void **state)
{
    (void)state;
    struct decision d, back;
    decision_init(&d);
    d.id = 4;
    d.ts_ms = 1774746000000LL; /* 2026-03-29T01:00:00Z */
    d.kind = POL_ACTION_REBALANCE;
    d.status = DECISION_PLACED;
    d.placed_kw = 30;
    decision_set_policy(&d, "overnight");
    d.rebalance = (struct decision_rebalance){.min_gain_kw = 50,
                                              .max_migrations = 2,
                                              .min_residency_ms = 86400000,
                                              .window_start_ms = 1774742400000LL,
                                              .window_end_ms = 1774756800000LL,
                                              .started_in_window = 1,
                                              .site_spare_kw = 120.5};
    decision_add_workload(&d, &(struct decision_workload){.name = "web",
                                                          .power_kw = 30,
                                                          .data_gb = NAN,
                                                          .downtime_s = 0,
                                                          .chosen = true,
                                                          .to = "lulea-1",
                                                          .reservation = "r-9",
                                                          .reason = "home",
                                                          .home_site = "lulea-1"});
    struct decision_workload own = {
        .name = "own", .power_kw = 5, .data_gb = NAN, .downtime_s = NAN, .reason = "stays"};
    decision_add_workload(&d, &own);
    char *text = decision_to_text(&d);
    assert_non_null(strstr(text, "\"rebalance\":{\"min_gain_kw\":50,\"max_migrations\":2,"
                                 "\"min_residency_s\":86400,\"window_start\":"
                                 "\"2026-03-29T00:00:00Z\",\"window_end\":\"2026-03-29T04:00:00Z\","
                                 "\"started_in_window\":1,\"site_spare_kw\":120.5}"));
    assert_non_null(strstr(text, "\"home_site\":\"lulea-1\"}"));
    assert_non_null(strstr(text, "\"home_site\":null}"));
    char err[256] = "";
    assert_int_equal(decision_parse(text, strlen(text), &back, err, sizeof err), 0);
    assert_same_decision(&d, &back);
    assert_string_equal(back.workloads[0].home_site, "lulea-1");
    assert_null(back.workloads[1].home_site);
    assert_true(same_number(back.rebalance.min_gain_kw, 50));
    assert_int_equal(back.rebalance.max_migrations, 2);
    assert_int_equal(back.rebalance.min_residency_ms, 86400000);
    assert_int_equal(back.rebalance.window_start_ms, d.rebalance.window_start_ms);
    assert_int_equal(back.rebalance.window_end_ms, d.rebalance.window_end_ms);
    assert_int_equal(back.rebalance.started_in_window, 1);
    assert_true(same_number(back.rebalance.site_spare_kw, 120.5));
    char *again = decision_to_text(&back);
    assert_string_equal(text, again);
    free(text);
    free(again);
    decision_clear(&d);
    decision_clear(&back);

    /* Before planning (observe, approve, replay) the counts are null; a
     * shed record has neither key. */
    decision_init(&d);
    d.kind = POL_ACTION_REBALANCE;
    decision_set_policy(&d, "p");
    text = decision_to_text(&d);
    assert_non_null(strstr(text, "\"started_in_window\":null,\"site_spare_kw\":null}"));
    assert_non_null(strstr(text, "\"window_start\":null,\"window_end\":null"));
    free(text);
    d.kind = POL_ACTION_SHED;
    text = decision_to_text(&d);
    assert_null(strstr(text, "rebalance"));
    free(text);
    decision_clear(&d);
}

static void test_json_numbers_lose_float_noise_only(void **state)
{
    (void)state;
    struct decision d;
    decision_init(&d);
    decision_set_policy(&d, "p");
    decision_add_input(&d, "a", 400 * 1.1, true);         /* 440.00000000000006 */
    decision_add_input(&d, "b", 412.3999938964844, true); /* a float32 reading */
    decision_add_input(&d, "c", 1e-7, true);
    char *text = decision_to_text(&d);
    assert_non_null(strstr(text, "\"value\":440,"));
    assert_non_null(strstr(text, "\"value\":412.399993896,"));
    assert_non_null(strstr(text, "\"value\":1e-07,"));
    free(text);
    decision_clear(&d);
}

struct parse_case {
    const char *name;
    const char *json;
    const char *err;
};

#define BASE_HEAD "{\"id\":1,\"ts\":\"2026-01-15T09:12:00Z\",\"policy\":\"p\",\"kind\":\"shed\","
#define BASE_TAIL "\"workloads\":[],\"peers\":[],\"reasons\":[]}"

static const struct parse_case parse_cases[] = {
    {"not_json", "{\"id\":", "decision: not valid JSON"},
    {"not_object", "[1]", "decision: must be an object"},
    {"id_missing", "{\"ts\":\"2026-01-15T09:12:00Z\"}", "id: required"},
    {"id_fraction", "{\"id\":1.5}", "id: must be a non-negative integer"},
    {"ts_bad", "{\"id\":1,\"ts\":\"yesterday\"}", "ts: not an RFC 3339 time: 'yesterday'"},
    {"kind_unknown",
     "{\"id\":1,\"ts\":\"2026-01-15T09:12:00Z\",\"policy\":\"p\",\"kind\":\"move\","
     "\"status\":\"observed\"}",
     "kind: unknown kind 'move'"},
    {"status_unknown", BASE_HEAD "\"status\":\"done\"}", "status: unknown status 'done'"},
    {"need_kw_string", BASE_HEAD "\"status\":\"observed\",\"need_kw\":\"5\"}",
     "need_kw: must be a number or null"},
    {"inputs_missing", BASE_HEAD "\"status\":\"observed\",\"need_kw\":null}", "inputs: required"},
    {"input_quality_bad",
     BASE_HEAD
     "\"status\":\"observed\",\"need_kw\":1,\"inputs\":[{\"name\":\"a\",\"value\":1,"
     "\"quality\":\"good\"},{\"name\":\"b\",\"value\":2,\"quality\":\"stale\"}]," BASE_TAIL,
     "inputs[1].quality: must be \"good\" or \"unknown\""},
    {"good_input_without_value",
     BASE_HEAD "\"status\":\"observed\",\"need_kw\":1,\"inputs\":[{\"name\":\"a\",\"value\":null,"
               "\"quality\":\"good\"}]," BASE_TAIL,
     "inputs[0].value: a good input needs a number"},
    {"workload_chosen_missing",
     BASE_HEAD "\"status\":\"observed\",\"need_kw\":1,\"inputs\":[],\"workloads\":[{\"name\":"
               "\"w\",\"power_kw\":1}],\"peers\":[],\"reasons\":[]}",
     "workloads[0].chosen: required"},
    {"peer_not_object",
     BASE_HEAD "\"status\":\"observed\",\"need_kw\":1,\"inputs\":[],\"workloads\":[],"
               "\"peers\":[3],\"reasons\":[]}",
     "peers[0]: must be an object"},
    {"rebalance_window_bad",
     BASE_HEAD "\"status\":\"observed\",\"need_kw\":1,\"inputs\":[],\"rebalance\":"
               "{\"window_start\":\"tonight\"}," BASE_TAIL,
     "rebalance.window_start: not an RFC 3339 time: 'tonight'"},
    {"rebalance_max_fraction",
     BASE_HEAD "\"status\":\"observed\",\"need_kw\":1,\"inputs\":[],\"rebalance\":"
               "{\"max_migrations\":1.5}," BASE_TAIL,
     "rebalance.max_migrations: must be a whole number"},
    {"reason_not_string",
     BASE_HEAD "\"status\":\"observed\",\"need_kw\":1,\"inputs\":[],\"workloads\":[],"
               "\"peers\":[],\"reasons\":[\"ok\",7]}",
     "reasons[1]: must be a string"},
};

static void test_parse_names_the_bad_field(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const struct parse_case *c = &parse_cases[i];
        struct decision d;
        char err[256] = "";
        int rc = decision_parse(c->json, strlen(c->json), &d, err, sizeof err);
        if (rc != -1 || strcmp(err, c->err) != 0)
            fail_msg("%s: rc %d err '%s', want '%s'", c->name, rc, err, c->err);
        /* A failed parse leaves nothing behind to free. */
        assert_null(d.policy);
        assert_int_equal(d.ninputs, 0);
    }
}

static void test_parse_ignores_keys_of_newer_records(void **state)
{
    (void)state;
    const char *json = BASE_HEAD "\"status\":\"observed\",\"need_kw\":null,\"inputs\":[],"
                                 "\"approved_by\":\"facility\"," BASE_TAIL;
    struct decision d;
    char err[256] = "";
    assert_int_equal(decision_parse(json, strlen(json), &d, err, sizeof err), 0);
    assert_int_equal(d.status, DECISION_OBSERVED);
    assert_true(isnan(d.need_kw));
    decision_clear(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_follows_mode_action_and_inputs),
        cmocka_unit_test(test_status_and_kind_names_round_trip),
        cmocka_unit_test(test_json_has_the_api_shape),
        cmocka_unit_test(test_json_empty_decision_keeps_every_field),
        cmocka_unit_test(test_json_round_trip_keeps_every_field),
        cmocka_unit_test(test_rebalance_json_round_trip_keeps_home_and_window),
        cmocka_unit_test(test_json_numbers_lose_float_noise_only),
        cmocka_unit_test(test_parse_names_the_bad_field),
        cmocka_unit_test(test_parse_ignores_keys_of_newer_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
