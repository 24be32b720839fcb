/*
 * inv_watch — see inv_watch.h.
 */
#include "core/inv_watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_client.h"
#include "lib/log.h"
#include "lib/util.h"
#include "placement/inv_fetch.h"

struct inv_watch {
    struct agent *a;
    pthread_t thread;
    bool threaded;
    atomic_int stop;
    pthread_mutex_t lock; /* guards the fields up to "owned by the refreshing thread" */
    pthread_cond_t wake;
    bool wake_now;
    uint64_t requests;    /* inv_watch_request calls so far */
    uint64_t serving;     /* requests when the refresh in progress began */
    struct inv_view view; /* view.inv is the watch's own reference */
    int64_t interval_ms;  /* workloads.refresh of the config last used */

    /* owned by the refreshing thread */
    struct kube_client *client;
    uint64_t client_generation; /* the config generation the client was built for */
    bool have_client_generation;
    char logged_token_warning[320];
};

struct inv_watch *inv_watch_new(struct agent *a)
{
    struct inv_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->a = a;
    atomic_init(&w->stop, 0);
    pthread_mutex_init(&w->lock, NULL);
    util_cond_init_mono(&w->wake);
    w->interval_ms = 60000;
    return w;
}

/* ---- publishing ---- */

/* Logs what changed for people: namespaces newly left out or not
 * movable, or with another reason than before. */
static void log_changes(const struct inventory *before, const struct inventory *now)
{
    for (size_t i = 0; i < now->n; i++) {
        const struct inv_workload *w = &now->workloads[i];
        const struct inv_workload *was = inv_find(before, w->name);
        const char *why = inv_workload_reason(w);
        const char *why_before = was ? inv_workload_reason(was) : NULL;
        if (!why || (why_before && strcmp(why, why_before) == 0))
            continue;
        if (w->error)
            log_warn("workloads: %s left out: %s", w->name, why);
        else
            log_info("workloads: %s not movable: %s", w->name, why);
    }
}

static size_t count_movable(const struct inventory *inv, size_t *left_out)
{
    size_t movable = 0;
    *left_out = 0;
    for (size_t i = 0; i < inv->n; i++) {
        movable += inv_workload_movable(&inv->workloads[i]);
        *left_out += inv->workloads[i].error != NULL;
    }
    return movable;
}

/* Publishes a good read (taking over the caller's reference). */
static void publish(struct inv_watch *w, struct inventory *inv, const char *source, int64_t now_ms)
{
    pthread_mutex_lock(&w->lock);
    struct inventory *old = w->view.inv;
    bool same_source = strcmp(w->view.source, source) == 0;
    int64_t failing_since = w->view.failing_since_ms;
    w->view.inv = inv;
    util_strlcpy(w->view.source, source, sizeof w->view.source);
    w->view.attempted_ms = now_ms;
    w->view.failing_since_ms = 0;
    w->view.error[0] = '\0';
    w->view.refreshes++;
    w->view.requests_served = w->serving;
    pthread_mutex_unlock(&w->lock);

    size_t left_out, movable = count_movable(inv, &left_out);
    if (failing_since && same_source)
        log_info("workloads: %s read again after %lld s: %zu workloads, %zu movable, %zu left out",
                 source, (long long)((now_ms - failing_since) / 1000), inv->n, movable, left_out);
    else if (!old || !same_source || old->n != inv->n)
        log_info("workloads (%s): %zu, %zu movable, %zu left out", source, inv->n, movable,
                 left_out);
    log_changes(same_source ? old : NULL, inv);
    inv_unref(old);
}

/* A failed read: the last good inventory stays. */
static void publish_failure(struct inv_watch *w, const char *source, const char *error,
                            int64_t now_ms)
{
    pthread_mutex_lock(&w->lock);
    bool first = w->view.failing_since_ms == 0 || strcmp(w->view.source, source) != 0;
    if (strcmp(w->view.source, source) != 0) {
        /* Another source's inventory says nothing about this one. */
        inv_unref(w->view.inv);
        w->view.inv = NULL;
        util_strlcpy(w->view.source, source, sizeof w->view.source);
    }
    if (first)
        w->view.failing_since_ms = now_ms;
    w->view.attempted_ms = now_ms;
    util_strlcpy(w->view.error, error, sizeof w->view.error);
    w->view.refreshes++;
    w->view.requests_served = w->serving;
    int64_t read_ms = w->view.inv ? w->view.inv->read_ms : 0;
    size_t n = w->view.inv ? w->view.inv->n : 0;
    pthread_mutex_unlock(&w->lock);
    if (!first)
        return;
    if (read_ms) {
        char when[32];
        util_format_rfc3339(read_ms, when, sizeof when);
        log_warn("workloads: cannot read the Kubernetes API: %s; keeping the inventory read at "
                 "%s (%zu workloads) until it answers",
                 error, when, n);
    } else {
        log_warn("workloads: cannot read the Kubernetes API: %s; no inventory until it answers",
                 error);
    }
}

static void publish_none(struct inv_watch *w, int64_t now_ms)
{
    pthread_mutex_lock(&w->lock);
    struct inventory *old = w->view.inv;
    w->view.inv = NULL;
    w->view.source[0] = '\0';
    w->view.error[0] = '\0';
    w->view.failing_since_ms = 0;
    w->view.attempted_ms = now_ms;
    w->view.refreshes++;
    w->view.requests_served = w->serving;
    pthread_mutex_unlock(&w->lock);
    inv_unref(old);
}

/* ---- one refresh ---- */

