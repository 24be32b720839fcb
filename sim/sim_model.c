/*
 * sim_model — see sim_model.h. The two field tables below are the single
 * list of value names: what exists, its type, its limits and whether it is
 * derived. Scenario sections, events and /sim/set all go through them.
 */
#include "sim/sim_model.h"

#include "lib/util.h"
#include "lib/vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits wide enough for any real site: what they refuse is negative power,
 * temperatures no room or chiller reaches, and NaN. */
#define KW_MAX 1e6
#define TEMP_MIN_C -50.0
#define TEMP_MAX_C 150.0

struct site_field {
    const char *name;
    enum sim_vtype type;
    bool read_only;
    double min, max;
    ptrdiff_t off;                            /* of a double/bool in sim_model, or -1 */
    double (*get)(const struct sim_model *m); /* derived values */
    int (*set)(struct sim_model *m, double v, char *err, size_t errlen); /* special writers */
};

struct unit_field {
    const char *name; /* after "<unit>." */
    enum sim_vtype type;
    bool read_only;
    double min, max;
    ptrdiff_t off; /* of a double/bool in sim_unit, or -1 */
    double (*get)(const struct sim_unit *u);
};

static double get_time_s(const struct sim_model *m)
{
    return (double)(m->time_ms / 1000);
}

static double get_ups_status(const struct sim_model *m)
{
    return sim_model_ups_status(m);
}

static int set_ups_runtime(struct sim_model *m, double runtime_min, char *err, size_t errlen)
{
    if (m->ups_battery_pct <= 0)
        return errf(err, errlen, "cannot calibrate an empty battery (set ups.battery_pct first)");
    if (m->ups_output_w <= 0)
        return errf(err, errlen, "cannot calibrate without load (set ups.output_w first)");
    /* Runtime = stored energy / load, so a stated runtime at the present
     * charge and load fixes the battery's capacity. */
    m->ups_capacity_wh = runtime_min / 60.0 * m->ups_output_w / (m->ups_battery_pct / 100.0);
    return 0;
}

/* Only a change from mains to battery starts the clock: setting "on
 * battery" again while on battery is not a new outage. */
static int set_ups_on_battery(struct sim_model *m, double on, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    if (on != 0 && !m->ups_on_battery)
        m->ups_on_battery_since_ms = m->time_ms;
    m->ups_on_battery = on != 0;
    return 0;
}

#define MOFF(f) ((ptrdiff_t)offsetof(struct sim_model, f))
#define UOFF(f) ((ptrdiff_t)offsetof(struct sim_unit, f))

/* Order matters twice: it is the listing order of /sim/state and the order
 * in which a scenario section's keys are applied (ups.runtime_min after the
 * charge and load it is calibrated against). */
static const struct site_field site_fields[] = {
    {"sim.time_s", SIM_NUM, true, 0, 0, -1, get_time_s, NULL},
    {"it.base_kw", SIM_NUM, false, 0, KW_MAX, MOFF(it_base_kw), NULL, NULL},
    {"it.load_kw", SIM_NUM, true, 0, 0, -1, sim_model_it_load_kw, NULL},
    {"it.energy_kwh", SIM_NUM, true, 0, 0, MOFF(it_energy_kwh), NULL, NULL},
    {"supply.hydro_kw", SIM_NUM, false, 0, KW_MAX, MOFF(supply_hydro_kw), NULL, NULL},
    {"supply.wind_kw", SIM_NUM, false, 0, KW_MAX, MOFF(supply_wind_kw), NULL, NULL},
    {"supply.grid_kw", SIM_NUM, false, 0, KW_MAX, MOFF(supply_grid_kw), NULL, NULL},
    {"supply.total_kw", SIM_NUM, true, 0, 0, -1, sim_model_supply_kw, NULL},
    {"cooling.available_kw", SIM_NUM, true, 0, 0, -1, sim_model_cooling_kw, NULL},
    {"room.setpoint_c", SIM_NUM, false, TEMP_MIN_C, TEMP_MAX_C, MOFF(room_setpoint_c), NULL, NULL},
    {"room.inlet_c", SIM_NUM, false, TEMP_MIN_C, TEMP_MAX_C, MOFF(room_inlet_c), NULL, NULL},
    {"room.thermal_mass_kj_per_k", SIM_NUM, false, 1, 1e12, MOFF(room_thermal_mass_kj_per_k), NULL,
     NULL},
    {"ups.battery_pct", SIM_NUM, false, 0, 100, MOFF(ups_battery_pct), NULL, NULL},
    {"ups.output_w", SIM_NUM, false, 0, 1e9, MOFF(ups_output_w), NULL, NULL},
    {"ups.capacity_wh", SIM_NUM, false, 0, 1e12, MOFF(ups_capacity_wh), NULL, NULL},
    {"ups.runtime_min", SIM_NUM, false, 0, SIM_UPS_RUNTIME_MAX_MIN, -1, sim_model_ups_runtime_min,
     set_ups_runtime},
    {"ups.on_battery", SIM_BOOL, false, 0, 1, MOFF(ups_on_battery), NULL, set_ups_on_battery},
    {"ups.status", SIM_NUM, true, 0, 0, -1, get_ups_status, NULL},
};

