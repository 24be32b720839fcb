/*
 * test_check — the verdict of `floe check` (agent/check.h) as a table:
 * an agent's /v1/status and /v1/migrations answers in, the exit code and
 * the exact plugin line out. Each case is one rule: which problems are
 * WARNING, CRITICAL or UNKNOWN, the worst first, which migrations count
 * as failed (rolled back within the window, rolling back now, not on
 * `floe abort`), spare thresholds, unreadable answers naming the field,
 * perfdata with thresholds and U for unknown, agent text cleaned.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/check.h"
#include "lib/util.h"

/* 2026-11-30T09:00:00Z */
#define NOW_MS 1796029200000LL

/* A status answer from its parts; the defaults are a healthy site. */
#define STATUS(alarms, collectors, peers, active, capacity)                                        \
    "{\"site\":\"lulea-1\",\"version\":\"0.1.0\",\"accepting\":true,\"alarms\":" alarms            \
    ",\"collectors\":" collectors ",\"peers\":" peers ",\"migrations_active\":" active             \
    ",\"capacity\":" capacity "}"
#define NO_ALARMS "[]"
#define COLLECTORS_OK "{\"ok\":4,\"failing\":0,\"pending\":0,\"failing_devices\":[]}"
#define PEERS_OK "[{\"name\":\"falkenberg-1\",\"state\":\"ok\"}]"
#define CAPACITY_OK                                                                                \
    "{\"spare_kw\":150,\"power_headroom_kw\":400,\"cooling_headroom_kw\":190,\"reserved_kw\":20,"  \
    "\"reason\":null}"
#define HEALTHY STATUS(NO_ALARMS, COLLECTORS_OK, PEERS_OK, "0", CAPACITY_OK)

#define CRITICAL_FIRING                                                                            \
    "{\"policy\":\"cooling-shortfall\",\"severity\":\"critical\",\"state\":\"firing\","            \
    "\"since\":\"2026-11-30T08:50:00Z\"}"
#define WARNING_FIRING                                                                             \
    "{\"policy\":\"room-inlet-high\",\"severity\":\"warning\",\"state\":\"firing\","               \
    "\"since\":\"2026-11-30T08:51:00Z\"}"
#define CRITICAL_PENDING                                                                           \
    "{\"policy\":\"cooling-shortfall\",\"severity\":\"critical\",\"state\":\"pending\","           \
    "\"since\":\"2026-11-30T08:59:00Z\"}"

/* One migration of the list. */
#define MIG(id, phase, result, ended, abort)                                                       \
    "{\"id\":" #id ",\"workload\":\"shop\",\"from\":\"lulea-1\",\"to\":\"falkenberg-1\","          \
    "\"phase\":\"" phase "\",\"started\":\"2026-11-30T06:00:00Z\",\"ended\":" ended                \
    ",\"result\":" result ",\"abort_requested\":" abort ",\"events\":[]}"
/* With the "aborted" field of a newer agent. */
#define MIG_ABORTED(id, result, ended, abort, aborted)                                             \
    "{\"id\":" #id ",\"workload\":\"shop\",\"from\":\"lulea-1\",\"to\":\"falkenberg-1\","          \
    "\"phase\":\"rolled-back\",\"started\":\"2026-11-30T06:00:00Z\",\"ended\":" ended          \
    ",\"result\":" result ",\"abort_requested\":" abort ",\"aborted\":" aborted               \
    ",\"events\":[]}"
#define MIGS(...) "{\"migrations\":[" __VA_ARGS__ "]}"

#define PERF_HEALTHY                                                                               \
    " | spare_kw=150;;;0 firing_critical=0;;0;0 firing_warning=0;0;;0 "                            \
    "collectors_failing=0;0;;0;4 peers_down=0;0;;0;1 migrations_active=0;;;0"

#define HOUR_MS (3600 * 1000LL)

struct check_case {
    const char *name;
    const char *status;
    const char *migrations; /* NULL: the request failed with migrations_error */
    const char *migrations_error;
    double spare_warn_kw, spare_crit_kw; /* 0 in the table means no threshold */
    int64_t failed_within_ms;            /* 0 in the table means the default, -1 means 0 */
    enum check_code code;
    const char *line;
};

