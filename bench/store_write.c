/*
 * store_write — what store/store.c and store/store_compact.c write to disk
 * per telemetry sample, and how long history queries of one metric take
 * across the tiers. Not run by the tests.
 *
 *   make && cc -std=c11 -D_GNU_SOURCE -O2 -I. bench/store_write.c \
 *       build/libfloe.a $(pkg-config --libs sqlite3) -lpthread -lm -o build/store_write
 *   build/store_write [DIR [ROUNDS [METRICS [INTERVAL_S]]]]
 *
 * DIR (default /tmp) gets fresh databases that are removed afterwards; put
 * it on the disk the agent will use: WAL checkpoints write there.
 *
 * Write phase: ROUNDS (default 1200) poll rounds of METRICS (default 1000)
 * metrics, INTERVAL_S (default 1) seconds apart in sample time, each round
 * written as one batch (what the recorder commits) and followed by
 * store_compact, as the recorder does; as fast as the store goes, not in
 * real time. Then the last minutes are compacted and the store closed (its
 * final checkpoint copies the WAL into the database file), so every byte
 * the samples cost is counted: the log row in the WAL, its copy into the
 * database file at a checkpoint, the chunks and rollups compaction writes
 * (and their copies), the pages freed by deleting log rows. Counted from
 * /proc/self/io: wchar (bytes passed to write(2): WAL frames, checkpoint
 * copies) and write_bytes (what reached the block device; 0 on tmpfs, and
 * late when writeback has not run yet). Printed as
 *   bytes written per sample: N      (wchar / samples)
 * plus the database file's bytes per sample and per rollup row after the
 * run (for the disk budget in README, "History on disk"), with the packed
 * minutes of folded hours (rollup_minute_pack) counted per minute rollup.
 *
 * Query phase: a second database holds QUERY_METRICS metrics with 30 days
 * of history: one sample a minute for days 30..2 ago and one every 10 s
 * for the last 48 h, compacted, and retention applied at 48 h (raw) and
 * 30 d (minute), so the ranges read the tiers the agent's would. Prints
 * the time of store_query for 1 h, 24 h and 30 d of one metric (raw
 * points, and the step the HTTP API would pick for 1000 points) and of
 * store_window over the same ranges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/util.h"
#include "store/store.h"
#include "store/store_codec.h"

enum { QUERY_METRICS = 20 };
#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */
#define DAY (86400LL * 1000)

/* A counter of /proc/self/io (Linux), or -1. */
static long long proc_io(const char *key)
{
    long long v = -1;
    char fmt[64];
    snprintf(fmt, sizeof fmt, "%s: %%lld", key);
    FILE *fp = fopen("/proc/self/io", "r");
    if (!fp)
        return -1;
    char line[128];
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, fmt, &v) == 1)
            break;
    fclose(fp);
    return v;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static void remove_db(const char *path)
{
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
        char f[4300];
        snprintf(f, sizeof f, "%s%s", path, suffixes[i]);
        unlink(f);
    }
}

static void name_of(char *out, size_t len, int metric)
{
    snprintf(out, len, "site.device%d.metric%d_kw", metric / 10, metric);
}

/* A float32 reading as a Modbus register gives one: a level per metric,
 * a slow swing, and noise in every sample (a hash of metric and round, so
 * runs are repeatable), so no two consecutive values are equal. */
