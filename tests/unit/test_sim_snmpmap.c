/*
 * test_sim_snmpmap — the simulator's SNMP object map (sim/sim_snmpmap.c):
 * which OID serves which model value with which type and scale, the
 * order a walk sees, and the GET/GETNEXT lookups the agent answers from.
 * The OIDs here are the ones sim/README.md documents.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lib/util.h"
#include "sim/sim_snmpmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t ups_root[] = {SIM_SNMP_UPS_ROOT};
static const uint32_t site_root[] = {SIM_SNMP_SITE_ROOT};

/* "1.3.6.1..." (a leading dot allowed) into arcs; returns the count. */
static size_t parse_oid(const char *text, uint32_t *out)
{
    size_t n = 0;
    const char *p = text[0] == '.' ? text + 1 : text;
    while (*p) {
        char *end;
        out[n++] = (uint32_t)strtoul(p, &end, 10);
        p = *end == '.' ? end + 1 : end;
    }
    return n;
}

static const struct sim_snmp_object *get(const struct sim_snmpmap *map, const char *oid)
{
    uint32_t arcs[64];
    size_t n = parse_oid(oid, arcs);
    return sim_snmpmap_get(map, arcs, n);
}

/* The lulea-like site of the register map's test, with values that
 * exercise rounding, negative temperatures and a stopped, faulty unit. */
static void make_site(struct sim_model *m)
{
    sim_model_init(m);
    util_strlcpy(m->site, "lulea-1", sizeof m->site);
    struct sim_unit *c1 = sim_model_add_unit(m, "chiller1", SIM_UNIT_CHILLER, NULL, 0);
    struct sim_unit *c2 = sim_model_add_unit(m, "chiller2", SIM_UNIT_CHILLER, NULL, 0);
    struct sim_unit *crah = sim_model_add_unit(m, "crah1", SIM_UNIT_CRAH, NULL, 0);
    c1->capacity_kw = c1->rated_kw = 250;
    c1->supply_c = 6.5;
    c2->capacity_kw = 200.0004; /* 200000.4 W rounds to 200000 */
    c2->rated_kw = 250;
    crah->capacity_kw = crah->rated_kw = 60;
    crah->running = false;
    crah->fault = true;
    crah->supply_c = -5.56; /* -55.6 tenths rounds to -56 */
    m->it_base_kw = 400;
    m->it_cluster_kw = 12.5;
    m->it_energy_kwh = 1.2346;
    m->supply_hydro_kw = 380;
    m->supply_wind_kw = 120.5;
    m->supply_grid_kw = 2;
    m->room_inlet_c = 23.46;
    m->room_setpoint_c = 22;
    m->ups_battery_pct = 87.6;
    m->ups_output_w = 400000;
    m->ups_capacity_wh = 100000;
    m->time_ms = 130999;
}

