/*
 * sim_site — one running simulated site: the model and its timeline
 * behind one mutex, a clock thread that steps the physics every simulated
 * second and fires scripted events, the Modbus server, the SNMP agent and
 * the HTTP server (/sim/set, /sim/state, /sim/cluster and the simulated
 * cluster's Kubernetes API). sim_main.c only parses the command line and
 * waits for a signal; everything a site runs is started and stopped here.
 */
#ifndef FLOE_SIM_SITE_H
#define FLOE_SIM_SITE_H

#include "sim/sim_scenario.h"

#include <stddef.h>

struct sim_site;

/* Takes over *sc (listen address, ports and speedup already final; ports
 * may be 0) and starts every listener and the clock. Returns 0 and *out,
 * or -1 with err; *sc is consumed either way. */
int sim_site_start(struct sim_site **out, struct sim_scenario *sc, char *err, size_t errlen);

const char *sim_site_listen(const struct sim_site *s);
int sim_site_modbus_port(const struct sim_site *s);
int sim_site_http_port(const struct sim_site *s);
int sim_site_snmp_port(const struct sim_site *s);

/* Stops the clock and the servers and frees s. NULL is a no-op. */
void sim_site_stop(struct sim_site *s);

#endif