static double reading(int metric, long round)
{
    uint32_t h = (uint32_t)metric * 2654435761u ^ (uint32_t)round * 2246822519u;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    double noise = (double)(h % 1000) / 1000.0 - 0.5;
    double swing = (double)((round / 60 + metric) % 20) / 2.0;
    return (double)(float)(100.0 + metric % 400 + swing + noise);
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int bench_write(const char *path, long rounds, int metrics, long interval_s)
{
    struct store *s = NULL;
    char err[512];
    struct metric_sample *batch = calloc((size_t)metrics, sizeof *batch);
    if (!batch)
        return -1;
    for (int i = 0; i < metrics; i++)
        name_of(batch[i].name, sizeof batch[i].name, i);
    long long wchar0 = proc_io("wchar"), disk0 = proc_io("write_bytes");
    int64_t start = util_mono_ms();
    if (store_open(&s, path, err, sizeof err) != 0)
        goto fail;
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < metrics; i++) {
            struct metric_sample *m = &batch[i];
            /* A poll takes time: the devices' samples spread over 300 ms. */
            m->ts_ms = T0 + r * interval_s * 1000 + (i * 300) / metrics;
            m->ok = (i + r) % 100 != 0; /* one read in 100 fails */
            m->value = reading(i, r);
        }
        if (store_write_samples(s, batch, (size_t)metrics, err, sizeof err) != 0 ||
            store_compact(s, STORE_COMPACT_GRACE_MS, NULL, err, sizeof err) != 0)
            goto fail;
    }
    if (store_compact(s, -STORE_MINUTE_MS, NULL, err, sizeof err) != 0)
        goto fail;
    int64_t samples = store_sample_count(s);
    store_close(s);
    s = NULL;
    int64_t took_ms = util_mono_ms() - start;
    long long wchar = proc_io("wchar") - wchar0, disk = proc_io("write_bytes") - disk0;
    double n = (double)rounds * metrics;
    printf("wrote %ld rounds of %d metrics (%.0f samples, %ld s of sample time) in %lld ms: "
           "%.0f samples/s\n",
           rounds, metrics, n, rounds * interval_s, (long long)took_ms,
           n * 1000.0 / (double)(took_ms ? took_ms : 1));
    printf("raw samples held: %lld\n", (long long)samples);
    printf("write(2) bytes: %lld; block device bytes: %lld (%.1f per sample)\n", wchar, disk,
           (double)disk / n);
    printf("bytes written per sample: %.1f\n", (double)wchar / n);
    long long size = file_size(path);
    int64_t chunks = raw_int(path, "SELECT count(*) FROM raw_chunk");
    int64_t chunk_bytes = raw_int(path, "SELECT sum(length(data)) FROM raw_chunk");
    int64_t minutes = raw_int(path, "SELECT count(*) FROM rollup_minute");
    int64_t hours = raw_int(path, "SELECT count(*) FROM rollup_hour");
    printf("database file: %lld bytes (%.2f per sample); %lld raw chunks (%.2f blob bytes per "
           "sample), %lld minute rollups, %lld hour rollups\n",
           size, (double)size / n, (long long)chunks, (double)chunk_bytes / n, (long long)minutes,
           (long long)hours);
    free(batch);
    return 0;
fail:
    fprintf(stderr, "store_write: %s\n", err);
    store_close(s);
    free(batch);
    return -1;
}

/* The minute rollups held in rollup_minute_pack (0: none or no table);
 * also prints the packs' blob bytes per minute. */
static int64_t packed_minutes(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int64_t minutes = 0, bytes = 0;
    if (sqlite3_prepare_v2(db, "SELECT bucket, data FROM rollup_minute_pack", -1, &st, NULL) !=
        SQLITE_OK)
        return 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct store_pack_roll rolls[STORE_PACK_SLOTS_MAX];
        size_t n = 0;
        char err[128];
        if (store_codec_unpack(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
                               sqlite3_column_int64(st, 0), STORE_MINUTE_MS, 60, rolls, &n, err,
                               sizeof err) == 0)
            minutes += (int64_t)n;
        bytes += sqlite3_column_bytes(st, 1);
    }
    sqlite3_finalize(st);
    printf("packs: %lld minute rollups in %lld blob bytes (%.2f per minute)\n", (long long)minutes,
           (long long)bytes, minutes ? (double)bytes / (double)minutes : 0.0);
    return minutes;
}

/* The tiers' sizes measured in a file: bytes per raw sample in chunks
 * and per minute rollup row, from SQLite's own page accounting (dbstat
 * when compiled in, else the file size split by row counts). */
