/*
 * Unit tests of the telemetry tiers: store/store_codec.c (round trips,
 * failed reads, edge values, corrupt blobs), store/store_compact.c
 * (minutes close after the grace, late and rewritten samples merge, a
 * failed or killed compaction loses nothing and duplicates nothing, hours
 * fold, retention per tier) and store/store_tier.c (queries and windows
 * across the raw/minute/hour boundaries, with and without step, point
 * lookups in the query plans, store_history_read of every tier, read-only),
 * and the upgrade of a schema-7 file whose history is in `sample`.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
    snprintf(f->dir, sizeof f->dir, "/tmp/floe-test-tier-XXXXXX");
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

/* ---- helpers -------------------------------------------------------------- */

static struct metric_sample good(const char *name, int64_t ts_ms, double value)
{
    struct metric_sample m = {.ts_ms = ts_ms, .value = value, .ok = true};
    util_strlcpy(m.name, name, sizeof m.name);
    return m;
}

static struct metric_sample failed(const char *name, int64_t ts_ms)
{
    struct metric_sample m = {.ts_ms = ts_ms, .value = NAN, .ok = false};
    util_strlcpy(m.name, name, sizeof m.name);
    return m;
}

static struct store *open_ok(const char *path)
{
    struct store *s = NULL;
    char err[512] = "";
    if (store_open(&s, path, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    return s;
}

static void write_ok(struct store *s, const struct metric_sample *in, size_t n)
{
    char err[512] = "";
    if (store_write_samples(s, in, n, err, sizeof err) != 0)
        fail_msg("store_write_samples: %s", err);
}

static int64_t compact(struct store *s, int64_t grace)
{
    char err[512] = "";
    int64_t rows = -1;
    if (store_compact(s, grace, &rows, err, sizeof err) != 0)
        fail_msg("store_compact: %s", err);
    return rows;
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
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* n of the minute rollup at bucket in the pack of (hour, metric); 0 when
 * the pack lacks it. */
static int64_t packed_n(const char *path, int64_t metric, int64_t hour, int64_t bucket)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    struct store_pack_roll rolls[STORE_PACK_SLOTS_MAX];
    size_t n = 0;
    char err[128];
    int64_t v = 0;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT data FROM rollup_minute_pack"
                                        " WHERE bucket = ?1 AND metric_id = ?2",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, hour);
    sqlite3_bind_int64(st, 2, metric);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    if (store_codec_unpack(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), hour,
                           MIN, 60, rolls, &n, err, sizeof err) != 0)
        fail_msg("%s", err);
    for (size_t i = 0; i < n; i++)
        if (rolls[i].bucket == bucket)
            v = rolls[i].n;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

struct pt {
    int64_t ts;
    double v;
};

static void expect(struct store *s, const char *metric, int64_t since, int64_t until, int64_t step,
                   const struct pt *want, size_t nwant)
{
    struct store_point *got = NULL;
    size_t n = 0;
    char err[512] = "";
    if (store_query(s, metric, since, until, step, SIZE_MAX, &got, &n, err, sizeof err) != 0)
        fail_msg("store_query: %s", err);
    bool same = n == nwant;
    for (size_t i = 0; same && i < n; i++)
        same = got[i].ts_ms == want[i].ts && got[i].value == want[i].v;
    if (!same) {
        print_error("%s [%lld, %lld] step %lld\n", metric, (long long)since, (long long)until,
                    (long long)step);
        for (size_t i = 0; i < n; i++)
            print_error("  got  [%lld, %.17g]\n", (long long)(got[i].ts_ms - T0), got[i].value);
        for (size_t i = 0; i < nwant; i++)
            print_error("  want [%lld, %.17g]\n", (long long)(want[i].ts - T0), want[i].v);
    }
    free(got);
    assert_true(same);
}

static size_t count_points(struct store *s, const char *metric, int64_t since, int64_t until)
{
    struct store_point *got = NULL;
    size_t n = 0;
    char err[512] = "";
    if (store_query(s, metric, since, until, 0, SIZE_MAX, &got, &n, err, sizeof err) != 0)
        fail_msg("store_query: %s", err);
    free(got);
    return n;
}

/* ---- the codec ------------------------------------------------------------ */

static void roundtrip(const struct store_rec *in, size_t n, bool single)
{
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_int_equal(store_codec_encode(in, n, single, &blob, &len), 0);
    struct store_rec *out = NULL;
    size_t nout = 0, cap = 0;
    char err[128] = "";
    if (store_codec_decode(blob, len, -1, &out, &nout, &cap, err, sizeof err) != 0)
        fail_msg("decode: %s", err);
    assert_int_equal(nout, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i].metric_id, in[i].metric_id);
        assert_int_equal(out[i].ts_ms, in[i].ts_ms);
        if (isnan(in[i].value))
            assert_true(isnan(out[i].value));
        else
            assert_memory_equal(&out[i].value, &in[i].value, sizeof(double)); /* bit for bit */
    }
    free(out);
    free(blob);
}

