/*
 * pol_run — derive, tick, decide: the per-tick routine described in
 * pol_run.h. The wrapped env below is the only thing added on top of the
 * engine: it layers this tick's derived values over the caller's data
 * source and records what the policy expressions read.
 */
#include "policies/pol_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/vec.h"

struct derive {
    char *metric;
    char *unit;
    struct pol_expr *expr;
    double value;
    bool good;
    bool done; /* evaluated in the current tick */
};

/* What the run needs of a policy besides its compiled engine. */
struct policy_info {
    enum pol_mode mode;
    enum pol_action_type type;
    int64_t for_ms, cooldown_ms;
    int64_t deadline_ms; /* shed: action.deadline, 0 = none */
    /* rebalance: its action's parameters and its schedule, which bound
     * the window its max_migrations counts in */
    double min_gain_kw;
    int max_migrations;
    int64_t min_residency_ms;
    bool has_schedule;
    int start_min, end_min;
    unsigned days_mask;
};

/* One value read by an expression, as pol_env.input reported it; names
 * stay valid for the tick (they belong to the expression or the env). */
struct reading {
    const char *name;
    double value;
    bool good;
};

struct pol_run {
    struct pol_engine *eng;
    struct policy_info *pols;
    size_t npols;
    struct derive *derives;
    size_t nderives;
    const struct pol_tz *tz;

    /* Per tick. */
    const struct pol_env *base; /* the caller's env */
    struct pol_env env;         /* what expressions see */
    struct pol_local local;
    bool recording;
    struct reading *readings;
    size_t nreadings, cap_readings;
};

/* ---- the wrapped env ------------------------------------------------------- */

static const struct derive *derived_now(const struct pol_run *run, const char *metric)
{
    for (size_t i = 0; i < run->nderives; i++) {
        const struct derive *d = &run->derives[i];
        if (d->done && strcmp(d->metric, metric) == 0)
            return d;
    }
    return NULL;
}

static int env_value(void *ctx, const char *metric, double *out)
{
    struct pol_run *run = ctx;
    const struct derive *d = derived_now(run, metric);
    if (d) {
        *out = d->value;
        return d->good;
    }
    const struct pol_env *b = run->base;
    return b->value ? b->value(b->ctx, metric, out) : 0;
}

struct glob_pass {
    const struct pol_run *run;
    pol_member_fn each;
    void *each_ctx;
};

/* Members the data source knows, except derived metrics of this tick,
 * which env_glob adds with their fresh values. */
static void glob_filter(void *ctx, const char *metric, double value, int good)
{
    struct glob_pass *g = ctx;
    if (!derived_now(g->run, metric))
        g->each(g->each_ctx, metric, value, good);
}

static int env_glob(void *ctx, const char *pattern, pol_member_fn each, void *each_ctx)
{
    struct pol_run *run = ctx;
    const struct pol_env *b = run->base;
    if (b->glob) {
        struct glob_pass g = {run, each, each_ctx};
        if (b->glob(b->ctx, pattern, glob_filter, &g) < 0)
            return -1;
    }
    for (size_t i = 0; i < run->nderives; i++) {
        const struct derive *d = &run->derives[i];
        if (d->done && pol_glob_match(pattern, d->metric))
            each(each_ctx, d->metric, d->value, d->good);
    }
    return 0;
}

static int env_history(void *ctx, const char *metric, int64_t since_ms, int64_t until_ms,
                       struct pol_window *w)
{
    const struct pol_env *b = ((struct pol_run *)ctx)->base;
    return b->history ? b->history(b->ctx, metric, since_ms, until_ms, w) : -1;
}

static int env_last_good(void *ctx, const char *metric, int64_t *ts_ms)
{
    const struct pol_env *b = ((struct pol_run *)ctx)->base;
    return b->last_good ? b->last_good(b->ctx, metric, ts_ms) : 0;
}

static void env_input(void *ctx, const char *name, double value, int good)
{
    struct pol_run *run = ctx;
    if (!run->recording)
        return;
    vec_reserve_or_abort(run->readings, run->cap_readings, run->nreadings + 1); /* see decision.h */
    run->readings[run->nreadings++] = (struct reading){name, value, good != 0};
}

/* ---- set-up ---------------------------------------------------------------- */

