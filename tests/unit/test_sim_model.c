/*
 * test_sim_model — the simulated site's physics, value names and event
 * timeline (sim/sim_model.c), driven step by step without a clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A site with one chiller of `cooling_kw` carrying `load_kw`. */
static void make_site(struct sim_model *m, double load_kw, double cooling_kw)
{
    sim_model_init(m);
    struct sim_unit *u = sim_model_add_unit(m, "chiller1", SIM_UNIT_CHILLER, NULL, 0);
    assert_non_null(u);
    u->capacity_kw = cooling_kw;
    u->rated_kw = cooling_kw;
    m->it_base_kw = load_kw;
}

static void run_steps(struct sim_model *m, int n)
{
    for (int i = 0; i < n; i++)
        sim_model_step(m);
}

static void room_inlet_follows_heat_balance(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        double load_kw, cooling_kw, mass_kj_per_k, inlet_c, setpoint_c;
        int steps;
        double want_c;
    } cases[] = {
        /* 100 kW surplus into 1000 kJ/K is 0.1 K/s. */
        {"rises_when_cooling_below_load", 400, 300, 1000, 22, 22, 10, 23.0},
        {"rise_scales_with_thermal_mass", 400, 300, 2000, 22, 22, 10, 22.5},
        {"keeps_rising_above_setpoint", 400, 0, 4000, 30, 22, 40, 34.0},
        /* Spare cooling pulls a warm room down at spare / mass ... */
        {"falls_when_cooling_exceeds_load", 300, 400, 1000, 25, 22, 10, 24.0},
        /* ... and stops at the setpoint instead of overshooting. */
        {"falls_no_lower_than_setpoint", 300, 400, 1000, 25, 22, 100, 22.0},
        /* A cold room is let warm by the IT heat up to the setpoint. */
        {"cold_room_warms_to_setpoint", 100, 400, 1000, 20, 22, 10, 21.0},
        {"cold_room_stops_at_setpoint", 100, 400, 1000, 20, 22, 100, 22.0},
        {"balanced_room_stays", 400, 400, 1000, 22, 22, 50, 22.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sim_model m;
        make_site(&m, cases[i].load_kw, cases[i].cooling_kw);
        m.room_thermal_mass_kj_per_k = cases[i].mass_kj_per_k;
        m.room_inlet_c = cases[i].inlet_c;
        m.room_setpoint_c = cases[i].setpoint_c;
        run_steps(&m, cases[i].steps);
        if (fabs(m.room_inlet_c - cases[i].want_c) > 1e-9)
            fail_msg("%s: inlet %.6f, want %.6f", cases[i].name, m.room_inlet_c, cases[i].want_c);
        assert_int_equal(m.time_ms, cases[i].steps * 1000);
    }
}

static void stopped_unit_cools_nothing(void **state)
{
    (void)state;
    struct sim_model m;
    make_site(&m, 400, 500);
    assert_true(sim_model_cooling_kw(&m) == 500);
    m.units[0].running = false;
    assert_true(sim_model_cooling_kw(&m) == 0);
    assert_true(sim_model_unit_available_kw(&m.units[0]) == 0);
    run_steps(&m, 10); /* 400 kW into 1000 kJ/K */
    assert_true(fabs(m.room_inlet_c - 26.0) < 1e-9);
}

static void unit_alarm_bits_reflect_state(void **state)
{
    (void)state;
    struct sim_model m;
    make_site(&m, 0, 250);
    struct sim_unit *u = &m.units[0];
    assert_int_equal(sim_model_unit_alarm(u), 0);
    u->capacity_kw = 0;
    assert_int_equal(sim_model_unit_alarm(u), SIM_ALARM_CAPACITY_REDUCED);
    u->fault = true;
    u->running = false;
    assert_int_equal(sim_model_unit_alarm(u),
                     SIM_ALARM_CAPACITY_REDUCED | SIM_ALARM_FAULT | SIM_ALARM_STOPPED);
}

static void it_energy_integrates_load(void **state)
{
    (void)state;
    struct sim_model m;
    make_site(&m, 100, 500);
    m.it_cluster_kw = 20; /* namespaces add to the load */
    assert_true(sim_model_it_load_kw(&m) == 120);
    run_steps(&m, 1800);
    assert_true(fabs(m.it_energy_kwh - 60.0) < 1e-6);
}

