/*
 * placer — see placer.h. The pl_place_ops here are the peer client's
 * calls; everything else is building pl_place's tables from the agent's
 * data.
 */
#include "core/placer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/inv_watch.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/vec.h"
#include "migrator/mig_phase.h"
#include "placement/peer_client.h"
#include "placement/pl_estimate.h"
#include "placement/pl_place.h"
#include "store/store_hold.h"
#include "store/store_mig.h"

struct ops_ctx {
    const struct floe_config *cfg;
    const struct pl_workload *work;
    const int64_t *ttl_s; /* per workload */
};

static void ops_capacity(void *ctx, size_t npeers, struct pl_peer_answer *out)
{
    struct ops_ctx *o = ctx;
    struct peer_capacity_result *r = calloc(npeers ? npeers : 1, sizeof *r);
    if (!r) {
        for (size_t i = 0; i < npeers; i++)
            snprintf(out[i].problem, sizeof out[i].problem, "not asked: out of memory");
        return;
    }
    peer_capacity_all(o->cfg->peers, npeers, PLACER_CAPACITY_TIMEOUT_MS, r);
    for (size_t i = 0; i < npeers; i++) {
        if (r[i].state == PEER_OK) {
            out[i].answered = true;
            out[i].accepting = r[i].cap.accepting;
            out[i].spare_kw = r[i].cap.spare_kw;
        } else {
            out[i].answered = false;
            out[i].spare_kw = NAN;
            util_strlcpy(out[i].problem, r[i].reason[0] ? r[i].reason : "did not answer",
                         sizeof out[i].problem);
        }
    }
    free(r);
}

static void ops_reserve(void *ctx, size_t peer, size_t workload, double kw,
                        struct pl_resv_answer *out)
{
    struct ops_ctx *o = ctx;
    struct peer_reservation r;
    peer_reserve(&o->cfg->peers[peer], o->cfg->site.name, o->work[workload].name, kw,
                 o->ttl_s[workload], PLACER_RESERVE_TIMEOUT_MS, &r);
    switch (r.outcome) {
    case PEER_GRANTED:
        out->outcome = PL_RESV_GRANTED;
        util_strlcpy(out->id, r.grant.id, sizeof out->id);
        out->kw = r.grant.kw;
        out->expires_ms = r.grant.expires_at_ms;
        break;
    case PEER_RESERVE_REFUSED:
        out->outcome = PL_RESV_REFUSED;
        out->spare_kw = r.spare_kw;
        util_strlcpy(out->problem, r.reason, sizeof out->problem);
        break;
    default:
        out->outcome = PL_RESV_FAILED;
        util_strlcpy(out->problem, r.reason, sizeof out->problem);
        break;
    }
}

static void release_one(const struct cfg_peer *peer, const char *id)
{
    char err[256];
    if (peer_release(peer, id, PLACER_RESERVE_TIMEOUT_MS, err, sizeof err) != 0)
        log_warn("peer %s: reservation %s not released (it lapses at its TTL): %s", peer->name, id,
                 err);
    else
        log_info("peer %s: reservation %s released", peer->name, id);
}

static void ops_release(void *ctx, size_t peer, const char *id)
{
    struct ops_ctx *o = ctx;
    release_one(&o->cfg->peers[peer], id);
}

struct pl_rates placer_rates(struct agent *a, const char *peer)
{
    struct pl_rates r = pl_rates_report();
    struct store_mig_rates learned;
    char err[256];
    int rc = peer ? store_mig_rates(a->store, peer, &learned, err, sizeof err)
                  : store_mig_rates_all(a->store, &learned, err, sizeof err);
    if (rc != 0) {
        log_err("placement: learned transfer rates unreadable, using the report's: %s", err);
        return r;
    }
    double *dst[STORE_RATE_RESTORE + 1] = {&r.initial_gb_per_min, &r.delta_gb_per_min,
                                           &r.restore_gb_per_min};
    for (size_t k = 0; k < ARRAY_LEN(dst); k++)
        if (learned.samples[k] > 0 && isfinite(learned.gb_per_min[k]) && learned.gb_per_min[k] > 0)
            *dst[k] = learned.gb_per_min[k];
    /* Seconds, not a rate: 0 is a measurement too. */
    double fixed = learned.gb_per_min[STORE_RATE_FIXED];
    if (learned.samples[STORE_RATE_FIXED] > 0 && isfinite(fixed) && fixed >= 0)
        r.fixed_s = fixed;
    return r;
}

static double finite_or_0(double s)
{
    return isfinite(s) && s > 0 ? s : 0;
}

int64_t placer_ttl_s(const struct pl_estimate *est, int64_t delta_interval_ms)
{
    double ttl = PLACER_TTL_MIN_S;
    if (est && isfinite(est->migration_s)) {
        double initial = finite_or_0(est->initial_s);
        ttl += MIG_BUDGET_FACTOR * initial + MIG_BUDGET_FACTOR * finite_or_0(est->downtime_s);
        if (initial > 0) /* stateful: deltas until the final one is small */
            ttl += MIG_MAX_DELTAS * ((double)(delta_interval_ms > 0 ? delta_interval_ms : 0) /
                                         1000.0 +
                                     MIG_BUDGET_FACTOR * finite_or_0(est->final_delta_s));
    }
    if (ttl > PLACER_TTL_MAX_S)
        ttl = PLACER_TTL_MAX_S;
    return (int64_t)ceil(ttl);
}

