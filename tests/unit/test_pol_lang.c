/*
 * Unit tests of pol_lang: the parser (valid expressions by value, invalid
 * ones by exact message and column), the Kleene truth tables, aggregates
 * over globs and scalars with unknown members, every function including
 * the history ones, the input recorder and the list of inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policies/pol_lang.h"

/* ---- a fake data source ------------------------------------------------ */

#define NOW_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

struct fake_metric {
    const char *name;
    double value;
    int good;
    int64_t last_good_ms; /* 0 = never */
};

struct fake_sample {
    const char *metric;
    int64_t ts_ms;
    double value;
};

static const struct fake_metric metrics[] = {
    {"a", 2, 1, NOW_MS},
    {"b", 3, 1, NOW_MS},
    {"z", 0, 1, NOW_MS},
    {"t", 1, 1, NOW_MS},
    {"f", 0, 1, NOW_MS},
    {"u", 7, 0, NOW_MS - 600000}, /* stale: value unknown, age known */
    {"nan_good", NAN, 1, NOW_MS},
    {"big", 1e308, 1, NOW_MS},
    {"it.load_kw", 120, 1, NOW_MS - 42000},
    {"cooling.c1.capacity_kw", 100, 1, NOW_MS},
    {"cooling.c2.capacity_kw", 50, 1, NOW_MS},
    {"cooling.c3.capacity_kw", 80, 0, NOW_MS - 3600000},
    {"cooling.c3.extra.capacity_kw", 1000, 1, NOW_MS},
    {"dead.d1.kw", 1, 0, 0},
    {"dead.d2.kw", 1, 0, 0},
};

static const struct fake_sample samples[] = {
    {"it.load_kw", NOW_MS - 700000, 50},  {"it.load_kw", NOW_MS - 400000, 100},
    {"it.load_kw", NOW_MS - 200000, 110}, {"it.load_kw", NOW_MS - 100000, 130},
    {"it.load_kw", NOW_MS, 120},          {"single", NOW_MS - 30000, 5},
    {"same_ts", NOW_MS - 30000, 5},       {"same_ts", NOW_MS - 30000, 9},
};

#define MAX_RECORDED 64
struct fake_env {
    int glob_fails;
    int history_fails;
    size_t nrecorded;
    struct {
        char name[64];
        const char *ptr;
        double value;
        int good;
    } recorded[MAX_RECORDED];
};

static const struct fake_metric *find_metric(const char *name)
{
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++)
        if (strcmp(metrics[i].name, name) == 0)
            return &metrics[i];
    return NULL;
}

static int fake_value(void *ctx, const char *metric, double *out)
{
    (void)ctx;
    const struct fake_metric *m = find_metric(metric);
    if (!m || !m->good)
        return 0;
    *out = m->value;
    return 1;
}

static int fake_glob(void *ctx, const char *pattern, pol_member_fn each, void *each_ctx)
{
    struct fake_env *fe = ctx;
    if (fe->glob_fails)
        return -1;
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++)
        if (pol_glob_match(pattern, metrics[i].name))
            each(each_ctx, metrics[i].name, metrics[i].value, metrics[i].good);
    return 0;
}

static int fake_history(void *ctx, const char *metric, int64_t since_ms, int64_t until_ms,
                        struct pol_window *w)
{
    struct fake_env *fe = ctx;
    if (fe->history_fails)
        return -1;
    memset(w, 0, sizeof *w);
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        const struct fake_sample *s = &samples[i];
        if (strcmp(s->metric, metric) != 0 || s->ts_ms < since_ms || s->ts_ms > until_ms)
            continue;
        if (w->n == 0) {
            w->min = w->max = s->value;
            w->first = s->value;
            w->first_ms = s->ts_ms;
        }
        w->min = fmin(w->min, s->value);
        w->max = fmax(w->max, s->value);
        w->sum += s->value;
        w->last = s->value;
        w->last_ms = s->ts_ms;
        w->n++;
    }
    return 0;
}

