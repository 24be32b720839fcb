/*
 * store_compact — the writing side of the telemetry tiers (store.h,
 * "tiers"): compaction of closed minutes of the raw log into per-minute
 * chunks and rollups, folding of closed hours, and retention per tier.
 * Reading is store_tier.c.
 *
 * Compaction, one transaction at a time (so a crash between any two steps
 * leaves either the log rows or their chunks and rollups, never both and
 * never neither):
 *   1. the close line is the newest sample's minute, minus the grace; the
 *      log rows whose samples all lie before it are taken, oldest first;
 *   2. their samples are grouped per (minute, metric) and merged into the
 *      minute's chunk (a chunk already there, from a late sample or a
 *      batch that spanned the previous close, is decoded and merged; of
 *      two samples at one time the newer write wins), and the minute's
 *      rollup is rewritten from the merged chunk;
 *   3. the log rows are deleted;
 *   4. each hour that ended a minute or more before the close line is
 *      folded from its minute rollups into rollup_hour (meta 'hour_next'
 *      remembers how far), and an hour already folded that received a
 *      late minute is folded again; folding packs the hour's minute
 *      rollups of each metric into one rollup_minute_pack row and deletes
 *      its rollup_minute rows (a late minute of a packed hour is first
 *      merged with its packed rollup, then repacked by the refold).
 * Statements are prepared per call: compaction runs once a minute and
 * retention once an hour.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/vec.h"
#include "store/store_codec.h"
#include "store/store_internal.h"

#define TS_MIN (INT64_MIN / 4)
#define TS_MAX (INT64_MAX / 4)

#define COMPACT_ROWS 600
/* Hours of an upgraded schema 8 database packed per compaction step. */
#define PACK_OLD_HOURS 4

#define RETENTION_RAW_SPAN (10 * (int64_t)STORE_MINUTE_MS)
#define RETENTION_MINUTE_SPAN ((int64_t)STORE_HOUR_MS)
#define RETENTION_HOUR_SPAN (24 * (int64_t)STORE_HOUR_MS)

/* Clamped first: times near the ends of int64 (never a clock's) must not
 * overflow. */
static int64_t floor_to(int64_t ts, int64_t width)
{
    ts = ts < TS_MIN ? TS_MIN : ts > TS_MAX ? TS_MAX : ts;
    int64_t r = ts % width;
    return ts - (r < 0 ? r + width : r);
}

/* ---- statements of one transaction ------------------------------------ */

struct stmts {
    struct store *s;
    sqlite3_stmt *list[32]; /* prepared by prep, finalized by stmts_free */
    size_t n;
    char *err;
    size_t errlen;
};

static int prep(struct stmts *c, sqlite3_stmt **st, const char *sql)
{
    *st = store_prepare(c->s, c->s->writer, sql, c->err, c->errlen);
    if (!*st)
        return -1;
    c->list[c->n++] = *st;
    return 0;
}

static void stmts_free(struct stmts *c)
{
    for (size_t i = 0; i < c->n; i++)
        sqlite3_finalize(c->list[i]);
    c->n = 0;
}

static int fail(struct stmts *c, const char *what)
{
    return store_fail(c->s, c->s->writer, what, c->err, c->errlen);
}

/* Runs st to completion and resets it; 0 or -1. */
static int run(struct stmts *c, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(c, what);
}

/* One integer from st's first row: 1 (non-NULL), 0 (no row or NULL), -1. */
static int one_int(struct stmts *c, sqlite3_stmt *st, int64_t *v, const char *what)
{
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    if (found)
        *v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(c, what);
    return found;
}

