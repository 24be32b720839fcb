/*
 * daemon — see daemon.h. The only place where the agent's threads are
 * created and joined; everything else receives the context.
 */
#include "agent/daemon.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
#include "store/store_resv.h"

#define RECORDER_STUCK_MS 60000
/* How soon expired reservations are marked again after the store failed
 * to (they stop counting at their TTL whatever this is; it only decides
 * how soon the log says so). */
#define RESERVATION_SWEEP_MS 1000
/* While a reservation waits for its TTL, the loop looks again at least
 * this often: the TTL is wall-clock time, and the wall clock may step. */
#define RESERVATION_RECHECK_MS 60000
#define NEVER INT64_MAX

/* SIGTERM, SIGINT, SIGHUP and SIGUSR1 (a reservation was granted) are
 * blocked in every thread (the mask is set before the first thread starts,
 * and threads inherit it) and taken by the main loop with sigtimedwait:
 * the loop sleeps until its next deadline or a signal, with no handler,
 * no flag to poll and no periodic wake-up. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    struct sigaction sa = { 0 };
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* The agent's reservation_granted hook: a signal to the process, which
 * only the main loop takes (every thread blocks it). */
static void reservation_granted(void)
{
    kill(getpid(), SIGUSR1);
}

/* The agent's holds_recorded hook: placed workloads wake the migrator. */
static void holds_recorded(struct agent *a)
{
    migrator_wake(a->migrator);
}

/* The pollers' hook: a finished poll wakes the policy loop, and the
 * recorder when it sleeps for want of samples. */
static void samples_changed(void *agent)
{
    struct agent *a = agent;
    eval_samples_changed(a->evaluator);
    recorder_samples_queued(a->recorder);
}

static struct poller_hook poller_hook(struct agent *a)
{
    return (struct poller_hook){ samples_changed, a };
}

/* Waits for one of the signals in set until the monotonic time at (NEVER:
 * no limit). Returns the signal, or -1 when the time came (or EINTR). */
static int wait_signal(const sigset_t *set, int64_t at)
{
    if (at == NEVER)
        return sigwaitinfo(set, NULL);
    int64_t ms = at - util_mono_ms();
    if (ms < 0)
        ms = 0;
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    return sigtimedwait(set, NULL, &ts);
}

/* Marks the reservations past their TTL expired; returns when
 * (monotonic) to look again: at the next TTL end, soon when the store
 * failed, NEVER when no reservation waits for one (a grant wakes the
 * loop). Logged when it starts and stops failing, not every time. */