static void model_values_are_served_at_documented_oids(void **state)
{
    (void)state;
    static const struct {
        const char *oid;
        enum sim_snmp_type type;
        int64_t value;
    } cases[] = {
        /* UPS-MIB */
        {"1.3.6.1.2.1.33.1.2.1.0", SIM_SNMP_INTEGER, 2},  /* batteryNormal */
        {"1.3.6.1.2.1.33.1.2.2.0", SIM_SNMP_INTEGER, 0},  /* on mains */
        {"1.3.6.1.2.1.33.1.2.3.0", SIM_SNMP_INTEGER, 13}, /* 87.6 kWh / 400 kW = 13.14 min */
        {"1.3.6.1.2.1.33.1.2.4.0", SIM_SNMP_INTEGER, 88}, /* 87.6 % rounded */
        {"1.3.6.1.2.1.33.1.3.2.0", SIM_SNMP_INTEGER, 3},  /* input lines */
        {"1.3.6.1.2.1.33.1.3.3.1.5.1", SIM_SNMP_INTEGER, 133334},
        {"1.3.6.1.2.1.33.1.3.3.1.5.3", SIM_SNMP_INTEGER, 133333},
        {"1.3.6.1.2.1.33.1.4.1.0", SIM_SNMP_INTEGER, 3}, /* output source normal */
        {"1.3.6.1.2.1.33.1.4.3.0", SIM_SNMP_INTEGER, 3}, /* output lines */
        {"1.3.6.1.2.1.33.1.4.4.1.4.1", SIM_SNMP_INTEGER, 133334},
        {"1.3.6.1.2.1.33.1.4.4.1.4.2", SIM_SNMP_INTEGER, 133333},
        {"1.3.6.1.2.1.33.1.4.4.1.4.3", SIM_SNMP_INTEGER, 133333},
        {"1.3.6.1.2.1.33.1.6.1.0", SIM_SNMP_GAUGE32, 0}, /* no alarms */
        /* floeSim: site */
        {"1.3.6.1.4.1.99999.1.1.1.0", SIM_SNMP_INTEGER, SIM_SNMPMAP_VERSION},
        {"1.3.6.1.4.1.99999.1.1.3.0", SIM_SNMP_GAUGE32, 130}, /* whole seconds */
        {"1.3.6.1.4.1.99999.1.1.4.0", SIM_SNMP_INTEGER, 3},
        {"1.3.6.1.4.1.99999.1.2.1.0", SIM_SNMP_GAUGE32, 450000}, /* crah1 stopped */
        /* floeSim: cooling unit table, row = unit index + 1 */
        {"1.3.6.1.4.1.99999.1.2.2.1.2.1", SIM_SNMP_INTEGER, SIM_UNIT_CHILLER},
        {"1.3.6.1.4.1.99999.1.2.2.1.2.3", SIM_SNMP_INTEGER, SIM_UNIT_CRAH},
        {"1.3.6.1.4.1.99999.1.2.2.1.3.1", SIM_SNMP_GAUGE32, 250000},
        {"1.3.6.1.4.1.99999.1.2.2.1.3.2", SIM_SNMP_GAUGE32, 200000},
        {"1.3.6.1.4.1.99999.1.2.2.1.4.2", SIM_SNMP_GAUGE32, 200000},
        {"1.3.6.1.4.1.99999.1.2.2.1.4.3", SIM_SNMP_GAUGE32, 0}, /* stopped */
        {"1.3.6.1.4.1.99999.1.2.2.1.5.2", SIM_SNMP_GAUGE32, 250000},
        {"1.3.6.1.4.1.99999.1.2.2.1.6.1", SIM_SNMP_INTEGER, 65},
        {"1.3.6.1.4.1.99999.1.2.2.1.6.3", SIM_SNMP_INTEGER, -56},
        {"1.3.6.1.4.1.99999.1.2.2.1.7.1", SIM_SNMP_INTEGER, SIM_SNMP_TRUE},
        {"1.3.6.1.4.1.99999.1.2.2.1.7.3", SIM_SNMP_INTEGER, SIM_SNMP_FALSE},
        {"1.3.6.1.4.1.99999.1.2.2.1.8.1", SIM_SNMP_INTEGER, SIM_SNMP_FALSE},
        {"1.3.6.1.4.1.99999.1.2.2.1.8.3", SIM_SNMP_INTEGER, SIM_SNMP_TRUE},
        {"1.3.6.1.4.1.99999.1.2.2.1.9.1", SIM_SNMP_INTEGER, 0},
        {"1.3.6.1.4.1.99999.1.2.2.1.9.2", SIM_SNMP_INTEGER, SIM_ALARM_CAPACITY_REDUCED},
        {"1.3.6.1.4.1.99999.1.2.2.1.9.3", SIM_SNMP_INTEGER, SIM_ALARM_STOPPED | SIM_ALARM_FAULT},
        /* floeSim: IT, supply, room */
        {"1.3.6.1.4.1.99999.1.3.1.0", SIM_SNMP_GAUGE32, 412500},
        {"1.3.6.1.4.1.99999.1.3.2.0", SIM_SNMP_GAUGE32, 400000},
        {"1.3.6.1.4.1.99999.1.3.3.0", SIM_SNMP_COUNTER64, 1235}, /* 1234.6 Wh rounded */
        {"1.3.6.1.4.1.99999.1.4.1.0", SIM_SNMP_GAUGE32, 380000},
        {"1.3.6.1.4.1.99999.1.4.2.0", SIM_SNMP_GAUGE32, 120500},
        {"1.3.6.1.4.1.99999.1.4.3.0", SIM_SNMP_GAUGE32, 2000},
        {"1.3.6.1.4.1.99999.1.4.4.0", SIM_SNMP_GAUGE32, 502500},
        {"1.3.6.1.4.1.99999.1.5.1.0", SIM_SNMP_INTEGER, 235},
        {"1.3.6.1.4.1.99999.1.5.2.0", SIM_SNMP_INTEGER, 220},
    };
    struct sim_model m;
    make_site(&m);
    struct sim_snmpmap *map = malloc(sizeof *map);
    sim_snmpmap_build(map, &m);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct sim_snmp_object *o = get(map, cases[i].oid);
        if (!o)
            fail_msg("%s: not in the map", cases[i].oid);
        if (o->type != cases[i].type || o->value != cases[i].value)
            fail_msg("%s: type %d value %lld, want type %d value %lld", cases[i].oid, o->type,
                     (long long)o->value, cases[i].type, (long long)cases[i].value);
    }
    static const struct {
        const char *oid, *value;
    } strings[] = {
        {"1.3.6.1.2.1.33.1.1.1.0", "floe"},
        {"1.3.6.1.2.1.33.1.1.2.0", "floe-sim UPS"},
        {"1.3.6.1.2.1.33.1.1.5.0", "lulea-1"},
        {"1.3.6.1.4.1.99999.1.1.2.0", "lulea-1"},
        {"1.3.6.1.4.1.99999.1.2.2.1.1.1", "chiller1"},
        {"1.3.6.1.4.1.99999.1.2.2.1.1.3", "crah1"},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        const struct sim_snmp_object *o = get(map, strings[i].oid);
        assert_non_null(o);
        assert_int_equal(o->type, SIM_SNMP_STRING);
        assert_string_equal(o->string, strings[i].value);
    }
    free(map);
}