static int exec(struct stmts *c, const char *sql)
{
    if (sqlite3_exec(c->s->writer, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(c, sql);
    return 0;
}

/* ---- summaries ------------------------------------------------------- */

void store_roll_add(struct store_roll *r, int64_t ts, double v)
{
    if (r->n++ == 0) {
        *r = (struct store_roll){1, v, v, v, ts, ts, v, v};
        return;
    }
    r->sum += v;
    r->min = v < r->min ? v : r->min;
    r->max = v > r->max ? v : r->max;
    if (ts < r->first_ts) {
        r->first_ts = ts;
        r->first = v;
    }
    if (ts >= r->last_ts) {
        r->last_ts = ts;
        r->last = v;
    }
}

void store_roll_merge(struct store_roll *a, const struct store_roll *b)
{
    if (b->n == 0)
        return;
    if (a->n == 0) {
        *a = *b;
        return;
    }
    a->n += b->n;
    a->sum += b->sum;
    a->min = b->min < a->min ? b->min : a->min;
    a->max = b->max > a->max ? b->max : a->max;
    if (b->first_ts < a->first_ts) {
        a->first_ts = b->first_ts;
        a->first = b->first;
    }
    if (b->last_ts >= a->last_ts) {
        a->last_ts = b->last_ts;
        a->last = b->last;
    }
}

struct store_roll store_roll_columns(sqlite3_stmt *st, int col)
{
    return (struct store_roll){.n = sqlite3_column_int64(st, col),
                               .min = sqlite3_column_double(st, col + 1),
                               .sum = sqlite3_column_double(st, col + 2),
                               .max = sqlite3_column_double(st, col + 3),
                               .first_ts = sqlite3_column_int64(st, col + 4),
                               .first = sqlite3_column_double(st, col + 5),
                               .last_ts = sqlite3_column_int64(st, col + 6),
                               .last = sqlite3_column_double(st, col + 7)};
}

void store_roll_bind(sqlite3_stmt *st, int col, const struct store_roll *r)
{
    sqlite3_bind_int64(st, col, r->n);
    sqlite3_bind_double(st, col + 1, r->min);
    sqlite3_bind_double(st, col + 2, r->sum);
    sqlite3_bind_double(st, col + 3, r->max);
    sqlite3_bind_int64(st, col + 4, r->first_ts);
    sqlite3_bind_double(st, col + 5, r->first);
    sqlite3_bind_int64(st, col + 6, r->last_ts);
    sqlite3_bind_double(st, col + 7, r->last);
}

/* ---- folding hours ------------------------------------------------------ */

/* A minute rollup of the hour being folded: from its pack (src 0) or a
 * rollup_minute row (src 1, newer: it wins over the pack's minute). */
struct minute_roll {
    int64_t metric, bucket;
    int src;
    struct store_roll r;
};

static int minute_roll_cmp(const void *pa, const void *pb)
{
    const struct minute_roll *a = pa, *b = pb;
    if (a->metric != b->metric)
        return a->metric < b->metric ? -1 : 1;
    if (a->bucket != b->bucket)
        return a->bucket < b->bucket ? -1 : 1;
    return a->src - b->src;
}

struct fold_stmts {
    sqlite3_stmt *minutes, *packs, *del, *put, *pack_put, *minutes_del;
};

/* Rewrites rollup_hour's rows of hour h from its minute rollups (packed
 * and unpacked), writes the hour's packs and deletes its rollup_minute
 * rows: one step of the caller's transaction, so a crash leaves either
 * the rows or the packs. */
static int fold_hour(struct stmts *c, const struct fold_stmts *f, int64_t h)
{
    struct minute_roll *rows = NULL;
    struct store_pack_roll unpacked[STORE_PACK_SLOTS_MAX];
    size_t n = 0, cap = 0, nun;
    char msg[160];
    int rc;
    sqlite3_bind_int64(f->packs, 1, h);
    while ((rc = sqlite3_step(f->packs)) == SQLITE_ROW) {
        int64_t metric = sqlite3_column_int64(f->packs, 0);
        if (store_codec_unpack(sqlite3_column_blob(f->packs, 1),
                               (size_t)sqlite3_column_bytes(f->packs, 1), h, STORE_MINUTE_MS,
                               STORE_PACK_MINUTES, unpacked, &nun, msg, sizeof msg) < 0) {
            sqlite3_reset(f->packs);
            free(rows);
            return errf(c->err, c->errlen, "%s: compact: minutes of hour %lld of metric %lld: %s",
                        c->s->path, (long long)h, (long long)metric, msg);
        }
        if (vec_reserve(rows, cap, n + nun) < 0)
            break;
        for (size_t k = 0; k < nun; k++)
            rows[n++] = (struct minute_roll){metric, unpacked[k].bucket, 0,
                                             store_roll_of_pack(&unpacked[k])};
    }
    sqlite3_reset(f->packs);
    if (rc == SQLITE_DONE) {
        sqlite3_bind_int64(f->minutes, 1, h);
        sqlite3_bind_int64(f->minutes, 2, h + STORE_HOUR_MS);
        while ((rc = sqlite3_step(f->minutes)) == SQLITE_ROW) {
            if (vec_reserve(rows, cap, n + 1) < 0)
                break;
            rows[n++] = (struct minute_roll){sqlite3_column_int64(f->minutes, 0),
                                             sqlite3_column_int64(f->minutes, 1), 1,
                                             store_roll_columns(f->minutes, 2)};
        }
        sqlite3_reset(f->minutes);
    }
    if (rc != SQLITE_DONE) {
        free(rows);
        return rc == SQLITE_ROW ? errf(c->err, c->errlen, "%s: compact: out of memory", c->s->path)
                                : fail(c, "compact: fold hour");
    }
    if (n > 1)
        qsort(rows, n, sizeof *rows, minute_roll_cmp);
    sqlite3_bind_int64(f->del, 1, h);
    if (run(c, f->del, "compact: fold hour") < 0)
        goto fail;
    for (size_t i = 0; i < n;) {
        struct store_roll r = {0};
        struct store_pack_roll pack[STORE_PACK_SLOTS_MAX];
        size_t j = i, np = 0;
        for (; j < n && rows[j].metric == rows[i].metric; j++) {
            /* Of a pack's minute and a newer row of it, the row. */
            if (j + 1 < n && rows[j + 1].metric == rows[j].metric &&
                rows[j + 1].bucket == rows[j].bucket)
                continue;
            if (rows[j].r.n < 1 || rows[j].bucket < h || rows[j].bucket >= h + STORE_HOUR_MS ||
                np == STORE_PACK_MINUTES)
                continue;
            store_roll_merge(&r, &rows[j].r);
            pack[np++] = store_pack_of_roll(rows[j].bucket, &rows[j].r);
        }
        if (np > 0) {
            uint8_t *blob = NULL;
            size_t len = 0;
            if (store_codec_pack(pack, np, h, STORE_MINUTE_MS, STORE_PACK_MINUTES, &blob, &len, msg,
                                 sizeof msg) < 0) {
                errf(c->err, c->errlen, "%s: compact: hour %lld of metric %lld: %s", c->s->path,
                     (long long)h, (long long)rows[i].metric, msg);
                goto fail;
            }
            sqlite3_bind_int64(f->put, 1, h);
            sqlite3_bind_int64(f->put, 2, rows[i].metric);
            store_roll_bind(f->put, 3, &r);
            sqlite3_bind_int64(f->pack_put, 1, h);
            sqlite3_bind_int64(f->pack_put, 2, rows[i].metric);
            sqlite3_bind_blob(f->pack_put, 3, blob, (int)len, SQLITE_STATIC);
            rc = run(c, f->put, "compact: fold hour") < 0 ||
                         run(c, f->pack_put, "compact: pack hour") < 0
                     ? -1
                     : 0;
            sqlite3_clear_bindings(f->pack_put);
            free(blob);
            if (rc < 0)
                goto fail;
        }
        i = j;
    }
    sqlite3_bind_int64(f->minutes_del, 1, h);
    sqlite3_bind_int64(f->minutes_del, 2, h + STORE_HOUR_MS);
    if (run(c, f->minutes_del, "compact: pack hour") < 0)
        goto fail;
    free(rows);
    return 0;
fail:
    free(rows);
    return -1;
}

/* Folds every hour that ended a minute or more before close (from
 * hour_next on), then the hours in dirty[] (already folded, changed). */
static int fold_hours_with(struct stmts *c, int64_t close, const int64_t *dirty, size_t ndirty)
{
    struct fold_stmts f = {0};
    sqlite3_stmt *next_get = NULL, *next_set = NULL, *first_min = NULL, *old_min = NULL;
    if (prep(c, &f.minutes,
             "SELECT metric_id, bucket, " STORE_ROLL_COLS " FROM rollup_minute"
             " WHERE bucket >= ?1 AND bucket < ?2") < 0 ||
        prep(c, &f.packs, "SELECT metric_id, data FROM rollup_minute_pack WHERE bucket = ?1") < 0 ||
        prep(c, &f.del, "DELETE FROM rollup_hour WHERE bucket = ?1") < 0 ||
        prep(c, &f.put,
             "INSERT OR REPLACE INTO rollup_hour(bucket, metric_id, " STORE_ROLL_COLS ")"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)") < 0 ||
        prep(c, &f.pack_put,
             "INSERT OR REPLACE INTO rollup_minute_pack(bucket, metric_id, data)"
             " VALUES (?1, ?2, ?3)") < 0 ||
        prep(c, &f.minutes_del, "DELETE FROM rollup_minute WHERE bucket >= ?1 AND bucket < ?2") <
            0 ||
        prep(c, &next_get, "SELECT value FROM meta WHERE key = 'hour_next'") < 0 ||
        prep(c, &next_set, "UPDATE meta SET value = ?1 WHERE key = 'hour_next'") < 0 ||
        prep(c, &first_min, "SELECT min(bucket) FROM rollup_minute WHERE bucket >= ?1") < 0 ||
        prep(c, &old_min, "SELECT min(bucket) FROM rollup_minute") < 0)
        return -1;
    int64_t next = TS_MIN;
    int have = one_int(c, next_get, &next, "compact: hour_next");
    if (have < 0)
        return -1;
    int64_t start = have ? next : TS_MIN;
    for (size_t i = 0; i < ndirty; i++) {
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen = seen || dirty[j] == dirty[i];
        if (have && !seen && dirty[i] < start && fold_hour(c, &f, dirty[i]) < 0)
            return -1;
    }
    for (;;) {
        int64_t m;
        sqlite3_bind_int64(first_min, 1, have ? next : TS_MIN);
        int found = one_int(c, first_min, &m, "compact: next hour");
        if (found < 0)
            return -1;
        if (!found)
            break;
        int64_t h = floor_to(m, STORE_HOUR_MS);
        if (h + STORE_HOUR_MS + STORE_MINUTE_MS > close)
            break;
        if (fold_hour(c, &f, h) < 0)
            return -1;
        next = h + STORE_HOUR_MS;
        have = 1;
        sqlite3_bind_int64(next_set, 1, next);
        if (run(c, next_set, "compact: hour_next") < 0)
            return -1;
    }
    /* Hours that schema 8 folded without packing: a few per step, oldest
     * first, so an upgraded database packs its minute tier within hours
     * of compaction without one long transaction. Folding them again
     * rewrites their hour rollups with the same values. */
    for (int k = 0; have && k < PACK_OLD_HOURS; k++) {
        int64_t m;
        int found = one_int(c, old_min, &m, "compact: pack old hours");
        if (found < 0)
            return -1;
        if (!found || floor_to(m, STORE_HOUR_MS) >= next)
            break;
        if (fold_hour(c, &f, floor_to(m, STORE_HOUR_MS)) < 0)
            return -1;
    }
    return 0;
}

/* Its statements are finalized when it is done, not with the caller's. */
static int fold_hours(struct stmts *c, int64_t close, const int64_t *dirty, size_t ndirty)
{
    struct stmts own = {.s = c->s, .err = c->err, .errlen = c->errlen};
    int rc = fold_hours_with(&own, close, dirty, ndirty);
    stmts_free(&own);
    return rc;
}

/* ---- compaction -------------------------------------------------------- */

struct crec {
    int64_t bucket, metric, ts;
    size_t seq;
    double value;
};

static int crec_cmp(const void *pa, const void *pb)
{
    const struct crec *a = pa, *b = pb;
    if (a->bucket != b->bucket)
        return a->bucket < b->bucket ? -1 : 1;
    if (a->metric != b->metric)
        return a->metric < b->metric ? -1 : 1;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

struct compact_stmts {
    sqlite3_stmt *chunk_get, *chunk_put, *roll_get, *roll_put, *roll_del, *pack_get;
};

/* The rollup of minute bucket of metric in its hour's pack, into *r:
 * 1 found, 0 not, -1 error. */
static int packed_minute(struct stmts *c, const struct compact_stmts *q, int64_t bucket,
                         int64_t metric, struct store_roll *r)
{
    int64_t h = floor_to(bucket, STORE_HOUR_MS);
    struct store_pack_roll rolls[STORE_PACK_SLOTS_MAX];
    size_t n = 0;
    char msg[160];
    sqlite3_bind_int64(q->pack_get, 1, h);
    sqlite3_bind_int64(q->pack_get, 2, metric);
    int rc = sqlite3_step(q->pack_get);
    if (rc == SQLITE_ROW &&
        store_codec_unpack(sqlite3_column_blob(q->pack_get, 0),
                           (size_t)sqlite3_column_bytes(q->pack_get, 0), h, STORE_MINUTE_MS,
                           STORE_PACK_MINUTES, rolls, &n, msg, sizeof msg) < 0) {
        sqlite3_reset(q->pack_get);
        return errf(c->err, c->errlen, "%s: compact: minutes of hour %lld of metric %lld: %s",
                    c->s->path, (long long)h, (long long)metric, msg);
    }
    sqlite3_reset(q->pack_get);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(c, "compact: read pack");
    for (size_t i = 0; i < n; i++) {
        if (rolls[i].bucket == bucket) {
            *r = store_roll_of_pack(&rolls[i]);
            return 1;
        }
    }
    return 0;
}

/* Merges the new samples g[0..ng) (one minute and metric, sorted by time
 * and write order) into the chunk and rollup of their minute. *delta gets
 * the change of the raw sample count (duplicates merged away). */
static int compact_group(struct stmts *c, const struct compact_stmts *q, const struct crec *g,
                         size_t ng, struct store_rec **merged, size_t *cap, int64_t *delta)
{
    int64_t bucket = g[0].bucket, metric = g[0].metric;
    size_t nold = 0;
    char msg[128];
    /* The chunk there before, if any (already sorted, one sample a time). */
    sqlite3_bind_int64(q->chunk_get, 1, bucket);
    sqlite3_bind_int64(q->chunk_get, 2, metric);
    int rc = sqlite3_step(q->chunk_get);
    if (rc == SQLITE_ROW && store_codec_decode(sqlite3_column_blob(q->chunk_get, 0),
                                               (size_t)sqlite3_column_bytes(q->chunk_get, 0),
                                               metric, merged, &nold, cap, msg, sizeof msg) < 0) {
        sqlite3_reset(q->chunk_get);
        return errf(c->err, c->errlen, "%s: compact: chunk %lld of metric %lld: %s", c->s->path,
                    (long long)bucket, (long long)metric, msg);
    }
    bool existed = rc == SQLITE_ROW;
    sqlite3_reset(q->chunk_get);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(c, "compact: read chunk");

    /* Merge: old and new in time order; at one time the newest write. */
    size_t total = nold + ng;
    if (vec_reserve(*merged, *cap, 2 * total) < 0)
        return errf(c->err, c->errlen, "%s: compact: out of memory", c->s->path);
    struct store_rec *old = *merged, *out = *merged + total;
    size_t i = 0, j = 0, n = 0;
    while (i < nold || j < ng) {
        if (j < ng && j + 1 < ng && g[j + 1].ts == g[j].ts) {
            j++; /* a newer write of the same time follows */
            continue;
        }
        if (j == ng || (i < nold && old[i].ts_ms < g[j].ts)) {
            out[n++] = old[i++];
            continue;
        }
        if (i < nold && old[i].ts_ms == g[j].ts)
            i++;
        out[n++] = (struct store_rec){metric, g[j].ts, g[j].value};
        j++;
    }
    *delta += (int64_t)n - (int64_t)nold - (int64_t)ng;

    uint8_t *blob = NULL;
    size_t bloblen = 0;
    if (store_codec_encode(out, n, true, &blob, &bloblen) < 0)
        return errf(c->err, c->errlen, "%s: compact: out of memory", c->s->path);
    sqlite3_bind_int64(q->chunk_put, 1, bucket);
    sqlite3_bind_int64(q->chunk_put, 2, metric);
    sqlite3_bind_int64(q->chunk_put, 3, (int64_t)n);
    sqlite3_bind_blob(q->chunk_put, 4, blob, (int)bloblen, SQLITE_STATIC);
    rc = run(c, q->chunk_put, "compact: write chunk");
    sqlite3_clear_bindings(q->chunk_put);
    free(blob);
    if (rc < 0)
        return -1;

    struct store_roll r = {0};
    for (size_t k = 0; k < n; k++)
        if (!isnan(out[k].value))
            store_roll_add(&r, out[k].ts_ms, out[k].value);
    if (!existed) {
        /* A first chunk of the minute: a rollup already there holds what
         * came before (history of the legacy table, or of a chunk that
         * retention dropped); add to it. Once a chunk exists it holds
         * every new-format sample of the minute and the rollup is
         * rewritten from it. */
        sqlite3_bind_int64(q->roll_get, 1, bucket);
        sqlite3_bind_int64(q->roll_get, 2, metric);
        rc = sqlite3_step(q->roll_get);
        struct store_roll before = {0};
        if (rc == SQLITE_ROW)
            before = store_roll_columns(q->roll_get, 0);
        sqlite3_reset(q->roll_get);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return fail(c, "compact: read rollup");
        /* A folded hour keeps its minutes in a pack. */
        if (rc == SQLITE_DONE && packed_minute(c, q, bucket, metric, &before) < 0)
            return -1;
        store_roll_merge(&r, &before);
    }
    /* An emptied minute of a packed hour is written as a row with n 0, so
     * that the refold of its hour drops the pack's minute too. */
    struct store_roll gone;
    int packed = 0;
    if (r.n == 0 && (packed = packed_minute(c, q, bucket, metric, &gone)) < 0)
        return -1;
    sqlite3_stmt *st = r.n > 0 || packed ? q->roll_put : q->roll_del;
    sqlite3_bind_int64(st, 1, bucket);
    sqlite3_bind_int64(st, 2, metric);
    if (st == q->roll_put)
        store_roll_bind(st, 3, &r);
    return run(c, st, "compact: write rollup");
}

/* One transaction: at most COMPACT_ROWS closed log rows. *done gets the
 * number of rows compacted (COMPACT_ROWS: there may be more). */
static int compact_once(struct stmts *c, int64_t grace_ms, int64_t *done)
{
    sqlite3_stmt *maxt = NULL, *rows = NULL, *del = NULL, *count = NULL;
    struct compact_stmts q = {0};
    struct store_rec *recs = NULL, *merged = NULL;
    struct crec *cr = NULL;
    int64_t *dirty = NULL, *ids = NULL;
    size_t nrecs = 0, caprecs = 0, capm = 0, ncr = 0, ndirty = 0, capdirty = 0, nids = 0,
           capids = 0;
    int64_t hour_next = 0, minute_from = TS_MIN;
    int have_next = 0;
    sqlite3_stmt *next_get = NULL, *from_get = NULL;
    *done = 0;
    /* Nothing closed since the last complete compaction: skip it without
     * preparing a statement (this runs after every commit, every 5 s). */
    int64_t close = 0;
    if (c->s->log_newest_known && c->s->compacted_known) {
        int64_t n = c->s->log_newest;
        n = n < TS_MIN ? TS_MIN : n > TS_MAX ? TS_MAX : n;
        if (floor_to(n - grace_ms, STORE_MINUTE_MS) <= c->s->compacted_close)
            return 0;
    }
    bool read_all = false;
    if (exec(c, "BEGIN IMMEDIATE") < 0)
        return -1;
    if (prep(c, &maxt, "SELECT max(t_max) FROM sample_log") < 0 ||
        prep(c, &rows, "SELECT id, data FROM sample_log WHERE t_max < ?1 ORDER BY id LIMIT ?2") <
            0 ||
        prep(c, &del, "DELETE FROM sample_log WHERE id = ?1") < 0 ||
        prep(c, &count, "UPDATE meta SET value = value + ?1 WHERE key = 'sample_count'") < 0 ||
        prep(c, &q.chunk_get, "SELECT data FROM raw_chunk WHERE bucket = ?1 AND metric_id = ?2") <
            0 ||
        prep(c, &q.chunk_put,
             "INSERT OR REPLACE INTO raw_chunk(bucket, metric_id, n, data)"
             " VALUES (?1, ?2, ?3, ?4)") < 0 ||
        prep(c, &q.roll_get,
             "SELECT " STORE_ROLL_COLS " FROM rollup_minute"
             " WHERE bucket = ?1 AND metric_id = ?2") < 0 ||
        prep(c, &q.roll_put,
             "INSERT OR REPLACE INTO rollup_minute(bucket, metric_id, " STORE_ROLL_COLS
             ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)") < 0 ||
        prep(c, &q.roll_del, "DELETE FROM rollup_minute WHERE bucket = ?1 AND metric_id = ?2") <
            0 ||
        prep(c, &q.pack_get,
             "SELECT data FROM rollup_minute_pack WHERE bucket = ?1 AND metric_id = ?2") < 0 ||
        prep(c, &next_get, "SELECT value FROM meta WHERE key = 'hour_next'") < 0 ||
        prep(c, &from_get, "SELECT value FROM meta WHERE key = 'minute_from'") < 0)
        goto fail;
    int64_t newest;
    int found = one_int(c, maxt, &newest, "compact");
    if (found <= 0) {
        if (found < 0)
            goto fail;
        goto commit;
    }
    newest = newest < TS_MIN ? TS_MIN : newest > TS_MAX ? TS_MAX : newest;
    close = floor_to(newest - grace_ms, STORE_MINUTE_MS);
    c->s->log_newest = newest;
    c->s->log_newest_known = true;
    if ((have_next = one_int(c, next_get, &hour_next, "compact: hour_next")) < 0 ||
        one_int(c, from_get, &minute_from, "compact: minute_from") < 0)
        goto fail;

    sqlite3_bind_int64(rows, 1, close);
    sqlite3_bind_int64(rows, 2, COMPACT_ROWS);
    int rc;
    char msg[128];
    while ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
        if (vec_reserve(ids, capids, nids + 1) < 0)
            goto oom;
        ids[nids++] = sqlite3_column_int64(rows, 0);
        if (store_codec_decode(sqlite3_column_blob(rows, 1), (size_t)sqlite3_column_bytes(rows, 1),
                               -1, &recs, &nrecs, &caprecs, msg, sizeof msg) < 0) {
            errf(c->err, c->errlen, "%s: compact: log row %lld: %s", c->s->path,
                 (long long)ids[nids - 1], msg);
            sqlite3_reset(rows);
            goto fail;
        }
    }
    sqlite3_reset(rows);
    if (rc != SQLITE_DONE) {
        fail(c, "compact: read log");
        goto fail;
    }
    *done = (int64_t)nids;
    read_all = nids < COMPACT_ROWS;
    cr = calloc(nrecs ? nrecs : 1, sizeof *cr);
    if (!cr)
        goto oom;
    for (size_t i = 0; i < nrecs; i++)
        cr[ncr++] = (struct crec){floor_to(recs[i].ts_ms, STORE_MINUTE_MS), recs[i].metric_id,
                                  recs[i].ts_ms, i, recs[i].value};
    qsort(cr, ncr, sizeof *cr, crec_cmp);
    int64_t delta = 0;
    for (size_t i = 0; i < ncr;) {
        size_t j = i;
        while (j < ncr && cr[j].bucket == cr[i].bucket && cr[j].metric == cr[i].metric)
            j++;
        if (cr[i].bucket < minute_from) {
            /* Older than the minute tier (a clock set back by weeks):
             * its minutes are gone, so its hour cannot be folded again;
             * the samples are dropped rather than let them replace it. */
            delta -= (int64_t)(j - i);
            i = j;
            continue;
        }
        if (compact_group(c, &q, cr + i, j - i, &merged, &capm, &delta) < 0)
            goto fail;
        int64_t h = floor_to(cr[i].bucket, STORE_HOUR_MS);
        if (have_next && h < hour_next && (ndirty == 0 || dirty[ndirty - 1] != h)) {
            if (vec_reserve(dirty, capdirty, ndirty + 1) < 0)
                goto oom;
            dirty[ndirty++] = h;
        }
        i = j;
    }
    for (size_t i = 0; i < nids; i++) {
        sqlite3_bind_int64(del, 1, ids[i]);
        if (run(c, del, "compact: delete log row") < 0)
            goto fail;
    }
    sqlite3_bind_int64(count, 1, delta);
    if (run(c, count, "compact: count") < 0 || fold_hours(c, close, dirty, ndirty) < 0)
        goto fail;
commit:
    stmts_free(c);
    if (exec(c, "COMMIT") < 0)
        goto fail;
    if (read_all) {
        c->s->compacted_close = close;
        c->s->compacted_known = true;
    }
    free(recs);
    free(merged);
    free(cr);
    free(dirty);
    free(ids);
    return 0;
oom:
    errf(c->err, c->errlen, "%s: compact: out of memory", c->s->path);
fail:
    stmts_free(c);
    if (sqlite3_get_autocommit(c->s->writer) == 0)
        sqlite3_exec(c->s->writer, "ROLLBACK", NULL, NULL, NULL);
    free(recs);
    free(merged);
    free(cr);
    free(dirty);
    free(ids);
    *done = 0;
    return -1;
}

int store_compact(struct store *s, int64_t grace_ms, int64_t *rows, char *err, size_t errlen)
{
    struct stmts c = {.s = s, .err = err, .errlen = errlen};
    int64_t total = 0, done;
    if (rows)
        *rows = 0;
    do {
        pthread_mutex_lock(&s->write_lock);
        int rc = compact_once(&c, grace_ms, &done);
        store_write_unlock(s);
        if (rc < 0)
            return -1;
        total += done;
        if (rows)
            *rows = total;
    } while (done == COMPACT_ROWS);
    return 0;
}

/* ---- retention ---------------------------------------------------------- */

/* Deletes the rows of table with bucket < before, span by span, each span
 * in its own transaction. count_n: subtract the deleted rows' n from
 * sample_count (raw chunks); *removed adds it. */
static int drop_before(struct stmts *c, const char *table, int64_t before, int64_t span,
                       bool count_n, int64_t *removed)
{
    char first_sql[96], sum_sql[128], del_sql[96];
    snprintf(first_sql, sizeof first_sql, "SELECT min(bucket) FROM %s", table);
    /* Only a table with an n column is counted (the packs have none). */
    snprintf(sum_sql, sizeof sum_sql, "SELECT coalesce(sum(%s), 0) FROM %s WHERE bucket < ?1",
             count_n ? "n" : "0", table);
    snprintf(del_sql, sizeof del_sql, "DELETE FROM %s WHERE bucket < ?1", table);
    for (;;) {
        sqlite3_stmt *first = NULL, *sum = NULL, *del = NULL, *count = NULL;
        pthread_mutex_lock(&c->s->write_lock);
        int64_t m = 0, n = 0;
        int found = -1;
        if (exec(c, "BEGIN IMMEDIATE") < 0)
            goto fail;
        if (prep(c, &first, first_sql) < 0 || prep(c, &sum, sum_sql) < 0 ||
            prep(c, &del, del_sql) < 0 ||
            prep(c, &count, "UPDATE meta SET value = value - ?1 WHERE key = 'sample_count'") < 0)
            goto fail;
        if ((found = one_int(c, first, &m, "retention")) < 0)
            goto fail;
        if (found && m < before) {
            int64_t end = m > before - span ? before : m + span;
            sqlite3_bind_int64(sum, 1, end);
            sqlite3_bind_int64(del, 1, end);
            if ((count_n && one_int(c, sum, &n, "retention") < 0) || run(c, del, "retention") < 0)
                goto fail;
            sqlite3_bind_int64(count, 1, n);
            if (count_n && run(c, count, "retention") < 0)
                goto fail;
        }
        stmts_free(c);
        if (exec(c, "COMMIT") < 0)
            goto fail;
        store_write_unlock(c->s);
        *removed += n;
        if (!found || m >= before)
            return 0;
        continue;
    fail:
        stmts_free(c);
        if (sqlite3_get_autocommit(c->s->writer) == 0)
            sqlite3_exec(c->s->writer, "ROLLBACK", NULL, NULL, NULL);
        store_write_unlock(c->s);
        return -1;
    }
}

/* Raises meta key to at least v (a tier's start never moves back: what
 * retention deleted does not return when the window is widened). */
static int raise_horizon(struct stmts *c, const char *key, int64_t v)
{
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&c->s->write_lock);
    int rc = prep(c, &st, "UPDATE meta SET value = max(coalesce(value, ?2), ?2) WHERE key = ?1");
    if (rc == 0) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, v);
        rc = run(c, st, "retention");
    }
    stmts_free(c);
    store_write_unlock(c->s);
    return rc;
}

