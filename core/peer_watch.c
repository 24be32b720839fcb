/*
 * peer_watch — see peer_watch.h.
 */
#include "core/peer_watch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"

/* One configured peer: its public status and the URL it was asked at
 * (a peer whose URL changes is a new peer as far as results go). */
struct watch_entry {
    struct peer_status st;
    char *url;
};

struct peer_watch {
    struct agent *a;
    pthread_t thread;
    bool threaded;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    bool stop;
    bool wake_now;
    bool built;
    uint64_t generation; /* of the config the entries were built from */
    int64_t poll_ms;     /* that config's peers_poll */
    struct watch_entry *entries;
    size_t nentries;
};

int64_t peer_watch_timeout_ms(int64_t poll_ms)
{
    int64_t half = poll_ms / 2;
    return half > 0 && half < PEER_WATCH_TIMEOUT_MS ? half : PEER_WATCH_TIMEOUT_MS;
}

static void free_entries(struct watch_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].url);
    free(e);
}

/* Makes the entries those of cfg (lock held). Returns 0, or -1 when out
 * of memory (the old list stays). */
static int rebuild_locked(struct peer_watch *w, const struct floe_config *cfg, uint64_t generation)
{
    struct watch_entry *next = cfg->npeers ? calloc(cfg->npeers, sizeof *next) : NULL;
    if (cfg->npeers && !next)
        return -1;
    for (size_t i = 0; i < cfg->npeers; i++) {
        const struct cfg_peer *p = &cfg->peers[i];
        next[i].url = strdup(p->url ? p->url : "");
        if (!next[i].url) {
            free_entries(next, cfg->npeers);
            return -1;
        }
        util_strlcpy(next[i].st.name, p->name ? p->name : "", sizeof next[i].st.name);
        for (size_t j = 0; j < w->nentries; j++)
            if (strcmp(w->entries[j].st.name, next[i].st.name) == 0 &&
                strcmp(w->entries[j].url, next[i].url) == 0)
                next[i].st = w->entries[j].st;
    }
    free_entries(w->entries, w->nentries);
    w->entries = next;
    w->nentries = cfg->npeers;
    w->generation = generation;
    w->poll_ms = cfg->peers_poll_ms > 0 ? cfg->peers_poll_ms : 30000;
    w->built = true;
    return 0;
}

static void rebuild(struct peer_watch *w)
{
    uint64_t generation;
    struct floe_config *cfg = agent_config_get_gen(w->a, &generation);
    pthread_mutex_lock(&w->lock);
    int rc = w->built && w->generation == generation ? 0 : rebuild_locked(w, cfg, generation);
    pthread_mutex_unlock(&w->lock);
    if (rc != 0)
        log_err("peers: out of memory; the peer list shown is the previous configuration's");
    config_unref(cfg);
}

/* One line when a peer's standing changes; nothing when it stays. */
static void log_change(const struct peer_status *before, const struct peer_status *now)
{
    const struct peer_capacity_result *r = &now->last;
    bool was_ok = before->polled && before->last.state == PEER_OK;
    if (r->state != PEER_OK) {
        if (!before->polled || before->last.state != r->state)
            log_warn("peer %s: %s", now->name, r->reason);
        return;
    }
    const char *accepting = r->cap.accepting ? "accepting work" : "not accepting work";
    if (!before->polled)
        log_info("peer %s: answering: %g kW spare, %s", now->name, r->cap.spare_kw, accepting);
    else if (!was_ok)
        log_info("peer %s: answering again after %llds: %g kW spare, %s", now->name,
                 (long long)((now->checked_ms - before->state_since_ms) / 1000), r->cap.spare_kw,
                 accepting);
    else if (before->last.cap.accepting != r->cap.accepting)
        log_info("peer %s: now %s (%g kW spare)", now->name, accepting, r->cap.spare_kw);
}

