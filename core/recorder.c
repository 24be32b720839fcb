/*
 * recorder — see recorder.h.
 *
 * Why every 5 s: a crash loses at most those few seconds of history,
 * never the database; decisions are written when they are made, the live
 * values the policies read come from memory, and their history windows
 * take the live value too (live_env.c). A commit is one row of the
 * store's raw log however many metrics it carries (store.c), but each
 * costs about 0.2 ms of CPU whatever it holds (page writes, locks, the
 * thread's wake-up): at a 2 s rhythm that was a third of the agent's CPU
 * for a 100-point SNMP device (issue 11's bench). The first samples of a
 * run are committed as soon as they come. A due commit waits for the next
 * poll to end and wake the thread rather than for a timer: on virtual
 * machines a thread woken by a timer costs several times the CPU of one
 * woken by another thread (70 against 9 us measured), as much as the
 * commit itself. After each commit the store compacts the minutes that
 * closed (store_compact: nothing to do most of the time).
 *
 * Retention runs on its own thread: deleting a large backlog can take
 * minutes, and the watchdog must keep seeing the recorder cycle.
 */
#include "core/recorder.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "store/store_hold.h"
#include "store/store_resv.h"

#define RECORDER_RETENTION_EVERY_MS (3600 * 1000)

/* ---- batching ---- */

struct recorder_batcher {
    struct metrics *metrics;
    struct recorder_sink sink;
    struct metric_sample *batch;
    size_t pending;             /* samples in batch not yet written */
    bool failing;               /* the last write failed (logged once) */
    bool written_once;          /* a write has been tried: the 10 s rhythm runs */
    int64_t first_ms;           /* monotonic, when the first samples were written */
    int64_t next_due_ms;        /* monotonic, once written_once */
    bool idle;                  /* nothing queued: waiting for a poll's wake */
    int64_t bell_due_ms;        /* a poll that ends from then on may wake the
                                   thread to commit; INT64_MAX: only the timer */
};

struct recorder_batcher *recorder_batcher_new(struct metrics *m, struct recorder_sink sink)
{
    struct recorder_batcher *b = calloc(1, sizeof *b);
    if (!b || !(b->batch = calloc(RECORDER_BATCH, sizeof *b->batch))) {
        free(b);
        return NULL;
    }
    b->metrics = m;
    b->sink = sink;
    return b;
}

void recorder_batcher_free(struct recorder_batcher *b)
{
    if (!b)
        return;
    free(b->batch);
    free(b);
}

size_t recorder_batcher_pending(const struct recorder_batcher *b)
{
    return b->pending;
}

static void batcher_fill(struct recorder_batcher *b)
{
    if (b->pending < RECORDER_BATCH)
        b->pending += metrics_drain(b->metrics, b->batch + b->pending, RECORDER_BATCH - b->pending);
}

int recorder_batcher_flush(struct recorder_batcher *b)
{
    for (;;) {
        batcher_fill(b);
        if (b->pending == 0)
            return 0;
        char err[256];
        if (b->sink.write(b->sink.ctx, b->batch, b->pending, err, sizeof err) != 0) {
            if (!b->failing)
                log_err("store: writing %zu samples failed: %s; keeping them and retrying",
                        b->pending, err);
            b->failing = true;
            return -1;
        }
        if (b->failing)
            log_info("store: writing samples again");
        b->failing = false;
        bool full = b->pending == RECORDER_BATCH;
        b->pending = 0;
        if (!full)
            return 0;
    }
}