static void codec_round_trips_every_value_and_time_bit_for_bit(void **unused)
{
    (void)unused;
    const double values[] = {0.0,      -0.0,    1.0,      412.5,     (double)(float)412.7,
                             -3.25,    NAN,     INFINITY, -INFINITY, DBL_MAX,
                             -DBL_MAX, DBL_MIN, 4.9e-324, 1e300,     412.5,
                             412.5,    NAN,     412.5,    1.0 / 3.0, 0.1};
    const int64_t times[] = {0,         1,         -1,        INT64_MIN, INT64_MAX,     T0,
                             T0 + 1000, T0 + 2000, T0 + 3000, T0 + 2999, T0 - 86400000, -5,
                             5,         T0,        T0,        T0 + 1,    T0 + 1,        T0 + 2,
                             INT64_MAX, INT64_MIN};
    enum { N = 20 };
    struct store_rec multi[N], single[N];
    for (size_t i = 0; i < N; i++) {
        multi[i] = (struct store_rec){(int64_t)(i % 3) * 1000 + 1, times[i], values[i]};
        single[i] = (struct store_rec){7, T0 + (int64_t)i * 1000 + (i % 2), values[i]};
    }
    roundtrip(multi, N, false);
    roundtrip(single, N, true);
    roundtrip(multi, 0, false);
    roundtrip(single, 0, true);
    struct store_rec odd[N];
    for (size_t i = 0; i < N; i++)
        odd[i] = (struct store_rec){INT64_MAX - (int64_t)i, times[N - 1 - i], values[i]};
    roundtrip(odd, N, false);

    /* A steady poll of a constant costs 3 bytes a sample in a chunk. */
    struct store_rec steady[60];
    for (int i = 0; i < 60; i++)
        steady[i] = (struct store_rec){9, T0 + i * 1000, 412.5};
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_int_equal(store_codec_encode(steady, 60, true, &blob, &len), 0);
    assert_in_range(len, 60 * 2, 60 * 2 + 16);
    free(blob);
}

