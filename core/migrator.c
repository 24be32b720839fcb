/*
 * migrator — see migrator.h. The tick (holds into migrations, one step
 * each), the step (observe, decide, save, act, save), the thread, and
 * manual migrations.
 */
#include "core/migrator.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/inv_watch.h"
#include "core/peer_watch.h"
#include "core/placer.h"
#include "lib/log.h"
#include "lib/util.h"
#include "migrator/mig_phase.h"
#include "placement/pl_estimate.h"
#include "store/store_hold.h"
#include "store/store_import.h"
#include "store/store_mig.h"

struct migrator {
    struct agent *a;
    struct migrator_ops ops;
    bool owns_ops; /* the real ones: freed with the migrator */
    pthread_t thread;
    bool threaded;
    atomic_int stop;
    pthread_mutex_t lock; /* guards wake_now */
    pthread_cond_t wake;
    bool wake_now;
    bool idle;          /* the last tick found nothing to run or wind down (ticking thread only) */
    int64_t tick_ms;

    /* owned by the ticking thread */
    bool crashed;    /* a crash point stopped this tick */
    bool cluster_ok; /* ops.begin succeeded this tick */
    char cluster_err[400];
    char logged_wait[200]; /* the last "waiting for ..." line, logged once */
    bool logged_removed;   /* "no migrator section" said for the migrations under way */
};

/* ---- small helpers ---- */

static const struct cfg_peer *find_peer(const struct floe_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->npeers; i++)
        if (strcmp(cfg->peers[i].name, name) == 0)
            return &cfg->peers[i];
    return NULL;
}

static void log_event(const struct store_mig *m, const struct mig_effects *fx)
{
    if (!fx->event[0])
        return;
    if (fx->warn)
        log_warn("%s → %s (migration %lld): %s", m->workload, m->peer, (long long)m->id, fx->event);
    else
        log_info("%s → %s (migration %lld): %s", m->workload, m->peer, (long long)m->id, fx->event);
}

static bool crash_here(struct migrator *mg, const char *where)
{
    if (mg->ops.crash_point && mg->ops.crash_point(mg->ops.ctx, where))
        mg->crashed = true;
    return mg->crashed;
}

/* Saves next with its effects. Returns 0, or -1 (logged): then nothing
 * may be acted on. */
static int save(struct migrator *mg, const struct store_mig *next, const struct mig_effects *fx)
{
    struct store_mig_save_extra x = {.event = fx->event[0] ? fx->event : NULL,
                                     .release_hold = fx->release_hold,
                                     .nrates = fx->nrates,
                                     .rate_alpha = MIGRATOR_EWMA_ALPHA};
    memcpy(x.rates, fx->rates, sizeof x.rates);
    char err[256];
    if (store_mig_save(mg->a->store, next, &x, err, sizeof err) != 0) {
        log_err("%s → %s (migration %lld): cannot save its state, nothing done: %s", next->workload,
                next->peer, (long long)next->id, err);
        return -1;
    }
    log_event(next, fx);
    return 0;
}

/* The peer's ingress: from the config, else its latest capacity answer. */
static void peer_ingress(struct migrator *mg, const struct cfg_peer *peer, char *out, size_t n)
{
    out[0] = '\0';
    if (!peer)
        return;
    if (peer->ingress && peer->ingress[0]) {
        util_strlcpy(out, peer->ingress, n);
        return;
    }
    if (!mg->a->peers)
        return;
    struct peer_status *ps = NULL;
    size_t nps = peer_watch_snapshot(mg->a->peers, &ps);
    for (size_t i = 0; i < nps; i++)
        if (strcmp(ps[i].name, peer->name) == 0 && ps[i].polled && ps[i].last.state == PEER_OK)
            util_strlcpy(out, ps[i].last.cap.ingress, n);
    free(ps);
}

static void params_for(struct migrator *mg, const struct floe_config *cfg,
                       const struct store_mig *m, const char *ingress, struct mig_params *p)
{
    const struct cfg_migrator *c = &cfg->migrator;
    *p = (struct mig_params){
        .site = cfg->site.name,
        .delta_interval_ms = c->delta_interval_ms,
        .backup_ttl_ms = c->backup_ttl_ms,
        .retain_source_ms = c->retain_source_ms,
        /* The peer's Velero sync period is not known here; sites of one
         * operator run the same, so ours stands for it. */
        .storage_sync_ms = c->backup_sync_period_ms,
        .retries = c->retries,
        .data_mover = c->data_mover,
        .traffic_switches = cfg->traffic.driver && strcmp(cfg->traffic.driver, "none") != 0,
        .traffic_ttl_s = cfg->traffic.ttl,
        .peer_ingress = ingress,
        .home_ingress = cfg->site.ingress,
        .rates = placer_rates(mg->a, m->peer),
        .incremental_restore = c->incremental_restore,
        .winding_down = !c->enabled,
    };
}

