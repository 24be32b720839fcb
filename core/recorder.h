/*
 * recorder — the thread that moves samples from the metrics queue into the
 * store in batched transactions (and has the store compact closed minutes
 * after each), and applies retention (once an hour, on a thread of its
 * own) to each history tier and to reservations that ended.
 *
 * When samples are committed: the first ones at once (the thread sleeps
 * until a finished poll wakes it, recorder_samples_queued), and whatever follows
 * them within RECORDER_FIRST_WINDOW_MS, at the same pace (a poll's
 * samples arrive one by one, and other devices answer a little later), so
 * an agent in a crash loop — systemd restarts it 5 s after each crash —
 * still keeps the first polls of every run; after that one transaction
 * every RECORDER_FLUSH_EVERY_MS while samples keep coming: at the end of
 * the first poll that finishes once it is due (that poll wakes the
 * thread), or RECORDER_BELL_GRACE_MS after it was due when no poll ends
 * meanwhile; sooner when a whole batch (RECORDER_BATCH) is queued. An interval
 * that brought none puts the thread back to sleep until a poll wakes it
 * (at most RECORDER_IDLE_MS, so the watchdog still sees it cycle): an
 * idle agent has no commit rhythm to keep. A failed write keeps its samples and retries
 * them, oldest first, at the next commit; none are dropped until the
 * metrics queue itself overflows. Stopping writes what is queued.
 *
 * The batching runs apart from the thread and the clock (struct
 * recorder_batcher), so its schedule can be driven with any `now` and
 * any sink.
 */
#ifndef FLOE_RECORDER_H
#define FLOE_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"
#include "store/store.h"

#define RECORDER_FLUSH_EVERY_MS 5000
#define RECORDER_FIRST_CHECK_MS 100
#define RECORDER_FIRST_WINDOW_MS 1000
/* How long a due commit waits for a poll to end before its timer fires. */
#define RECORDER_BELL_GRACE_MS 2000
/* Longest sleep with nothing queued; under the daemon's 60 s watchdog
 * bound on the recorder's heartbeat. */
#define RECORDER_IDLE_MS 30000
/* Samples per transaction; a longer queue is written in several, and a
 * full batch is committed without waiting for its time. The batch's array
 * (224 bytes a sample: names are written out) is resident once filled:
 * 1,024 keep it at 224 KiB, and 1,000 points at 1 s commit about every
 * second (issue 11's RSS goal; at that rate a commit's cost is spread
 * over a thousand samples). */
#define RECORDER_BATCH 1024

/* ---- the thread ---- */

struct recorder;

/* How long each tier of history is kept (store.raw_retention,
 * store.minute_retention, store.retention); all_ms <= 0 disables
 * retention, raw_ms or minute_ms <= 0 keeps that tier as long as all_ms. */
struct recorder_retention {
    int64_t raw_ms, minute_ms, all_ms;
};

/* Borrows m and s until recorder_stop. */
struct recorder *recorder_start(struct metrics *m, struct store *s,
                                const struct recorder_retention *ret, char *err, size_t errlen);
/* Changes retention (on reload). */
void recorder_set_retention(struct recorder *r, const struct recorder_retention *ret);
/* Samples were queued (a poll finished): wakes the thread if it sleeps
 * for want of samples or a commit is due, else does nothing. Safe from
 * any thread; NULL is a no-op. */
void recorder_samples_queued(struct recorder *r);
/* Monotonic time of the last completed cycle (for the watchdog). */
int64_t recorder_heartbeat_ms(struct recorder *r);
/* Flushes what is queued, stops the thread, frees. NULL is a no-op. */
void recorder_stop(struct recorder *r);
/* One retention pass at now_ms, as the thread runs it every hour:
 * compacts, deletes each tier's history older than its retention and the
 * reservations that ended before all_ms (active ones stay), and logs what
 * it removed or why it failed. all_ms <= 0 does nothing. */
void recorder_apply_retention(struct store *s, const struct recorder_retention *ret,
                              int64_t now_ms);

/* ---- the batching it runs ---- */

/* Where batches go: the thread writes them with store_write_samples.
 * write() stores n samples in one transaction and returns 0, or -1 with
 * err filled (nothing stored). */
struct recorder_sink {
    int (*write)(void *ctx, const struct metric_sample *samples, size_t n, char *err,
                 size_t errlen);
    void *ctx;
};

struct recorder_batcher;

/* Borrows m, and sink.ctx, until recorder_batcher_free. NULL when out of
 * memory. */
struct recorder_batcher *recorder_batcher_new(struct metrics *m, struct recorder_sink sink);
/* One pass at monotonic time now_ms: when a commit is due, or a whole
 * batch is queued, writes all that is queued (in transactions of at most
 * RECORDER_BATCH samples). Returns how many ms from now_ms the next
 * commit is due. */
int64_t recorder_batcher_cycle(struct recorder_batcher *b, int64_t now_ms);
/* True when the last cycle found nothing queued and waits for samples
 * (its return was RECORDER_IDLE_MS). */
bool recorder_batcher_idle(const struct recorder_batcher *b);
/* When the last cycle left a commit due at a known time in the regular
 * rhythm: that monotonic time (a poll that ends from then on may run the
 * next cycle); INT64_MAX otherwise (first samples, a failing store, idle:
 * the cycle's own wait holds). */
int64_t recorder_batcher_bell_due_ms(const struct recorder_batcher *b);
/* Writes all that is queued, due or not (at stop). Returns 0, or -1 when
 * a write failed (its samples are kept). */
int recorder_batcher_flush(struct recorder_batcher *b);
/* Samples taken from the queue but not yet written (after a failed write). */
size_t recorder_batcher_pending(const struct recorder_batcher *b);
/* NULL is a no-op. */
void recorder_batcher_free(struct recorder_batcher *b);

#endif