static void bench_sizes(const char *path)
{
    const char *sql = "SELECT name, sum(pgsize) FROM dbstat"
                      " WHERE name IN ('raw_chunk', 'rollup_minute', 'rollup_hour', 'sample_log',"
                      "  'rollup_minute_pack', 'sqlite_autoindex_rollup_minute_pack_1')"
                      " GROUP BY name ORDER BY name";
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        printf("table sizes: dbstat not available (%s)\n", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        sqlite3_close(db);
        return;
    }
    int64_t packed = -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        long long bytes = sqlite3_column_int64(st, 1);
        char count_sql[128];
        snprintf(count_sql, sizeof count_sql, "SELECT %s FROM %s",
                 strcmp(name, "raw_chunk") == 0 || strcmp(name, "sample_log") == 0
                     ? "coalesce(sum(n), 0)"
                     : "count(*)",
                 name);
        bool pack = strncmp(name, "rollup_minute_pack", 18) == 0 ||
                    strncmp(name, "sqlite_autoindex_rollup_minute_pack", 35) == 0;
        /* A pack holds many minute rollups: count those. */
        if (pack && packed < 0)
            packed = packed_minutes(db);
        int64_t rows = pack ? packed : raw_int(path, count_sql);
        printf("table %s: %lld bytes of pages, %.2f per %s\n", name, bytes,
               rows > 0 ? (double)bytes / (double)rows : 0.0,
               strcmp(name, "raw_chunk") == 0 || strcmp(name, "sample_log") == 0 ? "sample"
               : pack                                                            ? "packed minute"
                                                                                 : "row");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static int fill_history(struct store *s, int64_t now, char *err, size_t errlen)
{
    struct metric_sample batch[QUERY_METRICS];
    for (int i = 0; i < QUERY_METRICS; i++) {
        name_of(batch[i].name, sizeof batch[i].name, i);
        batch[i].ok = true;
    }
    /* 30 d .. 48 h ago one sample a minute, then one every 10 s. */
    long round = 0;
    for (int64_t ts = now - 30 * DAY; ts <= now; ts += ts < now - 2 * DAY ? 60000 : 10000) {
        for (int i = 0; i < QUERY_METRICS; i++) {
            batch[i].ts_ms = ts;
            batch[i].value = reading(i, round);
        }
        round++;
        if (store_write_samples(s, batch, QUERY_METRICS, err, errlen) != 0)
            return -1;
        if (round % 64 == 0 && store_compact(s, STORE_COMPACT_GRACE_MS, NULL, err, errlen) != 0)
            return -1;
    }
    struct store_retention r = {now - 2 * DAY, now - 30 * DAY, now - 365 * DAY};
    if (store_compact(s, STORE_COMPACT_GRACE_MS, NULL, err, errlen) != 0 ||
        store_apply_retention(s, &r, NULL, err, errlen) != 0)
        return -1;
    return 0;
}

static int time_query(struct store *s, const char *what, int64_t since, int64_t until,
                      int64_t step_ms)
{
    char err[512];
    struct store_point *pts = NULL;
    size_t n = 0;
    /* Best of 5: the machine is shared. */
    double best = 1e30;
    for (int k = 0; k < 5; k++) {
        free(pts);
        int64_t t0 = mono_us();
        if (store_query(s, "site.device0.metric3_kw", since, until, step_ms, SIZE_MAX, &pts, &n,
                        err, sizeof err) != 0) {
            fprintf(stderr, "store_write: %s\n", err);
            return -1;
        }
        double ms = (double)(mono_us() - t0) / 1000.0;
        best = ms < best ? ms : best;
    }
    free(pts);
    struct store_window w;
    double wbest = 1e30;
    for (int k = 0; k < 5; k++) {
        int64_t t0 = mono_us();
        if (store_window(s, "site.device0.metric3_kw", since, until, &w, err, sizeof err) != 0) {
            fprintf(stderr, "store_write: %s\n", err);
            return -1;
        }
        double ms = (double)(mono_us() - t0) / 1000.0;
        wbest = ms < wbest ? ms : wbest;
    }
    printf("query %-4s step %6llds: %6zu points in %7.2f ms; window (n %zu) in %7.2f ms\n", what,
           (long long)(step_ms / 1000), n, best, w.n, wbest);
    return 0;
}

static int bench_query(const char *path)
{
    struct store *s = NULL;
    char err[512];
    int64_t now = T0 + 40 * DAY;
    int64_t t0 = util_mono_ms();
    if (store_open(&s, path, err, sizeof err) != 0 || fill_history(s, now, err, sizeof err) != 0) {
        fprintf(stderr, "store_write: %s\n", err);
        store_close(s);
        return -1;
    }
    printf("query database: %d metrics, 30 d (1/min until 48 h ago, then 1/10 s), built in %lld "
           "ms\n",
           QUERY_METRICS, (long long)(util_mono_ms() - t0));
    static const struct {
        const char *what;
        int64_t range, step;
    } q[] = {
        {"1h", 3600000, 0},  {"1h", 3600000, 4000}, {"24h", DAY, 0},
        {"24h", DAY, 87000}, {"30d", 30 * DAY, 0},  {"30d", 30 * DAY, 2593000},
    };
    int rc = 0;
    for (size_t i = 0; i < ARRAY_LEN(q) && rc == 0; i++)
        rc = time_query(s, q[i].what, now - q[i].range, now, q[i].step);
    store_close(s);
    return rc;
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : "/tmp";
    long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 1200;
    long metrics = argc > 3 ? strtol(argv[3], NULL, 10) : 1000;
    long interval_s = argc > 4 ? strtol(argv[4], NULL, 10) : 1;
    if (rounds <= 0 || metrics <= 0 || metrics > 1000000 || interval_s <= 0 || interval_s > 3600) {
        fprintf(stderr, "usage: store_write [DIR [ROUNDS [METRICS [INTERVAL_S]]]]\n");
        return 2;
    }
    char dir[4096], path[4200], qpath[4200];
    snprintf(dir, sizeof dir, "%s/floe-bench-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror(dir);
        return 1;
    }
    snprintf(path, sizeof path, "%s/floe.db", dir);
    snprintf(qpath, sizeof qpath, "%s/query.db", dir);
    int rc = 1;
    if (bench_write(path, rounds, (int)metrics, interval_s) == 0) {
        bench_sizes(path);
        if (bench_query(qpath) == 0)
            rc = 0;
    }
    remove_db(path);
    remove_db(qpath);
    rmdir(dir);
    return rc;
}