/* ---- observing ---- */

static void observe_import(struct migrator *mg, const struct store_mig *m,
                           const struct cfg_peer *peer, const char *id, struct mig_import_obs *o)
{
    o->asked = true;
    if (!peer)
        snprintf(o->error, sizeof o->error, "peer %s is no longer in the config", m->peer);
    else
        o->ok = mg->ops.import_get(mg->ops.ctx, peer, id, &o->status, &o->http_status, o->error,
                                   sizeof o->error) == 0;
}

static void observe(struct migrator *mg, const struct floe_config *cfg, const struct store_mig *m,
                    const struct cfg_peer *peer, unsigned wants, struct mig_ns_state *ns,
                    struct mig_obs *obs)
{
    if (wants & MIG_WANT_BACKUP) {
        obs->backup.asked = true;
        obs->backup.bytes = NAN;
        if (!mg->cluster_ok) {
            util_strlcpy(obs->backup.error, mg->cluster_err, sizeof obs->backup.error);
        } else if (mg->ops.backup_get(mg->ops.ctx, m->backup, &obs->backup.status,
                                      obs->backup.error, sizeof obs->backup.error) == 0) {
            obs->backup.ok = true;
            enum mig_vclass cls = obs->backup.status.cls;
            char err[256];
            if ((cls == MIG_V_COMPLETED || cls == MIG_V_PARTIAL) &&
                mg->ops.backup_bytes(mg->ops.ctx, m->backup, &obs->backup.bytes, err, sizeof err) !=
                    0) {
                log_warn("%s → %s (migration %lld): bytes of backup %s unknown (%s): counted "
                         "from its data size",
                         m->workload, m->peer, (long long)m->id, m->backup, err);
                obs->backup.bytes = NAN;
            }
        }
    }
    if (wants & MIG_WANT_NS) {
        obs->ns.asked = true;
        obs->ns.ns = ns;
        if (!mg->cluster_ok)
            util_strlcpy(obs->ns.error, mg->cluster_err, sizeof obs->ns.error);
        else
            obs->ns.ok = mg->ops.ns_read(mg->ops.ctx, m->namespace_, ns, obs->ns.error,
                                         sizeof obs->ns.error) == 0;
    }
    if (wants & MIG_WANT_IMPORT)
        observe_import(mg, m, peer, m->import_id, &obs->import);
    if (wants & MIG_WANT_PRESTAGE)
        observe_import(mg, m, peer, m->prestage_id, &obs->prestage);
    if (wants & MIG_WANT_RETURN) {
        char err[256];
        obs->returned.asked = true;
        /* From the migration's start: the import coming back may have
         * been made before this migration ended (core/importer.c takes
         * the kept copy over only once it is done). */
        int rc = store_import_returned(mg->a->store, m->namespace_, m->peer, m->created_ms,
                                       &obs->returned.import_id, err, sizeof err);
        obs->returned.found = rc == 0;
        obs->returned.unknown = rc < 0;
        if (rc < 0)
            log_warn("%s → %s (migration %lld): whether it came back is unknown: %s", m->workload,
                     m->peer, (long long)m->id, err);
    }
    (void)cfg;
}

/* ---- acting ---- */

/* m->quiesce (a JSON array of strings) into argv (at most
 * CFG_QUIESCE_WORDS). -1 with why when it is not such an array or has
 * more words: the backup is then not made, never made with a command cut
 * short (an edited row; the inventory refuses such workloads). */
static int quiesce_args(const char *json, cJSON **holder, const char **argv, size_t *n, char *why,
                        size_t whylen)
{
    *holder = json && *json ? cJSON_Parse(json) : NULL;
    *n = 0;
    if (!cJSON_IsArray(*holder))
        return errf(why, whylen, "quiesce command %.80s%s is not a JSON array of strings", json,
                    strlen(json) > 80 ? "..." : "");
    const cJSON *it;
    cJSON_ArrayForEach(it, *holder)
    {
        if (!cJSON_IsString(it))
            return errf(why, whylen, "quiesce command: not a JSON array of strings");
        if (*n >= CFG_QUIESCE_WORDS)
            return errf(why, whylen, "quiesce command too long: %d words; floe carries at most %d",
                        cJSON_GetArraySize(*holder), CFG_QUIESCE_WORDS);
        argv[(*n)++] = it->valuestring;
    }
    return 0;
}