static double get_unit_available(const struct sim_unit *u)
{
    return sim_model_unit_available_kw(u);
}

static double get_unit_alarm(const struct sim_unit *u)
{
    return sim_model_unit_alarm(u);
}

static double get_unit_kind(const struct sim_unit *u)
{
    return u->kind;
}

static const struct unit_field unit_fields[] = {
    {"capacity_kw", SIM_NUM, false, 0, KW_MAX, UOFF(capacity_kw), NULL},
    {"rated_kw", SIM_NUM, false, 0, KW_MAX, UOFF(rated_kw), NULL},
    {"supply_c", SIM_NUM, false, TEMP_MIN_C, TEMP_MAX_C, UOFF(supply_c), NULL},
    {"running", SIM_BOOL, false, 0, 1, UOFF(running), NULL},
    {"fault", SIM_BOOL, false, 0, 1, UOFF(fault), NULL},
    {"available_kw", SIM_NUM, true, 0, 0, -1, get_unit_available},
    {"alarm", SIM_NUM, true, 0, 0, -1, get_unit_alarm},
    {"kind", SIM_NUM, true, 0, 0, -1, get_unit_kind},
};

#define NSITE ((int)ARRAY_LEN(site_fields))
#define NUNIT ((int)ARRAY_LEN(unit_fields))

/* First segments of site value names (and "ns", kept for the cluster's
 * namespaces; "kube", "cluster", "velero" for the cluster's and Velero's
 * /sim/set names): a unit named like one would make names ambiguous. */
static const char *const reserved_prefixes[] = {"sim", "it", "supply", "cooling", "room",
                                                "ups", "ns", "kube",   "cluster", "velero"};

void sim_model_init(struct sim_model *m)
{
    memset(m, 0, sizeof *m);
    m->room_setpoint_c = 22.0;
    m->room_inlet_c = 22.0;
    m->room_thermal_mass_kj_per_k = 1000.0;
    m->ups_battery_pct = 100.0;
}

struct sim_unit *sim_model_add_unit(struct sim_model *m, const char *name, enum sim_unit_kind kind,
                                    char *err, size_t errlen)
{
    if (!util_metric_name_valid(name) || strchr(name, '.')) {
        errf(err, errlen, "unit name '%s' must be one segment of [a-z0-9_]", name);
        return NULL;
    }
    if (strlen(name) >= SIM_UNIT_NAME_MAX) {
        errf(err, errlen, "unit name '%s' is longer than %d characters", name,
             SIM_UNIT_NAME_MAX - 1);
        return NULL;
    }
    for (size_t i = 0; i < ARRAY_LEN(reserved_prefixes); i++) {
        if (strcmp(name, reserved_prefixes[i]) == 0) {
            errf(err, errlen, "unit name '%s' is reserved", name);
            return NULL;
        }
    }
    for (size_t i = 0; i < m->nunits; i++) {
        if (strcmp(m->units[i].name, name) == 0) {
            errf(err, errlen, "unit name '%s' is used twice", name);
            return NULL;
        }
    }
    if (m->nunits >= SIM_MAX_UNITS) {
        errf(err, errlen, "more than %d cooling units", SIM_MAX_UNITS);
        return NULL;
    }
    struct sim_unit *u = &m->units[m->nunits++];
    memset(u, 0, sizeof *u);
    util_strlcpy(u->name, name, sizeof u->name);
    u->kind = kind;
    u->running = true;
    u->supply_c = kind == SIM_UNIT_CHILLER ? 7.0 : 18.0;
    return u;
}

