/*
 * api_prom — the /metrics page in the Prometheus text exposition format
 * 0.0.4, rendered from metric, collector and peer snapshots.
 *
 * A pure function of its inputs (no clock, no locks), so the exact text can
 * be unit-tested and checked with `promtool check metrics`. Families are
 * emitted in a fixed order, each with its HELP and TYPE lines, and label
 * values are escaped (backslash, double quote, newline) as the format asks.
 */
#ifndef FLOE_API_PROM_H
#define FLOE_API_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"
#include "core/peer_watch.h"

#define API_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Renders the page. Returns a new NUL-terminated string (caller frees) and
 * its length in *len, or NULL when out of memory. samples_dropped is
 * metrics_dropped() (samples lost because the store fell behind). */
char *api_prom_render(const struct metric_snapshot *metrics, size_t nmetrics,
                      const struct collector_snapshot *collectors, size_t ncollectors,
                      uint64_t samples_dropped, size_t *len);

/* The peer families: floe_peer_up{peer} (1 when the peer's latest
 * capacity answer was usable, 0 when it was not or none came yet) and
 * floe_peer_spare_kw{peer} (its spare kW, only for peers that are up).
 * Returns a new string (caller frees), NULL when out of memory. */
char *api_prom_peers(const struct peer_status *peers, size_t n);

#endif