static const struct check_case cases[] = {
    {"healthy_site_is_ok_with_counts_and_perfdata", HEALTHY, MIGS(), NULL, 0, 0, 0, CHECK_OK,
     "FLOE OK - lulea-1: no policy firing, 4 collectors ok, 1 peer ok, 0 migrations "
     "active" PERF_HEALTHY},
    {"a_pending_policy_is_not_a_problem",
     STATUS("[" CRITICAL_PENDING "]", COLLECTORS_OK, PEERS_OK, "0", CAPACITY_OK), MIGS(), NULL, 0,
     0, 0, CHECK_OK,
     "FLOE OK - lulea-1: no policy firing, 4 collectors ok, 1 peer ok, 0 migrations "
     "active" PERF_HEALTHY},
    {"warning_policy_firing_is_warning",
     STATUS("[" WARNING_FIRING "]", COLLECTORS_OK, PEERS_OK, "0", CAPACITY_OK), MIGS(), NULL, 0, 0,
     0, CHECK_WARNING,
     "FLOE WARNING - room-inlet-high firing (warning) | spare_kw=150;;;0 firing_critical=0;;0;0 "
     "firing_warning=1;0;;0 collectors_failing=0;0;;0;4 peers_down=0;0;;0;1 "
     "migrations_active=0;;;0"},
    {"critical_first_then_every_warning",
     STATUS("[" WARNING_FIRING "," CRITICAL_FIRING "]",
            "{\"ok\":3,\"failing\":1,\"pending\":1,\"failing_devices\":[{\"device\":\"meter-b\","
            "\"protocol\":\"modbus\",\"error\":\"Connection refused\"}]}",
            "[{\"name\":\"falkenberg-1\",\"state\":\"ok\"},{\"name\":\"oslo-2\",\"state\":"
            "\"unreachable\"}]",
            "2", CAPACITY_OK),
     MIGS(), NULL, 0, 0, 0, CHECK_CRITICAL,
     "FLOE CRITICAL - cooling-shortfall firing; room-inlet-high firing (warning); collector "
     "meter-b (modbus) down; peer oslo-2 unreachable | spare_kw=150;;;0 firing_critical=1;;0;0 "
     "firing_warning=1;0;;0 collectors_failing=1;0;;0;5 peers_down=1;0;;0;2 "
     "migrations_active=2;;;0"},
    {"failing_collectors_without_names_are_counted",
     STATUS(NO_ALARMS, "{\"ok\":2,\"failing\":2,\"pending\":0}", PEERS_OK, "0", CAPACITY_OK),
     MIGS(), NULL, 0, 0, 0, CHECK_WARNING,
     "FLOE WARNING - 2 collectors down | spare_kw=150;;;0 firing_critical=0;;0;0 "
     "firing_warning=0;0;;0 collectors_failing=2;0;;0;4 peers_down=0;0;;0;1 "
     "migrations_active=0;;;0"},
    {"peers_refusing_or_answering_garbage_are_down_pending_ones_are_not",
     STATUS(NO_ALARMS, COLLECTORS_OK,
            "[{\"name\":\"a\",\"state\":\"refused\"},{\"name\":\"b\",\"state\":\"garbage\"},"
            "{\"name\":\"c\",\"state\":\"pending\"}]",
            "0", CAPACITY_OK),
     MIGS(), NULL, 0, 0, 0, CHECK_WARNING,
     "FLOE WARNING - peer a refuses us; peer b answers garbage | spare_kw=150;;;0 "
     "firing_critical=0;;0;0 firing_warning=0;0;;0 collectors_failing=0;0;;0;4 "
     "peers_down=2;0;;0;3 migrations_active=0;;;0"},
    {"a_status_without_peers_has_none_down",
     "{\"site\":\"lulea-1\",\"alarms\":[],\"collectors\":" COLLECTORS_OK
     ",\"migrations_active\":0,\"capacity\":" CAPACITY_OK "}",
     MIGS(), NULL, 0, 0, 0, CHECK_OK,
     "FLOE OK - lulea-1: no policy firing, 4 collectors ok, 0 peers ok, 0 migrations active | "
     "spare_kw=150;;;0 firing_critical=0;;0;0 firing_warning=0;0;;0 collectors_failing=0;0;;0;4 "
     "peers_down=0;0;;0;0 migrations_active=0;;;0"},

    /* ---- migrations ---- */
    {"migration_rolled_back_12_minutes_ago_is_critical", HEALTHY,
     MIGS(MIG(4, "done", "\"done\"", "\"2026-11-30T08:50:00Z\"", "false") "," MIG(
         3, "rolled-back", "\"rolled-back\"", "\"2026-11-30T08:48:00Z\"", "false")),
     NULL, 0, 0, 0, CHECK_CRITICAL,
     "FLOE CRITICAL - migration 3 of shop to falkenberg-1 rolled back 12m ago" PERF_HEALTHY},
    {"a_fault_rollback_with_an_abort_asked_in_the_same_tick_is_critical", HEALTHY,
     MIGS(MIG_ABORTED(3, "\"rolled-back\"", "\"2026-11-30T08:48:00Z\"", "true", "false")), NULL, 0,
     0, 0, CHECK_CRITICAL,
     "FLOE CRITICAL - migration 3 of shop to falkenberg-1 rolled back 12m ago" PERF_HEALTHY},
    {"a_rollback_the_abort_started_is_not_a_fault", HEALTHY,
     MIGS(MIG_ABORTED(3, "\"rolled-back\"", "\"2026-11-30T08:48:00Z\"", "true", "true")), NULL, 0,
     0, 0, CHECK_OK,
     "FLOE OK - lulea-1: no policy firing, 4 collectors ok, 1 peer ok, 0 migrations "
     "active" PERF_HEALTHY},
    {"migration_rolled_back_2_hours_ago_no_longer_counts", HEALTHY,
     MIGS(MIG(3, "rolled-back", "\"rolled-back\"", "\"2026-11-30T07:00:00Z\"", "false")), NULL, 0,
     0, 0, CHECK_OK,
     "FLOE OK - lulea-1: no policy firing, 4 collectors ok, 1 peer ok, 0 migrations "
     "active" PERF_HEALTHY},
    {"failed_within_3h_keeps_it", HEALTHY,
     MIGS(MIG(3, "rolled-back", "\"rolled-back\"", "\"2026-11-30T07:00:00Z\"", "false")), NULL, 0,
     0, 3 * HOUR_MS, CHECK_CRITICAL,
     "FLOE CRITICAL - migration 3 of shop to falkenberg-1 rolled back 2h 00m ago" PERF_HEALTHY},
    {"a_migration_that_failed_counts_like_a_rollback", HEALTHY,
     MIGS(MIG(5, "failed", "\"failed\"", "\"2026-11-30T08:59:30Z\"", "false")), NULL, 0, 0, 0,
     CHECK_CRITICAL,
     "FLOE CRITICAL - migration 5 of shop to falkenberg-1 failed 30s ago" PERF_HEALTHY},
    {"failed_within_0_counts_only_a_rollback_under_way",
     STATUS(NO_ALARMS, COLLECTORS_OK, PEERS_OK, "1", CAPACITY_OK),
     MIGS(MIG(6, "rolling-back", "null", "null", "false") "," MIG(
         5, "rolled-back", "\"rolled-back\"", "\"2026-11-30T09:00:00Z\"", "false")),
     NULL, 0, 0, -1, CHECK_CRITICAL,
     "FLOE CRITICAL - migration 6 of shop to falkenberg-1 rolling back | spare_kw=150;;;0 "
     "firing_critical=0;;0;0 firing_warning=0;0;;0 collectors_failing=0;0;;0;4 "
     "peers_down=0;0;;0;1 migrations_active=1;;;0"},
    {"a_migration_rolling_back_now_is_critical",
     STATUS(NO_ALARMS, COLLECTORS_OK, PEERS_OK, "1", CAPACITY_OK),
     MIGS(MIG(6, "rolling-back", "null", "null", "false")), NULL, 0, 0, 0, CHECK_CRITICAL,
     "FLOE CRITICAL - migration 6 of shop to falkenberg-1 rolling back | spare_kw=150;;;0 "
     "firing_critical=0;;0;0 firing_warning=0;0;;0 collectors_failing=0;0;;0;4 "
     "peers_down=0;0;;0;1 migrations_active=1;;;0"},
    {"an_aborted_migration_is_not_a_fault",
     STATUS(NO_ALARMS, COLLECTORS_OK, PEERS_OK, "1", CAPACITY_OK),
     MIGS(MIG(7, "rolling-back", "null", "null", "true") "," MIG(
         3, "rolled-back", "\"rolled-back\"", "\"2026-11-30T08:48:00Z\"", "true")),
     NULL, 0, 0, 0, CHECK_OK,
     "FLOE OK - lulea-1: no policy firing, 4 collectors ok, 1 peer ok, 1 migration active | "
     "spare_kw=150;;;0 firing_critical=0;;0;0 firing_warning=0;0;;0 collectors_failing=0;0;;0;4 "
     "peers_down=0;0;;0;1 migrations_active=1;;;0"},
    {"migrations_unreadable_is_unknown", HEALTHY, NULL,
     "agent unreachable: http://127.0.0.1:8470/v1/migrations?limit=100: timed out", 0, 0, 0,
     CHECK_UNKNOWN,
     "FLOE UNKNOWN - migrations unreadable: agent unreachable: "
     "http://127.0.0.1:8470/v1/migrations?limit=100: timed out" PERF_HEALTHY},
    {"a_critical_policy_stays_critical_when_migrations_are_unreadable",
     STATUS("[" CRITICAL_FIRING "]", COLLECTORS_OK, PEERS_OK, "0", CAPACITY_OK), NULL,
     "/v1/migrations?limit=100: HTTP 500: database is locked", 0, 0, 0, CHECK_CRITICAL,
     "FLOE CRITICAL - cooling-shortfall firing; migrations unreadable: /v1/migrations?limit=100: "
     "HTTP 500: database is locked | spare_kw=150;;;0 firing_critical=1;;0;0 "
     "firing_warning=0;0;;0 collectors_failing=0;0;;0;4 peers_down=0;0;;0;1 "
     "migrations_active=0;;;0"},
    {"a_migration_of_another_shape_is_unknown", HEALTHY,
     MIGS("{\"id\":\"three\",\"workload\":\"shop\"}"), NULL, 0, 0, 0, CHECK_UNKNOWN,
     "FLOE UNKNOWN - /v1/migrations: migrations[0]: expected id, workload, to, phase, result, "
     "ended" PERF_HEALTHY},
    {"a_rolled_back_migration_without_an_end_time_is_unknown", HEALTHY,
     MIGS(MIG(3, "rolled-back", "\"rolled-back\"", "\"yesterday\"", "false")), NULL, 0, 0, 0,
     CHECK_UNKNOWN,
     "FLOE UNKNOWN - /v1/migrations: migrations[0].ended: expected a time" PERF_HEALTHY},
    {"migrations_active_null_is_a_warning_and_U",
     STATUS(NO_ALARMS, COLLECTORS_OK, PEERS_OK, "null", CAPACITY_OK), MIGS(), NULL, 0, 0, 0,
     CHECK_WARNING,
     "FLOE WARNING - migrations unknown: the agent cannot read its database | spare_kw=150;;;0 "
     "firing_critical=0;;0;0 firing_warning=0;0;;0 collectors_failing=0;0;;0;4 "
     "peers_down=0;0;;0;1 migrations_active=U;;;0"},

    /* ---- spare kW ---- */
    {"spare_below_warn_is_warning_with_the_range_in_perfdata", HEALTHY, MIGS(), NULL, 200, 0, 0,
     CHECK_WARNING,
     "FLOE WARNING - spare 150 kW below 200 kW | spare_kw=150;200:;;0 firing_critical=0;;0;0 "
     "firing_warning=0;0;;0 collectors_failing=0;0;;0;4 peers_down=0;0;;0;1 "
     "migrations_active=0;;;0"},
    {"spare_below_crit_is_critical", HEALTHY, MIGS(), NULL, 200, 160.5, 0, CHECK_CRITICAL,
     "FLOE CRITICAL - spare 150 kW below 160.5 kW | spare_kw=150;200:;160.5:;0 "
     "firing_critical=0;;0;0 firing_warning=0;0;;0 collectors_failing=0;0;;0;4 "
     "peers_down=0;0;;0;1 migrations_active=0;;;0"},
    {"spare_above_both_thresholds_is_ok", HEALTHY, MIGS(), NULL, 100, 50, 0, CHECK_OK,
     "FLOE OK - lulea-1: no policy firing, 4 collectors ok, 1 peer ok, 0 migrations active | "
     "spare_kw=150;100:;50:;0 firing_critical=0;;0;0 firing_warning=0;0;;0 "
     "collectors_failing=0;0;;0;4 peers_down=0;0;;0;1 migrations_active=0;;;0"},
    {"unknown_spare_with_a_threshold_is_a_warning_saying_why",
     STATUS(NO_ALARMS, COLLECTORS_OK, PEERS_OK, "0",
            "{\"spare_kw\":0,\"power_headroom_kw\":null,\"cooling_headroom_kw\":190,"
            "\"reserved_kw\":0,\"reason\":\"capacity input unknown: power.supply_kw (stale)\"}"),
     MIGS(), NULL, 50, 0, 0, CHECK_WARNING,
     "FLOE WARNING - spare kW unknown: capacity input unknown: power.supply_kw (stale) | "
     "spare_kw=U;50:;;0 firing_critical=0;;0;0 firing_warning=0;0;;0 "
     "collectors_failing=0;0;;0;4 peers_down=0;0;;0;1 migrations_active=0;;;0"},
    {"unknown_spare_without_a_threshold_is_only_U",
     STATUS(NO_ALARMS, COLLECTORS_OK, PEERS_OK, "0",
            "{\"spare_kw\":0,\"power_headroom_kw\":null,\"cooling_headroom_kw\":null,"
            "\"reserved_kw\":0,\"reason\":\"no capacity configured\"}"),
     MIGS(), NULL, 0, 0, 0, CHECK_OK,
     "FLOE OK - lulea-1: no policy firing, 4 collectors ok, 1 peer ok, 0 migrations active | "
     "spare_kw=U;;;0 firing_critical=0;;0;0 firing_warning=0;0;;0 collectors_failing=0;0;;0;4 "
     "peers_down=0;0;;0;1 migrations_active=0;;;0"},

    /* ---- a status it cannot read ---- */
    {"status_not_an_object", "[1,2]", MIGS(), NULL, 0, 0, 0, CHECK_UNKNOWN,
     "FLOE UNKNOWN - /v1/status: not a JSON object"},
    {"status_without_alarms",
     "{\"site\":\"lulea-1\",\"collectors\":" COLLECTORS_OK ",\"migrations_active\":0,"
     "\"capacity\":" CAPACITY_OK "}",
     MIGS(), NULL, 0, 0, 0, CHECK_UNKNOWN, "FLOE UNKNOWN - /v1/status: alarms: expected a list"},
    {"alarm_of_an_unknown_severity",
     STATUS("[{\"policy\":\"x\",\"severity\":\"major\",\"state\":\"firing\"}]", COLLECTORS_OK,
            PEERS_OK, "0", CAPACITY_OK),
     MIGS(), NULL, 0, 0, 0, CHECK_UNKNOWN,
     "FLOE UNKNOWN - /v1/status: alarms[0].severity: 'major' is neither warning nor critical"},
    {"a_later_unreadable_field_never_hides_a_critical_seen_before",
     STATUS("[" CRITICAL_FIRING "]", "{\"ok\":4,\"failing\":-1,\"pending\":0}", PEERS_OK, "0",
            CAPACITY_OK),
     MIGS(), NULL, 0, 0, 0, CHECK_CRITICAL,
     "FLOE CRITICAL - cooling-shortfall firing; /v1/status: collectors: expected ok, failing and "
     "pending as whole numbers"},
    {"a_later_unreadable_field_after_a_warning_is_unknown",
     STATUS("[{\"policy\":\"w\",\"severity\":\"warning\",\"state\":\"firing\"}]",
            "{\"ok\":4,\"failing\":-1,\"pending\":0}", PEERS_OK, "0", CAPACITY_OK),
     MIGS(), NULL, 0, 0, 0, CHECK_UNKNOWN,
     "FLOE UNKNOWN - /v1/status: collectors: expected ok, failing and pending as whole numbers"},
    {"a_peer_in_a_state_the_check_does_not_know_is_down",
     STATUS(NO_ALARMS, COLLECTORS_OK, "[{\"name\":\"x\",\"state\":\"sleeping\"}]", "0",
            CAPACITY_OK),
     MIGS(), NULL, 0, 0, 0, CHECK_WARNING,
     "FLOE WARNING - peer x in state 'sleeping' | spare_kw=150;;;0 firing_critical=0;;0;0 "
     "firing_warning=0;0;;0 collectors_failing=0;0;;0;4 peers_down=1;0;;0;1 "
     "migrations_active=0;;;0"},
    {"capacity_spare_not_a_number",
     STATUS(NO_ALARMS, COLLECTORS_OK, PEERS_OK, "0", "{\"spare_kw\":\"lots\"}"), MIGS(), NULL, 0, 0,
     0, CHECK_UNKNOWN, "FLOE UNKNOWN - /v1/status: capacity.spare_kw: expected a number"},
    {"migrations_active_missing",
     "{\"site\":\"lulea-1\",\"alarms\":[],\"collectors\":" COLLECTORS_OK
     ",\"capacity\":" CAPACITY_OK "}",
     MIGS(), NULL, 0, 0, 0, CHECK_UNKNOWN,
     "FLOE UNKNOWN - /v1/status: migrations_active: expected a whole number or null"},

    /* ---- agent text in the line ---- */
    {"a_bar_or_newline_from_the_agent_cannot_start_perfdata_or_a_second_line",
     STATUS("[{\"policy\":\"a|b\\nc\",\"severity\":\"warning\",\"state\":\"firing\"}]",
            COLLECTORS_OK, PEERS_OK, "0", CAPACITY_OK),
     MIGS(), NULL, 0, 0, 0, CHECK_WARNING,
     "FLOE WARNING - a/b c firing (warning) | spare_kw=150;;;0 firing_critical=0;;0;0 "
     "firing_warning=1;0;;0 collectors_failing=0;0;;0;4 peers_down=0;0;;0;1 "
     "migrations_active=0;;;0"},
};

