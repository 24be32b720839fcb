/*
 * metrics — see metrics.h. The metrics are an array of pointers with a
 * hash index by name (open addressing, at most half full), an array of
 * collectors and a ring buffer of samples for the store, all under one
 * mutex. A value is looked up with one hash and one string compare, and
 * a new metric is appended: the array is sorted by name only when a
 * snapshot is taken after metrics were added (snapshots are listed by
 * name), so a first walk of 10,000 rows costs no more than a later one.
 *
 * The sample queue is what a 1,000-point site holds most of: up to ten
 * seconds of samples between two commits, and up to queue_max while the
 * store is stuck. So a queued sample is 32 bytes (a counted reference to
 * the metric's name, time, value), not a 216-byte struct metric_sample,
 * and the ring starts small and doubles as needed: memory follows the
 * samples actually waiting, never the bound. It keeps its high-water size
 * (freeing and growing it every commit would only churn the allocator).
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

/* First size of the sample queue; it doubles from there up to queue_max. */
#define METRICS_QUEUE_MIN 256

/* A metric's name, shared by its table entry and its queued samples; the
 * last of them to go frees it (so a metric forgotten on reload keeps its
 * name until its queued samples are stored). Counted under the lock. */
struct metric_name {
    size_t refs;
    char text[];
};

struct metric_entry {
    struct metric_snapshot s;   /* quality here is "as last reported" (good/error) */
    int64_t stale_after_ms;
    struct metric_name *qname;  /* s.name again, for the queue */
    uint32_t hash;              /* of s.name */
};

struct queued_sample {
    struct metric_name *name;   /* one reference */
    int64_t ts_ms;
    double value;
    bool ok;
};