static void codec_decode_of_one_metric_skips_the_others(void **unused)
{
    (void)unused;
    struct store_rec in[] = {{1, 10, 1.5}, {2, 10, 7},   {1, 20, 2.5}, {3, 20, NAN},
                             {2, 20, 8},   {1, 30, NAN}, {1, 40, 2.5}};
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_int_equal(store_codec_encode(in, ARRAY_LEN(in), false, &blob, &len), 0);
    struct store_rec *out = NULL;
    size_t n = 0, cap = 0;
    char err[128];
    assert_int_equal(store_codec_decode(blob, len, 1, &out, &n, &cap, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_true(out[0].value == 1.5 && out[1].value == 2.5 && isnan(out[2].value) &&
                out[3].value == 2.5);
    assert_int_equal(out[3].ts_ms, 40);
    n = 0;
    assert_int_equal(store_codec_decode(blob, len, 4, &out, &n, &cap, err, sizeof err), 0);
    assert_int_equal(n, 0);
    free(out);
    free(blob);
}

static void codec_corrupt_blobs_are_errors_not_crashes(void **unused)
{
    (void)unused;
    struct store_rec in[40];
    for (int i = 0; i < 40; i++)
        in[i] = (struct store_rec){i % 4 + 1, T0 + i * 250, i % 9 ? 100.0 + i * 0.37 : NAN};
    for (int single = 0; single < 2; single++) {
        if (single)
            for (int i = 0; i < 40; i++)
                in[i].metric_id = 5;
        uint8_t *blob = NULL;
        size_t len = 0;
        assert_int_equal(store_codec_encode(in, 40, single, &blob, &len), 0);
        struct store_rec *out = NULL;
        size_t n = 0, cap = 0;
        char err[128];
        /* Every truncation is an error, and leaves the output as it was. */
        for (size_t cut = 0; cut < len; cut++) {
            n = 3;
            err[0] = '\0';
            assert_int_equal(store_codec_decode(blob, cut, -1, &out, &n, &cap, err, sizeof err),
                             -1);
            assert_int_equal(n, 3);
            assert_non_null(strstr(err, "bad sample blob"));
        }
        /* A byte too many. */
        uint8_t *longer = malloc(len + 1);
        memcpy(longer, blob, len);
        longer[len] = 0;
        n = 0;
        assert_int_equal(store_codec_decode(longer, len + 1, -1, &out, &n, &cap, err, sizeof err),
                         -1);
        assert_non_null(strstr(err, "left over"));
        /* Every single byte changed to every value: an error or some
         * samples, never a crash or a read past the end (ASan). */
        for (size_t at = 0; at < len; at++) {
            for (int v = 0; v < 256; v += 17) {
                memcpy(longer, blob, len);
                longer[at] = (uint8_t)v;
                uint8_t *exact = malloc(len);
                memcpy(exact, longer, len);
                n = 0;
                (void)store_codec_decode(exact, len, -1, &out, &n, &cap, err, sizeof err);
                n = 0;
                (void)store_codec_decode(exact, len, 2, &out, &n, &cap, err, sizeof err);
                free(exact);
            }
        }
        free(longer);
        free(out);
        free(blob);
    }
    /* A count far beyond the bytes is refused before any allocation. */
    const uint8_t huge[] = {'L', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 0, 0};
    struct store_rec *out = NULL;
    size_t n = 0, cap = 0;
    char err[128];
    assert_int_equal(store_codec_decode(huge, sizeof huge, -1, &out, &n, &cap, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "count"));
    const uint8_t kind[] = {'X', 0};
    assert_int_equal(store_codec_decode(kind, sizeof kind, -1, &out, &n, &cap, err, sizeof err),
                     -1);
    free(out);
}

/* ---- compaction ----------------------------------------------------------- */

/* One sample a second of metric m from t for n seconds, value f(i). */
static void write_seconds(struct store *s, const char *m, int64_t t, int n, double base)
{
    struct metric_sample *in = calloc((size_t)n, sizeof *in);
    assert_non_null(in);
    for (int i = 0; i < n; i++)
        in[i] = good(m, t + i * 1000LL, base + (double)(i / 60));
    write_ok(s, in, (size_t)n);
    free(in);
}

static void a_minute_closes_only_after_its_grace(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    /* Batches every second for 2 minutes and 5 s. */
    for (int i = 0; i < 125; i++) {
        struct metric_sample in[] = {good("a", T0 + i * 1000LL, i), good("b", T0 + i * 1000LL, -i)};
        write_ok(s, in, 2);
    }
    /* Newest sample at 2:04: minute 0 closed (ends 1:00 <= 2:04 - 10 s),
     * minute 1 too (2:00 <= 1:54? no): only minute 0's 60 rows go. */
    assert_int_equal(compact(s, STORE_COMPACT_GRACE_MS), 60);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sample_log"), 65);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM raw_chunk"), 2);
    assert_int_equal(raw_int(f->path, "SELECT sum(n) FROM raw_chunk"), 120);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rollup_minute"), 2);
    /* Nothing new: nothing to do. */
    assert_int_equal(compact(s, STORE_COMPACT_GRACE_MS), 0);
    /* Six more seconds: 2:10 - 10 s closes minute 1. */
    for (int i = 125; i < 131; i++) {
        struct metric_sample in[] = {good("a", T0 + i * 1000LL, i)};
        write_ok(s, in, 1);
    }
    assert_int_equal(compact(s, STORE_COMPACT_GRACE_MS), 60);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM raw_chunk"), 4);
    /* Every sample is still there, once, in order. */
    assert_int_equal(count_points(s, "a", T0, T0 + 1000000), 131);
    assert_int_equal(count_points(s, "b", T0, T0 + 1000000), 125);
    assert_int_equal(store_sample_count(s), 131 + 125);
    struct pt want[] = {{T0 + 59000, 59}, {T0 + 60000, 60}, {T0 + 61000, 61}};
    expect(s, "a", T0 + 59000, T0 + 61000, 0, want, 3);
    /* The rollup of minute 0 of "b": 0, -1, ..., -59. */
    struct store_window w;
    char err[256];
    assert_int_equal(store_window(s, "b", T0, T0 + 59999, &w, err, sizeof err), 0);
    assert_int_equal(w.n, 60);
    assert_true(w.sum == -1770 && w.min == -59 && w.max == 0 && w.first == 0 && w.last == -59);
    assert_int_equal(raw_int(f->path, "SELECT vsum FROM rollup_minute WHERE metric_id ="
                                      " (SELECT id FROM metric WHERE name = 'b')"),
                     -1770);
    /* A compaction with no newer minute closed is skipped, but a late
     * sample into a closed minute is compacted at the next one. */
    assert_int_equal(compact(s, STORE_COMPACT_GRACE_MS), 0);
    struct metric_sample late[] = {good("b", T0 + 500, 7)};
    write_ok(s, late, 1);
    assert_int_equal(compact(s, STORE_COMPACT_GRACE_MS), 1);
    assert_int_equal(raw_int(f->path, "SELECT n FROM raw_chunk WHERE bucket = 1767225600000"
                                      " AND metric_id = (SELECT id FROM metric WHERE name = 'b')"),
                     61);
    store_close(s);
}