static void run_case(void **state)
{
    const struct check_case *c = *state;
    cJSON *status = cJSON_Parse(c->status);
    assert_non_null(status);
    cJSON *migrations = c->migrations ? cJSON_Parse(c->migrations) : NULL;
    if (c->migrations)
        assert_non_null(migrations);
    struct check_answers in = {.status = status,
                               .migrations = migrations,
                               .migrations_error = c->migrations_error,
                               .now_ms = NOW_MS};
    struct check_opts o = {.spare_warn_kw = c->spare_warn_kw ? c->spare_warn_kw : NAN,
                           .spare_crit_kw = c->spare_crit_kw ? c->spare_crit_kw : NAN,
                           .failed_within_ms = c->failed_within_ms < 0 ? 0
                                               : c->failed_within_ms
                                                   ? c->failed_within_ms
                                                   : CHECK_FAILED_WITHIN_DEFAULT_MS};
    char *line = NULL;
    enum check_code code = check_verdict(&in, &o, &line);
    assert_non_null(line);
    assert_string_equal(line, c->line);
    assert_int_equal(code, c->code);
    free(line);
    cJSON_Delete(migrations);
    cJSON_Delete(status);
}

/* A long name is cut at a character boundary and ends in "…"; the line
 * stays valid UTF-8 (a cut inside "ö" would not be). */
