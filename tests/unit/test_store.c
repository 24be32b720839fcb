/*
 * Unit tests of store/store.c: schema migrations and refusals, writing
 * and querying history (raw and downsampled), retention, the metric-id
 * cache, concurrency of the writer and reader connections, and recovery
 * after the writing process is killed with SIGKILL.
 *
 * Each test works in its own temporary directory; a second, raw SQLite
 * connection is used to look at (or tamper with) the file from outside.
 */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
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

struct fixture {
    char dir[64];
    char path[128];
};

static int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/floe-test-store-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/floe.db", f->dir);
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    /* The directory is ours (mkdtemp) and holds only test files. */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- helpers ------------------------------------------------------------ */

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
    int rc = store_open(&s, path, err, sizeof err);
    if (rc != 0)
        print_error("store_open: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

static void write_ok(struct store *s, const struct metric_sample *samples, size_t n)
{
    char err[512] = "";
    int rc = store_write_samples(s, samples, n, err, sizeof err);
    if (rc != 0)
        print_error("store_write_samples: %s\n", err);
    assert_int_equal(rc, 0);
}

/* The first column of the first row of sql, as an integer. */
static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void raw_text(const char *path, const char *sql, char *out, size_t outlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    util_strlcpy(out, t ? (const char *)t : "(null)", outlen);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        print_error("%s: %s\n", sql, msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
    assert_int_equal(rc, SQLITE_OK);
}

struct point {
    int64_t ts_ms;
    double value;
};

#define MAX_EXPECT 16

/* Queries and compares with the expected points exactly (values are
 * chosen so that every mean is exact in binary floating point). */
static void expect_points(struct store *s, const char *metric, int64_t since, int64_t until,
                          int64_t step, size_t max_points, const struct point *want, size_t nwant)
{
    struct store_point *got = NULL;
    size_t n = 99;
    char err[512] = "";
    int rc = store_query(s, metric, since, until, step, max_points, &got, &n, err, sizeof err);
    if (rc != 0)
        print_error("store_query: %s\n", err);
    assert_int_equal(rc, 0);
    bool same = n == nwant;
    for (size_t i = 0; same && i < n; i++)
        same = got[i].ts_ms == want[i].ts_ms && got[i].value == want[i].value;
    if (!same) {
        print_error("%s [%lld, %lld] step %lld max %zu:\n", metric, (long long)since,
                    (long long)until, (long long)step, max_points);
        for (size_t i = 0; i < n; i++)
            print_error("  got  [%lld, %.17g]\n", (long long)got[i].ts_ms, got[i].value);
        for (size_t i = 0; i < nwant; i++)
            print_error("  want [%lld, %.17g]\n", (long long)want[i].ts_ms, want[i].value);
    }
    free(got);
    assert_true(same);
}

/* Number of good points of metric in [since, until], raw. */
static size_t count_points(struct store *s, const char *metric, int64_t since, int64_t until)
{
    struct store_point *got = NULL;
    size_t n = 0;
    char err[512] = "";
    int rc = store_query(s, metric, since, until, 0, SIZE_MAX, &got, &n, err, sizeof err);
    if (rc != 0)
        print_error("store_query: %s\n", err);
    assert_int_equal(rc, 0);
    free(got);
    return n;
}

/* Compacts every minute, closed or not (a grace of minus one minute). */
static void compact_all(struct store *s)
{
    char err[512] = "";
    int rc = store_compact(s, -STORE_MINUTE_MS, NULL, err, sizeof err);
    if (rc != 0)
        print_error("store_compact: %s\n", err);
    assert_int_equal(rc, 0);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        print_error("\"%s\" does not contain \"%s\"\n", haystack, needle);
    assert_non_null(strstr(haystack, needle));
}

/* ---- schema ------------------------------------------------------------- */

static void open_empty_file_applies_every_migration(void **state)
{
    struct fixture *f = *state;
    assert_true(store_schema_version() >= 1);
    struct store *s = open_ok(f->path);
    assert_int_equal(store_sample_count(s), 0);
    store_close(s);

    char mode[32];
    raw_text(f->path, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");
    assert_int_equal(raw_int(f->path, "PRAGMA user_version"), store_schema_version());
    assert_int_equal(raw_int(f->path, "PRAGMA application_id"), 0x666c6f65);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                                      " AND name IN ('meta', 'metric', 'sample')"),
                     3);
}

static void reopen_keeps_samples_and_does_not_migrate_again(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    struct metric_sample in[] = {good("it.load_kw", 1000, 410.5), good("it.load_kw", 2000, 412),
                                 failed("it.load_kw", 3000)};
    write_ok(s, in, ARRAY_LEN(in));
    store_close(s);

    s = open_ok(f->path);
    assert_int_equal(store_sample_count(s), 3);
    const struct point want[] = {{1000, 410.5}, {2000, 412}};
    expect_points(s, "it.load_kw", 0, 10000, 0, 100, want, ARRAY_LEN(want));
    store_close(s);
    /* Migrations 1 and 8 would add rows (or fail) if re-run. */
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM meta"), 4);
}

static void newer_schema_version_is_refused_and_left_alone(void **state)
{
    struct fixture *f = *state;
    store_close(open_ok(f->path));
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", store_schema_version() + 1);
    raw_exec(f->path, sql);

    static char sentinel;
    struct store *s = (struct store *)&sentinel; /* store_open must reset it */
    char err[512] = "";
    assert_int_equal(store_open(&s, f->path, err, sizeof err), -1);
    assert_null(s);
    assert_contains(err, f->path);
    assert_contains(err, "newer than this floe supports");
    assert_int_equal(raw_int(f->path, "PRAGMA user_version"), store_schema_version() + 1);
}

enum bad_file {
    BAD_MISSING_DIR,
    BAD_TEXT_FILE,
    BAD_CORRUPT,
    BAD_DIRECTORY,
    BAD_OTHER_APP_TABLES,
    BAD_OTHER_APP_ID
};

static void make_bad_file(enum bad_file kind, const char *dir, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/floe.db", dir);
    switch (kind) {
    case BAD_MISSING_DIR:
        snprintf(path, pathlen, "%s/no-such-dir/floe.db", dir);
        break;
    case BAD_TEXT_FILE: {
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        for (int i = 0; i < 20; i++)
            fputs("{ \"site\": { \"name\": \"lulea-1\" } }\n", fp);
        fclose(fp);
        break;
    }
    case BAD_CORRUPT: {
        struct store *s = open_ok(path);
        struct metric_sample in[] = {good("a", 1, 1)};
        write_ok(s, in, 1);
        store_close(s);
        /* Keep the 100-byte file header, destroy the schema page behind it. */
        int fd = open(path, O_WRONLY);
        assert_true(fd >= 0);
        char junk[1000];
        memset(junk, 0xa5, sizeof junk);
        assert_int_equal(pwrite(fd, junk, sizeof junk, 100), (ssize_t)sizeof junk);
        close(fd);
        break;
    }
    case BAD_DIRECTORY:
        assert_int_equal(mkdir(path, 0700), 0);
        break;
    case BAD_OTHER_APP_TABLES: {
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "CREATE TABLE invoices(id, total)", NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
        break;
    }
    case BAD_OTHER_APP_ID: {
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "PRAGMA application_id = 1234", NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
        break;
    }
    }
}

static void unusable_path_gives_error_naming_it(void **state)
{
    struct fixture *f = *state;
    static const struct {
        enum bad_file kind;
        const char *says;
    } cases[] = {
        {BAD_MISSING_DIR, "No such file or directory"},
        {BAD_TEXT_FILE, "file is not a database"},
        {BAD_CORRUPT, "malformed"},
        {BAD_DIRECTORY, "cannot open database"},
        {BAD_OTHER_APP_TABLES, "not a floe database"},
        {BAD_OTHER_APP_ID, "not a floe database"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char sub[96], path[160];
        snprintf(sub, sizeof sub, "%s/case%zu", f->dir, i);
        assert_int_equal(mkdir(sub, 0700), 0);
        make_bad_file(cases[i].kind, sub, path, sizeof path);

        struct store *s = NULL;
        char err[512] = "";
        int rc = store_open(&s, path, err, sizeof err);
        if (rc == 0)
            print_error("case %zu: opened %s\n", i, path);
        assert_int_equal(rc, -1);
        assert_null(s);
        assert_contains(err, path);
        assert_contains(err, cases[i].says);
    }
    struct store *s = NULL;
    char err[512] = "";
    assert_int_equal(store_open(&s, "", err, sizeof err), -1);
    assert_null(s);
    assert_contains(err, "empty");
    /* A missing directory is reported, not created. */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/case0/no-such-dir", f->dir);
    struct stat st;
    assert_int_equal(stat(missing, &st), -1);
}

/* ---- writing and querying ----------------------------------------------- */

static void raw_query_returns_good_samples_of_one_metric_in_time_order(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    struct metric_sample in[] = {
        good("cooling.capacity_kw", 3000, 30),   good("it.load_kw", 1000, 99),
        good("cooling.capacity_kw", 1000, 10),   failed("cooling.capacity_kw", 2000),
        good("cooling.capacity_kw", 4000, -0.5),
    };
    write_ok(s, in, ARRAY_LEN(in));
    assert_int_equal(store_sample_count(s), 5);
    const struct point want[] = {{1000, 10}, {3000, 30}, {4000, -0.5}};
    expect_points(s, "cooling.capacity_kw", 0, 5000, 0, 100, want, ARRAY_LEN(want));
    expect_points(s, "no.such_metric", 0, 5000, 0, 100, NULL, 0);
    store_close(s);
}

static void failed_reads_are_stored_as_null_and_never_returned(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    struct metric_sample in[] = {failed("ups.battery_pct", 1000), failed("ups.battery_pct", 2000),
                                 good("ups.battery_pct", 5000, 80)};
    write_ok(s, in, ARRAY_LEN(in));
    assert_int_equal(store_sample_count(s), 3);
    expect_points(s, "ups.battery_pct", 0, 4999, 0, 100, NULL, 0);
    expect_points(s, "ups.battery_pct", 0, 4999, 1000, 100, NULL, 0);
    store_close(s);
    /* Kept as failed reads (store_history_read shows them: test_replay). */
    assert_int_equal(raw_int(f->path, "SELECT sum(n) FROM sample_log"), 3);
}

/* Data for the downsampling table; bucket means are exact in binary. */
static void write_bucket_data(struct store *s)
{
    struct metric_sample in[] = {
        good("m", -1500, 4), good("m", -1001, 6), /* bucket -2000 (floor, not truncation) */
        good("m", -1, 8),                         /* bucket -1000 */
        good("m", 0, 1),     good("m", 400, 2),      good("m", 999, 3), good("m", 1000, 10),
        failed("m", 1500),   good("m", 1999, 24),    failed("m", 2000), /* a bucket of failed reads
                                                                           only */
        good("m", 3000, 7),  good("other", 0, 1000),                    /* never mixed into m */
    };
    write_ok(s, in, ARRAY_LEN(in));
}

static void step_query_gives_bucket_means_at_bucket_starts(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    write_bucket_data(s);
    static const struct {
        const char *name;
        int64_t since, until, step;
        size_t max_points;
        struct point want[MAX_EXPECT];
        size_t nwant;
    } cases[] = {
        {"1s buckets skip the all-failed bucket",
         -5000,
         5000,
         1000,
         100,
         {{-2000, 5}, {-1000, 8}, {0, 2}, {1000, 17}, {3000, 7}},
         5},
        {"2s buckets", -5000, 5000, 2000, 100, {{-2000, 6}, {0, 8}, {2000, 7}}, 3},
        {"since inside a bucket: stamp stays at the bucket start",
         400,
         1999,
         1000,
         100,
         {{0, 2.5}, {1000, 17}},
         2},
        {"max_points keeps the earliest buckets",
         -5000,
         5000,
         1000,
         2,
         {{-2000, 5}, {-1000, 8}},
         2},
        {"1 ms step is per sample", 0, 0, 1, 100, {{0, 1}}, 1},
        {"raw: since and until are inclusive",
         -1001,
         999,
         0,
         100,
         {{-1001, 6}, {-1, 8}, {0, 1}, {400, 2}, {999, 3}},
         5},
        {"raw: range just inside the samples excludes them",
         -1000,
         998,
         0,
         100,
         {{-1, 8}, {0, 1}, {400, 2}},
         3},
        {"raw: range holding only a failed read is empty", 1500, 1500, 0, 100, {{0, 0}}, 0},
        {"raw: max_points keeps the earliest samples",
         -5000,
         5000,
         0,
         3,
         {{-1500, 4}, {-1001, 6}, {-1, 8}},
         3},
        {"max_points 0 gives nothing", -5000, 5000, 0, 0, {{0, 0}}, 0},
        {"since after until gives nothing", 5000, -5000, 1000, 100, {{0, 0}}, 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        print_message("case: %s\n", cases[i].name);
        expect_points(s, "m", cases[i].since, cases[i].until, cases[i].step, cases[i].max_points,
                      cases[i].want, cases[i].nwant);
    }
    struct store_point *out = (struct store_point *)&out;
    size_t n = 7;
    char err[256] = "";
    assert_int_equal(store_query(s, "m", 0, 10, -1, 10, &out, &n, err, sizeof err), -1);
    assert_null(out);
    assert_int_equal(n, 0);
    assert_contains(err, "step");
    store_close(s);
}

static void duplicate_timestamp_keeps_the_last_value(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    struct metric_sample first[] = {good("d", 1000, 1), good("d", 2000, 2), good("d", 3000, 3),
                                    good("d", 1000, 11) /* same batch */};
    write_ok(s, first, ARRAY_LEN(first));
    struct metric_sample second[] = {good("d", 2000, 22), failed("d", 3000)};
    write_ok(s, second, ARRAY_LEN(second));
    /* Both writes are in the log until compaction merges them. */
    assert_int_equal(store_sample_count(s), 6);
    const struct point want[] = {{1000, 11}, {2000, 22}};
    expect_points(s, "d", 0, 5000, 0, 100, want, ARRAY_LEN(want));
    compact_all(s);
    assert_int_equal(store_sample_count(s), 3);
    expect_points(s, "d", 0, 5000, 0, 100, want, ARRAY_LEN(want));
    store_close(s);
    assert_int_equal(raw_int(f->path, "SELECT sum(n) FROM raw_chunk"), 3);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sample_log"), 0);
}

static void empty_batch_writes_nothing(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    char err[64] = "";
    assert_int_equal(store_write_samples(s, NULL, 0, err, sizeof err), 0);
    assert_int_equal(store_sample_count(s), 0);
    store_close(s);
}

/* ---- retention ---------------------------------------------------------- */

static void retention_deletes_exactly_the_raw_minutes_older_than_cutoff(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    /* "big": one sample a second for 30 minutes; "few": three samples. */
    enum { NBIG = 1800 };
    struct metric_sample *in = calloc(NBIG, sizeof *in);
    assert_non_null(in);
    for (size_t i = 0; i < NBIG; i++)
        in[i] = i % 7 ? good("big", (int64_t)i * 1000, (double)i) : failed("big", (int64_t)i * 1000);
    write_ok(s, in, NBIG);
    free(in);
    struct metric_sample few[] = {good("few", 100, 1), good("few", 1200000, 2),
                                  good("few", 1500000, 3)};
    write_ok(s, few, ARRAY_LEN(few));
    compact_all(s);
    int64_t total = NBIG + (int64_t)ARRAY_LEN(few);
    assert_int_equal(store_sample_count(s), total);

    /* 20 minutes of raw samples go; the cutoff is rounded down to whole minutes. */
    int64_t deleted = -1;
    char err[512] = "";
    struct store_retention r = {1200000 + 59999, INT64_MIN, INT64_MIN};
    int rc = store_apply_retention(s, &r, &deleted, err, sizeof err);
    if (rc != 0)
        print_error("retention: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(deleted, 1200 + 1);
    assert_int_equal(store_sample_count(s), total - deleted);
    /* The raw tier now starts at minute 20; before it, minute rollups. */
    assert_int_equal(count_points(s, "big", 1200000, INT64_MAX), 600 - 600 / 7 - 1);
    assert_int_equal(count_points(s, "big", INT64_MIN, 1199999), 20);
    const struct point few_left[] = {{0, 1}, {1200000, 2}, {1500000, 3}};
    expect_points(s, "few", INT64_MIN, INT64_MAX, 0, 100, few_left, ARRAY_LEN(few_left));

    /* Again: nothing more to delete; INT64_MIN everywhere: nothing at all. */
    assert_int_equal(store_apply_retention(s, &r, &deleted, err, sizeof err), 0);
    assert_int_equal(deleted, 0);
    struct store_retention none = {INT64_MIN, INT64_MIN, INT64_MIN};
    assert_int_equal(store_apply_retention(s, &none, NULL, err, sizeof err), 0);
    store_close(s);
    assert_int_equal(raw_int(f->path, "SELECT sum(n) FROM raw_chunk"), total - 1201);
    assert_int_equal(raw_int(f->path, "SELECT min(bucket) FROM raw_chunk"), 1200000);
}

/* ---- metric ids --------------------------------------------------------- */

static void metric_ids_stay_stable_across_reopen(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    struct metric_sample first[] = {good("a", 1, 1), good("b", 1, 2), good("a", 2, 3)};
    write_ok(s, first, ARRAY_LEN(first));
    store_close(s);
    int64_t id_b = raw_int(f->path, "SELECT id FROM metric WHERE name = 'b'");

    s = open_ok(f->path);
    struct metric_sample second[] = {good("b", 2, 4), good("c", 1, 5)};
    write_ok(s, second, ARRAY_LEN(second));
    const struct point want_a[] = {{1, 1}, {2, 3}};
    const struct point want_b[] = {{1, 2}, {2, 4}};
    const struct point want_c[] = {{1, 5}};
    expect_points(s, "a", 0, 10, 0, 10, want_a, ARRAY_LEN(want_a));
    expect_points(s, "b", 0, 10, 0, 10, want_b, ARRAY_LEN(want_b));
    expect_points(s, "c", 0, 10, 0, 10, want_c, ARRAY_LEN(want_c));
    store_close(s);

    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM metric"), 3);
    assert_int_equal(raw_int(f->path, "SELECT id FROM metric WHERE name = 'b'"), id_b);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sample WHERE metric_id NOT IN"
                                      " (SELECT id FROM metric)"),
                     0);
}

static void many_metrics_each_keep_their_own_samples(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    /* More names than the id cache's first size, so it grows mid-batch. */
    enum { NAMES = 1000 };
    struct metric_sample *in = calloc(NAMES, sizeof *in);
    assert_non_null(in);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < NAMES; i++) {
            char name[32];
            snprintf(name, sizeof name, "pdu.outlet%d_w", i);
            in[i] = good(name, round, i * 10 + round);
        }
        write_ok(s, in, NAMES);
    }
    free(in);
    for (int i = 0; i < NAMES; i += 97) {
        char name[32];
        snprintf(name, sizeof name, "pdu.outlet%d_w", i);
        const struct point want[] = {{0, i * 10}, {1, i * 10 + 1}};
        expect_points(s, name, 0, 1, 0, 10, want, 2);
    }
    store_close(s);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM metric"), NAMES);
}

