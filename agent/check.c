/*
 * check — see check.h. The answers are read field by field: a status
 * field of the wrong type makes the whole verdict UNKNOWN naming the
 * field (nothing read before it can be trusted to be the whole story);
 * problems found are collected per level, and the line lists the levels
 * worst first.
 */
#include "agent/check.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/util.h"

/* Levels of the problems, in the order the line lists them. */
enum level { LV_CRITICAL, LV_UNKNOWN, LV_WARNING, LV_N };

/* Longest text of one problem, in bytes: a NOC screen shows the line in
 * one row; `floe status` has the rest. */
#define ITEM_MAX 160

struct verdict {
    struct strbuf items[LV_N]; /* "; "-separated problems per level */
    char unreadable[ITEM_MAX]; /* the first status field that could not be read */
    int firing_critical, firing_warning;
    int collectors, collectors_failing, collectors_ok;
    int peers, peers_down, peers_ok;
    double spare_kw;          /* NAN when unknown */
    double migrations_active; /* NAN when unknown */
    const char *site;
};

/* Copies src into dst (n bytes, n > 4) for the plugin's line: control
 * characters become spaces, `|` (it would start the perfdata) becomes
 * `/`, bytes that are not UTF-8 become `?`; text past n - 1 bytes is cut
 * at a character boundary and ends in "…". Every byte maps to one byte,
 * so whether it fits is known before the copy. */
static void clean(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src), o = 0;
    bool cut = len > n - 1;
    size_t limit = cut ? n - 4 : n - 1;
    for (size_t i = 0; i < len;) {
        size_t k = util_utf8_len(src + i, len - i);
        if (o + (k ? k : 1) > limit)
            break;
        if (k == 0) {
            dst[o++] = '?';
            i++;
            continue;
        }
        for (size_t j = 0; j < k; j++, i++) {
            unsigned char c = (unsigned char)src[i];
            dst[o++] = c < 0x20 || c == 0x7f ? ' ' : c == '|' ? '/' : (char)c;
        }
    }
    if (cut) {
        memcpy(dst + o, "…", 3);
        o += 3;
    }
    dst[o] = '\0';
}

static void add(struct verdict *v, enum level lv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add(struct verdict *v, enum level lv, const char *fmt, ...)
{
    char raw[2 * ITEM_MAX], text[ITEM_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    clean(text, sizeof text, raw);
    if (v->items[lv].len)
        strbuf_puts(&v->items[lv], "; ");
    strbuf_puts(&v->items[lv], text);
}

/* Notes the first unreadable field; returns false so readers can
 * `return bad(...)`. */
static bool bad(struct verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool bad(struct verdict *v, const char *fmt, ...)
{
    if (v->unreadable[0])
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->unreadable, sizeof v->unreadable, fmt, ap);
    va_end(ap);
    return false;
}

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* A count from the answer: a whole number from 0 (else -1). */
static int count_of(const cJSON *j)
{
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0) || j->valuedouble > 1e6 ||
        j->valuedouble != floor(j->valuedouble))
        return -1;
    return (int)j->valuedouble;
}

/* kW as people and graphs read it: at most two decimals, no trailing
 * zeros, never an exponent. */
