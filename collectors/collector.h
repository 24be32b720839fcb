/*
 * collector — the one interface between the agent and a telemetry protocol.
 *
 * Each protocol (Modbus, SNMP) provides a `struct collector_ops`, found by
 * its name with collector_ops_for(). The agent
 * runs one poller thread per device (core/poller.c) and never knows which
 * protocol it is polling: it calls open once, poll every interval, and
 * close on shutdown or reload. A device that hangs only holds up its own
 * thread.
 *
 * poll() reports each point through the sink: good(metric, value, unit) for
 * a value read, bad(metric, reason) for a point that could not be read.
 * It returns 0 when the device answered (even if single points failed) and
 * -1 with err filled when the device as a whole failed (connection, timeout);
 * in that case the poller marks all of the device's points as errors itself.
 */
#ifndef FLOE_COLLECTOR_H
#define FLOE_COLLECTOR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct metric_sink {
    void (*good)(void *ctx, const char *metric, double value, const char *unit);
    void (*bad)(void *ctx, const char *metric, const char *reason);
    void *ctx;
};

struct collector_ops {
    const char *protocol;   /* "modbus", "snmp" */
    /* device_cfg is borrowed for the lifetime of the state (a
     * struct cfg_mb_device * or struct cfg_snmp_device *). Opening does not
     * contact the device; the first poll does. */
    int (*open)(void **state, const void *device_cfg, char *err, size_t errlen);
    /* `stop` is polled between requests so shutdown is prompt; may be NULL. */
    int (*poll)(void *state, const struct metric_sink *sink, atomic_int *stop, char *err,
                size_t errlen);
    void (*close)(void *state);
};

extern const struct collector_ops mb_collector_ops;
extern const struct collector_ops snmp_collector_ops;

/* The collector of a protocol, by the name config gives it
 * (struct cfg_device.protocol: "modbus", "snmp"); NULL when floe has none. */
const struct collector_ops *collector_ops_for(const char *protocol);

#endif
