/*
 * daemon — see daemon.h. The only place where the agent's threads are
 * created and joined; everything else receives the context.
 */
#include "agent/daemon.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/agent.h"
#include "core/capacity.h"
#include "core/evaluator.h"
#include "core/importer.h"
#include "core/importer_kube.h"
#include "core/inv_watch.h"
#include "core/migrator.h"
#include "core/peer_watch.h"
#include "core/poller.h"
#include "core/recorder.h"
#include "lib/log.h"
#include "lib/notify.h"
#include "lib/util.h"
#include "policies/cfg_expr.h"

#define RECORDER_STUCK_MS 60000
/* How often reservations past their TTL are marked expired (and logged).
 * They stop counting at their TTL whatever this is; it only decides how
 * soon the log says so. */
#define RESERVATION_SWEEP_MS 1000

static volatile sig_atomic_t got_stop;
static volatile sig_atomic_t got_reload;

static void on_stop(int sig)
{
    (void)sig;
    got_stop = 1;
}

static void on_reload(int sig)
{
    (void)sig;
    got_reload = 1;
}

static void install_signals(void)
{
    struct sigaction sa = { 0 };
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_reload;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static struct floe_config *load_or_report(const char *path)
{
    struct cfg_errors errs = { 0 }, warnings = { 0 };
    struct floe_config *cfg = cfg_load_checked(path, &errs, &warnings);
    for (size_t i = 0; i < errs.n; i++)
        log_err("%s", errs.lines[i]);
    for (size_t i = 0; i < warnings.n; i++)
        log_warn("%s", warnings.lines[i]);
    cfg_errors_clear(&errs);
    cfg_errors_clear(&warnings);
    return cfg;
}

/* Metric names the config gives to one device; NULL names when the
 * device is gone. Returns a new array of borrowed strings. */
static const char **device_metric_names(const struct floe_config *cfg, const char *device,
                                        size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const struct cfg_device *d = &cfg->devices[i];
        if (strcmp(d->name, device) != 0)
            continue;
        const char **names = calloc(d->nmetrics + 1, sizeof *names);
        for (size_t p = 0; names && p < d->nmetrics; p++)
            names[(*n)++] = d->metrics[p].name;
        return names;
    }
    return NULL;
}

static void forget_removed(struct metrics *m, const struct floe_config *old_cfg,
                           const struct floe_config *new_cfg)
{
    for (size_t i = 0; i < old_cfg->ndevices; i++) {
        const char *dev = old_cfg->devices[i].name;
        size_t nkeep = 0;
        const char **keep = device_metric_names(new_cfg, dev, &nkeep);
        /* Walk metrics are rediscovered by the next poll, so dropping
         * them with the rest costs one interval at most. */
        metrics_forget_source_except(m, dev, keep, nkeep);
        if (!keep)
            metrics_collector_forget(m, dev);
        free(keep);
    }
}

/* *running is the daemon's own reference to the config the pollers were
 * started with (they borrow it); it moves to the new config here. The
 * next config is loaded and validated before anything is locked or
 * stopped; the swap itself waits for nobody: a tick or request in flight
 * finishes on the config it started with. */
/* How often pollers that failed to start after a reload are tried again. */
#define POLLER_RETRY_MS 5000

static void reload(struct agent *a, const char *path, struct recorder *rec,
                   struct floe_config **running)
{
    log_info("reloading %s", path);
    struct floe_config *next = load_or_report(path);
    if (!next) {
        log_err("reload refused: %s is invalid (errors above); still running the previous "
                "configuration",
                path);
        return;
    }
    struct floe_config *old = *running;
    if (strcmp(old->http.listen, next->http.listen) != 0)
        log_warn("http.listen changed to %s: takes effect at the next restart; still serving %s",
                 next->http.listen, old->http.listen);
    if (strcmp(old->store.path, next->store.path) != 0)
        log_warn("store.path changed to %s: takes effect at the next restart; still writing %s",
                 next->store.path, old->store.path);
    pollers_stop(a->pollers);
    a->pollers = NULL;
    agent_config_swap(a, config_ref(next));
    *running = next;
    forget_removed(a->metrics, old, next);
    eval_config_changed(a->evaluator);
    peer_watch_config_changed(a->peers);
    inv_watch_config_changed(a->inventory);
    recorder_set_retention(rec, &(struct recorder_retention){next->store.raw_retention_ms,
                                                             next->store.minute_retention_ms,
                                                             next->store.retention_ms});
    char err[256];
    a->pollers = pollers_start(next, a->metrics, err, sizeof err);
    if (!a->pollers)
        log_err("reload: pollers could not start: %s; retrying every %d s", err,
                POLLER_RETRY_MS / 1000);
    config_unref(old);
    log_info("reloaded %s: %zu devices", path, next->ndevices);
}

