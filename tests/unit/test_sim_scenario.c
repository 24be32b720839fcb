/*
 * test_sim_scenario — scenario files (sim/sim_scenario.c): what is
 * accepted, what each mistake is reported as, and what a valid file
 * builds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_scenario.h"

#include <math.h>
#include <string.h>

static int parse(struct sim_scenario *sc, const char *text, char *err, size_t errlen)
{
    return sim_scenario_parse(sc, "t.json", text, strlen(text), err, errlen);
}

static void mistakes_are_reported_with_their_path(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *json;
        const char *err;
    } cases[] = {
        {"not_json", "{\"site\": ", "t.json: not valid JSON"},
        {"not_object", "[1]", "t.json: the top level must be an object"},
        {"site_missing", "{}", "t.json: site: missing"},
        {"site_name_missing", "{\"site\": {}}", "t.json: site.name: missing"},
        {"unknown_top_key", "{\"site\": {\"name\": \"a\"}, \"colour\": 1}",
         "t.json: colour: unknown key"},
        {"duplicate_top_key", "{\"site\": {\"name\": \"a\"}, \"site\": {\"name\": \"b\"}}",
         "t.json: site: duplicate key"},
        {"unknown_site_key", "{\"site\": {\"name\": \"a\", \"tz\": \"x\"}}",
         "t.json: site.tz: unknown key"},
        {"listen_not_ipv4", "{\"site\": {\"name\": \"a\"}, \"listen\": \"localhost\"}",
         "t.json: listen: expected an IPv4 address"},
        {"port_out_of_range", "{\"site\": {\"name\": \"a\"}, \"modbus\": {\"port\": 70000}}",
         "t.json: modbus.port: expected a port number"},
        {"port_fraction", "{\"site\": {\"name\": \"a\"}, \"http\": {\"port\": 80.5}}",
         "t.json: http.port: expected a port number"},
        {"speedup_zero", "{\"site\": {\"name\": \"a\"}, \"speedup\": 0}",
         "t.json: speedup: expected a number above 0"},
        {"unit_key_unknown",
         "{\"site\": {\"name\": \"a\"}, \"chillers\": [{\"name\": \"c1\", \"capacity_kw\": 1, "
         "\"colour\": 2}]}",
         "t.json: chillers[0].colour: unknown key"},
        {"unit_capacity_missing", "{\"site\": {\"name\": \"a\"}, \"crahs\": [{\"name\": \"c1\"}]}",
         "t.json: crahs[0].capacity_kw: missing"},
        {"unit_capacity_type",
         "{\"site\": {\"name\": \"a\"}, \"chillers\": [{\"name\": \"c1\", \"capacity_kw\": "
         "\"250\"}]}",
         "t.json: chillers[0].capacity_kw: expected a number"},
        {"unit_running_type",
         "{\"site\": {\"name\": \"a\"}, \"chillers\": [{\"name\": \"c1\", \"capacity_kw\": 1, "
         "\"running\": \"yes\"}]}",
         "t.json: chillers[0].running: expected true or false"},
        {"unit_derived_value",
         "{\"site\": {\"name\": \"a\"}, \"chillers\": [{\"name\": \"c1\", \"capacity_kw\": 1, "
         "\"alarm\": 0}]}",
         "t.json: chillers[0].alarm: derived from other values"},
        {"unit_name_twice",
         "{\"site\": {\"name\": \"a\"}, \"chillers\": [{\"name\": \"c1\", \"capacity_kw\": 1}],"
         " \"crahs\": [{\"name\": \"c1\", \"capacity_kw\": 1}]}",
         "t.json: crahs[0].name: unit name 'c1' is used twice"},
        {"unit_name_reserved",
         "{\"site\": {\"name\": \"a\"}, \"chillers\": [{\"name\": \"room\", \"capacity_kw\": 1}]}",
         "t.json: chillers[0].name: unit name 'room' is reserved"},
        {"units_not_array", "{\"site\": {\"name\": \"a\"}, \"chillers\": {}}",
         "t.json: chillers: expected an array"},
        {"section_unknown_key", "{\"site\": {\"name\": \"a\"}, \"room\": {\"humidity\": 40}}",
         "t.json: room.humidity: unknown key"},
        {"section_derived_value", "{\"site\": {\"name\": \"a\"}, \"it\": {\"load_kw\": 40}}",
         "t.json: it.load_kw: derived from other values"},
        {"section_out_of_range", "{\"site\": {\"name\": \"a\"}, \"supply\": {\"wind_kw\": -1}}",
         "t.json: supply.wind_kw: -1 is out of range"},
        {"ups_size_twice",
         "{\"site\": {\"name\": \"a\"}, \"ups\": {\"output_w\": 1000, \"capacity_wh\": 10,"
         " \"runtime_min\": 5}}",
         "t.json: ups.runtime_min: give either capacity_wh or runtime_min"},
        {"ups_runtime_without_load", "{\"site\": {\"name\": \"a\"}, \"ups\": {\"runtime_min\": 5}}",
         "t.json: ups.runtime_min: cannot calibrate without load"},
        {"event_unknown_value",
         "{\"site\": {\"name\": \"a\"}, \"events\": [{\"at\": \"1s\", \"set\": "
         "{\"chiller9.capacity_kw\": 0}}]}",
         "t.json: events[0].set[\"chiller9.capacity_kw\"]: unknown value 'chiller9.capacity_kw'"},
        {"event_out_of_range",
         "{\"site\": {\"name\": \"a\"}, \"events\": [{\"at\": \"1s\", \"set\": "
         "{\"ups.battery_pct\": 120}}]}",
         "t.json: events[0].set[\"ups.battery_pct\"]: 120 is out of range"},
        {"event_bad_duration",
         "{\"site\": {\"name\": \"a\"}, \"events\": [{\"at\": \"soon\", \"set\": {\"it.base_kw\": "
         "1}}]}",
         "t.json: events[0].at: 'soon' is not a duration"},
        {"event_negative_time",
         "{\"site\": {\"name\": \"a\"}, \"events\": [{\"at\": -1, \"set\": {\"it.base_kw\": 1}}]}",
         "t.json: events[0].at: expected a duration"},
        {"event_without_set", "{\"site\": {\"name\": \"a\"}, \"events\": [{\"at\": \"1s\"}]}",
         "t.json: events[0].set: missing"},
        {"event_sets_nothing",
         "{\"site\": {\"name\": \"a\"}, \"events\": [{\"at\": \"1s\", \"set\": {}}]}",
         "t.json: events[0].set: sets nothing"},
        {"snmp_unknown_key", "{\"site\": {\"name\": \"a\"}, \"snmp\": {\"version\": 3}}",
         "t.json: snmp.version: unknown key"},
        {"snmp_port_out_of_range", "{\"site\": {\"name\": \"a\"}, \"snmp\": {\"port\": -1}}",
         "t.json: snmp.port: expected a port number"},
        {"snmp_community_empty", "{\"site\": {\"name\": \"a\"}, \"snmp\": {\"community\": \"\"}}",
         "t.json: snmp.community: expected 1 to 63 printable ASCII characters"},
        {"snmp_community_blank",
         "{\"site\": {\"name\": \"a\"}, \"snmp\": {\"community\": \"pub lic\"}}",
         "t.json: snmp.community: expected 1 to 63"},
        {"snmp_password_short",
         "{\"site\": {\"name\": \"a\"}, \"snmp\": {\"user\": \"floe\", \"auth_password\": "
         "\"short\", \"priv_password\": \"longenough\"}}",
         "t.json: snmp.auth_password: expected 8 to 127"},
        {"snmp_password_quote",
         "{\"site\": {\"name\": \"a\"}, \"snmp\": {\"user\": \"floe\", \"auth_password\": "
         "\"longenough\", \"priv_password\": \"long\\\"enough\"}}",
         "t.json: snmp.priv_password: expected 8 to 127"},
        {"snmp_user_without_priv",
         "{\"site\": {\"name\": \"a\"}, \"snmp\": {\"user\": \"floe\", \"auth_password\": "
         "\"longenough\"}}",
         "t.json: snmp.priv_password: missing"},
        {"snmp_password_without_user",
         "{\"site\": {\"name\": \"a\"}, \"snmp\": {\"auth_password\": \"longenough\"}}",
         "t.json: snmp.auth_password: only with \"user\""},
        {"snmp_auth_protocol_unknown",
         "{\"site\": {\"name\": \"a\"}, \"snmp\": {\"user\": \"floe\", \"auth_protocol\": "
         "\"SHA1\", \"auth_password\": \"longenough\", \"priv_password\": \"longenough\"}}",
         "t.json: snmp.auth_protocol: expected one of MD5, SHA, SHA-256, SHA-512"},
        {"snmp_priv_protocol_unknown",
         "{\"site\": {\"name\": \"a\"}, \"snmp\": {\"user\": \"floe\", \"priv_protocol\": "
         "\"AES-192\", \"auth_password\": \"longenough\", \"priv_password\": \"longenough\"}}",
         "t.json: snmp.priv_protocol: expected one of DES, AES, AES-256"},
        {"event_unknown_key",
         "{\"site\": {\"name\": \"a\"}, \"events\": [{\"at\": \"1s\", \"set\": {\"it.base_kw\": "
         "1}, \"why\": 1}]}",
         "t.json: events[0].why: unknown key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sim_scenario sc;
        char err[512] = "";
        if (parse(&sc, cases[i].json, err, sizeof err) == 0)
            fail_msg("%s: accepted", cases[i].name);
        if (strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
            fail_msg("%s: error '%s', want it to start with '%s'", cases[i].name, err,
                     cases[i].err);
        assert_null(sc.timeline.events);
    }
}

static const char full_scenario[] =
    "// comments are allowed\n"
    "{\n"
    "  /* events first: the parser still sees the units */\n"
    "  \"events\": [\n"
    "    { \"at\": \"2m\", \"set\": { \"chiller2.capacity_kw\": 0, \"chiller2.fault\": true } },\n"
    "    { \"at\": 30, \"set\": { \"supply.wind_kw\": 40 } }\n"
    "  ],\n"
    "  \"site\": { \"name\": \"lulea-1\" },\n"
    "  \"modbus\": { \"port\": 1502 },\n"
    "  \"http\": { \"port\": 8480 },\n"
    "  \"snmp\": { \"port\": 1161, \"community\": \"floe-ro\", \"user\": \"floe\",\n"
    "            \"auth_protocol\": \"SHA-512\", \"auth_password\": \"auth-pass\",\n"
    "            \"priv_protocol\": \"AES-256\", \"priv_password\": \"priv-pass\" },\n"
    "  \"speedup\": 10,\n"
    "  \"chillers\": [ { \"name\": \"chiller1\", \"capacity_kw\": 250, \"supply_c\": 6.5 },\n"
    "                { \"name\": \"chiller2\", \"capacity_kw\": 200, \"rated_kw\": 250, "
    "\"running\": false } ],\n"
    "  \"crahs\": [ { \"name\": \"crah1\", \"capacity_kw\": 60 } ],\n"
    "  \"it\": { \"base_kw\": 400 },\n"
    "  \"supply\": { \"hydro_kw\": 380, \"wind_kw\": 120, \"grid_kw\": 0 },\n"
    "  \"room\": { \"inlet_c\": 24, \"setpoint_c\": 22, \"thermal_mass_kj_per_k\": 3000 },\n"
    "  \"ups\": { \"runtime_min\": 12, \"output_w\": 400000, \"battery_pct\": 50 }\n"
    "}\n";

