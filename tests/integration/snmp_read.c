/*
 * snmp_read — drives the SNMP collector (snmp_collector_ops) against real
 * agents for the integration tests, without the rest of the agent.
 *
 *   snmp_read [-n POLLS] [-i INTERVAL_MS] DEVICE.json[,NEXT.json]...
 *
 * Each DEVICE.json holds one device in the shape of a floe.json "snmp"
 * entry (durations as numbers: "interval_ms", "timeout_ms"). Every device
 * gets its own thread, as in the agent: open, then POLLS polls on a fixed
 * schedule (start + k x interval), then close. "A.json,B.json" runs A, then
 * in the same thread closes it and opens B for POLLS more polls — what a
 * config reload does. Output, one poll at a time per device:
 *
 *   NAME poll K start_ms=S dur_ms=D rc=R mono_us=BEGIN,END [err=MESSAGE]
 *   NAME METRIC VALUE            (value printed with %.17g)
 *   NAME METRIC ERROR REASON
 *
 * start_ms is the poll's start relative to the common start of all devices
 * (for interval jitter); mono_us are CLOCK_MONOTONIC microseconds, the
 * clock of Python's time.monotonic(), so a test can match packets it saw to
 * polls.
 */
#include "collectors/collector.h"
#include "config/config.h"
#include "lib/log.h"

#include <cjson/cJSON.h>
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct out_buf {
    char *text;
    size_t len, cap;
};

#define MAX_STAGES 4

struct device_run {
    struct cfg_snmp_device cfg[MAX_STAGES];
    int nstages;
    int polls;
    int64_t interval_ms;
    int64_t t0_ms;
    int failed;
};

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_ms(void)
{
    return mono_us() / 1000;
}