static void fmt_kw(double kw, char *buf, size_t n)
{
    snprintf(buf, n, "%.2f", kw);
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

/* "45s", "12m", "3h 05m", "2d 04h". */
static void fmt_ago(int64_t ms, char *buf, size_t n)
{
    long long s = ms > 0 ? ms / 1000 : 0;
    if (s < 60)
        snprintf(buf, n, "%llds", s);
    else if (s < 3600)
        snprintf(buf, n, "%lldm", s / 60);
    else if (s < 86400)
        snprintf(buf, n, "%lldh %02lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, n, "%lldd %02lldh", s / 86400, s % 86400 / 3600);
}

/* ---- the status answer ---- */

static bool read_alarms(struct verdict *v, const cJSON *status)
{
    const cJSON *alarms = get(status, "alarms");
    if (!cJSON_IsArray(alarms))
        return bad(v, "alarms: expected a list");
    int i = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, alarms)
    {
        const cJSON *policy = get(a, "policy"), *severity = get(a, "severity"),
                    *state = get(a, "state");
        if (!cJSON_IsString(policy) || !cJSON_IsString(severity) || !cJSON_IsString(state))
            return bad(v, "alarms[%d]: expected policy, severity and state as text", i);
        bool critical = strcmp(severity->valuestring, "critical") == 0;
        if (!critical && strcmp(severity->valuestring, "warning") != 0)
            return bad(v, "alarms[%d].severity: '%.40s' is neither warning nor critical", i,
                       severity->valuestring);
        if (strcmp(state->valuestring, "firing") == 0) {
            if (critical) {
                v->firing_critical++;
                add(v, LV_CRITICAL, "%.64s firing", policy->valuestring);
            } else {
                v->firing_warning++;
                add(v, LV_WARNING, "%.64s firing (warning)", policy->valuestring);
            }
        }
        i++;
    }
    return true;
}

static bool number_or_null(const cJSON *j)
{
    return cJSON_IsNumber(j) || cJSON_IsNull(j);
}

/* spare_kw counts as known only when what it is made of is: the agent
 * reports 0 (not unknown) while an input is missing. */
static bool read_capacity(struct verdict *v, const cJSON *status, const struct check_opts *o)
{
    const cJSON *cap = get(status, "capacity");
    if (!cJSON_IsObject(cap))
        return bad(v, "capacity: expected an object");
    const cJSON *spare = get(cap, "spare_kw"), *power = get(cap, "power_headroom_kw"),
                *cooling = get(cap, "cooling_headroom_kw"), *reserved = get(cap, "reserved_kw"),
                *reason = get(cap, "reason");
    if (!cJSON_IsNumber(spare) || !isfinite(spare->valuedouble))
        return bad(v, "capacity.spare_kw: expected a number");
    if (!number_or_null(power) || !number_or_null(cooling) || !number_or_null(reserved))
        return bad(v, "capacity: expected power_headroom_kw, cooling_headroom_kw and "
                      "reserved_kw as numbers or null");
    bool known = cJSON_IsNumber(power) && cJSON_IsNumber(cooling) && cJSON_IsNumber(reserved);
    v->spare_kw = known ? spare->valuedouble : NAN;
    char have[32], limit[32];
    fmt_kw(spare->valuedouble, have, sizeof have);
    if (known && !isnan(o->spare_crit_kw) && spare->valuedouble < o->spare_crit_kw) {
        fmt_kw(o->spare_crit_kw, limit, sizeof limit);
        add(v, LV_CRITICAL, "spare %s kW below %s kW", have, limit);
    } else if (known && !isnan(o->spare_warn_kw) && spare->valuedouble < o->spare_warn_kw) {
        fmt_kw(o->spare_warn_kw, limit, sizeof limit);
        add(v, LV_WARNING, "spare %s kW below %s kW", have, limit);
    } else if (!known && (!isnan(o->spare_warn_kw) || !isnan(o->spare_crit_kw))) {
        add(v, LV_WARNING, "spare kW unknown: %s",
            cJSON_IsString(reason) ? reason->valuestring : "capacity inputs unknown");
    }
    return true;
}

static bool read_collectors(struct verdict *v, const cJSON *status)
{
    const cJSON *col = get(status, "collectors");
    if (!cJSON_IsObject(col))
        return bad(v, "collectors: expected an object");
    int ok = count_of(get(col, "ok")), failing = count_of(get(col, "failing"));
    int pending = count_of(get(col, "pending"));
    if (ok < 0 || failing < 0 || pending < 0)
        return bad(v, "collectors: expected ok, failing and pending as whole numbers");
    v->collectors = ok + failing + pending;
    v->collectors_failing = failing;
    v->collectors_ok = ok;
    /* failing_devices (an addition) names them; without it, a count. */
    const cJSON *down = get(col, "failing_devices");
    if (failing > 0 && cJSON_IsArray(down) && cJSON_GetArraySize(down) == failing) {
        int i = 0;
        const cJSON *d;
        cJSON_ArrayForEach(d, down)
        {
            const cJSON *device = get(d, "device"), *protocol = get(d, "protocol");
            if (!cJSON_IsString(device) || !cJSON_IsString(protocol))
                return bad(v, "collectors.failing_devices[%d]: expected device and protocol", i);
            add(v, LV_WARNING, "collector %.64s (%.16s) down", device->valuestring,
                protocol->valuestring);
            i++;
        }
    } else if (failing > 0) {
        add(v, LV_WARNING, "%d collector%s down", failing, failing == 1 ? "" : "s");
    }
    return true;
}

/* peers is an addition to SPEC's status: absent means none to judge. */
static bool read_peers(struct verdict *v, const cJSON *status)
{
    const cJSON *peers = get(status, "peers");
    if (!peers)
        return true;
    if (!cJSON_IsArray(peers))
        return bad(v, "peers: expected a list");
    static const char *const down_states[][2] = {
        {"unreachable", "unreachable"}, {"refused", "refuses us"}, {"garbage", "answers garbage"}};
    int i = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, peers)
    {
        const cJSON *name = get(p, "name"), *state = get(p, "state");
        if (!cJSON_IsString(name) || !cJSON_IsString(state))
            return bad(v, "peers[%d]: expected name and state as text", i);
        const char *st = state->valuestring;
        v->peers++;
        if (strcmp(st, "ok") == 0) {
            v->peers_ok++;
        } else if (strcmp(st, "pending") != 0) {
            size_t k = 0;
            while (k < sizeof down_states / sizeof *down_states && strcmp(st, down_states[k][0]))
                k++;
            v->peers_down++;
            /* A state this check does not know (a newer agent's) is not
             * ok: counted down, a WARNING, rather than hiding the rest. */
            if (k == sizeof down_states / sizeof *down_states)
                add(v, LV_WARNING, "peer %.64s in state '%.40s'", name->valuestring, st);
            else
                add(v, LV_WARNING, "peer %.64s %s", name->valuestring, down_states[k][1]);
        }
        i++;
    }
    return true;
}

