/*
 * api_prom — see api_prom.h. Appends to one growing buffer; an allocation
 * failure anywhere marks the buffer failed and the render returns NULL, so
 * the writers below need no error checks of their own.
 */
#include "api/api_prom.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"

/* Label values may hold anything a config author typed (units like
 * `"kW"`, device names); the format reserves backslash, quote and
 * newline. */
static void put_label_value(struct strbuf *b, const char *v)
{
    strbuf_puts(b, "\"");
    for (const char *p = v; *p; p++) {
        switch (*p) {
        case '\\':
            strbuf_puts(b, "\\\\");
            break;
        case '"':
            strbuf_puts(b, "\\\"");
            break;
        case '\n':
            strbuf_puts(b, "\\n");
            break;
        default:
            strbuf_append(b, p, 1);
        }
    }
    strbuf_puts(b, "\"");
}

/* Shortest text that reads back as the same double, in the spellings the
 * format uses for the special values. */
static void put_value(struct strbuf *b, double v)
{
    if (isnan(v)) {
        strbuf_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        strbuf_puts(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char s[40];
    snprintf(s, sizeof s, "%.15g", v);
    if (strtod(s, NULL) != v)
        snprintf(s, sizeof s, "%.17g", v);
    strbuf_puts(b, s);
}

static void put_family(struct strbuf *b, const char *name, const char *type, const char *help)
{
    strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_metric_families(struct strbuf *b, const struct metric_snapshot *ms, size_t n)
{
    put_family(b, "floe_metric_value", "gauge",
               "Last good value of a facility metric (absent until its first good sample).");
    for (size_t i = 0; i < n; i++) {
        if (isnan(ms[i].value))
            continue;
        strbuf_puts(b, "floe_metric_value{metric=");
        put_label_value(b, ms[i].name);
        strbuf_puts(b, ",unit=");
        put_label_value(b, ms[i].unit);
        strbuf_puts(b, ",source=");
        put_label_value(b, ms[i].source);
        strbuf_puts(b, "} ");
        put_value(b, ms[i].value);
        strbuf_puts(b, "\n");
    }

    put_family(b, "floe_metric_quality", "gauge",
               "1 when the metric's quality is good, 0 when stale or error.");
    for (size_t i = 0; i < n; i++) {
        strbuf_puts(b, "floe_metric_quality{metric=");
        put_label_value(b, ms[i].name);
        strbuf_printf(b, "} %d\n", ms[i].quality == MQ_GOOD ? 1 : 0);
    }
}

/* One counter or gauge sample per collector, labelled by device only. */
static void put_collector_counter(struct strbuf *b, const struct collector_snapshot *cs, size_t n,
                                  const char *name, const char *help, bool failures)
{
    put_family(b, name, "counter", help);
    for (size_t i = 0; i < n; i++) {
        strbuf_printf(b, "%s{device=", name);
        put_label_value(b, cs[i].device);
        strbuf_printf(b, "} %" PRIu64 "\n", failures ? cs[i].failures : cs[i].polls);
    }
}

static void put_histogram(struct strbuf *b, const struct collector_snapshot *c)
{
    for (size_t k = 0; k < METRICS_POLL_BUCKETS; k++) {
        strbuf_puts(b, "floe_poll_duration_seconds_bucket{device=");
        put_label_value(b, c->device);
        strbuf_puts(b, ",le=\"");
        put_value(b, metrics_poll_bucket_s[k]);
        strbuf_printf(b, "\"} %" PRIu64 "\n", c->bucket_counts[k]);
    }
    strbuf_puts(b, "floe_poll_duration_seconds_bucket{device=");
    put_label_value(b, c->device);
    strbuf_printf(b, ",le=\"+Inf\"} %" PRIu64 "\n", c->duration_count);
    strbuf_puts(b, "floe_poll_duration_seconds_sum{device=");
    put_label_value(b, c->device);
    strbuf_puts(b, "} ");
    put_value(b, c->duration_sum_s);
    strbuf_puts(b, "\n");
    strbuf_puts(b, "floe_poll_duration_seconds_count{device=");
    put_label_value(b, c->device);
    strbuf_printf(b, "} %" PRIu64 "\n", c->duration_count);
}

static void put_collector_families(struct strbuf *b, const struct collector_snapshot *cs,
                                   size_t n)
{
    put_family(b, "floe_collector_up", "gauge",
               "1 when the device's last poll succeeded, 0 when it failed or none finished yet.");
    for (size_t i = 0; i < n; i++) {
        strbuf_puts(b, "floe_collector_up{device=");
        put_label_value(b, cs[i].device);
        strbuf_puts(b, ",protocol=");
        put_label_value(b, cs[i].protocol);
        strbuf_printf(b, "} %d\n", cs[i].polled && cs[i].up ? 1 : 0);
    }
    put_collector_counter(b, cs, n, "floe_collector_polls_total",
                          "Polls of the device finished since the agent started.", false);
    put_collector_counter(b, cs, n, "floe_collector_poll_failures_total",
                          "Polls of the device that failed since the agent started.", true);
    put_family(b, "floe_poll_duration_seconds", "histogram", "Duration of one poll of a device.");
    for (size_t i = 0; i < n; i++)
        put_histogram(b, &cs[i]);
}

char *api_prom_render(const struct metric_snapshot *metrics, size_t nmetrics,
                      const struct collector_snapshot *collectors, size_t ncollectors,
                      uint64_t samples_dropped, size_t *len)
{
    struct strbuf b = {0};
    put_metric_families(&b, metrics, nmetrics);
    put_collector_families(&b, collectors, ncollectors);
    put_family(&b, "floe_samples_dropped_total", "counter",
               "Samples lost because the store fell behind the collectors.");
    strbuf_printf(&b, "floe_samples_dropped_total %" PRIu64 "\n", samples_dropped);
    size_t n = b.len;
    char *text = strbuf_take(&b);
    if (text)
        *len = n;
    return text;
}

char *api_prom_peers(const struct peer_status *peers, size_t n)
{
    struct strbuf b = {0};
    put_family(&b, "floe_peer_up", "gauge",
               "1 when the peer's latest capacity answer was usable, 0 when it was not "
               "(unreachable, refused, garbage) or none came yet.");
    for (size_t i = 0; i < n; i++) {
        strbuf_puts(&b, "floe_peer_up{peer=");
        put_label_value(&b, peers[i].name);
        strbuf_printf(&b, "} %d\n", peers[i].polled && peers[i].last.state == PEER_OK);
    }
    put_family(&b, "floe_peer_spare_kw", "gauge",
               "Spare kW the peer reported in its latest capacity answer (only while it is up).");
    for (size_t i = 0; i < n; i++) {
        if (!peers[i].polled || peers[i].last.state != PEER_OK)
            continue;
        strbuf_puts(&b, "floe_peer_spare_kw{peer=");
        put_label_value(&b, peers[i].name);
        strbuf_puts(&b, "} ");
        put_value(&b, peers[i].last.cap.spare_kw);
        strbuf_puts(&b, "\n");
    }
    return strbuf_take(&b);
}
