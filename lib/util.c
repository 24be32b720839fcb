/*
 * util — see util.h. Plain helpers without state.
 */
#include "lib/util.h"
#include "lib/perm.h"

#include <stdatomic.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/vec.h"

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

/* The wait is a futex on the flag itself: the kernel puts the thread to
 * sleep until util_stop_set wakes the flag's address or the time is up,
 * so a sleeping thread costs no wake-up at all (polling the flag in
 * slices cost an idle agent ~100 wake-ups a second). The timeout of
 * FUTEX_WAIT is relative and measured on CLOCK_MONOTONIC; each round
 * recomputes what is left, so an early return (a signal, a spurious wake)
 * never stretches the sleep. */
static void wait_flag(atomic_int *flag, int64_t left_ms)
{
    struct timespec ts = { .tv_sec = left_ms / 1000, .tv_nsec = (left_ms % 1000) * 1000000L };
    syscall(SYS_futex, (void *)flag, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
}

int util_sleep_ms(int64_t ms, atomic_int *stop)
{
    int64_t end = util_mono_ms() + ms;
    for (;;) {
        if (stop && atomic_load(stop))
            return 0;
        int64_t left = end - util_mono_ms();
        if (left <= 0)
            return 1;
        if (stop) {
            wait_flag(stop, left);
        } else {
            struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
}

void util_stop_set(atomic_int *stop)
{
    atomic_store(stop, 1);
    syscall(SYS_futex, (void *)stop, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void util_cond_init_mono(pthread_cond_t *c)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(c, &attr);
    pthread_condattr_destroy(&attr);
}

struct timespec util_mono_timespec(int64_t mono_ms)
{
    if (mono_ms < 0)
        mono_ms = 0;
    return (struct timespec){ .tv_sec = mono_ms / 1000, .tv_nsec = (mono_ms % 1000) * 1000000L };
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
    /* Plain decimal digits, checked before strtod, which would also take
     * blanks, signs, hex ("0x10"), exponents and "inf". */
    size_t len = strspn(s, "0123456789");
    if (len == 0)
        return errf(err, errlen, "'%s' is not a duration (examples: \"500ms\", \"5s\", \"2m\", \"1h\", \"1d\")", s);
    if (s[len] == '.' && isdigit((unsigned char)s[len + 1]))
        len += 1 + strspn(s + len + 1, "0123456789");
    const char *unit = s + len;
    double mult;
    if (strcmp(unit, "ms") == 0)
        mult = 1;
    else if (strcmp(unit, "s") == 0)
        mult = 1000;
    else if (strcmp(unit, "m") == 0)
        mult = 60e3;
    else if (strcmp(unit, "h") == 0)
        mult = 3600e3;
    else if (strcmp(unit, "d") == 0)
        mult = 86400e3;
    else if (unit_among_blanks(unit))
        return errf(err, errlen, "'%s': remove the space: '%.*s%s'", s, (int)(unit - s), s,
                    unit_among_blanks(unit));
    else
        return errf(err, errlen, "'%s' has no known unit (use ms, s, m, h or d)", s);
    /* The number ends at a unit letter, so strtod reads exactly it. */
    double ms = strtod(s, NULL) * mult;
    if (!isfinite(ms) || ms > 9.0e15)
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

static bool is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int mon)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return mon == 2 && is_leap_year(year) ? 29 : days[mon - 1];
}

/* Reads digits after a decimal point as milliseconds: the first three
 * count, finer ones are dropped (not rounded). At least one digit. */
static int parse_fraction_ms(const char **p, int *ms)
{
    int digits = 0;
    *ms = 0;
    while (isdigit((unsigned char)**p)) {
        if (digits < 3)
            *ms = *ms * 10 + (**p - '0');
        digits++;
        (*p)++;
    }
    if (!digits)
        return -1;
    for (; digits < 3; digits++)
        *ms *= 10;
    return 0;
}

static int parse_rfc3339(const char *s, int64_t *out_ms)
{
    const char *p = s;
    int year, mon, day, hour, min, sec;
    if (parse_digits(&p, 4, &year) || *p++ != '-' || parse_digits(&p, 2, &mon) || *p++ != '-' ||
        parse_digits(&p, 2, &day))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (parse_digits(&p, 2, &hour) || *p++ != ':' || parse_digits(&p, 2, &min) || *p++ != ':' ||
        parse_digits(&p, 2, &sec))
        return -1;
    /* timegm would quietly turn 31 April into 1 May; a :60 leap second
     * is accepted and reads as the start of the next second. */
    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hour > 23 ||
        min > 59 || sec > 60)
        return -1;
    int ms = 0;
    if (*p == '.') {
        p++;
        if (parse_fraction_ms(&p, &ms))
            return -1;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (parse_digits(&p, 2, &oh) || *p++ != ':' || parse_digits(&p, 2, &om) || oh > 23 ||
            om > 59)
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

/* Beyond this a number is a mistake, not a time (the year 318857). */
#define UNIX_SECONDS_MAX 10000000000000LL

/* [-]digits[.digits], read exactly (no binary floating point, so
 * "1767225600.001" is ...001 ms and never ...000.9999). */
static int parse_unix_seconds(const char *s, int64_t *out_ms)
{
    const char *p = s;
    bool negative = *p == '-';
    if (negative)
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    int64_t secs = 0;
    while (isdigit((unsigned char)*p)) {
        secs = secs * 10 + (*p++ - '0');
        if (secs > UNIX_SECONDS_MAX)
            return -1;
    }
    int ms = 0;
    if (*p == '.') {
        p++;
        if (parse_fraction_ms(&p, &ms))
            return -1;
    }
    if (*p)
        return -1;
    int64_t total = secs * 1000 + ms;
    *out_ms = negative ? -total : total;
    return 0;
}

int util_parse_time_ms(const char *s, int64_t *out_ms)
{
    if (!s || !*s)
        return -1;
    /* Four digits and a '-' start a date; anything else is seconds. */
    if (strspn(s, "0123456789") == 4 && s[4] == '-')
        return parse_rfc3339(s, out_ms);
    return parse_unix_seconds(s, out_ms);
}

char *util_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int open_errno = errno;
        /* "Permission denied" alone does not say which uid was refused or
         * which directory is closed; a service user meets it first. */
        char why[512] = "";
        if (open_errno == EACCES)
            perm_explain_unreadable_self(path, why, sizeof why);
        errf(err, errlen, "%s: %s%s", path, strerror(open_errno), why);
        return NULL;
    }
    size_t cap = 0, n = 0;
    char *buf = NULL;
    for (;;) {
        if (n + 1 >= cap) {
            if (cap >= ((size_t)64 << 20)) {
                errf(err, errlen, "%s: file larger than 64 MiB", path);
                goto fail;
            }
            if (vec_reserve(buf, cap, cap < 4096 ? 4096 : 2 * cap) < 0)
                goto oom;
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

size_t util_utf8_len(const char *p, size_t avail)
{
    const unsigned char *u = (const unsigned char *)p;
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (avail == 0)
        return 0;
    if (u[0] < 0x80)
        return 1;
    if (u[0] >= 0xC2 && u[0] <= 0xDF) {
        n = 2;
    } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        n = 3;
        lo = u[0] == 0xE0 ? 0xA0 : 0x80; /* E0 80..9F would be overlong */
        hi = u[0] == 0xED ? 0x9F : 0xBF; /* ED A0..BF would be a surrogate */
    } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        n = 4;
        lo = u[0] == 0xF0 ? 0x90 : 0x80; /* F0 80..8F would be overlong */
        hi = u[0] == 0xF4 ? 0x8F : 0xBF; /* F4 90.. would pass U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n || u[1] < lo || u[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (u[i] < 0x80 || u[i] > 0xBF)
            return 0;
    return n;
}

void util_utf8_sanitize(char *s)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        size_t n = util_utf8_len(s + i, len - i);
        if (n == 0) {
            s[i++] = '?';
            continue;
        }
        i += n;
    }
}
