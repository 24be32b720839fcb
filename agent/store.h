/*
 * store — the agent's SQLite database: telemetry history now; decisions,
 * policies, migrations and the audit log as later steps add them.
 *
 * WAL mode, synchronous=NORMAL: a crash (kill -9, power loss of the agent
 * process) loses at most the batch being written, never the file.
 * The schema version lives in PRAGMA user_version; store_open applies the
 * forward migrations in order inside one transaction each, and refuses a
 * database newer than this binary knows.
 *
 * All functions are safe to call from several threads: writes go through
 * one connection under a mutex, reads through a second connection (WAL
 * readers do not block the writer).
 */
#ifndef FLOE_STORE_H
#define FLOE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

struct store;

/* Opens (creating if needed) the database at path, creating missing parent
 * directories is NOT done (systemd's StateDirectory does it). Returns 0 and
 * *out, or -1 with err filled. */
int store_open(struct store **out, const char *path, char *err, size_t errlen);
void store_close(struct store *s);

/* Schema version this binary writes. */
int store_schema_version(void);

/* Writes samples in one transaction. Failed reads (ok == false) are
 * stored as NULL values so history shows the gap. */
int store_write_samples(struct store *s, const struct metric_sample *samples, size_t n, char *err,
                        size_t errlen);

/* Deletes samples older than cutoff_ms; *deleted (may be NULL) gets the count. */
int store_apply_retention(struct store *s, int64_t cutoff_ms, int64_t *deleted, char *err,
                          size_t errlen);

struct store_point {
    int64_t ts_ms;
    double value;
};

/* History of one metric in [since_ms, until_ms]. step_ms == 0: every good
 * sample; step_ms > 0: one point per step bucket that has good samples,
 * the mean of the bucket, stamped with the bucket start (aligned to
 * multiples of step_ms since the epoch). At most max_points points (the
 * earliest ones). *out is a new array (caller frees), *n its length. */
int store_query(struct store *s, const char *metric, int64_t since_ms, int64_t until_ms,
                int64_t step_ms, size_t max_points, struct store_point **out, size_t *n, char *err,
                size_t errlen);

/* Total number of stored samples (for tests and /v1/status). */
int64_t store_sample_count(struct store *s);

#endif
