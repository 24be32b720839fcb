/*
 * cli — see cli.h. One HTTP GET with libcurl, the answer parsed with cJSON
 * and printed for a person at a terminal.
 */
#include "agent/cli.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/httpc.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "policies/pol_engine.h"

struct cli_target {
    const char *url;
    const char *token;
};

/* Reads --url and --token; other arguments go to rest (at most nrest,
 * NULL if none are allowed). Returns the number of rest arguments, or -1
 * after printing what was wrong. */
static int parse_target_rest(int argc, char **argv, struct cli_target *t, char **rest, int nrest)
{
    int got = 0;
    t->url = getenv("FLOE_URL");
    t->token = getenv("FLOE_TOKEN");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
            t->url = argv[++i];
        else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc)
            t->token = argv[++i];
        else if (got < nrest)
            rest[got++] = argv[i];
        else {
            fprintf(stderr, "floe %s: unknown argument '%s' (expected --url URL, --token T)\n",
                    argv[0], argv[i]);
            return -1;
        }
    }
    if (!t->url || !*t->url)
        t->url = "http://127.0.0.1:8470";
    return got;
}

/* Sends method to path; returns the HTTP status (body in *out, caller
 * frees) or -1 when the agent could not be reached (message printed). */
static long http_request(const struct cli_target *t, const char *method, const char *path,
                         char **out)
{
    *out = NULL;
    char url[1024];
    size_t ulen = strlen(t->url);
    snprintf(url, sizeof url, "%.*s%s", (int)(ulen && t->url[ulen - 1] == '/' ? ulen - 1 : ulen),
             t->url, path);
    struct httpc_req r = {.method = method, .url = url, .bearer = t->token,
                          .timeout_ms = 10000, .max_body = 8u << 20};
    if (httpc_run(&r) < 0) {
        fprintf(stderr, "floe: %s\n", r.error);
        httpc_req_clear(&r);
        return -1;
    }
    *out = r.answer;
    r.answer = NULL;
    return r.status;
}

static long http_get(const struct cli_target *t, const char *path, char **out)
{
    return http_request(t, "GET", path, out);
}

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "?";
}

static double json_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* Prints an API error answer; returns the exit code for it. */
static int report_refusal(long status, const char *body)
{
    cJSON *j = body ? cJSON_Parse(body) : NULL;
    const char *msg = j ? json_str(j, "error") : "no error message";
    fprintf(stderr, "floe: the agent refused (HTTP %ld): %s\n", status, msg);
    cJSON_Delete(j);
    return CLI_EXIT_REFUSED;
}

/* One decision as a line: id, time, policy, kind, status, need, and the
 * last reason (the one that says what happened). */
static void print_decision_line(const cJSON *d)
{
    const cJSON *need = cJSON_GetObjectItemCaseSensitive(d, "need_kw");
    const cJSON *reasons = cJSON_GetObjectItemCaseSensitive(d, "reasons");
    const cJSON *why = cJSON_GetArrayItem(reasons, cJSON_GetArraySize(reasons) - 1);
    char needbuf[32] = "";
    if (cJSON_IsNumber(need))
        snprintf(needbuf, sizeof needbuf, " need %.1f kW", need->valuedouble);
    printf("#%-5.0f %s %-24s %-9s %-17s%s%s%s\n", json_num(d, "id"), json_str(d, "ts"),
           json_str(d, "policy"), json_str(d, "kind"), json_str(d, "status"), needbuf,
           cJSON_IsString(why) ? " — " : "", cJSON_IsString(why) ? why->valuestring : "");
}

/* ---- floe status ----
 *
 * One screen, most important first: the site and whether it accepts work,
 * then each alarm (a policy pending or firing) with its description, its
 * `when` and the current values of what it reads, and its last decision;
 * then each failing device with its error; then each peer site with its
 * spare capacity or why it cannot be used; then the migrations under way
 * (and the latest that ended, if lately); then the headline metrics.
 * Without --all it fits STATUS_ROWS lines of STATUS_COLS columns: what
 * does not fit is summarised in one line, never scrolled away. Times are
 * the site's (the agent's site.timezone), values rounded to what a person
 * reads (22.12, not 22.1200008392334), on/off for a bit. */

#define STATUS_ROWS 23 /* a 24-line terminal, less the line of the next prompt */
#define STATUS_COLS 80
#define LINE_BYTES (STATUS_COLS * 4 + 8)
#define BLOCK_LINES 6

struct screen {
    int rows;     /* lines printed so far */
    int max_rows; /* INT_MAX with --all */
    bool clip;    /* cut lines at STATUS_COLS columns */
};

struct block {
    char line[BLOCK_LINES][LINE_BYTES];
    int n;
};

/* Copies src into dst (LINE_BYTES), control characters (a device's error
 * text, a description) as spaces, cut with "…" past cols columns when
 * cols > 0. Columns are UTF-8 code points. */
static void clip_line(char *dst, const char *src, int cols)
{
    size_t o = 0;
    int col = 0;
    size_t cut = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p && o + 5 < LINE_BYTES; p++) {
        bool starts = (*p & 0xC0) != 0x80;
        if (starts) {
            if (cols > 0 && col == cols - 1)
                cut = o;
            if (cols > 0 && col == cols) {
                memcpy(dst + cut, "…", 4); /* with its NUL */
                return;
            }
            col++;
        }
        dst[o++] = *p < 0x20 || *p == 0x7f ? ' ' : (char)*p;
    }
    while (o > 0 && dst[o - 1] == ' ')
        o--;
    dst[o] = '\0';
}

