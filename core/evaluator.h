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
 * cooldown. The loop reads the agent's config under its read lock for the
 * length of one tick and rebuilds its engine when the config was reloaded
 * or API policies changed; states of policies that keep their name carry
 * over.
 *
 * After a reload, the engine's shallow copies of the old config's policies
 * point into freed memory until the next tick rebuilds; nothing reads them
 * before that: every use is inside a tick, under the config read lock,
 * after the generation check has rebuilt.
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
void eval_stop(struct evaluator *ev);

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