static void valid_scenario_builds_model_and_timeline(void **state)
{
    (void)state;
    struct sim_scenario sc;
    char err[512] = "";
    if (parse(&sc, full_scenario, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_string_equal(sc.model.site, "lulea-1");
    assert_string_equal(sc.listen, "127.0.0.1");
    assert_int_equal(sc.modbus_port, 1502);
    assert_int_equal(sc.http_port, 8480);
    assert_int_equal(sc.snmp.port, 1161);
    assert_string_equal(sc.snmp.community, "floe-ro");
    assert_string_equal(sc.snmp.user, "floe");
    assert_string_equal(sc.snmp.auth_protocol, "SHA-512");
    assert_string_equal(sc.snmp.auth_password, "auth-pass");
    assert_string_equal(sc.snmp.priv_protocol, "AES-256");
    assert_string_equal(sc.snmp.priv_password, "priv-pass");
    assert_true(sc.speedup == 10);

    assert_int_equal(sc.model.nunits, 3);
    const struct sim_unit *c1 = &sc.model.units[0], *c2 = &sc.model.units[1],
                          *crah = &sc.model.units[2];
    assert_string_equal(c1->name, "chiller1");
    assert_int_equal(c1->kind, SIM_UNIT_CHILLER);
    assert_true(c1->capacity_kw == 250 && c1->rated_kw == 250 && c1->supply_c == 6.5 &&
                c1->running);
    assert_true(c2->capacity_kw == 200 && c2->rated_kw == 250 && !c2->running);
    assert_int_equal(crah->kind, SIM_UNIT_CRAH);
    assert_true(crah->supply_c == 18.0 && crah->rated_kw == 60);

    assert_true(sc.model.it_base_kw == 400);
    assert_true(sc.model.supply_hydro_kw == 380 && sc.model.supply_wind_kw == 120);
    assert_true(sc.model.room_inlet_c == 24 && sc.model.room_setpoint_c == 22);
    assert_true(sc.model.room_thermal_mass_kj_per_k == 3000);
    /* runtime_min is applied after battery_pct and output_w whatever the
     * order in the file: 12 min at 400 kW from a half-full battery. */
    assert_true(fabs(sc.model.ups_capacity_wh - 160000) < 1e-6);
    assert_true(fabs(sim_model_ups_runtime_min(&sc.model) - 12) < 1e-9);

    assert_int_equal(sc.timeline.nevents, 2);
    assert_int_equal(sc.timeline.events[0].at_ms, 30000);
    assert_int_equal(sc.timeline.events[1].at_ms, 120000);
    assert_int_equal(sc.timeline.events[1].nsets, 2);
    assert_string_equal(sc.timeline.events[1].sets[1].name, "chiller2.fault");
    assert_true(sc.timeline.events[1].sets[1].value == 1);
    sim_scenario_clear(&sc);
}

static void minimal_scenario_takes_defaults(void **state)
{
    (void)state;
    struct sim_scenario sc;
    char err[512] = "";
    if (parse(&sc, "{\"site\": {\"name\": \"x\"}}", err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(sc.modbus_port, 0);
    assert_int_equal(sc.http_port, 0);
    assert_int_equal(sc.snmp.port, 0);
    assert_string_equal(sc.snmp.community, "public");
    assert_string_equal(sc.snmp.user, "");
    assert_true(sc.speedup == 1);
    assert_int_equal(sc.model.nunits, 0);
    assert_true(sc.model.room_setpoint_c == 22 && sc.model.room_inlet_c == 22);
    assert_true(sc.model.ups_battery_pct == 100);
    sim_scenario_clear(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mistakes_are_reported_with_their_path),
        cmocka_unit_test(valid_scenario_builds_model_and_timeline),
        cmocka_unit_test(minimal_scenario_takes_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