int64_t recorder_batcher_cycle(struct recorder_batcher *b, int64_t now_ms)
{
    b->bell_due_ms = INT64_MAX;
    if (!b->written_once) {
        /* Until the first samples come, wait for them: a finished poll
         * wakes the thread (recorder_samples_queued). */
        batcher_fill(b);
        b->idle = b->pending == 0;
        if (b->idle)
            return RECORDER_IDLE_MS;
        b->written_once = true;
        b->first_ms = now_ms;
        b->next_due_ms = now_ms + RECORDER_FLUSH_EVERY_MS;
        recorder_batcher_flush(b);
        /* A failing store is not hurried: its retry is an interval on. */
        return b->failing ? RECORDER_FLUSH_EVERY_MS : RECORDER_FIRST_CHECK_MS;
    }
    if (!b->failing && now_ms < b->first_ms + RECORDER_FIRST_WINDOW_MS) {
        /* The rest of the first polls: a partial first batch must not
         * leave the others waiting out a whole interval. */
        batcher_fill(b);
        if (b->pending > 0)
            recorder_batcher_flush(b);
        return RECORDER_FIRST_CHECK_MS;
    }
    if (b->idle) {
        /* Woken after a quiet spell: the samples that woke it are
         * committed an interval on, with whatever joins them. */
        batcher_fill(b);
        if (b->pending == 0)
            return RECORDER_IDLE_MS;
        b->idle = false;
        b->next_due_ms = now_ms + RECORDER_FLUSH_EVERY_MS;
    }
    batcher_fill(b);
    /* Before it is due, a full batch is committed at once: a busy site
     * then holds no more than a batch of samples in memory. */
    if (now_ms < b->next_due_ms && (b->pending < RECORDER_BATCH || b->failing)) {
        if (!b->failing)
            b->bell_due_ms = b->next_due_ms;
        return b->next_due_ms - now_ms;
    }
    if (b->pending == 0 && !b->failing) {
        /* Nothing came in a whole interval: sleep until a poll brings
         * samples rather than look every interval. */
        b->idle = true;
        return RECORDER_IDLE_MS;
    }
    recorder_batcher_flush(b);
    b->next_due_ms = now_ms + RECORDER_FLUSH_EVERY_MS;
    if (!b->failing)
        b->bell_due_ms = b->next_due_ms;
    return RECORDER_FLUSH_EVERY_MS;
}

bool recorder_batcher_idle(const struct recorder_batcher *b)
{
    return b->idle;
}

int64_t recorder_batcher_bell_due_ms(const struct recorder_batcher *b)
{
    return b->bell_due_ms;
}

/* ---- the threads ---- */

struct recorder {
    pthread_t thread;
    pthread_t retention_thread;
    atomic_int stop;
    /* What the recorder thread sleeps on: set by recorder_stop and, while
     * the batcher is idle, by recorder_samples_queued (util_stop_set wakes
     * the sleeper); cleared before each cycle. */
    atomic_int bell;
    atomic_bool idle;           /* the batcher waits for samples */
    _Atomic int64_t bell_due_ms; /* a poll ending from then on rings the bell */
    struct store *store;
    struct metrics *metrics;
    struct recorder_batcher *batcher;
    _Atomic int64_t retention_ms, raw_retention_ms, minute_retention_ms;
    _Atomic int64_t heartbeat_ms;
    bool compact_failing; /* the last compaction failed (logged once) */
};

static int write_to_store(void *ctx, const struct metric_sample *samples, size_t n, char *err,
                          size_t errlen)
{
    struct recorder *r = ctx;
    if (store_write_samples(r->store, samples, n, err, errlen) != 0)
        return -1;
    /* The samples are safe in the log whatever compaction does: its
     * failure is logged (once) and retried after the next commit. */
    char cerr[256];
    if (store_compact(r->store, STORE_COMPACT_GRACE_MS, NULL, cerr, sizeof cerr) != 0) {
        if (!r->compact_failing)
            log_err("store: compaction failed: %s; samples stay in the raw log, retrying", cerr);
        r->compact_failing = true;
    } else if (r->compact_failing) {
        log_info("store: compaction works again");
        r->compact_failing = false;
    }
    return 0;
}

/* now - keep, or INT64_MIN (keep everything) when keep <= 0. */
static int64_t before(int64_t now_ms, int64_t keep_ms)
{
    return keep_ms > 0 ? now_ms - keep_ms : INT64_MIN;
}

void recorder_apply_retention(struct store *s, const struct recorder_retention *ret,
                              int64_t now_ms)
{
    int64_t retention_ms = ret->all_ms;
    if (retention_ms <= 0)
        return;
    int64_t deleted = 0;
    char err[256];
    /* Compact first: raw samples leave only where their rollups exist. */
    struct store_retention tiers = {
        before(now_ms, ret->raw_ms > 0 ? ret->raw_ms : retention_ms),
        before(now_ms, ret->minute_ms > 0 ? ret->minute_ms : retention_ms),
        before(now_ms, retention_ms)};
    if (store_compact(s, STORE_COMPACT_GRACE_MS, NULL, err, sizeof err) != 0 ||
        store_apply_retention(s, &tiers, &deleted, err, sizeof err) != 0)
        log_err("store: retention failed: %s", err);
    else if (deleted > 0)
        log_info("store: retention removed %lld raw samples older than %lld hours",
                 (long long)deleted,
                 (long long)((ret->raw_ms > 0 ? ret->raw_ms : retention_ms) / 3600000));
    /* Reservations that ended are kept as long as the history around them. */
    if (store_resv_prune(s, now_ms - retention_ms, &deleted, err, sizeof err) != 0)
        log_err("store: retention of reservations failed: %s", err);
    else if (deleted > 0)
        log_info("store: retention removed %lld reservations that ended more than %lld days ago",
                 (long long)deleted, (long long)(retention_ms / 86400000));
    if (store_hold_prune(s, now_ms - retention_ms, &deleted, err, sizeof err) != 0)
        log_err("store: retention of holds at peers failed: %s", err);
}

