/*
 * cfg_sections — what the section files of config/ give the top level
 * (internal to config/): the tables config.c nests in its root table, and
 * the device sections.
 *
 * Device sections are listed once, in CFG_DEVICE_SECTIONS: config.c makes
 * them keys of the root table and cfg_devices.c builds the
 * protocol-neutral device list from them. A new protocol (BACnet, say)
 * adds its struct and array to config.h, a table file like cfg_modbus.c,
 * and one line here; its collector goes in collectors/.
 */
#ifndef FLOE_CFG_SECTIONS_H
#define FLOE_CFG_SECTIONS_H

#include <stdlib.h>

#include "config/cfg_walk.h"
#include "config/config.h"

/* X(key, array field, count field, element type, table, describe, name for people).
 * The key is also the protocol's name (struct cfg_device.protocol). */
#define CFG_DEVICE_SECTIONS(X)                                                                  \
    X("modbus", modbus, nmodbus, struct cfg_mb_device, cfg_mb_device_table, cfg_mb_describe,    \
      "Modbus")                                                                                 \
    X("snmp", snmp, nsnmp, struct cfg_snmp_device, cfg_snmp_device_table, cfg_snmp_describe,    \
      "SNMP")

/* Fills out (name, interval, timeout, config, metrics) for one parsed
 * device of the section; out->metrics is a new array, freed by
 * cfg_devices_free. */
typedef void cfg_describe_fn(const void *device, struct cfg_device *out);
/* What every describe function starts with: the common fields set and
 * out->metrics allocated for npoints (out->nmetrics = npoints; the caller
 * fills each). Aborts when out of memory, like the loader (lib/vec.h).
 * Inline: cfg_devices.c calls the describe functions, which call this. */
static inline void cfg_device_begin(struct cfg_device *out, const char *name,
                                    int64_t interval_ms, int64_t timeout_ms, const void *config,
                                    size_t npoints)
{
    out->name = name;
    out->interval_ms = interval_ms;
    out->timeout_ms = timeout_ms;
    out->config = config;
    out->metrics = calloc(npoints ? npoints : 1, sizeof *out->metrics);
    if (!out->metrics)
        abort();
    out->nmetrics = npoints;
}

extern const struct cfg_table cfg_mb_device_table;   /* cfg_modbus.c */
cfg_describe_fn cfg_mb_describe;
extern const struct cfg_table cfg_snmp_device_table; /* cfg_snmp.c */
cfg_describe_fn cfg_snmp_describe;

/* cfg_devices.c: builds cfg->devices from the device sections (also for
 * a config with errors, so rules across devices can run), and frees it. */
void cfg_devices_build(struct floe_config *cfg);
void cfg_devices_free(struct floe_config *cfg);

/* cfg_policies.c; all but cfg_policy_table fill struct floe_config. */
extern const struct cfg_table cfg_derive_table;
extern const struct cfg_table cfg_capacity_table;
extern const struct cfg_table cfg_policy_table; /* fills struct cfg_policy */

/* cfg_workloads.c: the "workloads" section (fills struct floe_config),
 * and what it owns beyond its table's fields. */
extern const struct cfg_table cfg_workloads_table;
void cfg_workloads_free(struct floe_config *cfg);

/* Appends one policy per *.json file of cfg->policies_dir, in name order.
 * *files gets, per policy, the file it came from (NULL for inline ones);
 * caller frees each and the array. */
void cfg_policies_load_dir(struct cfg_ctx *ctx, struct floe_config *cfg, char ***files);

#endif