static int fake_last_good(void *ctx, const char *metric, int64_t *ts_ms)
{
    (void)ctx;
    const struct fake_metric *m = find_metric(metric);
    if (!m || !m->last_good_ms)
        return 0;
    *ts_ms = m->last_good_ms;
    return 1;
}

static void fake_input(void *ctx, const char *name, double value, int good)
{
    struct fake_env *fe = ctx;
    if (fe->nrecorded == MAX_RECORDED)
        return;
    snprintf(fe->recorded[fe->nrecorded].name, sizeof fe->recorded[0].name, "%s", name);
    fe->recorded[fe->nrecorded].ptr = name;
    fe->recorded[fe->nrecorded].value = value;
    fe->recorded[fe->nrecorded].good = good;
    fe->nrecorded++;
}

/* Wednesday 2026-01-07 13:45 local. */
static const struct pol_local local_wed = {2026, 1, 7, 13, 45, 0, 2, 3600, false};

static struct pol_env make_env(struct fake_env *fe)
{
    memset(fe, 0, sizeof *fe);
    struct pol_env env = {
        .ctx = fe,
        .value = fake_value,
        .glob = fake_glob,
        .history = fake_history,
        .last_good = fake_last_good,
        .input = fake_input,
        .now_ms = NOW_MS,
        .local = &local_wed,
    };
    return env;
}

/* Parses and evaluates src; fails the test on a parse error. */
static int eval_src(const char *src, struct pol_env *env, double *out)
{
    char err[256];
    struct pol_expr *e = pol_parse(src, err, sizeof err);
    if (!e)
        fail_msg("'%s' did not parse: %s", src, err);
    int rc = pol_eval(e, env, out);
    pol_free(e);
    return rc;
}

#define UNK NAN /* expected "unknown" in value tables */

struct value_case {
    const char *src;
    double want; /* UNK = unknown */
};

static void check_values(const struct value_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct fake_env fe;
        struct pol_env env = make_env(&fe);
        double v;
        int known = eval_src(cases[i].src, &env, &v);
        if (isnan(cases[i].want)) {
            if (known)
                fail_msg("'%s' = %g, want unknown", cases[i].src, v);
            if (!isnan(v))
                fail_msg("'%s': unknown result must be NaN in *out", cases[i].src);
        } else {
            if (!known)
                fail_msg("'%s' is unknown, want %g", cases[i].src, cases[i].want);
            if (isinf(cases[i].want)
                    ? v != cases[i].want
                    : fabs(v - cases[i].want) > 1e-9 * fmax(1, fabs(cases[i].want)))
                fail_msg("'%s' = %.17g, want %.17g", cases[i].src, v, cases[i].want);
        }
    }
}

/* ---- parser ------------------------------------------------------------ */

static void arithmetic_and_precedence_follow_the_grammar(void **unused)
{
    (void)unused;
    static const struct value_case cases[] = {
        {"1 + 2 * 3", 7},
        {"(1 + 2) * 3", 9},
        {"10 - 4 - 3", 3}, /* left associative */
        {"24 / 4 / 3", 2},
        {"-2 - -3", 1},
        {"--2", 2},
        {"2 * -a", -4},
        {"10 / 4", 2.5},
        {"1e3", 1000},
        {"2.5e-1", 0.25},
        {"1E+2", 100},
        {"0.5", 0.5},
        {"a*b", 6}, /* '*' after an operand multiplies */
        {"it.load_kw*1.1", 132},
        {"it.load_kw * 1.10 - cooling.c1.capacity_kw", 32},
        {"a - b*2", -4},
        {"1 + 2 < 4 && !z", 1}, /* arithmetic binds tighter than comparison */
        {"!a - 2", 1},          /* ! applies to the whole comparison */
        {"!!a", 1},
        {"1 || 0 && 0", 1}, /* && binds tighter than || */
        {"(1 || 0) && 0", 0},
        {"  a\t+\nb  ", 5},
        {"a == 2", 1},
        {"a != 2", 0},
        {"a < b", 1},
        {"a <= 2", 1},
        {"a > b", 0},
        {"a >= 3", 0},
        {"-a < -1", 1},
        {"_x", UNK}, /* a metric name may start with '_' */
    };
    check_values(cases, sizeof cases / sizeof cases[0]);
}