int pol_run_new(struct pol_run **out, const struct pol_run_setup *s, char *err, size_t errlen)
{
    if (pol_engine_count(s->engine) != s->npolicies)
        return errf(err, errlen, "policy engine has %zu policies, the config %zu",
                    pol_engine_count(s->engine), s->npolicies);
    for (size_t i = 0; i < s->npolicies; i++)
        if (strcmp(pol_engine_name(s->engine, i), s->policies[i].name) != 0)
            return errf(err, errlen, "policies[%zu]: engine has '%s' here, the config '%s'", i,
                        pol_engine_name(s->engine, i), s->policies[i].name);

    struct pol_run *run = calloc(1, sizeof *run);
    if (!run)
        return errf(err, errlen, "out of memory");
    run->eng = s->engine;
    run->tz = s->tz;
    run->pols = calloc(s->npolicies ? s->npolicies : 1, sizeof *run->pols);
    run->derives = calloc(s->nderive ? s->nderive : 1, sizeof *run->derives);
    if (!run->pols || !run->derives) {
        errf(err, errlen, "out of memory");
        goto fail;
    }
    run->npols = s->npolicies;
    for (size_t i = 0; i < s->npolicies; i++) {
        const struct cfg_policy *p = &s->policies[i];
        run->pols[i] = (struct policy_info){
            .mode = p->mode,
            .type = p->action.type,
            .for_ms = p->for_ms,
            .cooldown_ms = p->cooldown_ms,
            .deadline_ms = p->action.deadline_ms,
            .min_gain_kw = p->action.min_gain_kw,
            .max_migrations = p->action.max_migrations,
            .min_residency_ms = p->action.min_residency_ms,
            .has_schedule = p->has_schedule,
            .start_min = p->schedule.start_min,
            .end_min = p->schedule.end_min,
            .days_mask = p->schedule.days_mask,
        };
    }
    for (size_t i = 0; i < s->nderive; i++) {
        const struct cfg_derive *c = &s->derive[i];
        if (!c->metric || !util_metric_name_valid(c->metric)) {
            errf(err, errlen, "derive[%zu].metric: '%s' is not a metric name", i,
                 c->metric ? c->metric : "");
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(run->derives[j].metric, c->metric) == 0) {
                errf(err, errlen, "derive[%zu].metric: '%s' is also derive[%zu]", i, c->metric, j);
                goto fail;
            }
        }
        char msg[256];
        struct pol_expr *e = pol_parse(c->expr ? c->expr : "", msg, sizeof msg);
        if (!e) {
            errf(err, errlen, "derive[%zu].expr: %s", i, msg);
            goto fail;
        }
        run->derives[i] = (struct derive){.metric = util_strdup(c->metric),
                                          .unit = util_strdup(c->unit ? c->unit : ""),
                                          .expr = e,
                                          .value = NAN};
        run->nderives++;
    }
    run->env = (struct pol_env){
        .ctx = run,
        .value = env_value,
        .glob = env_glob,
        .history = env_history,
        .last_good = env_last_good,
        .input = env_input,
    };
    *out = run;
    return 0;
fail:
    pol_run_free(run);
    return -1;
}

void pol_run_free(struct pol_run *run)
{
    if (!run)
        return;
    for (size_t i = 0; i < run->nderives; i++) {
        free(run->derives[i].metric);
        free(run->derives[i].unit);
        pol_free(run->derives[i].expr);
    }
    free(run->derives);
    free(run->pols);
    free(run->readings);
    free(run);
}

/* ---- the tick --------------------------------------------------------------- */

static void run_derives(struct pol_run *run, int64_t now_ms, const struct pol_run_ops *ops)
{
    for (size_t i = 0; i < run->nderives; i++)
        run->derives[i].done = false;
    for (size_t i = 0; i < run->nderives; i++) {
        struct derive *d = &run->derives[i];
        d->good = pol_eval(d->expr, &run->env, &d->value) == 1;
        d->done = true;
        if (ops && ops->derived)
            ops->derived(ops->ctx, i, d->metric, d->unit, d->value, d->good, now_ms);
    }
}

/* The recorded readings, each name once in order of first reading. A name
 * read twice in one tick has the same value both times (the env is a
 * snapshot), so the first one stands for both. */