static void failed_batch_leaves_nothing_and_forgets_its_new_metric_ids(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path);
    struct metric_sample before[] = {good("old", 0, 1)};
    write_ok(s, before, 1);
    /* Make the sample at ts 666 fail from outside, after the store is open. */
    raw_exec(f->path, "CREATE TRIGGER boom BEFORE INSERT ON sample_log WHEN NEW.t_max = 666"
                      " BEGIN SELECT RAISE(ABORT, 'boom'); END");
    struct metric_sample bad[] = {good("old", 1, 2), good("x.new", 5, 5), good("x.new", 666, 6)};
    char err[512] = "";
    assert_int_equal(store_write_samples(s, bad, ARRAY_LEN(bad), err, sizeof err), -1);
    assert_contains(err, "boom");
    assert_contains(err, f->path);
    assert_int_equal(store_sample_count(s), 1);
    assert_int_equal(count_points(s, "old", 0, 10), 1);
    assert_int_equal(count_points(s, "x.new", 0, 1000), 0);

    raw_exec(f->path, "DROP TRIGGER boom");
    /* x.other now gets the id x.new had in the rolled-back batch; a stale
     * cache entry would file x.new's sample under x.other. */
    struct metric_sample other[] = {good("x.other", 1, 100)};
    write_ok(s, other, 1);
    struct metric_sample again[] = {good("x.new", 2, 200)};
    write_ok(s, again, 1);
    const struct point want_new[] = {{2, 200}};
    const struct point want_other[] = {{1, 100}};
    expect_points(s, "x.new", 0, 1000, 0, 10, want_new, 1);
    expect_points(s, "x.other", 0, 1000, 0, 10, want_other, 1);
    store_close(s);
}

