/*
 * pol_engine — compiles policies and runs their state machines; also the
 * site-time conversion their schedules use. The rules are spelled out in
 * pol_engine.h; this file implements them in that order.
 *
 * Site time is converted with our own reader of TZif files and POSIX TZ
 * rules instead of localtime_r(): localtime_r needs the zone in the TZ
 * environment variable, and setting that while other threads run (libcurl
 * reads the environment) is not safe, nor cheap enough to do per tick in a
 * replay of a year. A loaded struct pol_tz is immutable and lock-free.
 */
#include "policies/pol_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* ---- calendar arithmetic (proleptic Gregorian, days since 1970-01-01) -- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* ---- POSIX TZ rules ("CET-1CEST,M3.5.0,M10.5.0/3") ----------------------- */

struct tz_date {
    char kind;             /* 'J' (1..365, no Feb 29), 'N' (0..365), 'M' */
    int n;                 /* J/N day */
    int month, week, wday; /* M: week 1..5 (5 = last), wday 0 = Sunday */
    int32_t time_s;        /* local time of day of the change, may be < 0 or > 24h */
};

struct tz_rule {
    int32_t std_off, dst_off; /* seconds east of UTC */
    bool has_dst;
    struct tz_date start, end;
};

static bool parse_tz_name(const char **sp)
{
    const char *s = *sp;
    if (*s == '<') {
        s++;
        const char *b = s;
        while (*s && *s != '>')
            s++;
        if (*s != '>' || s - b < 1)
            return false;
        *sp = s + 1;
        return true;
    }
    const char *b = s;
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
        s++;
    if (s - b < 3)
        return false;
    *sp = s;
    return true;
}

/* [+-]hh[:mm[:ss]] with hh up to max_h; returns seconds. */
static bool parse_tz_time(const char **sp, int max_h, int32_t *out)
{
    const char *s = *sp;
    int sign = 1;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    int32_t parts[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            if (*s != ':')
                break;
            s++;
        }
        if (*s < '0' || *s > '9')
            return false;
        int v = 0, digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 3) {
            v = v * 10 + (*s++ - '0');
            digits++;
        }
        if ((i == 0 && v > max_h) || (i > 0 && v > 59))
            return false;
        parts[i] = v;
    }
    *out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    *sp = s;
    return true;
}

static bool parse_int(const char **sp, int lo, int hi, int *out)
{
    const char *s = *sp;
    int v = 0, digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 4) {
        v = v * 10 + (*s++ - '0');
        digits++;
    }
    if (!digits || v < lo || v > hi)
        return false;
    *out = v;
    *sp = s;
    return true;
}

static bool parse_tz_date(const char **sp, struct tz_date *d)
{
    const char *s = *sp;
    d->time_s = 2 * 3600;
    if (*s == 'M') {
        s++;
        d->kind = 'M';
        if (!parse_int(&s, 1, 12, &d->month) || *s++ != '.' || !parse_int(&s, 1, 5, &d->week) ||
            *s++ != '.' || !parse_int(&s, 0, 6, &d->wday))
            return false;
    } else if (*s == 'J') {
        s++;
        d->kind = 'J';
        if (!parse_int(&s, 1, 365, &d->n))
            return false;
    } else {
        d->kind = 'N';
        if (!parse_int(&s, 0, 365, &d->n))
            return false;
    }
    if (*s == '/' && (s++, !parse_tz_time(&s, 167, &d->time_s)))
        return false;
    *sp = s;
    return true;
}

static bool parse_tz_rule(const char *s, struct tz_rule *r)
{
    memset(r, 0, sizeof *r);
    int32_t off;
    if (!parse_tz_name(&s) || !parse_tz_time(&s, 24, &off))
        return false;
    r->std_off = -off; /* POSIX offsets count hours west of Greenwich */
    if (*s == '\0')
        return true;
    if (!parse_tz_name(&s))
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*s && *s != ',') {
        if (!parse_tz_time(&s, 24, &off))
            return false;
        r->dst_off = -off;
    }
    if (*s == '\0') {
        /* POSIX leaves the default rule to the implementation; this is
         * the US one, as glibc and tzcode use. */
        s = ",M3.2.0,M11.1.0";
    }
    if (*s++ != ',' || !parse_tz_date(&s, &r->start) || *s++ != ',' || !parse_tz_date(&s, &r->end))
        return false;
    return *s == '\0';
}

