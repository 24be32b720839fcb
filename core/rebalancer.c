/*
 * rebalancer — see rebalancer.h. Gathering pl_rebalance's tables from the
 * agent (inventory, records, capacity, peers), then reserving what it
 * planned and writing it all into the decision.
 */
#include "core/rebalancer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/capacity.h"
#include "core/inv_watch.h"
#include "lib/log.h"
#include "lib/util.h"
#include "placement/peer_client.h"
#include "placement/pl_estimate.h"
#include "placement/pl_rebalance.h"
#include "store/store_hold.h"
#include "store/store_import.h"
#include "store/store_mig.h"
#include "store/store_resv.h"

#define DAY_MS 86400000LL
/* Decisions of one policy read to count its window's migrations: far
 * more than a window can hold (one per cooldown of at least 1 ms would
 * be more, and is refused below rather than undercounted). */
#define STARTED_SCAN_LIMIT 100000

int rebalancer_started(struct agent *a, const char *policy, int64_t since_ms, int64_t skip_id,
                       char *err, size_t errlen)
{
    struct store_decision_row *rows = NULL;
    size_t n = 0;
    if (store_decisions_of(a->store, policy, since_ms, STARTED_SCAN_LIMIT, &rows, &n, err,
                           errlen) != 0)
        return -1;
    int count = 0;
    if (n >= STARTED_SCAN_LIMIT) {
        count = errf(err, errlen, "more than %d decisions of %s in the window", STARTED_SCAN_LIMIT,
                     policy);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (rows[i].id == skip_id || strcmp(rows[i].kind, "rebalance") != 0)
            continue;
        struct decision d;
        char why[256];
        if (decision_parse(rows[i].body, strlen(rows[i].body), &d, why, sizeof why) != 0) {
            /* Counting it as none could start more than max_migrations. */
            count =
                errf(err, errlen, "decision %lld is unreadable: %s", (long long)rows[i].id, why);
            goto out;
        }
        for (size_t k = 0; k < d.nworkloads; k++)
            count += d.workloads[k].chosen && d.workloads[k].reservation;
        decision_clear(&d);
    }
out:
    store_decision_rows_free(rows, n);
    return count;
}

/* What the rebalance needs of the site's records, read once. */
struct records {
    struct store_hold *holds;
    size_t nholds;
    char **busy;
    size_t nbusy;
    struct store_import *imports;
    size_t nimports;
    struct store_mig_move *moves;
    size_t nmoves;
    struct store_resv *resv; /* reservations granted to peers, still active */
    size_t nresv;
    struct pl_rb_event *events;
    size_t nevents;
};

static void records_free(struct records *r)
{
    store_hold_rows_free(r->holds, r->nholds);
    store_mig_names_free(r->busy, r->nbusy);
    store_import_rows_free(r->imports, r->nimports);
    store_mig_moves_free(r->moves, r->nmoves);
    store_resv_rows_free(r->resv, r->nresv);
    free(r->events);
    memset(r, 0, sizeof *r);
}

static int records_read(struct agent *a, int64_t now_ms, struct records *r, char *err,
                        size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (store_hold_active(a->store, now_ms, &r->holds, &r->nholds, err, errlen) != 0 ||
        store_mig_busy(a->store, &r->busy, &r->nbusy, err, errlen) != 0 ||
        store_import_list(a->store, false, NULL, 0, &r->imports, &r->nimports, err, errlen) != 0 ||
        store_mig_moves(a->store, &r->moves, &r->nmoves, err, errlen) != 0 ||
        store_resv_list(a->store, now_ms, false, NULL, &r->resv, &r->nresv, err, errlen) != 0)
        return -1;
    r->events = calloc(r->nimports + r->nmoves + 1, sizeof *r->events);
    if (!r->events)
        return errf(err, errlen, "out of memory");
    for (size_t i = 0; i < r->nimports; i++) {
        const struct store_import *im = &r->imports[i];
        /* Only an import that is ready brought a workload here to stay
         * (a failed or dropped one never served). */
        if (im->phase == STORE_IMPORT_READY && im->ready_ms > 0)
            r->events[r->nevents++] = (struct pl_rb_event){.namespace_ = im->namespace_,
                                                           .ts_ms = im->ready_ms,
                                                           .arrived = true,
                                                           .peer = im->from_site,
                                                           .home = im->home};
    }
    for (size_t i = 0; i < r->nmoves; i++)
        r->events[r->nevents++] = (struct pl_rb_event){.namespace_ = r->moves[i].namespace_,
                                                       .ts_ms = r->moves[i].ended_ms,
                                                       .arrived = false,
                                                       .peer = r->moves[i].peer};
    return 0;
}

