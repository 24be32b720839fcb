/*
 * replay — input formats (CSV, the agent's SQLite database) and the run
 * loop of `floe replay`; the rules are in replay.h, the command line in
 * agent/cmd_replay.c.
 */
#include "policies/replay.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "policies/decision.h"
#include "policies/pol_engine.h"
#include "policies/pol_run.h"
#include "store/store.h"

/* ---- CSV ---------------------------------------------------------------------- */

struct field {
    const char *s;
    size_t len;
};

/* A field as it may appear in a message: at most 40 bytes, control
 * characters replaced, so a binary file cannot drive the terminal. */
static const char *shown(struct field f, char *buf, size_t n)
{
    size_t len = f.len < 40 ? f.len : 40;
    if (len >= n)
        len = n - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)f.s[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    buf[len] = '\0';
    if (f.len > len && len >= 3)
        memcpy(buf + len - 3, "...", 3);
    return buf;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Splits [p, end) at commas into at most 4 trimmed, unquoted fields
 * (a fourth means "too many"). Returns the number found, or -1 when a
 * field has a quote inside it. */
static int split_fields(const char *p, const char *end, struct field f[4])
{
    int n = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *fe = comma ? comma : end;
        const char *a = p, *b = fe;
        while (a < b && blank(*a))
            a++;
        while (b > a && blank(b[-1]))
            b--;
        if (b - a >= 2 && *a == '"' && b[-1] == '"') {
            a++;
            b--;
        }
        if (memchr(a, '"', (size_t)(b - a)))
            return -1;
        f[n++] = (struct field){a, (size_t)(b - a)};
        if (!comma || n == 4)
            return n;
        p = comma + 1;
    }
}

static bool field_is(struct field f, const char *word)
{
    return f.len == strlen(word) && memcmp(f.s, word, f.len) == 0;
}

/* Copies a field into buf as a C string; false when it does not fit. */
static bool field_copy(struct field f, char *buf, size_t n)
{
    if (f.len >= n)
        return false;
    memcpy(buf, f.s, f.len);
    buf[f.len] = '\0';
    return true;
}

/* One data row. Returns 0 or -1 with the message (without FILE:LINE). */
static int csv_row(struct replay_trace *t, const struct field f[3], uint32_t line, char *msg,
                   size_t n)
{
    char buf[256], show[48];
    int64_t ts;
    if (!field_copy(f[0], buf, 64) || util_parse_time_ms(buf, &ts) < 0)
        return errf(msg, n,
                    "bad time '%s': expected RFC 3339 (2026-01-15T10:00:00Z) or Unix seconds",
                    shown(f[0], show, sizeof show));
    if (!field_copy(f[1], buf, sizeof buf) || !util_metric_name_valid(buf))
        return errf(msg, n, "bad metric name '%s': lower-case [a-z0-9_] segments joined by '.'",
                    shown(f[1], show, sizeof show));
    size_t series = replay_trace_series(t, buf);
    double value = NAN;
    if (f[2].len > 0) {
        char *end;
        if (!field_copy(f[2], buf, 64) || (value = strtod(buf, &end), end == buf) || *end ||
            !isfinite(value))
            return errf(msg, n, "bad value '%s': a number, or empty for a read error",
                        shown(f[2], show, sizeof show));
    }
    replay_trace_add(t, series, ts, value, line);
    return 0;
}

int replay_read_csv(struct replay_trace *t, const char *name, const char *text, size_t len,
                    char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    uint32_t line = 0;
    bool header = false;
    char msg[256];
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        const char *le = eol ? eol : end;
        if (le > p && le[-1] == '\r')
            le--;
        if (line == UINT32_MAX)
            return errf(err, errlen, "%s:%u: too many lines", name, line);
        line++;
        const char *a = p;
        p = next;
        while (a < le && blank(*a))
            a++;
        if (a == le)
            continue;
        if (memchr(a, '\0', (size_t)(le - a)))
            return errf(err, errlen, "%s:%u: NUL byte in line (not a text file?)", name, line);
        struct field f[4];
        int nf = split_fields(a, le, f);
        if (nf < 0)
            return errf(err, errlen,
                        "%s:%u: quote inside a field (fields are never quoted "
                        "around commas or quotes)",
                        name, line);
        if (!header) {
            if (nf != 3 || !field_is(f[0], "ts") || !field_is(f[1], "metric") ||
                !field_is(f[2], "value"))
                return errf(err, errlen, "%s:%u: expected the header line ts,metric,value", name,
                            line);
            header = true;
            continue;
        }
        if (nf != 3)
            return errf(err, errlen, "%s:%u: expected 3 fields (ts,metric,value), found %s", name,
                        line, nf < 3 ? (nf == 1 ? "1" : "2") : "more");
        if (csv_row(t, f, line, msg, sizeof msg) < 0)
            return errf(err, errlen, "%s:%u: %s", name, line, msg);
    }
    if (!header)
        return errf(err, errlen, "%s:%u: no header line ts,metric,value (empty file)", name,
                    line ? line : 1);
    return replay_trace_finish(t, name, err, errlen);
}

