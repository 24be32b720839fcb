/*
 * Unit tests of replay and replay_trace: CSV errors with their line
 * numbers, what CSV forms are accepted, rows in any order, the value rule
 * (read errors, staleness), history windows against a brute-force scan,
 * globs, reading the agent's SQLite database, and whole runs of a config
 * over a trace (numbering, derived metrics, staleness sources, ranges).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "config/config.h"
#include "policies/replay.h"
#include "policies/replay_trace.h"
#include "store/store.h"

#define SEC 1000LL
#define MIN (60 * SEC)
/* 2026-01-15T09:00:00Z */
#define T0 1768467600000LL

/* ---- helpers ---------------------------------------------------------------- */

static struct replay_trace *load_csv(const char *text, char *err, size_t errlen)
{
    struct replay_trace *t = replay_trace_new();
    if (replay_read_csv(t, "t.csv", text, strlen(text), err, errlen) < 0) {
        replay_trace_free(t);
        return NULL;
    }
    return t;
}

/* value() of metric at now: 1 and *v when good, else 0. */
static int value_at(struct replay_trace *t, const char *metric, int64_t now, double *v)
{
    struct pol_env env;
    replay_trace_env(t, &env);
    replay_trace_set_now(t, now);
    *v = NAN;
    return env.value(env.ctx, metric, v);
}

static struct pol_window window(struct replay_trace *t, const char *metric, int64_t since,
                                int64_t until)
{
    struct pol_env env;
    struct pol_window w;
    replay_trace_env(t, &env);
    assert_int_equal(env.history(env.ctx, metric, since, until, &w), 0);
    return w;
}

/* ---- CSV --------------------------------------------------------------------- */

struct csv_case {
    const char *name;
    const char *text;
    const char *err;
};

#define HDR "ts,metric,value\n"

static const struct csv_case csv_errors[] = {
    {"empty_file", "", "t.csv:1: no header line ts,metric,value (empty file)"},
    {"wrong_header", "time,metric,value\n", "t.csv:1: expected the header line ts,metric,value"},
    {"header_after_blank_lines", "\n\ntimestamp,metric,value\n",
     "t.csv:3: expected the header line ts,metric,value"},
    {"bad_time", HDR "2026-01-15T09:00:00Z,it.load_kw,400\nyesterday,it.load_kw,1\n",
     "t.csv:3: bad time 'yesterday': expected RFC 3339 (2026-01-15T10:00:00Z) or Unix seconds"},
    {"time_without_zone", HDR "2026-01-15T09:00:00,it.load_kw,400\n",
     "t.csv:2: bad time '2026-01-15T09:00:00': expected RFC 3339 (2026-01-15T10:00:00Z) or "
     "Unix seconds"},
    {"bad_metric", HDR "1768467600,It.Load_kw,400\n",
     "t.csv:2: bad metric name 'It.Load_kw': lower-case [a-z0-9_] segments joined by '.'"},
    {"bad_value", HDR "1768467600,it.load_kw,4OO\n",
     "t.csv:2: bad value '4OO': a number, or empty for a read error"},
    {"nan_value", HDR "1768467600,it.load_kw,nan\n",
     "t.csv:2: bad value 'nan': a number, or empty for a read error"},
    {"infinite_value", HDR "1768467600,it.load_kw,1e999\n",
     "t.csv:2: bad value '1e999': a number, or empty for a read error"},
    {"two_fields", HDR "\n1768467600,it.load_kw\n",
     "t.csv:3: expected 3 fields (ts,metric,value), found 2"},
    {"four_fields", HDR "1768467600,it.load_kw,1,2\n",
     "t.csv:2: expected 3 fields (ts,metric,value), found more"},
    {"quote_inside", HDR "1768467600,\"it.\"load_kw,1\n",
     "t.csv:2: quote inside a field (fields are never quoted around commas or quotes)"},
    {"control_chars_are_not_echoed", HDR "1768467600,it.\x1b[2Jload,1\n",
     "t.csv:2: bad metric name 'it.?[2Jload': lower-case [a-z0-9_] segments joined by '.'"},
    {"second_sample_at_same_time",
     HDR "2026-01-15T09:00:00Z,it.load_kw,400\n2026-01-15T09:00:10Z,it.load_kw,401\n"
         "1768467600,it.load_kw,402\n",
     "t.csv:4: metric 'it.load_kw' has a second sample at 2026-01-15T09:00:00Z (first at line 2)"},
    {"error_and_value_at_same_time",
     HDR "2026-01-15T09:00:00Z,it.load_kw,\n2026-01-15T10:00:00+01:00,it.load_kw,5\n",
     "t.csv:3: metric 'it.load_kw' has a second sample at 2026-01-15T09:00:00Z (first at line 2)"},
};

