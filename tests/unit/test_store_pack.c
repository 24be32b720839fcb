/*
 * Unit tests of the packed minute tier (schema 9): store/store_codec.c's
 * rollup packs (bit-exact round trips, refused input, corrupt blobs),
 * store/store_compact.c packing an hour's minutes when it folds the hour
 * (answers of store_query, store_window and store_history_read the same
 * before and after; a late sample merging with its packed minute; a
 * minute emptied by rewrites leaving its pack; a failed pack leaving the
 * rows), retention of packs by whole hours, and
 * the upgrade of a schema 8 file whose folded hours are rollup_minute rows.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "lib/util.h"
#include "store/store.h"
#include "store/store_codec.h"

#define MIN 60000LL
#define HOUR 3600000LL
/* 2026-01-01T00:00:00Z, an hour boundary. */
#define T0 1767225600000LL

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/floe-test-pack-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/floe.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- the codec ------------------------------------------------------------ */

static uint64_t bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static bool same_roll(const struct store_pack_roll *a, const struct store_pack_roll *b)
{
    return a->bucket == b->bucket && a->n == b->n && a->first_ts == b->first_ts &&
           a->last_ts == b->last_ts && bits(a->sum) == bits(b->sum) &&
           bits(a->min) == bits(b->min) && bits(a->max) == bits(b->max) &&
           bits(a->first) == bits(b->first) && bits(a->last) == bits(b->last);
}

static void pack_roundtrip(const struct store_pack_roll *in, size_t n, int64_t base, int64_t width,
                           unsigned slots)
{
    uint8_t *blob = NULL;
    size_t len = 0, nout = 99;
    char err[160] = "";
    struct store_pack_roll out[STORE_PACK_SLOTS_MAX];
    if (store_codec_pack(in, n, base, width, slots, &blob, &len, err, sizeof err) != 0)
        fail_msg("pack: %s", err);
    if (store_codec_unpack(blob, len, base, width, slots, out, &nout, err, sizeof err) != 0)
        fail_msg("unpack: %s", err);
    assert_int_equal(nout, n);
    for (size_t i = 0; i < n; i++)
        assert_true(same_roll(&in[i], &out[i]));
    free(blob);
}

static void codec_pack_round_trips_bit_for_bit(void **unused)
{
    (void)unused;
    struct store_pack_roll in[60];
    /* A full hour of a noisy float32 reading, 60 samples a minute. */
    for (int k = 0; k < 60; k++) {
        double v = (double)(float)(20.0 + k * 0.37);
        in[k] = (struct store_pack_roll){
            T0 + k * MIN,       60 - k % 2,           60 * v, v - 0.5, v + 0.5,
            T0 + k * MIN + 123, T0 + k * MIN + 59123, v,      v + 0.25};
    }
    pack_roundtrip(in, 60, T0, MIN, 60);
    /* Edge values in every field: NaN (quiet and with a payload), the
     * infinities, -0.0, denormals, extremes; times before the bucket,
     * last before first, and far from it; n of 1 and huge. */
    const double odd[] = {NAN,         -NAN,    INFINITY, -INFINITY, -0.0, 0.0,
                          DBL_MIN / 4, DBL_MAX, -DBL_MAX, 1e-300,    3.0,  3.0};
    double payload_nan;
    uint64_t pb = 0x7ff0000000000123ULL;
    memcpy(&payload_nan, &pb, sizeof payload_nan);
    for (int k = 0; k < 12; k++) {
        int64_t b = T0 + (k * 5) * MIN;
        in[k] = (struct store_pack_roll){b,
                                         k == 3 ? INT64_MAX : k % 3 + 1,
                                         k == 7 ? payload_nan : odd[(k + 1) % 12],
                                         odd[k],
                                         odd[(k + 5) % 12],
                                         b - (k == 4 ? INT64_MAX / 4 : 0),
                                         k == 5 ? b - 7 : b + k * 1000,
                                         odd[(k + 2) % 12],
                                         odd[(k + 9) % 12]};
    }
    pack_roundtrip(in, 12, T0, MIN, 60);
    /* One rollup, in the first slot and in the last; 24 hours of a day;
     * 64 slots (the mask's top bit). */
    pack_roundtrip(&in[11], 1, in[11].bucket, MIN, 60);
    in[11].bucket = T0 + 59 * MIN;
    pack_roundtrip(&in[11], 1, T0, MIN, 60);
    for (int k = 0; k < 24; k++)
        in[k] = (struct store_pack_roll){
            T0 + k * HOUR, 3600, 1.5 * k, 0, 3, T0 + k * HOUR, T0 + k * HOUR + HOUR - 1, 1, 2};
    pack_roundtrip(in, 24, T0, HOUR, 24);
    struct store_pack_roll many[64];
    for (int k = 0; k < 64; k++)
        many[k] = (struct store_pack_roll){k * 10LL, 1, k, k, k, k * 10LL, k * 10LL, k, k};
    pack_roundtrip(many, 64, 0, 10, 64);
}

