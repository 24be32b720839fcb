/*
 * metrics — see metrics.h. A sorted array of metrics (binary search by
 * name), an array of collectors and a ring buffer of samples for the store,
 * all under one mutex. Sizes are a few thousand metrics at most, so a
 * sorted array beats a hash table for simplicity and for sorted snapshots.
 */
#include "core/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/vec.h"

const double metrics_poll_bucket_s[METRICS_POLL_BUCKETS] = { 0.005, 0.01, 0.025, 0.05, 0.1,
                                                              0.25,  0.5,  1,     2.5,  5 };

struct metric_entry {
    struct metric_snapshot s;   /* quality here is "as last reported" (good/error) */
    int64_t stale_after_ms;
};

struct metrics {
    pthread_mutex_t lock;
    struct metric_entry *items;
    size_t n, cap;
    struct collector_snapshot *collectors;
    size_t ncollectors, collectors_cap;
    struct metric_sample *queue;
    size_t queue_max, queue_head, queue_len;
    uint64_t dropped;
    /* +1 after every change a reader could see (see metrics_generation);
     * written under lock, read without it. */
    atomic_uint_fast64_t generation;
};

/* Called with the lock held, after the change. */
static void changed_locked(struct metrics *m)
{
    atomic_fetch_add_explicit(&m->generation, 1, memory_order_release);
}

struct metrics *metrics_new(size_t queue_max)
{
    struct metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (queue_max == 0)
        queue_max = 1;
    m->queue = calloc(queue_max, sizeof *m->queue);
    if (!m->queue) {
        free(m);
        return NULL;
    }
    m->queue_max = queue_max;
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m->items);
    free(m->collectors);
    free(m->queue);
    free(m);
}

/* Index of name, or -(insertion point) - 1. Caller holds the lock. */
static long find_locked(const struct metrics *m, const char *name)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->items[mid].s.name, name);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

static struct metric_entry *get_or_add_locked(struct metrics *m, const char *name)
{
    long i = find_locked(m, name);
    if (i >= 0)
        return &m->items[i];
    size_t at = (size_t)(-i - 1);
    if (vec_reserve(m->items, m->cap, m->n + 1) < 0)
        return NULL;
    memmove(&m->items[at + 1], &m->items[at], (m->n - at) * sizeof *m->items);
    m->n++;
    struct metric_entry *e = &m->items[at];
    memset(e, 0, sizeof *e);
    util_strlcpy(e->s.name, name, sizeof e->s.name);
    e->s.value = NAN;
    e->s.quality = MQ_STALE;
    return e;
}

static void enqueue_locked(struct metrics *m, const char *name, int64_t ts_ms, double value, bool ok)
{
    if (m->queue_len == m->queue_max) {
        m->queue_head = (m->queue_head + 1) % m->queue_max;
        m->queue_len--;
        m->dropped++;
    }
    struct metric_sample *s = &m->queue[(m->queue_head + m->queue_len) % m->queue_max];
    util_strlcpy(s->name, name, sizeof s->name);
    s->ts_ms = ts_ms;
    s->value = value;
    s->ok = ok;
    m->queue_len++;
}

