/*
 * metrics — the latest value and quality of every metric, the health of
 * every collector, and the queue of samples waiting to be stored.
 *
 * One mutex guards it all; every call holds it briefly and readers get
 * copies (snapshots), never pointers into the table. Time is passed in:
 * nothing here reads the clock, so quality ("stale" after 3 × the device
 * interval) is computed against the `now_ms` a reader supplies.
 *
 * Collectors write through metrics_set_good/metrics_set_error; the store
 * thread drains the sample queue with metrics_drain; the API and the policy
 * engine read snapshots.
 */
#ifndef FLOE_METRICS_H
#define FLOE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h" /* struct metric_sample, METRIC_NAME_MAX */

enum metric_quality { MQ_GOOD = 0, MQ_STALE = 1, MQ_ERROR = 2 };

#define METRIC_UNIT_MAX 24
/* A device name (config allows 64 characters) with its NUL: a name cut
 * short would match neither its collector nor its metrics. */
#define METRIC_SOURCE_MAX 65
#define METRIC_REASON_MAX 160

struct metric_snapshot {
    char name[METRIC_NAME_MAX];
    char unit[METRIC_UNIT_MAX];
    char source[METRIC_SOURCE_MAX];
    double value;               /* last good value; NaN before the first */
    int64_t ts_ms;              /* time of the last good sample; 0 if none */
    int64_t updated_ms;         /* time of the last poll outcome */
    enum metric_quality quality;
    char reason[METRIC_REASON_MAX]; /* why quality is error ("" otherwise) */
};

/* Poll-duration histogram bucket bounds (seconds), shared with /metrics. */
#define METRICS_POLL_BUCKETS 10
extern const double metrics_poll_bucket_s[METRICS_POLL_BUCKETS];

struct collector_snapshot {
    char device[METRIC_SOURCE_MAX];
    char protocol[16];
    bool up;                    /* last poll succeeded */
    bool polled;                /* at least one poll finished */
    int64_t last_poll_ms;
    int64_t up_since_ms;        /* when the current up/down state began */
    char last_error[METRIC_REASON_MAX];
    uint64_t polls, failures;
    uint64_t bucket_counts[METRICS_POLL_BUCKETS]; /* cumulative per bound */
    uint64_t duration_count;
    double duration_sum_s;
};

struct metrics;

/* Creates an empty table. queue_max bounds the sample queue (oldest samples
 * are dropped, and counted, when the store falls that far behind). The
 * queue starts small and grows with the samples waiting (32 bytes each),
 * so a large bound costs nothing until the store falls behind. */
struct metrics *metrics_new(size_t queue_max);
void metrics_free(struct metrics *m);

/* Declares a metric before its first sample (from config), so it is listed
 * with quality "stale" (never sampled) and its unit/source known. A second
 * call updates unit, source and stale window. */
void metrics_declare(struct metrics *m, const char *name, const char *unit, const char *source,
                     int64_t stale_after_ms);

/* Records a good sample. Declares the metric if unknown (walk points). */
void metrics_set_good(struct metrics *m, const char *name, double value, const char *unit,
                      const char *source, int64_t stale_after_ms, int64_t now_ms);
/* Records a failed read: quality error, reason kept, value kept. */
void metrics_set_error(struct metrics *m, const char *name, const char *source,
                       int64_t stale_after_ms, const char *reason, int64_t now_ms);

/* Records a failed read of every metric whose source is `source` (a device
 * that did not answer: its configured points and every row its walks
 * reported), as metrics_set_error does for one. Returns how many. One
 * pass over the table, however many metrics the device has. */
size_t metrics_set_source_error(struct metrics *m, const char *source, int64_t stale_after_ms,
                                const char *reason, int64_t now_ms);

/* Forgets metrics whose source is `source` and that are not in keep
 * (used on config reload). keep may be NULL to drop all of the source. */
void metrics_forget_source_except(struct metrics *m, const char *source, const char *const *keep,
                                  size_t nkeep);

/* Copies every metric (sorted by name) into a new array (caller frees);
 * quality is evaluated at now_ms. Returns the count, or 0 with *out NULL. */
size_t metrics_snapshot(struct metrics *m, int64_t now_ms, struct metric_snapshot **out);
/* Copies one metric; returns false if unknown. */
bool metrics_get(struct metrics *m, const char *name, int64_t now_ms, struct metric_snapshot *out);

/* Collector health. */
void metrics_collector_declare(struct metrics *m, const char *device, const char *protocol);
void metrics_collector_report(struct metrics *m, const char *device, bool ok, double duration_s,
                              const char *error, int64_t now_ms);
/* Forgets one collector (device removed on reload). */
void metrics_collector_forget(struct metrics *m, const char *device);
size_t metrics_collectors(struct metrics *m, struct collector_snapshot **out);
/* True when every declared collector has finished a poll (good or not);
 * true with none. */
bool metrics_collectors_all_polled(struct metrics *m);

/* Moves up to max queued samples into buf (oldest first); returns the count. */
size_t metrics_drain(struct metrics *m, struct metric_sample *buf, size_t max);
/* Samples waiting in the queue. */
size_t metrics_queued(struct metrics *m);
/* Samples the queue has room for now (it grows up to queue_max). */
size_t metrics_queue_capacity(struct metrics *m);
/* Samples dropped because the queue was full (since start). */
uint64_t metrics_dropped(struct metrics *m);

/* A number that grows with every change to what the snapshots above
 * show (a metric set, declared or forgotten; a collector declared,
 * reported or forgotten; metrics_dropped grows only within a set, so it
 * is covered too). Read it before a snapshot: equal numbers then mean nothing a
 * snapshot shows has changed since, except quality by the passing of
 * time (metrics_quality_changes_at). Lock-free. */
uint64_t metrics_generation(struct metrics *m);
/* The earliest time after now_ms at which some metric's quality changes
 * without a new poll outcome (a good metric turning stale), INT64_MAX
 * when none will. */
int64_t metrics_quality_changes_at(struct metrics *m, int64_t now_ms);

const char *metrics_quality_name(enum metric_quality q);

#endif