static int columns(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void block_add(struct block *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void block_add(struct block *b, const char *fmt, ...)
{
    if (b->n == BLOCK_LINES)
        return;
    char raw[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    clip_line(b->line[b->n++], raw, 0);
}

/* Prints a block (lines cut to the screen's width); counts its rows. */
static void screen_put(struct screen *s, const struct block *b)
{
    for (int i = 0; i < b->n; i++) {
        char out[LINE_BYTES];
        clip_line(out, b->line[i], s->clip ? STATUS_COLS : 0);
        puts(out);
        s->rows++;
    }
}

static void screen_line(struct screen *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void screen_line(struct screen *s, const char *fmt, ...)
{
    struct block b = {.n = 1};
    va_list ap;
    va_start(ap, fmt);
    char raw[2048];
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    clip_line(b.line[0], raw, 0);
    screen_put(s, &b);
}

static int screen_left(const struct screen *s)
{
    return s->max_rows - s->rows;
}

/* The site's clock: its zone loaded here, since this client may run on
 * another machine than the agent; UTC when this machine lacks the zone. */
struct site_clock {
    struct pol_tz *tz;
    char zone[64];
    bool zone_known;
    int64_t now_ms;
    struct pol_local now;
};

static void site_clock_init(struct site_clock *sc, const char *zone, int64_t now_ms)
{
    memset(sc, 0, sizeof *sc);
    util_strlcpy(sc->zone, zone && *zone ? zone : "UTC", sizeof sc->zone);
    sc->zone_known = pol_tz_load(sc->zone, &sc->tz, NULL, 0) == 0;
    if (!sc->zone_known)
        pol_tz_load("UTC", &sc->tz, NULL, 0);
    sc->now_ms = now_ms;
    pol_tz_local(sc->tz, now_ms, &sc->now);
}

/* "14:04:31" today (site time), "2026-01-30 14:04" another day, "-"
 * when the API gave no time. */
static void fmt_time(const struct site_clock *sc, const char *rfc3339, char *buf, size_t n)
{
    int64_t ms;
    if (!rfc3339 || util_parse_time_ms(rfc3339, &ms) != 0) {
        snprintf(buf, n, "-");
        return;
    }
    struct pol_local l;
    pol_tz_local(sc->tz, ms, &l);
    if (l.year == sc->now.year && l.month == sc->now.month && l.day == sc->now.day)
        snprintf(buf, n, "%02d:%02d:%02d", l.hour, l.minute, l.second);
    else
        snprintf(buf, n, "%04d-%02d-%02d %02d:%02d", l.year, l.month, l.day, l.hour, l.minute);
}

/* "45s", "2m 10s", "3h 05m", "2d 04h": s seconds (at least 0). */
static void fmt_seconds(long long s, char *buf, size_t n)
{
    if (s < 0)
        s = 0;
    if (s < 60)
        snprintf(buf, n, "%llds", s);
    else if (s < 3600)
        snprintf(buf, n, "%lldm %02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, n, "%lldh %02lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, n, "%lldd %02lldh", s / 86400, s % 86400 / 3600);
}

/* How long ago rfc3339 was, as fmt_seconds; "" when it is no time. */
static void fmt_ago(const struct site_clock *sc, const char *rfc3339, char *buf, size_t n)
{
    int64_t ms;
    buf[0] = '\0';
    if (!rfc3339 || util_parse_time_ms(rfc3339, &ms) != 0)
        return;
    fmt_seconds((sc->now_ms - ms) / 1000, buf, n);
}

/* A value as a person reads it: at most two decimals without trailing
 * zeros (22.12, 310, 0.5), three significant digits below 0.01 or from
 * 1e15; "-" when unknown. */
static void fmt_number(double v, char *buf, size_t n)
{
    double a = fabs(v);
    if (!isfinite(v)) {
        snprintf(buf, n, "-");
        return;
    }
    if (a >= 1e15 || (a > 0 && a < 0.01)) {
        snprintf(buf, n, "%.3g", v);
        return;
    }
    snprintf(buf, n, "%.2f", v);
    char *dot = strchr(buf, '.');
    if (dot) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
    if (strcmp(buf, "-0") == 0)
        snprintf(buf, n, "0");
}

static const cJSON *find_metric(const cJSON *telemetry, const char *name)
{
    if (!name)
        return NULL;
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(telemetry, "metrics"))
    {
        if (strcmp(json_str(m, "name"), name) == 0)
            return m;
    }
    return NULL;
}

/* value (a JSON number or null) as text: on/off when the telemetry entry
 * m says the metric is a bit, else a rounded number. */
static void fmt_value(const cJSON *value, const cJSON *m, char *buf, size_t n)
{
    if (!cJSON_IsNumber(value)) {
        snprintf(buf, n, "-");
        return;
    }
    if (m && strcmp(json_str(m, "type"), "bool") == 0)
        snprintf(buf, n, "%s", value->valuedouble != 0 ? "on" : "off");
    else
        fmt_number(value->valuedouble, buf, n);
}

/* "cooling.capacity_kw 310 kW, it.load_kw 400 kW": the inputs object of
 * a policy, each value with the unit its metric has. */
static void fmt_inputs(const cJSON *inputs, const cJSON *telemetry, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    if (!cJSON_IsObject(inputs)) /* an answer of another shape: show nothing */
        return;
    const cJSON *in;
    cJSON_ArrayForEach(in, inputs)
    {
        const cJSON *m = find_metric(telemetry, in->string);
        char value[48];
        fmt_value(in, m, value, sizeof value);
        const char *unit = m && cJSON_IsNumber(in) ? json_str(m, "unit") : "";
        if (strcmp(unit, "?") == 0 || strcmp(json_str(m, "type"), "bool") == 0)
            unit = "";
        int w = snprintf(buf + used, n - used, "%s%s %s%s%s", used ? ", " : "", in->string,
                         cJSON_IsNumber(in) ? value : "unknown", *unit ? " " : "", unit);
        if (w < 0 || (size_t)w >= n - used)
            return;
        used += (size_t)w;
    }
}

/* The data one status screen is made of; NULL parts were unavailable. */
struct status_view {
    const struct cli_target *t;
    cJSON *status, *policies, *telemetry;
    cJSON *mig_active, *mig_recent; /* the answers the migrations are in */
    const cJSON *migs[64];          /* those shown: under way, then the latest ended */
    int nmigs;
    char mig_error[256]; /* why the migrations are unknown; "" when read */
    struct site_clock clock;
    bool all;
};

static cJSON *get_json(const struct cli_target *t, const char *path)
{
    char *body = NULL;
    cJSON *j = NULL;
    if (http_get(t, path, &body) == 200)
        j = cJSON_Parse(body);
    free(body);
    return j;
}

static bool is_alarm(const cJSON *p)
{
    const char *state = json_str(p, "state");
    return strcmp(state, "firing") == 0 || strcmp(state, "pending") == 0;
}

/* Firing before pending, critical before warning, else as listed. */
static int alarm_rank(const cJSON *p)
{
    return (strcmp(json_str(p, "state"), "firing") == 0 ? 0 : 2) +
           (strcmp(json_str(p, "severity"), "critical") == 0 ? 0 : 1);
}

/* The lines of one alarm: state, name, severity, mode, since; the
 * description; `when` with the current values of what it reads; the
 * policy's last decision. */
static void alarm_block(const struct status_view *v, const cJSON *p, struct block *b)
{
    char since[32], ago[32];
    const cJSON *since_j = cJSON_GetObjectItemCaseSensitive(p, "since");
    const char *since_s = cJSON_IsString(since_j) ? since_j->valuestring : NULL;
    fmt_time(&v->clock, since_s, since, sizeof since);
    fmt_ago(&v->clock, since_s, ago, sizeof ago);
    char state[16];
    snprintf(state, sizeof state, "%s", json_str(p, "state"));
    for (char *c = state; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
    bool unknown = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "unknown"));
    block_add(b, "%-7s %s: %s, %s, since %s%s%s%s%s", state, json_str(p, "name"),
              json_str(p, "severity"), json_str(p, "mode"), since, *ago ? " (" : "", ago,
              *ago ? ")" : "", unknown ? "; inputs unknown, holding" : "");
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(p, "description");
    if (cJSON_IsString(desc) && *desc->valuestring)
        block_add(b, "  %s", desc->valuestring);
    const cJSON *when = cJSON_GetObjectItemCaseSensitive(p, "when");
    if (cJSON_IsString(when)) {
        char inputs[1024];
        fmt_inputs(cJSON_GetObjectItemCaseSensitive(p, "inputs"), v->telemetry, inputs,
                   sizeof inputs);
        char one[1200];
        snprintf(one, sizeof one, "  when %s; now %s", when->valuestring, inputs);
        if (!*inputs) {
            block_add(b, "  when %s", when->valuestring);
        } else if (columns(one) <= STATUS_COLS) {
            block_add(b, "%s", one);
        } else {
            block_add(b, "  when %s", when->valuestring);
            block_add(b, "  now  %s", inputs);
        }
    }
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(p, "last_decision");
    if (!cJSON_IsNumber(last))
        return;
    char path[64];
    snprintf(path, sizeof path, "/v1/decisions/%.0f", last->valuedouble);
    cJSON *d = get_json(v->t, path);
    if (!d) {
        block_add(b, "  decision #%.0f", last->valuedouble);
        return;
    }
    char at[32], need[48] = "";
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(d, "ts");
    fmt_time(&v->clock, cJSON_IsString(ts) ? ts->valuestring : NULL, at, sizeof at);
    const cJSON *need_kw = cJSON_GetObjectItemCaseSensitive(d, "need_kw");
    if (cJSON_IsNumber(need_kw)) {
        char kw[32];
        fmt_number(need_kw->valuedouble, kw, sizeof kw);
        snprintf(need, sizeof need, ", need %s kW", kw);
    }
    const cJSON *reasons = cJSON_GetObjectItemCaseSensitive(d, "reasons");
    const cJSON *why = cJSON_GetArrayItem(reasons, cJSON_GetArraySize(reasons) - 1);
    block_add(b, "  decision #%.0f %s: %s, %s%s%s%s", last->valuedouble, at, json_str(d, "kind"),
              json_str(d, "status"), need, cJSON_IsString(why) ? "; " : "",
              cJSON_IsString(why) ? why->valuestring : "");
    cJSON_Delete(d);
}

/* Two lines: site, version, uptime and site time; whether the site
 * accepts work, device and policy counts. */
static void status_header(struct screen *s, const struct status_view *v)
{
    /* The answer may come from anything listening on the URL: clamp
     * before the integer conversions (a huge or negative uptime is
     * undefined behaviour in a cast). */
    double up = json_num(v->status, "uptime_s");
    if (!(up >= 0))
        up = 0;
    if (up > 1e9)
        up = 1e9;
    long up_s = (long)up;
    const struct pol_local *l = &v->clock.now;
    screen_line(s, "%s  floe %s  up %ldd %02ldh %02ldm  %04d-%02d-%02d %02d:%02d:%02d %s%s",
                json_str(v->status, "site"), json_str(v->status, "version"), up_s / 86400,
                up_s % 86400 / 3600, up_s % 3600 / 60, l->year, l->month, l->day, l->hour,
                l->minute, l->second, v->clock.zone,
                v->clock.zone_known ? "" : " (unknown here: UTC)");
    /* Built in a growing buffer: the counts come from the answer, and
     * screen_line cuts the line to the terminal's width. */
    struct strbuf line = {0};
    const cJSON *accepting = cJSON_GetObjectItemCaseSensitive(v->status, "accepting");
    if (cJSON_IsBool(accepting))
        strbuf_printf(&line, "accepting work: %s | ", cJSON_IsTrue(accepting) ? "yes" : "NO");
    const cJSON *col = cJSON_GetObjectItemCaseSensitive(v->status, "collectors");
    if (cJSON_IsObject(col)) {
        strbuf_printf(&line, "devices %.0f ok", json_num(col, "ok"));
        if (json_num(col, "failing") > 0)
            strbuf_printf(&line, ", %.0f failing", json_num(col, "failing"));
        if (json_num(col, "pending") > 0)
            strbuf_printf(&line, ", %.0f starting", json_num(col, "pending"));
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(v->policies, "policies");
    if (cJSON_IsArray(list)) {
        int firing = 0, pending = 0, ok = 0;
        const cJSON *p;
        cJSON_ArrayForEach(p, list)
        {
            const char *st = json_str(p, "state");
            firing += strcmp(st, "firing") == 0;
            pending += strcmp(st, "pending") == 0;
            ok += strcmp(st, "ok") == 0;
        }
        /* Only the counts that are not 0: the line must fit 80 columns. */
        strbuf_puts(&line, " | policies");
        const char *sep = " ";
        const int counts[] = {firing, pending, ok};
        const char *words[] = {"firing", "pending", "ok"};
        for (size_t i = 0; i < ARRAY_LEN(counts); i++) {
            if (counts[i]) {
                strbuf_printf(&line, "%s%d %s", sep, counts[i], words[i]);
                sep = ", ";
            }
        }
        if (firing + pending + ok == 0)
            strbuf_puts(&line, " none");
    }
    char *text = strbuf_take(&line);
    screen_line(s, "%s", text ? text : "");
    free(text);
}

/* The alarms, as many as fit above `reserve` rows; the rest in one line. */
static void status_alarms(struct screen *s, const struct status_view *v, int reserve)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(v->policies, "policies");
    int n = cJSON_GetArraySize(list), nalarms = 0;
    const cJSON **alarms = calloc(n ? (size_t)n : 1, sizeof *alarms);
    if (!alarms)
        return;
    const cJSON *p;
    cJSON_ArrayForEach(p, list)
    {
        if (is_alarm(p))
            alarms[nalarms++] = p;
    }
    /* Insertion sort: stable, and a site has a handful of alarms. */
    for (int i = 1; i < nalarms; i++)
        for (int j = i; j > 0 && alarm_rank(alarms[j]) < alarm_rank(alarms[j - 1]); j--) {
            const cJSON *tmp = alarms[j];
            alarms[j] = alarms[j - 1];
            alarms[j - 1] = tmp;
        }
    if (nalarms > 0)
        screen_line(s, "%s", "");
    for (int i = 0; i < nalarms; i++) {
        struct block b = {0};
        alarm_block(v, alarms[i], &b);
        int after = i + 1 < nalarms ? 1 : 0; /* the "more alarms" line */
        if (b.n + after > screen_left(s) - reserve) {
            char names[1024] = "";
            size_t used = 0;
            for (int j = i; j < nalarms && used < sizeof names; j++)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                         j > i ? ", " : "", json_str(alarms[j], "name"));
            screen_line(s, "and %d more alarm%s: %s", nalarms - i, nalarms - i == 1 ? "" : "s",
                        names);
            break;
        }
        screen_put(s, &b);
    }
    /* Policies that are not alarming but cannot tell: they hold their
     * state until their inputs are known again (a failing device, most
     * likely; it is listed below). */
    char names[1024] = "";
    size_t used = 0;
    int nunknown = 0;
    cJSON_ArrayForEach(p, list)
    {
        if (!is_alarm(p) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "unknown")) &&
            used < sizeof names) {
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                     nunknown ? ", " : "", json_str(p, "name"));
            nunknown++;
        }
    }
    if (nunknown && screen_left(s) > reserve)
        screen_line(s, "UNKNOWN %s: input%s missing, stale or in error; holding state", names,
                    nunknown == 1 ? "" : "s");
    free(alarms);
}