static void sleep_until(int64_t when_ms)
{
    int64_t left = when_ms - mono_ms();
    if (left > 0) {
        struct timespec ts = {left / 1000, (left % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void out_add(struct out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_add(struct out_buf *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(o->text ? o->text + o->len : NULL, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = (o->cap + (size_t)n + 1) * 2;
        char *t = realloc(o->text, cap);
        if (!t)
            abort();
        o->text = t, o->cap = cap;
    }
}

struct sink_ctx {
    const char *device;
    struct out_buf *out;
};

static void on_good(void *ctx, const char *metric, double value, const char *unit)
{
    struct sink_ctx *c = ctx;
    (void)unit;
    out_add(c->out, "%s %s %.17g\n", c->device, metric, value);
}

static void on_bad(void *ctx, const char *metric, const char *reason)
{
    struct sink_ctx *c = ctx;
    out_add(c->out, "%s %s ERROR %s\n", c->device, metric, reason);
}

/* Polls one configuration of a device `polls` times from poll number
 * `first` on; returns -1 if it could not be opened. */
static int run_stage(struct device_run *r, const struct cfg_snmp_device *cfg, int first)
{
    void *state = NULL;
    char err[512] = "";
    if (snmp_collector_ops.open(&state, cfg, err, sizeof err) < 0) {
        pthread_mutex_lock(&out_lock);
        printf("%s open rc=-1 err=%s\n", cfg->name, err);
        fflush(stdout);
        pthread_mutex_unlock(&out_lock);
        return -1;
    }
    for (int k = first; k < first + r->polls; k++) {
        sleep_until(r->t0_ms + k * r->interval_ms);
        struct out_buf o = {0};
        struct sink_ctx c = {cfg->name, &o};
        struct metric_sink sink = {on_good, on_bad, &c};
        int64_t start = mono_us();
        err[0] = '\0';
        int rc = snmp_collector_ops.poll(state, &sink, NULL, err, sizeof err);
        int64_t end = mono_us();
        pthread_mutex_lock(&out_lock);
        printf("%s poll %d start_ms=%lld dur_ms=%lld rc=%d mono_us=%lld,%lld", cfg->name, k,
               (long long)(start / 1000 - r->t0_ms), (long long)((end - start) / 1000), rc,
               (long long)start, (long long)end);
        if (rc < 0)
            printf(" err=%s", err);
        printf("\n%s", o.text ? o.text : "");
        fflush(stdout);
        pthread_mutex_unlock(&out_lock);
        free(o.text);
    }
    snmp_collector_ops.close(state);
    return 0;
}

static void *device_thread(void *arg)
{
    struct device_run *r = arg;
    for (int s = 0; s < r->nstages; s++)
        if (run_stage(r, &r->cfg[s], s * r->polls) < 0)
            r->failed = 1;
    return NULL;
}

static char *json_str(const cJSON *obj, const char *key, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    return dflt ? strdup(dflt) : NULL;
}

static double json_num(const cJSON *obj, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static int lookup(const char *s, const char *const *names, int n, int dflt)
{
    if (!s)
        return dflt;
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    fprintf(stderr, "snmp_read: unknown value \"%s\"\n", s);
    exit(2);
}

static int load_device(const char *path, struct cfg_snmp_device *d)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    cJSON *j = cJSON_Parse(text);
    if (!j) {
        fprintf(stderr, "%s: bad JSON\n", path);
        return -1;
    }
    static const char *const versions[] = {"1", "2c", "3"};
    static const char *const levels[] = {"noAuthNoPriv", "authNoPriv", "authPriv"};
    static const char *const auths[] = {"", "MD5", "SHA", "SHA-256", "SHA-512"};
    static const char *const privs[] = {"", "DES", "AES", "AES-256"};
    char *s;
    memset(d, 0, sizeof *d);
    d->name = json_str(j, "name", "dev");
    d->host = json_str(j, "host", "127.0.0.1");
    d->port = (int)json_num(j, "port", 161);
    d->version = lookup(s = json_str(j, "version", "2c"), versions, 3, SNMP_V2C), free(s);
    d->community = json_str(j, "community", "public");
    d->user = json_str(j, "user", NULL);
    d->level = lookup(s = json_str(j, "level", NULL), levels, 3, SNMP_NOAUTH_NOPRIV), free(s);
    d->auth_protocol = lookup(s = json_str(j, "auth_protocol", NULL), auths, 5, SNMP_AUTH_NONE);
    free(s);
    d->auth_password = json_str(j, "auth_password", NULL);
    d->priv_protocol = lookup(s = json_str(j, "priv_protocol", NULL), privs, 4, SNMP_PRIV_NONE);
    free(s);
    d->priv_password = json_str(j, "priv_password", NULL);
    d->context = json_str(j, "context", NULL);
    d->interval_ms = (int64_t)json_num(j, "interval_ms", 1000);
    d->timeout_ms = (int64_t)json_num(j, "timeout_ms", 1000);
    d->walk_growth_check_ms = (int64_t)json_num(j, "walk_growth_check_ms", 60000);
    d->retries = (int)json_num(j, "retries", 1);
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(j, "points");
    d->npoints = (size_t)cJSON_GetArraySize(pts);
    d->points = calloc(d->npoints ? d->npoints : 1, sizeof *d->points);
    size_t i = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, pts)
    {
        struct cfg_snmp_point *cp = &d->points[i++];
        cp->metric = json_str(p, "metric", NULL);
        cp->oid = json_str(p, "oid", NULL);
        cp->walk = json_str(p, "walk", NULL);
        cp->scale = json_num(p, "scale", 1);
        cp->offset = json_num(p, "offset", 0);
        cp->unit = json_str(p, "unit", "");
    }
    cJSON_Delete(j);
    return 0;
}

static void free_device(struct cfg_snmp_device *d)
{
    for (size_t i = 0; i < d->npoints; i++) {
        free(d->points[i].metric);
        free(d->points[i].oid);
        free(d->points[i].walk);
        free(d->points[i].unit);
    }
    free(d->points);
    free(d->name);
    free(d->host);
    free(d->community);
    free(d->user);
    free(d->auth_password);
    free(d->priv_password);
    free(d->context);
}

int main(int argc, char **argv)
{
    int polls = 1, opt;
    int64_t interval_ms = 1000;
    while ((opt = getopt(argc, argv, "n:i:")) != -1) {
        switch (opt) {
        case 'n':
            polls = atoi(optarg);
            break;
        case 'i':
            interval_ms = atoll(optarg);
            break;
        default:
            fprintf(stderr,
                    "usage: snmp_read [-n POLLS] [-i INTERVAL_MS] DEVICE.json[,NEXT.json]...\n");
            return 2;
        }
    }
    /* SNMP_READ_DEBUG=token,token turns on net-snmp's debug output (through
     * the collector's log hook) for investigating a failing test. */
    const char *debug = getenv("SNMP_READ_DEBUG");
    if (debug && *debug) {
        log_init(LOG_LVL_DEBUG);
        debug_register_tokens(debug);
        snmp_set_do_debugging(1);
    }
    int ndev = argc - optind;
    if (ndev < 1) {
        fprintf(stderr,
                "usage: snmp_read [-n POLLS] [-i INTERVAL_MS] DEVICE.json[,NEXT.json]...\n");
        return 2;
    }
    struct device_run *runs = calloc((size_t)ndev, sizeof *runs);
    pthread_t *threads = calloc((size_t)ndev, sizeof *threads);
    for (int i = 0; i < ndev; i++) {
        char *list = strdup(argv[optind + i]), *save = NULL;
        for (char *f = strtok_r(list, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
            if (runs[i].nstages == MAX_STAGES || load_device(f, &runs[i].cfg[runs[i].nstages]) < 0)
                return 2;
            runs[i].nstages++;
        }
        free(list);
        runs[i].polls = polls;
        runs[i].interval_ms = interval_ms;
    }
    int64_t t0 = mono_ms() + 50;
    for (int i = 0; i < ndev; i++) {
        runs[i].t0_ms = t0;
        pthread_create(&threads[i], NULL, device_thread, &runs[i]);
    }
    int failed = 0;
    for (int i = 0; i < ndev; i++) {
        pthread_join(threads[i], NULL);
        failed |= runs[i].failed;
        for (int s = 0; s < runs[i].nstages; s++)
            free_device(&runs[i].cfg[s]);
    }
    free(runs);
    free(threads);
    return failed ? 1 : 0;
}
