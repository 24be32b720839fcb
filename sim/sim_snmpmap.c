/*
 * sim_snmpmap — see sim_snmpmap.h. Scaled integers are rounded to nearest
 * and clamped to their type's range (a real agent saturates rather than
 * wrapping), except the UPS runtime, which is rounded down as in the
 * Modbus map: UPSes report whole minutes left.
 */
#include "sim/sim_snmpmap.h"

#include "lib/util.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* upsObjects (UPS-MIB) and floeSim (the enterprise subtree). */
static const uint32_t ups_base[] = {SIM_SNMP_UPS_ROOT, 1};
static const uint32_t site_base[] = {SIM_SNMP_SITE_ROOT, 1};
#define BASE_LEN 8

/* UPS-MIB groups and objects below upsObjects (RFC 1628). */
enum {
    UPS_IDENT = 1,
    UPS_IDENT_MANUFACTURER = 1,
    UPS_IDENT_MODEL = 2,
    UPS_IDENT_NAME = 5,
    UPS_BATTERY = 2,
    UPS_BATTERY_STATUS = 1,
    UPS_SECONDS_ON_BATTERY = 2,
    UPS_MINUTES_REMAINING = 3,
    UPS_CHARGE_REMAINING = 4,
    UPS_INPUT = 3,
    UPS_INPUT_NUM_LINES = 2,
    UPS_INPUT_TABLE = 3,
    UPS_INPUT_TRUE_POWER = 5,
    UPS_OUTPUT = 4,
    UPS_OUTPUT_SOURCE = 1,
    UPS_OUTPUT_NUM_LINES = 3,
    UPS_OUTPUT_TABLE = 4,
    UPS_OUTPUT_POWER = 4,
    UPS_ALARM = 6,
    UPS_ALARMS_PRESENT = 1,
};

/* floeSim groups and objects (documented in sim/README.md). */
enum {
    SITE_INFO = 1,
    SITE_MAP_VERSION = 1,
    SITE_NAME = 2,
    SITE_TIME = 3,
    SITE_COOLING_UNITS = 4,
    SITE_COOLING = 2,
    SITE_COOLING_AVAILABLE = 1,
    SITE_UNIT_TABLE = 2,
    UNIT_NAME = 1,
    UNIT_KIND = 2,
    UNIT_CAPACITY = 3,
    UNIT_AVAILABLE = 4,
    UNIT_RATED = 5,
    UNIT_SUPPLY_TEMP = 6,
    UNIT_RUNNING = 7,
    UNIT_FAULT = 8,
    UNIT_ALARM = 9,
    SITE_IT = 3,
    IT_LOAD = 1,
    IT_BASE = 2,
    IT_ENERGY = 3,
    SITE_SUPPLY = 4,
    SUPPLY_HYDRO = 1,
    SUPPLY_WIND = 2,
    SUPPLY_GRID = 3,
    SUPPLY_TOTAL = 4,
    SITE_ROOM = 5,
    ROOM_INLET = 1,
    ROOM_SETPOINT = 2,
};

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int64_t integer_of(double v)
{
    return (int64_t)clamp(round(v), INT32_MIN, INT32_MAX);
}

static int64_t gauge_of(double v)
{
    return (int64_t)clamp(round(v), 0, UINT32_MAX);
}

static int64_t counter64_of(double v)
{
    /* INT64_MAX is not a double; 2^63 and above would overflow the cast. */
    if (!(v < 9.2e18))
        return v > 0 ? INT64_MAX : 0;
    return (int64_t)clamp(round(v), 0, 9.2e18);
}

/* Appends the object base.path.instance; object_len covers base.path. */
static struct sim_snmp_object *add(struct sim_snmpmap *map, const uint32_t *base,
                                   const uint32_t *path, size_t path_len, uint32_t instance,
                                   enum sim_snmp_type type)
{
    assert(map->count < SIM_SNMPMAP_MAX);
    assert(BASE_LEN + path_len + 1 <= SIM_SNMP_OID_MAX);
    struct sim_snmp_object *o = &map->objects[map->count++];
    memset(o, 0, sizeof *o);
    memcpy(o->oid, base, BASE_LEN * sizeof *base);
    memcpy(o->oid + BASE_LEN, path, path_len * sizeof *path);
    o->object_len = BASE_LEN + path_len;
    o->oid[o->object_len] = instance;
    o->oid_len = o->object_len + 1;
    o->type = type;
    return o;
}

