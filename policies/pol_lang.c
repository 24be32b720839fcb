/*
 * pol_lang — lexer, recursive-descent parser and evaluator of the policy
 * language (grammar in SPEC 3.1; contract in pol_lang.h).
 *
 * The parser builds a flat array of nodes (children by index) so an
 * expression is a handful of allocations made once; evaluation walks that
 * array recursively and never allocates, which is what lets replay run a
 * year of 10-second ticks quickly. Unknown is carried as NaN inside the
 * evaluator: arithmetic then propagates it for free, and only comparisons,
 * logic and aggregates need to look at it explicitly.
 *
 * The lexer decides what '*' is from its position: where an operand is
 * expected ("sum(*.kw)", "cooling.*.kw") it starts or continues a glob,
 * after an operand it multiplies ("it.load_kw*1.1"). A name segment of a
 * glob must be '*' alone, so "a.b*c" is a product, never a pattern.
 */
#include "policies/pol_lang.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "lib/vec.h"

/* ---- nodes ------------------------------------------------------------ */

enum node_kind {
    N_NUM,
    N_METRIC,
    N_GLOB,
    N_DUR,
    N_NEG,
    N_NOT,
    N_AND,
    N_OR,
    N_LT,
    N_LE,
    N_GT,
    N_GE,
    N_EQ,
    N_NE,
    N_ADD,
    N_SUB,
    N_MUL,
    N_DIV,
    N_CALL,
};

enum fn_id {
    FN_SUM,
    FN_AVG,
    FN_MIN,
    FN_MAX,
    FN_COUNT,
    FN_AVG_OVER,
    FN_MIN_OVER,
    FN_MAX_OVER,
    FN_DELTA,
    FN_RATE,
    FN_AGE,
    FN_ABS,
    FN_CLAMP,
    FN_HOUR,
    FN_WEEKDAY,
};

enum fn_class { FC_AGGREGATE, FC_HISTORY, FC_AGE, FC_SCALAR };

struct fn_def {
    const char *name;
    enum fn_id id;
    enum fn_class cls;
    int nargs;          /* exact count; -1 = one or more */
    const char *params; /* for arity messages */
};

static const struct fn_def fn_table[] = {
    {"sum", FN_SUM, FC_AGGREGATE, -1, NULL},
    {"avg", FN_AVG, FC_AGGREGATE, -1, NULL},
    {"min", FN_MIN, FC_AGGREGATE, -1, NULL},
    {"max", FN_MAX, FC_AGGREGATE, -1, NULL},
    {"count", FN_COUNT, FC_AGGREGATE, -1, NULL},
    {"avg_over", FN_AVG_OVER, FC_HISTORY, 2, "metric, duration"},
    {"min_over", FN_MIN_OVER, FC_HISTORY, 2, "metric, duration"},
    {"max_over", FN_MAX_OVER, FC_HISTORY, 2, "metric, duration"},
    {"delta", FN_DELTA, FC_HISTORY, 2, "metric, duration"},
    {"rate", FN_RATE, FC_HISTORY, 2, "metric, duration"},
    {"age", FN_AGE, FC_AGE, 1, "metric"},
    {"abs", FN_ABS, FC_SCALAR, 1, "x"},
    {"clamp", FN_CLAMP, FC_SCALAR, 3, "x, lo, hi"},
    {"hour", FN_HOUR, FC_SCALAR, 0, ""},
    {"weekday", FN_WEEKDAY, FC_SCALAR, 0, ""},
};

#define MAX_CALL_ARGS 64

struct node {
    enum node_kind kind;
    int col; /* 1-based column where the node's text starts */
    union {
        double num;     /* N_NUM */
        int64_t dur_ms; /* N_DUR */
        struct {
            uint32_t a, b; /* N_NEG/N_NOT use a; binary nodes a and b */
        } kids;
        struct {
            const struct fn_def *fn;
            uint32_t first_arg; /* index into expr->args */
            uint32_t nargs;
            int64_t dur_ms; /* history functions: the window */
        } call;
    } u;
    /* N_METRIC/N_GLOB: the name; history/age calls: the metric read. */
    const char *name;
    /* N_GLOB: column of its first '*'. */
    int star_col;
    /* N_DUR/N_GLOB/N_METRIC: length of the token in the source. */
    uint32_t len;
    /* N_METRIC: the first argument of a history/age call, which reads
     * stored samples rather than the latest value. */
    bool consumed;
    /* Levels of nodes below and including this one: bounds the evaluator's
     * recursion, since "a + a + ... + a" nests without parentheses. */
    int height;
    /* history/age calls: the call as text, for the input recorder. */
    const char *label;
};

struct pol_expr {
    struct node *nodes;
    size_t nnodes, cap_nodes;
    uint32_t *args;
    size_t nargs, cap_args;
    uint32_t root;
    struct pol_input *inputs;
    size_t ninputs, cap_inputs;
    char **labels;
    size_t nlabels, cap_labels;
    bool uses_local_time;
};

/* ---- lexer ------------------------------------------------------------ */