static void csv_errors_name_the_file_and_line(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < sizeof csv_errors / sizeof csv_errors[0]; i++) {
        const struct csv_case *c = &csv_errors[i];
        char err[512] = "";
        struct replay_trace *t = replay_trace_new();
        int rc = replay_read_csv(t, "t.csv", c->text, strlen(c->text), err, sizeof err);
        if (rc != -1 || strcmp(err, c->err) != 0)
            fail_msg("%s: rc %d err '%s'\n  want '%s'", c->name, rc, err, c->err);
        replay_trace_free(t);
    }
}

static void csv_nul_byte_is_an_error_on_its_line(void **unused)
{
    (void)unused;
    static const char text[] = HDR "1768467600,it.load_kw,1\n1768467610,it.load\0kw,1\n";
    char err[256] = "";
    struct replay_trace *t = replay_trace_new();
    assert_int_equal(replay_read_csv(t, "t.csv", text, sizeof text - 1, err, sizeof err), -1);
    assert_string_equal(err, "t.csv:3: NUL byte in line (not a text file?)");
    replay_trace_free(t);
}

static void csv_accepts_crlf_bom_blanks_quotes_offsets_and_unix_seconds(void **unused)
{
    (void)unused;
    const char *text = "\xEF\xBB\xBFts,metric,value\r\n"
                       "\r\n"
                       "2026-01-15T09:00:00Z,it.load_kw,400\r\n"
                       "  2026-01-15T10:00:10+01:00 , \"it.load_kw\" , 401.5 \r\n"
                       "1768467620.5,it.load_kw,\"-2e1\"\r\n"
                       "1768467630,it.load_kw,\r\n"
                       "1768467640,it.load_kw,7"; /* no final newline */
    char err[256] = "";
    struct replay_trace *t = load_csv(text, err, sizeof err);
    if (!t)
        fail_msg("%s", err);
    double v;
    assert_int_equal(value_at(t, "it.load_kw", T0, &v), 1);
    assert_true(v == 400);
    assert_int_equal(value_at(t, "it.load_kw", T0 + 10 * SEC, &v), 1);
    assert_true(v == 401.5);
    assert_int_equal(value_at(t, "it.load_kw", T0 + 20 * SEC, &v), 1); /* next is .5 s later */
    assert_true(v == 401.5);
    assert_int_equal(value_at(t, "it.load_kw", T0 + 20500, &v), 1);
    assert_true(v == -20);
    assert_int_equal(value_at(t, "it.load_kw", T0 + 35 * SEC, &v), 0); /* read error */
    assert_int_equal(value_at(t, "it.load_kw", T0 + 40 * SEC, &v), 1);
    assert_true(v == 7);
    assert_int_equal(replay_trace_samples(t), 5);
    replay_trace_free(t);
}