int sim_model_lookup(const struct sim_model *m, const char *name, struct sim_ref *out, char *err,
                     size_t errlen)
{
    const char *dot = strchr(name, '.');
    if (dot) {
        size_t plen = (size_t)(dot - name);
        for (size_t i = 0; i < m->nunits; i++) {
            if (strlen(m->units[i].name) != plen || memcmp(m->units[i].name, name, plen) != 0)
                continue;
            for (int f = 0; f < NUNIT; f++) {
                if (strcmp(unit_fields[f].name, dot + 1) == 0) {
                    *out = (struct sim_ref){.field = f, .unit = (int)i};
                    return 0;
                }
            }
            return errf(err, errlen, "unknown value '%s'", name);
        }
    }
    for (int f = 0; f < NSITE; f++) {
        if (strcmp(site_fields[f].name, name) == 0) {
            *out = (struct sim_ref){.field = f, .unit = -1};
            return 0;
        }
    }
    return errf(err, errlen, "unknown value '%s'", name);
}

enum sim_vtype sim_model_ref_type(struct sim_ref ref)
{
    return ref.unit < 0 ? site_fields[ref.field].type : unit_fields[ref.field].type;
}

bool sim_model_ref_read_only(struct sim_ref ref)
{
    return ref.unit < 0 ? site_fields[ref.field].read_only : unit_fields[ref.field].read_only;
}

void sim_model_ref_name(const struct sim_model *m, struct sim_ref ref, char *buf, size_t n)
{
    if (ref.unit < 0)
        snprintf(buf, n, "%s", site_fields[ref.field].name);
    else
        snprintf(buf, n, "%s.%s", m->units[ref.unit].name, unit_fields[ref.field].name);
}

static double read_slot(const void *base, ptrdiff_t off, enum sim_vtype type)
{
    const char *p = (const char *)base + off;
    if (type == SIM_BOOL)
        return *(const bool *)p ? 1.0 : 0.0;
    return *(const double *)p;
}

static void write_slot(void *base, ptrdiff_t off, enum sim_vtype type, double v)
{
    char *p = (char *)base + off;
    if (type == SIM_BOOL)
        *(bool *)p = v != 0;
    else
        *(double *)p = v;
}

double sim_model_read(const struct sim_model *m, struct sim_ref ref)
{
    if (ref.unit < 0) {
        const struct site_field *f = &site_fields[ref.field];
        return f->get ? f->get(m) : read_slot(m, f->off, f->type);
    }
    const struct unit_field *f = &unit_fields[ref.field];
    const struct sim_unit *u = &m->units[ref.unit];
    return f->get ? f->get(u) : read_slot(u, f->off, f->type);
}

static int check_value(enum sim_vtype type, bool read_only, double min, double max, double v,
                       char *err, size_t errlen)
{
    if (read_only)
        return errf(err, errlen, "derived from other values, cannot be set");
    if (!isfinite(v))
        return errf(err, errlen, "not a finite number");
    if (type == SIM_BOOL) {
        if (v != 0 && v != 1)
            return errf(err, errlen, "expected true/false (or 1/0), got %g", v);
        return 0;
    }
    if (v < min || v > max)
        return errf(err, errlen, "%g is out of range (%g to %g)", v, min, max);
    return 0;
}