/* ---- concurrency -------------------------------------------------------- */

enum { CONC_BATCHES = 200, CONC_BATCH = 50 };

struct conc {
    struct store *s;
    atomic_int writer_done;
    int writer_errors;
    int reader_errors;
    int reader_rounds;
};

static void *conc_writer(void *arg)
{
    struct conc *c = arg;
    struct metric_sample batch[CONC_BATCH];
    for (int b = 0; b < CONC_BATCHES; b++) {
        for (int i = 0; i < CONC_BATCH; i++)
            batch[i] = good("conc.m", (int64_t)b * CONC_BATCH + i, b);
        char err[256];
        if (store_write_samples(c->s, batch, CONC_BATCH, err, sizeof err) != 0)
            c->writer_errors++;
    }
    atomic_store(&c->writer_done, 1);
    return NULL;
}

/* Every query sees whole batches (a snapshot) and never goes backwards. */
static void *conc_reader(void *arg)
{
    struct conc *c = arg;
    size_t last_n = 0;
    int64_t last_count = 0;
    for (;;) {
        int done = atomic_load(&c->writer_done);
        struct store_point *pts = NULL;
        size_t n = 0;
        char err[256];
        if (store_query(c->s, "conc.m", 0, INT64_MAX, 0, SIZE_MAX, &pts, &n, err, sizeof err) !=
                0 ||
            n % CONC_BATCH != 0 || n < last_n)
            c->reader_errors++;
        free(pts);
        int64_t count = store_sample_count(c->s);
        if (count < last_count || count % CONC_BATCH != 0)
            c->reader_errors++;
        last_n = n;
        last_count = count;
        c->reader_rounds++;
        if (done)
            break;
    }
    return NULL;
}

