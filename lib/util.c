/*
 * util — see util.h. Plain helpers without state.
 */
#include "lib/util.h"

#include <stdatomic.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int util_strlcpy(char *dst, const char *src, size_t n)
{
    size_t len = strlen(src);
    if (n == 0)
        return -1;
    if (len >= n) {
        memcpy(dst, src, n - 1);
        dst[n - 1] = '\0';
        return -1;
    }
    memcpy(dst, src, len + 1);
    return 0;
}

char *util_strdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

int64_t util_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t util_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int util_sleep_ms(int64_t ms, atomic_int *stop)
{
    int64_t end = util_mono_ms() + ms;
    for (;;) {
        if (stop && *stop)
            return 0;
        int64_t left = end - util_mono_ms();
        if (left <= 0)
            return 1;
        if (left > 50)
            left = 50;
        struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
}

/* "30 s" (or "30s ") is the commonest slip: the unit, if the text after
 * the number is one once its blanks are taken out, else NULL. */
static const char *unit_among_blanks(const char *end)
{
    static const char *const units[] = {"ms", "s", "m", "h", "d"};
    char word[4];
    size_t n = 0;
    bool blank = false;
    for (; *end; end++) {
        if (*end == ' ' || *end == '\t')
            blank = true;
        else if (n + 1 < sizeof word)
            word[n++] = *end;
        else
            return NULL;
    }
    word[n] = '\0';
    for (size_t i = 0; blank && i < ARRAY_LEN(units); i++)
        if (strcmp(word, units[i]) == 0)
            return units[i];
    return NULL;
}

int util_parse_duration_ms(const char *s, int64_t *out_ms, char *err, size_t errlen)
{
    if (!s || !*s)
        return errf(err, errlen, "empty duration");
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0 || isspace((unsigned char)*s))
        return errf(err, errlen, "'%s' is not a duration (examples: \"500ms\", \"5s\", \"2m\", \"1h\", \"1d\")", s);
    double mult;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60e3;
    else if (strcmp(end, "h") == 0)
        mult = 3600e3;
    else if (strcmp(end, "d") == 0)
        mult = 86400e3;
    else if (unit_among_blanks(end))
        return errf(err, errlen, "'%s': remove the space: '%.*s%s'", s, (int)(end - s), s,
                    unit_among_blanks(end));
    else
        return errf(err, errlen, "'%s' has no known unit (use ms, s, m, h or d)", s);
    double ms = v * mult;
    if (ms > 9.0e15)
        return errf(err, errlen, "'%s' is too long", s);
    *out_ms = (int64_t)llround(ms);
    return 0;
}

void util_format_duration(int64_t ms, char *buf, size_t n)
{
    if (ms % 86400000 == 0 && ms)
        snprintf(buf, n, "%lldd", (long long)(ms / 86400000));
    else if (ms % 3600000 == 0 && ms)
        snprintf(buf, n, "%lldh", (long long)(ms / 3600000));
    else if (ms % 60000 == 0 && ms)
        snprintf(buf, n, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, n, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, n, "%lldms", (long long)ms);
}

void util_format_rfc3339(int64_t ms, char *buf, size_t n)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    if (frac)
        snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    else
        snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int parse_digits(const char **p, int count, int *out)
{
    int v = 0;
    for (int i = 0; i < count; i++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

int util_parse_time_ms(const char *s, int64_t *out_ms)
{
    if (!s || !*s)
        return -1;
    const char *p = s;
    int year, mon, day, hour, min, sec;
    if (parse_digits(&p, 4, &year) == 0 && *p == '-') {
        p++;
        if (parse_digits(&p, 2, &mon) || *p++ != '-' || parse_digits(&p, 2, &day))
            return -1;
        if (*p != 'T' && *p != 't' && *p != ' ')
            return -1;
        p++;
        if (parse_digits(&p, 2, &hour) || *p++ != ':' || parse_digits(&p, 2, &min) ||
            *p++ != ':' || parse_digits(&p, 2, &sec))
            return -1;
        if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
            return -1;
        int ms = 0;
        if (*p == '.') {
            p++;
            int digits = 0;
            while (isdigit((unsigned char)*p)) {
                if (digits < 3)
                    ms = ms * 10 + (*p - '0');
                digits++;
                p++;
            }
            if (!digits)
                return -1;
            for (; digits < 3; digits++)
                ms *= 10;
        }
        int offset_min = 0;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om;
            p++;
            if (parse_digits(&p, 2, &oh) || *p++ != ':' || parse_digits(&p, 2, &om))
                return -1;
            offset_min = sign * (oh * 60 + om);
        } else {
            return -1;
        }
        if (*p)
            return -1;
        struct tm tm = { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                         .tm_hour = hour, .tm_min = min, .tm_sec = sec };
        time_t t = timegm(&tm);
        *out_ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + ms;
        return 0;
    }
    /* Unix seconds */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || fabs(v) > 1e13)
        return -1;
    *out_ms = (int64_t)llround(v * 1000.0);
    return 0;
}

char *util_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        errf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        goto oom;
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > ((size_t)64 << 20)) {
                errf(err, errlen, "%s: file larger than 64 MiB", path);
                goto fail;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                goto oom;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                errf(err, errlen, "%s: read error: %s", path, strerror(errno));
                goto fail;
            }
            break;
        }
    }
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = n;
    return buf;
oom:
    errf(err, errlen, "%s: out of memory", path);
fail:
    free(buf);
    fclose(f);
    return NULL;
}

char *util_read_secret_file(const char *path, char *err, size_t errlen)
{
    char *s = util_read_file(path, NULL, err, errlen);
    if (!s)
        return NULL;
    char *start = s;
    while (isspace((unsigned char)*start))
        start++;
    size_t n = strlen(start);
    while (n && isspace((unsigned char)start[n - 1]))
        n--;
    memmove(s, start, n);
    s[n] = '\0';
    if (n == 0) {
        free(s);
        errf(err, errlen, "%s: file is empty", path);
        return NULL;
    }
    return s;
}

bool util_secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    size_t n = la > lb ? la : lb;
    for (size_t i = 0; i < n; i++) {
        unsigned char ca = i < la ? (unsigned char)a[i] : 0;
        unsigned char cb = i < lb ? (unsigned char)b[i] : 0;
        diff |= ca ^ cb;
    }
    return diff == 0;
}

bool util_metric_name_valid(const char *name)
{
    if (!name || !*name)
        return false;
    bool seg_empty = true;
    for (const char *p = name; *p; p++) {
        if (*p == '.') {
            if (seg_empty)
                return false;
            seg_empty = true;
        } else if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_') {
            seg_empty = false;
        } else {
            return false;
        }
    }
    return !seg_empty && strlen(name) < 200;
}