int sim_model_write(struct sim_model *m, struct sim_ref ref, double value, char *err, size_t errlen)
{
    if (ref.unit < 0) {
        const struct site_field *f = &site_fields[ref.field];
        if (check_value(f->type, f->read_only, f->min, f->max, value, err, errlen) < 0)
            return -1;
        if (f->set)
            return f->set(m, value, err, errlen);
        write_slot(m, f->off, f->type, value);
        return 0;
    }
    const struct unit_field *f = &unit_fields[ref.field];
    if (check_value(f->type, f->read_only, f->min, f->max, value, err, errlen) < 0)
        return -1;
    write_slot(&m->units[ref.unit], f->off, f->type, value);
    return 0;
}

int sim_model_get(const struct sim_model *m, const char *name, double *out, char *err,
                  size_t errlen)
{
    struct sim_ref ref;
    if (sim_model_lookup(m, name, &ref, err, errlen) < 0)
        return -1;
    *out = sim_model_read(m, ref);
    return 0;
}

int sim_model_set(struct sim_model *m, const char *name, double value, char *err, size_t errlen)
{
    struct sim_ref ref;
    if (sim_model_lookup(m, name, &ref, err, errlen) < 0)
        return -1;
    char why[200];
    if (sim_model_write(m, ref, value, why, sizeof why) < 0)
        return errf(err, errlen, "%s: %s", name, why);
    return 0;
}

size_t sim_model_value_count(const struct sim_model *m)
{
    return (size_t)NSITE + m->nunits * (size_t)NUNIT;
}

void sim_model_value_at(const struct sim_model *m, size_t i, struct sim_value *out)
{
    struct sim_ref ref;
    if (i < (size_t)NSITE)
        ref = (struct sim_ref){.field = (int)i, .unit = -1};
    else
        ref = (struct sim_ref){.field = (int)((i - NSITE) % NUNIT),
                               .unit = (int)((i - NSITE) / NUNIT)};
    sim_model_ref_name(m, ref, out->name, sizeof out->name);
    out->value = sim_model_read(m, ref);
    out->type = sim_model_ref_type(ref);
    out->read_only = sim_model_ref_read_only(ref);
}

double sim_model_it_load_kw(const struct sim_model *m)
{
    return m->it_base_kw + m->it_cluster_kw;
}

double sim_model_supply_kw(const struct sim_model *m)
{
    return m->supply_hydro_kw + m->supply_wind_kw + m->supply_grid_kw;
}

double sim_model_unit_available_kw(const struct sim_unit *u)
{
    return u->running ? u->capacity_kw : 0.0;
}

double sim_model_cooling_kw(const struct sim_model *m)
{
    double kw = 0;
    for (size_t i = 0; i < m->nunits; i++)
        kw += sim_model_unit_available_kw(&m->units[i]);
    return kw;
}

unsigned sim_model_unit_alarm(const struct sim_unit *u)
{
    unsigned bits = 0;
    if (!u->running)
        bits |= SIM_ALARM_STOPPED;
    if (u->capacity_kw < u->rated_kw)
        bits |= SIM_ALARM_CAPACITY_REDUCED;
    if (u->fault)
        bits |= SIM_ALARM_FAULT;
    return bits;
}

double sim_model_ups_runtime_min(const struct sim_model *m)
{
    if (m->ups_output_w <= 0)
        return SIM_UPS_RUNTIME_MAX_MIN;
    double energy_wh = m->ups_capacity_wh * m->ups_battery_pct / 100.0;
    double min = energy_wh / m->ups_output_w * 60.0;
    return min < SIM_UPS_RUNTIME_MAX_MIN ? min : SIM_UPS_RUNTIME_MAX_MIN;
}

double sim_model_ups_seconds_on_battery(const struct sim_model *m)
{
    if (!m->ups_on_battery)
        return 0;
    return (double)((m->time_ms - m->ups_on_battery_since_ms) / 1000);
}

unsigned sim_model_ups_status(const struct sim_model *m)
{
    unsigned bits = 0;
    if (m->ups_on_battery)
        bits |= SIM_UPS_ON_BATTERY;
    if (m->ups_battery_pct < SIM_UPS_LOW_PCT)
        bits |= SIM_UPS_BATTERY_LOW;
    if (m->ups_battery_pct <= 0)
        bits |= SIM_UPS_DEPLETED;
    return bits;
}