/* A deterministic generator, so failures reproduce. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void rows_in_any_order_give_the_same_trace(void **unused)
{
    (void)unused;
    enum { ROWS = 600 };
    char *lines[ROWS];
    uint64_t seed = 42;
    for (int i = 0; i < ROWS; i++) {
        const char *metric = i % 3 == 0 ? "a.x" : i % 3 == 1 ? "a.y" : "b.z";
        int64_t ts = T0 / 1000 + (i / 3) * 10;
        if (rng_next(&seed) % 10 == 0)
            assert_true(asprintf(&lines[i], "%lld,%s,\n", (long long)ts, metric) > 0);
        else
            assert_true(asprintf(&lines[i], "%lld,%s,%d\n", (long long)ts, metric,
                                 (int)(rng_next(&seed) % 1000)) > 0);
    }
    size_t cap = ROWS * 40 + 32;
    char *sorted = calloc(1, cap), *shuffled = calloc(1, cap);
    strcpy(sorted, HDR);
    strcpy(shuffled, HDR);
    for (int i = 0; i < ROWS; i++)
        strcat(sorted, lines[i]);
    int order[ROWS];
    for (int i = 0; i < ROWS; i++)
        order[i] = i;
    for (int i = ROWS - 1; i > 0; i--) {
        int j = (int)(rng_next(&seed) % (uint64_t)(i + 1));
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (int i = 0; i < ROWS; i++)
        strcat(shuffled, lines[order[i]]);
    char err[256] = "";
    struct replay_trace *a = load_csv(sorted, err, sizeof err);
    struct replay_trace *b = load_csv(shuffled, err, sizeof err);
    assert_non_null(a);
    assert_non_null(b);
    replay_trace_set_stale(a, (size_t)replay_trace_find(a, "a.x"), 25 * SEC);
    replay_trace_set_stale(b, (size_t)replay_trace_find(b, "a.x"), 25 * SEC);
    const char *metrics[] = {"a.x", "a.y", "b.z"};
    for (int64_t now = T0 - 5 * SEC; now < T0 + 2100 * SEC; now += 5 * SEC) {
        for (int m = 0; m < 3; m++) {
            double va, vb;
            int ga = value_at(a, metrics[m], now, &va), gb = value_at(b, metrics[m], now, &vb);
            assert_int_equal(ga, gb);
            if (ga)
                assert_true(va == vb);
            struct pol_window wa = window(a, metrics[m], now - 5 * MIN, now);
            struct pol_window wb = window(b, metrics[m], now - 5 * MIN, now);
            assert_int_equal(wa.n, wb.n);
            if (wa.n)
                assert_true(wa.sum == wb.sum && wa.first_ms == wb.first_ms && wa.last == wb.last);
        }
    }
    for (int i = 0; i < ROWS; i++)
        free(lines[i]);
    free(sorted);
    free(shuffled);
    replay_trace_free(a);
    replay_trace_free(b);
}

/* ---- the value rule ------------------------------------------------------------ */

static void value_is_unknown_after_a_read_error_and_when_stale(void **unused)
{
    (void)unused;
    struct replay_trace *t = replay_trace_new();
    size_t s = replay_trace_series(t, "room.inlet_c");
    replay_trace_append(t, s, T0, 20);
    replay_trace_append(t, s, T0 + 10 * SEC, 21);
    replay_trace_append(t, s, T0 + 20 * SEC, 22);
    replay_trace_append(t, s, T0 + 30 * SEC, NAN); /* read error */
    replay_trace_append(t, s, T0 + 40 * SEC, 24);
    assert_int_equal(replay_trace_append(t, s, T0 + 40 * SEC, 25), -1); /* not after */
    replay_trace_set_stale(t, s, 30 * SEC);
    struct {
        int64_t at;
        int good;
        double value;
    } cases[] = {
        /* clang-format off */
        {-1, 0, 0},        /* before the first sample */
        {0, 1, 20},
        {25 * SEC, 1, 22},
        {30 * SEC, 0, 0},  /* the error itself */
        {39999, 0, 0},     /* error lasts until the next good sample */
        {40 * SEC, 1, 24},
        {69999, 1, 24},    /* 29.999 s old: still good */
        {70 * SEC, 0, 0},  /* 3 x 10 s without a newer sample: stale */
        {15 * SEC, 1, 21}, /* going back in time works too */
        /* clang-format on */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v;
        int good = value_at(t, "room.inlet_c", T0 + cases[i].at, &v);
        if (good != cases[i].good || (good && v != cases[i].value))
            fail_msg("at +%lld ms: good %d value %g", (long long)cases[i].at, good, v);
    }
    struct pol_env env;
    replay_trace_env(t, &env);
    int64_t ts;
    replay_trace_set_now(t, T0 + 35 * SEC);
    assert_int_equal(env.last_good(env.ctx, "room.inlet_c", &ts), 1);
    assert_int_equal(ts, T0 + 20 * SEC);
    assert_int_equal(env.last_good(env.ctx, "room.other", &ts), 0);
    double v;
    assert_int_equal(env.value(env.ctx, "room.other", &v), 0);
    replay_trace_free(t);
}

