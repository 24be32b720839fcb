/*
 * sim_kube — see sim_kube.h.
 *
 * Order of checks, as in the API server: authentication first (a request
 * without the token learns nothing, not even whether a path exists), then
 * the path, then the method, then the query.
 */
#include "sim/sim_kube.h"

#include "lib/util.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SEGMENTS 8
#define SEGMENT_MAX 256

/* ---- Status objects ---- */

struct status {
    int code;
    const char *reason;
    const char *message;
    /* details: NULL kind = none; "" kind = {} */
    const char *kind, *name, *group;
};

static char *status_json(const struct status *st)
{
    char *out = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "kind", "Status") ||
        !cJSON_AddStringToObject(o, "apiVersion", "v1") ||
        !cJSON_AddObjectToObject(o, "metadata") ||
        !cJSON_AddStringToObject(o, "status", "Failure") ||
        !cJSON_AddStringToObject(o, "message", st->message) ||
        !cJSON_AddStringToObject(o, "reason", st->reason))
        goto done;
    if (st->kind) {
        cJSON *d = cJSON_AddObjectToObject(o, "details");
        if (!d)
            goto done;
        if (st->name && !cJSON_AddStringToObject(d, "name", st->name))
            goto done;
        if (st->group && !cJSON_AddStringToObject(d, "group", st->group))
            goto done;
        if (st->kind[0] && !cJSON_AddStringToObject(d, "kind", st->kind))
            goto done;
    }
    if (cJSON_AddNumberToObject(o, "code", st->code))
        out = cJSON_PrintUnformatted(o);
done:
    cJSON_Delete(o);
    return out;
}

static int fail_status(char **body, const struct status *st)
{
    *body = status_json(st);
    return st->code;
}

static int not_found_path(char **body)
{
    return fail_status(body, &(struct status){404, "NotFound",
                                              "the server could not find the requested resource",
                                              "", NULL, NULL});
}

/* "namespaces \"x\" not found", "deployments.apps \"web\" not found" */
static int not_found_object(char **body, const char *plural, const char *group, const char *name)
{
    char msg[600];
    snprintf(msg, sizeof msg, "%s%s%s \"%s\" not found", plural, group ? "." : "",
             group ? group : "", name);
    return fail_status(body, &(struct status){404, "NotFound", msg, plural, name, group});
}

/* ---- objects ---- */

/* creationTimestamp: whole seconds, as the API server stores it. */
static void timestamp(const struct simc_cluster *c, const struct simc_meta *m, char *buf, size_t n)
{
    int64_t ms = c->epoch_ms + m->created_ms;
    util_format_rfc3339(ms - ((ms % 1000) + 1000) % 1000, buf, n);
}

/* A map as a JSON object under key; an empty map is left out (omitempty). */
static bool add_map(cJSON *parent, const char *key, const struct simc_map *m)
{
    if (m->n == 0)
        return true;
    cJSON *o = cJSON_AddObjectToObject(parent, key);
    if (!o)
        return false;
    for (size_t i = 0; i < m->n; i++)
        if (!cJSON_AddStringToObject(o, m->pairs[i].key, m->pairs[i].value))
            return false;
    return true;
}

/* An int32 count that Kubernetes marks omitempty: left out when 0. */
static bool add_count(cJSON *parent, const char *key, double v, bool omit_zero)
{
    return (omit_zero && v == 0) || cJSON_AddNumberToObject(parent, key, v);
}

static bool add_meta(cJSON *obj, const struct simc_cluster *c, const struct simc_meta *m,
                     const char *ns, int64_t generation)
{
    char rv[24], ts[40];
    snprintf(rv, sizeof rv, "%" PRIu64, m->resource_version);
    timestamp(c, m, ts, sizeof ts);
    cJSON *meta = cJSON_AddObjectToObject(obj, "metadata");
    return meta && cJSON_AddStringToObject(meta, "name", m->name) &&
           (!ns || cJSON_AddStringToObject(meta, "namespace", ns)) &&
           cJSON_AddStringToObject(meta, "uid", m->uid) &&
           cJSON_AddStringToObject(meta, "resourceVersion", rv) &&
           add_count(meta, "generation", (double)generation, true) &&
           cJSON_AddStringToObject(meta, "creationTimestamp", ts) &&
           add_map(meta, "labels", &m->labels) && add_map(meta, "annotations", &m->annotations);
}

