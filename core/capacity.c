/*
 * capacity — see capacity.h.
 */
#include "core/capacity.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/evaluator.h"
#include "core/live_env.h"
#include "lib/log.h"
#include "lib/util.h"
#include "policies/pol_engine.h"
#include "policies/pol_lang.h"

/* The capacity expressions of one config, compiled; immutable once built
 * and shared by reference count between the cache and the requests that
 * evaluate them (pol_eval may run on one tree from several threads). */
struct cap_exprs {
    atomic_long refs;
    struct floe_config *cfg;    /* a reference while cached, else NULL */
    struct pol_expr *power, *cooling;
    struct pol_tz *tz;          /* site time for hour()/weekday(); NULL: unknown */
    char err[256];              /* why an expression is missing or did not compile */
};

struct cap_cache {
    pthread_mutex_t lock;       /* guards cur; held to compare or swap it, and to compile */
    struct cap_exprs *cur;
};

static void exprs_put(struct cap_exprs *e)
{
    if (!e || atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    pol_free(e->power);
    pol_free(e->cooling);
    pol_tz_free(e->tz);
    config_unref(e->cfg);
    free(e);
}

static struct pol_expr *compile_one(const char *key, const char *src, char *err, size_t errlen)
{
    if (!src || !*src) {
        if (!*err)
            snprintf(err, errlen, "capacity.%s is not set", key);
        return NULL;
    }
    char why[200];
    struct pol_expr *e = pol_parse(src, why, sizeof why);
    if (!e && !*err)
        snprintf(err, errlen, "capacity.%s: %s", key, why);
    return e;
}

/* Compiles cfg's expressions; NULL when out of memory. An expression that
 * does not compile (configs pass cfg_check_expressions first, so only a
 * hand-built config) leaves its tree NULL and says why in err. */
static struct cap_exprs *exprs_build(const struct floe_config *cfg)
{
    struct cap_exprs *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    atomic_init(&e->refs, 1);
    e->power = compile_one("power_headroom_kw", cfg->capacity.power_headroom_kw, e->err,
                           sizeof e->err);
    e->cooling = compile_one("cooling_headroom_kw", cfg->capacity.cooling_headroom_kw, e->err,
                             sizeof e->err);
    char tz_err[128];
    if (cfg->site.timezone && pol_tz_load(cfg->site.timezone, &e->tz, tz_err, sizeof tz_err) != 0)
        e->tz = NULL; /* the evaluator reports a zone it cannot load */
    return e;
}

struct cap_cache *cap_cache_new(void)
{
    struct cap_cache *cache = calloc(1, sizeof *cache);
    if (cache)
        pthread_mutex_init(&cache->lock, NULL);
    return cache;
}

void cap_cache_free(struct cap_cache *cache)
{
    if (!cache)
        return;
    exprs_put(cache->cur);
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

/* The compiled expressions of cfg, with a reference for the caller
 * (exprs_put it); NULL when out of memory. */
static struct cap_exprs *exprs_get(struct cap_cache *cache, const struct floe_config *cfg)
{
    if (!cache)
        return exprs_build(cfg);
    pthread_mutex_lock(&cache->lock);
    struct cap_exprs *e = cache->cur;
    struct cap_exprs *old = NULL;
    if (!e || e->cfg != cfg) {
        e = exprs_build(cfg);
        if (e) {
            /* The reference count is the one thing about a published
             * config that changes; config_ref takes it non-const. */
            e->cfg = config_ref((struct floe_config *)cfg);
            old = cache->cur;
            cache->cur = e;
        }
    }
    if (e)
        atomic_fetch_add(&e->refs, 1);
    pthread_mutex_unlock(&cache->lock);
    exprs_put(old);
    return e;
}

/* ---- evaluation ---- */

/* What the expressions read. The live_env comes first: its callbacks take
 * env.ctx as their live_env, and probe_input takes the same ctx as this. */
struct cap_probe {
    struct live_env le;
    bool read_any;
    bool unknown;
    char first_unknown[96];
    int64_t newest_ms;
};

static int compare_snapshot_name(const void *key, const void *elem)
{
    return strcmp(key, ((const struct metric_snapshot *)elem)->name);
}

static void probe_input(void *ctx, const char *name, double value, int good)
{
    struct cap_probe *p = ctx;
    (void)value;
    p->read_any = true;
    if (!good) {
        if (!p->first_unknown[0])
            util_strlcpy(p->first_unknown, name, sizeof p->first_unknown);
        p->unknown = true;
        return;
    }
    /* Metrics and glob members are named as such; history calls by their
     * text ("avg_over(...)"), which no snapshot entry matches. */
    const struct metric_snapshot *m =
        p->le.n ? bsearch(name, p->le.snap, p->le.n, sizeof *p->le.snap, compare_snapshot_name)
                : NULL;
    if (m && m->ts_ms > p->newest_ms)
        p->newest_ms = m->ts_ms;
}

/* The name of a critical policy that is firing, into out; false if none. */
static bool critical_firing(struct agent *a, char *out, size_t n)
{
    if (!a->evaluator)
        return false;
    struct eval_policy_status *st = NULL;
    size_t count = eval_statuses(a->evaluator, &st);
    bool found = false;
    for (size_t i = 0; i < count && !found; i++) {
        if (st[i].state == POL_STATE_FIRING && st[i].severity == POL_SEV_CRITICAL) {
            util_strlcpy(out, st[i].name, n);
            found = true;
        }
    }
    free(st);
    return found;
}

/* Evaluates both headrooms into out (NAN when unknown) and out->as_of_ms;
 * returns whether both are known from known inputs, with the reason in
 * out->reason when not. */
static bool eval_headrooms(struct agent *a, const struct cap_exprs *e, int64_t now_ms,
                           struct cap_status *out)
{
    if (!e->power || !e->cooling) {
        util_strlcpy(out->reason, e->err, sizeof out->reason);
        return false;
    }
    struct metric_snapshot *snap = NULL;
    size_t n = metrics_snapshot(a->metrics, now_ms, &snap);
    struct cap_probe p = {.le = {.snap = snap, .n = n, .store = a->store}};
    struct pol_env env = {0};
    live_env_bind(&p.le, &env);
    env.input = probe_input;
    env.now_ms = now_ms;
    struct pol_local local;
    if (e->tz) {
        pol_tz_local(e->tz, now_ms, &local);
        env.local = &local;
    }
    /* A headroom computed past an unknown input is shown as unknown too. */
    bool power_known = pol_eval(e->power, &env, &out->power_headroom_kw) == 1 && !p.unknown;
    bool any_unknown = p.unknown;
    p.unknown = false;
    bool cooling_known = pol_eval(e->cooling, &env, &out->cooling_headroom_kw) == 1 && !p.unknown;
    any_unknown |= p.unknown;
    free(snap);
    if (!power_known)
        out->power_headroom_kw = NAN;
    if (!cooling_known)
        out->cooling_headroom_kw = NAN;
    out->as_of_ms = p.read_any ? p.newest_ms : now_ms;
    if (any_unknown) {
        snprintf(out->reason, sizeof out->reason, "capacity input unknown: %s", p.first_unknown);
        return false;
    }
    if (!power_known || !cooling_known) {
        snprintf(out->reason, sizeof out->reason, "capacity.%s is unknown",
                 power_known ? "cooling_headroom_kw" : "power_headroom_kw");
        return false;
    }
    return true;
}

int cap_evaluate(struct agent *a, const struct floe_config *cfg, int64_t now_ms,
                 struct cap_status *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->power_headroom_kw = out->cooling_headroom_kw = NAN;
    out->limit_kw = out->reserved_kw = NAN;
    out->margin_kw = cfg->capacity.margin_kw;
    int rc = 0;
    if (store_resv_active_kw(a->store, now_ms, &out->reserved_kw, err, errlen) != 0) {
        out->reserved_kw = NAN;
        snprintf(out->reason, sizeof out->reason, "reservations unreadable");
        rc = -1;
    }
    struct cap_exprs *e = exprs_get(a->capacity, cfg);
    bool headrooms = false;
    if (!e)
        snprintf(out->reason, sizeof out->reason, "out of memory");
    else if (rc == 0)
        headrooms = eval_headrooms(a, e, now_ms, out);
    exprs_put(e);
    if (!headrooms) {
        /* One unknown headroom makes both meaningless as a promise; the
         * known one is still shown, for the engineer. */
        return rc;
    }
    out->known = true;
    out->limit_kw = fmin(out->power_headroom_kw, out->cooling_headroom_kw) - out->margin_kw;
    out->spare_kw = fmax(0, out->limit_kw - out->reserved_kw);
    char policy[72];
    if (critical_firing(a, policy, sizeof policy)) {
        snprintf(out->reason, sizeof out->reason, "critical policy %s is firing", policy);
        return 0;
    }
    out->accepting = true;
    return 0;
}

/* ---- reservations ---- */

int cap_expire(struct agent *a, int64_t now_ms, char *err, size_t errlen)
{
    struct store_resv *rows = NULL;
    size_t n = 0;
    if (store_resv_expire(a->store, now_ms, &rows, &n, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        log_info("reservation %s for %s from %s expired unconfirmed: its %g kW are free again",
                 rows[i].id, rows[i].workload, rows[i].from_site, rows[i].kw);
    store_resv_rows_free(rows, n);
    return (int)n;
}

int cap_reserve(struct agent *a, const struct floe_config *cfg,
                const struct store_resv_request *req, int64_t now_ms, struct store_resv *granted,
                struct cap_status *st, char *err, size_t errlen)
{
    memset(granted, 0, sizeof *granted);
    /* Expiry is marked first so that its log line comes before a grant
     * that the freed kW make possible; counting does not depend on it. */
    char xerr[256];
    if (cap_expire(a, now_ms, xerr, sizeof xerr) < 0)
        log_warn("reservations: expired ones not marked: %s", xerr);
    if (cap_evaluate(a, cfg, now_ms, st, err, errlen) != 0)
        return -1;
    if (!st->accepting)
        return CAP_REFUSED;
    double active = 0;
    int rc = store_resv_grant(a->store, req, st->limit_kw, now_ms, granted, &active, err, errlen);
    if (rc == STORE_CONFLICT) {
        st->reserved_kw = active;
        st->spare_kw = fmax(0, st->limit_kw - active);
        snprintf(st->reason, sizeof st->reason, "%g kW asked, %g kW spare", req->kw,
                 st->spare_kw);
        return CAP_REFUSED;
    }
    if (rc != 0)
        return -1;
    if (a->reservation_granted)
        a->reservation_granted();
    st->reserved_kw = active + req->kw;
    st->spare_kw = fmax(0, st->limit_kw - st->reserved_kw);
    return 0;
}
