/*
 * recorder — the thread that moves samples from the metrics queue into the
 * store in batched transactions (one every 10 s) and applies retention
 * (once an hour, on a thread of its own). A failed write is kept and retried, not dropped, until
 * the queue itself overflows.
 */
#ifndef FLOE_RECORDER_H
#define FLOE_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"
#include "store/store.h"

struct recorder;

/* Borrows m and s until recorder_stop. retention_ms <= 0 disables it. */
struct recorder *recorder_start(struct metrics *m, struct store *s, int64_t retention_ms,
                                char *err, size_t errlen);
/* Changes retention (on reload). */
void recorder_set_retention(struct recorder *r, int64_t retention_ms);
/* Monotonic time of the last completed cycle (for the watchdog). */
int64_t recorder_heartbeat_ms(struct recorder *r);
/* Flushes what is queued, stops the thread, frees. NULL is a no-op. */
void recorder_stop(struct recorder *r);

#endif
