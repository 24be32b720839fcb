/*
 * sim_modbus — the simulated site's Modbus TCP server (libmodbus).
 *
 * One thread runs a select() loop over the listening socket and every
 * connected client, so several pollers (the agent opens one connection per
 * configured device) are served side by side. Register contents come from
 * sim_regmap and change only through sim_modbus_publish(), under the
 * server's lock, so a client never reads half of an update. The map is
 * read-only: write requests get exception 1 (illegal function); values are
 * changed through the model (events, POST /sim/set).
 */
#ifndef FLOE_SIM_MODBUS_H
#define FLOE_SIM_MODBUS_H

#include "sim/sim_model.h"

#include <stddef.h>

struct sim_modbus;

/* Binds addr:port (IPv4; port 0 = any free port), fills the registers from
 * `initial` and starts serving. Returns 0 and *out, or -1 with err. */
int sim_modbus_start(struct sim_modbus **out, const char *addr, int port,
                     const struct sim_model *initial, char *err, size_t errlen);

/* The port actually bound. */
int sim_modbus_port(const struct sim_modbus *s);

/* Replaces the register contents with the model's current values. */
void sim_modbus_publish(struct sim_modbus *s, const struct sim_model *m);

/* Stops the thread, closes every connection, frees s. NULL is a no-op. */
void sim_modbus_stop(struct sim_modbus *s);

#endif
