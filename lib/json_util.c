/*
 * json_util — see json_util.h. A small strict scanner in front of cJSON.
 *
 * The scanner walks a private copy of the text once: comments become
 * spaces (newlines kept), and the grammar of RFC 8259 is checked with a
 * message a person can act on ("trailing comma before '}'", "object keys
 * must be in double quotes"). Only text that passes reaches cJSON, which
 * then builds the tree; cJSON's own leniencies (leading zeros, 1e400 as
 * infinity, a NUL byte ending the document early, "\u0000" cutting a
 * string short, bytes in strings that are not UTF-8) are thereby refused
 * with a position instead of being accepted silently.
 *
 * While scanning, json_parse_located() also notes where each value (and
 * the key before it) starts. The scan meets the values in document order,
 * which is the order of a pre-order walk of cJSON's tree, so the i-th mark
 * belongs to the i-th item of that walk; the pairs are then sorted by item
 * address for lookup.
 */
#include "lib/json_util.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/vec.h"

#define NO_KEY SIZE_MAX

/* Byte offsets where a value and the key naming it (NO_KEY in arrays and
 * at the top) start. */
struct json_mark {
    size_t key, value;
};

struct json_scan {
    char *buf; /* private copy; comments are blanked in place */
    size_t len;
    size_t pos;
    int depth;
    bool failed;
    size_t err_pos;
    char msg[128];
    bool want_marks;          /* cleared when marks cannot be allocated */
    struct json_mark *marks;  /* one per value, in document order */
    size_t nmarks, cap_marks;
    size_t pending_key;       /* the key of the value about to be scanned */
};

struct json_located {
    const cJSON *item;
    bool has_key;
    struct json_pos key, value;
};

struct json_positions {
    struct json_located *v; /* sorted by item address */
    size_t n;
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

/* Strings must be UTF-8 (RFC 8259, 8.1): what is accepted here comes back
 * in answers and messages, and one stray byte makes a JSON answer that
 * clients cannot decode. */
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
        if (c >= 0x80) {
            size_t n = util_utf8_len(s->buf + s->pos, s->len - s->pos);
            if (n == 0)
                return scan_fail(s, s->pos,
                                 "byte 0x%02x inside a string is not valid UTF-8 (the text must "
                                 "be UTF-8)",
                                 c);
            s->pos += n;
            continue;
        }
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
    /* The whole token, however long: cJSON reads all of its digits, so
     * "1" and 400 zeros is as infinite as 1e400. buf is the private copy,
     * one byte longer than the text, so the token can end in place. */
    char after = s->buf[s->pos];
    s->buf[s->pos] = '\0';
    double v = strtod(s->buf + start, NULL);
    s->buf[s->pos] = after;
    if (!isfinite(v))
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

/* Notes that a value starts at s->pos. Running out of memory only loses
 * the positions, never the parse. */
static void mark_value(struct json_scan *s)
{
    size_t key = s->pending_key;
    s->pending_key = NO_KEY;
    if (!s->want_marks)
        return;
    if (vec_reserve(s->marks, s->cap_marks, s->nmarks + 1) < 0) {
        free(s->marks);
        s->marks = NULL;
        s->nmarks = s->cap_marks = 0;
        s->want_marks = false;
        return;
    }
    s->marks[s->nmarks++] = (struct json_mark){.key = key, .value = s->pos};
}

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
        size_t key = s->pos;
        if (scan_string(s) || skip_ws(s))
            return -1;
        if (s->pos >= s->len || s->buf[s->pos] != ':')
            return unexpected(s, "':' after the key");
        s->pos++;
        if (skip_ws(s))
            return -1;
        s->pending_key = key;
        if (scan_value(s) || skip_ws(s))
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
    mark_value(s);
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

/* Turns byte offsets into lines and columns in one forward pass when
 * the offsets come in increasing order (they do: marks are in document
 * order); an earlier offset restarts from the top. The column counts
 * UTF-8 characters (continuation bytes do not advance it), as editors
 * show. */
struct line_cursor {
    const char *text;
    size_t len, pos;
    struct json_pos at;
};

static struct json_pos cursor_at(struct line_cursor *c, size_t offset)
{
    if (offset < c->pos) {
        c->pos = 0;
        c->at = (struct json_pos){1, 1};
    }
    /* A byte order mark is no character an editor shows. */
    if (c->pos == 0 && offset >= 3 && c->len >= 3 && memcmp(c->text, "\xEF\xBB\xBF", 3) == 0)
        c->pos = 3;
    for (; c->pos < offset && c->pos < c->len; c->pos++) {
        unsigned char b = (unsigned char)c->text[c->pos];
        if (b == '\n') {
            c->at.line++;
            c->at.col = 1;
        } else if ((b & 0xC0) != 0x80) {
            c->at.col++;
        }
    }
    return c->at;
}

/* Pairs the marks with the tree's items in pre-order. Returns -1 when
 * they do not line up (which would be a bug in the scanner). */
static int pair_marks(const cJSON *item, const struct json_scan *s, struct line_cursor *cur,
                      struct json_located *out, size_t *next)
{
    for (; item; item = item->next) {
        if (*next >= s->nmarks)
            return -1;
        const struct json_mark *m = &s->marks[*next];
        struct json_located *l = &out[(*next)++];
        l->item = item;
        l->has_key = m->key != NO_KEY;
        if (l->has_key)
            l->key = cursor_at(cur, m->key);
        l->value = cursor_at(cur, m->value);
        if (item->child && pair_marks(item->child, s, cur, out, next))
            return -1;
    }
    return 0;
}

static int compare_located(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct json_located *)a)->item;
    uintptr_t y = (uintptr_t)((const struct json_located *)b)->item;
    return x < y ? -1 : x > y;
}