static bool read_migrations_active(struct verdict *v, const cJSON *status)
{
    const cJSON *active = get(status, "migrations_active");
    if (cJSON_IsNull(active)) {
        v->migrations_active = NAN;
        add(v, LV_WARNING, "migrations unknown: the agent cannot read its database");
        return true;
    }
    int n = count_of(active);
    if (n < 0)
        return bad(v, "migrations_active: expected a whole number or null");
    v->migrations_active = n;
    return true;
}

/* ---- the migrations answer ---- */

/* One migration; false (after an UNKNOWN item) when it cannot be read. */
static bool judge_migration(struct verdict *v, const cJSON *m, int i,
                            const struct check_answers *in, const struct check_opts *o)
{
    const cJSON *id = get(m, "id"), *workload = get(m, "workload"), *to = get(m, "to"),
                *phase = get(m, "phase"), *result = get(m, "result"), *ended = get(m, "ended"),
                *abort = get(m, "aborted");
    /* An agent before "aborted" says only abort_requested. */
    if (!abort)
        abort = get(m, "abort_requested");
    bool id_ok = cJSON_IsNumber(id) && id->valuedouble >= 1 && id->valuedouble <= 9e15 &&
                 id->valuedouble == floor(id->valuedouble);
    if (!id_ok || !cJSON_IsString(workload) || !cJSON_IsString(to) || !cJSON_IsString(phase) ||
        !(cJSON_IsString(result) || cJSON_IsNull(result)) ||
        !(cJSON_IsString(ended) || cJSON_IsNull(ended)) || (abort && !cJSON_IsBool(abort))) {
        add(v, LV_UNKNOWN,
            "/v1/migrations: migrations[%d]: expected id, workload, to, phase, result, ended", i);
        return false;
    }
    if (cJSON_IsTrue(abort)) /* an operator's `floe abort`, not a fault */
        return true;
    char what[160];
    snprintf(what, sizeof what, "migration %.0f of %.64s to %.64s", id->valuedouble,
             workload->valuestring, to->valuestring);
    if (cJSON_IsNull(result)) {
        if (strcmp(phase->valuestring, "rolling-back") == 0)
            add(v, LV_CRITICAL, "%s rolling back", what);
        return true;
    }
    bool rolled_back = strcmp(result->valuestring, "rolled-back") == 0;
    if (!rolled_back && strcmp(result->valuestring, "failed") != 0)
        return true;
    int64_t ended_ms;
    if (!cJSON_IsString(ended) || util_parse_time_ms(ended->valuestring, &ended_ms) != 0) {
        add(v, LV_UNKNOWN, "/v1/migrations: migrations[%d].ended: expected a time", i);
        return false;
    }
    if (o->failed_within_ms <= 0 || in->now_ms - ended_ms > o->failed_within_ms)
        return true;
    char ago[32];
    fmt_ago(in->now_ms - ended_ms, ago, sizeof ago);
    add(v, LV_CRITICAL, "%s %s %s ago", what, rolled_back ? "rolled back" : "failed", ago);
    return true;
}

static void judge_migrations(struct verdict *v, const struct check_answers *in,
                             const struct check_opts *o)
{
    if (!in->migrations) {
        add(v, LV_UNKNOWN, "migrations unreadable: %s",
            in->migrations_error ? in->migrations_error : "no answer");
        return;
    }
    const cJSON *list = get(in->migrations, "migrations");
    if (!cJSON_IsArray(list)) {
        add(v, LV_UNKNOWN, "/v1/migrations: migrations: expected a list");
        return;
    }
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, list)
    {
        if (!judge_migration(v, m, i++, in, o))
            return;
    }
}

/* ---- the line ---- */

/* " label=value;warn;crit;min[;max]" (no space before the first), U for
 * an unknown value. */
static void perf(struct strbuf *b, bool first, const char *label, double value, const char *warn,
                 const char *crit, int max)
{
    char val[32] = "U";
    if (!isnan(value))
        fmt_kw(value, val, sizeof val);
    strbuf_printf(b, "%s%s=%s;%s;%s;0", first ? "" : " ", label, val, warn, crit);
    if (max >= 0)
        strbuf_printf(b, ";%d", max);
}

