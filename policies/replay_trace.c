/*
 * replay_trace — per-metric sample arrays with block indexes, and the
 * pol_env over them. The layout and the query rules are in
 * replay_trace.h.
 */
#include "policies/replay_trace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/vec.h"

#define BLOCK_SHIFT 6 /* 64 samples per block */
#define BLOCK (1u << BLOCK_SHIFT)
#define SUPER_SHIFT 12 /* 64 blocks (4096 samples) per superblock */
#define BLOCKS_PER_SUPER (1u << (SUPER_SHIFT - BLOCK_SHIFT))
#define SPACING_SAMPLES 4096

struct series {
    char *name;
    uint64_t hash;
    int64_t stale_ms; /* 0 = never stale */

    /* Good samples in time order. */
    int64_t *ts;
    double *v;
    size_t n, cap;
    /* Indexes over the good samples; see the header. */
    double *cum;         /* cum[b] = sum of blocks < b; cum[nblocks] is partial */
    double *bmin, *bmax; /* per block */
    double *smin, *smax; /* per superblock */

    /* Read errors in time order. */
    int64_t *err_ts;
    size_t nerr, cap_err;

    int64_t last_ms; /* latest sample of either kind */
    bool any;        /* last_ms is set */

    /* Counts of samples <= the time of the previous lookup. */
    size_t cur, cur_err;
};

struct staged {
    int64_t ts;
    double v;
    size_t series;
    uint32_t line;
};

struct glob_entry {
    char *pattern;
    size_t *members;
    size_t n;
};

struct replay_trace {
    struct series *s;
    size_t n, cap;
    size_t *slots; /* open addressing over s: index + 1, 0 = empty */
    size_t nslots; /* power of two */

    struct staged *staged;
    size_t nstaged, cap_staged;

    struct glob_entry *globs;
    size_t nglobs, cap_globs;
    size_t globs_for; /* series count the glob lists were built for */

    int64_t now_ms; /* the time env lookups answer for */
};

/* Good samples are never NaN, so plain comparisons do (fmin/fmax are
 * library calls that also handle NaN, and twice as slow in a scan). */
static inline double min2(double a, double b)
{
    return b < a ? b : a;
}