enum tok_kind {
    T_END,
    T_NUM,
    T_DUR,
    T_IDENT,
    T_GLOB,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_EQ,
    T_NE,
    T_NOT,
    T_AND,
    T_OR,
};

struct token {
    enum tok_kind kind;
    size_t start, len; /* byte offsets in src */
    double num;        /* T_NUM */
    int64_t dur_ms;    /* T_DUR */
    bool dotted;       /* T_IDENT contains '.' */
    size_t star;       /* T_GLOB: offset of the first '*' */
};

struct parser {
    const char *src;
    size_t pos;         /* where the next token starts (after tok) */
    struct token tok;   /* current token */
    bool after_operand; /* the token before tok ended an operand */
    int depth;
    struct pol_expr *e;
    char *err;
    size_t errlen;
    bool failed;
};

/* Records the first error only: later ones are consequences of it. */
static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...)
{
    if (!p->failed && p->err && p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
    }
    p->failed = true;
    return -1;
}

static bool is_seg_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Scans a metric name or glob starting at i (a [a-z_] or '*'). */
static int lex_name(struct parser *p, size_t i, struct token *t)
{
    const char *s = p->src;
    bool glob = false, dotted = false;
    for (;;) {
        if (s[i] == '*') {
            if (!glob)
                t->star = i;
            glob = true;
            i++;
            if (is_seg_char((unsigned char)s[i]))
                return perr(p, "'*' must stand for a whole name segment at column %zu", i + 1);
        } else if (is_seg_char((unsigned char)s[i])) {
            while (is_seg_char((unsigned char)s[i]))
                i++;
        } else if (isupper((unsigned char)s[i])) {
            return perr(p, "metric names are lower case: unexpected '%c' at column %zu", s[i],
                        i + 1);
        } else {
            return perr(p, "expected a name segment after '.' at column %zu", i + 1);
        }
        /* A '.' always continues the name ("a.*" is a glob, "a. b" an
         * error); a '*' that no '.' precedes ends it, so "a*b" is a product. */
        if (s[i] != '.')
            break;
        dotted = true;
        i++;
    }
    t->kind = glob ? T_GLOB : T_IDENT;
    t->dotted = dotted;
    t->len = i - t->start;
    return 0;
}

static int lex_number(struct parser *p, size_t i, struct token *t)
{
    const char *s = p->src;
    while (isdigit((unsigned char)s[i]))
        i++;
    if (s[i] == '.') {
        i++;
        if (!isdigit((unsigned char)s[i]))
            return perr(p, "invalid number at column %zu", t->start + 1);
        while (isdigit((unsigned char)s[i]))
            i++;
    }
    if ((s[i] == 'e' || s[i] == 'E') &&
        (isdigit((unsigned char)s[i + 1]) ||
         ((s[i + 1] == '+' || s[i + 1] == '-') && isdigit((unsigned char)s[i + 2])))) {
        i += 2;
        while (isdigit((unsigned char)s[i]))
            i++;
    }
    size_t num_end = i;
    char buf[64];
    if (num_end - t->start >= sizeof buf)
        return perr(p, "number too long at column %zu", t->start + 1);
    memcpy(buf, s + t->start, num_end - t->start);
    buf[num_end - t->start] = '\0';
    double v = strtod(buf, NULL);
    if (!isfinite(v))
        return perr(p, "number out of range at column %zu", t->start + 1);

    /* A unit directly after the digits makes a duration ("5m", "500ms"). */
    size_t suf = i;
    while (is_seg_char((unsigned char)s[i]) || isupper((unsigned char)s[i]))
        i++;
    if (s[i] == '.' && i == suf)
        return perr(p, "invalid number at column %zu", t->start + 1);
    t->len = i - t->start;
    if (i == suf) {
        t->kind = T_NUM;
        t->num = v;
        return 0;
    }
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}, {"d", 86400e3}};
    for (size_t u = 0; u < ARRAY_LEN(units); u++) {
        if (i - suf == strlen(units[u].unit) && memcmp(s + suf, units[u].unit, i - suf) == 0) {
            double ms = v * units[u].ms;
            if (ms > 9.0e15)
                return perr(p, "duration too long at column %zu", t->start + 1);
            t->kind = T_DUR;
            t->dur_ms = (int64_t)llround(ms);
            return 0;
        }
    }
    return perr(p, "invalid number '%.*s' at column %zu (durations use ms, s, m, h or d)",
                (int)t->len, s + t->start, t->start + 1);
}

/* People who write other languages type "and", "or" and "not". Returns
 * the operator meant when the word at s[i] (any case, a whole word) is
 * one of them used as an operator, and its length in *len; NULL when it
 * is not, or is a metric of that name ("and > 1"). */
