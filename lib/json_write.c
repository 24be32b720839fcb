/*
 * json_write — see json_write.h. Each writer appends to the buffer; a
 * failed buffer ignores them (lib/strbuf.h), so callers check once.
 */
#include "lib/json_write.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

void json_put_string(struct strbuf *b, const char *s)
{
    if (!s) {
        strbuf_append(b, "null", 4);
        return;
    }
    strbuf_append(b, "\"", 1);
    /* Runs of characters that need no escape go in one append. */
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        strbuf_append(b, run, (size_t)(p - run));
        if (ch == '\0')
            break;
        char esc[8];
        switch (ch) {
        case '"':
            strbuf_append(b, "\\\"", 2);
            break;
        case '\\':
            strbuf_append(b, "\\\\", 2);
            break;
        case '\b':
            strbuf_append(b, "\\b", 2);
            break;
        case '\f':
            strbuf_append(b, "\\f", 2);
            break;
        case '\n':
            strbuf_append(b, "\\n", 2);
            break;
        case '\r':
            strbuf_append(b, "\\r", 2);
            break;
        case '\t':
            strbuf_append(b, "\\t", 2);
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            strbuf_append(b, esc, 6);
        }
        run = p + 1;
    }
    strbuf_append(b, "\"", 1);
}

/* Decimal digits of v (v >= 0) at the end of buf; returns where they start. */
static char *digits(char *end, unsigned long long v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

static void put_integer(struct strbuf *b, long long v)
{
    char buf[24];
    char *end = buf + sizeof buf;
    unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    char *p = digits(end, mag);
    if (v < 0)
        *--p = '-';
    strbuf_append(b, p, (size_t)(end - p));
}

void json_put_number(struct strbuf *b, double v)
{
    if (!isfinite(v)) {
        strbuf_append(b, "null", 4);
        return;
    }
    /* Whole numbers below 1e15 print all their digits in both of cJSON's
     * spellings ("%d" within int, "%1.15g" past it): integer digits are
     * that text without printf's cost. */
    if (v == floor(v) && fabs(v) < 1e15) {
        if (v == 0 && signbit(v))
            strbuf_append(b, "-", 1); /* cJSON keeps the sign of -0 */
        put_integer(b, (long long)v);
        return;
    }
    char s[40];
    int n = snprintf(s, sizeof s, "%1.15g", v);
    if (strtod(s, NULL) != v)
        n = snprintf(s, sizeof s, "%1.17g", v);
    strbuf_append(b, s, (size_t)n);
}

void json_put_millis(struct strbuf *b, int64_t ms)
{
    /* Past 1e12 ms the 15 digits of "%1.15g" no longer hold every
     * millisecond digit: let the general writer round as cJSON would. */
    if (ms < 0 || ms >= 1000000000000LL) {
        json_put_number(b, (double)ms / 1000.0);
        return;
    }
    put_integer(b, (long long)(ms / 1000));
    int frac = (int)(ms % 1000);
    if (frac == 0)
        return;
    char f[4] = {(char)('.'), (char)('0' + frac / 100), (char)('0' + frac / 10 % 10),
                 (char)('0' + frac % 10)};
    size_t len = 4;
    while (f[len - 1] == '0')
        len--;
    strbuf_append(b, f, len);
}

void json_put_time(struct strbuf *b, int64_t ms)
{
    if (ms <= 0) {
        strbuf_append(b, "null", 4);
        return;
    }
    char ts[40];
    util_format_rfc3339(ms, ts, sizeof ts);
    strbuf_append(b, "\"", 1);
    strbuf_puts(b, ts);
    strbuf_append(b, "\"", 1);
}
