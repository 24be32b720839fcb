/*
 * poller — see poller.h.
 *
 * Each thread runs a fixed-rate schedule: polls start at t0, t0+interval,
 * t0+2·interval…; when a poll overruns, missed slots are skipped rather
 * than run back to back, so a slow device never polls in bursts.
 */
#include "core/poller.h"

#include <stdatomic.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/collector.h"
#include "lib/log.h"
#include "lib/util.h"

struct device_poller {
    pthread_t thread;
    bool started;
    atomic_int stop;
    const char *name;
    const struct collector_ops *ops;
    const void *device_cfg;
    int64_t interval_ms;
    int64_t stale_after_ms;
    struct metrics *metrics;
    struct poller_hook hook;
    const char *const *configured; /* borrowed metric names of non-walk points */
    size_t nconfigured;
};

struct poller_set {
    struct device_poller *devices;
    size_t n;
    struct poller_device *owned_devs;   /* set by pollers_start, else NULL */
    const char **owned_strings;
};

struct poll_sink_ctx {
    struct device_poller *dp;
    int64_t now_ms;
};

static void sink_good(void *ctx, const char *metric, double value, const char *unit)
{
    struct poll_sink_ctx *c = ctx;
    metrics_set_good(c->dp->metrics, metric, value, unit, c->dp->name, c->dp->stale_after_ms,
                     c->now_ms);
}

static void sink_bad(void *ctx, const char *metric, const char *reason)
{
    struct poll_sink_ctx *c = ctx;
    metrics_set_error(c->dp->metrics, metric, c->dp->name, c->dp->stale_after_ms, reason,
                      c->now_ms);
}

/* Every metric the device has given (its configured points were declared
 * with it as source, walk rows take it at their first sample) becomes an
 * error, in one pass over the table: no list of names is kept per device,
 * which at a walk's 10,000 rows would cost a search per value. */
static void mark_all_failed(struct device_poller *dp, const char *reason, int64_t now_ms)
{
    metrics_set_source_error(dp->metrics, dp->name, dp->stale_after_ms, reason, now_ms);
}

/* The cause of a failure without the retry schedule a collector appends
 * ("...; will retry in 4s") or prefixes ("reconnect in 3s (...)"), so that
 * a changing countdown is not mistaken for a new cause. */
static void failure_cause(const char *err, char *out, size_t n)
{
    const char *open = NULL;
    if (strncmp(err, "reconnect in ", 13) == 0 && (open = strchr(err, '(')) != NULL)
        err = open + 1;
    util_strlcpy(out, err, n);
    char *cut = strstr(out, "; will retry in");
    if (cut)
        *cut = '\0';
    size_t len = strlen(out);
    if (open && len && out[len - 1] == ')')
        out[len - 1] = '\0';
}

static void *poller_main(void *arg)
{
    struct device_poller *dp = arg;
    char err[256];
    void *state = NULL;
    if (dp->ops->open(&state, dp->device_cfg, err, sizeof err) != 0) {
        /* Config validation should make this unreachable; report it the
         * same way as a device that is down so it is visible. */
        log_err("%s: cannot set up %s collector: %s", dp->name, dp->ops->protocol, err);
        mark_all_failed(dp, err, util_now_ms());
        metrics_collector_report(dp->metrics, dp->name, false, 0, err, util_now_ms());
        return NULL;
    }
    bool was_up = true, first = true;
    int64_t down_since_mono = 0;
    char last_cause[256] = "";
    int64_t next = util_mono_ms();
    while (!dp->stop) {
        int64_t t0 = util_mono_ms();
        struct poll_sink_ctx sc = { .dp = dp, .now_ms = util_now_ms() };
        struct metric_sink sink = { .good = sink_good, .bad = sink_bad, .ctx = &sc };
        err[0] = '\0';
        int rc = dp->ops->poll(state, &sink, &dp->stop, err, sizeof err);
        int64_t t1 = util_mono_ms();
        double duration_s = (double)(t1 - t0) / 1000.0;
        if (dp->stop)
            break;
        bool up = rc == 0;
        if (!up)
            mark_all_failed(dp, err[0] ? err : "poll failed", util_now_ms());
        metrics_collector_report(dp->metrics, dp->name, up, duration_s, err, util_now_ms());
        if (dp->hook.polled)
            dp->hook.polled(dp->hook.ctx);
        if (up && (!was_up || first)) {
            if (!first)
                log_info("%s: %s device back after %lld s", dp->name, dp->ops->protocol,
                         (long long)((t1 - down_since_mono) / 1000));
            else
                log_info("%s: %s device answering (first poll %.0f ms)", dp->name,
                         dp->ops->protocol, duration_s * 1000);
        } else if (!up) {
            char cause[256];
            failure_cause(err[0] ? err : "poll failed", cause, sizeof cause);
            if (was_up || first) {
                down_since_mono = t0;
                log_warn("%s: %s device down: %s", dp->name, dp->ops->protocol, err);
            } else if (strcmp(last_cause, cause) != 0) {
                /* Still down but for a different reason: worth one line. */
                log_warn("%s: %s device still down, now: %s", dp->name, dp->ops->protocol, err);
            }
            util_strlcpy(last_cause, cause, sizeof last_cause);
        }
        was_up = up;
        first = false;
        next += dp->interval_ms;
        int64_t now = util_mono_ms();
        if (next <= now)
            next += ((now - next) / dp->interval_ms + 1) * dp->interval_ms;
        util_sleep_ms(next - now, &dp->stop);
    }
    dp->ops->close(state);
    return NULL;
}