/* Days since the epoch of rule date d in year y. */
static int64_t tz_date_day(const struct tz_date *d, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    switch (d->kind) {
    case 'J':
        return jan1 + d->n - 1 + (is_leap(y) && d->n >= 60);
    case 'N':
        return jan1 + d->n;
    default: {
        int64_t first = days_from_civil(y, d->month, 1);
        int first_wday = (int)((first % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
        int day = (d->wday - first_wday + 7) % 7 + (d->week - 1) * 7;
        while (day >= month_days(y, d->month))
            day -= 7;
        return first + day;
    }
    }
}

static void tz_rule_offset(const struct tz_rule *r, int64_t t, int32_t *off, bool *dst)
{
    *off = r->std_off;
    *dst = false;
    if (!r->has_dst)
        return;
    int y, m, d;
    civil_from_days(floor_div(t + r->std_off, 86400), &y, &m, &d);
    int64_t start = tz_date_day(&r->start, y) * 86400 + r->start.time_s - r->std_off;
    int64_t end = tz_date_day(&r->end, y) * 86400 + r->end.time_s - r->dst_off;
    bool in_dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    if (in_dst) {
        *off = r->dst_off;
        *dst = true;
    }
}

/* ---- TZif files (RFC 8536) ------------------------------------------------- */

struct tz_type {
    int32_t off;
    bool dst;
};

struct pol_tz {
    int64_t *trans; /* transition times, UTC seconds, ascending */
    uint8_t *trans_type;
    size_t ntrans;
    struct tz_type *types;
    size_t ntypes;
    bool has_rule; /* for times after the last transition */
    struct tz_rule rule;
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_header {
    char version;
    uint64_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static bool tzif_header(const unsigned char *p, size_t len, struct tzif_header *h)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    h->version = (char)p[4];
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    return h->typecnt >= 1 && h->typecnt <= 256;
}

static uint64_t tzif_block_len(const struct tzif_header *h, unsigned time_size)
{
    return h->timecnt * time_size + h->timecnt + h->typecnt * 6 + h->charcnt +
           h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt;
}

int pol_tz_from_tzif(const unsigned char *data, size_t len, struct pol_tz **out, char *err,
                     size_t errlen)
{
    struct tzif_header h;
    if (!tzif_header(data, len, &h))
        return errf(err, errlen, "not a TZif file");
    const unsigned char *p = data + 44;
    size_t rest = len - 44;
    unsigned time_size = 4;
    uint64_t block = tzif_block_len(&h, 4);
    if (block > rest)
        return errf(err, errlen, "truncated TZif file");
    if (h.version >= '2') {
        /* Version 2+ repeats the data with 64-bit times and adds a footer. */
        p += block;
        rest -= block;
        if (!tzif_header(p, rest, &h))
            return errf(err, errlen, "bad second TZif header");
        p += 44;
        rest -= 44;
        time_size = 8;
        block = tzif_block_len(&h, 8);
        if (block > rest)
            return errf(err, errlen, "truncated TZif file");
    }

    struct pol_tz *tz = calloc(1, sizeof *tz);
    if (!tz)
        return errf(err, errlen, "out of memory");
    tz->ntrans = h.timecnt;
    tz->ntypes = h.typecnt;
    tz->trans = calloc(h.timecnt ? h.timecnt : 1, sizeof *tz->trans);
    tz->trans_type = calloc(h.timecnt ? h.timecnt : 1, 1);
    tz->types = calloc(h.typecnt, sizeof *tz->types);
    if (!tz->trans || !tz->trans_type || !tz->types) {
        errf(err, errlen, "out of memory");
        goto fail;
    }
    const unsigned char *q = p;
    for (size_t i = 0; i < h.timecnt; i++, q += time_size) {
        tz->trans[i] = time_size == 8 ? be64(q) : (int64_t)(int32_t)be32(q);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1]) {
            errf(err, errlen, "TZif transitions out of order");
            goto fail;
        }
    }
    for (size_t i = 0; i < h.timecnt; i++, q++) {
        if (*q >= h.typecnt) {
            errf(err, errlen, "TZif transition names a missing type");
            goto fail;
        }
        tz->trans_type[i] = *q;
    }
    for (size_t i = 0; i < h.typecnt; i++, q += 6) {
        tz->types[i].off = (int32_t)be32(q);
        tz->types[i].dst = q[4] != 0;
        if (tz->types[i].off < -25 * 3600 || tz->types[i].off > 26 * 3600) {
            errf(err, errlen, "TZif offset out of range");
            goto fail;
        }
    }
    if (time_size == 8) {
        const unsigned char *footer = p + block;
        size_t flen = rest - block;
        if (flen >= 2 && footer[0] == '\n') {
            const unsigned char *nl = memchr(footer + 1, '\n', flen - 1);
            size_t n = nl ? (size_t)(nl - footer - 1) : 0;
            char rule[128];
            if (nl && n > 0) {
                if (n >= sizeof rule || (memcpy(rule, footer + 1, n), rule[n] = '\0',
                                         !parse_tz_rule(rule, &tz->rule))) {
                    errf(err, errlen, "unsupported TZif footer rule");
                    goto fail;
                }
                tz->has_rule = true;
            }
        }
    }
    *out = tz;
    return 0;
fail:
    pol_tz_free(tz);
    return -1;
}

static int tz_from_rule(const char *s, struct pol_tz **out)
{
    struct pol_tz *tz = calloc(1, sizeof *tz);
    if (!tz)
        return -1;
    if (!parse_tz_rule(s, &tz->rule)) {
        free(tz);
        return -1;
    }
    tz->has_rule = true;
    *out = tz;
    return 0;
}

/* Zone names become file paths: allow only what IANA names use. */
static bool tz_name_safe(const char *name)
{
    if (!*name || name[0] == '/' || strstr(name, ".."))
        return false;
    for (const char *s = name; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '/' || *s == '_' || *s == '-' || *s == '+'))
            return false;
    return true;
}

