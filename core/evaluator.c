/*
 * evaluator — see evaluator.h.
 */
#include "core/evaluator.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/live_env.h"
#include "core/placer.h"
#include "core/rebalancer.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/vec.h"
#include "policies/decision.h"
#include "policies/pol_run.h"

struct evaluator {
    struct agent *a;
    pthread_t thread;
    bool threaded;              /* eval_start started the loop (else eval_new: eval_tick only) */
    pthread_mutex_t lock;       /* guards the fields below up to "owned by the ticking thread" */
    pthread_cond_t wake;
    bool stop;
    bool api_dirty;
    bool wake_now;              /* tick at once (config reloaded) */
    bool samples;               /* a poll finished since the last tick */
    bool wants_samples;         /* the built engine evaluates something: a
                                   poll is worth waking the loop for */
    struct eval_policy_status *status;
    size_t nstatus;

    /* owned by the ticking thread */
    bool built;                          /* an engine is built for built_generation */
    uint64_t built_generation;           /* agent config generation last built (or tried) */
    struct floe_config *built_cfg;       /* reference to the config the engine was built
                                            from: merged and the run point into it */
    int64_t tick_ms;                     /* policy_tick of that config */
    bool evaluates;                      /* the engine has policies or derives to run */
    bool ticked;                         /* the loop has ticked once */
    int64_t last_tick_mono_ms;           /* the loop's previous tick (or its start) */
    struct cfg_policy *api_policies;     /* parsed from the store; owned */
    size_t napi, cap_api;
    struct cfg_policy *merged;           /* shallow copies: config's, then API's */
    size_t nmerged;
    struct pol_engine *engine;
    struct pol_run *run;
    struct pol_tz *tz;
    int64_t *last_decision_id;           /* per merged policy */
    bool *state_dirty;                   /* per merged policy: persist after the tick */
};

/* ---- policy states in the store ---- */

/* The saved form of a policy's state. The id of its latest decision is
 * not in it: that comes from the decision table, which is written in the
 * same transaction as the state at each decision. */
static char *status_to_json(const struct pol_status *st)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "state", pol_state_name(st->state));
    cJSON_AddNumberToObject(o, "since_ms", (double)st->since_ms);
    cJSON_AddNumberToObject(o, "held_ms", (double)st->held_ms);
    cJSON_AddBoolToObject(o, "clearing", st->clearing);
    cJSON_AddNumberToObject(o, "last_tick_ms", (double)st->last_tick_ms);
    cJSON_AddNumberToObject(o, "last_decision_ms", (double)st->last_decision_ms);
    cJSON_AddNumberToObject(o, "decisions", (double)st->decisions);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static int64_t json_int(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

/* Saved states as read from the store: applied after the read, since the
 * store's listing holds its read lock while it calls back. */
struct saved_state {
    char *name, *body;
};
struct saved_states {
    struct saved_state *v;
    size_t n, cap;
};

static void collect_state(void *ctx, const char *name, const char *body)
{
    struct saved_states *ss = ctx;
    /* One entry per policy: bounded by the configuration, so out of
     * memory here is fatal like util_strdup (see lib/vec.h). */
    vec_reserve_or_abort(ss->v, ss->cap, ss->n + 1);
    ss->v[ss->n++] = (struct saved_state){util_strdup(name), util_strdup(body)};
}

static void restore_one(struct evaluator *ev, const char *name, const char *body)
{
    int i = pol_engine_find(ev->engine, name);
    if (i < 0)
        return;
    cJSON *o = cJSON_Parse(body);
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(o, "state");
    if (!cJSON_IsString(state)) {
        log_warn("policy %s: stored state is unreadable; starting from ok", name);
        cJSON_Delete(o);
        return;
    }
    struct pol_status st;
    pol_engine_status(ev->engine, (size_t)i, &st);
    if (strcmp(state->valuestring, "firing") == 0)
        st.state = POL_STATE_FIRING;
    else if (strcmp(state->valuestring, "pending") == 0)
        st.state = POL_STATE_PENDING;
    else
        st.state = POL_STATE_OK;
    st.since_ms = json_int(o, "since_ms");
    st.held_ms = json_int(o, "held_ms");
    st.clearing = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "clearing"));
    st.last_tick_ms = json_int(o, "last_tick_ms");
    st.last_decision_ms = json_int(o, "last_decision_ms");
    st.decisions = (uint64_t)json_int(o, "decisions");
    pol_engine_set_status(ev->engine, (size_t)i, &st);
    char err[256];
    if (store_decision_last_id(ev->a->store, name, &ev->last_decision_id[i], err, sizeof err) != 0)
        log_warn("policy %s: latest decision unknown: %s", name, err);
    if (st.state != POL_STATE_OK)
        log_info("policy %s: resumes %s (since the last run)", name, state->valuestring);
    cJSON_Delete(o);
}