static void act_backup(struct migrator *mg, const struct floe_config *cfg,
                       const struct store_mig *m, const struct cfg_peer *peer,
                       const struct mig_action *act, struct mig_result *r)
{
    const char *argv[CFG_QUIESCE_WORDS];
    cJSON *holder = NULL;
    size_t argc = 0;
    if (act->quiesce &&
        quiesce_args(m->quiesce, &holder, argv, &argc, r->error, sizeof r->error) != 0) {
        /* Refused as the API server refuses a bad object: a failed
         * attempt, then a rollback (mig_outcome), with this reason. */
        r->http_status = 422;
        cJSON_Delete(holder);
        return;
    }
    struct mig_backup_spec b = {
        .name = m->backup,
        .namespace_ = m->namespace_,
        .storage_location =
            peer && peer->velero_storage_location && peer->velero_storage_location[0]
                ? peer->velero_storage_location
                : NULL,
        .fs_backup = act->fs_backup,
        .snapshot_move_data = act->snapshot_move_data,
        .ttl_ms = cfg->migrator.backup_ttl_ms,
        .migration_id = m->id,
        .quiesce = argc ? argv : NULL,
        .nquiesce = argc,
    };
    r->ok = mg->ops.backup_create(mg->ops.ctx, &b, r->error, sizeof r->error) == 0;
    cJSON_Delete(holder);
}

static void act_scale(struct migrator *mg, const struct store_mig *m, const struct mig_action *act,
                      struct mig_result *r)
{
    r->ok = true;
    for (size_t i = 0; i < act->nscale; i++) {
        char err[300];
        if (mg->ops.scale(mg->ops.ctx, m->namespace_, act->scale[i].kind, act->scale[i].name,
                          act->scale[i].replicas, err, sizeof err) != 0) {
            /* The others are still worth scaling; the first error tells. */
            if (r->ok)
                snprintf(r->error, sizeof r->error, "%s/%s: %s",
                         mig_obj_kind_key(act->scale[i].kind), act->scale[i].name, err);
            r->ok = false;
        }
    }
}

/* The home to send with m's import (POST /v1/imports "home"): for a move
 * of a rebalance decision, the home that decision gave the workload (a
 * guest's home), or else the peer it goes to: a levelled workload's home
 * moves with it, so the peer's rebalance does not send it back here as a
 * guest the next night. "" for a shed or manual move (this site stays its
 * home: nothing is sent). -1 with err when the decision is unreadable:
 * the import waits rather than go without its home. */
static int import_home(struct migrator *mg, const struct store_mig *m, char *home, size_t n,
                       char *err, size_t errlen)
{
    home[0] = '\0';
    if (m->decision_id <= 0)
        return 0;
    struct store_decision_row row;
    int rc = store_decision_get(mg->a->store, m->decision_id, &row, err, errlen);
    if (rc == STORE_NOT_FOUND)
        return 0; /* pruned: nothing to go by */
    if (rc != 0)
        return -1;
    struct decision d;
    char why[256];
    if (decision_parse(row.body, strlen(row.body), &d, why, sizeof why) != 0) {
        errf(err, errlen, "decision %lld is unreadable: %s", (long long)m->decision_id, why);
        store_decision_row_clear(&row);
        return -1;
    }
    store_decision_row_clear(&row);
    for (size_t i = 0; d.kind == POL_ACTION_REBALANCE && i < d.nworkloads; i++) {
        const struct decision_workload *w = &d.workloads[i];
        if (w->chosen && w->reservation && w->to && strcmp(w->reservation, m->reservation) == 0 &&
            strcmp(w->to, m->peer) == 0) {
            util_strlcpy(home, w->home_site ? w->home_site : w->to, n);
            break;
        }
    }
    decision_clear(&d);
    return 0;
}

static void act_import(struct migrator *mg, const struct store_mig *m, const struct cfg_peer *peer,
                       const struct mig_action *a, struct mig_result *r)
{
    char home[128];
    if (import_home(mg, m, home, sizeof home, r->error, sizeof r->error) != 0) {
        r->ok = false;
        return;
    }
    struct mig_import_replica reps[STORE_MIG_MAX_REPLICAS];
    for (size_t i = 0; i < m->nreplicas; i++) {
        util_strlcpy(reps[i].key, m->replicas[i].key, sizeof reps[i].key);
        reps[i].replicas = m->replicas[i].replicas;
    }
    /* A prestage import keeps every object at 0: no counts go along
     * (none are recorded before switchover). */
    struct mig_import_request req = {.reservation = m->reservation,
                                     .workload = m->workload,
                                     .namespace_ = m->namespace_,
                                     .backup = a->prestage ? m->prestage_backup : m->last_backup,
                                     .stateless = m->stateless,
                                     .prestage = a->prestage,
                                     .incremental = !a->prestage && a->incremental,
                                     .replicas = reps,
                                     .nreplicas = a->prestage ? 0 : m->nreplicas,
                                     .home = home[0] ? home : NULL};
    r->ok = mg->ops.import_start(mg->ops.ctx, peer, &req, &r->import, &r->http_status, r->error,
                                 sizeof r->error) == 0;
}