static bool add_type(cJSON *obj, const char *api_version, const char *kind)
{
    return cJSON_AddStringToObject(obj, "kind", kind) &&
           cJSON_AddStringToObject(obj, "apiVersion", api_version);
}

/* with_type: a single object carries kind and apiVersion, a list item not. */
static cJSON *namespace_json(const struct simc_cluster *c, const struct simc_namespace *ns,
                             bool with_type)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || (with_type && !add_type(o, "v1", "Namespace")) || !add_meta(o, c, &ns->meta, NULL, 0))
        goto fail;
    cJSON *spec = cJSON_AddObjectToObject(o, "spec");
    cJSON *fin = spec ? cJSON_AddArrayToObject(spec, "finalizers") : NULL;
    cJSON *k8s = fin ? cJSON_CreateString("kubernetes") : NULL;
    if (!k8s)
        goto fail;
    cJSON_AddItemToArray(fin, k8s);
    cJSON *status = cJSON_AddObjectToObject(o, "status");
    if (!status || !cJSON_AddStringToObject(status, "phase", simc_ns_phase_name(ns->phase)))
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* spec.selector and the pod template: pods labelled app=<name>. */
static bool add_workload_spec(cJSON *o, const struct simc_workload *w)
{
    cJSON *spec = cJSON_AddObjectToObject(o, "spec");
    if (!spec || !cJSON_AddNumberToObject(spec, "replicas", w->replicas))
        return false;
    cJSON *sel = cJSON_AddObjectToObject(spec, "selector");
    cJSON *match = sel ? cJSON_AddObjectToObject(sel, "matchLabels") : NULL;
    if (!match || !cJSON_AddStringToObject(match, "app", w->meta.name))
        return false;
    cJSON *tmpl = cJSON_AddObjectToObject(spec, "template");
    cJSON *tmeta = tmpl ? cJSON_AddObjectToObject(tmpl, "metadata") : NULL;
    cJSON *tlabels = tmeta ? cJSON_AddObjectToObject(tmeta, "labels") : NULL;
    if (!tlabels || !cJSON_AddStringToObject(tlabels, "app", w->meta.name) ||
        !add_map(tmeta, "annotations", &w->pod_annotations))
        return false;
    cJSON *pspec = cJSON_AddObjectToObject(tmpl, "spec");
    cJSON *containers = pspec ? cJSON_AddArrayToObject(pspec, "containers") : NULL;
    cJSON *ctr = containers ? cJSON_CreateObject() : NULL;
    if (!ctr)
        return false;
    cJSON_AddItemToArray(containers, ctr);
    if (!cJSON_AddStringToObject(ctr, "name", w->meta.name) ||
        !cJSON_AddStringToObject(ctr, "image", "floe-sim/workload"))
        return false;
    /* Required by the StatefulSet schema (no omitempty). */
    return w->kind != SIMC_STATEFULSET ||
           cJSON_AddStringToObject(spec, "serviceName", w->meta.name);
}

/* Pods are ready as soon as asked for in this version, so every count is
 * spec.replicas. Which counts are omitted at 0 follows the Go types:
 * all of a Deployment's; a StatefulSet's replicas and availableReplicas
 * are always there. */