/* "head: reason" on one line, or on two when that would be cut. */
static void add_with_reason(struct block *b, bool clip, const char *head, const char *reason)
{
    char one[1024];
    snprintf(one, sizeof one, "%s: %s", head, reason);
    if (!clip || columns(one) <= STATUS_COLS) {
        block_add(b, "%s", one);
    } else {
        block_add(b, "%s", head);
        block_add(b, "  %s", reason);
    }
}

static void down_block(const struct status_view *v, const cJSON *d, bool clip, struct block *b)
{
    char since[32], ago[32], head[256];
    const cJSON *since_j = cJSON_GetObjectItemCaseSensitive(d, "since");
    const char *since_s = cJSON_IsString(since_j) ? since_j->valuestring : NULL;
    fmt_time(&v->clock, since_s, since, sizeof since);
    fmt_ago(&v->clock, since_s, ago, sizeof ago);
    snprintf(head, sizeof head, "DOWN    %s (%s) since %s (%s)", json_str(d, "device"),
             json_str(d, "protocol"), since, ago);
    add_with_reason(b, clip, head, json_str(d, "error"));
}

/* A metric in error although its device answers (a point the device
 * does not have, a value it cannot decode); a failing device's metrics
 * and derived metrics (in error when an input is) are told by the DOWN
 * line and the alarms. */