static void writer_and_reader_threads_see_consistent_batches(void **state)
{
    struct fixture *f = *state;
    struct conc c = {.s = open_ok(f->path)};
    atomic_init(&c.writer_done, 0);
    pthread_t w, r;
    assert_int_equal(pthread_create(&r, NULL, conc_reader, &c), 0);
    assert_int_equal(pthread_create(&w, NULL, conc_writer, &c), 0);
    pthread_join(w, NULL);
    pthread_join(r, NULL);
    assert_int_equal(c.writer_errors, 0);
    assert_int_equal(c.reader_errors, 0);
    assert_true(c.reader_rounds > 0);
    assert_int_equal(store_sample_count(c.s), CONC_BATCHES * CONC_BATCH);
    assert_int_equal(count_points(c.s, "conc.m", 0, INT64_MAX), CONC_BATCHES * CONC_BATCH);
    store_close(c.s);
}

struct stalled {
    struct store *s;
    int rc;
    char err[256];
};

static void *stalled_writer(void *arg)
{
    struct stalled *w = arg;
    struct metric_sample m = good("stall.m", 1, 1);
    w->rc = store_write_samples(w->s, &m, 1, w->err, sizeof w->err);
    return NULL;
}

static void query_does_not_wait_for_a_writer_waiting_on_the_lock(void **state)
{
    struct fixture *f = *state;
    struct stalled w = {.s = open_ok(f->path), .rc = -2};
    struct metric_sample m = good("stall.m", 0, 0);
    write_ok(w.s, &m, 1);

    /* Another process-like connection holds the write lock, so the
     * store's writer waits in its busy handler while holding its mutex. */
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stalled_writer, &w), 0);
    usleep(200 * 1000);

    int64_t start = util_mono_ms();
    assert_int_equal(count_points(w.s, "stall.m", 0, 10), 1);
    assert_int_equal(store_sample_count(w.s), 1);
    int64_t took_ms = util_mono_ms() - start;

    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    pthread_join(t, NULL);
    if (w.rc != 0)
        print_error("stalled write: %s\n", w.err);
    assert_int_equal(w.rc, 0);
    /* The writer waits up to 5 s; a query queued behind it would too. */
    assert_in_range(took_ms, 0, 1000);
    assert_int_equal(count_points(w.s, "stall.m", 0, 10), 2);
    store_close(w.s);
}