static void act_traffic(struct migrator *mg, const struct floe_config *cfg,
                        const struct store_mig *m, const struct mig_action *act,
                        struct mig_result *r)
{
    struct mig_traffic_switch sw = {.workload = m->workload,
                                    .hostname = m->hostname,
                                    .address = act->address,
                                    .from_site = act->home ? m->peer : cfg->site.name,
                                    .to_site = act->home ? cfg->site.name : m->peer};
    r->ok = mg->ops.traffic(mg->ops.ctx, &cfg->traffic, &sw, r->error, sizeof r->error) == 0;
}

static void act(struct migrator *mg, const struct floe_config *cfg, const struct store_mig *m,
                const struct cfg_peer *peer, const struct mig_action *a, struct mig_result *r)
{
    memset(r, 0, sizeof *r);
    bool cluster =
        a->kind == MIG_ACT_BACKUP || a->kind == MIG_ACT_SCALE || a->kind == MIG_ACT_DELETE_NS;
    bool at_peer =
        a->kind == MIG_ACT_IMPORT || a->kind == MIG_ACT_DROP || a->kind == MIG_ACT_RELEASE;
    if (cluster && !mg->cluster_ok) {
        util_strlcpy(r->error, mg->cluster_err, sizeof r->error);
        return;
    }
    if (at_peer && !peer) {
        snprintf(r->error, sizeof r->error, "peer %s is no longer in the config", m->peer);
        return;
    }
    switch (a->kind) {
    case MIG_ACT_NONE:
        r->ok = true;
        break;
    case MIG_ACT_BACKUP:
        act_backup(mg, cfg, m, peer, a, r);
        break;
    case MIG_ACT_SCALE:
        act_scale(mg, m, a, r);
        break;
    case MIG_ACT_IMPORT:
        act_import(mg, m, peer, a, r);
        break;
    case MIG_ACT_DROP:
        r->ok = mg->ops.import_drop(mg->ops.ctx, peer, a->prestage ? m->prestage_id : m->import_id,
                                    &r->http_status, r->error, sizeof r->error) == 0;
        break;
    case MIG_ACT_TRAFFIC:
        act_traffic(mg, cfg, m, a, r);
        break;
    case MIG_ACT_RELEASE:
        r->ok = mg->ops.release(mg->ops.ctx, peer, m->reservation, r->error, sizeof r->error) == 0;
        break;
    case MIG_ACT_DELETE_NS:
        r->ok = mg->ops.delete_ns(mg->ops.ctx, m->namespace_, r->error, sizeof r->error) == 0;
        break;
    }
}

/* ---- one step ---- */

/* One step of migration m; *slots counts those past `reserved`. */
static void advance(struct migrator *mg, const struct floe_config *cfg, const struct store_mig *m,
                    int *slots, int64_t now_ms)
{
    const struct cfg_peer *peer = find_peer(cfg, m->peer);
    char ingress[256];
    peer_ingress(mg, peer, ingress, sizeof ingress);
    struct mig_params p;
    params_for(mg, cfg, m, ingress, &p);
    /* Large: the namespace's objects, the action's list and two states. */
    struct mig_ns_state *ns = calloc(1, sizeof *ns);
    struct store_mig *next = malloc(sizeof *next);
    struct store_mig *after = malloc(sizeof *after);
    struct mig_action *a = malloc(sizeof *a);
    if (!ns || !next || !after || !a) {
        log_err("migration %lld: out of memory", (long long)m->id);
        goto out;
    }
    unsigned wants = mig_wants(m);
    struct mig_obs obs = {.slot_free = *slots < cfg->migrator.max_parallel};
    observe(mg, cfg, m, peer, wants, ns, &obs);
    struct mig_effects fx;
    bool held = mig_holds_slot(m);
    if (mig_step(m, &obs, &p, now_ms, next, a, &fx) && save(mg, next, &fx) != 0)
        goto out;
    if (!held && mig_holds_slot(next))
        (*slots)++;
    if (a->kind == MIG_ACT_NONE || crash_here(mg, "saved"))
        goto out;
    struct mig_result r;
    act(mg, cfg, next, peer, a, &r);
    if (crash_here(mg, "acted"))
        goto out;
    if (mig_outcome(next, a, &r, &p, now_ms, after, &fx))
        save(mg, after, &fx);
out:
    free(ns);
    free(next);
    free(after);
    free(a);
}