static bool point_error(const cJSON *m, const cJSON *down)
{
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(m, "error");
    const char *source = json_str(m, "source");
    if (!cJSON_IsString(error) || strcmp(source, "derive") == 0)
        return false;
    const cJSON *d;
    cJSON_ArrayForEach(d, down)
    {
        if (strcmp(json_str(d, "device"), source) == 0)
            return false;
    }
    return true;
}

static const cJSON *failing_devices(const struct status_view *v)
{
    const cJSON *col = cJSON_GetObjectItemCaseSensitive(v->status, "collectors");
    return cJSON_GetObjectItemCaseSensitive(col, "failing_devices");
}

/* Failing devices and points in error. */
static int failure_count(const struct status_view *v)
{
    const cJSON *down = failing_devices(v);
    int n = cJSON_GetArraySize(down);
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(v->telemetry, "metrics"))
    {
        n += point_error(m, down);
    }
    return n;
}

/* Failing devices, then points in error, each with why, as many as fit
 * above `reserve` rows; the rest counted in one line. */
static void status_devices(struct screen *s, const struct status_view *v, int reserve)
{
    const cJSON *down = failing_devices(v);
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(v->telemetry, "metrics");
    int n = failure_count(v);
    if (n == 0)
        return;
    screen_line(s, "%s", "");
    const cJSON *d = down ? down->child : NULL;
    const cJSON *m = metrics ? metrics->child : NULL;
    for (int i = 0; i < n; i++) {
        struct block b = {0};
        if (d) {
            down_block(v, d, s->clip, &b);
            d = d->next;
        } else {
            while (!point_error(m, down))
                m = m->next;
            char head[256];
            snprintf(head, sizeof head, "ERROR   %s (%s)", json_str(m, "name"),
                     json_str(m, "source"));
            add_with_reason(&b, s->clip, head, json_str(m, "error"));
            m = m->next;
        }
        int after = i + 1 < n ? 1 : 0;
        if (b.n + after > screen_left(s) - reserve) {
            screen_line(s, "and %d more failing device%s or point%s", n - i, n - i == 1 ? "" : "s",
                        n - i == 1 ? "" : "s");
            return;
        }
        screen_put(s, &b);
    }
}

/* ---- peers: one line each, as the agent's watcher last saw them ---- */

static const cJSON *peer_list(const struct status_view *v)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(v->status, "peers");
    return cJSON_IsArray(list) ? list : NULL;
}

/* "PEER    falkenberg-1   12s ago  120 kW spare, accepting", or the
 * state in capitals and why ("UNREACHABLE no answer within 5000 ms"), or
 * "not asked yet". Tagged like the DOWN and ERROR lines, so the section
 * needs no title row. */
static void peer_line(struct screen *s, const cJSON *p, int width)
{
    char ago[40] = "-";
    const cJSON *age = cJSON_GetObjectItemCaseSensitive(p, "age_s");
    /* from the answer: clamp before the integer conversion */
    if (cJSON_IsNumber(age) && age->valuedouble >= 0) {
        char d[32];
        fmt_seconds((long long)fmin(age->valuedouble, 1e9), d, sizeof d);
        snprintf(ago, sizeof ago, "%s ago", d);
    }
    const char *name = json_str(p, "name");
    const char *state = json_str(p, "state");
    if (strcmp(state, "ok") == 0) {
        char kw[32];
        const cJSON *spare = cJSON_GetObjectItemCaseSensitive(p, "spare_kw");
        fmt_number(cJSON_IsNumber(spare) ? spare->valuedouble : NAN, kw, sizeof kw);
        bool accepting = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "accepting"));
        screen_line(s, "PEER    %-*s %9s  %s kW spare, %s", width, name, ago, kw,
                    accepting ? "accepting" : "NOT accepting");
        return;
    }
    if (strcmp(state, "pending") == 0) {
        screen_line(s, "PEER    %-*s %9s  not asked yet", width, name, "-");
        return;
    }
    /* The error starts with the state's own words ("garbage answer: "):
     * the capitals say it once. */
    const char *error = json_str(p, "error");
    static const char *const prefixes[] = {"unreachable: ", "refused: ", "garbage answer: "};
    for (size_t i = 0; i < ARRAY_LEN(prefixes); i++)
        if (strncmp(error, prefixes[i], strlen(prefixes[i])) == 0)
            error += strlen(prefixes[i]);
    /* On the screen the peer's name stands for its URL ("URL: what
     * failed" from the client): the room goes to what failed. --all
     * shows it whole. */
    if (s->clip && (strncmp(error, "http://", 7) == 0 || strncmp(error, "https://", 8) == 0)) {
        const char *after = strstr(error, ": ");
        if (after)
            error = after + 2;
    }
    char upper[16];
    snprintf(upper, sizeof upper, "%s", state);
    for (char *c = upper; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
    screen_line(s, "PEER    %-*s %9s  %s %s", width, name, ago, upper, error);
}

/* The peers listed as objects (anything else in the list is skipped). */
static int peer_count(const struct status_view *v)
{
    int n = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, peer_list(v))
    {
        n += cJSON_IsObject(p);
    }
    return n;
}

/* Rows the peers need at least: a blank, one peer and the "more" line. */
static int peer_rows_min(const struct status_view *v)
{
    int n = peer_count(v);
    return n == 0 ? 0 : 2 + (n > 1);
}

/* The peers, as many as fit above `reserve` rows; the rest in one line
 * that says how many of them are not usable. */
static void status_peers(struct screen *s, const struct status_view *v, int reserve)
{
    const cJSON *list = peer_list(v);
    int n = peer_count(v);
    if (n == 0)
        return;
    int width = 8;
    const cJSON *p;
    cJSON_ArrayForEach(p, list)
    {
        int w = cJSON_IsObject(p) ? columns(json_str(p, "name")) : 0;
        width = w > width ? (w < 24 ? w : 24) : width;
    }
    screen_line(s, "%s", "");
    int i = 0;
    cJSON_ArrayForEach(p, list)
    {
        if (!cJSON_IsObject(p))
            continue;
        int after = i + 1 < n ? 1 : 0;
        if (1 + after > screen_left(s) - reserve) {
            int unusable = 0;
            for (const cJSON *q = p; q; q = q->next)
                unusable += cJSON_IsObject(q) && strcmp(json_str(q, "state"), "ok") != 0;
            screen_line(s, "and %d more peer%s, %d of them not answering usably", n - i,
                        n - i == 1 ? "" : "s", unusable);
            return;
        }
        peer_line(s, p, width);
        i++;
    }
}

/* ---- migrations: those under way, then the latest that ended ---- */