/* ---- the agent's database ---------------------------------------------------------- */

struct db_read {
    struct replay_trace *t;
    const char *path;
    char *err;
    size_t errlen;
    long series; /* the series of the metric read last, or -1 */
    char last[METRIC_NAME_MAX];
};

static int db_sample(void *ctx, const char *metric, int64_t ts, double value)
{
    struct db_read *r = ctx;
    if (r->series < 0 || strcmp(metric, r->last) != 0) {
        r->series = (long)replay_trace_series(r->t, metric);
        util_strlcpy(r->last, metric, sizeof r->last);
    }
    /* The collectors never store an infinity; if one is there it is a
     * broken reading, which is what a read error means. */
    if (!isfinite(value))
        value = NAN;
    if (replay_trace_append(r->t, (size_t)r->series, ts, value) < 0) {
        errf(r->err, r->errlen, "%s: metric '%s': samples out of order at ts_ms %lld", r->path,
             metric, (long long)ts);
        return -1;
    }
    return 0;
}

/* The store reads every tier of the file read-only (store_history_read):
 * raw samples where they are kept, one sample per minute or hour rollup
 * (its mean at its start) further back. */
int replay_read_db(struct replay_trace *t, const char *path, int64_t from_ms, int64_t to_ms,
                   char *err, size_t errlen)
{
    struct db_read r = {.t = t, .path = path, .err = err, .errlen = errlen, .series = -1};
    return store_history_read(path, from_ms, to_ms, db_sample, &r, err, errlen) < 0 ? -1 : 0;
}

/* ---- the run ------------------------------------------------------------------------ */

/* The interval of the device that produces metric m, or 0. */
static int64_t device_interval(const struct floe_config *cfg, const char *m)
{
    for (size_t d = 0; d < cfg->ndevices; d++)
        for (size_t p = 0; p < cfg->devices[d].nmetrics; p++)
            if (cfg_metric_template_matches(cfg->devices[d].metrics[p].name, m))
                return cfg->devices[d].interval_ms;
    return 0;
}

static void set_staleness(const struct floe_config *cfg, struct replay_trace *t,
                          const struct replay_opts *o, int64_t tick_ms)
{
    for (size_t i = 0; i < replay_trace_count(t); i++) {
        const char *name = replay_trace_name(t, i);
        int64_t stale = 3 * device_interval(cfg, name);
        if (!stale)
            stale = o->stale_ms;
        if (!stale) {
            int64_t spacing = replay_trace_median_spacing(t, i);
            stale = spacing > 0 ? 3 * spacing : REPLAY_DEFAULT_STALE_MS;
        }
        replay_trace_set_stale(t, i, stale);
    }
    /* Derived series get a sample every tick. */
    for (size_t i = 0; i < cfg->nderive; i++)
        replay_trace_set_stale(t, (size_t)replay_trace_find(t, cfg->derive[i].metric), 3 * tick_ms);
}

struct run_ctx {
    struct replay_trace *t;
    size_t *derive_series;
    const struct replay_output *out;
    int64_t next_id;
};

static void on_derived(void *ctx, size_t i, const char *metric, const char *unit, double value,
                       int good, int64_t now_ms)
{
    struct run_ctx *rc = ctx;
    (void)metric;
    (void)unit;
    replay_trace_append(rc->t, rc->derive_series[i], now_ms, good ? value : NAN);
}

static void on_event(void *ctx, const struct pol_run_event *ev)
{
    struct run_ctx *rc = ctx;
    if (!rc->out->events)
        return;
    char ts[32];
    util_format_rfc3339(ev->ts_ms, ts, sizeof ts);
    fprintf(rc->out->events, "%s %s:", ts, ev->name);
    if (ev->prev != ev->state)
        fprintf(rc->out->events, " %s -> %s (%s)", pol_state_name(ev->prev),
                pol_state_name(ev->state), ev->why ? ev->why : "");
    if (ev->unknown_changed)
        fprintf(rc->out->events, "%s inputs %s (state %s)", ev->prev != ev->state ? ";" : "",
                ev->unknown ? "unknown" : "known again", pol_state_name(ev->state));
    fputc('\n', rc->out->events);
}