/* ---- crash safety ------------------------------------------------------- */

enum { CRASH_BATCH = 500 };

/* Child: writes batch k (CRASH_BATCH samples at ts k*CRASH_BATCH + i, all of
 * value k) and reports k through the pipe only after the commit returned. */
static void crash_child(const char *path, const char *metric, int fd)
{
    alarm(60); /* never outlive a parent that failed to kill us */
    struct store *s = NULL;
    char err[256];
    if (store_open(&s, path, err, sizeof err) != 0)
        _exit(2);
    static struct metric_sample batch[CRASH_BATCH];
    for (int32_t k = 0;; k++) {
        for (int i = 0; i < CRASH_BATCH; i++)
            batch[i] = good(metric, (int64_t)k * CRASH_BATCH + i, k);
        if (store_write_samples(s, batch, CRASH_BATCH, err, sizeof err) != 0)
            _exit(3);
        if (write(fd, &k, sizeof k) != sizeof k)
            _exit(4);
    }
}

static int32_t crash_run(const char *path, const char *metric, int32_t kill_after)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        crash_child(path, metric, fds[1]);
    }
    close(fds[1]);
    int32_t k, last = -1;
    while (last < kill_after && read(fds[0], &k, sizeof k) == sizeof k)
        last = k;
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* Reports already in the pipe are commits too. */
    while (read(fds[0], &k, sizeof k) == sizeof k)
        last = k;
    close(fds[0]);
    if (!WIFSIGNALED(status))
        print_error("crash child exited with %d\n", WEXITSTATUS(status));
    assert_true(WIFSIGNALED(status));
    assert_true(last >= kill_after);
    return last;
}

