/*
 * store_write — how fast store/store.c writes telemetry, in samples per
 * second, in batches of 1000 (the store thread's drain size), and how long
 * a history query and a retention run over the written data take. Not
 * run by the tests.
 *
 *   make && cc -std=c11 -D_GNU_SOURCE -O2 -Iagent bench/store_write.c \
 *       build/libfloe.a $(pkg-config --libs sqlite3) -lpthread -lm -o build/store_write
 *   build/store_write [DIR [BATCHES [METRICS]]]
 *
 * DIR (default /tmp) gets a fresh database that is removed afterwards; put
 * it on the disk the agent will use: WAL checkpoints write and sync there.
 * METRICS (default 500) is the number of distinct metrics in each batch.
 * It, more than the batch size, sets the cost: every commit rewrites the
 * last page of each metric it touches (samples are clustered by metric),
 * so the bench also prints the bytes written per sample.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "store/store.h"

enum { BATCH = 1000, POLL_MS = 5000 };

/* Bytes this process has passed to write(2) so far (Linux). */
static long long bench_written_bytes(void)
{
    long long wchar = -1;
    FILE *fp = fopen("/proc/self/io", "r");
    if (!fp)
        return -1;
    char line[128];
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "wchar: %lld", &wchar) == 1)
            break;
    fclose(fp);
    return wchar;
}

static int bench_write(struct store *s, long batches, int metrics, struct metric_sample *batch)
{
    /* Each batch holds poll rounds of `metrics` metrics, timestamps moving
     * forward like a live agent's; one read in 100 failed. */
    long round = 0;
    long long written_before = bench_written_bytes();
    int64_t start = util_mono_ms();
    for (long b = 0; b < batches; b++) {
        for (int i = 0; i < BATCH; i++) {
            int metric = (int)(((long)b * BATCH + i) % metrics);
            if (metric == 0)
                round++;
            struct metric_sample *m = &batch[i];
            snprintf(m->name, sizeof m->name, "site.device%d.metric%d_kw", metric / 10, metric);
            m->ts_ms = 1700000000000 + round * POLL_MS;
            m->ok = (i + b) % 100 != 0;
            m->value = m->ok ? (double)(i * 7 + b % 13) / 4.0 : 0;
        }
        char err[512];
        if (store_write_samples(s, batch, BATCH, err, sizeof err) != 0) {
            fprintf(stderr, "store_write: %s\n", err);
            return -1;
        }
    }
    int64_t took_ms = util_mono_ms() - start;
    if (took_ms < 1)
        took_ms = 1;
    long long written = bench_written_bytes() - written_before;
    printf("wrote %ld batches of %d samples (%d metrics) in %lld ms: %.0f samples/s "
           "(%.2f ms per batch), %.0f bytes written per sample\n",
           batches, BATCH, metrics, (long long)took_ms,
           (double)batches * BATCH * 1000.0 / (double)took_ms, (double)took_ms / (double)batches,
           (double)written / ((double)batches * BATCH));
    return 0;
}

static int bench_query(struct store *s, int64_t step_ms)
{
    int64_t start = util_mono_ms();
    struct store_point *pts = NULL;
    size_t n = 0;
    char err[512];
    if (store_query(s, "site.device0.metric0_kw", INT64_MIN, INT64_MAX, step_ms, SIZE_MAX, &pts, &n,
                    err, sizeof err) != 0) {
        fprintf(stderr, "store_write: %s\n", err);
        return -1;
    }
    free(pts);
    printf("query of one metric, step %lld ms: %zu points in %lld ms\n", (long long)step_ms, n,
           (long long)(util_mono_ms() - start));
    return 0;
}

/* Drops the older half of what bench_write wrote. */
static int bench_retention(struct store *s, long batches, int metrics)
{
    long rounds = batches * BATCH / metrics;
    int64_t cutoff_ms = 1700000000000 + (rounds / 2) * POLL_MS;
    int64_t deleted = 0;
    char err[512];
    int64_t start = util_mono_ms();
    if (store_apply_retention(s, cutoff_ms, &deleted, err, sizeof err) != 0) {
        fprintf(stderr, "store_write: %s\n", err);
        return -1;
    }
    int64_t took_ms = util_mono_ms() - start;
    printf("retention deleted %lld samples in %lld ms: %.0f samples/s\n", (long long)deleted,
           (long long)took_ms, (double)deleted * 1000.0 / (double)(took_ms ? took_ms : 1));
    return 0;
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : "/tmp";
    long batches = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
    long metrics = argc > 3 ? strtol(argv[3], NULL, 10) : 500;
    if (batches <= 0 || metrics <= 0 || metrics > 1000000) {
        fprintf(stderr, "usage: store_write [DIR [BATCHES [METRICS]]]\n");
        return 2;
    }
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/floe-bench-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror(dir);
        return 1;
    }
    snprintf(path, sizeof path, "%s/floe.db", dir);

    int rc = 1;
    struct store *s = NULL;
    struct metric_sample *batch = calloc(BATCH, sizeof *batch);
    char err[512];
    if (!batch) {
        fprintf(stderr, "store_write: out of memory\n");
        goto out;
    }
    if (store_open(&s, path, err, sizeof err) != 0) {
        fprintf(stderr, "store_write: %s\n", err);
        goto out;
    }
    if (bench_write(s, batches, (int)metrics, batch) == 0 && bench_query(s, 0) == 0 &&
        bench_query(s, 60 * 1000) == 0 && bench_query(s, 3600 * 1000) == 0 &&
        bench_retention(s, batches, (int)metrics) == 0)
        rc = 0;
    printf("samples stored: %lld\n", (long long)store_sample_count(s));
out:
    store_close(s);
    free(batch);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
        char f[4300];
        snprintf(f, sizeof f, "%s%s", path, suffixes[i]);
        unlink(f);
    }
    rmdir(dir);
    return rc;
}