static void late_and_rewritten_samples_merge_into_their_minute(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    write_seconds(s, "m", T0, 60, 10); /* minute 0: all 10 */
    write_seconds(s, "m", T0 + MIN, 60, 20);
    write_seconds(s, "m", T0 + 2 * MIN, 15, 30);
    assert_true(compact(s, STORE_COMPACT_GRACE_MS) > 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM raw_chunk"), 2);
    /* A slow poll's sample lands in closed minute 0, and a rewrite of
     * 0:30 with a failed read; one batch also spans minutes 0 and 2. */
    struct metric_sample late[] = {good("m", T0 + 500, 99), failed("m", T0 + 30000),
                                   good("m", T0 + 2 * MIN + 20000, 31)};
    write_ok(s, late, ARRAY_LEN(late));
    write_seconds(s, "m", T0 + 2 * MIN + 21000, 60, 40);
    compact(s, STORE_COMPACT_GRACE_MS);
    struct pt want[] = {{T0, 10}, {T0 + 500, 99}, {T0 + 1000, 10}};
    expect(s, "m", T0, T0 + 1000, 0, want, 3);
    assert_int_equal(count_points(s, "m", T0, T0 + MIN - 1), 60); /* 61 minus the failed one */
    struct store_window w;
    char err[256];
    assert_int_equal(store_window(s, "m", T0, T0 + MIN - 1, &w, err, sizeof err), 0);
    assert_int_equal(w.n, 60);
    assert_true(w.max == 99 && w.sum == 59 * 10 + 99);
    /* The raw count lost the rewritten duplicate when it merged. */
    assert_int_equal(store_sample_count(s), 60 + 1 + 60 + 15 + 1 + 60);
    assert_int_equal(raw_int(f->path, "SELECT n FROM rollup_minute WHERE bucket = 1767225600000"),
                     60);
    store_close(s);
}

static void failed_compaction_keeps_the_log_and_resumes_without_duplicates(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    write_seconds(s, "x", T0, 180, 1);
    /* The third minute's rollup cannot be written: the whole step rolls back. */
    raw_exec(f->path, "CREATE TRIGGER boom BEFORE INSERT ON rollup_minute"
                      " WHEN NEW.bucket = 1767225720000 BEGIN SELECT RAISE(ABORT, 'boom'); END");
    write_seconds(s, "x", T0 + 180000, 20, 4);
    char err[512] = "";
    assert_int_equal(store_compact(s, STORE_COMPACT_GRACE_MS, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "boom"));
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM raw_chunk"), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sample_log"), 2);
    assert_int_equal(count_points(s, "x", 0, INT64_MAX), 200);
    raw_exec(f->path, "DROP TRIGGER boom");
    /* Reopen (as after a crash) and resume. */
    store_close(s);
    s = open_ok(f->path);
    compact(s, STORE_COMPACT_GRACE_MS);
    compact(s, -MIN);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sample_log"), 0);
    assert_int_equal(raw_int(f->path, "SELECT sum(n) FROM raw_chunk"), 200);
    assert_int_equal(raw_int(f->path, "SELECT sum(n) FROM rollup_minute"), 200);
    assert_int_equal(count_points(s, "x", 0, INT64_MAX), 200);
    assert_int_equal(store_sample_count(s), 200);
    store_close(s);
}

/* Child: writes one batch a second of sample time (3 metrics) and
 * compacts after each, as the recorder does, reporting each committed
 * batch number through the pipe, until killed. */
static void kill_child(const char *path, int fd)
{
    alarm(60);
    struct store *s = NULL;
    char err[256];
    if (store_open(&s, path, err, sizeof err) != 0)
        _exit(2);
    for (int32_t k = 0;; k++) {
        struct metric_sample in[3];
        for (int i = 0; i < 3; i++) {
            char name[16];
            snprintf(name, sizeof name, "k.m%d", i);
            in[i] = good(name, T0 + k * 1000LL, k);
        }
        if (store_write_samples(s, in, 3, err, sizeof err) != 0)
            _exit(3);
        if (write(fd, &k, sizeof k) != sizeof k)
            _exit(4);
        if (store_compact(s, STORE_COMPACT_GRACE_MS, NULL, err, sizeof err) != 0)
            _exit(5);
    }
}

static void kill_9_during_writes_and_compaction_loses_and_duplicates_nothing(void **state)
{
    struct fixture *f = *state;
    /* The child runs ahead of the parent's reading: a round may end below
     * an earlier one, whose samples are still there. */
    int32_t most = -1;
    for (int round = 0; round < 3; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            kill_child(f->path, fds[1]);
        }
        close(fds[1]);
        int32_t k, last = -1;
        /* Past several minute closes; a different point each round. */
        while (last < 400 + 97 * round && read(fds[0], &k, sizeof k) == sizeof k)
            last = k;
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        while (read(fds[0], &k, sizeof k) == sizeof k)
            last = k;
        close(fds[0]);
        assert_true(WIFSIGNALED(status));

        struct store *s = open_ok(f->path);
        compact(s, -MIN);
        /* Each round's child starts again at k = 0: later writes of the
         * same times replace the earlier (same values). */
        size_t n = count_points(s, "k.m1", 0, INT64_MAX);
        most = last > most ? last : most;
        assert_true(n >= (size_t)most + 1);
        /* The batch in flight when a child was killed: all or nothing. */
        assert_true(n <= (size_t)most + 2);
        struct store_window w;
        char err[256];
        assert_int_equal(store_window(s, "k.m2", 0, INT64_MAX, &w, err, sizeof err), 0);
        assert_int_equal(w.n, n);
        assert_true(w.sum == (double)(n - 1) * (double)n / 2); /* each k once */
        store_close(s);
    }
}

