/*
 * sim_site — see sim_site.h.
 *
 * Lock order: the site lock, then (inside sim_modbus_publish and
 * sim_snmp_publish) the register map's or the SNMP map's lock. The Modbus
 * and SNMP threads take only the latter, HTTP handlers and the clock take
 * the site lock first, so there is no cycle.
 */
#include "sim/sim_site.h"

#include "lib/log.h"
#include "lib/util.h"
#include "sim/sim_api.h"
#include "sim/sim_cluster_edit.h"
#include "sim/sim_http.h"
#include "sim/sim_kube.h"
#include "sim/sim_modbus.h"
#include "sim/sim_snmp.h"
#include "sim/sim_velero.h"

#include <stdatomic.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most steps run under one hold of the lock when catching up at a high
 * speedup; HTTP requests wait at most this long. */
#define MAX_STEPS_PER_LOCK 10000

/* Room for the API groups served beside the built-in ones and for the
 * /sim/set extensions. */
#define MAX_KUBE_GROUPS 4
#define MAX_SET_EXT 4
/* How often a hung Kubernetes request looks whether the hang is over. */
#define HANG_POLL_MS 20

struct sim_site {
    pthread_mutex_t lock; /* guards sc.model, sc.timeline, sc.cluster and kube_faults */
    struct sim_scenario sc;
    struct sim_kube_faults kube_faults;
    /* Other API groups (Velero's) under /apis/{group}/, after the token. */
    struct sim_kube_group kube_groups[MAX_KUBE_GROUPS];
    size_t nkube_groups;
    /* /sim/set names beyond the model's values. */
    struct sim_api_ext set_ext[MAX_SET_EXT];
    size_t nset_ext;
    struct sim_velero *velero; /* NULL without the scenario's "velero" section */
    struct sim_modbus *modbus;
    struct sim_snmp *snmp;
    struct sim_http *http;
    pthread_t clock;
    bool clock_started;
    atomic_int stop;
};

const char *sim_site_listen(const struct sim_site *s)
{
    return s->sc.listen;
}

int sim_site_modbus_port(const struct sim_site *s)
{
    return sim_modbus_port(s->modbus);
}

int sim_site_http_port(const struct sim_site *s)
{
    return sim_http_port(s->http);
}

int sim_site_snmp_port(const struct sim_site *s)
{
    return sim_snmp_port(s->snmp);
}

/* Every protocol shows the model as it is now; called under s->lock. */
static void publish(struct sim_site *s)
{
    /* The IT load follows the cluster: a scale, a delete or a namespace
     * gone shows at once. */
    s->sc.model.it_cluster_kw = simc_running_kw(&s->sc.cluster);
    sim_modbus_publish(s->modbus, &s->sc.model);
    sim_snmp_publish(s->snmp, &s->sc.model);
}