static int ensure_client(struct inv_watch *w, const struct floe_config *cfg, uint64_t generation,
                         int64_t mono_ms, char *err, size_t errlen)
{
    if (w->client && w->have_client_generation && w->client_generation == generation)
        return 0;
    kube_client_free(w->client);
    w->client = NULL;
    const struct cfg_workloads *cw = &cfg->workloads;
    struct kube_client_config kcfg = {.server = cw->k8s_api,
                                      .ca_file = cw->k8s_ca_file,
                                      .ca_pem = cw->k8s_ca_pem,
                                      .ca_pem_len = cw->k8s_ca_pem_len,
                                      .token = cw->k8s_token,
                                      .token_file = cw->k8s_token_file};
    w->client = kube_client_new(&kcfg, mono_ms, err, errlen);
    if (!w->client)
        return -1;
    w->client_generation = generation;
    w->have_client_generation = true;
    log_info("workloads: reading Kubernetes at %s (credentials: %s; namespaces labelled %s)",
             cw->k8s_api, cw->k8s_credentials ? cw->k8s_credentials : "workloads.kubernetes",
             cw->k8s_label_selector);
    return 0;
}

static void refresh_kubernetes(struct inv_watch *w, const struct floe_config *cfg,
                               uint64_t generation, int64_t now_ms, int64_t mono_ms)
{
    char err[640];
    if (ensure_client(w, cfg, generation, mono_ms, err, sizeof err) != 0) {
        publish_failure(w, "kubernetes", err, now_ms);
        return;
    }
    struct inventory *inv =
        inv_fetch_kubernetes(w->client, cfg->workloads.k8s_label_selector, cfg->migrator.data_mover,
                             now_ms, mono_ms, &w->stop, err, sizeof err);
    char warning[320];
    kube_client_token_warning(w->client, warning, sizeof warning);
    if (strcmp(warning, w->logged_token_warning) != 0) {
        if (warning[0])
            log_warn("workloads: %s; using the token read before", warning);
        util_strlcpy(w->logged_token_warning, warning, sizeof w->logged_token_warning);
    }
    pthread_mutex_lock(&w->lock);
    util_strlcpy(w->view.token_warning, warning, sizeof w->view.token_warning);
    pthread_mutex_unlock(&w->lock);
    if (inv)
        publish(w, inv, "kubernetes", now_ms);
    else if (!atomic_load(&w->stop))
        publish_failure(w, "kubernetes", err, now_ms);
}

void inv_watch_tick(struct inv_watch *w, int64_t now_ms, int64_t mono_ms)
{
    uint64_t generation;
    struct floe_config *cfg = agent_config_get_gen(w->a, &generation);
    const char *source = cfg->workloads.source;
    pthread_mutex_lock(&w->lock);
    w->interval_ms = cfg->workloads.refresh_ms > 0 ? cfg->workloads.refresh_ms : 60000;
    w->serving = w->requests;
    pthread_mutex_unlock(&w->lock);
    if (!source || strcmp(source, "kubernetes") != 0) {
        kube_client_free(w->client);
        w->client = NULL;
    }
    if (!source) {
        publish_none(w, now_ms);
    } else if (strcmp(source, "static") == 0) {
        struct inventory *inv = inv_new("static", now_ms);
        if (inv) {
            inv_from_static(inv, &cfg->workloads);
            inv_judge(inv, cfg->migrator.data_mover);
            publish(w, inv, "static", now_ms);
        } else {
            publish_failure(w, "static", "out of memory", now_ms);
        }
    } else {
        refresh_kubernetes(w, cfg, generation, now_ms, mono_ms);
    }
    config_unref(cfg);
}

/* ---- the thread ---- */

static void *watch_main(void *arg)
{
    struct inv_watch *w = arg;
    while (!atomic_load(&w->stop)) {
        inv_watch_tick(w, util_now_ms(), util_mono_ms());
        int64_t due = util_mono_ms();
        pthread_mutex_lock(&w->lock);
        due += w->interval_ms;
        /* Sleep until due, a request, a reload or the stop (the
         * condition variable waits on the monotonic clock). */
        struct timespec until = util_mono_timespec(due);
        while (!w->wake_now && !atomic_load(&w->stop))
            if (pthread_cond_timedwait(&w->wake, &w->lock, &until) == ETIMEDOUT)
                break;
        w->wake_now = false;
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

struct inv_watch *inv_watch_start(struct agent *a, char *err, size_t errlen)
{
    struct inv_watch *w = inv_watch_new(a);
    if (!w) {
        errf(err, errlen, "workloads: out of memory");
        return NULL;
    }
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        errf(err, errlen, "workloads: cannot start the refresh thread");
        inv_watch_stop(w);
        return NULL;
    }
    w->threaded = true;
    return w;
}

void inv_watch_stop(struct inv_watch *w)
{
    if (!w)
        return;
    if (w->threaded) {
        pthread_mutex_lock(&w->lock);
        atomic_store(&w->stop, 1);
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
    }
    kube_client_free(w->client);
    inv_unref(w->view.inv);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

uint64_t inv_watch_request(struct inv_watch *w)
{
    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    uint64_t ticket = ++w->requests;
    w->wake_now = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return ticket;
}

void inv_watch_config_changed(struct inv_watch *w)
{
    /* The client is rebuilt by the generation check; a refresh now shows
     * the new source or credentials at once. */
    inv_watch_request(w);
}

void inv_watch_view(struct inv_watch *w, struct inv_view *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->view;
    out->inv = inv_ref(w->view.inv);
    pthread_mutex_unlock(&w->lock);
}