/* ---- tiers ---------------------------------------------------------------- */

/* Three hours of "t" at one sample a second, value = the minute's index
 * within the run (so every mean is exact), compacted, then retention
 * leaves hour 0 in the hour tier, hour 1 in the minute tier and hour 2
 * raw. */
static struct store *three_tiers(const char *path)
{
    struct store *s = open_ok(path);
    for (int m = 0; m < 180; m++)
        write_seconds(s, "t", T0 + m * MIN, 60, m);
    struct metric_sample last = good("t", T0 + 3 * HOUR + 2 * MIN, 500);
    write_ok(s, &last, 1);
    compact(s, STORE_COMPACT_GRACE_MS);
    retention(s, T0 + 2 * HOUR, T0 + HOUR, INT64_MIN);
    return s;
}

static void queries_read_each_part_of_the_range_from_its_tier(void **state)
{
    struct fixture *f = *state;
    struct store *s = three_tiers(f->path);
    assert_int_equal(
        raw_int(f->path, "SELECT count(*) FROM rollup_minute WHERE bucket < 1767229200000"), 0);
    assert_int_equal(
        raw_int(f->path, "SELECT count(*) FROM raw_chunk WHERE bucket < 1767232800000"), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rollup_hour"), 3);
    /* Across both boundaries: the hour (mean of minutes 0..59 = 29.5),
     * 60 minute means, then raw samples. */
    struct store_point *pts = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(store_query(s, "t", T0, T0 + 4 * HOUR, 0, SIZE_MAX, &pts, &n, err, sizeof err),
                     0);
    assert_int_equal(n, 1 + 60 + 3600 + 1);
    assert_true(pts[0].ts_ms == T0 && pts[0].value == 29.5);
    assert_true(pts[1].ts_ms == T0 + HOUR && pts[1].value == 60);
    assert_true(pts[60].ts_ms == T0 + HOUR + 59 * MIN && pts[60].value == 119);
    assert_true(pts[61].ts_ms == T0 + 2 * HOUR && pts[61].value == 120);
    assert_true(pts[62].ts_ms == T0 + 2 * HOUR + 1000 && pts[62].value == 120);
    free(pts);
    /* Rows count by their bucket start: 0:30 .. 1:00:30 holds the minute
     * rows of 1:00 only (the hour row starts at 0:00). */
    struct pt want_edge[] = {{T0 + HOUR, 60}};
    expect(s, "t", T0 + 30 * MIN, T0 + HOUR + 30000, 0, want_edge, 1);
    /* Steps: a 30-minute step over minute rows, an hour step over all. */
    struct pt want_30m[] = {{T0 + HOUR, 74.5}, {T0 + HOUR + 30 * MIN, 104.5}};
    expect(s, "t", T0 + HOUR, T0 + 2 * HOUR - 1, 30 * MIN, want_30m, 2);
    struct pt want_1h[] = {
        {T0, 29.5}, {T0 + HOUR, 89.5}, {T0 + 2 * HOUR, 149.5}, {T0 + 3 * HOUR, 500}};
    expect(s, "t", T0, T0 + 4 * HOUR, HOUR, want_1h, 4);
    /* The raw tier alone is untouched by the rollups. */
    assert_int_equal(count_points(s, "t", T0 + 2 * HOUR, T0 + 3 * HOUR - 1), 3600);
    /* max_points keeps the earliest, across tiers. */
    assert_int_equal(store_query(s, "t", T0, T0 + 4 * HOUR, 0, 2, &pts, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_true(pts[1].ts_ms == T0 + HOUR);
    free(pts);
    store_close(s);
}

static void windows_sum_up_across_tiers(void **state)
{
    struct fixture *f = *state;
    struct store *s = three_tiers(f->path);
    struct store_window w;
    char err[256];
    assert_int_equal(store_window(s, "t", T0, T0 + 4 * HOUR, &w, err, sizeof err), 0);
    assert_int_equal(w.n, 3 * 3600 + 1);
    double sum = 0;
    for (int m = 0; m < 180; m++)
        sum += 60.0 * m;
    assert_true(w.sum == sum + 500);
    assert_true(w.min == 0 && w.max == 500);
    /* first/last are the real samples, even from the hour row. */
    assert_int_equal(w.first_ms, T0);
    assert_true(w.first == 0);
    assert_int_equal(w.last_ms, T0 + 3 * HOUR + 2 * MIN);
    assert_true(w.last == 500);
    /* A window in the minute tier: 1:10 .. 1:19:59 = minutes 70..79. */
    assert_int_equal(store_window(s, "t", T0 + 70 * MIN, T0 + 80 * MIN - 1, &w, err, sizeof err),
                     0);
    assert_int_equal(w.n, 600);
    assert_true(w.min == 70 && w.max == 79 && w.first == 70 && w.last == 79);
    assert_int_equal(w.first_ms, T0 + 70 * MIN);
    assert_int_equal(w.last_ms, T0 + 80 * MIN - 1000);
    /* Nothing, and an unknown metric. */
    assert_int_equal(store_window(s, "t", T0 - 2 * HOUR, T0 - 1, &w, err, sizeof err), 0);
    assert_int_equal(w.n, 0);
    assert_int_equal(store_window(s, "nope", 0, INT64_MAX, &w, err, sizeof err), 0);
    assert_int_equal(w.n, 0);
    store_close(s);
}

static void retention_per_tier_drops_only_what_a_coarser_tier_holds(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    for (int m = 0; m < 150; m++)
        write_seconds(s, "r", T0 + m * MIN, 60, m);
    compact(s, STORE_COMPACT_GRACE_MS);
    /* Hours 0 and 1 are folded (2:00 + 1 min <= 2:29:50); hour 2 is not:
     * a minute cutoff at 3:00 drops the minutes of hours 0 and 1 only. */
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rollup_hour"), 2);
    retention(s, T0 + 2 * HOUR + 10 * MIN, T0 + 3 * HOUR, INT64_MIN);
    assert_int_equal(raw_int(f->path, "SELECT min(bucket) FROM rollup_minute"), T0 + 2 * HOUR);
    assert_int_equal(raw_int(f->path, "SELECT min(bucket) FROM raw_chunk"),
                     T0 + 2 * HOUR + 10 * MIN);
    assert_int_equal(count_points(s, "r", T0, T0 + 2 * HOUR - 1), 2); /* hour rows */
    assert_int_equal(count_points(s, "r", T0 + 2 * HOUR, T0 + 2 * HOUR + 10 * MIN - 1), 10);
    assert_int_equal(count_points(s, "r", T0 + 2 * HOUR + 10 * MIN, INT64_MAX), 20 * 60);
    /* The hour tier keeps its own horizon. */
    retention(s, INT64_MIN, INT64_MIN, T0 + HOUR);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rollup_hour"), 1);
    assert_int_equal(count_points(s, "r", T0, T0 + 2 * HOUR - 1), 1);
    /* Widening a window later does not bring back what was dropped. */
    retention(s, T0, T0, INT64_MIN);
    assert_int_equal(count_points(s, "r", T0 + 2 * HOUR, T0 + 2 * HOUR + 10 * MIN - 1), 10);
    store_close(s);
}

/* A late sample in an hour already folded folds that hour again; one
 * older than the minute tier cannot (its minutes are gone) and is dropped
 * rather than let it replace the hour's row. */
static void late_samples_refold_their_hour_unless_its_minutes_are_gone(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    for (int m = 0; m < 130; m++)
        write_seconds(s, "h", T0 + m * MIN, 60, 1);
    compact(s, STORE_COMPACT_GRACE_MS);
    assert_int_equal(raw_int(f->path, "SELECT n FROM rollup_hour WHERE bucket = 1767225600000"),
                     3600);
    struct metric_sample late[] = {good("h", T0 + 30 * MIN + 500, 1000)};
    write_ok(s, late, 1);
    write_seconds(s, "h", T0 + 130 * MIN, 60, 1);
    compact(s, STORE_COMPACT_GRACE_MS);
    assert_int_equal(raw_int(f->path, "SELECT n FROM rollup_hour WHERE bucket = 1767225600000"),
                     3601);
    assert_int_equal(raw_int(f->path, "SELECT vmax FROM rollup_hour WHERE bucket = 1767225600000"),
                     1000);
    /* Hour 0's minutes leave (minute tier from 1:00); a sample of hour 0
     * arriving now does not touch its hour row. */
    retention(s, T0 + 2 * HOUR, T0 + HOUR, INT64_MIN);
    int64_t count = store_sample_count(s);
    struct metric_sample older[] = {good("h", T0 + 10 * MIN, -5)};
    write_ok(s, older, 1);
    write_seconds(s, "h", T0 + 131 * MIN, 60, 1);
    compact(s, STORE_COMPACT_GRACE_MS);
    assert_int_equal(raw_int(f->path, "SELECT n FROM rollup_hour WHERE bucket = 1767225600000"),
                     3601);
    assert_int_equal(raw_int(f->path, "SELECT vmin FROM rollup_hour WHERE bucket = 1767225600000"),
                     1);
    assert_int_equal(
        raw_int(f->path, "SELECT count(*) FROM rollup_minute WHERE bucket < 1767229200000"), 0);
    assert_int_equal(store_sample_count(s), count + 60);
    store_close(s);
}

/* The plan of each read names the primary key with both columns. */
static void reads_of_one_metric_are_point_lookups(void **state)
{
    struct fixture *f = *state;
    store_close(open_ok(f->path));
    static const char *const sql[] = {
        "SELECT data FROM raw_chunk WHERE bucket = ?1 AND metric_id = ?2",
        "SELECT n FROM rollup_minute WHERE bucket = ?1 AND metric_id = ?2",
        "SELECT n FROM rollup_hour WHERE bucket = ?1 AND metric_id = ?2",
        /* An hour's packed minutes: a lookup of its unique index. */
        "SELECT data FROM rollup_minute_pack WHERE bucket = ?1 AND metric_id = ?2",
    };
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    for (size_t i = 0; i < ARRAY_LEN(sql); i++) {
        char q[256];
        snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql[i]);
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        const char *plan = (const char *)sqlite3_column_text(st, 3);
        if (!strstr(plan, i == 3 ? "INDEX sqlite_autoindex_rollup_minute_pack_1 (bucket=? AND "
                                   "metric_id=?)"
                                 : "PRIMARY KEY (bucket=? AND metric_id=?)"))
            fail_msg("%s: %s", sql[i], plan);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

/* ---- reading the file: store_history_read --------------------------------- */

struct seen {
    char metric[8][32];
    int64_t ts[8][4000];
    double v[8][4000];
    size_t n[8];
    size_t nmetrics;
};

static int seen_each(void *ctx, const char *metric, int64_t ts, double value)
{
    struct seen *s = ctx;
    size_t i = 0;
    while (i < s->nmetrics && strcmp(s->metric[i], metric) != 0)
        i++;
    if (i == s->nmetrics)
        util_strlcpy(s->metric[s->nmetrics++], metric, sizeof s->metric[0]);
    if (s->n[i] > 0 && ts <= s->ts[i][s->n[i] - 1])
        fail_msg("%s: %lld after %lld", metric, (long long)ts, (long long)s->ts[i][s->n[i] - 1]);
    s->ts[i][s->n[i]] = ts;
    s->v[i][s->n[i]] = value;
    s->n[i]++;
    return 0;
}

static void history_read_gives_every_tier_read_only(void **state)
{
    struct fixture *f = *state;
    struct store *s = three_tiers(f->path);
    struct metric_sample more[] = {failed("t", T0 + 3 * HOUR + 2 * MIN + 1000),
                                   good("u", T0 + 3 * HOUR, 1)};
    write_ok(s, more, ARRAY_LEN(more));
    store_close(s);
    struct stat before;
    assert_int_equal(stat(f->path, &before), 0);
    int64_t version = raw_int(f->path, "PRAGMA user_version");

    struct seen *seen = calloc(1, sizeof *seen);
    char err[256] = "";
    if (store_history_read(f->path, INT64_MIN, INT64_MAX, seen_each, seen, err, sizeof err) != 0)
        fail_msg("store_history_read: %s", err);
    assert_int_equal(seen->nmetrics, 2);
    assert_string_equal(seen->metric[0], "t");
    assert_int_equal(seen->n[0], 1 + 60 + 3600 + 2);
    assert_true(seen->ts[0][0] == T0 && seen->v[0][0] == 29.5);
    assert_true(seen->ts[0][1] == T0 + HOUR && seen->v[0][1] == 60);
    assert_true(seen->v[0][61] == 120);
    assert_true(isnan(seen->v[0][3662])); /* the failed read, as NaN */
    assert_int_equal(seen->n[1], 1);
    /* A range. */
    memset(seen, 0, sizeof *seen);
    assert_int_equal(store_history_read(f->path, T0 + HOUR, T0 + HOUR + 10 * MIN - 1, seen_each,
                                        seen, err, sizeof err),
                     0);
    assert_int_equal(seen->n[0], 10);
    free(seen);
    struct stat after;
    assert_int_equal(stat(f->path, &after), 0);
    assert_int_equal(after.st_size, before.st_size);
    assert_int_equal(after.st_mtime, before.st_mtime);
    assert_int_equal(raw_int(f->path, "PRAGMA user_version"), version);
}

/* ---- upgrade from schema 7 ------------------------------------------------ */

/* Turns a fresh file into what a floe of schema 7 leaves: history in the
 * metric-major table `sample`, no tiers. */
static void make_schema_7(const char *path)
{
    store_close(open_ok(path));
    raw_exec(path, "DROP TABLE sample_log; DROP TABLE raw_chunk; DROP TABLE rollup_minute;"
                   " DROP TABLE rollup_hour; DROP TABLE rollup_minute_pack;"
                   " DELETE FROM meta WHERE key IN ('hour_next', 'raw_from', 'minute_from');"
                   "INSERT INTO metric(id, name) VALUES (1, 'old.kw'), (2, 'old.pct');"
                   /* old.kw: 0:00:00 .. 1:59:50 every 10 s, value = minute index;
                    * one failed read; old.pct: two samples. */
                   "WITH RECURSIVE i(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM i WHERE k < 719)"
                   " INSERT INTO sample SELECT 1, 1767225600000 + k * 10000,"
                   "   CASE WHEN k = 5 THEN NULL ELSE k / 6 END FROM i;"
                   "INSERT INTO sample VALUES (2, 1767225600000, 50), (2, 1767225660000, 70);"
                   "UPDATE meta SET value = 722 WHERE key = 'sample_count';"
                   "PRAGMA user_version = 7;");
}

static void schema_7_history_stays_readable_and_ages_into_rollups(void **state)
{
    struct fixture *f = *state;
    make_schema_7(f->path);
    /* replay --db reads the old file as it is, without upgrading it. */
    struct seen *seen = calloc(1, sizeof *seen);
    char err[256] = "";
    if (store_history_read(f->path, INT64_MIN, INT64_MAX, seen_each, seen, err, sizeof err) != 0)
        fail_msg("store_history_read: %s", err);
    assert_int_equal(seen->n[0], 720);
    assert_true(isnan(seen->v[0][5]));
    free(seen);
    assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 7);

    struct store *s = open_ok(f->path);
    assert_int_equal(raw_int(f->path, "PRAGMA user_version"), store_schema_version());
    /* The migration folded the history into minute and hour rollups. */
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rollup_minute WHERE metric_id = 1"),
                     120);
    assert_int_equal(
        raw_int(f->path,
                "SELECT n FROM rollup_minute WHERE metric_id = 1 AND bucket = 1767225600000"),
        5);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rollup_hour"), 3);
    assert_int_equal(raw_int(f->path, "SELECT first FROM rollup_hour WHERE metric_id = 2"), 50);
    assert_int_equal(raw_int(f->path, "SELECT last FROM rollup_hour WHERE metric_id = 2"), 70);
    /* Raw reads still see the legacy samples. */
    assert_int_equal(store_sample_count(s), 722);
    assert_int_equal(count_points(s, "old.kw", 0, INT64_MAX), 719);
    /* New samples in the last legacy minute, then later ones. */
    struct metric_sample in[] = {good("old.kw", T0 + 2 * HOUR - 5000, 119)};
    write_ok(s, in, 1);
    for (int m = 0; m < 62; m++)
        write_seconds(s, "old.kw", T0 + 2 * HOUR + m * MIN, 60, 1000);
    compact(s, STORE_COMPACT_GRACE_MS);
    /* The upgrade minute's rollup gained the new sample (upsert); its
     * hour is folded now, so it is in the hour's pack, and so are the
     * minutes of hour 0 that schema 8 had folded (packed on upgrade). */
    assert_int_equal(packed_n(f->path, 1, T0 + HOUR, T0 + 2 * HOUR - MIN), 7);
    assert_int_equal(packed_n(f->path, 1, T0, T0), 5);
    assert_int_equal(
        raw_int(f->path, "SELECT count(*) FROM rollup_minute WHERE bucket < 1767232800000"), 0);
    /* Retention empties the legacy table by the raw window, and the old
     * hours read from rollups: hour 0 = mean of minutes 0..59. */
    retention(s, T0 + 2 * HOUR, T0 + HOUR, INT64_MIN);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sample"), 0);
    struct store_point *pts = NULL;
    size_t n = 0;
    assert_int_equal(
        store_query(s, "old.kw", T0, T0 + 2 * HOUR - 1, 0, SIZE_MAX, &pts, &n, err, sizeof err), 0);
    assert_int_equal(n, 1 + 60);
    assert_true(pts[0].ts_ms == T0);
    assert_true(fabs(pts[0].value - (29.5 * 360 - 0) / 359.0) < 1e-9); /* 359 good samples */
    assert_true(pts[1].ts_ms == T0 + HOUR && pts[1].value == 60);
    free(pts);
    assert_int_equal(store_sample_count(s), 62 * 60);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codec_round_trips_every_value_and_time_bit_for_bit),
        cmocka_unit_test(codec_decode_of_one_metric_skips_the_others),
        cmocka_unit_test(codec_corrupt_blobs_are_errors_not_crashes),
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(a_minute_closes_only_after_its_grace),
        T(late_and_rewritten_samples_merge_into_their_minute),
        T(failed_compaction_keeps_the_log_and_resumes_without_duplicates),
        T(kill_9_during_writes_and_compaction_loses_and_duplicates_nothing),
        T(queries_read_each_part_of_the_range_from_its_tier),
        T(windows_sum_up_across_tiers),
        T(retention_per_tier_drops_only_what_a_coarser_tier_holds),
        T(late_samples_refold_their_hour_unless_its_minutes_are_gone),
        T(reads_of_one_metric_are_point_lookups),
        T(history_read_gives_every_tier_read_only),
        T(schema_7_history_stays_readable_and_ages_into_rollups),
#undef T
    };
    return cmocka_run_group_tests_name("store_tier", tests, NULL, NULL);
}