static const char *misused_logic_word(const char *s, size_t i, bool operand_expected, size_t *len)
{
    static const struct {
        const char *word, *op;
    } words[] = {{"and", "&&"}, {"or", "||"}, {"not", "!"}};
    for (size_t w = 0; w < ARRAY_LEN(words); w++) {
        size_t n = strlen(words[w].word);
        if (strncasecmp(s + i, words[w].word, n) != 0 || isalnum((unsigned char)s[i + n]) ||
            s[i + n] == '_' || s[i + n] == '.')
            continue;
        bool lower = strncmp(s + i, words[w].word, n) == 0;
        bool is_not = words[w].op[0] == '!';
        /* An operator where an operand belongs reads "not x"; "and"/"or"
         * there, lower case, is a metric. */
        size_t next = i + n + strspn(s + i + n, " \t\r\n");
        bool operand_follows = isalnum((unsigned char)s[next]) || s[next] == '_' ||
                               s[next] == '(' || s[next] == '!';
        bool misused = !lower || (operand_expected ? is_not && operand_follows : true);
        if (!misused)
            return NULL;
        *len = n;
        return words[w].op;
    }
    return NULL;
}

/* Reads the token at p->pos into p->tok. */
static int lex(struct parser *p)
{
    const char *s = p->src;
    size_t i = p->pos;
    while (is_space((unsigned char)s[i]))
        i++;
    struct token t = {.start = i, .len = 1};
    int c = (unsigned char)s[i];
    bool operand_expected = !p->after_operand;

    const char *logic_op;
    size_t logic_len;
    if (isalpha(c) && (logic_op = misused_logic_word(s, i, operand_expected, &logic_len)))
        return perr(p, "unexpected '%.*s' at column %zu (use '%s')", (int)logic_len, s + i, i + 1,
                    logic_op);
    if (c == '\0') {
        t.kind = T_END;
        t.len = 0;
    } else if (isdigit(c)) {
        if (lex_number(p, i, &t) < 0)
            return -1;
    } else if ((c >= 'a' && c <= 'z') || c == '_' || (c == '*' && operand_expected)) {
        if (lex_name(p, i, &t) < 0)
            return -1;
    } else {
        int n = (unsigned char)s[i + 1];
        switch (c) {
        case '(':
            t.kind = T_LPAREN;
            break;
        case ')':
            t.kind = T_RPAREN;
            break;
        case ',':
            t.kind = T_COMMA;
            break;
        case '+':
            t.kind = T_PLUS;
            break;
        case '-':
            t.kind = T_MINUS;
            break;
        case '*':
            t.kind = T_STAR;
            break;
        case '/':
            t.kind = T_SLASH;
            break;
        case '<':
            t.kind = n == '=' ? T_LE : T_LT;
            break;
        case '>':
            t.kind = n == '=' ? T_GE : T_GT;
            break;
        case '!':
            t.kind = n == '=' ? T_NE : T_NOT;
            break;
        case '=':
            if (n != '=')
                return perr(p, "unexpected '=' at column %zu (use '==')", i + 1);
            t.kind = T_EQ;
            break;
        case '&':
            if (n != '&')
                return perr(p, "unexpected '&' at column %zu (use '&&')", i + 1);
            t.kind = T_AND;
            break;
        case '|':
            if (n != '|')
                return perr(p, "unexpected '|' at column %zu (use '||')", i + 1);
            t.kind = T_OR;
            break;
        default:
            if (isupper(c))
                return perr(p, "metric names are lower case: unexpected '%c' at column %zu", c,
                            i + 1);
            if (isprint(c))
                return perr(p, "unexpected character '%c' at column %zu", c, i + 1);
            return perr(p, "unexpected byte 0x%02x at column %zu", (unsigned)c, i + 1);
        }
        if (t.kind == T_LE || t.kind == T_GE || t.kind == T_NE || t.kind == T_EQ ||
            t.kind == T_AND || t.kind == T_OR)
            t.len = 2;
    }
    p->tok = t;
    p->pos = t.start + t.len;
    p->after_operand = t.kind == T_NUM || t.kind == T_DUR || t.kind == T_IDENT ||
                       t.kind == T_GLOB || t.kind == T_RPAREN;
    return 0;
}

static size_t tok_col(const struct parser *p)
{
    return p->tok.start + 1;
}

/* The kind of the token after the current one, without consuming it. */
static enum tok_kind peek_next(struct parser *p)
{
    struct parser save = *p;
    p->err = NULL; /* a lexing error here is reported when reached */
    enum tok_kind k = lex(p) < 0 ? T_END : p->tok.kind;
    *p = save;
    return k;
}

/* ---- tree building ---------------------------------------------------- */

