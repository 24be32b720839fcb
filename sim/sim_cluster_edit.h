/*
 * sim_cluster_edit — the cluster's test-facing JSON: going in, the
 * scenario file's "cluster" section and the bodies of POST /sim/cluster
 * (run-time changes), which describe namespaces the same way so one
 * parser serves both, and the cluster's /sim/set names; going out, the
 * GET /sim/cluster document. sim/README.md documents the formats.
 *
 * Strict like the rest of the scenario: an unknown or duplicate key, a
 * wrong type or a name Kubernetes would refuse is an error naming its JSON
 * path ("cluster.namespaces[0].labels[\"floe.dev/movable\"]: expected a
 * string"). Annotation values are any string, as in Kubernetes, so a test
 * can hand the agent a malformed floe.dev/power-kw.
 */
#ifndef FLOE_SIM_CLUSTER_EDIT_H
#define FLOE_SIM_CLUSTER_EDIT_H

#include "sim/sim_cluster.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The scenario's "cluster" section (v; `path` starts messages) into c,
 * which simc_init made. Objects are created at simulated time 0. Returns
 * 0, or -1 with "path: message" (c may then hold part of the section:
 * clear it). */
int simc_parse_scenario(struct simc_cluster *c, const cJSON *v, const char *path, char *err,
                        size_t errlen);

/* Why a /sim/cluster body was refused. */
enum simc_edit_error {
    SIMC_EDIT_BAD_JSON,  /* not JSON, or not an object: 400 */
    SIMC_EDIT_BAD_VALUE, /* unknown key, wrong type, bad name or value: 400 */
    SIMC_EDIT_NOT_FOUND, /* patch or remove of a namespace or workload that is not there: 404 */
    SIMC_EDIT_EXISTS,    /* add of a namespace that is there: 409 */
};
const char *simc_edit_error_code(enum simc_edit_error e); /* "bad_json", ... */
int simc_edit_error_status(enum simc_edit_error e);       /* 400, 404, 409 */

/* Applies a /sim/cluster body: an object whose members "add" (namespaces
 * in scenario form), "remove" (names), "patch" (name → changes; null
 * removes a label or annotation) and "token" apply in the order given, at
 * simulated time now_ms. All or nothing: when any part is refused the
 * cluster is unchanged. Returns 0, or -1 with *why and "path: message". */
int simc_edit(struct simc_cluster *c, const char *body, size_t len, int64_t now_ms,
              enum simc_edit_error *why, char *err, size_t errlen);

/* The GET /sim/cluster document: {"time_s", "it_cluster_kw",
 * "never_ready", "namespaces": [{"name", "phase", "running", "pods",
 * "ready", "kw", "stateful", "data_version", "writing", "quiesced",
 * "workloads": [{"kind", "name", "replicas", "pods", "ready",
 * "rolled_out"}]}]}: what a test reads to prove no write was lost. A new
 * string (caller frees) or NULL when out of memory. */
char *simc_state_json(const struct simc_cluster *c, int64_t now_ms);

/* /sim/set names the cluster takes: "cluster.never_ready" (a namespace
 * name whose pods never become ready, also one that does not exist yet;
 * "" or null clears it), "cluster.ready_delay_s", "cluster.stop_delay_s",
 * "cluster.terminate_delay_s" (seconds 0..86400, for changes from now
 * on). check validates without changing anything (0, or -1 with
 * "NAME: why"); apply then cannot fail. */
bool simc_setting_name(const char *name);
int simc_setting_check(const char *name, const cJSON *v, char *err, size_t errlen);
void simc_setting_apply(struct simc_cluster *c, const char *name, const cJSON *v);

#endif