static void codec_pack_refuses_what_it_cannot_hold(void **unused)
{
    (void)unused;
    struct store_pack_roll in[2] = {{T0, 5, 1, 1, 1, T0, T0, 1, 1},
                                    {T0 + MIN, 5, 1, 1, 1, T0 + MIN, T0 + MIN, 1, 1}};
    uint8_t *blob = NULL;
    size_t len = 0;
    char err[160];
    struct store_pack_roll bad[2];
    /* n 0, out of order, a repeated slot, off the grid, beyond the slots. */
    const struct {
        int which;
        int64_t bucket, n;
    } cases[] = {{0, T0, 0}, {1, T0 - MIN, 5}, {1, T0, 5}, {1, T0 + 5, 5}, {1, T0 + 60 * MIN, 5}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(bad, in, sizeof bad);
        bad[cases[i].which].bucket = cases[i].bucket;
        bad[cases[i].which].n = cases[i].n;
        err[0] = '\0';
        assert_int_equal(store_codec_pack(bad, 2, T0, MIN, 60, &blob, &len, err, sizeof err), -1);
        assert_null(blob);
        assert_non_null(strstr(err, "rollup pack"));
    }
    assert_int_equal(store_codec_pack(in, 0, T0, MIN, 60, &blob, &len, err, sizeof err), -1);
    assert_int_equal(store_codec_pack(in, 2, T0, MIN, 65, &blob, &len, err, sizeof err), -1);
}