static int64_t new_node(struct parser *p, enum node_kind kind, int col)
{
    struct pol_expr *e = p->e;
    if (vec_reserve(e->nodes, e->cap_nodes, e->nnodes + 1) < 0)
        return perr(p, "out of memory");
    struct node *n = &e->nodes[e->nnodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->col = col;
    n->height = 1;
    return (int64_t)e->nnodes++;
}

/* Records that node i sits above a node of height child_height. */
static int set_height(struct parser *p, int64_t i, int child_height)
{
    struct node *n = &p->e->nodes[i];
    if (child_height + 1 > n->height)
        n->height = child_height + 1;
    if (n->height > POL_MAX_HEIGHT)
        return perr(p, "expression too long (more than %d levels of operators) at column %d",
                    POL_MAX_HEIGHT, n->col);
    return 0;
}

static int64_t new_unary(struct parser *p, enum node_kind kind, int col, int64_t a)
{
    int64_t i = new_node(p, kind, col);
    if (i < 0)
        return -1;
    p->e->nodes[i].u.kids.a = (uint32_t)a;
    return set_height(p, i, p->e->nodes[a].height) < 0 ? -1 : i;
}

static int64_t new_binary(struct parser *p, enum node_kind kind, int64_t a, int64_t b)
{
    int64_t i = new_node(p, kind, p->e->nodes[a].col);
    if (i < 0)
        return -1;
    p->e->nodes[i].u.kids.a = (uint32_t)a;
    p->e->nodes[i].u.kids.b = (uint32_t)b;
    if (set_height(p, i, p->e->nodes[a].height) < 0 || set_height(p, i, p->e->nodes[b].height) < 0)
        return -1;
    return i;
}

/* Interns a name read by the expression; returns the stable copy. */
static const char *add_input(struct parser *p, const char *s, size_t len, unsigned use)
{
    struct pol_expr *e = p->e;
    for (size_t i = 0; i < e->ninputs; i++) {
        if (strlen(e->inputs[i].name) == len && memcmp(e->inputs[i].name, s, len) == 0) {
            e->inputs[i].uses |= use;
            return e->inputs[i].name;
        }
    }
    if (vec_reserve(e->inputs, e->cap_inputs, e->ninputs + 1) < 0)
        goto oom;
    char *copy = malloc(len + 1);
    if (!copy)
        goto oom;
    memcpy(copy, s, len);
    copy[len] = '\0';
    e->inputs[e->ninputs].name = copy;
    e->inputs[e->ninputs].uses = use;
    e->ninputs++;
    return copy;
oom:
    perr(p, "out of memory");
    return NULL;
}

static const char *add_label(struct parser *p, const char *fn, const char *metric,
                             const char *dur_src, size_t dur_len)
{
    struct pol_expr *e = p->e;
    if (vec_reserve(e->labels, e->cap_labels, e->nlabels + 1) < 0)
        goto oom;
    size_t n = strlen(fn) + strlen(metric) + dur_len + 8;
    char *label = malloc(n);
    if (!label)
        goto oom;
    if (dur_src)
        snprintf(label, n, "%s(%s, %.*s)", fn, metric, (int)dur_len, dur_src);
    else
        snprintf(label, n, "%s(%s)", fn, metric);
    e->labels[e->nlabels++] = label;
    return label;
oom:
    perr(p, "out of memory");
    return NULL;
}

/* ---- parser ----------------------------------------------------------- */

static int64_t parse_or(struct parser *p);

static int enter(struct parser *p)
{
    if (++p->depth > POL_MAX_DEPTH)
        return perr(p, "expression nested too deeply at column %zu", tok_col(p));
    return 0;
}

static const struct fn_def *find_fn(const char *s, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(fn_table); i++)
        if (strlen(fn_table[i].name) == len && memcmp(fn_table[i].name, s, len) == 0)
            return &fn_table[i];
    return NULL;
}

static int err_duration(struct parser *p, int col, size_t len)
{
    return perr(p, "duration '%.*s' where a number is expected at column %d", (int)len,
                p->src + col - 1, col);
}

/* Checks argument count and kinds once a call's arguments are parsed. */
static int check_call(struct parser *p, const struct fn_def *fn, int col, const uint32_t *args,
                      uint32_t nargs)
{
    const struct node *nodes = p->e->nodes;
    if (fn->nargs < 0 && nargs == 0)
        return perr(p, "'%s' needs at least 1 argument (a glob or values) at column %d", fn->name,
                    col);
    if (fn->nargs == 0 && nargs != 0)
        return perr(p, "'%s' takes no arguments, got %u at column %d", fn->name, nargs, col);
    if (fn->nargs > 0 && nargs != (uint32_t)fn->nargs)
        return perr(p, "'%s' takes %d argument%s (%s), got %u at column %d", fn->name, fn->nargs,
                    fn->nargs == 1 ? "" : "s", fn->params, nargs, col);

    for (uint32_t i = 0; i < nargs; i++) {
        const struct node *a = &nodes[args[i]];
        bool want_metric = (fn->cls == FC_HISTORY || fn->cls == FC_AGE) && i == 0;
        bool want_duration = fn->cls == FC_HISTORY && i == 1;
        if (a->kind == N_GLOB && fn->cls != FC_AGGREGATE)
            return perr(p, "'*' glob only allowed as an aggregate argument at column %d",
                        a->star_col);
        if (a->kind == N_GLOB && nargs > 1)
            return perr(p, "a glob must be the only argument of '%s' at column %d", fn->name,
                        a->star_col);
        if (want_metric && a->kind != N_METRIC)
            return perr(p, "'%s' needs a metric name as its 1st argument at column %d", fn->name,
                        a->col);
        if (want_duration && a->kind != N_DUR)
            return perr(p, "'%s' needs a duration (like 5m) as its 2nd argument at column %d",
                        fn->name, a->col);
        if (!want_duration && a->kind == N_DUR)
            return err_duration(p, a->col, a->len);
    }
    return 0;
}