/* An ended migration is shown this long after it ended: the night's
 * last move (or rollback) is still on the screen in the morning. */
#define MIG_RECENT_S (12 * 3600)

/* GET path, a {"migrations": [...]} answer; NULL with why in v->mig_error
 * (an agent from before step 6 has no /v1/migrations: 404). */
static cJSON *get_migrations(struct status_view *v, const char *path)
{
    char *body = NULL;
    long status = http_get(v->t, path, &body);
    cJSON *j = status == 200 && body ? cJSON_Parse(body) : NULL;
    if (status < 0) {
        snprintf(v->mig_error, sizeof v->mig_error, "unknown: the agent did not answer");
    } else if (status == 404) {
        snprintf(v->mig_error, sizeof v->mig_error,
                 "not shown: this agent has no /v1/migrations (HTTP 404)");
    } else if (status != 200) {
        cJSON *e = body ? cJSON_Parse(body) : NULL;
        snprintf(v->mig_error, sizeof v->mig_error, "unknown (HTTP %ld): %s",
                 status, e ? json_str(e, "error") : "no error message");
        cJSON_Delete(e);
    } else if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "migrations"))) {
        snprintf(v->mig_error, sizeof v->mig_error,
                 "unknown: /v1/migrations answered no migrations list");
        cJSON_Delete(j);
        j = NULL;
    }
    free(body);
    return j;
}

static bool mig_ended(const cJSON *m)
{
    return cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "result"));
}

/* Reads those under way (result null) and, among the newest others, the
 * one that ended last if it ended within MIG_RECENT_S. The newest
 * nactive + 10 hold at least 10 ended ones when there are: enough to
 * find the latest, as migrations end about in the order they start. */
static void load_migrations(struct status_view *v)
{
    v->mig_active = get_migrations(v, "/v1/migrations?active=true&limit=1000");
    if (!v->mig_active)
        return;
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(v->mig_active, "migrations"))
    {
        if (cJSON_IsObject(m) && !mig_ended(m) && v->nmigs < (int)ARRAY_LEN(v->migs) - 1)
            v->migs[v->nmigs++] = m;
    }
    char path[64];
    snprintf(path, sizeof path, "/v1/migrations?limit=%d", v->nmigs + 10);
    v->mig_recent = get_migrations(v, path);
    if (!v->mig_recent) { /* the ones under way are still worth showing */
        v->mig_error[0] = '\0';
        return;
    }
    const cJSON *latest = NULL;
    int64_t latest_ms = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(v->mig_recent, "migrations"))
    {
        const cJSON *ended = cJSON_GetObjectItemCaseSensitive(m, "ended");
        int64_t ms;
        if (cJSON_IsObject(m) && mig_ended(m) && cJSON_IsString(ended) &&
            util_parse_time_ms(ended->valuestring, &ms) == 0 && (!latest || ms > latest_ms)) {
            latest = m;
            latest_ms = ms;
        }
    }
    if (latest && v->clock.now_ms - latest_ms <= (int64_t)MIG_RECENT_S * 1000)
        v->migs[v->nmigs++] = latest;
}

/* Rows the migrations need at least: a blank, the title, one and the
 * "more" line; a blank and the line that says why they are unknown. */
static int mig_rows_min(const struct status_view *v)
{
    if (v->mig_error[0])
        return 2;
    return v->nmigs == 0 ? 0 : 3 + (v->nmigs > 1);
}

/* "  #7 ledger lulea-1 -> falkenberg-1  delta  2m 10s" (since it
 * started), its problem after a colon; one that ended says how and how
 * long ago. */
static void mig_line(struct screen *s, const struct status_view *v, const cJSON *m)
{
    char id[32] = "?";
    const cJSON *id_j = cJSON_GetObjectItemCaseSensitive(m, "id");
    /* from the answer: only a whole number a person can read */
    if (cJSON_IsNumber(id_j) && id_j->valuedouble >= 0 && id_j->valuedouble < 1e15)
        snprintf(id, sizeof id, "%.0f", id_j->valuedouble);
    const char *phase = json_str(m, "phase");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(m, "error");
    const char *why = cJSON_IsString(error) ? error->valuestring : "";
    char ago[32];
    if (mig_ended(m)) {
        const cJSON *ended = cJSON_GetObjectItemCaseSensitive(m, "ended");
        fmt_ago(&v->clock, cJSON_IsString(ended) ? ended->valuestring : NULL, ago, sizeof ago);
        const char *result = json_str(m, "result");
        bool done = strcmp(result, "done") == 0;
        screen_line(s, "  #%s %s %s -> %s  ended %s %s ago%s%s", id, json_str(m, "workload"),
                    json_str(m, "from"), json_str(m, "to"),
                    done ? "done" : strcmp(result, "rolled-back") == 0 ? "ROLLED BACK" : result,
                    ago, !done && *why ? ": " : "", !done ? why : "");
        return;
    }
    const cJSON *started = cJSON_GetObjectItemCaseSensitive(m, "started");
    fmt_ago(&v->clock, cJSON_IsString(started) ? started->valuestring : NULL, ago, sizeof ago);
    screen_line(s, "  #%s %s %s -> %s  %s  %s%s%s", id, json_str(m, "workload"),
                json_str(m, "from"), json_str(m, "to"),
                strcmp(phase, "rolling-back") == 0 ? "ROLLING BACK" : phase, *ago ? ago : "-",
                *why ? ": " : "", why);
}

/* The migrations, as many as fit above `reserve` rows; the rest counted
 * in one line. Nothing when none runs or ended lately. */
static void status_migrations(struct screen *s, const struct status_view *v, int reserve)
{
    if (v->mig_error[0]) {
        screen_line(s, "%s", "");
        screen_line(s, "migrations: %s", v->mig_error);
        return;
    }
    if (v->nmigs == 0)
        return;
    screen_line(s, "%s", "");
    screen_line(s, "migrations (details: floe migrations ID):");
    for (int i = 0; i < v->nmigs; i++) {
        int after = i + 1 < v->nmigs ? 1 : 0;
        if (1 + after > screen_left(s) - reserve) {
            int under_way = 0;
            for (int j = i; j < v->nmigs; j++)
                under_way += !mig_ended(v->migs[j]);
            if (under_way == v->nmigs - i)
                screen_line(s, "  and %d more under way (floe migrations)", under_way);
            else
                screen_line(s, "  and %d more, %d of them under way (floe migrations)",
                            v->nmigs - i, under_way);
            return;
        }
        mig_line(s, v, v->migs[i]);
    }
}

/* The headline metrics: the derived ones (the site-level sums the
 * engineer chose to compute), then what the policies read, each once. */
static int headline_metrics(const struct status_view *v, const cJSON **out, int max)
{
    int n = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(v->telemetry, "metrics"))
    {
        if (n < max && strcmp(json_str(m, "source"), "derive") == 0)
            out[n++] = m;
    }
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(v->policies, "policies"))
    {
        const cJSON *in, *inputs = cJSON_GetObjectItemCaseSensitive(p, "inputs");
        if (!cJSON_IsObject(inputs))
            continue;
        cJSON_ArrayForEach(in, inputs)
        {
            const cJSON *found = find_metric(v->telemetry, in->string);
            bool seen = !found;
            for (int i = 0; i < n && !seen; i++)
                seen = out[i] == found;
            if (!seen && n < max)
                out[n++] = found;
        }
    }
    return n;
}

