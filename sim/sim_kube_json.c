/*
 * sim_kube_json — see sim_kube_json.h.
 */
#include "sim/sim_kube_json.h"

#include "lib/strbuf.h"
#include "lib/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Status objects ---- */

static bool add_details(cJSON *o, const struct sim_kube_status *st)
{
    cJSON *d = cJSON_AddObjectToObject(o, "details");
    if (!d || (st->name && !cJSON_AddStringToObject(d, "name", st->name)) ||
        (st->group && st->group[0] && !cJSON_AddStringToObject(d, "group", st->group)) ||
        (st->kind[0] && !cJSON_AddStringToObject(d, "kind", st->kind)))
        return false;
    if (!st->ncauses)
        return true;
    cJSON *causes = cJSON_AddArrayToObject(d, "causes");
    if (!causes)
        return false;
    for (size_t i = 0; i < st->ncauses; i++) {
        const struct sim_kube_cause *c = &st->causes[i];
        cJSON *item = cJSON_CreateObject();
        if (!item)
            return false;
        cJSON_AddItemToArray(causes, item);
        if ((c->reason && !cJSON_AddStringToObject(item, "reason", c->reason)) ||
            (c->message && !cJSON_AddStringToObject(item, "message", c->message)) ||
            (c->field && !cJSON_AddStringToObject(item, "field", c->field)))
            return false;
    }
    return true;
}

int sim_kube_fail(char **body, const struct sim_kube_status *st)
{
    *body = NULL;
    cJSON *o = cJSON_CreateObject();
    if (o && cJSON_AddStringToObject(o, "kind", "Status") &&
        cJSON_AddStringToObject(o, "apiVersion", "v1") && cJSON_AddObjectToObject(o, "metadata") &&
        cJSON_AddStringToObject(o, "status", "Failure") &&
        cJSON_AddStringToObject(o, "message", st->message) &&
        cJSON_AddStringToObject(o, "reason", st->reason) && (!st->kind || add_details(o, st)) &&
        cJSON_AddNumberToObject(o, "code", st->code))
        *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return st->code;
}

/* "deployments.apps", "namespaces" */
static void qualified(char *out, size_t n, const char *plural, const char *group)
{
    snprintf(out, n, "%s%s%s", plural, group && group[0] ? "." : "", group ? group : "");
}

int sim_kube_not_found(char **body, const char *plural, const char *group, const char *name)
{
    char res[300], msg[800];
    qualified(res, sizeof res, plural, group);
    snprintf(msg, sizeof msg, "%s \"%s\" not found", res, name);
    return sim_kube_fail(body, &(struct sim_kube_status){.code = 404,
                                                         .reason = "NotFound",
                                                         .message = msg,
                                                         .kind = plural,
                                                         .name = name,
                                                         .group = group});
}

int sim_kube_already_exists(char **body, const char *plural, const char *group, const char *name)
{
    char res[300], msg[800];
    qualified(res, sizeof res, plural, group);
    snprintf(msg, sizeof msg, "%s \"%s\" already exists", res, name);
    return sim_kube_fail(body, &(struct sim_kube_status){.code = 409,
                                                         .reason = "AlreadyExists",
                                                         .message = msg,
                                                         .kind = plural,
                                                         .name = name,
                                                         .group = group});
}

int sim_kube_conflict(char **body, const char *plural, const char *group, const char *name,
                      const char *why)
{
    char res[300], msg[1200];
    qualified(res, sizeof res, plural, group);
    snprintf(msg, sizeof msg, "Operation cannot be fulfilled on %s \"%s\": %s", res, name, why);
    return sim_kube_fail(body, &(struct sim_kube_status){.code = 409,
                                                         .reason = "Conflict",
                                                         .message = msg,
                                                         .kind = plural,
                                                         .name = name,
                                                         .group = group});
}

int sim_kube_forbidden(char **body, const char *plural, const char *group, const char *name,
                       const char *why)
{
    char res[300], msg[1200];
    qualified(res, sizeof res, plural, group);
    snprintf(msg, sizeof msg, "%s \"%s\" is forbidden: %s", res, name, why);
    return sim_kube_fail(body, &(struct sim_kube_status){.code = 403,
                                                         .reason = "Forbidden",
                                                         .message = msg,
                                                         .kind = plural,
                                                         .name = name,
                                                         .group = group});
}