/* ---- holds into migrations ---- */

/* The quiesce command as the JSON array the row keeps ("" none). -1 with
 * why when it does not fit whole: never cut (a final backup without its
 * hook could miss writes). */
static int quiesce_json(const struct inv_workload *w, char *out, size_t n, char *why,
                        size_t whylen)
{
    out[0] = '\0';
    if (!w->quiesce || w->nquiesce == 0)
        return 0;
    if (cfg_quiesce_check(w->quiesce, w->nquiesce, why, whylen) != 0)
        return -1;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < w->nquiesce; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(w->quiesce[i]));
    char *text = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    int rc = 0;
    if (!text || strlen(text) >= n)
        rc = errf(why, whylen, "quiesce command: %s", text ? "too long" : "out of memory");
    else
        util_strlcpy(out, text, n);
    free(text);
    return rc;
}

/* What moves, from the inventory's workload. -1 with why when it cannot
 * be carried (its quiesce command). */
static int fill_workload(struct store_mig *m, const struct inv_workload *w, char *why,
                         size_t whylen)
{
    util_strlcpy(m->namespace_, w->namespace_ ? w->namespace_ : w->name, sizeof m->namespace_);
    m->stateless = w->stateless;
    m->data_gb = isfinite(w->data_gb) ? w->data_gb : 0;
    util_strlcpy(m->hostname, w->hostname ? w->hostname : "", sizeof m->hostname);
    return quiesce_json(w, m->quiesce, sizeof m->quiesce, why, whylen);
}

static void from_hold(struct migrator *mg, const struct floe_config *cfg,
                      const struct inventory *inv, const struct store_hold *h, int64_t now_ms)
{
    struct store_mig *m = malloc(sizeof *m);
    if (!m)
        return;
    mig_init(m, now_ms);
    util_strlcpy(m->workload, h->workload, sizeof m->workload);
    util_strlcpy(m->namespace_, h->namespace_, sizeof m->namespace_);
    util_strlcpy(m->peer, h->peer, sizeof m->peer);
    util_strlcpy(m->reservation, h->id, sizeof m->reservation);
    m->hold_expires_ms = h->expires_ms;
    m->decision_id = h->decision_id;
    m->kw = h->kw;
    const struct inv_workload *w = inv_find(inv, h->workload);
    const char *why = !w ? "it is no longer in the workload inventory" : inv_workload_reason(w);
    char qwhy[200];
    if (!why && fill_workload(m, w, qwhy, sizeof qwhy) != 0)
        why = qwhy;
    char event[STORE_MIG_DETAIL_MAX];
    if (!why) {
        snprintf(event, sizeof event,
                 "%.6g kW reserved at %s (reservation %s, decision %lld); waiting for a slot",
                 h->kw, h->peer, h->id, (long long)h->decision_id);
    } else {
        /* Nothing to move: the reservation goes back at once, on record. */
        util_strlcpy(m->rollback_from, m->phase, sizeof m->rollback_from);
        util_strlcpy(m->phase, mig_phase_name(MIG_PH_ROLLING_BACK), sizeof m->phase);
        m->step = MIG_RB_RELEASE;
        snprintf(m->reason, sizeof m->reason, "%s cannot move: %s", h->workload, why);
        snprintf(event, sizeof event, "rolling back: %s", m->reason);
    }
    int64_t id = 0;
    char err[256];
    int rc = store_mig_create(mg->a->store, m, NULL, event, &id, err, sizeof err);
    if (rc == 0) {
        m->id = id;
        struct mig_effects fx = {.warn = why != NULL};
        util_strlcpy(fx.event, event, sizeof fx.event);
        log_event(m, &fx);
    } else if (rc == STORE_CONFLICT) {
        /* Moving already (a manual migration, say): this hold is surplus. */
        const struct cfg_peer *peer = find_peer(cfg, h->peer);
        if (!peer || mg->ops.release(mg->ops.ctx, peer, h->id, err, sizeof err) == 0) {
            store_hold_release(mg->a->store, h->peer, h->id, now_ms, err, sizeof err);
            log_warn("%s: already has a migration running; reservation %s at %s released",
                     h->workload, h->id, h->peer);
        } else {
            log_warn("%s: already has a migration running; reservation %s at %s not released "
                     "yet: %s",
                     h->workload, h->id, h->peer, err);
        }
    } else if (rc != STORE_NOT_FOUND) {
        log_err("%s: reservation %s at %s not turned into a migration: %s", h->workload, h->id,
                h->peer, err);
    }
    free(m);
}