int pol_tz_load(const char *name, struct pol_tz **out, char *err, size_t errlen)
{
    if (!name || !*name)
        return errf(err, errlen, "empty time zone name");
    if (tz_name_safe(name)) {
        const char *dir = getenv("TZDIR");
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
        char ferr[256];
        size_t len;
        char *data = util_read_file(path, &len, ferr, sizeof ferr);
        if (data) {
            int rc = pol_tz_from_tzif((const unsigned char *)data, len, out, ferr, sizeof ferr);
            free(data);
            if (rc < 0)
                return errf(err, errlen, "time zone '%s': %s: %s", name, path, ferr);
            return 0;
        }
    }
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0 || strcmp(name, "GMT") == 0)
        return tz_from_rule("UTC0", out) < 0 ? errf(err, errlen, "out of memory") : 0;
    if (tz_from_rule(name, out) == 0)
        return 0;
    return errf(err, errlen,
                "unknown time zone '%s' (no zoneinfo file of that name, nor a POSIX TZ rule)",
                name);
}

void pol_tz_free(struct pol_tz *tz)
{
    if (!tz)
        return;
    free(tz->trans);
    free(tz->trans_type);
    free(tz->types);
    free(tz);
}

static void tz_offset(const struct pol_tz *tz, int64_t t, int32_t *off, bool *dst)
{
    size_t n = tz->ntrans;
    if ((n == 0 || t >= tz->trans[n - 1]) && tz->has_rule) {
        tz_rule_offset(&tz->rule, t, off, dst);
        return;
    }
    if (n == 0 || t < tz->trans[0]) {
        /* RFC 8536: before the first transition, type 0 applies. */
        *off = tz->ntypes ? tz->types[0].off : 0;
        *dst = tz->ntypes ? tz->types[0].dst : false;
        return;
    }
    size_t lo = 0, hi = n; /* last transition <= t is in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    const struct tz_type *ty = &tz->types[tz->trans_type[lo]];
    *off = ty->off;
    *dst = ty->dst;
}

void pol_tz_local(const struct pol_tz *tz, int64_t ms, struct pol_local *out)
{
    int64_t t = floor_div(ms, 1000);
    int32_t off;
    bool dst;
    tz_offset(tz, t, &off, &dst);
    int64_t local = t + off;
    int64_t days = floor_div(local, 86400);
    int64_t sod = local - days * 86400;
    civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (int)(sod / 3600);
    out->minute = (int)(sod / 60 % 60);
    out->second = (int)(sod % 60);
    out->weekday = (int)((days % 7 + 7 + 3) % 7); /* 1970-01-01 was a Thursday (3) */
    out->utc_offset_s = off;
    out->is_dst = dst;
}