struct pl_rb_workload rebalancer_workload(const struct inv_workload *w, const char *home,
                                          int64_t moved_ms, bool moving)
{
    return (struct pl_rb_workload){
        .name = w->name,
        .namespace_ = w->namespace_ ? w->namespace_ : w->name,
        .power_kw = w->error ? 0 : w->power_kw,
        .priority = w->priority,
        /* Its group even when its annotations are in error (as
         * core/placer.c): the member that cannot move keeps the whole
         * unit here, never splits it. */
        .group = w->group,
        .pinned = !w->error && w->pinned,
        .moving = moving,
        .unmovable = w->error ? w->error : w->unmovable,
        .home = home,
        .moved_ms = moved_ms,
        .downtime_s = NAN,
    };
}

static bool is_moving(const struct records *r, const struct inv_workload *w)
{
    const char *ns = w->namespace_ ? w->namespace_ : w->name;
    for (size_t i = 0; i < r->nholds; i++)
        if (strcmp(r->holds[i].workload, w->name) == 0)
            return true;
    for (size_t i = 0; i < r->nbusy; i++)
        if (strcmp(r->busy[i], w->name) == 0)
            return true;
    /* Restored here and not ready yet: it does not run here so far. */
    for (size_t i = 0; i < r->nimports; i++)
        if (store_import_phase_active(r->imports[i].phase) &&
            strcmp(r->imports[i].namespace_, ns) == 0)
            return true;
    /* Ready here, but the peer it came from has not released the
     * reservation the import confirmed: its migration has not ended (it
     * releases once done). Sending it back now would race that
     * migration's end at the peer, which keeps (and later deletes) the
     * source the workload would come back into. */
    for (size_t i = 0; i < r->nimports; i++) {
        const struct store_import *im = &r->imports[i];
        if (im->phase != STORE_IMPORT_READY || strcmp(im->namespace_, ns) != 0 || !im->reservation)
            continue;
        for (size_t k = 0; k < r->nresv; k++)
            if (r->resv[k].state == STORE_RESV_ACTIVE && strcmp(r->resv[k].id, im->reservation) == 0)
                return true;
    }
    return false;
}

/* One reservation made for the plan. */
struct made {
    bool granted;
    bool refused; /* refused, or failed: the move is not reserved */
    char id[PEER_ID_MAX + 1];
    char note[PEER_REASON_MAX + 160]; /* appended to the workload's reason */
};

static void release_grant(const struct cfg_peer *peer, const char *id)
{
    char err[256];
    if (peer_release(peer, id, PLACER_RESERVE_TIMEOUT_MS, err, sizeof err) != 0)
        log_warn("peer %s: reservation %s not released (it lapses at its TTL): %s", peer->name, id,
                 err);
}

/* Reserves plan's moves in order; a group whose member is not reserved
 * gives back its members' grants. A peer that did not answer a
 * reservation (no HTTP answer: timeout, connection refused) is not asked
 * again in this decision, neither for a reservation nor to give one
 * back: the evaluator waits under place_lock, and a hanging peer would
 * otherwise stall every policy for each of its moves. */