int sim_kube_invalid(char **body, const char *kind, const char *group, const char *name,
                     const struct sim_kube_cause *causes, size_t ncauses)
{
    struct sim_kube_cause fixed[16];
    if (ncauses > sizeof fixed / sizeof fixed[0])
        ncauses = sizeof fixed / sizeof fixed[0];
    struct strbuf msg = {0};
    char res[300];
    qualified(res, sizeof res, kind, group);
    strbuf_printf(&msg, "%s \"%s\" is invalid: %s", res, name, ncauses > 1 ? "[" : "");
    for (size_t i = 0; i < ncauses; i++) {
        fixed[i] = causes[i];
        if (!fixed[i].reason)
            fixed[i].reason = "FieldValueInvalid";
        strbuf_printf(&msg, "%s%s: %s", i ? ", " : "", causes[i].field, causes[i].message);
    }
    if (ncauses > 1)
        strbuf_puts(&msg, "]");
    char *text = strbuf_take(&msg);
    int code = 500;
    *body = NULL;
    if (text)
        code = sim_kube_fail(body, &(struct sim_kube_status){.code = 422,
                                                             .reason = "Invalid",
                                                             .message = text,
                                                             .kind = kind,
                                                             .name = name,
                                                             .group = group,
                                                             .causes = fixed,
                                                             .ncauses = ncauses});
    free(text);
    return code;
}

int sim_kube_bad_request(char **body, const char *message)
{
    return sim_kube_fail(
        body, &(struct sim_kube_status){.code = 400, .reason = "BadRequest", .message = message});
}

int sim_kube_unsupported_media_type(char **body, const char *const *accepted, size_t naccepted)
{
    char msg[600];
    size_t used = (size_t)snprintf(
        msg, sizeof msg,
        "the body of the request was in an unknown format - accepted media types include: ");
    for (size_t i = 0; i < naccepted && used < sizeof msg; i++)
        used += (size_t)snprintf(msg + used, sizeof msg - used, "%s%s", i ? ", " : "", accepted[i]);
    return sim_kube_fail(body, &(struct sim_kube_status){
                                   .code = 415, .reason = "UnsupportedMediaType", .message = msg});
}

int sim_kube_method_not_allowed(char **body)
{
    return sim_kube_fail(
        body, &(struct sim_kube_status){
                  .code = 405,
                  .reason = "MethodNotAllowed",
                  .message = "the server does not allow this method on the requested resource",
                  .kind = ""});
}

int sim_kube_internal_error(char **body, const char *why)
{
    char msg[600];
    snprintf(msg, sizeof msg, "Internal error occurred: %s", why);
    return sim_kube_fail(
        body, &(struct sim_kube_status){.code = 500,
                                        .reason = "InternalError",
                                        .message = msg,
                                        .kind = "",
                                        .causes = &(struct sim_kube_cause){.message = why},
                                        .ncauses = 1});
}

int sim_kube_reply(cJSON *o, int status, char **body)
{
    *body = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return *body ? status : 500;
}

/* ---- objects ---- */

