/*
 * store_tier — the telemetry tiers of schema 8 (store.h, "tiers";
 * store_internal.h has the tables): compaction of the raw log into
 * per-minute chunks and rollups, hour rollups, retention per tier, and
 * reading one metric (store_query, store_window) or every metric
 * (store_history_read, for `floe replay --db`) across the tiers.
 *
 * Why time-major keys ((bucket, metric_id), and the log's rowid): the
 * writes of a minute all land at the right end of each B-tree, so a
 * commit touches a handful of pages however many metrics it carries, and
 * retention deletes a prefix of each tree. The price is on the read side:
 * one metric's rows are spread over every bucket. A read therefore never
 * scans a range of buckets for one metric; it walks the buckets with a
 * point lookup of (bucket, metric) each, and on a miss seeks the next
 * bucket that exists at all (so gaps cost one seek, not one per minute).
 * Minutes of folded hours are packed (schema 9): one lookup of (hour,
 * metric) gives its 60 minutes, merged with any rollup_minute rows of the
 * hour (the current hour, a schema 8 hour not yet packed, or a late
 * minute not yet repacked; a row wins over the pack's minute).
 *
 * Reads of one query run in one read transaction, so a compaction that
 * moves samples from the log into chunks between two statements is seen
 * either before or after, never half. Where one sample is held twice (the
 * log and a chunk after a late rewrite, or the legacy table), the newest
 * write wins: legacy table, then chunks, then log rows in insertion order.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/vec.h"
#include "store/store_codec.h"
#include "store/store_internal.h"

/* Times are clamped to this range before any bucket arithmetic, so that
 * INT64_MIN/INT64_MAX ranges ("everything") cannot overflow. */
#define TS_MIN (INT64_MIN / 4)
#define TS_MAX (INT64_MAX / 4)

/* Clamped first: times near the ends of int64 (never a clock's) must not
 * overflow. */
static int64_t floor_to(int64_t ts, int64_t width)
{
    ts = ts < TS_MIN ? TS_MIN : ts > TS_MAX ? TS_MAX : ts;
    int64_t r = ts % width;
    return ts - (r < 0 ? r + width : r);
}

static int64_t clamp_ts(int64_t ts)
{
    return ts < TS_MIN ? TS_MIN : ts > TS_MAX ? TS_MAX : ts;
}

static struct store_roll roll_one(int64_t ts, double v)
{
    return (struct store_roll){1, v, v, v, ts, ts, v, v};
}

/* ---- reading: statements ------------------------------------------------ */

enum { TIER_MINUTE, TIER_HOUR };
static const char *const roll_table[] = {"rollup_minute", "rollup_hour"};
static const int64_t roll_width[] = {STORE_MINUTE_MS, STORE_HOUR_MS};

struct store_tier_read {
    sqlite3 *db;
    const char *path;
    sqlite3_stmt *begin, *end, *metric_id, *meta_get;
    sqlite3_stmt *legacy_one, *legacy_all; /* NULL: no table `sample` */
    sqlite3_stmt *log_range;               /* NULL: schema before 8 */
    sqlite3_stmt *chunk_next, *chunk_get, *chunk_range;
    sqlite3_stmt *roll_next[2], *roll_get[2], *roll_range[2];
    sqlite3_stmt *pack_next, *pack_get, *pack_at; /* NULL: schema before 9 */
};

static sqlite3_stmt **tier_stmts(struct store_tier_read *t, size_t *n)
{
    /* The statement fields, in declaration order, after db and path. */
    *n = (sizeof *t - offsetof(struct store_tier_read, begin)) / sizeof(sqlite3_stmt *);
    return &t->begin;
}

void store_tier_read_free(struct store_tier_read *t)
{
    if (!t)
        return;
    size_t n;
    sqlite3_stmt **st = tier_stmts(t, &n);
    for (size_t i = 0; i < n; i++)
        sqlite3_finalize(st[i]);
    free(t);
}