static void metric_line(struct screen *s, const cJSON *m, int width, bool full)
{
    char value[48], age[32] = "-";
    fmt_value(cJSON_GetObjectItemCaseSensitive(m, "value"), m, value, sizeof value);
    bool is_bool = strcmp(json_str(m, "type"), "bool") == 0;
    const char *unit = is_bool ? "" : json_str(m, "unit");
    const char *quality = json_str(m, "quality");
    const cJSON *age_j = cJSON_GetObjectItemCaseSensitive(m, "age_s");
    if (cJSON_IsNumber(age_j))
        snprintf(age, sizeof age, "%.0fs", age_j->valuedouble);
    if (full)
        screen_line(s, "%-*s %12s %-6s %-7s %6s %s", width, json_str(m, "name"), value, unit,
                    quality, age, json_str(m, "source"));
    else if (strcmp(quality, "good") == 0)
        screen_line(s, "  %-*s %10s %s", width, json_str(m, "name"), value, unit);
    else
        screen_line(s, "  %-*s %10s %-4s %s, last good %s ago", width, json_str(m, "name"), value,
                    unit, quality, age);
}

static void status_metrics(struct screen *s, const struct status_view *v)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(v->telemetry, "metrics");
    int total = cJSON_GetArraySize(list);
    if (!v->telemetry)
        return;
    screen_line(s, "%s", "");
    if (v->all) {
        int width = 6;
        const cJSON *m;
        cJSON_ArrayForEach(m, list)
        {
            int w = columns(json_str(m, "name"));
            width = w > width ? w : width;
        }
        screen_line(s, "%-*s %12s %-6s %-7s %6s %s", width, "metric", "value", "unit", "quality",
                    "age", "source");
        cJSON_ArrayForEach(m, list)
            metric_line(s, m, width, true);
        return;
    }
    const cJSON *head[64];
    int n = headline_metrics(v, head, (int)ARRAY_LEN(head));
    int room = screen_left(s) - 2; /* the title above, the hint below */
    if (n > room)
        n = room > 0 ? room : 0;
    if (n > 0) {
        int width = 20;
        for (int i = 0; i < n; i++) {
            int w = columns(json_str(head[i], "name"));
            width = w > width ? (w < 44 ? w : 44) : width;
        }
        screen_line(s, "%s", "derived metrics and what the policies read:");
        for (int i = 0; i < n; i++)
            metric_line(s, head[i], width, false);
    }
    screen_line(s, "floe status --all: all %d metrics; floe decisions: the decision log", total);
}

int cli_status(int argc, char **argv)
{
    struct cli_target t;
    char *rest[1];
    int nrest = parse_target_rest(argc, argv, &t, rest, 1);
    if (nrest < 0)
        return CLI_EXIT_REFUSED;
    bool all = nrest == 1 && strcmp(rest[0], "--all") == 0;
    if (nrest == 1 && !all) {
        fprintf(stderr,
                "floe status: unknown argument '%s' (expected --all, --url URL, --token T)\n",
                rest[0]);
        return CLI_EXIT_REFUSED;
    }
    char *body = NULL;
    long status = http_get(&t, "/v1/status", &body);
    if (status < 0)
        return CLI_EXIT_UNREACHABLE;
    if (status != 200) {
        int rc = report_refusal(status, body);
        free(body);
        return rc;
    }
    struct status_view v = {.t = &t, .all = all, .status = cJSON_Parse(body)};
    free(body);
    if (!cJSON_IsObject(v.status)) {
        fprintf(stderr, "floe: %s/v1/status: answer is not a JSON object\n", t.url);
        cJSON_Delete(v.status);
        return CLI_EXIT_UNREACHABLE;
    }
    const cJSON *zone = cJSON_GetObjectItemCaseSensitive(v.status, "timezone");
    site_clock_init(&v.clock, cJSON_IsString(zone) ? zone->valuestring : "UTC", util_now_ms());
    v.policies = get_json(&t, "/v1/policies");
    v.telemetry = get_json(&t, "/v1/telemetry");
    load_migrations(&v);

    struct screen s = {.max_rows = all ? INT_MAX : STATUS_ROWS, .clip = !all};
    int nfail = failure_count(&v);
    /* Rows kept below the alarms: a blank, one failure (two lines) and the
     * "more" line; below the failures, the peers' least; below the peers,
     * the migrations' least; below the migrations, the metrics' blank and
     * hint. */
    int below_migrations = v.telemetry ? 2 : 0;
    int below_peers = below_migrations + mig_rows_min(&v);
    int below_devices = below_peers + peer_rows_min(&v);
    int below_alarms = below_devices + (nfail ? 3 + (nfail > 1) : 0);
    status_header(&s, &v);
    status_alarms(&s, &v, all ? 0 : below_alarms);
    status_devices(&s, &v, all ? 0 : below_devices);
    status_peers(&s, &v, all ? 0 : below_peers);
    status_migrations(&s, &v, all ? 0 : below_migrations);
    status_metrics(&s, &v);

    pol_tz_free(v.clock.tz);
    cJSON_Delete(v.status);
    cJSON_Delete(v.policies);
    cJSON_Delete(v.telemetry);
    cJSON_Delete(v.mig_active);
    cJSON_Delete(v.mig_recent);
    return CLI_EXIT_OK;
}

/* One line per decision, newest first. */
/* A number for a person: "40", "12.5", "-" when unknown. */
static void fmt_kw(const cJSON *v, char *buf, size_t n)
{
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
        snprintf(buf, n, "%.4g", v->valuedouble);
    else
        snprintf(buf, n, "-");
}

/* Under a decision's line: where each chosen workload goes, one line per
 * peer ("    -> falkenberg-1: shop 40 kW, web 12 kW"). */
static void print_decision_moves(const cJSON *d)
{
    const cJSON *peers = cJSON_GetObjectItemCaseSensitive(d, "peers");
    const cJSON *wls = cJSON_GetObjectItemCaseSensitive(d, "workloads");
    const cJSON *p;
    cJSON_ArrayForEach(p, peers) {
        const char *peer = json_str(p, "name");
        struct strbuf line = {0};
        const cJSON *w;
        cJSON_ArrayForEach(w, wls) {
            const cJSON *to = cJSON_GetObjectItemCaseSensitive(w, "to");
            if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "chosen")) ||
                !cJSON_IsString(to) || strcmp(to->valuestring, peer) != 0)
                continue;
            char kw[32];
            fmt_kw(cJSON_GetObjectItemCaseSensitive(w, "power_kw"), kw, sizeof kw);
            strbuf_printf(&line, "%s%s %s kW", line.len ? ", " : "", json_str(w, "name"), kw);
        }
        char *text = strbuf_take(&line);
        if (text && *text)
            printf("        -> %s: %s\n", peer, text);
        free(text);
    }
}

/* One decision in full: what it read, every workload and peer considered
 * with why it was taken or left, and its reasons. */
