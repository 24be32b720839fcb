/*
 * sim_kube — see sim_kube.h.
 */
#include "sim/sim_kube.h"

#include "lib/util.h"
#include "sim/sim_kube_json.h"
#include "sim/sim_kube_write.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SEGMENTS 8
#define SEGMENT_MAX 256

/* {"kind": KIND, "apiVersion": ..., "metadata": {"resourceVersion"}, "items": []}
 * with items to be filled by the caller. */
static cJSON *list_json(const struct simc_cluster *c, const char *api_version, const char *kind,
                        cJSON **items)
{
    char rv[24];
    snprintf(rv, sizeof rv, "%" PRIu64, c->resource_version);
    cJSON *o = cJSON_CreateObject();
    cJSON *meta = o && sim_kube_add_type(o, api_version, kind)
                      ? cJSON_AddObjectToObject(o, "metadata")
                      : NULL;
    if (!meta || !cJSON_AddStringToObject(meta, "resourceVersion", rv) ||
        !(*items = cJSON_AddArrayToObject(o, "items"))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---- requests ---- */

static int list_namespaces(const struct simc_cluster *c, const struct simc_selector *sel,
                           char **body)
{
    cJSON *items = NULL;
    cJSON *o = list_json(c, "v1", "NamespaceList", &items);
    for (size_t i = 0; o && i < c->nnamespaces; i++) {
        const struct simc_namespace *ns = &c->namespaces[i];
        if (!simc_selector_matches(sel, &ns->meta.labels))
            continue;
        cJSON *item = sim_kube_namespace_json(c, ns, false);
        if (!item) {
            cJSON_Delete(o);
            o = NULL;
            break;
        }
        cJSON_AddItemToArray(items, item);
    }
    return sim_kube_reply(o, 200, body);
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
        cJSON *item = sim_kube_workload_json(c, ns, w, false);
        if (!item) {
            cJSON_Delete(o);
            o = NULL;
            break;
        }
        cJSON_AddItemToArray(items, item);
    }
    return sim_kube_reply(o, 200, body);
}

/* The bearer-token check of the API server: "Bearer TOKEN", the scheme in
 * any case. */
static bool authorized(const struct simc_cluster *c, const char *header)
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

enum route { R_NONE, R_NAMESPACES, R_NAMESPACE, R_WORKLOADS, R_WORKLOAD, R_SCALE };

static enum route find_route(char seg[][SEGMENT_MAX], int n, enum simc_kind *kind)
{
    if (n >= 3 && strcmp(seg[0], "api") == 0 && strcmp(seg[1], "v1") == 0 &&
        strcmp(seg[2], "namespaces") == 0)
        return n == 3 ? R_NAMESPACES : n == 4 ? R_NAMESPACE : R_NONE;
    if (n >= 6 && n <= 8 && strcmp(seg[0], "apis") == 0 && strcmp(seg[1], "apps") == 0 &&
        strcmp(seg[2], "v1") == 0 && strcmp(seg[3], "namespaces") == 0) {
        if (strcmp(seg[5], "deployments") == 0)
            *kind = SIMC_DEPLOYMENT;
        else if (strcmp(seg[5], "statefulsets") == 0)
            *kind = SIMC_STATEFULSET;
        else
            return R_NONE;
        if (n == 8)
            return strcmp(seg[7], "scale") == 0 ? R_SCALE : R_NONE;
        return n == 6 ? R_WORKLOADS : R_WORKLOAD;
    }
    return R_NONE;
}

static const struct sim_kube_group *find_group(const struct sim_kube_request *req)
{
    for (size_t i = 0; i < req->ngroups; i++) {
        const char *p = req->groups[i].prefix;
        size_t n = strlen(p);
        if (strncmp(req->path, p, n) == 0 ||
            (n > 1 && p[n - 1] == '/' && strlen(req->path) == n - 1 &&
             strncmp(req->path, p, n - 1) == 0))
            return &req->groups[i];
    }
    return NULL;
}

static int get(const struct simc_cluster *c, const struct sim_kube_request *req, enum route route,
               char seg[][SEGMENT_MAX], enum simc_kind kind, char **body)
{
    if (route == R_NAMESPACE) {
        const struct simc_namespace *ns = simc_ns_find(c, seg[3]);
        if (!ns)
            return sim_kube_not_found(body, "namespaces", NULL, seg[3]);
        return sim_kube_reply(sim_kube_namespace_json(c, ns, true), 200, body);
    }
    if (route == R_WORKLOAD) {
        const struct simc_namespace *ns = simc_ns_find(c, seg[4]);
        const struct simc_workload *w = ns ? simc_workload_find(ns, kind, seg[6]) : NULL;
        if (!w)
            return sim_kube_not_found(body, simc_kind_plural(kind), "apps", seg[6]);
        return sim_kube_reply(sim_kube_workload_json(c, ns, w, true), 200, body);
    }
    if (route == R_SCALE)
        return sim_kube_get_scale(c, seg[4], kind, seg[6], body);
    struct simc_selector sel;
    char why[512];
    if (simc_selector_parse(&sel, req->label_selector ? req->label_selector : "", why, sizeof why) <
        0)
        return sim_kube_bad_request(body, why);
    int status = route == R_NAMESPACES ? list_namespaces(c, &sel, body)
                                       : list_workloads(c, seg[4], kind, &sel, body);
    simc_selector_free(&sel);
    return status;
}

int sim_kube_handle(struct simc_cluster *c, const struct sim_kube_request *req, char **body)
{
    *body = NULL;
    if (!authorized(c, req->authorization))
        return sim_kube_fail(body, &(struct sim_kube_status){.code = 401,
                                                             .reason = "Unauthorized",
                                                             .message = "Unauthorized"});
    const struct sim_kube_group *group = find_group(req);
    if (group)
        return group->handle(group->arg, c, req, body);
    char seg[MAX_SEGMENTS][SEGMENT_MAX];
    int n;
    enum simc_kind kind = SIMC_DEPLOYMENT;
    enum route route = split_path(req->path, seg, &n) ? find_route(seg, n, &kind) : R_NONE;
    if (route == R_NONE)
        return sim_kube_fail(
            body,
            &(struct sim_kube_status){.code = 404,
                                      .reason = "NotFound",
                                      .message = "the server could not find the requested resource",
                                      .kind = ""});
    const char *m = req->method;
    if (strcmp(m, "GET") == 0)
        return get(c, req, route, seg, kind, body);
    struct sim_kube_body in = {.text = req->body ? req->body : "",
                               .len = req->body ? req->body_len : 0,
                               .content_type = req->content_type};
    if (route == R_NAMESPACES && strcmp(m, "POST") == 0)
        return sim_kube_create_namespace(c, &in, req->now_ms, body);
    if (route == R_NAMESPACE && strcmp(m, "DELETE") == 0)
        return sim_kube_delete_namespace(c, seg[3], req->now_ms, body);
    if (route == R_WORKLOADS && strcmp(m, "POST") == 0)
        return sim_kube_create_workload(c, seg[4], kind, &in, req->now_ms, body);
    if (route == R_WORKLOAD && strcmp(m, "PUT") == 0)
        return sim_kube_replace_workload(c, seg[4], kind, seg[6], &in, req->now_ms, body);
    if (route == R_SCALE && strcmp(m, "PUT") == 0)
        return sim_kube_replace_scale(c, seg[4], kind, seg[6], &in, req->now_ms, body);
    if (route == R_SCALE && strcmp(m, "PATCH") == 0)
        return sim_kube_patch_scale(c, seg[4], kind, seg[6], &in, req->now_ms, body);
    return sim_kube_method_not_allowed(body);
}

/* ---- faults ---- */

bool sim_kube_fault_name(const char *name)
{
    return strcmp(name, "kube.fail_next") == 0 || strcmp(name, "kube.hang") == 0;
}

int sim_kube_fault_check(const char *name, const cJSON *v, char *err, size_t errlen)
{
    if (strcmp(name, "kube.fail_next") == 0) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
            v->valuedouble > 1e6)
            return errf(err, errlen, "%s: expected a whole number 0..1000000", name);
        return 0;
    }
    if (strcmp(name, "kube.hang") == 0) {
        if (!cJSON_IsBool(v) && !(cJSON_IsNumber(v) && v->valuedouble > 0 &&
                                  v->valuedouble <= SIMC_MAX_DELAY_MS / 1000))
            return errf(err, errlen,
                        "%s: expected true, false or a number of simulated seconds 0..%d", name,
                        SIMC_MAX_DELAY_MS / 1000);
        return 0;
    }
    return errf(err, errlen, "unknown value '%s'", name);
}

void sim_kube_fault_apply(struct sim_kube_faults *f, const char *name, const cJSON *v,
                          int64_t now_ms)
{
    if (strcmp(name, "kube.fail_next") == 0)
        f->fail_next = (int64_t)v->valuedouble;
    else if (cJSON_IsBool(v))
        f->hang_until_ms = cJSON_IsTrue(v) ? INT64_MAX : 0;
    else
        f->hang_until_ms = now_ms + (int64_t)llround(v->valuedouble * 1000.0);
}

int sim_kube_fault_fail(struct sim_kube_faults *f, char **body)
{
    *body = NULL;
    if (f->fail_next <= 0)
        return 0;
    f->fail_next--;
    return sim_kube_internal_error(body, "floe-sim: injected fault (kube.fail_next)");
}

bool sim_kube_fault_hanging(const struct sim_kube_faults *f, int64_t now_ms)
{
    return f->hang_until_ms > now_ms;
}