/*
 * No VACUUM: pages freed here go to SQLite's free list and are reused by
 * the next days' samples, so under a steady retention the file stops
 * growing at its working size. Shrinking the file after retention was cut
 * is a rare operator task (`sqlite3 floe.db VACUUM` with the agent
 * stopped).
 */
int store_apply_retention(struct store *s, const struct store_retention *r, int64_t *deleted,
                          char *err, size_t errlen)
{
    struct stmts c = {.s = s, .err = err, .errlen = errlen};
    int64_t removed = 0, legacy = 0;
    int rc = -1;
    if (deleted)
        *deleted = 0;
    if (r->raw_before_ms > INT64_MIN) {
        int64_t before =
            floor_to(r->raw_before_ms < TS_MIN ? TS_MIN : r->raw_before_ms, STORE_MINUTE_MS);
        if (store_legacy_retention(s, before, &legacy, err, errlen) < 0)
            goto out;
        removed += legacy;
        if (drop_before(&c, "raw_chunk", before, RETENTION_RAW_SPAN, true, &removed) < 0 ||
            raise_horizon(&c, "raw_from", before) < 0)
            goto out;
    }
    if (r->minute_before_ms > INT64_MIN) {
        int64_t before =
            floor_to(r->minute_before_ms < TS_MIN ? TS_MIN : r->minute_before_ms, STORE_HOUR_MS);
        /* Only minutes whose hour is folded: hour_next bounds them. */
        sqlite3_stmt *st = NULL;
        int64_t next = 0;
        pthread_mutex_lock(&s->write_lock);
        int found = prep(&c, &st, "SELECT value FROM meta WHERE key = 'hour_next'");
        if (found == 0)
            found = one_int(&c, st, &next, "retention");
        stmts_free(&c);
        store_write_unlock(s);
        if (found < 0)
            goto out;
        if (found) {
            int64_t dropped = 0;
            if (next < before)
                before = next;
            /* A pack goes when its whole hour is before the line (before
             * is an hour's start). */
            if (drop_before(&c, "rollup_minute", before, RETENTION_MINUTE_SPAN, false, &dropped) <
                    0 ||
                drop_before(&c, "rollup_minute_pack", before, RETENTION_MINUTE_SPAN, false,
                            &dropped) < 0 ||
                raise_horizon(&c, "minute_from", before) < 0)
                goto out;
        }
    }
    if (r->hour_before_ms > INT64_MIN) {
        int64_t before =
            floor_to(r->hour_before_ms < TS_MIN ? TS_MIN : r->hour_before_ms, STORE_HOUR_MS);
        int64_t dropped = 0;
        if (drop_before(&c, "rollup_hour", before, RETENTION_HOUR_SPAN, false, &dropped) < 0)
            goto out;
    }
    /* Move the deletions from the WAL into the database file now, without
     * waiting for readers (PASSIVE), so the WAL does not stay large. */
    pthread_mutex_lock(&s->write_lock);
    int ck = sqlite3_wal_checkpoint_v2(s->writer, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (ck != SQLITE_OK && ck != SQLITE_BUSY)
        store_fail(s, s->writer, "retention checkpoint", err, errlen);
    store_write_unlock(s);
    rc = ck == SQLITE_OK || ck == SQLITE_BUSY ? 0 : -1;
out:
    if (deleted)
        *deleted = removed;
    return rc;
}