static struct poller_set *start_devices(const struct poller_device *devs, size_t n,
                                        struct metrics *m, struct poller_hook hook, char *err,
                                        size_t errlen)
{
    struct poller_set *ps = calloc(1, sizeof *ps);
    if (!ps || (n && !(ps->devices = calloc(n, sizeof *ps->devices)))) {
        free(ps);
        errf(err, errlen, "out of memory");
        return NULL;
    }
    ps->n = n;
    for (size_t i = 0; i < n; i++) {
        struct device_poller *dp = &ps->devices[i];
        dp->name = devs[i].name;
        dp->ops = devs[i].ops;
        dp->device_cfg = devs[i].device_cfg;
        dp->interval_ms = devs[i].interval_ms > 0 ? devs[i].interval_ms : 1000;
        dp->stale_after_ms = 3 * dp->interval_ms;
        dp->metrics = m;
        dp->hook = hook;
        dp->configured = devs[i].metrics;
        dp->nconfigured = devs[i].nmetrics;
        metrics_collector_declare(m, dp->name, dp->ops->protocol);
        for (size_t p = 0; p < dp->nconfigured; p++)
            metrics_declare(m, dp->configured[p], devs[i].units ? devs[i].units[p] : "", dp->name,
                            dp->stale_after_ms);
    }
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&ps->devices[i].thread, NULL, poller_main, &ps->devices[i]) != 0) {
            errf(err, errlen, "%s: cannot start poller thread", ps->devices[i].name);
            pollers_stop(ps);
            return NULL;
        }
        ps->devices[i].started = true;
    }
    return ps;
}

struct poller_set *pollers_start_devices(const struct poller_device *devs, size_t n,
                                         struct metrics *m, char *err, size_t errlen)
{
    return start_devices(devs, n, m, (struct poller_hook){ 0 }, err, errlen);
}

/* Builds the poller's device list from the config's protocol-neutral one;
 * the list and its name arrays (metrics then units, per device) are freed
 * with the set. */
struct poller_set *pollers_start(const struct floe_config *cfg, struct metrics *m,
                                 struct poller_hook hook, char *err, size_t errlen)
{
    size_t ndev = cfg->ndevices, nstr = 0;
    for (size_t i = 0; i < ndev; i++)
        nstr += 2 * cfg->devices[i].nmetrics;
    struct poller_device *devs = calloc(ndev ? ndev : 1, sizeof *devs);
    const char **strings = calloc(nstr ? nstr : 1, sizeof *strings);
    if (!devs || !strings) {
        free(devs);
        free(strings);
        errf(err, errlen, "out of memory");
        return NULL;
    }
    const char **next = strings;
    for (size_t i = 0; i < ndev; i++) {
        const struct cfg_device *cd = &cfg->devices[i];
        const struct collector_ops *ops = collector_ops_for(cd->protocol);
        if (!ops) {
            free(devs);
            free(strings);
            errf(err, errlen, "%s: no collector for protocol %s", cd->name, cd->protocol);
            return NULL;
        }
        devs[i] = (struct poller_device){ .name = cd->name, .ops = ops, .device_cfg = cd->config,
                                          .interval_ms = cd->interval_ms, .metrics = next,
                                          .units = next + cd->nmetrics };
        for (size_t p = 0; p < cd->nmetrics; p++) {
            if (cd->metrics[p].is_template)
                continue;   /* names come from the device when it is polled */
            next[devs[i].nmetrics] = cd->metrics[p].name;
            next[cd->nmetrics + devs[i].nmetrics++] = cd->metrics[p].unit;
        }
        next += 2 * cd->nmetrics;
    }
    struct poller_set *ps = start_devices(devs, ndev, m, hook, err, errlen);
    if (!ps) {
        free(devs);
        free(strings);
        return NULL;
    }
    ps->owned_devs = devs;
    ps->owned_strings = strings;
    return ps;
}

void pollers_stop(struct poller_set *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n; i++)
        util_stop_set(&ps->devices[i].stop);
    for (size_t i = 0; i < ps->n; i++) {
        struct device_poller *dp = &ps->devices[i];
        if (dp->started)
            pthread_join(dp->thread, NULL);
    }
    free(ps->devices);
    free(ps->owned_devs);
    free(ps->owned_strings);
    free(ps);
}
