/*
 * pol_run — one policy tick: the routine the live agent and `floe replay`
 * share, so a replay runs exactly the engine code the agent runs.
 *
 * Per tick, at now_ms, against the caller's data source (a struct pol_env:
 * the agent's metrics snapshot + SQLite history, or a replay trace):
 *   1. every `derive` metric is evaluated, in config order, and handed to
 *      ops->derived (the agent stores it, an unknown result with quality
 *      error; replay appends it to its trace). A derive sees the results
 *      of the derives before it in this tick; a derive that reads itself
 *      or a later one gets what the data source holds (last tick's value).
 *      Policies see every derive of this tick.
 *   2. every policy's state machine is advanced (pol_engine_tick); state
 *      changes, and a policy's deciding expression turning unknown or
 *      known again, go to ops->event (one log/audit line each).
 *   3. each policy whose tick says a decision is due yields a struct
 *      decision (policies/decision.h) to ops->decision: for a shed, action.kw
 *      is evaluated and need_kw = action.kw - inflight_kw; its inputs are
 *      every value `when`, `clear` and `action.kw` read in this tick (via
 *      pol_env.input, each name once, in the order first read); its status
 *      and reasons come from decision_classify. A rebalance carries its
 *      action's parameters and the window its max_migrations counts in
 *      (pol_window_bounds: the schedule's occurrence open now, or the
 *      site's local day without a schedule; unknown without a time zone).
 *
 * The env the caller passes is wrapped, not changed: pol_run supplies
 * now_ms, the site local time (from the time zone given at pol_run_new),
 * the derived values of this tick (value and glob), and its own input
 * recorder; history and last_good go straight to the caller's env, whose
 * own `now_ms`, `local` and `input` are not used.
 *
 * Allocation: none per tick in the steady state; the input recorder grows
 * to the largest tick seen and stays; a decision allocates its record.
 * Not thread safe: one thread ticks a run (and its engine).
 */
#ifndef FLOE_POL_RUN_H
#define FLOE_POL_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "policies/decision.h"
#include "policies/pol_engine.h"
#include "policies/pol_lang.h"

struct pol_run;

struct pol_run_setup {
    /* Borrowed for the life of the run; compiled (pol_engine_new) from
     * the same policies array as below, in the same order. */
    struct pol_engine *engine;
    const struct cfg_policy *policies;
    size_t npolicies;
    const struct cfg_derive *derive; /* copied; may be freed afterwards */
    size_t nderive;
    /* Site time zone, borrowed; NULL = take env->local of each tick's env
     * as it is. */
    const struct pol_tz *tz;
};

/* A policy's state changed, or its deciding expression turned unknown or
 * known again, at ts_ms. */
struct pol_run_event {
    size_t policy;    /* index in the engine */
    const char *name; /* owned by the engine */
    int64_t ts_ms;
    enum pol_state prev, state;
    const char *why; /* pol_tick.why when the state changed, else NULL */
    bool unknown;    /* the deciding expression is unknown now */
    bool unknown_changed;
};

/* Every callback may be NULL. */
struct pol_run_ops {
    void *ctx;
    /* Derived metric `metric` (index i of the derive list) at now_ms; good
     * 0 means unknown (value NAN). */
    void (*derived)(void *ctx, size_t i, const char *metric, const char *unit, double value,
                    int good, int64_t now_ms);
    void (*event)(void *ctx, const struct pol_run_event *ev);
    /* d is lent for the call. To keep it, move it: copy *d and
     * decision_init(d); pol_run clears whatever is left in it. */
    void (*decision)(void *ctx, struct decision *d);
};

/* Compiles the derive expressions (errors as "derive[1].expr: unknown
 * function 'sun' at column 1", "derive[2].metric: ..."), checks that
 * setup->policies matches the engine. Returns 0 and a new run (free with
 * pol_run_free), or -1 with err filled. */
int pol_run_new(struct pol_run **out, const struct pol_run_setup *setup, char *err, size_t errlen);
void pol_run_free(struct pol_run *run);

/* One tick at now_ms against env (see above). inflight_kw: kW of this
 * site's migrations already in flight, subtracted from a shed's action.kw
 * (0 until the migrator exists, and in replay). Returns the number of
 * decisions made. */
size_t pol_run_tick(struct pol_run *run, const struct pol_env *env, int64_t now_ms,
                    double inflight_kw, const struct pol_run_ops *ops);

#endif
