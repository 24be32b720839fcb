/*
 * pol_lang — the policy language (SPEC 3.1, 3.2): parser and evaluator.
 *
 * pol_parse() turns an expression such as
 *     "avg_over(it.load_kw, 5m) > sum(cooling.*.capacity_kw) * 0.9"
 * into a compiled tree; pol_eval() evaluates it against a struct pol_env,
 * which supplies metric values, glob members, history summaries and the
 * time. Nothing here reads the clock, a file or a database: the env is the
 * only way data comes in, so the same expression runs over the agent's
 * live metrics + SQLite history and over a replay trace in memory.
 *
 * Values are three-valued: a number, or unknown. Booleans are the numbers
 * 1 and 0 (any non-zero number is true) plus unknown. Unknown propagates
 * through arithmetic and comparisons; && || ! are Kleene logic
 * (false && unknown = false, true || unknown = true). Division by zero and
 * any arithmetic result that is not a number (inf - inf) are unknown.
 *
 * Evaluation never allocates and is safe to run on one expression from
 * several threads at once (the tree is read-only after pol_parse).
 */
#ifndef FLOE_POL_LANG_H
#define FLOE_POL_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of parentheses / unary operators / calls accepted. */
#define POL_MAX_DEPTH 64
/* Most levels of operators in one expression ("a + b + c" has 2); bounds
 * the evaluator's recursion. */
#define POL_MAX_HEIGHT 256

/* Site local time, computed by the caller (see pol_engine.h: pol_tz_local). */
struct pol_local {
    int year, month, day; /* month 1..12, day 1..31 */
    int hour, minute, second;
    int weekday;      /* 0 = Monday .. 6 = Sunday */
    int utc_offset_s; /* local = UTC + utc_offset_s */
    bool is_dst;
};

/* A summary of the good samples of one metric in a time window. The env
 * fills it; keeping it a summary (not the samples) lets SQLite answer with
 * one aggregate query and a replay trace with a scan or prefix sums, and
 * keeps evaluation free of allocation. Fields other than n are only read
 * when n > 0. */
struct pol_window {
    size_t n; /* number of good samples in the window */
    double sum, min, max;
    int64_t first_ms, last_ms; /* times of the earliest and latest sample */
    double first, last;        /* their values */
};

/* Called once per member of a glob, in any order. */
typedef void (*pol_member_fn)(void *each_ctx, const char *metric, double value, int good);

/*
 * The data source. Every callback may be NULL, which makes what it would
 * supply unknown. Strings passed to callbacks (metric names, glob patterns)
 * are owned by the expression and stay at the same address for its
 * lifetime, so an env may cache per pointer (e.g. resolve a pattern to a
 * list of metric slots once per version of its metric set).
 *
 * How the two data sources fill it:
 *   agent   value/last_good from a metrics snapshot taken once per tick
 *           (quality good = 1); glob walks that snapshot (or a per-pattern
 *           cache rebuilt when the set of metric names changes); history
 *           is one SQLite query: COUNT/SUM/MIN/MAX(value) over
 *           name = ? AND ts BETWEEN ? AND ? AND value IS NOT NULL, and the
 *           first/last rows by ts (the samples index serves all three).
 *   replay  per-metric arrays of (ts, value) in time order: value is the
 *           latest sample at or before now (unknown if it was an empty
 *           CSV value or older than the stale window), history a binary
 *           search for since_ms and a scan (or prefix sums for n/sum).
 */
struct pol_env {
    void *ctx;

    /* Latest value of a metric. Returns 1 and sets *out when the metric is
     * good; 0 when it is missing, stale or in error (unknown). A good value
     * that is NaN is treated as unknown. */
    int (*value)(void *ctx, const char *metric, double *out);

    /* Calls each() for every known metric whose name matches pattern
     * (pol_glob_match semantics), with its current value and whether it is
     * good. Returns 0, or -1 when the members cannot be listed (the
     * aggregate is then unknown, count included). */
    int (*glob)(void *ctx, const char *pattern, pol_member_fn each, void *each_ctx);

    /* Summary of the good samples of metric with since_ms <= ts <= until_ms.
     * Returns 0 (w->n may be 0), or -1 on error (unknown). */
    int (*history)(void *ctx, const char *metric, int64_t since_ms, int64_t until_ms,
                   struct pol_window *w);

    /* Time of the metric's last good sample. Returns 1 and sets *ts_ms, or
     * 0 when it never had one. */
    int (*last_good)(void *ctx, const char *metric, int64_t *ts_ms);

    /* Optional recorder, called for every value the evaluation read (a
     * metric read twice is reported twice; the right side of && / || is
     * not read when the left side decides), so a decision can store its
     * inputs. `name` is a metric name (also for each glob member), or for
     * history and age functions the call as text, e.g.
     * "avg_over(it.load_kw, 5m)" or "age(ups.a.battery_pct)". An unknown
     * value is passed as NAN with good = 0. */
    void (*input)(void *ctx, const char *name, double value, int good);

    int64_t now_ms;                /* "now" for history windows and age() */
    const struct pol_local *local; /* site local time: hour() is local->hour
                                      (0..23), weekday() local->weekday (0 =
                                      Monday); NULL makes them unknown */
};

struct pol_expr;

/* Parses src. Returns a new expression (free with pol_free), or NULL with a
 * message naming the 1-based column, e.g. "unknown function 'avgg' at
 * column 5", "expected ')' at column 12". The caller prefixes the config
 * path ("policies[2].when: "). */
struct pol_expr *pol_parse(const char *src, char *err, size_t errlen);
void pol_free(struct pol_expr *e);

/* Evaluates e. Returns 1 and sets *out to the number, or 0 when the result
 * is unknown (*out is then NAN). */
int pol_eval(const struct pol_expr *e, const struct pol_env *env, double *out);

enum pol_truth { POL_UNKNOWN = -1, POL_FALSE = 0, POL_TRUE = 1 };
/* Evaluates e as a condition: non-zero is true. */
enum pol_truth pol_eval_truth(const struct pol_expr *e, const struct pol_env *env);

/* What an expression reads, one entry per distinct name, in order of first
 * appearance. For "does a device produce this?" warnings and for knowing
 * which metrics need history. */
enum pol_use {
    POL_USE_VALUE = 1,   /* the latest value of a metric */
    POL_USE_GLOB = 2,    /* name is a glob pattern (aggregate argument) */
    POL_USE_HISTORY = 4, /* avg_over/min_over/max_over/delta/rate */
    POL_USE_AGE = 8,     /* age() */
};
struct pol_input {
    const char *name; /* owned by the expression */
    unsigned uses;    /* POL_USE_* bits */
};
/* Returns the number of entries; *out points into e (valid until pol_free). */
size_t pol_expr_inputs(const struct pol_expr *e, const struct pol_input **out);

/* True when e calls hour() or weekday() (its value depends on site time). */
bool pol_expr_uses_local_time(const struct pol_expr *e);

/* Glob matching as the language defines it: pattern and name are dotted
 * names; a pattern segment "*" matches exactly one name segment, any other
 * segment must be equal. Envs use this so every data source agrees. */
bool pol_glob_match(const char *pattern, const char *name);
bool pol_is_glob(const char *pattern);

#endif