static void age_text(int64_t ms, char *buf, size_t n)
{
    if (ms < 0)
        ms = 0;
    util_format_duration(ms, buf, n);
}

void placer_place(struct agent *a, const struct floe_config *cfg,
                  const struct placer_inventory *inventory, struct decision *d, int64_t now_ms,
                  struct placer_grants *out)
{
    memset(out, 0, sizeof *out);
    if (cfg->npeers == 0) {
        decision_not_placed(d, "placement not configured: no peers in the config");
        return;
    }
    if (!cfg->workloads.source) {
        decision_not_placed(d, "placement not configured: no workloads (workloads.source)");
        return;
    }
    /* SPEC 3.3: need_kw is net of the work in flight, and more may have
     * gone on its way since the decision was made (an earlier decision of
     * the same tick, or hours before an approval). */
    double inflight = placer_inflight_kw(a, now_ms);
    if (isfinite(d->inflight_kw) && isfinite(d->need_kw) && inflight != d->inflight_kw) {
        double need = d->need_kw + d->inflight_kw - inflight;
        char was[32], now[32], kw[32];
        snprintf(was, sizeof was, "%.6g", d->inflight_kw);
        snprintf(now, sizeof now, "%.6g", inflight);
        snprintf(kw, sizeof kw, "%.6g", need);
        d->inflight_kw = inflight;
        d->need_kw = need;
        if (need <= 0) {
            d->status = DECISION_NO_NEED;
            decision_add_reason(d,
                                "need met by in-flight work: in flight went from %s to %s kW "
                                "since the decision",
                                was, now);
            return;
        }
        decision_add_reason(d, "need now %s kW: in flight went from %s to %s kW since the decision",
                            kw, was, now);
    }
    const struct inventory *inv = inventory ? inventory->inv : NULL;
    const char *inv_error =
        inventory && inventory->error && *inventory->error ? inventory->error : NULL;
    if (!inv) {
        decision_not_placed(d, "nothing placed: the workload inventory has not been read yet%s%s",
                            inv_error ? ": " : "", inv_error ? inv_error : "");
        return;
    }
    if (inv_error) {
        char age[32];
        age_text(now_ms - inv->read_ms, age, sizeof age);
        decision_add_reason(d, "workload inventory from %s ago (the last refresh failed: %s)", age,
                            inv_error);
    }

    /* Workloads this site already holds a reservation for are in flight. */
    struct store_hold *holds = NULL;
    size_t nholds = 0;
    char err[256];
    if (store_hold_active(a->store, now_ms, &holds, &nholds, err, sizeof err) != 0)
        log_err("placement: holds unknown, none taken as in flight: %s", err);
    /* ... and so are those with a migration running, or done with the
     * source still kept here (its namespace is still in the inventory). */
    char **busy = NULL;
    size_t nbusy = 0;
    if (store_mig_busy(a->store, &busy, &nbusy, err, sizeof err) != 0)
        log_err("placement: migrations unknown, none taken as in flight: %s", err);

    size_t n = inv->n;
    struct pl_workload *work = calloc(n ? n : 1, sizeof *work);
    int64_t *ttl = calloc(n ? n : 1, sizeof *ttl);
    const char **names = calloc(cfg->npeers, sizeof *names);
    if (!work || !ttl || !names) {
        decision_not_placed(d, "nothing placed: out of memory");
        goto done;
    }
    struct pl_rates rates = placer_rates(a, NULL);
    rates.incremental_restore = cfg->migrator.incremental_restore;
    for (size_t i = 0; i < n; i++) {
        const struct inv_workload *w = &inv->workloads[i];
        struct pl_workload *p = &work[i];
        *p = (struct pl_workload){
            .name = w->name,
            .namespace_ = w->namespace_,
            .power_kw = w->error ? 0 : w->power_kw,
            .data_gb = w->error ? NAN : w->data_gb,
            .priority = w->priority,
            .stateless = w->stateless,
            .group = w->group,
            .pinned = w->pinned,
            .unmovable = w->error ? w->error : w->unmovable,
        };
        struct pl_estimate est;
        if (!w->error &&
            pl_estimate(&rates, w->data_gb, w->stateless, &est, err, sizeof err) == 0) {
            p->downtime_s = est.downtime_s;
            p->migration_s = est.migration_s;
        } else {
            p->downtime_s = p->migration_s = NAN;
        }
        ttl[i] = placer_ttl_s(isfinite(p->migration_s) ? &est : NULL,
                              cfg->migrator.delta_interval_ms);
        for (size_t h = 0; h < nholds; h++)
            if (strcmp(holds[h].workload, w->name) == 0)
                p->moving = true;
        for (size_t b = 0; b < nbusy; b++)
            if (strcmp(busy[b], w->name) == 0)
                p->moving = true;
    }
    for (size_t i = 0; i < cfg->npeers; i++)
        names[i] = cfg->peers[i].name;

