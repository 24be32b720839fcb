/*
 * json_util — see json_util.h. A small strict scanner in front of cJSON.
 *
 * The scanner walks a private copy of the text once: comments become
 * spaces (newlines kept), and the grammar of RFC 8259 is checked with a
 * message a person can act on ("trailing comma before '}'", "object keys
 * must be in double quotes"). Only text that passes reaches cJSON, which
 * then builds the tree; cJSON's own leniencies (leading zeros, 1e400 as
 * infinity, a NUL byte ending the document early, "\u0000" cutting a
 * string short) are thereby refused with a position instead of being
 * accepted silently.
 */
#include "lib/json_util.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

struct json_scan {
    char *buf; /* private copy; comments are blanked in place */
    size_t len;
    size_t pos;
    int depth;
    bool failed;
    size_t err_pos;
    char msg[128];
};

static int scan_fail(struct json_scan *s, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int scan_fail(struct json_scan *s, size_t pos, const char *fmt, ...)
{
    if (!s->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->msg, sizeof s->msg, fmt, ap);
        va_end(ap);
        s->failed = true;
        s->err_pos = pos;
    }
    return -1;
}

/* Describes the byte at pos for "unexpected X" messages. */
static void describe_byte(const struct json_scan *s, size_t pos, char *out, size_t n)
{
    if (pos >= s->len) {
        snprintf(out, n, "end of input");
        return;
    }
    unsigned char c = (unsigned char)s->buf[pos];
    if (c >= 0x21 && c < 0x7f)
        snprintf(out, n, "'%c'", c);
    else if (c >= 0x80)
        snprintf(out, n, "non-ASCII byte 0x%02x", c);
    else
        snprintf(out, n, "control character 0x%02x", c);
}

static int unexpected(struct json_scan *s, const char *expected)
{
    char what[32];
    describe_byte(s, s->pos, what, sizeof what);
    return scan_fail(s, s->pos, "expected %s, found %s", expected, what);
}

/* Skips white space and comments, blanking the comments. */
static int skip_ws(struct json_scan *s)
{
    while (s->pos < s->len) {
        char c = s->buf[s->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            s->pos++;
        } else if (c == '/' && s->pos + 1 < s->len && s->buf[s->pos + 1] == '/') {
            while (s->pos < s->len && s->buf[s->pos] != '\n')
                s->buf[s->pos++] = ' ';
        } else if (c == '/' && s->pos + 1 < s->len && s->buf[s->pos + 1] == '*') {
            size_t start = s->pos;
            s->buf[s->pos++] = ' ';
            s->buf[s->pos++] = ' ';
            for (;;) {
                if (s->pos >= s->len)
                    return scan_fail(s, start, "unterminated /* comment");
                if (s->buf[s->pos] == '*' && s->pos + 1 < s->len && s->buf[s->pos + 1] == '/') {
                    s->buf[s->pos++] = ' ';
                    s->buf[s->pos++] = ' ';
                    break;
                }
                if (s->buf[s->pos] != '\n' && s->buf[s->pos] != '\r')
                    s->buf[s->pos] = ' ';
                s->pos++;
            }
        } else if (c == '/') {
            return scan_fail(s, s->pos, "stray '/' (comments are // or /* */)");
        } else {
            break;
        }
    }
    return 0;
}

static int hex4(const struct json_scan *s, size_t pos, unsigned *out)
{
    unsigned v = 0;
    if (pos + 4 > s->len)
        return -1;
    for (size_t i = pos; i < pos + 4; i++) {
        int c = (unsigned char)s->buf[i];
        if (!isxdigit(c))
            return -1;
        v = v * 16 + (unsigned)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
    }
    *out = v;
    return 0;
}

/* A \u escape with its four hex digits, s->pos at the 'u'; a UTF-16
 * high surrogate must be followed by its low half. Leaves pos after it. */