/* Prepares sql into *st; a missing table (an older file) leaves it NULL. */
static int tier_prepare(struct store_tier_read *t, sqlite3_stmt **st, const char *sql, char *err,
                        size_t errlen)
{
    if (sqlite3_prepare_v3(t->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK)
        return 0;
    const char *msg = sqlite3_errmsg(t->db);
    if (strstr(msg, "no such table")) {
        *st = NULL;
        return 0;
    }
    return errf(err, errlen, "%s: prepare: %s", t->path, msg);
}

struct store_tier_read *store_tier_read_new(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    struct store_tier_read *t = calloc(1, sizeof *t);
    if (!t) {
        errf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    t->db = db;
    t->path = path;
    char get[3][160], next[3][128], range[3][200];
    for (int i = 0; i < 2; i++) {
        snprintf(get[i], sizeof get[i],
                 "SELECT " STORE_ROLL_COLS " FROM %s WHERE bucket = ?1 AND metric_id = ?2",
                 roll_table[i]);
        snprintf(next[i], sizeof next[i],
                 "SELECT bucket FROM %s WHERE bucket >= ?1 ORDER BY bucket LIMIT 1", roll_table[i]);
        snprintf(range[i], sizeof range[i],
                 "SELECT bucket, metric_id, " STORE_ROLL_COLS
                 " FROM %s WHERE bucket BETWEEN ?1 AND ?2",
                 roll_table[i]);
    }
    const struct {
        sqlite3_stmt **st;
        const char *sql;
    } defs[] = {
        {&t->begin, "BEGIN"},
        {&t->end, "COMMIT"},
        {&t->metric_id, "SELECT id FROM metric WHERE name = ?1"},
        {&t->meta_get, "SELECT value FROM meta WHERE key = ?1"},
        {&t->legacy_one, "SELECT metric_id, ts_ms, value FROM sample"
                         " WHERE metric_id = ?3 AND ts_ms BETWEEN ?1 AND ?2 ORDER BY ts_ms"},
        {&t->legacy_all,
         "SELECT metric_id, ts_ms, value FROM sample WHERE ts_ms BETWEEN ?1 AND ?2"},
        {&t->log_range,
         "SELECT data FROM sample_log WHERE t_max >= ?1 AND t_min <= ?2 ORDER BY id"},
        {&t->chunk_next, "SELECT bucket FROM raw_chunk WHERE bucket >= ?1 ORDER BY bucket LIMIT 1"},
        {&t->chunk_get, "SELECT data FROM raw_chunk WHERE bucket = ?1 AND metric_id = ?2"},
        {&t->chunk_range, "SELECT data FROM raw_chunk WHERE bucket BETWEEN ?1 AND ?2"},
        {&t->roll_next[0], next[0]},
        {&t->roll_get[0], get[0]},
        {&t->roll_range[0], range[0]},
        {&t->roll_next[1], next[1]},
        {&t->roll_get[1], get[1]},
        {&t->roll_range[1], range[1]},
        {&t->pack_next,
         "SELECT bucket FROM rollup_minute_pack WHERE bucket >= ?1 ORDER BY bucket LIMIT 1"},
        {&t->pack_get, "SELECT data FROM rollup_minute_pack WHERE bucket = ?1 AND metric_id = ?2"},
        {&t->pack_at, "SELECT metric_id, data FROM rollup_minute_pack WHERE bucket = ?1"},
    };
    for (size_t i = 0; i < ARRAY_LEN(defs); i++) {
        if (tier_prepare(t, defs[i].st, defs[i].sql, err, errlen) < 0) {
            store_tier_read_free(t);
            return NULL;
        }
    }
    if (!t->begin || !t->end) {
        errf(err, errlen, "%s: prepare: %s", path, sqlite3_errmsg(db));
        store_tier_read_free(t);
        return NULL;
    }
    return t;
}

/* ---- reading: gathering the items of a range ------------------------ */

/* One item of history: a raw sample (n 1; n 0 for a failed read, value
 * NaN) or a rollup row, stamped ts (the sample's time or the bucket start). */
typedef int (*emit_fn)(void *ctx, int64_t metric, int64_t ts, const struct store_roll *r);

struct gather {
    struct store_tier_read *t;
    int64_t metric;   /* -1: every metric */
    bool keep_failed; /* emit failed reads too */
    emit_fn emit;     /* returns 0 to go on, 1 to stop, -1 on error */
    void *ctx;
    bool stopped;
    char *err;
    size_t errlen;
};

static int gather_fail(struct gather *g, const char *what)
{
    return errf(g->err, g->errlen, "%s: %s: %s", g->t->path, what, sqlite3_errmsg(g->t->db));
}

/* Step st to its row; 1 row, 0 none, -1 error (reset in every case). */
static int step_int(struct gather *g, sqlite3_stmt *st, int64_t *v, bool *null)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *null = sqlite3_column_type(st, 0) == SQLITE_NULL;
        *v = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return gather_fail(g, "read history");
    return rc == SQLITE_ROW;
}

/* The first bucket >= from that exists in the table of next, or 0 none. */
static int next_bucket(struct gather *g, sqlite3_stmt *next, int64_t from, int64_t *bucket)
{
    bool null = false;
    sqlite3_bind_int64(next, 1, from);
    int rc = step_int(g, next, bucket, &null);
    return rc == 1 && null ? 0 : rc;
}

/* Calls visit for the row of each bucket in [a, b] that holds g->metric,
 * by point lookups (see the top of the file). */
static int walk_buckets(struct gather *g, sqlite3_stmt *next, sqlite3_stmt *get, int64_t width,
                        int64_t a, int64_t b,
                        int (*visit)(struct gather *g, sqlite3_stmt *row, int64_t bucket))
{
    int64_t cur = a;
    while (cur <= b && !g->stopped) {
        sqlite3_bind_int64(get, 1, cur);
        sqlite3_bind_int64(get, 2, g->metric);
        int rc = sqlite3_step(get);
        if (rc == SQLITE_ROW) {
            int v = visit(g, get, cur);
            sqlite3_reset(get);
            if (v < 0)
                return -1;
            cur += width;
            continue;
        }
        sqlite3_reset(get);
        if (rc != SQLITE_DONE)
            return gather_fail(g, "read history");
        int64_t found;
        int n = next_bucket(g, next, cur, &found);
        if (n <= 0)
            return n;
        cur = found == cur ? cur + width : found;
    }
    return 0;
}

static int emit(struct gather *g, int64_t metric, int64_t ts, const struct store_roll *r)
{
    int rc = g->emit(g->ctx, metric, ts, r);
    if (rc > 0)
        g->stopped = true;
    return rc < 0 ? -1 : 0;
}

static int visit_roll(struct gather *g, sqlite3_stmt *row, int64_t bucket)
{
    struct store_roll r = store_roll_columns(row, 0);
    return r.n > 0 ? emit(g, g->metric, bucket, &r) : 0;
}

/* Rollup rows of tier with bucket start in [a, b], in time order. */
static int roll_segment(struct gather *g, int tier, int64_t a, int64_t b)
{
    struct store_tier_read *t = g->t;
    if (!t->roll_get[tier])
        return 0;
    if (g->metric >= 0)
        return walk_buckets(g, t->roll_next[tier], t->roll_get[tier], roll_width[tier], a, b,
                            visit_roll);
    sqlite3_stmt *st = t->roll_range[tier];
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    int rc;
    while (!g->stopped && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_roll r = store_roll_columns(st, 2);
        if (r.n > 0 && emit(g, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 0), &r) < 0) {
            sqlite3_reset(st);
            return -1;
        }
    }
    sqlite3_reset(st);
    if (!g->stopped && rc != SQLITE_DONE)
        return gather_fail(g, "read history");
    return 0;
}