struct members {
    struct {
        char name[64];
        double v;
        int good;
    } m[8];
    size_t n;
};

static void collect(void *ctx, const char *metric, double v, int good)
{
    struct members *ms = ctx;
    assert_true(ms->n < 8);
    snprintf(ms->m[ms->n].name, sizeof ms->m[0].name, "%s", metric);
    ms->m[ms->n].v = v;
    ms->m[ms->n].good = good;
    ms->n++;
}

static void glob_lists_matching_metrics_with_their_quality(void **unused)
{
    (void)unused;
    struct replay_trace *t = replay_trace_new();
    size_t a = replay_trace_series(t, "cooling.chiller1.capacity_kw");
    size_t b = replay_trace_series(t, "cooling.chiller2.capacity_kw");
    replay_trace_series(t, "cooling.capacity_kw"); /* two segments: no match */
    replay_trace_append(t, a, T0, 300);
    replay_trace_append(t, b, T0, NAN);
    struct pol_env env;
    replay_trace_env(t, &env);
    replay_trace_set_now(t, T0);
    struct members ms = {0};
    assert_int_equal(env.glob(env.ctx, "cooling.*.capacity_kw", collect, &ms), 0);
    assert_int_equal(ms.n, 2);
    assert_string_equal(ms.m[0].name, "cooling.chiller1.capacity_kw");
    assert_true(ms.m[0].good && ms.m[0].v == 300);
    assert_string_equal(ms.m[1].name, "cooling.chiller2.capacity_kw");
    assert_false(ms.m[1].good);
    /* A metric added later joins the pattern's members. */
    replay_trace_append(t, replay_trace_series(t, "cooling.crah1.capacity_kw"), T0, 50);
    ms.n = 0;
    assert_int_equal(env.glob(env.ctx, "cooling.*.capacity_kw", collect, &ms), 0);
    assert_int_equal(ms.n, 3);
    assert_string_equal(ms.m[2].name, "cooling.crah1.capacity_kw");
    replay_trace_free(t);
}

/* ---- history against a brute-force scan ------------------------------------------ */

struct sample {
    int64_t ts;
    double v; /* NAN = error */
};

static struct pol_window brute(const struct sample *s, size_t n, int64_t since, int64_t until)
{
    struct pol_window w = {0};
    for (size_t i = 0; i < n; i++) {
        if (isnan(s[i].v) || s[i].ts < since || s[i].ts > until)
            continue;
        if (w.n == 0) {
            w.min = w.max = s[i].v;
            w.first_ms = s[i].ts;
            w.first = s[i].v;
        }
        w.min = fmin(w.min, s[i].v);
        w.max = fmax(w.max, s[i].v);
        w.sum += s[i].v;
        w.last_ms = s[i].ts;
        w.last = s[i].v;
        w.n++;
    }
    return w;
}

static void check_window(struct replay_trace *t, const struct sample *s, size_t n, int64_t since,
                         int64_t until)
{
    struct pol_window want = brute(s, n, since, until);
    struct pol_window got = window(t, "m.x", since, until);
    if (got.n != want.n)
        fail_msg("[%lld, %lld]: n %zu, want %zu", (long long)since, (long long)until, got.n,
                 want.n);
    if (!want.n)
        return;
    if (got.first_ms != want.first_ms || got.last_ms != want.last_ms || got.first != want.first ||
        got.last != want.last || got.min != want.min || got.max != want.max)
        fail_msg("[%lld, %lld]: first/last/min/max differ", (long long)since, (long long)until);
    /* Short windows are summed sample by sample, exactly like the scan;
     * long ones use a prefix-sum difference and may differ in the last bits. */
    double tol = want.n <= 128 ? 0 : 1e-9 * fmax(1.0, fabs(want.sum));
    if (fabs(got.sum - want.sum) > tol)
        fail_msg("[%lld, %lld]: sum %.17g, want %.17g", (long long)since, (long long)until, got.sum,
                 want.sum);
}