static void persist_states(struct evaluator *ev)
{
    for (size_t i = 0; i < ev->nmerged; i++) {
        if (!ev->state_dirty[i])
            continue;
        struct pol_status st;
        pol_engine_status(ev->engine, i, &st);
        char *body = status_to_json(&st);
        char err[256];
        /* The flag stays set on failure: the next tick tries again. */
        if (!body ||
            store_policy_state_put(ev->a->store, ev->merged[i].name, body, err, sizeof err) != 0)
            log_err("policy %s: state not saved: %s", ev->merged[i].name, body ? err : "out of memory");
        else
            ev->state_dirty[i] = false;
        cJSON_free(body);
    }
}

/* ---- building the engine ---- */

struct api_load_ctx {
    struct evaluator *ev;
    const struct floe_config *cfg;
};

static void load_api_policy(void *ctx, const char *name, const char *body)
{
    struct api_load_ctx *lc = ctx;
    struct evaluator *ev = lc->ev;
    for (size_t i = 0; i < lc->cfg->npolicies; i++) {
        if (strcmp(lc->cfg->policies[i].name, name) == 0) {
            log_warn("policy %s: defined in the config file and over the API; the config "
                     "file's wins until the API one is deleted",
                     name);
            return;
        }
    }
    struct cfg_errors errs = { 0 };
    struct cfg_policy p;
    char path[128], err[512];
    snprintf(path, sizeof path, "stored policy %s", name);
    if (cfg_parse_policy_json(body, strlen(body), path, &p, &errs) != 0 ||
        pol_policy_check(&p, path, err, sizeof err) != 0) {
        log_err("%s: %s; not running it", path, errs.n ? errs.lines[0] : err);
        if (!errs.n)
            cfg_policy_clear(&p);
        cfg_errors_clear(&errs);
        return;
    }
    cfg_errors_clear(&errs);
    if (vec_reserve(ev->api_policies, ev->cap_api, ev->napi + 1) < 0) {
        log_err("%s: out of memory; not running it", path);
        cfg_policy_clear(&p);
        return;
    }
    ev->api_policies[ev->napi++] = p;
}

static void free_built(struct evaluator *ev)
{
    pol_run_free(ev->run);
    ev->run = NULL;
    pol_engine_free(ev->engine);
    ev->engine = NULL;
    pol_tz_free(ev->tz);
    ev->tz = NULL;
    for (size_t i = 0; i < ev->napi; i++)
        cfg_policy_clear(&ev->api_policies[i]);
    free(ev->api_policies);
    ev->api_policies = NULL;
    ev->napi = ev->cap_api = 0;
    free(ev->merged);
    ev->merged = NULL;
    ev->nmerged = 0;
    free(ev->last_decision_id);
    ev->last_decision_id = NULL;
    free(ev->state_dirty);
    ev->state_dirty = NULL;
    config_unref(ev->built_cfg);
    ev->built_cfg = NULL;
}

/* Builds the engine for cfg + the stored API policies, carrying states of
 * policies that keep their name over from the previous engine (or, on the
 * first build, from the store). Takes its own reference to cfg for as long
 * as the engine lives. Returns 0, or -1 keeping nothing. */