void sim_kube_time(const struct simc_cluster *c, int64_t sim_ms, char *buf, size_t n)
{
    int64_t ms = c->epoch_ms + sim_ms;
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

bool sim_kube_add_meta(cJSON *obj, const struct simc_cluster *c, const struct simc_meta *m,
                       const char *ns, int64_t generation)
{
    char rv[24], ts[40];
    snprintf(rv, sizeof rv, "%" PRIu64, m->resource_version);
    sim_kube_time(c, m->created_ms, ts, sizeof ts);
    cJSON *meta = cJSON_AddObjectToObject(obj, "metadata");
    return meta && cJSON_AddStringToObject(meta, "name", m->name) &&
           (!ns || cJSON_AddStringToObject(meta, "namespace", ns)) &&
           cJSON_AddStringToObject(meta, "uid", m->uid) &&
           cJSON_AddStringToObject(meta, "resourceVersion", rv) &&
           add_count(meta, "generation", (double)generation, true) &&
           cJSON_AddStringToObject(meta, "creationTimestamp", ts) &&
           add_map(meta, "labels", &m->labels) && add_map(meta, "annotations", &m->annotations);
}

bool sim_kube_add_type(cJSON *obj, const char *api_version, const char *kind)
{
    return cJSON_AddStringToObject(obj, "kind", kind) &&
           cJSON_AddStringToObject(obj, "apiVersion", api_version);
}

cJSON *sim_kube_namespace_json(const struct simc_cluster *c, const struct simc_namespace *ns,
                               bool with_type)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || (with_type && !sim_kube_add_type(o, "v1", "Namespace")) ||
        !sim_kube_add_meta(o, c, &ns->meta, NULL, 0))
        goto fail;
    if (ns->phase == SIMC_NS_TERMINATING) {
        char ts[40];
        sim_kube_time(c, ns->deletion_ms, ts, sizeof ts);
        if (!cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(o, "metadata"),
                                     "deletionTimestamp", ts))
            goto fail;
    }
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

/* The counts the controllers write. Pods are available as soon as ready
 * (minReadySeconds 0), and a finished rollout leaves a StatefulSet's
 * current revision equal to its update revision, so currentReplicas =
 * updatedReplicas. Which counts are omitted at 0 follows the Go types:
 * all of a Deployment's; a StatefulSet's replicas and availableReplicas
 * are always there. */
static bool add_workload_status(cJSON *o, const struct simc_workload *w)
{
    cJSON *st = cJSON_AddObjectToObject(o, "status");
    if (!st || !add_count(st, "observedGeneration", (double)w->observed_generation, true))
        return false;
    if (w->kind == SIMC_DEPLOYMENT) {
        int32_t unavailable = w->replicas > w->ready ? w->replicas - w->ready : 0;
        return add_count(st, "replicas", w->pods, true) &&
               add_count(st, "updatedReplicas", w->updated, true) &&
               add_count(st, "readyReplicas", w->ready, true) &&
               add_count(st, "availableReplicas", w->ready, true) &&
               add_count(st, "unavailableReplicas", unavailable, true);
    }
    return add_count(st, "replicas", w->pods, false) &&
           add_count(st, "readyReplicas", w->ready, true) &&
           add_count(st, "currentReplicas", w->updated, true) &&
           add_count(st, "updatedReplicas", w->updated, true) &&
           add_count(st, "availableReplicas", w->ready, false);
}

cJSON *sim_kube_workload_json(const struct simc_cluster *c, const struct simc_namespace *ns,
                              const struct simc_workload *w, bool with_type)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || (with_type && !sim_kube_add_type(o, "apps/v1", simc_kind_name(w->kind))) ||
        !sim_kube_add_meta(o, c, &w->meta, ns->meta.name, w->generation) ||
        !add_workload_spec(o, w) || !add_workload_status(o, w)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *sim_kube_scale_json(const struct simc_cluster *c, const struct simc_namespace *ns,
                           const struct simc_workload *w)
{
    char selector[SIMC_DNS_SUBDOMAIN_MAX + 8];
    snprintf(selector, sizeof selector, "app=%s", w->meta.name);
    /* The Scale shows the workload's metadata without its labels,
     * annotations and generation, as the API server builds it. */
    struct simc_meta meta = w->meta;
    memset(&meta.labels, 0, sizeof meta.labels);
    memset(&meta.annotations, 0, sizeof meta.annotations);
    cJSON *o = cJSON_CreateObject();
    cJSON *spec = o && sim_kube_add_type(o, "autoscaling/v1", "Scale") &&
                          sim_kube_add_meta(o, c, &meta, ns->meta.name, 0)
                      ? cJSON_AddObjectToObject(o, "spec")
                      : NULL;
    cJSON *status = spec && add_count(spec, "replicas", w->replicas, true)
                        ? cJSON_AddObjectToObject(o, "status")
                        : NULL;
    if (!status || !cJSON_AddNumberToObject(status, "replicas", w->pods) ||
        !cJSON_AddStringToObject(status, "selector", selector)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
