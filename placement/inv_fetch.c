/*
 * inv_fetch — see inv_fetch.h.
 */
#include "placement/inv_fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* Whether an answer means the API server is not there to ask (no answer,
 * or a server error), as opposed to a refusal about this namespace. */
static bool server_down(const struct kube_req *r)
{
    return r->status == 0 || r->status >= 500;
}

/* Asks for the Deployments and StatefulSets of workloads [from, to) that
 * are not left out. Returns 0, or -1 with err when the server is down. */
static int fetch_batch(struct kube_client *kc, struct inventory *inv, size_t from, size_t to,
                       int64_t mono_ms, char *err, size_t errlen)
{
    static const char *const kinds[2] = {"deployment", "statefulset"};
    static const char *const paths[2] = {"deployments", "statefulsets"};
    struct kube_req rs[2 * INV_FETCH_BATCH];
    char urls[2 * INV_FETCH_BATCH][128];
    size_t owner[2 * INV_FETCH_BATCH];
    size_t n = 0;
    memset(rs, 0, sizeof rs);
    for (size_t i = from; i < to; i++) {
        struct inv_workload *w = &inv->workloads[i];
        if (w->error)
            continue;
        for (int k = 0; k < 2; k++) {
            /* The namespace name was checked (kube_name_valid): it is safe
             * in a path. */
            snprintf(urls[n], sizeof urls[n], "/apis/apps/v1/namespaces/%s/%s", w->namespace_,
                     paths[k]);
            rs[n].path = urls[n];
            owner[n++] = i;
        }
    }
    kube_run_all(kc, rs, n, mono_ms);
    int rc = 0;
    for (size_t j = 0; j < n; j++) {
        struct inv_workload *w = &inv->workloads[owner[j]];
        char why[700];
        if (rc == 0 && server_down(&rs[j])) {
            errf(err, errlen, "%s", rs[j].error);
            rc = -1;
        } else if (!rs[j].json) {
            inv_exclude(w, rs[j].error);
        } else if (inv_add_controllers(w, kinds[j % 2], rs[j].json, why, sizeof why) != 0) {
            char line[760];
            snprintf(line, sizeof line, "%s: %s", rs[j].path, why);
            inv_exclude(w, line);
        }
        kube_req_clear(&rs[j]);
    }
    return rc;
}

struct inventory *inv_fetch_kubernetes(struct kube_client *kc, const char *label_selector,
                                       bool data_mover, int64_t now_ms, int64_t mono_ms,
                                       atomic_int *stop, char *err, size_t errlen)
{
    char selector[1024], path[1100];
    if (kube_query_escape(label_selector ? label_selector : "", selector, sizeof selector) != 0) {
        errf(err, errlen, "label selector too long");
        return NULL;
    }
    if (*selector)
        snprintf(path, sizeof path, "/api/v1/namespaces?labelSelector=%s", selector);
    else
        snprintf(path, sizeof path, "/api/v1/namespaces");
    struct kube_req list = {.path = path};
    if (kube_run(kc, &list, mono_ms) != 0) {
        errf(err, errlen, "%s", list.error);
        kube_req_clear(&list);
        return NULL;
    }
    struct inventory *inv = inv_new("kubernetes", now_ms);
    if (!inv) {
        errf(err, errlen, "out of memory");
        kube_req_clear(&list);
        return NULL;
    }
    char why[256];
    if (inv_add_namespaces(inv, list.json, why, sizeof why) != 0) {
        errf(err, errlen, "GET %s: %s", path, why);
        goto fail;
    }
    kube_req_clear(&list);
    for (size_t from = 0; from < inv->n; from += INV_FETCH_BATCH) {
        if (stop && atomic_load(stop)) {
            errf(err, errlen, "stopped");
            goto fail;
        }
        size_t to = from + INV_FETCH_BATCH < inv->n ? from + INV_FETCH_BATCH : inv->n;
        if (fetch_batch(kc, inv, from, to, mono_ms, err, errlen) != 0)
            goto fail;
    }
    inv_judge(inv, data_mover);
    return inv;
fail:
    kube_req_clear(&list);
    inv_unref(inv);
    return NULL;
}