static void committed_batches_survive_kill_9_of_the_writer(void **state)
{
    struct fixture *f = *state;
    int64_t expected_total = 0;
    /* A few rounds, killed after different numbers of commits, each on
     * the database the previous kill left behind. */
    for (int round = 0; round < 3; round++) {
        char metric[32];
        snprintf(metric, sizeof metric, "crash.round%d", round);
        int32_t last = crash_run(f->path, metric, 10 + 7 * round);

        char check[64];
        raw_text(f->path, "PRAGMA integrity_check", check, sizeof check);
        assert_string_equal(check, "ok");

        struct store *s = open_ok(f->path);
        for (int32_t k = 0; k <= last; k++) {
            int64_t first = (int64_t)k * CRASH_BATCH;
            assert_int_equal(count_points(s, metric, first, first + CRASH_BATCH - 1), CRASH_BATCH);
        }
        /* The batch being written when the kill came is all or nothing. */
        int64_t next = (int64_t)(last + 1) * CRASH_BATCH;
        size_t partial = count_points(s, metric, next, next + CRASH_BATCH - 1);
        assert_true(partial == 0 || partial == CRASH_BATCH);
        assert_int_equal(count_points(s, metric, next + CRASH_BATCH, INT64_MAX), 0);

        expected_total += next + (int64_t)partial;
        assert_int_equal(store_sample_count(s), expected_total);
        store_close(s);
        assert_int_equal(raw_int(f->path, "SELECT coalesce(sum(n), 0) FROM sample_log"),
                         expected_total);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
        T(open_empty_file_applies_every_migration),
        T(reopen_keeps_samples_and_does_not_migrate_again),
        T(newer_schema_version_is_refused_and_left_alone),
        T(unusable_path_gives_error_naming_it),
        T(raw_query_returns_good_samples_of_one_metric_in_time_order),
        T(failed_reads_are_stored_as_null_and_never_returned),
        T(step_query_gives_bucket_means_at_bucket_starts),
        T(duplicate_timestamp_keeps_the_last_value),
        T(empty_batch_writes_nothing),
        T(retention_deletes_exactly_the_raw_minutes_older_than_cutoff),
        T(metric_ids_stay_stable_across_reopen),
        T(many_metrics_each_keep_their_own_samples),
        T(failed_batch_leaves_nothing_and_forgets_its_new_metric_ids),
        T(writer_and_reader_threads_see_consistent_batches),
        T(query_does_not_wait_for_a_writer_waiting_on_the_lock),
        T(committed_batches_survive_kill_9_of_the_writer),
#undef T
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