static void ups_drains_on_battery_and_recharges(void **state)
{
    (void)state;
    struct sim_model m;
    sim_model_init(&m);
    m.ups_output_w = 60000;
    m.ups_capacity_wh = 1000; /* 1 minute at 60 kW */
    assert_true(fabs(sim_model_ups_runtime_min(&m) - 1.0) < 1e-9);
    m.ups_on_battery = true;
    run_steps(&m, 30);
    assert_true(fabs(m.ups_battery_pct - 50.0) < 1e-9);
    assert_true(fabs(sim_model_ups_runtime_min(&m) - 0.5) < 1e-9);
    assert_int_equal(sim_model_ups_status(&m), SIM_UPS_ON_BATTERY);
    run_steps(&m, 31);
    assert_true(m.ups_battery_pct == 0);
    assert_int_equal(sim_model_ups_status(&m),
                     SIM_UPS_ON_BATTERY | SIM_UPS_BATTERY_LOW | SIM_UPS_DEPLETED);
    m.ups_on_battery = false;
    run_steps(&m, 600); /* 1 % per minute */
    assert_true(fabs(m.ups_battery_pct - 10.0) < 1e-9);
    assert_int_equal(sim_model_ups_status(&m), SIM_UPS_BATTERY_LOW);
}

static void seconds_on_battery_count_from_the_switch_to_battery(void **state)
{
    (void)state;
    struct sim_model m;
    sim_model_init(&m);
    run_steps(&m, 10);
    assert_true(sim_model_ups_seconds_on_battery(&m) == 0);
    assert_int_equal(sim_model_set(&m, "ups.on_battery", 1, NULL, 0), 0);
    run_steps(&m, 25);
    assert_true(sim_model_ups_seconds_on_battery(&m) == 25);
    /* Saying "on battery" again is not a new outage. */
    assert_int_equal(sim_model_set(&m, "ups.on_battery", 1, NULL, 0), 0);
    run_steps(&m, 5);
    assert_true(sim_model_ups_seconds_on_battery(&m) == 30);
    assert_int_equal(sim_model_set(&m, "ups.on_battery", 0, NULL, 0), 0);
    assert_true(sim_model_ups_seconds_on_battery(&m) == 0);
    run_steps(&m, 5);
    assert_int_equal(sim_model_set(&m, "ups.on_battery", 1, NULL, 0), 0);
    run_steps(&m, 3);
    assert_true(sim_model_ups_seconds_on_battery(&m) == 3);
}

static void ups_runtime_calibrates_capacity(void **state)
{
    (void)state;
    struct sim_model m;
    sim_model_init(&m);
    char err[256];
    assert_int_equal(sim_model_set(&m, "ups.battery_pct", 50, err, sizeof err), 0);
    /* No load: nothing to calibrate against. */
    assert_int_equal(sim_model_set(&m, "ups.runtime_min", 12, err, sizeof err), -1);
    assert_non_null(strstr(err, "ups.runtime_min: cannot calibrate without load"));
    assert_int_equal(sim_model_set(&m, "ups.output_w", 400000, err, sizeof err), 0);
    assert_int_equal(sim_model_set(&m, "ups.runtime_min", 12, err, sizeof err), 0);
    assert_true(fabs(m.ups_capacity_wh - 160000) < 1e-6);
    double v;
    assert_int_equal(sim_model_get(&m, "ups.runtime_min", &v, err, sizeof err), 0);
    assert_true(fabs(v - 12) < 1e-9);
    /* Twice the load, half the runtime. */
    assert_int_equal(sim_model_set(&m, "ups.output_w", 800000, err, sizeof err), 0);
    assert_int_equal(sim_model_get(&m, "ups.runtime_min", &v, err, sizeof err), 0);
    assert_true(fabs(v - 6) < 1e-9);
}

static bool same_values(const struct sim_model *a, const struct sim_model *b)
{
    if (sim_model_value_count(a) != sim_model_value_count(b))
        return false;
    for (size_t i = 0; i < sim_model_value_count(a); i++) {
        struct sim_value va, vb;
        sim_model_value_at(a, i, &va);
        sim_model_value_at(b, i, &vb);
        if (strcmp(va.name, vb.name) != 0 || va.value != vb.value)
            return false;
    }
    return true;
}