static int build(struct evaluator *ev, struct floe_config *cfg)
{
    struct pol_engine *old_engine = ev->engine;
    int64_t *old_ids = ev->last_decision_id;
    size_t old_n = ev->nmerged;
    /* free_built below drops the reference to the old config, and with it
     * the old policies' strings; the engine keeps its own copies of the
     * names. */
    char **old_names = calloc(old_n ? old_n : 1, sizeof *old_names);
    for (size_t i = 0; old_names && old_engine && i < old_n; i++)
        old_names[i] = util_strdup(pol_engine_name(old_engine, i));
    ev->engine = NULL;
    ev->last_decision_id = NULL;
    pol_run_free(ev->run);
    ev->run = NULL;
    /* free_built frees the old engine; keep it for adoption. */
    struct pol_engine *keep = old_engine;
    int64_t *keep_ids = old_ids;
    free_built(ev);
    ev->built_cfg = config_ref(cfg);

    char err[512];
    struct api_load_ctx lc = { ev, cfg };
    if (store_policies(ev->a->store, load_api_policy, &lc, err, sizeof err) != 0)
        log_err("API-managed policies could not be read: %s; running the config file's only",
                err);
    ev->nmerged = cfg->npolicies + ev->napi;
    ev->merged = calloc(ev->nmerged ? ev->nmerged : 1, sizeof *ev->merged);
    ev->last_decision_id = calloc(ev->nmerged ? ev->nmerged : 1, sizeof *ev->last_decision_id);
    ev->state_dirty = calloc(ev->nmerged ? ev->nmerged : 1, sizeof *ev->state_dirty);
    if (!ev->merged || !ev->last_decision_id || !ev->state_dirty) {
        errf(err, sizeof err, "out of memory");
        goto fail;
    }
    if (cfg->npolicies)
        memcpy(ev->merged, cfg->policies, cfg->npolicies * sizeof *ev->merged);
    if (ev->napi)
        memcpy(ev->merged + cfg->npolicies, ev->api_policies, ev->napi * sizeof *ev->merged);
    if (pol_engine_new(&ev->engine, ev->merged, ev->nmerged, err, sizeof err) != 0)
        goto fail;
    if (cfg->site.timezone && pol_tz_load(cfg->site.timezone, &ev->tz, err, sizeof err) != 0)
        goto fail;
    struct pol_run_setup setup = { .engine = ev->engine, .policies = ev->merged,
                                   .npolicies = ev->nmerged, .derive = cfg->derive,
                                   .nderive = cfg->nderive, .tz = ev->tz };
    if (pol_run_new(&ev->run, &setup, err, sizeof err) != 0)
        goto fail;
    if (keep) {
        pol_engine_adopt(ev->engine, keep);
        for (size_t i = 0; i < old_n; i++) {
            int j = old_names && old_names[i] ? pol_engine_find(ev->engine, old_names[i]) : -1;
            if (j >= 0)
                ev->last_decision_id[j] = keep_ids[i];
        }
    } else {
        struct saved_states ss = { 0 };
        if (store_policy_states(ev->a->store, collect_state, &ss, err, sizeof err) != 0)
            log_err("policy states could not be read: %s; all policies start from ok", err);
        for (size_t i = 0; i < ss.n; i++) {
            restore_one(ev, ss.v[i].name, ss.v[i].body);
            free(ss.v[i].name);
            free(ss.v[i].body);
        }
        free(ss.v);
    }
    /* Save every state at the next tick, so a policy new under an old name
     * never inherits a stale saved state at the next restart. */
    for (size_t i = 0; i < ev->nmerged; i++)
        ev->state_dirty[i] = true;
    ev->built = true;
    ev->tick_ms = cfg->policy_tick_ms;
    ev->evaluates = ev->nmerged > 0 || cfg->nderive > 0;
    pthread_mutex_lock(&ev->lock);
    ev->wants_samples = ev->evaluates;
    pthread_mutex_unlock(&ev->lock);
    pol_engine_free(keep);
    free(keep_ids);
    for (size_t i = 0; old_names && i < old_n; i++)
        free(old_names[i]);
    free(old_names);
    log_info("policies: %zu running (%zu from the config file, %zu over the API), %zu derived "
             "metrics, tick every %lld ms",
             ev->nmerged, cfg->npolicies, ev->napi, cfg->nderive,
             (long long)cfg->policy_tick_ms);
    return 0;
fail:
    log_err("policies could not be set up: %s", err);
    free_built(ev);
    pol_engine_free(keep);
    free(keep_ids);
    for (size_t i = 0; old_names && i < old_n; i++)
        free(old_names[i]);
    free(old_names);
    ev->built = false;
    pthread_mutex_lock(&ev->lock);
    ev->wants_samples = false;
    pthread_mutex_unlock(&ev->lock);
    return -1;
}

/* ---- one tick ---- */

struct tick_ctx {
    struct evaluator *ev;
    const struct floe_config *cfg;
};

static void on_derived(void *ctx, size_t i, const char *metric, const char *unit, double value,
                       int good, int64_t now_ms)
{
    struct tick_ctx *tc = ctx;
    (void)i;
    int64_t stale = 3 * tc->cfg->policy_tick_ms;
    if (good)
        metrics_set_good(tc->ev->a->metrics, metric, value, unit, "derive", stale, now_ms);
    else
        metrics_set_error(tc->ev->a->metrics, metric, "derive", stale,
                          "an input is missing, stale or in error", now_ms);
}

