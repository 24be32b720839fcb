/*
 * fuzz_inventory — what a Kubernetes API server answers, on arbitrary
 * bytes: the same text as a NamespaceList (namespaces and their floe.dev/
 * annotations), as a DeploymentList and a StatefulSetList for a workload,
 * and as the body of an error (kube_status_error). Beyond not crashing or
 * leaking, each keeps its contract:
 *   - a namespace list is taken whole or not at all: on failure nothing
 *     is added and the error says why;
 *   - every workload has a name, and one left out says why (non-empty);
 *   - a controller list that is refused leaves the workload's controllers
 *     as they were; an accepted one gives each a name and replicas >= 0;
 *   - after inv_judge, a workload is movable exactly when it has no
 *     reason, and the inventory's references free it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_client.h"
#include "placement/inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct inventory *inv)
{
    for (size_t i = 0; i < inv->n; i++) {
        const struct inv_workload *w = &inv->workloads[i];
        if (!w->name || !w->name[0] || !w->namespace_)
            abort();
        if (w->error && !w->error[0])
            abort();
        if (inv_workload_movable(w) != (inv_workload_reason(w) == NULL))
            abort();
        for (size_t c = 0; c < w->ncontrollers; c++)
            if (!w->controllers[c].name || w->controllers[c].replicas < 0)
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char err[256];

    struct inventory *inv = inv_new("kubernetes", 0);
    if (!inv)
        return 0;
    err[0] = '\0';
    if (inv_add_namespaces_text(inv, text, size, err, sizeof err) != 0 && (inv->n || !err[0]))
        abort();

    /* The same bytes as the controllers of a workload that is not left out. */
    struct inventory *one = inv_new("kubernetes", 0);
    const char *ns = "{\"items\": [{\"metadata\": {\"name\": \"w\", \"annotations\": "
                     "{\"floe.dev/power-kw\": \"1\"}}}]}";
    if (!one || inv_add_namespaces_text(one, ns, strlen(ns), NULL, 0) != 0 || one->n != 1)
        abort();
    struct inv_workload *w = &one->workloads[0];
    static const char *const kinds[] = {"deployment", "statefulset"};
    for (int k = 0; k < 2; k++) {
        size_t before = w->ncontrollers;
        if (inv_add_controllers_text(w, kinds[k], text, size, err, sizeof err) != 0 &&
            (w->ncontrollers != before || !err[0]))
            abort();
    }
    for (int mover = 0; mover < 2; mover++) {
        inv_judge(inv, mover);
        inv_judge(one, mover);
        check(inv);
        check(one);
    }

    char out[640];
    kube_status_error("GET", "/api/v1/namespaces", 403, text, size, out, sizeof out);
    for (const char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            abort(); /* one line, whatever the server sent */

    struct inventory *held = inv_ref(inv);
    inv_unref(inv);
    inv_unref(held);
    inv_unref(one);
    return 0;
}
