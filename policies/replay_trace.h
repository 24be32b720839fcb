/*
 * replay_trace — recorded telemetry in memory, and the struct pol_env that
 * lets the policy language read it as if it were the live agent.
 *
 * A trace holds one series per metric: its good samples (time, value) in
 * time order, the times of its read errors, and the staleness limit that
 * replaces the device interval of the live agent. The env built over it
 * answers at env->now_ms:
 *   value      the latest sample at or before now: unknown when there is
 *              none, when it is a read error (until the next good sample),
 *              or when the latest good one is stale_ms old or older
 *              (SPEC 2.3: good until 3 x the device interval passes without
 *              a newer sample);
 *   glob       every metric of the trace whose name matches, with value's
 *              answer;
 *   history    the good samples with since <= ts <= until, from indexes
 *              built as samples are appended (below);
 *   last_good  the time of the latest good sample at or before now.
 *
 * Indexes, so a year of 10-second ticks stays fast (one history query is
 * O(log n) plus at most a few hundred steps, never a scan of the window):
 * good samples are grouped in blocks of 64 and superblocks of 64 blocks;
 * per block the prefix sum of all earlier blocks (sum, count by index
 * difference) and per block and superblock the min and max. A window of
 * up to 128 samples is simply scanned (its sum is exactly a scan's); a
 * longer one sums its partial blocks at both ends sample by sample plus
 * one difference of prefix sums (equal to a scan's sum up to rounding in
 * the last bits), and takes min/max from its partial blocks, whole blocks
 * and whole superblocks. Everything is
 * maintained on append, so series may grow while a replay runs (derived
 * metrics do). Memory: 16 bytes per sample plus under 1 byte of index.
 *
 * Two ways in: replay_trace_add stages samples in any order (CSV rows,
 * with their line numbers for messages) until replay_trace_finish sorts
 * and appends them; replay_trace_append adds samples that already come in
 * time order (a database query, generated data, derived values).
 *
 * Not thread safe: value lookups move per-series cursors (ticks in time
 * order find the latest sample in O(1)).
 */
#ifndef FLOE_REPLAY_TRACE_H
#define FLOE_REPLAY_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policies/pol_lang.h"

struct replay_trace;

/* Returns a new, empty trace (free with replay_trace_free); aborts when
 * out of memory, like util_strdup. */
struct replay_trace *replay_trace_new(void);
void replay_trace_free(struct replay_trace *t);

/* The series called metric, created empty when new. Returns its index
 * (stable for the life of the trace). metric must be a valid name. */
size_t replay_trace_series(struct replay_trace *t, const char *metric);
/* Index of metric, or -1. */
long replay_trace_find(const struct replay_trace *t, const char *metric);
size_t replay_trace_count(const struct replay_trace *t);
const char *replay_trace_name(const struct replay_trace *t, size_t series);

/* Appends a sample at ts_ms (value NAN = read error). Returns 0, or -1
 * when ts_ms is not after the series' latest sample. */
int replay_trace_append(struct replay_trace *t, size_t series, int64_t ts_ms, double value);
/* Makes room for n more good samples in one allocation (for generated
 * data of known size). */
void replay_trace_reserve(struct replay_trace *t, size_t series, size_t n);
/* Drops every sample of a series (it stays known, with no data). */
void replay_trace_reset(struct replay_trace *t, size_t series);

/* Stages a sample in any order; `line` (0 = none) is used in messages. */
void replay_trace_add(struct replay_trace *t, size_t series, int64_t ts_ms, double value,
                      uint32_t line);
/* Sorts the staged samples and appends them. Two samples of one metric at
 * the same time are an error: "NAME:LINE: metric 'x' has a second sample
 * at 2026-...Z (first at line 7)" (NAME = name). Returns 0 or -1. */
int replay_trace_finish(struct replay_trace *t, const char *name, char *err, size_t errlen);

/* Staleness limit of a series (default 0: a good sample never goes
 * stale). */
void replay_trace_set_stale(struct replay_trace *t, size_t series, int64_t stale_ms);
/* Median time between consecutive samples (good or error) of a series,
 * from at most 4096 evenly spread gaps; 0 with fewer than two samples. */
int64_t replay_trace_median_spacing(const struct replay_trace *t, size_t series);

/* Earliest and latest sample time over all series; returns 0, or -1 when
 * the trace has no samples. */
int replay_trace_bounds(const struct replay_trace *t, int64_t *first_ms, int64_t *last_ms);
/* Samples (good and error) held. */
uint64_t replay_trace_samples(const struct replay_trace *t);

/* Fills env (ctx, value, glob, history, last_good; now_ms 0, local and
 * input NULL) to read t. value, glob and last_good answer for the time
 * last given to replay_trace_set_now (the callbacks are not passed the
 * env, and pol_run hands expressions an env of its own), history for the
 * window it is asked. */
void replay_trace_env(struct replay_trace *t, struct pol_env *env);
void replay_trace_set_now(struct replay_trace *t, int64_t now_ms);

#endif