static void print_decision_detail(const cJSON *d)
{
    print_decision_line(d);
    char a[32], b[32];
    fmt_kw(cJSON_GetObjectItemCaseSensitive(d, "need_kw"), a, sizeof a);
    fmt_kw(cJSON_GetObjectItemCaseSensitive(d, "placed_kw"), b, sizeof b);
    printf("  need %s kW, placed %s kW\n", a, b);
    const cJSON *rb = cJSON_GetObjectItemCaseSensitive(d, "rebalance");
    if (cJSON_IsObject(rb)) {
        const cJSON *started = cJSON_GetObjectItemCaseSensitive(rb, "started_in_window");
        char count[32] = "-";
        if (cJSON_IsNumber(started))
            snprintf(count, sizeof count, "%.0f", started->valuedouble);
        fmt_kw(cJSON_GetObjectItemCaseSensitive(rb, "site_spare_kw"), a, sizeof a);
        fmt_kw(cJSON_GetObjectItemCaseSensitive(rb, "min_gain_kw"), b, sizeof b);
        printf("  rebalance: window %s .. %s, %s of max_migrations %.0f started before; "
               "min_gain_kw %s, min_residency %.0f s; this site's spare %s kW\n",
               json_str(rb, "window_start"), json_str(rb, "window_end"), count,
               json_num(rb, "max_migrations"), b, json_num(rb, "min_residency_s"), a);
    }
    const cJSON *e;
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(d, "inputs");
    if (cJSON_GetArraySize(inputs) > 0)
        printf("  inputs:\n");
    cJSON_ArrayForEach(e, inputs) {
        fmt_kw(cJSON_GetObjectItemCaseSensitive(e, "value"), a, sizeof a);
        printf("    %-40s %s\n", json_str(e, "name"), a);
    }
    const cJSON *wls = cJSON_GetObjectItemCaseSensitive(d, "workloads");
    if (cJSON_GetArraySize(wls) > 0)
        printf("  workloads (* = moves):\n");
    cJSON_ArrayForEach(e, wls) {
        const cJSON *to = cJSON_GetObjectItemCaseSensitive(e, "to");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "downtime_s");
        char down[32] = "-";
        if (cJSON_IsNumber(dt) && isfinite(dt->valuedouble))
            snprintf(down, sizeof down, "%.0f min", dt->valuedouble / 60);
        fmt_kw(cJSON_GetObjectItemCaseSensitive(e, "power_kw"), a, sizeof a);
        /* A rebalance names each guest's home. */
        const cJSON *home = cJSON_GetObjectItemCaseSensitive(e, "home_site");
        char guest[96] = "";
        if (cJSON_IsString(home))
            snprintf(guest, sizeof guest, "%s(home %.64s)", cJSON_IsString(to) ? " " : "",
                     home->valuestring);
        printf("    %s %-20s %7s kW  prio %-4.0f down %-8s %s%s%s — %s\n",
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "chosen")) ? "*" : " ",
               json_str(e, "name"), a, json_num(e, "priority"), down,
               cJSON_IsString(to) ? "-> " : "", cJSON_IsString(to) ? to->valuestring : "", guest,
               json_str(e, "reason"));
    }
    const cJSON *peers = cJSON_GetObjectItemCaseSensitive(d, "peers");
    if (cJSON_GetArraySize(peers) > 0)
        printf("  peers:\n");
    cJSON_ArrayForEach(e, peers) {
        fmt_kw(cJSON_GetObjectItemCaseSensitive(e, "spare_kw"), a, sizeof a);
        fmt_kw(cJSON_GetObjectItemCaseSensitive(e, "reserved_kw"), b, sizeof b);
        printf("    %-20s spare %7s kW  reserved %7s kW  %s — %s\n", json_str(e, "name"), a, b,
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "accepting")) ? "accepting"
                                                                            : "not accepting",
               json_str(e, "reason"));
    }
    const cJSON *reasons = cJSON_GetObjectItemCaseSensitive(d, "reasons");
    if (cJSON_GetArraySize(reasons) > 0)
        printf("  reasons:\n");
    cJSON_ArrayForEach(e, reasons)
        if (cJSON_IsString(e))
            printf("    %s\n", e->valuestring);
}

int cli_decisions(int argc, char **argv)
{
    struct cli_target t;
    char *rest[1];
    int nrest = parse_target_rest(argc, argv, &t, rest, 1);
    if (nrest < 0)
        return CLI_EXIT_REFUSED;
    char path[64] = "/v1/decisions?limit=50";
    if (nrest == 1) {
        char *end;
        long long id = strtoll(rest[0], &end, 10);
        if (*end || id < 1) {
            fprintf(stderr, "floe decisions: '%s' is not a decision id\n", rest[0]);
            return CLI_EXIT_REFUSED;
        }
        snprintf(path, sizeof path, "/v1/decisions/%lld", id);
    }
    char *body = NULL;
    long status = http_get(&t, path, &body);
    if (status < 0)
        return CLI_EXIT_UNREACHABLE;
    if (status != 200) {
        int rc = report_refusal(status, body);
        free(body);
        return rc;
    }
    cJSON *j = cJSON_Parse(body);
    free(body);
    int rc = CLI_EXIT_OK;
    if (nrest == 1) {
        if (!cJSON_IsObject(j)) {
            fprintf(stderr, "floe: %s%s: answer is not a decision\n", t.url, path);
            rc = CLI_EXIT_UNREACHABLE;
        } else {
            print_decision_detail(j);
        }
        cJSON_Delete(j);
        return rc;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "decisions");
    if (!cJSON_IsArray(list)) {
        fprintf(stderr, "floe: %s/v1/decisions: answer has no decisions list\n", t.url);
        rc = CLI_EXIT_UNREACHABLE;
    } else if (cJSON_GetArraySize(list) == 0) {
        /* Silence would look like a hung or broken command. */
        printf("no decisions recorded\n");
    }
    const cJSON *d;
    cJSON_ArrayForEach(d, list) {
        print_decision_line(d);
        print_decision_moves(d);
    }
    cJSON_Delete(j);
    return rc;
}

/* POST /v1/decisions/{id}/approve or /reject. */
static int answer(int argc, char **argv, const char *verb)
{
    struct cli_target t;
    char *rest[1];
    int n = parse_target_rest(argc, argv, &t, rest, 1);
    if (n != 1) {
        if (n == 0)
            fprintf(stderr, "usage: floe %s ID [--url URL] [--token T]\n", verb);
        return CLI_EXIT_REFUSED;
    }
    char *end;
    long long id = strtoll(rest[0], &end, 10);
    if (*end || id < 1) {
        fprintf(stderr, "floe %s: '%s' is not a decision id\n", verb, rest[0]);
        return CLI_EXIT_REFUSED;
    }
    char path[96];
    snprintf(path, sizeof path, "/v1/decisions/%lld/%s", id, verb);
    char *body = NULL;
    long status = http_request(&t, "POST", path, &body);
    if (status < 0)
        return CLI_EXIT_UNREACHABLE;
    int rc = CLI_EXIT_OK;
    if (status != 200) {
        rc = report_refusal(status, body);
    } else {
        cJSON *d = cJSON_Parse(body);
        printf("decision %lld (%s): %s\n", id, json_str(d, "policy"), json_str(d, "status"));
        cJSON_Delete(d);
    }
    free(body);
    return rc;
}

int cli_approve(int argc, char **argv)
{
    return answer(argc, argv, "approve");
}

int cli_reject(int argc, char **argv)
{
    return answer(argc, argv, "reject");
}

