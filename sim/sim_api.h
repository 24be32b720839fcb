/*
 * sim_api — what /sim/set and /sim/state do to and with a model, apart
 * from HTTP: body in, JSON out, no locking (the caller holds the site's
 * lock). Kept separate from the server so the behaviour is unit-tested
 * without sockets.
 */
#ifndef FLOE_SIM_API_H
#define FLOE_SIM_API_H

#include "sim/sim_model.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Why a /sim/set body was refused; the string goes into the error's
 * "code" field. */
enum sim_api_error { SIM_API_BAD_JSON, SIM_API_UNKNOWN_VALUE, SIM_API_BAD_VALUE };
const char *sim_api_error_code(enum sim_api_error e);

/* Settings /sim/set takes besides the model's values, owned by another
 * part of the site (the cluster's faults and delays, Velero's faults):
 * names for which owns() is true go to check(), which validates one
 * member without changing anything (0, or -1 with "NAME: why"), and once
 * every member of the body is accepted, to apply(), which cannot fail.
 * The value is any JSON (a string, a number, a bool, null). */
struct sim_api_ext {
    bool (*owns)(void *arg, const char *name);
    int (*check)(void *arg, const char *name, const cJSON *v, char *err, size_t errlen);
    void (*apply)(void *arg, const char *name, const cJSON *v);
    void *arg;
};

/* Applies a /sim/set body: a JSON object of value names to numbers (or
 * true/false for switches), and of the names the extensions own to their
 * values, in the order given. All or nothing: when any member is refused
 * nothing is changed. Returns 0, or -1 with *why and a message naming the
 * offending member. */
int sim_api_set(struct sim_model *m, const struct sim_api_ext *ext, size_t next, const char *body,
                size_t len, enum sim_api_error *why, char *err, size_t errlen);

/* The /sim/state document: {"site", "time_s", "values": {name: value}}
 * with switches as true/false. Returns a new string (caller frees) or NULL
 * when out of memory. */
char *sim_api_state_json(const struct sim_model *m);

#endif
