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

/* Applies a /sim/set body: a JSON object of value names to numbers (or
 * true/false for switches), in the order given. All or nothing: when any
 * member is refused the model is left unchanged. Returns 0, or -1 with
 * *why and a message naming the offending member. */
int sim_api_set(struct sim_model *m, const char *body, size_t len, enum sim_api_error *why,
                char *err, size_t errlen);

/* Members of a /sim/set body that are not model values: a name starting
 * with `prefix` ("velero.") goes, without the prefix, to `set`, which
 * checks the member (apply false: nothing changes) or applies it (apply
 * true: only after every member of the body was accepted). set returns
 * 0, or -1 with *why and a message naming the member. */
struct sim_api_ext {
    const char *prefix;
    int (*set)(void *arg, const char *key, const cJSON *value, bool apply,
               enum sim_api_error *why, char *err, size_t errlen);
    void *arg;
};

/* sim_api_set with members for the extensions in ext[0..next) as well;
 * still all or nothing. */
int sim_api_set_ext(struct sim_model *m, const struct sim_api_ext *ext, size_t next,
                    const char *body, size_t len, enum sim_api_error *why, char *err,
                    size_t errlen);

/* The /sim/state document: {"site", "time_s", "values": {name: value}}
 * with switches as true/false. Returns a new string (caller frees) or NULL
 * when out of memory. */
char *sim_api_state_json(const struct sim_model *m);

#endif