static void add_number(struct sim_snmpmap *map, const uint32_t *base, uint32_t group, uint32_t item,
                       enum sim_snmp_type type, int64_t value)
{
    const uint32_t path[] = {group, item};
    add(map, base, path, ARRAY_LEN(path), 0, type)->value = value;
}

static void add_string(struct sim_snmpmap *map, const uint32_t *base, uint32_t group, uint32_t item,
                       const char *value)
{
    const uint32_t path[] = {group, item};
    util_strlcpy(add(map, base, path, ARRAY_LEN(path), 0, SIM_SNMP_STRING)->string, value,
                 SIM_SNMP_STRING_MAX);
}

/* One cell of a table: base.group.table.1.column.row. */
static struct sim_snmp_object *add_cell(struct sim_snmpmap *map, const uint32_t *base,
                                        uint32_t group, uint32_t table, uint32_t column,
                                        uint32_t row, enum sim_snmp_type type)
{
    const uint32_t path[] = {group, table, 1, column};
    return add(map, base, path, ARRAY_LEN(path), row, type);
}

/* W on line `line` (1-based) when total_w is shared evenly: whole watts,
 * the remainder on the first lines, so the lines add up to the total. */
static int64_t line_share_w(double total_w, int line)
{
    int64_t total = (int64_t)clamp(round(total_w), 0, (double)INT32_MAX * SIM_SNMP_UPS_LINES);
    return total / SIM_SNMP_UPS_LINES + (line <= total % SIM_SNMP_UPS_LINES ? 1 : 0);
}

static int64_t battery_status(unsigned ups_status)
{
    if (ups_status & SIM_UPS_DEPLETED)
        return SIM_SNMP_BATTERY_DEPLETED;
    if (ups_status & SIM_UPS_BATTERY_LOW)
        return SIM_SNMP_BATTERY_LOW;
    return SIM_SNMP_BATTERY_NORMAL;
}

/* upsAlarmsPresent counts the well-known alarms the model raises:
 * upsAlarmOnBattery, upsAlarmLowBattery, upsAlarmDepletedBattery. */
static int64_t alarms_present(unsigned ups_status)
{
    return (ups_status & SIM_UPS_ON_BATTERY ? 1 : 0) + (ups_status & SIM_UPS_BATTERY_LOW ? 1 : 0) +
           (ups_status & SIM_UPS_DEPLETED ? 1 : 0);
}

static void build_ups(struct sim_snmpmap *map, const struct sim_model *m)
{
    const uint32_t *b = ups_base;
    unsigned status = sim_model_ups_status(m);
    add_string(map, b, UPS_IDENT, UPS_IDENT_MANUFACTURER, "floe");
    add_string(map, b, UPS_IDENT, UPS_IDENT_MODEL, "floe-sim UPS");
    add_string(map, b, UPS_IDENT, UPS_IDENT_NAME, m->site);

    add_number(map, b, UPS_BATTERY, UPS_BATTERY_STATUS, SIM_SNMP_INTEGER, battery_status(status));
    add_number(map, b, UPS_BATTERY, UPS_SECONDS_ON_BATTERY, SIM_SNMP_INTEGER,
               integer_of(sim_model_ups_seconds_on_battery(m)));
    add_number(map, b, UPS_BATTERY, UPS_MINUTES_REMAINING, SIM_SNMP_INTEGER,
               integer_of(floor(sim_model_ups_runtime_min(m))));
    add_number(map, b, UPS_BATTERY, UPS_CHARGE_REMAINING, SIM_SNMP_INTEGER,
               integer_of(clamp(m->ups_battery_pct, 0, 100)));

    /* The model has no losses and no charging power: on mains the input
     * carries exactly the output, on battery nothing. */
    double input_w = m->ups_on_battery ? 0.0 : m->ups_output_w;
    add_number(map, b, UPS_INPUT, UPS_INPUT_NUM_LINES, SIM_SNMP_INTEGER, SIM_SNMP_UPS_LINES);
    for (int line = 1; line <= SIM_SNMP_UPS_LINES; line++)
        add_cell(map, b, UPS_INPUT, UPS_INPUT_TABLE, UPS_INPUT_TRUE_POWER, (uint32_t)line,
                 SIM_SNMP_INTEGER)
            ->value = line_share_w(input_w, line);

    add_number(map, b, UPS_OUTPUT, UPS_OUTPUT_SOURCE, SIM_SNMP_INTEGER,
               m->ups_on_battery ? SIM_SNMP_OUTPUT_BATTERY : SIM_SNMP_OUTPUT_NORMAL);
    add_number(map, b, UPS_OUTPUT, UPS_OUTPUT_NUM_LINES, SIM_SNMP_INTEGER, SIM_SNMP_UPS_LINES);
    for (int line = 1; line <= SIM_SNMP_UPS_LINES; line++)
        add_cell(map, b, UPS_OUTPUT, UPS_OUTPUT_TABLE, UPS_OUTPUT_POWER, (uint32_t)line,
                 SIM_SNMP_INTEGER)
            ->value = line_share_w(m->ups_output_w, line);

    add_number(map, b, UPS_ALARM, UPS_ALARMS_PRESENT, SIM_SNMP_GAUGE32, alarms_present(status));
}