/* The checks /sim/set relies on, by name. */
static void set_by_name_validates(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        double value;
        int rc;
        const char *err; /* substring when rc is -1 */
    } cases[] = {
        {"chiller1.capacity_kw", 0, 0, NULL},
        {"chiller1.running", 0, 0, NULL},
        {"chiller1.fault", 1, 0, NULL},
        {"it.base_kw", 300, 0, NULL},
        {"supply.grid_kw", 12.5, 0, NULL},
        {"room.inlet_c", -5, 0, NULL},
        {"ups.on_battery", 1, 0, NULL},
        {"chiller9.capacity_kw", 1, -1, "unknown value 'chiller9.capacity_kw'"},
        {"chiller1.colour", 1, -1, "unknown value 'chiller1.colour'"},
        {"it.base", 1, -1, "unknown value 'it.base'"},
        {"", 1, -1, "unknown value ''"},
        {"chiller1", 1, -1, "unknown value 'chiller1'"},
        {"it.load_kw", 1, -1, "it.load_kw: derived from other values"},
        {"chiller1.available_kw", 1, -1, "chiller1.available_kw: derived"},
        {"sim.time_s", 1, -1, "sim.time_s: derived"},
        {"chiller1.capacity_kw", -1, -1, "chiller1.capacity_kw: -1 is out of range"},
        {"ups.battery_pct", 101, -1, "ups.battery_pct: 101 is out of range"},
        {"room.thermal_mass_kj_per_k", 0, -1, "out of range"},
        {"chiller1.running", 2, -1, "chiller1.running: expected true/false"},
        {"it.base_kw", NAN, -1, "it.base_kw: not a finite number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sim_model m;
        make_site(&m, 400, 250);
        struct sim_model before = m;
        char err[256] = "";
        int rc = sim_model_set(&m, cases[i].name, cases[i].value, err, sizeof err);
        if (rc != cases[i].rc)
            fail_msg("%s = %g: rc %d, want %d (%s)", cases[i].name, cases[i].value, rc, cases[i].rc,
                     err);
        if (rc == 0) {
            double v;
            assert_int_equal(sim_model_get(&m, cases[i].name, &v, err, sizeof err), 0);
            assert_true(v == cases[i].value);
        } else {
            if (!strstr(err, cases[i].err))
                fail_msg("%s: error '%s' lacks '%s'", cases[i].name, err, cases[i].err);
            assert_true(same_values(&m, &before));
        }
    }
}

static void unit_names_are_checked(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *err; /* NULL = accepted */
    } cases[] = {
        {"chiller1", NULL},
        {"crah_2", NULL},
        {"Chiller", "must be one segment"},
        {"chiller.a", "must be one segment"},
        {"", "must be one segment"},
        {"ups", "reserved"},
        {"it", "reserved"},
        {"ns", "reserved"},
        /* /sim/set names of the cluster and Velero ("kube.hang"). */
        {"kube", "reserved"},
        {"cluster", "reserved"},
        {"velero", "reserved"},
        {"a_very_long_unit_name_over_thirty_one", "longer than"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sim_model m;
        sim_model_init(&m);
        char err[256] = "";
        struct sim_unit *u = sim_model_add_unit(&m, cases[i].name, SIM_UNIT_CRAH, err, sizeof err);
        if (!cases[i].err) {
            assert_non_null(u);
            assert_true(u->running);
            assert_true(u->supply_c == 18.0);
        } else if (u || !strstr(err, cases[i].err)) {
            fail_msg("%s: want error '%s', got '%s'", cases[i].name, cases[i].err, err);
        }
    }
    struct sim_model m;
    sim_model_init(&m);
    char err[256];
    assert_non_null(sim_model_add_unit(&m, "chiller1", SIM_UNIT_CHILLER, err, sizeof err));
    assert_null(sim_model_add_unit(&m, "chiller1", SIM_UNIT_CRAH, err, sizeof err));
    assert_non_null(strstr(err, "used twice"));
}

static void values_list_every_name_once(void **state)
{
    (void)state;
    struct sim_model m;
    make_site(&m, 400, 250);
    assert_non_null(sim_model_add_unit(&m, "crah1", SIM_UNIT_CRAH, NULL, 0));
    size_t n = sim_model_value_count(&m);
    bool saw_unit_value = false;
    for (size_t i = 0; i < n; i++) {
        struct sim_value v;
        sim_model_value_at(&m, i, &v);
        struct sim_ref ref;
        char err[128];
        if (sim_model_lookup(&m, v.name, &ref, err, sizeof err) < 0)
            fail_msg("listed value %s does not resolve: %s", v.name, err);
        assert_true(sim_model_read(&m, ref) == v.value);
        for (size_t j = 0; j < i; j++) {
            struct sim_value w;
            sim_model_value_at(&m, j, &w);
            if (strcmp(v.name, w.name) == 0)
                fail_msg("%s listed twice", v.name);
        }
        saw_unit_value = saw_unit_value || strcmp(v.name, "crah1.kind") == 0;
    }
    assert_true(saw_unit_value);
}