static void on_event(void *ctx, const struct pol_run_event *e)
{
    struct tick_ctx *tc = ctx;
    tc->ev->state_dirty[e->policy] = true;
    if (e->prev != e->state)
        log_info("policy %s: %s -> %s (%s)", e->name, pol_state_name(e->prev),
                 pol_state_name(e->state), e->why ? e->why : "");
    if (e->unknown_changed)
        log_warn("policy %s: %s", e->name,
                 e->unknown ? "inputs unknown: holding its state until they are known again"
                            : "inputs known again");
}

static void on_decision(void *ctx, struct decision *d)
{
    struct tick_ctx *tc = ctx;
    struct evaluator *ev = tc->ev;
    struct placer_grants grants = {0};
    bool placing = d->status == DECISION_PLACING;
    if (placing) {
        pthread_mutex_lock(&ev->a->place_lock);
        if (d->kind == POL_ACTION_REBALANCE)
            rebalancer_place(ev->a, tc->cfg, d, d->ts_ms, &grants);
        else
            placer_place_current(ev->a, tc->cfg, d, d->ts_ms, &grants);
    }
    int i = pol_engine_find(ev->engine, d->policy);
    char *state = NULL;
    if (i >= 0) {
        struct pol_status st;
        pol_engine_status(ev->engine, (size_t)i, &st);
        state = status_to_json(&st);
    }
    char *body = decision_to_text(d);
    char err[256];
    int64_t id = 0;
    if (!body || store_decision_add(ev->a->store, d->ts_ms, d->policy, decision_kind_name(d->kind),
                                    decision_status_name(d->status), body, state, &id, err,
                                    sizeof err) != 0) {
        log_err("policy %s: decision not recorded: %s", d->policy, body ? err : "out of memory");
        /* No record, no reservation: what nobody can see must not hold
         * a peer's capacity. */
        placer_release(tc->cfg, &grants);
        placer_grants_clear(&grants);
        if (placing)
            pthread_mutex_unlock(&ev->a->place_lock);
        free(body);
        cJSON_free(state);
        return;
    }
    placer_keep(ev->a, &grants, id, d->ts_ms);
    placer_grants_clear(&grants);
    if (placing)
        pthread_mutex_unlock(&ev->a->place_lock);
    free(body);
    cJSON_free(state);
    if (i >= 0)
        ev->last_decision_id[i] = id;
    char need[48] = "";
    if (!isnan(d->need_kw))
        snprintf(need, sizeof need, ", need %.1f kW", d->need_kw);
    log_warn("policy %s: decision %lld: %s %s%s%s%s", d->policy, (long long)id,
             decision_kind_name(d->kind), decision_status_name(d->status), need,
             d->nreasons ? " — " : "", d->nreasons ? d->reasons[d->nreasons - 1] : "");
}

static void publish(struct evaluator *ev)
{
    size_t n = ev->nmerged;
    struct eval_policy_status *st = calloc(n ? n : 1, sizeof *st);
    if (!st)
        return;
    for (size_t i = 0; i < n; i++) {
        struct pol_status ps;
        pol_engine_status(ev->engine, i, &ps);
        util_strlcpy(st[i].name, ev->merged[i].name, sizeof st[i].name);
        st[i].state = ps.state;
        st[i].since_ms = ps.since_ms;
        st[i].unknown = ps.unknown;
        st[i].in_window = ps.in_window;
        st[i].mode = ev->merged[i].mode;
        st[i].severity = ev->merged[i].severity;
        st[i].last_decision_id = ev->last_decision_id[i];
        st[i].from_api = i >= ev->nmerged - ev->napi;
    }
    pthread_mutex_lock(&ev->lock);
    free(ev->status);
    ev->status = st;
    ev->nstatus = n;
    pthread_mutex_unlock(&ev->lock);
}

/* Drops the derive metrics cfg no longer defines. Done here, on the one
 * thread that writes derive metrics, between the last tick on the old
 * config and the first on the new: done by the reload instead, a tick
 * still running on the old config would write a removed derive back, and
 * it would stay in the table, stale, until the next restart. */
