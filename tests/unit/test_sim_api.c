/*
 * test_sim_api — POST /sim/set and GET /sim/state as functions
 * (sim/sim_api.c): which bodies are refused with which code, that a refusal
 * changes nothing, and the shape of the state document.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_api.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static void make_site(struct sim_model *m)
{
    sim_model_init(m);
    strcpy(m->site, "lulea-1");
    struct sim_unit *u = sim_model_add_unit(m, "chiller2", SIM_UNIT_CHILLER, NULL, 0);
    u->capacity_kw = u->rated_kw = 250;
    m->it_base_kw = 400;
}

static void set_bodies_are_checked(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *body;
        int rc;
        enum sim_api_error why;
        const char *err;
        double base_kw, capacity_kw; /* after the call */
        bool running;
    } cases[] = {
        {"sets_several", "{\"chiller2.capacity_kw\": 0, \"it.base_kw\": 300}", 0, 0, NULL, 300, 0,
         true},
        {"switch_from_bool", "{\"chiller2.running\": false}", 0, 0, NULL, 400, 250, false},
        {"switch_from_number", "{\"chiller2.running\": 0}", 0, 0, NULL, 400, 250, false},
        {"empty_object", "{}", 0, 0, NULL, 400, 250, true},
        {"later_member_wins", "{\"it.base_kw\": 1, \"it.base_kw\": 2}", 0, 0, NULL, 2, 250, true},
        {"unknown_name", "{\"it.base_kw\": 300, \"chiller9.capacity_kw\": 0}", -1,
         SIM_API_UNKNOWN_VALUE, "unknown value 'chiller9.capacity_kw'", 400, 250, true},
        {"bad_json", "{\"it.base_kw\": ", -1, SIM_API_BAD_JSON, "not valid JSON", 400, 250, true},
        {"not_object", "[1, 2]", -1, SIM_API_BAD_JSON, "body must be an object", 400, 250, true},
        {"empty_body", "", -1, SIM_API_BAD_JSON, "not valid JSON", 400, 250, true},
        {"string_value", "{\"it.base_kw\": \"300\"}", -1, SIM_API_BAD_VALUE,
         "it.base_kw: expected a number", 400, 250, true},
        {"bool_for_number", "{\"it.base_kw\": true}", -1, SIM_API_BAD_VALUE,
         "it.base_kw: expected a number", 400, 250, true},
        {"out_of_range_after_valid", "{\"chiller2.capacity_kw\": 0, \"supply.wind_kw\": -5}", -1,
         SIM_API_BAD_VALUE, "supply.wind_kw: -5 is out of range", 400, 250, true},
        {"derived_value", "{\"it.load_kw\": 10}", -1, SIM_API_BAD_VALUE, "it.load_kw: derived", 400,
         250, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sim_model m;
        make_site(&m);
        char err[256] = "";
        enum sim_api_error why = (enum sim_api_error) - 1;
        int rc =
            sim_api_set(&m, NULL, 0, cases[i].body, strlen(cases[i].body), &why, err, sizeof err);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d, want %d (%s)", cases[i].name, rc, cases[i].rc, err);
        if (rc < 0) {
            if ((int)why != (int)cases[i].why || !strstr(err, cases[i].err))
                fail_msg("%s: %s '%s', want %s '%s'", cases[i].name, sim_api_error_code(why), err,
                         sim_api_error_code(cases[i].why), cases[i].err);
        }
        if (m.it_base_kw != cases[i].base_kw || m.units[0].capacity_kw != cases[i].capacity_kw ||
            m.units[0].running != cases[i].running)
            fail_msg("%s: model is base %g, capacity %g, running %d", cases[i].name, m.it_base_kw,
                     m.units[0].capacity_kw, m.units[0].running);
    }
}

static void error_codes_are_stable(void **state)
{
    (void)state;
    assert_string_equal(sim_api_error_code(SIM_API_BAD_JSON), "bad_json");
    assert_string_equal(sim_api_error_code(SIM_API_UNKNOWN_VALUE), "unknown_value");
    assert_string_equal(sim_api_error_code(SIM_API_BAD_VALUE), "bad_value");
}

static void state_lists_every_value(void **state)
{
    (void)state;
    struct sim_model m;
    make_site(&m);
    m.units[0].running = false;
    m.time_ms = 12345;
    char *json = sim_api_state_json(&m);
    assert_non_null(json);
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItem(root, "site")->valuestring, "lulea-1");
    assert_true(cJSON_GetObjectItem(root, "time_s")->valuedouble == 12);
    const cJSON *values = cJSON_GetObjectItem(root, "values");
    assert_int_equal(cJSON_GetArraySize(values), (int)sim_model_value_count(&m));
    assert_true(cJSON_GetObjectItem(values, "it.load_kw")->valuedouble == 400);
    assert_true(cJSON_GetObjectItem(values, "chiller2.capacity_kw")->valuedouble == 250);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(values, "chiller2.running")));
    assert_true(cJSON_GetObjectItem(values, "chiller2.alarm")->valuedouble == SIM_ALARM_STOPPED);
    assert_true(cJSON_GetObjectItem(values, "cooling.available_kw")->valuedouble == 0);
    cJSON_Delete(root);
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_bodies_are_checked),
        cmocka_unit_test(error_codes_are_stable),
        cmocka_unit_test(state_lists_every_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
