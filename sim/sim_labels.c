/*
 * sim_labels — see sim_labels.h.
 *
 * The selector parser follows the API server's own (apimachinery's
 * labels.Parse): the text is first cut into tokens, then read by a small
 * recursive-descent parser with one token of lookahead, so the same
 * selectors are accepted and refused for the same reasons. "in" and
 * "notin" are keywords only where an operator may stand; as values they
 * are plain words ("k in (in)").
 */
#include "sim/sim_labels.h"

#include "lib/util.h"
#include "lib/vec.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- maps ---- */

/* Index of key, or of where it would go (with *found false). */
static size_t map_find(const struct simc_map *m, const char *key, bool *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->pairs[mid].key, key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

const char *simc_map_get(const struct simc_map *m, const char *key)
{
    bool found;
    size_t i = map_find(m, key, &found);
    return found ? m->pairs[i].value : NULL;
}

int simc_map_set(struct simc_map *m, const char *key, const char *value)
{
    bool found;
    size_t i = map_find(m, key, &found);
    char *v = strdup(value);
    if (!v)
        return -1;
    if (found) {
        free(m->pairs[i].value);
        m->pairs[i].value = v;
        return 0;
    }
    char *k = strdup(key);
    if (!k || vec_reserve(m->pairs, m->cap, m->n + 1) < 0) {
        free(k);
        free(v);
        return -1;
    }
    memmove(&m->pairs[i + 1], &m->pairs[i], (m->n - i) * sizeof *m->pairs);
    m->pairs[i] = (struct simc_pair){.key = k, .value = v};
    m->n++;
    return 0;
}

bool simc_map_del(struct simc_map *m, const char *key)
{
    bool found;
    size_t i = map_find(m, key, &found);
    if (!found)
        return false;
    free(m->pairs[i].key);
    free(m->pairs[i].value);
    memmove(&m->pairs[i], &m->pairs[i + 1], (m->n - i - 1) * sizeof *m->pairs);
    m->n--;
    return true;
}

int simc_map_copy(struct simc_map *dst, const struct simc_map *src)
{
    memset(dst, 0, sizeof *dst);
    if (src->n == 0)
        return 0;
    if (vec_reserve(dst->pairs, dst->cap, src->n) < 0)
        return -1;
    for (size_t i = 0; i < src->n; i++) {
        char *k = strdup(src->pairs[i].key);
        char *v = strdup(src->pairs[i].value);
        if (!k || !v) {
            free(k);
            free(v);
            simc_map_clear(dst);
            return -1;
        }
        dst->pairs[dst->n++] = (struct simc_pair){.key = k, .value = v};
    }
    return 0;
}

void simc_map_clear(struct simc_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->pairs[i].key);
        free(m->pairs[i].value);
    }
    free(m->pairs);
    memset(m, 0, sizeof *m);
}