static void perfdata(struct strbuf *b, const struct verdict *v, const struct check_opts *o)
{
    char warn[40] = "", crit[40] = "";
    /* Nagios ranges: "N:" alerts below N. */
    if (!isnan(o->spare_warn_kw)) {
        fmt_kw(o->spare_warn_kw, warn, sizeof warn - 1);
        strcat(warn, ":");
    }
    if (!isnan(o->spare_crit_kw)) {
        fmt_kw(o->spare_crit_kw, crit, sizeof crit - 1);
        strcat(crit, ":");
    }
    perf(b, true, "spare_kw", v->spare_kw, warn, crit, -1);
    /* A range "0" alerts above 0: one firing is enough. */
    perf(b, false, "firing_critical", v->firing_critical, "", "0", -1);
    perf(b, false, "firing_warning", v->firing_warning, "0", "", -1);
    perf(b, false, "collectors_failing", v->collectors_failing, "0", "", v->collectors);
    perf(b, false, "peers_down", v->peers_down, "0", "", v->peers);
    perf(b, false, "migrations_active", v->migrations_active, "", "", -1);
}

static const char *const code_word[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

char *check_unknown_line(const char *why)
{
    char text[2 * ITEM_MAX];
    clean(text, sizeof text, why);
    struct strbuf b = {0};
    strbuf_printf(&b, "FLOE UNKNOWN - %s", text);
    return strbuf_take(&b);
}

enum check_code check_verdict(const struct check_answers *in, const struct check_opts *o,
                              char **line)
{
    struct verdict v = {.spare_kw = NAN, .migrations_active = NAN};
    const cJSON *status = in->status;
    *line = NULL;
    if (!cJSON_IsObject(status)) {
        bad(&v, "not a JSON object");
    } else {
        const cJSON *site = get(status, "site");
        v.site = cJSON_IsString(site) ? site->valuestring : NULL;
        if (!v.site)
            bad(&v, "site: expected text");
        else if (read_alarms(&v, status) && read_capacity(&v, status, o) &&
                 read_collectors(&v, status) && read_peers(&v, status) &&
                 read_migrations_active(&v, status))
            judge_migrations(&v, in, o);
    }
    enum check_code code = CHECK_UNKNOWN;
    if (v.unreadable[0] && v.items[LV_CRITICAL].len) {
        /* A critical seen before the unreadable field stays CRITICAL
         * (never hidden behind what cannot be read); no perfdata, since
         * the status was not read to its end. */
        char why[ITEM_MAX + 16];
        clean(why, sizeof why, v.unreadable);
        struct strbuf b = {0};
        strbuf_puts(&b, "FLOE CRITICAL - ");
        b.failed |= v.items[LV_CRITICAL].failed;
        strbuf_append(&b, v.items[LV_CRITICAL].data, v.items[LV_CRITICAL].len);
        strbuf_printf(&b, "; /v1/status: %s", why);
        *line = strbuf_take(&b);
        code = CHECK_CRITICAL;
    } else if (v.unreadable[0]) {
        char why[2 * ITEM_MAX];
        snprintf(why, sizeof why, "/v1/status: %s", v.unreadable);
        *line = check_unknown_line(why);
    } else {
        code = v.items[LV_CRITICAL].len  ? CHECK_CRITICAL
               : v.items[LV_UNKNOWN].len ? CHECK_UNKNOWN
               : v.items[LV_WARNING].len ? CHECK_WARNING
                                         : CHECK_OK;
        struct strbuf b = {0};
        strbuf_printf(&b, "FLOE %s - ", code_word[code]);
        if (code == CHECK_OK) {
            char site[80];
            clean(site, sizeof site, v.site);
            strbuf_printf(&b,
                          "%s: no policy firing, %d collector%s ok, %d peer%s ok, %.0f "
                          "migration%s active",
                          site, v.collectors_ok, v.collectors_ok == 1 ? "" : "s", v.peers_ok,
                          v.peers_ok == 1 ? "" : "s", v.migrations_active,
                          v.migrations_active == 1 ? "" : "s");
        }
        const char *sep = "";
        for (int lv = 0; lv < LV_N; lv++) {
            b.failed |= v.items[lv].failed;
            if (!v.items[lv].len)
                continue;
            strbuf_puts(&b, sep);
            strbuf_append(&b, v.items[lv].data, v.items[lv].len);
            sep = "; ";
        }
        strbuf_puts(&b, " | ");
        perfdata(&b, &v, o);
        *line = strbuf_take(&b);
    }
    for (int lv = 0; lv < LV_N; lv++)
        strbuf_free(&v.items[lv]);
    if (!*line)
        code = CHECK_UNKNOWN;
    return code;
}