static void ups_on_battery_shows_in_every_ups_object(void **state)
{
    (void)state;
    static const struct {
        double battery_pct;
        int64_t status, charge, alarms;
    } cases[] = {
        {42, SIM_SNMP_BATTERY_NORMAL, 42, 1}, /* on battery */
        {24.4, SIM_SNMP_BATTERY_LOW, 24, 2},  /* + low */
        {0, SIM_SNMP_BATTERY_DEPLETED, 0, 3}, /* + low + depleted */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sim_model m;
        make_site(&m);
        m.time_ms = 10000;
        assert_int_equal(sim_model_set(&m, "ups.on_battery", 1, NULL, 0), 0);
        m.time_ms = 75500; /* 65.5 s later */
        m.ups_battery_pct = cases[i].battery_pct;
        struct sim_snmpmap *map = malloc(sizeof *map);
        sim_snmpmap_build(map, &m);
        assert_int_equal(get(map, "1.3.6.1.2.1.33.1.2.1.0")->value, cases[i].status);
        assert_int_equal(get(map, "1.3.6.1.2.1.33.1.2.2.0")->value, 65);
        assert_int_equal(get(map, "1.3.6.1.2.1.33.1.2.4.0")->value, cases[i].charge);
        assert_int_equal(get(map, "1.3.6.1.2.1.33.1.4.1.0")->value, SIM_SNMP_OUTPUT_BATTERY);
        assert_int_equal(get(map, "1.3.6.1.2.1.33.1.6.1.0")->value, cases[i].alarms);
        /* The load stays on the output; the input carries nothing. */
        assert_int_equal(get(map, "1.3.6.1.2.1.33.1.4.4.1.4.1")->value, 133334);
        for (int line = 1; line <= SIM_SNMP_UPS_LINES; line++) {
            char oid[64];
            snprintf(oid, sizeof oid, "1.3.6.1.2.1.33.1.3.3.1.5.%d", line);
            assert_int_equal(get(map, oid)->value, 0);
        }
        free(map);
    }
}

static void output_lines_add_up_to_the_ups_load(void **state)
{
    (void)state;
    static const double loads_w[] = {0, 1, 2, 3, 400000, 100001.4, 1e9};
    for (size_t i = 0; i < sizeof loads_w / sizeof loads_w[0]; i++) {
        struct sim_model m;
        make_site(&m);
        m.ups_output_w = loads_w[i];
        struct sim_snmpmap *map = malloc(sizeof *map);
        sim_snmpmap_build(map, &m);
        int64_t sum = 0, lo = INT64_MAX, hi = 0;
        for (int line = 1; line <= SIM_SNMP_UPS_LINES; line++) {
            char oid[64];
            snprintf(oid, sizeof oid, "1.3.6.1.2.1.33.1.4.4.1.4.%d", line);
            int64_t w = get(map, oid)->value;
            sum += w;
            lo = w < lo ? w : lo;
            hi = w > hi ? w : hi;
        }
        assert_int_equal(sum, (int64_t)(loads_w[i] + 0.5));
        assert_true(hi - lo <= 1); /* balanced phases */
        free(map);
    }
}