int pol_local_time(int64_t ms, const char *tz, struct pol_local *out)
{
    struct pol_tz *z;
    if (pol_tz_load(tz, &z, NULL, 0) < 0)
        return -1;
    pol_tz_local(z, ms, out);
    pol_tz_free(z);
    return 0;
}

bool pol_window_open(int start_min, int end_min, unsigned days_mask, const struct pol_local *l)
{
    if (days_mask == 0)
        days_mask = 0x7f;
    int now = l->hour * 60 + l->minute;
    bool today = days_mask & (1u << l->weekday);
    bool yesterday = days_mask & (1u << ((l->weekday + 6) % 7));
    if (start_min == end_min || (start_min == 0 && end_min >= 1440))
        return today;
    if (start_min < end_min)
        return today && now >= start_min && now < end_min;
    /* Across midnight: the evening part is today's window, the morning
     * part the tail of the window that began yesterday. */
    return (today && now >= start_min) || (yesterday && now < end_min);
}

/* A window that is open all day on the days it lists. */
static bool whole_day_window(int start_min, int end_min)
{
    return start_min == end_min || (start_min == 0 && end_min >= 1440);
}

/* The longest a window can stay open in one piece: 24 h, plus the hour
 * repeated when the clocks go back; the walks below stop there. */
#define WINDOW_MAX_MINUTES (25 * 60 + 1)

/* Whether a and b fall on different local dates: a whole-day window's
 * occurrences are cut there, not at 00:00, which the clocks can skip
 * (America/Santiago springs forward from 00:00 to 01:00). */
static bool other_day(const struct pol_local *a, const struct pol_local *b)
{
    return a->year != b->year || a->month != b->month || a->day != b->day;
}

static bool open_at(const struct pol_tz *tz, int start_min, int end_min, unsigned days_mask,
                    int64_t ms, struct pol_local *l)
{
    pol_tz_local(tz, ms, l);
    return pol_window_open(start_min, end_min, days_mask, l);
}

int pol_window_bounds(const struct pol_tz *tz, int start_min, int end_min, unsigned days_mask,
                      int64_t now_ms, int64_t *from_ms, int64_t *until_ms)
{
    const int64_t minute = 60000;
    int64_t t0 = now_ms - ((now_ms % minute) + minute) % minute;
    struct pol_local l;
    if (!open_at(tz, start_min, end_min, days_mask, t0, &l))
        return -1;
    bool whole_day = whole_day_window(start_min, end_min);
    /* Minute by minute: a binary search each, a few thousand at most,
     * and exact across every change of the site's UTC offset. */
    int64_t t = t0;
    struct pol_local first = l;
    for (int i = 0; i < WINDOW_MAX_MINUTES; i++) {
        struct pol_local before;
        if (!open_at(tz, start_min, end_min, days_mask, t - minute, &before) ||
            (whole_day && other_day(&before, &l)))
            break;
        t -= minute;
        l = before;
    }
    *from_ms = t;
    t = t0 + minute;
    struct pol_local prev = first;
    for (int i = 0; i < WINDOW_MAX_MINUTES; i++) {
        if (!open_at(tz, start_min, end_min, days_mask, t, &l) ||
            (whole_day && other_day(&prev, &l)))
            break;
        prev = l;
        t += minute;
    }
    *until_ms = t;
    return 0;
}