/* ---- floe migrations, floe abort ---- */

/* "4m10s": seconds for a person; "-" when unknown. */
static void fmt_secs(const cJSON *v, char *buf, size_t n)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0) {
        snprintf(buf, n, "-");
        return;
    }
    long long t = llround(v->valuedouble);
    if (t >= 3600)
        snprintf(buf, n, "%lldh%02lldm", t / 3600, t % 3600 / 60);
    else if (t >= 60)
        snprintf(buf, n, "%lldm%02llds", t / 60, t % 60);
    else
        snprintf(buf, n, "%llds", t);
}

/* One migration as a line: id, start, what goes where, phase, downtime
 * (measured, else estimated), and its last event. */
static void print_migration_line(const cJSON *m)
{
    char down[32], est[32];
    fmt_secs(cJSON_GetObjectItemCaseSensitive(m, "downtime_s"), down, sizeof down);
    fmt_secs(cJSON_GetObjectItemCaseSensitive(m, "estimated_downtime_s"), est, sizeof est);
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(m, "events");
    const cJSON *last = cJSON_GetArrayItem(events, cJSON_GetArraySize(events) - 1);
    char what[160];
    snprintf(what, sizeof what, "%s → %s", json_str(m, "workload"), json_str(m, "to"));
    printf("#%-5.0f %s %-28s %-12s down %s (est. %s)%s%s\n", json_num(m, "id"),
           json_str(m, "started"), what, json_str(m, "phase"), down, est, last ? " — " : "",
           last ? json_str(last, "detail") : "");
}

/* One migration in full, with every event. */
static void print_migration_detail(const cJSON *m)
{
    print_migration_line(m);
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(m, "decision_id");
    char decision[32] = "manual";
    if (cJSON_IsNumber(dec))
        snprintf(decision, sizeof decision, "decision #%.0f", dec->valuedouble);
    char kw[32], gb[32];
    fmt_kw(cJSON_GetObjectItemCaseSensitive(m, "kw"), kw, sizeof kw);
    fmt_kw(cJSON_GetObjectItemCaseSensitive(m, "data_gb"), gb, sizeof gb);
    printf("  %s, namespace %s, %s kW, %s GB of data, %s\n",
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "stateless")) ? "stateless"
                                                                          : "stateful",
           json_str(m, "namespace"), kw, gb, decision);
    printf("  reservation %s at %s", json_str(m, "reservation"), json_str(m, "to"));
    const cJSON *imp = cJSON_GetObjectItemCaseSensitive(m, "import");
    const cJSON *bk = cJSON_GetObjectItemCaseSensitive(m, "backup");
    if (cJSON_IsString(bk))
        printf(", last backup %s", bk->valuestring);
    if (cJSON_IsString(imp))
        printf(", import %s", imp->valuestring);
    printf("\n");
    const cJSON *reps = cJSON_GetObjectItemCaseSensitive(m, "replicas");
    if (cJSON_IsObject(reps)) {
        printf("  replicas recorded:");
        const cJSON *r;
        cJSON_ArrayForEach(r, reps) {
            printf(" %s=%.0f", r->string, cJSON_IsNumber(r) ? r->valuedouble : -1);
        }
        printf("\n");
    }
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(m, "phase_s");
    static const char *const phases[] = {"precopy", "delta", "switchover", "restoring", "cutover"};
    printf("  time per phase:");
    for (size_t i = 0; i < sizeof phases / sizeof *phases; i++) {
        char t[32];
        fmt_secs(cJSON_GetObjectItemCaseSensitive(ps, phases[i]), t, sizeof t);
        printf(" %s %s", phases[i], t);
    }
    printf("; %.1f GB moved\n", json_num(m, "bytes") / 1e9);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(m, "error");
    if (cJSON_IsString(err))
        printf("  %s: %s\n",
               cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "result")) ? "why" : "problem",
               err->valuestring);
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(m, "events");
    if (cJSON_GetArraySize(events) > 0)
        printf("  events:\n");
    const cJSON *e;
    cJSON_ArrayForEach(e, events) {
        printf("    %s %-12s %s\n", json_str(e, "ts"), json_str(e, "phase"), json_str(e, "detail"));
    }
}

/* Reads a migration id argument; -1 after printing why it is not one. */
static long long migration_arg(const char *cmd, const char *arg)
{
    char *end;
    long long id = strtoll(arg, &end, 10);
    if (*end || id < 1) {
        fprintf(stderr, "floe %s: '%s' is not a migration id\n", cmd, arg);
        return -1;
    }
    return id;
}

int cli_migrations(int argc, char **argv)
{
    struct cli_target t;
    char *rest[1];
    int nrest = parse_target_rest(argc, argv, &t, rest, 1);
    if (nrest < 0)
        return CLI_EXIT_REFUSED;
    char path[64] = "/v1/migrations?limit=50";
    if (nrest == 1) {
        long long id = migration_arg("migrations", rest[0]);
        if (id < 0)
            return CLI_EXIT_REFUSED;
        snprintf(path, sizeof path, "/v1/migrations/%lld", id);
    }
    char *body = NULL;
    long status = http_get(&t, path, &body);
    if (status < 0)
        return CLI_EXIT_UNREACHABLE;
    if (status != 200) {
        int rc = report_refusal(status, body);
        free(body);
        return rc;
    }
    cJSON *j = cJSON_Parse(body);
    free(body);
    int rc = CLI_EXIT_OK;
    if (nrest == 1) {
        if (!cJSON_IsObject(j)) {
            fprintf(stderr, "floe: %s%s: answer is not a migration\n", t.url, path);
            rc = CLI_EXIT_UNREACHABLE;
        } else {
            print_migration_detail(j);
        }
        cJSON_Delete(j);
        return rc;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "migrations");
    if (!cJSON_IsArray(list)) {
        fprintf(stderr, "floe: %s/v1/migrations: answer has no migrations list\n", t.url);
        rc = CLI_EXIT_UNREACHABLE;
    } else if (cJSON_GetArraySize(list) == 0) {
        printf("no migrations recorded\n");
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, list) {
        print_migration_line(m);
    }
    cJSON_Delete(j);
    return rc;
}

int cli_abort(int argc, char **argv)
{
    struct cli_target t;
    char *rest[1];
    int n = parse_target_rest(argc, argv, &t, rest, 1);
    if (n != 1) {
        if (n == 0)
            fprintf(stderr, "usage: floe abort ID [--url URL] [--token T]\n");
        return CLI_EXIT_REFUSED;
    }
    long long id = migration_arg("abort", rest[0]);
    if (id < 0)
        return CLI_EXIT_REFUSED;
    char path[96];
    snprintf(path, sizeof path, "/v1/migrations/%lld/abort", id);
    char *body = NULL;
    long status = http_request(&t, "POST", path, &body);
    if (status < 0)
        return CLI_EXIT_UNREACHABLE;
    int rc = CLI_EXIT_OK;
    if (status != 202 && status != 200) {
        rc = report_refusal(status, body);
    } else {
        cJSON *m = cJSON_Parse(body);
        printf("migration %lld (%s → %s): abort requested; it rolls back from %s\n", id,
               json_str(m, "workload"), json_str(m, "to"), json_str(m, "phase"));
        cJSON_Delete(m);
    }
    free(body);
    return rc;
}
