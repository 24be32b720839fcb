/*
 * sim_scenario — reads a floe-sim scenario file (JSON, // and block
 * comments allowed) into a model, its event timeline and the listener
 * settings. Strict like the agent's config: an unknown key, a value of the
 * wrong type or out of range is an error "FILE: json.path: message".
 *
 * The keys of the model sections are the value names themselves
 * ("room": {"inlet_c": 24} sets room.inlet_c; a chiller named chiller2
 * with "capacity_kw" sets chiller2.capacity_kw), so a scenario, an event
 * and POST /sim/set all speak one vocabulary. sim/README.md documents the
 * format.
 */
#ifndef FLOE_SIM_SCENARIO_H
#define FLOE_SIM_SCENARIO_H

#include "sim/sim_cluster.h"
#include "sim/sim_model.h"
#include "sim/sim_snmp.h"
#include "sim/sim_velero.h"

#include <stddef.h>

#define SIM_DEFAULT_LISTEN "127.0.0.1"

struct sim_scenario {
    char listen[64];               /* IPv4 address to bind; default 127.0.0.1 */
    int modbus_port;               /* 0 = any free port (default) */
    int http_port;                 /* 0 = any free port (default) */
    struct sim_snmp_settings snmp; /* port 0, community "public", no v3 user by default */
    double speedup;                /* simulated seconds per wall second; default 1 */
    struct sim_model model;
    struct sim_timeline timeline;
    /* The simulated Kubernetes cluster; model.it_cluster_kw is its
     * running kW once parsed. */
    struct simc_cluster cluster;
    /* Its Velero ("velero" section); velero.enabled false without one. */
    struct sim_velero_config velero;
};

/* Parses text (len bytes; need not be NUL-terminated) into *sc; `name`
 * starts error messages. On failure *sc holds nothing to free. */
int sim_scenario_parse(struct sim_scenario *sc, const char *name, const char *text, size_t len,
                       char *err, size_t errlen);

/* Reads and parses a file. */
int sim_scenario_load(struct sim_scenario *sc, const char *path, char *err, size_t errlen);

/* Frees the timeline and the cluster; the scenario may be parsed into
 * again. */
void sim_scenario_clear(struct sim_scenario *sc);

#endif