static int64_t truth(bool v)
{
    return v ? SIM_SNMP_TRUE : SIM_SNMP_FALSE;
}

static void build_unit(struct sim_snmpmap *map, const struct sim_unit *u, uint32_t row)
{
    const uint32_t *b = site_base;
    const uint32_t g = SITE_COOLING, t = SITE_UNIT_TABLE;
    util_strlcpy(add_cell(map, b, g, t, UNIT_NAME, row, SIM_SNMP_STRING)->string, u->name,
                 SIM_SNMP_STRING_MAX);
    add_cell(map, b, g, t, UNIT_KIND, row, SIM_SNMP_INTEGER)->value = u->kind;
    add_cell(map, b, g, t, UNIT_CAPACITY, row, SIM_SNMP_GAUGE32)->value =
        gauge_of(u->capacity_kw * 1000.0);
    add_cell(map, b, g, t, UNIT_AVAILABLE, row, SIM_SNMP_GAUGE32)->value =
        gauge_of(sim_model_unit_available_kw(u) * 1000.0);
    add_cell(map, b, g, t, UNIT_RATED, row, SIM_SNMP_GAUGE32)->value =
        gauge_of(u->rated_kw * 1000.0);
    add_cell(map, b, g, t, UNIT_SUPPLY_TEMP, row, SIM_SNMP_INTEGER)->value =
        integer_of(u->supply_c * 10.0);
    add_cell(map, b, g, t, UNIT_RUNNING, row, SIM_SNMP_INTEGER)->value = truth(u->running);
    add_cell(map, b, g, t, UNIT_FAULT, row, SIM_SNMP_INTEGER)->value = truth(u->fault);
    add_cell(map, b, g, t, UNIT_ALARM, row, SIM_SNMP_INTEGER)->value = sim_model_unit_alarm(u);
}