static void history_windows_match_a_brute_force_scan(void **unused)
{
    (void)unused;
    enum { N = 30000 };
    struct sample *s = malloc(N * sizeof *s);
    uint64_t seed = 7;
    int64_t ts = T0;
    struct replay_trace *t = replay_trace_new();
    size_t series = replay_trace_series(t, "m.x");
    for (size_t i = 0; i < N; i++) {
        ts += 1 + (int64_t)(rng_next(&seed) % 20000); /* 1 ms .. 20 s apart */
        s[i].ts = ts;
        s[i].v = rng_next(&seed) % 17 == 0 ? NAN : (double)(rng_next(&seed) % 200001) / 100 - 1000;
        assert_int_equal(replay_trace_append(t, series, ts, s[i].v), 0);
        /* Query while the series grows: the indexes are kept on append. */
        if (i % 997 == 0 && i > 0)
            check_window(t, s, i + 1, s[i / 2].ts, ts);
    }
    int64_t first = s[0].ts, last = s[N - 1].ts, span = last - first;
    for (int k = 0; k < 3000; k++) {
        /* Lengths from a few ms to the whole trace, roughly log-uniform. */
        int64_t len = (int64_t)pow(10, (double)(rng_next(&seed) % 9000) / 1000.0);
        int64_t since =
            first - 60 * SEC + (int64_t)(rng_next(&seed) % (uint64_t)(span + 120 * SEC));
        check_window(t, s, N, since, since + len);
    }
    check_window(t, s, N, first, last);                /* everything */
    check_window(t, s, N, s[100].ts, s[100].ts);       /* one sample, both ends inclusive */
    check_window(t, s, N, last + 1, last + MIN);       /* after the end: empty */
    check_window(t, s, N, first - MIN, first - 1);     /* before the start: empty */
    check_window(t, s, N, s[4096].ts, s[4096 * 3].ts); /* superblock-aligned */
    free(s);
    replay_trace_free(t);
}

static void median_spacing_ignores_gaps(void **unused)
{
    (void)unused;
    struct replay_trace *t = replay_trace_new();
    size_t a = replay_trace_series(t, "m.a"), b = replay_trace_series(t, "m.b");
    for (int i = 0; i < 100; i++)
        replay_trace_append(t, a, T0 + i * MIN + (i >= 50 ? 3600 * SEC : 0), i == 10 ? NAN : 1);
    replay_trace_append(t, b, T0, 1);
    assert_int_equal(replay_trace_median_spacing(t, a), MIN);
    assert_int_equal(replay_trace_median_spacing(t, b), 0);
    int64_t lo, hi;
    assert_int_equal(replay_trace_bounds(t, &lo, &hi), 0);
    assert_int_equal(lo, T0);
    assert_int_equal(hi, T0 + 99 * MIN + 3600 * SEC);
    replay_trace_free(t);
}

/* ---- the agent's database --------------------------------------------------------- */