static int scan_unicode_escape(struct json_scan *s)
{
    size_t esc = s->pos - 1;
    unsigned cp;
    if (hex4(s, s->pos + 1, &cp))
        return scan_fail(s, esc, "\\u must be followed by four hex digits");
    s->pos += 5;
    if (cp == 0)
        return scan_fail(s, esc, "\\u0000 is not allowed in strings");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return scan_fail(s, esc, "lone UTF-16 low surrogate \\u%04X", cp);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned lo;
        if (s->pos + 1 >= s->len || s->buf[s->pos] != '\\' || s->buf[s->pos + 1] != 'u' ||
            hex4(s, s->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
            return scan_fail(s, esc, "UTF-16 high surrogate \\u%04X without a low surrogate", cp);
        s->pos += 6;
    }
    return 0;
}

static int scan_string(struct json_scan *s)
{
    size_t start = s->pos++;
    for (;;) {
        if (s->pos >= s->len)
            return scan_fail(s, start, "unterminated string");
        unsigned char c = (unsigned char)s->buf[s->pos];
        if (c == '"') {
            s->pos++;
            return 0;
        }
        if (c == '\n')
            return scan_fail(s, start, "unterminated string (line ends inside it)");
        if (c < 0x20)
            return scan_fail(s, s->pos,
                             "control character 0x%02x inside a string (write it as an escape)", c);
        if (c == '\\') {
            s->pos++;
            if (s->pos >= s->len)
                return scan_fail(s, start, "unterminated string");
            char e = s->buf[s->pos];
            if (e == 'u') {
                if (scan_unicode_escape(s))
                    return -1;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0')
                return scan_fail(s, s->pos - 1,
                                 "invalid escape '\\%c' (a backslash must be written \\\\)",
                                 isprint((unsigned char)e) ? e : '?');
        }
        s->pos++;
    }
}

static int scan_number(struct json_scan *s)
{
    size_t start = s->pos;
    if (s->buf[s->pos] == '-')
        s->pos++;
    if (s->pos >= s->len || !isdigit((unsigned char)s->buf[s->pos]))
        return scan_fail(s, start, "invalid number");
    if (s->buf[s->pos] == '0' && s->pos + 1 < s->len && isdigit((unsigned char)s->buf[s->pos + 1]))
        return scan_fail(s, start, "numbers must not have leading zeros");
    while (s->pos < s->len && isdigit((unsigned char)s->buf[s->pos]))
        s->pos++;
    if (s->pos < s->len && s->buf[s->pos] == '.') {
        s->pos++;
        if (s->pos >= s->len || !isdigit((unsigned char)s->buf[s->pos]))
            return scan_fail(s, start, "invalid number (a '.' must be followed by digits)");
        while (s->pos < s->len && isdigit((unsigned char)s->buf[s->pos]))
            s->pos++;
    }
    if (s->pos < s->len && (s->buf[s->pos] == 'e' || s->buf[s->pos] == 'E')) {
        s->pos++;
        if (s->pos < s->len && (s->buf[s->pos] == '+' || s->buf[s->pos] == '-'))
            s->pos++;
        if (s->pos >= s->len || !isdigit((unsigned char)s->buf[s->pos]))
            return scan_fail(s, start, "invalid number (an exponent needs digits)");
        while (s->pos < s->len && isdigit((unsigned char)s->buf[s->pos]))
            s->pos++;
    }
    if (s->pos < s->len && (isalpha((unsigned char)s->buf[s->pos]) || s->buf[s->pos] == '_'))
        return scan_fail(
            s, start,
            "invalid number (durations and names are strings: put them in double quotes)");
    /* The token is followed by a delimiter or the end, so strtod stops at
     * its end; copy it anyway because buf may not be NUL-terminated here. */
    char tok[64];
    size_t n = s->pos - start;
    if (n >= sizeof tok)
        n = sizeof tok - 1;
    memcpy(tok, s->buf + start, n);
    tok[n] = '\0';
    if (!isfinite(strtod(tok, NULL)))
        return scan_fail(s, start, "number out of range");
    return 0;
}

static int scan_literal(struct json_scan *s)
{
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < ARRAY_LEN(words); i++) {
        size_t n = strlen(words[i]);
        if (s->len - s->pos >= n && memcmp(s->buf + s->pos, words[i], n) == 0 &&
            (s->pos + n == s->len || !isalnum((unsigned char)s->buf[s->pos + n]))) {
            s->pos += n;
            return 0;
        }
    }
    return scan_fail(
        s, s->pos,
        "unknown word (values are numbers, \"strings\", true, false, null, [arrays] or {objects})");
}

static int scan_value(struct json_scan *s);

static int enter(struct json_scan *s)
{
    if (++s->depth > JSON_MAX_DEPTH)
        return scan_fail(s, s->pos, "nested more than %d levels deep", JSON_MAX_DEPTH);
    return 0;
}

static int scan_object(struct json_scan *s)
{
    if (enter(s))
        return -1;
    s->pos++; /* '{' */
    if (skip_ws(s))
        return -1;
    if (s->pos < s->len && s->buf[s->pos] == '}') {
        s->pos++;
        s->depth--;
        return 0;
    }
    for (;;) {
        if (s->pos < s->len && s->buf[s->pos] == '\'')
            return scan_fail(s, s->pos, "keys and strings use double quotes, not single quotes");
        if (s->pos < s->len && (isalpha((unsigned char)s->buf[s->pos]) || s->buf[s->pos] == '_'))
            return scan_fail(s, s->pos, "object keys must be in double quotes");
        if (s->pos >= s->len || s->buf[s->pos] != '"')
            return unexpected(s, "a key in double quotes");
        if (scan_string(s) || skip_ws(s))
            return -1;
        if (s->pos >= s->len || s->buf[s->pos] != ':')
            return unexpected(s, "':' after the key");
        s->pos++;
        if (skip_ws(s) || scan_value(s) || skip_ws(s))
            return -1;
        if (s->pos < s->len && s->buf[s->pos] == '}') {
            s->pos++;
            s->depth--;
            return 0;
        }
        if (s->pos < s->len && s->buf[s->pos] == '"')
            return scan_fail(s, s->pos, "missing ',' between object members");
        if (s->pos >= s->len || s->buf[s->pos] != ',')
            return unexpected(s, "',' or '}'");
        size_t comma = s->pos++;
        if (skip_ws(s))
            return -1;
        if (s->pos < s->len && s->buf[s->pos] == '}')
            return scan_fail(s, comma, "trailing comma before '}'");
    }
}

static int scan_array(struct json_scan *s)
{
    if (enter(s))
        return -1;
    s->pos++; /* '[' */
    if (skip_ws(s))
        return -1;
    if (s->pos < s->len && s->buf[s->pos] == ']') {
        s->pos++;
        s->depth--;
        return 0;
    }
    for (;;) {
        if (scan_value(s) || skip_ws(s))
            return -1;
        if (s->pos < s->len && s->buf[s->pos] == ']') {
            s->pos++;
            s->depth--;
            return 0;
        }
        if (s->pos < s->len && strchr("\"{[-0123456789tfn", s->buf[s->pos]) && s->buf[s->pos])
            return scan_fail(s, s->pos, "missing ',' between array elements");
        if (s->pos >= s->len || s->buf[s->pos] != ',')
            return unexpected(s, "',' or ']'");
        size_t comma = s->pos++;
        if (skip_ws(s))
            return -1;
        if (s->pos < s->len && s->buf[s->pos] == ']')
            return scan_fail(s, comma, "trailing comma before ']'");
    }
}

static int scan_value(struct json_scan *s)
{
    if (s->pos >= s->len)
        return scan_fail(
            s, s->pos, "unexpected end of input (a value is missing, or a bracket is not closed)");
    char c = s->buf[s->pos];
    switch (c) {
    case '{':
        return scan_object(s);
    case '[':
        return scan_array(s);
    case '"':
        return scan_string(s);
    case '\'':
        return scan_fail(s, s->pos, "keys and strings use double quotes, not single quotes");
    case 't':
    case 'f':
    case 'n':
        return scan_literal(s);
    default:
        if (c == '-' || isdigit((unsigned char)c))
            return scan_number(s);
        if (isalpha((unsigned char)c))
            return scan_literal(s);
        return unexpected(s, "a value");
    }
}

/* 1-based line and column of byte offset pos; the column counts UTF-8
 * characters (continuation bytes do not advance it), as editors show. */
static void line_col(const char *text, size_t len, size_t pos, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < pos && i < len; i++) {
        unsigned char b = (unsigned char)text[i];
        if (b == '\n') {
            l++;
            c = 1;
        } else if ((b & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

cJSON *json_parse_commented(const char *text, size_t len, char *err, size_t errlen)
{
    struct json_scan s = {.len = len};
    cJSON *root = NULL;
    s.buf = malloc(len + 1);
    if (!s.buf) {
        errf(err, errlen, "line 1 column 1: out of memory");
        return NULL;
    }
    memcpy(s.buf, text, len);
    s.buf[len] = '\0';

    /* A NUL byte would end cJSON's parse early and silently drop the rest. */
    const char *nul = memchr(s.buf, '\0', len);
    if (nul) {
        scan_fail(&s, (size_t)(nul - s.buf), "NUL byte in the text");
        goto fail;
    }
    /* Editors on some systems write a UTF-8 byte order mark. */
    if (len >= 3 && memcmp(s.buf, "\xEF\xBB\xBF", 3) == 0) {
        memset(s.buf, ' ', 3);
        s.pos = 3;
    }
    if (skip_ws(&s))
        goto fail;
    if (s.pos >= len) {
        scan_fail(&s, s.pos, "no JSON value (the text is empty or only comments)");
        goto fail;
    }
    if (scan_value(&s) || skip_ws(&s))
        goto fail;
    if (s.pos < len) {
        scan_fail(&s, s.pos, "unexpected text after the end of the JSON value");
        goto fail;
    }

    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(s.buf, len + 1, &end, 1);
    if (!root) {
        /* The scan accepted it, so this is an allocation failure. */
        scan_fail(&s, end && end >= s.buf ? (size_t)(end - s.buf) : 0,
                  "cannot build the JSON tree (out of memory)");
        goto fail;
    }
    free(s.buf);
    return root;
fail:;
    int line, col;
    line_col(text, len, s.err_pos, &line, &col);
    errf(err, errlen, "line %d column %d: %s", line, col, s.msg);
    free(s.buf);
    return NULL;
}