static void reserve_all(const struct floe_config *cfg, const struct pl_rb_workload *work,
                        const int64_t *ttl_s, const struct pl_rb_plan *plan, struct made *made)
{
    char(*silent)[PEER_REASON_MAX] = calloc(cfg->npeers + 1, sizeof *silent);
    for (size_t k = 0; k < plan->norder; k++) {
        size_t i = plan->order[k];
        int p = plan->workloads[i].peer;
        const struct cfg_peer *peer = &cfg->peers[p];
        if (!silent || silent[p][0]) {
            made[i].refused = true;
            snprintf(made[i].note, sizeof made[i].note,
                     "; not reserved: %s did not answer a reservation earlier in this decision "
                     "(%s); not asked again",
                     peer->name, silent ? silent[p] : "out of memory");
            continue;
        }
        bool group_failed = false;
        for (size_t j = 0; work[i].group && j < plan->nworkloads && !group_failed; j++)
            group_failed =
                made[j].refused && work[j].group && strcmp(work[j].group, work[i].group) == 0;
        if (group_failed) {
            made[i].refused = true;
            snprintf(made[i].note, sizeof made[i].note,
                     "; not reserved: another member of group '%s' was not", work[i].group);
            continue;
        }
        struct peer_reservation r;
        peer_reserve(peer, cfg->site.name, work[i].name, work[i].power_kw, ttl_s[i],
                     PLACER_RESERVE_TIMEOUT_MS, &r);
        if (r.outcome == PEER_GRANTED) {
            made[i].granted = true;
            util_strlcpy(made[i].id, r.grant.id, sizeof made[i].id);
            continue;
        }
        made[i].refused = true;
        snprintf(made[i].note, sizeof made[i].note, "; not reserved: %s %s: %s", peer->name,
                 r.outcome == PEER_RESERVE_REFUSED ? "refused it" : "did not grant it", r.reason);
        if (r.outcome == PEER_RESERVE_ERROR && r.http_status == 0)
            snprintf(silent[p], sizeof silent[p], "%s", r.reason[0] ? r.reason : "no answer");
    }
    for (size_t i = 0; i < plan->nworkloads; i++) {
        if (!made[i].granted || !work[i].group)
            continue;
        for (size_t j = 0; j < plan->nworkloads; j++)
            if (made[j].refused && work[j].group && strcmp(work[j].group, work[i].group) == 0) {
                int p = plan->workloads[i].peer;
                /* A peer that went silent after granting is not asked to
                 * release either (each ask would wait out the timeout
                 * under place_lock): nothing confirms the grant (only an
                 * import does, store_import_create), and an unconfirmed
                 * reservation stops counting at its TTL and is then
                 * swept as expired (store_resv.c, RESV_COUNTING). */
                bool ask = silent && !silent[p][0];
                if (ask)
                    release_grant(&cfg->peers[p], made[i].id);
                made[i].granted = false;
                made[i].refused = true;
                if (ask)
                    snprintf(made[i].note, sizeof made[i].note,
                             "; reservation %s given back: another member of group '%s' was not "
                             "reserved",
                             made[i].id, work[i].group);
                else
                    snprintf(made[i].note, sizeof made[i].note,
                             "; reservation %s not used: another member of group '%s' was not "
                             "reserved; %s did not answer since, so it is left to lapse at its "
                             "TTL (%llds)",
                             made[i].id, work[i].group, cfg->peers[p].name, (long long)ttl_s[i]);
                made[i].id[0] = '\0';
                break;
            }
    }
    free(silent);
}

static void age_text(int64_t ms, char *buf, size_t n)
{
    util_format_duration(ms > 0 ? ms / 1000 * 1000 : 0, buf, n);
}