    struct ops_ctx octx = {.cfg = cfg, .work = work, .ttl_s = ttl};
    struct pl_place_ops ops = {
        .ctx = &octx, .capacity = ops_capacity, .reserve = ops_reserve, .release = ops_release};
    struct pl_place_request req = {.peer_names = names,
                                   .npeers = cfg->npeers,
                                   .workloads = work,
                                   .nworkloads = n,
                                   .need_kw = d->need_kw};
    req.deadline_s = d->deadline_s;
    struct pl_placement placed;
    if (pl_place(&req, &ops, d, &placed, err, sizeof err) != 0)
        log_err("policy %s: placement failed: %s", d->policy, err);
    if (placed.ngrants > 0) {
        out->g = calloc(placed.ngrants, sizeof *out->g);
        if (!out->g) {
            /* Without a record of them the grants must not stay. */
            for (size_t k = 0; k < placed.ngrants; k++)
                release_one(&cfg->peers[placed.grants[k].peer], placed.grants[k].id);
            decision_clear_placement(d);
            if (d->nreasons > 0)
                free(d->reasons[--d->nreasons]); /* pl_place's "placed ..." */
            decision_not_placed(d, "nothing placed: out of memory recording the reservations");
        } else {
            out->n = placed.ngrants;
            for (size_t k = 0; k < placed.ngrants; k++) {
                const struct pl_grant *pg = &placed.grants[k];
                struct placer_grant *g = &out->g[k];
                util_strlcpy(g->peer, cfg->peers[pg->peer].name, sizeof g->peer);
                util_strlcpy(g->id, pg->id, sizeof g->id);
                util_strlcpy(g->workload, work[pg->workload].name, sizeof g->workload);
                util_strlcpy(g->namespace_,
                             work[pg->workload].namespace_ ? work[pg->workload].namespace_
                                                           : work[pg->workload].name,
                             sizeof g->namespace_);
                g->kw = pg->kw;
                /* Our own clock, not the peer's expires_at: a peer's clock
                 * (or a hostile one) must not keep a workload "in flight"
                 * for years, nor end a hold the peer still keeps. */
                g->expires_ms = now_ms + ttl[pg->workload] * 1000;
            }
        }
    }
    pl_placement_clear(&placed);
done:
    store_hold_rows_free(holds, nholds);
    store_mig_names_free(busy, nbusy);
    free(work);
    free(ttl);
    free(names);
}

void placer_place_current(struct agent *a, const struct floe_config *cfg, struct decision *d,
                          int64_t now_ms, struct placer_grants *out)
{
    struct inv_view view;
    memset(&view, 0, sizeof view);
    if (a->inventory)
        inv_watch_view(a->inventory, &view);
    struct placer_inventory pi = {.inv = view.inv, .error = view.error};
    placer_place(a, cfg, &pi, d, now_ms, out);
    inv_unref(view.inv);
}

void placer_keep(struct agent *a, const struct placer_grants *g, int64_t decision_id,
                 int64_t now_ms)
{
    for (size_t i = 0; i < g->n; i++) {
        const struct placer_grant *x = &g->g[i];
        struct store_hold h = {.peer = (char *)x->peer,
                               .id = (char *)x->id,
                               .workload = (char *)x->workload,
                               .namespace_ = (char *)x->namespace_,
                               .kw = x->kw,
                               .decision_id = decision_id,
                               .created_ms = now_ms,
                               .expires_ms = x->expires_ms};
        char err[256];
        if (store_hold_add(a->store, &h, err, sizeof err) != 0)
            log_err("decision %lld: reservation %s at %s not recorded (the workload may be "
                    "chosen again before it lapses): %s",
                    (long long)decision_id, x->id, x->peer, err);
    }
    if (g->n && a->holds_recorded)
        a->holds_recorded(a);
}

void placer_release(const struct floe_config *cfg, const struct placer_grants *g)
{
    for (size_t i = 0; i < g->n; i++)
        for (size_t p = 0; p < cfg->npeers; p++)
            if (strcmp(cfg->peers[p].name, g->g[i].peer) == 0)
                release_one(&cfg->peers[p], g->g[i].id);
}

void placer_grants_clear(struct placer_grants *g)
{
    free(g->g);
    memset(g, 0, sizeof *g);
}

double placer_inflight_kw(struct agent *a, int64_t now_ms)
{
    struct store_hold *holds = NULL;
    size_t n = 0;
    char err[256];
    if (store_hold_active(a->store, now_ms, &holds, &n, err, sizeof err) != 0) {
        log_err("placement: kW in flight unknown, taken as 0: %s", err);
        return 0;
    }
    double kw = 0;
    for (size_t i = 0; i < n; i++)
        kw += holds[i].kw;
    store_hold_rows_free(holds, n);
    return kw;
}