static struct json_positions *build_positions(const cJSON *root, const struct json_scan *s,
                                              const char *text, size_t len)
{
    if (!s->want_marks || !s->nmarks)
        return NULL;
    struct json_positions *p = calloc(1, sizeof *p);
    if (!p || !(p->v = calloc(s->nmarks, sizeof *p->v))) {
        free(p);
        return NULL;
    }
    struct line_cursor cur = {.text = text, .len = len, .at = {1, 1}};
    size_t n = 0;
    if (pair_marks(root, s, &cur, p->v, &n) || n != s->nmarks) {
        json_positions_free(p);
        return NULL;
    }
    p->n = n;
    qsort(p->v, p->n, sizeof *p->v, compare_located);
    return p;
}

int json_position_of(const struct json_positions *positions, const cJSON *item, bool of_key,
                     struct json_pos *out)
{
    if (!positions || !item)
        return -1;
    struct json_located want = {.item = item};
    const struct json_located *l =
        bsearch(&want, positions->v, positions->n, sizeof *positions->v, compare_located);
    if (!l || (of_key && !l->has_key))
        return -1;
    *out = of_key ? l->key : l->value;
    return 0;
}

void json_positions_free(struct json_positions *positions)
{
    if (!positions)
        return;
    free(positions->v);
    free(positions);
}

cJSON *json_parse_located(const char *text, size_t len, struct json_positions **positions,
                          struct json_pos *err_at, char *err, size_t errlen)
{
    struct json_scan s = {.len = len, .want_marks = positions != NULL, .pending_key = NO_KEY};
    cJSON *root = NULL;
    if (positions)
        *positions = NULL;
    s.buf = malloc(len + 1);
    if (!s.buf) {
        if (err_at)
            *err_at = (struct json_pos){1, 1};
        errf(err, errlen, "out of memory");
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
    if (positions)
        *positions = build_positions(root, &s, text, len);
    free(s.marks);
    free(s.buf);
    return root;
fail:;
    struct line_cursor cur = {.text = text, .len = len, .at = {1, 1}};
    if (err_at)
        *err_at = cursor_at(&cur, s.err_pos);
    errf(err, errlen, "%s", s.msg);
    free(s.marks);
    free(s.buf);
    return NULL;
}

cJSON *json_parse_commented(const char *text, size_t len, char *err, size_t errlen)
{
    struct json_pos at;
    char msg[160];
    cJSON *root = json_parse_located(text, len, NULL, &at, msg, sizeof msg);
    if (!root)
        errf(err, errlen, "line %d column %d: %s", at.line, at.col, msg);
    return root;
}