static void long_agent_text_is_cut_at_a_character(void **state)
{
    (void)state;
    char name[400] = "";
    for (int i = 0; i < 100; i++)
        strcat(name, "ö");
    char status[1024];
    snprintf(status, sizeof status,
             STATUS("[]",
                    "{\"ok\":0,\"failing\":1,\"pending\":0,\"failing_devices\":[{\"device\":"
                    "\"%s\",\"protocol\":\"modbus\"}]}",
                    "[]", "0", CAPACITY_OK),
             name);
    cJSON *st = cJSON_Parse(status);
    assert_non_null(st);
    cJSON *migs = cJSON_Parse(MIGS());
    struct check_answers in = {.status = st, .migrations = migs, .now_ms = NOW_MS};
    struct check_opts o = {.spare_warn_kw = NAN,
                           .spare_crit_kw = NAN,
                           .failed_within_ms = CHECK_FAILED_WITHIN_DEFAULT_MS};
    char *line = NULL;
    assert_int_equal(check_verdict(&in, &o, &line), CHECK_WARNING);
    assert_non_null(line);
    /* "collector " + the device name, cut where a 64-byte precision left
     * 32 whole characters; no half character, no '?'. */
    char want[256] = "FLOE WARNING - collector ";
    for (int i = 0; i < 32; i++)
        strcat(want, "ö");
    strcat(want, " (modbus) down | ");
    assert_memory_equal(line, want, strlen(want));
    assert_null(strchr(line, '?'));
    free(line);
    cJSON_Delete(migs);
    cJSON_Delete(st);
}

static void unknown_line_is_cleaned(void **state)
{
    (void)state;
    char *line = check_unknown_line("agent unreachable: http://x/|y\nz");
    assert_string_equal(line, "FLOE UNKNOWN - agent unreachable: http://x//y z");
    free(line);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(long_agent_text_is_cut_at_a_character),
        cmocka_unit_test(unknown_line_is_cleaned),
    };
    size_t ncases = sizeof cases / sizeof *cases, nfixed = sizeof fixed / sizeof *fixed;
    struct CMUnitTest *tests = calloc(ncases + nfixed, sizeof *tests);
    if (!tests)
        return 1;
    for (size_t i = 0; i < ncases; i++)
        tests[i] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL, (void *)&cases[i]};
    memcpy(tests + ncases, fixed, sizeof fixed);
    int failed = _cmocka_run_group_tests("check", tests, ncases + nfixed, NULL, NULL);
    free(tests);
    return failed;
}
