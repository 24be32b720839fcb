/*
 * mig_traffic — the cut-over: pointing a workload's hostname at the site
 * that now serves it (SPEC 6, "Traffic drivers"; config "traffic").
 *
 *   powerdns  PATCH {api}/api/v1/servers/{server_id}/zones/{zone} with
 *             header X-API-Key and body
 *             {"rrsets":[{"name":"<hostname>.","type":"A","ttl":<ttl>,
 *               "changetype":"REPLACE","records":[{"content":"<address>",
 *               "disabled":false}]}]}
 *             ("AAAA" for an IPv6 address). 204 is success; any other
 *             answer is an error carrying PowerDNS's {"error": ...} text.
 *             The hostname must lie inside the zone (or be its apex);
 *             names are sent in lower case, addresses in canonical form.
 *   webhook   POST {url} with {"workload","hostname","address","from",
 *             "to","ttl"}; any 2xx is success.
 *   none      nothing is switched; success (the operator moves traffic).
 *
 * Switching is idempotent (REPLACE sets the record to the same value
 * again), so a migration resumed after a crash simply switches again.
 *
 * Ownership: everything is borrowed for the call.
 */
#ifndef FLOE_MIG_TRAFFIC_H
#define FLOE_MIG_TRAFFIC_H

#include "config/config.h"

#include <stddef.h>
#include <stdint.h>

struct mig_traffic_switch {
    const char *workload;
    const char *hostname; /* "shop.apps.example.org" (a trailing dot is allowed) */
    const char *address;  /* the serving site's ingress: an IPv4 or IPv6 address */
    const char *from_site;
    const char *to_site;
};

/* The PowerDNS PATCH body for sw with ttl (malloc'd; caller frees), or
 * NULL with err (hostname not in zone, address not an IP address). Pure. */
char *mig_traffic_powerdns_body(const struct mig_traffic_switch *sw, const char *zone, int ttl,
                                char *err, size_t errlen);

/* The webhook POST body {"workload","hostname","address","from","to","ttl"}
 * (malloc'd; caller frees): hostname without its trailing dot, address as
 * given (a host name is allowed here: the receiver decides). NULL with err
 * when a field is missing or ttl is out of 1..86400. Pure. */
char *mig_traffic_webhook_body(const struct mig_traffic_switch *sw, int ttl, char *err,
                               size_t errlen);

/* Switches with the configured driver. timeout_ms <= 0: 10 s. Returns 0,
 * or -1 with err naming the driver, the URL and what was answered. */
int mig_traffic_apply(const struct cfg_traffic *t, const struct mig_traffic_switch *sw,
                      int64_t timeout_ms, char *err, size_t errlen);

#endif