/* ---- reading: packed minutes ------------------------------------------- */

/* A minute rollup of the hour being read: from a pack (src 0) or a
 * rollup_minute row (src 1: a late minute not yet repacked, it wins). */
struct minute_item {
    int64_t bucket, metric;
    int src;
    struct store_roll r;
};

struct minute_items {
    struct minute_item *v;
    size_t n, cap;
    bool oom;
};

static int minute_item_cmp(const void *pa, const void *pb)
{
    const struct minute_item *a = pa, *b = pb;
    if (a->bucket != b->bucket)
        return a->bucket < b->bucket ? -1 : 1;
    if (a->metric != b->metric)
        return a->metric < b->metric ? -1 : 1;
    return a->src - b->src;
}

static int minute_item_push(struct minute_items *m, int64_t bucket, int64_t metric, int src,
                            const struct store_roll *r)
{
    if (vec_reserve(m->v, m->cap, m->n + 1) < 0) {
        m->oom = true;
        return -1;
    }
    m->v[m->n++] = (struct minute_item){bucket, metric, src, *r};
    return 0;
}

/* emit_fn collecting the rollup_minute rows of an hour. */
static int collect_emit(void *ctx, int64_t metric, int64_t ts, const struct store_roll *r)
{
    return minute_item_push(ctx, ts, metric, 1, r);
}

