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

struct sim_site {
    pthread_mutex_t lock; /* guards sc.model, sc.timeline and sc.cluster */
    struct sim_scenario sc;
    struct sim_modbus *modbus;
    struct sim_snmp *snmp;
    struct sim_http *http;
    struct sim_velero *velero; /* NULL without the scenario's "velero" section */
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
                simc_advance(&s->sc.cluster, 1000);
                if (s->velero) {
                    /* A restore can start namespaces: the IT load follows. */
                    sim_velero_tick(s->velero, &s->sc.cluster, s->sc.model.time_ms);
                    s->sc.model.it_cluster_kw = simc_running_kw(&s->sc.cluster);
                }
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

/* /sim/set members "velero.*" (called under s->lock). */
static int set_velero(void *arg, const char *key, const cJSON *value, bool apply,
                      enum sim_api_error *why, char *err, size_t errlen)
{
    struct sim_site *s = arg;
    return sim_velero_set(s->velero, &s->sc.cluster, s->sc.model.time_ms, key, value, apply, why,
                          err, errlen);
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
    const struct sim_api_ext ext[] = {{"velero.", set_velero, s}};
    pthread_mutex_lock(&s->lock);
    int rc = sim_api_set_ext(&s->sc.model, ext, s->velero ? 1 : 0, req->body, req->body_len, &why,
                             err, sizeof err);
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
    };
    char *body;
    pthread_mutex_lock(&s->lock);
    int status = sim_kube_handle(&s->sc.cluster, &kr, &body);
    pthread_mutex_unlock(&s->lock);
    sim_http_reply(resp, status, body);
}

static void handle_velero(void *arg, const struct sim_http_request *req,
                          struct sim_http_response *resp)
{
    struct sim_site *s = arg;
    struct sim_velero_request vr = {
        .method = req->method,
        .path = req->path,
        .label_selector = sim_http_query(req, "labelSelector"),
        .authorization = sim_http_header(req, "Authorization"),
        .content_type = sim_http_header(req, "Content-Type"),
        .body = req->body,
        .body_len = req->body_len,
    };
    char *body;
    pthread_mutex_lock(&s->lock);
    int status = sim_velero_handle(s->velero, &s->sc.cluster, s->sc.model.time_ms, &vr, &body);
    pthread_mutex_unlock(&s->lock);
    sim_http_reply(resp, status, body);
}

static void handle_velero_state(void *arg, const struct sim_http_request *req,
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
    char *json = sim_velero_state_json(s->velero, &s->sc.cluster, s->sc.model.time_ms);
    pthread_mutex_unlock(&s->lock);
    sim_http_reply(resp, 200, json);
}

static void handle_cluster(void *arg, const struct sim_http_request *req,
                           struct sim_http_response *resp)
{
    struct sim_site *s = arg;
    if (strcmp(req->method, "POST") != 0) {
        sim_http_error(resp, 405, "method_not_allowed", "%s: use POST", req->path);
        return;
    }
    char err[600];
    enum simc_edit_error why;
    pthread_mutex_lock(&s->lock);
    int rc = simc_edit(&s->sc.cluster, req->body, req->body_len, s->sc.model.time_ms, &why, err,
                       sizeof err);
    size_t nns = s->sc.cluster.nnamespaces;
    double kw = simc_running_kw(&s->sc.cluster);
    if (rc == 0) {
        s->sc.model.it_cluster_kw = kw;
        publish(s);
    }
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
    if (s->sc.velero.enabled &&
        sim_velero_new(&s->velero, &s->sc.velero, err, errlen) < 0)
        goto fail;
    /* Events "at 0s" are part of the initial state the servers show. */
    sim_timeline_fire(&s->sc.timeline, &s->sc.model, log_event, s);
    if (sim_modbus_start(&s->modbus, s->sc.listen, s->sc.modbus_port, &s->sc.model, err, errlen) <
        0)
        goto fail;
    if (sim_snmp_start(&s->snmp, s->sc.listen, &s->sc.snmp, &s->sc.model, err, errlen) < 0)
        goto fail;
    /* First match wins: Velero's group before the rest of /apis, and
     * only when this site has a Velero (else /apis answers 404). */
    const struct sim_http_route routes[] = {
        {"/sim/state", false, handle_state, s},
        {"/sim/set", false, handle_set, s},
        {"/sim/cluster", false, handle_cluster, s},
        {"/sim/velero", false, handle_velero_state, s},
        {"/api", true, handle_kube, s},
        {"/apis/velero.io", true, handle_velero, s},
        {"/apis", true, handle_kube, s},
    };
    size_t nroutes = ARRAY_LEN(routes);
    struct sim_http_route used[ARRAY_LEN(routes)];
    size_t nused = 0;
    for (size_t i = 0; i < nroutes; i++)
        if (routes[i].handler != handle_velero || s->velero)
            used[nused++] = routes[i];
    if (sim_http_start(&s->http, s->sc.listen, s->sc.http_port, used, nused, err, errlen) < 0)
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
    s->stop = 1;
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
