/*
 * api_workloads — see api_workloads.h. The answer is built from one
 * snapshot of the inventory (core/inv_watch.h); the refresh endpoint only
 * wakes the refreshing thread, since a handler never calls the Kubernetes
 * API itself.
 */
#include "api/api_workloads.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/inv_watch.h"
#include "placement/inventory.h"

static cJSON *string_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *workload_json(const struct inv_workload *w)
{
    bool ok = true;
    cJSON *o = cJSON_CreateObject();
    api_jadd(o, "name", cJSON_CreateString(w->name), &ok);
    api_jadd(o, "namespace", cJSON_CreateString(w->namespace_), &ok);
    api_jadd(o, "movable", cJSON_CreateBool(inv_workload_movable(w)), &ok);
    api_jadd(o, "reason", string_or_null(inv_workload_reason(w)), &ok);
    api_jadd(o, "error", string_or_null(w->error), &ok);
    if (w->error)
        return api_json_finish(o, ok); /* left out: nothing else read is to be trusted */
    api_jadd(o, "power_kw", api_json_number(w->power_kw), &ok);
    api_jadd(o, "data_gb", api_json_number(w->data_gb), &ok);
    api_jadd(o, "priority", cJSON_CreateNumber(w->priority), &ok);
    api_jadd(o, "stateless", cJSON_CreateBool(w->stateless), &ok);
    api_jadd(o, "group", string_or_null(w->group), &ok);
    api_jadd(o, "hostname", string_or_null(w->hostname), &ok);
    api_jadd(o, "pinned", cJSON_CreateBool(w->pinned), &ok);
    api_jadd(o, "home_site", string_or_null(w->home_site), &ok);
    cJSON *q = api_jadd(o, "quiesce", w->nquiesce ? cJSON_CreateArray() : cJSON_CreateNull(), &ok);
    for (size_t i = 0; i < w->nquiesce; i++)
        api_jadd(q, NULL, cJSON_CreateString(w->quiesce[i]), &ok);
    api_jadd(o, "pod_hooks", cJSON_CreateBool(w->has_pod_hooks), &ok);
    /* The shape of SPEC 5's import "replicas". */
    cJSON *r = api_jadd(o, "replicas", cJSON_CreateObject(), &ok);
    for (size_t i = 0; i < w->ncontrollers; i++) {
        char key[300];
        snprintf(key, sizeof key, "%s/%s", w->controllers[i].kind, w->controllers[i].name);
        api_jadd(r, key, cJSON_CreateNumber(w->controllers[i].replicas), &ok);
    }
    return api_json_finish(o, ok);
}

void api_handle_workloads(struct api_call *c, const char *param)
{
    (void)param;
    struct inv_view v = {0};
    if (c->a->inventory)
        inv_watch_view(c->a->inventory, &v);
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    api_jadd(root, "source", v.source[0] ? cJSON_CreateString(v.source) : cJSON_CreateNull(), &ok);
    const char *credentials = c->cfg->workloads.k8s_credentials;
    if (strcmp(v.source, "kubernetes") == 0)
        api_jadd(root, "credentials", string_or_null(credentials), &ok);
    int64_t read_ms = v.inv ? v.inv->read_ms : 0;
    int64_t age_ms = c->now_ms - read_ms;
    api_jadd(root, "refreshed_at", read_ms ? api_json_time(read_ms) : cJSON_CreateNull(), &ok);
    api_jadd(root, "age_s",
             read_ms ? cJSON_CreateNumber((double)(age_ms > 0 ? age_ms : 0) / 1000.0)
                     : cJSON_CreateNull(),
             &ok);
    api_jadd(root, "attempted_at",
             v.attempted_ms ? api_json_time(v.attempted_ms) : cJSON_CreateNull(), &ok);
    api_jadd(root, "error", v.error[0] ? cJSON_CreateString(v.error) : cJSON_CreateNull(), &ok);
    api_jadd(root, "failing_since",
             v.failing_since_ms ? api_json_time(v.failing_since_ms) : cJSON_CreateNull(), &ok);
    api_jadd(root, "token_warning",
             v.token_warning[0] ? cJSON_CreateString(v.token_warning) : cJSON_CreateNull(), &ok);
    api_jadd(root, "refreshes", cJSON_CreateNumber((double)v.refreshes), &ok);
    api_jadd(root, "requests_served", cJSON_CreateNumber((double)v.requests_served), &ok);
    cJSON *list = api_jadd(root, "workloads", cJSON_CreateArray(), &ok);
    for (size_t i = 0; v.inv && i < v.inv->n && ok; i++)
        api_jadd(list, NULL, workload_json(&v.inv->workloads[i]), &ok);
    inv_unref(v.inv);
    api_respond_json(c, 200, api_json_finish(root, ok));
}

void api_handle_workloads_refresh(struct api_call *c, const char *param)
{
    (void)param;
    if (!c->a->inventory || !c->cfg->workloads.source) {
        api_respond_error(c, 409, "no workloads.source is configured: nothing to refresh");
        return;
    }
    uint64_t ticket = inv_watch_request(c->a->inventory);
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    api_jadd(root, "requested_at", api_json_time(c->now_ms), &ok);
    /* Done once GET /v1/workloads says requests_served >= request. */
    api_jadd(root, "request", cJSON_CreateNumber((double)ticket), &ok);
    api_respond_json(c, 202, api_json_finish(root, ok));
}
