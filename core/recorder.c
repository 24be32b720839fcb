/*
 * recorder — see recorder.h.
 *
 * Why every 10 s and not every second: samples are clustered by metric on
 * disk, so each commit rewrites one page per metric it touches. Committing
 * each second puts ~1 sample on each page written (~5 KB of disk writes
 * per sample, measured by bench/store_write.c); every 10 s, 2–10 samples
 * share a page. A crash loses at most those 10 s of history, never the
 * database, and the live values the policies read come from memory.
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

#define RECORDER_BATCH 4096
#define RECORDER_FLUSH_EVERY_MS 10000
#define RECORDER_RETENTION_EVERY_MS (3600 * 1000)

struct recorder {
    pthread_t thread;
    pthread_t retention_thread;
    atomic_int stop;
    struct metrics *metrics;
    struct store *store;
    _Atomic int64_t retention_ms;
    _Atomic int64_t heartbeat_ms;
    struct metric_sample *batch;
    size_t pending;             /* samples in batch not yet written */
    bool failing;
};

/* Writes what is pending plus what is queued; returns false on error. */
static bool flush_once(struct recorder *r)
{
    for (;;) {
        if (r->pending < RECORDER_BATCH)
            r->pending += metrics_drain(r->metrics, r->batch + r->pending,
                                        RECORDER_BATCH - r->pending);
        if (r->pending == 0)
            return true;
        char err[256];
        if (store_write_samples(r->store, r->batch, r->pending, err, sizeof err) != 0) {
            if (!r->failing)
                log_err("store: writing %zu samples failed: %s; keeping them and retrying",
                        r->pending, err);
            r->failing = true;
            return false;
        }
        if (r->failing)
            log_info("store: writing samples again");
        r->failing = false;
        bool full = r->pending == RECORDER_BATCH;
        r->pending = 0;
        if (!full)
            return true;
    }
}

static void apply_retention(struct recorder *r)
{
    int64_t retention = atomic_load(&r->retention_ms);
    if (retention <= 0)
        return;
    int64_t deleted = 0;
    char err[256];
    if (store_apply_retention(r->store, util_now_ms() - retention, &deleted, err, sizeof err) != 0)
        log_err("store: retention failed: %s", err);
    else if (deleted > 0)
        log_info("store: retention removed %lld samples older than %lld days", (long long)deleted,
                 (long long)(retention / 86400000));
}

static void *recorder_main(void *arg)
{
    struct recorder *r = arg;
    while (!r->stop) {
        flush_once(r);
        atomic_store(&r->heartbeat_ms, util_mono_ms());
        util_sleep_ms(RECORDER_FLUSH_EVERY_MS, &r->stop);
    }
    flush_once(r);
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

struct recorder *recorder_start(struct metrics *m, struct store *s, int64_t retention_ms,
                                char *err, size_t errlen)
{
    struct recorder *r = calloc(1, sizeof *r);
    if (!r || !(r->batch = calloc(RECORDER_BATCH, sizeof *r->batch))) {
        free(r);
        errf(err, errlen, "out of memory");
        return NULL;
    }
    r->metrics = m;
    r->store = s;
    atomic_store(&r->retention_ms, retention_ms);
    atomic_store(&r->heartbeat_ms, util_mono_ms());
    if (pthread_create(&r->thread, NULL, recorder_main, r) != 0) {
        free(r->batch);
        free(r);
        errf(err, errlen, "cannot start recorder thread");
        return NULL;
    }
    if (pthread_create(&r->retention_thread, NULL, retention_main, r) != 0) {
        r->stop = 1;
        pthread_join(r->thread, NULL);
        free(r->batch);
        free(r);
        errf(err, errlen, "cannot start retention thread");
        return NULL;
    }
    return r;
}

void recorder_set_retention(struct recorder *r, int64_t retention_ms)
{
    atomic_store(&r->retention_ms, retention_ms);
}

int64_t recorder_heartbeat_ms(struct recorder *r)
{
    return atomic_load(&r->heartbeat_ms);
}

void recorder_stop(struct recorder *r)
{
    if (!r)
        return;
    r->stop = 1;
    pthread_join(r->thread, NULL);
    pthread_join(r->retention_thread, NULL);
    free(r->batch);
    free(r);
}
