/*
 * mb_read — test driver for modbus_pymodbus.py: polls Modbus devices
 * through mb_collector_ops exactly as the agent's poller would, one thread
 * per device, and prints what the collector reported. The script compiles
 * it against BUILD/libfloe.a; it is not part of the product.
 *
 *   mb_read SPECFILE
 *
 * SPECFILE lines ('#' starts a comment):
 *   device NAME HOST PORT [key=value ...]
 *       keys: unit timeout_ms retries max_registers max_gap interval_ms
 *             polls busy_retries busy_wait_ms pause_connect_ms
 *             pause_between_ms close_after_poll one_per_point
 *             stop_after_ms (raises the poller's stop flag that long after start)
 *   point METRIC TABLE ADDRESS TYPE ORDER BIT SCALE OFFSET
 *       (belongs to the last device; BIT -1 for none)
 *
 * Output, one line each, whole blocks per poll:
 *   NAME plan REQUESTS
 *   NAME poll N rc=RC at=MS ms=DURATION err=TEXT
 *   NAME value METRIC VALUE          (%.17g)
 *   NAME bad METRIC REASON
 */
#include <stdatomic.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/collector.h"
#include "collectors/mb_plan.h"
#include "config/config.h"
#include "lib/util.h"

#define MAX_DEVICES 16
#define MAX_POINTS 128

struct device_run {
    struct cfg_mb_device cfg;
    struct cfg_mb_point points[MAX_POINTS];
    int polls;
    int64_t stop_after_ms;
    atomic_int stop;
    int64_t start_ms;
    pthread_mutex_t *out_lock;
};

/* Collects one poll's lines so that threads never interleave inside a poll. */
struct out_buf {
    char *text;
    size_t len;
    const char *device;
};

