/*
 * live_env — see live_env.h.
 */
#include "core/live_env.h"

#include <math.h>
#include <string.h>

#include "lib/log.h"

static const struct metric_snapshot *find(const struct live_env *le, const char *name)
{
    size_t lo = 0, hi = le->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(le->snap[mid].name, name);
        if (c == 0)
            return &le->snap[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int env_value(void *ctx, const char *metric, double *out)
{
    const struct metric_snapshot *m = find(ctx, metric);
    if (!m || m->quality != MQ_GOOD || isnan(m->value))
        return 0;
    *out = m->value;
    return 1;
}

static int env_glob(void *ctx, const char *pattern, pol_member_fn each, void *each_ctx)
{
    const struct live_env *le = ctx;
    /* Names are sorted, so the members of a pattern whose first segment is
     * literal are one contiguous run; scanning all is still cheap at the
     * few thousand metrics a site has, and simpler. */
    for (size_t i = 0; i < le->n; i++) {
        const struct metric_snapshot *m = &le->snap[i];
        if (pol_glob_match(pattern, m->name))
            each(each_ctx, m->name, m->value, m->quality == MQ_GOOD && !isnan(m->value));
    }
    return 0;
}

static int env_history(void *ctx, const char *metric, int64_t since_ms, int64_t until_ms,
                       struct pol_window *w)
{
    const struct live_env *le = ctx;
    if (!le->store)
        return -1;
    struct store_window sw;
    char err[256];
    if (store_window(le->store, metric, since_ms, until_ms, &sw, err, sizeof err) != 0) {
        log_warn("policy history of %s unavailable: %s", metric, err);
        return -1;
    }
    w->n = sw.n;
    w->sum = sw.sum;
    w->min = sw.min;
    w->max = sw.max;
    w->first_ms = sw.first_ms;
    w->last_ms = sw.last_ms;
    w->first = sw.first;
    w->last = sw.last;
    /* The store holds what the recorder has committed (every few
     * seconds); the latest sample, newer than that, joins the window. */
    const struct metric_snapshot *m = find(le, metric);
    if (m && m->quality == MQ_GOOD && !isnan(m->value) && m->ts_ms >= since_ms &&
        m->ts_ms <= until_ms && (w->n == 0 || m->ts_ms > w->last_ms)) {
        if (w->n == 0 || m->value < w->min)
            w->min = m->value;
        if (w->n == 0 || m->value > w->max)
            w->max = m->value;
        if (w->n == 0) {
            w->first_ms = m->ts_ms;
            w->first = m->value;
            w->sum = 0;
        }
        w->n++;
        w->sum += m->value;
        w->last_ms = m->ts_ms;
        w->last = m->value;
    }
    return 0;
}

static int env_last_good(void *ctx, const char *metric, int64_t *ts_ms)
{
    const struct metric_snapshot *m = find(ctx, metric);
    if (!m || m->ts_ms == 0)
        return 0;
    *ts_ms = m->ts_ms;
    return 1;
}

void live_env_bind(struct live_env *le, struct pol_env *env)
{
    env->ctx = le;
    env->value = env_value;
    env->glob = env_glob;
    env->history = env_history;
    env->last_good = env_last_good;
}