static void codec_corrupt_packs_are_errors_not_crashes(void **unused)
{
    (void)unused;
    struct store_pack_roll in[60], out[STORE_PACK_SLOTS_MAX];
    for (int k = 0; k < 60; k++) {
        double v = k % 7 ? 100.0 + k * 0.37 : 4.0;
        in[k] = (struct store_pack_roll){T0 + k * MIN, 1 + k % 3,        v * 3, v, v + k,
                                         T0 + k * MIN, T0 + k * MIN + k, v,     v};
    }
    uint8_t *blob = NULL;
    size_t len = 0, n = 0;
    char err[160];
    assert_int_equal(store_codec_pack(in, 60, T0, MIN, 60, &blob, &len, err, sizeof err), 0);
    /* Every truncation is an error (exact size: ASan sees any overread). */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, blob, cut);
        n = 7;
        err[0] = '\0';
        assert_int_equal(store_codec_unpack(part, cut, T0, MIN, 60, out, &n, err, sizeof err), -1);
        assert_int_equal(n, 0);
        assert_non_null(strstr(err, "bad rollup pack"));
        free(part);
    }
    /* A byte too many. */
    uint8_t *copy = malloc(len + 1);
    memcpy(copy, blob, len);
    copy[len] = 0;
    assert_int_equal(store_codec_unpack(copy, len + 1, T0, MIN, 60, out, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "left over"));
    /* Every byte set to many values: an error or rollups, never a crash. */
    for (size_t at = 0; at < len; at++) {
        for (int v = 0; v < 256; v += 15) {
            uint8_t *exact = malloc(len);
            memcpy(exact, blob, len);
            exact[at] = (uint8_t)v;
            (void)store_codec_unpack(exact, len, T0, MIN, 60, out, &n, err, sizeof err);
            assert_true(n <= 60);
            free(exact);
        }
    }
    free(copy);
    free(blob);
    /* Another kind, an empty mask, a slot beyond the hour, n 0, a code
     * that writes no byte (15), a non-zero pad nibble. */
    const uint8_t kind[] = {'C', 1, 0};
    const uint8_t empty[] = {'R', 0};
    const uint8_t slot[] = {'R', 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0xff};
    const uint8_t zero_n[] = {'R', 1, 0xfe, 0};
    const uint8_t code15[] = {'R', 1, 0x7e, 1, 0xf0};
    const uint8_t pad[] = {'R', 1, 0x7e, 1, 0x01, 1, 2, 3, 4, 5, 6, 7, 8};
    const struct {
        const uint8_t *b;
        size_t len;
        const char *why;
    } bad[] = {{kind, sizeof kind, "kind"},          {empty, sizeof empty, "slot"},
               {slot, sizeof slot, "slot"},          {zero_n, sizeof zero_n, "count"},
               {code15, sizeof code15, "bad value"}, {pad, sizeof pad, "bad value"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(
            store_codec_unpack(bad[i].b, bad[i].len, T0, MIN, 60, out, &n, err, sizeof err), -1);
        if (!strstr(err, bad[i].why))
            fail_msg("case %zu: %s", i, err);
    }
    /* The same pad with a zero nibble decodes: the case above is the pad. */
    const uint8_t pad_ok[] = {'R', 1, 0x7e, 1, 0x00, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(
        store_codec_unpack(pad_ok, sizeof pad_ok, T0, MIN, 60, out, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
}

/* ---- the store ------------------------------------------------------------ */

static struct store *open_ok(const char *path)
{
    struct store *s = NULL;
    char err[512] = "";
    if (store_open(&s, path, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    return s;
}

static void compact(struct store *s, int64_t grace)
{
    char err[512] = "";
    if (store_compact(s, grace, NULL, err, sizeof err) != 0)
        fail_msg("store_compact: %s", err);
}

static void retention(struct store *s, int64_t raw, int64_t minute, int64_t hour)
{
    char err[512] = "";
    struct store_retention r = {raw, minute, hour};
    if (store_apply_retention(s, &r, NULL, err, sizeof err) != 0)
        fail_msg("store_apply_retention: %s", err);
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* Samples of seconds [from, to) after T0: "a" every second (a noisy
 * float32 reading, one failed read in 50), "b" every 10 s; a batch a
 * minute. */
static void fill(struct store *s, int64_t from_s, int64_t to_s)
{
    struct metric_sample batch[80];
    for (int64_t t = from_s; t < to_s;) {
        size_t n = 0;
        for (; t < to_s && n < 66; t++) {
            struct metric_sample *m = &batch[n++];
            *m = (struct metric_sample){.ts_ms = T0 + t * 1000 + 250,
                                        .value = (double)(float)(20.0 + (double)(t % 97) * 0.13),
                                        .ok = t % 50 != 7};
            util_strlcpy(m->name, "a", sizeof m->name);
            if (t % 10 == 0) {
                m = &batch[n++];
                *m = (struct metric_sample){.ts_ms = T0 + t * 1000, .value = (double)t, .ok = true};
                util_strlcpy(m->name, "b", sizeof m->name);
            }
            if (t % 60 == 59)
                break;
        }
        if (t < to_s && t % 60 == 59)
            t++;
        char err[512] = "";
        if (store_write_samples(s, batch, n, err, sizeof err) != 0)
            fail_msg("store_write_samples: %s", err);
    }
}

/* What the reads of the first hours give, to compare bit for bit. */
struct answers {
    struct store_point *q[4];
    size_t nq[4];
    struct store_window w[3];
    uint64_t hist_sum;
    size_t hist_n;
};

static int hist_each(void *ctx, const char *metric, int64_t ts, double value)
{
    struct answers *a = ctx;
    a->hist_n++;
    a->hist_sum = a->hist_sum * 31 + (uint64_t)ts + bits(value) + (uint64_t)metric[0];
    return 0;
}

static void answers_take(struct store *s, const char *path, int64_t until, struct answers *a)
{
    char err[512] = "";
    memset(a, 0, sizeof *a);
    const struct {
        const char *m;
        int64_t since, until, step;
    } q[] = {{"a", T0, until, 0},
             {"a", T0 + 90000, until, 300000},
             {"b", T0, until, 0},
             {"a", T0 + 30 * MIN, T0 + 31 * MIN - 1, 0}};
    for (int i = 0; i < 4; i++)
        if (store_query(s, q[i].m, q[i].since, q[i].until, q[i].step, SIZE_MAX, &a->q[i], &a->nq[i],
                        err, sizeof err) != 0)
            fail_msg("store_query: %s", err);
    if (store_window(s, "a", T0 + 10000, T0 + 30 * MIN + 5, &a->w[0], err, sizeof err) != 0 ||
        store_window(s, "b", T0, until, &a->w[1], err, sizeof err) != 0 ||
        store_window(s, "a", T0 + 30 * MIN, T0 + 31 * MIN - 1, &a->w[2], err, sizeof err) != 0)
        fail_msg("store_window: %s", err);
    if (store_history_read(path, T0, until, hist_each, a, err, sizeof err) != 0)
        fail_msg("store_history_read: %s", err);
}

static void answers_same(const struct answers *a, const struct answers *b)
{
    for (int i = 0; i < 4; i++) {
        assert_int_equal(a->nq[i], b->nq[i]);
        for (size_t k = 0; k < a->nq[i]; k++) {
            assert_true(a->q[i][k].ts_ms == b->q[i][k].ts_ms);
            assert_true(bits(a->q[i][k].value) == bits(b->q[i][k].value));
        }
    }
    for (int i = 0; i < 3; i++) {
        const struct store_window *x = &a->w[i], *y = &b->w[i];
        assert_int_equal(x->n, y->n);
        assert_true(bits(x->sum) == bits(y->sum) && bits(x->min) == bits(y->min) &&
                    bits(x->max) == bits(y->max) && x->first_ms == y->first_ms &&
                    x->last_ms == y->last_ms && bits(x->first) == bits(y->first) &&
                    bits(x->last) == bits(y->last));
    }
    assert_int_equal(a->hist_n, b->hist_n);
    assert_true(a->hist_sum == b->hist_sum);
}

static void answers_free(struct answers *a)
{
    for (int i = 0; i < 4; i++)
        free(a->q[i]);
}

#define PACKS "SELECT count(*) FROM rollup_minute_pack"
#define ROWS_H0 "SELECT count(*) FROM rollup_minute WHERE bucket < 1767229200000"

/* Hour 0 and two minutes of hour 1 written; the chunks of hour 0 dropped
 * so that its reads come from the minute tier; hour 0 not folded yet. */
static struct store *hour_0_unfolded(const char *path)
{
    struct store *s = open_ok(path);
    fill(s, 0, 3600);
    compact(s, -MIN);
    retention(s, T0 + HOUR, INT64_MIN, INT64_MIN);
    assert_int_equal(raw_int(path, ROWS_H0), 120);
    assert_int_equal(raw_int(path, PACKS), 0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM rollup_hour"), 0);
    return s;
}

static void folding_an_hour_packs_its_minutes_and_answers_stay(void **state)
{
    struct fixture *f = *state;
    struct store *s = hour_0_unfolded(f->path);
    struct answers before, after;
    answers_take(s, f->path, T0 + HOUR - 1, &before);
    assert_int_equal(before.nq[0], 60);
    assert_int_equal(before.w[2].n, 58); /* 60 seconds, two failed reads */
    fill(s, 3600, 3690);
    compact(s, -MIN);
    /* Hour 0 folded: one pack per metric, no rows left. */
    assert_int_equal(raw_int(f->path, ROWS_H0), 0);
    assert_int_equal(raw_int(f->path, PACKS), 2);
    assert_int_equal(
        raw_int(f->path, "SELECT sum(n) FROM rollup_hour WHERE bucket = 1767225600000"),
        3528 + 360);
    answers_take(s, f->path, T0 + HOUR - 1, &after);
    answers_same(&before, &after);
    answers_free(&before);
    answers_free(&after);
    store_close(s);
}

static void a_late_sample_merges_with_its_packed_minute(void **state)
{
    struct fixture *f = *state;
    struct store *s = hour_0_unfolded(f->path);
    fill(s, 3600, 3690);
    compact(s, -MIN);
    assert_int_equal(raw_int(f->path, PACKS), 2);
    /* Minute 30 of hour 0 (its chunk is gone) gets one more sample. */
    struct metric_sample late = {.ts_ms = T0 + 30 * MIN + 500, .value = 1000, .ok = true};
    util_strlcpy(late.name, "a", sizeof late.name);
    char err[512] = "";
    assert_int_equal(store_write_samples(s, &late, 1, err, sizeof err), 0);
    compact(s, -MIN);
    struct store_window w;
    assert_int_equal(store_window(s, "a", T0 + 30 * MIN, T0 + 31 * MIN - 1, &w, err, sizeof err),
                     0);
    assert_int_equal(w.n, 59);
    assert_true(w.max == 1000);
    /* Repacked in the same compaction, and the hour refolded. */
    assert_int_equal(raw_int(f->path, ROWS_H0), 0);
    assert_int_equal(raw_int(f->path, "SELECT n FROM rollup_hour WHERE bucket = 1767225600000"
                                      " AND metric_id = (SELECT id FROM metric WHERE name = 'a')"),
                     3529);
    store_close(s);
}

static void a_minute_of_a_packed_hour_rewritten_as_failed_reads_leaves_the_pack(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    fill(s, 0, 3690);
    compact(s, -MIN);
    assert_int_equal(raw_int(f->path, PACKS), 2);
    /* Every sample of minute 30 of "a" rewritten as a failed read (its
     * chunk is still there: the newer write wins). */
    struct metric_sample again[60];
    for (int i = 0; i < 60; i++) {
        again[i] = (struct metric_sample){.ts_ms = T0 + (1800 + i) * 1000LL + 250, .ok = false};
        util_strlcpy(again[i].name, "a", sizeof again[i].name);
    }
    char err[512] = "";
    assert_int_equal(store_write_samples(s, again, 60, err, sizeof err), 0);
    compact(s, -MIN);
    retention(s, T0 + HOUR, INT64_MIN, INT64_MIN);
    struct store_window w;
    assert_int_equal(store_window(s, "a", T0 + 30 * MIN, T0 + 31 * MIN - 1, &w, err, sizeof err),
                     0);
    assert_int_equal(w.n, 0);
    assert_int_equal(raw_int(f->path, ROWS_H0), 0);
    assert_int_equal(raw_int(f->path, "SELECT n FROM rollup_hour WHERE bucket = 1767225600000"
                                      " AND metric_id = (SELECT id FROM metric WHERE name = 'a')"),
                     3528 - 58);
    store_close(s);
}

static void a_failed_pack_leaves_the_minutes_as_rows(void **state)
{
    struct fixture *f = *state;
    struct store *s = hour_0_unfolded(f->path);
    struct answers before, after;
    answers_take(s, f->path, T0 + HOUR - 1, &before);
    raw_exec(f->path, "CREATE TRIGGER boom BEFORE INSERT ON rollup_minute_pack"
                      " WHEN NEW.metric_id = (SELECT id FROM metric WHERE name = 'b')"
                      " BEGIN SELECT RAISE(ABORT, 'boom'); END");
    fill(s, 3600, 3690);
    char err[512] = "";
    assert_int_equal(store_compact(s, -MIN, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "boom"));
    /* Nothing of the fold happened: not a's pack, not the row deletes. */
    assert_int_equal(raw_int(f->path, ROWS_H0), 120);
    assert_int_equal(raw_int(f->path, PACKS), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rollup_hour"), 0);
    answers_take(s, f->path, T0 + HOUR - 1, &after);
    answers_same(&before, &after);
    answers_free(&after);
    raw_exec(f->path, "DROP TRIGGER boom");
    compact(s, -MIN);
    assert_int_equal(raw_int(f->path, ROWS_H0), 0);
    assert_int_equal(raw_int(f->path, PACKS), 2);
    answers_take(s, f->path, T0 + HOUR - 1, &after);
    answers_same(&before, &after);
    answers_free(&before);
    answers_free(&after);
    store_close(s);
}

static void retention_drops_a_pack_when_its_whole_hour_is_out(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    fill(s, 0, 2 * 3600 + 90);
    compact(s, -MIN);
    assert_int_equal(raw_int(f->path, PACKS), 4);
    /* The minute line inside hour 1: hour 0's packs go, hour 1's stay. */
    retention(s, T0 + 2 * HOUR, T0 + HOUR + 30 * MIN, INT64_MIN);
    assert_int_equal(raw_int(f->path, PACKS), 2);
    assert_int_equal(raw_int(f->path, "SELECT min(bucket) FROM rollup_minute_pack"), T0 + HOUR);
    struct store_point *pts = NULL;
    size_t n = 0;
    char err[512] = "";
    /* Hour 0 reads as its hour rollup, hour 1 as its 60 minutes. */
    assert_int_equal(
        store_query(s, "a", T0, T0 + 2 * HOUR - 1, 0, SIZE_MAX, &pts, &n, err, sizeof err), 0);
    assert_int_equal(n, 1 + 60);
    assert_true(pts[0].ts_ms == T0 && pts[1].ts_ms == T0 + HOUR &&
                pts[60].ts_ms == T0 + HOUR + 59 * MIN);
    free(pts);
    store_close(s);
}

/* Turns the file back into schema 8: every pack's minutes as rows. */
static void make_schema_8(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *packs = NULL, *put = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT bucket, metric_id, data FROM rollup_minute_pack",
                                        -1, &packs, NULL),
                     SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "INSERT INTO rollup_minute(bucket, metric_id, n, vmin, vsum,"
                           " vmax, first_ts, first, last_ts, last)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                           -1, &put, NULL),
        SQLITE_OK);
    while (sqlite3_step(packs) == SQLITE_ROW) {
        struct store_pack_roll r[STORE_PACK_SLOTS_MAX];
        size_t n = 0;
        char err[160];
        if (store_codec_unpack(
                sqlite3_column_blob(packs, 2), (size_t)sqlite3_column_bytes(packs, 2),
                sqlite3_column_int64(packs, 0), MIN, 60, r, &n, err, sizeof err) != 0)
            fail_msg("%s", err);
        for (size_t i = 0; i < n; i++) {
            sqlite3_bind_int64(put, 1, r[i].bucket);
            sqlite3_bind_int64(put, 2, sqlite3_column_int64(packs, 1));
            sqlite3_bind_int64(put, 3, r[i].n);
            sqlite3_bind_double(put, 4, r[i].min);
            sqlite3_bind_double(put, 5, r[i].sum);
            sqlite3_bind_double(put, 6, r[i].max);
            sqlite3_bind_int64(put, 7, r[i].first_ts);
            sqlite3_bind_double(put, 8, r[i].first);
            sqlite3_bind_int64(put, 9, r[i].last_ts);
            sqlite3_bind_double(put, 10, r[i].last);
            assert_int_equal(sqlite3_step(put), SQLITE_DONE);
            sqlite3_reset(put);
        }
    }
    sqlite3_finalize(packs);
    sqlite3_finalize(put);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TABLE rollup_minute_pack; PRAGMA user_version = 8;"
                                  " COMMIT",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
}

static void schema_8_minutes_stay_readable_and_are_packed_later(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    fill(s, 0, 2 * 3600 + 90);
    compact(s, -MIN);
    retention(s, T0 + 2 * HOUR, INT64_MIN, INT64_MIN);
    struct answers packed, rows, repacked;
    answers_take(s, f->path, T0 + 2 * HOUR - 1, &packed);
    store_close(s);
    make_schema_8(f->path);
    assert_int_equal(raw_int(f->path, ROWS_H0), 120);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rollup_minute"), 240 + 4);

    /* Migration 9 adds the table; the rows read as they are. */
    s = open_ok(f->path);
    assert_int_equal(raw_int(f->path, "PRAGMA user_version"), store_schema_version());
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rollup_minute"), 240 + 4);
    assert_int_equal(raw_int(f->path, PACKS), 0);
    answers_take(s, f->path, T0 + 2 * HOUR - 1, &rows);
    answers_same(&packed, &rows);
    /* The next compaction packs the folded hours. */
    fill(s, 2 * 3600 + 90, 2 * 3600 + 100);
    compact(s, STORE_COMPACT_GRACE_MS);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rollup_minute"), 4);
    assert_int_equal(raw_int(f->path, PACKS), 4);
    answers_take(s, f->path, T0 + 2 * HOUR - 1, &repacked);
    answers_same(&packed, &repacked);
    answers_free(&packed);
    answers_free(&rows);
    answers_free(&repacked);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codec_pack_round_trips_bit_for_bit),
        cmocka_unit_test(codec_pack_refuses_what_it_cannot_hold),
        cmocka_unit_test(codec_corrupt_packs_are_errors_not_crashes),
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(folding_an_hour_packs_its_minutes_and_answers_stay),
        T(a_late_sample_merges_with_its_packed_minute),
        T(a_minute_of_a_packed_hour_rewritten_as_failed_reads_leaves_the_pack),
        T(a_failed_pack_leaves_the_minutes_as_rows),
        T(retention_drops_a_pack_when_its_whole_hour_is_out),
        T(schema_8_minutes_stay_readable_and_are_packed_later),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