static void forget_removed_derives(struct evaluator *ev, const struct floe_config *cfg)
{
    const char **keep = calloc(cfg->nderive + 1, sizeof *keep);
    if (!keep) {
        log_err("policies: out of memory; removed derive metrics stay listed until a restart");
        return;
    }
    for (size_t i = 0; i < cfg->nderive; i++)
        keep[i] = cfg->derive[i].metric;
    metrics_forget_source_except(ev->a->metrics, "derive", keep, cfg->nderive);
    free(keep);
}

void eval_tick(struct evaluator *ev, int64_t now_ms)
{
    struct agent *a = ev->a;
    pthread_mutex_lock(&ev->lock);
    bool rebuild = ev->api_dirty;
    ev->api_dirty = false;
    pthread_mutex_unlock(&ev->lock);
    /* This tick's own reference: a reload during the tick swaps the
     * agent's pointer without waiting, and this config lives on until the
     * unref below. No agent lock is held from here on, so the store writes
     * (decisions, states) never hold up a reload or a request. */
    uint64_t generation;
    struct floe_config *cfg = agent_config_get_gen(a, &generation);
    if (ev->built_generation != generation)
        forget_removed_derives(ev, cfg);
    if (rebuild || ev->built_generation != generation) {
        /* A failed build is retried at the next config change only, not
         * every tick: it would fail the same way. Until then nothing is
         * evaluated, and the API must not show the last states as live. */
        ev->built_generation = generation;
        if (build(ev, cfg) != 0)
            publish(ev);
    }
    if (ev->run) {
        struct metric_snapshot *snap = NULL;
        size_t n = metrics_snapshot(a->metrics, now_ms, &snap);
        struct live_env le = { .snap = snap, .n = n, .store = a->store };
        struct pol_env env = { 0 };
        live_env_bind(&le, &env);
        env.now_ms = now_ms;
        struct tick_ctx tc = { ev, cfg };
        struct pol_run_ops ops = { .ctx = &tc, .derived = on_derived, .event = on_event,
                                   .decision = on_decision };
        /* SPEC 3.3: need_kw is action.kw less what is already on its way */
        pol_run_tick(ev->run, &env, now_ms, placer_inflight_kw(a, now_ms), &ops);
        free(snap);
        persist_states(ev);
        publish(ev);
    }
    config_unref(cfg);
}

static void build_now(struct evaluator *ev)
{
    uint64_t generation;
    struct floe_config *cfg = agent_config_get_gen(ev->a, &generation);
    ev->built_generation = generation;
    build(ev, cfg);
    if (ev->run)
        publish(ev);
    config_unref(cfg);
}

int64_t eval_next_tick_ms(const struct eval_wake_in *in)
{
    int64_t at = EVAL_NEVER;
    if (in->tick_ms > 0)
        at = in->last_tick_ms + in->tick_ms;
    if (in->due_in_ms != EVAL_NEVER) {
        int64_t due = in->now_ms + (in->due_in_ms > 0 ? in->due_in_ms : 0);
        if (due < at)
            at = due;
    }
    if (in->samples) {
        int64_t soonest = in->last_tick_ms + in->min_gap_ms;
        int64_t due = soonest > in->now_ms ? soonest : in->now_ms;
        if (due < at)
            at = due;
    }
    return at != EVAL_NEVER && at < in->now_ms ? in->now_ms : at;
}

/* Waits until the next tick is due (eval_next_tick_ms), or less when told
 * to stop, to rebuild (API policies changed; eval_tick reads that flag) or
 * to tick now. Returns false when the loop must end. */
static bool wait_next(struct evaluator *ev)
{
    /* The engine belongs to this thread: its deadline cannot move while
     * the thread waits. */
    int64_t due_wall = ev->built && ev->engine ? pol_engine_next_due(ev->engine) : 0;
    /* Not built: nothing runs until the config or the API policies change
     * (both wake the loop); the old period is kept as a safety net. */
    int64_t period = !ev->built ? 10000 : ev->evaluates ? ev->tick_ms : 0;
    pthread_mutex_lock(&ev->lock);
    while (!ev->stop && !ev->api_dirty && !ev->wake_now) {
        int64_t now = util_mono_ms();
        struct eval_wake_in in = {
            .now_ms = now,
            .last_tick_ms = ev->last_tick_mono_ms,
            .tick_ms = period,
            .due_in_ms = due_wall ? due_wall - util_now_ms() : EVAL_NEVER,
            /* Not before the first tick or every device's first poll,
             * whichever comes first: at start-up the first device to
             * answer would have the policies see the others as unknown. */
            .samples = ev->samples && ev->evaluates &&
                       (ev->ticked || (ev->a->metrics && metrics_collectors_all_polled(ev->a->metrics))),
            .min_gap_ms = EVAL_SAMPLES_MIN_GAP_MS,
        };
        int64_t at = eval_next_tick_ms(&in);
        if (at <= now)
            break;
        if (at == EVAL_NEVER) {
            pthread_cond_wait(&ev->wake, &ev->lock);
        } else {
            struct timespec until = util_mono_timespec(at);
            pthread_cond_timedwait(&ev->wake, &ev->lock, &until);
        }
    }
    bool go_on = !ev->stop;
    ev->wake_now = false;
    ev->samples = false;
    pthread_mutex_unlock(&ev->lock);
    return go_on;
}