/* Returns the number of holds seen (-1: unreadable), so the tick knows
 * whether any waits to become a migration. */
static long holds_to_migrations(struct migrator *mg, const struct floe_config *cfg, int64_t now_ms)
{
    struct store_hold *holds = NULL;
    size_t n = 0;
    char err[256];
    if (store_hold_active(mg->a->store, now_ms, &holds, &n, err, sizeof err) != 0) {
        log_err("migrations: holds unreadable: %s", err);
        return -1;
    }
    struct inv_view view;
    memset(&view, 0, sizeof view);
    bool viewed = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(holds[i].state, "active") != 0)
            continue;
        if (!viewed && mg->a->inventory)
            inv_watch_view(mg->a->inventory, &view);
        viewed = true;
        if (!view.inv) {
            char line[200];
            snprintf(line, sizeof line, "%s waits for the workload inventory to be read",
                     holds[i].workload);
            if (strcmp(line, mg->logged_wait) != 0)
                log_info("migrations: %s", line);
            util_strlcpy(mg->logged_wait, line, sizeof mg->logged_wait);
            continue;
        }
        from_hold(mg, cfg, view.inv, &holds[i], now_ms);
    }
    inv_unref(view.inv);
    store_hold_rows_free(holds, n);
    return (long)n;
}

/* ---- the tick ---- */

void migrator_tick(struct migrator *mg, int64_t now_ms)
{
    uint64_t generation;
    struct floe_config *cfg = agent_config_get_gen(mg->a, &generation);
    mg->tick_ms = cfg->migrator.tick_ms > 0 ? cfg->migrator.tick_ms : 1000;
    mg->crashed = false;
    mg->idle = false;
    struct store_mig *rows = NULL;
    size_t n = 0;
    char err[256];
    bool enabled = cfg->migrator.enabled;
    long nholds = 0;
    if (enabled) {
        mg->cluster_ok = mg->ops.begin(mg->ops.ctx, cfg, generation, mg->cluster_err,
                                       sizeof mg->cluster_err) == 0;
        nholds = holds_to_migrations(mg, cfg, now_ms);
    }
    if (store_mig_pending(mg->a->store, &rows, &n, err, sizeof err) != 0) {
        log_err("migrations: unreadable: %s", err);
        goto out;
    }
    /* Without the section no migration starts, but those under way are
     * not left frozen (a source at 0 replicas would run nowhere): they
     * are wound down (mig_params.winding_down). */
    if (!enabled) {
        if (n && !mg->logged_removed)
            log_warn("migrations: the config has no migrator section: no new migration starts; "
                     "%zu under way are wound down (those whose workload has not stopped roll "
                     "back, the others run to their end)",
                     n);
        mg->logged_removed = n > 0;
        mg->idle = n == 0;
        if (n == 0)
            goto out;
        mg->cluster_ok = mg->ops.begin(mg->ops.ctx, cfg, generation, mg->cluster_err,
                                       sizeof mg->cluster_err) == 0;
    }
    /* Nothing under way and no reservation waiting to become a migration:
     * the next work comes with a hold (holds_recorded), a manual migration
     * or a reload, all of which wake the thread. */
    mg->idle = n == 0 && nholds == 0;
    int slots = 0;
    for (size_t i = 0; i < n; i++)
        slots += mig_holds_slot(&rows[i]);
    for (size_t i = 0; i < n && !mg->crashed && !atomic_load(&mg->stop); i++) {
        /* Read again: an abort may have come since the list was read. */
        struct store_mig *m = malloc(sizeof *m);
        if (m && store_mig_get(mg->a->store, rows[i].id, m, err, sizeof err) == 0)
            advance(mg, cfg, m, &slots, now_ms);
        free(m);
    }
out:
    free(rows);
    config_unref(cfg);
}

/* ---- the thread ---- */

static void *migrator_main(void *arg)
{
    struct migrator *mg = arg;
    while (!atomic_load(&mg->stop)) {
        migrator_tick(mg, util_now_ms());
        int64_t due = util_mono_ms() + mg->tick_ms;
        struct timespec until = util_mono_timespec(due);
        pthread_mutex_lock(&mg->lock);
        /* With nothing to do, nothing is due until a migration is asked
         * for (migrator_wake) or the config changes (the daemon wakes it
         * too): an idle agent does not wake every tick to find that out. */
        while (!mg->wake_now && !atomic_load(&mg->stop)) {
            if (mg->idle)
                pthread_cond_wait(&mg->wake, &mg->lock);
            else if (pthread_cond_timedwait(&mg->wake, &mg->lock, &until) == ETIMEDOUT)
                break;
        }
        mg->wake_now = false;
        pthread_mutex_unlock(&mg->lock);
    }
    return NULL;
}