static bool is_binary_op(enum tok_kind k)
{
    return k == T_PLUS || k == T_MINUS || k == T_STAR || k == T_SLASH || k == T_LT || k == T_LE ||
           k == T_GT || k == T_GE || k == T_EQ || k == T_NE || k == T_AND || k == T_OR;
}

/* arg := expr | GLOB | DURATION. A glob or duration stands alone as an
 * argument; one that an operator follows is part of an expression, where
 * the primary rule rejects it with a message. */
static int64_t parse_arg(struct parser *p)
{
    enum tok_kind k = p->tok.kind;
    if (k == T_DUR || k == T_GLOB) {
        if (!is_binary_op(peek_next(p))) {
            struct token t = p->tok;
            int64_t i = new_node(p, k == T_DUR ? N_DUR : N_GLOB, (int)t.start + 1);
            if (i < 0)
                return -1;
            struct node *n = &p->e->nodes[i];
            n->len = (uint32_t)t.len;
            if (k == T_DUR) {
                n->u.dur_ms = t.dur_ms;
            } else {
                n->star_col = (int)t.star + 1;
                n->name = add_input(p, p->src + t.start, t.len, POL_USE_GLOB);
                if (!n->name)
                    return -1;
            }
            if (lex(p) < 0)
                return -1;
            return i;
        }
    }
    return parse_or(p);
}

static int64_t parse_call(struct parser *p, struct token name)
{
    const struct fn_def *fn = name.dotted ? NULL : find_fn(p->src + name.start, name.len);
    int col = (int)name.start + 1;
    if (!fn)
        return perr(p, "unknown function '%.*s' at column %d", (int)name.len, p->src + name.start,
                    col);
    if (enter(p) < 0 || lex(p) < 0) /* consume '(' */
        return -1;

    uint32_t args[MAX_CALL_ARGS];
    uint32_t nargs = 0;
    if (p->tok.kind != T_RPAREN) {
        for (;;) {
            if (nargs == MAX_CALL_ARGS)
                return perr(p, "too many arguments to '%s' (at most %d) at column %zu", fn->name,
                            MAX_CALL_ARGS, tok_col(p));
            int64_t a = parse_arg(p);
            if (a < 0)
                return -1;
            args[nargs++] = (uint32_t)a;
            if (p->tok.kind == T_COMMA) {
                if (lex(p) < 0)
                    return -1;
                continue;
            }
            if (p->tok.kind == T_RPAREN)
                break;
            return perr(p, "expected ',' or ')' at column %zu", tok_col(p));
        }
    }
    if (check_call(p, fn, col, args, nargs) < 0)
        return -1;
    p->depth--;

    struct pol_expr *e = p->e;
    if (vec_reserve(e->args, e->cap_args, e->nargs + nargs) < 0)
        return perr(p, "out of memory");
    int64_t i = new_node(p, N_CALL, col);
    if (i < 0)
        return -1;
    struct node *n = &e->nodes[i];
    n->u.call.fn = fn;
    n->u.call.first_arg = (uint32_t)e->nargs;
    n->u.call.nargs = nargs;
    if (nargs) /* e->args is still NULL when no call so far had arguments */
        memcpy(e->args + e->nargs, args, nargs * sizeof *args);
    e->nargs += nargs;
    for (uint32_t k = 0; k < nargs; k++)
        if (set_height(p, i, e->nodes[args[k]].height) < 0)
            return -1;

    if (fn->cls == FC_HISTORY || fn->cls == FC_AGE) {
        const struct node *metric = &e->nodes[args[0]];
        const char *dur_src = NULL;
        size_t dur_len = 0;
        if (fn->cls == FC_HISTORY) {
            const struct node *d = &e->nodes[args[1]];
            n->u.call.dur_ms = d->u.dur_ms;
            dur_src = p->src + d->col - 1;
            dur_len = d->len;
        }
        /* The metric read by history/age is not its latest value: mark it
         * by use so the agent knows which metrics need stored history. */
        e->nodes[args[0]].consumed = true;
        n->name = add_input(p, metric->name, strlen(metric->name),
                            fn->cls == FC_HISTORY ? POL_USE_HISTORY : POL_USE_AGE);
        if (!n->name)
            return -1;
        n->label = add_label(p, fn->name, metric->name, dur_src, dur_len);
        if (!n->label)
            return -1;
    }
    if (fn->id == FN_HOUR || fn->id == FN_WEEKDAY)
        e->uses_local_time = true;
    if (lex(p) < 0) /* consume ')' */
        return -1;
    return i;
}