static struct sim_event make_event(int64_t at_ms, struct sim_model *m, const char *name,
                                   double value)
{
    struct sim_event ev = {.at_ms = at_ms, .nsets = 1};
    ev.sets = calloc(1, sizeof *ev.sets);
    assert_non_null(ev.sets);
    assert_int_equal(sim_model_lookup(m, name, &ev.sets[0].ref, NULL, 0), 0);
    ev.sets[0].value = value;
    strcpy(ev.sets[0].name, name);
    return ev;
}

static void events_apply_at_their_time(void **state)
{
    (void)state;
    struct sim_model m;
    make_site(&m, 400, 250);
    struct sim_timeline tl = {0};
    /* Added out of order: the timeline sorts by time, ties keep order. */
    struct sim_event evs[] = {
        make_event(30000, &m, "chiller1.capacity_kw", 0),
        make_event(0, &m, "it.base_kw", 350),
        make_event(45000, &m, "it.base_kw", 100),
        make_event(45000, &m, "it.base_kw", 200),
    };
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(sim_timeline_add(&tl, &evs[i], NULL, 0), 0);

    assert_int_equal(sim_timeline_fire(&tl, &m, NULL, NULL), 1); /* the 0s event */
    assert_true(m.it_base_kw == 350);
    for (int s = 1; s < 30; s++) {
        sim_model_step(&m);
        assert_int_equal(sim_timeline_fire(&tl, &m, NULL, NULL), 0);
        assert_true(m.units[0].capacity_kw == 250);
    }
    sim_model_step(&m); /* t = 30 s */
    assert_int_equal(sim_timeline_fire(&tl, &m, NULL, NULL), 1);
    assert_true(m.units[0].capacity_kw == 0);
    assert_int_equal(sim_timeline_fire(&tl, &m, NULL, NULL), 0); /* fires once */
    run_steps(&m, 14);
    assert_int_equal(sim_timeline_fire(&tl, &m, NULL, NULL), 0);
    sim_model_step(&m); /* t = 45 s: both, in file order */
    assert_int_equal(sim_timeline_fire(&tl, &m, NULL, NULL), 2);
    assert_true(m.it_base_kw == 200);
    sim_timeline_clear(&tl);
}

struct fired {
    int count;
    char err[256];
};

static void record_fired(void *arg, const struct sim_event *ev, const char *err)
{
    struct fired *f = arg;
    (void)ev;
    f->count++;
    if (err)
        strcpy(f->err, err);
}

static void event_refused_at_fire_time_is_reported(void **state)
{
    (void)state;
    struct sim_model m;
    sim_model_init(&m);
    struct sim_timeline tl = {0};
    /* Valid when written, impossible when due: the battery is empty. */
    struct sim_event ev = make_event(2000, &m, "ups.runtime_min", 10);
    assert_int_equal(sim_timeline_add(&tl, &ev, NULL, 0), 0);
    m.ups_output_w = 1000;
    m.ups_battery_pct = 0;
    m.ups_on_battery = true; /* else it recharges before the event */
    struct fired f = {0};
    run_steps(&m, 2);
    assert_int_equal(sim_timeline_fire(&tl, &m, record_fired, &f), 1);
    assert_int_equal(f.count, 1);
    assert_non_null(strstr(f.err, "ups.runtime_min: cannot calibrate an empty battery"));
    sim_timeline_clear(&tl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(room_inlet_follows_heat_balance),
        cmocka_unit_test(stopped_unit_cools_nothing),
        cmocka_unit_test(unit_alarm_bits_reflect_state),
        cmocka_unit_test(it_energy_integrates_load),
        cmocka_unit_test(ups_drains_on_battery_and_recharges),
        cmocka_unit_test(seconds_on_battery_count_from_the_switch_to_battery),
        cmocka_unit_test(ups_runtime_calibrates_capacity),
        cmocka_unit_test(set_by_name_validates),
        cmocka_unit_test(unit_names_are_checked),
        cmocka_unit_test(values_list_every_name_once),
        cmocka_unit_test(events_apply_at_their_time),
        cmocka_unit_test(event_refused_at_fire_time_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