static void apply_retention(struct recorder *r)
{
    struct recorder_retention ret = {atomic_load(&r->raw_retention_ms),
                                     atomic_load(&r->minute_retention_ms),
                                     atomic_load(&r->retention_ms)};
    recorder_apply_retention(r->store, &ret, util_now_ms());
}

static void *recorder_main(void *arg)
{
    struct recorder *r = arg;
    while (!r->stop) {
        /* Cleared before the cycle looks at the queue: a wake that comes
         * after the look and before the sleep makes the sleep return. */
        atomic_store(&r->bell, 0);
        /* Idle while the cycle looks, too: samples queued after its look
         * ring the bell, and the sleep below returns at once. */
        atomic_store(&r->idle, true);
        int64_t wait_ms = recorder_batcher_cycle(r->batcher, util_mono_ms());
        atomic_store(&r->idle, recorder_batcher_idle(r->batcher));
        /* The commit is due then, and the first poll that ends after it
         * rings the bell: the timer is only the backstop for a quiet
         * spell (see recorder.h). */
        int64_t due = recorder_batcher_bell_due_ms(r->batcher);
        atomic_store(&r->bell_due_ms, due);
        if (due != INT64_MAX)
            wait_ms += RECORDER_BELL_GRACE_MS;
        atomic_store(&r->heartbeat_ms, util_mono_ms());
        if (!r->stop)
            util_sleep_ms(wait_ms, &r->bell);
    }
    if (recorder_batcher_flush(r->batcher) != 0)
        log_err("store: %zu samples not written at stop", recorder_batcher_pending(r->batcher));
    return NULL;
}

static void *retention_main(void *arg)
{
    struct recorder *r = arg;
    /* First run a minute after start, so a restart loop does not turn
     * into a retention loop. */
    util_sleep_ms(60 * 1000, &r->stop);
    while (!r->stop) {
        apply_retention(r);
        util_sleep_ms(RECORDER_RETENTION_EVERY_MS, &r->stop);
    }
    return NULL;
}

struct recorder *recorder_start(struct metrics *m, struct store *s,
                                const struct recorder_retention *ret, char *err, size_t errlen)
{
    struct recorder *r = calloc(1, sizeof *r);
    if (r)
        r->batcher = recorder_batcher_new(m, (struct recorder_sink){ write_to_store, r });
    if (!r || !r->batcher) {
        free(r);
        errf(err, errlen, "out of memory");
        return NULL;
    }
    r->store = s;
    r->metrics = m;
    atomic_store(&r->bell_due_ms, INT64_MAX);
    recorder_set_retention(r, ret);
    atomic_store(&r->heartbeat_ms, util_mono_ms());
    if (pthread_create(&r->thread, NULL, recorder_main, r) != 0) {
        recorder_batcher_free(r->batcher);
        free(r);
        errf(err, errlen, "cannot start recorder thread");
        return NULL;
    }
    if (pthread_create(&r->retention_thread, NULL, retention_main, r) != 0) {
        util_stop_set(&r->stop);
        util_stop_set(&r->bell);
        pthread_join(r->thread, NULL);
        recorder_batcher_free(r->batcher);
        free(r);
        errf(err, errlen, "cannot start retention thread");
        return NULL;
    }
    return r;
}

void recorder_set_retention(struct recorder *r, const struct recorder_retention *ret)
{
    atomic_store(&r->raw_retention_ms, ret->raw_ms);
    atomic_store(&r->minute_retention_ms, ret->minute_ms);
    atomic_store(&r->retention_ms, ret->all_ms);
}

void recorder_samples_queued(struct recorder *r)
{
    if (r && (atomic_load(&r->idle) || util_mono_ms() >= atomic_load(&r->bell_due_ms) ||
              metrics_queued(r->metrics) >= RECORDER_BATCH))
        util_stop_set(&r->bell);
}

int64_t recorder_heartbeat_ms(struct recorder *r)
{
    return atomic_load(&r->heartbeat_ms);
}

void recorder_stop(struct recorder *r)
{
    if (!r)
        return;
    util_stop_set(&r->stop);
    util_stop_set(&r->bell);
    pthread_join(r->thread, NULL);
    pthread_join(r->retention_thread, NULL);
    recorder_batcher_free(r->batcher);
    free(r);
}