/* The plan, the reservations and the inventory into the decision. */
static void record(struct decision *d, const struct floe_config *cfg, const struct inventory *inv,
                   const struct pl_rb_workload *work, const struct pl_rb_peer *peers,
                   const struct pl_rb_plan *plan, const struct made *made,
                   struct placer_grants *out, const int64_t *ttl_s, int64_t now_ms)
{
    size_t nres = 0, nref = 0;
    double placed = 0;
    for (size_t i = 0; i < inv->n; i++) {
        nres += made[i].granted;
        nref += made[i].refused;
    }
    out->g = nres ? calloc(nres, sizeof *out->g) : NULL;
    if (nres && !out->g) {
        /* Without a record of them the grants must not stay. */
        for (size_t i = 0; i < inv->n; i++)
            if (made[i].granted)
                release_grant(&cfg->peers[plan->workloads[i].peer], made[i].id);
        decision_not_placed(d, "nothing placed: out of memory recording the reservations");
        return;
    }
    double *reserved_at = calloc(cfg->npeers + 1, sizeof *reserved_at);
    for (size_t i = 0; i < inv->n; i++) {
        const struct inv_workload *w = &inv->workloads[i];
        const struct pl_rb_workload_plan *wp = &plan->workloads[i];
        char reason[PL_RB_REASON_MAX + sizeof made[i].note];
        snprintf(reason, sizeof reason, "%s%s", wp->reason, made[i].note);
        const char *to = made[i].granted ? cfg->peers[wp->peer].name : NULL;
        struct decision_workload dw = {
            .name = w->name,
            .namespace_ =
                w->namespace_ && strcmp(w->namespace_, w->name) != 0 ? w->namespace_ : NULL,
            .power_kw = work[i].power_kw,
            .priority = w->priority,
            .data_gb = w->error ? NAN : w->data_gb,
            .downtime_s = work[i].downtime_s,
            .chosen = made[i].granted,
            .to = (char *)to,
            .reservation = made[i].granted ? (char *)made[i].id : NULL,
            .reason = reason,
            .home_site = (char *)work[i].home,
        };
        decision_add_workload(d, &dw);
        if (!made[i].granted)
            continue;
        placed += work[i].power_kw;
        if (reserved_at)
            reserved_at[wp->peer] += work[i].power_kw;
        struct placer_grant *g = &out->g[out->n++];
        util_strlcpy(g->peer, cfg->peers[wp->peer].name, sizeof g->peer);
        util_strlcpy(g->id, made[i].id, sizeof g->id);
        util_strlcpy(g->workload, w->name, sizeof g->workload);
        util_strlcpy(g->namespace_, w->namespace_ ? w->namespace_ : w->name, sizeof g->namespace_);
        g->kw = work[i].power_kw;
        g->expires_ms = now_ms + ttl_s[i] * 1000;
    }
    for (size_t p = 0; p < cfg->npeers; p++) {
        struct decision_peer dp = {.name = cfg->peers[p].name,
                                   .accepting = peers[p].answered && peers[p].accepting,
                                   .spare_kw = peers[p].answered ? peers[p].spare_kw : NAN,
                                   .reserved_kw = reserved_at ? reserved_at[p] : 0,
                                   .reason = (char *)plan->peers[p].reason};
        decision_add_peer(d, &dp);
    }
    free(reserved_at);
    d->placed_kw = placed;
    if (nres > 0 && nref == 0) {
        d->status = DECISION_PLACED;
        decision_add_reason(d, "rebalance: %s; reserved %zu move(s), %.6g kW", plan->summary, nres,
                            placed);
    } else if (nres > 0) {
        d->status = DECISION_PARTIAL;
        decision_add_reason(d,
                            "rebalance: %s; reserved %zu of %zu move(s), %.6g kW: the others were "
                            "not (their reasons say why)",
                            plan->summary, nres, nres + nref, placed);
    } else if (nref > 0 || plan->blocked) {
        decision_not_placed(d, "rebalance: %s%s", plan->summary,
                            nref ? "; no reservation was granted (the workloads' reasons say why)"
                                 : "");
    } else {
        d->status = DECISION_NO_NEED;
        decision_add_reason(d, "rebalance: %s", plan->summary);
    }
}

/* Peers asked at once, as pl_rb_peer rows (problems point into res). */
static void ask_peers(const struct floe_config *cfg, struct peer_capacity_result *res,
                      struct pl_rb_peer *peers)
{
    peer_capacity_all(cfg->peers, cfg->npeers, PLACER_CAPACITY_TIMEOUT_MS, res);
    for (size_t i = 0; i < cfg->npeers; i++) {
        bool ok = res[i].state == PEER_OK;
        peers[i] = (struct pl_rb_peer){.name = cfg->peers[i].name,
                                       .answered = ok,
                                       .accepting = ok && res[i].cap.accepting,
                                       .spare_kw = ok ? res[i].cap.spare_kw : NAN,
                                       .problem = ok                 ? NULL
                                                  : res[i].reason[0] ? res[i].reason
                                                                     : "did not answer"};
    }
}

