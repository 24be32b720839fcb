/*
 * evaluator — the agent's policy loop: every `policy_tick` (default 10 s)
 * it takes one metrics snapshot, computes the derive metrics, advances
 * every policy's state machine and records each decision in the store.
 * The per-tick logic is policies/pol_run.c, shared with `floe replay`;
 * this module supplies the live data (agent/live_env.c), where results go
 * (metrics, store, log), and which policies run: the config file's plus
 * those managed over the API (stored in the database).
 *
 * Policy states are persisted on every change, so a restarted agent
 * neither forgets that a policy is firing nor decides again before its
 * cooldown. Each tick takes its own reference to the agent's config
 * snapshot (core/agent.h) and holds no agent lock, so a slow store write
 * never holds up a reload or an HTTP request. The engine keeps shallow
 * copies of the config's policies, so the evaluator keeps a reference to
 * the config it was built from; it rebuilds when the agent's config
 * generation moves on (a reload) or API policies changed, and only then
 * lets the old config go. States of policies that keep their name carry
 * over.
 */
#ifndef FLOE_EVALUATOR_H
#define FLOE_EVALUATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/agent.h"
#include "policies/pol_engine.h"

struct evaluator;

/* Starts the loop; borrows a until eval_stop. NULL with err on failure
 * (the policies of a config that passed cfg_load_checked compile). */
struct evaluator *eval_start(struct agent *a, char *err, size_t errlen);
/* The same without the thread: builds (restoring saved states) and
 * returns; the caller drives it with eval_tick (tests). */
struct evaluator *eval_new(struct agent *a, char *err, size_t errlen);
/* Stops the loop if there is one and frees ev (NULL: no-op). */
void eval_stop(struct evaluator *ev);

/* One tick at wall-clock time now_ms: rebuilds first when the config
 * generation changed or API policies changed, then evaluates derives and
 * policies on a metrics snapshot taken at now_ms and records what
 * happened. The loop calls it every policy_tick with the clock's time;
 * only one thread may tick an evaluator. */
void eval_tick(struct evaluator *ev, int64_t now_ms);

/* The agent's config was swapped (SIGHUP): rebuild and tick now. */
void eval_config_changed(struct evaluator *ev);
/* API-managed policies changed in the store: rebuild and tick now. */
void eval_policies_changed(struct evaluator *ev);

/* What GET /v1/policies and /metrics show of one policy. */
struct eval_policy_status {
    char name[72];
    enum pol_state state;
    int64_t since_ms;           /* 0 before the first tick */
    bool unknown;               /* the deciding expression is unknown */
    bool in_window;
    enum pol_mode mode;
    enum pol_severity severity;
    int64_t last_decision_id;   /* 0 = none yet */
    bool from_api;              /* managed over the API (else the config file) */
};

/* Copies the status of every running policy (config order, then API
 * policies by name) into a new array; caller frees. */
size_t eval_statuses(struct evaluator *ev, struct eval_policy_status **out);

#endif