static void db_samples_load_with_read_errors_and_bounds(void **unused)
{
    (void)unused;
    char path[] = "/tmp/floe-test-replay-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    const char *sql =
        "CREATE TABLE metric (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);"
        "CREATE TABLE sample (metric_id INTEGER NOT NULL, ts_ms INTEGER NOT NULL, value REAL,"
        " PRIMARY KEY (metric_id, ts_ms)) WITHOUT ROWID;"
        "INSERT INTO metric VALUES (1, 'it.load_kw'), (2, 'power.wind_kw');"
        "INSERT INTO sample VALUES (2, 1768467600000, 120), (1, 1768467600000, 400),"
        " (1, 1768467610000, NULL), (1, 1768467620000, 402), (2, 1768467610000, 118.5),"
        " (1, 1768467500000, 1);";
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    char err[512] = "";
    struct replay_trace *t = replay_trace_new();
    if (replay_read_db(t, path, T0, T0 + MIN, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(replay_trace_samples(t), 5); /* the one before T0 is left out */
    double v;
    assert_int_equal(value_at(t, "it.load_kw", T0, &v), 1);
    assert_true(v == 400);
    assert_int_equal(value_at(t, "it.load_kw", T0 + 10 * SEC, &v), 0); /* NULL: read error */
    assert_int_equal(value_at(t, "it.load_kw", T0 + 20 * SEC, &v), 1);
    assert_true(v == 402);
    assert_int_equal(value_at(t, "power.wind_kw", T0 + 10 * SEC, &v), 1);
    assert_true(v == 118.5);
    replay_trace_free(t);

    /* Not a floe database, and no database at all. */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE sample;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    t = replay_trace_new();
    assert_int_equal(replay_read_db(t, path, INT64_MIN, INT64_MAX, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a floe database? no such table: sample"));
    unlink(path);
    assert_int_equal(replay_read_db(t, path, INT64_MIN, INT64_MAX, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    replay_trace_free(t);
}

/* A file the agent's store wrote and aged: hour 0 in the hour tier, hour 1
 * in the minute tier, hour 2 raw (value = the minute's index, one sample
 * every 10 s, one failed read). Replay reads each tier: one sample per
 * rollup row (its mean at its start), raw samples and the read error. */
static void db_of_the_agent_is_read_across_its_history_tiers(void **unused)
{
    (void)unused;
    char dir[] = "/tmp/floe-test-replay-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64], err[512] = "";
    snprintf(path, sizeof path, "%s/floe.db", dir);
    struct store *s = NULL;
    if (store_open(&s, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    for (int m = 0; m < 180; m++) {
        struct metric_sample in[6];
        for (int k = 0; k < 6; k++) {
            in[k] = (struct metric_sample){.ts_ms = T0 + m * MIN + k * 10 * SEC, .value = m,
                                           .ok = m != 150 || k != 3};
            snprintf(in[k].name, sizeof in[k].name, "it.load_kw");
        }
        assert_int_equal(store_write_samples(s, in, 6, err, sizeof err), 0);
    }
    struct store_retention r = {T0 + 120 * MIN, T0 + 60 * MIN, INT64_MIN};
    if (store_compact(s, STORE_COMPACT_GRACE_MS, NULL, err, sizeof err) != 0 ||
        store_apply_retention(s, &r, NULL, err, sizeof err) != 0)
        fail_msg("%s", err);
    store_close(s);

    struct replay_trace *t = replay_trace_new();
    if (replay_read_db(t, path, T0, T0 + 180 * MIN, err, sizeof err) < 0)
        fail_msg("%s", err);
    struct pol_window w = window(t, "it.load_kw", T0, T0 + 60 * MIN - 1);
    assert_int_equal(w.n, 1);
    assert_true(w.sum == 29.5 && w.first_ms == T0);
    w = window(t, "it.load_kw", T0 + 60 * MIN, T0 + 120 * MIN - 1);
    assert_int_equal(w.n, 60);
    assert_true(w.first == 60 && w.last == 119 && w.last_ms == T0 + 119 * MIN);
    w = window(t, "it.load_kw", T0 + 120 * MIN, T0 + 180 * MIN);
    assert_int_equal(w.n, 359);
    double v;
    assert_int_equal(value_at(t, "it.load_kw", T0 + 150 * MIN + 30 * SEC, &v), 0); /* error */
    assert_int_equal(value_at(t, "it.load_kw", T0 + 150 * MIN + 40 * SEC, &v), 1);
    assert_true(v == 150);
    replay_trace_free(t);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- whole runs ------------------------------------------------------------------- */

struct run_result {
    int rc;
    char err[512];
    char *decisions, *events;
    size_t ndecisions;
    struct replay_stats stats;
};

static struct run_result run(const char *config, const char *csv, const struct replay_opts *o)
{
    struct run_result r = {0};
    struct cfg_errors errs = {0};
    struct floe_config *cfg = cfg_load_buffer("site.json", config, strlen(config), NULL, &errs);
    if (!cfg)
        fail_msg("config: %s", errs.n ? errs.lines[0] : "?");
    struct replay_trace *t = load_csv(csv, r.err, sizeof r.err);
    if (!t)
        fail_msg("csv: %s", r.err);
    size_t dlen = 0, elen = 0;
    FILE *d = open_memstream(&r.decisions, &dlen), *e = open_memstream(&r.events, &elen);
    struct replay_output out = {d, e};
    struct replay_opts none = {0};
    r.rc = replay_run(cfg, t, o ? o : &none, &out, &r.stats, r.err, sizeof r.err);
    fclose(d);
    fclose(e);
    for (const char *p = r.decisions; (p = strchr(p, '\n')); p++)
        r.ndecisions++;
    replay_trace_free(t);
    cfg_free(cfg);
    return r;
}

static void run_free(struct run_result *r)
{
    free(r->decisions);
    free(r->events);
}

#define HOT_POLICY                                                                                 \
    "  \"derive\": [ { \"metric\": \"room.max_c\", \"expr\": \"max(room.*.temp_c)\" } ],"          \
    "  \"policies\": [ { \"name\": \"hot\", \"when\": \"room.max_c > 30\", \"mode\": \"auto\","    \
    "                    \"cooldown\": \"1m\", \"action\": { \"type\": \"notify\" } } ] }"
static const char *const config_hot =
    "{ \"site\": { \"name\": \"t\", \"timezone\": \"UTC\" }," HOT_POLICY;

static void run_numbers_decisions_and_recomputes_derived_metrics(void **unused)
{
    (void)unused;
    /* room.max_c samples in the trace are ignored: the config derives it. */
    const char *csv = HDR "1768467600,room.a.temp_c,25\n1768467600,room.max_c,99\n"
                          "1768467630,room.a.temp_c,35\n1768467660,room.a.temp_c,36\n"
                          "1768467690,room.a.temp_c,37\n";
    struct run_result r = run(config_hot, csv, NULL);
    assert_int_equal(r.rc, 0);
    /* Fires at :30, cooldown decisions at 1:30 (its last tick is :90). */
    assert_int_equal(r.ndecisions, 2);
    assert_non_null(
        strstr(r.decisions, "{\"id\":1,\"ts\":\"2026-01-15T09:00:30Z\",\"policy\":\"hot\""));
    assert_non_null(strstr(r.decisions, "{\"id\":2,\"ts\":\"2026-01-15T09:01:30Z\""));
    assert_non_null(strstr(r.decisions, "{\"name\":\"room.max_c\",\"value\":37,"));
    assert_int_equal(r.stats.ticks, 10);
    assert_int_equal(r.stats.samples, 4); /* the derived metric's own sample is dropped */
    assert_int_equal(r.stats.first_ms, T0);
    assert_int_equal(r.stats.last_ms, T0 + 90 * SEC);
    assert_string_equal(r.events, "2026-01-15T09:00:30Z hot: ok -> firing (when true)\n");
    run_free(&r);
}

static void run_takes_staleness_from_device_then_option_then_spacing(void **unused)
{
    (void)unused;
    /* One sample a minute. Unknown ticks show as "inputs unknown" events. */
    const char *csv = HDR "1768467600,room.a.temp_c,25\n1768467660,room.a.temp_c,25\n"
                          "1768467720,room.a.temp_c,25\n";
    /* Median spacing 60 s: stale after 180 s, never in this trace. */
    struct run_result r = run(config_hot, csv, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.events, "");
    run_free(&r);

    /* --stale 30s: stale from :30 until the next sample, twice. */
    struct replay_opts o = {.stale_ms = 30 * SEC};
    r = run(config_hot, csv, &o);
    assert_string_equal(r.events, "2026-01-15T09:00:30Z hot: inputs unknown (state ok)\n"
                                  "2026-01-15T09:01:00Z hot: inputs known again (state ok)\n"
                                  "2026-01-15T09:01:30Z hot: inputs unknown (state ok)\n"
                                  "2026-01-15T09:02:00Z hot: inputs known again (state ok)\n");
    run_free(&r);

    /* A device polling every 5 s makes it stale after 15 s, --stale or not. */
    const char *config = "{ \"site\": { \"name\": \"t\" },"
                         "  \"modbus\": [ { \"name\": \"s\", \"host\": \"127.0.0.1\", "
                         "\"interval\": \"5s\", \"points\": [ { \"metric\": \"room.a.temp_c\","
                         " \"table\": \"input\", \"address\": 0 } ] } ]," HOT_POLICY;
    r = run(config, csv, &o);
    assert_non_null(strstr(r.events, "2026-01-15T09:00:20Z hot: inputs unknown (state ok)\n"));
    run_free(&r);
}

static void run_range_and_tick_follow_the_options(void **unused)
{
    (void)unused;
    const char *csv = HDR "1768467600,room.a.temp_c,35\n1768471200,room.a.temp_c,35\n";
    struct replay_opts o = {.tick_ms = MIN,
                            .has_from = true,
                            .from_ms = T0 + 30 * MIN,
                            .has_to = true,
                            .to_ms = T0 + 40 * MIN};
    struct run_result r = run(config_hot, csv, &o);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.stats.ticks, 11);
    assert_int_equal(r.stats.first_ms, T0 + 30 * MIN);
    run_free(&r);

    o = (struct replay_opts){.has_from = true, .from_ms = T0 + MIN, .has_to = true, .to_ms = T0};
    r = run(config_hot, csv, &o);
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.err, "nothing to replay: the last tick is before the first");
    run_free(&r);

    r = run(config_hot, HDR, NULL);
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.err, "no samples to replay");
    run_free(&r);

    r = run(config_hot, HDR "0,room.a.temp_c,1\n9999999999,room.a.temp_c,1\n", NULL);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "ticks between the first and the last sample"));
    run_free(&r);
}

static void run_ticks_at_the_config_policy_tick_unless_tick_is_given(void **unused)
{
    (void)unused;
    /* Ten minutes of data; the agent this config runs ticks every minute. */
    const char *csv = HDR "1768467600,room.a.temp_c,25\n1768468200,room.a.temp_c,25\n";
    const char *config = "{ \"site\": { \"name\": \"t\" }, \"policy_tick\": \"1m\"," HOT_POLICY;
    struct run_result r = run(config, csv, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.stats.ticks, 11);
    assert_int_equal(r.stats.tick_ms, MIN);
    assert_int_equal(r.stats.last_ms, T0 + 10 * MIN);
    run_free(&r);

    /* --tick wins over the config. */
    struct replay_opts o = {.tick_ms = 5 * MIN};
    r = run(config, csv, &o);
    assert_int_equal(r.stats.ticks, 3);
    assert_int_equal(r.stats.tick_ms, 5 * MIN);
    run_free(&r);

    /* Without policy_tick, the agent's default: 10 s. */
    r = run(config_hot, csv, NULL);
    assert_int_equal(r.stats.ticks, 61);
    assert_int_equal(r.stats.tick_ms, REPLAY_DEFAULT_TICK_MS);
    run_free(&r);
}

static void run_reports_a_bad_policy_by_path(void **unused)
{
    (void)unused;
    const char *config = "{ \"site\": { \"name\": \"t\" }, \"policies\": [ { \"name\": \"p\","
                         " \"when\": \"avgg(x) > 1\" } ] }";
    struct run_result r = run(config, HDR "0,x,1\n", NULL);
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.err, "policies[0].when: unknown function 'avgg' at column 1");
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_errors_name_the_file_and_line),
        cmocka_unit_test(csv_nul_byte_is_an_error_on_its_line),
        cmocka_unit_test(csv_accepts_crlf_bom_blanks_quotes_offsets_and_unix_seconds),
        cmocka_unit_test(rows_in_any_order_give_the_same_trace),
        cmocka_unit_test(value_is_unknown_after_a_read_error_and_when_stale),
        cmocka_unit_test(glob_lists_matching_metrics_with_their_quality),
        cmocka_unit_test(history_windows_match_a_brute_force_scan),
        cmocka_unit_test(median_spacing_ignores_gaps),
        cmocka_unit_test(db_samples_load_with_read_errors_and_bounds),
        cmocka_unit_test(db_of_the_agent_is_read_across_its_history_tiers),
        cmocka_unit_test(run_numbers_decisions_and_recomputes_derived_metrics),
        cmocka_unit_test(run_takes_staleness_from_device_then_option_then_spacing),
        cmocka_unit_test(run_range_and_tick_follow_the_options),
        cmocka_unit_test(run_ticks_at_the_config_policy_tick_unless_tick_is_given),
        cmocka_unit_test(run_reports_a_bad_policy_by_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