/* Unpacks the pack of hour h (column col of st) into m, minutes in [a, b]. */
static int minute_unpack(struct gather *g, struct minute_items *m, sqlite3_stmt *st, int col,
                         int64_t metric, int64_t h, int64_t a, int64_t b)
{
    struct store_pack_roll rolls[STORE_PACK_SLOTS_MAX];
    size_t n = 0;
    char msg[160];
    if (store_codec_unpack(sqlite3_column_blob(st, col), (size_t)sqlite3_column_bytes(st, col), h,
                           STORE_MINUTE_MS, STORE_PACK_MINUTES, rolls, &n, msg, sizeof msg) < 0)
        return errf(g->err, g->errlen, "%s: read history: minutes of hour %lld of metric %lld: %s",
                    g->t->path, (long long)h, (long long)metric, msg);
    for (size_t i = 0; i < n; i++) {
        struct store_roll r = store_roll_of_pack(&rolls[i]);
        if (rolls[i].bucket >= a && rolls[i].bucket <= b &&
            minute_item_push(m, rolls[i].bucket, metric, 0, &r) < 0)
            return errf(g->err, g->errlen, "%s: read history: out of memory", g->t->path);
    }
    return 0;
}

/* The packs of hour h in m: one point lookup for one metric, or every
 * metric's. */