static void add_inputs(const struct pol_run *run, struct decision *d)
{
    for (size_t i = 0; i < run->nreadings; i++) {
        const struct reading *r = &run->readings[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = run->readings[j].name == r->name || strcmp(run->readings[j].name, r->name) == 0;
        if (!seen)
            decision_add_input(d, r->name, r->value, r->good);
    }
}

/* A rebalance's parameters, and the window it counts max_migrations in:
 * its schedule's occurrence open now, or without a schedule the site's
 * local day (unknown without a time zone). */
static void rebalance_params(const struct pol_run *run, const struct policy_info *p, int64_t now_ms,
                             struct decision_rebalance *r)
{
    r->min_gain_kw = p->min_gain_kw;
    r->max_migrations = p->max_migrations;
    r->min_residency_ms = p->min_residency_ms;
    if (!run->tz)
        return;
    if (p->has_schedule)
        pol_window_bounds(run->tz, p->start_min, p->end_min, p->days_mask, now_ms,
                          &r->window_start_ms, &r->window_end_ms);
    else
        pol_window_bounds(run->tz, 0, 0, 0, now_ms, &r->window_start_ms, &r->window_end_ms);
}

static void make_decision(struct pol_run *run, size_t i, const struct pol_tick *tick,
                          int64_t now_ms, double inflight_kw, const struct pol_run_ops *ops)
{
    const struct policy_info *p = &run->pols[i];
    struct decision_facts facts = {.mode = p->mode, .kw = NAN, .inflight_kw = inflight_kw};
    if (tick->unknown)
        facts.unknown = tick->when == POL_UNKNOWN ? "when" : "clear";
    /* Read while still recording, so the inputs include action.kw's. */
    if (p->type == POL_ACTION_SHED)
        pol_engine_action_kw(run->eng, i, &run->env, &facts.kw);

    struct decision d;
    decision_init(&d);
    d.ts_ms = now_ms;
    d.kind = p->type;
    if (p->type == POL_ACTION_SHED)
        d.deadline_s = (double)p->deadline_ms / 1000.0;
    if (p->type == POL_ACTION_REBALANCE)
        rebalance_params(run, p, now_ms, &d.rebalance);
    decision_set_policy(&d, pol_engine_name(run->eng, i));
    add_inputs(run, &d);
    char dur[32];
    if (tick->decide == POL_DECIDE_FIRED) {
        util_format_duration(p->for_ms, dur, sizeof dur);
        if (p->for_ms > 0)
            decision_add_reason(&d, "entered firing: `when` held for %s", dur);
        else
            decision_add_reason(&d, "entered firing: `when` true");
    } else {
        util_format_duration(p->cooldown_ms, dur, sizeof dur);
        decision_add_reason(&d, "still firing %s (the cooldown) after the previous decision", dur);
    }
    decision_classify(&d, &facts);
    if (ops && ops->decision)
        ops->decision(ops->ctx, &d);
    decision_clear(&d);
}

size_t pol_run_tick(struct pol_run *run, const struct pol_env *env, int64_t now_ms,
                    double inflight_kw, const struct pol_run_ops *ops)
{
    run->base = env;
    run->env.now_ms = now_ms;
    if (run->tz) {
        pol_tz_local(run->tz, now_ms, &run->local);
        run->env.local = &run->local;
    } else {
        run->env.local = env->local;
    }
    run->recording = false;
    run_derives(run, now_ms, ops);

    size_t decisions = 0;
    for (size_t i = 0; i < run->npols; i++) {
        struct pol_status before;
        struct pol_tick tick;
        pol_engine_status(run->eng, i, &before);
        run->nreadings = 0;
        run->recording = true;
        pol_engine_tick(run->eng, i, &run->env, &tick);
        bool unknown_changed = tick.unknown != before.unknown;
        if ((tick.changed || unknown_changed) && ops && ops->event) {
            struct pol_run_event ev = {
                .policy = i,
                .name = pol_engine_name(run->eng, i),
                .ts_ms = now_ms,
                .prev = tick.prev,
                .state = tick.state,
                .why = tick.changed ? tick.why : NULL,
                .unknown = tick.unknown,
                .unknown_changed = unknown_changed,
            };
            ops->event(ops->ctx, &ev);
        }
        if (tick.decide != POL_DECIDE_NONE) {
            make_decision(run, i, &tick, now_ms, inflight_kw, ops);
            decisions++;
        }
        run->recording = false;
    }
    return decisions;
}