static void out_add(struct out_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_add(struct out_buf *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t add = strlen(line);
    char *t = realloc(b->text, b->len + add + 1);
    if (!t)
        abort();
    memcpy(t + b->len, line, add + 1);
    b->text = t;
    b->len += add;
}

static void sink_good(void *ctx, const char *metric, double value, const char *unit)
{
    struct out_buf *b = ctx;
    (void)unit;
    out_add(b, "%s value %s %.17g\n", b->device, metric, value);
}

static void sink_bad(void *ctx, const char *metric, const char *reason)
{
    struct out_buf *b = ctx;
    out_add(b, "%s bad %s %s\n", b->device, metric, reason);
}

static void *stopper_main(void *arg)
{
    struct device_run *d = arg;
    util_sleep_ms(d->stop_after_ms, NULL);
    util_stop_set(&d->stop);
    return NULL;
}

static void *device_main(void *arg)
{
    struct device_run *d = arg;
    char err[256];
    void *state = NULL;
    pthread_t stopper;
    bool stopper_started =
        d->stop_after_ms > 0 && pthread_create(&stopper, NULL, stopper_main, d) == 0;
    if (mb_collector_ops.open(&state, &d->cfg, err, sizeof err) != 0) {
        pthread_mutex_lock(d->out_lock);
        printf("%s open failed: %s\n", d->cfg.name, err);
        fflush(stdout);
        pthread_mutex_unlock(d->out_lock);
        return NULL;
    }
    int64_t next = d->start_ms;
    for (int i = 0; i < d->polls; i++) {
        struct out_buf b = {.device = d->cfg.name};
        struct metric_sink sink = {.good = sink_good, .bad = sink_bad, .ctx = &b};
        int64_t t0 = util_mono_ms();
        err[0] = '\0';
        int rc = mb_collector_ops.poll(state, &sink, &d->stop, err, sizeof err);
        int64_t t1 = util_mono_ms();
        pthread_mutex_lock(d->out_lock);
        printf("%s poll %d rc=%d at=%lld ms=%lld err=%s\n%s", d->cfg.name, i, rc,
               (long long)(t0 - d->start_ms), (long long)(t1 - t0), err, b.text ? b.text : "");
        fflush(stdout);
        pthread_mutex_unlock(d->out_lock);
        free(b.text);
        /* the poller's fixed-rate schedule */
        next += d->cfg.interval_ms;
        int64_t now = util_mono_ms();
        if (next > now && i + 1 < d->polls)
            util_sleep_ms(next - now, NULL);
    }
    mb_collector_ops.close(state);
    if (stopper_started)
        pthread_join(stopper, NULL);
    return NULL;
}

static enum mb_table parse_table(const char *s)
{
    if (!strcmp(s, "input"))
        return MB_TABLE_INPUT;
    if (!strcmp(s, "coil"))
        return MB_TABLE_COIL;
    if (!strcmp(s, "discrete"))
        return MB_TABLE_DISCRETE;
    return MB_TABLE_HOLDING;
}

static enum mb_type parse_type(const char *s)
{
    static const char *const names[] = {"uint16", "int16", "uint32",  "int32", "float32",
                                        "uint64", "int64", "float64", "bool"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (!strcmp(s, names[i]))
            return (enum mb_type)i;
    fprintf(stderr, "unknown type %s\n", s);
    exit(2);
}

static enum mb_order parse_order(const char *s)
{
    static const char *const names[] = {"ABCD", "DCBA", "BADC", "CDAB"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (!strcmp(s, names[i]))
            return (enum mb_order)i;
    fprintf(stderr, "unknown order %s\n", s);
    exit(2);
}

static void set_key(struct device_run *d, const char *kv)
{
    char key[64];
    long long v;
    if (sscanf(kv, "%63[^=]=%lld", key, &v) != 2) {
        fprintf(stderr, "bad option %s\n", kv);
        exit(2);
    }
    struct cfg_mb_device *c = &d->cfg;
    if (!strcmp(key, "unit"))
        c->unit_id = (int)v;
    else if (!strcmp(key, "timeout_ms"))
        c->timeout_ms = v;
    else if (!strcmp(key, "retries"))
        c->retries = (int)v;
    else if (!strcmp(key, "max_registers"))
        c->max_registers = (int)v;
    else if (!strcmp(key, "max_gap"))
        c->max_gap = (int)v;
    else if (!strcmp(key, "interval_ms"))
        c->interval_ms = v;
    else if (!strcmp(key, "polls"))
        d->polls = (int)v;
    else if (!strcmp(key, "busy_retries"))
        c->busy_retries = (int)v;
    else if (!strcmp(key, "busy_wait_ms"))
        c->busy_retry_wait_ms = v;
    else if (!strcmp(key, "pause_connect_ms"))
        c->pause_after_connect_ms = v;
    else if (!strcmp(key, "pause_between_ms"))
        c->pause_between_requests_ms = v;
    else if (!strcmp(key, "close_after_poll"))
        c->close_after_poll = v != 0;
    else if (!strcmp(key, "one_per_point"))
        c->one_request_per_point = v != 0;
    else if (!strcmp(key, "stop_after_ms"))
        d->stop_after_ms = v;
    else {
        fprintf(stderr, "unknown option %s\n", key);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    static struct device_run devs[MAX_DEVICES];
    size_t ndev = 0;
    pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
    if (argc != 2) {
        fprintf(stderr, "usage: mb_read SPECFILE\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *tok[16];
        int nt = 0;
        for (char *s = strtok(line, " \t\n"); s && nt < 16 && *s != '#'; s = strtok(NULL, " \t\n"))
            tok[nt++] = s;
        if (nt == 0)
            continue;
        if (!strcmp(tok[0], "device") && nt >= 4 && ndev < MAX_DEVICES) {
            struct device_run *d = &devs[ndev++];
            d->cfg = (struct cfg_mb_device){.name = util_strdup(tok[1]),
                                            .transport = MB_TRANSPORT_TCP,
                                            .host = util_strdup(tok[2]),
                                            .port = atoi(tok[3]),
                                            .unit_id = 1,
                                            .interval_ms = 1000,
                                            .timeout_ms = 500,
                                            .retries = 1,
                                            .max_registers = 125,
                                            .max_gap = 8,
                                            .busy_retry_wait_ms = 100,
                                            .points = d->points};
            d->polls = 1;
            d->out_lock = &out_lock;
            for (int i = 4; i < nt; i++)
                set_key(d, tok[i]);
        } else if (!strcmp(tok[0], "point") && nt == 9 && ndev > 0 &&
                   devs[ndev - 1].cfg.npoints < MAX_POINTS) {
            struct cfg_mb_device *c = &devs[ndev - 1].cfg;
            c->points[c->npoints++] = (struct cfg_mb_point){.metric = util_strdup(tok[1]),
                                                            .table = parse_table(tok[2]),
                                                            .address = (uint16_t)atoi(tok[3]),
                                                            .type = parse_type(tok[4]),
                                                            .order = parse_order(tok[5]),
                                                            .bit = atoi(tok[6]),
                                                            .scale = atof(tok[7]),
                                                            .offset = atof(tok[8]),
                                                            .unit = ""};
        } else {
            fprintf(stderr, "bad spec line starting %s\n", tok[0]);
            return 2;
        }
    }
    fclose(f);

    for (size_t i = 0; i < ndev; i++) {
        struct cfg_mb_device *c = &devs[i].cfg;
        struct mb_plan plan;
        char err[256];
        struct mb_plan_limits l = {.max_registers = c->max_registers,
                                   .max_bits = 2000,
                                   .max_gap = c->max_gap,
                                   .one_request_per_point = c->one_request_per_point};
        if (mb_plan_build(&plan, c->points, c->npoints, &l, err, sizeof err) == 0)
            printf("%s plan %zu\n", c->name, plan.nrequests);
        mb_plan_clear(&plan);
    }
    fflush(stdout);

    pthread_t threads[MAX_DEVICES];
    int64_t start = util_mono_ms();
    for (size_t i = 0; i < ndev; i++) {
        devs[i].start_ms = start;
        if (pthread_create(&threads[i], NULL, device_main, &devs[i]) != 0) {
            fprintf(stderr, "cannot start thread\n");
            return 1;
        }
    }
    for (size_t i = 0; i < ndev; i++)
        pthread_join(threads[i], NULL);
    for (size_t i = 0; i < ndev; i++) {
        for (size_t p = 0; p < devs[i].cfg.npoints; p++)
            free(devs[i].cfg.points[p].metric);
        free(devs[i].cfg.name);
        free(devs[i].cfg.host);
    }
    return 0;
}