static void build_site(struct sim_snmpmap *map, const struct sim_model *m)
{
    const uint32_t *b = site_base;
    add_number(map, b, SITE_INFO, SITE_MAP_VERSION, SIM_SNMP_INTEGER, SIM_SNMPMAP_VERSION);
    add_string(map, b, SITE_INFO, SITE_NAME, m->site);
    add_number(map, b, SITE_INFO, SITE_TIME, SIM_SNMP_GAUGE32,
               gauge_of((double)(m->time_ms / 1000)));
    add_number(map, b, SITE_INFO, SITE_COOLING_UNITS, SIM_SNMP_INTEGER, (int64_t)m->nunits);

    add_number(map, b, SITE_COOLING, SITE_COOLING_AVAILABLE, SIM_SNMP_GAUGE32,
               gauge_of(sim_model_cooling_kw(m) * 1000.0));
    /* Rows are numbered from 1 as SNMP tables are: row i+1 is the
     * register map's unit i. */
    for (size_t i = 0; i < m->nunits; i++)
        build_unit(map, &m->units[i], (uint32_t)(i + 1));

    add_number(map, b, SITE_IT, IT_LOAD, SIM_SNMP_GAUGE32,
               gauge_of(sim_model_it_load_kw(m) * 1000.0));
    add_number(map, b, SITE_IT, IT_BASE, SIM_SNMP_GAUGE32, gauge_of(m->it_base_kw * 1000.0));
    add_number(map, b, SITE_IT, IT_ENERGY, SIM_SNMP_COUNTER64,
               counter64_of(m->it_energy_kwh * 1000.0));

    add_number(map, b, SITE_SUPPLY, SUPPLY_HYDRO, SIM_SNMP_GAUGE32,
               gauge_of(m->supply_hydro_kw * 1000.0));
    add_number(map, b, SITE_SUPPLY, SUPPLY_WIND, SIM_SNMP_GAUGE32,
               gauge_of(m->supply_wind_kw * 1000.0));
    add_number(map, b, SITE_SUPPLY, SUPPLY_GRID, SIM_SNMP_GAUGE32,
               gauge_of(m->supply_grid_kw * 1000.0));
    add_number(map, b, SITE_SUPPLY, SUPPLY_TOTAL, SIM_SNMP_GAUGE32,
               gauge_of(sim_model_supply_kw(m) * 1000.0));

    add_number(map, b, SITE_ROOM, ROOM_INLET, SIM_SNMP_INTEGER, integer_of(m->room_inlet_c * 10.0));
    add_number(map, b, SITE_ROOM, ROOM_SETPOINT, SIM_SNMP_INTEGER,
               integer_of(m->room_setpoint_c * 10.0));
}

int sim_snmp_oid_compare(const uint32_t *a, size_t alen, const uint32_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int compare_objects(const void *x, const void *y)
{
    const struct sim_snmp_object *a = x, *b = y;
    return sim_snmp_oid_compare(a->oid, a->oid_len, b->oid, b->oid_len);
}

void sim_snmpmap_build(struct sim_snmpmap *map, const struct sim_model *m)
{
    map->count = 0;
    build_ups(map, m);
    build_site(map, m);
    /* Built in reading order (a table row by row); served in OID order
     * (a table column by column), which is what GETNEXT walks. */
    qsort(map->objects, map->count, sizeof map->objects[0], compare_objects);
}

/* Index of the first object whose OID is greater than (or, with
 * or_equal, equal to) oid. */
static size_t lower_bound(const struct sim_snmpmap *map, const uint32_t *oid, size_t len,
                          bool or_equal)
{
    size_t lo = 0, hi = map->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct sim_snmp_object *o = &map->objects[mid];
        int c = sim_snmp_oid_compare(o->oid, o->oid_len, oid, len);
        if (c < 0 || (c == 0 && !or_equal))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct sim_snmp_object *sim_snmpmap_get(const struct sim_snmpmap *map, const uint32_t *oid,
                                              size_t len)
{
    size_t i = lower_bound(map, oid, len, true);
    if (i < map->count &&
        sim_snmp_oid_compare(map->objects[i].oid, map->objects[i].oid_len, oid, len) == 0)
        return &map->objects[i];
    return NULL;
}

static bool has_prefix(const uint32_t *oid, size_t len, const uint32_t *prefix, size_t prefix_len)
{
    return len >= prefix_len && memcmp(oid, prefix, prefix_len * sizeof *oid) == 0;
}

const struct sim_snmp_object *sim_snmpmap_next(const struct sim_snmpmap *map, const uint32_t *oid,
                                               size_t len, const uint32_t *root, size_t root_len)
{
    size_t i = lower_bound(map, oid, len, false);
    /* The map is sorted, so the first object after oid that is outside
     * root is either before the subtree (skip ahead) or past it (done). */
    if (sim_snmp_oid_compare(oid, len, root, root_len) < 0)
        i = lower_bound(map, root, root_len, true);
    if (i < map->count && has_prefix(map->objects[i].oid, map->objects[i].oid_len, root, root_len))
        return &map->objects[i];
    return NULL;
}

bool sim_snmpmap_is_object(const struct sim_snmpmap *map, const uint32_t *oid, size_t len)
{
    for (size_t i = 0; i < map->count; i++) {
        const struct sim_snmp_object *o = &map->objects[i];
        if (has_prefix(oid, len, o->oid, o->object_len) && len > o->object_len)
            return true;
    }
    return false;
}