static int64_t parse_primary(struct parser *p)
{
    struct token t = p->tok;
    switch (t.kind) {
    case T_NUM: {
        int64_t i = new_node(p, N_NUM, (int)t.start + 1);
        if (i < 0 || lex(p) < 0)
            return -1;
        p->e->nodes[i].u.num = t.num;
        return i;
    }
    case T_DUR:
        return err_duration(p, (int)t.start + 1, t.len);
    case T_GLOB:
        return perr(p, "'*' glob only allowed as an aggregate argument at column %zu", t.star + 1);
    case T_IDENT: {
        if (lex(p) < 0)
            return -1;
        if (p->tok.kind == T_LPAREN)
            return parse_call(p, t);
        int64_t i = new_node(p, N_METRIC, (int)t.start + 1);
        if (i < 0)
            return -1;
        /* Its use (latest value, or history/age when a call consumes it)
         * is known only once the enclosing call is parsed: see mark_uses. */
        const char *name = add_input(p, p->src + t.start, t.len, 0);
        if (!name)
            return -1;
        p->e->nodes[i].name = name;
        p->e->nodes[i].len = (uint32_t)t.len;
        return i;
    }
    case T_LPAREN: {
        if (enter(p) < 0 || lex(p) < 0)
            return -1;
        int64_t i = parse_or(p);
        if (i < 0)
            return -1;
        if (p->tok.kind != T_RPAREN)
            return perr(p, "expected ')' at column %zu", tok_col(p));
        p->depth--;
        if (lex(p) < 0)
            return -1;
        return i;
    }
    case T_END:
        return perr(p, "expected a number, metric or function at column %zu (end of expression)",
                    tok_col(p));
    default:
        return perr(p, "expected a number, metric or function at column %zu", tok_col(p));
    }
}

static int64_t parse_unary(struct parser *p)
{
    if (p->tok.kind != T_MINUS)
        return parse_primary(p);
    int col = (int)tok_col(p);
    if (enter(p) < 0 || lex(p) < 0)
        return -1;
    int64_t a = parse_unary(p);
    if (a < 0)
        return -1;
    p->depth--;
    return new_unary(p, N_NEG, col, a);
}

static int64_t parse_term(struct parser *p)
{
    int64_t l = parse_unary(p);
    while (l >= 0 && (p->tok.kind == T_STAR || p->tok.kind == T_SLASH)) {
        enum node_kind k = p->tok.kind == T_STAR ? N_MUL : N_DIV;
        if (lex(p) < 0)
            return -1;
        int64_t r = parse_unary(p);
        if (r < 0)
            return -1;
        l = new_binary(p, k, l, r);
    }
    return l;
}

static int64_t parse_sum(struct parser *p)
{
    int64_t l = parse_term(p);
    while (l >= 0 && (p->tok.kind == T_PLUS || p->tok.kind == T_MINUS)) {
        enum node_kind k = p->tok.kind == T_PLUS ? N_ADD : N_SUB;
        if (lex(p) < 0)
            return -1;
        int64_t r = parse_term(p);
        if (r < 0)
            return -1;
        l = new_binary(p, k, l, r);
    }
    return l;
}

static bool cmp_kind(enum tok_kind t, enum node_kind *out)
{
    switch (t) {
    case T_LT:
        *out = N_LT;
        return true;
    case T_LE:
        *out = N_LE;
        return true;
    case T_GT:
        *out = N_GT;
        return true;
    case T_GE:
        *out = N_GE;
        return true;
    case T_EQ:
        *out = N_EQ;
        return true;
    case T_NE:
        *out = N_NE;
        return true;
    default:
        return false;
    }
}

static int64_t parse_cmp(struct parser *p)
{
    int64_t l = parse_sum(p);
    enum node_kind k;
    if (l < 0 || !cmp_kind(p->tok.kind, &k))
        return l;
    if (lex(p) < 0)
        return -1;
    int64_t r = parse_sum(p);
    if (r < 0)
        return -1;
    if (cmp_kind(p->tok.kind, &k))
        return perr(p, "comparisons do not chain (use &&) at column %zu", tok_col(p));
    return new_binary(p, k, l, r);
}

static int64_t parse_not(struct parser *p)
{
    if (p->tok.kind != T_NOT)
        return parse_cmp(p);
    int col = (int)tok_col(p);
    if (enter(p) < 0 || lex(p) < 0)
        return -1;
    int64_t a = parse_not(p);
    if (a < 0)
        return -1;
    p->depth--;
    return new_unary(p, N_NOT, col, a);
}

static int64_t parse_and(struct parser *p)
{
    int64_t l = parse_not(p);
    while (l >= 0 && p->tok.kind == T_AND) {
        if (lex(p) < 0)
            return -1;
        int64_t r = parse_not(p);
        if (r < 0)
            return -1;
        l = new_binary(p, N_AND, l, r);
    }
    return l;
}

static int64_t parse_or(struct parser *p)
{
    int64_t l = parse_and(p);
    while (l >= 0 && p->tok.kind == T_OR) {
        if (lex(p) < 0)
            return -1;
        int64_t r = parse_and(p);
        if (r < 0)
            return -1;
        l = new_binary(p, N_OR, l, r);
    }
    return l;
}

/* Adds POL_USE_VALUE to every metric whose latest value some node reads. */
static void mark_uses(struct pol_expr *e)
{
    for (size_t n = 0; n < e->nnodes; n++) {
        const struct node *nd = &e->nodes[n];
        if (nd->kind != N_METRIC || nd->consumed)
            continue;
        for (size_t i = 0; i < e->ninputs; i++) {
            if (e->inputs[i].name == nd->name) {
                e->inputs[i].uses |= POL_USE_VALUE;
                break;
            }
        }
    }
}