/* ---- engine ------------------------------------------------------------ */

struct policy {
    char *name;
    struct pol_expr *when, *clear, *kw;
    int64_t for_ms, clear_for_ms, cooldown_ms;
    bool has_schedule;
    int start_min, end_min;
    unsigned days_mask;
    struct pol_status st;
};

struct pol_engine {
    struct policy *pols;
    size_t n;
};

const char *pol_state_name(enum pol_state s)
{
    switch (s) {
    case POL_STATE_OK:
        return "ok";
    case POL_STATE_PENDING:
        return "pending";
    case POL_STATE_FIRING:
        return "firing";
    }
    return "?";
}

static int compile_expr(const char *src, const char *path, const char *key, struct pol_expr **out,
                        char *err, size_t errlen)
{
    char msg[256];
    *out = pol_parse(src, msg, sizeof msg);
    if (!*out)
        return errf(err, errlen, "%s.%s: %s", path, key, msg);
    return 0;
}

static void policy_clear(struct policy *p)
{
    free(p->name);
    pol_free(p->when);
    pol_free(p->clear);
    pol_free(p->kw);
    memset(p, 0, sizeof *p);
}

static int policy_compile(struct policy *out, const struct cfg_policy *c, const char *path,
                          char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!c->name || !*c->name)
        return errf(err, errlen, "%s.name: required", path);
    if (!c->when)
        return errf(err, errlen, "%s.when: required", path);
    if (c->for_ms < 0 || c->clear_for_ms < 0 || c->cooldown_ms < 0)
        return errf(err, errlen, "%s: durations must not be negative", path);
    if (c->action.type == POL_ACTION_SHED && !c->action.kw)
        return errf(err, errlen, "%s.action.kw: required for action type \"shed\"", path);
    if (c->has_schedule &&
        (c->schedule.start_min < 0 || c->schedule.start_min >= 1440 || c->schedule.end_min < 0 ||
         c->schedule.end_min > 1440 || c->schedule.days_mask > 0x7f))
        return errf(err, errlen, "%s.schedule: window out of range", path);
    if (compile_expr(c->when, path, "when", &out->when, err, errlen) < 0)
        goto fail;
    if (c->clear && compile_expr(c->clear, path, "clear", &out->clear, err, errlen) < 0)
        goto fail;
    if (c->action.kw && compile_expr(c->action.kw, path, "action.kw", &out->kw, err, errlen) < 0)
        goto fail;
    out->name = util_strdup(c->name);
    out->for_ms = c->for_ms;
    out->clear_for_ms = c->clear_for_ms;
    out->cooldown_ms = c->cooldown_ms;
    out->has_schedule = c->has_schedule;
    out->start_min = c->schedule.start_min;
    out->end_min = c->schedule.end_min;
    out->days_mask = c->schedule.days_mask;
    out->st.state = POL_STATE_OK;
    out->st.last = POL_UNKNOWN;
    out->st.in_window = true;
    return 0;
fail:
    policy_clear(out);
    return -1;
}

int pol_policy_check(const struct cfg_policy *p, const char *path, char *err, size_t errlen)
{
    struct policy tmp;
    if (policy_compile(&tmp, p, path, err, errlen) < 0)
        return -1;
    policy_clear(&tmp);
    return 0;
}

int pol_engine_new(struct pol_engine **out, const struct cfg_policy *policies, size_t n, char *err,
                   size_t errlen)
{
    struct pol_engine *eng = calloc(1, sizeof *eng);
    if (!eng)
        return errf(err, errlen, "out of memory");
    eng->pols = calloc(n ? n : 1, sizeof *eng->pols);
    if (!eng->pols) {
        errf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        char path[48];
        snprintf(path, sizeof path, "policies[%zu]", i);
        if (policy_compile(&eng->pols[i], &policies[i], path, err, errlen) < 0)
            goto fail;
        eng->n++;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(eng->pols[j].name, eng->pols[i].name) == 0) {
                errf(err, errlen, "%s.name: duplicate policy name '%s' (also policies[%zu])", path,
                     eng->pols[i].name, j);
                goto fail;
            }
        }
    }
    *out = eng;
    return 0;