static bool add_workload_status(cJSON *o, const struct simc_workload *w)
{
    cJSON *st = cJSON_AddObjectToObject(o, "status");
    double n = w->replicas;
    bool dep = w->kind == SIMC_DEPLOYMENT;
    if (!st || !add_count(st, "observedGeneration", (double)w->generation, true))
        return false;
    if (dep)
        return add_count(st, "replicas", n, true) && add_count(st, "updatedReplicas", n, true) &&
               add_count(st, "readyReplicas", n, true) &&
               add_count(st, "availableReplicas", n, true);
    return add_count(st, "replicas", n, false) && add_count(st, "readyReplicas", n, true) &&
           add_count(st, "currentReplicas", n, true) && add_count(st, "updatedReplicas", n, true) &&
           add_count(st, "availableReplicas", n, false);
}

static cJSON *workload_json(const struct simc_cluster *c, const struct simc_namespace *ns,
                            const struct simc_workload *w, bool with_type)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || (with_type && !add_type(o, "apps/v1", simc_kind_name(w->kind))) ||
        !add_meta(o, c, &w->meta, ns->meta.name, w->generation) || !add_workload_spec(o, w) ||
        !add_workload_status(o, w)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* {"kind": KIND, "apiVersion": ..., "metadata": {"resourceVersion"}, "items": []}
 * with items to be filled by the caller. */