static void *eval_main(void *arg)
{
    struct evaluator *ev = arg;
    /* eval_start has built; evaluate only after one period: at start-up
     * no device has answered yet and every policy would report unknown
     * inputs. */
    ev->last_tick_mono_ms = util_mono_ms();
    while (wait_next(ev)) {
        eval_tick(ev, util_now_ms());
        ev->last_tick_mono_ms = util_mono_ms();
        pthread_mutex_lock(&ev->lock); /* eval_samples_changed reads it */
        ev->ticked = true;
        pthread_mutex_unlock(&ev->lock);
    }
    return NULL;
}

struct evaluator *eval_new(struct agent *a, char *err, size_t errlen)
{
    struct evaluator *ev = calloc(1, sizeof *ev);
    if (!ev) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    ev->a = a;
    pthread_mutex_init(&ev->lock, NULL);
    /* Waits use the monotonic clock, so a wall-clock step (NTP at boot)
     * neither stalls nor hurries the policy loop. */
    util_cond_init_mono(&ev->wake);
    /* Build (and publish the restored states) before the caller goes on,
     * so the API never shows a moment of "accepting, no alarms" that the
     * saved states contradict. */
    build_now(ev);
    return ev;
}

struct evaluator *eval_start(struct agent *a, char *err, size_t errlen)
{
    struct evaluator *ev = eval_new(a, err, errlen);
    if (!ev)
        return NULL;
    if (pthread_create(&ev->thread, NULL, eval_main, ev) != 0) {
        eval_stop(ev);
        errf(err, errlen, "cannot start the policy thread");
        return NULL;
    }
    ev->threaded = true;
    return ev;
}

void eval_stop(struct evaluator *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->lock);
    ev->stop = true;
    pthread_cond_signal(&ev->wake);
    pthread_mutex_unlock(&ev->lock);
    if (ev->threaded)
        pthread_join(ev->thread, NULL);
    free_built(ev);
    free(ev->status);
    pthread_cond_destroy(&ev->wake);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
}

void eval_samples_changed(struct evaluator *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->lock);
    /* Signal only on the first poll since the last tick: the rest of a
     * burst finds the flag set and costs the loop nothing. Before the
     * first tick every poll signals: the loop waits for the last device's
     * first poll, not the first one's. With nothing to evaluate the loop
     * would only wake to go back to sleep: a wake-up costs more CPU than
     * a poll's whole work on some machines (issue 11). */
    if (ev->wants_samples && (!ev->samples || !ev->ticked)) {
        ev->samples = true;
        pthread_cond_signal(&ev->wake);
    }
    pthread_mutex_unlock(&ev->lock);
}

void eval_config_changed(struct evaluator *ev)
{
    /* The generation check in eval_tick() does the rebuild; this only wakes. */
    pthread_mutex_lock(&ev->lock);
    ev->wake_now = true;
    pthread_cond_signal(&ev->wake);
    pthread_mutex_unlock(&ev->lock);
}

void eval_policies_changed(struct evaluator *ev)
{
    pthread_mutex_lock(&ev->lock);
    ev->api_dirty = true;
    pthread_cond_signal(&ev->wake);
    pthread_mutex_unlock(&ev->lock);
}

size_t eval_statuses(struct evaluator *ev, struct eval_policy_status **out)
{
    pthread_mutex_lock(&ev->lock);
    size_t n = ev->nstatus;
    *out = n ? malloc(n * sizeof **out) : NULL;
    if (*out)
        memcpy(*out, ev->status, n * sizeof **out);
    else
        n = 0;
    pthread_mutex_unlock(&ev->lock);
    return n;
}
