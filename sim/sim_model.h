/*
 * sim_model — the simulated site's facility: cooling units, IT load, power
 * supply, room temperature and UPS, plus the scripted event timeline.
 *
 * Every value has a name ("chiller2.capacity_kw", "it.base_kw",
 * "ups.on_battery"); scenario files, scripted events, POST /sim/set and
 * GET /sim/state all use these names, so one lookup table (sim_model.c)
 * defines what can be read and changed and with which limits.
 *
 * The model has no clock and no lock: sim_model_step() advances it by one
 * second of simulated time and the caller (sim_site) decides when, under
 * its own mutex. That keeps the physics testable without threads or time.
 */
#ifndef FLOE_SIM_MODEL_H
#define FLOE_SIM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_MAX_UNITS 20 /* the register map reserves 20 unit blocks */
#define SIM_UNIT_NAME_MAX 32
#define SIM_SITE_NAME_MAX 64
#define SIM_VALUE_NAME_MAX 64 /* "<unit>.<field>" always fits */

/* Unit alarm word bits (also the register map's alarm register). */
#define SIM_ALARM_STOPPED 0x1          /* running is false */
#define SIM_ALARM_CAPACITY_REDUCED 0x2 /* capacity_kw below rated_kw */
#define SIM_ALARM_FAULT 0x4            /* fault is set */

/* UPS status word bits. */
#define SIM_UPS_ON_BATTERY 0x1
#define SIM_UPS_BATTERY_LOW 0x2 /* below SIM_UPS_LOW_PCT */
#define SIM_UPS_DEPLETED 0x4    /* battery at 0 % */
#define SIM_UPS_LOW_PCT 25.0
/* Recharge speed when back on mains, in percent per simulated second
 * (1 % per minute): slow enough to watch, fast enough for a demo. */
#define SIM_UPS_RECHARGE_PCT_PER_S (1.0 / 60.0)
/* Reported when the UPS carries no load (runtime is then unbounded); also
 * the largest value its uint16 register can hold. */
#define SIM_UPS_RUNTIME_MAX_MIN 65535.0

enum sim_unit_kind { SIM_UNIT_CHILLER = 1, SIM_UNIT_CRAH = 2 };

/* A cooling unit. Chillers and CRAHs both remove heat from the room; the
 * sim treats a CRAH as an independent unit (free-air cooling, as in Luleå),
 * so the room's cooling is the sum of every running unit's capacity. */
struct sim_unit {
    char name[SIM_UNIT_NAME_MAX];
    enum sim_unit_kind kind;
    double capacity_kw; /* what it can remove while running */
    double rated_kw;    /* nameplate; capacity below it raises an alarm bit */
    double supply_c;    /* chilled-water (chiller) or supply-air (CRAH) temperature */
    bool running;
    bool fault;
};

struct sim_model {
    char site[SIM_SITE_NAME_MAX];
    struct sim_unit units[SIM_MAX_UNITS];
    size_t nunits;

    double it_base_kw;
    /* kW of namespaces running in the simulated cluster; the cluster part
     * of floe-sim keeps it up to date. IT load = base + cluster. */
    double it_cluster_kw;
    double it_energy_kwh; /* IT energy since start */

    double supply_hydro_kw;
    double supply_wind_kw;
    double supply_grid_kw;

    double room_inlet_c;
    double room_setpoint_c;
    double room_thermal_mass_kj_per_k;

    double ups_battery_pct;
    double ups_output_w;
    double ups_capacity_wh; /* usable energy at 100 % */
    bool ups_on_battery;
    /* Simulated time the UPS last went on battery (UPS-MIB's
     * upsSecondsOnBattery counts from it); set by writing ups.on_battery. */
    int64_t ups_on_battery_since_ms;

    int64_t time_ms; /* simulated time since start */
};

enum sim_vtype { SIM_NUM, SIM_BOOL };

/* A resolved value name: index into the site or unit field table. */
struct sim_ref {
    int field;
    int unit; /* -1 for site values */
};

/* One value as listed by sim_model_value_at. */
struct sim_value {
    char name[SIM_VALUE_NAME_MAX];
    double value; /* bools are 0 or 1 */
    enum sim_vtype type;
    bool read_only; /* derived from other values */
};