void metrics_declare(struct metrics *m, const char *name, const char *unit, const char *source,
                     int64_t stale_after_ms)
{
    pthread_mutex_lock(&m->lock);
    struct metric_entry *e = get_or_add_locked(m, name);
    if (e) {
        util_strlcpy(e->s.unit, unit ? unit : "", sizeof e->s.unit);
        util_strlcpy(e->s.source, source ? source : "", sizeof e->s.source);
        e->stale_after_ms = stale_after_ms;
        changed_locked(m);
    }
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_good(struct metrics *m, const char *name, double value, const char *unit,
                      const char *source, int64_t stale_after_ms, int64_t now_ms)
{
    pthread_mutex_lock(&m->lock);
    struct metric_entry *e = get_or_add_locked(m, name);
    if (e) {
        if (unit)
            util_strlcpy(e->s.unit, unit, sizeof e->s.unit);
        if (source)
            util_strlcpy(e->s.source, source, sizeof e->s.source);
        e->stale_after_ms = stale_after_ms;
        e->s.value = value;
        e->s.ts_ms = now_ms;
        e->s.updated_ms = now_ms;
        e->s.quality = MQ_GOOD;
        e->s.reason[0] = '\0';
        enqueue_locked(m, name, now_ms, value, true);
        changed_locked(m);
    }
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_error(struct metrics *m, const char *name, const char *source,
                       int64_t stale_after_ms, const char *reason, int64_t now_ms)
{
    pthread_mutex_lock(&m->lock);
    struct metric_entry *e = get_or_add_locked(m, name);
    if (e) {
        if (source)
            util_strlcpy(e->s.source, source, sizeof e->s.source);
        e->stale_after_ms = stale_after_ms;
        e->s.updated_ms = now_ms;
        bool was_error = e->s.quality == MQ_ERROR;
        e->s.quality = MQ_ERROR;
        util_strlcpy(e->s.reason, reason ? reason : "read failed", sizeof e->s.reason);
        /* One NULL row marks the start of an outage in history; repeating
         * it every poll would only grow the database. */
        if (!was_error)
            enqueue_locked(m, name, now_ms, NAN, false);
        changed_locked(m);
    }
    pthread_mutex_unlock(&m->lock);
}

void metrics_forget_source_except(struct metrics *m, const char *source, const char *const *keep,
                                  size_t nkeep)
{
    pthread_mutex_lock(&m->lock);
    size_t w = 0;
    for (size_t r = 0; r < m->n; r++) {
        struct metric_entry *e = &m->items[r];
        bool drop = strcmp(e->s.source, source) == 0;
        for (size_t k = 0; drop && k < nkeep; k++)
            if (strcmp(keep[k], e->s.name) == 0)
                drop = false;
        if (!drop)
            m->items[w++] = *e;
    }
    m->n = w;
    changed_locked(m);
    pthread_mutex_unlock(&m->lock);
}

static enum metric_quality quality_at(const struct metric_entry *e, int64_t now_ms)
{
    if (e->s.quality == MQ_ERROR)
        return MQ_ERROR;
    if (e->s.ts_ms == 0)
        return MQ_STALE;
    if (e->stale_after_ms > 0 && now_ms - e->s.ts_ms > e->stale_after_ms)
        return MQ_STALE;
    return MQ_GOOD;
}

size_t metrics_snapshot(struct metrics *m, int64_t now_ms, struct metric_snapshot **out)
{
    *out = NULL;
    pthread_mutex_lock(&m->lock);
    size_t n = m->n;
    struct metric_snapshot *arr = n ? malloc(n * sizeof *arr) : NULL;
    if (arr) {
        for (size_t i = 0; i < n; i++) {
            arr[i] = m->items[i].s;
            arr[i].quality = quality_at(&m->items[i], now_ms);
        }
    } else {
        n = 0;
    }
    pthread_mutex_unlock(&m->lock);
    *out = arr;
    return n;
}

bool metrics_get(struct metrics *m, const char *name, int64_t now_ms, struct metric_snapshot *out)
{
    pthread_mutex_lock(&m->lock);
    long i = find_locked(m, name);
    if (i >= 0) {
        *out = m->items[i].s;
        out->quality = quality_at(&m->items[i], now_ms);
    }
    pthread_mutex_unlock(&m->lock);
    return i >= 0;
}

static struct collector_snapshot *collector_find_locked(struct metrics *m, const char *device)
{
    for (size_t i = 0; i < m->ncollectors; i++)
        if (strcmp(m->collectors[i].device, device) == 0)
            return &m->collectors[i];
    return NULL;
}

void metrics_collector_declare(struct metrics *m, const char *device, const char *protocol)
{
    pthread_mutex_lock(&m->lock);
    struct collector_snapshot *c = collector_find_locked(m, device);
    if (!c) {
        if (vec_reserve(m->collectors, m->collectors_cap, m->ncollectors + 1) < 0)
            goto out;
        c = &m->collectors[m->ncollectors++];
        memset(c, 0, sizeof *c);
        util_strlcpy(c->device, device, sizeof c->device);
    }
    util_strlcpy(c->protocol, protocol, sizeof c->protocol);
    changed_locked(m);
out:
    pthread_mutex_unlock(&m->lock);
}

void metrics_collector_report(struct metrics *m, const char *device, bool ok, double duration_s,
                              const char *error, int64_t now_ms)
{
    pthread_mutex_lock(&m->lock);
    struct collector_snapshot *c = collector_find_locked(m, device);
    if (c) {
        if (!c->polled || c->up != ok)
            c->up_since_ms = now_ms;
        c->polled = true;
        c->up = ok;
        c->last_poll_ms = now_ms;
        c->polls++;
        if (!ok)
            c->failures++;
        util_strlcpy(c->last_error, ok ? "" : (error ? error : "poll failed"), sizeof c->last_error);
        for (size_t b = 0; b < METRICS_POLL_BUCKETS; b++)
            if (duration_s <= metrics_poll_bucket_s[b])
                c->bucket_counts[b]++;
        c->duration_count++;
        c->duration_sum_s += duration_s;
        changed_locked(m);
    }
    pthread_mutex_unlock(&m->lock);
}

void metrics_collector_forget(struct metrics *m, const char *device)
{
    pthread_mutex_lock(&m->lock);
    struct collector_snapshot *c = collector_find_locked(m, device);
    if (c) {
        size_t at = (size_t)(c - m->collectors);
        memmove(c, c + 1, (m->ncollectors - at - 1) * sizeof *c);
        m->ncollectors--;
        changed_locked(m);
    }
    pthread_mutex_unlock(&m->lock);
}

size_t metrics_collectors(struct metrics *m, struct collector_snapshot **out)
{
    pthread_mutex_lock(&m->lock);
    size_t n = m->ncollectors;
    struct collector_snapshot *arr = n ? malloc(n * sizeof *arr) : NULL;
    if (arr)
        memcpy(arr, m->collectors, n * sizeof *arr);
    else
        n = 0;
    pthread_mutex_unlock(&m->lock);
    *out = arr;
    return n;
}

size_t metrics_drain(struct metrics *m, struct metric_sample *buf, size_t max)
{
    pthread_mutex_lock(&m->lock);
    size_t n = m->queue_len < max ? m->queue_len : max;
    for (size_t i = 0; i < n; i++)
        buf[i] = m->queue[(m->queue_head + i) % m->queue_max];
    m->queue_head = (m->queue_head + n) % m->queue_max;
    m->queue_len -= n;
    pthread_mutex_unlock(&m->lock);
    return n;
}

uint64_t metrics_dropped(struct metrics *m)
{
    pthread_mutex_lock(&m->lock);
    uint64_t d = m->dropped;
    pthread_mutex_unlock(&m->lock);
    return d;
}

uint64_t metrics_generation(struct metrics *m)
{
    return atomic_load_explicit(&m->generation, memory_order_acquire);
}

int64_t metrics_quality_changes_at(struct metrics *m, int64_t now_ms)
{
    int64_t at = INT64_MAX;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++) {
        const struct metric_entry *e = &m->items[i];
        /* Only a good metric changes by itself (to stale, the first
         * millisecond past its window); error and stale wait for a poll. */
        if (quality_at(e, now_ms) != MQ_GOOD || e->stale_after_ms <= 0)
            continue;
        int64_t stale_at = e->s.ts_ms + e->stale_after_ms + 1;
        if (stale_at < at)
            at = stale_at;
    }
    pthread_mutex_unlock(&m->lock);
    return at;
}

const char *metrics_quality_name(enum metric_quality q)
{
    switch (q) {
    case MQ_GOOD:
        return "good";
    case MQ_STALE:
        return "stale";
    case MQ_ERROR:
        return "error";
    }
    return "unknown";
}
