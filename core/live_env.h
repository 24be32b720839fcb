/*
 * live_env — the policy language's data source in the running agent: the
 * latest values from one metrics snapshot (taken once per tick, so every
 * expression of a tick sees the same instant) and history summaries from
 * the store, with the snapshot's latest sample added when the store does
 * not hold it yet (the recorder commits every few seconds).
 *
 * Replay has its own data source (policies/replay_trace.c); both fill the
 * same struct pol_env, which is what lets replay run the agent's engine.
 */
#ifndef FLOE_LIVE_ENV_H
#define FLOE_LIVE_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"
#include "policies/pol_lang.h"
#include "store/store.h"

struct live_env {
    const struct metric_snapshot *snap; /* sorted by name, borrowed */
    size_t n;
    struct store *store;                /* borrowed; NULL = no history */
};

/* Fills env's value, glob, history and last_good callbacks over le
 * (le must outlive env); now_ms, local and input are left to the caller. */
void live_env_bind(struct live_env *le, struct pol_env *env);

#endif