/* Fills defaults: no units, no load, 22 °C room at its setpoint,
 * thermal mass 1000 kJ/K, a full UPS with no capacity and no load. */
void sim_model_init(struct sim_model *m);

/* Adds a cooling unit with defaults (running, no fault, rated = capacity = 0,
 * supply 7 °C for chillers, 18 °C for CRAHs). The name must be one
 * [a-z0-9_]+ segment, unique, and not a value prefix ("it", "supply",
 * "cooling", "room", "ups", "sim", "ns", "kube", "cluster", "velero").
 * Returns the new unit or NULL with err filled. */
struct sim_unit *sim_model_add_unit(struct sim_model *m, const char *name, enum sim_unit_kind kind,
                                    char *err, size_t errlen);

/* Resolves a value name. Errors: "unknown value 'NAME'". */
int sim_model_lookup(const struct sim_model *m, const char *name, struct sim_ref *out, char *err,
                     size_t errlen);
enum sim_vtype sim_model_ref_type(struct sim_ref ref);
bool sim_model_ref_read_only(struct sim_ref ref);
void sim_model_ref_name(const struct sim_model *m, struct sim_ref ref, char *buf, size_t n);

double sim_model_read(const struct sim_model *m, struct sim_ref ref);
/* Sets one value after checking it: read-only values, out-of-range numbers
 * and bools other than 0/1 are refused. The message does not repeat the
 * value's name (callers put their own path in front). */
int sim_model_write(struct sim_model *m, struct sim_ref ref, double value, char *err,
                    size_t errlen);

/* By name: lookup + read/write; messages start with the name. */
int sim_model_get(const struct sim_model *m, const char *name, double *out, char *err,
                  size_t errlen);
int sim_model_set(struct sim_model *m, const char *name, double value, char *err, size_t errlen);

/* All values in a stable order (site values, then each unit's). */
size_t sim_model_value_count(const struct sim_model *m);
void sim_model_value_at(const struct sim_model *m, size_t i, struct sim_value *out);

/* Derived values used by the register map. */
double sim_model_it_load_kw(const struct sim_model *m);
double sim_model_supply_kw(const struct sim_model *m);
double sim_model_cooling_kw(const struct sim_model *m);
double sim_model_unit_available_kw(const struct sim_unit *u);
unsigned sim_model_unit_alarm(const struct sim_unit *u);
double sim_model_ups_runtime_min(const struct sim_model *m);
/* Whole simulated seconds since the UPS went on battery; 0 on mains. */
double sim_model_ups_seconds_on_battery(const struct sim_model *m);
unsigned sim_model_ups_status(const struct sim_model *m);

/* Advances the model by one second of simulated time. */
void sim_model_step(struct sim_model *m);

/* ---- scripted events ---- */

struct sim_assign {
    struct sim_ref ref;
    double value;
    char name[SIM_VALUE_NAME_MAX]; /* for log lines */
};

struct sim_event {
    int64_t at_ms; /* simulated time since start */
    struct sim_assign *sets;
    size_t nsets;
};

/* Events sorted by time; `next` is the first one not yet fired. */
struct sim_timeline {
    struct sim_event *events;
    size_t nevents, cap_events;
    size_t next;
};

/* Takes ownership of ev->sets and inserts the event in time order (events
 * at the same time keep their file order). Returns 0 or -1 (no memory). */
int sim_timeline_add(struct sim_timeline *tl, struct sim_event *ev, char *err, size_t errlen);

/* Called for each event fired; err is NULL when every assignment applied,
 * else the first refusal (the other assignments still apply). */
typedef void (*sim_event_cb)(void *arg, const struct sim_event *ev, const char *err);

/* Fires every event whose time has come (at_ms <= m->time_ms) and that has
 * not fired yet. Returns how many fired. cb may be NULL. */
size_t sim_timeline_fire(struct sim_timeline *tl, struct sim_model *m, sim_event_cb cb, void *arg);

void sim_timeline_clear(struct sim_timeline *tl);

#endif
