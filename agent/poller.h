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

#include "config.h"
#include "metrics.h"

struct poller_set;

/* Starts a thread per device of cfg. cfg and m are borrowed until
 * pollers_stop returns. Declares every configured metric and collector in
 * m first. Returns NULL with err filled if a thread or collector could not
 * be created (then nothing is left running). */
struct poller_set *pollers_start(const struct floe_config *cfg, struct metrics *m, char *err,
                                 size_t errlen);
/* Asks every thread to stop, waits for them (at most one device timeout),
 * frees everything. NULL is a no-op. */
void pollers_stop(struct poller_set *ps);

#endif