static cJSON *list_json(const struct simc_cluster *c, const char *api_version, const char *kind,
                        cJSON **items)
{
    char rv[24];
    snprintf(rv, sizeof rv, "%" PRIu64, c->resource_version);
    cJSON *o = cJSON_CreateObject();
    cJSON *meta =
        o && add_type(o, api_version, kind) ? cJSON_AddObjectToObject(o, "metadata") : NULL;
    if (!meta || !cJSON_AddStringToObject(meta, "resourceVersion", rv) ||
        !(*items = cJSON_AddArrayToObject(o, "items"))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Takes o; 200 with its text, or 500 (NULL body) when out of memory. */
static int reply(cJSON *o, char **body)
{
    *body = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return *body ? 200 : 500;
}

/* ---- requests ---- */

static int bad_selector(char **body, const char *why)
{
    return fail_status(body, &(struct status){400, "BadRequest", why, NULL, NULL, NULL});
}

static int list_namespaces(const struct simc_cluster *c, const struct simc_selector *sel,
                           char **body)
{
    cJSON *items = NULL;
    cJSON *o = list_json(c, "v1", "NamespaceList", &items);
    for (size_t i = 0; o && i < c->nnamespaces; i++) {
        const struct simc_namespace *ns = &c->namespaces[i];
        if (!simc_selector_matches(sel, &ns->meta.labels))
            continue;
        cJSON *item = namespace_json(c, ns, false);
        if (!item) {
            cJSON_Delete(o);
            o = NULL;
            break;
        }
        cJSON_AddItemToArray(items, item);
    }
    return reply(o, body);
}

/* A namespace that does not exist has no workloads: an empty list, as the
 * API server answers, not 404. */
static int list_workloads(const struct simc_cluster *c, const char *ns_name, enum simc_kind kind,
                          const struct simc_selector *sel, char **body)
{
    cJSON *items = NULL;
    cJSON *o = list_json(c, "apps/v1",
                         kind == SIMC_DEPLOYMENT ? "DeploymentList" : "StatefulSetList", &items);
    const struct simc_namespace *ns = simc_ns_find(c, ns_name);
    for (size_t i = 0; o && ns && i < ns->nworkloads; i++) {
        const struct simc_workload *w = &ns->workloads[i];
        if (w->kind != kind || !simc_selector_matches(sel, &w->meta.labels))
            continue;
        cJSON *item = workload_json(c, ns, w, false);
        if (!item) {
            cJSON_Delete(o);
            o = NULL;
            break;
        }
        cJSON_AddItemToArray(items, item);
    }
    return reply(o, body);
}

bool sim_kube_authorized(const struct simc_cluster *c, const char *header)
{
    if (!c->token[0])
        return true;
    if (!header)
        return false;
    while (*header == ' ' || *header == '\t')
        header++;
    if (strncasecmp(header, "bearer ", 7) != 0)
        return false;
    char token[SIMC_TOKEN_MAX];
    size_t n = strcspn(header + 7, " \t");
    if (n == 0 || n >= sizeof token)
        return false;
    memcpy(token, header + 7, n);
    token[n] = '\0';
    return util_secret_equal(token, c->token);
}

/* Splits "/a/b/c" into segments; false when there are too many, one is
 * empty ("//", a trailing "/") or too long. */
static bool split_path(const char *path, char seg[][SEGMENT_MAX], int *n)
{
    *n = 0;
    if (*path != '/')
        return false;
    const char *p = path + 1;
    while (*p || *n == 0) {
        size_t len = strcspn(p, "/");
        if (len == 0 || len >= SEGMENT_MAX || *n >= MAX_SEGMENTS)
            return false;
        memcpy(seg[*n], p, len);
        seg[*n][len] = '\0';
        (*n)++;
        p += len;
        if (*p == '/' && !*++p)
            return false;
    }
    return true;
}

enum route { R_NONE, R_NAMESPACES, R_NAMESPACE, R_WORKLOADS, R_WORKLOAD };

static enum route find_route(char seg[][SEGMENT_MAX], int n, enum simc_kind *kind)
{
    if (n >= 3 && strcmp(seg[0], "api") == 0 && strcmp(seg[1], "v1") == 0 &&
        strcmp(seg[2], "namespaces") == 0)
        return n == 3 ? R_NAMESPACES : n == 4 ? R_NAMESPACE : R_NONE;
    if ((n == 6 || n == 7) && strcmp(seg[0], "apis") == 0 && strcmp(seg[1], "apps") == 0 &&
        strcmp(seg[2], "v1") == 0 && strcmp(seg[3], "namespaces") == 0) {
        if (strcmp(seg[5], "deployments") == 0)
            *kind = SIMC_DEPLOYMENT;
        else if (strcmp(seg[5], "statefulsets") == 0)
            *kind = SIMC_STATEFULSET;
        else
            return R_NONE;
        return n == 6 ? R_WORKLOADS : R_WORKLOAD;
    }
    return R_NONE;
}

int sim_kube_handle(const struct simc_cluster *c, const struct sim_kube_request *req, char **body)
{
    *body = NULL;
    if (!sim_kube_authorized(c, req->authorization))
        return fail_status(body,
                           &(struct status){401, "Unauthorized", "Unauthorized", NULL, NULL, NULL});
    char seg[MAX_SEGMENTS][SEGMENT_MAX];
    int n;
    enum simc_kind kind = SIMC_DEPLOYMENT;
    enum route route = split_path(req->path, seg, &n) ? find_route(seg, n, &kind) : R_NONE;
    if (route == R_NONE)
        return not_found_path(body);
    if (strcmp(req->method, "GET") != 0)
        return fail_status(body, &(struct status){405, "MethodNotAllowed",
                                                  "the server does not allow this method on the "
                                                  "requested resource",
                                                  "", NULL, NULL});
    if (route == R_NAMESPACE) {
        const struct simc_namespace *ns = simc_ns_find(c, seg[3]);
        if (!ns)
            return not_found_object(body, "namespaces", NULL, seg[3]);
        return reply(namespace_json(c, ns, true), body);
    }
    if (route == R_WORKLOAD) {
        const struct simc_namespace *ns = simc_ns_find(c, seg[4]);
        const struct simc_workload *w = ns ? simc_workload_find(ns, kind, seg[6]) : NULL;
        if (!w)
            return not_found_object(body, simc_kind_plural(kind), "apps", seg[6]);
        return reply(workload_json(c, ns, w, true), body);
    }
    struct simc_selector sel;
    char why[512];
    if (simc_selector_parse(&sel, req->label_selector ? req->label_selector : "", why, sizeof why) <
        0)
        return bad_selector(body, why);
    int status = route == R_NAMESPACES ? list_namespaces(c, &sel, body)
                                       : list_workloads(c, seg[4], kind, &sel, body);
    simc_selector_free(&sel);
    return status;
}