static int64_t sweep_reservations(struct agent *a, bool *failing)
{
    char err[256];
    int64_t expires = 0;
    bool failed = cap_expire(a, util_now_ms(), err, sizeof err) < 0 ||
                  store_resv_next_expiry(a->store, &expires, err, sizeof err) != 0;
    if (failed && !*failing)
        log_err("reservations: expired ones cannot be marked: %s; retrying every %d ms", err,
                RESERVATION_SWEEP_MS);
    else if (!failed && *failing)
        log_info("reservations: expired ones are marked again");
    *failing = failed;
    if (failed)
        return util_mono_ms() + RESERVATION_SWEEP_MS;
    if (!expires)
        return NEVER;
    int64_t in = expires - util_now_ms();
    if (in > RESERVATION_RECHECK_MS)
        in = RESERVATION_RECHECK_MS;
    return util_mono_ms() + (in > 0 ? in : 0);
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
    if (old->http.threads != next->http.threads)
        log_warn("http.threads changed to %d: takes effect at the next restart; still %d",
                 next->http.threads, old->http.threads);
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
    migrator_wake(a->migrator); /* an idle migrator waits for news: the section may be new */
    a->pollers = pollers_start(next, a->metrics, poller_hook(a), err, sizeof err);
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
    a.reservation_granted = reservation_granted;
    a.holds_recorded = holds_recorded;
    /* glibc gives each thread that allocates an arena of its own; the
     * agent's dozen threads mostly sleep and allocate little, so two
     * arenas serve them without contention and keep ~0.5 MiB less
     * resident (issue 11's RSS measurement). Before the first thread.
     * Blocks over 256 KiB (a compaction's minute of samples, decoded:
     * megabytes once a minute) are mapped and given back when freed: by
     * default glibc raises that threshold after the first such free, and
     * the arena then keeps the next ones resident for good. Free memory
     * at an arena's top is given back above 512 KiB (what glibc's own
     * rule would have set, 2 x the mapping threshold), not 128 KiB: net-
     * snmp takes a 64 KiB receive buffer for every reply, and at 128 KiB
     * each SNMP poll gave pages back and faulted them in again (a fifth
     * of an SNMP poll's CPU). */
    mallopt(M_ARENA_MAX, 2);
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 512 * 1024);
    sigset_t signals;
    block_signals(&signals);

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
    a.recorder = rec;
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
    /* After the inventory and the peer watcher (it reads both), before
     * the evaluator (whose decisions wake it through holds_recorded) and the API
     * (which creates and aborts migrations). It resumes every
     * migration the store has in progress. */
    a.migrator = migrator_start(&a, err, sizeof err);
    if (!a.migrator) {
        log_err("not starting: %s", err);
        goto out;
    }
    /* After the inventory: a decision places with it. */
    a.evaluator = eval_start(&a, err, sizeof err);
    if (!a.evaluator) {
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
    a.pollers = pollers_start(cfg, a.metrics, poller_hook(&a), err, sizeof err);
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
    for (;;) {
        if (util_mono_ms() >= next_sweep)
            next_sweep = sweep_reservations(&a, &sweep_failing);
        /* Pollers that could not start after a reload (threads or memory
         * short) are retried: an agent that answers but polls nothing
         * would look healthy while every value goes stale. */
        if (!a.pollers && util_mono_ms() >= next_poller_retry) {
            a.pollers = pollers_start(cfg, a.metrics, poller_hook(&a), err, sizeof err);
            if (a.pollers)
                log_info("pollers started: %zu devices", cfg->ndevices);
            next_poller_retry = util_mono_ms() + POLLER_RETRY_MS;
        }
        if (watchdog_ms > 0 && util_mono_ms() >= next_ping) {
            /* Ping only while the recorder still cycles (every 10 s): a
             * store wedged for a minute is exactly what the watchdog
             * should restart us for. */
            if (util_mono_ms() - recorder_heartbeat_ms(rec) < RECORDER_STUCK_MS)
                notify_send("WATCHDOG=1");
            next_ping = util_mono_ms() + watchdog_ms / 2;
        }
        int64_t at = next_sweep;
        if (watchdog_ms > 0 && next_ping < at)
            at = next_ping;
        if (!a.pollers && next_poller_retry < at)
            at = next_poller_retry;
        int sig = wait_signal(&signals, at);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP) {
            notify_send("RELOADING=1");
            reload(&a, config_path, rec, &cfg);
            notify_send("READY=1");
        } else if (sig == SIGUSR1) {
            next_sweep = 0; /* a grant: its TTL may be the next to end */
        }
    }
    log_info("stopping");
    notify_send("STOPPING=1");
    rc = 0;
out:
    /* Readers first: the API, the migrator and the evaluator use the
     * inventory and the peer watcher, which go after them. */
    api_stop(a.api);
    importer_stop(a.importer);
    /* The pollers before the evaluator and the recorder: a poll that
     * ends wakes both (samples_changed), and one ending while they were
     * being freed used them after free. */
    pollers_stop(a.pollers);
    a.recorder = NULL; /* the pollers, its only wakers, have stopped */
    /* The evaluator before the migrator: a decision wakes the migrator. */
    eval_stop(a.evaluator);
    migrator_stop(a.migrator);
    peer_watch_stop(a.peers);
    inv_watch_stop(a.inventory);
    recorder_stop(rec);
    store_close(a.store);
    metrics_free(a.metrics);
    cap_cache_free(a.capacity);
    agent_config_clear(&a);
    config_unref(cfg);
    return rc;
}