fail:
    pol_engine_free(eng);
    return -1;
}

void pol_engine_free(struct pol_engine *eng)
{
    if (!eng)
        return;
    for (size_t i = 0; i < eng->n; i++)
        policy_clear(&eng->pols[i]);
    free(eng->pols);
    free(eng);
}

size_t pol_engine_count(const struct pol_engine *eng)
{
    return eng->n;
}

const char *pol_engine_name(const struct pol_engine *eng, size_t i)
{
    return i < eng->n ? eng->pols[i].name : NULL;
}

int pol_engine_find(const struct pol_engine *eng, const char *name)
{
    for (size_t i = 0; i < eng->n; i++)
        if (strcmp(eng->pols[i].name, name) == 0)
            return (int)i;
    return -1;
}

const struct pol_expr *pol_engine_when(const struct pol_engine *eng, size_t i)
{
    return i < eng->n ? eng->pols[i].when : NULL;
}

const struct pol_expr *pol_engine_clear(const struct pol_engine *eng, size_t i)
{
    return i < eng->n ? eng->pols[i].clear : NULL;
}

const struct pol_expr *pol_engine_kw(const struct pol_engine *eng, size_t i)
{
    return i < eng->n ? eng->pols[i].kw : NULL;
}

/* When policy p's wait (held_ms towards need_ms) is reached if the
 * expression stays true, or 0 when it is not counting (the last tick did
 * not see it true: nothing accrues until one does). */
static int64_t hold_due(const struct pol_status *st, int64_t need_ms)
{
    if (st->last != POL_TRUE || st->last_tick_ms == 0)
        return 0;
    int64_t left = need_ms - st->held_ms;
    return st->last_tick_ms + (left > 0 ? left : 0);
}

int64_t pol_engine_next_due(const struct pol_engine *eng)
{
    int64_t next = 0;
    for (size_t i = 0; i < eng->n; i++) {
        const struct policy *p = &eng->pols[i];
        const struct pol_status *st = &p->st;
        int64_t due[2] = { 0, 0 };
        if (st->state == POL_STATE_PENDING) {
            due[0] = hold_due(st, p->for_ms);
        } else if (st->state == POL_STATE_FIRING) {
            if (st->clearing)
                due[0] = hold_due(st, p->clear_for_ms);
            if (p->cooldown_ms > 0)
                due[1] = st->last_decision_ms + p->cooldown_ms;
        }
        for (size_t k = 0; k < 2; k++)
            if (due[k] > 0 && (next == 0 || due[k] < next))
                next = due[k];
    }
    return next;
}

void pol_engine_status(const struct pol_engine *eng, size_t i, struct pol_status *out)
{
    if (i < eng->n)
        *out = eng->pols[i].st;
}

void pol_engine_set_status(struct pol_engine *eng, size_t i, const struct pol_status *st)
{
    if (i < eng->n)
        eng->pols[i].st = *st;
}

void pol_engine_adopt(struct pol_engine *to, const struct pol_engine *from)
{
    for (size_t i = 0; i < to->n; i++) {
        int j = pol_engine_find(from, to->pols[i].name);
        if (j >= 0)
            to->pols[i].st = from->pols[j].st;
    }
}

int pol_engine_action_kw(const struct pol_engine *eng, size_t i, const struct pol_env *env,
                         double *kw)
{
    if (i >= eng->n || !eng->pols[i].kw)
        return -1;
    return pol_eval(eng->pols[i].kw, env, kw);
}

static void enter_state(struct pol_status *st, enum pol_state s, int64_t now)
{
    st->state = s;
    st->since_ms = now;
    st->held_ms = 0;
    st->clearing = false;
    if (s != POL_STATE_FIRING)
        st->last_decision_ms = 0;
}

/* Adds the time since the previous tick to held_ms when that tick also saw
 * the deciding expression true: only uninterrupted known-true time counts. */
static void hold(struct pol_status *st, int64_t dt)
{
    if (st->last == POL_TRUE)
        st->held_ms += dt;
    st->last = POL_TRUE;
}

