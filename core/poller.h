/*
 * poller — one thread per configured device, each polling its device every
 * interval through the device's collector_ops and writing outcomes into
 * the agent's metrics. A device that hangs holds up only its own thread.
 *
 * Logging is on state change only: "device down: reason" once, then
 * "device back after N s" once.
 */
#ifndef FLOE_POLLER_H
#define FLOE_POLLER_H

#include <stddef.h>

#include "config/config.h"
#include "core/metrics.h"

struct poller_set;
struct collector_ops;

/* One device to poll, protocol-neutral (what the tests inject). */
struct poller_device {
    const char *name;
    const struct collector_ops *ops;
    const void *device_cfg;         /* passed to ops->open */
    int64_t interval_ms;
    const char *const *metrics;     /* configured metric names (not walks) */
    const char *const *units;       /* parallel to metrics, may be NULL */
    size_t nmetrics;
};

/* Called on a device's thread after each of its polls, once the samples
 * (or errors) are in the metrics: the daemon wakes the policy loop with
 * it, so a new value is evaluated at once rather than at the next tick. */
struct poller_hook {
    void (*polled)(void *ctx); /* NULL: nothing is called */
    void *ctx;
};

/* Starts a thread per device. Everything is borrowed until pollers_stop
 * returns (the strings too). Declares the metrics and collectors in m. */
struct poller_set *pollers_start_devices(const struct poller_device *devs, size_t n,
                                         struct metrics *m, char *err, size_t errlen);

/* Starts a thread per device of cfg (cfg->devices), each polled by the
 * collector of its protocol. cfg and m are borrowed until pollers_stop
 * returns. Declares every configured metric and collector in m first.
 * Returns NULL with err filled if a thread or collector could not be
 * created (then nothing is left running). hook is called after every
 * poll of every device. */
struct poller_set *pollers_start(const struct floe_config *cfg, struct metrics *m,
                                 struct poller_hook hook, char *err, size_t errlen);
/* Asks every thread to stop, waits for them (at most one device timeout),
 * frees everything. NULL is a no-op. */
void pollers_stop(struct poller_set *ps);

#endif