struct pol_expr *pol_parse(const char *src, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!src) {
        errf(err, errlen, "empty expression");
        return NULL;
    }
    struct parser p = {.src = src, .err = err, .errlen = errlen};
    p.e = calloc(1, sizeof *p.e);
    if (!p.e) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    if (lex(&p) < 0)
        goto fail;
    if (p.tok.kind == T_END) {
        perr(&p, "empty expression");
        goto fail;
    }
    int64_t root = parse_or(&p);
    if (root < 0)
        goto fail;
    if (p.tok.kind != T_END) {
        if (p.tok.kind == T_RPAREN)
            perr(&p, "unmatched ')' at column %zu", tok_col(&p));
        else
            perr(&p, "unexpected '%.*s' at column %zu (expected an operator)", (int)p.tok.len,
                 src + p.tok.start, tok_col(&p));
        goto fail;
    }
    p.e->root = (uint32_t)root;
    mark_uses(p.e);
    return p.e;
fail:
    pol_free(p.e);
    return NULL;
}

void pol_free(struct pol_expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->ninputs; i++)
        free((char *)e->inputs[i].name);
    for (size_t i = 0; i < e->nlabels; i++)
        free(e->labels[i]);
    free(e->inputs);
    free(e->labels);
    free(e->nodes);
    free(e->args);
    free(e);
}

size_t pol_expr_inputs(const struct pol_expr *e, const struct pol_input **out)
{
    *out = e->inputs;
    return e->ninputs;
}

bool pol_expr_uses_local_time(const struct pol_expr *e)
{
    return e->uses_local_time;
}

/* ---- globs ------------------------------------------------------------ */

bool pol_is_glob(const char *pattern)
{
    return strchr(pattern, '*') != NULL;
}

bool pol_glob_match(const char *pattern, const char *name)
{
    const char *p = pattern, *n = name;
    for (;;) {
        if (p[0] == '*' && (p[1] == '.' || p[1] == '\0')) {
            if (*n == '\0' || *n == '.')
                return false; /* '*' needs a non-empty segment */
            while (*n && *n != '.')
                n++;
            p++;
        } else {
            while (*p && *p != '.' && *p == *n) {
                p++;
                n++;
            }
            if ((*p && *p != '.') || (*n && *n != '.'))
                return false;
        }
        if (*p == '\0' || *n == '\0')
            return *p == '\0' && *n == '\0';
        /* both at '.' */
        p++;
        n++;
    }
}

/* ---- evaluator -------------------------------------------------------- */

#define UNKNOWN ((double)NAN)

static double ev(const struct pol_expr *e, uint32_t i, const struct pol_env *env);

static void record(const struct pol_env *env, const char *name, double v, int good)
{
    if (env->input)
        env->input(env->ctx, name, good ? v : UNKNOWN, good);
}

static double ev_metric(const struct node *n, const struct pol_env *env)
{
    double v = UNKNOWN;
    int good = env->value && env->value(env->ctx, n->name, &v) == 1 && !isnan(v);
    record(env, n->name, v, good);
    return good ? v : UNKNOWN;
}

struct agg {
    const struct pol_env *env;
    size_t n;
    double sum, min, max;
};

static void agg_add(struct agg *a, double v)
{
    if (isnan(v))
        return;
    if (a->n == 0 || v < a->min)
        a->min = v;
    if (a->n == 0 || v > a->max)
        a->max = v;
    a->sum += v;
    a->n++;
}

static void agg_member(void *ctx, const char *metric, double value, int good)
{
    struct agg *a = ctx;
    good = good && !isnan(value);
    record(a->env, metric, value, good);
    if (good)
        agg_add(a, value);
}

static double ev_aggregate(const struct pol_expr *e, const struct node *n,
                           const struct pol_env *env)
{
    struct agg a = {.env = env};
    const uint32_t *args = e->args + n->u.call.first_arg;
    const struct node *first = &e->nodes[args[0]];
    if (first->kind == N_GLOB) {
        if (!env->glob || env->glob(env->ctx, first->name, agg_member, &a) < 0)
            return UNKNOWN;
    } else {
        for (uint32_t k = 0; k < n->u.call.nargs; k++)
            agg_add(&a, ev(e, args[k], env));
    }
    switch (n->u.call.fn->id) {
    case FN_COUNT:
        return (double)a.n;
    case FN_SUM:
        return a.n ? a.sum : UNKNOWN;
    case FN_AVG:
        return a.n ? a.sum / (double)a.n : UNKNOWN;
    case FN_MIN:
        return a.n ? a.min : UNKNOWN;
    case FN_MAX:
        return a.n ? a.max : UNKNOWN;
    default:
        return UNKNOWN;
    }
}