struct migrator *migrator_new(struct agent *a, const struct migrator_ops *ops)
{
    struct migrator *mg = calloc(1, sizeof *mg);
    if (!mg)
        return NULL;
    mg->a = a;
    mg->ops = *ops;
    mg->tick_ms = 1000;
    atomic_init(&mg->stop, 0);
    pthread_mutex_init(&mg->lock, NULL);
    util_cond_init_mono(&mg->wake);
    return mg;
}

struct migrator *migrator_start(struct agent *a, char *err, size_t errlen)
{
    struct migrator_ops ops = migrator_kube_ops();
    if (!ops.ctx) {
        errf(err, errlen, "migrator: out of memory");
        return NULL;
    }
    struct migrator *mg = migrator_new(a, &ops);
    if (!mg) {
        migrator_kube_free(&ops);
        errf(err, errlen, "migrator: out of memory");
        return NULL;
    }
    mg->owns_ops = true;
    if (pthread_create(&mg->thread, NULL, migrator_main, mg) != 0) {
        errf(err, errlen, "migrator: cannot start its thread");
        migrator_stop(mg);
        return NULL;
    }
    mg->threaded = true;
    return mg;
}

void migrator_stop(struct migrator *mg)
{
    if (!mg)
        return;
    if (mg->threaded) {
        pthread_mutex_lock(&mg->lock);
        atomic_store(&mg->stop, 1);
        pthread_cond_signal(&mg->wake);
        pthread_mutex_unlock(&mg->lock);
        pthread_join(mg->thread, NULL);
    }
    if (mg->owns_ops)
        migrator_kube_free(&mg->ops);
    pthread_cond_destroy(&mg->wake);
    pthread_mutex_destroy(&mg->lock);
    free(mg);
}

void migrator_wake(struct migrator *mg)
{
    if (!mg)
        return;
    pthread_mutex_lock(&mg->lock);
    mg->wake_now = true;
    pthread_cond_signal(&mg->wake);
    pthread_mutex_unlock(&mg->lock);
}

/* ---- manual migrations ---- */