struct error_case {
    const char *src;
    const char *message;
};

static void invalid_expressions_name_the_column(void **unused)
{
    (void)unused;
    static const struct error_case cases[] = {
        {"avgg(x)", "unknown function 'avgg' at column 1"},
        {"x + avgg(y)", "unknown function 'avgg' at column 5"},
        {"foo.bar(1)", "unknown function 'foo.bar' at column 1"},
        {"(a + b * 2 3", "expected ')' at column 12"},
        {"(a + b", "expected ')' at column 7"},
        {"a.*.b > 1", "'*' glob only allowed as an aggregate argument at column 3"},
        {"x * *.y", "'*' glob only allowed as an aggregate argument at column 5"},
        {"sum(a.* + 1)", "'*' glob only allowed as an aggregate argument at column 7"},
        {"avg_over(a.*, 5m)", "'*' glob only allowed as an aggregate argument at column 12"},
        {"age(a.*)", "'*' glob only allowed as an aggregate argument at column 7"},
        {"abs(x, y)", "'abs' takes 1 argument (x), got 2 at column 1"},
        {"clamp(x, 1)", "'clamp' takes 3 arguments (x, lo, hi), got 2 at column 1"},
        {"rate(x, 5m, 1)", "'rate' takes 2 arguments (metric, duration), got 3 at column 1"},
        {"delta(x)", "'delta' takes 2 arguments (metric, duration), got 1 at column 1"},
        {"age()", "'age' takes 1 argument (metric), got 0 at column 1"},
        {"hour(1)", "'hour' takes no arguments, got 1 at column 1"},
        {"sum()", "'sum' needs at least 1 argument (a glob or values) at column 1"},
        {"sum(a.*, b)", "a glob must be the only argument of 'sum' at column 7"},
        {"x > 5m", "duration '5m' where a number is expected at column 5"},
        {"sum(5m)", "duration '5m' where a number is expected at column 5"},
        {"abs(500ms + 1)", "duration '500ms' where a number is expected at column 5"},
        {"clamp(1, 2, 1.5h)", "duration '1.5h' where a number is expected at column 13"},
        {"avg_over(x, 300)",
         "'avg_over' needs a duration (like 5m) as its 2nd argument at column 13"},
        {"avg_over(x + 1, 5m)", "'avg_over' needs a metric name as its 1st argument at column 10"},
        {"age(1)", "'age' needs a metric name as its 1st argument at column 5"},
        {"sum(a.*", "expected ',' or ')' at column 8"},
        {"max(a b)", "expected ',' or ')' at column 7"},
        {"", "empty expression"},
        {"   ", "empty expression"},
        {"a <", "expected a number, metric or function at column 4 (end of expression)"},
        {"-", "expected a number, metric or function at column 2 (end of expression)"},
        {"a + * 2", "'*' glob only allowed as an aggregate argument at column 5"},
        {"a + )", "expected a number, metric or function at column 5"},
        {"a < b < c", "comparisons do not chain (use &&) at column 7"},
        {"a = b", "unexpected '=' at column 3 (use '==')"},
        {"a & b", "unexpected '&' at column 3 (use '&&')"},
        {"a | b", "unexpected '|' at column 3 (use '||')"},
        {"a b", "unexpected 'b' at column 3 (expected an operator)"},
        {"a)", "unmatched ')' at column 2"},
        {"It.load", "metric names are lower case: unexpected 'I' at column 1"},
        {"it.Load", "metric names are lower case: unexpected 'L' at column 4"},
        {"a.*x", "'*' must stand for a whole name segment at column 4"},
        {"a. b", "expected a name segment after '.' at column 3"},
        {"a.", "expected a name segment after '.' at column 3"},
        {"5min", "invalid number '5min' at column 1 (durations use ms, s, m, h or d)"},
        {"2x", "invalid number '2x' at column 1 (durations use ms, s, m, h or d)"},
        {"1.5.2", "invalid number at column 1"},
        {"1.", "invalid number at column 1"},
        {"1e999", "number out of range at column 1"},
        {"a # b", "unexpected character '#' at column 3"},
        /* Words from other languages name the operator meant. */
        {"a > 1 and b > 2", "unexpected 'and' at column 7 (use '&&')"},
        {"a > 1 or b > 2", "unexpected 'or' at column 7 (use '||')"},
        {"(a > 1 and b)", "unexpected 'and' at column 8 (use '&&')"},
        {"max(a or b)", "unexpected 'or' at column 7 (use '||')"},
        {"a > 1 AND b > 2", "unexpected 'AND' at column 7 (use '&&')"},
        {"not a > 1", "unexpected 'not' at column 1 (use '!')"},
        {"not(a > 1)", "unexpected 'not' at column 1 (use '!')"},
        {"a && NOT b", "unexpected 'NOT' at column 6 (use '!')"},
        {"a \x01", "unexpected byte 0x01 at column 3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "untouched";
        struct pol_expr *e = pol_parse(cases[i].src, err, sizeof err);
        if (e) {
            pol_free(e);
            fail_msg("'%s' parsed, want error \"%s\"", cases[i].src, cases[i].message);
        }
        if (strcmp(err, cases[i].message) != 0)
            fail_msg("'%s': got \"%s\", want \"%s\"", cases[i].src, err, cases[i].message);
    }
}

static void nesting_deeper_than_the_limit_is_an_error_not_a_crash(void **unused)
{
    (void)unused;
    char src[4 * POL_MAX_DEPTH + 8];
    char err[128];
    /* POL_MAX_DEPTH levels parse... */
    size_t n = 0;
    for (int i = 0; i < POL_MAX_DEPTH; i++)
        src[n++] = '(';
    src[n++] = '1';
    for (int i = 0; i < POL_MAX_DEPTH; i++)
        src[n++] = ')';
    src[n] = '\0';
    struct pol_expr *e = pol_parse(src, err, sizeof err);
    assert_non_null(e);
    pol_free(e);
    /* ...one more does not, and neither does a long run of '!' or '-'. */
    n = 0;
    for (int i = 0; i <= POL_MAX_DEPTH; i++)
        src[n++] = '(';
    src[n++] = '1';
    src[n] = '\0';
    assert_null(pol_parse(src, err, sizeof err));
    char want[64];
    snprintf(want, sizeof want, "expression nested too deeply at column %d", POL_MAX_DEPTH + 1);
    assert_string_equal(err, want);
    memset(src, '!', 2 * POL_MAX_DEPTH);
    strcpy(src + 2 * POL_MAX_DEPTH, "a");
    assert_null(pol_parse(src, err, sizeof err));
    memset(src, '-', 2 * POL_MAX_DEPTH);
    assert_null(pol_parse(src, err, sizeof err));
    assert_null(pol_parse(NULL, err, sizeof err));
    assert_string_equal(err, "empty expression");
}

static void chains_longer_than_the_height_limit_are_an_error(void **unused)
{
    (void)unused;
    char src[8 * POL_MAX_HEIGHT];
    char err[128];
    /* POL_MAX_HEIGHT - 1 additions give a tree POL_MAX_HEIGHT levels high. */
    strcpy(src, "1");
    for (int i = 1; i < POL_MAX_HEIGHT; i++)
        strcat(src, " + 1");
    struct pol_expr *e = pol_parse(src, err, sizeof err);
    assert_non_null(e);
    struct fake_env fe;
    double v;
    struct pol_env env = {.ctx = &fe};
    assert_int_equal(pol_eval(e, &env, &v), 1);
    assert_true(v == POL_MAX_HEIGHT);
    pol_free(e);
    strcat(src, " && 1");
    assert_null(pol_parse(src, err, sizeof err));
    char want[96];
    snprintf(want, sizeof want,
             "expression too long (more than %d levels of operators) at column 1", POL_MAX_HEIGHT);
    assert_string_equal(err, want);
}

static void a_small_error_buffer_truncates_safely(void **unused)
{
    (void)unused;
    char err[8];
    assert_null(pol_parse("avgg(x)", err, sizeof err));
    assert_string_equal(err, "unknown");
    assert_null(pol_parse("avgg(x)", NULL, 0));
}

/* ---- three-valued logic -------------------------------------------------- */

struct truth_case {
    const char *src;
    enum pol_truth want;
};

static void logic_is_kleene_over_true_false_unknown(void **unused)
{
    (void)unused;
    /* t = 1, f = 0, u = unknown (stale) */
    static const struct truth_case cases[] = {
        {"t && t", POL_TRUE},
        {"t && f", POL_FALSE},
        {"t && u", POL_UNKNOWN},
        {"f && t", POL_FALSE},
        {"f && f", POL_FALSE},
        {"f && u", POL_FALSE},
        {"u && t", POL_UNKNOWN},
        {"u && f", POL_FALSE},
        {"u && u", POL_UNKNOWN},
        {"t || t", POL_TRUE},
        {"t || f", POL_TRUE},
        {"t || u", POL_TRUE},
        {"f || t", POL_TRUE},
        {"f || f", POL_FALSE},
        {"f || u", POL_UNKNOWN},
        {"u || t", POL_TRUE},
        {"u || f", POL_UNKNOWN},
        {"u || u", POL_UNKNOWN},
        {"!t", POL_FALSE},
        {"!f", POL_TRUE},
        {"!u", POL_UNKNOWN},
        {"!(u && f)", POL_TRUE},
        {"!(u || t)", POL_FALSE},
        /* any non-zero number is true */
        {"b && -0.5", POL_TRUE},
        {"a * 0 || 0", POL_FALSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fake_env fe;
        struct pol_env env = make_env(&fe);
        char err[128];
        struct pol_expr *e = pol_parse(cases[i].src, err, sizeof err);
        assert_non_null(e);
        enum pol_truth got = pol_eval_truth(e, &env);
        pol_free(e);
        if (got != cases[i].want)
            fail_msg("'%s' = %d, want %d", cases[i].src, got, cases[i].want);
    }
}

static void unknown_propagates_through_arithmetic_and_comparisons(void **unused)
{
    (void)unused;
    static const struct value_case cases[] = {
        {"u + 1", UNK},
        {"1 - u", UNK},
        {"u * 0", UNK},
        {"0 / u", UNK},
        {"-u", UNK},
        {"u < 1", UNK},
        {"u <= 1", UNK},
        {"1 > u", UNK},
        {"u >= u", UNK},
        {"u == u", UNK},
        {"u != 1", UNK},
        {"missing.metric", UNK},
        {"a / z", UNK},
        {"a / 0", UNK},
        {"1 / z || 1", 1},
        {"nan_good", UNK},
        {"big * 10", INFINITY},       /* overflow is a number, */
        {"big * 10 - big * 10", UNK}, /* but inf - inf is not */
        {"abs(u)", UNK},
        {"clamp(u, 0, 1)", UNK},
        {"clamp(1, u, 2)", UNK},
        {"clamp(1, 0, u)", UNK},
    };
    check_values(cases, sizeof cases / sizeof cases[0]);
}

/* ---- aggregates and functions -------------------------------------------- */

static void aggregates_skip_unknown_members(void **unused)
{
    (void)unused;
    /* cooling.*.capacity_kw: c1 = 100, c2 = 50 good, c3 stale (80);
     * cooling.c3.extra.capacity_kw has one segment too many. */
    static const struct value_case cases[] = {
        {"sum(cooling.*.capacity_kw)", 150},
        {"avg(cooling.*.capacity_kw)", 75},
        {"min(cooling.*.capacity_kw)", 50},
        {"max(cooling.*.capacity_kw)", 100},
        {"count(cooling.*.capacity_kw)", 2},
        {"sum(*.c1.capacity_kw)", 100},
        {"count(cooling.*.*.capacity_kw)", 1},
        {"sum(dead.*.kw)", UNK}, /* members exist, none good */
        {"avg(dead.*.kw)", UNK},
        {"min(dead.*.kw)", UNK},
        {"max(dead.*.kw)", UNK},
        {"count(dead.*.kw)", 0},
        {"sum(nothing.*)", UNK}, /* no members at all */
        {"count(nothing.*)", 0},
        {"sum(a, b, u)", 5},
        {"avg(a, b, u)", 2.5},
        {"min(a, b, u)", 2},
        {"max(a, b, u)", 3},
        {"count(a, b, u)", 2},
        {"count(u)", 0},
        {"sum(u, u)", UNK},
        {"avg(1 / z)", UNK},
        {"max(a * 10, b + 1, -1)", 20},
        {"sum(a)", 2},
    };
    check_values(cases, sizeof cases / sizeof cases[0]);
}

static void a_glob_the_env_cannot_list_makes_even_count_unknown(void **unused)
{
    (void)unused;
    struct fake_env fe;
    struct pol_env env = make_env(&fe);
    fe.glob_fails = 1;
    double v;
    assert_int_equal(eval_src("count(cooling.*.capacity_kw)", &env, &v), 0);
    env.glob = NULL;
    assert_int_equal(eval_src("sum(cooling.*.capacity_kw)", &env, &v), 0);
}

static void scalar_and_time_functions(void **unused)
{
    (void)unused;
    static const struct value_case cases[] = {
        {"abs(0 - 5)", 5},
        {"abs(5)", 5},
        {"abs(-a)", 2},
        {"clamp(15, 0, 10)", 10},
        {"clamp(-1, 0, 10)", 0},
        {"clamp(5, 0, 10)", 5},
        {"clamp(5, 10, 0)", 0}, /* lo > hi: hi wins */
        {"hour()", 13},
        {"weekday()", 2},
        {"hour() >= 13 && weekday() < 5", 1},
        {"age(it.load_kw)", 42},
        {"age(u)", 600}, /* stale: value unknown, age known */
        {"age(missing)", UNK},
        {"age(dead.d1.kw)", UNK}, /* never had a good sample */
    };
    check_values(cases, sizeof cases / sizeof cases[0]);

    struct fake_env fe;
    struct pol_env env = make_env(&fe);
    env.local = NULL;
    double v;
    assert_int_equal(eval_src("hour()", &env, &v), 0);
    assert_int_equal(eval_src("weekday()", &env, &v), 0);
    env = make_env(&fe);
    env.now_ms = NOW_MS - 60000; /* sample stamped after "now" */
    assert_int_equal(eval_src("age(it.load_kw)", &env, &v), 1);
    assert_true(v == 0.0);
}

static void history_functions_use_the_window_ending_now(void **unused)
{
    (void)unused;
    /* it.load_kw samples: -700s 50, -400s 100, -200s 110, -100s 130, 0s 120 */
    static const struct value_case cases[] = {
        {"avg_over(it.load_kw, 5m)", 120}, /* 110, 130, 120 */
        {"min_over(it.load_kw, 5m)", 110},
        {"max_over(it.load_kw, 5m)", 130},
        {"delta(it.load_kw, 5m)", 10},      /* 120 - 110 */
        {"rate(it.load_kw, 5m)", 0.05},     /* 10 over 200 s */
        {"avg_over(it.load_kw, 10m)", 115}, /* 100, 110, 130, 120 */
        {"delta(it.load_kw, 600s)", 20},
        {"rate(it.load_kw, 10m)", 0.05},
        {"avg_over(it.load_kw, 400s)", 115}, /* the window's start is inclusive */
        {"max_over(it.load_kw, 1h)", 130},
        {"min_over(it.load_kw, 1d)", 50},
        {"avg_over(it.load_kw, 0ms)", 120}, /* [now, now] */
        {"avg_over(single, 1m)", 5},
        {"delta(single, 1m)", UNK}, /* needs two samples */
        {"rate(single, 1m)", UNK},
        {"delta(same_ts, 1m)", 4},
        {"rate(same_ts, 1m)", UNK},     /* no time between them */
        {"avg_over(single, 10s)", UNK}, /* no sample in the window */
        {"min_over(nothing, 1h)", UNK},
        {"max_over(nothing, 1h)", UNK},
        {"rate(it.load_kw, 5m) * 60 > 2", 1},
    };
    check_values(cases, sizeof cases / sizeof cases[0]);

    struct fake_env fe;
    struct pol_env env = make_env(&fe);
    fe.history_fails = 1;
    double v;
    assert_int_equal(eval_src("avg_over(it.load_kw, 5m)", &env, &v), 0);
    env.history = NULL;
    assert_int_equal(eval_src("avg_over(it.load_kw, 5m)", &env, &v), 0);
}

/* ---- what an evaluation reads ------------------------------------------- */

static int recorded_index(const struct fake_env *fe, const char *name)
{
    for (size_t i = 0; i < fe->nrecorded; i++)
        if (strcmp(fe->recorded[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void every_value_read_is_recorded_as_an_input(void **unused)
{
    (void)unused;
    struct fake_env fe;
    struct pol_env env = make_env(&fe);
    double v;
    assert_int_equal(eval_src("sum(cooling.*.capacity_kw) < it.load_kw + u && "
                              "avg_over(it.load_kw, 5m) > 0 || age(u) > 1",
                              &env, &v),
                     1);
    assert_int_equal(fe.nrecorded, 7);
    int i = recorded_index(&fe, "cooling.c1.capacity_kw");
    assert_true(i >= 0 && fe.recorded[i].good && fe.recorded[i].value == 100);
    i = recorded_index(&fe, "cooling.c3.capacity_kw");
    assert_true(i >= 0 && !fe.recorded[i].good && isnan(fe.recorded[i].value));
    i = recorded_index(&fe, "it.load_kw");
    assert_true(i >= 0 && fe.recorded[i].good && fe.recorded[i].value == 120);
    i = recorded_index(&fe, "u");
    assert_true(i >= 0 && !fe.recorded[i].good);
    i = recorded_index(&fe, "avg_over(it.load_kw, 5m)");
    assert_true(i >= 0 && fe.recorded[i].good && fe.recorded[i].value == 120);
    i = recorded_index(&fe, "age(u)");
    assert_true(i >= 0 && fe.recorded[i].good && fe.recorded[i].value == 600);
    assert_true(recorded_index(&fe, "cooling.c2.capacity_kw") >= 0);

    /* A known false left side of && decides: the right side is not read. */
    env = make_env(&fe);
    assert_int_equal(eval_src("f && b > 1", &env, &v), 1);
    assert_int_equal(fe.nrecorded, 1);
    assert_string_equal(fe.recorded[0].name, "f");
}

struct inputs_case {
    const char *src;
    size_t n;
    struct pol_input want[4];
};

static void inputs_list_each_name_once_with_how_it_is_read(void **unused)
{
    (void)unused;
    static const struct inputs_case cases[] = {
        {"cooling.capacity_kw < it.load_kw * 1.10",
         2,
         {{"cooling.capacity_kw", POL_USE_VALUE}, {"it.load_kw", POL_USE_VALUE}}},
        {"avg_over(it.load_kw, 5m) > it.load_kw + sum(cooling.*.kw) + age(ups.b) + a - a",
         4,
         {{"it.load_kw", POL_USE_HISTORY | POL_USE_VALUE},
          {"cooling.*.kw", POL_USE_GLOB},
          {"ups.b", POL_USE_AGE},
          {"a", POL_USE_VALUE}}},
        {"delta(x, 1m) > 0 && rate(x, 5m) < 1", 1, {{"x", POL_USE_HISTORY}}},
        {"hour() < 5 && 1 > 0", 0, {{NULL, 0}}},
        /* Where an operand belongs, and/or/not are metrics like any
         * other, as are names that only begin like them. */
        {"and > 1 || not > 2 || not - or < 3",
         3,
         {{"and", POL_USE_VALUE}, {"not", POL_USE_VALUE}, {"or", POL_USE_VALUE}}},
        {"android.kw + order.n + not.x > 0",
         3,
         {{"android.kw", POL_USE_VALUE}, {"order.n", POL_USE_VALUE}, {"not.x", POL_USE_VALUE}}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char err[128];
        struct pol_expr *e = pol_parse(cases[c].src, err, sizeof err);
        if (!e)
            fail_msg("'%s': %s", cases[c].src, err);
        const struct pol_input *in;
        size_t n = pol_expr_inputs(e, &in);
        if (n != cases[c].n)
            fail_msg("'%s': %zu inputs, want %zu", cases[c].src, n, cases[c].n);
        for (size_t i = 0; i < n; i++) {
            if (strcmp(in[i].name, cases[c].want[i].name) != 0 ||
                in[i].uses != cases[c].want[i].uses)
                fail_msg("'%s': input %zu = %s/%u, want %s/%u", cases[c].src, i, in[i].name,
                         in[i].uses, cases[c].want[i].name, cases[c].want[i].uses);
        }
        pol_free(e);
    }
}

static void local_time_use_is_reported(void **unused)
{
    (void)unused;
    char err[64];
    struct pol_expr *e = pol_parse("weekday() < 5", err, sizeof err);
    assert_true(pol_expr_uses_local_time(e));
    pol_free(e);
    e = pol_parse("a < 5", err, sizeof err);
    assert_false(pol_expr_uses_local_time(e));
    pol_free(e);
    pol_free(NULL);
}

static void env_names_are_stable_pointers_for_caching(void **unused)
{
    (void)unused;
    char err[64];
    struct pol_expr *e = pol_parse("a + a + sum(x.*) + sum(x.*)", err, sizeof err);
    const struct pol_input *in;
    assert_int_equal(pol_expr_inputs(e, &in), 2);
    /* The recorder sees the interned pointers: the same for both reads. */
    struct fake_env fe;
    struct pol_env env = make_env(&fe);
    double v;
    pol_eval(e, &env, &v);
    assert_int_equal(fe.nrecorded, 2); /* x.* has no members */
    assert_ptr_equal(fe.recorded[0].ptr, in[0].name);
    assert_ptr_equal(fe.recorded[1].ptr, in[0].name);
    pol_free(e);
}

struct glob_case {
    const char *pattern, *name;
    bool match;
};

static void globs_match_exactly_one_segment_per_star(void **unused)
{
    (void)unused;
    static const struct glob_case cases[] = {
        {"a.*.c", "a.b.c", true}, {"a.*.c", "a.bb.c", true},    {"a.*.c", "a.b.d", false},
        {"a.*", "a.b.c", false},  {"a.*", "a", false},          {"*", "a", true},
        {"*", "a.b", false},      {"*.*", "a.b", true},         {"a.b", "a.b", true},
        {"a.b", "a.bc", false},   {"a.bc", "a.b", false},       {"a.*.c", "a..c", false},
        {"*.b", ".b", false},     {"a.*.c.*", "a.x.c.y", true}, {"a.*.c", "a.x.c.d", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (pol_glob_match(cases[i].pattern, cases[i].name) != cases[i].match)
            fail_msg("pol_glob_match(%s, %s) != %d", cases[i].pattern, cases[i].name,
                     cases[i].match);
    assert_true(pol_is_glob("a.*"));
    assert_false(pol_is_glob("a.b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arithmetic_and_precedence_follow_the_grammar),
        cmocka_unit_test(invalid_expressions_name_the_column),
        cmocka_unit_test(nesting_deeper_than_the_limit_is_an_error_not_a_crash),
        cmocka_unit_test(chains_longer_than_the_height_limit_are_an_error),
        cmocka_unit_test(a_small_error_buffer_truncates_safely),
        cmocka_unit_test(logic_is_kleene_over_true_false_unknown),
        cmocka_unit_test(unknown_propagates_through_arithmetic_and_comparisons),
        cmocka_unit_test(aggregates_skip_unknown_members),
        cmocka_unit_test(a_glob_the_env_cannot_list_makes_even_count_unknown),
        cmocka_unit_test(scalar_and_time_functions),
        cmocka_unit_test(history_functions_use_the_window_ending_now),
        cmocka_unit_test(every_value_read_is_recorded_as_an_input),
        cmocka_unit_test(inputs_list_each_name_once_with_how_it_is_read),
        cmocka_unit_test(local_time_use_is_reported),
        cmocka_unit_test(env_names_are_stable_pointers_for_caching),
        cmocka_unit_test(globs_match_exactly_one_segment_per_star),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