static void decide(struct pol_status *st, struct pol_tick *out, enum pol_decide why, int64_t now)
{
    out->decide = why;
    st->last_decision_ms = now;
    st->decisions++;
}

/* ok and pending: only `when` matters. */
static void tick_waiting(struct policy *p, struct pol_tick *out, int64_t now, int64_t dt)
{
    struct pol_status *st = &p->st;
    if (out->when == POL_UNKNOWN) {
        st->last = POL_UNKNOWN;
        out->unknown = true;
        return;
    }
    if (out->when == POL_FALSE) {
        if (st->state == POL_STATE_PENDING) {
            enter_state(st, POL_STATE_OK, now);
            out->why = "when false";
        }
        st->last = POL_FALSE;
        return;
    }
    if (st->state == POL_STATE_OK) {
        enter_state(st, POL_STATE_PENDING, now);
        st->last = POL_TRUE;
        out->why = "when true";
    } else {
        hold(st, dt);
    }
    if (st->held_ms >= p->for_ms) {
        enter_state(st, POL_STATE_FIRING, now);
        st->last = POL_UNKNOWN;
        out->why = p->for_ms > 0 ? "for held" : "when true";
        decide(st, out, POL_DECIDE_FIRED, now);
    }
}

static void tick_firing(struct policy *p, const struct pol_env *env, struct pol_tick *out,
                        int64_t now, int64_t dt)
{
    struct pol_status *st = &p->st;
    if (out->when == POL_UNKNOWN) {
        out->clear = POL_UNKNOWN;
    } else if (p->clear) {
        out->clear = pol_eval_truth(p->clear, env);
    } else {
        out->clear = out->when == POL_TRUE ? POL_FALSE : POL_TRUE;
    }

    if (out->clear == POL_UNKNOWN) {
        st->last = POL_UNKNOWN;
        out->unknown = true;
    } else if (out->clear == POL_FALSE) {
        st->clearing = false;
        st->held_ms = 0;
        st->last = POL_FALSE;
    } else {
        if (!st->clearing) {
            st->clearing = true;
            st->held_ms = 0;
            st->last = POL_TRUE;
        } else {
            hold(st, dt);
        }
        if (st->held_ms >= p->clear_for_ms) {
            enter_state(st, POL_STATE_OK, now);
            st->last = POL_UNKNOWN;
            out->why = "clear held";
            return;
        }
    }
    if (p->cooldown_ms > 0 && now - st->last_decision_ms >= p->cooldown_ms)
        decide(st, out, POL_DECIDE_COOLDOWN, now);
}

int pol_engine_tick(struct pol_engine *eng, size_t i, const struct pol_env *env,
                    struct pol_tick *out)
{
    if (i >= eng->n)
        return -1;
    struct policy *p = &eng->pols[i];
    struct pol_status *st = &p->st;
    int64_t now = env->now_ms;
    int64_t dt = st->last_tick_ms && now > st->last_tick_ms ? now - st->last_tick_ms : 0;
    if (st->last_tick_ms == 0 && st->since_ms == 0)
        st->since_ms = now;

    memset(out, 0, sizeof *out);
    out->prev = st->state;
    out->when = POL_UNKNOWN;
    out->clear = POL_UNKNOWN;
    out->in_window = !p->has_schedule || (env->local && pol_window_open(p->start_min, p->end_min,
                                                                        p->days_mask, env->local));

    if (!out->in_window) {
        if (st->state != POL_STATE_OK) {
            enter_state(st, POL_STATE_OK, now);
            out->why = "window closed";
        }
        st->last = POL_UNKNOWN;
    } else {
        out->when = pol_eval_truth(p->when, env);
        if (st->state == POL_STATE_FIRING)
            tick_firing(p, env, out, now, dt);
        else
            tick_waiting(p, out, now, dt);
    }
    st->in_window = out->in_window;
    st->unknown = out->unknown;
    st->last_tick_ms = now;
    out->state = st->state;
    out->changed = out->state != out->prev;
    return 0;
}