static void scaled_values_saturate_at_their_type_limits(void **state)
{
    (void)state;
    struct sim_model m;
    make_site(&m);
    for (size_t i = m.nunits; i < SIM_MAX_UNITS; i++) {
        char name[16];
        snprintf(name, sizeof name, "unit%zu", i);
        sim_model_add_unit(&m, name, SIM_UNIT_CRAH, NULL, 0)->capacity_kw = 1e6;
    }
    m.room_inlet_c = -50;
    m.it_energy_kwh = 1e300;
    struct sim_snmpmap *map = malloc(sizeof *map);
    sim_snmpmap_build(map, &m);
    /* 1e6 kW is 1e9 W, within Gauge32; 17 such units are not. */
    assert_int_equal(get(map, "1.3.6.1.4.1.99999.1.2.2.1.3.20")->value, 1000000000);
    assert_int_equal(get(map, "1.3.6.1.4.1.99999.1.2.1.0")->value, UINT32_MAX);
    assert_int_equal(get(map, "1.3.6.1.4.1.99999.1.5.1.0")->value, -500);
    assert_int_equal(get(map, "1.3.6.1.4.1.99999.1.3.3.0")->value, INT64_MAX);
    free(map);
}

static void map_is_in_oid_order_without_duplicates(void **state)
{
    (void)state;
    struct sim_model m;
    make_site(&m);
    struct sim_snmpmap *map = malloc(sizeof *map);
    sim_snmpmap_build(map, &m);
    /* 17 UPS objects, 4 + 1 site scalars, 9 columns x 3 units, 3 + 4 + 2. */
    assert_int_equal(map->count, 17 + 5 + 27 + 9);
    for (size_t i = 1; i < map->count; i++) {
        const struct sim_snmp_object *a = &map->objects[i - 1], *b = &map->objects[i];
        assert_true(sim_snmp_oid_compare(a->oid, a->oid_len, b->oid, b->oid_len) < 0);
    }
    free(map);
}

static void oids_compare_arc_by_arc(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        int sign;
    } cases[] = {
        {"1.3.6", "1.3.6", 0},       {"1.3", "1.3.6", -1},      {"1.3.6.1", "1.3.6", 1},
        {"1.3.6.2", "1.3.6.10", -1}, {"1.3.7", "1.3.6.1.9", 1}, {"2", "1.3", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t a[16], b[16];
        size_t na = parse_oid(cases[i].a, a), nb = parse_oid(cases[i].b, b);
        int c = sim_snmp_oid_compare(a, na, b, nb);
        if ((c > 0) - (c < 0) != cases[i].sign)
            fail_msg("%s vs %s: %d, want sign %d", cases[i].a, cases[i].b, c, cases[i].sign);
    }
}

/* Walks root with GETNEXT from `from`; returns how many objects it saw
 * and checks each lies below root, in increasing order. */
static size_t walk(const struct sim_snmpmap *map, const char *from, const uint32_t *root,
                   size_t root_len, const char *first)
{
    uint32_t cur[SIM_SNMP_OID_MAX + 8];
    size_t len = parse_oid(from, cur), n = 0;
    const struct sim_snmp_object *o;
    while ((o = sim_snmpmap_next(map, cur, len, root, root_len)) != NULL) {
        assert_true(sim_snmp_oid_compare(o->oid, o->oid_len, cur, len) > 0);
        assert_true(o->oid_len >= root_len && memcmp(o->oid, root, root_len * 4) == 0);
        if (n == 0 && first) {
            uint32_t want[SIM_SNMP_OID_MAX];
            size_t wlen = parse_oid(first, want);
            assert_int_equal(sim_snmp_oid_compare(o->oid, o->oid_len, want, wlen), 0);
        }
        memcpy(cur, o->oid, o->oid_len * sizeof *cur);
        len = o->oid_len;
        n++;
    }
    return n;
}

