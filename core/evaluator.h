/*
 * evaluator — the agent's policy loop: every `policy_tick` (default 10 s),
 * after each device poll, and at the moment a pending `for`, a
 * `clear_for` or a cooldown ends (eval_next_tick_ms), it takes one
 * metrics snapshot, computes the derive metrics, advances
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

/* A device poll finished (new samples, or errors, in the metrics): tick
 * soon, so a decision does not wait for the periodic tick. Cheap and
 * callable from any thread (the pollers call it after every poll); a
 * burst of calls makes one tick. NULL: no-op. */
void eval_samples_changed(struct evaluator *ev);

/* The agent's config was swapped (SIGHUP): rebuild and tick now. */
void eval_config_changed(struct evaluator *ev);
/* API-managed policies changed in the store: rebuild and tick now. */
void eval_policies_changed(struct evaluator *ev);

/* When the loop ticks next, as a pure function of its inputs (all
 * monotonic milliseconds, so a wall-clock step neither stalls nor hurries
 * it). Ticks happen:
 *   - every tick_ms after the previous tick (policy_tick: time-based
 *     functions, schedule windows, staleness, derive metrics kept fresh);
 *     tick_ms 0 means no periodic tick (nothing to evaluate);
 *   - at due_in_ms from now, when a pending `for`, a `clear_for` or a
 *     cooldown ends (pol_engine_next_due, made relative by the caller;
 *     negative or 0: now; EVAL_NEVER: none);
 *   - when new samples came (samples), but not sooner than min_gap_ms
 *     after the previous tick: the polls of several devices finishing
 *     together make one tick, not one each.
 * Returns the monotonic time to tick at (now_ms when something is due
 * already), or EVAL_NEVER when nothing is due until the loop is woken. */
#define EVAL_NEVER INT64_MAX
/* Sample-driven ticks come at most this often (ms). */
#define EVAL_SAMPLES_MIN_GAP_MS 25
struct eval_wake_in {
    int64_t now_ms;
    int64_t last_tick_ms;
    int64_t tick_ms;
    int64_t due_in_ms;
    bool samples;
    int64_t min_gap_ms;
};
int64_t eval_next_tick_ms(const struct eval_wake_in *in);

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