static void plan_and_reserve(struct agent *a, const struct floe_config *cfg,
                             const struct inventory *inv, const struct records *rec,
                             struct decision *d, int64_t now_ms, struct placer_grants *out)
{
    size_t n = inv->n;
    struct pl_rb_workload *work = calloc(n + 1, sizeof *work);
    int64_t *ttl = calloc(n + 1, sizeof *ttl);
    struct made *made = calloc(n + 1, sizeof *made);
    struct pl_rb_peer *peers = calloc(cfg->npeers + 1, sizeof *peers);
    struct peer_capacity_result *res = calloc(cfg->npeers + 1, sizeof *res);
    struct pl_rb_plan plan;
    memset(&plan, 0, sizeof plan);
    char err[256];
    if (!work || !ttl || !made || !peers || !res) {
        decision_not_placed(d, "nothing placed: out of memory");
        goto done;
    }
    struct pl_rates rates = placer_rates(a, NULL);
    rates.incremental_restore = cfg->migrator.incremental_restore;
    for (size_t i = 0; i < n; i++) {
        const struct inv_workload *w = &inv->workloads[i];
        const char *ns = w->namespace_ ? w->namespace_ : w->name;
        const char *home = NULL;
        int64_t moved_ms = 0;
        bool named = false;
        pl_rb_history(rec->events, rec->nevents, ns, &home, &moved_ms, &named);
        /* The annotation says so: it wins over what the records infer,
         * not over the home the last sender named (the namespace carries
         * its annotation along when it is levelled away from its home). */
        if (w->home_site && !w->error && !named)
            home = w->home_site;
        if (home && strcmp(home, cfg->site.name) == 0)
            home = NULL;
        work[i] = rebalancer_workload(w, home, moved_ms, is_moving(rec, w));
        struct pl_estimate est;
        bool estimated =
            !w->error && pl_estimate(&rates, w->data_gb, w->stateless, &est, err, sizeof err) == 0;
        if (estimated)
            work[i].downtime_s = est.downtime_s;
        ttl[i] = placer_ttl_s(estimated ? &est : NULL, cfg->migrator.delta_interval_ms);
    }
    ask_peers(cfg, res, peers);
    struct pl_rb_request req = {.now_ms = now_ms,
                                .site_spare_kw = d->rebalance.site_spare_kw,
                                .min_gain_kw = d->rebalance.min_gain_kw,
                                .max_migrations = d->rebalance.max_migrations,
                                .started = d->rebalance.started_in_window,
                                .min_residency_ms = d->rebalance.min_residency_ms};
    if (pl_rebalance(work, n, peers, cfg->npeers, &req, &plan, err, sizeof err) != 0) {
        decision_not_placed(d, "nothing placed: %s", err);
        goto done;
    }
    reserve_all(cfg, work, ttl, &plan, made);
    record(d, cfg, inv, work, peers, &plan, made, out, ttl, now_ms);
done:
    pl_rb_plan_clear(&plan);
    free(work);
    free(ttl);
    free(made);
    free(peers);
    free(res);
}

void rebalancer_place(struct agent *a, const struct floe_config *cfg, struct decision *d,
                      int64_t now_ms, struct placer_grants *out)
{
    memset(out, 0, sizeof *out);
    struct decision_rebalance *rb = &d->rebalance;
    char when[40], err[512];
    if (rb->window_end_ms > 0 && now_ms >= rb->window_end_ms) {
        util_format_rfc3339(rb->window_end_ms, when, sizeof when);
        decision_not_placed(d,
                            "nothing moved: its schedule window closed at %s before it could be "
                            "carried out; the next window decides again",
                            when);
        return;
    }
    if (cfg->npeers == 0) {
        decision_not_placed(d, "placement not configured: no peers in the config");
        return;
    }
    if (!cfg->workloads.source) {
        decision_not_placed(d, "placement not configured: no workloads (workloads.source)");
        return;
    }
    if (!cfg->migrator.enabled) {
        decision_not_placed(d, "rebalance not configured: the config has no migrator section (a "
                               "rebalance reserves only what it moves)");
        return;
    }
    int64_t since = rb->window_start_ms > 0 ? rb->window_start_ms : now_ms - DAY_MS;
    int started = rebalancer_started(a, d->policy, since, d->id, err, sizeof err);
    if (started < 0) {
        decision_not_placed(d,
                            "nothing moved: how many migrations this window started is "
                            "unknown (%s)",
                            err);
        return;
    }
    rb->started_in_window = started;
    struct cap_status cap;
    if (cap_evaluate(a, cfg, now_ms, &cap, err, sizeof err) != 0)
        log_warn("policy %s: this site's capacity is unknown: %s", d->policy, err);
    rb->site_spare_kw = cap.known ? cap.spare_kw : NAN;

    struct inv_view view;
    memset(&view, 0, sizeof view);
    if (a->inventory)
        inv_watch_view(a->inventory, &view);
    struct records rec;
    memset(&rec, 0, sizeof rec);
    if (!view.inv) {
        decision_not_placed(d, "nothing placed: the workload inventory has not been read yet%s%s",
                            view.error[0] ? ": " : "", view.error);
        goto done;
    }
    if (view.error[0]) {
        char age[32];
        age_text(now_ms - view.inv->read_ms, age, sizeof age);
        decision_add_reason(d, "workload inventory from %s ago (the last refresh failed: %s)", age,
                            view.error);
    }
    /* Unknown records could hide a workload on its way: nothing moves. */
    if (records_read(a, now_ms, &rec, err, sizeof err) != 0) {
        decision_not_placed(d, "nothing moved: this site's records are unreadable: %s", err);
        goto done;
    }
    plan_and_reserve(a, cfg, view.inv, &rec, d, now_ms, out);
done:
    records_free(&rec);
    inv_unref(view.inv);
}