static inline double max2(double a, double b)
{
    return b > a ? b : a;
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* ---- trace and series ------------------------------------------------------ */

struct replay_trace *replay_trace_new(void)
{
    struct replay_trace *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    return t;
}

static void glob_cache_clear(struct replay_trace *t)
{
    for (size_t i = 0; i < t->nglobs; i++) {
        free(t->globs[i].pattern);
        free(t->globs[i].members);
    }
    t->nglobs = 0;
}

static void series_free(struct series *s)
{
    free(s->name);
    free(s->ts);
    free(s->v);
    free(s->cum);
    free(s->bmin);
    free(s->bmax);
    free(s->smin);
    free(s->smax);
    free(s->err_ts);
}

void replay_trace_free(struct replay_trace *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        series_free(&t->s[i]);
    free(t->s);
    free(t->slots);
    free(t->staged);
    glob_cache_clear(t);
    free(t->globs);
    free(t);
}

static long lookup(const struct replay_trace *t, const char *name, uint64_t h)
{
    if (!t->nslots)
        return -1;
    for (size_t i = h & (t->nslots - 1);; i = (i + 1) & (t->nslots - 1)) {
        size_t k = t->slots[i];
        if (!k)
            return -1;
        const struct series *s = &t->s[k - 1];
        if (s->hash == h && strcmp(s->name, name) == 0)
            return (long)(k - 1);
    }
}

static void slots_insert(struct replay_trace *t, size_t idx)
{
    size_t i = t->s[idx].hash & (t->nslots - 1);
    while (t->slots[i])
        i = (i + 1) & (t->nslots - 1);
    t->slots[i] = idx + 1;
}

long replay_trace_find(const struct replay_trace *t, const char *metric)
{
    return lookup(t, metric, hash_name(metric));
}

size_t replay_trace_series(struct replay_trace *t, const char *metric)
{
    uint64_t h = hash_name(metric);
    long found = lookup(t, metric, h);
    if (found >= 0)
        return (size_t)found;
    vec_reserve_or_abort(t->s, t->cap, t->n + 1); /* see replay_trace_new */
    size_t idx = t->n++;
    t->s[idx] = (struct series){.name = util_strdup(metric), .hash = h};
    if (2 * t->n > t->nslots) { /* keep the table at most half full */
        free(t->slots);
        t->nslots = t->nslots ? 2 * t->nslots : 32;
        t->slots = calloc(t->nslots, sizeof *t->slots);
        if (!t->slots)
            abort();
        for (size_t i = 0; i < t->n; i++)
            slots_insert(t, i);
    } else {
        slots_insert(t, idx);
    }
    return idx;
}

size_t replay_trace_count(const struct replay_trace *t)
{
    return t->n;
}

const char *replay_trace_name(const struct replay_trace *t, size_t series)
{
    return series < t->n ? t->s[series].name : NULL;
}

static void series_grow(struct series *s, size_t cap)
{
    if (cap <= s->cap)
        return;
    size_t blocks = (cap >> BLOCK_SHIFT) + 1;
    size_t supers = (cap >> SUPER_SHIFT) + 1;
    vec_resize_or_abort(s->ts, cap);
    vec_resize_or_abort(s->v, cap);
    vec_resize_or_abort(s->cum, blocks + 1);
    vec_resize_or_abort(s->bmin, blocks);
    vec_resize_or_abort(s->bmax, blocks);
    vec_resize_or_abort(s->smin, supers);
    vec_resize_or_abort(s->smax, supers);
    if (s->cap == 0)
        s->cum[0] = 0;
    s->cap = cap;
}

void replay_trace_reserve(struct replay_trace *t, size_t series, size_t n)
{
    struct series *s = &t->s[series];
    series_grow(s, s->n + n);
}

static void append_good(struct series *s, int64_t ts, double v)
{
    if (s->n == s->cap)
        series_grow(s, s->cap ? 2 * s->cap : 256);
    size_t i = s->n++;
    size_t b = i >> BLOCK_SHIFT, sb = i >> SUPER_SHIFT;
    s->ts[i] = ts;
    s->v[i] = v;
    if ((i & (BLOCK - 1)) == 0) {
        s->cum[b + 1] = s->cum[b];
        s->bmin[b] = s->bmax[b] = v;
    } else {
        s->bmin[b] = min2(s->bmin[b], v);
        s->bmax[b] = max2(s->bmax[b], v);
    }
    s->cum[b + 1] += v;
    if ((i & ((1u << SUPER_SHIFT) - 1)) == 0) {
        s->smin[sb] = s->smax[sb] = v;
    } else {
        s->smin[sb] = min2(s->smin[sb], v);
        s->smax[sb] = max2(s->smax[sb], v);
    }
}

int replay_trace_append(struct replay_trace *t, size_t series, int64_t ts_ms, double value)
{
    struct series *s = &t->s[series];
    if (s->any && ts_ms <= s->last_ms)
        return -1;
    if (isnan(value)) {
        vec_reserve_or_abort(s->err_ts, s->cap_err, s->nerr + 1);
        s->err_ts[s->nerr++] = ts_ms;
    } else {
        append_good(s, ts_ms, value);
    }
    s->last_ms = ts_ms;
    s->any = true;
    return 0;
}

void replay_trace_reset(struct replay_trace *t, size_t series)
{
    struct series *s = &t->s[series];
    s->n = s->nerr = 0;
    s->cur = s->cur_err = 0;
    s->any = false;
    if (s->cap)
        s->cum[0] = 0;
}

void replay_trace_set_stale(struct replay_trace *t, size_t series, int64_t stale_ms)
{
    t->s[series].stale_ms = stale_ms;
}

/* ---- staged input ----------------------------------------------------------- */

void replay_trace_add(struct replay_trace *t, size_t series, int64_t ts_ms, double value,
                      uint32_t line)
{
    vec_reserve_or_abort(t->staged, t->cap_staged, t->nstaged + 1);
    t->staged[t->nstaged++] = (struct staged){ts_ms, value, series, line};
}

static int compare_staged(const void *a, const void *b)
{
    const struct staged *x = a, *y = b;
    if (x->series != y->series)
        return x->series < y->series ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

int replay_trace_finish(struct replay_trace *t, const char *name, char *err, size_t errlen)
{
    int rc = 0;
    if (t->nstaged)
        qsort(t->staged, t->nstaged, sizeof *t->staged, compare_staged);
    for (size_t i = 0; i < t->nstaged; i++) {
        const struct staged *r = &t->staged[i];
        struct series *s = &t->s[r->series];
        if (s->any && r->ts <= s->last_ms) {
            /* Sorted: the clash is with the previous staged row, or with a
             * sample appended before staging began. */
            char when[32];
            util_format_rfc3339(r->ts, when, sizeof when);
            if (i > 0 && t->staged[i - 1].series == r->series && t->staged[i - 1].ts == r->ts)
                rc = errf(err, errlen,
                          "%s:%u: metric '%s' has a second sample at %s (first at line %u)", name,
                          r->line, s->name, when, t->staged[i - 1].line);
            else
                rc = errf(err, errlen,
                          "%s:%u: metric '%s' at %s is not after its samples already loaded", name,
                          r->line, s->name, when);
            break;
        }
        replay_trace_append(t, r->series, r->ts, r->v);
    }
    free(t->staged);
    t->staged = NULL;
    t->nstaged = t->cap_staged = 0;
    return rc;
}

/* ---- whole-trace figures ------------------------------------------------------ */

static int compare_ms(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int64_t replay_trace_median_spacing(const struct replay_trace *t, size_t series)
{
    const struct series *s = &t->s[series];
    size_t total = s->n + s->nerr;
    if (total < 2)
        return 0;
    size_t gaps = total - 1;
    size_t step = gaps > SPACING_SAMPLES ? gaps / SPACING_SAMPLES : 1;
    int64_t *picked = malloc((gaps / step + 1) * sizeof *picked);
    if (!picked)
        abort();
    size_t npicked = 0;
    /* Walk good and error samples merged in time order. */
    size_t i = 0, j = 0, k = 0;
    int64_t prev = 0;
    while (i < s->n || j < s->nerr) {
        int64_t ts =
            j >= s->nerr || (i < s->n && s->ts[i] < s->err_ts[j]) ? s->ts[i++] : s->err_ts[j++];
        if (k > 0 && (k - 1) % step == 0)
            picked[npicked++] = ts - prev;
        prev = ts;
        k++;
    }
    qsort(picked, npicked, sizeof *picked, compare_ms);
    int64_t median = picked[npicked / 2];
    free(picked);
    return median;
}

int replay_trace_bounds(const struct replay_trace *t, int64_t *first_ms, int64_t *last_ms)
{
    bool any = false;
    for (size_t i = 0; i < t->n; i++) {
        const struct series *s = &t->s[i];
        if (!s->any)
            continue;
        int64_t first = s->n && (!s->nerr || s->ts[0] < s->err_ts[0]) ? s->ts[0] : s->err_ts[0];
        if (!any || first < *first_ms)
            *first_ms = first;
        if (!any || s->last_ms > *last_ms)
            *last_ms = s->last_ms;
        any = true;
    }
    return any ? 0 : -1;
}

uint64_t replay_trace_samples(const struct replay_trace *t)
{
    uint64_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->s[i].n + t->s[i].nerr;
    return n;
}

/* ---- queries ----------------------------------------------------------------- */

/* Number of entries of ts[0..n) that are <= at (the array is sorted). */
static size_t count_upto(const int64_t *ts, size_t n, int64_t at)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ts[mid] <= at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Number of entries of ts[0..n) that are < at. */
static size_t count_below(const int64_t *ts, size_t n, int64_t at)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ts[mid] < at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* count_upto with a cursor: ticks move forward a sample or two at a
 * time, so a short walk usually settles it. */
static size_t count_upto_cursor(const int64_t *ts, size_t n, size_t *cur, int64_t at)
{
    size_t c = *cur <= n ? *cur : n;
    if (c > 0 && ts[c - 1] > at) {
        c = count_upto(ts, c, at);
    } else {
        for (int steps = 0; c < n && ts[c] <= at; c++) {
            if (++steps == 8) {
                c += count_upto(ts + c, n - c, at);
                break;
            }
        }
    }
    *cur = c;
    return c;
}

/* The value rule of the header. Returns 1 with *out, or 0 (unknown). */
static int series_value(struct series *s, int64_t now, double *out)
{
    size_t g = count_upto_cursor(s->ts, s->n, &s->cur, now);
    if (g == 0)
        return 0;
    int64_t good_ts = s->ts[g - 1];
    size_t e = count_upto_cursor(s->err_ts, s->nerr, &s->cur_err, now);
    if (e > 0 && s->err_ts[e - 1] > good_ts)
        return 0; /* read error, until the next good sample */
    if (s->stale_ms > 0 && now - good_ts >= s->stale_ms)
        return 0;
    *out = s->v[g - 1];
    return 1;
}

static double scan_sum(const double *v, size_t lo, size_t hi)
{
    double sum = 0;
    for (size_t i = lo; i < hi; i++)
        sum += v[i];
    return sum;
}

static void scan_minmax(const double *v, size_t lo, size_t hi, double *mn, double *mx)
{
    double a = *mn, b = *mx;
    for (size_t i = lo; i < hi; i++) {
        a = min2(a, v[i]);
        b = max2(b, v[i]);
    }
    *mn = a;
    *mx = b;
}

/* Sum, min and max of the good samples [lo, hi), hi > lo. */
static void series_range(const struct series *s, size_t lo, size_t hi, struct pol_window *w)
{
    w->min = INFINITY;
    w->max = -INFINITY;
    size_t bl = (lo + BLOCK - 1) >> BLOCK_SHIFT; /* first whole block */
    size_t bh = hi >> BLOCK_SHIFT;               /* end of whole blocks */
    if (hi - lo <= 2 * BLOCK || bl >= bh) {
        w->sum = scan_sum(s->v, lo, hi);
        scan_minmax(s->v, lo, hi, &w->min, &w->max);
        return;
    }
    size_t head_end = bl << BLOCK_SHIFT, tail_start = bh << BLOCK_SHIFT;
    w->sum =
        scan_sum(s->v, lo, head_end) + (s->cum[bh] - s->cum[bl]) + scan_sum(s->v, tail_start, hi);
    scan_minmax(s->v, lo, head_end, &w->min, &w->max);
    scan_minmax(s->v, tail_start, hi, &w->min, &w->max);
    for (size_t b = bl; b < bh;) {
        if (b % BLOCKS_PER_SUPER == 0 && b + BLOCKS_PER_SUPER <= bh) {
            size_t sb = b / BLOCKS_PER_SUPER;
            w->min = min2(w->min, s->smin[sb]);
            w->max = max2(w->max, s->smax[sb]);
            b += BLOCKS_PER_SUPER;
        } else {
            w->min = min2(w->min, s->bmin[b]);
            w->max = max2(w->max, s->bmax[b]);
            b++;
        }
    }
}

/* ---- the env ------------------------------------------------------------------ */

void replay_trace_set_now(struct replay_trace *t, int64_t now_ms)
{
    t->now_ms = now_ms;
}

static int env_value(void *ctx, const char *metric, double *out)
{
    struct replay_trace *t = ctx;
    long i = replay_trace_find(t, metric);
    return i >= 0 && series_value(&t->s[i], t->now_ms, out);
}

/* The members of pattern, listed once per pattern and per set of series
 * (series are only ever added, so the count says whether it changed). */
static const struct glob_entry *glob_members(struct replay_trace *t, const char *pattern)
{
    if (t->globs_for != t->n) {
        glob_cache_clear(t);
        t->globs_for = t->n;
    }
    for (size_t i = 0; i < t->nglobs; i++)
        if (strcmp(t->globs[i].pattern, pattern) == 0)
            return &t->globs[i];
    vec_reserve_or_abort(t->globs, t->cap_globs, t->nglobs + 1);
    struct glob_entry *g = &t->globs[t->nglobs++];
    *g = (struct glob_entry){.pattern = util_strdup(pattern)};
    vec_resize_or_abort(g->members, t->n);
    for (size_t i = 0; i < t->n; i++)
        if (pol_glob_match(pattern, t->s[i].name))
            g->members[g->n++] = i;
    return g;
}

static int env_glob(void *ctx, const char *pattern, pol_member_fn each, void *each_ctx)
{
    struct replay_trace *t = ctx;
    const struct glob_entry *g = glob_members(t, pattern);
    for (size_t k = 0; k < g->n; k++) {
        struct series *s = &t->s[g->members[k]];
        double v = NAN;
        int good = series_value(s, t->now_ms, &v);
        each(each_ctx, s->name, good ? v : NAN, good);
    }
    return 0;
}

static int env_history(void *ctx, const char *metric, int64_t since_ms, int64_t until_ms,
                       struct pol_window *w)
{
    struct replay_trace *t = ctx;
    memset(w, 0, sizeof *w);
    long i = replay_trace_find(t, metric);
    if (i < 0 || until_ms < since_ms)
        return 0;
    const struct series *s = &t->s[i];
    size_t lo = count_below(s->ts, s->n, since_ms);
    size_t hi = count_upto(s->ts, s->n, until_ms);
    if (hi <= lo)
        return 0;
    w->n = hi - lo;
    w->first_ms = s->ts[lo];
    w->first = s->v[lo];
    w->last_ms = s->ts[hi - 1];
    w->last = s->v[hi - 1];
    series_range(s, lo, hi, w);
    return 0;
}

static int env_last_good(void *ctx, const char *metric, int64_t *ts_ms)
{
    struct replay_trace *t = ctx;
    long i = replay_trace_find(t, metric);
    if (i < 0)
        return 0;
    struct series *s = &t->s[i];
    size_t g = count_upto_cursor(s->ts, s->n, &s->cur, t->now_ms);
    if (g == 0)
        return 0;
    *ts_ms = s->ts[g - 1];
    return 1;
}

void replay_trace_env(struct replay_trace *t, struct pol_env *env)
{
    *env = (struct pol_env){
        .ctx = t,
        .value = env_value,
        .glob = env_glob,
        .history = env_history,
        .last_good = env_last_good,
    };
}