static int minute_packs(struct gather *g, struct minute_items *m, int64_t h, int64_t a, int64_t b)
{
    struct store_tier_read *t = g->t;
    sqlite3_stmt *st = g->metric >= 0 ? t->pack_get : t->pack_at;
    sqlite3_bind_int64(st, 1, h);
    if (g->metric >= 0)
        sqlite3_bind_int64(st, 2, g->metric);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t metric = g->metric >= 0 ? g->metric : sqlite3_column_int64(st, 0);
        if (minute_unpack(g, m, st, g->metric >= 0 ? 0 : 1, metric, h, a, b) < 0) {
            sqlite3_reset(st);
            return -1;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : gather_fail(g, "read history");
}

static int roll_segment(struct gather *g, int tier, int64_t a, int64_t b);

/* Minute rollups with bucket start in [a, b], in time order: hour by hour,
 * the hour's packs and its rollup_minute rows, merged. An hour with
 * nothing of the metric seeks the next hour that has anything. */
static int minute_segment(struct gather *g, int64_t a, int64_t b)
{
    struct store_tier_read *t = g->t;
    if (!t->pack_get)
        return roll_segment(g, TIER_MINUTE, a, b);
    struct minute_items m = {0};
    int rc = -1;
    int64_t h = floor_to(a, STORE_HOUR_MS);
    while (h <= b && !g->stopped) {
        int64_t lo = a > h ? a : h, hi = b < h + STORE_HOUR_MS - 1 ? b : h + STORE_HOUR_MS - 1;
        m.n = 0;
        if (minute_packs(g, &m, h, lo, hi) < 0)
            goto out;
        struct gather rows = *g;
        rows.emit = collect_emit;
        rows.ctx = &m;
        if (roll_segment(&rows, TIER_MINUTE, lo, hi) < 0) {
            if (m.oom)
                errf(g->err, g->errlen, "%s: read history: out of memory", t->path);
            goto out;
        }
        if (m.n > 1)
            qsort(m.v, m.n, sizeof *m.v, minute_item_cmp);
        for (size_t i = 0; i < m.n && !g->stopped; i++) {
            const struct minute_item *it = &m.v[i];
            if (i + 1 < m.n && m.v[i + 1].bucket == it->bucket && m.v[i + 1].metric == it->metric)
                continue;
            if (it->r.n > 0 && emit(g, it->metric, it->bucket, &it->r) < 0)
                goto out;
        }
        if (m.n > 0 || h > b - STORE_HOUR_MS) {
            h += STORE_HOUR_MS;
            continue;
        }
        int64_t np = 0, nr = 0;
        int fp = next_bucket(g, t->pack_next, h + STORE_HOUR_MS, &np);
        int fr = fp < 0 ? -1 : next_bucket(g, t->roll_next[TIER_MINUTE], h + STORE_HOUR_MS, &nr);
        if (fp < 0 || fr < 0)
            goto out;
        if (!fp && !fr)
            break;
        int64_t next = !fp ? nr : !fr ? np : np < nr ? np : nr;
        h = floor_to(next, STORE_HOUR_MS);
    }
    rc = 0;
out:
    free(m.v);
    return rc;
}

/* Raw samples collected from the sources of the raw tier, before merging. */
struct raw_pt {
    int64_t metric, ts;
    size_t seq; /* order of collection: a later one is a newer write */
    double value;
};

struct raw_set {
    struct raw_pt *pts;
    size_t n, cap;
    struct store_rec *recs; /* decoding scratch */
    size_t nrecs, caprecs;
    int64_t a, b; /* the range kept */
};

static int raw_push(struct raw_set *rs, int64_t metric, int64_t ts, double value)
{
    if (ts < rs->a || ts > rs->b)
        return 0;
    if (vec_reserve(rs->pts, rs->cap, rs->n + 1) < 0)
        return -1;
    rs->pts[rs->n] = (struct raw_pt){metric, ts, rs->n, value};
    rs->n++;
    return 0;
}

/* Decodes a blob column and keeps its samples of g->metric in range. */
static int raw_push_blob(struct gather *g, struct raw_set *rs, sqlite3_stmt *st, int col)
{
    const uint8_t *data = sqlite3_column_blob(st, col);
    size_t len = (size_t)sqlite3_column_bytes(st, col);
    char msg[128];
    rs->nrecs = 0;
    if (store_codec_decode(data, len, g->metric, &rs->recs, &rs->nrecs, &rs->caprecs, msg,
                           sizeof msg) < 0)
        return errf(g->err, g->errlen, "%s: read history: %s", g->t->path, msg);
    for (size_t i = 0; i < rs->nrecs; i++)
        if (raw_push(rs, rs->recs[i].metric_id, rs->recs[i].ts_ms, rs->recs[i].value) < 0)
            return errf(g->err, g->errlen, "%s: read history: out of memory", g->t->path);
    return 0;
}

/* walk_buckets' visitor for chunks: g->ctx is the emit context, so the
 * raw set travels in a wrapper around g. */
struct chunk_walk {
    struct gather g;
    struct raw_set *rs;
};

static int visit_chunk(struct gather *g, sqlite3_stmt *row, int64_t bucket)
{
    (void)bucket;
    struct chunk_walk *w = (struct chunk_walk *)g;
    return raw_push_blob(g, w->rs, row, 0);
}

/* Runs st (bound by the caller) and pushes each row's blob (column 0). */
static int raw_rows(struct gather *g, struct raw_set *rs, sqlite3_stmt *st)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (raw_push_blob(g, rs, st, 0) < 0) {
            sqlite3_reset(st);
            return -1;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : gather_fail(g, "read history");
}

static int raw_legacy(struct gather *g, struct raw_set *rs)
{
    sqlite3_stmt *st = g->metric >= 0 ? g->t->legacy_one : g->t->legacy_all;
    if (!st)
        return 0;
    sqlite3_bind_int64(st, 1, rs->a);
    sqlite3_bind_int64(st, 2, rs->b);
    if (g->metric >= 0)
        sqlite3_bind_int64(st, 3, g->metric);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int type = sqlite3_column_type(st, 2);
        if (type != SQLITE_NULL && type != SQLITE_INTEGER && type != SQLITE_FLOAT) {
            errf(g->err, g->errlen, "%s: metric id %lld has a non-numeric value at ts_ms %lld",
                 g->t->path, (long long)sqlite3_column_int64(st, 0),
                 (long long)sqlite3_column_int64(st, 1));
            sqlite3_reset(st);
            return -1;
        }
        double v = type == SQLITE_NULL ? NAN : sqlite3_column_double(st, 2);
        if (raw_push(rs, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), v) < 0) {
            sqlite3_reset(st);
            return errf(g->err, g->errlen, "%s: read history: out of memory", g->t->path);
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : gather_fail(g, "read history");
}

static int raw_pt_cmp(const void *pa, const void *pb)
{
    const struct raw_pt *a = pa, *b = pb;
    if (a->metric != b->metric)
        return a->metric < b->metric ? -1 : 1;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Raw samples in [a, b]: the legacy table, the chunks, the log. */
static int raw_segment(struct gather *g, int64_t a, int64_t b)
{
    struct store_tier_read *t = g->t;
    struct raw_set rs = {.a = a, .b = b};
    int rc = -1;
    if (raw_legacy(g, &rs) < 0)
        goto out;
    if (t->chunk_get) {
        int64_t first = floor_to(a, STORE_MINUTE_MS);
        if (g->metric >= 0) {
            struct chunk_walk w = {.g = *g, .rs = &rs};
            if (walk_buckets(&w.g, t->chunk_next, t->chunk_get, STORE_MINUTE_MS, first, b,
                             visit_chunk) < 0)
                goto out;
        } else {
            sqlite3_bind_int64(t->chunk_range, 1, first);
            sqlite3_bind_int64(t->chunk_range, 2, b);
            if (raw_rows(g, &rs, t->chunk_range) < 0)
                goto out;
        }
    }
    if (t->log_range) {
        sqlite3_bind_int64(t->log_range, 1, a);
        sqlite3_bind_int64(t->log_range, 2, b);
        if (raw_rows(g, &rs, t->log_range) < 0)
            goto out;
    }
    if (rs.n > 1)
        qsort(rs.pts, rs.n, sizeof *rs.pts, raw_pt_cmp);
    for (size_t i = 0; i < rs.n && !g->stopped; i++) {
        const struct raw_pt *p = &rs.pts[i];
        /* Of one metric's samples at one time, the newest write wins. */
        if (i + 1 < rs.n && rs.pts[i + 1].metric == p->metric && rs.pts[i + 1].ts == p->ts)
            continue;
        struct store_roll r = {0};
        if (!isnan(p->value))
            r = roll_one(p->ts, p->value);
        else if (!g->keep_failed)
            continue;
        if (emit(g, p->metric, p->ts, &r) < 0)
            goto out;
    }
    rc = 0;
out:
    free(rs.pts);
    free(rs.recs);
    return rc;
}

/* Where the raw and minute tiers begin (INT64_MIN: everything). */
static int tier_horizon(struct gather *g, const char *key, int64_t *out)
{
    *out = INT64_MIN;
    if (!g->t->meta_get)
        return 0;
    bool null = true;
    int64_t v;
    sqlite3_bind_text(g->t->meta_get, 1, key, -1, SQLITE_STATIC);
    int rc = step_int(g, g->t->meta_get, &v, &null);
    if (rc < 0)
        return -1;
    if (rc == 1 && !null)
        *out = v;
    return 0;
}

/* Emits the items of [since, until] in time order per metric: hour
 * rollups before the minute tier's start, minute rollups before the raw
 * tier's start, raw samples after. */
static int gather_run(struct gather *g, int64_t since, int64_t until)
{
    struct store_tier_read *t = g->t;
    since = clamp_ts(since);
    until = clamp_ts(until);
    if (sqlite3_step(t->begin) != SQLITE_DONE) {
        sqlite3_reset(t->begin);
        return gather_fail(g, "read history");
    }
    sqlite3_reset(t->begin);
    int rc = -1;
    int64_t raw_from, minute_from;
    if (tier_horizon(g, "raw_from", &raw_from) < 0 ||
        tier_horizon(g, "minute_from", &minute_from) < 0)
        goto out;
    if (minute_from > raw_from)
        minute_from = raw_from;
    if (since < minute_from &&
        roll_segment(g, TIER_HOUR, since, until < minute_from ? until : minute_from - 1) < 0)
        goto out;
    if (!g->stopped && since < raw_from && until >= minute_from &&
        minute_segment(g, since > minute_from ? since : minute_from,
                       until < raw_from ? until : raw_from - 1) < 0)
        goto out;
    if (!g->stopped && until >= raw_from &&
        raw_segment(g, since > raw_from ? since : raw_from, until) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_step(t->end);
    sqlite3_reset(t->end);
    return rc;
}

/* The id of metric into *id: 1 found, 0 unknown, -1 error. */
static int metric_lookup(struct gather *g, const char *metric, int64_t *id)
{
    bool null;
    sqlite3_bind_text(g->t->metric_id, 1, metric, -1, SQLITE_STATIC);
    return step_int(g, g->t->metric_id, id, &null);
}

/* ---- store_query, store_window --------------------------------------- */

struct query_ctx {
    int64_t step;
    size_t max;
    struct store_point *pts;
    size_t n, cap;
    int64_t bucket; /* the step bucket being summed */
    double sum;
    int64_t count;
    bool oom;
};

static int query_push(struct query_ctx *q, int64_t ts, double v)
{
    if (vec_reserve(q->pts, q->cap, q->n + 1) < 0) {
        q->oom = true;
        return -1;
    }
    q->pts[q->n++] = (struct store_point){ts, v};
    return q->n >= q->max ? 1 : 0;
}

static int query_emit(void *ctx, int64_t metric, int64_t ts, const struct store_roll *r)
{
    (void)metric;
    struct query_ctx *q = ctx;
    if (r->n == 0)
        return 0;
    if (q->step == 0)
        return query_push(q, ts, r->n == 1 ? r->sum : r->sum / (double)r->n);
    int64_t bucket = floor_to(ts, q->step);
    int rc = 0;
    if (q->count > 0 && bucket != q->bucket) {
        rc = query_push(q, q->bucket, q->sum / (double)q->count);
        q->count = 0;
        q->sum = 0;
    }
    q->bucket = bucket;
    q->sum += r->sum;
    q->count += r->n;
    return rc;
}

int store_query(struct store *s, const char *metric, int64_t since_ms, int64_t until_ms,
                int64_t step_ms, size_t max_points, struct store_point **out, size_t *n, char *err,
                size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (step_ms < 0)
        return errf(err, errlen, "step must not be negative");
    if (since_ms > until_ms || max_points == 0)
        return 0;
    struct query_ctx q = {.step = step_ms, .max = max_points};
    struct gather g = {.t = s->tiers, .emit = query_emit, .ctx = &q, .err = err, .errlen = errlen};
    pthread_mutex_lock(&s->read_lock);
    int rc = metric_lookup(&g, metric, &g.metric);
    if (rc == 1)
        rc = gather_run(&g, since_ms, until_ms);
    pthread_mutex_unlock(&s->read_lock);
    if (rc >= 0 && q.count > 0 && q.n < q.max &&
        query_push(&q, q.bucket, q.sum / (double)q.count) < 0)
        rc = -1;
    if (q.oom)
        rc = errf(err, errlen, "%s: query %s: out of memory", s->path, metric);
    if (rc < 0) {
        free(q.pts);
        return -1;
    }
    if (q.n == 0) {
        free(q.pts);
        q.pts = NULL;
    }
    *out = q.pts;
    *n = q.n;
    return 0;
}

static int window_emit(void *ctx, int64_t metric, int64_t ts, const struct store_roll *r)
{
    (void)metric;
    (void)ts;
    store_roll_merge(ctx, r);
    return 0;
}

int store_window(struct store *s, const char *metric, int64_t since_ms, int64_t until_ms,
                 struct store_window *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    if (since_ms > until_ms)
        return 0;
    struct store_roll r = {0};
    struct gather g = {.t = s->tiers, .emit = window_emit, .ctx = &r, .err = err, .errlen = errlen};
    pthread_mutex_lock(&s->read_lock);
    int rc = metric_lookup(&g, metric, &g.metric);
    if (rc == 1)
        rc = gather_run(&g, since_ms, until_ms);
    pthread_mutex_unlock(&s->read_lock);
    if (rc < 0)
        return -1;
    w->n = (size_t)r.n;
    if (r.n > 0) {
        w->sum = r.sum;
        w->min = r.min;
        w->max = r.max;
        w->first_ms = r.first_ts;
        w->first = r.first;
        w->last_ms = r.last_ts;
        w->last = r.last;
    }
    return 0;
}

/* ---- store_history_read ----------------------------------------------- */

struct name_of {
    int64_t id;
    char *name;
};

struct history_ctx {
    struct name_of *names;
    size_t n;
    int (*each)(void *ctx, const char *metric, int64_t ts_ms, double value);
    void *ctx;
    const char *path;
    char *err;
    size_t errlen;
    bool bad_name;
};

static int name_cmp(const void *pa, const void *pb)
{
    const struct name_of *a = pa, *b = pb;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int history_emit(void *ctx, int64_t metric, int64_t ts, const struct store_roll *r)
{
    struct history_ctx *h = ctx;
    struct name_of key = {.id = metric};
    const struct name_of *found = bsearch(&key, h->names, h->n, sizeof *h->names, name_cmp);
    if (!found || !util_metric_name_valid(found->name)) {
        errf(h->err, h->errlen, "%s: metric id %lld has a bad name", h->path, (long long)metric);
        h->bad_name = true;
        return -1;
    }
    double v = r->n == 0 ? NAN : r->n == 1 ? r->sum : r->sum / (double)r->n;
    return h->each(h->ctx, found->name, ts, v) < 0 ? 1 : 0;
}

static int history_names(sqlite3 *db, struct history_ctx *h)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    if (sqlite3_prepare_v2(db, "SELECT id, name FROM metric ORDER BY id", -1, &st, NULL) !=
        SQLITE_OK)
        return errf(h->err, h->errlen, "%s: not a floe database? %s", h->path, sqlite3_errmsg(db));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(st, 1);
        if (vec_reserve(h->names, cap, h->n + 1) < 0) {
            sqlite3_finalize(st);
            return errf(h->err, h->errlen, "%s: out of memory", h->path);
        }
        h->names[h->n].id = sqlite3_column_int64(st, 0);
        h->names[h->n].name = util_strdup(name ? (const char *)name : "");
        h->n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return errf(h->err, h->errlen, "%s: %s", h->path, sqlite3_errmsg(db));
    return 0;
}

int store_history_read(const char *path, int64_t from_ms, int64_t to_ms,
                       int (*each)(void *ctx, const char *metric, int64_t ts_ms, double value),
                       void *ctx, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    struct store_tier_read *t = NULL;
    struct history_ctx h = {.each = each, .ctx = ctx, .path = path, .err = err, .errlen = errlen};
    int rc = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        errf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    /* The agent may be writing: wait for its transaction rather than fail. */
    sqlite3_busy_timeout(db, 5000);
    if (history_names(db, &h) < 0 || !(t = store_tier_read_new(db, path, err, errlen)))
        goto out;
    if (!t->legacy_all && !t->log_range) {
        errf(err, errlen, "%s: not a floe database? no such table: sample", path);
        goto out;
    }
    struct gather g = {.t = t,
                       .metric = -1,
                       .keep_failed = true,
                       .emit = history_emit,
                       .ctx = &h,
                       .err = err,
                       .errlen = errlen};
    rc = from_ms > to_ms ? 0 : gather_run(&g, from_ms, to_ms);
    if (g.stopped && !h.bad_name)
        rc = -1;
out:
    store_tier_read_free(t);
    for (size_t i = 0; i < h.n; i++)
        free(h.names[i].name);
    free(h.names);
    sqlite3_close(db);
    return rc;
}