int daemon_run(const char *config_path)
{
    int rc = 1;
    char err[512];
    struct recorder *rec = NULL;
    struct agent a = { 0 };
    a.started_ms = util_now_ms();
    a.started_mono_ms = util_mono_ms();
    install_signals();

    /* The daemon's own reference: the config the pollers run on, and what
     * this thread reads; the agent holds another for everyone else. */
    struct floe_config *cfg = load_or_report(config_path);
    if (!cfg) {
        log_err("not starting: %s is invalid", config_path);
        return 1;
    }
    agent_config_init(&a, config_ref(cfg));
    if (store_open(&a.store, cfg->store.path, err, sizeof err) != 0) {
        log_err("not starting: store: %s", err);
        goto out;
    }
    a.metrics = metrics_new(200000);
    a.capacity = cap_cache_new();
    if (!a.metrics || !a.capacity) {
        log_err("not starting: out of memory");
        goto out;
    }
    rec = recorder_start(a.metrics, a.store,
                         &(struct recorder_retention){cfg->store.raw_retention_ms,
                                                      cfg->store.minute_retention_ms,
                                                      cfg->store.retention_ms},
                         err, sizeof err);
    if (!rec) {
        log_err("not starting: %s", err);
        goto out;
    }
    a.peers = peer_watch_start(&a, err, sizeof err);
    if (!a.peers) {
        log_err("not starting: %s", err);
        goto out;
    }
    a.inventory = inv_watch_start(&a, err, sizeof err);
    if (!a.inventory) {
        log_err("not starting: %s", err);
        goto out;
    }
    /* After the inventory: a decision places with it. */
    a.evaluator = eval_start(&a, err, sizeof err);
    if (!a.evaluator) {
        log_err("not starting: %s", err);
        goto out;
    }
    /* After the inventory and the peer watcher (it reads both), before
     * the API (which creates and aborts migrations). It resumes every
     * migration the store has in progress. */
    a.migrator = migrator_start(&a, err, sizeof err);
    if (!a.migrator) {
        log_err("not starting: %s", err);
        goto out;
    }
    /* Before the API, which hands it the imports peers ask for. */
    struct importer_ops import_ops;
    if (importer_kube_ops(&import_ops, err, sizeof err) != 0) {
        log_err("not starting: %s", err);
        goto out;
    }
    a.importer = importer_start(&a, &import_ops, err, sizeof err);
    if (!a.importer) {
        log_err("not starting: %s", err);
        goto out;
    }
    a.api = api_start(&a, cfg->http.listen, err, sizeof err);
    if (!a.api) {
        log_err("not starting: http: %s", err);
        goto out;
    }
    a.pollers = pollers_start(cfg, a.metrics, err, sizeof err);
    if (!a.pollers) {
        log_err("not starting: %s", err);
        goto out;
    }
    if (!cfg->migrator.enabled && cfg->npeers > 0 && cfg->workloads.source)
        log_info("no migrator section: a placed decision reserves capacity at peers and moves "
                 "nothing");
    log_info("floe %s started: site %s, %zu devices, http %s, store %s", FLOE_VERSION,
             cfg->site.name, cfg->ndevices, cfg->http.listen, cfg->store.path);
    notify_send("READY=1");
    char status[128];
    snprintf(status, sizeof status, "STATUS=watching %zu devices", cfg->ndevices);
    notify_send(status);

    int64_t watchdog_ms = notify_watchdog_ms();
    int64_t next_ping = util_mono_ms();
    int64_t next_poller_retry = 0;
    int64_t next_sweep = 0;
    bool sweep_failing = false;
    while (!got_stop) {
        if (util_mono_ms() >= next_sweep) {
            /* Logged when it starts and stops failing, not every second. */
            bool failed = cap_expire(&a, util_now_ms(), err, sizeof err) < 0;
            if (failed && !sweep_failing)
                log_err("reservations: expired ones cannot be marked: %s; retrying every %d ms",
                        err, RESERVATION_SWEEP_MS);
            else if (!failed && sweep_failing)
                log_info("reservations: expired ones are marked again");
            sweep_failing = failed;
            next_sweep = util_mono_ms() + RESERVATION_SWEEP_MS;
        }
        /* Pollers that could not start after a reload (threads or memory
         * short) are retried: an agent that answers but polls nothing
         * would look healthy while every value goes stale. */
        if (!a.pollers && util_mono_ms() >= next_poller_retry) {
            a.pollers = pollers_start(cfg, a.metrics, err, sizeof err);
            if (a.pollers)
                log_info("pollers started: %zu devices", cfg->ndevices);
            next_poller_retry = util_mono_ms() + POLLER_RETRY_MS;
        }
        if (got_reload) {
            got_reload = 0;
            notify_send("RELOADING=1");
            reload(&a, config_path, rec, &cfg);
            notify_send("READY=1");
        }
        if (watchdog_ms > 0 && util_mono_ms() >= next_ping) {
            /* Ping only while the recorder still cycles (every 10 s): a
             * store wedged for a minute is exactly what the watchdog
             * should restart us for. */
            if (util_mono_ms() - recorder_heartbeat_ms(rec) < RECORDER_STUCK_MS)
                notify_send("WATCHDOG=1");
            next_ping = util_mono_ms() + watchdog_ms / 2;
        }
        util_sleep_ms(100, NULL);
    }
    log_info("stopping");
    notify_send("STOPPING=1");
    rc = 0;
out:
    /* Readers first: the API, the migrator and the evaluator use the
     * inventory and the peer watcher, which go after them. */
    api_stop(a.api);
    importer_stop(a.importer);
    migrator_stop(a.migrator);
    eval_stop(a.evaluator);
    peer_watch_stop(a.peers);
    inv_watch_stop(a.inventory);
    pollers_stop(a.pollers);
    recorder_stop(rec);
    store_close(a.store);
    metrics_free(a.metrics);
    cap_cache_free(a.capacity);
    agent_config_clear(&a);
    config_unref(cfg);
    return rc;
}