/* Room air: surplus heat warms it through its thermal mass (kW = kJ/s, so
 * kW / (kJ/K) is K/s). With cooling to spare the units are modulated to
 * hold the setpoint: the spare capacity pulls a warm room down, and a room
 * below setpoint is let warm up by the IT heat; neither overshoots. */
static void step_room(struct sim_model *m, double dt_s)
{
    double load_kw = sim_model_it_load_kw(m);
    double surplus_kw = load_kw - sim_model_cooling_kw(m);
    double mass = m->room_thermal_mass_kj_per_k;
    if (surplus_kw > 0) {
        m->room_inlet_c += surplus_kw * dt_s / mass;
    } else if (m->room_inlet_c > m->room_setpoint_c) {
        double t = m->room_inlet_c + surplus_kw * dt_s / mass;
        m->room_inlet_c = t > m->room_setpoint_c ? t : m->room_setpoint_c;
    } else if (m->room_inlet_c < m->room_setpoint_c) {
        double t = m->room_inlet_c + load_kw * dt_s / mass;
        m->room_inlet_c = t < m->room_setpoint_c ? t : m->room_setpoint_c;
    }
    if (m->room_inlet_c > TEMP_MAX_C)
        m->room_inlet_c = TEMP_MAX_C;
}

static void step_ups(struct sim_model *m, double dt_s)
{
    if (m->ups_on_battery) {
        double energy_wh = m->ups_capacity_wh * m->ups_battery_pct / 100.0;
        energy_wh -= m->ups_output_w * dt_s / 3600.0;
        double pct = m->ups_capacity_wh > 0 ? energy_wh / m->ups_capacity_wh * 100.0 : 0.0;
        m->ups_battery_pct = pct > 0 ? pct : 0.0;
    } else if (m->ups_battery_pct < 100.0) {
        double pct = m->ups_battery_pct + SIM_UPS_RECHARGE_PCT_PER_S * dt_s;
        m->ups_battery_pct = pct < 100.0 ? pct : 100.0;
    }
}

void sim_model_step(struct sim_model *m)
{
    const double dt_s = 1.0;
    step_room(m, dt_s);
    step_ups(m, dt_s);
    m->it_energy_kwh += sim_model_it_load_kw(m) * dt_s / 3600.0;
    m->time_ms += 1000;
}

int sim_timeline_add(struct sim_timeline *tl, struct sim_event *ev, char *err, size_t errlen)
{
    if (vec_reserve(tl->events, tl->cap_events, tl->nevents + 1) < 0)
        return errf(err, errlen, "out of memory");
    size_t pos = tl->nevents;
    while (pos > 0 && tl->events[pos - 1].at_ms > ev->at_ms)
        pos--;
    memmove(&tl->events[pos + 1], &tl->events[pos], (tl->nevents - pos) * sizeof *tl->events);
    tl->events[pos] = *ev;
    tl->nevents++;
    ev->sets = NULL;
    ev->nsets = 0;
    return 0;
}

size_t sim_timeline_fire(struct sim_timeline *tl, struct sim_model *m, sim_event_cb cb, void *arg)
{
    size_t fired = 0;
    while (tl->next < tl->nevents && tl->events[tl->next].at_ms <= m->time_ms) {
        const struct sim_event *ev = &tl->events[tl->next++];
        char first_err[320] = "";
        for (size_t i = 0; i < ev->nsets; i++) {
            char why[200];
            if (sim_model_write(m, ev->sets[i].ref, ev->sets[i].value, why, sizeof why) < 0 &&
                !first_err[0])
                snprintf(first_err, sizeof first_err, "%s: %s", ev->sets[i].name, why);
        }
        if (cb)
            cb(arg, ev, first_err[0] ? first_err : NULL);
        fired++;
    }
    return fired;
}

void sim_timeline_clear(struct sim_timeline *tl)
{
    for (size_t i = 0; i < tl->nevents; i++)
        free(tl->events[i].sets);
    free(tl->events);
    memset(tl, 0, sizeof *tl);
}