static void on_decision(void *ctx, struct decision *d)
{
    struct run_ctx *rc = ctx;
    d->id = ++rc->next_id;
    /* A replay asks no peer and reserves nothing. */
    if (d->status == DECISION_PLACING && d->kind == POL_ACTION_REBALANCE)
        decision_not_placed(d, "rebalance not carried out: `floe replay` asks no peer and has no "
                               "workload inventory, so it cannot say which guests would go home "
                               "or what would move");
    else if (d->status == DECISION_PLACING)
        decision_not_placed(d, "placement not configured");
    if (!rc->out->decisions)
        return;
    char *text = decision_to_text(d);
    fputs(text, rc->out->decisions);
    fputc('\n', rc->out->decisions);
    free(text);
}

/* The first and last tick. */
static int tick_range(struct replay_trace *t, const struct replay_opts *o, int64_t tick_ms,
                      int64_t *first, int64_t *last, char *err, size_t errlen)
{
    int64_t lo = 0, hi = 0;
    bool any = replay_trace_bounds(t, &lo, &hi) == 0;
    if (!any && !(o->has_from && o->has_to))
        return errf(err, errlen, "no samples to replay");
    *first = o->has_from ? o->from_ms : lo;
    *last = o->has_to ? o->to_ms : hi;
    if (*last < *first)
        return errf(err, errlen, "nothing to replay: the last tick is before the first");
    if ((*last - *first) / tick_ms >= REPLAY_MAX_TICKS)
        return errf(err, errlen,
                    "%lld ticks between the first and the last sample; narrow with --from/--to "
                    "or use a longer --tick",
                    (long long)((*last - *first) / tick_ms + 1));
    return 0;
}

int replay_run(const struct floe_config *cfg, struct replay_trace *t,
               const struct replay_opts *opts, const struct replay_output *out,
               struct replay_stats *stats, char *err, size_t errlen)
{
    /* Tick as the agent running this config would, unless told otherwise. */
    int64_t tick_ms = opts->tick_ms > 0          ? opts->tick_ms
                      : cfg->policy_tick_ms > 0 ? cfg->policy_tick_ms
                                                : REPLAY_DEFAULT_TICK_MS;
    struct pol_tz *tz = NULL;
    struct pol_engine *eng = NULL;
    struct pol_run *run = NULL;
    struct run_ctx rc = {.t = t, .out = out};
    int result = -1;

    if (pol_tz_load(cfg->site.timezone ? cfg->site.timezone : "UTC", &tz, err, errlen) < 0 ||
        pol_engine_new(&eng, cfg->policies, cfg->npolicies, err, errlen) < 0)
        goto done;
    struct pol_run_setup setup = {
        .engine = eng,
        .policies = cfg->policies,
        .npolicies = cfg->npolicies,
        .derive = cfg->derive,
        .nderive = cfg->nderive,
        .tz = tz,
    };
    if (pol_run_new(&run, &setup, err, errlen) < 0)
        goto done;

    rc.derive_series = calloc(cfg->nderive ? cfg->nderive : 1, sizeof *rc.derive_series);
    if (!rc.derive_series) {
        errf(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < cfg->nderive; i++) {
        rc.derive_series[i] = replay_trace_series(t, cfg->derive[i].metric);
        replay_trace_reset(t, rc.derive_series[i]);
    }
    int64_t first = 0, last = 0;
    if (tick_range(t, opts, tick_ms, &first, &last, err, errlen) < 0)
        goto done;
    set_staleness(cfg, t, opts, tick_ms);
    /* Derived series get one sample per tick: room for all of them now,
     * so the loop below does not allocate. */
    for (size_t i = 0; i < cfg->nderive; i++)
        replay_trace_reserve(t, rc.derive_series[i], (size_t)((last - first) / tick_ms + 1));

    uint64_t samples = replay_trace_samples(t); /* before derived ones join */
    struct pol_env env;
    replay_trace_env(t, &env);
    struct pol_run_ops ops = {
        .ctx = &rc, .derived = on_derived, .event = on_event, .decision = on_decision};
    uint64_t ticks = 0;
    for (int64_t now = first; now <= last; now += tick_ms, ticks++) {
        replay_trace_set_now(t, now);
        pol_run_tick(run, &env, now, 0, &ops);
    }
    if ((out->decisions && (fflush(out->decisions) != 0 || ferror(out->decisions))) ||
        (out->events && ferror(out->events))) {
        errf(err, errlen, "writing the output: %s", strerror(errno));
        goto done;
    }
    if (stats)
        *stats = (struct replay_stats){
            .ticks = ticks,
            .decisions = (uint64_t)rc.next_id,
            .samples = samples,
            .metrics = replay_trace_count(t),
            .first_ms = first,
            .last_ms = first + (int64_t)(ticks ? ticks - 1 : 0) * tick_ms,
            .tick_ms = tick_ms,
        };
    result = 0;
done:
    free(rc.derive_series);
    pol_run_free(run);
    pol_engine_free(eng);
    pol_tz_free(tz);
    return result;
}
