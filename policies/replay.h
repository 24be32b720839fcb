/*
 * replay — `floe replay`: runs the policies of a config offline over
 * recorded telemetry and reports the decisions the agent would have made.
 *
 * Telemetry comes from a CSV file or from the agent's own SQLite database
 * and is held in a struct replay_trace (replay_trace.h). The run then
 * ticks pol_run — the same derive/tick/decide routine the live agent runs
 * — every tick (the config's policy_tick, as the agent, unless opts say
 * otherwise) from the first to the last sample (or --from/--to), with
 * the clock, the site time zone and the data all taken from the trace and
 * the config, so a replay is deterministic.
 *
 * CSV: a header line `ts,metric,value`, then one sample per line. ts is
 * RFC 3339 (with Z or an offset) or Unix seconds (fractions allowed);
 * metric a metric name; value a number, or empty for "no sample / read
 * error" at that time (the metric is then unknown until its next good
 * sample). Fields may be surrounded by blanks or double quotes; CRLF line
 * ends, a UTF-8 byte order mark and blank lines are accepted. Rows need
 * NOT be in time order, neither overall nor per metric: the trace is
 * sorted per metric after reading. Two samples of one metric at the same
 * time are an error, since either could be meant. Every error is
 * "FILE:LINE: message".
 *
 * Database: the store's tables metric(id, name) and sample(metric_id,
 * ts_ms, value), value NULL for a read error; from_ms..to_ms bound the
 * samples read (history windows at the first ticks see only samples from
 * from_ms on).
 *
 * Metric quality during a replay: a good sample stays good until 3 x the
 * interval of the config's device that produces the metric passes without
 * a newer sample, then the metric is stale. For metrics no device in the
 * config produces, the limit is opts.stale_ms when given, else 3 x the
 * metric's own median sample spacing (30 s when it has fewer than two
 * samples), so a trace recorded every minute does not go stale between
 * its samples. Derived metrics (config "derive") are always recomputed at
 * each tick from the config; samples of them in the input are ignored.
 */
#ifndef FLOE_REPLAY_H
#define FLOE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "policies/replay_trace.h"

/* The agent's policy tick when the config sets no policy_tick. */
#define REPLAY_DEFAULT_TICK_MS 10000
/* Staleness of a metric with fewer than two samples and no device. */
#define REPLAY_DEFAULT_STALE_MS 30000
/* A run longer than this is a mistake (a stray timestamp decades away),
 * not a replay: 100 million ticks is 31 years of 10-second ticks. */
#define REPLAY_MAX_TICKS 100000000LL

struct replay_opts {
    int64_t tick_ms; /* 0 = the config's policy_tick, as the agent ticks */
    bool has_from, has_to;
    int64_t from_ms, to_ms; /* first and last tick; default: first and last sample */
    int64_t stale_ms;       /* metrics without a device; 0 = the median rule above */
};

struct replay_output {
    FILE *decisions; /* one JSON object per line; NULL = count only */
    FILE *events;    /* policy state changes, one line each; NULL = none */
};

struct replay_stats {
    uint64_t ticks, decisions;
    uint64_t samples; /* read from the input (derived ones not counted) */
    size_t metrics;
    int64_t first_ms, last_ms; /* first and last tick */
    int64_t tick_ms;           /* the tick used */
};

/* Reads CSV text (name is the file name used in messages) into t and
 * finishes it. Returns 0, or -1 with "NAME:LINE: message" in err. */
int replay_read_csv(struct replay_trace *t, const char *name, const char *text, size_t len,
                    char *err, size_t errlen);

/* Reads the samples with from_ms <= ts <= to_ms from the agent database
 * at path (opened read-only, never migrated: any schema version is read)
 * across its history tiers: raw samples where the store still keeps them,
 * one sample per minute or hour rollup (the mean, at the bucket start)
 * further back. Returns 0, or -1 with err filled. */
int replay_read_db(struct replay_trace *t, const char *path, int64_t from_ms, int64_t to_ms,
                   char *err, size_t errlen);

/* Runs cfg's derives and policies over t (which gains the derived
 * series). Decisions are numbered from 1. Returns 0 and fills *stats (may
 * be NULL), or -1 with err filled (bad policy or derive, unknown time
 * zone, nothing to replay, a write error on an output). */
int replay_run(const struct floe_config *cfg, struct replay_trace *t,
               const struct replay_opts *opts, const struct replay_output *out,
               struct replay_stats *stats, char *err, size_t errlen);

#endif