void peer_watch_poll(struct peer_watch *w, int64_t now_ms)
{
    uint64_t generation;
    struct floe_config *cfg = agent_config_get_gen(w->a, &generation);
    pthread_mutex_lock(&w->lock);
    if (!w->built || w->generation != generation)
        rebuild_locked(w, cfg, generation);
    bool current = w->built && w->generation == generation;
    int64_t poll_ms = w->poll_ms;
    pthread_mutex_unlock(&w->lock);
    size_t n = cfg->npeers;
    struct peer_capacity_result *res = n ? calloc(n, sizeof *res) : NULL;
    struct peer_status *before = n ? calloc(n, sizeof *before) : NULL;
    struct peer_status *after = n ? calloc(n, sizeof *after) : NULL;
    if (!current || (n && (!res || !before || !after))) {
        if (n)
            log_err("peers: out of memory; this round is skipped");
        goto done;
    }
    /* The config reference keeps cfg->peers alive while the requests run
     * without the lock; a reload meanwhile only swaps the agent's pointer. */
    peer_capacity_poll(cfg->peers, n, peer_watch_timeout_ms(poll_ms), res);

    pthread_mutex_lock(&w->lock);
    /* A rebuild for a newer config while we asked: these answers belong
     * to the old list, and a new round follows at once. */
    bool still = w->generation == generation && w->nentries == n;
    for (size_t i = 0; still && i < n; i++) {
        struct peer_status *st = &w->entries[i].st;
        before[i] = *st;
        if (!st->polled || st->last.state != res[i].state)
            st->state_since_ms = now_ms;
        st->last = res[i];
        st->checked_ms = now_ms;
        st->polled = true;
        after[i] = *st;
    }
    pthread_mutex_unlock(&w->lock);
    for (size_t i = 0; still && i < n; i++)
        log_change(&before[i], &after[i]);
done:
    free(res);
    free(before);
    free(after);
    config_unref(cfg);
}

void peer_watch_config_changed(struct peer_watch *w)
{
    if (!w)
        return;
    rebuild(w);
    pthread_mutex_lock(&w->lock);
    w->wake_now = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

size_t peer_watch_snapshot(struct peer_watch *w, struct peer_status **out)
{
    *out = NULL;
    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    size_t n = w->nentries;
    struct peer_status *copy = n ? malloc(n * sizeof *copy) : NULL;
    for (size_t i = 0; copy && i < n; i++)
        copy[i] = w->entries[i].st;
    pthread_mutex_unlock(&w->lock);
    *out = copy;
    return copy ? n : 0;
}

/* Waits one period, or less when told to stop or that the config
 * changed. Returns false when the loop must end. */
static bool wait_next(struct peer_watch *w)
{
    pthread_mutex_lock(&w->lock);
    int64_t period = w->poll_ms > 0 ? w->poll_ms : 30000;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until); /* the condvar waits on the monotonic clock */
    until.tv_sec += period / 1000;
    until.tv_nsec += (period % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!w->stop && !w->wake_now)
        if (pthread_cond_timedwait(&w->wake, &w->lock, &until) != 0)
            break;
    bool go_on = !w->stop;
    w->wake_now = false;
    pthread_mutex_unlock(&w->lock);
    return go_on;
}

static void *watch_main(void *arg)
{
    struct peer_watch *w = arg;
    do
        peer_watch_poll(w, util_now_ms());
    while (wait_next(w));
    return NULL;
}

struct peer_watch *peer_watch_new(struct agent *a)
{
    struct peer_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->a = a;
    pthread_mutex_init(&w->lock, NULL);
    /* Monotonic waits: a wall-clock step neither stalls nor hurries the rounds. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    /* The list before the first round, so the status shows every peer as
     * not asked yet rather than no peers at all. */
    rebuild(w);
    return w;
}

struct peer_watch *peer_watch_start(struct agent *a, char *err, size_t errlen)
{
    struct peer_watch *w = peer_watch_new(a);
    if (!w) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        peer_watch_stop(w);
        errf(err, errlen, "cannot start the peer thread");
        return NULL;
    }
    w->threaded = true;
    return w;
}

void peer_watch_stop(struct peer_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    if (w->threaded)
        pthread_join(w->thread, NULL);
    free_entries(w->entries, w->nentries);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