static void log_event(void *arg, const struct sim_event *ev, const char *err)
{
    (void)arg;
    char line[1024], at[32];
    size_t used = 0;
    line[0] = '\0';
    for (size_t i = 0; i < ev->nsets && used < sizeof line; i++) {
        int n = snprintf(line + used, sizeof line - used, "%s%s = %g", i ? ", " : "",
                         ev->sets[i].name, ev->sets[i].value);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    util_format_duration(ev->at_ms, at, sizeof at);
    if (err)
        log_warn("event at %s: %s; refused: %s", at, line, err);
    else
        log_info("event at %s: %s", at, line);
}

/* Simulated time follows the monotonic clock times speedup; each whole
 * simulated second is one physics step followed by the events it makes
 * due. After a stall (a debugger, a loaded CI box) it catches up rather
 * than dropping seconds, so event times stay exact in simulated time. */
static void *run_clock(void *arg)
{
    struct sim_site *s = arg;
    const double speedup = s->sc.speedup;
    const int64_t start_ms = util_mono_ms();
    int64_t steps = 0;
    while (!s->stop) {
        int64_t due = (int64_t)floor((double)(util_mono_ms() - start_ms) * speedup / 1000.0);
        if (due > steps) {
            pthread_mutex_lock(&s->lock);
            for (int n = 0; steps < due && n < MAX_STEPS_PER_LOCK; n++, steps++) {
                sim_model_step(&s->sc.model);
                simc_settle(&s->sc.cluster, s->sc.model.time_ms);
                simc_advance(&s->sc.cluster, 1000);
                if (s->velero)
                    sim_velero_tick(s->velero, &s->sc.cluster, s->sc.model.time_ms);
                s->sc.model.it_cluster_kw = simc_running_kw(&s->sc.cluster);
                sim_timeline_fire(&s->sc.timeline, &s->sc.model, log_event, s);
            }
            publish(s);
            pthread_mutex_unlock(&s->lock);
            continue;
        }
        int64_t next_ms = start_ms + (int64_t)ceil((double)(steps + 1) * 1000.0 / speedup);
        int64_t wait_ms = next_ms - util_mono_ms();
        if (wait_ms > 0)
            util_sleep_ms(wait_ms, &s->stop);
    }
    return NULL;
}

static void handle_state(void *arg, const struct sim_http_request *req,
                         struct sim_http_response *resp)
{
    struct sim_site *s = arg;
    if (strcmp(req->method, "GET") != 0) {
        sim_http_error(resp, 405, "method_not_allowed", "%s: use GET", req->path);
        return;
    }
    pthread_mutex_lock(&s->lock);
    char *json = sim_api_state_json(&s->sc.model);
    pthread_mutex_unlock(&s->lock);
    sim_http_reply(resp, 200, json);
}

static void handle_set(void *arg, const struct sim_http_request *req,
                       struct sim_http_response *resp)
{
    struct sim_site *s = arg;
    if (strcmp(req->method, "POST") != 0) {
        sim_http_error(resp, 405, "method_not_allowed", "%s: use POST", req->path);
        return;
    }
    char err[256];
    enum sim_api_error why;
    pthread_mutex_lock(&s->lock);
    int rc = sim_api_set(&s->sc.model, s->set_ext, s->nset_ext, req->body, req->body_len, &why, err,
                         sizeof err);
    if (rc == 0)
        publish(s);
    pthread_mutex_unlock(&s->lock);
    if (rc < 0) {
        sim_http_error(resp, 400, sim_api_error_code(why), "%s", err);
        return;
    }
    /* One log line per change, whatever the client's JSON layout. */
    char line[400];
    util_strlcpy(line, req->body, sizeof line);
    for (char *c = line; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' ';
    log_info("set %s", line);
    sim_http_reply(resp, 200, util_strdup("{\"ok\":true}"));
}

static void handle_kube(void *arg, const struct sim_http_request *req,
                        struct sim_http_response *resp)
{
    struct sim_site *s = arg;
    struct sim_kube_request kr = {
        .method = req->method,
        .path = req->path,
        .label_selector = sim_http_query(req, "labelSelector"),
        .authorization = sim_http_header(req, "Authorization"),
        .content_type = sim_http_header(req, "Content-Type"),
        .body = req->body,
        .body_len = req->body_len,
        .groups = s->kube_groups,
        .ngroups = s->nkube_groups,
    };
    char *body;
    pthread_mutex_lock(&s->lock);
    /* A hung API server: the request waits, without the lock, until the
     * hang is cleared or over (or the site stops). */
    while (sim_kube_fault_hanging(&s->kube_faults, s->sc.model.time_ms) && !s->stop) {
        pthread_mutex_unlock(&s->lock);
        util_sleep_ms(HANG_POLL_MS, &s->stop);
        pthread_mutex_lock(&s->lock);
    }
    int status = sim_kube_fault_fail(&s->kube_faults, &body);
    if (!status) {
        kr.now_ms = s->sc.model.time_ms;
        status = sim_kube_handle(&s->sc.cluster, &kr, &body);
        if (strcmp(req->method, "GET") != 0)
            publish(s);
    }
    pthread_mutex_unlock(&s->lock);
    sim_http_reply(resp, status, body);
}

/* /sim/set's "kube." names: the API server's faults. */
static bool kube_set_owns(void *arg, const char *name)
{
    (void)arg;
    return sim_kube_fault_name(name);
}

static int kube_set_check(void *arg, const char *name, const cJSON *v, char *err, size_t errlen)
{
    (void)arg;
    return sim_kube_fault_check(name, v, err, errlen);
}

static void kube_set_apply(void *arg, const char *name, const cJSON *v)
{
    struct sim_site *s = arg;
    sim_kube_fault_apply(&s->kube_faults, name, v, s->sc.model.time_ms);
}

/* /sim/set's "cluster." names: delays and the never-ready fault. */
static bool cluster_set_owns(void *arg, const char *name)
{
    (void)arg;
    return simc_setting_name(name);
}

static int cluster_set_check(void *arg, const char *name, const cJSON *v, char *err, size_t errlen)
{
    (void)arg;
    return simc_setting_check(name, v, err, errlen);
}

static void cluster_set_apply(void *arg, const char *name, const cJSON *v)
{
    struct sim_site *s = arg;
    simc_setting_apply(&s->sc.cluster, name, v);
}

/* /sim/set's "velero." names: Velero's faults. */
static bool velero_set_owns(void *arg, const char *name)
{
    (void)arg;
    return sim_velero_set_name(name);
}

static int velero_set_check(void *arg, const char *name, const cJSON *v, char *err, size_t errlen)
{
    (void)arg;
    return sim_velero_set_check(name, v, err, errlen);
}

static void velero_set_apply(void *arg, const char *name, const cJSON *v)
{
    struct sim_site *s = arg;
    sim_velero_set_apply(s->velero, &s->sc.cluster, s->sc.model.time_ms, name, v);
}

/* /apis/velero.io/...: a group of the Kubernetes API (token, faults and
 * lock as for the rest of it). */
static int velero_api(void *arg, struct simc_cluster *c, const struct sim_kube_request *req,
                      char **body)
{
    struct sim_site *s = arg;
    return sim_velero_handle(s->velero, c, req, body);
}

static void handle_velero(void *arg, const struct sim_http_request *req,
                          struct sim_http_response *resp)
{
    struct sim_site *s = arg;
    if (strcmp(req->method, "GET") != 0) {
        sim_http_error(resp, 405, "method_not_allowed", "%s: use GET", req->path);
        return;
    }
    if (!s->velero) {
        sim_http_error(resp, 404, "not_found",
                       "this site has no Velero (no \"velero\" section in its scenario)");
        return;
    }
    pthread_mutex_lock(&s->lock);
    char *json = sim_velero_state_json(s->velero, s->sc.model.time_ms);
    pthread_mutex_unlock(&s->lock);
    sim_http_reply(resp, 200, json);
}

static void handle_cluster(void *arg, const struct sim_http_request *req,
                           struct sim_http_response *resp)
{
    struct sim_site *s = arg;
    if (strcmp(req->method, "GET") == 0) {
        pthread_mutex_lock(&s->lock);
        char *json = simc_state_json(&s->sc.cluster, s->sc.model.time_ms);
        pthread_mutex_unlock(&s->lock);
        sim_http_reply(resp, 200, json);
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        sim_http_error(resp, 405, "method_not_allowed", "%s: use GET or POST", req->path);
        return;
    }
    char err[600];
    enum simc_edit_error why;
    pthread_mutex_lock(&s->lock);
    int rc = simc_edit(&s->sc.cluster, req->body, req->body_len, s->sc.model.time_ms, &why, err,
                       sizeof err);
    size_t nns = s->sc.cluster.nnamespaces;
    double kw = simc_running_kw(&s->sc.cluster);
    if (rc == 0)
        publish(s);
    pthread_mutex_unlock(&s->lock);
    if (rc < 0) {
        sim_http_error(resp, simc_edit_error_status(why), simc_edit_error_code(why), "%s", err);
        return;
    }
    /* Not the body: it may carry the API token. */
    log_info("cluster changed: %zu namespaces, %g kW running", nns, kw);
    sim_http_reply(resp, 200, util_strdup("{\"ok\":true}"));
}

int sim_site_start(struct sim_site **out, struct sim_scenario *sc, char *err, size_t errlen)
{
    struct sim_site *s = calloc(1, sizeof *s);
    if (!s) {
        sim_scenario_clear(sc);
        return errf(err, errlen, "out of memory");
    }
    pthread_mutex_init(&s->lock, NULL);
    s->sc = *sc;
    memset(sc, 0, sizeof *sc);

    /* Wall-clock time of simulated time 0, for the objects'
     * creationTimestamp. */
    s->sc.cluster.epoch_ms = util_now_ms();
    /* Events "at 0s" are part of the initial state the servers show. */
    sim_timeline_fire(&s->sc.timeline, &s->sc.model, log_event, s);
    if (sim_modbus_start(&s->modbus, s->sc.listen, s->sc.modbus_port, &s->sc.model, err, errlen) <
        0)
        goto fail;
    if (sim_snmp_start(&s->snmp, s->sc.listen, &s->sc.snmp, &s->sc.model, err, errlen) < 0)
        goto fail;
    s->set_ext[s->nset_ext++] =
        (struct sim_api_ext){kube_set_owns, kube_set_check, kube_set_apply, s};
    s->set_ext[s->nset_ext++] =
        (struct sim_api_ext){cluster_set_owns, cluster_set_check, cluster_set_apply, s};
    if (s->sc.velero.enabled) {
        if (sim_velero_new(&s->velero, &s->sc.velero, err, errlen) < 0)
            goto fail;
        s->set_ext[s->nset_ext++] =
            (struct sim_api_ext){velero_set_owns, velero_set_check, velero_set_apply, s};
        s->kube_groups[s->nkube_groups++] =
            (struct sim_kube_group){"/apis/velero.io/", velero_api, s};
    }
    const struct sim_http_route routes[] = {
        {"/sim/state", false, handle_state, s},
        {"/sim/set", false, handle_set, s},
        {"/sim/cluster", false, handle_cluster, s},
        {"/sim/velero", false, handle_velero, s},
        {"/api", true, handle_kube, s},
        {"/apis", true, handle_kube, s},
    };
    if (sim_http_start(&s->http, s->sc.listen, s->sc.http_port, routes, ARRAY_LEN(routes), err,
                       errlen) < 0)
        goto fail;
    int rc = pthread_create(&s->clock, NULL, run_clock, s);
    if (rc != 0) {
        errf(err, errlen, "clock thread: %s", strerror(rc));
        goto fail;
    }
    s->clock_started = true;
    *out = s;
    return 0;
fail:
    sim_site_stop(s);
    return -1;
}

void sim_site_stop(struct sim_site *s)
{
    if (!s)
        return;
    util_stop_set(&s->stop);
    if (s->clock_started)
        pthread_join(s->clock, NULL);
    /* HTTP first: its handlers publish to the Modbus and SNMP servers. */
    sim_http_stop(s->http);
    sim_snmp_stop(s->snmp);
    sim_modbus_stop(s->modbus);
    sim_velero_free(s->velero);
    sim_scenario_clear(&s->sc);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