static double ev_history(const struct node *n, const struct pol_env *env)
{
    struct pol_window w = {0};
    double v = UNKNOWN;
    if (env->history &&
        env->history(env->ctx, n->name, env->now_ms - n->u.call.dur_ms, env->now_ms, &w) == 0) {
        switch (n->u.call.fn->id) {
        case FN_AVG_OVER:
            if (w.n > 0)
                v = w.sum / (double)w.n;
            break;
        case FN_MIN_OVER:
            if (w.n > 0)
                v = w.min;
            break;
        case FN_MAX_OVER:
            if (w.n > 0)
                v = w.max;
            break;
        case FN_DELTA:
            if (w.n >= 2)
                v = w.last - w.first;
            break;
        case FN_RATE:
            if (w.n >= 2 && w.last_ms > w.first_ms)
                v = (w.last - w.first) / ((double)(w.last_ms - w.first_ms) / 1000.0);
            break;
        default:
            break;
        }
    }
    record(env, n->label, v, !isnan(v));
    return v;
}

static double ev_age(const struct node *n, const struct pol_env *env)
{
    int64_t ts = 0;
    double v = UNKNOWN;
    if (env->last_good && env->last_good(env->ctx, n->name, &ts) == 1) {
        /* A sample stamped in the future (clock step) is zero seconds old. */
        v = ts >= env->now_ms ? 0.0 : (double)(env->now_ms - ts) / 1000.0;
    }
    record(env, n->label, v, !isnan(v));
    return v;
}

static double ev_call(const struct pol_expr *e, const struct node *n, const struct pol_env *env)
{
    const uint32_t *args = e->args + n->u.call.first_arg;
    switch (n->u.call.fn->cls) {
    case FC_AGGREGATE:
        return ev_aggregate(e, n, env);
    case FC_HISTORY:
        return ev_history(n, env);
    case FC_AGE:
        return ev_age(n, env);
    case FC_SCALAR:
        break;
    }
    switch (n->u.call.fn->id) {
    case FN_ABS:
        return fabs(ev(e, args[0], env));
    case FN_CLAMP: {
        double x = ev(e, args[0], env), lo = ev(e, args[1], env), hi = ev(e, args[2], env);
        if (isnan(x) || isnan(lo) || isnan(hi))
            return UNKNOWN;
        /* lo > hi gives hi: the upper bound wins, as in fmin(fmax(...)). */
        return fmin(fmax(x, lo), hi);
    }
    case FN_HOUR:
        return env->local ? (double)env->local->hour : UNKNOWN;
    case FN_WEEKDAY:
        return env->local ? (double)env->local->weekday : UNKNOWN;
    default:
        return UNKNOWN;
    }
}

static double cmp_result(bool r)
{
    return r ? 1.0 : 0.0;
}

static double ev(const struct pol_expr *e, uint32_t i, const struct pol_env *env)
{
    const struct node *n = &e->nodes[i];
    double a, b;
    switch (n->kind) {
    case N_NUM:
        return n->u.num;
    case N_GLOB:
    case N_DUR:
        return UNKNOWN; /* only ever read by the call they are arguments of */
    case N_METRIC:
        return ev_metric(n, env);
    case N_CALL:
        return ev_call(e, n, env);
    case N_NEG:
        return -ev(e, n->u.kids.a, env);
    case N_NOT:
        a = ev(e, n->u.kids.a, env);
        return isnan(a) ? UNKNOWN : cmp_result(a == 0);
    case N_AND:
        /* Kleene: a known false operand decides, whatever the other is. */
        a = ev(e, n->u.kids.a, env);
        if (a == 0)
            return 0.0;
        b = ev(e, n->u.kids.b, env);
        if (b == 0)
            return 0.0;
        return isnan(a) || isnan(b) ? UNKNOWN : 1.0;
    case N_OR:
        a = ev(e, n->u.kids.a, env);
        if (!isnan(a) && a != 0)
            return 1.0;
        b = ev(e, n->u.kids.b, env);
        if (!isnan(b) && b != 0)
            return 1.0;
        return isnan(a) || isnan(b) ? UNKNOWN : 0.0;
    default:
        break;
    }
    a = ev(e, n->u.kids.a, env);
    b = ev(e, n->u.kids.b, env);
    if (isnan(a) || isnan(b))
        return UNKNOWN;
    switch (n->kind) {
    case N_LT:
        return cmp_result(a < b);
    case N_LE:
        return cmp_result(a <= b);
    case N_GT:
        return cmp_result(a > b);
    case N_GE:
        return cmp_result(a >= b);
    case N_EQ:
        return cmp_result(a == b);
    case N_NE:
        return cmp_result(a != b);
    case N_ADD:
        return a + b;
    case N_SUB:
        return a - b;
    case N_MUL:
        return a * b;
    case N_DIV:
        return b == 0 ? UNKNOWN : a / b;
    default:
        return UNKNOWN;
    }
}

int pol_eval(const struct pol_expr *e, const struct pol_env *env, double *out)
{
    double v = ev(e, e->root, env);
    *out = v;
    return isnan(v) ? 0 : 1;
}

enum pol_truth pol_eval_truth(const struct pol_expr *e, const struct pol_env *env)
{
    double v = ev(e, e->root, env);
    if (isnan(v))
        return POL_UNKNOWN;
    return v != 0 ? POL_TRUE : POL_FALSE;
}