/* Fills err and returns the HTTP status that goes with it. */
static int refuse(int status, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(int status, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return status;
}

static bool workload_busy(struct migrator *mg, const char *workload, int64_t now_ms, char *why,
                          size_t n)
{
    char **busy = NULL;
    size_t nb = 0;
    char err[256];
    bool found = false;
    if (store_mig_busy(mg->a->store, &busy, &nb, err, sizeof err) == 0)
        for (size_t i = 0; i < nb && !found; i++)
            if (strcmp(busy[i], workload) == 0) {
                found = true;
                snprintf(why, n,
                         "%s already has a migration (running, or done with its source "
                         "still kept here)",
                         workload);
            }
    store_mig_names_free(busy, nb);
    struct store_hold *holds = NULL;
    size_t nh = 0;
    if (!found && store_hold_active(mg->a->store, now_ms, &holds, &nh, err, sizeof err) == 0)
        for (size_t i = 0; i < nh && !found; i++)
            if (strcmp(holds[i].workload, workload) == 0) {
                found = true;
                snprintf(why, n, "%s is already reserved at %s (decision %lld)", workload,
                         holds[i].peer, (long long)holds[i].decision_id);
            }
    store_hold_rows_free(holds, nh);
    return found;
}

/* Checks and reserves; *held gets the grant. Called under place_lock. */
static int manual_locked(struct migrator *mg, const struct floe_config *cfg,
                         const struct inv_workload *w, const struct cfg_peer *peer,
                         const char *actor, int64_t now_ms, int64_t *id, char *err, size_t errlen)
{
    char why[300];
    if (workload_busy(mg, w->name, now_ms, why, sizeof why))
        return refuse(409, err, errlen, "%s", why);
    struct pl_rates rates = placer_rates(mg->a, peer->name);
    struct pl_estimate est;
    char e[128];
    bool estimated = pl_estimate(&rates, w->data_gb, w->stateless, &est, e, sizeof e) == 0;
    int64_t ttl_s = placer_ttl_s(estimated ? &est : NULL, cfg->migrator.delta_interval_ms);
    struct peer_reservation r;
    mg->ops.reserve(mg->ops.ctx, peer, cfg->site.name, w->name, w->power_kw, ttl_s, &r);
    if (r.outcome == PEER_RESERVE_REFUSED)
        return refuse(409, err, errlen, "%s refused the reservation of %.6g kW: %s", peer->name,
                      w->power_kw, r.reason);
    if (r.outcome != PEER_GRANTED)
        return refuse(502, err, errlen, "%s: no reservation: %s", peer->name, r.reason);

    struct store_hold hold = {.peer = peer->name,
                              .id = r.grant.id,
                              .workload = w->name,
                              .namespace_ = w->namespace_ ? w->namespace_ : w->name,
                              .kw = w->power_kw,
                              .decision_id = 0,
                              .created_ms = now_ms,
                              .expires_ms = now_ms + ttl_s * 1000};
    struct store_mig *m = malloc(sizeof *m);
    if (!m) {
        mg->ops.release(mg->ops.ctx, peer, r.grant.id, why, sizeof why);
        return refuse(500, err, errlen, "out of memory");
    }
    mig_init(m, now_ms);
    util_strlcpy(m->workload, w->name, sizeof m->workload);
    util_strlcpy(m->peer, peer->name, sizeof m->peer);
    util_strlcpy(m->reservation, r.grant.id, sizeof m->reservation);
    m->hold_expires_ms = hold.expires_ms;
    m->kw = w->power_kw;
    if (fill_workload(m, w, why, sizeof why) != 0) {
        /* migrator_manual checked it: only if the inventory changed */
        free(m);
        char rerr[256];
        mg->ops.release(mg->ops.ctx, peer, r.grant.id, rerr, sizeof rerr);
        return refuse(409, err, errlen, "%s may not move: %s", w->name, why);
    }
    char event[STORE_MIG_DETAIL_MAX];
    snprintf(event, sizeof event,
             "manual migration by %s: %.6g kW reserved at %s (reservation %s); waiting for a "
             "slot",
             actor, w->power_kw, peer->name, r.grant.id);
    char serr[256];
    int rc = store_mig_create(mg->a->store, m, &hold, event, id, serr, sizeof serr);
    if (rc == 0) {
        m->id = *id;
        struct mig_effects fx = {0};
        util_strlcpy(fx.event, event, sizeof fx.event);
        log_event(m, &fx);
    } else {
        /* Not on record: the grant must not stay. */
        char rerr[256];
        if (mg->ops.release(mg->ops.ctx, peer, r.grant.id, rerr, sizeof rerr) != 0)
            log_warn("peer %s: reservation %s not released (it lapses at its TTL): %s", peer->name,
                     r.grant.id, rerr);
    }
    free(m);
    if (rc == STORE_CONFLICT)
        return refuse(409, err, errlen, "%s", serr);
    if (rc != 0)
        return refuse(500, err, errlen, "migration not recorded: %s", serr);
    return 0;
}

int migrator_manual(struct migrator *mg, const struct floe_config *cfg, const char *workload,
                    const char *to, const char *actor, int64_t now_ms, int64_t *id, char *err,
                    size_t errlen)
{
    if (!cfg->migrator.enabled)
        return refuse(409, err, errlen,
                      "this site does not move workloads: the config has no migrator section");
    const struct cfg_peer *peer = find_peer(cfg, to);
    if (!peer)
        return refuse(400, err, errlen, "to: no peer named '%s' in this site's config", to);
    struct inv_view view;
    memset(&view, 0, sizeof view);
    if (mg->a->inventory)
        inv_watch_view(mg->a->inventory, &view);
    int rc;
    const struct inv_workload *w = view.inv ? inv_find(view.inv, workload) : NULL;
    const char *why = w ? inv_workload_reason(w) : NULL;
    char qwhy[200];
    if (w && !why && w->nquiesce && cfg_quiesce_check(w->quiesce, w->nquiesce, qwhy, sizeof qwhy))
        why = qwhy;
    if (!view.inv) {
        rc = refuse(409, err, errlen, "the workload inventory has not been read yet%s%s",
                    view.error[0] ? ": " : "", view.error);
    } else if (!w) {
        rc =
            refuse(404, err, errlen, "workload: no workload named '%s' in the inventory", workload);
    } else if (why) {
        rc = refuse(409, err, errlen, "%s may not move: %s", workload, why);
    } else {
        pthread_mutex_lock(&mg->a->place_lock);
        rc = manual_locked(mg, cfg, w, peer, actor, now_ms, id, err, errlen);
        pthread_mutex_unlock(&mg->a->place_lock);
    }
    inv_unref(view.inv);
    if (rc == 0)
        migrator_wake(mg);
    return rc;
}