/* ---- name rules ---- */

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* One DNS-1123 label of n characters at s: [a-z0-9]([-a-z0-9]*[a-z0-9])? */
static bool dns_label_ok(const char *s, size_t n)
{
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

static bool dns_subdomain_ok(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!dns_label_ok(s + start, i - start))
                return false;
            start = i + 1;
        }
    }
    return true;
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], n > 0 */
static bool name_part_ok(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

int simc_dns_label_check(const char *s, char *err, size_t errlen)
{
    size_t n = strlen(s);
    if (n > SIMC_DNS_LABEL_MAX)
        return errf(err, errlen, "must be no more than %d characters", SIMC_DNS_LABEL_MAX);
    if (!dns_label_ok(s, n))
        return errf(err, errlen,
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                    "characters or '-', and must start and end with an alphanumeric character");
    return 0;
}

int simc_qualified_name_check(const char *s, char *err, size_t errlen)
{
    const char *name = s;
    const char *slash = strchr(s, '/');
    if (slash) {
        if (strchr(slash + 1, '/'))
            return errf(err, errlen,
                        "a qualified name must consist of alphanumeric characters, '-', '_' or "
                        "'.', with an optional DNS subdomain prefix and '/'");
        size_t plen = (size_t)(slash - s);
        if (plen == 0)
            return errf(err, errlen, "prefix part must be non-empty");
        if (plen > SIMC_DNS_SUBDOMAIN_MAX || !dns_subdomain_ok(s, plen))
            return errf(err, errlen,
                        "prefix part must be a lowercase RFC 1123 subdomain of at most %d "
                        "characters",
                        SIMC_DNS_SUBDOMAIN_MAX);
        name = slash + 1;
    }
    size_t n = strlen(name);
    if (n == 0)
        return errf(err, errlen, "name part must be non-empty");
    if (n > 63)
        return errf(err, errlen, "name part must be no more than 63 characters");
    if (!name_part_ok(name, n))
        return errf(err, errlen,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and "
                    "must start and end with an alphanumeric character");
    return 0;
}

int simc_label_value_check(const char *s, char *err, size_t errlen)
{
    size_t n = strlen(s);
    if (n > 63)
        return errf(err, errlen, "must be no more than 63 characters");
    if (n > 0 && !name_part_ok(s, n))
        return errf(err, errlen,
                    "a valid label must be an empty string or consist of alphanumeric characters, "
                    "'-', '_' or '.', and must start and end with an alphanumeric character");
    return 0;
}

/* ---- selector: tokens ---- */

enum tok {
    T_EOS,
    T_CLOSE,
    T_COMMA,
    T_NOT,
    T_DOUBLE_EQUALS,
    T_EQUALS,
    T_GREATER,
    T_ID,
    T_IN,
    T_LESS,
    T_NOT_EQUALS,
    T_NOT_IN,
    T_OPEN,
};

struct item {
    enum tok tok;
    const char *lit; /* into the selector text */
    int len;
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(char c)
{
    return c && strchr("=!(),><", c) != NULL;
}

/* The next token at *p (advanced past it). Two-character operators win
 * over their first character, as the API server's lexer does it. */
static struct item lex(const char **p)
{
    const char *s = *p;
    while (is_blank(*s))
        s++;
    struct item it = {.lit = s, .len = 0};
    if (!*s) {
        it.tok = T_EOS;
    } else if ((s[0] == '=' || s[0] == '!') && s[1] == '=') {
        it.tok = s[0] == '=' ? T_DOUBLE_EQUALS : T_NOT_EQUALS;
        it.len = 2;
    } else if (is_special(*s)) {
        static const char sym[] = "=!(),><";
        static const enum tok toks[] = {T_EQUALS, T_NOT,     T_OPEN, T_CLOSE,
                                        T_COMMA,  T_GREATER, T_LESS};
        it.tok = toks[strchr(sym, *s) - sym];
        it.len = 1;
    } else {
        while (s[it.len] && !is_special(s[it.len]) && !is_blank(s[it.len]))
            it.len++;
        it.tok = T_ID;
        if (it.len == 2 && memcmp(s, "in", 2) == 0)
            it.tok = T_IN;
        else if (it.len == 5 && memcmp(s, "notin", 5) == 0)
            it.tok = T_NOT_IN;
    }
    *p = s + it.len;
    return it;
}

/* ---- selector: parser ---- */

struct parser {
    struct item *items; /* ends with T_EOS */
    size_t nitems, cap;
    size_t pos;
    char *err;
    size_t errlen;
};

/* Where values may stand, the keywords are words. */
enum context { KEY_AND_OPERATOR, VALUES };

static struct item peek(const struct parser *p, enum context ctx)
{
    struct item it = p->items[p->pos];
    if (ctx == VALUES && (it.tok == T_IN || it.tok == T_NOT_IN))
        it.tok = T_ID;
    return it;
}

static struct item take(struct parser *p, enum context ctx)
{
    struct item it = peek(p, ctx);
    if (p->pos + 1 < p->nitems) /* T_EOS stays the last token */
        p->pos++;
    return it;
}

static int found(struct parser *p, struct item it, const char *expected)
{
    return errf(p->err, p->errlen, "found '%.*s', expected: %s", it.len, it.lit, expected);
}

static void requirement_free(struct simc_requirement *r)
{
    free(r->key);
    for (size_t i = 0; i < r->nvalues; i++)
        free(r->values[i]);
    free(r->values);
    memset(r, 0, sizeof *r);
}

/* Adds a value unless already there (the API server keeps a set). */
static int add_value(struct parser *p, struct simc_requirement *r, const char *v, int len)
{
    for (size_t i = 0; i < r->nvalues; i++)
        if ((int)strlen(r->values[i]) == len && memcmp(r->values[i], v, (size_t)len) == 0)
            return 0;
    char *copy = strndup(v, (size_t)len);
    char **grown = copy ? realloc(r->values, (r->nvalues + 1) * sizeof *r->values) : NULL;
    if (!grown) {
        free(copy);
        return errf(p->err, p->errlen, "out of memory");
    }
    r->values = grown;
    r->values[r->nvalues++] = copy;
    return 0;
}

/* "(" values ")" after in / notin. An empty list or an empty entry is the
 * empty value, as the API server reads "()", "(,a)" and "(a,,b)". */
static int parse_value_set(struct parser *p, struct simc_requirement *r)
{
    struct item it = take(p, VALUES);
    if (it.tok != T_OPEN)
        return errf(p->err, p->errlen, "found '%.*s' expected: '('", it.len, it.lit);
    it = peek(p, VALUES);
    if (it.tok == T_CLOSE) {
        take(p, VALUES);
        return add_value(p, r, "", 0);
    }
    if (it.tok != T_ID && it.tok != T_COMMA)
        return found(p, it, "',', ')' or identifier");
    for (;;) {
        struct item v = take(p, VALUES);
        if (v.tok == T_ID) {
            if (add_value(p, r, v.lit, v.len) < 0)
                return -1;
            struct item next = peek(p, VALUES);
            if (next.tok == T_CLOSE)
                break;
            if (next.tok != T_COMMA)
                return found(p, next, "',' or ')'");
            continue;
        }
        if (v.tok != T_COMMA)
            return found(p, v, "',', or identifier");
        if (r->nvalues == 0 && add_value(p, r, "", 0) < 0)
            return -1;
        struct item next = peek(p, VALUES);
        if (next.tok == T_CLOSE) {
            if (add_value(p, r, "", 0) < 0)
                return -1;
            break;
        }
        if (next.tok == T_COMMA) {
            take(p, VALUES);
            if (add_value(p, r, "", 0) < 0)
                return -1;
        }
    }
    struct item close = take(p, VALUES);
    if (close.tok != T_CLOSE)
        return found(p, close, "')'");
    return 0;
}

/* The API server's checks of a finished requirement. */
static int check_requirement(struct parser *p, const struct simc_requirement *r)
{
    char why[256];
    for (size_t i = 0; i < r->nvalues; i++) {
        if (simc_label_value_check(r->values[i], why, sizeof why) < 0)
            return errf(p->err, p->errlen, "values[%zu][%s]: Invalid value: \"%s\": %s", i, r->key,
                        r->values[i], why);
        if (r->op == SIMC_SEL_GREATER || r->op == SIMC_SEL_LESS) {
            const char *v = r->values[i];
            char *end;
            errno = 0;
            (void)strtoll(v, &end, 10);
            if (!*v || is_blank(*v) || *end || errno)
                return errf(p->err, p->errlen,
                            "values[%zu]: Invalid value: \"%s\": for 'Gt', 'Lt' operators, the "
                            "value must be an integer",
                            i, v);
        }
    }
    return 0;
}

static int parse_requirement(struct parser *p, struct simc_requirement *r)
{
    bool negated = false;
    struct item it = take(p, VALUES);
    if (it.tok == T_NOT) {
        negated = true;
        it = take(p, VALUES);
    }
    if (it.tok != T_ID)
        return found(p, it, "identifier");
    r->key = strndup(it.lit, (size_t)it.len);
    if (!r->key)
        return errf(p->err, p->errlen, "out of memory");
    char why[256];
    if (simc_qualified_name_check(r->key, why, sizeof why) < 0)
        return errf(p->err, p->errlen, "key: Invalid value: \"%s\": %s", r->key, why);
    enum tok next = peek(p, VALUES).tok;
    if (negated || next == T_EOS || next == T_COMMA) {
        /* A "!key" followed by more is left for the caller to refuse. */
        r->op = negated ? SIMC_SEL_NOT_EXISTS : SIMC_SEL_EXISTS;
        return 0;
    }
    struct item op = take(p, KEY_AND_OPERATOR);
    switch (op.tok) {
    case T_IN:
    case T_NOT_IN:
        r->op = op.tok == T_IN ? SIMC_SEL_EQUALS : SIMC_SEL_NOT_EQUALS;
        if (parse_value_set(p, r) < 0)
            return -1;
        break;
    case T_EQUALS:
    case T_DOUBLE_EQUALS:
    case T_NOT_EQUALS:
    case T_GREATER:
    case T_LESS: {
        r->op = op.tok == T_NOT_EQUALS ? SIMC_SEL_NOT_EQUALS
                : op.tok == T_GREATER  ? SIMC_SEL_GREATER
                : op.tok == T_LESS     ? SIMC_SEL_LESS
                                       : SIMC_SEL_EQUALS;
        struct item v = peek(p, VALUES);
        if (v.tok == T_EOS || v.tok == T_COMMA) {
            if (add_value(p, r, "", 0) < 0)
                return -1;
            break;
        }
        v = take(p, VALUES);
        if (v.tok != T_ID)
            return found(p, v, "identifier");
        if (add_value(p, r, v.lit, v.len) < 0)
            return -1;
        break;
    }
    default:
        return found(p, op, "in, notin, =, ==, !=, gt, lt");
    }
    return check_requirement(p, r);
}

int simc_selector_parse(struct simc_selector *sel, const char *text, char *err, size_t errlen)
{
    memset(sel, 0, sizeof *sel);
    struct parser p = {.err = err, .errlen = errlen};
    const char *s = text;
    for (;;) {
        if (vec_reserve(p.items, p.cap, p.nitems + 1) < 0) {
            errf(err, errlen, "out of memory");
            goto fail;
        }
        p.items[p.nitems] = lex(&s);
        if (p.items[p.nitems++].tok == T_EOS)
            break;
    }
    for (;;) {
        struct item it = peek(&p, VALUES);
        if (it.tok == T_EOS)
            break;
        if (it.tok != T_ID && it.tok != T_NOT) {
            found(&p, it, "!, identifier, or 'end of string'");
            goto fail;
        }
        if (vec_reserve(sel->reqs, sel->cap, sel->n + 1) < 0) {
            errf(err, errlen, "out of memory");
            goto fail;
        }
        struct simc_requirement *r = &sel->reqs[sel->n++];
        memset(r, 0, sizeof *r);
        char why[512];
        p.err = why;
        p.errlen = sizeof why;
        int rc = parse_requirement(&p, r);
        p.err = err;
        p.errlen = errlen;
        if (rc < 0) {
            errf(err, errlen, "unable to parse requirement: %s", why);
            goto fail;
        }
        struct item after = take(&p, VALUES);
        if (after.tok == T_EOS)
            break;
        if (after.tok != T_COMMA) {
            found(&p, after, "',' or 'end of string'");
            goto fail;
        }
        struct item next = peek(&p, VALUES);
        if (next.tok != T_ID && next.tok != T_NOT) {
            found(&p, next, "identifier after ','");
            goto fail;
        }
    }
    free(p.items);
    return 0;
fail:
    free(p.items);
    simc_selector_free(sel);
    return -1;
}

static bool has_value(const struct simc_requirement *r, const char *v)
{
    for (size_t i = 0; i < r->nvalues; i++)
        if (strcmp(r->values[i], v) == 0)
            return true;
    return false;
}

static bool requirement_matches(const struct simc_requirement *r, const struct simc_map *labels)
{
    const char *v = simc_map_get(labels, r->key);
    switch (r->op) {
    case SIMC_SEL_EQUALS:
        return v && has_value(r, v);
    case SIMC_SEL_NOT_EQUALS:
        return !v || !has_value(r, v);
    case SIMC_SEL_EXISTS:
        return v != NULL;
    case SIMC_SEL_NOT_EXISTS:
        return v == NULL;
    case SIMC_SEL_GREATER:
    case SIMC_SEL_LESS: {
        if (!v || !*v || is_blank(*v))
            return false;
        char *end;
        errno = 0;
        long long have = strtoll(v, &end, 10);
        if (*end || errno)
            return false;
        long long want = strtoll(r->values[0], NULL, 10);
        return r->op == SIMC_SEL_GREATER ? have > want : have < want;
    }
    }
    return false;
}

bool simc_selector_matches(const struct simc_selector *sel, const struct simc_map *labels)
{
    for (size_t i = 0; i < sel->n; i++)
        if (!requirement_matches(&sel->reqs[i], labels))
            return false;
    return true;
}

void simc_selector_free(struct simc_selector *sel)
{
    for (size_t i = 0; i < sel->n; i++)
        requirement_free(&sel->reqs[i]);
    free(sel->reqs);
    memset(sel, 0, sizeof *sel);
}