static void getnext_walks_each_subtree_and_stops_at_its_end(void **state)
{
    (void)state;
    struct sim_model m;
    make_site(&m);
    struct sim_snmpmap *map = malloc(sizeof *map);
    sim_snmpmap_build(map, &m);
    /* Arriving from below the subtree (a walk of the whole agent). */
    assert_int_equal(walk(map, "1", ups_root, 7, "1.3.6.1.2.1.33.1.1.1.0"), 17);
    assert_int_equal(walk(map, "1.3.6.1.2.1.33.1.9", site_root, 7, "1.3.6.1.4.1.99999.1.1.1.0"),
                     map->count - 17);
    /* One table column: one row per cooling unit, then the column ends. */
    const uint32_t column[] = {SIM_SNMP_SITE_ROOT, 1, 2, 2, 1, 4};
    assert_int_equal(walk(map, "1.3.6.1.4.1.99999.1.2.2.1.4", column, ARRAY_LEN(column),
                          "1.3.6.1.4.1.99999.1.2.2.1.4.1"),
                     m.nunits);
    /* From between two instances, and from past the subtree's end. */
    assert_int_equal(
        walk(map, "1.3.6.1.2.1.33.1.4.4.1.4.1.7", ups_root, 7, "1.3.6.1.2.1.33.1.4.4.1.4.2"), 3);
    assert_int_equal(walk(map, "1.3.6.1.2.1.34", ups_root, 7, NULL), 0);
    assert_int_equal(walk(map, "1.3.6.1.4.1.99999.1.5.2.0", site_root, 7, NULL), 0);
    free(map);
}

static void get_tells_missing_instance_from_missing_object(void **state)
{
    (void)state;
    struct sim_model m;
    make_site(&m);
    struct sim_snmpmap *map = malloc(sizeof *map);
    sim_snmpmap_build(map, &m);
    static const struct {
        const char *oid;
        bool is_object;
    } cases[] = {
        {"1.3.6.1.2.1.33.1.2.4.1", true},          /* scalar, not .0 */
        {"1.3.6.1.4.1.99999.1.2.2.1.4.4", true},   /* no unit 4 */
        {"1.3.6.1.4.1.99999.1.2.2.1.4.1.1", true}, /* an index too long */
        {"1.3.6.1.2.1.33.1.2.4", false},           /* the object itself */
        {"1.3.6.1.2.1.33.1.2.5.0", false},         /* upsBatteryVoltage: not served */
        {"1.3.6.1.4.1.99999.1.2.2.1.10.1", false}, /* no column 10 */
        {"1.3.6.1.2.1.1.1.0", false},              /* no system group */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t arcs[32];
        size_t n = parse_oid(cases[i].oid, arcs);
        assert_null(sim_snmpmap_get(map, arcs, n));
        if (sim_snmpmap_is_object(map, arcs, n) != cases[i].is_object)
            fail_msg("%s: is_object should be %d", cases[i].oid, cases[i].is_object);
    }
    free(map);
}

static void a_set_change_shows_after_rebuild(void **state)
{
    (void)state;
    struct sim_model m;
    make_site(&m);
    struct sim_snmpmap *map = malloc(sizeof *map);
    sim_snmpmap_build(map, &m);
    assert_int_equal(get(map, "1.3.6.1.4.1.99999.1.2.2.1.4.2")->value, 200000);
    assert_int_equal(sim_model_set(&m, "chiller2.capacity_kw", 0, NULL, 0), 0);
    assert_int_equal(sim_model_set(&m, "ups.battery_pct", 42, NULL, 0), 0);
    sim_snmpmap_build(map, &m);
    assert_int_equal(get(map, "1.3.6.1.4.1.99999.1.2.2.1.4.2")->value, 0);
    assert_int_equal(get(map, "1.3.6.1.4.1.99999.1.2.1.0")->value, 250000);
    assert_int_equal(get(map, "1.3.6.1.2.1.33.1.2.4.0")->value, 42);
    free(map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_values_are_served_at_documented_oids),
        cmocka_unit_test(ups_on_battery_shows_in_every_ups_object),
        cmocka_unit_test(output_lines_add_up_to_the_ups_load),
        cmocka_unit_test(scaled_values_saturate_at_their_type_limits),
        cmocka_unit_test(map_is_in_oid_order_without_duplicates),
        cmocka_unit_test(oids_compare_arc_by_arc),
        cmocka_unit_test(getnext_walks_each_subtree_and_stops_at_its_end),
        cmocka_unit_test(get_tells_missing_instance_from_missing_object),
        cmocka_unit_test(a_set_change_shows_after_rebuild),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
