/*
 * libFuzzer target for the replay CSV reader (policies/replay.c) and the
 * trace it builds: the input is a CSV file. When it is accepted, every
 * series is queried through the pol_env the replay runs on — value,
 * last_good and history windows of several lengths at times spread over
 * the trace — and history answers are checked for consistency (n within
 * the series, min <= max, first/last inside the window).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "policies/replay.h"
#include "policies/replay_trace.h"

static void check_series(struct replay_trace *t, const struct pol_env *env, const char *name,
                         int64_t first, int64_t last)
{
    static const int64_t lengths[] = {0, 1, 999, 10000, 300000, 3600000, 86400000};
    int64_t span = last - first;
    for (int k = 0; k <= 8; k++) {
        int64_t now = first + (span / 8) * k;
        double v;
        int64_t ts;
        replay_trace_set_now(t, now);
        if (env->value(env->ctx, name, &v) == 1 && isnan(v))
            abort(); /* a good value is a number */
        if (env->last_good(env->ctx, name, &ts) == 1 && ts > now)
            abort();
        for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
            struct pol_window w;
            if (env->history(env->ctx, name, now - lengths[i], now, &w) != 0)
                abort();
            if (w.n && (w.min > w.max || w.first_ms < now - lengths[i] || w.last_ms > now ||
                        w.first_ms > w.last_ms))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct replay_trace *t = replay_trace_new();
    char err[512];
    if (replay_read_csv(t, "fuzz.csv", (const char *)data, size, err, sizeof err) == 0) {
        struct pol_env env;
        int64_t first, last;
        replay_trace_env(t, &env);
        if (replay_trace_bounds(t, &first, &last) == 0)
            for (size_t i = 0; i < replay_trace_count(t); i++)
                check_series(t, &env, replay_trace_name(t, i), first, last);
        for (size_t i = 0; i < replay_trace_count(t); i++)
            replay_trace_median_spacing(t, i);
    }
    replay_trace_free(t);
    return 0;
}
