/*
 * libFuzzer target for the policy language and the zone reader.
 *
 * Input starting with "TZif" is fed to pol_tz_from_tzif (and the zone, if
 * accepted, converted at a spread of times). Anything else is an
 * expression: parsed, and when it parses, evaluated against a fake env
 * whose metrics are good, unknown or NaN depending on their names, listed
 * for inputs, and run as the `when` of a policy through a few engine ticks
 * (which also compiles it the way a config does).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policies/pol_engine.h"
#include "policies/pol_lang.h"

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static int fz_value(void *ctx, const char *metric, double *out)
{
    (void)ctx;
    uint32_t h = name_hash(metric);
    switch (h % 5) {
    case 0:
        return 0;
    case 1:
        *out = NAN;
        return 1;
    case 2:
        *out = (h & 1) ? INFINITY : 0.0;
        return 1;
    default:
        *out = (double)(h % 1000) - 500.0;
        return 1;
    }
}

static const char *const fz_names[] = {
    "a", "b.c", "cooling.c1.capacity_kw", "cooling.c2.capacity_kw", "it.load_kw", "x.y.z",
};

static int fz_glob(void *ctx, const char *pattern, pol_member_fn each, void *each_ctx)
{
    (void)ctx;
    if (name_hash(pattern) % 7 == 0)
        return -1;
    for (size_t i = 0; i < sizeof fz_names / sizeof fz_names[0]; i++) {
        if (pol_glob_match(pattern, fz_names[i])) {
            double v = 0;
            int good = fz_value(NULL, fz_names[i], &v);
            each(each_ctx, fz_names[i], v, good);
        }
    }
    return 0;
}

static int fz_history(void *ctx, const char *metric, int64_t since_ms, int64_t until_ms,
                      struct pol_window *w)
{
    (void)ctx;
    uint32_t h = name_hash(metric);
    if (h % 11 == 0)
        return -1;
    memset(w, 0, sizeof *w);
    w->n = h % 4;
    if (w->n) {
        w->first_ms = since_ms;
        w->last_ms = (h & 8) ? since_ms : until_ms;
        w->first = (double)(h % 100);
        w->last = (double)(h % 37);
        w->min = fmin(w->first, w->last);
        w->max = fmax(w->first, w->last);
        w->sum = w->first + w->last;
    }
    return 0;
}

static int fz_last_good(void *ctx, const char *metric, int64_t *ts_ms)
{
    uint32_t h = name_hash(metric);
    (void)ctx;
    if (h % 3 == 0)
        return 0;
    *ts_ms = 1767225600000LL - (int64_t)(h % 100000) * 1000 + ((h & 16) ? 5000 : 0);
    return 1;
}

static void fz_input(void *ctx, const char *name, double value, int good)
{
    size_t *count = ctx;
    (*count)++;
    if (good && isnan(value))
        abort(); /* a good input must carry a number */
    if (!name[0])
        abort();
}

static void fuzz_expression(const char *src)
{
    char err[256];
    struct pol_expr *e = pol_parse(src, err, sizeof err);
    if (!e) {
        if (!err[0])
            abort(); /* every refusal explains itself */
        return;
    }
    size_t recorded = 0;
    struct pol_local local = {2026, 1, 5, 13, 45, 0, 0, 3600, false};
    struct pol_env env = {
        .ctx = &recorded,
        .value = fz_value,
        .glob = fz_glob,
        .history = fz_history,
        .last_good = fz_last_good,
        .input = fz_input,
        .now_ms = 1767225600000LL,
        .local = &local,
    };
    double v;
    int known = pol_eval(e, &env, &v);
    if (known != (isnan(v) ? 0 : 1))
        abort();
    enum pol_truth t = pol_eval_truth(e, &env);
    if ((t == POL_UNKNOWN) != !known)
        abort();
    const struct pol_input *in;
    size_t n = pol_expr_inputs(e, &in);
    for (size_t i = 0; i < n; i++)
        if (!in[i].name || !in[i].uses)
            abort();
    (void)pol_expr_uses_local_time(e);
    pol_free(e);

    struct cfg_policy p = {
        .name = "fuzz",
        .when = (char *)src,
        .for_ms = 20000,
        .clear_for_ms = 10000,
        .cooldown_ms = 30000,
        .has_schedule = (src[0] & 1),
        .schedule = {60, 30, 0x55},
    };
    struct pol_engine *eng;
    if (pol_engine_new(&eng, &p, 1, err, sizeof err) < 0)
        abort(); /* it parsed above, so it must compile */
    for (int i = 0; i < 8; i++) {
        struct pol_tick tick;
        env.now_ms += 10000;
        local.hour = (local.hour + 5) % 24;
        local.weekday = (local.weekday + 1) % 7;
        if (pol_engine_tick(eng, 0, &env, &tick) < 0)
            abort();
    }
    pol_engine_free(eng);
}

static void fuzz_tzif(const uint8_t *data, size_t size)
{
    struct pol_tz *tz;
    char err[128];
    if (pol_tz_from_tzif(data, size, &tz, err, sizeof err) < 0)
        return;
    static const int64_t times_s[] = {
        INT64_MIN / 4000, -2208988800LL,    0, 1000, 1743296400LL, 2145916800LL,
        4102444800LL,     INT64_MAX / 4000,
    };
    for (size_t i = 0; i < sizeof times_s / sizeof times_s[0]; i++) {
        struct pol_local l;
        pol_tz_local(tz, times_s[i] * 1000, &l);
        if (l.hour < 0 || l.hour > 23 || l.minute < 0 || l.minute > 59 || l.weekday < 0 ||
            l.weekday > 6 || l.month < 1 || l.month > 12 || l.day < 1 || l.day > 31)
            abort();
    }
    pol_tz_free(tz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4 && memcmp(data, "TZif", 4) == 0) {
        fuzz_tzif(data, size);
        return 0;
    }
    if (size > 4096)
        return 0;
    char *src = malloc(size + 1);
    if (!src)
        return 0;
    memcpy(src, data, size);
    src[size] = '\0';
    fuzz_expression(src);
    free(src);
    return 0;
}