struct metrics {
    pthread_mutex_t lock;
    struct metric_entry **items;    /* sorted by name unless `unsorted` */
    size_t n, cap;
    bool unsorted;                  /* metrics were appended since the last sort */
    struct metric_entry **index;    /* hash slots (NULL = free), index_cap a power of two */
    size_t index_cap;
    struct collector_snapshot *collectors;
    size_t ncollectors, collectors_cap;
    struct queued_sample *queue;    /* ring of queue_cap, queue_cap <= queue_max */
    size_t queue_max, queue_cap, queue_head, queue_len;
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
    m->queue_max = queue_max ? queue_max : 1;
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

static void name_unref(struct metric_name *n)
{
    if (n && --n->refs == 0)
        free(n);
}

static void entry_free(struct metric_entry *e)
{
    if (!e)
        return;
    name_unref(e->qname);
    free(e);
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    for (size_t i = 0; i < m->n; i++)
        entry_free(m->items[i]);
    free(m->items);
    free(m->index);
    free(m->collectors);
    for (size_t i = 0; i < m->queue_len; i++)
        name_unref(m->queue[(m->queue_head + i) % m->queue_cap].name);
    free(m->queue);
    free(m);
}

/* FNV-1a: short metric names, no adversary (names come from config and
 * from the devices the config names). Over the part of a name the table
 * keeps, so a name too long for it finds the entry it was cut to. */
static uint32_t name_hash(const char *name)
{
    uint32_t h = 2166136261u;
    const unsigned char *p = (const unsigned char *)name;
    for (size_t i = 0; p[i] && i < METRIC_NAME_MAX - 1; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void index_put(struct metric_entry **index, size_t cap, struct metric_entry *e)
{
    size_t i = e->hash & (cap - 1);
    while (index[i])
        i = (i + 1) & (cap - 1);
    index[i] = e;
}

/* Rebuilds the index for the current items, at a size that keeps it at
 * most half full with room for `room` more. Returns -1 when out of memory
 * (the old index, if any, is still valid). */
static int index_rebuild_locked(struct metrics *m, size_t room)
{
    size_t cap = 16;
    while (cap < 2 * (m->n + room))
        cap *= 2;
    struct metric_entry **index = calloc(cap, sizeof *index);
    if (!index)
        return -1;
    for (size_t i = 0; i < m->n; i++)
        index_put(index, cap, m->items[i]);
    free(m->index);
    m->index = index;
    m->index_cap = cap;
    return 0;
}

/* The entry of name, or NULL. Caller holds the lock. */
static struct metric_entry *find_locked(const struct metrics *m, const char *name)
{
    if (!m->index)
        return NULL;
    uint32_t h = name_hash(name);
    for (size_t i = h & (m->index_cap - 1); m->index[i]; i = (i + 1) & (m->index_cap - 1))
        if (m->index[i]->hash == h && strncmp(m->index[i]->s.name, name, METRIC_NAME_MAX - 1) == 0)
            return m->index[i];
    return NULL;
}

static struct metric_entry *get_or_add_locked(struct metrics *m, const char *name)
{
    struct metric_entry *found = find_locked(m, name);
    if (found)
        return found;
    if (vec_reserve(m->items, m->cap, m->n + 1) < 0)
        return NULL;
    if (2 * (m->n + 1) > m->index_cap && index_rebuild_locked(m, m->n + 1) < 0)
        return NULL;
    struct metric_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    util_strlcpy(e->s.name, name, sizeof e->s.name);
    size_t len = strlen(e->s.name);
    e->qname = malloc(sizeof *e->qname + len + 1);
    if (!e->qname) {
        free(e);
        return NULL;
    }
    e->qname->refs = 1;
    memcpy(e->qname->text, e->s.name, len + 1);
    e->hash = name_hash(e->s.name);
    e->s.value = NAN;
    e->s.quality = MQ_STALE;
    if (m->n > 0 && strcmp(m->items[m->n - 1]->s.name, e->s.name) > 0)
        m->unsorted = true;
    m->items[m->n++] = e;
    index_put(m->index, m->index_cap, e);
    return e;
}

static int entry_by_name(const void *a, const void *b)
{
    const struct metric_entry *const *x = a, *const *y = b;
    return strcmp((*x)->s.name, (*y)->s.name);
}

static void sort_locked(struct metrics *m)
{
    if (m->unsorted)
        qsort(m->items, m->n, sizeof *m->items, entry_by_name);
    m->unsorted = false;
}

/* Makes room for one more queued sample: doubles the ring while it is
 * below queue_max, else drops (and counts) the oldest sample. */
static void queue_make_room_locked(struct metrics *m)
{
    if (m->queue_len < m->queue_cap)
        return;
    if (m->queue_cap < m->queue_max) {
        size_t cap = m->queue_cap ? 2 * m->queue_cap : METRICS_QUEUE_MIN;
        if (cap > m->queue_max)
            cap = m->queue_max;
        struct queued_sample *q = malloc(cap * sizeof *q);
        if (q) {
            /* Unrolled into queue order, so the ring starts at 0 again. */
            for (size_t i = 0; i < m->queue_len; i++)
                q[i] = m->queue[(m->queue_head + i) % m->queue_cap];
            free(m->queue);
            m->queue = q;
            m->queue_cap = cap;
            m->queue_head = 0;
            return;
        }
        /* Out of memory: the ring stays as it is and drops, as when full. */
        if (m->queue_cap == 0)
            return;
    }
    name_unref(m->queue[m->queue_head].name);
    m->queue_head = (m->queue_head + 1) % m->queue_cap;
    m->queue_len--;
    m->dropped++;
}

static void enqueue_locked(struct metrics *m, struct metric_entry *e, int64_t ts_ms, double value,
                           bool ok)
{
    queue_make_room_locked(m);
    if (m->queue_len == m->queue_cap) {
        m->dropped++; /* no memory for even the first ring */
        return;
    }
    struct queued_sample *s = &m->queue[(m->queue_head + m->queue_len) % m->queue_cap];
    s->name = e->qname;
    e->qname->refs++;
    s->ts_ms = ts_ms;
    s->value = value;
    s->ok = ok;
    m->queue_len++;
}

/* Copies text into a field only when it differs: a poll reports the same
 * unit and source for every value, and comparing reads what copying would
 * also write. */
static void set_field(char *field, size_t size, const char *text)
{
    if (strncmp(field, text, size) != 0)
        util_strlcpy(field, text, size);
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
            set_field(e->s.unit, sizeof e->s.unit, unit);
        if (source)
            set_field(e->s.source, sizeof e->s.source, source);
        e->stale_after_ms = stale_after_ms;
        e->s.value = value;
        e->s.ts_ms = now_ms;
        e->s.updated_ms = now_ms;
        e->s.quality = MQ_GOOD;
        e->s.reason[0] = '\0';
        enqueue_locked(m, e, now_ms, value, true);
        changed_locked(m);
    }
    pthread_mutex_unlock(&m->lock);
}

static void set_error_locked(struct metrics *m, struct metric_entry *e, int64_t stale_after_ms,
                             const char *reason, int64_t now_ms)
{
    e->stale_after_ms = stale_after_ms;
    e->s.updated_ms = now_ms;
    bool was_error = e->s.quality == MQ_ERROR;
    e->s.quality = MQ_ERROR;
    set_field(e->s.reason, sizeof e->s.reason, reason ? reason : "read failed");
    /* One NULL row marks the start of an outage in history; repeating
     * it every poll would only grow the database. */
    if (!was_error)
        enqueue_locked(m, e, now_ms, NAN, false);
}

void metrics_set_error(struct metrics *m, const char *name, const char *source,
                       int64_t stale_after_ms, const char *reason, int64_t now_ms)
{
    pthread_mutex_lock(&m->lock);
    struct metric_entry *e = get_or_add_locked(m, name);
    if (e) {
        if (source)
            set_field(e->s.source, sizeof e->s.source, source);
        set_error_locked(m, e, stale_after_ms, reason, now_ms);
        changed_locked(m);
    }
    pthread_mutex_unlock(&m->lock);
}

size_t metrics_set_source_error(struct metrics *m, const char *source, int64_t stale_after_ms,
                                const char *reason, int64_t now_ms)
{
    size_t marked = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++) {
        struct metric_entry *e = m->items[i];
        if (strcmp(e->s.source, source) == 0) {
            set_error_locked(m, e, stale_after_ms, reason, now_ms);
            marked++;
        }
    }
    if (marked)
        changed_locked(m);
    pthread_mutex_unlock(&m->lock);
    return marked;
}

void metrics_forget_source_except(struct metrics *m, const char *source, const char *const *keep,
                                  size_t nkeep)
{
    pthread_mutex_lock(&m->lock);
    size_t w = 0;
    for (size_t r = 0; r < m->n; r++) {
        struct metric_entry *e = m->items[r];
        bool drop = strcmp(e->s.source, source) == 0;
        for (size_t k = 0; drop && k < nkeep; k++)
            if (strcmp(keep[k], e->s.name) == 0)
                drop = false;
        if (drop)
            entry_free(e);
        else
            m->items[w++] = e;
    }
    if (w != m->n) {
        m->n = w;
        /* Only shrinks; should memory for a new index be short, the old
         * one is cleared of the dropped entries instead. */
        if (index_rebuild_locked(m, 0) < 0) {
            memset(m->index, 0, m->index_cap * sizeof *m->index);
            for (size_t i = 0; i < m->n; i++)
                index_put(m->index, m->index_cap, m->items[i]);
        }
    }
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
    sort_locked(m);
    size_t n = m->n;
    struct metric_snapshot *arr = n ? malloc(n * sizeof *arr) : NULL;
    if (arr) {
        for (size_t i = 0; i < n; i++) {
            arr[i] = m->items[i]->s;
            arr[i].quality = quality_at(m->items[i], now_ms);
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
    struct metric_entry *e = find_locked(m, name);
    if (e) {
        *out = e->s;
        out->quality = quality_at(e, now_ms);
    }
    pthread_mutex_unlock(&m->lock);
    return e != NULL;
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

bool metrics_collectors_all_polled(struct metrics *m)
{
    bool all = true;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; all && i < m->ncollectors; i++)
        all = m->collectors[i].polled;
    pthread_mutex_unlock(&m->lock);
    return all;
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
    for (size_t i = 0; i < n; i++) {
        struct queued_sample *q = &m->queue[(m->queue_head + i) % m->queue_cap];
        /* Names fit: the table cut them to METRIC_NAME_MAX. */
        util_strlcpy(buf[i].name, q->name->text, sizeof buf[i].name);
        buf[i].ts_ms = q->ts_ms;
        buf[i].value = q->value;
        buf[i].ok = q->ok;
        name_unref(q->name);
    }
    if (n)
        m->queue_head = (m->queue_head + n) % m->queue_cap;
    m->queue_len -= n;
    pthread_mutex_unlock(&m->lock);
    return n;
}

size_t metrics_queued(struct metrics *m)
{
    pthread_mutex_lock(&m->lock);
    size_t n = m->queue_len;
    pthread_mutex_unlock(&m->lock);
    return n;
}

size_t metrics_queue_capacity(struct metrics *m)
{
    pthread_mutex_lock(&m->lock);
    size_t cap = m->queue_cap;
    pthread_mutex_unlock(&m->lock);
    return cap;
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
        const struct metric_entry *e = m->items[i];
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
